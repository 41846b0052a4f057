"""The REST verbs over the store: get, list, watch, create, update, patch, delete, subresources.

Request flow (docs/apiserver.md): route -> decode (JSON, YAML, protobuf) -> check kind and
namespace against the URL -> default -> validate -> admission (namespace lifecycle, Service
allocation) -> store write with compare-and-swap on the resourceVersion -> encode the answer.

Writes that start from the current object (PATCH, status/scale/finalize, DELETE with
finalizers) run in a read-modify-write loop that retries when another writer got in between,
unless the client sent its own resourceVersion precondition: then the conflict is theirs (409).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson
import yaml
from multidict import CIMultiDict

from kubelite.api.resources import NAMESPACES, PODS, SERVICES, Resource, lookup
from kubelite.apiserver import adapters, errors, objects
from kubelite.apiserver import protobuf as pb
from kubelite.apiserver.allocator import AllocationError, ServiceAllocator
from kubelite.apiserver.errors import ApiError
from kubelite.apiserver.http import Answer, Reply, Request, open_stream
from kubelite.apiserver.watchcache import Entry, WatchCache, Watcher, decode, with_rv
from kubelite.storage import (
    CompactedError,
    ConflictError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    Store,
    ValueTooLargeError,
)

log = logging.getLogger(__name__)

MAX_BODY = 3 * 1024 * 1024
#: this server's own writes remembered until its watch cache has them (Rest._wrote)
_MAX_RECENT = 10000
JSON = "application/json"
PATCH_TYPES = ("application/merge-patch+json", "application/json-patch+json",
               "application/strategic-merge-patch+json", "application/apply-patch+yaml")
PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public")
#: Kinds whose status is reset on create (their status is written by controllers, not users).
_RESET_STATUS_ON_CREATE = {"Pod", "Service", "Deployment", "ReplicaSet", "DaemonSet", "Job",
                           "ReplicationController", "Namespace"}
_MAX_RETRIES = 20
#: Kinds whose defaulting or validation reads `status` (api/defaults.py, api/validation.py). A
#: status write of any other kind changes only the status, which neither looks at, so it skips
#: both: re-validating the stored spec of a pod on every kubelet status write was most of the cost
#: of a pods/status PATCH (Kubernetes' status strategies validate the status only, too).
_STATUS_CHECKED_KINDS = frozenset({"Node", "Namespace"})


@dataclass
class Target:
    """What a URL names."""

    res: Resource
    namespace: str | None
    name: str | None
    sub: str | None


@dataclass
class Options:
    """Per-request write options from the query string."""

    dry_run: bool = False
    field_manager: str = ""
    field_validation: str = "Strict"
    force: bool = False
    warnings: list[str] = field(default_factory=list)
    #: the authenticated user's name ("" for the server's own writes)
    user: str = ""


def write_options(q: Any, default_manager: str) -> Options:
    dry = q.getall("dryRun", [])
    for d in dry:
        if d != "All":
            raise errors.bad_request(f'unsupported dryRun value "{d}"; the only supported value is "All"')
    fv = q.get("fieldValidation", "") or "Strict"
    if fv not in ("Strict", "Warn", "Ignore"):
        raise errors.bad_request(f'fieldValidation must be one of "Strict", "Warn", "Ignore"; got "{fv}"')
    force = q.get("force", "false")
    return Options(dry_run=bool(dry), field_manager=q.get("fieldManager", "") or default_manager,
                   field_validation=fv, force=force in ("true", "1"))


#: where the server keeps the authenticated user (server.User) on the request
USER_KEY = "kubelite.user"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


def request_options(request: Request) -> Options:
    """write_options for a request, with the authenticated user (set by the server) filled in.

    Most writes (a kubelet's status PATCH, a controller's create) have no query string: their
    options are the defaults, without parsing one."""
    opts = write_options(request.query, "") if request.query_string else Options()
    user = request.get(USER_KEY)
    opts.user = getattr(user, "name", "") or ""
    return opts


def check_mirror_pod(old: dict[str, Any], new: dict[str, Any], user: str) -> None:
    """Mirror pods (static pods' API copies) belong to their node.

    The mirror annotation cannot be added, changed or removed (422, Kubernetes' own messages),
    and only the node itself (user system:node:<name>) may change a mirror pod's spec (403).
    """
    old_ann = ((old.get("metadata") or {}).get("annotations") or {})
    new_ann = ((new.get("metadata") or {}).get("annotations") or {})
    if not isinstance(new_ann, dict):
        return
    name = (old.get("metadata") or {}).get("name", "")
    fld = f"metadata.annotations[{MIRROR_ANNOTATION}]"
    if MIRROR_ANNOTATION in old_ann and new_ann.get(MIRROR_ANNOTATION) != old_ann[MIRROR_ANNOTATION]:
        raise errors.invalid(PODS, name, [{"reason": "FieldValueForbidden", "field": fld,
                                           "message": "Forbidden: may not remove or update mirror pod annotation"}])
    if MIRROR_ANNOTATION in new_ann and MIRROR_ANNOTATION not in old_ann:
        raise errors.invalid(PODS, name, [{"reason": "FieldValueForbidden", "field": fld,
                                           "message": "Forbidden: may not add mirror pod annotation"}])
    if MIRROR_ANNOTATION in old_ann and new.get("spec") != old.get("spec"):
        node = (old.get("spec") or {}).get("nodeName") or ""
        if not node or user != f"system:node:{node}":
            raise errors.forbidden(PODS, name, f"the spec of a mirror pod can only be changed by its node "
                                   f"(edit the static pod manifest on node {node or '<none>'})")


def parse_path(path: str) -> Target | None:
    """/api/v1/namespaces/ns/pods/x/status -> Target; None when the path names no resource."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    if rest and rest[0] == "watch":  # legacy /api/v1/watch/... paths
        rest = rest[1:]
    if not rest:
        return None
    ns: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3 and not (len(rest) == 3 and rest[2] in ("status", "finalize")):
        ns, rest = rest[1], rest[2:]
    res = lookup(group, version, rest[0])
    if res is None or len(rest) > 3:
        return None
    if ns is not None and not res.namespaced:
        return None
    name = rest[1] if len(rest) >= 2 else None
    sub = rest[2] if len(rest) == 3 else None
    if sub is not None and res.subresource(sub) is None:
        return None
    return Target(res, ns, name, sub)


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


def json_response(obj: Any, status: int = 200, headers: Any = None) -> Answer:
    return Answer(orjson.dumps(obj), status, JSON, headers)


def encode_value(obj: dict[str, Any]) -> bytes:
    """The stored form: everything but the resourceVersion (the store's revision is that).

    apiVersion, kind and metadata come first, so that `with_rv` can splice the
    resourceVersion into stored bytes without decoding them (fast LIST).
    """
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "resourceVersion"}
    out: dict[str, Any] = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "metadata": meta}
    for k, v in obj.items():
        if k not in out:
            out[k] = v
    # An exact-size copy: orjson's result keeps its whole growth buffer allocated (measured:
    # 8 KiB of RSS for a 0.7 KB pod, 64 KiB for a 5 KB object), and the stored value lives as
    # long as the object (store index, watch cache, history rings).
    return memoryview(orjson.dumps(out)).tobytes()


def set_rv(obj: dict[str, Any], rev: int) -> dict[str, Any]:
    obj.setdefault("metadata", {})["resourceVersion"] = str(rev)
    return obj


def warning_headers(opts: Options) -> CIMultiDict[str] | None:
    """One `Warning: 299 - "..."` header per warning, quoted as Go's strconv.Quote does."""
    if not opts.warnings:
        return None
    out: CIMultiDict[str] = CIMultiDict()
    for w in opts.warnings:
        out.add("Warning", "299 - " + orjson.dumps(w).decode())
    return out


def wants_table(accept: str) -> bool:
    return "as=Table" in accept


def _continue_token(rev: int, key: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"v": "kubelite1", "rv": rev, "start": key})).decode()


def _parse_continue(token: str) -> tuple[int, str]:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token.encode()))
        return int(data["rv"]), str(data["start"])
    except Exception as e:  # noqa: BLE001 - any garbage token is a client error
        raise errors.bad_request(f"continue key is not valid: {token}") from e


