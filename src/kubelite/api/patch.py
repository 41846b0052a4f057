"""The four PATCH flavours kubectl sends: JSON merge patch, JSON patch, strategic merge patch, apply.

All functions are pure: they take plain JSON dicts, never mutate their inputs, and return new
objects. Errors are `PatchError` (a ValueError the apiserver turns into a 422/400 Status) with a
message a user can act on.

Strategic merge patch (SMP) needs to know, for each list in an object, whether it is atomic
(replaced wholesale, like JSON merge patch), a set of scalars (merged as a set), or a list of
maps merged by a key field. Kubernetes keeps that in Go struct tags (`patchStrategy`,
`patchMergeKey`); here it is the table `_LIST_SCHEMA`, keyed by the dotted path of field names
from the object's root (list positions add nothing to the path), built for the kinds kubelite
serves. Lists of kinds not in the table are atomic, which is JSON merge patch semantics.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = [
    "ApplyConflict",
    "ListSchema",
    "StrategicMerger",
    "item_key",
    "PatchError",
    "PatchTestFailed",
    "json_equal",
    "json_patch",
    "list_schema",
    "merge_patch",
    "merge_patch_diff",
    "merge_patch_into",
    "record_update_manager",
    "server_side_apply",
    "strategic_merge_patch",
]


class PatchError(ValueError):
    """A patch that cannot be applied (bad operation, path, directive or shape)."""


class PatchTestFailed(PatchError):
    """A JSON patch `test` operation found a different value."""


class ApplyConflict(PatchError):
    """Server-side apply would change fields another manager owns.

    `conflicts` lists (field path like ".spec.replicas", manager name); the apiserver turns it
    into a 409 with one FieldManagerConflict cause per entry (see `causes()`).
    """

    def __init__(self, conflicts: list[tuple[str, str]], api_versions: Mapping[str, str] | None = None) -> None:
        self.conflicts = list(conflicts)
        self.api_versions = dict(api_versions or {})
        n = len(self.conflicts)
        if n == 1:
            path, mgr = self.conflicts[0]
            detail = f"{self._with(mgr)}: {path}"
        else:
            detail = "".join(f"\n- {self._with(mgr)}: {path}" for path, mgr in self.conflicts)
            detail = "conflicts:" + detail
        super().__init__(f"Apply failed with {n} conflict{'s' if n != 1 else ''}: {detail}")

    def _with(self, manager: str) -> str:
        version = self.api_versions.get(manager)
        return f'conflict with "{manager}"' + (f" using {version}" if version else "")

    def causes(self) -> list[dict[str, str]]:
        """Status `details.causes` entries, worded as the real apiserver words them."""
        return [
            {"reason": "FieldManagerConflict", "field": path, "message": self._with(mgr)}
            for path, mgr in self.conflicts
        ]


# =============================================================================================
# JSON merge patch (RFC 7386)


def clone(value: Any) -> Any:
    """An independent copy of a JSON document.

    Why: the apiserver patches whole Pods several times per pod; an orjson round trip copies a
    pod many times faster than `copy.deepcopy` (no memo, no per-node Python calls). Anything
    orjson cannot encode (non-string keys, huge ints) falls back to deepcopy.
    """
    if not isinstance(value, (dict, list)):
        return value
    try:
        return orjson.loads(orjson.dumps(value))
    except TypeError:
        return copy.deepcopy(value)


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7386 merge patch: maps merge, `null` deletes, anything else replaces."""
    if not isinstance(patch, Mapping):
        return clone(patch)
    result: dict[str, Any] = clone(dict(target)) if isinstance(target, Mapping) else {}
    return merge_patch_into(result, patch)


def merge_patch_into(target: dict[str, Any], patch: Mapping[str, Any], copy_values: bool = True) -> dict[str, Any]:
    """`merge_patch` that updates `target` in place (and returns it): no copy of the target.

    For callers that own a private copy already (the apiserver decodes the stored object
    afresh for every write). The patch's values are copied, so `patch` stays untouched, unless
    `copy_values` is False: then they are moved into `target` as they are, for a caller that
    owns the patch too and uses it once (a kubelet's status PATCH carries whole condition and
    container status lists; copying them was most of the merge's cost).
    """
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, Mapping):
            cur = target.get(key)
            target[key] = merge_patch_into(cur if isinstance(cur, dict) else {}, value, copy_values)
        else:
            target[key] = clone(value) if copy_values else value
    return target


