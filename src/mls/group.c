/*
 * The group state (mls/group.h): making and freeing states, the epoch's
 * message keys shared with later states, reading a state, the exporter,
 * proposals (made and received, kept for Commits by reference),
 * application messages, GroupInfo, and receiving any handshake or
 * application message. Commits are in group_commit.c, joins in
 * group_join.c.
 *
 * A state is never changed after it is made except in the two ways
 * group.h names (the epoch's secret tree as messages use it, the list of
 * the epoch's proposals), each only on success.
 */
#include "core/alloc.h"
#include "core/util.h"
#include "mls/extensions.h"
#include "mls/group_internal.h"

#include <string.h>

static const char PROPOSAL_REF_LABEL[] = "MLS 1.0 Proposal Reference";

const slim_mls_rng *slim_mls__env_rng(const slim_mls_env *env) {
    return env != NULL && env->rng != NULL ? env->rng : slim_mls_rng_default();
}

slim_mls_validation slim_mls__validation(const slim_mls_client *c, const slim_mls_group_options *o,
                                         slim_bytes group_id, slim_bytes extensions,
                                         const slim_mls_env *env, bool sending) {
    slim_mls_validation v;
    memset(&v, 0, sizeof v);
    v.suite = c->suite;
    v.group_id = group_id;
    v.group_extensions = extensions;
    v.credential = c->check;
    v.credential_arg = c->check_arg;
    v.now = env != NULL ? env->now : 0;
    v.check_lifetime = sending || o->check_received_lifetimes;
    v.max_lifetime = o->max_lifetime;
    return v;
}

static bool same(slim_bytes a, slim_bytes b) {
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* ---- epoch keys ---------------------------------------------------------- */

static slim_mls_epoch_keys *keys_ref(slim_mls_epoch_keys *k) {
    atomic_fetch_add_explicit(&k->refs, 1, memory_order_relaxed);
    return k;
}

void slim_mls__epoch_keys_unref(slim_mls_epoch_keys *k) {
    if (k == NULL || atomic_fetch_sub_explicit(&k->refs, 1, memory_order_acq_rel) != 1)
        return;
    slim_mls_secret_tree_free(k->st);
    slim_mls_tree_free(k->tree);
    for (uint32_t i = 0; i < k->nvkeys; i++)
        slim_mls_sig_key_free(k->vkeys[i]);
    slim_free(k->vkeys);
    slim_buf_cleanup(&k->gc);
    slim_memzero(k, sizeof *k);
    slim_free(k);
}

/* `st_given` (taken, also on failure): the epoch's secret tree, or NULL for a
 * new one from es->encryption_secret. */
static slim_status epoch_keys_new(const slim_mls_suite *s, slim_bytes gc, uint64_t epoch,
                                  const slim_mls_tree *tree, const slim_mls_epoch_secrets *es,
                                  slim_mls_secret_tree *st_given, slim_mls_epoch_keys **out) {
    slim_mls_epoch_keys *k = slim_calloc(1, sizeof *k);
    if (k == NULL) {
        slim_mls_secret_tree_free(st_given);
        return SLIM_E_NOMEM;
    }
    atomic_init(&k->refs, 1);
    k->st = st_given;
    k->suite = s;
    k->epoch = epoch;
    memcpy(k->sender_data_secret, es->sender_data_secret, s->nh);
    memcpy(k->membership_key, es->membership_key, s->nh);
    slim_status st = slim_buf_append(&k->gc, gc.ptr, gc.len);
    if (st == SLIM_OK)
        st = slim_mls_tree_clone(tree, &k->tree);
    if (st == SLIM_OK) {
        k->nvkeys = slim_mls_tree_leaf_count(tree);
        k->vkeys = slim_calloc(k->nvkeys ? k->nvkeys : 1, sizeof *k->vkeys);
        if (k->vkeys == NULL) {
            k->nvkeys = 0;
            st = SLIM_E_NOMEM;
        }
    }
    if (st == SLIM_OK && k->st == NULL)
        st = slim_mls_secret_tree_new(s, slim_bytes_of(es->encryption_secret, s->nh),
                                      slim_mls_tree_leaf_count(tree), &k->st);
    if (st != SLIM_OK) {
        slim_mls__epoch_keys_unref(k);
        return st;
    }
    *out = k;
    return SLIM_OK;
}

/* ---- states -------------------------------------------------------------- */

static void pending_free(slim_mls_pending *p) {
    if (p == NULL)
        return;
    slim_buf_cleanup(&p->ac);
    slim_memzero(p, sizeof *p);
    slim_free(p);
}

void slim_mls_group_free(slim_mls_group *g) {
    if (g == NULL)
        return;
    slim_mls_client_free(g->client);
    slim_buf_cleanup(&g->gc_buf);
    slim_mls_tree_free(g->tree);
    slim_mls_tree_priv_cleanup(&g->priv);
    slim_mls_epoch_secrets_cleanup(&g->secrets);
    slim_mls__epoch_keys_unref(g->keys);
    for (uint32_t i = 0; i < g->n_past; i++)
        slim_mls__epoch_keys_unref(g->past[i]);
    slim_free(g->past);
    if (g->psks != NULL)
        slim_memzero(g->psks, g->n_psks * sizeof *g->psks);
    slim_free(g->psks);
    for (size_t i = 0; i < g->n_props; i++)
        pending_free(g->props[i]);
    slim_free(g->props);
    slim_buf_cleanup(&g->reinit_buf);
    slim_memzero(g, sizeof *g);
    slim_free(g);
}

/* The earlier epochs' message keys and resumption PSKs the new state
 * keeps: prev's own and what prev kept, newest first, up to the limits. */
static slim_status keep_past(slim_mls_group *g, const slim_mls_group *prev) {
    uint32_t n = prev->n_past + 1;
    if (n > g->opts.max_past_epochs)
        n = g->opts.max_past_epochs;
    if (n > 0) {
        g->past = slim_calloc(n, sizeof *g->past);
        if (g->past == NULL)
            return SLIM_E_NOMEM;
        g->past[0] = keys_ref(prev->keys);
        for (uint32_t i = 1; i < n; i++)
            g->past[i] = keys_ref(prev->past[i - 1]);
        g->n_past = n;
    }
    n = prev->n_psks + 1;
    if (n > g->opts.max_resumption_psks)
        n = g->opts.max_resumption_psks;
    if (n > 0) {
        g->psks = slim_calloc(n, sizeof *g->psks);
        if (g->psks == NULL)
            return SLIM_E_NOMEM;
        g->psks[0].epoch = prev->gc.epoch;
        memcpy(g->psks[0].psk, prev->secrets.resumption_psk, prev->suite->nh);
        for (uint32_t i = 1; i < n; i++)
            g->psks[i] = prev->psks[i - 1];
        g->n_psks = n;
    }
    return SLIM_OK;
}

/* Keeps a copy of a committed ReInit (g->reinit views it). */
static slim_status keep_reinit(slim_mls_group *g, const slim_mls_reinit *ri) {
    slim_mls_proposal p;
    memset(&p, 0, sizeof p);
    p.type = SLIM_MLS_PROPOSAL_REINIT;
    p.u.reinit = *ri;
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, &g->reinit_buf);
    slim_status st = slim_mls_proposal_body_encode(&w, &p);
    if (st == SLIM_OK)
        st = slim_mls_tls_writer_status(&w);
    if (st != SLIM_OK)
        return st;
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, slim_buf_view(&g->reinit_buf));
    slim_mls_proposal_body_decode(&r, SLIM_MLS_PROPOSAL_REINIT, &p);
    st = slim_mls_tls_reader_finish(&r);
    if (st == SLIM_OK) {
        g->reinit = p.u.reinit;
        g->ended = true;
    }
    return st;
}

