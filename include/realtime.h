/*
 * realtime.h — the C interface of RealtimeCore, an embeddable real-time engine.
 *
 * Conventions (they hold for every function below unless its comment says otherwise):
 *
 *  - Every exported name starts with rt_ (functions, types) or RT_ (macros and constants).
 *  - Fallible functions return rt_status: RT_OK (0) on success, a negative RT_E* code on failure.
 *    Results go through out-parameters, which are left untouched on failure unless documented.
 *    rt_strerror() names a code; rt_core_errmsg() gives the detailed message of the last failure.
 *  - No input can crash the library: NULL pointers, bad sizes and bad values are reported as
 *    RT_EINVAL (or the code documented for them), never by aborting the host process.
 *  - Configuration structs begin with `size_t struct_size`, which the caller sets to
 *    sizeof(the struct) (the RT_*_INIT macros do). Later versions only append fields, so a host
 *    built against an older header keeps working with a newer library.
 *  - Buffers are pointer + length (rt_bytes); strings passed in are NUL-terminated UTF-8 unless
 *    documented otherwise. What the library allocates, the library frees (rt_bytes_free).
 *  - Callbacks take `void *user_data` first. Each callback's comment says on which thread it runs
 *    and whether it may call back into the library.
 *
 * Threading: an rt_core owns one libuv loop; all engine state is confined to that loop's thread.
 * Functions documented "any thread" may be called from any thread at any time between
 * rt_core_open and rt_core_close. Using a handle concurrently with, or after, its close is
 * undefined behaviour, as with free().
 *
 * This header compiles as C99 and as C++17.
 */
#ifndef REALTIME_H
#define REALTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Version
 * ------------------------------------------------------------------------------------------- */

#define RT_VERSION_MAJOR 0
#define RT_VERSION_MINOR 1
#define RT_VERSION_PATCH 0
/** MAJOR * 1000000 + MINOR * 1000 + PATCH, e.g. 1002003 for 1.2.3. */
#define RT_VERSION_NUMBER (RT_VERSION_MAJOR * 1000000 + RT_VERSION_MINOR * 1000 + RT_VERSION_PATCH)
#define RT_VERSION_STRING "0.1.0"

/** The RT_VERSION_NUMBER the library was built with (compare with the header's). Any thread. */
uint32_t rt_version_number(void);

/** The version as a static string such as "0.1.0". Never NULL, never freed. Any thread. */
const char *rt_version_string(void);

/* ---------------------------------------------------------------------------------------------
 * Status codes
 * ------------------------------------------------------------------------------------------- */

/** 0 on success, a negative RT_E* value on failure. Values are stable across versions. */
typedef int rt_status;

#define RT_OK 0
/** An argument is invalid: a NULL pointer where one is required, a value out of range. */
#define RT_EINVAL (-1)
/** A struct's struct_size is one this library does not understand. */
#define RT_EVERSION (-2)
/** The call is not valid in the handle's current state (e.g. start while running). */
#define RT_ESTATE (-3)
/** Memory or another resource could not be allocated. */
#define RT_ENOMEM (-4)
/** A file could not be opened, created, read or written (path missing, read-only, disk full). */
#define RT_EIO (-5)
/** The database file is damaged or is not a database (the file is left untouched); or data fails
 *  authentication: a sealed payload or a token tampered with or malformed. */
#define RT_ECORRUPT (-6)
/** The database was written by a newer version of the library, or by another application. */
#define RT_ESCHEMA (-7)
/** The database is locked by another process or connection. */
#define RT_EBUSY (-8)
/** The event loop failed (a libuv error; the message names it). */
#define RT_ELOOP (-9)
/** The core is stopping or stopped, so the call cannot be carried out. */
#define RT_ECLOSED (-10)
/** The call did not complete within its time limit. */
#define RT_ETIMEDOUT (-11)
/** No such channel, namespace or item. */
#define RT_ENOTFOUND (-12)
/** Not allowed for this caller (e.g. a namespace's publish policy, an expired token). */
#define RT_EPERM (-13)
/** Data larger than its limit. */
#define RT_ETOOBIG (-14)
/** Temporarily unable; the same call may succeed when retried. */
#define RT_EAGAIN (-15)
/** A bug in the library: please report it with the message from rt_core_errmsg(). */
#define RT_EINTERNAL (-99)

/**
 * A static, human-readable name for a status, e.g. "invalid argument". Unknown codes give
 * "unknown status". Never NULL, never freed. Any thread.
 */
const char *rt_strerror(rt_status status);

/* ---------------------------------------------------------------------------------------------
 * Buffers
 * ------------------------------------------------------------------------------------------- */

/** A byte buffer: `len` bytes at `data`. Not NUL-terminated unless a function says so. */
typedef struct rt_bytes {
    uint8_t *data;
    size_t len;
} rt_bytes;

/**
 * Frees a buffer the library allocated and sets it to {NULL, 0}. NULL, or a buffer that is
 * already {NULL, 0}, is a no-op, so calling it twice on the same rt_bytes is safe. Only pass
 * buffers that a rt_* function filled in. Any thread.
 */
void rt_bytes_free(rt_bytes *bytes);

/* ---------------------------------------------------------------------------------------------
 * Configuration
 * ------------------------------------------------------------------------------------------- */

/** Durability of stored data: when a write is acknowledged, and what survives a crash. */
#define RT_DURABILITY_FULL 0   /**< acknowledged after commit and fsync: survives kill -9 and power loss */
#define RT_DURABILITY_NORMAL 1 /**< acknowledged after commit: survives kill -9, may lose the last writes on power loss */
#define RT_DURABILITY_OFF 2    /**< acknowledged when queued: a crash may lose recent writes */

/** Log levels: a message is delivered when its level is <= rt_config.log_level. */
#define RT_LOG_OFF 0
#define RT_LOG_ERROR 1
#define RT_LOG_WARN 2
#define RT_LOG_INFO 3
#define RT_LOG_DEBUG 4

/**
 * Receives the library's log messages. `msg` is NUL-terminated UTF-8, valid only during the
 * call. Runs on whichever thread produced the message (the caller's, the loop thread or the
 * store's writer thread), possibly on several at once; it must not call back into the library.
 */
typedef void (*rt_log_fn)(void *user_data, int level, const char *msg);

/** Options for rt_core_open. Initialise with RT_CONFIG_INIT or rt_config_init(). */
typedef struct rt_config {
    /** sizeof(rt_config) as the caller was compiled. */
    size_t struct_size;
    /**
     * Path of the SQLite database file, NUL-terminated UTF-8, created if missing (its directory
     * must exist). NULL keeps everything in memory, lost at close. Copied by rt_core_open.
     */
    const char *db_path;
    /** One of RT_DURABILITY_*. Default RT_DURABILITY_FULL. */
    int durability;
    /** One of RT_LOG_*. Default RT_LOG_WARN. */
    int log_level;
    /** Where log messages go; NULL discards them. */
    rt_log_fn log_fn;
    /** Passed as the first argument of log_fn. */
    void *log_user_data;
} rt_config;

/** Static initialiser with every default: `rt_config cfg = RT_CONFIG_INIT;` */
#define RT_CONFIG_INIT {sizeof(rt_config), NULL, RT_DURABILITY_FULL, RT_LOG_WARN, NULL, NULL}

/**
 * Sets *config to the defaults (the same as RT_CONFIG_INIT), for languages without C macros.
 * Returns RT_EINVAL if config is NULL. Any thread.
 */
rt_status rt_config_init(rt_config *config);

/* ---------------------------------------------------------------------------------------------
 * The core
 * ------------------------------------------------------------------------------------------- */

/** An engine instance: one event loop, one store. Opaque. */
typedef struct rt_core rt_core;

/**
 * Opens a core: validates the configuration, opens (or creates) the database, applies
 * migrations and starts the store's writer thread. The loop does not run until rt_core_start or
 * rt_core_attach.
 *
 * An existing file is checked before anything is written to it: a damaged file or one that is
 * not a SQLite database gives RT_ECORRUPT, a database of a newer schema or of another
 * application RT_ESCHEMA, an unusable path RT_EIO, a file locked by another process RT_EBUSY;
 * in every case the file is left exactly as it was.
 *
 * On success *out receives the handle, to be released with rt_core_close. On failure *out is set
 * to NULL (when out is not NULL) and rt_core_errmsg(NULL) on the same thread gives the detail.
 * Errors: RT_EINVAL (config or out NULL, bad durability or log level), RT_EVERSION (struct_size
 * smaller than the first rt_config, larger by more than 4096 bytes, or larger with non-zero bytes
 * this library does not know),
 * RT_EIO, RT_ECORRUPT, RT_ESCHEMA, RT_EBUSY, RT_ENOMEM, RT_ELOOP. Any thread; blocks for the
 * database open.
 */
rt_status rt_core_open(const rt_config *config, rt_core **out);

/**
 * Runs the core's loop on a new thread owned by the library. Returns once the loop is running.
 * Errors: RT_EINVAL (core NULL), RT_ESTATE (already started or attached), RT_ELOOP. Any thread
 * except the core's loop thread.
 */
rt_status rt_core_start(rt_core *core);

/**
 * Attaches the core to a libuv loop the host owns and runs (`uv_loop_t *`, passed as void * so
 * this header does not need uv.h). Must be called on the thread that runs that loop; the core's
 * callbacks then run there, inside the host's uv_run. The core's internal handles are unreferenced
 * (uv_unref), so they never keep the host's loop alive by themselves: calls from other threads are
 * served while the host's loop runs, which it does as long as the host has active handles of its
 * own (a server socket, a timer). Blocking calls made on the loop's own thread return RT_ESTATE.
 * Errors: RT_EINVAL (core or uv_loop NULL), RT_ESTATE (already started or attached), RT_ELOOP.
 */
rt_status rt_core_attach(rt_core *core, void *uv_loop);

