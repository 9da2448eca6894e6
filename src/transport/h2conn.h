/*
 * One HTTP/2 connection carrying gRPC calls, on either side. Internal to the
 * transport module: server.c creates one per accepted socket, client.c one
 * per client.
 *
 * Data path:
 *   socket -> slim_io (plain or TLS) -> nghttp2_session_mem_recv -> per-call
 *   deframer -> on_message (zero copy when a message lies whole in one read)
 *   slim_grpc_call_send -> per-call queue (prefix + bytes, one copy) or
 *   slim_grpc_call_send_rc -> per-call queue (a reference, no copy) ->
 *   nghttp2 DATA frames (NO_COPY: the queue bytes go straight into the
 *   connection's write buffer) -> one slim_io_write per loop iteration.
 *
 * Timers: deadlines of calls on one timer; keepalive pings, the handshake
 * timeout, the idle and age limits and the drain deadline on another.
 *
 * Re-entrancy: the connection counts how deep it is inside its own entry
 * points (read, flush, timer). Closing the connection from a user callback
 * only marks it; the close runs when the outermost entry point returns, so
 * nghttp2 is never freed under its own feet.
 */
#ifndef SLIM_TRANSPORT_H2CONN_H
#define SLIM_TRANSPORT_H2CONN_H

#include "transport/grpc.h"
#include "transport/io.h"

typedef struct slim_h2conn slim_h2conn;

/* What a connection asks of its owner (server or client). */
typedef struct slim_h2conn_owner {
    /* Server only: the method registered for `path`, or NULL. */
    const slim_grpc_method *(*find_method)(void *owner, slim_str path);
    /* Server only: runs the header check (SLIM_OK when none is installed). */
    slim_status (*check)(void *owner, slim_grpc_call *call, const char **message);
    /* The peer's first SETTINGS frame arrived: the connection works. May be
     * NULL. */
    void (*on_ready)(void *owner, slim_h2conn *c);
    /* The peer sent GOAWAY: no new call may start here. May be NULL. */
    void (*on_goaway)(void *owner, slim_h2conn *c);
    /* The connection is gone (all its calls ended, handles closed); its
     * memory is released right after this returns. `reason` says why in
     * words. */
    void (*on_closed)(void *owner, slim_h2conn *c, slim_status why, const char *reason);
    void *owner;
} slim_h2conn_owner;

/* A connection on `loop` with `cfg` (resolved for the role; borrowed from
 * the owner for the connection's life). `secure`: the pipe will be TLS
 * (client requests then say :scheme https). Server connections must be
 * given their pipe right away with slim_h2conn_attach(); a client's may
 * come later, and calls opened before are sent once it is attached.
 * E_NOMEM, E_INTERNAL. */
slim_status slim_h2conn_new(uv_loop_t *loop, bool is_server, bool secure,
                            const slim_grpc_config *cfg, const slim_h2conn_owner *owner,
                            slim_h2conn **out);

/* Gives the connection its connected pipe (ownership passes) and starts
 * reading. On failure the connection closes itself (on_closed follows). */
void slim_h2conn_attach(slim_h2conn *c, slim_io *io);

/* Closes the connection: every open call ends with `why` (a local status)
 * and `reason`, then the pipe and timers close and owner->on_closed
 * follows. Deferred when called from inside one of the connection's
 * callbacks. Safe to call more than once. */
void slim_h2conn_close(slim_h2conn *c, slim_status why, const char *reason);

/* Graceful close: sends GOAWAY (no new calls; the last stream processed is
 * announced), and when `end_calls` ends each open server call with
 * UNAVAILABLE `msg` after its queued messages. The connection closes once
 * no call is left and everything is written, or `timeout_ms` from now
 * (SLIM_GRPC_OFF: no limit) with what is left reset and logged. Later calls
 * only shorten the deadline. */
void slim_h2conn_drain(slim_h2conn *c, bool end_calls, const char *msg, uint64_t timeout_ms);

/* Opens a client call (see slim_grpc_client_open). `authority` is the
 * :authority to send; `extra` (may be NULL) metadata sent before
 * opts->metadata. */
slim_status slim_h2conn_open(slim_h2conn *c, const char *authority, const slim_grpc_md *extra,
                             const slim_grpc_call_opts *opts, const slim_grpc_call_cbs *cbs,
                             void *data, slim_grpc_call **out);

bool slim_h2conn_closing(const slim_h2conn *c);
/* True while new calls may start: not closing, no GOAWAY either way. */
bool slim_h2conn_accepting(const slim_h2conn *c);
/* What the peer's GOAWAY said ("peer sent GOAWAY <error>: <debug data>"),
 * "" when none came. */
const char *slim_h2conn_goaway_text(const slim_h2conn *c);
void slim_h2conn_stats(const slim_h2conn *c, slim_grpc_conn_stats *out);

/* Intrusive list links for the owner's list of connections. */
typedef struct slim_h2conn_link {
    slim_h2conn *prev, *next;
    void *tag; /* the owner's (the server: the listener profile it came from) */
} slim_h2conn_link;

slim_h2conn_link *slim_h2conn_links(slim_h2conn *c);

/* The connection a call belongs to. */
slim_h2conn *slim_h2conn_of(const slim_grpc_call *call);

#endif
