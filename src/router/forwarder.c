/*
 * See forwarder.h. Publishes take the fast path: slim_wire_peek() reads and
 * validates, slim_wire_egress() writes the outgoing bytes once per
 * kind of output (gRPC links never carry incoming_conn; local applications
 * get it as their reply handle), and every output connection gets a
 * reference to the same buffer (links that take header MACs get their own
 * tagged copy). Subscriptions, links and acks are rare and are decoded in
 * full. What only a node among nodes does (propagation between nodes, the
 * seen set, the duplicate filter) is in mesh.c.
 */
#include "router/fwd_int.h"
#include "core/alloc.h"
#include "core/khash.h"
#include "core/log.h"
#include "core/util.h"

#include <stdio.h>
#include <string.h>

#define RATE_ENTRIES_MAX 4096
#define SEEN_MAX         65536 /* default: propagated subscription ids remembered */
#define DEDUPE_MAX       65536 /* default: publishes remembered by the duplicate filter */

/* Tags are used on REMOTE and EDGE links that agreed on a key; PEER links
 * (nodes of one mesh) and applications in this process go without, as in
 * upstream. */
static bool mac_type(const fwd_conn *c) {
    return c->how != SLIM_FWD_LOCAL &&
           (c->type == SLIM_LINK_TYPE_REMOTE || c->type == SLIM_LINK_TYPE_UNSET ||
            c->type == SLIM_LINK_TYPE_EDGE);
}

static bool mac_out(const fwd_conn *c) {
    return c->has_key && mac_type(c);
}

static int conn_eq(const slim_hnode *n, const void *key) {
    return SLIM_CONTAINER_OF(n, fwd_conn, node)->id == *(const uint64_t *)key;
}

static fwd_conn *find_conn(const slim_fwd *f, uint64_t id) {
    slim_hnode *n = slim_hmap_find(&f->conns, slim_mix64(id), conn_eq, &id);
    return n ? SLIM_CONTAINER_OF(n, fwd_conn, node) : NULL;
}

typedef struct rate_key {
    uint64_t conn;
    const slim_name *name;
} rate_key;

static int rate_eq(const slim_hnode *n, const void *key) {
    const rate_entry *e = SLIM_CONTAINER_OF(n, rate_entry, node);
    const rate_key *k = key;
    return e->conn == k->conn && slim_name_equal(&e->name, k->name);
}

static void rates_clear(slim_fwd *f, uint64_t only_conn, bool all) {
    slim_hmap_iter it;
    for (slim_hnode *n = slim_hmap_first(&f->rates, &it); n; n = slim_hmap_next(&f->rates, &it)) {
        rate_entry *e = SLIM_CONTAINER_OF(n, rate_entry, node);
        if (all || e->conn == only_conn) {
            slim_hmap_remove(&f->rates, n);
            slim_free(e);
        }
    }
}

/* ---- lifecycle ---- */

static char *dup_or_empty(const char *s) {
    s = s ? s : "";
    return slim_strndup(s, strlen(s));
}

slim_status slim_fwd_new(const slim_fwd_config *cfg, const slim_fwd_ops *ops, void *ud,
                         slim_fwd **out) {
    if (cfg == NULL || ops == NULL || ops->send == NULL || ops->close == NULL || out == NULL)
        return SLIM_E_INVALID_ARG;
    slim_fwd *f = slim_calloc(1, sizeof *f);
    if (f == NULL)
        return SLIM_E_NOMEM;
    f->ops = *ops;
    f->ud = ud;
    f->announce = cfg->announce;
    f->max_message = cfg->max_message_size ? cfg->max_message_size : SLIM_FWD_DEFAULT_MAX_MESSAGE;
    f->error_interval_ms = cfg->error_interval_ms ? cfg->error_interval_ms : 1000;
    slim_router_config rc = {.max_subscriptions_per_conn = cfg->max_subscriptions_per_conn};
    f->node_id = dup_or_empty(cfg->node_id);
    f->version = dup_or_empty(cfg->version);
    f->propagate = cfg->propagate;
    f->require_mac = cfg->require_header_mac;
    f->dedupe = cfg->dedupe;
    f->dedupe_window_ms = cfg->dedupe_window_ms ? cfg->dedupe_window_ms : SLIM_FWD_DEDUPE_WINDOW_MS;
    if (cfg->propagate && ops->random64 == NULL) {
        slim_fwd_free(f);
        return SLIM_E_INVALID_ARG;
    }
    if (f->node_id == NULL || f->version == NULL || slim_router_new(&rc, &f->router) != SLIM_OK ||
        slim_hmap_init(&f->conns, 16) != SLIM_OK || slim_hmap_init(&f->rates, 64) != SLIM_OK ||
        slim_hmap_init(&f->seen, 64) != SLIM_OK || slim_hmap_init(&f->dups, 64) != SLIM_OK ||
        slim_hmap_init(&f->app_names, 16) != SLIM_OK ||
        slim_fwd__ring_init(&f->seen_ring, cfg->seen_max ? cfg->seen_max : SEEN_MAX) != SLIM_OK ||
        slim_fwd__ring_init(&f->dup_ring, cfg->dedupe_max ? cfg->dedupe_max : DEDUPE_MAX) !=
            SLIM_OK) {
        slim_fwd_free(f);
        return SLIM_E_NOMEM;
    }
    /* Subscriptions this node originates come from slim/node/<node id>. */
    const char *nid = f->node_id[0] ? f->node_id : "node";
    slim_str self[3] = {{"slim", 4}, {"node", 4}, {nid, strlen(nid)}};
    if (strlen(nid) > SLIM_NAME_COMPONENT_MAX ||
        slim_name_from_strings(self, slim_id_any(), &f->self_name) != SLIM_OK)
        slim_name_from_strings((slim_str[3]){{"slim", 4}, {"node", 4}, {"node", 4}}, slim_id_any(),
                               &f->self_name);
    *out = f;
    return SLIM_OK;
}

