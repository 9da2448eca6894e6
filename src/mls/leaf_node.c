/* Credential, Capabilities, LeafNode and ExternalSender codecs. */
#include "mls/leaf_node.h"
#include "mls/extensions.h"

/* ---- Credential ------------------------------------------------------ */

slim_status slim_mls_credential_encode(slim_mls_tls_writer *w, const slim_mls_credential *c) {
    if (c->type == 0)
        return slim_mls_tls_writer_fail(w, SLIM_E_MLS_BAD_CREDENTIAL_TYPE);
    slim_mls_tls_put_u16(w, c->type);
    return slim_mls_tls_put_opaque(w, c->body);
}

slim_status slim_mls_credential_decode(slim_mls_tls_reader *r, slim_mls_credential *c) {
    slim_mls_credential v;
    if (slim_mls_tls_get_u16(r, &v.type) != SLIM_OK)
        return slim_mls_tls_reader_status(r);
    if (v.type == 0)
        return slim_mls_tls_reader_fail(r, SLIM_E_MLS_BAD_CREDENTIAL_TYPE);
    if (v.type == SLIM_MLS_CREDENTIAL_X509) {
        slim_mls_vec certs;
        if (slim_mls_tls_get_vec(r, slim_mls_tls_elem_opaque, NULL, &certs) != SLIM_OK)
            return slim_mls_tls_reader_status(r);
        v.body = certs.body;
    } else if (slim_mls_tls_get_opaque(r, &v.body) != SLIM_OK) {
        return slim_mls_tls_reader_status(r);
    }
    *c = v;
    return SLIM_OK;
}

slim_status slim_mls_certificate_next(slim_mls_tls_reader *certs, slim_bytes *cert, bool *more) {
    *more = false;
    if (!slim_mls_tls_reader_more(certs))
        return slim_mls_tls_reader_status(certs);
    slim_status st = slim_mls_tls_get_opaque(certs, cert);
    *more = st == SLIM_OK;
    return st;
}

/* ---- Capabilities ---------------------------------------------------- */

slim_status slim_mls_capabilities_encode(slim_mls_tls_writer *w, const slim_mls_capabilities *c) {
    slim_mls_tls_put_vec(w, &c->versions);
    slim_mls_tls_put_vec(w, &c->cipher_suites);
    slim_mls_tls_put_vec(w, &c->extensions);
    slim_mls_tls_put_vec(w, &c->proposals);
    return slim_mls_tls_put_vec(w, &c->credentials);
}

slim_status slim_mls_capabilities_decode(slim_mls_tls_reader *r, slim_mls_capabilities *c) {
    slim_mls_capabilities v;
    slim_mls_tls_get_vec(r, slim_mls_tls_elem_u16, NULL, &v.versions);
    slim_mls_tls_get_vec(r, slim_mls_tls_elem_u16, NULL, &v.cipher_suites);
    slim_mls_tls_get_vec(r, slim_mls_tls_elem_u16, NULL, &v.extensions);
    slim_mls_tls_get_vec(r, slim_mls_tls_elem_u16, NULL, &v.proposals);
    slim_mls_tls_get_vec(r, slim_mls_tls_elem_u16, NULL, &v.credentials);
    slim_status st = slim_mls_tls_reader_status(r);
    if (st == SLIM_OK)
        *c = v;
    return st;
}

/* ---- LeafNode -------------------------------------------------------- */

/* Everything up to and including `extensions`: the part LeafNode and
 * LeafNodeTBS share. */
static slim_status put_leaf_content(slim_mls_tls_writer *w, const slim_mls_leaf_node *ln) {
    slim_mls_tls_put_opaque(w, ln->encryption_key);
    slim_mls_tls_put_opaque(w, ln->signature_key);
    slim_mls_credential_encode(w, &ln->credential);
    slim_mls_capabilities_encode(w, &ln->capabilities);
    slim_mls_tls_put_u8(w, ln->source);
    switch (ln->source) {
    case SLIM_MLS_LEAF_SOURCE_KEY_PACKAGE:
        slim_mls_tls_put_u64(w, ln->lifetime.not_before);
        slim_mls_tls_put_u64(w, ln->lifetime.not_after);
        break;
    case SLIM_MLS_LEAF_SOURCE_UPDATE:
        break;
    case SLIM_MLS_LEAF_SOURCE_COMMIT:
        slim_mls_tls_put_opaque(w, ln->parent_hash);
        break;
    default:
        return slim_mls_tls_writer_fail(w, SLIM_E_MLS_BAD_LEAF_NODE_SOURCE);
    }
    return slim_mls_extension_list_encode(w, &ln->extensions);
}

