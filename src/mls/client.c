/*
 * The client: a member's identity for all its groups (mls/group.h). It
 * owns copies of everything it was given, so the caller's buffers can go
 * once it is made; the signing key is prepared once (OpenSSL keeps and
 * wipes it). Reference counted because every group state holds one.
 */
#include "core/alloc.h"
#include "core/util.h"
#include "mls/extensions.h"
#include "mls/group_internal.h"

#include <string.h>

slim_mls_client *slim_mls_client_ref(slim_mls_client *c) {
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    return c;
}

void slim_mls_client_free(slim_mls_client *c) {
    if (c == NULL || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
        return;
    slim_mls_sig_key_free(c->signer);
    slim_buf_cleanup(&c->credential);
    slim_buf_cleanup(&c->capabilities);
    slim_buf_cleanup(&c->extensions);
    slim_memzero(c, sizeof *c);
    slim_free(c);
}

/* Checks the leaf extension list: well formed, no type twice. */
static slim_status check_extensions(slim_bytes body) {
    return body.len == 0 ? SLIM_OK : slim_mls_extension_list_check(body);
}

slim_status slim_mls_client_new(const slim_mls_client_params *p, slim_mls_client **out) {
    const slim_mls_suite *s;
    slim_status st = slim_mls_suite_find(p->suite, &s);
    if (st != SLIM_OK)
        return st;
    if (p->credential_check == NULL || p->signature_priv.len != s->sig_nsk)
        return p->credential_check == NULL ? SLIM_E_INVALID_ARG : SLIM_E_MLS_BAD_KEY;
    slim_mls_client *c = slim_calloc(1, sizeof *c);
    if (c == NULL)
        return SLIM_E_NOMEM;
    atomic_init(&c->refs, 1);
    c->suite = s;
    c->check = p->credential_check;
    c->check_arg = p->credential_arg;
    st = slim_mls_signature_public_key(s, p->signature_priv, c->sig_pk);
    if (st == SLIM_OK)
        st = slim_mls_sig_key_new(s->sig, p->signature_priv, true, &c->signer);
    if (st == SLIM_OK)
        st = slim_buf_append(&c->credential, p->credential.body.ptr, p->credential.body.len);
    if (st == SLIM_OK)
        st = check_extensions(p->leaf_extensions.body);
    if (st == SLIM_OK)
        st = slim_buf_append(&c->extensions, p->leaf_extensions.body.ptr,
                             p->leaf_extensions.body.len);
    if (st == SLIM_OK && p->capabilities.len > 0)
        st = slim_buf_append(&c->capabilities, p->capabilities.ptr, p->capabilities.len);
    else if (st == SLIM_OK)
        st = slim_mls_capabilities_default(s, p->credential.type, &c->capabilities);
    if (st == SLIM_OK) {
        slim_mls_tls_reader r;
        slim_mls_tls_reader_init(&r, slim_buf_view(&c->capabilities));
        slim_mls_capabilities_decode(&r, &c->caps);
        st = slim_mls_tls_reader_finish(&r);
    }
    if (st != SLIM_OK) {
        slim_mls_client_free(c);
        return st;
    }
    c->params.credential.type = p->credential.type;
    c->params.credential.body = slim_buf_view(&c->credential);
    c->params.signature_key = slim_bytes_of(c->sig_pk, s->sig_npk);
    c->params.signer = c->signer;
    c->params.capabilities = &c->caps;
    c->params.extensions.body = slim_buf_view(&c->extensions);
    c->params.extensions.count = p->leaf_extensions.count;
    c->params.lifetime = p->lifetime;
    *out = c;
    return SLIM_OK;
}

slim_status slim_mls_client_key_package(const slim_mls_client *c, const slim_mls_rng *rng,
                                        slim_buf *out, slim_mls_key_package_keys *keys) {
    size_t start = out->len;
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, out);
    slim_mls_tls_put_u16(&w, SLIM_MLS_VERSION_MLS10);
    slim_status st = slim_mls_tls_put_u16(&w, SLIM_MLS_WIRE_KEY_PACKAGE);
    slim_mls_vec none = {slim_bytes_of(NULL, 0), 0};
    if (st == SLIM_OK)
        st = slim_mls_key_package_create(c->suite, &c->params, none,
                                         rng != NULL ? rng : slim_mls_rng_default(), out, keys);
    if (st != SLIM_OK)
        out->len = start;
    return st;
}

const slim_mls_suite *slim_mls_client_suite(const slim_mls_client *c) {
    return c->suite;
}

slim_bytes slim_mls_client_signature_key(const slim_mls_client *c) {
    return slim_bytes_of(c->sig_pk, c->suite->sig_npk);
}
