"""The equivalence cache: per pod signature, each node's Filter verdict and score keys, kept
until the node's generation changes.

Why: at 5000 nodes a pod looks at 500 of them, and between two like pods (a ReplicaSet's) only
the node that took the previous pod has changed. So for pods with equal `PodInfo.signature` (and
the same filters skipped by PreFilter), the verdict of a node (None = fits, else the first
rejecting filter's Status) and its tuple of score keys (`ScoreKeyPlugin.score_key` per scorer)
are computed once per node generation and then read back. Per pod, the algorithm slices these
per-node lists over its window of nodes, compares the window's generations with the cached ones
(C-level list operations) and recomputes only the nodes that changed.

Nodes with equal score-key tuples score the same, so the cycle-dependent part (score_of_key,
NormalizeScore, weights) runs once per distinct tuple (`key_tuples`), not once per node.
Invalidation is by generation only, never by time; a change to the node list (a node added or
removed) starts the signature's state afresh.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kubelite.scheduler.framework import Code, CycleState, FilterPlugin, ScoreKeyPlugin, Status
from kubelite.scheduler.nodeinfo import NodeInfo, PodInfo

#: how many signatures are kept at once (each holds three lists as long as the node list)
MAX_SIGNATURES = 64

#: distinct score-key tuples a signature may collect beyond one per node before it starts afresh
MAX_KEY_TUPLES = 10000
#: signatures seen once, remembered so that the second pod of a kind starts caching
MAX_SEEN_ONCE = 4096
#: changed nodes in one slice from which they are refreshed with the plugins' batch forms
MANY_CHANGES = 16


def _differences(new: list[int], old: list[int]) -> list[int]:
    """Indexes where two equally long lists differ. Each one is found by halving with slice
    comparisons (C speed): when, as usual, one or two nodes changed, that is a few steps
    instead of a Python step per node."""
    out: list[int] = []
    n = len(new)
    start = 0
    while start < n and new[start:] != old[start:]:
        if len(out) >= MANY_CHANGES:  # a storm of changes: a plain scan of the rest is cheaper
            out.extend([i for i in range(start, n) if new[i] != old[i]])
            break
        lo, hi = start, n  # the first difference at or after start lies in lo..hi-1
        while hi - lo > 32:
            mid = (lo + hi) // 2
            if new[lo:mid] == old[lo:mid]:
                lo = mid
            else:
                hi = mid
        first = next(i for i in range(lo, hi) if new[i] != old[i])
        out.append(first)
        start = first + 1
    return out


class FilterError(Exception):
    """A filter answered Code.ERROR for a node (never cached)."""

    def __init__(self, plugin: str, status: Status) -> None:
        super().__init__(f"{plugin}: {status.message()}")


class SignatureState:
    """What is known about every node for one pod signature, by node index."""

    __slots__ = ("nodes", "generations", "verdicts", "keys", "key_tuples", "key_ids")

    def __init__(self, nodes: list[NodeInfo]) -> None:
        n = len(nodes)
        #: the cache's node list these indexes refer to (a new list means a new state)
        self.nodes = nodes
        #: the node generation each entry was computed at; -1 = never
        self.generations: list[int] = [-1] * n
        #: None if the pod fits, else the first rejecting filter's status
        self.verdicts: list[Status | None] = [None] * n
        #: id of the node's score-key tuple (meaningful only where the verdict is None)
        self.keys: list[int] = [0] * n
        self.key_tuples: list[tuple[int, ...]] = []
        self.key_ids: dict[tuple[int, ...], int] = {}


class EquivalenceCache:
    """Signature -> SignatureState, for one profile's filters and scorers."""

    def __init__(self, filters: Sequence[FilterPlugin], scorers: Sequence[ScoreKeyPlugin]) -> None:
        self._filters = [(p, getattr(p, "filter_nodes", None)) for p in filters]
        self._scorers = list(scorers)
        self._states: dict[tuple[Any, ...], SignatureState] = {}
        self._seen_once: dict[tuple[Any, ...], None] = {}

    def state(self, pod: PodInfo, skip_filter: set[str], nodes: list[NodeInfo]) -> SignatureState | None:
        """The signature's state; None the first time a signature is seen, so that one-off pods
        (a DaemonSet's, pinned to their node by affinity) are not worth filling a cache for."""
        key = (pod.signature, frozenset(skip_filter)) if skip_filter else (pod.signature,)
        st = self._states.get(key)
        if st is None or st.nodes is not nodes or len(st.key_tuples) > len(nodes) + MAX_KEY_TUPLES:
            if st is None:
                if key not in self._seen_once:
                    if len(self._seen_once) >= MAX_SEEN_ONCE:
                        self._seen_once.clear()
                    self._seen_once[key] = None
                    return None
                del self._seen_once[key]
                if len(self._states) >= MAX_SIGNATURES:
                    del self._states[next(iter(self._states))]  # the oldest signature
            st = self._states[key] = SignatureState(nodes)
        return st

    def visit(
        self,
        st: SignatureState,
        pod: PodInfo,
        skip_filter: set[str],
        a: int,
        b: int,
        feasible: list[NodeInfo],
        feasible_keys: list[int],
        statuses: dict[str, Status],
    ) -> None:
        """Nodes a..b-1 of the list: refresh the changed ones, then append the feasible ones
        (and their key ids) in order and record the others' statuses."""
        chunk = st.nodes[a:b]
        gens = [n.generation for n in chunk]
        cached = st.generations[a:b]
        if gens != cached:
            changed = _differences(gens, cached)
            if len(changed) >= MANY_CHANGES:
                self._refresh_many(st, pod, skip_filter, [a + i for i in changed])
            else:
                for i in changed:
                    self._refresh(st, pod, skip_filter, a + i)
        verdicts = st.verdicts[a:b]
        if verdicts.count(None) == len(verdicts):
            feasible += chunk
            feasible_keys += st.keys[a:b]
            return
        keys = st.keys
        for i, (node, verdict) in enumerate(zip(chunk, verdicts, strict=True), a):
            if verdict is None:
                feasible.append(node)
                feasible_keys.append(keys[i])
            else:
                statuses[node.name] = verdict

    def _refresh(self, st: SignatureState, pod: PodInfo, skip_filter: set[str], i: int) -> None:
        node = st.nodes[i]
        state = CycleState()  # filters and score keys must not depend on per-cycle data
        verdict: Status | None = None
        for plugin, _ in self._filters:
            if plugin.name in skip_filter:
                continue
            s = plugin.filter(state, pod, node)
            if s is not None:
                if s.code == Code.ERROR:
                    raise FilterError(plugin.name, s)
                verdict = s
                break
        st.verdicts[i] = verdict
        if verdict is None:
            st.keys[i] = _key_id(st, tuple(p.score_key(pod, node) for p in self._scorers))
        st.generations[i] = node.generation

    def _refresh_many(self, st: SignatureState, pod: PodInfo, skip_filter: set[str], indexes: list[int]) -> None:
        """_refresh for many nodes at once: plugin by plugin, with the batch forms (the same
        verdicts: each node keeps the status of the first filter that rejects it)."""
        nodes = [st.nodes[i] for i in indexes]
        state = CycleState()
        statuses: dict[str, Status] = {}
        fits = nodes
        for plugin, batch in self._filters:
            if not fits:
                break
            if plugin.name in skip_filter:
                continue
            if batch is not None:
                fits = batch(state, pod, fits, statuses)
                continue
            keep = []
            for node in fits:
                s = plugin.filter(state, pod, node)
                if s is None:
                    keep.append(node)
                elif s.code == Code.ERROR:
                    raise FilterError(plugin.name, s)
                else:
                    statuses[node.name] = s
            fits = keep
        columns = [[p.score_key(pod, node) for node in fits] for p in self._scorers]
        tuples = list(zip(*columns, strict=True)) if columns else [()] * len(fits)
        key_of = {id(node): _key_id(st, t) for node, t in zip(fits, tuples, strict=True)}
        for i, node in zip(indexes, nodes, strict=True):
            kid = key_of.get(id(node))
            st.verdicts[i] = None if kid is not None else statuses[node.name]
            if kid is not None:
                st.keys[i] = kid
            st.generations[i] = node.generation


def _key_id(st: SignatureState, keys: tuple[int, ...]) -> int:
    kid = st.key_ids.get(keys)
    if kid is None:
        kid = st.key_ids[keys] = len(st.key_tuples)
        st.key_tuples.append(keys)
    return kid
