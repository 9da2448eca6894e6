#include "group_util.h"

#include "core/time.h"
#include "node_proc.h"
#include "test.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

slim_app *group_app(const char *name, int port, uint16_t suite) {
    slim_identity_config id = {
        .kind = SLIM_IDENTITY_SHARED_SECRET, .id = name, .secret = GROUP_SECRET};
    slim_app_options o = {.mls_suite = suite};
    return test_app_with(name, &id, &id, &o, port);
}

void member_name(member *m, int i) {
    if (i == 0)
        snprintf(m->name, sizeof m->name, "org/ns/mod");
    else
        snprintf(m->name, sizeof m->name, "org/ns/p%d", i);
}

bool group_invite(member *m, int i) {
    slim_status st = slim_app_set_route(m[0].app, m[i].name, 0, 10000);
    if (st == SLIM_OK)
        st = slim_session_invite(m[0].app, m[0].s, m[i].name, 30000);
    if (st == SLIM_OK)
        st = slim_app_listen(m[i].app, 10000, &m[i].s);
    if (st != SLIM_OK)
        TEST_FAIL_AT("invite of %s: %s", m[i].name, slim_status_name(st));
    return st == SLIM_OK;
}

bool group_start(member *m, int n, const int *ports, const slim_session_options *o,
                 uint16_t suite) {
    memset(m, 0, sizeof *m * (size_t)n);
    for (int i = 0; i < n; i++) {
        member_name(&m[i], i);
        if ((m[i].app = group_app(m[i].name, ports[i], suite)) == NULL)
            return false;
    }
    slim_status st = slim_session_create(m[0].app, o, 10000, &m[0].s);
    if (st != SLIM_OK) {
        TEST_FAIL_AT("create: %s", slim_status_name(st));
        return false;
    }
    for (int i = 1; i < n; i++)
        if (!group_invite(m, i))
            return false;
    return true;
}

void group_free(member *m, int n) {
    for (int i = n - 1; i >= 0; i--)
        slim_app_free(m[i].app, 3000);
}

size_t member_count(member *m) {
    char **names = NULL;
    size_t n = 0;
    if (slim_session_members(m->app, m->s, &names, &n) != SLIM_OK)
        return 0;
    slim_session_members_free(names);
    return n;
}

bool wait_member(member *m, slim_member_change change, const char *who, int timeout_ms) {
    slim_event ev;
    uint64_t end = slim_now_ms() + (uint64_t)timeout_ms;
    while (slim_now_ms() < end) {
        if (!test_wait_event(m->app, SLIM_EVENT_MEMBER, m->s, &ev, 100))
            continue;
        if (ev.member == (int)change && strncmp(ev.name, who, strlen(who)) == 0 &&
            ev.name[strlen(who)] == '/')
            return true;
    }
    return false;
}

/* Prints m's counters when `always` or something was lost or
 * undelivered, then its first such events; true when nothing was. */
static bool counters_say(member *m, bool always) {
    slim_app_counters c;
    if (slim_app_counters_get(m->app, &c) != SLIM_OK)
        return false;
    bool lost = c.lost != 0 || c.undelivered != 0;
    if (!always && !lost)
        return true;
    fprintf(stderr,
            "  %s: %llu lost, %llu undelivered (%llu retransmissions, %llu dropped for "
            "identity, %llu malformed, %llu other, %llu unrouted, %llu for a full queue; "
            "%llu reconnects)\n",
            m->name, (unsigned long long)c.lost, (unsigned long long)c.undelivered,
            (unsigned long long)c.retransmissions, (unsigned long long)c.drop_identity,
            (unsigned long long)c.drop_malformed, (unsigned long long)c.drop_other,
            (unsigned long long)c.drop_unrouted, (unsigned long long)c.drop_queue_full,
            (unsigned long long)c.reconnects);
    slim_event ev;
    for (int k = 0; lost && k < 3 && slim_app_next_event(m->app, 0, &ev) == SLIM_OK;)
        if (ev.kind == SLIM_EVENT_UNDELIVERED || ev.kind == SLIM_EVENT_MESSAGE_LOST) {
            fprintf(stderr, "    %s\n", ev.detail);
            k++;
        }
    return !lost;
}

