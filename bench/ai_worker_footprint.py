"""The LLM worker's memory with the bundled model ready, and its cold start, through the real worker process.

    python bench/ai_worker_footprint.py [--base DIR]

- RSS (and PSS, /proc/<pid>/smaps_rollup) after: the first analysis (pt, a reply written by the model); analyses in
  pt, en and es and one long message (~75 tokens); then a "Draft with AI". Target: <= 400 MB with the model ready.
- cold start: spawn the worker -> the first analysis's answer (model load, embedding, the reply's few-shot prefix).
- pre-warmed: spawn the worker -> {"op": "warm"} (what ai.prewarm_after_s sends) -> then the first analysis: the
  time the first user waits. Target: the first answer <= 1.5 s.
- baseline in the same run: a bare llama_cpp.Llama of the same model (n_ctx 512) that has evaluated one short
  prompt, the floor of any worker; --base DIR also runs an older checkout's worker (e.g. `git worktree add` of
  the commit before) through the same steps.
The worker runs at SCHED_IDLE: on a busy machine its figures stretch; the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, header, target_line

TARGET_RSS_MB = 400.0
TARGET_FIRST_ANSWER_S = 1.5
MESSAGES = [
    ("quanto custa o frete para Campinas? preciso saber hoje", "pt"),
    ("Olá, comprei um produto na semana passada e ainda não chegou, o rastreio não atualiza desde segunda. " * 3,
     "pt"),
    ("where is my order? it has been 2 weeks", "en"),
    ("quiero devolver el producto, llegó roto", "es"),
]
DRAFT = {"op": "draft", "prompt": "Cliente: oi, tem em azul?\nAtendente:", "max_tokens": 20, "deadline_s": 30,
         "messages": [{"role": "user", "content": "oi, tem em azul?"}]}


def memory(pid: int) -> tuple[float, float]:
    """(RSS, PSS) in MB."""
    values = {}
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            parts = line.split()
            if len(parts) >= 3 and parts[2] == "kB":
                values[parts[0].rstrip(":")] = int(parts[1]) / 1024
    return values["Rss"], values["Pss"]


class Worker:
    def __init__(self, tree: Path, data_dir: Path) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "ai.worker", "--data-dir", str(data_dir)], cwd=tree,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        text=True)
        self._ids = 0

    def ask(self, job: dict) -> dict:
        self._ids += 1
        job = {**job, "id": str(self._ids)}
        self.process.stdin.write(json.dumps(job) + "\n")
        self.process.stdin.flush()
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError("the worker exited")
            answer = json.loads(line)
            if answer.get("id") == job["id"] and "partial" not in answer:
                if not answer.get("ok"):
                    raise RuntimeError(answer.get("error"))
                return answer

    def analyse(self, text: str, language: str) -> dict:
        return self.ask({"op": "analyse", "text": text, "language": language, "replies": True})

    def stop(self) -> None:
        self.process.stdin.close()
        self.process.wait(30)


def data_dir_with_model(model: Path) -> Path:
    data_dir = Path(tempfile.mkdtemp(prefix="crm-bench-worker-"))
    (data_dir / "models").mkdir()
    for name in (model.name, model.name + ".sha256"):
        os.link(model.parent / name, data_dir / "models" / name) if _same_fs(model, data_dir) else \
            shutil.copy(model.parent / name, data_dir / "models" / name)
    return data_dir


def _same_fs(a: Path, b: Path) -> bool:
    return a.stat().st_dev == b.stat().st_dev


def run_worker(tree: Path, model: Path) -> dict[str, float]:
    figures: dict[str, float] = {}
    data_dir = data_dir_with_model(model)
    try:
        started = time.perf_counter()
        worker = Worker(tree, data_dir)
        worker.analyse(*MESSAGES[0])
        figures["cold_first_answer_s"] = time.perf_counter() - started
        figures["rss_first"], _ = memory(worker.process.pid)
        for text, language in MESSAGES[1:]:
            worker.analyse(text, language)
        figures["rss_analyses"], figures["pss_analyses"] = memory(worker.process.pid)
        worker.ask(DRAFT)
        figures["rss_draft"], figures["pss_draft"] = memory(worker.process.pid)
        worker.stop()
        worker = Worker(tree, data_dir)
        started = time.perf_counter()
        try:
            worker.ask({"op": "warm"})
            figures["warm_s"] = time.perf_counter() - started
            started = time.perf_counter()
            worker.analyse(*MESSAGES[0])
            figures["warm_first_answer_s"] = time.perf_counter() - started
            figures["rss_warm"], _ = memory(worker.process.pid)
        except RuntimeError:
            pass  # an older worker without the warm op
        worker.stop()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return figures


def bare_llama_rss(model: Path) -> float:
    code = ("import llama_cpp, sys; l = llama_cpp.Llama(sys.argv[1], n_ctx=512, verbose=False); "
            "l.eval(l.tokenize(b'Customer: hi, where is my order?\\nAgent:')); "
            "print(open('/proc/self/status').read().split('VmRSS:')[1].split()[0])")
    shown = subprocess.run([sys.executable, "-c", code, str(model)], capture_output=True, text=True, check=True)
    return int(shown.stdout.strip().splitlines()[-1]) / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", type=Path, default=None, help="an older checkout whose worker to run as well")
    opts = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from ai.llm.model import assemble_bundled_model

    header("AI worker: RSS with the bundled model ready, cold start")
    model = assemble_bundled_model(Path(tempfile.gettempdir()) / "crm-agent-test-models")
    bare = bare_llama_rss(model)
    runs = [("this tree", run_worker(ROOT, model))]
    if opts.base:
        runs.append((f"base {opts.base}", run_worker(opts.base, model)))
    print(f"   load average {os.getloadavg()[0]:.2f} (the worker runs at SCHED_IDLE); model {model.name}")
    print(f"   baseline: a bare llama_cpp.Llama (n_ctx 512) after one short prompt: RSS {bare:.0f} MB")
    for name, f in runs:
        print(f"   {name}: cold start to the first answer {f['cold_first_answer_s']:.2f} s; "
              f"RSS {f['rss_first']:.0f} MB after it, {f['rss_analyses']:.0f} MB (PSS {f['pss_analyses']:.0f}) "
              f"after pt/en/es + a long message, "
              f"{f['rss_draft']:.0f} MB (PSS {f['pss_draft']:.0f}) after a draft too")
        if "warm_s" in f:
            print(f"   {name}: pre-warm {f['warm_s']:.2f} s, then the first answer {f['warm_first_answer_s']:.2f} s; "
                  f"RSS pre-warmed {f['rss_warm']:.0f} MB")
    f = runs[0][1]
    print(target_line("RSS, model ready (first analysis)", f"{f['rss_first']:.0f} MB", f"<= {TARGET_RSS_MB:g} MB",
                      f["rss_first"] <= TARGET_RSS_MB))
    print(target_line("RSS, replies in pt, en and es", f"{f['rss_analyses']:.0f} MB", f"<= {TARGET_RSS_MB:g} MB",
                      f["rss_analyses"] <= TARGET_RSS_MB))
    print(target_line("RSS, 3 languages + a draft", f"{f['rss_draft']:.0f} MB", f"<= {TARGET_RSS_MB:g} MB",
                      f["rss_draft"] <= TARGET_RSS_MB))
    print(target_line("cold start to the first answer", f"{f['cold_first_answer_s']:.2f} s",
                      f"<= {TARGET_FIRST_ANSWER_S:g} s", f["cold_first_answer_s"] <= TARGET_FIRST_ANSWER_S))
    if "warm_first_answer_s" in f:
        print(target_line("first answer after the pre-warm", f"{f['warm_first_answer_s']:.2f} s",
                          f"<= {TARGET_FIRST_ANSWER_S:g} s", f["warm_first_answer_s"] <= TARGET_FIRST_ANSWER_S))
    return 0


if __name__ == "__main__":
    sys.exit(main())
