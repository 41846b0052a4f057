"""Store benchmark: SQLite (embedded) vs a real etcd started here, at 1, 8 and 64 writers.

    python bench/store.py [--quick]

For each backend and concurrency: creates/s, updates/s (compare-and-swap), gets/s, and watch
delivery latency (from issuing a create to a watcher receiving its event) p50/p99, and this
process's CPU per operation (`time.process_time()`, all threads; for creates and updates it
includes delivering the event to the watcher). SQLite's CPU includes the database's own work,
done in-process; etcd's server work is in the etcd process and not counted. Prints one table
with the SQLite/etcd ratio per figure (>1 means SQLite is better).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from kubelite.storage import Store, open_store  # noqa: E402
from kubelite.testing.etcd import EtcdCluster  # noqa: E402

CONCURRENCY = [1, 8, 64]


async def run_level(store: Store, writers: int, n_ops: int, tag: str) -> dict[str, float]:
    prefix = f"/registry/bench/{tag}-c{writers}/"
    per = max(n_ops // writers, 1)
    keys = [[f"{prefix}w{w}-{i}" for i in range(per)] for w in range(writers)]
    value = b'{"kind":"Pod","apiVersion":"v1","metadata":{"name":"x"}}' + b" " * 400
    issued: dict[str, float] = {}
    latencies: list[float] = []
    total = writers * per
    start_rev = await store.current_revision()

    async def watcher() -> None:
        events = store.watch(prefix, start_rev)
        async for ev in events:
            t = issued.get(ev.key)
            if t is not None and ev.revision and ev.prev_value is None:
                latencies.append(time.perf_counter() - t)
            if len(latencies) >= total:
                break
        await events.aclose()  # type: ignore[attr-defined]

    watch_task = asyncio.ensure_future(watcher())
    revs: dict[str, int] = {}

    async def creator(ks: list[str]) -> None:
        for k in ks:
            issued[k] = time.perf_counter()
            revs[k] = await store.create(k, value)

    async def updater(ks: list[str]) -> None:
        for k in ks:
            revs[k] = await store.update(k, value + b"u", revs[k])

    async def getter(ks: list[str]) -> None:
        for k in ks:
            await store.get(k)

    out: dict[str, float] = {}
    cpu: dict[str, float] = {}
    for name, fn in (("creates/s", creator), ("updates/s", updater), ("gets/s", getter)):
        t0, c0 = time.perf_counter(), time.process_time()
        await asyncio.gather(*(fn(ks) for ks in keys))
        out[name] = total / (time.perf_counter() - t0)
        cpu[f"cpu us/{name[:-3]}"] = (time.process_time() - c0) / total * 1e6
    await asyncio.wait_for(watch_task, 60)
    latencies.sort()
    out["watch p50 ms"] = statistics.median(latencies) * 1000
    out["watch p99 ms"] = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    out.update(cpu)
    return out


async def bench(url: str, n_ops: int) -> dict[int, dict[str, float]]:
    store = await open_store(url)
    try:
        await run_level(store, 8, min(n_ops, 200), "warmup")
        return {c: await run_level(store, c, n_ops if c > 1 else n_ops // 4, "run") for c in CONCURRENCY}
    finally:
        await store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer operations (a smoke run)")
    args = ap.parse_args()
    n_ops = 640 if args.quick else 3200
    with tempfile.TemporaryDirectory() as d:
        sqlite = asyncio.run(bench(f"sqlite://{d}/bench.db", n_ops))
    with EtcdCluster(size=1) as cluster:
        etcd = asyncio.run(bench(cluster.url, n_ops))

    print(f"\nkubelite store bench ({'quick' if args.quick else 'full'}: {n_ops} ops per level)")
    print(f"{'writers':>7}  {'figure':<13} {'sqlite':>10} {'etcd':>10} {'sqlite/etcd':>12}")
    for c in CONCURRENCY:
        for fig in sqlite[c]:
            s, e = sqlite[c][fig], etcd[c][fig]
            ratio = s / e if fig.endswith("/s") else e / s  # latency: lower is better
            print(f"{c:>7}  {fig:<13} {s:>10.1f} {e:>10.1f} {ratio:>11.2f}x")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
