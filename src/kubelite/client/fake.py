"""An in-memory twin of ApiClient for unit tests (client-go's fake clientset, in spirit).

Preload objects with `add()`, run the code under test, then compare `actions` (every call, in
order, as `Action(verb, resource_plural, namespace, name, subresource, body)`). It behaves like
the server where controllers care: resourceVersion/uid/creationTimestamp/generation assigned,
404 NotFound, 409 AlreadyExists and 409 Conflict on a stale resourceVersion, finalizers delay
deletion, pods/binding sets spec.nodeName, pods/eviction deletes the pod, watch streams events
(and raises 410 for a compacted resourceVersion after `compact()`).

Patches: "merge" is RFC 7386; "strategic" is merge where lists of dicts with a `name` merge by
name (enough for containers, ports, conditions-by-type is NOT modelled); "json" is RFC 6902;
"apply" is a merge that creates the object when it is missing.

Inject failures with `prepend_reactor(verb, plural, fn)`: `fn(action)` may raise ApiError, return
a dict (the result), or return None (fall through to the default behaviour).
"""

from __future__ import annotations

import asyncio
import builtins
import copy
import datetime
import itertools
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from kubelite.api.resources import Resource
from kubelite.api.selectors import parse_label_selector
from kubelite.client.rest import ApiClient, ApiError, WatchEvent

READ_VERBS = frozenset({"get", "list", "watch"})


@dataclass
class Action:
    verb: str  # get | list | watch | create | update | patch | delete
    resource_plural: str
    namespace: str | None
    name: str | None
    subresource: str | None = None
    body: Any = None
    patch_type: str | None = field(default=None, compare=False)

    def matches(self, verb: str, resource_plural: str) -> bool:
        return self.verb == verb and self.resource_plural == resource_plural


Reactor = Callable[[Action], "dict[str, Any] | None"]


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _res_id(res: Resource) -> str:
    return res.group_resource


