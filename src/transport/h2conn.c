/*
 * HTTP/2 connection and gRPC calls on top of nghttp2 (see h2conn.h for the
 * data path and grpc.h for the user-facing contract).
 *
 * Design notes:
 * - Output. Nothing is written from an API call. Changes mark the
 *   connection and start its uv_prepare handle; right before the loop polls,
 *   the prepare callback runs nghttp2_session_send(), which gathers every
 *   pending frame into `wbuf`, and hands `wbuf` to the pipe as one write.
 *   While that write is in flight nothing else is gathered; when it
 *   completes, what was queued meanwhile is gathered and written at once. DATA frames use
 * NGHTTP2_DATA_FLAG_NO_COPY: the message bytes go from the call's queue straight into `wbuf`.
 * - Flow control. Automatic WINDOW_UPDATE is off. The connection window is
 *   given back as soon as bytes arrive (so one slow call cannot stall the
 *   others); the stream window only as the bytes are consumed: handed to
 *   on_message, or held in a partial message (bounded by the message size
 *   limit). Bytes of a paused call are kept unconsumed, so the peer stops
 *   once the stream window is full.
 * - Lifetime. A call is freed only by call_finalize(), which runs its
 *   on_close first. Finalization happens when nghttp2 closes the stream (or,
 *   if received bytes still wait for a paused user, once they are
 *   delivered; or, if its last bytes are in the socket write in flight,
 *   once that write completed), or when the connection closes.
 * - Unsent messages. A call's queue (txq.h) keeps what was packed until the
 *   write carrying it completes: calls with bytes in the write in flight are
 *   on the `wdirty` list, released when the write completes. A call that
 *   ends hands what is left back through on_unsent.
 * - Keepalive, handshake timeout, idle and age limits and the drain
 *   deadline share one timer (`ka_timer`), re-armed to the earliest of them
 *   when something changes and re-checked when it fires (reads only record
 *   their time; the timer notices them).
 * - Drain. GOAWAY announces the last stream processed; nghttp2 then refuses
 *   newer streams. The connection closes when no call is left and all is
 *   written, or at the drain deadline.
 */
#include "transport/h2conn.h"
#include "core/alloc.h"
#include "core/log.h"
#include "transport/tls.h"
#include "transport/txq.h"

#include <nghttp2/nghttp2.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MOD        "transport"
#define USER_AGENT "grpc-c-slim/" SLIM_VERSION_STRING
/* Keep an emptied receive backlog's buffer up to this size. */
#define BACKLOG_KEEP_CAP (64u * 1024u)

struct slim_grpc_call {
    slim_h2conn *conn;
    slim_grpc_call *prev, *next;
    int32_t stream_id;
    bool is_server;
    bool visible; /* the user holds the handle: on_close is owed */
    const slim_grpc_method *method;
    slim_grpc_call_cbs cbs;
    void *data;

    /* Headers received. */
    slim_buf path;         /* NUL-terminated */
    slim_buf authority;    /* NUL-terminated */
    slim_grpc_md md;       /* server: request metadata; client: response headers */
    slim_grpc_md trailers; /* client */
    size_t hdr_bytes;
    bool hdr_too_large;
    bool is_post, ct_ok, te_ok, bad_timeout;
    int http_status;
    int rx_code; /* received grpc-status, -1 when none */
    slim_buf rx_message;
    uint64_t deadline; /* loop time in ms, 0 when none */

    /* Sending. */
    slim_txq txq;
    size_t tx_promised;    /* bytes promised to nghttp2 for a DATA frame not yet packed */
    uint64_t tx_cut;       /* nothing past this queue position is sent (UINT64_MAX: all) */
    bool in_write;         /* bytes of this call are in the socket write in flight */
    slim_grpc_call *wnext; /* link in the connection's wdirty list */
    bool finalize_pending; /* ended; finalize once the write in flight completes */
    size_t unsent;         /* messages handed back */
    bool headers_sent;     /* server: response HEADERS submitted */
    bool tx_eos;           /* close_send or finish: no more messages */
    bool tx_eos_sent;      /* END_STREAM went out */
    bool deferred;         /* the data source returned NGHTTP2_ERR_DEFERRED */
    bool want_writable, notify_writable;
    bool finished;    /* server: the status is decided */
    bool status_sent; /* server: trailers (or trailers-only) went out */
    int finish_code;
    slim_buf finish_msg; /* raw, percent-encoded when sent */
    slim_grpc_md finish_md;

    /* Receiving. */
    slim_grpc_deframer deframer;
    slim_buf backlog; /* received bytes waiting for a paused user */
    size_t backlog_off;
    bool paused;
    bool rx_eos;      /* END_STREAM received */
    bool rx_eos_done; /* ... and acted upon */
    bool rx_discard;  /* deliver nothing more */
    slim_buf request; /* server, single-request kinds */
    unsigned nrequests;

    /* Ending. */
    bool stream_closed;
    uint32_t close_code; /* HTTP/2 error code nghttp2 closed the stream with */
    bool local_set;
    slim_status local_status;
    char local_msg[192];
};

struct slim_h2conn {
    uv_loop_t *loop;
    bool is_server;
    bool secure;
    const slim_grpc_config *cfg;
    slim_h2conn_owner owner;
    slim_h2conn_link link;
    nghttp2_session *ng;
    slim_io *io;
    uv_prepare_t prep;
    uv_idle_t kick; /* keeps the next poll from blocking (see conn_schedule) */
    uv_timer_t timer;
    uint64_t timer_due; /* loop ms the deadline timer fires at, 0 when stopped */
    slim_buf wbuf;
    bool writing;
    int depth;
    bool work_pending;
    bool close_requested;
    bool closing;
    bool read_dead;      /* input is no longer processed (protocol error) */
    char proto_err[128]; /* what the peer did wrong, for the close log line */
    slim_status close_why;
    char close_reason[224];
    int handles_open;
    slim_grpc_call *calls;
    slim_grpc_call *wdirty; /* calls with bytes in the write in flight */
    slim_grpc_conn_stats stats;
    char peer[64];

    /* Keepalive, limits, drain (see the design notes). */
    uv_timer_t ka_timer;
    uint64_t ka_due;        /* loop ms the ka_timer fires at, 0 when stopped */
    uint64_t attach_ms;     /* the pipe was attached (0: not yet) */
    uint64_t last_read_ms;  /* last bytes received */
    uint64_t idle_since_ms; /* server: the last call ended (or the connection began) */
    uint64_t age_limit_ms;  /* server: max_connection_age with its jitter */
    bool settings_seen;     /* the peer's first SETTINGS arrived */
    bool ready_pending;     /* ... and on_ready is owed after this read */
    bool first_read_done;
    bool ping_outstanding;
    uint64_t ping_sent_ms; /* the last keepalive PING went out (0: never) */
    uint64_t ping_seq;
    bool data_after_ack; /* client: HEADERS/DATA received since the last PING ACK */
    bool goaway_sent, goaway_received;
    bool draining;           /* closes once no call is left */
    uint64_t drain_deadline; /* loop ms; 0: none */
    char drain_msg[96];
    char goaway_text[160]; /* what the peer's GOAWAY said */
};

static void on_prepare(uv_prepare_t *h);
static void on_deadline(uv_timer_t *t);
static void conn_close_now(slim_h2conn *c);
static void conn_timers_update(slim_h2conn *c);

/* ---- Connection plumbing ---- */

static void conn_enter(slim_h2conn *c) {
    c->depth++;
}

static void conn_leave(slim_h2conn *c) {
    if (--c->depth == 0 && c->close_requested && !c->closing)
        conn_close_now(c);
}

/* Nonzero while some connection's prepare callback runs on this thread. */
static _Thread_local int in_prepare;

static void on_kick(uv_idle_t *h) {
    uv_idle_stop(h);
}

/* Makes the loop poll without blocking once: work scheduled, or user
 * callbacks run, during the prepare phase would otherwise wait for the
 * next I/O event (a prepare handle started now runs only in the next
 * iteration, after the poll). */
static void conn_kick(slim_h2conn *c) {
    if (!c->closing && !uv_is_active((uv_handle_t *)&c->kick))
        uv_idle_start(&c->kick, on_kick);
}

static void conn_schedule(slim_h2conn *c) {
    if (c->closing)
        return;
    if (!uv_is_active((uv_handle_t *)&c->prep))
        uv_prepare_start(&c->prep, on_prepare);
    if (in_prepare > 0)
        conn_kick(c);
}

static void conn_mark_work(slim_h2conn *c) {
    c->work_pending = true;
    conn_schedule(c);
}

static void conn_arm_deadline(slim_h2conn *c, uint64_t due) {
    if (c->closing || (c->timer_due != 0 && c->timer_due <= due))
        return;
    uint64_t now = uv_now(c->loop);
    c->timer_due = due;
    uv_timer_start(&c->timer, on_deadline, due > now ? due - now : 0, 0);
}

static size_t txq_pending(const slim_grpc_call *call) {
    return (size_t)slim_txq_pending(&call->txq);
}

/* Bytes that may still be offered to nghttp2 (a failed server call sends
 * nothing past its cut). */
static size_t txq_sendable(const slim_grpc_call *call) {
    uint64_t end = call->txq.total < call->tx_cut ? call->txq.total : call->tx_cut;
    return end > call->txq.packed ? (size_t)(end - call->txq.packed) : 0;
}

static size_t backlog_len(const slim_grpc_call *call) {
    return call->backlog.len - call->backlog_off;
}

/* ---- Calls: creation, result, finalization ---- */

static slim_grpc_call *call_new(slim_h2conn *c, bool is_server) {
    slim_grpc_call *call = slim_calloc(1, sizeof *call);
    if (call == NULL)
        return NULL;
    call->conn = c;
    call->is_server = is_server;
    call->rx_code = -1;
    call->tx_cut = UINT64_MAX;
    slim_txq_init(&call->txq);
    slim_grpc_md_init(&call->md);
    slim_grpc_md_init(&call->trailers);
    slim_grpc_md_init(&call->finish_md);
    slim_grpc_deframer_init(&call->deframer, c->cfg->max_message_size);
    return call;
}

