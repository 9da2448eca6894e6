/*
 * Saving and loading a group state (src/mls/group_state.c): a loaded
 * state is the saved one (epoch, epoch authenticator, exporter,
 * GroupContext, tree, own leaf; saved again, the same bytes); it reads
 * what other members send in the epoch, also generations from before the
 * save it had not read, but not those it had; it processes the next
 * Commit, protects, proposes and commits; `skip` moves its own sending
 * ratchets on; what the save leaves out (earlier epochs, pending
 * proposals) is gone; an ended group stays ended; the options come from
 * the save or the caller. Refusals: another client, another suite, an
 * unknown format, every truncation, byte flips and garbage, each without
 * a leak, and out of memory at every allocation of save and load. Also
 * writes and checks the seeds of fuzz_mls_state.
 */
#include "mls_test_util.h"

#include "fuzz/mls_group_fuzz.h"
#include "mls_group_fixture.h"

static const uint16_t PUB = SLIM_MLS_WIRE_PUBLIC_MESSAGE;
static const uint16_t PRIV = SLIM_MLS_WIRE_PRIVATE_MESSAGE;

enum { A = 0, B = 1, C = 2 };

/* A (0) created the group and added B (1) and C (2) with a path: epoch 1. */
static void world(gworld *w, uint16_t suite) {
    gw_init(w, suite, 40 + suite);
    w->opts.max_past_epochs = 2;
    w->opts.max_resumption_psks = 3;
    w->opts.padding_block = 64;
    for (int i = 0; i < 3; i++)
        gw_client(w, "member");
    CHECK_OK(gw_create(w, A, slim_bytes_of(NULL, 0)));
    size_t bc[2] = {B, C};
    CHECK_OK(gw_add(w, A, bc, 2, true, NULL, NULL));
    CHECK(gw_agree(w, 1));
}

/* A Commit of p[0..n) by value, with a path. */
static slim_mls_commit_spec with_path(const slim_mls_proposal_spec *p, size_t n, uint16_t wf) {
    slim_mls_commit_spec cs;
    memset(&cs, 0, sizeof cs);
    cs.proposals = p;
    cs.n_proposals = n;
    cs.force_path = true;
    cs.wire_format = wf;
    return cs;
}

static void save(const slim_mls_group *g, slim_buf *out) {
    slim_buf_cleanup_secret(out);
    CHECK_OK(slim_mls_group_save(g, out));
}

static slim_mls_group *load(const gmember *m, const slim_buf *saved, uint32_t skip) {
    slim_mls_group *g = NULL;
    CHECK_OK(slim_mls_group_load(m->client, slim_buf_view(saved), NULL, skip, &g));
    return g;
}

/* Member i protects `text` (appended to out, cleared first). */
static void send(gworld *w, size_t i, const char *text, slim_buf *out) {
    out->len = 0;
    CHECK_OK(slim_mls_group_protect(w->m[i].g, slim_bytes_of(NULL, 0),
                                    slim_bytes_of(text, strlen(text)), &w->env, out));
}

/* g reads msg: `want`, and when it is SLIM_OK the data must be `text`. */
static void read_as(gworld *w, slim_mls_group *g, const slim_buf *msg, slim_status want,
                    const char *text) {
    slim_mls_received r;
    slim_status st = slim_mls_group_receive(g, slim_buf_view(msg), &w->env, &r);
    CHECK_STATUS(st, want);
    if (st == SLIM_OK) {
        CHECK(r.data.len == strlen(text) && memcmp(r.data.data, text, r.data.len) == 0);
        slim_mls_received_cleanup(&r);
    }
}

/* Two states of one member are the same epoch: everything a caller can
 * read of them, and their save. */
