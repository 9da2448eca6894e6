/*
 * slim_p2p: two SLIM applications in a point-to-point session, written
 * with the public client API only (<slim/app.h>, <slim/session.h>).
 *
 *   slim_p2p receiver --name org/ns/bob --server http://127.0.0.1:46357 \
 *                     --count 5 --secret S
 *   slim_p2p sender   --name org/ns/alice --to org/ns/bob \
 *                     --server http://127.0.0.1:46357 --count 5 --secret S [--mls]
 *
 * The receiver waits for one session, reads --count messages and answers
 * each with "ack:<payload>". The sender opens a reliable unicast session
 * to --to, sends "msg <i> from <name>" --count times, reads the answer to
 * each and checks it, then closes the session.
 *
 * Each role prints one JSON object per line on stdout ("connected",
 * "ready", "session", "recv", "done", "error"), the events and fields of
 * upstream's tests/interop/upstream/upstream_app.mjs, so that a test can
 * put this program in place of an app made with upstream's SDK. Exit
 * status: 0 when the role finished, 1 when it failed (an "error" line
 * says why), 2 for bad arguments. The library logs to stderr (level from
 * SLIM_LOG).
 */
#include <slim/session.h>
#include <slim/slim.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_COUNT 5
#define CONNECT_MS    10000 /* to connect to the node */
#define SESSION_MS    30000 /* for the receiver's session, or the sender's to open */
#define MESSAGE_MS    20000 /* for each message */
#define GRACE_MS      5000  /* the receiver waits this long for the peer to close */
#define CLOSE_MS      10000 /* to close a session, or the app */

/* The session upstream's SDK opens with maxRetries 5, interval 1000 ms. */
#define RETRY_MS    1000
#define MAX_RETRIES 5

typedef struct args {
    const char *role;
    const char *name;   /* ours, "org/ns/service" */
    const char *to;     /* sender: the peer */
    const char *server; /* "http://host:port" */
    const char *secret;
    long count;
    bool mls; /* sender: an MLS session */
} args;

static void usage(FILE *f) {
    fprintf(f,
            "usage: slim_p2p receiver --name NAME --server URL --secret SECRET [--count N]\n"
            "       slim_p2p sender --name NAME --to PEER --server URL --secret SECRET "
            "[--count N]\n"
            "       slim_p2p --help\n"
            "\n"
            "A point-to-point session between two SLIM apps through a node.\n"
            "\n"
            "roles:\n"
            "  receiver  wait for one session, read N messages, answer each with\n"
            "            \"ack:<payload>\", then wait up to %d s for the peer to close\n"
            "  sender    open a reliable session to PEER, send \"msg <i> from NAME\" N\n"
            "            times, read and check the answer to each, close the session\n"
            "\n"
            "options:\n"
            "  --name NAME      this app's name, org/namespace/service\n"
            "  --to PEER        sender: the name to open the session with\n"
            "  --server URL     the node to connect to, http://host:port\n"
            "  --secret SECRET  the shared secret both apps hold (32 characters or more)\n"
            "  --count N        messages to send or read (default %d)\n"
            "  --mls            sender: encrypt the session end to end with MLS (the\n"
            "                   receiver follows the sender's choice)\n"
            "  -h, --help       print this help and exit\n"
            "\n"
            "One JSON object per line on stdout tells what happened: connected, ready,\n"
            "session, recv, done, or error. Exit status: 0 when the role finished, 1 when\n"
            "it failed, 2 for bad arguments. SLIM_LOG=info (or debug) shows the library's\n"
            "log on stderr.\n",
            GRACE_MS / 1000, DEFAULT_COUNT);
}

static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int bad_usage(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("slim_p2p: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n(slim_p2p --help shows the usage)\n", stderr);
    va_end(ap);
    return 2;
}

