/*
 * Secret tree storage: one optional Nh-byte secret per tree node (only the
 * root at first), and per leaf, once derived, its two ratchets. A ratchet
 * holds its current secret, the next generation, and the keys it keeps for
 * generations below that: an array sorted by generation, at most
 * SLIM_MLS_RATCHET_MAX_KEPT long, grown on demand.
 */
#include "mls/secret_tree.h"
#include "core/alloc.h"
#include "core/util.h"
#include "mls/tree_math.h"

#include <string.h>

typedef struct kept_key {
    uint32_t generation;
    uint8_t key[SLIM_MLS_MAX_AEAD_KEY];
    uint8_t nonce[SLIM_MLS_MAX_AEAD_NONCE];
} kept_key;

typedef struct ratchet {
    uint64_t next_gen; /* 2^32 when exhausted */
    uint8_t secret[SLIM_MLS_MAX_HASH];
    kept_key *kept; /* sorted by generation */
    size_t n_kept, cap_kept;
} ratchet;

typedef struct leaf_state {
    ratchet r[2]; /* indexed by slim_mls_ratchet_type */
} leaf_state;

struct slim_mls_secret_tree {
    const slim_mls_suite *suite;
    slim_mls_prepared *prep; /* HMAC and AEAD set up once for the epoch */
    uint32_t n_leaves;
    uint8_t **nodes;     /* width entries: a node secret or NULL */
    leaf_state **leaves; /* n_leaves entries: NULL until derived */
};

void slim_mls_ratchet_key_cleanup(slim_mls_ratchet_key *k) {
    slim_memzero(k, sizeof *k);
}

static void free_secret(uint8_t **p, size_t n) {
    if (*p != NULL) {
        slim_memzero(*p, n);
        slim_free(*p);
        *p = NULL;
    }
}

static void ratchet_cleanup(ratchet *r) {
    if (r->kept != NULL) {
        slim_memzero(r->kept, r->cap_kept * sizeof *r->kept);
        slim_free(r->kept);
    }
    slim_memzero(r, sizeof *r);
}

/* An empty tree of n_leaves leaves: no node secret, no leaf derived. */
static slim_status tree_alloc(const slim_mls_suite *suite, uint32_t n_leaves,
                              slim_mls_secret_tree **out) {
    slim_status st = slim_mls_tree_check_size(n_leaves);
    if (st != SLIM_OK)
        return st;
    slim_mls_secret_tree *t = slim_calloc(1, sizeof *t);
    if (t == NULL)
        return SLIM_E_NOMEM;
    t->suite = suite;
    t->n_leaves = n_leaves;
    t->nodes = slim_calloc(slim_mls_tree_width(n_leaves), sizeof *t->nodes);
    t->leaves = slim_calloc(n_leaves, sizeof *t->leaves);
    st = t->nodes != NULL && t->leaves != NULL ? SLIM_OK : SLIM_E_NOMEM;
    if (st == SLIM_OK)
        st = slim_mls_suite_prepare(suite, &t->prep);
    if (st != SLIM_OK) {
        slim_mls_secret_tree_free(t);
        return st;
    }
    *out = t;
    return SLIM_OK;
}

slim_status slim_mls_secret_tree_new(const slim_mls_suite *suite, slim_bytes encryption_secret,
                                     uint32_t n_leaves, slim_mls_secret_tree **out) {
    slim_status st = slim_mls_tree_check_size(n_leaves);
    if (st != SLIM_OK)
        return st;
    if (suite == NULL || encryption_secret.len != suite->nh)
        return SLIM_E_INVALID_ARG;
    slim_mls_secret_tree *t;
    st = tree_alloc(suite, n_leaves, &t);
    if (st != SLIM_OK)
        return st;
    uint32_t root;
    slim_mls_tree_root(n_leaves, &root);
    t->nodes[root] = slim_malloc(suite->nh);
    if (t->nodes[root] == NULL) {
        slim_mls_secret_tree_free(t);
        return SLIM_E_NOMEM;
    }
    memcpy(t->nodes[root], encryption_secret.ptr, suite->nh);
    *out = t;
    return SLIM_OK;
}

