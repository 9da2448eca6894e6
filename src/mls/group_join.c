/*
 * Joining a group from a Welcome (RFC 9420 §12.4.3.1), the GroupInfo and
 * tree checks shared with external joins (§12.4.3.2), and the creation of
 * a one-member group (§11). The joiner's state is made only once every
 * check has passed; the Welcome's plaintexts (group secrets) are wiped.
 */
#include "core/alloc.h"
#include "core/util.h"
#include "mls/extensions.h"
#include "mls/group_internal.h"
#include "mls/transcript.h"

#include <string.h>

static const char WELCOME_LABEL[] = "Welcome";

static bool same(slim_bytes a, slim_bytes b) {
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

slim_status slim_mls__group_info_verify(const slim_mls_client *c, const slim_mls_group_options *o,
                                        const slim_mls_group_info *gi, slim_bytes tree_in,
                                        const slim_mls_env *env, slim_mls_tree **tree_out) {
    const slim_mls_suite *s = c->suite;
    const slim_mls_group_context *gc = &gi->group_context;
    if (gc->cipher_suite != s->id)
        return SLIM_E_MLS_SUITE_MISMATCH;
    slim_mls_extension ext;
    bool found = false;
    slim_status st =
        slim_mls_extension_list_find(gi->extensions.body, SLIM_MLS_EXT_RATCHET_TREE, &ext, &found);
    if (st != SLIM_OK)
        return st;
    slim_bytes enc = found ? ext.data : tree_in;
    if (enc.len == 0)
        return SLIM_E_MLS_NO_RATCHET_TREE;
    slim_mls_tree *tree = NULL;
    st = slim_mls_tree_decode(s, enc, &tree);
    if (st != SLIM_OK)
        return st;
    const slim_mls_leaf_node *signer = slim_mls_tree_leaf(tree, gi->signer);
    if (signer == NULL)
        st = SLIM_E_MLS_GROUP_INFO_SIGNER;
    if (st == SLIM_OK)
        st = slim_mls_group_info_verify(s, gi, signer->signature_key);
    slim_mls_validation v = slim_mls__validation(c, o, gc->group_id, gc->extensions, env, false);
    if (st == SLIM_OK)
        st = slim_mls_tree_validate(tree, &v, gc->tree_hash);
    if (st != SLIM_OK) {
        slim_mls_tree_free(tree);
        return st;
    }
    *tree_out = tree;
    return SLIM_OK;
}

/* ---- creating a group ----------------------------------------------------------- */

slim_status slim_mls_group_create(slim_mls_client *c, slim_bytes group_id, slim_bytes extensions,
                                  const slim_mls_group_options *opts, const slim_mls_env *env,
                                  slim_mls_group **out) {
    static const slim_mls_group_options no_opts;
    const slim_mls_suite *s = c->suite;
    if (opts == NULL)
        opts = &no_opts;
    if (group_id.len == 0)
        return SLIM_E_INVALID_ARG;
    slim_status st = extensions.len > 0 ? slim_mls_extension_list_check(extensions) : SLIM_OK;
    if (st != SLIM_OK)
        return st;
    const slim_mls_rng *rng = slim_mls__env_rng(env);
    slim_buf leaf = SLIM_BUF_INIT, gcb = SLIM_BUF_INIT;
    uint8_t leaf_sk[SLIM_MLS_MAX_DH_PRIVATE], th[NH_MAX], joiner[NH_MAX], tag[NH_MAX];
    uint8_t interim[NH_MAX];
    slim_mls_tree *tree = NULL;
    slim_mls_tree_priv priv;
    memset(&priv, 0, sizeof priv);
    slim_mls_epoch_secrets es;
    memset(&es, 0, sizeof es);
    slim_mls_leaf_node ln;
    st = slim_mls_leaf_node_create(s, &c->params, SLIM_MLS_LEAF_SOURCE_KEY_PACKAGE, group_id, 0,
                                   rng, &leaf, leaf_sk);
    if (st == SLIM_OK) {
        slim_mls_tls_reader r;
        slim_mls_tls_reader_init(&r, slim_buf_view(&leaf));
        slim_mls_leaf_node_decode(&r, &ln);
        st = slim_mls_tls_reader_finish(&r);
    }
    /* The creator's own leaf must suit the extensions it chose. */
    slim_mls_validation v = slim_mls__validation(c, opts, group_id, extensions, env, true);
    if (st == SLIM_OK)
        st = slim_mls_leaf_node_supports_group(&v, &ln);
    if (st == SLIM_OK)
        st = slim_mls_tree_new(s, &tree);
    if (st == SLIM_OK)
        st = slim_mls_tree_add(tree, &ln, NULL);
    if (st == SLIM_OK)
        st = slim_mls_tree_priv_init(&priv, tree, 0, slim_bytes_of(leaf_sk, s->kem_nsk));
    if (st == SLIM_OK)
        st = slim_mls_tree_hash(tree, th);
    slim_mls_group_context gc = {
        SLIM_MLS_VERSION_MLS10, s->id,     group_id, 0, slim_bytes_of(th, s->nh),
        slim_bytes_of(NULL, 0), extensions};
    if (st == SLIM_OK)
        st = slim_mls_group_context_encode(&gc, &gcb);
    /* A fresh epoch secret (§11): the schedule from a random joiner
     * secret, no PSK. */
    if (st == SLIM_OK)
        st = slim_mls_rng_fill(rng, joiner, s->nh);
    if (st == SLIM_OK)
        st = slim_mls_key_schedule_join(s, slim_bytes_of(joiner, s->nh), slim_bytes_of(NULL, 0),
                                        slim_buf_view(&gcb), &es);
    if (st == SLIM_OK)
        st = slim_mls_confirmation_tag(s, slim_bytes_of(es.confirmation_key, s->nh),
                                       slim_bytes_of(NULL, 0), tag);
    if (st == SLIM_OK)
        st = slim_mls_transcript_interim(s, slim_bytes_of(NULL, 0), slim_bytes_of(tag, s->nh),
                                         interim);
    if (st == SLIM_OK) {
        slim_mls_state_parts parts = {.client = c,
                                      .opts = opts,
                                      .gc = slim_buf_view(&gcb),
                                      .tree = tree,
                                      .priv = &priv,
                                      .secrets = &es,
                                      .confirmation_tag = slim_bytes_of(tag, s->nh),
                                      .interim = slim_bytes_of(interim, s->nh)};
        tree = NULL;
        st = slim_mls__state_new(&parts, out);
    }
    slim_mls_tree_free(tree);
    slim_mls_tree_priv_cleanup(&priv);
    slim_mls_epoch_secrets_cleanup(&es);
    slim_memzero(leaf_sk, sizeof leaf_sk);
    slim_memzero(joiner, sizeof joiner);
    slim_buf_cleanup(&leaf);
    slim_buf_cleanup(&gcb);
    return st;
}

/* ---- joining from a Welcome --------------------------------------------------------- */

/* The joiner's encryption key and client match the KeyPackage. */
static slim_status check_keys(const slim_mls_join_params *p, const slim_mls_key_package *kp) {
    const slim_mls_suite *s = p->client->suite;
    uint8_t pk[SLIM_MLS_MAX_DH_PUBLIC];
    if (p->keys == NULL || p->keys->len != s->kem_nsk)
        return SLIM_E_MLS_BAD_KEY;
    slim_status st = slim_mls_hpke_public_key(
        s->hpke.kem_id, slim_bytes_of(p->keys->encryption_priv, s->kem_nsk), pk);
    if (st == SLIM_OK && !same(kp->leaf_node.encryption_key, slim_bytes_of(pk, s->kem_npk)))
        st = SLIM_E_MLS_PRIVATE_KEY_MISMATCH;
    if (st == SLIM_OK &&
        !same(kp->leaf_node.signature_key, slim_mls_client_signature_key(p->client)))
        st = SLIM_E_MLS_PRIVATE_KEY_MISMATCH;
    return st;
}

/* The PSKs a Welcome names (§12.4.3.1): each available, at most one of
 * usage reinit or branch (noted in w). psks[0..n) are filled. */
static slim_status welcome_psks(const slim_mls_suite *s, const slim_mls_group *prior,
                                const slim_mls_env *env, const slim_mls_vec *ids,
                                slim_mls_psk *psks, slim_mls_welcome_info *w) {
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, ids->body);
    slim_status st = SLIM_OK;
    for (uint32_t i = 0; st == SLIM_OK && i < ids->count; i++) {
        slim_mls_psk_id *id = &psks[i].id;
        slim_mls_psk_id_decode(&r, id);
        if (id->psk_nonce.len != s->nh)
            return SLIM_E_MLS_PSK_BAD_NONCE;
        if (id->psktype == SLIM_MLS_PSK_RESUMPTION && id->usage != SLIM_MLS_PSK_USAGE_APPLICATION) {
            if (w->resumption_usage != 0)
                return SLIM_E_MLS_PSK_BAD_USAGE;
            w->resumption_usage = id->usage;
            w->resumption_id = *id;
        }
        st = slim_mls__psk_lookup(NULL, prior, env, id, &psks[i].secret);
    }
    return st;
}

