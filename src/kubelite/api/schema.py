"""The served kinds' schemas: unknown-field detection and the /openapi/v3 documents kubectl reads.

One compact description per type (kubelite.api.schemas.*, a small DSL of nested tuples) feeds
three uses:

- `unknown_fields` lists the paths (".spec.containers[0].imagee") of fields no schema knows, for
  `fieldValidation=Strict|Warn`. Maps such as labels, annotations, data and matchLabels are
  free-form; a few rarely used nested types are free-form too ("raw") rather than guessed at.
- `openapi_v3_paths` is the /openapi/v3 index and `openapi_v3_document` one group-version's
  OpenAPI 3.0 document. kubectl uses them three ways: `apply/create/edit/replace` look for a PATCH
  operation carrying the object's `x-kubernetes-group-version-kind` and a `fieldValidation`
  parameter (then they leave validation to the server); client-side apply reads the
  `x-kubernetes-patch-merge-key`/`-strategy` of lists to build its strategic merge patch; and
  `kubectl explain` renders `components.schemas`.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from typing import Any

from kubelite.api import resources
from kubelite.api.schemas import core, groups, meta

DEFS: dict[str, meta.Def] = {**meta.DEFS, **core.DEFS, **groups.DEFS}

#: (apiVersion, kind) -> the definition describing it.
KIND_DEFS: dict[tuple[str, str], str] = {
    ("v1", "Pod"): "core.Pod",
    ("v1", "PodTemplate"): "core.PodTemplate",
    ("v1", "Binding"): "core.Binding",
    ("v1", "Service"): "core.Service",
    ("v1", "Endpoints"): "core.Endpoints",
    ("v1", "Namespace"): "core.Namespace",
    ("v1", "Node"): "core.Node",
    ("v1", "Event"): "core.Event",
    ("v1", "ConfigMap"): "core.ConfigMap",
    ("v1", "Secret"): "core.Secret",
    ("v1", "ServiceAccount"): "core.ServiceAccount",
    ("v1", "ReplicationController"): "core.ReplicationController",
    ("apps/v1", "Deployment"): "apps.Deployment",
    ("apps/v1", "ReplicaSet"): "apps.ReplicaSet",
    ("apps/v1", "DaemonSet"): "apps.DaemonSet",
    ("apps/v1", "ControllerRevision"): "apps.ControllerRevision",
    ("batch/v1", "Job"): "batch.Job",
    ("coordination.k8s.io/v1", "Lease"): "coordination.Lease",
    ("discovery.k8s.io/v1", "EndpointSlice"): "discovery.EndpointSlice",
    ("events.k8s.io/v1", "Event"): "events.Event",
}

_PACKAGES = {
    "meta": "io.k8s.apimachinery.pkg.apis.meta.v1",
    "core": "io.k8s.api.core.v1",
    "apps": "io.k8s.api.apps.v1",
    "batch": "io.k8s.api.batch.v1",
    "coordination": "io.k8s.api.coordination.v1",
    "discovery": "io.k8s.api.discovery.v1",
    "events": "io.k8s.api.events.v1",
}
_LEAVES = {"string", "integer", "int64", "boolean", "number", "byte", "quantity", "ios", "time", "mtime"}
_FREE = {"map", "raw"}


def full_name(short: str) -> str:
    """core.PodSpec -> io.k8s.api.core.v1.PodSpec"""
    pkg, _, name = short.partition(".")
    return f"{_PACKAGES[pkg]}.{name}"


# ---------------------------------------------------------------------------------------------
# unknown fields


def unknown_fields(api_version: str, kind: str, obj: Any) -> list[str]:
    """Paths of the fields in `obj` that the kind's schema does not declare (sorted as found)."""
    def_name = KIND_DEFS.get((api_version, kind))
    if def_name is None or not isinstance(obj, dict):
        return []
    fields = _compiled(def_name)
    if not _has_unknown(fields, obj):
        return []  # the common case, found without building any path
    out: list[str] = []
    _walk_fields(fields, obj, [], out)
    return out


