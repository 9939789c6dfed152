"""Documents over the network (docs/protocol.md, "Documents" and "Text updates"): clients sync a
text document with `doc_sync` and exchange `doc_update`s through a real realtime-server. The
updates are built and read here from the documented byte format alone (an independent encoder
and decoder), so the test also proves the format is what the docs say. Malformed updates are
refused with nothing changed, and a document survives a server restart."""
import asyncio
import base64
import json
import struct

import pytest
import websockets

from conftest import running_server, start_server, stop_server
from test_channels import TIMEOUT, fresh, run
from wire import varint


def read_varint(b, at):
    n = shift = 0
    while True:
        byte = b[at]
        at += 1
        n |= (byte & 0x7F) << shift
        if byte < 0x80:
            return n, at
        shift += 7


def text_update(replica, clock, text, left=None, right=None, deletions=()):
    """A text update (format 0x01) of one run typed by `replica` from `clock`, between the
    characters `left` and `right` ((replica, clock) pairs or None), plus `deletions`
    ((replica, clock, length) triples)."""
    table = [replica] + [x[0] for x in [left, right, *deletions] if x is not None]
    table = list(dict.fromkeys(table))
    out = bytearray([0x01]) + varint(len(table))
    for r in table:
        out += struct.pack("<Q", r)
    runs = [] if text is None else [text]
    out += varint(len(runs))
    for t in runs:
        flags = (2 if left else 0) | (8 if right else 0)
        out += varint(table.index(replica)) + varint(clock) + varint(len(t)) + bytes([flags])
        for origin in (left, right):
            if origin:
                out += varint(table.index(origin[0])) + varint(origin[1])
        raw = t.encode()
        out += varint(len(raw)) + raw
    out += varint(len(deletions))
    for r, c, n in deletions:
        out += varint(table.index(r)) + varint(c) + varint(n)
    return bytes(out)


def parse_update(b):
    """(runs, deletions): runs as dicts with replica, clock, length, text (None: deleted)."""
    assert b[0] == 0x01, b[:1]
    at = 1
    count, at = read_varint(b, at)
    table = []
    for _ in range(count):
        table.append(struct.unpack_from("<Q", b, at)[0])
        at += 8
    runs = []
    count, at = read_varint(b, at)
    for _ in range(count):
        r, at = read_varint(b, at)
        clock, at = read_varint(b, at)
        length, at = read_varint(b, at)
        flags = b[at]
        at += 1
        for bit in (2, 8):
            if flags & bit:
                _, at = read_varint(b, at)
                _, at = read_varint(b, at)
        text = None
        if not flags & 1:
            n, at = read_varint(b, at)
            text = b[at:at + n].decode()
            at += n
        runs.append({"replica": table[r], "clock": clock, "length": length, "text": text})
    deletions = []
    count, at = read_varint(b, at)
    for _ in range(count):
        r, at = read_varint(b, at)
        clock, at = read_varint(b, at)
        length, at = read_varint(b, at)
        deletions.append((table[r], clock, length))
    assert at == len(b), "trailing bytes"
    return runs, deletions


def b64(data):
    return base64.b64encode(data).decode()


class DocClient:
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
        """doc_sync; returns (the diff's bytes, the server's state vector)."""
        await self.send(type="doc_sync", id=request_id, doc=doc, kind="text", data_b64=b64(state))
        update = await self.recv()
        assert update["type"] == "doc_update" and update["id"] == request_id and update["doc"] == doc, update
        ask = await self.recv()
        assert ask["type"] == "doc_sync" and ask["doc"] == doc and ask["kind"] == "text", ask
        return base64.b64decode(update["data_b64"]), base64.b64decode(ask.get("data_b64", ""))

    async def expect_nothing_queued(self):
        await self.send(type="ping", id=99)
        assert await self.recv() == {"type": "pong", "id": 99}


def session(server):
    return websockets.connect(server.url, max_size=1 << 22)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("documents")) as server:
        yield server


ADA = 0x0ADA


