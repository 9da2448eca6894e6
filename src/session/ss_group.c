/*
 * MULTICAST (group) sessions without MLS (docs/sessions.md, "Groups"),
 * after upstream's group sequences (session-protocol-head.md §2.5, §5.3-5.8).
 *
 * The app that opens the group is its moderator: the channel's data and
 * control names are derived from the channel and the provider id, and the
 * group is ready at once. Invites and removals are tasks, run one at a
 * time in call order:
 *
 *   invite   DISCOVERY_REQUEST -> <- DISCOVERY_REPLY
 *            subscriptions to the channel (first time), routes to the
 *            replier and to the channel over the reply's connection, each
 *            waited for
 *            JOIN_REQUEST -> <- JOIN_REPLY            roster += P
 *            GROUP_UPDATE(ADD) to the channel (more than 2 members) and
 *            GROUP_WELCOME to P; done when every ack is in
 *   remove   GROUP_UPDATE(REMOVE) (more than 2), then LEAVE_REQUEST to P
 *
 * A member (a JOIN_REQUEST of type MULTICAST made its session) answers the
 * join, takes the welcome (subscriptions and routes over the welcome's
 * connection, waited for, then GROUP_ACK and NEW), applies the moderator's
 * updates, and ends on GROUP_CLOSE (E_SESSION_MODERATOR_CLOSED) or on the
 * moderator's LEAVE_REQUEST (E_SESSION_REMOVED). Group control messages
 * from anyone but the moderator are dropped. A member that closes drains
 * its data, gives up its routes and sends LEAVE_REQUEST (LEAVING_SESSION);
 * the moderator answers, tells the application (MEMBER LEFT) and then the
 * others with an update (a task). The moderator's close cancels the
 * tasks, drains, and sends GROUP_CLOSE to the channel.
 *
 * Liveness: every member sends a HEARTBEAT to the control name each
 * heartbeat period in which it sent nothing else to the group; a member
 * silent for heartbeat_misses periods is down (MEMBER DOWN, nothing waits
 * for it), anything from it brings it up again; the moderator removes a
 * member down for offline_removal, and a member ends its session when its
 * moderator is down that long. Inviting a down member's name replaces it.
 */
#include "session/ss_int.h"
#include "core/alloc.h"
#include "core/log.h"

#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#define MOD "session"

static void task_run(slim_sessions *ss, ss_sess *s, uint64_t now);
static void sets_check(slim_sessions *ss, ss_sess *s, uint64_t now);
static void send_welcome(slim_sessions *ss, ss_sess *s, uint64_t now);

/* ---- channel names ---- */

/* XXH3-128 with `seed` of "T/c0/c1/c2/<kind>", reserved values mapped to
 * (v mod (2^128 - 52)) + 1. */
static slim_id channel_id(const char *t, const slim_str c[3], const char *kind, uint64_t seed,
                          bool *ok) {
    size_t len = strlen(t) + c[0].len + c[1].len + c[2].len + strlen(kind) + 5;
    char *b = slim_malloc(len);
    slim_id v = {0, 0};
    *ok = b != NULL;
    if (b == NULL)
        return v;
    int n = snprintf(b, len, "%s/%.*s/%.*s/%.*s/%s", t, (int)c[0].len, c[0].ptr, (int)c[1].len,
                     c[1].ptr, (int)c[2].len, c[2].ptr, kind);
    XXH128_hash_t x = XXH3_128bits_withSeed(b, (size_t)n, seed);
    slim_free(b);
    v.hi = x.high64;
    v.lo = x.low64;
    if (v.hi == UINT64_MAX && v.lo >= UINT64_MAX - 50) {
        v.hi = 0;
        v.lo = v.lo - (UINT64_MAX - 52);
    }
    return v;
}

static slim_status channel_names(slim_sessions *ss, ss_group *g, const slim_sname *ch) {
    slim_id d = {0, 0}, c = {0, 0};
    bool ok1 = true, ok2 = true;
    uint64_t seed = 0;
    for (; seed < 10; seed++) {
        d = channel_id(ss->provider_id, ch->text, "data", seed, &ok1);
        c = channel_id(ss->provider_id, ch->text, "control", seed, &ok2);
        if (!ok1 || !ok2)
            return SLIM_E_NOMEM;
        if (!slim_id_equal(d, c))
            break;
    }
    if (seed == 10)
        return SLIM_E_INVALID_ARG;
    slim_name dn, cn;
    slim_status st = slim_name_from_strings(ch->text, d, &dn);
    if (st == SLIM_OK)
        st = slim_name_from_strings(ch->text, c, &cn);
    if (st == SLIM_OK)
        st = ss_name_set(&g->data, &dn, ch->text);
    if (st == SLIM_OK)
        st = ss_name_set(&g->ctrl, &cn, ch->text);
    return st;
}

/* ---- the roster ---- */

static long mem_find(const ss_group *g, const slim_name *n, bool by_service) {
    for (uint32_t i = 0; i < g->nmem; i++)
        if (by_service ? slim_name_same_service(&g->mem[i].n.name, n)
                       : slim_name_equal(&g->mem[i].n.name, n))
            return (long)i;
    return -1;
}

static slim_status mem_add(ss_group *g, const ss_name *n) {
    if (g->nmem == g->mem_cap) {
        uint32_t cap = g->mem_cap ? g->mem_cap * 2 : 4;
        ss_member *p = slim_realloc(g->mem, cap * sizeof *p);
        if (p == NULL)
            return SLIM_E_NOMEM;
        g->mem = p;
        g->mem_cap = cap;
    }
    ss_member *m = &g->mem[g->nmem];
    memset(m, 0, sizeof *m);
    slim_sname v;
    ss_name_view(n, &v);
    slim_status st = ss_name_set(&m->n, &v.name, v.text);
    if (st == SLIM_OK)
        g->nmem++;
    return st;
}

static void mem_del(ss_group *g, uint32_t i) {
    ss_name_clear(&g->mem[i].n);
    g->mem[i] = g->mem[--g->nmem];
}

bool ss_group_is_member(const ss_sess *s, const slim_name *n) {
    return s->g != NULL && mem_find(s->g, n, false) >= 0;
}

const ss_name *ss_group_member(const ss_sess *s, const slim_name *n) {
    if (s->g == NULL)
        return NULL;
    long i = mem_find(s->g, n, slim_id_is_any(n->id));
    return i < 0 ? NULL : &s->g->mem[i].n;
}

slim_status ss_group_others(const ss_sess *s, slim_name **out, uint32_t *n) {
    const ss_group *g = s->g;
    *out = NULL;
    *n = 0;
    if (g->nmem <= 1)
        return SLIM_OK;
    slim_name *w = slim_malloc(g->nmem * sizeof *w);
    if (w == NULL)
        return SLIM_E_NOMEM;
    uint32_t k = 0;
    for (uint32_t i = 0; i < g->nmem; i++)
        if (!g->mem[i].offline && !slim_name_equal(&g->mem[i].n.name, &s->local.name))
            w[k++] = g->mem[i].n.name;
    if (k == 0) {
        slim_free(w);
        w = NULL;
    }
    *out = w;
    *n = k;
    return SLIM_OK;
}

/* MEMBER output about `who`. */
static void member_out(slim_sessions *ss, ss_sess *s, const ss_name *who, slim_member_change c) {
    ss_out *o = ss_out_new(SLIM_SOUT_MEMBER, s);
    slim_sname v;
    ss_name_view(who, &v);
    if (o == NULL || ss_name_set(&o->who, &v.name, v.text) != SLIM_OK) {
        ss_out_free(o); /* the roster is right; only the event is lost */
        return;
    }
    o->arg = (uint32_t)c;
    ss_out_push(ss, o);
}

/* ---- routes and subscriptions the session holds ---- */

static slim_status hold_add(slim_sessions *ss, ss_sess *s, const ss_name *to, uint64_t conn,
                            bool sub, const slim_name *owner, bool wait) {
    ss_group *g = s->g;
    if (g->nhold == g->hold_cap) {
        uint32_t cap = g->hold_cap ? g->hold_cap * 2 : 8;
        ss_hold *p = slim_realloc(g->hold, cap * sizeof *p);
        if (p == NULL)
            return SLIM_E_NOMEM;
        g->hold = p;
        g->hold_cap = cap;
    }
    bool ready;
    ss_route *r = ss_route_ref(ss, s->handle, &s->local, to, conn, sub, &ready);
    if (r == NULL)
        return SLIM_E_NOMEM;
    ss_hold *h = &g->hold[g->nhold++];
    memset(h, 0, sizeof *h);
    h->r = r;
    h->owned = owner != NULL;
    if (owner != NULL)
        h->owner = *owner;
    h->wait = wait && !ready;
    return SLIM_OK;
}

static void hold_release(slim_sessions *ss, ss_sess *s, const slim_name *owner) {
    ss_group *g = s->g;
    for (uint32_t i = 0; i < g->nhold;) {
        ss_hold *h = &g->hold[i];
        if (owner == NULL || (h->owned && slim_name_equal(&h->owner, owner))) {
            ss_route_unref(ss, h->r, s->handle);
            g->hold[i] = g->hold[--g->nhold];
        } else {
            i++;
        }
    }
}

/* The routes the current step waits for: 1 all in place, 0 waiting, -1
 * one refused. */
static int hold_state(const ss_group *g) {
    int st = 1;
    for (uint32_t i = 0; i < g->nhold; i++) {
        const ss_hold *h = &g->hold[i];
        if (!h->wait)
            continue;
        if (h->r->failed)
            return -1;
        if (!h->r->acked)
            st = 0;
    }
    return st;
}

static void hold_settled(ss_group *g) {
    for (uint32_t i = 0; i < g->nhold; i++)
        g->hold[i].wait = false;
    g->wait_deadline = 0;
}

/* ---- messages ---- */

/* A command message to `to` with fanout 256 (a channel) or 1. */
static slim_status cmd(slim_sessions *ss, ss_sess *s, uint8_t type, const ss_name *to, uint32_t mid,
                       bool channel, slim_msg **out, void **inner) {
    slim_str t[3];
    slim_status st = ss_cmd_to(ss, s, type, ss_name_wire(to, t), mid, UINT64_MAX, out, inner);
    if (st == SLIM_OK && channel)
        (*out)->publish->header->fanout = SS_FANOUT_ALL;
    return st;
}

/* The roster as Participant records (self and moderator included), plus
 * `extra` when not NULL. */
static slim_status roster_pb(const ss_group *g, const ss_name *extra,
                             Dataplane__Proto__V1__Participant ***out, size_t *n) {
    size_t cnt = g->nmem + (extra != NULL);
    Dataplane__Proto__V1__Participant **p = slim_calloc(cnt ? cnt : 1, sizeof *p);
    if (p == NULL)
        return SLIM_E_NOMEM;
    *out = p;
    for (size_t i = 0; i < cnt; i++) {
        p[i] = ss_participant_new(i < g->nmem ? &g->mem[i].n : extra, true, true);
        if (p[i] == NULL)
            return SLIM_E_NOMEM; /* *n entries are freed with the message */
        *n = i + 1;
    }
    return SLIM_OK;
}