/**
 * Stops the loop: waits until every call already posted to the core has run and every queued
 * store write is committed, then closes the core's loop handles. A started core's thread is
 * joined; an attached core's handles finish closing during the host's next loop iteration (run
 * the loop once more before uv_loop_close). The core can be started or attached again afterwards.
 *
 * A stopped core returns RT_OK at once. Errors: RT_EINVAL (core NULL), RT_ESTATE (called on the
 * loop thread of a started core, which cannot join itself). From another thread than an attached
 * loop's, it waits for that loop to run. Any thread.
 */
rt_status rt_core_stop(rt_core *core);

/**
 * Blocks until every call posted to the core before it has run on the loop and every store write
 * those calls queued is committed to the database with the configured durability — a barrier a
 * host uses before a backup or to know its earlier calls took effect.
 * Errors: RT_EINVAL (core NULL), RT_ESTATE (the loop is not running, or called on the loop's own
 * thread), RT_EIO (a queued write failed; the message says which). Any thread but the loop's.
 */
rt_status rt_core_sync(rt_core *core);

/**
 * Checks the database's integrity (SQLite `PRAGMA integrity_check`). On return *report (when
 * report is not NULL) holds the checker's UTF-8 text, "ok" when sound; free it with
 * rt_bytes_free. The text is also NUL-terminated (the terminator is not counted in len).
 * Returns RT_OK when the database is sound, RT_ECORRUPT when it is not (the report then says what
 * is damaged), RT_EINVAL if core is NULL, RT_ENOMEM. Any thread; blocks while the check reads the
 * whole file.
 */
rt_status rt_core_check(rt_core *core, rt_bytes *report);

/**
 * Stops the core if it is running (as rt_core_stop), closes the database and frees everything,
 * then sets *core to NULL. Idempotent: core == NULL or *core == NULL is a no-op returning RT_OK,
 * so calling it twice with the same variable is safe. Any thread, with one exception: a started
 * core cannot be closed from its own loop thread (a callback): that returns RT_ESTATE and the
 * core stays open.
 */
rt_status rt_core_close(rt_core **core);

/**
 * The detailed message of the most recent failed rt_* call made on the calling thread with this
 * core; with core == NULL, that of the most recent failed call on this thread that had no core
 * (rt_core_open). Returns "" when there is none. The string belongs to the library and stays
 * valid until the next rt_* call on the same thread. Never NULL. Any thread.
 */
const char *rt_core_errmsg(const rt_core *core);

/* ---------------------------------------------------------------------------------------------
 * WebSocket endpoint
 * ------------------------------------------------------------------------------------------- */

/** An authentication hook's answers. */
#define RT_AUTH_ALLOW 0
#define RT_AUTH_UNAUTHORIZED 401 /**< refuse: no or unusable credentials */
#define RT_AUTH_FORBIDDEN 403    /**< refuse: the credentials are not good enough */

/** What an authentication hook sees; every pointer is valid only during the call. */
typedef struct rt_auth_request {
    /** The credential the client sent — the `token` query parameter of the upgrade, else the
     *  value of `Authorization: Bearer`, or the `token` of its protocol `connect` message — as
     *  token_len bytes, also NUL-terminated; NULL (and 0) when it sent none. */
    const char *token;
    size_t token_len;
    /** The Origin field, or NULL. */
    const char *origin;
    /** The request path, NUL-terminated. */
    const char *path;
} rt_auth_request;

/** Who a client is, as the authentication hook says: NUL-terminated UTF-8, at most 128 bytes
 *  each. An empty user leaves the client anonymous; an empty device with a user is "default". */
typedef struct rt_identity {
    char user[129];
    char device[129];
} rt_identity;

/**
 * Decides whether a WebSocket client may proceed: at the upgrade (after the handshake's own
 * checks), and again when its `connect` message carries a token. `identity` arrives zeroed; the
 * hook may fill it to say who the client is (receipts and unread counts need it). Returns
 * RT_AUTH_ALLOW, RT_AUTH_UNAUTHORIZED or RT_AUTH_FORBIDDEN (any other value counts as forbidden).
 * Runs on the core's loop thread: it must be quick and must not call blocking rt_* functions.
 * Built-in tokens arrive with the security work; this hook is how a host plugs in its own.
 */
typedef int (*rt_auth_fn)(void *user_data, const rt_auth_request *request, rt_identity *identity);

/**
 * Options of a WebSocket listener. Zero in any numeric field, or NULL in a pointer field, means
 * the default given beside it, so a zeroed struct (with struct_size set) is a valid config.
 * Initialise with RT_LISTEN_CONFIG_INIT or rt_listen_config_init().
 */
typedef struct rt_listen_config {
    /** sizeof(rt_listen_config) as the caller was compiled. */
    size_t struct_size;
    /** Path of the WebSocket endpoint, NUL-terminated, starting with '/'. Default "/ws". */
    const char *path;
    /** Largest message, all fragments together; larger ones close with 1009. Default 1 MiB, at most 1 GiB. */
    size_t max_message_bytes;
    /** Largest HTTP request head; larger ones get 431. Default 16 KiB, at most 1 MiB. */
    size_t max_head_bytes;
    /** Most HTTP header fields; more get 431. Default 64, at most 10000. */
    uint32_t max_head_fields;
    /** Open connections in total; more get 503. Default 10000. */
    uint32_t max_connections;
    /** Open connections from one IP address; more get 503. Default 256. */
    uint32_t max_connections_per_ip;
    /** Connections still handshaking; more get 503. Default 1024. */
    uint32_t max_pending_handshakes;
    /** Milliseconds to finish the opening handshake (slowloris guard); then 408. Default 10000. */
    uint32_t handshake_timeout_ms;
    /** Milliseconds allowed for a closing handshake before the socket is dropped. Default 5000. */
    uint32_t close_timeout_ms;
    /**
     * Milliseconds of silence after which a client is closed with 1001; it is pinged after half
     * of it. Default 60000. Host-fed connections (rt_conn_*) leave keepalive to the host.
     */
    uint32_t idle_timeout_ms;
    /** Bytes queued for one client before it is closed as a slow consumer (1008). Default 4 MiB. */
    size_t max_write_queue_bytes;
    /**
     * Origins allowed to connect (exact "scheme://host[:port]" strings), allowed_origin_count of
     * them, copied by rt_core_listen. NULL allows every origin. A request without an Origin field
     * (not from a browser) is allowed either way.
     */
    const char *const *allowed_origins;
    size_t allowed_origin_count;
    /** Authentication hook; NULL lets every client in. */
    rt_auth_fn auth_fn;
    /** Passed as the first argument of auth_fn. */
    void *auth_user_data;
    /**
     * Milliseconds a client has, after the upgrade, to send its protocol `connect` message; then
     * it gets `disconnect` 4004 (docs/protocol.md). Default 10000, at most 3600000.
     */
    uint32_t connect_timeout_ms;
    /**
     * Whether the core checks the upgrade's access token itself: RT_TOKEN_AUTH_OFF (0, default:
     * auth_fn decides), RT_TOKEN_AUTH_OPTIONAL (a token, if sent, must be valid and names the
     * client; clients without one go on to auth_fn) or RT_TOKEN_AUTH_REQUIRED (no token: 401).
     * A valid token makes the identity its sub and device, without calling auth_fn; a forged or
     * unusable one gets 401; an expired one is accepted and closed at once with 4011 (refresh and
     * reconnect), one of a revoked session with 4012. Live connections close with 4011 when
     * their token expires and with 4012 when their session is revoked; a `token` in the
     * protocol's `connect` is checked the same way, and a `refresh` message swaps in a new
     * access token (docs/security.md).
     */
    int token_auth;
} rt_listen_config;

/** rt_listen_config.token_auth values. */
#define RT_TOKEN_AUTH_OFF 0
#define RT_TOKEN_AUTH_OPTIONAL 1
#define RT_TOKEN_AUTH_REQUIRED 2

/** Static initialiser with every default: `rt_listen_config lc = RT_LISTEN_CONFIG_INIT;` */
#define RT_LISTEN_CONFIG_INIT {sizeof(rt_listen_config), NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, NULL, 0, NULL, NULL, 0, 0}

/** Sets *config to the defaults (RT_LISTEN_CONFIG_INIT). RT_EINVAL if config is NULL. Any thread. */
rt_status rt_listen_config_init(rt_listen_config *config);

/**
 * Listens for WebSocket clients on host:port on the core's loop. `host` is an IPv4 or IPv6
 * address literal, NUL-terminated ("127.0.0.1", "::1", "0.0.0.0"); port 0 picks a free port,
 * reported in *bound_port when bound_port is not NULL. `config` NULL means every default.
 * Listeners close when the core stops; clients then get close code 1001.
 * Errors: RT_EINVAL (core or host NULL, host not an address, a limit out of range, a path not
 * starting with '/'), RT_EVERSION (struct_size), RT_ESTATE (the loop is not running, or called on
 * the loop's thread), RT_EIO (the address cannot be bound, e.g. in use). Any thread but the loop's;
 * blocks until the socket is listening.
 */
rt_status rt_core_listen(rt_core *core, const char *host, uint16_t port, const rt_listen_config *config,
                         uint16_t *bound_port);

/* ---------------------------------------------------------------------------------------------
 * Connections on the host's own sockets
 * ------------------------------------------------------------------------------------------- */

/**
 * A WebSocket connection whose socket the host owns (a C server, Node, Go): the host feeds the
 * bytes it reads with rt_conn_feed and writes out what the output callback gives it. The same
 * protocol engine serves these and the core's own listener. Opaque.
 */
typedef struct rt_conn rt_conn;

/**
 * Receives bytes to write to the peer, in order. `data` is valid only during the call. Runs on
 * the core's loop thread; it must not block and must not call rt_conn_close or any blocking rt_*
 * function (it may copy the bytes and return).
 */
typedef void (*rt_conn_output_fn)(void *user_data, const uint8_t *data, size_t len);

/**
 * Called once when the connection is over (closing handshake done, protocol error, refused
 * handshake, or the core stopping): the host closes its socket after writing everything output
 * gave it. Runs on the loop thread, under the same rules as rt_conn_output_fn. The handle must
 * still be released with rt_conn_close.
 */
