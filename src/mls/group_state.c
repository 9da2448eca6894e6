/*
 * Saving one group state and loading it back (mls/group.h,
 * slim_mls_group_save / _load). The format is ours, in the TLS
 * presentation language of RFC 9420 §2.1:
 *
 *   struct {
 *       uint64 padding_block;
 *       uint32 max_past_epochs;
 *       uint32 max_resumption_psks;
 *       uint8 check_received_lifetimes;   0 or 1
 *       uint64 max_lifetime;
 *   } GroupOptions;
 *
 *   struct {
 *       uint16 format;                    STATE_FORMAT
 *       CipherSuite cipher_suite;
 *       GroupOptions options;
 *       opaque group_context<V>;          the encoded GroupContext
 *       optional<Node> ratchet_tree<V>;   as in the ratchet_tree extension
 *       optional<ReInit> ended;           the ReInit the group ended with
 *       opaque interim_transcript_hash[Nh];
 *       opaque confirmation_tag[Nh];
 *       TreePrivState own;                mls/treekem.h
 *       opaque init_secret[Nh];
 *       opaque exporter_secret[Nh];
 *       opaque external_secret[Nh];
 *       opaque epoch_authenticator[Nh];
 *       opaque resumption_psk[Nh];
 *       opaque sender_data_secret[Nh];
 *       opaque membership_key[Nh];
 *       SecretTreeState secret_tree;      mls/secret_tree.h
 *   } GroupState;
 *
 * Everything from `own` on is secret and is written after the room for it
 * was reserved, so the buffer does not move while it holds secrets.
 * Loading checks what it can without the group: every field's size and
 * range, the GroupContext's suite, the private keys against the tree, the
 * tree against the GroupContext's tree hash, the client against the own
 * leaf. It does not validate the tree again (signatures, parent hashes):
 * it was validated when the state was made, and the bytes are the
 * application's own, kept encrypted.
 */
#include "core/util.h"
#include "mls/group_internal.h"

#include <string.h>

/* Bump when the layout changes; a loader refuses formats it does not know. */
#define STATE_FORMAT 1

/* The GroupState fields after `own`, each Nh bytes, in their order. */
enum { N_SECRETS = 7 };

static void secret_fields(slim_mls_epoch_secrets *es, uint8_t *out[N_SECRETS]) {
    out[0] = es->init_secret;
    out[1] = es->exporter_secret;
    out[2] = es->external_secret;
    out[3] = es->epoch_authenticator;
    out[4] = es->resumption_psk;
    out[5] = es->sender_data_secret;
    out[6] = es->membership_key;
}

static void options_encode(slim_mls_tls_writer *w, const slim_mls_group_options *o) {
    slim_mls_tls_put_u64(w, o->padding_block);
    slim_mls_tls_put_u32(w, o->max_past_epochs);
    slim_mls_tls_put_u32(w, o->max_resumption_psks);
    slim_mls_tls_put_u8(w, o->check_received_lifetimes ? 1 : 0);
    slim_mls_tls_put_u64(w, o->max_lifetime);
}

static slim_status options_decode(slim_mls_tls_reader *r, slim_mls_group_options *o) {
    uint64_t padding;
    uint8_t check;
    memset(o, 0, sizeof *o);
    slim_mls_tls_get_u64(r, &padding);
    slim_mls_tls_get_u32(r, &o->max_past_epochs);
    slim_mls_tls_get_u32(r, &o->max_resumption_psks);
    slim_mls_tls_get_u8(r, &check);
    if (slim_mls_tls_get_u64(r, &o->max_lifetime) != SLIM_OK)
        return slim_mls_tls_reader_status(r);
    if (check > 1 || padding > SIZE_MAX)
        return slim_mls_tls_reader_fail(r, SLIM_E_MLS_BAD_VALUE);
    o->padding_block = (size_t)padding;
    o->check_received_lifetimes = check == 1;
    return SLIM_OK;
}

