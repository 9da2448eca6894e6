/*
 * The message processing of a SLIM router, shared by the node and the
 * router embedded in applications. Pure: it takes the encoded messages that
 * arrive on connections (and the time), updates the routing tables, and
 * hands encoded messages to send back to its owner through callbacks. It
 * does no I/O, keeps no clock and starts no thread; the owner calls it from
 * one thread.
 *
 * Per connection it runs link negotiation (the first message on a gRPC
 * stream is a Link), decrements the ttl of what arrives over gRPC, answers
 * subscriptions that ask for an acknowledgement, forwards publishes with the
 * fast path (one egress copy shared by every output connection), and answers
 * an unroutable publish from an application with an error publish (rate
 * limited). Every drop is counted by reason.
 */
#ifndef SLIM_ROUTER_FORWARDER_H
#define SLIM_ROUTER_FORWARDER_H

#include "core/rcbuf.h"
#include "wire/fastpath.h"
#include "wire/wire.h"
#include "router/router.h"

typedef struct slim_fwd slim_fwd;

/* How a connection starts. */
typedef enum slim_fwd_link {
    SLIM_FWD_LOCAL,    /* an application in this process: no negotiation */
    SLIM_FWD_ACCEPTED, /* a gRPC stream a peer opened: expect its Link first */
    SLIM_FWD_DIALLED,  /* a gRPC stream this side opened: send our Link first */
} slim_fwd_link;

/* The callbacks run from inside slim_fwd_input() and the other calls that
 * send (while the forwarder walks its match results and uses its scratch
 * buffers): none of them may call back into the same forwarder. Closing a
 * connection from `send` or `close` must wait until the call returns
 * (the transport defers it anyway). */
typedef struct slim_fwd_ops {
    /* Queues one encoded Message on conn. On SLIM_OK the callee has taken a
     * reference to buf (and drops it once written). SLIM_E_QUEUE_FULL means
     * the connection's queue is full: the message is dropped and counted.
     * Required. */
    slim_status (*send)(void *ud, uint64_t conn, slim_rcbuf *buf);
    /* Ends conn for a protocol violation; `why` maps to the gRPC status the
     * peer sees (E_INVALID_ARG: INVALID_ARGUMENT), detail says what. The
     * forwarder has already forgotten conn when this runs. Required. */
    void (*close)(void *ud, uint64_t conn, slim_status why, const char *detail);
    /* Link negotiation finished; kind is how the peer is routed. Optional. */
    void (*linked)(void *ud, uint64_t conn, slim_conn_kind kind, const char *peer_node_id);
    /* A SubscriptionAck arrived for a subscription this side sent. Optional. */
    void (*subscription_ack)(void *ud, uint64_t conn, uint64_t id, bool success, const char *error);
    /* A random 64-bit value (fresh subscription ids when propagating).
     * Required when propagation is on. */
    uint64_t (*random64)(void *ud);
    /* The set of names application connections (LOCAL and EDGE) subscribe
     * to changed: `name` got its first such holder (added) or lost its last
     * one (an unsubscribe, or the connection closed). text: its three
     * components as the first holder's subscription carried them, NULL
     * when it carried none (the same text for the removal). Optional; when
     * NULL the forwarder keeps no such set (slim_fwd_app_names_foreach()
     * sees nothing). */
    void (*app_names)(void *ud, const slim_name *name, const slim_str *text, bool added);
} slim_fwd_ops;

/* How long a broadcast is remembered to drop its copies (docs/protocol.md,
 * "Duplicates and loops"). */
#define SLIM_FWD_DEDUPE_WINDOW_MS 500

