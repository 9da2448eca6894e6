/*
 * The life of a point-to-point session (docs/sessions.md, "States"),
 * after upstream's P2P sequence (session-protocol-head.md §5.1):
 *
 *   initiator (UNICAST open)            joiner (a JOIN_REQUEST arrived)
 *   S_DISCOVER  DISCOVERY_REQUEST ->    (answered without a session)
 *               <- DISCOVERY_REPLY
 *   S_ROUTE     Subscribe(peer, recv_from = the reply's connection),
 *               waits for the SubscriptionAck
 *   S_JOIN      JOIN_REQUEST ->          S_ROUTE   route to the initiator
 *                                        S_JOINED  <- JOIN_REPLY
 *   S_WELCOME   GROUP_WELCOME ->         S_READY   NEW; <- GROUP_ACK
 *   S_READY     DONE(open)
 *
 * An ANYCAST session has no handshake: the opener is ready at once, and a
 * peer's first message opens one at the receiver (NEW).
 *
 * Control messages wait for their answer in s->ctl, are sent again every
 * control timeout (the same id, restamped) and fail at the
 * (retries + 1)-th expiry, or at once when a node reports it cannot route
 * them. Heartbeats run both ways once a UNICAST session is ready: every
 * period, a HEARTBEAT unless something else went to the peer; after
 * heartbeat_misses periods in which nothing came from the peer the
 * session ends with E_SESSION_PEER_GONE (upstream only marks the peer
 * offline; a point-to-point session without its peer is useless).
 *
 * Closing: the initiator sends GROUP_CLOSE to the peer, the joiner
 * LEAVE_REQUEST (metadata LEAVING_SESSION=TRUE); each side ends its
 * session on the other's message after answering it. An ANYCAST opener
 * sends a GROUP_CLOSE to every instance that answered it.
 */
#include "session/ss_int.h"
#include "core/alloc.h"

#include <string.h>

/* ---- control messages waiting for an answer ---- */

void ss_ctl_remove(ss_sess *s, uint32_t i) {
    slim_wire_free(s->ctl[i].msg);
    slim_free(s->ctl[i].wait);
    s->ctl[i] = s->ctl[--s->nctl];
}

void ss_ctl_clear(ss_sess *s) {
    while (s->nctl > 0)
        ss_ctl_remove(s, s->nctl - 1);
}

long ss_ctl_find(const ss_sess *s, uint8_t purpose, uint32_t id) {
    for (uint32_t i = 0; i < s->nctl; i++)
        if (s->ctl[i].purpose == purpose && s->ctl[i].id == id)
            return (long)i;
    return -1;
}

static bool ctl_has(const ss_sess *s, uint8_t purpose) {
    for (uint32_t i = 0; i < s->nctl; i++)
        if (s->ctl[i].purpose == purpose)
            return true;
    return false;
}

bool ss_ctl_from_ok(const ss_ctl *c, const slim_name *src) {
    if (c->any_id)
        return slim_name_same_service(&c->from, src);
    return slim_name_equal(&c->from, src);
}

/* Sends request m and keeps it until its answer (takes m, also on error). */
slim_status ss_ctl_add(slim_sessions *ss, ss_sess *s, slim_msg *m, ss_purpose purpose,
                       const slim_name *from, bool any_id, uint64_t now) {
    if (s->nctl == s->ctl_cap) {
        uint32_t cap = s->ctl_cap ? s->ctl_cap * 2 : 2;
        ss_ctl *c = slim_realloc(s->ctl, cap * sizeof *c);
        if (c == NULL) {
            slim_wire_free(m);
            return SLIM_E_NOMEM;
        }
        s->ctl = c;
        s->ctl_cap = cap;
    }
    ss_ctl *c = &s->ctl[s->nctl++];
    memset(c, 0, sizeof *c);
    c->msg = m;
    c->id = ss_msg_mid(m);
    c->type = (uint8_t)ss_msg_type(m);
    c->purpose = (uint8_t)purpose;
    c->from = *from;
    c->any_id = any_id;
    c->deadline = now + s->ctl_timeout_ms;
    if (ss_send(ss, s->handle, m) == SLIM_OK)
        ss_note_sent(s, false);
    return SLIM_OK;
}

slim_status ss_ctl_add_set(slim_sessions *ss, ss_sess *s, slim_msg *m, ss_purpose purpose,
                           const slim_name *wait, uint32_t nwait, uint64_t now) {
    slim_name *w = slim_malloc((nwait ? nwait : 1) * sizeof *w);
    if (w == NULL) {
        slim_wire_free(m);
        return SLIM_E_NOMEM;
    }
    if (nwait)
        memcpy(w, wait, nwait * sizeof *w);
    slim_name none;
    memset(&none, 0, sizeof none);
    slim_status st = ss_ctl_add(ss, s, m, purpose, &none, false, now);
    if (st != SLIM_OK) {
        slim_free(w);
        return st;
    }
    s->ctl[s->nctl - 1].wait = w;
    s->ctl[s->nctl - 1].nwait = nwait;
    ss_note_sent(s, true);
    return SLIM_OK;
}

