/* Unit tests for the struct codecs of src/mls (extensions, leaf_node,
 * nodes, key_package, proposal, welcome, framing): every structure round
 * trips, each forbidden value is refused with its named status, decoding
 * allocates nothing, truncations and bit flips never decode to something
 * else, and the TBS signatures verify. */
#include "core/alloc.h"
#include "mls/extensions.h"
#include "mls/framing.h"
#include "mls_test_util.h"

/* ---- builders --------------------------------------------------------- */

/* Scratch space that builders point views into; reset per test. */
typedef struct arena {
    slim_buf bufs[256];
    size_t n;
} arena;

static slim_buf *arena_buf(arena *a) {
    if (a->n == SLIM_ARRAY_LEN(a->bufs)) {
        TEST_FAIL_AT("arena full");
        a->n = 0;
    }
    slim_buf *b = &a->bufs[a->n++];
    slim_buf_init(b);
    return b;
}

static void arena_free(arena *a) {
    for (size_t i = 0; i < a->n; i++)
        slim_buf_cleanup(&a->bufs[i]);
    a->n = 0;
}

/* A list of uint16 values as a vec. */
static slim_mls_vec u16_list(arena *a, const uint16_t *v, size_t n) {
    slim_buf *b = arena_buf(a);
    for (size_t i = 0; i < n; i++)
        CHECK_OK(slim_buf_append_u16(b, v[i]));
    return (slim_mls_vec){slim_buf_view(b), (uint32_t)n};
}

/* An extension list with the given types (data: the type's low byte). */
static slim_mls_vec ext_list(arena *a, const uint16_t *types, size_t n) {
    slim_buf *b = arena_buf(a);
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, b);
    for (size_t i = 0; i < n; i++) {
        uint8_t d = (uint8_t)types[i];
        slim_mls_extension e = {types[i], slim_bytes_of(&d, 1)};
        slim_mls_extension_encode(&w, &e);
    }
    CHECK_OK(slim_mls_tls_writer_status(&w));
    return (slim_mls_vec){slim_buf_view(b), (uint32_t)n};
}

static const uint8_t key32[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
static const uint8_t sig64[64] = {0x5a, 0x5b};

static slim_mls_leaf_node sample_leaf(arena *a, uint8_t source) {
    static const uint16_t versions[] = {1}, suites[] = {1, 2, 0x0a0a}, exts[] = {0x0a0a},
                          props[] = {0xff01}, creds[] = {1, 2};
    static const uint16_t leaf_exts[] = {0x0a0a};
    slim_mls_leaf_node ln;
    memset(&ln, 0, sizeof ln);
    ln.encryption_key = slim_bytes_of(key32, 32);
    ln.signature_key = slim_bytes_of(key32 + 1, 31);
    ln.credential.type = SLIM_MLS_CREDENTIAL_BASIC;
    ln.credential.body = slim_bytes_of("alice", 5);
    ln.capabilities.versions = u16_list(a, versions, 1);
    ln.capabilities.cipher_suites = u16_list(a, suites, 3);
    ln.capabilities.extensions = u16_list(a, exts, 1);
    ln.capabilities.proposals = u16_list(a, props, 1);
    ln.capabilities.credentials = u16_list(a, creds, 2);
    ln.source = source;
    ln.lifetime.not_before = 1;
    ln.lifetime.not_after = UINT64_MAX;
    ln.parent_hash = slim_bytes_of(key32, 32);
    ln.extensions = ext_list(a, leaf_exts, 1);
    ln.signature = slim_bytes_of(sig64, 64);
    return ln;
}

static slim_mls_key_package sample_key_package(arena *a) {
    static const uint16_t exts[] = {0x0a0a, 7};
    slim_mls_key_package kp;
    memset(&kp, 0, sizeof kp);
    kp.version = SLIM_MLS_VERSION_MLS10;
    kp.cipher_suite = 1;
    kp.init_key = slim_bytes_of(key32 + 3, 29);
    kp.leaf_node = sample_leaf(a, SLIM_MLS_LEAF_SOURCE_KEY_PACKAGE);
    kp.extensions = ext_list(a, exts, 2);
    kp.signature = slim_bytes_of(sig64, 64);
    return kp;
}

/* Encodes v with an element encoder into a fresh arena buffer `out`. */
#define ENCODE_INTO(a, fn, v, out)                                                                 \
    do {                                                                                           \
        out = arena_buf(a);                                                                        \
        slim_mls_tls_writer w_;                                                                    \
        slim_mls_tls_writer_init(&w_, out);                                                        \
        fn(&w_, v);                                                                                \
        CHECK_OK(slim_mls_tls_writer_status(&w_));                                                 \
    } while (0)

static slim_mls_update_path sample_path(arena *a) {
    slim_mls_update_path p;
    p.leaf_node = sample_leaf(a, SLIM_MLS_LEAF_SOURCE_COMMIT);
    /* Two path nodes, the second with two ciphertexts. */
    slim_buf *cts = arena_buf(a);
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, cts);
    slim_mls_hpke_ciphertext c = {slim_bytes_of(key32, 32), slim_bytes_of(sig64, 48)};
    slim_mls_hpke_ciphertext_encode(&w, &c);
    slim_mls_hpke_ciphertext_encode(&w, &c);
    slim_buf *nodes = arena_buf(a);
    slim_mls_tls_writer_init(&w, nodes);
    slim_mls_update_path_node n1 = {slim_bytes_of(key32, 32), {slim_bytes_of(NULL, 0), 0}};
    slim_mls_update_path_node n2 = {slim_bytes_of(key32, 32), {slim_buf_view(cts), 2}};
    slim_mls_update_path_node_encode(&w, &n1);
    slim_mls_update_path_node_encode(&w, &n2);
    CHECK_OK(slim_mls_tls_writer_status(&w));
    p.nodes = (slim_mls_vec){slim_buf_view(nodes), 2};
    return p;
}

/* A Commit holding one proposal of each of the 7 types and a reference. */
static slim_mls_commit sample_commit(arena *a, bool with_path) {
    slim_buf *list = arena_buf(a);
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, list);
    static const uint16_t gce[] = {3, 0xff00};
    slim_mls_proposal_or_ref por;
    memset(&por, 0, sizeof por);
    por.type = SLIM_MLS_PROPOSAL_OR_REF_PROPOSAL;
    for (uint16_t t = 1; t <= 7; t++) {
        slim_mls_proposal *p = &por.proposal;
        memset(p, 0, sizeof *p);
        p->type = t;
        switch (t) {
        case SLIM_MLS_PROPOSAL_ADD:
            p->u.add = sample_key_package(a);
            break;
        case SLIM_MLS_PROPOSAL_UPDATE:
            p->u.update = sample_leaf(a, SLIM_MLS_LEAF_SOURCE_UPDATE);
            break;
        case SLIM_MLS_PROPOSAL_REMOVE:
            p->u.remove = 0x01020304;
            break;
        case SLIM_MLS_PROPOSAL_PSK:
            p->u.psk.psktype = SLIM_MLS_PSK_RESUMPTION;
            p->u.psk.usage = SLIM_MLS_PSK_USAGE_BRANCH;
            p->u.psk.psk_group_id = slim_bytes_of("g", 1);
            p->u.psk.psk_epoch = 9;
            p->u.psk.psk_nonce = slim_bytes_of(key32, 32);
            break;
        case SLIM_MLS_PROPOSAL_REINIT:
            p->u.reinit.group_id = slim_bytes_of("new group", 9);
            p->u.reinit.version = 1;
            p->u.reinit.cipher_suite = 2;
            p->u.reinit.extensions = ext_list(a, gce, 2);
            break;
        case SLIM_MLS_PROPOSAL_EXTERNAL_INIT:
            p->u.external_init = slim_bytes_of(key32, 32);
            break;
        case SLIM_MLS_PROPOSAL_GROUP_CONTEXT_EXTENSIONS:
            p->u.group_context_extensions = ext_list(a, gce, 2);
            break;
        }
        slim_mls_proposal_or_ref_encode(&w, &por);
    }
    slim_mls_proposal_or_ref ref = {.type = SLIM_MLS_PROPOSAL_OR_REF_REFERENCE,
                                    .reference = slim_bytes_of(key32, 32)};
    slim_mls_proposal_or_ref_encode(&w, &ref);
    CHECK_OK(slim_mls_tls_writer_status(&w));
    slim_mls_commit c;
    memset(&c, 0, sizeof c);
    c.proposals = (slim_mls_vec){slim_buf_view(list), 8};
    c.has_path = with_path;
    if (with_path)
        c.path = sample_path(a);
    return c;
}

