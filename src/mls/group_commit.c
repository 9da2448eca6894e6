/*
 * Commits (RFC 9420 §12.2-§12.4): the proposal list of a Commit resolved,
 * checked (§12.2) and applied (§12.3) to a copy of the tree, then either
 * completed by the committer (UpdatePath, signature, key schedule,
 * confirmation tag, Welcome) or checked against what the committer sent
 * (UpdatePath merged and decrypted, confirmation tag). Committer and
 * receivers run the same list check and the same application, so a
 * Commit this member makes is refused by it exactly when its receivers
 * would refuse it. External commits (§12.4.3.2) and the first Commit of
 * a reinitialized group (§11.2) go through the same steps.
 *
 * Everything is built on copies (a clone of the tree, a copy of the
 * private state, new buffers); the group the call starts from is only
 * read, so a failure anywhere leaves it as it was.
 */
#include "core/alloc.h"
#include "core/util.h"
#include "mls/extensions.h"
#include "mls/group_internal.h"
#include "mls/transcript.h"

#include <string.h>

static const char WELCOME_LABEL[] = "Welcome";

/* One proposal of a Commit's list, resolved. */
typedef struct item {
    slim_mls_proposal p;
    slim_mls_sender sender; /* who proposed it */
    bool by_ref;
    const slim_mls_pending *pending; /* by_ref: the kept proposal */
} item;

/* The group before the Commit: a member's state, or what an external
 * joiner learnt from a GroupInfo. */
typedef struct base {
    const slim_mls_suite *s;
    slim_mls_client *client;
    const slim_mls_group_options *opts;
    const slim_mls_tree *tree;
    slim_mls_group_context gc;
    slim_bytes gc_bytes;
    slim_bytes interim;
    uint32_t own_leaf;           /* UINT32_MAX: not a member */
    const slim_mls_group *g;     /* the member's state, or NULL */
    const slim_mls_group *prior; /* another group whose resumption PSKs count */
    bool reinit_psk_ok;          /* the first Commit of a reinitialized group */
} base;

/* The list applied to a copy of the tree and GroupContext. */
typedef struct applied {
    slim_mls_tree *tree;
    slim_bytes extensions;
    bool gce;
    uint32_t *added;
    slim_mls_key_package *added_kp;
    size_t n_added;
    slim_mls_psk *psks;
    size_t n_psks;
    bool external_init;
    slim_bytes kem_output;
    const slim_mls_reinit *reinit;
    bool path_required;
    bool self_removed;
    const slim_mls_pending *own_update;
    bool resync; /* external Commit removing an old appearance */
    slim_mls_credential resync_credential;
} applied;

static void applied_cleanup(applied *a) {
    slim_mls_tree_free(a->tree);
    slim_free(a->added);
    slim_free(a->added_kp);
    slim_free(a->psks);
    memset(a, 0, sizeof *a);
}