/* A command message of s to `to` (over connection `via` when it is not
 * UINT64_MAX), with a fresh id unless mid is given. */
slim_status ss_cmd_to(slim_sessions *ss, const ss_sess *s, uint8_t type, slim_wire_name to,
                      uint32_t mid, uint64_t via, slim_msg **out, void **inner) {
    slim_str lt[3];
    ss_hdr h = {
        .src = ss_name_wire(&s->local, lt),
        .dst = to,
        .type = type,
        .sid = s->id,
        .mid = mid ? mid : ss_random_id(ss),
        .has_forward_to = via != UINT64_MAX,
        .forward_to = via,
        .group = s->type == SLIM_SESSION_MULTICAST,
    };
    return ss_msg_cmd(&h, out, inner);
}

/* To the peer: by the route of a UNICAST session, or back where the
 * opener of a peer's ANYCAST session writes from (there is no route). */
static slim_status cmd_to_peer(slim_sessions *ss, const ss_sess *s, uint8_t type, uint32_t mid,
                               slim_msg **out, void **inner) {
    slim_str pt[3];
    return ss_cmd_to(ss, s, type, ss_name_wire(&s->peer, pt), mid,
                     s->from_anycast ? s->conn : UINT64_MAX, out, inner);
}

/* An empty answer (GROUP_ACK, LEAVE_REPLY) to request m, echoing its id.
 * ANYCAST sessions have no routes: the answer goes back the way m came. */
void ss_answer(slim_sessions *ss, ss_sess *s, const slim_msg *m, uint8_t type) {
    slim_name dn;
    slim_str dt[3];
    slim_msg *r;
    uint64_t via = UINT64_MAX;
    if (s->type == SLIM_SESSION_ANYCAST)
        (void)ss_msg_in_conn(m, &via);
    if (ss_cmd_to(ss, s, type, ss_pb_wire(m->publish->header->source, &dn, dt), ss_msg_mid(m), via,
                  &r, NULL) != SLIM_OK) {
        ss->c.send_failures++;
        return;
    }
    if (ss_send_new(ss, s->handle, r) == SLIM_OK)
        ss_note_sent(s, false);
}

/* ---- heartbeats and liveness ---- */

void ss_note_sent(ss_sess *s, bool to_all) {
    if (to_all || s->g == NULL)
        s->hb_active = true;
}

void ss_note_heard(slim_sessions *ss, ss_sess *s, uint64_t now) {
    s->hb_missed = 0;
    if (s->from_anycast)
        s->idle_deadline = now + ss->idle_ms;
}

static void hb_start(slim_sessions *ss, ss_sess *s, uint64_t now) {
    s->hb_next = now + ss->heartbeat_ms;
    s->hb_missed = 0;
    s->hb_active = false;
}

static void hb_tick(slim_sessions *ss, ss_sess *s, uint64_t now) {
    if (++s->hb_missed >= ss->heartbeat_misses) {
        ss->c.peers_gone++;
        ss_end(ss, s, SLIM_E_SESSION_PEER_GONE, R_PEER_GONE, ss->heartbeat_misses, now);
        return;
    }
    if (!s->hb_active) {
        slim_msg *m;
        void *inner;
        if (cmd_to_peer(ss, s, T_HEARTBEAT, 0, &m, &inner) == SLIM_OK) {
            /* the MLS epoch; without MLS, the largest (upstream) */
            ((Dataplane__Proto__V1__HeartbeatPayload *)inner)->epoch = ss_mls_epoch(s->mls);
            if (ss_send_new(ss, s->handle, m) == SLIM_OK)
                ss->c.heartbeats++;
        } else {
            ss->c.send_failures++;
        }
    }
    s->hb_active = false;
    s->hb_next += ss->heartbeat_ms;
    if (s->hb_next <= now)
        s->hb_next = now + ss->heartbeat_ms;
}

/* ---- routes ---- */

static slim_status send_route(slim_sessions *ss, uint64_t handle, const ss_route *r, bool remove) {
    slim_str lt[3], pt[3];
    slim_wire_header_spec h = {
        .source = ss_name_wire(&r->local, lt),
        .destination = ss_name_wire(&r->peer, pt),
        .fanout = 1,
        .ttl = SLIM_WIRE_DEFAULT_TTL,
        .has_recv_from = !r->sub,
        .recv_from = r->conn,
        .has_forward_to = r->sub,
        .forward_to = r->conn,
    };
    slim_msg *m;
    slim_status st = slim_wire_subscribe_new(&h, r->sub_id, remove, &m);
    if (st == SLIM_OK) {
        st = ss_send_plain(ss, handle, m);
        slim_wire_free(m);
    }
    return st;
}

