"""Channels (docs/protocol.md, "Channels"): subscribe, publish, ack, message, recovery, history,
idempotency and persistence, driven by real `websockets` clients against real realtime-server
processes, in JSON and in the binary encoding (decoded here independently of the server's code).
Every wait is for a specific reply, bounded by a timeout; "nothing else arrived" is proven with a
ping, whose pong the server writes after anything it had already queued for the session."""
import asyncio
import base64
import collections
import json
import os
import random
import signal
import sqlite3
import time
import uuid

import pytest
import websockets

from conftest import running_server, server_binary, start_server, stop_server
from wire import ERROR_CODES, decode_binary, encode_binary

TIMEOUT = 10

# --- Binary encoding, from the docs' tables -------------------------------------------------------

# --- Clients --------------------------------------------------------------------------------------


class Client:
    """One protocol session. `send` writes in the client's encoding (JSON objects as text, binary as
    the binary encoding); `recv` returns the next message decoded, keeping the raw frame."""

    def __init__(self, ws, binary=False):
        self.ws = ws
        self.binary = binary
        self.raw = None
        self._ids = 1000

    def next_id(self):
        self._ids += 1
        return self._ids

    async def send(self, type_name, **fields):
        if self.binary:
            await self.ws.send(encode_binary(type_name, **fields))
        else:
            await self.ws.send(json.dumps({"type": type_name, **fields}))

    async def send_raw(self, text_or_bytes):
        await self.ws.send(text_or_bytes)

    async def recv(self, timeout=TIMEOUT):
        frame = await asyncio.wait_for(self.ws.recv(), timeout)
        self.raw = frame
        if self.binary:
            assert isinstance(frame, bytes), f"a binary session got a text frame: {frame!r}"
            return decode_binary(frame)
        assert isinstance(frame, str), f"a JSON session got a binary frame: {frame!r}"
        return json.loads(frame)

    async def request(self, type_name, **fields):
        """Sends and returns the next message (for a session with nothing else incoming)."""
        await self.send(type_name, **fields)
        return await self.recv()

    async def connect(self):
        reply = await self.request("connect", id=1, v=1)
        assert reply["type"] == "connected", reply
        return reply

    async def subscribe(self, channel, **fields):
        request_id = self.next_id()
        reply = await self.request("subscribe", id=request_id, channel=channel, **fields)
        assert reply["type"] == "subscribed" and reply["id"] == request_id and reply["channel"] == channel, reply
        return reply

    async def publish(self, channel, data=None, **fields):
        """Publishes and waits for the ack (the session must not be subscribed to anything busy)."""
        request_id = self.next_id()
        if data is not None:
            fields["data"] = data
        reply = await self.request("publish", id=request_id, channel=channel, **fields)
        assert reply["type"] == "ack" and reply["id"] == request_id and reply["channel"] == channel, reply
        return reply

    async def history(self, channel, **fields):
        """The `message`s of a history answer and its closing `ack`."""
        request_id = self.next_id()
        await self.send("history", id=request_id, channel=channel, **fields)
        messages = []
        while True:
            reply = await self.recv()
            assert reply.get("id") == request_id, reply
            if reply["type"] == "ack":
                assert reply["channel"] == channel, reply
                return messages, reply
            assert reply["type"] == "message" and reply["channel"] == channel, reply
            messages.append(reply)

    async def expect_nothing_queued(self):
        """Proves nothing else was queued for this session: the next message is the pong."""
        ping_id = self.next_id()
        reply = await self.request("ping", id=ping_id)
        assert reply == {"type": "pong", "id": ping_id}, f"expected only the pong, got {reply}"

    async def expect_error(self, type_name, code, **fields):
        request_id = self.next_id()
        reply = await self.request(type_name, id=request_id, **fields)
        assert reply["type"] == "error" and reply["id"] == request_id and reply["code"] == code, \
            f"{type_name} {fields}: expected error {code}, got {reply}"
        assert reply["message"]
        return reply


class Session:
    """`async with Session(url) as client`: a connected client."""

    def __init__(self, url, binary=False, connect=True, **options):
        self.url = url
        self.binary = binary
        self.do_connect = connect
        self.options = options

    async def __aenter__(self):
        self.ws = await websockets.connect(self.url, **self.options)
        client = Client(self.ws, self.binary)
        if self.do_connect:
            await client.connect()
        return client

    async def __aexit__(self, *exc):
        await self.ws.close()


