"""The scheduling framework's vocabulary: Status, CycleState, the plugin protocols.

Modelled on kube-scheduler's `pkg/scheduler/framework`: every extension point is one small
protocol, a plugin returns a `Status` (None means success, so that the hot path allocates
nothing), and per-cycle data lives in a `CycleState` rather than on the plugin. Plugins are
called once per (pod, node) pair, thousands of times per pod at 5000 nodes, so the protocols
take the pre-parsed `PodInfo` / `NodeInfo` rather than raw dicts.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from kubelite.scheduler.nodeinfo import NodeInfo, PodInfo

#: Scores are normalised into 0..MAX_NODE_SCORE before weighting (kube-scheduler's MaxNodeScore).
MAX_NODE_SCORE = 100
MIN_NODE_SCORE = 0


class Code(enum.IntEnum):
    """What a plugin says about a pod (and a node)."""

    SUCCESS = 0
    #: an internal error: the pod is retried with backoff
    ERROR = 1
    #: does not fit now, might after something changes (e.g. another pod goes away)
    UNSCHEDULABLE = 2
    #: does not fit, and preemption on this node would not help (taint, selector, cordon)
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3
    #: from PreFilter/PreScore: this plugin has nothing to say about this pod; skip its Filter/Score
    SKIP = 4


class Status:
    """A code plus human-readable reasons; the reasons end up in FailedScheduling events."""

    __slots__ = ("code", "reasons", "plugin")

    def __init__(self, code: Code, *reasons: str, plugin: str = "") -> None:
        self.code = code
        self.reasons: tuple[str, ...] = reasons
        self.plugin = plugin

    @property
    def is_success(self) -> bool:
        return self.code == Code.SUCCESS

    @property
    def is_rejected(self) -> bool:
        return self.code in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)

    def message(self) -> str:
        return ", ".join(self.reasons)

    def __repr__(self) -> str:
        return f"Status({self.code.name}, {list(self.reasons)!r}, plugin={self.plugin!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Status) and (self.code, self.reasons) == (other.code, other.reasons)

    def __hash__(self) -> int:
        return hash((self.code, self.reasons))


#: Shared singleton for "skip me" answers, so PreFilter/PreScore allocate nothing.
SKIP = Status(Code.SKIP)


def unschedulable(*reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE, *reasons)


def unresolvable(*reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, *reasons)


def error(*reasons: str) -> Status:
    return Status(Code.ERROR, *reasons)


class CycleState:
    """Data one plugin computes in PreFilter/PreScore and reads back in Filter/Score.

    One per scheduling cycle (one pod), so plugins stay stateless and reentrant.
    """

    __slots__ = ("_data", "skip_filter", "skip_score")

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        #: names of plugins whose PreFilter returned SKIP
        self.skip_filter: set[str] = set()
        #: names of plugins whose PreScore returned SKIP
        self.skip_score: set[str] = set()

    def write(self, key: str, value: Any) -> None:
        self._data[key] = value

    def read(self, key: str) -> Any:
        """The value a plugin wrote earlier in this cycle; KeyError if none (a plugin bug)."""
        return self._data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)


@runtime_checkable
class Plugin(Protocol):
    name: str


@runtime_checkable
class PreFilterPlugin(Plugin, Protocol):
    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        """Precompute per-pod data. SKIP disables this plugin's Filter for the pod; an
        UNSCHEDULABLE status rejects the pod on every node at once."""
        ...


@runtime_checkable
class FilterPlugin(Plugin, Protocol):
    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        """None if the pod may run on the node; else UNSCHEDULABLE(_AND_UNRESOLVABLE) with
        reasons, or ERROR."""
        ...


@runtime_checkable
class PreScorePlugin(Plugin, Protocol):
    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        """Precompute data over the feasible nodes; SKIP disables this plugin's Score."""
        ...


@runtime_checkable
class ScorePlugin(Plugin, Protocol):
    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        """A raw score for the node (higher is better unless NormalizeScore reverses it)."""
        ...


@runtime_checkable
class ScoreKeyPlugin(Plugin, Protocol):
    def score_key(self, pod: PodInfo, node: NodeInfo) -> int:
        """The raw score, computed from `PodInfo.signature` fields and the node alone, so the
        equivalence cache may keep it until the node's generation changes. A scorer without
        it (PodTopologySpread, whose score depends on the pod's owner and on cycle-wide
        totals) is scored over the window each cycle."""
        ...


@runtime_checkable
class NormalizeScorePlugin(Plugin, Protocol):
    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        """Rewrite `scores` in place into 0..MAX_NODE_SCORE. A score's result must depend only
        on that score and the set of scores (its min/max, as kube-scheduler's helpers do), not
        on how many nodes share it: the equivalence cache normalises distinct scores once."""
        ...


def default_normalize_score(max_priority: int, reverse: bool, scores: list[int]) -> None:
    """kube-scheduler's helper: scale so the best raw score becomes max_priority (optionally
    reversed, for plugins where a lower raw score is better)."""
    max_count = max(scores, default=0)
    if max_count == 0:
        if reverse:
            for i in range(len(scores)):
                scores[i] = max_priority
        return
    for i, s in enumerate(scores):
        s = max_priority * s // max_count
        scores[i] = max_priority - s if reverse else s