slim_status slim_mls__state_new(const slim_mls_state_parts *p, slim_mls_group **out) {
    const slim_mls_suite *s = p->client->suite;
    slim_mls_group *g = slim_calloc(1, sizeof *g);
    if (g == NULL) {
        slim_mls_tree_free(p->tree);
        slim_mls_epoch_secrets_cleanup(p->secrets);
        slim_mls_secret_tree_free(p->secret_tree);
        return SLIM_E_NOMEM;
    }
    g->client = slim_mls_client_ref(p->client);
    g->suite = s;
    if (p->opts != NULL)
        g->opts = *p->opts;
    g->tree = p->tree;
    g->priv = *p->priv;
    g->secrets = *p->secrets;
    slim_mls_epoch_secrets_cleanup(p->secrets);
    memcpy(g->confirmation_tag, p->confirmation_tag.ptr, s->nh);
    memcpy(g->interim, p->interim.ptr, s->nh);
    slim_status st = slim_buf_append(&g->gc_buf, p->gc.ptr, p->gc.len);
    if (st == SLIM_OK)
        st = slim_mls_group_context_decode(slim_buf_view(&g->gc_buf), &g->gc);
    if (st == SLIM_OK)
        st = epoch_keys_new(s, slim_buf_view(&g->gc_buf), g->gc.epoch, g->tree, &g->secrets,
                            p->secret_tree, &g->keys);
    else
        slim_mls_secret_tree_free(p->secret_tree);
    /* What the epoch keys now hold, and what only a committer needed. */
    slim_mls_epoch_secrets_forget_joiner(&g->secrets);
    slim_memzero(g->secrets.sender_data_secret, sizeof g->secrets.sender_data_secret);
    slim_memzero(g->secrets.encryption_secret, sizeof g->secrets.encryption_secret);
    slim_memzero(g->secrets.membership_key, sizeof g->secrets.membership_key);
    slim_memzero(g->secrets.confirmation_key, sizeof g->secrets.confirmation_key);
    if (st == SLIM_OK && p->prev != NULL)
        st = keep_past(g, p->prev);
    if (st == SLIM_OK && p->reinit != NULL)
        st = keep_reinit(g, p->reinit);
    if (st != SLIM_OK) {
        slim_mls_group_free(g);
        return st;
    }
    *out = g;
    return SLIM_OK;
}

/* ---- reading a state ------------------------------------------------------- */

const slim_mls_suite *slim_mls_group_suite(const slim_mls_group *g) {
    return g->suite;
}

slim_bytes slim_mls_group_id(const slim_mls_group *g) {
    return g->gc.group_id;
}

uint64_t slim_mls_group_epoch(const slim_mls_group *g) {
    return g->gc.epoch;
}

uint32_t slim_mls_group_own_leaf(const slim_mls_group *g) {
    return g->priv.leaf;
}

slim_bytes slim_mls_group_context_bytes(const slim_mls_group *g) {
    return slim_buf_view(&g->gc_buf);
}

