"""The watch cache: one store watch per resource, fanned out from memory to every watcher.

Why: a thousand `kubectl get pods -w` (or a thousand kubelets) must cost one store watch, not a
thousand. Each cache LISTs its resource's prefix once at server start, then follows a single
store watch from that revision. It keeps

* `objects`: the current state, key -> `Entry`: the stored bytes (shared with the store, not
  copied) plus the few facts watchers select on (namespace, labels, selectable fields, index
  value), not a decoded dict: a decoded pod is ~10x its JSON, and a 150,000-pod cluster must fit
  in a few GiB. It serves `resourceVersion=0` LISTs and the initial ADDED events of a watch from RV 0;
* `history`: a bounded ring of recent events, so a watch can resume from any revision at or
  after `oldest` (older -> 410 Expired, and the client re-lists, as with the real cacher).

Events are decoded once, when applied, to extract those facts; a JSON watch line is the stored
bytes with the resourceVersion spliced in (no re-encoding). Watchers whose field selector pins one value of the cache's index
field (for pods: `spec.nodeName=X`, what every kubelet watches with) are kept in an index by that
value, so a pod event is offered only to the watchers of its node (old and new) and to the
unindexed watchers, not to 5,000 kubelets' watches in turn (the Kubernetes cacher's
`IndexerFuncs` idea). A watcher filters by namespace and label/field selectors; an object
that stops matching is sent to that watcher as DELETED, one that starts matching as ADDED (the
Kubernetes cacher does the same). Each event is encoded at most once per output format
(`Watcher.format_key`), however many watchers share that format.

A watcher whose queue grows past `max_queue` is dropped (its stream ends and the client
re-watches), so one stuck client cannot grow the server's memory without bound.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import contextlib
import logging
import sys
from collections.abc import Callable, Hashable
from typing import Any

import orjson

from kubelite.storage import CompactedError, EventType, Store

log = logging.getLogger(__name__)

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"
#: writes in flight the cache may be told about (WatchCache.expect) before it forgets them all
_MAX_EXPECTED = 10000


def decode(value: bytes, revision: int) -> dict[str, Any]:
    """A stored object with its resourceVersion filled in (it is not stored in the value)."""
    obj: dict[str, Any] = orjson.loads(value)
    meta = obj.get("metadata")
    if meta is None:
        meta = obj["metadata"] = {}
    meta["resourceVersion"] = str(revision)
    return obj


_META = b'"metadata":{'


def with_rv(value: bytes, revision: int) -> bytes | None:
    """Stored bytes with metadata.resourceVersion spliced in; None if the layout is unexpected.

    Stored values start with apiVersion, kind and metadata (rest.encode_value), so the splice
    point is the first `{` after the top-level one."""
    i = value.find(_META)
    j = i + len(_META)
    if i < 0 or value.find(b"{", 1) != j - 1:
        return None
    rv = b'"resourceVersion":"%d"' % revision
    return value[:j] + rv + (b"" if value[j:j + 1] == b"}" else b",") + value[j:]


_intern = sys.intern
FieldsFn = Callable[[dict[str, Any]], dict[str, str]]


class Entry:
    """One version of one object as the cache keeps it: the stored bytes and what watchers
    select on. The decoded object is rebuilt from the bytes when someone needs it (a Table,
    an events.k8s.io conversion, a filtered LIST's matches): most watch lines never need it."""

    __slots__ = ("key", "value", "revision", "namespace", "labels", "index", "fields")

    def __init__(self, key: str, value: bytes, revision: int, obj: dict[str, Any],
                 index_fn: Callable[[dict[str, Any]], str] | None, fields_fns: tuple[FieldsFn, ...]) -> None:
        self.key = key
        self.value = value
        self.revision = revision
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            meta = {}
        ns = meta.get("namespace")
        self.namespace: str | None = _intern(ns) if type(ns) is str else None
        labels = meta.get("labels")
        # interned values: pods of one template share their label strings
        self.labels: dict[str, str] | None = (
            {k: _intern(v) if type(v) is str else v for k, v in labels.items()}
            if isinstance(labels, dict) and labels else None)
        self.index: str = _intern(index_fn(obj)) if index_fn is not None else ""
        #: selectable fields per fields function, memoised (values interned: phases, node names...)
        self.fields: dict[FieldsFn, dict[str, str]] | None = None
        if fields_fns:
            self.fields = {fn: _interned(fn(obj)) for fn in fields_fns}

    def deleted_at(self, revision: int) -> Entry:
        """This version as the object a delete at `revision` removed: the same bytes and facts."""
        e = Entry.__new__(Entry)
        e.key, e.value, e.revision = self.key, self.value, revision
        e.namespace, e.labels, e.index, e.fields = self.namespace, self.labels, self.index, self.fields
        return e

    def object(self) -> dict[str, Any]:
        """A fresh decoded copy (the caller may keep or change it)."""
        return decode(self.value, self.revision)

    def fields_for(self, fn: FieldsFn) -> dict[str, str]:
        f = self.fields.get(fn) if self.fields is not None else None
        if f is None:
            f = _interned(fn(self.object()))
            if self.fields is None:
                self.fields = {}
            self.fields[fn] = f
        return f

    def json(self) -> bytes:
        """The object's JSON (resourceVersion included), without decoding when possible."""
        b = with_rv(self.value, self.revision)
        return b if b is not None else orjson.dumps(self.object())


def _interned(fields: dict[str, str]) -> dict[str, str]:
    """`fields` (a fresh dict from a fields function) with its string values interned, in place."""
    for k, v in fields.items():
        if type(v) is str:
            fields[k] = _intern(v)
    return fields


class CachedEvent:
    """One change as every watcher sees it: the new version (for DELETED, the deleted object
    stamped with the delete's revision) and the previous one. Encodings are made per fan-out
    and not kept: the history ring holds only entries, whose bytes the store shares."""

    __slots__ = ("type", "key", "obj", "prev", "revision")

    def __init__(self, type_: str, key: str, obj: Entry, prev: Entry | None, revision: int) -> None:
        self.type = type_
        self.key = key
        self.obj = obj
        self.prev = prev
        self.revision = revision


class Watcher:
    """One client's view: its filter, its format, and a queue of encoded lines."""

    def __init__(self, *, namespace: str | None, label_match: Callable[[dict[str, str]], bool] | None,
                 field_match: Callable[[dict[str, str]], bool] | None,
                 fields_of: Callable[[dict[str, Any]], dict[str, str]],
                 encode: Callable[[str, Entry], bytes], format_key: Hashable,
                 after: int, max_queue: int = 10000, bookmarks: bool = False,
                 group_key: Hashable | None = None, index_value: str | None = None) -> None:
        #: watchers with equal group keys (same namespace, selectors and format) see the same
        #: lines: the cache filters and encodes once per group, not once per watcher
        self.group_key: Hashable = group_key if group_key is not None else object()
        #: the value the field selector requires for the cache's index field (e.g. the node
        #: name of `spec.nodeName=X`); None: the watcher is not indexable
        self.index_value = index_value
        #: the index bucket the cache filed this watcher under (None: the unindexed groups)
        self.indexed_under: str | None = None
        #: once live, lines bypass `pending` and the handler: the cache writes them (already
        #: HTTP-chunk framed) straight to the connection with `sink`, batched per loop iteration
        self.sink: Callable[[bytes], bool] | None = None
        self.live = False
        self.out: list[bytes] = []
        #: something was sent since the last bookmark tick (bookmarks are for idle watchers)
        self.sent = False
        self._cache: WatchCache | None = None
        self.namespace = namespace
        self.label_match = label_match
        self.field_match = field_match
        self.fields_of = fields_of
        self.encode = encode
        self.format_key = format_key
        #: events at or below this revision are not sent (the client already has them)
        self.after = after
        self.max_queue = max_queue
        #: encoded lines not yet written; the HTTP handler takes them in batches
        self.pending: list[bytes] = []
        self.closed = False
        #: the client asked for BOOKMARKs; the cache sets bookmark_due on its timer while idle
        self.bookmarks = bookmarks
        self.bookmark_due = False
        self._waiter: asyncio.Future[None] | None = None

    def matches(self, entry: Entry) -> bool:
        if self.namespace is not None and entry.namespace != self.namespace:
            return False
        if self.label_match is not None and not self.label_match(entry.labels or {}):
            return False
        return self.field_match is None or bool(self.field_match(entry.fields_for(self.fields_of)))

    def select(self, ev: CachedEvent) -> str | None:
        """The event type this watcher's filter turns `ev` into (None: not for this watcher).

        DELETED for an object that stops matching, ADDED for one that starts matching.
        """
        if ev.type == DELETED:
            return DELETED if self.matches(ev.obj) else None
        now = self.matches(ev.obj)
        was = ev.prev is not None and self.matches(ev.prev)
        if now:
            return MODIFIED if was else ADDED
        return DELETED if was else None

    def offer(self, ev: CachedEvent) -> None:
        """Filter one event and queue what this watcher should see of it."""
        if self.closed or ev.revision <= self.after:
            return
        type_ = self.select(ev)
        if type_ is not None:
            self._put(self.encode(type_, ev.obj))

    def deliver(self, data: bytes, framed: bytes) -> None:
        """A line the cache selected for this watcher's group: `framed` is it as an HTTP chunk."""
        if not self.live:
            self._put(data)
            return
        if not self.out and self._cache is not None:
            self._cache.dirty.append(self)
        self.out.append(framed)

    def flush(self) -> None:
        """Write the framed lines the cache delivered (live mode) in one write."""
        out = self.out
        if not out:
            return
        self.out = []
        self.sent = True
        assert self.sink is not None
        if not self.closed and not self.sink(out[0] if len(out) == 1 else b"".join(out)):
            self.close()

    def go_live(self) -> None:
        """From now on the cache writes to the connection itself (the handler has written
        everything queued before, so the order of lines is kept)."""
        if self.sink is not None and not self.pending and not self.closed:
            self.live = True

    def _put(self, data: bytes) -> None:
        if len(self.pending) >= self.max_queue:
            log.warning("dropping a watcher that fell %d events behind", self.max_queue)
            self.close()
            return
        self.pending.append(data)
        self.sent = True
        self._wake()

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    async def wait(self) -> None:
        """Wait for lines, a due bookmark, or close.

        A bare future, not Queue.get under wait_for: with a thousand watchers, a task and a
        timer per wake-up per watcher is what a fan-out would spend its time on. Timeouts are
        the caller's (one asyncio.timeout_at around the whole stream), bookmarks the cache's.
        """
        if self.pending or self.closed or self.bookmark_due:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiter = fut
        try:
            await fut
        finally:
            self._waiter = None

    def take(self) -> list[bytes]:
        out, self.pending = self.pending, []
        return out

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._wake()


class _Revisions:
    """The history ring seen as a sequence of revisions (for bisect)."""

    __slots__ = ("history",)

    def __init__(self, history: collections.deque[CachedEvent]) -> None:
        self.history = history

    def __len__(self) -> int:
        return len(self.history)

    def __getitem__(self, i: int) -> int:
        return self.history[i].revision


class WatchCache:
    """The cache of one storage prefix (one resource)."""

    def __init__(self, store: Store, prefix: str, history_size: int = 20000, bookmark_interval: float = 5.0,
                 index_fn: Callable[[dict[str, Any]], str] | None = None) -> None:
        self.store = store
        self.prefix = prefix
        self.objects: dict[str, Entry] = {}
        #: the fields functions watchers select with: computed once per applied version
        self.fields_fns: tuple[FieldsFn, ...] = ()
        self.history: collections.deque[CachedEvent] = collections.deque(maxlen=history_size)
        #: the latest revision applied to `objects`
        self.revision = 0
        #: the oldest revision a watch may resume from
        self.oldest = 0
        self.watchers: set[Watcher] = set()
        #: unindexed watchers by group key (dicts as ordered sets)
        self.groups: dict[Hashable, dict[Watcher, None]] = {}
        #: the index field's value of an object (for pods: spec.nodeName, "" when unset)
        self.index_fn = index_fn
        #: indexed watchers: index value -> group key -> watchers
        self.by_index: dict[str, dict[Hashable, dict[Watcher, None]]] = {}
        #: index value -> keys of the current objects that have it (with index_fn only)
        self.index_keys: dict[str, set[str]] = {}
        #: live watchers with lines to write at the end of this loop iteration
        self.dirty: list[Watcher] = []
        self._flush_scheduled = False
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._bookmarks: asyncio.Task[None] | None = None
        self.bookmark_interval = bookmark_interval
        self._revision_waiters: list[tuple[int, asyncio.Future[None]]] = []
        #: key -> (value, its decoded object) of a write this server is making (see expect)
        self._expected: dict[str, tuple[bytes, dict[str, Any]]] = {}

    def expect(self, key: str, value: bytes, obj: dict[str, Any]) -> None:
        """The writer of `value` at `key` already has it decoded: when the store's event for that
        very value arrives, the cache reads the facts it keeps from `obj` instead of decoding the
        bytes again (one decode less per write). The writer must not change what those facts
        come from (namespace, labels, the index and selectable fields) after calling this.

        The bytes are compared by value (etcd's events carry copies). An event that carries
        other bytes (another writer won) simply decodes them; each key keeps only its latest expectation, and the table is
        emptied when it grows large (writes that failed leave theirs behind)."""
        expected = self._expected
        if len(expected) >= _MAX_EXPECTED and key not in expected:
            expected.clear()
        expected[key] = (value, obj)

    async def start(self) -> None:
        await self._load()
        self._task = asyncio.create_task(self._follow(), name=f"watchcache {self.prefix}")
        self._bookmarks = asyncio.create_task(self._bookmark_timer(), name=f"bookmarks {self.prefix}")

    async def stop(self) -> None:
        for task in (self._task, self._bookmarks):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._drop_all()

    def _drop_all(self) -> None:
        for w in list(self.watchers):
            w.close()
        self.watchers.clear()
        self.groups.clear()
        self.by_index.clear()

    async def _load(self) -> None:
        result = await self.store.list(self.prefix)
        index_fn, fns = self.index_fn, self.fields_fns
        self.objects = {kv.key: Entry(kv.key, kv.value, kv.mod_revision, orjson.loads(kv.value), index_fn, fns)
                        for kv in result.items}
        self.index_keys = {}
        if index_fn is not None:
            for key, entry in self.objects.items():
                self.index_keys.setdefault(entry.index, set()).add(key)
        self.revision = self.oldest = result.revision
        self.history.clear()
        self.ready.set()

    async def _follow(self) -> None:
        """Follow the store; if the watch breaks (compaction, store error), re-list and go on."""
        while True:
            try:
                # without previous values: the cache has them (etcd reads and sends one per event else)
                async for ev in self.store.watch(self.prefix, self.revision, prev=False):
                    self._apply(ev.type, ev.key, ev.value, ev.revision)
            except asyncio.CancelledError:
                raise
            except CompactedError:
                log.warning("watch cache %s: store compacted past %d; re-listing", self.prefix, self.revision)
            except Exception:  # noqa: BLE001 - a broken store watch must not kill the cache
                log.exception("watch cache %s: store watch failed; re-listing", self.prefix)
            await asyncio.sleep(0.5)
            # Watchers cannot be told what they missed: end their streams so they re-list.
            self._flush()
            self._drop_all()
            with contextlib.suppress(Exception):
                await self._load()

    async def _bookmark_timer(self) -> None:
        """Every interval, mark idle bookmark-watchers as due (one timer for all watchers)."""
        while True:
            await asyncio.sleep(self.bookmark_interval)
            for w in self.watchers:
                if w.bookmarks and not w.pending and not w.out and not w.sent:
                    w.bookmark_due = True
                    w._wake()
                w.sent = False

    def _apply(self, etype: EventType, key: str, value: bytes, revision: int) -> None:
        prev = self.objects.get(key)
        index_fn = self.index_fn
        hint = self._expected.pop(key, None) if self._expected else None
        if etype is EventType.DELETE and not value:  # the store left the deleted value out
            if prev is None:  # (a key this cache never had: nothing to remove, nobody to tell)
                self._reached(revision)
                return
            obj = prev.deleted_at(revision)
        else:
            # equal, not only the same object: etcd's events carry copies of the bytes written
            decoded = hint[1] if hint is not None and hint[0] == value else orjson.loads(value)
            obj = Entry(key, value, revision, decoded, index_fn, self.fields_fns)
        if etype is EventType.DELETE:
            self.objects.pop(key, None)
            ev = CachedEvent(DELETED, key, obj, prev, revision)
        else:
            self.objects[key] = obj
            ev = CachedEvent(MODIFIED if prev is not None else ADDED, key, obj, prev, revision)
        now_in = was_in = ""
        if index_fn is not None:
            now_in = obj.index
            was_in = prev.index if prev is not None else now_in
            if was_in != now_in or etype is EventType.DELETE:
                keys = self.index_keys.get(was_in)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del self.index_keys[was_in]
            if etype is not EventType.DELETE:
                self.index_keys.setdefault(now_in, set()).add(key)
        if len(self.history) == self.history.maxlen:
            self.oldest = self.history[0].revision
        self.history.append(ev)
        # one encoding per output format and event type for this event, shared by every group
        encoded: dict[Hashable, bytes] = {}
        for members in self.groups.values():
            self._fan_out(ev, members, encoded)
        if self.by_index:
            buckets = [self.by_index.get(now_in)]
            if was_in != now_in:
                buckets.append(self.by_index.get(was_in))
            for bucket in buckets:
                if bucket:
                    for members in bucket.values():
                        self._fan_out(ev, members, encoded)
        if self.dirty and not self._flush_scheduled:
            # one write per connection for everything applied in this loop iteration
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        self._reached(revision)

    def _reached(self, revision: int) -> None:
        """The cache is at `revision`: wake whoever waits for it."""
        self.revision = revision
        if self._revision_waiters:
            keep = []
            for rev, fut in self._revision_waiters:
                if rev <= revision:
                    if not fut.done():
                        fut.set_result(None)
                else:
                    keep.append((rev, fut))
            self._revision_waiters = keep

    @staticmethod
    def _fan_out(ev: CachedEvent, members: dict[Watcher, None], encoded: dict[Hashable, bytes]) -> None:
        """Filter and encode once for a group of identical watchers; hand the line to each."""
        leader = next(iter(members))
        type_ = leader.select(ev)
        if type_ is None:
            return
        mkey = (leader.format_key, type_)
        data = encoded.get(mkey)
        if data is None:
            data = encoded[mkey] = leader.encode(type_, ev.obj)
        framed = b"%x\r\n%b\r\n" % (len(data), data)
        revision = ev.revision
        for w in members:
            if revision > w.after and not w.closed:
                w.deliver(data, framed)

    def _flush(self) -> None:
        self._flush_scheduled = False
        dirty, self.dirty = self.dirty, []
        for w in dirty:
            w.flush()

    async def wait_for(self, revision: int, limit: float = 3.0) -> bool:
        """Wait until the cache has seen `revision` (for read-your-writes on RV=0 lists)."""
        if self.revision >= revision:
            return True
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._revision_waiters.append((revision, fut))
        try:
            await asyncio.wait_for(fut, limit)
            return True
        except TimeoutError:
            return False

    def add_watcher(self, w: Watcher, initial: bool) -> None:
        """Register `w`. initial: send ADDED for the current state first (RV "0"/absent)."""
        w.indexed_under = w.index_value if self.index_fn is not None else None
        if w.field_match is not None:
            self.use_fields(w.fields_of)
        if initial:
            w.after = self.revision
            for key in self.keys(w.indexed_under):
                entry = self.objects[key]
                if w.matches(entry):
                    w.pending.append(w.encode(ADDED, entry))
        else:
            if w.after < self.oldest:
                raise CompactedError(w.after, self.oldest, self.revision)
            # the ring is in revision order: start at the first event after w.after
            history = self.history
            start = bisect.bisect_right(_Revisions(history), w.after)
            for i in range(start, len(history)):
                w.offer(history[i])
        w._cache = self
        self.watchers.add(w)
        groups = self.groups if w.indexed_under is None else self.by_index.setdefault(w.indexed_under, {})
        groups.setdefault(w.group_key, {})[w] = None

    def remove_watcher(self, w: Watcher) -> None:
        self.watchers.discard(w)
        groups = self.groups if w.indexed_under is None else self.by_index.get(w.indexed_under)
        members = groups.get(w.group_key) if groups is not None else None
        if groups is not None and members is not None:
            members.pop(w, None)
            if not members:
                del groups[w.group_key]
                if not groups and w.indexed_under is not None:
                    self.by_index.pop(w.indexed_under, None)
        w.close()

    def keys(self, index_value: str | None = None) -> list[str]:
        """Keys of the current objects in order; only those with `index_value` when given
        (a kubelet's watch or list starts from its node's pods, not from every pod)."""
        if index_value is None or self.index_fn is None:
            return sorted(self.objects)
        return sorted(self.index_keys.get(index_value, ()))

    def use_fields(self, fn: FieldsFn) -> None:
        """Compute `fn`'s fields for each version as it is applied (a watcher selects by them)."""
        if fn not in self.fields_fns:
            self.fields_fns = (*self.fields_fns, fn)

    def get(self, key: str) -> dict[str, Any] | None:
        """The current object at `key`, decoded afresh (None when absent)."""
        entry = self.objects.get(key)
        return entry.object() if entry is not None else None

    def values(self) -> list[dict[str, Any]]:
        """Every current object, decoded."""
        return [e.object() for e in self.objects.values()]

    def entries(self, namespace: str | None, index_value: str | None = None) -> list[Entry]:
        """Current entries in key order, optionally of one namespace and one index value."""
        keys = self.keys(index_value)
        objects = self.objects
        if namespace is None:
            return [objects[k] for k in keys]
        prefix = f"{self.prefix}{namespace}/"
        return [objects[k] for k in keys if k.startswith(prefix)]

    def snapshot(self, namespace: str | None, index_value: str | None = None,
                 label_match: Callable[[dict[str, str]], bool] | None = None,
                 field_match: Callable[[dict[str, str]], bool] | None = None,
                 fields_of: FieldsFn | None = None) -> list[dict[str, Any]]:
        """Current objects in key order (decoded copies), optionally of one namespace and one
        index value, and matching the selectors (checked before anything is decoded)."""
        out = []
        for e in self.entries(namespace, index_value):
            if label_match is not None and not label_match(e.labels or {}):
                continue
            if field_match is not None and fields_of is not None and not field_match(e.fields_for(fields_of)):
                continue
            out.append(e.object())
        return out

    def snapshot_bytes(self, namespace: str | None) -> list[bytes]:
        """Like snapshot(), as JSON bytes: the stored bytes with the resourceVersion spliced in."""
        return [e.json() for e in self.entries(namespace)]
