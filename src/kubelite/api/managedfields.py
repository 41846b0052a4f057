"""Field ownership (`metadata.managedFields`) and server-side apply.

Kubernetes records, per field manager and operation, the set of fields it last wrote, in the
FieldsV1 format: a tree whose keys are path elements, `f:<name>` for a map field,
`k:{"name":"c"}` for an item of a list merged by key, `v:<json>` for an item of a set of
scalars, and `.` for "this item itself". We flatten an object into the same paths (a tuple of
path elements per owned field) so that ownership is plain set arithmetic:

- apply: the manager's new set is exactly what it applied. A field another manager owns with a
  different value is a conflict (unless forced, which moves ownership). Fields the manager owned
  before but no longer applies are removed from the object, unless someone else still owns them.
- update (POST/PUT/PATCH): the writer takes the fields whose value it changed; other managers
  lose them. This is how `kubectl apply --server-side` learns that `.spec.replicas` belongs to
  `kubectl-client-side-apply`.

The list knowledge (which lists are keyed, by what) is the strategic-merge-patch table in
`kubelite.api.patch`; lists it does not know are atomic (owned as one leaf).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from kubelite.api.patch import (
    ApplyConflict,
    ListSchema,
    PatchError,
    StrategicMerger,
    item_key,
    json_equal,
    list_schema,
)

__all__ = ["fields_v1", "field_paths", "path_string", "record_update_manager", "server_side_apply"]

Path = tuple[str, ...]

#: Metadata the server owns; never part of anybody's field set.
_SERVER_METADATA = frozenset(
    {
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
        "selfLink",
    }
)
_TOP_IGNORED = frozenset({"apiVersion", "kind"})


def _key_json(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"), sort_keys=True)


class _Flattener:
    """Walks an object into {path: value} for owned leaves and a set of keyed-list item paths."""

    def __init__(self, schema: Mapping[str, ListSchema]) -> None:
        self.schema = schema
        self.leaves: dict[Path, Any] = {}
        self.items: set[Path] = set()

    def walk_object(self, obj: Mapping[str, Any]) -> _Flattener:
        for k, v in obj.items():
            if k in _TOP_IGNORED:
                continue
            if k == "metadata" and isinstance(v, Mapping):
                for mk, mv in v.items():
                    if mk not in _SERVER_METADATA:
                        self.walk(mv, ("f:metadata", f"f:{mk}"), f"metadata.{mk}")
            else:
                self.walk(v, (f"f:{k}",), k)
        return self

    def walk(self, value: Any, path: Path, spath: str) -> None:
        if isinstance(value, Mapping):
            if not value:
                self.leaves[path] = {}
            for k, v in value.items():
                self.walk(v, (*path, f"f:{k}"), f"{spath}.{k}")
            return
        if isinstance(value, list):
            ls = self.schema.get(spath)
            if ls is None or ls.strategy != "merge":
                self.leaves[path] = value
            elif ls.merge_key is None:
                for x in value:
                    self.leaves[(*path, f"v:{_key_json(x)}")] = x
            else:
                for item in value:
                    if not isinstance(item, Mapping) or ls.merge_key not in item:
                        self.leaves[path] = value  # malformed keyed list: own it whole
                        return
                for item in value:
                    ipath = (*path, f"k:{_key_json(item_key(ls, item))}")
                    self.items.add(ipath)
                    for k, v in item.items():
                        self.walk(v, (*ipath, f"f:{k}"), f"{spath}.{k}")
            return
        self.leaves[path] = value

    @property
    def paths(self) -> set[Path]:
        return set(self.leaves) | self.items


def field_paths(obj: Mapping[str, Any], api_version: str, kind: str) -> set[Path]:
    """Every field path an object sets (what a manager that wrote all of it would own)."""
    return _Flattener(list_schema(api_version, kind) or {}).walk_object(obj).paths


def fields_v1(paths: set[Path]) -> dict[str, Any]:
    """Encode a set of paths as a FieldsV1 tree ({"f:spec": {"f:replicas": {}}})."""
    root: dict[str, Any] = {}
    for p in sorted(paths):
        node = root
        for pe in p:
            node = node.setdefault(pe, {})
    for p in paths:
        node = root
        for pe in p:
            node = node[pe]
        if node and "." not in node:
            node["."] = {}
    return _sorted_tree(root)


def _sorted_tree(d: dict[str, Any]) -> dict[str, Any]:
    return {k: _sorted_tree(v) for k, v in sorted(d.items(), key=lambda kv: (kv[0] != ".", kv[0]))}


def _decode(tree: Any, prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    if not isinstance(tree, Mapping):
        return out
    for k, v in tree.items():
        if k == ".":
            if prefix:
                out.add(prefix)
            continue
        p = (*prefix, str(k))
        if isinstance(v, Mapping) and v:
            out |= _decode(v, p)
        else:
            out.add(p)
    return out


def path_string(path: Path) -> str:
    """Render a path as Kubernetes does in conflict messages: .spec.containers[name="c"].image"""
    out = []
    for pe in path:
        if pe.startswith("f:"):
            out.append("." + pe[2:])
        elif pe.startswith("k:"):
            try:
                key = json.loads(pe[2:])
                out.append("[" + ",".join(f"{k}={json.dumps(v)}" for k, v in key.items()) + "]")
            except (ValueError, AttributeError):
                out.append(f"[{pe[2:]}]")
        elif pe.startswith("v:"):
            out.append(f"[={pe[2:]}]")
        else:
            out.append(f"[{pe}]")
    return "".join(out)


class _Entry:
    """One managedFields entry, with its FieldsV1 decoded to a path set."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = dict(raw)
        self.manager = str(raw.get("manager", ""))
        self.operation = str(raw.get("operation", ""))
        self.subresource = str(raw.get("subresource", ""))
        self.paths = _decode(raw.get("fieldsV1") or {})
        self.changed = False

    def is_(self, manager: str, operation: str) -> bool:
        return self.manager == manager and self.operation == operation and not self.subresource

    def encode(self, now: str) -> dict[str, Any]:
        raw = dict(self.raw)
        time = now if self.changed or "time" not in raw else raw["time"]
        out: dict[str, Any] = {"manager": self.manager, "operation": self.operation}
        for k in ("apiVersion",):
            if k in raw:
                out[k] = raw[k]
        out["time"] = time
        out["fieldsType"] = "FieldsV1"
        out["fieldsV1"] = fields_v1(self.paths)
        if self.subresource:
            out["subresource"] = self.subresource
        return out


