/*
 * A simulated network for the session core: several applications (each a
 * slim_sessions) and a tiny router between them, driven by a fake clock.
 *
 * The router decodes every SEND of an application. A Subscribe or
 * Unsubscribe with recv_from changes that application's routes, one with
 * forward_to its subscriptions; each is answered with a SubscriptionAck
 * (refused when `refuse_routes`). A Publish goes:
 *   - with forward_to, to the application behind that connection;
 *   - with fanout above 1, to every other application subscribed to
 *     exactly that name, and to the one behind each connection the sender
 *     routes that name over, once each;
 *   - to a name with the any id, to one application serving the name (its
 *     own name or one added), round robin;
 *   - to a name with an id, only if the sender has a route to exactly that
 *     name (a session installs one before it writes to its peer).
 * On delivery the router sets incoming_conn to the sender's connection and
 * removes the node-local fields, as the embedded router does. A publish
 * that cannot be routed is answered with an error publish ("slim.error")
 * when `node_errors` is on, else dropped.
 *
 * Impairments, from a seeded generator: loss, duplication, a delay drawn in
 * [delay_min, delay_max] per copy (which reorders), partitions between two
 * applications, and a filter callback for surgical drops. What is in
 * flight can also be dropped, copied or delayed one message at a time,
 * and bytes from outside (a fuzzer's) put in flight (sim_flight_*).
 *
 * Every SEND can be written to a directory (SLIM_SESSION_DUMP) for the
 * independent decoder (check_session_wire.py).
 *
 * Memory of the network itself comes from malloc, not the library's
 * allocator, except the decoded messages it inspects; when those fail
 * under an allocation-failure test the message is dropped, as a loss.
 */
#ifndef SLIM_TEST_SIMNET_H
#define SLIM_TEST_SIMNET_H

#include "session/sessions.h"

#define SIM_MAX_APPS  12
#define SIM_MAX_NAMES 4

/* One output an application pulled (copied). */
typedef struct sim_rec {
    slim_sout_kind kind;
    uint64_t session, op;
    slim_status status;
    uint32_t message_id;
    char detail[256];
    uint8_t payload[48];
    size_t len;
    slim_name source;
    uint64_t input_conn;
    uint64_t at;
    slim_member_change member; /* MEMBER; source: the member (also LOST: the sender) */
} sim_rec;

typedef struct sim_app {
    slim_sessions *ss;
    char text[3][32];
    slim_name name;
    slim_name extra[SIM_MAX_NAMES]; /* names added with slim_sessions_add_name */
    int nextra;
    uint64_t conn;
    uint64_t rng;
    bool bad_token;  /* stamps tokens verify refuses */
    bool no_sig;     /* stamps command messages without a signature */
    bool refuse_all; /* verify refuses everything */
    bool accept_all; /* verify accepts everything (unless refuse_all) */
    /* MLS: a P-256 key made at sim_app_add; the credential is the app id
     * (16 bytes), its expiry (8 bytes, simulated ms: its making plus
     * cred_valid_ms, or 1 when cred_expired) and the public key, all
     * big-endian; checks compare the key, and the expiry when fresh */
    uint8_t sig_priv[32], sig_pub[65];
    uint8_t cred[16 + 8 + 65];
    bool cred_expired;      /* credentials made from now on are expired */
    uint64_t cred_valid_ms; /* 0: forever */
    const uint64_t *clock;  /* the network's */
    slim_id cred_id;        /* the id our credential names (default: ours) */
    sim_rec *recs;
    size_t nrecs, caprecs;
    size_t last_seen; /* for sim_find */
} sim_app;

typedef struct sim_route {
    int app;
    slim_name name;
    uint64_t conn;
    uint64_t sub_id;
    bool sub; /* a subscription (forward_to), else a route (recv_from) */
} sim_route;

typedef struct sim_ev {
    uint64_t when, seq;
    int to;
    uint8_t *bytes;
    size_t len;
} sim_ev;

typedef struct simnet simnet;
typedef bool (*sim_filter)(simnet *n, int from, int to, const slim_msg *m);

