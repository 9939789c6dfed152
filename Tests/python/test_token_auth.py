"""Signed access tokens on the WebSocket upgrade (docs/security.md, "Tokens on the WebSocket
upgrade"), against a real realtime-server started with a token key, --token-auth required and the
development endpoints that mint sessions (--dev-token-endpoints).

Every wait is bounded and waits for something specific: the expiry test waits for the server's own
close frame (4011), which its timer sends at the token's exp; it does not sleep and hope."""
import asyncio
import json
import urllib.error
import urllib.request

import pytest
import websockets

from conftest import running_server
from test_channels import Session, fresh, run

SEED = "42" * 32
TIMEOUT = 10


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("tokens"), "--token-key-seed", SEED, "--token-auth", "required",
                        "--dev-token-endpoints") as server:
        yield server


def dev(server, endpoint, **query):
    """GETs a development endpoint: (status, JSON body)."""
    url = f"http://127.0.0.1:{server.port}/dev/{endpoint}?" + "&".join(f"{k}={v}" for k, v in query.items())
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def with_token(server, token):
    return f"{server.url}?token={token}"


async def expect_closed(ws, code):
    """Reads until the server closes: the last message must be `disconnect` with `code`, and the close
    frame must carry the same code. Returns the disconnect message."""
    last = None
    with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
        while True:
            last = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    assert closed.value.rcvd is not None and closed.value.rcvd.code == code, closed.value
    assert last is not None and last["type"] == "disconnect" and last["code"] == code, last
    return last


def test_a_valid_access_token_connects_as_its_user_and_device(server):
    status, s = dev(server, "session", user="ada", device="phone")
    assert status == 200, s
    status, b = dev(server, "session", user="bob", device="laptop")
    assert status == 200, b

    async def main():
        channel = fresh("tok")
        async with Session(with_token(server, s["access"])) as ada, \
                Session(with_token(server, b["access"])) as bob:
            ack = await bob.publish(channel, {"n": 1})
            await ada.subscribe(channel)
            await bob.subscribe(channel)
            # A receipt needs a known user: ada's is accepted and told to bob as ada on her phone.
            reply = await ada.request("receipt", id=ada.next_id(), channel=channel, offset=ack["offset"],
                                      status="read")
            assert reply["type"] == "ack", reply
            seen = await bob.recv()
            assert seen["type"] == "receipt" and seen["user"] == "ada" and seen["device"] == "phone", seen

    run(main())


@pytest.mark.parametrize("suffix", ["", "?token=", "?token=v4.public.forged", "?token=ada/phone"])
def test_no_token_or_a_forged_one_is_refused_with_401(server, suffix):
    async def main():
        with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
            async with websockets.connect(server.url + suffix):
                pass
        return refused.value.response.status_code

    assert run(main()) == 401


def test_a_token_signed_by_another_key_or_of_the_wrong_purpose_is_refused(server):
    status, s = dev(server, "session", user="ada", device="phone")
    assert status == 200

    async def main():
        with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
            async with websockets.connect(with_token(server, s["refresh"])):
                pass
        return refused.value.response.status_code

    assert run(main()) == 401


def test_an_expired_token_is_accepted_and_closed_with_4011(server):
    status, t = dev(server, "token", user="ada", device="phone", ttl=60, ago=3600)
    assert status == 200, t

    async def main():
        async with websockets.connect(with_token(server, t["token"])) as ws:
            goodbye = await expect_closed(ws, 4011)
            assert goodbye["reconnect"] is True and "refresh" in goodbye["reason"], goodbye

    run(main())


def test_a_live_connection_is_closed_with_4011_when_its_token_expires_and_a_refreshed_one_connects(server):
    status, s = dev(server, "session", user="ada", device="tablet", access_ttl=1)
    assert status == 200, s

    async def main():
        async with Session(with_token(server, s["access"])) as client:
            await client.expect_nothing_queued()
            goodbye = await expect_closed(client.ws, 4011)
            assert goodbye["reconnect"] is True, goodbye
        # Refresh, as the close code says, and come back with the new token.
        status, renewed = dev(server, "refresh", token=s["refresh"])
        assert status == 200 and renewed["sid"] == s["sid"], renewed
        async with Session(with_token(server, renewed["access"])) as client:
            await client.expect_nothing_queued()
            await expect_closed(client.ws, 4011)

    run(main())


def test_revoking_a_session_closes_its_connections_with_4012(server):
    status, s = dev(server, "session", user="ada", device="phone")
    assert status == 200, s
    status, other = dev(server, "session", user="ada", device="laptop")
    assert status == 200, other

    async def main():
        async with Session(with_token(server, s["access"])) as phone, \
                Session(with_token(server, other["access"])) as laptop:
            await phone.expect_nothing_queued()
            status, body = await asyncio.to_thread(dev, server, "revoke", sid=s["sid"])
            assert status == 200, body
            goodbye = await expect_closed(phone.ws, 4012)
            assert goodbye["reconnect"] is False, goodbye
            # The other session of the same user stays connected.
            await laptop.expect_nothing_queued()
        # The revoked token: accepted and closed with 4012 at once; its refresh token is refused.
        async with websockets.connect(with_token(server, s["access"])) as ws:
            await expect_closed(ws, 4012)
        status, body = dev(server, "refresh", token=s["refresh"])
        assert status == 403 and "revoked" in body["error"], body

    run(main())


