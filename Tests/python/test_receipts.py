"""Receipts and unread counts (docs/protocol.md, "Receipts and unread counts"), driven by real
`websockets` clients against real realtime-server processes started with the development flag
`--trust-token-identity` (a client connecting with `?token=USER/DEVICE` is that user on that device).

Every wait is for a specific reply, bounded by a timeout; "nothing else arrived" is proven with a
ping, whose pong the server writes after anything it had already queued for the session."""
import asyncio
import json

import pytest
import websockets

from conftest import running_server
from test_channels import Client, Session, fresh, run
from wire import decode_binary as b_decode, encode_binary as b_encode

TRUST = "--trust-token-identity"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("receipts"), TRUST) as server:
        yield server


def as_user(server, token):
    """The server's endpoint with `token` (USER/DEVICE) in the query: the client is identified."""
    return f"{server.url}?token={token}"


async def publish_n(publisher, channel, count):
    acks = [await publisher.publish(channel, {"n": i}) for i in range(1, count + 1)]
    assert [a["offset"] for a in acks] == list(range(1, count + 1)), acks
    return acks


async def drain(client, channel, offsets):
    """Receives the live `message`s with these offsets, in order, and nothing else."""
    for offset in offsets:
        message = await client.recv()
        assert message["type"] == "message" and message["channel"] == channel and message["offset"] == offset, \
            f"expected message {offset} of {channel}, got {message}"


async def receipt(client, channel, offset, status, request_id=None):
    """Sends a receipt and returns the answer (the session must have nothing else incoming)."""
    request_id = request_id if request_id is not None else client.next_id()
    return await client.request("receipt", id=request_id, channel=channel, offset=offset, status=status)


def expect_ack(reply, request_id, channel, offset, status):
    assert reply["type"] == "ack" and reply.get("id") == request_id and reply.get("channel") == channel, reply
    assert reply.get("offset") == offset and reply.get("status") == status, \
        f"expected the cursor {status} {offset} in the ack, got {reply}"


def event(channel, offset, status, user, device):
    return {"type": "receipt", "channel": channel, "offset": offset, "status": status, "user": user,
            "device": device}


# --- 1. A receipt is acknowledged and told to the other members ------------------------------------


def test_a_read_receipt_is_acked_and_sent_to_the_other_members(server):
    channel = fresh("lobby")

    async def main():
        async with Session(as_user(server, "ada/phone")) as ada, Session(as_user(server, "bob/laptop")) as bob, \
                Session(server.url) as publisher:
            ada_subscribed = await ada.subscribe(channel)
            bob_subscribed = await bob.subscribe(channel)
            await publish_n(publisher, channel, 5)
            await drain(ada, channel, range(1, 6))
            await drain(bob, channel, range(1, 6))
            ack = await receipt(ada, channel, 3, "read", request_id=7)
            seen_by_bob = await bob.recv()
            await ada.expect_nothing_queued()  # ada does not get her own receipt back
            await bob.expect_nothing_queued()  # exactly one event
            await publisher.expect_nothing_queued()  # not subscribed: no event
            return ada_subscribed, bob_subscribed, ack, seen_by_bob

    ada_subscribed, bob_subscribed, ack, seen_by_bob = run(main())
    assert ada_subscribed["offset"] == 0 and ada_subscribed.get("unread") == 0, ada_subscribed
    assert bob_subscribed.get("unread") == 0, bob_subscribed
    expect_ack(ack, 7, channel, 3, "read")
    assert seen_by_bob == event(channel, 3, "read", "ada", "phone")


# --- 2. Cursors only move forward --------------------------------------------------------------------