def merge_patch_shared(target: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """`merge_patch` that leaves `target` untouched without copying it: the result is new along
    the patch's paths only (one shallow copy per patched map) and shares every other part with
    `target`. The patch's values are moved in uncopied, so the caller owns `patch` and uses it
    once, and neither the result nor `target` may be changed in place afterwards.

    Why: a kubelet's status PATCH touches `status` only; the apiserver needs the stored pod and
    the patched one side by side, and decoding the stored pod a second time to have a private
    copy to patch was a visible part of the write's cost.
    """
    out = dict(target)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping):
            cur = out.get(key)
            out[key] = merge_patch_shared(cur if isinstance(cur, Mapping) else {}, value)
        else:
            out[key] = value
    return out


def merge_patch_diff(original: Any, modified: Any) -> Any:
    """The merge patch that turns `original` into `modified` (for clients and tests).

    `null` values inside `modified` cannot be expressed by a merge patch (null means delete).
    """
    if not isinstance(original, Mapping) or not isinstance(modified, Mapping):
        return copy.deepcopy(modified)
    out: dict[str, Any] = {}
    for key in original:
        if key not in modified:
            out[key] = None
    for key, value in modified.items():
        if key not in original:
            out[key] = copy.deepcopy(value)
        elif original[key] != value or type(original[key]) is not type(value):
            if isinstance(value, Mapping) and isinstance(original[key], Mapping):
                out[key] = merge_patch_diff(original[key], value)
            else:
                out[key] = copy.deepcopy(value)
    return out


# =============================================================================================
# JSON patch (RFC 6902)

_MISSING = object()


def _pointer(path: Any) -> list[str]:
    """Split an RFC 6901 pointer into unescaped tokens ("" is the whole document)."""
    if not isinstance(path, str):
        raise PatchError(f"path must be a string, got {path!r}")
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}: must start with '/'")
    tokens = path[1:].split("/")
    out = []
    for t in tokens:
        i = t.find("~")
        while i != -1:
            if i + 1 >= len(t) or t[i + 1] not in "01":
                raise PatchError(f"invalid JSON pointer {path!r}: '~' must be followed by 0 or 1")
            i = t.find("~", i + 2)
        out.append(t.replace("~1", "/").replace("~0", "~"))
    return out


