"""Latest-state index shared by the in-process backends: key -> KeyValue plus sorted keys.

A sorted Python list is enough here: bisect finds a prefix in O(log n) and inserting a new key
is one memmove, far below the cost of the write that caused it.
"""

from __future__ import annotations

import bisect

from kubelite.storage.types import KeyValue


def insert_key(keys: list[str], key: str) -> None:
    bisect.insort(keys, key)


def remove_key(keys: list[str], key: str) -> None:
    i = bisect.bisect_left(keys, key)
    if i < len(keys) and keys[i] == key:
        del keys[i]


def count_prefix(keys: list[str], prefix: str) -> int:
    lo = bisect.bisect_left(keys, prefix)
    if not prefix:
        return len(keys)
    # every key starting with prefix sorts below prefix + U+10FFFF
    return bisect.bisect_left(keys, prefix + "\U0010ffff", lo) - lo + _max_char_keys(keys, prefix)


def _max_char_keys(keys: list[str], prefix: str) -> int:
    """Keys of the form prefix + U+10FFFF... sort at or after the bound; count them (rare)."""
    i = bisect.bisect_left(keys, prefix + "\U0010ffff")
    n = 0
    while i < len(keys) and keys[i].startswith(prefix):
        n += 1
        i += 1
    return n


def page(
    state: dict[str, KeyValue], keys: list[str], prefix: str, limit: int, start_after: str | None
) -> tuple[list[KeyValue], str | None]:
    """Up to `limit` (0 = all) values under `prefix` after `start_after`, and the continue key."""
    lo = bisect.bisect_left(keys, prefix)
    if start_after is not None:
        lo = max(lo, bisect.bisect_right(keys, start_after))
    items: list[KeyValue] = []
    for i in range(lo, len(keys)):
        k = keys[i]
        if not k.startswith(prefix):
            break
        if limit and len(items) == limit:
            return items, items[-1].key
        items.append(state[k])
    return items, None