def _has_unknown(fields: dict[str, _Node], value: Any) -> bool:
    if type(value) is not dict:
        return False
    for key, child in value.items():
        if key in fields:
            node = fields[key]
            if node is not None and child is not None and _node_has_unknown(node, child):
                return True
        elif not (isinstance(key, str) and key.startswith("$")):
            return True
    return False


def _node_has_unknown(node: tuple[str, Any], value: Any) -> bool:
    kind, inner = node
    if kind == "def":
        return _has_unknown(inner, value)
    if kind == "[]":
        return type(value) is list and any(item is not None and _node_has_unknown(inner, item) for item in value)
    return type(value) is dict and any(item is not None and _node_has_unknown(inner, item)
                                       for item in value.values())


# The walk runs on every write (fieldValidation=Strict is the default), so a first pass only
# answers "is anything unknown?" (no paths at all), and the second, run only when something is,
# builds no path strings on the way (`path` is a stack of segments, joined only for an unknown
# field). Each definition's fields are compiled once into type nodes:
#   None (a leaf or free-form value), ("[]", node), ("{}", node) or ("def", fields),
# where fields maps a field name to its node.
_Node = tuple[str, Any] | None
_COMPILED: dict[str, dict[str, _Node]] = {}


def _node(typ: str) -> _Node:
    if typ in _LEAVES or typ in _FREE:
        return None
    if typ.startswith("[]"):
        inner = _node(typ[2:])
        return None if inner is None else ("[]", inner)
    if typ.startswith("{}"):
        inner = _node(typ[2:])
        return None if inner is None else ("{}", inner)
    return ("def", _compiled(typ))


def _compiled(def_name: str) -> dict[str, _Node]:
    fields = _COMPILED.get(def_name)
    if fields is None:
        fields = _COMPILED[def_name] = {}  # (registered first: definitions may refer to themselves)
        for key, spec in DEFS[def_name][1].items():
            fields[key] = _node(spec[0])
    return fields


def _walk_fields(fields: dict[str, _Node], value: Any, path: list[str], out: list[str]) -> None:
    if type(value) is not dict:
        return
    for key, child in value.items():
        if key in fields:
            node = fields[key]
            if node is not None and child is not None:
                path.append(f".{key}")
                _walk_node(node, child, path, out)
                path.pop()
        elif not (isinstance(key, str) and key.startswith("$")):
            # ($-keys are strategic-merge-patch directives: $patch, $setElementOrder/..., $retainKeys)
            out.append("".join(path) + f".{key}")


def _walk_node(node: tuple[str, Any], value: Any, path: list[str], out: list[str]) -> None:
    kind, inner = node
    if kind == "def":
        _walk_fields(inner, value, path, out)
    elif kind == "[]":
        if type(value) is list:
            for i, item in enumerate(value):
                if item is not None:
                    path.append(f"[{i}]")
                    _walk_node(inner, item, path, out)
                    path.pop()
    elif type(value) is dict:
        for k, item in value.items():
            if item is not None:
                path.append(f".{k}")
                _walk_node(inner, item, path, out)
                path.pop()


# ---------------------------------------------------------------------------------------------
# OpenAPI v3 schemas

