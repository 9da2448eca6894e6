/*
 * A hub: one forwarder (src/router) and the gRPC streams bound to it, on one
 * libuv loop. Both a node and, later, every application process run one:
 * the node hands it the streams its server accepts, and either can dial
 * links to nodes.
 *
 * Every data-plane stream (one OpenChannel call) is one forwarder
 * connection. Messages arrive from the transport, go through
 * slim_fwd_input(), and whatever the forwarder sends goes out through the
 * transport. The hub adds what needs a clock: the link negotiation
 * deadline of accepted streams, backpressure (an input paused while a
 * destination's queue is over its limit, see BACKPRESSURE in hub.c) and the
 * slow-consumer policy.
 *
 * A dialled link (slim_hub_dial) owns a gRPC client that reconnects with
 * its configured backoff, and opens a new stream whenever its connection
 * is (again) ready; the forwarder replays this side's subscriptions on it.
 * All of a link's streams have the same forwarder connection id, one after
 * another: ids its owner stored (a route's way out, where to send a reply)
 * stay valid across a reconnect.
 *
 * Every function runs on the loop thread.
 */
#ifndef SLIM_LINK_HUB_H
#define SLIM_LINK_HUB_H

#include "config/endpoint.h"
#include "router/forwarder.h"
#include "slim/log.h"
#include "transport/grpc.h"

#include <uv.h>

#define SLIM_DATAPLANE_METHOD "/dataplane.proto.v1.DataPlaneService/OpenChannel"

typedef struct slim_hub slim_hub;

typedef struct slim_hub_config {
    slim_fwd_config fwd;               /* the forwarder's settings (copied) */
    uint64_t slow_consumer_timeout_ms; /* a queue full this long closes its stream; 0 = 10 s */
} slim_hub_config;

typedef struct slim_hub_callbacks {
    /* A stream ended; `open` streams are left. Optional. */
    void (*stream_closed)(size_t open, void *ud);
    /* A SubscriptionAck came back on connection conn for a subscription
     * this side sent there (id), from inside the forwarder: must not call
     * into the hub or its forwarder. Optional. */
    void (*subscription_ack)(uint64_t conn, uint64_t id, bool success, const char *error, void *ud);
    /* The set of names the applications connected to this hub subscribe
     * to changed (slim_fwd_ops.app_names: first holder added, last one
     * gone), from inside the forwarder: must not call into the hub or its
     * forwarder. Optional; when NULL the forwarder keeps no such set. */
    void (*app_names)(const slim_name *name, const slim_str *text, bool added, void *ud);
    void *ud;
} slim_hub_callbacks;

/* A dialled link. */
typedef struct slim_hub_link slim_hub_link;

/* What a dialled link tells its owner. `up` runs from inside the forwarder
 * (it must not call into the hub or its forwarder; note it and act
 * later); the others from the transport. All optional. */
typedef struct slim_hub_link_cbs {
    /* A stream finished link negotiation: conn is its forwarder connection. */
    void (*up)(void *ud, uint64_t conn);
    /* The stream conn ended (the link reopens one when it can). */
    void (*down)(void *ud, uint64_t conn, slim_status why, const char *detail);
    /* The connection failed; `final` when the backoff gave up (no more
     * attempts), else it retries. */
    void (*failed)(void *ud, slim_status why, const char *detail, bool final);
    void *ud;
} slim_hub_link_cbs;

/* Where the messages for a LOCAL connection go: an application in this
 * process. Called from inside the forwarder (the same rule as `up`); on
 * SLIM_OK the callee has taken a reference to buf. */
typedef slim_status (*slim_hub_local_fn)(void *ud, slim_rcbuf *buf);

/* Creates a hub and its forwarder. E_NOMEM, or the forwarder's errors. */
slim_status slim_hub_new(uv_loop_t *loop, const slim_hub_config *cfg, const slim_hub_callbacks *cbs,
                         slim_hub **out);

/* The stream callbacks to give the server's OpenChannel method: every call
 * it accepts must then be handed over with slim_hub_accept(). */
void slim_hub_call_cbs(slim_grpc_call_cbs *out);

