"""The host side of the wire protocol (docs/protocol.md): frames, and a BoardLink that says
hello, sends inputs and collects outputs, ticks and per-layer dumps over any pyserial-like
port (a real serial port, a QEMU socket, a pseudo-terminal).

Frame:  A5 5A | command u8 | length u16 LE | payload | CRC-16/CCITT-FALSE u16 LE
        (the CRC covers command, length and payload).
The link is stop-and-wait: the host sends one request and reads its answers before the next,
so a board busy transmitting never loses bytes it has no room for.
"""

from __future__ import annotations

import binascii
import struct
import time
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from mcugen.errors import McugenError

PROTOCOL_VERSION = 1
SYNC = b"\xa5\x5a"
HEADER_SIZE = 5  # sync, command, length
FRAME_OVERHEAD = HEADER_SIZE + 2
INFER_FLAG_LAYERS = 0x01
# Until HELLO tells the board's limit, longer "frames" are taken for damage, not waited for.
DEFAULT_MAX_PAYLOAD = 4096
# The smallest max_payload a board may announce: a LAYER frame's 10-byte header plus data.
MIN_MAX_PAYLOAD = 16
# A layer dump larger than this is not a microcontroller's: refuse it before allocating it.
MAX_LAYER_BYTES = 1 << 24
# How long a drain may read before giving up on quiet: a board that chatters without end must
# not hold the host forever.
DRAIN_LIMIT = 0.5


class Command(IntEnum):
    HELLO = 0x01
    INPUT = 0x02
    INFER = 0x03


class Reply(IntEnum):
    HELLO = 0x81
    INPUT = 0x82
    DONE = 0x83
    LAYER = 0x84
    OUTPUT = 0x85
    ERROR = 0xEE


class BoardErrorCode(IntEnum):
    BAD_CRC = 1
    BAD_LENGTH = 2
    UNKNOWN_COMMAND = 3
    BAD_PAYLOAD = 4
    INPUT_INCOMPLETE = 5
    FRAME_TIMEOUT = 6
    NO_LAYER_HOOK = 7
    FAULT = 8


