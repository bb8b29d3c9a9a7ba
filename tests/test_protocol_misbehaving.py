"""A board that misbehaves on the wire: it chatters without end, sends frames too short for their
header, announces an impossible max_payload, or left an error frame from an earlier exchange.
Each ends in one McugenError sentence naming what the board sent (or in a good exchange), never a
traceback or a hang. The board is faked by a thread behind a local TCP socket, as QEMU's is."""

from __future__ import annotations

import socket
import struct
import threading
import time

import pytest
import serial

from mcugen.errors import McugenError
from mcugen.target.protocol import BoardErrorCode, BoardLink, FrameDecoder, Reply, encode_frame

INPUT_SIZE, OUTPUT_SIZE = 8, 4
ENDLESS = -1


def hello_payload(max_payload: int = 256, *, layers: int = 1) -> bytes:
    texts = b"".join(bytes([len(t)]) + t for t in (b"ns", b"fake", b"echo"))
    return struct.pack("<BBHIIH", 1, 1, max_payload, INPUT_SIZE, OUTPUT_SIZE, layers) + b"0123456789abcdef" + texts


def good_answers(command: int, payload: bytes, state: dict) -> bytes:
    """What mcugen firmware answers: the echo model's output is the first OUTPUT_SIZE input bytes."""
    if command == 0x01:
        return encode_frame(Reply.HELLO, hello_payload(state.get("max_payload", 256)))
    if command == 0x02:
        (offset,) = struct.unpack_from("<I", payload)
        state.setdefault("input", bytearray(INPUT_SIZE))[offset : offset + len(payload) - 4] = payload[4:]
        return encode_frame(Reply.INPUT, struct.pack("<I", offset + len(payload) - 4))
    if command == 0x03:
        data = bytes(state["input"][:OUTPUT_SIZE])
        return (encode_frame(Reply.OUTPUT, struct.pack("<I", 0) + data)
                + encode_frame(Reply.DONE, struct.pack("<QiH", 123, 0, 0)))
    return encode_frame(Reply.ERROR, bytes([BoardErrorCode.UNKNOWN_COMMAND, command]) + b"unknown")


class FakeBoard:
    """A thread that answers each request with answer(command, payload, state) -> bytes, or, with
    chatter, sends those bytes over and over without waiting for requests."""

    def __init__(self, answer=good_answers, chatter: bytes = b"", **state) -> None:
        self.answer, self.chatter, self.state = answer, chatter, state
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        self.port = serial.serial_for_url(f"socket://127.0.0.1:{self.server.getsockname()[1]}", timeout=0.1)

    def _serve(self) -> None:
        conn, _ = self.server.accept()
        conn.settimeout(0.01)
        decoder = FrameDecoder()
        with conn:
            while not self.stop.is_set():
                try:
                    if self.chatter:
                        conn.sendall(self.chatter)
                    data = conn.recv(4096)
                except (TimeoutError, BlockingIOError):
                    continue
                except OSError:
                    return
                if not data:
                    return
                for frame in decoder.feed(data):
                    if hasattr(frame, "payload"):
                        conn.sendall(self.answer(frame.command, frame.payload, self.state))

    def close(self) -> None:
        self.stop.set()
        self.port.close()
        self.thread.join(5)
        self.server.close()


@pytest.fixture
def fake_board():
    boards = []

    def make(*args, **kwargs) -> FakeBoard:
        boards.append(FakeBoard(*args, **kwargs))
        return boards[-1]

    yield make
    for board in boards:
        board.close()


def in_bounded_time(call, limit: float = 60.0):
    """Run call() in a thread; a call still running after `limit` seconds is a hang (the bound is
    generous on purpose: this catches an endless loop, it does not time anything)."""
    result: dict = {}

    def run() -> None:
        try:
            result["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test below
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit)
    assert not thread.is_alive(), "the link hung"
    if "error" in result:
        raise result["error"]
    return result["value"]


def test_the_fake_board_answers_like_firmware(fake_board):
    link = BoardLink(fake_board().port, name="the fake board", timeout=2)
    assert link.hello().model_name == "echo"
    assert link.infer(bytes(range(8))) == (bytes(range(4)), 123)


def test_an_endlessly_chattering_board_ends_in_one_sentence(fake_board):
    board = fake_board(lambda *request: b"", chatter=b"[log] sensor reading 42\r\n" * 40)  # another firmware
    link = BoardLink(board.port, name="the fake board", timeout=1)
    with pytest.raises(McugenError, match=r"sent [\d,]+ bytes but no mcugen answer within 1 s"):
        in_bounded_time(link.hello)


def test_a_board_chattering_after_hello_does_not_hang_the_retries(fake_board):
    board = fake_board()
    link = BoardLink(board.port, name="the fake board", timeout=1)
    link.hello()
    board.answer = lambda *request: b""
    board.chatter = encode_frame(0x85, b"\xff" * 3)[:-1] + b"\x00"  # endless damaged frames
    with pytest.raises(McugenError, match="fake board"):
        in_bounded_time(lambda: link.infer(bytes(8)))


