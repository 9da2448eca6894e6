/*
 * mls_passive_gen OUTDIR
 *
 * Writes files in the mlswg "passive client" scenario format (see
 * mls_vectors passive-client) made by our own committers, for cipher
 * suites 1 and 2:
 *
 *   OUTDIR/passive-welcome.json   joins only: the tree in the Welcome or
 *                                 given beside it, external PSKs in the
 *                                 Welcome, a Welcome without path secret
 *   OUTDIR/passive-commits.json   one group following commits of every
 *                                 proposal type: Add, Update, Remove, PSK
 *                                 (external and resumption),
 *                                 GroupContextExtensions, proposals from
 *                                 an external sender and from a new
 *                                 member, an external Commit
 *                                 (ExternalInit), ReInit; by value and by
 *                                 reference, PublicMessage and
 *                                 PrivateMessage
 *   OUTDIR/passive-random.json    100 random epochs: several committers,
 *                                 proposals by reference from several
 *                                 members, PSKs, both wire formats
 *
 * and OUTDIR/altered/<name>.json: single-entry copies with one thing
 * changed (a byte of the Welcome, of a commit or of the tree, an epoch
 * authenticator, a proposal left out, two epochs swapped, a private key,
 * a PSK), each of which a conforming runner must refuse.
 *
 * The passive client P never sends anything; every other member
 * processes every message on its own state (tests/unit/mls/
 * mls_group_fixture.h), so a scenario is only written when all of them
 * agree. Exit status 0 on success, 1 on any failure.
 */
#include "core/util.h"
#include "mls/extensions.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int failures;

