"""Small object helpers shared by the REST handlers: time, names, events shapes, Tables."""

from __future__ import annotations

import datetime as dt
import os
import random
import re
import time
from typing import Any

from kubelite.api.resources import EVENTS, Resource
from kubelite.apiserver import adapters

DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")

#: kinds whose names are DNS-1123 labels (63 chars) or DNS-1035 labels, not subdomains
_LABEL_KINDS = {"Namespace"}
_DNS1035_KINDS = {"Service"}


_now_cache: tuple[int, str] = (0, "")


def now_iso() -> str:
    """The current UTC time to the second, as Kubernetes writes timestamps.

    Cached per second: every write stamps one or more timestamps, and strftime was a visible
    part of a pod create's cost."""
    global _now_cache
    sec = int(time.time())
    if _now_cache[0] != sec:
        _now_cache = (sec, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(sec)))
    return _now_cache[1]


def iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


_random_pool = b""
_random_at = 0


def new_uid() -> str:
    """A random (version 4) UUID string: uuid.uuid4()'s format, without building a UUID object.

    The bytes come from the OS in 4 KiB draws (256 uids): one getrandom() per write cost ~11 us
    of wall time on this VM, with the event loop blocked."""
    global _random_pool, _random_at
    if _random_at + 16 > len(_random_pool):
        _random_pool, _random_at = os.urandom(4096), 0
    b = bytearray(_random_pool[_random_at:_random_at + 16])
    _random_at += 16
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

#: the alphabet of Kubernetes' generated name suffixes (no vowels, no 0/1/3: no words, no look-alikes)
_NAME_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def name_suffix(length: int = 5) -> str:
    """The random suffix the apiserver appends to a generateName, as Kubernetes draws it."""
    return "".join(random.choices(_NAME_SUFFIX_ALPHABET, k=length))  # (one call, not one per letter)



def name_problem(kind: str, name: str) -> str | None:
    """The Kubernetes message for an invalid object name, or None when valid."""
    if kind in _DNS1035_KINDS:
        if len(name) > 63:
            return "must be no more than 63 characters"
        if not DNS1035_LABEL.match(name):
            return ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
                    "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
        return None
    if kind in _LABEL_KINDS:
        if len(name) > 63:
            return "must be no more than 63 characters"
        if not DNS1123_LABEL.match(name):
            return ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
                    "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
                    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
        return None
    if len(name) > 253:
        return "must be no more than 253 characters"
    if not DNS1123_SUBDOMAIN.match(name):
        return ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
                "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation "
                "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
    return None


# ------------------------------------------------------------------ events: one object, two shapes
_CORE_TO_NEW = {"involvedObject": "regarding", "message": "note", "source": "deprecatedSource",
                "firstTimestamp": "deprecatedFirstTimestamp", "lastTimestamp": "deprecatedLastTimestamp",
                "count": "deprecatedCount", "reportingComponent": "reportingController"}
_NEW_TO_CORE = {v: k for k, v in _CORE_TO_NEW.items()}


def storage_resource(res: Resource) -> Resource:
    """events.k8s.io/v1 Events live in the core events storage, as in Kubernetes."""
    return EVENTS if res.group == "events.k8s.io" else res


def to_external(res: Resource, obj: dict[str, Any]) -> dict[str, Any]:
    """The stored (core) shape converted to what `res` serves; the same dict when no conversion."""
    if res.group != "events.k8s.io":
        return obj
    out: dict[str, Any] = {"kind": "Event", "apiVersion": "events.k8s.io/v1"}
    for k, v in obj.items():
        if k in ("kind", "apiVersion"):
            continue
        out[_CORE_TO_NEW.get(k, k)] = v
    if not out.get("eventTime"):
        out["eventTime"] = None
    return out


def to_internal(res: Resource, obj: dict[str, Any]) -> dict[str, Any]:
    if res.group != "events.k8s.io":
        return obj
    out: dict[str, Any] = {"kind": "Event", "apiVersion": "v1"}
    for k, v in obj.items():
        if k in ("kind", "apiVersion"):
            continue
        out[_NEW_TO_CORE.get(k, k)] = v
    return out


# ------------------------------------------------------------------ Table
def table_row(res: Resource, obj: dict[str, Any], now: dt.datetime, include: str) -> dict[str, Any]:
    try:
        cells = adapters.table_cells(res.api_version, res.kind, obj, now)
    except Exception:  # noqa: BLE001 - a printer bug must not fail a get; show the name at least
        meta = obj.get("metadata") or {}
        cells = [meta.get("name", "")] + [""] * (len(adapters.table_columns(res.api_version, res.kind)) - 1)
    row: dict[str, Any] = {"cells": cells}
    if include == "Object":
        row["object"] = obj
    elif include != "None":
        row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                         "metadata": obj.get("metadata") or {}}
    return row


def table(res: Resource, objs: list[dict[str, Any]], rv: str, cont: str, include: str,
          columns: bool = True) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    meta: dict[str, Any] = {"resourceVersion": rv}
    if cont:
        meta["continue"] = cont
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
            "columnDefinitions": adapters.table_columns(res.api_version, res.kind) if columns else [],
            "rows": [table_row(res, o, now, include) for o in objs]}


def selector_string(selector: Any) -> str:
    """A LabelSelector (or an RC's plain map) as the `a=b,c in (d)` string Scale reports."""
    if not isinstance(selector, dict):
        return ""
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for req in selector.get("matchExpressions") or []:
        op = req.get("operator")
        key = req.get("key", "")
        vals = ",".join(sorted(req.get("values") or []))
        if op == "In":
            parts.append(f"{key} in ({vals})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({vals})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)
