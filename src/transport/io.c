/*
 * Plain byte pipe over a libuv stream. One read buffer per pipe (libuv
 * allocates through alloc_cb right before each read, and the bytes are
 * processed before the next read), one write request (one write in flight).
 */
#include "transport/io.h"
#include "core/alloc.h"
#include "core/buf.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define READ_BUF_SIZE (64u * 1024u)

typedef struct stream_io {
    slim_io base;
    slim_uv_stream h;
    uv_write_t wreq;
    bool writing;
    bool closing;
    bool started;
    uint8_t rbuf[READ_BUF_SIZE];
} stream_io;

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)suggested;
    stream_io *s = h->data;
    buf->base = (char *)s->rbuf;
    buf->len = sizeof s->rbuf;
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
    (void)buf;
    stream_io *s = st->data;
    if (s->closing)
        return;
    if (n > 0) {
        s->base.ev->on_read(&s->base, slim_bytes_of(s->rbuf, (size_t)n), s->base.ud);
        return;
    }
    if (n == 0)
        return; /* EAGAIN */
    uv_read_stop(st);
    snprintf(s->base.why, sizeof s->base.why, "%s",
             n == UV_EOF ? "connection closed by the peer" : uv_strerror((int)n));
    s->base.ev->on_read_end(&s->base, SLIM_E_TRANSPORT_CONN_LOST, s->base.ud);
}

static void on_write(uv_write_t *req, int status) {
    stream_io *s = req->data;
    s->writing = false;
    if (s->base.ev != NULL)
        s->base.ev->on_write_done(&s->base, status == 0 ? SLIM_OK : SLIM_E_TRANSPORT_CONN_LOST,
                                  s->base.ud);
}

static void on_close(uv_handle_t *h) {
    stream_io *s = h->data;
    const slim_io_events *ev = s->base.ev;
    void *ud = s->base.ud;
    slim_io *io = &s->base;
    if (ev != NULL && s->started)
        ev->on_closed(io, ud);
    slim_free(s);
}

static slim_status stream_start(slim_io *io) {
    stream_io *s = (stream_io *)io;
    if (s->h.handle.type == UV_TCP)
        (void)uv_tcp_nodelay(&s->h.tcp, 1); /* we coalesce writes ourselves */
    s->started = true;
    if (uv_read_start(&s->h.stream, on_alloc, on_read) != 0)
        return SLIM_E_TRANSPORT_CONN_LOST;
    return SLIM_OK;
}

static slim_status stream_write(slim_io *io, slim_bytes data) {
    stream_io *s = (stream_io *)io;
    if (s->writing)
        return SLIM_E_STATE;
    if (s->closing)
        return SLIM_E_TRANSPORT_CONN_LOST;
    uv_buf_t b = uv_buf_init((char *)data.ptr, (unsigned)data.len);
    s->wreq.data = s;
    if (uv_write(&s->wreq, &s->h.stream, &b, 1, on_write) != 0)
        return SLIM_E_TRANSPORT_CONN_LOST;
    s->writing = true;
    return SLIM_OK;
}

static void stream_close(slim_io *io) {
    stream_io *s = (stream_io *)io;
    if (s->closing)
        return;
    s->closing = true;
    uv_close(&s->h.handle, on_close);
}

static const slim_io_ops stream_ops = {stream_start, stream_write, stream_close};

/* libuv writes with writev(), so a write to a peer that has gone raises
 * SIGPIPE, whose default action ends the process. The first pipe created
 * sets SIGPIPE to ignored when it is still at its default (a process that
 * installed its own disposition keeps it); writes then fail with EPIPE and
 * only that connection closes. */
static void ignore_sigpipe_once(void) {
    static atomic_flag done = ATOMIC_FLAG_INIT;
    if (atomic_flag_test_and_set(&done))
        return;
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_IGN;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGPIPE, &sa, NULL);
    }
}

static slim_status stream_new(uv_loop_t *loop, bool unix_socket, slim_io **out) {
    ignore_sigpipe_once();
    stream_io *s = slim_calloc(1, sizeof *s);
    if (s == NULL)
        return SLIM_E_NOMEM;
    if (slim_uv_stream_init(loop, &s->h, unix_socket) != 0) {
        slim_free(s);
        return SLIM_E_IO;
    }
    s->h.handle.data = s;
    s->base.ops = &stream_ops;
    snprintf(s->base.peer, sizeof s->base.peer, "%s", unix_socket ? "unix" : "tcp");
    *out = &s->base;
    return SLIM_OK;
}

slim_status slim_io_tcp_new(uv_loop_t *loop, slim_io **out) {
    return stream_new(loop, false, out);
}

slim_status slim_io_unix_new(uv_loop_t *loop, slim_io **out) {
    return stream_new(loop, true, out);
}

uv_stream_t *slim_io_stream(slim_io *io) {
    return &((stream_io *)io)->h.stream;
}

slim_status slim_io_start(slim_io *io, const slim_io_events *ev, void *ud) {
    io->ev = ev;
    io->ud = ud;
    return io->ops->start(io);
}

void slim_io_tcp_keepalive(slim_io *io, uint64_t ms) {
    stream_io *s = (stream_io *)io;
    if (ms == 0 || s->h.handle.type != UV_TCP)
        return;
    uint64_t secs = (ms + 999) / 1000;
    (void)uv_tcp_keepalive(&s->h.tcp, 1, secs > 0x7fffffff ? 0x7fffffffu : (unsigned)secs);
}

void slim_io_name_peer(slim_io *io) {
    stream_io *s = (stream_io *)io;
    if (s->h.handle.type != UV_TCP)
        return;
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getpeername(&s->h.tcp, (struct sockaddr *)&ss, &len) != 0)
        return;
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        uv_ip6_name(a, ip, sizeof ip);
        port = ntohs(a->sin6_port);
        snprintf(io->peer, sizeof io->peer, "[%s]:%u", ip, port);
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        uv_ip4_name(a, ip, sizeof ip);
        port = ntohs(a->sin_port);
        snprintf(io->peer, sizeof io->peer, "%s:%u", ip, port);
    }
}
