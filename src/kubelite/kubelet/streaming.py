"""The WebSocket remote-command protocol (v5.channel.k8s.io, v4.channel.k8s.io) of exec and attach.

Every WebSocket message is binary; its first byte names a channel: 0 stdin (client to server),
1 stdout, 2 stderr, 3 status (one JSON `Status`, server to client, then the close), 4 resize
(client to server, `{"Width":W,"Height":H}`). v5 adds one message, `[255, channel]`, by which
the client closes a channel: `[255, 0]` is stdin EOF. v4 has no way to close stdin.

`bridge()` connects an `ExecSession` (see kubelite.runtime.types) to such a WebSocket: stdout and
stderr are copied out as they come, stdin and resizes in; when the process exits and its
output is drained, the status goes on channel 3 and the socket closes with code 1000. kubectl
turns a `NonZeroExitCode` status into its own exit code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from kubelite.runtime.types import ExecSession

log = logging.getLogger(__name__)

V5 = "v5.channel.k8s.io"
V4 = "v4.channel.k8s.io"
#: what we accept, best first
PROTOCOLS = (V5, V4)

STDIN, STDOUT, STDERR, STATUS, RESIZE = 0, 1, 2, 3, 4
CLOSE = 255
#: how long to wait, after the process exited, for output still held by its children
OUTPUT_DRAIN_SECONDS = 5.0
_READ_CHUNK = 32 * 1024


def frame(channel: int, data: bytes) -> bytes:
    """One message: the channel byte, then the payload."""
    if not 0 <= channel <= 255:
        raise ValueError(f"invalid channel {channel}")
    return bytes((channel,)) + data


def parse_frame(message: bytes) -> tuple[int, bytes]:
    """(channel, payload) of one message; ValueError for an empty message."""
    if not message:
        raise ValueError("empty message: no channel byte")
    return message[0], message[1:]


def close_frame(channel: int) -> bytes:
    """v5's close-channel message: `[255, channel]`."""
    return bytes((CLOSE, channel))


