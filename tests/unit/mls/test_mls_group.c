/*
 * The group layer (src/mls/group*.c): groups made, joined and followed
 * through commits of every proposal type, by value and by reference, as
 * PublicMessage and PrivateMessage, where every member keeps its own state
 * and all must agree (epoch authenticator and exporter) after every
 * commit; external commits, external and new-member proposals, ReInit and
 * the reinitialized group; PSKs; past epochs kept and forgotten; value
 * semantics (old states stay usable); and every refusal of a commit (made
 * or received), a proposal and a Welcome with its named status, the state
 * unchanged and still usable afterwards. Refused commits and proposals
 * are forged with a member's real keys (signature, membership tag,
 * encryption) so that only the rule under test is broken. Out-of-memory
 * at every allocation of commit, process and join.
 */
#include "mls_test_util.h"

#include "fuzz/mls_group_fuzz.h"
#include "mls_group_fixture.h"
#include "mls/extensions.h"
#include "mls/transcript.h"

static const uint16_t PUB = SLIM_MLS_WIRE_PUBLIC_MESSAGE;
static const uint16_t PRIV = SLIM_MLS_WIRE_PRIVATE_MESSAGE;

/* A group of n members: client 0 created it and added the others in one
 * commit with a path. */
static void world(gworld *w, uint16_t suite, size_t n) {
    gw_init(w, suite, 11 + suite);
    w->opts.max_past_epochs = 2;
    w->opts.max_resumption_psks = 4;
    size_t first = gw_client(w, "member");
    CHECK_OK(gw_create(w, first, slim_bytes_of(NULL, 0)));
    size_t ids[GW_MAX];
    for (size_t i = 1; i < n; i++)
        ids[i - 1] = gw_client(w, "member");
    if (n > 1)
        CHECK_OK(gw_add(w, first, ids, n - 1, true, NULL, NULL));
    CHECK(gw_agree(w, n > 1 ? 1 : 0));
}

static slim_mls_commit_spec spec_of(const slim_mls_proposal_spec *p, size_t n, uint16_t wf) {
    slim_mls_commit_spec cs;
    memset(&cs, 0, sizeof cs);
    cs.proposals = p;
    cs.n_proposals = n;
    cs.wire_format = wf;
    return cs;
}

/* What must not change when a call is refused. */
typedef struct snap {
    uint64_t epoch;
    uint8_t ea[SLIM_MLS_MAX_HASH];
    size_t n_props;
    uint32_t members;
} snap;

static snap snap_of(const slim_mls_group *g) {
    snap s;
    memset(&s, 0, sizeof s);
    s.epoch = slim_mls_group_epoch(g);
    slim_bytes ea = slim_mls_group_epoch_authenticator(g);
    memcpy(s.ea, ea.ptr, ea.len);
    s.n_props = g->n_props;
    s.members = slim_mls_group_member_count(g);
    return s;
}

static void check_unchanged(const slim_mls_group *g, const snap *s) {
    snap now = snap_of(g);
    CHECK_U64(now.epoch, s->epoch);
    CHECK_MEM(now.ea, s->ea, sizeof now.ea);
    CHECK_EQ(now.n_props, s->n_props);
    CHECK_EQ(now.members, s->members);
}

/* Member a's state still works: it sends data that member b reads. */
static void check_usable(gworld *w, size_t a, size_t b) {
    slim_buf msg = SLIM_BUF_INIT;
    CHECK_OK(slim_mls_group_protect(w->m[a].g, slim_bytes_of("aad", 3), slim_bytes_of("hello", 5),
                                    &w->env, &msg));
    slim_mls_received r;
    slim_status st = slim_mls_group_receive(w->m[b].g, slim_buf_view(&msg), &w->env, &r);
    CHECK_OK(st);
    if (st == SLIM_OK) {
        CHECK(r.data.len == 5 && memcmp(r.data.data, "hello", 5) == 0);
        CHECK(r.authenticated_data.len == 3);
        CHECK_EQ(r.sender.index, slim_mls_group_own_leaf(w->m[a].g));
        slim_mls_received_cleanup(&r);
    }
    slim_buf_cleanup(&msg);
}

/* Every member's epoch, authenticator and exporter agree; each can still
 * talk to the next. */
static void check_agree(gworld *w, uint64_t epoch) {
    CHECK(gw_agree(w, epoch));
    size_t prev = SIZE_MAX;
    for (size_t i = 0; i < w->n; i++) {
        if (!gw_in(w, i))
            continue;
        if (prev != SIZE_MAX)
            check_usable(w, prev, i);
        prev = i;
    }
}

static uint64_t epoch_of(gworld *w, size_t i) {
    return slim_mls_group_epoch(w->m[i].g);
}

static uint32_t leaf_of(gworld *w, size_t i) {
    return slim_mls_group_own_leaf(w->m[i].g);
}

/* ---- forging messages with a member's real keys ---------------------------------- */

/* The UpdatePath of a commit member i could send now (encoded). */
static void real_path(gworld *w, size_t i, slim_buf *out) {
    slim_mls_commit_spec cs = spec_of(NULL, 0, PUB);
    slim_mls_commit_output o;
    CHECK_OK(slim_mls_group_commit(w->m[i].g, &cs, &w->env, &o));
    slim_mls_message m;
    CHECK_OK(slim_mls_message_decode(slim_buf_view(&o.commit), &m));
    slim_mls_tls_writer tw;
    slim_mls_tls_writer_init(&tw, out);
    CHECK_OK(slim_mls_update_path_encode(&tw, &m.u.public_message.content.u.commit.path));
    slim_mls_commit_output_cleanup(&o);
}

/* Signs and protects `fc` as member i (wire format wf). A commit gets
 * `tag` as confirmation tag (or Nh bytes of 0x55). */
static void forge(gworld *w, size_t i, const slim_mls_framed_content *fc, uint16_t wf,
                  slim_bytes tag, slim_buf *out) {
    const slim_mls_group *g = w->m[i].g;
    uint8_t junk[SLIM_MLS_MAX_HASH];
    memset(junk, 0x55, sizeof junk);
    slim_buf sig = SLIM_BUF_INIT;
    CHECK_OK(slim_mls__content_sign(g, wf, fc, &sig));
    slim_mls_authenticated_content ac;
    memset(&ac, 0, sizeof ac);
    ac.wire_format = wf;
    ac.content = *fc;
    ac.auth.signature = slim_buf_view(&sig);
    if (fc->content_type == SLIM_MLS_CONTENT_COMMIT)
        ac.auth.confirmation_tag = tag.len > 0 ? tag : slim_bytes_of(junk, g->suite->nh);
    out->len = 0;
    CHECK_OK(slim_mls__content_protect(g, &ac, &w->env, out));
    slim_buf_cleanup(&sig);
}

static slim_mls_framed_content content_of(gworld *w, size_t i, uint8_t type) {
    slim_mls_framed_content fc;
    memset(&fc, 0, sizeof fc);
    fc.group_id = slim_mls_group_id(w->m[i].g);
    fc.epoch = epoch_of(w, i);
    fc.sender.type = SLIM_MLS_SENDER_MEMBER;
    fc.sender.index = leaf_of(w, i);
    fc.content_type = type;
    return fc;
}

/* A Commit from member i with the ProposalOrRef list `list` (count
 * entries) and, when path is not NULL, that UpdatePath. */
static void forge_commit(gworld *w, size_t i, const slim_buf *list, uint32_t count,
                         const slim_buf *path, uint16_t wf, slim_buf *out) {
    slim_mls_framed_content fc = content_of(w, i, SLIM_MLS_CONTENT_COMMIT);
    fc.u.commit.proposals.body = slim_buf_view(list);
    fc.u.commit.proposals.count = count;
    if (path != NULL) {
        slim_mls_tls_reader r;
        slim_mls_tls_reader_init(&r, slim_buf_view(path));
        slim_mls_update_path_decode(&r, &fc.u.commit.path);
        CHECK_OK(slim_mls_tls_reader_finish(&r));
        fc.u.commit.has_path = true;
    }
    forge(w, i, &fc, wf, slim_bytes_of(NULL, 0), out);
}

static void forge_proposal(gworld *w, size_t i, const slim_mls_proposal *p, uint16_t wf,
                           slim_buf *out) {
    slim_mls_framed_content fc = content_of(w, i, SLIM_MLS_CONTENT_PROPOSAL);
    fc.u.proposal = *p;
    forge(w, i, &fc, wf, slim_bytes_of(NULL, 0), out);
}

/* Appends a ProposalOrRef by value / by reference to a list. */
static void list_value(slim_buf *list, const slim_mls_proposal *p) {
    slim_mls_proposal_or_ref por;
    memset(&por, 0, sizeof por);
    por.type = SLIM_MLS_PROPOSAL_OR_REF_PROPOSAL;
    por.proposal = *p;
    slim_mls_tls_writer tw;
    slim_mls_tls_writer_init(&tw, list);
    CHECK_OK(slim_mls_proposal_or_ref_encode(&tw, &por));
}

static void list_ref(slim_buf *list, const uint8_t *ref, size_t n) {
    slim_mls_proposal_or_ref por;
    memset(&por, 0, sizeof por);
    por.type = SLIM_MLS_PROPOSAL_OR_REF_REFERENCE;
    por.reference = slim_bytes_of(ref, n);
    slim_mls_tls_writer tw;
    slim_mls_tls_writer_init(&tw, list);
    CHECK_OK(slim_mls_proposal_or_ref_encode(&tw, &por));
}

/* A proposal built as member i would build it (views into *b). */
static slim_mls_proposal built(gworld *w, size_t i, const slim_mls_proposal_spec *spec,
                               slim_mls_built_proposal *b) {
    CHECK_OK(slim_mls__proposal_build(w->s, w->m[i].g, spec, &w->env, b));
    return b->p;
}

/* Member j receives msg and must refuse it with `want`, unchanged and
 * usable. */
static void refused(gworld *w, size_t j, slim_bytes msg, slim_status want, size_t peer) {
    snap s = snap_of(w->m[j].g);
    slim_mls_received r;
    CHECK_STATUS(slim_mls_group_receive(w->m[j].g, msg, &w->env, &r), want);
    check_unchanged(w->m[j].g, &s);
    check_usable(w, j, peer);
    check_usable(w, peer, j);
}

/* ---- forging Welcomes ---------------------------------------------------------------------- */

/*
 * A Welcome rebuilt after `edit` changed its GroupInfo (and optionally
 * re-signed it with the committer's key): the joiner's secrets are
 * decrypted with its init key, the GroupInfo with the welcome key, and
 * after the edit the confirmation tag is recomputed for the edited
 * GroupContext (when `retag`) and everything encrypted again.
 */
typedef void (*gi_edit)(slim_mls_group_info *gi, slim_buf *store, void *arg);

/* The joiner's part of a Welcome: the message decoded into *m, its
 * KeyPackage and KeyPackageRef, its GroupSecrets decrypted into gsb (the
 * caller wipes it) and decoded into *gs. */
static void open_secrets_of(gworld *w, size_t joiner, slim_bytes welcome, slim_mls_message *m,
                            slim_mls_key_package *kp, uint8_t *ref, slim_buf *gsb,
                            slim_mls_group_secrets *gs) {
    const slim_mls_suite *s = w->s;
    CHECK_OK(slim_mls_message_decode(welcome, m));
    CHECK_OK(slim_mls__key_package_view(slim_buf_view(&w->m[joiner].kp), kp));
    CHECK_OK(slim_mls_key_package_ref(s, kp, ref));
    slim_mls_encrypted_group_secrets egs;
    bool found = false;
    CHECK_OK(slim_mls_welcome_find_secrets(&m->u.welcome, slim_bytes_of(ref, s->nh), &egs, &found));
    CHECK_OK(slim_mls_decrypt_with_label(s, slim_bytes_of(w->m[joiner].keys.init_priv, s->kem_nsk),
                                         "Welcome", m->u.welcome.encrypted_group_info,
                                         egs.encrypted_group_secrets.kem_output,
                                         egs.encrypted_group_secrets.ciphertext, gsb));
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, slim_buf_view(gsb));
    CHECK_OK(slim_mls_group_secrets_decode(&r, gs));
}

/* The Welcome with the joiner's GroupSecrets naming the PSKs `psks`
 * (an encoded PreSharedKeyID list of n) instead, encrypted again to the
 * same GroupInfo ciphertext. */
