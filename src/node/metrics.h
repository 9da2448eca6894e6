/*
 * An HTTP listener for monitoring: `GET /metrics` (the Prometheus text
 * format) and `GET /healthz`, served by libmicrohttpd on a thread of its
 * own.
 *
 * The counters belong to the loop thread and are plain increments there,
 * so the HTTP thread never reads them. Each request posts a wake-up to the
 * loop (uv_async); the loop renders the page (the `render` callback) into a
 * buffer under a mutex, and the HTTP thread copies it out. The forwarding
 * path takes no lock. A loop that does not answer within a second gives
 * 503 on both paths.
 *
 * slim_metrics_new() and slim_metrics_free() run on the loop thread.
 */
#ifndef SLIM_NODE_METRICS_H
#define SLIM_NODE_METRICS_H

#include "core/buf.h"
#include "slim/status.h"

#include <uv.h>

typedef struct slim_metrics slim_metrics;

/* Writes the whole /metrics page into out (on the loop thread). */
typedef void (*slim_metrics_render)(void *ud, slim_buf *out);

/* Listens on `endpoint` ("host:port", "[v6]:port"; port 0 picks a free
 * one) and writes the address it bound into bound (cap bytes).
 * E_TRANSPORT_BAD_ENDPOINT, E_TRANSPORT_LISTEN (with a log line saying
 * why), E_NOMEM. */
slim_status slim_metrics_new(uv_loop_t *loop, const char *endpoint, slim_metrics_render render,
                             void *ud, char *bound, size_t cap, slim_metrics **out);

/* Stops the HTTP thread (answering requests in flight with 503) and frees
 * the listener once its loop handle closed. NULL is a no-op. */
void slim_metrics_free(slim_metrics *m);

#endif