static void route_free(ss_route *r) {
    ss_name_clear(&r->local);
    ss_name_clear(&r->peer);
    slim_free(r);
}

ss_route *ss_route_ref(slim_sessions *ss, uint64_t handle, const ss_name *local,
                       const ss_name *peer, uint64_t conn, bool sub, bool *ready) {
    *ready = false;
    for (ss_route *r = ss->routes; r != NULL; r = r->next)
        if (!r->failed && r->conn == conn && r->sub == sub &&
            slim_name_equal(&r->name, &peer->name)) {
            r->refs++;
            *ready = r->acked;
            return r;
        }
    ss_route *r = slim_calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    slim_sname lv, pv;
    ss_name_view(local, &lv);
    ss_name_view(peer, &pv);
    if (ss_name_set(&r->local, &lv.name, lv.text) != SLIM_OK ||
        ss_name_set(&r->peer, &pv.name, pv.text) != SLIM_OK) {
        route_free(r);
        return NULL;
    }
    r->name = peer->name;
    r->conn = conn;
    r->sub = sub;
    r->refs = 1;
    do
        r->sub_id = ss->ops.random64(ss->ops.ud);
    while (r->sub_id == 0);
    r->next = ss->routes;
    ss->routes = r;
    if (send_route(ss, handle, r, false) != SLIM_OK)
        ss->c.send_failures++;
    return r;
}

/* Takes a reference on the route to the peer over s->conn, asking the
 * router for it when no session holds it yet. True when it is in place. */
static bool route_acquire(slim_sessions *ss, ss_sess *s) {
    bool ready;
    s->route = ss_route_ref(ss, s->handle, &s->local, &s->peer, s->conn, false, &ready);
    return s->route != NULL && ready; /* no memory: the wait times out */
}

void ss_route_unref(slim_sessions *ss, ss_route *r, uint64_t handle) {
    if (--r->refs > 0)
        return;
    for (ss_route **p = &ss->routes; *p != NULL; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            break;
        }
    /* Even one not acknowledged yet: the router takes both in order. */
    if (!r->failed && send_route(ss, handle, r, true) != SLIM_OK)
        ss->c.send_failures++;
    route_free(r);
}

void ss_route_release(slim_sessions *ss, ss_sess *s) {
    ss_route *r = s->route;
    if (r == NULL)
        return;
    s->route = NULL;
    ss_route_unref(ss, r, s->handle);
}

void ss_route_free_all(slim_sessions *ss) {
    while (ss->routes != NULL) {
        ss_route *r = ss->routes;
        ss->routes = r->next;
        route_free(r);
    }
}

/* ---- the handshake ---- */

slim_status ss_p2p_open(slim_sessions *ss, ss_sess *s, uint64_t now) {
    slim_msg *m;
    slim_status st = cmd_to_peer(ss, s, T_DISCOVERY_REQUEST, 0, &m, NULL);
    if (st != SLIM_OK)
        return st;
    return ss_ctl_add(ss, s, m, P_DISCOVERY, &s->peer.name, slim_id_is_any(s->peer.name.id), now);
}

/* An answer to m without a session: from `src`, back to m's source over
 * the connection m came in on, echoing its ids, with an empty payload. */
static slim_status stateless_answer(slim_sessions *ss, const slim_msg *m, uint8_t type,
                                    slim_wire_name src) {
    slim_name dn;
    slim_str dt[3];
    uint64_t conn = 0;
    ss_hdr h = {
        .src = src,
        .dst = ss_pb_wire(m->publish->header->source, &dn, dt),
        .type = type,
        .sid = ss_msg_sid(m),
        .mid = ss_msg_mid(m),
        .has_forward_to = ss_msg_in_conn(m, &conn),
        .forward_to = conn,
        .group = m->publish->session->session_type == SS_MULTICAST,
    };
    slim_msg *r;
    slim_status st = ss_msg_cmd(&h, &r, NULL);
    if (st != SLIM_OK) {
        ss->c.send_failures++;
        return st;
    }
    return ss_send_new(ss, 0, r);
}

slim_status ss_p2p_discovery_reply(slim_sessions *ss, slim_msg *m, const ss_appname *ours) {
    /* From the name asked for, with our id (the app may answer for
     * several names). */
    slim_name src;
    slim_str st3[3];
    slim_wire_name w = ss_pb_wire(m->publish->header->destination, &src, st3);
    src.id = ss->local.name.id;
    if (w.text == NULL && ss_name_has_text(&ours->n)) {
        w = ss_name_wire(&ours->n, st3);
        w.name = &src;
    }
    return stateless_answer(ss, m, T_DISCOVERY_REPLY, w);
}

static void fail(slim_sessions *ss, ss_sess *s, slim_status st, ss_reason why, uint32_t arg,
                 uint64_t now) {
    ss_end(ss, s, st, why, arg, now);
}

