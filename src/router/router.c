/*
 * Tables:
 *  - services: one entry per three-component name (hashes), holding the ids
 *    subscribed under it and the anycast round-robin cursor;
 *  - idents: one entry per full name (components + id), holding the list of
 *    subscribed connections, for O(1) exact-id lookup;
 *  - conns: one entry per connection, holding its subscriptions in order.
 * A subscription record sits in two intrusive lists: its ident's and its
 * connection's, so removing either side is O(1) per record.
 */
#include "router/router.h"
#include "core/alloc.h"
#include "core/hmap.h"
#include "core/khash.h"

#include <string.h>

typedef struct conn_rec conn_rec;
typedef struct ident_rec ident_rec;
typedef struct service_rec service_rec;

typedef struct sub_rec {
    conn_rec *conn;
    ident_rec *ident;
    uint64_t *reasons; /* see router.h; usually one */
    uint32_t nreasons, reasons_cap;
    struct sub_rec *ident_prev, *ident_next;
    struct sub_rec *conn_prev, *conn_next;
} sub_rec;

struct conn_rec {
    slim_hnode node;
    uint64_t id;
    slim_conn_kind kind;
    sub_rec *subs_head, *subs_tail;
    size_t nsubs;
    uint64_t stamp; /* last match pass that selected this connection */
};

struct ident_rec {
    slim_hnode node;
    slim_name name;
    service_rec *service;
    ident_rec *svc_prev, *svc_next;
    sub_rec *head, *tail;
    size_t nsubs;
};

struct service_rec {
    slim_hnode node;
    uint64_t component[3];
    ident_rec *head, *tail;
    uint32_t rr;
};

struct slim_router {
    slim_hmap conns, idents, services;
    size_t max_subs;
    size_t nsubs;
    uint64_t stamp;
    uint64_t *out;
    size_t out_cap;
    conn_rec **scratch;
    size_t scratch_cap;
};

const char *slim_conn_kind_name(slim_conn_kind k) {
    switch (k) {
    case SLIM_CONN_LOCAL:
        return "local";
    case SLIM_CONN_EDGE:
        return "edge";
    case SLIM_CONN_NODE:
        return "node";
    }
    return "unknown";
}

/* ---- hashing and lookup ---- */

static uint64_t service_hash(const uint64_t c[3]) {
    return slim_khash_words(c, 3);
}

static int conn_eq(const slim_hnode *n, const void *key) {
    return SLIM_CONTAINER_OF(n, conn_rec, node)->id == *(const uint64_t *)key;
}

static int ident_eq(const slim_hnode *n, const void *key) {
    return slim_name_equal(&SLIM_CONTAINER_OF(n, ident_rec, node)->name, key);
}

static int service_eq(const slim_hnode *n, const void *key) {
    const uint64_t *c = key;
    const service_rec *s = SLIM_CONTAINER_OF(n, service_rec, node);
    return s->component[0] == c[0] && s->component[1] == c[1] && s->component[2] == c[2];
}

static conn_rec *find_conn(const slim_router *r, uint64_t id) {
    slim_hnode *n = slim_hmap_find(&r->conns, slim_mix64(id), conn_eq, &id);
    return n ? SLIM_CONTAINER_OF(n, conn_rec, node) : NULL;
}

static ident_rec *find_ident(const slim_router *r, const slim_name *name) {
    slim_hnode *n = slim_hmap_find(&r->idents, slim_name_hash(name), ident_eq, name);
    return n ? SLIM_CONTAINER_OF(n, ident_rec, node) : NULL;
}

static service_rec *find_service(const slim_router *r, const uint64_t c[3]) {
    slim_hnode *n = slim_hmap_find(&r->services, service_hash(c), service_eq, c);
    return n ? SLIM_CONTAINER_OF(n, service_rec, node) : NULL;
}

static sub_rec *find_sub(const ident_rec *id, const conn_rec *c) {
    /* Walk the shorter of the two lists. */
    if (id->nsubs <= c->nsubs) {
        for (sub_rec *s = id->head; s != NULL; s = s->ident_next)
            if (s->conn == c)
                return s;
    } else {
        for (sub_rec *s = c->subs_head; s != NULL; s = s->conn_next)
            if (s->ident == id)
                return s;
    }
    return NULL;
}

