"""desktop/instance.py: one tray and one UI process per data directory."""

from __future__ import annotations

import subprocess
import sys

from desktop.instance import OPEN_DASHBOARD, TRAY, InstanceLock, hand_over, instance_running


def test_a_tray_killed_with_sigkill_is_not_taken_for_a_running_one(tmp_path):
    """Its announcement file stays behind; the windows must not wait on a tray that is gone."""
    lock = InstanceLock(tmp_path, TRAY)
    assert lock.acquire()
    lock.serve(lambda request: None)
    assert instance_running(tmp_path, TRAY)
    lock.release()
    assert not instance_running(tmp_path, TRAY)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / f"{TRAY}.instance").write_text(f"{dead.pid} 1 key\n")  # what a SIGKILLed tray leaves
    assert not instance_running(tmp_path, TRAY)
    (tmp_path / f"{TRAY}.instance").write_text("garbage")
    assert not instance_running(tmp_path, TRAY)


def test_a_second_instance_hands_its_request_over_with_the_key(tmp_path):
    received: list[str] = []
    first = InstanceLock(tmp_path, TRAY)
    assert first.acquire()
    first.serve(received.append)
    try:
        assert not InstanceLock(tmp_path, TRAY).acquire()
        assert hand_over(tmp_path, OPEN_DASHBOARD, timeout=2)
        assert not hand_over(tmp_path, "rm -rf", timeout=0.5)  # not a known request: refused
        pid, port, _key = (tmp_path / "tray.instance").read_text().split()
        (tmp_path / "tray.instance").write_text(f"{pid} {port} wrongkey\n")
        assert not hand_over(tmp_path, OPEN_DASHBOARD, timeout=0.5)
    finally:
        first.release()
    assert received == [OPEN_DASHBOARD]
