/*
 * group_chat: a group of SLIM applications on one channel, written with the
 * public client API only (<slim/app.h>, <slim/session.h>).
 *
 *   group_chat participant --name org/ns/bob --server http://127.0.0.1:46357 \
 *                          --secret S
 *   group_chat moderator --name org/ns/alice --channel org/ns/chat \
 *                        --invite org/ns/bob --invite org/ns/carol \
 *                        --server http://127.0.0.1:46357 --secret S
 *
 * The moderator creates a group session on --channel and invites every
 * --invite name; participants wait to be invited. Then every member sends
 * each line it reads on stdin to the group, and prints what it says, what
 * it receives and from whom, who joins and leaves, and who goes silent
 * (down) and comes back. A participant stays
 * until the moderator closes the group (or removes it); the moderator
 * closes the group once stdin ends and it has received --expect messages
 * (then waits --linger seconds for the last ones to reach everyone).
 *
 * Lines on stdout, one per thing that happened, prefixed with the app's
 * name:
 *   [org/ns/bob] joined org/ns/chat, moderated by org/ns/alice
 *   [org/ns/bob] says: hello
 *   [org/ns/bob] org/ns/alice: hi everyone
 *   [org/ns/bob] org/ns/carol joined
 *   [org/ns/bob] the moderator closed the group
 * Exit status: 0 when the role finished, 1 when it failed, 2 for bad
 * arguments. The library logs to stderr (level from SLIM_LOG).
 */
#include <slim/session.h>
#include <slim/slim.h>

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CONNECT_MS 10000 /* to connect to the node */
#define SESSION_MS 60000 /* a participant waits this long to be invited */
#define INVITE_MS  30000 /* for each invite */
#define SEND_MS    10000 /* for each line */
#define CLOSE_MS   15000 /* to close the group, or the app */
#define MAX_INVITE 64
#define MAX_LINE   4096

typedef struct args {
    const char *role;
    const char *name;    /* ours, "org/ns/service" */
    const char *channel; /* moderator: the group's channel */
    const char *invite[MAX_INVITE];
    int ninvite;
    const char *server; /* "http://host:port" */
    const char *secret;
    long timeout_ms, max_retries; /* reliability of the group (moderator) */
    long wait_for;                /* members to wait for before sending */
    long expect;                  /* moderator: messages to receive before closing */
    long linger_s;                /* moderator: seconds between the last message and the close */
    long heartbeat_ms, heartbeat_misses, offline_removal_ms; /* liveness (0: defaults) */
    bool mls;                                                /* moderator: an MLS group */
    long mls_suite;                                          /* 0: the default (2) */
} args;

static void usage(FILE *f) {
    fputs("usage: group_chat moderator --name NAME --channel CHANNEL [--invite NAME]...\n"
          "                  --server URL --secret SECRET [options]\n"
          "       group_chat participant --name NAME --server URL --secret SECRET [options]\n"
          "       group_chat --help\n"
          "\n"
          "A group chat between SLIM apps through a node. Every member sends each line of\n"
          "its stdin to the group and prints what it says and receives, and from whom.\n"
          "\n"
          "roles:\n"
          "  moderator    create the group on CHANNEL, invite every --invite name, chat;\n"
          "               when stdin ends and --expect messages came, close the group\n"
          "  participant  wait to be invited, chat until the group is closed\n"
          "\n"
          "options:\n"
          "  --name NAME         this app's name, org/namespace/service\n"
          "  --channel CHANNEL   moderator: the group's channel, org/namespace/channel\n"
          "  --invite NAME       moderator: a participant to invite (repeatable)\n"
          "  --server URL        the node to connect to, http://host:port\n"
          "  --secret SECRET     the shared secret every member holds (32 characters or more)\n"
          "  --timeout MS        moderator: retransmission period of the group (default 1000)\n"
          "  --max-retries N     moderator: retransmissions before a message is reported\n"
          "                      undelivered (default 5; 0 makes the group best effort)\n"
          "  --wait-for N        read stdin only once the group has N members (default 0)\n"
          "  --expect N          moderator: messages to receive before closing (default 0)\n"
          "  --linger S          moderator: seconds to wait before the close (default 2)\n"
          "  --heartbeat MS      heartbeat period (default 10000)\n"
          "  --heartbeat-misses N  periods without a word before a member is down (default 3)\n"
          "  --offline-removal MS  a member down this long is removed; a moderator down this\n"
          "                      long ends the group (default 300000)\n"
          "  --mls               moderator: encrypt the group end to end with MLS\n"
          "  --mls-suite N       MLS cipher suite, 2 (P-256, default) or 1 (X25519,\n"
          "                      Ed25519); every member must use the same\n"
          "  -h, --help          print this help and exit\n"
          "\n"
          "Exit status: 0 when the role finished, 1 when it failed, 2 for bad arguments.\n"
          "SLIM_LOG=info (or debug) shows the library's log on stderr.\n",
          f);
}