typedef struct slim_fwd_config {
    const char *node_id; /* sent in link negotiation; copied */
    const char *version; /* our semver, sent in link negotiation; copied */
    /* How this side announces itself when it dials: EDGE for an application,
     * REMOTE for a node (UNSET: REMOTE). */
    slim_link_type announce;
    size_t max_message_size;           /* larger messages are dropped; 0 = 4 MiB - 64 KiB */
    size_t max_subscriptions_per_conn; /* 0 = SLIM_ROUTER_DEFAULT_MAX_SUBS */
    uint32_t error_interval_ms;        /* error replies per (conn, name); 0 = 1000 */
    /* Node-to-node propagation of subscriptions (docs/protocol.md): on for a
     * node, off for the router embedded in an application. */
    bool propagate;
    /* Drop a Publish from a NODE link already seen within dedupe_window_ms,
     * keyed by (source, session id, message type, message id). */
    bool dedupe;
    uint32_t dedupe_window_ms; /* 0 = SLIM_FWD_DEDUPE_WINDOW_MS */
    /* Sizes of the bounded sets: propagated subscription ids seen, and
     * publishes the duplicate filter remembers; the oldest entry goes when
     * one is full. 0 = 65536 each. */
    uint32_t seen_max;
    uint32_t dedupe_max;
    /* require_header_mac of connections opened with slim_fwd_conn_open(). */
    bool require_header_mac;
} slim_fwd_config;

/* How one gRPC link negotiates (docs/protocol.md, "Links" and "Header MAC"). */
typedef struct slim_fwd_link_opts {
    /* Dialled links: the connection type announced (REMOTE, PEER, or EDGE
     * for an application; UNSET: REMOTE). Ignored for accepted links, whose
     * type is the one the peer asks for. */
    slim_link_type announce;
    /* Upstream's require_header_mac: the negotiation must agree on a link
     * key, and on REMOTE and EDGE links every Publish, Subscribe and
     * Unsubscribe must carry a valid per-hop tag. Off: tags are used when
     * the peer offers a key, and untagged (un)subscriptions are accepted. */
    bool require_header_mac;
} slim_fwd_link_opts;

#define SLIM_FWD_DEFAULT_MAX_MESSAGE (4u * 1024u * 1024u - 64u * 1024u)

/* Counters. Monotonic, except subscriptions (current count). */
typedef struct slim_fwd_counters {
    uint64_t messages_in;
    uint64_t messages_out; /* copies handed to send() successfully */
    uint64_t publish_in;
    uint64_t publish_matched;
    uint64_t subscribe_in;
    uint64_t unsubscribe_in;
    uint64_t acks_sent;
    uint64_t errors_sent;       /* error publishes sent back */
    uint64_t errors_suppressed; /* error publishes withheld by the rate limit */
    uint64_t drop_ttl;          /* ttl ran out */
    uint64_t drop_no_route;
    uint64_t drop_queue_full;
    uint64_t drop_too_large;
    uint64_t drop_malformed;     /* undecodable or missing required fields */
    uint64_t drop_other;         /* stray Link or ack, send failures */
    uint64_t drop_duplicate;     /* publishes the duplicate filter caught */
    uint64_t forward_to_ignored; /* forward_to from a gRPC peer (only LOCAL may) */
    uint64_t drop_header_mac;    /* header MAC missing or wrong */
    uint64_t publish_local;      /* publishes given as values (slim_fwd_publish_local) */
    /* messages_out by kind: [SLIM_MSG_SUBSCRIBE .. SLIM_MSG_SUBSCRIPTION_ACK],
     * read from the first field of what was sent; [0] when it is not the
     * kind (a peer's message that puts its metadata first). */
    uint64_t out_by_kind[SLIM_MSG_SUBSCRIPTION_ACK + 1];
    uint64_t in_by_kind[SLIM_MSG_SUBSCRIPTION_ACK + 1]; /* decodable input by kind */
    uint64_t links_refused;                             /* connections closed during negotiation */
    uint64_t subs_propagated;                           /* (un)subscriptions sent to other nodes */
    uint64_t subs_seen;     /* propagated (un)subscriptions not relayed again */
    uint64_t subs_replayed; /* subscriptions sent to a node link when it came up */
} slim_fwd_counters;

/* Creates a forwarder. ops and ud are borrowed until slim_fwd_free().
 * E_INVALID_ARG (missing send/close), E_NOMEM. */
