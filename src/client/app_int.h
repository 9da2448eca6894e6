/*
 * Inside a slim_app (include/slim/app.h): shared by the files of
 * src/client. Two sides:
 *
 *   - the callers' side (any thread): the API functions parse and check
 *     their arguments, then post a command and, for the blocking forms,
 *     wait for its result;
 *   - the loop thread: owns the hub (router + links), the servers, the
 *     session layer; runs the commands and completes their operations.
 *
 * They meet under one mutex (`mu`): the command queue, the operation
 * table, the event queue and the per-session message queues. The loop
 * holds it only to move items in and out, never while it works.
 *
 * Completing an operation (op_complete) hands its result to whoever
 * waits: a blocked caller (through `cond`), or the event queue, or nobody
 * (fire and forget, or a caller that gave up waiting).
 *
 * What the loop queues for the callers (events, messages, sessions to
 * listen for) wakes them at most twice per turn of the loop: at once for
 * the first, then right before the loop polls for the rest
 * (slim_app__wake). A burst of messages costs two wakes, not a futex call
 * (and a contended mutex) each, and a lone reply is not delayed. A
 * blocked caller's own result wakes it at once.
 */
#ifndef SLIM_CLIENT_APP_INT_H
#define SLIM_CLIENT_APP_INT_H

#include "config/endpoint.h"
#include "core/hmap.h"
#include "client/app_identity.h"
#include "session/sessions.h"
#include "slim/session.h"
#include "core/rcbuf.h"
#include "link/hub.h"
#include "slim/app.h"
#include "transport/grpc.h"

#include <uv.h>

/* ---- commands (callers -> loop) ---- */

typedef enum cmd_kind {
    CMD_CONNECT = 1,
    CMD_DISCONNECT,
    CMD_RUN_SERVER,
    CMD_STOP_SERVER,
    CMD_SUBSCRIBE,
    CMD_UNSUBSCRIBE,
    CMD_SET_ROUTE,
    CMD_REMOVE_ROUTE,
    CMD_SESSION_CREATE,
    CMD_SESSION_DELETE,
    CMD_PUBLISH,
    CMD_SESSION_INVITE,
    CMD_SESSION_REMOVE,
    CMD_SESSION_ROTATE,
    CMD_SAVE_STATE,
    CMD_STOP,
} cmd_kind;

/* Metadata entries accepted per call. */
#define SLIM_APP_MAX_METADATA 64

/* What a session command carries (all owned). */
typedef struct cmd_session {
    slim_session_id session;
    slim_session_type type;
    uint32_t timeout_ms, max_retries;
    bool mls;
    uint32_t mls_rotation_ms; /* create: the key update interval (0: none) */
    char **md;                /* key, value, key, value... */
    size_t md_len;
    slim_publish_mode mode;
    char *to_text; /* peer (create), destination (publish), source replied to (publish_to) */
    slim_name to;
    slim_str to_parts[3]; /* views into to_text */
    uint64_t conn;        /* publish_to: the input connection */
    char *payload_type;
    uint8_t *payload;
    size_t payload_len;
} cmd_session;

typedef struct app_cmd {
    struct app_cmd *next;
    cmd_kind kind;
    slim_op op;
    slim_conn_id conn;
    char *text;            /* endpoint (STOP_SERVER), name text (subscriptions) */
    slim_name name;        /* subscriptions: the parsed name ... */
    slim_str parts[3];     /* ... and its components (views into text) */
    slim_client_config cc; /* CONNECT (owned) */
    slim_server_config sc; /* RUN_SERVER (owned) */
    cmd_session s;         /* session commands */
    int64_t timeout_ms;    /* STOP: how long sessions get to close */
    uint8_t key[32];       /* SAVE_STATE: the file's key (wiped when freed) */
} app_cmd;

/* ---- operations ---- */

typedef enum op_mode {
    OP_EVENT,   /* the result becomes an event */
    OP_WAIT,    /* a caller waits for it */
    OP_DISCARD, /* nobody wants it (a caller gave up) */
    OP_CALL,    /* the loop itself wants it: `call` runs (loop thread) */
} op_mode;

/* OP_CALL: called with the result on the loop thread, or with ev NULL
 * when the app is freed before the operation completed (free ud only). */
typedef void (*op_call_fn)(slim_app *app, void *ud, const slim_event *ev);

typedef struct op_rec {
    slim_hnode node;
    slim_op id;
    op_mode mode;
    bool done;
    slim_event result; /* OP_WAIT: filled when done */
    op_call_fn call;   /* OP_CALL */
    void *call_ud;
} op_rec;

/* ---- the loop side ---- */

