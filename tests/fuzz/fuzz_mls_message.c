/*
 * libFuzzer target: decoding of MLS structures (src/mls framing,
 * proposal, nodes, leaf_node, key_package, welcome).
 *
 * The first input byte picks what the rest is decoded as:
 *   0-3  an MLSMessage (any wire format; the main target)
 *   4    an `optional<Node> ratchet_tree<V>`
 *   5    a GroupSecrets
 *   6    a Commit
 *   7    an AuthenticatedContent
 *   8-15 a Proposal body of type (byte - 7): add .. group_context_extensions
 * Invariants, each an abort when broken:
 *   - decoding allocates nothing (counted through slim_set_allocator);
 *   - what decodes re-encodes to exactly the input (canonical codec);
 *   - every list of a decoded value can be walked to its end, and holds
 *     the number of elements the decoder counted.
 */
#include "mls/framing.h"
#include "slim/alloc.h"

#include <stdlib.h>
#include <string.h>

static long allocations;

static void *count_malloc(size_t n, void *ud) {
    (void)ud;
    allocations++;
    return malloc(n);
}
static void *count_realloc(void *p, size_t n, void *ud) {
    (void)ud;
    allocations++;
    return realloc(p, n);
}
static void count_free(void *p, void *ud) {
    (void)ud;
    free(p);
}

static void check(bool ok) {
    if (!ok)
        abort();
}

/* Walks a list of uint16 / uint32 values. */
static void walk_ints(const slim_mls_vec *v, size_t size) {
    check(v->body.len == (size_t)v->count * size);
}

static void walk_extensions(const slim_mls_vec *v) {
    slim_mls_tls_reader it;
    slim_mls_tls_reader_init(&it, v->body);
    uint32_t n = 0;
    slim_mls_extension e;
    bool more = true;
    while (more) {
        check(slim_mls_extensions_next(&it, &e, &more) == SLIM_OK);
        n += more;
    }
    check(n == v->count);
}

static void walk_leaf(const slim_mls_leaf_node *ln) {
    walk_ints(&ln->capabilities.versions, 2);
    walk_ints(&ln->capabilities.cipher_suites, 2);
    walk_ints(&ln->capabilities.extensions, 2);
    walk_ints(&ln->capabilities.proposals, 2);
    walk_ints(&ln->capabilities.credentials, 2);
    walk_extensions(&ln->extensions);
    if (ln->credential.type == SLIM_MLS_CREDENTIAL_X509) {
        slim_mls_tls_reader it;
        slim_mls_tls_reader_init(&it, ln->credential.body);
        slim_bytes cert;
        bool more = true;
        while (more)
            check(slim_mls_certificate_next(&it, &cert, &more) == SLIM_OK);
    }
}

static void walk_update_path(const slim_mls_update_path *p) {
    walk_leaf(&p->leaf_node);
    slim_mls_tls_reader it;
    slim_mls_tls_reader_init(&it, p->nodes.body);
    uint32_t n = 0;
    while (slim_mls_tls_reader_more(&it)) {
        slim_mls_update_path_node node;
        check(slim_mls_update_path_node_decode(&it, &node) == SLIM_OK);
        n++;
    }
    check(n == p->nodes.count);
}

static void walk_proposal(const slim_mls_proposal *p) {
    switch (p->type) {
    case SLIM_MLS_PROPOSAL_ADD:
        walk_leaf(&p->u.add.leaf_node);
        walk_extensions(&p->u.add.extensions);
        break;
    case SLIM_MLS_PROPOSAL_UPDATE:
        walk_leaf(&p->u.update);
        break;
    case SLIM_MLS_PROPOSAL_REINIT:
        walk_extensions(&p->u.reinit.extensions);
        break;
    case SLIM_MLS_PROPOSAL_GROUP_CONTEXT_EXTENSIONS:
        walk_extensions(&p->u.group_context_extensions);
        break;
    }
}

static void walk_commit(const slim_mls_commit *c) {
    slim_mls_tls_reader it;
    slim_mls_tls_reader_init(&it, c->proposals.body);
    uint32_t n = 0;
    while (slim_mls_tls_reader_more(&it)) {
        slim_mls_proposal_or_ref p;
        check(slim_mls_proposal_or_ref_decode(&it, &p) == SLIM_OK);
        if (p.type == SLIM_MLS_PROPOSAL_OR_REF_PROPOSAL)
            walk_proposal(&p.proposal);
        n++;
    }
    check(n == c->proposals.count);
    if (c->has_path)
        walk_update_path(&c->path);
}