/* ---- lifecycle ---- */

slim_status slim_router_new(const slim_router_config *cfg, slim_router **out) {
    slim_router *r = slim_calloc(1, sizeof *r);
    if (r == NULL)
        return SLIM_E_NOMEM;
    if (slim_hmap_init(&r->conns, 16) != SLIM_OK || slim_hmap_init(&r->idents, 64) != SLIM_OK ||
        slim_hmap_init(&r->services, 64) != SLIM_OK) {
        slim_router_free(r);
        return SLIM_E_NOMEM;
    }
    r->max_subs = cfg && cfg->max_subscriptions_per_conn ? cfg->max_subscriptions_per_conn
                                                         : SLIM_ROUTER_DEFAULT_MAX_SUBS;
    *out = r;
    return SLIM_OK;
}

static void drop_sub(slim_router *r, sub_rec *s);

void slim_router_free(slim_router *r) {
    if (r == NULL)
        return;
    if (r->conns.buckets != NULL) {
        slim_hmap_iter it;
        for (slim_hnode *n = slim_hmap_first(&r->conns, &it); n;
             n = slim_hmap_next(&r->conns, &it)) {
            conn_rec *c = SLIM_CONTAINER_OF(n, conn_rec, node);
            while (c->subs_head != NULL)
                drop_sub(r, c->subs_head);
            slim_hmap_remove(&r->conns, n);
            slim_free(c);
        }
    }
    slim_hmap_cleanup(&r->conns);
    slim_hmap_cleanup(&r->idents);
    slim_hmap_cleanup(&r->services);
    slim_free(r->out);
    slim_free(r->scratch);
    slim_free(r);
}

slim_status slim_router_conn_add(slim_router *r, uint64_t id, slim_conn_kind kind) {
    if (find_conn(r, id) != NULL)
        return SLIM_E_EXISTS;
    conn_rec *c = slim_calloc(1, sizeof *c);
    if (c == NULL)
        return SLIM_E_NOMEM;
    c->id = id;
    c->kind = kind;
    slim_hmap_insert(&r->conns, &c->node, slim_mix64(id));
    return SLIM_OK;
}

slim_status slim_router_conn_remove(slim_router *r, uint64_t id, size_t *removed) {
    return slim_router_conn_remove_each(r, id, NULL, NULL, removed);
}

slim_status slim_router_conn_remove_each(slim_router *r, uint64_t id,
                                         void (*fn)(const slim_name *name, const uint64_t *reasons,
                                                    size_t n, void *ud),
                                         void *ud, size_t *removed) {
    conn_rec *c = find_conn(r, id);
    if (c == NULL)
        return SLIM_E_ROUTER_UNKNOWN_CONNECTION;
    size_t n = c->nsubs;
    while (c->subs_head != NULL) {
        sub_rec *s = c->subs_head;
        if (fn != NULL)
            fn(&s->ident->name, s->reasons, s->nreasons, ud);
        drop_sub(r, s);
    }
    slim_hmap_remove(&r->conns, &c->node);
    slim_free(c);
    if (removed != NULL)
        *removed = n;
    return SLIM_OK;
}

slim_status slim_router_conn_kind(const slim_router *r, uint64_t id, slim_conn_kind *out) {
    const conn_rec *c = find_conn(r, id);
    if (c == NULL)
        return SLIM_E_ROUTER_UNKNOWN_CONNECTION;
    *out = c->kind;
    return SLIM_OK;
}

/* ---- subscriptions ---- */