SHORT_FRAMES = {
    "HELLO": (0x01, lambda: encode_frame(Reply.HELLO, hello_payload()[:20])),
    "INPUT answer": (0x02, lambda: encode_frame(Reply.INPUT, b"\x08\x00")),
    "OUTPUT": (0x03, lambda: encode_frame(Reply.OUTPUT, b"\x00\x00")),
    "DONE": (0x03, lambda: encode_frame(Reply.OUTPUT, bytes(4) + bytes(4)) + encode_frame(Reply.DONE, bytes(9))),
    "LAYER": (0x03, lambda: encode_frame(Reply.LAYER, bytes(7))),
    "ERROR": (0x03, lambda: encode_frame(Reply.ERROR, b"\x03")),
}


@pytest.mark.parametrize("name", SHORT_FRAMES)
def test_a_frame_shorter_than_its_header_is_named(fake_board, name):
    command, short = SHORT_FRAMES[name]

    def answer(cmd, payload, state):
        return short() if cmd == command else good_answers(cmd, payload, state)

    link = BoardLink(fake_board(answer).port, name="the fake board", timeout=2)
    with pytest.raises(McugenError, match=rf"the fake board sent a \d+-byte {name} (frame|answer), shorter"):
        in_bounded_time(lambda: (link.hello(), link.infer(bytes(8))))


def test_hello_texts_running_past_the_end_are_named(fake_board):
    def answer(cmd, payload, state):
        return encode_frame(Reply.HELLO, hello_payload()[:31] + b"\x30ab")

    with pytest.raises(McugenError, match="HELLO answer whose texts run past its end"):
        in_bounded_time(BoardLink(fake_board(answer).port, name="the fake board", timeout=2).hello)


@pytest.mark.parametrize("max_payload", [0, 4])
def test_an_impossible_max_payload_is_refused(fake_board, max_payload):
    link = BoardLink(fake_board(max_payload=max_payload).port, name="the fake board", timeout=2)
    with pytest.raises(McugenError, match=f"announcing max_payload {max_payload} "):
        in_bounded_time(link.hello)


def test_the_largest_max_payload_works(fake_board):
    link = BoardLink(fake_board(max_payload=0xFFFF).port, name="the fake board", timeout=2)
    assert link.hello().max_payload == 0xFFFF
    assert in_bounded_time(lambda: link.infer(bytes(range(8, 16))))[0] == bytes(range(8, 12))


def test_a_huge_layer_is_refused_before_it_is_allocated(fake_board):
    def answer(cmd, payload, state):
        if cmd == 0x03:
            return encode_frame(Reply.LAYER, struct.pack("<HII", 0, 0xFFFFFFFF, 0) + b"x")
        return good_answers(cmd, payload, state)

    link = BoardLink(fake_board(answer).port, name="the fake board", timeout=2)
    link.hello()
    with pytest.raises(McugenError, match="LAYER frame announcing a 4,294,967,295-byte layer"):
        in_bounded_time(lambda: link.infer_layers(bytes(8)))


def test_endlessly_repeated_output_frames_cannot_keep_the_link_busy(fake_board):
    board = fake_board()
    link = BoardLink(board.port, name="the fake board", timeout=2, retries=1)
    link.hello()
    board.answer = lambda *request: b""
    board.chatter = encode_frame(Reply.OUTPUT, struct.pack("<I", 0) + b"ab")  # a stuck firmware
    with pytest.raises(McugenError, match="answers that do not fit the request 2 times"):
        in_bounded_time(lambda: link.infer(bytes(8)))


def test_a_stale_error_frame_does_not_fail_the_next_request(fake_board):
    """A board left an ERROR about an earlier request (here: an unknown command 0x42 someone sent)
    on the line; the next exchange must still succeed."""
    stale = encode_frame(Reply.ERROR, bytes([BoardErrorCode.UNKNOWN_COMMAND, 0x42]) + b"unknown command")
    sent = {"stale": False}

    def answer(cmd, payload, state):
        reply = good_answers(cmd, payload, state)
        if cmd == 0x02 and not sent["stale"]:
            sent["stale"] = True
            return stale + reply
        return reply

    board = fake_board(answer)
    link = BoardLink(board.port, name="the fake board", timeout=2)
    link.hello()
    assert in_bounded_time(lambda: link.infer(bytes(range(8)))) == (bytes(range(4)), 123)


def test_a_stale_error_frame_waiting_before_a_request_is_dropped(fake_board):
    stale = encode_frame(Reply.ERROR, bytes([BoardErrorCode.NO_LAYER_HOOK, 0x03]) + b"no hook")
    sent = {"stale": False}

    def answer(cmd, payload, state):
        reply = good_answers(cmd, payload, state)
        if cmd == 0x01 and not sent["stale"]:
            sent["stale"] = True
            return reply + stale  # arrives after the HELLO answer, before the next request
        return reply

    link = BoardLink(fake_board(answer).port, name="the fake board", timeout=2)
    link.hello()
    time.sleep(0.2)  # let the stale frame arrive (the test needs it waiting, it times nothing)
    assert in_bounded_time(lambda: link.infer(bytes(range(8)))) == (bytes(range(4)), 123)


def test_a_board_answering_hello_with_other_frames_is_not_blamed_on_the_cable(fake_board):
    def answer(cmd, payload, state):
        return encode_frame(Reply.DONE, struct.pack("<QiH", 0, 0, 0))  # a stuck firmware

    link = BoardLink(fake_board(answer).port, name="the fake board", timeout=5, retries=2)
    with pytest.raises(McugenError, match="HELLO to the board on the fake board got answers that do not fit"):
        in_bounded_time(link.hello)