static void check_same(const slim_mls_group *a, const slim_mls_group *b) {
    CHECK_U64(slim_mls_group_epoch(a), slim_mls_group_epoch(b));
    CHECK_EQ(slim_mls_group_own_leaf(a), slim_mls_group_own_leaf(b));
    CHECK(gf_same(slim_mls_group_context_bytes(a), slim_mls_group_context_bytes(b)));
    CHECK(gf_same(slim_mls_group_epoch_authenticator(a), slim_mls_group_epoch_authenticator(b)));
    CHECK_EQ(slim_mls_group_member_count(a), slim_mls_group_member_count(b));
    CHECK_EQ(slim_mls_group_ended(a), slim_mls_group_ended(b));
    uint8_t xa[40], xb[40];
    CHECK_OK(slim_mls_group_export(a, "state test", slim_bytes_of("ctx", 3), xa, sizeof xa));
    CHECK_OK(slim_mls_group_export(b, "state test", slim_bytes_of("ctx", 3), xb, sizeof xb));
    CHECK_MEM(xa, xb, sizeof xa);
    uint8_t pa[SLIM_MLS_MAX_HASH], pb[SLIM_MLS_MAX_HASH];
    CHECK_OK(slim_mls_group_resumption_psk(a, slim_mls_group_epoch(a), pa));
    CHECK_OK(slim_mls_group_resumption_psk(b, slim_mls_group_epoch(b), pb));
    CHECK_MEM(pa, pb, slim_mls_group_suite(a)->nh);
    slim_buf ta = SLIM_BUF_INIT, tb = SLIM_BUF_INIT;
    CHECK_OK(slim_mls_group_ratchet_tree(a, &ta));
    CHECK_OK(slim_mls_group_ratchet_tree(b, &tb));
    CHECK(gf_same(slim_buf_view(&ta), slim_buf_view(&tb)));
    slim_buf_cleanup(&ta);
    slim_buf_cleanup(&tb);
    slim_buf sa = SLIM_BUF_INIT, sb = SLIM_BUF_INIT;
    save(a, &sa);
    save(b, &sb);
    CHECK(gf_same(slim_buf_view(&sa), slim_buf_view(&sb)));
    slim_buf_cleanup_secret(&sa);
    slim_buf_cleanup_secret(&sb);
}

/* A's secret tree says B's `type` ratchet was read at `gen` and not
 * before: gen - 1 is kept (skipped), gen is used. */
static void check_read_at(gworld *w, size_t reader, size_t sender, slim_mls_ratchet_type type,
                          uint32_t gen) {
    slim_mls_secret_tree *st = w->m[reader].g->keys->st;
    uint32_t leaf = slim_mls_group_own_leaf(w->m[sender].g);
    slim_mls_ratchet_key k;
    CHECK_STATUS(slim_mls_secret_tree_get(st, leaf, type, gen, &k), SLIM_E_MLS_GENERATION_REUSED);
    if (gen > 0) {
        CHECK_OK(slim_mls_secret_tree_get(st, leaf, type, gen - 1, &k));
        slim_mls_ratchet_key_cleanup(&k);
    }
}

/* ---- the loaded state is the saved one ----------------------------------------- */

TEST(a_loaded_state_is_the_saved_one) {
    for (uint16_t suite = 1; suite <= 2; suite++) {
        gworld w;
        world(&w, suite);
        /* Every member, and a state whose secret tree keeps skipped keys. */
        slim_buf msg = SLIM_BUF_INIT, saved = SLIM_BUF_INIT;
        for (int k = 0; k < 3; k++)
            send(&w, A, "hi", &msg);
        read_as(&w, w.m[C].g, &msg, SLIM_OK, "hi");
        for (size_t i = 0; i < w.n; i++) {
            save(w.m[i].g, &saved);
            slim_mls_group *g = load(&w.m[i], &saved, 0);
            if (g == NULL)
                continue;
            check_same(w.m[i].g, g);
            CHECK_EQ(g->opts.padding_block, 64);
            CHECK_EQ(g->opts.max_past_epochs, 2);
            CHECK_EQ(g->opts.max_resumption_psks, 3);
            /* Saved again: the same bytes. */
            slim_buf again = SLIM_BUF_INIT;
            save(g, &again);
            CHECK(gf_same(slim_buf_view(&saved), slim_buf_view(&again)));
            slim_buf_cleanup_secret(&again);
            slim_mls_group_free(g);
        }
        /* Appended after what out holds; out is left alone on success. */
        slim_buf out = SLIM_BUF_INIT;
        CHECK_OK(slim_buf_append(&out, "head", 4));
        CHECK_OK(slim_mls_group_save(w.m[B].g, &out));
        save(w.m[B].g, &saved);
        CHECK(out.len == 4 + saved.len && memcmp(out.data, "head", 4) == 0);
        CHECK_MEM(out.data + 4, saved.data, saved.len);
        slim_buf_cleanup_secret(&out);
        slim_buf_cleanup(&msg);
        slim_buf_cleanup_secret(&saved);
        gw_free(&w);
    }
}

