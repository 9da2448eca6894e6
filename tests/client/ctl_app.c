/*
 * An app driven line by line from stdin, for test_controller_requests.py
 * (docs/protocol.md, "Channels through the controller"): the moderator
 * whose library carries out the controller's requests, and the
 * participant it invites. Only the public API.
 *
 *   ctl_app <node port> <name> <shared-secret id> <secret>
 *
 * prints "READY <full name>", then answers each command with one line:
 *
 *   listen <ms>          SESSION <id> <dst> mls=<0|1> moderator=<0|1> | NOSESSION <status>
 *   publish <id> <text>  PUBLISHED <status>
 *   get <id> <ms>        MSG <text> | NOMSG <status>
 *   closed <id> <ms>     CLOSED <detail> | NOTCLOSED
 *   counters             COUNTERS refused=<n>
 *   quit                 (exits)
 */
#include "slim/app.h"
#include "slim/session.h"
#include "slim/slim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Waits for the SESSION_CLOSED event of s (other events are skipped). */
static void wait_closed(slim_app *app, slim_session_id s, int ms) {
    long long end = now_ms() + ms;
    slim_event ev;
    while (now_ms() < end) {
        if (slim_app_next_event(app, 50, &ev) == SLIM_OK && ev.kind == SLIM_EVENT_SESSION_CLOSED &&
            ev.session == s) {
            printf("CLOSED %s\n", ev.detail);
            return;
        }
    }
    printf("NOTCLOSED\n");
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: ctl_app <port> <name> <id> <secret>\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    slim_identity_config ident = {
        .kind = SLIM_IDENTITY_SHARED_SECRET, .id = argv[3], .secret = argv[4]};
    slim_app *app = NULL;
    slim_status st = slim_app_new(argv[2], &ident, &ident, NULL, &app);
    if (st != SLIM_OK) {
        fprintf(stderr, "slim_app_new: %s\n", slim_status_name(st));
        return 1;
    }
    char ep[64], name[512];
    snprintf(ep, sizeof ep, "http://127.0.0.1:%s", argv[1]);
    slim_client_options c = {.endpoint = ep};
    if ((st = slim_app_connect(app, &c, 10000, NULL)) != SLIM_OK) {
        fprintf(stderr, "connect: %s\n", slim_status_name(st));
        slim_app_free(app, 0);
        return 1;
    }
    slim_app_name_text(app, name, sizeof name);
    printf("READY %s\n", name);
    char line[1024];
    while (fgets(line, sizeof line, stdin) != NULL) {
        line[strcspn(line, "\n")] = 0;
        char *arg = strchr(line, ' ');
        if (arg != NULL)
            *arg++ = 0;
        if (strcmp(line, "listen") == 0) {
            slim_session_id s = 0;
            st = slim_app_listen(app, arg ? atoi(arg) : 5000, &s);
            slim_session_info *info = NULL;
            if (st == SLIM_OK)
                st = slim_session_info_get(app, s, &info);
            if (st == SLIM_OK)
                printf("SESSION %llu %s mls=%d moderator=%d\n", (unsigned long long)s, info->dst,
                       info->mls, info->moderator);
            else
                printf("NOSESSION %s\n", slim_status_name(st));
            slim_session_info_free(info);
        } else if (strcmp(line, "publish") == 0 && arg != NULL) {
            char *text = strchr(arg, ' ');
            text = text ? text + 1 : "";
            slim_session_id s = strtoull(arg, NULL, 10);
            st = slim_session_publish(app, s, (slim_bytes){(const uint8_t *)text, strlen(text)},
                                      NULL, 5000, NULL);
            printf("PUBLISHED %s\n", slim_status_name(st));
        } else if (strcmp(line, "get") == 0 && arg != NULL) {
            char *ms = strchr(arg, ' ');
            slim_message *m = NULL;
            st = slim_session_get_message(app, strtoull(arg, NULL, 10), ms ? atoi(ms + 1) : 5000,
                                          &m);
            if (st == SLIM_OK)
                printf("MSG %.*s\n", (int)m->payload.len, (const char *)m->payload.ptr);
            else
                printf("NOMSG %s\n", slim_status_name(st));
            slim_message_free(m);
        } else if (strcmp(line, "closed") == 0 && arg != NULL) {
            char *ms = strchr(arg, ' ');
            wait_closed(app, strtoull(arg, NULL, 10), ms ? atoi(ms + 1) : 5000);
        } else if (strcmp(line, "counters") == 0) {
            slim_app_counters k;
            slim_app_counters_get(app, &k);
            printf("COUNTERS refused=%llu\n", (unsigned long long)k.controller_requests_refused);
        } else if (strcmp(line, "quit") == 0) {
            break;
        } else {
            printf("ERROR unknown command %s\n", line);
        }
    }
    slim_app_free(app, 2000);
    return 0;
}