static bool same(slim_bytes a, slim_bytes b) {
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static base base_of(const slim_mls_group *g) {
    base b;
    memset(&b, 0, sizeof b);
    b.s = g->suite;
    b.client = g->client;
    b.opts = &g->opts;
    b.tree = g->tree;
    b.gc = g->gc;
    b.gc_bytes = slim_buf_view(&g->gc_buf);
    b.interim = slim_bytes_of(g->interim, g->suite->nh);
    b.own_leaf = g->priv.leaf;
    b.g = g;
    return b;
}

/* ---- the list check (§12.2) ----------------------------------------------------- */

/* The leaf an Update or Remove changes, UINT32_MAX for other types. */
static uint32_t leaf_changed(const item *it) {
    if (it->p.type == SLIM_MLS_PROPOSAL_UPDATE)
        return it->sender.index;
    if (it->p.type == SLIM_MLS_PROPOSAL_REMOVE)
        return it->p.u.remove;
    return UINT32_MAX;
}

static bool same_psk_id(const slim_mls_psk_id *a, const slim_mls_psk_id *b) {
    return a->psktype == b->psktype && same(a->psk_nonce, b->psk_nonce) &&
           (a->psktype == SLIM_MLS_PSK_EXTERNAL
                ? same(a->psk_id, b->psk_id)
                : a->usage == b->usage && a->psk_epoch == b->psk_epoch &&
                      same(a->psk_group_id, b->psk_group_id));
}

static slim_status check_psk(const base *b, const slim_mls_psk_id *id) {
    if (b->reinit_psk_ok && id->psktype == SLIM_MLS_PSK_RESUMPTION &&
        id->usage == SLIM_MLS_PSK_USAGE_REINIT)
        return id->psk_nonce.len == b->s->nh ? SLIM_OK : SLIM_E_MLS_PSK_BAD_NONCE;
    return slim_mls__psk_id_check(b->s, id);
}

/* The rules of one type in a regular Commit from `committer`. */
static slim_status check_regular(const item *it, uint32_t committer, size_t *n_gce,
                                 size_t *n_reinit) {
    switch (it->p.type) {
    case SLIM_MLS_PROPOSAL_EXTERNAL_INIT:
        return SLIM_E_MLS_EXTERNAL_INIT_MISPLACED;
    case SLIM_MLS_PROPOSAL_UPDATE:
        /* By value it can only be the committer's own. */
        if (!it->by_ref || it->sender.index == committer)
            return SLIM_E_MLS_UPDATE_FROM_COMMITTER;
        break;
    case SLIM_MLS_PROPOSAL_REMOVE:
        if (it->p.u.remove == committer)
            return SLIM_E_MLS_REMOVES_COMMITTER;
        break;
    case SLIM_MLS_PROPOSAL_GROUP_CONTEXT_EXTENSIONS:
        if (++*n_gce > 1)
            return SLIM_E_MLS_DUPLICATE_GCE;
        break;
    case SLIM_MLS_PROPOSAL_REINIT:
        ++*n_reinit;
        break;
    }
    return SLIM_OK;
}

/* §12.2: a regular Commit from `committer`, or an external one. */
static slim_status check_list(const base *b, const item *it, size_t n, uint32_t committer,
                              bool external) {
    size_t n_ei = 0, n_rm = 0, n_gce = 0, n_reinit = 0;
    for (size_t i = 0; i < n; i++) {
        uint16_t type = it[i].p.type;
        slim_status st = SLIM_OK;
        if (external) {
            if (it[i].by_ref || (type != SLIM_MLS_PROPOSAL_EXTERNAL_INIT &&
                                 type != SLIM_MLS_PROPOSAL_REMOVE && type != SLIM_MLS_PROPOSAL_PSK))
                return SLIM_E_MLS_EXTERNAL_COMMIT_INVALID;
            n_ei += type == SLIM_MLS_PROPOSAL_EXTERNAL_INIT;
            n_rm += type == SLIM_MLS_PROPOSAL_REMOVE;
        } else {
            st = check_regular(&it[i], committer, &n_gce, &n_reinit);
        }
        if (st == SLIM_OK && type == SLIM_MLS_PROPOSAL_PSK)
            st = check_psk(b, &it[i].p.u.psk);
        if (st != SLIM_OK)
            return st;
        uint32_t leaf = leaf_changed(&it[i]);
        for (size_t j = 0; j < i; j++) {
            if (leaf != UINT32_MAX && leaf_changed(&it[j]) == leaf)
                return SLIM_E_MLS_DUPLICATE_LEAF_CHANGE;
            if (type == SLIM_MLS_PROPOSAL_PSK && it[j].p.type == SLIM_MLS_PROPOSAL_PSK &&
                same_psk_id(&it[i].p.u.psk, &it[j].p.u.psk))
                return SLIM_E_MLS_DUPLICATE_PSK;
        }
    }
    if (external && (n_ei != 1 || n_rm > 1))
        return SLIM_E_MLS_EXTERNAL_COMMIT_INVALID;
    if (n_reinit > 0 && n > 1)
        return SLIM_E_MLS_REINIT_NOT_ALONE;
    return SLIM_OK;
}

/* ---- applying the list (§12.3) ----------------------------------------------------- */

static slim_status apply_updates(const base *b, const item *it, size_t n,
                                 const slim_mls_validation *v, applied *a) {
    for (size_t i = 0; i < n; i++) {
        if (it[i].p.type != SLIM_MLS_PROPOSAL_UPDATE)
            continue;
        uint32_t leaf = it[i].sender.index;
        slim_status st = slim_mls_leaf_node_validate(v, a->tree, &it[i].p.u.update,
                                                     SLIM_MLS_LEAF_SOURCE_UPDATE, leaf, leaf);
        if (st == SLIM_OK)
            st = slim_mls_tree_update(a->tree, leaf, &it[i].p.u.update);
        if (st == SLIM_OK && leaf == b->own_leaf) {
            /* Our own Update, committed by another member. */
            if (it[i].pending == NULL || !it[i].pending->own_update)
                st = SLIM_E_MLS_PRIVATE_KEY_MISMATCH;
            a->own_update = it[i].pending;
        }
        if (st != SLIM_OK)
            return st;
    }
    return SLIM_OK;
}

static slim_status apply_removes(const base *b, const item *it, size_t n, bool external,
                                 applied *a) {
    for (size_t i = 0; i < n; i++) {
        if (it[i].p.type != SLIM_MLS_PROPOSAL_REMOVE)
            continue;
        uint32_t leaf = it[i].p.u.remove;
        if (slim_mls_tree_leaf(a->tree, leaf) == NULL)
            return SLIM_E_MLS_REMOVE_BLANK;
        if (external) {
            a->resync = true;
            a->resync_credential = slim_mls_tree_leaf(b->tree, leaf)->credential;
        }
        slim_status st = slim_mls_tree_remove(a->tree, leaf);
        if (st != SLIM_OK)
            return st;
        a->self_removed |= leaf == b->own_leaf;
    }
    return SLIM_OK;
}

static slim_status apply_adds(const item *it, size_t n, const slim_mls_validation *v, applied *a) {
    for (size_t i = 0; i < n; i++) {
        if (it[i].p.type != SLIM_MLS_PROPOSAL_ADD)
            continue;
        const slim_mls_key_package *kp = &it[i].p.u.add;
        slim_status st = slim_mls_key_package_validate(v, a->tree, kp);
        uint32_t leaf = 0;
        if (st == SLIM_OK)
            st = slim_mls_tree_add(a->tree, &kp->leaf_node, &leaf);
        if (st != SLIM_OK)
            return st;
        a->added[a->n_added] = leaf;
        a->added_kp[a->n_added++] = *kp;
    }
    return SLIM_OK;
}

/* Applies a checked list to a copy of b's tree: GroupContextExtensions,
 * Updates, Removes, Adds (in order), then the PSKs, ExternalInit and
 * ReInit are noted. `sending`: this member makes the Commit. */
static slim_status apply(const base *b, const item *it, size_t n, bool external, bool sending,
                         const slim_mls_env *env, applied *a) {
    memset(a, 0, sizeof *a);
    a->path_required = n == 0 || external;
    a->extensions = b->gc.extensions;
    slim_status st = slim_mls_tree_clone(b->tree, &a->tree);
    size_t cap = n > 0 ? n : 1;
    a->added = slim_calloc(cap, sizeof *a->added);
    a->added_kp = slim_calloc(cap, sizeof *a->added_kp);
    a->psks = slim_calloc(cap, sizeof *a->psks);
    if (st == SLIM_OK && (a->added == NULL || a->added_kp == NULL || a->psks == NULL))
        st = SLIM_E_NOMEM;
    for (size_t i = 0; st == SLIM_OK && i < n; i++) {
        if (it[i].p.type == SLIM_MLS_PROPOSAL_GROUP_CONTEXT_EXTENSIONS) {
            a->extensions = it[i].p.u.group_context_extensions.body;
            a->gce = true;
        }
        a->path_required |= slim_mls_proposal_type_needs_path(it[i].p.type);
    }
    slim_mls_validation v =
        slim_mls__validation(b->client, b->opts, b->gc.group_id, a->extensions, env, sending);
    if (st == SLIM_OK)
        st = apply_updates(b, it, n, &v, a);
    if (st == SLIM_OK)
        st = apply_removes(b, it, n, external, a);
    if (st == SLIM_OK)
        st = apply_adds(it, n, &v, a);
    /* New GroupContext extensions must suit every member (§12.1.7). */
    for (uint32_t l = 0; a->gce && st == SLIM_OK && l < slim_mls_tree_leaf_count(a->tree); l++) {
        const slim_mls_leaf_node *ln = slim_mls_tree_leaf(a->tree, l);
        if (ln != NULL)
            st = slim_mls_leaf_node_supports_group(&v, ln);
    }
    for (size_t i = 0; st == SLIM_OK && i < n; i++) {
        const slim_mls_proposal *p = &it[i].p;
        if (p->type == SLIM_MLS_PROPOSAL_PSK) {
            slim_mls_psk *k = &a->psks[a->n_psks++];
            k->id = p->u.psk;
            st = slim_mls__psk_lookup(b->g, b->prior, env, &p->u.psk, &k->secret);
        } else if (p->type == SLIM_MLS_PROPOSAL_EXTERNAL_INIT) {
            a->external_init = true;
            a->kem_output = p->u.external_init;
        } else if (p->type == SLIM_MLS_PROPOSAL_REINIT) {
            if (p->u.reinit.version < b->gc.version)
                st = SLIM_E_MLS_BAD_VERSION;
            a->reinit = &p->u.reinit;
        }
    }
    if (st != SLIM_OK)
        applied_cleanup(a);
    return st;
}

/* ---- shared steps ------------------------------------------------------------------ */

/* Encodes the GroupContext of the new epoch with t's tree hash. */
static slim_status context_encode(const base *b, slim_mls_tree *t, slim_bytes confirmed,
                                  slim_bytes extensions, slim_buf *out) {
    uint8_t th[NH_MAX];
    slim_status st = slim_mls_tree_hash(t, th);
    slim_mls_group_context gc = b->gc;
    gc.epoch = b->gc.epoch + 1;
    gc.tree_hash = slim_bytes_of(th, b->s->nh);
    gc.confirmed_transcript_hash = confirmed;
    gc.extensions = extensions;
    out->len = 0;
    if (st == SLIM_OK)
        st = slim_mls_group_context_encode(&gc, out);
    return st;
}

/* The new epoch's confirmed transcript hash, GroupContext and key
 * schedule from a signed Commit (the confirmation tag not yet needed). */
static slim_status next_epoch(const base *b, const slim_mls_authenticated_content *ac,
                              const applied *a, slim_bytes init_secret,
                              const uint8_t *commit_secret, uint8_t *confirmed, slim_buf *gc,
                              slim_mls_epoch_secrets *es) {
    const slim_mls_suite *s = b->s;
    slim_buf input = SLIM_BUF_INIT;
    uint8_t psk_secret[NH_MAX];
    slim_status st = slim_mls_confirmed_transcript_input_encode(ac, &input);
    if (st == SLIM_OK)
        st = slim_mls_transcript_confirmed(s, b->interim, slim_buf_view(&input), confirmed);
    if (st == SLIM_OK)
        st = context_encode(b, a->tree, slim_bytes_of(confirmed, s->nh), a->extensions, gc);
    if (st == SLIM_OK)
        st = slim_mls_psk_secret(s, a->psks, a->n_psks, psk_secret);
    if (st == SLIM_OK)
        st = slim_mls_key_schedule_epoch(s, init_secret, slim_bytes_of(commit_secret, s->nh),
                                         slim_bytes_of(psk_secret, s->nh), slim_buf_view(gc), es);
    slim_memzero(psk_secret, sizeof psk_secret);
    slim_buf_cleanup(&input);
    return st;
}

/* ---- creating a Commit --------------------------------------------------------------- */

typedef struct create_opts {
    uint16_t wire_format;
    slim_bytes authenticated_data;
    bool force_path;
    bool welcome_tree;
    bool group_info, group_info_tree, group_info_external_pub;
    slim_bytes init_secret;
    uint8_t sender_type; /* member or new_member_commit */
} create_opts;

/* Appends the ProposalOrRef list of the Commit. */
static slim_status list_encode(const slim_mls_suite *s, const item *it, size_t n, slim_buf *out) {
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, out);
    for (size_t i = 0; i < n; i++) {
        slim_mls_proposal_or_ref por;
        memset(&por, 0, sizeof por);
        por.type =
            it[i].by_ref ? SLIM_MLS_PROPOSAL_OR_REF_REFERENCE : SLIM_MLS_PROPOSAL_OR_REF_PROPOSAL;
        por.proposal = it[i].p;
        if (it[i].by_ref)
            por.reference = slim_bytes_of(it[i].pending->ref, s->nh);
        slim_mls_proposal_or_ref_encode(&w, &por);
    }
    return slim_mls_tls_writer_status(&w);
}

