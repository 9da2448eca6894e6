/*
 * TLS pipe over a plain pipe (see tls.h for the rules).
 *
 * Design notes:
 * - BIOs. One BIO of our own method serves as OpenSSL's read and write BIO.
 *   Reading hands OpenSSL the bytes of the lower pipe's current on_read
 *   (no copy), then what an earlier read left over; writing appends the
 *   records to the output buffer being gathered. So received ciphertext is
 *   never copied before decryption and produced ciphertext is written from
 *   where OpenSSL put it.
 * - Output. Two buffers: one gathers records, the other is the lower
 *   write in flight (one at a time, as io.h requires). When the lower write
 *   completes the gathered buffer goes next. The upper pipe's write is
 *   encrypted at once (or when the handshake ends) and reported done when
 *   the lower write carrying its records completes.
 * - Input. Decrypted bytes are gathered into a 64 KiB buffer, several
 *   records at a time, and handed up in one on_read.
 * - Re-entrancy. The upper pipe may close this one from inside on_read or
 *   on_write_done; `closing` is checked after every upcall.
 */
#include "transport/tls.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MOD          "transport"
#define PLAIN_BUF    (64u * 1024u)
#define TLS_RECORD   (16u * 1024u)
#define OUT_KEEP_CAP (1024u * 1024u)

struct slim_tls_ctx {
    SSL_CTX *ssl;
    int refs;
    bool server;
    bool skip_verify;
    bool mutual;
};

typedef struct tls_io {
    slim_io base;
    slim_io *lower;
    slim_tls_ctx *ctx;
    SSL *ssl;
    BIO *bio;
    bool is_server;
    bool started, closing, failed, lower_dead;
    bool handshake_done, seen_input;
    bool cert_requested; /* client: the server asked for our certificate */
    bool has_cert;       /* client: we have one to give */
    bool got_data;       /* application data arrived */
    char name[256];      /* client: expected server name */

    /* Input for OpenSSL: the current lower read, then leftovers. */
    const uint8_t *in;
    size_t in_len;
    slim_buf rest;
    size_t rest_off;

    /* Output: out[acc] gathers records; out[acc ^ 1] may be in flight. */
    slim_buf out[2];
    int acc;
    int wr_idx;
    bool lower_writing;

    /* The upper pipe's write. */
    bool up_busy;      /* a write was accepted and is not done */
    bool up_encrypted; /* its records are in out[up_buf] */
    bool up_carried;   /* ... and that buffer is the lower write in flight */
    int up_buf;
    slim_bytes up_data;

    uint8_t plain[PLAIN_BUF];
} tls_io;

/* ---- Our BIO ---- */

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static int bio_write(BIO *b, const char *data, size_t len, size_t *written) {
    tls_io *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (slim_buf_append(&t->out[t->acc], data, len) != SLIM_OK)
        return 0;
    *written = len;
    return 1;
}

static int bio_read(BIO *b, char *out, size_t len, size_t *got) {
    tls_io *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    size_t n = 0;
    if (t->rest_off < t->rest.len) {
        n = t->rest.len - t->rest_off;
        n = n < len ? n : len;
        memcpy(out, t->rest.data + t->rest_off, n);
        t->rest_off += n;
        if (t->rest_off == t->rest.len)
            t->rest.len = t->rest_off = 0;
    } else if (t->in_len > 0) {
        n = t->in_len < len ? t->in_len : len;
        memcpy(out, t->in, n);
        t->in += n;
        t->in_len -= n;
    }
    if (n == 0) {
        BIO_set_retry_read(b);
        *got = 0;
        return 0;
    }
    *got = n;
    return 1;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
    (void)b;
    (void)num;
    (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b) {
    BIO_set_init(b, 1);
    return 1;
}

static void bio_method_init(void) {
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "slim-tls");
    if (m == NULL)
        return;
    BIO_meth_set_write_ex(m, bio_write);
    BIO_meth_set_read_ex(m, bio_read);
    BIO_meth_set_ctrl(m, bio_ctrl);
    BIO_meth_set_create(m, bio_create);
    bio_method = m;
}

/* ---- Contexts ---- */

