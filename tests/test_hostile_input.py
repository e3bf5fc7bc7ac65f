"""Hostile input on the capture, login and user endpoints (issue 13): each test failed before its fix."""

from __future__ import annotations

from tests.helpers import start_service


def test_login_rate_limit_ignores_the_origin_header(tmp_path):
    svc = start_service(tmp_path / "a", config={"security": {"login_rate_per_min": 3, "login_max_failures": 100}})
    try:
        spellings = [f"http://LOCALHOST:{svc.port}", f"http://localhost:{svc.port}/", f"http://127.0.0.1:{svc.port}",
                     f"http://127.0.0.1:{svc.port}/", f"http://LocalHost:{svc.port}//", None]
        codes = []
        for i in range(12):
            origin = spellings[i % len(spellings)]
            headers = {"Origin": origin} if origin else {}
            r = svc.post("/api/auth/login", token=None, headers=headers,
                         json={"username": f"u{i}", "password": "x" * 8})
            codes.append(r.status_code)
        assert codes[:3] == [401, 401, 401]
        assert codes[3:] == [429] * 9, codes
    finally:
        svc.stop()
