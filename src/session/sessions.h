/*
 * The session layer of one application: every session it holds, as one
 * pure object (the way one HTTP/2 session object holds all its streams).
 *
 * Pure: no I/O, clock, thread, lock or log. Bytes and `now` go in; what to
 * send, what to tell the application and the next deadline come out:
 *
 *   - slim_sessions_input(): an encoded Message that the app's embedded
 *     router delivered on the app's LOCAL connection (a Publish with
 *     incoming_conn set by the router, a SubscriptionAck, or an error
 *     publish from a node);
 *   - the application's calls: open, publish, close;
 *   - slim_sessions_expire(now) once now >= slim_sessions_deadline().
 *
 * Calls change state and queue outputs; they never call out, except for the
 * ops of the config (random numbers, identity), which must not call
 * slim_sessions_* themselves. The owner pulls the outputs with
 * slim_sessions_next() until it returns false, after every call:
 *
 *     while (slim_sessions_next(ss, &o))
 *         switch (o.kind) {
 *         case SLIM_SOUT_SEND: ... hand o.bytes to the router's LOCAL conn
 *         default:             ... copy what the app needs into its queues
 *         }
 *     arm a timer at slim_sessions_deadline(ss)
 *
 * Views in an output live until the next slim_sessions_* call on ss.
 *
 * Returned statuses are about the call itself (E_INVALID_ARG, E_CLOSED for
 * a handle that is gone, E_QUEUE_FULL, E_NOMEM...). What happens later
 * arrives as outputs: an operation started with a non-zero `op` ends with
 * exactly one SLIM_SOUT_DONE for it, unless the call returned an error (then
 * there is none). Each session ends with exactly one SLIM_SOUT_CLOSED; after
 * it the handle is dead and calls with it return E_CLOSED. Handles are
 * local, start at 1 and are never reused; the wire session id (u32) is in
 * slim_ss_info.
 *
 * The protocol on the wire is upstream SLIM's (docs/sessions.md, from
 * ../shared/spec/session-protocol-head.md): point-to-point sessions with
 * DISCOVERY, JOIN, WELCOME, acknowledged data with retransmission,
 * heartbeats and close, groups (MULTICAST), and MLS in both.
 *
 * One thread at a time.
 */
#ifndef SLIM_SESSION_SESSIONS_H
#define SLIM_SESSION_SESSIONS_H

#include "core/buf.h"
#include "slim/name.h"
#include "slim/session.h"
#include "slim/status.h"
#include "wire/wire.h"

typedef struct slim_sessions slim_sessions;

/* A name as sessions use it: the numeric form and, when known, its three
 * text components (upstream sends both). As an argument it is borrowed for
 * the call (the core copies what it keeps); in an output it is a view. */
typedef struct slim_sname {
    slim_name name;
    slim_str text[3]; /* all empty when unknown */
} slim_sname;

/* One metadata entry (views). */
typedef struct slim_ss_kv {
    slim_str key;
    slim_str value;
} slim_ss_kv;

/* Session types: slim_session_type of include/slim/session.h. */

/* Wire session ids are u32 in [0, SLIM_SESSION_ID_MAX); this asks for a
 * random free one. */
#define SLIM_SESSION_ID_ANY 0xffffffffu
#define SLIM_SESSION_ID_MAX 4294966295u

/* Retransmission timeouts below this are raised to it: it is larger than
 * the nodes' duplicate window (docs/protocol.md), so a retransmission is
 * never taken for a duplicate. */
#define SLIM_SESSION_MIN_TIMEOUT_MS 600

typedef struct slim_session_config {
    slim_session_type type;
    /* MULTICAST: the channel (text required, id ignored); the app becomes
     * the group's moderator, the channel's data and control names are
     * derived from it and the provider id (docs/sessions.md), and nothing
     * is sent until the first invite. */
    /* UNICAST: the name to discover (an id picks that instance; id any
     * lets the nodes pick one); text required. ANYCAST: the default
     * destination of publish (any instance of it, per message), or none
     * when its text is empty (then only TO and DESTINATION publish). */
    slim_sname peer;
    /* Reliable when both are non-zero (upstream's rule): every message is
     * acknowledged, retransmitted every timeout_ms, and reported
     * undelivered at the (max_retries + 1)-th expiry; delivery is in order.
     * Otherwise fire and forget, in arrival order. Control messages
     * (discovery, join, welcome, close) are always retransmitted: with
     * these values, or 1000 ms and 10 when they are zero. */
    uint32_t timeout_ms;
    uint32_t max_retries;
    /* End-to-end encryption (docs/sessions.md, "MLS"): the session is an
     * MLS group the opener commits; needs the MLS ops. */
    bool mls;
    /* MULTICAST with mls: the moderator commits a key update this often
     * (0: never; docs/protocol.md, "Key rotation") */
    uint32_t mls_rotation_ms;
    const slim_ss_kv *metadata; /* sent in JOIN_REQUEST; may be NULL */
    size_t metadata_len;
    uint32_t session_id; /* SLIM_SESSION_ID_ANY: pick */
} slim_session_config;