def fresh(prefix="ch"):
    """A channel name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def run(coroutine, timeout=60):
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("channels")) as server:
        yield server


# --- 1. subscribe, publish, ack, message ----------------------------------------------------------

VALUES = [
    {"text": "hi", "n": 1},
    "a string",
    42,
    -3,
    1.5e-7,
    12345678901234567890,
    [1, [2, [3, [4, []]]], {"deep": [None, True, False]}],
    {"unicode": "héllo wörld — 日本語 🎉", "escaped": "\u00e9\n\t\"\\"},
    [],
    {},
    "",
    0,
]


def test_a_subscriber_receives_every_published_message_in_offset_order(server):
    channel = fresh("lobby")

    async def main():
        async with Session(server.url) as subscriber, Session(server.url) as publisher:
            subscribed = await subscriber.subscribe(channel)
            acks = []
            before = int(time.time() * 1000)
            for value in VALUES:
                acks.append(await publisher.publish(channel, value))
            after = int(time.time() * 1000)
            messages = [await subscriber.recv() for _ in VALUES]
            await subscriber.expect_nothing_queued()
            return subscribed, acks, messages, before, after

    subscribed, acks, messages, before, after = run(main())
    epoch = subscribed["epoch"]
    assert isinstance(epoch, str) and epoch, subscribed
    assert subscribed["offset"] == 0, "a new channel's newest offset is 0"
    assert "recovered" not in subscribed, "recovered is only sent when epoch/offset were"
    assert [a["offset"] for a in acks] == list(range(1, len(VALUES) + 1))
    assert all(a["epoch"] == epoch for a in acks), acks
    for index, (message, value) in enumerate(zip(messages, VALUES), start=1):
        assert message["type"] == "message" and message["channel"] == channel, message
        assert "id" not in message, f"a live message carries no id: {message}"
        assert message["offset"] == index and "epoch" not in message, message
        assert message["data"] == value, (message, value)
        assert before - 1000 <= message["time"] <= after + 1000, (message["time"], before, after)
    assert [m["time"] for m in messages] == sorted(m["time"] for m in messages)


def test_json_data_is_passed_on_byte_for_byte(server):
    """docs: `data` is checked and passed on byte for byte, never rebuilt; the server writes `data` last."""
    channel = fresh()
    raw_data = '{ "b" : [1 , 2.50,-0.0e+1] ,"a":"\\u00e9\\ud83c\\udf89" }'

    async def main():
        async with Session(server.url) as subscriber, Session(server.url) as publisher:
            await subscriber.subscribe(channel)
            await publisher.send_raw('{"type":"publish","id":5,"channel":"%s","data":%s}' % (channel, raw_data))
            ack = await publisher.recv()
            message = await subscriber.recv()
            return ack, message, subscriber.raw

    ack, message, raw = run(main())
    assert ack["type"] == "ack" and ack["offset"] == 1, ack
    assert raw.startswith('{"type":"message"'), raw
    assert raw.endswith('"data":' + raw_data + "}"), raw


def test_pipelined_publishers_interleave_gaplessly(server):
    channel = fresh()
    count = 60

    async def publish_all(client, tag):
        for i in range(count):
            await client.send("publish", id=i + 1, channel=channel, data={"from": tag, "i": i})
        return [await client.recv() for _ in range(count)]

    async def main():
        async with Session(server.url) as subscriber, Session(server.url) as a, Session(server.url) as b:
            subscribed = await subscriber.subscribe(channel)
            acks_a, acks_b = await asyncio.gather(publish_all(a, "a"), publish_all(b, "b"))
            messages = [await subscriber.recv() for _ in range(2 * count)]
            await subscriber.expect_nothing_queued()
            return subscribed, acks_a, acks_b, messages

    subscribed, acks_a, acks_b, messages = run(main())
    assert [m["offset"] for m in messages] == list(range(1, 2 * count + 1))
    for tag, acks in (("a", acks_a), ("b", acks_b)):
        assert all(ack["type"] == "ack" for ack in acks), acks
        assert sorted(ack["id"] for ack in acks) == list(range(1, count + 1))
        offset_of = {ack["id"] - 1: ack["offset"] for ack in acks}
        mine = [m for m in messages if m["data"]["from"] == tag]
        assert [m["data"]["i"] for m in mine] == list(range(count)), "one publisher's messages keep its order"
        for m in mine:
            assert offset_of[m["data"]["i"]] == m["offset"], "the ack's offset is the delivered message's"
    assert all("epoch" not in m for m in messages), "the epoch comes with subscribed, not with every message"


# --- 2. Data across encodings ---------------------------------------------------------------------


def test_binary_data_reaches_a_json_subscriber_as_data_b64(server):
    channel = fresh()
    payloads = [bytes(range(256)), b"\xff\xfe not utf-8 \x00", b"x"]

    async def main():
        async with Session(server.url) as subscriber, Session(server.url, binary=True) as publisher:
            subscribed = await subscriber.subscribe(channel)
            acks = []
            for data in payloads:
                request_id = publisher.next_id()
                acks.append(await publisher.request("publish", id=request_id, channel=channel, data=data))
                assert acks[-1]["id"] == request_id
            messages = [await subscriber.recv() for _ in payloads]
            await subscriber.expect_nothing_queued()
            return subscribed, acks, messages

    subscribed, acks, messages = run(main())
    for i, (ack, message, data) in enumerate(zip(acks, messages, payloads), start=1):
        assert ack == {"type": "ack", "id": ack["id"], "channel": channel, "offset": i, "epoch": subscribed["epoch"]}
        assert "data" not in message, message
        assert base64.b64decode(message["data_b64"], validate=True) == data
        assert message["data_b64"] == base64.b64encode(data).decode(), "standard padded base64"
        assert message["offset"] == i


def test_json_data_reaches_a_binary_subscriber_with_the_json_flag(server):
    channel = fresh()
    raw_data = '{"k":[1,2,{"é":"🎉"}]}'

    async def main():
        async with Session(server.url, binary=True) as subscriber, Session(server.url) as publisher:
            subscribed = await subscriber.request("subscribe", id=3, channel=channel)
            await publisher.send_raw('{"type":"publish","id":1,"channel":"%s","data":%s}' % (channel, raw_data))
            ack = await publisher.recv()
            message = await subscriber.recv()
            await subscriber.expect_nothing_queued()
            return subscribed, ack, message

    subscribed, ack, message = run(main())
    assert subscribed["type"] == "subscribed" and subscribed["id"] == 3 and subscribed["offset"] == 0, subscribed
    assert ack["type"] == "ack" and ack["offset"] == 1 and ack["epoch"] == subscribed["epoch"], ack
    assert message["type"] == "message" and message["channel"] == channel and message["offset"] == 1, message
    assert "epoch" not in message and message["time"] > 0, message
    assert message.get("json") is True, f"field 24 (json) must be 1: {message}"
    assert message["data"] == raw_data.encode(), message


def test_a_json_client_may_publish_bytes_with_data_b64(server):
    channel = fresh()
    data = b"\x00\x01\x02binary\xff"

    async def main():
        async with Session(server.url) as json_sub, Session(server.url, binary=True) as binary_sub, \
                Session(server.url) as publisher:
            await json_sub.subscribe(channel)
            assert (await binary_sub.request("subscribe", id=2, channel=channel))["type"] == "subscribed"
            ack = await publisher.publish(channel, data_b64=base64.b64encode(data).decode())
            return ack, await json_sub.recv(), await binary_sub.recv(), await publisher.history(channel)

    ack, json_message, binary_message, (history, end) = run(main())
    assert ack["offset"] == 1
    assert json_message["data_b64"] == base64.b64encode(data).decode() and "data" not in json_message
    assert binary_message["data"] == data and "json" not in binary_message, binary_message
    assert [m["data_b64"] for m in history] == [base64.b64encode(data).decode()] and end["offset"] == 1


def test_binary_json_flagged_data_reaches_a_json_subscriber_as_data(server):
    channel = fresh()

    async def main():
        async with Session(server.url) as subscriber, Session(server.url, binary=True) as publisher:
            await subscriber.subscribe(channel)
            ack = await publisher.request("publish", id=9, channel=channel, data=b'{"x":[1,"y"]}', json=1)
            return ack, await subscriber.recv()

    ack, message = run(main())
    assert ack["type"] == "ack" and ack["offset"] == 1, ack
    assert message["data"] == {"x": [1, "y"]} and "data_b64" not in message, message


# --- 3. Idempotency -------------------------------------------------------------------------------


def test_an_idempotency_key_stores_and_delivers_once(server):
    channel, other = fresh(), fresh()

    async def main():
        async with Session(server.url) as subscriber, Session(server.url) as publisher:
            await subscriber.subscribe(channel)
            first = await publisher.publish(channel, {"n": 1}, idempotency_key="key-1")
            again = await publisher.publish(channel, {"n": "changed"}, idempotency_key="key-1")
            message = await subscriber.recv()
            await subscriber.expect_nothing_queued()
            # Pipelined: the second arrives while the first may still be committing.
            await publisher.send("publish", id=1, channel=channel, data={"n": 2}, idempotency_key="key-2")
            await publisher.send("publish", id=2, channel=channel, data={"n": 2}, idempotency_key="key-2")
            pipelined = [await publisher.recv(), await publisher.recv()]
            second = await subscriber.recv()
            await subscriber.expect_nothing_queued()
            elsewhere = await publisher.publish(other, {"n": 1}, idempotency_key="key-1")
            without_key = await publisher.publish(channel, {"n": 1})
            return first, again, message, pipelined, second, elsewhere, without_key, \
                await publisher.history(channel)

    first, again, message, pipelined, second, elsewhere, without_key, (history, end) = run(main())
    assert first["offset"] == 1 and again["offset"] == 1 and again["epoch"] == first["epoch"], (first, again)
    assert message["offset"] == 1 and message["data"] == {"n": 1}
    assert sorted(p["id"] for p in pipelined) == [1, 2] and [p["offset"] for p in pipelined] == [2, 2], pipelined
    assert second["offset"] == 2
    assert elsewhere["offset"] == 1, "keys are per channel"
    assert without_key["offset"] == 3
    assert [(m["offset"], m["data"]) for m in history] == [(1, {"n": 1}), (2, {"n": 2}), (3, {"n": 1})]
    assert end["offset"] == 3


def test_an_idempotency_key_over_128_bytes_is_refused(server):
    channel = fresh()

    async def main():
        async with Session(server.url) as client:
            error = await client.expect_error("publish", "too_large", channel=channel, data=1,
                                              idempotency_key="k" * 129)
            ok = await client.publish(channel, 2, idempotency_key="k" * 128)
            return error, ok, await client.history(channel)

    error, ok, (history, end) = run(main())
    assert ok["offset"] == 1
    assert [m["data"] for m in history] == [2] and end["offset"] == 1


# --- 4. Recovery ----------------------------------------------------------------------------------


def test_recovery_replays_exactly_the_missed_messages_before_live_ones(server):
    channel = fresh()

    async def main():
        async with Session(server.url) as publisher:
            async with Session(server.url) as subscriber:
                subscribed = await subscriber.subscribe(channel)
                for i in range(1, 4):
                    await publisher.publish(channel, {"i": i})
                seen = [await subscriber.recv() for _ in range(3)]
            for i in range(4, 8):
                await publisher.publish(channel, {"i": i})
            async with Session(server.url) as subscriber:
                resumed = await subscriber.subscribe(channel, epoch=subscribed["epoch"], offset=seen[-1]["offset"])
                live_ack = await publisher.publish(channel, {"i": 8})
                rest = [await subscriber.recv() for _ in range(5)]
                await subscriber.expect_nothing_queued()
            async with Session(server.url) as subscriber:
                current = await subscriber.subscribe(channel, epoch=subscribed["epoch"], offset=8)
                await publisher.publish(channel, {"i": 9})
                after_current = await subscriber.recv()
                await subscriber.expect_nothing_queued()
            return subscribed, seen, resumed, live_ack, rest, current, after_current

    subscribed, seen, resumed, live_ack, rest, current, after_current = run(main())
    assert [m["offset"] for m in seen] == [1, 2, 3]
    assert resumed["recovered"] is True and resumed["epoch"] == subscribed["epoch"], resumed
    assert resumed["offset"] == 7, "subscribed carries the channel's newest offset"
    assert live_ack["offset"] == 8
    assert [m["offset"] for m in rest] == [4, 5, 6, 7, 8], "the missed ones, then the live one"
    assert [m["data"]["i"] for m in rest] == [4, 5, 6, 7, 8]
    assert all("id" not in m for m in rest), rest
    assert current["recovered"] is True and current["offset"] == 8, current
    assert after_current["offset"] == 9 and after_current["data"] == {"i": 9}


def test_recovery_while_publishing_has_no_gap_and_no_duplicate(server):
    channel = fresh()
    burst = 300

    async def main():
        async with Session(server.url) as publisher, Session(server.url) as subscriber:
            subscribed = await subscriber.subscribe(channel)
            for i in range(1, 6):
                await publisher.publish(channel, i)
            got = [await subscriber.recv() for _ in range(5)]
            assert (await subscriber.request("unsubscribe", id=7, channel=channel))["type"] == "unsubscribed"
            # A burst of publishes, and the resubscription sent in the middle of it.
            for i in range(burst):
                await publisher.send("publish", id=i + 1, channel=channel, data=5 + i + 1)
                if i == burst // 3:
                    await subscriber.send("subscribe", id=8, channel=channel, epoch=subscribed["epoch"], offset=5)
            acks = [await publisher.recv() for _ in range(burst)]
            resumed = await subscriber.recv()
            top = max(a["offset"] for a in acks)
            rest = []
            while not rest or rest[-1]["offset"] < top:
                rest.append(await subscriber.recv())
            await subscriber.expect_nothing_queued()
            return got, resumed, top, rest

    got, resumed, top, rest = run(main())
    assert [m["offset"] for m in got] == [1, 2, 3, 4, 5]
    assert top == 5 + burst
    assert resumed["type"] == "subscribed" and resumed["recovered"] is True, resumed
    assert 5 <= resumed["offset"] <= top
    assert [m["offset"] for m in rest] == list(range(6, top + 1))
    assert [m["data"] for m in rest] == list(range(6, top + 1))


def test_recovery_with_a_wrong_epoch_replays_nothing(server):
    channel = fresh()

    async def main():
        async with Session(server.url) as publisher, Session(server.url) as subscriber:
            for i in range(1, 4):
                await publisher.publish(channel, i)
            wrong = await subscriber.subscribe(channel, epoch="0123456789abcdef", offset=1)
            live = await publisher.publish(channel, 4)
            first = await subscriber.recv()
            await subscriber.expect_nothing_queued()
            return wrong, live, first

    wrong, live, first = run(main())
    assert wrong["recovered"] is False and wrong["epoch"] != "0123456789abcdef", wrong
    assert wrong["offset"] == 3
    assert first["offset"] == live["offset"] == 4, "nothing replayed: the first message is the live one"


def test_recovery_beyond_the_kept_history_is_not_recovered(server):
    """The default namespace keeps 1,000 messages: a client that missed more gets recovered: false."""
    channel = fresh()
    total = 1200

    async def main():
        async with Session(server.url) as publisher, Session(server.url) as subscriber:
            first = await publisher.publish(channel, 0)
            for i in range(1, total):
                await publisher.send("publish", id=i, channel=channel, data=i)
            acks = [await publisher.recv() for _ in range(total - 1)]
            resumed = await subscriber.subscribe(channel, epoch=first["epoch"], offset=1)
            live = await publisher.publish(channel, "live")
            next_message = await subscriber.recv()
            await subscriber.expect_nothing_queued()
            return acks, resumed, live, next_message

    acks, resumed, live, next_message = run(main())
    assert max(a["offset"] for a in acks) == total
    assert resumed["recovered"] is False and resumed["offset"] == total, resumed
    assert next_message["offset"] == live["offset"] == total + 1 and next_message["data"] == "live"


# --- 5. History -----------------------------------------------------------------------------------


def test_history_before_after_and_limit(server):
    channel = fresh()

    async def main():
        async with Session(server.url) as client:
            empty = await client.history(channel)
            acks = [await client.publish(channel, {"i": i}) for i in range(1, 11)]
            answers = {}
            for name, fields in {
                "all": {}, "limit3": {"limit": 3}, "after4": {"after": 4}, "after4limit3": {"after": 4, "limit": 3},
                "before5": {"before": 5}, "before5limit3": {"before": 5, "limit": 3},
                "after2before6": {"after": 2, "before": 6}, "after10": {"after": 10}, "before1": {"before": 1},
                "limit1": {"limit": 1}, "limit1000": {"limit": 1000}, "after0": {"after": 0, "limit": 2},
            }.items():
                answers[name] = await client.history(channel, **fields)
            return empty, acks, answers

    empty, acks, answers = run(main())
    epoch = acks[0]["epoch"]
    assert empty[0] == [] and empty[1]["offset"] == 0, empty
    offsets = {name: [m["offset"] for m in messages] for name, (messages, _) in answers.items()}
    assert offsets == {
        "all": list(range(1, 11)),
        "limit3": [8, 9, 10],
        "after4": [5, 6, 7, 8, 9, 10],
        "after4limit3": [5, 6, 7],
        "before5": [1, 2, 3, 4],
        "before5limit3": [2, 3, 4],
        "after2before6": [3, 4, 5],
        "after10": [],
        "before1": [],
        "limit1": [10],
        "limit1000": list(range(1, 11)),
        "after0": [1, 2],
    }
    for name, (messages, end) in answers.items():
        assert end["type"] == "ack" and end["offset"] == 10 and end["epoch"] == epoch, (name, end)
        for m in messages:
            assert m["data"] == {"i": m["offset"]} and "epoch" not in m and m["time"] > 0, (name, m)


def test_history_rejects_absurd_limits_and_stores_nothing(server):
    channel = fresh()

    async def main():
        async with Session(server.url) as client:
            await client.publish(channel, "only")
            errors = [await client.expect_error("history", "bad_request", channel=channel, limit=limit)
                      for limit in (0, 1001, 1_000_000, 2 ** 63, 2 ** 64 - 1)]
            # Beyond 64 bits the reader refuses the number itself.
            await client.send_raw('{"type":"history","id":77,"channel":"%s","limit":18446744073709551616}' % channel)
            overflow = await client.recv()
            return errors, overflow, await client.history(channel)

    errors, overflow, (history, end) = run(main())
    assert overflow["type"] == "error" and overflow["code"] == "bad_request" and overflow["id"] == 77, overflow
    assert [m["data"] for m in history] == ["only"] and end["offset"] == 1


def test_history_of_an_unknown_namespace_is_not_found(server):
    async def main():
        async with Session(server.url) as client:
            return await client.expect_error("history", "not_found", channel="nope:x")

    run(main())


# --- 6. Bad input ---------------------------------------------------------------------------------


def test_bad_channel_names_are_refused(server):
    base = fresh("n")
    long_name = (base + "-" + "x" * 300)[:256]

    async def main():
        async with Session(server.url) as client:
            refused = []
            for name, code in ((base + " x", "bad_request"), (base + "é", "bad_request"),
                               (base + "\u0000", "bad_request"), (base + "#", "bad_request"),
                               (long_name, "too_large"), ("", "bad_request")):
                for type_name, fields in (("publish", {"data": 1}), ("subscribe", {}), ("history", {})):
                    refused.append(await client.expect_error(type_name, code, channel=name, **fields))
            # Nothing stored under the names' valid prefixes (a truncating server would store there).
            prefixes = {name: await client.history(name) for name in (base, long_name[:255])}
            longest = await client.publish(long_name[:255], "fits")
            allowed = await client.publish(base + "_-.@/=+~!AZaz09", "symbols")
            await client.expect_nothing_queued()
            return refused, prefixes, longest, allowed

    refused, prefixes, longest, allowed = run(main())
    for name, (messages, end) in prefixes.items():
        assert messages == [] and end["offset"] == 0, (name, messages, end)
    assert longest["offset"] == 1, "255 bytes is allowed"
    assert allowed["offset"] == 1


def test_the_namespace_is_the_part_before_the_first_colon(server):
    """The example server configures only the default namespace "": `nope:x` and `chat:room-1` are
    `not_found` and nothing is stored for them; `:x` and `:a:b` are in the default namespace."""
    suffix = uuid.uuid4().hex[:8]

    async def main():
        async with Session(server.url) as client:
            for name in ("nope:x", "chat:room-1", f"nope:{suffix}", "nope:"):
                await client.expect_error("publish", "not_found", channel=name, data=1)
                await client.expect_error("subscribe", "not_found", channel=name)
                await client.expect_error("history", "not_found", channel=name)
            defaults = [await client.publish(name, name) for name in (f":x{suffix}", f":a{suffix}:b")]
            await client.expect_nothing_queued()
            return defaults

    defaults = run(main())
    assert [a["offset"] for a in defaults] == [1, 1], defaults


def test_publish_without_valid_data_is_refused_and_nothing_is_stored(server):
    channel = fresh()

    async def main():
        async with Session(server.url) as subscriber, Session(server.url) as client:
            await subscriber.subscribe(channel)
            await client.expect_error("publish", "bad_request", channel=channel)
            await client.expect_error("publish", "bad_request", channel=channel, data=None)
            replies = []
            for text in ('{"type":"publish","id":1,"channel":"%s","data":1,"data_b64":"AA=="}',
                         '{"type":"publish","id":2,"channel":"%s","data_b64":"not base64!"}',
                         '{"type":"publish","id":3,"channel":"%s","data_b64":"AA"}',
                         '{"type":"publish","id":4,"channel":"%s","data":[1,}',
                         '{"type":"publish","id":5,"channel":"%s","data":01}',
                         '{"type":"publish","id":6,"channel":"%s","data":"\x01"}',
                         '{"type":"publish","id":7,"channel":"%s","data":' + "[" * 70 + "]" * 70 + "}",
                         '{"type":"publish","id":8,"data":1}',
                         '{"type":"publish","id":9,"channel":5,"data":1}'):
                await client.send_raw(text % channel if "%s" in text else text)
                replies.append(await client.recv())
            binary = Client(client.ws, binary=True)
            await binary.send("publish", id=10, channel=channel)
            replies.append(await binary.recv())
            await binary.send("publish", id=11, channel=channel, data=b"{not json", json=1)
            replies.append(await binary.recv())
            await subscriber.expect_nothing_queued()
            return replies, await client.history(channel)

    replies, (history, end) = run(main())
    codes = [(r["type"], r.get("id"), r.get("code")) for r in replies]
    assert codes[:6] == [("error", i, "bad_request") for i in range(1, 7)], codes
    assert codes[6] == ("error", 7, "too_large"), "data nested deeper than 64 is too_large"
    assert codes[7:9] == [("error", 8, "bad_request"), ("error", 9, "bad_request")], codes
    assert codes[9] == ("error", 10, 1) and codes[10] == ("error", 11, 1), codes
    assert history == [] and end["offset"] == 0, "nothing stored"


def test_data_over_the_message_limit_closes_with_1009_and_stores_nothing(tmp_path):
    """The WebSocket message limit is 1 MiB by default. Its own server: reading a 1 MiB message back
    needs a write queue above the fixture's 256 KiB."""
    channel = fresh()
    head = '{"type":"publish","id":1,"channel":"%s","data":"' % channel
    exactly = head + "x" * ((1 << 20) - len(head) - 2) + '"}'
    assert len(exactly) == 1 << 20

    async def over(url, message):
        async with Session(url, max_size=None) as client:
            replies = []
            with pytest.raises(websockets.ConnectionClosed):
                await client.send_raw(message)
                while True:
                    replies.append(await client.recv())
            return client.ws.close_code, replies

    async def main(url):
        text = await over(url, head + "x" * (1 << 20) + '"}')
        one_more = await over(url, exactly[:-2] + 'x"}')
        binary = await over(url, encode_binary("publish", id=1, channel=channel, data=b"\0" * (1 << 20)))
        async with Session(url, max_size=None) as client:
            after_refusals = await client.history(channel)
            await client.send_raw(exactly)
            fits = await client.recv()
            stored = await client.history(channel)
        return text, one_more, binary, after_refusals, fits, stored

    with running_server(tmp_path, "--max-write-queue-bytes", str(4 << 20)) as server:
        text, one_more, binary, after_refusals, fits, stored = run(main(server.url))
    for name, (code, replies) in (("text", text), ("one byte over", one_more), ("binary", binary)):
        assert code == 1009, (name, code, replies)
        assert all(r["type"] == "disconnect" for r in replies), (name, replies)
    assert after_refusals[0] == [] and after_refusals[1]["offset"] == 0, "nothing stored"
    assert fits["type"] == "ack" and fits["offset"] == 1, "a message of exactly 1 MiB is allowed"
    assert [len(m["data"]) for m in stored[0]] == [(1 << 20) - len(head) - 2]


