"""Read CRI-format container log files (what containerd writes to the log path we give it).

Each line of such a file is ``<RFC 3339 nano timestamp> <stdout|stderr> <F|P> <content>``: F
ends a line of the container's output, P is a partial chunk of a line longer than the runtime's
buffer, to be joined with the chunks after it. `kubectl logs` options map onto `LogOptions`:
tail, timestamps, since and limit-bytes are applied here; follow polls the file for growth
(log files are local and small, and one poll every 100 ms per follower costs nothing) until the
caller says the container is done.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path

from kubelite.runtime.types import LogLine, LogOptions

_LINE = re.compile(rb"^(\S+) (stdout|stderr) ([FP]) ?(.*)$", re.DOTALL)
_FRACTION = re.compile(r"\.(\d+)")
FOLLOW_POLL_SECONDS = 0.1
_READ_CHUNK = 1 << 16


def parse_timestamp_ns(text: str) -> int:
    """RFC 3339 with up to nanosecond precision (Python's datetime stops at microseconds)."""
    nanos = 0
    match = _FRACTION.search(text)
    if match:
        digits = match.group(1)
        nanos = int((digits + "000000000")[:9])
        text = text[: match.start()] + text[match.end() :]
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    seconds = datetime.fromisoformat(text).timestamp()
    return int(seconds) * 1_000_000_000 + nanos


def parse_line(raw: bytes) -> LogLine | None:
    """One CRI log line (without its newline) -> LogLine; None for a malformed line."""
    match = _LINE.match(raw)
    if match is None:
        return None
    timestamp, stream, tag, content = match.groups()
    if tag == b"F":
        content += b"\n"
    return LogLine(timestamp=timestamp.decode(), stream=stream.decode(), line=content)


def _join_partials(lines: list[LogLine]) -> list[LogLine]:
    """Merge P chunks with the line that completes them (first chunk's timestamp wins)."""
    out: list[LogLine] = []
    pending: dict[str, LogLine] = {}
    for line in lines:
        head = pending.pop(line.stream, None)
        if head is not None:
            line = LogLine(head.timestamp, line.stream, head.line + line.line)
        if line.line.endswith(b"\n"):
            out.append(line)
        else:
            pending[line.stream] = line
    out.extend(pending.values())
    return out


def _format(line: LogLine, timestamps: bool) -> bytes:
    return (line.timestamp.encode() + b" " + line.line) if timestamps else line.line


def _read_from(path: Path, offset: int) -> bytes:
    with path.open("rb") as f:
        f.seek(offset)
        return f.read()


async def read_log_file(
    path: str | Path,
    options: LogOptions,
    is_done: Callable[[], Awaitable[bool]] | None = None,
) -> AsyncIterator[bytes]:
    """Yield the container's output, formatted per `options`.

    With `follow`, keep waiting for new lines until `is_done()` is true (the container has
    exited) and the file has no more data; without `is_done` follow until cancelled.
    """
    path = Path(path)
    try:
        data = await asyncio.to_thread(_read_from, path, 0)
    except FileNotFoundError:
        data = b""
    offset = len(data)
    # keep an incomplete last line (still being written) for the next read
    cut = data.rfind(b"\n") + 1
    data, rest = data[:cut], data[cut:]
    offset -= len(rest)
    lines = [p for raw in data.split(b"\n") if raw and (p := parse_line(raw)) is not None]
    lines = _join_partials(lines)
    if options.since_ns is not None:
        since = options.since_ns
        lines = [line for line in lines if parse_timestamp_ns(line.timestamp) >= since]
    if options.tail is not None:
        lines = lines[-options.tail :] if options.tail > 0 else []
    budget = options.limit_bytes

    def take(chunk: bytes) -> bytes:
        nonlocal budget
        if budget is None:
            return chunk
        chunk = chunk[:budget]
        budget -= len(chunk)
        return chunk

    for line in lines:
        chunk = take(_format(line, options.timestamps))
        if chunk:
            yield chunk
        if budget == 0:
            return
    if not options.follow:
        return
    pending = b""
    polls = 0
    while True:
        # ask before reading: output written before the container exited is still read
        done = is_done is not None and polls % 5 == 0 and await is_done()
        polls += 1
        try:
            new = await asyncio.to_thread(_read_from, path, offset)
        except FileNotFoundError:
            new = b""
        if new:
            offset += len(new)
            pending += new
            cut = pending.rfind(b"\n") + 1
            complete, pending = pending[:cut], pending[cut:]
            for raw in complete.split(b"\n"):
                parsed = parse_line(raw) if raw else None
                if parsed is None:
                    continue
                chunk = take(_format(parsed, options.timestamps))
                if chunk:
                    yield chunk
                if budget == 0:
                    return
            continue
        if done:
            return
        await asyncio.sleep(FOLLOW_POLL_SECONDS)
