"""NodeAffinity: spec.nodeSelector and required node affinity filter nodes; preferred node
affinity terms add their weights to a node's score.

Node selector terms are ORed; inside a term, matchExpressions (on labels) and matchFields (only
metadata.name) are ANDed; a term with neither matches no node, as in Kubernetes. Gt/Lt compare
integers; a label that is not an integer does not match.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kubelite.scheduler.framework import (
    MAX_NODE_SCORE,
    SKIP,
    CycleState,
    Status,
    default_normalize_score,
    unresolvable,
)
from kubelite.scheduler.nodeinfo import NodeInfo, PodInfo

NAME = "NodeAffinity"
ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"

_REJECT = unresolvable(ERR_REASON_POD)


def _as_int(s: str | None) -> int | None:
    try:
        return int(s) if s is not None else None
    except ValueError:
        return None


def requirement_matches(req: Mapping[str, Any], value: str | None) -> bool:
    """One NodeSelectorRequirement against the value of its key (None: key absent)."""
    op = req.get("operator")
    values: list[str] = list(req.get("values") or ())
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt"):
        have = _as_int(value)
        want = _as_int(values[0]) if len(values) == 1 else None
        if have is None or want is None:
            return False
        return have > want if op == "Gt" else have < want
    return False  # unknown operator: matches nothing (validation should have refused it)


def term_matches(term: Mapping[str, Any], labels: Mapping[str, str], node_name: str) -> bool:
    exprs = term.get("matchExpressions") or ()
    fields = term.get("matchFields") or ()
    if not exprs and not fields:
        return False
    for req in exprs:
        if not requirement_matches(req, labels.get(req.get("key", ""))):
            return False
    for req in fields:
        value = node_name if req.get("key") == "metadata.name" else None
        if value is None or not requirement_matches(req, value):
            return False
    return True


def pod_matches_node(pod: PodInfo, node: NodeInfo) -> bool:
    """nodeSelector and required node affinity (the two must both hold)."""
    labels = node.labels
    for k, v in pod.node_selector.items():
        if labels.get(k) != v:
            return False
    if pod.required_terms is not None:
        return any(term_matches(t, labels, node.name) for t in pod.required_terms)
    return True


class NodeAffinity:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        return None if pod.has_affinity else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        return None if pod_matches_node(pod, node) else _REJECT

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        return None if pod.preferred_terms else SKIP

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return self.score_key(pod, node)

    def score_key(self, pod: PodInfo, node: NodeInfo) -> int:
        """The score itself: preferred terms against the node's labels."""
        total = 0
        for pref in pod.preferred_terms:
            weight = int(pref.get("weight") or 0)
            if weight and term_matches(pref.get("preference") or {}, node.labels, node.name):
                total += weight
        return total

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        default_normalize_score(MAX_NODE_SCORE, False, scores)