def test_subscribing_twice_is_bad_request_and_delivery_stays_exactly_once(server):
    channel = fresh()

    async def main():
        async with Session(server.url) as subscriber, Session(server.url) as publisher:
            first = await subscriber.subscribe(channel)
            await subscriber.expect_error("subscribe", "bad_request", channel=channel)
            await subscriber.expect_error("subscribe", "bad_request", channel=channel, epoch=first["epoch"], offset=0)
            ack = await publisher.publish(channel, "once")
            message = await subscriber.recv()
            await subscriber.expect_nothing_queued()
            return ack, message

    ack, message = run(main())
    assert message["offset"] == ack["offset"] == 1 and message["data"] == "once"


def test_unsubscribe_answers_unsubscribed_and_stops_delivery(server):
    channel = fresh()

    async def main():
        async with Session(server.url) as subscriber, Session(server.url) as publisher:
            await subscriber.subscribe(channel)
            await publisher.publish(channel, 1)
            delivered = await subscriber.recv()
            gone = await subscriber.request("unsubscribe", id=42, channel=channel)
            await publisher.publish(channel, 2)
            await subscriber.expect_nothing_queued()
            again = await subscriber.subscribe(channel)
            await publisher.publish(channel, 3)
            redelivered = await subscriber.recv()
            await subscriber.expect_nothing_queued()
            return delivered, gone, again, redelivered

    delivered, gone, again, redelivered = run(main())
    assert delivered["offset"] == 1
    assert gone == {"type": "unsubscribed", "id": 42, "channel": channel}
    assert again["offset"] == 2
    assert redelivered["offset"] == 3 and redelivered["data"] == 3


