"""Binary files over the network (docs/protocol.md, "Documents" and "Files (CRDT sync encoding and
chunk transfer)"): a client syncs a file document with `doc_sync` (kind "file"), uploads its
chunks with `chunk`, then sends the version with `doc_update`; other clients get the version and
fetch its chunks with `chunk_get`. Everything here is built and read from the documented formats
alone: the file state (format 0x31) is encoded by hand, and the client cuts its chunks its own way
(any cut is fine as long as each chunk is 1 to 65,536 bytes named by its BLAKE2b-256 hash) — no
content-defined chunker. Refusals: a version whose chunks were not uploaded (`not_found`), a chunk
whose bytes do not have its hash (`bad_request`), a chunk of no version of the file
(`not_found`), chunk messages for a document the session does not sync, malformed updates; the
rate limits the chunk messages are charged to."""
import asyncio
import base64
import hashlib
import json
import random
import struct
import time

import pytest
import websockets

from conftest import running_server
from test_channels import TIMEOUT, fresh, run
from wire import varint

EMPTY_STATE = b"\x31\x00\x00"
MAX_CHUNK = 64 << 10


def blake(data):
    return hashlib.blake2b(data, digest_size=32).digest()


def b64(data):
    return base64.b64encode(data).decode()


def read_varint(b, at):
    n = shift = 0
    while True:
        byte = b[at]
        at += 1
        n |= (byte & 0x7F) << shift
        if byte < 0x80:
            return n, at
        shift += 7


def hlc_now():
    """A hybrid-logical-clock time as the docs define it: wall ms << 16 (counter 0)."""
    return int(time.time() * 1000) << 16


def cut(data, sizes):
    """The client's own cut: pieces of the given sizes in turn (cycled), the last one shorter."""
    pieces, at, i = [], 0, 0
    while at < len(data):
        n = sizes[i % len(sizes)]
        pieces.append(data[at:at + n])
        at += n
        i += 1
    return pieces


def vector_bytes(vector):
    """A state vector: count, then (replica:u64le counter:varint) ascending by replica."""
    out = bytearray(varint(len(vector)))
    for replica in sorted(vector):
        out += struct.pack("<Q", replica) + varint(vector[replica])
    return bytes(out)


def file_state(versions, vector=None):
    """A file state (format 0x31). `versions`: dicts with replica, counter, time, size, hashes;
    written ascending by (replica, counter). `vector` defaults to the versions' own dots."""
    if vector is None:
        vector = {}
        for v in versions:
            vector[v["replica"]] = max(vector.get(v["replica"], 0), v["counter"])
    out = bytearray([0x31]) + vector_bytes(vector) + varint(len(versions))
    for v in sorted(versions, key=lambda v: (v["replica"], v["counter"])):
        out += struct.pack("<Q", v["replica"]) + varint(v["counter"]) + varint(v["time"]) + varint(v["size"])
        out += varint(len(v["hashes"])) + b"".join(v["hashes"])
    return bytes(out)


def raw_state(vector, versions):
    """A file state written exactly as given: `vector` a list of (replica, counter) and
    `versions` in the given order, unchecked (for crafting malformed ones)."""
    out = bytearray([0x31]) + varint(len(vector))
    for replica, counter in vector:
        out += struct.pack("<Q", replica) + varint(counter)
    out += varint(len(versions))
    for v in versions:
        out += struct.pack("<Q", v["replica"]) + varint(v["counter"]) + varint(v["time"]) + varint(v["size"])
        out += varint(len(v["hashes"])) + b"".join(v["hashes"])
    return bytes(out)


def version_of(replica, counter, pieces, when=None):
    return {"replica": replica, "counter": counter, "time": hlc_now() if when is None else when,
            "size": sum(len(p) for p in pieces), "hashes": [blake(p) for p in pieces]}


