"""The one place the apiserver calls the pure kubelite.api functions.

Those modules are built in parallel by other engineers. Each adapter calls the real function
when its module is importable; otherwise a deliberately minimal stand-in keeps the server usable
(equality-only selectors, merge-patch, no extra validation, NAME/AGE tables). Wiring a module
that lands later needs no change here: the import simply starts to succeed.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any, Protocol

from kubelite.api.resources import RESOURCES


def _load(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"kubelite.api.{name}")
    except ImportError:
        return None


_selectors = _load("selectors")
_fields = _load("fields")
_patch = _load("patch")
_defaults = _load("defaults")
_validation = _load("validation")
_printers = _load("printers")
_schema = _load("schema")


def available() -> dict[str, bool]:
    """Which kubelite.api modules are wired (shown in docs/tests, logged at start)."""
    return {n: m is not None for n, m in (("selectors", _selectors), ("fields", _fields), ("patch", _patch),
                                          ("defaults", _defaults), ("validation", _validation),
                                          ("printers", _printers), ("schema", _schema))}


# ---------------------------------------------------------------- selectors
class SelectorError(ValueError):
    """A selector string that does not parse (-> 400 BadRequest)."""


class Matcher(Protocol):
    def matches(self, values: dict[str, str]) -> bool: ...


class _EqualityMatcher:
    """Stand-in: `k=v`, `k==v`, `k!=v`, bare `k` / `!k`, comma-AND."""

    def __init__(self, text: str) -> None:
        self.reqs: list[tuple[str, str, str | None]] = []
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            if "!=" in part:
                k, v = part.split("!=", 1)
                self.reqs.append((k.strip(), "!=", v.strip()))
            elif "==" in part:
                k, v = part.split("==", 1)
                self.reqs.append((k.strip(), "=", v.strip()))
            elif "=" in part:
                k, v = part.split("=", 1)
                self.reqs.append((k.strip(), "=", v.strip()))
            elif part.startswith("!"):
                self.reqs.append((part[1:].strip(), "!", None))
            elif " " in part or "(" in part:
                raise SelectorError(f"unable to parse requirement: {part!r}")
            else:
                self.reqs.append((part, "exists", None))

    def matches(self, values: dict[str, str]) -> bool:
        for k, op, v in self.reqs:
            have = values.get(k)
            if op == "=" and have != v:
                return False
            if op == "!=" and have == v:
                return False
            if op == "exists" and have is None:
                return False
            if op == "!" and have is not None:
                return False
        return True

    @property
    def field_names(self) -> list[str]:
        return [k for k, _, _ in self.reqs]


def parse_label_selector(text: str) -> Matcher:
    if _selectors is not None:
        try:
            sel: Matcher = _selectors.parse_label_selector(text)
            return sel
        except ValueError as e:
            raise SelectorError(str(e)) from e
    return _EqualityMatcher(text)


def label_selector_from_dict(d: dict[str, Any]) -> Matcher:
    if _selectors is not None:
        try:
            sel: Matcher = _selectors.label_selector_from_dict(d)
            return sel
        except ValueError as e:
            raise SelectorError(str(e)) from e
    return _EqualityMatcher(",".join(f"{k}={v}" for k, v in (d.get("matchLabels") or {}).items()))


def parse_field_selector(text: str) -> tuple[Matcher, list[str]]:
    """The matcher and the field names it uses (to reject unsupported ones)."""
    if _selectors is not None:
        try:
            sel = _selectors.parse_field_selector(text)
        except ValueError as e:
            raise SelectorError(str(e)) from e
        if hasattr(sel, "fields"):
            names = sorted(sel.fields())
        else:
            names = [r[0] for r in getattr(sel, "requirements", [])]
        return sel, [n for n in names if n]
    m = _EqualityMatcher(text)
    return m, m.field_names


# ---------------------------------------------------------------- fields
_STANDIN_FIELDS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
            "status.phase", "status.podIP", "status.nominatedNodeName"),
    "Event": ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
              "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
              "reason", "reportingComponent", "source", "type"),
    "Secret": ("type",),
    "Node": ("spec.unschedulable",),
    "Namespace": ("status.phase",),
}


def _dig(obj: dict[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def selectable_fields(api_version: str, kind: str, obj: dict[str, Any]) -> dict[str, str]:
    if _fields is not None:
        out: dict[str, str] = _fields.selectable_fields(api_version, kind, obj)
        return out
    meta = obj.get("metadata") or {}
    fields = {"metadata.name": meta.get("name", ""), "metadata.namespace": meta.get("namespace", "")}
    for f in _STANDIN_FIELDS.get(kind, ()):
        fields[f] = _dig(obj, f)
    return fields


def supported_fields(api_version: str, kind: str) -> set[str]:
    if _fields is not None:
        out: set[str] = _fields.supported_fields(api_version, kind)
        return out
    return {"metadata.name", "metadata.namespace", *_STANDIN_FIELDS.get(kind, ())}


# ---------------------------------------------------------------- patch
class PatchError(ValueError):
    """A patch that cannot be applied (-> 400/422)."""


class PatchTestFailed(PatchError):
    """A json-patch `test` op failed (-> 422)."""


class ApplyConflict(Exception):
    def __init__(self, conflicts: list[tuple[str, str]], api_versions: dict[str, str] | None = None) -> None:
        super().__init__(f"{len(conflicts)} conflicts")
        self.conflicts = conflicts
        #: manager -> the apiVersion it wrote with (for "conflict with X using apps/v1")
        self.api_versions = api_versions or {}


def _rfc7386(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = _rfc7386(out.get(k), v)
    return out


def _wrap(fn: Callable[..., Any], *args: Any) -> Any:
    """Call a kubelite.api.patch function, translating its exceptions into ours."""
    assert _patch is not None
    try:
        return fn(*args)
    except _patch.ApplyConflict as e:
        raise ApplyConflict(list(e.conflicts), dict(getattr(e, "api_versions", {}) or {})) from e
    except _patch.PatchTestFailed as e:
        raise PatchTestFailed(str(e)) from e
    except (ValueError, TypeError, KeyError, IndexError) as e:
        raise PatchError(str(e)) from e


def merge_patch(target: dict[str, Any], patch: Any) -> Any:
    if _patch is not None:
        return _wrap(_patch.merge_patch, target, patch)
    return _rfc7386(target, patch)


def merge_patch_into(target: dict[str, Any], patch: Any) -> Any:
    """merge_patch on a private copy the caller owns: `target` is updated in place (no copy)."""
    if _patch is not None and hasattr(_patch, "merge_patch_into"):
        if not isinstance(patch, dict):
            return _wrap(_patch.merge_patch, target, patch)
        return _wrap(_patch.merge_patch_into, target, patch)
    return merge_patch(target, patch)


def json_patch(target: dict[str, Any], ops: Any) -> Any:
    if _patch is not None:
        return _wrap(_patch.json_patch, target, ops)
    raise PatchError("json-patch is not available in this build (kubelite.api.patch missing)")


def strategic_merge_patch(target: dict[str, Any], patch: Any, api_version: str, kind: str) -> Any:
    if _patch is not None:
        return _wrap(_patch.strategic_merge_patch, target, patch, api_version, kind)
    return _rfc7386(target, patch)


def server_side_apply(live: dict[str, Any] | None, applied: dict[str, Any], manager: str, force: bool,
                      api_version: str, kind: str) -> Any:
    if _patch is not None:
        return _wrap(_patch.server_side_apply, live, applied, manager, force, api_version, kind)
    return _rfc7386(live or {}, applied)


def record_update_manager(old: dict[str, Any] | None, new: dict[str, Any], manager: str, api_version: str) -> None:
    if _patch is not None and hasattr(_patch, "record_update_manager"):
        try:
            _patch.record_update_manager(old, new, manager, api_version)
        except (ValueError, TypeError, KeyError) as e:  # bookkeeping must never fail a write
            raise PatchError(str(e)) from e


# ---------------------------------------------------------------- defaults / validation
def apply_defaults(api_version: str, kind: str, obj: dict[str, Any]) -> None:
    if _defaults is not None:
        _defaults.apply_defaults(api_version, kind, obj)


def apply_update_defaults(api_version: str, kind: str, obj: dict[str, Any], old: dict[str, Any]) -> None:
    """Carry server-allocated values an update left out (a Service's clusterIP, nodePorts) over from `old`."""
    if _defaults is not None and hasattr(_defaults, "apply_update_defaults"):
        _defaults.apply_update_defaults(api_version, kind, obj, old)


def _causes(items: Any) -> list[dict[str, str]]:
    out = []
    for c in items or []:
        if isinstance(c, dict):
            out.append({"reason": c.get("reason", ""), "message": c.get("message", ""), "field": c.get("field", "")})
        else:
            out.append({"reason": c.reason, "message": c.message, "field": c.field})
    return out


def validate_create(api_version: str, kind: str, obj: dict[str, Any]) -> list[dict[str, str]]:
    if _validation is not None:
        return _causes(_validation.validate_create(api_version, kind, obj))
    return []


def validate_update(api_version: str, kind: str, obj: dict[str, Any], old: dict[str, Any]) -> list[dict[str, str]]:
    if _validation is not None:
        return _causes(_validation.validate_update(api_version, kind, obj, old))
    return []


# ---------------------------------------------------------------- printers
_NAME_AGE = [
    {"name": "Name", "type": "string", "format": "name", "priority": 0,
     "description": "Name must be unique within a namespace."},
    {"name": "Age", "type": "string", "format": "", "priority": 0,
     "description": "CreationTimestamp is a timestamp representing the server time when this object was created."},
]


def human_age(created: str | None, now: dt.datetime) -> str:
    if not created:
        return "<unknown>"
    try:
        t = dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return "<unknown>"
    s = max(0, int((now - t).total_seconds()))
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = m // 60
    if h < 48:
        return f"{h}h"
    return f"{h // 24}d"


def table_columns(api_version: str, kind: str) -> list[dict[str, Any]]:
    if _printers is not None:
        cols: list[dict[str, Any]] = _printers.table_columns(api_version, kind)
        return cols
    return _NAME_AGE


def table_cells(api_version: str, kind: str, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
    if _printers is not None:
        cells: list[Any] = _printers.table_cells(api_version, kind, obj, now)
        return cells
    meta = obj.get("metadata") or {}
    return [meta.get("name", ""), human_age(meta.get("creationTimestamp"), now)]


# ---------------------------------------------------------------- schema
def unknown_fields(api_version: str, kind: str, obj: dict[str, Any]) -> list[str]:
    if _schema is not None:
        # Kubernetes names them without a leading dot: unknown field "spec.bogus"
        return [str(f).lstrip(".") for f in _schema.unknown_fields(api_version, kind, obj)]
    return []


def openapi_v3_paths() -> dict[str, Any]:
    if _schema is not None:
        paths: dict[str, Any] = _schema.openapi_v3_paths()
        return paths
    gvs = dict.fromkeys(r.api_version for r in RESOURCES)
    return {"paths": {("api/" + gv if "/" not in gv else "apis/" + gv):
                      {"serverRelativeURL": f"/openapi/v3/{'api/' + gv if '/' not in gv else 'apis/' + gv}?hash=0"}
                      for gv in gvs}}


def openapi_v3_document(group_version: str) -> dict[str, Any] | None:
    """group_version like "v1" or "apps/v1"."""
    if _schema is not None:
        doc: dict[str, Any] | None = _schema.openapi_v3_document(group_version)
        return doc
    paths: dict[str, Any] = {}
    for r in RESOURCES:
        if r.api_version != group_version:
            continue
        gvk = {"group": r.group, "version": r.version, "kind": r.kind}
        params = [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
                  {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
                  {"name": "dryRun", "in": "query", "schema": {"type": "string"}}]
        path = r.path("{namespace}" if r.namespaced else None, "{name}")
        paths[path] = {"patch": {"x-kubernetes-group-version-kind": gvk, "parameters": params},
                       "put": {"x-kubernetes-group-version-kind": gvk, "parameters": params}}
        paths[r.path("{namespace}" if r.namespaced else None)] = {
            "post": {"x-kubernetes-group-version-kind": gvk, "parameters": params}}
    if not paths:
        return None
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.4"}, "paths": paths,
            "components": {"schemas": {}}}
