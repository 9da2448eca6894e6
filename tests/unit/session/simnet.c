/* The simulated network of simnet.h. */
#include "simnet.h"
#include "core/alloc.h"
#include "mls/pkey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SS_UNUSED(x) (void)(x)

static uint64_t xorshift(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

static double unit(simnet *n) {
    return (double)(xorshift(&n->rng) >> 11) / (double)(1ull << 53);
}

/* Room for one more element in a malloc'd array. */
static bool grow(void **arr, size_t *cap, size_t len, size_t size, size_t first) {
    if (len < *cap)
        return true;
    size_t c = *cap ? *cap * 2 : first;
    void *p = realloc(*arr, c * size);
    if (p == NULL)
        return false;
    *arr = p;
    *cap = c;
    return true;
}

/* ---- the ops of each application ---- */

static uint64_t op_random(void *ud) {
    sim_app *a = ud;
    return xorshift(&a->rng);
}

static bool is_command(const slim_msg *m) {
    if (slim_wire_kind(m) != SLIM_MSG_PUBLISH || m->publish->session == NULL)
        return false;
    uint32_t t = m->publish->session->session_message_type;
    return t >= 5 && t <= 20;
}

static slim_status op_stamp(void *ud, slim_msg *m) {
    sim_app *a = ud;
    slim_pb_header *h = slim_wire_header(m);
    char tok[64];
    snprintf(tok, sizeof tok, "%s:%s", a->bad_token ? "bad" : "tok", a->text[2]);
    h->identity = slim_strndup(tok, strlen(tok));
    if (h->identity == NULL) {
        h->identity = (char *)protobuf_c_empty_string;
        return SLIM_E_NOMEM;
    }
    if (is_command(m) && !a->no_sig) {
        char sig[64];
        int len = snprintf(sig, sizeof sig, "sig:%s", a->text[2]);
        uint8_t *b = slim_malloc((size_t)len);
        if (b == NULL)
            return SLIM_E_NOMEM;
        memcpy(b, sig, (size_t)len);
        h->e2e_header_sig.data = b;
        h->e2e_header_sig.len = (size_t)len;
        h->_e2e_header_sig_case = DATAPLANE__PROTO__V1__SLIMHEADER___E2E_HEADER_SIG_E2E_HEADER_SIG;
    }
    return SLIM_OK;
}

static slim_status op_verify(void *ud, const slim_msg *m, bool need_sig) {
    sim_app *a = ud;
    const slim_pb_header *h = slim_wire_header(m);
    if (a->refuse_all || h == NULL)
        return SLIM_E_GRPC_UNAUTHENTICATED;
    if (a->accept_all)
        return SLIM_OK;
    if (strncmp(h->identity, "tok:", 4) != 0)
        return SLIM_E_GRPC_UNAUTHENTICATED;
    if (need_sig && is_command(m) &&
        (!h->_e2e_header_sig_case || h->e2e_header_sig.len < 4 ||
         memcmp(h->e2e_header_sig.data, "sig:", 4) != 0))
        return SLIM_E_GRPC_UNAUTHENTICATED;
    return SLIM_OK;
}

static void put_be(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get_be(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static slim_status op_mls_self(void *ud, slim_bytes *cred, slim_bytes *priv, uint16_t *suite) {
    sim_app *a = ud;
    put_be(a->cred, a->cred_id.hi);
    put_be(a->cred + 8, a->cred_id.lo);
    put_be(a->cred + 16, a->cred_expired    ? 1
                         : a->cred_valid_ms ? *a->clock + a->cred_valid_ms
                                            : UINT64_MAX);
    memcpy(a->cred + 24, a->sig_pub, sizeof a->sig_pub);
    *cred = slim_bytes_of(a->cred, sizeof a->cred);
    *priv = slim_bytes_of(a->sig_priv, sizeof a->sig_priv);
    *suite = 2;
    return SLIM_OK;
}

static slim_status op_mls_check(void *ud, slim_bytes cred, slim_bytes key, bool fresh,
                                slim_id *app_id) {
    const sim_app *a = ud;
    if (cred.len != 16 + 8 + 65 || key.len != 65 || memcmp(cred.ptr + 24, key.ptr, 65) != 0)
        return SLIM_E_IDENTITY_KEY_MISMATCH;
    if (fresh && get_be(cred.ptr + 16) <= *a->clock)
        return SLIM_E_IDENTITY_EXPIRED;
    *app_id = (slim_id){get_be(cred.ptr), get_be(cred.ptr + 8)};
    return SLIM_OK;
}

/* Wall-clock time: a fixed day plus the simulated clock. */
static uint64_t op_unix_time(void *ud) {
    const sim_app *a = ud;
    return 1800000000u + *a->clock / 1000;
}

/* ---- setup ---- */

void sim_init(simnet *n, uint64_t seed) {
    memset(n, 0, sizeof *n);
    n->now = 1000;
    n->rng = seed ? seed : 1;
    n->delay_min = 1;
    n->delay_max = 1;
    n->dump_dir = getenv("SLIM_SESSION_DUMP");
}

void sim_free(simnet *n) {
    for (int i = 0; i < n->napps; i++) {
        slim_sessions_free(n->apps[i].ss);
        free(n->apps[i].recs);
    }
    for (size_t i = 0; i < n->nev; i++)
        free(n->ev[i].bytes);
    free(n->ev);
    free(n->routes);
    memset(n, 0, sizeof *n);
}

static slim_name make_name(const char *c0, const char *c1, const char *c2, slim_id id) {
    slim_str t[3] = {{c0, strlen(c0)}, {c1, strlen(c1)}, {c2, strlen(c2)}};
    slim_name nm;
    memset(&nm, 0, sizeof nm);
    (void)slim_name_from_strings(t, id, &nm);
    return nm;
}

slim_sname sim_service(const char *c0, const char *c1, const char *c2) {
    slim_sname s;
    memset(&s, 0, sizeof s);
    s.name = make_name(c0, c1, c2, slim_id_any());
    s.text[0] = (slim_str){c0, strlen(c0)};
    s.text[1] = (slim_str){c1, strlen(c1)};
    s.text[2] = (slim_str){c2, strlen(c2)};
    return s;
}

slim_sname sim_sname(const simnet *n, int a) {
    const sim_app *p = &n->apps[a];
    slim_sname s;
    memset(&s, 0, sizeof s);
    s.name = p->name;
    for (int i = 0; i < 3; i++)
        s.text[i] = (slim_str){p->text[i], strlen(p->text[i])};
    return s;
}

/* App i's core, with the MLS ops when it has a key (a->clock set). */
static slim_status app_core(simnet *n, int i, const slim_sessions_config *cfg) {
    sim_app *a = &n->apps[i];
    slim_sessions_config c;
    if (cfg != NULL)
        c = *cfg;
    else
        memset(&c, 0, sizeof c);
    c.local = sim_sname(n, i);
    slim_sessions_ops ops = {
        .ud = a, .random64 = op_random, .stamp = op_stamp, .verify = op_verify};
    if (a->clock != NULL) {
        ops.mls_self = op_mls_self;
        ops.mls_check = op_mls_check;
        ops.unix_time = op_unix_time;
    }
    return slim_sessions_new(&c, &ops, &a->ss);
}

int sim_app_add(simnet *n, const char *c0, const char *c1, const char *c2, uint64_t hi, uint64_t lo,
                const slim_sessions_config *cfg, slim_status *st) {
    if (n->napps == SIM_MAX_APPS)
        return -1;
    int i = n->napps;
    sim_app *a = &n->apps[i];
    memset(a, 0, sizeof *a);
    snprintf(a->text[0], sizeof a->text[0], "%s", c0);
    snprintf(a->text[1], sizeof a->text[1], "%s", c1);
    snprintf(a->text[2], sizeof a->text[2], "%s", c2);
    a->name = make_name(c0, c1, c2, (slim_id){hi, lo});
    a->conn = 100 + (uint64_t)i;
    a->rng = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1) ^ n->rng;
    if (!n->no_mls) {
        a->cred_id = a->name.id;
        if (slim_mls_sig_generate(SLIM_MLS_SIG_ECDSA_P256_SHA256, slim_mls_rng_default(),
                                  a->sig_priv, a->sig_pub) == SLIM_OK)
            a->clock = &n->now; /* it has MLS ops */
    }
    slim_status s = app_core(n, i, cfg);
    if (st != NULL)
        *st = s;
    if (s != SLIM_OK)
        return -1;
    n->napps++;
    return i;
}

static void ev_heapify(simnet *n);

slim_status sim_app_restart(simnet *n, int a, const slim_sessions_config *cfg) {
    sim_app *p = &n->apps[a];
    slim_sessions_free(p->ss);
    p->ss = NULL;
    for (size_t i = 0; i < n->nroutes;) /* the node forgets what it had */
        if (n->routes[i].app == a)
            n->routes[i] = n->routes[--n->nroutes];
        else
            i++;
    for (size_t i = 0; i < n->nev;) /* and what was on its way to it */
        if (n->ev[i].to == a) {
            free(n->ev[i].bytes);
            n->ev[i] = n->ev[--n->nev];
        } else {
            i++;
        }
    ev_heapify(n);
    p->nextra = 0;
    return app_core(n, a, cfg);
}

slim_status sim_app_name(simnet *n, int a, const char *c0, const char *c1, const char *c2) {
    sim_app *p = &n->apps[a];
    if (p->nextra == SIM_MAX_NAMES)
        return SLIM_E_INVALID_ARG;
    slim_sname s = sim_service(c0, c1, c2);
    slim_status st = slim_sessions_add_name(p->ss, &s);
    if (st == SLIM_OK)
        p->extra[p->nextra++] = s.name;
    return st;
}

/* ---- recording ---- */

static void record(simnet *n, sim_app *a, const slim_sout *o) {
    if (!grow((void **)&a->recs, &a->caprecs, a->nrecs, sizeof *a->recs, 64))
        return;
    sim_rec *r = &a->recs[a->nrecs++];
    memset(r, 0, sizeof *r);
    r->kind = o->kind;
    r->session = o->session;
    r->op = o->op;
    r->status = o->status;
    r->message_id = o->message_id;
    r->at = n->now;
    if (o->detail != NULL)
        snprintf(r->detail, sizeof r->detail, "%s", o->detail);
    if (o->kind == SLIM_SOUT_MESSAGE) {
        r->len = o->bytes.len < sizeof r->payload ? o->bytes.len : sizeof r->payload;
        if (r->len)
            memcpy(r->payload, o->bytes.ptr, r->len);
        r->source = o->ctx.source.name;
        r->input_conn = o->ctx.input_conn;
        r->message_id = o->ctx.message_id;
    } else if (o->kind == SLIM_SOUT_LOST || o->kind == SLIM_SOUT_MEMBER) {
        r->source = o->ctx.source.name;
        r->member = o->member;
    }
}

/* ---- the router ---- */

static bool ev_before(const sim_ev *a, const sim_ev *b) {
    return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void ev_sift_down(simnet *n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n->nev && ev_before(&n->ev[l], &n->ev[m]))
            m = l;
        if (r < n->nev && ev_before(&n->ev[r], &n->ev[m]))
            m = r;
        if (m == i)
            return;
        sim_ev t = n->ev[i];
        n->ev[i] = n->ev[m];
        n->ev[m] = t;
        i = m;
    }
}

/* The heap order again, after entries were changed in place. */
static void ev_heapify(simnet *n) {
    for (size_t i = n->nev / 2; i-- > 0;)
        ev_sift_down(n, i);
}

static void ev_push(simnet *n, uint64_t when, int to, uint8_t *bytes, size_t len) {
    if (!grow((void **)&n->ev, &n->capev, n->nev, sizeof *n->ev, 256)) {
        free(bytes);
        return;
    }
    /* a binary heap by (when, seq) */
    size_t i = n->nev++;
    sim_ev ev = {when, n->seq++, to, bytes, len};
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (ev_before(&n->ev[p], &ev))
            break;
        n->ev[i] = n->ev[p];
        i = p;
    }
    n->ev[i] = ev;
}

