/*
 * Application data of a point-to-point session (docs/sessions.md, "Data").
 *
 * Sender. Data ids count 1, 2, ... 2^31-1, 0, 1 ... per session. A reliable
 * message stays in the send window (ids tx_base .. tx_base + tx_count - 1,
 * at most SS_WINDOW of them from the oldest unacknowledged one) until its
 * MSG_ACK arrives; it is sent again every timeout, and at the
 * (max_retries + 1)-th expiry it is given up and reported UNDELIVERED. An
 * RTX_REQUEST is answered at once from the window (RTX_REPLY), or with an
 * error RTX_REPLY when the message is no longer there; unlike upstream it
 * does not count as an acknowledgement, so the sender's own timer keeps
 * the message alive until the receiver acknowledges it. Unreliable
 * messages are sent once and forgotten. Messages published before a
 * UNICAST join finishes wait in the window, unsent.
 *
 * Receiver, UNICAST reliable: every MSG or RTX_REPLY taken is acknowledged
 * (so is a copy of one already taken: the first acknowledgement may have
 * been lost), then goes through the reorder buffer, which delivers in id
 * order starting from 1. A gap is asked for at once with one RTX_REQUEST
 * per missing id, asked again every timeout, and reported LOST in its
 * place when the sender answers with an error or at the
 * (max_retries + 1)-th expiry (max_retries + 1 requests in all). A message too far ahead
 * (SS_RX_SPAN) is dropped unacknowledged and comes again later.
 *
 * Receiver, unordered (ANYCAST, and UNICAST unreliable): delivered in
 * arrival order; a duplicate filter per sender (the last SS_SEEN_BITS ids
 * behind the highest seen) keeps a copy from being delivered twice. ANYCAST
 * sessions acknowledge every message, so whichever instance got a reliable
 * message is the one that acknowledges it.
 *
 * Outputs that must not be lost are made before the decision they report:
 * a MESSAGE before its message is acknowledged, an UNDELIVERED when the
 * reliable message is published, a LOST before the gap is given up (if
 * memory runs out there, the decision waits for the next timer).
 */
#include "session/ss_int.h"
#include "core/alloc.h"

#include <string.h>

#define HALF_SPACE (SS_SEQ_MASK >> 1) /* "after" = forward distance up to 2^30 */

/* ---- the send window ---- */

static ss_tx *tx_at(const ss_sess *s, uint32_t i) {
    return &s->tx[(s->tx_head + i) % s->tx_cap];
}

static ss_tx *tx_find(const ss_sess *s, uint32_t id) {
    if (s->tx_count == 0)
        return NULL;
    uint32_t d = ss_seq_diff(id, s->tx_base);
    return d < s->tx_count ? tx_at(s, d) : NULL;
}

static slim_status tx_room(ss_sess *s) {
    void *ring = s->tx;
    slim_status st = ss_ring_room(&ring, sizeof(ss_tx), &s->tx_cap, &s->tx_head, s->tx_count,
                                  s->tx_count + 1, SS_WINDOW);
    s->tx = ring;
    return st;
}

static void tx_pop_front(ss_sess *s) {
    while (s->tx_count > 0 && tx_at(s, 0)->msg == NULL) {
        memset(tx_at(s, 0), 0, sizeof(ss_tx));
        s->tx_head = (s->tx_head + 1) % s->tx_cap;
        s->tx_base = ss_seq_add(s->tx_base, 1);
        s->tx_count--;
    }
}

static bool tx_live(const void *ctx, const ss_tq_ent *e) {
    const ss_tx *t = tx_find(ctx, e->id);
    return t != NULL && t->msg != NULL && t->sent && t->deadline == e->when;
}

bool ss_data_unacked(const ss_sess *s) {
    return s->tx_count > 0;
}

/* The message's destination becomes `to` (a UNICAST message queued
 * before the join carries the name as configured). */