static void call_link(slim_h2conn *c, slim_grpc_call *call) {
    bool first = c->calls == NULL;
    call->prev = NULL;
    call->next = c->calls;
    if (c->calls != NULL)
        c->calls->prev = call;
    c->calls = call;
    if (first)
        conn_timers_update(c); /* a client starts pinging; a server is no longer idle */
}

static void call_unlink(slim_h2conn *c, slim_grpc_call *call) {
    if (call->prev != NULL)
        call->prev->next = call->next;
    else if (c->calls == call)
        c->calls = call->next;
    if (call->next != NULL)
        call->next->prev = call->prev;
    call->prev = call->next = NULL;
    if (c->calls == NULL && !c->closing) {
        c->idle_since_ms = uv_now(c->loop);
        conn_timers_update(c);
    }
}

static void call_free(slim_grpc_call *call) {
    slim_buf_cleanup(&call->path);
    slim_buf_cleanup(&call->authority);
    slim_grpc_md_cleanup(&call->md);
    slim_grpc_md_cleanup(&call->trailers);
    slim_buf_cleanup(&call->rx_message);
    slim_txq_cleanup(&call->txq);
    slim_buf_cleanup(&call->finish_msg);
    slim_grpc_md_cleanup(&call->finish_md);
    slim_grpc_deframer_cleanup(&call->deframer);
    slim_buf_cleanup(&call->backlog);
    slim_buf_cleanup(&call->request);
    slim_free(call);
}