static sim_ev ev_pop(simnet *n) {
    sim_ev top = n->ev[0];
    n->ev[0] = n->ev[--n->nev];
    ev_sift_down(n, 0);
    return top;
}

/* Encodes m with plain malloc (the network's own memory). */
static uint8_t *encode(const slim_msg *m, size_t *len) {
    size_t sz = dataplane__proto__v1__message__get_packed_size(m);
    uint8_t *b = malloc(sz ? sz : 1);
    if (b != NULL)
        *len = dataplane__proto__v1__message__pack(m, b);
    return b;
}

static void deliver(simnet *n, int from, int to, slim_msg *m, bool impaired) {
    slim_pb_header *h = slim_wire_header(m);
    if (h != NULL) {
        slim_wire_header_clear_hop(h);
        if (from >= 0) {
            h->_incoming_conn_case = DATAPLANE__PROTO__V1__SLIMHEADER___INCOMING_CONN_INCOMING_CONN;
            h->incoming_conn = n->apps[from].conn;
        }
    }
    int copies = 1;
    if (impaired) {
        if ((from >= 0 && n->partition[from][to]) ||
            (n->filter != NULL && n->filter(n, from, to, m)) || unit(n) < n->loss) {
            n->dropped++;
            return;
        }
        if (unit(n) < n->dup)
            copies = 2;
    }
    for (int c = 0; c < copies; c++) {
        size_t len = 0;
        uint8_t *b = encode(m, &len);
        if (b == NULL)
            return;
        uint32_t span = n->delay_max > n->delay_min ? n->delay_max - n->delay_min : 0;
        uint64_t d = n->delay_min + (span ? xorshift(&n->rng) % (span + 1) : 0);
        if (!impaired)
            d = 1;
        ev_push(n, n->now + d, to, b, len);
    }
}