def test_channel_requests_before_connect_are_not_connected(server):
    channel = fresh()

    async def main():
        async with Session(server.url, connect=False) as early, Session(server.url) as publisher:
            for type_name, fields in (("subscribe", {}), ("publish", {"data": 1}), ("history", {}),
                                      ("unsubscribe", {})):
                await early.expect_error(type_name, "not_connected", channel=channel, **fields)
            await early.connect()
            stored = await early.history(channel)
            ack = await publisher.publish(channel, "after")
            await early.expect_nothing_queued()  # the early subscribe did not subscribe
            return stored, ack

    (history, end), ack = run(main())
    assert history == [] and end["offset"] == 0, "nothing stored before connect"
    assert ack["offset"] == 1


def test_a_binary_session_gets_numeric_error_codes(server):
    async def main():
        async with Session(server.url, binary=True) as client:
            return [await client.request("publish", id=1, channel="nope:x", data=b"1"),
                    await client.request("history", id=2, channel="c", limit=0)]

    replies = run(main())
    assert [(r["type"], r["id"], ERROR_CODES.get(r["code"])) for r in replies] == [
        ("error", 1, "not_found"), ("error", 2, "bad_request")]


# --- 7. Persistence -------------------------------------------------------------------------------


def test_messages_survive_a_restart_with_the_same_epoch(tmp_path):
    db = tmp_path / "data" / "realtime.db"
    channel = fresh("persist")
    values = [{"i": i, "text": "é" * i} for i in range(25)] + ["end"]

    async def publish_all(url):
        async with Session(url) as client:
            return [await client.publish(channel, value) for value in values]

    with running_server(tmp_path, "--durability", "full", db=db) as server:
        acks = run(publish_all(server.url))
    epoch = acks[0]["epoch"]
    assert [a["offset"] for a in acks] == list(range(1, len(values) + 1))

    async def resume(url):
        async with Session(url) as client, Session(url) as publisher:
            resumed = await client.subscribe(channel, epoch=epoch, offset=0)
            replayed = [await client.recv() for _ in values]
            await client.expect_nothing_queued()
            ack = await publisher.publish(channel, "after restart")
            live = await client.recv()
            return resumed, replayed, ack, live, await publisher.history(channel, limit=1000)

    with running_server(tmp_path, "--durability", "full", db=db) as server:
        resumed, replayed, ack, live, (history, end) = run(resume(server.url))
    assert resumed["epoch"] == epoch, "a persistent channel keeps its epoch across restarts"
    assert resumed["recovered"] is True and resumed["offset"] == len(values), resumed
    assert [(m["offset"], m["data"]) for m in replayed] == list(zip(range(1, len(values) + 1), values))
    assert ack["offset"] == len(values) + 1 and ack["epoch"] == epoch
    assert live["offset"] == len(values) + 1
    assert [m["data"] for m in history] == values + ["after restart"] and end["epoch"] == epoch


