/*
 * Sessions between SLIM applications (docs/client.md): point-to-point for
 * now (anycast and unicast); groups come later behind the same calls.
 *
 * The rules of include/slim/app.h apply: any thread, two forms for what
 * waits (blocking with a timeout, or `_async` with its result as an
 * SLIM_EVENT_OP_DONE event), nothing of the caller's kept after a call
 * returns.
 */
#ifndef SLIM_SESSION_H
#define SLIM_SESSION_H

#include "slim/app.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Session types, numbered as the Python API's. */
typedef enum slim_session_type {
    SLIM_SESSION_ANYCAST = 0,   /* no fixed peer: each message to any instance of a name */
    SLIM_SESSION_UNICAST = 1,   /* discovery picks one instance, then the session sticks to it */
    SLIM_SESSION_MULTICAST = 2, /* a group on a channel, run by the app that creates it */
} slim_session_type;

/* What happened to a member of a group (SLIM_EVENT_MEMBER). */
typedef enum slim_member_change {
    SLIM_MEMBER_JOINED = 1, /* invited and welcomed */
    SLIM_MEMBER_LEFT,       /* left, or was removed by the moderator */
    SLIM_MEMBER_DOWN,       /* silent for heartbeat_misses heartbeat periods: presumed gone */
    SLIM_MEMBER_UP,         /* down, then heard from again */
} slim_member_change;

/* One metadata entry. */
typedef struct slim_metadata {
    const char *key;
    const char *value;
} slim_metadata;

/* How a session is made; zero fields take the defaults. */
typedef struct slim_session_options {
    slim_session_type type;
    /* UNICAST: the name to discover ("org/ns/service", or with an id for
     * that instance). ANYCAST: where slim_session_publish sends (any
     * instance of it, per message). MULTICAST: the channel
     * ("org/ns/channel"); the app is the group's moderator. */
    const char *peer;
    /* Reliable when both are non-zero: every message is acknowledged,
     * retransmitted every timeout_ms (at least 600 ms) and, when it never
     * is, reported by SLIM_EVENT_UNDELIVERED after max_retries + 1
     * timeouts; messages arrive in order. Otherwise best effort. */
    uint32_t timeout_ms;
    uint32_t max_retries;
    /* End-to-end encryption with MLS (docs/sessions.md, "MLS"), in the
     * app's mls_suite (slim_app_options). */
    bool mls;
    /* MULTICAST with mls, the moderator: a key update (a commit that gives
     * every member fresh keys; docs/protocol.md, "Key rotation") every
     * mls_rotation_s seconds, 0 switching it off. Taken only when
     * mls_rotation_set; otherwise SLIM_MLS_ROTATION_DEFAULT_S (one hour).
     * Off by itself in a group where a member runs upstream's SLIM. */
    bool mls_rotation_set;
    uint32_t mls_rotation_s;
    const slim_metadata *metadata; /* the session's metadata, sent to the peer */
    size_t metadata_len;
} slim_session_options;

/* Creates a session. UNICAST completes once the peer has joined (it may
 * fail: nobody answered the discovery, ...; the detail says which).
 * ANYCAST completes at once. E_INVALID_ARG, E_UNSUPPORTED (mls on an
 * ANYCAST session, or by an app whose identity is a static token: it has
 * no key to sign with), E_LIMIT. */
#define SLIM_MLS_ROTATION_DEFAULT_S 3600u

SLIM_API slim_status slim_session_create(slim_app *app, const slim_session_options *o,
                                         int64_t timeout_ms, slim_session_id *out);
SLIM_API slim_status slim_session_create_async(slim_app *app, const slim_session_options *o,
                                               slim_op *op);

/* ---- groups ---- */

