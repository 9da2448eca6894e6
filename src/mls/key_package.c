/* KeyPackage codec, signature and reference. */
#include "mls/key_package.h"
#include "mls/extensions.h"
#include "mls/group_context.h"

#include <string.h>

static slim_status put_tbs(slim_mls_tls_writer *w, const slim_mls_key_package *kp) {
    slim_mls_tls_put_u16(w, kp->version);
    slim_mls_tls_put_u16(w, kp->cipher_suite);
    slim_mls_tls_put_opaque(w, kp->init_key);
    slim_mls_leaf_node_encode(w, &kp->leaf_node);
    return slim_mls_extension_list_encode(w, &kp->extensions);
}

slim_status slim_mls_key_package_encode(slim_mls_tls_writer *w, const slim_mls_key_package *kp) {
    put_tbs(w, kp);
    return slim_mls_tls_put_opaque(w, kp->signature);
}

slim_status slim_mls_key_package_decode(slim_mls_tls_reader *r, slim_mls_key_package *kp) {
    slim_mls_key_package v;
    if (slim_mls_tls_get_u16(r, &v.version) != SLIM_OK)
        return slim_mls_tls_reader_status(r);
    if (v.version != SLIM_MLS_VERSION_MLS10)
        return slim_mls_tls_reader_fail(r, SLIM_E_MLS_BAD_VERSION);
    slim_mls_tls_get_u16(r, &v.cipher_suite);
    slim_mls_tls_get_opaque(r, &v.init_key);
    if (slim_mls_leaf_node_decode(r, &v.leaf_node) != SLIM_OK)
        return slim_mls_tls_reader_status(r);
    if (v.leaf_node.source != SLIM_MLS_LEAF_SOURCE_KEY_PACKAGE)
        return slim_mls_tls_reader_fail(r, SLIM_E_MLS_WRONG_LEAF_NODE_SOURCE);
    slim_mls_extension_list_decode(r, &v.extensions);
    slim_status st = slim_mls_tls_get_opaque(r, &v.signature);
    if (st == SLIM_OK)
        *kp = v;
    return st;
}

slim_status slim_mls_key_package_tbs_encode(const slim_mls_key_package *kp, slim_buf *out) {
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, out);
    put_tbs(&w, kp);
    return slim_mls_tls_writer_status(&w);
}

static slim_status write_tbs(slim_mls_tls_writer *w, const void *obj) {
    return put_tbs(w, obj);
}

slim_status slim_mls_key_package_sign(const slim_mls_suite *suite, slim_mls_key_package *kp,
                                      const slim_mls_sig_key *sk, slim_buf *sig) {
    return slim_mls_sign_tbs(suite, sk, "KeyPackageTBS", write_tbs, kp, sig, &kp->signature);
}

slim_status slim_mls_key_package_verify(const slim_mls_suite *suite,
                                        const slim_mls_key_package *kp) {
    if (kp->cipher_suite != suite->id)
        return SLIM_E_MLS_SUITE_MISMATCH;
    return slim_mls_verify_tbs(suite, kp->leaf_node.signature_key, "KeyPackageTBS", write_tbs, kp,
                               kp->signature);
}

slim_status slim_mls_key_package_ref(const slim_mls_suite *suite, const slim_mls_key_package *kp,
                                     uint8_t *out) {
    static const char label[] = "MLS 1.0 KeyPackage Reference";
    slim_buf b = SLIM_BUF_INIT;
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, &b);
    slim_mls_key_package_encode(&w, kp);
    slim_status st = slim_mls_tls_writer_status(&w);
    if (st == SLIM_OK)
        st = slim_mls_ref_hash(suite, slim_bytes_of(label, sizeof label - 1), slim_buf_view(&b),
                               out);
    slim_buf_cleanup(&b);
    return st;
}
