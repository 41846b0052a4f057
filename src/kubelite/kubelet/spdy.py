"""SPDY/3.1 framing and a small server session, enough for `kubectl port-forward`.

kubectl (client-go) speaks SPDY/3.1 for port-forward even over WebSocket: the subprotocol
`SPDY/3.1+portforward.k8s.io` carries the raw SPDY byte stream in binary messages. The client
opens streams (SYN_STREAM, odd ids), the server answers each with SYN_REPLY and both sides send
DATA frames; FIN half-closes a stream, RST_STREAM aborts it, PING must be echoed.

Header blocks (SYN_STREAM, SYN_REPLY, HEADERS) are a count and length-prefixed name/value pairs
(32-bit lengths in SPDY/3), compressed with zlib. The compression context spans the whole
connection, one per direction, and is primed with the SPDY/3 dictionary (section 2.6.10.1 of the
draft): an inflater that meets the dictionary request uses it (Python's `zdict=`), and every
block ends with a sync flush so that the peer can decode it at once.

Flow control (WINDOW_UPDATE, SETTINGS) is parsed and ignored, as the Go spdystream library that
kubectl uses does not enforce windows either.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import struct
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

VERSION = 3
FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02
#: the largest DATA payload we send in one frame (the format allows 16 MiB)
MAX_DATA_CHUNK = 32 * 1024
#: a decompressed header block larger than this is refused (zip bomb guard)
MAX_HEADER_BLOCK = 1 << 20
_MAX_FRAME = (1 << 24) - 1


def _dictionary() -> bytes:
    """The SPDY/3 header compression dictionary: 1423 bytes, Adler-32 0xe3c6a7c2.

    Its first part is a list of words, each preceded by its length as a 32-bit big-endian
    integer (the same encoding as header names and values); the rest is plain text.
    """
    words = (
        "options head post put delete trace accept accept-charset accept-encoding accept-language "
        "accept-ranges age allow authorization cache-control connection content-base content-encoding "
        "content-language content-length content-location content-md5 content-range content-type date "
        "etag expect expires from host if-match if-modified-since if-none-match if-range "
        "if-unmodified-since last-modified location max-forwards pragma proxy-authenticate "
        "proxy-authorization range referer retry-after server te trailer transfer-encoding upgrade "
        "user-agent vary via warning www-authenticate method get status"
    ).split() + ["200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin"]
    text = (
        "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
        "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
        "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
        "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
        "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
        "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
        "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
    )
    return b"".join(struct.pack(">I", len(w)) + w.encode() for w in words) + text.encode()


DICTIONARY = _dictionary()


class SpdyError(Exception):
    """The peer sent bytes that are not valid SPDY/3.1: the session must end."""


class FrameType(enum.IntEnum):
    SYN_STREAM = 1
    SYN_REPLY = 2
    RST_STREAM = 3
    SETTINGS = 4
    PING = 6
    GOAWAY = 7
    HEADERS = 8
    WINDOW_UPDATE = 9


class RstStatus(enum.IntEnum):
    PROTOCOL_ERROR = 1
    INVALID_STREAM = 2
    REFUSED_STREAM = 3
    UNSUPPORTED_VERSION = 4
    CANCEL = 5
    INTERNAL_ERROR = 6
    FLOW_CONTROL_ERROR = 7
    STREAM_IN_USE = 8
    STREAM_ALREADY_CLOSED = 9


#: header name -> values (SPDY joins several values of one name with NUL)
Headers = dict[str, list[str]]


@dataclass(slots=True)
class DataFrame:
    stream_id: int
    data: bytes
    fin: bool = False


@dataclass(slots=True)
class SynStream:
    stream_id: int
    headers: Headers
    associated_id: int = 0
    priority: int = 0
    fin: bool = False
    unidirectional: bool = False


@dataclass(slots=True)
class SynReply:
    stream_id: int
    headers: Headers
    fin: bool = False


@dataclass(slots=True)
class HeadersFrame:
    stream_id: int
    headers: Headers
    fin: bool = False


@dataclass(slots=True)
class RstStream:
    stream_id: int
    status: int


@dataclass(slots=True)
class Settings:
    #: (flags, id, value) triples
    entries: list[tuple[int, int, int]] = field(default_factory=list)
    clear: bool = False


@dataclass(slots=True)
class Ping:
    id: int


@dataclass(slots=True)
class GoAway:
    last_good_stream_id: int
    status: int = 0


@dataclass(slots=True)
class WindowUpdate:
    stream_id: int
    delta: int


Frame = DataFrame | SynStream | SynReply | HeadersFrame | RstStream | Settings | Ping | GoAway | WindowUpdate


def encode_header_block(headers: Headers) -> bytes:
    """The uncompressed SPDY/3 name/value block (names lowercased, values NUL-joined)."""
    out = [struct.pack(">I", len(headers))]
    for name, values in headers.items():
        n = name.lower().encode()
        v = b"\0".join(x.encode() for x in values)
        out.append(struct.pack(">I", len(n)) + n + struct.pack(">I", len(v)) + v)
    return b"".join(out)


def decode_header_block(block: bytes) -> Headers:
    """Parse an uncompressed name/value block; SpdyError when it is truncated or malformed."""

    def take(pos: int, n: int) -> tuple[bytes, int]:
        if pos + n > len(block):
            raise SpdyError("truncated header block")
        return block[pos : pos + n], pos + n

    raw, pos = take(0, 4)
    (count,) = struct.unpack(">I", raw)
    headers: Headers = {}
    for _ in range(count):
        raw, pos = take(pos, 4)
        name, pos = take(pos, struct.unpack(">I", raw)[0])
        raw, pos = take(pos, 4)
        value, pos = take(pos, struct.unpack(">I", raw)[0])
        if not name:
            raise SpdyError("empty header name")
        key = name.decode("latin-1").lower()
        headers.setdefault(key, []).extend(v.decode("latin-1") for v in value.split(b"\0"))
    return headers


class Codec:
    """One endpoint's frame encoder and incremental decoder (each owns a zlib context)."""

    def __init__(self) -> None:
        self._deflate = zlib.compressobj(zdict=DICTIONARY)
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)
        self._buf = bytearray()

    # -- encoding
    def _compress(self, headers: Headers) -> bytes:
        return self._deflate.compress(encode_header_block(headers)) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    @staticmethod
    def _control(ftype: FrameType, flags: int, body: bytes) -> bytes:
        if len(body) > _MAX_FRAME:
            raise ValueError("SPDY frame too large")
        return struct.pack(">HHI", 0x8000 | VERSION, ftype, (flags << 24) | len(body)) + body

    def encode(self, frame: Frame) -> bytes:
        """Serialize one frame (header blocks go through this endpoint's compressor, in order)."""
        if isinstance(frame, DataFrame):
            if len(frame.data) > _MAX_FRAME:
                raise ValueError("SPDY frame too large")
            flags = FLAG_FIN if frame.fin else 0
            return struct.pack(">II", frame.stream_id & 0x7FFFFFFF, (flags << 24) | len(frame.data)) + frame.data
        if isinstance(frame, SynStream):
            flags = (FLAG_FIN if frame.fin else 0) | (FLAG_UNIDIRECTIONAL if frame.unidirectional else 0)
            body = struct.pack(">IIBB", frame.stream_id, frame.associated_id, (frame.priority & 7) << 5, 0)
            return self._control(FrameType.SYN_STREAM, flags, body + self._compress(frame.headers))
        if isinstance(frame, SynReply):
            body = struct.pack(">I", frame.stream_id) + self._compress(frame.headers)
            return self._control(FrameType.SYN_REPLY, FLAG_FIN if frame.fin else 0, body)
        if isinstance(frame, HeadersFrame):
            body = struct.pack(">I", frame.stream_id) + self._compress(frame.headers)
            return self._control(FrameType.HEADERS, FLAG_FIN if frame.fin else 0, body)
        if isinstance(frame, RstStream):
            return self._control(FrameType.RST_STREAM, 0, struct.pack(">II", frame.stream_id, frame.status))
        if isinstance(frame, Settings):
            body = struct.pack(">I", len(frame.entries)) + b"".join(
                struct.pack(">II", (flags << 24) | (sid & 0xFFFFFF), value) for flags, sid, value in frame.entries
            )
            return self._control(FrameType.SETTINGS, 1 if frame.clear else 0, body)
        if isinstance(frame, Ping):
            return self._control(FrameType.PING, 0, struct.pack(">I", frame.id))
        if isinstance(frame, GoAway):
            return self._control(FrameType.GOAWAY, 0, struct.pack(">II", frame.last_good_stream_id, frame.status))
        if isinstance(frame, WindowUpdate):
            return self._control(FrameType.WINDOW_UPDATE, 0, struct.pack(">II", frame.stream_id, frame.delta))
        raise TypeError(f"not a SPDY frame: {frame!r}")

    # -- decoding
    def _decompress(self, block: bytes) -> Headers:
        try:
            raw = self._inflate.decompress(block, MAX_HEADER_BLOCK)
        except zlib.error as err:
            raise SpdyError(f"bad compressed header block: {err}") from err
        if self._inflate.unconsumed_tail:
            raise SpdyError("header block too large")
        return decode_header_block(raw)

    def feed(self, data: bytes) -> list[Frame]:
        """Add received bytes; return every frame now complete (control frames of unknown type
        are skipped, as the spec asks)."""
        self._buf += data
        frames: list[Frame] = []
        while len(self._buf) >= 8:
            word, length_flags = struct.unpack_from(">II", self._buf)
            length = length_flags & 0xFFFFFF
            flags = length_flags >> 24
            if len(self._buf) < 8 + length:
                break
            body = bytes(self._buf[8 : 8 + length])
            del self._buf[: 8 + length]
            if not word & 0x80000000:
                frames.append(DataFrame(word & 0x7FFFFFFF, body, bool(flags & FLAG_FIN)))
                continue
            version, ftype = (word >> 16) & 0x7FFF, word & 0xFFFF
            if version != VERSION:
                raise SpdyError(f"unsupported SPDY version {version}")
            frame = self._control_frame(ftype, flags, body)
            if frame is not None:
                frames.append(frame)
        return frames

    def _control_frame(self, ftype: int, flags: int, body: bytes) -> Frame | None:
        fin = bool(flags & FLAG_FIN)

        def need(n: int) -> None:
            if len(body) < n:
                raise SpdyError(f"short {FrameType(ftype).name} frame")

        if ftype == FrameType.SYN_STREAM:
            need(10)
            sid, assoc, prio = struct.unpack_from(">IIB", body)
            return SynStream(sid & 0x7FFFFFFF, self._decompress(body[10:]), assoc & 0x7FFFFFFF, prio >> 5, fin,
                             bool(flags & FLAG_UNIDIRECTIONAL))
        if ftype in (FrameType.SYN_REPLY, FrameType.HEADERS):
            need(4)
            sid = struct.unpack_from(">I", body)[0] & 0x7FFFFFFF
            headers = self._decompress(body[4:])
            return SynReply(sid, headers, fin) if ftype == FrameType.SYN_REPLY else HeadersFrame(sid, headers, fin)
        if ftype == FrameType.RST_STREAM:
            need(8)
            sid, status = struct.unpack_from(">II", body)
            return RstStream(sid & 0x7FFFFFFF, status)
        if ftype == FrameType.SETTINGS:
            need(4)
            (count,) = struct.unpack_from(">I", body)
            need(4 + 8 * count)
            entries = []
            for i in range(count):
                head, value = struct.unpack_from(">II", body, 4 + 8 * i)
                entries.append((head >> 24, head & 0xFFFFFF, value))
            return Settings(entries, bool(flags & 1))
        if ftype == FrameType.PING:
            need(4)
            return Ping(struct.unpack_from(">I", body)[0])
        if ftype == FrameType.GOAWAY:
            need(4)
            last = struct.unpack_from(">I", body)[0] & 0x7FFFFFFF
            status = struct.unpack_from(">I", body, 4)[0] if len(body) >= 8 else 0
            return GoAway(last, status)
        if ftype == FrameType.WINDOW_UPDATE:
            need(8)
            sid, delta = struct.unpack_from(">II", body)
            return WindowUpdate(sid & 0x7FFFFFFF, delta & 0x7FFFFFFF)
        return None