slim_bytes slim_mls_group_extensions(const slim_mls_group *g) {
    return g->gc.extensions;
}

const slim_mls_tree *slim_mls_group_tree(const slim_mls_group *g) {
    return g->tree;
}

uint32_t slim_mls_group_member_count(const slim_mls_group *g) {
    return slim_mls_tree_member_count(g->tree);
}

const slim_mls_leaf_node *slim_mls_group_member(const slim_mls_group *g, uint32_t leaf) {
    return slim_mls_tree_leaf(g->tree, leaf);
}

slim_status slim_mls_group_ratchet_tree(const slim_mls_group *g, slim_buf *out) {
    return slim_mls_tree_encode(g->tree, out);
}

slim_bytes slim_mls_group_epoch_authenticator(const slim_mls_group *g) {
    return slim_bytes_of(g->secrets.epoch_authenticator, g->suite->nh);
}

slim_status slim_mls_group_export(const slim_mls_group *g, const char *label, slim_bytes context,
                                  uint8_t *out, size_t len) {
    return slim_mls_exporter(&g->secrets, label, context, out, len);
}

slim_status slim_mls_group_resumption_psk(const slim_mls_group *g, uint64_t epoch, uint8_t *out) {
    const uint8_t *psk = NULL;
    if (epoch == g->gc.epoch)
        psk = g->secrets.resumption_psk;
    for (uint32_t i = 0; psk == NULL && i < g->n_psks; i++) {
        if (g->psks[i].epoch == epoch)
            psk = g->psks[i].psk;
    }
    if (psk == NULL)
        return SLIM_E_MLS_PSK_NOT_FOUND;
    memcpy(out, psk, g->suite->nh);
    return SLIM_OK;
}

void slim_mls_group_forget_epochs(slim_mls_group *g, uint64_t epoch) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < g->n_past; i++) {
        if (g->past[i]->epoch <= epoch)
            slim_mls__epoch_keys_unref(g->past[i]);
        else
            g->past[n++] = g->past[i];
    }
    g->n_past = n;
    n = 0;
    for (uint32_t i = 0; i < g->n_psks; i++) {
        if (g->psks[i].epoch > epoch)
            g->psks[n++] = g->psks[i];
    }
    if (g->psks != NULL)
        slim_memzero(g->psks + n, (g->n_psks - n) * sizeof *g->psks);
    g->n_psks = n;
}

uint32_t slim_mls_group_past_epochs(const slim_mls_group *g) {
    return g->n_past;
}

bool slim_mls_group_ended(const slim_mls_group *g) {
    return g->ended;
}

slim_status slim_mls_group_reinit_params(const slim_mls_group *g, slim_mls_reinit *out) {
    if (!g->ended)
        return SLIM_E_STATE;
    *out = g->reinit;
    return SLIM_OK;
}

/* ---- framing ----------------------------------------------------------------- */

/* The signature key of an external sender: entry `index` of the
 * GroupContext's external_senders. */
static slim_status external_sender_key(slim_bytes extensions, uint32_t index, slim_bytes *key) {
    slim_mls_extension ext;
    bool found = false;
    slim_status st =
        slim_mls_extension_list_find(extensions, SLIM_MLS_EXT_EXTERNAL_SENDERS, &ext, &found);
    if (st != SLIM_OK || !found)
        return st != SLIM_OK ? st : SLIM_E_MLS_NO_SENDER_KEY;
    slim_mls_tls_reader r, it;
    slim_mls_vec list;
    slim_mls_tls_reader_init(&r, ext.data);
    st = slim_mls_external_senders_decode(&r, &list);
    if (st == SLIM_OK)
        st = slim_mls_tls_reader_finish(&r);
    if (st != SLIM_OK || index >= list.count)
        return st != SLIM_OK ? st : SLIM_E_MLS_NO_SENDER_KEY;
    slim_mls_tls_reader_init(&it, list.body);
    slim_mls_external_sender es;
    for (uint32_t i = 0; i <= index; i++)
        slim_mls_external_sender_decode(&it, &es);
    *key = es.signature_key;
    return slim_mls_tls_reader_status(&it);
}

static slim_status sender_key_cb(void *arg, const slim_mls_framed_content *fc,
                                 const slim_mls_sig_key **key) {
    slim_mls_sender_keys *sk = arg;
    const slim_mls_epoch_keys *k = sk->k;
    slim_mls_sig_key_free(sk->key);
    sk->key = NULL;
    slim_bytes pub;
    slim_status st = SLIM_OK;
    if (fc->sender.type == SLIM_MLS_SENDER_MEMBER) {
        uint32_t i = fc->sender.index;
        const slim_mls_leaf_node *ln = slim_mls_tree_leaf(k->tree, i);
        if (ln == NULL)
            return SLIM_E_MLS_SENDER_BLANK;
        if (i < k->nvkeys && k->vkeys[i] == NULL)
            st = slim_mls_sig_key_new(k->suite->sig, ln->signature_key, false, &k->vkeys[i]);
        if (st == SLIM_OK && i < k->nvkeys) {
            *key = k->vkeys[i];
            return SLIM_OK;
        }
        pub = ln->signature_key; /* (a leaf past the tree's count cannot be) */
    } else if (fc->sender.type == SLIM_MLS_SENDER_EXTERNAL) {
        slim_mls_group_context gc;
        st = slim_mls_group_context_decode(slim_buf_view(&k->gc), &gc);
        if (st == SLIM_OK)
            st = external_sender_key(gc.extensions, fc->sender.index, &pub);
    } else {
        return SLIM_E_MLS_NO_SENDER_KEY;
    }
    if (st == SLIM_OK)
        st = slim_mls_sig_key_new(k->suite->sig, pub, false, &sk->key);
    if (st == SLIM_OK)
        *key = sk->key;
    return st;
}

