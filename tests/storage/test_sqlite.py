"""SQLite backend behaviour beyond the shared contract: persistence, the DB watch path,
compaction on disk, and refusing files it must not touch."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import pytest

from kubelite.storage import CompactedError, KeyExistsError, StoreUnavailableError, open_store
from kubelite.storage import sqlite as sqlite_backend


async def test_state_and_revisions_survive_reopening(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/state.db"
    s = await open_store(url)
    r1 = await s.create("/registry/pods/default/a", b"a")
    await s.update("/registry/pods/default/a", b"a2", r1)
    gone = await s.create("/registry/pods/default/b", b"b")
    last = (await s.delete("/registry/pods/default/b", gone)).mod_revision
    await s.compact(r1)
    await s.close()

    s = await open_store(url)
    try:
        assert await s.current_revision() == last
        assert await s.compacted_revision() == r1
        kv = await s.get("/registry/pods/default/a")
        assert kv is not None and (kv.value, kv.create_revision) == (b"a2", r1)
        assert await s.get("/registry/pods/default/b") is None
        assert await s.create("/registry/pods/default/c", b"c") == last + 1
        old = await s.list("/registry/pods/", revision=gone)
        assert [k.value for k in old.items] == [b"a2", b"b"]
    finally:
        await s.close()


async def test_relative_sqlite_url_opens_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    s = await open_store("sqlite://rel.db")
    await s.create("/k", b"v")
    await s.close()
    assert (tmp_path / "rel.db").exists()


async def test_watch_older_than_the_ring_reads_the_log_then_goes_live_without_gaps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_backend, "RING_SIZE", 5)
    s = await open_store(f"sqlite://{tmp_path}/state.db")
    try:
        start = await s.current_revision()
        revs = [await s.create(f"/k/{i:03}", b"v") for i in range(40)]

        async def keep_writing() -> list[int]:
            return list(await asyncio.gather(*(s.create(f"/k/late{i:03}", b"v") for i in range(40))))

        writer = asyncio.ensure_future(keep_writing())
        seen: list[int] = []
        events = s.watch("/k/", start)
        while len(seen) < 80:
            seen.append((await asyncio.wait_for(anext(events), 10)).revision)
        revs += await writer
        assert seen == sorted(revs)
        await events.aclose()  # type: ignore[attr-defined]
    finally:
        await s.close()


async def test_compaction_deletes_superseded_rows_in_small_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_backend, "COMPACT_BATCH", 7)
    path = tmp_path / "state.db"
    s = await open_store(f"sqlite://{path}")
    try:
        r = await s.create("/k/a", b"0")
        for i in range(50):
            r = await s.update("/k/a", str(i).encode(), r)
        d = await s.create("/k/gone", b"x")
        await s.delete("/k/gone", d)
        await s.create("/k/b", b"b")
        await s.compact(await s.current_revision())
        with sqlite3.connect(path) as db:
            rows = db.execute("SELECT name, value FROM kv ORDER BY id").fetchall()
        assert rows == [("/k/a", b"49"), ("/k/b", b"b")]
        with pytest.raises(CompactedError):
            await anext(s.watch("/k/", r - 1))
    finally:
        await s.close()


async def test_a_file_that_is_not_sqlite_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    content = b"these are my notes, not a database\n" * 200
    path.write_bytes(content)
    with pytest.raises(StoreUnavailableError, match="not a database"):
        await open_store(f"sqlite://{path}")
    assert path.read_bytes() == content
    assert not (tmp_path / "notes.txt-wal").exists()


async def test_another_applications_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        db.execute("INSERT INTO invoices (total) VALUES (9.5)")
    before = path.read_bytes()
    with pytest.raises(StoreUnavailableError, match="not a kubelite datastore"):
        await open_store(f"sqlite://{path}")
    assert path.read_bytes() == before


async def test_a_corrupt_datastore_is_reported_not_silently_used(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    s = await open_store(f"sqlite://{path}")
    for i in range(300):
        await s.create(f"/k/{i:04}", os.urandom(200))
    await s.close()
    data = bytearray(path.read_bytes())
    assert len(data) > 8192
    data[4096:8192] = b"\xa5" * 4096  # scribble over a b-tree page
    path.write_bytes(bytes(data))
    with pytest.raises(StoreUnavailableError, match=str(path)):
        await open_store(f"sqlite://{path}")


@pytest.mark.parametrize("where", ["missing-dir", "a-directory", "procfs"])
async def test_a_path_that_cannot_be_written_gives_a_clear_error(tmp_path: Path, where: str) -> None:
    path = {
        "missing-dir": tmp_path / "no" / "such" / "state.db",
        "a-directory": tmp_path,
        "procfs": Path("/proc/kubelite-state.db"),
    }[where]
    with pytest.raises(StoreUnavailableError, match="SQLite datastore"):
        await open_store(f"sqlite://{path}")


async def test_a_second_store_on_the_same_file_is_refused(tmp_path: Path) -> None:
    first = await open_store(f"sqlite://{tmp_path}/state.db")
    try:
        await first.create("/k", b"v")
        with pytest.raises(StoreUnavailableError, match="in use"):
            await open_store(f"sqlite://{tmp_path}/state.db")
        kv = await first.get("/k")
        assert kv is not None and kv.value == b"v"
    finally:
        await first.close()


async def test_writes_after_close_are_refused(tmp_path: Path) -> None:
    s = await open_store(f"sqlite://{tmp_path}/state.db")
    await s.close()
    with pytest.raises(StoreUnavailableError, match="closed"):
        await s.create("/k", b"v")


@pytest.mark.parametrize("url", ["sqlite://", "etcd://", "etcd://host:notaport", "postgres://x", "nourl", 42])
async def test_bad_datastore_urls_are_rejected_clearly(url: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        await open_store(url)  # type: ignore[arg-type]


async def test_an_unreachable_etcd_is_reported_not_hung() -> None:
    from kubelite.storage.etcd import EtcdStore
    from kubelite.testing.etcd import free_port

    with pytest.raises(StoreUnavailableError, match="cannot reach etcd"):
        await EtcdStore.open([("127.0.0.1", free_port())], connect_timeout=0.5)


async def test_a_failing_watch_publish_never_strands_the_writers(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The writes of a batch are stored before they are published: if publishing throws (a bug
    in a watcher's path), the writers still get their answers instead of waiting forever."""
    store = await sqlite_backend.SQLiteStore.open(str(tmp_path / "s.db"))
    try:
        def broken(events: object) -> None:
            raise RuntimeError("publish failed")
        monkeypatch.setattr(store._hub, "publish", broken)
        loop = asyncio.get_running_loop()
        seen: list[dict[str, object]] = []
        loop.set_exception_handler(lambda _loop, ctx: seen.append(ctx))
        async with asyncio.timeout(10):
            results = await asyncio.gather(store.create("/a", b"1"), store.create("/b", b"2"),
                                           store.create("/a", b"3"), return_exceptions=True)
        assert isinstance(results[0], int) and isinstance(results[1], int)
        assert isinstance(results[2], KeyExistsError)
        assert (await store.get("/b")) is not None
        assert seen and "publish failed" in str(seen[0].get("exception"))
    finally:
        asyncio.get_running_loop().set_exception_handler(None)
        await store.close()
