"""The target side: boards, firmware build, flashing, the wire protocol and on-target verification."""