/* The first queued OpenSSL error as text, then clears the queue. */
static void ssl_err_text(char *out, size_t cap) {
    unsigned long e = ERR_get_error();
    const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;
    if (e != 0 && ERR_GET_LIB(e) == ERR_LIB_SYS)
        snprintf(out, cap, "%s", strerror(ERR_GET_REASON(e)));
    else if (e != 0 && ERR_GET_LIB(e) == ERR_LIB_X509 &&
             ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH)
        snprintf(out, cap, "the certificate and the key do not match");
    else if (r != NULL)
        snprintf(out, cap, "%s", r);
    else if (e != 0)
        ERR_error_string_n(e, out, cap);
    else
        snprintf(out, cap, "unknown error");
    ERR_clear_error();
}

static slim_status cfg_fail(char *err, size_t cap, const char *what, const char *arg) {
    char why[160];
    ssl_err_text(why, sizeof why);
    snprintf(err, cap, "%s%s%s: %s", what, arg ? " " : "", arg ? arg : "", why);
    return SLIM_E_TLS_CONFIG;
}

/* Certificates from PEM text: the first is returned (caller frees), the
 * rest go to `more` (called for each; it takes ownership). Returns the
 * number read. */
static int pem_certs(const char *pem, X509 **first, void (*more)(void *, X509 *), void *ud) {
    BIO *b = BIO_new_mem_buf(pem, -1);
    if (b == NULL)
        return 0;
    int n = 0;
    X509 *x;
    while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        if (n++ == 0 && first != NULL)
            *first = x;
        else if (more != NULL)
            more(ud, x);
        else
            X509_free(x);
    }
    ERR_clear_error(); /* the end of the text reads as "no start line" */
    BIO_free(b);
    return n;
}

static void add_chain_cert(void *ud, X509 *x) {
    if (SSL_CTX_add0_chain_cert(ud, x) != 1)
        X509_free(x);
}

static void add_trusted(void *ud, X509 *x) {
    SSL_CTX *ctx = ud;
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), x);
    X509_free(x);
}

static void add_trusted_and_name(void *ud, X509 *x) {
    SSL_CTX *ctx = ud;
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), x);
    SSL_CTX_add_client_CA(ctx, x);
    X509_free(x);
}

static slim_status load_own_cert(SSL_CTX *ctx, const slim_tls_config *cfg, char *err, size_t cap) {
    if (cfg->cert_file != NULL) {
        if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_file) != 1)
            return cfg_fail(err, cap, "cannot load certificate", cfg->cert_file);
    } else {
        X509 *leaf = NULL;
        if (pem_certs(cfg->cert_pem, &leaf, add_chain_cert, ctx) == 0) {
            snprintf(err, cap, "cert_pem holds no PEM certificate");
            return SLIM_E_TLS_CONFIG;
        }
        int ok = SSL_CTX_use_certificate(ctx, leaf);
        X509_free(leaf);
        if (ok != 1)
            return cfg_fail(err, cap, "cannot use cert_pem", NULL);
    }
    if (cfg->key_file != NULL) {
        if (SSL_CTX_use_PrivateKey_file(ctx, cfg->key_file, SSL_FILETYPE_PEM) != 1)
            return cfg_fail(err, cap, "cannot load key", cfg->key_file);
    } else {
        BIO *b = BIO_new_mem_buf(cfg->key_pem, -1);
        EVP_PKEY *k = b != NULL ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
        int ok = k != NULL && SSL_CTX_use_PrivateKey(ctx, k) == 1;
        EVP_PKEY_free(k);
        if (!ok)
            return cfg_fail(err, cap, "cannot use key_pem", NULL);
    }
    if (SSL_CTX_check_private_key(ctx) != 1)
        return cfg_fail(err, cap, "certificate and key do not match", NULL);
    return SLIM_OK;
}

/* Trusted CAs from a file or PEM text; `names` also announces them as
 * acceptable client-certificate issuers (server side). */