/* ---- reading the epoch's messages ------------------------------------------------ */

TEST(the_loaded_state_reads_what_it_had_not_read) {
    for (uint16_t suite = 1; suite <= 2; suite++) {
        gworld w;
        world(&w, suite);
        /* A sends generations 0, 1 and 2; B reads 1 only, then saves. */
        slim_buf m[4] = {SLIM_BUF_INIT, SLIM_BUF_INIT, SLIM_BUF_INIT, SLIM_BUF_INIT};
        send(&w, A, "zero", &m[0]);
        send(&w, A, "one", &m[1]);
        send(&w, A, "two", &m[2]);
        read_as(&w, w.m[B].g, &m[1], SLIM_OK, "one");
        slim_buf saved = SLIM_BUF_INIT;
        save(w.m[B].g, &saved);
        /* After the save: A sends generation 3, then 60 more; the last
         * one comes first. */
        send(&w, A, "three", &m[3]);
        slim_buf far = SLIM_BUF_INIT;
        for (int k = 0; k < 60; k++)
            send(&w, A, "far", &far);
        slim_mls_group *g = load(&w.m[B], &saved, 0);
        if (g != NULL) {
            read_as(&w, g, &far, SLIM_OK, "far");
            read_as(&w, g, &m[3], SLIM_OK, "three");
            read_as(&w, g, &m[0], SLIM_OK, "zero"); /* before the save, not read */
            read_as(&w, g, &m[2], SLIM_OK, "two");
            /* Read before the save: used up, also after loading. */
            read_as(&w, g, &m[1], SLIM_E_MLS_GENERATION_REUSED, NULL);
            /* And each once. */
            read_as(&w, g, &m[0], SLIM_E_MLS_GENERATION_REUSED, NULL);
            read_as(&w, g, &far, SLIM_E_MLS_GENERATION_REUSED, NULL);
            /* The original reads the same way. */
            read_as(&w, w.m[B].g, &m[1], SLIM_E_MLS_GENERATION_REUSED, NULL);
            read_as(&w, w.m[B].g, &m[0], SLIM_OK, "zero");
            /* A proposal sent as a PrivateMessage after the save is read
             * and kept for a Commit by reference. */
            slim_mls_proposal_spec rm = gf_typed(SLIM_MLS_PROPOSAL_REMOVE);
            rm.removed = slim_mls_group_own_leaf(w.m[C].g);
            slim_buf prop = SLIM_BUF_INIT;
            CHECK_OK(slim_mls_group_propose(w.m[A].g, &rm, PRIV, slim_bytes_of(NULL, 0), &w.env,
                                            &prop, NULL));
            slim_mls_received r;
            CHECK_OK(slim_mls_group_receive(g, slim_buf_view(&prop), &w.env, &r));
            CHECK(r.content_type == SLIM_MLS_CONTENT_PROPOSAL && g->n_props == 1);
            slim_mls_received_cleanup(&r);
            slim_buf_cleanup(&prop);
        }
        slim_mls_group_free(g);
        for (int k = 0; k < 4; k++)
            slim_buf_cleanup(&m[k]);
        slim_buf_cleanup(&far);
        slim_buf_cleanup_secret(&saved);
        gw_free(&w);
    }
}

/* ---- the next epoch ---------------------------------------------------------------- */

