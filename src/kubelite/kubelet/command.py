"""`kubelite agent`: run one node (kubelet + its own containerd) until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import signal
import socket
from pathlib import Path
from typing import Any

import click
import yaml

from kubelite import aio
from kubelite.client.rest import ApiClient


def _kubeconfig_auth(path: str, data_dir: Path) -> tuple[str | None, str | None]:
    """(CA file, bearer token) from a kubeconfig, for authenticating the API server's proxy calls."""
    try:
        with open(path, "rb") as f:
            config: Any = yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError):
        return None, None
    ctx_name = config.get("current-context")
    ctx = next((c.get("context") or {} for c in config.get("contexts") or [] if c.get("name") == ctx_name), {})
    cluster = next((c.get("cluster") or {} for c in config.get("clusters") or []
                    if c.get("name") == ctx.get("cluster")), {})
    user = next((u.get("user") or {} for u in config.get("users") or [] if u.get("name") == ctx.get("user")), {})
    ca = cluster.get("certificate-authority")
    if ca and not Path(ca).is_absolute():
        ca = str(Path(path).resolve().parent / ca)
    if not ca and cluster.get("certificate-authority-data"):
        target = data_dir / "pki" / "cluster-ca.crt"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
        ca = str(target)
    return ca, user.get("token")


def _parse_labels(text: str) -> dict[str, str]:
    """`a=b,c=` -> {"a": "b", "c": ""}; a clear usage error for anything else."""
    from kubelite.api.validation import label_value_errors, qualified_name_errors

    labels: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--node-labels")
        problems = [f"key {key!r}: {m}" for m in qualified_name_errors(key)]
        problems += [f"value {value!r}: {m}" for m in label_value_errors(value)] if value else []
        if problems:
            raise click.BadParameter("; ".join(problems), param_hint="--node-labels")
        labels[key] = value
    return labels


@click.command()
@click.option("--kubeconfig", type=click.Path(exists=True, dir_okay=False), help="Kubeconfig of the API server.")
@click.option("--server", help="API server URL (with --token), instead of --kubeconfig.")
@click.option("--token", help="Bearer token for --server.")
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False), help="CA certificate of --server.")
@click.option("--node-name", default=None, help="Node name (default: the host name).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Where the node keeps containerd, pod volumes, logs and images/ (tars imported at start).")
@click.option("--runtime", "runtime_name", type=click.Choice(["containerd", "sim"]), default="containerd",
              show_default=True, help="Real containers (containerd + runc) or simulated ones.")
@click.option("--netns", default=None, help="Network namespace for containerd and every pod network.")
@click.option("--pod-manifest-path", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory of static pod manifests.")
@click.option("--kubelet-port", type=click.IntRange(0, 65535), default=10250, show_default=True)
@click.option("--kubelet-address", default="0.0.0.0", show_default=True,
              help="Address the kubelet server (logs, exec, port-forward) listens on.")
@click.option("--node-labels", default="", metavar="K=V,...", help="Labels to add to the Node at registration.")
@click.option("--no-networking", is_flag=True,
              help="Do not run kube-proxy, cluster DNS and routes for --netns (another kube-proxy does).")
@click.option("--node-ip", default=None, help="InternalIP to report (default: the first non-loopback IPv4).")
@click.option("--pod-cidr", default=None, help="podCIDR to use if the node IPAM controller assigns none.")
@click.option("--allow-privileged", is_flag=True, help="Allow privileged containers.")
@click.option("--cluster-dns", default="10.43.0.10", show_default=True, help="DNS server for ClusterFirst pods.")
@click.option("--node-status-update-frequency", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds between Lease renewals and node status checks.")
@click.option("-v", "--verbose", is_flag=True, help="Log at debug level.")
def agent(kubeconfig: str | None, server: str | None, token: str | None, ca_file: str | None, node_name: str | None,
          data_dir: Path, runtime_name: str, netns: str | None, pod_manifest_path: Path | None, kubelet_port: int,
          kubelet_address: str, node_labels: str, no_networking: bool, node_ip: str | None, pod_cidr: str | None, allow_privileged: bool, cluster_dns: str,
          node_status_update_frequency: float, verbose: bool) -> None:
    """Run a node: its own containerd, the kubelet, static pods, the kubelet server."""
    # every subprocess we start execs at once (iptables, nsenter, probes): gRPC's fork handlers are
    # not needed, and with the CRI client busy they print "skipping fork() handlers" on every fork
    os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
    from kubelite.kubelet.agent import Agent, AgentError

    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if bool(kubeconfig) == bool(server):
        raise click.UsageError("give exactly one of --kubeconfig or --server")
    if server and not token:
        raise click.UsageError("--server needs --token")
    name = node_name or socket.gethostname()
    labels = _parse_labels(node_labels)
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        if kubeconfig:
            client = ApiClient.from_kubeconfig(kubeconfig, user_agent=f"kubelet/{name}")
            kc_ca, kc_token = _kubeconfig_auth(kubeconfig, data_dir)
            ca_file, token = ca_file or kc_ca, token or kc_token
        else:
            assert server is not None
            client = ApiClient(server, token=token, ca_file=ca_file, user_agent=f"kubelet/{name}")
    except ValueError as err:
        raise click.UsageError(str(err)) from None

    async def main() -> None:
        runtime = None
        if runtime_name == "sim":
            from kubelite.runtime.sim import SimRuntime

            try:
                runtime = SimRuntime(pod_cidr or "10.42.0.0/24", node_name=name)
            except ValueError as err:
                raise AgentError(str(err)) from None
        node = Agent(client, name, data_dir, runtime=runtime, netns=netns, manifest_path=pod_manifest_path,
                     kubelet_port=kubelet_port, kubelet_address=kubelet_address, node_labels=labels,
                     networking=not no_networking, node_ip=node_ip, pod_cidr=pod_cidr,
                     allow_privileged=allow_privileged, cluster_dns=cluster_dns or None, ca_file=ca_file,
                     server_token=token, lease_renew_interval=node_status_update_frequency,
                     status_check_interval=node_status_update_frequency)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await node.start()
            logging.getLogger("kubelite.agent").info("node %s running (data dir %s)", name, data_dir)
            await stop.wait()
        finally:
            await node.stop()
            await client.close()

    try:
        aio.run(main())
    except AgentError as err:
        raise click.ClickException(str(err)) from None