/* GROUP_UPDATE about `who` to the channel, waiting for the acks of every
 * member but us and `skip` (may be NULL). remove: the snapshot includes
 * `who`, who is no longer in the roster. */
static slim_status send_update(slim_sessions *ss, ss_sess *s, const ss_name *who, bool remove,
                               const slim_name *skip, uint32_t *id, uint64_t now) {
    const ss_task *t = s->g->task;
    ss_group *g = s->g;
    slim_msg *m;
    void *inner;
    slim_status st = cmd(ss, s, T_GROUP_UPDATE, &g->ctrl, 0, true, &m, &inner);
    if (st != SLIM_OK)
        return st;
    Dataplane__Proto__V1__GroupUpdatePayload *u = inner;
    u->op = remove                             ? DATAPLANE__PROTO__V1__GROUP_UPDATE_OP__REMOVE
            : t != NULL && t->kind == K_ROTATE ? DATAPLANE__PROTO__V1__GROUP_UPDATE_OP__KEY_UPDATE
            : t != NULL && t->readd            ? DATAPLANE__PROTO__V1__GROUP_UPDATE_OP__REJOIN
                                               : DATAPLANE__PROTO__V1__GROUP_UPDATE_OP__ADD;
    u->participant = ss_participant_new(who, true, true);
    if (u->participant == NULL ||
        (st = roster_pb(g, remove ? who : NULL, &u->participants, &u->n_participants)) != SLIM_OK ||
        (s->mls != NULL &&
         (st = ss_mls_payload(t->commit_id, slim_buf_view(&t->commit), &u->mls)) != SLIM_OK)) {
        slim_wire_free(m);
        return SLIM_E_NOMEM;
    }
    if (s->mls != NULL)
        u->_mls_case = DATAPLANE__PROTO__V1__GROUP_UPDATE_PAYLOAD___MLS_MLS;
    slim_name *w = NULL;
    uint32_t nw = 0;
    if ((st = ss_group_others(s, &w, &nw)) != SLIM_OK) {
        slim_wire_free(m);
        return st;
    }
    /* a member down now misses this commit: it is added again once back */
    for (uint32_t i = 0; s->mls != NULL && i < g->nmem; i++)
        if (g->mem[i].offline && !slim_name_equal(&g->mem[i].n.name, &who->name))
            g->mem[i].stale = true;
    for (uint32_t i = 0; skip != NULL && i < nw; i++)
        if (slim_name_equal(&w[i], skip)) {
            w[i] = w[--nw];
            break;
        }
    *id = ss_msg_mid(m);
    st = ss_ctl_add_set(ss, s, m, P_UPDATE, w, nw, now);
    slim_free(w);
    return st;
}

/* ---- the moderator's tasks ---- */

static ss_task *task_new(slim_sessions *ss, ss_sess *s, ss_task_kind kind, const slim_sname *who,
                         uint64_t op) {
    ss_task *t = slim_calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->kind = kind;
    t->conn = UINT64_MAX;
    if (ss_name_set(&t->who, &who->name, who->text) != SLIM_OK) {
        slim_free(t);
        return NULL;
    }
    if (op != 0) {
        t->done = ss_out_new(SLIM_SOUT_DONE, s);
        if (t->done == NULL) {
            ss_name_clear(&t->who);
            slim_free(t);
            return NULL;
        }
        t->done->op = op;
    }
    (void)ss;
    return t;
}

static void task_free(ss_task *t) {
    ss_name_clear(&t->who);
    slim_buf_cleanup(&t->commit);
    slim_buf_cleanup(&t->welcome);
    ss_out_free(t->done);
    slim_free(t);
}

static void task_append(ss_group *g, ss_task *t) {
    if (g->task_tail != NULL)
        g->task_tail->next = t;
    else
        g->task = t;
    g->task_tail = t;
    g->ntasks++;
}

/* Right after the current task. */
static void task_insert_next(ss_group *g, ss_task *t) {
    if (g->task == NULL) {
        task_append(g, t);
        return;
    }
    t->next = g->task->next;
    g->task->next = t;
    if (g->task_tail == g->task)
        g->task_tail = t;
    g->ntasks++;
}

/* Drops the control messages of the current task (a moderator has no
 * other ones before it closes). */
static void task_ctl_clear(ss_sess *s) {
    for (uint32_t i = 0; i < s->nctl;)
        if (s->ctl[i].purpose != P_CLOSE && s->ctl[i].purpose != P_SYNC)
            ss_ctl_remove(s, i);
        else
            i++;
}

/* The current task is over: its DONE, then the next one starts. */
static void task_finish(slim_sessions *ss, ss_sess *s, slim_status st, ss_reason why, uint32_t arg,
                        const char *note, uint64_t now) {
    ss_group *g = s->g;
    ss_task *t = g->task;
    if (t == NULL)
        return;
    task_ctl_clear(s);
    hold_settled(g);
    /* routes made for an invitee that did not become a member */
    if (t->kind == K_INVITE && t->step >= TS_ROUTE && mem_find(g, &t->who.name, false) < 0)
        hold_release(ss, s, &t->who.name);
    if (t->kind != K_INVITE && mem_find(g, &t->who.name, false) < 0)
        hold_release(ss, s, &t->who.name);
    g->task = t->next;
    if (g->task == NULL)
        g->task_tail = NULL;
    g->ntasks--;
    if (t->done != NULL) {
        slim_sname v;
        ss_name_view(&t->who, &v);
        if (ss_name_set(&t->done->who, &v.name, v.text) == SLIM_OK && note != NULL)
            t->done->note = slim_strndup(note, strlen(note));
        ss_out_settle(ss, &t->done, st, why, arg);
    }
    task_free(t);
    task_run(ss, s, now);
}

static void send_leave(slim_sessions *ss, ss_sess *s, uint64_t now) {
    ss_task *t = s->g->task;
    slim_msg *m;
    if (cmd(ss, s, T_LEAVE_REQUEST, &t->who, 0, false, &m, NULL) != SLIM_OK ||
        ss_ctl_add(ss, s, m, P_LEAVE, &t->who.name, false, now) != SLIM_OK) {
        task_finish(ss, s, SLIM_E_SESSION_LEAVE_FAILED, R_LEAVE_FAILED, 0, NULL, now);
        return;
    }
    t->step = TS_LEAVE;
}

/* The update of a removal or announcement is acknowledged (or given up). */
static void update_over(slim_sessions *ss, ss_sess *s, uint64_t now) {
    ss_task *t = s->g->task;
    if (t->kind == K_REMOVE && t->gone) {
        /* Down for offline_removal: told once, in case it is still there
         * (it ends as removed), but not waited for. */
        slim_msg *m;
        if (cmd(ss, s, T_LEAVE_REQUEST, &t->who, 0, false, &m, NULL) == SLIM_OK)
            (void)ss_send_new(ss, s->handle, m);
        task_finish(ss, s, t->update_failed ? SLIM_E_SESSION_UPDATE_FAILED : SLIM_OK,
                    t->update_failed ? R_UPDATE_FAILED : R_REMOVE_OK, s->ctl_retries, NULL, now);
    } else if (t->kind == K_REMOVE) {
        send_leave(ss, s, now);
    } else if (t->kind == K_INVITE && t->replaces && t->welcome_id == 0) {
        send_welcome(ss, s, now); /* the others forgot the old instance first */
    } else if (t->kind == K_ANNOUNCE_LEFT) {
        task_finish(ss, s, t->update_failed ? SLIM_E_SESSION_UPDATE_FAILED : SLIM_OK,
                    t->update_failed ? R_UPDATE_FAILED : R_REMOVE_OK, s->ctl_retries, NULL, now);
    } else if (t->kind == K_ROTATE) {
        task_finish(ss, s, t->update_failed ? SLIM_E_SESSION_UPDATE_FAILED : SLIM_OK,
                    t->update_failed ? R_UPDATE_FAILED : R_ROTATED, s->ctl_retries, NULL, now);
    } else if (ss_ctl_find(s, P_WELCOME, t->welcome_id) < 0 &&
               ss_ctl_find(s, P_UPDATE, t->update_id) < 0) {
        /* invite: the welcome is acknowledged too */
        long k = mem_find(s->g, &t->who.name, false);
        if (t->readd && k >= 0)
            s->g->mem[k].stale = false; /* in step again */
        else
            member_out(ss, s, &t->who, SLIM_MEMBER_JOINED);
        task_finish(ss, s, t->update_failed ? SLIM_E_SESSION_UPDATE_FAILED : SLIM_OK,
                    t->update_failed ? R_UPDATE_FAILED : R_INVITE_OK, s->ctl_retries, NULL, now);
    }
}

/* No broadcast waits for who's acknowledgement any more. */
static void ctl_waits_drop(ss_sess *s, const slim_name *who) {
    for (uint32_t k = 0; k < s->nctl; k++) {
        ss_ctl *c = &s->ctl[k];
        for (uint32_t j = 0; c->wait != NULL && j < c->nwait; j++)
            if (slim_name_equal(&c->wait[j], who)) {
                c->wait[j] = c->wait[--c->nwait];
                break;
            }
    }
}

/* A member is out of the roster: nothing more is expected from it. */
static void member_gone(slim_sessions *ss, ss_sess *s, uint32_t i, uint64_t now) {
    slim_name who = s->g->mem[i].n.name;
    mem_del(s->g, i);
    ss_data_member_gone(ss, s, &who, now);
    ctl_waits_drop(s, &who);
}

