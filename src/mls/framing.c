/* Framing codecs: content, auth data, Public/PrivateMessage, MLSMessage. */
#include "mls/framing.h"

#include <string.h>

/* ---- Sender ---------------------------------------------------------- */

slim_status slim_mls_sender_encode(slim_mls_tls_writer *w, const slim_mls_sender *s) {
    slim_status st = slim_mls_tls_put_u8(w, s->type);
    switch (s->type) {
    case SLIM_MLS_SENDER_MEMBER:
    case SLIM_MLS_SENDER_EXTERNAL:
        return slim_mls_tls_put_u32(w, s->index);
    case SLIM_MLS_SENDER_NEW_MEMBER_PROPOSAL:
    case SLIM_MLS_SENDER_NEW_MEMBER_COMMIT:
        return st;
    }
    return slim_mls_tls_writer_fail(w, SLIM_E_MLS_BAD_SENDER_TYPE);
}

slim_status slim_mls_sender_decode(slim_mls_tls_reader *r, slim_mls_sender *s) {
    slim_mls_sender v = {0, 0};
    if (slim_mls_tls_get_u8(r, &v.type) != SLIM_OK)
        return slim_mls_tls_reader_status(r);
    switch (v.type) {
    case SLIM_MLS_SENDER_MEMBER:
    case SLIM_MLS_SENDER_EXTERNAL:
        if (slim_mls_tls_get_u32(r, &v.index) != SLIM_OK)
            return slim_mls_tls_reader_status(r);
        break;
    case SLIM_MLS_SENDER_NEW_MEMBER_PROPOSAL:
    case SLIM_MLS_SENDER_NEW_MEMBER_COMMIT:
        break;
    default:
        return slim_mls_tls_reader_fail(r, SLIM_E_MLS_BAD_SENDER_TYPE);
    }
    *s = v;
    return SLIM_OK;
}

bool slim_mls_sender_has_context(uint8_t sender_type) {
    return sender_type == SLIM_MLS_SENDER_MEMBER ||
           sender_type == SLIM_MLS_SENDER_NEW_MEMBER_COMMIT;
}

/* ---- FramedContent --------------------------------------------------- */

slim_status slim_mls_content_body_encode(slim_mls_tls_writer *w,
                                         const slim_mls_framed_content *fc) {
    switch (fc->content_type) {
    case SLIM_MLS_CONTENT_APPLICATION:
        return slim_mls_tls_put_opaque(w, fc->u.application_data);
    case SLIM_MLS_CONTENT_PROPOSAL:
        return slim_mls_proposal_encode(w, &fc->u.proposal);
    case SLIM_MLS_CONTENT_COMMIT:
        return slim_mls_commit_encode(w, &fc->u.commit);
    }
    return slim_mls_tls_writer_fail(w, SLIM_E_MLS_BAD_CONTENT_TYPE);
}

slim_status slim_mls_content_body_decode(slim_mls_tls_reader *r, uint8_t content_type,
                                         slim_mls_framed_content *fc) {
    switch (content_type) {
    case SLIM_MLS_CONTENT_APPLICATION: {
        slim_bytes data;
        if (slim_mls_tls_get_opaque(r, &data) == SLIM_OK)
            fc->u.application_data = data;
        break;
    }
    case SLIM_MLS_CONTENT_PROPOSAL: {
        slim_mls_proposal p;
        if (slim_mls_proposal_decode(r, &p) == SLIM_OK)
            fc->u.proposal = p;
        break;
    }
    case SLIM_MLS_CONTENT_COMMIT: {
        slim_mls_commit c;
        if (slim_mls_commit_decode(r, &c) == SLIM_OK)
            fc->u.commit = c;
        break;
    }
    default:
        return slim_mls_tls_reader_fail(r, SLIM_E_MLS_BAD_CONTENT_TYPE);
    }
    slim_status st = slim_mls_tls_reader_status(r);
    if (st == SLIM_OK)
        fc->content_type = content_type;
    return st;
}

slim_status slim_mls_framed_content_encode(slim_mls_tls_writer *w,
                                           const slim_mls_framed_content *fc) {
    slim_mls_tls_put_opaque(w, fc->group_id);
    slim_mls_tls_put_u64(w, fc->epoch);
    slim_mls_sender_encode(w, &fc->sender);
    slim_mls_tls_put_opaque(w, fc->authenticated_data);
    slim_mls_tls_put_u8(w, fc->content_type);
    return slim_mls_content_body_encode(w, fc);
}