static void rewrap_psks(gworld *w, size_t joiner, slim_bytes welcome, slim_bytes psks, uint32_t n,
                        slim_buf *out) {
    const slim_mls_suite *s = w->s;
    slim_mls_message m;
    slim_mls_key_package kp;
    uint8_t ref[SLIM_MLS_MAX_HASH];
    slim_buf gsb = SLIM_BUF_INIT, gs2 = SLIM_BUF_INIT, kem = SLIM_BUF_INIT, ct = SLIM_BUF_INIT;
    slim_buf list = SLIM_BUF_INIT;
    slim_mls_group_secrets gs;
    open_secrets_of(w, joiner, welcome, &m, &kp, ref, &gsb, &gs);
    gs.psks.body = psks;
    gs.psks.count = n;
    slim_mls_tls_writer tw;
    slim_mls_tls_writer_init(&tw, &gs2);
    CHECK_OK(slim_mls_group_secrets_encode(&tw, &gs));
    CHECK_OK(slim_mls_encrypt_with_label(s, kp.init_key, "Welcome",
                                         m.u.welcome.encrypted_group_info, slim_buf_view(&gs2),
                                         &w->rng, &kem, &ct));
    slim_mls_encrypted_group_secrets e2 = {slim_bytes_of(ref, s->nh),
                                           {slim_buf_view(&kem), slim_buf_view(&ct)}};
    slim_mls_tls_writer_init(&tw, &list);
    CHECK_OK(slim_mls_encrypted_group_secrets_encode(&tw, &e2));
    m.u.welcome.secrets.body = slim_buf_view(&list);
    m.u.welcome.secrets.count = 1;
    out->len = 0;
    CHECK_OK(slim_mls_message_encode(&m, out));
    slim_buf_cleanup_secret(&gsb);
    slim_buf_cleanup_secret(&gs2);
    slim_buf_cleanup(&kem);
    slim_buf_cleanup(&ct);
    slim_buf_cleanup(&list);
}

/* bad_key: the GroupInfo is sealed under another key than the welcome
 * key (the secrets are still encrypted to its ciphertext). */
static const slim_mls_group *reforge_prior; /* resumption PSKs of a reforged Welcome */

static void reforge_welcome_key(gworld *w, size_t joiner, size_t signer, slim_bytes welcome,
                                gi_edit edit, void *arg, bool resign, bool retag, bool bad_key,
                                slim_buf *out) {
    const slim_mls_suite *s = w->s;
    slim_mls_message m;
    slim_mls_key_package kp;
    uint8_t ref[SLIM_MLS_MAX_HASH];
    slim_buf gsb = SLIM_BUF_INIT, gib = SLIM_BUF_INIT, store = SLIM_BUF_INIT, sig = SLIM_BUF_INIT;
    slim_mls_group_secrets gs;
    open_secrets_of(w, joiner, welcome, &m, &kp, ref, &gsb, &gs);
    slim_mls_tls_reader r;
    uint8_t psk0[SLIM_MLS_MAX_HASH], ws[SLIM_MLS_MAX_HASH], key[16], nonce[12];
    slim_mls_psk psks[4];
    slim_mls_tls_reader pr;
    slim_mls_tls_reader_init(&pr, gs.psks.body);
    for (uint32_t i = 0; i < gs.psks.count && i < 4; i++) {
        CHECK_OK(slim_mls_psk_id_decode(&pr, &psks[i].id));
        CHECK_OK(slim_mls__psk_lookup(NULL, reforge_prior, &w->env, &psks[i].id, &psks[i].secret));
    }
    CHECK_OK(slim_mls_psk_secret(s, psks, gs.psks.count, psk0));
    CHECK_OK(slim_mls_welcome_secret(s, gs.joiner_secret, slim_bytes_of(psk0, s->nh), ws));
    CHECK_OK(slim_mls_welcome_key_nonce(s, slim_bytes_of(ws, s->nh), key, nonce));
    CHECK_OK(slim_mls_suite_open(s, slim_bytes_of(key, 16), slim_bytes_of(nonce, 12),
                                 slim_bytes_of(NULL, 0), m.u.welcome.encrypted_group_info, &gib));
    slim_mls_group_info gi;
    slim_mls_tls_reader_init(&r, slim_buf_view(&gib));
    CHECK_OK(slim_mls_group_info_decode(&r, &gi));
    CHECK_OK(slim_buf_reserve(&store, 4096));
    edit(&gi, &store, arg);
    uint8_t tag[SLIM_MLS_MAX_HASH];
    if (retag) {
        slim_buf gcb = SLIM_BUF_INIT;
        CHECK_OK(slim_mls_group_context_encode(&gi.group_context, &gcb));
        slim_mls_epoch_secrets es;
        CHECK_OK(slim_mls_key_schedule_join(s, gs.joiner_secret, slim_bytes_of(psk0, s->nh),
                                            slim_buf_view(&gcb), &es));
        CHECK_OK(slim_mls_confirmation_tag(s, slim_bytes_of(es.confirmation_key, s->nh),
                                           gi.group_context.confirmed_transcript_hash, tag));
        gi.confirmation_tag = slim_bytes_of(tag, s->nh);
        slim_mls_epoch_secrets_cleanup(&es);
        slim_buf_cleanup(&gcb);
    }
    if (resign) {
        slim_mls_sig_key *k = NULL;
        CHECK_OK(
            slim_mls_sig_key_new(s->sig, slim_bytes_of(w->m[signer].sig_sk, s->sig_nsk), true, &k));
        CHECK_OK(slim_mls_group_info_sign(s, &gi, k, &sig));
        slim_mls_sig_key_free(k);
    }
    slim_buf gi2 = SLIM_BUF_INIT, egi = SLIM_BUF_INIT, kem = SLIM_BUF_INIT, ct = SLIM_BUF_INIT;
    slim_buf list = SLIM_BUF_INIT;
    slim_mls_tls_writer tw;
    slim_mls_tls_writer_init(&tw, &gi2);
    CHECK_OK(slim_mls_group_info_encode(&tw, &gi));
    key[0] ^= bad_key;
    CHECK_OK(slim_mls_suite_seal(s, slim_bytes_of(key, 16), slim_bytes_of(nonce, 12),
                                 slim_bytes_of(NULL, 0), slim_buf_view(&gi2), &egi));
    CHECK_OK(slim_mls_encrypt_with_label(s, kp.init_key, "Welcome", slim_buf_view(&egi),
                                         slim_buf_view(&gsb), &w->rng, &kem, &ct));
    slim_mls_encrypted_group_secrets e2 = {slim_bytes_of(ref, s->nh),
                                           {slim_buf_view(&kem), slim_buf_view(&ct)}};
    slim_mls_tls_writer_init(&tw, &list);
    CHECK_OK(slim_mls_encrypted_group_secrets_encode(&tw, &e2));
    slim_mls_message wm;
    memset(&wm, 0, sizeof wm);
    wm.version = 1;
    wm.wire_format = SLIM_MLS_WIRE_WELCOME;
    wm.u.welcome.cipher_suite = s->id;
    wm.u.welcome.secrets.body = slim_buf_view(&list);
    wm.u.welcome.secrets.count = 1;
    wm.u.welcome.encrypted_group_info = slim_buf_view(&egi);
    out->len = 0;
    CHECK_OK(slim_mls_message_encode(&wm, out));
    slim_buf_cleanup_secret(&gsb);
    slim_buf_cleanup(&gib);
    slim_buf_cleanup(&store);
    slim_buf_cleanup(&sig);
    slim_buf_cleanup(&gi2);
    slim_buf_cleanup(&egi);
    slim_buf_cleanup(&kem);
    slim_buf_cleanup(&ct);
    slim_buf_cleanup(&list);
}

static void reforge_welcome(gworld *w, size_t joiner, size_t signer, slim_bytes welcome,
                            gi_edit edit, void *arg, bool resign, bool retag, slim_buf *out) {
    reforge_welcome_key(w, joiner, signer, welcome, edit, arg, resign, retag, false, out);
}

static void edit_nothing(slim_mls_group_info *gi, slim_buf *store, void *arg) {
    (void)gi;
    (void)store;
    (void)arg;
}

static void edit_signer(slim_mls_group_info *gi, slim_buf *store, void *arg) {
    (void)store;
    gi->signer = *(const uint32_t *)arg;
}

static void edit_epoch(slim_mls_group_info *gi, slim_buf *store, void *arg) {
    (void)store;
    (void)arg;
    gi->group_context.epoch++;
}

/* Replaces the ratchet_tree extension by the tree in arg (a slim_buf)
 * and the GroupContext's tree hash by that tree's. */
static void edit_tree(slim_mls_group_info *gi, slim_buf *store, void *arg) {
    const slim_buf *tree = arg;
    slim_mls_tree *t = NULL;
    const slim_mls_suite *s = slim_mls_suite_get(gi->group_context.cipher_suite);
    CHECK_OK(slim_mls_tree_decode(s, slim_buf_view(tree), &t));
    uint8_t *th = store->data;
    CHECK_OK(slim_mls_tree_hash(t, th));
    gi->group_context.tree_hash = slim_bytes_of(th, s->nh);
    store->len = s->nh;
    size_t at = store->len;
    slim_mls_tls_writer tw;
    slim_mls_tls_writer_init(&tw, store);
    CHECK_OK(slim_mls_tree_extension_write(t, &tw));
    gi->extensions.body = slim_bytes_of(store->data + at, store->len - at);
    slim_mls_tree_free(t);
}

/* ---- groups that agree ------------------------------------------------------------ */

TEST(create_add_and_join_both_suites) {
    for (uint16_t suite = 1; suite <= 2; suite++) {
        gworld w;
        world(&w, suite, 4);
        CHECK_EQ(slim_mls_group_member_count(w.m[0].g), 4);
        check_agree(&w, 1);
        /* A joiner given the tree out of band, added without a path. */
        w.welcome_tree = false;
        size_t n = gw_client(&w, "member");
        CHECK_OK(gw_add(&w, 2, &n, 1, false, NULL, NULL));
        CHECK(gw_in(&w, n));
        check_agree(&w, 2);
        const slim_mls_leaf_node *ln = slim_mls_group_member(w.m[n].g, leaf_of(&w, n));
        CHECK(ln != NULL && gf_same(ln->credential.body, slim_bytes_of(w.m[n].id, 8)));
        /* Commits from each member in turn, as Public- and PrivateMessage. */
        for (size_t i = 0; i < w.n; i++) {
            slim_mls_commit_spec cs = spec_of(NULL, 0, i % 2 ? PRIV : PUB);
            CHECK_OK(gw_commit(&w, i, &cs, NULL, NULL));
            check_agree(&w, 3 + i);
        }
        gw_free(&w);
    }
}

TEST(commits_of_every_proposal_type_by_value_and_by_reference) {
    for (uint16_t suite = 1; suite <= 2; suite++) {
        gworld w;
        world(&w, suite, 4);
        uint64_t e = 1;
        for (int round = 0; round < 2; round++) {
            uint16_t wf = round ? PRIV : PUB;
            /* Add by reference (no path), then by value (path forced). */
            size_t a = gw_client(&w, "member");
            slim_mls_proposal_spec p = gf_typed(SLIM_MLS_PROPOSAL_ADD);
            p.key_package = slim_buf_view(&w.m[a].kp);
            CHECK_OK(gw_propose(&w, 1, &p, wf, NULL));
            slim_mls_commit_spec cs = spec_of(NULL, 0, wf);
            cs.include_pending = true;
            CHECK_OK(gw_commit(&w, 2, &cs, NULL, NULL));
            CHECK(gw_in(&w, a));
            check_agree(&w, ++e);
            /* Update by reference: the updater's new key takes over. */
            p = gf_typed(SLIM_MLS_PROPOSAL_UPDATE);
            CHECK_OK(gw_propose(&w, a, &p, wf, NULL));
            CHECK_OK(gw_propose(&w, 3, &p, wf, NULL));
            CHECK_OK(gw_commit(&w, 0, &cs, NULL, NULL));
            check_agree(&w, ++e);
            /* Remove by reference and by value in one commit. */
            slim_mls_proposal_spec rm = gf_typed(SLIM_MLS_PROPOSAL_REMOVE);
            rm.removed = leaf_of(&w, a);
            CHECK_OK(gw_propose(&w, 3, &rm, wf, NULL));
            size_t b = gw_client(&w, "member");
            CHECK_OK(gw_add(&w, 0, &b, 1, true, NULL, NULL));
            check_agree(&w, ++e);
            slim_mls_proposal_spec rm2 = gf_typed(SLIM_MLS_PROPOSAL_REMOVE);
            rm2.removed = leaf_of(&w, b);
            CHECK_OK(gw_propose(&w, 3, &rm, wf, NULL));
            slim_mls_commit_spec cs2 = spec_of(&rm2, 1, wf);
            cs2.include_pending = true;
            CHECK_OK(gw_commit(&w, 1, &cs2, NULL, NULL));
            CHECK(!gw_in(&w, a) && !gw_in(&w, b));
            check_agree(&w, ++e);
            /* GroupContextExtensions by value, then by reference. */
            uint8_t ext[] = {0x00, 0x01, 0x03, 'a', 'p', 'p'}; /* application_id "app" */
            p = gf_typed(SLIM_MLS_PROPOSAL_GROUP_CONTEXT_EXTENSIONS);
            p.extensions = slim_bytes_of(ext, sizeof ext);
            cs2 = spec_of(&p, 1, wf);
            CHECK_OK(gw_commit(&w, 3, &cs2, NULL, NULL));
            check_agree(&w, ++e);
            CHECK(gf_same(slim_mls_group_extensions(w.m[0].g), slim_bytes_of(ext, sizeof ext)));
            p.extensions = slim_bytes_of(NULL, 0);
            CHECK_OK(gw_propose(&w, 0, &p, wf, NULL));
            CHECK_OK(gw_commit(&w, 2, &cs, NULL, NULL));
            check_agree(&w, ++e);
            CHECK_EQ(slim_mls_group_extensions(w.m[1].g).len, 0);
        }
        gw_free(&w);
    }
}