static bool serves(const sim_app *a, const slim_name *d) {
    if (!slim_id_is_any(d->id) && !slim_id_equal(d->id, a->name.id))
        return false;
    if (slim_name_same_service(&a->name, d))
        return true;
    for (int i = 0; i < a->nextra; i++)
        if (slim_name_same_service(&a->extra[i], d))
            return true;
    return false;
}

static int app_by_conn(const simnet *n, uint64_t conn) {
    for (int i = 0; i < n->napps; i++)
        if (n->apps[i].conn == conn)
            return i;
    return -1;
}

static bool has_route(const simnet *n, int a, const slim_name *d) {
    for (size_t i = 0; i < n->nroutes; i++)
        if (n->routes[i].app == a && !n->routes[i].sub && slim_name_equal(&n->routes[i].name, d))
            return true;
    return false;
}

/* fanout > 1: every subscriber of d and every app the sender routes d
 * to, but the sender, once each. */
static int fanout_targets(const simnet *n, int from, const slim_name *d, int out[SIM_MAX_APPS]) {
    bool take[SIM_MAX_APPS] = {false};
    for (size_t i = 0; i < n->nroutes; i++) {
        const sim_route *r = &n->routes[i];
        if (!slim_name_equal(&r->name, d))
            continue;
        if (r->sub)
            take[r->app] = true;
        else if (r->app == from) {
            int to = app_by_conn(n, r->conn);
            if (to >= 0)
                take[to] = true;
        }
    }
    int k = 0;
    for (int i = 0; i < n->napps; i++)
        if (take[i] && i != from)
            out[k++] = i;
    return k;
}