TEST(the_loaded_state_processes_the_next_commit_and_commits) {
    for (uint16_t suite = 1; suite <= 2; suite++) {
        gworld w;
        world(&w, suite);
        slim_buf saved = SLIM_BUF_INIT;
        save(w.m[B].g, &saved);
        slim_mls_group *g = load(&w.m[B], &saved, 0);
        if (g == NULL) {
            gw_free(&w);
            slim_buf_cleanup_secret(&saved);
            continue;
        }
        /* B restarts: its state is the loaded one from now on. */
        gf_swap(&w.m[B], g);
        /* A commits an Add of a new client with a path, as a PrivateMessage:
         * the loaded B processes it like everyone. */
        size_t d = gw_client(&w, "member");
        slim_mls_proposal_spec add = gf_typed(SLIM_MLS_PROPOSAL_ADD);
        add.key_package = slim_buf_view(&w.m[d].kp);
        slim_mls_commit_spec cs = with_path(&add, 1, PRIV);
        CHECK_OK(gw_commit(&w, A, &cs, NULL, NULL));
        CHECK(gw_agree(&w, 2));
        /* The loaded member commits (with a path) and everyone follows. */
        cs = with_path(NULL, 0, PUB);
        CHECK_OK(gw_commit(&w, B, &cs, NULL, NULL));
        CHECK(gw_agree(&w, 3));
        /* A second restart in the new epoch, then a commit it sends
         * straight away as a PrivateMessage. */
        save(w.m[B].g, &saved);
        g = load(&w.m[B], &saved, 0);
        if (g != NULL) {
            check_same(w.m[B].g, g);
            gf_swap(&w.m[B], g);
            cs.wire_format = PRIV;
            CHECK_OK(gw_commit(&w, B, &cs, NULL, NULL));
            CHECK(gw_agree(&w, 4));
        }
        slim_buf msg = SLIM_BUF_INIT;
        send(&w, B, "after", &msg);
        for (size_t i = 0; i < w.n; i++) {
            if (i != B)
                read_as(&w, w.m[i].g, &msg, SLIM_OK, "after");
        }
        slim_buf_cleanup(&msg);
        slim_buf_cleanup_secret(&saved);
        gw_free(&w);
    }
}

/* ---- sending after a load: skip --------------------------------------------------- */

TEST(skip_moves_the_own_sending_ratchets_on) {
    for (uint16_t suite = 1; suite <= 2; suite++) {
        gworld w;
        world(&w, suite);
        slim_buf msg = SLIM_BUF_INIT, saved = SLIM_BUF_INIT;
        /* B sends generation 0, saves (next: 1), then sends 1 and 2: the
         * save is behind what B has used. */
        send(&w, B, "g0", &msg);
        read_as(&w, w.m[A].g, &msg, SLIM_OK, "g0");
        save(w.m[B].g, &saved);
        send(&w, B, "g1", &msg);
        read_as(&w, w.m[A].g, &msg, SLIM_OK, "g1");
        send(&w, B, "g2", &msg);
        read_as(&w, w.m[A].g, &msg, SLIM_OK, "g2");
        /* Without skip the loaded state sends generation 1 again: A
         * refuses it. That is what skip is for. */
        slim_mls_group *g = load(&w.m[B], &saved, 0);
        slim_mls_group *orig = w.m[B].g;
        if (g != NULL) {
            w.m[B].g = g;
            send(&w, B, "again", &msg);
            read_as(&w, w.m[A].g, &msg, SLIM_E_MLS_GENERATION_REUSED, NULL);
            w.m[B].g = orig;
            slim_mls_group_free(g);
        }
        /* With skip 5: the first message is generation 1 + 5 = 6, A reads
         * it (keeping 3..5 as skipped). The handshake ratchet (at 0 when
         * saved) moves on too: a PrivateMessage proposal is generation 5. */
        g = load(&w.m[B], &saved, 5);
        if (g != NULL) {
            w.m[B].g = g;
            send(&w, B, "skipped", &msg);
            read_as(&w, w.m[A].g, &msg, SLIM_OK, "skipped");
            check_read_at(&w, A, B, SLIM_MLS_RATCHET_APPLICATION, 6);
            slim_mls_proposal_spec up = gf_typed(SLIM_MLS_PROPOSAL_UPDATE);
            CHECK_OK(gw_propose(&w, B, &up, PRIV, NULL));
            check_read_at(&w, A, B, SLIM_MLS_RATCHET_HANDSHAKE, 5);
            /* C, which read nothing of B, reads it too. */
            read_as(&w, w.m[C].g, &msg, SLIM_OK, "skipped");
            w.m[B].g = orig;
            slim_mls_group_free(g);
        }
        /* The longest skip is taken; a longer one is refused. */
        g = load(&w.m[B], &saved, SLIM_MLS_LOAD_MAX_SKIP);
        slim_mls_group_free(g);
        CHECK_STATUS(slim_mls_group_load(w.m[B].client, slim_buf_view(&saved), NULL,
                                         SLIM_MLS_LOAD_MAX_SKIP + 1, &g),
                     SLIM_E_INVALID_ARG);
        slim_buf_cleanup(&msg);
        slim_buf_cleanup_secret(&saved);
        gw_free(&w);
    }
}

