"""The etcd backend on a 3-member cluster: losing a member mid-stream loses no write or event."""

from __future__ import annotations

import asyncio

from kubelite.storage import open_store
from kubelite.testing.etcd import EtcdCluster


async def test_writes_and_watch_continue_when_a_member_is_killed() -> None:
    cluster = await asyncio.to_thread(EtcdCluster(size=3).start)
    try:
        store = await open_store(cluster.url)
        try:
            start = await store.current_revision()
            events = store.watch("/registry/ha/", start)
            revs: list[int] = []

            async def writer(n: int) -> None:
                for i in range(60):
                    key = f"/registry/ha/w{n}-{i:03}"
                    rev = await store.create(key, b"v")
                    revs.append(await store.update(key, b"v2", rev))
                    revs.append(rev)
                    if n == 0 and i == 20:
                        await asyncio.to_thread(cluster.kill, 0)  # SIGKILL a member mid-stream

            await asyncio.gather(*(writer(n) for n in range(4)))
            assert not cluster.members[0].alive
            assert await store.count("/registry/ha/") == 240
            seen = []
            while len(seen) < len(revs):
                seen.append((await asyncio.wait_for(anext(events), 20)).revision)
            assert seen == sorted(revs), "every write seen once, in order"
            await events.aclose()  # type: ignore[attr-defined]
        finally:
            await store.close()
    finally:
        await asyncio.to_thread(cluster.stop)