/* A name subscribed or routed over a connection (by a caller, or by the
 * session layer for a peer), sent again on every new stream of it: a node
 * that restarted knows nothing, and the old stream's routes went with it. */
typedef struct app_kept {
    struct app_kept *next;
    slim_name name;
    char *part[3]; /* its text components */
    bool route;
} app_kept;

typedef struct app_conn {
    struct app_conn *next;
    slim_app *app;
    slim_conn_id id;
    slim_hub_link *link;
    uint64_t fwd;         /* forwarder connection of the current stream; 0: down */
    slim_op connect_op;   /* the connect waiting for the first stream, 0 once done */
    uint64_t connect_sub; /* the subscription of our name that completes it */
    bool up_pending;      /* `up` happened inside the forwarder: act on it */
    bool ever_up;
    bool dead; /* to remove (a connect that failed) */
    char *endpoint;
    app_kept *kept;
} app_conn;

/* A session as the callers see it (under mu). */
typedef struct app_session {
    slim_hnode node;
    slim_session_id id;
    slim_session_info *info;
    slim_message **q; /* ring of received messages, q_cap = opts.session_queue */
    size_t q_head, q_count, q_cap;
    uint64_t dropped; /* since the last DROPPED event */
    slim_op *getters; /* get_message_async calls waiting, oldest first */
    size_t n_getters, cap_getters;
    int waiting; /* blocking get_message calls inside */
    bool closed;
    /* A reliable point-to-point session whose queue passes its hold mark
     * is held in the core (slim_sessions_hold: its sender keeps and resends
     * what does not fit) and released once the reader has taken half of
     * it. */
    bool holdable, held, release;
    char **members; /* slim_session_members: NULL-terminated, one block; refreshed on changes */
} app_session;

typedef struct app_server {
    struct app_server *next;
    char *endpoint; /* as configured */
    slim_server_config sc;
    slim_grpc_server *server;
} app_server;

/* A subscription or route this app sent, waiting for its answers: the
 * local router's (always) and, with forward_to, the node's. */
typedef struct app_sub {
    struct app_sub *next;
    uint64_t id;
    slim_op op;
    slim_conn_id conn; /* app connection; 0 for the connect of `owner` */
    app_conn *owner;   /* a connect's own-name subscription */
    uint64_t fwd;      /* the forwarder connection it went over (forward_to) */
    slim_name name;    /* as sent */
    char *name_text;   /* the name as the caller gave it */
    bool unsub, route;
    bool replay;             /* sent again on a new stream: nobody waits, nothing to record */
    bool local_done, remote; /* remote: a node answers too */
    uint64_t deadline_ms;
} app_sub;

struct slim_app {
    /* fixed at creation */
    slim_name name;
    char *name_text[3];
    slim_str name_parts[3];
    slim_app_options opts;

    /* shared, under mu */
    uv_mutex_t mu;
    uv_cond_t cond;
    app_cmd *cmd_head, *cmd_tail;
    size_t n_cmds;
    slim_hmap ops;
    slim_op next_op;
    slim_event *events; /* ring of opts.event_queue */
    size_t ev_head, ev_count;
    slim_app_counters counters; /* the app's own; the sessions' copied in by the loop */
    uint64_t ev_dropped;
    int efd;
    bool efd_on; /* the descriptor is readable */
    bool stopping, stopped;
    slim_hmap sessions;            /* app_session by id */
    slim_session_id listen_q[128]; /* sessions peers opened, not listened for yet */
    size_t lq_head, lq_count;
    slim_op listeners[128]; /* listen_async calls waiting */
    size_t n_listeners;

    /* loop thread only */
    uv_thread_t thread;
    uv_loop_t loop;
    uv_async_t wake;
    uv_timer_t tick;
    slim_hub *hub;
    uint64_t local;     /* our LOCAL connection */
    slim_rcbuf **inbox; /* what the router sent us, to handle after its call */
    size_t n_inbox, cap_inbox;
    app_conn *conns;
    slim_conn_id next_conn, last_conn;
    app_server *servers;
    app_sub *subs;
    bool deferred;         /* link callbacks left work for pump() */
    app_identity identity; /* provider and verifier, of either kind */
    slim_sessions *ss;
    uv_timer_t ss_timer;
    uv_check_t check;     /* runs the pump after each turn's I/O */
    uv_prepare_t prep;    /* wakes the callers before the loop polls */
    bool woke;            /* the callers were woken this turn */
    bool wake_due;        /* ... and something was queued for them since */
    bool drops_pending;   /* some session dropped messages: say so */
    bool release_pending; /* some held session may be released (under mu) */
    bool closing_all, all_closed;
    uint64_t stop_deadline_ms;
    app_cmd *stop_cmd; /* made at creation, so stopping cannot fail */
    slim_buf restore;  /* saved sessions to bring back on the first connection (secret) */
};

