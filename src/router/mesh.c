/*
 * What only a node among nodes does (docs/protocol.md, "Subscriptions
 * between nodes" and "Duplicates and loops"): subscriptions propagated to
 * the other nodes with network-wide ids, the bounded set of ids already
 * seen, the routes' reasons withdrawn when a connection goes, the replay of
 * subscriptions to a link that comes up, and the duplicate filter for
 * broadcasts that come round a loop. Static subscriptions (reason
 * SLIM_FWD_STATIC_REASON, see forwarder.h) are never sent to other nodes,
 * and that reason is refused from them. An application's router leaves
 * `propagate` and `dedupe` off and never gets here.
 */
#include "router/fwd_int.h"
#include "core/alloc.h"
#include "core/khash.h"
#include "core/log.h"

#include <string.h>

/* ---- bounded remembered sets ---- */

slim_status slim_fwd__ring_init(ring *r, uint32_t cap) {
    r->slots = slim_calloc(cap, sizeof *r->slots);
    r->cap = cap;
    r->head = 0;
    return r->slots ? SLIM_OK : SLIM_E_NOMEM;
}

/* Entries stored in rings are allocated with their hnode first, so the node
 * pointer is the allocation. */
void slim_fwd__ring_cleanup(ring *r, slim_hmap *m) {
    for (uint32_t i = 0; r->slots != NULL && i < r->cap; i++) {
        if (r->slots[i] != NULL) {
            slim_hmap_remove(m, r->slots[i]);
            slim_free(r->slots[i]);
        }
    }
    slim_free(r->slots);
    r->slots = NULL;
}

/* Puts n in the next slot, evicting the oldest entry when full. */
static uint32_t ring_put(ring *r, slim_hmap *m, slim_hnode *n) {
    uint32_t slot = r->head;
    if (r->slots[slot] != NULL) {
        slim_hmap_remove(m, r->slots[slot]);
        slim_free(r->slots[slot]);
    }
    r->slots[slot] = n;
    r->head = (r->head + 1) % r->cap;
    return slot;
}

typedef struct seen_key {
    uint64_t id;
    bool unsub;
} seen_key;

static int seen_eq(const slim_hnode *n, const void *key) {
    const seen_entry *e = (const seen_entry *)n;
    const seen_key *k = key;
    return e->id == k->id && e->unsub == k->unsub;
}

static uint64_t seen_hash(uint64_t id, bool unsub) {
    const uint64_t w[2] = {id, unsub};
    return slim_khash_words(w, 2);
}

static seen_entry *seen_find(const slim_fwd *f, uint64_t id, bool unsub) {
    seen_key k = {id, unsub};
    return (seen_entry *)slim_hmap_find(&f->seen, seen_hash(id, unsub), seen_eq, &k);
}

/* Remembers (id, kind); an allocation failure only means a relay may be
 * repeated, which the receivers absorb. */
static void seen_mark(slim_fwd *f, uint64_t id, bool unsub, bool self) {
    seen_entry *e = seen_find(f, id, unsub);
    if (e != NULL) {
        e->self = e->self || self;
        return;
    }
    e = slim_calloc(1, sizeof *e);
    if (e == NULL)
        return;
    e->id = id;
    e->unsub = unsub;
    e->self = self;
    slim_hmap_insert(&f->seen, &e->node, seen_hash(id, unsub));
    e->slot = ring_put(&f->seen_ring, &f->seen, &e->node);
}

static void seen_forget(slim_fwd *f, uint64_t id, bool unsub) {
    seen_entry *e = seen_find(f, id, unsub);
    if (e == NULL)
        return;
    slim_hmap_remove(&f->seen, &e->node);
    f->seen_ring.slots[e->slot] = NULL;
    slim_free(e);
}

static uint64_t dup_hash(const slim_peek *p) {
    const slim_name *s = &p->source, *d = &p->destination;
    const uint64_t w[12] = {s->component[0],
                            s->component[1],
                            s->component[2],
                            s->id.hi,
                            s->id.lo,
                            d->component[0],
                            d->component[1],
                            d->component[2],
                            d->id.hi,
                            d->id.lo,
                            (uint64_t)p->session_id << 32 | p->message_id,
                            p->message_type};
    return slim_khash_words(w, 12);
}

static int dup_eq(const slim_hnode *n, const void *key) {
    const dup_entry *e = (const dup_entry *)n;
    const slim_peek *p = key;
    return e->session_id == p->session_id && e->message_id == p->message_id &&
           e->message_type == p->message_type && slim_name_equal(&e->source, &p->source) &&
           slim_name_equal(&e->destination, &p->destination);
}

