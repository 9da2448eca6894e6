/*
 * Transport settings: defaults per role, the mapping from SLIM's
 * ServerConfig / ClientConfig (config/endpoint.h) to slim_grpc_config, and
 * the reconnection backoff of upstream's client config. Pure.
 */
#include "transport/grpc.h"

#include <string.h>

static void resolve_u64(uint64_t *v, uint64_t def) {
    if (*v == 0)
        *v = def;
}

void slim_grpc_config_resolve_role(const slim_grpc_config *in, bool server, slim_grpc_config *out) {
    slim_grpc_config z;
    memset(&z, 0, sizeof z);
    *out = in != NULL ? *in : z;
    if (out->max_message_size == 0)
        out->max_message_size = SLIM_GRPC_DEFAULT_MAX_MESSAGE_SIZE;
    if (out->max_message_size > UINT32_MAX)
        out->max_message_size = UINT32_MAX;
    if (out->send_queue_limit == 0)
        out->send_queue_limit = SLIM_GRPC_DEFAULT_SEND_QUEUE_LIMIT;
    if (out->max_concurrent_streams == 0)
        out->max_concurrent_streams = SLIM_GRPC_DEFAULT_MAX_CONCURRENT_STREAMS;
    if (out->max_header_list_size == 0)
        out->max_header_list_size = SLIM_GRPC_DEFAULT_MAX_HEADER_LIST_SIZE;
    if (out->stream_window == 0)
        out->stream_window = SLIM_GRPC_DEFAULT_STREAM_WINDOW;
    if (out->connection_window == 0)
        out->connection_window = SLIM_GRPC_DEFAULT_CONNECTION_WINDOW;
    if (out->write_batch == 0)
        out->write_batch = SLIM_GRPC_DEFAULT_WRITE_BATCH;
    if (out->max_connections == 0)
        out->max_connections = SLIM_GRPC_DEFAULT_MAX_CONNECTIONS;
    const uint32_t max_window = 0x7fffffffu;
    if (out->stream_window > max_window)
        out->stream_window = max_window;
    if (out->connection_window > max_window)
        out->connection_window = max_window;
    resolve_u64(&out->keepalive_time_ms, server ? SLIM_GRPC_DEFAULT_SERVER_KEEPALIVE_MS
                                                : SLIM_GRPC_DEFAULT_CLIENT_KEEPALIVE_MS);
    resolve_u64(&out->keepalive_timeout_ms, server ? SLIM_GRPC_DEFAULT_SERVER_KA_TIMEOUT_MS
                                                   : SLIM_GRPC_DEFAULT_CLIENT_KA_TIMEOUT_MS);
    if (out->keepalive_timeout_ms == SLIM_GRPC_OFF)
        out->keepalive_timeout_ms = UINT64_MAX / 4; /* "never" without overflow */
    resolve_u64(&out->keepalive_min_interval_ms, SLIM_GRPC_DEFAULT_KA_MIN_INTERVAL_MS);
    resolve_u64(&out->max_connection_idle_ms, SLIM_GRPC_DEFAULT_MAX_CONNECTION_IDLE_MS);
    resolve_u64(&out->max_connection_age_ms, SLIM_GRPC_DEFAULT_MAX_CONNECTION_AGE_MS);
    resolve_u64(&out->max_connection_age_grace_ms, SLIM_GRPC_DEFAULT_MAX_CONNECTION_GRACE_MS);
    resolve_u64(&out->handshake_timeout_ms, SLIM_GRPC_DEFAULT_HANDSHAKE_TIMEOUT_MS);
}

void slim_grpc_config_resolve(const slim_grpc_config *in, slim_grpc_config *out) {
    slim_grpc_config_resolve_role(in, true, out);
}

/* A SLIM duration: 0 means the feature is off. */
static uint64_t dur(uint64_t ms) {
    return ms == 0 ? SLIM_GRPC_OFF : ms;
}

void slim_grpc_config_from_server(const slim_server_config *sc, const slim_grpc_config *base,
                                  slim_grpc_config *out) {
    slim_grpc_config c;
    memset(&c, 0, sizeof c);
    if (base != NULL)
        c = *base;
    if (sc->max_message_size != 0)
        c.max_message_size = sc->max_message_size;
    if (sc->max_concurrent_streams != 0)
        c.max_concurrent_streams = sc->max_concurrent_streams;
    if (sc->max_header_list_size != 0)
        c.max_header_list_size = sc->max_header_list_size;
    if (sc->max_connections != 0)
        c.max_connections = sc->max_connections;
    const slim_server_keepalive *k = &sc->keepalive;
    c.keepalive_time_ms = dur(k->time_ms);
    c.keepalive_timeout_ms = dur(k->timeout_ms);
    c.max_connection_idle_ms = dur(k->max_connection_idle_ms);
    c.max_connection_age_ms = dur(k->max_connection_age_ms);
    /* A zero grace closes at once when the age is reached. */
    c.max_connection_age_grace_ms = k->max_connection_age_grace_ms;
    if (c.max_connection_age_grace_ms == 0)
        c.max_connection_age_grace_ms = 1;
    slim_grpc_config_resolve_role(&c, true, out);
}

void slim_grpc_config_from_client(const slim_client_config *cc, const slim_grpc_config *base,
                                  slim_grpc_config *out) {
    slim_grpc_config c;
    memset(&c, 0, sizeof c);
    if (base != NULL)
        c = *base;
    const slim_client_keepalive *k = &cc->keepalive;
    c.keepalive_time_ms = dur(k->http2_keepalive_ms);
    c.keepalive_timeout_ms = dur(k->timeout_ms);
    c.keepalive_while_idle = k->while_idle;
    slim_grpc_config_resolve_role(&c, false, out);
}

static uint64_t mul_sat(uint64_t a, uint64_t b) {
    if (a != 0 && b > UINT64_MAX / a)
        return UINT64_MAX;
    return a * b;
}

uint64_t slim_grpc_backoff_delay(const slim_backoff_config *b, uint64_t n, double rand01) {
    if (n >= b->max_attempts)
        return SLIM_GRPC_OFF;
    if (b->type == SLIM_BACKOFF_FIXED_INTERVAL)
        return b->interval_ms;
    /* factor * base^(n+1), saturating, capped at max_delay (as tokio-retry
     * caps it, a max_delay of 0 included). */
    uint64_t d = b->factor;
    if (b->base_ms <= 1)
        d = mul_sat(d, b->base_ms);
    else
        for (uint64_t i = 0; i <= n && d != 0 && d <= b->max_delay_ms; i++)
            d = mul_sat(d, b->base_ms);
    if (d > b->max_delay_ms)
        d = b->max_delay_ms;
    if (b->jitter) {
        if (rand01 < 0.0 || rand01 >= 1.0)
            rand01 = 0.0;
        d = (uint64_t)((double)d * rand01);
    }
    return d == SLIM_GRPC_OFF ? SLIM_GRPC_OFF - 1 : d;
}