def test_updates_reach_the_other_clients_and_a_late_client_gets_a_diff(server):
    doc = "notes-" + fresh()

    async def main():
        async with session(server) as a, session(server) as b:
            ada, bob = DocClient(a), DocClient(b)
            await ada.connect()
            await bob.connect()
            diff, _ = await ada.sync(doc)
            assert parse_update(diff) == ([], []), "a new document is empty"
            await bob.sync(doc)
            hello = text_update(ADA, 0, "hello")
            await ada.send(type="doc_update", id=5, doc=doc, data_b64=b64(hello))
            assert await ada.recv() == {"type": "ack", "id": 5, "doc": doc}
            passed = await bob.recv()
            assert passed["type"] == "doc_update" and passed["doc"] == doc, passed
            assert base64.b64decode(passed["data_b64"]) == hello, "passed on as sent"
            await ada.expect_nothing_queued()
            # Typing on, and deleting "ell".
            more = text_update(ADA, 5, " world", left=(ADA, 4), deletions=[(ADA, 1, 3)])
            await ada.send(type="doc_update", id=6, doc=doc, data_b64=b64(more))
            assert (await ada.recv())["type"] == "ack"
            assert base64.b64decode((await bob.recv())["data_b64"]) == more

        async with session(server) as c:
            carol = DocClient(c)
            await carol.connect()
            diff, state = await carol.sync(doc)
            runs, deletions = parse_update(diff)
            typed = {(r["clock"], r["length"]): r["text"] for r in runs if r["replica"] == ADA}
            assert sum(length for _, length in typed) == 11
            visible = "".join(t for (_, _), t in sorted(typed.items()) if t is not None)
            assert visible in ("ho world", "hello world"), visible
            deleted = {c for _, c0, n in deletions for c in range(c0, c0 + n)}
            deleted |= {c for (c0, n), t in typed.items() if t is None for c in range(c0, c0 + n)}
            assert deleted == {1, 2, 3}, deletions
            # The server's state vector says it has ADA's 11 characters: one replica, counter 11.
            assert state[:1] == varint(1) and struct.unpack_from("<Q", state, 1)[0] == ADA and state[9:] == varint(11)
            # With that state no characters are missing; deletions always travel (a state vector
            # counts characters, not deletions), and applying them again changes nothing.
            diff, _ = await carol.sync(doc, state=state, request_id=3)
            assert parse_update(diff) == ([], [(ADA, 1, 3)])

    run(main())


def test_malformed_and_out_of_turn_updates_are_refused(server):
    doc = "bad-" + fresh()

    async def main():
        async with session(server) as a:
            ada = DocClient(a)
            await ada.connect()
            good = text_update(ADA, 0, "abc")
            await ada.send(type="doc_update", id=3, doc=doc, data_b64=b64(good))
            refused = await ada.recv()
            assert refused["type"] == "error" and refused["code"] == "bad_request", "doc_update before doc_sync"
            await ada.sync(doc)
            for bad in [good[:n] for n in range(1, len(good))] + [b"\x07" + good[1:], good + b"\x00"]:
                await ada.send(type="doc_update", id=4, doc=doc, data_b64=b64(bad))
                reply = await ada.recv()
                assert reply["type"] == "error" and reply["id"] == 4 and reply["code"] == "bad_request", reply
            diff, _ = await ada.sync(doc, request_id=5)
            assert parse_update(diff) == ([], []), "nothing of the bad updates was kept"
            # A run claiming to follow a character that does not exist yet waits instead.
            await ada.send(type="doc_update", id=6, doc=doc, data_b64=b64(text_update(ADA, 3, "d", left=(ADA, 2))))
            assert (await ada.recv())["type"] == "ack"
            await ada.send(type="doc_update", id=7, doc=doc, data_b64=b64(good))
            assert (await ada.recv())["type"] == "ack"
            diff, _ = await ada.sync(doc, request_id=8)
            runs, _ = parse_update(diff)
            assert "".join(r["text"] for r in sorted(runs, key=lambda r: r["clock"])) == "abcd"

    run(main())


def test_a_document_survives_a_restart(tmp_path):
    db = tmp_path / "docs.db"
    doc = "kept-" + fresh()

    async def write(server):
        async with session(server) as a:
            ada = DocClient(a)
            await ada.connect()
            await ada.sync(doc)
            await ada.send(type="doc_update", id=5, doc=doc, data_b64=b64(text_update(ADA, 0, "durable")))
            assert (await ada.recv())["type"] == "ack"

    async def read(server):
        async with session(server) as a:
            ada = DocClient(a)
            await ada.connect()
            diff, _ = await ada.sync(doc)
            return "".join(r["text"] or "" for r in parse_update(diff)[0])

    first = start_server(tmp_path, db=db)
    try:
        run(write(first))
    finally:
        assert stop_server(first) == 0
    second = start_server(tmp_path, db=db)
    try:
        assert run(read(second)) == "durable"
    finally:
        assert stop_server(second) == 0