static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int bad_usage(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("group_chat: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n(group_chat --help shows the usage)\n", stderr);
    va_end(ap);
    return 2;
}

static bool number(const char *val, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(val, &end, 10);
    if (errno != 0 || end == val || *end != 0 || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool name_ok(const char *text) {
    slim_name n;
    return slim_name_parse(text, strlen(text), &n, NULL) == SLIM_OK;
}

/* Returns 0, or the exit status for bad arguments after saying why. */
static int parse_args(int argc, char **argv, args *a) {
    *a = (args){.timeout_ms = 1000, .max_retries = 5, .linger_s = 2};
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            exit(0);
        }
    if (argc < 2)
        return bad_usage("no role given: moderator or participant");
    a->role = argv[1];
    bool moderator = strcmp(a->role, "moderator") == 0;
    if (!moderator && strcmp(a->role, "participant") != 0)
        return bad_usage("unknown role '%s': moderator or participant", a->role);
    for (int i = 2; i < argc; i += 2) {
        const char *key = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(key, "--mls") == 0) {
            a->mls = true;
            i--; /* a flag: no value */
            continue;
        }
        if (val == NULL)
            return bad_usage("%s needs a value", key);
        const char **slot = strcmp(key, "--name") == 0      ? &a->name
                            : strcmp(key, "--channel") == 0 ? &a->channel
                            : strcmp(key, "--server") == 0  ? &a->server
                            : strcmp(key, "--secret") == 0  ? &a->secret
                                                            : NULL;
        struct {
            const char *key;
            long *v, lo, hi;
        } nums[] = {{"--timeout", &a->timeout_ms, 0, 3600000},
                    {"--max-retries", &a->max_retries, 0, 1000},
                    {"--wait-for", &a->wait_for, 0, 1024},
                    {"--expect", &a->expect, 0, 100000000},
                    {"--linger", &a->linger_s, 0, 3600},
                    {"--heartbeat", &a->heartbeat_ms, 0, 3600000},
                    {"--heartbeat-misses", &a->heartbeat_misses, 0, 1000},
                    {"--offline-removal", &a->offline_removal_ms, 0, 86400000},
                    {"--mls-suite", &a->mls_suite, 1, 2}};
        if (slot != NULL) {
            *slot = val;
            continue;
        }
        if (strcmp(key, "--invite") == 0) {
            if (a->ninvite == MAX_INVITE)
                return bad_usage("at most %d --invite names", MAX_INVITE);
            a->invite[a->ninvite++] = val;
            continue;
        }
        size_t k = 0;
        while (k < sizeof nums / sizeof nums[0] && strcmp(key, nums[k].key) != 0)
            k++;
        if (k == sizeof nums / sizeof nums[0])
            return bad_usage("unknown option '%s'", key);
        if (!number(val, nums[k].lo, nums[k].hi, nums[k].v))
            return bad_usage("%s takes a whole number from %ld to %ld, not '%s'", key, nums[k].lo,
                             nums[k].hi, val);
    }
    if (a->name == NULL || !name_ok(a->name))
        return bad_usage("--name is missing or not org/namespace/service");
    if (a->server == NULL)
        return bad_usage("--server is missing (the node, http://host:port)");
    if (a->secret == NULL)
        return bad_usage("--secret is missing (the shared secret every member holds)");
    if (moderator && (a->channel == NULL || !name_ok(a->channel)))
        return bad_usage("the moderator needs --channel org/namespace/channel");
    if (!moderator && (a->channel != NULL || a->ninvite > 0 || a->expect > 0 || a->mls))
        return bad_usage("--channel, --invite, --expect and --mls are for the moderator");
    for (int i = 0; i < a->ninvite; i++)
        if (!name_ok(a->invite[i]))
            return bad_usage("--invite '%s' is not org/namespace/service", a->invite[i]);
    return 0;
}

/* ---- output ---- */

static const args *me; /* for the prefix */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("[%s] ", me->name);
    vprintf(fmt, ap);
    putchar('\n');
    fflush(stdout);
    va_end(ap);
}

/* "org/ns/service" of "org/ns/service/<id>". */
static void service_of(const char *full, char *out, size_t cap) {
    size_t len = 0;
    for (int slashes = 0; full[len] != 0; len++)
        if (full[len] == '/' && ++slashes == 3)
            break;
    snprintf(out, cap, "%.*s", (int)len, full);
}

/* ---- the chat ---- */

typedef struct chat {
    slim_app *app;
    slim_session_id s;
    slim_op get;     /* the get_message in flight */
    bool ended;      /* the session is over */
    bool input_done; /* stdin ended */
    long received;   /* messages from others */
    char line[MAX_LINE];
    size_t line_len;
} chat;