TEST(psks_external_and_resumption) {
    gworld w;
    world(&w, 1, 3);
    uint8_t id[] = "psk-1", value[32];
    memset(value, 7, sizeof value);
    slim_mls_external_psk psk = {slim_bytes_of(id, 5), slim_bytes_of(value, 32)};
    w.env.psks = &psk;
    w.env.n_psks = 1;
    slim_mls_proposal_spec p = gf_typed(SLIM_MLS_PROPOSAL_PSK);
    p.psk_type = SLIM_MLS_PSK_EXTERNAL;
    p.psk_id = psk.id;
    slim_mls_commit_spec cs = spec_of(&p, 1, PUB);
    CHECK_OK(gw_commit(&w, 0, &cs, NULL, NULL));
    check_agree(&w, 2);
    /* By reference, sent as a PrivateMessage, with a joiner: the Welcome
     * names it too. */
    CHECK_OK(gw_propose(&w, 1, &p, PRIV, NULL));
    size_t j = gw_client(&w, "member");
    slim_mls_proposal_spec add = gf_typed(SLIM_MLS_PROPOSAL_ADD);
    add.key_package = slim_buf_view(&w.m[j].kp);
    cs = spec_of(&add, 1, PRIV);
    cs.include_pending = true;
    CHECK_OK(gw_commit(&w, 2, &cs, NULL, NULL));
    CHECK(gw_in(&w, j));
    check_agree(&w, 3);
    /* Resumption PSKs of this epoch and of kept earlier ones. */
    for (uint64_t back = 0; back <= 1; back++) {
        p = gf_typed(SLIM_MLS_PROPOSAL_PSK);
        p.psk_type = SLIM_MLS_PSK_RESUMPTION;
        p.psk_epoch = epoch_of(&w, 0) - back;
        cs = spec_of(&p, 1, PUB);
        CHECK_OK(gw_commit(&w, 0, &cs, NULL, NULL));
        check_agree(&w, 4 + back);
    }
    /* A resumption PSK of an epoch the new member never saw: the
     * committer may use it, the new member refuses the commit. */
    p.psk_epoch = 2;
    uint8_t out[SLIM_MLS_MAX_HASH];
    CHECK_STATUS(slim_mls_group_resumption_psk(w.m[j].g, 2, out), SLIM_E_MLS_PSK_NOT_FOUND);
    CHECK_OK(slim_mls_group_resumption_psk(w.m[0].g, 3, out));
    cs = spec_of(&p, 1, PUB);
    slim_mls_commit_output o;
    CHECK_OK(slim_mls_group_commit(w.m[0].g, &cs, &w.env, &o));
    refused(&w, j, slim_buf_view(&o.commit), SLIM_E_MLS_PSK_NOT_FOUND, 1);
    slim_mls_commit_output_cleanup(&o);
    /* Forgotten epochs are gone. */
    slim_mls_group_forget_epochs(w.m[0].g, epoch_of(&w, 0) - 1);
    CHECK_STATUS(slim_mls_group_resumption_psk(w.m[0].g, epoch_of(&w, 0) - 1, out),
                 SLIM_E_MLS_PSK_NOT_FOUND);
    cs = spec_of(&p, 1, PUB);
    p.psk_epoch = epoch_of(&w, 0) - 1;
    CHECK_STATUS(slim_mls_group_commit(w.m[0].g, &cs, &w.env, &o), SLIM_E_MLS_PSK_NOT_FOUND);
    /* An external PSK this member does not hold. */
    w.env.n_psks = 0;
    p = gf_typed(SLIM_MLS_PROPOSAL_PSK);
    p.psk_type = SLIM_MLS_PSK_EXTERNAL;
    p.psk_id = psk.id;
    cs = spec_of(&p, 1, PUB);
    CHECK_STATUS(slim_mls_group_commit(w.m[0].g, &cs, &w.env, &o), SLIM_E_MLS_PSK_NOT_FOUND);
    w.env.n_psks = 1;
    CHECK_OK(slim_mls_group_commit(w.m[0].g, &cs, &w.env, &o));
    w.env.n_psks = 0;
    refused(&w, 1, slim_buf_view(&o.commit), SLIM_E_MLS_PSK_NOT_FOUND, 2);
    w.env.n_psks = 1;
    CHECK_OK(gw_apply(&w, 0, slim_buf_view(&o.commit), slim_bytes_of(NULL, 0), NULL));
    gf_swap(&w.m[0], o.group);
    o.group = NULL;
    slim_mls_commit_output_cleanup(&o);
    check_agree(&w, 6);
    gw_free(&w);
}

TEST(external_commits_join_and_resync) {
    for (uint16_t suite = 1; suite <= 2; suite++) {
        gworld w;
        world(&w, suite, 3);
        slim_buf gi = SLIM_BUF_INIT, commit = SLIM_BUF_INIT;
        CHECK_OK(slim_mls_group_group_info(w.m[1].g, true, true, &gi));
        size_t x = gw_client(&w, "joiner");
        slim_mls_external_join_params xp;
        memset(&xp, 0, sizeof xp);
        xp.client = w.m[x].client;
        xp.group_info = slim_buf_view(&gi);
        xp.opts = &w.opts;
        slim_mls_group *g = NULL;
        CHECK_OK(slim_mls_group_join_external(&xp, &w.env, &commit, &g));
        CHECK_OK(gw_apply(&w, x, slim_buf_view(&commit), slim_bytes_of(NULL, 0), NULL));
        gf_swap(&w.m[x], g);
        check_agree(&w, 2);
        /* Resync: x joins again, removing its old appearance. */
        gi.len = commit.len = 0;
        CHECK_OK(slim_mls_group_group_info(w.m[0].g, false, true, &gi));
        slim_buf tree = SLIM_BUF_INIT;
        CHECK_OK(slim_mls_group_ratchet_tree(w.m[0].g, &tree));
        xp.group_info = slim_buf_view(&gi);
        xp.resync = true;
        xp.removed = leaf_of(&w, 1); /* not x: another member's leaf */
        xp.ratchet_tree = slim_buf_view(&tree);
        CHECK_OK(slim_mls_group_join_external(&xp, &w.env, &commit, &g));
        refused(&w, 0, slim_buf_view(&commit), SLIM_E_MLS_RESYNC_IDENTITY, 1);
        slim_mls_group_free(g);
        commit.len = 0;
        xp.removed = leaf_of(&w, x);
        CHECK_OK(slim_mls_group_join_external(&xp, &w.env, &commit, &g));
        for (size_t i = 0; i < 3; i++) {
            slim_mls_received r;
            CHECK_OK(slim_mls_group_receive(w.m[i].g, slim_buf_view(&commit), &w.env, &r));
            gf_swap(&w.m[i], r.group);
            r.group = NULL;
            slim_mls_received_cleanup(&r);
        }
        slim_mls_received r;
        CHECK_OK(slim_mls_group_receive(w.m[x].g, slim_buf_view(&commit), &w.env, &r));
        CHECK(r.removed && r.group == NULL);
        slim_mls_received_cleanup(&r);
        gf_swap(&w.m[x], g);
        check_agree(&w, 3);
        CHECK_EQ(slim_mls_group_member_count(w.m[0].g), 4);
        /* No external_pub, no tree. */
        gi.len = 0;
        CHECK_OK(slim_mls_group_group_info(w.m[0].g, true, false, &gi));
        xp.group_info = slim_buf_view(&gi);
        xp.resync = false;
        xp.ratchet_tree = slim_bytes_of(NULL, 0);
        CHECK_STATUS(slim_mls_group_join_external(&xp, &w.env, &commit, &g),
                     SLIM_E_MLS_MISSING_EXTERNAL_PUB);
        gi.len = 0;
        CHECK_OK(slim_mls_group_group_info(w.m[0].g, false, true, &gi));
        xp.group_info = slim_buf_view(&gi);
        CHECK_STATUS(slim_mls_group_join_external(&xp, &w.env, &commit, &g),
                     SLIM_E_MLS_NO_RATCHET_TREE);
        /* A GroupInfo altered after signing: its signature fails. */
        gi.len = 0;
        CHECK_OK(slim_mls_group_group_info(w.m[0].g, true, true, &gi));
        xp.group_info = slim_buf_view(&gi);
        gi.data[4 + 2 + 2 + 1 + 3] ^= 1; /* inside the GroupContext's group_id */
        CHECK_STATUS(slim_mls_group_join_external(&xp, &w.env, &commit, &g),
                     SLIM_E_MLS_BAD_SIGNATURE);
        slim_buf_cleanup(&gi);
        slim_buf_cleanup(&commit);
        slim_buf_cleanup(&tree);
        gw_free(&w);
    }
}

/* Builds the external_senders extension list with one sender key. */
static void external_senders_ext(const slim_mls_suite *s, slim_bytes key, slim_buf *out) {
    slim_mls_tls_writer tw;
    slim_mls_tls_writer_init(&tw, out);
    slim_mls_tls_put_u16(&tw, SLIM_MLS_EXT_EXTERNAL_SENDERS);
    size_t m1 = slim_mls_tls_vec_begin(&tw), m2 = slim_mls_tls_vec_begin(&tw);
    slim_mls_external_sender xs = {key, {SLIM_MLS_CREDENTIAL_BASIC, slim_bytes_of("ds", 2)}};
    slim_mls_external_sender_encode(&tw, &xs);
    slim_mls_tls_vec_end(&tw, m2);
    slim_mls_tls_vec_end(&tw, m1);
    CHECK_OK(slim_mls_tls_writer_status(&tw));
    (void)s;
}

TEST(external_and_new_member_proposals) {
    gworld w;
    world(&w, 2, 4);
    uint8_t sk[SLIM_MLS_MAX_SIG_PRIVATE], pk[SLIM_MLS_MAX_SIG_PUBLIC];
    CHECK_OK(slim_mls_signature_key_generate(w.s, &w.rng, sk, pk));
    slim_mls_sig_key *xk = NULL;
    CHECK_OK(slim_mls_sig_key_new(w.s->sig, slim_bytes_of(sk, w.s->sig_nsk), true, &xk));
    slim_buf ext = SLIM_BUF_INIT, msg = SLIM_BUF_INIT;
    external_senders_ext(w.s, slim_bytes_of(pk, w.s->sig_npk), &ext);
    slim_mls_proposal_spec p = gf_typed(SLIM_MLS_PROPOSAL_GROUP_CONTEXT_EXTENSIONS);
    p.extensions = slim_buf_view(&ext);
    slim_mls_commit_spec cs = spec_of(&p, 1, PUB);
    CHECK_OK(gw_commit(&w, 0, &cs, NULL, NULL));
    /* The external sender removes member 3. */
    p = gf_typed(SLIM_MLS_PROPOSAL_REMOVE);
    p.removed = leaf_of(&w, 3);
    CHECK_OK(slim_mls_propose_external(w.s, xk, SLIM_MLS_SENDER_EXTERNAL, 0,
                                       slim_mls_group_id(w.m[0].g), 2, &p, &w.env, &msg));
    CHECK_OK(gw_deliver(&w, SIZE_MAX, slim_buf_view(&msg)));
    /* An index past the external senders. */
    slim_buf bad = SLIM_BUF_INIT;
    CHECK_OK(slim_mls_propose_external(w.s, xk, SLIM_MLS_SENDER_EXTERNAL, 1,
                                       slim_mls_group_id(w.m[0].g), 2, &p, &w.env, &bad));
    refused(&w, 1, slim_buf_view(&bad), SLIM_E_MLS_NO_SENDER_KEY, 2);
    /* Update is not a type an external sender may propose. */
    bad.len = 0;
    p = gf_typed(SLIM_MLS_PROPOSAL_ADD);
    size_t n = gw_client(&w, "member");
    p.key_package = slim_buf_view(&w.m[n].kp);
    slim_mls_sig_key *nk = NULL;
    CHECK_OK(slim_mls_sig_key_new(w.s->sig, slim_bytes_of(w.m[n].sig_sk, w.s->sig_nsk), true, &nk));
    msg.len = 0;
    CHECK_OK(slim_mls_propose_external(w.s, nk, SLIM_MLS_SENDER_NEW_MEMBER_PROPOSAL, 0,
                                       slim_mls_group_id(w.m[0].g), 2, &p, &w.env, &msg));
    CHECK_OK(gw_deliver(&w, SIZE_MAX, slim_buf_view(&msg)));
    cs = spec_of(NULL, 0, PRIV);
    cs.include_pending = true;
    CHECK_OK(gw_commit(&w, 1, &cs, NULL, NULL));
    CHECK(!gw_in(&w, 3) && gw_in(&w, n));
    check_agree(&w, 3);
    slim_mls_sig_key_free(xk);
    slim_mls_sig_key_free(nk);
    slim_buf_cleanup(&ext);
    slim_buf_cleanup(&msg);
    slim_buf_cleanup(&bad);
    gw_free(&w);
}