def test_cursors_only_move_forward_and_read_implies_delivered(server):
    channel = fresh()

    async def main():
        async with Session(as_user(server, "ada/phone")) as ada, Session(as_user(server, "bob/laptop")) as bob, \
                Session(server.url) as publisher:
            await ada.subscribe(channel)
            await bob.subscribe(channel)
            await publish_n(publisher, channel, 5)
            await drain(ada, channel, range(1, 6))
            await drain(bob, channel, range(1, 6))
            steps = []

            async def step(offset, status, moves):
                request_id = ada.next_id()
                ack = await receipt(ada, channel, offset, status, request_id)
                seen = await bob.recv() if moves else None
                await bob.expect_nothing_queued()
                await ada.expect_nothing_queued()
                steps.append((offset, status, request_id, ack, seen))

            await step(3, "read", True)
            await step(2, "read", False)  # backwards: the cursor stays at 3, no event
            await step(3, "read", False)  # the same offset again: not a move
            await step(2, "delivered", False)  # read 3 implies delivered 3
            await step(3, "delivered", False)  # ... so delivered 3 moves nothing either
            await step(5, "delivered", True)  # delivered moves ahead of read
            await step(4, "read", True)  # read moves to 4, delivered stays 5
            await step(4, "delivered", False)  # delivered is 5, not 4
            await step(1, "read", False)
            return steps

    steps = run(main())
    expected = [
        # (sent offset, status, ack offset (the cursor), event offset or None)
        (3, "read", 3, 3),
        (2, "read", 3, None),
        (3, "read", 3, None),
        (2, "delivered", 3, None),
        (3, "delivered", 3, None),
        (5, "delivered", 5, 5),
        (4, "read", 4, 4),
        (4, "delivered", 5, None),
        (1, "read", 4, None),
    ]
    assert len(steps) == len(expected)
    for (offset, status, request_id, ack, seen), (e_offset, e_status, e_cursor, e_event) in zip(steps, expected):
        assert (offset, status) == (e_offset, e_status)
        expect_ack(ack, request_id, channel, e_cursor, status)
        if e_event is None:
            assert seen is None
        else:
            assert seen == event(channel, e_event, status, "ada", "phone"), (offset, status, seen)


def test_a_client_cannot_send_a_receipt_as_someone_else(server):
    """The cursor is the authenticated identity's: `user`/`device` sent by the client change nothing."""
    channel = fresh()

    async def main():
        async with Session(as_user(server, "ada/phone")) as ada, Session(as_user(server, "bob/laptop")) as bob, \
                Session(server.url) as publisher:
            await ada.subscribe(channel)
            await bob.subscribe(channel)
            await publish_n(publisher, channel, 3)
            await drain(ada, channel, range(1, 4))
            await drain(bob, channel, range(1, 4))
            await ada.send("receipt", id=5, channel=channel, offset=2, status="read", user="bob", device="laptop")
            reply = await ada.recv()
            seen = await bob.recv() if reply["type"] == "ack" else None
            await bob.expect_nothing_queued()
            async with Session(as_user(server, "bob/tablet")) as bob_tablet, \
                    Session(as_user(server, "ada/tablet")) as ada_tablet:
                bob_subscribed = await bob_tablet.subscribe(channel)
                ada_subscribed = await ada_tablet.subscribe(channel)
            return reply, seen, bob_subscribed, ada_subscribed

    reply, seen, bob_subscribed, ada_subscribed = run(main())
    # Refused, or the extra fields ignored (ada's cursor moves); never bob's cursor.
    if reply["type"] == "ack":
        expect_ack(reply, 5, channel, 2, "read")
        assert seen == event(channel, 2, "read", "ada", "phone"), seen
        assert ada_subscribed.get("unread") == 1, ada_subscribed
    else:
        assert reply["type"] == "error" and reply.get("id") == 5 and reply["code"] == "bad_request", reply
        assert ada_subscribed.get("unread") == 3, ada_subscribed
    assert bob_subscribed.get("unread") == 3, f"ada moved bob's cursor: {bob_subscribed}"


# --- 3. Refused receipts -----------------------------------------------------------------------------