def _int_param(q: Any, name: str) -> int | None:
    v = q.get(name)
    if v is None or v == "":
        return None
    try:
        return int(v)
    except ValueError as e:
        raise errors.bad_request(f"invalid value for {name}: {v!r}") from e


_PLAIN_VALUE = re.compile(r"^[A-Za-z0-9._:-]*$")


def node_name_of(pod: dict[str, Any]) -> str:
    """A pod's `spec.nodeName` as its field selector sees it ("" when unset): the pod watch
    cache's index, so a kubelet's watch is offered only its own node's pods."""
    spec = pod.get("spec")
    v = spec.get("nodeName") if isinstance(spec, dict) else None
    return v if isinstance(v, str) else ("" if v is None else str(v))


def pinned_node_name(field_selector: str) -> str | None:
    """X when the field selector requires `spec.nodeName=X` (or `==X`), else None.

    The requirement is ANDed with the others, so such a watcher can only ever be sent pods
    whose nodeName is (or was) X. Values with escapes or odd characters are left unindexed.
    """
    for part in field_selector.split(","):
        part = part.strip()
        for op in ("spec.nodeName==", "spec.nodeName="):
            if part.startswith(op):
                value = part[len(op):].strip()
                return value if _PLAIN_VALUE.match(value) else None
    return None


#: a live watcher whose connection holds more unsent bytes than this is dropped (it re-watches)
MAX_WATCH_BUFFER = 16 * 1024 * 1024


def _chunk_sink(transport: asyncio.BaseTransport | None, who: str = "") -> Callable[[bytes], bool]:
    """Write already chunk-framed watch lines straight to the connection (see Watcher.sink).

    Synchronous on purpose: the watch cache writes one event to a thousand watchers without
    a task switch per watcher. Returns False when the connection is gone or the client reads
    too slowly (its unsent bytes passed MAX_WATCH_BUFFER); the watcher is then closed (`who`
    names it in the log: the watch and the client's User-Agent).
    """
    # Duck-typed: uvloop's transports (kubelite.aio) do not subclass asyncio's classes.
    if transport is None or not hasattr(transport, "write") or not hasattr(transport, "get_write_buffer_size"):
        return lambda chunk: False
    tr: Any = transport

    def sink(chunk: bytes) -> bool:
        if tr.is_closing():
            return False
        if tr.get_write_buffer_size() > MAX_WATCH_BUFFER:
            log.warning("dropping a watcher whose connection has %d unsent bytes: %s", tr.get_write_buffer_size(), who)
            return False
        tr.write(chunk)
        return True
    return sink


class _Version(NamedTuple):
    """One version of an object a read-modify-write starts from; `fresh` if read from the store."""

    value: bytes
    revision: int
    fresh: bool

    @staticmethod
    def of(kv: KeyValue | None) -> _Version | None:
        return _Version(kv.value, kv.mod_revision, True) if kv is not None else None


class Written(NamedTuple):
    """An object as a write left it, and its JSON when the stored bytes (resourceVersion spliced
    in) are it: None when the answer needs its own encoding (a conversion, a dry run, no write)."""

    obj: dict[str, Any]
    raw: bytes | None


class _LostRace(Exception):  # noqa: N818 - not an error: the caller retries
    """A compare-and-swap lost to another writer; carries what the store holds now."""

    def __init__(self, current: KeyValue | None) -> None:
        super().__init__("the object changed meanwhile")
        self.current = current