/* Records a status produced here; the first one wins. */
static void call_set_local(slim_grpc_call *call, slim_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void call_set_local(slim_grpc_call *call, slim_status st, const char *fmt, ...) {
    if (call->local_set)
        return;
    call->local_set = true;
    call->local_status = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(call->local_msg, sizeof call->local_msg, fmt, ap);
    va_end(ap);
}

static slim_str buf_str(const slim_buf *b) {
    return slim_str_of((const char *)b->data, b->len);
}

static void call_result(slim_grpc_call *call, slim_grpc_result *res) {
    memset(res, 0, sizeof *res);
    res->trailers = call->is_server ? NULL : &call->trailers;
    res->unsent = call->unsent;
    int code;
    if (call->local_set) {
        res->local = true;
        res->status = call->local_status;
        res->code = slim_grpc_status_to_code(call->local_status);
        res->message = slim_str_of(call->local_msg, strlen(call->local_msg));
        return;
    }
    if (call->is_server) {
        if (call->status_sent) {
            code = call->finish_code;
            res->message = buf_str(&call->finish_msg);
        } else {
            code = SLIM_GRPC_CANCELLED;
            snprintf(call->local_msg, sizeof call->local_msg,
                     "stream reset by the client (HTTP/2 error %u)", (unsigned)call->close_code);
        }
    } else if (call->rx_code >= 0) {
        code = call->rx_code;
        res->message = buf_str(&call->rx_message);
    } else if (call->http_status != 0 && call->http_status != 200) {
        code = slim_grpc_code_from_http(call->http_status);
        snprintf(call->local_msg, sizeof call->local_msg, "HTTP status %d without grpc-status",
                 call->http_status);
    } else if (call->close_code == NGHTTP2_REFUSED_STREAM && call->conn->goaway_received) {
        code = SLIM_GRPC_UNAVAILABLE;
        snprintf(call->local_msg, sizeof call->local_msg,
                 "not started: the server sent GOAWAY (%.140s)", call->conn->goaway_text);
    } else if (call->close_code != 0) {
        code = slim_grpc_code_from_h2_error(call->close_code);
        snprintf(call->local_msg, sizeof call->local_msg,
                 "stream reset by the server (HTTP/2 error %u)", (unsigned)call->close_code);
    } else {
        code = SLIM_GRPC_INTERNAL;
        snprintf(call->local_msg, sizeof call->local_msg, "stream ended without grpc-status");
    }
    if (res->message.ptr == NULL)
        res->message = slim_str_of(call->local_msg, strlen(call->local_msg));
    res->code = code;
    res->status = slim_grpc_code_to_status(code);
}

static void hand_back(void *ud, slim_bytes msg, slim_rcbuf *rc) {
    slim_grpc_call *call = ud;
    if (call->cbs.on_unsent != NULL)
        call->cbs.on_unsent(call, msg, rc, call->data);
}

static void call_finalize(slim_grpc_call *call) {
    slim_h2conn *c = call->conn;
    if (call->in_write && !c->closing) {
        /* Its last bytes are in the write in flight: whether they were
         * written is known when it completes. */
        call->finalize_pending = true;
        return;
    }
    call_unlink(c, call);
    if (!slim_txq_empty(&call->txq)) {
        call->unsent = slim_txq_take_unsent(&call->txq, call->visible ? hand_back : NULL, call);
        if (call->unsent > 0)
            SLIM_LOGD(MOD, "%s: call %s ended with %zu message(s) not written", c->peer,
                      call->path.len > 0 ? (const char *)call->path.data : "?", call->unsent);
    }
    if (call->visible && call->cbs.on_close != NULL) {
        slim_grpc_result res;
        call_result(call, &res);
        call->cbs.on_close(call, &res, call->data);
    }
    call_free(call);
}

/* ---- Header lists for nghttp2 ---- */

/* Values that need encoding go to `scratch`, reserved up front so the
 * pointers handed to nghttp2 stay put. nghttp2 copies everything when the
 * frame is submitted. */
typedef struct nvlist {
    nghttp2_nv *nv;
    size_t n, cap;
    slim_buf scratch;
} nvlist;

static size_t bin_scratch(const slim_grpc_md *md) {
    size_t n = 0;
    for (size_t i = 0; i < slim_grpc_md_count(md); i++) {
        slim_str name;
        slim_bytes value;
        slim_grpc_md_at(md, i, &name, &value);
        if (slim_grpc_header_is_bin(name))
            n += slim_base64_len(value.len);
    }
    return n;
}

/* Room for `fixed` fields plus the entries of `md` and `md2` (either may
 * be NULL). */
static slim_status nv_begin(nvlist *l, size_t fixed, const slim_grpc_md *md, size_t scratch,
                            const slim_grpc_md *md2) {
    l->n = 0;
    l->cap = fixed + slim_grpc_md_count(md) + slim_grpc_md_count(md2);
    slim_buf_init(&l->scratch);
    scratch += bin_scratch(md) + bin_scratch(md2);
    l->nv = slim_malloc(l->cap * sizeof *l->nv);
    if (l->nv == NULL || slim_buf_reserve(&l->scratch, scratch + 1) != SLIM_OK) {
        slim_free(l->nv);
        l->nv = NULL;
        return SLIM_E_NOMEM;
    }
    return SLIM_OK;
}

static void nv_end(nvlist *l) {
    slim_free(l->nv);
    slim_buf_cleanup(&l->scratch);
}

static void nv_add(nvlist *l, const char *name, size_t nlen, const void *value, size_t vlen) {
    nghttp2_nv *e = &l->nv[l->n++];
    e->name = (uint8_t *)name;
    e->namelen = nlen;
    e->value = (uint8_t *)value;
    e->valuelen = vlen;
    e->flags = NGHTTP2_NV_FLAG_NONE;
}

#define NV_LIT(l, name, value) nv_add(l, name, sizeof(name) - 1, value, sizeof(value) - 1)

static void nv_add_cstr(nvlist *l, const char *name, const char *value) {
    nv_add(l, name, strlen(name), value, strlen(value));
}

static void nv_add_md(nvlist *l, const slim_grpc_md *md) {
    for (size_t i = 0; i < slim_grpc_md_count(md); i++) {
        slim_str name;
        slim_bytes value;
        slim_grpc_md_at(md, i, &name, &value);
        if (slim_grpc_header_is_bin(name)) {
            size_t off = l->scratch.len;
            (void)slim_base64_encode(value, &l->scratch); /* room reserved */
            nv_add(l, name.ptr, name.len, l->scratch.data + off, l->scratch.len - off);
        } else {
            nv_add(l, name.ptr, name.len, value.ptr, value.len);
        }
    }
}

/* ---- Server: status ---- */

/* Submits the status: trailers after the data, or a trailers-only response
 * when no headers went out. Returns an nghttp2 error code (0 on success). */
static int submit_status(slim_h2conn *c, slim_grpc_call *call, bool trailers_only) {
    char code[4];
    snprintf(code, sizeof code, "%d", call->finish_code);
    nvlist l;
    if (nv_begin(&l, 5, &call->finish_md, call->finish_msg.len * 3, NULL) != SLIM_OK)
        return NGHTTP2_ERR_NOMEM;
    if (trailers_only) {
        NV_LIT(&l, ":status", "200");
        NV_LIT(&l, "content-type", "application/grpc");
        NV_LIT(&l, "grpc-accept-encoding", "identity");
    }
    nv_add_cstr(&l, "grpc-status", code);
    if (call->finish_msg.len > 0) {
        size_t off = l.scratch.len;
        (void)slim_grpc_percent_encode(buf_str(&call->finish_msg), &l.scratch); /* reserved */
        nv_add(&l, "grpc-message", 12, l.scratch.data + off, l.scratch.len - off);
    }
    nv_add_md(&l, &call->finish_md);
    int rv = trailers_only ? nghttp2_submit_response(c->ng, call->stream_id, l.nv, l.n, NULL)
                           : nghttp2_submit_trailer(c->ng, call->stream_id, l.nv, l.n);
    nv_end(&l);
    return rv;
}

static ssize_t on_data_read(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t length,
                            uint32_t *flags, nghttp2_data_source *src, void *ud);

static int submit_response_headers(slim_h2conn *c, slim_grpc_call *call, const slim_grpc_md *md) {
    nvlist l;
    if (nv_begin(&l, 3, md, 0, NULL) != SLIM_OK)
        return NGHTTP2_ERR_NOMEM;
    NV_LIT(&l, ":status", "200");
    NV_LIT(&l, "content-type", "application/grpc");
    NV_LIT(&l, "grpc-accept-encoding", "identity");
    nv_add_md(&l, md);
    nghttp2_data_provider prd;
    prd.source.ptr = call;
    prd.read_callback = on_data_read;
    int rv = nghttp2_submit_response(c->ng, call->stream_id, l.nv, l.n, &prd);
    nv_end(&l);
    if (rv == 0)
        call->headers_sent = true;
    return rv;
}

static slim_status ng_status(int rv) {
    if (rv == 0)
        return SLIM_OK;
    return rv == NGHTTP2_ERR_NOMEM ? SLIM_E_NOMEM : SLIM_E_CLOSED;
}

/* Decides the status of a server call and starts sending it after what is
 * queued. `msg` may be NULL. */
static slim_status server_finish(slim_h2conn *c, slim_grpc_call *call, int code, slim_str msg,
                                 const slim_grpc_md *trailers) {
    call->finish_msg.len = 0;
    slim_grpc_md_clear(&call->finish_md);
    slim_status st = slim_buf_append(&call->finish_msg, msg.ptr, msg.len);
    if (st == SLIM_OK && trailers != NULL)
        st = slim_grpc_md_append(&call->finish_md, trailers);
    if (st != SLIM_OK)
        return st;
    call->finished = true;
    call->tx_eos = true;
    call->finish_code = code;
    int rv = 0;
    if (!call->headers_sent && txq_pending(call) == 0) {
        call->headers_sent = true;
        rv = submit_status(c, call, true);
    } else if (!call->headers_sent) {
        rv = submit_response_headers(c, call, NULL);
    } else if (call->deferred) {
        call->deferred = false;
        rv = nghttp2_session_resume_data(c->ng, call->stream_id);
    }
    conn_schedule(c);
    return ng_status(rv);
}

/* Answers a server call the handler never saw (bad headers, unknown
 * method, refused by the check) with a trailers-only status. */
static void server_reject(slim_h2conn *c, slim_grpc_call *call, int code, const char *msg) {
    call->rx_discard = true;
    if (server_finish(c, call, code, slim_str_of(msg, strlen(msg)), NULL) != SLIM_OK)
        nghttp2_submit_rst_stream(c->ng, NGHTTP2_FLAG_NONE, call->stream_id,
                                  NGHTTP2_INTERNAL_ERROR);
}

/* Answers with a bare HTTP status: the request is not gRPC at all. */
static void server_reject_http(slim_h2conn *c, slim_grpc_call *call, const char *status) {
    nghttp2_nv nv[1];
    nv[0].name = (uint8_t *)":status";
    nv[0].namelen = 7;
    nv[0].value = (uint8_t *)status;
    nv[0].valuelen = strlen(status);
    nv[0].flags = NGHTTP2_NV_FLAG_NONE;
    call->rx_discard = true;
    call->finished = call->tx_eos = call->headers_sent = true;
    nghttp2_submit_response(c->ng, call->stream_id, nv, 1, NULL);
    conn_schedule(c);
}

/* ---- Failing a call from here ---- */

/* Ends a call with a status produced locally. A server that has not decided
 * its status sends it (unless `reset`); otherwise the stream is reset with
 * CANCEL. Received data is dropped from now on. */
static void call_fail(slim_grpc_call *call, slim_status st, bool reset, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void call_fail(slim_grpc_call *call, slim_status st, bool reset, const char *fmt, ...) {
    if (call->local_set)
        return;
    slim_h2conn *c = call->conn;
    va_list ap;
    va_start(ap, fmt);
    call->local_set = true;
    call->local_status = st;
    vsnprintf(call->local_msg, sizeof call->local_msg, fmt, ap);
    va_end(ap);
    call->rx_discard = true;
    if (backlog_len(call) > 0 && !call->stream_closed && c->ng != NULL)
        nghttp2_session_consume_stream(c->ng, call->stream_id, backlog_len(call));
    call->backlog.len = call->backlog_off = 0;
    if (call->stream_closed || c->ng == NULL || c->closing)
        return;
    if (call->is_server && !reset && !call->finished) {
        /* Send nothing queued past what nghttp2 was promised (it is handed
         * back when the call ends); send the status. */
        call->tx_cut = call->txq.packed + call->tx_promised;
        const char *m = call->local_msg;
        if (server_finish(c, call, slim_grpc_status_to_code(st), slim_str_of(m, strlen(m)), NULL) ==
            SLIM_OK)
            return;
    }
    nghttp2_submit_rst_stream(c->ng, NGHTTP2_FLAG_NONE, call->stream_id, NGHTTP2_CANCEL);
    conn_schedule(c);
}

/* ---- Receiving ---- */

static void call_deliver(slim_h2conn *c, slim_grpc_call *call, slim_bytes msg) {
    c->stats.msgs_received++;
    if (call->is_server && call->method != NULL && call->method->kind != SLIM_GRPC_BIDI_STREAMING &&
        call->method->kind != SLIM_GRPC_CLIENT_STREAMING) {
        if (++call->nrequests > 1) {
            call_fail(call, SLIM_E_GRPC_INTERNAL, false,
                      "more than one request message for a single-request method");
            return;
        }
        if (slim_buf_append(&call->request, msg.ptr, msg.len) != SLIM_OK)
            call_fail(call, SLIM_E_GRPC_RESOURCE_EXHAUSTED, false, "out of memory");
        return;
    }
    if (call->cbs.on_message != NULL)
        call->cbs.on_message(call, msg, call->data);
}

static void deframe_failed(slim_grpc_call *call, slim_status st) {
    size_t max = call->deframer.max_size;
    switch (st) {
    case SLIM_E_GRPC_RESOURCE_EXHAUSTED:
        call_fail(call, st, false, "received message larger than max (%u vs. %zu)",
                  (unsigned)call->deframer.need, max);
        break;
    case SLIM_E_GRPC_UNIMPLEMENTED:
        call_fail(call, st, false,
                  "received a compressed message; only identity encoding is supported");
        break;
    case SLIM_E_NOMEM:
        call_fail(call, SLIM_E_GRPC_RESOURCE_EXHAUSTED, false, "out of memory");
        break;
    default:
        call_fail(call, SLIM_E_GRPC_INTERNAL, false, "invalid message prefix flags 0x%02x",
                  call->deframer.hdr[0]);
        break;
    }
}

/* Runs bytes through the deframer and delivers whole messages. Returns how
 * many bytes it took; it stops early when the user pauses or the call fails. */
static size_t call_feed(slim_h2conn *c, slim_grpc_call *call, const uint8_t *p, size_t n) {
    size_t off = 0;
    while (off < n && !call->paused && !call->rx_discard) {
        size_t used;
        bool have;
        slim_bytes msg;
        slim_status st =
            slim_grpc_deframe(&call->deframer, slim_bytes_of(p + off, n - off), &used, &have, &msg);
        off += used;
        if (st != SLIM_OK) {
            deframe_failed(call, st);
            return n;
        }
        if (have)
            call_deliver(c, call, msg);
    }
    return off;
}

static void call_consume(slim_h2conn *c, slim_grpc_call *call, size_t n) {
    if (n > 0 && !call->stream_closed && c->ng != NULL && !c->closing)
        nghttp2_session_consume_stream(c->ng, call->stream_id, n);
}

/* The server's view of the client's half-close, once all bytes before it
 * were delivered. */
static void call_rx_eos_deliver(slim_h2conn *c, slim_grpc_call *call) {
    if (call->rx_eos_done || call->rx_discard)
        return;
    call->rx_eos_done = true;
    if (slim_grpc_deframer_partial(&call->deframer)) {
        call_fail(call, SLIM_E_GRPC_INTERNAL, false, "stream ended inside a message");
        return;
    }
    if (!call->is_server || call->method == NULL)
        return;
    slim_grpc_kind kind = call->method->kind;
    if (kind == SLIM_GRPC_UNARY || kind == SLIM_GRPC_SERVER_STREAMING) {
        if (call->nrequests != 1) {
            server_reject(c, call, SLIM_GRPC_INTERNAL, "expected one request message, got none");
            return;
        }
        call->visible = true;
        call->method->on_call(call, slim_buf_view(&call->request), call->data);
        return;
    }
    if (call->cbs.on_half_close != NULL)
        call->cbs.on_half_close(call, call->data);
}

/* A streaming call was accepted: its response HEADERS go out now unless the
 * handler already sent them or ended the call. Clients may wait for them
 * before sending their first message (tonic, upstream SLIM's client, does),
 * so waiting for our first message would leave both sides waiting. */
static void accept_streaming(slim_h2conn *c, slim_grpc_call *call) {
    if (call->headers_sent || call->finished || call->local_set || call->stream_closed ||
        c->closing)
        return;
    if (submit_response_headers(c, call, NULL) != 0)
        nghttp2_submit_rst_stream(c->ng, NGHTTP2_FLAG_NONE, call->stream_id,
                                  NGHTTP2_INTERNAL_ERROR);
    conn_schedule(c);
}

/* Delivers what waits in the backlog (after resume), then the half-close,
 * then finalizes a call whose stream is already closed. */
static void call_process(slim_h2conn *c, slim_grpc_call *call) {
    if (call->notify_writable) {
        call->notify_writable = false;
        if (call->visible && !call->local_set && call->cbs.on_writable != NULL)
            call->cbs.on_writable(call, call->data);
    }
    if (backlog_len(call) > 0 && !call->paused && !call->rx_discard) {
        size_t used = call_feed(c, call, call->backlog.data + call->backlog_off, backlog_len(call));
        call->backlog_off += used;
        call_consume(c, call, used);
    }
    if (call->rx_discard && backlog_len(call) > 0) {
        call_consume(c, call, backlog_len(call));
        call->backlog_off = call->backlog.len;
    }
    if (backlog_len(call) > 0)
        return;
    call->backlog.len = call->backlog_off = 0;
    if (call->backlog.cap > BACKLOG_KEEP_CAP)
        slim_buf_cleanup(&call->backlog);
    if (call->rx_eos && !call->rx_eos_done && !call->rx_discard)
        call_rx_eos_deliver(c, call);
    if (call->stream_closed)
        call_finalize(call);
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *data,
                         size_t len, void *ud) {
    (void)flags;
    slim_h2conn *c = ud;
    nghttp2_session_consume_connection(s, len);
    slim_grpc_call *call = nghttp2_session_get_stream_user_data(s, sid);
    if (call == NULL || call->rx_discard || c->close_requested) {
        /* Closing (maybe asked from a callback of this very read): the
         * remaining input is dropped, no more deliveries. */
        nghttp2_session_consume_stream(s, sid, len);
        return 0;
    }
    size_t used = 0;
    if (!call->paused && backlog_len(call) == 0) {
        used = call_feed(c, call, data, len);
        call_consume(c, call, used);
    }
    if (used < len) {
        if (call->rx_discard) {
            nghttp2_session_consume_stream(s, sid, len - used);
        } else if (slim_buf_append(&call->backlog, data + used, len - used) != SLIM_OK) {
            nghttp2_session_consume_stream(s, sid, len - used);
            call_fail(call, SLIM_E_GRPC_RESOURCE_EXHAUSTED, false, "out of memory");
        }
    }
    return 0;
}

/* ---- Headers ---- */

static bool str_eq(slim_str s, const char *lit) {
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

static slim_status set_cstr(slim_buf *b, slim_str v) {
    b->len = 0;
    slim_status st = slim_buf_append(b, v.ptr, v.len);
    if (st == SLIM_OK)
        st = slim_buf_append_u8(b, 0);
    if (st == SLIM_OK)
        b->len--; /* keep the NUL outside the length */
    return st;
}

static void add_custom(slim_h2conn *c, slim_grpc_md *md, slim_str name, slim_str value) {
    slim_status st = slim_grpc_md_add_wire(md, name, value);
    if (st != SLIM_OK)
        SLIM_LOGD(MOD, "%s: dropped header %.*s: %s", c->peer, (int)name.len, name.ptr,
                  slim_status_str(st));
}

static void server_header(slim_h2conn *c, slim_grpc_call *call, slim_str n, slim_str v) {
    if (str_eq(n, ":method")) {
        call->is_post = str_eq(v, "POST");
    } else if (str_eq(n, ":path")) {
        (void)set_cstr(&call->path, v);
    } else if (str_eq(n, ":authority")) {
        (void)set_cstr(&call->authority, v);
    } else if (str_eq(n, "content-type")) {
        call->ct_ok = slim_grpc_content_type_ok(v);
    } else if (str_eq(n, "te")) {
        call->te_ok = str_eq(v, "trailers");
    } else if (str_eq(n, "grpc-timeout")) {
        uint64_t ns;
        if (slim_grpc_timeout_parse(v, &ns) != SLIM_OK) {
            call->bad_timeout = true;
        } else {
            uint64_t ms = ns / 1000000u + (ns % 1000000u != 0);
            /* Beyond ten years is as good as no deadline. */
            if (ms < 10ull * 365 * 24 * 3600 * 1000)
                call->deadline = uv_now(c->loop) + ms;
        }
    } else if (n.len > 0 && n.ptr[0] != ':' && !(n.len >= 5 && memcmp(n.ptr, "grpc-", 5) == 0) &&
               !str_eq(n, "content-length")) {
        add_custom(c, &call->md, n, v);
    }
}

static void client_header(slim_h2conn *c, slim_grpc_call *call, nghttp2_headers_category cat,
                          slim_str n, slim_str v) {
    if (str_eq(n, ":status")) {
        int s = 0;
        for (size_t i = 0; i < v.len && i < 4; i++)
            s = s * 10 + (v.ptr[i] >= '0' && v.ptr[i] <= '9' ? v.ptr[i] - '0' : 0);
        call->http_status = s;
    } else if (str_eq(n, "content-type")) {
        call->ct_ok = slim_grpc_content_type_ok(v);
    } else if (str_eq(n, "grpc-status")) {
        call->rx_code = slim_grpc_code_parse(v);
    } else if (str_eq(n, "grpc-message")) {
        call->rx_message.len = 0;
        (void)slim_grpc_percent_decode(v, &call->rx_message);
    } else if (n.len > 0 && n.ptr[0] != ':' && !(n.len >= 5 && memcmp(n.ptr, "grpc-", 5) == 0) &&
               !str_eq(n, "content-length")) {
        add_custom(c, cat == NGHTTP2_HCAT_HEADERS ? &call->trailers : &call->md, n, v);
    }
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud) {
    slim_h2conn *c = ud;
    if (f->hd.type != NGHTTP2_HEADERS)
        return 0;
    if (c->is_server && f->headers.cat == NGHTTP2_HCAT_REQUEST) {
        slim_grpc_call *call = call_new(c, true);
        if (call == NULL)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        call->stream_id = f->hd.stream_id;
        call_link(c, call);
        nghttp2_session_set_stream_user_data(s, f->hd.stream_id, call);
        return 0;
    }
    slim_grpc_call *call = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (call != NULL)
        call->hdr_bytes = 0;
    return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *ud) {
    (void)flags;
    slim_h2conn *c = ud;
    if (f->hd.type != NGHTTP2_HEADERS)
        return 0;
    slim_grpc_call *call = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (call == NULL || call->hdr_too_large)
        return 0;
    /* Counted as SETTINGS_MAX_HEADER_LIST_SIZE counts: name + value + 32. */
    call->hdr_bytes += namelen + valuelen + 32;
    if (call->hdr_bytes > c->cfg->max_header_list_size) {
        call->hdr_too_large = true;
        return 0;
    }
    slim_str n = slim_str_of((const char *)name, namelen);
    slim_str v = slim_str_of((const char *)value, valuelen);
    if (call->is_server)
        server_header(c, call, n, v);
    else
        client_header(c, call, f->headers.cat, n, v);
    return 0;
}

/* A request's headers are complete: validate, check, dispatch. */
static void server_request_ready(slim_h2conn *c, slim_grpc_call *call) {
    char msg[160];
    if (call->hdr_too_large) {
        snprintf(msg, sizeof msg, "request headers larger than %u bytes",
                 (unsigned)c->cfg->max_header_list_size);
        server_reject(c, call, SLIM_GRPC_RESOURCE_EXHAUSTED, msg);
        return;
    }
    if (!call->is_post) {
        server_reject_http(c, call, "405");
        return;
    }
    if (!call->ct_ok) {
        server_reject_http(c, call, "415");
        return;
    }
    if (!call->te_ok) {
        server_reject(c, call, SLIM_GRPC_INTERNAL, "request lacks te: trailers");
        return;
    }
    if (call->bad_timeout) {
        server_reject(c, call, SLIM_GRPC_INTERNAL, "malformed grpc-timeout");
        return;
    }
    if (c->owner.check != NULL) {
        const char *why = NULL;
        slim_status st = c->owner.check(c->owner.owner, call, &why);
        if (st != SLIM_OK) {
            int code = slim_grpc_status_to_code(st);
            server_reject(c, call, code == SLIM_GRPC_OK ? SLIM_GRPC_UNKNOWN : code,
                          why != NULL ? why : slim_status_str(st));
            return;
        }
    }
    const slim_grpc_method *m = c->owner.find_method(c->owner.owner, buf_str(&call->path));
    if (m == NULL) {
        snprintf(msg, sizeof msg, "unknown method %.120s",
                 call->path.len > 0 ? (const char *)call->path.data : "(none)");
        server_reject(c, call, SLIM_GRPC_UNIMPLEMENTED, msg);
        return;
    }
    call->method = m;
    call->cbs = m->cbs;
    call->data = m->ud;
    if (call->deadline != 0) {
        if (call->deadline <= uv_now(c->loop)) {
            server_reject(c, call, SLIM_GRPC_DEADLINE_EXCEEDED, "deadline exceeded on arrival");
            return;
        }
        conn_arm_deadline(c, call->deadline);
    }
    if (m->kind == SLIM_GRPC_BIDI_STREAMING || m->kind == SLIM_GRPC_CLIENT_STREAMING) {
        call->visible = true;
        m->on_call(call, slim_bytes_of(NULL, 0), call->data);
        accept_streaming(c, call);
    }
}

static void client_response_ready(slim_grpc_call *call, const nghttp2_frame *f) {
    if (f->headers.cat == NGHTTP2_HCAT_RESPONSE && (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        /* Trailers-only: the metadata gathered is trailing metadata. */
        slim_grpc_md tmp = call->trailers;
        call->trailers = call->md;
        call->md = tmp;
        return;
    }
    if (call->hdr_too_large) {
        call_fail(call, SLIM_E_GRPC_RESOURCE_EXHAUSTED, true, "response headers larger than %u",
                  (unsigned)call->conn->cfg->max_header_list_size);
        return;
    }
    if (f->headers.cat != NGHTTP2_HCAT_RESPONSE || call->local_set)
        return;
    if (call->http_status != 200) {
        call_fail(call, slim_grpc_code_to_status(slim_grpc_code_from_http(call->http_status)), true,
                  "HTTP status %d", call->http_status);
        return;
    }
    if (!call->ct_ok) {
        call_fail(call, SLIM_E_GRPC_UNKNOWN, true, "response content-type is not application/grpc");
        return;
    }
    if (call->cbs.on_headers != NULL)
        call->cbs.on_headers(call, call->data);
}

static void call_rx_eos(slim_h2conn *c, slim_grpc_call *call) {
    call->rx_eos = true;
    if (!call->is_server && !call->tx_eos_sent && !call->stream_closed)
        /* The server ended the call first: free the stream (early closure). */
        nghttp2_submit_rst_stream(c->ng, NGHTTP2_FLAG_NONE, call->stream_id, NGHTTP2_NO_ERROR);
    if (backlog_len(call) == 0)
        call_rx_eos_deliver(c, call);
}

static void goaway_received(slim_h2conn *c, const nghttp2_goaway *g) {
    c->stats.goaways_received++;
    c->stats.last_goaway_error = g->error_code;
    c->goaway_received = true;
    char dbg[104];
    slim_log_escape(g->opaque_data, g->opaque_data_len, dbg, sizeof dbg);
    snprintf(c->goaway_text, sizeof c->goaway_text, "peer sent GOAWAY %s%s%s",
             nghttp2_http2_strerror(g->error_code), g->opaque_data_len > 0 ? ": " : "", dbg);
    if (g->error_code == NGHTTP2_INADEQUATE_SECURITY && !c->secure) {
        /* Our TLS server answers an h2c client so (see tls.h). */
        SLIM_LOGW_LIMITED(MOD, "connection %s: %s (use https://)", c->peer, c->goaway_text);
        slim_h2conn_close(c, SLIM_E_TLS_PEER_REQUIRES_TLS, c->goaway_text);
        return;
    }
    if (g->error_code != NGHTTP2_NO_ERROR)
        SLIM_LOGW_LIMITED(MOD, "connection %s: %s", c->peer, c->goaway_text);
    else
        SLIM_LOGD(MOD, "connection %s: %s", c->peer, c->goaway_text);
    if (c->owner.on_goaway != NULL)
        c->owner.on_goaway(c->owner.owner, c);
}

/* SETTINGS, PING and GOAWAY from the peer. */
static void control_frame(slim_h2conn *c, const nghttp2_frame *f) {
    switch (f->hd.type) {
    case NGHTTP2_SETTINGS:
        if ((f->hd.flags & NGHTTP2_FLAG_ACK) || c->settings_seen)
            return;
        c->settings_seen = true;
        c->ready_pending = true; /* reported after the frames read with it */
        conn_timers_update(c);   /* the handshake timeout no longer applies */
        return;
    case NGHTTP2_PING:
        if ((f->hd.flags & NGHTTP2_FLAG_ACK) && c->ping_outstanding) {
            uint64_t seq;
            memcpy(&seq, f->ping.opaque_data, sizeof seq);
            if (seq != c->ping_seq)
                return;
            c->ping_outstanding = false;
            c->data_after_ack = false;
            c->stats.ping_acks++;
            conn_timers_update(c);
        }
        return;
    case NGHTTP2_GOAWAY:
        goaway_received(c, &f->goaway);
        return;
    default:
        return;
    }
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud) {
    slim_h2conn *c = ud;
    if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) {
        control_frame(c, f);
        return 0;
    }
    if (!c->ping_outstanding && !c->data_after_ack) {
        /* The server's ping clock restarted: the floor no longer applies. */
        c->data_after_ack = true;
        conn_timers_update(c);
    }
    slim_grpc_call *call = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (call == NULL || c->close_requested)
        return 0;
    if (f->hd.type == NGHTTP2_HEADERS) {
        if (call->is_server && f->headers.cat == NGHTTP2_HCAT_REQUEST)
            server_request_ready(c, call);
        else if (!call->is_server)
            client_response_ready(call, f);
    }
    if (f->hd.flags & NGHTTP2_FLAG_END_STREAM)
        call_rx_eos(c, call);
    return 0;
}

static int on_frame_send(nghttp2_session *s, const nghttp2_frame *f, void *ud) {
    slim_h2conn *c = ud;
    if (f->hd.type == NGHTTP2_GOAWAY)
        c->goaway_sent = true;
    if (f->hd.type == NGHTTP2_GOAWAY && f->goaway.error_code != NGHTTP2_NO_ERROR &&
        c->proto_err[0] == '\0') {
        /* nghttp2 found the peer at fault and ends the session. */
        snprintf(c->proto_err, sizeof c->proto_err, "sent GOAWAY %s: %.*s",
                 nghttp2_http2_strerror(f->goaway.error_code), (int)f->goaway.opaque_data_len,
                 (const char *)f->goaway.opaque_data);
        c->read_dead = true;
    }
    if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) ||
        !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    slim_grpc_call *call = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (call == NULL)
        return 0;
    call->tx_eos_sent = true;
    if (call->is_server) {
        call->status_sent = true;
        if (!call->rx_eos) /* early closure: the client may still be sending */
            nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, f->hd.stream_id, NGHTTP2_NO_ERROR);
    }
    return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t sid, uint32_t error_code, void *ud) {
    slim_h2conn *c = ud;
    slim_grpc_call *call = nghttp2_session_get_stream_user_data(s, sid);
    if (call == NULL)
        return 0;
    nghttp2_session_set_stream_user_data(s, sid, NULL);
    call->stream_closed = true;
    call->close_code = error_code;
    if (backlog_len(call) > 0 && !call->rx_discard) {
        /* Wait until the paused user has taken the bytes before the end. */
        conn_mark_work(c);
        return 0;
    }
    call_finalize(call);
    return 0;
}

/* ---- Sending ---- */

static ssize_t on_data_read(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t length,
                            uint32_t *flags, nghttp2_data_source *src, void *ud) {
    (void)s;
    (void)sid;
    (void)buf;
    slim_h2conn *c = ud;
    slim_grpc_call *call = src->ptr;
    size_t avail = txq_sendable(call) - call->tx_promised;
    size_t n = avail < length ? avail : length;
    if (n == 0 && !call->tx_eos) {
        call->deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    if (n > 0)
        *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    if (n == avail && call->tx_eos) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        if (call->is_server) {
            *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
            if (submit_status(c, call, false) != 0)
                return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        }
    }
    call->tx_promised += n;
    return (ssize_t)n;
}

static int on_send_data(nghttp2_session *s, nghttp2_frame *f, const uint8_t *framehd, size_t length,
                        nghttp2_data_source *src, void *ud) {
    (void)s;
    slim_h2conn *c = ud;
    slim_grpc_call *call = src->ptr;
    if (c->wbuf.len >= c->cfg->write_batch)
        return NGHTTP2_ERR_WOULDBLOCK;
    size_t pad = f->data.padlen;
    if (slim_buf_reserve(&c->wbuf, 9 + length + pad) != SLIM_OK)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    (void)slim_buf_append(&c->wbuf, framehd, 9);
    if (pad > 0)
        (void)slim_buf_append_u8(&c->wbuf, (uint8_t)(pad - 1));
    slim_txq_pack(&call->txq, c->wbuf.data + c->wbuf.len, length); /* room reserved */
    c->wbuf.len += length;
    if (pad > 1)
        (void)slim_buf_append_zeros(&c->wbuf, pad - 1, NULL);
    call->tx_promised -= length;
    if (!call->in_write) {
        call->in_write = true;
        call->wnext = c->wdirty;
        c->wdirty = call;
    }
    if (call->want_writable && txq_pending(call) < c->cfg->send_queue_limit / 2) {
        call->want_writable = false;
        call->notify_writable = true;
        c->work_pending = true;
    }
    return 0;
}

static ssize_t on_send(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *ud) {
    (void)s;
    (void)flags;
    slim_h2conn *c = ud;
    if (c->wbuf.len >= c->cfg->write_batch)
        return NGHTTP2_ERR_WOULDBLOCK;
    if (slim_buf_append(&c->wbuf, data, len) != SLIM_OK)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return (ssize_t)len;
}

static void conn_flush(slim_h2conn *c) {
    if (c->closing || c->close_requested || c->io == NULL || c->writing)
        return;
    int rv = nghttp2_session_send(c->ng);
    if (rv != 0) {
        slim_h2conn_close(c, SLIM_E_TRANSPORT_PROTOCOL, nghttp2_strerror(rv));
        return;
    }
    if (c->wbuf.len > 0) {
        c->stats.socket_writes++;
        c->stats.bytes_written += c->wbuf.len;
        c->writing = true;
        if (slim_io_write(c->io, slim_buf_view(&c->wbuf)) != SLIM_OK) {
            c->writing = false;
            slim_h2conn_close(c, SLIM_E_TRANSPORT_CONN_LOST, "socket write failed");
        }
        return;
    }
    if (nghttp2_session_want_write(c->ng))
        return;
    if (c->read_dead) {
        slim_h2conn_close(c, SLIM_E_TRANSPORT_PROTOCOL, c->proto_err);
        return;
    }
    /* After GOAWAY either way nghttp2 stops wanting to read once no stream
     * is left; calls may still wait for a paused user, or for the write
     * that carried their last bytes. */
    if (c->calls != NULL || (!c->draining && nghttp2_session_want_read(c->ng)))
        return;
    if (c->goaway_sent)
        slim_h2conn_close(c, SLIM_E_CLOSED, c->drain_msg);
    else if (c->goaway_received)
        slim_h2conn_close(c, SLIM_E_TRANSPORT_GOAWAY, c->goaway_text);
    else
        slim_h2conn_close(c, SLIM_E_TRANSPORT_CONN_LOST, "HTTP/2 session ended");
}

static void on_prepare(uv_prepare_t *h) {
    slim_h2conn *c = h->data;
    conn_enter(c);
    in_prepare++;
    if (c->work_pending) {
        c->work_pending = false;
        /* User callbacks may run: let the loop come back at once. */
        conn_kick(c);
        slim_grpc_call *call = c->calls;
        while (call != NULL && !c->close_requested) {
            slim_grpc_call *next = call->next;
            if (call->notify_writable || call->stream_closed || call->rx_eos ||
                backlog_len(call) > 0)
                call_process(c, call);
            call = next;
        }
    }
    conn_flush(c);
    if (!c->work_pending)
        uv_prepare_stop(h);
    else
        conn_kick(c);
    in_prepare--;
    conn_leave(c);
}

static void on_deadline(uv_timer_t *t) {
    slim_h2conn *c = t->data;
    conn_enter(c);
    c->timer_due = 0;
    uint64_t now = uv_now(c->loop), next = 0;
    for (slim_grpc_call *call = c->calls; call != NULL; call = call->next) {
        if (call->deadline == 0 || call->local_set || call->stream_closed)
            continue;
        if (call->deadline <= now)
            call_fail(call, SLIM_E_GRPC_DEADLINE_EXCEEDED, false, "deadline exceeded");
        else if (next == 0 || call->deadline < next)
            next = call->deadline;
    }
    if (next != 0)
        conn_arm_deadline(c, next);
    conn_schedule(c);
    conn_leave(c);
}

/* ---- Keepalive, limits and drain ---- */

static uint64_t sat_add(uint64_t a, uint64_t b) {
    return a + b < a ? UINT64_MAX : a + b;
}

/* The earlier of two due times, 0 meaning "none". */
static uint64_t due_min(uint64_t a, uint64_t b) {
    if (a == 0)
        return b;
    return b == 0 || a < b ? a : b;
}

/* When the next keepalive PING may go, 0 when none is wanted. */
static uint64_t ping_due(const slim_h2conn *c) {
    const slim_grpc_config *cfg = c->cfg;
    if (!c->settings_seen || c->ping_outstanding || c->draining ||
        cfg->keepalive_time_ms == SLIM_GRPC_OFF ||
        !(c->is_server || c->calls != NULL || cfg->keepalive_while_idle))
        return 0;
    uint64_t due = sat_add(c->last_read_ms, cfg->keepalive_time_ms);
    /* gRPC servers' ping policy (see grpc.h): no second ping within the
     * floor unless the server sent data after acknowledging the first. */
    if (!c->is_server && !c->data_after_ack && c->ping_sent_ms != 0 &&
        cfg->keepalive_min_interval_ms != SLIM_GRPC_OFF) {
        uint64_t floor = sat_add(c->ping_sent_ms, cfg->keepalive_min_interval_ms);
        due = floor > due ? floor : due;
    }
    return due;
}

static void on_ka_timer(uv_timer_t *t);

static void conn_timers_update(slim_h2conn *c) {
    if (c->closing || c->close_requested)
        return;
    const slim_grpc_config *cfg = c->cfg;
    uint64_t due = 0;
    if (c->attach_ms != 0 && !c->settings_seen && cfg->handshake_timeout_ms != SLIM_GRPC_OFF)
        due = sat_add(c->attach_ms, cfg->handshake_timeout_ms);
    if (c->ping_outstanding)
        due = due_min(due, sat_add(c->ping_sent_ms, cfg->keepalive_timeout_ms));
    else
        due = due_min(due, ping_due(c));
    if (c->is_server && c->attach_ms != 0 && !c->draining) {
        if (c->calls == NULL && cfg->max_connection_idle_ms != SLIM_GRPC_OFF)
            due = due_min(due, sat_add(c->idle_since_ms, cfg->max_connection_idle_ms));
        if (c->age_limit_ms != SLIM_GRPC_OFF)
            due = due_min(due, sat_add(c->attach_ms, c->age_limit_ms));
    }
    due = due_min(due, c->drain_deadline);
    if (due == c->ka_due)
        return;
    c->ka_due = due;
    if (due == 0) {
        uv_timer_stop(&c->ka_timer);
        return;
    }
    uint64_t now = uv_now(c->loop);
    uv_timer_start(&c->ka_timer, on_ka_timer, due > now ? due - now : 0, 0);
}

static void send_ping(slim_h2conn *c, uint64_t now) {
    uint64_t seq = ++c->ping_seq;
    uint8_t opaque[8];
    memcpy(opaque, &seq, sizeof opaque);
    if (nghttp2_submit_ping(c->ng, NGHTTP2_FLAG_NONE, opaque) != 0)
        return;
    c->ping_outstanding = true;
    c->ping_sent_ms = now;
    c->stats.pings_sent++;
    SLIM_LOGT(MOD, "connection %s: keepalive ping %llu", c->peer, (unsigned long long)seq);
}

/* The drain deadline passed: what is left is reset, and said so. */
static void drain_expired(slim_h2conn *c) {
    size_t n = 0;
    for (slim_grpc_call *call = c->calls; call != NULL; call = call->next) {
        if (call->stream_closed)
            continue;
        n++;
        char path[64];
        slim_log_escape(call->path.data, call->path.len, path, sizeof path);
        SLIM_LOGW_LIMITED(MOD,
                          "connection %s: %s: drain timeout, resetting call %s (%zu bytes unsent)",
                          c->peer, c->drain_msg, call->path.len > 0 ? path : "?",
                          (size_t)(call->txq.total - call->txq.packed));
    }
    char reason[sizeof c->close_reason];
    snprintf(reason, sizeof reason, "%s: drain timeout, %zu call(s) reset", c->drain_msg, n);
    slim_h2conn_close(c, SLIM_E_CLOSED, reason);
}

static void on_ka_timer(uv_timer_t *t) {
    slim_h2conn *c = t->data;
    const slim_grpc_config *cfg = c->cfg;
    conn_enter(c);
    c->ka_due = 0;
    uint64_t now = uv_now(c->loop);
    char reason[160];
    if (c->attach_ms != 0 && !c->settings_seen && cfg->handshake_timeout_ms != SLIM_GRPC_OFF &&
        now >= sat_add(c->attach_ms, cfg->handshake_timeout_ms)) {
        snprintf(reason, sizeof reason,
                 "no HTTP/2 SETTINGS from the peer within %llu ms of connecting (TLS or HTTP/2 "
                 "handshake stalled)",
                 (unsigned long long)cfg->handshake_timeout_ms);
        SLIM_LOGW_LIMITED(MOD, "connection %s: %s", c->peer, reason);
        slim_h2conn_close(c, SLIM_E_TRANSPORT_TIMEOUT, reason);
    } else if (c->ping_outstanding && now >= sat_add(c->ping_sent_ms, cfg->keepalive_timeout_ms)) {
        snprintf(reason, sizeof reason,
                 "keepalive ping not acknowledged within %llu ms: the peer is gone or stuck",
                 (unsigned long long)cfg->keepalive_timeout_ms);
        SLIM_LOGW_LIMITED(MOD, "connection %s: %s", c->peer, reason);
        slim_h2conn_close(c, SLIM_E_TRANSPORT_KEEPALIVE, reason);
    } else if (c->drain_deadline != 0 && now >= c->drain_deadline) {
        drain_expired(c);
    } else {
        uint64_t due = ping_due(c);
        if (due != 0 && now >= due)
            send_ping(c, now);
        if (c->is_server && !c->draining && c->attach_ms != 0) {
            if (c->calls == NULL && cfg->max_connection_idle_ms != SLIM_GRPC_OFF &&
                now >= sat_add(c->idle_since_ms, cfg->max_connection_idle_ms)) {
                SLIM_LOGD(MOD, "connection %s: idle for %llu ms, closing", c->peer,
                          (unsigned long long)cfg->max_connection_idle_ms);
                slim_h2conn_drain(c, false, "max connection idle reached", SLIM_GRPC_OFF);
            } else if (c->age_limit_ms != SLIM_GRPC_OFF &&
                       now >= sat_add(c->attach_ms, c->age_limit_ms)) {
                SLIM_LOGD(MOD, "connection %s: max connection age reached, draining", c->peer);
                slim_h2conn_drain(c, false, "max connection age reached",
                                  cfg->max_connection_age_grace_ms);
            }
        }
    }
    conn_timers_update(c);
    conn_schedule(c);
    conn_leave(c);
}

void slim_h2conn_drain(slim_h2conn *c, bool end_calls, const char *msg, uint64_t timeout_ms) {
    if (slim_h2conn_closing(c))
        return;
    conn_enter(c);
    if (!c->draining) {
        c->draining = true;
        snprintf(c->drain_msg, sizeof c->drain_msg, "%s", msg);
        if (!c->goaway_sent) {
            int32_t last = c->is_server ? nghttp2_session_get_last_proc_stream_id(c->ng) : 0;
            (void)nghttp2_submit_goaway(c->ng, NGHTTP2_FLAG_NONE, last, NGHTTP2_NO_ERROR,
                                        (const uint8_t *)msg, strlen(msg));
        }
    }
    if (end_calls && c->is_server) {
        for (slim_grpc_call *call = c->calls; call != NULL; call = call->next) {
            if (call->finished || call->stream_closed || call->local_set)
                continue;
            if (call->visible)
                (void)server_finish(c, call, SLIM_GRPC_UNAVAILABLE, slim_str_of(msg, strlen(msg)),
                                    NULL);
            else
                server_reject(c, call, SLIM_GRPC_UNAVAILABLE, msg);
        }
    }
    if (timeout_ms != SLIM_GRPC_OFF) {
        uint64_t d = sat_add(uv_now(c->loop), timeout_ms);
        if (c->drain_deadline == 0 || d < c->drain_deadline)
            c->drain_deadline = d;
    }
    conn_timers_update(c);
    conn_schedule(c);
    conn_leave(c);
}

/* ---- Pipe events ---- */

/* A plaintext client's first bytes: our TLS servers answer an h2c client
 * with a lone GOAWAY INADEQUATE_SECURITY (tls.c), which nghttp2 would only
 * call a missing SETTINGS frame. Closes with the server's words. */
static bool tls_port_goaway(slim_h2conn *c, slim_bytes d) {
    if (d.len < 17 || d.ptr[3] != NGHTTP2_GOAWAY || d.ptr[13] || d.ptr[14] || d.ptr[15] ||
        d.ptr[16] != NGHTTP2_INADEQUATE_SECURITY)
        return false;
    size_t len = (size_t)d.ptr[0] << 16 | (size_t)d.ptr[1] << 8 | d.ptr[2];
    size_t dbg = len >= 8 && d.len >= 9 + len ? len - 8 : 0;
    char text[104];
    slim_log_escape(d.ptr + 17, dbg, text, sizeof text);
    snprintf(c->goaway_text, sizeof c->goaway_text, "peer sent GOAWAY INADEQUATE_SECURITY: %s",
             text);
    SLIM_LOGW_LIMITED(MOD, "connection %s: %s", c->peer, c->goaway_text);
    slim_h2conn_close(c, SLIM_E_TLS_PEER_REQUIRES_TLS, c->goaway_text);
    return true;
}

static void io_on_read(slim_io *io, slim_bytes data, void *ud) {
    (void)io;
    slim_h2conn *c = ud;
    if (c->closing || c->close_requested || c->read_dead)
        return;
    conn_enter(c);
    c->stats.bytes_read += data.len;
    c->last_read_ms = uv_now(c->loop);
    if (!c->first_read_done) {
        c->first_read_done = true;
        if (!c->secure && !c->is_server && tls_port_goaway(c, data)) {
            conn_leave(c);
            return;
        }
        if (!c->secure && slim_tls_looks_like_record(data)) {
            /* A TLS client on our h2c port, or a TLS server our h2c client
             * dialled: say so instead of "bad preface". */
            if (c->is_server)
                SLIM_LOGW_LIMITED(MOD,
                                  "connection %s: a TLS client on a plaintext port (it should use "
                                  "http://)",
                                  c->peer);
            slim_h2conn_close(c, SLIM_E_TLS_PEER_REQUIRES_TLS,
                              c->is_server ? "TLS client on a plaintext port (use http://)"
                                           : "the server speaks TLS: use https://");
            conn_leave(c);
            return;
        }
    }
    ssize_t rv = nghttp2_session_mem_recv(c->ng, data.ptr, data.len);
    if (rv < 0) {
        snprintf(c->proto_err, sizeof c->proto_err, "%s",
                 rv == NGHTTP2_ERR_BAD_CLIENT_MAGIC ? "bad HTTP/2 connection preface"
                                                    : nghttp2_strerror((int)rv));
        c->read_dead = true;
        (void)nghttp2_session_terminate_session(c->ng, NGHTTP2_PROTOCOL_ERROR);
    }
    /* The connection works once the peer's SETTINGS came and nothing read
     * with them ended it (a TLS port answering an h2c client sends SETTINGS
     * and GOAWAY together). */
    if (c->ready_pending && !c->close_requested && !c->read_dead) {
        c->ready_pending = false;
        if (!c->goaway_received && c->owner.on_ready != NULL)
            c->owner.on_ready(c->owner.owner, c);
    }
    conn_schedule(c);
    conn_leave(c);
}

/* The write in flight completed: what it carried is released; calls that
 * ended meanwhile are finalized now. */
static void conn_written(slim_h2conn *c, bool ok) {
    slim_grpc_call *list = c->wdirty;
    c->wdirty = NULL;
    while (list != NULL) {
        slim_grpc_call *call = list;
        list = call->wnext;
        call->wnext = NULL;
        call->in_write = false;
        if (ok)
            slim_txq_written(&call->txq);
        if (call->finalize_pending && ok)
            call_finalize(call);
    }
}

static void io_on_write_done(slim_io *io, slim_status st, void *ud) {
    (void)io;
    slim_h2conn *c = ud;
    c->writing = false;
    c->wbuf.len = 0;
    if (c->closing)
        return;
    conn_enter(c);
    conn_written(c, st == SLIM_OK);
    if (st != SLIM_OK) {
        slim_h2conn_close(c, SLIM_E_TRANSPORT_CONN_LOST, "socket write failed");
    } else {
        /* What was queued while this write was in flight goes out now, as
         * one write, rather than after another turn of the loop. */
        conn_flush(c);
        conn_schedule(c);
    }
    conn_leave(c);
}

static void io_on_read_end(slim_io *io, slim_status st, void *ud) {
    slim_h2conn *c = ud;
    conn_enter(c);
    if (c->read_dead)
        slim_h2conn_close(c, SLIM_E_TRANSPORT_PROTOCOL, c->proto_err);
    else if (st != SLIM_E_TRANSPORT_CONN_LOST)
        slim_h2conn_close(c, st, io->why[0] ? io->why : slim_status_str(st)); /* TLS */
    else if (c->goaway_received)
        slim_h2conn_close(c, SLIM_E_TRANSPORT_CONN_LOST, c->goaway_text);
    else if (!c->is_server && !c->secure && !c->first_read_done)
        slim_h2conn_close(c, SLIM_E_TRANSPORT_CONN_LOST,
                          "connection closed by the peer before it sent anything (if that is a "
                          "TLS port, use https://)");
    else
        slim_h2conn_close(c, SLIM_E_TRANSPORT_CONN_LOST,
                          io->why[0] ? io->why : "connection closed by the peer");
    conn_leave(c);
}

static void conn_handle_closed(slim_h2conn *c) {
    if (--c->handles_open > 0)
        return;
    slim_h2conn_owner owner = c->owner;
    slim_status why = c->close_why;
    if (owner.on_closed != NULL)
        owner.on_closed(owner.owner, c, why, c->close_reason);
    slim_buf_cleanup(&c->wbuf);
    slim_free(c);
}

static void io_on_closed(slim_io *io, void *ud) {
    (void)io;
    conn_handle_closed(ud);
}

static void on_uv_closed(uv_handle_t *h) {
    conn_handle_closed(h->data);
}

static const slim_io_events conn_io_events = {io_on_read, io_on_write_done, io_on_read_end,
                                              io_on_closed};

/* ---- Connection life ---- */

slim_status slim_h2conn_new(uv_loop_t *loop, bool is_server, bool secure,
                            const slim_grpc_config *cfg, const slim_h2conn_owner *owner,
                            slim_h2conn **out) {
    slim_h2conn *c = slim_calloc(1, sizeof *c);
    if (c == NULL)
        return SLIM_E_NOMEM;
    c->loop = loop;
    c->is_server = is_server;
    c->secure = secure;
    c->cfg = cfg;
    c->data_after_ack = true;
    c->owner = *owner;
    snprintf(c->peer, sizeof c->peer, "%s", "(connecting)");

    nghttp2_session_callbacks *cbs;
    nghttp2_option *opt;
    if (nghttp2_session_callbacks_new(&cbs) != 0) {
        slim_free(c);
        return SLIM_E_NOMEM;
    }
    if (nghttp2_option_new(&opt) != 0) {
        nghttp2_session_callbacks_del(cbs);
        slim_free(c);
        return SLIM_E_NOMEM;
    }
    nghttp2_session_callbacks_set_send_callback(cbs, on_send);
    nghttp2_session_callbacks_set_send_data_callback(cbs, on_send_data);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    /* Windows are ours to reopen (see the design notes). nghttp2's flood
     * protections (outbound ack limit, settings limit, reset rate limit,
     * CONTINUATION limit) keep their defaults. */
    nghttp2_option_set_no_auto_window_update(opt, 1);
    int rv = is_server ? nghttp2_session_server_new2(&c->ng, cbs, c, opt)
                       : nghttp2_session_client_new2(&c->ng, cbs, c, opt);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_option_del(opt);
    if (rv != 0) {
        slim_free(c);
        return SLIM_E_NOMEM;
    }
    nghttp2_settings_entry iv[4];
    size_t niv = 0;
    iv[niv++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS,
                                         cfg->max_concurrent_streams};
    iv[niv++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, cfg->stream_window};
    iv[niv++] =
        (nghttp2_settings_entry){NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, cfg->max_header_list_size};
    if (!is_server)
        iv[niv++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_ENABLE_PUSH, 0};
    rv = nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, iv, niv);
    if (rv == 0 && cfg->connection_window > NGHTTP2_INITIAL_CONNECTION_WINDOW_SIZE)
        rv = nghttp2_session_set_local_window_size(c->ng, NGHTTP2_FLAG_NONE, 0,
                                                   (int32_t)cfg->connection_window);
    if (rv != 0) {
        nghttp2_session_del(c->ng);
        slim_free(c);
        return ng_status(rv) == SLIM_E_NOMEM ? SLIM_E_NOMEM : SLIM_E_INTERNAL;
    }
    uv_prepare_init(loop, &c->prep);
    uv_idle_init(loop, &c->kick);
    uv_timer_init(loop, &c->timer);
    uv_timer_init(loop, &c->ka_timer);
    c->prep.data = c;
    c->kick.data = c;
    c->timer.data = c;
    c->ka_timer.data = c;
    c->handles_open = 4;
    uint64_t now = uv_now(loop);
    c->last_read_ms = c->idle_since_ms = now;
    if (is_server && cfg->max_connection_age_ms != SLIM_GRPC_OFF) {
        /* +-10% so that connections made together do not all go at once
         * (gRPC A9). The jitter needs no quality: hrtime bits will do. */
        uint64_t age = cfg->max_connection_age_ms, span = age / 5;
        uint64_t r = span > 0 ? (uv_hrtime() ^ (uintptr_t)c) % (span + 1) : 0;
        c->age_limit_ms = age - age / 10 + r;
    } else {
        c->age_limit_ms = SLIM_GRPC_OFF;
    }
    *out = c;
    return SLIM_OK;
}

