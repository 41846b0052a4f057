"""Informer transforms: make cached objects small (client-go's `SetTransform`).

A decoded pod is ~1.5 KB of JSON but ~8.5 KB of Python objects, and a component caches every pod.
Yet the pods of one ReplicaSet repeat the same labels, ownerReferences, containers, tolerations,
and every pod repeats the same strings ("Running", "ClusterFirst", timestamps of the same second).
`Compactor` rewrites a freshly decoded object so that:

- every part (a dict or list at any depth) equal to the same part of the version it replaces
  (`old`) IS that part: a status write leaves spec and most metadata as they were;
- every part equal to a part seen recently, in any object, is that earlier part (hash-consing:
  the key is `orjson.dumps(part)`, C-fast; the table is bounded, two generations of at most
  `max_entries`, so it never grows with the cluster); parts that rarely repeat (metadata, a pod's
  status) are learned per path and not hashed, which keeps the cost per event small;
- equal strings are one string (a bounded table of our own, not sys.intern: interned strings
  are immortal in some Python versions, and uids and names come and go); `metadata.managedFields` is dropped (no controller or scheduler reads
  it, as kube-scheduler drops it; an update without it keeps the stored one, see managedfields.py).

The result equals the input (minus managedFields). The price: parts are SHARED between cached
objects, so a consumer must never change an object from an informer or a lister in place (that
was already the rule; it now also corrupts other objects): copy first (`copy.deepcopy`, or
`dict(obj)` / `{**obj, "status": ...}` down the path it changes). The top level of each object is
its own (never shared), so `obj.setdefault("kind", ...)` stays safe.

Only JSON values (dict, list, str, int, float, bool, None, as orjson decodes them) are expected.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import orjson

Obj = dict[str, Any]
#: (freshly decoded object, the cached version it replaces or None) -> the object to cache
Transform = Callable[[Obj, Obj | None], Obj]

_dumps = orjson.dumps
_JSONError = orjson.JSONEncodeError

#: a path is "cold" (not worth hashing) once it has been tried this many times with fewer hits than
#: one in COLD_RATIO; a cold path is still tried once every REPROBE visits, so that it can warm up
WARMUP, COLD_RATIO, REPROBE, DECAY = 32, 8, 64, 1024

#: kinds cached as decoded (only managedFields dropped): few objects, each large and rewritten
#: often (an Endpoints of 1000 addresses: 1.8 ms to decode, 6 ms with compaction, for little
#: memory), or small and rewritten every few seconds (a Lease per node)
SKIP_KINDS = frozenset({"Endpoints", "EndpointSlice", "Lease", "Event"})


def process_compactor() -> Compactor | None:
    """The transform for a component's informers: a new Compactor, or None (objects cached as
    decoded) when the environment says KUBELITE_COMPACT=0, to measure what compaction saves
    (bench/memory.py --compare)."""
    if os.environ.get("KUBELITE_COMPACT", "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    return Compactor()


class _Path:
    """Hit statistics of one position in the tree (a key path; list items share one)."""

    __slots__ = ("tries", "hits", "visits", "children")

    def __init__(self) -> None:
        self.tries = 0
        self.hits = 0
        self.visits = 0
        self.children: dict[str | None, _Path] = {}

    def child(self, key: str | None) -> _Path:
        c = self.children.get(key)
        if c is None:
            c = self.children[key] = _Path()
        return c

    def reprobe(self) -> bool:
        """For a cold path: whether to try hashing this time anyway."""
        self.visits += 1
        return self.visits % REPROBE == 0

    def record(self, hit: bool) -> None:
        self.tries += 1
        self.hits += hit
        if self.tries >= DECAY:  # forget slowly: what repeats changes with the workload
            self.tries //= 2
            self.hits //= 2


class Compactor:
    """A transform that shares equal parts between cached objects. One per process is best (the
    table is what finds equal parts); it is not thread-safe (asyncio: one loop)."""

    def __init__(self, max_entries: int = 4096, *, max_strings: int = 65536,
                 drop_managed_fields: bool = True, skip_kinds: frozenset[str] = SKIP_KINDS) -> None:
        if max_entries < 1 or max_strings < 1:
            raise ValueError("max_entries and max_strings must be >= 1")
        self.max_entries = max_entries
        self.max_strings = max_strings
        self._young_str: dict[str, str] = {}
        self._old_str: dict[str, str] = {}
        self.drop_managed_fields = drop_managed_fields
        self.skip_kinds = skip_kinds
        self._young: dict[bytes, Any] = {}
        self._old: dict[bytes, Any] = {}
        self._roots: dict[str, _Path] = {}  # per kind: a pod's and a node's paths differ
        #: counters, for benchmarks and tests
        self.hits = 0
        self.misses = 0

    def __call__(self, new: Obj, old: Obj | None = None) -> Obj:
        return self.compact(new, old)

    def __len__(self) -> int:
        """Entries in the table of parts (at most 2 x max_entries)."""
        return len(self._young) + len(self._old)

    @property
    def strings(self) -> int:
        """Entries in the table of strings (at most 2 x max_strings)."""
        return len(self._young_str) + len(self._old_str)

    def compact(self, new: Obj, old: Obj | None = None) -> Obj:
        """Compact `new` in place (and return it). `new` must be freshly decoded and not yet shared;
        `old` is the cached version it replaces, if any (read, never changed)."""
        if self.drop_managed_fields:
            meta = new.get("metadata")
            if meta.__class__ is dict and "managedFields" in meta:
                del meta["managedFields"]
        kind = new.get("kind")
        if kind in self.skip_kinds:
            return new
        root = self._roots.get(kind if isinstance(kind, str) else "")
        if root is None:
            root = self._roots[kind if isinstance(kind, str) else ""] = _Path()
        self._fill(new, old if old.__class__ is dict else None, root)  # the top level stays its own
        return new

    def verify(self) -> int:
        """How many shared parts no longer equal what they were stored as: a consumer changed an
        object from a cache in place (0 is the only right answer; tests and debugging call this)."""
        bad = 0
        for table in (self._young, self._old):
            for key, value in table.items():
                try:
                    if _dumps(value) != key:
                        bad += 1
                except _JSONError:
                    bad += 1
        return bad

    # -- the table ----------------------------------------------------------------------------------

    def _string(self, s: str) -> str:
        """The one copy of a string equal to `s` (two generations, as the table of parts)."""
        found = self._young_str.get(s)
        if found is not None:
            return found
        found = self._old_str.get(s)
        if found is not None:
            s = found
        self._young_str[s] = s
        if len(self._young_str) >= self.max_strings:
            self._old_str = self._young_str
            self._young_str = {}
        return s

    def _lookup_old(self, key: bytes) -> Any:
        hit = self._old.get(key)
        if hit is not None:
            self._store(key, hit)  # still in use: keep it young
        return hit

    def _store(self, key: bytes, value: Any) -> None:
        self._young[key] = value
        if len(self._young) >= self.max_entries:
            self._old = self._young
            self._young = {}

    # -- the walk -----------------------------------------------------------------------------------

    def _fill(self, d: dict[str, Any], old: dict[str, Any] | None, path: _Path) -> None:
        """Compact the values of the dict `d` in place; a value equal to old's (same key, same type:
        a status write leaves most of them) is replaced by old's at once, with no walk."""
        children = path.children
        strings = self._young_str  # (if it turns old meanwhile, a hit there is still right)
        if old is None:
            for k, v in d.items():
                cls = v.__class__
                if cls is str:
                    d[k] = strings.get(v) or self._string(v)
                elif cls is dict or cls is list:
                    sub = children.get(k)
                    if sub is None:
                        sub = path.child(k)
                    d[k] = self._part(v, None, sub)
            return
        for k, v in d.items():
            cls = v.__class__
            ov = old.get(k)
            if ov.__class__ is cls and ov == v:
                d[k] = ov
            elif cls is str:
                d[k] = strings.get(v) or self._string(v)
            elif cls is dict or cls is list:
                sub = children.get(k)
                if sub is None:
                    sub = path.child(k)
                d[k] = self._part(v, ov, sub)

    def _part(self, value: Any, old: Any, path: _Path) -> Any:
        """The shared equivalent of a dict or list `value` (compacted in place if new); `old` is
        the part at the same place in the previous version, known to differ (callers compare
        first). It runs for every part of every event: calls and attribute reads are its cost."""
        key = None
        if path.tries < WARMUP or path.hits * COLD_RATIO >= path.tries or path.reprobe():
            try:
                key = _dumps(value)
            except _JSONError:
                key = None  # not JSON (a caller's own object): compact it, do not share it
            if key is not None:
                hit = self._young.get(key)
                if hit is None:
                    hit = self._lookup_old(key)
                path.record(hit is not None)
                if hit is not None:
                    self.hits += 1
                    return hit
                self.misses += 1
        if value.__class__ is dict:
            self._fill(value, old if old.__class__ is dict else None, path)
        else:
            n_old = len(old) if old.__class__ is list else 0
            sub = None
            strings = self._young_str
            for i, v in enumerate(value):
                cls = v.__class__
                ov = old[i] if i < n_old else None
                if ov.__class__ is cls and ov == v:
                    value[i] = ov
                elif cls is str:
                    value[i] = strings.get(v) or self._string(v)
                elif cls is dict or cls is list:
                    if sub is None:
                        sub = path.child(None)
                    value[i] = self._part(v, ov, sub)
        if key is not None:
            self._store(key, value)
        return value
