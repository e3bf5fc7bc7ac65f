"""Pairing a (pretend) browser extension over HTTP, as the extension's background would: its requests carry
an extension Origin; the code comes from GET /api/pairing/pending with the local token (what the user
reads on the desktop)."""

from __future__ import annotations

import requests

from tests.helpers import register_secret

ORIGIN = "chrome-extension://" + "abcdefghijklmnop" * 2  # 32 letters a-p: a Chromium extension id
OTHER_ORIGIN = "chrome-extension://" + "ponmlkjihgfedcba" * 2


def start_pairing(url: str, name: str = "Test Chromium", origin: str = ORIGIN) -> str:
    r = requests.post(url + "/api/pair/start", json={"name": name, "browser": "chromium", "version": "0.1.0"},
                      headers={"Origin": origin}, timeout=10)
    assert r.status_code == 201, r.text
    return r.json()["pairing_id"]


def pending(url: str, local_token: str) -> list[dict]:
    r = requests.get(url + "/api/pairing/pending", headers={"Authorization": f"Bearer {local_token}"}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def code_of(url: str, local_token: str, pairing_id: str) -> str:
    return next(p["code"] for p in pending(url, local_token) if p["pairing_id"] == pairing_id)


def complete_pairing(url: str, pairing_id: str, code: str, origin: str = ORIGIN) -> dict:
    """The options page's confirm: answers {"token", "extension"}."""
    r = requests.post(url + "/api/pair/complete", json={"pairing_id": pairing_id, "code": code},
                      headers={"Origin": origin}, timeout=10)
    assert r.status_code == 201, r.text
    register_secret("extension token", r.json().get("token"))
    return r.json()


def pair(url: str, local_token: str, name: str = "Test Chromium", origin: str = ORIGIN) -> dict:
    pairing_id = start_pairing(url, name, origin)
    return complete_pairing(url, pairing_id, code_of(url, local_token, pairing_id), origin)


def extensions(url: str, local_token: str) -> list[dict]:
    r = requests.get(url + "/api/extensions", headers={"Authorization": f"Bearer {local_token}"}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def as_extension(token: str, origin: str = ORIGIN) -> dict[str, str]:
    """Headers of a request from the paired extension."""
    return {"Authorization": f"Bearer {token}", "Origin": origin}
