/*
 * gRPC over HTTP/2 on one libuv loop: a server that dispatches calls by
 * method path, and a client holding one HTTP/2 connection (h2c, prior
 * knowledge) on which it opens streams and makes unary calls.
 *
 * Messages are byte views; protobuf stays above this layer.
 *
 * Threads: every function here must be called on the loop thread, and every
 * callback runs on it. Nothing blocks: sends are queued and written by one
 * coalesced socket write per loop iteration (a uv_prepare flush right before
 * the loop polls).
 *
 * Besides plaintext h2c: TLS (tls.h; https:// targets, TLS listeners),
 * keepalive pings, graceful shutdown with GOAWAY, connection age and idle
 * limits, client connection states with reconnection and backoff, shared
 * zero-copy sends, and the hand-back of messages that were queued but never
 * written. The SLIM configuration model (config/endpoint.h) is accepted as is:
 * slim_grpc_server_listen_config() and slim_grpc_client_new_config().
 *
 * Handles:
 *   slim_grpc_server  listeners plus the connections they accepted.
 *   slim_grpc_client  one outgoing HTTP/2 connection.
 *   slim_grpc_call    one stream, on either side. It is created by the
 *                     transport (server) or by slim_grpc_client_open(), and
 *                     freed by the transport right after its on_close
 *                     callback returns. on_close is called exactly once for
 *                     every call the user has seen, including when the
 *                     connection fails or its server/client is freed.
 *
 * Backpressure:
 *   - sending: slim_grpc_call_send() returns SLIM_E_QUEUE_FULL when the
 *     call's queue holds send_queue_limit bytes or more; on_writable follows
 *     once it has drained below half of that.
 *   - receiving: a message counts as consumed when on_message returns, and
 *     only consumed bytes reopen the peer's HTTP/2 stream window. A user that
 *     cannot keep up calls slim_grpc_call_pause(); the peer then stalls once
 *     the window (stream_window bytes) is full.
 */
#ifndef SLIM_TRANSPORT_GRPC_H
#define SLIM_TRANSPORT_GRPC_H

#include "config/endpoint.h"
#include "core/rcbuf.h"
#include "transport/codec.h"
#include "transport/md.h"

#include <uv.h>

typedef struct slim_grpc_server slim_grpc_server;
typedef struct slim_grpc_client slim_grpc_client;
typedef struct slim_grpc_call slim_grpc_call;

/* ---- Configuration ---- */

/* A duration field set to this turns the feature off. */
#define SLIM_GRPC_OFF UINT64_MAX

/* Limits, windows and timers. A zero field takes the default shown; where
 * two are shown, the first is the server's and the second the client's.
 *
 * Memory: per connection, the received bytes the transport holds are at most
 * max_concurrent_streams x (stream_window + max_message_size) (backlogs of
 * paused calls plus partial messages); queued output at most
 * send_queue_limit (+ one message) per call, twice that with forced sends,
 * plus write_batch.
 *
 * Keepalive: a side sends an HTTP/2 PING after keepalive_time_ms without
 * receiving anything, and closes the connection (E_TRANSPORT_KEEPALIVE)
 * when the ACK has not come keepalive_timeout_ms later. A client pings only
 * while it has a call open unless keepalive_while_idle. gRPC servers count
 * a ping that comes less than 5 minutes after the previous one, with no
 * data sent by them in between, as abuse and close the connection after
 * two (GOAWAY ENHANCE_YOUR_CALM "too_many_pings"); so a client sends its
 * next ping no sooner than keepalive_min_interval_ms after the previous one
 * unless the server sent HEADERS or DATA after acknowledging it. */