void slim_h2conn_attach(slim_h2conn *c, slim_io *io) {
    c->io = io;
    c->handles_open++;
    snprintf(c->peer, sizeof c->peer, "%s", io->peer);
    c->attach_ms = c->last_read_ms = uv_now(c->loop);
    conn_enter(c);
    conn_timers_update(c);
    if (slim_io_start(io, &conn_io_events, c) != SLIM_OK)
        slim_h2conn_close(c, SLIM_E_TRANSPORT_CONN_LOST, "socket unusable");
    else
        conn_schedule(c);
    conn_leave(c);
}

void slim_h2conn_close(slim_h2conn *c, slim_status why, const char *reason) {
    if (c->closing || c->close_requested)
        return;
    c->close_requested = true;
    c->close_why = why;
    snprintf(c->close_reason, sizeof c->close_reason, "%.220s", reason);
    if (c->depth == 0)
        conn_close_now(c);
}

static void conn_close_now(slim_h2conn *c) {
    c->closing = true;
    if (c->close_why == SLIM_E_TRANSPORT_PROTOCOL)
        SLIM_LOGW_LIMITED(MOD, "connection %s closed: %s", c->peer, c->close_reason);
    else
        SLIM_LOGD(MOD, "connection %s closed: %s", c->peer, c->close_reason);
    slim_status call_st = slim_grpc_code_to_status(slim_grpc_status_to_code(c->close_why));
    if (call_st == SLIM_OK || call_st == SLIM_E_GRPC_UNKNOWN)
        call_st = SLIM_E_GRPC_UNAVAILABLE;
    c->depth++; /* user callbacks below must not re-enter the close */
    /* Whatever the write in flight carried counts as not written. */
    for (slim_grpc_call *call = c->wdirty; call != NULL; call = call->wnext)
        call->in_write = false;
    c->wdirty = NULL;
    while (c->calls != NULL) {
        slim_grpc_call *call = c->calls;
        if (!call->stream_closed || call->backlog.len > call->backlog_off)
            call_set_local(call, call_st, "%s", c->close_reason);
        call_finalize(call);
    }
    c->depth--;
    nghttp2_session_del(c->ng);
    c->ng = NULL;
    uv_prepare_stop(&c->prep);
    uv_idle_stop(&c->kick);
    uv_timer_stop(&c->timer);
    uv_timer_stop(&c->ka_timer);
    uv_close((uv_handle_t *)&c->prep, on_uv_closed);
    uv_close((uv_handle_t *)&c->kick, on_uv_closed);
    uv_close((uv_handle_t *)&c->timer, on_uv_closed);
    uv_close((uv_handle_t *)&c->ka_timer, on_uv_closed);
    if (c->io != NULL)
        slim_io_close(c->io);
}

