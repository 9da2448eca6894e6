/*
 * slim-inspect: look at SLIM names and data-plane messages.
 *
 *   slim-inspect name NAME...     parsed form and component hashes
 *   slim-inspect decode HEX       decode one encoded Message, print it
 *   slim-inspect demo             the walkthrough `make run` prints
 */
#include "slim/slim.h"
#include "core/buf.h"
#include "core/util.h"
#include "wire/text.h"
#include "wire/wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f, "usage: slim-inspect COMMAND [ARGS]\n"
               "\n"
               "Inspect SLIM names and data-plane messages.\n"
               "\n"
               "commands:\n"
               "  name NAME...   parse each name (org/ns/service[/id]) and print its\n"
               "                 text form, component hashes and id\n"
               "  decode HEX     decode one encoded dataplane.proto.v1.Message given in\n"
               "                 hex and print it in protobuf text format\n"
               "  demo           parse the names of the group-chat example and encode\n"
               "                 and decode one message\n"
               "\n"
               "options:\n"
               "  -h, --help     show this help\n"
               "  -V, --version  show the version\n");
}

static int show_name(const char *text) {
    slim_name n;
    slim_name_parts parts;
    slim_status st = slim_name_parse(text, strlen(text), &n, &parts);
    if (st != SLIM_OK) {
        fprintf(stderr, "slim-inspect: %s: %s (%s)\n", text, slim_status_str(st),
                slim_status_name(st));
        return 1;
    }
    char canon[3 * SLIM_NAME_COMPONENT_MAX + 64];
    char hashes[128];
    char id[SLIM_ID_TEXT_LEN + 1];
    slim_name_format(parts.component, n.id, canon, sizeof canon, NULL);
    slim_name_format_hashes(&n, hashes, sizeof hashes);
    slim_id_format(n.id, id);
    printf("%s\n", text);
    printf("  text      %s\n", canon);
    for (int i = 0; i < 3; i++)
        printf("  %-9s %-20.*s %016llx\n",
               i == 0   ? "org"
               : i == 1 ? "namespace"
                        : "service",
               (int)parts.component[i].len, parts.component[i].ptr,
               (unsigned long long)n.component[i]);
    printf("  id        %s%s\n", id, slim_id_is_any(n.id) ? " (any instance)" : "");
    printf("  hashed    %s\n", hashes);
    return 0;
}

static int print_message(const slim_msg *m) {
    slim_buf text = SLIM_BUF_INIT;
    slim_status st = slim_pb_to_text(&m->base, &text);
    if (st == SLIM_OK)
        printf("%.*s", (int)text.len, (const char *)text.data);
    slim_buf_cleanup(&text);
    return st == SLIM_OK ? 0 : 1;
}

static int decode_hex(const char *hex) {
    size_t len = strlen(hex);
    uint8_t *bytes = malloc(len / 2 + 1);
    size_t n = 0;
    if (bytes == NULL)
        return 1;
    slim_status st = slim_hex_decode(hex, len, bytes, len / 2 + 1, &n);
    if (st != SLIM_OK) {
        fprintf(stderr, "slim-inspect: not hex: %s\n", slim_status_str(st));
        free(bytes);
        return 1;
    }
    slim_msg *m = NULL;
    st = slim_wire_decode(slim_bytes_of(bytes, n), SLIM_WIRE_DEFAULT_MAX_SIZE, &m);
    free(bytes);
    if (st != SLIM_OK) {
        fprintf(stderr, "slim-inspect: cannot decode: %s (%s)\n", slim_status_str(st),
                slim_status_name(st));
        return 1;
    }
    int rc = print_message(m);
    slim_wire_free(m);
    return rc;
}

static int demo(void) {
    static const char *const names[] = {
        "agntcy/ns/moderator",
        "agntcy/ns/client-1",
        "agntcy/ns/chat",
        "agntcy/namespace/group_channel",
        "agntcy/ns/alice/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
    };
    printf("== Names ==\n");
    for (size_t i = 0; i < SLIM_ARRAY_LEN(names); i++)
        if (show_name(names[i]) != 0)
            return 1;

    printf("\n== One message, encoded and decoded ==\n");
    slim_name src, dst;
    slim_name_parts sp, dp;
    slim_name_parse(names[4], strlen(names[4]), &src, &sp);
    slim_name_parse(names[2], strlen(names[2]), &dst, &dp);
    slim_wire_header_spec h = {
        .source = {&src, sp.component},
        .destination = {&dst, dp.component},
        .fanout = 256,
    };
    slim_wire_session_spec s = {
        .session_type = DATAPLANE__PROTO__V1__SESSION_TYPE__SESSION_TYPE_MULTICAST,
        .message_type = DATAPLANE__PROTO__V1__SESSION_MESSAGE_TYPE__SESSION_MESSAGE_TYPE_MSG,
        .session_id = 42,
        .message_id = 1,
    };
    static const char hello[] = "hello from alice";
    slim_msg *m = NULL, *back = NULL;
    slim_buf wire = SLIM_BUF_INIT;
    int rc = 1;
    if (slim_wire_publish_new(&h, &s, &m) != SLIM_OK ||
        slim_wire_set_app_payload(m, "msg", slim_bytes_of(hello, sizeof hello - 1)) != SLIM_OK ||
        slim_wire_encode(m, SLIM_WIRE_DEFAULT_MAX_SIZE, &wire) != SLIM_OK)
        goto out;
    printf("publish from %s to %s, %zu bytes on the wire:\n", names[4], names[2], wire.len);
    for (size_t i = 0; i < wire.len; i++)
        printf("%02x%s", wire.data[i], (i + 1) % 32 == 0 || i + 1 == wire.len ? "\n" : "");
    slim_status st = slim_wire_decode(slim_buf_view(&wire), SLIM_WIRE_DEFAULT_MAX_SIZE, &back);
    if (st != SLIM_OK) {
        fprintf(stderr, "decode failed: %s\n", slim_status_str(st));
        goto out;
    }
    printf("decoded back:\n");
    rc = print_message(back);
out:
    slim_wire_free(m);
    slim_wire_free(back);
    slim_buf_cleanup(&wire);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
        printf("slim-inspect %s\n", slim_version());
        return 0;
    }
    if (strcmp(cmd, "name") == 0 && argc >= 3) {
        int rc = 0;
        for (int i = 2; i < argc; i++)
            rc |= show_name(argv[i]);
        return rc;
    }
    if (strcmp(cmd, "decode") == 0 && argc == 3)
        return decode_hex(argv[2]);
    if (strcmp(cmd, "demo") == 0 && argc == 2)
        return demo();
    fprintf(stderr, "slim-inspect: unknown command or wrong arguments: %s\n", cmd);
    usage(stderr);
    return 2;
}
