/*
 * Connections on the host's own sockets (rt_conn_*): the host feeds bytes and collects what the
 * output callback hands back, both with the core on its own thread (rt_core_sync orders the
 * feed before the check) and attached to the host's loop (processed before rt_conn_feed
 * returns).
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <realtime.h>
#include <uv.h>

#include "harness.h"

/* What the core asked the host to write, and whether it ended the connection. */
struct sink {
    pthread_mutex_t mu;
    unsigned char data[65536];
    size_t len;
    int ended;
};

static void sink_init(struct sink *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
}

static void on_output(void *user_data, const uint8_t *data, size_t len)
{
    struct sink *s = user_data;
    pthread_mutex_lock(&s->mu);
    if (s->len + len <= sizeof s->data) {
        memcpy(s->data + s->len, data, len);
        s->len += len;
    }
    pthread_mutex_unlock(&s->mu);
}

static void on_end(void *user_data)
{
    struct sink *s = user_data;
    pthread_mutex_lock(&s->mu);
    s->ended++;
    pthread_mutex_unlock(&s->mu);
}

static const char upgrade[] =
    "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/* A masked client frame with a payload of < 126 bytes. */
static size_t client_frame(unsigned char *out, unsigned opcode, const char *payload, size_t n)
{
    static const unsigned char mask[4] = {0x11, 0x22, 0x33, 0x44};
    size_t i;
    out[0] = (unsigned char)(0x80 | opcode);
    out[1] = (unsigned char)(0x80 | n);
    memcpy(out + 2, mask, 4);
    for (i = 0; i < n; i++)
        out[6 + i] = (unsigned char)(payload[i] ^ mask[i % 4]);
    return 6 + n;
}

static int sink_has(struct sink *s, const char *needle)
{
    int found;
    pthread_mutex_lock(&s->mu);
    s->data[s->len < sizeof s->data ? s->len : sizeof s->data - 1] = 0;
    found = strstr((const char *)s->data, needle) != NULL;
    pthread_mutex_unlock(&s->mu);
    return found;
}

static void test_host_fed_connection(void)
{
    rt_config cfg = RT_CONFIG_INIT;
    rt_core *core = NULL;
    rt_conn *conn = NULL;
    struct sink s;
    unsigned char frame[256];
    size_t n;

    sink_init(&s);
    CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_OK);
    if (core == NULL)
        return;
    CHECK_EQ_INT(rt_conn_open(core, NULL, on_output, on_end, &s, &conn), RT_ESTATE);
    CHECK(conn == NULL);
    CHECK_EQ_INT(rt_core_start(core), RT_OK);
    CHECK_EQ_INT(rt_conn_open(core, NULL, NULL, on_end, &s, &conn), RT_EINVAL);
    CHECK_EQ_INT(rt_conn_open(core, NULL, on_output, on_end, &s, NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_conn_open(core, NULL, on_output, on_end, &s, &conn), RT_OK);

    /* The handshake, split in two feeds. */
    CHECK_EQ_INT(rt_conn_feed(conn, (const uint8_t *)upgrade, 20), RT_OK);
    CHECK_EQ_INT(rt_conn_feed(conn, (const uint8_t *)upgrade + 20, sizeof upgrade - 1 - 20), RT_OK);
    CHECK_EQ_INT(rt_core_sync(core), RT_OK); /* the feeds ran before the barrier */
    CHECK(sink_has(&s, "HTTP/1.1 101 Switching Protocols\r\n"));
    CHECK(sink_has(&s, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));

    /* The protocol: connect is answered with connected, a JSON ping with its pong. */
    n = client_frame(frame, 0x1, "{\"type\":\"connect\",\"id\":1}", 25);
    CHECK_EQ_INT(rt_conn_feed(conn, frame, n), RT_OK);
    n = client_frame(frame, 0x1, "{\"type\":\"ping\",\"id\":2,\"data\":[true]}", 36);
    CHECK_EQ_INT(rt_conn_feed(conn, frame, n), RT_OK);
    CHECK_EQ_INT(rt_core_sync(core), RT_OK);
    CHECK(sink_has(&s, "{\"type\":\"connected\",\"id\":1,\"v\":1,\"session\":\""));
    CHECK(sink_has(&s, "\x81\x24{\"type\":\"pong\",\"id\":2,\"data\":[true]}"));

    /* A ping is answered with a pong; a close with a close, and the end callback. */
    pthread_mutex_lock(&s.mu);
    s.len = 0;
    pthread_mutex_unlock(&s.mu);
    n = client_frame(frame, 0x9, "hi", 2);
    CHECK_EQ_INT(rt_conn_feed(conn, frame, n), RT_OK);
    n = client_frame(frame, 0x8, "\x03\xe8", 2);
    CHECK_EQ_INT(rt_conn_feed(conn, frame, n), RT_OK);
    CHECK_EQ_INT(rt_core_sync(core), RT_OK);
    pthread_mutex_lock(&s.mu);
    CHECK_EQ_INT(s.len, 8);
    CHECK(s.len == 8 && memcmp(s.data, "\x8a\x02hi\x88\x02\x03\xe8", 8) == 0);
    CHECK_EQ_INT(s.ended, 1);
    pthread_mutex_unlock(&s.mu);

    CHECK_EQ_INT(rt_conn_feed(conn, frame, n), RT_OK); /* after the end: ignored */
    CHECK_EQ_INT(rt_conn_feed(conn, NULL, 1), RT_EINVAL);
    CHECK_EQ_INT(rt_conn_feed(NULL, frame, 1), RT_EINVAL);
    CHECK_EQ_INT(rt_conn_close(&conn), RT_OK);
    CHECK(conn == NULL);
    CHECK_EQ_INT(rt_conn_close(&conn), RT_OK);
    CHECK_EQ_INT(rt_conn_close(NULL), RT_OK);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
}