/* What the core asks its owner for. None may call slim_sessions_*. */
typedef struct slim_sessions_ops {
    void *ud;
    /* A uniformly random 64-bit value (ids, nonces). Required. */
    uint64_t (*random64)(void *ud);
    /* Stamps m, about to be sent, with the provider's current identity
     * token (header identity) and, for command messages (session message types 5-20),
     * the sender's signature (header e2e_header_sig) over the header AAD.
     * m comes with neither (the core clears them before every send, a
     * retransmission included); the op sets header->identity to a
     * NUL-terminated string and header->e2e_header_sig (with its case) to
     * bytes, both from slim_malloc: slim_wire_free releases them. An error
     * drops that one send (counted in send_failures; what is retransmitted
     * is tried again). Required. */
    slim_status (*stamp)(void *ud, slim_msg *m);
    /* Checks the identity token of m and, when need_sig, its signature
     * (with the public key the token carries). SLIM_OK or the reason.
     * Required. */
    slim_status (*verify)(void *ud, const slim_msg *m, bool need_sig);
    /* MLS (docs/sessions.md, "MLS"). Both NULL: sessions with MLS are
     * refused (E_UNSUPPORTED). */
    /* This app's MLS member identity: *credential the bytes its leaves
     * carry as their Basic credential (the current identity token),
     * *sig_priv the private signature key whose public key that token
     * names, *suite the MLS cipher suite of that key (1: Ed25519, 2:
     * P-256). Views valid until the next call of an op. */
    slim_status (*mls_self)(void *ud, slim_bytes *credential, slim_bytes *sig_priv,
                            uint16_t *suite);
    /* Checks another member's credential: the token verified by the
     * app's verifier (its expiry too only when `fresh`: a member being
     * added or changing its leaf; a leaf already in the group keeps its
     * token past its expiry) and the public key it carries equal to
     * signature_key. *app_id gets the app id its subject gives (a SLIM
     * source name's id must equal it). SLIM_OK or why not. */
    slim_status (*mls_check)(void *ud, slim_bytes credential, slim_bytes signature_key, bool fresh,
                             slim_id *app_id);
    /* Wall-clock seconds since the Unix epoch, for MLS KeyPackage and leaf
     * lifetimes (other implementations check them). NULL: lifetimes are
     * made unbounded and not checked. */
    uint64_t (*unix_time)(void *ud);
} slim_sessions_ops;

typedef struct slim_sessions_config {
    /* This app's name; its id is the app id (from the identity). Copied. */
    slim_sname local;
    /* The identity provider's id (the string the app id is hashed from):
     * a moderator derives its group's channel ids from it. Copied. Empty:
     * the app id's hex form stands in. */
    slim_str provider_id;
    uint32_t max_members;      /* per group, the moderator included; 0 = 1024 */
    uint32_t max_tasks;        /* invites and removals queued per group; 0 = 1024 */
    uint32_t max_sessions;     /* 0 = 1024 */
    uint32_t heartbeat_ms;     /* 0 = 10 000 (upstream); tests shorten it */
    uint32_t heartbeat_misses; /* a peer silent this many periods is gone; 0 = 3 */
    /* A group member down (silent heartbeat_misses periods) this long is
     * removed by the moderator; a moderator down this long ends the group
     * for its members. 0 = 300 000 (5 minutes). */
    uint32_t offline_removal_ms;
    /* Reliable messages a session may have unacknowledged (and publish_to
     * messages a group may, besides); more: E_QUEUE_FULL. 0 = 512. */
    uint32_t send_window;
    uint32_t subscription_ack_ms; /* route/subscription answers; 0 = 10 000 */
    size_t max_message_size;      /* 0 = SLIM_WIRE_DEFAULT_MAX_SIZE */
    /* An ANYCAST session a peer opens (its first message creates it here)
     * sends reliably when both are non-zero, as slim_session_config says;
     * 0 and 0: fire and forget (the Python API's default). */
    uint32_t anycast_timeout_ms;
    uint32_t anycast_max_retries;
    /* Such a session ends (CLOSED, E_SESSION_IDLE) after this long without
     * a message from anyone; 0 = 60 000. */
    uint32_t idle_ms;
    /* Outputs queued and not yet pulled above which input and publish are
     * refused with E_QUEUE_FULL (a refused input counts as lost on the
     * network: it is retransmitted); timers and closes still queue theirs.
     * 0 = 65 536. */
    uint32_t max_backlog;
} slim_sessions_config;

