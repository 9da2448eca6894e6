/*
 * End to end, as the SLIM group sessions use the group layer: a moderator
 * builds a group of 50 members with one Add commit (with a path) per new
 * member, then members update their keys and are removed, by the
 * moderator and by other members, by value and by reference, as
 * PublicMessage and PrivateMessage. Every member holds its own state and
 * processes every commit; after each one every member's epoch
 * authenticator and exporter output must equal everyone else's. A
 * tampered Commit, GroupInfo or Welcome is refused with a named status
 * by everyone it reaches, changes nothing, and the genuine one then goes
 * through. Both cipher suites.
 */
#include "mls_test_util.h"

#include "mls_group_fixture.h"

#define MEMBERS 50

static const uint16_t PUB = SLIM_MLS_WIRE_PUBLIC_MESSAGE;
static const uint16_t PRIV = SLIM_MLS_WIRE_PRIVATE_MESSAGE;

/* Every member's epoch authenticator, to check a refused message
 * changed nobody. */
typedef struct picture {
    uint64_t epoch[GW_MAX];
    uint8_t ea[GW_MAX][SLIM_MLS_MAX_HASH];
} picture;

static void take(const gworld *w, picture *p) {
    memset(p, 0, sizeof *p);
    for (size_t i = 0; i < w->n; i++) {
        if (!gw_in(w, i))
            continue;
        p->epoch[i] = slim_mls_group_epoch(w->m[i].g);
        slim_bytes ea = slim_mls_group_epoch_authenticator(w->m[i].g);
        memcpy(p->ea[i], ea.ptr, ea.len);
    }
}

static void same_picture(const gworld *w, const picture *p) {
    picture now;
    take(w, &now);
    CHECK(memcmp(&now, p, sizeof now) == 0);
}

/* Every member refuses `msg` with `want`. */
static void all_refuse(gworld *w, size_t except, slim_bytes msg, slim_status want) {
    for (size_t i = 0; i < w->n; i++) {
        if (i == except || !gw_in(w, i))
            continue;
        slim_mls_received r;
        slim_status st = slim_mls_group_receive(w->m[i].g, msg, &w->env, &r);
        if (st != want)
            TEST_FAIL_AT("member %zu: got %s, want %s", i, slim_status_name(st),
                         slim_status_name(want));
        if (st == SLIM_OK)
            slim_mls_received_cleanup(&r);
    }
}

static uint32_t leaf_of(const gworld *w, size_t i) {
    return slim_mls_group_own_leaf(w->m[i].g);
}

/* A commit by `who` that every other member refuses once tampered (one
 * byte at `at` from the end), then accepts as sent. */
static void tampered_then_genuine(gworld *w, size_t who, const slim_mls_commit_spec *cs, size_t at,
                                  slim_status want) {
    slim_mls_commit_output o;
    CHECK_OK(slim_mls_group_commit(w->m[who].g, cs, &w->env, &o));
    picture before;
    take(w, &before);
    slim_buf bad = SLIM_BUF_INIT;
    CHECK_OK(slim_buf_append(&bad, o.commit.data, o.commit.len));
    bad.data[bad.len - at] ^= 0x20;
    all_refuse(w, who, slim_buf_view(&bad), want);
    same_picture(w, &before);
    CHECK_OK(gw_apply(w, who, slim_buf_view(&o.commit), slim_buf_view(&o.welcome), o.group));
    gf_swap(&w->m[who], o.group);
    o.group = NULL;
    slim_mls_commit_output_cleanup(&o);
    slim_buf_cleanup(&bad);
}