bool slim_h2conn_closing(const slim_h2conn *c) {
    return c->closing || c->close_requested;
}

const char *slim_h2conn_goaway_text(const slim_h2conn *c) {
    return c->goaway_text;
}

bool slim_h2conn_accepting(const slim_h2conn *c) {
    return !slim_h2conn_closing(c) && !c->goaway_sent && !c->goaway_received && !c->draining;
}

void slim_h2conn_stats(const slim_h2conn *c, slim_grpc_conn_stats *out) {
    *out = c->stats;
}

slim_h2conn_link *slim_h2conn_links(slim_h2conn *c) {
    return &c->link;
}

/* ---- Client calls ---- */

slim_status slim_h2conn_open(slim_h2conn *c, const char *authority, const slim_grpc_md *extra,
                             const slim_grpc_call_opts *opts, const slim_grpc_call_cbs *cbs,
                             void *data, slim_grpc_call **out) {
    if (opts == NULL || opts->method == NULL || opts->method[0] != '/')
        return SLIM_E_INVALID_ARG;
    if (!slim_h2conn_accepting(c))
        return SLIM_E_CLOSED;
    slim_grpc_call *call = call_new(c, false);
    if (call == NULL)
        return SLIM_E_NOMEM;
    if (set_cstr(&call->path, slim_str_of(opts->method, strlen(opts->method))) != SLIM_OK ||
        set_cstr(&call->authority, slim_str_of(authority, strlen(authority))) != SLIM_OK) {
        call_free(call);
        return SLIM_E_NOMEM;
    }
    if (cbs != NULL)
        call->cbs = *cbs;
    call->data = data;
    call->headers_sent = true;

    char timeout[16];
    nvlist l;
    if (nv_begin(&l, 10, opts->metadata, 0, extra) != SLIM_OK) {
        call_free(call);
        return SLIM_E_NOMEM;
    }
    NV_LIT(&l, ":method", "POST");
    if (c->secure)
        NV_LIT(&l, ":scheme", "https");
    else
        NV_LIT(&l, ":scheme", "http");
    nv_add(&l, ":path", 5, call->path.data, call->path.len);
    nv_add(&l, ":authority", 10, call->authority.data, call->authority.len);
    if (opts->timeout_ms > 0) {
        slim_grpc_timeout_format(opts->timeout_ms * 1000000u, timeout);
        nv_add_cstr(&l, "grpc-timeout", timeout);
    }
    NV_LIT(&l, "te", "trailers");
    NV_LIT(&l, "content-type", "application/grpc");
    NV_LIT(&l, "user-agent", USER_AGENT);
    NV_LIT(&l, "grpc-accept-encoding", "identity");
    if (extra != NULL)
        nv_add_md(&l, extra);
    nv_add_md(&l, opts->metadata);
    nghttp2_data_provider prd;
    prd.source.ptr = call;
    prd.read_callback = on_data_read;
    int32_t sid = nghttp2_submit_request(c->ng, NULL, l.nv, l.n, &prd, call);
    nv_end(&l);
    if (sid < 0) {
        call_free(call);
        return sid == NGHTTP2_ERR_NOMEM ? SLIM_E_NOMEM : SLIM_E_CLOSED;
    }
    call->stream_id = sid;
    call->visible = true;
    call_link(c, call);
    if (opts->timeout_ms > 0) {
        call->deadline = uv_now(c->loop) + opts->timeout_ms;
        conn_arm_deadline(c, call->deadline);
    }
    conn_schedule(c);
    *out = call;
    return SLIM_OK;
}