slim_status slim_mls__framing(const slim_mls_epoch_keys *k, size_t padding_block,
                              slim_mls_sender_keys *sk, slim_mls_framing_ctx *ctx) {
    sk->k = k;
    sk->key = NULL;
    slim_status st = slim_mls_framing_init(ctx, k->suite, slim_buf_view(&k->gc));
    if (st != SLIM_OK)
        return st;
    ctx->n_leaves = slim_mls_tree_leaf_count(k->tree);
    ctx->membership_key = slim_bytes_of(k->membership_key, k->suite->nh);
    ctx->sender_data_secret = slim_bytes_of(k->sender_data_secret, k->suite->nh);
    ctx->secret_tree = k->st;
    ctx->padding_block = padding_block;
    ctx->sender_key = sender_key_cb;
    ctx->sender_key_arg = sk;
    return SLIM_OK;
}

void slim_mls__sender_keys_cleanup(slim_mls_sender_keys *sk) {
    slim_mls_sig_key_free(sk->key);
    sk->key = NULL;
}

slim_status slim_mls__content_sign(const slim_mls_group *g, uint16_t wire_format,
                                   const slim_mls_framed_content *fc, slim_buf *sig) {
    slim_mls_sender_keys sk;
    slim_mls_framing_ctx ctx;
    slim_status st = slim_mls__framing(g->keys, g->opts.padding_block, &sk, &ctx);
    if (st == SLIM_OK)
        st = slim_mls_content_sign(&ctx, wire_format, fc, g->client->signer, sig);
    slim_mls__sender_keys_cleanup(&sk);
    return st;
}

slim_status slim_mls__content_protect(const slim_mls_group *g,
                                      const slim_mls_authenticated_content *ac,
                                      const slim_mls_env *env, slim_buf *out) {
    slim_mls_sender_keys sk;
    slim_mls_framing_ctx ctx;
    slim_status st = slim_mls__framing(g->keys, g->opts.padding_block, &sk, &ctx);
    if (st == SLIM_OK) {
        if (ac->wire_format == SLIM_MLS_WIRE_PRIVATE_MESSAGE)
            st = slim_mls_private_message_protect(&ctx, ac, slim_mls__env_rng(env), out);
        else
            st = slim_mls_public_message_protect(&ctx, ac, out);
    }
    slim_mls__sender_keys_cleanup(&sk);
    return st;
}

slim_status slim_mls_group_protect(slim_mls_group *g, slim_bytes authenticated_data,
                                   slim_bytes data, const slim_mls_env *env, slim_buf *out) {
    if (g->ended)
        return SLIM_E_MLS_GROUP_ENDED;
    slim_mls_sender_keys sk;
    slim_mls_framing_ctx ctx;
    slim_status st = slim_mls__framing(g->keys, g->opts.padding_block, &sk, &ctx);
    if (st == SLIM_OK)
        st = slim_mls_protect_application(&ctx, g->priv.leaf, g->client->signer, authenticated_data,
                                          data, slim_mls__env_rng(env), out);
    slim_mls__sender_keys_cleanup(&sk);
    return st;
}

/* ---- proposals ------------------------------------------------------------------ */

slim_status slim_mls__key_package_view(slim_bytes in, slim_mls_key_package *kp) {
    slim_mls_message m;
    if (slim_mls_message_decode(in, &m) == SLIM_OK) {
        if (m.wire_format != SLIM_MLS_WIRE_KEY_PACKAGE)
            return SLIM_E_MLS_NOT_FRAMED;
        *kp = m.u.key_package;
        return SLIM_OK;
    }
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, in);
    slim_mls_key_package_decode(&r, kp);
    return slim_mls_tls_reader_finish(&r);
}

slim_status slim_mls__proposal_ref(const slim_mls_suite *s,
                                   const slim_mls_authenticated_content *ac, slim_buf *enc,
                                   uint8_t *ref) {
    enc->len = 0;
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, enc);
    slim_mls_authenticated_content_encode(&w, ac);
    slim_status st = slim_mls_tls_writer_status(&w);
    if (st == SLIM_OK)
        st = slim_mls_ref_hash(s, slim_bytes_of(PROPOSAL_REF_LABEL, sizeof PROPOSAL_REF_LABEL - 1),
                               slim_buf_view(enc), ref);
    return st;
}

void slim_mls__built_proposal_cleanup(slim_mls_built_proposal *b) {
    slim_buf_cleanup(&b->store);
    slim_memzero(b, sizeof *b);
}

