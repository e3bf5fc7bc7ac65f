"""The capture path's cost (issue 17): what the service does per capture that a bare server does not."""

from __future__ import annotations

import shutil

import pytest

from tests.helpers import message, start_service, strace_attached


def _sends(trace_text: str) -> list[str]:
    """Every complete send-family call strace wrote (-f: each line starts with the thread id)."""
    calls = []
    for line in trace_text.splitlines():
        _, _, call = line.partition(" ")
        call = call.strip()
        if call.startswith(("sendto(", "sendmsg(", "write(", "writev(")) and "<unfinished" not in call:
            calls.append(call)
    return calls


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace (apt-get install strace)")
def test_an_answer_leaves_in_one_send_with_its_headers(tmp_path):
    # pywsgi sends the headers and the body apart: two syscalls and, with TCP_NODELAY, two segments for every
    # capture, where one does. strace on the running service shows each 201 leaving whole, in one call.
    svc = start_service(tmp_path / "agent")
    trace = tmp_path / "strace.txt"
    try:
        with strace_attached(svc.process.pid, trace, "sendto,sendmsg,write,writev", "-s", "4096"):
            for i in range(3):
                r = svc.post("/api/messages/capture", token=svc.local_token,
                             json=message(message_id=f"one-send-{i}"))
                assert r.status_code == 201 and r.json()["duplicate"] is False
    finally:
        svc.stop()
    answers = [call for call in _sends(trace.read_text()) if "HTTP/1.1 201" in call]
    assert len(answers) == 3, f"{len(answers)} answers seen"
    for call in answers:
        assert '\\"duplicate\\": false' in call or '\\"duplicate\\":false' in call, \
            f"the body did not leave with the headers: {call[:300]}"
