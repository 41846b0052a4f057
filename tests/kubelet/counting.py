"""A sim runtime that counts its node-wide container listings: what a PLEG relist costs."""

from __future__ import annotations

from typing import Any

from kubelite.kubelet import spec as S
from kubelite.runtime.sim import SimRuntime


class CountingSim(SimRuntime):
    def __init__(self, cidr: str, **kw: Any) -> None:
        super().__init__(cidr, **kw)
        self.full_listings = 0

    async def list_containers(self, sandbox_id: str | None = None,
                              labels: dict[str, str] | None = None) -> list[Any]:
        if sandbox_id is None and S.LABEL_POD_UID not in (labels or {}):
            self.full_listings += 1
        return await super().list_containers(sandbox_id, labels)