static long members(chat *c) {
    char **names = NULL;
    size_t n = 0;
    if (slim_session_members(c->app, c->s, &names, &n) != SLIM_OK)
        return 0;
    slim_session_members_free(names);
    return (long)n;
}

static void send_line(chat *c, const char *text) {
    if (text[0] == 0)
        return;
    slim_status st = slim_session_publish(
        c->app, c->s, (slim_bytes){(const uint8_t *)text, strlen(text)}, NULL, SEND_MS, NULL);
    if (st == SLIM_OK)
        say("says: %s", text);
    else
        say("could not send '%s': %s", text, slim_status_str(st));
}

/* Reads what stdin has (it is readable): every whole line is sent. */
static void read_input(chat *c) {
    char buf[MAX_LINE];
    ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n <= 0) {
        if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
            if (c->line_len > 0) {
                c->line[c->line_len] = 0;
                send_line(c, c->line);
                c->line_len = 0;
            }
            c->input_done = true;
        }
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\n' || c->line_len == sizeof c->line - 1) {
            c->line[c->line_len] = 0;
            send_line(c, c->line);
            c->line_len = 0;
            if (buf[i] == '\n')
                continue;
        }
        c->line[c->line_len++] = buf[i];
    }
}

/* Handles one event of the app. */
static void on_event(chat *c, const slim_event *ev) {
    char who[512];
    switch (ev->kind) {
    case SLIM_EVENT_OP_DONE:
        if (ev->op != c->get)
            return;
        c->get = 0;
        if (ev->status != SLIM_OK) {
            c->ended = true;
            return;
        }
        service_of(ev->message->source_text, who, sizeof who);
        say("%s: %.*s", who, (int)ev->message->payload.len, (const char *)ev->message->payload.ptr);
        c->received++;
        slim_message_free(ev->message);
        if (slim_session_get_message_async(c->app, c->s, &c->get) != SLIM_OK)
            c->ended = true;
        return;
    case SLIM_EVENT_MEMBER:
        if (ev->session != c->s)
            return;
        service_of(ev->name, who, sizeof who);
        say("%s %s", who,
            ev->member == SLIM_MEMBER_JOINED ? "joined"
            : ev->member == SLIM_MEMBER_LEFT ? "left"
            : ev->member == SLIM_MEMBER_DOWN ? "is down (no heartbeats)"
                                             : "is back");
        return;
    case SLIM_EVENT_DROPPED:
        say("%llu messages dropped: they came faster than they were read",
            (unsigned long long)ev->count);
        return;
    case SLIM_EVENT_MESSAGE_LOST:
        service_of(ev->name, who, sizeof who);
        say("message %u from %s was lost: %s", ev->message_id, who, ev->detail);
        return;
    case SLIM_EVENT_UNDELIVERED:
        say("message %u was not acknowledged by every member: %s", ev->message_id, ev->detail);
        return;
    case SLIM_EVENT_SESSION_CLOSED:
        if (ev->session != c->s)
            return;
        if (ev->status == SLIM_E_SESSION_MODERATOR_CLOSED)
            say("the moderator closed the group");
        else if (ev->status == SLIM_E_SESSION_REMOVED)
            say("removed from the group by the moderator");
        else if (ev->status == SLIM_E_SESSION_MODERATOR_GONE)
            say("the moderator is gone: the group ended");
        else
            say("the group session ended: %s", ev->detail);
        c->ended = true;
        return;
    default:
        return;
    }
}

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Runs the chat until the session ends, or (moderator) until stdin ended,
 * --expect messages came and --linger passed. */
