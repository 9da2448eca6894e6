/*
 * Application data of a point-to-point session (docs/sessions.md, "Data").
 *
 * Sender. Data ids count 1, 2, ... 2^31-1, 0, 1 ... per session. A reliable
 * message stays in the send window (ids tx_base .. tx_base + tx_count - 1,
 * at most send_window of them from the oldest unacknowledged one) until its
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
#include "core/log.h"

#include <stdio.h>
#include <string.h>

#define MOD        "session"
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

static slim_status tx_room(const slim_sessions *ss, ss_sess *s) {
    void *ring = s->tx;
    slim_status st = ss_ring_room(&ring, sizeof(ss_tx), &s->tx_cap, &s->tx_head, s->tx_count,
                                  s->tx_count + 1, ss->send_window);
    s->tx = ring;
    return st;
}

/* The retransmission period: the timeout, or, when acknowledgements take
 * longer, the smoothed round trip plus four times its mean deviation (as
 * TCP's retransmission timeout, RFC 6298), up to SS_MAX_RTO_MS. A fixed
 * period shorter than the round trip would send again what is only slow,
 * and the copies would slow everything further: a group of publishers
 * faster than their receivers ended up resending most of what it sent. */
static uint32_t rx_period(const ss_sess *s, const ss_rxq *q);

static uint64_t rto_base(const ss_sess *s) {
    uint64_t r = (uint64_t)s->srtt_ms + 4 * (uint64_t)s->rttvar_ms;
    return r < s->timeout_ms ? s->timeout_ms : r;
}

uint32_t ss_rto(const ss_sess *s) {
    uint64_t r = rto_base(s) * (s->backoff > 1 ? s->backoff : 1);
    return r > SS_MAX_RTO_MS ? SS_MAX_RTO_MS : (uint32_t)r;
}

/* Message t is due again. When the peers are alive, only slower than the
 * period, the period doubles, at most once a period and up to 16 times
 * (TCP's backoff): the samples that would raise it are lost to Karn's
 * rule once most messages are sent again. Alive: acknowledgements still
 * come; in a group, something came from a member t waits for within the
 * period (its data, its heartbeats: before any acknowledgement has come,
 * as when everyone starts sending at once). A silent peer keeps the
 * configured period, so a gone peer is found out as soon as before. */
static void rto_backoff(ss_sess *s, const ss_tx *t, uint64_t now) {
    uint32_t rto = ss_rto(s);
    if (now < s->backoff_at)
        return;
    bool alive = s->g != NULL
                     ? ss_group_heard_since(s, t->wait, t->nwait, now > rto ? now - rto : 0)
                     : s->last_ack_ms != 0 && now - s->last_ack_ms < rto;
    if (!alive)
        return;
    if (s->backoff < 16)
        s->backoff = s->backoff > 1 ? 2 * s->backoff : 2;
    s->backoff_at = now + ss_rto(s);
}

/* A round-trip sample. Only one of our own messages' acknowledgements
 * (`own`) ends the backoff of our retransmissions: a receiver's sample
 * (the answer to its request) says that the path answers, not that the
 * members acknowledge our messages in time. Taken as own, such samples
 * kept a group sender's period at its shortest while its
 * acknowledgements came back seconds late (under ThreadSanitizer): every
 * message was then given up after its retries though all arrived. */
static void rtt_add(ss_sess *s, uint64_t r64, bool own) {
    if (own)
        s->backoff = 1;
    uint32_t r = r64 > SS_MAX_RTO_MS ? SS_MAX_RTO_MS : (uint32_t)r64;
    if (s->srtt_ms == 0 && s->rttvar_ms == 0) {
        s->srtt_ms = r;
        s->rttvar_ms = r / 2;
        return;
    }
    uint32_t d = r > s->srtt_ms ? r - s->srtt_ms : s->srtt_ms - r;
    s->rttvar_ms = (3 * s->rttvar_ms + d) / 4;
    s->srtt_ms = (7 * s->srtt_ms + r) / 8;
}

/* An acknowledgement of t: a round-trip sample, unless t was sent again
 * (then it cannot tell which copy was answered: Karn's rule). */
static void rtt_sample(ss_sess *s, const ss_tx *t, uint64_t now) {
    if (t->tries > 0 || t->fast || now < t->sent_at)
        return;
    rtt_add(s, now - t->sent_at, true);
}

