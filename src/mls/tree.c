/*
 * The ratchet tree: slots of reference-counted node blocks, a per-slot
 * tree-hash cache, the Add/Update/Remove changes, resolutions, parent
 * hashes and the ratchet_tree codec.
 *
 * Invariants: slots at or beyond the width 2n-1 are NULL and their hash
 * is not cached; a cached hash is the hash of the slot's subtree as it is
 * now (every change forgets the hashes of the changed slot and its
 * ancestors). Every change prepares what can fail (blocks, capacity)
 * before it touches a slot, so a failure leaves the tree as it was.
 */
#include "mls/tree.h"
#include "core/alloc.h"
#include "core/util.h"
#include "mls/extensions.h"
#include "mls/tree_math.h"

#include <stdatomic.h>
#include <string.h>

/* An immutable node: its encoding (node_type, then the LeafNode or
 * ParentNode) and the decoded view into it. */
typedef struct tnode {
    atomic_uint refs;
    slim_mls_node v;
    size_t len;
    uint8_t data[];
} tnode;

struct slim_mls_tree {
    const slim_mls_suite *suite;
    uint32_t n_leaves; /* 0 or a power of two */
    uint32_t cap;      /* slots allocated in nodes, hash and hash_ok */
    tnode **nodes;
    uint8_t *hash;    /* cap * Nh: the cached tree hash of each slot */
    uint8_t *hash_ok; /* cap flags: hash[i] is current */
    /* 2 * cap: the first 8 bytes of each slot's encryption key and (for
     * leaves) signature key, 0 when blank, so the uniqueness scans read
     * one contiguous array instead of every node block. */
    uint64_t *prefix;
    uint64_t hashed;
};

/* ---- index arithmetic (trees are full: see mls/tree_math.h) ---------- */

static uint32_t width(uint32_t n_leaves) {
    return slim_mls_tree_width(n_leaves);
}

static uint32_t root(const slim_mls_tree *t) {
    return t->n_leaves - 1;
}

static uint32_t level(uint32_t x) {
    return slim_mls_tree_level(x);
}

static uint32_t left(uint32_t x) {
    return x ^ (UINT32_C(1) << (level(x) - 1));
}

static uint32_t right(uint32_t x) {
    return x ^ (UINT32_C(3) << (level(x) - 1));
}

/* The parent of x, which must not be the root. */
static uint32_t parent(uint32_t x) {
    uint32_t k = level(x);
    uint32_t b = (x >> (k + 1)) & 1;
    return (x | (UINT32_C(1) << k)) ^ (b << (k + 1));
}

/* True when leaf `leaf` is in the subtree below slot x. */
static bool covers(uint32_t x, uint32_t leaf) {
    uint64_t span = (UINT64_C(1) << level(x)) - 1;
    uint64_t ln = 2 * (uint64_t)leaf;
    return ln + span >= x && ln <= x + span;
}

/* ---- node blocks ------------------------------------------------------ */

static tnode *tnode_ref(tnode *b) {
    if (b != NULL)
        atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

static void tnode_unref(tnode *b) {
    if (b != NULL && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
        slim_free(b);
}

/* A block holding a copy of an encoded Node, checked by decoding it. */
static slim_status tnode_from_encoded(slim_bytes enc, tnode **out) {
    tnode *b = slim_malloc(sizeof *b + enc.len);
    if (b == NULL)
        return SLIM_E_NOMEM;
    atomic_init(&b->refs, 1);
    b->len = enc.len;
    if (enc.len > 0)
        memcpy(b->data, enc.ptr, enc.len);
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, slim_bytes_of(b->data, b->len));
    slim_mls_node_decode(&r, &b->v);
    slim_status st = slim_mls_tls_reader_finish(&r);
    if (st != SLIM_OK) {
        slim_free(b);
        return st;
    }
    *out = b;
    return SLIM_OK;
}

/* A block holding the encoding of n (whose views may point anywhere). */
static slim_status tnode_from_node(const slim_mls_node *n, tnode **out) {
    slim_buf b = SLIM_BUF_INIT;
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, &b);
    slim_mls_node_encode(&w, n);
    slim_status st = slim_mls_tls_writer_status(&w);
    if (st == SLIM_OK)
        st = tnode_from_encoded(slim_buf_view(&b), out);
    slim_buf_cleanup(&b);
    return st;
}

static slim_bytes tnode_body(const tnode *b) {
    return slim_bytes_of(b->data + 1, b->len - 1);
}

/* ---- life cycle ------------------------------------------------------- */

slim_status slim_mls_tree_new(const slim_mls_suite *suite, slim_mls_tree **out) {
    if (suite == NULL)
        return SLIM_E_INVALID_ARG;
    slim_mls_tree *t = slim_calloc(1, sizeof *t);
    if (t == NULL)
        return SLIM_E_NOMEM;
    t->suite = suite;
    *out = t;
    return SLIM_OK;
}