/* Invites `name` ("org/ns/service", or with an id for that instance) into
 * a group this app moderates; route the name first (slim_app_set_route)
 * when it lives behind another node. Completes when the invitee is a
 * member and every member knows it, or with why not:
 * E_SESSION_DISCOVERY_FAILED (nobody answered), E_SESSION_NO_ROUTE,
 * E_SESSION_ROUTE_REFUSED, E_SESSION_JOIN_FAILED,
 * E_SESSION_WELCOME_FAILED (it stopped answering), E_SESSION_UPDATE_FAILED
 * (it is a member; some members never acknowledged),
 * E_SESSION_ALREADY_MEMBER, E_SESSION_LIMIT (the group is full:
 * max_members, 1024 by default), E_CANCELLED (the session closed first).
 * Invites and removals run one at a time in call order; a failure never
 * blocks the next. E_SESSION_EXPECTED_MULTICAST, E_SESSION_NOT_MODERATOR,
 * E_CLOSED, E_INVALID_ARG. */
SLIM_API slim_status slim_session_invite(slim_app *app, slim_session_id s, const char *name,
                                         int64_t timeout_ms);
SLIM_API slim_status slim_session_invite_async(slim_app *app, slim_session_id s, const char *name,
                                               slim_op *op);

/* Removes the member named `name` ("org/ns/service"; an id is ignored)
 * from a group this app moderates: the others are told, then its session
 * ends with SLIM_EVENT_SESSION_CLOSED, E_SESSION_REMOVED. Completes with
 * SLIM_OK, E_SESSION_NOT_MEMBER, E_SESSION_LEAVE_FAILED (out of the group,
 * but it never answered), E_SESSION_UPDATE_FAILED, E_CANCELLED. Errors as
 * invite. */
SLIM_API slim_status slim_session_remove(slim_app *app, slim_session_id s, const char *name,
                                         int64_t timeout_ms);
SLIM_API slim_status slim_session_remove_async(slim_app *app, slim_session_id s, const char *name,
                                               slim_op *op);

/* A key update of an MLS group now. At the moderator: commits one;
 * completes once every member acknowledged it (E_SESSION_UPDATE_FAILED:
 * some did not; they are added again when back). At a member: asks the
 * moderator; completes once the moderator takes the request (the update
 * follows), or E_SESSION_ROTATION_OFF (refused), E_TIMEOUT (no answer).
 * Call errors: E_SESSION_ROTATION_OFF (no MLS; a member of the group runs
 * upstream's SLIM, which knows no key update), E_QUEUE_FULL (a request
 * of this member is pending), E_SESSION_EXPECTED_MULTICAST, E_CLOSED. */
SLIM_API slim_status slim_session_rotate_keys(slim_app *app, slim_session_id s, int64_t timeout_ms);
SLIM_API slim_status slim_session_rotate_keys_async(slim_app *app, slim_session_id s, slim_op *op);

/* The members of a group as this app knows them (itself and the
 * moderator included, the moderator first), "org/ns/service/<uuid>"
 * each, in *names (NULL
 * terminated; free with slim_session_members_free); *n (may be NULL) gets
 * how many. E_CLOSED. */
SLIM_API slim_status slim_session_members(slim_app *app, slim_session_id s, char ***names,
                                          size_t *n);
SLIM_API void slim_session_members_free(char **names);

/* Ends a session: the peer is told and, when it answers (or after the
 * retransmissions), the session is gone; its unread messages too. In a
 * group, the moderator's delete ends the group for every member
 * (SLIM_EVENT_SESSION_CLOSED, E_SESSION_MODERATOR_CLOSED); a member's
 * leaves it (the others get SLIM_EVENT_MEMBER, SLIM_MEMBER_LEFT). E_CLOSED
 * (already gone). */
SLIM_API slim_status slim_session_delete(slim_app *app, slim_session_id s, int64_t timeout_ms);
SLIM_API slim_status slim_session_delete_async(slim_app *app, slim_session_id s, slim_op *op);

/* Waits for a session that another app opened with this one. */
SLIM_API slim_status slim_app_listen(slim_app *app, int64_t timeout_ms, slim_session_id *out);
SLIM_API slim_status slim_app_listen_async(slim_app *app, slim_op *op);

