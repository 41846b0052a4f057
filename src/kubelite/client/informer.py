"""Informers: keep a local cache of one resource in step with the API server, and say what changed.

An informer LISTs the resource (paginated), then WATCHes from the list's resourceVersion with
bookmarks on. When a watch stream ends or breaks it watches again from the last resourceVersion
it saw (a bookmark or an event), so nothing is missed and nothing is replayed. When the server
answers 410 Expired (that version was compacted away) it LISTs again and reconciles the cache
with the fresh list, calling on_add / on_update / on_delete for exactly the differences.

Handlers are plain callables, called synchronously in event order; they should only enqueue
keys (see workqueue.py). A handler that raises is logged and does not stop the informer.

The objects in `informer.store` are shared: copy before mutating. List items are given the
resource's `kind`/`apiVersion` (the server leaves them out), so event recorders and printers can
name them.

An optional `transform` (client-go's SetTransform; see compact.py) rewrites each listed or
ADDED/MODIFIED object before it is cached and handed to handlers, given the cached version it
replaces: `Compactor` shares equal parts between cached objects (a third of the memory per pod).
DELETED objects are passed on as they come (they are not cached).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubelite.api.resources import Resource
from kubelite.client.compact import Transform
from kubelite.client.lister import Lister, object_key
from kubelite.client.rest import ApiClient, ApiError, is_gone

log = logging.getLogger(__name__)

AddHandler = Callable[[dict[str, Any]], None]
UpdateHandler = Callable[[dict[str, Any], dict[str, Any]], None]
DeleteHandler = Callable[[dict[str, Any]], None]

LIST_PAGE_SIZE = 500
#: a (re-)list hands the event loop back after this many objects: loading 100,000 pods took the
#: sim fleet's loop for seconds, long enough for its Lease renewals to time out
YIELD_EVERY = 500


@dataclass(slots=True)
class _Handlers:
    on_add: AddHandler | None
    on_update: UpdateHandler | None
    on_delete: DeleteHandler | None


def _rv(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


class Informer:
    """LIST + WATCH one resource (optionally one namespace / selector) into a Lister."""

    def __init__(self, client: ApiClient, res: Resource, namespace: str | None = None, *,
                 label_selector: str | None = None, field_selector: str | None = None,
                 resync_period: float = 0, transform: Transform | None = None) -> None:
        self.client = client
        self.res = res
        self.namespace = namespace if res.namespaced else None
        self.label_selector = label_selector or None
        self.field_selector = field_selector or None
        self.resync_period = resync_period
        #: applied to each object before it is cached (None: cache objects as decoded)
        self.transform = transform
        self.store = Lister()
        #: the resourceVersion the cache is at (list RV, then the last event or bookmark seen)
        self.last_resource_version: str | None = None
        #: how many times the informer has LISTed (1 after the first sync; more after 410s)
        self.list_count = 0
        self._handlers: list[_Handlers] = []
        self._synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._resync_task: asyncio.Task[None] | None = None
        self._stopped = False
        self.min_backoff, self.max_backoff = 0.2, 5.0

    def __repr__(self) -> str:
        return f"Informer({self.res.group_resource}, ns={self.namespace}, labels={self.label_selector}, " \
               f"fields={self.field_selector})"

    # -- handlers ---------------------------------------------------------------------------------

    def add_handler(self, on_add: AddHandler | None = None, on_update: UpdateHandler | None = None,
                    on_delete: DeleteHandler | None = None) -> None:
        """Register callbacks. Added after sync, the new handler gets on_add for every cached object."""
        handlers = _Handlers(on_add, on_update, on_delete)
        self._handlers.append(handlers)
        if self.has_synced and on_add is not None:
            for obj in self.store.list():
                self._call(on_add, obj)

    def _call(self, fn: Callable[..., None], *args: dict[str, Any]) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("%r: event handler %r failed", self, fn)

    def _added(self, obj: dict[str, Any]) -> None:
        for h in self._handlers:
            if h.on_add is not None:
                self._call(h.on_add, obj)

    def _updated(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        for h in self._handlers:
            if h.on_update is not None:
                self._call(h.on_update, old, new)

    def _deleted(self, obj: dict[str, Any]) -> None:
        for h in self._handlers:
            if h.on_delete is not None:
                self._call(h.on_delete, obj)

    # -- lifecycle --------------------------------------------------------------------------------

    @property
    def has_synced(self) -> bool:
        """True once the first LIST has been loaded into the store."""
        return self._synced.is_set()

    async def start(self) -> None:
        """Spawn the informer's task (returns at once; use wait_synced() to wait for the cache)."""
        self.start_soon()

    def start_soon(self) -> None:
        if self._task is not None:
            return
        self._stopped = False
        self._task = asyncio.get_running_loop().create_task(self._run(), name=repr(self))
        if self.resync_period > 0:
            self._resync_task = asyncio.get_running_loop().create_task(self._resync(), name=f"{self!r} resync")

    async def wait_synced(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109 (the agreed interface)
        """Wait for the first LIST; False on timeout (or if the informer stopped first)."""
        if self.has_synced:
            return True
        try:
            async with asyncio.timeout(timeout):
                while not self.has_synced:
                    if self._task is None or self._task.done():
                        return False
                    waiter = asyncio.ensure_future(self._synced.wait())
                    try:
                        await asyncio.wait({waiter, self._task}, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        waiter.cancel()
        except TimeoutError:
            return False
        return True

    async def stop(self) -> None:
        self._stopped = True
        for task in (self._task, self._resync_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._resync_task = None

    # -- the reflector loop -----------------------------------------------------------------------

    async def _run(self) -> None:
        backoff = self.min_backoff
        while not self._stopped:
            try:
                if self.last_resource_version is None:
                    await self._list_and_replace()
                await self._watch()
                backoff = self.min_backoff  # a clean end of stream: watch again at once
            except asyncio.CancelledError:
                raise
            except ApiError as e:
                if is_gone(e):
                    log.info("%r: resourceVersion %s expired; re-listing", self, self.last_resource_version)
                    self.last_resource_version = None
                    continue
                log.warning("%r: %s; retrying in %.1fs", self, e, backoff)
                await asyncio.sleep(backoff * (0.5 + random.random() / 2))
                backoff = min(self.max_backoff, backoff * 2)
            except Exception:
                log.exception("%r: unexpected failure; retrying in %.1fs", self, backoff)
                await asyncio.sleep(backoff)
                backoff = min(self.max_backoff, backoff * 2)

    async def _list_and_replace(self) -> None:
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            try:
                page = await self.client.list(self.res, self.namespace, label_selector=self.label_selector,
                                              field_selector=self.field_selector, limit=LIST_PAGE_SIZE,
                                              continue_token=token)
            except ApiError as e:
                if token is None or not is_gone(e):
                    raise
                # The pages' snapshot was compacted away while we read them (a list of 100,000 pods
                # on a busy server outlasts the store's history): starting over in pages would fail
                # the same way, so one whole list instead, as client-go's pager (FullListIfExpired).
                log.info("%r: the paged list expired after %d objects; listing all at once", self, len(items))
                items.clear()
                page = await self.client.list(self.res, self.namespace, label_selector=self.label_selector,
                                              field_selector=self.field_selector)
            items.extend(page.get("items") or [])
            meta = page.get("metadata") or {}
            token = meta.get("continue") or None
            if token is None:
                break
        rv = str(meta.get("resourceVersion") or "")
        transform = self.transform
        for i, obj in enumerate(items):
            obj.setdefault("kind", self.res.kind)
            obj.setdefault("apiVersion", self.res.api_version)
            if transform is not None:
                items[i] = transform(obj, self.store.get(object_key(obj)))
            if i % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)
        await self._replace(items)
        self.list_count += 1
        self.last_resource_version = rv or None
        self._synced.set()

    async def _replace(self, items: list[dict[str, Any]]) -> None:
        """Load a fresh list, announcing only what differs from the cache (handing the loop back
        every YIELD_EVERY objects)."""
        fresh = {object_key(o): o for o in items}
        for i, key in enumerate(self.store.keys()):
            if key not in fresh:
                old = self.store.delete(key)
                if old is not None:
                    self._deleted(old)
            if i % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)
        for i, obj in enumerate(fresh.values()):
            old = self.store.add(obj)
            if old is None:
                self._added(obj)
            elif _rv(old) != _rv(obj):
                self._updated(old, obj)
            if i % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)

    async def _watch(self) -> None:
        timeout = random.randint(300, 600)
        events = self.client.watch(self.res, self.namespace, resource_version=self.last_resource_version,
                                   label_selector=self.label_selector, field_selector=self.field_selector,
                                   allow_bookmarks=True, timeout_seconds=timeout)
        try:
            async for event in events:
                obj = event.object
                rv = _rv(obj)
                if event.type == "BOOKMARK":
                    if rv:
                        self.last_resource_version = rv
                    continue
                obj.setdefault("kind", self.res.kind)
                obj.setdefault("apiVersion", self.res.api_version)
                if event.type in ("ADDED", "MODIFIED"):
                    if self.transform is not None:
                        obj = self.transform(obj, self.store.get(object_key(obj)))
                    old = self.store.add(obj)
                    if old is None:
                        self._added(obj)
                    else:
                        self._updated(old, obj)
                elif event.type == "DELETED":
                    self.store.delete(obj)
                    self._deleted(obj)
                else:
                    log.warning("%r: ignoring watch event of type %r", self, event.type)
                    continue
                if rv:
                    self.last_resource_version = rv
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()

    async def _resync(self) -> None:
        """Every resync_period, replay on_update(obj, obj) for every cached object (level-triggered safety net)."""
        while True:
            await asyncio.sleep(self.resync_period)
            if self.has_synced:
                for obj in self.store.list():
                    self._updated(obj, obj)