void slim_mls_tree_free(slim_mls_tree *t) {
    if (t == NULL)
        return;
    for (uint32_t i = 0; i < width(t->n_leaves); i++)
        tnode_unref(t->nodes[i]);
    slim_free(t->nodes);
    slim_free(t->hash);
    slim_free(t->hash_ok);
    slim_free(t->prefix);
    slim_free(t);
}

/* Makes room for `need` slots; new slots are blank and unhashed. The tree
 * is unchanged on failure (only its capacity may have grown). */
static slim_status grow(slim_mls_tree *t, uint32_t need) {
    if (need <= t->cap)
        return SLIM_OK;
    size_t nh = t->suite->nh;
    /* Doubling, but never past the largest width (2^32 - 1 slots). */
    uint64_t want = 2 * (uint64_t)t->cap + 1;
    uint32_t cap = want > need && want <= UINT32_MAX ? (uint32_t)want : need;
    tnode **nodes = slim_realloc(t->nodes, (size_t)cap * sizeof *nodes);
    if (nodes == NULL)
        return SLIM_E_NOMEM;
    t->nodes = nodes;
    uint8_t *hash = slim_realloc(t->hash, (size_t)cap * nh);
    if (hash == NULL)
        return SLIM_E_NOMEM;
    t->hash = hash;
    uint8_t *ok = slim_realloc(t->hash_ok, cap);
    if (ok == NULL)
        return SLIM_E_NOMEM;
    t->hash_ok = ok;
    uint64_t *prefix = slim_realloc(t->prefix, 2 * (size_t)cap * sizeof *prefix);
    if (prefix == NULL)
        return SLIM_E_NOMEM;
    t->prefix = prefix;
    for (uint32_t i = t->cap; i < cap; i++) {
        nodes[i] = NULL;
        ok[i] = 0;
        prefix[2 * (size_t)i] = prefix[2 * (size_t)i + 1] = 0;
    }
    t->cap = cap;
    return SLIM_OK;
}

slim_status slim_mls_tree_clone(const slim_mls_tree *t, slim_mls_tree **out) {
    slim_mls_tree *c = NULL;
    slim_status st = slim_mls_tree_new(t->suite, &c);
    uint32_t w = width(t->n_leaves);
    if (st == SLIM_OK)
        st = grow(c, w);
    if (st != SLIM_OK) {
        slim_mls_tree_free(c);
        return st;
    }
    c->n_leaves = t->n_leaves;
    c->hashed = t->hashed;
    for (uint32_t i = 0; i < w; i++)
        c->nodes[i] = tnode_ref(t->nodes[i]);
    if (w > 0) {
        memcpy(c->hash, t->hash, (size_t)w * t->suite->nh);
        memcpy(c->hash_ok, t->hash_ok, w);
        memcpy(c->prefix, t->prefix, 2 * (size_t)w * sizeof *c->prefix);
    }
    *out = c;
    return SLIM_OK;
}

/* Forgets the cached hashes of slot x and of its ancestors. */
static void forget(slim_mls_tree *t, uint32_t x) {
    uint32_t r = root(t);
    for (;;) {
        t->hash_ok[x] = 0;
        if (x == r)
            return;
        x = parent(x);
    }
}

/* The first 8 bytes of a key (zero-padded), to compare most keys with
 * one integer comparison. */
static uint64_t key_prefix(slim_bytes k) {
    uint64_t v = 0;
    if (k.len > 0)
        memcpy(&v, k.ptr, k.len < sizeof v ? k.len : sizeof v);
    return v;
}

/* Records the key prefixes of slot x (holding b, or blank). */
static void set_prefix(slim_mls_tree *t, uint32_t x, const tnode *b) {
    uint64_t *p = &t->prefix[2 * (size_t)x];
    p[0] = p[1] = 0;
    if (b != NULL && b->v.type == SLIM_MLS_NODE_LEAF) {
        p[0] = key_prefix(b->v.u.leaf.encryption_key);
        p[1] = key_prefix(b->v.u.leaf.signature_key);
    } else if (b != NULL) {
        p[0] = key_prefix(b->v.u.parent.encryption_key);
    }
}

/* Puts block b (owned by the caller's reference) into slot x. */
static void put(slim_mls_tree *t, uint32_t x, tnode *b) {
    tnode_unref(t->nodes[x]);
    t->nodes[x] = b;
    set_prefix(t, x, b);
    forget(t, x);
}

/* ---- codec ------------------------------------------------------------ */

