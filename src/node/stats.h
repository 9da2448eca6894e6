/*
 * The node's counters in one value, and their two renderings: the
 * Prometheus text format served on /metrics (docs/metrics.md lists every
 * series) and the log lines SIGUSR1 writes.
 */
#ifndef SLIM_NODE_STATS_H
#define SLIM_NODE_STATS_H

#include "control/agent.h"
#include "router/forwarder.h"
#include "slim/log.h"
#include "transport/grpc.h"

typedef struct slim_node_stats {
    slim_fwd_counters fwd;
    slim_router_stats router;
    slim_grpc_server_stats server;
    size_t connections;                 /* data-plane streams open */
    size_t by_kind[SLIM_CONN_NODE + 2]; /* [SLIM_CONN_*], [last]: still negotiating */
    uint64_t unsent;                    /* queued messages of streams that ended */
    uint64_t queued_bytes, queued_max;  /* send queues: total and largest */
    size_t links, links_up;             /* dataplane.clients, and those with a stream */
    slim_agent_stats control;           /* the node's own control endpoint */
} slim_node_stats;

/* Appends the /metrics page for s (version: the node's semver). E_NOMEM. */
slim_status slim_node_stats_prometheus(const slim_node_stats *s, const char *version,
                                       slim_buf *out);

/* Logs s at `level` in one line (the SIGUSR1 format). */
void slim_node_stats_log(const slim_node_stats *s, slim_log_level level);

#endif
