/*
 * Helper for the Python interop test of the wire codec (test_wire_interop.py).
 *
 *   wire_tool decode [MAX]   for each hex line on stdin: decode it, then print
 *                            "OK <re-encoded hex> <text-format hex>" or
 *                            "ERR <status name>"
 *   wire_tool samples        print "<name> <hex>" for messages built with the
 *                            C builders, for Python to decode and check
 *   wire_tool mac SECRET LINK_ID
 *                            for each hex message on stdin: the header MAC
 *                            of the message as received, under the link key
 *                            SECRET (hex) of link LINK_ID: "OK <tag hex>"
 *   wire_tool egress-mac SECRET LINK_ID TTL
 *                            for each hex message: its egress form with ttl
 *                            TTL, tagged for that link: "OK <message hex>"
 */
#include "core/util.h"
#include "router/hdrmac.h"
#include "wire/fastpath.h"
#include "wire/text.h"
#include "wire/wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_hex(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
}

static int decode_lines(size_t max) {
    static char line[1 << 22];
    static uint8_t raw[1 << 21];
    while (fgets(line, sizeof line, stdin) != NULL) {
        size_t len = strcspn(line, "\r\n");
        size_t n = 0;
        if (slim_hex_decode(line, len, raw, sizeof raw, &n) != SLIM_OK) {
            printf("ERR BAD_HEX\n");
            continue;
        }
        slim_msg *m = NULL;
        slim_status st = slim_wire_decode(slim_bytes_of(raw, n), max, &m);
        if (st != SLIM_OK) {
            printf("ERR %s\n", slim_status_name(st));
            fflush(stdout);
            continue;
        }
        slim_buf enc = SLIM_BUF_INIT, text = SLIM_BUF_INIT;
        if (slim_wire_encode(m, SIZE_MAX, &enc) != SLIM_OK ||
            slim_pb_to_text(&m->base, &text) != SLIM_OK) {
            printf("ERR ENCODE\n");
        } else {
            printf("OK ");
            print_hex(enc.data, enc.len);
            printf(" ");
            print_hex(text.data, text.len);
            printf("\n");
        }
        fflush(stdout);
        slim_buf_cleanup(&enc);
        slim_buf_cleanup(&text);
        slim_wire_free(m);
    }
    return 0;
}

/* Prints and frees *mp; st is the status of building it. */
static int emit(const char *label, slim_msg **mp, slim_status st) {
    slim_msg *m = *mp;
    *mp = NULL;
    slim_buf b = SLIM_BUF_INIT;
    if (st == SLIM_OK)
        st = slim_wire_encode(m, SIZE_MAX, &b);
    if (st != SLIM_OK) {
        fprintf(stderr, "wire_tool: %s: %s\n", label, slim_status_name(st));
        slim_wire_free(m);
        return 1;
    }
    printf("%s ", label);
    print_hex(b.data, b.len);
    printf("\n");
    slim_buf_cleanup(&b);
    slim_wire_free(m);
    return 0;
}