#define GF_CHECK_OK(expr)                                                                          \
    do {                                                                                           \
        slim_status st_ = (expr);                                                                  \
        if (st_ != SLIM_OK) {                                                                      \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #expr, slim_status_name(st_));  \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

#include "mls_group_fixture.h"

#define OK(expr) GF_CHECK_OK(expr)

/* ---- JSON helpers ------------------------------------------------------------ */

static json_t *hexj(slim_bytes b) {
    char *s = malloc(2 * b.len + 1);
    if (s == NULL)
        return NULL;
    slim_hex_encode(b.ptr, b.len, s, 2 * b.len + 1);
    json_t *j = json_string(s);
    free(s);
    return j;
}

static json_t *hexbuf(const slim_buf *b) {
    return hexj(slim_buf_view(b));
}

/* ---- a scenario: a world with a passive client ----------------------------------- */

typedef struct scenario {
    gworld w;
    size_t p;      /* the passive client */
    json_t *entry; /* the file entry being written */
    json_t *props; /* proposals of the current epoch */
    slim_mls_external_psk psks[3];
    uint8_t psk_bytes[3][2][32];
    uint32_t coin;      /* choices of the random scenario */
    uint64_t last_join; /* epoch at which the newest member joined */
} scenario;

static void sc_init(scenario *sc, uint16_t suite, uint32_t seed) {
    memset(sc, 0, sizeof *sc);
    gw_init(&sc->w, suite, seed);
    for (int i = 0; i < 3; i++) {
        snprintf((char *)sc->psk_bytes[i][0], 32, "external-psk-%d", i);
        memset(sc->psk_bytes[i][1], 0x40 + i, 32);
        sc->psks[i].id = slim_bytes_of(sc->psk_bytes[i][0], strlen((char *)sc->psk_bytes[i][0]));
        sc->psks[i].secret = slim_bytes_of(sc->psk_bytes[i][1], 32);
    }
    sc->w.env.psks = sc->psks;
    sc->w.env.n_psks = 3;
    sc->w.opts.max_resumption_psks = 8;
    sc->props = json_array();
    sc->coin = seed * 2654435761u;
}

static void sc_free(scenario *sc) {
    gw_free(&sc->w);
    json_decref(sc->entry);
    json_decref(sc->props);
}

static uint32_t sc_rand(scenario *sc, uint32_t n) {
    sc->coin = sc->coin * 1664525u + 1013904223u;
    return (sc->coin >> 8) % n;
}

/* The entry's fields known once P joined from `welcome`. */
static void sc_begin(scenario *sc, slim_bytes welcome, bool tree_given) {
    gworld *w = &sc->w;
    gmember *p = &w->m[sc->p];
    const slim_mls_suite *s = w->s;
    json_t *e = json_object();
    json_object_set_new(e, "cipher_suite", json_integer(w->suite));
    json_t *psks = json_array();
    for (size_t i = 0; i < SLIM_ARRAY_LEN(sc->psks); i++) {
        json_t *o = json_object();
        json_object_set_new(o, "psk_id", hexj(sc->psks[i].id));
        json_object_set_new(o, "psk", hexj(sc->psks[i].secret));
        json_array_append_new(psks, o);
    }
    json_object_set_new(e, "external_psks", psks);
    json_object_set_new(e, "key_package", hexbuf(&p->kp));
    json_object_set_new(e, "signature_priv", hexj(slim_bytes_of(p->sig_sk, s->sig_nsk)));
    json_object_set_new(e, "encryption_priv",
                        hexj(slim_bytes_of(p->keys.encryption_priv, s->kem_nsk)));
    json_object_set_new(e, "init_priv", hexj(slim_bytes_of(p->keys.init_priv, s->kem_nsk)));
    json_object_set_new(e, "welcome", hexj(welcome));
    if (tree_given) {
        slim_buf t = SLIM_BUF_INIT;
        OK(slim_mls_group_ratchet_tree(p->g, &t));
        json_object_set_new(e, "ratchet_tree", hexbuf(&t));
        slim_buf_cleanup(&t);
    } else {
        json_object_set_new(e, "ratchet_tree", json_null());
    }
    json_object_set_new(e, "initial_epoch_authenticator",
                        hexj(slim_mls_group_epoch_authenticator(p->g)));
    json_object_set_new(e, "epochs", json_array());
    sc->entry = e;
}

/* Records the epoch that `commit` began (P's new epoch authenticator). */
static void sc_epoch(scenario *sc, const slim_buf *commit) {
    if (sc->entry == NULL || !gw_in(&sc->w, sc->p))
        return;
    json_t *ep = json_object();
    json_object_set_new(ep, "proposals", sc->props);
    sc->props = json_array();
    json_object_set_new(ep, "commit", hexbuf(commit));
    json_object_set_new(ep, "epoch_authenticator",
                        hexj(slim_mls_group_epoch_authenticator(sc->w.m[sc->p].g)));
    json_array_append_new(json_object_get(sc->entry, "epochs"), ep);
}

static void sc_proposal(scenario *sc, const slim_buf *msg) {
    json_array_append_new(sc->props, hexbuf(msg));
}

/* Member i proposes (recorded). */
static void sc_propose(scenario *sc, size_t i, const slim_mls_proposal_spec *p, uint16_t wf) {
    slim_buf msg = SLIM_BUF_INIT;
    OK(gw_propose(&sc->w, i, p, wf, &msg));
    sc_proposal(sc, &msg);
    slim_buf_cleanup(&msg);
}

/* Member i commits (recorded). */
static void sc_commit(scenario *sc, size_t i, const slim_mls_commit_spec *cs) {
    slim_buf commit = SLIM_BUF_INIT;
    OK(gw_commit(&sc->w, i, cs, &commit, NULL));
    sc_epoch(sc, &commit);
    slim_buf_cleanup(&commit);
    if (!gw_agree(&sc->w, slim_mls_group_epoch(sc->w.m[i].g))) {
        fprintf(stderr, "members disagree after a commit of member %zu\n", i);
        failures++;
    }
}

static slim_mls_commit_spec spec_of(const slim_mls_proposal_spec *p, size_t n, uint16_t wf,
                                    bool pending, bool force_path) {
    slim_mls_commit_spec cs;
    memset(&cs, 0, sizeof cs);
    cs.proposals = p;
    cs.n_proposals = n;
    cs.wire_format = wf;
    cs.include_pending = pending;
    cs.force_path = force_path;
    return cs;
}

static slim_mls_proposal_spec add_of(scenario *sc, size_t client) {
    slim_mls_proposal_spec p;
    memset(&p, 0, sizeof p);
    p.type = SLIM_MLS_PROPOSAL_ADD;
    p.key_package = slim_buf_view(&sc->w.m[client].kp);
    return p;
}

static slim_mls_proposal_spec typed(uint16_t type) {
    slim_mls_proposal_spec p;
    memset(&p, 0, sizeof p);
    p.type = type;
    return p;
}

/* A group of `n` members made by client 0, then P added by `add_p`'s
 * commit (tree in the Welcome or given, PSKs, path); the entry starts. */
static void sc_start(scenario *sc, size_t n, bool tree_given, size_t n_psks, bool path) {
    gworld *w = &sc->w;
    size_t first = gw_client(w, "creator");
    OK(gw_create(w, first, slim_bytes_of(NULL, 0)));
    size_t others[16];
    for (size_t i = 0; i + 1 < n; i++)
        others[i] = gw_client(w, "member");
    if (n > 1)
        OK(gw_add(w, first, others, n - 1, true, NULL, NULL));
    sc->p = gw_client(w, "passive");
    slim_mls_proposal_spec ps[4];
    ps[0] = add_of(sc, sc->p);
    for (size_t i = 0; i < n_psks; i++) {
        ps[1 + i] = typed(SLIM_MLS_PROPOSAL_PSK);
        ps[1 + i].psk_type = SLIM_MLS_PSK_EXTERNAL;
        ps[1 + i].psk_id = sc->psks[i].id;
    }
    slim_mls_commit_spec cs = spec_of(ps, 1 + n_psks, 0, false, path);
    w->welcome_tree = !tree_given;
    slim_buf welcome = SLIM_BUF_INIT;
    OK(gw_commit(w, first, &cs, NULL, &welcome));
    w->welcome_tree = true;
    if (!gw_in(w, sc->p)) {
        fprintf(stderr, "the passive client did not join\n");
        failures++;
        slim_buf_cleanup(&welcome);
        return;
    }
    sc_begin(sc, slim_buf_view(&welcome), tree_given);
    slim_buf_cleanup(&welcome);
}

/* ---- scenarios ------------------------------------------------------------------ */

static void welcome_entries(uint16_t suite, json_t *out) {
    static const struct {
        size_t members;
        bool tree_given;
        size_t psks;
        bool path;
    } cases[] = {
        {3, false, 0, true},
        {3, true, 0, true},
        {5, false, 2, true},
        {4, true, 1, false},
    };
    for (size_t i = 0; i < SLIM_ARRAY_LEN(cases); i++) {
        scenario sc;
        sc_init(&sc, suite, 100 + (uint32_t)i);
        sc_start(&sc, cases[i].members, cases[i].tree_given, cases[i].psks, cases[i].path);
        if (sc.entry != NULL)
            json_array_append(out, sc.entry);
        sc_free(&sc);
    }
}

/* One group through commits of every proposal type. */
static void commit_entry(uint16_t suite, json_t *out) {
    const uint16_t PUB = SLIM_MLS_WIRE_PUBLIC_MESSAGE, PRIV = SLIM_MLS_WIRE_PRIVATE_MESSAGE;
    scenario sc;
    sc_init(&sc, suite, 200);
    gworld *w = &sc.w;
    sc_start(&sc, 4, false, 0, true); /* clients 0 (A), 1-3 (B, C, D), 4 (P) */
    size_t A = 0, B = 1, C = 2, D = 3;
    slim_mls_commit_spec cs;
    slim_mls_proposal_spec p[3];

    cs = spec_of(NULL, 0, PUB, false, false); /* an empty commit: path */
    sc_commit(&sc, B, &cs);
    size_t E = gw_client(w, "member");
    p[0] = add_of(&sc, E); /* Add by value, with a path */
    cs = spec_of(p, 1, PRIV, false, true);
    sc_commit(&sc, C, &cs);
    size_t F = gw_client(w, "member");
    p[0] = add_of(&sc, F); /* Add by reference, no path */
    sc_propose(&sc, D, p, PUB);
    cs = spec_of(NULL, 0, PUB, true, false);
    sc_commit(&sc, A, &cs);
    p[0] = typed(SLIM_MLS_PROPOSAL_UPDATE); /* Update by reference */
    sc_propose(&sc, E, p, PRIV);
    cs = spec_of(NULL, 0, PRIV, true, false);
    sc_commit(&sc, B, &cs);
    p[0] = typed(SLIM_MLS_PROPOSAL_REMOVE); /* Remove by value */
    p[0].removed = slim_mls_group_own_leaf(w->m[D].g);
    cs = spec_of(p, 1, PRIV, false, false);
    sc_commit(&sc, A, &cs);
    p[0].removed = slim_mls_group_own_leaf(w->m[F].g); /* Remove by reference */
    sc_propose(&sc, B, p, PUB);
    cs = spec_of(NULL, 0, PUB, true, false);
    sc_commit(&sc, C, &cs);
    p[0] = typed(SLIM_MLS_PROPOSAL_PSK); /* external PSK by value, no path */
    p[0].psk_type = SLIM_MLS_PSK_EXTERNAL;
    p[0].psk_id = sc.psks[0].id;
    cs = spec_of(p, 1, PUB, false, false);
    sc_commit(&sc, A, &cs);
    p[0].psk_id = sc.psks[1].id; /* external PSK by reference */
    sc_propose(&sc, C, p, PRIV);
    cs = spec_of(NULL, 0, PRIV, true, true);
    sc_commit(&sc, B, &cs);
    p[0].psk_type = SLIM_MLS_PSK_RESUMPTION; /* resumption PSK of an earlier epoch */
    p[0].psk_epoch = slim_mls_group_epoch(w->m[A].g) - 2;
    cs = spec_of(p, 1, PUB, false, true);
    sc_commit(&sc, A, &cs);

    /* GroupContextExtensions by value: an external sender X. */
    uint8_t xs_sk[SLIM_MLS_MAX_SIG_PRIVATE], xs_pk[SLIM_MLS_MAX_SIG_PUBLIC];
    OK(slim_mls_signature_key_generate(w->s, &w->rng, xs_sk, xs_pk));
    slim_buf ext = SLIM_BUF_INIT;
    slim_mls_tls_writer tw;
    slim_mls_tls_writer_init(&tw, &ext);
    slim_mls_tls_put_u16(&tw, SLIM_MLS_EXT_EXTERNAL_SENDERS);
    size_t m1 = slim_mls_tls_vec_begin(&tw);
    size_t m2 = slim_mls_tls_vec_begin(&tw);
    slim_mls_external_sender xs = {slim_bytes_of(xs_pk, w->s->sig_npk),
                                   {SLIM_MLS_CREDENTIAL_BASIC, slim_bytes_of("x-sender", 8)}};
    slim_mls_external_sender_encode(&tw, &xs);
    slim_mls_tls_vec_end(&tw, m2);
    slim_mls_tls_vec_end(&tw, m1);
    OK(slim_mls_tls_writer_status(&tw));
    p[0] = typed(SLIM_MLS_PROPOSAL_GROUP_CONTEXT_EXTENSIONS);
    p[0].extensions = slim_buf_view(&ext);
    cs = spec_of(p, 1, PRIV, false, false);
    sc_commit(&sc, B, &cs);

    /* The external sender proposes to remove E; A commits it by reference. */
    slim_mls_sig_key *xk = NULL;
    OK(slim_mls_sig_key_new(w->s->sig, slim_bytes_of(xs_sk, w->s->sig_nsk), true, &xk));
    p[0] = typed(SLIM_MLS_PROPOSAL_REMOVE);
    p[0].removed = slim_mls_group_own_leaf(w->m[E].g);
    slim_buf msg = SLIM_BUF_INIT;
    OK(slim_mls_propose_external(w->s, xk, SLIM_MLS_SENDER_EXTERNAL, 0,
                                 slim_mls_group_id(w->m[A].g), slim_mls_group_epoch(w->m[A].g), p,
                                 &w->env, &msg));
    OK(gw_deliver(w, SIZE_MAX, slim_buf_view(&msg)));
    sc_proposal(&sc, &msg);
    cs = spec_of(NULL, 0, PUB, true, false);
    sc_commit(&sc, A, &cs);

    /* A new member proposes its own Add; C commits it by reference. */
    size_t J = gw_client(w, "newcomer");
    p[0] = add_of(&sc, J);
    slim_mls_sig_key *jk = NULL;
    OK(slim_mls_sig_key_new(w->s->sig, slim_bytes_of(w->m[J].sig_sk, w->s->sig_nsk), true, &jk));
    msg.len = 0;
    OK(slim_mls_propose_external(w->s, jk, SLIM_MLS_SENDER_NEW_MEMBER_PROPOSAL, 0,
                                 slim_mls_group_id(w->m[A].g), slim_mls_group_epoch(w->m[A].g), p,
                                 &w->env, &msg));
    OK(gw_deliver(w, SIZE_MAX, slim_buf_view(&msg)));
    sc_proposal(&sc, &msg);
    cs = spec_of(NULL, 0, PRIV, true, true);
    sc_commit(&sc, C, &cs);

    /* An external Commit: G joins from C's GroupInfo. */
    size_t G = gw_client(w, "external");
    slim_buf gi = SLIM_BUF_INIT, commit = SLIM_BUF_INIT;
    OK(slim_mls_group_group_info(w->m[C].g, true, true, &gi));
    slim_mls_external_join_params xp;
    memset(&xp, 0, sizeof xp);
    xp.client = w->m[G].client;
    xp.group_info = slim_buf_view(&gi);
    xp.psk_ids = &sc.psks[2].id;
    xp.n_psk_ids = 1;
    xp.opts = &w->opts;
    slim_mls_group *gg = NULL;
    OK(slim_mls_group_join_external(&xp, &w->env, &commit, &gg));
    OK(gw_apply(w, G, slim_buf_view(&commit), slim_bytes_of(NULL, 0), NULL));
    gf_swap(&w->m[G], gg);
    sc_epoch(&sc, &commit);
    if (!gw_agree(w, slim_mls_group_epoch(w->m[A].g))) {
        fprintf(stderr, "members disagree after the external commit\n");
        failures++;
    }

    /* Several by reference from several members, plus one by value. */
    size_t H = gw_client(w, "member"), I = gw_client(w, "member");
    p[0] = add_of(&sc, H);
    sc_propose(&sc, G, p, PUB);
    p[0] = typed(SLIM_MLS_PROPOSAL_UPDATE);
    sc_propose(&sc, A, p, PRIV);
    p[0] = typed(SLIM_MLS_PROPOSAL_GROUP_CONTEXT_EXTENSIONS); /* drop the external sender */
    sc_propose(&sc, J, p, PUB);
    p[0] = add_of(&sc, I);
    cs = spec_of(p, 1, PUB, true, false);
    sc_commit(&sc, C, &cs);

    /* ReInit: the group ends. */
    p[0] = typed(SLIM_MLS_PROPOSAL_REINIT);
    p[0].reinit.group_id = slim_bytes_of("slim-group-next", 15);
    p[0].reinit.version = SLIM_MLS_VERSION_MLS10;
    p[0].reinit.cipher_suite = suite;
    cs = spec_of(p, 1, PRIV, false, false);
    sc_commit(&sc, H, &cs);
    if (!slim_mls_group_ended(w->m[sc.p].g)) {
        fprintf(stderr, "the ReInit did not end the group\n");
        failures++;
    }
    if (sc.entry != NULL)
        json_array_append(out, sc.entry);
    slim_buf_cleanup(&ext);
    slim_buf_cleanup(&msg);
    slim_buf_cleanup(&gi);
    slim_buf_cleanup(&commit);
    slim_mls_sig_key_free(xk);
    slim_mls_sig_key_free(jk);
    slim_memzero(xs_sk, sizeof xs_sk);
    sc_free(&sc);
}

/* Members of the group other than P, in a list; returns how many. */
static size_t members(const scenario *sc, size_t *list) {
    size_t n = 0;
    for (size_t i = 0; i < sc->w.n; i++) {
        if (i != sc->p && gw_in(&sc->w, i))
            list[n++] = i;
    }
    return n;
}

/* One random epoch: a few proposals, then a commit. */
static void random_epoch(scenario *sc) {
    gworld *w = &sc->w;
    size_t list[GW_MAX];
    size_t n = members(sc, list);
    if (n > 8 && sc_rand(sc, 2) == 0) { /* keep the group small: remove someone first */
        size_t who = list[sc_rand(sc, (uint32_t)n)], victim = list[sc_rand(sc, (uint32_t)n)];
        if (who != victim) {
            slim_mls_proposal_spec p = typed(SLIM_MLS_PROPOSAL_REMOVE);
            p.removed = slim_mls_group_own_leaf(w->m[victim].g);
            sc_propose(sc, who, &p, SLIM_MLS_WIRE_PUBLIC_MESSAGE);
        }
    }
    uint16_t wf = sc_rand(sc, 2) ? SLIM_MLS_WIRE_PUBLIC_MESSAGE : SLIM_MLS_WIRE_PRIVATE_MESSAGE;
    size_t committer = list[sc_rand(sc, (uint32_t)n)];
    uint32_t n_props = sc_rand(sc, 4);
    bool removed_one = false, any_add = false;
    for (uint32_t k = 0; k < n_props; k++) {
        size_t who = list[sc_rand(sc, (uint32_t)n)];
        slim_mls_proposal_spec p;
        uint32_t kind = sc_rand(sc, 4);
        if (kind == 0 && n < 10 && w->n < GW_MAX - 2) {
            p = add_of(sc, gw_client(w, "member"));
            any_add = true;
        } else if (kind == 1 && n > 4 && !removed_one) {
            size_t victim = list[sc_rand(sc, (uint32_t)n)];
            if (victim == committer)
                continue;
            p = typed(SLIM_MLS_PROPOSAL_REMOVE);
            p.removed = slim_mls_group_own_leaf(w->m[victim].g);
            removed_one = true;
        } else if (kind == 2) {
            p = typed(SLIM_MLS_PROPOSAL_PSK);
            p.psk_type = SLIM_MLS_PSK_EXTERNAL;
            p.psk_id = sc->psks[sc_rand(sc, 3)].id;
        } else {
            p = typed(SLIM_MLS_PROPOSAL_UPDATE);
        }
        sc_propose(sc, who, &p,
                   sc_rand(sc, 2) ? SLIM_MLS_WIRE_PUBLIC_MESSAGE : SLIM_MLS_WIRE_PRIVATE_MESSAGE);
    }
    slim_mls_proposal_spec byval[2];
    size_t nv = 0;
    if (sc_rand(sc, 3) == 0 && n < 10 && w->n < GW_MAX - 2) {
        byval[nv++] = add_of(sc, gw_client(w, "member"));
        any_add = true;
    }
    uint64_t e = slim_mls_group_epoch(w->m[committer].g);
    if (sc_rand(sc, 4) == 0 && !any_add) {
        /* A resumption PSK every member holds: of an epoch since the
         * newest member joined (and no joiner now: it could not have it). */
        byval[nv] = typed(SLIM_MLS_PROPOSAL_PSK);
        byval[nv].psk_type = SLIM_MLS_PSK_RESUMPTION;
        uint64_t back = sc_rand(sc, 3);
        byval[nv++].psk_epoch = e - back >= sc->last_join ? e - back : e;
    }
    bool was_in[GW_MAX];
    for (size_t i = 0; i < w->n; i++)
        was_in[i] = gw_in(w, i);
    size_t before = w->n;
    slim_mls_commit_spec cs = spec_of(byval, nv, wf, true, sc_rand(sc, 2) == 0);
    sc_commit(sc, committer, &cs);
    for (size_t i = 0; i < w->n; i++) {
        if (gw_in(w, i) && (i >= before || !was_in[i]))
            sc->last_join = e + 1;
    }
}

static void random_entry(uint16_t suite, json_t *out) {
    scenario sc;
    sc_init(&sc, suite, 300);
    sc_start(&sc, 5, false, 0, true);
    for (int e = 0; e < 100 && failures == 0; e++)
        random_epoch(&sc);
    if (sc.entry != NULL)
        json_array_append(out, sc.entry);
    sc_free(&sc);
}

/* ---- altered copies -------------------------------------------------------------- */

/* A copy of `e` with one byte of the hex string at `key` (of `obj`, a
 * part of the copy found by `path`) changed. */
static void flip_hex(json_t *obj, const char *key) {
    json_t *v = json_object_get(obj, key);
    const char *s = v != NULL ? json_string_value(v) : NULL;
    if (s == NULL) {
        fprintf(stderr, "no hex field %s to alter\n", key);
        failures++;
        return;
    }
    char *t = strdup(s);
    size_t i = strlen(t) / 2;
    i -= i % 2;
    t[i] = t[i] == '0' ? '1' : '0';
    json_object_set_new(obj, key, json_string(t));
    free(t);
}

static void write_file(const char *dir, const char *name, json_t *arr) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (json_dump_file(arr, path, JSON_INDENT(1)) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        failures++;
    }
}

/* Writes altered/<prefix>-<what>.json: entry e with `alter` applied, and
 * beside it <...>.expect: what the runner's refusal must say (where it
 * fails), so a refusal for another reason does not count. */
typedef void (*alter_fn)(json_t *e);

static void write_altered(const char *dir, const char *prefix, const char *what, json_t *e,
                          alter_fn alter, const char *expect) {
    json_t *copy = json_deep_copy(e);
    alter(copy);
    json_t *arr = json_array();
    json_array_append_new(arr, copy);
    char name[128], path[640];
    snprintf(name, sizeof name, "altered/%s-%s.json", prefix, what);
    write_file(dir, name, arr);
    json_decref(arr);
    snprintf(path, sizeof path, "%s/altered/%s-%s.expect", dir, prefix, what);
    FILE *f = fopen(path, "w");
    if (f == NULL || fprintf(f, "%s\n", expect) < 0) {
        fprintf(stderr, "cannot write %s\n", path);
        failures++;
    }
    if (f != NULL)
        fclose(f);
}

static json_t *epoch_at(json_t *e, size_t k) {
    return json_array_get(json_object_get(e, "epochs"), k);
}

static void alt_welcome(json_t *e) {
    flip_hex(e, "welcome");
}
static void alt_initial(json_t *e) {
    flip_hex(e, "initial_epoch_authenticator");
}
static void alt_tree(json_t *e) {
    flip_hex(e, "ratchet_tree");
}
static void alt_init_priv(json_t *e) {
    json_object_set(e, "init_priv", json_object_get(e, "encryption_priv"));
}
static void alt_drop_psk(json_t *e) {
    json_array_remove(json_object_get(e, "external_psks"), 0);
}
static void alt_psk_value(json_t *e) {
    flip_hex(json_array_get(json_object_get(e, "external_psks"), 1), "psk");
}
static void alt_commit(json_t *e) {
    flip_hex(epoch_at(e, 3), "commit");
}
static void alt_authenticator(json_t *e) {
    flip_hex(epoch_at(e, 5), "epoch_authenticator");
}
static void alt_drop_proposal(json_t *e) {
    /* Epoch 2 commits an Add by reference only. */
    json_array_clear(json_object_get(epoch_at(e, 2), "proposals"));
}
static void alt_proposal(json_t *e) {
    json_t *props = json_object_get(epoch_at(e, 3), "proposals");
    json_t *v = json_array_get(props, 0);
    char *t = strdup(json_string_value(v));
    size_t i = strlen(t) - 10; /* inside the signature */
    t[i] = t[i] == '0' ? '1' : '0';
    json_array_set_new(props, 0, json_string(t));
    free(t);
}
static void alt_swap(json_t *e) {
    json_t *eps = json_object_get(e, "epochs");
    json_t *a = json_incref(json_array_get(eps, 1));
    json_array_set(eps, 1, json_array_get(eps, 2));
    json_array_set_new(eps, 2, a);
}
static void alt_late_commit(json_t *e) {
    flip_hex(epoch_at(e, 50), "commit");
}
static void alt_last_authenticator(json_t *e) {
    json_t *eps = json_object_get(e, "epochs");
    flip_hex(json_array_get(eps, json_array_size(eps) - 1), "epoch_authenticator");
}
static void alt_external_commit(json_t *e) {
    flip_hex(epoch_at(e, 12), "commit");
}

static void altered(const char *dir, uint16_t suite, json_t *welcome, json_t *commits,
                    json_t *random) {
    char pre[32];
    snprintf(pre, sizeof pre, "suite%u", suite);
    json_t *w0 = json_array_get(welcome, 0), *w1 = json_array_get(welcome, 1);
    json_t *w2 = json_array_get(welcome, 2);
    json_t *c = json_array_get(commits, 0), *r = json_array_get(random, 0);
    if (w0 == NULL || w1 == NULL || w2 == NULL || c == NULL || r == NULL) {
        fprintf(stderr, "missing entries to alter\n");
        failures++;
        return;
    }
    write_altered(dir, pre, "welcome-byte", w0, alt_welcome, "join from the Welcome: E_MLS_");
    write_altered(dir, pre, "initial-authenticator", w0, alt_initial,
                  "initial_epoch_authenticator mismatch");
    write_altered(dir, pre, "init-priv", w0, alt_init_priv, "init key of init_priv mismatch");
    write_altered(dir, pre, "tree-byte", w1, alt_tree, "join from the Welcome: E_MLS_");
    write_altered(dir, pre, "psk-missing", w2, alt_drop_psk,
                  "join from the Welcome: E_MLS_PSK_NOT_FOUND");
    write_altered(dir, pre, "psk-value", w2, alt_psk_value,
                  "join from the Welcome: E_MLS_GROUP_INFO_DECRYPT");
    write_altered(dir, pre, "commit-byte", c, alt_commit, "epochs[3].commit: E_MLS_");
    write_altered(dir, pre, "epoch-authenticator", c, alt_authenticator,
                  "epochs[5].epoch_authenticator mismatch");
    write_altered(dir, pre, "proposal-missing", c, alt_drop_proposal,
                  "epochs[2].commit: E_MLS_PROPOSAL_NOT_FOUND");
    write_altered(dir, pre, "proposal-byte", c, alt_proposal, "epochs[3].proposals[0]: E_MLS_");
    write_altered(dir, pre, "epochs-swapped", c, alt_swap, "epochs[1].");
    write_altered(dir, pre, "external-commit-byte", c, alt_external_commit,
                  "epochs[12].commit: E_MLS_");
    write_altered(dir, pre, "random-commit-byte", r, alt_late_commit, "epochs[50].commit: E_MLS_");
    write_altered(dir, pre, "random-last-authenticator", r, alt_last_authenticator,
                  "epochs[99].epoch_authenticator mismatch");
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: mls_passive_gen OUTDIR\n");
        return 2;
    }
    const char *dir = argv[1];
    char sub[512];
    snprintf(sub, sizeof sub, "%s/altered", dir);
    mkdir(dir, 0755);
    mkdir(sub, 0755);
    json_t *welcome = json_array(), *commits = json_array(), *random = json_array();
    for (uint16_t suite = 1; suite <= 2 && failures == 0; suite++) {
        json_t *w = json_array(), *c = json_array(), *r = json_array();
        welcome_entries(suite, w);
        commit_entry(suite, c);
        random_entry(suite, r);
        if (failures == 0)
            altered(dir, suite, w, c, r);
        json_array_extend(welcome, w);
        json_array_extend(commits, c);
        json_array_extend(random, r);
        json_decref(w);
        json_decref(c);
        json_decref(r);
    }
    if (failures == 0) {
        write_file(dir, "passive-welcome.json", welcome);
        write_file(dir, "passive-commits.json", commits);
        write_file(dir, "passive-random.json", random);
    }
    printf("mls_passive_gen: %zu welcome, %zu commits, %zu random entries, %d failures\n",
           json_array_size(welcome), json_array_size(commits), json_array_size(random), failures);
    json_decref(welcome);
    json_decref(commits);
    json_decref(random);
    return failures == 0 ? 0 : 1;
}
