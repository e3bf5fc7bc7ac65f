"""The capture path's cost (issue 17): what the service does per capture that a bare server does not."""

from __future__ import annotations

import shutil

import pytest

from tests.helpers import message, start_service, strace_attached, wait_until

REQUEST_LINE = "crm_agent.http: POST /api/messages/capture 201"


def _sends(trace_text: str) -> list[str]:
    """Every complete send-family call strace wrote (-f: each line starts with the thread id)."""
    return _calls_naming(trace_text, "", ("sendto(", "sendmsg(", "write(", "writev("))


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


def _calls_naming(trace_text: str, needle: str, prefixes: tuple[str, ...]) -> list[str]:
    calls = []
    for line in trace_text.splitlines():
        _, _, call = line.partition(" ")
        call = call.strip()
        if call.startswith(prefixes) and needle in call and "<unfinished" not in call:
            calls.append(call)
    return calls


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace (apt-get install strace)")
def test_the_request_log_is_neither_written_nor_statted_per_request(tmp_path):
    # The stock RotatingFileHandler stats agent.log twice and writes it once for every request-log line
    # (~50 us a capture): the service gathers the lines and writes them on a short timer.
    svc = start_service(tmp_path / "agent")
    trace = tmp_path / "strace.txt"
    log = tmp_path / "agent" / "logs" / "agent.log"
    captures = 30
    try:
        with strace_attached(svc.process.pid, trace, "write,stat,newfstatat,statx,lstat", "-s", "65536"):
            for i in range(captures):
                r = svc.post("/api/messages/capture", token=svc.local_token, json=message(message_id=f"log-{i}"))
                assert r.status_code == 201
            wait_until(lambda: log.read_text(encoding="utf-8").count(REQUEST_LINE) == captures, timeout=10,
                       message="every capture in the request log")
    finally:
        svc.stop()
    text = trace.read_text()
    stats = _calls_naming(text, "agent.log", ("stat(", "newfstatat(", "statx(", "lstat("))
    writes = _calls_naming(text, REQUEST_LINE, ("write(",))
    assert 0 < len(writes) <= captures // 3, f"{len(writes)} writes of the request log for {captures} captures"
    assert len(stats) <= captures // 3, f"{len(stats)} stat calls on agent.log for {captures} captures"


def test_every_answered_request_is_in_the_log_after_a_clean_stop(tmp_path):
    svc = start_service(tmp_path / "agent")
    try:
        for i in range(40):
            assert svc.post("/api/messages/capture", token=svc.local_token,
                            json=message(message_id=f"stop-{i}")).status_code == 201
    finally:
        assert svc.stop() == 0  # at once: lines still gathered in memory are written on the way out
    text = (tmp_path / "agent" / "logs" / "agent.log").read_text(encoding="utf-8")
    assert text.count(REQUEST_LINE) == 40
