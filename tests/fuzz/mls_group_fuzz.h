/*
 * The fixed group of the group-layer fuzz targets (fuzz_mls_welcome,
 * fuzz_mls_commit) and of the unit test that writes their seeds and
 * checks them (test_mls_group: group_fuzz_fixture). Built with the real
 * API from a deterministic RNG, so the same on every run (ECDSA
 * signatures differ, and stay valid):
 *
 *   A (0) creates the group and adds B (1) and C (2) with a path
 *   (epoch 1), then adds R (3) with a path (epoch 2): R's Welcome, with
 *   the tree and without it (the tree beside it), and its decrypted
 *   GroupSecrets and GroupInfo with the welcome key and nonce;
 *   in epoch 2, B proposes an Update (PublicMessage), C a Remove of A
 *   (PrivateMessage) and A a resumption PSK (PublicMessage); B commits
 *   them by reference (PublicMessage) with a path: the genuine commit.
 *
 * R's state is made fresh for each fuzz input by joining from the
 * Welcome (fuzz_group_join_r), so inputs do not change one another.
 * Messages for a fresh R come as a sequence of [uint16 length][message].
 *
 * Test code only (header-only). The includer defines GF_CHECK_OK.
 */
#ifndef SLIM_TESTS_MLS_GROUP_FUZZ_H
#define SLIM_TESTS_MLS_GROUP_FUZZ_H

#include "../unit/mls/mls_group_fixture.h"

enum { FZ_A = 0, FZ_B = 1, FZ_C = 2, FZ_R = 3, FZ_PROPOSALS = 3 };

typedef struct gfuzz {
    gworld w;
    slim_buf welcome, welcome_bare, tree; /* R's Welcomes, the tree of epoch 2 */
    slim_buf group_secrets, group_info;   /* R's plaintexts */
    uint8_t key[SLIM_MLS_MAX_AEAD_KEY], nonce[SLIM_MLS_MAX_AEAD_NONCE];
    slim_buf proposals[FZ_PROPOSALS]; /* epoch 2, in the order sent */
    slim_buf path;                    /* an UpdatePath B could send in epoch 2 */
    slim_buf commit;                  /* B's genuine commit of them */
    slim_buf list;                    /* its ProposalOrRef list (body) */
} gfuzz;

static inline void gfuzz_free(gfuzz *f) {
    gw_free(&f->w);
    slim_buf *bufs[] = {&f->welcome,    &f->welcome_bare, &f->tree,   &f->group_secrets,
                        &f->group_info, &f->path,         &f->commit, &f->list};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        slim_buf_cleanup_secret(bufs[i]);
    for (size_t i = 0; i < FZ_PROPOSALS; i++)
        slim_buf_cleanup(&f->proposals[i]);
}

/* R joins from `welcome` (tree given when not empty) into *out. */
static inline slim_status gfuzz_join_r(gfuzz *f, slim_bytes welcome, slim_bytes tree,
                                       slim_mls_group **out) {
    slim_mls_join_params jp;
    memset(&jp, 0, sizeof jp);
    jp.client = f->w.m[FZ_R].client;
    jp.key_package = slim_buf_view(&f->w.m[FZ_R].kp);
    jp.keys = &f->w.m[FZ_R].keys;
    jp.ratchet_tree = tree;
    jp.opts = &f->w.opts;
    return slim_mls_group_join(&jp, welcome, &f->w.env, out);
}

/* A Welcome for R: `group_info` sealed with the welcome key, and
 * `group_secrets` encrypted to R's init key with that ciphertext as
 * context. */