/* Completes op with its result (kind, op and detail are filled here; the
 * other fields from r). Any thread; takes mu. */
void slim_app__complete(slim_app *app, slim_op op, slim_status st, const char *detail,
                        const slim_event *r);

/* An operation of the loop's own (OP_CALL): fn(app, ud, result) runs on
 * the loop thread when it completes. 0 when out of memory (ud not
 * taken). Loop thread; takes mu. */
slim_op slim_app__op_call(slim_app *app, op_call_fn fn, void *ud);

/* Under mu: the callers should see what was just queued for them (the
 * descriptor readable while events wait, waiters woken): at once on a
 * caller's thread and for the loop's first news of a turn, else before
 * the loop next polls. */
void slim_app__wake(slim_app *app);

/* Queues an event that is no operation's result. Loop thread; takes mu. */
void slim_app__event(slim_app *app, const slim_event *ev);
/* The same under mu. */
void slim_app__push_event(slim_app *app, const slim_event *ev);

/* src/client/session.c */
app_session *slim_app__session_find(slim_app *app, slim_session_id id); /* under mu */
void slim_app__run_session_cmd(slim_app *app, app_cmd *c);
void slim_app__session_free(app_session *s);
void slim_app__sessions_drain(slim_app *app);
void slim_app__sessions_input(slim_app *app, slim_bytes msg);
bool slim_app__sessions_close_all(slim_app *app);
/* The core's ops, for slim_sessions_new. */
void slim_app__sessions_ops(slim_app *app, slim_sessions_ops *ops);

/* Offers a session the loop opened itself to the program as a new one
 * (slim_app_listen), as a peer's session is; false (and the session
 * closed) when it cannot. Loop thread. */
bool slim_app__session_offer(slim_app *app, slim_session_id id);

/* src/client/ctl_req.c: requests of the node's controller
 * (docs/protocol.md, "Channels through the controller"). True when msg
 * is a CONTROLLER_REQUEST Publish, which ctl_input then takes. Loop
 * thread. */
bool slim_app__ctl_is_request(slim_bytes msg);
void slim_app__ctl_input(slim_app *app, slim_bytes msg);

/* src/client/state.c: state at rest. Load: the identity and the sessions
 * to bring back from opts.state_file (slim_app_new, instead of
 * slim_app__identity_init). Restore: those sessions, over the first
 * connection's stream fwd. Save: CMD_SAVE_STATE. */
slim_status slim_app__state_load(slim_app *app, const slim_identity_config *provider,
                                 const slim_identity_config *verifier);
void slim_app__state_restore(slim_app *app, uint64_t fwd);
void slim_app__state_save_cmd(slim_app *app, app_cmd *c);

/* Loop side of the commands of src/client/conn.c. */
void slim_app__run_conn_cmd(slim_app *app, app_cmd *c);
/* The router's answers to this app's subscriptions (LOCAL connection). */
bool slim_app__local_ack(slim_app *app, const slim_msg *m);
/* Work left by link callbacks, then timeouts (tick). */
void slim_app__conn_work(slim_app *app);
/* Notes a Subscribe or Unsubscribe the session layer sends its router: a
 * route or subscription over a connection's stream is kept for that
 * connection (and sent again when it reconnects). */
void slim_app__route_seen(slim_app *app, slim_bytes msg);
void slim_app__conn_tick(slim_app *app, uint64_t now_ms);
/* Closes links and servers (loop thread, at stop). */
void slim_app__conn_stop(slim_app *app);
/* The hub's subscription_ack callback. */
void slim_app__remote_ack(uint64_t conn, uint64_t id, bool success, const char *error, void *ud);

void slim_app__cmd_free(app_cmd *c);

/* Posting a command (callers): the async form (op may be NULL: nobody
 * hears back) and the blocking form (result in *out, may be NULL). Both
 * take c, also on error. */
slim_status slim_app__post_async(slim_app *app, app_cmd *c, slim_op *op);
/* Under mu: waits once for app->cond, until deadline (slim_now_ns() +
 * timeout_ms when that is positive; a negative timeout waits forever).
 * false when the caller should stop: timeout 0, the app stopped, or the
 * deadline passed. The caller re-checks its condition and calls again. */
bool slim_app__wait(slim_app *app, int64_t timeout_ms, uint64_t deadline);
slim_status slim_app__post_wait(slim_app *app, app_cmd *c, int64_t timeout_ms, slim_event *out);

/* Handles what the router sent this app and what callbacks left, until
 * nothing is left (loop thread). */
void slim_app__pump(slim_app *app);

#endif
