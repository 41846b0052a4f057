"""One scheduling decision: PreFilter, Filter (until enough feasible nodes), PreScore, Score,
NormalizeScore, pick the best.

Like kube-scheduler, it stops filtering once it has found `num_feasible_nodes_to_find` feasible
nodes (adaptive: 50% of the nodes minus 1% per 125 nodes, at least 5%, at least 100 nodes), and
the next pod starts its search where the previous one stopped (round robin), so at 5000 nodes a
pod looks at about 500 of them and all nodes get their turn. When no node fits, every node has
been looked at and the reasons are counted into kube-scheduler's FailedScheduling message.

Two paths give the same decisions (tests/scheduler/test_equivalence.py compares them): the
reference one runs the plugins over the window, and the default one reads verdicts and score keys
from the equivalence cache (equivalence.py), recomputing only nodes whose generation moved, and
scores each distinct score-key tuple once.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubelite.scheduler.cache import Cache
from kubelite.scheduler.equivalence import EquivalenceCache, FilterError
from kubelite.scheduler.framework import (
    SKIP,
    Code,
    CycleState,
    FilterPlugin,
    NormalizeScorePlugin,
    PreFilterPlugin,
    PreScorePlugin,
    ScoreKeyPlugin,
    ScorePlugin,
    Status,
)
from kubelite.scheduler.nodeinfo import NodeInfo, PodInfo
from kubelite.scheduler.plugins import (
    BalancedAllocation,
    NodeAffinity,
    NodeName,
    NodePorts,
    NodeResourcesFit,
    NodeUnschedulable,
    PodTopologySpread,
    TaintToleration,
)

PreScoreFn = Callable[[CycleState, PodInfo, Sequence[NodeInfo]], "Status | None"]
ScoreNodesFn = Callable[[CycleState, PodInfo, Sequence[NodeInfo]], list[int]]
NormalizeFn = Callable[[CycleState, PodInfo, list[int]], None]

MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5
BASE_PERCENTAGE_OF_NODES_TO_SCORE = 50
NO_NODES_AVAILABLE = "no nodes available to schedule pods"


def num_feasible_nodes_to_find(num_all_nodes: int, percentage: int = 0) -> int:
    """kube-scheduler's numFeasibleNodesToFind (percentage 0 = adaptive)."""
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    if percentage <= 0:
        percentage = BASE_PERCENTAGE_OF_NODES_TO_SCORE - num_all_nodes // 125
        if percentage < MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND:
            percentage = MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND
    if percentage >= 100:
        return num_all_nodes
    num = num_all_nodes * percentage // 100
    return max(num, MIN_FEASIBLE_NODES_TO_FIND)


class SchedulingError(Exception):
    """A plugin failed (Code.ERROR): retry with backoff."""


class FitError(Exception):
    """No node fits; `message` is the FailedScheduling event text."""

    def __init__(self, num_all_nodes: int, statuses: dict[str, Status], pre_filter_msg: str = "") -> None:
        self.num_all_nodes = num_all_nodes
        self.statuses = statuses
        self.pre_filter_msg = pre_filter_msg
        super().__init__(self.message)

    @property
    def unresolvable_everywhere(self) -> bool:
        return bool(self.statuses) and all(
            s.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE for s in self.statuses.values()
        )

    @property
    def message(self) -> str:
        if self.num_all_nodes == 0:
            return NO_NODES_AVAILABLE
        msg = f"0/{self.num_all_nodes} nodes are available:"
        if self.pre_filter_msg:
            return f"{msg} {self.pre_filter_msg}."
        histogram: dict[str, int] = {}
        for status in self.statuses.values():
            for reason in status.reasons:
                histogram[reason] = histogram.get(reason, 0) + 1
        parts = sorted(f"{n} {reason}" for reason, n in histogram.items())
        if parts:
            msg += " " + ", ".join(parts) + "."
        # kube-scheduler's preemption (PostFilter) verdict; kubelite does not preempt.
        msg += f" preemption: 0/{self.num_all_nodes} nodes are available: "
        msg += f"{self.num_all_nodes} Preemption is not helpful for scheduling."
        return msg