typedef void (*rt_conn_end_fn)(void *user_data);

/**
 * Opens a host-fed connection in its opening-handshake state. `config` supplies the session
 * rules (path, message and head limits, origins, handshake timeout; connection counts do not
 * apply); NULL means the defaults. `output` is required; `end` and user_data may be NULL.
 * Errors: RT_EINVAL, RT_EVERSION, RT_ESTATE (the loop is not running). Any thread; on a thread
 * other than the loop's it waits for the loop.
 */
rt_status rt_conn_open(rt_core *core, const rt_listen_config *config, rt_conn_output_fn output,
                       rt_conn_end_fn end, void *user_data, rt_conn **out);

/**
 * Hands the core `len` bytes the host read from its socket (copied; at most 16 MiB per call).
 * On the loop's thread they are processed before this returns; on another thread they are queued
 * in order and processed on the loop. Bytes for a connection that has ended are ignored.
 * Errors: RT_EINVAL (conn NULL, data NULL with len > 0, len too large), RT_ESTATE (the core is
 * not running); rt_core_errmsg of the connection's core gives the detail. Any thread.
 */
rt_status rt_conn_feed(rt_conn *conn, const uint8_t *data, size_t len);

/**
 * Ends the connection if it is still open (without a closing handshake: the host is closing its
 * socket), guarantees that neither callback runs after it returns, frees the handle and sets
 * *conn to NULL. Idempotent like rt_core_close. Any thread except inside this connection's own
 * callbacks; may be called after rt_core_close of its core.
 */
rt_status rt_conn_close(rt_conn **conn);

/* ---------------------------------------------------------------------------------------------
 * Channels
 *
 * A channel is named by 1 to 255 bytes of ASCII letters, digits and _ - . : @ / = + ~ !; the part
 * before the first ':' is its namespace ("" when there is none), whose options apply. Each
 * channel has an epoch and gapless offsets 1, 2, 3... (docs/protocol.md). The default namespace
 * "" is persistent with 1,000 messages of history; other namespaces must be configured before
 * their channels are used (RT_ENOTFOUND otherwise). The core must be running for every call here.
 * ------------------------------------------------------------------------------------------- */

/** Namespace flag: keep its channels in memory only (lost on restart). Default: persistent. */
#define RT_NAMESPACE_IN_MEMORY 1u
/** Namespace flag: clients may not subscribe over the protocol (the host still may). */
#define RT_NAMESPACE_NO_CLIENT_SUBSCRIBE 2u
/** The namespace's channels keep presence: identified subscribers appear in it, members get
 *  `presence` diffs and `typing` (docs/protocol.md, "Presence"). */
#define RT_NAMESPACE_PRESENCE 4u
/** Namespace flag: end-to-end. Every publication must be binary data sealed by the client: the
 *  version byte 1, then at least 40 bytes (nonce and tag); anything else (JSON, short or other
 *  data) is refused with RT_EINVAL. The core routes and stores the bytes untouched and never
 *  seals them again at rest (docs/security.md, "End-to-end namespaces"). */
#define RT_NAMESPACE_END_TO_END 8u

/** Who may publish over the protocol; the host always may. */
#define RT_PUBLISH_CLIENTS 0
#define RT_PUBLISH_SUBSCRIBERS 1
#define RT_PUBLISH_SERVER 2

/** The options of a namespace's channels. Zero fields mean defaults. */
typedef struct rt_namespace_config {
    /** sizeof(rt_namespace_config) as the caller was compiled. */
    size_t struct_size;
    /** RT_NAMESPACE_* flags. */
    uint32_t flags;
    /** Messages kept per channel for history and recovery. Default 1000, at most 1000000. */
    uint32_t history_size;
    /** Messages older than this (ms) leave history; the newest is always kept. Default 0: no limit. */
    uint64_t history_age_ms;
    /** RT_PUBLISH_CLIENTS (default), RT_PUBLISH_SUBSCRIBERS or RT_PUBLISH_SERVER. */
    int publish_policy;
    /** How long an idempotency key is remembered (ms). Default 600000, at most 86400000. */
    uint64_t idempotency_window_ms;
    /** A subscriber that cannot keep up: RT_SLOW_CONSUMER_DISCONNECT (default),
     *  RT_SLOW_CONSUMER_DROP_OLDEST or RT_SLOW_CONSUMER_COALESCE (docs/protocol.md, "Slow
     *  consumers"). */
    int slow_consumer;
} rt_namespace_config;

/** Slow consumers get `disconnect` 4005 and recover from history on reconnect. */
#define RT_SLOW_CONSUMER_DISCONNECT 0
/** Slow consumers lose the channel's oldest held messages and are told with a `gap` message. */
#define RT_SLOW_CONSUMER_DROP_OLDEST 1
/** Slow consumers get only the newest held message per coalescing key (rt_publish_opts.coalesce_key,
 *  the protocol's `key`), with a `gap` of reason "coalesced" for what was replaced; messages without
 *  a key are dropped oldest first when the queue is full. */
#define RT_SLOW_CONSUMER_COALESCE 2

/** Static initialiser with every default. */
#define RT_NAMESPACE_CONFIG_INIT {sizeof(rt_namespace_config), 0, 0, 0, 0, 0, 0}

/** Fills *config with the defaults of RT_NAMESPACE_CONFIG_INIT. RT_EINVAL if config is NULL. */
rt_status rt_namespace_config_init(rt_namespace_config *config);

/**
 * Sets the options of namespace `name` (0 to 64 bytes of a-z, 0-9, _ and -; "" is the default
 * namespace); NULL config means defaults. Channels already in use keep their old options until
 * they are reopened. Errors: RT_EINVAL (a bad name or value), RT_EVERSION, RT_ESTATE (not
 * running). Any thread.
 */
rt_status rt_core_set_namespace(rt_core *core, const char *name, const rt_namespace_config *config);

/** One channel message, valid only during the callback that receives it. */
typedef struct rt_message {
    /** The channel name, NUL-terminated (channel_len bytes before the NUL). */
    const char *channel;
    size_t channel_len;
    /** The channel's epoch, NUL-terminated. */
    const char *epoch;
    uint64_t offset;
    /** Publish time, ms since 1970. */
    uint64_t time_ms;
    const uint8_t *data;
    size_t len;
    /** Non-zero when data is one JSON value. */
    int is_json;
} rt_message;

/** Receives channel messages (subscriptions, history), on the thread each function documents. */
typedef void (*rt_message_fn)(void *user_data, const rt_message *message);

/**
 * The outcome of a publish made with a callback: status RT_OK and the message's offset, or an
 * error status (offset 0). Runs on the loop thread.
 */
typedef void (*rt_publish_fn)(void *user_data, rt_status status, uint64_t offset);

/** Options of rt_publish. Zero fields mean defaults. */
typedef struct rt_publish_opts {
    /** sizeof(rt_publish_opts) as the caller was compiled. */
    size_t struct_size;
    /** NUL-terminated key (1 to 128 bytes): a publish repeated with it within the namespace's
     *  window stores nothing and reports the original offset. NULL: none. */
    const char *idempotency_key;
    /** Non-zero: data is one JSON value (checked; RT_EINVAL if not). */
    int is_json;
    /** NULL: rt_publish waits for the outcome (not on the loop thread). Otherwise rt_publish
     *  returns at once and `done` reports the outcome on the loop thread. */
    rt_publish_fn done;
    /** Passed to done. */
    void *done_user_data;
    /** NUL-terminated coalescing key (1 to 128 bytes), or NULL: in a namespace with
     *  RT_SLOW_CONSUMER_COALESCE, a newer message with the same key replaces this one while it is
     *  held for a slow subscriber. Delivered with live messages; not stored. */
    const char *coalesce_key;
} rt_publish_opts;

/** Static initialiser with every default. */
#define RT_PUBLISH_OPTS_INIT {sizeof(rt_publish_opts), NULL, 0, NULL, NULL, NULL}

/**
 * Publishes `len` bytes of data (copied; at most 1 MiB) to `channel`. Without opts->done it waits
 * until the message is delivered to every subscriber (after its commit, for a persistent channel:
 * with durability full, on disk) and sets *offset (may be NULL). With opts->done it returns RT_OK
 * once the publish is queued and reports the outcome through done.
 * Errors: RT_EINVAL (bad name, data NULL with len > 0, bad key, is_json data that is not JSON),
 * RT_ENOTFOUND (namespace not configured), RT_ETOOBIG, RT_EAGAIN (retry), RT_ESTATE (not running,
 * or waiting on the loop thread), RT_EIO (the commit failed). Any thread.
 */
rt_status rt_publish(rt_core *core, const char *channel, const uint8_t *data, size_t len,
                     const rt_publish_opts *opts, uint64_t *offset);

/** A host-side subscription. */
typedef struct rt_sub rt_sub;

/** Receipt kinds. */
#define RT_RECEIPT_DELIVERED 0
#define RT_RECEIPT_READ 1

/** A member's receipt in a channel, valid only during the callback that receives it: `user` on
 *  `device` received (RT_RECEIPT_DELIVERED) or read (RT_RECEIPT_READ) the messages up to `offset`. */
typedef struct rt_receipt_event {
    /** NUL-terminated, like user and device. */
    const char *channel;
    const char *user;
    const char *device;
    uint64_t offset;
    int kind;
} rt_receipt_event;

/** Receives receipt events of a host subscription, on the loop thread. */
typedef void (*rt_receipt_fn)(void *user_data, const rt_receipt_event *receipt);

/** Receives a channel's presence diffs, on the loop thread: `diff` (len bytes, valid during the
 *  call) is the JSON of the protocol's `presence` event, {"join":[...],"leave":[...],"update":[...]}. */
typedef void (*rt_presence_diff_fn)(void *user_data, const char *channel, const uint8_t *diff, size_t len);