static slim_status load_ca(SSL_CTX *ctx, const char *file, const char *pem, bool names, char *err,
                           size_t cap) {
    if (file != NULL) {
        if (SSL_CTX_load_verify_locations(ctx, file, NULL) != 1)
            return cfg_fail(err, cap, "cannot load CA file", file);
        if (names) {
            STACK_OF(X509_NAME) *list = SSL_load_client_CA_file(file);
            if (list == NULL)
                return cfg_fail(err, cap, "cannot read CA names from", file);
            SSL_CTX_set_client_CA_list(ctx, list);
        }
        return SLIM_OK;
    }
    if (pem_certs(pem, NULL, names ? add_trusted_and_name : add_trusted, ctx) == 0) {
        snprintf(err, cap, "CA PEM text holds no certificate");
        return SLIM_E_TLS_CONFIG;
    }
    return SLIM_OK;
}

/* Client: the server asked for a certificate (mutual TLS). Remembered so
 * that a server that then hangs up without an alert can be explained. */
static int cert_requested_cb(SSL *ssl, void *arg) {
    (void)arg;
    tls_io *t = SSL_get_app_data(ssl);
    if (t != NULL)
        t->cert_requested = true;
    return 1;
}

/* Server: picks "h2" from the client's ALPN list, or refuses with a fatal
 * no_application_protocol alert. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg) {
    (void)ssl;
    (void)arg;
    for (unsigned i = 0; i < inlen;) {
        unsigned n = in[i];
        if (i + 1 + n > inlen)
            break;
        if (n == 2 && memcmp(in + i + 1, "h2", 2) == 0) {
            *out = in + i + 1;
            *outlen = 2;
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + n;
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

slim_status slim_tls_ctx_new(const slim_tls_config *cfg, bool server, slim_tls_ctx **out, char *err,
                             size_t cap) {
    err[0] = '\0';
    bool has_cert = cfg->cert_file != NULL || cfg->cert_pem != NULL;
    bool has_key = cfg->key_file != NULL || cfg->key_pem != NULL;
    if (has_cert != has_key) {
        snprintf(err, cap, "a certificate needs its key and a key its certificate");
        return SLIM_E_TLS_CONFIG;
    }
    if (server && !has_cert) {
        snprintf(err, cap, "a TLS server needs a certificate and a key");
        return SLIM_E_TLS_CONFIG;
    }
    bool have_ca = cfg->ca_file != NULL || cfg->ca_pem != NULL || cfg->include_system_ca;
    if (!server && !cfg->insecure_skip_verify && !have_ca) {
        snprintf(err, cap,
                 "nothing to verify the server with: give a CA (ca_file, ca_pem), keep "
                 "include_system_ca_certs_pool, or set insecure_skip_verify");
        return SLIM_E_TLS_CONFIG;
    }
    pthread_once(&bio_once, bio_method_init);
    if (bio_method == NULL)
        return SLIM_E_NOMEM;
    slim_tls_ctx *c = slim_calloc(1, sizeof *c);
    if (c == NULL)
        return SLIM_E_NOMEM;
    ERR_clear_error();
    c->ssl = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (c->ssl == NULL) {
        slim_free(c);
        return cfg_fail(err, cap, "cannot create an OpenSSL context", NULL);
    }
    c->refs = 1;
    c->server = server;
    SSL_CTX *ctx = c->ssl;
    slim_status st = SLIM_OK;
    int min = cfg->version == SLIM_TLS_1_2 ? TLS1_2_VERSION : TLS1_3_VERSION;
    if (SSL_CTX_set_min_proto_version(ctx, min) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1)
        st = cfg_fail(err, cap, "cannot set the TLS versions", NULL);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (st == SLIM_OK && has_cert)
        st = load_own_cert(ctx, cfg, err, cap);
    if (server) {
        SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
        if (st == SLIM_OK && (cfg->client_ca_file != NULL || cfg->client_ca_pem != NULL)) {
            st = load_ca(ctx, cfg->client_ca_file, cfg->client_ca_pem, true, err, cap);
            c->mutual = true;
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        }
        /* No session resumption: each connection is long-lived. */
        SSL_CTX_set_num_tickets(ctx, 0);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    } else {
        static const unsigned char alpn[] = {2, 'h', '2'};
        if (st == SLIM_OK && SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn) != 0)
            st = cfg_fail(err, cap, "cannot set ALPN", NULL);
        c->skip_verify = cfg->insecure_skip_verify;
        SSL_CTX_set_cert_cb(ctx, cert_requested_cb, NULL);
        if (st == SLIM_OK && (cfg->ca_file != NULL || cfg->ca_pem != NULL))
            st = load_ca(ctx, cfg->ca_file, cfg->ca_pem, false, err, cap);
        if (st == SLIM_OK && cfg->include_system_ca && SSL_CTX_set_default_verify_paths(ctx) != 1)
            st = cfg_fail(err, cap, "cannot load the system CA certificates", NULL);
        SSL_CTX_set_verify(ctx, c->skip_verify ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
    }
    if (st != SLIM_OK) {
        SSL_CTX_free(ctx);
        slim_free(c);
        return st;
    }
    *out = c;
    return SLIM_OK;
}