void slim_fwd_free(slim_fwd *f) {
    if (f == NULL)
        return;
    if (f->conns.buckets != NULL) {
        slim_hmap_iter it;
        for (slim_hnode *n = slim_hmap_first(&f->conns, &it); n;
             n = slim_hmap_next(&f->conns, &it)) {
            slim_hmap_remove(&f->conns, n);
            slim_free(SLIM_CONTAINER_OF(n, fwd_conn, node));
        }
    }
    if (f->rates.buckets != NULL)
        rates_clear(f, 0, true);
    if (f->app_names.buckets != NULL) {
        slim_hmap_iter it;
        for (slim_hnode *n = slim_hmap_first(&f->app_names, &it); n;
             n = slim_hmap_next(&f->app_names, &it)) {
            app_name *e = SLIM_CONTAINER_OF(n, app_name, node);
            slim_hmap_remove(&f->app_names, n);
            slim_free(e->text);
            slim_free(e);
        }
    }
    slim_hmap_cleanup(&f->app_names);
    slim_fwd__ring_cleanup(&f->seen_ring, &f->seen);
    slim_fwd__ring_cleanup(&f->dup_ring, &f->dups);
    slim_hmap_cleanup(&f->conns);
    slim_hmap_cleanup(&f->rates);
    slim_hmap_cleanup(&f->seen);
    slim_hmap_cleanup(&f->dups);
    slim_router_free(f->router);
    slim_buf_cleanup(&f->scratch);
    slim_buf_cleanup(&f->macbuf);
    slim_free(f->node_id);
    slim_free(f->version);
    slim_free(f);
}

/* ---- sending ---- */

/* Hands buf to conn as it is; counts the outcome. Does not consume the
 * caller's ref. */
static slim_status send_raw(slim_fwd *f, uint64_t conn, slim_rcbuf *buf) {
    slim_status st = f->ops.send(f->ud, conn, buf);
    if (st == SLIM_OK) {
        unsigned kind = buf->len > 0 && buf->data[0] < 0x80 ? buf->data[0] >> 3 : 0;
        if (kind > SLIM_MSG_SUBSCRIPTION_ACK || kind == 4) /* 4: the metadata field */
            kind = 0;
        f->c.messages_out++;
        f->c.out_by_kind[kind]++;
    } else if (st == SLIM_E_QUEUE_FULL) {
        f->c.drop_queue_full++;
        SLIM_LOGD(MOD, "connection %llu: message dropped: its send queue is full",
                  (unsigned long long)conn);
    } else {
        f->c.drop_other++;
    }
    return st;
}

/* The fields a header MAC covers, for the egress form with `ttl` (into
 * f->macbuf), computed once per message however many links need a tag.
 * `arrived`: p is the message being handled, whose fields as received
 * may already be in f->macbuf. */
static slim_status mac_fields(slim_fwd *f, const slim_peek *p, uint32_t ttl, bool arrived,
                              bool *done) {
    if (*done)
        return SLIM_OK;
    if (arrived && f->macbuf_in && !p->has_recv_from && !p->has_forward_to && f->macbuf.len >= 4) {
        /* The fields checked on arrival, but for the ttl at their end. */
        uint8_t *t = f->macbuf.data + f->macbuf.len - 4;
        t[0] = (uint8_t)ttl;
        t[1] = (uint8_t)(ttl >> 8);
        t[2] = (uint8_t)(ttl >> 16);
        t[3] = (uint8_t)(ttl >> 24);
        f->macbuf_in = false;
        *done = true;
        return SLIM_OK;
    }
    f->macbuf_in = false;
    f->macbuf.len = 0;
    slim_status st = slim_wire_mac_fields(p, &ttl, true, &f->macbuf);
    *done = st == SLIM_OK;
    return st;
}

/* A copy of peeked `msg` in its egress form for one link that takes tags:
 * ttl set, node-local fields gone, this link's tag over the fields in
 * f->macbuf. NULL when out of memory. */
static slim_rcbuf *tagged_copy(const fwd_conn *out, slim_fwd *f, slim_bytes msg, const slim_peek *p,
                               uint32_t ttl) {
    uint8_t tag[SLIM_HDRMAC_TAG_SIZE];
    slim_hdrmac_tag(&out->key, slim_buf_view(&f->macbuf), tag);
    slim_rcbuf *b = slim_rcbuf_new(slim_wire_egress_size(msg, p, ttl, NULL, true));
    if (b != NULL)
        slim_wire_egress_write(msg, p, ttl, NULL, tag, b->data);
    return b;
}

/* Hands a message this node made to conn: as it is, or with the link's
 * header MAC when the link takes tags. Does not consume the caller's ref. */
slim_status slim_fwd__send_buf(slim_fwd *f, uint64_t conn, slim_rcbuf *buf) {
    const fwd_conn *out = find_conn(f, conn);
    slim_peek p;
    bool done = false;
    if (out == NULL || !mac_out(out) ||
        slim_wire_peek(slim_rcbuf_view(buf), SIZE_MAX, &p, NULL) != SLIM_OK || !p.has_header)
        return send_raw(f, conn, buf);
    slim_bytes msg = slim_rcbuf_view(buf);
    slim_rcbuf *t = NULL;
    if (mac_fields(f, &p, p.ttl, false, &done) == SLIM_OK)
        t = tagged_copy(out, f, msg, &p, p.ttl);
    if (t == NULL) {
        f->c.drop_other++;
        return SLIM_E_NOMEM;
    }
    slim_status st = send_raw(f, conn, t);
    slim_rcbuf_unref(t);
    return st;
}