def test_bad_receipts_are_refused_and_move_nothing(server):
    channel, other = fresh(), fresh()

    async def main():
        async with Session(as_user(server, "ada/phone")) as ada, Session(as_user(server, "bob/laptop")) as bob, \
                Session(server.url) as anonymous, Session(server.url) as publisher, \
                Session(as_user(server, "ada/early"), connect=False) as early:
            await ada.subscribe(channel)
            await bob.subscribe(channel)
            await anonymous.subscribe(channel)
            await publish_n(publisher, channel, 5)
            await publisher.publish(other, "exists")  # offset 1 of `other` is a real message
            for client in (ada, bob, anonymous):
                await drain(client, channel, range(1, 6))

            errors = {}
            errors["past the newest"] = await ada.expect_error(
                "receipt", "bad_request", channel=channel, offset=6, status="read")
            errors["far past the newest"] = await ada.expect_error(
                "receipt", "bad_request", channel=channel, offset=2**63, status="delivered")
            for status in ("seen", "READ", "", 1):
                errors[f"status {status!r}"] = await ada.expect_error(
                    "receipt", "bad_request", channel=channel, offset=3, status=status)
            errors["no status"] = await ada.expect_error("receipt", "bad_request", channel=channel, offset=3)
            errors["no offset"] = await ada.expect_error("receipt", "bad_request", channel=channel, status="read")
            errors["not subscribed"] = await ada.expect_error(
                "receipt", "forbidden", channel=other, offset=1, status="read")
            await ada.subscribe(other)
            gone_id = ada.next_id()
            gone = await ada.request("unsubscribe", id=gone_id, channel=other)
            assert gone == {"type": "unsubscribed", "id": gone_id, "channel": other}, gone
            errors["no longer subscribed"] = await ada.expect_error(
                "receipt", "forbidden", channel=other, offset=1, status="read")
            errors["anonymous"] = await anonymous.expect_error(
                "receipt", "forbidden", channel=channel, offset=3, status="read")
            errors["before connect"] = await early.expect_error(
                "receipt", "not_connected", channel=channel, offset=3, status="read")
            # None of those moved a cursor or told anyone anything.
            for client in (ada, bob, anonymous, publisher, early):
                await client.expect_nothing_queued()
            request_id = ada.next_id()
            first = await receipt(ada, channel, 1, "read", request_id)
            seen_by_bob = await bob.recv()
            seen_by_anonymous = await anonymous.recv()
            # The session goes on: early may still connect, and is then identified.
            await early.connect()
            await early.subscribe(channel)
            late_request = early.next_id()
            late = await receipt(early, channel, 2, "delivered", late_request)
            return errors, request_id, first, seen_by_bob, seen_by_anonymous, late_request, late

    errors, request_id, first, seen_by_bob, seen_by_anonymous, late_request, late = run(main())
    assert "6" in errors["past the newest"]["message"], errors["past the newest"]
    expect_ack(first, request_id, channel, 1, "read")  # not 3, not 6: no refused receipt counted
    assert seen_by_bob == event(channel, 1, "read", "ada", "phone")
    assert seen_by_anonymous == event(channel, 1, "read", "ada", "phone"), "anonymous members see receipts too"
    expect_ack(late, late_request, channel, 2, "delivered")


def test_a_receipt_on_an_empty_channel_is_past_the_newest(server):
    channel = fresh()

    async def main():
        async with Session(as_user(server, "ada/phone")) as ada:
            subscribed = await ada.subscribe(channel)
            refused = await ada.expect_error("receipt", "bad_request", channel=channel, offset=1, status="read")
            await ada.expect_nothing_queued()
            return subscribed, refused

    subscribed, _ = run(main())
    assert subscribed["offset"] == 0 and subscribed.get("unread") == 0, subscribed


# --- 4. Unread counts in `subscribed` ----------------------------------------------------------------


