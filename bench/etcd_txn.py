"""What one etcd write costs, alone in its transaction or grouped (why EtcdStore groups writes).

    .venv/bin/python bench/etcd_txn.py [--writes 6000] [--writers 32]

Against a real one-member etcd on loopback, `--writers` concurrent writers update keys with a
3 KB value (a pod's size). Prints CPU microseconds per write in this process and in etcd, and
writes/s, for: one write per gRPC Txn (how EtcdStore wrote before grouping), eight writes per
Txn, and EtcdStore itself (creates and compare-and-swap updates, grouped as they arrive).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable

import grpc
import psutil
import uvloop
from aetcd import rpc

from kubelite.storage import open_store
from kubelite.testing.etcd import EtcdCluster

VALUE = b"x" * 3000
KEYS = 500


def put_txn(keys: list[bytes]) -> rpc.TxnRequest:
    req = rpc.TxnRequest()
    for k in keys:
        put = req.success.add().request_put
        put.key = k
        put.value = VALUE
    return req


async def measure(etcd: psutil.Process, writes: int, run: Callable[[], Awaitable[None]]) -> str:
    e0, c0, t0 = etcd.cpu_times(), time.process_time(), time.monotonic()
    await run()
    e1, c1, t1 = etcd.cpu_times(), time.process_time(), time.monotonic()
    etcd_cpu = e1.user + e1.system - e0.user - e0.system
    return (f"client {1e6 * (c1 - c0) / writes:4.0f} us/write, etcd {1e6 * etcd_cpu / writes:4.0f} us/write, "
            f"{writes / (t1 - t0):6.0f} writes/s")


async def raw_txns(endpoint: str, etcd: psutil.Process, writes: int, writers: int, per_txn: int) -> str:
    channel = grpc.aio.insecure_channel(endpoint)
    kv = rpc.KVStub(channel)
    await kv.Txn(put_txn([b"/bench/warm"]))
    gate = asyncio.Semaphore(writers)

    async def one(i: int) -> None:
        async with gate:
            await kv.Txn(put_txn([f"/bench/k{(i * per_txn + j) % KEYS}".encode() for j in range(per_txn)]), timeout=10)

    async def run() -> None:
        await asyncio.gather(*(one(i) for i in range(writes // per_txn)))

    try:
        return await measure(etcd, writes, run)
    finally:
        await channel.close()


async def store_writes(url: str, etcd: psutil.Process, writes: int, writers: int) -> str:
    store = await open_store(url)
    for i in range(KEYS):  # the raw rounds made these keys: each writer updates "if it exists"
        await store.update(f"/bench/k{i}", VALUE, 0)

    async def writer(w: int) -> None:
        for i in range(w, writes, writers):
            await store.update(f"/bench/k{i % KEYS}", VALUE, 0)

    async def run() -> None:
        await asyncio.gather(*(writer(w) for w in range(writers)))

    try:
        return await measure(etcd, writes, run)
    finally:
        await store.close()


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--writes", type=int, default=6000)
    ap.add_argument("--writers", type=int, default=32)
    args = ap.parse_args()
    with EtcdCluster(size=1) as cluster:
        member = cluster.members[0]
        assert member.proc is not None
        etcd = psutil.Process(member.proc.pid)
        print(f"etcd writes, 3 KB values, {args.writers} writers, {args.writes} writes; load average "
              f"{psutil.getloadavg()[0]:.1f}", flush=True)
        for _ in range(2):  # twice: the second round is warm
            one = await raw_txns(member.endpoint, etcd, args.writes, args.writers, 1)
            eight = await raw_txns(member.endpoint, etcd, args.writes, args.writers, 8)
            grouped = await store_writes(cluster.url, etcd, args.writes, args.writers)
        print(f"  one write per Txn (before grouping): {one}")
        print(f"  eight writes per Txn:                {eight}")
        print(f"  EtcdStore, grouped as they arrive:   {grouped}")


if __name__ == "__main__":
    uvloop.run(main())