TEST(reinit_ends_the_group_and_the_new_group_follows) {
    for (uint16_t suite = 1; suite <= 2; suite++) {
        gworld w;
        world(&w, suite, 3);
        slim_mls_proposal_spec p = gf_typed(SLIM_MLS_PROPOSAL_REINIT);
        p.reinit.group_id = slim_bytes_of("next-group", 10);
        p.reinit.version = SLIM_MLS_VERSION_MLS10;
        p.reinit.cipher_suite = suite;
        /* Proposed by one member, committed by another (by reference). */
        CHECK_OK(gw_propose(&w, 1, &p, PRIV, NULL));
        slim_mls_commit_output o;
        slim_mls_commit_spec cs = spec_of(NULL, 0, PUB);
        cs.include_pending = true;
        CHECK_OK(slim_mls_group_commit(w.m[2].g, &cs, &w.env, &o));
        for (size_t i = 0; i < 2; i++) {
            slim_mls_received r;
            CHECK_OK(slim_mls_group_receive(w.m[i].g, slim_buf_view(&o.commit), &w.env, &r));
            CHECK(r.reinit && r.group != NULL);
            slim_mls_reinit ri;
            CHECK_OK(slim_mls_group_reinit_params(r.group, &ri));
            CHECK(gf_same(ri.group_id, p.reinit.group_id) && ri.cipher_suite == suite);
            gf_swap(&w.m[i], r.group);
            r.group = NULL;
            slim_mls_received_cleanup(&r);
        }
        gf_swap(&w.m[2], o.group);
        o.group = NULL;
        slim_mls_commit_output_cleanup(&o);
        CHECK(gw_agree(&w, 2) && slim_mls_group_ended(w.m[0].g));
        /* An ended group sends nothing. */
        slim_buf msg = SLIM_BUF_INIT;
        CHECK_STATUS(slim_mls_group_protect(w.m[0].g, slim_bytes_of(NULL, 0), slim_bytes_of("x", 1),
                                            &w.env, &msg),
                     SLIM_E_MLS_GROUP_ENDED);
        CHECK_STATUS(slim_mls_group_commit(w.m[0].g, &cs, &w.env, &o), SLIM_E_MLS_GROUP_ENDED);
        slim_mls_proposal_spec up = gf_typed(SLIM_MLS_PROPOSAL_UPDATE);
        CHECK_STATUS(
            slim_mls_group_propose(w.m[0].g, &up, PUB, slim_bytes_of(NULL, 0), &w.env, &msg, NULL),
            SLIM_E_MLS_GROUP_ENDED);
        slim_mls_reinit ri;
        CHECK_STATUS(slim_mls_group_reinit_params(w.m[0].g, &ri), SLIM_OK);
        /* ...and reads no handshake message of its last epoch (one forged
         * with member 1's keys, as an ended client would not send it). */
        slim_mls_built_proposal bp;
        slim_mls_proposal pr = built(&w, 1, &up, &bp);
        forge_proposal(&w, 1, &pr, PUB, &msg);
        snap before = snap_of(w.m[0].g);
        slim_mls_received rr;
        CHECK_STATUS(slim_mls_group_receive(w.m[0].g, slim_buf_view(&msg), &w.env, &rr),
                     SLIM_E_MLS_GROUP_ENDED);
        check_unchanged(w.m[0].g, &before);
        slim_mls__built_proposal_cleanup(&bp);
        /* Member 0 recreates the group; the others join with their ended
         * state as the resumed group. */
        gw_free(&w); /* replaced below by a fresh world over the same clients */
        gworld w2;
        world(&w2, suite, 3);
        p.reinit.cipher_suite = suite;
        CHECK_OK(gw_propose(&w2, 1, &p, PUB, NULL));
        CHECK_OK(gw_commit(&w2, 0, &cs, NULL, NULL));
        CHECK(slim_mls_group_ended(w2.m[0].g));
        slim_bytes kps[2];
        for (size_t i = 1; i <= 2; i++) {
            gf_new_key_package(&w2.m[i], &w2.rng);
            kps[i - 1] = slim_buf_view(&w2.m[i].kp);
        }
        slim_mls_commit_output ro;
        CHECK_OK(slim_mls_group_reinit(w2.m[0].g, w2.m[0].client, kps, 2, &w2.opts, &w2.env, &ro));
        CHECK_EQ(slim_mls_group_epoch(ro.group), 1);
        CHECK(gf_same(slim_mls_group_id(ro.group), p.reinit.group_id));
        slim_mls_join_params jp;
        memset(&jp, 0, sizeof jp);
        jp.client = w2.m[1].client;
        jp.key_package = slim_buf_view(&w2.m[1].kp);
        jp.keys = &w2.m[1].keys;
        slim_mls_group *ng = NULL;
        /* Without the old group: its resumption PSK is missing. */
        CHECK_STATUS(slim_mls_group_join(&jp, slim_buf_view(&ro.welcome), &w2.env, &ng),
                     SLIM_E_MLS_PSK_NOT_FOUND);
        jp.prior = w2.m[1].g;
        /* The new group's GroupInfo rebuilt for epoch 2 (signed and tagged
         * again): a reinit Welcome must be for epoch 1. */
        slim_buf bad = SLIM_BUF_INIT;
        reforge_prior = w2.m[1].g;
        reforge_welcome(&w2, 1, 0, slim_buf_view(&ro.welcome), edit_epoch, NULL, true, true, &bad);
        reforge_prior = NULL;
        CHECK_STATUS(slim_mls_group_join(&jp, slim_buf_view(&bad), &w2.env, &ng),
                     SLIM_E_MLS_REINIT_MISMATCH);
        /* Two reinit PSKs; a PSK nonce of the wrong size. */
        slim_mls_message wm;
        CHECK_OK(slim_mls_message_decode(slim_buf_view(&ro.welcome), &wm));
        slim_mls_welcome_info wi;
        CHECK_OK(slim_mls_welcome_open(w2.s, slim_buf_view(&ro.welcome), slim_buf_view(&w2.m[1].kp),
                                       slim_bytes_of(w2.m[1].keys.init_priv, w2.s->kem_nsk),
                                       w2.m[1].g, &w2.env, &wi));
        CHECK_EQ(wi.resumption_usage, SLIM_MLS_PSK_USAGE_REINIT);
        slim_buf ids = SLIM_BUF_INIT;
        slim_mls_tls_writer tw;
        slim_mls_tls_writer_init(&tw, &ids);
        CHECK_OK(slim_mls_psk_id_encode(&tw, &wi.resumption_id));
        CHECK_OK(slim_mls_psk_id_encode(&tw, &wi.resumption_id));
        rewrap_psks(&w2, 1, slim_buf_view(&ro.welcome), slim_buf_view(&ids), 2, &bad);
        CHECK_STATUS(slim_mls_group_join(&jp, slim_buf_view(&bad), &w2.env, &ng),
                     SLIM_E_MLS_PSK_BAD_USAGE);
        slim_mls_psk_id short_nonce = wi.resumption_id;
        short_nonce.psk_nonce.len = 3;
        ids.len = 0;
        CHECK_OK(slim_mls_psk_id_encode(&tw, &short_nonce));
        rewrap_psks(&w2, 1, slim_buf_view(&ro.welcome), slim_buf_view(&ids), 1, &bad);
        CHECK_STATUS(slim_mls_group_join(&jp, slim_buf_view(&bad), &w2.env, &ng),
                     SLIM_E_MLS_PSK_BAD_NONCE);
        slim_mls_welcome_info_cleanup(&wi);
        slim_buf_cleanup(&ids);
        slim_buf_cleanup(&bad);
        /* Both members join the new group and agree with its creator. */
        for (size_t i = 1; i <= 2; i++) {
            jp.client = w2.m[i].client;
            jp.key_package = slim_buf_view(&w2.m[i].kp);
            jp.keys = &w2.m[i].keys;
            jp.prior = w2.m[i].g;
            CHECK_OK(slim_mls_group_join(&jp, slim_buf_view(&ro.welcome), &w2.env, &ng));
            CHECK(gf_same(slim_mls_group_epoch_authenticator(ng),
                          slim_mls_group_epoch_authenticator(ro.group)));
            CHECK_EQ(slim_mls_group_member_count(ng), 3);
            slim_mls_group_free(ng);
        }
        slim_mls_commit_output_cleanup(&ro);
        slim_buf_cleanup(&msg);
        gw_free(&w2);
    }
}

TEST(removed_members_get_no_state) {
    gworld w;
    world(&w, 1, 4);
    slim_mls_proposal_spec p = gf_typed(SLIM_MLS_PROPOSAL_REMOVE);
    p.removed = leaf_of(&w, 2);
    slim_mls_commit_spec cs = spec_of(&p, 1, PRIV);
    slim_mls_commit_output o;
    CHECK_OK(slim_mls_group_commit(w.m[0].g, &cs, &w.env, &o));
    slim_mls_received r;
    CHECK_OK(slim_mls_group_receive(w.m[2].g, slim_buf_view(&o.commit), &w.env, &r));
    CHECK(r.removed && r.group == NULL && r.content_type == SLIM_MLS_CONTENT_COMMIT);
    slim_mls_received_cleanup(&r);
    /* Its old state still reads the old epoch; then it lets it go. */
    check_usable(&w, 1, 2);
    gf_swap(&w.m[2], NULL);
    CHECK_OK(gw_apply(&w, 0, slim_buf_view(&o.commit), slim_bytes_of(NULL, 0), NULL));
    gf_swap(&w.m[0], o.group);
    o.group = NULL;
    slim_mls_commit_output_cleanup(&o);
    CHECK(!gw_in(&w, 2));
    check_agree(&w, 2);
    CHECK_EQ(slim_mls_group_member_count(w.m[0].g), 3);
    gw_free(&w);
}

TEST(past_epochs_are_kept_as_asked_then_erased) {
    gworld w;
    world(&w, 1, 3);
    slim_buf late[3] = {SLIM_BUF_INIT, SLIM_BUF_INIT, SLIM_BUF_INIT};
    slim_mls_commit_spec cs = spec_of(NULL, 0, PUB);
    for (int k = 0; k < 3; k++) {
        CHECK_OK(slim_mls_group_protect(w.m[1].g, slim_bytes_of(NULL, 0), slim_bytes_of("late", 4),
                                        &w.env, &late[k]));
        CHECK_OK(gw_commit(&w, 0, &cs, NULL, NULL));
    }
    /* Epoch 4 now; opts keep 2 earlier epochs: 3 and 2, not 1. */
    CHECK_EQ(slim_mls_group_past_epochs(w.m[2].g), 2);
    slim_mls_received r;
    CHECK_STATUS(slim_mls_group_receive(w.m[2].g, slim_buf_view(&late[0]), &w.env, &r),
                 SLIM_E_MLS_WRONG_EPOCH);
    CHECK_OK(slim_mls_group_receive(w.m[2].g, slim_buf_view(&late[2]), &w.env, &r));
    CHECK(r.epoch == 3 && r.data.len == 4 && memcmp(r.data.data, "late", 4) == 0);
    slim_mls_received_cleanup(&r);
    /* Each generation once. */
    CHECK_STATUS(slim_mls_group_receive(w.m[2].g, slim_buf_view(&late[2]), &w.env, &r),
                 SLIM_E_MLS_GENERATION_REUSED);
    /* Handshake messages of an earlier epoch are refused, even while its
     * keys are kept. */
    slim_buf old = SLIM_BUF_INIT;
    slim_mls_proposal_spec rm = gf_typed(SLIM_MLS_PROPOSAL_REMOVE);
    rm.removed = 0;
    CHECK_OK(
        slim_mls_group_propose(w.m[1].g, &rm, PRIV, slim_bytes_of(NULL, 0), &w.env, &old, NULL));
    CHECK_OK(gw_commit(&w, 0, &cs, NULL, NULL));
    CHECK_STATUS(slim_mls_group_receive(w.m[2].g, slim_buf_view(&old), &w.env, &r),
                 SLIM_E_MLS_WRONG_EPOCH);
    /* Epoch 5 now: kept are 4 and 3. */
    /* The session layer's timer: forget epoch 3 and before. */
    slim_mls_group_forget_epochs(w.m[2].g, 3);
    CHECK_EQ(slim_mls_group_past_epochs(w.m[2].g), 1);
    CHECK_STATUS(slim_mls_group_receive(w.m[2].g, slim_buf_view(&late[2]), &w.env, &r),
                 SLIM_E_MLS_WRONG_EPOCH);
    /* Another member kept its own reference to epoch 3's keys. */
    CHECK_OK(slim_mls_group_receive(w.m[0].g, slim_buf_view(&late[2]), &w.env, &r));
    slim_mls_received_cleanup(&r);
    /* With no past epochs kept, a late message is refused. */
    gworld w0;
    gw_init(&w0, 2, 3);
    size_t a0 = gw_client(&w0, "member"), a1 = gw_client(&w0, "member");
    CHECK_OK(gw_create(&w0, a0, slim_bytes_of(NULL, 0)));
    CHECK_OK(gw_add(&w0, a0, &a1, 1, true, NULL, NULL));
    slim_buf m0 = SLIM_BUF_INIT;
    CHECK_OK(slim_mls_group_protect(w0.m[0].g, slim_bytes_of(NULL, 0), slim_bytes_of("x", 1),
                                    &w0.env, &m0));
    CHECK_OK(gw_commit(&w0, 0, &cs, NULL, NULL));
    CHECK_EQ(slim_mls_group_past_epochs(w0.m[1].g), 0);
    CHECK_STATUS(slim_mls_group_receive(w0.m[1].g, slim_buf_view(&m0), &w0.env, &r),
                 SLIM_E_MLS_WRONG_EPOCH);
    for (int k = 0; k < 3; k++)
        slim_buf_cleanup(&late[k]);
    slim_buf_cleanup(&old);
    slim_buf_cleanup(&m0);
    gw_free(&w0);
    gw_free(&w);
}