struct simnet {
    sim_app apps[SIM_MAX_APPS];
    int napps;
    uint64_t now, seq;
    uint64_t rng;
    double loss, dup;
    uint32_t delay_min, delay_max;
    bool node_errors, refuse_routes;
    bool no_mls;       /* apps added from now on have no MLS ops */
    bool loose_routes; /* a name with an id needs no route (as a node's tables would) */
    bool partition[SIM_MAX_APPS][SIM_MAX_APPS];
    sim_filter filter;
    void *filter_ud;
    sim_ev *ev;
    size_t nev, capev;
    sim_route *routes;
    size_t nroutes, caproutes;
    uint32_t rr; /* round robin */
    const char *dump_dir;
    unsigned dumped;
    /* counts */
    uint64_t sent, delivered, dropped, errors_sent, undecodable;
};

/* Starts an empty network at time 1000 with seed `seed`. */
void sim_init(simnet *n, uint64_t seed);
/* Frees every application and what the network holds. */
void sim_free(simnet *n);
/* Adds an application named c0/c1/c2 with id (hi, lo); cfg may be NULL
 * (defaults) and its local name is filled in. Returns its index, or -1
 * when slim_sessions_new failed (its status in *st if st). */
int sim_app_add(simnet *n, const char *c0, const char *c1, const char *c2, uint64_t hi, uint64_t lo,
                const slim_sessions_config *cfg, slim_status *st);
/* Another name for app a (slim_sessions_add_name too). */
/* App a's process restarts: a new core with the same name, id and MLS
 * key (cfg as at sim_app_add); the network forgets its routes and what was
 * on its way to it. Its records stay. */
slim_status sim_app_restart(simnet *n, int a, const slim_sessions_config *cfg);
slim_status sim_app_name(simnet *n, int a, const char *c0, const char *c1, const char *c2);
/* The sname of an application (text views into the app). */
slim_sname sim_sname(const simnet *n, int a);
/* An sname for text components with the any id. The strings must live as
 * long as the sname is used. */
slim_sname sim_service(const char *c0, const char *c1, const char *c2);
/* Pulls every output of application a (SENDs into the network, others
 * recorded). */
void sim_pump(simnet *n, int a);
void sim_pump_all(simnet *n);
/* One step: pump everyone, then advance to the next event or deadline (at
 * most `until`) and run it. False when nothing is due before `until` (the
 * clock is then at `until`). */
bool sim_step(simnet *n, uint64_t until);
/* Steps until `until`, or until done(n, ud) says so. */
void sim_run(simnet *n, uint64_t until, bool (*done)(simnet *n, void *ud), void *ud);
/* Records of app a of this kind (and session when non-zero). */
size_t sim_count(const simnet *n, int a, slim_sout_kind kind, uint64_t session);
/* The first record of app a of this kind (and session when non-zero) from
 * index `from`; NULL when none. */
const sim_rec *sim_find(const simnet *n, int a, slim_sout_kind kind, uint64_t session, size_t from);
/* Routes and subscriptions app a holds. */
size_t sim_routes(const simnet *n, int a);
/* Whether the router would deliver to app a a publish to d (its own name
 * or one it added, with the any id or its own). */
bool sim_serves(const simnet *n, int a, const slim_name *d);

/* What is in flight is n->ev[0 .. n->nev), in no particular order; i below
 * is an index there (i < n->nev). Drops message i. */
void sim_flight_drop(simnet *n, size_t i);
/* Delivers message i at `when` instead (never before now). */
void sim_flight_delay(simnet *n, size_t i, uint64_t when);
/* A second copy of message i, delivered at `when`. False: no memory. */
bool sim_flight_copy(simnet *n, size_t i, uint64_t when);
/* Drops everything in flight. */
void sim_flight_clear(simnet *n);
/* Puts a copy of msg in flight for app `to`, delivered at `when` as it
 * is (no incoming_conn is set). False: no memory. */
bool sim_flight_add(simnet *n, int to, slim_bytes msg, uint64_t when);

#endif
