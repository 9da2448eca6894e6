/*
 * group_peer: one member of a group (MULTICAST) session, written with the
 * public client API only (<slim/app.h>, <slim/session.h>), for the group
 * interop tests with upstream's SDK (tests/interop/upstream/test_upstream.py).
 * It plays the roles of upstream_app.mjs there, with the same options and
 * the same JSON lines, so that the test can put it in place of an app made
 * with upstream's SDK:
 *
 *   group_peer moderator --name org/ns/mod --channel org/ns/chat \
 *              --invite org/ns/a,org/ns/b --server URL --secret S \
 *              [--count N] [--expect M] [--commands] [--mls]
 *   group_peer participant --name org/ns/a --server URL --secret S \
 *              [--count N] [--expect M] [--until-end] [--mls]
 *
 * The moderator creates a reliable group on --channel, invites each name
 * of --invite in turn, prints the member list, sends "start", then N
 * messages "msg <i> from <name>", and reads M messages from the others.
 * A participant waits for one session, reads until the moderator's
 * "start", sends its N messages and reads until it has M. Both then print
 * "done". With --commands the moderator reads commands from stdin, one a
 * line: "remove NAME" (prints "removed" and the member list) and "close"
 * (closes the group, prints "closed"). With --until-end a participant
 * reads on until its session ends and prints "ended" with the status that
 * ended it (E_SESSION_REMOVED, E_SESSION_MODERATOR_CLOSED, ...); a
 * message that comes meanwhile is printed as "extra". Changes of the
 * membership that the library reports are printed as "member" lines.
 * With --mls the moderator's group is an MLS group (a participant follows
 * the moderator's choice; it takes the flag as upstream_app.mjs does).
 *
 * Exit status: 0 when the role finished, 1 when it failed (an "error" line
 * says why), 2 for bad arguments. The library logs to stderr (SLIM_LOG).
 */
#include <slim/session.h>
#include <slim/slim.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CONNECT_MS  10000 /* to connect, or to route a name */
#define SESSION_MS  60000 /* a participant's wait for its session */
#define INVITE_MS   30000 /* one invitation */
#define MESSAGE_MS  30000 /* each message */
#define END_MS      60000 /* --until-end: the wait for the end */
#define CLOSE_MS    10000 /* to close a session, or the app */
#define MAX_INVITES 16

/* The session upstream's SDK opens in the tests: maxRetries 5, interval
 * 1000 ms (reliable). */
#define RETRY_MS    1000
#define MAX_RETRIES 5

typedef struct args {
    const char *role;
    const char *name, *channel, *server, *secret;
    char *invite[MAX_INVITES];
    size_t invites;
    char *invite_list; /* the copy --invite's names point into */
    long count, expect;
    bool commands, until_end, mls;
} args;

static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int bad_usage(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("group_peer: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\nusage: group_peer moderator|participant --name NAME --server URL --secret S\n"
          "         [--channel CHANNEL --invite A,B,...] [--count N] [--expect M]\n"
          "         [--commands] [--until-end] [--mls]\n",
          stderr);
    va_end(ap);
    return 2;
}

static bool valid_name(const char *text) {
    slim_name n;
    return slim_name_parse(text, strlen(text), &n, NULL) == SLIM_OK;
}

static int parse_number(const char *key, const char *val, long *out) {
    char *end;
    errno = 0;
    *out = strtol(val, &end, 10);
    if (errno != 0 || end == val || *end != 0 || *out < 0 || *out > 1000000)
        return bad_usage("%s takes a whole number from 0 to 1000000, not '%s'", key, val);
    return 0;
}