typedef struct slim_grpc_config {
    size_t max_message_size;              /* 4 MiB: largest message sent or received */
    size_t send_queue_limit;              /* 4 MiB: per call, see Backpressure above */
    uint32_t max_concurrent_streams;      /* 100: streams the peer may open to us */
    uint32_t max_header_list_size;        /* 16 KiB: largest header block we accept */
    uint32_t stream_window;               /* 1 MiB: HTTP/2 receive window per stream */
    uint32_t connection_window;           /* 16 MiB: HTTP/2 receive window per connection */
    size_t write_batch;                   /* 256 KiB: bytes gathered for one socket write */
    uint64_t keepalive_time_ms;           /* 120 s / 60 s; SLIM_GRPC_OFF: no pings */
    uint64_t keepalive_timeout_ms;        /* 20 s / 10 s: wait for the PING ACK */
    bool keepalive_while_idle;            /* client: ping without open calls too */
    uint64_t keepalive_min_interval_ms;   /* client: 5 min; SLIM_GRPC_OFF: no floor */
    uint64_t max_connection_idle_ms;      /* server: 1 h without calls -> GOAWAY, close */
    uint64_t max_connection_age_ms;       /* server: 2 h (+-10%) -> GOAWAY ... */
    uint64_t max_connection_age_grace_ms; /* server: 5 min ... then calls reset, close */
    uint64_t handshake_timeout_ms;        /* 20 s: from the socket connecting to the peer's
                                             first SETTINGS (TLS included) */
    uint32_t max_connections;             /* server: 10 000 open connections per listener;
                                             more are closed as soon as accepted */
} slim_grpc_config;

#define SLIM_GRPC_DEFAULT_MAX_MESSAGE_SIZE        (4u * 1024u * 1024u)
#define SLIM_GRPC_DEFAULT_SEND_QUEUE_LIMIT        (4u * 1024u * 1024u)
#define SLIM_GRPC_DEFAULT_MAX_CONCURRENT_STREAMS  100u
#define SLIM_GRPC_DEFAULT_MAX_HEADER_LIST_SIZE    (16u * 1024u)
#define SLIM_GRPC_DEFAULT_STREAM_WINDOW           (1u * 1024u * 1024u)
#define SLIM_GRPC_DEFAULT_CONNECTION_WINDOW       (16u * 1024u * 1024u)
#define SLIM_GRPC_DEFAULT_WRITE_BATCH             (256u * 1024u)
#define SLIM_GRPC_DEFAULT_SERVER_KEEPALIVE_MS     120000u
#define SLIM_GRPC_DEFAULT_SERVER_KA_TIMEOUT_MS    20000u
#define SLIM_GRPC_DEFAULT_CLIENT_KEEPALIVE_MS     60000u
#define SLIM_GRPC_DEFAULT_CLIENT_KA_TIMEOUT_MS    10000u
#define SLIM_GRPC_DEFAULT_KA_MIN_INTERVAL_MS      300000u
#define SLIM_GRPC_DEFAULT_MAX_CONNECTION_IDLE_MS  3600000u
#define SLIM_GRPC_DEFAULT_MAX_CONNECTION_AGE_MS   7200000u
#define SLIM_GRPC_DEFAULT_MAX_CONNECTION_GRACE_MS 300000u
#define SLIM_GRPC_DEFAULT_HANDSHAKE_TIMEOUT_MS    20000u
#define SLIM_GRPC_DEFAULT_MAX_CONNECTIONS         10000u

/* Copies `in` (NULL for all defaults) into *out with every zero field
 * replaced by its default (the server's where the two differ; see
 * slim_grpc_config_resolve_role). Windows are capped at 2^31-1 as HTTP/2
 * requires. */
void slim_grpc_config_resolve(const slim_grpc_config *in, slim_grpc_config *out);
void slim_grpc_config_resolve_role(const slim_grpc_config *in, bool server, slim_grpc_config *out);

/* The transport settings a SLIM ServerConfig / ClientConfig asks for, on top
 * of `base` (NULL for defaults): message size, streams, header list size
 * and the keepalive block (time, timeout, max_connection_idle,
 * max_connection_age, max_connection_age_grace; http2_keepalive, timeout,
 * keep_alive_while_idle). Zero durations in the SLIM config mean "off". */
void slim_grpc_config_from_server(const slim_server_config *sc, const slim_grpc_config *base,
                                  slim_grpc_config *out);
void slim_grpc_config_from_client(const slim_client_config *cc, const slim_grpc_config *base,
                                  slim_grpc_config *out);

/* ---- Calls ---- */

/* How a call ended, as given to on_close. Every view borrows from the call
 * and is valid only until on_close returns. */