def test_an_in_memory_server_restarts_with_a_new_epoch(tmp_path):
    channel = fresh()

    async def publish_one(url):
        async with Session(url) as client:
            return await client.publish(channel, 1)

    async def resume(url, epoch):
        async with Session(url) as client, Session(url) as publisher:
            resumed = await client.subscribe(channel, epoch=epoch, offset=1)
            ack = await publisher.publish(channel, 2)
            first = await client.recv()
            return resumed, ack, first

    with running_server(tmp_path) as server:
        old = run(publish_one(server.url))
    with running_server(tmp_path) as server:
        resumed, ack, first = run(resume(server.url, old["epoch"]))
    assert resumed["epoch"] != old["epoch"] and resumed["recovered"] is False and resumed["offset"] == 0
    assert ack["offset"] == 1 and first["offset"] == 1


# --- 8. Crash: SIGKILL mid-stream -----------------------------------------------------------------

CRASH_ROUNDS = 30
PER_CHANNEL = 800  # under the default namespace's 1,000 messages of history


def test_acknowledged_messages_survive_sigkill(tmp_path):
    """A publisher publishes sequentially (each waits for its ack) with unique idempotency keys; the
    server is SIGKILLed 50-500 ms into each round and restarted on the same file, and the publisher
    goes on, first re-sending the publish that was in flight (same key). Message n goes to channel
    n // 800, so it must end at offset n % 800 + 1 there, exactly once."""
    seed = int(os.environ.get("RT_CRASH_SEED", "20251122"))
    rng = random.Random(seed)
    note = f"(seed {seed})"
    db = tmp_path / "crash.db"
    binary = server_binary()
    acked = {}  # n -> (channel, offset)
    epochs = set()
    in_flight_at_kill = 0
    started = time.monotonic()

    def message(n):
        return f"crash-{n // PER_CHANNEL}", f"m{n}", {"n": n}

    async def publisher(url, first_sent):
        nonlocal in_flight_at_kill
        try:
            async with Session(url) as client:
                while True:
                    n = len(acked)
                    channel, key, data = message(n)
                    request_id = client.next_id()
                    await client.send("publish", id=request_id, channel=channel, data=data, idempotency_key=key)
                    first_sent.set()
                    try:
                        reply = await client.recv()
                    except websockets.ConnectionClosed:
                        in_flight_at_kill += 1
                        raise
                    assert reply["type"] == "ack" and reply["id"] == request_id, f"{reply} {note}"
                    acked[n] = (channel, reply["offset"])
                    epochs.add(reply["epoch"])
        except (websockets.ConnectionClosed, OSError):
            return

    async def one_round(url, proc, delay):
        first_sent = asyncio.Event()
        task = asyncio.create_task(publisher(url, first_sent))
        await asyncio.wait_for(first_sent.wait(), TIMEOUT)
        await asyncio.sleep(delay)  # the random moment of the crash
        proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(task, TIMEOUT)

    for round_number in range(CRASH_ROUNDS):
        server = start_server(tmp_path, "--durability", "full", db=db, binary=binary)
        delay = rng.uniform(0.05, 0.5)
        before = len(acked)
        try:
            run(one_round(server.url, server.proc, delay))
        finally:
            server.proc.kill()
            status = stop_server(server)
        assert status == -signal.SIGKILL, f"round {round_number}: exit status {status} {note}"
        assert len(acked) > before, f"round {round_number}: no publish was acknowledged in {delay:.3f} s {note}"

    # The final check, on a clean run that must stop cleanly.
    async def read_back(url):
        found = {}
        async with Session(url) as client:
            # One more publish: the message in flight at the last kill, re-sent with its key.
            n = len(acked)
            channel, key, data = message(n)
            ack = await client.publish(channel, data, idempotency_key=key)
            acked[n] = (channel, ack["offset"])
            epochs.add(ack["epoch"])
            for index in range(len(acked) // PER_CHANNEL + 1):
                channel = f"crash-{index}"
                after = 0
                while True:
                    messages, end = await client.history(channel, after=after, limit=1000)
                    found.setdefault(channel, []).extend(messages)
                    if not messages:
                        break
                    after = messages[-1]["offset"]
                found[channel + "/top"] = end["offset"]
        return found

    with running_server(tmp_path, "--durability", "full", db=db) as server:
        found = run(read_back(server.url))

    assert len(epochs) == 1, f"the epoch changed across restarts: {epochs} {note}"
    total = len(acked)
    assert sorted(acked) == list(range(total)), note
    for n, (channel, offset) in acked.items():
        assert (channel, offset) == (message(n)[0], n % PER_CHANNEL + 1), \
            f"message {n} acknowledged at {channel}/{offset} {note}"
    for index in range(total // PER_CHANNEL + 1):
        channel = f"crash-{index}"
        stored = found[channel]
        expected = [n for n in range(total) if message(n)[0] == channel]
        got = [m["data"]["n"] for m in stored]
        duplicated = sorted(n for n, count in collections.Counter(got).items() if count > 1)
        missing = sorted(set(expected) - set(got))
        assert not duplicated and not missing, f"{channel}: duplicated {duplicated}, missing {missing} {note}"
        assert [m["offset"] for m in stored] == list(range(1, len(stored) + 1)), f"{channel}: gaps {note}"
        assert got == expected, f"{channel}: out of order {note}"
        assert found[channel + "/top"] == len(expected), note
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)], note
    print(f"crash test: {total} messages over {CRASH_ROUNDS} kills, {in_flight_at_kill} in flight at a kill, "
          f"{time.monotonic() - started:.1f} s {note}")