slim_status slim_mls__proposal_build(const slim_mls_suite *s, const slim_mls_group *g,
                                     const slim_mls_proposal_spec *spec, const slim_mls_env *env,
                                     slim_mls_built_proposal *out) {
    slim_mls_built_proposal b;
    memset(&b, 0, sizeof b);
    b.p.type = spec->type;
    slim_status st = SLIM_OK;
    slim_mls_tls_reader r;
    switch (spec->type) {
    case SLIM_MLS_PROPOSAL_ADD:
        st = slim_mls__key_package_view(spec->key_package, &b.p.u.add);
        break;
    case SLIM_MLS_PROPOSAL_UPDATE:
        if (g == NULL)
            return SLIM_E_INVALID_ARG;
        st = slim_mls_leaf_node_create(s, &g->client->params, SLIM_MLS_LEAF_SOURCE_UPDATE,
                                       g->gc.group_id, g->priv.leaf, slim_mls__env_rng(env),
                                       &b.store, b.update_sk);
        if (st == SLIM_OK) {
            b.own_update = true;
            slim_mls_tls_reader_init(&r, slim_buf_view(&b.store));
            slim_mls_leaf_node_decode(&r, &b.p.u.update);
            st = slim_mls_tls_reader_finish(&r);
        }
        break;
    case SLIM_MLS_PROPOSAL_REMOVE:
        b.p.u.remove = spec->removed;
        break;
    case SLIM_MLS_PROPOSAL_PSK:
        b.p.u.psk.psktype = spec->psk_type;
        if (spec->psk_type == SLIM_MLS_PSK_EXTERNAL) {
            b.p.u.psk.psk_id = spec->psk_id;
        } else if (spec->psk_type == SLIM_MLS_PSK_RESUMPTION && g != NULL) {
            b.p.u.psk.usage = SLIM_MLS_PSK_USAGE_APPLICATION;
            b.p.u.psk.psk_group_id = g->gc.group_id;
            b.p.u.psk.psk_epoch = spec->psk_epoch;
        } else {
            return SLIM_E_INVALID_ARG;
        }
        st = slim_mls_rng_fill(slim_mls__env_rng(env), b.nonce, s->nh);
        b.p.u.psk.psk_nonce = slim_bytes_of(b.nonce, s->nh);
        break;
    case SLIM_MLS_PROPOSAL_REINIT:
        b.p.u.reinit = spec->reinit;
        if (spec->reinit.version == 0)
            st = SLIM_E_MLS_BAD_VERSION;
        else if (spec->reinit.extensions.body.len > 0)
            st = slim_mls_extension_list_check(spec->reinit.extensions.body);
        break;
    case SLIM_MLS_PROPOSAL_EXTERNAL_INIT:
        return SLIM_E_MLS_EXTERNAL_INIT_MISPLACED;
    case SLIM_MLS_PROPOSAL_GROUP_CONTEXT_EXTENSIONS:
        b.p.u.group_context_extensions.body = spec->extensions;
        if (spec->extensions.len > 0)
            st = slim_mls_extension_list_check(spec->extensions);
        break;
    default:
        return SLIM_E_MLS_UNKNOWN_PROPOSAL_TYPE;
    }
    if (st != SLIM_OK) {
        slim_mls__built_proposal_cleanup(&b);
        return st;
    }
    *out = b;
    /* Views into b's own storage must follow it into *out. */
    if (spec->type == SLIM_MLS_PROPOSAL_PSK)
        out->p.u.psk.psk_nonce = slim_bytes_of(out->nonce, s->nh);
    slim_memzero(&b, sizeof b);
    return SLIM_OK;
}

slim_status slim_mls__psk_id_check(const slim_mls_suite *s, const slim_mls_psk_id *id) {
    if (id->psk_nonce.len != s->nh)
        return SLIM_E_MLS_PSK_BAD_NONCE;
    if (id->psktype == SLIM_MLS_PSK_RESUMPTION && id->usage != SLIM_MLS_PSK_USAGE_APPLICATION)
        return SLIM_E_MLS_PSK_BAD_USAGE;
    return SLIM_OK;
}

/* A resumption PSK of group `g` (current or kept epoch), or NULL. */
static const uint8_t *resumption_of(const slim_mls_group *g, const slim_mls_psk_id *id) {
    if (g == NULL || !same(g->gc.group_id, id->psk_group_id))
        return NULL;
    if (id->psk_epoch == g->gc.epoch)
        return g->secrets.resumption_psk;
    for (uint32_t i = 0; i < g->n_psks; i++) {
        if (g->psks[i].epoch == id->psk_epoch)
            return g->psks[i].psk;
    }
    return NULL;
}

slim_status slim_mls__psk_lookup(const slim_mls_group *g, const slim_mls_group *prior,
                                 const slim_mls_env *env, const slim_mls_psk_id *id,
                                 slim_bytes *secret) {
    if (id->psktype == SLIM_MLS_PSK_EXTERNAL) {
        for (size_t i = 0; env != NULL && i < env->n_psks; i++) {
            if (same(env->psks[i].id, id->psk_id)) {
                *secret = env->psks[i].secret;
                return SLIM_OK;
            }
        }
        return SLIM_E_MLS_PSK_NOT_FOUND;
    }
    const uint8_t *psk = resumption_of(g, id);
    const slim_mls_group *from = g;
    if (psk == NULL) {
        psk = resumption_of(prior, id);
        from = prior;
    }
    if (psk == NULL)
        return SLIM_E_MLS_PSK_NOT_FOUND;
    *secret = slim_bytes_of(psk, from->suite->nh);
    return SLIM_OK;
}

