/* Proposal, ProposalOrRef and Commit codecs. */
#include "mls/proposal.h"
#include "mls/extensions.h"

#include <string.h>

bool slim_mls_proposal_type_needs_path(uint16_t type) {
    switch (type) {
    case SLIM_MLS_PROPOSAL_UPDATE:
    case SLIM_MLS_PROPOSAL_REMOVE:
    case SLIM_MLS_PROPOSAL_EXTERNAL_INIT:
    case SLIM_MLS_PROPOSAL_GROUP_CONTEXT_EXTENSIONS:
        return true;
    }
    return false;
}

bool slim_mls_proposal_type_external_ok(uint16_t type) {
    switch (type) {
    case SLIM_MLS_PROPOSAL_ADD:
    case SLIM_MLS_PROPOSAL_REMOVE:
    case SLIM_MLS_PROPOSAL_PSK:
    case SLIM_MLS_PROPOSAL_REINIT:
    case SLIM_MLS_PROPOSAL_GROUP_CONTEXT_EXTENSIONS:
        return true;
    }
    return false;
}

/* ---- Proposal -------------------------------------------------------- */

slim_status slim_mls_proposal_body_encode(slim_mls_tls_writer *w, const slim_mls_proposal *p) {
    switch (p->type) {
    case SLIM_MLS_PROPOSAL_ADD:
        return slim_mls_key_package_encode(w, &p->u.add);
    case SLIM_MLS_PROPOSAL_UPDATE:
        return slim_mls_leaf_node_encode(w, &p->u.update);
    case SLIM_MLS_PROPOSAL_REMOVE:
        return slim_mls_tls_put_u32(w, p->u.remove);
    case SLIM_MLS_PROPOSAL_PSK:
        return slim_mls_psk_id_encode(w, &p->u.psk);
    case SLIM_MLS_PROPOSAL_REINIT:
        if (p->u.reinit.version == 0)
            return slim_mls_tls_writer_fail(w, SLIM_E_MLS_BAD_VERSION);
        slim_mls_tls_put_opaque(w, p->u.reinit.group_id);
        slim_mls_tls_put_u16(w, p->u.reinit.version);
        slim_mls_tls_put_u16(w, p->u.reinit.cipher_suite);
        return slim_mls_extension_list_encode(w, &p->u.reinit.extensions);
    case SLIM_MLS_PROPOSAL_EXTERNAL_INIT:
        return slim_mls_tls_put_opaque(w, p->u.external_init);
    case SLIM_MLS_PROPOSAL_GROUP_CONTEXT_EXTENSIONS:
        return slim_mls_extension_list_encode(w, &p->u.group_context_extensions);
    }
    return slim_mls_tls_writer_fail(w, SLIM_E_MLS_UNKNOWN_PROPOSAL_TYPE);
}

slim_status slim_mls_proposal_body_decode(slim_mls_tls_reader *r, uint16_t type,
                                          slim_mls_proposal *p) {
    slim_mls_proposal v;
    v.type = type;
    switch (type) {
    case SLIM_MLS_PROPOSAL_ADD:
        slim_mls_key_package_decode(r, &v.u.add);
        break;
    case SLIM_MLS_PROPOSAL_UPDATE:
        if (slim_mls_leaf_node_decode(r, &v.u.update) == SLIM_OK &&
            v.u.update.source != SLIM_MLS_LEAF_SOURCE_UPDATE)
            slim_mls_tls_reader_fail(r, SLIM_E_MLS_WRONG_LEAF_NODE_SOURCE);
        break;
    case SLIM_MLS_PROPOSAL_REMOVE:
        slim_mls_tls_get_u32(r, &v.u.remove);
        break;
    case SLIM_MLS_PROPOSAL_PSK:
        slim_mls_psk_id_decode(r, &v.u.psk);
        break;
    case SLIM_MLS_PROPOSAL_REINIT:
        slim_mls_tls_get_opaque(r, &v.u.reinit.group_id);
        if (slim_mls_tls_get_u16(r, &v.u.reinit.version) == SLIM_OK && v.u.reinit.version == 0)
            slim_mls_tls_reader_fail(r, SLIM_E_MLS_BAD_VERSION);
        slim_mls_tls_get_u16(r, &v.u.reinit.cipher_suite);
        slim_mls_extension_list_decode(r, &v.u.reinit.extensions);
        break;
    case SLIM_MLS_PROPOSAL_EXTERNAL_INIT:
        slim_mls_tls_get_opaque(r, &v.u.external_init);
        break;
    case SLIM_MLS_PROPOSAL_GROUP_CONTEXT_EXTENSIONS:
        slim_mls_extension_list_decode(r, &v.u.group_context_extensions);
        break;
    default:
        return slim_mls_tls_reader_fail(r, SLIM_E_MLS_UNKNOWN_PROPOSAL_TYPE);
    }
    slim_status st = slim_mls_tls_reader_status(r);
    if (st == SLIM_OK)
        *p = v;
    return st;
}