static void error_back(simnet *n, int from, const slim_msg *m) {
    const slim_pb_header *h = m->publish->header;
    const slim_pb_session *s = m->publish->session;
    if (!n->node_errors || h->_error_case || s == NULL)
        return;
    slim_name src, dst;
    if (slim_wire_name_get(h->source, &src) != SLIM_OK ||
        slim_wire_name_get(h->destination, &dst) != SLIM_OK)
        return;
    slim_wire_header_spec hs = {
        .source = {&dst, NULL},
        .destination = {&src, NULL},
        .fanout = 1,
        .ttl = 8,
        .has_error = true,
        .error = true,
    };
    slim_wire_session_spec ss = {s->session_type, s->session_message_type, s->session_id,
                                 s->message_id};
    slim_msg *e = NULL;
    if (slim_wire_publish_new(&hs, &ss, &e) == SLIM_OK &&
        slim_wire_set_app_payload(e, "slim.error", slim_bytes_of("no route", 8)) == SLIM_OK) {
        n->errors_sent++;
        deliver(n, -1, from, e, false);
    }
    slim_wire_free(e);
}

static void dump(simnet *n, int from, slim_bytes b) {
    if (n->dump_dir == NULL)
        return;
    char path[512];
    snprintf(path, sizeof path, "%s/%06u-%s.bin", n->dump_dir, n->dumped++, n->apps[from].text[2]);
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return;
    if (b.len)
        fwrite(b.ptr, 1, b.len, f);
    fclose(f);
}