static void test_garbage_is_refused_and_close_after_core_close(void)
{
    rt_config cfg = RT_CONFIG_INIT;
    rt_core *core = NULL;
    rt_conn *conn = NULL;
    rt_conn *open_conn = NULL;
    struct sink s, t;
    static const char garbage[] = "\x16\x03\x01 not http at all\r\n\r\n";

    sink_init(&s);
    sink_init(&t);
    CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_OK);
    if (core == NULL)
        return;
    CHECK_EQ_INT(rt_core_start(core), RT_OK);
    CHECK_EQ_INT(rt_conn_open(core, NULL, on_output, on_end, &s, &conn), RT_OK);
    CHECK_EQ_INT(rt_conn_feed(conn, (const uint8_t *)garbage, sizeof garbage - 1), RT_OK);
    CHECK_EQ_INT(rt_core_sync(core), RT_OK);
    CHECK(sink_has(&s, "HTTP/1.1 400 Bad Request\r\n"));
    CHECK_EQ_INT(s.ended, 1);

    /* A connection still open when the core closes is told to go away and ended. */
    CHECK_EQ_INT(rt_conn_open(core, NULL, on_output, on_end, &t, &open_conn), RT_OK);
    CHECK_EQ_INT(rt_conn_feed(open_conn, (const uint8_t *)upgrade, sizeof upgrade - 1), RT_OK);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
    CHECK_EQ_INT(t.ended, 1);
    /* The last frame is a close with code 1001 and its reason. */
    CHECK(sink_has(&t, "\x88\x16\x03\xe9server shutting down"));
    CHECK_EQ_INT(rt_conn_feed(open_conn, (const uint8_t *)"x", 1), RT_ESTATE);
    CHECK_EQ_INT(rt_conn_close(&open_conn), RT_OK);
    CHECK_EQ_INT(rt_conn_close(&conn), RT_OK);
}

static void test_attached_feed_is_processed_before_it_returns(void)
{
    rt_config cfg = RT_CONFIG_INIT;
    rt_core *core = NULL;
    rt_conn *conn = NULL;
    struct sink s;
    uv_loop_t loop;

    sink_init(&s);
    CHECK_EQ_INT(uv_loop_init(&loop), 0);
    CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_OK);
    if (core == NULL)
        return;
    CHECK_EQ_INT(rt_core_attach(core, &loop), RT_OK);
    CHECK_EQ_INT(rt_conn_open(core, NULL, on_output, on_end, &s, &conn), RT_OK);
    CHECK_EQ_INT(rt_conn_feed(conn, (const uint8_t *)upgrade, sizeof upgrade - 1), RT_OK);
    CHECK(sink_has(&s, "HTTP/1.1 101 Switching Protocols\r\n"));
    CHECK_EQ_INT(rt_conn_close(&conn), RT_OK);
    CHECK_EQ_INT(s.ended, 0); /* closed by the host: no callback */
    CHECK_EQ_INT(rt_core_stop(core), RT_OK);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
}

static int guard_fired;

static void on_guard(uv_timer_t *timer)
{
    (void)timer;
    guard_fired = 1;
}

static void test_no_connect_within_the_timeout_is_disconnected_with_4004(void)
{
    rt_config cfg = RT_CONFIG_INIT;
    rt_listen_config lc = RT_LISTEN_CONFIG_INIT;
    rt_core *core = NULL;
    rt_conn *conn = NULL;
    struct sink s;
    uv_loop_t loop;
    uv_timer_t guard;
    unsigned char frame[16];
    size_t n;

    sink_init(&s);
    lc.connect_timeout_ms = 20;
    CHECK_EQ_INT(uv_loop_init(&loop), 0);
    CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_OK);
    if (core == NULL)
        return;
    CHECK_EQ_INT(rt_core_attach(core, &loop), RT_OK);
    CHECK_EQ_INT(rt_conn_open(core, &lc, on_output, on_end, &s, &conn), RT_OK);
    CHECK_EQ_INT(rt_conn_feed(conn, (const uint8_t *)upgrade, sizeof upgrade - 1), RT_OK);
    /* The host's loop runs the core's timer. The core's timers do not keep a loop alive, so the
     * host's own handle (here a 10 s guard) does, as a host's sockets would. */
    CHECK_EQ_INT(uv_timer_init(&loop, &guard), 0);
    CHECK_EQ_INT(uv_timer_start(&guard, on_guard, 10000, 0), 0);
    while (!sink_has(&s, "\"code\":4004") && !guard_fired && uv_run(&loop, UV_RUN_ONCE) != 0) {
    }
    uv_close((uv_handle_t *)&guard, NULL);
    CHECK(sink_has(&s, "{\"type\":\"disconnect\",\"code\":4004,\"reason\":\"no connect message within 20 ms\","
                       "\"reconnect\":true}"));
    CHECK(sink_has(&s, "\x88\x21\x0f\xa4no connect message within 20 ms"));
    CHECK_EQ_INT(s.ended, 0); /* waiting for the client's close */
    n = client_frame(frame, 0x8, "\x0f\xa4", 2);
    CHECK_EQ_INT(rt_conn_feed(conn, frame, n), RT_OK);
    CHECK_EQ_INT(s.ended, 1);
    CHECK_EQ_INT(rt_conn_close(&conn), RT_OK);
    CHECK_EQ_INT(rt_core_stop(core), RT_OK);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
}