slim_status slim_mls_tree_decode(const slim_mls_suite *suite, slim_bytes in, slim_mls_tree **out) {
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, in);
    slim_mls_vec entries;
    slim_mls_ratchet_tree_decode(&r, &entries);
    slim_status st = slim_mls_tls_reader_finish(&r);
    if (st != SLIM_OK)
        return st;
    /* The smallest full tree with at least `count` slots. */
    uint64_t n = 1;
    while (2 * n - 1 < entries.count)
        n *= 2;
    if (n > SLIM_MLS_TREE_MAX_LEAVES)
        return SLIM_E_MLS_TREE_SIZE;
    slim_mls_tree *t = NULL;
    st = slim_mls_tree_new(suite, &t);
    if (st == SLIM_OK)
        st = grow(t, width((uint32_t)n));
    if (st != SLIM_OK) {
        slim_mls_tree_free(t);
        return st;
    }
    t->n_leaves = (uint32_t)n;
    slim_mls_tls_reader it;
    slim_mls_tls_reader_init(&it, entries.body);
    for (uint32_t i = 0; i < entries.count && st == SLIM_OK; i++) {
        bool present;
        slim_mls_tls_get_optional(&it, &present);
        if (!present)
            continue;
        slim_bytes start = slim_mls_tls_reader_rest(&it);
        slim_mls_node n;
        slim_mls_node_decode(&it, &n);
        slim_bytes end = slim_mls_tls_reader_rest(&it);
        st = slim_mls_tls_reader_status(&it);
        if (st == SLIM_OK)
            st = tnode_from_encoded(slim_bytes_of(start.ptr, start.len - end.len), &t->nodes[i]);
        if (st == SLIM_OK)
            set_prefix(t, i, t->nodes[i]);
    }
    if (st != SLIM_OK) {
        slim_mls_tree_free(t);
        return st;
    }
    *out = t;
    return SLIM_OK;
}

/* Index of the last non-blank slot, or -1. */
static int64_t last_present(const slim_mls_tree *t) {
    for (int64_t i = (int64_t)width(t->n_leaves) - 1; i >= 0; i--) {
        if (t->nodes[i] != NULL)
            return i;
    }
    return -1;
}

static slim_status write_tree(const slim_mls_tree *t, slim_mls_tls_writer *w) {
    int64_t last = last_present(t);
    if (last < 0)
        return slim_mls_tls_writer_fail(w, SLIM_E_STATE);
    size_t mark = slim_mls_tls_vec_begin(w);
    for (int64_t i = 0; i <= last; i++) {
        const tnode *b = t->nodes[i];
        slim_mls_tls_put_optional(w, b != NULL);
        if (b != NULL)
            slim_mls_tls_put_raw(w, slim_bytes_of(b->data, b->len));
    }
    return slim_mls_tls_vec_end(w, mark);
}

slim_status slim_mls_tree_encode(const slim_mls_tree *t, slim_buf *out) {
    size_t before = out->len;
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, out);
    write_tree(t, &w);
    slim_status st = slim_mls_tls_writer_status(&w);
    if (st != SLIM_OK)
        out->len = before;
    return st;
}

slim_status slim_mls_tree_extension_write(const slim_mls_tree *t, slim_mls_tls_writer *w) {
    slim_mls_tls_put_u16(w, SLIM_MLS_EXT_RATCHET_TREE);
    size_t mark = slim_mls_tls_vec_begin(w);
    write_tree(t, w);
    return slim_mls_tls_vec_end(w, mark);
}

/* ---- reading ---------------------------------------------------------- */

const slim_mls_suite *slim_mls_tree_suite(const slim_mls_tree *t) {
    return t->suite;
}

uint32_t slim_mls_tree_leaf_count(const slim_mls_tree *t) {
    return t->n_leaves;
}

uint32_t slim_mls_tree_node_count(const slim_mls_tree *t) {
    return width(t->n_leaves);
}

const slim_mls_node *slim_mls_tree_node(const slim_mls_tree *t, uint32_t node) {
    if (node >= width(t->n_leaves) || t->nodes[node] == NULL)
        return NULL;
    return &t->nodes[node]->v;
}

const slim_mls_leaf_node *slim_mls_tree_leaf(const slim_mls_tree *t, uint32_t leaf) {
    if (leaf >= t->n_leaves || t->nodes[2 * (size_t)leaf] == NULL)
        return NULL;
    return &t->nodes[2 * (size_t)leaf]->v.u.leaf;
}

slim_bytes slim_mls_tree_leaf_bytes(const slim_mls_tree *t, uint32_t leaf) {
    if (leaf >= t->n_leaves || t->nodes[2 * (size_t)leaf] == NULL)
        return slim_bytes_of(NULL, 0);
    return tnode_body(t->nodes[2 * (size_t)leaf]);
}

slim_bytes slim_mls_tree_encryption_key(const slim_mls_tree *t, uint32_t node) {
    const slim_mls_node *n = slim_mls_tree_node(t, node);
    if (n == NULL)
        return slim_bytes_of(NULL, 0);
    return n->type == SLIM_MLS_NODE_LEAF ? n->u.leaf.encryption_key : n->u.parent.encryption_key;
}

