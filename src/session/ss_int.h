/*
 * Inside the session core (sessions.h): the types the files of
 * src/session share, and their internal functions.
 *
 *   sessions.c  the object: names, handles, the output queue, the timer
 *               heap, input dispatch, the application's calls;
 *   ss_msg.c    building, stamping and queueing the messages we send;
 *   ss_p2p.c    the life of a point-to-point session: discovery, routes,
 *               join, welcome, heartbeats, close, control retransmission;
 *   ss_data.c   application data: the send window with acknowledgements
 *               and retransmission, the receiver's reorder buffers with
 *               RTX (one per sender), and the duplicate filter of
 *               unordered sessions;
 *   ss_group.c  MULTICAST sessions: channel names, the moderator's tasks
 *               (invite, remove), the members' side, group close;
 *   ss_mls.c    MLS: a session's group state, commits in order, sealing
 *               and opening application data, the replay cache.
 *
 * Everything runs on the caller's thread; nothing here calls out except
 * the ops of the config.
 */
#ifndef SLIM_SESSION_SS_INT_H
#define SLIM_SESSION_SS_INT_H

#include "session/sessions.h"
#include "core/hmap.h"

/* Sizes (docs/sessions.md explains each). */
/* the default send window: unacknowledged messages per session (upstream's
 * producer ring) */
#define SS_WINDOW   512u
#define SS_FAST_GAP 3u /* acknowledged ids after an unacknowledged one that send it again early */
#define SS_RX_SPAN                                                                                 \
    SLIM_SESSIONS_RX_SPAN            /* ids a reorder buffer holds ahead of the next expected one */
#define SS_SEEN_BITS           1024u /* ids behind the highest one the duplicate filter remembers */
#define SS_MAX_SOURCES         16u   /* duplicate filters per session (one per sender) */
#define SS_MAX_INSTANCES       64u /* instances an ANYCAST opener remembers (to tell them at close) */
#define SS_TOMBSTONES          256u /* sessions remembered after they end */
#define SS_TOMBSTONE_MS        60000u
#define SS_SEQ_MASK            0x7fffffffu /* data ids run 1 .. 2^31-1, then 0 (upstream) */
#define SS_DEFAULT_CTL_TIMEOUT 1000u
#define SS_DEFAULT_CTL_RETRIES 10u
#define SS_PEER_MAX_TIMEOUT_MS 60000u /* a JOIN_REQUEST's timer settings are taken up to */
#define SS_PEER_MAX_RETRIES    32u    /* these: they set how long we hold its session */
#define SS_MAX_RTO_MS          60000u /* the longest retransmission period (ss_rto) */

/* Session message types, short. */
enum {
    T_MSG = 1,
    T_MSG_ACK = 2,
    T_RTX_REQUEST = 3,
    T_RTX_REPLY = 4,
    T_DISCOVERY_REQUEST = 5,
    T_DISCOVERY_REPLY = 6,
    T_JOIN_REQUEST = 7,
    T_JOIN_REPLY = 8,
    T_LEAVE_REQUEST = 9,
    T_LEAVE_REPLY = 10,
    T_GROUP_UPDATE = 11,
    T_GROUP_WELCOME = 12,
    T_GROUP_CLOSE = 13,
    T_GROUP_PROPOSAL = 14,
    T_GROUP_ACK = 15,
    T_GROUP_NACK = 16,
    T_HEARTBEAT = 17,
    T_UPDATE_PARTICIPANT_STATE = 18,
    T_REJOIN_REQUEST = 19,
    T_REJOIN_REPLY = 20,
};
#define SS_P2P       DATAPLANE__PROTO__V1__SESSION_TYPE__SESSION_TYPE_POINT_TO_POINT
#define SS_MULTICAST DATAPLANE__PROTO__V1__SESSION_TYPE__SESSION_TYPE_MULTICAST

/* The version our messages announce in their header: upstream puts its
 * crate's version there; the build tag says the sender is this
 * implementation, which speaks our additions (docs/protocol.md). */
#define SS_VERSION_TAG "+slim-c"
#define SS_VERSION     SLIM_VERSION_STRING SS_VERSION_TAG

/* Metadata keys upstream uses. */
#define SS_KEY_LEAVING    "LEAVING_SESSION"
#define SS_KEY_PUBLISH_TO "PUBLISH_TO"
#define SS_VAL_TRUE       "TRUE"

/* A name the core keeps: the numeric form and its text when known. */
typedef struct ss_name {
    slim_name name;
    char *text[3]; /* owned, NUL-terminated; all NULL when unknown */
} ss_name;

/* Why an output says what it says; the detail text is written when the
 * output is pulled (sessions.c: detail()). */