static inline slim_status gfuzz_wrap(gfuzz *f, slim_bytes group_info, slim_bytes group_secrets,
                                     slim_buf *out) {
    const slim_mls_suite *s = f->w.s;
    slim_buf egi = SLIM_BUF_INIT, kem = SLIM_BUF_INIT, ct = SLIM_BUF_INIT, list = SLIM_BUF_INIT;
    slim_mls_key_package kp;
    uint8_t ref[SLIM_MLS_MAX_HASH];
    slim_status st = slim_mls__key_package_view(slim_buf_view(&f->w.m[FZ_R].kp), &kp);
    if (st == SLIM_OK)
        st = slim_mls_key_package_ref(s, &kp, ref);
    if (st == SLIM_OK)
        st = slim_mls_suite_seal(s, slim_bytes_of(f->key, s->nk), slim_bytes_of(f->nonce, s->nn),
                                 slim_bytes_of(NULL, 0), group_info, &egi);
    if (st == SLIM_OK)
        st = slim_mls_encrypt_with_label(s, kp.init_key, "Welcome", slim_buf_view(&egi),
                                         group_secrets, &f->w.rng, &kem, &ct);
    slim_mls_encrypted_group_secrets e = {slim_bytes_of(ref, s->nh),
                                          {slim_buf_view(&kem), slim_buf_view(&ct)}};
    slim_mls_tls_writer tw;
    slim_mls_tls_writer_init(&tw, &list);
    if (st == SLIM_OK)
        st = slim_mls_encrypted_group_secrets_encode(&tw, &e);
    slim_mls_message m;
    memset(&m, 0, sizeof m);
    m.version = SLIM_MLS_VERSION_MLS10;
    m.wire_format = SLIM_MLS_WIRE_WELCOME;
    m.u.welcome.cipher_suite = s->id;
    m.u.welcome.secrets.body = slim_buf_view(&list);
    m.u.welcome.secrets.count = 1;
    m.u.welcome.encrypted_group_info = slim_buf_view(&egi);
    out->len = 0;
    if (st == SLIM_OK)
        st = slim_mls_message_encode(&m, out);
    slim_buf_cleanup(&egi);
    slim_buf_cleanup(&kem);
    slim_buf_cleanup(&ct);
    slim_buf_cleanup(&list);
    return st;
}

