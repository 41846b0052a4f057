"""Latest-state index shared by the in-process backends: key -> KeyValue plus sorted keys.

The sorted keys are a `SortedList` (sortedcontainers: a list of sorted chunks): finding a prefix
and inserting a key are both O(log n). A plain sorted list made each new key a memmove of the
whole key array: at 150,000 pods and their Events (~750,000 keys) that was a few percent of the
API server's CPU and growing with the cluster.
"""

from __future__ import annotations

from sortedcontainers import SortedList

from kubelite.storage.types import KeyValue

Keys = SortedList


def insert_key(keys: SortedList, key: str) -> None:
    keys.add(key)


def remove_key(keys: SortedList, key: str) -> None:
    keys.discard(key)


def count_prefix(keys: SortedList, prefix: str) -> int:
    if not prefix:
        return len(keys)
    lo = keys.bisect_left(prefix)
    # every key starting with prefix sorts below prefix + U+10FFFF
    return keys.bisect_left(prefix + "\U0010ffff") - lo + _max_char_keys(keys, prefix)


def _max_char_keys(keys: SortedList, prefix: str) -> int:
    """Keys of the form prefix + U+10FFFF... sort at or after the bound; count them (rare)."""
    n = 0
    for k in keys.islice(keys.bisect_left(prefix + "\U0010ffff")):
        if not k.startswith(prefix):
            break
        n += 1
    return n


def page(
    state: dict[str, KeyValue], keys: SortedList, prefix: str, limit: int, start_after: str | None
) -> tuple[list[KeyValue], str | None]:
    """Up to `limit` (0 = all) values under `prefix` after `start_after`, and the continue key."""
    lo = keys.bisect_left(prefix)
    if start_after is not None:
        lo = max(lo, keys.bisect_right(start_after))
    items: list[KeyValue] = []
    for k in keys.islice(lo):
        if not k.startswith(prefix):
            break
        if limit and len(items) == limit:
            return items, items[-1].key
        items.append(state[k])
    return items, None