typedef enum ss_reason {
    R_NONE,
    R_OPEN_OK,
    R_DISCOVERY_FAILED,
    R_JOIN_FAILED,
    R_WELCOME_FAILED,
    R_NO_ROUTE,
    R_ROUTE_REFUSED,
    R_ROUTE_TIMEOUT,
    R_OPEN_CANCELLED,
    R_UNDELIVERED,
    R_UNDELIVERED_ENDED,
    R_LOST_SENDER,
    R_LOST_RTX,
    R_LOST_LATE, /* a late joiner: older than what was delivered first */
    R_CLOSED_LOCAL,
    R_CLOSED_BY_PEER,
    R_PEER_LEFT,
    R_PEER_GONE,
    R_IDLE,
    R_CLOSE_DONE,
    R_CLOSE_UNANSWERED,
    R_NOMEM,
    R_GROUP_OPEN,     /* group ready */
    R_INVITE_OK,      /* arg unused; who: the member */
    R_ALREADY_MEMBER, /* who */
    R_NOT_MEMBER,     /* who */
    R_MEMBER_LIMIT,   /* arg: max_members */
    R_UPDATE_FAILED,  /* arg: retries; note: who never acknowledged */
    R_LEAVE_FAILED,   /* arg: retries; who */
    R_REMOVE_OK,      /* who */
    R_TASK_CANCELLED, /* who */
    R_REMOVED,        /* who: the moderator */
    R_MODERATOR_CLOSED,
    R_MODERATOR_GONE,    /* arg: seconds it was down */
    R_UNDELIVERED_GROUP, /* arg: retries; note: the members that never acknowledged */
    R_MLS_REFUSED,       /* who: the invitee whose KeyPackage was refused (status says why) */
    R_MLS_FAILED,        /* MLS could not be set up or followed (status says why) */
    R_ROTATED,           /* a key update is in: every member acknowledged it */
    R_ROTATE_REFUSED,    /* the moderator does not rotate keys in this group */
    R_ROTATE_UNANSWERED, /* arg: retries; the moderator never answered the request */
} ss_reason;

struct ss_sess;
typedef struct ss_mls ss_mls;

/* One queued output. SEND and MESSAGE own their bytes or message. */
typedef struct ss_out {
    struct ss_out *next;
    slim_sout_kind kind;
    ss_reason reason;
    struct ss_sess *sess; /* for the detail text; NULL for SEND */
    uint64_t handle;
    uint64_t op;
    slim_status status;
    uint32_t message_id;
    uint32_t arg;
    uint8_t *bytes; /* SEND: the encoded message (slim_malloc) */
    size_t len;
    slim_msg *msg;  /* MESSAGE: the decoded message the views point into */
    slim_ss_kv *kv; /* MESSAGE: its metadata as views */
    size_t nkv;
    ss_name who; /* LOST, MEMBER: ctx.source; group DONEs: the invitee (for the detail) */
    char *note;  /* extra words for the detail (slim_malloc), or NULL */
} ss_out;

/* Timers of one kind in one session, in time order. Their period is
 * the same or changes little from one timer to the next, so a new one
 * nearly always goes last (a ring); when the data period (ss_rto) drops
 * at once, a new timer goes before the later ones set with the longer
 * period instead of waiting behind them. An entry is stale when the thing
 * it times has gone or was re-armed; stale entries are skipped. */
typedef struct ss_tq_ent {
    uint64_t when;
    uint32_t id;
} ss_tq_ent;

typedef struct ss_tq {
    ss_tq_ent *e;
    uint32_t head, len, cap;
} ss_tq;

/* A control message waiting for its answer. */
typedef enum ss_purpose {
    P_DISCOVERY,
    P_JOIN,
    P_WELCOME,
    P_CLOSE,  /* GROUP_CLOSE to the peer or one ANYCAST instance */
    P_LEAVE,  /* our LEAVE_REQUEST */
    P_UPDATE, /* GROUP_UPDATE to the channel: one GROUP_ACK per member in `wait` */
    P_SYNC,   /* the roster to a member that came back (GROUP_UPDATE to it alone) */
    P_ROTATE, /* a member's GROUP_PROPOSAL asking the moderator for a key update */
} ss_purpose;

typedef struct ss_ctl {
    slim_msg *msg; /* the request, sent again on expiry */
    uint32_t id;
    uint8_t type;    /* the request's session message type */
    uint8_t purpose; /* ss_purpose */
    bool any_id;     /* the answer may come from any instance of `from` */
    slim_name from;  /* who must answer */
    uint64_t deadline;
    uint32_t tries; /* expiries so far */
    /* a broadcast (GROUP_UPDATE, GROUP_CLOSE to a channel): every member
     * that still has to answer (slim_malloc), else NULL */
    slim_name *wait;
    uint32_t nwait;
} ss_ctl;

/* A message in the send window. */
typedef struct ss_tx {
    slim_msg *msg;       /* NULL once acknowledged or given up */
    ss_out *undelivered; /* reliable: its UNDELIVERED output, ready */
    uint64_t deadline;
    uint64_t sent_at; /* its first send: acknowledgements give round-trip samples */
    uint32_t tries;
    bool sent;
    bool fast;      /* sent again early once, on later messages' acknowledgements (ss_data.c) */
    uint64_t epoch; /* MLS: the epoch of its first send (every copy is sealed with it) */
    /* MULTICAST: the members that have still to acknowledge it */
    slim_name *wait;
    uint32_t nwait;
} ss_tx;

/* A message slot in the reorder buffer. */
typedef struct ss_rx {
    ss_out *out;           /* MESSAGE (arrived) or LOST (given up); NULL: missing */
    uint64_t rtx_deadline; /* missing: when the RTX_REQUEST is due again */
    uint32_t rtx_tries;
    uint64_t asked_at; /* missing: when it was first asked for (a round-trip sample) */
} ss_rx;

/* The reorder buffer of one sender: ids next .. next + count - 1. A
 * UNICAST session has one (its peer); a MULTICAST session one per member
 * that sent reliable data. */