/** Options and results of rt_subscribe. Zero fields mean defaults. */
typedef struct rt_subscribe_opts {
    /** sizeof(rt_subscribe_opts) as the caller was compiled. */
    size_t struct_size;
    /** Recovery: the epoch (NUL-terminated) and offset of the last message the host has; the
     *  messages after it are replayed first if history still has them. NULL: no recovery. */
    const char *since_epoch;
    uint64_t since_offset;
    /** Out: the channel's epoch (NUL-terminated) and newest offset when the subscription began. */
    char epoch[65];
    uint64_t offset;
    /** Out: 1 recovered (everything after since was replayed), 0 not (read history instead),
     *  -1 no recovery was asked for. */
    int recovered;
    /** Optional: called on the loop thread for every receipt that moves a member's cursor in the
     *  channel (rt_receipt, or a client's `receipt`), until rt_unsubscribe. NULL: none. */
    rt_receipt_fn on_receipt;
    /** Passed to on_receipt. */
    void *receipt_user_data;
    /** Optional: called on the loop thread with every presence diff of the channel (a presence
     *  namespace), until rt_unsubscribe. NULL: none. */
    rt_presence_diff_fn on_presence;
    /** Passed to on_presence. */
    void *presence_user_data;
} rt_subscribe_opts;

/** Static initialiser with every default. */
#define RT_SUBSCRIBE_OPTS_INIT {sizeof(rt_subscribe_opts), NULL, 0, {0}, 0, 0, NULL, NULL, NULL, NULL}

/**
 * Subscribes the host to `channel`: `fn` runs on the loop thread for every message, in offset
 * order, each once, until rt_unsubscribe; replayed messages (recovery) come first. `opts` may be
 * NULL; its out fields are filled on success. Errors: RT_EINVAL, RT_ENOTFOUND, RT_ESTATE, RT_EIO.
 * Any thread (on the loop thread, the replay runs before this returns).
 */
rt_status rt_subscribe(rt_core *core, const char *channel, rt_subscribe_opts *opts, rt_message_fn fn,
                       void *user_data, rt_sub **out);

/**
 * Ends a subscription: after it returns, its callback does not run again (inside the callback
 * itself, no further message reaches it). Frees the handle and sets *sub to NULL. Idempotent;
 * may be called after rt_core_close. Any thread.
 */
rt_status rt_unsubscribe(rt_sub **sub);

/** Options of rt_history. Zero fields mean defaults. */
typedef struct rt_history_opts {
    /** sizeof(rt_history_opts) as the caller was compiled. */
    size_t struct_size;
    /** Only messages with offset < before (0: no bound); the newest such are returned. */
    uint64_t before;
    /** Only messages with offset > after (0: from the start); the oldest such are returned. */
    uint64_t after;
    /** At most this many messages, 1 to 1000. Default 100. */
    uint32_t limit;
    /** Out: the channel's epoch (NUL-terminated) and newest offset. */
    char epoch[65];
    uint64_t top;
} rt_history_opts;

/** Static initialiser with every default. */
#define RT_HISTORY_OPTS_INIT {sizeof(rt_history_opts), 0, 0, 0, {0}, 0}

/**
 * Reads a channel's stored messages, oldest first, calling `fn` for each on the calling thread
 * before it returns. `opts` may be NULL. Errors: RT_EINVAL (bad name or limit), RT_ENOTFOUND,
 * RT_ESTATE, RT_EIO, RT_ECORRUPT. Any thread.
 */
rt_status rt_history(rt_core *core, const char *channel, rt_history_opts *opts, rt_message_fn fn,
                     void *user_data);

/**
 * Records that `user` on `device` (NUL-terminated, 1 to 128 bytes each) received
 * (RT_RECEIPT_DELIVERED) or read (RT_RECEIPT_READ, which implies delivered) the messages of
 * `channel` up to `offset`. Cursors only move forward and never past the channel's newest offset
 * (RT_EINVAL); they are stored, and the channel's subscribers get a `receipt` event when one
 * moves. Errors: RT_EINVAL, RT_ENOTFOUND, RT_ESTATE. Any thread.
 */
rt_status rt_receipt(rt_core *core, const char *channel, const char *user, const char *device, uint64_t offset,
                     int kind);

/**
 * Sets *count to the number of messages of `channel` after the newest one `user` has read on any
 * of their devices. Errors: RT_EINVAL, RT_ENOTFOUND, RT_ESTATE, RT_EIO. Any thread.
 */
rt_status rt_unread(rt_core *core, const char *channel, const char *user, uint64_t *count);

/**
 * Server-side subscription: subscribes every session of `user` (as named by the authentication
 * hook), open now or connecting later while the core runs, to `channel`; each client gets a
 * `subscribed` message without an id and the channel's messages from then on. Idempotent.
 * Errors: RT_EINVAL (bad user or channel), RT_ENOTFOUND (namespace), RT_ENOMEM (over 1,024
 * channels for the user), RT_ESTATE. Any thread.
 */
rt_status rt_subscribe_user(rt_core *core, const char *user, const char *channel);

/** Ends a server-side subscription in every session of `user` (each client gets `unsubscribed`).
 *  Idempotent. Errors: RT_EINVAL, RT_ESTATE. Any thread. */
rt_status rt_unsubscribe_user(rt_core *core, const char *user, const char *channel);

/* ---- Presence ---------------------------------------------------------------------------- */

/**
 * Sets the host's presence entry for `user` and `client` (NUL-terminated, 1 to 128 bytes each) in
 * `channel` (a presence namespace): a join, or an update if it exists, lasting `lease_ms` (1 ms
 * to 1 day) unless set again — a host's heartbeat. `status` NULL means "online" (else 1 to 32
 * bytes); `meta` (meta_len bytes, at most 1 KiB) one JSON object, or NULL for {}. Members hear
 * of it in the next diff. Errors: RT_EINVAL, RT_ETOOBIG, RT_ENOTFOUND, RT_ENOMEM (100,000 entries),
 * RT_ESTATE. Any thread.
 */
rt_status rt_presence_set(rt_core *core, const char *channel, const char *user, const char *client,
                          const char *status, const uint8_t *meta, size_t meta_len, uint64_t lease_ms);

/** Ends the entry of `user` and `client` in `channel` (no error if there is none). Errors: RT_EINVAL,
 *  RT_ENOTFOUND, RT_ESTATE. Any thread. */
rt_status rt_presence_clear(rt_core *core, const char *channel, const char *user, const char *client);

/** Sets *users (online: with at least one entry) and *entries (either may be NULL). Errors:
 *  RT_EINVAL, RT_ENOTFOUND, RT_ESTATE. Any thread. */
rt_status rt_presence_count(rt_core *core, const char *channel, uint64_t *users, uint64_t *entries);

/** One presence entry, valid only during the callback that receives it. */
typedef struct rt_presence_entry {
    const char *user;
    const char *client;
    const char *status;
    /** One JSON object. */
    const uint8_t *meta;
    size_t meta_len;
} rt_presence_entry;

typedef void (*rt_presence_fn)(void *user_data, const rt_presence_entry *entry);

/**
 * Lists up to `limit` (1 to 1000) entries of `channel` in (user, client) order, after the entry
 * `after_user`/`after_client` (both NULL: from the start), calling `fn` for each on the calling
 * thread before it returns; *more (may be NULL) is 1 when entries follow the last one given.
 * Errors: RT_EINVAL, RT_ENOTFOUND, RT_ESTATE. Any thread.
 */
rt_status rt_presence_list(rt_core *core, const char *channel, const char *after_user, const char *after_client,
                           uint32_t limit, rt_presence_fn fn, void *user_data, int *more);

/** Tells `channel`'s members that `user` is typing (passed on at most once a second per user;
 *  clients show it for 5 s). Errors: RT_EINVAL, RT_ENOTFOUND, RT_ESTATE. Any thread. */
rt_status rt_typing(rt_core *core, const char *channel, const char *user);

/**
 * Sets *online to 1 when `user` (as the authentication hook names users) has a session open now;
 * else 0, and *time_ms (may be NULL) to when their last session ended, in ms since 1970 (0: never
 * seen). Stored in the database, so it survives restarts. Errors: RT_EINVAL, RT_ESTATE, RT_EIO.
 * Any thread.
 */
rt_status rt_last_seen(rt_core *core, const char *user, int *online, uint64_t *time_ms);

/* ---- Rate limits ------------------------------------------------------------------------- */

/** A rate limit (GCRA): `count` units per `period_ms`, up to `burst` of them at once. Over any
 *  window of length T at most burst + T * count / period_ms units pass. */
typedef struct rt_limit_policy {
    /** sizeof(rt_limit_policy) as the caller was compiled. */
    size_t struct_size;
    /** Units per period: 1 to one per nanosecond of the period. */
    uint64_t count;
    /** The period, 1 ms to 1 day. */
    uint64_t period_ms;
    /** Units that may pass at once, 1 to 1000000. */
    uint64_t burst;
} rt_limit_policy;

/** Static initialiser (every field must then be set). */
#define RT_LIMIT_POLICY_INIT {sizeof(rt_limit_policy), 0, 0, 0}

/**
 * Sets the rate limit `name` (1 to 32 bytes of a-z, 0-9, _ and -), adding it if new (at most 64);
 * NULL policy turns it off (every check passes). The core's own: "publish" (per user, or per
 * connection when anonymous; default 100 a minute, burst 20), "subscribe" (per connection),
 * "presence", "typing", "chunk" (file chunks over the protocol; 12,000 a minute, burst 2,000),
 * "abuse" (refusals, past which a client is disconnected with 4006); for
 * the host: "login" (5 a minute, burst 5) and "request" (100 a minute, burst 20). Keys keep
 * their state across a change. Errors: RT_EINVAL, RT_EVERSION, RT_ENOMEM. Any thread, any state.
 */
rt_status rt_limit_set(rt_core *core, const char *name, const rt_limit_policy *policy);

