"""kubelite.aio.run: what every `kubelite` command runs its asyncio program with (uvloop)."""

from __future__ import annotations

import asyncio

from kubelite import aio


def test_run_uses_uvloop_and_returns_the_result() -> None:
    async def main() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert aio.run(main()).startswith("uvloop")


def test_run_cancels_leftover_tasks_like_asyncio_run() -> None:
    cancelled: list[bool] = []

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def main() -> int:
        asyncio.get_running_loop().create_task(forever())
        await asyncio.sleep(0)
        return 7

    assert aio.run(main()) == 7
    assert cancelled == [True]

