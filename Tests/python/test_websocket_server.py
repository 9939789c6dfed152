"""The WebSocket endpoint driven by real clients over real sockets: the `websockets` library for
the happy path, raw sockets for every kind of malformed input (RFC 6455)."""
import asyncio
import os
import pathlib
import socket
import struct
import time

import websockets

KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def upgrade_request(path="/ws", key=KEY, version="13", extra=""):
    head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    if key is not None:
        head += f"Sec-WebSocket-Key: {key}\r\n"
    if version is not None:
        head += f"Sec-WebSocket-Version: {version}\r\n"
    return (head + extra + "\r\n").encode()


def frame(opcode, payload=b"", fin=True, rsv=0, masked=True, length_form=None):
    """A client frame; `length_form` forces 16 or 64 to write a non-minimal length."""
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    mask_bit = 0x80 if masked else 0
    if length_form == 64 or (length_form is None and n > 0xFFFF):
        header = bytes([first, mask_bit | 127]) + struct.pack(">Q", n)
    elif length_form == 16 or (length_form is None and n >= 126):
        header = bytes([first, mask_bit | 126]) + struct.pack(">H", n)
    else:
        header = bytes([first, mask_bit | n])
    if not masked:
        return header + payload
    key = os.urandom(4)
    return header + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def connect_raw(server, request=None):
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(request if request is not None else upgrade_request())
    return sock


def read_http_status(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1]), data


def open_raw(server):
    sock = connect_raw(server)
    status, _ = read_http_status(sock)
    assert status == 101
    return sock


def read_frames_until_close(sock):
    """Reads server frames until a close frame; returns its code (None when it had none)."""
    buf = bytearray()
    pos = 0
    while True:
        while len(buf) - pos >= 2:
            n = buf[pos + 1] & 0x7F
            offset = 2
            if n == 126:
                n, offset = struct.unpack(">H", buf[pos + 2:pos + 4])[0], 4
            elif n == 127:
                n, offset = struct.unpack(">Q", buf[pos + 2:pos + 10])[0], 10
            if len(buf) - pos < offset + n:
                break
            opcode, payload = buf[pos] & 0x0F, bytes(buf[pos + offset:pos + offset + n])
            pos += offset + n
            if opcode == 0x8:
                return struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
        del buf[:pos]
        pos = 0
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError("connection closed without a close frame")
        buf += chunk


def expect_close(server, *frames_to_send):
    sock = open_raw(server)
    for data in frames_to_send:
        sock.sendall(data)
    code = read_frames_until_close(sock)
    sock.close()
    return code


def test_websockets_client_exchanges_messages_pings_and_closes_cleanly(server):
    async def main():
        async with websockets.connect(server.url) as ws:
            await ws.send("hello, ünïcode")
            await ws.send(b"\x00\x01\x02")
            pong = await ws.ping(b"keepalive")
            await asyncio.wait_for(pong, 5)
        return ws.close_code

    assert asyncio.run(main()) == 1000


def test_unmasked_client_frame_is_1002(server):
    assert expect_close(server, frame(0x1, b"hi", masked=False)) == 1002


def test_64bit_length_with_top_bit_is_1002(server):
    sock = open_raw(server)
    sock.sendall(bytes([0x82, 0x80 | 127]) + struct.pack(">Q", 1 << 63) + b"\x00\x00\x00\x00")
    assert read_frames_until_close(sock) == 1002


def test_non_minimal_lengths_are_1002(server):
    assert expect_close(server, frame(0x2, b"abc", length_form=16)) == 1002
    assert expect_close(server, frame(0x2, b"a" * 200, length_form=64)) == 1002


def test_control_frames_must_be_short_and_whole(server):
    assert expect_close(server, frame(0x9, b"x" * 126)) == 1002
    assert expect_close(server, frame(0x9, b"x", fin=False)) == 1002


def test_fragmentation_errors_are_1002(server):
    assert expect_close(server, frame(0x0, b"orphan")) == 1002
    assert expect_close(server, frame(0x1, b"a", fin=False), frame(0x1, b"b")) == 1002


def test_invalid_utf8_split_across_fragments_is_1007(server):
    # U+00E9 is C3 A9; C3 followed by 28 is invalid, and the bad byte arrives in the 2nd fragment.
    assert expect_close(server, frame(0x1, b"ok \xc3", fin=False), frame(0x0, b"\x28 tail")) == 1007


def test_invalid_close_codes_and_reserved_bits_and_opcodes_are_1002(server):
    for code in (0, 999, 1004, 1005, 1006, 1015, 2999, 5000):
        assert expect_close(server, frame(0x8, struct.pack(">H", code))) == 1002, code
    for rsv in (1, 2, 4):
        assert expect_close(server, frame(0x1, b"x", rsv=rsv)) == 1002
    for opcode in (0x3, 0x7, 0xB, 0xF):
        assert expect_close(server, frame(opcode, b"x")) == 1002


def test_oversized_message_is_refused_with_1009_before_its_payload(server):
    sock = open_raw(server)
    # Only the header of a 2 MiB frame: the server must refuse without waiting for the payload.
    sock.sendall(bytes([0x82, 0x80 | 127]) + struct.pack(">Q", 2 << 20) + b"\x01\x02\x03\x04")
    assert read_frames_until_close(sock) == 1009