typedef struct ss_rxq {
    ss_name src; /* MULTICAST: the sender (full name) */
    ss_rx *rx;
    uint32_t cap, head, count, next;
    uint64_t conn; /* connection of the latest data from the sender */
    ss_tq tq;
    bool init;           /* MULTICAST: the baseline (first id) is known */
    uint64_t hold_until; /* MULTICAST late joiner: delivery waits until then (0: not) */
    uint32_t start;      /* MULTICAST: the first id delivered */
    uint64_t late;       /* ids start-1 .. start-64 already reported lost (bit i: start-1-i) */
    uint64_t heard_ms;   /* MULTICAST: the latest data from the sender */
    uint32_t backoff;    /* MULTICAST: the RTX period's multiplier (1 when 0) */
    uint64_t backoff_at; /* not doubled again before */
} ss_rxq;

/* An instance that answered an ANYCAST opener, and the connection it
 * answered on (messages to it go there: there is no route to it). */
typedef struct ss_inst {
    ss_name n;
    uint64_t conn; /* UINT64_MAX: unknown */
} ss_inst;

/* The duplicate filter of an unordered session for one sender. */
typedef struct ss_seen {
    slim_name src;
    uint64_t used; /* for replacing the least recently used */
    uint32_t high;
    bool init;
    uint64_t bits[SS_SEEN_BITS / 64];
} ss_seen;

/* A route the session layer installed in the router (Subscribe with
 * recv_from), shared by the sessions with the same peer and connection:
 * the router keeps one entry per (name, connection), so only the last
 * user may remove it. */
typedef struct ss_route {
    struct ss_route *next;
    slim_name name;
    ss_name local, peer; /* for the (un)subscription's names */
    uint64_t conn;
    uint64_t sub_id;
    uint32_t refs;
    bool sub; /* a subscription (forward_to = conn), not a route (recv_from) */
    bool acked;
    bool failed;
} ss_route;

/* A route or subscription a group session holds, with the member it is
 * for (released when that member leaves). */
typedef struct ss_hold {
    ss_route *r;
    slim_name owner; /* for a member; the any name for the channel's own */
    bool owned;
    bool wait; /* the current step waits for its acknowledgement */
} ss_hold;

/* A member of a group as a session knows it. */
typedef struct ss_member {
    ss_name n;         /* full name */
    uint32_t missed;   /* heartbeat periods in which nothing came from it */
    bool offline;      /* declared down (missed reached heartbeat_misses) */
    bool removing;     /* moderator: its removal is queued */
    uint64_t down_at;  /* when it was declared down */
    uint64_t heard_at; /* when anything last came from it */
    bool stale;        /* moderator, MLS: it missed a commit (it is added again) */
} ss_member;

/* The moderator's invites and removals, one at a time in call order. */
typedef enum ss_task_kind {
    K_INVITE,
    K_REMOVE,
    K_ANNOUNCE_LEFT, /* tell the others that a member left by itself */
    K_ROTATE,        /* MLS: a key update (a commit with only the moderator's path) */
} ss_task_kind;

typedef enum ss_task_step {
    TS_NONE,
    TS_DISCOVER,
    TS_ROUTE,
    TS_JOIN,
    TS_WELCOME, /* welcome and update out */
    TS_UPDATE,  /* removal: the update out */
    TS_LEAVE,   /* removal: the LEAVE_REQUEST out */
} ss_task_step;

typedef struct ss_task {
    struct ss_task *next;
    ss_task_kind kind;
    ss_task_step step;
    bool gone;     /* remove: a member down for offline_removal (no LEAVE wait) */
    bool replaces; /* invite: of a member that is down (it restarted): welcome after update */
    bool readd;    /* invite, MLS: of a member that missed a commit, with a fresh KeyPackage */
    ss_name who;   /* as asked; then the full name */
    uint64_t conn; /* invite: the connection the discovery reply came on */
    ss_out *done;  /* its DONE, when it has an op */
    bool update_failed;
    uint32_t update_id, welcome_id; /* message ids of the task's requests */
    /* MLS: the task's commit (the update carries it), the welcome of an
     * invite, and their commit id */
    slim_buf commit, welcome;
    uint32_t commit_id;
} ss_task;

/* A publish_to message waiting for its one acknowledgement. */
typedef struct ss_ptx {
    slim_msg *msg;
    ss_out *undelivered;
    slim_name to;
    uint64_t deadline;
    uint32_t tries;
    uint64_t epoch; /* MLS: the epoch of its first send */
} ss_ptx;

#define SS_UPDATE_IDS 16u /* GROUP_UPDATE ids a member remembers (duplicates) */
#define SS_PT_SEEN    64u /* publish_to ids a member remembers per session */
#define SS_FANOUT_ALL 256u

