/*
 * The byte pipe under HTTP/2: a connected, reliable, ordered byte stream
 * with one write in flight at a time.
 *
 * The HTTP/2 connection (h2conn.c) reads and writes only through this
 * interface. TLS (tls.h) is another slim_io that wraps a plain one: it
 * decrypts what its lower pipe reads before calling on_read, and encrypts
 * what it is asked to write before writing below.
 *
 * The plain implementation here sits on a libuv stream (TCP or Unix
 * socket). Everything runs on the loop thread.
 */
#ifndef SLIM_TRANSPORT_IO_H
#define SLIM_TRANSPORT_IO_H

#include "slim/status.h"

#include <stdbool.h>
#include <uv.h>

typedef struct slim_io slim_io;

/* A libuv stream handle of either socket kind (listeners and pipes). */
typedef union slim_uv_stream {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
} slim_uv_stream;

/* uv_pipe_init or uv_tcp_init; the libuv result. */
static inline int slim_uv_stream_init(uv_loop_t *loop, slim_uv_stream *h, bool unix_socket) {
    return unix_socket ? uv_pipe_init(loop, &h->pipe, 0) : uv_tcp_init(loop, &h->tcp);
}

/* What a pipe tells its user; all on the loop thread. */
typedef struct slim_io_events {
    /* Bytes arrived. The view is valid only during the call. */
    void (*on_read)(slim_io *io, slim_bytes data, void *ud);
    /* The write started with slim_io_write() finished (st is SLIM_OK) or
     * failed (E_TRANSPORT_CONN_LOST); its buffer may be reused. */
    void (*on_write_done)(slim_io *io, slim_status st, void *ud);
    /* The peer closed its side (E_TRANSPORT_CONN_LOST with "end of stream")
     * or reading failed; a layer that knows more (TLS) gives a more precise
     * status and writes the cause into io->why. No more on_read follows. */
    void (*on_read_end)(slim_io *io, slim_status st, void *ud);
    /* The pipe finished closing after slim_io_close(); its memory is gone
     * when this returns. */
    void (*on_closed)(slim_io *io, void *ud);
} slim_io_events;

typedef struct slim_io_ops {
    slim_status (*start)(slim_io *io);
    slim_status (*write)(slim_io *io, slim_bytes data);
    void (*close)(slim_io *io);
} slim_io_ops;

struct slim_io {
    const slim_io_ops *ops;
    const slim_io_events *ev;
    void *ud;
    char peer[64]; /* "ip:port", "[v6]:port" or "unix"; for logs */
    char why[192]; /* cause of the last failure reported, "" when none */
};

/* Begins delivering events to ev/ud and starts reading. E_TRANSPORT_CONN_LOST
 * when the socket is already unusable. */
slim_status slim_io_start(slim_io *io, const slim_io_events *ev, void *ud);

/* Writes data. At most one write may be in flight; `data` must stay valid and
 * unchanged until on_write_done. E_STATE when a write is in flight,
 * E_TRANSPORT_CONN_LOST when the socket failed. */
static inline slim_status slim_io_write(slim_io *io, slim_bytes data) {
    return io->ops->write(io, data);
}

/* Closes the pipe: no event but on_closed follows (a write in flight still
 * gets on_write_done with an error first). Safe to call more than once. */
static inline void slim_io_close(slim_io *io) {
    io->ops->close(io);
}

/* ---- The plain libuv stream pipe ----
 *
 * Creating the first one sets SIGPIPE to ignored if it is still at its
 * default disposition, so that a write to a vanished peer fails with EPIPE
 * instead of ending the process (libuv does not suppress the signal). */

/* A pipe around a not yet connected TCP or Unix-socket handle. The caller
 * connects or accepts into slim_io_stream(io), then calls slim_io_start().
 * A pipe that is never started is released with slim_io_close() too (its
 * on_closed is then not called, as no events were set). E_NOMEM, or the
 * libuv error as E_IO. */
slim_status slim_io_tcp_new(uv_loop_t *loop, slim_io **out);
slim_status slim_io_unix_new(uv_loop_t *loop, slim_io **out);

/* The libuv stream of a plain pipe, for uv_accept / uv_tcp_connect /
 * uv_pipe_connect. Borrowed; valid until the pipe is closed. */
uv_stream_t *slim_io_stream(slim_io *io);

/* Fills io->peer from the connected socket (TCP: address and port). */
void slim_io_name_peer(slim_io *io);

/* Turns on TCP keepalive probes after `ms` of silence on a connected plain
 * TCP pipe (no-op for Unix sockets and for ms == 0). */
void slim_io_tcp_keepalive(slim_io *io, uint64_t ms);

#endif
