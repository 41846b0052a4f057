"""Reading CRI-format log files: partial lines, tail, since, timestamps, limit, follow."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kubelite.runtime.logs import parse_line, parse_timestamp_ns, read_log_file
from kubelite.runtime.types import LogOptions

LOG = (
    b"2024-05-01T10:00:00.000000001Z stdout F first\n"
    b"2024-05-01T10:00:01.5Z stderr F warn\n"
    b"2024-05-01T10:00:02.000000000Z stdout P long-\n"
    b"2024-05-01T10:00:02.100000000Z stdout F line\n"
    b"garbage that is not CRI\n"
    b"2024-05-01T10:00:03.000000000Z stdout F last\n"
)


async def collect(path: Path, options: LogOptions, is_done=None) -> bytes:  # type: ignore[no-untyped-def]
    return b"".join([chunk async for chunk in read_log_file(path, options, is_done)])


def test_parse_line_and_timestamp() -> None:
    line = parse_line(b"2024-05-01T10:00:00.123456789Z stderr F hello world")
    assert line is not None and (line.stream, line.line) == ("stderr", b"hello world\n")
    assert parse_line(b"nonsense") is None
    assert parse_timestamp_ns("2024-05-01T10:00:00.123456789Z") % 1_000_000_000 == 123456789
    assert parse_timestamp_ns("2024-05-01T12:00:00+02:00") == parse_timestamp_ns("2024-05-01T10:00:00Z")


async def test_read_whole_file_joins_partial_lines(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(LOG)
    assert await collect(path, LogOptions()) == b"first\nwarn\nlong-line\nlast\n"


async def test_tail_since_timestamps_and_limit(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(LOG)
    assert await collect(path, LogOptions(tail=2)) == b"long-line\nlast\n"
    assert await collect(path, LogOptions(tail=0)) == b""
    since = parse_timestamp_ns("2024-05-01T10:00:01Z")
    assert await collect(path, LogOptions(since_ns=since)) == b"warn\nlong-line\nlast\n"
    assert await collect(path, LogOptions(tail=1, timestamps=True)) == b"2024-05-01T10:00:03.000000000Z last\n"
    assert await collect(path, LogOptions(limit_bytes=8)) == b"first\nwa"


async def test_missing_file_is_empty(tmp_path: Path) -> None:
    assert await collect(tmp_path / "none.log", LogOptions()) == b""


async def test_follow_sees_new_lines_until_done(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(b"2024-05-01T10:00:00Z stdout F one\n")
    finished = asyncio.Event()

    async def is_done() -> bool:
        return finished.is_set()

    async def writer() -> None:
        await asyncio.sleep(0.15)
        with path.open("ab") as f:
            f.write(b"2024-05-01T10:00:01Z stdout F tw")
            f.flush()
            await asyncio.sleep(0.15)
            f.write(b"o\n2024-05-01T10:00:02Z stdout F three\n")
        finished.set()

    task = asyncio.create_task(writer())
    output = await asyncio.wait_for(collect(path, LogOptions(follow=True), is_done), 20)
    await task
    assert output == b"one\ntwo\nthree\n"
