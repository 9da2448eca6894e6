/*
 * libFuzzer target: processing proposals and commits (slim_mls_group_receive)
 * as the member R of the fixed group of mls_group_fuzz.h, its state made
 * fresh for each input by joining from the fixture's Welcome.
 *
 * Byte 0: bit 0 picks cipher suite 1 or 2; bit 1 the mode:
 *   0  the rest is a sequence of whole messages, each [uint16 length]
 *      [MLSMessage], read by R in order (proposals, then a commit; a
 *      commit that goes through gives R's next state for what follows);
 *   1  the rest is [flags][a ProposalOrRef list body]: a Commit from B
 *      with that list (with the fixture's UpdatePath when flags bit 0 is
 *      set), signed with B's key and MACed with the epoch's membership
 *      key (a PublicMessage), read by R after the fixture's three genuine
 *      proposals (unless flags bit 1 is set): the fuzzer works on the
 *      proposal list itself (resolution by reference, the rules of RFC
 *      9420 §12.2, each proposal's checks, their application, the path).
 *      Its confirmation tag cannot be right, so it is refused at the
 *      latest there.
 * Invariants, each an abort when broken: a refused message leaves R's
 * epoch, epoch authenticator and kept proposals as they were; a proposal
 * read adds at most one kept proposal; a commit read gives a state one
 * epoch on whose tree hashes to its GroupContext's tree hash and whose
 * private keys match its tree, or says R was removed.
 */
#include "core/util.h"

#include <stdlib.h>

#define GF_CHECK_OK(expr)                                                                          \
    do {                                                                                           \
        if ((expr) != SLIM_OK)                                                                     \
            abort();                                                                               \
    } while (0)

#include "mls_group_fuzz.h"

static void check(bool ok) {
    if (!ok)
        abort();
}

/* R reads one message; checks the invariants. Returns false when R's
 * state is gone (removed). */
static bool read_one(gfuzz *f, slim_mls_group **r_state, slim_bytes msg) {
    slim_mls_group *g = *r_state;
    uint64_t epoch = slim_mls_group_epoch(g);
    uint8_t ea[SLIM_MLS_MAX_HASH];
    slim_bytes cur = slim_mls_group_epoch_authenticator(g);
    memcpy(ea, cur.ptr, cur.len);
    size_t n_props = g->n_props;
    slim_mls_received r;
    slim_status st = slim_mls_group_receive(g, msg, &f->w.env, &r);
    if (st != SLIM_OK) {
        check(slim_mls_group_epoch(g) == epoch && g->n_props == n_props);
        check(memcmp(slim_mls_group_epoch_authenticator(g).ptr, ea, cur.len) == 0);
        return true;
    }
    bool alive = true;
    if (r.content_type == SLIM_MLS_CONTENT_PROPOSAL) {
        check(g->n_props <= n_props + 1);
    } else if (r.content_type == SLIM_MLS_CONTENT_COMMIT) {
        check(g->n_props == n_props && slim_mls_group_epoch(g) == epoch);
        if (r.removed) {
            check(r.group == NULL);
            alive = false;
        } else {
            slim_mls_group *ng = r.group;
            check(ng != NULL && slim_mls_group_epoch(ng) == epoch + 1);
            uint8_t th[SLIM_MLS_MAX_HASH];
            check(slim_mls_tree_hash(ng->tree, th) == SLIM_OK);
            check(gf_same(slim_bytes_of(th, f->w.s->nh), ng->gc.tree_hash));
            check(slim_mls_tree_priv_check(&ng->priv, ng->tree) == SLIM_OK);
            slim_mls_group_free(g);
            *r_state = ng;
            r.group = NULL;
        }
    }
    slim_mls_received_cleanup(&r);
    return alive;
}

/* B's commit of `list` (signed, MACed, a PublicMessage). */
static void forge_commit(gfuzz *f, slim_bytes list, bool with_path, slim_buf *out) {
    const slim_mls_group *b = f->w.m[FZ_B].g;
    slim_mls_framed_content fc;
    memset(&fc, 0, sizeof fc);
    fc.group_id = slim_mls_group_id(b);
    fc.epoch = slim_mls_group_epoch(b);
    fc.sender.type = SLIM_MLS_SENDER_MEMBER;
    fc.sender.index = slim_mls_group_own_leaf(b);
    fc.content_type = SLIM_MLS_CONTENT_COMMIT;
    fc.u.commit.proposals.body = list;
    if (with_path) {
        slim_mls_tls_reader r;
        slim_mls_tls_reader_init(&r, slim_buf_view(&f->path));
        slim_mls_update_path_decode(&r, &fc.u.commit.path);
        check(slim_mls_tls_reader_finish(&r) == SLIM_OK);
        fc.u.commit.has_path = true;
    }
    uint8_t tag[SLIM_MLS_MAX_HASH];
    memset(tag, 0x5a, sizeof tag);
    slim_buf sig = SLIM_BUF_INIT;
    check(slim_mls__content_sign(b, SLIM_MLS_WIRE_PUBLIC_MESSAGE, &fc, &sig) == SLIM_OK);
    slim_mls_authenticated_content ac = {
        SLIM_MLS_WIRE_PUBLIC_MESSAGE, fc, {slim_buf_view(&sig), slim_bytes_of(tag, f->w.s->nh)}};
    /* A list that does not encode cannot be sent at all. */
    if (slim_mls__content_protect(b, &ac, &f->w.env, out) != SLIM_OK)
        out->len = 0;
    slim_buf_cleanup(&sig);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static gfuzz fixtures[2];
    static bool ready;
    if (!ready) {
        gfuzz_init(&fixtures[0], 1);
        gfuzz_init(&fixtures[1], 2);
        ready = true;
    }
    if (size < 1)
        return 0;
    gfuzz *f = &fixtures[data[0] & 1];
    slim_mls_group *r = NULL;
    check(gfuzz_join_r(f, slim_buf_view(&f->welcome), slim_bytes_of(NULL, 0), &r) == SLIM_OK);
    if ((data[0] & 2) == 0) {
        size_t at = 1;
        bool alive = true;
        while (alive && at + 2 <= size) {
            size_t len = (size_t)data[at] << 8 | data[at + 1];
            at += 2;
            if (len > size - at)
                len = size - at;
            alive = read_one(f, &r, slim_bytes_of(data + at, len));
            at += len;
        }
    } else if (size >= 2) {
        bool with_path = data[1] & 1, genuine = (data[1] & 2) == 0;
        for (size_t i = 0; genuine && i < FZ_PROPOSALS; i++)
            check(read_one(f, &r, slim_buf_view(&f->proposals[i])));
        slim_buf msg = SLIM_BUF_INIT;
        forge_commit(f, slim_bytes_of(data + 2, size - 2), with_path, &msg);
        if (msg.len > 0)
            read_one(f, &r, slim_buf_view(&msg));
        slim_buf_cleanup(&msg);
    }
    slim_mls_group_free(r);
    return 0;
}