/* Returns 0, or the exit status for bad arguments after saying why. */
static int parse_args(int argc, char **argv, args *a) {
    *a = (args){.count = DEFAULT_COUNT};
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            exit(0);
        }
    if (argc < 2)
        return bad_usage("no role given: receiver or sender");
    a->role = argv[1];
    if (strcmp(a->role, "receiver") != 0 && strcmp(a->role, "sender") != 0)
        return bad_usage("unknown role '%s': receiver or sender", a->role);
    for (int i = 2; i < argc; i += 2) {
        const char *key = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(key, "--mls") == 0) {
            a->mls = true;
            i--; /* a flag: no value */
            continue;
        }
        const char **slot = strcmp(key, "--name") == 0     ? &a->name
                            : strcmp(key, "--to") == 0     ? &a->to
                            : strcmp(key, "--server") == 0 ? &a->server
                            : strcmp(key, "--secret") == 0 ? &a->secret
                                                           : NULL;
        if (slot == NULL && strcmp(key, "--count") != 0)
            return bad_usage("unknown option '%s'", key);
        if (val == NULL)
            return bad_usage("%s needs a value", key);
        if (slot != NULL) {
            *slot = val;
            continue;
        }
        char *end;
        errno = 0;
        a->count = strtol(val, &end, 10);
        if (errno != 0 || end == val || *end != 0 || a->count < 1 || a->count > 1000000)
            return bad_usage("--count takes a whole number from 1 to 1000000, not '%s'", val);
    }
    if (a->name == NULL)
        return bad_usage("--name is missing (this app's name, org/namespace/service)");
    if (a->server == NULL)
        return bad_usage("--server is missing (the node, http://host:port)");
    if (a->secret == NULL)
        return bad_usage("--secret is missing (the shared secret both apps hold)");
    bool sender = strcmp(a->role, "sender") == 0;
    if (sender && a->to == NULL)
        return bad_usage("the sender needs --to (the name to open the session with)");
    if (!sender && a->to != NULL)
        return bad_usage("--to is for the sender only");
    slim_name n;
    slim_status st = slim_name_parse(a->name, strlen(a->name), &n, NULL);
    if (st != SLIM_OK)
        return bad_usage("--name '%s': %s", a->name, slim_status_str(st));
    if (a->to != NULL && (st = slim_name_parse(a->to, strlen(a->to), &n, NULL)) != SLIM_OK)
        return bad_usage("--to '%s': %s", a->to, slim_status_str(st));
    return 0;
}

/* ---- JSON lines on stdout ---- */

/* Writes s[0..len) as a JSON string. Bytes from 0x80 up pass through: the
 * payloads here are UTF-8 text. */