/* True when every member of `from` has a leaf with the same credential
 * in `in`: "the same client" as the application sees it is, by default,
 * the same credential. */
static bool members_match(const slim_mls_tree *from, const slim_mls_tree *in) {
    for (uint32_t i = 0; i < slim_mls_tree_leaf_count(from); i++) {
        const slim_mls_leaf_node *a = slim_mls_tree_leaf(from, i);
        bool found = a == NULL;
        for (uint32_t j = 0; !found && j < slim_mls_tree_leaf_count(in); j++) {
            const slim_mls_leaf_node *b = slim_mls_tree_leaf(in, j);
            found = b != NULL && b->credential.type == a->credential.type &&
                    same(b->credential.body, a->credential.body);
        }
        if (!found)
            return false;
    }
    return true;
}

/* The rules of a reinit or branch Welcome (§11.2, §11.3, §12.4.3.1):
 * epoch 1; for reinit, the old group ended with a ReInit naming this
 * group's parameters and every old member is in it; for branch, the same
 * version and suite and only old members. */
static slim_status check_resumption(const slim_mls_group *old, const slim_mls_welcome_info *w,
                                    const slim_mls_tree *tree) {
    const slim_mls_group_context *gc = &w->group_info.group_context;
    const slim_mls_psk_id *id = &w->resumption_id;
    if (gc->epoch != 1 || old == NULL || !same(old->gc.group_id, id->psk_group_id))
        return SLIM_E_MLS_REINIT_MISMATCH;
    if (w->resumption_usage == SLIM_MLS_PSK_USAGE_REINIT) {
        const slim_mls_reinit *ri = &old->reinit;
        if (!old->ended || id->psk_epoch != old->gc.epoch || !same(ri->group_id, gc->group_id) ||
            ri->version != gc->version || ri->cipher_suite != gc->cipher_suite ||
            !same(ri->extensions.body, gc->extensions) || !members_match(old->tree, tree))
            return SLIM_E_MLS_REINIT_MISMATCH;
        return SLIM_OK;
    }
    if (w->resumption_usage != SLIM_MLS_PSK_USAGE_BRANCH || old->gc.version != gc->version ||
        old->gc.cipher_suite != gc->cipher_suite || !members_match(tree, old->tree))
        return SLIM_E_MLS_REINIT_MISMATCH;
    return SLIM_OK;
}

