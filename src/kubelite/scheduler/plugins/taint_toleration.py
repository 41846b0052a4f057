"""TaintToleration: NoSchedule/NoExecute taints a pod does not tolerate rule the node out;
untolerated PreferNoSchedule taints lower its score (fewer is better).

A node whose Ready condition is not True carries the not-ready/unreachable taint that
Kubernetes' node lifecycle controller would add (see NodeInfo), so it is filtered here too.
"""

from __future__ import annotations

from collections.abc import Sequence

from kubelite.scheduler.framework import (
    MAX_NODE_SCORE,
    CycleState,
    Status,
    default_normalize_score,
    unresolvable,
)
from kubelite.scheduler.nodeinfo import NodeInfo, PodInfo, Taint, tolerates

NAME = "TaintToleration"
ERR_REASON_UNTOLERATED = "node(s) had untolerated taint {{{key}: {value}}}"


def untolerated_reason(taint: Taint) -> str:
    return ERR_REASON_UNTOLERATED.format(key=taint[0], value=taint[1])


class TaintToleration:
    name = NAME

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        for taint in node.taints:
            if not tolerates(pod.tolerations, taint):
                return unresolvable(untolerated_reason(taint))
        return None

    def filter_nodes(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], statuses: dict[str, Status]
    ) -> list[NodeInfo]:
        keep = []
        for n in nodes:
            if not n.taints:
                keep.append(n)
                continue
            st = self.filter(state, pod, n)
            if st is None:
                keep.append(n)
            else:
                statuses[n.name] = st
        return keep

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        # Only tolerations that could match a PreferNoSchedule taint matter for scoring.
        state.write(NAME, tuple(t for t in pod.tolerations if t[3] in ("", "PreferNoSchedule")))
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        if not node.prefer_taints:
            return 0
        tolerations = state.read(NAME)
        return sum(1 for taint in node.prefer_taints if not tolerates(tolerations, taint))

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        return [self.score(state, pod, n) if n.prefer_taints else 0 for n in nodes]

    def score_key(self, pod: PodInfo, node: NodeInfo) -> int:
        """The score itself (a toleration for another effect never matches PreferNoSchedule,
        so the pod's whole list gives what score() gives with PreScore's filtered one)."""
        if not node.prefer_taints:
            return 0
        return sum(1 for taint in node.prefer_taints if not tolerates(pod.tolerations, taint))

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        default_normalize_score(MAX_NODE_SCORE, True, scores)
