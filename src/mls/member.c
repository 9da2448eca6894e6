/*
 * LeafNode and KeyPackage creation. A LeafNode is assembled as a struct
 * of views (the caller's credential and extensions, a local capabilities
 * encoding, the new key), signed, and encoded into the caller's buffer;
 * the signature lives in a local buffer until then.
 */
#include "mls/member.h"
#include "core/util.h"
#include "mls/group_context.h"

#include <string.h>

static void put_u16_list(slim_mls_tls_writer *w, const uint16_t *v, size_t n) {
    size_t mark = slim_mls_tls_vec_begin(w);
    for (size_t i = 0; i < n; i++)
        slim_mls_tls_put_u16(w, v[i]);
    slim_mls_tls_vec_end(w, mark);
}

slim_status slim_mls_capabilities_default(const slim_mls_suite *s, uint16_t credential_type,
                                          slim_buf *out) {
    uint16_t version = SLIM_MLS_VERSION_MLS10;
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, out);
    put_u16_list(&w, &version, 1);
    put_u16_list(&w, &s->id, 1);
    put_u16_list(&w, NULL, 0);
    put_u16_list(&w, NULL, 0);
    put_u16_list(&w, &credential_type, 1);
    return slim_mls_tls_writer_status(&w);
}

/* Appends what `write` writes from obj to out; nothing on failure. */
static slim_status encode_into(slim_buf *out, slim_mls_tbs_fn write, const void *obj) {
    size_t before = out->len;
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, out);
    write(&w, obj);
    slim_status st = slim_mls_tls_writer_status(&w);
    if (st != SLIM_OK)
        out->len = before;
    return st;
}

static slim_status write_leaf(slim_mls_tls_writer *w, const void *obj) {
    return slim_mls_leaf_node_encode(w, obj);
}

static slim_status write_key_package(slim_mls_tls_writer *w, const void *obj) {
    return slim_mls_key_package_encode(w, obj);
}

/* Decodes the default Capabilities written into b. */
static slim_status default_caps(const slim_mls_suite *s, uint16_t cred_type, slim_buf *b,
                                slim_mls_capabilities *caps) {
    slim_status st = slim_mls_capabilities_default(s, cred_type, b);
    if (st != SLIM_OK)
        return st;
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, slim_buf_view(b));
    slim_mls_capabilities_decode(&r, caps);
    return slim_mls_tls_reader_finish(&r);
}

slim_status slim_mls_leaf_node_build(const slim_mls_suite *s, const slim_mls_leaf_params *p,
                                     uint8_t source, slim_bytes encryption_key,
                                     slim_bytes parent_hash, slim_bytes group_id,
                                     uint32_t leaf_index, slim_buf *out) {
    if (source < SLIM_MLS_LEAF_SOURCE_KEY_PACKAGE || source > SLIM_MLS_LEAF_SOURCE_COMMIT)
        return SLIM_E_MLS_BAD_LEAF_NODE_SOURCE;
    if (p->signature_key.len != s->sig_npk || p->signer == NULL)
        return SLIM_E_MLS_BAD_KEY;
    slim_buf caps_buf = SLIM_BUF_INIT, sig = SLIM_BUF_INIT;
    slim_mls_leaf_node ln;
    memset(&ln, 0, sizeof ln);
    ln.encryption_key = encryption_key;
    ln.signature_key = p->signature_key;
    ln.credential = p->credential;
    ln.source = source;
    ln.lifetime = p->lifetime;
    ln.parent_hash = parent_hash;
    ln.extensions = p->extensions;
    slim_status st = SLIM_OK;
    if (p->capabilities != NULL)
        ln.capabilities = *p->capabilities;
    else
        st = default_caps(s, p->credential.type, &caps_buf, &ln.capabilities);
    if (st == SLIM_OK)
        st = slim_mls_leaf_node_sign(s, &ln, group_id, leaf_index, p->signer, &sig);
    if (st == SLIM_OK)
        st = encode_into(out, write_leaf, &ln);
    slim_buf_cleanup(&caps_buf);
    slim_buf_cleanup(&sig);
    return st;
}

slim_status slim_mls_leaf_node_create(const slim_mls_suite *s, const slim_mls_leaf_params *p,
                                      uint8_t source, slim_bytes group_id, uint32_t leaf_index,
                                      const slim_mls_rng *rng, slim_buf *out,
                                      uint8_t *encryption_priv) {
    if (source != SLIM_MLS_LEAF_SOURCE_KEY_PACKAGE && source != SLIM_MLS_LEAF_SOURCE_UPDATE)
        return SLIM_E_INVALID_ARG;
    uint8_t sk[SLIM_MLS_MAX_DH_PRIVATE], pk[SLIM_MLS_MAX_DH_PUBLIC];
    slim_status st = slim_mls_suite_generate_key_pair(s, rng, sk, pk);
    if (st == SLIM_OK)
        st = slim_mls_leaf_node_build(s, p, source, slim_bytes_of(pk, s->kem_npk),
                                      slim_bytes_of(NULL, 0), group_id, leaf_index, out);
    if (st == SLIM_OK)
        memcpy(encryption_priv, sk, s->kem_nsk);
    slim_memzero(sk, sizeof sk);
    return st;
}

void slim_mls_key_package_keys_cleanup(slim_mls_key_package_keys *k) {
    slim_memzero(k, sizeof *k);
}

slim_status slim_mls_key_package_create(const slim_mls_suite *s, const slim_mls_leaf_params *p,
                                        slim_mls_vec extensions, const slim_mls_rng *rng,
                                        slim_buf *out, slim_mls_key_package_keys *keys) {
    slim_mls_key_package_keys k;
    memset(&k, 0, sizeof k);
    k.len = s->kem_nsk;
    uint8_t init_pub[SLIM_MLS_MAX_DH_PUBLIC];
    slim_buf leaf = SLIM_BUF_INIT, sig = SLIM_BUF_INIT;
    slim_mls_key_package kp;
    memset(&kp, 0, sizeof kp);
    slim_status st = slim_mls_suite_generate_key_pair(s, rng, k.init_priv, init_pub);
    if (st == SLIM_OK)
        st = slim_mls_leaf_node_create(s, p, SLIM_MLS_LEAF_SOURCE_KEY_PACKAGE,
                                       slim_bytes_of(NULL, 0), 0, rng, &leaf, k.encryption_priv);
    if (st == SLIM_OK) {
        slim_mls_tls_reader r;
        slim_mls_tls_reader_init(&r, slim_buf_view(&leaf));
        slim_mls_leaf_node_decode(&r, &kp.leaf_node);
        st = slim_mls_tls_reader_finish(&r);
    }
    kp.version = SLIM_MLS_VERSION_MLS10;
    kp.cipher_suite = s->id;
    kp.init_key = slim_bytes_of(init_pub, s->kem_npk);
    kp.extensions = extensions;
    if (st == SLIM_OK)
        st = slim_mls_key_package_sign(s, &kp, p->signer, &sig);
    if (st == SLIM_OK)
        st = encode_into(out, write_key_package, &kp);
    if (st == SLIM_OK)
        *keys = k;
    slim_mls_key_package_keys_cleanup(&k);
    slim_buf_cleanup(&leaf);
    slim_buf_cleanup(&sig);
    return st;
}
