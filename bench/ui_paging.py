"""The Messages tab's paging at scale (issue 17, windows): click-to-rows of Next, Previous, a deep page, a filter and a
search, on bench/seed.py's seeded databases.

    python bench/ui_paging.py                          # 100k and 1M messages (seeded and cached by bench/seed.py)
    python bench/ui_paging.py --sizes 100000 1000000 10000000 --repeat 30

For each size: the real service (LLM off) on the seeded data directory, and in this process a real UiApp's dashboard
on a private Xvfb (tests/ui_helpers.py), Messages tab. Each figure is click-to-rows on the Tk thread: from the call
(go_next(), go_previous(), reload()) to the pager showing the new page (its update_page ran), so it includes the
HTTP request on a worker, the UI queue's 25 ms drain tick and the Treeview's 50 rows:
- Next, walking pages 2..R+1 (keyset: `before` the previous page's last message), then Previous back;
- a deep page, row 49,951 (page 1,000): by keyset (the anchor the pager would hold after 999 Nexts) and, the baseline
  in the same run, by offset (what the windows sent before: `offset=49950`);
- a filter (sentiment=negative) and a search (`pedido`), each a first page.
Targets: every keyset figure p99 <= 100 ms (instant), and flat: the deep keyset page's p50 within 2x of Next's, and
the largest size's Next p50 within 2x of the smallest's. The machine is shared: the load average is printed with
each size; re-run on a quiet machine for the final numbers.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Service, header, percentiles, pump_tk, target_line
from seed import ensure_seeded

DEEP_OFFSET = 49_950
PAGE_SIZE = 50
TARGET_P99_MS = 100.0
FLAT = 2.0


class ClickTimer:
    """Times an action on the Messages tab until the pager shows the page it asked for."""

    def __init__(self, root: Any, pane: Any) -> None:
        self.root, self.pane = root, pane
        self.rng = random.Random(17)
        self.shown: list[float] = []
        pager = pane.pager
        original = pager.update_page

        def recorded(*args: Any, **kwargs: Any) -> None:
            original(*args, **kwargs)
            self.shown.append(time.perf_counter())

        pager.update_page = recorded

    def time(self, action: Callable[[], Any]) -> float:
        """ms from action() to the next page shown."""
        before = len(self.shown)
        # A user clicks at any moment of the UI queue's 25 ms drain tick: clicks in lockstep with it would all
        # wait the same part of a tick (and Next, right after a page, would always wait a whole one).
        settle = time.perf_counter() + self.rng.uniform(0, 0.025)
        while time.perf_counter() < settle:
            self.root.update()
            time.sleep(0.001)
        started = time.perf_counter()
        action()
        pump_tk(self.root, lambda: len(self.shown) > before, 30, "a page", interval_s=0.001)
        return (self.shown[-1] - started) * 1000


def deep_anchor(db_path: Path) -> int:
    """The `before` of page 1,000: the last message of page 999 in the list's order (what 999 Nexts would give)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT id FROM messages ORDER BY sent_at DESC, id DESC LIMIT 1 OFFSET ?",
                                (DEEP_OFFSET - 1,)).fetchone()[0])
    finally:
        conn.close()


