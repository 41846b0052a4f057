"""kubelite's API client runtime: the only code that speaks HTTP to the API server.

- `rest.ApiClient`: REST verbs and watch streams (JSON, keep-alive, TLS, token bucket).
- `informer.Informer` / `InformerFactory`: LIST + WATCH into a local cache, with event handlers.
- `lister.Lister`: the cache, with indexes (namespace, nodeName, owner uid, your own).
- `workqueue.RateLimitingQueue`: dedupe, one-worker-per-key, backoff, shutdown.
- `leaderelection.LeaderElector`, `events.EventRecorder`.
- `fake.FakeApiClient`: an in-memory twin for unit tests that records every call.

See docs/client.md.
"""

from kubelite.client.events import EventRecorder
from kubelite.client.informer import Informer, InformerFactory
from kubelite.client.leaderelection import LeaderElector
from kubelite.client.lister import Lister, index_by_node_name, index_by_owner_uid, object_key, split_key
from kubelite.client.rest import (
    ApiClient,
    ApiError,
    WatchEvent,
    is_already_exists,
    is_conflict,
    is_connection_error,
    is_gone,
    is_not_found,
)
from kubelite.client.workqueue import Clock, FakeClock, RateLimitingQueue, ShutDown

__all__ = [
    "ApiClient", "ApiError", "WatchEvent", "is_already_exists", "is_conflict", "is_connection_error", "is_gone",
    "is_not_found", "Informer", "InformerFactory", "Lister", "object_key", "split_key", "index_by_node_name",
    "index_by_owner_uid", "RateLimitingQueue", "ShutDown", "Clock", "FakeClock", "LeaderElector",
    "EventRecorder",
]