static slim_status send_msg(slim_fwd *f, uint64_t conn, const slim_msg *m) {
    f->scratch.len = 0;
    slim_status st = slim_wire_encode(m, SIZE_MAX, &f->scratch);
    if (st != SLIM_OK)
        return st;
    slim_rcbuf *b = slim_rcbuf_copy(f->scratch.data, f->scratch.len);
    if (b == NULL)
        return SLIM_E_NOMEM;
    st = slim_fwd__send_buf(f, conn, b);
    slim_rcbuf_unref(b);
    return st;
}

static void send_ack(slim_fwd *f, uint64_t conn, uint64_t id, slim_status result) {
    slim_msg *ack = NULL;
    const char *err = result == SLIM_OK ? NULL : slim_status_str(result);
    if (slim_wire_subscription_ack_new(id, result == SLIM_OK, err, &ack) == SLIM_OK &&
        send_msg(f, conn, ack) == SLIM_OK)
        f->c.acks_sent++;
    slim_wire_free(ack);
}

/* ---- names held by applications ---- */

static int app_name_eq(const slim_hnode *n, const void *key) {
    return slim_name_equal(&SLIM_CONTAINER_OF(n, app_name, node)->name, key);
}

static app_name *app_name_find(const slim_fwd *f, const slim_name *name) {
    slim_hnode *n = slim_hmap_find(&f->app_names, slim_name_hash(name), app_name_eq, name);
    return n ? SLIM_CONTAINER_OF(n, app_name, node) : NULL;
}

/* True when the set is kept and conn is an application's connection. */
static bool app_tracked(const slim_fwd *f, uint64_t conn) {
    slim_conn_kind k;
    return f->ops.app_names != NULL && slim_router_conn_kind(f->router, conn, &k) == SLIM_OK &&
           k != SLIM_CONN_NODE;
}

/* The text views of an entry (NULL when it has none) into out. */
static const slim_str *app_name_text(const app_name *e, slim_str out[3]) {
    if (e->text == NULL)
        return NULL;
    const char *p = e->text;
    for (int i = 0; i < 3; i++) {
        out[i] = (slim_str){p, e->len[i]};
        p += e->len[i] + 1;
    }
    return out;
}

/* One more application connection holds name. An allocation failure only
 * means the owner does not hear about it. */
static void app_name_hold(slim_fwd *f, const slim_name *name, const slim_str *text) {
    app_name *e = app_name_find(f, name);
    if (e != NULL) {
        e->holders++;
        return;
    }
    e = slim_calloc(1, sizeof *e);
    if (e == NULL) {
        SLIM_LOGW(MOD, "out of memory tracking an application's subscription");
        return;
    }
    e->name = *name;
    e->holders = 1;
    if (text != NULL) {
        size_t total = text[0].len + text[1].len + text[2].len + 3;
        char *p = e->text = slim_malloc(total);
        for (int i = 0; p != NULL && i < 3; i++) {
            memcpy(p, text[i].ptr, text[i].len);
            p[text[i].len] = '\0';
            e->len[i] = text[i].len;
            p += text[i].len + 1;
        }
    }
    slim_hmap_insert(&f->app_names, &e->node, slim_name_hash(name));
    slim_str views[3];
    f->ops.app_names(f->ud, name, app_name_text(e, views), true);
}

/* One application connection fewer holds name. */
static void app_name_release(slim_fwd *f, const slim_name *name) {
    app_name *e = app_name_find(f, name);
    if (e == NULL || --e->holders > 0)
        return;
    slim_hmap_remove(&f->app_names, &e->node);
    slim_str views[3];
    f->ops.app_names(f->ud, name, app_name_text(e, views), false);
    slim_free(e->text);
    slim_free(e);
}

/* Around a change of conn's subscription to name: *was says whether conn
 * held it before (only meaningful when tracked). */
static bool app_before(const slim_fwd *f, uint64_t conn, const slim_name *name, bool *was) {
    bool tracked = app_tracked(f, conn);
    *was = tracked && slim_router_is_subscribed(f->router, conn, name);
    return tracked;
}

static void app_after(slim_fwd *f, uint64_t conn, const slim_name *name, const slim_str *text,
                      bool was) {
    bool now = slim_router_is_subscribed(f->router, conn, name);
    if (now && !was)
        app_name_hold(f, name, text);
    else if (was && !now)
        app_name_release(f, name);
}

static void release_one(const slim_name *name, const uint64_t *reasons, size_t n, void *ud) {
    (void)reasons;
    (void)n;
    app_name_release(ud, name);
}

void slim_fwd_app_names_foreach(const slim_fwd *f,
                                void (*fn)(const slim_name *name, const slim_str *text, void *ud),
                                void *ud) {
    slim_hmap_iter it;
    for (slim_hnode *n = slim_hmap_first(&f->app_names, &it); n;
         n = slim_hmap_next(&f->app_names, &it)) {
        const app_name *e = SLIM_CONTAINER_OF(n, app_name, node);
        slim_str views[3];
        fn(&e->name, app_name_text(e, views), ud);
    }
}

/* ---- connections and link negotiation ---- */