TEST(fifty_members_one_moderator) {
    for (uint16_t suite = 1; suite <= 2; suite++) {
        gworld w;
        gw_init(&w, suite, 50 + suite);
        w.opts.max_past_epochs = 1;
        size_t mod = gw_client(&w, "moderator");
        CHECK_OK(gw_create(&w, mod, slim_bytes_of(NULL, 0)));
        uint64_t epoch = 0;
        /* The moderator adds 49 members, one commit with a path each. */
        for (size_t k = 1; k < MEMBERS; k++) {
            size_t c = gw_client(&w, "member");
            slim_mls_proposal_spec add = gf_typed(SLIM_MLS_PROPOSAL_ADD);
            add.key_package = slim_buf_view(&w.m[c].kp);
            slim_mls_commit_spec cs;
            memset(&cs, 0, sizeof cs);
            cs.proposals = &add;
            cs.n_proposals = 1;
            cs.force_path = true;
            cs.wire_format = k % 2 ? PRIV : PUB;
            CHECK_OK(gw_commit(&w, mod, &cs, NULL, NULL));
            CHECK(gw_in(&w, c));
            CHECK(gw_agree(&w, ++epoch));
        }
        CHECK_EQ(slim_mls_group_member_count(w.m[mod].g), MEMBERS);
        /* Updates proposed by three members, removes by the moderator,
         * in one commit. */
        slim_mls_proposal_spec up = gf_typed(SLIM_MLS_PROPOSAL_UPDATE);
        CHECK_OK(gw_propose(&w, 5, &up, PRIV, NULL));
        CHECK_OK(gw_propose(&w, 17, &up, PUB, NULL));
        CHECK_OK(gw_propose(&w, 33, &up, PRIV, NULL));
        slim_mls_proposal_spec rm[2] = {gf_typed(SLIM_MLS_PROPOSAL_REMOVE),
                                        gf_typed(SLIM_MLS_PROPOSAL_REMOVE)};
        rm[0].removed = leaf_of(&w, 10);
        rm[1].removed = leaf_of(&w, 20);
        slim_mls_commit_spec cs;
        memset(&cs, 0, sizeof cs);
        cs.proposals = rm;
        cs.n_proposals = 2;
        cs.include_pending = true;
        cs.wire_format = PRIV;
        CHECK_OK(gw_commit(&w, mod, &cs, NULL, NULL));
        CHECK(!gw_in(&w, 10) && !gw_in(&w, 20));
        CHECK(gw_agree(&w, ++epoch));
        /* Members commit their own updates (paths). */
        size_t self[] = {40, 7, 49, 1};
        for (size_t i = 0; i < SLIM_ARRAY_LEN(self); i++) {
            memset(&cs, 0, sizeof cs);
            cs.wire_format = i % 2 ? PUB : PRIV;
            CHECK_OK(gw_commit(&w, self[i], &cs, NULL, NULL));
            CHECK(gw_agree(&w, ++epoch));
        }
        /* A member proposes a removal that another member commits. */
        rm[0].removed = leaf_of(&w, 30);
        CHECK_OK(gw_propose(&w, 7, &rm[0], PUB, NULL));
        memset(&cs, 0, sizeof cs);
        cs.include_pending = true;
        CHECK_OK(gw_commit(&w, 12, &cs, NULL, NULL));
        CHECK(!gw_in(&w, 30));
        CHECK(gw_agree(&w, ++epoch));
        /* The moderator removes three more, one at a time. */
        size_t gone[] = {2, 45, 25};
        for (size_t i = 0; i < SLIM_ARRAY_LEN(gone); i++) {
            rm[0].removed = leaf_of(&w, gone[i]);
            memset(&cs, 0, sizeof cs);
            cs.proposals = rm;
            cs.n_proposals = 1;
            cs.wire_format = i % 2 ? PUB : PRIV;
            CHECK_OK(gw_commit(&w, mod, &cs, NULL, NULL));
            CHECK(gw_agree(&w, ++epoch));
        }
        CHECK_EQ(slim_mls_group_member_count(w.m[mod].g), MEMBERS - 6);

        /* Tampered commits: a PublicMessage (its membership tag, at the
         * end) and a PrivateMessage (its ciphertext). */
        memset(&cs, 0, sizeof cs);
        cs.wire_format = PUB;
        tampered_then_genuine(&w, 3, &cs, 5, SLIM_E_MLS_BAD_MEMBERSHIP_TAG);
        CHECK(gw_agree(&w, ++epoch));
        cs.wire_format = PRIV;
        tampered_then_genuine(&w, mod, &cs, 40, SLIM_E_MLS_CONTENT_DECRYPT);
        CHECK(gw_agree(&w, ++epoch));

        /* A tampered Welcome: refused, then the genuine one. */
        size_t j = gw_client(&w, "member");
        slim_mls_proposal_spec add = gf_typed(SLIM_MLS_PROPOSAL_ADD);
        add.key_package = slim_buf_view(&w.m[j].kp);
        memset(&cs, 0, sizeof cs);
        cs.proposals = &add;
        cs.n_proposals = 1;
        cs.force_path = true;
        cs.welcome_tree = true;
        slim_mls_commit_output o;
        CHECK_OK(slim_mls_group_commit(w.m[mod].g, &cs, &w.env, &o));
        slim_buf bad = SLIM_BUF_INIT;
        CHECK_OK(slim_buf_append(&bad, o.welcome.data, o.welcome.len));
        bad.data[bad.len / 2] ^= 1;
        CHECK_STATUS(gf_join(&w.m[j], slim_buf_view(&bad), slim_bytes_of(NULL, 0), &w.env, NULL),
                     SLIM_E_MLS_WELCOME_DECRYPT);
        CHECK(!gw_in(&w, j));
        CHECK_OK(gw_apply(&w, mod, slim_buf_view(&o.commit), slim_buf_view(&o.welcome), o.group));
        gf_swap(&w.m[mod], o.group);
        o.group = NULL;
        slim_mls_commit_output_cleanup(&o);
        CHECK(gw_in(&w, j));
        CHECK(gw_agree(&w, ++epoch));

        /* A tampered GroupInfo for an external join: refused, nobody
         * changes; then the genuine one. */
        size_t x = gw_client(&w, "external");
        slim_buf gi = SLIM_BUF_INIT, commit = SLIM_BUF_INIT;
        CHECK_OK(slim_mls_group_group_info(w.m[mod].g, true, true, &gi));
        bad.len = 0;
        CHECK_OK(slim_buf_append(&bad, gi.data, gi.len));
        bad.data[bad.len - 10] ^= 1; /* the signature */
        slim_mls_external_join_params xp;
        memset(&xp, 0, sizeof xp);
        xp.client = w.m[x].client;
        xp.group_info = slim_buf_view(&bad);
        slim_mls_group *g = NULL;
        picture before;
        take(&w, &before);
        CHECK_STATUS(slim_mls_group_join_external(&xp, &w.env, &commit, &g),
                     SLIM_E_MLS_BAD_SIGNATURE);
        CHECK(commit.len == 0 && g == NULL);
        same_picture(&w, &before);
        xp.group_info = slim_buf_view(&gi);
        CHECK_OK(slim_mls_group_join_external(&xp, &w.env, &commit, &g));
        CHECK_OK(gw_apply(&w, x, slim_buf_view(&commit), slim_bytes_of(NULL, 0), NULL));
        gf_swap(&w.m[x], g);
        CHECK(gw_agree(&w, ++epoch));
        CHECK_EQ(slim_mls_group_member_count(w.m[x].g), MEMBERS - 4);
        slim_buf_cleanup(&bad);
        slim_buf_cleanup(&gi);
        slim_buf_cleanup(&commit);
        gw_free(&w);
    }
}

TEST_MAIN(TEST_ENTRY(fifty_members_one_moderator))