_SPECIAL_COMPONENTS: dict[str, dict[str, Any]] = {
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {
        "description": "Quantity is a fixed-point representation of a number, such as \"100m\" CPU or \"1Gi\" "
                       "memory. Serialized as a string: <quantity> ::= <signedNumber><suffix>.",
        "oneOf": [{"type": "string"}, {"type": "number"}],
    },
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {
        "description": "IntOrString is a type that can hold an int32 or a string.",
        "type": "string", "format": "int-or-string", "x-kubernetes-int-or-string": True,
    },
    "io.k8s.apimachinery.pkg.apis.meta.v1.Time": {
        "description": "Time is a wrapper around time.Time which supports correct marshaling to YAML and JSON. "
                       "Wrappers are provided for many of the factory methods that the time package offers.",
        "type": "string", "format": "date-time",
    },
    "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime": {
        "description": "MicroTime is version of Time with microsecond level precision.",
        "type": "string", "format": "date-time",
    },
    "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions": {
        "description": "DeleteOptions may be provided when deleting an API object.",
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string", "description": "APIVersion defines the versioned schema."},
            "kind": {"type": "string", "description": "Kind is a string value representing the REST resource."},
            "gracePeriodSeconds": {"type": "integer", "format": "int64",
                                   "description": "The duration in seconds before the object should be deleted."},
            "propagationPolicy": {"type": "string", "description": "Whether and how garbage collection will be "
                                                                   "performed: Orphan, Background or Foreground."},
            "dryRun": {"type": "array", "items": {"type": "string", "default": ""},
                       "description": "When present, indicates that modifications should not be persisted."},
            "preconditions": {"type": "object", "description": "Must be fulfilled before a deletion is carried "
                                                               "out.",
                              "properties": {"uid": {"type": "string"}, "resourceVersion": {"type": "string"}}},
        },
    },
    "io.k8s.apimachinery.pkg.apis.meta.v1.Status": {
        "description": "Status is a return value for calls that don't return other objects.",
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"}, "kind": {"type": "string"},
            "status": {"type": "string", "description": "Status of the operation. One of: \"Success\" or "
                                                        "\"Failure\"."},
            "message": {"type": "string", "description": "A human-readable description of the status of this "
                                                         "operation."},
            "reason": {"type": "string", "description": "A machine-readable description of why this operation is "
                                                        "in the \"Failure\" status."},
            "code": {"type": "integer", "format": "int32", "description": "Suggested HTTP return code for this "
                                                                          "status, 0 if not set."},
            "details": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                        "description": "Extended data associated with the reason."},
        },
    },
}
_LEAF_REFS = {
    "quantity": "io.k8s.apimachinery.pkg.api.resource.Quantity",
    "ios": "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
    "time": "io.k8s.apimachinery.pkg.apis.meta.v1.Time",
    "mtime": "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime",
}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _type_schema(typ: str, refs: set[str]) -> dict[str, Any]:
    """The OpenAPI schema for one DSL type (without description); collects referenced names."""
    if typ == "string":
        return {"type": "string"}
    if typ == "integer":
        return {"type": "integer", "format": "int32"}
    if typ == "int64":
        return {"type": "integer", "format": "int64"}
    if typ == "boolean":
        return {"type": "boolean"}
    if typ == "number":
        return {"type": "number", "format": "double"}
    if typ == "byte":
        return {"type": "string", "format": "byte"}
    if typ == "map":
        return {"type": "object", "additionalProperties": {"type": "string", "default": ""}}
    if typ == "raw":
        return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    if typ in _LEAF_REFS:
        refs.add(_LEAF_REFS[typ])
        return {"allOf": [_ref(_LEAF_REFS[typ])]}
    if typ.startswith("[]"):
        return {"type": "array", "items": _item_schema(typ[2:], refs)}
    if typ.startswith("{}"):
        return {"type": "object", "additionalProperties": _item_schema(typ[2:], refs)}
    name = full_name(typ)
    refs.add(name)
    return {"allOf": [_ref(name)], "default": {}}


def _item_schema(typ: str, refs: set[str]) -> dict[str, Any]:
    if typ in _LEAF_REFS:
        refs.add(_LEAF_REFS[typ])
        return _ref(_LEAF_REFS[typ])
    s = _type_schema(typ, refs)
    if typ == "string":
        s["default"] = ""
    return s


def _field_schema(spec: tuple[Any, ...], refs: set[str]) -> dict[str, Any]:
    typ, desc = spec[0], spec[1]
    extras: dict[str, Any] = spec[2] if len(spec) > 2 else {}
    s = _type_schema(typ, refs)
    s["description"] = desc
    if typ.startswith("[]"):
        key = extras.get("key")
        if key:
            s["x-kubernetes-patch-merge-key"] = key
            s["x-kubernetes-patch-strategy"] = extras.get("strategy", "merge")
            s["x-kubernetes-list-type"] = "map"
            s["x-kubernetes-list-map-keys"] = extras.get("map_keys", [key])
        elif extras.get("strategy"):
            s["x-kubernetes-patch-strategy"] = extras["strategy"]
            s["x-kubernetes-list-type"] = "set"
        else:
            s["x-kubernetes-list-type"] = "atomic"
    elif typ in ("map", "raw") or typ.startswith("{}"):
        pass
    return s