/* Decodes `in` with fn into a T and checks status and (on success) that it
 * re-encodes to `in`. */
#define ROUND_TRIP(T, dec, enc, in, want)                                                          \
    do {                                                                                           \
        T v_;                                                                                      \
        slim_mls_tls_reader r_;                                                                    \
        slim_mls_tls_reader_init(&r_, in);                                                         \
        dec(&r_, &v_);                                                                             \
        slim_status st_ = slim_mls_tls_reader_finish(&r_);                                         \
        CHECK_STATUS(st_, want);                                                                   \
        if (st_ == SLIM_OK) {                                                                      \
            slim_buf o_ = SLIM_BUF_INIT;                                                           \
            slim_mls_tls_writer w_;                                                                \
            slim_mls_tls_writer_init(&w_, &o_);                                                    \
            enc(&w_, &v_);                                                                         \
            CHECK_OK(slim_mls_tls_writer_status(&w_));                                             \
            CHECK_EQ(o_.len, (in).len);                                                            \
            if (o_.len == (in).len)                                                                \
                CHECK_MEM(o_.data, (in).ptr, o_.len);                                              \
            slim_buf_cleanup(&o_);                                                                 \
        }                                                                                          \
    } while (0)

/* ---- round trips ------------------------------------------------------ */

TEST(leaf_nodes_key_packages_and_credentials_round_trip) {
    arena a = {0};
    for (uint8_t src = 1; src <= 3; src++) {
        slim_mls_leaf_node ln = sample_leaf(&a, src);
        slim_buf *b;
        ENCODE_INTO(&a, slim_mls_leaf_node_encode, &ln, b);
        ROUND_TRIP(slim_mls_leaf_node, slim_mls_leaf_node_decode, slim_mls_leaf_node_encode,
                   slim_buf_view(b), SLIM_OK);
    }
    slim_mls_key_package kp = sample_key_package(&a);
    slim_buf *b;
    ENCODE_INTO(&a, slim_mls_key_package_encode, &kp, b);
    ROUND_TRIP(slim_mls_key_package, slim_mls_key_package_decode, slim_mls_key_package_encode,
               slim_buf_view(b), SLIM_OK);

    /* x509: a list of certificates, walked one by one. */
    slim_buf *certs = arena_buf(&a);
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, certs);
    slim_mls_tls_put_opaque(&w, slim_bytes_of("cert-one", 8));
    slim_mls_tls_put_opaque(&w, slim_bytes_of("cert-two!", 9));
    slim_mls_credential x509 = {SLIM_MLS_CREDENTIAL_X509, slim_buf_view(certs)};
    ENCODE_INTO(&a, slim_mls_credential_encode, &x509, b);
    ROUND_TRIP(slim_mls_credential, slim_mls_credential_decode, slim_mls_credential_encode,
               slim_buf_view(b), SLIM_OK);
    slim_mls_tls_reader it;
    slim_mls_tls_reader_init(&it, slim_buf_view(certs));
    slim_bytes cert;
    bool more;
    CHECK_OK(slim_mls_certificate_next(&it, &cert, &more));
    CHECK(more && cert.len == 8);
    CHECK_OK(slim_mls_certificate_next(&it, &cert, &more));
    CHECK(more && cert.len == 9);
    CHECK_OK(slim_mls_certificate_next(&it, &cert, &more));
    CHECK(!more);
    /* An x509 body that is not a list of opaque<V> is refused. */
    slim_buf *bad = arena_buf(&a);
    CHECK_OK(slim_buf_append(bad, "\x00\x02\x03\x05\x41\x42\x43", 7));
    ROUND_TRIP(slim_mls_credential, slim_mls_credential_decode, slim_mls_credential_encode,
               slim_buf_view(bad), SLIM_E_MLS_VECTOR_PAST_END);
    /* An unknown credential type travels as an opaque body. */
    slim_mls_credential other = {0xf00d, slim_bytes_of("\xff\x00 anything", 11)};
    ENCODE_INTO(&a, slim_mls_credential_encode, &other, b);
    ROUND_TRIP(slim_mls_credential, slim_mls_credential_decode, slim_mls_credential_encode,
               slim_buf_view(b), SLIM_OK);
    /* Type 0 is reserved. */
    CHECK_OK(slim_buf_append(bad, "", 0));
    bad->len = 0;
    CHECK_OK(slim_buf_append(bad, "\x00\x00\x01\x41", 4));
    ROUND_TRIP(slim_mls_credential, slim_mls_credential_decode, slim_mls_credential_encode,
               slim_buf_view(bad), SLIM_E_MLS_BAD_CREDENTIAL_TYPE);
    slim_mls_credential zero = {0, slim_bytes_of(NULL, 0)};
    slim_buf o = SLIM_BUF_INIT;
    slim_mls_tls_writer_init(&w, &o);
    CHECK_STATUS(slim_mls_credential_encode(&w, &zero), SLIM_E_MLS_BAD_CREDENTIAL_TYPE);
    slim_buf_cleanup(&o);

    /* External senders. */
    slim_buf *es = arena_buf(&a);
    slim_mls_tls_writer_init(&w, es);
    size_t m = slim_mls_tls_vec_begin(&w);
    slim_mls_external_sender s1 = {slim_bytes_of(key32, 32), x509};
    slim_mls_external_sender s2 = {slim_bytes_of(key32, 32), other};
    slim_mls_external_sender_encode(&w, &s1);
    slim_mls_external_sender_encode(&w, &s2);
    slim_mls_tls_vec_end(&w, m);
    CHECK_OK(slim_mls_tls_writer_status(&w));
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, slim_buf_view(es));
    slim_mls_vec senders;
    CHECK_OK(slim_mls_external_senders_decode(&r, &senders));
    CHECK_OK(slim_mls_tls_reader_finish(&r));
    CHECK_EQ(senders.count, 2);
    arena_free(&a);
}