static void route_change(simnet *n, int from, slim_msg *m) {
    bool unsub = slim_wire_kind(m) == SLIM_MSG_UNSUBSCRIBE;
    uint64_t id = unsub ? m->unsubscribe->subscription_id : m->subscribe->subscription_id;
    slim_pb_header *h = slim_wire_header(m);
    slim_name d;
    bool sub = h != NULL && h->_forward_to_case && !h->_recv_from_case;
    bool ok = h != NULL && (h->_recv_from_case || sub) &&
              slim_wire_name_get(h->destination, &d) == SLIM_OK;
    uint64_t conn = h == NULL ? 0 : sub ? h->forward_to : h->recv_from;
    if (ok && !unsub && !n->refuse_routes) {
        if (!grow((void **)&n->routes, &n->caproutes, n->nroutes, sizeof *n->routes, 16))
            return;
        n->routes[n->nroutes++] = (sim_route){from, d, conn, id, sub};
    } else if (ok && unsub) {
        ok = false;
        for (size_t i = 0; i < n->nroutes; i++)
            if (n->routes[i].app == from && n->routes[i].sub_id == id &&
                slim_name_equal(&n->routes[i].name, &d) && n->routes[i].conn == conn &&
                n->routes[i].sub == sub) {
                n->routes[i] = n->routes[--n->nroutes];
                ok = true;
                break;
            }
    } else {
        ok = false;
    }
    if (id == 0)
        return;
    slim_msg *ack = NULL;
    if (slim_wire_subscription_ack_new(id, ok, ok ? NULL : "refused", &ack) == SLIM_OK)
        deliver(n, -1, from, ack, false);
    slim_wire_free(ack);
}

static void from_app(simnet *n, int from, slim_bytes b) {
    n->sent++;
    dump(n, from, b);
    slim_msg *m = NULL;
    if (slim_wire_decode(b, 1 << 24, &m) != SLIM_OK) {
        n->undecodable++;
        return;
    }
    switch (slim_wire_kind(m)) {
    case SLIM_MSG_SUBSCRIBE:
    case SLIM_MSG_UNSUBSCRIBE:
        route_change(n, from, m);
        break;
    case SLIM_MSG_PUBLISH: {
        slim_pb_header *h = m->publish->header;
        slim_name d;
        if (h == NULL || slim_wire_name_get(h->destination, &d) != SLIM_OK)
            break;
        int to = -1;
        if (h->fanout > 1 && !h->_forward_to_case) {
            int targets[SIM_MAX_APPS];
            int k = fanout_targets(n, from, &d, targets);
            for (int i = 0; i < k; i++)
                deliver(n, from, targets[i], m, true);
            if (k == 0)
                error_back(n, from, m);
            break;
        }
        if (h->_forward_to_case) {
            to = app_by_conn(n, h->forward_to);
        } else if (slim_id_is_any(d.id) || n->loose_routes || has_route(n, from, &d)) {
            int cand[SIM_MAX_APPS], nc = 0;
            for (int i = 0; i < n->napps; i++)
                if (i != from && serves(&n->apps[i], &d))
                    cand[nc++] = i;
            if (nc > 0)
                to = cand[n->rr++ % (uint32_t)nc];
        }
        if (to < 0)
            error_back(n, from, m);
        else
            deliver(n, from, to, m, true);
        break;
    }
    default:
        break;
    }
    slim_wire_free(m);
}