class Rest:
    """All resource handlers; one instance per server."""

    def __init__(self, store: Store, caches: dict[str, WatchCache], allocator: ServiceAllocator,
                 bookmark_interval: float = 5.0, on_watch: Callable[[int], None] | None = None,
                 proxy: Callable[[Request, Target, dict[str, Any]], Awaitable[Reply]] | None = None,
                 ) -> None:
        self.store = store
        self.caches = caches
        self.allocator = allocator
        self.bookmark_interval = bookmark_interval
        self.on_watch = on_watch or (lambda delta: None)
        self.proxy = proxy
        self._fields_fns: dict[str, Callable[[dict[str, Any]], dict[str, str]]] = {}
        self._storage_of: dict[int, tuple[Resource, str, bool]] = {}
        #: key -> (value, revision) of this server's latest writes the watch cache may not have yet
        self._recent: dict[str, tuple[bytes, int]] = {}

    # ----------------------------------------------------------------- plumbing
    def _storage(self, res: Resource) -> tuple[Resource, str, bool]:
        """(res, its storage prefix, namespaced), memoised by identity: every request asks, and
        building the prefix (or hashing the frozen dataclass, which walks all its fields) was a
        visible part of a pod status write's cost."""
        hit = self._storage_of.get(id(res))
        if hit is None or hit[0] is not res:
            sres = objects.storage_resource(res)
            hit = self._storage_of[id(res)] = (res, sres.storage_prefix(), sres.namespaced)
        return hit

    def cache_for(self, res: Resource) -> WatchCache | None:
        return self.caches.get(self._storage(res)[1])

    def cached_version(self, res: Resource, key: str) -> _Version | None:
        """The watch cache's copy of `key` to start a read-modify-write from, as kube-apiserver's
        GuaranteedUpdate does: no store read before the write. It may be behind the store (not
        fresh); the compare-and-swap then fails and the retry starts from what the store returned."""
        cache = self.cache_for(res)
        entry = cache.objects.get(key) if cache is not None else None
        mine = self._recent.get(key) if self._recent else None
        if mine is not None:
            if entry is None or entry.revision < mine[1]:
                return _Version(mine[0], mine[1], False)  # this server's own write, not in the cache yet
            del self._recent[key]  # the cache has caught up
        return _Version(entry.value, entry.revision, False) if entry is not None else None

    def _wrote(self, key: str, value: bytes | None, revision: int) -> None:
        """Remember this server's latest write of `key` (None: deleted) until its watch cache has
        it: the next write of the same object starts from it instead of the cache's older copy.
        With etcd the cache trails the store by a watch round trip, and a pod's status PATCH right
        after its binding lost the compare-and-swap (an extra transaction) ~0.4 times per pod."""
        recent = self._recent
        if value is None:
            recent.pop(key, None)
            return
        if len(recent) >= _MAX_RECENT and key not in recent:
            recent.clear()
        recent[key] = (value, revision)

    async def start_version(self, res: Resource, key: str, name: str, start: _Version | None) -> _Version:
        """`start` if there is one, else the store's current version (404 if there is none)."""
        if start is not None:
            return start
        kv = await self.store.get(key)
        if kv is None:
            raise errors.not_found(res, name)
        return _Version(kv.value, kv.mod_revision, True)

    def key(self, res: Resource, ns: str | None, name: str) -> str:
        """The store key (as storage_resource(res).storage_key(ns, name))."""
        _, prefix, namespaced = self._storage(res)
        return f"{prefix}{ns}/{name}" if namespaced and ns else prefix + name

    async def read_body(self, request: Request) -> bytes:
        if request.body_too_large or (request.content_length is not None and request.content_length > MAX_BODY):
            raise errors.too_large(MAX_BODY)
        body = await request.read()
        if len(body) > MAX_BODY:
            raise errors.too_large(MAX_BODY)
        return body

    def decode_body(self, body: bytes, content_type: str, allowed: tuple[str, ...] | None = None) -> Any:
        ct = content_type.split(";")[0].strip().lower()
        if allowed is not None and ct not in allowed:
            raise errors.unsupported_media_type(ct)
        if not body:
            raise errors.bad_request("the request body is empty")
        try:
            if ct in ("application/json", "application/merge-patch+json", "application/json-patch+json",
                      "application/strategic-merge-patch+json"):
                return orjson.loads(body)
            if ct in ("application/yaml", "application/apply-patch+yaml", "text/yaml", "application/x-yaml"):
                return yaml.safe_load(body)
            if ct == "application/vnd.kubernetes.protobuf":
                return pb.decode(body)
        except orjson.JSONDecodeError as e:
            raise errors.bad_request(f"error decoding JSON: {e}") from e
        except yaml.YAMLError as e:
            raise errors.bad_request(f"error decoding YAML: {str(e).splitlines()[0] if str(e) else e}") from e
        except ValueError as e:
            raise errors.bad_request(str(e)) from e
        raise errors.unsupported_media_type(ct)

    def decode_object(self, body: bytes, content_type: str) -> dict[str, Any]:
        # Like kube-apiserver, a request without Content-Type is read as JSON.
        content_type = content_type or JSON
        obj = self.decode_body(body, content_type, ("application/json", "application/yaml", "text/yaml",
                                                    "application/x-yaml", "application/vnd.kubernetes.protobuf"))
        if not isinstance(obj, dict):
            raise errors.bad_request("the body of the request is not a JSON/YAML object")
        return obj

    async def get_kv(self, res: Resource, ns: str | None, name: str) -> KeyValue:
        kv = await self.store.get(self.key(res, ns, name))
        if kv is None:
            raise errors.not_found(res, name)
        return kv

    async def get_object(self, res: Resource, ns: str | None, name: str) -> dict[str, Any]:
        kv = await self.get_kv(res, ns, name)
        return objects.to_external(res, decode(kv.value, kv.mod_revision))

    async def namespace_state(self, ns: str) -> dict[str, Any] | None:
        key = NAMESPACES.storage_key(None, ns)
        cache = self.caches.get(NAMESPACES.storage_prefix())
        if cache is not None and key in cache.objects:
            return cache.get(key)
        kv = await self.store.get(key)
        return decode(kv.value, kv.mod_revision) if kv else None

    def check_type(self, res: Resource, obj: dict[str, Any], sub: str | None = None) -> None:
        """The body's apiVersion/kind must be the URL's (empty means "the URL's")."""
        want_av, want_kind = res.api_version, res.kind
        if sub:
            s = res.subresource(sub)
            if s is not None and sub != "status":
                want_av = f"{s.group}/{s.version}" if s.group else s.version
                want_kind = s.kind
        av, kind = obj.get("apiVersion"), obj.get("kind")
        if av and av != want_av:
            raise errors.bad_request(f"the API version in the data ({av}) does not match the expected API "
                                     f"version ({want_av})")
        if kind and kind != want_kind:
            raise errors.bad_request(f"the kind in the data ({kind}) does not match the expected kind ({want_kind})")
        obj["apiVersion"], obj["kind"] = want_av, want_kind
        if not isinstance(obj.get("metadata", {}), dict):
            raise errors.bad_request("metadata must be an object")

    def check_unknown(self, res: Resource, obj: dict[str, Any], opts: Options) -> None:
        if opts.field_validation == "Ignore":
            return
        try:
            unknown = adapters.unknown_fields(res.api_version, res.kind, obj)
        except Exception:  # noqa: BLE001 - schema gaps must not block writes
            log.exception("unknown_fields failed for %s", res.kind)
            return
        if not unknown:
            return
        if opts.field_validation == "Strict":
            msg = ", ".join(f'unknown field "{f}"' for f in unknown)
            raise errors.bad_request(f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}: '
                                     f"strict decoding error: {msg}")
        opts.warnings.extend(f'unknown field "{f}"' for f in unknown)

    # ----------------------------------------------------------------- reads
    async def get(self, request: Request, t: Target) -> Reply:
        assert t.name is not None
        obj = await self.get_object(t.res, t.namespace, t.name)
        if t.sub == "scale":
            return json_response(self.scale_of(t.res, obj))
        if wants_table(request.headers.get("Accept", "")):
            tbl = objects.table(t.res, [obj], obj["metadata"].get("resourceVersion", ""), "",
                                request.query.get("includeObject", "Metadata"))
            return json_response(tbl)
        return json_response(obj)

    def selectors(self, res: Resource, q: Any) -> tuple[Any, Any]:
        label_match = field_match = None
        ls = q.get("labelSelector", "")
        fs = q.get("fieldSelector", "")
        try:
            if ls:
                label_match = adapters.parse_label_selector(ls).matches
            if fs:
                matcher, names = adapters.parse_field_selector(fs)
                supported = adapters.supported_fields(res.api_version, res.kind)
                for n in names:
                    if n not in supported:
                        raise errors.bad_request(f'field label not supported: {n}')
                field_match = matcher.matches
        except adapters.SelectorError as e:
            raise errors.bad_request(f"unable to parse requirement: {e}") from e
        return label_match, field_match

    def fields_fn(self, res: Resource) -> Callable[[dict[str, Any]], dict[str, str]]:
        """The selectable-fields function of a resource: one per resource, so that the watch
        cache computes an event's fields once for all watchers of that resource."""
        fn = self._fields_fns.get(res.api_version + "/" + res.plural)
        if fn is None:
            if res.group == "events.k8s.io":
                def fn(o: dict[str, Any]) -> dict[str, str]:
                    return adapters.selectable_fields(res.api_version, res.kind, objects.to_external(res, o))
            else:
                def fn(o: dict[str, Any]) -> dict[str, str]:
                    return adapters.selectable_fields(res.api_version, res.kind, o)
            self._fields_fns[res.api_version + "/" + res.plural] = fn
        return fn

    def _filter(self, res: Resource, objs: list[dict[str, Any]], label_match: Any,
                field_match: Any) -> list[dict[str, Any]]:
        if label_match is None and field_match is None:
            return objs
        fields_of = self.fields_fn(res)
        out = []
        for o in objs:
            if label_match is not None and not label_match((o.get("metadata") or {}).get("labels") or {}):
                continue
            if field_match is not None and not field_match(fields_of(o)):
                continue
            out.append(o)
        return out

    def _cache_select(self, res: Resource, cache: WatchCache, namespace: str | None, node: str | None,
                      label_match: Any, field_match: Any) -> list[dict[str, Any]]:
        """Matching objects from the watch cache: selectors run on the cached facts, and only the
        matches are decoded."""
        return cache.snapshot(namespace, node, label_match, field_match, self.fields_fn(res))

    async def list_or_watch(self, request: Request, t: Target) -> Reply:
        q = request.query
        if q.get("watch") in ("true", "1") or "/watch/" in request.path:
            return await self.watch(request, t)
        label_match, field_match = self.selectors(t.res, q)
        limit = _int_param(q, "limit") or 0
        rv_param = q.get("resourceVersion", "")
        cont = q.get("continue", "")
        prefix = objects.storage_resource(t.res).storage_prefix(t.namespace)
        cache = self.cache_for(t.res)
        next_token = ""
        table = wants_table(request.headers.get("Accept", ""))
        plain = not table and label_match is None and field_match is None and t.res.group != "events.k8s.io"
        raw: list[bytes] | None = None
        node = pinned_node_name(q.get("fieldSelector", "")) if t.res is PODS else None
        objs: list[dict[str, Any]] = []
        from_cache = False
        if rv_param == "0" and not cont and cache is not None:
            revision = cache.revision
            if plain:
                raw = cache.snapshot_bytes(t.namespace)
            else:
                objs = self._cache_select(t.res, cache, t.namespace, node, label_match, field_match)
            from_cache = True
        elif node is not None and not rv_param and not cont and cache is not None:
            # A kubelet's list of its node's pods: served from the watch cache (as
            # kube-apiserver's ConsistentListFromCache) once the cache holds every pod write this
            # server acknowledged, instead of decoding every pod of the cluster from the store.
            # A page that would be larger than `limit` is left to the store's paging.
            last_write = getattr(self.store, "last_write", {}).get(cache.prefix, 0)
            if await cache.wait_for(last_write):
                picked = self._cache_select(t.res, cache, t.namespace, node, label_match, field_match)
                if not limit or len(picked) <= limit:
                    revision, objs, from_cache = cache.revision, picked, True
        if not from_cache:
            revision, raw, objs, next_token = await self._list_store(t, prefix, limit, rv_param, cont,
                                                                     label_match, field_match, plain)
        if t.res.group == "events.k8s.io":
            objs = [objects.to_external(t.res, o) for o in objs]
        rv = str(revision)
        if table:
            return json_response(objects.table(t.res, objs, rv, next_token, q.get("includeObject", "Metadata")))
        meta: dict[str, Any] = {"resourceVersion": rv}
        if next_token:
            meta["continue"] = next_token
        items = b"[" + b",".join(raw) + b"]" if raw is not None else orjson.dumps(objs)
        body = b"".join((b'{"kind":', orjson.dumps(t.res.list_kind), b',"apiVersion":', orjson.dumps(t.res.api_version),
                         b',"metadata":', orjson.dumps(meta), b',"items":', items, b"}"))
        return Answer(body)

    async def _list_store(self, t: Target, prefix: str, limit: int, rv_param: str, cont: str, label_match: Any,
                          field_match: Any, plain: bool,
                          ) -> tuple[int, list[bytes] | None, list[dict[str, Any]], str]:
        """Page through the store at one revision, keeping up to `limit` matching objects."""
        revision = 0
        start_after: str | None = None
        if cont:
            revision, start_after = _parse_continue(cont)
        elif rv_param:
            try:
                revision = int(rv_param)
            except ValueError as e:
                raise errors.bad_request(f"invalid resourceVersion {rv_param!r}") from e
        selecting = label_match is not None or field_match is not None
        picked: list[tuple[KeyValue, dict[str, Any] | None]] = []
        next_token = ""
        while True:
            want = 0 if not limit else max(limit - len(picked), 1) if not selecting else max(limit, 100)
            try:
                result = await self.store.list(prefix, limit=want, start_after=start_after, revision=revision)
            except CompactedError as e:
                if cont:
                    raise errors.expired("The provided continue parameter is too old to display a consistent "
                                         "list result. You can start a new list without the continue "
                                         "parameter.") from e
                raise errors.expired(f"too old resource version: {revision} ({e.compact_revision})") from e
            revision = result.revision
            batch: list[tuple[KeyValue, dict[str, Any] | None]]
            if selecting:
                decoded = [(kv, decode(kv.value, kv.mod_revision)) for kv in result.items]
                keep = {id(o) for o in self._filter(t.res, [o for _, o in decoded], label_match, field_match)}
                batch = [(kv, o) for kv, o in decoded if id(o) in keep]
            else:
                batch = [(kv, None) for kv in result.items]
            if limit and len(picked) + len(batch) > limit:
                picked.extend(batch[:limit - len(picked)])
                next_token = _continue_token(revision, picked[-1][0].key)
                break
            picked.extend(batch)
            if result.more_after is None:
                break
            start_after = result.more_after
            if limit and len(picked) >= limit:
                next_token = _continue_token(revision, result.more_after)
                break
        if plain:
            raw = []
            for kv, _ in picked:
                spliced = with_rv(kv.value, kv.mod_revision)
                raw.append(spliced if spliced is not None else orjson.dumps(decode(kv.value, kv.mod_revision)))
            return revision, raw, [], next_token
        return revision, None, [o if o is not None else decode(kv.value, kv.mod_revision) for kv, o in picked], \
            next_token

    def _key_of(self, res: Resource, obj: dict[str, Any]) -> str:
        meta = obj.get("metadata") or {}
        return self.key(res, meta.get("namespace"), meta.get("name", ""))

    # ----------------------------------------------------------------- watch
    def _encoder(self, res: Resource, fmt: str, include: str) -> Callable[[str, Entry], bytes]:
        if fmt == "table":
            cols = adapters.table_columns(res.api_version, res.kind)

            def enc_table(type_: str, entry: Entry) -> bytes:
                o = objects.to_external(res, entry.object())
                tbl = {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
                       "metadata": {"resourceVersion": (o.get("metadata") or {}).get("resourceVersion", "")},
                       "columnDefinitions": cols,
                       "rows": [objects.table_row(res, o, dt.datetime.now(dt.UTC), include)]}
                return b'{"type":"' + type_.encode() + b'","object":' + orjson.dumps(tbl) + b"}\n"
            return enc_table
        if res.group == "events.k8s.io":
            def enc_converted(type_: str, entry: Entry) -> bytes:
                o = objects.to_external(res, entry.object())
                return b'{"type":"' + type_.encode() + b'","object":' + orjson.dumps(o) + b"}\n"
            return enc_converted

        def enc_json(type_: str, entry: Entry) -> bytes:
            # the stored bytes with the resourceVersion spliced in: no decode, no re-encode
            return b'{"type":"' + type_.encode() + b'","object":' + entry.json() + b"}\n"
        return enc_json

    async def watch(self, request: Request, t: Target) -> Reply:
        q = request.query
        cache = self.cache_for(t.res)
        if cache is None:
            raise errors.method_not_allowed()
        label_match, field_match = self.selectors(t.res, q)
        if t.name:  # /watch/namespaces/ns/pods/x
            name = t.name
            prev_field = field_match

            def by_name(f: dict[str, str]) -> bool:
                return f.get("metadata.name") == name and (prev_field is None or bool(prev_field(f)))
            field_match = by_name
        timeout = _int_param(q, "timeoutSeconds")
        bookmarks = q.get("allowWatchBookmarks") in ("true", "1")
        rv_param = q.get("resourceVersion", "")
        fmt = "table" if wants_table(request.headers.get("Accept", "")) else "json"
        include = q.get("includeObject", "Metadata")
        after = 0
        if rv_param not in ("", "0"):
            try:
                after = int(rv_param)
            except ValueError as e:
                raise errors.bad_request(f"invalid resourceVersion {rv_param!r}") from e
        format_key = (t.res.api_version, fmt, include)
        group_key = (t.namespace, t.name, q.get("labelSelector", ""), q.get("fieldSelector", ""), format_key)
        watcher = Watcher(namespace=t.namespace, label_match=label_match, field_match=field_match,
                          fields_of=self.fields_fn(t.res), encode=self._encoder(t.res, fmt, include),
                          format_key=format_key, after=after, bookmarks=bookmarks, group_key=group_key,
                          index_value=pinned_node_name(q.get("fieldSelector", "")) if t.res is PODS else None)
        # (sends the head: from here on the body is ours to write)
        resp = await open_stream(request, {"Content-Type": JSON, "Cache-Control": "no-cache"})
        watcher.sink = _chunk_sink(resp.transport,
                                   f"{request.path_qs} ({request.headers.get('User-Agent', 'no User-Agent')})")
        try:
            cache.add_watcher(watcher, initial=rv_param in ("", "0"))
        except CompactedError as e:
            status = errors.expired(f"too old resource version: {after} ({e.compact_revision})").status()
            await resp.write(b'{"type":"ERROR","object":' + orjson.dumps(status) + b"}\n")
            return resp
        self.on_watch(1)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (timeout if timeout and timeout > 0 else 1800)
        bookmark_obj: dict[str, Any] = {"kind": t.res.kind, "apiVersion": t.res.api_version, "metadata": {"resourceVersion": ""}}
        try:
            async with asyncio.timeout_at(deadline):
                while True:
                    await watcher.wait()
                    chunks = watcher.take()
                    if chunks:
                        watcher.bookmark_due = False
                        await resp.write(b"".join(chunks))
                    elif watcher.bookmark_due:
                        watcher.bookmark_due = False
                        watcher.flush()  # lines the cache has not written yet come first
                        bookmark_obj["metadata"]["resourceVersion"] = str(max(cache.revision, watcher.after))
                        await resp.write(b'{"type":"BOOKMARK","object":' + orjson.dumps(bookmark_obj) + b"}\n")
                    if watcher.closed and not watcher.pending:
                        break
                    watcher.go_live()
        except TimeoutError:
            pass  # timeoutSeconds (or the server's own limit) reached: end the stream cleanly
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            cache.remove_watcher(watcher)
            self.on_watch(-1)
        return resp

    # ----------------------------------------------------------------- create
    async def create(self, request: Request, t: Target) -> Reply:
        body = await self.read_body(request)
        obj = self.decode_object(body, request.headers.get("Content-Type", ""))
        opts = request_options(request)
        if t.sub is not None or t.name is not None:
            raise errors.method_not_allowed()
        created = await self.create_written(t.res, t.namespace, obj, opts)
        headers = warning_headers(opts)
        return self.answer(created, 201, headers)

    def answer(self, written: Written, status: int, headers: Any) -> Reply:
        """The answer to a write: the stored bytes (resourceVersion spliced in) when they are the
        answer's JSON, so that a written object is encoded once for the store, the watch lines
        and the answer alike."""
        if written.raw is None:
            return json_response(written.obj, status, headers)
        return Answer(written.raw, status, JSON, headers)

    def _written(self, res: Resource, obj: dict[str, Any], value: bytes, rev: int) -> Written:
        """`obj` as stored at `rev` in `value` (with its answer's JSON when no conversion applies)."""
        ext = objects.to_external(res, set_rv(obj, rev))
        return Written(ext, with_rv(value, rev) if ext is obj else None)

    def _expect(self, res: Resource, key: str, value: bytes, obj: dict[str, Any]) -> None:
        """Tell the resource's watch cache the decoded form of a value about to be written, so it
        does not decode it again when the store's event arrives (WatchCache.expect)."""
        cache = self.cache_for(res)
        if cache is not None:
            cache.expect(key, value, obj)

    async def create_object(self, res: Resource, ns: str | None, obj: dict[str, Any], opts: Options,
                            check_type: bool = True) -> dict[str, Any]:
        return (await self.create_written(res, ns, obj, opts, check_type)).obj

    async def create_written(self, res: Resource, ns: str | None, obj: dict[str, Any], opts: Options,
                             check_type: bool = True) -> Written:
        """create_object, with the answer's JSON when the stored bytes are it."""
        if check_type:
            self.check_type(res, obj)
        meta = obj.setdefault("metadata", {})
        if meta is None:
            meta = obj["metadata"] = {}
        if res.namespaced:
            body_ns = meta.get("namespace")
            if ns is None:
                ns = body_ns or "default"
            if body_ns and body_ns != ns:
                raise errors.bad_request("the namespace of the provided object does not match the namespace "
                                         "sent on the request")
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
            ns = None
        name = meta.get("name") or ""
        gen_name = meta.get("generateName") or ""
        if not name and not gen_name:
            raise errors.invalid(res, "", [{"reason": "FieldValueRequired", "message": "name or generateName is "
                                            "required", "field": "metadata.name"}])
        self.check_unknown(res, obj, opts)
        obj = objects.to_internal(res, obj)
        meta = obj["metadata"]
        if res.namespaced and ns is not None:
            nsobj = await self.namespace_state(ns)
            if nsobj is None:
                raise errors.namespace_not_found(ns)
            if (nsobj.get("metadata") or {}).get("deletionTimestamp") or \
                    (nsobj.get("status") or {}).get("phase") == "Terminating":
                raise errors.forbidden(res, name or gen_name, f"unable to create new content in namespace {ns} "
                                       "because it is being terminated")
        for f in ("uid", "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            meta.pop(f, None)
        meta["creationTimestamp"] = objects.now_iso()
        if "spec" in obj or res.kind in ("Deployment", "ReplicaSet", "DaemonSet", "Job", "Pod"):
            meta["generation"] = 1
        if res.kind in _RESET_STATUS_ON_CREATE:
            obj.pop("status", None)
        if res.kind == "Namespace":
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
            obj["status"] = {"phase": "Active"}
        elif res.kind == "Pod":
            obj["status"] = {"phase": "Pending"}
        generated = bool(gen_name and not name)
        if res is SERVICES and not generated and await self.store.get(self.key(res, ns, name)) is not None:
            # an existing name is a 409, whatever the body asks for (e.g. a ClusterIP it already holds)
            raise errors.already_exists(res, name)
        template = obj
        for attempt in range(8):
            # Name and uid come before defaulting: Job defaulting builds its controller-uid
            # selector and job-name labels from them. A generateName retry starts afresh.
            obj = orjson.loads(orjson.dumps(template)) if generated else template
            meta = obj["metadata"]
            if generated:
                meta["name"] = gen_name + objects.name_suffix()
            final_name = meta["name"]
            meta["uid"] = objects.new_uid()
            try:
                adapters.apply_defaults(res.api_version, res.kind, obj)
            except Exception:  # noqa: BLE001
                log.exception("defaulting %s failed", res.kind)
            causes = self._validate_create(res, obj)
            if causes:
                raise errors.invalid(res, final_name, causes)
            if opts.field_manager:
                try:
                    adapters.record_update_manager(None, obj, opts.field_manager, res.api_version)
                except adapters.PatchError:
                    log.exception("recording managedFields failed")
            key = self.key(res, ns, final_name)
            allocated = False
            if res is SERVICES:
                try:
                    self.allocator.allocate(obj)
                    allocated = True
                except AllocationError as e:
                    raise errors.invalid(res, final_name, [{"reason": "FieldValueInvalid", "message": str(e),
                                                            "field": str(e).split(":")[0]}]) from e
            if opts.dry_run:
                if allocated:
                    self.allocator.release(obj)
                return Written(objects.to_external(res, obj), None)
            value = encode_value(obj)
            self._expect(res, key, value, obj)
            try:
                rev = await self.store.create(key, value)
                self._wrote(key, value, rev)
            except KeyExistsError as e:
                if allocated:
                    self.allocator.release(obj)
                if gen_name and not name and attempt < 7:
                    continue
                raise errors.already_exists(res, final_name) from e
            except ValueTooLargeError as e:
                if allocated:
                    self.allocator.release(obj)
                raise errors.too_large(e.size) from e
            except BaseException:
                if allocated:
                    self.allocator.release(obj)
                raise
            return self._written(res, obj, value, rev)
        raise errors.already_exists(res, meta.get("name", ""))  # pragma: no cover

    def _validate_create(self, res: Resource, obj: dict[str, Any]) -> list[dict[str, str]]:
        name = obj["metadata"].get("name", "")
        causes: list[dict[str, str]] = []
        problem = objects.name_problem(res.kind, name)
        if problem:
            causes.append({"reason": "FieldValueInvalid", "message": f'Invalid value: "{name}": {problem}',
                           "field": "metadata.name"})
        ext = objects.to_external(res, obj)
        try:
            more = adapters.validate_create(res.api_version, res.kind, ext)
        except Exception:  # noqa: BLE001
            log.exception("validate_create %s failed", res.kind)
            more = []
        causes.extend(c for c in more if not (problem and c.get("field") == "metadata.name"))
        return causes

    # ----------------------------------------------------------------- update machinery
    def finish_update(self, res: Resource, sub: str | None, old: dict[str, Any], new: dict[str, Any],
                      opts: Options) -> dict[str, Any]:
        """Apply the server's rules to a proposed new object: immutable metadata, status
        subresource split, generation, defaults, validation (422)."""
        old_meta = old.get("metadata") or {}
        if not isinstance(new.get("metadata"), dict):
            new["metadata"] = {}
        new["apiVersion"], new["kind"] = old.get("apiVersion", res.api_version), old.get("kind", res.kind)
        if sub == "status":
            status = new.get("status")
            if res.kind in _STATUS_CHECKED_KINDS:
                new = orjson.loads(orjson.dumps(old))
            else:
                # `old` is modify's private decode: share its unchanged parts (only `metadata`,
                # which the steps below write to, is copied), instead of a deep copy of the pod
                new = {k: (dict(v) if k == "metadata" and isinstance(v, dict) else v)
                       for k, v in old.items() if k != "status"}
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
        elif sub == "finalize":
            finalizers = (new.get("spec") or {}).get("finalizers") or []
            new = orjson.loads(orjson.dumps(old))
            new.setdefault("spec", {})["finalizers"] = finalizers
        elif res.subresource("status") is not None:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        meta = new["metadata"]
        for f in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp",
                  "deletionGracePeriodSeconds", "generation", "generateName"):
            if f in old_meta:
                meta[f] = old_meta[f]
            else:
                meta.pop(f, None)
        if "generation" in old_meta and sub != "status":
            def body(o: dict[str, Any]) -> dict[str, Any]:
                return {k: v for k, v in o.items() if k not in ("metadata", "status", "kind", "apiVersion")}
            if body(old) != body(new):
                meta["generation"] = old_meta["generation"] + 1
        if old_meta.get("deletionTimestamp"):
            added = set(meta.get("finalizers") or []) - set(old_meta.get("finalizers") or [])
            if added:
                raise errors.forbidden(res, old_meta.get("name", ""), "no new finalizers can be added if the "
                                       "object is being deleted, found new finalizers " + str(sorted(added)))
        status_only = sub == "status" and res.kind not in _STATUS_CHECKED_KINDS
        if status_only:
            pass  # (defaulting does not touch these kinds' status)
        elif sub == "status":
            # A status write keeps the stored spec as it is: defaulting may only touch the status
            # (re-defaulting the spec could change e.g. a Job's template: 422 "field is immutable").
            defaulted = orjson.loads(orjson.dumps(new))
            try:
                adapters.apply_defaults(res.api_version, res.kind, defaulted)
            except Exception:  # noqa: BLE001
                log.exception("defaulting %s failed", res.kind)
            if "status" in defaulted:
                new["status"] = defaulted["status"]
        elif sub != "finalize":  # (defaulting would put the "kubernetes" finalizer right back)
            try:
                adapters.apply_defaults(res.api_version, res.kind, new)
                adapters.apply_update_defaults(res.api_version, res.kind, new, old)
            except Exception:  # noqa: BLE001
                log.exception("defaulting %s failed", res.kind)
            if res is NAMESPACES:
                # spec.finalizers changes only through /finalize (Kubernetes' namespace strategy);
                # defaulting would otherwise refill a list the namespace controller emptied
                old_spec, spec = old.get("spec") or {}, new.get("spec")
                if isinstance(spec, dict):
                    if "finalizers" in old_spec:
                        spec["finalizers"] = old_spec["finalizers"]
                    else:
                        spec.pop("finalizers", None)
        if sub != "status":
            self.check_unknown(res, objects.to_external(res, new), opts)
            if res is PODS:
                check_mirror_pod(old, new, opts.user)
        causes: list[dict[str, str]] = []
        if not status_only:
            try:
                causes = adapters.validate_update(res.api_version, res.kind, objects.to_external(res, new),
                                                  objects.to_external(res, old))
            except Exception:  # noqa: BLE001
                log.exception("validate_update %s failed", res.kind)
        if causes:
            raise errors.invalid(res, old_meta.get("name", ""), causes)
        if opts.field_manager:
            try:
                adapters.record_update_manager(old, new, opts.field_manager, res.api_version)
            except adapters.PatchError:
                log.exception("recording managedFields failed")
        return new

    async def modify(self, res: Resource, ns: str | None, name: str, sub: str | None, opts: Options,
                     mutate: Callable[[dict[str, Any]], dict[str, Any]], precondition_rv: int | None = None,
                     ) -> dict[str, Any]:
        """Read-modify-write with CAS; `mutate` gets a private copy of the current (external)
        object and returns the proposed new one."""
        return (await self.modify_written(res, ns, name, sub, opts, mutate, precondition_rv)).obj

    def shares_status_write(self, res: Resource, sub: str | None, opts: Options) -> bool:
        """Whether a write of `res` through `sub` may be proposed by a `mutate` that shares the
        current object's parts instead of changing a private copy (modify_written's `sharing`).

        True for the status of kinds whose status write takes nothing but the proposed `status`
        and then changes only a copy of the metadata (finish_update: no defaulting, no validation,
        no managedFields when no field manager; Services' allocator may touch the spec)."""
        return sub == "status" and res.kind not in _STATUS_CHECKED_KINDS and res is not SERVICES \
            and not opts.field_manager

    async def modify_written(self, res: Resource, ns: str | None, name: str, sub: str | None, opts: Options,
                             mutate: Callable[[dict[str, Any]], dict[str, Any]], precondition_rv: int | None = None,
                             sharing: bool = False) -> Written:
        """modify, with the answer's JSON when the stored bytes are it.

        sharing: `mutate` leaves its argument unchanged and returns an object that may share its
        parts (only allowed when shares_status_write says so): the stored value is then decoded
        once, not once for `old` and once more for `mutate` to change."""
        key = self.key(res, ns, name)
        # Services keep their allocator in step with `old`, and a dry run answers with `old`'s
        # revision: both start from the store
        start = None if res is SERVICES or opts.dry_run else self.cached_version(res, key)
        for _ in range(_MAX_RETRIES):
            value, rev, fresh = await self.start_version(res, key, name, start)
            start = None
            try:
                if precondition_rv is not None and precondition_rv != rev:
                    raise errors.conflict(res, name)
                old = decode(value, rev)
                proposed = mutate(objects.to_external(res, old if sharing else decode(value, rev)))
                new_rv = (proposed.get("metadata") or {}).get("resourceVersion") \
                    if isinstance(proposed, dict) else None
                if new_rv and precondition_rv is None and str(new_rv) != str(rev):
                    raise errors.conflict(res, name)
                new = self.finish_update(res, sub, old, objects.to_internal(res, proposed), opts)
            except ApiError:
                if fresh:
                    raise
                continue  # judged on the cache's copy, which may be behind: judge on the store's
            if not fresh and new == old:
                continue  # "nothing to change" must be said of the stored object, not the cache's copy
            try:
                result = await self.write_update(res, key, old, new, rev, opts)
            except _LostRace as lost:
                if precondition_rv is not None:
                    raise errors.conflict(res, name) from None
                start = _Version.of(lost.current)  # what the store has now: the next try starts there
                continue
            return result
        raise errors.conflict(res, name, "too many concurrent writers; try again")

    async def write_update(self, res: Resource, key: str, old: dict[str, Any], new: dict[str, Any],
                           expected: int, opts: Options) -> Written:
        """CAS write; raises _LostRace when the revision moved (caller retries or reports 409)."""
        meta = new["metadata"]
        if res is SERVICES:
            try:
                self.allocator.allocate(new, old)
            except AllocationError as e:
                raise errors.invalid(res, meta.get("name", ""), [{"reason": "FieldValueInvalid",
                                                                   "message": str(e), "field": "spec"}]) from e
        if opts.dry_run:
            if res is SERVICES:
                self.allocator.release(new)
                self.allocator.load([old])
            return Written(objects.to_external(res, set_rv(new, expected)), None)
        finished = (meta.get("deletionTimestamp") and not meta.get("finalizers")
                    and not meta.get("deletionGracePeriodSeconds")
                    and not (res is NAMESPACES and (new.get("spec") or {}).get("finalizers")))
        try:
            if finished:
                deleted = await self.store.delete(key, expected)
                self._wrote(key, None, deleted.mod_revision)
                if res is SERVICES:
                    self.allocator.release(old)
                    self.allocator.release(new)
                return Written(objects.to_external(res, set_rv(new, deleted.mod_revision)), None)
            if new == old:
                return Written(objects.to_external(res, set_rv(new, expected)), None)
            value = encode_value(new)
            self._expect(res, key, value, new)
            rev = await self.store.update(key, value, expected)
            self._wrote(key, value, rev)
        except ConflictError as e:
            if res is SERVICES:
                self.allocator.release(new)
                self.allocator.load([old])
            raise _LostRace(e.current) from None
        except KeyNotFoundError as e:
            raise errors.not_found(res, meta.get("name", "")) from e
        except ValueTooLargeError as e:
            raise errors.too_large(e.size) from e
        if res is SERVICES:
            self.allocator.release(old)
            self.allocator.load([new])
        return self._written(res, new, value, rev)

    # ----------------------------------------------------------------- PUT
    async def update(self, request: Request, t: Target) -> Reply:
        assert t.name is not None
        body = await self.read_body(request)
        obj = self.decode_object(body, request.headers.get("Content-Type", ""))
        opts = request_options(request)
        if t.sub == "scale":
            return json_response(await self.update_scale(t, obj, opts))
        self.check_type(t.res, obj, t.sub)
        meta = obj.get("metadata") or {}
        if meta.get("name") and meta["name"] != t.name:
            raise errors.bad_request(f"the name of the object ({meta['name']}) does not match the name on the "
                                     f"URL ({t.name})")
        if t.res.namespaced and meta.get("namespace") and meta["namespace"] != t.namespace:
            raise errors.bad_request("the namespace of the provided object does not match the namespace sent "
                                     "on the request")
        rv = meta.get("resourceVersion")
        precondition = None
        if rv:
            try:
                precondition = int(rv)
            except ValueError as e:
                raise errors.bad_request(f"invalid resourceVersion {rv!r}") from e
        if t.sub == "finalize" and t.res is not NAMESPACES:
            raise errors.method_not_allowed()
        result = await self.modify_written(t.res, t.namespace, t.name, t.sub, opts, lambda cur: obj, precondition)
        headers = warning_headers(opts)
        return self.answer(result, 200, headers)

    # ----------------------------------------------------------------- PATCH
    async def patch(self, request: Request, t: Target) -> Reply:
        assert t.name is not None
        ct = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ct not in PATCH_TYPES:
            raise errors.unsupported_media_type(ct)
        body = await self.read_body(request)
        patch = self.decode_body(body, ct)
        is_apply = ct == "application/apply-patch+yaml"
        opts = request_options(request)
        if is_apply and not opts.field_manager:
            raise errors.bad_request("PATCH requests with apply content type require fieldManager to be set "
                                     "(e.g. ?fieldManager=kubectl)")
        if ct == "application/json-patch+json":
            if not isinstance(patch, list):
                raise errors.bad_request("json-patch body must be a JSON array of operations")
        elif not isinstance(patch, dict):
            raise errors.bad_request("patch body must be a JSON object")
        res = t.res
        target_kind = res.kind
        target_av = res.api_version
        if t.sub == "scale":
            target_kind, target_av = "Scale", "autoscaling/v1"

        unused = [True]  # the decoded merge patch is still untouched (no attempt has used it)
        # a kubelet's status PATCH: merged beside the stored pod, sharing its untouched parts
        sharing = ct == "application/merge-patch+json" and self.shares_status_write(res, t.sub, opts)

        def apply_patch(cur: dict[str, Any]) -> dict[str, Any]:
            try:
                if ct == "application/merge-patch+json":
                    # `cur` is modify's private copy (or, sharing, its own `old`), and the decoded
                    # body is ours: its values move in uncopied; a retry decodes the body afresh
                    mine = patch if unused[0] else self.decode_body(body, ct)
                    unused[0] = False
                    out = adapters.merge_patch_shared(cur, mine) if sharing else \
                        adapters.merge_patch_into(cur, mine, copy_values=False)
                elif ct == "application/json-patch+json":
                    out = adapters.json_patch(cur, patch)
                elif ct == "application/strategic-merge-patch+json":
                    out = adapters.strategic_merge_patch_into(cur, patch, target_av, target_kind)
                else:
                    self.check_type(res, patch, t.sub)
                    self.check_unknown(res, patch, opts)
                    out = adapters.server_side_apply(cur, patch, opts.field_manager, opts.force,
                                                     target_av, target_kind)
            except adapters.ApplyConflict as e:
                raise self.apply_conflict(res, t.name or "", e.conflicts, e.api_versions, target_av) from e
            except adapters.PatchTestFailed as e:
                raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our "
                                               f"request: {e}") from e
            except adapters.PatchError as e:
                raise errors.bad_request(f"the server rejected our request due to an error in our "
                                         f"request: {e}") from e
            if not isinstance(out, dict):
                raise errors.bad_request("the patch did not produce an object")
            out_meta = out.get("metadata") or {}
            if out_meta.get("name") not in (None, t.name):
                raise errors.bad_request("the name of the object cannot be changed by a patch")
            return out

        if t.sub == "scale":
            def mutate_scale(cur: dict[str, Any]) -> dict[str, Any]:
                scale = apply_patch(self.scale_of(res, cur))
                return self._apply_scale(res, cur, scale)
            obj = await self.modify(res, t.namespace, t.name, None, opts, mutate_scale)
            return json_response(self.scale_of(res, obj))

        apply_opts = Options(opts.dry_run, "" if is_apply else opts.field_manager, opts.field_validation,
                             opts.force, opts.warnings, opts.user)
        if ct == "application/merge-patch+json" or ct == "application/strategic-merge-patch+json":
            self.check_unknown(res, {"apiVersion": res.api_version, "kind": res.kind, **patch}, opts)
        try:
            result = await self.modify_written(res, t.namespace, t.name, t.sub, apply_opts, apply_patch,
                                               sharing=sharing)
            status = 200
        except ApiError as e:
            if not (is_apply and e.code == 404 and t.sub is None):
                raise
            try:
                created = adapters.server_side_apply(None, patch, opts.field_manager, opts.force, res.api_version,
                                                     res.kind)
            except adapters.PatchError as pe:
                raise errors.bad_request(f"the server rejected our request due to an error in our request: "
                                         f"{pe}") from pe
            if not isinstance(created, dict):
                raise errors.bad_request("apply did not produce an object") from e
            created.setdefault("metadata", {})["name"] = t.name
            if t.namespace:
                created["metadata"]["namespace"] = t.namespace
            result = await self.create_written(res, t.namespace, created, Options(
                opts.dry_run, "", opts.field_validation, opts.force, opts.warnings))
            status = 201
        headers = warning_headers(opts)
        return self.answer(result, status, headers)

    def apply_conflict(self, res: Resource, name: str, conflicts: list[tuple[str, str]],
                       versions: dict[str, str], av: str) -> ApiError:
        causes = [{"reason": "FieldManagerConflict",
                   "message": f'conflict with "{mgr}" using {versions.get(mgr, av)}', "field": fld}
                  for fld, mgr in conflicts]
        lines = "\n".join(f'- conflict with "{mgr}" using {versions.get(mgr, av)}: {fld}' for fld, mgr in conflicts)
        n = len(conflicts)
        msg = f"Apply failed with {n} conflict{'s' if n != 1 else ''}: {lines.lstrip('- ')}" if n == 1 else \
            f"Apply failed with {n} conflicts: {lines}"
        return ApiError(409, "Conflict", msg, {"name": name, "group": res.group, "kind": res.plural,
                                               "causes": causes})

    # ----------------------------------------------------------------- scale
    def scale_of(self, res: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                             if k in meta},
                "spec": {"replicas": spec.get("replicas", 0)},
                "status": {"replicas": status.get("replicas", 0), "selector": objects.selector_string(
                    spec.get("selector"))}}

    def _apply_scale(self, res: Resource, cur: dict[str, Any], scale: dict[str, Any]) -> dict[str, Any]:
        replicas = (scale.get("spec") or {}).get("replicas", 0)
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise ApiError(422, "Invalid", f'Scale.autoscaling "{(cur.get("metadata") or {}).get("name")}" is '
                           f"invalid: spec.replicas: Invalid value: {replicas}: must be greater than or equal to 0",
                           {"name": (cur.get("metadata") or {}).get("name"), "group": "autoscaling", "kind": "Scale",
                            "causes": [{"reason": "FieldValueInvalid", "field": "spec.replicas",
                                        "message": f"Invalid value: {replicas}: must be greater than or equal "
                                                   "to 0"}]})
        cur.setdefault("spec", {})["replicas"] = replicas
        return cur

    async def update_scale(self, t: Target, scale: dict[str, Any], opts: Options) -> dict[str, Any]:
        assert t.name is not None
        if scale.get("kind") not in (None, "Scale"):
            raise errors.bad_request(f"the kind in the data ({scale.get('kind')}) does not match the expected "
                                     "kind (Scale)")
        rv = (scale.get("metadata") or {}).get("resourceVersion")
        pre = int(rv) if rv and str(rv).isdigit() else None
        obj = await self.modify(t.res, t.namespace, t.name, None, opts,
                                lambda cur: self._apply_scale(t.res, cur, scale), pre)
        return self.scale_of(t.res, obj)

    # ----------------------------------------------------------------- DELETE
    async def delete_options(self, request: Request) -> dict[str, Any]:
        body = await self.read_body(request)
        opts: dict[str, Any] = {}
        if body.strip():
            ct = request.headers.get("Content-Type", "") or "application/json"
            decoded = self.decode_body(body, ct, ("application/json", "application/yaml",
                                                  "application/vnd.kubernetes.protobuf"))
            if not isinstance(decoded, dict):
                raise errors.bad_request("DeleteOptions must be an object")
            opts = decoded
        q = request.query
        if "gracePeriodSeconds" in q:
            opts["gracePeriodSeconds"] = _int_param(q, "gracePeriodSeconds")
        if "propagationPolicy" in q:
            opts["propagationPolicy"] = q["propagationPolicy"]
        if q.getall("dryRun", []):
            opts["dryRun"] = q.getall("dryRun")
        if "orphanDependents" in q:
            opts["orphanDependents"] = q["orphanDependents"] in ("true", "1")
        return opts

    async def delete(self, request: Request, t: Target) -> Reply:
        assert t.name is not None
        if t.sub is not None:
            raise errors.method_not_allowed()
        options = await self.delete_options(request)
        obj = await self.delete_object(t.res, t.namespace, t.name, options)
        return json_response(obj)

    async def delete_object(self, res: Resource, ns: str | None, name: str,
                            options: dict[str, Any]) -> dict[str, Any]:
        policy = options.get("propagationPolicy")
        if policy is None and options.get("orphanDependents") is True:
            policy = "Orphan"
        if policy not in (None, "Background", "Foreground", "Orphan"):
            raise errors.bad_request(f'propagationPolicy must be one of "Background", "Foreground", "Orphan"; '
                                     f'got "{policy}"')
        grace = options.get("gracePeriodSeconds")
        if grace is not None and (not isinstance(grace, int) or grace < 0):
            raise errors.bad_request("gracePeriodSeconds must be a non-negative integer")
        pre = options.get("preconditions") or {}
        dry_run = bool(options.get("dryRun"))
        if res is NAMESPACES and name in PROTECTED_NAMESPACES:
            raise errors.forbidden(res, name, "this namespace may not be deleted")
        key = self.key(res, ns, name)
        for _ in range(_MAX_RETRIES):
            kv = await self.store.get(key)
            if kv is None:
                raise errors.not_found(res, name)
            obj = decode(kv.value, kv.mod_revision)
            meta = obj["metadata"]
            if pre.get("uid") and pre["uid"] != meta.get("uid"):
                raise errors.conflict(res, name, f"Precondition failed: UID in precondition: {pre['uid']}, UID in "
                                      f"object meta: {meta.get('uid')}")
            if pre.get("resourceVersion") and str(pre["resourceVersion"]) != meta.get("resourceVersion"):
                raise errors.conflict(res, name, f"Precondition failed: ResourceVersion in precondition: "
                                      f"{pre['resourceVersion']}, ResourceVersion in object meta: "
                                      f"{meta.get('resourceVersion')}")
            finalizers = list(meta.get("finalizers") or [])
            if policy == "Orphan" and "orphan" not in finalizers:
                finalizers.append("orphan")
            if policy == "Foreground" and "foregroundDeletion" not in finalizers:
                finalizers.append("foregroundDeletion")
            if policy in ("Background", "Foreground"):
                finalizers = [f for f in finalizers if f != "orphan"] if policy == "Foreground" else finalizers
            graceful = False
            grace_value = 0
            if res is PODS:
                spec = obj.get("spec") or {}
                g = grace if grace is not None else spec.get("terminationGracePeriodSeconds", 30)
                bound = bool(spec.get("nodeName")) and (obj.get("status") or {}).get("phase") not in (
                    "Succeeded", "Failed")
                if meta.get("deletionTimestamp") and bound and g:
                    return objects.to_external(res, obj)  # already terminating; the node finishes it
                graceful = bound and bool(g) and not meta.get("deletionTimestamp")
                grace_value = int(g or 0)
            ns_finalizers = res is NAMESPACES and bool((obj.get("spec") or {}).get("finalizers"))
            if graceful or finalizers or ns_finalizers:
                new = orjson.loads(orjson.dumps(obj))
                nmeta = new["metadata"]
                if graceful:
                    deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=grace_value)
                    nmeta["deletionTimestamp"] = objects.iso(deadline)
                    nmeta["deletionGracePeriodSeconds"] = grace_value
                elif not nmeta.get("deletionTimestamp"):
                    nmeta["deletionTimestamp"] = objects.now_iso()
                    nmeta["deletionGracePeriodSeconds"] = 0
                else:
                    nmeta["deletionGracePeriodSeconds"] = 0
                if finalizers:
                    nmeta["finalizers"] = finalizers
                if res is NAMESPACES:
                    new.setdefault("status", {})["phase"] = "Terminating"
                if dry_run or new == obj:
                    return objects.to_external(res, obj)
                try:
                    value = encode_value(new)
                    rev = await self.store.update(key, value, kv.mod_revision)
                    self._wrote(key, value, rev)
                except ConflictError:
                    continue
                return objects.to_external(res, set_rv(new, rev))
            if dry_run:
                return objects.to_external(res, obj)
            try:
                deleted = await self.store.delete(key, kv.mod_revision)
                self._wrote(key, None, deleted.mod_revision)
            except ConflictError:
                continue
            except KeyNotFoundError as e:
                raise errors.not_found(res, name) from e
            if res is SERVICES:
                self.allocator.release(obj)
            return objects.to_external(res, set_rv(obj, deleted.mod_revision))
        raise errors.conflict(res, name, "too many concurrent writers; try again")

    async def delete_collection(self, request: Request, t: Target) -> Reply:
        if "deletecollection" not in t.res.verbs:
            raise errors.method_not_allowed()
        options = await self.delete_options(request)
        label_match, field_match = self.selectors(t.res, request.query)
        prefix = objects.storage_resource(t.res).storage_prefix(t.namespace)
        result = await self.store.list(prefix)
        objs = self._filter(t.res, [decode(kv.value, kv.mod_revision) for kv in result.items], label_match,
                            field_match)
        out = []
        for o in objs:
            m = o["metadata"]
            try:
                out.append(await self.delete_object(t.res, m.get("namespace"), m["name"], options))
            except ApiError as e:
                if e.code != 404:
                    raise
        return json_response({"kind": t.res.list_kind, "apiVersion": t.res.api_version,
                              "metadata": {"resourceVersion": str(await self.store.current_revision())},
                              "items": out})

    # ----------------------------------------------------------------- POST subresources
    async def post_sub(self, request: Request, t: Target) -> Reply:
        assert t.name is not None
        body = await self.read_body(request)
        obj = self.decode_object(body, request.headers.get("Content-Type", "")) if body.strip() else {}
        if t.sub == "binding":
            return await self.bind(t.namespace, t.name, obj)
        if t.sub == "eviction":
            if obj.get("kind") not in (None, "Eviction"):
                raise errors.bad_request(f"the kind in the data ({obj.get('kind')}) does not match the expected "
                                         "kind (Eviction)")
            options = obj.get("deleteOptions") or {}
            if not isinstance(options, dict):
                raise errors.bad_request("deleteOptions must be an object")
            await self.delete_object(PODS, t.namespace, t.name, options)
            return json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                                  "code": 201}, 201)
        raise errors.method_not_allowed()

    async def bind(self, ns: str | None, name: str, binding: dict[str, Any]) -> Reply:
        target = binding.get("target") or {}
        node = target.get("name") if isinstance(target, dict) else None
        if not node:
            raise errors.invalid(PODS, name, [{"reason": "FieldValueRequired", "message": "Required value",
                                               "field": "target.name"}])

        def mutate(cur: dict[str, Any]) -> dict[str, Any]:
            meta = cur.get("metadata") or {}
            if meta.get("deletionTimestamp"):
                raise errors.conflict(PODS, name, "pod is being deleted, cannot be assigned to a host")
            spec = cur.setdefault("spec", {})
            if spec.get("nodeName"):
                raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on pods/binding "{name}": pod '
                               f'{name} is already assigned to node "{spec["nodeName"]}"',
                               {"name": name, "kind": "pods/binding"})
            spec["nodeName"] = node
            status = cur.setdefault("status", {})
            conds = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
            conds.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                          "lastTransitionTime": objects.now_iso()})
            status["conditions"] = conds
            return cur

        # binding writes spec.nodeName and the PodScheduled condition in one go: bypass the
        # status split by writing through the "binding" path of modify.
        await self._modify_raw(PODS, ns, name, mutate)
        return json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                              "code": 201}, 201)

    async def _modify_raw(self, res: Resource, ns: str | None, name: str,
                          mutate: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
        key = self.key(res, ns, name)
        start = self.cached_version(res, key)  # as in modify(): no store read before the write
        for _ in range(_MAX_RETRIES):
            value, expected, fresh = await self.start_version(res, key, name, start)
            start = None
            try:
                new = mutate(decode(value, expected))
            except ApiError:
                if fresh:
                    raise
                continue
            value = encode_value(new)
            self._expect(res, key, value, new)
            try:
                rev = await self.store.update(key, value, expected)
                self._wrote(key, value, rev)
            except ConflictError as e:
                start = _Version.of(e.current)
                continue
            except KeyNotFoundError as e:
                raise errors.not_found(res, name) from e
            return set_rv(new, rev)
        raise errors.conflict(res, name)

    async def binding_resource(self, request: Request, t: Target) -> Reply:
        """POST /api/v1/namespaces/ns/bindings (the older form of pods/binding)."""
        body = await self.read_body(request)
        obj = self.decode_object(body, request.headers.get("Content-Type", ""))
        name = (obj.get("metadata") or {}).get("name")
        if not name:
            raise errors.bad_request("Binding needs metadata.name (the pod's name)")
        return await self.bind(t.namespace, name, obj)
