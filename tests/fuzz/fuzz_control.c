/* libFuzzer target: the controller's handling of what nodes send on the
 * southbound control stream. The input is a series of chunks, each a
 * 2-byte big-endian length and that many bytes; a chunk goes to one of two
 * streams (the top bit of the length) as one ControlMessage. A chunk that
 * starts with 0xA5 is not sent as is: it becomes the config_command_ack of
 * the last command the controller sent on that stream, with the chunk's
 * next bytes as the items' success flags (so the ack paths are reached
 * although message ids are random). Whatever arrives, the controller must
 * not crash, leak, or touch freed memory, and the store stays usable. */
#include "control/ctl_int.h"
#include "core/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct stream {
    char last_id[40];
    size_t last_conns, last_set, last_del;
} stream;

static void on_send(void *ud, const uint8_t *p, size_t n) {
    stream *s = ud;
    ctl_msg *m = controller__proto__v1__control_message__unpack(NULL, n, p);
    if (m == NULL)
        abort(); /* the controller only sends what decodes */
    if (m->payload_case == CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_CONFIG_COMMAND) {
        snprintf(s->last_id, sizeof s->last_id, "%s", m->message_id);
        s->last_conns = m->config_command->n_connections_to_create;
        s->last_set = m->config_command->n_subscriptions_to_set;
        s->last_del = m->config_command->n_subscriptions_to_delete;
    }
    controller__proto__v1__control_message__free_unpacked(m, NULL);
}

/* The ack of the last command on s, flags from p. */
static void send_ack(sb_sess *sess, stream *s, const uint8_t *p, size_t n) {
    if (s->last_id[0] == '\0')
        return;
    size_t total = s->last_conns + s->last_set + s->last_del;
    Controller__Proto__V1__ItemStatus *items = calloc(total + 1, sizeof *items);
    Controller__Proto__V1__ItemStatus **ptrs = calloc(total + 1, sizeof *ptrs);
    for (size_t i = 0; i < total; i++) {
        controller__proto__v1__item_status__init(&items[i]);
        items[i].success = i < n ? (p[i] & 1) : true;
        items[i].error_msg = items[i].success ? "" : "refused";
        ptrs[i] = &items[i];
    }
    Controller__Proto__V1__ConfigurationCommandAck a =
        CONTROLLER__PROTO__V1__CONFIGURATION_COMMAND_ACK__INIT;
    a.original_message_id = s->last_id;
    a.connections_status = ptrs;
    a.n_connections_status = s->last_conns;
    a.subscriptions_status = ptrs + s->last_conns;
    a.n_subscriptions_status = s->last_set + s->last_del;
    ctl_msg m = CONTROLLER__PROTO__V1__CONTROL_MESSAGE__INIT;
    m.message_id = "fuzz-ack";
    m.payload_case = CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_CONFIG_COMMAND_ACK;
    m.config_command_ack = &a;
    size_t len = controller__proto__v1__control_message__get_packed_size(&m);
    uint8_t *buf = malloc(len + 1);
    controller__proto__v1__control_message__pack(&m, buf);
    ctl_session_input(sess, buf, len);
    free(buf);
    free(items);
    free(ptrs);
}

static void close_walk(uv_handle_t *h, void *ud) {
    (void)ud;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (getenv("SLIM_LOG") == NULL)
        slim_log_set_level(SLIM_LOG_ERROR);
    uv_loop_t loop;
    uv_loop_init(&loop);
    slim_store *store = NULL;
    if (slim_store_open(":memory:", &store, NULL, 0) != SLIM_OK)
        abort();
    slim_ctl_config cfg;
    slim_ctl_config_defaults(&cfg);
    slim_ctl *c = NULL;
    if (slim_ctl_new(&loop, &cfg, store, NULL, &c) != SLIM_OK)
        abort();
    stream st[2];
    memset(st, 0, sizeof st);
    sb_sess *sess[2] = {ctl_fake_session(c, "127.0.0.1:5000", on_send, &st[0]),
                        ctl_fake_session(c, "10.0.0.2:5001", on_send, &st[1])};
    size_t off = 0;
    while (off + 2 <= size) {
        size_t len = ((size_t)(data[off] & 0x7f) << 8) | data[off + 1];
        int which = data[off] >> 7;
        off += 2;
        if (len > size - off)
            len = size - off;
        const uint8_t *p = data + off;
        off += len;
        if (len > 0 && p[0] == 0xA5)
            send_ack(sess[which], &st[which], p + 1, len - 1);
        else
            ctl_session_input(sess[which], p, len);
    }
    /* The store still answers. */
    slim_store_node *nodes = NULL;
    size_t n = 0;
    if (slim_store_node_list(store, &nodes, &n) != SLIM_OK)
        abort();
    slim_store_node_list_free(nodes, n);
    slim_ctl_free(c);
    uv_walk(&loop, close_walk, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    slim_store_close(store);
    return 0;
}