/* Finds or creates conn's subscription to name. */
static slim_status get_sub(slim_router *r, uint64_t conn, const slim_name *name, sub_rec **out) {
    conn_rec *c = find_conn(r, conn);
    if (c == NULL)
        return SLIM_E_ROUTER_UNKNOWN_CONNECTION;
    ident_rec *id = find_ident(r, name);
    sub_rec *found = id != NULL ? find_sub(id, c) : NULL;
    if (found != NULL) {
        *out = found;
        return SLIM_OK;
    }
    if (c->nsubs >= r->max_subs)
        return SLIM_E_ROUTER_SUBSCRIPTION_LIMIT;

    sub_rec *s = slim_calloc(1, sizeof *s);
    if (s == NULL)
        return SLIM_E_NOMEM;
    service_rec *svc = NULL;
    if (id == NULL) {
        svc = find_service(r, name->component);
        service_rec *new_svc = NULL;
        if (svc == NULL) {
            new_svc = svc = slim_calloc(1, sizeof *svc);
            if (svc == NULL) {
                slim_free(s);
                return SLIM_E_NOMEM;
            }
            memcpy(svc->component, name->component, sizeof svc->component);
        }
        id = slim_calloc(1, sizeof *id);
        if (id == NULL) {
            slim_free(new_svc);
            slim_free(s);
            return SLIM_E_NOMEM;
        }
        if (new_svc != NULL)
            slim_hmap_insert(&r->services, &new_svc->node, service_hash(name->component));
        id->name = *name;
        id->service = svc;
        id->svc_prev = svc->tail;
        if (svc->tail)
            svc->tail->svc_next = id;
        else
            svc->head = id;
        svc->tail = id;
        slim_hmap_insert(&r->idents, &id->node, slim_name_hash(name));
    }
    s->conn = c;
    s->ident = id;
    s->ident_prev = id->tail;
    if (id->tail)
        id->tail->ident_next = s;
    else
        id->head = s;
    id->tail = s;
    id->nsubs++;
    s->conn_prev = c->subs_tail;
    if (c->subs_tail)
        c->subs_tail->conn_next = s;
    else
        c->subs_head = s;
    c->subs_tail = s;
    c->nsubs++;
    r->nsubs++;
    *out = s;
    return SLIM_OK;
}

slim_status slim_router_subscribe(slim_router *r, uint64_t conn, const slim_name *name) {
    sub_rec *s;
    return get_sub(r, conn, name, &s);
}

static long reason_index(const sub_rec *s, uint64_t reason) {
    for (uint32_t i = 0; i < s->nreasons; i++)
        if (s->reasons[i] == reason)
            return (long)i;
    return -1;
}

slim_status slim_router_subscribe_reason(slim_router *r, uint64_t conn, const slim_name *name,
                                         uint64_t reason) {
    if (reason == 0)
        return SLIM_E_INVALID_ARG;
    sub_rec *s;
    bool existed = slim_router_is_subscribed(r, conn, name);
    slim_status st = get_sub(r, conn, name, &s);
    if (st != SLIM_OK || reason_index(s, reason) >= 0)
        return st;
    if (s->nreasons == s->reasons_cap) {
        uint32_t cap = s->reasons_cap ? s->reasons_cap * 2 : 1;
        uint64_t *p = slim_realloc(s->reasons, cap * sizeof *p);
        if (p == NULL) {
            if (!existed)
                drop_sub(r, s);
            return SLIM_E_NOMEM;
        }
        s->reasons = p;
        s->reasons_cap = cap;
    }
    s->reasons[s->nreasons++] = reason;
    return SLIM_OK;
}

slim_status slim_router_unsubscribe_reason(slim_router *r, uint64_t conn, const slim_name *name,
                                           uint64_t reason, bool *removed) {
    conn_rec *c = find_conn(r, conn);
    if (c == NULL)
        return SLIM_E_ROUTER_UNKNOWN_CONNECTION;
    ident_rec *id = find_ident(r, name);
    sub_rec *s = id ? find_sub(id, c) : NULL;
    long i = s ? reason_index(s, reason) : -1;
    if (i < 0)
        return SLIM_E_ROUTER_NO_SUCH_SUBSCRIPTION;
    s->reasons[i] = s->reasons[--s->nreasons];
    bool gone = s->nreasons == 0;
    if (gone)
        drop_sub(r, s);
    if (removed != NULL)
        *removed = gone;
    return SLIM_OK;
}