static void task_start(slim_sessions *ss, ss_sess *s, uint64_t now) {
    ss_group *g = s->g;
    ss_task *t = g->task;
    long i;
    switch (t->kind) {
    case K_INVITE: {
        if (t->readd) {
            /* still a member, up, and behind? */
            i = mem_find(g, &t->who.name, false);
            if (i < 0 || g->mem[i].offline || !g->mem[i].stale) {
                task_finish(ss, s, SLIM_OK, R_INVITE_OK, 0, NULL, now);
                return;
            }
        }
        i = mem_find(g, &t->who.name, true);
        if (i >= 0 && !g->mem[i].offline && !t->readd) {
            task_finish(ss, s, SLIM_E_SESSION_ALREADY_MEMBER, R_ALREADY_MEMBER, 0, NULL, now);
            return;
        }
        if (g->nmem >= ss->max_members && !t->readd) {
            task_finish(ss, s, SLIM_E_SESSION_LIMIT, R_MEMBER_LIMIT, ss->max_members, NULL, now);
            return;
        }
        slim_msg *m;
        if (cmd(ss, s, T_DISCOVERY_REQUEST, &t->who, 0, false, &m, NULL) != SLIM_OK ||
            ss_ctl_add(ss, s, m, P_DISCOVERY, &t->who.name, slim_id_is_any(t->who.name.id), now) !=
                SLIM_OK) {
            task_finish(ss, s, SLIM_E_NOMEM, R_NOMEM, P_DISCOVERY, NULL, now);
            return;
        }
        t->step = TS_DISCOVER;
        return;
    }
    case K_REMOVE:
        i = mem_find(g, &t->who.name, true);
        if (t->gone &&
            (i < 0 || !g->mem[i].offline || now - g->mem[i].down_at < ss->offline_removal_ms)) {
            /* it came back (and may be down again, but not for long yet),
             * or was removed */
            if (i >= 0)
                g->mem[i].removing = false;
            task_finish(ss, s, SLIM_OK, R_REMOVE_OK, 0, NULL, now);
            return;
        }
        if (i < 0 || slim_name_equal(&g->mem[i].n.name, &s->local.name)) {
            task_finish(ss, s, SLIM_E_SESSION_NOT_MEMBER, R_NOT_MEMBER, 0, NULL, now);
            return;
        }
        {
            slim_sname v;
            ss_name_view(&g->mem[i].n, &v);
            ss_name who = {0};
            if (ss_name_set(&who, &v.name, v.text) != SLIM_OK) {
                task_finish(ss, s, SLIM_E_NOMEM, R_NOMEM, P_LEAVE, NULL, now);
                return;
            }
            ss_name_clear(&t->who);
            t->who = who;
        }
        member_gone(ss, s, (uint32_t)i, now);
        member_out(ss, s, &t->who, SLIM_MEMBER_LEFT);
        __attribute__((fallthrough)); /* the others are told first */
    case K_ANNOUNCE_LEFT:
        t->step = TS_UPDATE;
        if (s->mls != NULL) {
            /* every removal is committed, told or not (upstream) */
            slim_status st = ss_mls_remove(s, &t->who.name, &t->commit, &t->commit_id);
            if (st != SLIM_OK) {
                task_finish(ss, s, st, R_MLS_FAILED, 0, NULL, now);
                return;
            }
            ss->c.mls_commits++;
        }
        if (g->nmem + 1 > 2) {
            if (send_update(ss, s, &t->who, true, NULL, &t->update_id, now) != SLIM_OK)
                t->update_failed = true;
            else
                return;
        }
        update_over(ss, s, now);
        return;
    case K_ROTATE:
        if (s->mls == NULL || g->rot_off) {
            task_finish(ss, s, SLIM_E_SESSION_ROTATION_OFF, R_ROTATE_REFUSED, 0, NULL, now);
            return;
        }
        if (g->nmem < 2) { /* nobody to share keys with yet */
            task_finish(ss, s, SLIM_OK, R_ROTATED, 0, NULL, now);
            return;
        }
        {
            slim_status st = ss_mls_rotate(s, &t->commit, &t->commit_id);
            if (st != SLIM_OK) {
                task_finish(ss, s, st, R_MLS_FAILED, 0, NULL, now);
                return;
            }
        }
        ss->c.mls_commits++;
        t->step = TS_UPDATE;
        if (send_update(ss, s, &s->local, false, NULL, &t->update_id, now) != SLIM_OK) {
            t->update_failed = true;
            update_over(ss, s, now);
        }
        return;
    }
}

static void task_run(slim_sessions *ss, ss_sess *s, uint64_t now) {
    ss_group *g = s->g;
    while (g->task != NULL && g->task->step == TS_NONE && s->state == S_READY) {
        ss_task *t = g->task;
        task_start(ss, s, now);
        if (g->task == t)
            break; /* it runs */
    }
}

/* A task the application (or the timer) asks for, queued and run when
 * its turn comes. */
static slim_status task_queue(slim_sessions *ss, ss_sess *s, ss_task_kind kind,
                              const slim_sname *who, uint64_t op, uint64_t now) {
    ss_group *g = s->g;
    if (g->ntasks >= ss->max_tasks)
        return SLIM_E_QUEUE_FULL;
    ss_task *t = task_new(ss, s, kind, who, op);
    if (t == NULL)
        return SLIM_E_NOMEM;
    task_append(g, t);
    task_run(ss, s, now);
    return SLIM_OK;
}

slim_status ss_group_invite(slim_sessions *ss, ss_sess *s, const slim_sname *name, bool remove,
                            uint64_t op, uint64_t now) {
    return task_queue(ss, s, remove ? K_REMOVE : K_INVITE, name, op, now);
}

/* Queues a key update (op 0: the timer's or a member's, not queued twice). */
static slim_status rotate_queue(slim_sessions *ss, ss_sess *s, uint64_t op, uint64_t now) {
    ss_group *g = s->g;
    for (ss_task *t = g->task; op == 0 && t != NULL; t = t->next)
        if (t->kind == K_ROTATE && t->step == TS_NONE)
            return SLIM_OK;
    slim_sname self;
    ss_name_view(&s->local, &self);
    return task_queue(ss, s, K_ROTATE, &self, op, now);
}

/* A member's request: a GROUP_PROPOSAL without an MLS proposal, to the
 * moderator, answered with GROUP_ACK (queued) or GROUP_NACK (off). */
static slim_status rotate_ask(slim_sessions *ss, ss_sess *s, uint64_t op, uint64_t now) {
    ss_group *g = s->g;
    if (g->rot_done != NULL)
        return SLIM_E_QUEUE_FULL; /* one at a time */
    slim_msg *m;
    void *inner;
    slim_status st = cmd(ss, s, T_GROUP_PROPOSAL, &s->peer, 0, false, &m, &inner);
    if (st != SLIM_OK)
        return st;
    Dataplane__Proto__V1__GroupProposalPayload *p = inner;
    slim_str t[3];
    slim_wire_name w = ss_name_wire(&s->local, t);
    ss_out *done = ss_out_new(SLIM_SOUT_DONE, s);
    if (done == NULL || (st = slim_wire_name_new(&w, &p->source)) != SLIM_OK) {
        ss_out_free(done);
        slim_wire_free(m);
        return SLIM_E_NOMEM;
    }
    done->op = op;
    g->rot_id = ss_msg_mid(m);
    if ((st = ss_ctl_add(ss, s, m, P_ROTATE, &s->peer.name, false, now)) != SLIM_OK) {
        ss_out_free(done);
        return st;
    }
    g->rot_done = done;
    return SLIM_OK;
}

slim_status ss_group_rotate(slim_sessions *ss, ss_sess *s, uint64_t op, uint64_t now) {
    if (s->mls == NULL || s->g->rot_off)
        return SLIM_E_SESSION_ROTATION_OFF;
    return s->g->moderator ? rotate_queue(ss, s, op, now) : rotate_ask(ss, s, op, now);
}

/* The moderator's answer to our request. */
static slim_status rotate_answer(slim_sessions *ss, ss_sess *s, const slim_msg *m, bool ok) {
    ss_group *g = s->g;
    long i = ss_ctl_find(s, P_ROTATE, ss_msg_mid(m));
    if (i < 0 || g->rot_done == NULL)
        return SLIM_E_SESSION_UNEXPECTED;
    ss_ctl_remove(s, (uint32_t)i);
    if (!ok)
        g->rot_off = true;
    ss_out_settle(ss, &g->rot_done, ok ? SLIM_OK : SLIM_E_SESSION_ROTATION_OFF,
                  ok ? R_ROTATED : R_ROTATE_REFUSED, 0);
    return SLIM_OK;
}

