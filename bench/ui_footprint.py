"""Idle memory of the UI process (`agent.py ui ...`): with the dashboard drawn, and with a window that draws no chart.

    python bench/ui_footprint.py [--messages 100000] [--base OTHER-CHECKOUT]

The service runs on a copy of bench/seed.py's data directory (built when missing: `python bench/seed.py 100000`;
the dashboard's figures do not depend on the size, only its queries' times do: bench/ui_dashboard.py measures
those on 1M). The windows run on a private Xvfb (tests/ui_helpers.py). For each window:
`agent.py ui <window> --data-dir <copy>`, RSS once its first render is logged (the dashboard's "first full render";
the others' "opening the ... window" + their first answers) plus 3 s of settling; and whether matplotlib or numpy
is mapped into the process (/proc/PID/maps: a window that draws no chart must not load them).
- dashboard: target <= 70 MB (issue 17).
- settings: no matplotlib, no numpy.
Baselines in the same run: `python -c` with a Tk root (the floor any Tk window starts from) and, with --base, the
same windows from another checkout (e.g. a worktree of the commit before).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import OUT, ROOT, Service, header, remove, stop_process, target_line, temp_dir

TARGET_RSS_MB = 70.0
SETTLE_S = 3.0
READY = {"dashboard": "first full render", "settings": "opening the settings window",
         "logs": "opening the logs window"}


def chart_libraries(pid: int) -> list[str]:
    """matplotlib/numpy files mapped into the process (their extension modules load with their packages)."""
    maps = Path(f"/proc/{pid}/maps").read_text()
    found = {name for name in ("matplotlib", "numpy") if f"/{name}/" in maps or f"/{name}.libs/" in maps}
    return sorted(found)


def window_rss(checkout: Path, window: str, data_dir: Path, display: str) -> tuple[float, list[str]]:
    import psutil

    log = data_dir / "logs" / "ui.log"
    log.unlink(missing_ok=True)
    process = subprocess.Popen([sys.executable, str(checkout / "agent.py"), "ui", window, "--data-dir",
                                str(data_dir)], env={**os.environ, "DISPLAY": display}, cwd=checkout,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (log.exists() and READY[window] in log.read_text(errors="replace")):
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"`ui {window}` never logged {READY[window]!r}")
            time.sleep(0.02)
        time.sleep(SETTLE_S)
        return psutil.Process(process.pid).memory_info().rss / 2**20, chart_libraries(process.pid)
    finally:
        stop_process(process)


def baseline_tk_rss(display: str) -> float:
    code = ("import tkinter as tk, psutil, os; r = tk.Tk(); r.update(); "
            "print(psutil.Process(os.getpid()).memory_info().rss)")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "DISPLAY": display},
                         capture_output=True, text=True, timeout=60, check=True)
    return int(out.stdout.strip()) / 2**20


def seeded(messages: int) -> Path:
    source = OUT / f"seed-{messages}"
    if not (source / "seeded.json").exists():
        subprocess.run([sys.executable, str(ROOT / "bench" / "seed.py"), str(messages)], check=True)
    return source


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000, help="the bench/seed.py data directory to use")
    parser.add_argument("--base", type=Path, help="another checkout to measure the same way (baseline)")
    opts = parser.parse_args(argv)

    from tests.ui_helpers import start_xvfb

    header(f"UI process footprint ({opts.messages:,} messages)")
    source = seeded(opts.messages)
    work = temp_dir("crm-bench-uifoot-")
    xvfb = start_xvfb()
    checkouts = {"after": ROOT, **({"base": opts.base.resolve()} if opts.base else {})}
    results: dict[str, dict[str, tuple[float, list[str]]]] = {}
    try:
        shutil.copyfile(source / "crm_agent.db", work / "crm_agent.db")
        service = Service(work, config={"ai": {"llm_enabled": False}})
        try:
            load = os.getloadavg()[0]
            tk_rss = baseline_tk_rss(xvfb.display)
            for name, checkout in checkouts.items():
                results[name] = {w: window_rss(checkout, w, work, xvfb.display) for w in ("dashboard", "settings")}
        finally:
            service.stop()
    finally:
        xvfb.close()
        remove(work)
    print(f"   load average (1 min) {load:.2f}, {os.getloadavg()[0]:.2f} after; a quiet re-run is needed for final "
          "numbers")
    print(f"   baseline: python + a Tk root {tk_rss:.1f} MB")
    for name, windows in results.items():
        for window, (rss, libs) in windows.items():
            print(f"   {name:<5} ui {window:<9} RSS {rss:5.1f} MB {SETTLE_S:g} s after its first render "
                  f"(+{rss - tk_rss:.1f} MB over the Tk root); chart libraries loaded: {', '.join(libs) or 'none'}")
    dash, _ = results["after"]["dashboard"]
    settings_libs = results["after"]["settings"][1]
    print(target_line("UI process with the dashboard, idle RSS", f"{dash:.1f} MB", f"<= {TARGET_RSS_MB:g} MB",
                      dash <= TARGET_RSS_MB))
    print(target_line("settings window loads matplotlib/numpy", ", ".join(settings_libs) or "no", "no",
                      not settings_libs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