/* Returns 0, or the exit status for bad arguments after saying why. */
static int parse_args(int argc, char **argv, args *a) {
    *a = (args){.count = 5};
    if (argc < 2 || (strcmp(argv[1], "moderator") != 0 && strcmp(argv[1], "participant") != 0))
        return bad_usage("the first argument is the role: moderator or participant");
    a->role = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *key = argv[i];
        if (strcmp(key, "--commands") == 0) {
            a->commands = true;
            continue;
        }
        if (strcmp(key, "--until-end") == 0) {
            a->until_end = true;
            continue;
        }
        if (strcmp(key, "--mls") == 0) {
            a->mls = true;
            continue;
        }
        const char *val = i + 1 < argc ? argv[++i] : NULL;
        if (val == NULL)
            return bad_usage("%s needs a value", key);
        int rc = 0;
        if (strcmp(key, "--name") == 0)
            a->name = val;
        else if (strcmp(key, "--channel") == 0)
            a->channel = val;
        else if (strcmp(key, "--server") == 0)
            a->server = val;
        else if (strcmp(key, "--secret") == 0)
            a->secret = val;
        else if (strcmp(key, "--count") == 0)
            rc = parse_number(key, val, &a->count);
        else if (strcmp(key, "--expect") == 0)
            rc = parse_number(key, val, &a->expect);
        else if (strcmp(key, "--invite") == 0) {
            /* Comma separated; each part is split off in place, so keep a
             * copy owned here. */
            free(a->invite_list);
            a->invites = 0;
            char *list = a->invite_list = strdup(val);
            if (list == NULL)
                return bad_usage("out of memory");
            for (char *save = NULL, *p = strtok_r(list, ",", &save); p != NULL;
                 p = strtok_r(NULL, ",", &save)) {
                if (a->invites == MAX_INVITES)
                    return bad_usage("at most %d names in --invite", MAX_INVITES);
                a->invite[a->invites++] = p;
            }
        } else
            return bad_usage("unknown option '%s'", key);
        if (rc != 0)
            return rc;
    }
    if (a->name == NULL || !valid_name(a->name))
        return bad_usage("--name is missing or not org/namespace/service");
    if (a->server == NULL)
        return bad_usage("--server is missing (the node, http://host:port)");
    if (a->secret == NULL)
        return bad_usage("--secret is missing (the shared secret every app holds)");
    bool moderator = strcmp(a->role, "moderator") == 0;
    if (moderator && (a->channel == NULL || !valid_name(a->channel)))
        return bad_usage("the moderator needs --channel org/namespace/channel");
    for (size_t i = 0; i < a->invites; i++)
        if (!valid_name(a->invite[i]))
            return bad_usage("--invite: '%s' is not org/namespace/service", a->invite[i]);
    if (!moderator && (a->channel != NULL || a->invites != 0 || a->commands))
        return bad_usage("--channel, --invite and --commands are for the moderator");
    if (moderator && a->until_end)
        return bad_usage("--until-end is for a participant");
    return 0;
}

/* ---- JSON lines on stdout ---- */

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

/* Prints {"event":EVENT, ...}: pairs of a key and a string value, ended by
 * NULL. */
static void emit(const char *event, ...) {
    va_list ap;
    va_start(ap, event);
    printf("{\"event\":\"%s\"", event);
    for (const char *key; (key = va_arg(ap, const char *)) != NULL;) {
        const char *v = va_arg(ap, const char *);
        printf(",\"%s\":", key);
        json_string(v, strlen(v));
    }
    va_end(ap);
    puts("}");
    fflush(stdout);
}

static const args *the_args;