uint32_t slim_mls_tree_find_key(const slim_mls_tree *t, slim_mls_tree_key kind,
                                const slim_bytes *keys, size_t n, uint32_t skip_leaf) {
    uint64_t pre[2 * SLIM_MLS_TREE_MAX_DEPTH + 2];
    size_t m = n < SLIM_ARRAY_LEN(pre) ? n : SLIM_ARRAY_LEN(pre);
    for (size_t i = 0; i < m; i++)
        pre[i] = key_prefix(keys[i]);
    bool sig = kind == SLIM_MLS_TREE_SIGNATURE_KEY;
    uint32_t step = sig ? 2 : 1;
    for (uint32_t x = 0; x < width(t->n_leaves); x += step) {
        uint64_t kp = t->prefix[2 * (size_t)x + sig];
        size_t i = 0;
        while (i < m && pre[i] != kp)
            i++;
        if (i == m && m == n)
            continue; /* no prefix matches: the common case, no block read */
        const tnode *b = t->nodes[x];
        if (b == NULL || (level(x) == 0 && x / 2 == skip_leaf))
            continue;
        slim_bytes k = sig                               ? b->v.u.leaf.signature_key
                       : b->v.type == SLIM_MLS_NODE_LEAF ? b->v.u.leaf.encryption_key
                                                         : b->v.u.parent.encryption_key;
        for (i = 0; i < n; i++) {
            if (keys[i].len == k.len && k.len > 0 && memcmp(keys[i].ptr, k.ptr, k.len) == 0)
                return x;
        }
    }
    return UINT32_MAX;
}

uint32_t slim_mls_tree_member_count(const slim_mls_tree *t) {
    uint32_t n = 0;
    for (uint32_t l = 0; l < t->n_leaves; l++)
        n += t->nodes[2 * (size_t)l] != NULL;
    return n;
}

bool slim_mls_tree_is_unmerged(const slim_mls_tree *t, uint32_t node, uint32_t leaf) {
    const slim_mls_node *n = slim_mls_tree_node(t, node);
    if (n == NULL || n->type != SLIM_MLS_NODE_PARENT)
        return false;
    const slim_mls_vec *u = &n->u.parent.unmerged_leaves;
    for (uint32_t i = 0; i < u->count; i++) {
        if (slim_mls_vec_u32(u, i) == leaf)
            return true;
    }
    return false;
}

void slim_mls_tree_find_leaf(const slim_mls_tree *t, slim_bytes leaf_node, uint32_t *leaf,
                             bool *found) {
    *found = false;
    for (uint32_t l = 0; l < t->n_leaves; l++) {
        slim_bytes b = slim_mls_tree_leaf_bytes(t, l);
        if (b.ptr != NULL && b.len == leaf_node.len && memcmp(b.ptr, leaf_node.ptr, b.len) == 0) {
            *leaf = l;
            *found = true;
            return;
        }
    }
}

/* ---- resolution and paths --------------------------------------------- */

void slim_mls_index_list_cleanup(slim_mls_index_list *l) {
    slim_free(l->v);
    l->v = NULL;
    l->len = l->cap = 0;
}

slim_status slim_mls_index_list_push(slim_mls_index_list *l, uint32_t x) {
    if (l->len == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        uint32_t *v = slim_realloc(l->v, cap * sizeof *v);
        if (v == NULL)
            return SLIM_E_NOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->len++] = x;
    return SLIM_OK;
}

static bool excluded(uint32_t leaf, const uint32_t *exclude, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (exclude[i] == leaf)
            return true;
    }
    return false;
}

static slim_status resolve(const slim_mls_tree *t, uint32_t x, const uint32_t *ex, size_t n_ex,
                           slim_mls_index_list *out) {
    const tnode *b = t->nodes[x];
    if (b != NULL && level(x) == 0)
        return excluded(x / 2, ex, n_ex) ? SLIM_OK : slim_mls_index_list_push(out, x);
    if (b != NULL) {
        slim_status st = slim_mls_index_list_push(out, x);
        const slim_mls_vec *u = &b->v.u.parent.unmerged_leaves;
        for (uint32_t i = 0; i < u->count && st == SLIM_OK; i++) {
            uint32_t leaf = slim_mls_vec_u32(u, i);
            /* A leaf outside the tree (an invalid tree, refused by
             * validation) has no slot to name. */
            if (leaf < t->n_leaves && !excluded(leaf, ex, n_ex))
                st = slim_mls_index_list_push(out, 2 * leaf);
        }
        return st;
    }
    if (level(x) == 0)
        return SLIM_OK;
    slim_status st = resolve(t, left(x), ex, n_ex, out);
    return st == SLIM_OK ? resolve(t, right(x), ex, n_ex, out) : st;
}

slim_status slim_mls_tree_resolution(const slim_mls_tree *t, uint32_t node, const uint32_t *exclude,
                                     size_t n_exclude, slim_mls_index_list *out) {
    out->len = 0;
    if (node >= width(t->n_leaves))
        return SLIM_E_MLS_TREE_INDEX;
    slim_status st = resolve(t, node, exclude, n_exclude, out);
    if (st != SLIM_OK)
        out->len = 0;
    return st;
}

/* True when the resolution of x is not empty: x or a node below it holds
 * a value (a non-blank parent is its own resolution). */
static bool resolution_nonempty(const slim_mls_tree *t, uint32_t x) {
    if (t->nodes[x] != NULL)
        return true;
    if (level(x) == 0)
        return false;
    return resolution_nonempty(t, left(x)) || resolution_nonempty(t, right(x));
}