static void tx_pop_front(ss_sess *s) {
    while (s->tx_count > 0 && tx_at(s, 0)->msg == NULL) {
        slim_free(tx_at(s, 0)->wait);
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

/* A group message goes to the channel; sent again, to each member that
 * has not acknowledged it, by its full name. */
static void group_resend(slim_sessions *ss, ss_sess *s, ss_tx *t) {
    slim_pb_header *h = t->msg->publish->header;
    for (uint32_t i = 0; i < t->nwait; i++) {
        const ss_name *to = ss_group_member(s, &t->wait[i]);
        if (to == NULL)
            continue;
        if (set_destination(t->msg, to) != SLIM_OK) {
            ss->c.send_failures++;
            continue;
        }
        h->fanout = 1;
        if (ss_send_data(ss, s, t->msg, t->epoch) == SLIM_OK)
            ss->c.retransmissions++;
    }
    h->fanout = SS_FANOUT_ALL;
    if (set_destination(t->msg, &s->g->data) != SLIM_OK)
        ss->c.send_failures++; /* tried again at the next send */
}

/* Sends slot t (id) for the first time or again. */
static void tx_send(slim_sessions *ss, ss_sess *s, ss_tx *t, uint32_t id, uint64_t now) {
    bool again = t->sent;
    if (!again)
        t->epoch = ss_mls_epoch(s->mls);
    if (s->g != NULL && again) {
        group_resend(ss, s, t);
    } else if (s->type == SLIM_SESSION_UNICAST && set_destination(t->msg, &s->peer) != SLIM_OK) {
        ss->c.send_failures++;
    } else if (ss_send_data(ss, s, t->msg, t->epoch) == SLIM_OK) {
        /* A retransmission does not stand for a heartbeat: it is sent
         * because something is not getting through. */
        if (again) {
            ss->c.retransmissions++;
        } else {
            ss->c.messages_out++;
            ss_note_sent(s, true);
        }
    }
    if (!again)
        t->sent_at = now;
    t->sent = true;
    if (s->reliable && !(s->g != NULL && t->nwait == 0)) {
        t->deadline = now + ss_rto(s);
        ss_tq_push(&s->tx_tq, t->deadline, id, tx_live, s);
    } else {
        /* fire and forget, or a group with nobody else in it yet */
        slim_wire_free(t->msg);
        t->msg = NULL;
        ss_out_free(t->undelivered);
        t->undelivered = NULL;
        slim_free(t->wait);
        t->wait = NULL;
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

static bool ptx_live_ok(const slim_sessions *ss, const ss_sess *s) {
    return s->g->npt < ss->send_window;
}

/* publish_to in a group: to one member, outside the sequence, acknowledged
 * by it alone. */
static slim_status group_publish_to(slim_sessions *ss, ss_sess *s, const slim_name *to, slim_msg *m,
                                    ss_out *und, uint64_t now) {
    ss_group *g = s->g;
    if (!s->reliable) {
        if (ss_send_data(ss, s, m, UINT64_MAX) == SLIM_OK) {
            ss_note_sent(s, false);
            ss->c.messages_out++;
        }
        slim_wire_free(m);
        return SLIM_OK;
    }
    if (g->pt == NULL) {
        g->pt = slim_calloc(ss->send_window, sizeof *g->pt);
        if (g->pt == NULL) {
            slim_wire_free(m);
            ss_out_free(und);
            return SLIM_E_NOMEM;
        }
    }
    ss_ptx *t = &g->pt[g->npt++];
    memset(t, 0, sizeof *t);
    t->msg = m;
    t->undelivered = und;
    t->to = *to;
    t->deadline = now + ss_rto(s);
    t->epoch = ss_mls_epoch(s->mls);
    if (ss_send_data(ss, s, m, t->epoch) == SLIM_OK) {
        ss_note_sent(s, false);
        ss->c.messages_out++;
    }
    return SLIM_OK;
}

slim_status ss_data_publish(slim_sessions *ss, ss_sess *s, const slim_publish *p, uint64_t now,
                            uint32_t *message_id) {
    ss_name to = {0};
    const ss_name *dst = s->g != NULL ? &s->g->data : &s->peer;
    bool fwd = false, pto = false;
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
        } else if (s->g != NULL) {
            const ss_name *mem = ss_group_member(s, &p->to.name);
            if (mem == NULL || slim_name_equal(&mem->name, &s->local.name))
                return SLIM_E_INVALID_ARG;
            dst = mem;
            pto = true;
        } else {
            dst = &to;
        }
        fwd = true;
        break;
    case SLIM_PUBLISH_DESTINATION:
        if (s->type != SLIM_SESSION_ANYCAST)
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
    bool slot = (s->reliable || !ready) && !pto;
    if (slot && s->tx_count >= ss->send_window)
        return SLIM_E_QUEUE_FULL;
    if (pto && s->reliable && !ptx_live_ok(ss, s))
        return SLIM_E_QUEUE_FULL;
    if (dst == &to && (st = ss_name_set(&to, &p->to.name, p->to.text)) != SLIM_OK)
        return st;
    uint32_t id = ss_seq_add(s->last_id, 1);
    if (pto) /* outside the sequence: [2^31, 2^32 - 2] */
        id = 0x80000000u + (uint32_t)(ss->ops.random64(ss->ops.ud) % 0x7fffffffu);
    slim_str ts[3], td[3];
    ss_hdr h = {
        .src = ss_name_wire(&s->local, ts),
        .dst = ss_name_wire(dst, td),
        .type = T_MSG,
        .sid = s->id,
        .mid = id,
        .has_forward_to = fwd,
        .forward_to = conn,
        .group = s->g != NULL,
        .fanout = s->g != NULL && !pto ? SS_FANOUT_ALL : 1,
    };
    char *ptype =
        p->payload_type.len ? slim_strndup(p->payload_type.ptr, p->payload_type.len) : NULL;
    slim_msg *m = NULL;
    ss_out *und = NULL;
    slim_name *wait = NULL;
    uint32_t nwait = 0;
    if (p->payload_type.len && ptype == NULL)
        st = SLIM_E_NOMEM;
    if (st == SLIM_OK)
        st = ss_msg_app(&h, ptype ? ptype : "msg", p->payload, &m);
    slim_free(ptype);
    ss_name_clear(&to);
    if (st == SLIM_OK)
        st = add_metadata(m, p->metadata, p->metadata_len);
    if (st == SLIM_OK && pto)
        st = slim_wire_metadata_set(m, SS_KEY_PUBLISH_TO, SS_VAL_TRUE);
    if (st == SLIM_OK && dataplane__proto__v1__message__get_packed_size(m) > ss->max_message)
        st = SLIM_E_TOO_LARGE;
    if (st == SLIM_OK && slot)
        st = tx_room(ss, s);
    if (st == SLIM_OK && s->reliable && !pto)
        st = ss_tq_reserve(&s->tx_tq, 2 * ss->send_window);
    if (st == SLIM_OK && s->reliable) {
        und = ss_out_new(SLIM_SOUT_UNDELIVERED, s);
        if (und == NULL)
            st = SLIM_E_NOMEM;
    }
    if (st == SLIM_OK && s->reliable && s->g != NULL && !pto)
        st = ss_group_others(s, &wait, &nwait);
    if (st != SLIM_OK) {
        slim_wire_free(m);
        ss_out_free(und);
        return st;
    }
    if (und != NULL) {
        und->message_id = id;
        und->status = SLIM_E_SESSION_UNDELIVERED;
        und->reason = s->g != NULL ? R_UNDELIVERED_GROUP : R_UNDELIVERED;
        und->arg = s->max_retries;
    }
    if (message_id != NULL)
        *message_id = id;
    if (pto)
        return group_publish_to(ss, s, &dst->name, m, und, now);
    s->last_id = id;
    if (!slot) {
        if (ss_send_data(ss, s, m, UINT64_MAX) == SLIM_OK) {
            ss_note_sent(s, true);
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
    t->wait = wait;
    t->nwait = nwait;
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

static bool ptx_pending(const ss_sess *s) {
    return s->g != NULL && s->g->npt > 0;
}

static void drained_check(slim_sessions *ss, ss_sess *s, uint64_t now) {
    if (s->state != S_DRAIN || s->tx_count != 0 || ptx_pending(s))
        return;
    if (s->g != NULL)
        ss_group_drained(ss, s, now);
    else
        ss_p2p_drained(ss, s, now);
}

static void ptx_remove(ss_group *g, uint32_t i) {
    slim_wire_free(g->pt[i].msg);
    ss_out_free(g->pt[i].undelivered);
    g->pt[i] = g->pt[--g->npt];
}

/* Reliable message id of ours acknowledged by `from`. */
/* Whether t still waits for member's acknowledgement. */
static bool waits_for(const ss_tx *t, const slim_name *member) {
    for (uint32_t i = 0; i < t->nwait; i++)
        if (slim_name_equal(&t->wait[i], member))
            return true;
    return false;
}

/* The acknowledgement of `id` (from `member` in a group) came while older
 * messages, at least SS_FAST_GAP ids before it, still wait for theirs
 * (from that member): they or their acknowledgements were most likely
 * lost, and each goes again at once instead of at its timer, once (the
 * idea of TCP's fast retransmit and RACK, RFC 8985: a later message's
 * acknowledgement is earlier news of a loss than a timer). Its timer
 * starts again and its retries are untouched. Without it, one lost
 * acknowledgement held the whole window until its timer fired: through a
 * proxy losing one message in ten, a reliable session crawled at a few
 * dozen messages a second. */
static void fast_resend(slim_sessions *ss, ss_sess *s, uint32_t id, const slim_name *member,
                        uint64_t now) {
    /* Not ANYCAST: its messages go to different instances, whose
     * acknowledgements come in no common order, and a copy sent again may
     * reach another instance (a duplicate there). */
    uint32_t d = ss_seq_diff(id, s->tx_base);
    if (s->type == SLIM_SESSION_ANYCAST || d >= s->tx_count || ss->congested)
        return;
    for (uint32_t k = 0; k + SS_FAST_GAP <= d; k++) {
        ss_tx *u = tx_at(s, k);
        if (u->msg == NULL || !u->sent || u->fast || (member != NULL && !waits_for(u, member)))
            continue;
        u->fast = true;
        tx_send(ss, s, u, ss_seq_add(s->tx_base, k), now);
    }
}

static void acked(slim_sessions *ss, ss_sess *s, ss_tx *t, uint64_t now) {
    slim_wire_free(t->msg);
    t->msg = NULL;
    ss_out_free(t->undelivered);
    t->undelivered = NULL;
    tx_pop_front(s);
    drained_check(ss, s, now);
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

static slim_status group_ack_in(slim_sessions *ss, ss_sess *s, const slim_msg *m,
                                const slim_name *src, uint64_t now) {
    uint32_t id = ss_msg_mid(m);
    ss_group *g = s->g;
    if (id > SS_SEQ_MASK) { /* publish_to */
        for (uint32_t i = 0; i < g->npt; i++)
            if (ss_msg_mid(g->pt[i].msg) == id && slim_name_equal(&g->pt[i].to, src)) {
                ptx_remove(g, i);
                drained_check(ss, s, now);
                break;
            }
        return SLIM_OK;
    }
    ss_tx *t = tx_find(s, id);
    if (t == NULL || t->msg == NULL || !t->sent)
        return SLIM_OK; /* late copy of an acknowledgement */
    for (uint32_t i = 0; i < t->nwait; i++)
        if (slim_name_equal(&t->wait[i], src)) {
            t->wait[i] = t->wait[--t->nwait];
            fast_resend(ss, s, id, src, now);
            if (t->nwait == 0) {
                /* The sample is the slowest member's: the period is for
                 * everyone's acknowledgement, and a fast member's must not
                 * keep it short while a slow one's come too late. */
                rtt_sample(s, t, now);
                acked(ss, s, t, now);
            }
            return SLIM_OK;
        }
    return SLIM_OK; /* acknowledged already */
}

static slim_status msg_ack_in(slim_sessions *ss, ss_sess *s, const slim_msg *m, uint64_t now) {
    slim_name src;
    (void)ss_msg_source(m, &src);
    if (!s->reliable)
        return SLIM_OK;
    s->last_ack_ms = now; /* a late one too: the peer is alive (rto_backoff) */
    if (s->g != NULL)
        return group_ack_in(ss, s, m, &src, now);
    ss_tx *t = tx_find(s, ss_msg_mid(m));
    if (t == NULL || t->msg == NULL || !t->sent)
        return SLIM_OK; /* late copy of an acknowledgement */
    if (!answers_for(s, t->msg, &src)) {
        ss->c.drop_unexpected++;
        return SLIM_E_SESSION_WRONG_PEER;
    }
    remember_instance(s, m);
    rtt_sample(s, t, now);
    fast_resend(ss, s, ss_msg_mid(m), NULL, now);
    acked(ss, s, t, now);
    return SLIM_OK;
}

static slim_status rtx_request_in(slim_sessions *ss, ss_sess *s, const slim_msg *m) {
    uint64_t conn = 0;
    bool has_conn = ss_msg_in_conn(m, &conn);
    uint32_t id = ss_msg_mid(m);
    ss_tx *t = tx_find(s, id);
    if (t != NULL && t->msg != NULL && t->sent && s->g != NULL) {
        /* A group's message goes again only to a member it was sent to
         * and that has not acknowledged it: a member that joined after it
         * was sent learns that it is not its to have (the error reply
         * below), which ends its wait for older ids (rx_probe). */
        slim_name req;
        bool owed = false;
        if (ss_msg_source(m, &req))
            for (uint32_t i = 0; i < t->nwait && !owed; i++)
                owed = slim_name_equal(&t->wait[i], &req);
        if (!owed) {
            SLIM_LOGD(MOD, "session %u: message %u asked for again by one it is not owed to", s->id,
                      id);
            t = NULL;
        }
    }
    if (t != NULL && t->msg != NULL && t->sent) {
        /* The stored message, as an RTX_REPLY back where the request came
         * from. */
        slim_pb_header *h = t->msg->publish->header;
        Dataplane__Proto__V1__SessionHeader *sh = t->msg->publish->session;
        sh->session_message_type = (Dataplane__Proto__V1__SessionMessageType)T_RTX_REPLY;
        h->_forward_to_case = has_conn ? DATAPLANE__PROTO__V1__SLIMHEADER___FORWARD_TO_FORWARD_TO
                                       : DATAPLANE__PROTO__V1__SLIMHEADER___FORWARD_TO__NOT_SET;
        h->forward_to = conn;
        /* a group's copy goes to the requester alone */
        ss_name req = {0};
        bool redirect = s->g != NULL;
        if (redirect && (ss_name_from_pb(&req, m->publish->header->source) != SLIM_OK ||
                         set_destination(t->msg, &req) != SLIM_OK)) {
            ss->c.send_failures++;
        } else {
            if (redirect)
                h->fanout = 1;
            if (ss_send_data(ss, s, t->msg, t->epoch) == SLIM_OK)
                ss->c.rtx_replies++;
            else
                SLIM_LOGD(MOD, "session %u: message %u asked for again: cannot send it", s->id, id);
        }
        ss_name_clear(&req);
        if (redirect) {
            h->fanout = SS_FANOUT_ALL;
            if (set_destination(t->msg, &s->g->data) != SLIM_OK)
                ss->c.send_failures++;
        }
        sh->session_message_type = (Dataplane__Proto__V1__SessionMessageType)T_MSG;
        h->_forward_to_case = DATAPLANE__PROTO__V1__SLIMHEADER___FORWARD_TO__NOT_SET;
        h->forward_to = 0;
        return SLIM_OK;
    }
    /* Gone (acknowledged or given up): say so. */
    SLIM_LOGD(MOD, "session %u: message %u asked for again: not there, answering so", s->id, id);
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
        .group = s->g != NULL,
    };
    slim_msg *r;
    slim_status st = ss_msg_app(&h, "", slim_bytes_of(NULL, 0), &r);
    if (st != SLIM_OK) {
        ss->c.send_failures++;
        return SLIM_OK;
    }
    if (ss_send_data(ss, s, r, UINT64_MAX) == SLIM_OK)
        ss->c.rtx_replies++;
    slim_wire_free(r);
    return SLIM_OK;
}

/* ---- receiving ---- */

static bool is_publish_to(const slim_msg *m) {
    for (size_t i = 0; i < m->n_metadata; i++)
        if (strcmp(m->metadata[i]->key, SS_KEY_PUBLISH_TO) == 0)
            return true;
    return false;
}

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
        .group = s->g != NULL,
    };
    slim_msg *a;
    if (ss_msg_app(&h, "", slim_bytes_of(NULL, 0), &a) != SLIM_OK) {
        ss->c.send_failures++;
        return;
    }
    if (s->g != NULL && is_publish_to(m) &&
        slim_wire_metadata_set(a, SS_KEY_PUBLISH_TO, SS_VAL_TRUE) != SLIM_OK) {
        slim_wire_free(a);
        ss->c.send_failures++;
        return;
    }
    if (ss_send_new(ss, s->handle, a) == SLIM_OK)
        ss_note_sent(s, false);
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

/* -- reorder buffers: ids q->next .. q->next + q->count - 1 -- */

static ss_rx *rx_at(const ss_rxq *q, uint32_t i) {
    return &q->rx[(q->head + i) % q->cap];
}

static slim_status rx_room(ss_rxq *q, uint32_t need) {
    void *ring = q->rx;
    slim_status st =
        ss_ring_room(&ring, sizeof(ss_rx), &q->cap, &q->head, q->count, need, SS_RX_SPAN);
    q->rx = ring;
    return st;
}

static bool rx_live(const void *ctx, const ss_tq_ent *e) {
    const ss_rxq *q = ctx;
    uint32_t d = ss_seq_diff(e->id, q->next);
    if (d >= q->count)
        return false;
    const ss_rx *r = rx_at(q, d);
    return r->out == NULL && r->rtx_deadline == e->when;
}

static void rx_release(slim_sessions *ss, ss_rxq *q) {
    if (q->hold_until != 0)
        return; /* a late joiner's baseline is not settled yet */
    while (q->count > 0 && rx_at(q, 0)->out != NULL) {
        ss_rx *r = rx_at(q, 0);
        deliver(ss, r->out);
        memset(r, 0, sizeof *r);
        q->head = (q->head + 1) % q->cap;
        q->next = ss_seq_add(q->next, 1);
        q->count--;
    }
}

/* Who sent what q holds. */
static const ss_name *rxq_source(const ss_sess *s, const ss_rxq *q) {
    return s->g != NULL ? &q->src : &s->peer;
}

static void send_rtx_request(slim_sessions *ss, ss_sess *s, ss_rxq *q, uint32_t id, bool again) {
    slim_str lt[3], pt[3];
    ss_hdr h = {
        .src = ss_name_wire(&s->local, lt),
        .dst = ss_name_wire(rxq_source(s, q), pt),
        .type = T_RTX_REQUEST,
        .sid = s->id,
        .mid = id,
        .has_forward_to = q->conn != UINT64_MAX,
        .forward_to = q->conn,
        .group = s->g != NULL,
    };
    slim_msg *r;
    if (ss_msg_app(&h, "", slim_bytes_of(NULL, 0), &r) != SLIM_OK) {
        ss->c.send_failures++;
        return;
    }
    if (ss_send_new(ss, s->handle, r) == SLIM_OK) {
        ss->c.rtx_requests++;
        if (!again)
            ss_note_sent(s, false);
    }
}

/* A LOST output for id of q's sender; NULL: no memory. */
static ss_out *lost_out(ss_sess *s, const ss_rxq *q, uint32_t id, ss_reason why) {
    ss_out *o = ss_out_new(SLIM_SOUT_LOST, s);
    if (o == NULL)
        return NULL;
    slim_sname v;
    ss_name_view(rxq_source(s, q), &v);
    if (ss_name_set(&o->who, &v.name, v.text) != SLIM_OK) {
        ss_out_free(o);
        return NULL;
    }
    o->status = SLIM_E_SESSION_LOST;
    o->reason = why;
    o->message_id = id;
    o->arg = s->max_retries;
    return o;
}

/* Slots k .. d - 1 become missing ids, each asked for at once. */
static void rx_missing(slim_sessions *ss, ss_sess *s, ss_rxq *q, uint32_t k, uint32_t d,
                       uint64_t now) {
    for (; k < d; k++) {
        ss_rx *r = rx_at(q, k);
        memset(r, 0, sizeof *r);
        r->rtx_deadline = now + rx_period(s, q);
        r->asked_at = now;
        uint32_t mid = ss_seq_add(q->next, k);
        if (k >= q->count)
            q->count = k + 1;
        ss_tq_push(&q->tq, r->rtx_deadline, mid, rx_live, q);
        send_rtx_request(ss, s, q, mid, false);
    }
}

/* A late joiner waiting on a sender's baseline asks for the id before it:
 * the sender answers with the message if it was sent to us (then we ask
 * for the one before that), or with an error if it was sent before we
 * joined (then the baseline is settled: rx_settle). Id 1 has nothing
 * before it. An older sender that answers anything it still has only
 * walks us back until the hold's time runs out. */
static void rx_probe(slim_sessions *ss, ss_sess *s, ss_rxq *q) {
    if (q->hold_until == 0)
        return;
    if (q->next == 1) {
        q->hold_until = 0;
        rx_release(ss, q);
        return;
    }
    send_rtx_request(ss, s, q, ss_seq_add(q->next, SS_SEQ_MASK), false);
}

/* A late joiner's first ids from a sender: id older than the tentative
 * baseline moves it back (room permitting). */
static slim_status rx_lower_base(slim_sessions *ss, ss_sess *s, ss_rxq *q, uint32_t id,
                                 uint64_t now) {
    uint32_t shift = ss_seq_diff(q->next, id);
    if (q->count + shift > SS_RX_SPAN)
        return SLIM_E_SESSION_UNEXPECTED;
    if (rx_room(q, q->count + shift) != SLIM_OK)
        return SLIM_E_NOMEM;
    q->head = (q->head + q->cap - shift) % q->cap;
    uint32_t old = q->count;
    q->count += shift;
    q->next = id;
    q->start = id;
    for (uint32_t k = 0; k < shift; k++)
        memset(rx_at(q, k), 0, sizeof(ss_rx));
    (void)old;
    /* ids between the new and the old baseline are missing */
    for (uint32_t k = 1; k < shift; k++) {
        ss_rx *r = rx_at(q, k);
        r->rtx_deadline = now + rx_period(s, q);
        r->asked_at = now;
        uint32_t mid = ss_seq_add(q->next, k);
        ss_tq_push(&q->tq, r->rtx_deadline, mid, rx_live, q);
        send_rtx_request(ss, s, q, mid, false);
    }
    return SLIM_OK;
}

static slim_status rx_insert(slim_sessions *ss, ss_sess *s, ss_rxq *q, slim_msg *m, uint64_t now) {
    uint32_t id = ss_msg_mid(m);
    q->heard_ms = now;
    if (ss_msg_type(m) == T_RTX_REPLY)
        q->backoff = 1; /* an answer came: the requests get through */
    if (s->g != NULL && !q->init) {
        /* The first message from this sender sets the baseline; one after
         * 1 may be followed by older ones the sender sends us again (we
         * joined late): delivery waits one timeout for them. */
        q->init = true;
        q->next = id;
        q->start = id;
        if (id != 1)
            q->hold_until = now + s->timeout_ms + s->timeout_ms / 2;
        uint64_t conn;
        if (ss_msg_in_conn(m, &conn))
            q->conn = conn; /* where the probe goes */
        rx_probe(ss, s, q);
    }
    uint32_t d = ss_seq_diff(id, q->next);
    if (d > HALF_SPACE && s->g != NULL && q->hold_until != 0) {
        if (s->held) {
            ss->c.drop_backlog++;
            slim_wire_free(m);
            return SLIM_E_QUEUE_FULL;
        }
        slim_status st = rx_lower_base(ss, s, q, id, now);
        if (st != SLIM_OK) {
            if (st == SLIM_E_NOMEM)
                ss->c.drop_nomem++;
            else
                ss->c.drop_unexpected++;
            slim_wire_free(m);
            return st;
        }
        d = 0;
        rx_probe(ss, s, q);
    } else if (d > HALF_SPACE && s->g != NULL) {
        uint32_t back = ss_seq_diff(q->start, id); /* 1.. : before the first delivered */
        if (back >= 1 && back <= 64 && !((q->late >> (back - 1)) & 1)) {
            /* Never delivered, and too late to be: said, not skipped. */
            ss_out *o = lost_out(s, q, id, R_LOST_SENDER);
            if (o == NULL) {
                ss->c.drop_nomem++;
                slim_wire_free(m);
                return SLIM_E_NOMEM;
            }
            o->reason = R_LOST_LATE;
            q->late |= (uint64_t)1 << (back - 1);
            send_ack(ss, s, m);
            deliver(ss, o);
            slim_wire_free(m);
            return SLIM_OK;
        }
    }
    if (d > HALF_SPACE || (d < q->count && rx_at(q, d)->out != NULL)) {
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
    if (o == NULL || rx_room(q, d + 1) != SLIM_OK ||
        ss_tq_reserve(&q->tq, 2 * SS_RX_SPAN) != SLIM_OK) {
        if (o != NULL)
            ss_out_free(o);
        else
            slim_wire_free(m);
        ss->c.drop_nomem++;
        return SLIM_E_NOMEM;
    }
    send_ack(ss, s, m);
    if (ss_msg_type(m) == T_RTX_REPLY && d < q->count) {
        /* The answer to a single request gives a round-trip sample (the
         * receiver's own, which may be all it has: a member that only
         * listens, or whose own messages were all sent again) */
        const ss_rx *r = rx_at(q, d);
        if (r->rtx_tries == 0 && r->asked_at != 0 && now >= r->asked_at)
            rtt_add(s, now - r->asked_at, false);
    }
    uint64_t conn;
    if (ss_msg_in_conn(m, &conn))
        q->conn = conn;
    /* Ids newly found missing are asked for at once. */
    rx_missing(ss, s, q, q->count, d, now);
    if (d >= q->count) {
        memset(rx_at(q, d), 0, sizeof(ss_rx));
        q->count = d + 1;
    }
    rx_at(q, d)->out = o;
    rx_release(ss, q);
    return SLIM_OK;
}

/* The sender says it no longer has `id`, or never answered for it. */
static void rx_lost(slim_sessions *ss, ss_sess *s, ss_rxq *q, uint32_t id, ss_reason why) {
    uint32_t d = ss_seq_diff(id, q->next);
    if (d >= q->count || rx_at(q, d)->out != NULL)
        return;
    ss_out *o = lost_out(s, q, id, why);
    if (o == NULL)
        return; /* the RTX timer asks again */
    const ss_name *from = rxq_source(s, q);
    SLIM_LOGD(MOD, "session %u: message %u of %s/%s/%s lost (%s)", s->id, id,
              from->text[0] ? from->text[0] : "?", from->text[1] ? from->text[1] : "?",
              from->text[2] ? from->text[2] : "?",
              why == R_LOST_RTX ? "no answer" : "the sender no longer has it");
    SLIM_LOGD(MOD, "session %u: round trip %u ms (+/- %u), request backoff %u", s->id, s->srtt_ms,
              s->rttvar_ms, q->backoff);
    rx_at(q, d)->out = o;
    rx_release(ss, q);
}

void ss_rxq_free(ss_rxq *q) {
    for (uint32_t i = 0; i < q->count; i++)
        ss_out_free(rx_at(q, i)->out);
    slim_free(q->rx);
    q->rx = NULL;
    q->cap = q->count = q->head = 0;
    ss_tq_free(&q->tq);
    ss_name_clear(&q->src);
}

/* The reorder buffer of m's sender in a group (made on its first
 * message); NULL: too many senders or no memory. */
static ss_rxq *group_rxq(slim_sessions *ss, ss_sess *s, const slim_msg *m) {
    ss_group *g = s->g;
    slim_name src;
    (void)ss_msg_source(m, &src);
    for (uint32_t i = 0; i < g->nsrc; i++)
        if (slim_name_equal(&g->src[i].src.name, &src))
            return &g->src[i];
    if (g->nsrc >= ss->max_members)
        return NULL;
    if (g->nsrc == g->src_cap) {
        uint32_t cap = g->src_cap ? g->src_cap * 2 : 4;
        ss_rxq *p = slim_realloc(g->src, cap * sizeof *p);
        if (p == NULL)
            return NULL;
        g->src = p;
        g->src_cap = cap;
    }
    ss_rxq *q = &g->src[g->nsrc];
    memset(q, 0, sizeof *q);
    q->conn = UINT64_MAX;
    q->next = 1;
    if (ss_name_from_pb(&q->src, m->publish->header->source) != SLIM_OK)
        return NULL;
    g->nsrc++;
    return q;
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

/* publish_to data in a group: delivered at once, once. */
static slim_status group_direct(slim_sessions *ss, ss_sess *s, slim_msg *m) {
    ss_group *g = s->g;
    slim_name src;
    (void)ss_msg_source(m, &src);
    uint32_t id = ss_msg_mid(m);
    for (uint32_t i = 0; i < SS_PT_SEEN; i++)
        if (g->pt_seen[i].id == id && id != 0 && slim_name_equal(&g->pt_seen[i].src, &src)) {
            if (s->reliable)
                send_ack(ss, s, m);
            ss->c.drop_duplicate++;
            slim_wire_free(m);
            return SLIM_E_SESSION_DUPLICATE;
        }
    if (s->reliable && s->held) {
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
    g->pt_seen[g->pt_seen_next].src = src;
    g->pt_seen[g->pt_seen_next].id = id;
    g->pt_seen_next = (g->pt_seen_next + 1) % SS_PT_SEEN;
    if (s->reliable)
        send_ack(ss, s, m);
    deliver(ss, o);
    return SLIM_OK;
}

static slim_status group_data_in(slim_sessions *ss, ss_sess *s, slim_msg *m, uint64_t now) {
    uint32_t type = ss_msg_type(m);
    slim_name src;
    (void)ss_msg_source(m, &src);
    bool open = s->state == S_READY || s->state == S_DRAIN || s->state == S_CLOSING;
    if (type == T_MSG_ACK || type == T_RTX_REQUEST) {
        slim_status st = SLIM_OK;
        if (type == T_MSG_ACK)
            st = msg_ack_in(ss, s, m, now);
        else if (s->reliable)
            st = rtx_request_in(ss, s, m);
        else {
            ss->c.drop_unexpected++;
            st = SLIM_E_SESSION_UNEXPECTED;
        }
        slim_wire_free(m);
        return st;
    }
    /* Data: from members only (one not known yet sends it again). */
    if (!open || slim_name_equal(&src, &s->local.name) || !ss_group_is_member(s, &src) ||
        (type == T_RTX_REPLY && !s->reliable)) {
        ss->c.drop_unexpected++;
        slim_wire_free(m);
        return SLIM_E_SESSION_UNEXPECTED;
    }
    slim_status st;
    if (s->mls != NULL && (st = ss_mls_open(ss, s, m, NULL)) != SLIM_OK) {
        slim_wire_free(m);
        return st;
    }
    if (type == T_MSG && is_publish_to(m))
        return group_direct(ss, s, m);
    if (!s->reliable)
        return unordered(ss, s, m, false);
    ss_rxq *q = group_rxq(ss, s, m);
    if (q == NULL) {
        ss->c.drop_nomem++;
        slim_wire_free(m);
        return SLIM_E_NOMEM;
    }
    if (type == T_RTX_REPLY && m->publish->header->_error_case) {
        uint32_t id = ss_msg_mid(m);
        if (q->init && q->hold_until != 0 && id == ss_seq_add(q->next, SS_SEQ_MASK)) {
            q->hold_until = 0; /* not ours to have: the baseline is settled */
            rx_release(ss, q);
        } else if (q->init) {
            rx_lost(ss, s, q, id, R_LOST_SENDER);
        }
        slim_wire_free(m);
        return SLIM_OK;
    }
    return rx_insert(ss, s, q, m, now);
}

slim_status ss_data_input(slim_sessions *ss, ss_sess *s, slim_msg *m, uint64_t now) {
    if (s->g != NULL)
        return group_data_in(ss, s, m, now);
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
        if (s->mls != NULL && (st = ss_mls_open(ss, s, m, NULL)) != SLIM_OK) {
            slim_wire_free(m);
            return st;
        }
        if (type == T_RTX_REPLY && m->publish->header->_error_case) {
            rx_lost(ss, s, &s->rxq, ss_msg_mid(m), R_LOST_SENDER);
            slim_wire_free(m);
            return SLIM_OK;
        }
        if (!unicast)
            remember_instance(s, m);
        if (unicast && s->reliable)
            return rx_insert(ss, s, &s->rxq, m, now);
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

/* The words naming the members that never acknowledged t. */
static char *unackers_note(const ss_sess *s, const ss_tx *t) {
    size_t cap = 64 + (size_t)t->nwait * (3 * SLIM_NAME_COMPONENT_MAX + 48);
    if (cap > 4096)
        cap = 4096;
    char *b = slim_malloc(cap);
    if (b == NULL)
        return NULL;
    size_t len = (size_t)snprintf(b, cap, "%u member%s never acknowledged it:", t->nwait,
                                  t->nwait == 1 ? "" : "s");
    for (uint32_t i = 0; i < t->nwait && len + 8 < cap; i++) {
        const ss_name *n = ss_group_member(s, &t->wait[i]);
        if (n == NULL || !ss_name_has_text(n))
            continue;
        int w = snprintf(b + len, cap - len, "%s %s/%s/%s", i ? "," : "", n->text[0], n->text[1],
                         n->text[2]);
        if (w < 0 || (size_t)w >= cap - len) {
            b[len] = '\0';
            break;
        }
        len += (size_t)w;
    }
    return b;
}

/* How long a receiver waits before asking a sender again for a missing
 * id: the retransmission period without its backoff (the timeout, or the
 * round trip this session measures when that is longer: an answer cannot
 * come sooner, and the retries would run out while it is on its way). A
 * group member doubles it (at most once a period, up to 16 times) while
 * the sender's other data keeps arriving: it is alive, and its answers are
 * slow, not lost (its own retransmissions back off the same way, ss_rto).
 * A sender gone silent keeps the base period. */
static uint32_t rx_period(const ss_sess *s, const ss_rxq *q) {
    uint64_t p = rto_base(s) * (q->backoff > 1 ? q->backoff : 1);
    return p > SS_MAX_RTO_MS ? SS_MAX_RTO_MS : (uint32_t)p;
}

static void rx_backoff(const ss_sess *s, ss_rxq *q, uint64_t now) {
    if (s->g == NULL || q->heard_ms == 0 || now - q->heard_ms >= rx_period(s, q) ||
        now < q->backoff_at)
        return;
    if (q->backoff < 16)
        q->backoff = q->backoff > 1 ? 2 * q->backoff : 2;
    q->backoff_at = now + rx_period(s, q);
}

static void rxq_expire(slim_sessions *ss, ss_sess *s, ss_rxq *q, uint64_t now) {
    if (q->hold_until != 0 && q->hold_until <= now) {
        q->hold_until = 0;
        rx_release(ss, q);
    }
    ss_tq_ent e;
    while (ss_tq_peek(&q->tq, &e) && e.when <= now) {
        ss_tq_pop(&q->tq);
        if (!rx_live(q, &e))
            continue;
        ss_rx *r = rx_at(q, ss_seq_diff(e.id, q->next));
        rx_backoff(s, q, now);
        r->rtx_deadline = now + rx_period(s, q);
        if (ss->congested || s->held) {
            /* The request could not leave, or its answer would be dropped
             * (the reader is behind): later, not counted. */
            ss_tq_push(&q->tq, r->rtx_deadline, e.id, rx_live, q);
            continue;
        }
        if (++r->rtx_tries > s->max_retries) {
            /* given up: said in its place, and the stream moves on */
            rx_lost(ss, s, q, e.id, R_LOST_RTX);
            if (rx_live(q, &(ss_tq_ent){r->rtx_deadline, e.id}))
                ss_tq_push(&q->tq, r->rtx_deadline, e.id, rx_live, q); /* no memory: later */
            continue;
        }
        ss_tq_push(&q->tq, r->rtx_deadline, e.id, rx_live, q);
        send_rtx_request(ss, s, q, e.id, true);
    }
}

void ss_data_expire(slim_sessions *ss, ss_sess *s, uint64_t now) {
    ss_tq_ent e;
    while (ss_tq_peek(&s->tx_tq, &e) && e.when <= now) {
        ss_tq_pop(&s->tx_tq);
        if (!tx_live(s, &e))
            continue;
        ss_tx *t = tx_find(s, e.id);
        if (ss->congested) { /* the copy could not leave: later, not counted */
            t->deadline = now + ss_rto(s);
            ss_tq_push(&s->tx_tq, t->deadline, e.id, tx_live, s);
            continue;
        }
        rto_backoff(s, t, now);
        if (++t->tries > s->max_retries) {
            ss_out *o = t->undelivered;
            t->undelivered = NULL;
            if (s->g != NULL)
                o->note = unackers_note(s, t);
            slim_wire_free(t->msg);
            t->msg = NULL;
            ss->c.undelivered++;
            ss_out_push(ss, o);
            tx_pop_front(s);
            continue;
        }
        tx_send(ss, s, t, e.id, now);
    }
    if (s->g != NULL) {
        ss_group *g = s->g;
        for (uint32_t i = 0; i < g->npt;) {
            ss_ptx *t = &g->pt[i];
            if (t->deadline > now) {
                i++;
                continue;
            }
            if (ss->congested) {
                t->deadline = now + ss_rto(s);
                i++;
                continue;
            }
            if (++t->tries > s->max_retries) {
                ss_out *o = t->undelivered;
                t->undelivered = NULL;
                ss->c.undelivered++;
                ss_out_push(ss, o);
                ptx_remove(g, i);
                continue;
            }
            t->deadline = now + ss_rto(s);
            if (ss_send_data(ss, s, t->msg, t->epoch) == SLIM_OK)
                ss->c.retransmissions++;
            i++;
        }
        for (uint32_t i = 0; i < g->nsrc; i++)
            rxq_expire(ss, s, &g->src[i], now);
    } else {
        rxq_expire(ss, s, &s->rxq, now);
    }
    drained_check(ss, s, now);
}

static uint64_t rxq_deadline(const ss_rxq *q) {
    uint64_t d = q->hold_until ? q->hold_until : UINT64_MAX;
    ss_tq_ent e;
    if (ss_tq_peek(&q->tq, &e) && e.when < d)
        d = e.when;
    return d;
}

uint64_t ss_data_deadline(const ss_sess *s) {
    uint64_t d = UINT64_MAX;
    ss_tq_ent e;
    if (ss_tq_peek(&s->tx_tq, &e) && e.when < d)
        d = e.when;
    if (s->g != NULL) {
        for (uint32_t i = 0; i < s->g->npt; i++)
            if (s->g->pt[i].deadline < d)
                d = s->g->pt[i].deadline;
        for (uint32_t i = 0; i < s->g->nsrc; i++) {
            uint64_t q = rxq_deadline(&s->g->src[i]);
            if (q < d)
                d = q;
        }
    } else {
        uint64_t q = rxq_deadline(&s->rxq);
        if (q < d)
            d = q;
    }
    return d;
}

/* ---- members leaving ---- */

void ss_data_member_down(slim_sessions *ss, ss_sess *s, const slim_name *who, uint64_t now) {
    ss_group *g = s->g;
    for (uint32_t i = 0; i < s->tx_count; i++) {
        ss_tx *t = tx_at(s, i);
        if (t->msg == NULL)
            continue;
        for (uint32_t k = 0; k < t->nwait; k++)
            if (slim_name_equal(&t->wait[k], who)) {
                t->wait[k] = t->wait[--t->nwait];
                break;
            }
        if (t->nwait == 0 && t->sent) {
            slim_wire_free(t->msg);
            t->msg = NULL;
            ss_out_free(t->undelivered);
            t->undelivered = NULL;
        }
    }
    tx_pop_front(s);
    for (uint32_t i = 0; i < g->npt;)
        if (slim_name_equal(&g->pt[i].to, who))
            ptx_remove(g, i);
        else
            i++;
    drained_check(ss, s, now);
}

void ss_data_member_gone(slim_sessions *ss, ss_sess *s, const slim_name *who, uint64_t now) {
    ss_group *g = s->g;
    for (uint32_t i = 0; i < g->nsrc; i++)
        if (slim_name_equal(&g->src[i].src.name, who)) {
            ss_rxq_free(&g->src[i]);
            g->src[i] = g->src[--g->nsrc];
            break;
        }
    ss_data_member_down(ss, s, who, now);
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
    if (s->g != NULL)
        for (uint32_t i = 0; i < s->g->npt; i++)
            if (s->g->pt[i].undelivered != NULL) {
                s->g->pt[i].undelivered->status = SLIM_E_SESSION_CLOSED_UNACKED;
                s->g->pt[i].undelivered->reason = R_UNDELIVERED_ENDED;
                ss->c.undelivered++;
                ss_out_push(ss, s->g->pt[i].undelivered);
                s->g->pt[i].undelivered = NULL;
            }
    ss_data_free(s);
}

void ss_data_free(ss_sess *s) {
    for (uint32_t i = 0; i < s->tx_count; i++) {
        ss_tx *t = tx_at(s, i);
        slim_wire_free(t->msg);
        ss_out_free(t->undelivered);
        slim_free(t->wait);
    }
    slim_free(s->tx);
    s->tx = NULL;
    s->tx_cap = s->tx_count = s->tx_head = 0;
    ss_rxq_free(&s->rxq);
    ss_tq_free(&s->tx_tq);
    slim_free(s->seen);
    s->seen = NULL;
    s->nseen = 0;
    if (s->g != NULL) {
        ss_group *g = s->g;
        while (g->npt > 0)
            ptx_remove(g, g->npt - 1);
        slim_free(g->pt);
        g->pt = NULL;
        for (uint32_t i = 0; i < g->nsrc; i++)
            ss_rxq_free(&g->src[i]);
        slim_free(g->src);
        g->src = NULL;
        g->nsrc = g->src_cap = 0;
    }
}
