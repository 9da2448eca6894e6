/*
 * The controller (`slim-control-plane`): the northbound gRPC API operators
 * and programs call, the southbound control streams nodes open, and the
 * route logic between them, over a SQLite store (store.h). One libuv loop
 * owns it all. docs/control-plane.md describes the behaviour.
 */
#ifndef SLIM_CONTROL_CTL_H
#define SLIM_CONTROL_CTL_H

#include "config/endpoint.h"
#include "control/store.h"
#include "slim/log.h"

#include <uv.h>

typedef struct slim_ctl_config {
    char *nb_endpoint;      /* northbound listener, "127.0.0.1:50051" */
    char *sb_endpoint;      /* southbound listener, "127.0.0.1:50052" */
    slim_tls_config nb_tls; /* northbound TLS; insecure (plaintext) by default */
    slim_tls_config sb_tls; /* southbound TLS; insecure (plaintext) by default */
    char **nb_tokens;       /* northbound.auth.tokens: callers must bear one */
    size_t n_nb_tokens;
    char *sb_secret; /* southbound.auth.sharedSecret: nodes bear its tokens */
    char **sb_nodes; /* southbound.auth.nodes: the node ids allowed */
    size_t n_sb_nodes;
    char *metrics_endpoint;       /* metrics.endpoint, "host:port"; NULL: no listener */
    char *db_path;                /* default "./slim-control-plane.db" */
    bool auto_routes;             /* routes.automatic (default true) */
    uint64_t node_timeout_ms;     /* waiting for a node's answer (default 10 s) */
    uint64_t channel_timeout_ms;  /* waiting for a moderator's outcome (default 75 s) */
    uint64_t register_timeout_ms; /* a new stream must register within (default 15 s) */
    uint64_t drain_timeout_ms;    /* at shutdown (default 10 s) */
    bool has_log_level;
    slim_log_level log_level;
} slim_ctl_config;

/* Loads the controller's YAML file (docs/control-plane.md, "Configuration").
 * A NULL path gives the defaults. warn (may be NULL) hears about keys that
 * are accepted without effect or unknown. E_IO, E_INVALID_ARG, E_NOMEM; err
 * says why. */
slim_status slim_ctl_config_load(const char *path, slim_ctl_config *out, slim_cfg_warn_fn warn,
                                 void *ud, slim_cfg_error *err);
void slim_ctl_config_defaults(slim_ctl_config *c);
void slim_ctl_config_cleanup(slim_ctl_config *c);

typedef struct slim_ctl slim_ctl;

typedef struct slim_ctl_callbacks {
    /* A listener is bound: kind "northbound", "southbound" or "metrics". */
    void (*listening)(const char *kind, const char *addr, void *ud);
    /* Shutdown finished. */
    void (*stopped)(void *ud);
    void *ud;
} slim_ctl_callbacks;

/* A controller on loop with cfg (borrowed) and store (borrowed; the caller
 * opens and closes it). E_NOMEM. */
slim_status slim_ctl_new(uv_loop_t *loop, const slim_ctl_config *cfg, slim_store *store,
                         const slim_ctl_callbacks *cbs, slim_ctl **out);
/* Binds both gRPC listeners and, when configured, the metrics one.
 * Transport errors, logged with the endpoint; E_IDENTITY_NO_SECRET,
 * E_NOMEM. */
slim_status slim_ctl_start(slim_ctl *c);
/* Stops accepting, ends the node streams and open calls, then cbs->stopped. */
void slim_ctl_shutdown(slim_ctl *c);
/* Frees it; run the loop until it has no handles left. NULL is a no-op. */
void slim_ctl_free(slim_ctl *c);

/* Nodes with an open, registered stream now. */
size_t slim_ctl_connected_nodes(const slim_ctl *c);

#endif