void slim_router_reasons(const slim_router *r, uint64_t conn, const slim_name *name,
                         const uint64_t **reasons, size_t *n) {
    const conn_rec *c = find_conn(r, conn);
    const ident_rec *id = c ? find_ident(r, name) : NULL;
    const sub_rec *s = id ? find_sub(id, c) : NULL;
    *reasons = s ? s->reasons : NULL;
    *n = s ? s->nreasons : 0;
}

bool slim_router_reason_held(const slim_router *r, const slim_name *name, uint64_t reason,
                             uint64_t except) {
    const ident_rec *id = find_ident(r, name);
    for (const sub_rec *s = id ? id->head : NULL; s != NULL; s = s->ident_next)
        if (s->conn->id != except && reason_index(s, reason) >= 0)
            return true;
    return false;
}

void slim_router_foreach(const slim_router *r,
                         void (*fn)(uint64_t conn, const slim_name *name, const uint64_t *reasons,
                                    size_t n, void *ud),
                         void *ud) {
    slim_hmap_iter it;
    for (slim_hnode *n = slim_hmap_first(&r->conns, &it); n; n = slim_hmap_next(&r->conns, &it)) {
        const conn_rec *c = SLIM_CONTAINER_OF(n, conn_rec, node);
        for (const sub_rec *s = c->subs_head; s != NULL; s = s->conn_next)
            fn(c->id, &s->ident->name, s->reasons, s->nreasons, ud);
    }
}

/* Unlinks and frees a subscription, and its ident and service when empty. */
static void drop_sub(slim_router *r, sub_rec *s) {
    conn_rec *c = s->conn;
    ident_rec *id = s->ident;
    if (s->conn_prev)
        s->conn_prev->conn_next = s->conn_next;
    else
        c->subs_head = s->conn_next;
    if (s->conn_next)
        s->conn_next->conn_prev = s->conn_prev;
    else
        c->subs_tail = s->conn_prev;
    c->nsubs--;
    if (s->ident_prev)
        s->ident_prev->ident_next = s->ident_next;
    else
        id->head = s->ident_next;
    if (s->ident_next)
        s->ident_next->ident_prev = s->ident_prev;
    else
        id->tail = s->ident_prev;
    id->nsubs--;
    r->nsubs--;
    slim_free(s->reasons);
    slim_free(s);
    if (id->nsubs > 0)
        return;
    service_rec *svc = id->service;
    if (id->svc_prev)
        id->svc_prev->svc_next = id->svc_next;
    else
        svc->head = id->svc_next;
    if (id->svc_next)
        id->svc_next->svc_prev = id->svc_prev;
    else
        svc->tail = id->svc_prev;
    slim_hmap_remove(&r->idents, &id->node);
    slim_free(id);
    if (svc->head == NULL) {
        slim_hmap_remove(&r->services, &svc->node);
        slim_free(svc);
    }
}

slim_status slim_router_unsubscribe(slim_router *r, uint64_t conn, const slim_name *name) {
    conn_rec *c = find_conn(r, conn);
    if (c == NULL)
        return SLIM_E_ROUTER_UNKNOWN_CONNECTION;
    ident_rec *id = find_ident(r, name);
    sub_rec *s = id ? find_sub(id, c) : NULL;
    if (s == NULL)
        return SLIM_E_ROUTER_NO_SUCH_SUBSCRIPTION;
    drop_sub(r, s);
    return SLIM_OK;
}

bool slim_router_is_subscribed(const slim_router *r, uint64_t conn, const slim_name *name) {
    const conn_rec *c = find_conn(r, conn);
    const ident_rec *id = c ? find_ident(r, name) : NULL;
    return id != NULL && find_sub(id, c) != NULL;
}

/* ---- matching ---- */

