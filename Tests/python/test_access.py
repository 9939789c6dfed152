"""Authorization over the network (docs/security.md, "Authorization"): a scoped namespace's
channels and documents are only for the members of the workspace their name starts with. Every
request from outside — subscribe, publish, history, presence, typing, receipts, document sync and
updates, file chunks — is refused with the same `forbidden` "not allowed" for a channel or
document that exists as for one that does not, and nothing of them leaks; a guest reads but does
not write; an announcements channel takes only admins' posts; a demotion or removal, stored in
the database, holds after a restart. (Live demotion of open sessions is tested in Swift,
AccessProtocolTests, since this server changes roles only at start.)"""
import signal

import pytest

from conftest import running_server
from test_channels import Session, fresh, run

MEMBERS = ["--member", "acme:mia:member", "--member", "acme:gus:guest", "--member", "acme:ada:manager",
           "--member", "globex:olga:ceo"]
ARGS = ["--trust-token-identity", "--namespace", "chat=memory,presence,scoped", "--namespace", "docs=scoped",
        "--access-rule", "chat:acme/news,publish=admin", *MEMBERS]
HASH = "ab" * 32


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("access"), *ARGS) as server:
        yield server


def as_user(server, user):
    return server.url if user is None else f"{server.url}?token={user}/phone"


def requests(channel, doc):
    """Every channel and document request a client can make, without ids."""
    return [
        ("subscribe", {"channel": channel}),
        ("publish", {"channel": channel, "data": {"x": 1}}),
        ("history", {"channel": channel}),
        ("presence", {"channel": channel, "status": "away"}),
        ("presence_list", {"channel": channel}),
        ("typing", {"channel": channel}),
        ("receipt", {"channel": channel, "offset": 1, "status": "read"}),
        ("doc_sync", {"doc": doc, "kind": "text"}),
        ("doc_update", {"doc": doc, "data_b64": "AAAA"}),
        ("chunk", {"doc": doc, "key": HASH, "data_b64": "AAAA"}),
        ("chunk_get", {"doc": doc, "key": HASH}),
    ]


async def answers(client, channel, doc):
    """The answer to each request, with its id taken out (ids differ, nothing else may)."""
    out = []
    for type_name, fields in requests(channel, doc):
        request_id = client.next_id()
        reply = await client.request(type_name, id=request_id, **fields)
        assert reply.get("id") == request_id, reply
        out.append({k: v for k, v in reply.items() if k != "id"})
    return out


async def make_doc(server, doc):
    """Mia creates a text document (syncing it makes it)."""
    async with Session(as_user(server, "mia")) as mia:
        reply = await mia.request("doc_sync", id=mia.next_id(), doc=doc, kind="text")
        assert reply["type"] == "doc_update", reply
        assert (await mia.recv())["type"] == "doc_sync"


REFUSAL = {"type": "error", "code": "forbidden", "message": "not allowed"}


def test_requests_from_outside_the_workspace_are_refused_alike(server):
    existing = "chat:acme/" + fresh()
    doc = "docs:acme/" + fresh()

    async def main():
        async with Session(as_user(server, "mia")) as mia:
            await mia.publish(existing, {"secret": 1})
        await make_doc(server, doc)
        for user in ["olga", None, "stranger"]:
            async with Session(as_user(server, user)) as client:
                there = await answers(client, existing, doc)
                missing = await answers(client, "chat:acme/" + fresh(), "docs:acme/" + fresh())
                other = await answers(client, "chat:" + fresh() + "/x", "docs:" + fresh() + "/x")
                bare = await answers(client, "chat:acme", "docs:acme")
                assert there == [REFUSAL] * len(there), (user, there)
                assert missing == there and other == there and bare == there, user
                await client.expect_nothing_queued()

    run(main())


def test_a_refused_client_gets_none_of_the_messages(server):
    channel = "chat:acme/" + fresh()

    async def main():
        async with Session(as_user(server, "olga")) as olga, Session(as_user(server, "mia")) as mia, \
                Session(as_user(server, "gus")) as gus:
            await olga.expect_error("subscribe", "forbidden", channel=channel)
            await gus.subscribe(channel)
            assert (await gus.recv())["type"] == "presence"  # gus joining
            for n in range(3):
                await mia.publish(channel, {"n": n})
            for n in range(3):
                message = await gus.recv()
                assert message["type"] == "message" and message["data"] == {"n": n}, message
            await mia.send("typing", channel=channel)
            await olga.expect_error("history", "forbidden", channel=channel)
            await olga.expect_error("presence_list", "forbidden", channel=channel)
            await olga.expect_nothing_queued()

    run(main())