slim_tls_ctx *slim_tls_ctx_ref(slim_tls_ctx *ctx) {
    ctx->refs++;
    return ctx;
}

void slim_tls_ctx_unref(slim_tls_ctx *ctx) {
    if (ctx == NULL || --ctx->refs > 0)
        return;
    SSL_CTX_free(ctx->ssl);
    slim_free(ctx);
}

bool slim_tls_ctx_mutual(const slim_tls_ctx *ctx) {
    return ctx->mutual;
}

bool slim_tls_looks_like_record(slim_bytes first) {
    /* ContentType handshake (22) or alert (21), then version 3.x. */
    return first.len >= 2 && (first.ptr[0] == 0x16 || first.ptr[0] == 0x15) && first.ptr[1] == 0x03;
}

/* ---- Failures ---- */

static bool is_one_of(int v, const int *set, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (set[i] == v)
            return true;
    return false;
}

/* The named status and cause of the OpenSSL error that just happened. */
static slim_status classify(tls_io *t, char *why, size_t cap) {
    unsigned long e = 0, first = 0;
    while ((e = ERR_get_error()) != 0) {
        if (first == 0 || ERR_GET_LIB(first) != ERR_LIB_SSL)
            first = e;
    }
    int reason = first != 0 && ERR_GET_LIB(first) == ERR_LIB_SSL ? ERR_GET_REASON(first) : 0;
    const char *text = first != 0 ? ERR_reason_error_string(first) : NULL;
    static const int rejected[] = {
        SSL_R_TLSV1_ALERT_UNKNOWN_CA,          SSL_R_SSLV3_ALERT_BAD_CERTIFICATE,
        SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED, SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN,
        SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED, SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE,
        SSL_R_TLSV1_ALERT_ACCESS_DENIED,       SSL_R_TLSV1_ALERT_DECRYPT_ERROR};
    static const int version[] = {SSL_R_UNSUPPORTED_PROTOCOL, SSL_R_TLSV1_ALERT_PROTOCOL_VERSION,
                                  SSL_R_NO_PROTOCOLS_AVAILABLE, SSL_R_VERSION_TOO_LOW,
                                  SSL_R_VERSION_TOO_HIGH};
    if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED) {
        long v = SSL_get_verify_result(t->ssl);
        const char *who = t->is_server ? "client" : "server";
        snprintf(why, cap, "%s certificate verify failed: %s", who,
                 X509_verify_cert_error_string(v));
        if (v == X509_V_ERR_CERT_HAS_EXPIRED || v == X509_V_ERR_CERT_NOT_YET_VALID)
            return SLIM_E_TLS_CERT_EXPIRED;
        if (v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH) {
            snprintf(why, cap, "server certificate verify failed: %s (expected %.100s)",
                     X509_verify_cert_error_string(v), t->name);
            return SLIM_E_TLS_CERT_NAME_MISMATCH;
        }
        return SLIM_E_TLS_CERT_UNTRUSTED;
    }
    if (reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
        snprintf(why, cap,
                 "the client sent no certificate and this server requires one "
                 "(mutual TLS)");
        return SLIM_E_TLS_NO_CLIENT_CERT;
    }
    if (reason == SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED) {
        snprintf(why, cap,
                 "the server requires a client certificate (mutual TLS) and none "
                 "is configured");
        return SLIM_E_TLS_NO_CLIENT_CERT;
    }
    if (is_one_of(reason, rejected, sizeof rejected / sizeof rejected[0])) {
        snprintf(why, cap, "the peer rejected our certificate (alert: %s)", text ? text : "?");
        return SLIM_E_TLS_CERT_REJECTED;
    }
    if (reason == SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL ||
        reason == SSL_R_NO_APPLICATION_PROTOCOL) {
        snprintf(why, cap, "no common application protocol: gRPC needs ALPN h2");
        return SLIM_E_TLS_ALPN;
    }
    if (is_one_of(reason, version, sizeof version / sizeof version[0])) {
        snprintf(why, cap, "no TLS version in common with the peer (%s)", text ? text : "?");
        return SLIM_E_TLS_VERSION;
    }
    if (reason == SSL_R_HTTP_REQUEST || reason == SSL_R_HTTPS_PROXY_REQUEST) {
        snprintf(why, cap, "the peer sent plaintext HTTP on a TLS connection");
        return SLIM_E_TLS_PLAINTEXT_PEER;
    }
    snprintf(why, cap, "%s", text != NULL ? text : "unknown TLS error");
    return SLIM_E_TLS_HANDSHAKE;
}