def parse_state(b):
    """(vector, versions) of a file state, asserting the documented canonical form."""
    assert b[0] == 0x31, b[:1]
    at = 1
    count, at = read_varint(b, at)
    vector, previous = {}, -1
    for _ in range(count):
        replica = struct.unpack_from("<Q", b, at)[0]
        at += 8
        counter, at = read_varint(b, at)
        assert replica > previous and counter >= 1
        vector[replica] = counter
        previous = replica
    count, at = read_varint(b, at)
    versions, previous = [], None
    for _ in range(count):
        replica = struct.unpack_from("<Q", b, at)[0]
        at += 8
        counter, at = read_varint(b, at)
        when, at = read_varint(b, at)
        size, at = read_varint(b, at)
        n, at = read_varint(b, at)
        hashes = [bytes(b[at + 32 * i:at + 32 * (i + 1)]) for i in range(n)]
        at += 32 * n
        assert previous is None or (replica, counter) > previous, "versions ascending"
        assert counter <= vector.get(replica, 0), "a version the vector has seen"
        previous = (replica, counter)
        versions.append({"replica": replica, "counter": counter, "time": when, "size": size, "hashes": hashes})
    assert at == len(b), "trailing bytes"
    return vector, versions


def new_replica(rng):
    return rng.getrandbits(64) | 1


class FileClient:
    def __init__(self, ws):
        self.ws = ws

    async def send(self, **message):
        await self.ws.send(json.dumps(message))

    async def recv(self):
        return json.loads(await asyncio.wait_for(self.ws.recv(), TIMEOUT))

    async def connect(self):
        await self.send(type="connect", id=1, v=1)
        assert (await self.recv())["type"] == "connected"

    async def sync(self, doc, state=b"", request_id=2):
        """doc_sync kind "file"; returns (the diff, the server's state vector)."""
        await self.send(type="doc_sync", id=request_id, doc=doc, kind="file", data_b64=b64(state))
        update = await self.recv()
        assert update["type"] == "doc_update" and update["id"] == request_id and update["doc"] == doc, update
        ask = await self.recv()
        assert ask["type"] == "doc_sync" and ask["doc"] == doc and ask["kind"] == "file", ask
        return base64.b64decode(update["data_b64"]), base64.b64decode(ask.get("data_b64", ""))

    async def upload(self, doc, piece, request_id=10):
        key = blake(piece).hex()
        await self.send(type="chunk", id=request_id, doc=doc, key=key, data_b64=b64(piece))
        assert await self.recv() == {"type": "ack", "id": request_id, "doc": doc, "key": key}

    async def update(self, doc, state, request_id=20):
        await self.send(type="doc_update", id=request_id, doc=doc, data_b64=b64(state))
        assert await self.recv() == {"type": "ack", "id": request_id, "doc": doc}

    async def fetch(self, doc, digest, request_id=30):
        key = digest.hex()
        await self.send(type="chunk_get", id=request_id, doc=doc, key=key)
        reply = await self.recv()
        assert reply["type"] == "chunk" and reply["id"] == request_id, reply
        assert reply["doc"] == doc and reply["key"] == key, reply
        data = base64.b64decode(reply["data_b64"])
        assert blake(data) == digest
        return data

    async def refused(self, code, request_id, **message):
        """Sends `message` with `request_id` and expects an error `code` for it; returns it."""
        await self.send(id=request_id, **message)
        reply = await self.recv()
        assert reply["type"] == "error" and reply.get("id") == request_id and reply["code"] == code, reply
        return reply

    async def expect_nothing_queued(self):
        await self.send(type="ping", id=99)
        assert await self.recv() == {"type": "pong", "id": 99}


def session(server):
    return websockets.connect(server.url, max_size=1 << 22)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("files")) as server:
        yield server