# Errors a damaged or lost frame can cause: sending the whole request again is the cure.
RETRIABLE_BOARD_ERRORS = {
    BoardErrorCode.BAD_CRC,
    BoardErrorCode.BAD_LENGTH,
    BoardErrorCode.FRAME_TIMEOUT,
    BoardErrorCode.INPUT_INCOMPLETE,
    BoardErrorCode.BAD_PAYLOAD,
}


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF): what the firmware computes."""
    return binascii.crc_hqx(data, 0xFFFF)


def encode_frame(command: int, payload: bytes = b"") -> bytes:
    """One frame, ready for the wire."""
    if len(payload) > 0xFFFF:
        raise ValueError("a frame payload is at most 65535 bytes")
    body = struct.pack("<BH", command, len(payload)) + payload
    return SYNC + body + struct.pack("<H", crc16(body))


@dataclass(frozen=True)
class Frame:
    command: int
    payload: bytes


@dataclass(frozen=True)
class CorruptFrame:
    """Bytes that looked like a frame but failed the checksum."""

    command: int
    length: int


class FrameDecoder:
    """Turns a byte stream into frames. Garbage between frames is skipped; a frame with a bad
    checksum is reported and the search resumes one byte after its sync, so a good frame
    hiding inside a damaged one is still found."""

    def __init__(self, max_payload: int = 0xFFFF) -> None:
        self._buffer = bytearray()
        self.max_payload = max_payload

    def feed(self, data: bytes) -> list[Frame | CorruptFrame]:
        self._buffer += data
        found: list[Frame | CorruptFrame] = []
        while True:
            start = self._buffer.find(SYNC)
            if start < 0:
                # keep a trailing A5: it may be the first half of the next sync
                del self._buffer[: max(0, len(self._buffer) - 1)]
                return found
            del self._buffer[:start]
            if len(self._buffer) < HEADER_SIZE:
                return found
            command, length = struct.unpack_from("<BH", self._buffer, 2)
            if length > self.max_payload:
                found.append(CorruptFrame(command, length))
                del self._buffer[:1]
                continue
            if len(self._buffer) < FRAME_OVERHEAD + length:
                return found
            body = bytes(self._buffer[2 : HEADER_SIZE + length])
            (received,) = struct.unpack_from("<H", self._buffer, HEADER_SIZE + length)
            if received == crc16(body):
                found.append(Frame(command, body[3:]))
                del self._buffer[: FRAME_OVERHEAD + length]
            else:
                found.append(CorruptFrame(command, length))
                del self._buffer[:1]


@dataclass(frozen=True)
class BoardInfo:
    """What the board announces in its HELLO answer."""

    protocol_version: int
    layer_hook: bool
    max_payload: int
    input_size: int
    output_size: int
    num_layers: int
    model_hash: str
    tick_unit: str
    board_name: str
    model_name: str

    @classmethod
    def parse(cls, payload: bytes) -> BoardInfo:
        """Decode a HELLO payload; a short or inconsistent one raises MalformedFrame."""
        fixed = struct.calcsize("<BBHIIH") + 16
        if len(payload) < fixed + 3:
            raise MalformedFrame(f"a {len(payload)}-byte HELLO answer, shorter than its {fixed + 3}-byte minimum")
        version, flags, max_payload, n_in, n_out, n_layers = struct.unpack_from("<BBHIIH", payload)
        at = 14
        model_hash = payload[at : at + 16].decode("ascii", "replace")
        at += 16
        texts = []
        for _ in range(3):
            if at >= len(payload):
                raise MalformedFrame(f"a {len(payload)}-byte HELLO answer whose texts run past its end")
            n = payload[at]
            if at + 1 + n > len(payload):
                raise MalformedFrame(f"a {len(payload)}-byte HELLO answer whose texts run past its end")
            texts.append(payload[at + 1 : at + 1 + n].decode("ascii", "replace"))
            at += 1 + n
        if max_payload < MIN_MAX_PAYLOAD:
            raise MalformedFrame(f"a HELLO answer announcing max_payload {max_payload} (at least "
                                 f"{MIN_MAX_PAYLOAD} is needed)")
        return cls(version, bool(flags & 1), max_payload, n_in, n_out, n_layers, model_hash, *texts)


@dataclass
class LayerRun:
    """One inference with every layer's output, in layer order."""

    output: bytes
    ticks: int
    layers: list[bytes] = field(default_factory=list)


class MalformedFrame(Exception):
    """A frame with a good checksum whose payload is not what its command promises: the board's
    firmware is not mcugen's (or is broken), so retrying cannot help. The text names what came."""


class _Corrupted(Exception):
    """A frame failed its checksum on the way to the host (checksum=True), or an answer does not
    fit the request (a stale answer from an earlier, interrupted request): sending it again is the cure."""

    def __init__(self, checksum: bool = False) -> None:
        super().__init__()
        self.checksum = checksum


class _Silence(Exception):
    """No frame arrived in time."""


def _unpack(layout: str, frame: Frame, name: str) -> tuple:
    """struct.unpack_from with the length check first: a short frame is a MalformedFrame."""
    need = struct.calcsize(layout)
    if len(frame.payload) < need:
        raise MalformedFrame(f"a {len(frame.payload)}-byte {name} frame, shorter than its {need}-byte header")
    return struct.unpack_from(layout, frame.payload)


class _BoardSaidError(Exception):
    def __init__(self, code: int, command: int, text: str) -> None:
        super().__init__(text)
        self.code, self.command, self.text = code, command, text


def _port_name(port: Any) -> str:
    return str(getattr(port, "port", None) or getattr(port, "name", None) or "the serial port")