def test_subscribed_tells_an_identified_client_its_unread_count(server):
    channel = fresh("inbox")

    async def main():
        url = server.url
        async with Session(as_user(server, "ada/phone")) as phone, Session(url) as publisher:
            await phone.subscribe(channel)
            await publish_n(publisher, channel, 5)
            await drain(phone, channel, range(1, 6))
            request_id = phone.next_id()
            read3 = await receipt(phone, channel, 3, "read", request_id)
            expect_ack(read3, request_id, channel, 3, "read")

            async with Session(as_user(server, "ada/tablet")) as tablet, Session(url) as anonymous, \
                    Session(as_user(server, "bob/laptop")) as bob:
                tablet_subscribed = await tablet.subscribe(channel)
                anonymous_subscribed = await anonymous.subscribe(channel)
                bob_subscribed = await bob.subscribe(channel)
                request_id = tablet.next_id()
                read5 = await receipt(tablet, channel, 5, "read", request_id)
                expect_ack(read5, request_id, channel, 5, "read")
                # The other members, ada's phone among them, hear of the tablet's cursor.
                tablet_event = event(channel, 5, "read", "ada", "tablet")
                assert await phone.recv() == tablet_event
                assert await bob.recv() == tablet_event
                assert await anonymous.recv() == tablet_event
                await tablet.expect_nothing_queued()

            async with Session(as_user(server, "ada/desktop")) as desktop, \
                    Session(as_user(server, "bob/phone")) as bob_again:
                after_read = await desktop.subscribe(channel)
                bob_after = await bob_again.subscribe(channel)
            await publisher.publish(channel, "six")
            await drain(phone, channel, [6])
            async with Session(as_user(server, "ada/phone")) as phone_again:
                after_new = await phone_again.subscribe(channel)
            # delivered does not count as read
            request_id = phone.next_id()
            delivered = await receipt(phone, channel, 6, "delivered", request_id)
            expect_ack(delivered, request_id, channel, 6, "delivered")
            async with Session(as_user(server, "ada/watch")) as watch:
                after_delivered = await watch.subscribe(channel)
            return tablet_subscribed, anonymous_subscribed, bob_subscribed, after_read, bob_after, after_new, \
                after_delivered

    tablet_subscribed, anonymous_subscribed, bob_subscribed, after_read, bob_after, after_new, after_delivered = \
        run(main())
    assert tablet_subscribed["offset"] == 5 and tablet_subscribed.get("unread") == 2, \
        f"ada read 3 of 5 on her phone: {tablet_subscribed}"
    assert "unread" not in anonymous_subscribed, f"an anonymous client gets no unread count: {anonymous_subscribed}"
    assert bob_subscribed.get("unread") == 5, f"bob read nothing: {bob_subscribed}"
    assert after_read.get("unread") == 0, f"ada read all 5 on her tablet: {after_read}"
    assert bob_after.get("unread") == 5, f"ada's receipts are not bob's: {bob_after}"
    assert after_new["offset"] == 6 and after_new.get("unread") == 1, after_new
    assert after_delivered.get("unread") == 1, f"a delivered receipt is not a read one: {after_delivered}"


# --- 5. Persistence ----------------------------------------------------------------------------------


def test_receipts_survive_a_restart(tmp_path):
    db = tmp_path / "data" / "realtime.db"
    channel = fresh("persist")

    async def before(url):
        async with Session(f"{url}?token=ada/phone") as phone, Session(f"{url}?token=ada/tablet") as tablet, \
                Session(url) as publisher:
            await phone.subscribe(channel)
            await tablet.subscribe(channel)
            acks = await publish_n(publisher, channel, 5)
            await drain(phone, channel, range(1, 6))
            await drain(tablet, channel, range(1, 6))
            request_id = phone.next_id()
            expect_ack(await receipt(phone, channel, 3, "read", request_id), request_id, channel, 3, "read")
            assert await tablet.recv() == event(channel, 3, "read", "ada", "phone")
            request_id = tablet.next_id()
            expect_ack(await receipt(tablet, channel, 5, "delivered", request_id), request_id, channel, 5,
                       "delivered")
            assert await phone.recv() == event(channel, 5, "delivered", "ada", "tablet")
            return acks[0]["epoch"]

    with running_server(tmp_path, TRUST, "--durability", "full", db=db) as server:
        epoch = run(before(server.url))

    async def after(url):
        async with Session(f"{url}?token=ada/laptop") as laptop, Session(f"{url}?token=ada/phone") as phone, \
                Session(f"{url}?token=ada/tablet") as tablet, Session(f"{url}?token=bob/laptop") as bob:
            subscribed = await laptop.subscribe(channel)
            bob_subscribed = await bob.subscribe(channel)
            await phone.subscribe(channel)
            await tablet.subscribe(channel)
            replies = {}
            request_id = phone.next_id()
            replies["phone read 2"] = (request_id, await receipt(phone, channel, 2, "read", request_id))
            request_id = tablet.next_id()
            replies["tablet delivered 4"] = (request_id, await receipt(tablet, channel, 4, "delivered", request_id))
            for client in (laptop, bob, phone, tablet):
                await client.expect_nothing_queued()  # neither moved a cursor: no events
            return subscribed, bob_subscribed, replies

    with running_server(tmp_path, TRUST, "--durability", "full", db=db) as server:
        subscribed, bob_subscribed, replies = run(after(server.url))
    assert subscribed["epoch"] == epoch and subscribed["offset"] == 5, subscribed
    assert subscribed.get("unread") == 2, f"ada read 3 of 5 before the restart: {subscribed}"
    assert bob_subscribed.get("unread") == 5, bob_subscribed
    request_id, reply = replies["phone read 2"]
    expect_ack(reply, request_id, channel, 3, "read")  # the phone's read cursor was kept
    request_id, reply = replies["tablet delivered 4"]
    expect_ack(reply, request_id, channel, 5, "delivered")  # and the tablet's delivered cursor