typedef struct slim_grpc_result {
    slim_status status;           /* SLIM_OK, or E_GRPC_<CODE> (slim_grpc_code_to_status) */
    int code;                     /* the gRPC status code */
    slim_str message;             /* decoded grpc-message or a local explanation; may be empty */
    const slim_grpc_md *trailers; /* client: trailing metadata (empty if none); server: NULL */
    bool local;    /* produced here (deadline, cancel, limit, connection loss), not by the peer */
    size_t unsent; /* messages queued and never written, handed to on_unsent */
} slim_grpc_result;

/* Events of one call. Any may be NULL. `data` is the call's user data
 * (slim_grpc_call_data()). A callback may call any function of this API,
 * including ones that end this call or free its server or client; the
 * effects that would end the call are applied after the callback returns. */
typedef struct slim_grpc_call_cbs {
    /* Client: the response headers arrived; read them with
     * slim_grpc_call_metadata(). Not called for a trailers-only response. */
    void (*on_headers)(slim_grpc_call *call, void *data);
    /* A message arrived. `msg` is borrowed until the callback returns. */
    void (*on_message)(slim_grpc_call *call, slim_bytes msg, void *data);
    /* Server: the client finished sending (half-close). The call stays open
     * until the server finishes it. */
    void (*on_half_close)(slim_grpc_call *call, void *data);
    /* The send queue drained below half of send_queue_limit after a send
     * returned SLIM_E_QUEUE_FULL. */
    void (*on_writable)(slim_grpc_call *call, void *data);
    /* The call is over; `res` says how. The handle is freed after return. */
    void (*on_close)(slim_grpc_call *call, const slim_grpc_result *res, void *data);
    /* Right before on_close of a call that ends with messages queued but not
     * written (the connection dropped, a deadline, a cancel, a drain): once
     * per such message, oldest first. A message counts as written once the
     * socket write carrying its last byte completed; messages of a write
     * that failed are handed back although the peer may have received them.
     * `msg` is borrowed until return; `rc` is the buffer given to
     * slim_grpc_call_send_rc() (take a reference to keep it) or NULL for a
     * copied message. Without this callback the count is still reported in
     * on_close (res->unsent) and logged at debug level. */
    void (*on_unsent)(slim_grpc_call *call, slim_bytes msg, slim_rcbuf *rc, void *data);
} slim_grpc_call_cbs;

/* The user data of a call (initially the method's `ud` on a server, the
 * `data` given to slim_grpc_client_open() on a client). */
void *slim_grpc_call_data(const slim_grpc_call *call);
void slim_grpc_call_set_data(slim_grpc_call *call, void *data);

/* Server: the request headers (custom metadata only: no pseudo-headers,
 * te, content-type or grpc-*). Client: the response headers, empty until
 * on_headers. Borrowed from the call; valid until on_close returns. */
const slim_grpc_md *slim_grpc_call_metadata(const slim_grpc_call *call);

/* Server: the method path ("/pkg.Service/Method") and :authority. Borrowed;
 * valid until on_close returns. Client: the path it was opened with. */
slim_str slim_grpc_call_method(const slim_grpc_call *call);
slim_str slim_grpc_call_authority(const slim_grpc_call *call);

/* The peer's address ("127.0.0.1:5000", "[::1]:5000", "unix"). Borrowed. */
const char *slim_grpc_call_peer(const slim_grpc_call *call);

/* Queues one message. Never blocks and never writes synchronously; the bytes
 * are copied. Errors (nothing is queued and the call carries on):
 *   E_TRANSPORT_MSG_TOO_LARGE  msg.len > max_message_size
 *   E_QUEUE_FULL               the queue holds send_queue_limit bytes or more;
 *                              on_writable follows when it drains
 *   E_STATE                    after close_send/finish on this side
 *   E_CLOSED                   the call already ended (status pending)
 *   E_NOMEM */
slim_status slim_grpc_call_send(slim_grpc_call *call, slim_bytes msg);

/* Queues one shared message without copying it: the call takes a reference
 * to `msg` (the caller keeps its own) and drops it once the bytes are
 * written or handed back through on_unsent. The 5-byte prefix is made when
 * the message is packed into a write. Same errors, limits and backpressure
 * as slim_grpc_call_send(); on error no reference is taken. For one message
 * broadcast on many calls. */