/* The secrets for this KeyPackage, decrypted into w->gs_buf and decoded. */
static slim_status open_secrets(const slim_mls_suite *s, const slim_mls_welcome *wm,
                                const slim_mls_key_package *kp, slim_bytes init_priv,
                                slim_mls_welcome_info *w, slim_mls_group_secrets *gs) {
    uint8_t ref[NH_MAX];
    slim_status st = slim_mls_key_package_ref(s, kp, ref);
    slim_mls_encrypted_group_secrets egs;
    bool found = false;
    if (st == SLIM_OK)
        st = slim_mls_welcome_find_secrets(wm, slim_bytes_of(ref, s->nh), &egs, &found);
    if (st == SLIM_OK && !found)
        st = SLIM_E_MLS_WELCOME_NOT_FOR_US;
    if (st == SLIM_OK) {
        st = slim_mls_decrypt_with_label(s, init_priv, WELCOME_LABEL, wm->encrypted_group_info,
                                         egs.encrypted_group_secrets.kem_output,
                                         egs.encrypted_group_secrets.ciphertext, &w->gs_buf);
        if (st == SLIM_E_MLS_AEAD_OPEN || st == SLIM_E_MLS_BAD_KEY || st == SLIM_E_MLS_DH_ZERO)
            st = SLIM_E_MLS_WELCOME_DECRYPT;
    }
    if (st == SLIM_OK) {
        slim_mls_tls_reader r;
        slim_mls_tls_reader_init(&r, slim_buf_view(&w->gs_buf));
        slim_mls_group_secrets_decode(&r, gs);
        st = slim_mls_tls_reader_finish(&r);
    }
    if (st == SLIM_OK &&
        (gs->joiner_secret.len != s->nh || (gs->has_path_secret && gs->path_secret.len != s->nh)))
        st = SLIM_E_MLS_BAD_VALUE;
    if (st == SLIM_OK && gs->has_path_secret) {
        w->has_path_secret = true;
        memcpy(w->path_secret, gs->path_secret.ptr, s->nh);
    }
    return st;
}

