"""`kubelite controller-manager`: run the controllers against an API server, alone.

Durations take Go's syntax as kube-controller-manager does ("40s", "5m", "1m30s", "300ms");
a bare number is seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal

import click

from kubelite import aio

#: connections of the controller manager to the API server (its informers' watches use some)
CONTROLLER_POOL_SIZE = 96
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Seconds in a Go duration string; ValueError with a readable message when it is not one."""
    s = text.strip()
    if not s:
        raise ValueError("empty duration")
    try:
        return float(s)
    except ValueError:
        pass
    pos, total = 0, 0.0
    for m in _DURATION_RE.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(s) or pos == 0:
        raise ValueError(f'invalid duration "{text}" (use e.g. 40s, 5m, 1m30s)')
    return total


class Duration(click.ParamType):
    name = "duration"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, int | float):
            return float(value)
        try:
            return parse_duration(str(value))
        except ValueError as e:
            self.fail(str(e), param, ctx)


@click.command("controller-manager")
@click.option("--kubeconfig", required=True, type=click.Path(exists=True, dir_okay=False),
              help="kubeconfig of the API server to manage.")
@click.option("--leader-elect", is_flag=True, help="Run controllers only while holding the "
              "kube-system/kube-controller-manager Lease (several instances for HA).")
@click.option("--node-monitor-grace-period", type=Duration(), default="40s", show_default=True,
              help="Silence after which a node is marked NotReady/Unknown.")
@click.option("--pod-eviction-timeout", "--default-toleration-seconds", "eviction_timeout", type=Duration(),
              default="300s", show_default=True,
              help="How long pods without their own toleration stay on a not-ready/unreachable node.")
@click.option("--controllers", default="*", show_default=True,
              help="Comma-separated controllers to run ('*' for all).")
@click.option("--concurrent-syncs", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Workers per controller.")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def controller_manager(kubeconfig: str, leader_elect: bool, node_monitor_grace_period: float,
                       eviction_timeout: float, controllers: str, concurrent_syncs: int, verbose: bool) -> None:
    """Run the controller manager (deployments, replica sets, nodes, endpoints, GC, ...)."""
    from kubelite.client.rest import ApiClient
    from kubelite.controllers.manager import ALL_CONTROLLERS, ControllerManager

    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    names = [c.strip() for c in controllers.split(",") if c.strip() and c.strip() != "*"]
    unknown = [n for n in names if n not in ALL_CONTROLLERS]
    if unknown:
        raise click.BadParameter(f"unknown controller(s) {', '.join(unknown)}; known: {', '.join(ALL_CONTROLLERS)}",
                                 param_hint="--controllers")
    if node_monitor_grace_period <= 0:
        raise click.BadParameter("must be > 0", param_hint="--node-monitor-grace-period")
    try:
        # a bounded pool: a ReplicaSet's slow-start batch of 256 creates reuses connections
        # instead of opening (and TLS-handshaking) one per create
        client = ApiClient.from_kubeconfig(kubeconfig, pool_size=CONTROLLER_POOL_SIZE)
    except Exception as e:  # noqa: BLE001 - any unreadable kubeconfig is a usage error
        raise click.ClickException(f"cannot use kubeconfig {kubeconfig}: {e}") from None

    async def main() -> None:
        manager = ControllerManager(client, leader_elect=leader_elect,
                                    node_monitor_grace_period=node_monitor_grace_period,
                                    default_toleration_seconds=eviction_timeout,
                                    controllers=names or None, workers=concurrent_syncs)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await manager.start()
        runner = asyncio.ensure_future(manager.run())
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await manager.stop()
            stopper.cancel()
            await client.close()
        if runner.done() and not runner.cancelled() and runner.exception() is not None:
            raise click.ClickException(str(runner.exception()))

    aio.run(main())