slim_status slim_grpc_call_send_rc(slim_grpc_call *call, slim_rcbuf *msg);

/* As slim_grpc_call_send_rc(), but a queue at or past send_queue_limit
 * still takes the message while it holds less than twice that limit
 * (E_QUEUE_FULL beyond). For a caller that stops reading its own input when
 * a send meets the limit: the message that met it is queued instead of
 * lost, and the overshoot stays bounded. on_writable follows as after
 * E_QUEUE_FULL. */
slim_status slim_grpc_call_send_rc_forced(slim_grpc_call *call, slim_rcbuf *msg);

/* Client: half-close (no more messages from this side). Queued messages are
 * still sent. E_STATE when already half-closed or on a server call. */
slim_status slim_grpc_call_close_send(slim_grpc_call *call);

/* Server: sends the response headers now, with `md` (may be NULL; copied).
 * Only useful inside on_call: a client- or bidi-streaming call gets plain
 * response headers as soon as on_call returns (clients such as tonic wait
 * for them before sending), other calls with their first message or the
 * status.
 * E_STATE when already sent or on a client call, E_CLOSED, E_NOMEM. */
slim_status slim_grpc_call_send_headers(slim_grpc_call *call, const slim_grpc_md *md);

/* Server: ends the call with a status after the queued messages. `st` is
 * mapped with slim_grpc_status_to_code(); `message` (may be NULL) is sent
 * percent-encoded as grpc-message; `trailers` (may be NULL) is copied. When
 * no headers were sent yet, the response is trailers-only. E_STATE when
 * already finished or on a client call, E_CLOSED, E_NOMEM. */
slim_status slim_grpc_call_finish(slim_grpc_call *call, slim_status st, const char *message,
                                  const slim_grpc_md *trailers);

/* Either side: abandons the call (RST_STREAM CANCEL). on_close follows with
 * E_GRPC_CANCELLED (local). A no-op on a call that already ended. */
void slim_grpc_call_cancel(slim_grpc_call *call);

/* Stops/restarts on_message deliveries. While paused, received bytes wait in
 * the call and the peer's stream window is not reopened. After resume the
 * waiting messages are delivered from the loop (not from inside resume). */
void slim_grpc_call_pause(slim_grpc_call *call);
void slim_grpc_call_resume(slim_grpc_call *call);

/* Bytes queued for sending and not yet handed to the socket layer. */
size_t slim_grpc_call_send_queued(const slim_grpc_call *call);
/* Bytes received and not yet delivered (waiting while paused). */
size_t slim_grpc_call_recv_backlog(const slim_grpc_call *call);

/* Counters of one HTTP/2 connection. */
typedef struct slim_grpc_conn_stats {
    uint64_t socket_writes; /* slim_io_write calls */
    uint64_t bytes_written;
    uint64_t bytes_read;
    uint64_t msgs_sent;     /* messages queued by slim_grpc_call_send */
    uint64_t msgs_received; /* messages delivered or buffered for delivery */
    uint64_t flushes;       /* loop iterations that flushed */
    uint64_t pings_sent;    /* keepalive PINGs sent */
    uint64_t ping_acks;     /* ... and acknowledged */
    uint32_t goaways_received;
    uint32_t last_goaway_error; /* HTTP/2 error code of the last GOAWAY received */
} slim_grpc_conn_stats;

/* The counters of the connection carrying `call`. */
void slim_grpc_call_conn_stats(const slim_grpc_call *call, slim_grpc_conn_stats *out);

/* ---- Server ---- */

typedef enum slim_grpc_kind {
    SLIM_GRPC_UNARY = 0,            /* one request, one response */
    SLIM_GRPC_SERVER_STREAMING = 1, /* one request, a stream of responses */
    SLIM_GRPC_CLIENT_STREAMING = 2, /* a stream of requests, one response */
    SLIM_GRPC_BIDI_STREAMING = 3,   /* streams both ways */
} slim_grpc_kind;