# --- 6. The development identity flag ----------------------------------------------------------------


@pytest.mark.parametrize("token", ["nodevice", "ada/", "/phone", "/", "u" * 129 + "/phone", "ada/" + "d" * 129])
def test_a_token_that_is_not_user_slash_device_is_refused_at_the_upgrade(server, token):
    async def main():
        with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
            async with websockets.connect(as_user(server, token)):
                pass
        # The server is fine, and a well-formed token on the same endpoint is let in.
        async with Session(as_user(server, "ada/phone")) as ada:
            await ada.expect_nothing_queued()
        return refused.value.response.status_code

    assert run(main()) == 401


def test_a_token_in_connect_identifies_the_client(server):
    """docs: a `token` in `connect` is checked by the same hook as the upgrade's, which names the client."""
    channel = fresh()

    async def main():
        async with Session(server.url, connect=False) as watch, Session(as_user(server, "bob/laptop")) as bob, \
                Session(server.url, connect=False) as bad, Session(server.url) as publisher:
            connected = await watch.request("connect", id=1, v=1, token="ada/watch")
            assert connected["type"] == "connected", connected
            subscribed = await watch.subscribe(channel)
            await bob.subscribe(channel)
            await publisher.publish(channel, 1)
            await drain(watch, channel, [1])
            await drain(bob, channel, [1])
            request_id = watch.next_id()
            ack = await receipt(watch, channel, 1, "read", request_id)
            seen = await bob.recv()
            refused = await bad.request("connect", id=2, v=1, token="nodevice")
            goodbye = await bad.recv()
            return subscribed, request_id, ack, seen, refused, goodbye

    subscribed, request_id, ack, seen, refused, goodbye = run(main())
    assert subscribed.get("unread") == 0, subscribed
    expect_ack(ack, request_id, channel, 1, "read")
    assert seen == event(channel, 1, "read", "ada", "watch")
    assert refused["type"] == "error" and refused["code"] == "unauthorized" and refused.get("id") == 2, refused
    assert goodbye["type"] == "disconnect" and goodbye["code"] == 4003, goodbye


def test_names_with_quotes_and_unicode_reach_members_intact(server):
    """The user and device are text: the event must carry them exactly (JSON escaping)."""
    channel = fresh()
    user, device = 'zoë "q" \\ 日本', 'dev/1 "x"\t'

    async def main():
        async with Session(server.url, connect=False) as zoe, Session(as_user(server, "bob/laptop")) as bob, \
                Session(server.url) as publisher:
            connected = await zoe.request("connect", id=1, v=1, token=f"{user}/{device}")
            assert connected["type"] == "connected", connected
            await zoe.subscribe(channel)
            await bob.subscribe(channel)
            await publisher.publish(channel, 1)
            await drain(zoe, channel, [1])
            await drain(bob, channel, [1])
            request_id = zoe.next_id()
            ack = await receipt(zoe, channel, 1, "read", request_id)
            return request_id, ack, await bob.recv()

    request_id, ack, seen = run(main())
    expect_ack(ack, request_id, channel, 1, "read")
    assert seen == event(channel, 1, "read", user, device), seen


