/* GroupInfo, GroupSecrets, EncryptedGroupSecrets and Welcome codecs. */
#include "mls/welcome.h"
#include "mls/extensions.h"

#include <string.h>

/* ---- GroupInfo ------------------------------------------------------- */

static slim_status put_group_info_tbs(slim_mls_tls_writer *w, const slim_mls_group_info *gi) {
    slim_mls_group_context_write(w, &gi->group_context);
    slim_mls_extension_list_encode(w, &gi->extensions);
    slim_mls_tls_put_opaque(w, gi->confirmation_tag);
    return slim_mls_tls_put_u32(w, gi->signer);
}

slim_status slim_mls_group_info_encode(slim_mls_tls_writer *w, const slim_mls_group_info *gi) {
    put_group_info_tbs(w, gi);
    return slim_mls_tls_put_opaque(w, gi->signature);
}

slim_status slim_mls_group_info_decode(slim_mls_tls_reader *r, slim_mls_group_info *gi) {
    slim_mls_group_info v;
    slim_mls_group_context_read(r, &v.group_context);
    slim_mls_extension_list_decode(r, &v.extensions);
    slim_mls_tls_get_opaque(r, &v.confirmation_tag);
    slim_mls_tls_get_u32(r, &v.signer);
    slim_status st = slim_mls_tls_get_opaque(r, &v.signature);
    if (st == SLIM_OK)
        *gi = v;
    return st;
}

slim_status slim_mls_group_info_tbs_encode(const slim_mls_group_info *gi, slim_buf *out) {
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, out);
    put_group_info_tbs(&w, gi);
    return slim_mls_tls_writer_status(&w);
}

static slim_status write_tbs(slim_mls_tls_writer *w, const void *obj) {
    return put_group_info_tbs(w, obj);
}

slim_status slim_mls_group_info_sign(const slim_mls_suite *suite, slim_mls_group_info *gi,
                                     const slim_mls_sig_key *sk, slim_buf *sig) {
    return slim_mls_sign_tbs(suite, sk, "GroupInfoTBS", write_tbs, gi, sig, &gi->signature);
}

slim_status slim_mls_group_info_verify(const slim_mls_suite *suite, const slim_mls_group_info *gi,
                                       slim_bytes pk) {
    if (gi->group_context.cipher_suite != suite->id)
        return SLIM_E_MLS_SUITE_MISMATCH;
    return slim_mls_verify_tbs(suite, pk, "GroupInfoTBS", write_tbs, gi, gi->signature);
}

/* ---- GroupSecrets ---------------------------------------------------- */

slim_status slim_mls_group_secrets_encode(slim_mls_tls_writer *w,
                                          const slim_mls_group_secrets *gs) {
    slim_mls_tls_put_opaque(w, gs->joiner_secret);
    slim_mls_tls_put_optional(w, gs->has_path_secret);
    if (gs->has_path_secret)
        slim_mls_tls_put_opaque(w, gs->path_secret);
    return slim_mls_tls_put_vec(w, &gs->psks);
}

static slim_status elem_psk_id(slim_mls_tls_reader *r, void *arg) {
    (void)arg;
    slim_mls_psk_id id;
    return slim_mls_psk_id_decode(r, &id);
}

slim_status slim_mls_group_secrets_decode(slim_mls_tls_reader *r, slim_mls_group_secrets *gs) {
    slim_mls_group_secrets v;
    v.path_secret = slim_bytes_of(NULL, 0);
    slim_mls_tls_get_opaque(r, &v.joiner_secret);
    if (slim_mls_tls_get_optional(r, &v.has_path_secret) == SLIM_OK && v.has_path_secret)
        slim_mls_tls_get_opaque(r, &v.path_secret);
    slim_status st = slim_mls_tls_get_vec(r, elem_psk_id, NULL, &v.psks);
    if (st == SLIM_OK)
        *gs = v;
    return st;
}

/* ---- EncryptedGroupSecrets, Welcome ---------------------------------- */

slim_status slim_mls_encrypted_group_secrets_encode(slim_mls_tls_writer *w,
                                                    const slim_mls_encrypted_group_secrets *e) {
    slim_mls_tls_put_opaque(w, e->new_member);
    return slim_mls_hpke_ciphertext_encode(w, &e->encrypted_group_secrets);
}

slim_status slim_mls_encrypted_group_secrets_decode(slim_mls_tls_reader *r,
                                                    slim_mls_encrypted_group_secrets *e) {
    slim_mls_encrypted_group_secrets v;
    slim_mls_tls_get_opaque(r, &v.new_member);
    slim_status st = slim_mls_hpke_ciphertext_decode(r, &v.encrypted_group_secrets);
    if (st == SLIM_OK)
        *e = v;
    return st;
}

static slim_status elem_encrypted_group_secrets(slim_mls_tls_reader *r, void *arg) {
    (void)arg;
    slim_mls_encrypted_group_secrets e;
    return slim_mls_encrypted_group_secrets_decode(r, &e);
}

slim_status slim_mls_welcome_encode(slim_mls_tls_writer *w, const slim_mls_welcome *wm) {
    slim_mls_tls_put_u16(w, wm->cipher_suite);
    slim_mls_tls_put_vec(w, &wm->secrets);
    return slim_mls_tls_put_opaque(w, wm->encrypted_group_info);
}

slim_status slim_mls_welcome_decode(slim_mls_tls_reader *r, slim_mls_welcome *wm) {
    slim_mls_welcome v;
    slim_mls_tls_get_u16(r, &v.cipher_suite);
    slim_mls_tls_get_vec(r, elem_encrypted_group_secrets, NULL, &v.secrets);
    slim_status st = slim_mls_tls_get_opaque(r, &v.encrypted_group_info);
    if (st == SLIM_OK)
        *wm = v;
    return st;
}

slim_status slim_mls_welcome_find_secrets(const slim_mls_welcome *wm, slim_bytes ref,
                                          slim_mls_encrypted_group_secrets *out, bool *found) {
    *found = false;
    slim_mls_tls_reader it;
    slim_mls_tls_reader_init(&it, wm->secrets.body);
    while (slim_mls_tls_reader_more(&it)) {
        slim_mls_encrypted_group_secrets e;
        if (slim_mls_encrypted_group_secrets_decode(&it, &e) != SLIM_OK)
            break;
        if (e.new_member.len == ref.len &&
            (ref.len == 0 || memcmp(e.new_member.ptr, ref.ptr, ref.len) == 0)) {
            *out = e;
            *found = true;
            return SLIM_OK;
        }
    }
    return slim_mls_tls_reader_status(&it);
}
