"""The application protocol (docs/protocol.md) over real sockets with the `websockets` client: connect,
ping, errors and disconnects, in JSON and in the binary encoding, decoded here independently of the
server's code."""
import asyncio
import json
import signal

import pytest
import websockets

from conftest import running_server
from wire import decode_binary, encode_binary


@pytest.fixture(scope="module")
def protocol_server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("protocol"), "--connect-timeout-ms", "1000") as server:
        yield server


async def exchange(ws, message):
    await ws.send(json.dumps(message))
    return json.loads(await asyncio.wait_for(ws.recv(), 5))


def test_connect_then_ping_in_json(protocol_server):
    async def main():
        async with websockets.connect(protocol_server.url) as ws:
            connected = await exchange(ws, {"type": "connect", "id": 1, "v": 1, "client": "pytest"})
            pong = await exchange(ws, {"type": "ping", "id": 2, "data": {"text": "héllo", "list": [1, 2.5, None]}})
            return connected, pong

    connected, pong = asyncio.run(main())
    assert connected["type"] == "connected" and connected["id"] == 1 and connected["v"] == 1
    assert connected["server"] == "realtimecore" and connected["session"]
    assert connected["max_message_bytes"] == 1 << 20 and connected["ping_interval_ms"] == 500
    assert pong == {"type": "pong", "id": 2, "data": {"text": "héllo", "list": [1, 2.5, None]}}


def test_connect_then_ping_in_binary(protocol_server):
    async def main():
        async with websockets.connect(protocol_server.url) as ws:
            await ws.send(encode_binary("connect", id=7, v=1))
            connected = decode_binary(await asyncio.wait_for(ws.recv(), 5))
            await ws.send(encode_binary("ping", id=8, data=bytes(range(256))))
            pong = decode_binary(await asyncio.wait_for(ws.recv(), 5))
            return connected, pong

    connected, pong = asyncio.run(main())
    assert connected["type"] == "connected" and connected["id"] == 7 and connected["v"] == 1
    assert pong == {"type": "pong", "id": 8, "data": bytes(range(256))}


def test_bad_messages_get_errors_and_the_session_goes_on(protocol_server):
    async def main():
        async with websockets.connect(protocol_server.url) as ws:
            replies = []
            for text in ['{"type":"ping","id":3,"data":[1,}', '{"id":4,"type":"teleport"}', '[1]',
                         '{"type":"ping","id":-1}', '{"type":"pong","id":5}']:
                await ws.send(text)
                replies.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
            connected = await exchange(ws, {"type": "connect"})
            again = await exchange(ws, {"type": "connect", "id": 9})
            return replies, connected, again

    replies, connected, again = asyncio.run(main())
    assert [r["type"] for r in replies] == ["error"] * 5
    assert [r.get("id") for r in replies] == [3, 4, None, None, 5]
    assert [r["code"] for r in replies] == ["bad_request", "unknown_type", "bad_request", "bad_request", "unknown_type"]
    assert all(r["message"] for r in replies)
    assert connected["type"] == "connected"
    assert again == {"type": "error", "id": 9, "code": "already_connected", "message": again["message"]}


def test_an_unsupported_version_is_refused_with_4002(protocol_server):
    async def main():
        async with websockets.connect(protocol_server.url) as ws:
            await ws.send(json.dumps({"type": "connect", "id": 1, "v": 99}))
            error = json.loads(await asyncio.wait_for(ws.recv(), 5))
            goodbye = json.loads(await asyncio.wait_for(ws.recv(), 5))
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
            return error, goodbye, ws.close_code

    error, goodbye, code = asyncio.run(main())
    assert error["code"] == "unsupported_version" and error["id"] == 1
    assert goodbye["type"] == "disconnect" and goodbye["code"] == 4002 and goodbye["reconnect"] is False
    assert code == 4002


def test_no_connect_within_the_timeout_is_disconnected_with_4004(protocol_server):
    async def main():
        async with websockets.connect(protocol_server.url) as ws:
            goodbye = json.loads(await asyncio.wait_for(ws.recv(), 10))
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10)
            return goodbye, ws.close_code

    goodbye, code = asyncio.run(main())
    assert goodbye["type"] == "disconnect" and goodbye["code"] == 4004 and goodbye["reconnect"] is True
    assert code == 4004


def test_a_connected_session_stays_past_the_connect_timeout(protocol_server):
    async def main():
        async with websockets.connect(protocol_server.url) as ws:
            await exchange(ws, {"type": "connect"})
            # Wait for what would be the connect timeout (1 s) with nothing else to wait on: the
            # server's keepalive pings (every 0.5 s, answered by websockets) keep it alive meanwhile.
            await asyncio.sleep(1.5)
            return await exchange(ws, {"type": "ping", "id": 1})

    assert asyncio.run(main()) == {"type": "pong", "id": 1}


def test_shutdown_tells_connected_clients_to_reconnect(tmp_path):
    with running_server(tmp_path) as server:
        async def main():
            async with websockets.connect(server.url) as ws:
                await exchange(ws, {"type": "connect"})
                server.proc.send_signal(signal.SIGTERM)
                goodbye = json.loads(await asyncio.wait_for(ws.recv(), 10))
                with pytest.raises(websockets.ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), 10)
                return goodbye, ws.close_code

        goodbye, code = asyncio.run(main())
    assert goodbye == {"type": "disconnect", "code": 1001, "reason": "server shutting down", "reconnect": True}
    assert code == 1001