slim_status slim_mls_framed_content_decode(slim_mls_tls_reader *r, slim_mls_framed_content *fc) {
    slim_mls_framed_content v;
    memset(&v, 0, sizeof v);
    uint8_t type;
    slim_mls_tls_get_opaque(r, &v.group_id);
    slim_mls_tls_get_u64(r, &v.epoch);
    slim_mls_sender_decode(r, &v.sender);
    slim_mls_tls_get_opaque(r, &v.authenticated_data);
    if (slim_mls_tls_get_u8(r, &type) != SLIM_OK)
        return slim_mls_tls_reader_status(r);
    slim_status st = slim_mls_content_body_decode(r, type, &v);
    if (st == SLIM_OK)
        *fc = v;
    return st;
}

/* ---- FramedContentAuthData, AuthenticatedContent --------------------- */

slim_status slim_mls_auth_data_encode(slim_mls_tls_writer *w, uint8_t content_type,
                                      const slim_mls_auth_data *a) {
    slim_status st = slim_mls_tls_put_opaque(w, a->signature);
    if (content_type == SLIM_MLS_CONTENT_COMMIT)
        st = slim_mls_tls_put_opaque(w, a->confirmation_tag);
    return st;
}

slim_status slim_mls_auth_data_decode(slim_mls_tls_reader *r, uint8_t content_type,
                                      slim_mls_auth_data *a) {
    slim_mls_auth_data v;
    v.confirmation_tag = slim_bytes_of(NULL, 0);
    slim_status st = slim_mls_tls_get_opaque(r, &v.signature);
    if (content_type == SLIM_MLS_CONTENT_COMMIT)
        st = slim_mls_tls_get_opaque(r, &v.confirmation_tag);
    if (st == SLIM_OK)
        *a = v;
    return st;
}

static bool is_framed_wire_format(uint16_t wf) {
    return wf == SLIM_MLS_WIRE_PUBLIC_MESSAGE || wf == SLIM_MLS_WIRE_PRIVATE_MESSAGE;
}

slim_status slim_mls_authenticated_content_encode(slim_mls_tls_writer *w,
                                                  const slim_mls_authenticated_content *ac) {
    if (!is_framed_wire_format(ac->wire_format))
        return slim_mls_tls_writer_fail(w, SLIM_E_MLS_NOT_FRAMED);
    slim_mls_tls_put_u16(w, ac->wire_format);
    slim_mls_framed_content_encode(w, &ac->content);
    return slim_mls_auth_data_encode(w, ac->content.content_type, &ac->auth);
}

slim_status slim_mls_authenticated_content_decode(slim_mls_tls_reader *r,
                                                  slim_mls_authenticated_content *ac) {
    slim_mls_authenticated_content v;
    if (slim_mls_tls_get_u16(r, &v.wire_format) != SLIM_OK)
        return slim_mls_tls_reader_status(r);
    if (!is_framed_wire_format(v.wire_format))
        return slim_mls_tls_reader_fail(r, SLIM_E_MLS_NOT_FRAMED);
    if (slim_mls_framed_content_decode(r, &v.content) != SLIM_OK)
        return slim_mls_tls_reader_status(r);
    slim_status st = slim_mls_auth_data_decode(r, v.content.content_type, &v.auth);
    if (st == SLIM_OK)
        *ac = v;
    return st;
}

slim_status slim_mls_confirmed_transcript_input_encode(const slim_mls_authenticated_content *ac,
                                                       slim_buf *out) {
    if (ac->content.content_type != SLIM_MLS_CONTENT_COMMIT)
        return SLIM_E_MLS_BAD_CONTENT_TYPE;
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, out);
    slim_mls_tls_put_u16(&w, ac->wire_format);
    slim_mls_framed_content_encode(&w, &ac->content);
    slim_mls_tls_put_opaque(&w, ac->auth.signature);
    return slim_mls_tls_writer_status(&w);
}

/* ---- TBS, TBM -------------------------------------------------------- */

slim_status slim_mls_framed_content_tbs_write(slim_mls_tls_writer *w, uint16_t wire_format,
                                              const slim_mls_framed_content *fc,
                                              slim_bytes group_context) {
    slim_mls_tls_put_u16(w, SLIM_MLS_VERSION_MLS10);
    slim_mls_tls_put_u16(w, wire_format);
    slim_status st = slim_mls_framed_content_encode(w, fc);
    if (slim_mls_sender_has_context(fc->sender.type))
        st = slim_mls_tls_put_raw(w, group_context);
    return st;
}

slim_status slim_mls_authenticated_content_tbm_encode(const slim_mls_framed_content *fc,
                                                      const slim_mls_auth_data *auth,
                                                      slim_bytes group_context, slim_buf *out) {
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, out);
    slim_mls_framed_content_tbs_write(&w, SLIM_MLS_WIRE_PUBLIC_MESSAGE, fc, group_context);
    slim_mls_auth_data_encode(&w, fc->content_type, auth);
    return slim_mls_tls_writer_status(&w);
}