slim_status slim_fwd_new(const slim_fwd_config *cfg, const slim_fwd_ops *ops, void *ud,
                         slim_fwd **out);
void slim_fwd_free(slim_fwd *f);

/* Registers a new connection. For SLIM_FWD_DIALLED, link_id (a UUID made by
 * the caller) is sent at once in our Link; for SLIM_FWD_LOCAL the connection
 * is ready immediately with kind LOCAL. E_EXISTS, E_NOMEM, or the status of
 * sending the Link. */
slim_status slim_fwd_conn_open(slim_fwd *f, uint64_t conn, slim_fwd_link how, const char *link_id);
/* slim_fwd_conn_open() with options of its own instead of the configured
 * announce and require_header_mac. */
slim_status slim_fwd_conn_open_opts(slim_fwd *f, uint64_t conn, slim_fwd_link how,
                                    const char *link_id, const slim_fwd_link_opts *opts);
/* A publish from the application behind LOCAL connection `conn`, given as
 * values: written once in its wire form and routed as slim_fwd_input()
 * routes the same bytes, but without a peek (the values are the routing
 * fields) and without a copy for the gRPC links that take no header MAC
 * (they share the written buffer). E_ROUTER_UNKNOWN_CONNECTION,
 * E_INVALID_ARG (not a LOCAL connection, names missing), E_TOO_LARGE, and
 * the statuses of slim_fwd_input() for a publish. */
slim_status slim_fwd_publish_local(slim_fwd *f, uint64_t conn, const slim_wire_publish_values *v,
                                   uint64_t now_ms);

/* Forgets a connection and its subscriptions (the transport closed it). */
void slim_fwd_conn_close(slim_fwd *f, uint64_t conn);
/* True once negotiation finished (always for local connections). */
bool slim_fwd_conn_ready(const slim_fwd *f, uint64_t conn);

/* Processes one encoded Message that arrived on conn at time now_ms.
 * Returns SLIM_OK when it was handled, otherwise the reason it was dropped
 * (already counted) — for logs; the connection stays up unless the
 * negotiation failed, in which case ops->close has run. */
slim_status slim_fwd_input(slim_fwd *f, uint64_t conn, slim_bytes msg, uint64_t now_ms);

/*
 * Static subscriptions: routes an owner installs on a connection (the
 * node's control agent: "name N goes out on the link to node B"). A static
 * subscription routes as if the peer had subscribed, but it is never
 * propagated to other nodes nor replayed to a link that comes up, and it
 * lives as long as the connection: when the connection ends it goes with
 * its other subscriptions, and the owner installs it again on the next
 * stream. It is the reason SLIM_FWD_STATIC_REASON of the router's
 * subscription, so a subscription the peer propagated for the same name
 * stays when the static one goes, and the reverse.
 */
#define SLIM_FWD_STATIC_REASON UINT64_MAX

/* Adds conn's static subscription to name (again: nothing changes).
 * E_ROUTER_UNKNOWN_CONNECTION (no such connection, or one still
 * negotiating that was accepted), E_ROUTER_SUBSCRIPTION_LIMIT, E_NOMEM. */
slim_status slim_fwd_static_subscribe(slim_fwd *f, uint64_t conn, const slim_name *name);
/* Removes it; the route stays when the peer subscribed too.
 * E_ROUTER_NO_SUCH_SUBSCRIPTION, E_ROUTER_UNKNOWN_CONNECTION. */
slim_status slim_fwd_static_unsubscribe(slim_fwd *f, uint64_t conn, const slim_name *name);

/* Calls fn for every name application connections subscribe to (tracked
 * only when ops->app_names is set), with its text (NULL: none known).
 * fn must not change the forwarder. */
void slim_fwd_app_names_foreach(const slim_fwd *f,
                                void (*fn)(const slim_name *name, const slim_str *text, void *ud),
                                void *ud);

void slim_fwd_counters_get(const slim_fwd *f, slim_fwd_counters *out);
/* The routing tables, for inspection. Borrowed. */
const slim_router *slim_fwd_router(const slim_fwd *f);

#endif