/**
 * Charges `cost` units to `key` (key_len bytes, 1 to 1024, any bytes) under the limit `policy`:
 * *allowed is 1 if they pass, else 0 with *retry_after_ms (may be NULL) saying when the same cost
 * would. Keys are hashed with a per-core secret (SipHash); state is 16 bytes per active key, and
 * keys whose limit has fully refilled are reclaimed. Past about a million active keys new keys
 * are refused. On any error *allowed is 0. Errors: RT_EINVAL (bad key, cost 0 or over the
 * burst), RT_ENOTFOUND (unknown policy). Any thread, any state; does not wait for the loop.
 */
rt_status rt_limit_check(rt_core *core, const char *policy, const void *key, size_t key_len, uint64_t cost,
                         int *allowed, uint64_t *retry_after_ms);

/* ---------------------------------------------------------------------------------------------
 * Documents: replicated text and task lists, merged across replicas edited offline (CRDTs)
 * ------------------------------------------------------------------------------------------- */

/** A handle on an open document. */
typedef struct rt_doc rt_doc;

/** Document kinds. */
#define RT_DOC_TEXT 1
#define RT_DOC_TASKS 2
#define RT_DOC_FILE 3

/** Flag of the text calls: positions and lengths count UTF-16 code units, not Unicode scalars. */
#define RT_DOC_UTF16 1u

/**
 * Opens document `id` (1 to 256 bytes of UTF-8, no NUL) of `kind`: loaded from its snapshot and
 * the updates stored after it, or created empty. The core keeps one replica per document, shared
 * by every handle and by the clients that sync it over the protocol; changes are persisted by
 * the loop, one log entry per loop turn, with a snapshot every 64 entries. Close every handle
 * with rt_doc_close. Errors: RT_EINVAL (bad id, or the document exists as another kind),
 * RT_ESTATE (core not running), RT_ECORRUPT or RT_EVERSION (stored state does not load), RT_ENOMEM. Any thread.
 */
rt_status rt_doc_open(rt_core *core, const char *id, int kind, rt_doc **out);

/** Closes a handle, frees it and sets *doc to NULL; the last close of a document writes its
 *  snapshot. Idempotent. Any thread. */
rt_status rt_doc_close(rt_doc **doc);

/**
 * Inserts `len` bytes of UTF-8 `text` at `pos` (Unicode scalars, or UTF-16 code units with
 * RT_DOC_UTF16; clamped to the text) into the open transaction. Errors: RT_EINVAL (not UTF-8,
 * not a text document), RT_ETOOBIG (over 16 M characters). Any thread.
 */
rt_status rt_doc_text_insert(rt_doc *doc, uint64_t pos, const char *text, size_t len, unsigned flags);

/** Deletes `len` characters from `pos` (units as in rt_doc_text_insert; clamped). Errors:
 *  RT_EINVAL. Any thread. */
rt_status rt_doc_text_delete(rt_doc *doc, uint64_t pos, uint64_t len, unsigned flags);

/** One edit of a batch: delete `delete_len` characters at `pos`, then insert `insert_len` bytes of
 *  UTF-8 there; `commit` nonzero ends a transaction after this edit. */
typedef struct rt_text_edit {
    uint64_t pos;
    uint64_t delete_len;
    const char *insert;
    size_t insert_len;
    int commit;
} rt_text_edit;

/** Receives an update (valid during the call). */
typedef void (*rt_update_fn)(void *user_data, const uint8_t *update, size_t len);

/**
 * Applies `count` edits in order under one lock; after each edit marked `commit`, commits the
 * transaction (as rt_doc_commit) and passes its update to `fn` (may be NULL). Stops at the first
 * bad edit, with the edits before it applied. Errors: as rt_doc_text_insert. Any thread.
 */
rt_status rt_doc_text_edits(rt_doc *doc, const rt_text_edit *edits, size_t count, unsigned flags, rt_update_fn fn,
                            void *user_data);

/** Copies the text as UTF-8 into *out (NUL-terminated beyond len; free with rt_bytes_free).
 *  Errors: RT_EINVAL, RT_ENOMEM. Any thread. */
rt_status rt_doc_text_get(rt_doc *doc, rt_bytes *out);

/** Sets the text's length in Unicode scalars and in UTF-16 code units (either may be NULL).
 *  Errors: RT_EINVAL. Any thread. */
rt_status rt_doc_text_length(rt_doc *doc, uint64_t *scalars, uint64_t *utf16);

/**
 * Commits the open transaction: its update, persisted and sent to the document's clients, is
 * copied to *out (may be NULL; {NULL, 0} when there were no changes; free with rt_bytes_free).
 * Errors: RT_EINVAL, RT_ENOMEM. Any thread.
 */
rt_status rt_doc_commit(rt_doc *doc, rt_bytes *out);

/** Copies the document's state vector (what this replica has seen; docs/protocol.md) to *out.
 *  Errors: RT_EINVAL, RT_ENOMEM. Any thread. */
rt_status rt_doc_state_vector(rt_doc *doc, rt_bytes *out);

/** Copies to *out an update holding everything here that a replica with state vector `since`
 *  (since_len bytes; NULL or 0 bytes: nothing seen) lacks. Errors: RT_EINVAL, RT_ECORRUPT (bad
 *  state vector), RT_ENOMEM. Any thread. */
rt_status rt_doc_diff(rt_doc *doc, const uint8_t *since, size_t since_len, rt_bytes *out);

/**
 * Applies an update from another replica, in any order and as often as it arrives (what depends
 * on changes not yet here waits for them); it is persisted and passed on to the document's
 * clients. Errors, with the document unchanged: RT_ECORRUPT (malformed, inconsistent, or claiming
 * this replica's own edits), RT_EVERSION (unknown format), RT_ETOOBIG. Any thread.
 */
rt_status rt_doc_apply(rt_doc *doc, const uint8_t *update, size_t len);

/** Copies the document's whole state (canonical: equal states, equal bytes) to *out. Errors:
 *  RT_EINVAL, RT_ENOMEM. Any thread. */
rt_status rt_doc_snapshot(rt_doc *doc, rt_bytes *out);

/* Task lists (RT_DOC_TASKS): records merged field by field. The title and the description are
 * text, merged character by character like a text document (concurrent edits of one description
 * both survive); concurrent writes to another single-value field stay visible as a conflict until
 * set again; assignees and tags are add-wins sets. */

/** Single-value task fields (rt_doc_task_set). RT_TASK_TITLE and RT_TASK_DESCRIPTION are text
 *  fields (also rt_doc_task_text_insert, rt_doc_task_text_delete). */
#define RT_TASK_TITLE 1
#define RT_TASK_DESCRIPTION 2
#define RT_TASK_STATUS 3
#define RT_TASK_CATEGORY 4
/** A decimal integer, e.g. "2". */
#define RT_TASK_PRIORITY 5
/** Decimal ms since 1970, or no bytes for no due date. */
#define RT_TASK_DUE 6
/** Any bytes (a fractional index: positions compare as bytes). */
#define RT_TASK_POSITION 7
/** "1" (deleted) or "0" (restored). */
#define RT_TASK_DELETED 8

/** Set task fields (rt_doc_task_add, rt_doc_task_remove). */
#define RT_TASK_ASSIGNEES 1
#define RT_TASK_TAGS 2

/**
 * Sets `field` of task `task` (1 to 256 bytes of UTF-8, no NUL; created if missing) to `len`
 * bytes of `value` (UTF-8 text up to 64 KiB unless the field says otherwise), in the open
 * transaction, stamped with the wall clock. For RT_TASK_TITLE and RT_TASK_DESCRIPTION it replaces
 * the text: what differs between the text here and `value` (past their common start and end) is
 * deleted and the rest of `value` inserted, so setting the same text changes nothing, and a
 * concurrent set or edit elsewhere keeps its own insertion beside this one (two devices that set
 * "a" and "b" end with both, as "ab" or "ba"). Errors: RT_EINVAL (bad task, field or value, not a
 * task list), RT_ETOOBIG (100,000 tasks; a text field's limit). Any thread.
 */
rt_status rt_doc_task_set(rt_doc *doc, const char *task, int field, const uint8_t *value, size_t len);

/**
 * Inserts `len` bytes of UTF-8 `text` into the text field `field` (RT_TASK_TITLE or
 * RT_TASK_DESCRIPTION) of task `task` (created if missing) at `pos` (Unicode scalars, or UTF-16
 * code units with RT_DOC_UTF16; clamped to the text), in the open transaction. Inserting nothing
 * changes nothing. Errors: RT_EINVAL (bad task, field or text, not a task list), RT_ETOOBIG
 * (1,048,576 characters in the field, deleted ones included; 100,000 tasks). Any thread.
 */
rt_status rt_doc_task_text_insert(rt_doc *doc, const char *task, int field, uint64_t pos, const char *text,
                                  size_t len, unsigned flags);

/** Deletes `len` characters of the text field `field` of task `task` from `pos` (units as in
 *  rt_doc_task_text_insert; clamped; with RT_DOC_UTF16 a surrogate pair cut in two is deleted
 *  whole). No error when the task or the characters are not there. Errors: RT_EINVAL. Any
 *  thread. */
rt_status rt_doc_task_text_delete(rt_doc *doc, const char *task, int field, uint64_t pos, uint64_t len,
                                  unsigned flags);

/** Adds `element` (NUL-terminated UTF-8, 1 to 64 KiB) to the set `set` of `task` (created if
 *  missing). Errors: as rt_doc_task_set. Any thread. */
rt_status rt_doc_task_add(rt_doc *doc, const char *task, int set, const char *element);

/** Removes `element` from the set `set` of `task` (what this replica has seen of it; a
 *  concurrent add elsewhere wins). No error if absent. Errors: as rt_doc_task_set. Any thread. */
rt_status rt_doc_task_remove(rt_doc *doc, const char *task, int set, const char *element);

/**
 * Copies task `task` as one JSON object to *out: {"id","title","description","status",
 * "category","priority","due","position","deleted","assignees","tags"}, the title and the
 * description strings (their merged text), each other single-value field an array of its live
 * values, last writer first (two or more: a conflict), positions as hex.
 * Errors: RT_EINVAL, RT_ENOTFOUND (no such task), RT_ENOMEM. Any thread.
 */
