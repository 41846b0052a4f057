"""A LeaderElector in its own process, so that a test can kill it like a crashed server.

Usage: python elector_child.py KUBECONFIG LEASE IDENTITY LEASE_DURATION RENEW_DEADLINE RETRY_PERIOD
Prints "LEADING" once it holds the lease, then leads until killed.
"""

from __future__ import annotations

import asyncio
import sys

from kubelite.client.leaderelection import LeaderElector
from kubelite.client.rest import ApiClient


async def main(argv: list[str]) -> None:
    kubeconfig, lease, identity, duration, deadline, retry = argv
    async with ApiClient.from_kubeconfig(kubeconfig) as client:
        elector = LeaderElector(client, lease_name=lease, identity=identity, lease_duration=float(duration),
                                renew_deadline=float(deadline), retry_period=float(retry),
                                release_on_cancel=False)

        async def lead() -> None:
            print("LEADING", flush=True)
            await asyncio.Event().wait()

        await elector.run(lead)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