def _index(token: str, size: int, path: str, *, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return size
    if not token.isdigit() or (len(token) > 1 and token[0] == "0") or not token.isascii():
        raise PatchError(f"invalid array index {token!r} in path {path!r}")
    i = int(token)
    limit = size if allow_end else size - 1
    if i > limit:
        raise PatchError(f"array index {i} out of bounds in path {path!r}")
    return i


def _resolve(doc: Any, tokens: list[str], path: str) -> Any:
    cur = doc
    for t in tokens:
        if isinstance(cur, dict):
            if t not in cur:
                raise PatchError(f"path {path!r} does not exist")
            cur = cur[t]
        elif isinstance(cur, list):
            cur = cur[_index(t, len(cur), path, allow_end=False)]
        else:
            raise PatchError(f"path {path!r} does not exist")
    return cur


def _parent(doc: Any, tokens: list[str], path: str) -> tuple[Any, str]:
    if not tokens:
        raise PatchError(f"path {path!r} addresses the whole document")
    parent = _resolve(doc, tokens[:-1], path)
    if not isinstance(parent, dict | list):
        raise PatchError(f"path {path!r} does not exist")
    return parent, tokens[-1]


def _add(doc: Any, tokens: list[str], value: Any, path: str) -> Any:
    if not tokens:
        return value
    parent, last = _parent(doc, tokens, path)
    if isinstance(parent, dict):
        parent[last] = value
    else:
        parent.insert(_index(last, len(parent), path, allow_end=True), value)
    return doc


def _remove(doc: Any, tokens: list[str], path: str) -> tuple[Any, Any]:
    """Remove the value at `tokens`; return (document, removed value)."""
    if not tokens:
        raise PatchError("cannot remove the whole document")
    parent, last = _parent(doc, tokens, path)
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"path {path!r} does not exist")
        return doc, parent.pop(last)
    return doc, parent.pop(_index(last, len(parent), path, allow_end=False))


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0, but True is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def json_patch(target: Any, ops: Any) -> Any:
    """Apply an RFC 6902 JSON patch: add, remove, replace, move, copy, test."""
    if not isinstance(ops, list):
        raise PatchError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(target)
    for n, op in enumerate(ops):
        if not isinstance(op, Mapping):
            raise PatchError(f"operation {n} must be an object, got {op!r}")
        name = op.get("op")
        if "path" not in op:
            raise PatchError(f"operation {n} ({name}) is missing 'path'")
        path = op["path"]
        tokens = _pointer(path)
        if name in ("add", "replace", "test") and "value" not in op:
            raise PatchError(f"operation {n} ({name} {path}) is missing 'value'")
        if name == "add":
            doc = _add(doc, tokens, copy.deepcopy(op["value"]), path)
        elif name == "remove":
            doc, _ = _remove(doc, tokens, path)
        elif name == "replace":
            if not tokens:
                doc = copy.deepcopy(op["value"])
                continue
            parent, last = _parent(doc, tokens, path)
            if isinstance(parent, dict):
                if last not in parent:
                    raise PatchError(f"replace operation does not apply: doc is missing key: {path}")
                parent[last] = copy.deepcopy(op["value"])
            else:
                parent[_index(last, len(parent), path, allow_end=False)] = copy.deepcopy(op["value"])
        elif name in ("move", "copy"):
            if "from" not in op:
                raise PatchError(f"operation {n} ({name} {path}) is missing 'from'")
            src = op["from"]
            src_tokens = _pointer(src)
            if name == "move":
                if src_tokens == tokens:
                    continue
                if tokens[: len(src_tokens)] == src_tokens:
                    raise PatchError(f"cannot move {src!r} into its own child {path!r}")
                doc, value = _remove(doc, src_tokens, src)
            else:
                value = copy.deepcopy(_resolve(doc, src_tokens, src))
            doc = _add(doc, tokens, value, path)
        elif name == "test":
            try:
                have = _resolve(doc, tokens, path)
            except PatchError:
                have = _MISSING
            if have is _MISSING or not json_equal(have, op["value"]):
                raise PatchTestFailed(
                    f"testing value {path} failed: expected {json.dumps(op['value'])}, "
                    + ("path does not exist" if have is _MISSING else f"found {json.dumps(have)}")
                )
        else:
            raise PatchError(f"operation {n}: unsupported op {name!r} (add, remove, replace, move, copy, test)")
    return doc


# =============================================================================================
# Strategic merge patch: the list schema


@dataclass(frozen=True, slots=True)
class ListSchema:
    """How one list field merges: by `merge_key` (lists of maps), as a set (scalars), or atomic."""

    strategy: str  # "merge" or "replace"
    merge_key: str | None = None
    #: A second identifying field and its default, e.g. ("protocol", "TCP") for ports, so that
    #: 53/TCP and 53/UDP stay two items (Kubernetes' listMapKeys for server-side apply).
    extra_key: tuple[str, str] | None = None
    #: "retainKeys" in the patchStrategy: the items are unions (volume sources).
    retain_keys: bool = False


def _merge(key: str, retain: bool = False, extra: tuple[str, str] | None = None) -> ListSchema:
    return ListSchema("merge", key, extra, retain)


def item_key(schema: ListSchema, item: Mapping[str, Any]) -> dict[str, Any]:
    """The fields that identify a list item: the merge key, plus the defaulted extra key if any."""
    assert schema.merge_key is not None
    key = {schema.merge_key: item.get(schema.merge_key)}
    if schema.extra_key is not None:
        name, default = schema.extra_key
        key[name] = item.get(name) or default
    return key


_SET = ListSchema("merge")  # a set of scalars, e.g. metadata.finalizers

_CONTAINER: dict[str, ListSchema] = {
    "ports": _merge("containerPort", extra=("protocol", "TCP")),
    "env": _merge("name"),
    "volumeMounts": _merge("mountPath"),
    "volumeDevices": _merge("devicePath"),
}

_POD_SPEC: dict[str, ListSchema] = {
    "containers": _merge("name"),
    "initContainers": _merge("name"),
    "ephemeralContainers": _merge("name"),
    "volumes": _merge("name", retain=True),
    "imagePullSecrets": _merge("name"),
    "hostAliases": _merge("ip"),
    "topologySpreadConstraints": _merge("topologyKey"),
    "schedulingGates": _merge("name"),
    "resourceClaims": _merge("name", retain=True),
}