/* The Welcome (§12.4.3.1) for the members `a` adds, to the new state ng. */
static slim_status welcome_write(const base *b, const slim_mls_group *ng, const applied *a,
                                 const slim_mls_path *path, uint32_t committer,
                                 const slim_mls_epoch_secrets *es, bool with_tree,
                                 const slim_mls_env *env, slim_buf *out) {
    const slim_mls_suite *s = b->s;
    slim_buf gi = SLIM_BUF_INIT, egi = SLIM_BUF_INIT, psks = SLIM_BUF_INIT;
    slim_buf list = SLIM_BUF_INIT, gs = SLIM_BUF_INIT, kem = SLIM_BUF_INIT, ct = SLIM_BUF_INIT;
    uint8_t key[SLIM_MLS_MAX_AEAD_KEY], nonce[SLIM_MLS_MAX_AEAD_NONCE], ps[NH_MAX];
    uint8_t ref[NH_MAX];
    slim_status st = slim_mls__group_info_write(ng, with_tree, false, &gi);
    if (st == SLIM_OK)
        st = slim_mls_welcome_key_nonce(s, slim_bytes_of(es->welcome_secret, s->nh), key, nonce);
    if (st == SLIM_OK)
        st = slim_mls_suite_seal(s, slim_bytes_of(key, s->nk), slim_bytes_of(nonce, s->nn),
                                 slim_bytes_of(NULL, 0), slim_buf_view(&gi), &egi);
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, &psks);
    for (size_t i = 0; st == SLIM_OK && i < a->n_psks; i++)
        st = slim_mls_psk_id_encode(&w, &a->psks[i].id);
    slim_mls_tls_writer_init(&w, &list);
    uint32_t n_leaves = slim_mls_tree_leaf_count(ng->tree);
    for (size_t i = 0; st == SLIM_OK && i < a->n_added; i++) {
        const slim_mls_key_package *kp = &a->added_kp[i];
        slim_mls_group_secrets sec = {slim_bytes_of(es->joiner_secret, s->nh),
                                      path != NULL,
                                      slim_bytes_of(ps, s->nh),
                                      {slim_buf_view(&psks), (uint32_t)a->n_psks}};
        uint32_t lca = 0;
        st = slim_mls_key_package_ref(s, kp, ref);
        if (st == SLIM_OK && path != NULL)
            st = slim_mls_tree_common_ancestor(2 * committer, 2 * a->added[i], n_leaves, &lca);
        if (st == SLIM_OK && path != NULL)
            st = slim_mls_path_secret(path, lca, ps);
        slim_mls_tls_writer gw;
        slim_mls_tls_writer_init(&gw, &gs);
        if (st == SLIM_OK)
            st = slim_mls_group_secrets_encode(&gw, &sec);
        if (st == SLIM_OK)
            st = slim_mls_tls_writer_status(&gw);
        kem.len = ct.len = 0;
        if (st == SLIM_OK)
            st = slim_mls_encrypt_with_label(s, kp->init_key, WELCOME_LABEL, slim_buf_view(&egi),
                                             slim_buf_view(&gs), slim_mls__env_rng(env), &kem, &ct);
        slim_memzero(gs.data, gs.len);
        gs.len = 0;
        slim_mls_encrypted_group_secrets e = {slim_bytes_of(ref, s->nh),
                                              {slim_buf_view(&kem), slim_buf_view(&ct)}};
        if (st == SLIM_OK)
            st = slim_mls_encrypted_group_secrets_encode(&w, &e);
    }
    if (st == SLIM_OK)
        st = slim_mls_tls_writer_status(&w);
    slim_mls_message m;
    memset(&m, 0, sizeof m);
    m.version = SLIM_MLS_VERSION_MLS10;
    m.wire_format = SLIM_MLS_WIRE_WELCOME;
    m.u.welcome.cipher_suite = s->id;
    m.u.welcome.secrets.body = slim_buf_view(&list);
    m.u.welcome.secrets.count = (uint32_t)a->n_added;
    m.u.welcome.encrypted_group_info = slim_buf_view(&egi);
    if (st == SLIM_OK)
        st = slim_mls_message_encode(&m, out);
    slim_memzero(key, sizeof key);
    slim_memzero(nonce, sizeof nonce);
    slim_memzero(ps, sizeof ps);
    slim_buf_cleanup(&gi);
    slim_buf_cleanup(&egi);
    slim_buf_cleanup(&psks);
    slim_buf_cleanup(&list);
    slim_buf_cleanup_secret(&gs);
    slim_buf_cleanup(&kem);
    slim_buf_cleanup(&ct);
    return st;
}