/* ---- PublicMessage --------------------------------------------------- */

slim_status slim_mls_public_message_encode(slim_mls_tls_writer *w,
                                           const slim_mls_public_message *pm) {
    slim_mls_framed_content_encode(w, &pm->content);
    slim_status st = slim_mls_auth_data_encode(w, pm->content.content_type, &pm->auth);
    if (pm->content.sender.type == SLIM_MLS_SENDER_MEMBER)
        st = slim_mls_tls_put_opaque(w, pm->membership_tag);
    return st;
}

slim_status slim_mls_public_message_decode(slim_mls_tls_reader *r, slim_mls_public_message *pm) {
    slim_mls_public_message v;
    v.membership_tag = slim_bytes_of(NULL, 0);
    if (slim_mls_framed_content_decode(r, &v.content) != SLIM_OK)
        return slim_mls_tls_reader_status(r);
    slim_status st = slim_mls_auth_data_decode(r, v.content.content_type, &v.auth);
    if (v.content.sender.type == SLIM_MLS_SENDER_MEMBER)
        st = slim_mls_tls_get_opaque(r, &v.membership_tag);
    if (st == SLIM_OK)
        *pm = v;
    return st;
}

/* ---- PrivateMessage -------------------------------------------------- */

static bool is_content_type(uint8_t t) {
    return t >= SLIM_MLS_CONTENT_APPLICATION && t <= SLIM_MLS_CONTENT_COMMIT;
}

/* The three fields every PrivateMessage structure starts with. */
static slim_status put_private_head(slim_mls_tls_writer *w, const slim_mls_private_message *pm) {
    if (!is_content_type(pm->content_type))
        return slim_mls_tls_writer_fail(w, SLIM_E_MLS_BAD_CONTENT_TYPE);
    slim_mls_tls_put_opaque(w, pm->group_id);
    slim_mls_tls_put_u64(w, pm->epoch);
    return slim_mls_tls_put_u8(w, pm->content_type);
}

slim_status slim_mls_private_message_encode(slim_mls_tls_writer *w,
                                            const slim_mls_private_message *pm) {
    put_private_head(w, pm);
    slim_mls_tls_put_opaque(w, pm->authenticated_data);
    slim_mls_tls_put_opaque(w, pm->encrypted_sender_data);
    return slim_mls_tls_put_opaque(w, pm->ciphertext);
}

slim_status slim_mls_private_message_decode(slim_mls_tls_reader *r, slim_mls_private_message *pm) {
    slim_mls_private_message v;
    slim_mls_tls_get_opaque(r, &v.group_id);
    slim_mls_tls_get_u64(r, &v.epoch);
    if (slim_mls_tls_get_u8(r, &v.content_type) != SLIM_OK)
        return slim_mls_tls_reader_status(r);
    if (!is_content_type(v.content_type))
        return slim_mls_tls_reader_fail(r, SLIM_E_MLS_BAD_CONTENT_TYPE);
    slim_mls_tls_get_opaque(r, &v.authenticated_data);
    slim_mls_tls_get_opaque(r, &v.encrypted_sender_data);
    slim_status st = slim_mls_tls_get_opaque(r, &v.ciphertext);
    if (st == SLIM_OK)
        *pm = v;
    return st;
}

slim_status slim_mls_private_content_aad_write(slim_mls_tls_writer *w,
                                               const slim_mls_private_message *pm) {
    put_private_head(w, pm);
    return slim_mls_tls_put_opaque(w, pm->authenticated_data);
}

slim_status slim_mls_sender_data_aad_write(slim_mls_tls_writer *w,
                                           const slim_mls_private_message *pm) {
    return put_private_head(w, pm);
}

slim_status slim_mls_private_content_encode(slim_mls_tls_writer *w,
                                            const slim_mls_framed_content *fc,
                                            const slim_mls_auth_data *auth, size_t padding) {
    slim_mls_content_body_encode(w, fc);
    slim_status st = slim_mls_auth_data_encode(w, fc->content_type, auth);
    if (st == SLIM_OK && padding > 0 && w->buf != NULL) {
        st = slim_buf_append_zeros(w->buf, padding, NULL);
        if (st != SLIM_OK)
            st = slim_mls_tls_writer_fail(w, st);
    }
    return st;
}

