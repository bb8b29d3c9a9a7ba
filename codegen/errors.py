"""The one exception type a user ever sees.

Every mistake a user can make (a missing file, an unsupported operator, a model too large for a
board, a port that does not answer) raises McugenError with one sentence that names the thing
and the fix. The CLI prints it and exits non-zero; anything else is a bug and keeps its traceback.
"""


class McugenError(Exception):
    """A user-facing error: its message is one clear sentence naming the problem and the fix."""

    exit_code = 1