static void forget(slim_fwd *f, fwd_conn *fc) {
    /* The names its application held (the router still has them). */
    if (app_tracked(f, fc->id))
        slim_router_conn_foreach(f->router, fc->id, release_one, f);
    if (f->propagate)
        slim_fwd__withdraw_conn(f, fc->id);
    else
        (void)slim_router_conn_remove(f->router, fc->id, NULL);
    rates_clear(f, fc->id, false);
    slim_hmap_remove(&f->conns, &fc->node);
    slim_memzero(fc->sk, sizeof fc->sk);
    slim_hdrmac_key_clear(&fc->key);
    slim_free(fc);
}

static slim_status refuse(slim_fwd *f, fwd_conn *fc, const char *fmt, const char *arg) {
    char detail[256];
    snprintf(detail, sizeof detail, fmt, arg);
    uint64_t id = fc->id;
    f->c.links_refused++;
    SLIM_LOGW_LIMITED(MOD, "connection %llu: link refused: %s", (unsigned long long)id, detail);
    forget(f, fc);
    f->ops.close(f->ud, id, SLIM_E_INVALID_ARG, detail);
    return SLIM_E_ROUTER_LINK_REFUSED;
}

static slim_status send_link(slim_fwd *f, uint64_t conn, const char *link_id, bool reply,
                             slim_link_type type, const uint8_t *pk) {
    slim_wire_link_spec spec = {.link_id = link_id,
                                .slim_version = f->version,
                                .is_reply = reply,
                                .connection_type = type,
                                .node_id = f->node_id,
                                .public_key = slim_bytes_of(pk, pk ? SLIM_HDRMAC_KEY_SIZE : 0)};
    slim_msg *m = NULL;
    slim_status st = slim_wire_link_negotiation_new(&spec, &m);
    if (st == SLIM_OK)
        st = send_msg(f, conn, m);
    slim_wire_free(m);
    return st;
}

static void mark_ready(slim_fwd *f, fwd_conn *fc, slim_conn_kind kind, const char *peer) {
    fc->state = READY;
    fc->kind = kind;
    if (f->ops.linked != NULL)
        f->ops.linked(f->ud, fc->id, kind, peer);
    if (f->propagate && kind == SLIM_CONN_NODE)
        slim_fwd__replay(f, fc->id);
}

slim_status slim_fwd_conn_open(slim_fwd *f, uint64_t conn, slim_fwd_link how, const char *link_id) {
    slim_fwd_link_opts o = {.announce = f->announce, .require_header_mac = f->require_mac};
    return slim_fwd_conn_open_opts(f, conn, how, link_id, &o);
}

slim_status slim_fwd_conn_open_opts(slim_fwd *f, uint64_t conn, slim_fwd_link how,
                                    const char *link_id, const slim_fwd_link_opts *opts) {
    if (find_conn(f, conn) != NULL)
        return SLIM_E_EXISTS;
    if (how == SLIM_FWD_DIALLED && (link_id == NULL || strlen(link_id) > SLIM_LINK_ID_MAX))
        return SLIM_E_INVALID_ARG;
    fwd_conn *fc = slim_calloc(1, sizeof *fc);
    if (fc == NULL)
        return SLIM_E_NOMEM;
    fc->id = conn;
    fc->how = how;
    fc->state = PENDING;
    fc->type = opts->announce;
    fc->strict = opts->require_header_mac;
    slim_hmap_insert(&f->conns, &fc->node, slim_mix64(conn));
    slim_status st = SLIM_OK;
    if (how == SLIM_FWD_LOCAL) {
        st = slim_router_conn_add(f->router, conn, SLIM_CONN_LOCAL);
        if (st == SLIM_OK)
            mark_ready(f, fc, SLIM_CONN_LOCAL, NULL);
    } else if (how == SLIM_FWD_DIALLED) {
        snprintf(fc->link_id, sizeof fc->link_id, "%s", link_id);
        /* The peer is a node: its kind is known now, so subscriptions sent
         * right after our Link can already be routed back over it. */
        st = slim_router_conn_add(f->router, conn, SLIM_CONN_NODE);
        /* A fresh ephemeral key in every request, as upstream's clients
         * send: the peer may use it whatever our policy. */
        uint8_t pk[SLIM_HDRMAC_KEY_SIZE];
        if (st == SLIM_OK && (st = slim_hdrmac_keypair(fc->sk, pk)) == SLIM_OK)
            fc->has_sk = true;
        if (st == SLIM_OK)
            st = send_link(f, conn, link_id, false, fc->type, pk);
    }
    if (st != SLIM_OK)
        forget(f, fc);
    return st;
}

void slim_fwd_conn_close(slim_fwd *f, uint64_t conn) {
    fwd_conn *fc = find_conn(f, conn);
    if (fc != NULL)
        forget(f, fc);
}

bool slim_fwd_conn_ready(const slim_fwd *f, uint64_t conn) {
    const fwd_conn *fc = find_conn(f, conn);
    return fc != NULL && fc->state == READY;
}

/* The type an accepted link gets: what the peer asked for (PEER, EDGE or
 * REMOTE; anything else reads as REMOTE). */
static slim_link_type echo_type(slim_link_type asked) {
    return asked == SLIM_LINK_TYPE_UNSET ? SLIM_LINK_TYPE_REMOTE : asked;
}