# ---------------------------------------------------------------------------- server session

class Stream:
    """One client-opened stream as the server sees it: read what the client sends (b"" once
    it half-closed or reset the stream), write DATA, close (FIN) or reset."""

    def __init__(self, session: ServerSession, stream_id: int, headers: Headers) -> None:
        self.session = session
        self.id = stream_id
        self.headers = headers
        self.remote_closed = False
        self.local_closed = False
        self.reset_by_peer = False
        #: bounded, so that a fast uploader waits for the pod instead of filling our memory
        self._incoming: asyncio.Queue[bytes] = asyncio.Queue(maxsize=64)

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None

    async def read(self) -> bytes:
        """The next chunk the client sent; b"" at its FIN or reset."""
        if self.remote_closed and self._incoming.empty():
            return b""
        chunk = await self._incoming.get()
        if not chunk:
            self.remote_closed = True
        return chunk

    async def write(self, data: bytes) -> None:
        if self.local_closed or self.reset_by_peer:
            return
        for i in range(0, len(data), MAX_DATA_CHUNK):
            await self.session.send_frame(DataFrame(self.id, data[i : i + MAX_DATA_CHUNK]))

    async def close(self) -> None:
        """Half-close our side (an empty DATA frame with FIN)."""
        if self.local_closed or self.reset_by_peer:
            return
        self.local_closed = True
        await self.session.send_frame(DataFrame(self.id, b"", fin=True))

    async def reset(self, status: RstStatus = RstStatus.CANCEL) -> None:
        if self.reset_by_peer:
            return
        self.local_closed = True
        await self.session.send_frame(RstStream(self.id, status))

    async def _deliver(self, data: bytes, fin: bool) -> None:
        if self.remote_closed or self.reset_by_peer:
            return
        if data:
            await self._incoming.put(data)
        if fin:
            await self._incoming.put(b"")

    def _peer_reset(self) -> None:
        self.reset_by_peer = self.local_closed = self.remote_closed = True
        # wake a blocked reader (its queue is empty then, so this never fails when it matters)
        with contextlib.suppress(asyncio.QueueFull):
            self._incoming.put_nowait(b"")