/* The committer's side after the list is applied: UpdatePath, signature,
 * key schedule, confirmation tag, protection, the new state, Welcome and
 * GroupInfo. Takes a->tree. */
static slim_status commit_create(const base *b, const item *it, size_t n, applied *a,
                                 const create_opts *o, const slim_mls_env *env,
                                 slim_mls_commit_output *out) {
    const slim_mls_suite *s = b->s;
    const slim_mls_rng *rng = slim_mls__env_rng(env);
    bool external = o->sender_type == SLIM_MLS_SENDER_NEW_MEMBER_COMMIT;
    bool with_path = a->path_required || o->force_path;
    uint32_t leaf = b->own_leaf;
    slim_mls_commit_output res;
    memset(&res, 0, sizeof res);
    slim_buf list = SLIM_BUF_INIT, prov = SLIM_BUF_INIT, up = SLIM_BUF_INIT;
    slim_buf sig = SLIM_BUF_INIT, gc = SLIM_BUF_INIT;
    slim_mls_path *path = NULL;
    slim_mls_tree_priv priv;
    memset(&priv, 0, sizeof priv);
    uint8_t commit_secret[NH_MAX], confirmed[NH_MAX], tag[NH_MAX], interim[NH_MAX];
    memset(commit_secret, 0, sizeof commit_secret);
    slim_mls_epoch_secrets es, es_state;
    memset(&es, 0, sizeof es);

    slim_mls_framed_content fc;
    memset(&fc, 0, sizeof fc);
    fc.group_id = b->gc.group_id;
    fc.epoch = b->gc.epoch;
    fc.sender.type = o->sender_type;
    fc.sender.index = external ? 0 : leaf;
    fc.authenticated_data = o->authenticated_data;
    fc.content_type = SLIM_MLS_CONTENT_COMMIT;
    slim_status st = list_encode(s, it, n, &list);
    fc.u.commit.proposals.body = slim_buf_view(&list);
    fc.u.commit.proposals.count = (uint32_t)n;
    if (st == SLIM_OK && external)
        st = slim_mls_tree_blank_leaf(a->tree, &leaf);
    if (st == SLIM_OK && with_path) {
        st = slim_mls_treekem_path_begin(a->tree, leaf, &b->client->params, b->gc.group_id, rng,
                                         &path);
        if (st == SLIM_OK)
            st = context_encode(b, a->tree, b->gc.confirmed_transcript_hash, a->extensions, &prov);
        if (st == SLIM_OK)
            st = slim_mls_treekem_path_seal(a->tree, path, slim_buf_view(&prov), a->added,
                                            a->n_added, rng, &up);
        if (st == SLIM_OK) {
            slim_mls_tls_reader r;
            slim_mls_tls_reader_init(&r, slim_buf_view(&up));
            slim_mls_update_path_decode(&r, &fc.u.commit.path);
            st = slim_mls_tls_reader_finish(&r);
            fc.u.commit.has_path = true;
        }
        if (st == SLIM_OK) {
            slim_mls_path_commit_secret(path, commit_secret);
            slim_mls_path_apply(path, &priv);
        }
    } else if (st == SLIM_OK) {
        priv = b->g->priv;
        slim_mls_tree_priv_prune(&priv, a->tree);
    }

    slim_mls_authenticated_content ac;
    memset(&ac, 0, sizeof ac);
    ac.wire_format = o->wire_format;
    ac.content = fc;
    slim_mls_framing_ctx ctx;
    if (st == SLIM_OK)
        st = slim_mls_framing_init(&ctx, s, b->gc_bytes);
    if (st == SLIM_OK)
        st = slim_mls_content_sign(&ctx, o->wire_format, &fc, b->client->signer, &sig);
    ac.auth.signature = slim_buf_view(&sig);
    if (st == SLIM_OK)
        st = next_epoch(b, &ac, a, o->init_secret, commit_secret, confirmed, &gc, &es);
    if (st == SLIM_OK)
        st = slim_mls_confirmation_tag(s, slim_bytes_of(es.confirmation_key, s->nh),
                                       slim_bytes_of(confirmed, s->nh), tag);
    ac.auth.confirmation_tag = slim_bytes_of(tag, s->nh);
    if (st == SLIM_OK)
        st = slim_mls_transcript_interim(s, slim_bytes_of(confirmed, s->nh),
                                         ac.auth.confirmation_tag, interim);
    if (st == SLIM_OK && external) {
        ctx.n_leaves = slim_mls_tree_leaf_count(b->tree);
        st = slim_mls_public_message_protect(&ctx, &ac, &res.commit);
    } else if (st == SLIM_OK) {
        st = slim_mls__content_protect(b->g, &ac, env, &res.commit);
    }
    if (st == SLIM_OK) {
        es_state = es;
        slim_mls_state_parts parts = {.client = b->client,
                                      .opts = b->opts,
                                      .gc = slim_buf_view(&gc),
                                      .tree = a->tree,
                                      .priv = &priv,
                                      .secrets = &es_state,
                                      .confirmation_tag = slim_bytes_of(tag, s->nh),
                                      .interim = slim_bytes_of(interim, s->nh),
                                      .prev = b->g,
                                      .reinit = a->reinit};
        a->tree = NULL; /* taken, also on failure */
        st = slim_mls__state_new(&parts, &res.group);
    }
    if (st == SLIM_OK && a->n_added > 0)
        st = welcome_write(b, res.group, a, path, leaf, &es, o->welcome_tree, env, &res.welcome);
    if (st == SLIM_OK && o->group_info)
        st = slim_mls_group_group_info(res.group, o->group_info_tree, o->group_info_external_pub,
                                       &res.group_info);
    slim_mls_path_free(path);
    slim_mls_tree_priv_cleanup(&priv);
    slim_mls_epoch_secrets_cleanup(&es);
    slim_memzero(commit_secret, sizeof commit_secret);
    slim_buf_cleanup(&list);
    slim_buf_cleanup(&prov);
    slim_buf_cleanup(&up);
    slim_buf_cleanup(&sig);
    slim_buf_cleanup(&gc);
    if (st != SLIM_OK) {
        slim_mls_commit_output_cleanup(&res);
        return st;
    }
    *out = res;
    return SLIM_OK;
}