static slim_status negotiate(slim_fwd *f, fwd_conn *fc, slim_bytes msg, const slim_peek *p) {
    if (p->kind != SLIM_MSG_LINK)
        return refuse(f, fc, "the first message of a stream must be a Link, not %s",
                      p->kind == SLIM_MSG_PUBLISH     ? "a Publish"
                      : p->kind == SLIM_MSG_SUBSCRIBE ? "a Subscribe"
                                                      : "another message");
    slim_msg *m = NULL;
    slim_status st = slim_wire_decode(msg, f->max_message, &m);
    if (st != SLIM_OK)
        return refuse(f, fc, "undecodable Link: %s", slim_status_str(st));
    const slim_pb_link_negotiation *ln = slim_wire_link_negotiation(m);
    if (ln == NULL) {
        slim_wire_free(m);
        return refuse(f, fc, "%s", "Link without a negotiation payload");
    }
    if (fc->how == SLIM_FWD_ACCEPTED) {
        if (ln->is_reply || ln->link_id[0] == '\0' || strlen(ln->link_id) > SLIM_LINK_ID_MAX) {
            slim_wire_free(m);
            return refuse(f, fc, "%s", "expected a link negotiation request with a link_id");
        }
        slim_conn_kind kind =
            slim_wire_link_type(ln) == SLIM_LINK_TYPE_EDGE ? SLIM_CONN_EDGE : SLIM_CONN_NODE;
        snprintf(fc->link_id, sizeof fc->link_id, "%s", ln->link_id);
        fc->type = echo_type(slim_wire_link_type(ln));
        /* A key offered: ours back and the link key; none offered: none,
         * unless the policy needs one. */
        uint8_t pk[SLIM_HDRMAC_KEY_SIZE];
        slim_bytes peer = {ln->link_ecdh_public_key.data, ln->link_ecdh_public_key.len};
        if (peer.len == SLIM_HDRMAC_KEY_SIZE && slim_hdrmac_keypair(fc->sk, pk) == SLIM_OK)
            fc->has_key = slim_hdrmac_derive(fc->sk, peer, fc->link_id, &fc->key) == SLIM_OK;
        slim_memzero(fc->sk, sizeof fc->sk);
        if (fc->strict && !fc->has_key) {
            slim_wire_free(m);
            return refuse(f, fc, "%s",
                          peer.len == 0 ? "require_header_mac is on and the peer offered no "
                                          "header MAC key (link_ecdh_public_key)"
                                        : "require_header_mac is on and the peer's header MAC "
                                          "key is unusable");
        }
        st = slim_router_conn_add(f->router, fc->id, kind);
        /* The reply echoes the type the peer asked for, as upstream's
         * nodes do: a peer dialling as PEER expects PEER back. */
        if (st == SLIM_OK)
            st = send_link(f, fc->id, fc->link_id, true, fc->type, fc->has_key ? pk : NULL);
        if (st != SLIM_OK) {
            slim_wire_free(m);
            return refuse(f, fc, "cannot answer the link: %s", slim_status_str(st));
        }
        if (slim_log_enabled(SLIM_LOG_DEBUG)) {
            char lid[SLIM_LINK_ID_MAX * 4 + 4], nid[160];
            SLIM_LOGD(MOD, "connection %llu: linked as %s, link %s, peer node \"%s\"",
                      (unsigned long long)fc->id, slim_conn_kind_name(kind),
                      slim_log_escape(fc->link_id, strlen(fc->link_id), lid, sizeof lid),
                      slim_log_escape(ln->node_id, strlen(ln->node_id), nid, sizeof nid));
        }
        mark_ready(f, fc, kind, ln->node_id);
    } else {
        if (!ln->is_reply || strcmp(ln->link_id, fc->link_id) != 0) {
            slim_wire_free(m);
            return refuse(f, fc, "%s", "expected the reply to our link negotiation");
        }
        slim_bytes peer = {ln->link_ecdh_public_key.data, ln->link_ecdh_public_key.len};
        if (fc->has_sk && peer.len == SLIM_HDRMAC_KEY_SIZE)
            fc->has_key = slim_hdrmac_derive(fc->sk, peer, fc->link_id, &fc->key) == SLIM_OK;
        slim_memzero(fc->sk, sizeof fc->sk);
        fc->has_sk = false;
        if (fc->strict && !fc->has_key) {
            slim_wire_free(m);
            return refuse(f, fc, "%s",
                          "require_header_mac is on and the peer's reply carried no usable "
                          "header MAC key (the peer does not speak header MACs)");
        }
        mark_ready(f, fc, SLIM_CONN_NODE, ln->node_id);
    }
    slim_wire_free(m);
    return SLIM_OK;
}

/* ---- publish ---- */

static void format_name(const slim_peek *p, char *buf, size_t cap) {
    if (p->dst_text[0].len && p->dst_text[1].len && p->dst_text[2].len &&
        slim_name_format(p->dst_text, p->destination.id, buf, cap, NULL) == SLIM_OK)
        return;
    if (slim_name_format_hashes(&p->destination, buf, cap) != SLIM_OK)
        snprintf(buf, cap, "(name too long to show)");
}

/* True when an error reply to (conn, name) may go out now. */
static bool rate_allows(slim_fwd *f, uint64_t conn, const slim_name *name, uint64_t now) {
    rate_key k = {conn, name};
    const uint64_t w[6] = {conn,        name->component[0], name->component[1], name->component[2],
                           name->id.hi, name->id.lo};
    uint64_t h = slim_khash_words(w, 6);
    slim_hnode *n = slim_hmap_find(&f->rates, h, rate_eq, &k);
    if (n != NULL) {
        rate_entry *e = SLIM_CONTAINER_OF(n, rate_entry, node);
        if (now - e->last_ms < f->error_interval_ms && now >= e->last_ms)
            return false;
        e->last_ms = now;
        return true;
    }
    if (f->rates.count >= RATE_ENTRIES_MAX)
        rates_clear(f, 0, true); /* bounded: forget old entries wholesale */
    rate_entry *e = slim_calloc(1, sizeof *e);
    if (e == NULL)
        return false;
    e->conn = conn;
    e->name = *name;
    e->last_ms = now;
    slim_hmap_insert(&f->rates, &e->node, h);
    return true;
}

