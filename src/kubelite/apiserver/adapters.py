"""The one place the apiserver calls the pure kubelite.api functions.

It translates their exceptions into the apiserver's own (SelectorError -> 400, PatchError -> 400/422,
ApplyConflict -> 409), so rest.py deals with one small vocabulary.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Protocol

from kubelite.api import defaults as _defaults
from kubelite.api import fields as _fields
from kubelite.api import patch as _patch
from kubelite.api import printers as _printers
from kubelite.api import schema as _schema
from kubelite.api import selectors as _selectors
from kubelite.api import validation as _validation


# ---------------------------------------------------------------- selectors
class SelectorError(ValueError):
    """A selector string that does not parse (-> 400 BadRequest)."""


class Matcher(Protocol):
    def matches(self, values: dict[str, str]) -> bool: ...


def parse_label_selector(text: str) -> Matcher:
    try:
        return _selectors.parse_label_selector(text)
    except ValueError as e:
        raise SelectorError(str(e)) from e


def label_selector_from_dict(d: dict[str, Any]) -> Matcher:
    try:
        return _selectors.label_selector_from_dict(d)
    except ValueError as e:
        raise SelectorError(str(e)) from e


def parse_field_selector(text: str) -> tuple[Matcher, list[str]]:
    """The matcher and the field names it uses (to reject unsupported ones)."""
    try:
        sel = _selectors.parse_field_selector(text)
    except ValueError as e:
        raise SelectorError(str(e)) from e
    return sel, [n for n in sorted(sel.fields()) if n]


# ---------------------------------------------------------------- fields
def selectable_fields(api_version: str, kind: str, obj: dict[str, Any]) -> dict[str, str]:
    return _fields.selectable_fields(api_version, kind, obj)


def supported_fields(api_version: str, kind: str) -> set[str]:
    return _fields.supported_fields(api_version, kind)


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


def _wrap(fn: Callable[..., Any], *args: Any) -> Any:
    """Call a kubelite.api.patch function, translating its exceptions into ours."""
    try:
        return fn(*args)
    except _patch.ApplyConflict as e:
        raise ApplyConflict(list(e.conflicts), dict(getattr(e, "api_versions", {}) or {})) from e
    except _patch.PatchTestFailed as e:
        raise PatchTestFailed(str(e)) from e
    except (ValueError, TypeError, KeyError, IndexError) as e:
        raise PatchError(str(e)) from e


def merge_patch(target: dict[str, Any], patch: Any) -> Any:
    return _wrap(_patch.merge_patch, target, patch)


def merge_patch_into(target: dict[str, Any], patch: Any, copy_values: bool = True) -> Any:
    """merge_patch on a private copy the caller owns: `target` is updated in place (no copy).
    copy_values=False: the caller owns `patch` too and uses it once (its values are moved in)."""
    if not isinstance(patch, dict):
        return _wrap(_patch.merge_patch, target, patch)
    return _wrap(_patch.merge_patch_into, target, patch, copy_values)


def merge_patch_shared(target: dict[str, Any], patch: dict[str, Any]) -> Any:
    """merge_patch that shares the untouched parts of `target` (left unchanged) with its result."""
    return _wrap(_patch.merge_patch_shared, target, patch)


def json_patch(target: dict[str, Any], ops: Any) -> Any:
    return _wrap(_patch.json_patch, target, ops)


def strategic_merge_patch(target: dict[str, Any], patch: Any, api_version: str, kind: str) -> Any:
    return _wrap(_patch.strategic_merge_patch, target, patch, api_version, kind)


def strategic_merge_patch_into(target: dict[str, Any], patch: Any, api_version: str, kind: str) -> Any:
    """strategic_merge_patch on a private copy the caller owns (updated in place, no copy)."""
    return _wrap(_patch.strategic_merge_patch_into, target, patch, api_version, kind)


def server_side_apply(live: dict[str, Any] | None, applied: dict[str, Any], manager: str, force: bool,
                      api_version: str, kind: str) -> Any:
    return _wrap(_patch.server_side_apply, live, applied, manager, force, api_version, kind)


def record_update_manager(old: dict[str, Any] | None, new: dict[str, Any], manager: str, api_version: str) -> None:
    try:
        _patch.record_update_manager(old, new, manager, api_version)
    except (ValueError, TypeError, KeyError) as e:  # bookkeeping must never fail a write
        raise PatchError(str(e)) from e


# ---------------------------------------------------------------- defaults / validation
def apply_defaults(api_version: str, kind: str, obj: dict[str, Any]) -> None:
    _defaults.apply_defaults(api_version, kind, obj)


def apply_update_defaults(api_version: str, kind: str, obj: dict[str, Any], old: dict[str, Any]) -> None:
    """Carry server-allocated values an update left out (a Service's clusterIP, nodePorts) over from `old`."""
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
    return _causes(_validation.validate_create(api_version, kind, obj))


def validate_update(api_version: str, kind: str, obj: dict[str, Any], old: dict[str, Any]) -> list[dict[str, str]]:
    return _causes(_validation.validate_update(api_version, kind, obj, old))


# ---------------------------------------------------------------- printers


def table_columns(api_version: str, kind: str) -> list[dict[str, Any]]:
    cols: list[dict[str, Any]] = _printers.table_columns(api_version, kind)
    return cols


def table_cells(api_version: str, kind: str, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
    cells: list[Any] = _printers.table_cells(api_version, kind, obj, now)
    return cells


# ---------------------------------------------------------------- schema
def unknown_fields(api_version: str, kind: str, obj: dict[str, Any]) -> list[str]:
    # Kubernetes names them without a leading dot: unknown field "spec.bogus"
    return [str(f).lstrip(".") for f in _schema.unknown_fields(api_version, kind, obj)]


def openapi_v3_paths() -> dict[str, Any]:
    paths: dict[str, Any] = _schema.openapi_v3_paths()
    return paths


def openapi_v3_document(group_version: str) -> dict[str, Any] | None:
    """group_version like "v1" or "apps/v1"."""
    doc: dict[str, Any] | None = _schema.openapi_v3_document(group_version)
    return doc