slim_status slim_mls_tree_filtered_direct_path(const slim_mls_tree *t, uint32_t leaf, uint32_t *fdp,
                                               uint32_t *copath, size_t *len) {
    if (leaf >= t->n_leaves)
        return SLIM_E_MLS_TREE_INDEX;
    size_t n = 0;
    uint32_t r = root(t);
    for (uint32_t x = 2 * leaf; x != r;) {
        uint32_t p = parent(x);
        uint32_t sib = x == left(p) ? right(p) : left(p);
        if (resolution_nonempty(t, sib)) {
            fdp[n] = p;
            if (copath != NULL)
                copath[n] = sib;
            n++;
        }
        x = p;
    }
    *len = n;
    return SLIM_OK;
}

/* ---- hashes ----------------------------------------------------------- */

/* The hash of a leaf slot: TreeHashInput{leaf, LeafNodeHashInput}. `body`
 * is the LeafNode encoding, or NULL for a blank leaf. */
static slim_status leaf_hash(const slim_mls_suite *s, uint32_t leaf, const slim_bytes *body,
                             uint8_t *out) {
    uint8_t head[6] = {SLIM_MLS_NODE_LEAF,   (uint8_t)(leaf >> 24), (uint8_t)(leaf >> 16),
                       (uint8_t)(leaf >> 8), (uint8_t)leaf,         body != NULL};
    slim_bytes parts[2] = {slim_bytes_of(head, sizeof head), body ? *body : slim_bytes_of(NULL, 0)};
    return slim_mls_hash_parts(s->hash, parts, 2, out);
}

/* The hash of a parent slot: TreeHashInput{parent, ParentNodeHashInput}
 * with `body` the ParentNode encoding or NULL when blank. */
static slim_status parent_hash_input(const slim_mls_suite *s, const slim_bytes *body,
                                     const uint8_t *lh, const uint8_t *rh, uint8_t *out) {
    uint8_t head[2] = {SLIM_MLS_NODE_PARENT, body != NULL};
    uint8_t len[4];
    size_t nl;
    slim_status st = slim_mls_tls_varint_encode(s->nh, len, &nl);
    if (st != SLIM_OK)
        return st;
    slim_bytes parts[6] = {
        slim_bytes_of(head, sizeof head), body ? *body : slim_bytes_of(NULL, 0),
        slim_bytes_of(len, nl),           slim_bytes_of(lh, s->nh),
        slim_bytes_of(len, nl),           slim_bytes_of(rh, s->nh),
    };
    return slim_mls_hash_parts(s->hash, parts, 6, out);
}

static uint8_t *cached(slim_mls_tree *t, uint32_t x) {
    return t->hash + (size_t)x * t->suite->nh;
}

/* Fills the cache for slot x (and below, where needed). */
static slim_status hash_slot(slim_mls_tree *t, uint32_t x) {
    if (t->hash_ok[x])
        return SLIM_OK;
    const tnode *b = t->nodes[x];
    slim_bytes body = b ? tnode_body(b) : slim_bytes_of(NULL, 0);
    slim_status st;
    if (level(x) == 0) {
        st = leaf_hash(t->suite, x / 2, b ? &body : NULL, cached(t, x));
    } else {
        uint32_t l = left(x), r = right(x);
        st = hash_slot(t, l);
        if (st == SLIM_OK)
            st = hash_slot(t, r);
        if (st == SLIM_OK)
            st = parent_hash_input(t->suite, b ? &body : NULL, cached(t, l), cached(t, r),
                                   cached(t, x));
    }
    if (st == SLIM_OK) {
        t->hash_ok[x] = 1;
        t->hashed++;
    }
    return st;
}

slim_status slim_mls_tree_node_hash(slim_mls_tree *t, uint32_t node, uint8_t *out) {
    if (t->n_leaves == 0)
        return SLIM_E_STATE;
    if (node >= width(t->n_leaves))
        return SLIM_E_MLS_TREE_INDEX;
    slim_status st = hash_slot(t, node);
    if (st == SLIM_OK)
        memcpy(out, cached(t, node), t->suite->nh);
    return st;
}

slim_status slim_mls_tree_hash(slim_mls_tree *t, uint8_t *out) {
    if (t->n_leaves == 0)
        return SLIM_E_STATE;
    return slim_mls_tree_node_hash(t, root(t), out);
}

void slim_mls_tree_forget_hashes(slim_mls_tree *t) {
    if (t->cap > 0)
        memset(t->hash_ok, 0, t->cap);
}

uint64_t slim_mls_tree_hashes_computed(const slim_mls_tree *t) {
    return t->hashed;
}

/* True when one of the leaves u[0..n) is below slot x. */
static bool covers_any(uint32_t x, const slim_mls_vec *u) {
    for (uint32_t i = 0; i < u->count; i++) {
        if (covers(x, slim_mls_vec_u32(u, i)))
            return true;
    }
    return false;
}

static bool in_vec(const slim_mls_vec *u, uint32_t leaf) {
    for (uint32_t i = 0; i < u->count; i++) {
        if (slim_mls_vec_u32(u, i) == leaf)
            return true;
    }
    return false;
}

/* The ParentNode encoding of p with the leaves of `drop` left out of its
 * unmerged_leaves, appended to b. */