static void json_string(const char *s, size_t len) {
    putchar('"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

/* Prints {"event":EVENT, ...}: the rest are pairs of a key and a value,
 * ended by NULL; a key starting with '#' takes a long long instead of a
 * string (and is printed without the '#'). */
static void emit(const char *event, ...) {
    va_list ap;
    va_start(ap, event);
    printf("{\"event\":\"%s\"", event);
    for (const char *key; (key = va_arg(ap, const char *)) != NULL;) {
        bool number = key[0] == '#';
        printf(",\"%s\":", key + number);
        if (number) {
            printf("%lld", va_arg(ap, long long));
        } else {
            const char *v = va_arg(ap, const char *);
            json_string(v, strlen(v));
        }
    }
    va_end(ap);
    puts("}");
    fflush(stdout);
}

/* The "error" line; returns the exit status 1. */
static int fail(const args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(const args *a, const char *fmt, ...) {
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    emit("error", "role", a->role, "error", why, NULL);
    return 1;
}

/* Copies "org/ns/service" out of "org/ns/service/<id>": upstream's apps
 * report names without the id, and so do we. */
static void service_of(const char *full, char *out, size_t cap) {
    size_t len = 0;
    for (int slashes = 0; full[len] != 0; len++)
        if (full[len] == '/' && ++slashes == 3)
            break;
    snprintf(out, cap, "%.*s", (int)len, full);
}

/* Prints the "recv" line of m; from gets its sender's service name. */
static void emit_recv(const slim_message *m, char *from, size_t cap) {
    service_of(m->source_text, from, cap);
    printf("{\"event\":\"recv\",\"from\":");
    json_string(from, strlen(from));
    printf(",\"payload\":");
    json_string((const char *)m->payload.ptr, m->payload.len);
    puts("}");
    fflush(stdout);
}

/* ---- the two roles ---- */

/* Runs op to its end: waits for its OP_DONE event (other events are not
 * needed here and are skipped) and returns its status, with the cause in
 * words in ev->detail. */
static slim_status finish(slim_app *app, slim_op op, int64_t timeout_ms, slim_event *ev) {
    for (;;) {
        slim_status st = slim_app_next_event(app, timeout_ms, ev);
        if (st != SLIM_OK) {
            snprintf(ev->detail, sizeof ev->detail, "no answer within %lld ms",
                     (long long)timeout_ms);
            return st;
        }
        if (ev->kind == SLIM_EVENT_OP_DONE && ev->op == op)
            return ev->status;
    }
}

/* Makes the app and connects it to the node; prints "connected". */
static int start(const args *a, slim_app **out) {
    /* The identity. Upstream's createAppWithSecret(name, secret) takes the
     * app's name text as the shared-secret identity id (its tokens read
     * "org/ns/alice_<8 random characters>:..."), so we pass the same. The
     * id itself is checked by neither side: a peer accepts our messages
     * because the token's MAC was made with the shared secret and the
     * command headers are signed with the key the token carries. The app
     * id (the last part of the full name) is derived from the token's id,
     * by our library as by upstream's (docs/client.md, "An app"). */
    slim_identity_config id = {
        .kind = SLIM_IDENTITY_SHARED_SECRET, .id = a->name, .secret = a->secret};
    slim_app *app = NULL;
    slim_status st = slim_app_new(a->name, &id, &id, NULL, &app);
    if (st != SLIM_OK)
        return fail(a, "cannot create the app %s: %s", a->name, slim_status_str(st));
    /* The asynchronous form, for the cause in words ("cannot connect to
     * http://...: connection refused"). */
    slim_op op;
    slim_event ev = {0};
    slim_conn_id conn = 0;
    st = slim_app_connect_async(app, &(slim_client_options){.endpoint = a->server}, &op);
    if (st == SLIM_OK && (st = finish(app, op, CONNECT_MS, &ev)) == SLIM_OK)
        conn = ev.conn;
    if (st != SLIM_OK) {
        int rc = ev.detail[0] != 0
                     ? fail(a, "%s", ev.detail)
                     : fail(a, "cannot connect to %s: %s", a->server, slim_status_str(st));
        slim_app_free(app, 0);
        return rc;
    }
    slim_name me;
    char idtext[SLIM_ID_TEXT_LEN + 1];
    slim_app_name(app, &me);
    slim_id_format(me.id, idtext);
    emit("connected", "name", a->name, "id", idtext, "#conn", (long long)conn, NULL);
    *out = app;
    return 0;
}

/* Receiver: one session, count messages each answered, then the peer's
 * close (or the grace time). */
static int receiver(const args *a, slim_app *app) {
    emit("ready", NULL);
    slim_session_id s;
    slim_status st = slim_app_listen(app, SESSION_MS, &s);
    if (st != SLIM_OK)
        return fail(a, "no session within %d s: %s", SESSION_MS / 1000, slim_status_str(st));
    slim_session_info *info = NULL;
    if ((st = slim_session_info_get(app, s, &info)) != SLIM_OK)
        return fail(a, "session gone at once: %s", slim_status_str(st));
    char peer[512];
    service_of(info->dst, peer, sizeof peer);
    emit("session", "from", peer, "type",
         info->type == SLIM_SESSION_UNICAST ? "point-to-point" : "anycast", NULL);
    slim_session_info_free(info);

    for (long i = 0; i < a->count; i++) {
        slim_message *m = NULL;
        st = slim_session_get_message(app, s, MESSAGE_MS, &m);
        if (st != SLIM_OK)
            return fail(a, "message %ld of %ld: %s", i + 1, a->count, slim_status_str(st));
        char from[512];
        emit_recv(m, from, sizeof from);
        /* The answer: "ack:" and the payload, back to its sender. */
        size_t len = 4 + m->payload.len;
        uint8_t *ack = malloc(len);
        if (ack == NULL) {
            slim_message_free(m);
            return fail(a, "out of memory");
        }
        memcpy(ack, "ack:", 4);
        memcpy(ack + 4, m->payload.ptr, m->payload.len);
        st = slim_session_publish_to(app, s, m, (slim_bytes){ack, len}, NULL, MESSAGE_MS, NULL);
        free(ack);
        slim_message_free(m);
        if (st != SLIM_OK)
            return fail(a, "answer to message %ld: %s", i + 1, slim_status_str(st));
    }

    /* The sender closes the session once it has every answer; until then
     * our answers may still be on their way, so wait for the close. A
     * message more than count is an error. */
    slim_message *extra = NULL;
    st = slim_session_get_message(app, s, GRACE_MS, &extra);
    if (st == SLIM_OK) {
        slim_message_free(extra);
        return fail(a, "a message more than the %ld expected", a->count);
    }
    emit("done", "peer", st == SLIM_E_CLOSED ? "closed" : "did not close", NULL);
    return 0;
}

/* Sender: a session to --to, count messages, each answer read and checked,
 * then the close. */
static int sender(const args *a, slim_app *app) {
    /* The app's router learns that --to is reached through the node. */
    slim_status st = slim_app_set_route(app, a->to, 0, CONNECT_MS);
    if (st != SLIM_OK)
        return fail(a, "cannot route %s: %s", a->to, slim_status_str(st));
    slim_session_options o = {.type = SLIM_SESSION_UNICAST,
                              .peer = a->to,
                              .timeout_ms = RETRY_MS,
                              .max_retries = MAX_RETRIES,
                              .mls = a->mls};
    slim_op op;
    slim_event ev = {0};
    st = slim_session_create_async(app, &o, &op);
    if (st == SLIM_OK)
        st = finish(app, op, SESSION_MS, &ev);
    if (st != SLIM_OK)
        return fail(a, "cannot open a session with %s: %s", a->to,
                    ev.detail[0] != 0 ? ev.detail : slim_status_str(st));
    slim_session_id s = ev.session;
    emit("session", "to", a->to, NULL);

    for (long i = 0; i < a->count; i++) {
        char payload[600], want[sizeof payload + 4];
        snprintf(payload, sizeof payload, "msg %ld from %s", i, a->name);
        snprintf(want, sizeof want, "ack:%s", payload);
        slim_bytes b = {(const uint8_t *)payload, strlen(payload)};
        st = slim_session_publish(app, s, b, NULL, MESSAGE_MS, NULL);
        if (st != SLIM_OK)
            return fail(a, "sending message %ld: %s", i, slim_status_str(st));
        slim_message *m = NULL;
        st = slim_session_get_message(app, s, MESSAGE_MS, &m);
        if (st != SLIM_OK)
            return fail(a, "the answer to message %ld: %s", i, slim_status_str(st));
        char from[512];
        emit_recv(m, from, sizeof from);
        bool ok =
            m->payload.len == strlen(want) && memcmp(m->payload.ptr, want, m->payload.len) == 0;
        slim_message_free(m);
        if (!ok)
            return fail(a, "the answer to message %ld is not '%s'", i, want);
        if (strcmp(from, a->to) != 0)
            return fail(a, "the answer to message %ld came from %s, not %s", i, from, a->to);
    }

    if ((st = slim_session_delete(app, s, CLOSE_MS)) != SLIM_OK)
        return fail(a, "closing the session: %s", slim_status_str(st));
    emit("done", NULL);
    return 0;
}

int main(int argc, char **argv) {
    args a;
    int rc = parse_args(argc, argv, &a);
    if (rc != 0)
        return rc;
    slim_app *app = NULL;
    if ((rc = start(&a, &app)) != 0)
        return rc;
    rc = strcmp(a.role, "sender") == 0 ? sender(&a, app) : receiver(&a, app);
    slim_app_free(app, CLOSE_MS);
    return rc;
}