/* True when the publish was seen within the window; remembers it. */
bool slim_fwd__duplicate(slim_fwd *f, const slim_peek *p, uint64_t now) {
    uint64_t h = dup_hash(p);
    dup_entry *e = (dup_entry *)slim_hmap_find(&f->dups, h, dup_eq, p);
    if (e != NULL) {
        bool dup = now - e->at_ms <= f->dedupe_window_ms && now >= e->at_ms;
        e->at_ms = now;
        return dup;
    }
    e = slim_calloc(1, sizeof *e);
    if (e == NULL)
        return false;
    e->source = p->source;
    e->destination = p->destination;
    e->session_id = p->session_id;
    e->message_id = p->message_id;
    e->message_type = p->message_type;
    e->at_ms = now;
    slim_hmap_insert(&f->dups, &e->node, h);
    e->slot = ring_put(&f->dup_ring, &f->dups, &e->node);
    return false;
}

/* ---- propagation between nodes ---- */

/* An encoded (Un)Subscribe from this node for name, with `id`. */
static slim_rcbuf *sub_message(slim_fwd *f, const slim_name *name, const slim_str *text,
                               uint64_t id, bool unsub, uint32_t ttl) {
    slim_wire_header_spec h = {
        .source = {&f->self_name, NULL}, .destination = {name, text}, .fanout = 1, .ttl = ttl};
    slim_msg *m = NULL;
    slim_rcbuf *b = NULL;
    f->scratch.len = 0;
    if (slim_wire_subscribe_new(&h, id, unsub, &m) == SLIM_OK &&
        slim_wire_encode(m, SIZE_MAX, &f->scratch) == SLIM_OK)
        b = slim_rcbuf_copy(f->scratch.data, f->scratch.len);
    slim_wire_free(m);
    return b;
}

/* Sends (un)subscription `id` for name to every ready node link but
 * `except` (when has_except). */
static void propagate(slim_fwd *f, const slim_name *name, const slim_str *text, uint64_t id,
                      bool unsub, uint32_t ttl, bool has_except, uint64_t except) {
    slim_rcbuf *b = NULL;
    slim_hmap_iter it;
    for (slim_hnode *n = slim_hmap_first(&f->conns, &it); n; n = slim_hmap_next(&f->conns, &it)) {
        const fwd_conn *c = SLIM_CONTAINER_OF(n, fwd_conn, node);
        if (c->state != READY || c->kind != SLIM_CONN_NODE || (has_except && c->id == except))
            continue;
        if (b == NULL && (b = sub_message(f, name, text, id, unsub, ttl)) == NULL) {
            f->c.drop_other++;
            return;
        }
        if (slim_fwd__send_buf(f, c->id, b) == SLIM_OK)
            f->c.subs_propagated++;
    }
    slim_rcbuf_unref(b);
}

/* A new node link gets every subscription this node holds elsewhere. */
typedef struct replay_ctx {
    slim_fwd *f;
    uint64_t to;
} replay_ctx;

static void replay_one(uint64_t conn, const slim_name *name, const uint64_t *reasons, size_t n,
                       void *ud) {
    replay_ctx *rc = ud;
    if (conn == rc->to)
        return;
    for (size_t i = 0; i < n; i++) {
        if (reasons[i] == SLIM_FWD_STATIC_REASON)
            continue; /* static subscriptions stay on this node */
        slim_rcbuf *b = sub_message(rc->f, name, NULL, reasons[i], false, SLIM_WIRE_DEFAULT_TTL);
        if (b == NULL) {
            rc->f->c.drop_other++;
            continue;
        }
        if (slim_fwd__send_buf(rc->f, rc->to, b) == SLIM_OK)
            rc->f->c.subs_replayed++;
        slim_rcbuf_unref(b);
    }
}

void slim_fwd__replay(slim_fwd *f, uint64_t to) {
    replay_ctx rc = {f, to};
    slim_router_foreach(f->router, replay_one, &rc);
}

/* The subscriptions a vanished connection held are withdrawn from the other
 * nodes, each reason once nothing else on this node holds it. */
typedef struct withdrawn {
    slim_name name;
    uint64_t reason;
} withdrawn;

typedef struct withdraw_ctx {
    withdrawn *items;
    size_t n, cap;
    bool failed;
} withdraw_ctx;

static void collect_withdrawn(const slim_name *name, const uint64_t *reasons, size_t n, void *ud) {
    withdraw_ctx *w = ud;
    for (size_t i = 0; i < n; i++) {
        if (w->n == w->cap) {
            size_t cap = w->cap ? w->cap * 2 : 16;
            withdrawn *p = slim_realloc(w->items, cap * sizeof *p);
            if (p == NULL) {
                w->failed = true;
                return;
            }
            w->items = p;
            w->cap = cap;
        }
        w->items[w->n++] = (withdrawn){*name, reasons[i]};
    }
}