_POD_STATUS: dict[str, ListSchema] = {
    "conditions": _merge("type"),
    "podIPs": _merge("ip"),
    "hostIPs": _merge("ip"),
}

_METADATA: dict[str, ListSchema] = {
    "metadata.finalizers": _SET,
    "metadata.ownerReferences": _merge("uid"),
}


def _pod_spec_at(prefix: str) -> dict[str, ListSchema]:
    out = {f"{prefix}.{k}": v for k, v in _POD_SPEC.items()}
    for c in ("containers", "initContainers", "ephemeralContainers"):
        out.update({f"{prefix}.{c}.{k}": v for k, v in _CONTAINER.items()})
    return out


def _conditions(prefix: str = "status") -> dict[str, ListSchema]:
    return {f"{prefix}.conditions": _merge("type")}


def _build_schema() -> dict[tuple[str, str], dict[str, ListSchema]]:
    workload = {**_pod_spec_at("spec.template.spec"), **_conditions()}
    t: dict[tuple[str, str], dict[str, ListSchema]] = {
        ("v1", "Pod"): {**_pod_spec_at("spec"), **{f"status.{k}": v for k, v in _POD_STATUS.items()}},
        ("v1", "PodTemplate"): _pod_spec_at("template.spec"),
        ("v1", "ReplicationController"): workload,
        ("apps/v1", "Deployment"): workload,
        ("apps/v1", "ReplicaSet"): workload,
        ("apps/v1", "DaemonSet"): workload,
        ("apps/v1", "StatefulSet"): workload,
        ("batch/v1", "Job"): workload,
        ("batch/v1", "CronJob"): _pod_spec_at("spec.jobTemplate.spec.template.spec"),
        ("v1", "Service"): {
            "spec.ports": _merge("port", extra=("protocol", "TCP")),
            **_conditions(),
        },
        ("v1", "Node"): {
            "spec.podCIDRs": _SET,
            "status.addresses": _merge("type"),
            **_conditions(),
        },
        ("v1", "Namespace"): _conditions(),
        ("v1", "ConfigMap"): {},
        ("v1", "Secret"): {},
        ("v1", "ServiceAccount"): {"secrets": _merge("name"), "imagePullSecrets": _merge("name")},
        ("v1", "Endpoints"): {},
        ("v1", "Event"): {},
        ("events.k8s.io/v1", "Event"): {},
        ("coordination.k8s.io/v1", "Lease"): {},
        ("apps/v1", "ControllerRevision"): {},
        ("discovery.k8s.io/v1", "EndpointSlice"): {},
    }
    return {k: {**_METADATA, **v} for k, v in t.items()}


_LIST_SCHEMA = _build_schema()


def list_schema(api_version: str, kind: str) -> dict[str, ListSchema] | None:
    """The list-merge table for a kind, or None when kubelite has no schema for it."""
    return _LIST_SCHEMA.get((api_version, kind))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# =============================================================================================
# Strategic merge patch: the algorithm

_DIRECTIVE = "$patch"
_RETAIN = "$retainKeys"
_ORDER = "$setElementOrder/"
_DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"