bool member_nothing_lost(member *m) {
    return counters_say(m, false);
}

/* ---- behind lossy links ---- */

bool lossy_group_start(lossy_group *g, int n, int seed, const slim_session_options *o,
                       uint16_t suite) {
    int ports[GROUP_MAX];
    g->n = n;
    bool ok = test_node_start(&g->nd, "");
    ok &= test_lossy_proxies_start(g->px, n, g->nd.port, seed, ports);
    slim_session_options lossy = *o;
    lossy.max_retries = 15;
    return group_start(g->m, n, ports, &lossy, suite) && ok;
}

void lossy_group_stop(lossy_group *g) {
    group_free(g->m, g->n);
    test_proxies_stop(g->px, g->n);
    test_node_stop(&g->nd);
}

/* ---- payloads ---- */

void group_payload(char *buf, size_t cap, const char *marker, int from, int seq) {
    if (marker == NULL)
        snprintf(buf, cap, "%d:%d", from, seq);
    else
        snprintf(buf, cap, "%d:%d:%s-%d-%d", from, seq, marker, from, seq);
}

bool group_payload_check(const member *m, int n, const char *marker, const slim_message *msg,
                         int *from, int *seq) {
    char got[128], want[128];
    snprintf(got, sizeof got, "%.*s", (int)msg->payload.len, (const char *)msg->payload.ptr);
    if (sscanf(got, "%d:%d", from, seq) != 2 || *from < 0 || *from >= n || *seq < 0) {
        fprintf(stderr, "  unexpected payload '%s' from %s\n", got, msg->source_text);
        return false;
    }
    if (marker == NULL)
        return true;
    group_payload(want, sizeof want, marker, *from, *seq);
    size_t nl = strlen(m[*from].name);
    if (strcmp(got, want) != 0 || msg->payload.len != strlen(want) ||
        strncmp(msg->source_text, m[*from].name, nl) != 0 || msg->source_text[nl] != '/') {
        fprintf(stderr, "  payload '%s' from %s: want '%s' from %s/...\n", got, msg->source_text,
                want, m[*from].name);
        return false;
    }
    return true;
}

/* ---- everyone to everyone ---- */

typedef struct pump_arg {
    member *all; /* the members' names (group_payload_check), nall of them */
    int nall;
    member *m;
    int self;
    const int *peers; /* indexes into all of who m hears from, npeers of them */
    int npeers;
    const group_traffic *t;
    int sent, got, bad;
    uint32_t first_id;   /* the message id of the first one sent */
    int next[GROUP_MAX]; /* the next sequence number expected from each member */
} pump_arg;