/* What a session is. Free with slim_session_info_free. */
typedef struct slim_session_info {
    slim_session_id session;
    uint32_t id; /* the session id on the wire (the Python API's session.id) */
    slim_session_type type;
    bool initiator;
    char src[512]; /* our name, "org/ns/service/<uuid>" */
    char dst[512]; /* UNICAST: the peer; ANYCAST: the configured name; "" if none */
    slim_metadata *metadata;
    size_t metadata_len;
    uint32_t timeout_ms, max_retries;
    bool mls;       /* end-to-end encrypted with MLS */
    bool moderator; /* MULTICAST: this app created the group */
} slim_session_info;

/* E_CLOSED when the session is gone. */
SLIM_API slim_status slim_session_info_get(slim_app *app, slim_session_id s,
                                           slim_session_info **out);
SLIM_API void slim_session_info_free(slim_session_info *info);

/* ---- messages ---- */

/* A received message and its context, in one allocation owned by whoever
 * got it; free with slim_message_free. */
struct slim_message {
    slim_session_id session;
    slim_name source;        /* the sender, with its id */
    const char *source_text; /* "org/ns/service/<uuid>" */
    slim_name destination;
    const char *destination_text;
    const char *payload_type;
    const slim_metadata *metadata;
    size_t metadata_len;
    slim_conn_id input_conn; /* the connection it came in on (for replies) */
    uint32_t message_id;
    slim_bytes payload;
};

SLIM_API void slim_message_free(slim_message *m);

/* Optional settings of one message (NULL: payload type "msg", no
 * metadata). */
typedef struct slim_publish_options {
    const char *payload_type;
    const slim_metadata *metadata;
    size_t metadata_len;
} slim_publish_options;

/* Sends payload on the session (UNICAST: to the peer; ANYCAST: to any
 * instance of the configured name). Completes when the message is queued;
 * *message_id (may be NULL) gets its id. E_CLOSED, E_INVALID_ARG ("unexpected
 * session type" for ANYCAST without a configured name), E_TOO_LARGE,
 * E_QUEUE_FULL (a reliable session's window is full, or a connection to
 * a node has a full send queue: retry). */
SLIM_API slim_status slim_session_publish(slim_app *app, slim_session_id s, slim_bytes payload,
                                          const slim_publish_options *o, int64_t timeout_ms,
                                          uint32_t *message_id);
SLIM_API slim_status slim_session_publish_async(slim_app *app, slim_session_id s,
                                                slim_bytes payload, const slim_publish_options *o,
                                                slim_op *op);

/* Replies to a received message (to its source, over the connection it
 * came from). */
SLIM_API slim_status slim_session_publish_to(slim_app *app, slim_session_id s,
                                             const slim_message *ctx, slim_bytes payload,
                                             const slim_publish_options *o, int64_t timeout_ms,
                                             uint32_t *message_id);
SLIM_API slim_status slim_session_publish_to_async(slim_app *app, slim_session_id s,
                                                   const slim_message *ctx, slim_bytes payload,
                                                   const slim_publish_options *o, slim_op *op);

/* ANYCAST only: sends to any instance of `dest` ("org/ns/service"). */
SLIM_API slim_status slim_session_publish_with_destination(slim_app *app, slim_session_id s,
                                                           const char *dest, slim_bytes payload,
                                                           const slim_publish_options *o,
                                                           int64_t timeout_ms,
                                                           uint32_t *message_id);
SLIM_API slim_status slim_session_publish_with_destination_async(slim_app *app, slim_session_id s,
                                                                 const char *dest,
                                                                 slim_bytes payload,
                                                                 const slim_publish_options *o,
                                                                 slim_op *op);

/* Takes the session's next message, waiting up to timeout_ms. *out is the
 * caller's to free. E_TIMEOUT, E_CLOSED (the session ended and nothing is
 * left to read; the close's cause came as SLIM_EVENT_SESSION_CLOSED). */
SLIM_API slim_status slim_session_get_message(slim_app *app, slim_session_id s, int64_t timeout_ms,
                                              slim_message **out);
/* The same as an operation: its OP_DONE event carries the message. Calls
 * queue up: each takes one message, in order. */
SLIM_API slim_status slim_session_get_message_async(slim_app *app, slim_session_id s, slim_op *op);

#ifdef __cplusplus
}
#endif

#endif