TEST(commit_with_all_seven_proposal_types_round_trips) {
    arena a = {0};
    for (int path = 0; path < 2; path++) {
        slim_mls_commit c = sample_commit(&a, path);
        slim_buf *b;
        ENCODE_INTO(&a, slim_mls_commit_encode, &c, b);
        if (path)
            write_fuzz_seed("fuzz_mls_message", "commit", 6, slim_buf_view(b));
        ROUND_TRIP(slim_mls_commit, slim_mls_commit_decode, slim_mls_commit_encode,
                   slim_buf_view(b), path ? SLIM_OK : SLIM_E_MLS_COMMIT_PATH_MISSING);
        /* Walk the list: the types come back in order. */
        slim_mls_tls_reader it;
        slim_mls_tls_reader_init(&it, c.proposals.body);
        uint16_t want = 1;
        while (slim_mls_tls_reader_more(&it)) {
            slim_mls_proposal_or_ref p;
            CHECK_OK(slim_mls_proposal_or_ref_decode(&it, &p));
            if (p.type == SLIM_MLS_PROPOSAL_OR_REF_PROPOSAL)
                CHECK_EQ(p.proposal.type, want++);
            else
                CHECK_EQ(p.reference.len, 32);
        }
        CHECK_EQ(want, 8);
        /* Each proposal body alone, as the interop vectors carry it. */
        slim_mls_tls_reader_init(&it, c.proposals.body);
        for (int i = 0; i < 7; i++) {
            slim_mls_proposal_or_ref p;
            CHECK_OK(slim_mls_proposal_or_ref_decode(&it, &p));
            slim_buf body = SLIM_BUF_INIT;
            slim_mls_tls_writer w;
            slim_mls_tls_writer_init(&w, &body);
            CHECK_OK(slim_mls_proposal_body_encode(&w, &p.proposal));
            slim_mls_tls_reader r;
            slim_mls_tls_reader_init(&r, slim_buf_view(&body));
            slim_mls_proposal q;
            CHECK_OK(slim_mls_proposal_body_decode(&r, p.proposal.type, &q));
            CHECK_OK(slim_mls_tls_reader_finish(&r));
            char name[32];
            snprintf(name, sizeof name, "proposal-%u", p.proposal.type);
            write_fuzz_seed("fuzz_mls_message", name, (uint8_t)(7 + p.proposal.type),
                            slim_buf_view(&body));
            slim_buf_cleanup(&body);
        }
    }
    arena_free(&a);
}

TEST(commit_path_rules) {
    arena a = {0};
    /* Only an Add, by value: the path may be omitted. */
    slim_mls_proposal_or_ref add = {.type = SLIM_MLS_PROPOSAL_OR_REF_PROPOSAL};
    add.proposal.type = SLIM_MLS_PROPOSAL_ADD;
    add.proposal.u.add = sample_key_package(&a);
    slim_buf *list;
    ENCODE_INTO(&a, slim_mls_proposal_or_ref_encode, &add, list);
    slim_mls_commit c = {.proposals = {slim_buf_view(list), 1}};
    slim_buf *b;
    ENCODE_INTO(&a, slim_mls_commit_encode, &c, b);
    ROUND_TRIP(slim_mls_commit, slim_mls_commit_decode, slim_mls_commit_encode, slim_buf_view(b),
               SLIM_OK);
    bool required = true;
    CHECK_OK(slim_mls_commit_path_required(&c, &required));
    CHECK(!required);
    /* A reference only: the decoder cannot know its type. */
    slim_mls_proposal_or_ref ref = {.type = SLIM_MLS_PROPOSAL_OR_REF_REFERENCE,
                                    .reference = slim_bytes_of(key32, 32)};
    ENCODE_INTO(&a, slim_mls_proposal_or_ref_encode, &ref, list);
    c.proposals = (slim_mls_vec){slim_buf_view(list), 1};
    ENCODE_INTO(&a, slim_mls_commit_encode, &c, b);
    ROUND_TRIP(slim_mls_commit, slim_mls_commit_decode, slim_mls_commit_encode, slim_buf_view(b),
               SLIM_OK);
    /* Empty, or a Remove: a path is required. */
    c.proposals = (slim_mls_vec){slim_bytes_of(NULL, 0), 0};
    ENCODE_INTO(&a, slim_mls_commit_encode, &c, b);
    ROUND_TRIP(slim_mls_commit, slim_mls_commit_decode, slim_mls_commit_encode, slim_buf_view(b),
               SLIM_E_MLS_COMMIT_PATH_MISSING);
    slim_mls_proposal_or_ref rm = {.type = SLIM_MLS_PROPOSAL_OR_REF_PROPOSAL};
    rm.proposal.type = SLIM_MLS_PROPOSAL_REMOVE;
    ENCODE_INTO(&a, slim_mls_proposal_or_ref_encode, &rm, list);
    c.proposals = (slim_mls_vec){slim_buf_view(list), 1};
    ENCODE_INTO(&a, slim_mls_commit_encode, &c, b);
    ROUND_TRIP(slim_mls_commit, slim_mls_commit_decode, slim_mls_commit_encode, slim_buf_view(b),
               SLIM_E_MLS_COMMIT_PATH_MISSING);
    /* An optional presence byte of 2. */
    b->data[b->len - 1] = 2;
    ROUND_TRIP(slim_mls_commit, slim_mls_commit_decode, slim_mls_commit_encode, slim_buf_view(b),
               SLIM_E_MLS_BAD_OPTIONAL);
    CHECK(slim_mls_proposal_type_needs_path(SLIM_MLS_PROPOSAL_UPDATE));
    CHECK(!slim_mls_proposal_type_needs_path(SLIM_MLS_PROPOSAL_PSK));
    CHECK(slim_mls_proposal_type_external_ok(SLIM_MLS_PROPOSAL_REMOVE));
    CHECK(!slim_mls_proposal_type_external_ok(SLIM_MLS_PROPOSAL_UPDATE));
    arena_free(&a);
}

/* A ratchet tree: leaf, parent, leaf, blank, leaf. */
static slim_buf *sample_tree(arena *a, bool trailing_blank) {
    slim_buf *b = arena_buf(a);
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, b);
    size_t m = slim_mls_tls_vec_begin(&w);
    slim_mls_node leaf = {.type = SLIM_MLS_NODE_LEAF};
    leaf.u.leaf = sample_leaf(a, SLIM_MLS_LEAF_SOURCE_COMMIT);
    slim_buf *um = arena_buf(a);
    CHECK_OK(slim_buf_append_u32(um, 0));
    CHECK_OK(slim_buf_append_u32(um, 1));
    slim_mls_node parent = {.type = SLIM_MLS_NODE_PARENT};
    parent.u.parent.encryption_key = slim_bytes_of(key32, 32);
    parent.u.parent.parent_hash = slim_bytes_of(key32, 16);
    parent.u.parent.unmerged_leaves = (slim_mls_vec){slim_buf_view(um), 2};
    slim_mls_ratchet_tree_put(&w, &leaf);
    slim_mls_ratchet_tree_put(&w, &parent);
    slim_mls_ratchet_tree_put(&w, &leaf);
    slim_mls_ratchet_tree_put(&w, NULL);
    slim_mls_ratchet_tree_put(&w, &leaf);
    if (trailing_blank)
        slim_mls_ratchet_tree_put(&w, NULL);
    slim_mls_tls_vec_end(&w, m);
    CHECK_OK(slim_mls_tls_writer_status(&w));
    return b;
}

static slim_status decode_tree(slim_bytes in, slim_mls_vec *nodes) {
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, in);
    slim_mls_ratchet_tree_decode(&r, nodes);
    return slim_mls_tls_reader_finish(&r);
}

