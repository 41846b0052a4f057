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
    """The cycle's weights. The zone part is worked out on first use: with no zone labels on
    the nodes looked at (the common case) it is never needed."""

    __slots__ = ("host_weight", "_nodes", "_owner", "_counts_of", "_zone_weight", "_zone_counts")

    def __init__(self, nodes: Sequence[NodeInfo], owner: str, zone_counts: ZoneCounts | None) -> None:
        self.host_weight = math.log(len(nodes) + 2)
        self._nodes = nodes
        self._owner = owner
        self._counts_of = zone_counts
        self._zone_weight: float | None = None
        self._zone_counts: Mapping[str, int] = {}

    @property
    def zone_weight(self) -> float:
        if self._zone_weight is None:
            zones = {n.zone for n in self._nodes}
            zones.discard(None)
            self._zone_weight = math.log(len(zones) + 2) if zones else 0.0
            if zones and self._counts_of is not None:
                self._zone_counts = self._counts_of(self._owner)
        return self._zone_weight

    @property
    def zone_counts(self) -> Mapping[str, int]:
        _ = self.zone_weight
        return self._zone_counts


class PodTopologySpread:
    name = NAME

    def __init__(self, zone_counts: ZoneCounts | None = None, has_zones: Callable[[], bool] | None = None) -> None:
        """`zone_counts(owner)` gives {zone: matching pods} over all nodes, `has_zones()` whether
        any node has a zone label (both from the cache; the latter spares a scan per pod)."""
        self._zone_counts = zone_counts
        self._has_zones = has_zones

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        if not pod.owner:
            return SKIP
        state.write(NAME, _Prepared(nodes, pod.owner, self._zone_counts))
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        prep: _Prepared = state.read(NAME)
        score = node.owners.get(pod.owner, 0) * prep.host_weight + (HOSTNAME_MAX_SKEW - 1)
        if node.zone is not None and prep.zone_weight:
            score += prep.zone_counts.get(node.zone, 0) * prep.zone_weight + (ZONE_MAX_SKEW - 1)
        return int(score + 0.5)  # Go's math.Round (half away from zero), score >= 0

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        """score() over many nodes; without zones, each distinct count is converted once."""
        prep: _Prepared = state.read(NAME)
        if (self._has_zones is None or self._has_zones()) and prep.zone_weight:
            return [self.score(state, pod, n) for n in nodes]
        owner, hw, base = pod.owner, prep.host_weight, HOSTNAME_MAX_SKEW - 1 + 0.5
        counts = [n.owners.get(owner, 0) for n in nodes]
        score_of = {c: int(c * hw + base) for c in set(counts)}
        return list(map(score_of.__getitem__, counts))

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        """Fewer matching pods is better: min raw score -> 100, scaled by the max."""
        if not scores:
            return
        lo, hi = min(scores), max(scores)
        for i, s in enumerate(scores):
            scores[i] = MAX_NODE_SCORE if hi == 0 else MAX_NODE_SCORE * (hi + lo - s) // hi