/* ---- what the save leaves out ------------------------------------------------------ */

TEST(earlier_epochs_and_pending_proposals_are_not_saved) {
    gworld w;
    world(&w, 1);
    slim_buf late = SLIM_BUF_INIT, prop = SLIM_BUF_INIT, saved = SLIM_BUF_INIT;
    send(&w, A, "late", &late);
    slim_mls_commit_spec cs = with_path(NULL, 0, PUB);
    CHECK_OK(gw_commit(&w, A, &cs, NULL, NULL));
    /* Epoch 2: the original keeps epoch 1's keys and resumption PSK. */
    CHECK_EQ(slim_mls_group_past_epochs(w.m[B].g), 1);
    slim_mls_proposal_spec rm = gf_typed(SLIM_MLS_PROPOSAL_REMOVE);
    rm.removed = slim_mls_group_own_leaf(w.m[C].g);
    CHECK_OK(gw_propose(&w, A, &rm, PUB, &prop));
    CHECK_EQ(w.m[B].g->n_props, 1);
    save(w.m[B].g, &saved);
    slim_mls_group *g = load(&w.m[B], &saved, 0);
    if (g != NULL) {
        CHECK_EQ(slim_mls_group_past_epochs(g), 0);
        CHECK_EQ(g->n_props, 0);
        read_as(&w, g, &late, SLIM_E_MLS_WRONG_EPOCH, NULL);
        read_as(&w, w.m[B].g, &late, SLIM_OK, "late");
        uint8_t psk[SLIM_MLS_MAX_HASH];
        CHECK_STATUS(slim_mls_group_resumption_psk(g, 1, psk), SLIM_E_MLS_PSK_NOT_FOUND);
        CHECK_OK(slim_mls_group_resumption_psk(w.m[B].g, 1, psk));
        /* A Commit of the proposal by reference: the original follows,
         * the loaded state does not know the proposal. */
        cs.include_pending = true;
        slim_mls_commit_output o;
        CHECK_OK(slim_mls_group_commit(w.m[A].g, &cs, &w.env, &o));
        slim_mls_received r;
        CHECK_STATUS(slim_mls_group_receive(g, slim_buf_view(&o.commit), &w.env, &r),
                     SLIM_E_MLS_PROPOSAL_NOT_FOUND);
        /* Given the proposal again, it follows too. */
        CHECK_OK(slim_mls_group_receive(g, slim_buf_view(&prop), &w.env, &r));
        slim_mls_received_cleanup(&r);
        CHECK_OK(slim_mls_group_receive(g, slim_buf_view(&o.commit), &w.env, &r));
        slim_mls_received r2;
        CHECK_OK(slim_mls_group_receive(w.m[B].g, slim_buf_view(&o.commit), &w.env, &r2));
        if (r.group != NULL && r2.group != NULL) {
            CHECK(gf_same(slim_mls_group_epoch_authenticator(r.group),
                          slim_mls_group_epoch_authenticator(o.group)));
            CHECK(gf_same(slim_mls_group_epoch_authenticator(r2.group),
                          slim_mls_group_epoch_authenticator(o.group)));
        }
        slim_mls_received_cleanup(&r);
        slim_mls_received_cleanup(&r2);
        slim_mls_commit_output_cleanup(&o);
    }
    slim_mls_group_free(g);
    slim_buf_cleanup(&late);
    slim_buf_cleanup(&prop);
    slim_buf_cleanup_secret(&saved);
    gw_free(&w);
}