def test_upload_then_another_client_downloads(server):
    doc = "files:" + fresh()
    rng = random.Random(1)
    data = rng.randbytes(300_000)
    # Any cut will do: the largest chunk allowed, a 1-byte one, and odd sizes.
    pieces = cut(data, [MAX_CHUNK, 1, 40_000, 12_345, 2_048, 777])
    assert max(map(len, pieces)) == MAX_CHUNK and min(map(len, pieces)) >= 1
    replica = new_replica(rng)
    version = version_of(replica, 1, pieces)
    state = file_state([version])

    async def main():
        async with session(server) as a, session(server) as b:
            ada, bob = FileClient(a), FileClient(b)
            await ada.connect()
            await bob.connect()
            diff, vector = await ada.sync(doc)
            assert diff == EMPTY_STATE and vector == b"\x00", "a new file: the empty state"
            await bob.sync(doc)
            # The chunks first (one of them twice: stored once, acked both times), then the version.
            for i, piece in enumerate(pieces):
                await ada.upload(doc, piece, request_id=100 + i)
            await ada.upload(doc, pieces[0], request_id=99)
            await ada.update(doc, state, request_id=5)
            await ada.expect_nothing_queued()
            # A live client gets the version as sent, and fetches its chunks.
            passed = await bob.recv()
            assert passed["type"] == "doc_update" and passed["doc"] == doc and "id" not in passed, passed
            got = base64.b64decode(passed["data_b64"])
            assert got == state
            _, versions = parse_state(got)
            assert len(versions) == 1 and versions[0]["size"] == len(data)
            fetched = [await bob.fetch(doc, h, request_id=200 + i) for i, h in enumerate(versions[0]["hashes"])]
            assert b"".join(fetched) == data

        # A late client gets the whole state in the diff: the server's state is the one sent,
        # byte for byte (the encoding is canonical), and its vector is {replica: 1}.
        async with session(server) as c:
            carol = FileClient(c)
            await carol.connect()
            diff, vector = await carol.sync(doc)
            assert diff == state
            assert vector == vector_bytes({replica: 1})
            _, versions = parse_state(diff)
            fetched = [await carol.fetch(doc, h, request_id=300 + i) for i, h in enumerate(versions[0]["hashes"])]
            assert b"".join(fetched) == data
            # With that vector nothing is missing: the empty state.
            diff, _ = await carol.sync(doc, state=vector, request_id=3)
            assert diff == EMPTY_STATE

    run(main())


def test_a_new_version_changes_only_the_chunks_sent(server):
    """The writer replaces its version: the new one supersedes the old (one version), only new
    chunks need uploading, and the old version's chunks are no longer served for this file."""
    doc = "files:" + fresh()
    rng = random.Random(2)
    data = rng.randbytes(100_000)
    pieces = cut(data, [10_000])
    replica = new_replica(rng)
    edited = bytearray(data)
    edited[55_000:55_010] = b"x" * 10
    new_pieces = cut(bytes(edited), [10_000])
    changed = [p for p in new_pieces if p not in pieces]
    assert len(changed) == 1

    async def main():
        async with session(server) as a, session(server) as b:
            ada, bob = FileClient(a), FileClient(b)
            await ada.connect()
            await bob.connect()
            await ada.sync(doc)
            await bob.sync(doc)
            for i, piece in enumerate(pieces):
                await ada.upload(doc, piece, request_id=100 + i)
            first = file_state([version_of(replica, 1, pieces)])
            await ada.update(doc, first, request_id=5)
            assert base64.b64decode((await bob.recv())["data_b64"]) == first
            # Version 2: only the changed chunk travels.
            await ada.upload(doc, changed[0], request_id=6)
            second = file_state([version_of(replica, 2, new_pieces)])
            await ada.update(doc, second, request_id=7)
            assert base64.b64decode((await bob.recv())["data_b64"]) == second
            vector, versions = parse_state(second)
            assert vector == {replica: 2} and len(versions) == 1
            assert b"".join([await bob.fetch(doc, h, request_id=i) for i, h in enumerate(versions[0]["hashes"])]) \
                == bytes(edited)
            # The replaced chunk belongs to no live version of this file any more.
            gone = next(p for p in pieces if p not in new_pieces)
            await bob.refused("not_found", 50, type="chunk_get", doc=doc, key=blake(gone).hex())
            # The old version again changes nothing: the server has seen it.
            await ada.update(doc, first, request_id=8)
            diff, _ = await ada.sync(doc, request_id=9)
            assert diff == second

    run(main())


