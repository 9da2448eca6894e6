/*
 * A SLIM application: a name, an identity, connections to nodes, and
 * sessions with other applications (docs/client.md).
 *
 * Each slim_app runs one loop thread of its own with an embedded router
 * (as upstream's apps do): the application is a LOCAL connection of that
 * router, and the nodes it connects to are gRPC links of it.
 *
 * Threads. Every function may be called from any thread. Calls post their
 * work to the app's loop thread; no user code ever runs on a library
 * thread.
 *
 * Two forms for everything that waits. The blocking form takes a timeout
 * in milliseconds (negative: no limit; 0: do not wait) and returns the
 * result, or SLIM_E_TIMEOUT (the operation itself goes on and its result
 * is discarded). The `_async` form returns at once with an operation id
 * (*op; may be NULL when the caller does not want to hear back); the
 * result comes later as a SLIM_EVENT_OP_DONE event with that id, unless
 * the call itself returned an error, in which case no event follows.
 *
 * Events. slim_app_fd() is a file descriptor that is readable while an
 * event waits; slim_app_next_event() takes them one at a time. A C program
 * can block in next_event; an event loop (Python's asyncio) watches the fd
 * and drains next_event(0) until SLIM_E_TIMEOUT.
 *
 * Queues. Messages wait in a queue per session (bounded: the oldest are
 * kept, newer ones are dropped and counted, and a SLIM_EVENT_DROPPED says
 * how many); events wait in one queue per app (bounded likewise).
 */
#ifndef SLIM_APP_H
#define SLIM_APP_H

#include "slim/common.h"
#include "slim/name.h"
#include "slim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct slim_app slim_app;
typedef uint64_t slim_op;         /* names one pending asynchronous operation; never 0 */
typedef uint64_t slim_session_id; /* a session of this app; never 0, never reused */
typedef uint64_t slim_conn_id;    /* a connection of this app's router; never 0 */

/* ---- identity ---- */

typedef enum slim_identity_kind {
    SLIM_IDENTITY_SHARED_SECRET = 1, /* upstream's shared-secret tokens (docs/identity.md) */
    SLIM_IDENTITY_JWT = 2,           /* JSON Web Tokens signed with a key (docs/jwt.md) */
    SLIM_IDENTITY_STATIC_JWT = 3,    /* provider only: a token read from a file */
} slim_identity_kind;

/* How the app proves who it is (provider) and checks others (verifier).
 * Strings are copied; unused fields stay zero.
 *
 * SHARED_SECRET: `id` (provider) and `secret`. A provider's secret shorter
 * than 32 characters is accepted with a warning in the log (upstream's early
 * examples use "secret"); it never travels.
 *
 * JWT, as upstream's PyIdentityProvider.Jwt / PyIdentityVerifier.Jwt: a
 * key (`key` inline, or `key_file`, which is reloaded when it changes) in
 * `key_format` "pem" (default), "jwk" or "jwks", for `algorithm` "HS256",
 * "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
 * "ES256", "ES384" or "EdDSA" (may be NULL when the JWK says). The
 * provider signs tokens with iss = `issuer`, sub = `subject` (the app id
 * derives from it), aud = `audience`, valid `duration_s` (0: 3600 s), and
 * reuses each for half of that. The verifier checks the signature, exp,
 * and iss / aud / sub when set (required with require_*); with
 * `autoresolve` it has no key and fetches the issuer's JWKS over HTTPS
 * (trusting `ca_file` when set, else the system's CAs).
 *
 * STATIC_JWT (provider), as upstream's StaticJwt: the token in
 * `token_file`, sent as it is and reloaded when the file changes; its
 * "sub" gives the app id. It cannot sign command messages, so such an app
 * can accept sessions but not open them with peers that require
 * signatures, and it cannot be a member of an MLS session (no private
 * key: E_UNSUPPORTED). */
