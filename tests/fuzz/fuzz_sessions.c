/* libFuzzer target: the session layer (src/session) fed random message
 * sequences on the simulated network of tests/unit/session/simnet.h.
 *
 * Three apps: alice (0), bob (1) and carol (2), each with its own
 * slim_sessions. Before the input is read, alice opens a UNICAST session
 * with bob and an ANYCAST one to bob's name, and one anycast message opens
 * bob's side of it. The first input byte picks settings (reliable or not,
 * node errors, a tiny backlog...); the rest is a sequence of operations,
 * one byte each followed by their arguments (input that runs out reads as
 * zeros):
 *
 *   - a message into an app's slim_sessions_input, now or through the
 *     network later: raw fuzz bytes, or one built from a template (any
 *     session message type 0..21, both session types and others, a live
 *     session id or another, message ids near the live ones or seen on
 *     the wire, from the peer's name, a stranger's or the app's own, with
 *     or without a payload or a (mismatched) command payload, metadata,
 *     good or bad identity and signature), or a SubscriptionAck;
 *   - the clock advanced by 0 ms to 4 minutes (network and timers run),
 *     15 minutes in all;
 *   - a publish, an open or a close by an app;
 *   - groups: an app opens a MULTICAST session (it moderates it), invites
 *     or removes another app's name (or nobody's) on it, publishes to it;
 *     invites and removals on other sessions, and by members, for the
 *     call errors;
 *   - an app's way out made congested or not (slim_sessions_congested), or
 *     one of its sessions held or released (slim_sessions_hold);
 *   - one message in flight dropped, copied or delayed; loss, duplication,
 *     delays and partitions for the legitimate traffic;
 *   - an app's identity check made to accept everything (the default, so
 *     fuzzed messages reach the deep paths), to check tokens as the unit
 *     tests do, or to refuse everything; its own tokens made bad.
 *
 * Invariants (abort() on violation, besides ASan, UBSan and leaks):
 *   - every operation started with a non-zero op and accepted ends with
 *     exactly one DONE, of its session, before its CLOSED; a call refused
 *     gets none; a close's DONE is SLIM_OK, an open's, an invite's and a
 *     removal's one of the statuses sessions.h lists for them, and a
 *     failed open's CLOSED has the same status; invite and remove answer
 *     E_CLOSED, E_SESSION_CLOSING, E_SESSION_EXPECTED_MULTICAST and
 *     E_SESSION_NOT_MODERATOR exactly when those hold, hold E_CLOSED
 *     exactly when the CLOSED came;
 *   - every output names a session the app knows (from open or NEW); at
 *     most one CLOSED per session and nothing of it after; MEMBER only for
 *     groups; publish and
 *     close answer E_CLOSED exactly when the CLOSED came (so does info),
 *     and E_SESSION_CLOSING exactly when close was called before;
 *   - input answers only the statuses sessions.h lists, and an app whose
 *     identity check refuses everything takes nothing but node errors
 *     and SubscriptionAcks (which carry no identity);
 *   - a UNICAST session delivers only what its peer sent;
 *   - legitimate payloads (a magic prefix, the sender app and session, a
 *     sequence number; the magic is never left in injected bytes) are
 *     delivered at most once per receiving session, and in increasing
 *     order on a reliable UNICAST session;
 *   - counters agree with the outputs (messages_in, lost, undelivered);
 *   - at the end, with what is in flight cleared, a clean network, no
 *     congestion, nothing held and 30 s of simulated time: a UNICAST session opened by one app is
 *     open at both ends or at neither, and a message published over it
 *     either way (or over an ANYCAST session to its peer) is delivered;
 *     then every session closed ends with CLOSED, every op with DONE,
 *     within bounded simulated time, with no session, route or timer left.
 *
 * The end checks are skipped for a session id that an injected message
 * carried from the full name of one of the apps (or from bytes that
 * decode to a session message): such a message passes identity as that
 * app, so the core cannot tell it from the app itself, and what it does to
 * the session (ends it, acknowledges what was never delivered, moves the
 * expected ids) is the protocol working. They are skipped too for a
 * session opened with an id the app chose (it may be in use at the peer).
 *
 * Seeds: corpus/fuzz_sessions/ is written by sessions_seeds.py (next to
 * this file), which spells each seed as a short script of the operations
 * above, through helpers that encode them as this file reads them: traffic
 * both ways on a clean and on a lossy network, unreliable sessions with
 * node errors, data and acknowledgements injected near the live ids,
 * forged closes and leaves, a stranger's join, welcome and leave,
 * discoveries with good and bad tokens, opens and closes, messages in
 * flight dropped, copied and delayed, identity refused, groups (invites,
 * removals, everyone publishing, a member leaving; congestion and holds
 * under loss, a close while inviting), and raw bytes.
 * Rerun it after changing how the input is read.
 */
#include "core/alloc.h"
#include "core/buf.h"
#include "simnet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAPPS        3
#define ALICE        0
#define BOB          1
#define CAROL        2
#define SETTLE_MS    30000u
#define DELIVER_MS   30000u
#define CLOSE_BOUND  (4ull * 3600 * 1000) /* all sessions closed within this */
#define CLOCK_BUDGET (15ull * 60 * 1000)  /* simulated time the operations may spend */
#define MAX_OPENS    16 /* opens per input (each adds heartbeats to every second after) */
#define SEEN_RING    16

static const uint8_t MAGIC[4] = {0xa5, 'L', 'G', 0x5a};
#define LEGIT_LEN 13 /* magic, app, handle (u32), seq (u32) */

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "fuzz_sessions: " __VA_ARGS__);                                            \
        fputc('\n', stderr);                                                                       \
        abort();                                                                                   \
    } while (0)

/* FUZZ_SESSIONS_TRACE=1 in the environment prints every operation (to
 * read a finding). */