static inline void gfuzz_init(gfuzz *f, uint16_t suite) {
    memset(f, 0, sizeof *f);
    gworld *w = &f->w;
    gw_init(w, suite, 900 + suite);
    w->opts.max_resumption_psks = 2;
    for (int i = 0; i < 4; i++)
        gw_client(w, "fuzz");
    GF_CHECK_OK(gw_create(w, FZ_A, slim_bytes_of(NULL, 0)));
    size_t bc[2] = {FZ_B, FZ_C};
    GF_CHECK_OK(gw_add(w, FZ_A, bc, 2, true, NULL, NULL));
    /* R's Welcome, with and without the tree: the commit is made twice
     * from the same state, the first one applied. */
    slim_mls_proposal_spec add;
    memset(&add, 0, sizeof add);
    add.type = SLIM_MLS_PROPOSAL_ADD;
    add.key_package = slim_buf_view(&w->m[FZ_R].kp);
    slim_mls_commit_spec cs;
    memset(&cs, 0, sizeof cs);
    cs.proposals = &add;
    cs.n_proposals = 1;
    cs.force_path = true;
    cs.welcome_tree = true;
    slim_mls_commit_output o;
    GF_CHECK_OK(slim_mls_group_commit(w->m[FZ_A].g, &cs, &w->env, &o));
    GF_CHECK_OK(slim_buf_append(&f->welcome, o.welcome.data, o.welcome.len));
    GF_CHECK_OK(slim_mls_group_ratchet_tree(o.group, &f->tree));
    GF_CHECK_OK(gw_apply(w, FZ_A, slim_buf_view(&o.commit), slim_bytes_of(NULL, 0), NULL));
    gf_swap(&w->m[FZ_A], o.group);
    o.group = NULL;
    slim_mls_commit_output_cleanup(&o);
    /* The Welcome without the tree: rebuilt by hand from R's plaintexts
     * (a second commit would be another epoch). */
    const slim_mls_suite *s = w->s;
    slim_mls_welcome_info wi;
    GF_CHECK_OK(slim_mls_welcome_open(s, slim_buf_view(&f->welcome), slim_buf_view(&w->m[FZ_R].kp),
                                      slim_bytes_of(w->m[FZ_R].keys.init_priv, s->kem_nsk), NULL,
                                      &w->env, &wi));
    GF_CHECK_OK(slim_buf_append(&f->group_secrets, wi.gs_buf.data, wi.gs_buf.len));
    slim_mls_tls_writer tw;
    slim_mls_group_info gi = wi.group_info;
    gi.extensions.body = slim_bytes_of(NULL, 0); /* the tree left out: signed again by A */
    slim_buf sig = SLIM_BUF_INIT;
    GF_CHECK_OK(slim_mls_group_info_sign(s, &gi, w->m[FZ_A].client->signer, &sig));
    slim_mls_tls_writer_init(&tw, &f->group_info);
    GF_CHECK_OK(slim_mls_group_info_encode(&tw, &wi.group_info));
    slim_buf bare = SLIM_BUF_INIT;
    slim_mls_tls_writer_init(&tw, &bare);
    GF_CHECK_OK(slim_mls_group_info_encode(&tw, &gi));
    slim_mls_group_secrets gs;
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, slim_buf_view(&f->group_secrets));
    GF_CHECK_OK(slim_mls_group_secrets_decode(&r, &gs));
    uint8_t psk0[SLIM_MLS_MAX_HASH], ws[SLIM_MLS_MAX_HASH];
    GF_CHECK_OK(slim_mls_psk_secret(s, NULL, 0, psk0));
    GF_CHECK_OK(slim_mls_welcome_secret(s, gs.joiner_secret, slim_bytes_of(psk0, s->nh), ws));
    GF_CHECK_OK(slim_mls_welcome_key_nonce(s, slim_bytes_of(ws, s->nh), f->key, f->nonce));
    slim_memzero(ws, sizeof ws);
    slim_mls_welcome_info_cleanup(&wi);
    slim_buf_cleanup(&sig);
    /* In the rebuilt Welcome the secrets are encrypted to the new
     * GroupInfo ciphertext (their HPKE context). */
    GF_CHECK_OK(
        gfuzz_wrap(f, slim_buf_view(&bare), slim_buf_view(&f->group_secrets), &f->welcome_bare));
    slim_buf_cleanup(&bare);
    GF_CHECK_OK(gf_join(&w->m[FZ_R], slim_buf_view(&f->welcome), slim_bytes_of(NULL, 0), &w->env,
                        &w->opts));

    /* Epoch 2: three proposals, then B's commit of them. */
    slim_mls_proposal_spec p;
    memset(&p, 0, sizeof p);
    p.type = SLIM_MLS_PROPOSAL_UPDATE;
    GF_CHECK_OK(gw_propose(w, FZ_B, &p, SLIM_MLS_WIRE_PUBLIC_MESSAGE, &f->proposals[0]));
    p.type = SLIM_MLS_PROPOSAL_REMOVE;
    p.removed = slim_mls_group_own_leaf(w->m[FZ_A].g);
    GF_CHECK_OK(gw_propose(w, FZ_C, &p, SLIM_MLS_WIRE_PRIVATE_MESSAGE, &f->proposals[1]));
    memset(&p, 0, sizeof p);
    p.type = SLIM_MLS_PROPOSAL_PSK;
    p.psk_type = SLIM_MLS_PSK_RESUMPTION;
    p.psk_epoch = 2;
    GF_CHECK_OK(gw_propose(w, FZ_A, &p, SLIM_MLS_WIRE_PUBLIC_MESSAGE, &f->proposals[2]));
    memset(&cs, 0, sizeof cs);
    cs.include_pending = true;
    GF_CHECK_OK(slim_mls_group_commit(w->m[FZ_B].g, &cs, &w->env, &o));
    GF_CHECK_OK(slim_buf_append(&f->commit, o.commit.data, o.commit.len));
    slim_mls_commit_output_cleanup(&o);
    slim_mls_message m;
    GF_CHECK_OK(slim_mls_message_decode(slim_buf_view(&f->commit), &m));
    const slim_mls_commit *c = &m.u.public_message.content.u.commit;
    GF_CHECK_OK(slim_buf_append(&f->list, c->proposals.body.ptr, c->proposals.body.len));
    slim_mls_tls_writer_init(&tw, &f->path);
    GF_CHECK_OK(slim_mls_update_path_encode(&tw, &c->path));
}

#endif