def test_an_update_whose_chunks_were_not_uploaded_is_refused(server):
    doc = "files:" + fresh()
    rng = random.Random(3)
    data = rng.randbytes(50_000)
    pieces = cut(data, [8_192])
    state = file_state([version_of(new_replica(rng), 1, pieces)])

    async def main():
        async with session(server) as a, session(server) as b:
            ada, bob = FileClient(a), FileClient(b)
            await ada.connect()
            await bob.connect()
            await ada.sync(doc)
            await bob.sync(doc)
            for i, piece in enumerate(pieces):
                if i not in (2, 4):
                    await ada.upload(doc, piece, request_id=100 + i)
            reply = await ada.refused("not_found", 5, type="doc_update", doc=doc, data_b64=b64(state))
            assert blake(pieces[2]).hex() in reply["message"], "names the first missing chunk"
            await bob.expect_nothing_queued()  # nothing passed on
            diff, vector = await bob.sync(doc, request_id=3)
            assert diff == EMPTY_STATE and vector == b"\x00", "nothing of it was kept"
            await ada.upload(doc, pieces[2], request_id=6)
            reply = await ada.refused("not_found", 7, type="doc_update", doc=doc, data_b64=b64(state))
            assert blake(pieces[4]).hex() in reply["message"]
            await ada.upload(doc, pieces[4], request_id=8)
            await ada.update(doc, state, request_id=9)
            assert base64.b64decode((await bob.recv())["data_b64"]) == state

    run(main())


def test_chunk_checks(server):
    doc, other = "files:" + fresh(), "files:" + fresh()
    rng = random.Random(4)
    piece = rng.randbytes(5_000)
    key = blake(piece).hex()

    async def main():
        async with session(server) as a:
            ada = FileClient(a)
            await ada.connect()
            # Before doc_sync of that document: refused.
            await ada.refused("bad_request", 3, type="chunk", doc=doc, key=key, data_b64=b64(piece))
            await ada.refused("bad_request", 4, type="chunk_get", doc=doc, key=key)
            await ada.refused("bad_request", 5, type="doc_update", doc=doc, data_b64=b64(EMPTY_STATE))
            # A document synced as text has no chunks.
            text_doc = "text-" + fresh()
            await ada.send(type="doc_sync", id=6, doc=text_doc, kind="text")
            assert (await ada.recv())["type"] == "doc_update"
            assert (await ada.recv())["type"] == "doc_sync"
            await ada.refused("bad_request", 7, type="chunk", doc=text_doc, key=key, data_b64=b64(piece))
            await ada.refused("bad_request", 8, type="chunk_get", doc=text_doc, key=key)
            # ...nor by the session that syncs it as text.
            await ada.refused("bad_request", 26, type="doc_sync", doc=text_doc, kind="file")
            # A text document cannot be synced as a file (by a session that does not sync it yet).
            async with session(server) as b:
                bob = FileClient(b)
                await bob.connect()
                await bob.refused("bad_request", 9, type="doc_sync", doc=text_doc, kind="file")

            await ada.sync(doc, request_id=10)
            # Bytes that do not have the hash: refused, and nothing stored under it.
            tampered = bytes([piece[0] ^ 1]) + piece[1:]
            await ada.refused("bad_request", 11, type="chunk", doc=doc, key=key, data_b64=b64(tampered))
            await ada.refused("bad_request", 12, type="chunk", doc=doc, key=key, data_b64=b64(piece + b"\x00"))
            # Keys that are not 64 hex digits; no key at all.
            await ada.refused("bad_request", 13, type="chunk", doc=doc, key=key[:63], data_b64=b64(piece))
            await ada.refused("bad_request", 14, type="chunk", doc=doc, key=key[:63] + "g", data_b64=b64(piece))
            await ada.refused("bad_request", 15, type="chunk", doc=doc, data_b64=b64(piece))
            await ada.refused("bad_request", 16, type="chunk_get", doc=doc, key="00" * 31)
            # Over 64 KiB, even with the right hash.
            big = rng.randbytes(MAX_CHUNK + 1)
            await ada.refused("too_large", 17, type="chunk", doc=doc, key=blake(big).hex(), data_b64=b64(big))
            # An empty chunk, even under the hash of no bytes: a chunk holds 1 to 65,536 bytes.
            await ada.refused("bad_request", 27, type="chunk", doc=doc, key=blake(b"").hex(), data_b64="")
            # Nothing was stored under the key: a version naming it is refused.
            state = file_state([version_of(new_replica(rng), 1, [piece])])
            reply = await ada.refused("not_found", 18, type="doc_update", doc=doc, data_b64=b64(state))
            assert key in reply["message"]
            # A hash no version of the file holds: unknown, uploaded or not.
            await ada.refused("not_found", 19, type="chunk_get", doc=doc, key=key)
            await ada.upload(doc, piece, request_id=20)
            await ada.refused("not_found", 21, type="chunk_get", doc=doc, key=key)
            await ada.refused("not_found", 22, type="chunk_get", doc=doc, key=blake(b"nobody").hex())
            await ada.update(doc, state, request_id=22)
            assert await ada.fetch(doc, blake(piece), request_id=23) == piece
            # A chunk of another file is as unknown as one that does not exist.
            await ada.sync(other, request_id=24)
            await ada.refused("not_found", 25, type="chunk_get", doc=other, key=key)
            await ada.expect_nothing_queued()

    run(main())