static void walk_content(const slim_mls_framed_content *fc) {
    if (fc->content_type == SLIM_MLS_CONTENT_PROPOSAL)
        walk_proposal(&fc->u.proposal);
    else if (fc->content_type == SLIM_MLS_CONTENT_COMMIT)
        walk_commit(&fc->u.commit);
}

static void walk_tree(const slim_mls_vec *nodes) {
    slim_mls_tls_reader it;
    slim_mls_tls_reader_init(&it, nodes->body);
    uint32_t n = 0;
    bool more = true, present = false, last = false;
    while (more) {
        slim_mls_node node;
        check(slim_mls_ratchet_tree_next(&it, &present, &node, &more) == SLIM_OK);
        if (!more)
            break;
        if (present) {
            /* Leaves at even node indices, parents at odd ones. */
            check(node.type == (n % 2 == 0 ? SLIM_MLS_NODE_LEAF : SLIM_MLS_NODE_PARENT));
            if (node.type == SLIM_MLS_NODE_LEAF)
                walk_leaf(&node.u.leaf);
            else
                walk_ints(&node.u.parent.unmerged_leaves, 4);
        }
        last = present;
        n++;
    }
    check(n == nodes->count && last); /* the last node is not blank */
}

static void walk_message(const slim_mls_message *m) {
    switch (m->wire_format) {
    case SLIM_MLS_WIRE_PUBLIC_MESSAGE:
        walk_content(&m->u.public_message.content);
        break;
    case SLIM_MLS_WIRE_WELCOME: {
        slim_mls_tls_reader it;
        slim_mls_tls_reader_init(&it, m->u.welcome.secrets.body);
        uint32_t n = 0;
        while (slim_mls_tls_reader_more(&it)) {
            slim_mls_encrypted_group_secrets e;
            check(slim_mls_encrypted_group_secrets_decode(&it, &e) == SLIM_OK);
            n++;
        }
        check(n == m->u.welcome.secrets.count);
        break;
    }
    case SLIM_MLS_WIRE_GROUP_INFO:
        walk_extensions(&m->u.group_info.extensions);
        break;
    case SLIM_MLS_WIRE_KEY_PACKAGE:
        walk_leaf(&m->u.key_package.leaf_node);
        walk_extensions(&m->u.key_package.extensions);
        break;
    }
}

static void same_or_abort(slim_bytes in, const slim_buf *out) {
    check(out->len == in.len && (in.len == 0 || memcmp(out->data, in.ptr, in.len) == 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const slim_allocator counting = {count_malloc, count_realloc, count_free, NULL};
    slim_set_allocator(&counting);
    if (size == 0)
        return 0;
    uint8_t kind = data[0] % 16;
    slim_bytes in = slim_bytes_of(data + 1, size - 1);
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, in);
    union {
        slim_mls_message m;
        slim_mls_vec nodes;
        slim_mls_group_secrets gs;
        slim_mls_commit c;
        slim_mls_authenticated_content ac;
        slim_mls_proposal p;
    } v;

    long before = allocations;
    slim_status st;
    if (kind < 4) {
        st = slim_mls_message_decode(in, &v.m);
    } else {
        switch (kind) {
        case 4:
            slim_mls_ratchet_tree_decode(&r, &v.nodes);
            break;
        case 5:
            slim_mls_group_secrets_decode(&r, &v.gs);
            break;
        case 6:
            slim_mls_commit_decode(&r, &v.c);
            break;
        case 7:
            slim_mls_authenticated_content_decode(&r, &v.ac);
            break;
        default:
            slim_mls_proposal_body_decode(&r, (uint16_t)(kind - 7), &v.p);
        }
        st = slim_mls_tls_reader_finish(&r);
    }
    check(allocations == before); /* decoding allocates nothing */
    if (st != SLIM_OK)
        return 0;

    slim_buf out = SLIM_BUF_INIT;
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, &out);
    switch (kind) {
    case 0:
    case 1:
    case 2:
    case 3:
        walk_message(&v.m);
        check(slim_mls_message_encode(&v.m, &out) == SLIM_OK);
        break;
    case 4:
        walk_tree(&v.nodes);
        slim_mls_ratchet_tree_encode(&w, &v.nodes);
        break;
    case 5:
        slim_mls_group_secrets_encode(&w, &v.gs);
        break;
    case 6:
        walk_commit(&v.c);
        slim_mls_commit_encode(&w, &v.c);
        break;
    case 7:
        walk_content(&v.ac.content);
        slim_mls_authenticated_content_encode(&w, &v.ac);
        break;
    default:
        walk_proposal(&v.p);
        slim_mls_proposal_body_encode(&w, &v.p);
    }
    check(slim_mls_tls_writer_status(&w) == SLIM_OK);
    same_or_abort(in, &out);
    slim_buf_cleanup(&out);
    return 0;
}