class StrategicMerger:
    """One strategic merge, with the kind's list table (empty for unknown kinds)."""

    def __init__(self, schema: Mapping[str, ListSchema], *, owned: bool = False) -> None:
        self.schema = schema
        #: the original handed to merge_map is a private copy nobody else holds: maps and lists
        #: are copied shallowly on the patched paths only (untouched subtrees are kept as they are)
        self.owned = owned

    # -- maps ---------------------------------------------------------------------------------
    def merge_map(self, original: Mapping[str, Any], patch: Mapping[str, Any], path: str) -> dict[str, Any]:
        directive = patch.get(_DIRECTIVE)
        if directive is not None:
            if directive == "replace":
                return self.clean({k: v for k, v in patch.items() if k != _DIRECTIVE}, path)
            if directive == "delete":
                return {}
            if directive != "merge":
                raise PatchError(f"unknown patch type: {directive!r} in map at {path or '<root>'}")
        result = dict(original) if self.owned else copy.deepcopy(dict(original))

        if _RETAIN in patch:
            retain = patch[_RETAIN]
            if not isinstance(retain, list) or not all(isinstance(k, str) for k in retain):
                raise PatchError(f"$retainKeys at {path or '<root>'} must be a list of strings")
            for k in patch:
                if not k.startswith("$") and k not in retain and patch[k] is not None:
                    raise PatchError(f"field {_join(path, k)!r} is not in the $retainKeys list {retain}")
            for k in list(result):
                if k not in retain:
                    del result[k]

        for k, v in patch.items():
            if k.startswith(_DELETE_PRIMITIVE):
                field = k[len(_DELETE_PRIMITIVE) :]
                if not isinstance(v, list):
                    raise PatchError(f"{k} at {path or '<root>'} must be a list")
                cur = result.get(field)
                if isinstance(cur, list):
                    result[field] = [x for x in cur if x not in v]

        orders: dict[str, list[Any]] = {}
        for k, v in patch.items():
            if k.startswith(_ORDER):
                if not isinstance(v, list):
                    raise PatchError(f"{k} at {path or '<root>'} must be a list")
                orders[k[len(_ORDER) :]] = v
            elif k.startswith("$") and not k.startswith(_DELETE_PRIMITIVE) and k not in (_DIRECTIVE, _RETAIN):
                raise PatchError(f"unknown directive {k!r} at {path or '<root>'}")

        for k, v in patch.items():
            if k.startswith("$"):
                continue
            sub = _join(path, k)
            if v is None:
                result.pop(k, None)
            elif isinstance(v, Mapping):
                if v.get(_DIRECTIVE) == "delete":
                    result.pop(k, None)
                    continue
                cur = result.get(k)
                result[k] = self.merge_map(cur if isinstance(cur, Mapping) else {}, v, sub)
            elif isinstance(v, list):
                cur = result.get(k)
                result[k] = self.merge_list(cur if isinstance(cur, list) else [], v, sub)
            else:
                result[k] = copy.deepcopy(v)

        for field, order in orders.items():
            cur = result.get(field)
            if isinstance(cur, list):
                patched = patch.get(field) if isinstance(patch.get(field), list) else []
                result[field] = self.reorder(
                    original.get(field) or [], cur, patched or [], order, _join(path, field)
                )
        return result

    def clean(self, value: Any, path: str) -> Any:
        """A patch value with its directives applied to nothing (e.g. a brand-new subtree)."""
        if isinstance(value, Mapping):
            return self.merge_map({}, value, path)
        if isinstance(value, list):
            return self.merge_list([], value, path)
        return copy.deepcopy(value)

    # -- lists --------------------------------------------------------------------------------
    def merge_list(self, original: list[Any], patch: list[Any], path: str) -> list[Any]:
        schema = self.schema.get(path)
        if schema is None or schema.strategy != "merge":
            return [self.clean(x, path) for x in patch if not _is_directive_item(x)]
        if schema.merge_key is None:
            return _dedupe([*original, *patch])
        key = schema.merge_key
        if any(_is_directive_item(x, "replace") for x in patch):
            return [self.clean(x, path) for x in patch if not _is_directive_item(x)]
        result = list(original) if self.owned else copy.deepcopy(original)
        for item in patch:
            if not isinstance(item, Mapping):
                raise PatchError(f"{path}: expected a list of objects merged by {key!r}, got {item!r}")
            if _is_directive_item(item):
                continue  # e.g. {"$patch": "merge"} alone
            directive = item.get(_DIRECTIVE)
            if key not in item:
                raise PatchError(f"map: {dict(item)} does not contain declared merge key: {key} (at {path})")
            ident = item_key(schema, item)
            idx = next(
                (i for i, x in enumerate(result) if isinstance(x, Mapping) and item_key(schema, x) == ident), None
            )
            if directive == "delete":
                result = [x for x in result if not (isinstance(x, Mapping) and item_key(schema, x) == ident)]
            elif idx is None:
                result.append(self.merge_map({}, item, path))
            else:
                result[idx] = self.merge_map(result[idx], item, path)
        return result

    def reorder(
        self, server: list[Any], merged: list[Any], patched: list[Any], order: list[Any], path: str
    ) -> list[Any]:
        """Apply `$setElementOrder`: patched items in the given order, server-only items kept in place.

        Mirrors Kubernetes: the items named by the patch are sorted by the order list, the other
        items keep their server order, and the two runs are merged by server position.
        """
        schema = self.schema.get(path)
        key = schema.merge_key if schema is not None else None

        def ident(x: Any) -> Any:
            if schema is not None and key is not None and isinstance(x, Mapping):
                if key not in x:
                    raise PatchError(f"{path}: $setElementOrder item {x!r} lacks merge key {key!r}")
                return json.dumps(x[key], sort_keys=True)  # order lists name only the merge key
            return json.dumps(x, sort_keys=True)

        order_ids = [ident(x) for x in order]
        named = set(order_ids) | {ident(x) for x in patched if not _is_directive_item(x)}
        server_pos = {ident(x): i for i, x in enumerate(server)}
        ours = [x for x in merged if ident(x) in named]
        rest = [x for x in merged if ident(x) not in named]
        rank = {k: i for i, k in enumerate(order_ids)}
        ours.sort(key=lambda x: rank.get(ident(x), len(rank)))
        out: list[Any] = []
        i = j = 0
        while i < len(rest) or j < len(ours):
            if j >= len(ours):
                out.append(rest[i])
                i += 1
            elif i >= len(rest):
                out.append(ours[j])
                j += 1
            else:
                li, ri = server_pos.get(ident(rest[i])), server_pos.get(ident(ours[j]))
                if li is not None and ri is not None and li < ri:
                    out.append(rest[i])
                    i += 1
                else:
                    out.append(ours[j])
                    j += 1
        return out