slim_status slim_mls_private_content_decode(slim_bytes plaintext, uint8_t content_type,
                                            slim_mls_framed_content *fc, slim_mls_auth_data *auth) {
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, plaintext);
    slim_mls_framed_content v = *fc;
    slim_mls_auth_data a;
    slim_mls_content_body_decode(&r, content_type, &v);
    slim_status st = slim_mls_auth_data_decode(&r, content_type, &a);
    if (st != SLIM_OK)
        return st;
    /* Whatever follows is padding and must be zeros; the check looks at
     * every byte whatever it finds. */
    slim_bytes pad = slim_mls_tls_reader_rest(&r);
    uint8_t any = 0;
    for (size_t i = 0; i < pad.len; i++)
        any |= pad.ptr[i];
    if (any != 0)
        return SLIM_E_MLS_BAD_PADDING;
    *fc = v;
    *auth = a;
    return SLIM_OK;
}

/* ---- SenderData ------------------------------------------------------ */

void slim_mls_sender_data_encode(const slim_mls_sender_data *sd, uint8_t *out) {
    out[0] = (uint8_t)(sd->leaf_index >> 24);
    out[1] = (uint8_t)(sd->leaf_index >> 16);
    out[2] = (uint8_t)(sd->leaf_index >> 8);
    out[3] = (uint8_t)sd->leaf_index;
    out[4] = (uint8_t)(sd->generation >> 24);
    out[5] = (uint8_t)(sd->generation >> 16);
    out[6] = (uint8_t)(sd->generation >> 8);
    out[7] = (uint8_t)sd->generation;
    memcpy(out + 8, sd->reuse_guard, 4);
}

slim_status slim_mls_sender_data_decode(slim_bytes in, slim_mls_sender_data *sd) {
    if (in.len != SLIM_MLS_SENDER_DATA_SIZE)
        return SLIM_E_MLS_BAD_SENDER_DATA;
    const uint8_t *p = in.ptr;
    sd->leaf_index = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
    sd->generation = ((uint32_t)p[4] << 24) | ((uint32_t)p[5] << 16) | ((uint32_t)p[6] << 8) | p[7];
    memcpy(sd->reuse_guard, p + 8, 4);
    return SLIM_OK;
}

/* ---- MLSMessage ------------------------------------------------------ */

slim_status slim_mls_message_encode(const slim_mls_message *m, slim_buf *out) {
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, out);
    if (m->version != SLIM_MLS_VERSION_MLS10)
        return SLIM_E_MLS_BAD_VERSION;
    slim_mls_tls_put_u16(&w, m->version);
    slim_mls_tls_put_u16(&w, m->wire_format);
    switch (m->wire_format) {
    case SLIM_MLS_WIRE_PUBLIC_MESSAGE:
        slim_mls_public_message_encode(&w, &m->u.public_message);
        break;
    case SLIM_MLS_WIRE_PRIVATE_MESSAGE:
        slim_mls_private_message_encode(&w, &m->u.private_message);
        break;
    case SLIM_MLS_WIRE_WELCOME:
        slim_mls_welcome_encode(&w, &m->u.welcome);
        break;
    case SLIM_MLS_WIRE_GROUP_INFO:
        slim_mls_group_info_encode(&w, &m->u.group_info);
        break;
    case SLIM_MLS_WIRE_KEY_PACKAGE:
        slim_mls_key_package_encode(&w, &m->u.key_package);
        break;
    default:
        slim_mls_tls_writer_fail(&w, SLIM_E_MLS_UNKNOWN_WIRE_FORMAT);
    }
    return slim_mls_tls_writer_status(&w);
}

slim_status slim_mls_message_decode(slim_bytes in, slim_mls_message *m) {
    slim_mls_message v;
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, in);
    if (slim_mls_tls_get_u16(&r, &v.version) == SLIM_OK && v.version != SLIM_MLS_VERSION_MLS10)
        slim_mls_tls_reader_fail(&r, SLIM_E_MLS_BAD_VERSION);
    if (slim_mls_tls_get_u16(&r, &v.wire_format) != SLIM_OK)
        return slim_mls_tls_reader_status(&r);
    switch (v.wire_format) {
    case SLIM_MLS_WIRE_PUBLIC_MESSAGE:
        slim_mls_public_message_decode(&r, &v.u.public_message);
        break;
    case SLIM_MLS_WIRE_PRIVATE_MESSAGE:
        slim_mls_private_message_decode(&r, &v.u.private_message);
        break;
    case SLIM_MLS_WIRE_WELCOME:
        slim_mls_welcome_decode(&r, &v.u.welcome);
        break;
    case SLIM_MLS_WIRE_GROUP_INFO:
        slim_mls_group_info_decode(&r, &v.u.group_info);
        break;
    case SLIM_MLS_WIRE_KEY_PACKAGE:
        slim_mls_key_package_decode(&r, &v.u.key_package);
        break;
    default:
        return slim_mls_tls_reader_fail(&r, SLIM_E_MLS_UNKNOWN_WIRE_FORMAT);
    }
    slim_status st = slim_mls_tls_reader_finish(&r);
    if (st == SLIM_OK)
        *m = v;
    return st;
}