/* Creates the session layer. ops is copied. E_INVALID_ARG (a required op
 * missing, local name without text), E_NOMEM. */
slim_status slim_sessions_new(const slim_sessions_config *cfg, const slim_sessions_ops *ops,
                              slim_sessions **out);

/* Frees everything at once, sending nothing (close sessions first for a
 * polite exit). NULL is a no-op. */
void slim_sessions_free(slim_sessions *ss);

/* ---- inputs ---- */

/* One encoded Message delivered on the app's LOCAL connection at now_ms.
 * SLIM_OK when it was taken, else why it was dropped (counted; for logs):
 * E_QUEUE_FULL (backlog), the wire statuses (malformed), the status of
 * ops.verify (identity refused), E_SESSION_UNKNOWN (no session of ours),
 * E_SESSION_NOT_OURS (a name we do not answer for), E_SESSION_WRONG_PEER,
 * E_SESSION_UNEXPECTED (not expected in the session's state),
 * E_SESSION_DUPLICATE (data already delivered or buffered; acknowledged
 * again in a reliable session), E_SESSION_LIMIT, E_NOMEM. A message
 * for no session of ours, with a bad identity, or malformed, is never
 * delivered. */
slim_status slim_sessions_input(slim_sessions *ss, slim_bytes msg, uint64_t now_ms);

/* Runs the timers due at now_ms. */
void slim_sessions_expire(slim_sessions *ss, uint64_t now_ms);

/* The earliest time expire must be called; UINT64_MAX when no timer runs. */
uint64_t slim_sessions_deadline(const slim_sessions *ss);

/* ---- the application's calls ---- */

/* The names this app answers for besides its own (added at creation):
 * a JOIN_REQUEST, a DISCOVERY_REQUEST or the first message of an ANYCAST
 * session to any of them (any id, or ours) is taken, to any other name
 * dropped. The client adds every name it
 * subscribes. Borrowed for the call. E_NOMEM; remove: E_NOT_FOUND. */
slim_status slim_sessions_add_name(slim_sessions *ss, const slim_sname *name);
slim_status slim_sessions_remove_name(slim_sessions *ss, const slim_sname *name);

/* Opens a session from cfg (borrowed for the call). *session gets its
 * handle at once. ANYCAST: ready at once (DONE(op) follows immediately).
 * UNICAST: discovery and join run; DONE(op) when the peer has joined, or
 * with the failure (E_SESSION_DISCOVERY_FAILED, E_SESSION_JOIN_FAILED,
 * E_SESSION_WELCOME_FAILED, E_SESSION_NO_ROUTE, E_SESSION_ROUTE_REFUSED,
 * E_SESSION_ROUTE_TIMEOUT; E_CANCELLED when closed first), after which
 * the session also gets CLOSED with the same status. E_INVALID_ARG (bad
 * config: UNICAST or MULTICAST without a peer, names without text),
 * E_UNSUPPORTED (mls without the MLS ops), E_SESSION_BAD_ID, E_EXISTS (session id in use),
 * E_SESSION_LIMIT (max_sessions), E_QUEUE_FULL (backlog), E_NOMEM. */
slim_status slim_sessions_open(slim_sessions *ss, const slim_session_config *cfg, uint64_t op,
                               uint64_t now_ms, uint64_t *session);

/* How a publish is addressed. */
typedef enum slim_publish_mode {
    SLIM_PUBLISH_DEFAULT,     /* UNICAST: the peer; ANYCAST: the configured peer name */
    SLIM_PUBLISH_TO,          /* reply: to `to`, forward_to = `conn` (from a message's context) */
    SLIM_PUBLISH_DESTINATION, /* ANYCAST only: any instance of `to` */
} slim_publish_mode;