static void error_reply(slim_fwd *f, fwd_conn *fc, const slim_peek *p, uint64_t now) {
    if (!rate_allows(f, fc->id, &p->destination, now)) {
        f->c.errors_suppressed++;
        return;
    }
    bool text = p->dst_text[0].len && p->dst_text[1].len && p->dst_text[2].len;
    slim_wire_header_spec h = {
        .source = {&p->destination, text ? p->dst_text : NULL},
        .destination = {&p->source, NULL},
        .fanout = 1,
        .ttl = SLIM_WIRE_DEFAULT_TTL,
        .has_error = true,
        .error = true,
    };
    slim_wire_session_spec s = {
        .session_type = (Dataplane__Proto__V1__SessionType)p->session_type,
        .message_type = (Dataplane__Proto__V1__SessionMessageType)p->message_type,
        .session_id = p->session_id,
        .message_id = p->message_id,
    };
    char name[3 * SLIM_NAME_COMPONENT_MAX + 64];
    char blob[sizeof name + 32];
    format_name(p, name, sizeof name);
    int n = snprintf(blob, sizeof blob, "no route to %s", name);
    slim_msg *m = NULL;
    if (slim_wire_publish_new(&h, &s, &m) == SLIM_OK &&
        slim_wire_set_app_payload(m, "slim.error", slim_bytes_of(blob, (size_t)n)) == SLIM_OK &&
        send_msg(f, fc->id, m) == SLIM_OK)
        f->c.errors_sent++;
    slim_wire_free(m);
}

/* `ready`, when not NULL, holds msg already in its egress form for gRPC
 * links (no node-local fields, no tag, the ttl it will leave with): it goes
 * to those links as it is, shared, instead of a rewritten copy. */
static slim_status publish(slim_fwd *f, fwd_conn *fc, slim_bytes msg, const slim_peek *p,
                           uint64_t now, slim_rcbuf *ready) {
    f->c.publish_in++;
    uint32_t ttl = p->ttl;
    if (fc->how != SLIM_FWD_LOCAL) {
        if (ttl <= 1) {
            f->c.drop_ttl++;
            return SLIM_E_ROUTER_TTL_EXPIRED;
        }
        ttl--;
    } else if (ttl == 0) {
        ttl = SLIM_WIRE_DEFAULT_TTL;
    }
    for (int i = 0; i < 3; i++) {
        if (p->dst_text[i].len > SLIM_NAME_COMPONENT_MAX) {
            f->c.drop_malformed++;
            return SLIM_E_NAME_COMPONENT_TOO_LONG;
        }
    }
    /* Only a broadcast can reach a node twice (round a loop of links); a
     * publish for one destination cannot, and a message id of 0 is what
     * clients that do not number their messages send, so neither is
     * checked. Every candidate is remembered, so a copy of an
     * application's message that comes back round a loop is caught too;
     * only copies from other nodes are dropped (an application's own
     * retransmissions pass). */
    if (f->dedupe && p->fanout != 1 && p->message_id != 0 && slim_fwd__duplicate(f, p, now) &&
        fc->kind == SLIM_CONN_NODE) {
        f->c.drop_duplicate++;
        return SLIM_E_ROUTER_DUPLICATE;
    }
    /* forward_to names one of this node's connections: only an application
     * in this process may choose where a message goes; from a gRPC peer it
     * would let anyone reach any connection without a subscription. */
    bool forward_to = p->has_forward_to && fc->how == SLIM_FWD_LOCAL;
    if (p->has_forward_to && !forward_to)
        f->c.forward_to_ignored++;
    slim_route_query q = {.destination = &p->destination,
                          .fanout = p->fanout,
                          .incoming = fc->id,
                          .has_incoming = true,
                          .has_forward_to = forward_to,
                          .forward_to = p->forward_to};
    const uint64_t *outs;
    size_t n;
    slim_status st = slim_router_match(f->router, &q, &outs, &n);
    if (st != SLIM_OK) {
        if (st == SLIM_E_NOMEM) {
            f->c.drop_other++;
            return st;
        }
        f->c.drop_no_route++;
        if ((fc->kind == SLIM_CONN_EDGE || fc->kind == SLIM_CONN_LOCAL) && !p->error)
            error_reply(f, fc, p, now);
        return SLIM_E_ROUTER_NO_ROUTE;
    }
    f->c.publish_matched++;

    /* One shared copy for gRPC links without tags, one for local
     * applications (which also carries the incoming connection as a reply
     * handle), and one per link that takes tags (its own key). */
    slim_rcbuf *remote = ready != NULL && ttl == p->ttl ? slim_rcbuf_ref(ready) : NULL;
    slim_rcbuf *local = NULL;
    bool fields = false;
    for (size_t i = 0; i < n; i++) {
        const fwd_conn *out = find_conn(f, outs[i]);
        if (out == NULL)
            continue;
        if (mac_out(out)) {
            slim_rcbuf *t = NULL;
            if (mac_fields(f, p, ttl, true, &fields) == SLIM_OK)
                t = tagged_copy(out, f, msg, p, ttl);
            if (t == NULL) {
                f->c.drop_other++;
                continue;
            }
            (void)send_raw(f, outs[i], t);
            slim_rcbuf_unref(t);
            continue;
        }
        bool is_local = out->how == SLIM_FWD_LOCAL;
        slim_rcbuf **slot = is_local ? &local : &remote;
        if (*slot == NULL) {
            const uint64_t *in = is_local ? &fc->id : NULL;
            *slot = slim_rcbuf_new(slim_wire_egress_size(msg, p, ttl, in, false));
            if (*slot == NULL) {
                f->c.drop_other++;
                continue;
            }
            slim_wire_egress_write(msg, p, ttl, in, NULL, (*slot)->data);
        }
        (void)send_raw(f, outs[i], *slot);
    }
    slim_rcbuf_unref(remote);
    slim_rcbuf_unref(local);
    return SLIM_OK;
}

