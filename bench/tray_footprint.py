"""Idle footprint of the desktop agent's tray process (not its service child).

    python bench/tray_footprint.py [--idle-s 60]

Runs on a private desktop (Xvfb on a free display, dbus-launch session with dunst, trayer as tray host;
tests/tray_helpers.py) so it needs no real screen:
- baseline in the same run: `python -c "import pystray, PIL"` on that display, RSS once the imports are done
  (the floor any pystray icon starts from);
- the tray: `python -m tray --data-dir <fresh dir> --port 0` (what `python agent.py` runs), once its icon is
  docked and its service healthy, plus 3 s of settling: RSS of the tray process. Target: <= 35 MB (issue 17).
- with --base OTHER-CHECKOUT (e.g. an export of the commit before): that tree's tray measured the same way, on
  the same desktop, right after (a baseline of the change);
- idle CPU: the tray process's user+system CPU time over --idle-s seconds of wall time, as a percentage of
  one core. Target: <= 0.5 % (no busy polling: every thread blocks on a socket, a pipe or a condition).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, header, remove, target_line, temp_dir

TARGET_RSS_MB = 35.0  # issue 17 (was 40)
TARGET_CPU_PERCENT = 0.5
SETTLE_S = 3.0


def baseline_rss(env: dict[str, str]) -> float:
    import psutil

    proc = subprocess.Popen([sys.executable, "-c", "import pystray, PIL.Image, sys; print('ready', flush=True); "
                             "sys.stdin.read()"], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        return psutil.Process(proc.pid).memory_info().rss / 2**20
    finally:
        proc.stdin.close()
        proc.wait(10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-s", type=float, default=60.0, help="seconds of idle CPU measurement")
    parser.add_argument("--base", type=Path, help="another source tree whose tray to measure too (baseline)")
    args = parser.parse_args(argv)

    import psutil

    from tests.tray_helpers import start_desktop, start_tray, wait_for

    header("tray footprint")
    work = temp_dir("tray-bench-")
    desktop = start_desktop(work / "desktop")
    tray = None
    try:
        desktop.start_trayer()
        base = baseline_rss(desktop.env)
        tray = start_tray(desktop, work / "agent")
        wait_for(tray.healthy_service, timeout=60, message="the supervised service")
        wait_for(desktop.icon_embedding, timeout=20, message="the icon to dock")
        time.sleep(SETTLE_S)
        proc = psutil.Process(tray.process.pid)
        rss = proc.memory_info().rss / 2**20
        child = tray.service_info()
        child_rss = psutil.Process(child["pid"]).memory_info().rss / 2**20 if child else float("nan")
        threads = proc.num_threads()
        before, wall0 = proc.cpu_times(), time.monotonic()
        time.sleep(args.idle_s)
        after, wall = proc.cpu_times(), time.monotonic() - wall0
        cpu = ((after.user - before.user) + (after.system - before.system)) / wall * 100
        print(f"   baseline `import pystray, PIL` RSS {base:.1f} MB; tray threads {threads}; "
              f"service child RSS {child_rss:.1f} MB (not counted); load average {os.getloadavg()[0]:.2f}")
        print(target_line("tray process idle RSS", f"{rss:.1f} MB", f"<= {TARGET_RSS_MB:.0f} MB",
                          rss <= TARGET_RSS_MB))
        print(target_line(f"tray idle CPU over {wall:.0f} s", f"{cpu:.3f} %", f"<= {TARGET_CPU_PERCENT} %",
                          cpu <= TARGET_CPU_PERCENT))
        print(f"   over the baseline: +{rss - base:.1f} MB (supervisor, notifier, event stream, dock watcher)")
        if args.base:
            tray.stop()
            tray = start_tray(desktop, work / "agent-base", checkout=args.base.resolve())
            wait_for(tray.healthy_service, timeout=60, message="the base tree's supervised service")
            wait_for(desktop.icon_embedding, timeout=20, message="the base tree's icon to dock")
            time.sleep(SETTLE_S)
            base_tree = psutil.Process(tray.process.pid).memory_info().rss / 2**20
            print(f"   base tree {args.base}: tray process idle RSS {base_tree:.1f} MB "
                  f"({rss - base_tree:+.1f} MB after)")
        return 0 if rss <= TARGET_RSS_MB and cpu <= TARGET_CPU_PERCENT else 1
    finally:
        if tray is not None:
            tray.stop()
        desktop.close()
        remove(work)


if __name__ == "__main__":
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    sys.exit(main())
