"""`kubelite scheduler`: run the scheduler as its own process against an API server."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import click

from kubelite import aio
from kubelite.client.rest import ApiError
from kubelite.scheduler.scheduler import DEFAULT_SCHEDULER_NAME, Scheduler

if TYPE_CHECKING:
    from kubelite.client.leaderelection import LeaderElector

log = logging.getLogger(__name__)

LEASE_NAME = "kube-scheduler"


class _EveryNSeconds(logging.Filter):
    """Let one record through per `period` seconds for messages starting with `prefix` (the event
    recorder logs every event it drops when the apiserver cannot keep up)."""

    def __init__(self, prefix: str, period: float = 10.0) -> None:
        super().__init__()
        self.prefix = prefix
        self.period = period
        self._last = -period
        self._suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith(self.prefix):
            return True
        now = time.monotonic()
        if now - self._last < self.period:
            self._suppressed += 1
            return False
        self._last = now
        if self._suppressed:
            record.msg = f"{record.msg} (and {self._suppressed} more like it)"
            self._suppressed = 0
        return True


async def _serve(kubeconfig: str, leader_elect: bool, scheduler_name: str) -> None:
    from kubelite.client.rest import ApiClient

    client = ApiClient.from_kubeconfig(kubeconfig)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async def lead() -> None:
        scheduler = Scheduler(client, scheduler_name=scheduler_name)
        await scheduler.start()
        log.info("scheduler %s started", scheduler_name)
        try:
            await asyncio.Event().wait()  # until the elector (or stop) cancels us
        finally:
            await scheduler.stop()

    try:
        if leader_elect:
            from kubelite.client.leaderelection import LeaderElector

            identity = f"{socket.gethostname()}_{uuid.uuid4()}"
            elector = LeaderElector(client, lease_name=LEASE_NAME, namespace="kube-system", identity=identity)
            work = loop.create_task(_elect_forever(elector, lead))
        else:
            work = loop.create_task(lead())
        stopper = loop.create_task(stop.wait())
        await asyncio.wait({work, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for t in (work, stopper):
            t.cancel()
        for t in (work, stopper):
            try:
                await t
            except asyncio.CancelledError:
                pass
    finally:
        await client.close()


async def _elect_forever(elector: LeaderElector, lead: Callable[[], Awaitable[None]]) -> None:
    """Stand for election again after losing the lease (kube-scheduler exits and is restarted)."""
    while True:
        await elector.run(lead)


@click.command()
@click.option("--kubeconfig", required=True, type=click.Path(exists=True, dir_okay=False),
              help="kubeconfig of the API server to schedule for.")
@click.option("--leader-elect/--no-leader-elect", default=False, show_default=True,
              help="Schedule only while holding the kube-system/kube-scheduler Lease (for several replicas).")
@click.option("--scheduler-name", default=DEFAULT_SCHEDULER_NAME, show_default=True,
              help="Schedule pods whose spec.schedulerName is this.")
@click.option("-v", "--verbose", is_flag=True, help="Log at INFO level.")
def scheduler(kubeconfig: str, leader_elect: bool, scheduler_name: str, verbose: bool) -> None:
    """Run the scheduler: bind pending pods to nodes."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kubelite.client.events").addFilter(_EveryNSeconds("event queue full"))
    try:
        aio.run(_serve(kubeconfig, leader_elect, scheduler_name))
    except ValueError as e:  # bad kubeconfig
        raise click.ClickException(str(e)) from None
    except OSError as e:
        raise click.ClickException(f"cannot reach the API server: {e}") from None
    except ApiError as e:
        raise click.ClickException(f"the API server refused: {e}") from None