TEST(an_ended_group_stays_ended) {
    gworld w;
    world(&w, 2);
    slim_mls_proposal_spec p = gf_typed(SLIM_MLS_PROPOSAL_REINIT);
    p.reinit.group_id = slim_bytes_of("next-group", 10);
    p.reinit.version = SLIM_MLS_VERSION_MLS10;
    p.reinit.cipher_suite = 2;
    slim_mls_commit_spec cs = with_path(&p, 1, PUB);
    CHECK_OK(gw_commit(&w, A, &cs, NULL, NULL));
    CHECK(slim_mls_group_ended(w.m[B].g));
    slim_buf late = SLIM_BUF_INIT, saved = SLIM_BUF_INIT;
    save(w.m[B].g, &saved);
    slim_mls_group *g = load(&w.m[B], &saved, 0);
    if (g != NULL) {
        check_same(w.m[B].g, g);
        CHECK(slim_mls_group_ended(g));
        slim_mls_reinit ri;
        CHECK_OK(slim_mls_group_reinit_params(g, &ri));
        CHECK(gf_same(ri.group_id, p.reinit.group_id) && ri.cipher_suite == 2 &&
              ri.version == SLIM_MLS_VERSION_MLS10);
        CHECK_STATUS(
            slim_mls_group_protect(g, slim_bytes_of(NULL, 0), slim_bytes_of("x", 1), &w.env, &late),
            SLIM_E_MLS_GROUP_ENDED);
    }
    slim_mls_group_free(g);
    slim_buf_cleanup(&late);
    slim_buf_cleanup_secret(&saved);
    gw_free(&w);
}

TEST(options_come_from_the_save_or_the_caller) {
    gworld w;
    world(&w, 1);
    slim_buf saved = SLIM_BUF_INIT;
    w.m[B].g->opts.check_received_lifetimes = true;
    w.m[B].g->opts.max_lifetime = 12345;
    save(w.m[B].g, &saved);
    slim_mls_group *g = load(&w.m[B], &saved, 0);
    if (g != NULL) {
        CHECK(g->opts.check_received_lifetimes);
        CHECK_U64(g->opts.max_lifetime, 12345);
        CHECK_EQ(g->opts.padding_block, 64);
    }
    slim_mls_group_free(g);
    slim_mls_group_options o;
    memset(&o, 0, sizeof o);
    o.padding_block = 1;
    o.max_past_epochs = 7;
    g = NULL;
    CHECK_OK(slim_mls_group_load(w.m[B].client, slim_buf_view(&saved), &o, 0, &g));
    if (g != NULL) {
        CHECK(!g->opts.check_received_lifetimes);
        CHECK_EQ(g->opts.padding_block, 1);
        CHECK_EQ(g->opts.max_past_epochs, 7);
    }
    slim_mls_group_free(g);
    slim_buf_cleanup_secret(&saved);
    gw_free(&w);
}

/* ---- refusals ------------------------------------------------------------------------ */

TEST(another_client_or_suite_is_refused) {
    gworld w, w2;
    world(&w, 1);
    world(&w2, 2);
    slim_buf saved = SLIM_BUF_INIT;
    save(w.m[B].g, &saved);
    slim_mls_group *g = NULL;
    /* A member of the group, but not the one saved. */
    CHECK_STATUS(slim_mls_group_load(w.m[A].client, slim_buf_view(&saved), NULL, 0, &g),
                 SLIM_E_MLS_BAD_KEY);
    /* Same credential, another signature key. */
    gmember other;
    gf_member_init(&other, 1, &w.rng, w.m[B].id);
    CHECK_STATUS(slim_mls_group_load(other.client, slim_buf_view(&saved), NULL, 0, &g),
                 SLIM_E_MLS_BAD_KEY);
    /* Another suite. */
    CHECK_STATUS(slim_mls_group_load(w2.m[B].client, slim_buf_view(&saved), NULL, 0, &g),
                 SLIM_E_MLS_SUITE_MISMATCH);
    /* A format this code does not know. */
    saved.data[1] = 2;
    CHECK_STATUS(slim_mls_group_load(w.m[B].client, slim_buf_view(&saved), NULL, 0, &g),
                 SLIM_E_MLS_BAD_VALUE);
    CHECK(g == NULL);
    gf_member_free(&other);
    slim_buf_cleanup_secret(&saved);
    gw_free(&w);
    gw_free(&w2);
}

/* Loads `in` as member m: refused without a leak, or loaded and then the
 * same bytes when saved again. Returns the status. */
static slim_status try_load(const gmember *m, slim_bytes in) {
    long live = test_alloc_live();
    slim_mls_group *g = NULL;
    slim_status st = slim_mls_group_load(m->client, in, NULL, 0, &g);
    if (st == SLIM_OK) {
        slim_buf again = SLIM_BUF_INIT;
        CHECK_OK(slim_mls_group_save(g, &again));
        CHECK(gf_same(in, slim_buf_view(&again)));
        slim_buf_cleanup_secret(&again);
        slim_mls_group_free(g);
    } else {
        CHECK(g == NULL);
        if (st == SLIM_E_INTERNAL || strcmp(slim_status_name(st), "E_UNKNOWN") == 0)
            TEST_FAIL_AT("refused with %d (%s)", st, slim_status_name(st));
    }
    if (test_alloc_live() != live)
        TEST_FAIL_AT("load leaked %ld allocations (%s)", test_alloc_live() - live,
                     slim_status_name(st));
    return st;
}