def test_a_million_one_byte_fragments_make_one_message_and_memory_stays_bounded(server):
    before = server.rss_kib()
    sock = open_raw(server)
    one = frame(0x0, b"a", fin=False)
    batch = frame(0x2, b"a", fin=False) + one * 99_999
    sock.sendall(batch)
    for _ in range(9):
        sock.sendall(one * 100_000)
    sock.sendall(frame(0x0, b"a", fin=True) + frame(0x9, b"alive?"))
    # The pong proves every fragment was read and the connection is healthy. (The message itself
    # is not a protocol message: an error answer comes before the pong.)
    buf = b""
    while b"\x8a\x06alive?" not in buf:
        chunk = sock.recv(4096)
        assert chunk, "connection closed"
        buf += chunk
    sock.close()
    assert server.rss_kib() - before < 64 * 1024, "a 1 MB message must not cost more than 64 MiB"


def test_handshake_errors_get_http_statuses(server):
    cases = [
        (upgrade_request(path="/elsewhere"), 404),
        (upgrade_request(key=None), 400),
        (upgrade_request(extra=f"Sec-WebSocket-Key: {KEY}\r\n"), 400),
        (upgrade_request(version="8"), 426),
        (upgrade_request(extra="".join(f"X-H{i}: v\r\n" for i in range(2000))), 431),
        (upgrade_request(extra="X-Long: " + "a" * (64 << 10) + "\r\n"), 431),
        (b"POST /ws HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        (b"GET /ws HTTP/1.0\r\nHost: x\r\n\r\n", 505),
        (b"garbage\r\n\r\n", 400),
    ]
    for request, expected in cases:
        sock = connect_raw(server, request)
        status, _ = read_http_status(sock)
        assert status == expected, (request[:60], status)
        sock.close()


def test_a_byte_per_interval_handshake_times_out_with_408(server):
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    request = upgrade_request()
    started = time.monotonic()
    sock.settimeout(0.25)
    data = b""
    for byte in request:
        try:
            sock.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            break
        try:
            data += sock.recv(4096)
        except socket.timeout:
            continue
        if data:
            break
    sock.settimeout(10)
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    assert data.startswith(b"HTTP/1.1 408 "), data[:40]
    assert time.monotonic() - started < 5


def test_server_still_serves_clients_after_the_battery(server):
    async def main():
        async with websockets.connect(server.url) as ws:
            await asyncio.wait_for(await ws.ping(), 5)
        return ws.close_code

    assert asyncio.run(main()) == 1000
    assert server.proc.poll() is None


def test_a_silent_client_is_pinged_then_closed_with_1001(server):
    # The fixture's server has a 1 s idle timeout: a ping after 0.5 s of silence, the close at 1 s.
    sock = open_raw(server)
    sock.settimeout(10)
    started = time.monotonic()
    buf = b""
    while True:
        chunk = sock.recv(4096)
        assert chunk, "closed without a close frame"
        buf += chunk
        if buf[:1] == b"\x89":  # the server's ping (we do not answer it)
            break
    code = read_frames_until_close(sock)
    assert code == 1001
    assert time.monotonic() - started < 5


def test_a_client_that_does_not_read_is_closed_with_1008_and_others_are_not_slowed(server):
    # Pings whose pongs are never read: 100,000 pongs (12.7 MB) outgrow any kernel buffers plus
    # the fixture's 256 KiB queue, whatever the timing, so the server must give up on this client.
    slow = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
    slow.settimeout(30)
    slow.connect(("127.0.0.1", server.port))
    slow.sendall(upgrade_request())
    status, _ = read_http_status(slow)
    assert status == 101
    ping = frame(0x9, b"p" * 125)
    for _ in range(1000):
        slow.sendall(ping * 100)  # the server keeps reading (and, once it gave up, discarding)

    # Meanwhile another client is served (the bound only turns a hang into a failure).
    async def main():
        async with websockets.connect(server.url) as ws:
            await asyncio.wait_for(await ws.ping(), 10)
        return ws.close_code

    assert asyncio.run(main()) == 1000
    # Reading now drains the backlog of pongs, then the close frame.
    assert read_frames_until_close(slow) == 1008
    assert server.proc.poll() is None

def http_get(server, path, method="GET"):
    sock = connect_raw(server, f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return head.decode(), body


def test_the_browser_client_is_served_at_the_root_and_nothing_else_is(server):
    head, body = http_get(server, "/")
    assert head.startswith("HTTP/1.1 200 OK\r\n")
    assert "Content-Type: text/html; charset=utf-8" in head
    assert f"Content-Length: {len(body)}" in head
    assert b"new WebSocket(url)" in body
    assert body == (pathlib.Path(__file__).resolve().parents[2] / "examples" / "web" / "index.html").read_bytes()
    head, body = http_get(server, "/", method="HEAD")
    assert head.startswith("HTTP/1.1 200 OK\r\n") and body == b""
    for path in ("/../../etc/passwd", "/%2e%2e/etc/passwd", "/nope.html", "/index.html/.."):
        head, _ = http_get(server, path)
        assert head.startswith("HTTP/1.1 404 "), (path, head)


def test_clients_that_answer_keepalive_pings_stay_connected(server):
    # Regression: the server once checked silence only every half timeout and could close a client
    # that always answered, if a pong landed just after a check. 200 idle clients that answer
    # every ping (websockets does) must all outlive three idle timeouts (1 s in the fixture).
    async def main():
        clients = [await websockets.connect(server.url) for _ in range(200)]
        await asyncio.sleep(3.5)  # the scenario itself: idle clients across three timeouts
        still_open = 0
        for ws in clients:
            try:
                await asyncio.wait_for(await ws.ping(), 5)
                still_open += 1
            except websockets.ConnectionClosed:
                pass
            await ws.close()
        return still_open

    assert asyncio.run(main()) == 200
