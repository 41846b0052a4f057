"""Argument checks every backend shares, so bad input fails the same way everywhere.

A store is called with data that came off the wire; a wrong type must give a TypeError that names
the argument, not an obscure failure deep in SQLite or gRPC.
"""

from __future__ import annotations

from kubelite.storage.types import MAX_VALUE_BYTES, ValueTooLargeError

#: Revision every empty store starts at (etcd's fresh-cluster revision); the first write gets 2.
INITIAL_REVISION = 1


def check_key(key: object, what: str = "key") -> str:
    if not isinstance(key, str):
        raise TypeError(f"{what} must be str, not {type(key).__name__}")
    if what == "key" and not key:
        raise ValueError("key must not be empty")
    if "\x00" in key:
        raise ValueError(f"{what} must not contain NUL characters")
    if not key.isascii():
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{what} is not valid Unicode (lone surrogate): {key!r}") from None
    return key


def check_value(key: str, value: object) -> bytes:
    if not isinstance(value, bytes):
        raise TypeError(f"value must be bytes, not {type(value).__name__}")
    if len(value) > MAX_VALUE_BYTES:
        raise ValueTooLargeError(key, len(value))
    return value


def check_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be int, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{what} must be >= 0, got {value}")
    return value


def check_list_args(prefix: object, limit: object, start_after: object, revision: object) -> None:
    check_key(prefix, "prefix")
    check_int(limit, "limit")
    if start_after is not None:
        check_key(start_after, "start_after")
    check_int(revision, "revision")


def prefix_end(prefix: str) -> str | None:
    """Smallest string greater than every string that starts with `prefix` (None: no bound)."""
    if not prefix:
        return None
    return prefix[:-1] + chr(ord(prefix[-1]) + 1) if ord(prefix[-1]) < 0x10FFFF else None