rt_status rt_doc_task_get(rt_doc *doc, const char *task, rt_bytes *out);

/** Copies the ids of the document's tasks as a JSON array of strings, in byte order, to *out.
 *  Errors: RT_EINVAL, RT_ENOMEM. Any thread. */
rt_status rt_doc_task_ids(rt_doc *doc, rt_bytes *out);

/** Receives each change of a document: the update, and whether this replica made it (a commit)
 *  or received it. Valid during the call; runs on the thread that made the change (the loop
 *  thread for clients' updates), outside the document's lock. */
typedef void (*rt_doc_change_fn)(void *user_data, const char *id, const uint8_t *update, size_t len, int local);

/** Sets this handle's change callback (NULL: none), replacing any before. Errors: RT_EINVAL.
 *  Any thread. */
rt_status rt_doc_on_change(rt_doc *doc, rt_doc_change_fn fn, void *user_data);

/* Files (RT_DOC_FILE): a binary file's content is cut into chunks (2 to 64 KiB, by content, so an
 * edit changes only the chunks it touches), each stored once in the core's database under its
 * BLAKE2b-256 hash; the document holds the file's versions as lists of chunk hashes. Two replicas
 * replacing the file concurrently both keep their version: the newest is the file (version 0),
 * the others are its conflict copies (1, 2, ..., newest first) until the file is written again.
 * Updates carry hashes, not bytes: after rt_doc_apply, fetch the chunks rt_doc_file_missing
 * lists from the peer (rt_chunk_get there, rt_chunk_put here). */

/** Bytes of a chunk hash. */
#define RT_CHUNK_HASH_BYTES 32

/**
 * Replaces the file's content with `len` bytes of `data` (NULL with 0: an empty file), in the
 * open transaction (rt_doc_commit sends it); the new chunks are stored at once. The new version
 * supersedes every version this replica has seen, conflict copies included. Errors: RT_EINVAL
 * (NULL data with len > 0, not a file document), RT_ETOOBIG (over 4 GiB or 65,536 chunks),
 * RT_ESTATE (core not running), RT_ENOMEM. Any thread.
 */
rt_status rt_doc_file_write(rt_doc *doc, const uint8_t *data, size_t len);

/**
 * Copies version `version` of the file (0: the current one; then the conflict copies) to *out
 * (free with rt_bytes_free). Errors: RT_ENOTFOUND (no such version — a file never written has
 * none — or a chunk not here yet: see rt_doc_file_missing), RT_ECORRUPT (chunks that disagree
 * with the version's size), RT_EINVAL, RT_ENOMEM. Any thread.
 */
rt_status rt_doc_file_read(rt_doc *doc, size_t version, rt_bytes *out);

/** Sets *count to the file's live versions: 0 before the first write, 1 normally, more while
 *  concurrent writes are in conflict. Errors: RT_EINVAL. Any thread. */
rt_status rt_doc_file_versions(rt_doc *doc, size_t *count);

/** Resolves a conflict by keeping version `version`: writes that version again (no chunk is
 *  stored twice), superseding the others, in the open transaction. Errors: RT_ENOTFOUND (no such
 *  version), RT_EINVAL. Any thread. */
rt_status rt_doc_file_resolve(rt_doc *doc, size_t version);

/** Copies to *out the hashes (RT_CHUNK_HASH_BYTES each, back to back; {NULL, 0} when none) of
 *  the chunks of the file's versions that this core does not store. Errors: RT_EINVAL, RT_ENOMEM.
 *  Any thread. */
rt_status rt_doc_file_missing(rt_doc *doc, rt_bytes *out);

/** Copies the chunk with hash `hash` (RT_CHUNK_HASH_BYTES bytes) to *out. Errors: RT_ENOTFOUND
 *  (not stored here), RT_EINVAL, RT_ESTATE (core not running), RT_ENOMEM. Any thread. */
rt_status rt_chunk_get(rt_core *core, const uint8_t *hash, rt_bytes *out);

/** Stores a chunk received from a peer under `hash` (RT_CHUNK_HASH_BYTES bytes). Errors:
 *  RT_ECORRUPT (the bytes do not have that hash; nothing stored), RT_ETOOBIG (over 64 KiB),
 *  RT_EINVAL (no bytes: a chunk holds 1 to 64 KiB; NULL arguments), RT_ESTATE (core not running).
 *  Any thread. */
rt_status rt_chunk_put(rt_core *core, const uint8_t *hash, const uint8_t *data, size_t len);

/**
 * Deletes the stored chunks that no version of any file document references (replaced versions'
 * chunks, uploads never referenced) and that were stored at least `older_than_ms` ago (clients
 * upload a version's chunks before the version: an hour, 3600000, spares them). Sets *removed
 * (may be NULL) to how many were deleted, once that is committed. Reads every file document not
 * in memory, and writes that would reference stored chunks wait meanwhile: run it now and then.
 * Errors: RT_ESTATE (core not running, or called on the core's loop thread), RT_ECORRUPT (a
 * stored file document does not load; nothing deleted), RT_EIO. Any thread but the loop's.
 */
rt_status rt_chunk_collect(rt_core *core, uint64_t older_than_ms, uint64_t *removed);

/* ---------------------------------------------------------------------------------------------
 * Security: master keys, sealed payloads, passwords, tokens (docs/security.md)
 * ------------------------------------------------------------------------------------------- */

/** Bytes of a master key, and of a sealed box's public and secret keys. */
#define RT_KEY_BYTES 32
/** Bytes rt_seal adds to a payload (format, key id, nonce, tag). */
#define RT_SEAL_OVERHEAD 45
/** Bytes rt_box_seal adds to a message. */
#define RT_BOX_OVERHEAD 48

/**
 * Adds master key `id` (1 or more; RT_KEY_BYTES bytes) to the core's keyring; the first key
 * added seals from then on. Keys live in locked, guarded memory and are wiped when the core
 * closes. Errors: RT_EINVAL (id 0, wrong length, id held with other bytes), RT_ETOOBIG (64 keys),
 * RT_ENOMEM. Any thread.
 */
rt_status rt_key_add(rt_core *core, uint32_t id, const uint8_t *key, size_t len);

/** Makes key `id` the one that seals from now on; payloads sealed under other held keys still
 *  open (rotation). Errors: RT_ENOTFOUND (not held), RT_EINVAL. Any thread. */
rt_status rt_key_use(rt_core *core, uint32_t id);

/** Forgets key `id` (its memory is wiped): what it sealed no longer opens. Call it after
 *  rt_store_reseal has moved every stored row to the current key. Errors: RT_ENOTFOUND (not
 *  held), RT_ESTATE (it is the current key), RT_EINVAL. Any thread. */
rt_status rt_key_remove(rt_core *core, uint32_t id);

/**
 * Adds the keys in the file at `path`, one per line as `ID:HEX` (64 hex digits) or a lone `HEX`
 * for key 1 (`#` comments and blank lines skipped); the highest id becomes current. Errors:
 * RT_EIO (unreadable), RT_EPERM (others may read or write it: chmod 600), RT_EINVAL (bad
 * text; nothing added). Any thread.
 */
rt_status rt_key_load_file(rt_core *core, const char *path);

/** Adds the keys in environment variable `name`, in the key file's format. Errors: RT_ENOTFOUND
 *  (not set), otherwise as rt_key_load_file. Any thread. */
rt_status rt_key_load_env(rt_core *core, const char *name);

/**
 * Re-seals under the current key every stored channel message, document update, snapshot and
 * file chunk sealed under another key or stored in plaintext (end-to-end payloads stay as
 * clients sealed them), in batches of at most 256 rows that the store's writer commits among the
 * other writes, so publishing goes on meanwhile. Afterwards keys other than the current one may be dropped.
 * Sets *rows_resealed (if not NULL) to the rows re-sealed. Blocks until done; the core may be
 * running or not. Errors: RT_EINVAL (core NULL), RT_ESTATE (no current key, or called on the
 * loop's thread), RT_ECORRUPT (a row does not open: tampered with or moved; the message names
 * it), RT_ENOTFOUND (a row is sealed under a key not loaded), RT_EIO. Rows re-sealed before an
 * error stay re-sealed; nothing is deleted. Any thread but the loop's.
 */
rt_status rt_store_reseal(rt_core *core, uint64_t *rows_resealed);

/**
 * Seals `len` bytes of `msg` with XChaCha20-Poly1305 under a subkey (crypto_kdf) of the current
 * master key for `context` (a NUL-terminated name, up to 1024 bytes: what the payload is for),
 * binding `ad_len` bytes of associated data `ad` (may be NULL with 0). *out gets len +
 * RT_SEAL_OVERHEAD bytes (free with rt_bytes_free): format, key id, random nonce, ciphertext.
 * Errors: RT_ESTATE (no key), RT_EINVAL, RT_ETOOBIG (over 256 MiB), RT_ENOMEM. Any thread.
 */
rt_status rt_seal(rt_core *core, const char *context, const uint8_t *ad, size_t ad_len, const uint8_t *msg,
                  size_t len, rt_bytes *out);

/**
 * Opens what rt_seal sealed for the same `context` and `ad`, under whichever held key sealed it.
 * Errors, with nothing written: RT_ECORRUPT (tampered with, cut short, or sealed for another
 * context or associated data), RT_ENOTFOUND (sealed with a key not held), RT_EVERSION (unknown
 * format), RT_EINVAL, RT_ENOMEM. Any thread.
 */
rt_status rt_open(rt_core *core, const char *context, const uint8_t *ad, size_t ad_len, const uint8_t *sealed,
                  size_t len, rt_bytes *out);

/** rt_seal into the caller's buffer `out` of `cap` bytes, without allocating: needs cap >= len +
 *  RT_SEAL_OVERHEAD; sets *written (may be NULL) to len + RT_SEAL_OVERHEAD. Errors: as rt_seal,
 *  and RT_ETOOBIG when cap is too small (nothing written). Any thread. */