def test_a_guest_reads_but_does_not_write(server):
    channel = "chat:acme/" + fresh()
    doc = "docs:acme/" + fresh()

    async def main():
        async with Session(as_user(server, "mia")) as mia:
            await mia.publish(channel, "one")
        await make_doc(server, doc)
        async with Session(as_user(server, "gus")) as gus:
            subscribed = await gus.subscribe(channel)
            assert subscribed["offset"] == 1
            assert (await gus.recv())["type"] == "presence"
            await gus.expect_error("publish", "forbidden", channel=channel, data="two")
            messages, end = await gus.history(channel)
            assert [m["data"] for m in messages] == ["one"] and end["offset"] == 1
            update = await gus.request("doc_sync", id=gus.next_id(), doc=doc, kind="text")
            assert update["type"] == "doc_update", update
            assert (await gus.recv())["type"] == "doc_sync"
            refused = await gus.expect_error("doc_update", "forbidden", doc=doc, data_b64="AAAA")
            assert refused["message"] == "not allowed"
            await gus.expect_error("chunk", "forbidden", doc=doc, key=HASH, data_b64="AAAA")
            await gus.expect_nothing_queued()

    run(main())


def test_only_admins_post_announcements(server):
    async def main():
        async with Session(as_user(server, "mia")) as mia, Session(as_user(server, "ada")) as ada:
            refused = await mia.expect_error("publish", "forbidden", channel="chat:acme/news", data="hi")
            assert refused["message"] == "not allowed"
            await ada.publish("chat:acme/news", "all hands at 10")
            await mia.publish("chat:acme/" + fresh(), "other channels keep the namespace's rules")

    run(main())


def test_demotion_and_removal_are_stored_and_hold_after_a_restart(tmp_path):
    db = tmp_path / "access.db"
    channel = "chat:acme/general"
    base = ["--trust-token-identity", "--namespace", "chat=scoped"]

    async def publish_and_subscribe(server, may_publish, may_subscribe):
        async with Session(as_user(server, "bob")) as bob:
            if may_publish:
                await bob.publish(channel, "hi")
            else:
                await bob.expect_error("publish", "forbidden", channel=channel, data="hi")
            if may_subscribe:
                await bob.subscribe(channel)
            else:
                await bob.expect_error("subscribe", "forbidden", channel=channel)

    with running_server(tmp_path, *base, "--member", "acme:bob:staff", db=db) as server:
        run(publish_and_subscribe(server, True, True))
    with running_server(tmp_path, *base, "--member", "acme:bob:guest", db=db) as server:
        run(publish_and_subscribe(server, False, True))
    # No --member for bob: his stored role (guest) holds.
    with running_server(tmp_path, *base, db=db) as server:
        run(publish_and_subscribe(server, False, True))
    with running_server(tmp_path, *base, "--member", "acme:bob:none", db=db) as server:
        run(publish_and_subscribe(server, False, False))
    # Without `scoped` the namespace is open again, as before authorization existed.
    with running_server(tmp_path, "--trust-token-identity", "--namespace", "chat=persistent", db=db) as server:
        run(publish_and_subscribe(server, True, True))


def test_a_member_removed_on_sighup_loses_their_subscription_and_document_at_once(tmp_path):
    """The members file, read again on SIGHUP, drops bob: his open session is unsubscribed from
    the workspace's channel and its document, gets nothing published after, and is refused from
    then on; mia, still listed, keeps hers; an open channel stays."""
    members = tmp_path / "members"
    members.write_text("# workspace:user:role\nacme:bob:member\nacme:mia:staff\n")
    channel = "chat:acme/" + fresh()
    doc = "docs:acme/" + fresh()
    args = ["--trust-token-identity", "--namespace", "chat=memory,scoped", "--namespace", "docs=scoped",
            "--namespace", "open=memory", "--members-file", str(members)]

    async def main(server):
        async with Session(as_user(server, "bob")) as bob, Session(as_user(server, "mia")) as mia:
            await bob.subscribe(channel)
            await bob.subscribe("open:lobby")
            await mia.subscribe(channel)
            update = await bob.request("doc_sync", id=bob.next_id(), doc=doc, kind="text")
            assert update["type"] == "doc_update", update
            assert (await bob.recv())["type"] == "doc_sync"
            members.write_text("acme:mia:staff\n")
            server.proc.send_signal(signal.SIGHUP)
            ended = [await bob.recv(timeout=10), await bob.recv(timeout=10)]
            assert {"type": "unsubscribed", "channel": channel} in ended, ended
            assert {"type": "error", "code": "forbidden", "message": "not allowed", "doc": doc} in ended, ended
            await mia.send("publish", id=mia.next_id(), channel=channel, data="after bob left")
            got = sorted([(await mia.recv())["type"], (await mia.recv())["type"]])
            assert got == ["ack", "message"], got  # mia, still a member, gets it
            await bob.expect_error("subscribe", "forbidden", channel=channel)
            await bob.expect_error("publish", "forbidden", channel=channel, data="x")
            await bob.expect_nothing_queued()  # no message of the channel, no document update
            # The open channel is untouched.
            await mia.publish("open:lobby", "still here")
            message = await bob.recv()
            assert message["type"] == "message" and message["data"] == "still here", message

    with running_server(tmp_path, *args) as server:
        run(main(server))
    assert any("memberships applied" in line for line in server.log)