/* A Participant record: `who`, ONLINE, sending and receiving as told. */
Dataplane__Proto__V1__Participant *ss_participant_new(const ss_name *who, bool sends,
                                                      bool receives) {
    Dataplane__Proto__V1__Participant *p =
        ss_pb_new(&dataplane__proto__v1__participant__descriptor);
    if (p == NULL)
        return NULL;
    p->status = DATAPLANE__PROTO__V1__PARTICIPANT_STATE__ONLINE;
    p->settings = ss_pb_new(&dataplane__proto__v1__participant_settings__descriptor);
    slim_str t[3];
    slim_wire_name w = ss_name_wire(who, t);
    if (p->settings == NULL || slim_wire_name_new(&w, &p->name) != SLIM_OK) {
        protobuf_c_message_free_unpacked(&p->base, &slim_wire_allocator);
        return NULL;
    }
    p->settings->sends_data = sends;
    p->settings->receives_data = receives;
    return p;
}

void ss_p2p_join_reply(slim_sessions *ss, ss_sess *s) {
    slim_msg *m;
    void *inner;
    if (cmd_to_peer(ss, s, T_JOIN_REPLY, s->join_id, &m, &inner) != SLIM_OK) {
        ss->c.send_failures++;
        return;
    }
    Dataplane__Proto__V1__JoinReplyPayload *jr = inner;
    jr->participant = ss_participant_new(&s->local, true, true);
    if (jr->participant == NULL || (s->mls != NULL && ss_mls_reply_key_package(s, jr) != SLIM_OK)) {
        ss->c.send_failures++;
        slim_wire_free(m);
        return;
    }
    if (ss_send_new(ss, s->handle, m) == SLIM_OK)
        ss_note_sent(s, false);
}

/* The route is in place: the next step of the handshake. */
static void route_ok(slim_sessions *ss, ss_sess *s, uint64_t now) {
    s->route_deadline = 0;
    if (!s->initiator) {
        ss_p2p_join_reply(ss, s);
        s->state = S_JOINED;
        s->join_deadline = now + (uint64_t)s->ctl_timeout_ms * (s->ctl_retries + 2);
        return;
    }
    slim_msg *m = NULL;
    void *inner = NULL;
    slim_status st = cmd_to_peer(ss, s, T_JOIN_REQUEST, 0, &m, &inner);
    if (st == SLIM_OK && s->reliable) {
        Dataplane__Proto__V1__JoinRequestPayload *jr = inner;
        Dataplane__Proto__V1__TimerSettings *ts =
            ss_pb_new(&dataplane__proto__v1__timer_settings__descriptor);
        if (ts == NULL) {
            st = SLIM_E_NOMEM;
        } else {
            ts->timeout = s->timeout_ms;
            ts->max_retries = s->max_retries;
            jr->timer_settings = ts;
            jr->_timer_settings_case =
                DATAPLANE__PROTO__V1__JOIN_REQUEST_PAYLOAD___TIMER_SETTINGS_TIMER_SETTINGS;
        }
    }
    if (st == SLIM_OK && s->mls != NULL)
        st = ss_mls_join_settings(inner);
    for (size_t i = 0; st == SLIM_OK && i < s->nmeta; i++)
        st = slim_wire_metadata_set(m, s->meta[i].key.ptr, s->meta[i].value.ptr);
    if (st != SLIM_OK) {
        slim_wire_free(m);
        fail(ss, s, SLIM_E_NOMEM, R_NOMEM, P_JOIN, now);
        return;
    }
    if (ss_ctl_add(ss, s, m, P_JOIN, &s->peer.name, false, now) != SLIM_OK) {
        fail(ss, s, SLIM_E_NOMEM, R_NOMEM, P_JOIN, now);
        return;
    }
    s->state = S_JOIN;
}

static void route_failed(slim_sessions *ss, ss_sess *s, slim_status st, ss_reason why, uint32_t arg,
                         uint64_t now) {
    fail(ss, s, st, why, arg, now);
}

void ss_p2p_joiner_new(slim_sessions *ss, ss_sess *s, uint64_t now) {
    if (route_acquire(ss, s))
        route_ok(ss, s, now);
    else
        s->route_deadline = now + ss->sub_ack_ms;
}

void ss_p2p_route_ack(slim_sessions *ss, ss_route *r, bool ok, uint64_t now) {
    r->acked = ok;
    r->failed = !ok;
    r->refs++; /* held while the waiting sessions go on */
    slim_hmap_iter it;
    for (slim_hnode *n = slim_hmap_first(&ss->by_handle, &it); n != NULL;
         n = slim_hmap_next(&ss->by_handle, &it)) {
        ss_sess *s = SLIM_CONTAINER_OF(n, ss_sess, by_handle);
        if (s->g != NULL)
            ss_group_route_ack(ss, s, r, ok, now);
        if (s->route != r || s->state != S_ROUTE)
            continue;
        if (ok)
            route_ok(ss, s, now);
        else
            route_failed(ss, s, SLIM_E_SESSION_ROUTE_REFUSED, R_ROUTE_REFUSED, 0, now);
        ss_reschedule(ss, s);
    }
    ss_route_unref(ss, r, 0);
}

