/*
 * Shared fixture of the in-process transport tests of TLS,
 * keepalive, drain, reconnection): one loop with a watchdog, waits with a
 * cap, client state recording, log capture, and certificates made by
 * tests/transport_certs.sh into a temporary folder. Every test ends with
 * fx_down(), which runs the loop dry and checks that uv_loop_close()
 * succeeds and that no slim allocation is left.
 */
#ifndef SLIM_TEST_TRANSPORT_FIXTURE_H
#define SLIM_TEST_TRANSPORT_FIXTURE_H

#include "test.h"
#include "transport/grpc.h"

typedef struct fx_states {
    int n;
    slim_grpc_conn_state st[64];
    slim_status why[64];
    uint64_t at[64]; /* loop ms */
} fx_states;

typedef struct fx {
    uv_loop_t loop;
    uv_timer_t watchdog;
    bool timed_out;
    fx_states states; /* of clients created with fx_on_state and &FX.states */
} fx;

extern fx FX;

void fx_up(void);
void fx_down(void);

/* Runs the loop until `cond` holds; fails the test after `ms`. */
#define FX_WAIT(cond, ms)                                                                          \
    do {                                                                                           \
        fx_arm_(ms);                                                                               \
        while (!(cond) && !FX.timed_out)                                                           \
            uv_run(&FX.loop, UV_RUN_ONCE);                                                         \
        fx_disarm_(#cond, __LINE__);                                                               \
    } while (0)
void fx_arm_(uint64_t ms);
void fx_disarm_(const char *what, int line);

/* Runs the loop for `ms` (to observe that something does not happen). */
void fx_run_for(uint64_t ms);

/* State callback recording into the fx_states given as `ud`. */
void fx_on_state(slim_grpc_client *c, slim_grpc_conn_state st, slim_status why, void *ud);
/* Index of the first recorded state `st` at or after `from`, or -1. */
int fx_find_state(const fx_states *s, int from, slim_grpc_conn_state st);

/* Log lines (all levels up to debug while capturing). */
void fx_logs_capture(void);
bool fx_logs_have(const char *needle);
void fx_logs_clear(void);
void fx_logs_release(void);

/* A file of the test certificates (see tests/transport_certs.sh), made
 * once per process; the folder is removed at exit. */
const char *fx_cert(const char *name);

/* A client config for `endpoint` with no retries (one attempt, then
 * SHUTDOWN) unless changed; strings point at static or caller storage, so
 * do not call slim_client_config_cleanup on it. */
void fx_client_config(slim_client_config *cc, const char *endpoint);

#endif