@dataclass
class ScheduleResult:
    node: str
    evaluated: int
    feasible: int


@dataclass
class Profile:
    """Plugins by extension point, in call order; score weights by plugin name."""

    filters: list[FilterPlugin] = field(default_factory=list)
    scores: list[tuple[ScorePlugin, int]] = field(default_factory=list)
    percentage_of_nodes_to_score: int = 0


def default_profile(cache: Cache) -> Profile:
    """kube-scheduler's default plugins in its order, with its default score weights."""
    fit = NodeResourcesFit()
    taints = TaintToleration()
    affinity = NodeAffinity()
    return Profile(
        filters=[NodeUnschedulable(), NodeName(), taints, affinity, NodePorts(), fit],
        scores=[
            (taints, 3),
            (affinity, 2),
            (fit, 1),
            (PodTopologySpread(cache.zone_counts, cache.has_zones), 2),
            (BalancedAllocation(), 1),
        ],
    )


class Algorithm:
    def __init__(
        self,
        cache: Cache,
        profile: Profile | None = None,
        rng: random.Random | None = None,
        *,
        equivalence_cache: bool = True,
    ) -> None:
        """`equivalence_cache=False` runs the plugins over every window (the reference path)."""
        self.cache = cache
        self.profile = profile or default_profile(cache)
        self.rng = rng or random.Random()
        self.next_start_node_index = 0
        # Extension points resolved once (isinstance on a Protocol is slow).
        self._pre_filters = [p for p in self.profile.filters if isinstance(p, PreFilterPlugin)]
        self._scorers: list[tuple[ScorePlugin, int, PreScoreFn | None, ScoreNodesFn | None, NormalizeFn | None]] = [
            (
                p,
                w,
                p.pre_score if isinstance(p, PreScorePlugin) else None,
                getattr(p, "score_nodes", None),
                p.normalize_score if isinstance(p, NormalizeScorePlugin) else None,
            )
            for p, w in self.profile.scores
        ]
        keyed = [p for p, _ in self.profile.scores if isinstance(p, ScoreKeyPlugin)]
        #: per scorer, in score order: where its key sits in the cached key tuples; -1 for a
        #: scorer without score_key, scored over the window each cycle
        self._key_pos = [keyed.index(p) if p in keyed else -1 for p, _ in self.profile.scores]
        self._equivalence = EquivalenceCache(self.profile.filters, keyed) if equivalence_cache else None

    def schedule(self, pod: PodInfo) -> ScheduleResult:
        """Pick a node for the pod. Raises FitError (no node fits) or SchedulingError."""
        nodes = self.cache.node_list()
        if not nodes:
            raise FitError(0, {})
        state = CycleState()
        self._pre_filter(state, pod, nodes)
        if self._equivalence is not None:
            return self._schedule_cached(self._equivalence, state, pod, nodes)
        return self._schedule_plain(state, pod, nodes)

    def _schedule_plain(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> ScheduleResult:
        """The reference path: every plugin over the window."""
        feasible, statuses = self._find_feasible(state, pod, nodes)
        if not feasible:
            raise FitError(len(nodes), statuses)
        evaluated = len(feasible) + len(statuses)
        if len(feasible) == 1:
            return ScheduleResult(feasible[0].name, evaluated, 1)
        totals = self._prioritize(state, pod, feasible)
        return ScheduleResult(self._select_host(feasible, totals), evaluated, len(feasible))

    # the cached path ---------------------------------------------------------------------
    def _schedule_cached(
        self, eq: EquivalenceCache, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]
    ) -> ScheduleResult:
        """schedule() through the equivalence cache: the same window, verdicts and scores."""
        st = eq.state(pod, state.skip_filter, nodes)
        if st is None:  # a signature seen for the first time: the plain path
            return self._schedule_plain(state, pod, nodes)
        n = len(nodes)
        to_find = num_feasible_nodes_to_find(n, self.profile.percentage_of_nodes_to_score)
        feasible: list[NodeInfo] = []
        keys: list[int] = []
        statuses: dict[str, Status] = {}
        start = self.next_start_node_index % n
        processed = 0
        try:
            while len(feasible) < to_find and processed < n:
                k = min(to_find - len(feasible), n - processed)
                a = (start + processed) % n
                b = a + k
                if b <= n:
                    eq.visit(st, pod, state.skip_filter, a, b, feasible, keys, statuses)
                else:
                    eq.visit(st, pod, state.skip_filter, a, n, feasible, keys, statuses)
                    eq.visit(st, pod, state.skip_filter, 0, b - n, feasible, keys, statuses)
                processed += k
        except FilterError as e:
            raise SchedulingError(str(e)) from None
        self.next_start_node_index = (start + processed) % n
        if not feasible:
            raise FitError(n, statuses)
        evaluated = len(feasible) + len(statuses)
        if len(feasible) == 1:
            return ScheduleResult(feasible[0].name, evaluated, 1)
        inputs, totals = self._prioritize_inputs(state, pod, feasible, keys, st.key_tuples)
        best = max(totals.values())
        best_inputs = [i for i, t in totals.items() if t == best]
        # the tied nodes in window order, as _select_host sees them (same random choice)
        if len(best_inputs) == 1:
            b = best_inputs[0]
            count = inputs.count(b)
            if count == 1:
                return ScheduleResult(feasible[inputs.index(b)].name, evaluated, len(feasible))
            chosen = _nth_index(inputs, b, self.rng.choice(range(count)))
        else:
            best_set = set(best_inputs)
            ties = [i for i, k in enumerate(inputs) if k in best_set]
            chosen = ties[0] if len(ties) == 1 else self.rng.choice(ties)
        return ScheduleResult(feasible[chosen].name, evaluated, len(feasible))

    def _prioritize_inputs(
        self, state: CycleState, pod: PodInfo, feasible: list[NodeInfo], keys: list[int],
        key_tuples: list[tuple[int, ...]],
    ) -> tuple[list[Any], dict[Any, int]]:
        """_prioritize by score inputs instead of nodes. A node's inputs are its cached score-key
        tuple (by id) plus, for scorers without score_key, its raw score computed now over the
        window; nodes with equal inputs score alike, so each distinct input is scored once
        (normalisation depends on the set of scores, not on how many nodes share one).
        Returns the inputs per feasible node and the total per distinct input."""
        active = [j for j, (plugin, _, pre_score, _, _) in enumerate(self._scorers)
                  if _scores(plugin, pre_score, state, pod, feasible)]
        live = [j for j in active if self._key_pos[j] < 0]
        inputs: list[Any]
        if live:
            columns = []
            for j in live:
                plugin, _, _, score_nodes, _ = self._scorers[j]
                if score_nodes is not None:
                    columns.append(score_nodes(state, pod, feasible))
                else:
                    columns.append([plugin.score(state, pod, node) for node in feasible])
            inputs = list(zip(keys, *columns, strict=True))
            distinct = list(set(inputs))
            tuples = [key_tuples[d[0]] for d in distinct]
        else:
            inputs = keys
            distinct = list(set(keys))
            tuples = [key_tuples[d] for d in distinct]
        totals = [0] * len(distinct)
        for j in active:
            _, weight, _, _, normalize = self._scorers[j]
            pos = self._key_pos[j]
            if pos >= 0:
                scores: list[int] = [t[pos] for t in tuples]
            else:
                column = 1 + live.index(j)
                scores = [d[column] for d in distinct]
            if normalize is not None:
                normalize(state, pod, scores)
            totals = [t + s * weight for t, s in zip(totals, scores, strict=True)]
        return inputs, dict(zip(distinct, totals, strict=True))

    # filtering ---------------------------------------------------------------------------
    def _pre_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> None:
        """PreFilter: note the plugins to skip; a rejection here rejects every node."""
        n = len(nodes)
        for plugin in self._pre_filters:
            st = plugin.pre_filter(state, pod, nodes)
            if st is SKIP or (st is not None and st.code == Code.SKIP):
                state.skip_filter.add(plugin.name)
            elif st is not None:
                if st.code == Code.ERROR:
                    raise SchedulingError(f"{plugin.name}: {st.message()}")
                st.plugin = plugin.name
                raise FitError(n, {node.name: st for node in nodes}, st.message())

    def _find_feasible(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> tuple[list[NodeInfo], dict[str, Status]]:
        n = len(nodes)
        filters = [(p, getattr(p, "filter_nodes", None)) for p in self.profile.filters
                   if p.name not in state.skip_filter]
        to_find = num_feasible_nodes_to_find(n, self.profile.percentage_of_nodes_to_score)
        feasible: list[NodeInfo] = []
        statuses: dict[str, Status] = {}
        start = self.next_start_node_index % n
        # Filter in chunks of exactly the number still needed, plugin by plugin over the chunk:
        # the same verdicts, and the same stopping point, as node by node, without a Python call
        # per (plugin, node) for plugins that have a batch form.
        processed = 0
        while len(feasible) < to_find and processed < n:
            k = min(to_find - len(feasible), n - processed)
            a = (start + processed) % n
            b = a + k
            chunk = list(nodes[a:b]) if b <= n else [*nodes[a:], *nodes[: b - n]]
            processed += k
            for fplugin, batch in filters:
                if not chunk:
                    break
                if batch is not None:
                    chunk = batch(state, pod, chunk, statuses)
                else:
                    chunk = _filter_each(fplugin, state, pod, chunk, statuses)
            feasible.extend(chunk)
        self.next_start_node_index = (start + processed) % n
        return feasible, statuses

    # scoring -----------------------------------------------------------------------------
    def _prioritize(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        totals = [0] * len(nodes)
        for plugin, weight, pre_score, score_nodes, normalize in self._scorers:
            if not _scores(plugin, pre_score, state, pod, nodes):
                continue
            if score_nodes is not None:
                scores = score_nodes(state, pod, nodes)
            else:
                score = plugin.score
                scores = [score(state, pod, node) for node in nodes]
            if normalize is not None:
                normalize(state, pod, scores)
            if weight == 1:
                totals = [t + s for t, s in zip(totals, scores, strict=True)]
            else:
                totals = [t + s * weight for t, s in zip(totals, scores, strict=True)]
        return totals

    def _select_host(self, nodes: list[NodeInfo], totals: list[int]) -> str:
        """Highest total; ties broken uniformly at random."""
        best = max(totals)
        ties = [i for i, t in enumerate(totals) if t == best]
        return nodes[ties[0] if len(ties) == 1 else self.rng.choice(ties)].name


def _scores(plugin: ScorePlugin, pre_score: PreScoreFn | None, state: CycleState, pod: PodInfo,
            nodes: list[NodeInfo]) -> bool:
    """Run a scorer's PreScore: False when it skips this pod; its error fails the cycle."""
    if pre_score is None:
        return True
    st = pre_score(state, pod, nodes)
    if st is not None and st.code == Code.ERROR:
        raise SchedulingError(f"{plugin.name}: {st.message()}")
    return st is None or st.code != Code.SKIP


def _nth_index(seq: list[Any], value: Any, n: int) -> int:
    """Index of the n-th (from 0) occurrence of value: halves by counting slices (C speed)
    rather than listing every occurrence."""
    lo, hi = 0, len(seq)
    while hi - lo > 32:
        mid = (lo + hi) // 2
        left = seq[lo:mid].count(value)
        if n < left:
            hi = mid
        else:
            n -= left
            lo = mid
    for i in range(lo, hi):
        if seq[i] == value:
            if n == 0:
                return i
            n -= 1
    raise ValueError(f"fewer than {n + 1} occurrences")


def _filter_each(
    plugin: FilterPlugin, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], statuses: dict[str, Status]
) -> list[NodeInfo]:
    """Run a plugin's Filter node by node; rejected nodes get their status recorded."""
    keep = []
    fn = plugin.filter
    for node in nodes:
        st = fn(state, pod, node)
        if st is None:
            keep.append(node)
        elif st.code == Code.ERROR:
            raise SchedulingError(f"{plugin.name}: {st.message()}")
        else:
            statuses[node.name] = st
    return keep