/* ---- Call API ---- */

static bool call_ended(const slim_grpc_call *call) {
    return call->local_set || call->stream_closed || slim_h2conn_closing(call->conn);
}

slim_h2conn *slim_h2conn_of(const slim_grpc_call *call) {
    return call->conn;
}

void *slim_grpc_call_data(const slim_grpc_call *call) {
    return call->data;
}

void slim_grpc_call_set_data(slim_grpc_call *call, void *data) {
    call->data = data;
}

const slim_grpc_md *slim_grpc_call_metadata(const slim_grpc_call *call) {
    return &call->md;
}

slim_str slim_grpc_call_method(const slim_grpc_call *call) {
    return buf_str(&call->path);
}

slim_str slim_grpc_call_authority(const slim_grpc_call *call) {
    return buf_str(&call->authority);
}

const char *slim_grpc_call_peer(const slim_grpc_call *call) {
    return call->conn->peer;
}

size_t slim_grpc_call_send_queued(const slim_grpc_call *call) {
    return txq_pending(call);
}

size_t slim_grpc_call_recv_backlog(const slim_grpc_call *call) {
    return backlog_len(call);
}

void slim_grpc_call_conn_stats(const slim_grpc_call *call, slim_grpc_conn_stats *out) {
    *out = call->conn->stats;
}