static void send_welcome(slim_sessions *ss, ss_sess *s, const slim_msg *reply, uint64_t now) {
    slim_msg *m;
    void *inner;
    /* MLS: the peer added to our group at once (the commit goes nowhere:
     * nobody else is in it), the welcome to it */
    slim_buf c, w;
    slim_buf_init(&c);
    slim_buf_init(&w);
    uint32_t cid = 0;
    slim_status st = SLIM_OK;
    if (s->mls != NULL) {
        slim_bytes kp = ss_mls_reply_key_package_of(reply);
        st = kp.len == 0 ? SLIM_E_WIRE_MISSING_FIELD
                         : ss_mls_add(s, kp, &s->peer.name, &c, &w, &cid);
        slim_buf_cleanup(&c);
        if (st != SLIM_OK) {
            ss->c.drop_mls++;
            fail(ss, s, st, R_MLS_FAILED, 0, now);
            return;
        }
        ss->c.mls_commits++;
    }
    st = cmd_to_peer(ss, s, T_GROUP_WELCOME, 0, &m, &inner);
    if (st != SLIM_OK) {
        slim_buf_cleanup(&w);
        fail(ss, s, SLIM_E_NOMEM, R_NOMEM, P_WELCOME, now);
        return;
    }
    Dataplane__Proto__V1__GroupWelcomePayload *gw = inner;
    if (s->mls != NULL) {
        if (ss_mls_payload(cid, slim_buf_view(&w), &gw->mls) == SLIM_OK)
            gw->_mls_case = DATAPLANE__PROTO__V1__GROUP_WELCOME_PAYLOAD___MLS_MLS;
        slim_buf_cleanup(&w);
        if (gw->mls == NULL) {
            slim_wire_free(m);
            fail(ss, s, SLIM_E_NOMEM, R_NOMEM, P_WELCOME, now);
            return;
        }
    }
    gw->participants = slim_calloc(2, sizeof *gw->participants);
    const Dataplane__Proto__V1__JoinReplyPayload *jr = ss_msg_command(reply)->join_reply;
    const Dataplane__Proto__V1__ParticipantSettings *ps =
        jr->participant ? jr->participant->settings : NULL;
    if (gw->participants != NULL &&
        (gw->participants[0] = ss_participant_new(&s->local, true, true)) != NULL)
        gw->n_participants = 1;
    if (gw->n_participants == 1 &&
        (gw->participants[1] = ss_participant_new(&s->peer, ps == NULL || ps->sends_data,
                                                  ps == NULL || ps->receives_data)) != NULL)
        gw->n_participants = 2;
    if (gw->n_participants != 2) {
        slim_wire_free(m);
        fail(ss, s, SLIM_E_NOMEM, R_NOMEM, P_WELCOME, now);
        return;
    }
    if (ss_ctl_add(ss, s, m, P_WELCOME, &s->peer.name, false, now) != SLIM_OK) {
        fail(ss, s, SLIM_E_NOMEM, R_NOMEM, P_WELCOME, now);
        return;
    }
    s->state = S_WELCOME;
}

static void ready(slim_sessions *ss, ss_sess *s, uint64_t now) {
    s->state = S_READY;
    ss_out_settle(ss, &s->open_done, SLIM_OK, R_OPEN_OK, 0);
    hb_start(ss, s, now);
    ss_data_flush(ss, s, now);
}

/* ---- closing ---- */

/* GROUP_CLOSE to `to` (over `via` unless UINT64_MAX), listing both ends. */
static slim_status group_close(slim_sessions *ss, const ss_sess *s, const ss_name *to, uint64_t via,
                               slim_msg **out) {
    slim_msg *m;
    void *inner;
    slim_str t[3];
    slim_status st = ss_cmd_to(ss, s, T_GROUP_CLOSE, ss_name_wire(to, t), 0, via, &m, &inner);
    if (st != SLIM_OK)
        return st;
    Dataplane__Proto__V1__GroupClosePayload *gc = inner;
    gc->participants = slim_calloc(2, sizeof *gc->participants);
    const ss_name *who[2] = {&s->local, to};
    for (int i = 0; gc->participants != NULL && i < 2; i++) {
        slim_str tt[3];
        slim_wire_name w = ss_name_wire(who[i], tt);
        if (slim_wire_name_new(&w, &gc->participants[i]) != SLIM_OK)
            break;
        gc->n_participants++;
    }
    if (gc->n_participants != 2) {
        slim_wire_free(m);
        return SLIM_E_NOMEM;
    }
    *out = m;
    return SLIM_OK;
}

