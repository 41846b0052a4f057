"""`kubelite agent`: run one node (kubelet + its own containerd) until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import base64
import logging
import signal
import socket
from pathlib import Path
from typing import Any

import click
import yaml

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
@click.option("--node-ip", default=None, help="InternalIP to report (default: the first non-loopback IPv4).")
@click.option("--pod-cidr", default=None, help="podCIDR to use if the node IPAM controller assigns none.")
@click.option("--allow-privileged", is_flag=True, help="Allow privileged containers.")
@click.option("--cluster-dns", default="10.43.0.10", show_default=True, help="DNS server for ClusterFirst pods.")
@click.option("--node-status-update-frequency", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds between Lease renewals and node status checks.")
@click.option("-v", "--verbose", is_flag=True, help="Log at debug level.")
def agent(kubeconfig: str | None, server: str | None, token: str | None, ca_file: str | None, node_name: str | None,
          data_dir: Path, runtime_name: str, netns: str | None, pod_manifest_path: Path | None, kubelet_port: int,
          node_ip: str | None, pod_cidr: str | None, allow_privileged: bool, cluster_dns: str,
          node_status_update_frequency: float, verbose: bool) -> None:
    """Run a node: its own containerd, the kubelet, static pods, the kubelet server."""
    from kubelite.kubelet.agent import Agent, AgentError

    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if bool(kubeconfig) == bool(server):
        raise click.UsageError("give exactly one of --kubeconfig or --server")
    if server and not token:
        raise click.UsageError("--server needs --token")
    name = node_name or socket.gethostname()
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
                     kubelet_port=kubelet_port, node_ip=node_ip, pod_cidr=pod_cidr,
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
        asyncio.run(main())
    except AgentError as err:
        raise click.ClickException(str(err)) from None