TEST(truncations_flips_and_garbage_are_refused_without_a_leak) {
    for (uint16_t suite = 1; suite <= 2; suite++) {
        gworld w;
        world(&w, suite);
        /* B's secret tree with kept keys in it, an own node key. */
        slim_buf msg = SLIM_BUF_INIT, saved = SLIM_BUF_INIT;
        send(&w, A, "a", &msg);
        send(&w, A, "b", &msg);
        read_as(&w, w.m[B].g, &msg, SLIM_OK, "b");
        send(&w, B, "c", &msg);
        save(w.m[B].g, &saved);
        test_alloc_install();
        /* Every truncation. */
        for (size_t n = 0; n < saved.len; n++) {
            if (try_load(&w.m[B], slim_bytes_of(saved.data, n)) == SLIM_OK)
                TEST_FAIL_AT("suite %u: the first %zu of %zu bytes loaded", suite, n, saved.len);
        }
        /* A trailing byte. */
        CHECK_OK(slim_buf_append_u8(&saved, 0));
        CHECK_STATUS(try_load(&w.m[B], slim_buf_view(&saved)), SLIM_E_MLS_TRAILING_BYTES);
        saved.len--;
        /* Every byte flipped, one at a time, two ways: refused, or loaded
         * (a secret changed cannot be seen: the caller's encryption
         * authenticates the bytes). */
        size_t refused = 0;
        for (size_t i = 0; i < saved.len; i++) {
            static const uint8_t flips[2] = {0x01, 0x80};
            for (int f = 0; f < 2; f++) {
                saved.data[i] ^= flips[f];
                refused += try_load(&w.m[B], slim_buf_view(&saved)) != SLIM_OK;
                saved.data[i] ^= flips[f];
            }
        }
        CHECK(refused > 0);
        printf("  suite %u: %zu bytes, %zu of %zu flips refused\n", suite, saved.len, refused,
               2 * saved.len);
        /* Garbage. */
        uint8_t junk[512];
        uint32_t seed = 7;
        for (int k = 0; k < 50; k++) {
            size_t n = 1 + (size_t)(k * 37) % sizeof junk;
            gf_fill(&seed, junk, n);
            if (k % 2 == 0 && n >= 4) { /* behind a valid header */
                junk[0] = 0;
                junk[1] = 1;
                junk[2] = 0;
                junk[3] = (uint8_t)suite;
            }
            CHECK(try_load(&w.m[B], slim_bytes_of(junk, n)) != SLIM_OK);
        }
        memset(junk, 0, sizeof junk);
        CHECK(try_load(&w.m[B], slim_bytes_of(junk, sizeof junk)) != SLIM_OK);
        CHECK(try_load(&w.m[B], slim_bytes_of(NULL, 0)) != SLIM_OK);
        test_alloc_uninstall();
        slim_buf_cleanup(&msg);
        slim_buf_cleanup_secret(&saved);
        gw_free(&w);
    }
}

