"""`kubelite sim`: N simulated nodes in one process (the KWOK / kubemark idea).

Each node runs the real kubelet code (registration, Lease every 10 s, node status, pod workers,
events) over the in-memory `sim` runtime. SIGINT/SIGTERM (or SIGKILL) make every node go silent
like crashed machines: nothing is deleted, the node lifecycle controller notices.

While it runs, lines on stdin steer it (handy for demos and tests):
``stop NAME`` silences one node; ``add N`` starts N more nodes; ``count`` prints the numbers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

import click

from kubelite import aio
from kubelite.api.quantity import QuantityError, memory_bytes
from kubelite.runtime.sim import parse_duration_ns

log = logging.getLogger(__name__)

#: connections of the fleet's one ApiClient to the API server
SIM_POOL_SIZE = 256
#: connections of the fleet's heartbeat client (Leases, node status): its own pool, so that a backlog
#: of pod writes never delays the renewals (500 a second at 5000 nodes)
SIM_HEARTBEAT_POOL_SIZE = 64


def _memory(text: str) -> int:
    try:
        value = memory_bytes(text)
    except (QuantityError, ValueError, ArithmeticError):
        raise click.BadParameter(f"{text!r} is not a quantity (e.g. 128Gi, 64G)", param_hint="--memory") from None
    return value


def _duration(text: str, option: str) -> float:
    try:
        return parse_duration_ns(text) / 1e9
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint=option) from None


@click.command("sim")
@click.option("--kubeconfig", required=True, type=click.Path(exists=True, dir_okay=False),
              help="kubeconfig of the API server the nodes join.")
@click.option("--nodes", type=click.IntRange(0, None), required=True, help="How many simulated nodes to run.")
@click.option("--name-prefix", default="sim-", show_default=True, help="Node names are PREFIX0, PREFIX1, ...")
@click.option("--first-index", type=click.IntRange(0, None), default=0, show_default=True,
              help="Number of the first node (to run several sim processes against one server).")
@click.option("--cpu", type=click.IntRange(1, 4096), default=32, show_default=True, help="CPU cores per node.")
@click.option("--memory", default="128Gi", show_default=True, help="Memory per node.")
@click.option("--pods", "max_pods", type=click.IntRange(1, 250_000), default=110, show_default=True,
              help="Pods per node (capacity.pods).")
@click.option("--start-latency", default="0.2s", show_default=True,
              help="How long a simulated container takes to start (e.g. 0, 200ms, 1s).")
@click.option("--relist-period", default="1s", show_default=True,
              help="How often each node's PLEG relists its runtime.")
@click.option("--lease-interval", default="10s", show_default=True,
              help="How often each node renews its Lease (the node lifecycle grace period must be longer).")
@click.option("--join-concurrency", type=click.IntRange(1, 10_000), default=None,
              help="How many nodes register at once (default 64): the fleet joins at a bounded rate.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Scratch directory for the nodes (default: a temporary one).")
@click.option("-v", "--verbose", count=True, help="-v: INFO logs, -vv: DEBUG.")
def sim(kubeconfig: str, nodes: int, name_prefix: str, first_index: int, cpu: int, memory: str, max_pods: int,
        start_latency: str, relist_period: str, lease_interval: str, join_concurrency: int | None,
        data_dir: Path | None, verbose: int) -> None:
    """Run NODES simulated nodes (real kubelet logic, in-memory containers) joined to a server."""
    from kubelite.client.rest import ApiClient
    from kubelite.sim.fleet import JOIN_CONCURRENCY, MAX_NODES, SimConfig

    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not name_prefix or not all(ch.isalnum() or ch in "-." for ch in name_prefix) or not name_prefix[0].isalnum():
        raise click.BadParameter("must start with a letter or digit and hold only lowercase letters, digits, "
                                 "'-' and '.'", param_hint="--name-prefix")
    if name_prefix.lower() != name_prefix:
        raise click.BadParameter("must be lowercase", param_hint="--name-prefix")
    if first_index + nodes > MAX_NODES:
        raise click.BadParameter(f"at most {MAX_NODES} simulated nodes", param_hint="--nodes")
    relist = _duration(relist_period, "--relist-period")
    lease = _duration(lease_interval, "--lease-interval")
    if relist <= 0 or lease <= 0:
        raise click.BadParameter("must be positive", param_hint="--relist-period/--lease-interval")
    try:
        config = SimConfig(name_prefix=name_prefix, cpu=cpu, memory_bytes=_memory(memory), max_pods=max_pods,
                           start_latency=_duration(start_latency, "--start-latency"), relist_period=relist,
                           lease_renew_interval=lease, first_index=first_index,
                           join_concurrency=join_concurrency or JOIN_CONCURRENCY)
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    try:
        # a bounded pool: a server that stalls a moment must not make the fleet open (and TLS
        # handshake) a connection per waiting Lease renewal
        client = ApiClient.from_kubeconfig(kubeconfig, user_agent="kubelite-sim", pool_size=SIM_POOL_SIZE)
        heartbeat = ApiClient.from_kubeconfig(kubeconfig, user_agent="kubelite-sim",
                                              pool_size=SIM_HEARTBEAT_POOL_SIZE)
    except Exception as err:  # noqa: BLE001 - any unreadable kubeconfig is a usage error
        raise click.ClickException(f"cannot use kubeconfig {kubeconfig}: {err}") from None
    try:
        aio.run(_run(client, config, nodes, data_dir, heartbeat))
    except KeyboardInterrupt:
        pass


async def _run(client: object, config: object, count: int, data_dir: Path | None, heartbeat: object) -> None:
    from kubelite.client.rest import ApiClient
    from kubelite.sim.fleet import SimConfig, SimFleet

    assert isinstance(client, ApiClient) and isinstance(config, SimConfig) and isinstance(heartbeat, ApiClient)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    from kubelite.client.rest import ApiError

    try:  # one clear error rather than N nodes retrying their registration in the log
        await client.request("GET", "/version", request_timeout=15)
    except ApiError as err:
        await client.close()
        await heartbeat.close()
        raise click.ClickException(f"cannot reach the API server {client.server}: {err}") from None
    fleet = SimFleet(client, config, data_dir, heartbeat_client=heartbeat)
    try:
        starting = asyncio.create_task(fleet.start(count))
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not starting.done():  # a signal while the fleet was joining: silence what started
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
            return
        starting.result()
        click.echo(f"started {count} simulated nodes ({config.name_prefix}{config.first_index}.."
                   f"{config.name_prefix}{config.first_index + count - 1})" if count else "started 0 nodes")
        sys.stdout.flush()
        control = asyncio.create_task(_control(fleet, stop))
        await stop.wait()
        control.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await control
    finally:
        await fleet.stop()
        await client.close()
        await heartbeat.close()


async def _control(fleet: object, stop: asyncio.Event) -> None:
    """Read `stop NAME`, `add N`, `count` lines from stdin (nothing happens when stdin is a TTY or empty)."""
    from kubelite.sim.fleet import SimFleet

    assert isinstance(fleet, SimFleet)
    if sys.stdin is None or sys.stdin.isatty():
        return
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    except (OSError, ValueError):  # e.g. /dev/null or a regular file
        return
    while not stop.is_set():
        line = await reader.readline()
        if not line:
            return
        words = line.decode(errors="replace").split()
        if not words:
            continue
        try:
            if words[0] == "stop" and len(words) == 2:
                await fleet.kill(words[1])
                click.echo(f"stopped {words[1]}")
            elif words[0] == "add" and len(words) == 2 and words[1].isdigit():
                names = await fleet.start(int(words[1]))
                click.echo(f"started {len(names)} nodes")
            elif words[0] == "count":
                click.echo(f"nodes={len(fleet.agents)} registered={fleet.registered()} pods={fleet.running_pods()}")
            else:
                click.echo(f"unknown command {' '.join(words)!r} (want: stop NAME | add N | count)", err=True)
        except (KeyError, ValueError) as err:
            click.echo(f"error: {err}", err=True)
        sys.stdout.flush()
