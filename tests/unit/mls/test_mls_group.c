#include "mls_test_util.h"
#include "mls_group_fixture.h"

TEST(smoke) {
    for (uint16_t suite = 1; suite <= 2; suite++) {
        uint32_t rs = 5;
        slim_mls_rng rng = {counting_fill, &rs};
        slim_mls_env env = gf_env(&rng);
        gmember a, b, c;
        gf_member_init(&a, suite, &rng, "alice");
        gf_member_init(&b, suite, &rng, "bob");
        gf_member_init(&c, suite, &rng, "carol");
        CHECK_OK(slim_mls_group_create(a.client, slim_bytes_of("grp", 3), slim_bytes_of(NULL, 0),
                                       NULL, &env, &a.g));
        slim_mls_proposal_spec add[2];
        memset(add, 0, sizeof add);
        add[0].type = SLIM_MLS_PROPOSAL_ADD;
        add[0].key_package = slim_buf_view(&b.kp);
        add[1].type = SLIM_MLS_PROPOSAL_ADD;
        add[1].key_package = slim_buf_view(&c.kp);
        slim_mls_commit_spec cs;
        memset(&cs, 0, sizeof cs);
        cs.proposals = add;
        cs.n_proposals = 2;
        cs.force_path = true;
        cs.welcome_tree = true;
        slim_mls_commit_output out;
        CHECK_OK(slim_mls_group_commit(a.g, &cs, &env, &out));
        CHECK_OK(gf_join(&b, slim_buf_view(&out.welcome), slim_bytes_of(NULL, 0), &env, NULL));
        CHECK_OK(gf_join(&c, slim_buf_view(&out.welcome), slim_bytes_of(NULL, 0), &env, NULL));
        gf_swap(&a, out.group);
        out.group = NULL;
        slim_mls_commit_output_cleanup(&out);
        CHECK(gf_same(slim_mls_group_epoch_authenticator(a.g),
                      slim_mls_group_epoch_authenticator(b.g)));
        CHECK(gf_same(slim_mls_group_epoch_authenticator(a.g),
                      slim_mls_group_epoch_authenticator(c.g)));
        /* b commits (empty, path), a and c process */
        memset(&cs, 0, sizeof cs);
        cs.wire_format = SLIM_MLS_WIRE_PRIVATE_MESSAGE;
        CHECK_OK(slim_mls_group_commit(b.g, &cs, &env, &out));
        slim_mls_received r;
        CHECK_OK(slim_mls_group_receive(a.g, slim_buf_view(&out.commit), &env, &r));
        gf_swap(&a, r.group);
        r.group = NULL;
        slim_mls_received_cleanup(&r);
        CHECK_OK(slim_mls_group_receive(c.g, slim_buf_view(&out.commit), &env, &r));
        gf_swap(&c, r.group);
        r.group = NULL;
        slim_mls_received_cleanup(&r);
        gf_swap(&b, out.group);
        out.group = NULL;
        slim_mls_commit_output_cleanup(&out);
        CHECK(gf_same(slim_mls_group_epoch_authenticator(a.g),
                      slim_mls_group_epoch_authenticator(b.g)));
        CHECK(gf_same(slim_mls_group_epoch_authenticator(a.g),
                      slim_mls_group_epoch_authenticator(c.g)));
        CHECK_EQ(slim_mls_group_epoch(c.g), 2);
        gf_member_free(&a);
        gf_member_free(&b);
        gf_member_free(&c);
    }
}

TEST_MAIN(TEST_ENTRY(smoke))
