"""Presence and typing over the network (docs/protocol.md, "Presence"): identified subscribers of
a presence namespace appear in it; members get `presence` diffs (join, update, leave) and
`typing` from others; `presence_list` pages; a connection that goes away leaves; bad input is
refused and changes nothing."""
import pytest

from conftest import running_server
from test_channels import Session, fresh, run

ARGS = ["--trust-token-identity", "--namespace", "room=memory,presence", "--namespace", "plain=memory"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("presence"), *ARGS) as server:
        yield server


def as_user(server, token):
    return f"{server.url}?token={token}"


async def next_of(client, type_name):
    """The next message of `type_name` (others of that session are not expected here)."""
    message = await client.recv()
    assert message["type"] == type_name, message
    return message


def keys(entries):
    return sorted((e["user"], e["client"].split("/")[0]) for e in entries)


def test_members_see_joins_updates_typing_and_leaves(server):
    channel = "room:" + fresh()

    async def main():
        async with Session(as_user(server, "ada/phone")) as ada:
            await ada.subscribe(channel)
            mine = await next_of(ada, "presence")
            assert keys(mine["data"]["join"]) == [("ada", "phone")] and mine["channel"] == channel
            async with Session(as_user(server, "bob/laptop")) as bob:
                await bob.subscribe(channel)
                joined = await next_of(ada, "presence")
                assert keys(joined["data"]["join"]) == [("bob", "laptop")]
                assert joined["data"]["leave"] == [] and joined["data"]["update"] == []
                assert keys((await next_of(bob, "presence"))["data"]["join"]) == [("bob", "laptop")]

                ack = await ada.request("presence", id=5, channel=channel, status="away", data={"client": "web"})
                assert ack["type"] == "ack" and ack["id"] == 5, ack
                update = (await next_of(bob, "presence"))["data"]["update"]
                assert len(update) == 1 and update[0]["user"] == "ada" and update[0]["status"] == "away"
                assert update[0]["meta"] == {"client": "web"}
                await next_of(ada, "presence")  # her own update

                page = await bob.request("presence_list", id=6, channel=channel)
                assert page["type"] == "presence_list" and page["id"] == 6, page
                assert page["data"]["users"] == 2 and page["data"]["entries"] == 2
                assert keys(page["data"]["page"]) == [("ada", "phone"), ("bob", "laptop")]
                first = await bob.request("presence_list", id=7, channel=channel, limit=1)
                assert keys(first["data"]["page"]) == [("ada", "phone")] and first["user"] == "ada"
                rest = await bob.request("presence_list", id=8, channel=channel, limit=1, user=first["user"],
                                         device=first["device"])
                assert keys(rest["data"]["page"]) == [("bob", "laptop")] and "user" not in rest

                await ada.send("typing", channel=channel)
                typing = await next_of(bob, "typing")
                assert typing == {"type": "typing", "channel": channel, "user": "ada"}
                await ada.send("typing", channel=channel)  # within a second: not passed on
                await bob.expect_nothing_queued()
                await ada.expect_nothing_queued()  # her own typing does not come back
            left = await next_of(ada, "presence")
            assert keys(left["data"]["leave"]) == [("bob", "laptop")], left
    run(main())


def test_bad_presence_input_is_refused(server):
    channel = "room:" + fresh()

    async def main():
        async with Session(as_user(server, "cy/phone")) as cy, Session(server.url) as anonymous:
            await cy.subscribe(channel)
            await next_of(cy, "presence")
            await cy.expect_error("presence", "too_large", channel=channel, data={"x": "a" * 1100})
            await cy.expect_error("presence", "bad_request", channel=channel, data=[1, 2])
            await cy.expect_error("presence", "bad_request", channel=channel, status="")
            await cy.expect_error("presence_list", "bad_request", channel=channel, limit=0)
            await cy.expect_error("presence", "forbidden", channel="room:" + fresh())  # not subscribed
            plain = "plain:" + fresh()
            await cy.subscribe(plain)
            await cy.expect_error("presence", "forbidden", channel=plain)
            await cy.expect_error("typing", "forbidden", channel=plain)
            await anonymous.subscribe(channel)
            await anonymous.expect_error("presence", "forbidden", channel=channel, status="away")
            page = await cy.request("presence_list", id=90, channel=channel)
            assert page["data"]["entries"] == 1 and page["data"]["page"][0]["status"] == "online", "nothing changed"
    run(main())
