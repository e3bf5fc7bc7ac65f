"""A hub for a whole team: rows/s the hub takes from N agents pushing at once, gunicorn with 1 worker vs 2 workers.

    python bench/hub_concurrency.py [--agents 20] [--rows 100000] [--batch-size 500] [--client-processes 4]

Needs gunicorn (requirements.txt). Starts a private PostgreSQL cluster (tests/postgres.py), seeds one agent
database per simulated agent (tests/hub_load.py: the real migrations, customers sharing 25 phones, messages and
analyses written 99 to a transaction), then, for each worker count, a fresh hub database served by
`gunicorn -c deploy/gunicorn.conf.py -w N 'runtime.hub:create_hub_app()'` and every agent's real SyncAgent pushing a
fresh copy of its database at once (rounds until nothing is pending; the profile pulls included). The figure is
rows acknowledged / wall seconds from the first push to the last acknowledgement. The agents run in
--client-processes processes (threads inside each), so the client side is not held to one core by the GIL; on a
2-core machine clients and hub share the cores, so the ratio understates what a hub on its own machine gains.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import header
from tests.hub_load import push_concurrently, register_agents, seed_agent_database
from tests.postgres import start_cluster
from tests.sync_helpers import hub_query, start_gunicorn_hub

HUB_CONFIG = {"security": {"rate_limit_per_s": 1_000_000.0, "rate_limit_burst": 1_000_000}}


def push_group(agents: dict[str, tuple[Path, str]], hub_url: str) -> int:
    """One client process: its agents' rounds at once; returns the rows they pushed."""
    results, _ = push_concurrently(agents, hub_url)
    return sum(r.rows for r in results)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its children (alive now)."""
    import psutil

    root = psutil.Process(pid)
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def postmaster_pid(pg) -> int:
    return int((pg.data_dir / "postmaster.pid").read_text().splitlines()[0])


def run_once(pg, workers: int, seeds: dict[str, Path], tmp: Path,
             client_processes: int) -> tuple[int, float, int, float, float]:
    """(rows pushed, wall seconds, rows the hub holds, hub CPU s, PostgreSQL CPU s) for one hub with this many
    workers."""
    url = pg.create_database(f"hub_{workers}w_{uuid.uuid4().hex[:6]}")
    tokens = register_agents(url, list(seeds))
    run_dir = tmp / f"{workers}w"
    run_dir.mkdir()
    agents = {}
    for name, seed in seeds.items():
        copy = run_dir / seed.name
        shutil.copyfile(seed, copy)
        agents[name] = (copy, tokens[name])
    hub = start_gunicorn_hub(url, run_dir / "hub", workers=workers, config=HUB_CONFIG)
    try:
        names = list(agents)
        groups = [{n: agents[n] for n in names[i::client_processes]} for i in range(client_processes)]
        hub_cpu, pg_cpu = cpu_seconds(hub.process.pid), cpu_seconds(postmaster_pid(pg))
        started = time.perf_counter()
        with ProcessPoolExecutor(client_processes) as pool:
            rows = sum(pool.map(push_group, groups, [hub.url] * len(groups)))
        seconds = time.perf_counter() - started
        hub_cpu, pg_cpu = cpu_seconds(hub.process.pid) - hub_cpu, cpu_seconds(postmaster_pid(pg)) - pg_cpu
        held = hub_query(pg, url, "SELECT COUNT(*) FROM hub_rows WHERE deleted_reason IS NULL")[0][0]
        return rows, seconds, held, hub_cpu, pg_cpu
    finally:
        hub.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--rows", type=int, default=100_000, help="rows in all, split evenly between the agents")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--client-processes", type=int, default=4)
    args = parser.parse_args()
    header(f"hub concurrency: {args.agents} agents push {args.rows:,} rows at once into gunicorn, 1 vs 2 workers")
    print(f"   cores: {os.cpu_count()}; load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    pg = start_cluster()
    tmp = Path(tempfile.mkdtemp(prefix="crm-bench-hub-"))
    try:
        per_agent = args.rows // args.agents
        seeds = {}
        started = time.perf_counter()
        for i in range(args.agents):
            name = f"agent{i:02d}"
            seeds[name] = tmp / f"{name}.db"
            seed_agent_database(seeds[name], name, per_agent)
        print(f"   seeded {args.agents} agent databases of {per_agent:,} rows in {time.perf_counter() - started:.1f} s")
        rates = {}
        for workers in (1, 2):
            rows, seconds, held, hub_cpu, pg_cpu = run_once(pg, workers, seeds, tmp, args.client_processes)
            rates[workers] = held / seconds
            print(f"   gunicorn -w {workers}: {held:>8,} rows on the hub ({rows:,} pushed, profile re-pushes "
                  f"included) in {seconds:6.2f} s  {rates[workers]:>9,.0f} rows/s   CPU: hub {hub_cpu:.1f} s, "
                  f"PostgreSQL {pg_cpu:.1f} s of {seconds * (os.cpu_count() or 1):.1f} core-s; hub CPU per row "
                  f"{hub_cpu / held * 1e6:.0f} us")
        print(f"   2 workers / 1 worker: {rates[2] / rates[1]:.2f}x")
        print(f"   load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        return 0
    finally:
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