TEST(ratchet_tree_rules) {
    arena a = {0};
    slim_mls_vec nodes;
    slim_buf *t = sample_tree(&a, false);
    CHECK_OK(decode_tree(slim_buf_view(t), &nodes));
    write_fuzz_seed("fuzz_mls_message", "ratchet-tree", 4, slim_buf_view(t));
    CHECK_EQ(nodes.count, 5);
    slim_mls_tls_reader it;
    slim_mls_tls_reader_init(&it, nodes.body);
    bool present, more = true;
    int seen = 0, blanks = 0;
    while (more) {
        slim_mls_node n;
        CHECK_OK(slim_mls_ratchet_tree_next(&it, &present, &n, &more));
        if (more && present) {
            CHECK_EQ(n.type, seen % 2 == 0 ? SLIM_MLS_NODE_LEAF : SLIM_MLS_NODE_PARENT);
            if (n.type == SLIM_MLS_NODE_PARENT)
                CHECK_EQ(slim_mls_vec_u32(&n.u.parent.unmerged_leaves, 1), 1);
        }
        blanks += more && !present;
        seen += more;
    }
    CHECK_EQ(seen, 5);
    CHECK_EQ(blanks, 1);
    /* The last entry may not be blank, and an empty tree is refused. */
    CHECK_STATUS(decode_tree(slim_buf_view(sample_tree(&a, true)), &nodes),
                 SLIM_E_MLS_TREE_TRAILING_BLANK);
    CHECK_STATUS(decode_tree(slim_bytes_of("\x00", 1), &nodes), SLIM_E_MLS_TREE_TRAILING_BLANK);
    /* A parent node where a leaf belongs (node 0). */
    slim_buf *b = arena_buf(&a);
    CHECK_OK(slim_buf_append(b, "\x0a\x01\x02\x01\x41\x00\x00\x00\x00\x00\x00", 11));
    b->data[0] = (uint8_t)(b->len - 1);
    CHECK_STATUS(decode_tree(slim_buf_view(b), &nodes), SLIM_E_MLS_BAD_NODE_TYPE);
    /* Node types 0 and 3. */
    b->data[2] = 0;
    CHECK_STATUS(decode_tree(slim_buf_view(b), &nodes), SLIM_E_MLS_BAD_NODE_TYPE);
    b->data[2] = 3;
    CHECK_STATUS(decode_tree(slim_buf_view(b), &nodes), SLIM_E_MLS_BAD_NODE_TYPE);
    arena_free(&a);
}

TEST(parent_node_unmerged_leaves_sorted) {
    static const struct {
        uint32_t v[3];
        size_t n;
        slim_status want;
    } cases[] = {
        {{0}, 0, SLIM_OK},
        {{5, 6, 100}, 3, SLIM_OK},
        {{6, 5}, 2, SLIM_E_MLS_UNMERGED_NOT_SORTED},
        {{4, 4}, 2, SLIM_E_MLS_UNMERGED_NOT_SORTED},
    };
    for (size_t i = 0; i < SLIM_ARRAY_LEN(cases); i++) {
        slim_buf um = SLIM_BUF_INIT, b = SLIM_BUF_INIT;
        for (size_t j = 0; j < cases[i].n; j++)
            CHECK_OK(slim_buf_append_u32(&um, cases[i].v[j]));
        slim_mls_parent_node p = {slim_bytes_of(key32, 32),
                                  slim_bytes_of(NULL, 0),
                                  {slim_buf_view(&um), (uint32_t)cases[i].n}};
        slim_mls_tls_writer w;
        slim_mls_tls_writer_init(&w, &b);
        CHECK_OK(slim_mls_parent_node_encode(&w, &p));
        ROUND_TRIP(slim_mls_parent_node, slim_mls_parent_node_decode, slim_mls_parent_node_encode,
                   slim_buf_view(&b), cases[i].want);
        slim_buf_cleanup(&um);
        slim_buf_cleanup(&b);
    }
}

TEST(extension_lists_refuse_duplicates) {
    arena a = {0};
    uint16_t types[40];
    for (uint16_t n = 1; n <= 40; n++) {
        for (uint16_t i = 0; i < n; i++)
            types[i] = (uint16_t)(0x100 + i * 7);
        slim_mls_vec ok = ext_list(&a, types, n);
        CHECK_OK(slim_mls_extension_list_check(ok.body));
        /* The last one repeats the first (short lists) or one in the
         * middle (long ones, past the switch to the bit set). */
        if (n >= 2) {
            types[n - 1] = types[n / 3];
            slim_mls_vec dup = ext_list(&a, types, n);
            CHECK_STATUS(slim_mls_extension_list_check(dup.body), SLIM_E_MLS_DUPLICATE_EXTENSION);
            slim_buf *b = arena_buf(&a);
            slim_mls_tls_writer w;
            slim_mls_tls_writer_init(&w, b);
            slim_mls_extension_list_encode(&w, &dup);
            slim_mls_tls_reader r;
            slim_mls_tls_reader_init(&r, slim_buf_view(b));
            slim_mls_vec got;
            CHECK_STATUS(slim_mls_extension_list_decode(&r, &got), SLIM_E_MLS_DUPLICATE_EXTENSION);
        }
        arena_free(&a);
    }
    /* find, and the known bodies. */
    static const uint16_t some[] = {SLIM_MLS_EXT_APPLICATION_ID, SLIM_MLS_EXT_EXTERNAL_PUB};
    slim_mls_vec l = ext_list(&a, some, 2);
    slim_mls_extension e;
    bool found;
    CHECK_OK(slim_mls_extension_list_find(l.body, SLIM_MLS_EXT_EXTERNAL_PUB, &e, &found));
    CHECK(found && e.data.len == 1 && e.data.ptr[0] == SLIM_MLS_EXT_EXTERNAL_PUB);
    CHECK_OK(slim_mls_extension_list_find(l.body, SLIM_MLS_EXT_RATCHET_TREE, &e, &found));
    CHECK(!found);
    static const uint16_t req_ext[] = {0x0a0a}, req_prop[1] = {0}, req_cred[] = {1, 2};
    slim_mls_required_capabilities rc = {u16_list(&a, req_ext, 1), u16_list(&a, req_prop, 0),
                                         u16_list(&a, req_cred, 2)};
    slim_buf *b;
    ENCODE_INTO(&a, slim_mls_required_capabilities_encode, &rc, b);
    ROUND_TRIP(slim_mls_required_capabilities, slim_mls_required_capabilities_decode,
               slim_mls_required_capabilities_encode, slim_buf_view(b), SLIM_OK);
    CHECK(slim_mls_vec_has_u16(&rc.credential_types, 2));
    CHECK(!slim_mls_vec_has_u16(&rc.credential_types, 3));
    slim_buf *xp = arena_buf(&a);
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, xp);
    CHECK_OK(slim_mls_external_pub_encode(&w, slim_bytes_of(key32, 32)));
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, slim_buf_view(xp));
    slim_bytes pub;
    CHECK_OK(slim_mls_external_pub_decode(&r, &pub));
    CHECK_EQ(pub.len, 32);
    arena_free(&a);
}

