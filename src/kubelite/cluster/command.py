"""`kubelite up` and `kubelite down`: a whole local cluster in one command, and its off switch.

`up` runs in the foreground: it prints one line per started part, then what to do next, and
stays until Ctrl-C, SIGTERM or `kubelite down` (from another shell, through DATA_DIR/control.sock;
DATA_DIR/kubelite.pid names the process). Running `up` again on the same data dir resumes the
same cluster: state, certificates, token, node names and their containerd stores are kept.
`down --node NAME` powers one worker node off (the way to watch a node failure), and
`down --purge` deletes the data dir as well.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import sys
import time
from pathlib import Path

import click

from kubelite import aio
from kubelite.cluster import nodenet
from kubelite.cluster.config import (
    DEFAULT_DATA_DIR,
    ClusterConfig,
    ClusterConfigError,
    looks_like_cluster_dir,
    node_names,
)
from kubelite.controllers.command import Duration

REQUIRED_TOOLS = ("containerd", "runc", "ip", "nsenter", "iptables")


def _read_pid(config_dir: Path) -> int | None:
    try:
        return int((config_dir / "kubelite.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def _check_host() -> None:
    if os.geteuid() != 0:
        raise click.ClickException("kubelite up needs root (it runs containerd and creates network "
                                   "namespaces): run it with sudo")
    missing = [t for t in REQUIRED_TOOLS if shutil.which(t) is None]
    if missing:
        raise click.ClickException(f"missing on this machine: {', '.join(missing)}; "
                                   "install them with `bash scripts/install.sh`")


def _configure_logging(log_file: Path, verbose: bool) -> None:
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler: logging.Handler = logging.FileHandler(log_file)
    handler.setFormatter(fmt)
    root.addHandler(handler)
    if verbose:
        err = logging.StreamHandler()
        err.setFormatter(fmt)
        root.addHandler(err)


def _merge(data_dir: Path, nodes: int | None, node_name: tuple[str, ...], datastore: str | None,
           host_network: bool | None, port: int | None, kubelet_port: int | None, grace: float | None,
           eviction: float | None) -> tuple[ClusterConfig, bool]:
    """The saved config with the given options on top; (config, resumed)."""
    saved = ClusterConfig.load(data_dir)
    config = saved or ClusterConfig(data_dir=data_dir)
    count = nodes or (len(config.nodes) if config.nodes else 1)
    if count < 1:
        raise ClusterConfigError("--nodes must be at least 1")
    if node_name:
        config.nodes = node_names(list(node_name), count)
    else:  # a resumed cluster keeps its names (and adds <first>-N ones for more nodes)
        config.nodes = node_names(config.nodes[:count], count)
    if datastore is not None:
        config.datastore = datastore or None
    if host_network is not None:
        config.host_network = host_network
    if port is not None:
        config.api_port = port
    if kubelet_port is not None:
        config.kubelet_port = kubelet_port
    if grace is not None:
        config.node_monitor_grace = grace
    if eviction is not None:
        config.eviction_timeout = eviction
    config.validate()
    return config, saved is not None


@click.command("up")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_DATA_DIR,
              show_default=True, help="Where the cluster keeps everything (state, certificates, nodes).")
@click.option("--nodes", type=click.IntRange(1, 16), default=None,
              help="How many nodes (default 1; a resumed cluster keeps its count). The first is the control plane.")
@click.option("--node-name", multiple=True, metavar="NAME",
              help="Node name (repeat for several; default: the host name, then <name>-2, <name>-3...).")
@click.option("--datastore", default=None,
              help="sqlite:///path/state.db (default: DATA_DIR/state.db) or etcd://host:2379[,host:2379...].")
@click.option("--host-network", is_flag=True, default=None,
              help="Run the node on this machine's own network (a dedicated machine) instead of in a "
                   "network namespace of its own.")
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help="API server port on 127.0.0.1 (default 6443; 0 picks a free one).")
@click.option("--kubelet-port", type=click.IntRange(0, 65535), default=None,
              help="First node's kubelet port (default 10250, then 10251...; 0 picks free ones).")
@click.option("--node-monitor-grace-period", "grace", type=Duration(), default=None,
              help="Silence after which a node is NotReady (default 40s, as Kubernetes).")
@click.option("--pod-eviction-timeout", "eviction", type=Duration(), default=None,
              help="How long pods stay on a NotReady node before they are evicted (default 300s).")
@click.option("-v", "--verbose", is_flag=True, help="Also print the components' log (at debug level).")
def up(data_dir: Path, nodes: int | None, node_name: tuple[str, ...], datastore: str | None,
       host_network: bool | None, port: int | None, kubelet_port: int | None, grace: float | None,
       eviction: float | None, verbose: bool) -> None:
    """Bring up a local cluster: API server, scheduler, controllers and real nodes (containerd)."""
    # every subprocess we start execs at once (iptables, nsenter, probes): gRPC's fork handlers are
    # not needed, and with the CRI client busy they print "skipping fork() handlers" on every fork
    os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
    _check_host()
    data_dir = data_dir.resolve()
    try:
        config, resumed = _merge(data_dir, nodes, node_name, datastore, host_network, port, kubelet_port, grace,
                                 eviction)
    except ClusterConfigError as err:
        raise click.ClickException(str(err)) from None
    pid = _read_pid(data_dir)
    if pid is not None and pid != os.getpid() and nodenet.pid_alive(pid):
        raise click.ClickException(f"a cluster is already running from {data_dir} (pid {pid}); "
                                   f"stop it with `kubelite down --data-dir {data_dir}`")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        config.save()
        config.pid_file.write_text(f"{os.getpid()}\n")
    except OSError as err:
        raise click.ClickException(f"cannot use data dir {data_dir}: {err.strerror or err}") from None
    _configure_logging(config.log_file, verbose)
    click.echo(f"kubelite up: {'resuming the' if resumed else 'a new'} cluster in {data_dir} "
               f"({len(config.nodes)} node{'s' if len(config.nodes) > 1 else ''}: {', '.join(config.nodes)})")
    try:
        code = aio.run(_run(config))
    finally:
        with contextlib.suppress(OSError):
            if _read_pid(data_dir) == os.getpid():
                config.pid_file.unlink()
        with contextlib.suppress(OSError):
            config.control_socket.unlink()
    sys.exit(code)


async def _run(config: ClusterConfig) -> int:
    from kubelite.cluster.runner import Cluster, Progress, UpError, echo_next_steps

    progress = Progress(click.echo)
    cluster = Cluster(config, progress)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, cluster.stop_requested.set)
    code = 0
    try:
        starting = asyncio.ensure_future(cluster.start())
        stop_wait = asyncio.ensure_future(cluster.stop_requested.wait())
        await asyncio.wait({starting, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():  # Ctrl-C while starting
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await starting
        else:
            starting.result()
            await asyncio.to_thread(config.save)  # the real ports, if 0 picked free ones
            if not await cluster.wait_nodes_ready():
                click.echo("warning: not every node is Ready yet; see `kubectl describe nodes` and "
                           f"{config.log_file}", err=True)
            echo_next_steps(config, click.echo)
            await stop_wait
        stop_wait.cancel()
        click.echo("")
        click.echo("kubelite: stopping")
    except UpError as err:
        click.echo(f"error: {err}", err=True)
        code = 1
    except Exception as err:  # noqa: BLE001 - the user gets one line, the log has the traceback
        logging.getLogger("kubelite.up").exception("kubelite up failed")
        click.echo(f"error: {type(err).__name__}: {err} (details in {config.log_file})", err=True)
        code = 1
    finally:
        await cluster.stop()
    if code == 0:
        click.echo("kubelite: stopped")
    return code


def _request(sock_path: Path, line: str, timeout: float) -> str:  # noqa: ASYNC109 - blocking by design (CLI)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(sock_path))
        s.sendall(line.encode() + b"\n")
        chunks = []
        while True:
            data = s.recv(4096)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode(errors="replace").strip()


def _wait_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not nodenet.pid_alive(pid):
            return True
        time.sleep(0.1)
    return not nodenet.pid_alive(pid)


def _cleanup_leftovers(data_dir: Path, config: ClusterConfig | None) -> list[str]:
    """After a crashed `up`: its containerd and shims, mounts, namespaces, pid file. What was done."""
    done = []
    killed = nodenet.kill_leftover_runtime(data_dir)
    if killed:
        done.append(f"killed {killed} leftover containerd process{'es' if killed > 1 else ''}")
    if nodenet.mounts_under(data_dir):
        left = nodenet.unmount_under(data_dir)
        done.append("unmounted container filesystems" + (f" ({len(left)} still busy)" if left else ""))
    if config is not None:
        for ns in (*(config.netns(node) for node in config.nodes), config.bridge_netns):
            if ns and nodenet.netns_exists(ns):
                nodenet.delete_netns(ns)
                done.append(f"deleted network namespace {ns}")
    for name in ("kubelite.pid", "control.sock"):
        with contextlib.suppress(FileNotFoundError):
            (data_dir / name).unlink()
    return done


@click.command("down")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_DATA_DIR,
              show_default=True, help="The cluster's data dir (as given to `kubelite up`).")
@click.option("--purge", is_flag=True, help="Also delete the data dir: state, certificates, images, everything.")
@click.option("--node", default=None, metavar="NAME",
              help="Only power off this worker node (its kubelet stops, its containers go): a node failure.")
@click.option("--timeout", type=click.FloatRange(1, 600), default=60, show_default=True,
              help="Seconds to wait for the cluster to stop before sending SIGTERM.")
def down(data_dir: Path, purge: bool, node: str | None, timeout: float) -> None:
    """Stop the cluster that `kubelite up` runs from DATA_DIR (and with --purge, delete it)."""
    data_dir = data_dir.resolve()
    try:
        config = ClusterConfig.load(data_dir) if data_dir.is_dir() else None
    except ClusterConfigError as err:
        click.echo(f"warning: {err}", err=True)
        config = None
    pid = _read_pid(data_dir)
    running = pid is not None and nodenet.pid_alive(pid)
    sock = data_dir / "control.sock"
    if node is not None:
        if purge:
            raise click.UsageError("--node and --purge do not go together")
        if not running:
            raise click.ClickException(f"no cluster is running from {data_dir}")
        try:
            answer = _request(sock, f"stop-node {node}", timeout)
        except OSError as err:
            raise click.ClickException(f"cannot reach the cluster through {sock}: {err}") from None
        status, _, message = answer.partition(" ")
        if status != "ok":
            raise click.ClickException(message or "no answer")
        click.echo(message)
        return
    if running:
        assert pid is not None
        click.echo(f"stopping the cluster in {data_dir} (pid {pid})...")
        try:
            _request(sock, "stop", 10)
        except OSError:
            os.kill(pid, signal.SIGTERM)
        if not _wait_exit(pid, timeout):
            click.echo(f"still running after {timeout:g}s: sending SIGTERM", err=True)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            if not _wait_exit(pid, 30):
                raise click.ClickException(f"pid {pid} did not stop; see {data_dir / 'kubelite.log'}")
        click.echo("stopped")
    elif data_dir.is_dir():
        if os.geteuid() == 0:
            for line in _cleanup_leftovers(data_dir, config):
                click.echo(line)
        click.echo(f"no cluster is running from {data_dir}")
    else:
        click.echo(f"no cluster in {data_dir}")
    if purge and data_dir.is_dir():
        if not looks_like_cluster_dir(data_dir):
            raise click.ClickException(f"{data_dir} does not look like a kubelite data dir (no cluster.json): "
                                       "not deleting it")
        left = nodenet.unmount_under(data_dir) if os.geteuid() == 0 else nodenet.mounts_under(data_dir)
        if left:
            raise click.ClickException(f"not deleting {data_dir}: still mounted: {', '.join(left[:3])}")
        shutil.rmtree(data_dir)
        click.echo(f"removed {data_dir}")