def _gvk(api_version: str, kind: str) -> dict[str, str]:
    group, _, version = api_version.rpartition("/")
    return {"group": group, "version": version, "kind": kind}


def _def_schema(short: str, refs: set[str]) -> dict[str, Any]:
    desc, fields = DEFS[short]
    schema: dict[str, Any] = {
        "description": desc,
        "type": "object",
        "properties": {name: _field_schema(spec, refs) for name, spec in fields.items()},
    }
    kinds = [_gvk(av, k) for (av, k), d in KIND_DEFS.items() if d == short]
    if kinds:
        schema["x-kubernetes-group-version-kind"] = kinds
    return schema


def _list_schema(api_version: str, kind: str, item: str) -> dict[str, Any]:
    return {
        "description": f"{kind}List is a list of {kind} objects.",
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string", "description": "APIVersion defines the versioned schema of this "
                                                            "representation of an object."},
            "kind": {"type": "string", "description": "Kind is a string value representing the REST resource this "
                                                      "object represents."},
            "metadata": {"allOf": [_ref(full_name("meta.ListMeta"))], "default": {},
                         "description": "Standard list metadata."},
            "items": {"type": "array", "description": f"List of {kind} objects.",
                      "items": {"allOf": [_ref(item)], "default": {}}},
        },
        "x-kubernetes-group-version-kind": [_gvk(api_version, kind + "List")],
    }


def _components(roots: list[str]) -> dict[str, Any]:
    """Every schema reachable from `roots` (DSL short names)."""
    out: dict[str, Any] = {}
    todo = [full_name(r) for r in roots]
    by_full = {full_name(s): s for s in DEFS}
    while todo:
        name = todo.pop()
        if name in out:
            continue
        if name in _SPECIAL_COMPONENTS:
            out[name] = copy.deepcopy(_SPECIAL_COMPONENTS[name])
            continue
        refs: set[str] = set()
        out[name] = _def_schema(by_full[name], refs)
        todo.extend(sorted(refs - out.keys()))
    return dict(sorted(out.items()))


# ---------------------------------------------------------------------------------------------
# OpenAPI v3 paths


def _param(name: str, where: str, desc: str, required: bool = False) -> dict[str, Any]:
    p: dict[str, Any] = {"name": name, "in": where, "description": desc, "schema": {"type": "string"}}
    if required:
        p["required"] = True
    if where == "path":
        p["schema"]["uniqueItems"] = True
    return p


_NAME = _param("name", "path", "name of the resource", True)
_NAMESPACE = _param("namespace", "path", "object name and auth scope, such as for teams and projects", True)
_DRY_RUN = _param("dryRun", "query", "When present, indicates that modifications should not be persisted. Valid "
                  "values are: - All: all dry run stages will be processed")
_FIELD_MANAGER = _param("fieldManager", "query", "fieldManager is a name associated with the actor or entity that "
                        "is making these changes.")
_FIELD_VALIDATION = _param("fieldValidation", "query", "fieldValidation instructs the server on how to handle "
                           "objects in the request containing unknown or duplicate fields. Valid values are: "
                           "Ignore, Warn (default), Strict.")
_FORCE = {"name": "force", "in": "query", "description": "Force is going to \"force\" Apply requests.",
          "schema": {"type": "boolean", "uniqueItems": True}}