def _entries(obj: Mapping[str, Any] | None) -> list[_Entry]:
    if not obj:
        return []
    mf = (obj.get("metadata") or {}).get("managedFields")
    if not isinstance(mf, list):
        return []
    return [_Entry(e) for e in mf if isinstance(e, Mapping)]


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _store(obj: dict[str, Any], entries: list[_Entry]) -> None:
    now = _now()
    meta = obj.setdefault("metadata", {})
    kept = [e.encode(now) for e in entries if e.paths]
    if kept:
        meta["managedFields"] = kept
    else:
        meta.pop("managedFields", None)


# ---------------------------------------------------------------------------------------------
# Removing a field the applier gave up


def _remove_path(obj: Any, path: Path, schema: Mapping[str, ListSchema]) -> None:
    """Delete one owned field or list item from `obj` (silently, if it is already gone).

    Maps that the deletion leaves empty go too (an emptied `labels: {}` is nobody's field);
    list items are only removed by their own `k:`/`v:` path.
    """
    chain: list[tuple[Any, str]] = []  # (container, path element) from the root down
    node: Any = obj
    spath = ""
    for pe in path[:-1]:
        chain.append((node, pe))
        node, spath = _step(node, pe, spath, schema)
        if node is None:
            return
    last = path[-1]
    if last.startswith("f:") and isinstance(node, dict):
        if node.pop(last[2:], _GONE) is _GONE:
            return
        # Walk back up, dropping maps this removal emptied.
        while chain and isinstance(node, dict) and not node:
            parent, pe = chain.pop()
            if not (pe.startswith("f:") and isinstance(parent, dict)):
                break
            del parent[pe[2:]]
            node = parent
        return
    if isinstance(node, list):
        ls = schema.get(spath)
        if last.startswith("v:"):
            want = json.loads(last[2:])
            node[:] = [x for x in node if not json_equal(x, want)]
        elif last.startswith("k:") and ls is not None and ls.merge_key is not None:
            want = json.loads(last[2:])
            node[:] = [x for x in node if not (isinstance(x, Mapping) and item_key(ls, x) == want)]


_GONE = object()


def _step(node: Any, pe: str, spath: str, schema: Mapping[str, ListSchema]) -> tuple[Any, str]:
    if pe.startswith("f:"):
        name = pe[2:]
        if isinstance(node, dict) and name in node:
            return node[name], f"{spath}.{name}" if spath else name
        return None, spath
    if pe.startswith("k:") and isinstance(node, list):
        ls = schema.get(spath)
        if ls is None or ls.merge_key is None:
            return None, spath
        want = json.loads(pe[2:])
        for x in node:
            if isinstance(x, Mapping) and item_key(ls, x) == want:
                return x, spath
    return None, spath