slim_status slim_mls_group_save(const slim_mls_group *g, slim_buf *out) {
    const slim_mls_suite *s = g->suite;
    size_t start = out->len;
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, out);
    slim_mls_tls_put_u16(&w, STATE_FORMAT);
    slim_mls_tls_put_u16(&w, s->id);
    options_encode(&w, &g->opts);
    if (slim_mls_tls_put_opaque(&w, slim_buf_view(&g->gc_buf)) == SLIM_OK)
        slim_mls_tls_writer_fail(&w, slim_mls_tree_encode(g->tree, out));
    if (slim_mls_tls_put_optional(&w, g->ended) == SLIM_OK && g->ended) {
        slim_mls_proposal p;
        memset(&p, 0, sizeof p);
        p.type = SLIM_MLS_PROPOSAL_REINIT;
        p.u.reinit = g->reinit;
        slim_mls_proposal_body_encode(&w, &p);
    }
    slim_mls_tls_put_raw(&w, slim_bytes_of(g->interim, s->nh));
    slim_mls_tls_put_raw(&w, slim_bytes_of(g->confirmation_tag, s->nh));
    slim_status st = slim_mls_tls_writer_status(&w);
    /* The secret part: room first, then the bytes. */
    if (st == SLIM_OK)
        st = slim_buf_reserve(out, slim_mls_tree_priv_encode_bound(s) + N_SECRETS * s->nh +
                                       slim_mls_secret_tree_encode_bound(g->keys->st));
    size_t cap = out->cap;
    /* The state keeps sender data and membership key in its epoch keys. */
    slim_mls_epoch_secrets es = g->secrets;
    memcpy(es.sender_data_secret, g->keys->sender_data_secret, s->nh);
    memcpy(es.membership_key, g->keys->membership_key, s->nh);
    uint8_t *fields[N_SECRETS];
    secret_fields(&es, fields);
    if (st == SLIM_OK) {
        slim_mls_tree_priv_encode(&w, &g->priv);
        for (size_t i = 0; i < N_SECRETS; i++)
            slim_mls_tls_put_raw(&w, slim_bytes_of(fields[i], s->nh));
        st = slim_mls_secret_tree_encode(&w, g->keys->st);
        if (st == SLIM_OK && out->cap != cap) /* a bound too small: never leave a copy */
            st = SLIM_E_INTERNAL;
    }
    slim_mls_epoch_secrets_cleanup(&es);
    if (st != SLIM_OK) {
        if (out->data != NULL)
            slim_memzero(out->data + start, out->len - start);
        out->len = start;
    }
    return st;
}

/* What a load reads before it builds anything (views into the input). */
typedef struct saved_public {
    slim_mls_group_options opts;
    slim_bytes gc, tree;
    bool ended;
    slim_mls_reinit reinit;
    slim_bytes interim, confirmation_tag;
} saved_public;

static slim_status public_decode(slim_mls_tls_reader *r, const slim_mls_suite *s,
                                 saved_public *out) {
    uint16_t format, suite;
    slim_mls_tls_get_u16(r, &format);
    if (slim_mls_tls_get_u16(r, &suite) != SLIM_OK)
        return slim_mls_tls_reader_status(r);
    if (format != STATE_FORMAT)
        return slim_mls_tls_reader_fail(r, SLIM_E_MLS_BAD_VALUE);
    if (suite != s->id)
        return slim_mls_tls_reader_fail(r, SLIM_E_MLS_SUITE_MISMATCH);
    memset(out, 0, sizeof *out);
    options_decode(r, &out->opts);
    slim_mls_tls_get_opaque(r, &out->gc);
    /* The tree is kept whole, length header included, as the tree
     * decoder wants it. */
    slim_bytes rest = slim_mls_tls_reader_rest(r);
    slim_mls_tls_reader body;
    if (slim_mls_tls_get_vector(r, &body) == SLIM_OK)
        out->tree = slim_bytes_of(rest.ptr, rest.len - slim_mls_tls_reader_remaining(r));
    if (slim_mls_tls_get_optional(r, &out->ended) == SLIM_OK && out->ended) {
        slim_mls_proposal p;
        if (slim_mls_proposal_body_decode(r, SLIM_MLS_PROPOSAL_REINIT, &p) == SLIM_OK)
            out->reinit = p.u.reinit;
    }
    slim_mls_tls_get_raw(r, s->nh, &out->interim);
    return slim_mls_tls_get_raw(r, s->nh, &out->confirmation_tag);
}

/* The parts read with the tree at hand: the private state (its keys
 * checked against the tree), the client checked against the own leaf, the
 * secrets, the secret tree; then the GroupContext's suite and tree hash. */