_PRETTY = _param("pretty", "query", "If 'true', then the output is pretty printed.")
_LIST_PARAMS = [
    _param("labelSelector", "query", "A selector to restrict the list of returned objects by their labels."),
    _param("fieldSelector", "query", "A selector to restrict the list of returned objects by their fields."),
    {"name": "limit", "in": "query", "description": "limit is a maximum number of responses to return for a list "
                                                    "call.", "schema": {"type": "integer", "uniqueItems": True}},
    _param("continue", "query", "The continue option should be set when retrieving more results from the server."),
    _param("resourceVersion", "query", "resourceVersion sets a constraint on what resource versions a request may "
                                       "be served from."),
    {"name": "watch", "in": "query", "description": "Watch for changes to the described resources and return them "
                                                    "as a stream of add, update, and remove notifications.",
     "schema": {"type": "boolean", "uniqueItems": True}},
    {"name": "timeoutSeconds", "in": "query", "description": "Timeout for the list/watch call.",
     "schema": {"type": "integer", "uniqueItems": True}},
]
_PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json",
                "application/strategic-merge-patch+json", "application/apply-patch+yaml")


def _response(schema_ref: str, codes: tuple[str, ...] = ("200",)) -> dict[str, Any]:
    content = {ct: {"schema": _ref(schema_ref)} for ct in ("application/json", "application/yaml")}
    return {code: {"description": {"200": "OK", "201": "Created", "202": "Accepted"}[code], "content": content}
            for code in codes}


def _op_id(verb: str, res: resources.Resource, namespaced: bool, sub: str = "") -> str:
    group = "".join(p.capitalize() for p in (res.group or "core").split(".")[:1])
    version = res.version.capitalize()
    scope = "Namespaced" if namespaced else ""
    suffix = sub.capitalize() if sub else ""
    return f"{verb}{group}{version}{scope}{res.kind}{suffix}"


def _item_ops(res: resources.Resource, gvk: dict[str, str], schema: str, params: list[dict[str, Any]],
              sub: str = "", verbs: tuple[str, ...] = ()) -> dict[str, Any]:
    ns = res.namespaced
    ops: dict[str, Any] = {"parameters": params + [_PRETTY]}
    common = {"tags": [res.group_version.replace("/", "_").replace(".", "_")], "x-kubernetes-group-version-kind": gvk}
    body = {"content": {"*/*": {"schema": _ref(schema)}}, "required": True}
    what = f"{sub} of the specified {res.kind}" if sub else f"the specified {res.kind}"
    if "get" in verbs:
        ops["get"] = {**common, "description": f"read {what}", "operationId": _op_id("read", res, ns, sub),
                      "responses": _response(schema), "x-kubernetes-action": "get"}
    if "update" in verbs:
        ops["put"] = {**common, "description": f"replace {what}", "operationId": _op_id("replace", res, ns, sub),
                      "parameters": [_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION], "requestBody": body,
                      "responses": _response(schema, ("200", "201")), "x-kubernetes-action": "put"}
    if "patch" in verbs:
        ops["patch"] = {
            **common, "description": f"partially update {what}", "operationId": _op_id("patch", res, ns, sub),
            "parameters": [_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION, _FORCE],
            "requestBody": {"content": {ct: {"schema": {"type": "object"}} for ct in _PATCH_TYPES}, "required": True},
            "responses": _response(schema, ("200", "201")), "x-kubernetes-action": "patch",
        }
    if "delete" in verbs and not sub:
        ops["delete"] = {
            **common, "description": f"delete {what}", "operationId": _op_id("delete", res, ns),
            "parameters": [_DRY_RUN, {"name": "gracePeriodSeconds", "in": "query",
                                      "schema": {"type": "integer", "uniqueItems": True},
                                      "description": "The duration in seconds before the object should be "
                                                     "deleted."},
                           _param("propagationPolicy", "query", "Whether and how garbage collection will be "
                                                                "performed.")],
            "requestBody": {"content": {"*/*": {"schema": _ref(full_name("meta.DeleteOptions"))}}},
            "responses": _response(schema, ("200", "202")), "x-kubernetes-action": "delete",
        }
    return ops