slim_status slim_mls_proposal_encode(slim_mls_tls_writer *w, const slim_mls_proposal *p) {
    slim_mls_tls_put_u16(w, p->type);
    return slim_mls_proposal_body_encode(w, p);
}

slim_status slim_mls_proposal_decode(slim_mls_tls_reader *r, slim_mls_proposal *p) {
    uint16_t type;
    if (slim_mls_tls_get_u16(r, &type) != SLIM_OK)
        return slim_mls_tls_reader_status(r);
    return slim_mls_proposal_body_decode(r, type, p);
}

/* ---- ProposalOrRef --------------------------------------------------- */

slim_status slim_mls_proposal_or_ref_encode(slim_mls_tls_writer *w,
                                            const slim_mls_proposal_or_ref *p) {
    slim_mls_tls_put_u8(w, p->type);
    switch (p->type) {
    case SLIM_MLS_PROPOSAL_OR_REF_PROPOSAL:
        return slim_mls_proposal_encode(w, &p->proposal);
    case SLIM_MLS_PROPOSAL_OR_REF_REFERENCE:
        return slim_mls_tls_put_opaque(w, p->reference);
    }
    return slim_mls_tls_writer_fail(w, SLIM_E_MLS_BAD_PROPOSAL_OR_REF);
}

slim_status slim_mls_proposal_or_ref_decode(slim_mls_tls_reader *r, slim_mls_proposal_or_ref *p) {
    slim_mls_proposal_or_ref v;
    if (slim_mls_tls_get_u8(r, &v.type) != SLIM_OK)
        return slim_mls_tls_reader_status(r);
    switch (v.type) {
    case SLIM_MLS_PROPOSAL_OR_REF_PROPOSAL:
        v.reference = slim_bytes_of(NULL, 0);
        slim_mls_proposal_decode(r, &v.proposal);
        break;
    case SLIM_MLS_PROPOSAL_OR_REF_REFERENCE:
        v.proposal.type = 0;
        slim_mls_tls_get_opaque(r, &v.reference);
        break;
    default:
        return slim_mls_tls_reader_fail(r, SLIM_E_MLS_BAD_PROPOSAL_OR_REF);
    }
    slim_status st = slim_mls_tls_reader_status(r);
    if (st == SLIM_OK)
        *p = v;
    return st;
}

static slim_status elem_proposal_or_ref(slim_mls_tls_reader *r, void *arg) {
    (void)arg;
    slim_mls_proposal_or_ref p;
    return slim_mls_proposal_or_ref_decode(r, &p);
}

/* ---- Commit ---------------------------------------------------------- */

slim_status slim_mls_commit_encode(slim_mls_tls_writer *w, const slim_mls_commit *c) {
    slim_mls_tls_put_vec(w, &c->proposals);
    slim_status st = slim_mls_tls_put_optional(w, c->has_path);
    if (c->has_path)
        st = slim_mls_update_path_encode(w, &c->path);
    return st;
}

slim_status slim_mls_commit_path_required(const slim_mls_commit *c, bool *required) {
    *required = false;
    slim_mls_tls_reader it;
    slim_mls_tls_reader_init(&it, c->proposals.body);
    if (!slim_mls_tls_reader_more(&it)) {
        *required = true;
        return SLIM_OK;
    }
    while (slim_mls_tls_reader_more(&it)) {
        /* Zeroed: gcc -O2 cannot see that decode writes p on success. */
        slim_mls_proposal_or_ref p;
        memset(&p, 0, sizeof p);
        if (slim_mls_proposal_or_ref_decode(&it, &p) != SLIM_OK)
            break;
        if (p.type == SLIM_MLS_PROPOSAL_OR_REF_PROPOSAL &&
            slim_mls_proposal_type_needs_path(p.proposal.type))
            *required = true;
    }
    return slim_mls_tls_reader_status(&it);
}

slim_status slim_mls_commit_decode(slim_mls_tls_reader *r, slim_mls_commit *c) {
    slim_mls_commit v;
    memset(&v, 0, sizeof v);
    slim_mls_tls_get_vec(r, elem_proposal_or_ref, NULL, &v.proposals);
    if (slim_mls_tls_get_optional(r, &v.has_path) != SLIM_OK)
        return slim_mls_tls_reader_status(r);
    if (v.has_path && slim_mls_update_path_decode(r, &v.path) != SLIM_OK)
        return slim_mls_tls_reader_status(r);
    if (!v.has_path) {
        bool required;
        slim_status st = slim_mls_commit_path_required(&v, &required);
        if (st == SLIM_OK && required)
            st = SLIM_E_MLS_COMMIT_PATH_MISSING;
        if (st != SLIM_OK)
            return slim_mls_tls_reader_fail(r, st);
    }
    *c = v;
    return SLIM_OK;
}