TEST(states_are_values) {
    gworld w;
    world(&w, 2, 3);
    /* Two members commit in the same epoch. Each member takes one; the
     * other is then for an epoch it left. */
    slim_mls_commit_spec cs = spec_of(NULL, 0, PRIV);
    slim_mls_commit_output a, b;
    CHECK_OK(slim_mls_group_commit(w.m[0].g, &cs, &w.env, &a));
    CHECK_OK(slim_mls_group_commit(w.m[1].g, &cs, &w.env, &b));
    /* Creating them changed neither committer's state. */
    CHECK_EQ(epoch_of(&w, 0), 1);
    check_usable(&w, 0, 1);
    check_usable(&w, 1, 2);
    slim_mls_received r;
    CHECK_OK(slim_mls_group_receive(w.m[2].g, slim_buf_view(&b.commit), &w.env, &r));
    slim_mls_group *from_b = r.group;
    r.group = NULL;
    slim_mls_received_cleanup(&r);
    /* The old state can still take the other commit instead. */
    CHECK_OK(slim_mls_group_receive(w.m[2].g, slim_buf_view(&a.commit), &w.env, &r));
    CHECK(!gf_same(slim_mls_group_epoch_authenticator(from_b),
                   slim_mls_group_epoch_authenticator(r.group)));
    CHECK(gf_same(slim_mls_group_epoch_authenticator(a.group),
                  slim_mls_group_epoch_authenticator(r.group)));
    /* Member 2 goes with a's commit; b's is for an epoch it left. */
    gf_swap(&w.m[2], r.group);
    r.group = NULL;
    slim_mls_received_cleanup(&r);
    slim_mls_group_free(from_b);
    CHECK_STATUS(slim_mls_group_receive(w.m[2].g, slim_buf_view(&b.commit), &w.env, &r),
                 SLIM_E_MLS_WRONG_EPOCH);
    CHECK_OK(slim_mls_group_receive(w.m[1].g, slim_buf_view(&a.commit), &w.env, &r));
    gf_swap(&w.m[1], r.group);
    r.group = NULL;
    slim_mls_received_cleanup(&r);
    gf_swap(&w.m[0], a.group);
    a.group = NULL;
    check_agree(&w, 2);
    /* A member cannot take its own commit back from the wire. */
    slim_mls_commit_output c;
    cs.wire_format = PUB;
    CHECK_OK(slim_mls_group_commit(w.m[0].g, &cs, &w.env, &c));
    CHECK_STATUS(slim_mls_group_receive(w.m[0].g, slim_buf_view(&c.commit), &w.env, &r),
                 SLIM_E_MLS_COMMIT_FROM_SELF);
    slim_mls_commit_output_cleanup(&a);
    slim_mls_commit_output_cleanup(&b);
    slim_mls_commit_output_cleanup(&c);
    gw_free(&w);
}

/* The number of ProposalOrRefs in a Commit message. */
static uint32_t commit_size(slim_bytes commit) {
    slim_mls_message m;
    CHECK_OK(slim_mls_message_decode(commit, &m));
    return m.wire_format == SLIM_MLS_WIRE_PUBLIC_MESSAGE
               ? m.u.public_message.content.u.commit.proposals.count
               : 0;
}

TEST(pending_proposals_that_would_fail_are_left_out) {
    gworld w;
    world(&w, 1, 4);
    /* Kept by everyone: the committer's own Update, a Remove of the
     * committer, two Updates of member 2 (the later one counts), an Add of
     * a client already in the group, a ReInit, and a valid Remove of
     * member 3. */
    slim_mls_proposal_spec p = gf_typed(SLIM_MLS_PROPOSAL_UPDATE);
    CHECK_OK(gw_propose(&w, 0, &p, PUB, NULL));
    CHECK_OK(gw_propose(&w, 2, &p, PRIV, NULL));
    CHECK_OK(gw_propose(&w, 2, &p, PUB, NULL));
    p = gf_typed(SLIM_MLS_PROPOSAL_REMOVE);
    p.removed = leaf_of(&w, 0);
    CHECK_OK(gw_propose(&w, 1, &p, PUB, NULL));
    p = gf_typed(SLIM_MLS_PROPOSAL_ADD);
    gf_new_key_package(&w.m[1], &w.rng);
    p.key_package = slim_buf_view(&w.m[1].kp);
    CHECK_OK(gw_propose(&w, 3, &p, PUB, NULL));
    p = gf_typed(SLIM_MLS_PROPOSAL_REINIT);
    p.reinit.group_id = slim_bytes_of("other", 5);
    p.reinit.version = 1;
    p.reinit.cipher_suite = 1;
    CHECK_OK(gw_propose(&w, 1, &p, PUB, NULL));
    p = gf_typed(SLIM_MLS_PROPOSAL_REMOVE);
    p.removed = leaf_of(&w, 3);
    CHECK_OK(gw_propose(&w, 2, &p, PUB, NULL));
    CHECK_EQ(w.m[0].g->n_props, 7);
    slim_mls_commit_spec cs = spec_of(NULL, 0, PUB);
    cs.include_pending = true;
    slim_buf commit = SLIM_BUF_INIT;
    CHECK_OK(gw_commit(&w, 0, &cs, &commit, NULL));
    /* The later Update of member 2 and the Remove of member 3. */
    CHECK_EQ(commit_size(slim_buf_view(&commit)), 2);
    CHECK(!gw_in(&w, 3) && !slim_mls_group_ended(w.m[0].g));
    check_agree(&w, 2);
    /* A ReInit on its own is taken. */
    p = gf_typed(SLIM_MLS_PROPOSAL_REINIT);
    p.reinit.group_id = slim_bytes_of("other", 5);
    p.reinit.version = 1;
    p.reinit.cipher_suite = 1;
    CHECK_OK(gw_propose(&w, 1, &p, PUB, NULL));
    commit.len = 0;
    CHECK_OK(gw_commit(&w, 2, &cs, &commit, NULL));
    CHECK_EQ(commit_size(slim_buf_view(&commit)), 1);
    CHECK(gw_agree(&w, 3) && slim_mls_group_ended(w.m[0].g));
    slim_buf_cleanup(&commit);
    gw_free(&w);
}

/* ---- refusals ------------------------------------------------------------------- */

TEST(commit_refusals_of_the_committer) {
    gworld w;
    world(&w, 1, 4);
    size_t x = gw_client(&w, "member"), mal = gw_client(&w, "mallory");
    slim_mls_group *g = w.m[0].g;
    snap s = snap_of(g);
    slim_mls_proposal_spec p[2];
    slim_mls_commit_output o;
    struct {
        const char *what;
        slim_mls_proposal_spec a, b;
        size_t n;
        slim_status want;
    } cases[8];
    memset(cases, 0, sizeof cases);
    size_t n = 0;
    cases[n].what = "update by value";
    cases[n].a = gf_typed(SLIM_MLS_PROPOSAL_UPDATE);
    cases[n].n = 1;
    cases[n++].want = SLIM_E_MLS_UPDATE_FROM_COMMITTER;
    cases[n].what = "remove of the committer";
    cases[n].a = gf_typed(SLIM_MLS_PROPOSAL_REMOVE);
    cases[n].a.removed = leaf_of(&w, 0);
    cases[n].n = 1;
    cases[n++].want = SLIM_E_MLS_REMOVES_COMMITTER;
    cases[n].what = "two removes of one leaf";
    cases[n].a = gf_typed(SLIM_MLS_PROPOSAL_REMOVE);
    cases[n].a.removed = 2;
    cases[n].b = cases[n].a;
    cases[n].n = 2;
    cases[n++].want = SLIM_E_MLS_DUPLICATE_LEAF_CHANGE;
    cases[n].what = "two GroupContextExtensions";
    cases[n].a = gf_typed(SLIM_MLS_PROPOSAL_GROUP_CONTEXT_EXTENSIONS);
    cases[n].b = cases[n].a;
    cases[n].n = 2;
    cases[n++].want = SLIM_E_MLS_DUPLICATE_GCE;
    cases[n].what = "ReInit with an Add";
    cases[n].a = gf_typed(SLIM_MLS_PROPOSAL_REINIT);
    cases[n].a.reinit.group_id = slim_bytes_of("g", 1);
    cases[n].a.reinit.version = 1;
    cases[n].a.reinit.cipher_suite = 1;
    cases[n].b = gf_typed(SLIM_MLS_PROPOSAL_ADD);
    cases[n].b.key_package = slim_buf_view(&w.m[x].kp);
    cases[n].n = 2;
    cases[n++].want = SLIM_E_MLS_REINIT_NOT_ALONE;
    cases[n].what = "remove of a blank leaf";
    cases[n].a = gf_typed(SLIM_MLS_PROPOSAL_REMOVE);
    cases[n].a.removed = 9;
    cases[n].n = 1;
    cases[n++].want = SLIM_E_MLS_REMOVE_BLANK;
    cases[n].what = "one KeyPackage added twice";
    cases[n].a = gf_typed(SLIM_MLS_PROPOSAL_ADD);
    cases[n].a.key_package = slim_buf_view(&w.m[x].kp);
    cases[n].b = cases[n].a;
    cases[n].n = 2;
    cases[n++].want = SLIM_E_MLS_DUPLICATE_ENCRYPTION_KEY;
    cases[n].what = "a credential the application refuses";
    cases[n].a = gf_typed(SLIM_MLS_PROPOSAL_ADD);
    cases[n].a.key_package = slim_buf_view(&w.m[mal].kp);
    cases[n].n = 1;
    cases[n++].want = SLIM_E_MLS_CREDENTIAL_REJECTED;
    for (size_t i = 0; i < n; i++) {
        p[0] = cases[i].a;
        p[1] = cases[i].b;
        slim_mls_commit_spec cs = spec_of(p, cases[i].n, i % 2 ? PRIV : PUB);
        slim_status st = slim_mls_group_commit(g, &cs, &w.env, &o);
        if (st != cases[i].want)
            TEST_FAIL_AT("%s: got %s, want %s", cases[i].what, slim_status_name(st),
                         slim_status_name(cases[i].want));
        check_unchanged(g, &s);
    }
    /* A member added again, ExternalInit, a KeyPackage whose lifetime has
     * ended, a KeyPackage altered after signing. */
    p[0] = gf_typed(SLIM_MLS_PROPOSAL_ADD);
    gf_new_key_package(&w.m[1], &w.rng);
    p[0].key_package = slim_buf_view(&w.m[1].kp);
    slim_mls_commit_spec cs = spec_of(p, 1, PUB);
    CHECK_STATUS(slim_mls_group_commit(g, &cs, &w.env, &o), SLIM_E_MLS_DUPLICATE_SIGNATURE_KEY);
    p[0] = gf_typed(SLIM_MLS_PROPOSAL_EXTERNAL_INIT);
    CHECK_STATUS(slim_mls_group_commit(g, &cs, &w.env, &o), SLIM_E_MLS_EXTERNAL_INIT_MISPLACED);
    p[0] = gf_typed(SLIM_MLS_PROPOSAL_ADD);
    p[0].key_package = slim_buf_view(&w.m[x].kp);
    slim_mls_env late = w.env;
    late.now = 3 * GF_NOW;
    CHECK_STATUS(slim_mls_group_commit(g, &cs, &late, &o), SLIM_E_MLS_LIFETIME_INVALID);
    slim_buf kp = SLIM_BUF_INIT;
    CHECK_OK(slim_buf_append(&kp, w.m[x].kp.data, w.m[x].kp.len));
    kp.data[kp.len - 80] ^= 1; /* in the leaf's signature or the KeyPackage's */
    p[0].key_package = slim_buf_view(&kp);
    CHECK(slim_mls_group_commit(g, &cs, &w.env, &o) != SLIM_OK);
    /* An extension no member supports; required capabilities none has. */
    uint8_t ext[] = {0x0a, 0x0a, 0x00};
    p[0] = gf_typed(SLIM_MLS_PROPOSAL_GROUP_CONTEXT_EXTENSIONS);
    p[0].extensions = slim_bytes_of(ext, sizeof ext);
    CHECK_STATUS(slim_mls_group_commit(g, &cs, &w.env, &o), SLIM_E_MLS_UNSUPPORTED_GROUP_EXTENSION);
    uint8_t rc[] = {0x00, 0x03, 0x05, 0x00, 0x02, 0x0a, 0x0a, 0x00};
    p[0].extensions = slim_bytes_of(rc, sizeof rc);
    CHECK_STATUS(slim_mls_group_commit(g, &cs, &w.env, &o), SLIM_E_MLS_MISSING_REQUIRED_CAPABILITY);
    check_unchanged(g, &s);
    check_agree(&w, 1);
    /* After all that, a valid commit. */
    p[0] = gf_typed(SLIM_MLS_PROPOSAL_ADD);
    p[0].key_package = slim_buf_view(&w.m[x].kp);
    CHECK_OK(gw_commit(&w, 0, &cs, NULL, NULL));
    check_agree(&w, 2);
    slim_buf_cleanup(&kp);
    gw_free(&w);
}

