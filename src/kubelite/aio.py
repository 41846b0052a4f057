"""One way to run an asyncio program in every kubelite command: on uvloop.

uvloop's transports (TCP and TLS) are written in Cython on libuv; the API server spends a
large part of each request in the transport and TLS layer (docs/apiserver.md, figures), and
uvloop cuts that per-request cost. Every `kubelite` command calls `run(main())` instead of
`asyncio.run(main())` so that all processes (server, scheduler, agents, sim) get it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T], *, debug: bool | None = None) -> T:
    """asyncio.run(main) on a fresh uvloop event loop (same cleanup: cancels leftover tasks,
    shuts down async generators and the default executor)."""
    with asyncio.Runner(debug=debug, loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)