static slim_status secret_decode(slim_mls_tls_reader *r, const slim_mls_client *c, slim_bytes gcb,
                                 slim_mls_tree *tree, slim_mls_tree_priv *priv,
                                 slim_mls_epoch_secrets *es, slim_mls_secret_tree **st_out) {
    const slim_mls_suite *s = c->suite;
    slim_mls_group_context gc;
    slim_status st = slim_mls_group_context_decode(gcb, &gc);
    if (st == SLIM_OK && gc.cipher_suite != s->id)
        st = SLIM_E_MLS_SUITE_MISMATCH;
    if (st != SLIM_OK)
        return slim_mls_tls_reader_fail(r, st);
    if (slim_mls_tree_priv_decode(r, tree, priv) != SLIM_OK)
        return slim_mls_tls_reader_status(r);
    /* The client must be the member of the saved leaf. */
    const slim_mls_leaf_node *ln = slim_mls_tree_leaf(tree, priv->leaf);
    if (ln->signature_key.len != s->sig_npk ||
        memcmp(ln->signature_key.ptr, c->sig_pk, s->sig_npk) != 0)
        return slim_mls_tls_reader_fail(r, SLIM_E_MLS_BAD_KEY);
    slim_bytes v[N_SECRETS];
    for (size_t i = 0; i < N_SECRETS; i++)
        slim_mls_tls_get_raw(r, s->nh, &v[i]);
    if (slim_mls_tls_reader_status(r) != SLIM_OK)
        return slim_mls_tls_reader_status(r);
    memset(es, 0, sizeof *es);
    es->suite = s;
    uint8_t *fields[N_SECRETS];
    secret_fields(es, fields);
    for (size_t i = 0; i < N_SECRETS; i++)
        memcpy(fields[i], v[i].ptr, s->nh);
    if (slim_mls_secret_tree_decode(r, s, slim_mls_tree_leaf_count(tree), st_out) != SLIM_OK)
        return slim_mls_tls_reader_status(r);
    st = slim_mls_tls_reader_finish(r);
    /* Last, the costliest check: the tree is the GroupContext's. */
    uint8_t th[NH_MAX];
    if (st == SLIM_OK)
        st = slim_mls_tree_hash(tree, th);
    if (st == SLIM_OK && (gc.tree_hash.len != s->nh || memcmp(gc.tree_hash.ptr, th, s->nh) != 0))
        st = SLIM_E_MLS_TREE_HASH_MISMATCH;
    if (st != SLIM_OK) {
        slim_mls_secret_tree_free(*st_out);
        *st_out = NULL;
    }
    return st;
}

slim_status slim_mls_group_load(slim_mls_client *c, slim_bytes saved,
                                const slim_mls_group_options *opts, uint32_t skip,
                                slim_mls_group **out) {
    const slim_mls_suite *s = c->suite;
    if (skip > SLIM_MLS_LOAD_MAX_SKIP)
        return SLIM_E_INVALID_ARG;
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, saved);
    saved_public pub;
    slim_status st = public_decode(&r, s, &pub);
    if (st != SLIM_OK)
        return st;
    slim_mls_tree *tree = NULL;
    slim_mls_tree_priv priv;
    slim_mls_epoch_secrets es;
    slim_mls_secret_tree *secret_tree = NULL;
    memset(&priv, 0, sizeof priv);
    memset(&es, 0, sizeof es);
    st = slim_mls_tree_decode(s, pub.tree, &tree);
    if (st == SLIM_OK)
        st = secret_decode(&r, c, pub.gc, tree, &priv, &es, &secret_tree);
    slim_mls_group *g = NULL;
    if (st == SLIM_OK) {
        slim_mls_state_parts parts = {.client = c,
                                      .opts = opts != NULL ? opts : &pub.opts,
                                      .gc = pub.gc,
                                      .tree = tree,
                                      .priv = &priv,
                                      .secrets = &es,
                                      .confirmation_tag = pub.confirmation_tag,
                                      .interim = pub.interim,
                                      .reinit = pub.ended ? &pub.reinit : NULL,
                                      .secret_tree = secret_tree};
        tree = NULL; /* taken, also on failure */
        st = slim_mls__state_new(&parts, &g);
    }
    for (int type = 0; st == SLIM_OK && skip > 0 && type < 2; type++)
        st =
            slim_mls_secret_tree_skip(g->keys->st, g->priv.leaf, (slim_mls_ratchet_type)type, skip);
    slim_mls_tree_free(tree);
    slim_mls_tree_priv_cleanup(&priv);
    slim_mls_epoch_secrets_cleanup(&es);
    if (st != SLIM_OK) {
        slim_mls_group_free(g);
        return st;
    }
    *out = g;
    return SLIM_OK;
}
