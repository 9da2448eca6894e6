/*
 * The forwarder's insides, shared by its two files: forwarder.c (links,
 * header MACs, publish and subscription handling, sending: what every
 * process that routes needs) and mesh.c (what only a node among nodes
 * needs: subscriptions propagated between nodes, the set of propagated ids
 * already seen, and the duplicate filter).
 *
 * Not an API: nothing outside src/router includes this.
 */
#ifndef SLIM_ROUTER_FWD_INT_H
#define SLIM_ROUTER_FWD_INT_H

#include "core/hmap.h"
#include "router/forwarder.h"
#include "router/hdrmac.h"
#include "wire/fastpath.h"

#define MOD "router"

typedef enum { PENDING, READY } conn_state;

typedef struct fwd_conn {
    slim_hnode node;
    uint64_t id;
    slim_fwd_link how;
    conn_state state;
    slim_conn_kind kind;
    char link_id[SLIM_LINK_ID_MAX + 1];
    /* Header MAC (docs/protocol.md): the link type (announced when we
     * dialled, asked for when we accepted), the policy, our ephemeral key
     * until the peer's reply, and the link key once both sides agreed. */
    slim_link_type type;
    bool strict;
    bool has_sk, has_key;
    uint8_t sk[SLIM_HDRMAC_KEY_SIZE];
    slim_hdrmac_key key;
} fwd_conn;

/* A propagated (un)subscription id this node has processed. */
typedef struct seen_entry {
    slim_hnode node;
    uint64_t id;
    bool unsub;
    bool self; /* this node originated it */
    uint32_t slot;
} seen_entry;

/* A publish the duplicate filter remembers. */
typedef struct dup_entry {
    slim_hnode node;
    slim_name source, destination;
    uint32_t session_id, message_type, message_id;
    uint64_t at_ms;
    uint32_t slot;
} dup_entry;

/* A bounded FIFO of hash-map entries: the oldest goes when it is full. */
typedef struct ring {
    slim_hnode **slots;
    uint32_t cap, head;
} ring;

/* Last error reply sent to (conn, destination). */
typedef struct rate_entry {
    slim_hnode node;
    uint64_t conn;
    slim_name name;
    uint64_t last_ms;
} rate_entry;

/* A name application connections subscribe to, with how many of them
 * hold it (kept only when ops.app_names is set). */
typedef struct app_name {
    slim_hnode node;
    slim_name name;
    uint32_t holders;
    char *text;    /* the three components, each NUL-terminated; NULL: none */
    size_t len[3]; /* their lengths */
} app_name;

struct slim_fwd {
    slim_fwd_ops ops;
    void *ud;
    char *node_id;
    char *version;
    slim_link_type announce;
    size_t max_message;
    uint32_t error_interval_ms;
    slim_router *router;
    slim_hmap conns;
    slim_hmap rates;
    slim_buf scratch;
    slim_fwd_counters c;
    bool propagate, dedupe;
    uint32_t dedupe_window_ms;
    slim_name self_name; /* source of the subscriptions this node sends */
    slim_hmap seen, dups;
    ring seen_ring, dup_ring;
    bool require_mac;
    slim_buf macbuf;     /* the fields a header MAC covers, per message */
    bool macbuf_in;      /* ... as received, for the message being handled */
    slim_hmap app_names; /* app_name entries, while ops.app_names is set */
};

/* ---- shared by the two files ---- */

/* Hands a message this node made to conn (tagged when the link takes
 * tags); does not consume the caller's reference. */
slim_status slim_fwd__send_buf(slim_fwd *f, uint64_t conn, slim_rcbuf *buf);

/* mesh.c: bounded remembered sets (a ring over a hash map). */
slim_status slim_fwd__ring_init(ring *r, uint32_t cap);
void slim_fwd__ring_cleanup(ring *r, slim_hmap *m);

/* mesh.c: true when a broadcast was seen within the window (and remembers
 * it). */
bool slim_fwd__duplicate(slim_fwd *f, const slim_peek *p, uint64_t now);

/* mesh.c: a new node link gets every subscription held elsewhere. */
void slim_fwd__replay(slim_fwd *f, uint64_t to);

/* mesh.c: a connection is gone: its routes go, and the reasons no other
 * connection holds are withdrawn from the other nodes. */
void slim_fwd__withdraw_conn(slim_fwd *f, uint64_t conn);

/* mesh.c: a (un)subscription from an application (target: the connection
 * the route is for) or from another node, installed and propagated. */
slim_status slim_fwd__from_app(slim_fwd *f, uint64_t target, const slim_name *name,
                               const slim_str *text, uint64_t id, bool unsub);
slim_status slim_fwd__from_node(slim_fwd *f, fwd_conn *fc, const slim_name *name,
                                const slim_str *text, uint64_t id, bool unsub, uint32_t ttl);

#endif
