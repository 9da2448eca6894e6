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

#include "config/cfg.h"
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

/* Reads `metrics: {endpoint: "host:port"}` (ours, the node's and the
 * controller's) at the top of doc: *endpoint gets the endpoint (borrowed
 * from doc), NULL when the block is absent. E_INVALID_ARG with err set (no
 * endpoint, not host:port). */
slim_status slim_metrics_config(const slim_cfg_doc *doc, const char **endpoint,
                                slim_cfg_error *err);

/* Writing a page in the Prometheus text format: every series with HELP
 * and TYPE lines (head), then its samples (emit); the first error (E_NOMEM)
 * sticks in st. Lines longer than 511 bytes are cut. */
typedef struct slim_metrics_page {
    slim_buf *out;
    slim_status st;
} slim_metrics_page;

void slim_metrics_emit(slim_metrics_page *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void slim_metrics_head(slim_metrics_page *p, const char *name, const char *type, const char *help);
/* head, then the one sample "name value". */
void slim_metrics_one(slim_metrics_page *p, const char *name, const char *type, const char *help,
                      uint64_t v);

/* Stops the HTTP thread (answering requests in flight with 503) and frees
 * the listener once its loop handle closed. NULL is a no-op. */
void slim_metrics_free(slim_metrics *m);

#endif
