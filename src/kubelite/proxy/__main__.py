"""`python -m kubelite.proxy`: kube-proxy, cluster DNS and host-gw routes for one node, on their
own (the agent runs the same `NodeNetworking` in-process)."""

from __future__ import annotations

import asyncio
import logging
import signal

import click

from kubelite import aio
from kubelite.client.rest import ApiClient


@click.command()
@click.option("--kubeconfig", type=click.Path(exists=True, dir_okay=False), required=True)
@click.option("--node-name", required=True)
@click.option("--netns", default=None, help="The node's network namespace (default: this one).")
@click.option("--network-ip", default=None, help="The node's pod-network address (default: found in the netns).")
@click.option("--no-dns", is_flag=True, help="Do not run the cluster DNS server.")
@click.option("--cleanup", is_flag=True, help="Remove every rule the proxy made, then exit.")
@click.option("-v", "--verbose", is_flag=True)
def main(kubeconfig: str, node_name: str, netns: str | None, network_ip: str | None, no_dns: bool,
         cleanup: bool, verbose: bool) -> None:
    """Run kube-proxy (iptables), the cluster DNS server and the node routes until SIGTERM."""
    from kubelite.network.netns import NetnsError
    from kubelite.proxy.node import NodeNetworking

    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    client = ApiClient.from_kubeconfig(kubeconfig, user_agent=f"kube-proxy/{node_name}")

    async def run() -> None:
        net = NodeNetworking(client, node_name=node_name, netns=netns, network_ip=network_ip, dns=not no_dns)
        try:
            if cleanup:
                from kubelite.proxy.proxier import Proxier
                await Proxier(net.factory, node_name=node_name, netns=netns).cleanup()
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            await net.start()
            await stop.wait()
            await net.stop()
        finally:
            await client.close()

    try:
        aio.run(run())
    except NetnsError as err:
        raise click.ClickException(str(err)) from None


if __name__ == "__main__":
    main()