def test_malformed_file_updates_are_refused(server):
    doc = "files:" + fresh()
    rng = random.Random(5)
    pieces = cut(rng.randbytes(20_000), [5_000])
    replica = new_replica(rng)
    version = version_of(replica, 1, pieces)
    good = file_state([version])
    other = new_replica(rng)
    twin = dict(version, replica=other)
    low, high = sorted([version, twin], key=lambda v: v["replica"])
    hashes = version["hashes"]
    future = (int(time.time() * 1000) + 2 * 86_400_000) << 16
    bad_states = {
        "trailing byte": good + b"\x00",
        "a text update": b"\x01\x01" + struct.pack("<Q", replica) + b"\x01\x00\x00\x01\x01\x01a\x00",
        "a snapshot": b"\x32" + good[1:] + b"\x00",
        "a version of a replica not in the vector": raw_state([(other, 1)], [version]),
        "a version past its vector": raw_state([(replica, 1)], [dict(version, counter=2)]),
        "a version with counter 0": raw_state([(replica, 1)], [dict(version, counter=0)]),
        "versions out of order": raw_state(sorted([(replica, 1), (other, 1)]), [high, low]),
        "a version twice": raw_state([(replica, 1)], [version, version]),
        "the vector out of order": raw_state(sorted([(replica, 1), (other, 1)], reverse=True), []),
        "a vector counter of 0": raw_state([(replica, 0)], []),
        "size below the chunk count": raw_state([(replica, 1)], [dict(version, size=len(hashes) - 1)]),
        "size over 64 KiB per chunk": raw_state([(replica, 1)], [dict(version, size=len(hashes) * MAX_CHUNK + 1)]),
        "a timestamp two days ahead": raw_state([(replica, 1)], [dict(version, time=future)]),
    }
    # The crafting is right: in order, the same pieces are a valid state.
    assert raw_state(sorted([(replica, 1), (other, 1)]), [low, high]) == file_state([version, twin])

    async def main():
        async with session(server) as a:
            ada = FileClient(a)
            await ada.connect()
            await ada.sync(doc)
            for i, piece in enumerate(pieces):
                await ada.upload(doc, piece, request_id=100 + i)
            for n in range(1, len(good)):
                await ada.refused("bad_request", 4, type="doc_update", doc=doc, data_b64=b64(good[:n]))
            for name, bad in bad_states.items():
                reply = await ada.refused("bad_request", 5, type="doc_update", doc=doc, data_b64=b64(bad))
                assert reply["message"], name
            diff, vector = await ada.sync(doc, request_id=6)
            assert diff == EMPTY_STATE and vector == b"\x00", "nothing of the bad updates was kept"
            await ada.update(doc, good, request_id=7)
            diff, _ = await ada.sync(doc, request_id=8)
            assert diff == good

    run(main())