static void run(chat *c, const args *a, bool moderator) {
    if (slim_session_get_message_async(c->app, c->s, &c->get) != SLIM_OK)
        return;
    uint64_t linger_until = 0;
    while (!c->ended) {
        bool may_read = !c->input_done && members(c) >= a->wait_for;
        if (moderator && c->input_done && c->received >= a->expect) {
            if (linger_until == 0)
                linger_until = now_ms() + (uint64_t)a->linger_s * 1000;
            if (now_ms() >= linger_until)
                return;
        }
        struct pollfd p[2] = {{.fd = slim_app_fd(c->app), .events = POLLIN},
                              {.fd = STDIN_FILENO, .events = POLLIN}};
        if (poll(p, may_read ? 2 : 1, 100) < 0 && errno != EINTR)
            return;
        slim_event ev;
        while (slim_app_next_event(c->app, 0, &ev) == SLIM_OK)
            on_event(c, &ev);
        if (may_read && (p[1].revents & (POLLIN | POLLHUP)))
            read_input(c);
    }
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail(const char *fmt, ...) {
    char why[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    say("error: %s", why);
    return 1;
}

/* Waits for the OP_DONE of op, handling the chat's other events. */
static slim_status finish(chat *c, slim_op op, int64_t timeout_ms, slim_event *out) {
    uint64_t until = now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        uint64_t now = now_ms();
        if (now >= until)
            return SLIM_E_TIMEOUT;
        slim_status st = slim_app_next_event(c->app, (int64_t)(until - now), out);
        if (st != SLIM_OK)
            return st;
        if (out->kind == SLIM_EVENT_OP_DONE && out->op == op)
            return out->status;
        on_event(c, out);
    }
}

static int moderator(chat *c, const args *a) {
    slim_session_options o = {.type = SLIM_SESSION_MULTICAST,
                              .peer = a->channel,
                              .timeout_ms = (uint32_t)a->timeout_ms,
                              .max_retries = (uint32_t)a->max_retries,
                              .mls = a->mls};
    slim_status st = slim_session_create(c->app, &o, INVITE_MS, &c->s);
    if (st != SLIM_OK)
        return fail("cannot create the group on %s: %s", a->channel, slim_status_str(st));
    say("created the group on %s%s", a->channel, a->mls ? ", end-to-end encrypted (MLS)" : "");
    for (int i = 0; i < a->ninvite; i++) {
        /* The app's router learns that the name is reached through the
         * node (the user's document does the same before each invite). */
        if ((st = slim_app_set_route(c->app, a->invite[i], 0, CONNECT_MS)) != SLIM_OK)
            return fail("cannot route %s: %s", a->invite[i], slim_status_str(st));
        slim_op op;
        slim_event ev = {0};
        st = slim_session_invite_async(c->app, c->s, a->invite[i], &op);
        if (st == SLIM_OK)
            st = finish(c, op, INVITE_MS, &ev);
        if (st == SLIM_OK)
            say("invited %s", a->invite[i]);
        else
            say("could not invite %s: %s", a->invite[i],
                ev.detail[0] ? ev.detail : slim_status_str(st));
    }
    run(c, a, true);
    if (!c->ended) {
        st = slim_session_delete(c->app, c->s, CLOSE_MS);
        say("closed the group%s%s", st == SLIM_OK ? "" : ": ",
            st == SLIM_OK ? "" : slim_status_str(st));
    }
    return 0;
}

static int participant(chat *c, const args *a) {
    say("waiting to be invited");
    slim_status st = slim_app_listen(c->app, SESSION_MS, &c->s);
    if (st != SLIM_OK)
        return fail("not invited within %d s: %s", SESSION_MS / 1000, slim_status_str(st));
    slim_session_info *info = NULL;
    if ((st = slim_session_info_get(c->app, c->s, &info)) != SLIM_OK)
        return fail("the session ended at once: %s", slim_status_str(st));
    char channel[512];
    service_of(info->dst, channel, sizeof channel);
    slim_session_info_free(info);
    char **names = NULL;
    char mod[512] = "?";
    if (slim_session_members(c->app, c->s, &names, NULL) == SLIM_OK) {
        /* The moderator is the group's first member. */
        if (names[0] != NULL)
            service_of(names[0], mod, sizeof mod);
        slim_session_members_free(names);
    }
    say("joined %s, moderated by %s", channel, mod);
    run(c, a, false);
    return 0;
}

int main(int argc, char **argv) {
    args a;
    int rc = parse_args(argc, argv, &a);
    if (rc != 0)
        return rc;
    me = &a;
    /* The shared-secret identity: its id is the app's name, as upstream's
     * SDK does (the app's id is derived from it). */
    slim_identity_config id = {
        .kind = SLIM_IDENTITY_SHARED_SECRET, .id = a.name, .secret = a.secret};
    chat c = {0};
    slim_app_options opts = {.heartbeat_ms = (uint32_t)a.heartbeat_ms,
                             .heartbeat_misses = (uint32_t)a.heartbeat_misses,
                             .offline_removal_ms = (uint32_t)a.offline_removal_ms,
                             .mls_suite = (uint16_t)a.mls_suite};
    slim_status st = slim_app_new(a.name, &id, &id, &opts, &c.app);
    if (st != SLIM_OK)
        return fail("cannot create the app: %s", slim_status_str(st));
    slim_op op;
    slim_event ev = {0};
    st = slim_app_connect_async(c.app, &(slim_client_options){.endpoint = a.server}, &op);
    if (st == SLIM_OK)
        st = finish(&c, op, CONNECT_MS, &ev);
    if (st != SLIM_OK) {
        rc = fail("cannot connect to %s: %s", a.server,
                  ev.detail[0] ? ev.detail : slim_status_str(st));
    } else {
        rc = strcmp(a.role, "moderator") == 0 ? moderator(&c, &a) : participant(&c, &a);
    }
    slim_app_free(c.app, CLOSE_MS);
    return rc;
}