slim_status slim_mls__proposal_check(const slim_mls_group *g, const slim_mls_proposal *p,
                                     const slim_mls_sender *sender, const slim_mls_env *env,
                                     bool sending) {
    slim_mls_validation v =
        slim_mls__validation(g->client, &g->opts, g->gc.group_id, g->gc.extensions, env, sending);
    switch (p->type) {
    case SLIM_MLS_PROPOSAL_ADD:
        /* What depends on the rest of the Commit (the same client twice,
         * a member added again) is checked when it is committed. */
        return slim_mls_key_package_validate(&v, NULL, &p->u.add);
    case SLIM_MLS_PROPOSAL_UPDATE:
        if (sender->type != SLIM_MLS_SENDER_MEMBER)
            return SLIM_E_MLS_SENDER_NOT_ALLOWED;
        return slim_mls_leaf_node_validate(&v, g->tree, &p->u.update, SLIM_MLS_LEAF_SOURCE_UPDATE,
                                           sender->index, sender->index);
    case SLIM_MLS_PROPOSAL_REMOVE:
        return slim_mls_tree_leaf(g->tree, p->u.remove) != NULL ? SLIM_OK : SLIM_E_MLS_REMOVE_BLANK;
    case SLIM_MLS_PROPOSAL_PSK:
        return slim_mls__psk_id_check(g->suite, &p->u.psk);
    case SLIM_MLS_PROPOSAL_REINIT:
        return p->u.reinit.version < g->gc.version ? SLIM_E_MLS_BAD_VERSION : SLIM_OK;
    case SLIM_MLS_PROPOSAL_GROUP_CONTEXT_EXTENSIONS:
        v.group_extensions = p->u.group_context_extensions.body;
        for (uint32_t l = 0; l < slim_mls_tree_leaf_count(g->tree); l++) {
            const slim_mls_leaf_node *ln = slim_mls_tree_leaf(g->tree, l);
            slim_status st = ln != NULL ? slim_mls_leaf_node_supports_group(&v, ln) : SLIM_OK;
            if (st != SLIM_OK)
                return st;
        }
        return SLIM_OK;
    default: /* ExternalInit belongs only to an external Commit */
        return SLIM_E_MLS_EXTERNAL_INIT_MISPLACED;
    }
}

/* Keeps a proposal of the epoch (nothing when it is kept already);
 * ref (Nh) gets its ProposalRef. */
static slim_status pending_add(slim_mls_group *g, const slim_mls_authenticated_content *ac,
                               const slim_mls_built_proposal *own, uint8_t *ref) {
    slim_mls_pending *p = slim_calloc(1, sizeof *p);
    if (p == NULL)
        return SLIM_E_NOMEM;
    slim_status st = slim_mls__proposal_ref(g->suite, ac, &p->ac, p->ref);
    if (st == SLIM_OK) {
        slim_mls_tls_reader r;
        slim_mls_tls_reader_init(&r, slim_buf_view(&p->ac));
        slim_mls_authenticated_content_decode(&r, &p->view);
        st = slim_mls_tls_reader_finish(&r);
    }
    if (st == SLIM_OK)
        memcpy(ref, p->ref, g->suite->nh);
    for (size_t i = 0; st == SLIM_OK && i < g->n_props; i++) {
        if (memcmp(g->props[i]->ref, p->ref, g->suite->nh) == 0) {
            pending_free(p);
            return SLIM_OK;
        }
    }
    if (st == SLIM_OK && g->n_props == g->cap_props) {
        size_t cap = g->cap_props ? 2 * g->cap_props : 8;
        slim_mls_pending **a = slim_realloc(g->props, cap * sizeof *a);
        if (a == NULL)
            st = SLIM_E_NOMEM;
        else {
            g->props = a;
            g->cap_props = cap;
        }
    }
    if (st != SLIM_OK) {
        pending_free(p);
        return st;
    }
    if (own != NULL && own->own_update) {
        p->own_update = true;
        memcpy(p->update_sk, own->update_sk, sizeof p->update_sk);
    }
    g->props[g->n_props++] = p;
    return SLIM_OK;
}

static bool handshake_wire_format(uint16_t wf) {
    return wf == SLIM_MLS_WIRE_PUBLIC_MESSAGE || wf == SLIM_MLS_WIRE_PRIVATE_MESSAGE;
}

slim_status slim_mls_group_propose(slim_mls_group *g, const slim_mls_proposal_spec *spec,
                                   uint16_t wire_format, slim_bytes authenticated_data,
                                   const slim_mls_env *env, slim_buf *out, uint8_t *ref_out) {
    if (g->ended)
        return SLIM_E_MLS_GROUP_ENDED;
    if (!handshake_wire_format(wire_format))
        return SLIM_E_INVALID_ARG;
    slim_mls_built_proposal b;
    slim_status st = slim_mls__proposal_build(g->suite, g, spec, env, &b);
    if (st != SLIM_OK)
        return st;
    slim_mls_authenticated_content ac;
    memset(&ac, 0, sizeof ac);
    ac.wire_format = wire_format;
    ac.content.group_id = g->gc.group_id;
    ac.content.epoch = g->gc.epoch;
    ac.content.sender.type = SLIM_MLS_SENDER_MEMBER;
    ac.content.sender.index = g->priv.leaf;
    ac.content.authenticated_data = authenticated_data;
    ac.content.content_type = SLIM_MLS_CONTENT_PROPOSAL;
    ac.content.u.proposal = b.p;
    /* What we send must pass what receivers check, lifetimes included. */
    st = slim_mls__proposal_check(g, &b.p, &ac.content.sender, env, true);
    slim_buf sig = SLIM_BUF_INIT;
    if (st == SLIM_OK)
        st = slim_mls__content_sign(g, wire_format, &ac.content, &sig);
    ac.auth.signature = slim_buf_view(&sig);
    size_t start = out->len;
    if (st == SLIM_OK)
        st = slim_mls__content_protect(g, &ac, env, out);
    uint8_t ref[NH_MAX];
    if (st == SLIM_OK) {
        st = pending_add(g, &ac, &b, ref);
        if (st != SLIM_OK)
            out->len = start;
    }
    if (st == SLIM_OK && ref_out != NULL)
        memcpy(ref_out, ref, g->suite->nh);
    slim_buf_cleanup(&sig);
    slim_mls__built_proposal_cleanup(&b);
    return st;
}