slim_status slim_mls_leaf_node_encode(slim_mls_tls_writer *w, const slim_mls_leaf_node *ln) {
    put_leaf_content(w, ln);
    return slim_mls_tls_put_opaque(w, ln->signature);
}

slim_status slim_mls_leaf_node_decode(slim_mls_tls_reader *r, slim_mls_leaf_node *ln) {
    slim_mls_leaf_node v = {0};
    slim_mls_tls_get_opaque(r, &v.encryption_key);
    slim_mls_tls_get_opaque(r, &v.signature_key);
    slim_mls_credential_decode(r, &v.credential);
    slim_mls_capabilities_decode(r, &v.capabilities);
    if (slim_mls_tls_get_u8(r, &v.source) != SLIM_OK)
        return slim_mls_tls_reader_status(r);
    switch (v.source) {
    case SLIM_MLS_LEAF_SOURCE_KEY_PACKAGE:
        slim_mls_tls_get_u64(r, &v.lifetime.not_before);
        slim_mls_tls_get_u64(r, &v.lifetime.not_after);
        break;
    case SLIM_MLS_LEAF_SOURCE_UPDATE:
        break;
    case SLIM_MLS_LEAF_SOURCE_COMMIT:
        slim_mls_tls_get_opaque(r, &v.parent_hash);
        break;
    default:
        return slim_mls_tls_reader_fail(r, SLIM_E_MLS_BAD_LEAF_NODE_SOURCE);
    }
    slim_mls_extension_list_decode(r, &v.extensions);
    slim_mls_tls_get_opaque(r, &v.signature);
    slim_status st = slim_mls_tls_reader_status(r);
    if (st == SLIM_OK)
        *ln = v;
    return st;
}

/* LeafNodeTBS: the leaf and, for update and commit leaves, its place. */
typedef struct leaf_tbs {
    const slim_mls_leaf_node *ln;
    slim_bytes group_id;
    uint32_t leaf_index;
} leaf_tbs;

static slim_status write_tbs(slim_mls_tls_writer *w, const void *obj) {
    const leaf_tbs *t = obj;
    slim_status st = put_leaf_content(w, t->ln);
    if (t->ln->source == SLIM_MLS_LEAF_SOURCE_UPDATE ||
        t->ln->source == SLIM_MLS_LEAF_SOURCE_COMMIT) {
        slim_mls_tls_put_opaque(w, t->group_id);
        st = slim_mls_tls_put_u32(w, t->leaf_index);
    }
    return st;
}

slim_status slim_mls_leaf_node_tbs_encode(const slim_mls_leaf_node *ln, slim_bytes group_id,
                                          uint32_t leaf_index, slim_buf *out) {
    leaf_tbs t = {ln, group_id, leaf_index};
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, out);
    write_tbs(&w, &t);
    return slim_mls_tls_writer_status(&w);
}

slim_status slim_mls_leaf_node_sign(const slim_mls_suite *suite, slim_mls_leaf_node *ln,
                                    slim_bytes group_id, uint32_t leaf_index,
                                    const slim_mls_sig_key *sk, slim_buf *sig) {
    leaf_tbs t = {ln, group_id, leaf_index};
    return slim_mls_sign_tbs(suite, sk, "LeafNodeTBS", write_tbs, &t, sig, &ln->signature);
}

slim_status slim_mls_leaf_node_verify(const slim_mls_suite *suite, const slim_mls_leaf_node *ln,
                                      slim_bytes group_id, uint32_t leaf_index) {
    leaf_tbs t = {ln, group_id, leaf_index};
    return slim_mls_verify_tbs(suite, ln->signature_key, "LeafNodeTBS", write_tbs, &t,
                               ln->signature);
}

/* ---- ExternalSender -------------------------------------------------- */

slim_status slim_mls_external_sender_encode(slim_mls_tls_writer *w,
                                            const slim_mls_external_sender *es) {
    slim_mls_tls_put_opaque(w, es->signature_key);
    return slim_mls_credential_encode(w, &es->credential);
}

slim_status slim_mls_external_sender_decode(slim_mls_tls_reader *r, slim_mls_external_sender *es) {
    slim_mls_external_sender v;
    slim_mls_tls_get_opaque(r, &v.signature_key);
    slim_status st = slim_mls_credential_decode(r, &v.credential);
    if (st == SLIM_OK)
        *es = v;
    return st;
}

static slim_status elem_external_sender(slim_mls_tls_reader *r, void *arg) {
    (void)arg;
    slim_mls_external_sender es;
    return slim_mls_external_sender_decode(r, &es);
}

slim_status slim_mls_external_senders_decode(slim_mls_tls_reader *r, slim_mls_vec *out) {
    return slim_mls_tls_get_vec(r, elem_external_sender, NULL, out);
}
