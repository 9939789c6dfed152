/*
 * The WebSocket endpoint through the C ABI: rt_core_listen on a free loopback port, then a
 * plain C client over a real socket performs the opening handshake (RFC 6455 §1.3 example key)
 * and is refused where it should be.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <realtime.h>

#include "harness.h"

/* Connects to 127.0.0.1:port, sends `request`, and reads the answer's head into `out`. */
static int exchange(uint16_t port, const char *request, char *out, size_t cap)
{
    struct sockaddr_in addr;
    struct timeval timeout = {10, 0};
    size_t used = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    if (write(fd, request, strlen(request)) != (ssize_t)strlen(request)) {
        close(fd);
        return -1;
    }
    while (used + 1 < cap) {
        ssize_t n = read(fd, out + used, cap - 1 - used);
        if (n <= 0)
            break;
        used += (size_t)n;
        out[used] = '\0';
        if (strstr(out, "\r\n\r\n") != NULL)
            break;
    }
    out[used] = '\0';
    close(fd);
    return (int)used;
}

static const char *upgrade =
    "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

static void test_listen_and_handshake(void)
{
    rt_config cfg = RT_CONFIG_INIT;
    rt_listen_config lc = RT_LISTEN_CONFIG_INIT;
    rt_core *core = NULL;
    uint16_t port = 0;
    char answer[4096];

    CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_OK);
    if (core == NULL)
        return;
    CHECK_EQ_INT(rt_core_listen(core, "127.0.0.1", 0, &lc, &port), RT_ESTATE); /* not running */
    CHECK_EQ_INT(rt_core_start(core), RT_OK);
    CHECK_EQ_INT(rt_core_listen(core, "127.0.0.1", 0, &lc, &port), RT_OK);
    CHECK(port != 0);

    CHECK(exchange(port, upgrade, answer, sizeof answer) > 0);
    CHECK(strncmp(answer, "HTTP/1.1 101 Switching Protocols\r\n", 34) == 0);
    CHECK(strstr(answer, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") != NULL);

    CHECK(exchange(port, "GET /other HTTP/1.1\r\nHost: x\r\n\r\n", answer, sizeof answer) > 0);
    CHECK(strncmp(answer, "HTTP/1.1 404 ", 13) == 0);

    /* The same port again is in use. */
    CHECK_EQ_INT(rt_core_listen(core, "127.0.0.1", port, NULL, NULL), RT_EIO);
    CHECK(strlen(rt_core_errmsg(core)) > 0);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
}

static void test_listen_options(void)
{
    rt_config cfg = RT_CONFIG_INIT;
    rt_listen_config lc;
    rt_core *core = NULL;
    uint16_t port = 0;
    char answer[4096];
    const char *origins[] = {"https://app.example"};

    CHECK_EQ_INT(rt_listen_config_init(NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_listen_config_init(&lc), RT_OK);
    CHECK_EQ_INT(lc.struct_size, sizeof(rt_listen_config));
    CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_OK);
    if (core == NULL)
        return;
    CHECK_EQ_INT(rt_core_start(core), RT_OK);

    CHECK_EQ_INT(rt_core_listen(NULL, "127.0.0.1", 0, NULL, NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_core_listen(core, NULL, 0, NULL, NULL), RT_EINVAL);
    CHECK_EQ_INT(rt_core_listen(core, "localhost", 0, NULL, NULL), RT_EINVAL); /* not a literal */
    lc.path = "no-slash";
    CHECK_EQ_INT(rt_core_listen(core, "127.0.0.1", 0, &lc, NULL), RT_EINVAL);
    lc.path = NULL;
    lc.max_message_bytes = (size_t)1 << 31;
    CHECK_EQ_INT(rt_core_listen(core, "127.0.0.1", 0, &lc, NULL), RT_EINVAL);
    lc.max_message_bytes = 0;
    lc.connect_timeout_ms = 3600001;
    CHECK_EQ_INT(rt_core_listen(core, "127.0.0.1", 0, &lc, NULL), RT_EINVAL);
    lc.connect_timeout_ms = 0;
    lc.struct_size = 8;
    CHECK_EQ_INT(rt_core_listen(core, "127.0.0.1", 0, &lc, NULL), RT_EVERSION);
    lc.struct_size = sizeof lc;

    lc.path = "/socket";
    lc.allowed_origins = origins;
    lc.allowed_origin_count = 1;
    CHECK_EQ_INT(rt_core_listen(core, "127.0.0.1", 0, &lc, &port), RT_OK);
    CHECK(exchange(port,
                   "GET /socket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                   "Origin: https://evil.example\r\n\r\n",
                   answer, sizeof answer) > 0);
    CHECK(strncmp(answer, "HTTP/1.1 403 ", 13) == 0);
    CHECK(exchange(port,
                   "GET /socket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                   "Origin: https://app.example\r\n\r\n",
                   answer, sizeof answer) > 0);
    CHECK(strncmp(answer, "HTTP/1.1 101 ", 13) == 0);

    /* Stopping closes the listener: a later connect is refused. */
    CHECK_EQ_INT(rt_core_stop(core), RT_OK);
    CHECK(exchange(port, upgrade, answer, sizeof answer) <= 0);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
}

/* Allows the token "good", asks for credentials when there are none, refuses the rest. */
static int auth_calls;
static int check_token(void *user_data, const rt_auth_request *request, rt_identity *identity)
{
    auth_calls += *(int *)user_data;
    if (request->token == NULL)
        return request->token_len == 0 ? RT_AUTH_UNAUTHORIZED : RT_AUTH_FORBIDDEN;
    if (strcmp(request->path, "/ws") != 0 || identity->user[0] != 0)
        return RT_AUTH_FORBIDDEN; /* the path is given, and the identity arrives empty */
    if (request->token_len == 4 && strcmp(request->token, "good") == 0) {
        strcpy(identity->user, "ada");
        return RT_AUTH_ALLOW;
    }
    return RT_AUTH_FORBIDDEN;
}

static void test_auth_hook(void)
{
    rt_config cfg = RT_CONFIG_INIT;
    rt_listen_config lc = RT_LISTEN_CONFIG_INIT;
    rt_core *core = NULL;
    uint16_t port = 0;
    int one = 1;
    char answer[4096];
    static const char *request =
        "GET /ws%s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    char text[512];

    CHECK_EQ_INT(rt_core_open(&cfg, &core), RT_OK);
    if (core == NULL)
        return;
    CHECK_EQ_INT(rt_core_start(core), RT_OK);
    lc.auth_fn = check_token;
    lc.auth_user_data = &one;
    CHECK_EQ_INT(rt_core_listen(core, "127.0.0.1", 0, &lc, &port), RT_OK);

    snprintf(text, sizeof text, request, "?token=good");
    CHECK(exchange(port, text, answer, sizeof answer) > 0);
    CHECK(strncmp(answer, "HTTP/1.1 101 ", 13) == 0);
    snprintf(text, sizeof text, request, "?token=bad");
    CHECK(exchange(port, text, answer, sizeof answer) > 0);
    CHECK(strncmp(answer, "HTTP/1.1 403 ", 13) == 0);
    snprintf(text, sizeof text, request, "");
    CHECK(exchange(port, text, answer, sizeof answer) > 0);
    CHECK(strncmp(answer, "HTTP/1.1 401 ", 13) == 0);
    CHECK_EQ_INT(rt_core_sync(core), RT_OK);
    CHECK_EQ_INT(auth_calls, 3);
    CHECK_EQ_INT(rt_core_close(&core), RT_OK);
}

int main(void)
{
    RUN(test_auth_hook);
    RUN(test_listen_and_handshake);
    RUN(test_listen_options);
    return harness_summary();
}