/* ---- driving ---- */

void sim_pump(simnet *n, int a) {
    sim_app *p = &n->apps[a];
    slim_sout o;
    while (slim_sessions_next(p->ss, &o)) {
        if (o.kind == SLIM_SOUT_SEND)
            from_app(n, a, o.bytes);
        else
            record(n, p, &o);
    }
}

void sim_pump_all(simnet *n) {
    for (int i = 0; i < n->napps; i++)
        sim_pump(n, i);
}

bool sim_step(simnet *n, uint64_t until) {
    sim_pump_all(n);
    uint64_t next = UINT64_MAX;
    if (n->nev > 0)
        next = n->ev[0].when;
    for (int i = 0; i < n->napps; i++) {
        uint64_t d = slim_sessions_deadline(n->apps[i].ss);
        if (d < next)
            next = d;
    }
    if (next > until) {
        if (n->now < until)
            n->now = until;
        return false;
    }
    if (next > n->now)
        n->now = next;
    while (n->nev > 0 && n->ev[0].when <= n->now) {
        sim_ev e = ev_pop(n);
        n->delivered++;
        (void)slim_sessions_input(n->apps[e.to].ss, slim_bytes_of(e.bytes, e.len), n->now);
        free(e.bytes);
        sim_pump(n, e.to);
    }
    for (int i = 0; i < n->napps; i++)
        if (slim_sessions_deadline(n->apps[i].ss) <= n->now) {
            slim_sessions_expire(n->apps[i].ss, n->now);
            sim_pump(n, i);
        }
    return true;
}

void sim_run(simnet *n, uint64_t until, bool (*done)(simnet *n, void *ud), void *ud) {
    for (;;) {
        sim_pump_all(n);
        if (done != NULL && done(n, ud))
            return;
        if (!sim_step(n, until))
            return;
    }
}

size_t sim_count(const simnet *n, int a, slim_sout_kind kind, uint64_t session) {
    size_t c = 0;
    const sim_app *p = &n->apps[a];
    for (size_t i = 0; i < p->nrecs; i++)
        c += p->recs[i].kind == kind && (session == 0 || p->recs[i].session == session);
    return c;
}

const sim_rec *sim_find(const simnet *n, int a, slim_sout_kind kind, uint64_t session,
                        size_t from) {
    const sim_app *p = &n->apps[a];
    for (size_t i = from; i < p->nrecs; i++)
        if (p->recs[i].kind == kind && (session == 0 || p->recs[i].session == session))
            return &p->recs[i];
    return NULL;
}

bool sim_serves(const simnet *n, int a, const slim_name *d) {
    return serves(&n->apps[a], d);
}

size_t sim_routes(const simnet *n, int a) {
    size_t c = 0;
    for (size_t i = 0; i < n->nroutes; i++)
        c += n->routes[i].app == a;
    return c;
}

/* ---- what is in flight ---- */

void sim_flight_drop(simnet *n, size_t i) {
    free(n->ev[i].bytes);
    n->ev[i] = n->ev[--n->nev];
    n->dropped++;
    ev_heapify(n);
}

void sim_flight_delay(simnet *n, size_t i, uint64_t when) {
    n->ev[i].when = when < n->now ? n->now : when;
    ev_heapify(n);
}

bool sim_flight_copy(simnet *n, size_t i, uint64_t when) {
    return sim_flight_add(n, n->ev[i].to, slim_bytes_of(n->ev[i].bytes, n->ev[i].len), when);
}

void sim_flight_clear(simnet *n) {
    while (n->nev > 0)
        free(n->ev[--n->nev].bytes);
}

bool sim_flight_add(simnet *n, int to, slim_bytes msg, uint64_t when) {
    uint8_t *b = malloc(msg.len ? msg.len : 1);
    if (b == NULL)
        return false;
    if (msg.len)
        memcpy(b, msg.ptr, msg.len);
    size_t before = n->nev;
    ev_push(n, when < n->now ? n->now : when, to, b, msg.len);
    return n->nev > before;
}
