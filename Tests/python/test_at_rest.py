"""Payloads sealed at rest and end-to-end namespaces (docs/security.md), through a real
realtime-server: with --key-file, channel messages reach the database sealed and read back after a
restart; `--reseal` moves them to a new key, after which the old one is not needed; an `e2e`
namespace refuses JSON and unsealed data and routes and stores what a PyNaCl client sealed, byte
for byte, which another PyNaCl client opens."""
import asyncio
import base64
import os
import sqlite3
import subprocess

import nacl.secret
import nacl.utils

from conftest import running_server, server_binary
from test_channels import Session

SECRET = "PY-AT-REST-SECRET"


def key_file(path, lines):
    path.write_text("".join(f"{key_id}:{key.hex()}\n" for key_id, key in lines))
    os.chmod(path, 0o600)
    return str(path)


def e2e_seal(box, plaintext: bytes) -> bytes:
    """An end-to-end envelope: the version byte 1, then PyNaCl's SecretBox output (24-byte nonce,
    XSalsa20-Poly1305 ciphertext with its 16-byte tag)."""
    return b"\x01" + bytes(box.encrypt(plaintext))


def test_sealed_at_rest_reseal_and_end_to_end(tmp_path):
    db = tmp_path / "rt.db"
    key1, key2 = nacl.utils.random(32), nacl.utils.random(32)
    first = key_file(tmp_path / "keys1", [(1, key1)])
    group_key = nacl.utils.random(32)  # the clients' own, never given to the server
    box = nacl.secret.SecretBox(group_key)
    sealed = e2e_seal(box, b"only the clients read this")

    async def first_run(url):
        async with Session(url) as alice, Session(url) as bob:
            await bob.subscribe("e2e:room")
            await alice.publish("room", {"secret": SECRET})
            await alice.expect_error("publish", "bad_request", channel="e2e:room", data={"plain": "text"})
            await alice.expect_error("publish", "bad_request", channel="e2e:room",
                                     data_b64=base64.b64encode(b"\x01" + b"x" * 20).decode())
            await alice.expect_error("publish", "bad_request", channel="e2e:room",
                                     data_b64=base64.b64encode(b"\x09" + sealed[1:]).decode())
            await alice.publish("e2e:room", data_b64=base64.b64encode(sealed).decode())
            message = await bob.recv()
            assert message["type"] == "message" and message["channel"] == "e2e:room", message
            got = base64.b64decode(message["data_b64"])
            assert got == sealed
            assert box.decrypt(got[1:]) == b"only the clients read this"

    with running_server(tmp_path, "--key-file", first, "--namespace", "e2e=e2e", db=db) as server:
        asyncio.run(first_run(server.url))

    wal = db.parent / (db.name + "-wal")
    raw = db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert SECRET.encode() not in raw
    with sqlite3.connect(db) as conn:
        rows = dict(conn.execute(
            "SELECT s.name, l.key_id FROM rt_log l JOIN rt_streams s ON s.id = l.stream_id").fetchall())
        e2e_payload = conn.execute("SELECT payload FROM rt_log WHERE key_id = -1").fetchone()[0]
    assert sorted(rows.values()) == [-1, 1], rows
    assert sealed in bytes(e2e_payload), "the client's sealed bytes are stored as they came"

    # Rotation: add key 2 (the highest id seals), re-seal offline, then run with key 2 alone.
    both = key_file(tmp_path / "keys12", [(1, key1), (2, key2)])
    out = subprocess.run([str(server_binary()), "--reseal", "--db", str(db), "--key-file", both,
                          "--log-level", "error"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "re-sealed 1 rows under key 2" in out.stdout, out.stdout
    with sqlite3.connect(db) as conn:
        assert sorted(r[0] for r in conn.execute("SELECT key_id FROM rt_log")) == [-1, 2]

    only2 = key_file(tmp_path / "keys2", [(2, key2)])

    async def second_run(url):
        async with Session(url) as carol:
            messages, _ = await carol.history("room")
            assert [m["data"] for m in messages] == [{"secret": SECRET}]
            messages, _ = await carol.history("e2e:room")
            assert [base64.b64decode(m["data_b64"]) for m in messages] == [sealed]

    with running_server(tmp_path, "--key-file", only2, "--namespace", "e2e=e2e", db=db) as server:
        asyncio.run(second_run(server.url))

    # Without keys the server cannot read the sealed history, and stores no plaintext beside it.
    async def keyless_run(url):
        async with Session(url) as dave:
            reply = await dave.expect_error("history", "not_found", channel="room")
            assert "not loaded" in reply["message"], reply
            reply = await dave.expect_error("publish", "internal", channel="fresh", data={"plain": 1})
            assert "load the keys" in reply["message"], reply
            messages, _ = await dave.history("e2e:room")  # the clients' bytes need no server key
            assert [base64.b64decode(m["data_b64"]) for m in messages] == [sealed]

    with running_server(tmp_path, "--namespace", "e2e=e2e", db=db) as server:
        asyncio.run(keyless_run(server.url))
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM rt_log WHERE key_id = 0").fetchone()[0] == 0

    # `--reseal` without keys is refused before touching the database.
    out = subprocess.run([str(server_binary()), "--reseal", "--db", str(db)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode != 0