/* The MLSMessage of each wire format, built from the samples. */
static slim_buf *sample_message(arena *a, uint16_t wire_format, uint8_t content_type) {
    slim_mls_message m;
    memset(&m, 0, sizeof m);
    m.version = SLIM_MLS_VERSION_MLS10;
    m.wire_format = wire_format;
    static const uint16_t ge[] = {1, 2, 0x0a0a};
    switch (wire_format) {
    case SLIM_MLS_WIRE_PUBLIC_MESSAGE: {
        slim_mls_public_message *pm = &m.u.public_message;
        pm->content.group_id = slim_bytes_of("group", 5);
        pm->content.epoch = 77;
        pm->content.sender.type = SLIM_MLS_SENDER_MEMBER;
        pm->content.sender.index = 3;
        pm->content.authenticated_data = slim_bytes_of("aad", 3);
        pm->content.content_type = content_type;
        if (content_type == SLIM_MLS_CONTENT_APPLICATION)
            pm->content.u.application_data = slim_bytes_of("hi", 2);
        else if (content_type == SLIM_MLS_CONTENT_PROPOSAL) {
            pm->content.u.proposal.type = SLIM_MLS_PROPOSAL_REMOVE;
            pm->content.u.proposal.u.remove = 1;
        } else
            pm->content.u.commit = sample_commit(a, true);
        pm->auth.signature = slim_bytes_of(sig64, 64);
        pm->auth.confirmation_tag = slim_bytes_of(key32, 32);
        pm->membership_tag = slim_bytes_of(key32, 32);
        break;
    }
    case SLIM_MLS_WIRE_PRIVATE_MESSAGE: {
        slim_mls_private_message *pm = &m.u.private_message;
        pm->group_id = slim_bytes_of("group", 5);
        pm->epoch = 1;
        pm->content_type = content_type;
        pm->authenticated_data = slim_bytes_of("aad", 3);
        pm->encrypted_sender_data = slim_bytes_of(sig64, 28);
        pm->ciphertext = slim_bytes_of(sig64, 64);
        break;
    }
    case SLIM_MLS_WIRE_WELCOME: {
        slim_buf *secrets = arena_buf(a);
        slim_mls_tls_writer w;
        slim_mls_tls_writer_init(&w, secrets);
        slim_mls_encrypted_group_secrets e = {slim_bytes_of(key32, 32),
                                              {slim_bytes_of(key32, 32), slim_bytes_of(sig64, 60)}};
        slim_mls_encrypted_group_secrets_encode(&w, &e);
        e.new_member = slim_bytes_of(key32 + 1, 31);
        slim_mls_encrypted_group_secrets_encode(&w, &e);
        m.u.welcome.cipher_suite = 2;
        m.u.welcome.secrets = (slim_mls_vec){slim_buf_view(secrets), 2};
        m.u.welcome.encrypted_group_info = slim_bytes_of(sig64, 64);
        break;
    }
    case SLIM_MLS_WIRE_GROUP_INFO: {
        slim_mls_group_info *gi = &m.u.group_info;
        gi->group_context.version = SLIM_MLS_VERSION_MLS10;
        gi->group_context.cipher_suite = 1;
        gi->group_context.group_id = slim_bytes_of("group", 5);
        gi->group_context.epoch = 4;
        gi->group_context.tree_hash = slim_bytes_of(key32, 32);
        gi->group_context.confirmed_transcript_hash = slim_bytes_of(key32, 32);
        gi->group_context.extensions = ext_list(a, ge, 3).body;
        gi->extensions = ext_list(a, ge, 2);
        gi->confirmation_tag = slim_bytes_of(key32, 32);
        gi->signer = 6;
        gi->signature = slim_bytes_of(sig64, 64);
        break;
    }
    case SLIM_MLS_WIRE_KEY_PACKAGE:
        m.u.key_package = sample_key_package(a);
        break;
    }
    slim_buf *b = arena_buf(a);
    CHECK_OK(slim_mls_message_encode(&m, b));
    return b;
}

static slim_status message_round_trip(slim_bytes in) {
    slim_mls_message m;
    slim_status st = slim_mls_message_decode(in, &m);
    if (st != SLIM_OK)
        return st;
    slim_buf o = SLIM_BUF_INIT;
    st = slim_mls_message_encode(&m, &o);
    if (st == SLIM_OK && (o.len != in.len || memcmp(o.data, in.ptr, in.len) != 0))
        st = SLIM_E_INTERNAL; /* decoded to something else */
    slim_buf_cleanup(&o);
    return st;
}

TEST(mls_messages_of_every_wire_format_round_trip) {
    arena a = {0};
    static const char *const names[] = {"",        "public",     "private",
                                        "welcome", "group-info", "key-package"};
    char name[64];
    for (uint16_t wf = 1; wf <= 5; wf++) {
        for (uint8_t ct = 1; ct <= (wf <= 2 ? 3 : 1); ct++) {
            slim_bytes m = slim_buf_view(sample_message(&a, wf, wf <= 2 ? ct : 0));
            CHECK_OK(message_round_trip(m));
            snprintf(name, sizeof name, "%s-%u", names[wf], ct);
            write_fuzz_seed("fuzz_mls_message", name, 0, m);
        }
    }

    /* Welcome lookup by KeyPackageRef. */
    slim_mls_message m;
    CHECK_OK(
        slim_mls_message_decode(slim_buf_view(sample_message(&a, SLIM_MLS_WIRE_WELCOME, 0)), &m));
    slim_mls_encrypted_group_secrets egs;
    bool found;
    CHECK_OK(
        slim_mls_welcome_find_secrets(&m.u.welcome, slim_bytes_of(key32 + 1, 31), &egs, &found));
    CHECK(found && egs.encrypted_group_secrets.ciphertext.len == 60);
    CHECK_OK(slim_mls_welcome_find_secrets(&m.u.welcome, slim_bytes_of(key32, 31), &egs, &found));
    CHECK(!found);

    /* GroupSecrets with and without a path secret and PSKs. */
    slim_buf *psks = arena_buf(&a);
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, psks);
    slim_mls_psk_id id = {.psktype = SLIM_MLS_PSK_EXTERNAL,
                          .psk_id = slim_bytes_of("id", 2),
                          .psk_nonce = slim_bytes_of(key32, 32)};
    slim_mls_psk_id_encode(&w, &id);
    for (int path = 0; path < 2; path++) {
        slim_mls_group_secrets gs = {
            slim_bytes_of(key32, 32), path, slim_bytes_of(key32, 32), {slim_buf_view(psks), 1}};
        slim_buf *b;
        ENCODE_INTO(&a, slim_mls_group_secrets_encode, &gs, b);
        write_fuzz_seed("fuzz_mls_message", path ? "group-secrets-path" : "group-secrets", 5,
                        slim_buf_view(b));
        ROUND_TRIP(slim_mls_group_secrets, slim_mls_group_secrets_decode,
                   slim_mls_group_secrets_encode, slim_buf_view(b), SLIM_OK);
    }
    arena_free(&a);
}

/* Sets byte `at` of a copy of `in` to v and decodes it as an MLSMessage. */
static slim_status patched(slim_bytes in, size_t at, uint8_t v) {
    slim_buf b = SLIM_BUF_INIT;
    CHECK_OK(slim_buf_append(&b, in.ptr, in.len));
    b.data[at] = v;
    slim_mls_message m;
    slim_status st = slim_mls_message_decode(slim_buf_view(&b), &m);
    slim_buf_cleanup(&b);
    return st;
}