/* The "error" line; returns the exit status 1. */
static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail(const char *fmt, ...) {
    char why[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    emit("error", "role", the_args->role, "error", why, NULL);
    return 1;
}

/* "org/ns/service" out of "org/ns/service/<id>": the lines carry names
 * without the id, as upstream_app.mjs prints them. */
static void service_of(const char *full, char *out, size_t cap) {
    size_t len = 0;
    for (int slashes = 0; full[len] != 0; len++)
        if (full[len] == '/' && ++slashes == 3)
            break;
    snprintf(out, cap, "%.*s", (int)len, full);
}

/* Prints the member list as {"event":"members","names":[...]}, sorted,
 * without ids. */
static int emit_members(slim_app *app, slim_session_id s) {
    char **names = NULL;
    size_t n = 0;
    slim_status st = slim_session_members(app, s, &names, &n);
    if (st != SLIM_OK)
        return fail("the member list: %s", slim_status_str(st));
    char(*plain)[512] = calloc(n + 1, sizeof *plain);
    if (plain == NULL) {
        slim_session_members_free(names);
        return fail("out of memory");
    }
    for (size_t i = 0; i < n; i++)
        service_of(names[i], plain[i], sizeof plain[i]);
    slim_session_members_free(names);
    qsort(plain, n, sizeof *plain, (int (*)(const void *, const void *))strcmp);
    printf("{\"event\":\"members\",\"names\":[");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            putchar(',');
        json_string(plain[i], strlen(plain[i]));
    }
    puts("]}");
    fflush(stdout);
    free(plain);
    return 0;
}

/* ---- events ---- */

/* How this app's session ended, once SLIM_EVENT_SESSION_CLOSED came. */
static slim_session_id watched;
static bool ended;
static slim_status end_status;
static char end_detail[256];

/* Handles an event that is not the OP_DONE being waited for: prints
 * membership changes, keeps the end of the session. */
static void note_event(const slim_event *ev) {
    if (ev->kind == SLIM_EVENT_MEMBER && ev->session == watched) {
        char who[512];
        service_of(ev->name, who, sizeof who);
        emit("member", "change", ev->member == SLIM_MEMBER_JOINED ? "joined" : "left", "name", who,
             NULL);
    } else if (ev->kind == SLIM_EVENT_SESSION_CLOSED && ev->session == watched && !ended) {
        ended = true;
        end_status = ev->status;
        snprintf(end_detail, sizeof end_detail, "%s", ev->detail);
    } else if (ev->kind == SLIM_EVENT_UNDELIVERED || ev->kind == SLIM_EVENT_DROPPED ||
               ev->kind == SLIM_EVENT_MESSAGE_LOST) {
        char what[64];
        snprintf(what, sizeof what, "kind %d, message %u", (int)ev->kind, ev->message_id);
        emit("warning", "what", what, "name", ev->name, NULL);
    }
}

/* Takes every event waiting. */
static void drain_events(slim_app *app) {
    slim_event ev;
    while (slim_app_next_event(app, 0, &ev) == SLIM_OK)
        note_event(&ev);
}

/* Runs op to its end and returns its status (the cause in words in
 * ev->detail); other events go to note_event. */
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
        note_event(ev);
    }
}

/* ---- the exchange ---- */