# --- Batch frames -------------------------------------------------------------------------------


def test_a_batching_subscriber_gets_every_message_once_in_order(server):
    """A client that asks for batch frames may get a JSON array of messages in one frame; flattened,
    they are every message once, in offset order, and replies keep their place after them."""
    channel = fresh()
    count = 300

    async def main():
        async with websockets.connect(server.url, max_size=None) as sub, Session(server.url) as pub:
            await sub.send(json.dumps({"type": "connect", "batch": True}))
            connected = json.loads(await asyncio.wait_for(sub.recv(), 10))
            await sub.send(json.dumps({"type": "subscribe", "id": 1, "channel": channel}))
            subscribed = json.loads(await asyncio.wait_for(sub.recv(), 10))
            # Publishes without waiting for acks, so the server reads many in one turn.
            for i in range(1, count + 1):
                await pub.send("publish", id=i, channel=channel, data=i)
            got, frames, arrays = [], 0, 0
            while len(got) < count:
                frame = json.loads(await asyncio.wait_for(sub.recv(), 10))
                frames += 1
                if isinstance(frame, list):
                    arrays += 1
                    got.extend(frame)
                else:
                    got.append(frame)
            acks = [await pub.recv() for _ in range(count)]
            assert [a["offset"] for a in acks] == list(range(1, count + 1))
            # A reply to this client comes after every message batched before it.
            await sub.send(json.dumps({"type": "ping", "id": 99}))
            pong = json.loads(await asyncio.wait_for(sub.recv(), 10))
            return connected, subscribed, got, frames, arrays, pong

    connected, subscribed, got, frames, arrays, pong = run(main())
    assert connected["type"] == "connected" and connected["batch"] is True
    assert subscribed["type"] == "subscribed"
    assert all(m["type"] == "message" and m["channel"] == channel for m in got)
    assert [m["offset"] for m in got] == list(range(1, count + 1))
    assert [m["data"] for m in got] == list(range(1, count + 1))
    assert pong == {"type": "pong", "id": 99}
    assert frames <= count


