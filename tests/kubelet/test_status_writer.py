"""The kubelet's status writer (kubelet/workers.py): every marked pod gets written."""

from __future__ import annotations

import asyncio

from kubelite.kubelet.workers import StatusWriter


async def test_a_pod_marked_as_the_last_writer_task_ends_is_still_written() -> None:
    """The writer of pod a finishes (its task ends) in the same loop turn in which pod b is
    marked: b must not wait for some other pod's mark to be written."""
    loop = asyncio.get_running_loop()
    written: list[str] = []
    writer: StatusWriter

    async def write(uid: str) -> None:
        written.append(uid)
        if uid == "a":
            loop.call_soon(writer.mark, "b")  # runs before the finished task's done callbacks

    writer = StatusWriter(write, concurrency=1)
    writer.mark("a")
    for _ in range(20):
        await asyncio.sleep(0)
    assert written == ["a", "b"]
    assert writer.pending == 0
    await writer.stop()


async def test_marks_while_writes_are_in_flight_write_the_latest_once_more() -> None:
    gate = asyncio.Event()
    written: list[str] = []

    async def write(uid: str) -> None:
        written.append(uid)
        await gate.wait()

    writer = StatusWriter(write, concurrency=2)
    writer.mark("a")
    await asyncio.sleep(0)
    writer.mark("a")  # changed again while its write is in flight
    writer.mark("a")
    gate.set()
    for _ in range(20):
        await asyncio.sleep(0)
    assert written == ["a", "a"]
    await writer.stop()
