"""API validation: the 422 Invalid causes a real apiserver returns, one per bad field.

The field paths ("spec.containers[0].image") and messages ("Required value", `Invalid value:
"Foo_bar": a lowercase RFC 1123 subdomain must ...`) follow Kubernetes' field.Error rendering, so
that kubectl prints `The Pod "web" is invalid: spec.containers[0].image: Required value` the way
users know it. The server runs defaulting first, then validation (as Kubernetes does), so rules
here may assume defaulted fields; anything missing is reported, never raised.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from kubelite.api import resources
from kubelite.api.quantity import QuantityError, parse_quantity

Obj = dict[str, Any]

__all__ = ["Cause", "validate_create", "validate_update"]


@dataclass(frozen=True, slots=True)
class Cause:
    """One StatusCause: reason (FieldValueRequired, ...), field path, and message."""

    reason: str
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.message, "field": self.field}


# ---------------------------------------------------------------------------------------------
# field.Error constructors (messages exactly as apimachinery's ErrorBody renders them)


def _fmt(value: Any) -> str:
    """Go's rendering of a bad value: strings quoted, numbers bare, maps/lists as Go literals."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(value, int | float):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        inner = ", ".join(f"{_fmt(k)}:{_fmt(value[k])}" for k in sorted(value))
        return "map[string]string{" + inner + "}"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "[]string{" + ", ".join(_fmt(v) for v in value) + "}"
    import json

    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def required(field: str, detail: str = "") -> Cause:
    return Cause("FieldValueRequired", field, "Required value" + (f": {detail}" if detail else ""))


def invalid(field: str, value: Any, detail: str = "") -> Cause:
    return Cause("FieldValueInvalid", field, f"Invalid value: {_fmt(value)}" + (f": {detail}" if detail else ""))


def not_supported(field: str, value: Any, supported: Iterable[str]) -> Cause:
    quoted = ", ".join(f'"{s}"' for s in sorted(supported))
    return Cause("FieldValueNotSupported", field, f"Unsupported value: {_fmt(value)}: supported values: {quoted}")


def duplicate(field: str, value: Any) -> Cause:
    return Cause("FieldValueDuplicate", field, f"Duplicate value: {_fmt(value)}")


def forbidden(field: str, detail: str) -> Cause:
    return Cause("FieldValueForbidden", field, f"Forbidden: {detail}")


def too_long(field: str, max_len: int) -> Cause:
    return Cause("FieldValueTooLong", field, f"Too long: may not be more than {max_len} bytes")


def not_found(field: str, value: Any) -> Cause:
    return Cause("FieldValueNotFound", field, f"Not found: {_fmt(value)}")


def _join(path: str, child: str) -> str:
    return f"{path}.{child}" if path else child


# ---------------------------------------------------------------------------------------------
# Name and label syntax (k8s.io/apimachinery/pkg/util/validation)

_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = _DNS1123_LABEL + r"(\." + _DNS1123_LABEL + r")*"
_DNS1035_LABEL = r"[a-z]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = r"(" + _QUALIFIED_NAME + r")?"
_ENV_VAR = r"[-._a-zA-Z][-._a-zA-Z0-9]*"
_CONFIG_KEY = r"[-._a-zA-Z0-9]+"

_RE = {name: re.compile("^" + rx + "$") for name, rx in {
    "label": _DNS1123_LABEL, "subdomain": _DNS1123_SUBDOMAIN, "dns1035": _DNS1035_LABEL,
    "qualified": _QUALIFIED_NAME, "value": _LABEL_VALUE, "env": _ENV_VAR, "configkey": _CONFIG_KEY,
}.items()}


def _regex_msg(what: str, rx: str, examples: list[str]) -> str:
    ex = ",  or ".join(f"'{e}'" for e in examples)
    return f"{what} (e.g. {ex}, regex used for validation is '{rx}')"


DNS1123_LABEL_MSG = _regex_msg(
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
    "start and end with an alphanumeric character", _DNS1123_LABEL, ["my-name", "123-abc"])
DNS1123_SUBDOMAIN_MSG = _regex_msg(
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
    "must start and end with an alphanumeric character", _DNS1123_SUBDOMAIN, ["example.com"])