/* Binds an OpenChannel call the server accepted: it becomes a forwarder
 * connection that must finish link negotiation within negotiation_ms.
 * opts: the listener's policy (require_header_mac). On error the call is
 * finished with a status saying why. */
void slim_hub_accept(slim_hub *h, slim_grpc_call *call, const slim_fwd_link_opts *opts,
                     uint64_t negotiation_ms);

/* Dials the node at cc (read now, not kept), with base transport
 * settings (may be NULL), announcing cc->connection_type (UNSET: the
 * forwarder's `announce`). E_NOMEM, the transport's errors. */
slim_status slim_hub_dial(slim_hub *h, const slim_client_config *cc, const slim_grpc_config *base);

/* slim_hub_dial() with callbacks (cbs copied; may be NULL), giving the
 * link's handle (may be NULL). What it needs of cc is copied. */
slim_status slim_hub_dial_link(slim_hub *h, const slim_client_config *cc,
                               const slim_grpc_config *base, const slim_hub_link_cbs *cbs,
                               slim_hub_link **out);

/* The forwarder connection of the link's current stream, 0 when none. */
uint64_t slim_hub_link_conn(const slim_hub_link *l);

/* Closes a link: its stream ends (the forwarder forgets its
 * subscriptions), it stops reconnecting, and its memory goes with the
 * loop's next turns. No callback of it runs after this. */
void slim_hub_link_close(slim_hub *h, slim_hub_link *l);

/* Opens a LOCAL forwarder connection for an application in this process:
 * what the forwarder sends it goes to fn(ud, buf). *conn gets its id; the
 * application hands its own messages to slim_hub_local_input() on it.
 * E_NOMEM. */
slim_status slim_hub_local_open(slim_hub *h, slim_hub_local_fn fn, void *ud, uint64_t *conn);
void slim_hub_local_close(slim_hub *h, uint64_t conn);

/* slim_fwd_input() of one message of the application on LOCAL connection
 * conn, with the hub's backpressure: a message that meets a full
 * connection is queued past its limit (up to twice it) instead of being
 * dropped, and conn is full until that connection drains below half (or
 * for the grace of a paused stream, after which the next message that
 * meets it pauses conn again). */
slim_status slim_hub_local_input(slim_hub *h, uint64_t conn, slim_bytes msg, uint64_t now_ms);

/* True while LOCAL connection conn is full (above): the application
 * should hold back what it can (refuse new messages). */
bool slim_hub_local_full(const slim_hub *h, uint64_t conn);

/* Stops reopening dialled streams and cancels them (shutdown: our own
 * links end first, their loss withdraws nothing anyone needs). */
void slim_hub_stop_links(slim_hub *h);

/* The forwarder, for what the hub does not wrap (counters, the router). */
slim_fwd *slim_hub_fwd(slim_hub *h);

/* Streams open (accepted and dialled). */
size_t slim_hub_streams(const slim_hub *h);

/* Calls fn for every stream open now: its forwarder connection, the peer
 * (an address, the endpoint dialled, or "local") and whether this side
 * dialled it. fn must not open or close streams. */
void slim_hub_streams_foreach(const slim_hub *h,
                              void (*fn)(uint64_t conn, const char *peer, bool dialled, void *ud),
                              void *ud);

/* What the hub can say about its streams. */
typedef struct slim_hub_stats {
    size_t by_kind[SLIM_CONN_NODE + 2]; /* [SLIM_CONN_*], [last]: still negotiating */
    uint64_t unsent;                    /* queued messages of streams that ended */
    uint64_t queued_bytes, queued_max;  /* send queues: total and largest */
    size_t links, links_up;             /* dialled links, and those with a stream */
} slim_hub_stats;

void slim_hub_stats_get(const slim_hub *h, slim_hub_stats *out);

/* Logs every open stream (peer, queued bytes, subscriptions) at `level`. */
void slim_hub_log_streams(const slim_hub *h, slim_log_level level);

/* Frees the hub: its clients, streams and forwarder now, its libuv handles
 * asynchronously (run the loop until it has nothing left). NULL is a
 * no-op. */
void slim_hub_free(slim_hub *h);

#endif