static slim_status set_destination(slim_msg *m, const ss_name *to) {
    slim_pb_header *h = m->publish->header;
    slim_name cur;
    if (slim_wire_name_get(h->destination, &cur) == SLIM_OK && slim_name_equal(&cur, &to->name))
        return SLIM_OK;
    slim_str tmp[3];
    slim_wire_name w = ss_name_wire(to, tmp);
    slim_pb_name *n;
    slim_status st = slim_wire_name_new(&w, &n);
    if (st != SLIM_OK)
        return st;
    protobuf_c_message_free_unpacked(&h->destination->base, &slim_wire_allocator);
    h->destination = n;
    return SLIM_OK;
}

/* Sends slot t (id) for the first time or again. */
static void tx_send(slim_sessions *ss, ss_sess *s, ss_tx *t, uint32_t id, uint64_t now) {
    bool again = t->sent;
    if (s->type == SLIM_SESSION_UNICAST && set_destination(t->msg, &s->peer) != SLIM_OK) {
        ss->c.send_failures++;
    } else if (ss_send(ss, s->handle, t->msg) == SLIM_OK) {
        /* A retransmission does not stand for a heartbeat: it is sent
         * because something is not getting through. */
        if (again) {
            ss->c.retransmissions++;
        } else {
            ss->c.messages_out++;
            ss_note_sent(s);
        }
    }
    t->sent = true;
    if (s->reliable) {
        t->deadline = now + s->timeout_ms;
        ss_tq_push(&s->tx_tq, t->deadline, id, tx_live, s);
    } else {
        slim_wire_free(t->msg);
        t->msg = NULL;
        tx_pop_front(s);
    }
}

static slim_status add_metadata(slim_msg *m, const slim_ss_kv *kv, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (kv[i].key.len == strlen(SS_KEY_PUBLISH_TO) &&
            memcmp(kv[i].key.ptr, SS_KEY_PUBLISH_TO, kv[i].key.len) == 0)
            continue; /* upstream drops it in point-to-point sessions */
        char *k = slim_strndup(kv[i].key.ptr ? kv[i].key.ptr : "", kv[i].key.len);
        char *v = slim_strndup(kv[i].value.ptr ? kv[i].value.ptr : "", kv[i].value.len);
        slim_status st = k && v ? slim_wire_metadata_set(m, k, v) : SLIM_E_NOMEM;
        slim_free(k);
        slim_free(v);
        if (st != SLIM_OK)
            return st;
    }
    return SLIM_OK;
}

static bool sname_ok(const slim_sname *n) {
    int set = (n->text[0].len > 0) + (n->text[1].len > 0) + (n->text[2].len > 0);
    for (int i = 0; i < 3; i++)
        if (n->text[i].len > SLIM_NAME_COMPONENT_MAX || (n->text[i].len && !n->text[i].ptr))
            return false;
    return set == 0 || set == 3;
}