void slim_mls_secret_tree_free(slim_mls_secret_tree *t) {
    if (t == NULL)
        return;
    if (t->nodes != NULL) {
        uint32_t w = slim_mls_tree_width(t->n_leaves);
        for (uint32_t i = 0; i < w; i++)
            free_secret(&t->nodes[i], t->suite->nh);
        slim_free(t->nodes);
    }
    if (t->leaves != NULL) {
        for (uint32_t i = 0; i < t->n_leaves; i++) {
            if (t->leaves[i] != NULL) {
                ratchet_cleanup(&t->leaves[i]->r[0]);
                ratchet_cleanup(&t->leaves[i]->r[1]);
                slim_free(t->leaves[i]);
            }
        }
        slim_free(t->leaves);
    }
    slim_mls_prepared_free(t->prep);
    slim_free(t);
}

uint32_t slim_mls_secret_tree_leaves(const slim_mls_secret_tree *t) {
    return t->n_leaves;
}

const slim_mls_prepared *slim_mls_secret_tree_prepared(const slim_mls_secret_tree *t) {
    return t->prep;
}

/* tree_node_[N]_secret -> ExpandWithLabel(., "tree", "left"/"right", Nh)
 * for both children of `node`; then the parent secret is deleted. */
static slim_status split_node(slim_mls_secret_tree *t, uint32_t node) {
    const slim_mls_suite *s = t->suite;
    uint32_t l, r;
    slim_mls_tree_left(node, t->n_leaves, &l);
    slim_mls_tree_right(node, t->n_leaves, &r);
    uint8_t *ls = slim_malloc(s->nh);
    uint8_t *rs = slim_malloc(s->nh);
    slim_status st = ls != NULL && rs != NULL ? SLIM_OK : SLIM_E_NOMEM;
    slim_bytes parent = slim_bytes_of(t->nodes[node], s->nh);
    if (st == SLIM_OK)
        st = slim_mls_expand_with_label_prepared(s, t->prep, parent, "tree",
                                                 slim_bytes_of("left", 4), ls, s->nh);
    if (st == SLIM_OK)
        st = slim_mls_expand_with_label_prepared(s, t->prep, parent, "tree",
                                                 slim_bytes_of("right", 5), rs, s->nh);
    if (st != SLIM_OK) {
        free_secret(&ls, s->nh);
        free_secret(&rs, s->nh);
        return st;
    }
    t->nodes[l] = ls;
    t->nodes[r] = rs;
    free_secret(&t->nodes[node], s->nh);
    return SLIM_OK;
}

/* Makes sure leaf `leaf` has its ratchets (§9, §9.2). */
static slim_status derive_leaf(slim_mls_secret_tree *t, uint32_t leaf) {
    if (t->leaves[leaf] != NULL)
        return SLIM_OK;
    const slim_mls_suite *s = t->suite;
    uint32_t target = slim_mls_tree_leaf_node(leaf);
    /* The lowest node on the leaf's path that still holds a secret. */
    uint32_t path[SLIM_MLS_TREE_MAX_DEPTH];
    size_t n = 0;
    slim_mls_tree_direct_path(target, t->n_leaves, path, &n);
    uint32_t at = target;
    size_t i = 0;
    while (t->nodes[at] == NULL) {
        if (i == n)
            return SLIM_E_INTERNAL; /* cannot happen: the leaf was not derived */
        at = path[i++];
    }
    while (at != target) {
        slim_status st = split_node(t, at);
        if (st != SLIM_OK)
            return st;
        at = i >= 2 ? path[i - 2] : target;
        i--;
    }
    leaf_state *ls = slim_calloc(1, sizeof *ls);
    if (ls == NULL)
        return SLIM_E_NOMEM;
    slim_bytes secret = slim_bytes_of(t->nodes[target], s->nh);
    slim_status st =
        slim_mls_expand_with_label_prepared(s, t->prep, secret, "handshake", slim_bytes_of(NULL, 0),
                                            ls->r[SLIM_MLS_RATCHET_HANDSHAKE].secret, s->nh);
    if (st == SLIM_OK)
        st = slim_mls_expand_with_label_prepared(s, t->prep, secret, "application",
                                                 slim_bytes_of(NULL, 0),
                                                 ls->r[SLIM_MLS_RATCHET_APPLICATION].secret, s->nh);
    if (st != SLIM_OK) {
        slim_memzero(ls, sizeof *ls);
        slim_free(ls);
        return st;
    }
    t->leaves[leaf] = ls;
    free_secret(&t->nodes[target], s->nh);
    return SLIM_OK;
}