def _paths_for(res: resources.Resource, schema: str, list_schema: str) -> dict[str, Any]:
    gvk = _gvk(res.api_version, res.kind)
    tag = res.group_version.replace("/", "_").replace(".", "_")
    scope = [_NAMESPACE] if res.namespaced else []
    collection = res.path("{namespace}" if res.namespaced else None)
    item = res.path("{namespace}" if res.namespaced else None, "{name}")
    paths: dict[str, Any] = {}
    coll: dict[str, Any] = {"parameters": scope + [_PRETTY]}
    common = {"tags": [tag], "x-kubernetes-group-version-kind": gvk}
    if "list" in res.verbs:
        coll["get"] = {**common, "description": f"list or watch objects of kind {res.kind}",
                       "operationId": _op_id("list", res, res.namespaced), "parameters": _LIST_PARAMS,
                       "responses": _response(list_schema), "x-kubernetes-action": "list"}
    if "create" in res.verbs:
        coll["post"] = {**common, "description": f"create a {res.kind}",
                        "operationId": _op_id("create", res, res.namespaced),
                        "parameters": [_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION],
                        "requestBody": {"content": {"*/*": {"schema": _ref(schema)}}, "required": True},
                        "responses": _response(schema, ("200", "201", "202")), "x-kubernetes-action": "post"}
    if "deletecollection" in res.verbs:
        coll["delete"] = {**common, "description": f"delete collection of {res.kind}",
                          "operationId": _op_id("deletecollection", res, res.namespaced),
                          "parameters": _LIST_PARAMS[:2],
                          "responses": _response(full_name("meta.Status")), "x-kubernetes-action": "deletecollection"}
    if len(coll) > 1:
        paths[collection] = coll
    if res.namespaced and "list" in res.verbs:
        paths[res.path()] = {"parameters": [_PRETTY], "get": {
            **common, "description": f"list or watch objects of kind {res.kind}",
            "operationId": _op_id("list", res, False) + "ForAllNamespaces", "parameters": _LIST_PARAMS,
            "responses": _response(list_schema), "x-kubernetes-action": "list"}}
    item_ops = _item_ops(res, gvk, schema, scope + [_NAME], verbs=res.verbs)
    if len(item_ops) > 1:
        paths[item] = item_ops
    status = res.subresource("status")
    if status is not None:
        paths[item + "/status"] = _item_ops(res, gvk, schema, scope + [_NAME], "status", status.verbs)
    return paths


@functools.cache
def _document(group_version: str) -> dict[str, Any] | None:
    served = [r for r in resources.RESOURCES if r.api_version == group_version]
    if not served:
        return None
    roots: list[str] = ["meta.DeleteOptions", "meta.Status"]
    paths: dict[str, Any] = {}
    lists: dict[str, Any] = {}
    for res in served:
        short = KIND_DEFS.get((res.api_version, res.kind))
        if short is None:
            continue
        roots.append(short)
        schema = full_name(short)
        list_name = schema + "List"
        lists[list_name] = _list_schema(res.api_version, res.kind, schema)
        paths.update(_paths_for(res, schema, list_name))
    components = _components([r for r in roots if r in DEFS] + ["meta.ListMeta"])
    for special in ("meta.DeleteOptions", "meta.Status"):
        components[full_name(special)] = copy.deepcopy(_SPECIAL_COMPONENTS[full_name(special)])
    components.update(lists)
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.4"},
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(components.items()))},
    }


def _normalize_group_version(group_version: str) -> str:
    gv = group_version.strip("/")
    if gv.startswith("api/"):
        return gv[len("api/"):]
    if gv.startswith("apis/"):
        return gv[len("apis/"):]
    return gv


def openapi_v3_document(group_version: str) -> dict[str, Any] | None:
    """The OpenAPI 3.0 document of one group-version ("v1", "apps/v1"); None if not served."""
    doc = _document(_normalize_group_version(group_version))
    return copy.deepcopy(doc) if doc is not None else None


@functools.cache
def _hash(group_version: str) -> str:
    doc = _document(group_version)
    return hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest().upper()


def openapi_v3_paths() -> dict[str, Any]:
    """The /openapi/v3 index: each group-version's document URL, with a hash that changes with it."""
    paths: dict[str, Any] = {}
    for gv in resources.GROUP_VERSIONS:
        prefix = f"api/{gv}" if "/" not in gv else f"apis/{gv}"
        paths[prefix] = {"serverRelativeURL": f"/openapi/v3/{prefix}?hash={_hash(gv)}"}
    return {"paths": paths}
