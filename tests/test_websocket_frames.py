"""Issue 13, hostile WebSocket frames: each gets its RFC 6455 close code over a raw socket after a real handshake,
the server then ends the TCP connection, and the service and its other sessions carry on."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import websocket

from tests.helpers import RunningService, message, start_service
from tests.ws_frames import BINARY, CLOSE, CONTINUATION, PING, PONG, TEXT, RawWebSocket, close_payload, frame

MAX_MESSAGE = 1024


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    running = start_service(tmp_path_factory.mktemp("frames"),
                            config={"websocket": {"max_message_bytes": MAX_MESSAGE}})
    yield running
    running.stop()


@pytest.fixture(scope="module")
def observer(svc: RunningService) -> Iterator[websocket.WebSocket]:
    """Another session, open through every hostile one (an admin token; the hostile ones use the local token)."""
    ws = websocket.create_connection(f"ws://127.0.0.1:{svc.port}/ws?token={svc.token()}", timeout=10)
    yield ws
    ws.close()


def _hostile(svc: RunningService) -> RawWebSocket:
    return RawWebSocket(svc.port, f"token={svc.local_token}")


def _assert_service_carries_on(svc: RunningService, observer: websocket.WebSocket) -> None:
    assert svc.get("/api/health").status_code == 200
    created = svc.post("/api/messages/capture", json=message()).json()
    while True:  # the observer may have older events queued; it must get this one
        event = json.loads(observer.recv())
        if event["type"] == "message.captured" and event["data"]["id"] == created["id"]:
            break


def _closed_with(svc: RunningService, frames: list[bytes]) -> tuple[int | None, str]:
    ws = _hostile(svc)
    try:
        for data in frames:
            ws.send(data)
        close, _ = ws.receive_until_close()
        assert close is not None, "no close frame"
        assert ws.ended(), "the server kept the TCP connection after its close"
        return close.close_code, close.close_reason
    finally:
        ws.close()


HOSTILE = {
    "unmasked client frame": ([frame(TEXT, b'{"type":"ping"}', mask=None)], 1002),
    "invalid UTF-8 in a text message": ([frame(TEXT, b"caf\xc3\x28")], 1007),
    "invalid UTF-8 split across fragments": ([frame(TEXT, b"ok \xe2\x82", fin=False),
                                              frame(CONTINUATION, b"\x28")], 1007),
    "overlong UTF-8 (an encoded NUL)": ([frame(TEXT, b"\xc0\x80")], 1007),
    "unknown data opcode 0x3": ([frame(0x3, b"x")], 1002),
    "unknown control opcode 0xB": ([frame(0xB, b"x")], 1002),
    "reserved bit RSV1 (no extension negotiated)": ([frame(TEXT, b"{}", rsv=4)], 1002),
    "reserved bits RSV2+RSV3": ([frame(TEXT, b"{}", rsv=3)], 1002),
    "control frame over 125 bytes": ([frame(PING, b"p" * 126)], 1002),
    "fragmented control frame": ([frame(PING, b"p", fin=False), frame(CONTINUATION, b"q")], 1002),
    "continuation with no message started": ([frame(CONTINUATION, b"x")], 1002),
    "new message inside a fragmented one": ([frame(TEXT, b"a", fin=False), frame(TEXT, b"b")], 1002),
    "length in 16 bits where 7 suffice": ([frame(TEXT, b"{}", length_form="16")], 1002),
    "length in 64 bits where 16 suffice": ([frame(TEXT, b"{}", length_form="64")], 1002),
    "64-bit length with its top bit set": ([frame(TEXT, b"", length=1 << 63)], 1002),
    "oversized frame": ([frame(TEXT, b"x" * (MAX_MESSAGE + 1))], 1009),
    # The cap is in bytes: 600 two-byte characters are 1,200 bytes.
    "multibyte text past the cap in bytes": ([frame(TEXT, "é".encode() * 600)], 1009),
    "oversized binary frame": ([frame(BINARY, b"\x00" * (MAX_MESSAGE + 1))], 1009),
    "fragmented message past the cap": ([frame(TEXT, b"x" * 600, fin=False), frame(CONTINUATION, b"y" * 600)],
                                        1009),
    # Refused at its header: the server does not wait for (or buffer) the announced bytes.
    "frame announcing 1 TiB": ([frame(TEXT, b"x", length=1 << 40)], 1009),
    "fragment announcing past the cap": ([frame(TEXT, b"x" * 1000, fin=False),
                                          frame(CONTINUATION, b"y", length=MAX_MESSAGE)], 1009),
    "close with a 1-byte payload": ([frame(CLOSE, b"\x03")], 1002),
    "close with code 999": ([frame(CLOSE, close_payload(999))], 1002),
    "close with reserved code 1004": ([frame(CLOSE, close_payload(1004))], 1002),
    "close with local-only code 1006": ([frame(CLOSE, close_payload(1006))], 1002),
    "close with unassigned code 2000": ([frame(CLOSE, close_payload(2000))], 1002),
    "close with code 5000": ([frame(CLOSE, close_payload(5000))], 1002),
    "close reason not UTF-8": ([frame(CLOSE, close_payload(1000, b"\xff"))], 1007),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_frame_gets_its_close_code(svc, observer, name):
    frames, expected = HOSTILE[name]
    code, reason = _closed_with(svc, frames)
    assert code == expected, (code, reason)
    _assert_service_carries_on(svc, observer)


@pytest.mark.parametrize("code", [1000, 1001, 3000, 4999])
def test_client_close_is_echoed(svc, observer, code):
    assert _closed_with(svc, [frame(CLOSE, close_payload(code, "bye ✓".encode()))])[0] == code
    _assert_service_carries_on(svc, observer)


def test_empty_close_is_answered_with_an_empty_close(svc):
    ws = _hostile(svc)
    try:
        ws.send(frame(CLOSE))
        close, _ = ws.receive_until_close()
        assert close is not None and close.payload == b""
        assert ws.ended()
    finally:
        ws.close()


def test_valid_fragmented_message_is_reassembled(svc, observer):
    # {"type": "ping"} in three fragments, a ping control frame between them (allowed by RFC 6455 5.4),
    # then a second message in one frame: both are answered, the ping first.
    ws = _hostile(svc)
    try:
        ws.send(frame(TEXT, b'{"ty', fin=False) + frame(PING, b"mid") + frame(CONTINUATION, b'pe": "pi', fin=False)
                + frame(CONTINUATION, b'ng"}'))
        ws.send(frame(TEXT, "{\"type\": \"ping\", \"note\": \"é\"}".encode()))
        answers = []
        while len([a for a in answers if a.opcode == TEXT]) < 2:
            answers.append(ws.receive())
        assert answers[0].opcode == PONG and answers[0].payload == b"mid"
        texts = [json.loads(a.payload) for a in answers if a.opcode == TEXT]
        assert texts == [{"type": "pong"}, {"type": "pong"}]
        ws.send(frame(CLOSE, close_payload(1000)))
        assert ws.receive_until_close()[0].close_code == 1000
    finally:
        ws.close()
    _assert_service_carries_on(svc, observer)


def test_message_exactly_at_the_cap_is_accepted_in_fragments(svc):
    ws = _hostile(svc)
    try:
        body = b'{"type": "ping", "pad": "' + b"x" * (MAX_MESSAGE - 27) + b'"}'
        assert len(body) == MAX_MESSAGE
        ws.send(frame(TEXT, body[:500], fin=False) + frame(CONTINUATION, body[500:]))
        assert json.loads(ws.receive().payload) == {"type": "pong"}
    finally:
        ws.close()


def test_frames_after_a_close_are_not_answered(svc):
    # A ping sent after the client's close must not get a pong after our close (RFC 6455 5.5.1).
    ws = _hostile(svc)
    try:
        ws.send(frame(CLOSE, close_payload(1000)) + frame(PING, b"late") + frame(TEXT, b'{"type":"ping"}'))
        close, before = ws.receive_until_close()
        assert close.close_code == 1000 and before == []
        assert ws.ended()
    finally:
        ws.close()