TEST(commit_refusals_of_the_receivers) {
    for (uint16_t suite = 1; suite <= 2; suite++) {
        gworld w;
        world(&w, suite, 4);
        const size_t C = 1, R = 2; /* committer, receiver */
        const size_t nh = w.s->nh;
        slim_buf path = SLIM_BUF_INIT, list = SLIM_BUF_INIT, msg = SLIM_BUF_INIT;
        real_path(&w, C, &path);
        slim_mls_built_proposal b1, b2;
        slim_mls_proposal_spec sp;
        slim_mls_proposal pr;
        uint8_t ref[SLIM_MLS_MAX_HASH], ref2[SLIM_MLS_MAX_HASH];
        uint16_t wf = suite == 1 ? PUB : PRIV;

        /* A reference to nothing received. */
        memset(ref, 0x77, sizeof ref);
        list_ref(&list, ref, nh);
        forge_commit(&w, C, &list, 1, &path, wf, &msg);
        refused(&w, R, slim_buf_view(&msg), SLIM_E_MLS_PROPOSAL_NOT_FOUND, 0);
        /* An Update by value (the committer's own). */
        list.len = 0;
        sp = gf_typed(SLIM_MLS_PROPOSAL_UPDATE);
        pr = built(&w, C, &sp, &b1);
        list_value(&list, &pr);
        slim_mls__built_proposal_cleanup(&b1);
        forge_commit(&w, C, &list, 1, &path, wf, &msg);
        refused(&w, R, slim_buf_view(&msg), SLIM_E_MLS_UPDATE_FROM_COMMITTER, 0);
        /* The committer's own Update by reference. */
        CHECK_OK(gw_propose(&w, C, &sp, wf, NULL));
        list.len = 0;
        list_ref(&list, w.m[R].g->props[0]->ref, nh);
        forge_commit(&w, C, &list, 1, &path, wf, &msg);
        refused(&w, R, slim_buf_view(&msg), SLIM_E_MLS_UPDATE_FROM_COMMITTER, 0);
        /* An Update by reference and a Remove of the same leaf. */
        CHECK_OK(gw_propose(&w, 3, &sp, wf, NULL));
        list.len = 0;
        list_ref(&list, w.m[R].g->props[1]->ref, nh);
        sp = gf_typed(SLIM_MLS_PROPOSAL_REMOVE);
        sp.removed = leaf_of(&w, 3);
        pr = built(&w, C, &sp, &b1);
        list_value(&list, &pr);
        forge_commit(&w, C, &list, 2, &path, wf, &msg);
        refused(&w, R, slim_buf_view(&msg), SLIM_E_MLS_DUPLICATE_LEAF_CHANGE, 0);
        /* A by-reference Update without a path. */
        list.len = 0;
        list_ref(&list, w.m[R].g->props[1]->ref, nh);
        forge_commit(&w, C, &list, 1, NULL, wf, &msg);
        refused(&w, R, slim_buf_view(&msg), SLIM_E_MLS_COMMIT_PATH_MISSING, 0);
        /* A Remove of the committer; of a blank leaf. */
        list.len = 0;
        pr.u.remove = leaf_of(&w, C);
        list_value(&list, &pr);
        forge_commit(&w, C, &list, 1, &path, wf, &msg);
        refused(&w, R, slim_buf_view(&msg), SLIM_E_MLS_REMOVES_COMMITTER, 0);
        list.len = 0;
        pr.u.remove = 6;
        list_value(&list, &pr);
        forge_commit(&w, C, &list, 1, &path, wf, &msg);
        refused(&w, R, slim_buf_view(&msg), SLIM_E_MLS_REMOVE_BLANK, 0);
        /* One PSK proposal named twice; a PSK no one holds; a bad nonce;
         * a reinit-usage PSK. */
        sp = gf_typed(SLIM_MLS_PROPOSAL_PSK);
        sp.psk_type = SLIM_MLS_PSK_RESUMPTION;
        sp.psk_epoch = 1;
        CHECK_OK(gw_propose(&w, 3, &sp, wf, NULL));
        memcpy(ref2, w.m[R].g->props[2]->ref, nh);
        list.len = 0;
        list_ref(&list, ref2, nh);
        list_ref(&list, ref2, nh);
        forge_commit(&w, C, &list, 2, NULL, wf, &msg);
        refused(&w, R, slim_buf_view(&msg), SLIM_E_MLS_DUPLICATE_PSK, 0);
        slim_mls_built_proposal bp;
        pr = built(&w, C, &sp, &bp);
        pr.u.psk.psktype = SLIM_MLS_PSK_EXTERNAL;
        pr.u.psk.psk_id = slim_bytes_of("nobody's", 8);
        list.len = 0;
        list_value(&list, &pr);
        forge_commit(&w, C, &list, 1, NULL, wf, &msg);
        refused(&w, R, slim_buf_view(&msg), SLIM_E_MLS_PSK_NOT_FOUND, 0);
        pr = bp.p;
        pr.u.psk.psk_nonce.len = nh - 1;
        list.len = 0;
        list_value(&list, &pr);
        forge_commit(&w, C, &list, 1, NULL, wf, &msg);
        refused(&w, R, slim_buf_view(&msg), SLIM_E_MLS_PSK_BAD_NONCE, 0);
        pr = bp.p;
        pr.u.psk.usage = SLIM_MLS_PSK_USAGE_REINIT;
        list.len = 0;
        list_value(&list, &pr);
        forge_commit(&w, C, &list, 1, NULL, wf, &msg);
        refused(&w, R, slim_buf_view(&msg), SLIM_E_MLS_PSK_BAD_USAGE, 0);
        slim_mls__built_proposal_cleanup(&bp);
        /* Two GroupContextExtensions; a ReInit beside a Remove. */
        sp = gf_typed(SLIM_MLS_PROPOSAL_GROUP_CONTEXT_EXTENSIONS);
        list.len = 0;
        pr = built(&w, C, &sp, &b2);
        list_value(&list, &pr);
        list_value(&list, &pr);
        slim_mls__built_proposal_cleanup(&b2);
        forge_commit(&w, C, &list, 2, &path, wf, &msg);
        refused(&w, R, slim_buf_view(&msg), SLIM_E_MLS_DUPLICATE_GCE, 0);
        sp = gf_typed(SLIM_MLS_PROPOSAL_REINIT);
        sp.reinit.group_id = slim_bytes_of("x", 1);
        sp.reinit.version = 1;
        sp.reinit.cipher_suite = suite;
        list.len = 0;
        pr = built(&w, C, &sp, &b2);
        list_value(&list, &pr);
        slim_mls__built_proposal_cleanup(&b2);
        b1.p.u.remove = leaf_of(&w, 3);
        list_value(&list, &b1.p);
        forge_commit(&w, C, &list, 2, &path, wf, &msg);
        refused(&w, R, slim_buf_view(&msg), SLIM_E_MLS_REINIT_NOT_ALONE, 0);
        slim_mls__built_proposal_cleanup(&b1);
        /* ExternalInit in a member's Commit. */
        memset(&pr, 0, sizeof pr);
        pr.type = SLIM_MLS_PROPOSAL_EXTERNAL_INIT;
        pr.u.external_init = slim_bytes_of(ref, nh);
        list.len = 0;
        list_value(&list, &pr);
        forge_commit(&w, C, &list, 1, &path, wf, &msg);
        refused(&w, R, slim_buf_view(&msg), SLIM_E_MLS_EXTERNAL_INIT_MISPLACED, 0);
        /* A confirmation tag that does not match (all else genuine). */
        list.len = 0;
        forge_commit(&w, C, &list, 0, &path, wf, &msg);
        refused(&w, R, slim_buf_view(&msg), SLIM_E_MLS_CONFIRMATION_TAG, 0);
        /* A commit of another epoch and of another group (the fields
         * patched in a PublicMessage; they are read before any key). */
        if (wf == PUB) {
            size_t at = 4 + 1 + slim_mls_group_id(w.m[C].g).len; /* the epoch */
            msg.data[at + 7] ^= 1;
            refused(&w, R, slim_buf_view(&msg), SLIM_E_MLS_WRONG_EPOCH, 0);
            msg.data[at + 7] ^= 1;
            msg.data[at - 1] ^= 1;
            refused(&w, R, slim_buf_view(&msg), SLIM_E_MLS_WRONG_GROUP, 0);
        }
        /* After all that, the committer's genuine commit goes through. */
        slim_mls_commit_spec cs = spec_of(NULL, 0, wf);
        cs.include_pending = true;
        CHECK_OK(gw_commit(&w, C, &cs, NULL, NULL));
        check_agree(&w, 2);
        slim_buf_cleanup(&path);
        slim_buf_cleanup(&list);
        slim_buf_cleanup(&msg);
        gw_free(&w);
    }
}

/* An external Commit from joiner j re-signed after its proposal list was
 * replaced by `list` (count entries). */
static void forge_external(gworld *w, size_t j, slim_bytes real, const slim_buf *list,
                           uint32_t count, slim_buf *out) {
    slim_mls_message m;
    CHECK_OK(slim_mls_message_decode(real, &m));
    slim_mls_framed_content fc = m.u.public_message.content;
    fc.u.commit.proposals.body = slim_buf_view(list);
    fc.u.commit.proposals.count = count;
    slim_mls_framing_ctx ctx;
    CHECK_OK(slim_mls_framing_init(&ctx, w->s, slim_mls_group_context_bytes(w->m[0].g)));
    slim_mls_sig_key *k = NULL;
    CHECK_OK(
        slim_mls_sig_key_new(w->s->sig, slim_bytes_of(w->m[j].sig_sk, w->s->sig_nsk), true, &k));
    slim_buf sig = SLIM_BUF_INIT;
    CHECK_OK(slim_mls_content_sign(&ctx, PUB, &fc, k, &sig));
    slim_mls_authenticated_content ac = {
        PUB, fc, {slim_buf_view(&sig), m.u.public_message.auth.confirmation_tag}};
    out->len = 0;
    CHECK_OK(slim_mls_public_message_protect(&ctx, &ac, out));
    slim_buf_cleanup(&sig);
    slim_mls_sig_key_free(k);
}