static slim_status ratchet_of(slim_mls_secret_tree *t, uint32_t leaf, slim_mls_ratchet_type type,
                              ratchet **out) {
    if (leaf >= t->n_leaves)
        return SLIM_E_MLS_TREE_INDEX;
    if (type != SLIM_MLS_RATCHET_HANDSHAKE && type != SLIM_MLS_RATCHET_APPLICATION)
        return SLIM_E_INVALID_ARG;
    slim_status st = derive_leaf(t, leaf);
    if (st == SLIM_OK)
        *out = &t->leaves[leaf]->r[type];
    return st;
}

/* key/nonce of generation j = next_gen, then secret_[j+1]; the old secret
 * is overwritten (deleted). */
static slim_status ratchet_step(const slim_mls_suite *s, const slim_mls_prepared *p, ratchet *r,
                                uint8_t *key, uint8_t *nonce) {
    if (r->next_gen > UINT32_MAX)
        return SLIM_E_MLS_GENERATION_EXHAUSTED;
    uint32_t j = (uint32_t)r->next_gen;
    slim_bytes secret = slim_bytes_of(r->secret, s->nh);
    uint8_t next[SLIM_MLS_MAX_HASH];
    /* DeriveTreeSecret(secret, label, j, len) for the three labels: one
     * ExpandWithLabel context, uint32(j), so one HMAC key set-up. */
    uint8_t ctx[4] = {(uint8_t)(j >> 24), (uint8_t)(j >> 16), (uint8_t)(j >> 8), (uint8_t)j};
    static const char *const labels[3] = {"key", "nonce", "secret"};
    uint8_t *const outs[3] = {key, nonce, next};
    const size_t lens[3] = {s->nk, s->nn, s->nh};
    slim_status st =
        slim_mls_expand_labels_prepared(s, p, secret, slim_bytes_of(ctx, 4), 3, labels, outs, lens);
    if (st == SLIM_OK) {
        memcpy(r->secret, next, s->nh);
        r->next_gen++;
    } else {
        slim_memzero(key, s->nk);
        slim_memzero(nonce, s->nn);
    }
    slim_memzero(next, sizeof next);
    return st;
}

static void fill_out(const slim_mls_suite *s, uint32_t gen, const uint8_t *key,
                     const uint8_t *nonce, slim_mls_ratchet_key *out) {
    memset(out, 0, sizeof *out);
    out->generation = gen;
    out->key_len = s->nk;
    out->nonce_len = s->nn;
    memcpy(out->key, key, s->nk);
    memcpy(out->nonce, nonce, s->nn);
}

slim_status slim_mls_secret_tree_next(slim_mls_secret_tree *t, uint32_t leaf,
                                      slim_mls_ratchet_type type, slim_mls_ratchet_key *out) {
    ratchet *r;
    slim_status st = ratchet_of(t, leaf, type, &r);
    if (st != SLIM_OK)
        return st;
    uint32_t gen = (uint32_t)r->next_gen;
    kept_key k;
    st = ratchet_step(t->suite, t->prep, r, k.key, k.nonce);
    if (st == SLIM_OK)
        fill_out(t->suite, gen, k.key, k.nonce, out);
    slim_memzero(&k, sizeof k);
    return st;
}