static int samples(void) {
    int rc = 0;
    slim_name alice, chat;
    slim_name_parts ap, cp;
    const char *an = "agntcy/ns/alice/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    slim_name_parse(an, strlen(an), &alice, &ap);
    slim_name_parse("agntcy/ns/chat", 14, &chat, &cp);
    slim_msg *m = NULL;

    /* subscribe: strings on the source only, id 42, ttl default, recv_from 0 */
    slim_wire_header_spec h = {.source = {&alice, ap.component},
                               .destination = {&chat, NULL},
                               .fanout = 1,
                               .has_recv_from = true,
                               .recv_from = 0};
    rc |= emit("subscribe", &m, slim_wire_subscribe_new(&h, 42, false, &m));

    slim_wire_header_spec u = {
        .source = {&alice, NULL}, .destination = {&chat, cp.component}, .ttl = 3};
    rc |= emit("unsubscribe", &m, slim_wire_subscribe_new(&u, 0, true, &m));

    /* publish: app payload with every byte value, metadata, error=false present */
    slim_wire_header_spec p = {.source = {&alice, ap.component},
                               .destination = {&chat, cp.component},
                               .fanout = 256,
                               .identity = "jwt.token.here",
                               .has_error = true,
                               .error = false,
                               .has_forward_to = true,
                               .forward_to = 18446744073709551615ull};
    slim_wire_session_spec s = {
        .session_type = DATAPLANE__PROTO__V1__SESSION_TYPE__SESSION_TYPE_MULTICAST,
        .message_type = DATAPLANE__PROTO__V1__SESSION_MESSAGE_TYPE__SESSION_MESSAGE_TYPE_MSG,
        .session_id = 4294967295u,
        .message_id = 1};
    uint8_t blob[256];
    for (int i = 0; i < 256; i++)
        blob[i] = (uint8_t)i;
    slim_status st = slim_wire_publish_new(&p, &s, &m);
    if (st == SLIM_OK)
        st = slim_wire_set_app_payload(m, "msg", slim_bytes_of(blob, sizeof blob));
    if (st == SLIM_OK)
        st = slim_wire_metadata_set(m, "PUBLISH_TO", "TRUE");
    rc |= emit("publish_app", &m, st);

    /* publish: join request command with channel set, control absent */
    s.message_type = DATAPLANE__PROTO__V1__SESSION_MESSAGE_TYPE__SESSION_MESSAGE_TYPE_JOIN_REQUEST;
    s.message_id = 99;
    slim_pb_command *cmd = NULL;
    st = slim_wire_publish_new(&h, &s, &m);
    if (st == SLIM_OK)
        st = slim_wire_command_new(
            DATAPLANE__PROTO__V1__COMMAND_PAYLOAD__COMMAND_PAYLOAD_TYPE_JOIN_REQUEST, &cmd);
    if (st == SLIM_OK) {
        slim_wire_name wn = {&chat, cp.component};
        st = slim_wire_name_new(&wn, &cmd->join_request->channel);
        cmd->join_request->_channel_case =
            DATAPLANE__PROTO__V1__JOIN_REQUEST_PAYLOAD___CHANNEL_CHANNEL;
        slim_status st2 = slim_wire_set_command(m, cmd);
        if (st == SLIM_OK)
            st = st2;
    }
    rc |= emit("publish_join", &m, st);

    rc |= emit("ack", &m, slim_wire_subscription_ack_new(7, false, "no such subscription", &m));

    slim_wire_link_spec ls = {.link_id = "3b0f4a52-1c9e-4f7a-9a43-2d7f7a1e5b60",
                              .slim_version = "0.1.0",
                              .is_reply = false,
                              .connection_type = SLIM_LINK_TYPE_EDGE,
                              .node_id = "slim/0"};
    rc |= emit("link", &m, slim_wire_link_negotiation_new(&ls, &m));
    return rc;
}

/* The header MAC commands: one hex message per line. */
static int mac_lines(const char *secret_hex, const char *link_id, const char *ttl_text) {
    static char line[1 << 16];
    static uint8_t raw[1 << 15];
    uint8_t secret[SLIM_HDRMAC_KEY_SIZE];
    size_t n = 0;
    slim_hdrmac_key key;
    if (slim_hex_decode(secret_hex, strlen(secret_hex), secret, sizeof secret, &n) != SLIM_OK ||
        n != sizeof secret || slim_hdrmac_key_init(secret, link_id, &key) != SLIM_OK) {
        fprintf(stderr, "wire_tool: bad secret or link id\n");
        return 2;
    }
    uint32_t ttl = ttl_text != NULL ? (uint32_t)strtoul(ttl_text, NULL, 10) : 0;
    while (fgets(line, sizeof line, stdin) != NULL) {
        size_t len = strcspn(line, "\r\n");
        slim_peek p;
        slim_buf fields = SLIM_BUF_INIT, out = SLIM_BUF_INIT;
        slim_status st = slim_hex_decode(line, len, raw, sizeof raw, &n);
        slim_bytes msg = slim_bytes_of(raw, n);
        if (st == SLIM_OK)
            st = slim_wire_peek(msg, sizeof raw, &p, NULL);
        if (st == SLIM_OK)
            st = slim_wire_mac_fields(&p, ttl_text ? &ttl : NULL, ttl_text != NULL, &fields);
        uint8_t tag[SLIM_HDRMAC_TAG_SIZE];
        if (st == SLIM_OK) {
            slim_hdrmac_tag(&key, slim_buf_view(&fields), tag);
            if (ttl_text != NULL)
                st = slim_wire_egress(msg, &p, ttl, NULL, tag, &out);
        }
        if (st != SLIM_OK) {
            printf("ERR %s\n", slim_status_name(st));
        } else {
            printf("OK ");
            if (ttl_text != NULL)
                print_hex(out.data, out.len);
            else
                print_hex(tag, sizeof tag);
            printf("\n");
        }
        fflush(stdout);
        slim_buf_cleanup(&fields);
        slim_buf_cleanup(&out);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "decode") == 0)
        return decode_lines(argc >= 3 ? (size_t)strtoull(argv[2], NULL, 10) : (1u << 21));
    if (argc == 2 && strcmp(argv[1], "samples") == 0)
        return samples();
    if (argc == 4 && strcmp(argv[1], "mac") == 0)
        return mac_lines(argv[2], argv[3], NULL);
    if (argc == 5 && strcmp(argv[1], "egress-mac") == 0)
        return mac_lines(argv[2], argv[3], argv[4]);
    fprintf(stderr, "usage: wire_tool decode [MAX] | samples | mac SECRET LINK_ID | "
                    "egress-mac SECRET LINK_ID TTL\n");
    return 2;
}
