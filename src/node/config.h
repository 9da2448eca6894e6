/*
 * The `slim` node's configuration: SLIM's YAML format.
 *
 *   tracing:  {log_level: info}
 *   runtime:  {n_cores: 0, drain_timeout: 10s}
 *   metrics:  {endpoint: "127.0.0.1:9464"}   # ours; off when absent
 *   services:
 *     slim/0:
 *       node_id: a                 # optional; the node id becomes slim/a
 *       dataplane:                 # `pubsub` is accepted as the older name
 *         servers: [ServerConfig, ...]
 *         clients: [ClientConfig, ...]
 *       controller: {servers: [...], clients: [...], token_provider: ...}
 *
 * controller.clients are the controllers the node dials (src/control/
 * agent.h); controller.token_provider's shared_secret makes the token the
 * node registers with and signs the channel requests it hands to
 * moderators, controller.request_timeout (60s) bounds their answer;
 * controller.servers are the node's own control endpoint (ServerConfigs,
 * TLS as on the data plane), where callers must present a shared-secret
 * token of controller.token_verifier when it is set. A static_jwt or jwt
 * token_provider (upstream's keys) signs channel requests and
 * registrations instead of a shared secret; a JWT token_verifier is
 * refused.
 *
 * Our additions, under dataplane (see docs/configuration.md):
 *   slow_consumer_timeout (10s), max_subscriptions_per_connection (100000),
 *   max_message_size (bytes of one SLIM message; 4 MiB - 64 KiB),
 *   duplicate_filter (true; false only for tests of the TTL loop guard).
 */
#ifndef SLIM_NODE_CONFIG_H
#define SLIM_NODE_CONFIG_H

#include "config/endpoint.h"
#include "slim/app.h"
#include "slim/log.h"

typedef struct slim_node_config {
    bool has_log_level;
    slim_log_level log_level;
    uint64_t drain_timeout_ms; /* default 10 s */
    uint64_t n_cores;          /* accepted; the node runs one loop thread */
    char *service;             /* the services key, e.g. "slim/0" */
    char *node_id;             /* "slim/<node_id or name>" */
    char *group_name;          /* optional */
    slim_server_config *servers;
    size_t n_servers;
    slim_client_config *clients;
    size_t n_clients;
    uint64_t slow_consumer_timeout_ms;
    uint64_t max_subscriptions_per_conn;
    uint64_t max_message_size;
    bool duplicate_filter;           /* default true; false only to test TTL loop protection */
    bool has_controller;             /* a controller section was present */
    slim_client_config *controllers; /* controller.clients: the controllers to dial */
    size_t n_controllers;
    char *token_secret;              /* controller.token_provider.shared_secret; NULL: none */
    slim_identity_config *token_jwt; /* controller.token_provider static_jwt or jwt; NULL: none */
    slim_server_config *ctl_servers; /* controller.servers: the node's control endpoint */
    size_t n_ctl_servers;
    char *verifier_secret;       /* controller.token_verifier.shared_secret; NULL: none */
    uint64_t request_timeout_ms; /* controller.request_timeout; default 60 s */
    char *metrics_endpoint;      /* metrics.endpoint: /metrics and /healthz; NULL: off */
} slim_node_config;

/* Frees a token_jwt (its strings, then itself). NULL is a no-op. */
void slim_node_identity_config_cleanup(slim_identity_config *c);

/* Loads and checks a node config file. warn (may be NULL) hears about
 * unknown keys and keys accepted without effect (path, line, why). On error
 * err names the file, line and key. E_IO, E_INVALID_ARG, E_NOMEM. */
slim_status slim_node_config_load(const char *path, slim_node_config *out, slim_cfg_warn_fn warn,
                                  void *ud, slim_cfg_error *err);
/* The same from a loaded document. */
slim_status slim_node_config_parse(const slim_cfg_doc *doc, slim_node_config *out,
                                   slim_cfg_warn_fn warn, void *ud, slim_cfg_error *err);
void slim_node_config_cleanup(slim_node_config *c);

#endif