/* Index of the kept key of `gen`, or -1 (binary search). */
static long find_kept(const ratchet *r, uint32_t gen) {
    size_t lo = 0, hi = r->n_kept;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->kept[mid].generation == gen)
            return (long)mid;
        if (r->kept[mid].generation < gen)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* Removes kept[i .. i+n) after wiping them. */
static void drop_kept(ratchet *r, size_t i, size_t n) {
    slim_memzero(&r->kept[i], n * sizeof *r->kept);
    memmove(&r->kept[i], &r->kept[i + n], (r->n_kept - i - n) * sizeof *r->kept);
    r->n_kept -= n;
    slim_memzero(&r->kept[r->n_kept], n * sizeof *r->kept);
}

/* Grows the kept array to hold `want` entries (<= MAX_KEPT). A moved array
 * is copied and the old one wiped, never realloc'ed (realloc would leave
 * key bytes behind in freed memory). */
static slim_status reserve_kept(ratchet *r, size_t want) {
    if (want <= r->cap_kept)
        return SLIM_OK;
    size_t cap = r->cap_kept ? r->cap_kept : 8;
    while (cap < want)
        cap *= 2;
    if (cap > SLIM_MLS_RATCHET_MAX_KEPT)
        cap = SLIM_MLS_RATCHET_MAX_KEPT;
    kept_key *p = slim_calloc(cap, sizeof *p);
    if (p == NULL)
        return SLIM_E_NOMEM;
    if (r->kept != NULL) {
        memcpy(p, r->kept, r->n_kept * sizeof *p);
        slim_memzero(r->kept, r->cap_kept * sizeof *p);
        slim_free(r->kept);
    }
    r->kept = p;
    r->cap_kept = cap;
    return SLIM_OK;
}

slim_status slim_mls_secret_tree_get(slim_mls_secret_tree *t, uint32_t leaf,
                                     slim_mls_ratchet_type type, uint32_t generation,
                                     slim_mls_ratchet_key *out) {
    ratchet *r;
    slim_status st = ratchet_of(t, leaf, type, &r);
    if (st != SLIM_OK)
        return st;
    const slim_mls_suite *s = t->suite;
    if (generation < r->next_gen) {
        long i = find_kept(r, generation);
        if (i < 0)
            return SLIM_E_MLS_GENERATION_REUSED;
        fill_out(s, generation, r->kept[i].key, r->kept[i].nonce, out);
        return SLIM_OK;
    }
    uint64_t jump = generation - r->next_gen;
    if (jump > SLIM_MLS_RATCHET_MAX_JUMP)
        return SLIM_E_MLS_GENERATION_TOO_FAR;
    /* Keys for next_gen .. generation are all kept; when that exceeds the
     * limit, the oldest go first (existing ones, then the earliest new). */
    size_t adding = (size_t)jump + 1;
    size_t total = r->n_kept + adding;
    st = reserve_kept(r, total < SLIM_MLS_RATCHET_MAX_KEPT ? total : SLIM_MLS_RATCHET_MAX_KEPT);
    if (st != SLIM_OK)
        return st;
    size_t skip_new = 0;
    if (total > SLIM_MLS_RATCHET_MAX_KEPT) {
        size_t drop = total - SLIM_MLS_RATCHET_MAX_KEPT;
        if (drop >= r->n_kept) {
            skip_new = drop - r->n_kept;
            drop = r->n_kept;
        }
        drop_kept(r, 0, drop);
    }
    for (size_t i = 0; i < adding; i++) {
        kept_key k;
        k.generation = (uint32_t)r->next_gen;
        st = ratchet_step(s, t->prep, r, k.key, k.nonce);
        if (st == SLIM_OK && i >= skip_new)
            r->kept[r->n_kept++] = k;
        slim_memzero(&k, sizeof k);
        if (st != SLIM_OK)
            return st;
    }
    const kept_key *last = &r->kept[r->n_kept - 1];
    fill_out(s, last->generation, last->key, last->nonce, out);
    return SLIM_OK;
}