/* Decrypts the GroupInfo with the welcome key into w->gi_buf. */
static slim_status open_group_info(const slim_mls_suite *s, const slim_mls_welcome *wm,
                                   slim_bytes joiner, slim_bytes psk_secret,
                                   slim_mls_welcome_info *w) {
    uint8_t ws[NH_MAX], key[SLIM_MLS_MAX_AEAD_KEY], nonce[SLIM_MLS_MAX_AEAD_NONCE];
    slim_status st = slim_mls_welcome_secret(s, joiner, psk_secret, ws);
    if (st == SLIM_OK)
        st = slim_mls_welcome_key_nonce(s, slim_bytes_of(ws, s->nh), key, nonce);
    if (st == SLIM_OK) {
        st = slim_mls_suite_open(s, slim_bytes_of(key, s->nk), slim_bytes_of(nonce, s->nn),
                                 slim_bytes_of(NULL, 0), wm->encrypted_group_info, &w->gi_buf);
        if (st == SLIM_E_MLS_AEAD_OPEN)
            st = SLIM_E_MLS_GROUP_INFO_DECRYPT;
    }
    if (st == SLIM_OK) {
        slim_mls_tls_reader r;
        slim_mls_tls_reader_init(&r, slim_buf_view(&w->gi_buf));
        slim_mls_group_info_decode(&r, &w->group_info);
        st = slim_mls_tls_reader_finish(&r);
    }
    if (st == SLIM_OK && w->group_info.group_context.cipher_suite != s->id)
        st = SLIM_E_MLS_SUITE_MISMATCH;
    slim_memzero(ws, sizeof ws);
    slim_memzero(key, sizeof key);
    slim_memzero(nonce, sizeof nonce);
    return st;
}

void slim_mls_welcome_info_cleanup(slim_mls_welcome_info *w) {
    slim_buf_cleanup(&w->gi_buf);
    slim_buf_cleanup_secret(&w->gs_buf);
    slim_mls_epoch_secrets_cleanup(&w->secrets);
    slim_memzero(w, sizeof *w);
}

