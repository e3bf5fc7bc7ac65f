"""The capture path's cost (issue 17): what the service does per capture that a bare server does not."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time

import pytest

from tests.helpers import message, start_service, wait_until


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
    tracer = subprocess.Popen(["strace", "-f", "-s", "4096", "-o", str(trace), "-p", str(svc.process.pid),
                               "-e", "trace=sendto,sendmsg,write,writev"], stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: trace.exists() or tracer.poll() is not None, timeout=10, message="strace started")
        time.sleep(1.0)  # attaching to each of the service's threads takes a moment
        if tracer.poll() is not None:
            pytest.skip(f"strace cannot attach here: {tracer.stderr.read().strip()[:200]}")
        for i in range(3):
            r = svc.post("/api/messages/capture", token=svc.local_token, json=message(message_id=f"one-send-{i}"))
            assert r.status_code == 201 and r.json()["duplicate"] is False
    finally:
        tracer.send_signal(signal.SIGINT)  # detaches; the service goes on
        tracer.wait(10)
        svc.stop()
    answers = [call for call in _sends(trace.read_text()) if "HTTP/1.1 201" in call]
    assert len(answers) == 3, f"{len(answers)} answers seen"
    for call in answers:
        assert '\\"duplicate\\": false' in call or '\\"duplicate\\":false' in call, \
            f"the body did not leave with the headers: {call[:300]}"