void slim_mls_commit_output_cleanup(slim_mls_commit_output *o) {
    slim_buf_cleanup(&o->commit);
    slim_buf_cleanup(&o->welcome);
    slim_buf_cleanup(&o->group_info);
    slim_mls_group_free(o->group);
    memset(o, 0, sizeof *o);
}

/* Whether an item of it[0..n) changes `leaf` or is a PSK equal to `id`
 * or a GroupContextExtensions (per `what`). */
static bool list_touches_leaf(const item *it, size_t n, uint32_t leaf) {
    for (size_t i = 0; i < n; i++) {
        if (leaf_changed(&it[i]) == leaf)
            return true;
    }
    return false;
}

static bool list_has_psk(const item *it, size_t n, const slim_mls_psk_id *id) {
    for (size_t i = 0; i < n; i++) {
        if (it[i].p.type == SLIM_MLS_PROPOSAL_PSK && same_psk_id(&it[i].p.u.psk, id))
            return true;
    }
    return false;
}

static bool list_has_type(const item *it, size_t n, uint16_t type) {
    for (size_t i = 0; i < n; i++) {
        if (it[i].p.type == type)
            return true;
    }
    return false;
}

static bool list_has_client(const item *it, size_t n, slim_bytes signature_key) {
    for (size_t i = 0; i < n; i++) {
        if (it[i].p.type == SLIM_MLS_PROPOSAL_ADD &&
            same(it[i].p.u.add.leaf_node.signature_key, signature_key))
            return true;
    }
    return false;
}

/* Whether kept proposal k is superseded for leaf `leaf`: a kept Remove of
 * it, or (for an Update) a later kept Update of it. */
static bool superseded(const slim_mls_group *g, size_t k, uint32_t leaf) {
    for (size_t j = 0; j < g->n_props; j++) {
        const slim_mls_proposal *q = &g->props[j]->view.content.u.proposal;
        if (j == k)
            continue;
        if (q->type == SLIM_MLS_PROPOSAL_REMOVE && q->u.remove == leaf)
            return g->props[k]->view.content.u.proposal.type == SLIM_MLS_PROPOSAL_UPDATE || j < k;
        if (q->type == SLIM_MLS_PROPOSAL_UPDATE && j > k &&
            g->props[j]->view.content.sender.index == leaf &&
            g->props[k]->view.content.u.proposal.type == SLIM_MLS_PROPOSAL_UPDATE)
            return true;
    }
    return false;
}

/* Appends the kept proposals a Commit should include by reference (§12.4:
 * those that keep the list valid, Removes before Updates, the latest
 * Update of a leaf, a ReInit only when there is nothing else). */
static size_t select_pending(const slim_mls_group *g, item *it, size_t n) {
    uint32_t me = g->priv.leaf;
    size_t reinit = SIZE_MAX;
    for (size_t k = 0; k < g->n_props; k++) {
        const slim_mls_pending *pp = g->props[k];
        const slim_mls_proposal *p = &pp->view.content.u.proposal;
        const slim_mls_sender *from = &pp->view.content.sender;
        bool take = true;
        switch (p->type) {
        case SLIM_MLS_PROPOSAL_UPDATE:
            take = from->index != me && !list_touches_leaf(it, n, from->index) &&
                   !superseded(g, k, from->index);
            break;
        case SLIM_MLS_PROPOSAL_REMOVE:
            take = p->u.remove != me && slim_mls_tree_leaf(g->tree, p->u.remove) != NULL &&
                   !list_touches_leaf(it, n, p->u.remove) && !superseded(g, k, p->u.remove);
            break;
        case SLIM_MLS_PROPOSAL_PSK:
            take = !list_has_psk(it, n, &p->u.psk);
            break;
        case SLIM_MLS_PROPOSAL_GROUP_CONTEXT_EXTENSIONS:
            take = !list_has_type(it, n, p->type);
            break;
        case SLIM_MLS_PROPOSAL_ADD:
            /* Not a client added twice, nor one already in the group
             * (a Remove of it in the same list is not looked for: the
             * Add waits for the next epoch). */
            take = !list_has_client(it, n, p->u.add.leaf_node.signature_key) &&
                   slim_mls_tree_find_key(g->tree, SLIM_MLS_TREE_SIGNATURE_KEY,
                                          &p->u.add.leaf_node.signature_key, 1,
                                          UINT32_MAX) == UINT32_MAX;
            break;
        case SLIM_MLS_PROPOSAL_REINIT:
            if (reinit == SIZE_MAX)
                reinit = k;
            take = false;
            break;
        default:
            take = false;
        }
        if (take) {
            it[n].p = *p;
            it[n].sender = *from;
            it[n].by_ref = true;
            it[n].pending = pp;
            n++;
        }
    }
    if (n == 0 && reinit != SIZE_MAX) {
        it[0].p = g->props[reinit]->view.content.u.proposal;
        it[0].sender = g->props[reinit]->view.content.sender;
        it[0].by_ref = true;
        it[0].pending = g->props[reinit];
        n = 1;
    }
    return n;
}