slim_status slim_mls_welcome_open(const slim_mls_suite *s, slim_bytes welcome,
                                  slim_bytes key_package, slim_bytes init_priv,
                                  const slim_mls_group *prior, const slim_mls_env *env,
                                  slim_mls_welcome_info *out) {
    slim_mls_message m;
    slim_status st = slim_mls_message_decode(welcome, &m);
    if (st == SLIM_OK && m.wire_format != SLIM_MLS_WIRE_WELCOME)
        st = SLIM_E_MLS_NOT_FRAMED;
    if (st == SLIM_OK && m.u.welcome.cipher_suite != s->id)
        st = SLIM_E_MLS_SUITE_MISMATCH;
    slim_mls_key_package kp;
    if (st == SLIM_OK)
        st = slim_mls__key_package_view(key_package, &kp);
    if (st == SLIM_OK && kp.cipher_suite != s->id)
        st = SLIM_E_MLS_SUITE_MISMATCH;
    uint8_t pk[SLIM_MLS_MAX_DH_PUBLIC];
    if (st == SLIM_OK)
        st = init_priv.len == s->kem_nsk ? slim_mls_hpke_public_key(s->hpke.kem_id, init_priv, pk)
                                         : SLIM_E_MLS_BAD_KEY;
    if (st == SLIM_OK && !same(kp.init_key, slim_bytes_of(pk, s->kem_npk)))
        st = SLIM_E_MLS_PRIVATE_KEY_MISMATCH;
    if (st != SLIM_OK)
        return st;
    slim_mls_welcome_info w;
    memset(&w, 0, sizeof w);
    slim_mls_group_secrets gs;
    slim_mls_psk *psks = NULL;
    uint8_t psk_secret[NH_MAX];
    st = open_secrets(s, &m.u.welcome, &kp, init_priv, &w, &gs);
    if (st == SLIM_OK) {
        psks = slim_calloc(gs.psks.count + 1, sizeof *psks);
        if (psks == NULL)
            st = SLIM_E_NOMEM;
    }
    if (st == SLIM_OK)
        st = welcome_psks(s, prior, env, &gs.psks, psks, &w);
    if (st == SLIM_OK)
        st = slim_mls_psk_secret(s, psks, gs.psks.count, psk_secret);
    if (st == SLIM_OK)
        st = open_group_info(s, &m.u.welcome, gs.joiner_secret, slim_bytes_of(psk_secret, s->nh),
                             &w);
    slim_buf gcb = SLIM_BUF_INIT;
    const slim_mls_group_info *gi = &w.group_info;
    if (st == SLIM_OK)
        st = slim_mls_group_context_encode(&gi->group_context, &gcb);
    if (st == SLIM_OK)
        st = slim_mls_key_schedule_join(s, gs.joiner_secret, slim_bytes_of(psk_secret, s->nh),
                                        slim_buf_view(&gcb), &w.secrets);
    if (st == SLIM_OK) {
        st = slim_mls_confirmation_tag_verify(s, slim_bytes_of(w.secrets.confirmation_key, s->nh),
                                              gi->group_context.confirmed_transcript_hash,
                                              gi->confirmation_tag);
        if (st == SLIM_E_MLS_BAD_MAC)
            st = SLIM_E_MLS_CONFIRMATION_TAG;
    }
    slim_mls_epoch_secrets_forget_joiner(&w.secrets);
    slim_memzero(psk_secret, sizeof psk_secret);
    slim_free(psks);
    slim_buf_cleanup(&gcb);
    if (st != SLIM_OK) {
        slim_mls_welcome_info_cleanup(&w);
        return st;
    }
    *out = w;
    return SLIM_OK;
}

/* This member's leaf in the tree and its private keys: the leaf key,
 * and the path secret from the common ancestor with the signer up. */