/* The routes of an invite are in place: JOIN_REQUEST. */
static void send_join(slim_sessions *ss, ss_sess *s, uint64_t now) {
    ss_group *g = s->g;
    ss_task *t = g->task;
    slim_msg *m;
    void *inner;
    slim_status st = cmd(ss, s, T_JOIN_REQUEST, &t->who, 0, false, &m, &inner);
    if (st == SLIM_OK) {
        Dataplane__Proto__V1__JoinRequestPayload *jr = inner;
        slim_str t1[3], t2[3];
        slim_wire_name dw = ss_name_wire(&g->data, t1), cw = ss_name_wire(&g->ctrl, t2);
        if (s->reliable) {
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
        if (st == SLIM_OK && (st = slim_wire_name_new(&dw, &jr->channel)) == SLIM_OK)
            jr->_channel_case = DATAPLANE__PROTO__V1__JOIN_REQUEST_PAYLOAD___CHANNEL_CHANNEL;
        if (st == SLIM_OK && (st = slim_wire_name_new(&cw, &jr->control)) == SLIM_OK)
            jr->_control_case = DATAPLANE__PROTO__V1__JOIN_REQUEST_PAYLOAD___CONTROL_CONTROL;
        if (st == SLIM_OK && s->mls != NULL)
            st = ss_mls_join_settings(jr);
        for (size_t i = 0; st == SLIM_OK && i < s->nmeta; i++)
            st = slim_wire_metadata_set(m, s->meta[i].key.ptr, s->meta[i].value.ptr);
        if (st != SLIM_OK)
            slim_wire_free(m);
        else
            st = ss_ctl_add(ss, s, m, P_JOIN, &t->who.name, false, now);
    }
    if (st != SLIM_OK) {
        task_finish(ss, s, SLIM_E_NOMEM, R_NOMEM, P_JOIN, NULL, now);
        return;
    }
    t->step = TS_JOIN;
}

/* An invite found member i down (its process restarted, most likely):
 * the new instance takes its place. What we had of the old one goes; the
 * others forget it when the invite's update reaches them (same name), or
 * are told it left (another id). */
static void replace_down_member(slim_sessions *ss, ss_sess *s, uint32_t i, uint64_t now) {
    ss_group *g = s->g;
    ss_task *t = g->task;
    slim_name old = g->mem[i].n.name;
    bool same = slim_name_equal(&old, &t->who.name);
    ss_task *a = NULL;
    if (!same) {
        slim_sname v;
        ss_name_view(&g->mem[i].n, &v);
        a = task_new(ss, s, K_ANNOUNCE_LEFT, &v, 0);
        member_out(ss, s, &g->mem[i].n, SLIM_MEMBER_LEFT);
    }
    member_gone(ss, s, i, now);
    hold_release(ss, s, &old);
    if (a != NULL)
        task_insert_next(g, a);
    t->replaces = same;
}

static slim_status discovery_reply_in(slim_sessions *ss, ss_sess *s, const slim_msg *m,
                                      const slim_name *src, uint64_t now) {
    ss_group *g = s->g;
    ss_task *t = g->task;
    long i = ss_ctl_find(s, P_DISCOVERY, ss_msg_mid(m));
    uint64_t conn;
    if (t == NULL || t->step != TS_DISCOVER || i < 0 || !ss_ctl_from_ok(&s->ctl[i], src))
        return SLIM_E_SESSION_UNEXPECTED;
    if (!ss_msg_in_conn(m, &conn)) {
        ss->c.drop_malformed++;
        return SLIM_E_WIRE_MISSING_FIELD;
    }
    ss_name who = {0};
    slim_status st = ss_name_from_pb(&who, m->publish->header->source);
    if (st == SLIM_OK && !ss_name_has_text(&who)) {
        slim_sname v;
        ss_name_view(&t->who, &v);
        st = ss_name_set(&who, src, v.text);
    }
    if (st != SLIM_OK) {
        ss_name_clear(&who);
        ss->c.drop_nomem++;
        return st; /* the discovery is sent again */
    }
    ss_ctl_remove(s, (uint32_t)i);
    ss_name_clear(&t->who);
    t->who = who;
    t->conn = conn;
    t->step = TS_ROUTE;
    long old = mem_find(g, &who.name, true);
    if (old >= 0 && !g->mem[old].offline && !t->readd) {
        task_finish(ss, s, SLIM_E_SESSION_ALREADY_MEMBER, R_ALREADY_MEMBER, 0, NULL, now);
        return SLIM_OK;
    }
    if (old >= 0 && !t->readd)
        replace_down_member(ss, s, (uint32_t)old, now);
    st = SLIM_OK;
    if (!g->subscribed) {
        st = hold_add(ss, s, &g->data, conn, true, NULL, true);
        if (st == SLIM_OK)
            st = hold_add(ss, s, &g->ctrl, conn, true, NULL, true);
        g->subscribed = st == SLIM_OK;
    }
    if (st == SLIM_OK)
        st = hold_add(ss, s, &who, conn, false, &who.name, true);
    if (st == SLIM_OK)
        st = hold_add(ss, s, &g->data, conn, false, &who.name, true);
    if (st == SLIM_OK)
        st = hold_add(ss, s, &g->ctrl, conn, false, &who.name, true);
    if (st != SLIM_OK) {
        task_finish(ss, s, SLIM_E_NOMEM, R_NOMEM, P_JOIN, NULL, now);
        return SLIM_OK;
    }
    int h = hold_state(g);
    if (h > 0) {
        hold_settled(g);
        send_join(ss, s, now);
    } else if (h < 0) {
        task_finish(ss, s, SLIM_E_SESSION_ROUTE_REFUSED, R_ROUTE_REFUSED, 0, NULL, now);
    } else {
        g->wait_deadline = now + ss->sub_ack_ms;
    }
    return SLIM_OK;
}

static slim_status join_reply_in(slim_sessions *ss, ss_sess *s, const slim_msg *m,
                                 const slim_name *src, uint64_t now) {
    ss_group *g = s->g;
    ss_task *t = g->task;
    long i = ss_ctl_find(s, P_JOIN, ss_msg_mid(m));
    if (t == NULL || t->step != TS_JOIN || i < 0 || !slim_name_equal(src, &t->who.name))
        return SLIM_E_SESSION_UNEXPECTED;
    if (!ss_msg_ours(m) && !g->rot_off) {
        /* upstream knows no key update: none in this group from now on */
        SLIM_LOGI(MOD, "group session %u: a member announces version \"%s\": no key rotation",
                  s->id, m->publish->header->version);
        g->rot_off = true;
    }
    if (s->mls != NULL) {
        /* The invitee's KeyPackage, committed at once (the new epoch is
         * ours from now on; a refused one ends the invite). */
        slim_bytes kp = ss_mls_reply_key_package_of(m);
        slim_status st =
            kp.len == 0 ? SLIM_E_WIRE_MISSING_FIELD
                        : ss_mls_add(s, kp, &t->who.name, &t->commit, &t->welcome, &t->commit_id);
        if (st == SLIM_E_NOMEM) {
            ss->c.drop_nomem++;
            return st; /* the join is sent again */
        }
        if (st != SLIM_OK) {
            ss->c.drop_mls++;
            ss_ctl_remove(s, (uint32_t)i);
            task_finish(ss, s, st, R_MLS_REFUSED, 0, NULL, now);
            return SLIM_OK;
        }
        ss->c.mls_commits++;
    }
    if (!t->readd && mem_add(g, &t->who) != SLIM_OK) {
        ss->c.drop_nomem++;
        return SLIM_E_NOMEM; /* the join is sent again */
    }
    ss_ctl_remove(s, (uint32_t)i);
    t->step = TS_WELCOME;
    if (s->hb_next == UINT64_MAX)
        s->hb_next = now + ss->heartbeat_ms;
    /* The others first hear of the new member; when it replaces an
     * instance they still know, it is welcomed (and may send) only once
     * they have all forgotten the old one. */
    if (g->nmem > 2 &&
        send_update(ss, s, &t->who, false, &t->who.name, &t->update_id, now) != SLIM_OK) {
        long k = mem_find(g, &t->who.name, false);
        if (k >= 0)
            member_gone(ss, s, (uint32_t)k, now);
        task_finish(ss, s, SLIM_E_NOMEM, R_NOMEM, P_WELCOME, NULL, now);
        return SLIM_OK;
    }
    if (!t->replaces || g->nmem <= 2)
        send_welcome(ss, s, now);
    return SLIM_OK;
}

static void send_welcome(slim_sessions *ss, ss_sess *s, uint64_t now) {
    ss_group *g = s->g;
    ss_task *t = g->task;
    slim_msg *w = NULL;
    void *inner;
    slim_status st = cmd(ss, s, T_GROUP_WELCOME, &t->who, 0, false, &w, &inner);
    if (st == SLIM_OK) {
        Dataplane__Proto__V1__GroupWelcomePayload *gw = inner;
        st = roster_pb(g, NULL, &gw->participants, &gw->n_participants);
        if (st == SLIM_OK && s->mls != NULL &&
            (st = ss_mls_payload(t->commit_id, slim_buf_view(&t->welcome), &gw->mls)) == SLIM_OK)
            gw->_mls_case = DATAPLANE__PROTO__V1__GROUP_WELCOME_PAYLOAD___MLS_MLS;
        t->welcome_id = ss_msg_mid(w);
        if (st != SLIM_OK)
            slim_wire_free(w);
        else
            st = ss_ctl_add(ss, s, w, P_WELCOME, &t->who.name, false, now);
    }
    if (st != SLIM_OK) {
        long k = mem_find(g, &t->who.name, false);
        if (k >= 0)
            member_gone(ss, s, (uint32_t)k, now);
        task_finish(ss, s, SLIM_E_NOMEM, R_NOMEM, P_WELCOME, NULL, now);
    }
}

/* The welcome was never acknowledged: P is out again, and the others are
 * told if they were told it was in. */
static void welcome_failed(slim_sessions *ss, ss_sess *s, uint64_t now) {
    ss_group *g = s->g;
    ss_task *t = g->task;
    long k = mem_find(g, &t->who.name, false);
    if (k >= 0 && !t->readd) { /* one added again stays (stale: it goes down, or is tried again) */
        bool told = g->nmem > 2;
        member_gone(ss, s, (uint32_t)k, now);
        if (told) {
            slim_sname v;
            ss_name_view(&t->who, &v);
            ss_task *a = task_new(ss, s, K_ANNOUNCE_LEFT, &v, 0);
            if (a != NULL)
                task_insert_next(g, a);
        }
    }
    task_finish(ss, s, SLIM_E_SESSION_WELCOME_FAILED, R_WELCOME_FAILED, s->ctl_retries, NULL, now);
}

/* MLS: member `who` missed a commit; once it is up, an invite of its
 * instance (queued, once) gets a fresh KeyPackage from it and commits it
 * in place of its old leaf (session-protocol-head.md §5.10 has the member
 * ask; here the moderator, which knows, does). */
static void readd_later(slim_sessions *ss, ss_sess *s, const slim_name *who, uint64_t now) {
    ss_group *g = s->g;
    long i = mem_find(g, who, false);
    if (i < 0)
        return;
    g->mem[i].stale = true;
    if (g->mem[i].offline)
        return; /* when it is back */
    for (ss_task *t = g->task; t != NULL; t = t->next)
        if (t->readd && slim_name_equal(&t->who.name, who))
            return;
    slim_sname v;
    ss_name_view(&g->mem[i].n, &v);
    ss_task *t = task_new(ss, s, K_INVITE, &v, 0);
    if (t == NULL)
        return; /* tried again when it is heard from after being down */
    t->readd = true;
    task_append(g, t);
    task_run(ss, s, now);
}

/* Control message i failed: unanswered, or (no_route) a node said so. */
static void ctl_failed(slim_sessions *ss, ss_sess *s, uint32_t i, bool no_route, uint64_t now) {
    ss_ctl *c = &s->ctl[i];
    uint8_t purpose = c->purpose;
    uint32_t r = s->ctl_retries;
    if (purpose == P_ROTATE) { /* a member's request: only it fails */
        ss_ctl_remove(s, i);
        ss_out_settle(ss, &s->g->rot_done, SLIM_E_TIMEOUT, R_ROTATE_UNANSWERED, r);
        return;
    }
    if (!s->g->moderator || purpose == P_CLOSE) {
        ss_end(ss, s, SLIM_OK, R_CLOSE_UNANSWERED, r, now);
        return;
    }
    ss_task *t = s->g->task;
    switch (purpose) {
    case P_DISCOVERY:
        if (no_route)
            task_finish(ss, s, SLIM_E_SESSION_NO_ROUTE, R_NO_ROUTE, P_DISCOVERY, NULL, now);
        else
            task_finish(ss, s, SLIM_E_SESSION_DISCOVERY_FAILED, R_DISCOVERY_FAILED, r, NULL, now);
        return;
    case P_JOIN:
        if (no_route)
            task_finish(ss, s, SLIM_E_SESSION_NO_ROUTE, R_NO_ROUTE, P_JOIN, NULL, now);
        else
            task_finish(ss, s, SLIM_E_SESSION_JOIN_FAILED, R_JOIN_FAILED, r, NULL, now);
        return;
    case P_WELCOME:
        welcome_failed(ss, s, now);
        return;
    case P_LEAVE:
        task_finish(ss, s,
                    t != NULL && t->update_failed ? SLIM_E_SESSION_UPDATE_FAILED
                                                  : SLIM_E_SESSION_LEAVE_FAILED,
                    t != NULL && t->update_failed ? R_UPDATE_FAILED : R_LEAVE_FAILED, r, NULL, now);
        return;
    case P_UPDATE:
        for (uint32_t j = 0; s->mls != NULL && j < c->nwait; j++)
            readd_later(ss, s, &c->wait[j], now); /* it missed the commit */
        ss_ctl_remove(s, i);
        if (t != NULL) {
            t->update_failed = true;
            update_over(ss, s, now);
        }
        return;
    default:
        ss_ctl_remove(s, i);
    }
}

/* A GROUP_ACK from src for request id. */
static slim_status group_ack_in(slim_sessions *ss, ss_sess *s, uint32_t id, const slim_name *src,
                                uint64_t now) {
    for (uint32_t i = 0; i < s->nctl; i++) {
        ss_ctl *c = &s->ctl[i];
        if (c->id != id || c->type == T_GROUP_ACK)
            continue;
        if (c->wait == NULL) {
            if ((c->purpose != P_WELCOME && c->purpose != P_SYNC) ||
                !slim_name_equal(&c->from, src))
                return SLIM_E_SESSION_UNEXPECTED;
            uint8_t purpose = c->purpose;
            ss_ctl_remove(s, i);
            if (purpose == P_WELCOME)
                update_over(ss, s, now);
            return SLIM_OK;
        }
        for (uint32_t j = 0; j < c->nwait; j++)
            if (slim_name_equal(&c->wait[j], src)) {
                c->wait[j] = c->wait[--c->nwait];
                break;
            }
        if (c->nwait > 0)
            return SLIM_OK;
        uint8_t purpose = c->purpose;
        ss_ctl_remove(s, i);
        if (purpose == P_CLOSE)
            ss_end(ss, s, SLIM_OK, R_CLOSE_DONE, 0, now);
        else if (s->g->task != NULL &&
                 (s->g->task->step == TS_WELCOME || s->g->task->step == TS_UPDATE) &&
                 !s->g->task->update_failed)
            update_over(ss, s, now);
        return SLIM_OK;
    }
    return SLIM_E_SESSION_UNEXPECTED; /* late, or a duplicate */
}

/* Broadcasts whose last awaited member has just gone are complete. */
static void sets_check(slim_sessions *ss, ss_sess *s, uint64_t now) {
    for (uint32_t i = 0; i < s->nctl && s->state != S_DEAD; i++) {
        ss_ctl *c = &s->ctl[i];
        if (c->wait != NULL && c->nwait == 0) {
            (void)group_ack_in(ss, s, c->id, &(slim_name){0}, now);
            i = (uint32_t)-1; /* the array changed */
        }
    }
}

/* A member closed its own session (LEAVE_REQUEST with LEAVING_SESSION). */
static slim_status member_left(slim_sessions *ss, ss_sess *s, const slim_msg *m,
                               const slim_name *src, uint64_t now) {
    ss_group *g = s->g;
    long i = mem_find(g, src, false);
    ss_answer(ss, s, m, T_LEAVE_REPLY);
    if (i < 0 || slim_name_equal(src, &s->local.name))
        return SLIM_OK; /* an earlier copy was taken */
    slim_sname v;
    ss_name_view(&g->mem[i].n, &v);
    ss_task *a = task_new(ss, s, K_ANNOUNCE_LEFT, &v, 0);
    member_out(ss, s, &g->mem[i].n, SLIM_MEMBER_LEFT);
    member_gone(ss, s, (uint32_t)i, now);
    hold_release(ss, s, src);
    if (a != NULL) {
        task_append(g, a);
        task_run(ss, s, now);
    }
    sets_check(ss, s, now);
    return SLIM_OK;
}

/* ---- the member's side ---- */

static void hb_start(slim_sessions *ss, ss_sess *s, uint64_t now) {
    s->hb_next = now + ss->heartbeat_ms;
    s->hb_active = false;
}

/* The welcome's routes are in place: the rest of the roster, GROUP_ACK,
 * NEW. */
static void welcome_done(slim_sessions *ss, ss_sess *s, uint64_t now) {
    ss_group *g = s->g;
    hold_settled(g);
    ss_out *o = ss_out_new(SLIM_SOUT_NEW, s);
    if (o == NULL) {
        ss_end(ss, s, SLIM_E_NOMEM, R_NOMEM, P_WELCOME, now);
        return;
    }
    for (uint32_t i = 0; i < g->nmem; i++) {
        const ss_name *n = &g->mem[i].n;
        if (slim_name_equal(&n->name, &s->local.name) || slim_name_equal(&n->name, &s->peer.name))
            continue;
        if (hold_add(ss, s, n, g->welcome_conn, false, &n->name, false) != SLIM_OK)
            ss->c.send_failures++; /* data to it goes by the channel still */
    }
    s->announced = true;
    s->join_deadline = 0;
    ss_out_push(ss, o);
    s->state = S_READY;
    hb_start(ss, s, now);
    slim_msg *a;
    if (cmd(ss, s, T_GROUP_ACK, &s->peer, g->welcome_id, false, &a, NULL) == SLIM_OK) {
        if (ss_send_new(ss, s->handle, a) == SLIM_OK)
            ss_note_sent(s, false);
    } else {
        ss->c.send_failures++; /* the welcome comes again */
    }
}

/* A member's routes for the channel (its subscriptions and routes of the
 * data and control names over conn); once the router took them, the
 * welcome is done. E_NOMEM: some could not be asked for. */
static slim_status welcome_routes(slim_sessions *ss, ss_sess *s, uint64_t conn, uint64_t now) {
    ss_group *g = s->g;
    slim_status st = hold_add(ss, s, &g->data, conn, true, NULL, true);
    if (st == SLIM_OK)
        st = hold_add(ss, s, &g->ctrl, conn, true, NULL, true);
    if (st == SLIM_OK)
        st = hold_add(ss, s, &g->data, conn, false, NULL, true);
    if (st == SLIM_OK)
        st = hold_add(ss, s, &g->ctrl, conn, false, NULL, true);
    if (st != SLIM_OK)
        return st;
    int h = hold_state(g);
    if (h > 0)
        welcome_done(ss, s, now);
    else if (h < 0)
        ss_end(ss, s, SLIM_E_SESSION_ROUTE_REFUSED, R_ROUTE_REFUSED, 0, now);
    else
        g->wait_deadline = now + ss->sub_ack_ms;
    return SLIM_OK;
}

slim_status ss_group_restore(slim_sessions *ss, ss_sess *s, const ss_name *roster, uint32_t n,
                             uint32_t welcome_id, uint64_t conn, uint64_t now) {
    ss_group *g = s->g;
    for (uint32_t i = 0; i < n && i < ss->max_members; i++)
        if (mem_find(g, &roster[i].name, false) < 0 && mem_add(g, &roster[i]) != SLIM_OK)
            return SLIM_E_NOMEM;
    if ((mem_find(g, &s->local.name, false) < 0 && mem_add(g, &s->local) != SLIM_OK) ||
        (mem_find(g, &s->peer.name, false) < 0 && mem_add(g, &s->peer) != SLIM_OK))
        return SLIM_E_NOMEM;
    s->state = S_JOINED;
    s->conn = conn;
    g->welcomed = true;
    g->welcome_id = welcome_id;
    g->welcome_conn = conn;
    /* the route to the moderator a join makes (not waited for: the
     * router takes what follows after it), the routes a welcome makes,
     * then as a welcome ends */
    bool ready;
    s->route = ss_route_ref(ss, s->handle, &s->local, &s->peer, conn, false, &ready);
    if (s->route == NULL)
        return SLIM_E_NOMEM;
    return welcome_routes(ss, s, conn, now);
}

/* A roster as the moderator sends it (an update's, a welcome's). */
typedef struct roster_msg {
    Dataplane__Proto__V1__Participant *const *p;
    size_t n;
} roster_msg;

static bool listed(roster_msg u, const slim_name *n) {
    for (size_t k = 0; k < u.n; k++) {
        const Dataplane__Proto__V1__Participant *p = u.p[k];
        if (p == NULL || p->name == NULL)
            continue;
        slim_name pn;
        slim_str text[3];
        (void)ss_pb_wire(p->name, &pn, text);
        if (slim_name_equal(&pn, n))
            return true;
    }
    return false;
}

/* An ADD carries the moderator's roster: members it lists that we do not
 * know (added while we were down) are learnt. */
static void learn_listed(slim_sessions *ss, ss_sess *s, roster_msg u, uint64_t conn) {
    ss_group *g = s->g;
    for (size_t k = 0; k < u.n; k++) {
        const Dataplane__Proto__V1__Participant *p = u.p[k];
        ss_name n = {0};
        if (p == NULL || p->name == NULL || ss_name_from_pb(&n, p->name) != SLIM_OK)
            continue;
        if (mem_find(g, &n.name, false) < 0 && g->nmem < ss->max_members) {
            if (mem_add(g, &n) == SLIM_OK) {
                if (hold_add(ss, s, &n, conn, false, &n.name, false) != SLIM_OK)
                    ss->c.send_failures++; /* data to it goes by the channel still */
                member_out(ss, s, &n, SLIM_MEMBER_JOINED);
            } else {
                ss->c.drop_nomem++;
            }
        }
        ss_name_clear(&n);
    }
}

/* An ADD carries the moderator's roster: a member it no longer lists (an
 * instance that was down and that a restarted one replaced) is gone. */
static void forget_unlisted(slim_sessions *ss, ss_sess *s, roster_msg u, uint64_t now) {
    ss_group *g = s->g;
    if (u.n == 0)
        return;
    for (uint32_t i = 0; i < g->nmem;) {
        const ss_name *n = &g->mem[i].n;
        if (slim_name_equal(&n->name, &s->local.name) || slim_name_equal(&n->name, &s->peer.name) ||
            listed(u, &n->name)) {
            i++;
            continue;
        }
        slim_name gone = n->name;
        member_out(ss, s, n, SLIM_MEMBER_LEFT);
        member_gone(ss, s, i, now);
        hold_release(ss, s, &gone);
    }
}

static slim_status welcome_in(slim_sessions *ss, ss_sess *s, const slim_msg *m, uint64_t now) {
    ss_group *g = s->g;
    if (s->state == S_READY || s->state == S_DRAIN || s->state == S_CLOSING) {
        uint32_t id = ss_msg_mid(m);
        const Dataplane__Proto__V1__GroupWelcomePayload *w = ss_msg_command(m)->group_welcome;
        if (id != g->welcome_id && s->mls != NULL && s->state == S_READY) {
            /* added again: the group's current epoch */
            slim_status st = ss_mls_welcome_in(ss, s, w->_mls_case ? w->mls : NULL);
            if (st != SLIM_OK)
                return st;
            g->welcome_id = id;
            /* and the roster as it is now */
            roster_msg r = {w->participants, w->n_participants};
            uint64_t conn = g->welcome_conn;
            (void)ss_msg_in_conn(m, &conn);
            forget_unlisted(ss, s, r, now);
            learn_listed(ss, s, r, conn);
        }
        if (id == g->welcome_id)
            ss_answer(ss, s, m, T_GROUP_ACK); /* (again, if our ack was lost) */
        return SLIM_OK;
    }
    if (s->state != S_JOINED || g->welcomed)
        return SLIM_OK; /* being taken */
    uint64_t conn;
    if (!ss_msg_in_conn(m, &conn)) {
        ss->c.drop_malformed++;
        return SLIM_E_WIRE_MISSING_FIELD;
    }
    const Dataplane__Proto__V1__GroupWelcomePayload *gw = ss_msg_command(m)->group_welcome;
    if (s->mls != NULL) {
        slim_status st = ss_mls_welcome_in(ss, s, gw->_mls_case ? gw->mls : NULL);
        if (st != SLIM_OK)
            return st; /* unanswered */
    }
    for (size_t i = 0; i < gw->n_participants; i++) {
        const Dataplane__Proto__V1__Participant *p = gw->participants[i];
        ss_name n = {0};
        if (p == NULL || p->name == NULL || ss_name_from_pb(&n, p->name) != SLIM_OK)
            continue;
        if (mem_find(g, &n.name, false) < 0 && g->nmem < ss->max_members &&
            mem_add(g, &n) != SLIM_OK) {
            ss_name_clear(&n);
            ss->c.drop_nomem++;
            return SLIM_E_NOMEM;
        }
        ss_name_clear(&n);
    }
    if (mem_find(g, &s->local.name, false) < 0 && mem_add(g, &s->local) != SLIM_OK)
        return SLIM_E_NOMEM;
    if (mem_find(g, &s->peer.name, false) < 0 && mem_add(g, &s->peer) != SLIM_OK)
        return SLIM_E_NOMEM;
    g->welcomed = true;
    g->welcome_id = ss_msg_mid(m);
    g->welcome_conn = conn;
    if (welcome_routes(ss, s, conn, now) != SLIM_OK)
        ss_end(ss, s, SLIM_E_NOMEM, R_NOMEM, P_WELCOME, now);
    return SLIM_OK;
}

/* What an update does to the roster (under MLS, once its commit is
 * applied). E_NOMEM: nothing changed. */
static slim_status update_apply(slim_sessions *ss, ss_sess *s, const slim_msg *m, uint64_t now) {
    ss_group *g = s->g;
    const Dataplane__Proto__V1__GroupUpdatePayload *u = ss_msg_command(m)->group_update;
    ss_name who = {0};
    if (ss_name_from_pb(&who, u->participant->name) != SLIM_OK) {
        ss->c.drop_nomem++;
        return SLIM_E_NOMEM;
    }
    roster_msg r = {u->participants, u->n_participants};
    if (u->op == DATAPLANE__PROTO__V1__GROUP_UPDATE_OP__ADD)
        forget_unlisted(ss, s, r, now);
    bool self = slim_name_equal(&who.name, &s->local.name);
    long i = mem_find(g, &who.name, false);
    bool rejoin = u->op == DATAPLANE__PROTO__V1__GROUP_UPDATE_OP__REJOIN;
    if (!self && rejoin && i >= 0) {
        /* the same instance, in step again: its stream goes on */
        g->mem[i].missed = 0;
    } else if (!self && (u->op == DATAPLANE__PROTO__V1__GROUP_UPDATE_OP__ADD || rejoin) && i < 0) {
        uint64_t conn = g->welcome_conn;
        (void)ss_msg_in_conn(m, &conn);
        if (g->nmem >= ss->max_members || mem_add(g, &who) != SLIM_OK ||
            hold_add(ss, s, &who, conn, false, &who.name, false) != SLIM_OK) {
            long k = mem_find(g, &who.name, false);
            if (k >= 0)
                mem_del(g, (uint32_t)k);
            ss_name_clear(&who);
            ss->c.drop_nomem++;
            return SLIM_E_NOMEM; /* unanswered: it comes again */
        }
        member_out(ss, s, &who, SLIM_MEMBER_JOINED);
    } else if (!self && u->op == DATAPLANE__PROTO__V1__GROUP_UPDATE_OP__ADD && i >= 0 &&
               !slim_name_equal(&who.name, &s->peer.name)) {
        /* Added again: a new instance (its process restarted) whose ids
         * start afresh. What we had of the old one goes. */
        ss_data_member_gone(ss, s, &who.name, now);
        ctl_waits_drop(s, &who.name);
        g->mem[i].offline = false;
        g->mem[i].missed = 0;
        member_out(ss, s, &who, SLIM_MEMBER_JOINED);
    } else if (!self && u->op == DATAPLANE__PROTO__V1__GROUP_UPDATE_OP__REMOVE && i >= 0 &&
               !slim_name_equal(&who.name, &s->peer.name)) {
        member_out(ss, s, &who, SLIM_MEMBER_LEFT);
        member_gone(ss, s, (uint32_t)i, now);
        hold_release(ss, s, &who.name);
    }
    ss_name_clear(&who);
    if (u->op == DATAPLANE__PROTO__V1__GROUP_UPDATE_OP__ADD) {
        uint64_t conn = g->welcome_conn;
        (void)ss_msg_in_conn(m, &conn);
        learn_listed(ss, s, r, conn);
    }
    return SLIM_OK;
}

static void update_apply_mls(slim_sessions *ss, ss_sess *s, const slim_msg *m, uint64_t now) {
    if (update_apply(ss, s, m, now) != SLIM_OK)
        ss->c.drop_nomem++; /* the commit is in: the roster misses this change */
}

static slim_status update_in(slim_sessions *ss, ss_sess *s, const slim_msg *m, uint64_t now) {
    ss_group *g = s->g;
    if (s->state != S_READY && s->state != S_DRAIN)
        return SLIM_E_SESSION_UNEXPECTED; /* not welcomed yet: unanswered, it comes again */
    uint32_t id = ss_msg_mid(m);
    for (uint32_t i = 0; i < g->nupd && i < SS_UPDATE_IDS; i++)
        if (g->upd[i] == id) {
            ss_answer(ss, s, m, T_GROUP_ACK);
            return SLIM_OK;
        }
    const Dataplane__Proto__V1__GroupUpdatePayload *u = ss_msg_command(m)->group_update;
    if (u->participant == NULL || u->participant->name == NULL) {
        ss->c.drop_malformed++;
        return SLIM_E_WIRE_MISSING_FIELD;
    }
    slim_status st;
    if (s->mls != NULL) {
        /* Commits apply in commit id order; one that came early is held
         * and acknowledged (upstream). One applied already is
         * acknowledged again, not applied again. */
        st = ss_mls_update_in(ss, s, m, update_apply_mls, now);
        if (st == SLIM_E_SESSION_DUPLICATE)
            st = SLIM_OK;
        else if (st == SLIM_E_SESSION_MLS_BEHIND || (st != SLIM_OK && st != SLIM_E_NOMEM))
            SLIM_LOGW(MOD, "group session %u: update %u refused: %s", s->id, id,
                      slim_status_str(st));
    } else {
        st = update_apply(ss, s, m, now);
    }
    if (st != SLIM_OK || s->state == S_DEAD)
        return st; /* unanswered: it comes again */
    g->upd[g->nupd++ % SS_UPDATE_IDS] = id;
    if (g->nupd >= 2 * SS_UPDATE_IDS)
        g->nupd -= SS_UPDATE_IDS;
    ss_answer(ss, s, m, T_GROUP_ACK);
    return SLIM_OK;
}

/* ---- leaving and closing ---- */

static void leave_send(slim_sessions *ss, ss_sess *s, uint64_t now) {
    s->state = S_CLOSING;
    hold_release(ss, s, NULL);
    slim_msg *m;
    if (cmd(ss, s, T_LEAVE_REQUEST, &s->peer, 0, false, &m, NULL) == SLIM_OK) {
        if (slim_wire_metadata_set(m, SS_KEY_LEAVING, SS_VAL_TRUE) == SLIM_OK) {
            if (ss_ctl_add(ss, s, m, P_LEAVE, &s->peer.name, false, now) == SLIM_OK)
                return;
        } else {
            slim_wire_free(m);
        }
    }
    ss_end(ss, s, SLIM_OK, R_CLOSED_LOCAL, 0, now);
}

static void close_send(slim_sessions *ss, ss_sess *s, uint64_t now) {
    ss_group *g = s->g;
    s->state = S_CLOSING;
    slim_name *w = NULL;
    uint32_t nw = 0;
    slim_msg *m = NULL;
    void *inner;
    if (ss_group_others(s, &w, &nw) == SLIM_OK && nw > 0 &&
        cmd(ss, s, T_GROUP_CLOSE, &g->ctrl, 0, true, &m, &inner) == SLIM_OK) {
        Dataplane__Proto__V1__GroupClosePayload *gc = inner;
        gc->participants = slim_calloc(g->nmem, sizeof *gc->participants);
        for (uint32_t i = 0; gc->participants != NULL && i < g->nmem; i++) {
            slim_str t[3];
            slim_wire_name wn = ss_name_wire(&g->mem[i].n, t);
            if (slim_wire_name_new(&wn, &gc->participants[i]) != SLIM_OK)
                break;
            gc->n_participants++;
        }
        /* ss_ctl_add_set frees m (and gc with it) when it fails */
        bool complete = gc->n_participants == g->nmem;
        if (complete && ss_ctl_add_set(ss, s, m, P_CLOSE, w, nw, now) == SLIM_OK) {
            slim_free(w);
            return;
        }
        if (!complete)
            slim_wire_free(m);
    }
    slim_free(w);
    ss_end(ss, s, SLIM_OK, R_CLOSED_LOCAL, 0, now);
}

static void tasks_cancel(slim_sessions *ss, ss_sess *s) {
    ss_group *g = s->g;
    while (g->task != NULL) {
        ss_task *t = g->task;
        g->task = t->next;
        if (t->done != NULL) {
            slim_sname v;
            ss_name_view(&t->who, &v);
            (void)ss_name_set(&t->done->who, &v.name, v.text);
            ss_out_settle(ss, &t->done, SLIM_E_CANCELLED, R_TASK_CANCELLED, 0);
        }
        task_free(t);
    }
    g->task_tail = NULL;
    g->ntasks = 0;
    task_ctl_clear(s);
    hold_settled(g);
}

slim_status ss_group_close(slim_sessions *ss, ss_sess *s, uint64_t now) {
    if (s->state != S_READY)
        return SLIM_E_SESSION_CLOSING;
    if (s->g->moderator)
        tasks_cancel(ss, s);
    if (ss_data_unacked(s) || (s->g->npt > 0)) {
        s->state = S_DRAIN;
        return SLIM_OK;
    }
    ss_group_drained(ss, s, now);
    return SLIM_OK;
}

void ss_group_drained(slim_sessions *ss, ss_sess *s, uint64_t now) {
    if (s->state != S_DRAIN && s->state != S_READY)
        return;
    if (s->g->moderator)
        close_send(ss, s, now);
    else
        leave_send(ss, s, now);
}

/* ---- inputs ---- */

static slim_status unexpected(slim_sessions *ss) {
    ss->c.drop_unexpected++;
    return SLIM_E_SESSION_UNEXPECTED;
}

static bool has_leaving(const slim_msg *m) {
    for (size_t i = 0; i < m->n_metadata; i++)
        if (strcmp(m->metadata[i]->key, SS_KEY_LEAVING) == 0)
            return true;
    return false;
}

/* A heartbeat in our group from one that is not a member: removed while it
 * was away (its process restarted from saved state, or it was cut off for
 * longer than offline_removal), it never got the LEAVE_REQUEST. It gets
 * one now, once per heartbeat, unwaited for: it ends as removed. */
static void not_member(slim_sessions *ss, ss_sess *s, const slim_msg *m) {
    slim_name n;
    slim_str text[3];
    uint64_t conn = UINT64_MAX; /* back where it came from: we hold no route to it */
    (void)ss_msg_in_conn(m, &conn);
    slim_msg *leave;
    if (ss_cmd_to(ss, s, T_LEAVE_REQUEST, ss_pb_wire(m->publish->header->source, &n, text), 0, conn,
                  &leave, NULL) == SLIM_OK)
        (void)ss_send_new(ss, s->handle, leave);
}

static slim_status moderator_input(slim_sessions *ss, ss_sess *s, const slim_msg *m,
                                   const slim_name *src, uint64_t now) {
    uint32_t type = ss_msg_type(m);
    long i;
    switch (type) {
    case T_DISCOVERY_REPLY:
        return discovery_reply_in(ss, s, m, src, now);
    case T_JOIN_REPLY:
        return join_reply_in(ss, s, m, src, now);
    case T_GROUP_ACK:
        return group_ack_in(ss, s, ss_msg_mid(m), src, now);
    case T_LEAVE_REQUEST:
        if (!has_leaving(m))
            return SLIM_E_SESSION_UNEXPECTED;
        return member_left(ss, s, m, src, now);
    case T_LEAVE_REPLY:
        i = ss_ctl_find(s, P_LEAVE, ss_msg_mid(m));
        if (i < 0 || !slim_name_equal(&s->ctl[i].from, src) || s->g->task == NULL)
            return SLIM_E_SESSION_UNEXPECTED;
        task_finish(ss, s, s->g->task->update_failed ? SLIM_E_SESSION_UPDATE_FAILED : SLIM_OK,
                    s->g->task->update_failed ? R_UPDATE_FAILED : R_REMOVE_OK, s->ctl_retries, NULL,
                    now);
        return SLIM_OK;
    case T_HEARTBEAT:
        if (mem_find(s->g, src, false) >= 0)
            return SLIM_OK;
        not_member(ss, s, m);
        return SLIM_E_SESSION_UNEXPECTED;
    case T_GROUP_PROPOSAL:
        /* a member asks for a key update (the only proposal we take) */
        if (mem_find(s->g, src, false) < 0)
            return SLIM_E_SESSION_UNEXPECTED;
        if (s->mls == NULL || s->g->rot_off) {
            ss_answer(ss, s, m, T_GROUP_NACK);
            return SLIM_OK;
        }
        if (rotate_queue(ss, s, 0, now) != SLIM_OK)
            return SLIM_E_NOMEM; /* unanswered: it comes again */
        ss_answer(ss, s, m, T_GROUP_ACK);
        return SLIM_OK;
    default:
        return SLIM_E_SESSION_UNEXPECTED;
    }
}

static slim_status member_input(slim_sessions *ss, ss_sess *s, const slim_msg *m,
                                const slim_name *src, uint64_t now) {
    uint32_t type = ss_msg_type(m);
    bool from_mod = slim_name_equal(src, &s->peer.name);
    if (type == T_HEARTBEAT)
        return mem_find(s->g, src, false) >= 0 || from_mod ? SLIM_OK : SLIM_E_SESSION_UNEXPECTED;
    if (!from_mod)
        return SLIM_E_SESSION_UNEXPECTED; /* group control comes from the moderator only */
    switch (type) {
    case T_DISCOVERY_REQUEST:
        /* MLS: the moderator adds us again (we missed a commit) */
        if (s->mls == NULL || s->state != S_READY)
            return SLIM_E_SESSION_UNEXPECTED;
        return ss_p2p_discovery_reply(ss, (slim_msg *)m, &(ss_appname){.n = s->local});
    case T_JOIN_REQUEST:
        /* Our JOIN_REPLY was lost: answer again (the same request id). */
        if (s->state == S_JOINED && !s->g->welcomed) {
            s->join_id = ss_msg_mid(m);
            s->join_deadline = now + (uint64_t)s->ctl_timeout_ms * (s->ctl_retries + 2);
            ss_p2p_join_reply(ss, s);
        } else if (s->mls != NULL && s->state == S_READY) {
            /* added again: a fresh KeyPackage (the same for copies) */
            if (ss_msg_mid(m) != s->join_id)
                ss_mls_rekey(s);
            s->join_id = ss_msg_mid(m);
            ss_p2p_join_reply(ss, s);
        }
        return SLIM_OK;
    case T_GROUP_WELCOME:
        return welcome_in(ss, s, m, now);
    case T_GROUP_UPDATE:
        return update_in(ss, s, m, now);
    case T_GROUP_ACK:
    case T_GROUP_NACK:
        return rotate_answer(ss, s, m, type == T_GROUP_ACK);
    case T_GROUP_CLOSE:
        ss_answer(ss, s, m, T_GROUP_ACK);
        ss_end(ss, s, SLIM_E_SESSION_MODERATOR_CLOSED, R_MODERATOR_CLOSED, 0, now);
        return SLIM_OK;
    case T_LEAVE_REQUEST:
        ss_answer(ss, s, m, T_LEAVE_REPLY);
        ss_end(ss, s, SLIM_E_SESSION_REMOVED, R_REMOVED, 0, now);
        return SLIM_OK;
    case T_LEAVE_REPLY:
        if (s->state == S_CLOSING && ss_ctl_find(s, P_LEAVE, ss_msg_mid(m)) >= 0) {
            ss_end(ss, s, SLIM_OK, R_CLOSE_DONE, 0, now);
            return SLIM_OK;
        }
        return SLIM_E_SESSION_UNEXPECTED;
    default:
        return SLIM_E_SESSION_UNEXPECTED;
    }
}

slim_status ss_group_input(slim_sessions *ss, ss_sess *s, slim_msg *m, uint64_t now) {
    slim_name src;
    (void)ss_msg_source(m, &src);
    slim_status st =
        s->g->moderator ? moderator_input(ss, s, m, &src, now) : member_input(ss, s, m, &src, now);
    if (st == SLIM_E_SESSION_UNEXPECTED)
        st = unexpected(ss);
    slim_wire_free(m);
    return st;
}

void ss_group_node_error(slim_sessions *ss, ss_sess *s, const slim_msg *m, uint64_t now) {
    ss->c.node_errors++;
    slim_name src;
    (void)ss_msg_source(m, &src);
    uint32_t id = ss_msg_mid(m), type = ss_msg_type(m);
    for (uint32_t i = 0; i < s->nctl; i++) {
        slim_name d;
        if (s->ctl[i].id == id && s->ctl[i].type == type && s->ctl[i].wait == NULL &&
            ss_msg_dest(s->ctl[i].msg, &d) && slim_name_equal(&d, &src)) {
            ctl_failed(ss, s, i, true, now);
            return;
        }
    }
}

void ss_group_route_ack(slim_sessions *ss, ss_sess *s, ss_route *r, bool ok, uint64_t now) {
    ss_group *g = s->g;
    bool waits = false;
    for (uint32_t i = 0; i < g->nhold; i++)
        if (g->hold[i].r == r && g->hold[i].wait)
            waits = true;
    if (!waits || s->state == S_DEAD)
        return;
    (void)ok;
    int h = hold_state(g);
    if (h == 0)
        return;
    if (g->moderator) {
        if (g->task == NULL || g->task->step != TS_ROUTE)
            return;
        if (h > 0) {
            hold_settled(g);
            send_join(ss, s, now);
        } else {
            task_finish(ss, s, SLIM_E_SESSION_ROUTE_REFUSED, R_ROUTE_REFUSED, 0, NULL, now);
        }
    } else if (s->state == S_JOINED && g->welcomed) {
        if (h > 0)
            welcome_done(ss, s, now);
        else
            ss_end(ss, s, SLIM_E_SESSION_ROUTE_REFUSED, R_ROUTE_REFUSED, 0, now);
    }
    ss_reschedule(ss, s);
}

/* ---- liveness (session-protocol-head.md §5.8-5.9) ---- */

static void heartbeat_send(slim_sessions *ss, ss_sess *s) {
    slim_msg *m;
    void *inner;
    if (cmd(ss, s, T_HEARTBEAT, &s->g->ctrl, 0, true, &m, &inner) == SLIM_OK) {
        /* the MLS epoch; without MLS, the largest (upstream) */
        ((Dataplane__Proto__V1__HeartbeatPayload *)inner)->epoch = ss_mls_epoch(s->mls);
        if (ss_send_new(ss, s->handle, m) == SLIM_OK)
            ss->c.heartbeats++;
    } else {
        ss->c.send_failures++;
    }
}

static bool is_self(const ss_sess *s, const ss_member *mb) {
    return slim_name_equal(&mb->n.name, &s->local.name);
}

static bool all_down(const ss_sess *s) {
    const ss_group *g = s->g;
    for (uint32_t i = 0; i < g->nmem; i++)
        if (!g->mem[i].offline && !is_self(s, &g->mem[i]))
            return false;
    return g->nmem > 1;
}

/* Member i is declared down: the application is told, and nothing more is
 * waited for from it. It stays in the roster (offline) until it comes
 * back or is removed. */
static void member_down(slim_sessions *ss, ss_sess *s, uint32_t i, uint64_t now) {
    ss_member *mb = &s->g->mem[i];
    mb->offline = true;
    mb->down_at = now;
    ss->c.members_down++;
    SLIM_LOGI(MOD, "group session %u: %s/%s/%s is down (%u heartbeat periods silent)", s->id,
              mb->n.text[0] ? mb->n.text[0] : "?", mb->n.text[1] ? mb->n.text[1] : "?",
              mb->n.text[2] ? mb->n.text[2] : "?", ss->heartbeat_misses);
    member_out(ss, s, &mb->n, SLIM_MEMBER_DOWN);
    slim_name who = mb->n.name;
    for (uint32_t k = 0; s->mls != NULL && k < s->nctl; k++)
        for (uint32_t j = 0; s->ctl[k].purpose == P_UPDATE && j < s->ctl[k].nwait; j++)
            if (slim_name_equal(&s->ctl[k].wait[j], &who))
                mb->stale = true; /* it will have missed that commit */
    ctl_waits_drop(s, &who);
    ss_data_member_down(ss, s, &who, now);
    if (s->state != S_DEAD)
        sets_check(ss, s, now);
}

/* Member i came back: it may have missed updates while it was down, so
 * it gets the roster (GROUP_UPDATE ADD naming itself, to it alone; an
 * upstream member rebuilds its roster from it too). */
static void send_sync(slim_sessions *ss, ss_sess *s, uint32_t i, uint64_t now) {
    ss_group *g = s->g;
    slim_sname v;
    ss_name_view(&g->mem[i].n, &v);
    ss_name to = {0};
    if (ss_name_set(&to, &v.name, v.text) != SLIM_OK)
        return;
    for (uint32_t k = 0; k < s->nctl;) /* an older one is stale */
        if (s->ctl[k].purpose == P_SYNC && slim_name_equal(&s->ctl[k].from, &to.name))
            ss_ctl_remove(s, k);
        else
            k++;
    slim_msg *m;
    void *inner;
    if (cmd(ss, s, T_GROUP_UPDATE, &to, 0, false, &m, &inner) == SLIM_OK) {
        Dataplane__Proto__V1__GroupUpdatePayload *u = inner;
        u->op = DATAPLANE__PROTO__V1__GROUP_UPDATE_OP__ADD;
        u->participant = ss_participant_new(&to, true, true);
        if (u->participant == NULL ||
            roster_pb(g, NULL, &u->participants, &u->n_participants) != SLIM_OK)
            slim_wire_free(m);
        else if (ss_ctl_add(ss, s, m, P_SYNC, &to.name, false, now) != SLIM_OK)
            ss->c.send_failures++;
    }
    ss_name_clear(&to);
}

bool ss_group_heard_since(const ss_sess *s, const slim_name *who, uint32_t n, uint64_t since) {
    for (uint32_t k = 0; k < n; k++) {
        long i = mem_find(s->g, &who[k], false);
        if (i >= 0 && s->g->mem[i].heard_at != 0 && s->g->mem[i].heard_at >= since)
            return true;
    }
    return false;
}

void ss_group_heard(slim_sessions *ss, ss_sess *s, const slim_name *src, uint64_t now) {
    if (s->state != S_READY && s->state != S_DRAIN)
        return;
    long i = mem_find(s->g, src, false);
    if (i < 0)
        return;
    ss_member *mb = &s->g->mem[i];
    mb->missed = 0;
    mb->heard_at = now;
    if (!mb->offline)
        return;
    mb->offline = false;
    mb->down_at = 0;
    mb->removing = false; /* a removal queued for it finds it back */
    ss->c.members_up++;
    SLIM_LOGI(MOD, "group session %u: %s/%s/%s is back", s->id, mb->n.text[0] ? mb->n.text[0] : "?",
              mb->n.text[1] ? mb->n.text[1] : "?", mb->n.text[2] ? mb->n.text[2] : "?");
    member_out(ss, s, &mb->n, SLIM_MEMBER_UP);
    heartbeat_send(ss, s); /* it hears from us at once (§5.9) */
    if (s->g->moderator && s->mls == NULL)
        send_sync(ss, s, (uint32_t)i, now);
    else if (s->g->moderator && mb->stale)
        readd_later(ss, s, &mb->n.name, now); /* the commits it missed: added again */
}

/* One heartbeat period went by: members silent for heartbeat_misses of
 * them are down; the moderator removes those down for offline_removal,
 * and a member whose moderator is down that long ends its session. */
static void liveness_tick(slim_sessions *ss, ss_sess *s, uint64_t now) {
    ss_group *g = s->g;
    for (uint32_t i = 0; i < g->nmem; i++)
        if (!g->mem[i].offline && !is_self(s, &g->mem[i]))
            g->mem[i].missed++;
    for (;;) {
        uint32_t i = 0;
        while (i < g->nmem && (g->mem[i].offline || is_self(s, &g->mem[i]) ||
                               g->mem[i].missed < ss->heartbeat_misses))
            i++;
        if (i == g->nmem)
            break;
        member_down(ss, s, i, now);
        if (s->state == S_DEAD)
            return;
    }
    for (uint32_t i = 0; i < g->nmem; i++) {
        ss_member *mb = &g->mem[i];
        if (!mb->offline || now - mb->down_at < ss->offline_removal_ms)
            continue;
        if (!g->moderator && slim_name_equal(&mb->n.name, &s->peer.name)) {
            ss_end(ss, s, SLIM_E_SESSION_MODERATOR_GONE, R_MODERATOR_GONE,
                   (uint32_t)((now - mb->down_at) / 1000 + 1), now);
            return;
        }
        if (g->moderator && !mb->removing) {
            slim_sname v;
            ss_name_view(&mb->n, &v);
            ss_task *t = task_new(ss, s, K_REMOVE, &v, 0);
            if (t == NULL)
                continue; /* the next period tries again */
            t->gone = true;
            mb->removing = true;
            task_append(g, t);
        }
    }
    if (g->moderator)
        task_run(ss, s, now);
}

/* ---- timers ---- */

void ss_group_expire(slim_sessions *ss, ss_sess *s, uint64_t now) {
    ss_group *g = s->g;
    ss_ctl_expire(ss, s, now, ctl_failed);
    if (s->state == S_DEAD)
        return;
    if (g->wait_deadline != 0 && g->wait_deadline <= now) {
        hold_settled(g);
        if (g->moderator)
            task_finish(ss, s, SLIM_E_SESSION_ROUTE_TIMEOUT, R_ROUTE_TIMEOUT, ss->sub_ack_ms, NULL,
                        now);
        else
            ss_end(ss, s, SLIM_E_SESSION_ROUTE_TIMEOUT, R_ROUTE_TIMEOUT, ss->sub_ack_ms, now);
        if (s->state == S_DEAD)
            return;
    }
    if (s->state == S_ROUTE && s->route_deadline != 0 && s->route_deadline <= now) {
        ss_end(ss, s, SLIM_E_SESSION_ROUTE_TIMEOUT, R_ROUTE_TIMEOUT, ss->sub_ack_ms, now);
        return;
    }
    if (s->state == S_JOINED && s->join_deadline != 0 && s->join_deadline <= now) {
        ss_end(ss, s, SLIM_E_SESSION_WELCOME_FAILED, R_WELCOME_FAILED, s->ctl_retries, now);
        return;
    }
    if (g->moderator && g->rot_next != 0 && g->rot_next <= now && s->state == S_READY) {
        g->rot_next = now + g->rot_ms;
        if (!g->rot_off && rotate_queue(ss, s, 0, now) != SLIM_OK)
            ss->c.drop_nomem++; /* the next period tries again */
    }
    bool beat = (s->state == S_READY || s->state == S_DRAIN) && (!g->moderator || g->nmem > 1);
    if (beat && s->hb_next <= now) {
        /* Sent unless something else went out this period; always when
         * everyone else is down (they hear from us as soon as they can). */
        if (!s->hb_active || all_down(s))
            heartbeat_send(ss, s);
        s->hb_active = false;
        s->hb_next += ss->heartbeat_ms;
        if (s->hb_next <= now)
            s->hb_next = now + ss->heartbeat_ms;
        liveness_tick(ss, s, now);
    }
}

uint64_t ss_group_deadline(const ss_sess *s) {
    const ss_group *g = s->g;
    uint64_t d = UINT64_MAX;
    for (uint32_t i = 0; i < s->nctl; i++)
        if (s->ctl[i].deadline < d)
            d = s->ctl[i].deadline;
    if (g->wait_deadline != 0 && g->wait_deadline < d)
        d = g->wait_deadline;
    if (s->state == S_ROUTE && s->route_deadline != 0 && s->route_deadline < d)
        d = s->route_deadline;
    if (s->state == S_JOINED && s->join_deadline != 0 && s->join_deadline < d)
        d = s->join_deadline;
    bool beat = (s->state == S_READY || s->state == S_DRAIN) && (!g->moderator || g->nmem > 1);
    if (beat && s->hb_next < d)
        d = s->hb_next;
    if (g->moderator && g->rot_next != 0 && s->state == S_READY && g->rot_next < d)
        d = g->rot_next;
    return d;
}

/* ---- creation and the end ---- */

ss_group *ss_group_new(void) {
    return slim_calloc(1, sizeof(ss_group));
}

slim_status ss_group_open(slim_sessions *ss, ss_sess *s, const slim_sname *channel,
                          uint32_t rot_ms) {
    s->g = ss_group_new();
    if (s->g == NULL)
        return SLIM_E_NOMEM;
    s->g->moderator = true;
    s->g->rot_ms = rot_ms;
    s->g->rot_next = rot_ms != 0 && s->mls != NULL ? ss->now + rot_ms : 0;
    slim_status st = channel_names(ss, s->g, channel);
    if (st == SLIM_OK) {
        slim_sname v;
        ss_name_view(&s->g->data, &v);
        st = ss_name_set(&s->peer, &v.name, v.text);
    }
    if (st == SLIM_OK)
        st = mem_add(s->g, &s->local);
    s->hb_next = UINT64_MAX;
    return st;
}

slim_status ss_group_joiner(slim_sessions *ss, ss_sess *s, const slim_msg *m) {
    (void)ss;
    const Dataplane__Proto__V1__JoinRequestPayload *jr = ss_msg_command(m)->join_request;
    if (!jr->_channel_case || jr->channel == NULL || !jr->_control_case || jr->control == NULL)
        return SLIM_E_WIRE_MISSING_FIELD;
    s->g = ss_group_new();
    if (s->g == NULL)
        return SLIM_E_NOMEM;
    s->g->rot_off = !ss_msg_ours(m); /* an upstream moderator takes no request */
    slim_status st = ss_name_from_pb(&s->g->data, jr->channel);
    if (st == SLIM_OK)
        st = ss_name_from_pb(&s->g->ctrl, jr->control);
    if (st == SLIM_OK && (slim_name_equal(&s->g->data.name, &s->g->ctrl.name) ||
                          !slim_name_same_service(&s->g->data.name, &s->g->ctrl.name)))
        st = SLIM_E_WIRE_MISSING_FIELD;
    return st;
}

void ss_group_end(slim_sessions *ss, ss_sess *s) {
    if (s->g->moderator)
        tasks_cancel(ss, s);
    ss_out_settle(ss, &s->g->rot_done, SLIM_E_CANCELLED, R_TASK_CANCELLED, 0);
    hold_release(ss, s, NULL);
}

void ss_group_free(ss_sess *s) {
    ss_group *g = s->g;
    if (g == NULL)
        return;
    while (g->task != NULL) {
        ss_task *t = g->task;
        g->task = t->next;
        task_free(t);
    }
    for (uint32_t i = 0; i < g->nmem; i++)
        ss_name_clear(&g->mem[i].n);
    slim_free(g->mem);
    slim_free(g->hold);
    ss_name_clear(&g->data);
    ss_name_clear(&g->ctrl);
    ss_out_free(g->rot_done);
    slim_free(g);
    s->g = NULL;
}