slim_status slim_mls_propose_external(const slim_mls_suite *suite, const slim_mls_sig_key *signer,
                                      uint8_t sender_type, uint32_t sender_index,
                                      slim_bytes group_id, uint64_t epoch,
                                      const slim_mls_proposal_spec *spec, const slim_mls_env *env,
                                      slim_buf *out) {
    if (sender_type != SLIM_MLS_SENDER_EXTERNAL &&
        sender_type != SLIM_MLS_SENDER_NEW_MEMBER_PROPOSAL)
        return SLIM_E_INVALID_ARG;
    slim_mls_built_proposal b;
    slim_status st = slim_mls__proposal_build(suite, NULL, spec, env, &b);
    if (st != SLIM_OK)
        return st;
    slim_mls_authenticated_content ac;
    memset(&ac, 0, sizeof ac);
    ac.wire_format = SLIM_MLS_WIRE_PUBLIC_MESSAGE;
    ac.content.group_id = group_id;
    ac.content.epoch = epoch;
    ac.content.sender.type = sender_type;
    ac.content.sender.index = sender_index;
    ac.content.content_type = SLIM_MLS_CONTENT_PROPOSAL;
    ac.content.u.proposal = b.p;
    /* The TBS of these senders holds no GroupContext: a stand-in with the
     * group's id, epoch and suite serves the framing checks. */
    slim_mls_group_context gc = {SLIM_MLS_VERSION_MLS10,
                                 suite->id,
                                 group_id,
                                 epoch,
                                 slim_bytes_of(NULL, 0),
                                 slim_bytes_of(NULL, 0),
                                 slim_bytes_of(NULL, 0)};
    slim_buf gcb = SLIM_BUF_INIT, sig = SLIM_BUF_INIT;
    slim_mls_framing_ctx ctx;
    st = slim_mls_group_context_encode(&gc, &gcb);
    if (st == SLIM_OK)
        st = slim_mls_framing_init(&ctx, suite, slim_buf_view(&gcb));
    if (st == SLIM_OK)
        st = slim_mls_content_sign(&ctx, ac.wire_format, &ac.content, signer, &sig);
    ac.auth.signature = slim_buf_view(&sig);
    if (st == SLIM_OK)
        st = slim_mls_public_message_protect(&ctx, &ac, out);
    slim_buf_cleanup(&gcb);
    slim_buf_cleanup(&sig);
    slim_mls__built_proposal_cleanup(&b);
    return st;
}

/* ---- GroupInfo ------------------------------------------------------------------ */

slim_status slim_mls__group_info_write(const slim_mls_group *g, bool with_tree,
                                       bool with_external_pub, slim_buf *out) {
    const slim_mls_suite *s = g->suite;
    slim_buf exts = SLIM_BUF_INIT, sig = SLIM_BUF_INIT;
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, &exts);
    slim_status st = SLIM_OK;
    if (with_tree)
        st = slim_mls_tree_extension_write(g->tree, &w);
    if (st == SLIM_OK && with_external_pub) {
        uint8_t sk[SLIM_MLS_MAX_DH_PRIVATE], pk[SLIM_MLS_MAX_DH_PUBLIC];
        st = slim_mls_external_key_pair(&g->secrets, sk, pk);
        slim_memzero(sk, sizeof sk);
        slim_mls_tls_put_u16(&w, SLIM_MLS_EXT_EXTERNAL_PUB);
        size_t mark = slim_mls_tls_vec_begin(&w);
        slim_mls_external_pub_encode(&w, slim_bytes_of(pk, s->kem_npk));
        slim_mls_tls_vec_end(&w, mark);
    }
    if (st == SLIM_OK)
        st = slim_mls_tls_writer_status(&w);
    slim_mls_group_info gi;
    memset(&gi, 0, sizeof gi);
    gi.group_context = g->gc;
    gi.extensions.body = slim_buf_view(&exts);
    gi.confirmation_tag = slim_bytes_of(g->confirmation_tag, s->nh);
    gi.signer = g->priv.leaf;
    if (st == SLIM_OK)
        st = slim_mls_group_info_sign(s, &gi, g->client->signer, &sig);
    size_t start = out->len;
    if (st == SLIM_OK) {
        slim_mls_tls_writer_init(&w, out);
        slim_mls_group_info_encode(&w, &gi);
        st = slim_mls_tls_writer_status(&w);
        if (st != SLIM_OK)
            out->len = start;
    }
    slim_buf_cleanup(&exts);
    slim_buf_cleanup(&sig);
    return st;
}