void slim_fwd__withdraw_conn(slim_fwd *f, uint64_t conn) {
    withdraw_ctx w = {0};
    if (slim_router_conn_remove_each(f->router, conn, collect_withdrawn, &w, NULL) != SLIM_OK)
        return;
    if (w.failed)
        SLIM_LOGW(MOD,
                  "connection %llu: out of memory listing its subscriptions; some stay "
                  "advertised to other nodes",
                  (unsigned long long)conn);
    for (size_t i = 0; i < w.n; i++) {
        if (w.items[i].reason == SLIM_FWD_STATIC_REASON ||
            slim_router_reason_held(f->router, &w.items[i].name, w.items[i].reason, conn))
            continue;
        seen_forget(f, w.items[i].reason, false);
        seen_mark(f, w.items[i].reason, true, true);
        propagate(f, &w.items[i].name, NULL, w.items[i].reason, true, SLIM_WIRE_DEFAULT_TTL, false,
                  0);
    }
    slim_free(w.items);
}

static uint64_t fresh_id(slim_fwd *f) {
    uint64_t id;
    do
        id = f->ops.random64(f->ud);
    while (id == 0 || id == SLIM_FWD_STATIC_REASON);
    return id;
}

/* A (un)subscription from an application on this node. */
slim_status slim_fwd__from_app(slim_fwd *f, uint64_t target, const slim_name *name,
                               const slim_str *text, uint64_t id, bool unsub) {
    if (!unsub) {
        if (slim_router_is_subscribed(f->router, target, name))
            return SLIM_OK;
        uint64_t pid = id != 0 && id != SLIM_FWD_STATIC_REASON ? id : fresh_id(f);
        slim_status st = slim_router_subscribe_reason(f->router, target, name, pid);
        if (st != SLIM_OK)
            return st;
        seen_forget(f, pid, true);
        seen_mark(f, pid, false, true);
        propagate(f, name, text, pid, false, SLIM_WIRE_DEFAULT_TTL, false, 0);
        return SLIM_OK;
    }
    const uint64_t *rs;
    size_t n;
    slim_router_reasons(f->router, target, name, &rs, &n);
    uint64_t reasons[8];
    size_t keep = n < 8 ? n : 8; /* an application subscription has one */
    if (keep > 0)
        memcpy(reasons, rs, keep * sizeof *reasons);
    slim_status st = slim_router_unsubscribe(f->router, target, name);
    if (st != SLIM_OK)
        return st;
    for (size_t i = 0; i < keep; i++) {
        if (reasons[i] == SLIM_FWD_STATIC_REASON ||
            slim_router_reason_held(f->router, name, reasons[i], target))
            continue;
        seen_forget(f, reasons[i], false);
        seen_mark(f, reasons[i], true, true);
        propagate(f, name, text, reasons[i], true, SLIM_WIRE_DEFAULT_TTL, false, 0);
    }
    return SLIM_OK;
}

/* A (un)subscription another node propagated to this one. */
slim_status slim_fwd__from_node(slim_fwd *f, fwd_conn *fc, const slim_name *name,
                                const slim_str *text, uint64_t id, bool unsub, uint32_t ttl) {
    if (id == SLIM_FWD_STATIC_REASON)
        return SLIM_E_INVALID_ARG; /* reserved for this node's static subscriptions */
    if (!unsub) {
        uint64_t rid = id ? id : fresh_id(f);
        const seen_entry *se = seen_find(f, rid, false);
        if (se != NULL && se->self)
            return SLIM_OK; /* our own subscription came back round a loop */
        slim_status st = slim_router_subscribe_reason(f->router, fc->id, name, rid);
        if (st != SLIM_OK)
            return st;
        if (se != NULL) {
            f->c.subs_seen++;
            return SLIM_OK;
        }
        seen_forget(f, rid, true);
        seen_mark(f, rid, false, false);
        propagate(f, name, text, rid, false, ttl, true, fc->id);
        return SLIM_OK;
    }
    if (id == 0)
        return slim_router_unsubscribe(f->router, fc->id, name);
    slim_status st = slim_router_unsubscribe_reason(f->router, fc->id, name, id, NULL);
    if (seen_find(f, id, true) != NULL) {
        f->c.subs_seen++;
        return st;
    }
    seen_forget(f, id, false);
    seen_mark(f, id, true, false);
    propagate(f, name, text, id, true, ttl, true, fc->id);
    return st;
}
