/*
 * The controller's insides, shared by ctl.c (listeners, node streams,
 * requests waiting for nodes), ctl_state.c (what each node should have:
 * connections, subscriptions, routes) and ctl_nb.c (the northbound calls).
 */
#ifndef SLIM_CONTROL_CTL_INT_H
#define SLIM_CONTROL_CTL_INT_H

#include "control/ctl.h"
#include "controller/v1/controller.pb-c.h"
#include "controlplane/v1/controlplane.pb-c.h"
#include "transport/grpc.h"

#define CTL_MOD "controller"

typedef Controller__Proto__V1__ControlMessage ctl_msg;

typedef struct sb_sess sb_sess;

/* Why a node's stream or registration was refused (metrics labels). */
enum {
    CTL_REFUSED_NO_TOKEN,
    CTL_REFUSED_BAD_TOKEN,
    CTL_REFUSED_WRONG_NODE,
    CTL_REFUSED_UNKNOWN_NODE,
    CTL_REFUSED_N
};
typedef struct pending pending;

/* A node's control stream (or, for the fuzz target, a fake one). */
struct sb_sess {
    slim_ctl *ctl;
    sb_sess *next;
    slim_grpc_call *call; /* NULL for a fake session */
    char *node_id;        /* set once registered */
    char *subject;        /* the subject of its verified token (southbound.auth) */
    bool active;          /* the node's current stream */
    bool ended;           /* finished by us: what the node still sends is ignored */
    char peer_host[64];
    uv_timer_t reg_timer; /* registration deadline */
    bool timer_open;
    /* Fake sessions: where messages to the node go. */
    void (*fake_send)(void *ud, const uint8_t *p, size_t n);
    void *fake_ud;
};

/* A request sent to a node, waiting for its answer. fn runs once: with
 * the answer, or with answer NULL and `why` on timeout or when the stream
 * ends. fn must not free p (the caller does). */
typedef void (*pending_fn)(slim_ctl *c, pending *p, const ctl_msg *answer, const char *why);

struct pending {
    pending *next;
    slim_ctl *ctl;
    sb_sess *sess;
    char id[37];
    int expect; /* payload case of the answer */
    pending_fn fn;
    slim_grpc_call *nb; /* the northbound call to answer; NULL when none or gone */
    uv_timer_t timer;
    uint64_t timeout_ms;
    /* config commands: route id of each subscriptions_to_set item (or NULL) */
    char **route_ids;
    size_t n_route_ids;
    /* list requests: the chunks received so far */
    ctl_msg **chunks;
    size_t n_chunks;
    /* the northbound handler's context */
    void *ctx;
    void (*ctx_free)(void *ctx);
};

struct slim_ctl {
    uv_loop_t *loop;
    const slim_ctl_config *cfg;
    slim_store *store;
    slim_ctl_callbacks cbs;
    slim_grpc_server *nb_server;
    slim_grpc_server *sb_server;
    sb_sess *sessions;
    pending *pendings;
    bool shutting_down;
    int servers_running;
    void *nb_uds;                            /* the northbound methods' user data (ctl_nb.c) */
    struct slim_identity_verifier *verifier; /* southbound.auth.sharedSecret, or NULL */
    struct slim_metrics *metrics;            /* metrics.endpoint, or NULL */
    uint64_t refused[CTL_REFUSED_N];         /* registrations refused, by reason */
    uint64_t nb_unauthenticated;             /* northbound calls refused for their token */
};

/* A configuration command being built: entries and the strings they own. */
typedef struct ctl_cmd {
    Controller__Proto__V1__Connection **conns;
    size_t n_conns;
    Controller__Proto__V1__Subscription **set;
    size_t n_set;
    char **set_routes; /* parallel to set: route id or NULL */
    Controller__Proto__V1__Subscription **del;
    size_t n_del;
    char **conn_del;
    size_t n_conn_del;
    slim_status err; /* E_NOMEM seen while adding */
} ctl_cmd;

/* ---- ctl.c ---- */

/* The registered stream of node_id, or NULL. */
sb_sess *ctl_session_of(slim_ctl *c, const char *node_id);
/* Encodes and queues a message on a session. */
slim_status ctl_send(sb_sess *s, const ctl_msg *m);
/* Sends `m` (its message_id is filled in) and waits for the answer of
 * payload case `expect`. The pending (returned, owned by the controller) may
 * be given ctx/nb/route_ids by the caller before returning to the loop. */
slim_status ctl_request(sb_sess *s, ctl_msg *m, int expect, pending_fn fn, pending **out);
/* Sends a command to the node if it is connected (route statuses updated
 * from its ack); returns the pending or NULL when not sent. */