rt_status rt_seal_into(rt_core *core, const char *context, const uint8_t *ad, size_t ad_len, const uint8_t *msg,
                       size_t len, uint8_t *out, size_t cap, size_t *written);

/** rt_open into the caller's buffer `out` of `cap` bytes, without allocating: needs cap >= len -
 *  RT_SEAL_OVERHEAD; sets *written (may be NULL) to that. On any error the first bytes of `out`
 *  that would have held the plaintext are zeroed. Errors: as rt_open, and RT_ETOOBIG when cap is
 *  too small. Any thread. */
rt_status rt_open_into(rt_core *core, const char *context, const uint8_t *ad, size_t ad_len, const uint8_t *sealed,
                       size_t len, uint8_t *out, size_t cap, size_t *written);

/** Fills `pk` and `sk` (RT_KEY_BYTES each) with a fresh X25519 key pair for sealed boxes.
 *  Errors: RT_EINVAL (NULL). Any thread. */
rt_status rt_box_keypair(uint8_t *pk, uint8_t *sk);

/** Seals `len` bytes of `msg` to public key `pk` (libsodium's crypto_box_seal: anyone with `pk`
 *  seals, only the key pair's holder opens); *out gets len + RT_BOX_OVERHEAD bytes. Errors:
 *  RT_EINVAL (NULL, or not a valid key), RT_ETOOBIG, RT_ENOMEM. Any thread. */
rt_status rt_box_seal(const uint8_t *pk, const uint8_t *msg, size_t len, rt_bytes *out);

/** Opens a sealed box with the recipient's key pair. Errors: RT_ECORRUPT (tampered with, or
 *  sealed to another key), RT_EINVAL, RT_ENOMEM. Any thread. */
rt_status rt_box_open(const uint8_t *pk, const uint8_t *sk, const uint8_t *sealed, size_t len, rt_bytes *out);

/* Passwords: Argon2id (crypto_pwhash_str), bounded concurrency. */

/**
 * Hashes `len` bytes of password `pw` (at most 4096) with Argon2id and a fresh salt; *out gets the
 * encoded hash, a NUL-terminated string of at most 127 bytes that carries its own parameters
 * (store it as is). Blocks the calling thread for the hash, and while the core's cap of
 * concurrent hashes (2 by default) is reached, so logins cannot exhaust memory: call it from the
 * host's worker threads, never from a loop. Errors: RT_ETOOBIG, RT_ENOMEM, RT_EINVAL. Any thread.
 */
rt_status rt_password_hash(rt_core *core, const char *pw, size_t len, rt_bytes *out);

/**
 * Checks password `pw` against `hash` (from rt_password_hash). Sets *matches to 1 or 0 (a hash
 * that is not Argon2id does not match), and *needs_rehash (may be NULL) to 1 when it matched but
 * was made under other limits than the core's: hash the password again and store the new hash.
 * Blocks as rt_password_hash. Errors: RT_ETOOBIG, RT_EINVAL. Any thread.
 */
rt_status rt_password_verify(rt_core *core, const char *hash, const char *pw, size_t len, int *matches,
                             int *needs_rehash);

/** Sets the Argon2id limits (passes, bytes of memory; at least libsodium's minimums) and how many
 *  hashes may run at once (1 to 64). Default: libsodium's interactive limits (2 passes, 64 MiB),
 *  2 at once. Errors: RT_EINVAL. Any thread. */
rt_status rt_password_configure(rt_core *core, uint64_t ops, size_t mem_bytes, int max_concurrent);

/**
 * Receives the outcome of rt_password_hash_async: RT_OK and `hash` (NUL-terminated, valid only
 * during the call: copy it), or an error status and NULL (rt_core_errmsg(core) says why on this
 * thread). Runs on one of the core's password threads ("rt-pwhash"); it may call any-thread
 * functions but must not close the core.
 */
typedef void (*rt_password_hash_fn)(void *user_data, rt_status status, const char *hash);

/** Receives the outcome of rt_password_verify_async: RT_OK with matches and needs_rehash (0 or 1)
 *  as rt_password_verify sets them, or an error status. Runs as rt_password_hash_fn does. */
typedef void (*rt_password_verify_fn)(void *user_data, rt_status status, int matches, int needs_rehash);

/**
 * rt_password_hash without blocking the caller: copies `pw` and hashes it on one of the core's
 * password threads (started as needed, up to the max_concurrent of rt_password_configure, which
 * still caps the hashes running at once), then calls fn exactly once on that thread: with the
 * hash, or with RT_ECLOSED for a job not started when the core closed. For an event loop or a
 * request handler. At most 1024 jobs wait; beyond that RT_EBUSY. Errors (fn not called):
 * RT_ETOOBIG, RT_EBUSY, RT_ECLOSED, RT_EINVAL. Any thread.
 */
rt_status rt_password_hash_async(rt_core *core, const char *pw, size_t len, rt_password_hash_fn fn, void *user_data);

/** rt_password_verify without blocking the caller, as rt_password_hash_async hashes. Errors (fn
 *  not called): RT_ETOOBIG, RT_EBUSY, RT_ECLOSED, RT_EINVAL. Any thread. */
rt_status rt_password_verify_async(rt_core *core, const char *hash, const char *pw, size_t len,
                                   rt_password_verify_fn fn, void *user_data);

/* Tokens: PASETO v4.public (Ed25519), signed by a ring of keys by key id (docs/security.md). */

/** An access token: authorizes calls; 15 minutes unless another lifetime is given. */
#define RT_TOKEN_ACCESS 1
/** A refresh token: only buys new tokens; 7 days unless another lifetime is given. */
#define RT_TOKEN_REFRESH 2
/** Bytes of a signing key's seed and of its Ed25519 public key. */
#define RT_TOKEN_SEED_BYTES 32
#define RT_TOKEN_PUBLIC_KEY_BYTES 32

/**
 * Adds the Ed25519 signing key made from `len` (= RT_TOKEN_SEED_BYTES) bytes of `seed`
 * (crypto_sign_seed_keypair; keep the seed in the host's secret manager) under key id `kid`: 1
 * to 64 characters of A-Z a-z 0-9 _ -, written into every token's footer as {"kid":"<kid>"}.
 * The first key added signs from then on. The secret key lives in locked, guarded memory and is
 * wiped when the core closes. Adding the same kid with the same seed again does nothing.
 * Errors: RT_EINVAL (bad kid, wrong length, kid held with another seed), RT_ETOOBIG (64 keys),
 * RT_ENOMEM. Any thread.
 */
rt_status rt_token_key_add(rt_core *core, const char *kid, const uint8_t *seed, size_t len);

/** Makes key `kid` the one that signs new tokens; tokens signed by the other held keys still
 *  verify (rotation). Errors: RT_ENOTFOUND (not held), RT_EINVAL. Any thread. */
rt_status rt_token_key_use(rt_core *core, const char *kid);

/** Forgets key `kid`: tokens it signed no longer verify (RT_ENOTFOUND). Errors: RT_ENOTFOUND
 *  (not held), RT_ESTATE (it is the current key: use another first), RT_EINVAL. Any thread. */
rt_status rt_token_key_remove(rt_core *core, const char *kid);

/** Copies the Ed25519 public key of `kid` (NULL: the current key) into `pk`
 *  (RT_TOKEN_PUBLIC_KEY_BYTES), for other services that verify tokens themselves. Errors:
 *  RT_ENOTFOUND (not held), RT_ESTATE (kid NULL and no key), RT_EINVAL. Any thread. */
rt_status rt_token_public_key(rt_core *core, const char *kid, uint8_t pk[32]);

/**
 * Issues a token of type `typ` (RT_TOKEN_ACCESS or RT_TOKEN_REFRESH) for user `sub` (1 to 256
 * bytes of UTF-8) on `device` (at most 256; NULL: "") with `scope` (at most 1024; NULL: ""),
 * valid from now for `ttl_seconds` (0: the type's default; at most 400 days), signed with the
 * current key. *out gets the token, ASCII and NUL-terminated (free with rt_bytes_free):
 * "v4.public." base64url(claims || signature) "." base64url({"kid":"<kid>"}), the claims being
 * {"sub","device","scope","typ","iat","exp","jti"} with times as "YYYY-MM-DDTHH:MM:SSZ" and a
 * random 16-byte jti in hex. Errors: RT_ESTATE (no key), RT_EINVAL. Any thread.
 */
rt_status rt_token_issue(rt_core *core, const char *sub, const char *device, const char *scope, int typ,
                         int64_t ttl_seconds, rt_bytes *out);

/**
 * Verifies `len` bytes of `token` as a token of type `typ` valid now, and on success sets
 * *claims_json_out (may be NULL) to its claims exactly as signed (JSON, NUL-terminated; free with
 * rt_bytes_free). Errors, with nothing written, checked in this order:
 *   RT_ECORRUPT  not a token this core accepts, or not authentic: another version or purpose
 *                (v3, v4.local, ...), padding or characters outside unpadded base64url, stray
 *                dots or trailing bytes, no {"kid":...} footer, a missing or altered signature,
 *                claims that are not a flat JSON object with sub, typ, iat and exp, over 12 KiB;
 *   RT_ENOTFOUND signed with a key id the core does not hold (never added, or removed);
 *   RT_EPERM     authentic but not acceptable: the other type ("wrong purpose": a refresh token
 *                where an access token is expected, or the reverse), expired (exp not after
 *                now), or issued (iat) or valid (nbf) more than 60 s in the future, or of a
 *                session (a "sid" claim, from rt_session_start) that is revoked or unknown to
 *                this core (tokens without "sid" are not checked against sessions);
 *   RT_EINVAL    NULL arguments, a typ that is neither constant.
 * rt_core_errmsg says which. Any thread.
 */
rt_status rt_token_verify(rt_core *core, const char *token, size_t len, int typ, rt_bytes *claims_json_out);

/* Authorization: roles per workspace and the least role each action on a channel or document
 * needs (docs/security.md, "Authorization"). Names are `namespace:rest`; in a scoped namespace
 * the workspace is `rest` up to its first '/' (`chat:acme/general` is in workspace `acme`).
 * Namespaces that are not scoped stay open to every client. */

