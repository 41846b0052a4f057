"""The informer's local cache: objects by key, plus secondary indexes (client-go's Indexer).

Keys are "namespace/name", or "name" for cluster-scoped objects. Objects are the decoded dicts
the API returned and are SHARED with every other consumer of the informer: read them freely,
but copy (`copy.deepcopy`) before changing anything. With a compacting informer (compact.py)
their parts are shared between objects too (the pods of one ReplicaSet have one `containers`
list): a change in place would show in every object that shares the part.

An index is a function obj -> list of index values; `by_index(name, value)` returns every object
whose function produced `value`. "namespace" is always there; `index_by_node_name` and
`index_by_owner_uid` are the two other indexes controllers need most.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable
from typing import Any, Protocol

IndexFunc = Callable[[dict[str, Any]], list[str]]

NAMESPACE_INDEX = "namespace"
NODE_NAME_INDEX = "nodeName"
OWNER_UID_INDEX = "ownerUID"


class LabelSelectorLike(Protocol):
    """What kubelite.api.selectors.LabelSelector offers (only `matches` is needed here)."""

    def matches(self, labels: dict[str, str]) -> bool: ...


def object_key(obj: dict[str, Any]) -> str:
    """ "namespace/name", or "name" when the object has no namespace (cluster-scoped)."""
    meta = obj.get("metadata") or {}
    name = meta.get("name") or ""
    namespace = meta.get("namespace")
    return f"{namespace}/{name}" if namespace else name


def split_key(key: str) -> tuple[str | None, str]:
    """The inverse of object_key: "ns/name" -> ("ns", "name"), "name" -> (None, "name")."""
    namespace, sep, name = key.partition("/")
    if not sep:
        return None, key
    if not namespace or not name or "/" in name:
        raise ValueError(f"invalid object key {key!r}")
    return namespace, name


def index_by_namespace(obj: dict[str, Any]) -> list[str]:
    namespace = (obj.get("metadata") or {}).get("namespace")
    return [namespace] if namespace else []


def index_by_node_name(obj: dict[str, Any]) -> list[str]:
    node = (obj.get("spec") or {}).get("nodeName")
    return [node] if node else []


def index_by_owner_uid(obj: dict[str, Any]) -> list[str]:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return [str(r["uid"]) for r in refs if isinstance(r, dict) and r.get("uid")]


#: the `index_by_controller_uid` value of objects no controller owns
ORPHAN = "<orphan>"


def index_by_controller_uid(obj: dict[str, Any]) -> list[str]:
    """The uid of the controlling owner (ownerReference with controller: true), or ORPHAN.

    What a ReplicaSet may claim is what it controls plus the orphans (ControllerRefManager): with
    this index a reconcile reads those, not every pod of the namespace."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller") and ref.get("uid"):
            return [str(ref["uid"])]
    return [ORPHAN]


class Lister:
    """A thread-unsafe (asyncio-only) indexed object cache. Written by an Informer, read by anyone."""

    def __init__(self) -> None:
        self._items: dict[str, dict[str, Any]] = {}
        self._indexers: dict[str, IndexFunc] = {}
        # index name -> index value -> keys
        self._indices: dict[str, dict[str, set[str]]] = {}
        self.add_index(NAMESPACE_INDEX, index_by_namespace)

    # -- reading ----------------------------------------------------------------------------------

    def get(self, key: str) -> dict[str, Any] | None:
        return self._items.get(key)

    def get_by(self, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self._items.get(f"{namespace}/{name}" if namespace else name)

    def list(self, namespace: str | None = None, selector: LabelSelectorLike | None = None) -> builtins.list[dict[str, Any]]:
        """Objects (optionally of one namespace, optionally matching a label selector), sorted by key."""
        if namespace:
            keys: Iterable[str] = sorted(self._indices[NAMESPACE_INDEX].get(namespace, ()))
        else:
            keys = sorted(self._items)
        out = [self._items[k] for k in keys]
        if selector is not None:
            out = [o for o in out if selector.matches((o.get("metadata") or {}).get("labels") or {})]
        return out

    def add_index(self, name: str, fn: IndexFunc) -> None:
        """Register an index; existing objects are indexed at once. Re-adding a name replaces it."""
        self._indexers[name] = fn
        index: dict[str, set[str]] = {}
        self._indices[name] = index
        for key, obj in self._items.items():
            for value in self._index_values(fn, obj):
                index.setdefault(value, set()).add(key)

    def has_index(self, name: str) -> bool:
        return name in self._indexers

    def by_index(self, name: str, value: str) -> builtins.list[dict[str, Any]]:
        try:
            index = self._indices[name]
        except KeyError:
            raise KeyError(f"no index named {name!r}") from None
        return [self._items[k] for k in sorted(index.get(value, ()))]

    def index_keys(self, name: str, value: str) -> builtins.list[str]:
        return sorted(self._indices[name].get(value, ()))

    def keys(self) -> builtins.list[str]:
        return sorted(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    # -- writing (the informer, and tests that preload a cache) -----------------------------------

    def add(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        """Insert or replace an object; returns the object it replaced, if any."""
        key = object_key(obj)
        if not key:
            raise ValueError("object has no metadata.name")
        old = self._items.get(key)
        self._items[key] = obj
        for name, fn in self._indexers.items():
            values = fn(obj)
            index = self._indices[name]
            if old is not None:
                old_values = fn(old)
                if old_values == values:
                    continue  # the usual update (status, labels elsewhere): the index stays as it is
                self._drop_from(index, key, old_values)
            for value in values:  # a value listed twice is added twice to a set: harmless
                keys = index.get(value)
                if keys is None:
                    index[value] = {key}
                else:
                    keys.add(key)
        return old

    update = add

    def delete(self, obj_or_key: dict[str, Any] | str) -> dict[str, Any] | None:
        """Remove an object (given itself or its key); returns what was stored, if anything."""
        key = obj_or_key if isinstance(obj_or_key, str) else object_key(obj_or_key)
        old = self._items.pop(key, None)
        if old is not None:
            self._unindex(key, old)
        return old

    def replace(self, objs: Iterable[dict[str, Any]]) -> None:
        """Make the cache hold exactly `objs`."""
        self._items.clear()
        for index in self._indices.values():
            index.clear()
        for obj in objs:
            self.add(obj)

    def _unindex(self, key: str, obj: dict[str, Any]) -> None:
        for name, fn in self._indexers.items():
            self._drop_from(self._indices[name], key, fn(obj))

    @staticmethod
    def _drop_from(index: dict[str, set[str]], key: str, values: Iterable[str]) -> None:
        for value in values:
            keys = index.get(value)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del index[value]

    @staticmethod
    def _index_values(fn: IndexFunc, obj: dict[str, Any]) -> builtins.list[str]:
        return list(dict.fromkeys(fn(obj)))
