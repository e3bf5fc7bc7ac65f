"""The service with its real LLM worker: the auto follow-up, engine=llm, fallback when the worker dies."""

from __future__ import annotations

import json
import os
import signal
import tempfile
import threading
from pathlib import Path

import pytest
import websocket

from tests.helpers import message, start_service, wait_until

pytest.importorskip("llama_cpp")


def _data_dir_with_shared_models(tmp_path: Path) -> Path:
    """The bundled model is assembled once per machine and shared (see tests/test_ai_worker.py)."""
    models = Path(os.environ.get("CRM_AGENT_TEST_MODELS",
                                 Path(tempfile.gettempdir()) / "crm-agent-test-models"))
    models.mkdir(parents=True, exist_ok=True)
    data_dir = tmp_path / "agent"
    data_dir.mkdir()
    (data_dir / "models").symlink_to(models, target_is_directory=True)
    return data_dir


@pytest.fixture(scope="module")
def llm_service(tmp_path_factory):
    svc = start_service(_data_dir_with_shared_models(tmp_path_factory.mktemp("llm")), llm=True,
                        config={"ai": {"job_timeout_s": 120}})
    yield svc
    svc.stop()


def _ai(svc) -> dict:
    return svc.get("/api/health", token=None).json()["ai"]


def test_health_reports_the_worker_state(llm_service):
    ai = _ai(llm_service)
    assert ai["policy"] == "auto" and ai["llm_enabled"] is True
    assert ai["state"] in ("off", "loading", "ready", "busy")


def test_generate_with_llm_engine_uses_the_model(llm_service):
    r = llm_service.post("/api/analysis/generate", json={"text": "Quero cancelar minha assinatura agora",
                                                         "engine": "llm"}, timeout=300)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["engine"] == "llm" and "fallback" not in body
    assert body["model_version"] and body["suggested_responses"]
    assert body["knowledge"] is None  # grounded like every analysis (crm/grounding.py): no knowledge entries here
    assert _ai(llm_service)["state"] in ("ready", "busy")
    rules = llm_service.post("/api/analysis/generate", json={"text": "oi", "engine": "rules"}).json()
    assert rules["engine"] == "rules"


def test_capture_answers_with_rules_then_pushes_the_llm_analysis(llm_service):
    ws = websocket.create_connection(f"ws://127.0.0.1:{llm_service.port}/ws?token={llm_service.token()}",
                                     timeout=120)
    try:
        created = llm_service.post("/api/messages/capture",
                                   json=message(content="O pedido chegou quebrado, quero meu dinheiro de volta")).json()
        assert created["analysis"]["engine"] == "rules"
        follow_up = None
        while follow_up is None:
            event = json.loads(ws.recv())
            if event["type"] == "analysis.completed" and event["data"]["analysis"]["engine"] == "llm":
                follow_up = event
    finally:
        ws.close()
    assert follow_up["data"]["message_id"] == created["id"]
    assert created["analysis"]["knowledge"] is None and follow_up["data"]["analysis"]["knowledge"] is None
    stored = llm_service.get(f"/api/messages/{created['id']}").json()["analysis"]
    assert stored["engine"] == "llm" and stored["id"] == follow_up["data"]["analysis_id"]
    outbound = llm_service.post("/api/messages/capture", json=message(direction="out", content="Vamos resolver")).json()
    assert outbound["analysis"]["engine"] == "rules"


def test_worker_killed_mid_job_falls_back_then_recovers(llm_service):
    llm_service.post("/api/analysis/generate", json={"text": "aquecendo", "engine": "llm"}, timeout=300)
    long_text = " ".join(["o pedido chegou atrasado e a caixa veio amassada, quero saber o que houve"] * 20)
    result: dict = {}

    def slow_request():
        result["response"] = llm_service.post("/api/analysis/generate", json={"text": long_text, "engine": "llm"},
                                              timeout=300)

    thread = threading.Thread(target=slow_request)
    thread.start()
    pid = wait_until(lambda: _ai(llm_service)["state"] == "busy" and _ai(llm_service)["pid"], timeout=60,
                     message="the worker busy with the long job")
    os.kill(pid, signal.SIGKILL)
    thread.join(300)
    response = result["response"]
    assert response.status_code == 200
    body = response.json()
    assert body["engine"] == "rules" and body["fallback"].startswith("llm unavailable")
    assert llm_service.get("/api/health", token=None).status_code == 200  # the API never went down
    again = llm_service.post("/api/analysis/generate", json={"text": "Qual o prazo de entrega?", "engine": "llm"},
                             timeout=300)
    assert again.status_code == 200 and again.json()["engine"] == "llm"
    assert _ai(llm_service)["restarts"] >= 1


def test_the_model_is_loaded_in_the_background_after_the_start(tmp_path):
    """ai.prewarm_after_s: the service starts the worker and loads the model with nobody asking, so the first
    analysis finds it ready; the worker then answers as usual."""
    svc = start_service(_data_dir_with_shared_models(tmp_path), llm=True,
                        config={"ai": {"prewarm_after_s": 1, "job_timeout_s": 120}})
    try:
        wait_until(lambda: _ai(svc)["state"] == "ready" and _ai(svc)["model_version"], timeout=180)
        ready = _ai(svc)
        assert ready["pid"] and ready["jobs_done"] == 1  # the warm-up, and nothing else
        r = svc.post("/api/analysis/generate", json={"text": "Quero cancelar minha assinatura agora",
                                                     "engine": "llm"}, timeout=300)
        assert r.status_code == 200, r.text
        assert r.json()["engine"] == "llm" and r.json()["model_version"]
        assert _ai(svc)["pid"] == ready["pid"]  # the same, already loaded worker answered
    finally:
        svc.stop()