slim_status ss_data_publish(slim_sessions *ss, ss_sess *s, const slim_publish *p, uint64_t now,
                            uint32_t *message_id) {
    ss_name to = {0};
    const ss_name *dst = &s->peer;
    bool fwd = false;
    uint64_t conn = p->conn;
    slim_status st = SLIM_OK;
    switch (p->mode) {
    case SLIM_PUBLISH_DEFAULT:
        if (s->type == SLIM_SESSION_ANYCAST && !s->from_anycast && !ss_name_has_text(&s->peer))
            return SLIM_E_SESSION_NO_DESTINATION;
        /* The opener of a peer's ANYCAST session has no route here: back
         * where its messages come from. */
        fwd = s->from_anycast && s->conn != UINT64_MAX;
        conn = s->conn;
        break;
    case SLIM_PUBLISH_TO:
        if (!sname_ok(&p->to))
            return SLIM_E_INVALID_ARG;
        if (s->type == SLIM_SESSION_UNICAST) {
            if (!s->peer_known || !slim_name_equal(&p->to.name, &s->peer.name))
                return SLIM_E_INVALID_ARG;
        } else {
            dst = &to;
        }
        fwd = true;
        break;
    case SLIM_PUBLISH_DESTINATION:
        if (s->type == SLIM_SESSION_UNICAST)
            return SLIM_E_SESSION_EXPECTED_ANYCAST;
        if (!sname_ok(&p->to))
            return SLIM_E_INVALID_ARG;
        dst = &to;
        break;
    default:
        return SLIM_E_INVALID_ARG;
    }
    if (p->payload_type.len && p->payload_type.ptr == NULL)
        return SLIM_E_INVALID_ARG;
    bool ready = s->state == S_READY;
    bool slot = s->reliable || !ready;
    if (slot && s->tx_count >= SS_WINDOW)
        return SLIM_E_QUEUE_FULL;
    if (dst == &to && (st = ss_name_set(&to, &p->to.name, p->to.text)) != SLIM_OK)
        return st;
    uint32_t id = ss_seq_add(s->last_id, 1);
    slim_str ts[3], td[3];
    ss_hdr h = {
        .src = ss_name_wire(&s->local, ts),
        .dst = ss_name_wire(dst, td),
        .type = T_MSG,
        .sid = s->id,
        .mid = id,
        .has_forward_to = fwd,
        .forward_to = conn,
    };
    char *ptype =
        p->payload_type.len ? slim_strndup(p->payload_type.ptr, p->payload_type.len) : NULL;
    slim_msg *m = NULL;
    ss_out *und = NULL;
    if (p->payload_type.len && ptype == NULL)
        st = SLIM_E_NOMEM;
    if (st == SLIM_OK)
        st = ss_msg_app(&h, ptype ? ptype : "msg", p->payload, &m);
    slim_free(ptype);
    ss_name_clear(&to);
    if (st == SLIM_OK)
        st = add_metadata(m, p->metadata, p->metadata_len);
    if (st == SLIM_OK && dataplane__proto__v1__message__get_packed_size(m) > ss->max_message)
        st = SLIM_E_TOO_LARGE;
    if (st == SLIM_OK && slot)
        st = tx_room(s);
    if (st == SLIM_OK && s->reliable) {
        st = ss_tq_reserve(&s->tx_tq, 2 * SS_WINDOW);
        und = st == SLIM_OK ? ss_out_new(SLIM_SOUT_UNDELIVERED, s) : NULL;
        if (st == SLIM_OK && und == NULL)
            st = SLIM_E_NOMEM;
    }
    if (st != SLIM_OK) {
        slim_wire_free(m);
        return st;
    }
    s->last_id = id;
    if (message_id != NULL)
        *message_id = id;
    if (!slot) {
        if (ss_send(ss, s->handle, m) == SLIM_OK) {
            ss_note_sent(s);
            ss->c.messages_out++;
        }
        slim_wire_free(m);
        return SLIM_OK;
    }
    if (s->tx_count == 0)
        s->tx_base = id;
    ss_tx *t = tx_at(s, s->tx_count++);
    memset(t, 0, sizeof *t);
    t->msg = m;
    t->undelivered = und;
    if (und != NULL) {
        und->message_id = id;
        und->status = SLIM_E_SESSION_UNDELIVERED;
        und->reason = R_UNDELIVERED;
        und->arg = s->max_retries;
    }
    if (ready)
        tx_send(ss, s, t, id, now);
    return SLIM_OK;
}

void ss_data_flush(slim_sessions *ss, ss_sess *s, uint64_t now) {
    uint32_t base = s->tx_base, n = s->tx_count;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t id = ss_seq_add(base, i);
        ss_tx *t = tx_find(s, id);
        if (t != NULL && t->msg != NULL && !t->sent)
            tx_send(ss, s, t, id, now);
    }
}

/* Reliable message id of ours acknowledged by `from`. */
static void acked(slim_sessions *ss, ss_sess *s, ss_tx *t, uint64_t now) {
    slim_wire_free(t->msg);
    t->msg = NULL;
    ss_out_free(t->undelivered);
    t->undelivered = NULL;
    tx_pop_front(s);
    if (s->state == S_DRAIN && s->tx_count == 0)
        ss_p2p_drained(ss, s, now);
}