/* What a MULTICAST session has besides the common parts. */
typedef struct ss_group {
    ss_name data, ctrl; /* the channel: data name and control name */
    bool moderator;
    ss_member *mem; /* the roster, self (and the moderator) included */
    uint32_t nmem, mem_cap;
    ss_hold *hold; /* routes and subscriptions held */
    uint32_t nhold, hold_cap;
    uint64_t wait_deadline; /* a step waiting for SubscriptionAcks; 0: none */
    bool subscribed;        /* moderator: the channel subscribed (first reply) */
    bool welcomed;          /* member: the welcome is being taken (routes) */
    uint32_t welcome_id;    /* member: the id of the welcome being taken */
    uint64_t welcome_conn;
    /* moderator: tasks */
    ss_task *task, *task_tail; /* task: the current one (the head) */
    uint32_t ntasks;
    /* member: GROUP_UPDATE ids taken */
    uint32_t upd[SS_UPDATE_IDS];
    uint32_t nupd;
    /* reorder buffers, one per sender */
    ss_rxq *src;
    uint32_t nsrc, src_cap;
    /* publish_to */
    ss_ptx *pt;
    uint32_t npt;
    struct {
        slim_name src;
        uint32_t id;
    } pt_seen[SS_PT_SEEN];
    uint32_t pt_seen_next;
    /* MLS key rotation (docs/protocol.md, "Key rotation") */
    uint32_t rot_ms;   /* moderator: the interval; 0: none */
    uint64_t rot_next; /* moderator: when the next one is queued (0: not set) */
    bool rot_off;      /* a member (or the moderator) announced another version */
    ss_out *rot_done;  /* member: the DONE of its request */
    uint32_t rot_id;   /* member: the request's message id */
} ss_group;

typedef enum ss_state {
    S_DISCOVER, /* initiator: DISCOVERY_REQUEST out */
    S_ROUTE,    /* waiting for the router to take the route to the peer */
    S_JOIN,     /* initiator: JOIN_REQUEST out */
    S_WELCOME,  /* initiator: GROUP_WELCOME out */
    S_JOINED,   /* joiner: JOIN_REPLY sent, waiting for the welcome (group: and
                 * then its routes) */
    S_READY,
    S_DRAIN,   /* close called: waiting for our unacknowledged messages */
    S_CLOSING, /* close messages out, waiting for their answers */
    S_DEAD,    /* ended: CLOSED queued (or ended silently) */
} ss_state;

typedef struct ss_sess {
    slim_hnode by_handle, by_id;
    uint64_t handle;
    uint32_t id;
    slim_session_type type;
    ss_state state;
    bool initiator;
    bool announced; /* the application knows the handle (open, or NEW) */
    bool in_ids;    /* linked in by_id */
    bool reliable;
    bool held;                        /* slim_sessions_hold: new data is dropped unacknowledged */
    bool from_anycast;                /* ANYCAST session a peer's message opened */
    uint32_t timeout_ms, max_retries; /* data */
    uint32_t srtt_ms, rttvar_ms;      /* acknowledgement round trip (ss_rto); 0, 0: none yet */
    uint32_t backoff;                 /* ss_rto's multiplier (1 when 0): doubled while slow */
    uint64_t backoff_at;              /* not doubled again before */
    uint64_t last_ack_ms;             /* the latest acknowledgement (any, even a late one) */
    uint32_t ctl_timeout_ms, ctl_retries; /* control messages */
    ss_name local, peer;
    bool peer_known; /* UNICAST: the peer's full name is learnt */
    uint64_t conn;   /* the connection the peer answers on; UINT64_MAX: unknown */
    ss_route *route;
    uint64_t route_deadline; /* S_ROUTE */
    uint32_t join_id;        /* joiner: the JOIN_REQUEST id to echo */
    slim_ss_kv *meta;        /* views into meta_store */
    size_t nmeta;
    char *meta_store;
    /* what the application is owed */
    uint64_t open_op, close_op;
    ss_out *open_done, *close_done, *closed;
    /* control messages waiting for answers */
    ss_ctl *ctl;
    uint32_t nctl, ctl_cap;
    /* send window: ids tx_base .. tx_base + tx_count - 1 */
    uint32_t last_id;
    ss_tx *tx;
    uint32_t tx_cap, tx_head, tx_count, tx_base;
    ss_tq tx_tq;
    /* reorder buffer (UNICAST reliable) */
    ss_rxq rxq;
    ss_group *g; /* MULTICAST */
    ss_mls *mls; /* MLS sessions */
    /* duplicate filters (unordered sessions) */
    ss_seen *seen;
    uint32_t nseen;
    uint64_t seen_clock;
    /* heartbeats (UNICAST, once ready) */
    uint64_t hb_next;
    uint32_t hb_missed;
    bool hb_active;         /* something went to the peer this period */
    uint64_t join_deadline; /* joiner waiting for the welcome */
    uint64_t idle_deadline; /* ANYCAST session a peer opened */
    /* ANYCAST opener: instances that answered */
    ss_inst *inst;
    uint32_t ninst;
    /* scheduling */
    size_t heap_idx; /* SIZE_MAX: not in the heap */
    uint64_t deadline;
    /* how it ended */
    slim_status end_status;
    ss_reason end_reason;
    uint32_t end_arg;
} ss_sess;

typedef struct ss_tomb {
    uint32_t id;
    slim_name peer;
    bool anycast;     /* a peer's ANYCAST session */
    bool opener;      /* an ANYCAST session we opened: its peers were instances of `peer` */
    uint32_t join_id; /* a session a JOIN_REQUEST made: the id of the last one taken */
    uint64_t until;
} ss_tomb;

typedef struct ss_appname {
    ss_name n; /* id ignored */
} ss_appname;