class ServerSession:
    """The server half of one SPDY/3.1 connection.

    `send` writes bytes to the transport (one WebSocket binary message per frame here);
    `on_stream` is called for every new client stream, after its SYN_REPLY has gone out, so the
    handler may write at once. Feed received bytes with `feed()`.
    """

    def __init__(self, send: Callable[[bytes], Awaitable[None]], on_stream: Callable[[Stream], None]) -> None:
        self._send = send
        self._on_stream = on_stream
        self._codec = Codec()
        self._lock = asyncio.Lock()
        self.streams: dict[int, Stream] = {}
        self._last_stream_id = 0
        self.goaway = False

    async def send_frame(self, frame: Frame) -> None:
        # encode under the lock: header compression state must follow the wire order
        async with self._lock:
            await self._send(self._codec.encode(frame))

    async def feed(self, data: bytes) -> None:
        """Handle received bytes; raises SpdyError for a broken byte stream."""
        for frame in self._codec.feed(data):
            await self._handle(frame)

    async def _handle(self, frame: Frame) -> None:
        if isinstance(frame, DataFrame):
            stream = self.streams.get(frame.stream_id)
            if stream is not None:
                await stream._deliver(frame.data, frame.fin)
            elif frame.stream_id > self._last_stream_id:
                await self.send_frame(RstStream(frame.stream_id, RstStatus.INVALID_STREAM))
            # else: late data for a stream we already finished: dropped
        elif isinstance(frame, SynStream):
            sid = frame.stream_id
            if sid in self.streams or sid % 2 == 0 or sid <= self._last_stream_id:
                await self.send_frame(RstStream(sid, RstStatus.PROTOCOL_ERROR))
                return
            self._last_stream_id = sid
            stream = Stream(self, sid, frame.headers)
            self.streams[sid] = stream
            if frame.fin:
                stream.remote_closed = True
            await self.send_frame(SynReply(sid, {}))
            self._on_stream(stream)
        elif isinstance(frame, RstStream):
            stream = self.streams.get(frame.stream_id)
            if stream is not None:
                stream._peer_reset()
        elif isinstance(frame, Ping):
            if frame.id % 2 == 1:  # client-initiated (odd): echo; even ids would be replies to ours
                await self.send_frame(Ping(frame.id))
        elif isinstance(frame, GoAway):
            self.goaway = True
        # SETTINGS, WINDOW_UPDATE, HEADERS, SYN_REPLY: nothing to do for a port-forward server

    def remove(self, stream: Stream) -> None:
        self.streams.pop(stream.id, None)