/* An ANYCAST opener remembers who answered, to tell them when it closes. */
static void remember_instance(ss_sess *s, const slim_msg *m) {
    if (!s->initiator || s->type != SLIM_SESSION_ANYCAST)
        return;
    slim_name n;
    if (!ss_msg_source(m, &n))
        return;
    uint64_t conn = UINT64_MAX;
    (void)ss_msg_in_conn(m, &conn);
    for (uint32_t i = 0; i < s->ninst; i++)
        if (slim_name_equal(&s->inst[i].n.name, &n)) {
            s->inst[i].conn = conn;
            return;
        }
    if (s->ninst == SS_MAX_INSTANCES)
        return;
    if (s->inst == NULL) {
        s->inst = slim_calloc(SS_MAX_INSTANCES, sizeof *s->inst);
        if (s->inst == NULL)
            return;
    }
    if (ss_name_from_pb(&s->inst[s->ninst].n, m->publish->header->source) == SLIM_OK)
        s->inst[s->ninst++].conn = conn;
}

/* Does `src` answer for message m of ours (its destination)? */
static bool answers_for(const ss_sess *s, const slim_msg *m, const slim_name *src) {
    if (s->type == SLIM_SESSION_UNICAST)
        return s->peer_known && slim_name_equal(src, &s->peer.name);
    slim_name d;
    if (!ss_msg_dest(m, &d) || !slim_name_same_service(&d, src))
        return false;
    return slim_id_is_any(d.id) || slim_id_equal(d.id, src->id);
}

static slim_status msg_ack_in(slim_sessions *ss, ss_sess *s, const slim_msg *m, uint64_t now) {
    slim_name src;
    (void)ss_msg_source(m, &src);
    ss_tx *t = tx_find(s, ss_msg_mid(m));
    if (t == NULL || t->msg == NULL || !t->sent || !s->reliable)
        return SLIM_OK; /* late copy of an acknowledgement */
    if (!answers_for(s, t->msg, &src)) {
        ss->c.drop_unexpected++;
        return SLIM_E_SESSION_WRONG_PEER;
    }
    remember_instance(s, m);
    acked(ss, s, t, now);
    return SLIM_OK;
}

static slim_status rtx_request_in(slim_sessions *ss, ss_sess *s, const slim_msg *m) {
    uint64_t conn = 0;
    bool has_conn = ss_msg_in_conn(m, &conn);
    uint32_t id = ss_msg_mid(m);
    ss_tx *t = tx_find(s, id);
    if (t != NULL && t->msg != NULL && t->sent) {
        /* The stored message, as an RTX_REPLY back where the request came
         * from. */
        slim_pb_header *h = t->msg->publish->header;
        Dataplane__Proto__V1__SessionHeader *sh = t->msg->publish->session;
        sh->session_message_type = (Dataplane__Proto__V1__SessionMessageType)T_RTX_REPLY;
        h->_forward_to_case = has_conn ? DATAPLANE__PROTO__V1__SLIMHEADER___FORWARD_TO_FORWARD_TO
                                       : DATAPLANE__PROTO__V1__SLIMHEADER___FORWARD_TO__NOT_SET;
        h->forward_to = conn;
        if (ss_send(ss, s->handle, t->msg) == SLIM_OK)
            ss->c.rtx_replies++;
        sh->session_message_type = (Dataplane__Proto__V1__SessionMessageType)T_MSG;
        h->_forward_to_case = DATAPLANE__PROTO__V1__SLIMHEADER___FORWARD_TO__NOT_SET;
        h->forward_to = 0;
        return SLIM_OK;
    }
    /* Gone (acknowledged or given up): say so. */
    slim_name sn, dn;
    slim_str st3[3], dt3[3];
    ss_hdr h = {
        .src = ss_pb_wire(m->publish->header->destination, &sn, st3),
        .dst = ss_pb_wire(m->publish->header->source, &dn, dt3),
        .type = T_RTX_REPLY,
        .sid = s->id,
        .mid = id,
        .has_forward_to = has_conn,
        .forward_to = conn,
        .error = true,
    };
    slim_msg *r;
    slim_status st = ss_msg_app(&h, "", slim_bytes_of(NULL, 0), &r);
    if (st != SLIM_OK) {
        ss->c.send_failures++;
        return SLIM_OK;
    }
    if (ss_send_new(ss, s->handle, r) == SLIM_OK)
        ss->c.rtx_replies++;
    return SLIM_OK;
}

/* ---- receiving ---- */