static void close_send(slim_sessions *ss, ss_sess *s, uint64_t now) {
    s->state = S_CLOSING;
    slim_msg *m;
    if (s->type == SLIM_SESSION_UNICAST && s->initiator) {
        if (group_close(ss, s, &s->peer, UINT64_MAX, &m) == SLIM_OK &&
            ss_ctl_add(ss, s, m, P_CLOSE, &s->peer.name, false, now) == SLIM_OK)
            return;
    } else if (s->type == SLIM_SESSION_UNICAST || s->from_anycast) {
        if (cmd_to_peer(ss, s, T_LEAVE_REQUEST, 0, &m, NULL) == SLIM_OK) {
            if (slim_wire_metadata_set(m, SS_KEY_LEAVING, SS_VAL_TRUE) == SLIM_OK) {
                if (ss_ctl_add(ss, s, m, P_LEAVE, &s->peer.name, false, now) == SLIM_OK)
                    return;
            } else {
                slim_wire_free(m);
            }
        }
    } else {
        /* ANYCAST opener: every instance that answered. */
        for (uint32_t i = 0; i < s->ninst; i++)
            if (group_close(ss, s, &s->inst[i].n, s->inst[i].conn, &m) == SLIM_OK)
                (void)ss_ctl_add(ss, s, m, P_CLOSE, &s->inst[i].n.name, false, now);
        if (ctl_has(s, P_CLOSE))
            return;
    }
    /* Nobody to tell, or no memory to tell them: the peer's heartbeats
     * (or idle time) end its side. */
    ss_end(ss, s, SLIM_OK, R_CLOSED_LOCAL, 0, now);
}

slim_status ss_p2p_close(slim_sessions *ss, ss_sess *s, uint64_t now) {
    switch (s->state) {
    case S_DISCOVER:
    case S_ROUTE:
    case S_JOIN:
        ss_end(ss, s, SLIM_OK, R_CLOSED_LOCAL, 0, now);
        return SLIM_OK;
    case S_WELCOME:
        /* The peer may have the welcome already: tell it. */
        ss_ctl_clear(s);
        ss_out_settle(ss, &s->open_done, SLIM_E_CANCELLED, R_OPEN_CANCELLED, 0);
        close_send(ss, s, now);
        return SLIM_OK;
    case S_READY:
        if (ss_data_unacked(s))
            s->state = S_DRAIN;
        else
            close_send(ss, s, now);
        return SLIM_OK;
    default:
        return SLIM_E_SESSION_CLOSING;
    }
}

void ss_p2p_drained(slim_sessions *ss, ss_sess *s, uint64_t now) {
    if (s->state == S_DRAIN)
        close_send(ss, s, now);
}

/* ---- failures of control messages ---- */

/* How each request fails: the open it belongs to, or the close. */
static const struct {
    slim_status st;
    ss_reason why;
} open_failures[] = {
    [P_DISCOVERY] = {SLIM_E_SESSION_DISCOVERY_FAILED, R_DISCOVERY_FAILED},
    [P_JOIN] = {SLIM_E_SESSION_JOIN_FAILED, R_JOIN_FAILED},
    [P_WELCOME] = {SLIM_E_SESSION_WELCOME_FAILED, R_WELCOME_FAILED},
};

static void ctl_fail(slim_sessions *ss, ss_sess *s, uint32_t i, bool no_route, uint64_t now) {
    uint8_t purpose = s->ctl[i].purpose;
    uint32_t r = s->ctl_retries;
    if (purpose <= P_WELCOME) {
        if (no_route)
            fail(ss, s, SLIM_E_SESSION_NO_ROUTE, R_NO_ROUTE, purpose, now);
        else
            fail(ss, s, open_failures[purpose].st, open_failures[purpose].why, r, now);
        return;
    }
    if (purpose == P_CLOSE) {
        ss_ctl_remove(s, i);
        if (ctl_has(s, P_CLOSE))
            return; /* other instances still to answer */
    }
    ss_end(ss, s, SLIM_OK, R_CLOSE_UNANSWERED, r, now);
}

void ss_p2p_node_error(slim_sessions *ss, ss_sess *s, const slim_msg *m, uint64_t now) {
    ss->c.node_errors++;
    slim_name src;
    (void)ss_msg_source(m, &src);
    uint32_t id = ss_msg_mid(m), type = ss_msg_type(m);
    for (uint32_t i = 0; i < s->nctl; i++) {
        slim_name d;
        if (s->ctl[i].id == id && s->ctl[i].type == type && ss_msg_dest(s->ctl[i].msg, &d) &&
            slim_name_equal(&d, &src)) {
            ctl_fail(ss, s, i, true, now);
            return;
        }
    }
}

/* ---- inputs ---- */

static slim_status unexpected(slim_sessions *ss) {
    ss->c.drop_unexpected++;
    return SLIM_E_SESSION_UNEXPECTED;
}

