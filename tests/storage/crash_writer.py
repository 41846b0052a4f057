"""Child process for test_crash: writes forever, printing each acknowledged write.

python crash_writer.py DB_PATH   ->   lines "REV KEY VALUE" as each write returns
"""

from __future__ import annotations

import asyncio
import os
import sys

from kubelite.storage import open_store


async def worker(store: object, n: int) -> None:
    revs: dict[str, int] = {}
    i = 0
    while True:
        key = f"/registry/crash/p{os.getpid()}-w{n}-k{i % 5}"
        value = f"{key}@{i}"
        if key in revs:
            rev = await store.update(key, value.encode(), revs[key])  # type: ignore[attr-defined]
        else:
            rev = await store.create(key, value.encode())  # type: ignore[attr-defined]
        revs[key] = rev
        sys.stdout.write(f"{rev} {key} {value}\n")
        sys.stdout.flush()
        i += 1


async def main(path: str) -> None:
    store = await open_store(f"sqlite://{path}")
    print("READY", flush=True)
    await asyncio.gather(*(worker(store, n) for n in range(8)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
