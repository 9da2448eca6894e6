/* libFuzzer target: the node's handling of what a controller, or a caller
 * of the node's own control endpoint, sends (src/control/agent.c, the
 * core): config_commands with connections (config_data JSON) and static
 * subscriptions, list requests, channel requests, acks. The input is a
 * series of chunks (after a first byte: odd, the node has a token provider),
 * each a 2-byte big-endian length and that many bytes,
 * each handed to the core as one ControlMessage; a chunk that starts with
 * 0xA5 instead brings the links the core dialled up (their static
 * subscriptions are installed) and lets the clock run past every channel
 * request's deadline. A real forwarder and fake links stand around it.
 * Whatever arrives, the node must not crash, leak, or touch freed memory,
 * and every answer it sends must decode. */
#include "control/agent.h"
#include "controller/v1/controller.pb-c.h"
#include "core/alloc.h"
#include "slim/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINKS 64

typedef struct fake_link {
    uint64_t conn;
    bool closed;
} fake_link;

static fake_link links[MAX_LINKS];
static int nlinks;
static slim_agent_core *core;
static slim_fwd *fwd;
static uint64_t now_ms = 1000;

static slim_status t_dial(void *ud, const slim_client_config *cc, void **out) {
    (void)ud;
    (void)cc;
    if (nlinks == MAX_LINKS)
        return SLIM_E_NOMEM;
    fake_link *l = &links[nlinks];
    l->conn = 0;
    l->closed = false;
    nlinks++;
    *out = l;
    return SLIM_OK;
}

static void t_close(void *ud, void *l) {
    (void)ud;
    ((fake_link *)l)->closed = true;
}

static uint64_t t_link_conn(void *ud, void *l) {
    (void)ud;
    return ((fake_link *)l)->conn;
}

static void t_streams(void *ud, void (*fn)(uint64_t, const char *, bool, void *), void *fud) {
    (void)ud;
    fn(1, "127.0.0.1:5001", false, fud);
}

/* Every answer decodes. */
static void t_reply(void *ud, slim_bytes msg) {
    (void)ud;
    Controller__Proto__V1__ControlMessage *m =
        controller__proto__v1__control_message__unpack(NULL, msg.len, msg.ptr);
    if (m == NULL)
        abort();
    controller__proto__v1__control_message__free_unpacked(m, NULL);
}

static slim_status t_inject(void *ud, uint64_t conn, slim_bytes msg) {
    (void)ud;
    return slim_fwd_input(fwd, conn, msg, now_ms);
}

static const slim_agent_ops ops = {.dial = t_dial,
                                   .close = t_close,
                                   .link_conn = t_link_conn,
                                   .streams = t_streams,
                                   .broadcast = t_reply,
                                   .inject = t_inject};

static slim_status f_send(void *ud, uint64_t conn, slim_rcbuf *buf) {
    (void)ud;
    (void)conn;
    (void)buf;
    return SLIM_OK;
}

static void f_close(void *ud, uint64_t conn, slim_status why, const char *detail) {
    (void)ud;
    (void)conn;
    (void)why;
    (void)detail;
}

static uint64_t f_random(void *ud) {
    (void)ud;
    static uint64_t n = 100;
    return n++;
}

static void f_app_names(void *ud, const slim_name *name, const slim_str *text, bool added) {
    (void)ud;
    if (core != NULL)
        slim_agent_core_app_name(core, name, text, added);
}

static const slim_fwd_ops fwd_ops = {
    .send = f_send, .close = f_close, .random64 = f_random, .app_names = f_app_names};

/* With a token_provider channel requests go to the moderator; making its
 * keys costs most of a run, so only inputs whose first byte is odd get
 * one (the others have their channel requests refused). */
static const slim_agent_info info_signed = {.node_id = "slim/0",
                                            .token_secret = "a shared secret of at least 32 bytes!",
                                            .request_timeout_ms = 5000};
static const slim_agent_info info_plain = {.node_id = "slim/0"};

/* The forwarder lives across runs (making one costs more than a run);
 * each run opens connections of fresh ids and closes them at its end. */
static uint64_t next_conn = 10;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (getenv("SLIM_LOG") == NULL)
        slim_log_set_level(SLIM_LOG_ERROR);
    slim_fwd_config fc = {.node_id = "slim/0", .version = "0.1.0", .propagate = true};
    if (fwd == NULL && slim_fwd_new(&fc, &fwd_ops, NULL, &fwd) != SLIM_OK)
        abort();
    nlinks = 0;
    now_ms += 1000;
    uint64_t local = next_conn++, app = next_conn++;
    if (slim_fwd_conn_open(fwd, local, SLIM_FWD_LOCAL, NULL) != SLIM_OK ||
        slim_fwd_conn_open(fwd, app, SLIM_FWD_LOCAL, NULL) != SLIM_OK ||
        slim_agent_core_new(size > 0 && (data[0] & 1) ? &info_signed : &info_plain, fwd, &ops, NULL,
                            &core) != SLIM_OK ||
        slim_agent_core_attach(core, local) != SLIM_OK)
        abort();
    size_t off = size > 0 ? 1 : 0;
    while (off + 2 <= size) {
        size_t len = ((size_t)data[off] << 8) | data[off + 1];
        off += 2;
        if (len > size - off)
            len = size - off;
        const uint8_t *p = data + off;
        off += len;
        if (len > 0 && p[0] == 0xA5) {
            for (int i = 0; i < nlinks; i++) {
                if (links[i].closed || links[i].conn != 0)
                    continue;
                links[i].conn = next_conn++;
                char id[32];
                snprintf(id, sizeof id, "link-%d", i);
                if (slim_fwd_conn_open(fwd, links[i].conn, SLIM_FWD_DIALLED, id) == SLIM_OK)
                    slim_agent_core_link_up(core, &links[i], links[i].conn);
            }
            now_ms += 10000;
            (void)slim_agent_core_expire(core, now_ms);
            continue;
        }
        (void)slim_agent_core_handle(core, (slim_bytes){p, len}, now_ms, 1700000000, t_reply, NULL);
    }
    slim_agent_core *c = core;
    core = NULL;
    slim_agent_core_free(c);
    for (int i = 0; i < nlinks; i++)
        if (links[i].conn != 0)
            slim_fwd_conn_close(fwd, links[i].conn);
    slim_fwd_conn_close(fwd, app);
    slim_fwd_conn_close(fwd, local);
    return 0;
}