/** Roles, ordered: OWNER > ADMIN > MEMBER > GUEST > NONE (not a member, or anonymous). */
#define RT_ROLE_NONE 0
#define RT_ROLE_GUEST 1
#define RT_ROLE_MEMBER 2
#define RT_ROLE_ADMIN 3
#define RT_ROLE_OWNER 4

/** Actions the protocol checks. SUBSCRIBE covers `subscribe` and `receipt`; HISTORY covers
 *  `history` and the replay of a recovering `subscribe`; PRESENCE covers `presence`, `presence_list`, `typing` and receiving presence diffs;
 *  DOC_READ covers `doc_sync`, live document updates and `chunk_get`; DOC_WRITE covers
 *  `doc_update` and `chunk` uploads. */
#define RT_ACCESS_SUBSCRIBE 0
#define RT_ACCESS_PUBLISH 1
#define RT_ACCESS_PRESENCE 2
#define RT_ACCESS_HISTORY 3
#define RT_ACCESS_DOC_READ 4
#define RT_ACCESS_DOC_WRITE 5
/** How many actions there are (the length of rt_access_rules.min_role). */
#define RT_ACCESS_ACTIONS 6
/** For rt_access_set_rule: remove the name's own rule, so its namespace's applies again. */
#define RT_ACCESS_INHERIT (-1)

/** The least role (RT_ROLE_*) each action (indexed by RT_ACCESS_*) needs in a scoped namespace.
 *  RT_ROLE_NONE lets everyone, anonymous clients included. */
typedef struct rt_access_rules {
    /** sizeof(rt_access_rules) as the caller was compiled. */
    size_t struct_size;
    int min_role[RT_ACCESS_ACTIONS];
} rt_access_rules;

/** Static initialiser with the defaults: guests subscribe, see presence, read history and
 *  documents; members also publish and change documents. */
#define RT_ACCESS_RULES_INIT                                                                             \
    {sizeof(rt_access_rules),                                                                            \
     {RT_ROLE_GUEST, RT_ROLE_MEMBER, RT_ROLE_GUEST, RT_ROLE_GUEST, RT_ROLE_GUEST, RT_ROLE_MEMBER}}

/** Fills *rules with the defaults of RT_ACCESS_RULES_INIT. RT_EINVAL if rules is NULL. */
rt_status rt_access_rules_init(rt_access_rules *rules);

/**
 * Scopes namespace `ns` (0 to 64 bytes of a-z, 0-9, _ and -) with `rules`, or opens it again
 * (rules NULL). Not stored: call it after every start, like rt_core_set_namespace. Sessions
 * lose at once what the new rules no longer allow. Errors: RT_EINVAL, RT_EVERSION, RT_ENOMEM
 * (over 1024 scoped namespaces), RT_ESTATE (not running). Any thread; blocks until applied.
 */
rt_status rt_access_scope_namespace(rt_core *core, const char *ns, const rt_access_rules *rules);

/**
 * Gives `user` (1 to 128 bytes of UTF-8 without control characters) the role `role` in
 * `workspace` (1 to 128 bytes of ASCII letters, digits and _ - . @ = + ~ !); RT_ROLE_NONE
 * removes the membership. Stored; returns once committed. The user's open sessions lose at once
 * the subscriptions, presence and document syncs the new role no longer allows. Errors:
 * RT_EINVAL, RT_ENOMEM (over 1000000 memberships), RT_ESTATE (not running), or the store's error
 * when the commit failed (RT_EIO, ...; rt_core_errmsg says the change is in force but not stored,
 * until the core closes). Any thread; on the loop thread it does not wait for the commit.
 */
rt_status rt_access_set_role(rt_core *core, const char *workspace, const char *user, int role);

/** Sets *role to `user`'s role in `workspace` (RT_ROLE_NONE when not a member). Errors: RT_EINVAL.
 *  Any thread, running or not; reads memory only. */
rt_status rt_access_role(rt_core *core, const char *workspace, const char *user, int *role);

/**
 * Sets the least role `min_role` that `action` on channel or document `name` (1 to 256 bytes)
 * needs, overriding its namespace's rules (an announcements channel only admins publish to, a
 * private channel only members subscribe to); RT_ACCESS_INHERIT removes the override. Stored, and
 * in force only while the name's namespace is scoped. Errors: RT_EINVAL, RT_ENOMEM (over 100000
 * rules), RT_ESTATE (not running), or the store's error as for rt_access_set_role. Any thread;
 * waits like rt_access_set_role.
 */
rt_status rt_access_set_rule(rt_core *core, const char *name, int action, int min_role);

/**
 * Checks whether `user` (NULL: anonymous) may do `action` on channel or document `name`, by the
 * rules the protocol applies: RT_OK when allowed, RT_EPERM when not — whether or not the channel
 * or document exists, so a host's own endpoints can answer alike. A name of a scoped namespace
 * without a workspace segment is refused. RT_EINVAL for NULL core or name, or a bad action. Any
 * thread, running or not; reads memory only.
 */
rt_status rt_access_check(rt_core *core, const char *user, const char *name, int action);

/**
 * Sets *role to the role named `name`, ASCII case-insensitive: "none", "guest", "member", "admin",
 * "owner", and the example seeds' titles "staff" (member), "manager" (admin) and "ceo" (owner).
 * RT_EINVAL for any other name. Needs no core.
 */
rt_status rt_access_role_from_name(const char *name, int *role);

/** The canonical name of `role` ("none" ... "owner"), or "" for a value that is no role. Static. */
const char *rt_access_role_name(int role);

/* Sessions and devices: refresh-token families with rotation and reuse detection, revocation
 * (docs/security.md, "Sessions and devices"). A session is one login of a user on a device. */

/** Bytes of a session id buffer: 32 hex digits and a NUL. */
#define RT_SESSION_ID_BYTES 33

/**
 * Starts a session for user `sub` (1 to 256 bytes of UTF-8) on `device` (1 to 256) with `scope`
 * (at most 1024; NULL: "") and registers the device. *access and *refresh get an access and a
 * refresh token (as rt_token_issue makes them, plus a "sid" claim naming the session; free each
 * with rt_bytes_free); the access token lives `access_ttl` seconds (0: 15 minutes), the refresh
 * token `refresh_ttl` (0: 7 days), and every refresh renews both. `sid` (may be NULL) gets the
 * session id, RT_SESSION_ID_BYTES with the NUL, for rt_session_revoke. Committed to the database
 * before it returns. Errors: RT_EINVAL (NULL or over-long arguments, a ttl outside 0 to 400 days),
 * RT_ESTATE (no token key), RT_ETOOBIG (the user has 256 live sessions), RT_EIO (the commit
 * failed; nothing started), RT_ECLOSED. Any thread; blocks for the commit.
 */
rt_status rt_session_start(rt_core *core, const char *sub, const char *device, const char *scope,
                           int64_t access_ttl, int64_t refresh_ttl, rt_bytes *access, rt_bytes *refresh,
                           char sid[RT_SESSION_ID_BYTES]);

/**
 * Rotates: trades `len` bytes of the refresh token `token` for a new access and refresh token
 * of the same session (*access, *refresh; free with rt_bytes_free). The old refresh token is
 * spent: presenting it (or any earlier one of the session) again is reuse, which revokes the
 * whole session — its access tokens included — and fails with RT_EPERM. Of two concurrent
 * refreshes with the same token exactly one succeeds; the other is reuse. Committed before it
 * returns. Errors: the errors of rt_token_verify; RT_EPERM also for a revoked or unknown session,
 * a refresh token of no session (from rt_token_issue), and reuse (rt_core_errmsg says "reuse");
 * RT_EIO (the commit failed; the token stays current); RT_EINVAL. Any thread; blocks.
 */
rt_status rt_session_refresh(rt_core *core, const char *token, size_t len, rt_bytes *access, rt_bytes *refresh);

/** Revokes session `sid` (logout): its tokens are refused from now on (RT_EPERM from
 *  rt_token_verify) and its live connections closed with 4012. Revoking a revoked session does
 *  nothing. Errors: RT_ENOTFOUND (no such session, or it expired), RT_EINVAL, RT_EIO. Any thread. */
rt_status rt_session_revoke(rt_core *core, const char *sid);

/** Revokes every session of `user` on `device` (forget a device); *count (may be NULL) gets how
 *  many were live. Errors: RT_EINVAL, RT_EIO. Any thread. */
rt_status rt_session_revoke_device(rt_core *core, const char *user, const char *device, size_t *count);

/** Revokes every session of `user` (sign out everywhere); *count (may be NULL) gets how many were
 *  live. Errors: RT_EINVAL, RT_EIO. Any thread. */
rt_status rt_session_revoke_user(rt_core *core, const char *user, size_t *count);

/**
 * Sets *json to the sessions of `user` that have not expired, newest first, as a JSON array of
 * {"sid","device","scope","created","refreshed","expires","revoked","reason"}: times as
 * "YYYY-MM-DDTHH:MM:SSZ", revoked and reason null while live. Free with rt_bytes_free.
 * Errors: RT_EINVAL. Any thread.
 */
rt_status rt_session_list(rt_core *core, const char *user, rt_bytes *json);

/** Names `device` of `user` (`name` at most 128 bytes of UTF-8; NULL clears it), as rt_device_list
 *  shows it. Errors: RT_ENOTFOUND (the user never started a session on that device), RT_EINVAL,
 *  RT_EIO. Any thread; blocks for the commit. */
rt_status rt_device_rename(rt_core *core, const char *user, const char *device, const char *name);

/** Sets *json to the devices `user` started sessions from, most recently seen first, as a JSON
 *  array of {"device","first_seen","last_seen","name"} (name null when unset). Free with
 *  rt_bytes_free. Errors: RT_EINVAL, RT_EIO, RT_ECLOSED. Any thread. */
rt_status rt_device_list(rt_core *core, const char *user, rt_bytes *json);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* REALTIME_H */
