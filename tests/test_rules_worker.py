"""The built-in analyzer's helper process: same answers as in-process, and captures survive its death."""

from __future__ import annotations

import os
import signal
import sys

from ai.analysis import PreviousMessage
from ai.builtin import BuiltinAnalyzer
from ai.items import AnalysisItem, AnalysisResult
from ai.rules_client import RulesWorkerClient
from ai.rules_worker import analyse_items
from tests.helpers import ROOT, message, start_service

ITEMS = [
    AnalysisItem("Oi, quanto custa o plano mensal?", None, "Maria", "in", "text"),
    AnalysisItem("My order never arrived, this is unacceptable", None, None, "in", "text"),
    AnalysisItem("Quiero cancelar mi suscripción", None, "Juan", "in", "text"),
    AnalysisItem("", None, None, "in", "image"),
    # A short answer with its window: the worker reads it in context like the service would.
    AnalysisItem("sim", None, "Maria", "in", "text", (PreviousMessage("out", "posso fechar o pedido?", None),)),
]


def local(items):
    return analyse_items(BuiltinAnalyzer(), items)


def test_worker_answers_exactly_like_the_service_would():
    client = RulesWorkerClient([sys.executable, str(ROOT / "agent.py"), "rules-worker"], local)
    try:
        answers = client.analyse(ITEMS)
        assert client.batches_in_worker == 1 and client.batches_local == 0
        expected = local(ITEMS)
        for got, want in zip(answers, expected, strict=True):
            assert isinstance(got, AnalysisResult)
            got.analysis.pop("latency_ms")
            want.analysis.pop("latency_ms")
            assert got == want
        assert [a.language for a in answers[:3]] == ["pt", "en", "es"]
        assert answers[3].language is None
        assert answers[4].analysis["intent"]["label"] == "purchase"
        assert answers[4].analysis["context"] == {"used": True, "previous": 1}
    finally:
        client.close()


def test_a_worker_that_died_between_batches_is_replaced():
    client = RulesWorkerClient([sys.executable, str(ROOT / "agent.py"), "rules-worker"], local)
    try:
        client.analyse(ITEMS[:1])
        pid = client.pid
        os.kill(pid, signal.SIGKILL)
        client._proc.wait(5)
        assert len(client.analyse(ITEMS)) == len(ITEMS)
        assert client.pid not in (None, pid) and client.batches_in_worker == 2 and client.batches_local == 0
    finally:
        client.close()


def test_a_worker_dying_mid_batch_means_local_answers_and_a_back_off():
    # A "worker" that reads the request and exits without answering: a crash in the middle of a batch.
    crashing = [sys.executable, "-c", "import sys; sys.stdin.buffer.read(4); sys.exit(3)"]
    client = RulesWorkerClient(crashing, local)
    try:
        answers = client.analyse(ITEMS)
        assert [a.language for a in answers[:3]] == ["pt", "en", "es"]
        assert client.batches_local == 1 and client.batches_in_worker == 0
        client.analyse(ITEMS)  # inside the back-off: answered here without starting a child
        assert client.batches_local == 2 and client.pid is None
    finally:
        client.close()


def test_items_and_results_cross_the_pipe_as_the_documented_arrays():
    item = AnalysisItem("Oi", None, "Maria", "in", "text")
    assert item.to_wire() == ["Oi", None, "Maria", "in", "text", []]
    assert AnalysisItem.from_wire(item.to_wire()) == item
    # The conversation window travels as [direction, text, intent or null] per earlier message, oldest first.
    answered = AnalysisItem("sim", None, "Maria", "in", "text",
                            (PreviousMessage("out", "posso fechar o pedido?", "purchase"),))
    assert answered.to_wire() == ["sim", None, "Maria", "in", "text", [["out", "posso fechar o pedido?", "purchase"]]]
    assert AnalysisItem.from_wire(answered.to_wire()) == answered
    result = AnalysisResult("pt", {"intent": {"label": "greeting"}})
    assert result.to_wire() == ["pt", {"intent": {"label": "greeting"}}]
    assert AnalysisResult.from_wire(result.to_wire()) == result


def test_a_worker_answering_garbage_means_local_answers():
    # Frames of the right length but not results: the batch is answered here, never failed.
    garbage = [sys.executable, "-c", "import sys\nwhile sys.stdin.buffer.read(4): sys.stdout.buffer.write("
               "b'\\x00\\x00\\x00\\x0d[[1,2],[3,4]]'); sys.stdout.buffer.flush(); break"]
    client = RulesWorkerClient(garbage, local)
    try:
        answers = client.analyse(ITEMS[:2])
        assert [a.language for a in answers] == ["pt", "en"]
        assert client.batches_local == 1 and client.batches_in_worker == 0
    finally:
        client.close()


def test_a_worker_that_cannot_start_never_fails_a_batch():
    client = RulesWorkerClient(["/nonexistent/binary"], local)
    assert len(client.analyse(ITEMS)) == len(ITEMS)
    assert client.batches_local == 1


def test_service_uses_the_worker_and_survives_its_death(tmp_path):
    svc = start_service(tmp_path / "agent")
    try:
        created = svc.post("/api/messages/capture", json=message(content="Quero cancelar meu pedido")).json()
        assert created["analysis"]["intent"]["label"] == "cancellation"
        rules_worker = svc.get("/api/health", token=None).json()["ai"]["rules_worker"]
        assert rules_worker["pid"] and rules_worker["batches_in_worker"] >= 1
        os.kill(rules_worker["pid"], signal.SIGKILL)
        for i in range(5):
            r = svc.post("/api/messages/capture", json=message(content=f"Cadê meu pedido {i}?"))
            assert r.status_code == 201 and r.json()["analysis"]["intent"]["label"] == "order_status"
    finally:
        svc.stop()