/* The checks every send makes before queueing a message of `len` bytes;
 * `limit` is the queue size at which it is refused (send_queue_limit, or
 * twice that for a forced send). */
static slim_status send_check(slim_grpc_call *call, size_t len, size_t limit) {
    slim_h2conn *c = call->conn;
    if (call_ended(call))
        return SLIM_E_CLOSED;
    if (call->tx_eos)
        return SLIM_E_STATE;
    if (len > c->cfg->max_message_size)
        return SLIM_E_TRANSPORT_MSG_TOO_LARGE;
    if (txq_pending(call) >= c->cfg->send_queue_limit)
        call->want_writable = true; /* on_writable once below half, forced or not */
    if (txq_pending(call) >= limit)
        return SLIM_E_QUEUE_FULL;
    if (call->is_server && !call->headers_sent)
        return ng_status(submit_response_headers(c, call, NULL));
    return SLIM_OK;
}

/* A message was queued: wake its DATA provider and the flush. */
static void send_queued(slim_grpc_call *call) {
    slim_h2conn *c = call->conn;
    c->stats.msgs_sent++;
    if (call->deferred) {
        call->deferred = false;
        nghttp2_session_resume_data(c->ng, call->stream_id);
    }
    conn_schedule(c);
}

slim_status slim_grpc_call_send(slim_grpc_call *call, slim_bytes msg) {
    slim_status st = send_check(call, msg.len, call->conn->cfg->send_queue_limit);
    if (st == SLIM_OK)
        st = slim_txq_push_copy(&call->txq, msg);
    if (st == SLIM_OK)
        send_queued(call);
    return st;
}