static slim_status own_keys(const slim_mls_join_params *p, const slim_mls_key_package *kp,
                            const slim_mls_tree *tree, const slim_mls_welcome_info *w,
                            slim_mls_tree_priv *priv) {
    const slim_mls_suite *s = p->client->suite;
    slim_buf enc = SLIM_BUF_INIT;
    slim_mls_tls_writer tw;
    slim_mls_tls_writer_init(&tw, &enc);
    slim_mls_leaf_node_encode(&tw, &kp->leaf_node);
    slim_status st = slim_mls_tls_writer_status(&tw);
    uint32_t leaf = 0;
    bool found = false;
    if (st == SLIM_OK)
        slim_mls_tree_find_leaf(tree, slim_buf_view(&enc), &leaf, &found);
    slim_buf_cleanup(&enc);
    if (st == SLIM_OK && !found)
        st = SLIM_E_MLS_NOT_IN_TREE;
    if (st == SLIM_OK)
        st = slim_mls_tree_priv_init(priv, tree, leaf,
                                     slim_bytes_of(p->keys->encryption_priv, s->kem_nsk));
    if (st == SLIM_OK && w->has_path_secret) {
        uint32_t lca = 0;
        st = slim_mls_tree_common_ancestor(2 * leaf, 2 * w->group_info.signer,
                                           slim_mls_tree_leaf_count(tree), &lca);
        if (st == SLIM_OK && lca == 2 * leaf)
            st = SLIM_E_MLS_GROUP_INFO_SIGNER; /* this joiner cannot have signed it */
        if (st == SLIM_OK)
            st = slim_mls_tree_priv_set_path_secret(priv, tree, lca,
                                                    slim_bytes_of(w->path_secret, s->nh));
    }
    return st;
}

slim_status slim_mls_group_join(const slim_mls_join_params *p, slim_bytes welcome,
                                const slim_mls_env *env, slim_mls_group **out) {
    static const slim_mls_group_options no_opts;
    const slim_mls_group_options *opts = p->opts != NULL ? p->opts : &no_opts;
    const slim_mls_suite *s = p->client->suite;
    slim_mls_key_package kp;
    slim_status st = slim_mls__key_package_view(p->key_package, &kp);
    if (st == SLIM_OK && kp.cipher_suite != s->id)
        st = SLIM_E_MLS_SUITE_MISMATCH;
    if (st == SLIM_OK)
        st = check_keys(p, &kp);
    if (st != SLIM_OK)
        return st;
    slim_mls_welcome_info w;
    st = slim_mls_welcome_open(s, welcome, p->key_package,
                               slim_bytes_of(p->keys->init_priv, s->kem_nsk), p->prior, env, &w);
    if (st != SLIM_OK)
        return st;
    slim_buf gcb = SLIM_BUF_INIT;
    uint8_t interim[NH_MAX];
    slim_mls_tree *tree = NULL;
    slim_mls_tree_priv priv;
    memset(&priv, 0, sizeof priv);
    const slim_mls_group_info *gi = &w.group_info;
    st = slim_mls__group_info_verify(p->client, opts, gi, p->ratchet_tree, env, &tree);
    if (st == SLIM_OK)
        st = own_keys(p, &kp, tree, &w, &priv);
    if (st == SLIM_OK && w.resumption_usage != 0)
        st = check_resumption(p->prior, &w, tree);
    if (st == SLIM_OK)
        st = slim_mls_group_context_encode(&gi->group_context, &gcb);
    if (st == SLIM_OK)
        st = slim_mls_transcript_interim(s, gi->group_context.confirmed_transcript_hash,
                                         gi->confirmation_tag, interim);
    if (st == SLIM_OK) {
        slim_mls_state_parts parts = {.client = p->client,
                                      .opts = opts,
                                      .gc = slim_buf_view(&gcb),
                                      .tree = tree,
                                      .priv = &priv,
                                      .secrets = &w.secrets,
                                      .confirmation_tag = gi->confirmation_tag,
                                      .interim = slim_bytes_of(interim, s->nh)};
        tree = NULL;
        st = slim_mls__state_new(&parts, out);
    }
    slim_mls_tree_free(tree);
    slim_mls_tree_priv_cleanup(&priv);
    slim_mls_welcome_info_cleanup(&w);
    slim_buf_cleanup(&gcb);
    return st;
}