/* A member's Commit: spec's proposals by value, then extra[0..n_extra)
 * (built by the caller), then the kept ones by reference when asked. */
static slim_status commit_member(const slim_mls_group *g, const slim_mls_commit_spec *spec,
                                 const slim_mls_built_proposal *extra, size_t n_extra,
                                 const slim_mls_group *prior, const slim_mls_env *env,
                                 slim_mls_commit_output *out) {
    if (g->ended)
        return SLIM_E_MLS_GROUP_ENDED;
    uint16_t wf = spec->wire_format ? spec->wire_format : SLIM_MLS_WIRE_PUBLIC_MESSAGE;
    if (wf != SLIM_MLS_WIRE_PUBLIC_MESSAGE && wf != SLIM_MLS_WIRE_PRIVATE_MESSAGE)
        return SLIM_E_INVALID_ARG;
    for (size_t i = 0; i < spec->n_proposals; i++) {
        if (spec->proposals[i].type == SLIM_MLS_PROPOSAL_UPDATE)
            return SLIM_E_MLS_UPDATE_FROM_COMMITTER;
    }
    size_t cap = spec->n_proposals + n_extra + (spec->include_pending ? g->n_props : 0);
    slim_mls_built_proposal *built = slim_calloc(spec->n_proposals + 1, sizeof *built);
    item *it = slim_calloc(cap + 1, sizeof *it);
    slim_status st = built != NULL && it != NULL ? SLIM_OK : SLIM_E_NOMEM;
    size_t n = 0, n_built = 0;
    slim_mls_sender me = {SLIM_MLS_SENDER_MEMBER, g->priv.leaf};
    for (size_t i = 0; st == SLIM_OK && i < spec->n_proposals; i++) {
        st = slim_mls__proposal_build(g->suite, g, &spec->proposals[i], env, &built[i]);
        if (st == SLIM_OK) {
            n_built++;
            it[n].p = built[i].p;
            it[n++].sender = me;
        }
    }
    for (size_t i = 0; st == SLIM_OK && i < n_extra; i++) {
        it[n].p = extra[i].p;
        it[n++].sender = me;
    }
    if (st == SLIM_OK && spec->include_pending)
        n = select_pending(g, it, n);
    base b = base_of(g);
    b.prior = prior;
    b.reinit_psk_ok = prior != NULL;
    applied a;
    memset(&a, 0, sizeof a);
    if (st == SLIM_OK)
        st = check_list(&b, it, n, g->priv.leaf, false);
    if (st == SLIM_OK)
        st = apply(&b, it, n, false, true, env, &a);
    create_opts o = {wf,
                     spec->authenticated_data,
                     spec->force_path,
                     spec->welcome_tree,
                     spec->group_info,
                     spec->group_info_tree,
                     spec->group_info_external_pub,
                     slim_bytes_of(g->secrets.init_secret, g->suite->nh),
                     SLIM_MLS_SENDER_MEMBER};
    if (st == SLIM_OK)
        st = commit_create(&b, it, n, &a, &o, env, out);
    applied_cleanup(&a);
    for (size_t i = 0; i < n_built; i++)
        slim_mls__built_proposal_cleanup(&built[i]);
    slim_free(built);
    slim_free(it);
    return st;
}

slim_status slim_mls_group_commit(const slim_mls_group *g, const slim_mls_commit_spec *spec,
                                  const slim_mls_env *env, slim_mls_commit_output *out) {
    return commit_member(g, spec, NULL, 0, NULL, env, out);
}

/* ---- processing a Commit --------------------------------------------------------------- */

/* Resolves the Commit's ProposalOrRef list into it[0..count). */
static slim_status resolve(const slim_mls_group *g, const slim_mls_authenticated_content *ac,
                           item *it) {
    const slim_mls_suite *s = g->suite;
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, ac->content.u.commit.proposals.body);
    for (size_t i = 0; slim_mls_tls_reader_more(&r); i++) {
        slim_mls_proposal_or_ref por;
        memset(&por, 0, sizeof por);
        slim_mls_proposal_or_ref_decode(&r, &por);
        if (por.type == SLIM_MLS_PROPOSAL_OR_REF_PROPOSAL) {
            it[i].p = por.proposal;
            it[i].sender = ac->content.sender;
            continue;
        }
        const slim_mls_pending *pp = NULL;
        for (size_t k = 0; pp == NULL && k < g->n_props; k++) {
            if (por.reference.len == s->nh &&
                memcmp(g->props[k]->ref, por.reference.ptr, s->nh) == 0)
                pp = g->props[k];
        }
        if (pp == NULL)
            return SLIM_E_MLS_PROPOSAL_NOT_FOUND;
        it[i].p = pp->view.content.u.proposal;
        it[i].sender = pp->view.content.sender;
        it[i].by_ref = true;
        it[i].pending = pp;
    }
    return slim_mls_tls_reader_status(&r);
}

static bool same_credential(const slim_mls_credential *a, const slim_mls_credential *b) {
    return a->type == b->type && same(a->body, b->body);
}

/* The receiver's side once the list is applied: UpdatePath, key
 * schedule, confirmation tag, the new state. */
