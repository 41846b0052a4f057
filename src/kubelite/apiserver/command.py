"""`kubelite server`: run the API server until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path

import click

from kubelite.apiserver.server import ServerConfig, run_server
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
@click.option("-v", "--verbose", is_flag=True, help="Log at debug level.")
def server(data_dir: Path, bind_address: str, port: int, datastore: str | None, token: str | None,
           advertise_host: str | None, bookmark_interval: float, watch_cache_size: int, verbose: bool) -> None:
    """Run the API server (HTTPS, bearer token and client-certificate authentication)."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if token is not None and not token.strip():
        raise click.BadParameter("must not be empty", param_hint="--token")
    config = ServerConfig(data_dir=data_dir.resolve(), bind_address=bind_address, port=port, datastore=datastore,
                          token=token, advertise_host=advertise_host, bookmark_interval=bookmark_interval,
                          watch_history=watch_cache_size)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_server(config, stop)

    try:
        asyncio.run(main())
    except (StoreUnavailableError, ValueError, OSError) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