def parse_resize(payload: bytes) -> tuple[int, int]:
    """(width, height) from `{"Width":W,"Height":H}`; ValueError when malformed."""
    try:
        data = orjson.loads(payload)
        width, height = int(data["Width"]), int(data["Height"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise ValueError(f"bad resize message {payload[:100]!r}") from err
    if not (0 <= width < 65536 and 0 <= height < 65536):
        raise ValueError(f"bad terminal size {width}x{height}")
    return width, height


def success_status() -> dict[str, Any]:
    return {"metadata": {}, "status": "Success"}


def exit_code_status(cmd: list[str], code: int) -> dict[str, Any]:
    """The status kubectl turns into `command terminated with exit code N` and rc N."""
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: error executing command {cmd}, exit code {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def failure_status(message: str, reason: str = "InternalError", code: int = 500) -> dict[str, Any]:
    """Any other failure: kubectl prints `error: <message>` and exits 1."""
    return {"metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code}


def requested_protocol(request: web.Request) -> str | None:
    """The best subprotocol we speak among those the client offered (None: none of them)."""
    offered = {p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")}
    return next((p for p in PROTOCOLS if p in offered), None)


async def open_websocket(request: web.Request) -> web.WebSocketResponse:
    """Upgrade the request (the caller checked `requested_protocol`); pings are answered."""
    proto = requested_protocol(request)
    ws = web.WebSocketResponse(protocols=(proto,) if proto else (), autoping=True, max_msg_size=0)
    await ws.prepare(request)
    return ws


async def _stop(reader: asyncio.Task[Any]) -> None:
    """Stop the task reading the client before closing: aiohttp's close() from another task while a
    receive() is pending drops the connection without waiting for the client's close reply (the
    client, behind the API server's proxy, then sees code 1006 and kubectl fails)."""
    reader.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await reader


async def send_status_and_close(ws: web.WebSocketResponse, status: dict[str, Any]) -> None:
    """The last two things a remote-command stream does: the status message, close 1000.
    No other task may be reading `ws` (see `_stop`)."""
    with contextlib.suppress(ConnectionError, RuntimeError):
        if not ws.closed:
            await ws.send_bytes(frame(STATUS, orjson.dumps(status)))
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.close(code=aiohttp.WSCloseCode.OK)


async def _copy_out(ws: web.WebSocketResponse, channel: int, reader: asyncio.StreamReader, send: bool) -> None:
    while True:
        chunk = await reader.read(_READ_CHUNK)
        if not chunk:
            return
        if send and not ws.closed:
            await ws.send_bytes(frame(channel, chunk))


async def _read_client(ws: web.WebSocketResponse, session: ExecSession, protocol: str, tty: bool) -> None:
    """Copy stdin and resizes from the client until it closes the socket."""
    stdin = session.stdin
    async for msg in ws:
        if msg.type != aiohttp.WSMsgType.BINARY:
            continue  # text messages are not part of the protocol; close/error end the loop
        try:
            channel, payload = parse_frame(msg.data)
        except ValueError:
            continue
        if channel == STDIN and stdin is not None and payload:
            stdin.write(payload)
            await stdin.drain()
        elif channel == RESIZE:
            try:
                width, height = parse_resize(payload)
            except ValueError as err:
                log.debug("exec: %s", err)
                continue
            session.resize(width, height)
        elif channel == CLOSE and protocol == V5 and payload[:1] == bytes((STDIN,)) and stdin is not None:
            if tty:
                # a terminal has no end of file; ^D at the start of a line is what a shell reads as one
                stdin.write(b"\x04")
                await stdin.drain()
            else:
                stdin.close()
            stdin = None


async def bridge(ws: web.WebSocketResponse, session: ExecSession, cmd: list[str], *, protocol: str,
                 tty: bool, stdout: bool, stderr: bool) -> None:
    """Run the stream until the process ends (status sent) or the client goes away (process killed)."""
    # an output the client did not ask for is still read (and dropped): a full pipe would block the process
    pumps = [asyncio.create_task(_copy_out(ws, STDOUT, session.stdout, send=stdout or tty))]
    if session.stderr is not None:
        pumps.append(asyncio.create_task(_copy_out(ws, STDERR, session.stderr, send=stderr and not tty)))
    client = asyncio.create_task(_read_client(ws, session, protocol, tty))
    exited = asyncio.create_task(session.wait())
    try:
        await asyncio.wait({client, exited}, return_when=asyncio.FIRST_COMPLETED)
        if not exited.done():
            return  # the client went away: the finally block kills the process
        code = exited.result()
        if pumps:
            _, pending = await asyncio.wait(pumps, timeout=OUTPUT_DRAIN_SECONDS)
            for task in pending:
                task.cancel()
        await _stop(client)
        status = success_status() if code == 0 else exit_code_status(cmd, code)
        await send_status_and_close(ws, status)
    except (ConnectionError, RuntimeError) as err:
        log.debug("exec stream ended: %s", err)
    finally:
        tasks: list[asyncio.Task[Any]] = [*pumps, client, exited]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        with contextlib.suppress(Exception):
            await session.close()
        if not ws.closed:
            with contextlib.suppress(Exception):
                await ws.close(code=aiohttp.WSCloseCode.OK)


async def stream_output(ws: web.WebSocketResponse, chunks: AsyncIterator[bytes]) -> None:
    """Attach without stdin: copy `chunks` (the container's output) to stdout until it ends or the
    client goes away, then report success."""

    async def pump() -> None:
        async for chunk in chunks:
            if ws.closed:
                return
            await ws.send_bytes(frame(STDOUT, chunk))

    async def drain_client() -> None:
        async for _ in ws:
            pass

    out = asyncio.create_task(pump())
    client = asyncio.create_task(drain_client())
    try:
        await asyncio.wait({out, client}, return_when=asyncio.FIRST_COMPLETED)
        if out.done() and out.exception() is None:
            await _stop(client)
            await send_status_and_close(ws, success_status())
    finally:
        for task in (out, client):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()
        if not ws.closed:
            with contextlib.suppress(Exception):
                await ws.close(code=aiohttp.WSCloseCode.OK)
