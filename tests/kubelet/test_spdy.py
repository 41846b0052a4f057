"""SPDY/3.1 framing: dictionary, header blocks, frame round trips, and the server session."""

from __future__ import annotations

import asyncio
import struct
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubelite.kubelet import spdy


def test_dictionary_is_the_spdy3_one() -> None:
    assert len(spdy.DICTIONARY) == 1423
    assert zlib.adler32(spdy.DICTIONARY) == 0xE3C6A7C2
    assert spdy.DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert spdy.DICTIONARY.endswith(b"utf-,*,enq=0.")


def test_header_block_needs_the_dictionary_to_decode() -> None:
    """A block compressed by us asks the peer for the SPDY/3 dictionary (what Go's zlib reader does)."""
    codec = spdy.Codec()
    wire = codec.encode(spdy.SynReply(1, {"streamtype": ["data"], "port": ["80"]}))
    block = wire[12:]
    with pytest.raises(zlib.error):
        zlib.decompressobj().decompress(block)
    raw = zlib.decompressobj(zdict=spdy.DICTIONARY).decompress(block)
    assert spdy.decode_header_block(raw) == {"streamtype": ["data"], "port": ["80"]}


def test_header_block_layout_is_count_then_length_prefixed_pairs() -> None:
    raw = spdy.encode_header_block({"Port": ["80"], "multi": ["a", "b"]})
    assert raw == (struct.pack(">I", 2) + struct.pack(">I", 4) + b"port" + struct.pack(">I", 2) + b"80"
                   + struct.pack(">I", 5) + b"multi" + struct.pack(">I", 3) + b"a\0b")
    assert spdy.decode_header_block(raw) == {"port": ["80"], "multi": ["a", "b"]}


def test_truncated_header_block_is_a_protocol_error() -> None:
    raw = spdy.encode_header_block({"port": ["80"]})
    with pytest.raises(spdy.SpdyError):
        spdy.decode_header_block(raw[:-1])


FRAMES: list[spdy.Frame] = [
    spdy.DataFrame(1, b"hello", fin=False),
    spdy.DataFrame(3, b"", fin=True),
    spdy.SynStream(5, {"streamtype": ["error"], "port": ["8080"], "requestid": ["0"]}, priority=2),
    spdy.SynStream(7, {"streamtype": ["data"]}, fin=True, unidirectional=True),
    spdy.SynReply(5, {}),
    spdy.HeadersFrame(5, {"x": ["y"]}, fin=True),
    spdy.RstStream(7, spdy.RstStatus.CANCEL),
    spdy.Settings([(0, 7, 65536)]),
    spdy.Ping(1),
    spdy.GoAway(9, 0),
    spdy.WindowUpdate(5, 1024),
]


def test_every_frame_round_trips_through_one_connection() -> None:
    """One sender, one receiver: header compression context carries across frames."""
    sender, receiver = spdy.Codec(), spdy.Codec()
    wire = b"".join(sender.encode(f) for f in FRAMES)
    assert receiver.feed(wire) == FRAMES


def test_frames_split_at_every_byte_still_decode() -> None:
    sender, receiver = spdy.Codec(), spdy.Codec()
    wire = b"".join(sender.encode(f) for f in FRAMES)
    got: list[spdy.Frame] = []
    for i in range(len(wire)):
        got += receiver.feed(wire[i : i + 1])
    assert got == FRAMES


def test_control_frame_header_matches_the_spec() -> None:
    wire = spdy.Codec().encode(spdy.Ping(0x01020304))
    assert wire == bytes([0x80, 0x03, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 1, 2, 3, 4])
    data = spdy.Codec().encode(spdy.DataFrame(5, b"ab", fin=True))
    assert data == bytes([0, 0, 0, 5, 0x01, 0, 0, 2]) + b"ab"


def test_unknown_control_frames_are_skipped_and_other_versions_refused() -> None:
    unknown = struct.pack(">HHI", 0x8003, 0x00FF, 2) + b"zz"
    assert spdy.Codec().feed(unknown + spdy.Codec().encode(spdy.Ping(3))) == [spdy.Ping(3)]
    with pytest.raises(spdy.SpdyError):
        spdy.Codec().feed(struct.pack(">HHI", 0x8002, 6, 4) + b"\0\0\0\1")