struct slim_sessions {
    slim_sessions_ops ops;
    ss_name local;
    uint32_t max_sessions, heartbeat_ms, heartbeat_misses, sub_ack_ms, idle_ms, max_backlog;
    bool congested; /* slim_sessions_congested: data is not sent again for now */
    uint32_t max_members, max_tasks;
    uint32_t offline_removal_ms; /* a group member down this long is removed */
    uint32_t send_window;        /* unacknowledged messages per session (SS_WINDOW) */
    char *provider_id;           /* NUL-terminated; the app id's hex form when none was given */
    uint32_t any_timeout_ms, any_max_retries;
    size_t max_message;
    ss_appname *names;
    uint32_t nnames, names_cap;
    slim_hmap by_handle, by_id;
    uint64_t next_handle;
    uint32_t nsessions; /* not dead */
    ss_sess **heap;
    size_t heap_len, heap_cap;
    ss_route *routes;
    ss_tomb tombs[SS_TOMBSTONES];
    uint32_t tomb_next;
    /* outputs */
    ss_out *out_head, *out_tail;
    uint32_t out_len;
    ss_out *cur;    /* the output last returned by next(), freed at the next call */
    ss_sess *grave; /* ended sessions the application never saw */
    char detail[3 * SLIM_NAME_COMPONENT_MAX + 512];
    slim_sessions_counters c;
    uint64_t now; /* the latest time the application gave (ms) */
};

/* ---- sessions.c ---- */
/* What every call does first: the views of the last output die here. */
void ss_begin(slim_sessions *ss);
ss_sess *ss_sess_new(slim_sessions *ss); /* not linked; NULL: no memory */
void ss_sess_link(slim_sessions *ss, ss_sess *s);
void ss_sess_free(ss_sess *s);
ss_sess *ss_find_id(const slim_sessions *ss, uint32_t id);
slim_status ss_meta_copy(ss_sess *s, const slim_ss_kv *kv, size_t n);
void ss_out_push(slim_sessions *ss, ss_out *o);
/* Queues the output waiting in *slot (if any) with this outcome. */
void ss_out_settle(slim_sessions *ss, ss_out **slot, slim_status st, ss_reason why, uint32_t arg);
ss_out *ss_out_new(slim_sout_kind kind, ss_sess *s);
void ss_out_free(ss_out *o);
void ss_reschedule(slim_sessions *ss, ss_sess *s);
bool ss_is_our_name(const slim_sessions *ss, const slim_name *n, const ss_appname **which);
uint32_t ss_random_id(slim_sessions *ss);
void ss_tomb_add(slim_sessions *ss, const ss_sess *s, uint64_t now);
/* Ends s: pending DONEs, UNDELIVERED for unacknowledged messages, then
 * CLOSED (if the application knows it), routes released. */
void ss_end(slim_sessions *ss, ss_sess *s, slim_status st, ss_reason why, uint32_t arg,
            uint64_t now);

/* ---- names ---- */
slim_status ss_name_set(ss_name *dst, const slim_name *n, const slim_str *text);
slim_status ss_name_from_pb(ss_name *dst, const slim_pb_name *pb);
void ss_name_clear(ss_name *n);
bool ss_name_has_text(const ss_name *n);
/* The wire form: text views in `tmp`. */
slim_wire_name ss_name_wire(const ss_name *n, slim_str tmp[3]);
void ss_name_view(const ss_name *n, slim_sname *out);

/* ---- ss_msg.c ---- */
typedef struct ss_hdr {
    slim_wire_name src;
    slim_wire_name dst;
    uint8_t type;
    uint32_t sid;
    uint32_t mid;
    bool has_forward_to;
    uint64_t forward_to;
    bool error;
    bool group;      /* session type MULTICAST (else POINT_TO_POINT) */
    uint32_t fanout; /* 0: 1 */
} ss_hdr;

/* A Publish with header and session header, no content. */
slim_status ss_msg_new(const ss_hdr *h, slim_msg **out);
/* A Publish with an ApplicationPayload. */
slim_status ss_msg_app(const ss_hdr *h, const char *payload_type, slim_bytes blob, slim_msg **out);
/* A Publish whose content is the CommandPayload for h->type, empty. The
 * inner payload is returned in *inner (borrowed from *out) for filling. */
slim_status ss_msg_cmd(const ss_hdr *h, slim_msg **out, void **inner);
void *ss_pb_new(const ProtobufCMessageDescriptor *d);
/* The wire form of a decoded name (views into pb, *tmp and text). */
slim_wire_name ss_pb_wire(const slim_pb_name *pb, slim_name *tmp, slim_str text[3]);
/* Stamps m and queues it as a SEND of s (handle 0 for none). The message
 * stays the caller's. Failures are counted. */
slim_status ss_send(slim_sessions *ss, uint64_t handle, slim_msg *m);
/* Encodes and queues m without stamping (subscriptions for the router). */
slim_status ss_send_plain(slim_sessions *ss, uint64_t handle, slim_msg *m);
/* ss_send for application data of s (MSG, RTX_REPLY): in an MLS session
 * the blob goes sealed with the keys of `epoch` (UINT64_MAX: the current
 * one) and the header as stamped; m keeps its plaintext. */
slim_status ss_send_data(slim_sessions *ss, ss_sess *s, slim_msg *m, uint64_t epoch);
/* Builds, sends and frees: for replies and one-shot messages. */
slim_status ss_send_new(slim_sessions *ss, uint64_t handle, slim_msg *m);
/* Reading a decoded Publish. */
uint32_t ss_msg_type(const slim_msg *m);
/* Whether the sender announces our version (SS_VERSION) in its header. */
bool ss_msg_ours(const slim_msg *m);
uint32_t ss_msg_sid(const slim_msg *m);
uint32_t ss_msg_mid(const slim_msg *m);
bool ss_msg_source(const slim_msg *m, slim_name *out);
bool ss_msg_dest(const slim_msg *m, slim_name *out);
bool ss_msg_in_conn(const slim_msg *m, uint64_t *conn);
const Dataplane__Proto__V1__ApplicationPayload *ss_msg_app_payload(const slim_msg *m);
const slim_pb_command *ss_msg_command(const slim_msg *m);
bool ss_is_command(uint32_t type);