static slim_status publish(slim_app *app, slim_session_id s, const char *text) {
    slim_bytes b = {(const uint8_t *)text, strlen(text)};
    /* E_QUEUE_FULL: the window of the reliable session is full; retry. */
    for (int tries = 0;; tries++) {
        slim_status st = slim_session_publish(app, s, b, NULL, MESSAGE_MS, NULL);
        if (st != SLIM_E_QUEUE_FULL || tries == 300)
            return st;
        drain_events(app);
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static int publish_all(slim_app *app, slim_session_id s) {
    for (long i = 0; i < the_args->count; i++) {
        char payload[600];
        snprintf(payload, sizeof payload, "msg %ld from %s", i, the_args->name);
        slim_status st = publish(app, s, payload);
        if (st != SLIM_OK)
            return fail("sending message %ld: %s", i, slim_status_str(st));
    }
    return 0;
}

/* Takes one message, printing it as a "recv" line unless it is the
 * moderator's "start" (*start set then). E_* status as get_message. */
static slim_status take(slim_app *app, slim_session_id s, int64_t timeout_ms, bool *start,
                        const char *line) {
    slim_message *m = NULL;
    slim_status st = slim_session_get_message(app, s, timeout_ms, &m);
    drain_events(app);
    if (st != SLIM_OK)
        return st;
    *start = m->payload.len == 5 && memcmp(m->payload.ptr, "start", 5) == 0;
    if (!*start) {
        char from[512];
        service_of(m->source_text, from, sizeof from);
        printf("{\"event\":\"%s\",\"from\":", line);
        json_string(from, strlen(from));
        printf(",\"payload\":");
        json_string((const char *)m->payload.ptr, m->payload.len);
        puts("}");
        fflush(stdout);
    }
    slim_message_free(m);
    return SLIM_OK;
}

/* Reads until `want` data messages (not "start") have come. */
static int collect(slim_app *app, slim_session_id s, long have) {
    while (have < the_args->expect) {
        bool start;
        slim_status st = take(app, s, MESSAGE_MS, &start, "recv");
        if (st != SLIM_OK)
            return fail("message %ld of %ld: %s", have + 1, the_args->expect, slim_status_str(st));
        have += !start;
    }
    return 0;
}

/* ---- the roles ---- */

static int moderator_commands(slim_app *app, slim_session_id s) {
    char line[600];
    while (fgets(line, sizeof line, stdin) != NULL) {
        line[strcspn(line, "\r\n")] = 0;
        if (strncmp(line, "remove ", 7) == 0) {
            const char *who = line + 7;
            slim_op op;
            slim_event ev = {0};
            slim_status st = slim_session_remove_async(app, s, who, &op);
            if (st == SLIM_OK)
                st = finish(app, op, INVITE_MS, &ev);
            if (st != SLIM_OK)
                return fail("removing %s: %s (%s)", who, slim_status_name(st),
                            ev.detail[0] != 0 ? ev.detail : slim_status_str(st));
            emit("removed", "name", who, NULL);
            int rc = emit_members(app, s);
            if (rc != 0)
                return rc;
        } else if (strcmp(line, "close") == 0) {
            slim_status st = slim_session_delete(app, s, CLOSE_MS);
            drain_events(app);
            if (st != SLIM_OK)
                return fail("closing the group: %s", slim_status_str(st));
            emit("closed", NULL);
            return 0;
        } else if (line[0] != 0) {
            return fail("unknown command '%s'", line);
        }
    }
    return fail("stdin ended before \"close\"");
}

static int moderator(slim_app *app) {
    const args *a = the_args;
    slim_session_options o = {.type = SLIM_SESSION_MULTICAST,
                              .peer = a->channel,
                              .timeout_ms = RETRY_MS,
                              .max_retries = MAX_RETRIES,
                              .mls = a->mls};
    slim_op op;
    slim_event ev = {0};
    slim_status st = slim_session_create_async(app, &o, &op);
    if (st == SLIM_OK)
        st = finish(app, op, INVITE_MS, &ev);
    if (st != SLIM_OK)
        return fail("cannot create the group on %s: %s", a->channel,
                    ev.detail[0] != 0 ? ev.detail : slim_status_str(st));
    slim_session_id s = watched = ev.session;
    emit("session", "channel", a->channel, NULL);
    for (size_t i = 0; i < a->invites; i++) {
        const char *who = a->invite[i];
        /* The invitee lives behind the node. */
        if ((st = slim_app_set_route(app, who, 0, CONNECT_MS)) != SLIM_OK)
            return fail("cannot route %s: %s", who, slim_status_str(st));
        ev = (slim_event){0};
        st = slim_session_invite_async(app, s, who, &op);
        if (st == SLIM_OK)
            st = finish(app, op, INVITE_MS, &ev);
        if (st != SLIM_OK)
            return fail("inviting %s: %s (%s)", who, slim_status_name(st),
                        ev.detail[0] != 0 ? ev.detail : slim_status_str(st));
        emit("invited", "name", who, NULL);
    }
    int rc = emit_members(app, s);
    if (rc != 0)
        return rc;
    if ((st = publish(app, s, "start")) != SLIM_OK)
        return fail("sending \"start\": %s", slim_status_str(st));
    if ((rc = publish_all(app, s)) != 0 || (rc = collect(app, s, 0)) != 0)
        return rc;
    emit("done", NULL);
    if (a->commands)
        return moderator_commands(app, s);
    return 0;
}

static int participant(slim_app *app) {
    emit("ready", NULL);
    slim_session_id s;
    slim_status st = slim_app_listen(app, SESSION_MS, &s);
    if (st != SLIM_OK)
        return fail("no session within %d s: %s", SESSION_MS / 1000, slim_status_str(st));
    watched = s;
    slim_session_info *info = NULL;
    if ((st = slim_session_info_get(app, s, &info)) != SLIM_OK)
        return fail("the session is gone at once: %s", slim_status_str(st));
    char channel[512];
    service_of(info->dst, channel, sizeof channel);
    slim_session_type type = info->type;
    slim_session_info_free(info);
    if (type != SLIM_SESSION_MULTICAST)
        return fail("the session is not a group (type %d)", (int)type);
    emit("session", "channel", channel, NULL);

    long have = 0;
    for (;;) {
        bool start;
        st = take(app, s, MESSAGE_MS, &start, "recv");
        if (st != SLIM_OK)
            return fail("waiting for \"start\": %s", slim_status_str(st));
        if (start)
            break;
        have++;
    }
    int rc;
    if ((rc = publish_all(app, s)) != 0 || (rc = collect(app, s, have)) != 0)
        return rc;
    emit("done", NULL);
    if (!the_args->until_end)
        return 0;

    /* The end: the moderator removes this member or closes the group. */
    for (;;) {
        bool start;
        st = take(app, s, END_MS, &start, "extra");
        if (st == SLIM_OK)
            continue;
        if (st != SLIM_E_CLOSED)
            return fail("waiting for the session to end: %s", slim_status_str(st));
        break;
    }
    /* The close's cause comes as SLIM_EVENT_SESSION_CLOSED. */
    for (int i = 0; !ended && i < 50; i++) {
        slim_event ev;
        if (slim_app_next_event(app, 100, &ev) == SLIM_OK)
            note_event(&ev);
    }
    if (!ended)
        return fail("the session ended without SLIM_EVENT_SESSION_CLOSED");
    emit("ended", "status", slim_status_name(end_status), "error", end_detail, NULL);
    return 0;
}

/* Makes the app and connects it; prints "connected". */
static int start(slim_app **out) {
    const args *a = the_args;
    /* The identity upstream's createAppWithSecret(name, secret) has: the
     * name's text as the shared-secret id (see examples/c/slim_p2p.c). */
    slim_identity_config id = {
        .kind = SLIM_IDENTITY_SHARED_SECRET, .id = a->name, .secret = a->secret};
    slim_app *app = NULL;
    slim_status st = slim_app_new(a->name, &id, &id, NULL, &app);
    if (st != SLIM_OK)
        return fail("cannot create the app %s: %s", a->name, slim_status_str(st));
    slim_op op;
    slim_event ev = {0};
    st = slim_app_connect_async(app, &(slim_client_options){.endpoint = a->server}, &op);
    if (st == SLIM_OK)
        st = finish(app, op, CONNECT_MS, &ev);
    if (st != SLIM_OK) {
        int rc = fail("cannot connect to %s: %s", a->server,
                      ev.detail[0] != 0 ? ev.detail : slim_status_str(st));
        slim_app_free(app, 0);
        return rc;
    }
    slim_name me;
    char idtext[SLIM_ID_TEXT_LEN + 1];
    slim_app_name(app, &me);
    slim_id_format(me.id, idtext);
    emit("connected", "name", a->name, "id", idtext, NULL);
    *out = app;
    return 0;
}

int main(int argc, char **argv) {
    static args a;
    the_args = &a;
    int rc = parse_args(argc, argv, &a);
    slim_app *app = NULL;
    if (rc == 0 && (rc = start(&app)) == 0) {
        rc = strcmp(a.role, "moderator") == 0 ? moderator(app) : participant(app);
        slim_app_free(app, CLOSE_MS);
    }
    free(a.invite_list);
    return rc;
}