typedef struct slim_identity_config {
    slim_identity_kind kind;
    const char *id;     /* SHARED_SECRET provider: the configured id; the app id derives from it */
    const char *secret; /* SHARED_SECRET: the shared secret */
    /* JWT */
    const char *algorithm;       /* JOSE name, see above */
    const char *key_format;      /* "pem" (NULL), "jwk", "jwks" */
    const char *key;             /* the key text, or NULL with key_file */
    const char *key_file;        /* a file holding it (watched) */
    uint32_t duration_s;         /* provider: token lifetime; 0 = 3600. SHARED_SECRET: the
                                  * validity of tokens, the same for the provider and the
                                  * verifier of every app */
    const char *issuer;          /* provider: "iss"; verifier: the expected issuer */
    const char *subject;         /* provider: "sub"; verifier: the expected subject */
    const char *const *audience; /* provider: "aud"; verifier: accepted values */
    size_t audience_len;         /* at most 64 */
    bool require_iss, require_aud, require_sub; /* verifier */
    bool autoresolve;                           /* verifier: keys from the issuer's JWKS */
    const char *ca_file;                        /* autoresolve: CAs to trust */
    /* STATIC_JWT */
    const char *token_file;
} slim_identity_config;

/* ---- creating an app ---- */

/* Settings; zero means the default. */
typedef struct slim_app_options {
    uint32_t max_sessions;       /* 1024 */
    uint32_t session_queue;      /* messages waiting per session: 4096 */
    uint32_t event_queue;        /* events waiting: 65536 */
    uint32_t heartbeat_ms;       /* session heartbeats: 10 000 (upstream) */
    uint32_t heartbeat_misses;   /* a peer or group member silent this many periods is down: 3 */
    uint32_t offline_removal_ms; /* a group member down this long is removed (by the
                                  * moderator; a moderator down this long ends the group
                                  * for its members): 300 000 */
    uint32_t max_message_size;   /* bytes: 4 MiB */
    uint32_t max_members;        /* per group (roster), the moderator included: 1024 */
    uint32_t send_window;        /* reliable messages unacknowledged per session: 512 */
    /* The MLS cipher suite of the app's sessions with `mls` (RFC 9420
     * ids): 2 = MLS_128_DHKEMP256_AES128GCM_SHA256_P256 (the default) or
     * 1 = MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519. The provider's
     * signing key (the token's "pubkey", which also signs command headers)
     * is of its signature scheme: P-256 or Ed25519. docs/client.md. */
    uint16_t mls_suite;
    /* Restarting from saved state (slim_app_save_state; docs/client.md,
     * "State at rest"): the file and its 32-byte key. The app takes its id
     * and signing key from it (its provider config must be the one it was
     * saved with: E_STATE_IDENTITY otherwise), and the groups it was a
     * member of come back on its first connection, as sessions
     * slim_app_listen returns. E_STATE_ALTERED (the file was changed, or
     * another key), E_STATE_FORMAT, E_IO. */
    const char *state_file;
    const uint8_t *state_key;
} slim_app_options;

/* Creates an app named `name` ("org/namespace/service"; its id comes from
 * the provider's identity) and starts its thread. opts may be NULL.
 * E_INVALID_ARG (a name that does not parse, a missing secret, key or
 * token file, an unknown algorithm or key format, an mls_suite other than
 * 0, 1 or 2), the key and token
 * errors of docs/jwt.md (E_JWT_BAD_KEY, E_JWT_KEY_MISMATCH, ...; E_IO for
 * a file that cannot be read), E_NOMEM, E_IO (a thread or descriptor
 * could not be made). */
SLIM_API slim_status slim_app_new(const char *name, const slim_identity_config *provider,
                                  const slim_identity_config *verifier,
                                  const slim_app_options *opts, slim_app **out);

/* Saves the app's identity (its id and signing key; not the shared secret
 * or key files, which come from the config again) and every group it is
 * a member of (not one it moderates), with its MLS state, to `path`,
 * sealed with AES-256-GCM under `key` (32 bytes the application keeps
 * and never stores beside the file). The file is written whole and
 * renamed into place, mode 0600; nothing is written in the clear. Save
 * again after sending much: a restarted app goes on past the message ids
 * and MLS generations it may have used since (docs/client.md).
 * E_INVALID_ARG, E_IO, E_TIMEOUT. */
SLIM_API slim_status slim_app_save_state(slim_app *app, const char *path, const uint8_t key[32],
                                         int64_t timeout_ms);

/* Stops the app: sessions end (peers are told, for at most timeout_ms),
 * links close, the thread exits, then everything is freed. No other call
 * may run on app concurrently or after. NULL is a no-op. */
SLIM_API void slim_app_free(slim_app *app, int64_t timeout_ms);

/* The app's full name (with its id). Any thread. */
SLIM_API void slim_app_name(const slim_app *app, slim_name *out);

/* Writes "org/ns/service/<uuid>" into buf (see slim_name_format). */
SLIM_API slim_status slim_app_name_text(const slim_app *app, char *buf, size_t cap);

