"""`kubelite server`: run the API server (+ embedded scheduler and controllers) until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path

import click

from kubelite import aio
from kubelite.apiserver.controlplane import ControlPlaneConfig, post_start_hooks
from kubelite.apiserver.http import SLOW_REQUEST
from kubelite.apiserver.priority import DEFAULT_QUEUE_LENGTH, DEFAULT_QUEUE_WAIT, FlowControlConfig
from kubelite.apiserver.server import ServerConfig, run_server
from kubelite.controllers.command import Duration
from kubelite.storage import StoreUnavailableError


@click.command("server")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory for certificates, the admin token, kubeconfig.yaml and (by default) state.db.")
@click.option("--bind-address", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=6443, show_default=True,
              help="HTTPS port (0 picks a free one; the kubeconfig names the real one).")
@click.option("--datastore", default=None,
              help="sqlite:///path/state.db (default: under --data-dir), etcd://h1:2379,h2:2379 or memory://.")
@click.option("--token", default=None, help="Admin bearer token (default: generated once, kept in DATA_DIR/token).")
@click.option("--advertise-host", default=None, help="Host name/IP written into the kubeconfig.")
@click.option("--bookmark-interval", type=float, default=5.0, show_default=True,
              help="Seconds between watch BOOKMARK events (for watchers that allow them).")
@click.option("--watch-cache-size", type=click.IntRange(10, None), default=20000, show_default=True,
              help="Events each resource's watch cache keeps for resuming watches (older -> 410 Expired).")
@click.option("--disable-scheduler", is_flag=True,
              help="Do not run the embedded scheduler (e.g. when `kubelite scheduler` runs on its own).")
@click.option("--disable-controllers", is_flag=True,
              help="Do not run the embedded controller manager (e.g. when `kubelite controller-manager` runs).")
@click.option("--node-monitor-grace-period", type=Duration(), default="40s", show_default=True,
              help="Silence after which a node is marked NotReady/Unknown (embedded controllers).")
@click.option("--default-not-ready-toleration-seconds", "--pod-eviction-timeout", "toleration", type=Duration(),
              default="300s", show_default=True,
              help="How long pods without their own toleration stay on a not-ready/unreachable node.")
@click.option("--leader-elect-lease-duration", "lease_duration", type=Duration(), default="10s", show_default=True,
              help="Lease of the embedded scheduler/controller manager: a standby takes over this long after "
                   "the leader's last renewal.")
@click.option("--max-requests-inflight", type=click.IntRange(0, None), default=400, show_default=True,
              help="With --max-mutating-requests-inflight, the total concurrency that API priority and fairness "
                   "shares among its priority levels (node-high, leader-election, workload-low); 0 and 0 "
                   "turn it off.")
@click.option("--max-mutating-requests-inflight", type=click.IntRange(0, None), default=200, show_default=True,
              help="Added to --max-requests-inflight (as in Kubernetes with API priority and fairness).")
@click.option("--flowcontrol-queue-length", type=click.IntRange(0, None), default=DEFAULT_QUEUE_LENGTH,
              show_default=True, help="Requests a busy priority level queues before answering 429.")
@click.option("--flowcontrol-queue-wait", type=Duration(), default=f"{DEFAULT_QUEUE_WAIT:g}s", show_default=True,
              help="Longest wait in a priority level's queue before 429.")
@click.option("--slow-request-threshold", type=Duration(), default=f"{SLOW_REQUEST:g}s", show_default=True,
              help="A request slower than this logs one warning line naming where its time went.")
@click.option("-v", "--verbose", is_flag=True, help="Log at debug level.")
def server(data_dir: Path, bind_address: str, port: int, datastore: str | None, token: str | None,
           advertise_host: str | None, bookmark_interval: float, watch_cache_size: int, disable_scheduler: bool,
           disable_controllers: bool, node_monitor_grace_period: float, toleration: float, lease_duration: float,
           max_requests_inflight: int, max_mutating_requests_inflight: int, flowcontrol_queue_length: int,
           flowcontrol_queue_wait: float, slow_request_threshold: float, verbose: bool) -> None:
    """Run the API server (HTTPS, bearer token and client-certificate authentication), with the
    scheduler and the controller manager behind leader election unless disabled."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if token is not None and not token.strip():
        raise click.BadParameter("must not be empty", param_hint="--token")
    if node_monitor_grace_period <= 0:
        raise click.BadParameter("must be > 0", param_hint="--node-monitor-grace-period")
    if toleration < 0:
        raise click.BadParameter("must be >= 0", param_hint="--default-not-ready-toleration-seconds")
    if lease_duration < 1:
        raise click.BadParameter("must be at least 1s", param_hint="--leader-elect-lease-duration")
    if flowcontrol_queue_wait <= 0:
        raise click.BadParameter("must be > 0", param_hint="--flowcontrol-queue-wait")
    if slow_request_threshold <= 0:
        raise click.BadParameter("must be > 0", param_hint="--slow-request-threshold")
    flow_control = FlowControlConfig(max_requests_inflight, max_mutating_requests_inflight,
                                     flowcontrol_queue_length, flowcontrol_queue_wait)
    control_plane = ControlPlaneConfig(
        scheduler=not disable_scheduler, controllers=not disable_controllers,
        node_monitor_grace_period=node_monitor_grace_period, default_toleration_seconds=toleration,
        lease_duration=lease_duration, renew_deadline=lease_duration * 0.7,
        retry_period=min(2.0, lease_duration * 0.2))
    config = ServerConfig(data_dir=data_dir.resolve(), bind_address=bind_address, port=port, datastore=datastore,
                          token=token, advertise_host=advertise_host, bookmark_interval=bookmark_interval,
                          watch_history=watch_cache_size, post_start=post_start_hooks(control_plane),
                          flow_control=flow_control, slow_request=slow_request_threshold)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_server(config, stop)

    try:
        aio.run(main())
    except (StoreUnavailableError, ValueError, OSError) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