static slim_status send_rc(slim_grpc_call *call, slim_rcbuf *msg, size_t limit) {
    slim_status st = send_check(call, msg->len, limit);
    if (st == SLIM_OK)
        st = slim_txq_push_rc(&call->txq, msg);
    if (st == SLIM_OK)
        send_queued(call);
    return st;
}

slim_status slim_grpc_call_send_rc(slim_grpc_call *call, slim_rcbuf *msg) {
    return send_rc(call, msg, call->conn->cfg->send_queue_limit);
}

slim_status slim_grpc_call_send_rc_forced(slim_grpc_call *call, slim_rcbuf *msg) {
    return send_rc(call, msg, 2 * call->conn->cfg->send_queue_limit);
}

slim_status slim_grpc_call_close_send(slim_grpc_call *call) {
    if (call->is_server || call->tx_eos)
        return SLIM_E_STATE;
    if (call_ended(call))
        return SLIM_E_CLOSED;
    call->tx_eos = true;
    if (call->deferred) {
        call->deferred = false;
        nghttp2_session_resume_data(call->conn->ng, call->stream_id);
    }
    conn_schedule(call->conn);
    return SLIM_OK;
}

slim_status slim_grpc_call_send_headers(slim_grpc_call *call, const slim_grpc_md *md) {
    if (!call->is_server || call->headers_sent)
        return SLIM_E_STATE;
    if (call_ended(call))
        return SLIM_E_CLOSED;
    slim_status st = ng_status(submit_response_headers(call->conn, call, md));
    conn_schedule(call->conn);
    return st;
}

slim_status slim_grpc_call_finish(slim_grpc_call *call, slim_status st, const char *message,
                                  const slim_grpc_md *trailers) {
    if (!call->is_server || call->finished)
        return SLIM_E_STATE;
    if (call_ended(call))
        return SLIM_E_CLOSED;
    slim_str m = message != NULL ? slim_str_of(message, strlen(message)) : slim_str_of("", 0);
    return server_finish(call->conn, call, slim_grpc_status_to_code(st), m, trailers);
}

void slim_grpc_call_cancel(slim_grpc_call *call) {
    if (call_ended(call))
        return;
    call_fail(call, SLIM_E_GRPC_CANCELLED, true, "call cancelled");
}

void slim_grpc_call_pause(slim_grpc_call *call) {
    call->paused = true;
}

void slim_grpc_call_resume(slim_grpc_call *call) {
    if (!call->paused)
        return;
    call->paused = false;
    if (backlog_len(call) > 0 || call->stream_closed || call->rx_eos)
        conn_mark_work(call->conn);
}
