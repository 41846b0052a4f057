"""A sim runtime that counts its container listings: what a PLEG relist costs.

`full_listings`: node-wide listings (O(pods on the node)); `relist_listings`: every listing a relist
makes (the kubelet's relist asks for managed containers; a pod sync asks by pod uid alone), node-wide
or of the pods the runtime's change journal named."""

from __future__ import annotations

from typing import Any

from kubelite.kubelet import spec as S
from kubelite.runtime.sim import SimRuntime


class CountingSim(SimRuntime):
    def __init__(self, cidr: str, **kw: Any) -> None:
        super().__init__(cidr, **kw)
        self.full_listings = 0
        self.relist_listings = 0

    async def list_containers(self, sandbox_id: str | None = None,
                              labels: dict[str, str] | None = None) -> list[Any]:
        if sandbox_id is None and S.LABEL_POD_UID not in (labels or {}):
            self.full_listings += 1
        if S.LABEL_MANAGED in (labels or {}):
            self.relist_listings += 1
        return await super().list_containers(sandbox_id, labels)