DNS1035_LABEL_MSG = _regex_msg(
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character", _DNS1035_LABEL, ["my-name", "abc-123"])
_QUALIFIED_MSG = _regex_msg(
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character", _QUALIFIED_NAME, ["MyName", "my.name", "123-abc"])
_QUALIFIED_TOO_MANY_MSG = "a qualified name" + _QUALIFIED_MSG[len("name part"):] + (
    " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')")
_LABEL_VALUE_MSG = _regex_msg(
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
    "must start and end with an alphanumeric character", _LABEL_VALUE, ["MyValue", "my_value", "12345"])
_ENV_MSG = _regex_msg(
    "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', "
    "and must not start with a digit", _ENV_VAR, ["my.env-name", "MY_ENV.NAME", "MyEnvName1"])
_CONFIG_KEY_MSG = _regex_msg(
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.'", _CONFIG_KEY,
    ["key.name", "KEY_NAME", "key-name"])


def dns1123_label_errors(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _RE["label"].match(value):
        errs.append(DNS1123_LABEL_MSG)
    return errs


def dns1123_subdomain_errors(value: str) -> list[str]:
    errs = []
    if len(value) > 253:
        errs.append("must be no more than 253 characters")
    if not _RE["subdomain"].match(value):
        errs.append(DNS1123_SUBDOMAIN_MSG)
    return errs


def dns1035_label_errors(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _RE["dns1035"].match(value):
        errs.append(DNS1035_LABEL_MSG)
    return errs


def qualified_name_errors(value: str) -> list[str]:
    """IsQualifiedName: an optional DNS subdomain prefix and '/', then a name part."""
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
        errs: list[str] = []
    elif len(parts) == 2:
        prefix, name = parts
        errs = []
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs += ["prefix part " + m for m in dns1123_subdomain_errors(prefix)]
    else:
        return [_QUALIFIED_TOO_MANY_MSG]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part must be no more than 63 characters")
    if name and not _RE["qualified"].match(name):
        errs.append(_QUALIFIED_MSG)
    return errs


def label_value_errors(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _RE["value"].match(value):
        errs.append(_LABEL_VALUE_MSG)
    return errs


def _iana_svc_name_errors(value: str) -> list[str]:
    errs = []
    if len(value) > 15:
        errs.append("must be no more than 15 characters")
    if not re.match(r"^[-a-z0-9]+$", value):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if "--" in value:
        errs.append("must not contain consecutive hyphens")
    if not re.search(r"[a-z]", value):
        errs.append("must contain at least one letter (a-z)")
    if value.startswith("-") or value.endswith("-"):
        errs.append("must not begin or end with a hyphen")
    return errs


NameCheck = Callable[[str], list[str]]


# ---------------------------------------------------------------------------------------------
# Collector: a list of causes plus typed accessors that report wrong JSON types.


class _V:
    def __init__(self) -> None:
        self.causes: list[Cause] = []

    def add(self, cause: Cause) -> None:
        self.causes.append(cause)

    def obj(self, parent: Any, key: str, path: str, *, need: bool = False) -> Obj:
        v = parent.get(key) if isinstance(parent, dict) else None
        if v is None:
            if need:
                self.add(required(path))
            return {}
        if not isinstance(v, dict):
            self.add(invalid(path, v, "must be an object"))
            return {}
        return v

    def lst(self, parent: Any, key: str, path: str) -> list[Any]:
        v = parent.get(key) if isinstance(parent, dict) else None
        if v is None:
            return []
        if not isinstance(v, list):
            self.add(invalid(path, v, "must be a list"))
            return []
        return v

    def string(self, parent: Any, key: str, path: str) -> str:
        v = parent.get(key) if isinstance(parent, dict) else None
        if v is None:
            return ""
        if not isinstance(v, str):
            self.add(invalid(path, v, "must be a string"))
            return ""
        return v

    def integer(self, parent: Any, key: str, path: str) -> int | None:
        v = parent.get(key) if isinstance(parent, dict) else None
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int):
            self.add(invalid(path, v, "must be an integer"))
            return None
        return v

    def min_int(self, parent: Any, key: str, path: str, minimum: int = 0) -> int | None:
        v = self.integer(parent, key, path)
        if v is not None and v < minimum:
            self.add(invalid(path, v, f"must be greater than or equal to {minimum}"))
        return v

    def name(self, value: str, path: str, check: NameCheck) -> None:
        for msg in check(value):
            self.add(invalid(path, value, msg))

    def enum(self, value: Any, path: str, allowed: Iterable[str], *, need: bool = True) -> None:
        if value is None or value == "":
            if need:
                self.add(required(path))
            return
        if value not in set(allowed):
            self.add(not_supported(path, value, allowed))

    def labels(self, labels: Any, path: str) -> None:
        if labels is None:
            return
        if not isinstance(labels, dict):
            self.add(invalid(path, labels, "must be a map of string keys to string values"))
            return
        for k, v in labels.items():
            for msg in qualified_name_errors(k):
                self.add(invalid(path, k, msg))
            if not isinstance(v, str):
                self.add(invalid(path, v, "must be a string"))
                continue
            for msg in label_value_errors(v):
                self.add(invalid(path, v, msg))


# ---------------------------------------------------------------------------------------------
# ObjectMeta

_NAME_CHECKS: dict[str, NameCheck] = {
    "Namespace": dns1123_label_errors,
    "Service": dns1035_label_errors,
}
TOTAL_ANNOTATION_SIZE = 256 * 1024


def _path_segment_errors(name: str) -> list[str]:
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


def _validate_meta(v: _V, kind: str, obj: Obj, namespaced: bool | None) -> Obj:
    meta = v.obj(obj, "metadata", "metadata", need=True)
    check = _NAME_CHECKS.get(kind, dns1123_subdomain_errors)
    name = v.string(meta, "name", "metadata.name")
    generate = v.string(meta, "generateName", "metadata.generateName")
    if generate and not name:
        masked = generate[:-1] if len(generate) > 1 and generate.endswith("-") else generate
        v.name(masked, "metadata.generateName", check)
    if not name and not generate:
        v.add(required("metadata.name", "name or generateName is required"))
    elif name:
        errs = _path_segment_errors(name) or check(name)
        for msg in errs:
            v.add(invalid("metadata.name", name, msg))
    ns = v.string(meta, "namespace", "metadata.namespace")
    if namespaced is True:
        if not ns:
            v.add(required("metadata.namespace"))
        else:
            v.name(ns, "metadata.namespace", dns1123_label_errors)
    elif namespaced is False and ns:
        v.add(forbidden("metadata.namespace", "not allowed on this type"))
    v.labels(meta.get("labels"), "metadata.labels")
    annotations = meta.get("annotations")
    if annotations is not None:
        if not isinstance(annotations, dict):
            v.add(invalid("metadata.annotations", annotations, "must be a map of string keys to string values"))
        else:
            total = 0
            for k, val in annotations.items():
                for msg in qualified_name_errors(k.lower()):
                    v.add(invalid("metadata.annotations", k, msg))
                if not isinstance(val, str):
                    v.add(invalid(f"metadata.annotations[{k}]", val, "must be a string"))
                    continue
                total += len(k.encode()) + len(val.encode())
            if total > TOTAL_ANNOTATION_SIZE:
                v.add(too_long("metadata.annotations", TOTAL_ANNOTATION_SIZE))
    for i, ref in enumerate(v.lst(meta, "ownerReferences", "metadata.ownerReferences")):
        p = f"metadata.ownerReferences[{i}]"
        if not isinstance(ref, dict):
            v.add(invalid(p, ref, "must be an object"))
            continue
        for key in ("apiVersion", "kind", "name"):
            if not ref.get(key):
                v.add(invalid(f"{p}.{key}", ref.get(key, ""), f"{key} must not be empty"))
        if not ref.get("uid"):
            v.add(invalid(f"{p}.uid", ref.get("uid", ""), "uid must not be empty"))
    for i, fin in enumerate(v.lst(meta, "finalizers", "metadata.finalizers")):
        if not isinstance(fin, str):
            v.add(invalid(f"metadata.finalizers[{i}]", fin, "must be a string"))
            continue
        for msg in qualified_name_errors(fin):
            v.add(invalid(f"metadata.finalizers[{i}]", fin, msg))
    return meta


# ---------------------------------------------------------------------------------------------
# Quantities and resources


def _quantity(v: _V, value: Any, path: str) -> Any:
    """Parse a quantity; report and return None when it is not one."""
    try:
        q = parse_quantity(value)
    except QuantityError:
        v.add(invalid(path, value, "quantities must match the regular expression "
                                   "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"))
        return None
    if q < 0:
        v.add(invalid(path, value, "must be greater than or equal to 0"))
        return None
    return q


def _resource_name_errors(name: str) -> list[str]:
    if name in ("cpu", "memory", "ephemeral-storage", "storage", "pods") or name.startswith("hugepages-"):
        return []
    errs = qualified_name_errors(name)
    if not errs and "/" not in name:
        errs = ["must be a standard resource type or fully qualified"]
    return errs


def _validate_resources(v: _V, res: Obj, path: str) -> None:
    parsed: dict[str, dict[str, Any]] = {}
    for part in ("limits", "requests"):
        values = v.obj(res, part, f"{path}.{part}")
        parsed[part] = {}
        for name, value in values.items():
            p = f"{path}.{part}[{name}]"
            for msg in _resource_name_errors(name):
                v.add(invalid(p, name, msg))
            q = _quantity(v, value, p)
            if q is not None:
                parsed[part][name] = q
    for name, req in parsed["requests"].items():
        lim = parsed["limits"].get(name)
        if lim is not None and req > lim:
            v.add(invalid(f"{path}.requests", res["requests"][name],
                          f"must be less than or equal to {name} limit of {res['limits'][name]}"))


# ---------------------------------------------------------------------------------------------
# Pod spec

RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
PROTOCOLS = ("TCP", "UDP", "SCTP")
TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def _port_number(v: _V, value: Any, path: str, *, allow_name: bool = False, need: bool = True) -> None:
    if value is None or value == 0 or value == "":
        if need:
            v.add(required(path))
        return
    if isinstance(value, str) and allow_name:
        for msg in _iana_svc_name_errors(value):
            v.add(invalid(path, value, msg))
        return
    if isinstance(value, bool) or not isinstance(value, int):
        v.add(invalid(path, value, "must be an integer"))
        return
    if not 1 <= value <= 65535:
        v.add(invalid(path, value, "must be between 1 and 65535, inclusive"))


def _validate_handler(v: _V, handler: Obj, path: str, *, probe: bool) -> None:
    kinds = [k for k in ("exec", "httpGet", "tcpSocket", "grpc", "sleep") if handler.get(k) is not None]
    if not kinds:
        v.add(required(path, "must specify a handler type"))
        return
    if len(kinds) > 1:
        v.add(forbidden(f"{path}.{kinds[1]}", "may not specify more than 1 handler type"))
    http = v.obj(handler, "httpGet", f"{path}.httpGet")
    if http:
        _port_number(v, http.get("port"), f"{path}.httpGet.port", allow_name=True)
        scheme = http.get("scheme")
        if scheme is not None:
            v.enum(scheme, f"{path}.httpGet.scheme", ("HTTP", "HTTPS"))
    tcp = v.obj(handler, "tcpSocket", f"{path}.tcpSocket")
    if tcp:
        _port_number(v, tcp.get("port"), f"{path}.tcpSocket.port", allow_name=True)
    exec_ = v.obj(handler, "exec", f"{path}.exec")
    if handler.get("exec") is not None and not v.lst(exec_, "command", f"{path}.exec.command"):
        v.add(required(f"{path}.exec.command"))
    if probe:
        for key in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold",
                    "failureThreshold"):
            v.min_int(handler, key, f"{path}.{key}", 0)


def _validate_container(v: _V, c: Any, path: str, volumes: set[str], *, init: bool) -> str:
    if not isinstance(c, dict):
        v.add(invalid(path, c, "must be an object"))
        return ""
    name = v.string(c, "name", f"{path}.name")
    if not name:
        v.add(required(f"{path}.name"))
    else:
        v.name(name, f"{path}.name", dns1123_label_errors)
    if not v.string(c, "image", f"{path}.image").strip():
        v.add(required(f"{path}.image"))
    v.enum(c.get("imagePullPolicy"), f"{path}.imagePullPolicy", PULL_POLICIES)
    v.enum(c.get("terminationMessagePolicy"), f"{path}.terminationMessagePolicy", TERMINATION_MESSAGE_POLICIES,
           need=False)
    if init and c.get("restartPolicy") is not None:
        v.enum(c.get("restartPolicy"), f"{path}.restartPolicy", ("Always",))
    elif not init and c.get("restartPolicy") is not None:
        v.add(forbidden(f"{path}.restartPolicy", "may not be set for non-init containers"))
    for key in ("command", "args"):
        for i, item in enumerate(v.lst(c, key, f"{path}.{key}")):
            if not isinstance(item, str):
                v.add(invalid(f"{path}.{key}[{i}]", item, "must be a string"))
    port_names: set[str] = set()
    for i, port in enumerate(v.lst(c, "ports", f"{path}.ports")):
        p = f"{path}.ports[{i}]"
        if not isinstance(port, dict):
            v.add(invalid(p, port, "must be an object"))
            continue
        pname = v.string(port, "name", f"{p}.name")
        if pname:
            for msg in _iana_svc_name_errors(pname):
                v.add(invalid(f"{p}.name", pname, msg))
            if pname in port_names:
                v.add(duplicate(f"{p}.name", pname))
            port_names.add(pname)
        _port_number(v, port.get("containerPort"), f"{p}.containerPort")
        if port.get("hostPort") not in (None, 0):
            _port_number(v, port.get("hostPort"), f"{p}.hostPort")
        v.enum(port.get("protocol"), f"{p}.protocol", PROTOCOLS)
    for i, env in enumerate(v.lst(c, "env", f"{path}.env")):
        p = f"{path}.env[{i}]"
        if not isinstance(env, dict):
            v.add(invalid(p, env, "must be an object"))
            continue
        ename = v.string(env, "name", f"{p}.name")
        if not ename:
            v.add(required(f"{p}.name"))
        elif not _RE["env"].match(ename):
            v.add(invalid(f"{p}.name", ename, _ENV_MSG))
        if env.get("value") is not None and env.get("valueFrom") is not None:
            v.add(invalid(f"{p}.valueFrom", "", "may not be specified when `value` is not empty"))
    for i, mount in enumerate(v.lst(c, "volumeMounts", f"{path}.volumeMounts")):
        p = f"{path}.volumeMounts[{i}]"
        if not isinstance(mount, dict):
            v.add(invalid(p, mount, "must be an object"))
            continue
        mname = v.string(mount, "name", f"{p}.name")
        if not mname:
            v.add(required(f"{p}.name"))
        elif mname not in volumes:
            v.add(not_found(f"{p}.name", mname))
        if not v.string(mount, "mountPath", f"{p}.mountPath"):
            v.add(required(f"{p}.mountPath"))
    _validate_resources(v, v.obj(c, "resources", f"{path}.resources"), f"{path}.resources")
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = v.obj(c, key, f"{path}.{key}")
        if c.get(key) is not None and isinstance(c.get(key), dict):
            _validate_handler(v, probe, f"{path}.{key}", probe=True)
    lifecycle = v.obj(c, "lifecycle", f"{path}.lifecycle")
    for key in ("postStart", "preStop"):
        if isinstance(lifecycle.get(key), dict):
            _validate_handler(v, lifecycle[key], f"{path}.lifecycle.{key}", probe=False)
    return name


_VOLUME_SOURCES = (
    "emptyDir", "hostPath", "configMap", "secret", "downwardAPI", "projected", "persistentVolumeClaim",
    "nfs", "csi", "ephemeral", "image", "iscsi", "local",
)


def _validate_volumes(v: _V, spec: Obj, path: str) -> set[str]:
    names: set[str] = set()
    for i, vol in enumerate(v.lst(spec, "volumes", f"{path}.volumes")):
        p = f"{path}.volumes[{i}]"
        if not isinstance(vol, dict):
            v.add(invalid(p, vol, "must be an object"))
            continue
        name = v.string(vol, "name", f"{p}.name")
        if not name:
            v.add(required(f"{p}.name"))
        else:
            v.name(name, f"{p}.name", dns1123_label_errors)
            if name in names:
                v.add(duplicate(f"{p}.name", name))
            names.add(name)
        sources = [k for k in vol if k != "name" and vol[k] is not None]
        if len(sources) > 1:
            v.add(forbidden(f"{p}.{sources[1]}", "may not specify more than 1 volume type"))
        for key in ("configMap", "secret", "downwardAPI", "projected"):
            src = v.obj(vol, key, f"{p}.{key}")
            mode = src.get("defaultMode")
            if mode is not None and (not isinstance(mode, int) or isinstance(mode, bool) or not 0 <= mode <= 0o777):
                v.add(invalid(f"{p}.{key}.defaultMode", mode, "must be a number between 0 and 0777 (octal), "
                                                             "both inclusive"))
        if "secret" in vol and not v.string(v.obj(vol, "secret", f"{p}.secret"), "secretName", f"{p}.secret.secretName"):
            v.add(required(f"{p}.secret.secretName"))
        host_path = v.obj(vol, "hostPath", f"{p}.hostPath")
        if "hostPath" in vol and not v.string(host_path, "path", f"{p}.hostPath.path"):
            v.add(required(f"{p}.hostPath.path"))
        pvc = v.obj(vol, "persistentVolumeClaim", f"{p}.persistentVolumeClaim")
        if "persistentVolumeClaim" in vol and not v.string(pvc, "claimName", f"{p}.persistentVolumeClaim.claimName"):
            v.add(required(f"{p}.persistentVolumeClaim.claimName"))
    return names


#: pod specs known to be valid, by their JSON (with the path and the restart policies they were
#: checked with): the pods of one ReplicaSet share one spec, and checking it again for each of
#: 10,000 pods was most of a pod create's validation. The check is a pure function of these, so a
#: known-valid spec is valid again. Bounded (cleared when full); invalid specs are never kept.
_VALID_SPECS: set[tuple[bytes, str, tuple[str, ...]]] = set()
_VALID_SPECS_MAX = 1024


def _spec_memo_key(spec: Obj, path: str, restart_policies: tuple[str, ...]) -> tuple[bytes, str, tuple[str, ...]] | None:
    """The memo key of a spec, or None when its JSON would not tell it apart from another spec:
    orjson writes NaN/Infinity as null (so specs with a null are not memoised) and YAML's dates
    or binary values are not JSON (passed through, so encoding them fails)."""
    try:
        raw = orjson.dumps(spec, option=orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS
                           | orjson.OPT_PASSTHROUGH_DATACLASS)
    except TypeError:
        return None
    return None if b"null" in raw else (raw, path, restart_policies)


def _validate_pod_spec(v: _V, spec: Obj, path: str, *, restart_policies: tuple[str, ...] = RESTART_POLICIES) -> None:
    key = _spec_memo_key(spec, path, restart_policies)
    if key is not None and key in _VALID_SPECS:
        return
    before = len(v.causes)
    _check_pod_spec(v, spec, path, restart_policies)
    if key is not None and len(v.causes) == before:
        if len(_VALID_SPECS) >= _VALID_SPECS_MAX:
            _VALID_SPECS.clear()
        _VALID_SPECS.add(key)


def _check_pod_spec(v: _V, spec: Obj, path: str, restart_policies: tuple[str, ...]) -> None:
    volumes = _validate_volumes(v, spec, path)
    containers = v.lst(spec, "containers", f"{path}.containers")
    if not containers:
        v.add(required(f"{path}.containers"))
    seen: set[str] = set()
    for key, init in (("initContainers", True), ("containers", False)):
        for i, c in enumerate(containers if key == "containers" else v.lst(spec, key, f"{path}.{key}")):
            cpath = f"{path}.{key}[{i}]"
            name = _validate_container(v, c, cpath, volumes, init=init)
            if name:
                if name in seen:
                    v.add(duplicate(f"{cpath}.name", name))
                seen.add(name)
    policy = spec.get("restartPolicy")
    if policy is None or policy == "":
        if restart_policies == ("OnFailure", "Never"):
            v.add(required(f"{path}.restartPolicy", 'valid values: "OnFailure", "Never"'))
        else:
            v.add(required(f"{path}.restartPolicy"))
    elif policy not in restart_policies:
        v.add(not_supported(f"{path}.restartPolicy", policy, restart_policies))
    v.enum(spec.get("dnsPolicy"), f"{path}.dnsPolicy", DNS_POLICIES)
    if spec.get("dnsPolicy") == "None" and not isinstance(spec.get("dnsConfig"), dict):
        v.add(required(f"{path}.dnsConfig", "must provide `dnsConfig` when `dnsPolicy` is None"))
    v.min_int(spec, "terminationGracePeriodSeconds", f"{path}.terminationGracePeriodSeconds", 0)
    ads = v.integer(spec, "activeDeadlineSeconds", f"{path}.activeDeadlineSeconds")
    if ads is not None and not 1 <= ads <= 2147483647:
        v.add(invalid(f"{path}.activeDeadlineSeconds", ads, "must be between 1 and 2147483647, inclusive"))
    node_name = v.string(spec, "nodeName", f"{path}.nodeName")
    if node_name:
        v.name(node_name, f"{path}.nodeName", dns1123_subdomain_errors)
    sa = v.string(spec, "serviceAccountName", f"{path}.serviceAccountName")
    if sa:
        v.name(sa, f"{path}.serviceAccountName", dns1123_subdomain_errors)
    hostname = v.string(spec, "hostname", f"{path}.hostname")
    if hostname:
        v.name(hostname, f"{path}.hostname", dns1123_label_errors)
    subdomain = v.string(spec, "subdomain", f"{path}.subdomain")
    if subdomain:
        v.name(subdomain, f"{path}.subdomain", dns1123_label_errors)
    v.labels(spec.get("nodeSelector"), f"{path}.nodeSelector")
    for i, tol in enumerate(v.lst(spec, "tolerations", f"{path}.tolerations")):
        p = f"{path}.tolerations[{i}]"
        if not isinstance(tol, dict):
            v.add(invalid(p, tol, "must be an object"))
            continue
        key = v.string(tol, "key", f"{p}.key")
        if key:
            for msg in qualified_name_errors(key):
                v.add(invalid(f"{p}.key", key, msg))
        op = tol.get("operator")
        if op is not None and op != "":
            v.enum(op, f"{p}.operator", ("Equal", "Exists"))
        if op == "Exists" and tol.get("value"):
            v.add(invalid(f"{p}.operator", tol.get("value"), "value must be empty when `operator` is 'Exists'"))
        if not key and op != "Exists":
            v.add(invalid(f"{p}.operator", op or "", "operator must be Exists when `key` is empty, which "
                                                         "means \"match all values and all keys\""))
        if tol.get("effect"):
            v.enum(tol.get("effect"), f"{p}.effect", TAINT_EFFECTS)


# ---------------------------------------------------------------------------------------------
# Selectors


def _validate_label_selector(v: _V, sel: Obj, path: str) -> None:
    v.labels(sel.get("matchLabels"), f"{path}.matchLabels")
    for i, expr in enumerate(v.lst(sel, "matchExpressions", f"{path}.matchExpressions")):
        p = f"{path}.matchExpressions[{i}]"
        if not isinstance(expr, dict):
            v.add(invalid(p, expr, "must be an object"))
            continue
        key = v.string(expr, "key", f"{p}.key")
        for msg in qualified_name_errors(key):
            v.add(invalid(f"{p}.key", key, msg))
        op = expr.get("operator")
        values = v.lst(expr, "values", f"{p}.values")
        if op in ("In", "NotIn"):
            if not values:
                v.add(required(f"{p}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist"):
            if values:
                v.add(forbidden(f"{p}.values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        else:
            v.add(invalid(f"{p}.operator", op, "not a valid selector operator"))
        for j, val in enumerate(values):
            if not isinstance(val, str):
                v.add(invalid(f"{p}.values[{j}]", val, "must be a string"))
                continue
            for msg in label_value_errors(val):
                v.add(invalid(f"{p}.values[{j}]", val, msg))


def selector_matches(sel: Obj, labels: dict[str, Any]) -> bool:
    """Whether a metav1.LabelSelector selects these labels (empty selector: everything)."""
    for k, val in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != val:
            return False
    for expr in sel.get("matchExpressions") or []:
        if not isinstance(expr, dict):
            return False
        key, op, values = str(expr.get("key")), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _validate_selected_template(v: _V, spec: Obj, kind_word: str, *,
                                restart_policies: tuple[str, ...] = ("Always",),
                                selector_needed: bool = True) -> None:
    """Selector + pod template of a Deployment/ReplicaSet/DaemonSet/Job."""
    sel = v.obj(spec, "selector", "spec.selector", need=selector_needed)
    has_selector = isinstance(spec.get("selector"), dict)
    if has_selector:
        _validate_label_selector(v, sel, "spec.selector")
        if not sel.get("matchLabels") and not sel.get("matchExpressions"):
            v.add(invalid("spec.selector", sel, f"empty selector is invalid for {kind_word}"))
    template = v.obj(spec, "template", "spec.template", need=True)
    tmeta = v.obj(template, "metadata", "spec.template.metadata")
    raw_labels = tmeta.get("labels")
    labels: dict[str, Any] = raw_labels if isinstance(raw_labels, dict) else {}
    v.labels(tmeta.get("labels"), "spec.template.metadata.labels")
    if has_selector and (sel.get("matchLabels") or sel.get("matchExpressions")) and not selector_matches(sel, labels):
        v.add(invalid("spec.template.metadata.labels", labels, "`selector` does not match template `labels`"))
    if isinstance(template.get("spec"), dict) or template:
        tspec = v.obj(template, "spec", "spec.template.spec", need=True)
        if tspec:
            _validate_pod_spec(v, tspec, "spec.template.spec", restart_policies=restart_policies)


def _int_or_percent(v: _V, value: Any, path: str) -> int | None:
    """An IntOrString like maxUnavailable: returns the int, or the percent for "25%"."""
    if value is None:
        return None
    if isinstance(value, bool):
        v.add(invalid(path, value, "must be an integer or percentage"))
        return None
    if isinstance(value, int):
        if value < 0:
            v.add(invalid(path, value, "must be greater than or equal to 0"))
        return value
    if isinstance(value, str):
        if not re.match(r"^[0-9]+%$", value):
            v.add(invalid(path, value, "a valid percent string must be a numeric string followed by an ending "
                                       "'%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"))
            return None
        pct = int(value[:-1])
        if pct > 100:
            v.add(invalid(path, value, "must not be greater than 100%"))
        return pct
    v.add(invalid(path, value, "must be an integer or percentage"))
    return None


def _validate_rolling(v: _V, ru: Obj, path: str) -> None:
    unavailable = _int_or_percent(v, ru.get("maxUnavailable"), f"{path}.maxUnavailable")
    surge = _int_or_percent(v, ru.get("maxSurge"), f"{path}.maxSurge")
    if unavailable == 0 and surge == 0:
        v.add(invalid(f"{path}.maxUnavailable", ru.get("maxUnavailable"), "may not be 0 when `maxSurge` is 0"))


# ---------------------------------------------------------------------------------------------
# Per kind


def _pod(v: _V, obj: Obj) -> None:
    spec = v.obj(obj, "spec", "spec", need=True)
    if spec:
        _validate_pod_spec(v, spec, "spec")


def _pod_template(v: _V, obj: Obj) -> None:
    template = v.obj(obj, "template", "template", need=True)
    v.labels(v.obj(template, "metadata", "template.metadata").get("labels"), "template.metadata.labels")
    spec = v.obj(template, "spec", "template.spec", need=True)
    if spec:
        _validate_pod_spec(v, spec, "template.spec")


def _deployment(v: _V, obj: Obj) -> None:
    spec = v.obj(obj, "spec", "spec", need=True)
    v.min_int(spec, "replicas", "spec.replicas")
    v.min_int(spec, "minReadySeconds", "spec.minReadySeconds")
    v.min_int(spec, "revisionHistoryLimit", "spec.revisionHistoryLimit")
    pds = v.min_int(spec, "progressDeadlineSeconds", "spec.progressDeadlineSeconds")
    mrs_raw = spec.get("minReadySeconds")
    mrs = mrs_raw if isinstance(mrs_raw, int) else 0
    if pds is not None and pds <= mrs:
        v.add(invalid("spec.progressDeadlineSeconds", pds, "must be greater than minReadySeconds"))
    strategy = v.obj(spec, "strategy", "spec.strategy")
    stype = strategy.get("type")
    v.enum(stype, "spec.strategy.type", ("Recreate", "RollingUpdate"), need=False)
    if stype == "Recreate" and strategy.get("rollingUpdate") is not None:
        v.add(forbidden("spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'"))
    elif stype in (None, "RollingUpdate"):
        _validate_rolling(v, v.obj(strategy, "rollingUpdate", "spec.strategy.rollingUpdate"),
                          "spec.strategy.rollingUpdate")
    _validate_selected_template(v, spec, "deployment")


def _replicaset(v: _V, obj: Obj) -> None:
    spec = v.obj(obj, "spec", "spec", need=True)
    v.min_int(spec, "replicas", "spec.replicas")
    v.min_int(spec, "minReadySeconds", "spec.minReadySeconds")
    _validate_selected_template(v, spec, "replicaset")


def _replicationcontroller(v: _V, obj: Obj) -> None:
    spec = v.obj(obj, "spec", "spec", need=True)
    v.min_int(spec, "replicas", "spec.replicas")
    v.min_int(spec, "minReadySeconds", "spec.minReadySeconds")
    selector = spec.get("selector")
    if not selector:
        v.add(required("spec.selector"))
    else:
        v.labels(selector, "spec.selector")
    template = v.obj(spec, "template", "spec.template", need=True)
    if template:
        labels = v.obj(template, "metadata", "spec.template.metadata").get("labels") or {}
        v.labels(labels, "spec.template.metadata.labels")
        if isinstance(selector, dict) and isinstance(labels, dict) and any(
                labels.get(k) != val for k, val in selector.items()):
            v.add(invalid("spec.template.metadata.labels", labels, "selector does not match labels in spec.template"))
        tspec = v.obj(template, "spec", "spec.template.spec", need=True)
        if tspec:
            _validate_pod_spec(v, tspec, "spec.template.spec", restart_policies=("Always",))


def _daemonset(v: _V, obj: Obj) -> None:
    spec = v.obj(obj, "spec", "spec", need=True)
    v.min_int(spec, "minReadySeconds", "spec.minReadySeconds")
    v.min_int(spec, "revisionHistoryLimit", "spec.revisionHistoryLimit")
    strategy = v.obj(spec, "updateStrategy", "spec.updateStrategy")
    stype = strategy.get("type")
    v.enum(stype, "spec.updateStrategy.type", ("OnDelete", "RollingUpdate"), need=False)
    if stype in (None, "RollingUpdate"):
        _validate_rolling(v, v.obj(strategy, "rollingUpdate", "spec.updateStrategy.rollingUpdate"),
                          "spec.updateStrategy.rollingUpdate")
    _validate_selected_template(v, spec, "daemonset")


def _job(v: _V, obj: Obj) -> None:
    spec = v.obj(obj, "spec", "spec", need=True)
    for key in ("parallelism", "completions", "backoffLimit"):
        v.min_int(spec, key, f"spec.{key}")
    ads = v.integer(spec, "activeDeadlineSeconds", "spec.activeDeadlineSeconds")
    if ads is not None and ads <= 0:
        v.add(invalid("spec.activeDeadlineSeconds", ads, "must be greater than or equal to 1"))
    ttl = spec.get("ttlSecondsAfterFinished")
    if ttl is not None:
        v.min_int(spec, "ttlSecondsAfterFinished", "spec.ttlSecondsAfterFinished")
    mode = spec.get("completionMode")
    v.enum(mode, "spec.completionMode", ("Indexed", "NonIndexed"), need=False)
    if mode == "Indexed" and spec.get("completions") is None:
        v.add(required("spec.completions", "when completion mode is Indexed"))
    # Without manualSelector the selector is generated from the uid by defaulting.
    manual = spec.get("manualSelector") is True
    _validate_selected_template(v, spec, "job", restart_policies=("OnFailure", "Never"),
                                selector_needed=manual or spec.get("selector") is not None)


def _service(v: _V, obj: Obj) -> None:
    spec = v.obj(obj, "spec", "spec", need=True)
    stype = spec.get("type") or "ClusterIP"
    v.enum(spec.get("type"), "spec.type", ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort"), need=False)
    v.enum(spec.get("sessionAffinity"), "spec.sessionAffinity", ("ClientIP", "None"), need=False)
    cluster_ip = v.string(spec, "clusterIP", "spec.clusterIP")
    headless = cluster_ip == "None"
    if stype == "ExternalName":
        ext = v.string(spec, "externalName", "spec.externalName")
        if not ext:
            v.add(required("spec.externalName"))
        else:
            v.name(ext.rstrip("."), "spec.externalName", dns1123_subdomain_errors)
    for i, ip in enumerate(v.lst(spec, "clusterIPs", "spec.clusterIPs")):
        if ip != "None" and not _is_ip(ip):
            v.add(invalid(f"spec.clusterIPs[{i}]", ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
    if cluster_ip and cluster_ip != "None" and not spec.get("clusterIPs") and not _is_ip(cluster_ip):
        v.add(invalid("spec.clusterIPs[0]", cluster_ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
    if headless and stype in ("NodePort", "LoadBalancer"):
        v.add(invalid("spec.clusterIPs[0]", "None", f"may not be set to 'None' for {stype} services"))
    for i, ip in enumerate(v.lst(spec, "externalIPs", "spec.externalIPs")):
        if not _is_ip(ip):
            v.add(invalid(f"spec.externalIPs[{i}]", ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
    ports = v.lst(spec, "ports", "spec.ports")
    if not ports and stype != "ExternalName" and not headless:
        v.add(required("spec.ports"))
    names: set[str] = set()
    seen: set[tuple[Any, Any]] = set()
    for i, port in enumerate(ports):
        p = f"spec.ports[{i}]"
        if not isinstance(port, dict):
            v.add(invalid(p, port, "must be an object"))
            continue
        name = v.string(port, "name", f"{p}.name")
        if len(ports) > 1 and not name:
            v.add(required(f"{p}.name"))
        elif name:
            v.name(name, f"{p}.name", dns1123_label_errors)
            if name in names:
                v.add(duplicate(f"{p}.name", name))
            names.add(name)
        _port_number(v, port.get("port"), f"{p}.port")
        v.enum(port.get("protocol"), f"{p}.protocol", PROTOCOLS)
        key = (port.get("port"), port.get("protocol"))
        if key in seen:
            v.add(duplicate(p, {"port": port.get("port"), "protocol": port.get("protocol")}))
        seen.add(key)
        if port.get("targetPort") not in (None, 0, ""):
            _port_number(v, port.get("targetPort"), f"{p}.targetPort", allow_name=True)
        node_port = port.get("nodePort")
        if node_port not in (None, 0):
            if stype == "ClusterIP" or stype == "ExternalName":
                v.add(forbidden(f"{p}.nodePort", f"may not be used when `type` is '{stype}'"))
            elif isinstance(node_port, bool) or not isinstance(node_port, int):
                v.add(invalid(f"{p}.nodePort", node_port, "must be an integer"))
            elif not 30000 <= node_port <= 32767:
                v.add(invalid(f"{p}.nodePort", node_port, "provided port is not in the valid range. "
                                                            "The range of valid ports is 30000-32767"))
    selector = spec.get("selector")
    if selector is not None:
        v.labels(selector, "spec.selector")
    for policy, allowed in (("externalTrafficPolicy", ("Cluster", "Local")),
                            ("internalTrafficPolicy", ("Cluster", "Local")),
                            ("ipFamilyPolicy", ("PreferDualStack", "RequireDualStack", "SingleStack"))):
        v.enum(spec.get(policy), f"spec.{policy}", allowed, need=False)
    if spec.get("externalTrafficPolicy") and stype not in ("NodePort", "LoadBalancer"):
        v.add(invalid("spec.externalTrafficPolicy", spec["externalTrafficPolicy"],
                      "may only be set when `type` is 'NodePort' or 'LoadBalancer'"))
    for i, fam in enumerate(v.lst(spec, "ipFamilies", "spec.ipFamilies")):
        v.enum(fam, f"spec.ipFamilies[{i}]", ("IPv4", "IPv6"))


def _is_ip(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _cidr_errors(value: Any) -> list[str]:
    try:
        if not isinstance(value, str) or "/" not in value:
            raise ValueError(value)
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return ["must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"]
    return []


def _node(v: _V, obj: Obj) -> None:
    spec = v.obj(obj, "spec", "spec")
    pod_cidr = spec.get("podCIDR")
    if pod_cidr:
        for msg in _cidr_errors(pod_cidr):
            v.add(invalid("spec.podCIDR", pod_cidr, msg))
    cidrs = v.lst(spec, "podCIDRs", "spec.podCIDRs")
    for i, cidr in enumerate(cidrs):
        for msg in _cidr_errors(cidr):
            v.add(invalid(f"spec.podCIDRs[{i}]", cidr, msg))
    if pod_cidr and cidrs and cidrs[0] != pod_cidr:
        v.add(invalid("spec.podCIDRs", cidrs, "first entry must match `podCIDR`"))
    for i, taint in enumerate(v.lst(spec, "taints", "spec.taints")):
        p = f"spec.taints[{i}]"
        if not isinstance(taint, dict):
            v.add(invalid(p, taint, "must be an object"))
            continue
        key = v.string(taint, "key", f"{p}.key")
        if not key:
            v.add(required(f"{p}.key"))
        for msg in qualified_name_errors(key) if key else []:
            v.add(invalid(f"{p}.key", key, msg))
        value = v.string(taint, "value", f"{p}.value")
        for msg in label_value_errors(value):
            v.add(invalid(f"{p}.value", value, msg))
        v.enum(taint.get("effect"), f"{p}.effect", TAINT_EFFECTS)
    status = v.obj(obj, "status", "status")
    for part in ("capacity", "allocatable"):
        for name, q in v.obj(status, part, f"status.{part}").items():
            _quantity(v, q, f"status.{part}[{name}]")


def _lease(v: _V, obj: Obj) -> None:
    spec = v.obj(obj, "spec", "spec")
    duration = v.integer(spec, "leaseDurationSeconds", "spec.leaseDurationSeconds")
    if duration is not None and duration <= 0:
        v.add(invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    v.min_int(spec, "leaseTransitions", "spec.leaseTransitions")
    v.string(spec, "holderIdentity", "spec.holderIdentity")
    for key in ("acquireTime", "renewTime"):
        value = spec.get(key)
        if value is not None and (not isinstance(value, str) or not re.match(
                r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$", value)):
            v.add(invalid(f"spec.{key}", value, "must be an RFC 3339 timestamp with microseconds "
                                               "(e.g. 2006-01-02T15:04:05.000000Z)"))


def _config_data(v: _V, obj: Obj, *, secret: bool) -> None:
    total = 0
    data = v.obj(obj, "data", "data")
    binary = {} if secret else v.obj(obj, "binaryData", "binaryData")
    for part, values in (("data", data), ("binaryData", binary)):
        for key, value in values.items():
            p = f"{part}[{key}]"
            if not _RE["configkey"].match(key) or len(key) > 253:
                v.add(invalid(p, key, _CONFIG_KEY_MSG))
            elif key in (".", "..") or key.startswith(".."):
                v.add(invalid(p, key, "must not start with '..'" if key != "." else "must not be '.'"))
            if not isinstance(value, str):
                v.add(invalid(p, value, "must be a string"))
                continue
            if part == "binaryData" or secret:
                try:
                    total += len(base64.b64decode(value, validate=True))
                except (binascii.Error, ValueError):
                    v.add(invalid(p, "<secret contents redacted>" if secret else value,
                                  "must be a base64-encoded string"))
            else:
                total += len(value)
            if part == "binaryData" and key in data:
                v.add(invalid(p, key, "duplicate of key present in data"))
    if secret:
        for key, value in v.obj(obj, "stringData", "stringData").items():
            if not _RE["configkey"].match(key):
                v.add(invalid(f"stringData[{key}]", key, _CONFIG_KEY_MSG))
            if isinstance(value, str):
                total += len(value)
    if total > 1024 * 1024:
        v.add(too_long("data", 1024 * 1024))


def _configmap(v: _V, obj: Obj) -> None:
    _config_data(v, obj, secret=False)


def _secret(v: _V, obj: Obj) -> None:
    _config_data(v, obj, secret=True)
    stype = obj.get("type")
    keys = set(v.obj(obj, "data", "data")) | set(v.obj(obj, "stringData", "stringData"))
    if stype == "kubernetes.io/tls":
        for key in ("tls.crt", "tls.key"):
            if key not in keys:
                v.add(required(f"data[{key}]"))
    elif stype == "kubernetes.io/dockerconfigjson" and ".dockerconfigjson" not in keys:
        v.add(required("data[.dockerconfigjson]"))
    elif stype == "kubernetes.io/basic-auth" and not keys & {"username", "password"}:
        v.add(required("data[username]"))
    elif stype == "kubernetes.io/service-account-token":
        annotations = v.obj(v.obj(obj, "metadata", "metadata"), "annotations", "metadata.annotations")
        if not annotations.get("kubernetes.io/service-account.name"):
            v.add(required("metadata.annotations[kubernetes.io/service-account.name]"))


def _endpoints(v: _V, obj: Obj) -> None:
    for i, subset in enumerate(v.lst(obj, "subsets", "subsets")):
        p = f"subsets[{i}]"
        if not isinstance(subset, dict):
            v.add(invalid(p, subset, "must be an object"))
            continue
        for key in ("addresses", "notReadyAddresses"):
            for j, addr in enumerate(v.lst(subset, key, f"{p}.{key}")):
                ip = addr.get("ip") if isinstance(addr, dict) else addr
                if not _is_ip(ip):
                    v.add(invalid(f"{p}.{key}[{j}].ip", ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
        for j, port in enumerate(v.lst(subset, "ports", f"{p}.ports")):
            if not isinstance(port, dict):
                v.add(invalid(f"{p}.ports[{j}]", port, "must be an object"))
                continue
            _port_number(v, port.get("port"), f"{p}.ports[{j}].port")
            v.enum(port.get("protocol"), f"{p}.ports[{j}].protocol", PROTOCOLS)


def _endpointslice(v: _V, obj: Obj) -> None:
    family = obj.get("addressType")
    v.enum(family, "addressType", ("FQDN", "IPv4", "IPv6"))
    for i, ep in enumerate(v.lst(obj, "endpoints", "endpoints")):
        p = f"endpoints[{i}]"
        if not isinstance(ep, dict):
            v.add(invalid(p, ep, "must be an object"))
            continue
        addresses = v.lst(ep, "addresses", f"{p}.addresses")
        if not addresses:
            v.add(required(f"{p}.addresses"))
        for j, addr in enumerate(addresses):
            if family in ("IPv4", "IPv6") and not _is_ip(addr):
                v.add(invalid(f"{p}.addresses[{j}]", addr, "must be a valid IP address"))
    for i, port in enumerate(v.lst(obj, "ports", "ports")):
        if not isinstance(port, dict):
            v.add(invalid(f"ports[{i}]", port, "must be an object"))
            continue
        if port.get("port") is not None:
            _port_number(v, port.get("port"), f"ports[{i}].port")
        v.enum(port.get("protocol"), f"ports[{i}].protocol", PROTOCOLS, need=False)


def _event(v: _V, obj: Obj) -> None:
    involved = v.obj(obj, "involvedObject", "involvedObject")
    ns = v.obj(obj, "metadata", "metadata").get("namespace")
    ins = involved.get("namespace")
    if ins and ns and ins != ns:
        v.add(invalid("involvedObject.namespace", ins, "does not match event.namespace"))
    v.enum(obj.get("type"), "type", ("Normal", "Warning"), need=False)


def _events_v1(v: _V, obj: Obj) -> None:
    if not obj.get("eventTime"):
        v.add(required("eventTime"))
    v.enum(obj.get("type"), "type", ("Normal", "Warning"))
    if not obj.get("reportingController"):
        v.add(required("reportingController"))
    if not obj.get("reportingInstance"):
        v.add(required("reportingInstance"))
    if not obj.get("action"):
        v.add(required("action"))
    if not obj.get("reason"):
        v.add(required("reason"))


def _namespace(v: _V, obj: Obj) -> None:
    for i, fin in enumerate(v.lst(v.obj(obj, "spec", "spec"), "finalizers", "spec.finalizers")):
        if not isinstance(fin, str) or qualified_name_errors(fin):
            v.add(invalid(f"spec.finalizers[{i}]", fin, "name is neither a standard finalizer name nor is it "
                                                         "fully qualified"))


def _binding(v: _V, obj: Obj) -> None:
    target = v.obj(obj, "target", "target", need=True)
    if not v.string(target, "name", "target.name"):
        v.add(required("target.name"))
    if target.get("kind") not in (None, "", "Node"):
        v.add(not_supported("target.kind", target.get("kind"), ("Node",)))


def _controllerrevision(v: _V, obj: Obj) -> None:
    v.min_int(obj, "revision", "revision")


_VALIDATORS: dict[tuple[str, str], Callable[[_V, Obj], None]] = {
    ("v1", "Pod"): _pod,
    ("v1", "PodTemplate"): _pod_template,
    ("v1", "Service"): _service,
    ("v1", "Endpoints"): _endpoints,
    ("v1", "Node"): _node,
    ("v1", "Namespace"): _namespace,
    ("v1", "ConfigMap"): _configmap,
    ("v1", "Secret"): _secret,
    ("v1", "Event"): _event,
    ("v1", "ReplicationController"): _replicationcontroller,
    ("v1", "Binding"): _binding,
    ("apps/v1", "Deployment"): _deployment,
    ("apps/v1", "ReplicaSet"): _replicaset,
    ("apps/v1", "DaemonSet"): _daemonset,
    ("apps/v1", "ControllerRevision"): _controllerrevision,
    ("batch/v1", "Job"): _job,
    ("coordination.k8s.io/v1", "Lease"): _lease,
    ("discovery.k8s.io/v1", "EndpointSlice"): _endpointslice,
    ("events.k8s.io/v1", "Event"): _events_v1,
}


def validate_create(api_version: str, kind: str, obj: Any) -> list[Cause]:
    """Every problem with a new object, one Cause per bad field (empty list: valid)."""
    v = _V()
    if not isinstance(obj, dict):
        return [invalid("", obj, "must be a JSON object")]
    res = resources.for_kind(api_version, kind)
    _validate_meta(v, kind, obj, res.namespaced if res is not None else None)
    fn = _VALIDATORS.get((api_version, kind))
    if fn is not None:
        fn(v, obj)
    return v.causes


# ---------------------------------------------------------------------------------------------
# Updates


_POD_UPDATE_MSG = (
    "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,"
    "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)


def _pod_spec_mutable_view(spec: Any, old_spec: Any) -> Any:
    """The new pod spec with the fields a pod update may change reset to the old values."""
    if not isinstance(spec, dict) or not isinstance(old_spec, dict):
        return spec
    view = dict(spec)
    for key in ("containers", "initContainers"):
        new_list, old_list = spec.get(key), old_spec.get(key)
        if isinstance(new_list, list) and isinstance(old_list, list) and len(new_list) == len(old_list):
            view[key] = [
                {**n, "image": o.get("image")} if isinstance(n, dict) and isinstance(o, dict) else n
                for n, o in zip(new_list, old_list, strict=True)
            ]
    view["activeDeadlineSeconds"] = old_spec.get("activeDeadlineSeconds")
    old_tols = old_spec.get("tolerations") or []
    new_tols = spec.get("tolerations") or []
    if isinstance(new_tols, list) and all(t in new_tols for t in old_tols):
        view["tolerations"] = old_spec.get("tolerations")
    # Scheduling gates may only be removed; binding sets nodeName once (kubelite lets the
    # binding path reuse update validation, so "" -> node is accepted here).
    gates, old_gates = spec.get("schedulingGates") or [], old_spec.get("schedulingGates") or []
    if isinstance(gates, list) and all(g in old_gates for g in gates):
        view["schedulingGates"] = old_spec.get("schedulingGates")
    if not old_spec.get("nodeName"):
        view["nodeName"] = old_spec.get("nodeName")
    return {k: val for k, val in view.items() if val is not None}


def _strip_none(d: Any) -> Any:
    return {k: val for k, val in d.items() if val is not None} if isinstance(d, dict) else d


def _immutable(v: _V, new: Any, old: Any, path: str) -> None:
    if old is not None and new != old:
        v.add(invalid(path, new, "field is immutable"))


def validate_update(api_version: str, kind: str, obj: Any, old: Any) -> list[Cause]:
    """validate_create's checks plus what may not change between `old` and `obj`."""
    causes = validate_create(api_version, kind, obj)
    if not isinstance(obj, dict) or not isinstance(old, dict):
        return causes
    v = _V()
    meta, old_meta = obj.get("metadata") or {}, old.get("metadata") or {}
    if isinstance(meta, dict) and isinstance(old_meta, dict):
        for key in ("name", "namespace", "uid"):
            if old_meta.get(key) and meta.get(key) and meta.get(key) != old_meta.get(key):
                v.add(invalid(f"metadata.{key}", meta.get(key), "field is immutable"))
    spec, old_spec = obj.get("spec"), old.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    old_spec = old_spec if isinstance(old_spec, dict) else {}
    if (api_version, kind) == ("v1", "Pod"):
        if _strip_none(_pod_spec_mutable_view(spec, old_spec)) != _strip_none(old_spec):
            v.add(forbidden("spec", _POD_UPDATE_MSG))
    elif (api_version, kind) in (("apps/v1", "Deployment"), ("apps/v1", "ReplicaSet"), ("apps/v1", "DaemonSet"),
                                 ("batch/v1", "Job")):
        _immutable(v, spec.get("selector"), old_spec.get("selector"), "spec.selector")
        if kind == "Job":
            _immutable(v, spec.get("template"), old_spec.get("template"), "spec.template")
            _immutable(v, spec.get("completionMode"), old_spec.get("completionMode"), "spec.completionMode")
    elif (api_version, kind) == ("v1", "Service"):
        old_ip = old_spec.get("clusterIP")
        if old_ip and spec.get("clusterIP") != old_ip:
            v.add(invalid("spec.clusterIPs[0]", spec.get("clusterIPs") or [spec.get("clusterIP") or ""],
                          "may not change once set"))
    elif (api_version, kind) in (("v1", "Secret"), ("v1", "ConfigMap")):
        if old.get("immutable") is True:
            for key in ("data", "binaryData", "stringData"):
                if key != "stringData" and obj.get(key) != old.get(key):
                    v.add(forbidden(key, "field is immutable when `immutable` is set"))
            if obj.get("immutable") is not True:
                v.add(forbidden("immutable", "field is immutable when `immutable` is set"))
        if kind == "Secret" and old.get("type") and obj.get("type") != old.get("type"):
            v.add(invalid("type", obj.get("type"), "field is immutable"))
    elif (api_version, kind) == ("v1", "Node"):
        for key in ("podCIDR",):
            if old_spec.get(key) and spec.get(key) != old_spec.get(key):
                v.add(forbidden("spec.podCIDRs", "node updates may not change podCIDR except from \"\" to valid"))
    elif (api_version, kind) == ("apps/v1", "ControllerRevision"):
        _immutable(v, obj.get("data"), old.get("data"), "data")
    return causes + v.causes