slim_status slim_mls_secret_tree_erase(slim_mls_secret_tree *t, uint32_t leaf,
                                       slim_mls_ratchet_type type, uint32_t generation) {
    ratchet *r;
    slim_status st = ratchet_of(t, leaf, type, &r);
    if (st != SLIM_OK)
        return st;
    long i = find_kept(r, generation);
    if (i < 0)
        return SLIM_E_MLS_GENERATION_REUSED;
    drop_kept(r, (size_t)i, 1);
    return SLIM_OK;
}

slim_status slim_mls_secret_tree_take(slim_mls_secret_tree *t, uint32_t leaf,
                                      slim_mls_ratchet_type type, uint32_t generation,
                                      slim_mls_ratchet_key *out) {
    slim_status st = slim_mls_secret_tree_get(t, leaf, type, generation, out);
    if (st == SLIM_OK)
        st = slim_mls_secret_tree_erase(t, leaf, type, generation);
    if (st != SLIM_OK)
        slim_mls_ratchet_key_cleanup(out);
    return st;
}

slim_status slim_mls_secret_tree_skip(slim_mls_secret_tree *t, uint32_t leaf,
                                      slim_mls_ratchet_type type, uint32_t n) {
    ratchet *r;
    slim_status st = ratchet_of(t, leaf, type, &r);
    if (st != SLIM_OK)
        return st;
    if (r->next_gen + n > (uint64_t)UINT32_MAX + 1)
        return SLIM_E_MLS_GENERATION_EXHAUSTED;
    uint64_t next_gen = r->next_gen;
    uint8_t secret[SLIM_MLS_MAX_HASH];
    memcpy(secret, r->secret, sizeof secret);
    kept_key k;
    for (uint32_t i = 0; st == SLIM_OK && i < n; i++)
        st = ratchet_step(t->suite, t->prep, r, k.key, k.nonce);
    if (st != SLIM_OK) { /* back to where it was: all or nothing */
        r->next_gen = next_gen;
        memcpy(r->secret, secret, sizeof secret);
    }
    slim_memzero(&k, sizeof k);
    slim_memzero(secret, sizeof secret);
    return st;
}

/* ---- saving and loading ---------------------------------------------- */

static void ratchet_encode(slim_mls_tls_writer *w, const slim_mls_suite *s, const ratchet *r) {
    slim_mls_tls_put_u64(w, r->next_gen);
    slim_mls_tls_put_raw(w, slim_bytes_of(r->secret, s->nh));
    size_t mark = slim_mls_tls_vec_begin(w);
    for (size_t i = 0; i < r->n_kept; i++) {
        slim_mls_tls_put_u32(w, r->kept[i].generation);
        slim_mls_tls_put_raw(w, slim_bytes_of(r->kept[i].key, s->nk));
        slim_mls_tls_put_raw(w, slim_bytes_of(r->kept[i].nonce, s->nn));
    }
    slim_mls_tls_vec_end(w, mark);
}

slim_status slim_mls_secret_tree_encode(slim_mls_tls_writer *w, const slim_mls_secret_tree *t) {
    const slim_mls_suite *s = t->suite;
    uint32_t width = slim_mls_tree_width(t->n_leaves);
    size_t mark = slim_mls_tls_vec_begin(w);
    for (uint32_t i = 0; i < width; i++) {
        if (t->nodes[i] != NULL) {
            slim_mls_tls_put_u32(w, i);
            slim_mls_tls_put_raw(w, slim_bytes_of(t->nodes[i], s->nh));
        }
    }
    slim_mls_tls_vec_end(w, mark);
    mark = slim_mls_tls_vec_begin(w);
    for (uint32_t i = 0; i < t->n_leaves; i++) {
        if (t->leaves[i] != NULL) {
            slim_mls_tls_put_u32(w, i);
            ratchet_encode(w, s, &t->leaves[i]->r[0]);
            ratchet_encode(w, s, &t->leaves[i]->r[1]);
        }
    }
    slim_mls_tls_vec_end(w, mark);
    return slim_mls_tls_writer_status(w);
}