/* A method the server answers. */
typedef struct slim_grpc_method {
    const char *path; /* "/pkg.Service/Method"; copied */
    slim_grpc_kind kind;
    /* A call started. UNARY and SERVER_STREAMING: called once the request
     * message and the client's half-close arrived, with `request` borrowed
     * until return (a call without exactly one request message is answered
     * INTERNAL without reaching the handler). The streaming-request kinds:
     * called when the headers arrived, `request` empty; messages follow
     * through cbs.on_message. The handler answers with send/finish, now or
     * later. */
    void (*on_call)(slim_grpc_call *call, slim_bytes request, void *ud);
    slim_grpc_call_cbs cbs; /* later events of the call */
    void *ud;               /* given to on_call; the call's initial data */
} slim_grpc_method;

/* Checks a call's headers before dispatch (authentication, later). Read the
 * method and metadata from `call`. Return SLIM_OK to accept; any other status
 * answers the call trailers-only with slim_grpc_status_to_code(status) and
 * *message (optional, NUL-terminated, copied before the check returns). The
 * call is never seen by a handler when refused. */
typedef slim_status (*slim_grpc_header_check)(slim_grpc_call *call, void *ud, const char **message);

/* A server on `loop` with `cfg` (NULL for defaults; copied). E_NOMEM. */
slim_status slim_grpc_server_new(uv_loop_t *loop, const slim_grpc_config *cfg,
                                 slim_grpc_server **out);

/* Registers a method (copied). E_EXISTS for a path already registered,
 * E_INVALID_ARG for a path not starting with '/' or no on_call, E_NOMEM. */
slim_status slim_grpc_server_add_method(slim_grpc_server *srv, const slim_grpc_method *m);

/* Installs the header check (NULL removes it). */
void slim_grpc_server_set_header_check(slim_grpc_server *srv, slim_grpc_header_check fn, void *ud);

/* Listens on an endpoint: "host:port", "[v6]:port", port 0 for any free
 * port, or "unix:///path" (a stale socket file nobody listens on is
 * removed; any other existing file is an error). Host names are resolved
 * synchronously here, as listening is a start-up step. The address actually
 * bound ("127.0.0.1:41873", "unix:///path") is written to `bound` when it is
 * not NULL. Errors: E_TRANSPORT_BAD_ENDPOINT, E_TRANSPORT_RESOLVE,
 * E_TRANSPORT_LISTEN (in use, permission, ...; logged with the reason),
 * E_BUFFER_SMALL, E_NOMEM, E_STATE after slim_grpc_server_free or
 * slim_grpc_server_shutdown. Plaintext (h2c) with the server's config. */
slim_status slim_grpc_server_listen(slim_grpc_server *srv, const char *endpoint, char *bound,
                                    size_t bound_cap);

/* As slim_grpc_server_listen, with TLS on this listener when `tls` is not
 * NULL and not `insecure` (certificate and key required; a client CA turns
 * on mutual TLS). `cfg` (NULL: the server's) gives the limits and timers of
 * its connections. Errors as above, plus E_TLS_CONFIG (logged with the
 * cause: an unreadable file, a key that does not match, ...). */
slim_status slim_grpc_server_listen_tls(slim_grpc_server *srv, const char *endpoint,
                                        const slim_tls_config *tls, const slim_grpc_config *cfg,
                                        char *bound, size_t bound_cap);

/* Listens as a SLIM ServerConfig says: its endpoint, its TLS block, and
 * the transport settings of slim_grpc_config_from_server() on top of the
 * server's config. Metadata, auth and link negotiation belong to the
 * caller. Errors as slim_grpc_server_listen_tls(). */
slim_status slim_grpc_server_listen_config(slim_grpc_server *srv, const slim_server_config *sc,
                                           char *bound, size_t bound_cap);

/* Number of open connections. */
size_t slim_grpc_server_connections(const slim_grpc_server *srv);

/* Server calls: the configuration of the listener the call came in on when
 * that listener was made with slim_grpc_server_listen_config() (borrowed
 * from its caller), else NULL. */
