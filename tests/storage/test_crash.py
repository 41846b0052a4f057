"""Crash safety: a write the SQLite store acknowledged survives SIGKILL of the process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from kubelite.storage import EventType, open_store

WRITER = Path(__file__).with_name("crash_writer.py")


def run_and_kill(db: Path, writes: int) -> list[tuple[int, str, bytes]]:
    """Start the writer, read `writes` acknowledged writes, then SIGKILL it mid-stream."""
    acked = []
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), str(db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"READY\n", proc.stderr.read() if proc.stderr else b""
        for _ in range(writes):
            line = proc.stdout.readline()
            assert line.endswith(b"\n")
            rev, key, value = line.decode().split()
            acked.append((int(rev), key, value.encode()))
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            if pipe:
                pipe.close()
    return acked


async def test_every_acknowledged_write_survives_sigkill(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    # crash twice: the second run starts from a crashed database
    acked = await asyncio.to_thread(run_and_kill, db, 400)
    acked += await asyncio.to_thread(run_and_kill, db, 400)

    store = await open_store(f"sqlite://{db}")
    try:
        current = await store.current_revision()
        assert current >= max(r for r, _, _ in acked)
        log = {}
        last = 0
        events = store.watch("/registry/crash/", 0)
        while last < current:
            ev = await anext(events)
            assert ev.revision > last, "revisions strictly increase"
            assert ev.type is EventType.PUT
            log[ev.revision] = (ev.key, ev.value)
            last = ev.revision
        await events.aclose()  # type: ignore[attr-defined]
        missing = [(r, k, v) for r, k, v in acked if log.get(r) != (k, v)]
        assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {missing[:3]}"
        # the store is usable after the crash: the next write continues the revision sequence
        assert await store.create("/registry/crash/after", b"x") == current + 1
    finally:
        await store.close()