TEST(external_commit_refusals) {
    gworld w;
    world(&w, 1, 3);
    slim_buf gi = SLIM_BUF_INIT, commit = SLIM_BUF_INIT, list = SLIM_BUF_INIT;
    slim_buf msg = SLIM_BUF_INIT;
    CHECK_OK(slim_mls_group_group_info(w.m[0].g, true, true, &gi));
    size_t x = gw_client(&w, "joiner");
    slim_mls_external_join_params xp;
    memset(&xp, 0, sizeof xp);
    xp.client = w.m[x].client;
    xp.group_info = slim_buf_view(&gi);
    slim_mls_group *g = NULL;
    CHECK_OK(slim_mls_group_join_external(&xp, &w.env, &commit, &g));
    slim_mls_message m;
    CHECK_OK(slim_mls_message_decode(slim_buf_view(&commit), &m));
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, m.u.public_message.content.u.commit.proposals.body);
    slim_mls_proposal_or_ref ei;
    memset(&ei, 0, sizeof ei);
    CHECK_OK(slim_mls_proposal_or_ref_decode(&r, &ei));
    /* Two ExternalInits. */
    list_value(&list, &ei.proposal);
    list_value(&list, &ei.proposal);
    forge_external(&w, x, slim_buf_view(&commit), &list, 2, &msg);
    refused(&w, 1, slim_buf_view(&msg), SLIM_E_MLS_EXTERNAL_COMMIT_INVALID, 2);
    /* An Add beside the ExternalInit. */
    list.len = 0;
    list_value(&list, &ei.proposal);
    slim_mls_proposal add;
    memset(&add, 0, sizeof add);
    add.type = SLIM_MLS_PROPOSAL_ADD;
    CHECK_OK(slim_mls__key_package_view(slim_buf_view(&w.m[x].kp), &add.u.add));
    list_value(&list, &add);
    forge_external(&w, x, slim_buf_view(&commit), &list, 2, &msg);
    refused(&w, 1, slim_buf_view(&msg), SLIM_E_MLS_EXTERNAL_COMMIT_INVALID, 2);
    /* A proposal by reference. */
    slim_mls_proposal_spec sp = gf_typed(SLIM_MLS_PROPOSAL_UPDATE);
    uint8_t ref[SLIM_MLS_MAX_HASH];
    CHECK_OK(gw_propose(&w, 2, &sp, PUB, NULL));
    memcpy(ref, w.m[1].g->props[0]->ref, w.s->nh);
    list.len = 0;
    list_value(&list, &ei.proposal);
    list_ref(&list, ref, w.s->nh);
    forge_external(&w, x, slim_buf_view(&commit), &list, 2, &msg);
    refused(&w, 1, slim_buf_view(&msg), SLIM_E_MLS_EXTERNAL_COMMIT_INVALID, 2);
    /* The genuine one still works (the kept Update is simply not in it). */
    refused(&w, 1, slim_bytes_of(commit.data, commit.len - 1), SLIM_E_MLS_VECTOR_PAST_END, 2);
    CHECK_OK(gw_apply(&w, x, slim_buf_view(&commit), slim_bytes_of(NULL, 0), NULL));
    gf_swap(&w.m[x], g);
    check_agree(&w, 2);
    slim_buf_cleanup(&gi);
    slim_buf_cleanup(&commit);
    slim_buf_cleanup(&list);
    slim_buf_cleanup(&msg);
    gw_free(&w);
}

TEST(proposal_refusals) {
    gworld w;
    world(&w, 2, 3);
    slim_buf msg = SLIM_BUF_INIT;
    slim_mls_built_proposal b;
    slim_mls_proposal pr;
    slim_mls_proposal_spec sp;
    /* An Add whose KeyPackage was altered after signing. */
    size_t x = gw_client(&w, "member");
    slim_buf kp = SLIM_BUF_INIT;
    CHECK_OK(slim_buf_append(&kp, w.m[x].kp.data, w.m[x].kp.len));
    kp.data[kp.len - 3] ^= 1; /* the KeyPackage signature */
    sp = gf_typed(SLIM_MLS_PROPOSAL_ADD);
    sp.key_package = slim_buf_view(&kp);
    pr = built(&w, 0, &sp, &b);
    forge_proposal(&w, 0, &pr, PUB, &msg);
    refused(&w, 1, slim_buf_view(&msg), SLIM_E_MLS_BAD_SIGNATURE, 2);
    CHECK_STATUS(
        slim_mls_group_propose(w.m[0].g, &sp, PUB, slim_bytes_of(NULL, 0), &w.env, &msg, NULL),
        SLIM_E_MLS_BAD_SIGNATURE);
    slim_mls__built_proposal_cleanup(&b);
    /* A Remove of a blank leaf; a PSK with a short nonce. */
    sp = gf_typed(SLIM_MLS_PROPOSAL_REMOVE);
    sp.removed = 3;
    pr = built(&w, 0, &sp, &b);
    forge_proposal(&w, 0, &pr, PRIV, &msg);
    refused(&w, 1, slim_buf_view(&msg), SLIM_E_MLS_REMOVE_BLANK, 2);
    sp = gf_typed(SLIM_MLS_PROPOSAL_PSK);
    sp.psk_type = SLIM_MLS_PSK_RESUMPTION;
    sp.psk_epoch = 1;
    pr = built(&w, 0, &sp, &b);
    pr.u.psk.psk_nonce.len = 5;
    forge_proposal(&w, 0, &pr, PUB, &msg);
    refused(&w, 1, slim_buf_view(&msg), SLIM_E_MLS_PSK_BAD_NONCE, 2);
    pr.u.psk.psk_nonce.len = w.s->nh;
    pr.u.psk.usage = SLIM_MLS_PSK_USAGE_BRANCH;
    forge_proposal(&w, 0, &pr, PUB, &msg);
    refused(&w, 1, slim_buf_view(&msg), SLIM_E_MLS_PSK_BAD_USAGE, 2);
    /* ExternalInit on its own. */
    pr.type = SLIM_MLS_PROPOSAL_EXTERNAL_INIT;
    pr.u.external_init = slim_bytes_of("kem", 3);
    forge_proposal(&w, 0, &pr, PRIV, &msg);
    refused(&w, 1, slim_buf_view(&msg), SLIM_E_MLS_EXTERNAL_INIT_MISPLACED, 2);
    /* An Update that keeps the leaf's encryption key. */
    sp = gf_typed(SLIM_MLS_PROPOSAL_UPDATE);
    pr = built(&w, 0, &sp, &b);
    slim_buf leaf = SLIM_BUF_INIT;
    const slim_mls_leaf_node *cur = slim_mls_group_member(w.m[0].g, leaf_of(&w, 0));
    slim_mls_leaf_params lp = w.m[0].client->params;
    CHECK_OK(slim_mls_leaf_node_build(w.s, &lp, SLIM_MLS_LEAF_SOURCE_UPDATE, cur->encryption_key,
                                      slim_bytes_of(NULL, 0), slim_mls_group_id(w.m[0].g),
                                      leaf_of(&w, 0), &leaf));
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, slim_buf_view(&leaf));
    CHECK_OK(slim_mls_leaf_node_decode(&r, &pr.u.update));
    forge_proposal(&w, 0, &pr, PUB, &msg);
    refused(&w, 1, slim_buf_view(&msg), SLIM_E_MLS_ENCRYPTION_KEY_UNCHANGED, 2);
    slim_mls__built_proposal_cleanup(&b);
    /* GroupContextExtensions with an extension no member supports. */
    uint8_t ext[] = {0x0a, 0x0a, 0x00};
    sp = gf_typed(SLIM_MLS_PROPOSAL_GROUP_CONTEXT_EXTENSIONS);
    sp.extensions = slim_bytes_of(ext, sizeof ext);
    pr = built(&w, 0, &sp, &b);
    forge_proposal(&w, 0, &pr, PUB, &msg);
    refused(&w, 1, slim_buf_view(&msg), SLIM_E_MLS_UNSUPPORTED_GROUP_EXTENSION, 2);
    slim_mls__built_proposal_cleanup(&b);
    CHECK_EQ(w.m[1].g->n_props, 0);
    slim_buf_cleanup(&kp);
    slim_buf_cleanup(&leaf);
    slim_buf_cleanup(&msg);
    gw_free(&w);
}

/* ---- Welcome refusals ------------------------------------------------------------------ */

TEST(welcome_refusals) {
    for (uint16_t suite = 1; suite <= 2; suite++) {
        gworld w;
        world(&w, suite, 3);
        size_t j = gw_client(&w, "joiner"), other = gw_client(&w, "other");
        slim_mls_proposal_spec p = gf_typed(SLIM_MLS_PROPOSAL_ADD);
        p.key_package = slim_buf_view(&w.m[j].kp);
        slim_mls_commit_spec cs = spec_of(&p, 1, PUB);
        cs.force_path = true;
        cs.welcome_tree = true;
        slim_mls_commit_output o;
        CHECK_OK(slim_mls_group_commit(w.m[1].g, &cs, &w.env, &o));
        slim_bytes welcome = slim_buf_view(&o.welcome), none = slim_bytes_of(NULL, 0);
        slim_buf bad = SLIM_BUF_INIT, tree = SLIM_BUF_INIT, old_tree = SLIM_BUF_INIT;
        CHECK_OK(slim_mls_group_ratchet_tree(o.group, &tree));
        CHECK_OK(slim_mls_group_ratchet_tree(w.m[0].g, &old_tree));
        /* Not a Welcome; for someone else; keys not the KeyPackage's. */
        CHECK_STATUS(gf_join(&w.m[j], slim_buf_view(&o.commit), none, &w.env, NULL),
                     SLIM_E_MLS_NOT_FRAMED);
        CHECK_STATUS(gf_join(&w.m[other], welcome, none, &w.env, NULL),
                     SLIM_E_MLS_WELCOME_NOT_FOR_US);
        slim_mls_key_package_keys keep = w.m[j].keys;
        w.m[j].keys.encryption_priv[3] ^= 1;
        CHECK_STATUS(gf_join(&w.m[j], welcome, none, &w.env, NULL),
                     SLIM_E_MLS_PRIVATE_KEY_MISMATCH);
        w.m[j].keys = keep;
        w.m[j].keys.init_priv[3] ^= 1;
        CHECK_STATUS(gf_join(&w.m[j], welcome, none, &w.env, NULL),
                     SLIM_E_MLS_PRIVATE_KEY_MISMATCH);
        w.m[j].keys = keep;
        /* Bytes altered in the GroupInfo ciphertext (the context of the
         * secrets' encryption: they fail first) and in the secrets. */
        CHECK_OK(slim_buf_append(&bad, welcome.ptr, welcome.len));
        bad.data[bad.len - 5] ^= 1;
        CHECK_STATUS(gf_join(&w.m[j], slim_buf_view(&bad), none, &w.env, NULL),
                     SLIM_E_MLS_WELCOME_DECRYPT);
        bad.len = 0;
        CHECK_OK(slim_buf_append(&bad, welcome.ptr, welcome.len));
        bad.data[4 + 2 + 2 + 1 + w.s->nh + 3] ^= 1; /* past the ref: in the kem output */
        CHECK_STATUS(gf_join(&w.m[j], slim_buf_view(&bad), none, &w.env, NULL),
                     SLIM_E_MLS_WELCOME_DECRYPT);
        /* GroupInfos rebuilt: not re-signed; a blank signer; the epoch
         * changed (re-signed) without and with a matching tag; another
         * tree with its hash (re-signed and re-tagged). */
        reforge_welcome(&w, j, 1, welcome, edit_epoch, NULL, false, false, &bad);
        CHECK_STATUS(gf_join(&w.m[j], slim_buf_view(&bad), none, &w.env, NULL),
                     SLIM_E_MLS_CONFIRMATION_TAG);
        reforge_welcome(&w, j, 1, welcome, edit_epoch, NULL, false, true, &bad);
        CHECK_STATUS(gf_join(&w.m[j], slim_buf_view(&bad), none, &w.env, NULL),
                     SLIM_E_MLS_BAD_SIGNATURE);
        uint32_t blank = 7;
        reforge_welcome(&w, j, 1, welcome, edit_signer, &blank, true, true, &bad);
        CHECK_STATUS(gf_join(&w.m[j], slim_buf_view(&bad), none, &w.env, NULL),
                     SLIM_E_MLS_GROUP_INFO_SIGNER);
        uint32_t other_leaf = 0;
        reforge_welcome(&w, j, 1, welcome, edit_signer, &other_leaf, false, true, &bad);
        CHECK_STATUS(gf_join(&w.m[j], slim_buf_view(&bad), none, &w.env, NULL),
                     SLIM_E_MLS_BAD_SIGNATURE);
        reforge_welcome(&w, j, 1, welcome, edit_tree, &old_tree, true, true, &bad);
        CHECK_STATUS(gf_join(&w.m[j], slim_buf_view(&bad), none, &w.env, NULL),
                     SLIM_E_MLS_NOT_IN_TREE);
        reforge_welcome_key(&w, j, 1, welcome, edit_nothing, NULL, false, false, true, &bad);
        CHECK_STATUS(gf_join(&w.m[j], slim_buf_view(&bad), none, &w.env, NULL),
                     SLIM_E_MLS_GROUP_INFO_DECRYPT);
        reforge_welcome(&w, j, 1, welcome, edit_nothing, NULL, true, true, &bad);
        /* The rebuilt but unchanged Welcome is accepted... */
        slim_mls_join_params jp;
        memset(&jp, 0, sizeof jp);
        jp.client = w.m[j].client;
        jp.key_package = slim_buf_view(&w.m[j].kp);
        jp.keys = &w.m[j].keys;
        slim_mls_group *g = NULL;
        CHECK_OK(slim_mls_group_join(&jp, slim_buf_view(&bad), &w.env, &g));
        slim_mls_group_free(g);
        /* ...and a given tree other than the group's is refused. */
        cs.welcome_tree = false;
        slim_mls_commit_output o2;
        CHECK_OK(slim_mls_group_commit(w.m[1].g, &cs, &w.env, &o2));
        CHECK_STATUS(gf_join(&w.m[j], slim_buf_view(&o2.welcome), none, &w.env, NULL),
                     SLIM_E_MLS_NO_RATCHET_TREE);
        CHECK_STATUS(
            gf_join(&w.m[j], slim_buf_view(&o2.welcome), slim_buf_view(&old_tree), &w.env, NULL),
            SLIM_E_MLS_TREE_HASH_MISMATCH);
        slim_mls_commit_output_cleanup(&o2);
        /* Nothing changed: the genuine Welcome works. */
        CHECK_OK(gf_join(&w.m[j], welcome, none, &w.env, NULL));
        CHECK(gf_same(slim_mls_group_epoch_authenticator(w.m[j].g),
                      slim_mls_group_epoch_authenticator(o.group)));
        slim_buf_cleanup(&bad);
        slim_buf_cleanup(&tree);
        slim_buf_cleanup(&old_tree);
        slim_mls_commit_output_cleanup(&o);
        gw_free(&w);
    }
}