static slim_status flush_out(tls_io *t);

/* Reports a failure upward once, after sending any alert OpenSSL made. */
static void tls_fail(tls_io *t, slim_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void tls_fail(tls_io *t, slim_status st, const char *fmt, ...) {
    if (t->failed || t->closing)
        return;
    t->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->base.why, sizeof t->base.why, fmt, ap);
    va_end(ap);
    ERR_clear_error();
    SLIM_LOGW_LIMITED(MOD, "TLS %s %s failed: %s (%s)",
                      t->handshake_done ? "session with" : "handshake with", t->base.peer,
                      t->base.why, slim_status_name(st));
    (void)flush_out(t);
    t->base.ev->on_read_end(&t->base, st, t->base.ud);
}

/* The named status and cause of the OpenSSL failure that just happened,
 * read at once (a later OpenSSL call on this thread would clear it). */
static slim_status failure_now(tls_io *t, const char *op, int ssl_error, char *why, size_t cap) {
    int err = errno;
    slim_status st = classify(t, why, cap);
    if (strcmp(why, "unknown TLS error") == 0) /* nothing queued: say what we know */
        snprintf(why, cap, "%s failed (SSL error %d, errno %d)", op, ssl_error, err);
    return st;
}

static void fail_from_openssl(tls_io *t, const char *op, int ssl_error) {
    char why[sizeof t->base.why];
    slim_status st = failure_now(t, op, ssl_error, why, sizeof why);
    tls_fail(t, st, "%s", why);
}

/* ---- Output ---- */

/* Starts the next lower write when none is in flight. */
static slim_status flush_out(tls_io *t) {
    if (t->lower_writing || t->lower_dead || t->closing)
        return SLIM_OK;
    slim_buf *b = &t->out[t->acc];
    if (b->len == 0)
        return SLIM_OK;
    int w = t->acc;
    t->acc ^= 1;
    t->wr_idx = w;
    t->up_carried = t->up_busy && t->up_encrypted && t->up_buf == w;
    t->lower_writing = true;
    if (slim_io_write(t->lower, slim_buf_view(b)) != SLIM_OK) {
        t->lower_writing = false;
        t->up_carried = false;
        t->lower_dead = true;
        return SLIM_E_TRANSPORT_CONN_LOST;
    }
    return SLIM_OK;
}

static bool encrypt_upper(tls_io *t) {
    size_t done = 0;
    ERR_clear_error();
    int r = SSL_write_ex(t->ssl, t->up_data.ptr, t->up_data.len, &done);
    if (r != 1 || done != t->up_data.len) {
        fail_from_openssl(t, "SSL_write", r != 1 ? SSL_get_error(t->ssl, r) : -1);
        return false;
    }
    t->up_encrypted = true;
    t->up_buf = t->acc;
    return true;
}