class BoardLink:
    """Talks to mcugen firmware over `port` (any object with read, write and a timeout
    attribute, as pyserial's Serial). Requests that meet a damaged frame are sent again up to
    `retries` times; `timeout` is how long one answer may take."""

    def __init__(
        self,
        port: Any,
        *,
        name: str | None = None,
        timeout: float = 10.0,
        expected_hash: str | None = None,
        retries: int = 3,
    ) -> None:
        self.port = port
        self.name = name or _port_name(port)
        self.timeout = timeout
        self.expected_hash = expected_hash
        self.retries = retries
        self.info: BoardInfo | None = None
        self._decoder = FrameDecoder(DEFAULT_MAX_PAYLOAD)
        self._pending: list[Frame | CorruptFrame] = []
        self._last_command = 0  # the request the next answers belong to: older errors are stale
        self._stray_bytes = 0  # bytes read since the last good frame: tells chatter from silence

    # ------------------------------------------------------------------ public API

    def hello(self) -> BoardInfo:
        """Ask the board who it is; refuse a board that holds a different model."""
        try:
            info = BoardInfo.parse(self._first_contact().payload)
        except MalformedFrame as exc:
            raise self._malformed_error(exc) from None
        if info.protocol_version != PROTOCOL_VERSION:
            raise McugenError(
                f"the board on {self.name} speaks protocol version {info.protocol_version}, this mcugen "
                f"speaks {PROTOCOL_VERSION}; rebuild and flash the firmware with this mcugen"
            )
        if self.expected_hash is not None and info.model_hash != self.expected_hash:
            raise McugenError(
                f"the board on {self.name} holds model {info.model_name!r} with hash {info.model_hash}, not "
                f"the expected {self.expected_hash}; build and flash the firmware for this model, then verify again"
            )
        self.info = info
        self._decoder.max_payload = info.max_payload
        return info

    def _first_contact(self) -> Frame:
        """HELLO, repeated with growing pauses until the whole timeout is spent: a board that has
        just been powered, reset or booted in QEMU drops bytes until its UART is set up."""
        deadline = time.monotonic() + self.timeout
        wait, corrupted = 0.25, 0
        while True:
            remaining = deadline - time.monotonic()
            try:
                answer = self._request(Command.HELLO, b"", Reply.HELLO, timeout=min(wait, max(remaining, 0.01)))
                if wait > 0.25:  # earlier HELLOs may still be answered: start clean
                    self._drain()
                return answer
            except _Silence:
                if remaining <= wait:
                    raise self._timeout_error() from None
            except (_Corrupted, _BoardSaidError) as exc:
                corrupted += 1
                if corrupted > self.retries:
                    checksum = not isinstance(exc, _Corrupted) or exc.checksum
                    raise self._corrupted_error("HELLO", checksum) from None
                self._drain()
            wait = min(wait * 2, 2.0)

    def infer(self, input_bytes: bytes) -> tuple[bytes, int]:
        """Run one inference: the output bytes and the ticks it took (unit: info.tick_unit)."""
        run = self._with_retries("INFER", lambda: self._infer_once(bytes(input_bytes), layers=False))
        return run.output, run.ticks

    def infer_layers(self, input_bytes: bytes) -> LayerRun:
        """Run one inference and collect every layer's output as the board streams it."""
        info = self.info or self.hello()
        if not info.layer_hook:
            raise McugenError(
                f"the firmware on {self.name} was built without the layer hook, so it cannot dump layers; "
                "rebuild it with layer dumps enabled and flash it again"
            )
        return self._with_retries("INFER", lambda: self._infer_once(bytes(input_bytes), layers=True))

    def close(self) -> None:
        self.port.close()

    def __enter__(self) -> BoardLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transactions

    def _infer_once(self, data: bytes, *, layers: bool) -> LayerRun:
        info = self.info or self.hello()
        if len(data) != info.input_size:
            raise McugenError(
                f"the input has {len(data)} bytes but the model on {self.name} takes {info.input_size}; "
                "pass one quantized int8 input tensor of the model's shape"
            )
        room = info.max_payload - 4
        for offset in range(0, len(data), room):
            chunk = data[offset : offset + room]
            answer = self._request(Command.INPUT, struct.pack("<I", offset) + chunk, Reply.INPUT)
            if _unpack("<I", answer, "INPUT answer")[0] != offset + len(chunk):
                raise _Corrupted()
        self._send(Command.INFER, bytes([INFER_FLAG_LAYERS if layers else 0]))
        output = bytearray(info.output_size)
        output_seen = 0
        layer_data: dict[int, bytearray] = {}
        layer_seen: dict[int, int] = {}
        # Every OUTPUT and LAYER frame must move its offset forward inside the size announced, so
        # a board cannot keep this loop going by repeating frames: the answer is bounded.
        while True:
            frame = self._receive()
            if frame.command == Reply.OUTPUT:
                (offset,) = _unpack("<I", frame, "OUTPUT")
                chunk = frame.payload[4:]
                if offset != output_seen or offset + len(chunk) > info.output_size or not chunk:
                    raise _Corrupted()  # out of order: an answer of an earlier request, or damage
                output[offset : offset + len(chunk)] = chunk
                output_seen += len(chunk)
            elif frame.command == Reply.LAYER:
                index, total, offset = _unpack("<HII", frame, "LAYER")
                chunk = frame.payload[10:]
                if total > MAX_LAYER_BYTES:
                    raise MalformedFrame(f"a LAYER frame announcing a {total:,}-byte layer")
                complete = index in layer_seen and layer_seen[index] >= len(layer_data[index])
                buffer = layer_data.setdefault(index, bytearray(total))
                if (complete or len(buffer) != total or offset != layer_seen.get(index, 0)
                        or offset + len(chunk) > total or (not chunk and total) or any(i > index for i in layer_data)):
                    raise _Corrupted()
                buffer[offset : offset + len(chunk)] = chunk
                layer_seen[index] = offset + len(chunk)
                if len(layer_data) > max(info.num_layers, 1):
                    raise MalformedFrame(f"LAYER frames for more than the {info.num_layers} layers it announced")
            elif frame.command == Reply.DONE:
                ticks, result, streamed = _unpack("<QiH", frame, "DONE")
                break
            else:
                raise _Corrupted()  # a stale answer from an earlier, interrupted request
        if result != 0:
            raise McugenError(f"the model on {self.name} returned error code {result} from its invoke function")
        if output_seen != info.output_size or (layers and len(layer_data) != streamed):
            raise _Corrupted()
        return LayerRun(bytes(output), ticks, [bytes(layer_data[i]) for i in sorted(layer_data)])

    def _with_retries(self, what: str, attempt: Any) -> Any:
        checksum = True
        for _ in range(self.retries + 1):
            try:
                return attempt()
            except _Silence:
                raise self._timeout_error() from None
            except MalformedFrame as exc:
                raise self._malformed_error(exc) from None
            except _Corrupted as exc:
                checksum = exc.checksum
            except _BoardSaidError as err:
                if err.code not in RETRIABLE_BOARD_ERRORS:
                    raise self._board_error(err) from None
                checksum = True
            self._drain()
        raise self._corrupted_error(what, checksum)

    def _corrupted_error(self, what: str, checksum: bool = True) -> McugenError:
        if not checksum:
            return McugenError(
                f"{what} to the board on {self.name} got answers that do not fit the request {self.retries + 1} "
                "times; check that the board runs mcugen firmware and that nothing else uses the port"
            )
        return McugenError(
            f"{what} to the board on {self.name} failed its checksum {self.retries + 1} times; check the "
            "cable, the baud rate, and that nothing else uses the port"
        )

    def _malformed_error(self, exc: MalformedFrame) -> McugenError:
        return McugenError(
            f"the board on {self.name} sent {exc}; flash it with firmware built by this mcugen and check that "
            "no other program writes to this port"
        )

    def _timeout_error(self) -> McugenError:
        if self._stray_bytes:
            return McugenError(
                f"the board on {self.name} sent {self._stray_bytes:,} bytes but no mcugen answer within "
                f"{self.timeout:g} s; check the baud rate and that it runs mcugen firmware (not another program "
                "that logs to this port)"
            )
        return McugenError(
            f"the board on {self.name} did not answer within {self.timeout:g} s; check that it is "
            "connected, powered and flashed with mcugen firmware, and that this is its serial port"
        )

    def _board_error(self, err: _BoardSaidError) -> McugenError:
        if err.code == BoardErrorCode.UNKNOWN_COMMAND:
            return McugenError(
                f"the board on {self.name} does not know command 0x{err.command:02x}; flash firmware built "
                "by this version of mcugen"
            )
        if err.code == BoardErrorCode.FAULT:
            return McugenError(
                f"the board on {self.name} faulted and restarted; the model or firmware is broken — rebuild it "
                "and run it on the host board to find the fault"
            )
        return McugenError(f"the board on {self.name} answered with error {err.code}: {err.text}")

    def _request(self, command: int, payload: bytes, expected: int, timeout: float | None = None) -> Frame:
        self._send(command, payload)
        frame = self._receive(timeout)
        if frame.command != expected:
            raise _Corrupted()
        return frame

    # ------------------------------------------------------------------ bytes

    def _send(self, command: int, payload: bytes) -> None:
        self._discard_waiting()
        self._last_command = command
        self._stray_bytes = 0
        self.port.write(encode_frame(command, payload))
        if hasattr(self.port, "flush"):
            self.port.flush()

    def _receive(self, timeout: float | None = None) -> Frame:
        """The next good frame; an ERROR frame or a damaged one raises for the retry loop, and
        silence for `timeout` (default: the link's) raises _Silence."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            while self._pending:
                item = self._pending.pop(0)
                if isinstance(item, CorruptFrame):
                    raise _Corrupted(checksum=True)
                if item.command == Reply.ERROR:
                    code, command = _unpack("<BB", item, "ERROR")
                    if code not in RETRIABLE_BOARD_ERRORS and command not in (0, self._last_command):
                        continue  # about a request of an earlier exchange: stale, not ours
                    raise _BoardSaidError(code, command, item.payload[2:].decode("ascii", "replace"))
                self._stray_bytes = 0
                return item
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Silence()
            data = self._read_some(min(remaining, 0.2))
            self._stray_bytes += len(data)
            self._pending.extend(self._decoder.feed(data))

    def _read_some(self, wait: float) -> bytes:
        self.port.timeout = wait
        try:
            waiting = getattr(self.port, "in_waiting", 0)
            return bytes(self.port.read(max(1, waiting)))
        except Exception as exc:  # pyserial raises SerialException, pipes OSError
            raise McugenError(
                f"the connection to the board on {self.name} broke ({exc}); check the cable or whether the "
                "emulator or firmware process ended"
            ) from None

    def _drain(self) -> None:
        """Drop whatever is in flight so a retry starts from a clean stream: read until the line
        is quiet for 50 ms, but never longer than DRAIN_LIMIT (a board may chatter without end)."""
        deadline = time.monotonic() + DRAIN_LIMIT
        time.sleep(0.05)
        while self._read_some(0.05) and time.monotonic() < deadline:
            pass
        self._pending.clear()
        self._decoder = FrameDecoder(self.info.max_payload if self.info else DEFAULT_MAX_PAYLOAD)

    def _discard_waiting(self) -> None:
        """Before a request, drop answers that already arrived and nobody read (an ERROR left by an
        earlier exchange would otherwise be taken for the answer to this one)."""
        if getattr(self.port, "in_waiting", 0):
            self._read_some(0)
        self._decoder = FrameDecoder(self._decoder.max_payload)
        self._pending.clear()