static slim_status discovery_reply_in(slim_sessions *ss, ss_sess *s, const slim_msg *m,
                                      const slim_name *src, uint64_t now) {
    long i = ss_ctl_find(s, P_DISCOVERY, ss_msg_mid(m));
    if (s->state != S_DISCOVER || i < 0 || !ss_ctl_from_ok(&s->ctl[i], src))
        return unexpected(ss);
    uint64_t conn;
    if (!ss_msg_in_conn(m, &conn)) {
        ss->c.drop_malformed++;
        return SLIM_E_WIRE_MISSING_FIELD;
    }
    /* The peer is now that instance; keep the configured text if the reply
     * has none. */
    ss_name peer = {0};
    slim_status st = ss_name_from_pb(&peer, m->publish->header->source);
    if (st == SLIM_OK && !ss_name_has_text(&peer)) {
        slim_sname v;
        ss_name_view(&s->peer, &v);
        st = ss_name_set(&peer, src, v.text);
    }
    if (st != SLIM_OK) {
        ss_name_clear(&peer);
        ss->c.drop_nomem++;
        return st; /* the discovery is sent again */
    }
    ss_name_clear(&s->peer);
    s->peer = peer;
    s->peer_known = true;
    s->conn = conn;
    ss_ctl_remove(s, (uint32_t)i);
    s->state = S_ROUTE;
    if (route_acquire(ss, s))
        route_ok(ss, s, now);
    else
        s->route_deadline = now + ss->sub_ack_ms;
    return SLIM_OK;
}

static slim_status welcome_in(slim_sessions *ss, ss_sess *s, const slim_msg *m, uint64_t now) {
    if (s->state == S_JOINED) {
        const Dataplane__Proto__V1__GroupWelcomePayload *gw = ss_msg_command(m)->group_welcome;
        slim_status st;
        if (s->mls != NULL &&
            (st = ss_mls_welcome_in(ss, s, gw->_mls_case ? gw->mls : NULL)) != SLIM_OK)
            return st; /* unanswered */
        ss_out *o = ss_out_new(SLIM_SOUT_NEW, s);
        if (o == NULL) {
            ss->c.drop_nomem++;
            return SLIM_E_NOMEM; /* unanswered: the welcome comes again */
        }
        s->announced = true;
        s->join_deadline = 0;
        ss_out_push(ss, o);
        s->state = S_READY;
        hb_start(ss, s, now);
    } else if (s->state != S_READY && s->state != S_DRAIN && s->state != S_CLOSING) {
        return unexpected(ss);
    }
    ss_answer(ss, s, m, T_GROUP_ACK);
    return SLIM_OK;
}

slim_status ss_p2p_input(slim_sessions *ss, ss_sess *s, slim_msg *m, uint64_t now) {
    uint32_t type = ss_msg_type(m), mid = ss_msg_mid(m);
    slim_name src;
    (void)ss_msg_source(m, &src);
    bool from_peer = s->peer_known && slim_name_equal(&src, &s->peer.name);
    bool anycast_opener = s->type == SLIM_SESSION_ANYCAST && s->initiator;
    if (from_peer || s->from_anycast)
        ss_note_heard(ss, s, now);
    slim_status st = SLIM_OK;
    long i;
    switch (type) {
    case T_DISCOVERY_REPLY:
        st = discovery_reply_in(ss, s, m, &src, now);
        break;
    case T_JOIN_REPLY:
        i = ss_ctl_find(s, P_JOIN, mid);
        if (s->state != S_JOIN || i < 0 || !from_peer) {
            st = unexpected(ss);
            break;
        }
        ss_ctl_remove(s, (uint32_t)i);
        send_welcome(ss, s, m, now);
        break;
    case T_GROUP_ACK:
        if (s->state == S_WELCOME && (i = ss_ctl_find(s, P_WELCOME, mid)) >= 0 && from_peer) {
            ss_ctl_remove(s, (uint32_t)i);
            ready(ss, s, now);
        } else if (s->state == S_CLOSING && (i = ss_ctl_find(s, P_CLOSE, mid)) >= 0 &&
                   ss_ctl_from_ok(&s->ctl[i], &src)) {
            ss_ctl_remove(s, (uint32_t)i);
            if (!ctl_has(s, P_CLOSE))
                ss_end(ss, s, SLIM_OK, R_CLOSE_DONE, 0, now);
        } else {
            st = unexpected(ss);
        }
        break;
    case T_JOIN_REQUEST:
        /* Our JOIN_REPLY was lost: answer again (the same request id). */
        if (s->initiator || !from_peer || s->type != SLIM_SESSION_UNICAST) {
            st = unexpected(ss);
            break;
        }
        s->join_id = mid;
        if (s->state == S_JOINED || s->state == S_READY || s->state == S_DRAIN) {
            if (s->state == S_JOINED)
                s->join_deadline = now + (uint64_t)s->ctl_timeout_ms * (s->ctl_retries + 2);
            ss_p2p_join_reply(ss, s);
        }
        break;
    case T_GROUP_WELCOME:
        if (s->initiator || !from_peer || s->type != SLIM_SESSION_UNICAST)
            st = unexpected(ss);
        else
            st = welcome_in(ss, s, m, now);
        break;
    case T_GROUP_CLOSE:
        if (!from_peer || anycast_opener) {
            st = unexpected(ss);
            break;
        }
        ss_answer(ss, s, m, T_GROUP_ACK);
        ss_end(ss, s, SLIM_OK, R_CLOSED_BY_PEER, 0, now);
        break;
    case T_LEAVE_REQUEST:
        if (anycast_opener) {
            /* One instance is gone; the session goes on with the others. */
            ss_answer(ss, s, m, T_LEAVE_REPLY);
            for (uint32_t k = 0; k < s->ninst; k++)
                if (slim_name_equal(&s->inst[k].n.name, &src)) {
                    ss_name_clear(&s->inst[k].n);
                    s->inst[k] = s->inst[--s->ninst];
                    memset(&s->inst[s->ninst], 0, sizeof(ss_inst));
                    break;
                }
            break;
        }
        if (!from_peer) {
            st = unexpected(ss);
            break;
        }
        ss_answer(ss, s, m, T_LEAVE_REPLY);
        ss_end(ss, s, SLIM_OK, s->initiator ? R_PEER_LEFT : R_CLOSED_BY_PEER, 0, now);
        break;
    case T_LEAVE_REPLY:
        if (s->state == S_CLOSING && ss_ctl_find(s, P_LEAVE, mid) >= 0 && from_peer)
            ss_end(ss, s, SLIM_OK, R_CLOSE_DONE, 0, now);
        else
            st = unexpected(ss);
        break;
    case T_HEARTBEAT:
        if (!from_peer)
            st = unexpected(ss);
        break;
    default:
        st = unexpected(ss);
    }
    slim_wire_free(m);
    return st;
}