def _strip_nulls(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {k: _strip_nulls(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [_strip_nulls(x) for x in v]
    return v


# ---------------------------------------------------------------------------------------------
# The two entry points


def server_side_apply(
    live: Mapping[str, Any] | None,
    applied: Mapping[str, Any],
    manager: str,
    force: bool,
    api_version: str,
    kind: str,
) -> dict[str, Any]:
    """Apply `applied` as `manager`; returns the new object with `metadata.managedFields` updated.

    Raises ApplyConflict when a field owned by another manager would change and `force` is False.
    """
    if not isinstance(applied, Mapping):
        raise PatchError("an apply configuration must be a JSON/YAML object")
    if not manager:
        raise PatchError("fieldManager is required for apply requests")
    schema = list_schema(api_version, kind) or {}
    config = _strip_nulls(applied)
    if isinstance(config.get("metadata"), dict):
        config["metadata"].pop("managedFields", None)  # ownership is the server's to record
    obj: dict[str, Any] = copy.deepcopy(dict(live)) if live else {}

    entries = _entries(live)
    mine = next((e for e in entries if e.is_(manager, "Apply")), None)
    others = [e for e in entries if e is not mine]
    want = _Flattener(schema).walk_object(config)
    have = _Flattener(schema).walk_object(obj)

    conflicts: list[tuple[str, str]] = []
    versions: dict[str, str] = {}
    taken: list[tuple[_Entry, Path]] = []
    for e in others:
        for p in sorted(e.paths & set(want.leaves)):
            if p in have.leaves and not json_equal(have.leaves[p], want.leaves[p]):
                conflicts.append((path_string(p), e.manager))
                versions.setdefault(e.manager, str(e.raw.get("apiVersion", "")))
                taken.append((e, p))
    if conflicts and not force:
        raise ApplyConflict(conflicts, versions)
    for e, p in taken:
        e.paths.discard(p)
        e.changed = True

    # Fields this manager gave up, and that nobody else holds, leave the object.
    if mine is not None:
        held = set().union(*(e.paths for e in others)) if others else set()
        dropped = mine.paths - want.paths
        for p in sorted(dropped, key=len):  # items before their fields: the key finds them
            if p in held or any(h[: len(p)] == p for h in held):
                continue
            _remove_path(obj, p, schema)

    merged = StrategicMerger(schema).merge_map(obj, config, "")
    if mine is None:
        mine = _Entry({"manager": manager, "operation": "Apply"})
        entries.append(mine)
    mine.raw["apiVersion"] = api_version
    if mine.paths != want.paths:
        mine.changed = True
    mine.paths = want.paths
    _store(merged, entries)
    return merged


def record_update_manager(
    old: Mapping[str, Any] | None, new: dict[str, Any], manager: str, api_version: str
) -> None:
    """After a non-apply write, give `manager` (operation Update) the fields it changed.

    Mutates `new["metadata"]["managedFields"]`. The client may replace managedFields itself
    (kubectl does when it migrates client-side-apply ownership); then its list is the base.
    """
    if not isinstance(new, dict):
        raise PatchError("the written object must be a JSON object")
    schema = list_schema(api_version, str(new.get("kind", ""))) or {}
    old_mf = ((old or {}).get("metadata") or {}).get("managedFields")
    new_meta = new.get("metadata") if isinstance(new.get("metadata"), dict) else {}
    new_mf = new_meta.get("managedFields") if new_meta else None
    entries = _entries(new) if new_mf is not None and new_mf != old_mf else _entries(old)

    after = _Flattener(schema).walk_object(new)
    if old is None:
        changed = after.paths
        gone: set[Path] = set()
    else:
        before = _Flattener(schema).walk_object(old)
        changed = {p for p, v in after.leaves.items()
                   if p not in before.leaves or not json_equal(before.leaves[p], v)}
        changed |= after.items - before.items
        gone = before.paths - after.paths

    for e in entries:
        n = len(e.paths)
        e.paths -= changed
        e.paths -= gone
        e.changed = e.changed or len(e.paths) != n
    if changed:
        mine = next((e for e in entries if e.is_(manager, "Update")), None)
        if mine is None:
            mine = _Entry({"manager": manager, "operation": "Update"})
            entries.append(mine)
        mine.raw["apiVersion"] = api_version
        mine.paths |= changed
        mine.changed = True
    _store(new, entries)