static slim_status tls_write(slim_io *io, slim_bytes data) {
    tls_io *t = (tls_io *)io;
    if (t->up_busy)
        return SLIM_E_STATE;
    if (t->closing || t->failed || t->lower_dead || data.len == 0)
        return SLIM_E_TRANSPORT_CONN_LOST;
    t->up_busy = true;
    t->up_encrypted = false;
    t->up_data = data;
    if (t->handshake_done && !encrypt_upper(t)) {
        t->up_busy = false;
        return SLIM_E_TRANSPORT_CONN_LOST;
    }
    if (flush_out(t) != SLIM_OK) {
        t->up_busy = false;
        return SLIM_E_TRANSPORT_CONN_LOST;
    }
    return SLIM_OK;
}

static void lower_on_write_done(slim_io *lower, slim_status st, void *ud) {
    (void)lower;
    tls_io *t = ud;
    t->lower_writing = false;
    slim_buf *b = &t->out[t->wr_idx];
    b->len = 0;
    if (b->cap > OUT_KEEP_CAP)
        slim_buf_cleanup(b);
    if (st != SLIM_OK)
        t->lower_dead = true;
    if (t->up_carried) {
        t->up_carried = false;
        t->up_busy = false;
        if (t->base.ev != NULL)
            t->base.ev->on_write_done(&t->base, st, t->base.ud);
    }
    if (st == SLIM_OK && !t->closing)
        (void)flush_out(t);
}

/* ---- Input ---- */

/* Decrypts what is available and hands it up in chunks of up to 64 KiB. */
static void read_records(tls_io *t) {
    size_t have = 0;
    for (;;) {
        size_t got = 0;
        ERR_clear_error();
        int r = SSL_read_ex(t->ssl, t->plain + have, sizeof t->plain - have, &got);
        /* The outcome is read now: the upper pipe may write (and so touch
         * the BIO's retry flags and the error queue) when handed the data. */
        int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(t->ssl, r);
        slim_status fst = SLIM_OK;
        char why[sizeof t->base.why];
        if (r == 1) {
            have += got;
            t->got_data = true;
            if (sizeof t->plain - have >= TLS_RECORD)
                continue;
        } else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE &&
                   e != SSL_ERROR_ZERO_RETURN) {
            fst = failure_now(t, "SSL_read", e, why, sizeof why);
        }
        if (have > 0) {
            t->base.ev->on_read(&t->base, slim_bytes_of(t->plain, have), t->base.ud);
            have = 0;
            if (t->closing || t->failed)
                return;
        }
        if (r == 1)
            continue;
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return;
        if (e == SSL_ERROR_ZERO_RETURN) {
            t->failed = true;
            snprintf(t->base.why, sizeof t->base.why, "peer closed the TLS session");
            t->base.ev->on_read_end(&t->base, SLIM_E_TRANSPORT_CONN_LOST, t->base.ud);
            return;
        }
        tls_fail(t, fst, "%s", why);
        return;
    }
}

static void handshake_step(tls_io *t) {
    ERR_clear_error();
    int r = SSL_do_handshake(t->ssl);
    if (r != 1) {
        int e = SSL_get_error(t->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            if (flush_out(t) != SLIM_OK)
                tls_fail(t, SLIM_E_TLS_HANDSHAKE, "connection lost during the TLS handshake");
            return;
        }
        fail_from_openssl(t, "SSL_do_handshake", e);
        return;
    }
    t->handshake_done = true;
    const unsigned char *alpn = NULL;
    unsigned alpn_len = 0;
    SSL_get0_alpn_selected(t->ssl, &alpn, &alpn_len);
    if (alpn_len != 2 || memcmp(alpn, "h2", 2) != 0) {
        tls_fail(t, SLIM_E_TLS_ALPN, "the peer did not negotiate ALPN h2 (it %s)",
                 alpn_len == 0 ? "offered no ALPN" : "chose another protocol");
        return;
    }
    SLIM_LOGD(MOD, "TLS with %s: %s, %s%s", t->base.peer, SSL_get_version(t->ssl),
              SSL_get_cipher_name(t->ssl),
              t->is_server && t->ctx->mutual ? ", client certificate verified" : "");
    if (t->up_busy && !t->up_encrypted && !encrypt_upper(t))
        return;
    if (flush_out(t) != SLIM_OK)
        tls_fail(t, SLIM_E_TRANSPORT_CONN_LOST, "socket write failed");
}