slim_status ss_p2p_tomb_answer(slim_sessions *ss, const slim_msg *m) {
    /* The session's route is gone: back the way the request came. */
    slim_name sn;
    slim_str st3[3];
    return stateless_answer(ss, m, ss_msg_type(m) == T_GROUP_CLOSE ? T_GROUP_ACK : T_LEAVE_REPLY,
                            ss_pb_wire(m->publish->header->destination, &sn, st3));
}

/* ---- timers ---- */

void ss_ctl_expire(slim_sessions *ss, ss_sess *s, uint64_t now, ss_ctl_fail_fn fail) {
    for (uint32_t i = 0; i < s->nctl && s->state != S_DEAD;) {
        ss_ctl *c = &s->ctl[i];
        if (c->deadline > now) {
            i++;
            continue;
        }
        if (++c->tries > s->ctl_retries) {
            fail(ss, s, i, false, now);
            i = 0; /* the array changed */
            continue;
        }
        c->deadline = now + s->ctl_timeout_ms;
        if (ss_send(ss, s->handle, c->msg) == SLIM_OK)
            ss->c.retransmissions++;
        i++;
    }
}

void ss_p2p_expire(slim_sessions *ss, ss_sess *s, uint64_t now) {
    ss_ctl_expire(ss, s, now, ctl_fail);
    if (s->state == S_DEAD)
        return;
    if (s->state == S_ROUTE && s->route_deadline != 0 && s->route_deadline <= now) {
        route_failed(ss, s, SLIM_E_SESSION_ROUTE_TIMEOUT, R_ROUTE_TIMEOUT, ss->sub_ack_ms, now);
        return;
    }
    if (s->state == S_JOINED && s->join_deadline != 0 && s->join_deadline <= now) {
        /* Never welcomed; the application never saw it. */
        ss_end(ss, s, SLIM_E_SESSION_WELCOME_FAILED, R_WELCOME_FAILED, s->ctl_retries, now);
        return;
    }
    if (s->from_anycast && s->state == S_READY && s->idle_deadline <= now) {
        ss_end(ss, s, SLIM_E_SESSION_IDLE, R_IDLE, ss->idle_ms, now);
        return;
    }
    if (s->type == SLIM_SESSION_UNICAST && (s->state == S_READY || s->state == S_DRAIN) &&
        s->hb_next <= now)
        hb_tick(ss, s, now);
}

uint64_t ss_p2p_deadline(const ss_sess *s) {
    uint64_t d = UINT64_MAX;
    for (uint32_t i = 0; i < s->nctl; i++)
        if (s->ctl[i].deadline < d)
            d = s->ctl[i].deadline;
    if (s->state == S_ROUTE && s->route_deadline != 0 && s->route_deadline < d)
        d = s->route_deadline;
    if (s->state == S_JOINED && s->join_deadline != 0 && s->join_deadline < d)
        d = s->join_deadline;
    if (s->from_anycast && s->state == S_READY && s->idle_deadline < d)
        d = s->idle_deadline;
    if (s->type == SLIM_SESSION_UNICAST && (s->state == S_READY || s->state == S_DRAIN) &&
        s->hb_next < d)
        d = s->hb_next;
    return d;
}