static slim_status parent_without(const slim_mls_parent_node *p, const slim_mls_vec *drop,
                                  slim_buf *b) {
    slim_buf list = SLIM_BUF_INIT;
    slim_status st = SLIM_OK;
    for (uint32_t i = 0; i < p->unmerged_leaves.count && st == SLIM_OK; i++) {
        uint32_t leaf = slim_mls_vec_u32(&p->unmerged_leaves, i);
        if (!in_vec(drop, leaf))
            st = slim_buf_append_u32(&list, leaf);
    }
    slim_mls_parent_node q = *p;
    q.unmerged_leaves.body = slim_buf_view(&list);
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, b);
    if (st == SLIM_OK)
        st = slim_mls_parent_node_encode(&w, &q);
    slim_buf_cleanup(&list);
    return st == SLIM_OK ? slim_mls_tls_writer_status(&w) : st;
}

/* out = the tree hash of slot x as if the leaves in `drop` were blank and
 * listed in no unmerged_leaves (the original sibling tree hash, §7.9). */
static slim_status hash_without(slim_mls_tree *t, uint32_t x, const slim_mls_vec *drop,
                                uint8_t *out) {
    if (!covers_any(x, drop)) {
        slim_status st = hash_slot(t, x);
        if (st == SLIM_OK)
            memcpy(out, cached(t, x), t->suite->nh);
        return st;
    }
    const tnode *b = t->nodes[x];
    if (level(x) == 0) /* a dropped leaf */
        return leaf_hash(t->suite, x / 2, NULL, out);
    uint8_t lh[SLIM_MLS_MAX_HASH], rh[SLIM_MLS_MAX_HASH];
    slim_status st = hash_without(t, left(x), drop, lh);
    if (st == SLIM_OK)
        st = hash_without(t, right(x), drop, rh);
    if (st != SLIM_OK || b == NULL)
        return st == SLIM_OK ? parent_hash_input(t->suite, NULL, lh, rh, out) : st;
    slim_buf body = SLIM_BUF_INIT;
    st = parent_without(&b->v.u.parent, drop, &body);
    if (st == SLIM_OK) {
        slim_bytes v = slim_buf_view(&body);
        st = parent_hash_input(t->suite, &v, lh, rh, out);
    }
    slim_buf_cleanup(&body);
    return st;
}

slim_status slim_mls_parent_hash_of(const slim_mls_suite *s, slim_bytes encryption_key,
                                    slim_bytes parent_hash, slim_bytes sibling_hash, uint8_t *out) {
    slim_buf b = SLIM_BUF_INIT;
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, &b);
    slim_mls_tls_put_opaque(&w, encryption_key);
    slim_mls_tls_put_opaque(&w, parent_hash);
    slim_mls_tls_put_opaque(&w, sibling_hash);
    slim_status st = slim_mls_tls_writer_status(&w);
    if (st == SLIM_OK)
        st = slim_mls_suite_hash(s, slim_buf_view(&b), out);
    slim_buf_cleanup(&b);
    return st;
}

slim_status slim_mls_tree_parent_hash(slim_mls_tree *t, uint32_t parent_slot, uint32_t sibling,
                                      uint8_t *out) {
    if (parent_slot >= width(t->n_leaves) || level(parent_slot) == 0)
        return SLIM_E_MLS_TREE_INDEX;
    if (sibling != left(parent_slot) && sibling != right(parent_slot))
        return SLIM_E_MLS_TREE_INDEX;
    const tnode *b = t->nodes[parent_slot];
    if (b == NULL)
        return SLIM_E_STATE;
    const slim_mls_parent_node *p = &b->v.u.parent;
    uint8_t sh[SLIM_MLS_MAX_HASH];
    slim_status st = hash_without(t, sibling, &p->unmerged_leaves, sh);
    if (st == SLIM_OK)
        st = slim_mls_parent_hash_of(t->suite, p->encryption_key, p->parent_hash,
                                     slim_bytes_of(sh, t->suite->nh), out);
    return st;
}

/* The parent_hash a node carries: a parent's field, a commit leaf's
 * field; other leaves and blank slots (a blank unmerged leaf of an
 * invalid tree) carry none (NULL). */
static const slim_bytes *carried_parent_hash(const tnode *b) {
    if (b == NULL)
        return NULL;
    if (b->v.type == SLIM_MLS_NODE_PARENT)
        return &b->v.u.parent.parent_hash;
    if (b->v.u.leaf.source == SLIM_MLS_LEAF_SOURCE_COMMIT)
        return &b->v.u.leaf.parent_hash;
    return NULL;
}

/* True when the list `res` without entry `skip` holds exactly the leaf
 * slots of P's unmerged leaves below c (each resolution entry is distinct,
 * so matching counts and membership suffices). */
static bool rest_is_unmerged(const slim_mls_index_list *res, size_t skip, const slim_mls_vec *u,
                             uint32_t c) {
    size_t below = 0;
    for (uint32_t i = 0; i < u->count; i++)
        below += covers(c, slim_mls_vec_u32(u, i));
    if (below != res->len - 1)
        return false;
    for (size_t i = 0; i < res->len; i++) {
        if (i == skip)
            continue;
        uint32_t x = res->v[i];
        if (level(x) != 0 || !in_vec(u, x / 2) || !covers(c, x / 2))
            return false;
    }
    return true;
}