static void send_ack(slim_sessions *ss, ss_sess *s, const slim_msg *m) {
    uint64_t conn = 0;
    bool has_conn = ss_msg_in_conn(m, &conn);
    slim_name dn;
    slim_str lt[3], dt[3];
    ss_hdr h = {
        .src = ss_name_wire(&s->local, lt),
        .dst = ss_pb_wire(m->publish->header->source, &dn, dt),
        .type = T_MSG_ACK,
        .sid = s->id,
        .mid = ss_msg_mid(m),
        .has_forward_to = has_conn,
        .forward_to = conn,
    };
    slim_msg *a;
    if (ss_msg_app(&h, "", slim_bytes_of(NULL, 0), &a) != SLIM_OK) {
        ss->c.send_failures++;
        return;
    }
    if (ss_send_new(ss, s->handle, a) == SLIM_OK)
        ss_note_sent(s);
}

/* The MESSAGE output for m (which it takes only on success). */
static ss_out *message_out(ss_sess *s, slim_msg *m) {
    ss_out *o = ss_out_new(SLIM_SOUT_MESSAGE, s);
    if (o == NULL)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < m->n_metadata; i++)
        n += strcmp(m->metadata[i]->key, SS_KEY_PUBLISH_TO) != 0;
    if (n > 0) {
        o->kv = slim_calloc(n, sizeof *o->kv);
        if (o->kv == NULL) {
            slim_free(o);
            return NULL;
        }
        for (size_t i = 0; i < m->n_metadata; i++) {
            const char *k = m->metadata[i]->key, *v = m->metadata[i]->value;
            if (strcmp(k, SS_KEY_PUBLISH_TO) == 0)
                continue;
            o->kv[o->nkv].key.ptr = k;
            o->kv[o->nkv].key.len = strlen(k);
            o->kv[o->nkv].value.ptr = v;
            o->kv[o->nkv].value.len = strlen(v);
            o->nkv++;
        }
    }
    o->msg = m;
    o->message_id = ss_msg_mid(m);
    return o;
}

static void deliver(slim_sessions *ss, ss_out *o) {
    if (o->kind == SLIM_SOUT_MESSAGE)
        ss->c.messages_in++;
    else
        ss->c.lost++;
    ss_out_push(ss, o);
}

/* -- reorder buffer: ids rx_next .. rx_next + rx_count - 1 -- */

static ss_rx *rx_at(const ss_sess *s, uint32_t i) {
    return &s->rx[(s->rx_head + i) % s->rx_cap];
}

static slim_status rx_room(ss_sess *s, uint32_t need) {
    void *ring = s->rx;
    slim_status st =
        ss_ring_room(&ring, sizeof(ss_rx), &s->rx_cap, &s->rx_head, s->rx_count, need, SS_RX_SPAN);
    s->rx = ring;
    return st;
}

static bool rx_live(const void *ctx, const ss_tq_ent *e) {
    const ss_sess *s = ctx;
    uint32_t d = ss_seq_diff(e->id, s->rx_next);
    if (d >= s->rx_count)
        return false;
    const ss_rx *r = rx_at(s, d);
    return r->out == NULL && r->rtx_deadline == e->when;
}

static void rx_release(slim_sessions *ss, ss_sess *s) {
    while (s->rx_count > 0 && rx_at(s, 0)->out != NULL) {
        ss_rx *r = rx_at(s, 0);
        deliver(ss, r->out);
        memset(r, 0, sizeof *r);
        s->rx_head = (s->rx_head + 1) % s->rx_cap;
        s->rx_next = ss_seq_add(s->rx_next, 1);
        s->rx_count--;
    }
}

static void send_rtx_request(slim_sessions *ss, ss_sess *s, uint32_t id, bool again) {
    slim_str lt[3], pt[3];
    ss_hdr h = {
        .src = ss_name_wire(&s->local, lt),
        .dst = ss_name_wire(&s->peer, pt),
        .type = T_RTX_REQUEST,
        .sid = s->id,
        .mid = id,
        .has_forward_to = s->rx_conn != UINT64_MAX,
        .forward_to = s->rx_conn,
    };
    slim_msg *r;
    if (ss_msg_app(&h, "", slim_bytes_of(NULL, 0), &r) != SLIM_OK) {
        ss->c.send_failures++;
        return;
    }
    if (ss_send_new(ss, s->handle, r) == SLIM_OK) {
        ss->c.rtx_requests++;
        if (!again)
            ss_note_sent(s);
    }
}

