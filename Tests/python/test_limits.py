"""Rate limits over the network (docs/protocol.md, "Rate limits"): a publish or subscribe past its
limit gets `rate_limited` with `retry_after_ms` and stores nothing; limits follow the user across
connections and devices (anonymous clients: each connection); refusals that go on past the `abuse`
limit end the session with 4006; a bad `--rate-limit` stops the server at start-up."""
import subprocess

import pytest
import websockets

from conftest import running_server, server_binary
from test_channels import Session, fresh, run

# 3 publishes at once, then one per 20 s; subscribes 2 at once; 2 refusals tolerated.
LIMITS = ["--trust-token-identity", "--rate-limit", "publish=3/60000/3", "--rate-limit", "subscribe=1/60000/2",
          "--rate-limit", "abuse=1/60000/2"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("limits"), *LIMITS) as server:
        yield server


def as_user(server, token):
    return f"{server.url}?token={token}"


def test_a_publish_past_the_limit_is_refused_with_retry_after_and_nothing_stored(server):
    channel = fresh()

    async def main():
        async with Session(as_user(server, "ada/phone")) as ada:
            for n in range(1, 4):
                assert (await ada.publish(channel, {"n": n}))["offset"] == n
            refused = await ada.expect_error("publish", "rate_limited", channel=channel, data={"n": 4})
            # One unit every 20 s: the next one passes 20 s after the first of the burst.
            assert 19_000 <= refused["retry_after_ms"] <= 20_000, refused
            messages, ack = await ada.history(channel)
            assert [m["offset"] for m in messages] == [1, 2, 3] and ack["offset"] == 3, "nothing stored"
    run(main())


def test_the_limit_follows_the_user_across_devices_not_other_users(server):
    channel = fresh()

    async def main():
        async with Session(as_user(server, "bob/phone")) as phone, \
                Session(as_user(server, "bob/laptop")) as laptop, \
                Session(as_user(server, "cy/phone")) as cy:
            await phone.publish(channel, {"n": 1})
            await laptop.publish(channel, {"n": 2})
            await phone.publish(channel, {"n": 3})
            await laptop.expect_error("publish", "rate_limited", channel=channel, data={"n": 4})
            assert (await cy.publish(channel, {"n": 4}))["offset"] == 4, "cy has a limit of her own"
    run(main())


def test_anonymous_clients_are_limited_per_connection(server):
    channel = fresh()

    async def main():
        async with Session(server.url) as first, Session(server.url) as second:
            for n in range(3):
                await first.publish(channel, {"n": n})
            await first.expect_error("publish", "rate_limited", channel=channel, data={})
            await second.publish(channel, {"n": 9})
    run(main())


def test_subscribes_are_limited_too(server):
    async def main():
        async with Session(server.url) as client:
            await client.subscribe(fresh())
            await client.subscribe(fresh())
            refused = await client.expect_error("subscribe", "rate_limited", channel=fresh())
            assert refused["retry_after_ms"] > 0
    run(main())


def test_refusals_past_the_abuse_limit_end_the_session_with_4006(server):
    channel = fresh()

    async def main():
        async with Session(server.url) as client:
            for n in range(3):
                await client.publish(channel, {"n": n})
            await client.expect_error("publish", "rate_limited", channel=channel, data={})
            await client.expect_error("publish", "rate_limited", channel=channel, data={})
            # The third refusal is past the abuse limit's burst of 2.
            await client.send("publish", id=99, channel=channel, data={})
            refused = await client.recv()
            assert refused["type"] == "error" and refused["code"] == "rate_limited", refused
            goodbye = await client.recv()
            assert goodbye["type"] == "disconnect" and goodbye["code"] == 4006 and goodbye["reconnect"] is True
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await client.recv()
            assert closed.value.rcvd.code == 4006
    run(main())


@pytest.mark.parametrize("spec", ["publish=0/1000", "publish=1/0", "publish=1/1000/0", "NOPE=1/1000",
                                  "publish=1/1000/2000000", "publish=x"])
def test_a_bad_rate_limit_stops_the_server_at_start(tmp_path, spec):
    proc = subprocess.run([str(server_binary()), "--port", "0", "--in-memory", "--rate-limit", spec],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "rate" in proc.stderr.lower(), proc.stderr


def test_new_connections_past_the_connect_limit_get_429(tmp_path):
    async def main(server):
        async with Session(server.url), Session(server.url):
            with pytest.raises(websockets.InvalidStatus) as refused:
                async with Session(server.url):
                    pass
            assert refused.value.response.status_code == 429
    with running_server(tmp_path, "--rate-limit", "connect=1/60000/2") as server:
        run(main(server))