/* The HTTP/2 client preface, as far as it arrived, starts `data`. */
static bool is_h2c_preface(slim_bytes data) {
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    size_t n = data.len < sizeof preface - 1 ? data.len : sizeof preface - 1;
    return n >= 3 && memcmp(data.ptr, preface, n) == 0;
}

/* Answers an h2c client on a TLS port in its own language: a GOAWAY with
 * INADEQUATE_SECURITY that says why, then the connection closes. No
 * SETTINGS comes first, so gRPC clients never consider the connection
 * ready: they fail the call at once with UNAVAILABLE instead of retrying it
 * on a new connection until the deadline (they retry calls a GOAWAY finds
 * unsent). Our plaintext client recognises this first frame (h2conn.c). */
static void answer_h2c(tls_io *t) {
    static const char debug[] = "TLS required on this port; use https://";
    uint8_t g[9 + 8 + sizeof debug - 1];
    size_t glen = 8 + sizeof debug - 1;
    memset(g, 0, sizeof g);
    g[0] = (uint8_t)(glen >> 16);
    g[1] = (uint8_t)(glen >> 8);
    g[2] = (uint8_t)glen;
    g[3] = 0x7;     /* GOAWAY on stream 0, last stream 0 */
    g[9 + 7] = 0xc; /* error INADEQUATE_SECURITY */
    memcpy(g + 17, debug, sizeof debug - 1);
    (void)slim_buf_append(&t->out[t->acc], g, sizeof g);
}

static void lower_on_read(slim_io *lower, slim_bytes data, void *ud) {
    (void)lower;
    tls_io *t = ud;
    if (t->closing || t->failed || data.len == 0)
        return;
    if (!t->seen_input) {
        t->seen_input = true;
        if (data.ptr[0] != 0x16 && data.ptr[0] != 0x15) {
            if (!t->is_server) {
                tls_fail(t, SLIM_E_TLS_PLAINTEXT_PEER,
                         "the server answered in plaintext: %s is not a TLS port (use http://)",
                         t->base.peer);
            } else if (is_h2c_preface(data)) {
                answer_h2c(t);
                tls_fail(t, SLIM_E_TLS_PLAINTEXT_PEER,
                         "plaintext peer on a TLS port: it sent an HTTP/2 preface without TLS "
                         "(an h2c client; it should use https://)");
            } else {
                tls_fail(t, SLIM_E_TLS_PLAINTEXT_PEER,
                         "plaintext peer on a TLS port: its first bytes are not a TLS record");
            }
            return;
        }
    }
    t->in = data.ptr;
    t->in_len = data.len;
    if (!t->handshake_done)
        handshake_step(t);
    if (t->handshake_done && !t->closing && !t->failed)
        read_records(t);
    if (!t->closing && !t->failed && flush_out(t) != SLIM_OK)
        tls_fail(t, SLIM_E_TRANSPORT_CONN_LOST, "socket write failed");
    /* OpenSSL takes everything it is offered; keep anything it left. */
    if (t->in_len > 0 && !t->closing && !t->failed) {
        if (slim_buf_append(&t->rest, t->in, t->in_len) != SLIM_OK)
            tls_fail(t, SLIM_E_NOMEM, "out of memory");
    }
    t->in = NULL;
    t->in_len = 0;
}

static void lower_on_read_end(slim_io *lower, slim_status st, void *ud) {
    tls_io *t = ud;
    if (t->closing || t->failed)
        return;
    if (!t->handshake_done) {
        tls_fail(t, SLIM_E_TLS_HANDSHAKE, "the connection closed during the TLS handshake (%s)",
                 lower->why[0] ? lower->why : "end of stream");
        return;
    }
    if (!t->is_server && t->cert_requested && !t->got_data) {
        /* TLS 1.3 clients finish their handshake before the server checks
         * their certificate; some servers then hang up without an alert. */
        if (t->has_cert)
            tls_fail(t, SLIM_E_TLS_CERT_REJECTED,
                     "the server asked for a client certificate and closed the connection "
                     "without a word: it most likely rejected ours");
        else
            tls_fail(t, SLIM_E_TLS_NO_CLIENT_CERT,
                     "the server asked for a client certificate (mutual TLS), none is "
                     "configured, and it closed the connection");
        return;
    }
    t->failed = true;
    snprintf(t->base.why, sizeof t->base.why, "%s", lower->why);
    t->base.ev->on_read_end(&t->base, st, t->base.ud);
}