TEST(forbidden_values_have_named_statuses) {
    arena a = {0};
    slim_bytes pub = slim_buf_view(sample_message(&a, SLIM_MLS_WIRE_PUBLIC_MESSAGE, 2));
    /* 00 01 | 00 01 | 05 "group" | epoch(8) | 01 sender member | 00000003 |
     * 03 "aad" | content type | proposal type (2) | ... */
    CHECK_STATUS(patched(pub, 1, 2), SLIM_E_MLS_BAD_VERSION);
    CHECK_STATUS(patched(pub, 3, 0), SLIM_E_MLS_UNKNOWN_WIRE_FORMAT);
    CHECK_STATUS(patched(pub, 3, 6), SLIM_E_MLS_UNKNOWN_WIRE_FORMAT);
    size_t sender = 4 + 6 + 8;
    CHECK_STATUS(patched(pub, sender, 0), SLIM_E_MLS_BAD_SENDER_TYPE);
    CHECK_STATUS(patched(pub, sender, 5), SLIM_E_MLS_BAD_SENDER_TYPE);
    size_t ctype = sender + 5 + 4;
    CHECK_STATUS(patched(pub, ctype, 0), SLIM_E_MLS_BAD_CONTENT_TYPE);
    CHECK_STATUS(patched(pub, ctype, 4), SLIM_E_MLS_BAD_CONTENT_TYPE);
    CHECK_STATUS(patched(pub, ctype + 2, 0), SLIM_E_MLS_UNKNOWN_PROPOSAL_TYPE);
    CHECK_STATUS(patched(pub, ctype + 2, 8), SLIM_E_MLS_UNKNOWN_PROPOSAL_TYPE);

    slim_bytes priv = slim_buf_view(sample_message(&a, SLIM_MLS_WIRE_PRIVATE_MESSAGE, 1));
    CHECK_STATUS(patched(priv, 4 + 6 + 8, 0), SLIM_E_MLS_BAD_CONTENT_TYPE);
    CHECK_STATUS(patched(priv, 4 + 6 + 8, 9), SLIM_E_MLS_BAD_CONTENT_TYPE);

    /* A trailing byte. */
    slim_buf b = SLIM_BUF_INIT;
    CHECK_OK(slim_buf_append(&b, priv.ptr, priv.len));
    CHECK_OK(slim_buf_append_u8(&b, 0));
    slim_mls_message m;
    CHECK_STATUS(slim_mls_message_decode(slim_buf_view(&b), &m), SLIM_E_MLS_TRAILING_BYTES);
    slim_buf_cleanup(&b);

    /* KeyPackage: version, and a leaf that is not a key_package leaf. */
    slim_bytes kp = slim_buf_view(sample_message(&a, SLIM_MLS_WIRE_KEY_PACKAGE, 0));
    CHECK_STATUS(patched(kp, 5, 2), SLIM_E_MLS_BAD_VERSION);
    slim_mls_key_package k = sample_key_package(&a);
    k.leaf_node = sample_leaf(&a, SLIM_MLS_LEAF_SOURCE_UPDATE);
    slim_buf *kb;
    ENCODE_INTO(&a, slim_mls_key_package_encode, &k, kb);
    ROUND_TRIP(slim_mls_key_package, slim_mls_key_package_decode, slim_mls_key_package_encode,
               slim_buf_view(kb), SLIM_E_MLS_WRONG_LEAF_NODE_SOURCE);
    /* GroupInfo: the GroupContext version. */
    slim_bytes gi = slim_buf_view(sample_message(&a, SLIM_MLS_WIRE_GROUP_INFO, 0));
    CHECK_STATUS(patched(gi, 5, 0), SLIM_E_MLS_BAD_VERSION);

    /* Update proposal with a key_package leaf; UpdatePath with an update
     * leaf; leaf sources 0 and 4. */
    slim_mls_proposal up = {.type = SLIM_MLS_PROPOSAL_UPDATE};
    up.u.update = sample_leaf(&a, SLIM_MLS_LEAF_SOURCE_KEY_PACKAGE);
    slim_buf *ub;
    ENCODE_INTO(&a, slim_mls_proposal_encode, &up, ub);
    ROUND_TRIP(slim_mls_proposal, slim_mls_proposal_decode, slim_mls_proposal_encode,
               slim_buf_view(ub), SLIM_E_MLS_WRONG_LEAF_NODE_SOURCE);
    slim_mls_update_path path = sample_path(&a);
    path.leaf_node.source = SLIM_MLS_LEAF_SOURCE_UPDATE;
    slim_buf *pb;
    ENCODE_INTO(&a, slim_mls_update_path_encode, &path, pb);
    ROUND_TRIP(slim_mls_update_path, slim_mls_update_path_decode, slim_mls_update_path_encode,
               slim_buf_view(pb), SLIM_E_MLS_WRONG_LEAF_NODE_SOURCE);
    slim_mls_leaf_node ln = sample_leaf(&a, SLIM_MLS_LEAF_SOURCE_UPDATE);
    slim_buf *lb;
    ENCODE_INTO(&a, slim_mls_leaf_node_encode, &ln, lb);
    /* The source byte sits before the (empty for update) select, the
     * extension list and the 64-byte signature (2-byte header): find it
     * from the end. */
    size_t src_at = lb->len - 1 - 66 - (1 + ln.extensions.body.len);
    CHECK_EQ(lb->data[src_at], SLIM_MLS_LEAF_SOURCE_UPDATE);
    lb->data[src_at] = 0;
    ROUND_TRIP(slim_mls_leaf_node, slim_mls_leaf_node_decode, slim_mls_leaf_node_encode,
               slim_buf_view(lb), SLIM_E_MLS_BAD_LEAF_NODE_SOURCE);
    lb->data[src_at] = 4;
    ROUND_TRIP(slim_mls_leaf_node, slim_mls_leaf_node_decode, slim_mls_leaf_node_encode,
               slim_buf_view(lb), SLIM_E_MLS_BAD_LEAF_NODE_SOURCE);
    slim_buf o = SLIM_BUF_INIT;
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, &o);
    ln.source = 9;
    CHECK_STATUS(slim_mls_leaf_node_encode(&w, &ln), SLIM_E_MLS_BAD_LEAF_NODE_SOURCE);
    slim_buf_cleanup(&o);

    /* ProposalOrRef types 0 and 3; ReInit version 0. */
    CHECK_OK(slim_buf_append(&o, "\x03\x20", 2));
    ROUND_TRIP(slim_mls_proposal_or_ref, slim_mls_proposal_or_ref_decode,
               slim_mls_proposal_or_ref_encode, slim_buf_view(&o), SLIM_E_MLS_BAD_PROPOSAL_OR_REF);
    o.data[0] = 0;
    ROUND_TRIP(slim_mls_proposal_or_ref, slim_mls_proposal_or_ref_decode,
               slim_mls_proposal_or_ref_encode, slim_buf_view(&o), SLIM_E_MLS_BAD_PROPOSAL_OR_REF);
    slim_buf_cleanup(&o);
    CHECK_OK(slim_buf_append(&o, "\x00\x05\x01\x67\x00\x00\x00\x01\x00", 9));
    ROUND_TRIP(slim_mls_proposal, slim_mls_proposal_decode, slim_mls_proposal_encode,
               slim_buf_view(&o), SLIM_E_MLS_BAD_VERSION);
    o.data[4] = 1;
    ROUND_TRIP(slim_mls_proposal, slim_mls_proposal_decode, slim_mls_proposal_encode,
               slim_buf_view(&o), SLIM_OK);
    slim_buf_cleanup(&o);

    /* Encoders refuse what decoders would. */
    slim_mls_message bad;
    memset(&bad, 0, sizeof bad);
    bad.version = 2;
    CHECK_STATUS(slim_mls_message_encode(&bad, &o), SLIM_E_MLS_BAD_VERSION);
    bad.version = 1;
    bad.wire_format = 9;
    CHECK_STATUS(slim_mls_message_encode(&bad, &o), SLIM_E_MLS_UNKNOWN_WIRE_FORMAT);
    bad.wire_format = SLIM_MLS_WIRE_PUBLIC_MESSAGE;
    bad.u.public_message.content.sender.type = 7;
    CHECK_STATUS(slim_mls_message_encode(&bad, &o), SLIM_E_MLS_BAD_SENDER_TYPE);
    bad.u.public_message.content.sender.type = 1;
    bad.u.public_message.content.content_type = 0;
    CHECK_STATUS(slim_mls_message_encode(&bad, &o), SLIM_E_MLS_BAD_CONTENT_TYPE);
    slim_buf_cleanup(&o);
    arena_free(&a);
}