/* Number of descendants D of parent slot p for which p is parent-hash
 * valid (0, 1 or, for a forged tree, more). */
static slim_status count_chains(slim_mls_tree *t, uint32_t p, slim_mls_index_list *res,
                                int *count) {
    const slim_mls_parent_node *pn = &t->nodes[p]->v.u.parent;
    uint32_t kids[2] = {left(p), right(p)};
    *count = 0;
    for (int side = 0; side < 2; side++) {
        uint32_t c = kids[side], s = kids[1 - side];
        uint8_t ph[SLIM_MLS_MAX_HASH];
        slim_status st = slim_mls_tree_parent_hash(t, p, s, ph);
        if (st == SLIM_OK)
            st = slim_mls_tree_resolution(t, c, NULL, 0, res);
        if (st != SLIM_OK)
            return st;
        for (size_t i = 0; i < res->len; i++) {
            const slim_bytes *h = carried_parent_hash(t->nodes[res->v[i]]);
            if (h == NULL || h->len != t->suite->nh || memcmp(h->ptr, ph, h->len) != 0)
                continue;
            if (rest_is_unmerged(res, i, &pn->unmerged_leaves, c))
                (*count)++;
        }
    }
    return SLIM_OK;
}

slim_status slim_mls_tree_verify_parent_hashes(slim_mls_tree *t, uint32_t *bad) {
    slim_mls_index_list res = SLIM_MLS_INDEX_LIST_INIT;
    slim_status st = SLIM_OK;
    for (uint32_t p = 1; p < width(t->n_leaves) && st == SLIM_OK; p += 2) {
        if (t->nodes[p] == NULL)
            continue;
        int count;
        st = count_chains(t, p, &res, &count);
        if (st == SLIM_OK && count != 1) {
            st = SLIM_E_MLS_PARENT_HASH_INVALID;
            if (bad != NULL)
                *bad = p;
        }
    }
    slim_mls_index_list_cleanup(&res);
    return st;
}

/* ---- changes ---------------------------------------------------------- */

/* A copy of parent node p with `leaf` inserted in order into its
 * unmerged_leaves. */
static slim_status with_unmerged(const slim_mls_parent_node *p, uint32_t leaf, tnode **out) {
    slim_buf list = SLIM_BUF_INIT;
    slim_status st = SLIM_OK;
    bool done = false;
    for (uint32_t i = 0; i < p->unmerged_leaves.count && st == SLIM_OK; i++) {
        uint32_t u = slim_mls_vec_u32(&p->unmerged_leaves, i);
        if (!done && leaf <= u) {
            if (leaf < u)
                st = slim_buf_append_u32(&list, leaf);
            done = true;
        }
        if (st == SLIM_OK)
            st = slim_buf_append_u32(&list, u);
    }
    if (!done && st == SLIM_OK)
        st = slim_buf_append_u32(&list, leaf);
    slim_mls_node n = {.type = SLIM_MLS_NODE_PARENT};
    n.u.parent = *p;
    n.u.parent.unmerged_leaves.body = slim_buf_view(&list);
    if (st == SLIM_OK)
        st = tnode_from_node(&n, out);
    slim_buf_cleanup(&list);
    return st;
}

static slim_status leaf_block(const slim_mls_leaf_node *ln, tnode **out) {
    slim_mls_node n = {.type = SLIM_MLS_NODE_LEAF};
    n.u.leaf = *ln;
    return tnode_from_node(&n, out);
}

/* The leftmost blank leaf and the leaf count the tree needs for it. */
static slim_status first_blank(const slim_mls_tree *t, uint32_t *leaf, uint32_t *n_leaves) {
    uint32_t l = 0;
    while (l < t->n_leaves && t->nodes[2 * (size_t)l] != NULL)
        l++;
    uint32_t n = t->n_leaves;
    if (l == n) {
        if (n == SLIM_MLS_TREE_MAX_LEAVES)
            return SLIM_E_MLS_TREE_SIZE;
        n = n == 0 ? 1 : 2 * n;
    }
    *leaf = l;
    *n_leaves = n;
    return SLIM_OK;
}

slim_status slim_mls_tree_blank_leaf(slim_mls_tree *t, uint32_t *leaf) {
    uint32_t l, n;
    slim_status st = first_blank(t, &l, &n);
    if (st == SLIM_OK)
        st = grow(t, width(n));
    if (st != SLIM_OK)
        return st;
    if (n != t->n_leaves) {
        t->n_leaves = n; /* new slots are blank and unhashed; so is the new root */
        forget(t, root(t));
    }
    *leaf = l;
    return SLIM_OK;
}