size_t slim_mls_secret_tree_encode_bound(const slim_mls_secret_tree *t) {
    const slim_mls_suite *s = t->suite;
    size_t n = 2 * 4; /* the two length headers, at their longest */
    uint32_t width = slim_mls_tree_width(t->n_leaves);
    for (uint32_t i = 0; i < width; i++)
        n += t->nodes[i] != NULL ? 4 + s->nh : 0;
    for (uint32_t i = 0; i < t->n_leaves; i++) {
        const leaf_state *ls = t->leaves[i];
        if (ls != NULL)
            n +=
                4 + 2 * (8 + s->nh + 4) + (ls->r[0].n_kept + ls->r[1].n_kept) * (4 + s->nk + s->nn);
    }
    return n;
}

static slim_status ratchet_decode(slim_mls_tls_reader *r, const slim_mls_suite *s, ratchet *out) {
    uint64_t next_gen;
    slim_bytes secret;
    slim_mls_tls_reader v;
    slim_mls_tls_get_u64(r, &next_gen);
    slim_mls_tls_get_raw(r, s->nh, &secret);
    if (slim_mls_tls_get_vector(r, &v) != SLIM_OK)
        return slim_mls_tls_reader_status(r);
    if (next_gen > (uint64_t)UINT32_MAX + 1)
        return slim_mls_tls_reader_fail(r, SLIM_E_MLS_BAD_VALUE);
    out->next_gen = next_gen;
    memcpy(out->secret, secret.ptr, s->nh);
    /* Each KeptKey has a fixed size: the count is known before reading. */
    size_t n = slim_mls_tls_reader_remaining(&v) / (4 + s->nk + s->nn);
    if (n > SLIM_MLS_RATCHET_MAX_KEPT)
        return slim_mls_tls_reader_fail(r, SLIM_E_MLS_BAD_VALUE);
    slim_status st = reserve_kept(out, n);
    if (st != SLIM_OK)
        return slim_mls_tls_reader_fail(r, st);
    while (slim_mls_tls_reader_more(&v)) {
        uint32_t gen;
        slim_bytes key, nonce;
        slim_mls_tls_get_u32(&v, &gen);
        slim_mls_tls_get_raw(&v, s->nk, &key);
        if (slim_mls_tls_get_raw(&v, s->nn, &nonce) != SLIM_OK)
            break;
        if (gen >= next_gen || (out->n_kept > 0 && gen <= out->kept[out->n_kept - 1].generation)) {
            slim_mls_tls_reader_fail(&v, SLIM_E_MLS_BAD_VALUE);
            break;
        }
        kept_key *k = &out->kept[out->n_kept++];
        k->generation = gen;
        memcpy(k->key, key.ptr, s->nk);
        memcpy(k->nonce, nonce.ptr, s->nn);
    }
    return slim_mls_tls_end_vector(r, &v);
}

/* Reads a vector of elements that each start with a uint32 index,
 * strictly increasing and below `limit`; `elem` reads the rest of one. */
typedef slim_status (*indexed_fn)(slim_mls_tls_reader *r, slim_mls_secret_tree *t, uint32_t i);

static slim_status indexed_decode(slim_mls_tls_reader *r, slim_mls_secret_tree *t, uint32_t limit,
                                  indexed_fn elem) {
    slim_mls_tls_reader v;
    if (slim_mls_tls_get_vector(r, &v) != SLIM_OK)
        return slim_mls_tls_reader_status(r);
    uint64_t next = 0; /* the lowest index allowed next */
    while (slim_mls_tls_reader_more(&v)) {
        uint32_t i;
        if (slim_mls_tls_get_u32(&v, &i) != SLIM_OK)
            break;
        if (i < next || i >= limit) {
            slim_mls_tls_reader_fail(&v, SLIM_E_MLS_BAD_VALUE);
            break;
        }
        next = (uint64_t)i + 1;
        if (elem(&v, t, i) != SLIM_OK)
            break;
    }
    return slim_mls_tls_end_vector(r, &v);
}