TEST(private_content_padding_and_sender_data) {
    slim_mls_framed_content fc;
    memset(&fc, 0, sizeof fc);
    fc.content_type = SLIM_MLS_CONTENT_APPLICATION;
    fc.u.application_data = slim_bytes_of("payload", 7);
    slim_mls_auth_data auth = {slim_bytes_of(sig64, 64), slim_bytes_of(NULL, 0)};
    for (size_t pad = 0; pad < 40; pad += 13) {
        slim_buf b = SLIM_BUF_INIT;
        slim_mls_tls_writer w;
        slim_mls_tls_writer_init(&w, &b);
        CHECK_OK(slim_mls_private_content_encode(&w, &fc, &auth, pad));
        CHECK_EQ(b.len, 1 + 7 + 2 + 64 + pad); /* 64 needs a 2-byte header */
        slim_mls_framed_content got;
        memset(&got, 0, sizeof got);
        slim_mls_auth_data ga;
        CHECK_OK(slim_mls_private_content_decode(slim_buf_view(&b), 1, &got, &ga));
        CHECK_EQ(got.u.application_data.len, 7);
        CHECK_EQ(ga.signature.len, 64);
        if (pad > 0) {
            b.data[b.len - 1] = 1;
            CHECK_STATUS(slim_mls_private_content_decode(slim_buf_view(&b), 1, &got, &ga),
                         SLIM_E_MLS_BAD_PADDING);
        }
        slim_buf_cleanup(&b);
    }
    slim_mls_sender_data sd = {0x01020304, 0xa0b0c0d0, {9, 8, 7, 6}}, back;
    uint8_t enc[12];
    slim_mls_sender_data_encode(&sd, enc);
    CHECK_OK(slim_mls_sender_data_decode(slim_bytes_of(enc, 12), &back));
    CHECK_EQ(back.leaf_index, sd.leaf_index);
    CHECK_U64(back.generation, sd.generation);
    CHECK_MEM(back.reuse_guard, sd.reuse_guard, 4);
    CHECK_STATUS(slim_mls_sender_data_decode(slim_bytes_of(enc, 11), &back),
                 SLIM_E_MLS_BAD_SENDER_DATA);
}

TEST(authenticated_content_and_transcript_input) {
    arena a = {0};
    slim_mls_authenticated_content ac;
    memset(&ac, 0, sizeof ac);
    ac.wire_format = SLIM_MLS_WIRE_PUBLIC_MESSAGE;
    ac.content.group_id = slim_bytes_of("g", 1);
    ac.content.sender.type = SLIM_MLS_SENDER_NEW_MEMBER_COMMIT;
    ac.content.content_type = SLIM_MLS_CONTENT_COMMIT;
    ac.content.u.commit = sample_commit(&a, true);
    ac.auth.signature = slim_bytes_of(sig64, 64);
    ac.auth.confirmation_tag = slim_bytes_of(key32, 32);
    slim_buf *b;
    ENCODE_INTO(&a, slim_mls_authenticated_content_encode, &ac, b);
    write_fuzz_seed("fuzz_mls_message", "authenticated-content", 7, slim_buf_view(b));
    ROUND_TRIP(slim_mls_authenticated_content, slim_mls_authenticated_content_decode,
               slim_mls_authenticated_content_encode, slim_buf_view(b), SLIM_OK);
    /* ConfirmedTranscriptHashInput is AuthenticatedContent minus the tag. */
    slim_buf *in = arena_buf(&a);
    CHECK_OK(slim_mls_confirmed_transcript_input_encode(&ac, in));
    CHECK_EQ(in->len, b->len - 33);
    CHECK_MEM(in->data, b->data, in->len);
    ac.content.content_type = SLIM_MLS_CONTENT_PROPOSAL;
    CHECK_STATUS(slim_mls_confirmed_transcript_input_encode(&ac, in), SLIM_E_MLS_BAD_CONTENT_TYPE);
    /* Only framed wire formats. */
    b->data[1] = SLIM_MLS_WIRE_WELCOME;
    ROUND_TRIP(slim_mls_authenticated_content, slim_mls_authenticated_content_decode,
               slim_mls_authenticated_content_encode, slim_buf_view(b), SLIM_E_MLS_NOT_FRAMED);
    arena_free(&a);
}

/* ---- properties --------------------------------------------------------- */

TEST(decoding_allocates_nothing) {
    arena a = {0};
    slim_buf *msgs[5] = {
        sample_message(&a, SLIM_MLS_WIRE_PUBLIC_MESSAGE, SLIM_MLS_CONTENT_COMMIT),
        sample_message(&a, SLIM_MLS_WIRE_PRIVATE_MESSAGE, 1),
        sample_message(&a, SLIM_MLS_WIRE_WELCOME, 0),
        sample_message(&a, SLIM_MLS_WIRE_GROUP_INFO, 0),
        sample_message(&a, SLIM_MLS_WIRE_KEY_PACKAGE, 0),
    };
    slim_buf *tree = sample_tree(&a, false);
    test_alloc_install();
    test_alloc_fail_after(1); /* any allocation would fail */
    for (size_t i = 0; i < 5; i++) {
        slim_mls_message m;
        CHECK_OK(slim_mls_message_decode(slim_buf_view(msgs[i]), &m));
    }
    slim_mls_vec nodes;
    CHECK_OK(decode_tree(slim_buf_view(tree), &nodes));
    CHECK_EQ(test_alloc_live(), 0);
    test_alloc_fail_after(0);
    test_alloc_uninstall();
    arena_free(&a);
}

TEST(encoders_report_allocation_failure) {
    arena a = {0};
    slim_buf *ref = sample_message(&a, SLIM_MLS_WIRE_PUBLIC_MESSAGE, SLIM_MLS_CONTENT_COMMIT);
    slim_mls_message m;
    CHECK_OK(slim_mls_message_decode(slim_buf_view(ref), &m));
    test_alloc_install();
    bool done = false;
    for (long n = 1; n < 100 && !done; n++) {
        slim_buf o = SLIM_BUF_INIT;
        test_alloc_fail_after(n);
        slim_status st = slim_mls_message_encode(&m, &o);
        test_alloc_fail_after(0);
        CHECK(st == SLIM_OK || st == SLIM_E_NOMEM);
        done = st == SLIM_OK;
        if (done)
            CHECK_EQ(o.len, ref->len);
        slim_buf_cleanup(&o);
        CHECK_EQ(test_alloc_live(), 0);
    }
    CHECK(done);
    test_alloc_uninstall();
    arena_free(&a);
}

