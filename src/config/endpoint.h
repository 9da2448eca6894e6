/*
 * The configuration model of gRPC endpoints, as SLIM's YAML (and the JSON
 * `config_data` of the controller) spells them: a ServerConfig for each
 * listener and a ClientConfig for each connection a process dials.
 *
 * Both spellings upstream has used are read: the current one
 * (`tls: {source: {type: file, cert, key}, ca_source: {type: file, path}}`)
 * and the older flattened one (`tls: {cert_file, key_file, ca_file}`).
 *
 * Keys we do not implement are sorted in two kinds. Security-relevant ones
 * (authentication, SPIRE sources, a proxy) make the parse fail, so a
 * config never runs less secure than it says. The others (buffer
 * sizes, reload intervals, compression "None") are accepted with a warning.
 * The transport turns this model into its runtime options.
 */
#ifndef SLIM_CONFIG_ENDPOINT_H
#define SLIM_CONFIG_ENDPOINT_H

#include "config/cfg.h"
#include "wire/link_type.h"

typedef enum slim_tls_version {
    SLIM_TLS_1_2 = 12, /* TLS 1.2 and 1.3 allowed */
    SLIM_TLS_1_3 = 13, /* TLS 1.3 only (the default) */
} slim_tls_version;

/* TLS settings. Strings are NULL when absent; all owned by the config. */
typedef struct slim_tls_config {
    bool insecure;             /* plaintext: no TLS at all */
    bool insecure_skip_verify; /* client: accept any server certificate */
    bool include_system_ca;    /* client: trust the system roots too (default true) */
    slim_tls_version version;
    char *cert_file, *key_file; /* our certificate (server; client for mTLS) */
    char *cert_pem, *key_pem;
    char *ca_file, *ca_pem;               /* client: CAs for the server */
    char *client_ca_file, *client_ca_pem; /* server: require client certs (mTLS) */
    char *server_name;                    /* client: name to verify instead of the host */
} slim_tls_config;

typedef struct slim_server_keepalive {
    uint64_t time_ms;                     /* ping interval (default 120 s) */
    uint64_t timeout_ms;                  /* ping ack timeout (default 20 s) */
    uint64_t max_connection_idle_ms;      /* default 1 h */
    uint64_t max_connection_age_ms;       /* default 2 h */
    uint64_t max_connection_age_grace_ms; /* default 5 min */
} slim_server_keepalive;

typedef struct slim_client_keepalive {
    uint64_t http2_keepalive_ms; /* ping interval (default 60 s) */
    uint64_t timeout_ms;         /* ping ack timeout (default 10 s) */
    uint64_t tcp_keepalive_ms;   /* TCP keepalive (default 60 s) */
    bool while_idle;             /* ping without open streams (default false) */
} slim_client_keepalive;

typedef enum slim_backoff_type {
    SLIM_BACKOFF_EXPONENTIAL = 0,
    SLIM_BACKOFF_FIXED_INTERVAL = 1,
} slim_backoff_type;

/* Reconnection delays, as upstream's tokio-retry strategies compute them:
 * exponential gives min(max_delay, factor * base^(n+1)) ms before retry n
 * (n = 0, 1, ...), times a random fraction in [0, 1) when jitter is on;
 * fixed_interval gives interval; max_attempts retries at most. Without a
 * backoff block: fixed_interval 2 s, forever (upstream's default). */
typedef struct slim_backoff_config {
    slim_backoff_type type;
    uint64_t base_ms;      /* exponential: base (default 100) */
    uint64_t factor;       /* exponential: multiplier (default 1) */
    uint64_t max_delay_ms; /* exponential: cap (default 1 s) */
    bool jitter;           /* exponential: randomise delays (default false) */
    uint64_t interval_ms;  /* fixed_interval: delay (default 1 s; 2 s without a block) */
    uint64_t max_attempts; /* UINT64_MAX = forever (default) */
} slim_backoff_config;

typedef struct slim_kv {
    char *key;
    char *value;
} slim_kv;

typedef struct slim_server_config {
    char *endpoint; /* "host:port", "[::1]:port" or "unix:///path" */
    slim_tls_config tls;
    uint32_t max_concurrent_streams; /* 0 = transport default */
    uint32_t max_header_list_size;   /* 0 = transport default */
    uint32_t max_connections;        /* open connections; 0 = transport default (10 000) */
    uint64_t max_message_size;       /* bytes; from max_frame_size (MiB); 0 = default */
    slim_server_keepalive keepalive;
    uint64_t negotiation_timeout_ms; /* link negotiation must finish in time (5 s) */
    bool require_header_mac;         /* peers must agree on a header MAC key (true) */
    slim_kv *metadata;               /* string-valued metadata entries */
    size_t n_metadata;
} slim_server_config;

typedef struct slim_client_config {
    char *endpoint; /* "http://host:port" or "https://host:port" */
    slim_tls_config tls;
    slim_client_keepalive keepalive;
    slim_backoff_config backoff;
    uint64_t connect_timeout_ms; /* 0 = none */
    uint64_t request_timeout_ms; /* 0 = none */
    char *origin;                /* :authority override */
    char *link_id;               /* link id to announce (else a fresh UUID) */
    slim_link_type connection_type;
    bool require_header_mac; /* the peer must agree on a header MAC key (true) */
    slim_kv *headers;        /* extra request headers */
    size_t n_headers;
} slim_client_config;

/* Called for each accepted-but-ignored key: path, line, and why. */
typedef void (*slim_cfg_warn_fn)(const char *path, unsigned line, const char *why, void *ud);

/* Parses a ServerConfig at node (path names it in errors). On error *out is
 * left cleaned up and err says why. warn (may be NULL) hears about keys
 * accepted without effect. E_INVALID_ARG, E_NOMEM. */
slim_status slim_server_config_parse(const slim_cfg_doc *doc, slim_cfg_node *node, const char *path,
                                     slim_server_config *out, slim_cfg_warn_fn warn, void *ud,
                                     slim_cfg_error *err);
void slim_server_config_cleanup(slim_server_config *c);

/* Parses the `tls` block of map as a ServerConfig's (path names map): the
 * defaults without it are an error, as for a server ("missing server cert
 * and key (or set insecure: true for plaintext)"). For processes whose
 * listeners are not ServerConfigs (the controller). Free *out's strings
 * with slim_tls_config_cleanup. E_INVALID_ARG, E_NOMEM. */
slim_status slim_server_tls_parse(const slim_cfg_doc *doc, slim_cfg_node *map, const char *path,
                                  slim_tls_config *out, slim_cfg_warn_fn warn, void *ud,
                                  slim_cfg_error *err);
void slim_tls_config_cleanup(slim_tls_config *t);

/* Parses a ClientConfig; as above. */
slim_status slim_client_config_parse(const slim_cfg_doc *doc, slim_cfg_node *node, const char *path,
                                     slim_client_config *out, slim_cfg_warn_fn warn, void *ud,
                                     slim_cfg_error *err);
void slim_client_config_cleanup(slim_client_config *c);

/* Defaults, for code that builds configs without a document. */
void slim_server_config_defaults(slim_server_config *c);
void slim_client_config_defaults(slim_client_config *c);

#endif