def test_a_client_that_does_not_ask_for_batches_gets_one_message_per_frame(server):
    channel = fresh()

    async def main():
        async with Session(server.url) as sub, Session(server.url) as pub:
            await sub.subscribe(channel)
            for i in range(1, 51):
                await pub.send("publish", id=i, channel=channel, data=i)
            frames = [json.loads(await asyncio.wait_for(sub.ws.recv(), 10)) for _ in range(50)]
            for _ in range(50):
                await pub.recv()
            return frames

    frames = run(main())
    assert all(isinstance(frame, dict) and frame["type"] == "message" for frame in frames)
    assert [frame["offset"] for frame in frames] == list(range(1, 51))


# --- Slow consumers over a real socket ------------------------------------------------------------


def read_text_frames(sock, stop):
    """Reads server frames from a raw socket until `stop(messages, close_code)` says so or the
    server closes; returns the text messages (decoded JSON) and the close code (or None)."""
    import struct
    buf = bytearray()
    messages = []
    while True:
        while len(buf) >= 2:
            n = buf[1] & 0x7F
            offset = 2
            if n == 126:
                if len(buf) < 4:
                    break
                n, offset = struct.unpack(">H", buf[2:4])[0], 4
            elif n == 127:
                if len(buf) < 10:
                    break
                n, offset = struct.unpack(">Q", buf[2:10])[0], 10
            if len(buf) < offset + n:
                break
            opcode, payload = buf[0] & 0x0F, bytes(buf[offset:offset + n])
            del buf[:offset + n]
            if opcode == 0x8:
                return messages, struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
            if opcode == 0x1:
                messages.append(json.loads(payload))
                if stop(messages):
                    return messages, None
        chunk = sock.recv(1 << 16)
        if not chunk:
            return messages, None
        buf += chunk