def test_concurrent_versions_from_two_clients(server):
    """Two writers who have not seen each other's version: both stay (conflict copies) and reach
    every client; a write that has seen both replaces them."""
    doc = "files:" + fresh()
    rng = random.Random(6)
    ra, rb = new_replica(rng), new_replica(rng)
    da, db_ = rng.randbytes(30_000), rng.randbytes(40_000)
    pa, pb = cut(da, [16_384]), cut(db_, [9_000])
    va, vb = version_of(ra, 1, pa), version_of(rb, 1, pb)

    async def main():
        async with session(server) as a, session(server) as b:
            ada, bob = FileClient(a), FileClient(b)
            await ada.connect()
            await bob.connect()
            await ada.sync(doc)
            await bob.sync(doc)
            for i, piece in enumerate(pa):
                await ada.upload(doc, piece, request_id=100 + i)
            for i, piece in enumerate(pb):
                await bob.upload(doc, piece, request_id=100 + i)
            await ada.update(doc, file_state([va]), request_id=5)
            assert base64.b64decode((await bob.recv())["data_b64"]) == file_state([va])
            # Bob's version does not know ada's: a concurrent write.
            await bob.update(doc, file_state([vb]), request_id=5)
            assert base64.b64decode((await ada.recv())["data_b64"]) == file_state([vb])

        async with session(server) as c:
            carol = FileClient(c)
            await carol.connect()
            diff, vector = await carol.sync(doc)
            assert diff == file_state([va, vb])
            assert vector == vector_bytes({ra: 1, rb: 1})
            _, versions = parse_state(diff)
            contents = set()
            for v in versions:
                contents.add(b"".join([await carol.fetch(doc, h, request_id=i) for i, h in enumerate(v["hashes"])]))
            assert contents == {da, db_}
            # Carol keeps bob's version: a write that has seen both (her own replica, counter 1).
            rc = new_replica(rng)
            kept = version_of(rc, 1, pb)
            resolved = file_state([kept], vector={ra: 1, rb: 1, rc: 1})
            await carol.update(doc, resolved, request_id=7)
            diff, _ = await carol.sync(doc, request_id=8)
            assert diff == resolved
            # ada's chunks belong to no live version now.
            await carol.refused("not_found", 9, type="chunk_get", doc=doc, key=blake(pa[0]).hex())

    run(main())


# --- The binary encoding, from the docs' tables -------------------------------------------------

TYPES = {"connect": 1, "connected": 2, "pong": 4, "error": 5, "ack": 12, "doc_sync": 20, "doc_update": 21,
         "chunk": 22, "chunk_get": 23}
TYPE_NAMES = {code: name for name, code in TYPES.items()}
FIELDS = {"id": 1, "v": 2, "data": 5, "code": 6, "message": 7, "session": 11, "server": 12,
          "ping_interval_ms": 13, "max_message_bytes": 14, "batch": 25, "key": 30, "doc": 31, "kind": 32}
FIELD_NAMES = {number: name for name, number in FIELDS.items()}


def encode(type_name, **fields):
    out = bytearray([1, TYPES[type_name]])
    for name, value in fields.items():
        if isinstance(value, (bytes, str)):
            raw = value.encode() if isinstance(value, str) else value
            out += varint(FIELDS[name] << 3 | 2) + varint(len(raw)) + raw
        else:
            out += varint(FIELDS[name] << 3) + varint(value)
    return bytes(out)


def decode(data):
    assert data[0] == 1 and data[1] in TYPE_NAMES, data[:2]
    message, at = {"type": TYPE_NAMES[data[1]]}, 2
    while at < len(data):
        key, at = read_varint(data, at)
        name = FIELD_NAMES[key >> 3]
        assert name not in message
        if key & 7 == 0:
            message[name], at = read_varint(data, at)
        else:
            assert key & 7 == 2
            n, at = read_varint(data, at)
            raw = bytes(data[at:at + n])
            at += n
            message[name] = raw if name == "data" else raw.decode()
    return message