static slim_status rx_insert(slim_sessions *ss, ss_sess *s, slim_msg *m, uint64_t now) {
    uint32_t id = ss_msg_mid(m);
    uint32_t d = ss_seq_diff(id, s->rx_next);
    if (d > HALF_SPACE || (d < s->rx_count && rx_at(s, d)->out != NULL)) {
        send_ack(ss, s, m); /* delivered or buffered already */
        ss->c.drop_duplicate++;
        slim_wire_free(m);
        return SLIM_E_SESSION_DUPLICATE;
    }
    if (d >= SS_RX_SPAN) {
        ss->c.drop_unexpected++;
        slim_wire_free(m);
        return SLIM_E_SESSION_UNEXPECTED;
    }
    if (s->held) { /* the reader is behind: it comes again */
        ss->c.drop_backlog++;
        slim_wire_free(m);
        return SLIM_E_QUEUE_FULL;
    }
    ss_out *o = message_out(s, m);
    if (o == NULL || rx_room(s, d + 1) != SLIM_OK ||
        ss_tq_reserve(&s->rx_tq, 2 * SS_RX_SPAN) != SLIM_OK) {
        if (o != NULL)
            ss_out_free(o);
        else
            slim_wire_free(m);
        ss->c.drop_nomem++;
        return SLIM_E_NOMEM;
    }
    send_ack(ss, s, m);
    uint64_t conn;
    if (ss_msg_in_conn(m, &conn))
        s->rx_conn = conn;
    /* Ids newly found missing are asked for at once. */
    for (uint32_t k = s->rx_count; k < d; k++) {
        ss_rx *r = rx_at(s, k);
        memset(r, 0, sizeof *r);
        r->rtx_deadline = now + s->timeout_ms;
        uint32_t mid = ss_seq_add(s->rx_next, k);
        s->rx_count = k + 1;
        ss_tq_push(&s->rx_tq, r->rtx_deadline, mid, rx_live, s);
        send_rtx_request(ss, s, mid, false);
    }
    if (d >= s->rx_count) {
        memset(rx_at(s, d), 0, sizeof(ss_rx));
        s->rx_count = d + 1;
    }
    rx_at(s, d)->out = o;
    rx_release(ss, s);
    return SLIM_OK;
}

/* The sender says it no longer has `id`. */
static void rx_lost(slim_sessions *ss, ss_sess *s, uint32_t id, ss_reason why) {
    uint32_t d = ss_seq_diff(id, s->rx_next);
    if (d >= s->rx_count || rx_at(s, d)->out != NULL)
        return;
    ss_out *o = ss_out_new(SLIM_SOUT_LOST, s);
    if (o == NULL)
        return; /* the RTX timer asks again */
    o->status = SLIM_E_SESSION_LOST;
    o->reason = why;
    o->message_id = id;
    o->arg = s->max_retries;
    rx_at(s, d)->out = o;
    rx_release(ss, s);
}

/* -- duplicate filters of unordered sessions -- */

static ss_seen *seen_get(ss_sess *s, const slim_name *src) {
    if (s->seen == NULL) {
        s->seen = slim_calloc(SS_MAX_SOURCES, sizeof *s->seen);
        if (s->seen == NULL)
            return NULL;
    }
    ss_seen *f = NULL;
    for (uint32_t i = 0; i < s->nseen; i++)
        if (slim_name_equal(&s->seen[i].src, src)) {
            f = &s->seen[i];
            break;
        }
    if (f == NULL) {
        if (s->nseen < SS_MAX_SOURCES) {
            f = &s->seen[s->nseen++];
        } else {
            f = &s->seen[0];
            for (uint32_t i = 1; i < s->nseen; i++)
                if (s->seen[i].used < f->used)
                    f = &s->seen[i];
        }
        memset(f, 0, sizeof *f);
        f->src = *src;
    }
    f->used = ++s->seen_clock;
    return f;
}

