/*
 * The routing core shared by the node and the app-embedded router: a
 * connection table, a subscription table and the match rules. Pure: no I/O,
 * no clock, no threads. The caller owns connection ids (any uint64 values)
 * and tells the router when connections come and go.
 *
 * Match rules for a Publish to destination D arriving on connection `in`:
 *  - an explicit forward_to connection wins (if it exists);
 *  - otherwise candidates are the connections subscribed to D's three
 *    components: with D's id when D has a specific id, with any id when D
 *    carries the "any" id; `in` is never a candidate;
 *  - fanout 1 (anycast): one candidate, LOCAL and EDGE connections before NODE
 *    ones, round-robin per service name among equals;
 *  - any other fanout (broadcast): every candidate, each connection once.
 *
 * Not thread-safe: one thread (the loop) owns a router.
 */
#ifndef SLIM_ROUTER_H
#define SLIM_ROUTER_H

#include "slim/name.h"
#include "slim/status.h"

typedef enum slim_conn_kind {
    SLIM_CONN_LOCAL = 0, /* an app in this process */
    SLIM_CONN_EDGE = 1,  /* a gRPC peer that announced itself as an app */
    SLIM_CONN_NODE = 2,  /* another node, or any link this node dialled */
} slim_conn_kind;

const char *slim_conn_kind_name(slim_conn_kind k);

typedef struct slim_router slim_router;

typedef struct slim_router_config {
    /* Most subscriptions one connection may hold; 0 means the default,
     * SLIM_ROUTER_DEFAULT_MAX_SUBS. */
    size_t max_subscriptions_per_conn;
} slim_router_config;

#define SLIM_ROUTER_DEFAULT_MAX_SUBS 100000

/* Creates a router; cfg may be NULL for defaults. E_NOMEM. */
slim_status slim_router_new(const slim_router_config *cfg, slim_router **out);
/* Frees the router and every table entry. NULL is a no-op. */
void slim_router_free(slim_router *r);

/* Adds a connection. E_EXISTS when the id is in use, E_NOMEM. */
slim_status slim_router_conn_add(slim_router *r, uint64_t conn, slim_conn_kind kind);
/* Removes a connection and all its subscriptions; *removed_subs (may be
 * NULL) receives how many. E_ROUTER_UNKNOWN_CONNECTION. */
slim_status slim_router_conn_remove(slim_router *r, uint64_t conn, size_t *removed_subs);
/* The same, calling fn (may be NULL) for each subscription just before it
 * goes, with its reasons. fn must not change the router. */
slim_status slim_router_conn_remove_each(slim_router *r, uint64_t conn,
                                         void (*fn)(const slim_name *name, const uint64_t *reasons,
                                                    size_t n, void *ud),
                                         void *ud, size_t *removed_subs);
/* The kind of a connection. E_ROUTER_UNKNOWN_CONNECTION. */
slim_status slim_router_conn_kind(const slim_router *r, uint64_t conn, slim_conn_kind *out);

/* Subscribes conn to name (a specific id, or the "any" id). Subscribing a
 * pair that exists already succeeds and changes nothing.
 * Errors: E_ROUTER_UNKNOWN_CONNECTION, E_ROUTER_SUBSCRIPTION_LIMIT, E_NOMEM. */
slim_status slim_router_subscribe(slim_router *r, uint64_t conn, const slim_name *name);
/* Removes a subscription, whatever its reasons. E_ROUTER_NO_SUCH_SUBSCRIPTION,
 * E_ROUTER_UNKNOWN_CONNECTION. */
slim_status slim_router_unsubscribe(slim_router *r, uint64_t conn, const slim_name *name);

/*
 * Reasons. A subscription learnt from another node exists because some
 * application somewhere subscribed; the propagated message carries that
 * subscription's id, and the subscription records it as a reason. The same
 * (name, connection) can have several reasons (several applications behind
 * the link); it goes away when its last reason is withdrawn.
 */

/* Adds `reason` (non-zero) to conn's subscription to name, creating the
 * subscription if needed. Errors as slim_router_subscribe, E_INVALID_ARG. */
slim_status slim_router_subscribe_reason(slim_router *r, uint64_t conn, const slim_name *name,
                                         uint64_t reason);
/* Withdraws `reason`; the subscription goes when no reason is left (then
 * *removed is true; removed may be NULL). E_ROUTER_NO_SUCH_SUBSCRIPTION when
 * the subscription or the reason is unknown, E_ROUTER_UNKNOWN_CONNECTION. */
slim_status slim_router_unsubscribe_reason(slim_router *r, uint64_t conn, const slim_name *name,
                                           uint64_t reason, bool *removed);
/* The reasons of conn's subscription to name (borrowed until the next change
 * of the router); *n = 0 when it has none or does not exist. */
void slim_router_reasons(const slim_router *r, uint64_t conn, const slim_name *name,
                         const uint64_t **reasons, size_t *n);
/* True when some connection other than `except` holds `reason` for name. */
bool slim_router_reason_held(const slim_router *r, const slim_name *name, uint64_t reason,
                             uint64_t except);

/* Calls fn for every subscription, connection by connection. fn must not
 * change the router. */
void slim_router_foreach(const slim_router *r,
                         void (*fn)(uint64_t conn, const slim_name *name, const uint64_t *reasons,
                                    size_t n, void *ud),
                         void *ud);
/* True when conn holds exactly this subscription. */
bool slim_router_is_subscribed(const slim_router *r, uint64_t conn, const slim_name *name);

typedef struct slim_route_query {
    const slim_name *destination;
    uint32_t fanout;
    uint64_t incoming;   /* never selected */
    bool has_incoming;   /* false for messages the node originates */
    bool has_forward_to; /* forward_to overrides the table */
    uint64_t forward_to;
} slim_route_query;

/* Selects the output connections for a Publish. On success *conns points at
 * an array of *n ids (n >= 1) owned by the router, valid until the next call
 * on it. Errors: E_ROUTER_NO_ROUTE (nothing matches, including a forward_to
 * equal to the incoming connection), E_ROUTER_UNKNOWN_CONNECTION (forward_to
 * names no connection), E_NOMEM. */
slim_status slim_router_match(slim_router *r, const slim_route_query *q, const uint64_t **conns,
                              size_t *n);

typedef struct slim_router_stats {
    size_t connections;
    size_t subscriptions; /* (name, connection) pairs */
    size_t names;         /* distinct full names (with id) subscribed */
} slim_router_stats;

void slim_router_stats_get(const slim_router *r, slim_router_stats *out);
/* Number of subscriptions conn holds (0 for an unknown connection). */
size_t slim_router_conn_subscription_count(const slim_router *r, uint64_t conn);

/* Calls fn for each subscription of conn, in the order they were made.
 * fn must not change the router. */
void slim_router_conn_foreach(const slim_router *r, uint64_t conn,
                              void (*fn)(const slim_name *name, const uint64_t *reasons, size_t n,
                                         void *ud),
                              void *ud);

#endif