/* ---- events ---- */

typedef enum slim_event_kind {
    SLIM_EVENT_OP_DONE = 1,    /* `op` finished: status, detail, and what it made */
    SLIM_EVENT_SESSION_CLOSED, /* `session` ended: status (SLIM_OK: closed normally), detail */
    SLIM_EVENT_UNDELIVERED,  /* reliable message `message_id` of `session` was never acknowledged */
    SLIM_EVENT_DROPPED,      /* `count` messages of `session` (0: events) dropped, queue full */
    SLIM_EVENT_CONNECTION,   /* `conn` went down (status) or came back (SLIM_OK) */
    SLIM_EVENT_MESSAGE_LOST, /* `name` (the sender) no longer has message `message_id` of
                              * `session`: the stream moves on past it */
    SLIM_EVENT_MEMBER,       /* `member` happened to `name` in group `session` */
} slim_event_kind;

typedef struct slim_message slim_message;

typedef struct slim_event {
    slim_event_kind kind;
    slim_op op;
    slim_status status;
    slim_session_id session; /* OP_DONE of open, listen; and session events */
    slim_conn_id conn;       /* OP_DONE of connect; CONNECTION */
    uint32_t message_id;     /* OP_DONE of publish; UNDELIVERED */
    uint64_t count;          /* DROPPED */
    slim_message *message;   /* OP_DONE of get_message: the caller's to free */
    int member;              /* MEMBER: a slim_member_change (include/slim/session.h) */
    char name[512];          /* MEMBER, MESSAGE_LOST: "org/ns/service/<uuid>" */
    char detail[256];        /* the cause in words, or "" */
} slim_event;

/* Readable while an event waits (level-triggered). Owned by the app. */
SLIM_API int slim_app_fd(const slim_app *app);

/* Takes the next event, waiting up to timeout_ms. E_TIMEOUT when none
 * came. One consumer at a time. */
SLIM_API slim_status slim_app_next_event(slim_app *app, int64_t timeout_ms, slim_event *ev);

/* ---- connections ---- */

/* A connection to a node (or to another app's server), with the keys of
 * SLIM's client config (the `clients:` entries of a node's YAML). Zero
 * fields take upstream's defaults; strings are copied. */
typedef struct slim_client_options {
    const char *endpoint;             /* "http://host:port" (plain) or "https://host:port" (TLS) */
    const char *ca_file;              /* TLS: CAs to trust (else the system's) */
    const char *cert_file, *key_file; /* TLS client certificate (mTLS) */
    const char *server_name;          /* TLS: name to verify instead of the host */
    bool insecure_skip_verify;        /* TLS: accept any certificate */
    const char *link_id;              /* announced link id (else a fresh UUID) */
} slim_client_options;

/* Connects to a node: the call completes when the link is negotiated and
 * the app's own name is subscribed over it; *conn identifies it for
 * subscribe/route calls and disconnect (and becomes the default
 * connection for them). The link reconnects by itself with the configured
 * backoff. E_INVALID_ARG (no endpoint), E_TIMEOUT, the transport's errors
 * (in the event's detail: "cannot connect to http://...: connection
 * refused"). */
SLIM_API slim_status slim_app_connect(slim_app *app, const slim_client_options *o,
                                      int64_t timeout_ms, slim_conn_id *conn);
SLIM_API slim_status slim_app_connect_async(slim_app *app, const slim_client_options *o,
                                            slim_op *op);
/* The same with the whole client config as JSON text (the keys a node's
 * YAML `clients:` entry takes: endpoint, tls, keepalive, backoff, ...). */
SLIM_API slim_status slim_app_connect_json(slim_app *app, const char *json, int64_t timeout_ms,
                                           slim_conn_id *conn);
SLIM_API slim_status slim_app_connect_json_async(slim_app *app, const char *json, slim_op *op);

/* Closes a connection (its subscriptions and routes go with it).
 * E_NOT_FOUND. */
SLIM_API slim_status slim_app_disconnect(slim_app *app, slim_conn_id conn, int64_t timeout_ms);
SLIM_API slim_status slim_app_disconnect_async(slim_app *app, slim_conn_id conn, slim_op *op);

/* Listens for other apps and nodes, with a server config as JSON text (the
 * keys of a node's YAML `servers:` entry: endpoint, tls, ...), as
 * upstream's example node is an app that does this. Completes once
 * listening; apps that connect here reach this one by its name (and each
 * other by theirs). E_EXISTS (already listening there), E_INVALID_ARG,
 * E_IO. */