typedef struct slim_publish {
    slim_publish_mode mode;
    slim_sname to; /* TO, DESTINATION */
    uint64_t conn; /* TO: the input connection of the message replied to */
    slim_bytes payload;
    slim_str payload_type; /* empty: "msg" */
    const slim_ss_kv *metadata;
    size_t metadata_len;
} slim_publish;

/* Queues one message (everything in p is copied). On SLIM_OK it is queued
 * and *message_id (may be NULL) gets its wire id; that is the completion
 * (there is no DONE). A reliable message ends either acknowledged (nothing
 * more is said) or with exactly one SLIM_SOUT_UNDELIVERED naming it (never
 * acknowledged after every retransmission, or the session ended first),
 * always before the session's CLOSED. A UNICAST session whose join has
 * not finished keeps its messages (in the same bounded window) and sends
 * them once the peer has joined. Errors: E_CLOSED,
 * E_SESSION_CLOSING (close was called), E_SESSION_EXPECTED_ANYCAST
 * (DESTINATION on a UNICAST session), E_SESSION_NO_DESTINATION (DEFAULT
 * on an ANYCAST session without a peer), E_INVALID_ARG (TO a name that is
 * not the UNICAST peer, a bad mode, names without text), E_TOO_LARGE,
 * E_QUEUE_FULL (the unacknowledged window of 512 messages is full, or the
 * backlog: try again later), E_NOMEM. */
slim_status slim_sessions_publish(slim_sessions *ss, uint64_t session, const slim_publish *p,
                                  uint64_t now_ms, uint32_t *message_id);

/* Closes a session: first waits until its reliable messages are
 * acknowledged or reported undelivered (publish then close delivers),
 * then tells the peer (UNICAST initiator: GROUP_CLOSE; UNICAST joiner and
 * ANYCAST session a peer opened: LEAVE_REQUEST; ANYCAST opener: a
 * GROUP_CLOSE to every instance that answered it) and waits for its
 * answer, bounded by the control retransmissions, then CLOSED (SLIM_OK).
 * A UNICAST open still discovering or joining is abandoned: DONE of the
 * open with E_CANCELLED. DONE(op) when that is over (SLIM_OK even if the
 * peer never answered: it is gone either way). E_CLOSED,
 * E_SESSION_CLOSING (already closing), E_NOMEM. */
slim_status slim_sessions_close(slim_sessions *ss, uint64_t session, uint64_t op, uint64_t now_ms);

/* ---- groups (MULTICAST sessions; the moderator is the app that opened it) ---- */

/* Invites `name` (borrowed; text required; an id picks that instance,
 * none lets the nodes pick one) into the group: discovery, join, welcome,
 * and the update that tells the other members. Invites and removals run
 * one at a time in the order they were called; a failed one never blocks
 * the next. DONE(op) when it is over: SLIM_OK (the invitee is a member and
 * every member was told), E_SESSION_DISCOVERY_FAILED (no instance
 * answered), E_SESSION_NO_ROUTE or E_SESSION_ROUTE_REFUSED (refused on
 * the way), E_SESSION_ROUTE_TIMEOUT (our router did not take the routes in
 * time), E_SESSION_LIMIT (the group has max_members), E_SESSION_JOIN_FAILED or
 * E_SESSION_WELCOME_FAILED (the instance stopped answering at the (max_retries + 1)-th expiry; it
 * is not a member), E_SESSION_UPDATE_FAILED (a member; some members never acknowledged the update),
 * E_SESSION_ALREADY_MEMBER, E_CANCELLED (the session closed first), E_NOMEM. The invitee's app gets
 * NEW after the welcome. Call errors: E_CLOSED, E_SESSION_CLOSING, E_SESSION_EXPECTED_MULTICAST,
 * E_SESSION_NOT_MODERATOR, E_INVALID_ARG, E_QUEUE_FULL (max_tasks),
 * E_NOMEM. */
slim_status slim_sessions_invite(slim_sessions *ss, uint64_t session, const slim_sname *name,
                                 uint64_t op, uint64_t now_ms);

/* Removes the member with name's three components (its id is ignored:
 * one instance per name is a member) from the group: the other members
 * are told, then it is (its session ends with CLOSED E_SESSION_REMOVED).
 * Queued with invites. DONE(op): SLIM_OK, E_SESSION_NOT_MEMBER,
 * E_SESSION_LEAVE_FAILED (it is out of the group but never answered),
 * E_SESSION_UPDATE_FAILED, E_CANCELLED. Call errors as invite. */