/* ---- ss_p2p.c ---- */
slim_status ss_p2p_open(slim_sessions *ss, ss_sess *s, uint64_t now);
slim_status ss_p2p_input(slim_sessions *ss, ss_sess *s, slim_msg *m, uint64_t now);
void ss_p2p_expire(slim_sessions *ss, ss_sess *s, uint64_t now);
slim_status ss_p2p_close(slim_sessions *ss, ss_sess *s, uint64_t now);
/* The session's send window emptied while draining: go on closing. */
void ss_p2p_drained(slim_sessions *ss, ss_sess *s, uint64_t now);
void ss_p2p_node_error(slim_sessions *ss, ss_sess *s, const slim_msg *m, uint64_t now);
void ss_p2p_route_ack(slim_sessions *ss, ss_route *r, bool ok, uint64_t now);
slim_status ss_p2p_discovery_reply(slim_sessions *ss, slim_msg *m, const ss_appname *ours);
/* A joiner session, linked, in S_ROUTE: installs the route to the
 * initiator, then answers the JOIN_REQUEST. */
void ss_p2p_joiner_new(slim_sessions *ss, ss_sess *s, uint64_t now);
slim_status ss_p2p_tomb_answer(slim_sessions *ss, const slim_msg *m);
void ss_route_release(slim_sessions *ss, ss_sess *s);
/* A reference on the route (or subscription, `sub`) to `peer` over conn,
 * asking the router for it when nobody holds it yet; NULL: no memory.
 * *ready: it is acknowledged already. */
ss_route *ss_route_ref(slim_sessions *ss, uint64_t handle, const ss_name *local,
                       const ss_name *peer, uint64_t conn, bool sub, bool *ready);
void ss_route_unref(slim_sessions *ss, ss_route *r, uint64_t handle);
/* Control requests (ss_p2p.c): sends m (taken) and keeps it until its
 * answer. wait/nwait: a broadcast's repliers (copied). */
slim_status ss_ctl_add(slim_sessions *ss, ss_sess *s, slim_msg *m, ss_purpose purpose,
                       const slim_name *from, bool any_id, uint64_t now);
/* Control message i of s failed: unanswered after its retries (no_route:
 * a node said it has no route). */
typedef void (*ss_ctl_fail_fn)(slim_sessions *ss, ss_sess *s, uint32_t i, bool no_route,
                               uint64_t now);
/* Sends again the control messages of s that are due, and hands those
 * past their retries to fail (which may change the array). */
void ss_ctl_expire(slim_sessions *ss, ss_sess *s, uint64_t now, ss_ctl_fail_fn fail);
slim_status ss_ctl_add_set(slim_sessions *ss, ss_sess *s, slim_msg *m, ss_purpose purpose,
                           const slim_name *wait, uint32_t nwait, uint64_t now);
long ss_ctl_find(const ss_sess *s, uint8_t purpose, uint32_t id);
void ss_ctl_remove(ss_sess *s, uint32_t i);
bool ss_ctl_from_ok(const ss_ctl *c, const slim_name *src);
/* A command message of s to `to` (via forward_to when not UINT64_MAX). */
slim_status ss_cmd_to(slim_sessions *ss, const ss_sess *s, uint8_t type, slim_wire_name to,
                      uint32_t mid, uint64_t via, slim_msg **out, void **inner);
/* The empty answer (GROUP_ACK, LEAVE_REPLY) to request m, echoing its id. */
void ss_answer(slim_sessions *ss, ss_sess *s, const slim_msg *m, uint8_t type);
void ss_p2p_join_reply(slim_sessions *ss, ss_sess *s);
Dataplane__Proto__V1__Participant *ss_participant_new(const ss_name *who, bool sends,
                                                      bool receives);
void ss_route_free_all(slim_sessions *ss);
void ss_ctl_clear(ss_sess *s);
/* Something went out this heartbeat period, to every member of a group
 * (to_all) or to one: in a group only the former stands for a heartbeat. */
void ss_note_sent(ss_sess *s, bool to_all);
void ss_note_heard(slim_sessions *ss, ss_sess *s, uint64_t now);
uint64_t ss_p2p_deadline(const ss_sess *s);

/* ---- ss_data.c ---- */
slim_status ss_data_publish(slim_sessions *ss, ss_sess *s, const slim_publish *p, uint64_t now,
                            uint32_t *message_id);
slim_status ss_data_input(slim_sessions *ss, ss_sess *s, slim_msg *m, uint64_t now);
void ss_data_expire(slim_sessions *ss, ss_sess *s, uint64_t now);
/* The retransmission period of s's data: its timeout, or longer while
 * acknowledgements take longer to come back. */
