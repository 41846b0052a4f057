"""Prometheus metrics: requests by verb/resource/code, latency, watches in flight, store latency.

Each server has its own registry (several servers may live in one test process). The store
is wrapped in `TimedStore`, which times every call by operation.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from kubelite.apiserver.http import current_request
from kubelite.storage import Event, KeyValue, ListResult, Store

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class _Histogram:
    """One labelled histogram child as plain numbers: per-bucket counts (not cumulative) + sum."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(_BUCKETS) + 1)  # the last one is +Inf
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(_BUCKETS, seconds)] += 1
        self.total += seconds

    def buckets(self) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        acc = 0
        for bound, n in zip((*(str(b) for b in _BUCKETS), "+Inf"), self.counts, strict=True):
            acc += n
            out.append((bound, acc))
        return out


class Metrics(Collector):
    """The apiserver's metrics as plain counters, rendered in Prometheus' format on scrape.

    Every request and every store call records here, so recording is a dict lookup and an
    integer increment; prometheus_client's own Counter/Histogram (a lock and several calls per
    observation) was a visible share of a write's CPU. Names, labels and buckets are those the
    earlier prometheus_client metrics had.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        #: (verb, resource, code) -> requests
        self.requests: dict[tuple[str, str, int], int] = {}
        #: (verb, resource) -> latency histogram (watches excluded)
        self.latency: dict[tuple[str, str], _Histogram] = {}
        #: watch streams in flight
        self.watches = 0
        #: store operation -> latency histogram
        self.store_latency: dict[str, _Histogram] = {}
        self.registry.register(self)

    def observe(self, verb: str, resource: str, code: int, seconds: float) -> None:
        key = (verb, resource, code)
        self.requests[key] = self.requests.get(key, 0) + 1
        if verb != "watch":
            hist = self.latency.get((verb, resource))
            if hist is None:
                hist = self.latency[(verb, resource)] = _Histogram()
            hist.observe(seconds)

    def watch_delta(self, delta: int) -> None:
        self.watches += delta

    def store_histogram(self, operation: str) -> _Histogram:
        hist = self.store_latency.get(operation)
        if hist is None:
            hist = self.store_latency[operation] = _Histogram()
        return hist

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily]:
        requests = CounterMetricFamily("apiserver_request_total", "API requests by verb, resource and HTTP code.",
                                       labels=["verb", "resource", "code"])
        for (verb, resource, code), n in list(self.requests.items()):
            requests.add_metric([verb, resource, str(code)], n)
        yield requests
        latency = HistogramMetricFamily("apiserver_request_duration_seconds",
                                        "API request latency (watches excluded).", labels=["verb", "resource"])
        for (verb, resource), h in list(self.latency.items()):
            latency.add_metric([verb, resource], h.buckets(), h.total)
        yield latency
        watches = GaugeMetricFamily("apiserver_longrunning_requests", "Watch streams in flight.")
        watches.add_metric([], self.watches)
        yield watches
        store = HistogramMetricFamily("apiserver_storage_duration_seconds", "Store call latency by operation.",
                                      labels=["operation"])
        for op, h in list(self.store_latency.items()):
            store.add_metric([op], h.buckets(), h.total)
        yield store

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _resource_prefix(key: str) -> str:
    """/registry/pods/ns/x -> /registry/pods/ (a watch cache's prefix)."""
    i = key.find("/", len("/registry/"))
    return key[:i + 1] if i > 0 else key


class TimedStore:
    """A Store that records the latency of each call (the watch stream is not timed), on /metrics
    and on the slow-request trace of the request that made it (http.current_request).

    It also remembers the revision of this server's latest write under each resource prefix
    (`last_write`): a watch cache that has reached it has every write this server acknowledged
    (the barrier for consistent LISTs served from the cache).
    """

    def __init__(self, inner: Store, metrics: Metrics) -> None:
        self.inner = inner
        self.last_write: dict[str, int] = {}
        self._h = {op: metrics.store_histogram(op) for op in
                   ("get", "list", "count", "create", "update", "delete", "compact", "current_revision")}

    @staticmethod
    def _begin() -> float:
        """Start timing a call; the request being served (if any) is now in its store phase."""
        started = time.perf_counter()
        request = current_request.get()
        if request is not None:
            request.phase = "store"
            request.phase_started = started
        return started

    def _end(self, operation: str, started: float) -> None:
        """The call's latency on /metrics and on the request's slow-request trace."""
        seconds = time.perf_counter() - started
        self._h[operation].observe(seconds)
        request = current_request.get()
        if request is not None:
            request.store_seconds += seconds
            request.store_calls += 1
            request.phase = "handler"

    async def get(self, key: str) -> KeyValue | None:
        t = self._begin()
        try:
            return await self.inner.get(key)
        finally:
            self._end("get", t)

    async def list(self, prefix: str, limit: int = 0, start_after: str | None = None,
                   revision: int = 0) -> ListResult:
        t = self._begin()
        try:
            return await self.inner.list(prefix, limit, start_after, revision)
        finally:
            self._end("list", t)

    async def count(self, prefix: str) -> int:
        t = self._begin()
        try:
            return await self.inner.count(prefix)
        finally:
            self._end("count", t)

    async def create(self, key: str, value: bytes) -> int:
        t = self._begin()
        try:
            rev = await self.inner.create(key, value)
            self._wrote(key, rev)
            return rev
        finally:
            self._end("create", t)

    async def update(self, key: str, value: bytes, expected_revision: int) -> int:
        t = self._begin()
        try:
            rev = await self.inner.update(key, value, expected_revision)
            self._wrote(key, rev)
            return rev
        finally:
            self._end("update", t)

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        t = self._begin()
        try:
            kv = await self.inner.delete(key, expected_revision)
            self._wrote(key, kv.mod_revision)
            return kv
        finally:
            self._end("delete", t)

    def _wrote(self, key: str, revision: int) -> None:
        prefix = _resource_prefix(key)
        if revision > self.last_write.get(prefix, 0):
            self.last_write[prefix] = revision

    def watch(self, prefix: str, after_revision: int, *, prev: bool = True) -> AsyncIterator[Event]:
        return self.inner.watch(prefix, after_revision, prev=prev)

    async def compact(self, revision: int) -> None:
        t = time.perf_counter()
        try:
            await self.inner.compact(revision)
        finally:
            self._h["compact"].observe(time.perf_counter() - t)

    async def current_revision(self) -> int:
        return await self.inner.current_revision()

    async def compacted_revision(self) -> int:
        return await self.inner.compacted_revision()

    async def close(self) -> None:
        await self.inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
