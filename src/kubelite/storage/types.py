"""The store's vocabulary: one KeyValue, one Event, one Store protocol, its errors.

Every backend (SQLite, etcd, memory) speaks exactly this; the apiserver speaks only this.
Revisions are one global, strictly increasing int64 counter: every successful write (create,
update or delete) gets the next one, and an object's resourceVersion is the revision of its
last write. See docs/storage.md.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

#: Largest value a single write may store. etcd refuses requests over 1.5 MiB
#: (--max-request-bytes default 1572864); kubelite uses the same limit on every backend so that
#: an object valid on SQLite is valid on etcd too.
MAX_VALUE_BYTES = 1572864


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: bytes
    #: revision of the write that produced this value (the object's resourceVersion)
    mod_revision: int
    #: revision of the write that created the key
    create_revision: int


class EventType(enum.Enum):
    PUT = "PUT"
    DELETE = "DELETE"


@dataclass(frozen=True, slots=True)
class Event:
    type: EventType
    key: str
    #: the new value; for DELETE the value the key had when it was deleted
    value: bytes
    #: the value before this write, None for a create
    prev_value: bytes | None
    #: revision of this write
    revision: int
    #: revision at which the key was created (this revision for a create)
    create_revision: int = 0


@dataclass(frozen=True, slots=True)
class ListResult:
    items: list[KeyValue]
    #: the store revision this list was read at
    revision: int
    #: last key returned when more items remain past `limit`, else None; pass it back as
    #: `start_after` (with `revision`) to read the next page at the same revision
    more_after: str | None = None


class StoreError(Exception):
    """Base of every error a store raises on purpose."""


class KeyExistsError(StoreError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key already exists: {key}")
        self.key = key


class KeyNotFoundError(StoreError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key not found: {key}")
        self.key = key


class ConflictError(StoreError):
    """A compare-and-swap lost: the key's mod revision is not the one expected."""

    def __init__(self, key: str, expected: int, current: KeyValue | None) -> None:
        actual = current.mod_revision if current else None
        super().__init__(f"revision mismatch on {key}: expected {expected}, found {actual}")
        self.key = key
        self.expected = expected
        self.current = current


class CompactedError(StoreError):
    """The asked revision is older than the history the store still keeps (-> HTTP 410)."""

    def __init__(self, requested: int, compact_revision: int, current_revision: int) -> None:
        super().__init__(
            f"revision {requested} has been compacted (compacted at {compact_revision}, current {current_revision})"
        )
        self.requested = requested
        self.compact_revision = compact_revision
        self.current_revision = current_revision


class FutureRevisionError(StoreError):
    """The asked revision is newer than the store's current revision."""


class ValueTooLargeError(StoreError):
    def __init__(self, key: str, size: int) -> None:
        super().__init__(f"value for {key} is {size} bytes, over the {MAX_VALUE_BYTES}-byte limit")
        self.key = key
        self.size = size


class StoreUnavailableError(StoreError):
    """The backend cannot be reached or opened (bad path, not a database, etcd down)."""


@runtime_checkable
class Store(Protocol):
    """A revisioned, watchable key-value store (the role etcd plays in Kubernetes).

    Keys are str, values bytes. Raises TypeError for keys/values of the wrong type.
    """

    async def get(self, key: str) -> KeyValue | None: ...

    async def list(
        self,
        prefix: str,
        limit: int = 0,
        start_after: str | None = None,
        revision: int = 0,
    ) -> ListResult:
        """Keys starting with `prefix`, in key order, at most `limit` (0 = all).

        `revision` 0 reads the latest state; a positive revision reads the state as of that
        revision (CompactedError if it was compacted). `start_after` continues a paged list.
        """
        ...

    async def count(self, prefix: str) -> int: ...

    async def create(self, key: str, value: bytes) -> int:
        """Put if absent; returns the new revision. KeyExistsError if the key exists."""
        ...

    async def update(self, key: str, value: bytes, expected_revision: int) -> int:
        """Compare-and-swap on the key's mod revision; returns the new revision.

        expected_revision 0 means unconditional (the key must still exist).
        KeyNotFoundError if absent, ConflictError on mismatch.
        """
        ...

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        """Delete, optionally only at `expected_revision`.

        Returns the deleted value with mod_revision = the revision of the delete itself.
        KeyNotFoundError if absent, ConflictError on mismatch.
        """
        ...

    def watch(self, prefix: str, after_revision: int, *, prev: bool = True) -> AsyncIterator[Event]:
        """Every change to keys under `prefix` with revision > after_revision, in order.

        Raises CompactedError (on first iteration) when after_revision is older than the kept
        history. The stream ends only when the consumer stops iterating or the store closes.
        With `prev=False` the store may leave out what came before each write: `prev_value`
        None, and a DELETE's `value` empty (b""). A consumer that keeps the keys' values
        itself (the API server's watch cache) asks for that: etcd then reads no previous
        value per event and sends half the bytes.
        """
        ...

    async def compact(self, revision: int) -> None:
        """Forget superseded values at or below `revision`."""
        ...

    async def current_revision(self) -> int: ...

    async def compacted_revision(self) -> int: ...

    async def close(self) -> None: ...