static bool seen_has(const ss_seen *f, uint32_t id) {
    if (!f->init)
        return false;
    uint32_t d = ss_seq_diff(id, f->high);
    if (d == 0)
        return true;
    if (d <= HALF_SPACE)
        return false;
    uint32_t back = ss_seq_diff(f->high, id);
    if (back >= SS_SEEN_BITS)
        return true; /* too old to tell: taken as seen */
    return (f->bits[back / 64] >> (back % 64)) & 1;
}

static void seen_mark(ss_seen *f, uint32_t id) {
    if (!f->init) {
        f->init = true;
        f->high = id;
        memset(f->bits, 0, sizeof f->bits);
        f->bits[0] = 1;
        return;
    }
    uint32_t d = ss_seq_diff(id, f->high);
    if (d != 0 && d <= HALF_SPACE) {
        /* bit i (id high - i) moves to bit i + d */
        const uint32_t words = SS_SEEN_BITS / 64;
        if (d >= SS_SEEN_BITS) {
            memset(f->bits, 0, sizeof f->bits);
        } else {
            uint32_t ws = d / 64, bs = d % 64;
            for (uint32_t i = words; i-- > 0;) {
                uint64_t v = 0;
                if (i >= ws) {
                    v = f->bits[i - ws] << bs;
                    if (bs && i > ws)
                        v |= f->bits[i - ws - 1] >> (64 - bs);
                }
                f->bits[i] = v;
            }
        }
        f->high = id;
        f->bits[0] |= 1;
        return;
    }
    uint32_t back = ss_seq_diff(f->high, id);
    if (back < SS_SEEN_BITS)
        f->bits[back / 64] |= (uint64_t)1 << (back % 64);
}

static slim_status unordered(slim_sessions *ss, ss_sess *s, slim_msg *m, bool ack) {
    slim_name src;
    (void)ss_msg_source(m, &src);
    uint32_t id = ss_msg_mid(m);
    ss_seen *f = seen_get(s, &src);
    if (f == NULL) {
        ss->c.drop_nomem++;
        slim_wire_free(m);
        return SLIM_E_NOMEM;
    }
    if (seen_has(f, id)) {
        if (ack)
            send_ack(ss, s, m);
        ss->c.drop_duplicate++;
        slim_wire_free(m);
        return SLIM_E_SESSION_DUPLICATE;
    }
    if (ack && s->reliable && s->held) { /* the reader is behind: it comes again */
        ss->c.drop_backlog++;
        slim_wire_free(m);
        return SLIM_E_QUEUE_FULL;
    }
    ss_out *o = message_out(s, m);
    if (o == NULL) {
        ss->c.drop_nomem++;
        slim_wire_free(m);
        return SLIM_E_NOMEM;
    }
    seen_mark(f, id);
    if (ack)
        send_ack(ss, s, m);
    deliver(ss, o);
    return SLIM_OK;
}

slim_status ss_data_input(slim_sessions *ss, ss_sess *s, slim_msg *m, uint64_t now) {
    uint32_t type = ss_msg_type(m);
    slim_name src;
    (void)ss_msg_source(m, &src);
    bool from_peer = s->peer_known && slim_name_equal(&src, &s->peer.name);
    bool unicast = s->type == SLIM_SESSION_UNICAST;
    if (from_peer || s->from_anycast)
        ss_note_heard(ss, s, now);
    if (from_peer && s->from_anycast)
        (void)ss_msg_in_conn(m, &s->conn);
    slim_status st = SLIM_OK;
    if (unicast && !from_peer) {
        ss->c.drop_unexpected++;
        slim_wire_free(m);
        return SLIM_E_SESSION_WRONG_PEER;
    }
    switch (type) {
    case T_MSG:
    case T_RTX_REPLY: {
        bool open = s->state == S_READY || s->state == S_DRAIN ||
                    (unicast && s->initiator && s->state == S_WELCOME);
        if (!open || (type == T_RTX_REPLY && !(unicast && s->reliable))) {
            ss->c.drop_unexpected++;
            slim_wire_free(m);
            return SLIM_E_SESSION_UNEXPECTED;
        }
        if (type == T_RTX_REPLY && m->publish->header->_error_case) {
            rx_lost(ss, s, ss_msg_mid(m), R_LOST_SENDER);
            slim_wire_free(m);
            return SLIM_OK;
        }
        if (!unicast)
            remember_instance(s, m);
        if (unicast && s->reliable)
            return rx_insert(ss, s, m, now);
        return unordered(ss, s, m, !unicast);
    }
    case T_MSG_ACK:
        st = msg_ack_in(ss, s, m, now);
        break;
    case T_RTX_REQUEST:
        if (unicast && s->reliable)
            st = rtx_request_in(ss, s, m);
        else {
            ss->c.drop_unexpected++;
            st = SLIM_E_SESSION_UNEXPECTED;
        }
        break;
    default:
        ss->c.drop_unexpected++;
        st = SLIM_E_SESSION_UNEXPECTED;
    }
    slim_wire_free(m);
    return st;
}