slim_status slim_sessions_remove(slim_sessions *ss, uint64_t session, const slim_sname *name,
                                 uint64_t op, uint64_t now_ms);

/* Saving a member's groups (docs/client.md, "State at rest"): every group
 * session in which this app is a ready member (not the moderator), with
 * its MLS state, appended to out as bytes the caller must keep secret
 * (they hold keys); *count (may be NULL) gets how many. */
slim_status slim_sessions_export(const slim_sessions *ss, slim_buf *out, uint32_t *count);

/* Brings back the sessions of slim_sessions_export's bytes in this core
 * (the same app id and MLS identity): each asks for its routes over
 * `conn`, then comes as a NEW output, a member of its group again. Its
 * data ids and MLS ratchets go on past what it may have used after the
 * save. *count (may be NULL) gets how many came back; on an error, those
 * before it stay. E_UNSUPPORTED (another format version), E_INVALID_ARG
 * (not this app's), E_SESSION_DUPLICATE (one of them is here already),
 * E_SESSION_LIMIT, the codec's and MLS's errors for altered bytes. */
slim_status slim_sessions_import(slim_sessions *ss, slim_bytes saved, uint64_t conn,
                                 uint64_t now_ms, uint32_t *count);

/* A key update of an MLS group (docs/protocol.md, "Key rotation"): at the
 * moderator, a commit that gives the group fresh keys, DONE (op) once
 * every member acknowledged it; at a member, a request to the moderator,
 * DONE once the moderator takes it (the update follows). DONE errors:
 * E_SESSION_ROTATION_OFF (the moderator refused), E_TIMEOUT (no answer),
 * E_SESSION_UPDATE_FAILED, E_CANCELLED. Call errors: E_CLOSED,
 * E_SESSION_EXPECTED_MULTICAST, E_SESSION_ROTATION_OFF (no MLS, or the
 * group has a member of another implementation), E_QUEUE_FULL (a member's
 * request is pending; the moderator's tasks are full). */
slim_status slim_sessions_rotate(slim_sessions *ss, uint64_t session, uint64_t op, uint64_t now_ms);

/* The group's members as this app knows them, the moderator and itself
 * included, the moderator first (for UNICAST: itself and the peer once
 * joined): up to cap
 * views into out (valid until the next call on ss), *n gets how many
 * there are. E_CLOSED. */
slim_status slim_sessions_members(const slim_sessions *ss, uint64_t session, slim_sname *out,
                                  size_t cap, size_t *n);

/* Holds (or releases) a reliable session's incoming data: while held, a
 * data message not yet delivered or buffered is dropped without an
 * acknowledgement (counted in drop_backlog), so its sender sends it again
 * later, and reports it undelivered only if the hold outlasts its retries.
 * The owner holds a session whose reader is behind. What is already in
 * the reorder buffer (up to SLIM_SESSIONS_RX_SPAN messages) may still be
 * delivered. Unreliable sessions are not affected. Queues no output and
 * keeps the views of the current one. E_CLOSED. */
slim_status slim_sessions_hold(slim_sessions *ss, uint64_t session, bool hold);
#define SLIM_SESSIONS_RX_SPAN 1024u

/* Says whether the way out is congested (the owner's connection to its
 * node has a full send queue). While it is, data and retransmission
 * requests due to be sent again are not: their timers start over and the
 * expiry does not count against max_retries (copies would only queue
 * behind what cannot leave, and add to it). Control messages and
 * acknowledgements go as usual. Queues no output. */
void slim_sessions_congested(slim_sessions *ss, bool congested);

/* ---- outputs ---- */

typedef enum slim_sout_kind {
    SLIM_SOUT_SEND = 1,    /* bytes: an encoded Message for the router's LOCAL connection */
    SLIM_SOUT_NEW,         /* a peer opened `session` (listen_for_session) */
    SLIM_SOUT_MESSAGE,     /* application data for `session`: payload in bytes, ctx */
    SLIM_SOUT_DONE,        /* operation `op` (of `session`) ended: status, detail */
    SLIM_SOUT_UNDELIVERED, /* reliable message `message_id` of `session` was never acknowledged */
    SLIM_SOUT_LOST,        /* `session`'s peer (ctx.source) no longer has message `message_id`,
                            * or never answered for it: a gap, in order (E_SESSION_LOST) */
    SLIM_SOUT_CLOSED,      /* `session` ended: status (SLIM_OK: closed by us or the peer), detail */
    SLIM_SOUT_MEMBER,      /* group `session`'s membership changed: `member` happened to
                            * ctx.source (joined; left or was removed) */
} slim_sout_kind;

