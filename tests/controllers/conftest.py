"""Fixtures for controller unit tests: a FakeApiClient with informers over it (sample-controller style)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from kubelite.client.fake import FakeApiClient
from kubelite.client.informer import InformerFactory


class Harness:
    """Preload objects, build a controller over synced informers, then compare recorded actions."""

    def __init__(self) -> None:
        self.client = FakeApiClient()
        self.factories: list[InformerFactory] = []

    async def start(self, make: Callable[[FakeApiClient, InformerFactory], Any]) -> Any:
        factory = InformerFactory(self.client)
        self.factories.append(factory)
        controller = make(self.client, factory)
        await factory.start()
        assert await factory.wait_synced(10)
        self.client.clear_actions()
        return controller

    def writes(self) -> list[tuple[str, str, str | None]]:
        """(verb, resource, subresource) of every write the controller made, in order."""
        return [(a.verb, a.resource_plural, a.subresource) for a in self.client.write_actions()]

    async def settle(self) -> None:
        """Let the informers catch up with what the fake API has (watch events are async)."""
        import asyncio

        for _ in range(50):
            await asyncio.sleep(0)

    async def stop(self) -> None:
        for f in self.factories:
            await f.stop()


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    h = Harness()
    try:
        yield h
    finally:
        await h.stop()