def test_garbage_header_block_is_a_protocol_error() -> None:
    body = struct.pack(">I", 1) + b"not zlib at all"
    frame = struct.pack(">HHI", 0x8003, spdy.FrameType.SYN_REPLY, len(body)) + body
    with pytest.raises(spdy.SpdyError):
        spdy.Codec().feed(frame)


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=20)
values = st.lists(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
                  min_size=1, max_size=3)


@given(st.lists(st.dictionaries(names, values, max_size=6), min_size=1, max_size=5))
def test_header_blocks_round_trip(blocks: list[dict[str, list[str]]]) -> None:
    sender, receiver = spdy.Codec(), spdy.Codec()
    frames: list[spdy.Frame] = [spdy.SynStream(2 * i + 1, b) for i, b in enumerate(blocks)]
    assert receiver.feed(b"".join(sender.encode(f) for f in frames)) == frames


@given(st.binary(max_size=2000), st.integers(min_value=1, max_value=2**31 - 1), st.booleans())
def test_data_frames_round_trip(payload: bytes, stream_id: int, fin: bool) -> None:
    frame = spdy.DataFrame(stream_id, payload, fin)
    assert spdy.Codec().feed(spdy.Codec().encode(frame)) == [frame]


# ---------------------------------------------------------------- the server session


class Client:
    """A test peer: its own codec, collecting what the server sends."""

    def __init__(self) -> None:
        self.codec = spdy.Codec()
        self.received: list[spdy.Frame] = []
        self.peer = spdy.Codec()

    async def sink(self, data: bytes) -> None:
        self.received += self.peer.feed(data)

    def encode(self, frame: spdy.Frame) -> bytes:
        return self.codec.encode(frame)


async def test_session_replies_to_new_streams_echoes_pings_and_relays_data() -> None:
    client = Client()
    streams: list[spdy.Stream] = []
    session = spdy.ServerSession(client.sink, streams.append)
    await session.feed(client.encode(spdy.SynStream(1, {"streamtype": ["data"], "port": ["80"]})))
    assert client.received == [spdy.SynReply(1, {})]
    assert streams[0].header("port") == "80"
    await session.feed(client.encode(spdy.Ping(7)) + client.encode(spdy.Ping(8)))
    assert client.received[-1] == spdy.Ping(7)  # odd ids (client pings) echoed, even ones not
    await session.feed(client.encode(spdy.DataFrame(1, b"abc")) + client.encode(spdy.DataFrame(1, b"", fin=True)))
    assert await streams[0].read() == b"abc"
    assert await streams[0].read() == b""
    assert streams[0].remote_closed
    await streams[0].write(b"x" * (spdy.MAX_DATA_CHUNK + 1))
    await streams[0].close()
    data = [f for f in client.received if isinstance(f, spdy.DataFrame)]
    assert [len(f.data) for f in data] == [spdy.MAX_DATA_CHUNK, 1, 0]
    assert data[-1].fin


async def test_session_refuses_reused_or_even_stream_ids_and_wakes_readers_on_reset() -> None:
    client = Client()
    streams: list[spdy.Stream] = []
    session = spdy.ServerSession(client.sink, streams.append)
    await session.feed(client.encode(spdy.SynStream(3, {"streamtype": ["data"]})))
    await session.feed(client.encode(spdy.SynStream(3, {"streamtype": ["data"]})))
    await session.feed(client.encode(spdy.SynStream(4, {"streamtype": ["data"]})))
    assert client.received[1:] == [spdy.RstStream(3, spdy.RstStatus.PROTOCOL_ERROR),
                                   spdy.RstStream(4, spdy.RstStatus.PROTOCOL_ERROR)]
    reader = asyncio.create_task(streams[0].read())
    await asyncio.sleep(0)
    await session.feed(client.encode(spdy.RstStream(3, spdy.RstStatus.CANCEL)))
    assert await reader == b""
    before = len(client.received)
    await streams[0].write(b"dropped")  # nothing is sent on a stream the peer reset
    assert len(client.received) == before