slim_status slim_mls_group_group_info(const slim_mls_group *g, bool with_tree,
                                      bool with_external_pub, slim_buf *out) {
    size_t start = out->len;
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, out);
    slim_mls_tls_put_u16(&w, SLIM_MLS_VERSION_MLS10);
    slim_status st = slim_mls_tls_put_u16(&w, SLIM_MLS_WIRE_GROUP_INFO);
    if (st == SLIM_OK)
        st = slim_mls__group_info_write(g, with_tree, with_external_pub, out);
    if (st != SLIM_OK)
        out->len = start;
    return st;
}

/* ---- receiving ------------------------------------------------------------------ */

void slim_mls_received_cleanup(slim_mls_received *r) {
    slim_buf_cleanup_secret(&r->data);
    slim_buf_cleanup(&r->authenticated_data);
    slim_mls_group_free(r->group);
    memset(r, 0, sizeof *r);
}

/* The message keys of `epoch`: this epoch's or a kept earlier one's. */
static slim_mls_epoch_keys *keys_of(const slim_mls_group *g, uint64_t epoch) {
    if (epoch == g->gc.epoch)
        return g->keys;
    for (uint32_t i = 0; i < g->n_past; i++) {
        if (g->past[i]->epoch == epoch)
            return g->past[i];
    }
    return NULL;
}

slim_status slim_mls_group_receive(slim_mls_group *g, slim_bytes message, const slim_mls_env *env,
                                   slim_mls_received *out) {
    slim_mls_message m;
    slim_status st = slim_mls_message_decode(message, &m);
    if (st != SLIM_OK)
        return st;
    if (!handshake_wire_format(m.wire_format))
        return SLIM_E_MLS_NOT_FRAMED;
    bool pub = m.wire_format == SLIM_MLS_WIRE_PUBLIC_MESSAGE;
    slim_bytes group_id = pub ? m.u.public_message.content.group_id : m.u.private_message.group_id;
    uint64_t epoch = pub ? m.u.public_message.content.epoch : m.u.private_message.epoch;
    uint8_t type = pub ? m.u.public_message.content.content_type : m.u.private_message.content_type;
    if (!same(group_id, g->gc.group_id))
        return SLIM_E_MLS_WRONG_GROUP;
    slim_mls_epoch_keys *k = keys_of(g, epoch);
    /* Handshake messages of an earlier epoch are of no use any more. */
    if (k == NULL || (k != g->keys && type != SLIM_MLS_CONTENT_APPLICATION))
        return SLIM_E_MLS_WRONG_EPOCH;
    if (g->ended && type != SLIM_MLS_CONTENT_APPLICATION)
        return SLIM_E_MLS_GROUP_ENDED;
    if (pub && type == SLIM_MLS_CONTENT_COMMIT &&
        m.u.public_message.content.sender.type == SLIM_MLS_SENDER_MEMBER &&
        m.u.public_message.content.sender.index == g->priv.leaf)
        return SLIM_E_MLS_COMMIT_FROM_SELF;

    slim_mls_sender_keys sk;
    slim_mls_framing_ctx ctx;
    slim_buf plaintext = SLIM_BUF_INIT;
    slim_mls_authenticated_content ac;
    slim_mls_received r;
    memset(&r, 0, sizeof r);
    /* A handshake PrivateMessage's key is erased only once the message
     * was acted on: a failure of ours (out of memory) must leave it. */
    uint32_t generation = 0;
    st = slim_mls__framing(k, g->opts.padding_block, &sk, &ctx);
    ctx.keep_key = type != SLIM_MLS_CONTENT_APPLICATION;
    ctx.generation = &generation;
    if (st == SLIM_OK)
        st = pub ? slim_mls_public_message_unprotect(&ctx, &m, &ac)
                 : slim_mls_private_message_unprotect(&ctx, &m, &plaintext, &ac);
    slim_mls__sender_keys_cleanup(&sk);
    if (st == SLIM_OK) {
        r.content_type = ac.content.content_type;
        r.epoch = epoch;
        r.sender = ac.content.sender;
        st = slim_buf_append(&r.authenticated_data, ac.content.authenticated_data.ptr,
                             ac.content.authenticated_data.len);
    }
    if (st == SLIM_OK && r.content_type == SLIM_MLS_CONTENT_APPLICATION) {
        st = slim_buf_append(&r.data, ac.content.u.application_data.ptr,
                             ac.content.u.application_data.len);
    } else if (st == SLIM_OK && r.content_type == SLIM_MLS_CONTENT_PROPOSAL) {
        r.proposal_type = ac.content.u.proposal.type;
        st = slim_mls__proposal_check(g, &ac.content.u.proposal, &ac.content.sender, env, false);
        if (st == SLIM_OK)
            st = pending_add(g, &ac, NULL, r.proposal_ref);
    } else if (st == SLIM_OK) {
        if (ac.content.sender.type == SLIM_MLS_SENDER_MEMBER &&
            ac.content.sender.index == g->priv.leaf)
            st = SLIM_E_MLS_COMMIT_FROM_SELF;
        if (st == SLIM_OK)
            st = slim_mls__commit_process(g, &ac, env, &r);
    }
    if (st == SLIM_OK && !pub && ctx.keep_key)
        st = slim_mls_secret_tree_erase(k->st, r.sender.index, SLIM_MLS_RATCHET_HANDSHAKE,
                                        generation);
    slim_buf_cleanup_secret(&plaintext);
    if (st != SLIM_OK) {
        slim_mls_received_cleanup(&r);
        return st;
    }
    *out = r;
    return SLIM_OK;
}