SLIM_API slim_status slim_app_run_server(slim_app *app, const char *json, int64_t timeout_ms);
SLIM_API slim_status slim_app_run_server_async(slim_app *app, const char *json, slim_op *op);
/* Stops the server listening on `endpoint` (as given). E_NOT_FOUND. */
SLIM_API slim_status slim_app_stop_server(slim_app *app, const char *endpoint, int64_t timeout_ms);
SLIM_API slim_status slim_app_stop_server_async(slim_app *app, const char *endpoint, slim_op *op);

/* ---- counters ---- */

/* What the app's bounded queues dropped (each queue and what happens when
 * it is full: docs/client.md, "Bounds") and what its sessions did. Totals
 * since the app was made. */
typedef struct slim_app_counters {
    uint64_t messages_dropped; /* a session's queue (session_queue) was full */
    uint64_t events_dropped;   /* the event queue (event_queue) was full */
    uint64_t sessions_refused; /* peers' sessions past the 128 waiting to be listened for */
    uint64_t calls_refused;    /* calls refused with E_QUEUE_FULL: the command queue was full */
    uint64_t sessions_open;    /* now */
    uint64_t messages_in, messages_out; /* application data */
    uint64_t retransmissions, undelivered, lost;
    uint64_t drop_identity;   /* messages whose identity or signature failed */
    uint64_t drop_malformed;  /* messages that did not decode */
    uint64_t drop_other;      /* for no session, duplicates, unexpected, over the backlog */
    uint64_t drop_unrouted;   /* session messages this app's router could not send (no route,
                                 the connection down): retransmission covers reliable ones */
    uint64_t drop_queue_full; /* messages this app's router dropped: a connection's send queue
                                 was past twice its limit (a node not reading it) */
    uint64_t reconnects;      /* connections that came back after going down */
    uint64_t mls_commits;     /* MLS commits made (moderator) or applied (member), the
                                 key updates included */
    uint64_t controller_requests_refused; /* requests of a node's controller (docs/protocol.md,
                                             "Channels through the controller") dropped
                                             unanswered: identity missing or refused, or
                                             undecodable */
} slim_app_counters;

/* Copies the counters; those of the sessions are as of the loop's last
 * pass. Safe from any thread. E_INVALID_ARG. */
SLIM_API slim_status slim_app_counters_get(slim_app *app, slim_app_counters *out);

/* ---- names and routes ---- */

/* Subscribes `name` ("org/ns/service" or with an id) on connection conn
 * (0: the last connected): messages for it reach this app. Without an id
 * the app becomes an instance of the name under its own id, so messages
 * to any instance of it and to that id reach the app (sessions answer
 * from that full name). Completes when the node acknowledged it.
 * Subscriptions and routes are sent again whenever the connection comes
 * back (a restarted node knows nothing). E_NOT_FOUND (no such connection,
 * or none yet), E_INVALID_ARG (name), the node's refusal. */
SLIM_API slim_status slim_app_subscribe(slim_app *app, const char *name, slim_conn_id conn,
                                        int64_t timeout_ms);
SLIM_API slim_status slim_app_subscribe_async(slim_app *app, const char *name, slim_conn_id conn,
                                              slim_op *op);
SLIM_API slim_status slim_app_unsubscribe(slim_app *app, const char *name, slim_conn_id conn,
                                          int64_t timeout_ms);
SLIM_API slim_status slim_app_unsubscribe_async(slim_app *app, const char *name, slim_conn_id conn,
                                                slim_op *op);
/* Routes `name` through conn (0: the last connected) in this app's router:
 * messages this app sends to it go there. Completes at once (local). */
SLIM_API slim_status slim_app_set_route(slim_app *app, const char *name, slim_conn_id conn,
                                        int64_t timeout_ms);
SLIM_API slim_status slim_app_set_route_async(slim_app *app, const char *name, slim_conn_id conn,
                                              slim_op *op);
SLIM_API slim_status slim_app_remove_route(slim_app *app, const char *name, slim_conn_id conn,
                                           int64_t timeout_ms);
SLIM_API slim_status slim_app_remove_route_async(slim_app *app, const char *name, slim_conn_id conn,
                                                 slim_op *op);

#ifdef __cplusplus
}
#endif

#endif
