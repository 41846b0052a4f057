"""The fields each kind can be selected by (`?fieldSelector=`), as Kubernetes' registries define them.

Every object supports metadata.name and metadata.namespace; a few kinds add their own (the
`GetAttrs`/`ToSelectableFields` functions of each registry in kubernetes/pkg/registry). Values are
strings ("true"/"false" for booleans, decimal for integers) and a missing field reads as "".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["selectable_fields", "supported_fields"]

_Extractor = Callable[[Mapping[str, Any]], dict[str, str]]


def _get(obj: Mapping[str, Any], path: str) -> Any:
    return _get_parts(obj, _split(path))


_SPLIT: dict[str, tuple[str, ...]] = {}


def _split(path: str) -> tuple[str, ...]:
    parts = _SPLIT.get(path)
    if parts is None:
        parts = _SPLIT[path] = tuple(path.split("."))
    return parts


def _get_parts(obj: Any, parts: tuple[str, ...]) -> Any:
    cur: Any = obj
    for part in parts:
        # (type() first: isinstance against the Mapping ABC is slow, and objects are plain dicts)
        if type(cur) is not dict and not isinstance(cur, Mapping):
            return None
        cur = cur.get(part)
    return cur


def _s(v: Any) -> str:
    """Render a field value the way Kubernetes does in its selectable field sets."""
    if type(v) is str:
        return v
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _paths(*paths: str) -> _Extractor:
    split = [(p, tuple(p.split("."))) for p in paths]

    def extract(obj: Mapping[str, Any]) -> dict[str, str]:
        return {p: _s(_get_parts(obj, parts)) for p, parts in split}

    return extract


def _map(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    v = obj.get(key)
    return v if type(v) is dict or isinstance(v, Mapping) else {}


def _pod(obj: Mapping[str, Any]) -> dict[str, str]:
    # computed for every pod write a watcher selects on (the scheduler's and each kubelet's
    # watch): written out by hand, it is several times cheaper than the generic path walk
    spec, status = _map(obj, "spec"), _map(obj, "status")
    return {
        "spec.nodeName": _s(spec.get("nodeName")),
        "spec.restartPolicy": _s(spec.get("restartPolicy")),
        "spec.schedulerName": _s(spec.get("schedulerName")),
        "spec.serviceAccountName": _s(spec.get("serviceAccountName")),
        "status.phase": _s(status.get("phase")),
        "status.podIP": _s(status.get("podIP")),
        "status.nominatedNodeName": _s(status.get("nominatedNodeName")),
        "spec.hostNetwork": "true" if spec.get("hostNetwork") else "false",
    }


_V1_EVENT_PATHS = (
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "type",
)


def _v1_event(obj: Mapping[str, Any]) -> dict[str, str]:
    out = _paths(*_V1_EVENT_PATHS)(obj)
    out["source"] = _s(_get(obj, "source.component"))
    return out


def _events_v1_event(obj: Mapping[str, Any]) -> dict[str, str]:
    """events.k8s.io/v1 stores the same Event; `regarding` is its `involvedObject`."""
    out: dict[str, str] = {}
    for p in _V1_EVENT_PATHS:
        if p.startswith("involvedObject."):
            v = _s(_get(obj, "regarding." + p.removeprefix("involvedObject.")))
            out[p] = v
            out["regarding." + p.removeprefix("involvedObject.")] = v
    out["reason"] = _s(obj.get("reason"))
    out["reportingComponent"] = _s(obj.get("reportingController"))
    out["type"] = _s(obj.get("type"))
    out["source"] = _s(_get(obj, "deprecatedSource.component"))
    return out


def _int_field(path: str) -> _Extractor:
    def extract(obj: Mapping[str, Any]) -> dict[str, str]:
        v = _get(obj, path)
        return {path: _s(v if v is not None else 0)}

    return extract


def _job(obj: Mapping[str, Any]) -> dict[str, str]:
    """Kubernetes names the field status.successful but reads status.succeeded."""
    v = _get(obj, "status.succeeded")
    return {"status.successful": _s(v if v is not None else 0)}


def _node(obj: Mapping[str, Any]) -> dict[str, str]:
    return {"spec.unschedulable": "true" if _get(obj, "spec.unschedulable") else "false"}


_BY_KIND: dict[tuple[str, str], tuple[_Extractor, frozenset[str]]] = {}


def _register(api_version: str, kind: str, extract: _Extractor, names: set[str]) -> None:
    _BY_KIND[(api_version, kind)] = (extract, frozenset(names))


_register(
    "v1",
    "Pod",
    _pod,
    {
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    },
)
_register("v1", "Event", _v1_event, {*_V1_EVENT_PATHS, "source"})
_register(
    "events.k8s.io/v1",
    "Event",
    _events_v1_event,
    {*_V1_EVENT_PATHS, "source", *("regarding." + p.split(".", 1)[1] for p in _V1_EVENT_PATHS if "." in p)},
)
_register("v1", "Node", _node, {"spec.unschedulable"})
_register("v1", "Namespace", _paths("status.phase"), {"status.phase"})
_register("v1", "Secret", _paths("type"), {"type"})
_register("v1", "ReplicationController", _int_field("status.replicas"), {"status.replicas"})
_register("apps/v1", "ReplicaSet", _int_field("status.replicas"), {"status.replicas"})
_register("batch/v1", "Job", _job, {"status.successful"})
_register("v1", "Service", _paths("spec.clusterIP", "spec.type"), {"spec.clusterIP", "spec.type"})

_COMMON = frozenset({"metadata.name", "metadata.namespace"})


def supported_fields(api_version: str, kind: str) -> set[str]:
    """The field names `?fieldSelector=` may use for this kind (others are a 400 BadRequest)."""
    entry = _BY_KIND.get((api_version, kind))
    return set(_COMMON | (entry[1] if entry else frozenset()))


def selectable_fields(api_version: str, kind: str, obj: Mapping[str, Any]) -> dict[str, str]:
    """The field set a field selector is matched against, for one object."""
    meta = obj.get("metadata") if type(obj) is dict or isinstance(obj, Mapping) else None
    meta = meta if type(meta) is dict or isinstance(meta, Mapping) else {}
    out = {"metadata.name": _s(meta.get("name")), "metadata.namespace": _s(meta.get("namespace"))}
    entry = _BY_KIND.get((api_version, kind))
    if entry is not None:
        out.update(entry[0](obj))
    return out
