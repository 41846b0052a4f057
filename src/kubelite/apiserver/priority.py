"""A small API Priority and Fairness: node heartbeats never wait behind pod churn.

Under a burst of pod creates, status PATCHes and Events the one asyncio process of the API
server is saturated; if Lease renewals and node status writes queue behind that work, nodes miss
their grace period, the node lifecycle controller marks them Unknown and evicts their pods, which
adds more work (docs/scale.md, "death spiral"). Kubernetes' answer is API Priority and Fairness;
this is the part of it that matters here:

- every request is classified into a priority level (`classify`: cheap, on the hot path);
- each level has its own concurrency limit (a share of `--max-requests-inflight` +
  `--max-mutating-requests-inflight`, as Kubernetes splits its total by `nominalConcurrencyShares`);
- a request over its level's limit waits in that level's bounded FIFO queue, never in another
  level's; a full queue, or a wait longer than the queue timeout, gives 429 TooManyRequests with
  `Retry-After` (clients back off and retry);
- watches and long-running requests (exec, attach, port-forward, logs, proxy) are not limited,
  as in Kubernetes; neither are the non-resource paths (discovery, /metrics, health), which
  are served from memory.

Not modelled: flow schemas as objects, fair queuing between flows inside a level (shuffle
sharding), seat borrowing between levels, width (seats) of LISTs. kubelite's components all use
the admin identity (system:masters), so the levels are chosen by what a request touches, not by
who sends it (Kubernetes' `exempt` level for system:masters would exempt everything here).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from kubelite.apiserver.errors import ApiError

NODE_HIGH = "node-high"
LEADER_ELECTION = "leader-election"
WORKLOAD = "workload-low"

#: nominal concurrency shares, as Kubernetes' defaults (workload-low 100 + workload-high 40 +
#: global-default 20 folded into one level: kubelite cannot tell a controller from a user)
SHARES = {NODE_HIGH: 40, LEADER_ELECTION: 10, WORKLOAD: 160}

#: subresources that hold a connection open (Kubernetes' long-running request check)
LONG_RUNNING_SUBRESOURCES = frozenset(("log", "exec", "attach", "portforward", "proxy"))

#: default per-level queue capacity and wait: large enough that kubectl, the tests and a normal
#: cluster never see a 429; Kubernetes waits at most a quarter of the 60 s request timeout
DEFAULT_QUEUE_LENGTH = 2000
DEFAULT_QUEUE_WAIT = 15.0
RETRY_AFTER_SECONDS = 1


def classify(plural: str, namespace: str | None, name: str | None, sub: str | None, verb: str) -> str | None:
    """The priority level of a resource request, or None when it is not limited.

    node-high: a node's own object (get/create/update/patch/delete, nodes/status) and the node
    Leases in kube-node-lease. leader-election: Leases in kube-system. Everything else (LISTs of
    nodes too: they are heavy and nobody's heartbeat) is workload.
    """
    if verb == "watch" or sub in LONG_RUNNING_SUBRESOURCES:
        return None
    if plural == "leases":
        if namespace == "kube-node-lease":
            return NODE_HIGH
        if namespace == "kube-system":
            return LEADER_ELECTION
        return WORKLOAD
    if plural == "nodes" and name is not None:
        return NODE_HIGH
    return WORKLOAD


def too_many_requests(level: str, why: str) -> ApiError:
    """Kubernetes' 429 Status; `retryAfterSeconds` is also sent as the Retry-After header."""
    return ApiError(429, "TooManyRequests", f"Too many requests, please try again later. ({why})",
                    {"retryAfterSeconds": RETRY_AFTER_SECONDS, "causes": [
                        {"reason": "TooManyRequests", "message": f"priority level {level}: {why}"}]})


class Level:
    """One priority level: a concurrency limit and a bounded FIFO queue of waiting requests."""

    __slots__ = ("name", "limit", "queue_length", "queue_wait", "executing", "queue", "dispatched", "rejected")

    def __init__(self, name: str, limit: int, queue_length: int, queue_wait: float) -> None:
        self.name = name
        self.limit = limit
        self.queue_length = queue_length
        self.queue_wait = queue_wait
        self.executing = 0
        self.queue: collections.deque[asyncio.Future[None]] = collections.deque()
        self.dispatched = 0
        #: rejections by reason: queue-full, time-out
        self.rejected: dict[str, int] = {"queue-full": 0, "time-out": 0}

    async def acquire(self) -> None:
        """Take a seat, waiting in the queue if the level is busy; 429 when it cannot."""
        if self.executing < self.limit and not self.queue:
            self.executing += 1
            self.dispatched += 1
            return
        if len(self.queue) >= self.queue_length:
            self.rejected["queue-full"] += 1
            raise too_many_requests(self.name, "queue full")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self.queue.append(fut)
        timer = loop.call_later(self.queue_wait, self._expire, fut)
        try:
            await fut
        except TimeoutError:
            self.rejected["time-out"] += 1
            raise too_many_requests(self.name, "timed out waiting in the queue") from None
        except asyncio.CancelledError:
            # the client went away: give back a seat that was already handed to us
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                self.release()
            else:
                self._forget(fut)
            raise
        finally:
            timer.cancel()
        self.dispatched += 1

    def _expire(self, fut: asyncio.Future[None]) -> None:
        if not fut.done():
            self._forget(fut)
            fut.set_exception(TimeoutError())

    def _forget(self, fut: asyncio.Future[None]) -> None:
        try:
            self.queue.remove(fut)
        except ValueError:
            pass

    def release(self) -> None:
        """Hand the seat to the oldest waiter, or free it."""
        while self.queue:
            fut = self.queue.popleft()
            if not fut.done():
                fut.set_result(None)  # the seat passes on: `executing` is unchanged
                return
        self.executing -= 1


@dataclass(frozen=True, slots=True)
class FlowControlConfig:
    """`--max-requests-inflight` + `--max-mutating-requests-inflight` (Kubernetes: 400 + 200) is
    the total concurrency shared by the levels; 0 for both turns flow control off."""

    max_requests_inflight: int = 400
    max_mutating_requests_inflight: int = 200
    queue_length: int = DEFAULT_QUEUE_LENGTH
    queue_wait: float = DEFAULT_QUEUE_WAIT

    def __post_init__(self) -> None:
        if self.max_requests_inflight < 0 or self.max_mutating_requests_inflight < 0:
            raise ValueError("max requests in flight must be >= 0")
        if self.queue_length < 0:
            raise ValueError("flow control queue length must be >= 0")
        if self.queue_wait <= 0:
            raise ValueError("flow control queue wait must be > 0")

    @property
    def total(self) -> int:
        return self.max_requests_inflight + self.max_mutating_requests_inflight


class FlowControl(Collector):
    """The levels of one server and their /metrics (apiserver_flowcontrol_*)."""

    def __init__(self, config: FlowControlConfig | None = None) -> None:
        self.config = config or FlowControlConfig()
        total = self.config.total
        self.enabled = total > 0
        shares = sum(SHARES.values())
        # ceil, as Kubernetes' nominal concurrency limit: every level gets at least one seat
        # (0 on /metrics when flow control is off)
        self.levels = {name: Level(name, max(1, -(-total * s // shares)) if self.enabled else 0,
                                   self.config.queue_length, self.config.queue_wait) for name, s in SHARES.items()}

    def level(self, plural: str, namespace: str | None, name: str | None, sub: str | None,
              verb: str) -> Level | None:
        """The level that must admit this request, or None (not limited, or flow control off)."""
        if not self.enabled:
            return None
        lv = classify(plural, namespace, name, sub, verb)
        return None if lv is None else self.levels[lv]

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        limit = GaugeMetricFamily("apiserver_flowcontrol_nominal_limit_seats",
                                  "Concurrency limit of each priority level.", labels=["priority_level"])
        executing = GaugeMetricFamily("apiserver_flowcontrol_current_executing_requests",
                                      "Requests executing, by priority level.", labels=["priority_level"])
        queued = GaugeMetricFamily("apiserver_flowcontrol_current_inqueue_requests",
                                   "Requests waiting in the queue, by priority level.", labels=["priority_level"])
        dispatched = CounterMetricFamily("apiserver_flowcontrol_dispatched_requests",
                                         "Requests admitted, by priority level.", labels=["priority_level"])
        rejected = CounterMetricFamily("apiserver_flowcontrol_rejected_requests",
                                       "Requests rejected with 429, by priority level and reason.",
                                       labels=["priority_level", "reason"])
        for lv in self.levels.values():
            limit.add_metric([lv.name], lv.limit)
            executing.add_metric([lv.name], lv.executing)
            queued.add_metric([lv.name], len(lv.queue))
            dispatched.add_metric([lv.name], lv.dispatched)
            for reason, n in lv.rejected.items():
                rejected.add_metric([lv.name, reason], n)
        yield from (limit, executing, queued, dispatched, rejected)