/* Names every client "ada" (device "phone") when its token is "ada". */
static int identify(void *user_data, const rt_auth_request *request, rt_identity *identity)
{
    (void)user_data;
    if (request->token != NULL && strcmp(request->token, "ada") == 0) {
        strcpy(identity->user, "ada");
        strcpy(identity->device, "phone");
    }
    return RT_AUTH_ALLOW;
}

/* A server-side subscription reaches a host-fed connection identified by the host's hook. */
static void test_server_side_subscription_of_an_identified_connection(void)
{
    static const char upgrade_ada[] =
        "GET /ws?token=ada HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    rt_config cfg = RT_CONFIG_INIT;
    rt_listen_config lc = RT_LISTEN_CONFIG_INIT;
    rt_namespace_config ns = RT_NAMESPACE_CONFIG_INIT;
    rt_core *core = NULL;
    rt_conn *conn = NULL;
    struct sink s;
    unsigned char frame[64];
    size_t n;

    sink_init(&s);
    lc.auth_fn = identify;
    CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_OK);
    if (core == NULL)
        return;
    CHECK_EQ_INT(rt_core_start(core), RT_OK);
    ns.flags = RT_NAMESPACE_IN_MEMORY;
    ns.publish_policy = RT_PUBLISH_SERVER;
    CHECK_EQ_INT(rt_core_set_namespace(core, "user", &ns), RT_OK);
    CHECK_EQ_INT(rt_conn_open(core, &lc, on_output, on_end, &s, &conn), RT_OK);
    CHECK_EQ_INT(rt_conn_feed(conn, (const uint8_t *)upgrade_ada, sizeof upgrade_ada - 1), RT_OK);
    n = client_frame(frame, 0x1, "{\"type\":\"connect\"}", 18);
    CHECK_EQ_INT(rt_conn_feed(conn, frame, n), RT_OK);
    CHECK_EQ_INT(rt_core_sync(core), RT_OK);
    CHECK(sink_has(&s, "\"type\":\"connected\""));

    CHECK_EQ_INT(rt_subscribe_user(core, "ada", "user:ada"), RT_OK);
    CHECK_EQ_INT(rt_subscribe_user(core, "ada", "user:ada"), RT_OK); /* idempotent */
    CHECK_EQ_INT(rt_publish(core, "user:ada", (const uint8_t *)"hello", 5, NULL, NULL), RT_OK);
    CHECK_EQ_INT(rt_core_sync(core), RT_OK);
    CHECK(sink_has(&s, "{\"type\":\"subscribed\",\"channel\":\"user:ada\",\"offset\":0,"));
    CHECK(sink_has(&s, "{\"type\":\"message\",\"channel\":\"user:ada\",\"offset\":1,"));
    CHECK(sink_has(&s, "\"data_b64\":\"aGVsbG8=\"}"));
    CHECK_EQ_INT(rt_unsubscribe_user(core, "ada", "user:ada"), RT_OK);
    CHECK_EQ_INT(rt_core_sync(core), RT_OK);
    CHECK(sink_has(&s, "{\"type\":\"unsubscribed\",\"channel\":\"user:ada\"}"));

    CHECK_EQ_INT(rt_subscribe_user(core, NULL, "user:ada"), RT_EINVAL);
    CHECK_EQ_INT(rt_subscribe_user(core, "ada", "bad name"), RT_EINVAL);
    CHECK_EQ_INT(rt_subscribe_user(core, "ada", "nope:x"), RT_ENOTFOUND);
    CHECK_EQ_INT(rt_unsubscribe_user(NULL, "ada", "user:ada"), RT_EINVAL);
    CHECK_EQ_INT(rt_conn_close(&conn), RT_OK);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
}

int main(void)
{
    RUN(test_host_fed_connection);
    RUN(test_garbage_is_refused_and_close_after_core_close);
    RUN(test_attached_feed_is_processed_before_it_returns);
    RUN(test_no_connect_within_the_timeout_is_disconnected_with_4004);
    RUN(test_server_side_subscription_of_an_identified_connection);
    return harness_summary();
}