def test_binary_frames(server):
    doc = "files:" + fresh()
    rng = random.Random(7)
    pieces = cut(rng.randbytes(70_000), [MAX_CHUNK])
    state = file_state([version_of(new_replica(rng), 1, pieces)])

    async def main():
        async with session(server) as ws:
            async def recv():
                frame = await asyncio.wait_for(ws.recv(), TIMEOUT)
                assert isinstance(frame, bytes), frame
                return decode(frame)

            await ws.send(encode("connect", id=1, v=1))
            assert (await recv())["type"] == "connected"
            await ws.send(encode("doc_sync", id=2, doc=doc, kind="file"))
            assert await recv() == {"type": "doc_update", "id": 2, "doc": doc, "data": EMPTY_STATE}
            assert await recv() == {"type": "doc_sync", "doc": doc, "kind": "file", "data": b"\x00"}
            for i, piece in enumerate(pieces):
                key = blake(piece).hex()
                await ws.send(encode("chunk", id=10 + i, doc=doc, key=key, data=piece))
                assert await recv() == {"type": "ack", "id": 10 + i, "doc": doc, "key": key}
            await ws.send(encode("doc_update", id=3, doc=doc, data=state))
            assert await recv() == {"type": "ack", "id": 3, "doc": doc}
            for i, piece in enumerate(pieces):
                key = blake(piece).hex()
                await ws.send(encode("chunk_get", id=20 + i, doc=doc, key=key))
                assert await recv() == {"type": "chunk", "id": 20 + i, "doc": doc, "key": key, "data": piece}
            await ws.send(encode("chunk_get", id=30, doc=doc, key=blake(b"?").hex()))
            reply = await recv()
            assert reply["type"] == "error" and reply["id"] == 30 and reply["code"] == 11, reply  # not_found

    run(main())


def test_chunk_messages_are_rate_limited(tmp_path):
    """`chunk` and `chunk_get` are charged to the `chunk` limit, `doc_sync` to `subscribe`."""
    doc = "files:" + fresh()
    rng = random.Random(8)
    pieces = [rng.randbytes(100) for _ in range(3)]

    async def main(server):
        async with session(server) as a:
            ada = FileClient(a)
            await ada.connect()
            await ada.sync(doc)  # subscribe: 1 of 1
            await ada.upload(doc, pieces[0], request_id=3)  # chunk: 1 of 3
            await ada.upload(doc, pieces[1], request_id=4)  # 2 of 3
            await ada.refused("not_found", 5, type="chunk_get", doc=doc, key=blake(pieces[0]).hex())  # 3 of 3
            reply = await ada.refused("rate_limited", 6, type="chunk", doc=doc, key=blake(pieces[2]).hex(),
                                      data_b64=b64(pieces[2]))
            assert reply["retry_after_ms"] > 0
            await ada.refused("rate_limited", 7, type="chunk_get", doc=doc, key=blake(pieces[0]).hex())
            # Neither publish nor subscribe was charged for them.
            await ada.update(doc, EMPTY_STATE, request_id=8)
            await ada.refused("rate_limited", 9, type="doc_sync", doc="files:" + fresh(), kind="file")

    with running_server(tmp_path, "--rate-limit", "chunk=3/60000/3", "--rate-limit", "subscribe=1/60000/1") as server:
        run(main(server))


def test_updates_that_change_nothing_are_not_passed_on(server):
    """A stale or repeated state is acked but neither stored nor passed on: the live client's next
    update is the next real change."""
    doc = "files:" + fresh()
    rng = random.Random(8)
    first, second = [rng.randbytes(3_000)], [rng.randbytes(3_000)]
    replica = new_replica(rng)
    v1 = file_state([version_of(replica, 1, first)])
    v2 = file_state([version_of(replica, 2, second)])

    async def main():
        async with session(server) as a, session(server) as b:
            ada, bob = FileClient(a), FileClient(b)
            await ada.connect()
            await bob.connect()
            await ada.sync(doc)
            await bob.sync(doc)
            await ada.upload(doc, first[0], request_id=10)
            await ada.update(doc, v1, request_id=11)
            assert base64.b64decode((await bob.recv())["data_b64"]) == v1
            # Nothing new: the empty state, and v1 again.
            await ada.update(doc, EMPTY_STATE, request_id=12)
            await ada.update(doc, v1, request_id=13)
            await ada.upload(doc, second[0], request_id=14)
            await ada.update(doc, v2, request_id=15)
            passed = await bob.recv()
            assert base64.b64decode(passed["data_b64"]) == v2, "the no-op updates were passed on"
            await bob.expect_nothing_queued()

    run(main())