static int trace = -1;
#define TRACE(...)                                                                                 \
    do {                                                                                           \
        if (trace) {                                                                               \
            fprintf(stderr, "[%llu] ", (unsigned long long)F.n.now);                               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

/* ---- the input ---- */

typedef struct rd {
    const uint8_t *p;
    size_t n;
} rd;

static uint8_t u8(rd *r) {
    if (r->n == 0)
        return 0;
    r->n--;
    return *r->p++;
}

/* Little-endian (one call per statement: their order is then fixed). */
static uint32_t u16(rd *r) {
    uint32_t lo = u8(r);
    return lo | (uint32_t)u8(r) << 8;
}

static uint32_t u32(rd *r) {
    uint32_t lo = u16(r);
    return lo | u16(r) << 16;
}

/* Up to max bytes of input, as a view. */
static slim_bytes take(rd *r, size_t max) {
    size_t len = u8(r) % (max + 1);
    if (len > r->n)
        len = r->n;
    slim_bytes b = slim_bytes_of(r->p, len);
    r->p += len;
    r->n -= len;
    return b;
}

/* ---- what the harness knows ---- */

/* Legit messages received on a session from one sending session. */
typedef struct fsrc {
    int app;
    uint32_t handle;
    uint32_t last;
} fsrc;

typedef struct fsess {
    uint64_t handle;
    uint32_t sid;
    bool sid_known;
    slim_session_type type;
    bool initiator, reliable;
    int peer_app;  /* the app it was opened to; -1: none or unknown */
    bool ready;    /* open DONE with SLIM_OK, or NEW */
    bool closing;  /* close accepted */
    bool closed;   /* CLOSED seen */
    uint32_t sent; /* legit messages queued */
    slim_name peer;
    bool has_peer;
    bool any_peer; /* ANYCAST: opened to a name with the any id */
    slim_name to;  /* ANYCAST: the name it was opened to */
    fsrc from[8];
    int nfrom;
    size_t open_op, close_op; /* 1 + index in fz.ops; 0: none */
    slim_status failed;       /* the open's DONE, when it failed */
} fsess;

typedef enum fop_kind { K_OPEN, K_CLOSE, K_INVITE, K_REMOVE } fop_kind;

typedef struct fop {
    int app;
    uint64_t handle;
    int dones; /* -1: refused */
    fop_kind kind;
} fop;

typedef struct seen {
    uint32_t sid, mid;
} seen;

typedef struct fz {
    simnet n;
    fsess *s[NAPPS];
    size_t ns[NAPPS], caps[NAPPS];
    size_t checked[NAPPS]; /* records checked */
    fop *ops;
    size_t nops, capops;
    uint64_t *got; /* legit deliveries, for repeats */
    size_t ngot, capgot;
    uint32_t *taint; /* session ids of impersonating injections */
    size_t ntaint, captaint;
    seen ring[SEEN_RING]; /* session and message ids on the wire */
    unsigned ringpos;
    uint64_t lost[NAPPS], messages[NAPPS], undelivered[NAPPS]; /* outputs seen */
    bool few_sessions;                                         /* max_sessions is small */
    bool congested[NAPPS];
    uint64_t clock_end; /* the operations advance the clock up to here */
    int opens;          /* opens tried */
} fz;

static fz F;

/* Room for one more element in a malloc'd array. */
static void more(void **arr, size_t *cap, size_t len, size_t size) {
    if (len < *cap)
        return;
    size_t c = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, c * size);
    if (p == NULL)
        abort();
    *arr = p;
    *cap = c;
}

static fsess *sess_find(fz *f, int a, uint64_t handle) {
    for (size_t i = 0; i < f->ns[a]; i++)
        if (f->s[a][i].handle == handle)
            return &f->s[a][i];
    return NULL;
}

static fsess *sess_add(fz *f, int a, uint64_t handle) {
    more((void **)&f->s[a], &f->caps[a], f->ns[a], sizeof(fsess));
    fsess *s = &f->s[a][f->ns[a]++];
    memset(s, 0, sizeof *s);
    s->handle = handle;
    s->peer_app = -1;
    return s;
}

/* Fills in what the core says of a live session. */
static void sess_info(fz *f, int a, fsess *s) {
    slim_ss_info info;
    if (slim_sessions_info(f->n.apps[a].ss, s->handle, &info) != SLIM_OK)
        return;
    s->sid = info.id;
    s->sid_known = true;
    s->type = info.type;
    s->initiator = info.initiator;
    s->reliable = info.reliable;
    s->any_peer = slim_id_is_any(info.peer.name.id);
    s->to = info.peer.name;
    if (info.type == SLIM_SESSION_UNICAST && (info.ready || !info.initiator)) {
        s->peer = info.peer.name;
        s->has_peer = true;
    }
}

static fop *op_new(fz *f, int a) {
    more((void **)&f->ops, &f->capops, f->nops, sizeof(fop));
    fop *o = &f->ops[f->nops++];
    o->app = a;
    o->handle = 0;
    o->dones = -1; /* not started */
    o->kind = K_OPEN;
    return o;
}

static uint64_t op_id(const fz *f, const fop *o) {
    return (uint64_t)(o - f->ops) + 1;
}

static void taint(fz *f, uint32_t sid) {
    more((void **)&f->taint, &f->captaint, f->ntaint, sizeof(uint32_t));
    f->taint[f->ntaint++] = sid;
}

static bool tainted(const fz *f, uint32_t sid) {
    for (size_t i = 0; i < f->ntaint; i++)
        if (f->taint[i] == sid)
            return true;
    return false;
}

/* Which app has this full name; -1 none. */
static int app_named(const fz *f, const slim_name *n) {
    for (int a = 0; a < NAPPS; a++)
        if (slim_name_equal(&f->n.apps[a].name, n))
            return a;
    return -1;
}

/* ---- legit payloads ---- */

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The magic never stays in injected bytes (they may imitate anything else). */
static void unmagic(uint8_t *p, size_t len) {
    for (size_t i = 0; i + sizeof MAGIC <= len; i++)
        if (memcmp(p + i, MAGIC, sizeof MAGIC) == 0)
            p[i] = 0;
}

static bool got_has(fz *f, uint64_t key) {
    for (size_t i = 0; i < f->ngot; i++)
        if (f->got[i] == key)
            return true;
    more((void **)&f->got, &f->capgot, f->ngot, sizeof(uint64_t));
    f->got[f->ngot++] = key;
    return false;
}

static void legit_in(fz *f, int a, fsess *s, const sim_rec *r) {
    if (r->len != LEGIT_LEN || memcmp(r->payload, MAGIC, sizeof MAGIC) != 0)
        return;
    int app = r->payload[4];
    uint32_t handle = get32(r->payload + 5), seq = get32(r->payload + 9);
    if (app >= NAPPS || handle > 0xfffff || seq > 0xffffff)
        FAIL("app %d: a legit payload that nobody sent", a);
    if (s->handle > 0xffff)
        return;
    uint64_t key =
        (uint64_t)a << 62 | s->handle << 46 | (uint64_t)app << 44 | (uint64_t)handle << 24 | seq;
    if (got_has(f, key))
        FAIL("app %d session %llu: legit message %u of app %d session %u delivered twice", a,
             (unsigned long long)s->handle, seq, app, handle);
    if (s->type != SLIM_SESSION_UNICAST || !s->reliable)
        return;
    fsrc *fr = NULL;
    for (int i = 0; i < s->nfrom; i++)
        if (s->from[i].app == app && s->from[i].handle == handle)
            fr = &s->from[i];
    if (fr == NULL) {
        if (s->nfrom == (int)(sizeof s->from / sizeof s->from[0]))
            return;
        fr = &s->from[s->nfrom++];
        fr->app = app;
        fr->handle = handle;
        fr->last = 0;
    } else if (seq <= fr->last) {
        FAIL("app %d session %llu: legit message %u of app %d after %u (out of order)", a,
             (unsigned long long)s->handle, seq, app, fr->last);
    }
    fr->last = seq;
}

/* ---- checking the outputs ---- */

/* What the DONE of an open may say (sessions.h). */
static bool open_status_ok(slim_status st) {
    switch (st) {
    case SLIM_OK:
    case SLIM_E_SESSION_DISCOVERY_FAILED:
    case SLIM_E_SESSION_JOIN_FAILED:
    case SLIM_E_SESSION_WELCOME_FAILED:
    case SLIM_E_SESSION_NO_ROUTE:
    case SLIM_E_SESSION_ROUTE_REFUSED:
    case SLIM_E_SESSION_ROUTE_TIMEOUT:
    case SLIM_E_CANCELLED:
    case SLIM_E_NOMEM:
        return true;
    default:
        return false;
    }
}

/* What the DONE of an invite or a removal may say (sessions.h). */
static bool task_status_ok(fop_kind k, slim_status st) {
    switch (st) {
    case SLIM_OK:
    case SLIM_E_SESSION_UPDATE_FAILED:
    case SLIM_E_CANCELLED:
    case SLIM_E_NOMEM:
        return true;
    case SLIM_E_SESSION_DISCOVERY_FAILED:
    case SLIM_E_SESSION_NO_ROUTE:
    case SLIM_E_SESSION_ROUTE_REFUSED:
    case SLIM_E_SESSION_ROUTE_TIMEOUT:
    case SLIM_E_SESSION_JOIN_FAILED:
    case SLIM_E_SESSION_WELCOME_FAILED:
    case SLIM_E_SESSION_ALREADY_MEMBER:
    case SLIM_E_SESSION_LIMIT:
        return k == K_INVITE;
    case SLIM_E_SESSION_NOT_MEMBER:
    case SLIM_E_SESSION_LEAVE_FAILED:
        return k == K_REMOVE;
    default:
        return false;
    }
}

static bool done_status_ok(fop_kind k, slim_status st) {
    switch (k) {
    case K_OPEN:
        return open_status_ok(st);
    case K_CLOSE:
        return st == SLIM_OK;
    default:
        return task_status_ok(k, st);
    }
}

static const char *const KIND[] = {"open", "close", "invite", "remove"};

static void check_recs(fz *f) {
    for (int a = 0; a < NAPPS; a++) {
        sim_app *p = &f->n.apps[a];
        for (; f->checked[a] < p->nrecs; f->checked[a]++) {
            const sim_rec *r = &p->recs[f->checked[a]];
            fsess *s = sess_find(f, a, r->session);
            TRACE("  app %d out %d session %llu op %llu status %s mid %u at %llu: %s", a,
                  (int)r->kind, (unsigned long long)r->session, (unsigned long long)r->op,
                  slim_status_name(r->status), r->message_id, (unsigned long long)r->at, r->detail);
            if (r->kind == SLIM_SOUT_NEW) {
                if (s != NULL)
                    FAIL("app %d: NEW for known session %llu", a, (unsigned long long)r->session);
                s = sess_add(f, a, r->session);
                s->ready = true;
                sess_info(f, a, s);
                continue;
            }
            if (s == NULL)
                FAIL("app %d: output %d for unknown session %llu", a, (int)r->kind,
                     (unsigned long long)r->session);
            if (s->closed)
                FAIL("app %d: output %d of session %llu after its CLOSED", a, (int)r->kind,
                     (unsigned long long)r->session);
            switch (r->kind) {
            case SLIM_SOUT_DONE: {
                if (r->op == 0 || r->op > f->nops)
                    FAIL("app %d: DONE of unknown op %llu", a, (unsigned long long)r->op);
                fop *o = &f->ops[r->op - 1];
                if (o->app != a || o->handle != r->session || o->dones != 0)
                    FAIL("app %d: DONE of op %llu (session %llu): app %d session %llu dones %d", a,
                         (unsigned long long)r->op, (unsigned long long)r->session, o->app,
                         (unsigned long long)o->handle, o->dones);
                o->dones = 1;
                if (!done_status_ok(o->kind, r->status))
                    FAIL("app %d: %s op %llu DONE with %s", a, KIND[o->kind],
                         (unsigned long long)r->op, slim_status_name(r->status));
                if (o->kind != K_OPEN)
                    break;
                if (r->status != SLIM_OK && r->status != SLIM_E_CANCELLED)
                    s->failed = r->status;
                if (r->status == SLIM_OK && s->initiator && !s->ready && !s->closing) {
                    s->ready = true;
                    sess_info(f, a, s);
                }
                break;
            }
            case SLIM_SOUT_MESSAGE:
                f->messages[a]++;
                if (s->type == SLIM_SESSION_UNICAST) {
                    if (!s->has_peer)
                        sess_info(f, a, s);
                    if (s->has_peer && !slim_name_equal(&r->source, &s->peer))
                        FAIL("app %d: UNICAST session %llu delivered a message not from its peer",
                             a, (unsigned long long)s->handle);
                }
                legit_in(f, a, s, r);
                break;
            case SLIM_SOUT_LOST:
                f->lost[a]++;
                if (r->status != SLIM_E_SESSION_LOST)
                    FAIL("app %d: LOST with status %d", a, (int)r->status);
                break;
            case SLIM_SOUT_UNDELIVERED:
                f->undelivered[a]++;
                if (r->status != SLIM_E_SESSION_UNDELIVERED &&
                    r->status != SLIM_E_SESSION_CLOSED_UNACKED)
                    FAIL("app %d: UNDELIVERED with status %d", a, (int)r->status);
                break;
            case SLIM_SOUT_MEMBER:
                /* (a session that ended before its NEW was read has no
                 * info: its type is not known) */
                if (s->sid_known && s->type != SLIM_SESSION_MULTICAST)
                    FAIL("app %d: MEMBER of session %llu, not a group", a,
                         (unsigned long long)s->handle);
                break;
            case SLIM_SOUT_CLOSED: {
                s->closed = true;
                slim_ss_info info;
                if (slim_sessions_info(p->ss, s->handle, &info) != SLIM_E_CLOSED)
                    FAIL("app %d: session %llu has info after its CLOSED", a,
                         (unsigned long long)s->handle);
                for (size_t k = 0; k < f->nops; k++)
                    if (f->ops[k].app == a && f->ops[k].handle == s->handle && f->ops[k].dones == 0)
                        FAIL("app %d: session %llu CLOSED before the DONE of its %s op %zu", a,
                             (unsigned long long)s->handle, KIND[f->ops[k].kind], k + 1);
                if (s->failed != SLIM_OK && r->status != s->failed)
                    FAIL("app %d: session %llu failed to open with %s, CLOSED with %s", a,
                         (unsigned long long)s->handle, slim_status_name(s->failed),
                         slim_status_name(r->status));
                break;
            }
            default:
                FAIL("app %d: output of kind %d", a, (int)r->kind);
            }
        }
        /* A session whose id could not be read had ended. */
        for (size_t i = 0; i < f->ns[a]; i++)
            if (!f->s[a][i].sid_known && !f->s[a][i].closed)
                FAIL("app %d: session %llu gone without CLOSED", a,
                     (unsigned long long)f->s[a][i].handle);
    }
}

static void settle_and_check(fz *f) {
    sim_pump_all(&f->n);
    check_recs(f);
}

/* ---- the wire tap: ids seen on the network ---- */

static bool tap(simnet *n, int from, int to, const slim_msg *m) {
    (void)n;
    (void)from;
    (void)to;
    const slim_pb_session *s = m->publish->session;
    if (s != NULL) {
        F.ring[F.ringpos % SEEN_RING] = (seen){s->session_id, s->message_id};
        F.ringpos++;
    }
    return false;
}

/* ---- building injected messages ---- */

static const char *const STRANGER[3] = {"org", "ns", "mallory"};

/* The wire name of choice c, for target app t. */
static void pick_name(fz *f, rd *r, int t, slim_name *tmp, slim_str text[3], slim_wire_name *w,
                      int *app) {
    uint8_t c = u8(r);
    int a = (c >> 3) % NAPPS;
    const sim_app *p = &f->n.apps[a];
    for (int i = 0; i < 3; i++)
        text[i] = (slim_str){p->text[i], strlen(p->text[i])};
    *tmp = p->name;
    *app = -1;
    w->name = tmp;
    w->text = text;
    switch (c % 8) {
    case 0:
    case 1:
    case 2: /* an app's full name */
        *app = a;
        break;
    case 3: /* an app's service, any id */
        tmp->id = slim_id_any();
        break;
    case 4: /* an app's service with another id (two, so that with the
             * other names no session hears from more senders than its
             * duplicate filters remember) */
        tmp->id.lo ^= 1 + u8(r) % 2;
        break;
    case 5: { /* a stranger */
        for (int i = 0; i < 3; i++)
            text[i] = (slim_str){STRANGER[i], strlen(STRANGER[i])};
        (void)slim_name_from_strings(text, (slim_id){0x5eed, 1}, tmp);
        break;
    }
    case 6: /* an app's full name without text */
        w->text = NULL;
        *app = a;
        break;
    default: /* the target itself */
        *tmp = f->n.apps[t].name;
        for (int i = 0; i < 3; i++)
            text[i] = (slim_str){f->n.apps[t].text[i], strlen(f->n.apps[t].text[i])};
        *app = t;
        break;
    }
}

/* A session id: of a session an app knows, seen on the wire, or any. */
static uint32_t pick_sid(fz *f, rd *r, int t) {
    uint8_t c = u8(r);
    switch (c % 8) {
    case 0:
    case 1:
    case 2:
    case 3: {
        int a = c % 3 == 0 ? t : (c >> 3) % NAPPS;
        uint8_t i = u8(r);
        return f->ns[a] ? f->s[a][i % f->ns[a]].sid : 0;
    }
    case 4:
        return f->ring[u8(r) % SEEN_RING].sid;
    case 5:
        return u32(r);
    case 6:
        return SLIM_SESSION_ID_MAX + (u8(r) % 4) - 1;
    default:
        return u8(r) % 4;
    }
}

/* A message id near the ones in use. */
static uint32_t pick_mid(fz *f, rd *r) {
    uint8_t c = u8(r);
    int8_t delta = (int8_t)u8(r);
    uint32_t base;
    switch (c % 8) {
    case 0:
    case 1:
    case 2: {
        int a = (c >> 3) % NAPPS;
        uint8_t i = u8(r);
        base = f->ns[a] ? f->s[a][i % f->ns[a]].sent : 0;
        break;
    }
    case 3:
        return f->ring[u8(r) % SEEN_RING].mid;
    case 4:
        return u32(r);
    case 5:
        base = 0x7fffffffu;
        break;
    case 6:
        base = 1024;
        break;
    default:
        base = 0;
        break;
    }
    return base + (uint32_t)(int32_t)(delta % 16);
}

static char *dup_str(slim_bytes b) {
    char *s = slim_malloc(b.len + 1);
    if (s == NULL)
        abort();
    for (size_t i = 0; i < b.len; i++)
        s[i] = b.ptr[i] ? (char)b.ptr[i] : '_';
    s[b.len] = '\0';
    return s;
}

static Dataplane__Proto__V1__Participant *participant(fz *f, rd *r, int t) {
    Dataplane__Proto__V1__Participant *p = slim_malloc(sizeof *p);
    if (p == NULL)
        abort();
    dataplane__proto__v1__participant__init(p);
    uint8_t c = u8(r);
    if (c & 1) {
        slim_name tmp;
        slim_str text[3];
        slim_wire_name w;
        int app;
        pick_name(f, r, t, &tmp, text, &w, &app);
        if (slim_wire_name_new(&w, &p->name) != SLIM_OK)
            abort();
    }
    if (c & 2) {
        p->settings = slim_malloc(sizeof *p->settings);
        if (p->settings == NULL)
            abort();
        dataplane__proto__v1__participant_settings__init(p->settings);
        p->settings->sends_data = (c & 4) != 0;
        p->settings->receives_data = (c & 8) != 0;
    }
    p->status = (c & 16) ? DATAPLANE__PROTO__V1__PARTICIPANT_STATE__OFFLINE
                         : DATAPLANE__PROTO__V1__PARTICIPANT_STATE__ONLINE;
    return p;
}

/* Fills the inner payload of command variant v. */
static void fill_command(fz *f, rd *r, int t, slim_pb_command *cmd) {
    switch (cmd->command_payload_type_case) {
    case DATAPLANE__PROTO__V1__COMMAND_PAYLOAD__COMMAND_PAYLOAD_TYPE_JOIN_REQUEST: {
        Dataplane__Proto__V1__JoinRequestPayload *jr = cmd->join_request;
        uint8_t c = u8(r);
        if (c & 1) {
            Dataplane__Proto__V1__TimerSettings *ts = slim_malloc(sizeof *ts);
            if (ts == NULL)
                abort();
            dataplane__proto__v1__timer_settings__init(ts);
            ts->timeout = (c & 2) ? u32(r) : u16(r);
            ts->max_retries = (c & 4) ? u32(r) : u8(r) % 8;
            TRACE("join timer settings %u ms, %u retries", ts->timeout, ts->max_retries);
            jr->timer_settings = ts;
            jr->_timer_settings_case =
                DATAPLANE__PROTO__V1__JOIN_REQUEST_PAYLOAD___TIMER_SETTINGS_TIMER_SETTINGS;
        }
        break;
    }
    case DATAPLANE__PROTO__V1__COMMAND_PAYLOAD__COMMAND_PAYLOAD_TYPE_JOIN_REPLY:
        if (u8(r) & 1)
            cmd->join_reply->participant = participant(f, r, t);
        break;
    case DATAPLANE__PROTO__V1__COMMAND_PAYLOAD__COMMAND_PAYLOAD_TYPE_GROUP_WELCOME: {
        Dataplane__Proto__V1__GroupWelcomePayload *gw = cmd->group_welcome;
        size_t k = u8(r) % 4;
        if (k == 0)
            break;
        gw->participants = slim_calloc(k, sizeof *gw->participants);
        if (gw->participants == NULL)
            abort();
        for (size_t i = 0; i < k; i++)
            gw->participants[gw->n_participants++] = participant(f, r, t);
        break;
    }
    case DATAPLANE__PROTO__V1__COMMAND_PAYLOAD__COMMAND_PAYLOAD_TYPE_GROUP_CLOSE: {
        Dataplane__Proto__V1__GroupClosePayload *gc = cmd->group_close;
        size_t k = u8(r) % 4;
        if (k == 0)
            break;
        gc->participants = slim_calloc(k, sizeof *gc->participants);
        if (gc->participants == NULL)
            abort();
        for (size_t i = 0; i < k; i++) {
            slim_name tmp;
            slim_str text[3];
            slim_wire_name w;
            int app;
            pick_name(f, r, t, &tmp, text, &w, &app);
            if (slim_wire_name_new(&w, &gc->participants[gc->n_participants]) != SLIM_OK)
                abort();
            gc->n_participants++;
        }
        break;
    }
    case DATAPLANE__PROTO__V1__COMMAND_PAYLOAD__COMMAND_PAYLOAD_TYPE_HEARTBEAT:
        cmd->heartbeat->epoch = (u8(r) & 1) ? UINT64_MAX : u32(r);
        break;
    default:
        break;
    }
}

static const char *const KEYS[] = {"LEAVING_SESSION", "PUBLISH_TO", "k", "IS_MODERATOR"};
static const char *const VALUES[] = {"TRUE", "", "v"};

/* What an injection does to the invariants: a session message that
 * passes identity as one of the apps taints its session id. */
static void note_injected(fz *f, int t, const slim_msg *m) {
    if (f->n.apps[t].refuse_all || slim_wire_kind(m) != SLIM_MSG_PUBLISH ||
        m->publish->session == NULL)
        return;
    const slim_pb_header *h = m->publish->header;
    slim_name src;
    if (h == NULL || slim_wire_name_get(h->source, &src) != SLIM_OK || app_named(f, &src) >= 0)
        taint(f, m->publish->session->session_id);
}

/* What slim_sessions_input may answer (sessions.h); simnet's verify
 * refuses with E_GRPC_UNAUTHENTICATED. */
static bool input_status_ok(slim_status st) {
    switch (st) {
    case SLIM_OK:
    case SLIM_E_QUEUE_FULL:
    case SLIM_E_TOO_LARGE:
    case SLIM_E_TRUNCATED:
    case SLIM_E_WIRE_MALFORMED:
    case SLIM_E_WIRE_MISSING_FIELD:
    case SLIM_E_WIRE_UNKNOWN_TYPE:
    case SLIM_E_GRPC_UNAUTHENTICATED:
    case SLIM_E_SESSION_UNKNOWN:
    case SLIM_E_SESSION_NOT_OURS:
    case SLIM_E_SESSION_WRONG_PEER:
    case SLIM_E_SESSION_UNEXPECTED:
    case SLIM_E_SESSION_DUPLICATE:
    case SLIM_E_SESSION_LIMIT:
    case SLIM_E_SESSION_BAD_ID:
    case SLIM_E_UNSUPPORTED:
    case SLIM_E_NOMEM:
        return true;
    default:
        return false;
    }
}

/* What the core takes without checking identity: a node's error publish
 * about a message of ours, and the router's SubscriptionAck. */
static bool unverified_ok(slim_bytes b) {
    slim_msg *m = NULL;
    if (slim_wire_decode(b, SLIM_WIRE_DEFAULT_MAX_SIZE, &m) != SLIM_OK)
        return false;
    bool ok = slim_wire_kind(m) == SLIM_MSG_SUBSCRIPTION_ACK;
    if (slim_wire_kind(m) == SLIM_MSG_PUBLISH && m->publish->header != NULL &&
        m->publish->header->_error_case && m->publish->msg != NULL &&
        m->publish->msg->content_type_case ==
            DATAPLANE__PROTO__V1__CONTENT__CONTENT_TYPE_APP_PAYLOAD &&
        strcmp(m->publish->msg->app_payload->payload_type, "slim.error") == 0)
        ok = true;
    slim_wire_free(m);
    return ok;
}

/* Delivers bytes to app t: now (pumped unless held), or in flight. */
static void inject(fz *f, rd *r, int t, slim_bytes b) {
    uint8_t how = u8(r);
    if (how % 4 == 3) {
        uint64_t at = f->n.now + u16(r) % 5000;
        TRACE("inject %zu bytes to app %d at %llu", b.len, t, (unsigned long long)at);
        (void)sim_flight_add(&f->n, t, b, at);
        return;
    }
    slim_status st = slim_sessions_input(f->n.apps[t].ss, b, f->n.now);
    TRACE("inject %zu bytes to app %d%s: %s", b.len, t, how % 4 == 2 ? " (held)" : "",
          slim_status_name(st));
    if (!input_status_ok(st))
        FAIL("app %d: input answered %s", t, slim_status_name(st));
    if (st == SLIM_OK && f->n.apps[t].refuse_all && !unverified_ok(b))
        FAIL("app %d: input taken although identity is refused", t);
    if (how % 4 != 2)
        sim_pump(&f->n, t);
}

static void inject_raw(fz *f, rd *r) {
    int t = u8(r) % NAPPS;
    slim_bytes in = take(r, 255);
    uint8_t *b = malloc(in.len ? in.len : 1);
    if (b == NULL)
        abort();
    if (in.len)
        memcpy(b, in.ptr, in.len);
    unmagic(b, in.len);
    slim_msg *m = NULL;
    if (slim_wire_decode(slim_bytes_of(b, in.len), SLIM_WIRE_DEFAULT_MAX_SIZE, &m) == SLIM_OK) {
        if (slim_wire_kind(m) == SLIM_MSG_PUBLISH && m->publish->session != NULL &&
            !f->n.apps[t].refuse_all)
            taint(f, m->publish->session->session_id);
        slim_wire_free(m);
    }
    inject(f, r, t, slim_bytes_of(b, in.len));
    free(b);
}

static void inject_template(fz *f, rd *r) {
    int t = u8(r) % NAPPS;
    uint8_t tb = u8(r);
    uint32_t type = tb < 240 ? tb % 22 : tb;
    uint8_t stb = u8(r) % 10; /* POINT_TO_POINT, MULTICAST, UNSPECIFIED, unknown */
    int stype = stb < 6 ? 1 : stb < 8 ? 2 : stb == 8 ? 0 : 5;
    slim_name sn, dn;
    slim_str stx[3], dtx[3];
    slim_wire_name sw, dw;
    int sapp, dapp;
    pick_name(f, r, t, &sn, stx, &sw, &sapp);
    pick_name(f, r, t, &dn, dtx, &dw, &dapp);
    if (u8(r) % 4 == 0) { /* to the target, as the router delivers */
        dn = f->n.apps[t].name;
        if (u8(r) & 1)
            dn.id = slim_id_any();
        for (int i = 0; i < 3; i++)
            dtx[i] = (slim_str){f->n.apps[t].text[i], strlen(f->n.apps[t].text[i])};
        dw.text = dtx;
    }
    uint8_t flags = u8(r);
    slim_wire_header_spec hs = {
        .source = sw,
        .destination = dw,
        .fanout = (flags & 1) ? 256 : 1,
        .ttl = 8,
        .has_forward_to = (flags & 2) != 0,
        .forward_to = 100 + (uint64_t)(flags >> 6),
        .has_error = (flags & 4) != 0,
        .error = (flags & 8) != 0,
    };
    slim_wire_session_spec ss = {
        .session_type = (Dataplane__Proto__V1__SessionType)stype,
        .message_type = (Dataplane__Proto__V1__SessionMessageType)type,
        .session_id = pick_sid(f, r, t),
        .message_id = pick_mid(f, r),
    };
    slim_msg *m = NULL;
    if (slim_wire_publish_new(&hs, &ss, &m) != SLIM_OK)
        abort();
    slim_pb_header *h = m->publish->header;
    uint8_t conn = u8(r) % 4;
    if (conn != 1) {
        h->_incoming_conn_case = DATAPLANE__PROTO__V1__SLIMHEADER___INCOMING_CONN_INCOMING_CONN;
        h->incoming_conn = conn == 0 && sapp >= 0 ? f->n.apps[sapp].conn
                           : conn == 2            ? 100 + (uint64_t)(u8(r) % NAPPS)
                                                  : 7777;
    }
    uint8_t content = u8(r) % 6;
    if (content == 1 || content == 2) {
        static const char *const PT[] = {"msg", "", "slim.error", "text/plain"};
        slim_bytes in = take(r, 32);
        uint8_t blob[32];
        if (in.len)
            memcpy(blob, in.ptr, in.len);
        unmagic(blob, in.len);
        if (slim_wire_set_app_payload(m, PT[u8(r) % 4], slim_bytes_of(blob, in.len)) != SLIM_OK)
            abort();
    } else if (content >= 3) {
        int v =
            content == 5 || !slim_wire_is_command_type((int)type) ? 1 + u8(r) % 16 : (int)type - 4;
        slim_pb_command *cmd = NULL;
        if (slim_wire_command_new((Dataplane__Proto__V1__CommandPayload__CommandPayloadTypeCase)v,
                                  &cmd) != SLIM_OK)
            abort();
        fill_command(f, r, t, cmd);
        if (slim_wire_set_command(m, cmd) != SLIM_OK)
            abort();
    }
    for (int k = u8(r) % 4; k > 0; k--) {
        uint8_t c = u8(r);
        char *key = (c & 4) ? dup_str(take(r, 8)) : NULL;
        char *val = (c & 8) ? dup_str(take(r, 8)) : NULL;
        if (slim_wire_metadata_set(m, key ? key : KEYS[c % 4], val ? val : VALUES[(c >> 4) % 3]) !=
            SLIM_OK)
            abort();
        slim_free(key);
        slim_free(val);
    }
    uint8_t id = u8(r);
    static const char *const TOKENS[] = {"tok:fuzz", "tok:bob", "bad:fuzz", ""};
    if (slim_wire_set_identity(m, (slim_str){TOKENS[id % 4], strlen(TOKENS[id % 4])}) != SLIM_OK)
        abort();
    if ((id >> 2) % 3 == 0) {
        if (slim_wire_set_header_sig(m, slim_bytes_of("sig:fuzz", 8)) != SLIM_OK)
            abort();
    } else if ((id >> 2) % 3 == 1) {
        if (slim_wire_set_header_sig(m, slim_bytes_of("junk", 4)) != SLIM_OK)
            abort();
    }
    note_injected(f, t, m);
    if (trace) {
        slim_name nm;
        (void)slim_wire_name_get(h->source, &nm);
        TRACE("template: type %u stype %d sid %u mid %u from app %d (%llx) content %d error %d "
              "conn %d id %u",
              type, stype, ss.session_id, ss.message_id, app_named(f, &nm),
              (unsigned long long)nm.id.lo, content, h->_error_case ? (int)h->error : -1,
              h->_incoming_conn_case ? (int)h->incoming_conn : -1, id);
    }
    slim_buf out = SLIM_BUF_INIT;
    if (slim_wire_encode(m, SLIM_WIRE_DEFAULT_MAX_SIZE, &out) != SLIM_OK)
        abort();
    slim_wire_free(m);
    inject(f, r, t, slim_bytes_of(out.data, out.len));
    slim_buf_cleanup(&out);
}

static void inject_sub_ack(fz *f, rd *r) {
    int t = u8(r) % NAPPS;
    uint8_t c = u8(r);
    /* A route the router took is acknowledged again (a refusal of it would
     * be the router lying: the route would stay in its table); else any
     * id. */
    uint8_t i = u8(r);
    uint32_t any = u32(r);
    bool real = (c & 2) && f->n.nroutes;
    uint64_t id = real ? f->n.routes[i % f->n.nroutes].sub_id : any;
    bool ok = real || (c & 1);
    slim_msg *m = NULL;
    if (slim_wire_subscription_ack_new(id, ok, ok ? NULL : "no", &m) != SLIM_OK)
        abort();
    slim_buf out = SLIM_BUF_INIT;
    if (slim_wire_encode(m, SLIM_WIRE_DEFAULT_MAX_SIZE, &out) != SLIM_OK)
        abort();
    slim_wire_free(m);
    inject(f, r, t, slim_bytes_of(out.data, out.len));
    slim_buf_cleanup(&out);
}

/* ---- the application's calls ---- */

/* A session of app a that the harness knows, or NULL. */
static fsess *pick_sess(fz *f, rd *r, int a) {
    uint8_t i = u8(r);
    return f->ns[a] ? &f->s[a][i % f->ns[a]] : NULL;
}

static slim_status publish_legit(fz *f, int a, fsess *s, const slim_publish *tmpl) {
    uint8_t payload[LEGIT_LEN];
    memcpy(payload, MAGIC, sizeof MAGIC);
    payload[4] = (uint8_t)a;
    put32(payload + 5, (uint32_t)s->handle);
    put32(payload + 9, s->sent + 1);
    slim_publish p = *tmpl;
    p.payload = slim_bytes_of(payload, sizeof payload);
    slim_status st = slim_sessions_publish(f->n.apps[a].ss, s->handle, &p, f->n.now, NULL);
    if (st == SLIM_OK)
        s->sent++;
    TRACE("app %d publish on %llu (id %u) mode %d: %s (seq %u)", a, (unsigned long long)s->handle,
          s->sid, (int)p.mode, slim_status_name(st), s->sent);
    /* What every publish must answer. */
    if ((st == SLIM_E_CLOSED) != s->closed)
        FAIL("app %d: publish on session %llu: %s, closed %d", a, (unsigned long long)s->handle,
             slim_status_name(st), s->closed);
    if (!s->closed && (st == SLIM_E_SESSION_CLOSING) != s->closing)
        FAIL("app %d: publish on session %llu: %s, closing %d", a, (unsigned long long)s->handle,
             slim_status_name(st), s->closing);
    sim_pump(&f->n, a);
    return st;
}

static void op_publish(fz *f, rd *r) {
    int a = u8(r) % NAPPS;
    fsess *s = pick_sess(f, r, a);
    uint8_t c = u8(r);
    if (s == NULL)
        return;
    slim_publish p;
    memset(&p, 0, sizeof p);
    int to = (c >> 2) % NAPPS;
    p.mode = c % 4 == 3 ? SLIM_PUBLISH_DEFAULT : (slim_publish_mode)(c % 4);
    if (p.mode != SLIM_PUBLISH_DEFAULT) {
        p.to = sim_sname(&f->n, to);
        if (c & 32)
            p.to.name.id = slim_id_any();
        p.conn = f->n.apps[to].conn;
    }
    slim_ss_kv kv[2] = {{{"PUBLISH_TO", 10}, {"x", 1}}, {{"k", 1}, {"v", 1}}};
    if (c & 64) {
        p.metadata = kv;
        p.metadata_len = 2;
    }
    if (c & 128)
        p.payload_type = (slim_str){"text/plain", 10};
    (void)publish_legit(f, a, s, &p);
}

/* What the harness notes of an open of app a (op o, or NULL) that
 * answered st and handle h. */
static void opened(fz *f, int a, const slim_session_config *cfg, fop *o, slim_status st, uint64_t h,
                   int peer_app) {
    if (st != SLIM_OK) {
        if (o != NULL)
            f->nops--; /* refused: no DONE */
        return;
    }
    fsess *s = sess_add(f, a, h);
    s->peer_app = peer_app;
    sess_info(f, a, s);
    if (!s->sid_known)
        FAIL("app %d: session %llu just opened has no info", a, (unsigned long long)h);
    /* An id chosen by the app may be one another app uses with the same
     * peer, which then takes the messages as that session's. */
    if (cfg->session_id != SLIM_SESSION_ID_ANY)
        taint(f, s->sid);
    if (o != NULL) {
        o->handle = h;
        o->dones = 0;
        s->open_op = op_id(f, o);
    }
    sim_pump(&f->n, a);
}

static const uint32_t TIMERS[4][2] = {{1000, 3}, {0, 0}, {600, 2}, {2500, 5}};

static void op_open(fz *f, rd *r) {
    int a = u8(r) % NAPPS;
    uint8_t c = u8(r);
    int to = ((c >> 2) & 7) % 5; /* 3: nobody, 4: a name apps may add */
    slim_session_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.type = (c & 1) ? SLIM_SESSION_ANYCAST : SLIM_SESSION_UNICAST;
    cfg.peer =
        to < NAPPS ? sim_sname(&f->n, to) : sim_service("org", "ns", to == 3 ? "nobody" : "shared");
    if (c & 2)
        cfg.peer.name.id = slim_id_any();
    if ((c >> 5) == 6)
        cfg.mls = true;  /* ANYCAST: refused */
    if ((c >> 5) == 7) { /* a group this app moderates */
        cfg.type = SLIM_SESSION_MULTICAST;
        cfg.peer = sim_service("org", "ns", "chat");
    }
    uint8_t tm = u8(r);
    cfg.timeout_ms = TIMERS[tm % 4][0];
    cfg.max_retries = TIMERS[tm % 4][1];
    slim_ss_kv kv[1] = {{{"k", 1}, {"v", 1}}};
    if (tm & 4) {
        cfg.metadata = kv;
        cfg.metadata_len = 1;
    }
    if (tm & 32) /* ANYCAST: publish TO or DESTINATION only; UNICAST: refused */
        memset(&cfg.peer, 0, sizeof cfg.peer);
    cfg.session_id = SLIM_SESSION_ID_ANY;
    if (tm & 8)
        cfg.session_id = pick_sid(f, r, a);
    if (f->opens++ >= MAX_OPENS)
        return;
    fop *o = (tm & 16) ? NULL : op_new(f, a);
    uint64_t h = 0;
    slim_status st = slim_sessions_open(f->n.apps[a].ss, &cfg, o ? op_id(f, o) : 0, f->n.now, &h);
    TRACE("app %d open %s to %d (%s id) timers %u/%u op %llu: %s handle %llu", a,
          cfg.type == SLIM_SESSION_UNICAST   ? "unicast"
          : cfg.type == SLIM_SESSION_ANYCAST ? "anycast"
                                             : "multicast",
          to, (c & 2) ? "any" : "full", cfg.timeout_ms, cfg.max_retries,
          o ? (unsigned long long)op_id(f, o) : 0ull, slim_status_name(st), (unsigned long long)h);
    if ((cfg.mls && cfg.type == SLIM_SESSION_ANYCAST) != (st == SLIM_E_UNSUPPORTED))
        FAIL("app %d: open of an MLS session (or not): %s", a, slim_status_name(st));
    if (cfg.type != SLIM_SESSION_ANYCAST && (tm & 32) && st != SLIM_E_INVALID_ARG)
        FAIL("app %d: open of a UNICAST or MULTICAST session without a peer: %s", a,
             slim_status_name(st));
    opened(f, a, &cfg, o, st, h, to < NAPPS && !(tm & 32) ? to : -1);
}

static void close_sess(fz *f, int a, fsess *s, bool with_op) {
    fop *o = with_op ? op_new(f, a) : NULL;
    slim_status st = slim_sessions_close(f->n.apps[a].ss, s->handle, o ? op_id(f, o) : 0, f->n.now);
    TRACE("app %d close %llu (id %u) op %llu: %s", a, (unsigned long long)s->handle, s->sid,
          o ? (unsigned long long)op_id(f, o) : 0ull, slim_status_name(st));
    if ((st == SLIM_E_CLOSED) != s->closed)
        FAIL("app %d: close of session %llu: %s, closed %d", a, (unsigned long long)s->handle,
             slim_status_name(st), s->closed);
    if (!s->closed && (st == SLIM_E_SESSION_CLOSING) != s->closing)
        FAIL("app %d: close of session %llu: %s, closing %d", a, (unsigned long long)s->handle,
             slim_status_name(st), s->closing);
    if (st != SLIM_OK) {
        if (o != NULL)
            f->nops--;
        return;
    }
    s->closing = true;
    if (o != NULL) {
        o->handle = s->handle;
        o->dones = 0;
        o->kind = K_CLOSE;
        s->close_op = op_id(f, o);
    }
    sim_pump(&f->n, a);
}

static void op_close(fz *f, rd *r) {
    int a = u8(r) % NAPPS;
    fsess *s = pick_sess(f, r, a);
    bool with_op = (u8(r) & 3) != 0;
    if (s != NULL)
        close_sess(f, a, s, with_op);
}

/* ---- groups, congestion ---- */

/* The latest group session of app a not closed (that it moderates, if
 * `mod`), or NULL. */
static fsess *group_of(fz *f, int a, bool mod) {
    for (size_t i = f->ns[a]; i-- > 0;) {
        fsess *s = &f->s[a][i];
        if (s->type == SLIM_SESSION_MULTICAST && !s->closed && (!mod || s->initiator))
            return s;
    }
    return NULL;
}

/* An invite or a removal by app a on session s. */
static void group_task(fz *f, int a, fsess *s, bool remove, const slim_sname *who, bool with_op) {
    fop *o = with_op ? op_new(f, a) : NULL;
    uint64_t id = o ? op_id(f, o) : 0;
    slim_sessions *ss = f->n.apps[a].ss;
    slim_status st = remove ? slim_sessions_remove(ss, s->handle, who, id, f->n.now)
                            : slim_sessions_invite(ss, s->handle, who, id, f->n.now);
    TRACE("app %d %s %.*s on %llu (id %u) op %llu: %s", a, remove ? "removes" : "invites",
          (int)who->text[2].len, who->text[2].ptr, (unsigned long long)s->handle, s->sid,
          (unsigned long long)id, slim_status_name(st));
    slim_status want = s->closed                           ? SLIM_E_CLOSED
                       : s->closing                        ? SLIM_E_SESSION_CLOSING
                       : s->type != SLIM_SESSION_MULTICAST ? SLIM_E_SESSION_EXPECTED_MULTICAST
                       : !s->initiator                     ? SLIM_E_SESSION_NOT_MODERATOR
                                                           : SLIM_OK;
    if (st != want && !(want == SLIM_OK && (st == SLIM_E_QUEUE_FULL || st == SLIM_E_NOMEM)))
        FAIL("app %d: %s on session %llu: %s, not %s", a, remove ? "remove" : "invite",
             (unsigned long long)s->handle, slim_status_name(st), slim_status_name(want));
    if (st != SLIM_OK) {
        if (o != NULL)
            f->nops--;
        return;
    }
    if (o != NULL) {
        o->handle = s->handle;
        o->dones = 0;
        o->kind = remove ? K_REMOVE : K_INVITE;
    }
    sim_pump(&f->n, a);
}

/* Groups: app a opens one (it moderates it), invites or removes an app
 * (or nobody) on the group it moderates (or any session it has: the call
 * errors), or publishes to its latest group. */
static void op_group(fz *f, rd *r) {
    int a = u8(r) % NAPPS;
    uint8_t c = u8(r), d = u8(r);
    int who = (c >> 2) % 4; /* 3: nobody */
    fsess *s = (d & 64) ? pick_sess(f, r, a) : group_of(f, a, c % 4 != 3);
    switch (c % 4) {
    case 0: {
        if (f->opens++ >= MAX_OPENS)
            return;
        slim_session_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.type = SLIM_SESSION_MULTICAST;
        cfg.peer = sim_service("org", "ns", (d & 1) ? "chat" : "room");
        cfg.timeout_ms = TIMERS[(d >> 1) % 4][0];
        cfg.max_retries = TIMERS[(d >> 1) % 4][1];
        cfg.session_id = SLIM_SESSION_ID_ANY;
        fop *o = (d & 8) ? NULL : op_new(f, a);
        uint64_t h = 0;
        slim_status st =
            slim_sessions_open(f->n.apps[a].ss, &cfg, o ? op_id(f, o) : 0, f->n.now, &h);
        TRACE("app %d opens group %s timers %u/%u: %s handle %llu", a, (d & 1) ? "chat" : "room",
              cfg.timeout_ms, cfg.max_retries, slim_status_name(st), (unsigned long long)h);
        if (st != SLIM_OK && st != SLIM_E_SESSION_LIMIT && st != SLIM_E_NOMEM)
            FAIL("app %d: open of a group: %s", a, slim_status_name(st));
        opened(f, a, &cfg, o, st, h, -1);
        break;
    }
    case 1:
    case 2: {
        if (s == NULL)
            return;
        slim_sname n = who < NAPPS ? sim_sname(&f->n, who) : sim_service("org", "ns", "nobody");
        if (who < NAPPS && (d & 16))
            n.name.id = slim_id_any();
        group_task(f, a, s, c % 4 == 2, &n, (d & 32) == 0);
        break;
    }
    default: {
        if (s == NULL)
            return;
        slim_publish p;
        memset(&p, 0, sizeof p);
        (void)publish_legit(f, a, s, &p);
        break;
    }
    }
}

/* The way out of app a congested or not, or a session of a held or
 * released (its reader behind). */
static void op_flow(fz *f, rd *r) {
    int a = u8(r) % NAPPS;
    uint8_t c = u8(r);
    if (c & 1) {
        f->congested[a] = (c & 2) != 0;
        TRACE("app %d congested %d", a, f->congested[a]);
        slim_sessions_congested(f->n.apps[a].ss, f->congested[a]);
        return;
    }
    fsess *s = pick_sess(f, r, a);
    if (s == NULL)
        return;
    slim_status st = slim_sessions_hold(f->n.apps[a].ss, s->handle, (c & 2) != 0);
    TRACE("app %d hold %llu: %d: %s", a, (unsigned long long)s->handle, (c & 2) != 0,
          slim_status_name(st));
    if ((st == SLIM_E_CLOSED) != s->closed || (st != SLIM_OK && st != SLIM_E_CLOSED))
        FAIL("app %d: hold of session %llu: %s, closed %d", a, (unsigned long long)s->handle,
             slim_status_name(st), s->closed);
}

/* ---- the network ---- */

static void op_flight(fz *f, rd *r) {
    uint8_t c = u8(r);
    uint32_t at = u16(r), delay = u16(r);
    if (f->n.nev == 0)
        return;
    size_t i = at % f->n.nev;
    TRACE("flight %d on %zu of %zu (to app %d)", c % 3, i, f->n.nev, f->n.ev[i].to);
    switch (c % 3) {
    case 0:
        sim_flight_drop(&f->n, i);
        break;
    case 1:
        (void)sim_flight_copy(&f->n, i, f->n.now + delay);
        break;
    default:
        sim_flight_delay(&f->n, i, f->n.now + delay);
        break;
    }
}

static void op_impair(fz *f, rd *r) {
    uint8_t c = u8(r), v = u8(r);
    uint32_t w = u16(r);
    TRACE("impair %d: %u %u", c % 5, v, w);
    switch (c % 5) {
    case 0:
        f->n.loss = (v % 6) / 10.0;
        break;
    case 1:
        f->n.dup = (v % 6) / 10.0;
        break;
    case 2:
        f->n.delay_min = 1 + v % 50;
        f->n.delay_max = f->n.delay_min + w % 3000;
        break;
    case 3: {
        int x = v % NAPPS, y = (v >> 4) % NAPPS;
        f->n.partition[x][y] = f->n.partition[y][x] = !f->n.partition[x][y];
        break;
    }
    default: /* the router takes no route (a session's open or join fails) */
        f->n.refuse_routes = !f->n.refuse_routes;
        break;
    }
}

static const char *const NAMES[4] = {"shared", "alice", "bob", "carol"};

/* Names an app answers for besides its own: added, removed, and what
 * removing says. */
static void op_names(fz *f, rd *r) {
    uint8_t c = u8(r);
    int a = ((c >> 1) & 7) % NAPPS;
    sim_app *p = &f->n.apps[a];
    slim_sname nm = sim_service("org", "ns", NAMES[(c >> 4) % 4]);
    int k = -1;
    for (int i = 0; i < p->nextra; i++)
        if (slim_name_same_service(&p->extra[i], &nm.name))
            k = i;
    bool own = slim_name_same_service(&p->name, &nm.name);
    if (c & 1) {
        slim_status st = slim_sessions_remove_name(p->ss, &nm);
        TRACE("app %d removes name %s: %s", a, NAMES[(c >> 4) % 4], slim_status_name(st));
        slim_status want = own ? SLIM_E_INVALID_ARG : k >= 0 ? SLIM_OK : SLIM_E_NOT_FOUND;
        if (st != want)
            FAIL("app %d: removing a name: %s, not %s", a, slim_status_name(st),
                 slim_status_name(want));
        if (k >= 0)
            p->extra[k] = p->extra[--p->nextra];
    } else if (k < 0 && !own && p->nextra < SIM_MAX_NAMES) {
        slim_status st = sim_app_name(&f->n, a, "org", "ns", NAMES[(c >> 4) % 4]);
        TRACE("app %d adds name %s: %s", a, NAMES[(c >> 4) % 4], slim_status_name(st));
        if (st != SLIM_OK)
            FAIL("app %d: adding a name: %s", a, slim_status_name(st));
    }
}

static void op_identity(fz *f, rd *r) {
    uint8_t c = u8(r);
    sim_app *p = &f->n.apps[(c >> 3) % NAPPS];
    TRACE("identity of app %d: %d", (c >> 3) % NAPPS, c & 7);
    switch (c & 7) {
    case 2:
        p->accept_all = false;
        p->refuse_all = false;
        break;
    case 3:
        p->refuse_all = true;
        break;
    case 4:
        p->bad_token = !p->bad_token;
        break;
    case 5:
        p->no_sig = !p->no_sig;
        break;
    default:
        p->accept_all = true;
        p->refuse_all = false;
        break;
    }
}

static void advance(fz *f, uint64_t ms) {
    TRACE("advance %llu ms", (unsigned long long)ms);
    sim_run(&f->n, f->n.now + ms, NULL, NULL);
}

/* The clock advanced by an operation, within the budget (heartbeats alone
 * make hours of simulated time slow). */
static void op_advance(fz *f, uint64_t ms) {
    uint64_t room = f->clock_end > f->n.now ? f->clock_end - f->n.now : 0;
    advance(f, ms < room ? ms : room);
}

/* ---- setup and the end ---- */

static void setup(fz *f, uint8_t conf) {
    memset(f, 0, sizeof *f);
    sim_init(&f->n, 0x5e55);
    slim_sessions_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.heartbeat_ms = 4000;
    if (conf & 4) {
        cfg.anycast_timeout_ms = 700;
        cfg.anycast_max_retries = 2;
    }
    if (conf & 32)
        cfg.max_backlog = 6;
    if (conf & 64)
        cfg.idle_ms = 5000;
    if (conf & 128) {
        cfg.max_sessions = 4;
        f->few_sessions = true;
    }
    static const char *const WHO[NAPPS] = {"alice", "bob", "carol"};
    for (int a = 0; a < NAPPS; a++) {
        if (sim_app_add(&f->n, "org", "ns", WHO[a], 0xa0 + (uint64_t)a, 1, &cfg, NULL) != a)
            abort();
        f->n.apps[a].accept_all = true;
    }
    f->n.node_errors = (conf & 8) != 0;
    f->n.loose_routes = (conf & 16) != 0;
    f->n.filter = tap;
    bool reliable = (conf & 1) == 0;
    /* alice's UNICAST session with bob */
    slim_session_config u;
    memset(&u, 0, sizeof u);
    u.type = SLIM_SESSION_UNICAST;
    u.peer = sim_sname(&f->n, BOB);
    u.peer.name.id = slim_id_any();
    u.timeout_ms = reliable ? 1000 : 0;
    u.max_retries = reliable ? 3 : 0;
    u.session_id = SLIM_SESSION_ID_ANY;
    fop *o = op_new(f, ALICE);
    uint64_t h;
    if (slim_sessions_open(f->n.apps[ALICE].ss, &u, op_id(f, o), f->n.now, &h) != SLIM_OK)
        FAIL("setup: open");
    o->handle = h;
    o->dones = 0;
    fsess *s = sess_add(f, ALICE, h);
    s->peer_app = BOB;
    s->open_op = op_id(f, o);
    sess_info(f, ALICE, s);
    advance(f, 2000);
    check_recs(f);
    if (!s->ready || f->ns[BOB] != 1)
        FAIL("setup: the unicast session did not open");
    /* alice's ANYCAST session to bob's name, and bob's side of it */
    slim_session_config y = u;
    y.type = SLIM_SESSION_ANYCAST;
    y.timeout_ms = (conf & 2) ? 800 : 0;
    y.max_retries = (conf & 2) ? 2 : 0;
    o = op_new(f, ALICE);
    if (slim_sessions_open(f->n.apps[ALICE].ss, &y, op_id(f, o), f->n.now, &h) != SLIM_OK)
        FAIL("setup: anycast open");
    o->handle = h;
    o->dones = 0;
    s = sess_add(f, ALICE, h);
    s->peer_app = BOB;
    s->open_op = op_id(f, o);
    sess_info(f, ALICE, s);
    slim_publish p;
    memset(&p, 0, sizeof p);
    if (publish_legit(f, ALICE, s, &p) != SLIM_OK)
        FAIL("setup: anycast publish");
    advance(f, 100);
    check_recs(f);
    if (f->ns[BOB] != 2)
        FAIL("setup: the anycast session did not reach bob");
    f->clock_end = f->n.now + CLOCK_BUDGET;
}

/* The live UNICAST session app a joined with this id (an ANYCAST session
 * a peer's message opened may have the same id). */
static fsess *other_end(fz *f, int a, uint32_t sid) {
    for (size_t i = 0; i < f->ns[a]; i++) {
        fsess *s = &f->s[a][i];
        if (s->sid_known && s->sid == sid && !s->closed && !s->initiator &&
            s->type == SLIM_SESSION_UNICAST)
            return s;
    }
    return NULL;
}

static bool alive(const fsess *s) {
    return !s->closed && !s->closing;
}

/* Whether app b got legit message seq of (a, s) since record from[b] (on
 * session `at` if not NULL). */
static bool got_legit(const fz *f, int a, const fsess *s, uint32_t seq, int b, const fsess *at,
                      size_t from) {
    const sim_app *q = &f->n.apps[b];
    for (size_t i = from; i < q->nrecs; i++) {
        const sim_rec *r = &q->recs[i];
        if (r->kind == SLIM_SOUT_MESSAGE && r->len == LEGIT_LEN &&
            memcmp(r->payload, MAGIC, 4) == 0 && r->payload[4] == a &&
            get32(r->payload + 5) == (uint32_t)s->handle && get32(r->payload + 9) == seq &&
            (at == NULL || r->session == at->handle))
            return true;
    }
    return false;
}

/* A legit message from (a, s) reaches app b (any app when b < 0; session
 * `at` if not NULL). */
static void must_deliver(fz *f, int a, fsess *s, int b, fsess *at) {
    slim_publish p;
    memset(&p, 0, sizeof p);
    if (publish_legit(f, a, s, &p) != SLIM_OK)
        FAIL("end: app %d session %llu (id %u) refused a publish", a, (unsigned long long)s->handle,
             s->sid);
    uint32_t seq = s->sent;
    uint64_t until = f->n.now + DELIVER_MS;
    size_t from[NAPPS];
    for (int k = 0; k < NAPPS; k++)
        from[k] = f->n.apps[k].nrecs;
    for (;;) {
        for (int k = 0; k < NAPPS; k++)
            if ((b < 0 || k == b) && got_legit(f, a, s, seq, k, at, from[k])) {
                check_recs(f);
                return;
            }
        if (!sim_step(&f->n, until))
            break;
    }
    FAIL("end: legit message %u of app %d session %llu (id %u) never reached app %d", seq, a,
         (unsigned long long)s->handle, s->sid, b);
}

static void the_end(fz *f) {
    simnet *n = &f->n;
    sim_flight_clear(n);
    n->loss = n->dup = 0;
    n->delay_min = n->delay_max = 1;
    memset(n->partition, 0, sizeof n->partition);
    n->refuse_routes = false;
    for (int a = 0; a < NAPPS; a++) {
        n->apps[a].accept_all = n->apps[a].refuse_all = false;
        n->apps[a].bad_token = n->apps[a].no_sig = false;
        slim_sessions_congested(n->apps[a].ss, false);
        for (size_t i = 0; i < f->ns[a]; i++)
            (void)slim_sessions_hold(n->apps[a].ss, f->s[a][i].handle, false);
    }
    settle_and_check(f);
    TRACE("end: settle");
    advance(f, SETTLE_MS);
    check_recs(f);
    /* Point-to-point sessions: open at both ends or neither; then used. */
    for (int a = 0; a < NAPPS; a++)
        for (size_t i = 0; i < f->ns[a]; i++) {
            fsess *s = &f->s[a][i];
            if (s->type == SLIM_SESSION_UNICAST && s->has_peer)
                s->peer_app = app_named(f, &s->peer); /* the app that joined */
            if (s->type != SLIM_SESSION_UNICAST || !s->initiator || s->peer_app < 0 ||
                tainted(f, s->sid))
                continue;
            fsess *o = other_end(f, s->peer_app, s->sid);
            if (alive(s) && s->ready && (o == NULL || !alive(o)))
                FAIL("end: app %d session %llu (id %u) open, app %d's end %s", a,
                     (unsigned long long)s->handle, s->sid, s->peer_app,
                     o == NULL ? "gone" : "closing");
            if (o != NULL && alive(o) && !alive(s))
                FAIL("end: app %d session %llu (id %u) open, app %d's end %s", s->peer_app,
                     (unsigned long long)o->handle, s->sid, a, s->closed ? "gone" : "closing");
            if (o != NULL && alive(o) && alive(s)) {
                must_deliver(f, a, s, s->peer_app, o);
                must_deliver(f, s->peer_app, o, a, s);
            }
        }
    for (int b = 0; b < NAPPS; b++)
        for (size_t i = 0; i < f->ns[b]; i++) {
            fsess *o = &f->s[b][i];
            if (o->type != SLIM_SESSION_UNICAST || o->initiator || !alive(o) ||
                tainted(f, o->sid) || !o->has_peer)
                continue;
            int a = app_named(f, &o->peer);
            bool paired = false;
            for (size_t j = 0; a >= 0 && j < f->ns[a]; j++)
                paired |= f->s[a][j].initiator && f->s[a][j].type == SLIM_SESSION_UNICAST &&
                          f->s[a][j].sid == o->sid && alive(&f->s[a][j]);
            if (a >= 0 && !paired)
                FAIL("end: app %d session %llu (id %u) open, its initiator app %d's is not", b,
                     (unsigned long long)o->handle, o->sid, a);
        }
    /* Anycast openers reach an app that serves their name (simnet routes
     * a name with an id only along a route, which anycast sessions do not
     * make, unless its routes are loose; with few sessions allowed, the
     * receiver may have no room for a new one). */
    for (int a = 0; a < NAPPS; a++)
        for (size_t i = 0; i < f->ns[a]; i++) {
            fsess *s = &f->s[a][i];
            bool served = false;
            for (int b = 0; b < NAPPS; b++)
                served |= b != a && sim_serves(n, b, &s->to);
            if (s->type == SLIM_SESSION_ANYCAST && s->initiator && alive(s) && served &&
                !tainted(f, s->sid) && (s->any_peer || n->loose_routes) && !f->few_sessions)
                must_deliver(f, a, s, -1, NULL);
        }
    /* Close everything; sessions a peer opens meanwhile are closed too. */
    uint64_t limit = n->now + CLOSE_BOUND;
    for (int round = 0; round < 16; round++) {
        settle_and_check(f);
        for (int a = 0; a < NAPPS; a++)
            for (size_t i = 0; i < f->ns[a]; i++)
                if (alive(&f->s[a][i]))
                    close_sess(f, a, &f->s[a][i], true);
        bool open = true;
        while (open && sim_step(n, limit)) {
            open = false;
            for (int a = 0; a < NAPPS; a++) {
                slim_sessions_counters c;
                slim_sessions_counters_get(n->apps[a].ss, &c);
                open |= c.sessions_open > 0;
            }
        }
        settle_and_check(f);
        bool again = false;
        for (int a = 0; a < NAPPS; a++)
            for (size_t i = 0; i < f->ns[a]; i++)
                again |= alive(&f->s[a][i]);
        if (!again)
            break;
    }
    /* Let the last answers arrive. */
    advance(f, 1000);
    check_recs(f);
    for (int a = 0; a < NAPPS; a++) {
        slim_sessions_counters c;
        slim_sessions_counters_get(n->apps[a].ss, &c);
        if (c.sessions_open != 0)
            FAIL("end: app %d has %llu sessions open after closing all", a,
                 (unsigned long long)c.sessions_open);
        if (sim_routes(n, a) != 0)
            FAIL("end: app %d holds %zu routes", a, sim_routes(n, a));
        if (slim_sessions_deadline(n->apps[a].ss) != UINT64_MAX)
            FAIL("end: app %d has a timer", a);
        if (c.messages_in != f->messages[a] || c.lost != f->lost[a] ||
            c.undelivered != f->undelivered[a])
            FAIL("end: app %d counters: in %llu/%llu lost %llu/%llu undelivered %llu/%llu", a,
                 (unsigned long long)c.messages_in, (unsigned long long)f->messages[a],
                 (unsigned long long)c.lost, (unsigned long long)f->lost[a],
                 (unsigned long long)c.undelivered, (unsigned long long)f->undelivered[a]);
        for (size_t i = 0; i < f->ns[a]; i++)
            if (!f->s[a][i].closed)
                FAIL("end: app %d session %llu never CLOSED", a,
                     (unsigned long long)f->s[a][i].handle);
    }
    for (size_t i = 0; i < f->nops; i++)
        if (f->ops[i].dones != 1)
            FAIL("end: op %zu of app %d: %d DONEs", i + 1, f->ops[i].app, f->ops[i].dones);
}

static void teardown(fz *f) {
    TRACE("network: %llu sent, %llu delivered, %llu dropped", (unsigned long long)f->n.sent,
          (unsigned long long)f->n.delivered, (unsigned long long)f->n.dropped);
    sim_free(&f->n);
    for (int a = 0; a < NAPPS; a++)
        free(f->s[a]);
    free(f->ops);
    free(f->got);
    free(f->taint);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rd r = {data, size};
    fz *f = &F;
    if (trace < 0)
        trace = getenv("FUZZ_SESSIONS_TRACE") != NULL;
    setup(f, u8(&r));
    while (r.n > 0) {
        uint8_t op = u8(&r);
        switch (op % 16) {
        case 0:
            inject_raw(f, &r);
            break;
        case 1:
        case 2:
        case 3:
        case 4:
            inject_template(f, &r);
            break;
        case 5:
            inject_sub_ack(f, &r);
            break;
        case 6:
            op_advance(f, u8(&r));
            break;
        case 7:
            op_advance(f, (uint64_t)u8(&r) * ((op & 16) ? 1000 : 50));
            break;
        case 8:
        case 9:
            settle_and_check(f);
            op_publish(f, &r);
            break;
        case 10:
            settle_and_check(f);
            op_close(f, &r);
            break;
        case 11:
            settle_and_check(f);
            op_open(f, &r);
            break;
        case 12:
            op_flight(f, &r);
            break;
        case 13:
            op_impair(f, &r);
            break;
        case 14:
            op_identity(f, &r);
            break;
        default:
            if (op & 16) {
                op_names(f, &r);
            } else if ((op >> 5) < NAPPS) {
                slim_sessions_expire(f->n.apps[op >> 5].ss, f->n.now);
            } else if ((op >> 5) < 6) {
                settle_and_check(f);
                op_group(f, &r);
                check_recs(f);
            } else {
                op_flow(f, &r);
            }
            break;
        }
        if (op % 16 >= 6 && op % 16 <= 11) /* these pumped every app */
            check_recs(f);
    }
    the_end(f);
    teardown(f);
    return 0;
}