static void *writer(void *p) {
    pump_arg *a = p;
    for (int k = 0; k < a->t->count; k++) {
        char buf[128];
        group_payload(buf, sizeof buf, a->t->marker, a->self, k);
        uint32_t id = 0;
        slim_status st = test_publish_retrying_id(a->m->app, a->m->s, test_text(buf), 5, &id);
        if (st != SLIM_OK) {
            fprintf(stderr, "  %s publish %d: %s\n", a->m->name, k, slim_status_name(st));
            return NULL;
        }
        if (k == 0)
            a->first_id = id;
        a->sent++;
        if (a->t->pace_us > 0) {
            struct timespec ts = {a->t->pace_us / 1000000, (a->t->pace_us % 1000000) * 1000L};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

/* Reads npeers * count messages: each peer's in order, exactly once (and
 * with the plaintext it sent, given a marker). */
static void *reader(void *p) {
    pump_arg *a = p;
    int want = a->npeers * a->t->count;
    while (a->got < want) {
        slim_message *msg = NULL;
        slim_status st = slim_session_get_message(a->m->app, a->m->s, 60000, &msg);
        if (st != SLIM_OK) {
            fprintf(stderr, "  %s read: %s after %d of %d\n", a->m->name, slim_status_name(st),
                    a->got, want);
            return NULL;
        }
        int from = -1, seq = -1;
        bool peer = false;
        if (group_payload_check(a->all, a->nall, a->t->marker, msg, &from, &seq))
            for (int j = 0; j < a->npeers; j++)
                peer |= a->peers[j] == from;
        if (!peer || seq != a->next[from]) {
            if (a->bad++ < 5)
                fprintf(stderr, "  %s got %d:%d from %s, expected %d from it\n", a->m->name, from,
                        seq, msg->source_text, from >= 0 && from < GROUP_MAX ? a->next[from] : -1);
        } else {
            a->next[from]++;
        }
        a->got++;
        slim_message_free(msg);
    }
    return NULL;
}

bool group_pump(member *all, int nall, const int *who, int n, const group_traffic *t) {
    pump_arg args[GROUP_MAX];
    int peers[GROUP_MAX][GROUP_MAX];
    pthread_t w[GROUP_MAX], r[GROUP_MAX];
    int count = t->count;
    for (int i = 0; i < n; i++) {
        int np = 0;
        for (int j = 0; j < n; j++)
            if (j != i)
                peers[i][np++] = who[j];
        args[i] = (pump_arg){.all = all,
                             .nall = nall,
                             .m = &all[who[i]],
                             .self = who[i],
                             .peers = peers[i],
                             .npeers = np,
                             .t = t};
        pthread_create(&r[i], NULL, reader, &args[i]);
    }
    for (int i = 0; i < n; i++)
        pthread_create(&w[i], NULL, writer, &args[i]);
    for (int i = 0; i < n; i++) {
        pthread_join(w[i], NULL);
        pthread_join(r[i], NULL);
    }
    bool ok = true;
    for (int i = 0; i < n; i++) {
        pump_arg *a = &args[i];
        bool all_in = a->got == (n - 1) * count && a->bad == 0;
        for (int j = 0; j < a->npeers; j++)
            all_in &= a->next[a->peers[j]] == count;
        if (a->sent != count || !all_in) {
            fprintf(stderr, "  %s: sent %d of %d, got %d of %d, %d wrong\n", a->m->name, a->sent,
                    count, a->got, (n - 1) * count, a->bad);
            ok = false;
        }
        if (t->first_id != NULL)
            t->first_id[who[i]] = a->first_id;
    }
    /* Nothing reported lost or undelivered on the way (if anything was,
     * every member's counters are shown). */
    bool reported = false;
    for (int i = 0; i < n; i++) {
        slim_app_counters c;
        reported |= slim_app_counters_get(all[who[i]].app, &c) != SLIM_OK || c.lost != 0 ||
                    c.undelivered != 0;
    }
    for (int i = 0; i < n && reported; i++)
        ok &= counters_say(&all[who[i]], true);
    /* Exactly once: nothing more arrives. */
    for (int i = 0; i < n && ok; i++) {
        member *m = &all[who[i]];
        slim_message *msg = NULL;
        if (slim_session_get_message(m->app, m->s, i == 0 ? 1500 : 50, &msg) == SLIM_OK) {
            fprintf(stderr, "  %s: a message more than expected: '%.*s'\n", m->name,
                    (int)msg->payload.len, (const char *)msg->payload.ptr);
            slim_message_free(msg);
            ok = false;
        }
    }
    return ok;
}

bool group_everyone(member *m, int n, const group_traffic *t) {
    int who[GROUP_MAX];
    for (int i = 0; i < n; i++)
        who[i] = i;
    return group_pump(m, n, who, n, t);
}