static slim_status commit_finish(const slim_mls_group *g, const slim_mls_authenticated_content *ac,
                                 applied *a, const slim_mls_env *env, slim_mls_received *out) {
    const slim_mls_suite *s = g->suite;
    const slim_mls_commit *c = &ac->content.u.commit;
    bool external = ac->content.sender.type == SLIM_MLS_SENDER_NEW_MEMBER_COMMIT;
    base b = base_of(g);
    slim_mls_tree_priv priv = g->priv;
    uint8_t commit_secret[NH_MAX], init_secret[NH_MAX], confirmed[NH_MAX], interim[NH_MAX];
    memset(commit_secret, 0, sizeof commit_secret);
    slim_buf prov = SLIM_BUF_INIT, gc = SLIM_BUF_INIT;
    slim_mls_epoch_secrets es;
    memset(&es, 0, sizeof es);
    slim_status st = SLIM_OK;
    if (a->own_update != NULL)
        st = slim_mls_tree_priv_init(&priv, a->tree, g->priv.leaf,
                                     slim_bytes_of(a->own_update->update_sk, s->kem_nsk));
    else
        slim_mls_tree_priv_prune(&priv, a->tree);
    if (st == SLIM_OK && c->has_path) {
        uint32_t leaf = ac->content.sender.index;
        if (external)
            st = slim_mls_tree_blank_leaf(a->tree, &leaf);
        slim_mls_validation v =
            slim_mls__validation(g->client, &g->opts, g->gc.group_id, a->extensions, env, false);
        if (st == SLIM_OK && a->resync &&
            !same_credential(&a->resync_credential, &c->path.leaf_node.credential))
            st = SLIM_E_MLS_RESYNC_IDENTITY;
        if (st == SLIM_OK)
            st = slim_mls_treekem_path_merge(a->tree, &v, leaf, &c->path, a->added, a->n_added);
        if (st == SLIM_OK)
            st = context_encode(&b, a->tree, g->gc.confirmed_transcript_hash, a->extensions, &prov);
        if (st == SLIM_OK)
            st = slim_mls_treekem_path_decrypt(a->tree, leaf, &c->path, slim_buf_view(&prov),
                                               a->added, a->n_added, &priv, commit_secret, NULL);
    }
    if (st == SLIM_OK && external) {
        uint8_t sk[SLIM_MLS_MAX_DH_PRIVATE], pk[SLIM_MLS_MAX_DH_PUBLIC];
        st = slim_mls_external_key_pair(&g->secrets, sk, pk);
        if (st == SLIM_OK)
            st = slim_mls_external_init_member(s, slim_bytes_of(sk, s->kem_nsk), a->kem_output,
                                               init_secret);
        slim_memzero(sk, sizeof sk);
    } else if (st == SLIM_OK) {
        memcpy(init_secret, g->secrets.init_secret, s->nh);
    }
    if (st == SLIM_OK)
        st = next_epoch(&b, ac, a, slim_bytes_of(init_secret, s->nh), commit_secret, confirmed, &gc,
                        &es);
    if (st == SLIM_OK) {
        st = slim_mls_confirmation_tag_verify(s, slim_bytes_of(es.confirmation_key, s->nh),
                                              slim_bytes_of(confirmed, s->nh),
                                              ac->auth.confirmation_tag);
        if (st == SLIM_E_MLS_BAD_MAC)
            st = SLIM_E_MLS_CONFIRMATION_TAG;
    }
    if (st == SLIM_OK)
        st = slim_mls_transcript_interim(s, slim_bytes_of(confirmed, s->nh),
                                         ac->auth.confirmation_tag, interim);
    if (st == SLIM_OK) {
        slim_mls_state_parts parts = {.client = g->client,
                                      .opts = &g->opts,
                                      .gc = slim_buf_view(&gc),
                                      .tree = a->tree,
                                      .priv = &priv,
                                      .secrets = &es,
                                      .confirmation_tag = ac->auth.confirmation_tag,
                                      .interim = slim_bytes_of(interim, s->nh),
                                      .prev = g,
                                      .reinit = a->reinit};
        a->tree = NULL;
        st = slim_mls__state_new(&parts, &out->group);
        out->reinit = a->reinit != NULL;
    }
    slim_mls_tree_priv_cleanup(&priv);
    slim_mls_epoch_secrets_cleanup(&es);
    slim_memzero(commit_secret, sizeof commit_secret);
    slim_memzero(init_secret, sizeof init_secret);
    slim_buf_cleanup(&prov);
    slim_buf_cleanup(&gc);
    return st;
}

slim_status slim_mls__commit_process(const slim_mls_group *g,
                                     const slim_mls_authenticated_content *ac,
                                     const slim_mls_env *env, slim_mls_received *out) {
    const slim_mls_commit *c = &ac->content.u.commit;
    bool external = ac->content.sender.type == SLIM_MLS_SENDER_NEW_MEMBER_COMMIT;
    size_t n = c->proposals.count;
    item *it = slim_calloc(n + 1, sizeof *it);
    if (it == NULL)
        return SLIM_E_NOMEM;
    base b = base_of(g);
    applied a;
    memset(&a, 0, sizeof a);
    slim_status st = resolve(g, ac, it);
    if (st == SLIM_OK)
        st = check_list(&b, it, n, external ? UINT32_MAX : ac->content.sender.index, external);
    if (st == SLIM_OK && external && !c->has_path)
        st = SLIM_E_MLS_EXTERNAL_COMMIT_INVALID;
    if (st == SLIM_OK && !c->has_path) {
        bool required = n == 0;
        for (size_t i = 0; i < n; i++)
            required |= slim_mls_proposal_type_needs_path(it[i].p.type);
        if (required)
            st = SLIM_E_MLS_COMMIT_PATH_MISSING;
    }
    if (st == SLIM_OK)
        st = apply(&b, it, n, external, false, env, &a);
    if (st == SLIM_OK && a.self_removed)
        out->removed = true;
    else if (st == SLIM_OK)
        st = commit_finish(g, ac, &a, env, out);
    applied_cleanup(&a);
    slim_free(it);
    return st;
}

/* ---- external joins and reinitialization ------------------------------------------------- */