uint32_t ss_rto(const ss_sess *s);
/* Sends what waited for the join. */
void ss_data_flush(slim_sessions *ss, ss_sess *s, uint64_t now);
/* Reports every unacknowledged reliable message undelivered. */
void ss_data_end(slim_sessions *ss, ss_sess *s);
void ss_data_free(ss_sess *s);
bool ss_data_unacked(const ss_sess *s);
uint64_t ss_data_deadline(const ss_sess *s);
/* A member left the group: its pending acknowledgements are dropped (what
 * no one else waits for is done) and so is its reorder buffer. */
void ss_data_member_gone(slim_sessions *ss, ss_sess *s, const slim_name *who, uint64_t now);
/* A member is down: nothing more is waited for from it (its reorder
 * buffer stays: it may come back). */
void ss_data_member_down(slim_sessions *ss, ss_sess *s, const slim_name *who, uint64_t now);
void ss_rxq_free(ss_rxq *q);

/* ---- ss_group.c ---- */
/* Opens a MULTICAST session (the app moderates it): derives the channel
 * names. s is not linked yet. */
/* rot_ms: the key update interval (MLS; 0: none) */
slim_status ss_group_open(slim_sessions *ss, ss_sess *s, const slim_sname *channel,
                          uint32_t rot_ms);
/* A JOIN_REQUEST of a group for no session of ours: s (a peer session,
 * not linked yet) takes the channel from it; E_WIRE_MISSING_FIELD. */
slim_status ss_group_joiner(slim_sessions *ss, ss_sess *s, const slim_msg *m);
slim_status ss_group_input(slim_sessions *ss, ss_sess *s, slim_msg *m, uint64_t now);
void ss_group_expire(slim_sessions *ss, ss_sess *s, uint64_t now);
uint64_t ss_group_deadline(const ss_sess *s);
slim_status ss_group_close(slim_sessions *ss, ss_sess *s, uint64_t now);
void ss_group_drained(slim_sessions *ss, ss_sess *s, uint64_t now);
void ss_group_node_error(slim_sessions *ss, ss_sess *s, const slim_msg *m, uint64_t now);
void ss_group_route_ack(slim_sessions *ss, ss_sess *s, ss_route *r, bool ok, uint64_t now);
/* Before the session ends: tasks cancelled, routes released. */
void ss_group_end(slim_sessions *ss, ss_sess *s);
void ss_group_free(ss_sess *s);
slim_status ss_group_invite(slim_sessions *ss, ss_sess *s, const slim_sname *name, bool remove,
                            uint64_t op, uint64_t now);
ss_group *ss_group_new(void);
/* A member's group session from saved state (ss_save.c), its names, MLS
 * and timers set: the roster, then the routes a welcome makes; NEW once
 * they are in place. */
slim_status ss_group_restore(slim_sessions *ss, ss_sess *s, const ss_name *roster, uint32_t n,
                             uint32_t welcome_id, uint64_t conn, uint64_t now);
/* A key update: the moderator queues one; a member asks the moderator. */
slim_status ss_group_rotate(slim_sessions *ss, ss_sess *s, uint64_t op, uint64_t now);
bool ss_group_is_member(const ss_sess *s, const slim_name *n);
/* Whether anything came from one of the n members of `who` since `since`. */
bool ss_group_heard_since(const ss_sess *s, const slim_name *who, uint32_t n, uint64_t since);
/* Something came from src (any message of the session): it is alive. */
void ss_group_heard(slim_sessions *ss, ss_sess *s, const slim_name *src, uint64_t now);
/* The other members' full names (slim_malloc'd array in *out, NULL when
 * none). */
slim_status ss_group_others(const ss_sess *s, slim_name **out, uint32_t *n);
/* The full name of a member (3 components and id), or NULL. */
const ss_name *ss_group_member(const ss_sess *s, const slim_name *n);

/* ---- ss_mls.c ---- */
#define SS_MLS_REPLAY 1024u /* command message ids remembered per session (replays) */
/* s->mls from the MLS ops: E_UNSUPPORTED without them, their errors. */
slim_status ss_mls_new(slim_sessions *ss, ss_sess *s);
void ss_mls_free(ss_mls *m);
/* Joined (or created): application data can be sealed and opened. */
bool ss_mls_ready(const ss_mls *m);
uint64_t ss_mls_epoch(const ss_mls *m); /* UINT64_MAX before ready */
uint32_t ss_mls_commit_id(const ss_mls *m);
/* Ended epochs are kept for the session's retransmission time: when the
 * next one is due to go (UINT64_MAX: none), erasing those due, how many
 * are kept. */
uint64_t ss_mls_deadline(const ss_sess *s);
void ss_mls_expire(ss_sess *s, uint64_t now);
uint32_t ss_mls_past_epochs(const ss_mls *m);
/* The opener: the one-member group, once. */
slim_status ss_mls_create(slim_sessions *ss, ss_sess *s);
/* A joiner: its KeyPackage (the same until the welcome; a view). */
slim_status ss_mls_key_package(ss_sess *s, slim_bytes *out);
/* The opener commits: who (its credential must name who's id) added
 * from its KeyPackage, replacing a leaf of the same app id; or who
 * removed (no leaf: an empty commit, so an update still carries one).
 * *c and *w (initialised by the caller; what they held is freed) get the
 * Commit and Welcome, *commit_id its id. The new epoch is current at
 * once. */
slim_status ss_mls_add(ss_sess *s, slim_bytes key_package, const slim_name *who, slim_buf *c,
                       slim_buf *w, uint32_t *commit_id);