slim_status slim_mls_tree_add(slim_mls_tree *t, const slim_mls_leaf_node *ln, uint32_t *leaf_out) {
    uint32_t leaf, n;
    slim_status st = first_blank(t, &leaf, &n);
    if (st != SLIM_OK)
        return st;
    tnode *lb = NULL;
    st = leaf_block(ln, &lb);
    if (st == SLIM_OK)
        st = grow(t, width(n));
    /* New blocks for the non-blank parents above the leaf (in the tree as
     * extended: new parents are blank). */
    tnode *pb[SLIM_MLS_TREE_MAX_DEPTH];
    uint32_t ps[SLIM_MLS_TREE_MAX_DEPTH];
    size_t np = 0;
    uint32_t r = n - 1;
    for (uint32_t x = 2 * leaf; st == SLIM_OK && x != r;) {
        x = parent(x);
        if (x < width(t->n_leaves) && t->nodes[x] != NULL) {
            st = with_unmerged(&t->nodes[x]->v.u.parent, leaf, &pb[np]);
            if (st == SLIM_OK)
                ps[np++] = x;
        }
    }
    if (st != SLIM_OK) {
        tnode_unref(lb);
        for (size_t i = 0; i < np; i++)
            tnode_unref(pb[i]);
        return st;
    }
    t->n_leaves = n; /* the new slots are blank and unhashed (grow) */
    put(t, 2 * leaf, lb);
    for (size_t i = 0; i < np; i++)
        put(t, ps[i], pb[i]);
    if (leaf_out != NULL)
        *leaf_out = leaf;
    return SLIM_OK;
}

static slim_status check_member(const slim_mls_tree *t, uint32_t leaf) {
    if (leaf >= t->n_leaves)
        return SLIM_E_MLS_TREE_INDEX;
    return t->nodes[2 * (size_t)leaf] != NULL ? SLIM_OK : SLIM_E_MLS_TREE_LEAF_BLANK;
}

slim_status slim_mls_tree_blank_path(slim_mls_tree *t, uint32_t leaf) {
    if (leaf >= t->n_leaves)
        return SLIM_E_MLS_TREE_INDEX;
    uint32_t r = root(t);
    for (uint32_t x = 2 * leaf; x != r;) {
        x = parent(x);
        if (t->nodes[x] != NULL)
            put(t, x, NULL);
    }
    return SLIM_OK;
}

slim_status slim_mls_tree_update(slim_mls_tree *t, uint32_t leaf, const slim_mls_leaf_node *ln) {
    slim_status st = check_member(t, leaf);
    tnode *lb = NULL;
    if (st == SLIM_OK)
        st = leaf_block(ln, &lb);
    if (st != SLIM_OK)
        return st;
    put(t, 2 * leaf, lb);
    return slim_mls_tree_blank_path(t, leaf);
}

/* Halves the tree while the right half of its leaves is blank. */
static void truncate(slim_mls_tree *t) {
    while (t->n_leaves > 1) {
        uint32_t half = t->n_leaves / 2;
        for (uint32_t l = half; l < t->n_leaves; l++) {
            if (t->nodes[2 * (size_t)l] != NULL)
                return;
        }
        for (uint32_t x = width(half); x < width(t->n_leaves); x++) {
            tnode_unref(t->nodes[x]);
            t->nodes[x] = NULL;
            t->hash_ok[x] = 0;
            set_prefix(t, x, NULL);
        }
        t->n_leaves = half;
    }
}

slim_status slim_mls_tree_remove(slim_mls_tree *t, uint32_t leaf) {
    slim_status st = check_member(t, leaf);
    if (st != SLIM_OK)
        return st;
    put(t, 2 * leaf, NULL);
    slim_mls_tree_blank_path(t, leaf);
    truncate(t);
    return SLIM_OK;
}

slim_status slim_mls_tree_set_nodes(slim_mls_tree *t, const uint32_t *slots,
                                    const slim_mls_node *const *nodes, size_t n) {
    tnode *blocks[2 * SLIM_MLS_TREE_MAX_DEPTH + 2];
    if (n > SLIM_ARRAY_LEN(blocks))
        return SLIM_E_INVALID_ARG;
    slim_status st = SLIM_OK;
    size_t made = 0;
    for (; made < n && st == SLIM_OK; made++) {
        blocks[made] = NULL;
        if (slots[made] >= width(t->n_leaves)) {
            st = SLIM_E_MLS_TREE_INDEX;
        } else if (nodes[made] != NULL) {
            uint8_t want = level(slots[made]) == 0 ? SLIM_MLS_NODE_LEAF : SLIM_MLS_NODE_PARENT;
            st = nodes[made]->type == want ? tnode_from_node(nodes[made], &blocks[made])
                                           : SLIM_E_MLS_BAD_NODE_TYPE;
        }
    }
    if (st != SLIM_OK) {
        for (size_t i = 0; i < made; i++)
            tnode_unref(blocks[i]);
        return st;
    }
    for (size_t i = 0; i < n; i++)
        put(t, slots[i], blocks[i]);
    return SLIM_OK;
}

slim_status slim_mls_tree_set_node(slim_mls_tree *t, uint32_t node, const slim_mls_node *n) {
    return slim_mls_tree_set_nodes(t, &node, &n, 1);
}
