"""Prometheus metrics: requests by verb/resource/code, latency, watches in flight, store latency.

Each server has its own registry (several servers may live in one test process). The store
is wrapped in `TimedStore`, which times every call by operation.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from kubelite.storage import Event, KeyValue, ListResult, Store

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("apiserver_request_total", "API requests by verb, resource and HTTP code.",
                                ("verb", "resource", "code"), registry=self.registry)
        self.latency = Histogram("apiserver_request_duration_seconds", "API request latency (watches excluded).",
                                 ("verb", "resource"), buckets=_BUCKETS, registry=self.registry)
        self.watches = Gauge("apiserver_longrunning_requests", "Watch streams in flight.",
                             registry=self.registry)
        self.store_latency = Histogram("apiserver_storage_duration_seconds", "Store call latency by operation.",
                                       ("operation",), buckets=_BUCKETS, registry=self.registry)
        #: labelled children, looked up once (labels() takes a lock and builds a key each call)
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._latencies: dict[tuple[str, str], Any] = {}

    def observe(self, verb: str, resource: str, code: int, seconds: float) -> None:
        counter = self._counters.get((verb, resource, code))
        if counter is None:
            counter = self._counters[(verb, resource, code)] = self.requests.labels(verb, resource, str(code))
        counter.inc()
        if verb != "watch":
            hist = self._latencies.get((verb, resource))
            if hist is None:
                hist = self._latencies[(verb, resource)] = self.latency.labels(verb, resource)
            hist.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _resource_prefix(key: str) -> str:
    """/registry/pods/ns/x -> /registry/pods/ (a watch cache's prefix)."""
    i = key.find("/", len("/registry/"))
    return key[:i + 1] if i > 0 else key


class TimedStore:
    """A Store that records the latency of each call (the watch stream is not timed).

    It also remembers the revision of this server's latest write under each resource prefix
    (`last_write`): a watch cache that has reached it has every write this server acknowledged
    (the barrier for consistent LISTs served from the cache).
    """

    def __init__(self, inner: Store, metrics: Metrics) -> None:
        self.inner = inner
        self.last_write: dict[str, int] = {}
        self._h = {op: metrics.store_latency.labels(op) for op in
                   ("get", "list", "count", "create", "update", "delete", "compact", "current_revision")}

    async def get(self, key: str) -> KeyValue | None:
        t = time.perf_counter()
        try:
            return await self.inner.get(key)
        finally:
            self._h["get"].observe(time.perf_counter() - t)

    async def list(self, prefix: str, limit: int = 0, start_after: str | None = None,
                   revision: int = 0) -> ListResult:
        t = time.perf_counter()
        try:
            return await self.inner.list(prefix, limit, start_after, revision)
        finally:
            self._h["list"].observe(time.perf_counter() - t)

    async def count(self, prefix: str) -> int:
        t = time.perf_counter()
        try:
            return await self.inner.count(prefix)
        finally:
            self._h["count"].observe(time.perf_counter() - t)

    async def create(self, key: str, value: bytes) -> int:
        t = time.perf_counter()
        try:
            rev = await self.inner.create(key, value)
            self._wrote(key, rev)
            return rev
        finally:
            self._h["create"].observe(time.perf_counter() - t)

    async def update(self, key: str, value: bytes, expected_revision: int) -> int:
        t = time.perf_counter()
        try:
            rev = await self.inner.update(key, value, expected_revision)
            self._wrote(key, rev)
            return rev
        finally:
            self._h["update"].observe(time.perf_counter() - t)

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        t = time.perf_counter()
        try:
            kv = await self.inner.delete(key, expected_revision)
            self._wrote(key, kv.mod_revision)
            return kv
        finally:
            self._h["delete"].observe(time.perf_counter() - t)

    def _wrote(self, key: str, revision: int) -> None:
        prefix = _resource_prefix(key)
        if revision > self.last_write.get(prefix, 0):
            self.last_write[prefix] = revision

    def watch(self, prefix: str, after_revision: int) -> AsyncIterator[Event]:
        return self.inner.watch(prefix, after_revision)

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
