/*
 * TLS for the gRPC transport, on OpenSSL 3.0: a slim_io that wraps a plain
 * pipe (io.h). OpenSSL never touches the socket: it reads records from, and
 * writes records to, two in-memory BIOs of ours (the bytes the lower pipe
 * delivered, and the buffer the next lower write sends), so the loop, the
 * coalesced writes and the one-write-in-flight rule stay as they are.
 *
 * Rules enforced here, as gRPC over HTTP/2 asks:
 *   - TLS 1.3 only, or TLS 1.2 and 1.3 when the config says tls1.2;
 *   - ALPN "h2" on both sides; a peer that negotiates anything else (or
 *     nothing) is refused with E_TLS_ALPN;
 *   - the client verifies the server's chain and name (the server_name
 *     override, else the host it dialled; IP literals are matched against
 *     IP SANs) unless insecure_skip_verify is set; SNI is sent for DNS names;
 *   - with a client CA the server requires and verifies client
 *     certificates (mutual TLS).
 *
 * Failures carry a named status (E_TLS_* in slim/status.h), are logged once
 * at WARN with the cause, and are reported through on_read_end with the
 * cause in io->why. The alert OpenSSL produced is written before that, so
 * the peer learns why too. A first byte that cannot start a TLS record is
 * reported as E_TLS_PLAINTEXT_PEER; a TLS server that receives an h2c
 * preface answers it with a plaintext HTTP/2 GOAWAY (INADEQUATE_SECURITY,
 * "TLS required on this port") so that the plaintext client can say why.
 *
 * Everything runs on the loop thread, except slim_tls_ctx_new (any thread).
 */
#ifndef SLIM_TRANSPORT_TLS_H
#define SLIM_TRANSPORT_TLS_H

#include "config/endpoint.h"
#include "transport/io.h"

typedef struct slim_tls_ctx slim_tls_ctx;

/* Builds the TLS settings of one side from `cfg` (certificates and keys are
 * read now; later file changes are not seen). A server needs a certificate
 * and key; a client needs something to verify the server with (a CA, the
 * system roots, or insecure_skip_verify) and may present a certificate for
 * mutual TLS. On error *out is untouched and `err` (cap bytes) holds the
 * cause. E_TLS_CONFIG, E_NOMEM. The context holds one reference. */
slim_status slim_tls_ctx_new(const slim_tls_config *cfg, bool server, slim_tls_ctx **out, char *err,
                             size_t cap);

/* References are counted (loop thread only): every TLS pipe holds one. */
slim_tls_ctx *slim_tls_ctx_ref(slim_tls_ctx *ctx);
void slim_tls_ctx_unref(slim_tls_ctx *ctx); /* NULL is a no-op */

/* True for a server context that requires client certificates. */
bool slim_tls_ctx_mutual(const slim_tls_ctx *ctx);

/* Wraps `lower`, a connected plain pipe not yet started, in TLS. Ownership
 * of `lower` passes to the new pipe, also on error (it is closed then).
 * `name` (client only; may be NULL on a server) is the name the server's
 * certificate must carry. The handshake starts with slim_io_start(); writes
 * made before it ends are held and sent after it. E_NOMEM, E_TLS_CONFIG. */
slim_status slim_io_tls_new(slim_tls_ctx *ctx, slim_io *lower, const char *name, slim_io **out);

/* True when `first`, the first bytes a plaintext HTTP/2 client received,
 * look like a TLS record (a handshake or alert record header): the server
 * speaks TLS and the client should have used https://. */
bool slim_tls_looks_like_record(slim_bytes first);

#endif