static void tls_free(tls_io *t) {
    SSL_free(t->ssl); /* frees the BIO too */
    slim_tls_ctx_unref(t->ctx);
    slim_buf_cleanup(&t->rest);
    slim_buf_cleanup(&t->out[0]);
    slim_buf_cleanup(&t->out[1]);
    slim_free(t);
}

static void lower_on_closed(slim_io *lower, void *ud) {
    (void)lower;
    tls_io *t = ud;
    if (t->base.ev != NULL)
        t->base.ev->on_closed(&t->base, t->base.ud);
    tls_free(t);
}

static const slim_io_events lower_events = {lower_on_read, lower_on_write_done, lower_on_read_end,
                                            lower_on_closed};

/* ---- Pipe operations ---- */

static slim_status tls_start(slim_io *io) {
    tls_io *t = (tls_io *)io;
    t->started = true;
    slim_status st = slim_io_start(t->lower, &lower_events, t);
    if (st != SLIM_OK)
        return st;
    if (!t->is_server)
        handshake_step(t); /* ClientHello */
    return t->failed ? SLIM_E_TRANSPORT_CONN_LOST : SLIM_OK;
}

static void tls_close(slim_io *io) {
    tls_io *t = (tls_io *)io;
    if (t->closing)
        return;
    t->closing = true;
    if (!t->started) {
        /* The lower pipe was never started: it frees itself silently. */
        slim_io_close(t->lower);
        tls_free(t);
        return;
    }
    slim_io_close(t->lower); /* lower_on_closed frees us */
}

static const slim_io_ops tls_ops = {tls_start, tls_write, tls_close};

static bool is_ip_literal(const char *name) {
    unsigned char buf[16];
    return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

slim_status slim_io_tls_new(slim_tls_ctx *ctx, slim_io *lower, const char *name, slim_io **out) {
    tls_io *t = slim_calloc(1, sizeof *t);
    if (t == NULL) {
        slim_io_close(lower);
        return SLIM_E_NOMEM;
    }
    t->lower = lower;
    t->is_server = ctx->server;
    t->base.ops = &tls_ops;
    snprintf(t->base.peer, sizeof t->base.peer, "%s", lower->peer);
    if (name != NULL)
        snprintf(t->name, sizeof t->name, "%s", name);
    ERR_clear_error();
    t->ssl = SSL_new(ctx->ssl);
    t->bio = t->ssl != NULL ? BIO_new(bio_method) : NULL;
    if (t->bio == NULL) {
        SSL_free(t->ssl);
        slim_free(t);
        slim_io_close(lower);
        ERR_clear_error();
        return SLIM_E_NOMEM;
    }
    BIO_set_data(t->bio, t);
    SSL_set_bio(t->ssl, t->bio, t->bio); /* the same BIO both ways: one reference */
    SSL_set_app_data(t->ssl, t);
    t->has_cert = SSL_get_certificate(t->ssl) != NULL;
    t->ctx = slim_tls_ctx_ref(ctx);
    slim_status st = SLIM_OK;
    if (t->is_server) {
        SSL_set_accept_state(t->ssl);
    } else {
        SSL_set_connect_state(t->ssl);
        if (name != NULL && name[0] != '\0') {
            if (is_ip_literal(name)) {
                if (!ctx->skip_verify &&
                    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), name) != 1)
                    st = SLIM_E_TLS_CONFIG;
            } else {
                if (SSL_set_tlsext_host_name(t->ssl, name) != 1)
                    st = SLIM_E_TLS_CONFIG;
                if (!ctx->skip_verify && SSL_set1_host(t->ssl, name) != 1)
                    st = SLIM_E_TLS_CONFIG;
            }
        }
    }
    if (st != SLIM_OK) {
        ERR_clear_error();
        slim_io_close(lower);
        t->lower = NULL;
        SSL_free(t->ssl);
        slim_tls_ctx_unref(t->ctx);
        slim_free(t);
        return st;
    }
    *out = &t->base;
    return SLIM_OK;
}
