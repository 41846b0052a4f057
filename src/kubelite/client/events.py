"""Record v1 Events about objects, the way Kubernetes' EventRecorder + EventCorrelator do.

`event()` never blocks and never raises for API trouble: it queues (at most `max_queue` events; a
full queue drops the event, as client-go's broadcaster does), and background tasks write. Taken from
the queue, in order and with the time it happened, each event goes through the steps of client-go's
EventCorrelator (after the queue, as there: an event dropped by a full queue neither spends a token
nor counts toward combining):
- similar events are combined: once one source has said the same type and reason about one object
  with 10 different messages within 10 minutes, the next ones become a single Event whose message
  starts "(combined from similar events): " (a ReplicaSet's "Created pod: ..." for each pod);
- a repeat (same involved object, type, reason, message and source) does not create another
  Event: the first one is PATCHed with count+1 and a new lastTimestamp, so `kubectl get events`
  shows one line with a growing COUNT;
- a spam filter per source and involved object: a token bucket of 25 that refills one every 5
  minutes; an event (or repeat) without a token is dropped, counted in `filtered`.
The recorder remembers the last 4096 keys of each kind (LRU).

Event names are `<object name>.<nanosecond timestamp in hex>`, as Kubernetes names them; the
Event lives in the object's namespace ("default" for cluster-scoped objects such as nodes).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubelite.api.resources import EVENTS
from kubelite.client.rest import ApiClient, ApiError, is_not_found

log = logging.getLogger(__name__)

NORMAL = "Normal"
WARNING = "Warning"

MAX_MESSAGE = 1024  # the apiserver caps Event messages; cut ours first

#: client-go's EventCorrelator defaults
SIMILAR_MAX_MESSAGES = 10
SIMILAR_INTERVAL = 600.0
SIMILAR_PREFIX = "(combined from similar events): "
SPAM_BURST = 25
SPAM_REFILL_SECONDS = 300.0

#: (involved object, type, reason, message, timestamp, when by the recorder's clock)
_Item = tuple[dict[str, Any], str, str, str, str, float]


@dataclass(slots=True)
class _Similar:
    messages: set[str]
    last: float


@dataclass(slots=True)
class _Bucket:
    tokens: float
    last: float


@dataclass(slots=True)
class _Seen:
    name: str
    namespace: str
    count: int
    first_timestamp: str


_last_stamp: tuple[int, str] = (-1, "")


def _now() -> str:
    """The current second in RFC 3339, formatted once per second (every Event carries it)."""
    global _last_stamp
    second = int(time.time())
    if _last_stamp[0] != second:
        _last_stamp = (second, datetime.datetime.fromtimestamp(second, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    return _last_stamp[1]


def involved_object(obj: dict[str, Any]) -> dict[str, Any]:
    """The ObjectReference an Event points at."""
    meta = obj.get("metadata") or {}
    ref = {"kind": obj.get("kind", ""), "apiVersion": obj.get("apiVersion", ""), "name": meta.get("name", ""),
           "namespace": meta.get("namespace", ""), "uid": meta.get("uid", ""),
           "resourceVersion": meta.get("resourceVersion", "")}
    if all(ref.values()):  # the usual case (a stored object): nothing to leave out
        return ref
    return {k: v for k, v in ref.items() if v}


class EventRecorder:
    """Queue Events for objects; a background task writes and aggregates them (module docstring)."""

    def __init__(self, client: ApiClient, component: str, host: str | None = None, *,
                 max_queue: int = 1000, cache_size: int = 4096, writers: int = 8,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.component = component
        self.host = host
        self._queue: asyncio.Queue[_Item] = asyncio.Queue(max_queue)
        self._seen: OrderedDict[tuple[str, ...], _Seen] = OrderedDict()
        self._similar: OrderedDict[tuple[str, ...], _Similar] = OrderedDict()
        self._buckets: OrderedDict[tuple[str, ...], _Bucket] = OrderedDict()
        self._clock = clock
        #: events dropped by the spam filter
        self.filtered = 0
        self._cache_size = cache_size
        self._tasks: list[asyncio.Task[None]] = []
        self._writers = writers
        # one write at a time per aggregation key, so concurrent writers never double-create an Event
        self._key_locks: dict[tuple[str, ...], asyncio.Lock] = {}
        self.dropped = 0
        self._last_drop_warning = 0.0

    def event(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        """Record that `reason: message` happened to `obj` (type_ "Normal" or "Warning"). Never blocks."""
        if type_ not in (NORMAL, WARNING):
            log.error("event type must be Normal or Warning, got %r (reason %s): dropped", type_, reason)
            return
        ref = involved_object(obj)
        try:
            self._queue.put_nowait((ref, type_, reason, message[:MAX_MESSAGE], _now(), self._clock()))
        except asyncio.QueueFull:
            self.dropped += 1
            # a warning per dropped event would cost more than the event: say it at most every 10 s
            now = time.monotonic()
            if now - self._last_drop_warning >= 10.0:
                self._last_drop_warning = now
                log.warning("event queue full: %d events dropped so far (latest %s %s for %s)",
                            self.dropped, type_, reason, ref.get("name"))

    def _correlate(self, ref: dict[str, Any], type_: str, reason: str, message: str,
                   now: float) -> tuple[str, tuple[str, ...]] | None:
        """The message to write and its aggregation key, or None when the spam filter drops it."""
        source_and_object = (self.component, self.host or "", ref.get("kind", ""), ref.get("namespace") or "default",
                             ref.get("name", ""), ref.get("uid", ""), ref.get("apiVersion", ""))
        message, key = self._combine_similar(source_and_object + (type_, reason), message, now)
        if not self._take_token(source_and_object, now):
            self.filtered += 1
            return None
        return message, key

    def _combine_similar(self, similar_key: tuple[str, ...], message: str,
                         now: float) -> tuple[str, tuple[str, ...]]:
        """The message to write and the key its repeats are counted under (client-go's EventAggregator)."""
        similar = self._similar.get(similar_key)
        if similar is None or now - similar.last > SIMILAR_INTERVAL:
            similar = _Similar(set(), now)
        similar.messages.add(message)
        similar.last = now
        self._similar[similar_key] = similar
        self._similar.move_to_end(similar_key)
        while len(self._similar) > self._cache_size:
            self._similar.popitem(last=False)
        if len(similar.messages) < SIMILAR_MAX_MESSAGES:
            return message, similar_key + (message,)
        similar.messages.pop()  # keep the set at its cap
        return (SIMILAR_PREFIX + message)[:MAX_MESSAGE], similar_key

    def _take_token(self, source_and_object: tuple[str, ...], now: float) -> bool:
        """The spam filter (client-go's EventSourceObjectSpamFilter)."""
        bucket = self._buckets.get(source_and_object)
        if bucket is None:
            bucket = self._buckets[source_and_object] = _Bucket(SPAM_BURST, now)
            while len(self._buckets) > self._cache_size:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(source_and_object)
            bucket.tokens = min(SPAM_BURST, bucket.tokens + (now - bucket.last) / SPAM_REFILL_SECONDS)
            bucket.last = now
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True

    def eventf(self, obj: dict[str, Any], type_: str, reason: str, fmt: str, *args: Any) -> None:
        self.event(obj, type_, reason, fmt % args if args else fmt)

    async def start(self) -> None:
        if not self._tasks:
            loop = asyncio.get_running_loop()
            self._tasks = [loop.create_task(self._run(), name=f"events-{self.component}-{i}")
                           for i in range(self._writers)]

    async def flush(self) -> None:
        """Wait until every queued event has been written (or given up on)."""
        await self._queue.join()

    async def stop(self, flush_timeout: float = 5.0) -> None:
        """Write what is queued (for at most flush_timeout seconds), then stop the writer."""
        if self._tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), flush_timeout)
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks = []

    async def _run(self) -> None:
        while True:
            ref, type_, reason, message, stamp, at = await self._queue.get()
            try:
                correlated = self._correlate(ref, type_, reason, message, at)
                if correlated is not None:
                    await self._write(ref, type_, reason, correlated[0], stamp, correlated[1])
            except asyncio.CancelledError:
                raise
            except Exception as e:  # a recorder must never take its component down
                log.warning("could not write event %s for %s: %s", reason, ref.get("name"), e)
            finally:
                self._queue.task_done()

    async def _write(self, ref: dict[str, Any], type_: str, reason: str, message: str, stamp: str,
                     key: tuple[str, ...]) -> None:
        namespace = ref.get("namespace") or "default"
        lock = self._key_locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                await self._write_locked(key, ref, type_, reason, message, stamp, namespace)
        finally:
            if not lock.locked() and self._key_locks.get(key) is lock:
                del self._key_locks[key]

    async def _write_locked(self, key: tuple[str, ...], ref: dict[str, Any], type_: str, reason: str,
                            message: str, stamp: str, namespace: str) -> None:
        seen = self._seen.get(key)
        if seen is not None:
            self._seen.move_to_end(key)
            seen.count += 1
            try:
                await self.client.patch(EVENTS, seen.name, {"count": seen.count, "lastTimestamp": stamp,
                                                            "message": message}, seen.namespace)
                return
            except ApiError as e:
                if not is_not_found(e):
                    raise
                # the Event expired or was deleted: write a new one carrying the count on
        name = f"{ref.get('name') or 'unknown'}.{time.time_ns():x}"
        first = seen.first_timestamp if seen is not None else stamp
        count = seen.count if seen is not None else 1
        source = {"component": self.component}
        if self.host:
            source["host"] = self.host
        body = {"apiVersion": "v1", "kind": "Event",
                "metadata": {"name": name, "namespace": namespace},
                "involvedObject": ref, "reason": reason, "message": message, "type": type_,
                "source": source, "firstTimestamp": first, "lastTimestamp": stamp, "count": count,
                "reportingComponent": self.component, "reportingInstance": self.host or ""}
        created = await self.client.create(EVENTS, body, namespace)
        self._seen[key] = _Seen(created.get("metadata", {}).get("name", name), namespace, count, first)
        while len(self._seen) > self._cache_size:
            self._seen.popitem(last=False)