def test_reusing_a_rotated_refresh_token_revokes_the_session_and_closes_it(server):
    status, s = dev(server, "session", user="eve", device="phone")
    assert status == 200, s
    status, renewed = dev(server, "refresh", token=s["refresh"])
    assert status == 200, renewed

    async def main():
        async with Session(with_token(server, renewed["access"])) as client:
            await client.expect_nothing_queued()
            status, body = await asyncio.to_thread(dev, server, "refresh", token=s["refresh"])
            assert status == 403 and "reuse" in body["error"], body
            await expect_closed(client.ws, 4012)

    run(main())


def test_a_refresh_message_extends_a_live_connection(server):
    status, s = dev(server, "session", user="ada", device="watch", access_ttl=2)
    assert status == 200, s
    status, longer = dev(server, "token", user="ada", device="watch", ttl=600)
    assert status == 200, longer
    status, stranger = dev(server, "token", user="bob", device="watch", ttl=600)
    assert status == 200, stranger

    async def main():
        async with Session(with_token(server, s["access"])) as client:
            # Refused: another user's token, garbage, none. The connection stays.
            reply = await client.request("refresh", id=5, token=stranger["token"])
            assert reply["type"] == "error" and reply["code"] == "forbidden" and reply["id"] == 5, reply
            reply = await client.request("refresh", id=6, token="v4.public.nope")
            assert reply["type"] == "error" and reply["code"] == "unauthorized", reply
            reply = await client.request("refresh", id=7)
            assert reply["type"] == "error" and reply["code"] == "bad_request", reply
            reply = await client.request("refresh", id=8, token=longer["token"])
            assert reply == {"type": "ack", "id": 8}, reply
            # Past the first token's exp (2 s from its issue, plus the timer's second of slack), the
            # connection is still up: the new token's timer replaced the old one.
            await asyncio.sleep(3.5)
            await client.expect_nothing_queued()

    run(main())


def test_a_refresh_message_on_an_endpoint_without_token_auth_is_forbidden(tmp_path):
    with running_server(tmp_path) as plain:
        async def main():
            async with Session(plain.url) as client:
                reply = await client.request("refresh", id=3, token="v4.public.x")
                assert reply["type"] == "error" and reply["code"] == "forbidden", reply

        run(main())


def test_a_token_in_connect_is_checked_by_the_core(tmp_path):
    """On an endpoint with optional token auth, a client that upgraded without a token may bring one
    in `connect`: valid names it; expired is refused with 4011, forged with 4003."""
    with running_server(tmp_path, "--token-key-seed", SEED, "--token-auth", "optional",
                        "--dev-token-endpoints") as optional:
        status, s = dev(optional, "session", user="ada", device="phone")
        assert status == 200, s
        status, expired = dev(optional, "token", user="ada", device="phone", ttl=60, ago=3600)
        assert status == 200, expired

        async def main():
            channel = fresh("ctok")
            async with Session(optional.url, connect=False) as ada, Session(optional.url) as anonymous:
                reply = await ada.request("connect", id=1, v=1, token=s["access"])
                assert reply["type"] == "connected", reply
                ack = await anonymous.publish(channel, {"n": 1})
                await ada.subscribe(channel)
                await anonymous.subscribe(channel)
                # A receipt needs a known user: accepted, so the connect token named her.
                reply = await ada.request("receipt", id=2, channel=channel, offset=ack["offset"], status="read")
                assert reply["type"] == "ack", reply
                seen = await anonymous.recv()
                assert seen["type"] == "receipt" and seen["user"] == "ada" and seen["device"] == "phone", seen
                # The anonymous client is not identified: its receipt is refused.
                refused = await anonymous.expect_error("receipt", "forbidden", channel=channel, offset=1,
                                                       status="read")
                assert "known user" in refused["message"], refused
            for token, code in [(expired["token"], 4011), ("v4.public.forged", 4003)]:
                async with websockets.connect(optional.url) as ws:
                    await ws.send(json.dumps({"type": "connect", "id": 1, "v": 1, "token": token}))
                    error = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
                    assert error["type"] == "error" and error["code"] == "unauthorized", error
                    goodbye = await expect_closed(ws, code)
                    assert goodbye["reconnect"] is (code == 4011), goodbye

        run(main())


def test_a_connect_token_must_name_the_upgrades_identity(server):
    status, s = dev(server, "session", user="ada", device="phone")
    assert status == 200, s
    status, bob = dev(server, "session", user="bob", device="phone")
    assert status == 200, bob

    async def main():
        async with Session(with_token(server, s["access"]), connect=False) as client:
            await client.send("connect", id=1, v=1, token=bob["access"])
            error = await client.recv()
            assert error["type"] == "error" and error["code"] == "unauthorized", error
            await expect_closed(client.ws, 4003)
        async with Session(with_token(server, s["access"]), connect=False) as client:
            reply = await client.request("connect", id=1, v=1, token=s["access"])
            assert reply["type"] == "connected", reply

    run(main())
