/*
 * The SLIM node: the data-plane gRPC server and the links it dials around
 * one hub (src/link/hub.h: the forwarder and its streams), on one libuv
 * loop, with draining at shutdown and the counters (SIGUSR1, /metrics).
 *
 * Every function runs on the loop thread.
 */
#ifndef SLIM_NODE_NODE_H
#define SLIM_NODE_NODE_H

#include "node/config.h"
#include "router/forwarder.h"

#include <uv.h>

/* Streams one HTTP/2 connection may open on a data-plane listener, unless
 * its max_concurrent_streams says otherwise. */
#define SLIM_NODE_DEFAULT_STREAMS 16

typedef struct slim_node slim_node;
struct slim_node_stats;

typedef struct slim_node_callbacks {
    /* A listener is bound: kind is "dataplane", addr e.g. "127.0.0.1:41873". */
    void (*listening)(const char *kind, const char *addr, void *ud);
    /* Shutdown finished (after slim_node_shutdown); `leftover` connections
     * were still open at the drain deadline and were reset. */
    void (*stopped)(size_t leftover, void *ud);
    void *ud;
} slim_node_callbacks;

/* Creates a node on loop for cfg (borrowed until slim_node_free). E_NOMEM. */
slim_status slim_node_new(uv_loop_t *loop, const slim_node_config *cfg,
                          const slim_node_callbacks *cbs, slim_node **out);

/* Binds every data-plane server of the config, starts dialling its
 * clients and, with controller.clients, starts the control agent. Errors from the transport
 * (E_TRANSPORT_LISTEN, ...), logged with the endpoint. */
slim_status slim_node_start(slim_node *n);

/* Stops accepting, ends open streams with UNAVAILABLE "node shutting down"
 * after their queued messages, and calls cbs->stopped when every stream is
 * gone or after drain_ms, whichever comes first. */
void slim_node_shutdown(slim_node *n, uint64_t drain_ms);

/* Logs the counters at info level (SIGUSR1). */
void slim_node_log_counters(const slim_node *n);
/* Every counter of the node (the /metrics page renders this). */
void slim_node_stats_get(const slim_node *n, struct slim_node_stats *out);
size_t slim_node_connections(const slim_node *n);

/* Frees the node; its libuv handles close asynchronously, so run the loop
 * until it has nothing left. NULL is a no-op. */
void slim_node_free(slim_node *n);

#endif