static slim_status reserve(slim_router *r, size_t n) {
    if (n <= r->out_cap)
        return SLIM_OK;
    size_t cap = r->out_cap ? r->out_cap : 16;
    while (cap < n)
        cap *= 2;
    uint64_t *o = slim_realloc(r->out, cap * sizeof *o);
    if (o == NULL)
        return SLIM_E_NOMEM;
    r->out = o;
    conn_rec **sc = slim_realloc(r->scratch, cap * sizeof *sc);
    if (sc == NULL)
        return SLIM_E_NOMEM;
    r->scratch = sc;
    r->out_cap = cap;
    return SLIM_OK;
}

/* Adds the connections of one ident to the scratch list, once each. */
static slim_status collect(slim_router *r, const ident_rec *id, uint64_t skip, bool has_skip,
                           size_t *n) {
    for (const sub_rec *s = id->head; s != NULL; s = s->ident_next) {
        conn_rec *c = s->conn;
        if ((has_skip && c->id == skip) || c->stamp == r->stamp)
            continue;
        if (reserve(r, *n + 1) != SLIM_OK)
            return SLIM_E_NOMEM;
        c->stamp = r->stamp;
        r->scratch[(*n)++] = c;
    }
    return SLIM_OK;
}

slim_status slim_router_match(slim_router *r, const slim_route_query *q, const uint64_t **conns,
                              size_t *n_out) {
    if (reserve(r, 1) != SLIM_OK)
        return SLIM_E_NOMEM;
    if (q->has_forward_to) {
        if (find_conn(r, q->forward_to) == NULL)
            return SLIM_E_ROUTER_UNKNOWN_CONNECTION;
        if (q->has_incoming && q->forward_to == q->incoming)
            return SLIM_E_ROUTER_NO_ROUTE;
        r->out[0] = q->forward_to;
        *conns = r->out;
        *n_out = 1;
        return SLIM_OK;
    }

    const slim_name *d = q->destination;
    service_rec *svc = find_service(r, d->component);
    if (svc == NULL)
        return SLIM_E_ROUTER_NO_ROUTE;
    r->stamp++;
    size_t n = 0;
    if (slim_id_is_any(d->id)) {
        for (const ident_rec *id = svc->head; id != NULL; id = id->svc_next)
            if (collect(r, id, q->incoming, q->has_incoming, &n) != SLIM_OK)
                return SLIM_E_NOMEM;
    } else {
        const ident_rec *id = find_ident(r, d);
        if (id != NULL && collect(r, id, q->incoming, q->has_incoming, &n) != SLIM_OK)
            return SLIM_E_NOMEM;
    }
    if (n == 0)
        return SLIM_E_ROUTER_NO_ROUTE;

    if (q->fanout != 1) {
        for (size_t i = 0; i < n; i++)
            r->out[i] = r->scratch[i]->id;
        *conns = r->out;
        *n_out = n;
        return SLIM_OK;
    }

    /* Anycast: prefer connections to apps over links to other nodes. */
    size_t near = 0;
    for (size_t i = 0; i < n; i++)
        if (r->scratch[i]->kind != SLIM_CONN_NODE)
            r->scratch[near++] = r->scratch[i];
    /* With no near connection the loop wrote nothing: scratch holds all n. */
    size_t pool = near > 0 ? near : n;
    r->out[0] = r->scratch[svc->rr++ % pool]->id;
    *conns = r->out;
    *n_out = 1;
    return SLIM_OK;
}

/* ---- inspection ---- */

void slim_router_stats_get(const slim_router *r, slim_router_stats *out) {
    out->connections = r->conns.count;
    out->subscriptions = r->nsubs;
    out->names = r->idents.count;
}

size_t slim_router_conn_subscription_count(const slim_router *r, uint64_t conn) {
    const conn_rec *c = find_conn(r, conn);
    return c ? c->nsubs : 0;
}

void slim_router_conn_foreach(const slim_router *r, uint64_t conn,
                              void (*fn)(const slim_name *name, const uint64_t *reasons, size_t n,
                                         void *ud),
                              void *ud) {
    const conn_rec *c = find_conn(r, conn);
    if (c == NULL)
        return;
    for (const sub_rec *s = c->subs_head; s != NULL; s = s->conn_next)
        fn(&s->ident->name, s->reasons, s->nreasons, ud);
}