/* ---- out of memory ---------------------------------------------------------------- */

TEST(commit_process_and_join_run_out_of_memory_cleanly) {
    gworld w;
    world(&w, 1, 3);
    size_t j = gw_client(&w, "joiner");
    slim_mls_proposal_spec p = gf_typed(SLIM_MLS_PROPOSAL_ADD);
    p.key_package = slim_buf_view(&w.m[j].kp);
    slim_mls_commit_spec cs = spec_of(&p, 1, PRIV);
    cs.force_path = true;
    cs.welcome_tree = true;
    /* Member 0's handshake ratchet in both secret trees is derived now (the
     * trees keep what they derive: not a leak), by a proposal it sends. */
    slim_mls_proposal_spec warm = gf_typed(SLIM_MLS_PROPOSAL_REMOVE);
    warm.removed = 2;
    CHECK_OK(gw_propose(&w, 0, &warm, PRIV, NULL));
    test_alloc_install();
    bool done = false;
    slim_mls_commit_output o;
    memset(&o, 0, sizeof o);
    for (long n = 1; n < 5000 && !done; n++) {
        long live = test_alloc_live();
        test_alloc_fail_after(n);
        slim_status st = slim_mls_group_commit(w.m[0].g, &cs, &w.env, &o);
        test_alloc_fail_after(0);
        if (st != SLIM_OK && st != SLIM_E_NOMEM)
            TEST_FAIL_AT("commit, allocation %ld failing: %s", n, slim_status_name(st));
        done = st == SLIM_OK;
        if (!done && test_alloc_live() != live)
            TEST_FAIL_AT("commit, allocation %ld failing: %ld allocations leaked", n,
                         test_alloc_live() - live);
    }
    CHECK(done);
    done = false;
    for (long n = 1; n < 5000 && !done; n++) {
        long live = test_alloc_live();
        slim_mls_received r;
        test_alloc_fail_after(n);
        slim_status st = slim_mls_group_receive(w.m[1].g, slim_buf_view(&o.commit), &w.env, &r);
        test_alloc_fail_after(0);
        /* A PrivateMessage's key is used up only by a read that succeeds:
         * each failed attempt must leave it for the next. */
        if (st != SLIM_OK && st != SLIM_E_NOMEM)
            TEST_FAIL_AT("receive, allocation %ld failing: %s", n, slim_status_name(st));
        done = st == SLIM_OK;
        if (done)
            slim_mls_received_cleanup(&r);
        if (test_alloc_live() != live)
            TEST_FAIL_AT("receive, allocation %ld failing: %ld allocations leaked", n,
                         test_alloc_live() - live);
    }
    CHECK(done);
    done = false;
    for (long n = 1; n < 5000 && !done; n++) {
        long live = test_alloc_live();
        slim_mls_group *g = NULL;
        test_alloc_fail_after(n);
        slim_mls_join_params jp;
        memset(&jp, 0, sizeof jp);
        jp.client = w.m[j].client;
        jp.key_package = slim_buf_view(&w.m[j].kp);
        jp.keys = &w.m[j].keys;
        slim_status st = slim_mls_group_join(&jp, slim_buf_view(&o.welcome), &w.env, &g);
        test_alloc_fail_after(0);
        if (st != SLIM_OK && st != SLIM_E_NOMEM)
            TEST_FAIL_AT("join, allocation %ld failing: %s", n, slim_status_name(st));
        done = st == SLIM_OK;
        slim_mls_group_free(g);
        if (test_alloc_live() != live)
            TEST_FAIL_AT("join, allocation %ld failing: %ld allocations leaked", n,
                         test_alloc_live() - live);
    }
    CHECK(done);
    test_alloc_uninstall();
    slim_mls_commit_output_cleanup(&o);
    gw_free(&w);
}

/* ---- the fuzz targets' fixture and seeds ------------------------------------------------ */

/* [uint16 length][message] appended to a sequence. */
static void seq_add(slim_buf *seq, const slim_buf *msg) {
    CHECK_OK(slim_buf_append_u16(seq, (uint16_t)msg->len));
    CHECK_OK(slim_buf_append(seq, msg->data, msg->len));
}

/* The fixture of fuzz_mls_welcome and fuzz_mls_commit works as those
 * targets assume (genuine inputs go through every mode); with
 * SLIM_FUZZ_SEED_DIR set, the seeds are written from it. */
TEST(group_fuzz_fixture_and_seeds) {
    for (uint16_t suite = 1; suite <= 2; suite++) {
        gfuzz f;
        gfuzz_init(&f, suite);
        uint8_t sb = (uint8_t)(suite - 1);
        char name[64];
        slim_bytes none = slim_bytes_of(NULL, 0);
        slim_mls_group *r = NULL;
        /* Welcome modes. */
        CHECK_OK(gfuzz_join_r(&f, slim_buf_view(&f.welcome), none, &r));
        slim_mls_group_free(r);
        CHECK_STATUS(gfuzz_join_r(&f, slim_buf_view(&f.welcome_bare), none, &r),
                     SLIM_E_MLS_NO_RATCHET_TREE);
        CHECK_OK(gfuzz_join_r(&f, slim_buf_view(&f.welcome_bare), slim_buf_view(&f.tree), &r));
        slim_mls_group_free(r);
        slim_buf wrapped = SLIM_BUF_INIT;
        CHECK_OK(gfuzz_wrap(&f, slim_buf_view(&f.group_info), slim_buf_view(&f.group_secrets),
                            &wrapped));
        CHECK_OK(gfuzz_join_r(&f, slim_buf_view(&wrapped), none, &r));
        slim_mls_group_free(r);
        snprintf(name, sizeof name, "suite%u-welcome", suite);
        write_fuzz_seed("fuzz_mls_welcome", name, sb, slim_buf_view(&f.welcome));
        snprintf(name, sizeof name, "suite%u-welcome-tree-given", suite);
        write_fuzz_seed("fuzz_mls_welcome", name, sb | 2, slim_buf_view(&f.welcome_bare));
        snprintf(name, sizeof name, "suite%u-group-info", suite);
        write_fuzz_seed("fuzz_mls_welcome", name, sb | 4, slim_buf_view(&f.group_info));
        snprintf(name, sizeof name, "suite%u-group-secrets", suite);
        write_fuzz_seed("fuzz_mls_welcome", name, sb | 6, slim_buf_view(&f.group_secrets));
        /* Commit modes: the three proposals and the commit, read by a
         * fresh R, agree with a member that processes the same. */
        slim_buf seq = SLIM_BUF_INIT;
        for (size_t i = 0; i < FZ_PROPOSALS; i++)
            seq_add(&seq, &f.proposals[i]);
        seq_add(&seq, &f.commit);
        CHECK_OK(gfuzz_join_r(&f, slim_buf_view(&f.welcome), none, &r));
        slim_mls_received got;
        for (size_t i = 0; i < FZ_PROPOSALS; i++) {
            CHECK_OK(slim_mls_group_receive(r, slim_buf_view(&f.proposals[i]), &f.w.env, &got));
            slim_mls_received_cleanup(&got);
        }
        CHECK_OK(slim_mls_group_receive(r, slim_buf_view(&f.commit), &f.w.env, &got));
        slim_mls_received other;
        CHECK_OK(slim_mls_group_receive(f.w.m[FZ_C].g, slim_buf_view(&f.commit), &f.w.env, &other));
        CHECK(got.group != NULL && other.group != NULL &&
              gf_same(slim_mls_group_epoch_authenticator(got.group),
                      slim_mls_group_epoch_authenticator(other.group)));
        slim_mls_received_cleanup(&got);
        slim_mls_received_cleanup(&other);
        slim_mls_group_free(r);
        snprintf(name, sizeof name, "suite%u-proposals-and-commit", suite);
        write_fuzz_seed("fuzz_mls_commit", name, sb, slim_buf_view(&seq));
        seq.len = 0;
        seq_add(&seq, &f.commit);
        snprintf(name, sizeof name, "suite%u-commit-alone", suite);
        write_fuzz_seed("fuzz_mls_commit", name, sb, slim_buf_view(&seq));
        /* The genuine list behind flags (path, genuine proposals first). */
        seq.len = 0;
        CHECK_OK(slim_buf_append_u8(&seq, 1));
        CHECK_OK(slim_buf_append(&seq, f.list.data, f.list.len));
        snprintf(name, sizeof name, "suite%u-list", suite);
        write_fuzz_seed("fuzz_mls_commit", name, sb | 2, slim_buf_view(&seq));
        /* A list with one proposal of each type by value (Update and
         * ExternalInit are refused there: the fuzzer starts from them). */
        seq.len = 0;
        CHECK_OK(slim_buf_append_u8(&seq, 1));
        slim_mls_proposal_spec specs[6];
        memset(specs, 0, sizeof specs);
        gf_new_key_package(&f.w.m[FZ_R], &f.w.rng);
        specs[0].type = SLIM_MLS_PROPOSAL_ADD;
        specs[0].key_package = slim_buf_view(&f.w.m[FZ_R].kp);
        specs[1].type = SLIM_MLS_PROPOSAL_REMOVE;
        specs[1].removed = 0;
        specs[2].type = SLIM_MLS_PROPOSAL_PSK;
        specs[2].psk_type = SLIM_MLS_PSK_RESUMPTION;
        specs[2].psk_epoch = 2;
        specs[3].type = SLIM_MLS_PROPOSAL_GROUP_CONTEXT_EXTENSIONS;
        specs[4].type = SLIM_MLS_PROPOSAL_REINIT;
        specs[4].reinit.group_id = slim_bytes_of("next", 4);
        specs[4].reinit.version = 1;
        specs[4].reinit.cipher_suite = suite;
        specs[5].type = SLIM_MLS_PROPOSAL_UPDATE;
        for (size_t i = 0; i < 6; i++) {
            slim_mls_built_proposal b;
            CHECK_OK(slim_mls__proposal_build(f.w.s, f.w.m[FZ_B].g, &specs[i], &f.w.env, &b));
            list_value(&seq, &b.p);
            slim_mls__built_proposal_cleanup(&b);
        }
        snprintf(name, sizeof name, "suite%u-list-by-value", suite);
        write_fuzz_seed("fuzz_mls_commit", name, sb | 2, slim_buf_view(&seq));
        slim_buf_cleanup(&seq);
        slim_buf_cleanup(&wrapped);
        gfuzz_free(&f);
    }
}

TEST_MAIN(TEST_ENTRY(create_add_and_join_both_suites),
          TEST_ENTRY(commits_of_every_proposal_type_by_value_and_by_reference),
          TEST_ENTRY(psks_external_and_resumption), TEST_ENTRY(external_commits_join_and_resync),
          TEST_ENTRY(external_and_new_member_proposals),
          TEST_ENTRY(reinit_ends_the_group_and_the_new_group_follows),
          TEST_ENTRY(removed_members_get_no_state),
          TEST_ENTRY(past_epochs_are_kept_as_asked_then_erased), TEST_ENTRY(states_are_values),
          TEST_ENTRY(pending_proposals_that_would_fail_are_left_out),
          TEST_ENTRY(commit_refusals_of_the_committer),
          TEST_ENTRY(commit_refusals_of_the_receivers), TEST_ENTRY(external_commit_refusals),
          TEST_ENTRY(proposal_refusals), TEST_ENTRY(welcome_refusals),
          TEST_ENTRY(commit_process_and_join_run_out_of_memory_cleanly),
          TEST_ENTRY(group_fuzz_fixture_and_seeds))