TEST(save_and_load_run_out_of_memory_cleanly) {
    gworld w;
    world(&w, 1);
    slim_buf msg = SLIM_BUF_INIT, saved = SLIM_BUF_INIT;
    send(&w, A, "a", &msg);
    send(&w, A, "b", &msg);
    read_as(&w, w.m[B].g, &msg, SLIM_OK, "b");
    save(w.m[B].g, &saved);
    test_alloc_install();
    bool done = false;
    for (long n = 1; n < 1000 && !done; n++) {
        long live = test_alloc_live();
        slim_buf out = SLIM_BUF_INIT;
        CHECK_OK(slim_buf_append(&out, "x", 1));
        test_alloc_fail_after(n);
        slim_status st = slim_mls_group_save(w.m[B].g, &out);
        test_alloc_fail_after(0);
        if (st != SLIM_OK && st != SLIM_E_NOMEM)
            TEST_FAIL_AT("save, allocation %ld failing: %s", n, slim_status_name(st));
        done = st == SLIM_OK;
        if (done)
            CHECK(out.len == 1 + saved.len && memcmp(out.data + 1, saved.data, saved.len) == 0);
        else
            CHECK(out.len == 1);
        slim_buf_cleanup_secret(&out);
        if (test_alloc_live() != live)
            TEST_FAIL_AT("save, allocation %ld failing: %ld allocations leaked", n,
                         test_alloc_live() - live);
    }
    CHECK(done);
    done = false;
    for (long n = 1; n < 1000 && !done; n++) {
        long live = test_alloc_live();
        slim_mls_group *g = NULL;
        test_alloc_fail_after(n);
        slim_status st = slim_mls_group_load(w.m[B].client, slim_buf_view(&saved), NULL, 3, &g);
        test_alloc_fail_after(0);
        if (st != SLIM_OK && st != SLIM_E_NOMEM)
            TEST_FAIL_AT("load, allocation %ld failing: %s", n, slim_status_name(st));
        done = st == SLIM_OK;
        CHECK(done || g == NULL);
        slim_mls_group_free(g);
        if (test_alloc_live() != live)
            TEST_FAIL_AT("load, allocation %ld failing: %ld allocations leaked", n,
                         test_alloc_live() - live);
    }
    CHECK(done);
    test_alloc_uninstall();
    slim_buf_cleanup(&msg);
    slim_buf_cleanup_secret(&saved);
    gw_free(&w);
}

/* ---- the fuzz target's seeds ---------------------------------------------------------- */

/* fuzz_mls_state loads [flags][saved state] as a client of the fixed group
 * of mls_group_fuzz.h (flags: bit 0 the suite, bits 1-2 the client, bits
 * 3-4 the skip). Each member's state at the fixture's end loads with its
 * client and with no other; with SLIM_FUZZ_SEED_DIR set they are written
 * as the seeds. */
TEST(state_fuzz_seeds) {
    for (uint16_t suite = 1; suite <= 2; suite++) {
        gfuzz f;
        gfuzz_init(&f, suite);
        /* R's secret tree with a kept key of A's and a used one. */
        slim_buf msg = SLIM_BUF_INIT;
        send(&f.w, FZ_A, "a", &msg);
        send(&f.w, FZ_A, "b", &msg);
        read_as(&f.w, f.w.m[FZ_R].g, &msg, SLIM_OK, "b");
        for (size_t i = 0; i < 4; i++) {
            slim_buf saved = SLIM_BUF_INIT;
            save(f.w.m[i].g, &saved);
            slim_mls_group *g = load(&f.w.m[i], &saved, 0);
            if (g != NULL)
                check_same(f.w.m[i].g, g);
            slim_mls_group_free(g);
            g = NULL;
            CHECK_STATUS(
                slim_mls_group_load(f.w.m[(i + 1) % 4].client, slim_buf_view(&saved), NULL, 0, &g),
                SLIM_E_MLS_BAD_KEY);
            char name[32];
            snprintf(name, sizeof name, "suite%u-member%zu", suite, i);
            write_fuzz_seed("fuzz_mls_state", name, (uint8_t)((suite - 1) | i << 1),
                            slim_buf_view(&saved));
            slim_buf_cleanup_secret(&saved);
        }
        slim_buf_cleanup(&msg);
        gfuzz_free(&f);
    }
}

TEST_MAIN(TEST_ENTRY(a_loaded_state_is_the_saved_one),
          TEST_ENTRY(the_loaded_state_reads_what_it_had_not_read),
          TEST_ENTRY(the_loaded_state_processes_the_next_commit_and_commits),
          TEST_ENTRY(skip_moves_the_own_sending_ratchets_on),
          TEST_ENTRY(earlier_epochs_and_pending_proposals_are_not_saved),
          TEST_ENTRY(an_ended_group_stays_ended),
          TEST_ENTRY(options_come_from_the_save_or_the_caller),
          TEST_ENTRY(another_client_or_suite_is_refused),
          TEST_ENTRY(truncations_flips_and_garbage_are_refused_without_a_leak),
          TEST_ENTRY(save_and_load_run_out_of_memory_cleanly), TEST_ENTRY(state_fuzz_seeds))