class InformerFactory:
    """Shares one Informer per (resource, namespace, selectors) among all the components of a process."""

    def __init__(self, client: ApiClient, *, resync_period: float = 0, transform: Transform | None = None) -> None:
        self.client = client
        self.resync_period = resync_period
        #: given to every informer the factory makes (e.g. one `Compactor` for the whole process)
        self.transform = transform
        self._informers: dict[tuple[str, str, str, str | None, str | None, str | None], Informer] = {}
        self._started = False

    def informer(self, res: Resource, namespace: str | None = None, *, label_selector: str | None = None,
                 field_selector: str | None = None) -> Informer:
        ns = namespace if res.namespaced else None
        key = (res.group, res.version, res.plural, ns or None, label_selector or None, field_selector or None)
        inf = self._informers.get(key)
        if inf is None:
            inf = Informer(self.client, res, ns, label_selector=label_selector, field_selector=field_selector,
                           resync_period=self.resync_period, transform=self.transform)
            self._informers[key] = inf
            if self._started:
                inf.start_soon()
        return inf

    @property
    def informers(self) -> list[Informer]:
        return list(self._informers.values())

    async def start(self) -> None:
        """Start every informer created so far (and, from now on, each new one as it is created)."""
        self._started = True
        for inf in list(self._informers.values()):
            await inf.start()

    async def wait_synced(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109 (the agreed interface)
        try:
            async with asyncio.timeout(timeout):
                results = await asyncio.gather(*(inf.wait_synced() for inf in self._informers.values()))
        except TimeoutError:
            return False
        return all(results)

    async def stop(self) -> None:
        self._started = False
        await asyncio.gather(*(inf.stop() for inf in self._informers.values()))