slim_status slim_mls_group_join_external(const slim_mls_external_join_params *p,
                                         const slim_mls_env *env, slim_buf *commit,
                                         slim_mls_group **out) {
    static const slim_mls_group_options no_opts;
    const slim_mls_suite *s = p->client->suite;
    const slim_mls_group_options *opts = p->opts != NULL ? p->opts : &no_opts;
    slim_mls_message m;
    slim_status st = slim_mls_message_decode(p->group_info, &m);
    if (st == SLIM_OK && m.wire_format != SLIM_MLS_WIRE_GROUP_INFO)
        st = SLIM_E_MLS_NOT_FRAMED;
    if (st != SLIM_OK)
        return st;
    const slim_mls_group_info *gi = &m.u.group_info;
    slim_mls_tree *tree = NULL;
    slim_buf kem = SLIM_BUF_INIT, gcb = SLIM_BUF_INIT;
    uint8_t init_secret[NH_MAX], interim[NH_MAX];
    size_t n_items = 1 + (p->resync ? 1 : 0) + p->n_psk_ids;
    item *it = slim_calloc(n_items, sizeof *it);
    slim_mls_built_proposal *psks = slim_calloc(p->n_psk_ids + 1, sizeof *psks);
    size_t n_psks = 0;
    applied a;
    memset(&a, 0, sizeof a);
    if (it == NULL || psks == NULL)
        st = SLIM_E_NOMEM;
    if (st == SLIM_OK)
        st = slim_mls__group_info_verify(p->client, opts, gi, p->ratchet_tree, env, &tree);
    slim_mls_extension ext;
    bool found = false;
    slim_bytes pub = slim_bytes_of(NULL, 0);
    if (st == SLIM_OK)
        st = slim_mls_extension_list_find(gi->extensions.body, SLIM_MLS_EXT_EXTERNAL_PUB, &ext,
                                          &found);
    if (st == SLIM_OK && !found)
        st = SLIM_E_MLS_MISSING_EXTERNAL_PUB;
    if (st == SLIM_OK) {
        slim_mls_tls_reader r;
        slim_mls_tls_reader_init(&r, ext.data);
        slim_mls_external_pub_decode(&r, &pub);
        st = slim_mls_tls_reader_finish(&r);
    }
    if (st == SLIM_OK)
        st = slim_mls_external_init_join(s, pub, slim_mls__env_rng(env), &kem, init_secret);
    if (st == SLIM_OK)
        st = slim_mls_group_context_encode(&gi->group_context, &gcb);
    if (st == SLIM_OK)
        st = slim_mls_transcript_interim(s, gi->group_context.confirmed_transcript_hash,
                                         gi->confirmation_tag, interim);
    slim_mls_sender joiner = {SLIM_MLS_SENDER_NEW_MEMBER_COMMIT, 0};
    size_t n = 0;
    if (st == SLIM_OK) {
        it[n].p.type = SLIM_MLS_PROPOSAL_EXTERNAL_INIT;
        it[n].p.u.external_init = slim_buf_view(&kem);
        it[n++].sender = joiner;
        if (p->resync) {
            it[n].p.type = SLIM_MLS_PROPOSAL_REMOVE;
            it[n].p.u.remove = p->removed;
            it[n++].sender = joiner;
        }
    }
    for (size_t i = 0; st == SLIM_OK && i < p->n_psk_ids; i++) {
        slim_mls_proposal_spec spec;
        memset(&spec, 0, sizeof spec);
        spec.type = SLIM_MLS_PROPOSAL_PSK;
        spec.psk_type = SLIM_MLS_PSK_EXTERNAL;
        spec.psk_id = p->psk_ids[i];
        st = slim_mls__proposal_build(s, NULL, &spec, env, &psks[i]);
        if (st == SLIM_OK) {
            n_psks++;
            it[n].p = psks[i].p;
            it[n++].sender = joiner;
        }
    }
    base b;
    memset(&b, 0, sizeof b);
    b.s = s;
    b.client = p->client;
    b.opts = opts;
    b.tree = tree;
    b.gc = gi->group_context;
    b.gc_bytes = slim_buf_view(&gcb);
    b.interim = slim_bytes_of(interim, s->nh);
    b.own_leaf = UINT32_MAX;
    if (st == SLIM_OK)
        st = check_list(&b, it, n, UINT32_MAX, true);
    if (st == SLIM_OK)
        st = apply(&b, it, n, true, true, env, &a);
    create_opts o;
    memset(&o, 0, sizeof o);
    o.wire_format = SLIM_MLS_WIRE_PUBLIC_MESSAGE;
    o.authenticated_data = p->authenticated_data;
    o.force_path = true;
    o.init_secret = slim_bytes_of(init_secret, s->nh);
    o.sender_type = SLIM_MLS_SENDER_NEW_MEMBER_COMMIT;
    slim_mls_commit_output res;
    if (st == SLIM_OK)
        st = commit_create(&b, it, n, &a, &o, env, &res);
    if (st == SLIM_OK) {
        st = slim_buf_append(commit, res.commit.data, res.commit.len);
        if (st == SLIM_OK) {
            *out = res.group;
            res.group = NULL;
        }
        slim_mls_commit_output_cleanup(&res);
    }
    applied_cleanup(&a);
    for (size_t i = 0; i < n_psks; i++)
        slim_mls__built_proposal_cleanup(&psks[i]);
    slim_free(psks);
    slim_free(it);
    slim_mls_tree_free(tree);
    slim_buf_cleanup(&kem);
    slim_buf_cleanup(&gcb);
    slim_memzero(init_secret, sizeof init_secret);
    return st;
}

slim_status slim_mls_group_reinit(const slim_mls_group *g, slim_mls_client *c,
                                  const slim_bytes *key_packages, size_t n,
                                  const slim_mls_group_options *opts, const slim_mls_env *env,
                                  slim_mls_commit_output *out) {
    if (!g->ended)
        return SLIM_E_STATE;
    if (c->suite->id != g->reinit.cipher_suite)
        return SLIM_E_MLS_SUITE_MISMATCH;
    if (g->reinit.version != SLIM_MLS_VERSION_MLS10)
        return SLIM_E_MLS_BAD_VERSION;
    slim_mls_group *first = NULL;
    slim_mls_proposal_spec *adds = slim_calloc(n + 1, sizeof *adds);
    slim_mls_built_proposal psk;
    memset(&psk, 0, sizeof psk);
    slim_status st = adds != NULL ? SLIM_OK : SLIM_E_NOMEM;
    if (st == SLIM_OK)
        st = slim_mls_group_create(c, g->reinit.group_id, g->reinit.extensions.body, opts, env,
                                   &first);
    for (size_t i = 0; st == SLIM_OK && i < n; i++) {
        adds[i].type = SLIM_MLS_PROPOSAL_ADD;
        adds[i].key_package = key_packages[i];
    }
    /* The resumption PSK of the old group's last epoch, usage reinit. */
    psk.p.type = SLIM_MLS_PROPOSAL_PSK;
    psk.p.u.psk.psktype = SLIM_MLS_PSK_RESUMPTION;
    psk.p.u.psk.usage = SLIM_MLS_PSK_USAGE_REINIT;
    psk.p.u.psk.psk_group_id = g->gc.group_id;
    psk.p.u.psk.psk_epoch = g->gc.epoch;
    psk.p.u.psk.psk_nonce = slim_bytes_of(psk.nonce, c->suite->nh);
    if (st == SLIM_OK)
        st = slim_mls_rng_fill(slim_mls__env_rng(env), psk.nonce, c->suite->nh);
    slim_mls_commit_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.proposals = adds;
    spec.n_proposals = n;
    spec.force_path = true;
    spec.welcome_tree = true;
    if (st == SLIM_OK)
        st = commit_member(first, &spec, &psk, 1, g, env, out);
    slim_mls_group_free(first);
    slim_free(adds);
    slim_memzero(&psk, sizeof psk);
    return st;
}