def measure(size: int, display: str, repeat: int) -> dict[str, list[float]]:
    import tkinter as tk

    from core.paths import DataDir

    data_dir = ensure_seeded(size)
    anchor = deep_anchor(data_dir / "crm_agent.db")
    service = Service(data_dir, config={"ai": {"llm_enabled": False}}, timeout=900)
    os.environ["DISPLAY"] = display
    root = tk.Tk(className="CRM-Agent-bench")
    root.withdraw()
    from windows.app import UiApp

    app = UiApp(root, DataDir(data_dir))
    app.quit = lambda: None
    app.start()
    try:
        window = app.open("dashboard")
        pump_tk(root, lambda: window.first_render_ms is not None, 60, "the dashboard", interval_s=0.001)
        window.notebook.select(window.messages)
        pane = window.messages
        pump_tk(root, lambda: len(pane.list.rows()) == PAGE_SIZE, 60, "the first page", interval_s=0.001)
        timer = ClickTimer(root, pane)
        pager = pane.pager
        out: dict[str, list[float]] = {}
        timer.time(pager.go_next)  # warm-up
        timer.time(pager.go_previous)
        out["Next (keyset)"] = [timer.time(pager.go_next) for _ in range(repeat)]
        out["Previous (keyset)"] = [timer.time(pager.go_previous) for _ in range(repeat)]

        def deep(keyset: bool) -> float:
            # The anchors a user would hold after 999 Nexts; without them the pager asks by offset (the old way).
            return timer.time(lambda: (setattr(pager, "anchors", [None] * (DEEP_OFFSET // PAGE_SIZE) + [anchor]
                                               if keyset else [None]), pane.reload(DEEP_OFFSET)))

        deep(True)
        deep(False)
        out["deep page 1,000 (keyset)"] = [deep(True) for _ in range(repeat)]
        out["deep page 1,000 (offset, baseline)"] = [deep(False) for _ in range(repeat)]
        negative, any_label = pane.tr._("negative"), pane.tr._("Any")

        def filtered(label: str) -> float:
            return timer.time(lambda: (pane.sentiment.set(label), pane.reload()))

        samples = []
        for _ in range(repeat):
            samples.append(filtered(negative))
            filtered(any_label)
        out["filter sentiment=negative"] = samples

        def searched(text: str) -> float:
            return timer.time(lambda: (pane.search.var.set(text), pane.reload()))

        samples = []
        for _ in range(repeat):
            samples.append(searched("pedido"))
            searched("")
        out["search pedido"] = samples
        if pane.pager.label.cget("text") != "1–50 of 10,000+" and size > 10_000:
            print(f"   note: the first page's label reads {pane.pager.label.cget('text')!r}")
        window.close()
        return out
    finally:
        app.shutdown()
        root.destroy()
        service.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=30, help="timed clicks per figure")
    opts = parser.parse_args(argv)

    from tests.ui_helpers import start_xvfb

    header("Messages tab paging (click to rows on the Tk thread, ms)")
    xvfb = start_xvfb()
    results: dict[int, dict[str, list[float]]] = {}
    try:
        for size in opts.sizes:
            load_before = os.getloadavg()[0]
            results[size] = measure(size, xvfb.display, opts.repeat)
            print(f"   {size:>10,} messages, load average (1 min) {load_before:.2f} -> {os.getloadavg()[0]:.2f}")
            for name, samples in results[size].items():
                p = percentiles(samples, (50, 99))
                print(f"      {name:<36} p50 {p[50]:7.1f}  p99 {p[99]:7.1f}  (n={len(samples)})")
    finally:
        xvfb.close()

    print("   targets:")
    for size, figures in results.items():
        for name, samples in figures.items():
            if "baseline" in name:
                continue
            p99 = percentiles(samples, (99,))[99]
            print(target_line(f"{size:,}: {name} p99", f"{p99:.1f} ms", f"<= {TARGET_P99_MS:g} ms",
                              p99 <= TARGET_P99_MS))
        deep = percentiles(figures["deep page 1,000 (keyset)"], (50,))[50]
        nxt = percentiles(figures["Next (keyset)"], (50,))[50]
        offset = percentiles(figures["deep page 1,000 (offset, baseline)"], (50,))[50]
        print(target_line(f"{size:,}: deep keyset p50 / Next p50", f"{deep / nxt:.2f}x", f"<= {FLAT:g}x",
                          deep <= FLAT * nxt) + f"   (offset baseline {offset:.1f} ms = {offset / nxt:.2f}x)")
    if len(results) > 1:
        smallest, largest = min(results), max(results)
        ratio = (percentiles(results[largest]["Next (keyset)"], (50,))[50]
                 / percentiles(results[smallest]["Next (keyset)"], (50,))[50])
        print(target_line(f"Next p50 {largest:,} / {smallest:,}", f"{ratio:.2f}x", f"<= {FLAT:g}x", ratio <= FLAT))
    print("   (a shared machine: re-run on a quiet one for the final figures)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
