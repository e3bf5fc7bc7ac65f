"""Grounded suggestions in the real service: captures, the WebSocket and /api/analysis/generate carry the fact of
the matching knowledge entry and its id; the index follows edits of the knowledge table (crm/grounding.py).

Entries are written straight into the service's SQLite file through storage/knowledge.py (another process, as
a CSV import from the CLI or a hub pull would be): the service notices the change by itself."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
import websocket

from core.paths import DataDir
from storage import knowledge as knowledge_rows
from storage.database import Database, sqlite_url
from tests.helpers import RunningService, message

FRETE = {"title": "Frete para BH", "content": "O frete para Belo Horizonte é R$ 25 e chega em 3 dias úteis.",
         "language": "pt", "tags": ["frete"]}
HORARIO = {"title": "Horário de atendimento", "content": "Atendemos de segunda a sexta das 9h às 18h.",
           "language": "pt", "tags": []}


@pytest.fixture
def database(fresh_service: RunningService) -> Iterator[Database]:
    db = Database(sqlite_url(DataDir(fresh_service.data_dir).database))
    yield db
    db.close()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def _insert(db: Database, fields: dict) -> int:
    with db.transaction():
        return knowledge_rows.insert_entry(db, fields, _now())


def _capture(service: RunningService, text: str, **overrides) -> dict:
    response = service.post("/api/messages/capture", json=message(content=text, **overrides))
    assert response.status_code == 201, response.text
    return response.json()["analysis"]


def test_a_question_the_knowledge_answers_gets_the_fact_over_http_and_websocket(fresh_service, database):
    entry_id = _insert(database, FRETE)
    _insert(database, HORARIO)
    ws = websocket.create_connection(f"ws://127.0.0.1:{fresh_service.port}/ws?token={fresh_service.token()}",
                                     timeout=10)
    try:
        analysis = _capture(fresh_service, "qnto é o frete p/ bh?", name="Ana Paula")
        events = [json.loads(ws.recv()) for _ in range(2)]
    finally:
        ws.close()
    assert analysis["knowledge"]["entry_id"] == entry_id
    assert analysis["knowledge"]["title"] == FRETE["title"]
    assert analysis["knowledge"]["language"] == "pt"
    assert analysis["suggested_responses"][0] == f"Olá, Ana! {FRETE['content']}"
    pushed = next(e for e in events if e["type"] == "analysis.completed")
    assert pushed["data"]["analysis"]["knowledge"]["entry_id"] == entry_id
    assert pushed["data"]["analysis"]["suggested_responses"][0].endswith(FRETE["content"])


def test_a_message_the_knowledge_does_not_answer_carries_no_fact(fresh_service, database):
    _insert(database, FRETE)
    _insert(database, HORARIO)
    analysis = _capture(fresh_service, "oi, tudo bem? vcs vendem perfume?")
    assert analysis["knowledge"] is None
    assert not any(FRETE["content"] in r or HORARIO["content"] in r for r in analysis["suggested_responses"])


def test_an_empty_knowledge_base_leaves_every_analysis_with_knowledge_null(fresh_service):
    assert _capture(fresh_service, "quanto é o frete pra BH?")["knowledge"] is None
    generated = fresh_service.post("/api/analysis/generate", json={"text": "quanto é o frete pra BH?"}).json()
    assert generated["knowledge"] is None


def test_analysis_generate_is_grounded_too(fresh_service, database):
    entry_id = _insert(database, HORARIO)
    generated = fresh_service.post("/api/analysis/generate", json={"text": "vcs abrem sabado? qual o horario?"})
    assert generated.status_code == 200, generated.text
    assert generated.json()["knowledge"]["entry_id"] == entry_id
    assert generated.json()["suggested_responses"][0].endswith(HORARIO["content"])


def test_an_edit_of_the_entry_changes_the_next_suggestion(fresh_service, database):
    entry_id = _insert(database, FRETE)
    first = _capture(fresh_service, "quanto é o frete pra BH?")
    assert first["suggested_responses"][0].endswith(FRETE["content"])
    changed = "O frete para Belo Horizonte agora é R$ 19, entregue no dia seguinte."
    with database.transaction():
        assert knowledge_rows.update_entry(database, entry_id, {"content": changed}, _now())
    second = _capture(fresh_service, "quanto é o frete pra BH?")
    assert second["knowledge"]["entry_id"] == entry_id
    assert second["suggested_responses"][0].endswith(changed)
    with database.transaction():
        assert knowledge_rows.delete_entry(database, entry_id, _now())
    assert _capture(fresh_service, "quanto é o frete pra BH?")["knowledge"] is None
