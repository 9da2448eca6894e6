/*
 * MLS in sessions (docs/sessions.md, "MLS"): the group state of a session
 * with end-to-end encryption, and the checks that bind it to SLIM names.
 *
 * The opener (a group's moderator, a point-to-point initiator) creates
 * the MLS group and is its only committer; a joiner sends a KeyPackage in
 * its JOIN_REPLY and enters from the Welcome. Commits carry an increasing
 * commit id; a member applies them strictly in that order and holds the
 * ones that came early. Application data (the blob of MSG and RTX_REPLY)
 * travels as a PrivateMessage whose authenticated data is the message's
 * own header AAD (slim_wire_header_aad), checked on every message.
 *
 * Credentials are the members' identity tokens; the app's ops check them
 * (sessions.h: mls_check). A credential already in the group's tree is
 * checked for its MAC or signature and key, not its expiry, so a group
 * outlives any one token. Each state keeps, per leaf, the app id its
 * credential names: the MLS sender of a message must be the member whose
 * SLIM name sent it.
 */
#include "core/alloc.h"
#include "mls/group.h"
#include "session/ss_int.h"

#include <string.h>

/* Earlier epochs whose states are kept: a message is sent again with the
 * keys of the epoch it was first sent in, and late ones are read. Each is
 * kept for the session's retransmission time, (max_retries + 1) x
 * timeout, after the epoch ends (ss_mls_expire), and at most this many. */
#define SS_MLS_PAST    16u
#define SS_MLS_PENDING 16u /* commits held ahead of the next one to apply */

/* One epoch's state with the app id of each of its leaves (any: none). */
typedef struct ss_epoch {
    slim_mls_group *g;
    slim_id *ids;
    uint32_t nids;
    uint64_t ended; /* a past epoch: when the next one was installed (ms) */
} ss_epoch;

/* A GROUP_UPDATE whose commit came before the one it follows. */
typedef struct ss_pend {
    uint32_t id;
    slim_msg *msg;
} ss_pend;

struct ss_mls {
    slim_sessions *ss;
    ss_sess *s;
    slim_mls_client *client;
    ss_epoch cur;
    ss_epoch past[SS_MLS_PAST];
    uint32_t past_next;
    uint32_t commit_id; /* the opener: the last one made; a member: the last applied */
    bool joining;       /* a Welcome's tree is being checked */
    bool expect;        /* a new credential must name expect_id */
    slim_id expect_id;
    bool has_kp;
    slim_buf kp;
    slim_mls_key_package_keys keys;
    ss_pend pend[SS_MLS_PENDING];
    uint32_t npend;
    slim_name *seen_src; /* the replay cache: a ring of (source, id) */
    uint32_t *seen_id;
    uint32_t seen_next, nseen;
};

static const slim_mls_group_options group_opts = {.max_past_epochs = SS_MLS_PAST};

/* Our leaves' lifetime around the time they are made (tokens are what
 * expires; other implementations check lifetimes of what they add). */
#define SS_MLS_LIFETIME_BEFORE_S 3600u
#define SS_MLS_LIFETIME_AFTER_S  (365u * 86400u)

static slim_mls_env env_of(const slim_sessions *ss) {
    return (slim_mls_env){.now = ss->ops.unix_time != NULL ? ss->ops.unix_time(ss->ops.ud) : 0};
}

/* ---- credentials ---- */

