/* libFuzzer target: the routing tables against a brute-force model. The
 * input is a script of connection adds and removes, subscriptions (plain
 * and with reasons), unsubscriptions and matches over a few connections and
 * names; after every step the router must agree with the model: the status
 * of each call, subscription counts, reasons, and for a match the exact set
 * of connections of a broadcast, or for an anycast one connection among the
 * candidates that respects LOCAL/EDGE before NODE. */
#include "core/buf.h"
#include "router/router.h"

#include <stdlib.h>
#include <string.h>

#define NCONN   6
#define NNAME   6  /* 3 services x {any id, id 1} */
#define NREASON 4  /* reasons 1..4 */
#define MAXSUBS 4u /* per connection */

typedef struct sub_model {
    bool on;
    uint8_t reasons; /* bit r-1 for reason r */
} sub_model;

typedef struct model {
    bool conn[NCONN + 1];
    slim_conn_kind kind[NCONN + 1];
    sub_model sub[NCONN + 1][NNAME];
} model;

static const char *const services[] = {"o/n/a", "o/n/b", "o/m/a"};

/* NAMES[s][id]: service s with the "any" id (0) or a specific id 1 or 2,
 * parsed once. */
static slim_name NAMES[3][3];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    for (int s = 0; s < 3; s++)
        for (uint64_t id = 0; id < 3; id++) {
            (void)slim_name_parse(services[s], strlen(services[s]), &NAMES[s][id], NULL);
            if (id != 0)
                NAMES[s][id].id = (slim_id){0, id};
        }
    return 0;
}

/* Model name index k: service k / 2, id any (k even) or 1 (k odd). */
static const slim_name *model_name(int k) {
    return &NAMES[k / 2][k & 1];
}

static size_t count(const model *m, int c) {
    size_t n = 0;
    for (int k = 0; k < NNAME; k++)
        n += m->sub[c][k].on;
    return n;
}

static void expect(bool ok) {
    if (!ok)
        abort();
}

static void check_counts(const slim_router *r, const model *m) {
    size_t total = 0, conns = 0;
    for (int c = 1; c <= NCONN; c++) {
        if (!m->conn[c])
            continue;
        conns++;
        total += count(m, c);
        expect(slim_router_conn_subscription_count(r, (uint64_t)c) == count(m, c));
        for (int k = 0; k < NNAME; k++) {
            const slim_name *nm = model_name(k);
            expect(slim_router_is_subscribed(r, (uint64_t)c, nm) == m->sub[c][k].on);
            const uint64_t *reasons;
            size_t n;
            slim_router_reasons(r, (uint64_t)c, nm, &reasons, &n);
            uint8_t got = 0;
            for (size_t i = 0; i < n; i++) {
                expect(reasons[i] >= 1 && reasons[i] <= NREASON);
                expect(!(got & (1u << (reasons[i] - 1)))); /* each once */
                got |= (uint8_t)(1u << (reasons[i] - 1));
            }
            expect(got == m->sub[c][k].reasons);
        }
    }
    slim_router_stats st;
    slim_router_stats_get(r, &st);
    expect(st.connections == conns && st.subscriptions == total);
}

/* Checks the status of a subscribe of connection c (model entry s) and
 * applies it to the model; true when it succeeded. */
static bool subscribed(model *m, int c, sub_model *s, slim_status st) {
    if (!m->conn[c]) {
        expect(st == SLIM_E_ROUTER_UNKNOWN_CONNECTION);
        return false;
    }
    if (!s->on && count(m, c) >= MAXSUBS) {
        expect(st == SLIM_E_ROUTER_SUBSCRIPTION_LIMIT);
        return false;
    }
    expect(st == SLIM_OK);
    s->on = true;
    return true;
}

/* The next byte of the script; 0 once it is used up. */
static uint8_t take(slim_reader *s) {
    uint8_t b = 0;
    (void)slim_reader_u8(s, &b);
    return b;
}