static slim_status node_secret_decode(slim_mls_tls_reader *r, slim_mls_secret_tree *t, uint32_t i) {
    slim_bytes secret;
    if (slim_mls_tls_get_raw(r, t->suite->nh, &secret) != SLIM_OK)
        return slim_mls_tls_reader_status(r);
    t->nodes[i] = slim_malloc(t->suite->nh);
    if (t->nodes[i] == NULL)
        return slim_mls_tls_reader_fail(r, SLIM_E_NOMEM);
    memcpy(t->nodes[i], secret.ptr, t->suite->nh);
    return SLIM_OK;
}

static slim_status leaf_decode(slim_mls_tls_reader *r, slim_mls_secret_tree *t, uint32_t i) {
    t->leaves[i] = slim_calloc(1, sizeof *t->leaves[i]);
    if (t->leaves[i] == NULL)
        return slim_mls_tls_reader_fail(r, SLIM_E_NOMEM);
    ratchet_decode(r, t->suite, &t->leaves[i]->r[0]);
    return ratchet_decode(r, t->suite, &t->leaves[i]->r[1]);
}

/* True when every leaf's secrets come from exactly one place: its own
 * ratchets, or one node secret on the way from its leaf node to the root
 * (what slim_mls_secret_tree_new starts with and every derivation keeps). */
static bool each_leaf_once(const slim_mls_secret_tree *t) {
    for (uint32_t l = 0; l < t->n_leaves; l++) {
        uint32_t node = slim_mls_tree_leaf_node(l);
        uint32_t path[SLIM_MLS_TREE_MAX_DEPTH];
        size_t n = 0;
        slim_mls_tree_direct_path(node, t->n_leaves, path, &n);
        unsigned sources = (t->leaves[l] != NULL) + (t->nodes[node] != NULL);
        for (size_t i = 0; i < n; i++)
            sources += t->nodes[path[i]] != NULL;
        if (sources != 1)
            return false;
    }
    return true;
}

slim_status slim_mls_secret_tree_decode(slim_mls_tls_reader *r, const slim_mls_suite *suite,
                                        uint32_t n_leaves, slim_mls_secret_tree **out) {
    if (slim_mls_tls_reader_status(r) != SLIM_OK)
        return slim_mls_tls_reader_status(r);
    slim_mls_secret_tree *t;
    slim_status st = tree_alloc(suite, n_leaves, &t);
    if (st != SLIM_OK)
        return slim_mls_tls_reader_fail(r, st);
    indexed_decode(r, t, slim_mls_tree_width(n_leaves), node_secret_decode);
    st = indexed_decode(r, t, n_leaves, leaf_decode);
    if (st == SLIM_OK && !each_leaf_once(t))
        st = slim_mls_tls_reader_fail(r, SLIM_E_MLS_BAD_VALUE);
    if (st != SLIM_OK) {
        slim_mls_secret_tree_free(t);
        return st;
    }
    *out = t;
    return SLIM_OK;
}

slim_status slim_mls_sender_data_key_nonce(const slim_mls_suite *suite, const slim_mls_prepared *p,
                                           slim_bytes sender_data_secret, slim_bytes ciphertext,
                                           uint8_t *key, uint8_t *nonce) {
    slim_bytes sample = ciphertext;
    if (sample.len > suite->nh)
        sample.len = suite->nh;
    static const char *const labels[2] = {"key", "nonce"};
    uint8_t *const outs[2] = {key, nonce};
    const size_t lens[2] = {suite->nk, suite->nn};
    return slim_mls_expand_labels_prepared(suite, p, sender_data_secret, sample, 2, labels, outs,
                                           lens);
}
