"""The revisioned store kubelite keeps its state in (SQLite embedded, or an etcd cluster)."""

from kubelite.storage.types import (
    MAX_VALUE_BYTES,
    CompactedError,
    ConflictError,
    Event,
    EventType,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    ListResult,
    Store,
    StoreError,
    StoreUnavailableError,
    ValueTooLargeError,
)

__all__ = [
    "MAX_VALUE_BYTES",
    "CompactedError",
    "ConflictError",
    "Event",
    "EventType",
    "FutureRevisionError",
    "KeyExistsError",
    "KeyNotFoundError",
    "KeyValue",
    "ListResult",
    "Store",
    "StoreError",
    "StoreUnavailableError",
    "ValueTooLargeError",
    "open_store",
]


async def open_store(url: str) -> Store:
    """Open a datastore URL: sqlite:///path/state.db, etcd://h1:2379,h2:2379, or memory://."""
    from kubelite.storage.factory import open_store as _open

    return await _open(url)