def _is_directive_item(x: Any, which: str | None = None) -> bool:
    """A list element that is only a `$patch` directive ({"$patch": "replace"})."""
    if not isinstance(x, Mapping) or set(x) != {_DIRECTIVE}:
        return False
    return which is None or x[_DIRECTIVE] == which


def _dedupe(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    seen: set[str] = set()
    for x in items:
        k = json.dumps(x, sort_keys=True)
        if k not in seen:
            seen.add(k)
            out.append(copy.deepcopy(x))
    return out


def strategic_merge_patch(target: Mapping[str, Any], patch: Any, api_version: str, kind: str) -> dict[str, Any]:
    """Apply a strategic merge patch to `target` (a `kind` object at `api_version`).

    Kinds with no schema in the table merge maps as SMP does but replace every list (JSON merge
    patch semantics), which is what Kubernetes' apiserver would do for an unstructured object.
    """
    if not isinstance(patch, Mapping):
        raise PatchError("a strategic merge patch must be a JSON object")
    if not isinstance(target, Mapping):
        raise PatchError("the object to patch must be a JSON object")
    # one copy of the whole target up front; the merge then copies only what it changes
    return strategic_merge_patch_into(clone(dict(target)), patch, api_version, kind)


def strategic_merge_patch_into(target: dict[str, Any], patch: Any, api_version: str, kind: str) -> dict[str, Any]:
    """strategic_merge_patch on a private copy the caller owns: `target` is updated in place
    and no copy of it is made (the apiserver's read-modify-write decodes its own copy of the
    stored object; cloning a whole pod again per status PATCH was wasted work). Values taken
    from `patch` are still copied, so the patch can be applied again on a retry."""
    if not isinstance(patch, Mapping):
        raise PatchError("a strategic merge patch must be a JSON object")
    if not isinstance(target, dict):
        raise PatchError("the object to patch must be a JSON object")
    schema = list_schema(api_version, kind) or {}
    return StrategicMerger(schema, owned=True).merge_map(target, patch, "")


# =============================================================================================
# Server-side apply and managedFields (implemented in managedfields.py)


def server_side_apply(
    live: Mapping[str, Any] | None,
    applied: Mapping[str, Any],
    manager: str,
    force: bool,
    api_version: str,
    kind: str,
) -> dict[str, Any]:
    """Merge an applied configuration into the live object, tracking field ownership.

    See `kubelite.api.managedfields.server_side_apply`.
    """
    from kubelite.api.managedfields import server_side_apply as apply

    return apply(live, applied, manager, force, api_version, kind)


def record_update_manager(
    old: Mapping[str, Any] | None, new: dict[str, Any], manager: str, api_version: str
) -> None:
    """Record `manager` (operation Update) as owner of the fields a non-apply write changed.

    See `kubelite.api.managedfields.record_update_manager`.
    """
    from kubelite.api.managedfields import record_update_manager as record

    record(old, new, manager, api_version)
