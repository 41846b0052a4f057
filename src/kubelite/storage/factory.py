"""open_store(url): the one place a datastore URL becomes a Store.

memory://                       in-process, nothing persisted (tests)
sqlite:///abs/path/state.db     embedded SQLite (the default); sqlite://rel.db is relative
etcd://h1:2379,h2:2379          an etcd v3 cluster (one or more members)
"""

from __future__ import annotations

from kubelite.storage.types import Store, StoreUnavailableError


def parse_etcd_endpoints(rest: str) -> list[tuple[str, int]]:
    """'h1:2379,h2' -> [('h1', 2379), ('h2', 2379)]; ValueError with a clear message when bad."""
    endpoints: list[tuple[str, int]] = []
    for part in rest.strip("/").split(","):
        part = part.strip()
        if not part:
            continue
        if "://" in part:  # tolerate etcd://http://h:p
            part = part.split("://", 1)[1]
        host, sep, port_s = part.rpartition(":")
        if not sep:
            host, port_s = part, "2379"
        host = host.strip("[]")
        if not host or not port_s.isdigit() or not 0 < int(port_s) < 65536:
            raise ValueError(f"bad etcd endpoint {part!r}: want host:port")
        endpoints.append((host, int(port_s)))
    if not endpoints:
        raise ValueError("etcd:// URL names no endpoints: want etcd://host:port[,host:port...]")
    return endpoints


async def open_store(url: str) -> Store:
    """Open (creating if needed) the datastore named by `url`.

    Raises TypeError for a non-str URL, ValueError for a URL this function does not understand,
    StoreUnavailableError when the backend cannot be opened or reached.
    """
    if not isinstance(url, str):
        raise TypeError(f"datastore URL must be str, not {type(url).__name__}")
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"bad datastore URL {url!r}: want memory://, sqlite:///path or etcd://host:port")
    scheme = scheme.lower()
    if scheme == "memory":
        from kubelite.storage.memory import MemoryStore

        return MemoryStore()
    if scheme == "sqlite":
        from kubelite.storage.sqlite import SQLiteStore

        if not rest:
            raise ValueError("sqlite:// URL names no file: want sqlite:///abs/path.db")
        return await SQLiteStore.open(rest)
    if scheme == "etcd":
        from kubelite.storage.etcd import EtcdStore

        return await EtcdStore.open(parse_etcd_endpoints(rest))
    raise ValueError(f"unknown datastore scheme {scheme!r} in {url!r}: want memory, sqlite or etcd")


__all__ = ["open_store", "parse_etcd_endpoints", "StoreUnavailableError"]