class FakeApiClient(ApiClient):
    """In-memory API (see module docstring). Same methods and errors as ApiClient."""

    def __init__(self) -> None:
        super().__init__("http://fake.invalid")
        self.actions: list[Action] = []
        self._objects: dict[str, dict[tuple[str | None, str], dict[str, Any]]] = {}
        self._resources: dict[str, Resource] = {}
        self._rv = itertools.count(1)
        self.resource_version = 0
        # per resource: (revision, type, object) history for watch resume; entries <= _compacted are gone
        self._history: dict[str, list[tuple[int, str, dict[str, Any]]]] = {}
        self._compacted = 0
        self._watchers: list[tuple[str, asyncio.Queue[WatchEvent | None], Callable[[dict[str, Any]], bool]]] = []
        self._reactors: list[tuple[str, str, Reactor]] = []

    # -- test helpers -----------------------------------------------------------------------------

    def add(self, res: Resource, *objs: dict[str, Any]) -> None:
        """Preload objects (no action recorded). Missing server fields are filled in."""
        for obj in objs:
            self._insert(res, copy.deepcopy(obj), record_event=True)

    def objects(self, res: Resource, namespace: str | None = None) -> builtins.list[dict[str, Any]]:
        """Current objects of a resource (copies), sorted by namespace/name."""
        store = self._objects.get(_res_id(res), {})
        return [copy.deepcopy(store[k]) for k in sorted(store, key=lambda k: (k[0] or "", k[1]))
                if namespace is None or k[0] == namespace]

    def object(self, res: Resource, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        obj = self._objects.get(_res_id(res), {}).get((namespace if res.namespaced else None, name))
        return copy.deepcopy(obj) if obj is not None else None

    def clear_actions(self) -> None:
        self.actions.clear()

    def write_actions(self) -> builtins.list[Action]:
        """Actions other than get/list/watch (what controller tests usually compare)."""
        return [a for a in self.actions if a.verb not in READ_VERBS]

    def prepend_reactor(self, verb: str, resource_plural: str, fn: Reactor) -> None:
        """Run `fn` before the default behaviour for matching calls ("*" matches any)."""
        self._reactors.insert(0, (verb, resource_plural, fn))

    def compact(self) -> None:
        """Forget history: watches from an older resourceVersion now fail with 410 Expired."""
        self._compacted = self.resource_version
        for hist in self._history.values():
            hist.clear()

    # -- internals --------------------------------------------------------------------------------

    def _record(self, action: Action) -> dict[str, Any] | None:
        self.actions.append(action)
        for verb, plural, fn in self._reactors:
            if verb in ("*", action.verb) and plural in ("*", action.resource_plural):
                result = fn(action)
                if result is not None:
                    return result
        return None

    def _next_rv(self) -> str:
        self.resource_version = next(self._rv)
        return str(self.resource_version)

    def _store(self, res: Resource) -> dict[tuple[str | None, str], dict[str, Any]]:
        self._resources[_res_id(res)] = res
        return self._objects.setdefault(_res_id(res), {})

    @staticmethod
    def _not_found(res: Resource, name: str) -> ApiError:
        return ApiError.make(404, "NotFound", f'{res.group_resource} "{name}" not found',
                             name=name, group=res.group, kind=res.plural)

    def _insert(self, res: Resource, obj: dict[str, Any], *, record_event: bool) -> dict[str, Any]:
        meta = obj.setdefault("metadata", {})
        if not meta.get("name"):
            if meta.get("generateName"):
                meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
            else:
                raise ApiError.make(422, "Invalid", "metadata.name: Required value", kind=res.kind)
        if res.namespaced:
            meta.setdefault("namespace", "default")
        else:
            meta.pop("namespace", None)
        key = (meta.get("namespace"), meta["name"])
        store = self._store(res)
        if key in store:
            raise ApiError.make(409, "AlreadyExists", f'{res.group_resource} "{meta["name"]}" already exists',
                                name=meta["name"], group=res.group, kind=res.plural)
        obj.setdefault("kind", res.kind)
        obj.setdefault("apiVersion", res.api_version)
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", _now())
        meta.setdefault("generation", 1)
        meta["resourceVersion"] = self._next_rv()
        store[key] = obj
        if record_event:
            self._emit(res, "ADDED", obj)
        return obj

    def _emit(self, res: Resource, etype: str, obj: dict[str, Any]) -> None:
        snapshot = copy.deepcopy(obj)
        self._history.setdefault(_res_id(res), []).append((self.resource_version, etype, snapshot))
        for rid, queue, accept in self._watchers:
            if rid == _res_id(res) and accept(snapshot):
                queue.put_nowait(WatchEvent(etype, copy.deepcopy(snapshot)))

    def _existing(self, res: Resource, name: str, namespace: str | None) -> dict[str, Any]:
        obj = self._store(res).get((namespace if res.namespaced else None, name))
        if obj is None:
            raise self._not_found(res, name)
        return obj

    def _write(self, res: Resource, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        """Store an updated object: keep identity fields, bump RV (and generation if spec changed)."""
        meta, old_meta = new.setdefault("metadata", {}), old["metadata"]
        for keep in ("name", "namespace", "uid", "creationTimestamp"):
            if keep in old_meta:
                meta[keep] = old_meta[keep]
        new.setdefault("kind", res.kind)
        new.setdefault("apiVersion", res.api_version)
        generation = old_meta.get("generation", 1)
        if new.get("spec") != old.get("spec"):
            generation += 1
        meta["generation"] = generation
        if old_meta.get("deletionTimestamp"):
            meta["deletionTimestamp"] = old_meta["deletionTimestamp"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            return self._remove(res, new)
        meta["resourceVersion"] = self._next_rv()
        self._store(res)[(meta.get("namespace"), meta["name"])] = new
        self._emit(res, "MODIFIED", new)
        return new

    def _remove(self, res: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        self._store(res).pop((meta.get("namespace"), meta["name"]), None)
        meta["resourceVersion"] = self._next_rv()
        self._emit(res, "DELETED", obj)
        return obj

    # -- the ApiClient surface --------------------------------------------------------------------

    async def close(self) -> None:
        for _, queue, _ in self._watchers:
            queue.put_nowait(None)

    async def get(self, res: Resource, name: str, namespace: str | None = None, *,
                  subresource: str | None = None) -> dict[str, Any]:
        ns = namespace if res.namespaced else None
        reacted = self._record(Action("get", res.plural, ns, name, subresource))
        if reacted is not None:
            return reacted
        return copy.deepcopy(self._existing(res, name, ns))

    async def list(self, res: Resource, namespace: str | None = None, *, label_selector: str | None = None,
                   field_selector: str | None = None, resource_version: str | None = None,
                   limit: int | None = None, continue_token: str | None = None) -> dict[str, Any]:
        ns = namespace if res.namespaced else None
        reacted = self._record(Action("list", res.plural, ns, None, None,
                                      {"labelSelector": label_selector, "fieldSelector": field_selector}))
        if reacted is not None:
            return reacted
        accept = _filter(ns, label_selector, field_selector)
        items = [o for o in self.objects(res, ns) if accept(o)]
        return {"kind": res.list_kind, "apiVersion": res.api_version,
                "metadata": {"resourceVersion": str(self.resource_version)}, "items": items}

    async def create(self, res: Resource, obj: dict[str, Any], namespace: str | None = None, *,
                     subresource: str | None = None, name: str | None = None) -> dict[str, Any]:
        body = copy.deepcopy(obj)
        ns = (namespace or (body.get("metadata") or {}).get("namespace") or "default") if res.namespaced else None
        target = name if subresource else (body.get("metadata") or {}).get("name")
        reacted = self._record(Action("create", res.plural, ns, target, subresource, copy.deepcopy(obj)))
        if reacted is not None:
            return reacted
        if subresource:
            return self._create_subresource(res, body, ns, name or "", subresource)
        if res.namespaced:
            body.setdefault("metadata", {})["namespace"] = ns
        return copy.deepcopy(self._insert(res, body, record_event=True))

    def _create_subresource(self, res: Resource, body: dict[str, Any], ns: str | None, name: str,
                            subresource: str) -> dict[str, Any]:
        current = self._existing(res, name, ns)
        if res.plural == "pods" and subresource == "binding":
            if (current.get("spec") or {}).get("nodeName"):
                raise ApiError.make(409, "Conflict", f'Operation cannot be fulfilled on pods/binding "{name}": '
                                    f"pod {name} is already assigned to node "
                                    f'"{current["spec"]["nodeName"]}"')
            new = copy.deepcopy(current)
            new.setdefault("spec", {})["nodeName"] = (body.get("target") or {}).get("name")
            self._write(res, current, new)
            return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
        if res.plural == "pods" and subresource == "eviction":
            self._delete_obj(res, current)
            return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
        return body

    async def replace(self, res: Resource, obj: dict[str, Any], namespace: str | None = None, *,
                      subresource: str | None = None) -> dict[str, Any]:
        body = copy.deepcopy(obj)
        meta = body.get("metadata") or {}
        ns = (namespace or meta.get("namespace") or "default") if res.namespaced else None
        name = meta.get("name")
        reacted = self._record(Action("update", res.plural, ns, name, subresource, copy.deepcopy(obj)))
        if reacted is not None:
            return reacted
        if not name:
            raise ApiError.make(422, "Invalid", "metadata.name: Required value", kind=res.kind)
        current = self._existing(res, name, ns)
        want_rv = meta.get("resourceVersion")
        if want_rv and want_rv != current["metadata"]["resourceVersion"]:
            raise ApiError.make(409, "Conflict", f'Operation cannot be fulfilled on {res.group_resource} "{name}": '
                                "the object has been modified; please apply your changes to the latest version "
                                "and try again", name=name, group=res.group, kind=res.plural)
        if subresource == "status":
            new = copy.deepcopy(current)
            new["status"] = body.get("status")
        else:
            new = body
            if res.subresource("status") is not None and "status" in current:
                new["status"] = copy.deepcopy(current["status"])
        return copy.deepcopy(self._write(res, current, new))

    async def patch(self, res: Resource, name: str, patch: dict[str, Any] | builtins.list[Any],
                    namespace: str | None = None, *, patch_type: str = "merge", subresource: str | None = None,
                    field_manager: str | None = None, force: bool | None = None) -> dict[str, Any]:
        ns = (namespace or "default") if res.namespaced else None
        reacted = self._record(Action("patch", res.plural, ns, name, subresource, copy.deepcopy(patch),
                                      patch_type=patch_type))
        if reacted is not None:
            return reacted
        store = self._store(res)
        current = store.get((ns, name))
        if current is None:
            if patch_type == "apply" and isinstance(patch, dict):
                body = copy.deepcopy(patch)
                body.setdefault("metadata", {})["name"] = name
                if ns:
                    body["metadata"]["namespace"] = ns
                return copy.deepcopy(self._insert(res, body, record_event=True))
            raise self._not_found(res, name)
        if patch_type in ("merge", "apply"):
            if not isinstance(patch, dict):
                raise ApiError.make(400, "BadRequest", "a merge patch must be a JSON object")
            new = _merge_patch(current, patch, strategic=False)
        elif patch_type == "strategic":
            if not isinstance(patch, dict):
                raise ApiError.make(400, "BadRequest", "a strategic merge patch must be a JSON object")
            new = _merge_patch(current, patch, strategic=True)
        elif patch_type == "json":
            if not isinstance(patch, list):
                raise ApiError.make(400, "BadRequest", "a JSON patch must be a list of operations")
            new = _json_patch(current, patch)
        else:
            raise ApiError.make(415, "UnsupportedMediaType", f"unsupported patch type {patch_type!r}")
        want_rv = (new.get("metadata") or {}).get("resourceVersion")
        if want_rv and want_rv != current["metadata"]["resourceVersion"]:
            raise ApiError.make(409, "Conflict", f'Operation cannot be fulfilled on {res.group_resource} "{name}": '
                                "the object has been modified", name=name, group=res.group, kind=res.plural)
        if subresource == "status":
            only_status = copy.deepcopy(current)
            only_status["status"] = new.get("status")
            new = only_status
        return copy.deepcopy(self._write(res, current, new))

    async def delete(self, res: Resource, name: str, namespace: str | None = None, *,
                     grace_period_seconds: int | None = None, propagation_policy: str | None = None,
                     preconditions: dict[str, Any] | None = None) -> dict[str, Any]:
        ns = (namespace or "default") if res.namespaced else None
        options = {k: v for k, v in (("gracePeriodSeconds", grace_period_seconds),
                                     ("propagationPolicy", propagation_policy),
                                     ("preconditions", preconditions)) if v is not None}
        reacted = self._record(Action("delete", res.plural, ns, name, None, options or None))
        if reacted is not None:
            return reacted
        current = self._existing(res, name, ns)
        for field_name, meta_key in (("uid", "uid"), ("resourceVersion", "resourceVersion")):
            want = (preconditions or {}).get(field_name)
            if want and want != current["metadata"].get(meta_key):
                raise ApiError.make(409, "Conflict", f"Precondition failed: {field_name}: {want}, "
                                    f"object has {current['metadata'].get(meta_key)}",
                                    name=name, group=res.group, kind=res.plural)
        return copy.deepcopy(self._delete_obj(res, current))

    def _delete_obj(self, res: Resource, current: dict[str, Any]) -> dict[str, Any]:
        if current["metadata"].get("finalizers"):
            if current["metadata"].get("deletionTimestamp"):
                return current
            new = copy.deepcopy(current)
            new["metadata"]["deletionTimestamp"] = _now()
            return self._write(res, current, new)
        return self._remove(res, current)

    async def watch(self, res: Resource, namespace: str | None = None, *, resource_version: str | None = None,
                    label_selector: str | None = None, field_selector: str | None = None,
                    allow_bookmarks: bool = True, timeout_seconds: int | None = None,
                    ) -> AsyncIterator[WatchEvent]:
        ns = namespace if res.namespaced else None
        reacted = self._record(Action("watch", res.plural, ns, None, None,
                                      {"resourceVersion": resource_version, "labelSelector": label_selector,
                                       "fieldSelector": field_selector}))
        if reacted is not None:
            raise ApiError.make(500, "InternalError", "a reactor cannot answer a watch; raise from it instead")
        accept = _filter(ns, label_selector, field_selector)
        backlog: builtins.list[WatchEvent] = []
        if not resource_version or resource_version == "0":
            backlog = [WatchEvent("ADDED", o) for o in self.objects(res, ns) if accept(o)]
        else:
            since = int(resource_version)
            if since < self._compacted:
                raise ApiError.make(410, "Expired", f"too old resource version: {since} ({self._compacted})")
            backlog = [WatchEvent(t, copy.deepcopy(o)) for rv, t, o in self._history.get(_res_id(res), [])
                       if rv > since and accept(o)]
        queue: asyncio.Queue[WatchEvent | None] = asyncio.Queue()
        entry = (_res_id(res), queue, accept)
        self._watchers.append(entry)
        try:
            for event in backlog:
                yield event
            while True:
                item = await queue.get()
                if item is None:
                    return
                yield item
        finally:
            self._watchers.remove(entry)

    def close_watches(self) -> None:
        """End every open watch stream (as a server restart would); informers then resume."""
        for _, queue, _ in self._watchers:
            queue.put_nowait(None)


# -- selectors ------------------------------------------------------------------------------------

def _filter(namespace: str | None, label_selector: str | None,
            field_selector: str | None) -> Callable[[dict[str, Any]], bool]:
    labels_ok = _label_matcher(label_selector)
    fields = _parse_field_selector(field_selector)

    def accept(obj: dict[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        if namespace and meta.get("namespace") != namespace:
            return False
        if not labels_ok(meta.get("labels") or {}):
            return False
        for path, op, value in fields:
            actual = _field_value(obj, path)
            if (actual == value) != (op == "="):
                return False
        return True

    return accept


def _field_value(obj: dict[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    if cur is None:
        return ""
    return str(cur).lower() if isinstance(cur, bool) else str(cur)


def _parse_field_selector(selector: str | None) -> builtins.list[tuple[str, str, str]]:
    out: builtins.list[tuple[str, str, str]] = []
    for term in filter(None, (t.strip() for t in (selector or "").split(","))):
        for op in ("!=", "==", "="):
            if op in term:
                path, value = term.split(op, 1)
                out.append((path.strip(), "!=" if op == "!=" else "=", value.strip()))
                break
        else:
            raise ApiError.make(400, "BadRequest", f"invalid field selector term {term!r}")
    return out


def _label_matcher(selector: str | None) -> Callable[[dict[str, str]], bool]:
    if not selector:
        return lambda labels: True
    try:
        parsed = parse_label_selector(selector)
    except ValueError as e:
        raise ApiError.make(400, "BadRequest", f"invalid label selector {selector!r}: {e}") from None
    return lambda labels: bool(parsed.matches(labels))


# -- patches --------------------------------------------------------------------------------------

def _merge_patch(target: Any, patch: Any, *, strategic: bool) -> Any:
    """RFC 7386 (None deletes); with strategic=True lists of named dicts merge by name."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if strategic and key.startswith("$"):
            continue  # directives ($patch, $retainKeys, ...) are not modelled
        if value is None:
            out.pop(key, None)
        elif strategic and isinstance(value, list) and isinstance(out.get(key), list) and _named(value) \
                and _named(out[key]):
            merged = {item["name"]: item for item in copy.deepcopy(out[key])}
            for item in value:
                if item.get("$patch") == "delete":
                    merged.pop(item["name"], None)
                else:
                    merged[item["name"]] = _merge_patch(merged.get(item["name"], {}), item, strategic=True)
            out[key] = list(merged.values())
        else:
            out[key] = _merge_patch(out.get(key), value, strategic=strategic)
    return out


def _named(items: builtins.list[Any]) -> bool:
    return all(isinstance(i, dict) and "name" in i for i in items)


def _pointer(path: str) -> builtins.list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError.make(400, "BadRequest", f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _json_patch(doc: dict[str, Any], ops: builtins.list[Any]) -> dict[str, Any]:
    """RFC 6902: add, remove, replace, move, copy, test."""
    result: Any = copy.deepcopy(doc)

    def parent(parts: builtins.list[str]) -> tuple[Any, str]:
        cur = result
        for p in parts[:-1]:
            cur = cur[int(p)] if isinstance(cur, list) else cur[p]
        return cur, parts[-1]

    def get(parts: builtins.list[str]) -> Any:
        cur = result
        for p in parts:
            cur = cur[int(p)] if isinstance(cur, list) else cur[p]
        return cur

    def remove(parts: builtins.list[str]) -> Any:
        container, last = parent(parts)
        return container.pop(int(last)) if isinstance(container, list) else container.pop(last)

    def add(parts: builtins.list[str], value: Any) -> None:
        nonlocal result
        if not parts:
            result = value
            return
        container, last = parent(parts)
        if isinstance(container, list):
            container.insert(len(container) if last == "-" else int(last), value)
        else:
            container[last] = value

    for op in ops:
        try:
            kind, parts = op["op"], _pointer(op["path"])
            if kind == "add":
                add(parts, copy.deepcopy(op["value"]))
            elif kind == "remove":
                remove(parts)
            elif kind == "replace":
                get(parts)
                remove(parts) if parts else None
                add(parts, copy.deepcopy(op["value"]))
            elif kind == "move":
                add(parts, remove(_pointer(op["from"])))
            elif kind == "copy":
                add(parts, copy.deepcopy(get(_pointer(op["from"]))))
            elif kind == "test":
                if get(parts) != op["value"]:
                    raise ApiError.make(422, "Invalid", f"test operation failed at {op['path']}")
            else:
                raise ApiError.make(400, "BadRequest", f"unknown JSON patch op {kind!r}")
        except (KeyError, IndexError, ValueError, TypeError) as e:
            raise ApiError.make(422, "Invalid", f"JSON patch operation {op!r} cannot be applied: {e}") from None
    if not isinstance(result, dict):
        raise ApiError.make(422, "Invalid", "a JSON patch must leave an object")
    return result