static bool same_bytes(slim_bytes a, slim_bytes b) {
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static bool in_tree(const slim_mls_group *g, const slim_mls_credential *c) {
    if (g == NULL)
        return false;
    uint32_t n = slim_mls_tree_leaf_count(slim_mls_group_tree(g));
    for (uint32_t i = 0; i < n; i++) {
        const slim_mls_leaf_node *ln = slim_mls_group_member(g, i);
        if (ln != NULL && ln->credential.type == c->type &&
            same_bytes(ln->credential.body, c->body))
            return true;
    }
    return false;
}

/* The Authentication Service of the session's MLS client. */
static slim_status credential_check(void *arg, const slim_mls_credential *c, slim_bytes key) {
    ss_mls *m = arg;
    slim_sessions *ss = m->ss;
    if (c->type != SLIM_MLS_CREDENTIAL_BASIC)
        return SLIM_E_SESSION_MLS_IDENTITY;
    bool fresh = !m->joining && !in_tree(m->cur.g, c);
    slim_id id;
    slim_status st = ss->ops.mls_check(ss->ops.ud, c->body, key, fresh, &id);
    if (st != SLIM_OK)
        return st;
    if (fresh && m->expect && !slim_id_equal(id, m->expect_id))
        return SLIM_E_SESSION_MLS_IDENTITY;
    return SLIM_OK;
}

/* The app id of every leaf of e->g. A leaf the current state has at the
 * same place with the same credential and key keeps its id: a commit
 * checks only the leaves it changes, not every token again. */
static slim_status learn_leaves(ss_mls *m, ss_epoch *e) {
    slim_sessions *ss = m->ss;
    uint32_t n = slim_mls_tree_leaf_count(slim_mls_group_tree(e->g));
    slim_id *ids = slim_calloc(n ? n : 1, sizeof *ids);
    if (ids == NULL)
        return SLIM_E_NOMEM;
    const ss_epoch *cur = &m->cur;
    for (uint32_t i = 0; i < n; i++) {
        const slim_mls_leaf_node *ln = slim_mls_group_member(e->g, i);
        const slim_mls_leaf_node *was =
            cur->g != NULL && i < cur->nids ? slim_mls_group_member(cur->g, i) : NULL;
        ids[i] = slim_id_any();
        if (ln == NULL)
            continue;
        if (was != NULL && same_bytes(was->credential.body, ln->credential.body) &&
            same_bytes(was->signature_key, ln->signature_key))
            ids[i] = cur->ids[i];
        else if (ss->ops.mls_check(ss->ops.ud, ln->credential.body, ln->signature_key, false,
                                   &ids[i]) != SLIM_OK)
            ids[i] = slim_id_any();
    }
    slim_free(e->ids);
    e->ids = ids;
    e->nids = n;
    return SLIM_OK;
}

static void epoch_clear(ss_epoch *e) {
    slim_mls_group_free(e->g);
    slim_free(e->ids);
    memset(e, 0, sizeof *e);
}

/* Erases every kept epoch up to `epoch`: the past states of those epochs,
 * and what the later states keep of them. */
static void forget_through(ss_mls *m, uint64_t epoch) {
    for (uint32_t i = 0; i < SS_MLS_PAST; i++) {
        ss_epoch *e = &m->past[i];
        if (e->g != NULL && slim_mls_group_epoch(e->g) <= epoch)
            epoch_clear(e);
        else if (e->g != NULL)
            slim_mls_group_forget_epochs(e->g, epoch);
    }
    if (m->cur.g != NULL)
        slim_mls_group_forget_epochs(m->cur.g, epoch);
}

/* e (its ids learnt) becomes the current state; the one before is kept
 * for a while. */
static void epoch_install(ss_mls *m, ss_epoch e) {
    if (m->cur.g != NULL) {
        ss_epoch *old = &m->past[m->past_next];
        if (old->g != NULL) /* the oldest goes early: too many epochs too fast */
            forget_through(m, slim_mls_group_epoch(old->g));
        *old = m->cur;
        old->ended = m->ss->now;
        m->past_next = (m->past_next + 1) % SS_MLS_PAST;
        ss_reschedule(m->ss, m->s);
    }
    m->cur = e;
}

/* g becomes the current state (freed on error). */
static slim_status state_set(ss_mls *m, slim_mls_group *g) {
    ss_epoch e = {.g = g};
    slim_status st = learn_leaves(m, &e);
    if (st != SLIM_OK) {
        slim_mls_group_free(g);
        return st;
    }
    epoch_install(m, e);
    return SLIM_OK;
}

static const ss_epoch *epoch_find(const ss_mls *m, uint64_t epoch) {
    if (m->cur.g != NULL && (epoch == UINT64_MAX || slim_mls_group_epoch(m->cur.g) == epoch))
        return &m->cur;
    for (uint32_t i = 0; i < SS_MLS_PAST; i++)
        if (m->past[i].g != NULL && slim_mls_group_epoch(m->past[i].g) == epoch)
            return &m->past[i];
    return NULL;
}

static long leaf_of(const ss_epoch *e, slim_id id) {
    for (uint32_t i = 0; i < e->nids; i++)
        if (slim_id_equal(e->ids[i], id) && slim_mls_group_member(e->g, i) != NULL)
            return (long)i;
    return -1;
}

/* ---- the object ---- */

slim_status ss_mls_new(slim_sessions *ss, ss_sess *s) {
    if (ss->ops.mls_self == NULL || ss->ops.mls_check == NULL)
        return SLIM_E_UNSUPPORTED;
    ss_mls *m = slim_calloc(1, sizeof *m);
    if (m == NULL)
        return SLIM_E_NOMEM;
    m->ss = ss;
    m->s = s;
    m->seen_src = slim_calloc(SS_MLS_REPLAY, sizeof *m->seen_src);
    m->seen_id = slim_calloc(SS_MLS_REPLAY, sizeof *m->seen_id);
    slim_bytes cred, priv;
    uint16_t suite = 0;
    slim_status st = m->seen_src && m->seen_id ? SLIM_OK : SLIM_E_NOMEM;
    if (st == SLIM_OK)
        st = ss->ops.mls_self(ss->ops.ud, &cred, &priv, &suite);
    uint64_t now = ss->ops.unix_time != NULL ? ss->ops.unix_time(ss->ops.ud) : 0;
    slim_mls_lifetime life = {0, UINT64_MAX};
    if (now > SS_MLS_LIFETIME_BEFORE_S)
        life = (slim_mls_lifetime){now - SS_MLS_LIFETIME_BEFORE_S, now + SS_MLS_LIFETIME_AFTER_S};
    if (st == SLIM_OK) {
        slim_mls_client_params p = {
            .suite = suite,
            .signature_priv = priv,
            .credential = {.type = SLIM_MLS_CREDENTIAL_BASIC, .body = cred},
            .lifetime = life,
            .credential_check = credential_check,
            .credential_arg = m,
        };
        st = slim_mls_client_new(&p, &m->client);
    }
    if (st != SLIM_OK) {
        ss_mls_free(m);
        return st;
    }
    s->mls = m;
    return SLIM_OK;
}

void ss_mls_free(ss_mls *m) {
    if (m == NULL)
        return;
    epoch_clear(&m->cur);
    for (uint32_t i = 0; i < SS_MLS_PAST; i++)
        epoch_clear(&m->past[i]);
    for (uint32_t i = 0; i < m->npend; i++)
        slim_wire_free(m->pend[i].msg);
    slim_buf_cleanup(&m->kp);
    slim_mls_key_package_keys_cleanup(&m->keys);
    slim_mls_client_free(m->client);
    slim_free(m->seen_src);
    slim_free(m->seen_id);
    slim_free(m);
}

bool ss_mls_ready(const ss_mls *m) {
    return m != NULL && m->cur.g != NULL;
}

uint64_t ss_mls_epoch(const ss_mls *m) {
    return ss_mls_ready(m) ? slim_mls_group_epoch(m->cur.g) : UINT64_MAX;
}

uint32_t ss_mls_commit_id(const ss_mls *m) {
    return m->commit_id;
}

/* How long an ended epoch's keys stay: what the session's retransmissions
 * of it may take. */
static uint64_t retention(const ss_sess *s) {
    uint64_t t = s->timeout_ms ? s->timeout_ms : SS_DEFAULT_CTL_TIMEOUT;
    return ((uint64_t)s->max_retries + 1) * t;
}

uint64_t ss_mls_deadline(const ss_sess *s) {
    const ss_mls *m = s->mls;
    uint64_t d = UINT64_MAX;
    if (m == NULL)
        return d;
    for (uint32_t i = 0; i < SS_MLS_PAST; i++)
        if (m->past[i].g != NULL && m->past[i].ended + retention(s) < d)
            d = m->past[i].ended + retention(s);
    return d;
}

void ss_mls_expire(ss_sess *s, uint64_t now) {
    ss_mls *m = s->mls;
    if (m == NULL)
        return;
    uint64_t through = 0;
    bool any = false;
    for (uint32_t i = 0; i < SS_MLS_PAST; i++) {
        const ss_epoch *e = &m->past[i];
        if (e->g != NULL && e->ended + retention(s) <= now) {
            uint64_t ep = slim_mls_group_epoch(e->g);
            if (!any || ep > through)
                through = ep;
            any = true;
        }
    }
    if (any)
        forget_through(m, through);
}

uint32_t ss_mls_past_epochs(const ss_mls *m) {
    uint32_t n = 0;
    for (uint32_t i = 0; m != NULL && i < SS_MLS_PAST; i++)
        n += m->past[i].g != NULL;
    /* and the message keys the current state keeps of them */
    uint32_t k = ss_mls_ready(m) ? slim_mls_group_past_epochs(m->cur.g) : 0;
    return k > n ? k : n;
}

slim_status ss_mls_create(slim_sessions *ss, ss_sess *s) {
    ss_mls *m = s->mls;
    if (m->cur.g != NULL)
        return SLIM_OK;
    /* The group id: "slim", the session id and the opener's app id. */
    uint8_t gid[4 + 4 + 16];
    memcpy(gid, "slim", 4);
    for (int i = 0; i < 4; i++)
        gid[4 + i] = (uint8_t)(s->id >> (24 - 8 * i));
    for (int i = 0; i < 8; i++) {
        gid[8 + i] = (uint8_t)(s->local.name.id.hi >> (56 - 8 * i));
        gid[16 + i] = (uint8_t)(s->local.name.id.lo >> (56 - 8 * i));
    }
    slim_mls_env e = env_of(m->ss);
    slim_mls_group *g;
    slim_status st = slim_mls_group_create(m->client, slim_bytes_of(gid, sizeof gid),
                                           slim_bytes_of(NULL, 0), &group_opts, &e, &g);
    (void)ss;
    return st == SLIM_OK ? state_set(m, g) : st;
}

slim_status ss_mls_key_package(ss_sess *s, slim_bytes *out) {
    ss_mls *m = s->mls;
    if (!m->has_kp) {
        slim_buf_cleanup(&m->kp);
        slim_status st = slim_mls_client_key_package(m->client, NULL, &m->kp, &m->keys);
        if (st != SLIM_OK)
            return st;
        m->has_kp = true;
    }
    *out = slim_buf_view(&m->kp);
    return SLIM_OK;
}

/* Commits `props` (n of them) as the opener: the new epoch is current. */
static slim_status commit(ss_mls *m, const slim_mls_proposal_spec *props, size_t n,
                          slim_buf *commit_out, slim_buf *welcome_out, uint32_t *commit_id) {
    slim_mls_commit_spec spec = {
        .proposals = props,
        .n_proposals = n,
        .force_path = n == 0,
        .wire_format = SLIM_MLS_WIRE_PUBLIC_MESSAGE,
        .welcome_tree = true,
    };
    slim_mls_commit_output o = {0};
    slim_mls_env e = env_of(m->ss);
    slim_status st = slim_mls_group_commit(m->cur.g, &spec, &e, &o);
    if (st == SLIM_OK) {
        st = state_set(m, o.group);
        o.group = NULL;
    }
    if (st == SLIM_OK) {
        slim_buf_cleanup(commit_out); /* an earlier attempt's */
        *commit_out = o.commit;
        slim_buf_init(&o.commit);
        if (welcome_out != NULL) {
            slim_buf_cleanup(welcome_out);
            *welcome_out = o.welcome;
            slim_buf_init(&o.welcome);
        }
        *commit_id = ++m->commit_id;
    }
    slim_mls_commit_output_cleanup(&o);
    return st;
}

slim_status ss_mls_add(ss_sess *s, slim_bytes key_package, const slim_name *who, slim_buf *c,
                       slim_buf *w, uint32_t *commit_id) {
    ss_mls *m = s->mls;
    slim_mls_proposal_spec p[2] = {{0}};
    size_t n = 0;
    long old = leaf_of(&m->cur, who->id);
    if (old >= 0 && (uint32_t)old != slim_mls_group_own_leaf(m->cur.g))
        p[n++] =
            (slim_mls_proposal_spec){.type = SLIM_MLS_PROPOSAL_REMOVE, .removed = (uint32_t)old};
    p[n++] = (slim_mls_proposal_spec){.type = SLIM_MLS_PROPOSAL_ADD, .key_package = key_package};
    m->expect = true;
    m->expect_id = who->id;
    slim_status st = commit(m, p, n, c, w, commit_id);
    m->expect = false;
    return st;
}

slim_status ss_mls_remove(ss_sess *s, const slim_name *who, slim_buf *c, uint32_t *commit_id) {
    ss_mls *m = s->mls;
    long leaf = leaf_of(&m->cur, who->id);
    if (leaf >= 0 && (uint32_t)leaf == slim_mls_group_own_leaf(m->cur.g))
        return SLIM_E_INVALID_ARG;
    slim_mls_proposal_spec p = {.type = SLIM_MLS_PROPOSAL_REMOVE, .removed = (uint32_t)leaf};
    /* not in the tree (never welcomed): a commit that only moves the
     * epoch on, so the update that tells the others still carries one */
    return commit(m, &p, leaf >= 0, c, NULL, commit_id);
}

/* Generations of our own ratchets a restored state skips: what a member
 * may have sent after its last save (a (key, nonce) is never used twice);
 * within what receivers follow (SLIM_MLS_RATCHET_MAX_JUMP). */
#define SS_MLS_RESTORE_SKIP 512u

slim_status ss_mls_save(const ss_mls *m, slim_buf *out) {
    if (!ss_mls_ready(m))
        return SLIM_E_STATE;
    return slim_mls_group_save(m->cur.g, out);
}

slim_status ss_mls_restore(ss_sess *s, slim_bytes saved, uint32_t commit_id) {
    ss_mls *m = s->mls;
    if (m->cur.g != NULL)
        return SLIM_E_STATE;
    slim_mls_group *g;
    slim_status st = slim_mls_group_load(m->client, saved, &group_opts, SS_MLS_RESTORE_SKIP, &g);
    if (st != SLIM_OK)
        return st;
    st = state_set(m, g);
    if (st == SLIM_OK)
        m->commit_id = commit_id;
    return st;
}

slim_status ss_mls_rotate(ss_sess *s, slim_buf *c, uint32_t *commit_id) {
    return commit(s->mls, NULL, 0, c, NULL, commit_id);
}

slim_status ss_mls_welcome(ss_sess *s, slim_bytes welcome, uint32_t commit_id,
                           const slim_name *from) {
    ss_mls *m = s->mls;
    if (!m->has_kp) /* in already (a KeyPackage is made only to join) */
        return m->cur.g != NULL ? SLIM_E_SESSION_DUPLICATE : SLIM_E_SESSION_UNEXPECTED;
    slim_mls_join_params p = {
        .client = m->client,
        .key_package = slim_buf_view(&m->kp),
        .keys = &m->keys,
        .opts = &group_opts,
    };
    slim_mls_env en = env_of(m->ss);
    slim_mls_group *g;
    m->joining = true;
    slim_status st = slim_mls_group_join(&p, welcome, &en, &g);
    m->joining = false;
    if (st != SLIM_OK)
        return st;
    /* the welcome's sender is a member (the one that signed it in) */
    ss_epoch e = {.g = g};
    if ((st = learn_leaves(m, &e)) != SLIM_OK || leaf_of(&e, from->id) < 0) {
        epoch_clear(&e);
        return st != SLIM_OK ? st : SLIM_E_SESSION_MLS_IDENTITY;
    }
    epoch_install(m, e);
    m->commit_id = commit_id;
    for (uint32_t i = 0; i < m->npend;) /* held commits the welcome covers */
        if (m->pend[i].id <= commit_id) {
            slim_wire_free(m->pend[i].msg);
            m->pend[i] = m->pend[--m->npend];
        } else {
            i++;
        }
    ss_mls_rekey(s); /* its KeyPackage is used */
    return SLIM_OK;
}

void ss_mls_rekey(ss_sess *s) {
    ss_mls *m = s->mls;
    m->has_kp = false;
    slim_buf_cleanup(&m->kp);
    slim_mls_key_package_keys_cleanup(&m->keys);
}

/* ---- commits at a member ---- */

static slim_status apply(ss_mls *m, slim_bytes c, const slim_name *from, bool *removed) {
    slim_mls_received r = {0};
    slim_mls_env e = env_of(m->ss);
    slim_status st = slim_mls_group_receive(m->cur.g, c, &e, &r);
    if (st == SLIM_OK && r.content_type != SLIM_MLS_CONTENT_COMMIT)
        st = SLIM_E_SESSION_UNEXPECTED;
    if (st == SLIM_OK &&
        (r.sender.type != SLIM_MLS_SENDER_MEMBER || r.sender.index >= m->cur.nids ||
         !slim_id_equal(m->cur.ids[r.sender.index], from->id)))
        st = SLIM_E_SESSION_MLS_SENDER;
    if (st == SLIM_OK && r.removed) {
        *removed = true;
    } else if (st == SLIM_OK) {
        st = state_set(m, r.group);
        r.group = NULL;
    }
    slim_mls_received_cleanup(&r);
    return st;
}

static slim_bytes commit_bytes(const slim_msg *msg) {
    const Dataplane__Proto__V1__GroupUpdatePayload *u = ss_msg_command(msg)->group_update;
    if (u->_mls_case != DATAPLANE__PROTO__V1__GROUP_UPDATE_PAYLOAD___MLS_MLS || u->mls == NULL)
        return slim_bytes_of(NULL, 0);
    return slim_bytes_of(u->mls->mls_content.data, u->mls->mls_content.len);
}

uint32_t ss_mls_update_commit_id(const slim_msg *msg) {
    const Dataplane__Proto__V1__GroupUpdatePayload *u = ss_msg_command(msg)->group_update;
    if (u->_mls_case != DATAPLANE__PROTO__V1__GROUP_UPDATE_PAYLOAD___MLS_MLS || u->mls == NULL)
        return 0;
    return u->mls->commit_id;
}

static slim_status clone(const slim_msg *m, slim_msg **out) {
    slim_buf b;
    slim_buf_init(&b);
    slim_status st = slim_wire_encode(m, SIZE_MAX, &b);
    if (st == SLIM_OK)
        st = slim_wire_decode(slim_buf_view(&b), SIZE_MAX, out);
    slim_buf_cleanup(&b);
    return st;
}

slim_status ss_mls_update_in(slim_sessions *ss, ss_sess *s, const slim_msg *msg, ss_mls_apply_fn fn,
                             uint64_t now) {
    ss_mls *m = s->mls;
    uint32_t id = ss_mls_update_commit_id(msg);
    if (id == 0 || commit_bytes(msg).len == 0) {
        ss->c.drop_malformed++;
        return SLIM_E_WIRE_MISSING_FIELD;
    }
    if (id <= m->commit_id)
        return SLIM_E_SESSION_DUPLICATE;
    for (uint32_t i = 0; i < m->npend; i++)
        if (m->pend[i].id == id)
            return SLIM_E_SESSION_DUPLICATE;
    if (id != m->commit_id + 1) {
        slim_msg *c;
        if (m->npend == SS_MLS_PENDING)
            return SLIM_E_SESSION_MLS_BEHIND;
        slim_status st = clone(msg, &c);
        if (st != SLIM_OK)
            return st;
        m->pend[m->npend++] = (ss_pend){id, c};
        return SLIM_OK;
    }
    slim_msg *held = NULL;
    for (;;) {
        slim_name from;
        (void)ss_msg_source(msg, &from);
        bool removed = false;
        slim_status st = apply(m, commit_bytes(msg), &from, &removed);
        if (st != SLIM_OK) {
            ss->c.drop_mls++;
            slim_wire_free(held);
            return st;
        }
        m->commit_id++;
        ss->c.mls_commits++;
        fn(ss, s, msg, now);
        slim_wire_free(held);
        held = NULL;
        if (removed || s->state == S_DEAD)
            return SLIM_OK;
        for (uint32_t i = 0; i < m->npend; i++)
            if (m->pend[i].id == m->commit_id + 1) {
                held = m->pend[i].msg;
                m->pend[i] = m->pend[--m->npend];
                break;
            }
        if (held == NULL)
            return SLIM_OK;
        msg = held;
    }
}

uint32_t ss_mls_behind(const ss_mls *m) {
    return m != NULL ? m->npend : 0;
}

/* ---- application data ---- */

slim_status ss_mls_seal(ss_sess *s, const slim_msg *msg, uint64_t epoch, slim_buf *out) {
    ss_mls *m = s->mls;
    const Dataplane__Proto__V1__ApplicationPayload *ap = ss_msg_app_payload(msg);
    const ss_epoch *e = epoch_find(m, epoch);
    if (ap == NULL)
        return SLIM_E_WIRE_MISSING_FIELD;
    if (e == NULL)
        return SLIM_E_MLS_WRONG_EPOCH; /* never under another epoch's keys */
    slim_buf aad;
    slim_buf_init(&aad);
    slim_mls_env en = env_of(m->ss);
    slim_status st = slim_wire_header_aad(msg, &aad);
    if (st == SLIM_OK)
        st = slim_mls_group_protect(e->g, slim_buf_view(&aad),
                                    slim_bytes_of(ap->blob.data, ap->blob.len), &en, out);
    slim_buf_cleanup(&aad);
    return st;
}

slim_status ss_mls_open(slim_sessions *ss, ss_sess *s, slim_msg *msg, uint64_t *epoch) {
    ss_mls *m = s->mls;
    Dataplane__Proto__V1__ApplicationPayload *ap =
        (Dataplane__Proto__V1__ApplicationPayload *)ss_msg_app_payload(msg);
    if (m->cur.g == NULL || ap == NULL) {
        ss->c.drop_mls++;
        return ap == NULL ? SLIM_E_WIRE_MISSING_FIELD : SLIM_E_SESSION_UNEXPECTED;
    }
    slim_bytes blob = slim_bytes_of(ap->blob.data, ap->blob.len);
    /* The header as it arrived must be the one the sender protected. The
     * PrivateMessage carries that in clear (the AEAD covers it), so a
     * changed header is refused before decryption: the message's key is
     * not used up, and the genuine copy still opens. */
    slim_mls_message pm;
    slim_buf aad;
    slim_buf_init(&aad);
    slim_status st = slim_mls_message_decode(blob, &pm);
    if (st == SLIM_OK && (pm.wire_format != SLIM_MLS_WIRE_PRIVATE_MESSAGE ||
                          pm.u.private_message.content_type != SLIM_MLS_CONTENT_APPLICATION))
        st = SLIM_E_SESSION_UNEXPECTED;
    if (st != SLIM_OK) {
        ss->c.drop_mls++;
        return st;
    }
    if ((st = slim_wire_header_aad(msg, &aad)) != SLIM_OK)
        return st;
    slim_bytes want = pm.u.private_message.authenticated_data;
    bool same = aad.len == want.len && memcmp(aad.data, want.ptr, aad.len) == 0;
    slim_buf_cleanup(&aad);
    if (!same) {
        ss->c.drop_mls_aad++;
        return SLIM_E_SESSION_MLS_AAD;
    }
    slim_mls_received r = {0};
    slim_mls_env en = env_of(m->ss);
    st = slim_mls_group_receive(m->cur.g, blob, &en, &r);
    if (st != SLIM_OK) {
        slim_mls_received_cleanup(&r);
        ss->c.drop_mls++;
        return st;
    }
    /* and its MLS sender the member whose name sent it */
    const ss_epoch *e = epoch_find(m, r.epoch);
    slim_name src;
    if (e == NULL || !ss_msg_source(msg, &src) || r.sender.type != SLIM_MLS_SENDER_MEMBER ||
        r.sender.index >= e->nids || !slim_id_equal(e->ids[r.sender.index], src.id)) {
        ss->c.drop_mls_sender++;
        st = SLIM_E_SESSION_MLS_SENDER;
    }
    if (st == SLIM_OK) {
        slim_free(ap->blob.data);
        ap->blob.data = r.data.data;
        ap->blob.len = r.data.len;
        slim_buf_init(&r.data);
        if (epoch != NULL)
            *epoch = r.epoch;
    }
    slim_mls_received_cleanup(&r);
    return st;
}

/* ---- the replay cache ---- */

bool ss_mls_replayed(ss_mls *m, const slim_name *src, uint32_t id) {
    for (uint32_t i = 0; i < m->nseen; i++)
        if (m->seen_id[i] == id && slim_name_equal(&m->seen_src[i], src))
            return true;
    return false;
}

void ss_mls_seen(ss_mls *m, const slim_name *src, uint32_t id) {
    m->seen_src[m->seen_next] = *src;
    m->seen_id[m->seen_next] = id;
    m->seen_next = (m->seen_next + 1) % SS_MLS_REPLAY;
    if (m->nseen < SS_MLS_REPLAY)
        m->nseen++;
}

/* ---- payloads ---- */

slim_status ss_mls_payload(uint32_t commit_id, slim_bytes content,
                           Dataplane__Proto__V1__MlsPayload **out) {
    Dataplane__Proto__V1__MlsPayload *p = ss_pb_new(&dataplane__proto__v1__mls_payload__descriptor);
    if (p == NULL)
        return SLIM_E_NOMEM;
    p->commit_id = commit_id;
    if (content.len > 0) {
        p->mls_content.data = slim_malloc(content.len);
        if (p->mls_content.data == NULL) {
            protobuf_c_message_free_unpacked(&p->base, &slim_wire_allocator);
            return SLIM_E_NOMEM;
        }
        memcpy(p->mls_content.data, content.ptr, content.len);
        p->mls_content.len = content.len;
    }
    *out = p;
    return SLIM_OK;
}

slim_status ss_mls_join_settings(Dataplane__Proto__V1__JoinRequestPayload *jr) {
    Dataplane__Proto__V1__MlsSettings *ms =
        ss_pb_new(&dataplane__proto__v1__mls_settings__descriptor);
    if (ms == NULL)
        return SLIM_E_NOMEM;
    ms->header_integrity_validation_percent = 100; /* every message is checked */
    jr->mls_settings = ms;
    jr->_mls_settings_case = DATAPLANE__PROTO__V1__JOIN_REQUEST_PAYLOAD___MLS_SETTINGS_MLS_SETTINGS;
    return SLIM_OK;
}

slim_status ss_mls_reply_key_package(ss_sess *s, Dataplane__Proto__V1__JoinReplyPayload *jr) {
    slim_bytes kp;
    slim_status st = ss_mls_key_package(s, &kp);
    if (st != SLIM_OK)
        return st;
    jr->key_package.data = slim_malloc(kp.len);
    if (jr->key_package.data == NULL)
        return SLIM_E_NOMEM;
    memcpy(jr->key_package.data, kp.ptr, kp.len);
    jr->key_package.len = kp.len;
    jr->_key_package_case = DATAPLANE__PROTO__V1__JOIN_REPLY_PAYLOAD___KEY_PACKAGE_KEY_PACKAGE;
    return SLIM_OK;
}

slim_bytes ss_mls_reply_key_package_of(const slim_msg *reply) {
    const Dataplane__Proto__V1__JoinReplyPayload *jr = ss_msg_command(reply)->join_reply;
    if (jr == NULL || jr->_key_package_case == 0)
        return slim_bytes_of(NULL, 0);
    return slim_bytes_of(jr->key_package.data, jr->key_package.len);
}

slim_status ss_mls_welcome_in(slim_sessions *ss, ss_sess *s,
                              const Dataplane__Proto__V1__MlsPayload *p) {
    if (p == NULL || p->mls_content.len == 0) {
        ss->c.drop_malformed++;
        return SLIM_E_WIRE_MISSING_FIELD;
    }
    slim_status st = ss_mls_welcome(s, slim_bytes_of(p->mls_content.data, p->mls_content.len),
                                    p->commit_id, &s->peer.name);
    if (st == SLIM_E_SESSION_DUPLICATE)
        return SLIM_OK;
    if (st != SLIM_OK)
        ss->c.drop_mls++;
    return st;
}