const slim_server_config *slim_grpc_call_server_config(const slim_grpc_call *call);
/* Counters of a server, over all its listeners. */
typedef struct slim_grpc_server_stats {
    size_t open;         /* connections open now */
    uint64_t accepted;   /* connections accepted and served */
    uint64_t refused;    /* closed at once: their listener had max_connections open (a
                            warning says so, at most once a second per listener) */
    uint64_t tls_failed; /* connections that ended on a TLS error (handshake, certificate,
                            ALPN, plaintext on a TLS port or the reverse) */
} slim_grpc_server_stats;

void slim_grpc_server_stats_get(const slim_grpc_server *srv, slim_grpc_server_stats *out);

/* Graceful shutdown. Stops listening (Unix socket files are removed), sends
 * GOAWAY on every connection so no new call starts, and ends every open call
 * with grpc-status 14 UNAVAILABLE "server shutting down" once its queued
 * messages are written (its on_close sees E_GRPC_UNAVAILABLE). Each
 * connection closes when its calls are over; what is still open
 * drain_timeout_ms later is reset, logged at WARN (method, peer, bytes
 * unsent) and closed. `done` (may be NULL) runs once no connection is left
 * (possibly from inside this call). The server is then still allocated:
 * free it afterwards. A second call changes nothing. */
typedef void (*slim_grpc_shutdown_cb)(slim_grpc_server *srv, void *ud);
void slim_grpc_server_shutdown(slim_grpc_server *srv, uint64_t drain_timeout_ms,
                               slim_grpc_shutdown_cb done, void *ud);

/* Stops listening, closes every connection (open calls end with
 * E_GRPC_UNAVAILABLE, local) and removes Unix socket files it created.
 * Memory is released from libuv close callbacks: keep running the loop
 * until it has no more handles. NULL is a no-op. */
void slim_grpc_server_free(slim_grpc_server *srv);

/* ---- Client ---- */

/* The client's connection, as gRPC names its states.
 *
 *   CONNECTING -> READY            resolved, connected, TLS done, and the
 *                                  server's SETTINGS arrived
 *   CONNECTING -> TRANSIENT_FAILURE  the attempt failed; a timer runs for the
 *                                  backoff delay, then CONNECTING again
 *   READY -> TRANSIENT_FAILURE     the connection was lost; a new attempt
 *                                  starts at once (the backoff restarts)
 *   READY -> IDLE                  the server sent GOAWAY: calls already open
 *                                  finish on the old connection, new ones
 *                                  wait for a new one (CONNECTING at once)
 *   any -> SHUTDOWN                max_attempts retries failed in a row, or
 *                                  (not reported) slim_grpc_client_free()
 *
 * A new client starts in CONNECTING (that first state is not reported).
 * Calls opened while CONNECTING go out when READY, and fail with
 * UNAVAILABLE if that attempt fails. In TRANSIENT_FAILURE, opening a call
 * fails at once with E_GRPC_UNAVAILABLE; in SHUTDOWN with E_CLOSED. */
typedef enum slim_grpc_conn_state {
    SLIM_GRPC_IDLE = 0,
    SLIM_GRPC_CONNECTING = 1,
    SLIM_GRPC_READY = 2,
    SLIM_GRPC_TRANSIENT_FAILURE = 3,
    SLIM_GRPC_SHUTDOWN = 4,
} slim_grpc_conn_state;

/* "IDLE", "CONNECTING", ... */
const char *slim_grpc_conn_state_name(slim_grpc_conn_state st);

/* Connection state changes. `why` is SLIM_OK for CONNECTING and READY; for
 * the others the cause: E_TRANSPORT_RESOLVE, E_TRANSPORT_CONNECT,
 * E_TRANSPORT_TIMEOUT, E_TRANSPORT_CONN_LOST, E_TRANSPORT_PROTOCOL,
 * E_TRANSPORT_KEEPALIVE, E_TRANSPORT_GOAWAY (IDLE), one of the E_TLS_*
 * statuses, ... slim_grpc_client_why() has it in words. */
typedef void (*slim_grpc_state_cb)(slim_grpc_client *c, slim_grpc_conn_state state, slim_status why,
                                   void *ud);

/* Options of one outgoing call. */
typedef struct slim_grpc_call_opts {
    const char *method;           /* "/pkg.Service/Method" */
    const slim_grpc_md *metadata; /* request metadata, may be NULL; copied */
    uint64_t timeout_ms;          /* 0 = none; sent as grpc-timeout and enforced here */
} slim_grpc_call_opts;