static void check_match(slim_router *r, const model *m, uint8_t a, uint8_t b) {
    int service = a % 3;
    uint64_t id = (a / 3) % 3; /* any, 1 or 2 */
    const slim_name *dst = &NAMES[service][id];
    uint64_t in = b % (NCONN + 1); /* 0: no incoming connection */
    bool has_in = in != 0 && m->conn[in];
    slim_route_query q = {.destination = dst,
                          .fanout = (b & 0x80) ? 1 : ((b & 0x40) ? 0 : 256),
                          .incoming = in,
                          .has_incoming = has_in};
    uint64_t fwd = (a >> 4) % (NCONN + 2);
    if (a & 0x80) {
        q.has_forward_to = true;
        q.forward_to = fwd;
    }
    const uint64_t *out;
    size_t n;
    slim_status st = slim_router_match(r, &q, &out, &n);
    if (q.has_forward_to) {
        if (has_in && fwd == in)
            expect(st == SLIM_E_ROUTER_NO_ROUTE);
        else if (fwd == 0 || fwd > NCONN || !m->conn[fwd])
            expect(st == SLIM_E_ROUTER_UNKNOWN_CONNECTION);
        else
            expect(st == SLIM_OK && n == 1 && out[0] == fwd);
        return;
    }
    /* Candidates: subscriptions of the service with the destination's id,
     * or with any id when the destination carries the "any" id. */
    bool cand[NCONN + 1] = {false};
    int ncand = 0;
    bool near = false; /* a LOCAL or EDGE candidate exists */
    for (int c = 1; c <= NCONN; c++) {
        if (!m->conn[c] || (has_in && (uint64_t)c == in))
            continue;
        bool hit = id == 0 ? (m->sub[c][2 * service].on || m->sub[c][2 * service + 1].on)
                           : (id == 1 && m->sub[c][2 * service + 1].on);
        if (hit) {
            cand[c] = true;
            ncand++;
            near |= m->kind[c] != SLIM_CONN_NODE;
        }
    }
    if (ncand == 0) {
        expect(st == SLIM_E_ROUTER_NO_ROUTE);
        return;
    }
    expect(st == SLIM_OK);
    if (q.fanout == 1) {
        expect(n == 1 && out[0] >= 1 && out[0] <= NCONN && cand[out[0]]);
        expect(!near || m->kind[out[0]] != SLIM_CONN_NODE);
        return;
    }
    expect(n == (size_t)ncand);
    bool seen[NCONN + 1] = {false};
    for (size_t i = 0; i < n; i++) {
        expect(out[i] >= 1 && out[i] <= NCONN && cand[out[i]] && !seen[out[i]]);
        seen[out[i]] = true;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    slim_router_config cfg = {.max_subscriptions_per_conn = MAXSUBS};
    slim_router *r = NULL;
    if (slim_router_new(&cfg, &r) != SLIM_OK)
        return 0;
    model m;
    memset(&m, 0, sizeof m);
    slim_reader script;
    slim_reader_init(&script, slim_bytes_of(data, size));
    while (slim_reader_remaining(&script) > 0) {
        uint8_t op = take(&script), a = take(&script);
        int c = a % NCONN + 1;
        int k = (a / NCONN) % NNAME;
        uint64_t reason = (uint64_t)(op >> 4) % NREASON + 1;
        const slim_name *nm = model_name(k);
        sub_model *s = &m.sub[c][k];
        slim_status st;
        switch (op % 8) {
        case 0: { /* add a connection */
            slim_conn_kind kind = (slim_conn_kind)((op >> 3) % 3);
            st = slim_router_conn_add(r, (uint64_t)c, kind);
            expect(st == (m.conn[c] ? SLIM_E_EXISTS : SLIM_OK));
            if (!m.conn[c]) {
                m.conn[c] = true;
                m.kind[c] = kind;
            }
            break;
        }
        case 1: { /* remove it */
            size_t removed = 99;
            st = slim_router_conn_remove(r, (uint64_t)c, &removed);
            if (!m.conn[c]) {
                expect(st == SLIM_E_ROUTER_UNKNOWN_CONNECTION);
                break;
            }
            expect(st == SLIM_OK && removed == count(&m, c));
            m.conn[c] = false;
            memset(m.sub[c], 0, sizeof m.sub[c]);
            break;
        }
        case 2: /* plain subscribe */
            st = slim_router_subscribe(r, (uint64_t)c, nm);
            (void)subscribed(&m, c, s, st);
            break;
        case 3: /* subscribe with a reason */
            st = slim_router_subscribe_reason(r, (uint64_t)c, nm, reason);
            if (subscribed(&m, c, s, st))
                s->reasons |= (uint8_t)(1u << (reason - 1));
            break;
        case 4: /* plain unsubscribe */
            st = slim_router_unsubscribe(r, (uint64_t)c, nm);
            if (!m.conn[c])
                expect(st == SLIM_E_ROUTER_UNKNOWN_CONNECTION);
            else if (!s->on)
                expect(st == SLIM_E_ROUTER_NO_SUCH_SUBSCRIPTION);
            else {
                expect(st == SLIM_OK);
                *s = (sub_model){false, 0};
            }
            break;
        case 5: { /* withdraw a reason */
            bool removed = false;
            st = slim_router_unsubscribe_reason(r, (uint64_t)c, nm, reason, &removed);
            if (!m.conn[c])
                expect(st == SLIM_E_ROUTER_UNKNOWN_CONNECTION);
            else if (!s->on || !(s->reasons & (1u << (reason - 1))))
                expect(st == SLIM_E_ROUTER_NO_SUCH_SUBSCRIPTION);
            else {
                expect(st == SLIM_OK);
                s->reasons &= (uint8_t) ~(1u << (reason - 1));
                s->on = s->reasons != 0;
                expect(removed == !s->on);
            }
            break;
        }
        default: /* match */
            check_match(r, &m, a, take(&script));
            break;
        }
        check_counts(r, &m);
    }
    slim_router_free(r);
    return 0;
}