/* ---- subscriptions ---- */

static slim_status check_name_text(const slim_pb_name *n) {
    if (n == NULL || n->str_name == NULL)
        return SLIM_OK;
    const char *s[3] = {n->str_name->str_component_0, n->str_name->str_component_1,
                        n->str_name->str_component_2};
    for (int i = 0; i < 3; i++)
        if (s[i] != NULL && strlen(s[i]) > SLIM_NAME_COMPONENT_MAX)
            return SLIM_E_NAME_COMPONENT_TOO_LONG;
    return SLIM_OK;
}

static slim_status subscription(slim_fwd *f, fwd_conn *fc, slim_bytes msg) {
    slim_msg *m = NULL;
    slim_status st = slim_wire_decode(msg, f->max_message, &m);
    if (st != SLIM_OK) {
        f->c.drop_malformed++;
        return st;
    }
    bool unsub = slim_wire_kind(m) == SLIM_MSG_UNSUBSCRIBE;
    uint64_t id = unsub ? m->unsubscribe->subscription_id : m->subscribe->subscription_id;
    if (unsub)
        f->c.unsubscribe_in++;
    else
        f->c.subscribe_in++;
    const char *what = NULL;
    slim_pb_header *h = slim_wire_header(m);
    st = slim_wire_validate(m, &what);
    if (st != SLIM_OK) {
        f->c.drop_malformed++;
        SLIM_LOGD(MOD, "connection %llu: %s without %s", (unsigned long long)fc->id,
                  unsub ? "unsubscribe" : "subscribe", what);
        if (id != 0)
            send_ack(f, fc->id, id, st);
        goto out;
    }
    if (fc->how != SLIM_FWD_LOCAL) {
        if (h->ttl <= 1) {
            f->c.drop_ttl++;
            st = SLIM_E_ROUTER_TTL_EXPIRED;
            goto out;
        }
        h->ttl--;
    }
    slim_name name;
    st = slim_wire_name_get(h->destination, &name);
    if (st == SLIM_OK)
        st = check_name_text(h->destination);
    if (st != SLIM_OK) {
        f->c.drop_malformed++;
        if (id != 0)
            send_ack(f, fc->id, id, st);
        goto out;
    }
    /* recv_from installs the route on another connection; only an
     * application in this process may ask for that. */
    uint64_t target = fc->id;
    if (h->_recv_from_case && fc->how == SLIM_FWD_LOCAL)
        target = h->recv_from;
    slim_str text[3];
    const slim_str *tp = slim_wire_name_strings(h->destination, text) ? text : NULL;
    slim_conn_kind target_kind = fc->kind;
    if (target != fc->id && slim_router_conn_kind(f->router, target, &target_kind) != SLIM_OK)
        target_kind = SLIM_CONN_NODE; /* unknown: the router refuses it below */
    bool was;
    bool tracked = app_before(f, target, &name, &was);
    if (f->propagate && fc->kind == SLIM_CONN_NODE)
        st = slim_fwd__from_node(f, fc, &name, tp, id, unsub, h->ttl);
    else if (f->propagate && target_kind != SLIM_CONN_NODE)
        st = slim_fwd__from_app(f, target, &name, tp, id, unsub);
    else
        st = unsub ? slim_router_unsubscribe(f->router, target, &name)
                   : slim_router_subscribe(f->router, target, &name);
    if (tracked)
        app_after(f, target, &name, tp, was);
    if (h->_forward_to_case && fc->how != SLIM_FWD_LOCAL) {
        f->c.forward_to_ignored++; /* as for a publish: only LOCAL may */
    } else if (st == SLIM_OK && h->_forward_to_case && h->forward_to != fc->id) {
        /* Also pass the subscription on, with the node-local fields and
         * the previous hop's header MAC gone. */
        uint64_t to = h->forward_to;
        slim_wire_header_clear_hop(h);
        if (find_conn(f, to) != NULL)
            (void)send_msg(f, to, m);
        else
            f->c.drop_no_route++;
    }
    if (id != 0)
        send_ack(f, fc->id, id, st);
out:
    slim_wire_free(m);
    return st;
}

/* ---- header MAC on arrival ---- */

/* Upstream's rules (docs/protocol.md, "Header MAC"): on a REMOTE or EDGE
 * link, a message with a tag is checked against the link key; without a
 * key or without a tag it passes only where the policy allows. */