/* A client for `target` ("http://host:port", "host:port", "[v6]:port",
 * "unix:///path", or "https://host:port" verified against the system
 * roots). Resolution (uv_getaddrinfo) and connection start at once and
 * finish asynchronously; calls may be opened right away and go out when
 * connected. Reconnects as upstream SLIM's default does (every 2 s,
 * forever). `cb` (may be NULL) reports state changes.
 * E_TRANSPORT_BAD_ENDPOINT, E_TLS_CONFIG, E_NOMEM. */
slim_status slim_grpc_client_new(uv_loop_t *loop, const char *target, const slim_grpc_config *cfg,
                                 slim_grpc_state_cb cb, void *ud, slim_grpc_client **out);

/* A client as a SLIM ClientConfig says: endpoint (http://, https://,
 * unix://), tls, keepalive, backoff, connect_timeout, request_timeout (for
 * unary calls without their own timeout), origin (the :authority), headers
 * (sent with every call). `base` (may be NULL) gives the other transport
 * settings. The config is read now and not kept. Auth, proxy and link
 * negotiation are not this layer's. E_TRANSPORT_BAD_ENDPOINT, E_TLS_CONFIG
 * (logged with the cause), E_INVALID_ARG (a header the transport sets
 * itself), E_NOMEM. */
slim_status slim_grpc_client_new_config(uv_loop_t *loop, const slim_client_config *cc,
                                        const slim_grpc_config *base, slim_grpc_state_cb cb,
                                        void *ud, slim_grpc_client **out);

/* The current state, and the cause of the last failure in words ("" when
 * none yet). The text is valid until the next state change. */
slim_grpc_conn_state slim_grpc_client_state(const slim_grpc_client *c);
const char *slim_grpc_client_why(const slim_grpc_client *c);

/* The delay before retry number `n` (0: the one after the first failure)
 * under `b`, in ms, or SLIM_GRPC_OFF when max_attempts retries are used up.
 * Upstream's semantics (tokio-retry): exponential gives
 * min(max_delay, factor * base^(n+1)) ms, times `rand01` (in [0, 1)) when
 * jitter is on; fixed_interval gives the interval. Pure. */
uint64_t slim_grpc_backoff_delay(const slim_backoff_config *b, uint64_t n, double rand01);

/* Opens a call (a stream): sends the request headers with opts->metadata and
 * the grpc-timeout. Events go to cbs (copied) with `data`. *out is valid
 * until on_close returns. E_GRPC_UNAVAILABLE in TRANSIENT_FAILURE, E_CLOSED
 * in SHUTDOWN or after free, E_INVALID_ARG (no method or it does not start
 * with '/'), E_NOMEM. */
slim_status slim_grpc_client_open(slim_grpc_client *c, const slim_grpc_call_opts *opts,
                                  const slim_grpc_call_cbs *cbs, void *data, slim_grpc_call **out);

/* The result of a unary call: `res` as for on_close; `response` is the
 * response message (empty unless res->status is SLIM_OK) and `headers` the
 * response headers. All borrowed until the callback returns. */
typedef void (*slim_grpc_unary_cb)(const slim_grpc_result *res, slim_bytes response,
                                   const slim_grpc_md *headers, void *ud);

/* Makes a unary call: sends `request`, half-closes, and calls `cb` once with
 * the outcome (a reply without exactly one message is E_GRPC_INTERNAL).
 * Errors as for open and send; on error `cb` is not called. */
slim_status slim_grpc_client_unary(slim_grpc_client *c, const slim_grpc_call_opts *opts,
                                   slim_bytes request, slim_grpc_unary_cb cb, void *ud);

/* The connection's counters (zeros before it connects). */
void slim_grpc_client_stats(const slim_grpc_client *c, slim_grpc_conn_stats *out);

/* Closes the connections: open calls end with E_GRPC_CANCELLED (local), the
 * state callback is not called any more. Memory is released from libuv
 * callbacks: keep running the loop. NULL is a no-op. */
void slim_grpc_client_free(slim_grpc_client *c);

#endif