pending *ctl_send_cmd(slim_ctl *c, const char *node_id, ctl_cmd *cmd, pending_fn fn);
/* Northbound replies: a packed message, or an error status with text. */
void ctl_nb_reply(slim_ctl *c, slim_grpc_call *call, const ProtobufCMessage *m);
void ctl_nb_fail(slim_ctl *c, slim_grpc_call *call, slim_status code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The callbacks of every northbound call: a call's data is NULL, or the
 * pending request that will answer it (set by ctl_pending_attach). */
extern const slim_grpc_call_cbs ctl_nb_call_cbs;
/* The default handling of a command's ack (route statuses); handlers that
 * wait for an ack call it first. */
void ctl_config_acked(slim_ctl *c, pending *p, const ctl_msg *answer, const char *why);
/* Waits timeout_ms from now instead of timeouts.node. */
void ctl_pending_set_timeout(pending *p, uint64_t timeout_ms);
/* Ties a northbound call to a pending answer (the call may end first). */
void ctl_pending_attach(pending *p, slim_grpc_call *call);
/* Ends a node's stream (deregistration, replacement). */
void ctl_session_end(sb_sess *s, slim_status why, const char *msg);

/* ---- ctl_state.c ---- */

void ctl_cmd_init(ctl_cmd *cmd);
void ctl_cmd_cleanup(ctl_cmd *cmd);
bool ctl_cmd_empty(const ctl_cmd *cmd);
void ctl_cmd_conn(ctl_cmd *cmd, const char *id, const char *config);
void ctl_cmd_sub(ctl_cmd *cmd, bool set, const slim_store_name *n, const char *conn,
                 const char *route_id);
/* Fills the protobuf command from cmd (pointers borrowed from cmd). */
void ctl_cmd_proto(ctl_cmd *cmd, Controller__Proto__V1__ConfigurationCommand *out);

/* The connection a route needs on its holder: id (endpoint URL) and
 * config JSON, both allocated. E_NOT_FOUND (destination gone) or
 * E_STATE (no usable endpoint) with *why (static text). */
slim_status ctl_route_conn(slim_ctl *c, const slim_store_route *r, char **id, char **config,
                           const char **why);
/* Adds a route's connection + subscription (or the subscription's
 * removal) to cmd; when the route cannot be built, says why in its status. */
void ctl_cmd_route(slim_ctl *c, ctl_cmd *cmd, const slim_store_route *r, bool remove);
/* Everything node_id should have. */
void ctl_state_build(slim_ctl *c, const char *node_id, ctl_cmd *cmd);
/* True when node_id's desired state still routes name to conn. */
bool ctl_state_has_sub(slim_ctl *c, const char *node_id, const slim_store_name *n,
                       const char *conn);
/* Sends one route's connection + subscription (or its removal) to its node. */
void ctl_route_push(slim_ctl *c, const slim_store_route *r, bool remove);
/* A node registered: its reports replace the old ones; automatic routes
 * follow; the node gets its whole state. */
void ctl_node_registered(slim_ctl *c, sb_sess *s,
                         const Controller__Proto__V1__RegisterNodeRequest *r);
/* A node reported subscriptions (set or deleted). */
void ctl_node_reported(slim_ctl *c, const char *node_id,
                       const Controller__Proto__V1__ConfigurationCommand *cc);
/* Removes every automatic route through node_id, telling their holders. */
void ctl_routes_to_node_removed(slim_ctl *c, const char *node_id);

/* Parses a name from the API into *out (allocated). E_INVALID_ARG with
 * *why (static text). */
slim_status ctl_name_from_sub(const Controller__Proto__V1__Subscription *s, slim_store_name *out,
                              const char **why);
/* "org/ns/app" or "org/ns/app/<uuid>" into buf. */
void ctl_name_text(const slim_store_name *n, char *buf, size_t cap);

/* ---- ctl_channels.c: the channel calls of the northbound API ---- */

void ctl_create_channel(slim_ctl *c, slim_grpc_call *call, const ProtobufCMessage *m);
void ctl_delete_channel(slim_ctl *c, slim_grpc_call *call, const ProtobufCMessage *m);
void ctl_add_participant(slim_ctl *c, slim_grpc_call *call, const ProtobufCMessage *m);
void ctl_delete_participant(slim_ctl *c, slim_grpc_call *call, const ProtobufCMessage *m);
void ctl_list_channels(slim_ctl *c, slim_grpc_call *call, const ProtobufCMessage *m);
void ctl_list_participants(slim_ctl *c, slim_grpc_call *call, const ProtobufCMessage *m);

/* ---- ctl_nb.c ---- */

/* Registers every northbound method on srv. */
slim_status ctl_nb_register(slim_ctl *c, slim_grpc_server *srv);

/* ---- fuzzing (ctl.c) ---- */

/* A session with no stream: what the controller sends it goes to send. */
sb_sess *ctl_fake_session(slim_ctl *c, const char *peer,
                          void (*send)(void *ud, const uint8_t *p, size_t n), void *ud);
/* One message from the node on that session. */
void ctl_session_input(sb_sess *s, const uint8_t *p, size_t n);
/* The session's stream ended. */
void ctl_session_closed(sb_sess *s);

#endif
