"""PodTopologySpread, scoring with the system default constraints: spread the pods of one
controller (ReplicaSet, Job, ...) across hostnames (maxSkew 3) and zones (maxSkew 5).

kube-scheduler derives the "same group" selector from the Services, ReplicaSets and StatefulSets
that select the pod; kubelite uses the pod's controller owner reference, which picks out the same
pods for the common case of a Deployment or Job. Pods without a controller are not spread.
Counts come from running totals (NodeInfo.owners, and per-zone totals kept by the cache), so the
cost per node is a dict lookup. Explicit spec.topologySpreadConstraints are not implemented.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from kubelite.scheduler.framework import MAX_NODE_SCORE, SKIP, CycleState, Status
from kubelite.scheduler.nodeinfo import NodeInfo, PodInfo

NAME = "PodTopologySpread"
HOSTNAME_MAX_SKEW = 3
ZONE_MAX_SKEW = 5

ZoneCounts = Callable[[str], Mapping[str, int]]


class _Prepared:
    __slots__ = ("host_weight", "zone_weight", "zone_counts")

    def __init__(self, host_weight: float, zone_weight: float, zone_counts: Mapping[str, int]) -> None:
        self.host_weight = host_weight
        self.zone_weight = zone_weight
        self.zone_counts = zone_counts


class PodTopologySpread:
    name = NAME

    def __init__(self, zone_counts: ZoneCounts | None = None) -> None:
        """`zone_counts(owner)` gives {zone: matching pods} over all nodes (from the cache)."""
        self._zone_counts = zone_counts

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        if not pod.owner:
            return SKIP
        zones = {n.zone for n in nodes if n.zone is not None}
        zone_weight = math.log(len(zones) + 2) if zones else 0.0
        counts = self._zone_counts(pod.owner) if (zones and self._zone_counts) else {}
        state.write(NAME, _Prepared(math.log(len(nodes) + 2), zone_weight, counts))
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        prep: _Prepared = state.read(NAME)
        score = node.owners.get(pod.owner, 0) * prep.host_weight + (HOSTNAME_MAX_SKEW - 1)
        if prep.zone_weight and node.zone is not None:
            score += prep.zone_counts.get(node.zone, 0) * prep.zone_weight + (ZONE_MAX_SKEW - 1)
        return int(score + 0.5)  # Go's math.Round (half away from zero), score >= 0

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        prep: _Prepared = state.read(NAME)
        owner, hw, base = pod.owner, prep.host_weight, HOSTNAME_MAX_SKEW - 1 + 0.5
        if not prep.zone_weight:
            return [int(n.owners.get(owner, 0) * hw + base) for n in nodes]
        return [self.score(state, pod, n) for n in nodes]

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        """Fewer matching pods is better: min raw score -> 100, scaled by the max."""
        if not scores:
            return
        lo, hi = min(scores), max(scores)
        for i, s in enumerate(scores):
            scores[i] = MAX_NODE_SCORE if hi == 0 else MAX_NODE_SCORE * (hi + lo - s) // hi