TEST(truncations_and_bit_flips_never_decode_to_something_else) {
    arena a = {0};
    slim_buf *msgs[6] = {
        sample_message(&a, SLIM_MLS_WIRE_PUBLIC_MESSAGE, SLIM_MLS_CONTENT_COMMIT),
        sample_message(&a, SLIM_MLS_WIRE_PUBLIC_MESSAGE, SLIM_MLS_CONTENT_PROPOSAL),
        sample_message(&a, SLIM_MLS_WIRE_PRIVATE_MESSAGE, 1),
        sample_message(&a, SLIM_MLS_WIRE_WELCOME, 0),
        sample_message(&a, SLIM_MLS_WIRE_GROUP_INFO, 0),
        sample_message(&a, SLIM_MLS_WIRE_KEY_PACKAGE, 0),
    };
    for (size_t i = 0; i < 6; i++) {
        slim_bytes in = slim_buf_view(msgs[i]);
        /* Every proper prefix fails. */
        for (size_t n = 0; n < in.len; n++) {
            slim_mls_message m;
            if (slim_mls_message_decode(slim_bytes_of(in.ptr, n), &m) == SLIM_OK)
                TEST_FAIL_AT("message %zu: a %zu-byte prefix decoded", i, n);
        }
        /* A flipped bit either fails or decodes to exactly the new bytes. */
        for (size_t at = 0; at < in.len; at++) {
            slim_buf b = SLIM_BUF_INIT;
            CHECK_OK(slim_buf_append(&b, in.ptr, in.len));
            b.data[at] ^= (uint8_t)(1u << (at % 8));
            slim_status st = message_round_trip(slim_buf_view(&b));
            if (st == SLIM_E_INTERNAL)
                TEST_FAIL_AT("message %zu: flip at %zu decoded to other bytes", i, at);
            slim_buf_cleanup(&b);
        }
    }
    arena_free(&a);
}

/* ---- signatures of the TBS structures ------------------------------------ */

TEST(leaf_node_key_package_and_group_info_signatures) {
    for (uint16_t id = 1; id <= 2; id++) {
        arena a = {0};
        const slim_mls_suite *s = slim_mls_suite_get(id);
        uint32_t state = id;
        slim_mls_rng rng = {counting_fill, &state};
        uint8_t sk[32], pk[65];
        CHECK_OK(slim_mls_signature_key_generate(s, &rng, sk, pk));
        slim_mls_sig_key *key = NULL;
        CHECK_OK(slim_mls_sig_key_new(s->sig, slim_bytes_of(sk, 32), true, &key));
        slim_bytes gid = slim_bytes_of("group", 5);

        /* LeafNode: group_id and leaf index are covered for update and
         * commit leaves, not for key_package leaves. */
        for (uint8_t src = 1; src <= 3; src++) {
            slim_mls_leaf_node ln = sample_leaf(&a, src);
            ln.signature_key = slim_bytes_of(pk, s->sig_npk);
            slim_buf *sig = arena_buf(&a);
            CHECK_OK(slim_mls_leaf_node_sign(s, &ln, gid, 5, key, sig));
            CHECK_OK(slim_mls_leaf_node_verify(s, &ln, gid, 5));
            slim_status other = slim_mls_leaf_node_verify(s, &ln, gid, 6);
            if (src == SLIM_MLS_LEAF_SOURCE_KEY_PACKAGE)
                CHECK_OK(other);
            else
                CHECK_STATUS(other, SLIM_E_MLS_BAD_SIGNATURE);
            ln.lifetime.not_after ^= 1;
            ln.parent_hash = slim_bytes_of(key32, 31);
            if (src != SLIM_MLS_LEAF_SOURCE_UPDATE)
                CHECK_STATUS(slim_mls_leaf_node_verify(s, &ln, gid, 5), SLIM_E_MLS_BAD_SIGNATURE);
        }

        /* KeyPackage, and its reference. */
        slim_mls_key_package kp = sample_key_package(&a);
        kp.cipher_suite = id;
        kp.leaf_node.signature_key = slim_bytes_of(pk, s->sig_npk);
        CHECK_OK(slim_mls_key_package_sign(s, &kp, key, arena_buf(&a)));
        CHECK_OK(slim_mls_key_package_verify(s, &kp));
        uint8_t ref[32], want[32];
        CHECK_OK(slim_mls_key_package_ref(s, &kp, ref));
        slim_buf *enc;
        ENCODE_INTO(&a, slim_mls_key_package_encode, &kp, enc);
        static const char label[] = "MLS 1.0 KeyPackage Reference";
        CHECK_OK(
            slim_mls_ref_hash(s, slim_bytes_of(label, sizeof label - 1), slim_buf_view(enc), want));
        CHECK_MEM(ref, want, 32);
        kp.init_key = slim_bytes_of(key32, 32);
        CHECK_STATUS(slim_mls_key_package_verify(s, &kp), SLIM_E_MLS_BAD_SIGNATURE);
        kp.cipher_suite = (uint16_t)(3 - id);
        CHECK_STATUS(slim_mls_key_package_verify(s, &kp), SLIM_E_MLS_SUITE_MISMATCH);

        /* GroupInfo. */
        slim_mls_message m;
        CHECK_OK(slim_mls_message_decode(
            slim_buf_view(sample_message(&a, SLIM_MLS_WIRE_GROUP_INFO, 0)), &m));
        slim_mls_group_info gi = m.u.group_info;
        gi.group_context.cipher_suite = id;
        CHECK_OK(slim_mls_group_info_sign(s, &gi, key, arena_buf(&a)));
        CHECK_OK(slim_mls_group_info_verify(s, &gi, slim_bytes_of(pk, s->sig_npk)));
        gi.signer++;
        CHECK_STATUS(slim_mls_group_info_verify(s, &gi, slim_bytes_of(pk, s->sig_npk)),
                     SLIM_E_MLS_BAD_SIGNATURE);
        CHECK_STATUS(slim_mls_group_info_verify(s, &gi, slim_bytes_of(pk, 3)), SLIM_E_MLS_BAD_KEY);
        slim_mls_sig_key_free(key);
        arena_free(&a);
    }
}

TEST_MAIN(TEST_ENTRY(leaf_nodes_key_packages_and_credentials_round_trip),
          TEST_ENTRY(commit_with_all_seven_proposal_types_round_trips),
          TEST_ENTRY(commit_path_rules), TEST_ENTRY(ratchet_tree_rules),
          TEST_ENTRY(parent_node_unmerged_leaves_sorted),
          TEST_ENTRY(extension_lists_refuse_duplicates),
          TEST_ENTRY(mls_messages_of_every_wire_format_round_trip),
          TEST_ENTRY(forbidden_values_have_named_statuses),
          TEST_ENTRY(private_content_padding_and_sender_data),
          TEST_ENTRY(authenticated_content_and_transcript_input),
          TEST_ENTRY(decoding_allocates_nothing), TEST_ENTRY(encoders_report_allocation_failure),
          TEST_ENTRY(truncations_and_bit_flips_never_decode_to_something_else),
          TEST_ENTRY(leaf_node_key_package_and_group_info_signatures))
