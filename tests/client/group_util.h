/*
 * Test helpers for group sessions between apps through real nodes
 * (test_client_groups, test_mls_groups): a member (an app and its session
 * in the group), a group whose moderator m[0] invites the others, waiting
 * for membership events, and everyone-to-everyone traffic in which every
 * reader checks each sender's order, exactly once.
 *
 * An app, an invite or a group that does not start is a test failure
 * (test.h's TEST_FAIL_AT) that names the cause, and NULL or false; the
 * checks of traffic say on stderr what was wrong and return false.
 */
#ifndef SLIM_TEST_GROUP_UTIL_H
#define SLIM_TEST_GROUP_UTIL_H

#include "node_proc.h"
#include "slim/session.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GROUP_SECRET "a-shared-secret-of-at-least-32-characters"
#define GROUP_MAX    8 /* members a pump takes */

typedef struct member {
    slim_app *app;
    slim_session_id s;
    char name[32];
} member;

/* An app named `name` with that id (shared secret GROUP_SECRET) and MLS
 * suite `suite` (0: the default), connected to 127.0.0.1:port; NULL, a
 * test failure, when it did not start or connect. */
slim_app *group_app(const char *name, int port, uint16_t suite);

/* Member i's name: "org/ns/mod" for 0 (the moderator), else "org/ns/p<i>". */
void member_name(member *m, int i);

/* m[i] joins the group m[0] moderates: routed, invited, listened for.
 * False, a test failure, when a step failed. */
bool group_invite(member *m, int i);

/* The moderator m[0] creates the group (o) and invites m[1..n-1]; each
 * is named by member_name. ports[i]: where member i connects; every app
 * has MLS suite `suite`. False, a test failure, when one did not join. */
bool group_start(member *m, int n, const int *ports, const slim_session_options *o, uint16_t suite);

/* Frees the apps of m[0..n-1], the last first (3 s each to say goodbye). */
void group_free(member *m, int n);

/* How many members m's session lists (0 when it cannot say). */
size_t member_count(member *m);

/* Waits for a MEMBER event about `who` ("org/ns/x", any id). */
bool wait_member(member *m, slim_member_change change, const char *who, int timeout_ms);

/* True when m's app counts nothing lost or undelivered; else prints its
 * counters and its first such events (not a test failure by itself). */
bool member_nothing_lost(member *m);

/* A group behind lossy links: a node, n lossy proxies in front of it
 * (test_lossy_proxies_start) and n members, member i behind proxy i. */
typedef struct lossy_group {
    test_node nd;
    test_proxy px[GROUP_MAX];
    member m[GROUP_MAX];
    int n;
} lossy_group;

/* Starts the node, the proxies (seeds from `seed`) and group_start of n
 * members with o's options but max_retries 15 (the proxies, in Python,
 * are slow on a loaded machine: see test_client_sessions). False when
 * any did not start; lossy_group_stop ends what did. */
bool lossy_group_start(lossy_group *g, int n, int seed, const slim_session_options *o,
                       uint16_t suite);

/* Frees the members' apps, then stops the proxies and the node. */
void lossy_group_stop(lossy_group *g);

/* The payload member `from` sends as number `seq`: "from:seq", or with a
 * marker "from:seq:marker-from-seq". */
void group_payload(char *buf, size_t cap, const char *marker, int from, int seq);

/* Reads msg as a payload of one of m[0..n-1]: *from and *seq. With a
 * marker, its plaintext must be exactly that member's and its source that
 * member. False (said why) when it is not a payload of theirs. */
bool group_payload_check(const member *m, int n, const char *marker, const slim_message *msg,
                         int *from, int *seq);

/* What each member of a pump sends. */
typedef struct group_traffic {
    int count;          /* messages each publishes */
    int pace_us;        /* it sleeps this long after each (0: not at all) */
    const char *marker; /* for group_payload (NULL: none) */
    uint32_t *first_id; /* may be NULL: each one's first message id, by index in all */
} group_traffic;

/* The members who[0..n-1] of all[0..nall-1] each publish t->count
 * messages at once; each must get all of the others', in each sender's
 * order, exactly once; nothing lost or undelivered (else every one's
 * counters are printed); nothing more after. False (said why on stderr)
 * when not. */
bool group_pump(member *all, int nall, const int *who, int n, const group_traffic *t);

/* group_pump of m[0..n-1], all to all. */
bool group_everyone(member *m, int n, const group_traffic *t);

#endif
