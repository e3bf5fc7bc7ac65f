"""The logs window on a 100 MB log file: time to the first lines shown and the UI process's RSS.

    python bench/logs_window.py [--size-mb 100] [--runs 3]

Writes a log of --size-mb in the format of core.logging_setup (four levels, ~110-byte lines) into a fresh data
directory, starts Xvfb (1024x768) and, in a fresh Python process each run (median of --runs):
- baseline: read the file's last 1 MB directly (seek, read, decode, split lines): time from process start to
  the lines in hand, and RSS;
- the logs window: a real UiApp (windows.app) opening the logs window on that data directory, time from
  process start to the last line of the file shown in its Text widget, and RSS then (Tk + the window).
Both times count from the same point (the child's first line of Python) and exclude interpreter start-up.
Targets: first lines <= 1 s; RSS <= 60 MB.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, header, remove, target_line, temp_dir

TARGET_FIRST_LINES_S = 1.0
TARGET_RSS_MB = 60.0
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

BASELINE = """
import json, os, sys, time
started = time.perf_counter()
import psutil
path = sys.argv[1]
with open(path, "rb") as f:
    f.seek(max(0, os.path.getsize(path) - 1024 * 1024))
    lines = f.read().decode("utf-8", "replace").splitlines()[1:]
print(json.dumps({"s": time.perf_counter() - started, "rss": psutil.Process().memory_info().rss,
                  "last": lines[-1]}))
"""

WINDOW = """
import json, sys, time
started = time.perf_counter()
sys.path.insert(0, sys.argv[2])
import psutil
import tkinter as tk
from core.paths import DataDir
from windows.app import UiApp
root = tk.Tk(className="CRM-Agent-bench")
root.withdraw()
app = UiApp(root, DataDir(__import__("pathlib").Path(sys.argv[1])))
app.start()
window = app.open("logs")
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    root.update()
    lines = window.visible_lines()
    if lines:
        break
    time.sleep(0.002)
elapsed = time.perf_counter() - started
root.update()
print(json.dumps({"s": elapsed, "rss": psutil.Process().memory_info().rss, "last": lines[-1] if lines else None,
                  "shown": len(lines)}))
window.close()
app.shutdown()
"""


def write_log(path: Path, size_mb: int) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    block = "".join(f"2026-11-29 10:{n // 60 % 60:02d}:{n % 60:02d},{n % 1000:03d} {LEVELS[n % 4]} "
                    f"crm_agent.bench: request {n} handled in {n % 97} ms by worker {n % 7}\n" for n in range(10_000))
    with open(path, "w", encoding="utf-8") as f:
        while f.tell() < size_mb * 1024 * 1024:
            f.write(block)
    return block.splitlines()[-1]


def run_child(code: str, args: list[str], env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=120,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def runs_ms(runs: list[dict]) -> str:
    return ", ".join(f"{r['s'] * 1000:.1f}" for r in runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)

    import os

    from tests.ui_helpers import start_xvfb

    header(f"logs window on a {args.size_mb} MB log")
    work = temp_dir("logs-bench-")
    xvfb = start_xvfb()
    try:
        data_dir = work / "agent"
        log = data_dir / "logs" / "agent.log"
        started = time.perf_counter()
        last = write_log(log, args.size_mb)
        print(f"   wrote {log.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - started:.1f} s; "
              f"load {os.getloadavg()[0]:.2f}")
        env = {**os.environ, "DISPLAY": xvfb.display, "CRM_AGENT_HOME": str(data_dir)}
        base = [run_child(BASELINE, [str(log)], env) for _ in range(args.runs)]
        ui = [run_child(WINDOW, [str(data_dir), str(ROOT)], env) for _ in range(args.runs)]
        assert all(r["last"] == last for r in base + ui), "a run did not end on the file's last line"
        base_s = statistics.median(r["s"] for r in base)
        base_rss = statistics.median(r["rss"] for r in base) / 2**20
        ui_s = statistics.median(r["s"] for r in ui)
        ui_rss = statistics.median(r["rss"] for r in ui) / 2**20
        print(f"   baseline: last 1 MB read directly   {base_s * 1000:8.1f} ms   RSS {base_rss:6.1f} MB "
              f"(runs: {runs_ms(base)} ms)")
        print(f"   logs window: last line shown        {ui_s * 1000:8.1f} ms   RSS {ui_rss:6.1f} MB "
              f"(runs: {runs_ms(ui)} ms; {ui[0]['shown']} lines shown)")
        print(target_line("logs window: time to first lines", f"{ui_s * 1000:.0f} ms",
                          f"<= {TARGET_FIRST_LINES_S * 1000:.0f} ms", ui_s <= TARGET_FIRST_LINES_S))
        print(target_line("logs window: process RSS", f"{ui_rss:.1f} MB", f"<= {TARGET_RSS_MB:.0f} MB",
                          ui_rss <= TARGET_RSS_MB))
        return 0 if ui_s <= TARGET_FIRST_LINES_S and ui_rss <= TARGET_RSS_MB else 1
    finally:
        xvfb.close()
        remove(work)


if __name__ == "__main__":
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    sys.exit(main())
