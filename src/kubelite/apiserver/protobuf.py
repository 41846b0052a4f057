"""Decode the Kubernetes protobuf request bodies that kubectl's typed generators send.

`kubectl create namespace|configmap|secret|deployment|service|job` and `auth can-i` POST
`application/vnd.kubernetes.protobuf` and do not retry as JSON after a 415. The body is the
magic `k8s\\0` followed by a `runtime.Unknown{typeMeta(1){apiVersion(1), kind(2)}, raw(2)}`,
where raw is the typed message. This module knows, per kind, just the fields those generators
fill (field numbers from Kubernetes' generated.proto) and turns them into the JSON shape.
Unknown fields are skipped, which the wire format allows without knowing their type.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

MAGIC = b"k8s\x00"


class ProtobufError(ValueError):
    """A body that is not a well-formed Kubernetes protobuf envelope."""


# A schema maps field number -> (json name, type, repeated, sub-schema or None).
Schema = dict[int, tuple[str, str, bool, Any]]


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if i >= len(buf):
            raise ProtobufError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7
        if shift > 70:
            raise ProtobufError("varint too long")


def _fields(buf: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, value) in order; value is int or bytes."""
    out: list[tuple[int, int, Any]] = []
    i = 0
    while i < len(buf):
        tag, i = _varint(buf, i)
        num, wt = tag >> 3, tag & 7
        if wt == 0:
            v, i = _varint(buf, i)
            out.append((num, wt, v))
        elif wt == 2:
            n, i = _varint(buf, i)
            if i + n > len(buf):
                raise ProtobufError("truncated length-delimited field")
            out.append((num, wt, buf[i:i + n]))
            i += n
        elif wt == 1:
            out.append((num, wt, buf[i:i + 8]))
            i += 8
        elif wt == 5:
            out.append((num, wt, buf[i:i + 4]))
            i += 4
        else:
            raise ProtobufError(f"unsupported wire type {wt}")
    return out


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _time(buf: bytes) -> str:
    secs = 0
    for num, _, v in _fields(buf):
        if num == 1:
            secs = _signed(v)
    return dt.datetime.fromtimestamp(secs, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _map_entry(buf: bytes, value_type: str) -> tuple[str, Any]:
    key, value = "", ("" if value_type != "quantity" else "0")
    for num, _, v in _fields(buf):
        if num == 1:
            key = v.decode()
        elif num == 2:
            if value_type == "str":
                value = v.decode()
            elif value_type == "bytes":
                value = base64.b64encode(v).decode()
            else:  # Quantity{string(1)}
                value = next((x.decode() for n, _, x in _fields(v) if n == 1), "0")
    return key, value


def _int_or_string(buf: bytes) -> int | str:
    kind, ival, sval = 0, 0, ""
    for num, _, v in _fields(buf):
        if num == 1:
            kind = v
        elif num == 2:
            ival = _signed(v)
        elif num == 3:
            sval = v.decode()
    return sval if kind == 1 else ival


def decode_message(buf: bytes, schema: Schema) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for num, _wt, v in _fields(buf):
        spec = schema.get(num)
        if spec is None:
            continue
        name, typ, repeated, sub = spec
        if typ in ("str", "pstr"):
            val: Any = v.decode()
            if not val and typ == "str" and not repeated:
                continue  # Go writes "" for unset non-pointer strings: leave them out, as JSON would
        elif typ == "bytes":
            val = base64.b64encode(v).decode()
        elif typ in ("int", "pint"):
            val = _signed(v)
            if not val and typ == "int":
                continue
        elif typ in ("bool", "pbool"):
            val = bool(v)
            if not val and typ == "bool":
                continue
        elif typ == "time":
            val = _time(v)
            if val.startswith("1970-01-01T00:00:00"):
                continue  # the zero Time Go serialises for "unset"
        elif typ == "ios":
            val = _int_or_string(v)
        elif typ == "msg":
            val = decode_message(v, sub() if callable(sub) else sub)
        elif typ.startswith("map_"):
            k, mv = _map_entry(v, typ[4:])
            obj.setdefault(name, {})[k] = mv
            continue
        else:  # pragma: no cover - schema typo
            raise ProtobufError(f"bad schema type {typ}")
        if repeated:
            obj.setdefault(name, []).append(val)
        else:
            obj[name] = val
    return obj


def _f(name: str, typ: str, sub: Any = None, repeated: bool = False) -> tuple[str, str, bool, Any]:
    return (name, typ, repeated, sub)


OWNER_REF: Schema = {1: _f("kind", "str"), 3: _f("name", "str"), 4: _f("uid", "str"), 5: _f("apiVersion", "str"),
                     6: _f("controller", "bool"), 7: _f("blockOwnerDeletion", "bool")}
OBJECT_META: Schema = {
    1: _f("name", "str"), 2: _f("generateName", "str"), 3: _f("namespace", "str"), 5: _f("uid", "str"),
    6: _f("resourceVersion", "str"), 7: _f("generation", "int"), 8: _f("creationTimestamp", "time"),
    11: _f("labels", "map_str"), 12: _f("annotations", "map_str"),
    13: _f("ownerReferences", "msg", OWNER_REF, True), 14: _f("finalizers", "str", None, True),
}
LABEL_SELECTOR_REQ: Schema = {1: _f("key", "str"), 2: _f("operator", "str"), 3: _f("values", "str", None, True)}
LABEL_SELECTOR: Schema = {1: _f("matchLabels", "map_str"),
                          2: _f("matchExpressions", "msg", LABEL_SELECTOR_REQ, True)}
CONTAINER_PORT: Schema = {1: _f("name", "str"), 2: _f("hostPort", "int"), 3: _f("containerPort", "int"),
                          4: _f("protocol", "str"), 5: _f("hostIP", "str")}
ENV_VAR: Schema = {1: _f("name", "str"), 2: _f("value", "str")}
RESOURCES: Schema = {1: _f("limits", "map_quantity"), 2: _f("requests", "map_quantity")}
CONTAINER: Schema = {
    1: _f("name", "str"), 2: _f("image", "str"), 3: _f("command", "str", None, True),
    4: _f("args", "str", None, True), 5: _f("workingDir", "str"), 6: _f("ports", "msg", CONTAINER_PORT, True),
    7: _f("env", "msg", ENV_VAR, True), 8: _f("resources", "msg", RESOURCES),
    13: _f("terminationMessagePath", "str"), 14: _f("imagePullPolicy", "str"), 16: _f("stdin", "bool"),
    17: _f("stdinOnce", "bool"), 18: _f("tty", "bool"), 20: _f("terminationMessagePolicy", "str"),
}
POD_SPEC: Schema = {
    2: _f("containers", "msg", CONTAINER, True), 3: _f("restartPolicy", "str"),
    4: _f("terminationGracePeriodSeconds", "pint"), 5: _f("activeDeadlineSeconds", "pint"),
    6: _f("dnsPolicy", "str"), 7: _f("nodeSelector", "map_str"), 8: _f("serviceAccountName", "str"),
    10: _f("nodeName", "str"), 11: _f("hostNetwork", "bool"), 19: _f("schedulerName", "str"),
    20: _f("initContainers", "msg", CONTAINER, True),
}
POD_TEMPLATE: Schema = {1: _f("metadata", "msg", OBJECT_META), 2: _f("spec", "msg", POD_SPEC)}
ROLLING_UPDATE: Schema = {1: _f("maxUnavailable", "ios"), 2: _f("maxSurge", "ios")}
DEPLOYMENT_STRATEGY: Schema = {1: _f("type", "str"), 2: _f("rollingUpdate", "msg", ROLLING_UPDATE)}
DEPLOYMENT_SPEC: Schema = {
    1: _f("replicas", "pint"), 2: _f("selector", "msg", LABEL_SELECTOR), 3: _f("template", "msg", POD_TEMPLATE),
    4: _f("strategy", "msg", DEPLOYMENT_STRATEGY), 5: _f("minReadySeconds", "int"),
    6: _f("revisionHistoryLimit", "pint"), 7: _f("paused", "bool"), 9: _f("progressDeadlineSeconds", "pint"),
}
JOB_SPEC: Schema = {
    1: _f("parallelism", "pint"), 2: _f("completions", "pint"), 3: _f("activeDeadlineSeconds", "pint"),
    4: _f("selector", "msg", LABEL_SELECTOR), 5: _f("manualSelector", "pbool"), 6: _f("template", "msg", POD_TEMPLATE),
    7: _f("backoffLimit", "pint"), 8: _f("ttlSecondsAfterFinished", "pint"), 9: _f("completionMode", "pstr"),
    10: _f("suspend", "pbool"),
}
SERVICE_PORT: Schema = {1: _f("name", "str"), 2: _f("protocol", "str"), 3: _f("port", "int"),
                        4: _f("targetPort", "ios"), 5: _f("nodePort", "int"), 6: _f("appProtocol", "str")}
SERVICE_SPEC: Schema = {
    1: _f("ports", "msg", SERVICE_PORT, True), 2: _f("selector", "map_str"), 3: _f("clusterIP", "str"),
    4: _f("type", "str"), 5: _f("externalIPs", "str", None, True), 7: _f("sessionAffinity", "str"),
    10: _f("externalName", "str"), 11: _f("externalTrafficPolicy", "str"), 18: _f("clusterIPs", "str", None, True),
}
RESOURCE_ATTRIBUTES: Schema = {1: _f("namespace", "str"), 2: _f("verb", "str"), 3: _f("group", "str"),
                               4: _f("version", "str"), 5: _f("resource", "str"), 6: _f("subresource", "str"),
                               7: _f("name", "str")}
NON_RESOURCE_ATTRIBUTES: Schema = {1: _f("path", "str"), 2: _f("verb", "str")}
SSAR_SPEC: Schema = {1: _f("resourceAttributes", "msg", RESOURCE_ATTRIBUTES),
                     2: _f("nonResourceAttributes", "msg", NON_RESOURCE_ATTRIBUTES)}
TOKEN_REQUEST_SPEC: Schema = {1: _f("audiences", "str", None, True), 4: _f("expirationSeconds", "pint")}


def _top(spec: Schema | None = None, extra: Schema | None = None) -> Schema:
    s: Schema = {1: _f("metadata", "msg", OBJECT_META)}
    if spec is not None:
        s[2] = _f("spec", "msg", spec)
    if extra:
        s.update(extra)
    return s


KINDS: dict[str, Schema] = {
    "Namespace": _top({1: _f("finalizers", "str", None, True)}),
    "ConfigMap": _top(None, {2: _f("data", "map_str"), 3: _f("binaryData", "map_bytes"),
                             4: _f("immutable", "pbool")}),
    "Secret": _top(None, {2: _f("data", "map_bytes"), 3: _f("type", "str"), 4: _f("stringData", "map_str"),
                          5: _f("immutable", "pbool")}),
    "Deployment": _top(DEPLOYMENT_SPEC),
    "Job": _top(JOB_SPEC),
    "Service": _top(SERVICE_SPEC),
    "ServiceAccount": _top(),
    "SelfSubjectAccessReview": _top(SSAR_SPEC),
    "SelfSubjectReview": _top(),
    "TokenRequest": _top(TOKEN_REQUEST_SPEC),
}


def decode(body: bytes) -> dict[str, Any]:
    """The JSON-shaped object carried in a k8s protobuf envelope (ProtobufError if unknown)."""
    if not body.startswith(MAGIC):
        raise ProtobufError("protobuf body does not start with the k8s magic number")
    api_version = kind = ""
    raw = b""
    for num, _, v in _fields(body[len(MAGIC):]):
        if num == 1 and isinstance(v, bytes):
            for n2, _, v2 in _fields(v):
                if n2 == 1:
                    api_version = v2.decode()
                elif n2 == 2:
                    kind = v2.decode()
        elif num == 2 and isinstance(v, bytes):
            raw = v
    schema = KINDS.get(kind)
    if schema is None:
        raise ProtobufError(f"protobuf decoding of {api_version} {kind or '(no kind)'} is not supported; send JSON")
    obj = decode_message(raw, schema)
    out: dict[str, Any] = {"apiVersion": api_version, "kind": kind}
    out.update(obj)
    return out