/* ---- timers ---- */

void ss_data_expire(slim_sessions *ss, ss_sess *s, uint64_t now) {
    ss_tq_ent e;
    while (ss_tq_peek(&s->tx_tq, &e) && e.when <= now) {
        ss_tq_pop(&s->tx_tq);
        if (!tx_live(s, &e))
            continue;
        ss_tx *t = tx_find(s, e.id);
        if (++t->tries > s->max_retries) {
            ss_out *o = t->undelivered;
            t->undelivered = NULL;
            slim_wire_free(t->msg);
            t->msg = NULL;
            ss->c.undelivered++;
            ss_out_push(ss, o);
            tx_pop_front(s);
            continue;
        }
        tx_send(ss, s, t, e.id, now);
    }
    while (ss_tq_peek(&s->rx_tq, &e) && e.when <= now) {
        ss_tq_pop(&s->rx_tq);
        if (!rx_live(s, &e))
            continue;
        ss_rx *r = rx_at(s, ss_seq_diff(e.id, s->rx_next));
        r->rtx_deadline = now + s->timeout_ms;
        if (++r->rtx_tries > s->max_retries) {
            rx_lost(ss, s, e.id, R_LOST_RTX);
            if (rx_live(s, &(ss_tq_ent){r->rtx_deadline, e.id}))
                ss_tq_push(&s->rx_tq, r->rtx_deadline, e.id, rx_live, s); /* no memory: later */
            continue;
        }
        ss_tq_push(&s->rx_tq, r->rtx_deadline, e.id, rx_live, s);
        send_rtx_request(ss, s, e.id, true);
    }
    if (s->state == S_DRAIN && s->tx_count == 0)
        ss_p2p_drained(ss, s, now);
}

uint64_t ss_data_deadline(const ss_sess *s) {
    uint64_t d = UINT64_MAX;
    ss_tq_ent e;
    if (ss_tq_peek(&s->tx_tq, &e) && e.when < d)
        d = e.when;
    if (ss_tq_peek(&s->rx_tq, &e) && e.when < d)
        d = e.when;
    return d;
}

/* ---- the end ---- */

void ss_data_end(slim_sessions *ss, ss_sess *s) {
    for (uint32_t i = 0; i < s->tx_count; i++) {
        ss_tx *t = tx_at(s, i);
        if (t->msg != NULL && t->undelivered != NULL) {
            t->undelivered->status = SLIM_E_SESSION_CLOSED_UNACKED;
            t->undelivered->reason = R_UNDELIVERED_ENDED;
            ss->c.undelivered++;
            ss_out_push(ss, t->undelivered);
            t->undelivered = NULL;
        }
    }
    ss_data_free(s);
}

void ss_data_free(ss_sess *s) {
    for (uint32_t i = 0; i < s->tx_count; i++) {
        ss_tx *t = tx_at(s, i);
        slim_wire_free(t->msg);
        ss_out_free(t->undelivered);
    }
    slim_free(s->tx);
    s->tx = NULL;
    s->tx_cap = s->tx_count = s->tx_head = 0;
    for (uint32_t i = 0; i < s->rx_count; i++)
        ss_out_free(rx_at(s, i)->out);
    slim_free(s->rx);
    s->rx = NULL;
    s->rx_cap = s->rx_count = s->rx_head = 0;
    ss_tq_free(&s->tx_tq);
    ss_tq_free(&s->rx_tq);
    slim_free(s->seen);
    s->seen = NULL;
    s->nseen = 0;
}