def slow_subscriber(port, channel):
    """A raw-socket client with a small receive window that connects, subscribes and then stops
    reading."""
    import socket as sockets
    from test_websocket_server import frame, read_http_status, upgrade_request
    sock = sockets.socket(sockets.AF_INET, sockets.SOCK_STREAM)
    sock.setsockopt(sockets.SOL_SOCKET, sockets.SO_RCVBUF, 4096)
    sock.settimeout(30)
    sock.connect(("127.0.0.1", port))
    sock.sendall(upgrade_request())
    status, rest = read_http_status(sock)
    assert status == 101
    assert rest.endswith(b"\r\n\r\n"), "no frames before the subscription"
    sock.sendall(frame(0x1, json.dumps({"type": "connect"}).encode()))
    sock.sendall(frame(0x1, json.dumps({"type": "subscribe", "id": 1, "channel": channel}).encode()))
    replies, _ = read_text_frames(sock, lambda m: len(m) == 2)
    assert [r["type"] for r in replies] == ["connected", "subscribed"], replies
    return sock


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory):
    # The fixture's 1 s idle timeout would close the silent subscriber before the flood is over.
    with running_server(tmp_path_factory.mktemp("slow"), "--max-write-queue-bytes", str(4 << 20),
                        "--idle-timeout-ms", "60000",
                        "--namespace", "slow=memory,history=10",
                        "--namespace", "drop=memory,history=10,slow=drop-oldest",
                        "--namespace", "coal=memory,history=10,slow=coalesce") as server:
        yield server


def flood(url, channel, count, size, key=None):
    """Publishes `count` messages of about `size` bytes and waits for every ack; `key(i)` gives
    message i's coalescing key."""
    async def main():
        async with Session(url) as pub:
            padding = "x" * size
            for i in range(1, count + 1):
                extra = {"key": key(i)} if key else {}
                await pub.send("publish", id=i, channel=channel, data={"i": i, "p": padding}, **extra)
            for _ in range(count):
                reply = await pub.recv()
                assert reply["type"] == "ack", reply
    run(main(), timeout=120)


def assert_every_offset_accounted_for(messages, last):
    """Every offset 1..last is either delivered or inside a reported gap, in order, never both."""
    expected = 1
    for m in messages:
        if m["type"] == "gap":
            assert m["after"] == expected - 1 and m["before"] > m["after"] + 1, m
            expected = m["before"]
        else:
            assert m["type"] == "message" and m["offset"] == expected, (m.get("type"), m.get("offset"), expected)
            expected += 1
    assert expected == last + 1


def test_a_slow_consumer_is_disconnected_with_4005_after_what_it_was_sent(slow_server):
    channel = "slow:" + fresh()
    sock = slow_subscriber(slow_server.port, channel)
    flood(slow_server.url, channel, 3000, 4000)
    messages, code = read_text_frames(sock, lambda m: False)
    sock.close()
    assert code == 4005
    delivered = [m for m in messages if m["type"] == "message"]
    assert delivered, "some messages reached it before the disconnect"
    assert [m["offset"] for m in delivered] == list(range(1, len(delivered) + 1)), "no gap before the end"
    assert len(delivered) < 3000
    assert messages[-1]["type"] == "disconnect" and messages[-1]["code"] == 4005
    assert messages[-1]["reconnect"] is True


def test_a_slow_consumer_of_a_drop_oldest_channel_is_told_of_the_gap(slow_server):
    channel = "drop:" + fresh()
    sock = slow_subscriber(slow_server.port, channel)
    flood(slow_server.url, channel, 3000, 4000)
    messages, code = read_text_frames(sock, lambda m: m and m[-1].get("offset") == 3000)
    sock.close()
    assert code is None, "the session stays open"
    assert messages[-1]["type"] == "message" and messages[-1]["offset"] == 3000
    gaps = [m for m in messages if m["type"] == "gap"]
    assert gaps, "messages were dropped and the client was told"
    assert_every_offset_accounted_for(messages, 3000)


def test_a_slow_consumer_of_a_coalesce_channel_gets_the_newest_message_per_key(slow_server):
    channel = "coal:" + fresh()
    sock = slow_subscriber(slow_server.port, channel)
    flood(slow_server.url, channel, 3000, 4000, key=lambda i: "k%d" % (i % 10))
    messages, code = read_text_frames(sock, lambda m: m and m[-1].get("offset") == 3000)
    sock.close()
    assert code is None, "the session stays open"
    gaps = [m for m in messages if m["type"] == "gap"]
    assert gaps, "messages were superseded and the client was told"
    assert all(g["reason"] == "coalesced" for g in gaps), "ten keys fit the hold queue: nothing dropped for room"
    delivered = [m for m in messages if m["type"] == "message"]
    assert all(m["key"] == "k%d" % (m["offset"] % 10) for m in delivered), "each message carries its key"
    assert [m["offset"] for m in delivered][-10:] == list(range(2991, 3001)), "the newest of every key arrives"
    assert_every_offset_accounted_for(messages, 3000)
