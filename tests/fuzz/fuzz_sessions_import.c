/* libFuzzer target: slim_sessions_import (src/session/ss_save.c), the
 * bytes a restarted app brings its groups back from.
 *
 * Once, on the simulated network of tests/unit/session/simnet.h, a
 * moderator (app 0) makes an MLS group with p1 (app 1) and p1's group
 * session is exported: a valid saved state. Each input then restarts p1
 * (a new core, the same name and MLS key) and imports either the input
 * itself (first byte even) or the valid state with the input's bytes
 * XORed in from an offset the second byte picks (first byte odd, so the
 * fuzzer reaches the MLS state inside). The network then runs for a few
 * simulated seconds. Invariants (abort() on violation, besides ASan, UBSan
 * and leaks): import answers OK or one of the statuses sessions.h lists;
 * the count it reports matches the sessions open afterwards; the valid
 * state, unchanged, always comes back.
 */
#include "simnet.h"
#include "core/alloc.h"

#include <stdlib.h>
#include <string.h>

static simnet net;
static slim_buf good;
static bool ready;

static void setup(void) {
    sim_init(&net, 7);
    if (sim_app_add(&net, "org", "ns", "mod", 0x30d, 1, NULL, NULL) != 0 ||
        sim_app_add(&net, "org", "ns", "p1", 0x90, 1, NULL, NULL) != 1)
        abort();
    slim_session_config c;
    memset(&c, 0, sizeof c);
    c.type = SLIM_SESSION_MULTICAST;
    c.peer = sim_service("org", "ns", "chat");
    c.timeout_ms = 1000;
    c.max_retries = 3;
    c.mls = true;
    c.session_id = SLIM_SESSION_ID_ANY;
    uint64_t h;
    if (slim_sessions_open(net.apps[0].ss, &c, 1, net.now, &h) != SLIM_OK)
        abort();
    sim_pump_all(&net);
    slim_sname who = sim_service("org", "ns", "p1");
    if (slim_sessions_invite(net.apps[0].ss, h, &who, 2, net.now) != SLIM_OK)
        abort();
    sim_run(&net, net.now + 5000, NULL, NULL);
    uint32_t n = 0;
    slim_buf_init(&good);
    if (slim_sessions_export(net.apps[1].ss, &good, &n) != SLIM_OK || n != 1)
        abort();
    ready = true;
}

static bool listed(slim_status st) {
    return st == SLIM_OK || st == SLIM_E_UNSUPPORTED || st == SLIM_E_INVALID_ARG ||
           st == SLIM_E_SESSION_DUPLICATE || st == SLIM_E_SESSION_LIMIT || st == SLIM_E_NOMEM ||
           st == SLIM_E_TOO_LARGE || st == SLIM_E_STATE || (st <= -300 && st > -700);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!ready)
        setup();
    if (sim_app_restart(&net, 1, NULL) != SLIM_OK)
        abort();
    for (int a = 0; a < 2; a++) { /* what earlier inputs left */
        free(net.apps[a].recs);
        net.apps[a].recs = NULL;
        net.apps[a].nrecs = net.apps[a].caprecs = net.apps[a].last_seen = 0;
    }
    slim_buf in;
    slim_buf_init(&in);
    bool mutate = size > 0 && (data[0] & 1);
    if (mutate) {
        if (slim_buf_append(&in, good.data, good.len) != SLIM_OK)
            abort();
        size_t at = size > 1 ? (size_t)data[1] * good.len / 256 : 0;
        for (size_t i = 2; i < size && at < in.len; i++, at++)
            in.data[at] ^= data[i];
    } else if (size > 0 && slim_buf_append(&in, data + 1, size - 1) != SLIM_OK) {
        abort();
    }
    uint32_t n = 0;
    slim_status st =
        slim_sessions_import(net.apps[1].ss, slim_buf_view(&in), net.apps[1].conn, net.now, &n);
    if (!listed(st))
        abort();
    slim_sessions_counters c;
    slim_sessions_counters_get(net.apps[1].ss, &c);
    if (c.sessions_open != n)
        abort();
    bool unchanged = mutate && in.len == good.len && memcmp(in.data, good.data, in.len) == 0;
    if (unchanged && (st != SLIM_OK || n != 1))
        abort();
    sim_pump_all(&net);
    sim_run(&net, net.now + 3000, NULL, NULL);
    slim_buf_cleanup(&in);
    return 0;
}