/* Where a received message came from (views). */
typedef struct slim_msg_ctx {
    slim_sname source; /* MESSAGE; also LOST (the sender) and MEMBER (the member) */
    slim_sname destination;
    slim_str payload_type;
    const slim_ss_kv *metadata;
    size_t metadata_len;
    uint64_t input_conn; /* the router connection it arrived on (for SLIM_PUBLISH_TO) */
    uint32_t message_id;
} slim_msg_ctx;

typedef struct slim_sout {
    slim_sout_kind kind;
    uint64_t session;    /* 0 for SEND of no session */
    uint64_t op;         /* DONE */
    slim_status status;  /* DONE, UNDELIVERED, LOST, CLOSED */
    const char *detail;  /* DONE, UNDELIVERED, LOST, CLOSED: the cause in words; NULL otherwise */
    slim_bytes bytes;    /* SEND, MESSAGE */
    slim_msg_ctx ctx;    /* MESSAGE */
    uint32_t message_id; /* UNDELIVERED, LOST */
    slim_member_change member; /* MEMBER */
} slim_sout;

/* The next output, false when none is queued. */
bool slim_sessions_next(slim_sessions *ss, slim_sout *out);

/* ---- inspection ---- */

typedef struct slim_ss_info {
    uint32_t id; /* the wire session id */
    slim_session_type type;
    bool initiator;             /* we opened it */
    bool ready;                 /* UNICAST: joined; ANYCAST, MULTICAST: always */
    bool moderator;             /* MULTICAST: we created the group */
    bool reliable;              /* acknowledged and retransmitted data */
    bool mls;                   /* end-to-end encrypted with MLS */
    slim_sname local;           /* our name, with our id */
    slim_sname peer;            /* UNICAST: the peer (with its id once joined); ANYCAST: configured;
                                 * MULTICAST: the channel (its data name, with the derived id) */
    const slim_ss_kv *metadata; /* the session's metadata */
    size_t metadata_len;
    uint32_t timeout_ms, max_retries;
    uint64_t mls_epoch;       /* MLS: the current epoch (UINT64_MAX: none yet, or no MLS) */
    uint32_t mls_past_epochs; /* MLS: ended epochs whose keys are still kept */
} slim_ss_info;

/* Views valid until the next call on ss. E_CLOSED. */
slim_status slim_sessions_info(const slim_sessions *ss, uint64_t session, slim_ss_info *out);

typedef struct slim_sessions_counters {
    uint64_t sessions_open;             /* current */
    uint64_t messages_in, messages_out; /* application data */
    uint64_t retransmissions;           /* data and control messages sent again */
    uint64_t drop_identity;             /* identity or signature refused */
    uint64_t drop_unknown;              /* for no session of ours, or a name we do not answer for */
    uint64_t drop_malformed;
    uint64_t drop_duplicate; /* data already delivered */
    uint64_t undelivered;
    uint64_t drop_unexpected; /* not expected in the session's state, or from another peer */
    uint64_t drop_backlog;    /* inputs refused with E_QUEUE_FULL */
    uint64_t drop_limit;      /* sessions a peer would have opened past max_sessions */
    uint64_t drop_nomem;      /* inputs dropped for want of memory */
    uint64_t send_failures;   /* sends lost to stamp, encoding or memory failures */
    uint64_t node_errors;     /* error publishes from nodes taken */
    uint64_t lost;            /* LOST outputs */
    uint64_t rtx_requests;    /* RTX_REQUESTs sent */
    uint64_t rtx_replies;     /* RTX_REPLYs sent */
    uint64_t heartbeats;      /* HEARTBEATs sent */
    uint64_t peers_gone;      /* sessions ended by missed heartbeats */
    uint64_t members_down;    /* group members declared down */
    uint64_t members_up;      /* group members heard from again after that */
    uint64_t drop_mls;        /* MLS: data that did not decrypt, commits refused */
    uint64_t drop_mls_aad;    /* MLS: data whose header differs from its authenticated data */
    uint64_t drop_mls_sender; /* MLS: data whose MLS sender is not its source */
    uint64_t drop_replay;     /* MLS: command messages taken before (answered again) */
    uint64_t mls_commits;     /* MLS: commits made (opener) or applied (member) */
} slim_sessions_counters;

void slim_sessions_counters_get(const slim_sessions *ss, slim_sessions_counters *out);

#endif