# --- 7. The binary encoding --------------------------------------------------------------------------

# From docs/protocol.md's tables: type 16 (receipt), fields 26 status, 27 user, 28 device, 29 unread.
class BinaryClient(Client):
    def __init__(self, ws):
        super().__init__(ws, binary=True)

    async def send(self, type_name, **fields):
        await self.ws.send(b_encode(type_name, **fields))

    async def recv(self, timeout=10):
        frame = await asyncio.wait_for(self.ws.recv(), timeout)
        assert isinstance(frame, bytes), f"a binary session got a text frame: {frame!r}"
        return b_decode(frame)


def test_receipts_in_the_binary_encoding(server):
    channel = fresh()

    async def main():
        async with websockets.connect(as_user(server, "ada/phone")) as ada_ws, \
                websockets.connect(as_user(server, "bob/laptop")) as bob_ws, Session(server.url) as publisher:
            ada, bob = BinaryClient(ada_ws), BinaryClient(bob_ws)
            for client in (ada, bob):
                assert (await client.request("connect", id=1, v=1))["type"] == "connected"
            ada_subscribed = await ada.request("subscribe", id=2, channel=channel)
            bob_subscribed = await bob.request("subscribe", id=2, channel=channel)
            await publish_n(publisher, channel, 4)
            for client in (ada, bob):
                for offset in range(1, 5):
                    message = await client.recv()
                    assert message["type"] == "message" and message["offset"] == offset, message
            ack = await ada.request("receipt", id=3, channel=channel, offset=2, status="read")
            seen = await bob.recv()
            refused = await ada.request("receipt", id=4, channel=channel, offset=2, status="gone")
            await ada.expect_nothing_queued()
            await bob.expect_nothing_queued()
            async with websockets.connect(as_user(server, "ada/tablet")) as tablet_ws:
                tablet = BinaryClient(tablet_ws)
                await tablet.request("connect", id=1, v=1)
                tablet_subscribed = await tablet.request("subscribe", id=2, channel=channel)
            return ada_subscribed, bob_subscribed, ack, seen, refused, tablet_subscribed

    ada_subscribed, bob_subscribed, ack, seen, refused, tablet_subscribed = run(main())
    assert ada_subscribed["type"] == "subscribed" and ada_subscribed.get("unread") == 0, ada_subscribed
    assert bob_subscribed.get("unread") == 0, bob_subscribed
    expect_ack(ack, 3, channel, 2, "read")
    assert seen == event(channel, 2, "read", "ada", "phone"), seen
    assert refused["type"] == "error" and refused["id"] == 4 and refused["code"] == 1, refused  # bad_request
    assert tablet_subscribed["offset"] == 4 and tablet_subscribed.get("unread") == 2, tablet_subscribed


def test_a_json_receipt_event_is_written_type_first(server):
    """docs: the server writes `type` first; the event has exactly the documented fields."""
    channel = fresh()

    async def main():
        async with Session(as_user(server, "ada/phone")) as ada, Session(as_user(server, "bob/laptop")) as bob, \
                Session(server.url) as publisher:
            await ada.subscribe(channel)
            await bob.subscribe(channel)
            await publisher.publish(channel, 1)
            await drain(ada, channel, [1])
            await drain(bob, channel, [1])
            request_id = ada.next_id()
            ack = await receipt(ada, channel, 1, "delivered", request_id)
            await bob.recv()
            return request_id, ack, bob.raw

    request_id, ack, raw = run(main())
    expect_ack(ack, request_id, channel, 1, "delivered")
    assert raw.startswith('{"type":"receipt"'), raw
    assert json.loads(raw) == event(channel, 1, "delivered", "ada", "phone")