static slim_status mac_ingress(slim_fwd *f, fwd_conn *fc, const slim_peek *p) {
    if (!mac_type(fc) || !p->has_header)
        return SLIM_OK;
    bool tagged = p->has_mac && p->mac.len > 0;
    const char *why = NULL;
    if (!tagged && p->kind != SLIM_MSG_PUBLISH) {
        if (!fc->strict)
            return SLIM_OK;
        why = "untagged subscription";
    } else if (!fc->has_key) {
        if (fc->strict)
            why = "no link key";
        else if (!tagged)
            return SLIM_OK;
        else
            why = "tag on a link without a key";
    } else if (!tagged) {
        why = "missing tag";
    } else {
        f->macbuf.len = 0;
        slim_status st = slim_wire_mac_fields(p, NULL, false, &f->macbuf);
        if (st != SLIM_OK) {
            f->c.drop_other++;
            return st;
        }
        if (slim_hdrmac_check(&fc->key, slim_buf_view(&f->macbuf), p->mac)) {
            f->macbuf_in = true;
            return SLIM_OK;
        }
        why = "wrong tag";
    }
    f->c.drop_header_mac++;
    SLIM_LOGW_LIMITED(MOD, "connection %llu: %s dropped: header MAC: %s",
                      (unsigned long long)fc->id,
                      p->kind == SLIM_MSG_PUBLISH ? "publish" : "subscription", why);
    return SLIM_E_ROUTER_HEADER_MAC;
}

/* ---- entry point ---- */

slim_status slim_fwd_input(slim_fwd *f, uint64_t conn, slim_bytes msg, uint64_t now_ms) {
    fwd_conn *fc = find_conn(f, conn);
    if (fc == NULL) {
        f->c.drop_other++;
        return SLIM_E_ROUTER_UNKNOWN_CONNECTION;
    }
    f->c.messages_in++;
    f->macbuf_in = false;
    slim_peek p;
    const char *what = NULL;
    slim_status st = slim_wire_peek(msg, f->max_message, &p, &what);
    if (st != SLIM_OK) {
        if (fc->state == PENDING)
            return refuse(f, fc, "first message unusable: %s", slim_status_str(st));
        if (st == SLIM_E_TOO_LARGE)
            f->c.drop_too_large++;
        else
            f->c.drop_malformed++;
        SLIM_LOGD(MOD, "connection %llu: message dropped: %s%s%s", (unsigned long long)conn,
                  slim_status_str(st), what ? ": " : "", what ? what : "");
        return st;
    }
    f->c.in_by_kind[p.kind <= SLIM_MSG_SUBSCRIPTION_ACK ? p.kind : 0]++;
    if (fc->state == PENDING)
        return negotiate(f, fc, msg, &p);
    if ((st = mac_ingress(f, fc, &p)) != SLIM_OK)
        return st;
    switch (p.kind) {
    case SLIM_MSG_PUBLISH:
        return publish(f, fc, msg, &p, now_ms, NULL);
    case SLIM_MSG_SUBSCRIBE:
    case SLIM_MSG_UNSUBSCRIBE:
        return subscription(f, fc, msg);
    case SLIM_MSG_SUBSCRIPTION_ACK: {
        slim_msg *m = NULL;
        st = slim_wire_decode(msg, f->max_message, &m);
        if (st == SLIM_OK && f->ops.subscription_ack != NULL)
            f->ops.subscription_ack(f->ud, conn, m->subscription_ack->subscription_id,
                                    m->subscription_ack->success, m->subscription_ack->error);
        slim_wire_free(m);
        return st;
    }
    default:
        /* A Link after negotiation: nothing to do. */
        f->c.drop_other++;
        return SLIM_OK;
    }
}

/* ---- static subscriptions ---- */

slim_status slim_fwd_static_subscribe(slim_fwd *f, uint64_t conn, const slim_name *name) {
    if (find_conn(f, conn) == NULL)
        return SLIM_E_ROUTER_UNKNOWN_CONNECTION;
    bool was;
    bool tracked = app_before(f, conn, name, &was);
    slim_status st = slim_router_subscribe_reason(f->router, conn, name, SLIM_FWD_STATIC_REASON);
    if (tracked)
        app_after(f, conn, name, NULL, was);
    return st;
}

slim_status slim_fwd_static_unsubscribe(slim_fwd *f, uint64_t conn, const slim_name *name) {
    if (find_conn(f, conn) == NULL)
        return SLIM_E_ROUTER_UNKNOWN_CONNECTION;
    bool was;
    bool tracked = app_before(f, conn, name, &was);
    slim_status st =
        slim_router_unsubscribe_reason(f->router, conn, name, SLIM_FWD_STATIC_REASON, NULL);
    if (tracked)
        app_after(f, conn, name, NULL, was);
    return st;
}

void slim_fwd_counters_get(const slim_fwd *f, slim_fwd_counters *out) {
    *out = f->c;
}

const slim_router *slim_fwd_router(const slim_fwd *f) {
    return f->router;
}

/* ---- an application in this process ---- */

slim_status slim_fwd_publish_local(slim_fwd *f, uint64_t conn, const slim_wire_publish_values *v,
                                   uint64_t now_ms) {
    fwd_conn *fc = find_conn(f, conn);
    if (fc == NULL)
        return SLIM_E_ROUTER_UNKNOWN_CONNECTION;
    if (fc->how != SLIM_FWD_LOCAL || v == NULL || v->header.source.name == NULL ||
        v->header.destination.name == NULL)
        return SLIM_E_INVALID_ARG;
    size_t n = slim_wire_publish_values_size(v);
    if (n > f->max_message) {
        f->c.drop_too_large++;
        return SLIM_E_TOO_LARGE;
    }
    slim_rcbuf *b = slim_rcbuf_new(n);
    if (b == NULL) {
        f->c.drop_other++;
        return SLIM_E_NOMEM;
    }
    slim_peek p;
    slim_wire_publish_values_write(v, b->data, &p);
    f->c.messages_in++;
    f->c.in_by_kind[SLIM_MSG_PUBLISH]++;
    f->c.publish_local++;
    slim_status st = publish(f, fc, slim_rcbuf_view(b), &p, now_ms, b);
    slim_rcbuf_unref(b);
    return st;
}