slim_status ss_mls_remove(ss_sess *s, const slim_name *who, slim_buf *c, uint32_t *commit_id);
/* Saving: the current epoch's state (slim_mls_group_save) and the commit
 * id; restoring makes it current, our own ratchets moved past what may
 * have been used after the save (SS_MLS_RESTORE_SKIP). */
slim_status ss_mls_save(const ss_mls *m, slim_buf *out);
slim_status ss_mls_restore(ss_sess *s, slim_bytes saved, uint32_t commit_id);
/* A key update: a commit of no proposal with a fresh path of ours. */
slim_status ss_mls_rotate(ss_sess *s, slim_buf *c, uint32_t *commit_id);
/* A joiner enters from the welcome `from` sent (its leaf must name it).
 * E_SESSION_DUPLICATE when already in. */
slim_status ss_mls_welcome(ss_sess *s, slim_bytes welcome, uint32_t commit_id,
                           const slim_name *from);
/* Added again: the next KeyPackage is a fresh one. */
void ss_mls_rekey(ss_sess *s);
/* A GROUP_WELCOME's MlsPayload (may be NULL) from s's peer: joined, or
 * why not (counted). */
slim_status ss_mls_welcome_in(slim_sessions *ss, ss_sess *s,
                              const Dataplane__Proto__V1__MlsPayload *p);
/* What a GROUP_UPDATE does besides its commit, once that is applied. */
typedef void (*ss_mls_apply_fn)(slim_sessions *ss, ss_sess *s, const slim_msg *m, uint64_t now);
/* A GROUP_UPDATE: its commit applied in commit id order, then fn on it;
 * one that came early is held (a copy; SLIM_OK). E_SESSION_DUPLICATE (its
 * commit was applied or is held), E_SESSION_MLS_BEHIND (too many held),
 * E_WIRE_MISSING_FIELD (no commit), the commit's refusal. */
slim_status ss_mls_update_in(slim_sessions *ss, ss_sess *s, const slim_msg *m, ss_mls_apply_fn fn,
                             uint64_t now);
uint32_t ss_mls_update_commit_id(const slim_msg *m);
/* How many commits are held waiting for an earlier one. */
uint32_t ss_mls_behind(const ss_mls *m);
/* The blob of m (MSG, RTX_REPLY) as a PrivateMessage of `epoch`
 * (UINT64_MAX: the current one) bound to m's header AAD, into *out.
 * E_MLS_WRONG_EPOCH when that epoch's keys are gone. */
slim_status ss_mls_seal(ss_sess *s, const slim_msg *m, uint64_t epoch, slim_buf *out);
/* Opens m's blob in place: decrypted, its authenticated data equal to
 * m's header AAD (E_SESSION_MLS_AAD), its MLS sender the member whose
 * name is m's source (E_SESSION_MLS_SENDER); *epoch (may be NULL) gets
 * its epoch. Refusals are counted. */
slim_status ss_mls_open(slim_sessions *ss, ss_sess *s, slim_msg *m, uint64_t *epoch);
/* The replay cache of command messages: taken before? / remember. */
bool ss_mls_replayed(ss_mls *m, const slim_name *src, uint32_t id);
void ss_mls_seen(ss_mls *m, const slim_name *src, uint32_t id);
/* An MlsPayload (commit_id, a copy of content) for a command. E_NOMEM. */
slim_status ss_mls_payload(uint32_t commit_id, slim_bytes content,
                           Dataplane__Proto__V1__MlsPayload **out);
/* The JOIN_REQUEST's mls_settings (every message checked). */
slim_status ss_mls_join_settings(Dataplane__Proto__V1__JoinRequestPayload *jr);
/* The JOIN_REPLY's key_package (s's KeyPackage). */
slim_status ss_mls_reply_key_package(ss_sess *s, Dataplane__Proto__V1__JoinReplyPayload *jr);
/* A JOIN_REPLY's KeyPackage (empty: none); a view into it. */
slim_bytes ss_mls_reply_key_package_of(const slim_msg *reply);

/* Makes room for `need` entries of `size` bytes in a ring of *cap entries
 * whose `count` live ones start at *head (they move to the front); the
 * capacity doubles, up to `max`. E_NOMEM. */
slim_status ss_ring_room(void **ring, size_t size, uint32_t *cap, uint32_t *head, uint32_t count,
                         uint32_t need, uint32_t max);

/* ---- timer queues ---- */
slim_status ss_tq_reserve(ss_tq *q, uint32_t n);
/* Inserts in time order (after the entries due at the same time); when
 * the queue is full, first drops its stale entries (live() says which
 * are not). Callers size the queue at twice the entries that can
 * be live at once, so there is always room after that. */
void ss_tq_push(ss_tq *q, uint64_t when, uint32_t id,
                bool (*live)(const void *ctx, const ss_tq_ent *e), const void *ctx);
bool ss_tq_peek(const ss_tq *q, ss_tq_ent *out);
void ss_tq_pop(ss_tq *q);
void ss_tq_free(ss_tq *q);

/* Sequence arithmetic on data ids (31 bits). */
static inline uint32_t ss_seq_add(uint32_t a, uint32_t n) {
    return (a + n) & SS_SEQ_MASK;
}
static inline uint32_t ss_seq_diff(uint32_t a, uint32_t b) {
    return (a - b) & SS_SEQ_MASK;
}

static inline uint32_t ss_ctl_timeout(const ss_sess *s) {
    return s->ctl_timeout_ms;
}

#endif
