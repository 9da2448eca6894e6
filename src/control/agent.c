/*
 * See agent.h. The first half is the core (decode, apply, encode: no I/O),
 * the second the agent on the node's loop (controller clients and streams,
 * the hub's links, the deferral of what the forwarder's callbacks may not
 * do themselves).
 *
 * Messages are built on the stack or in arrays freed right after packing;
 * protobuf-c's own allocator is used only to decode.
 */
#include "control/agent.h"
#include "client/app_identity.h"
#include "control/agent_server.h"
#include "controller/v1/controller.pb-c.h"
#include "core/alloc.h"
#include "core/hmap.h"
#include "core/log.h"
#include "core/time.h"
#include "core/util.h"
#include "name/id_text.h"
#include "session/identity.h"
#include "wire/wire.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MOD       "control"
#define REOPEN_MS 1000 /* a control stream that ended on a live connection */

typedef Controller__Proto__V1__ControlMessage pb_msg;
typedef Controller__Proto__V1__ConfigurationCommand pb_command;
typedef Controller__Proto__V1__ConfigurationCommandAck pb_command_ack;
typedef Controller__Proto__V1__ItemStatus pb_item;
typedef Controller__Proto__V1__Connection pb_connection;
typedef Controller__Proto__V1__Subscription pb_sub;
typedef Controller__Proto__V1__SubscriptionEntry pb_sub_entry;
typedef Controller__Proto__V1__ConnectionEntry pb_conn_entry;

/* ================================================================== */
/* The core                                                            */
/* ================================================================== */

/* A static subscription the controller set on a connection. */
typedef struct agent_sub {
    slim_name name;
    char *text[3];
    struct agent_sub *next;
} agent_sub;

/* A connection the controller asked for. */
typedef struct agent_conn {
    char *key;         /* connection_id, or the endpoint URL */
    char *config_data; /* as received */
    char *endpoint;
    void *link; /* ops->dial's handle */
    agent_sub *subs;
    struct agent_conn *next;
} agent_conn;

/* A channel request handed to its moderator, waiting for the answer. */
typedef struct agent_pending {
    uint32_t node_mid; /* the Publish's session message_id */
    char *ctl_mid;     /* the controller's message_id */
    char *moderator;   /* moderators[0] as given */
    slim_name dest;    /* where it went (id any: any instance) */
    uint64_t deadline_ms;
    slim_agent_reply_fn reply;
    void *reply_ud;
    struct agent_pending *next;
} agent_pending;

struct slim_agent_core {
    const slim_agent_info *info;
    slim_fwd *fwd;
    slim_agent_ops ops;
    void *ud;
    agent_conn *conns; /* in the order they were made */
    size_t n_conns;
    slim_buf out;
    /* Channels through the controller. */
    app_identity signer;      /* controller.token_provider, for channel requests */
    bool has_signer;          /* false: no token_provider */
    slim_identity *reg_ident; /* shared secret: the node's own, for registering */
    slim_name ctl_name;       /* controller/controller/controller/<random id> */
    uint64_t local_conn;      /* 0 until attached */
    agent_pending *pending;
    size_t n_pending;
    uint64_t dropped;
};

static const slim_str ctl_text[3] = {{"controller", 10}, {"controller", 10}, {"controller", 10}};

slim_status slim_agent_core_new(const slim_agent_info *info, slim_fwd *fwd,
                                const slim_agent_ops *ops, void *ud, slim_agent_core **out) {
    if (info == NULL || info->node_id == NULL || fwd == NULL || ops == NULL || ops->dial == NULL ||
        ops->close == NULL || ops->link_conn == NULL || ops->broadcast == NULL || out == NULL)
        return SLIM_E_INVALID_ARG;
    slim_agent_core *c = slim_calloc(1, sizeof *c);
    if (c == NULL)
        return SLIM_E_NOMEM;
    c->info = info;
    c->fwd = fwd;
    c->ops = *ops;
    c->ud = ud;
    slim_id id;
    slim_status st = slim_random_bytes(&id, sizeof id);
    if (st == SLIM_OK && slim_id_is_any(id))
        id.lo = 1;
    if (st == SLIM_OK)
        st = slim_name_from_strings(ctl_text, id, &c->ctl_name);
    uint64_t now = (uint64_t)time(NULL);
    if (st == SLIM_OK && info->token_secret != NULL) {
        slim_str secret = {info->token_secret, strlen(info->token_secret)};
        slim_identity_config ic = {
            .kind = SLIM_IDENTITY_SHARED_SECRET, .id = "controller", .secret = info->token_secret};
        st = slim_app__provider_init(&c->signer, &ic, now);
        c->has_signer = st == SLIM_OK;
        if (st == SLIM_OK)
            st = slim_identity_new((slim_str){info->node_id, strlen(info->node_id)}, secret, NULL,
                                   &c->reg_ident);
        if (st == SLIM_OK && slim_identity_secret_is_weak(secret))
            SLIM_LOGW(MOD, "controller.token_provider: the shared secret is shorter than %d bytes",
                      SLIM_IDENTITY_MIN_SECRET);
    } else if (st == SLIM_OK && info->token_jwt != NULL) {
        st = slim_app__provider_init(&c->signer, info->token_jwt, now);
        c->has_signer = st == SLIM_OK;
        if (st != SLIM_OK)
            SLIM_LOGE(MOD, "controller.token_provider: %s", slim_status_str(st));
    }
    if (st != SLIM_OK) {
        if (c->has_signer)
            slim_app__identity_cleanup(&c->signer);
        slim_free(c);
        return st;
    }
    *out = c;
    return SLIM_OK;
}

static void pending_free(agent_pending *p) {
    slim_free(p->ctl_mid);
    slim_free(p->moderator);
    slim_free(p);
}

static void sub_free(agent_sub *s) {
    for (int i = 0; i < 3; i++)
        slim_free(s->text[i]);
    slim_free(s);
}

static void conn_free(agent_conn *ac) {
    for (agent_sub *s = ac->subs, *next; s != NULL; s = next) {
        next = s->next;
        sub_free(s);
    }
    slim_free(ac->key);
    slim_free(ac->config_data);
    slim_free(ac->endpoint);
    slim_free(ac);
}

void slim_agent_core_free(slim_agent_core *c) {
    if (c == NULL)
        return;
    for (agent_conn *ac = c->conns, *next; ac != NULL; ac = next) {
        next = ac->next;
        c->ops.close(c->ud, ac->link);
        conn_free(ac);
    }
    for (agent_pending *p = c->pending, *next; p != NULL; p = next) {
        next = p->next;
        pending_free(p);
    }
    if (c->has_signer)
        slim_app__identity_cleanup(&c->signer);
    slim_identity_free(c->reg_ident);
    slim_buf_cleanup(&c->out);
    slim_free(c);
}

size_t slim_agent_core_connections(const slim_agent_core *c) {
    return c->n_conns;
}

static agent_conn *find_conn(const slim_agent_core *c, const char *key) {
    for (agent_conn *ac = c->conns; ac != NULL; ac = ac->next)
        if (strcmp(ac->key, key) == 0)
            return ac;
    return NULL;
}

static agent_conn *conn_of_link(const slim_agent_core *c, const void *link) {
    for (agent_conn *ac = c->conns; ac != NULL; ac = ac->next)
        if (ac->link == link)
            return ac;
    return NULL;
}

/* ---- encoding helpers ---- */

static slim_status pack(const pb_msg *m, slim_buf *out) {
    size_t n = controller__proto__v1__control_message__get_packed_size(m);
    out->len = 0;
    slim_status st = slim_buf_reserve(out, n);
    if (st != SLIM_OK)
        return st;
    out->len = controller__proto__v1__control_message__pack(m, out->data);
    return SLIM_OK;
}

/* A ControlMessage with a fresh id and the given payload case. */
static slim_status msg_init(pb_msg *m, char id[SLIM_ID_TEXT_LEN + 1],
                            Controller__Proto__V1__ControlMessage__PayloadCase pc) {
    controller__proto__v1__control_message__init(m);
    slim_status st = slim_uuid_v4(id);
    if (st != SLIM_OK)
        return st;
    m->message_id = id;
    m->payload_case = pc;
    return SLIM_OK;
}

/* A name as text: `org/ns/app[/uuid]`, or its hashes without text. */
static void name_label(const slim_name *n, const slim_str *text, char *buf, size_t cap) {
    if (text == NULL || slim_name_format(text, n->id, buf, cap, NULL) != SLIM_OK)
        (void)slim_name_format_hashes(n, buf, cap);
}

/* The id of a name as the protos carry it: NULL for "any instance", else
 * its UUID in out. */
static char *id_text(const slim_name *n, char out[SLIM_ID_TEXT_LEN + 1]) {
    if (slim_id_is_any(n->id))
        return NULL;
    slim_id_format(n->id, out);
    return out;
}

/* A Subscription message for a name and its text. Views are copied into
 * the strings of s (freed with sub_msg_cleanup). */
typedef struct sub_msg {
    pb_sub pb;
    char *c[3];
    char id[SLIM_ID_TEXT_LEN + 1];
} sub_msg;

static slim_status sub_msg_fill(sub_msg *s, const slim_name *name, const slim_str text[3],
                                const char *connection_id) {
    controller__proto__v1__subscription__init(&s->pb);
    for (int i = 0; i < 3; i++)
        if ((s->c[i] = slim_strndup(text[i].ptr, text[i].len)) == NULL)
            return SLIM_E_NOMEM;
    s->pb.component_0 = s->c[0];
    s->pb.component_1 = s->c[1];
    s->pb.component_2 = s->c[2];
    s->pb.connection_id = (char *)connection_id;
    if (id_text(name, s->id) != NULL) {
        s->pb._id_case = CONTROLLER__PROTO__V1__SUBSCRIPTION___ID_ID;
        s->pb.id = s->id;
    }
    return SLIM_OK;
}

static void sub_msg_cleanup(sub_msg *s) {
    for (int i = 0; i < 3; i++)
        slim_free(s->c[i]);
}

/* ---- registration ---- */

typedef struct sub_list {
    sub_msg *items;
    size_t n, cap;
    slim_status st;
    const slim_name *skip; /* the controller's own name */
} sub_list;

static void collect_app_name(const slim_name *name, const slim_str *text, void *ud) {
    sub_list *l = ud;
    if (l->st != SLIM_OK || slim_name_equal(name, l->skip))
        return;
    if (text == NULL) {
        char label[128];
        name_label(name, NULL, label, sizeof label);
        SLIM_LOGD(MOD, "not registering %s: its subscription carried no text", label);
        return;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        sub_msg *p = slim_realloc(l->items, cap * sizeof *p);
        if (p == NULL) {
            l->st = SLIM_E_NOMEM;
            return;
        }
        l->items = p;
        l->cap = cap;
    }
    sub_msg *s = &l->items[l->n++];
    memset(s, 0, sizeof *s);
    l->st = sub_msg_fill(s, name, text, "n/a");
}

static char *meta(const slim_server_config *sc, const char *key) {
    for (size_t i = 0; i < sc->n_metadata; i++)
        if (strcmp(sc->metadata[i].key, key) == 0)
            return sc->metadata[i].value;
    return NULL;
}

slim_status slim_agent_core_register(slim_agent_core *c, slim_buf *out) {
    const slim_agent_info *in = c->info;
    pb_msg m;
    char mid[SLIM_ID_TEXT_LEN + 1];
    slim_status st =
        msg_init(&m, mid, CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_REGISTER_NODE_REQUEST);
    if (st != SLIM_OK)
        return st;
    Controller__Proto__V1__RegisterNodeRequest r =
        CONTROLLER__PROTO__V1__REGISTER_NODE_REQUEST__INIT;
    m.register_node_request = &r;
    r.node_id = (char *)in->node_id;
    if (in->group_name != NULL) {
        r._group_name_case = CONTROLLER__PROTO__V1__REGISTER_NODE_REQUEST___GROUP_NAME_GROUP_NAME;
        r.group_name = (char *)in->group_name;
    }
    Controller__Proto__V1__ConnectionDetails *det = NULL, **detp = NULL;
    sub_list subs = {.skip = &c->ctl_name};
    pb_sub **subp = NULL;
    if (in->n_servers > 0) {
        det = slim_calloc(in->n_servers, sizeof *det);
        detp = slim_calloc(in->n_servers, sizeof *detp);
        if (det == NULL || detp == NULL) {
            st = SLIM_E_NOMEM;
            goto out;
        }
    }
    for (size_t i = 0; i < in->n_servers; i++) {
        const slim_server_config *sc = &in->servers[i];
        Controller__Proto__V1__ConnectionDetails *d = &det[i];
        controller__proto__v1__connection_details__init(d);
        d->endpoint = in->endpoints != NULL && in->endpoints[i] != NULL ? (char *)in->endpoints[i]
                                                                        : sc->endpoint;
        d->mtls_required = !sc->tls.insecure;
        char *v;
        if ((v = meta(sc, "local_endpoint")) != NULL) {
            d->_local_endpoint_case =
                CONTROLLER__PROTO__V1__CONNECTION_DETAILS___LOCAL_ENDPOINT_LOCAL_ENDPOINT;
            d->local_endpoint = v;
        }
        if ((v = meta(sc, "external_endpoint")) != NULL) {
            d->_external_endpoint_case =
                CONTROLLER__PROTO__V1__CONNECTION_DETAILS___EXTERNAL_ENDPOINT_EXTERNAL_ENDPOINT;
            d->external_endpoint = v;
        }
        if ((v = meta(sc, "group_name")) != NULL) {
            d->_group_name_case = CONTROLLER__PROTO__V1__CONNECTION_DETAILS___GROUP_NAME_GROUP_NAME;
            d->group_name = v;
        }
        detp[i] = d;
    }
    r.n_connection_details = in->n_servers;
    r.connection_details = detp;
    slim_fwd_app_names_foreach(c->fwd, collect_app_name, &subs);
    if ((st = subs.st) != SLIM_OK)
        goto out;
    if (subs.n > 0 && (subp = slim_calloc(subs.n, sizeof *subp)) == NULL) {
        st = SLIM_E_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < subs.n; i++)
        subp[i] = &subs.items[i].pb;
    r.n_subscriptions = subs.n;
    r.subscriptions = subp;
    st = pack(&m, out);
out:
    for (size_t i = 0; i < subs.n; i++)
        sub_msg_cleanup(&subs.items[i]);
    slim_free(subs.items);
    slim_free(subp);
    slim_free(det);
    slim_free(detp);
    return st;
}

/* ---- reports ---- */

void slim_agent_core_app_name(slim_agent_core *c, const slim_name *name, const slim_str *text,
                              bool added) {
    if (slim_name_equal(name, &c->ctl_name))
        return; /* ours, for the moderators' answers: never reported */
    char label[3 * SLIM_NAME_COMPONENT_MAX + 64];
    name_label(name, text, label, sizeof label);
    if (text == NULL) {
        SLIM_LOGD(MOD, "not reporting %s: its subscription carried no text", label);
        return;
    }
    pb_msg m;
    char mid[SLIM_ID_TEXT_LEN + 1];
    pb_command cmd = CONTROLLER__PROTO__V1__CONFIGURATION_COMMAND__INIT;
    sub_msg s = {0};
    pb_sub *sp = &s.pb;
    slim_status st =
        msg_init(&m, mid, CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_CONFIG_COMMAND);
    if (st == SLIM_OK)
        st = sub_msg_fill(&s, name, text, "n/a");
    if (st == SLIM_OK) {
        m.config_command = &cmd;
        if (added) {
            cmd.n_subscriptions_to_set = 1;
            cmd.subscriptions_to_set = &sp;
        } else {
            cmd.n_subscriptions_to_delete = 1;
            cmd.subscriptions_to_delete = &sp;
        }
        st = pack(&m, &c->out);
    }
    sub_msg_cleanup(&s);
    if (st != SLIM_OK) {
        SLIM_LOGW(MOD, "cannot report %s: %s", label, slim_status_str(st));
        return;
    }
    SLIM_LOGD(MOD, "reporting %s %s", label, added ? "subscribed" : "withdrawn");
    c->ops.broadcast(c->ud, slim_buf_view(&c->out));
}

/* ---- applying a config_command ---- */

/* The outcome of one item. */
typedef struct item {
    char *id;
    bool ok;
    char err[600];
} item;

static void item_fail(item *it, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void item_fail(item *it, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(it->err, sizeof it->err, fmt, ap);
    va_end(ap);
    it->ok = false;
}

static void item_id(item *it, const char *id) {
    slim_free(it->id);
    it->id = slim_strdup(id != NULL ? id : "");
}

/* Reads a Subscription's name. On error err says why. */
static slim_status sub_name(const pb_sub *s, slim_name *name, char *err, size_t cap) {
    const char *comp[3] = {s->component_0, s->component_1, s->component_2};
    slim_str text[3];
    for (int i = 0; i < 3; i++)
        text[i] = (slim_str){comp[i] ? comp[i] : "", comp[i] ? strlen(comp[i]) : 0};
    slim_id id = slim_id_any();
    if (s->_id_case == CONTROLLER__PROTO__V1__SUBSCRIPTION___ID_ID && s->id != NULL &&
        slim_id_parse_api(s->id, strlen(s->id), &id) != SLIM_OK) {
        snprintf(err, cap, "bad id \"%.64s\": expected a UUID or a decimal integer", s->id);
        return SLIM_E_INVALID_ARG;
    }
    slim_status st = slim_name_from_strings(text, id, name);
    if (st != SLIM_OK)
        snprintf(err, cap, "bad name \"%.64s/%.64s/%.64s\": %s", text[0].ptr, text[1].ptr,
                 text[2].ptr, slim_status_str(st));
    return st;
}

/* "org/ns/app[/uuid] via <connection>" (the ItemStatus id of a
 * subscription). */
static void sub_label(const pb_sub *s, const slim_name *name, bool parsed, char *buf, size_t cap) {
    const char *conn = s->connection_id ? s->connection_id : "";
    if (parsed) {
        char n[3 * SLIM_NAME_COMPONENT_MAX + 64];
        slim_str text[3] = {{s->component_0, strlen(s->component_0)},
                            {s->component_1, strlen(s->component_1)},
                            {s->component_2, strlen(s->component_2)}};
        name_label(name, text, n, sizeof n);
        snprintf(buf, cap, "%s via %s", n, conn);
        return;
    }
    bool has_id = s->_id_case == CONTROLLER__PROTO__V1__SUBSCRIPTION___ID_ID && s->id != NULL;
    snprintf(buf, cap, "%s/%s/%s%s%s via %s", s->component_0, s->component_1, s->component_2,
             has_id ? "/" : "", has_id ? s->id : "", conn);
}

static void on_cfg_warn(const char *path, unsigned line, const char *why, void *ud) {
    (void)line;
    SLIM_LOGW(MOD, "connection %s: %s: %s", (const char *)ud, path, why);
}

static void on_cfg_unknown(const char *path, unsigned line, void *ud) {
    on_cfg_warn(path, line, "unknown key, ignored", ud);
}

static void create_conn(slim_agent_core *c, const pb_connection *cx, item *it) {
    const char *cid = cx->connection_id ? cx->connection_id : "";
    const char *cd = cx->config_data ? cx->config_data : "";
    item_id(it, cid);
    /* The node's config loader substitutes ${env:...} and ${file:...}; a
     * controller has no business reading the node's files. */
    if (strstr(cd, "${") != NULL) {
        item_fail(it, "config_data may not use ${...} substitutions");
        return;
    }
    slim_cfg_doc *doc = NULL;
    slim_cfg_error err;
    slim_client_config cc;
    memset(&cc, 0, sizeof cc);
    slim_status st = slim_cfg_load_string(cd, strlen(cd), "config_data", &doc, &err);
    if (st != SLIM_OK) {
        item_fail(it, "malformed config_data: %s", err.msg);
        return;
    }
    st = slim_client_config_parse(doc, doc->root, "config_data", &cc, on_cfg_warn, (void *)cid,
                                  &err);
    if (st != SLIM_OK) {
        item_fail(it, "malformed config_data: %s", err.msg);
        slim_cfg_free(doc);
        return;
    }
    doc->root->used = true;
    slim_cfg_unknown_keys(doc->root, "config_data", on_cfg_unknown, (void *)cid);
    const char *key = cid[0] != '\0' ? cid : cc.endpoint;
    item_id(it, key);
    if (find_conn(c, key) != NULL) {
        SLIM_LOGD(MOD, "connection %s: already configured", key);
        goto done;
    }
    agent_conn *ac = slim_calloc(1, sizeof *ac);
    if (ac == NULL || (ac->key = slim_strdup(key)) == NULL ||
        (ac->config_data = slim_strdup(cd)) == NULL ||
        (ac->endpoint = slim_strdup(cc.endpoint)) == NULL) {
        if (ac != NULL)
            conn_free(ac);
        item_fail(it, "out of memory");
        goto done;
    }
    if ((st = c->ops.dial(c->ud, &cc, &ac->link)) != SLIM_OK) {
        item_fail(it, "cannot dial %s: %s", cc.endpoint, slim_status_str(st));
        conn_free(ac);
        goto done;
    }
    agent_conn **tail = &c->conns;
    while (*tail != NULL)
        tail = &(*tail)->next;
    *tail = ac;
    c->n_conns++;
    SLIM_LOGI(MOD, "connection %s: configured, dialling %s", key, cc.endpoint);
done:
    slim_client_config_cleanup(&cc);
    slim_cfg_free(doc);
}

static void set_sub(slim_agent_core *c, const pb_sub *s, item *it) {
    char label[3 * SLIM_NAME_COMPONENT_MAX + 1200];
    slim_name name;
    bool parsed = sub_name(s, &name, it->err, sizeof it->err) == SLIM_OK;
    sub_label(s, &name, parsed, label, sizeof label);
    item_id(it, label);
    if (!parsed) {
        it->ok = false;
        return;
    }
    agent_conn *ac = find_conn(c, s->connection_id ? s->connection_id : "");
    if (ac == NULL) {
        item_fail(it, "unknown connection \"%.500s\"", s->connection_id ? s->connection_id : "");
        return;
    }
    for (agent_sub *e = ac->subs; e != NULL; e = e->next)
        if (slim_name_equal(&e->name, &name))
            return; /* set already */
    agent_sub *e = slim_calloc(1, sizeof *e);
    if (e == NULL || (e->text[0] = slim_strdup(s->component_0)) == NULL ||
        (e->text[1] = slim_strdup(s->component_1)) == NULL ||
        (e->text[2] = slim_strdup(s->component_2)) == NULL) {
        if (e != NULL)
            sub_free(e);
        item_fail(it, "out of memory");
        return;
    }
    e->name = name;
    /* Installed now when the link has a stream, else when it comes up. */
    uint64_t conn = c->ops.link_conn(c->ud, ac->link);
    slim_status st = conn != 0 ? slim_fwd_static_subscribe(c->fwd, conn, &name) : SLIM_OK;
    if (st != SLIM_OK && st != SLIM_E_ROUTER_UNKNOWN_CONNECTION) {
        item_fail(it, "%s", slim_status_str(st));
        sub_free(e);
        return;
    }
    e->next = ac->subs;
    ac->subs = e;
    SLIM_LOGI(MOD, "subscription %s: set", label);
}

static void delete_sub(slim_agent_core *c, const pb_sub *s, item *it) {
    char label[3 * SLIM_NAME_COMPONENT_MAX + 1200];
    slim_name name;
    bool parsed = sub_name(s, &name, it->err, sizeof it->err) == SLIM_OK;
    sub_label(s, &name, parsed, label, sizeof label);
    item_id(it, label);
    if (!parsed) {
        it->ok = false;
        return;
    }
    agent_conn *ac = find_conn(c, s->connection_id ? s->connection_id : "");
    for (agent_sub **p = ac != NULL ? &ac->subs : NULL; p != NULL && *p != NULL; p = &(*p)->next) {
        agent_sub *e = *p;
        if (!slim_name_equal(&e->name, &name))
            continue;
        *p = e->next;
        uint64_t conn = c->ops.link_conn(c->ud, ac->link);
        if (conn != 0)
            (void)slim_fwd_static_unsubscribe(c->fwd, conn, &name);
        sub_free(e);
        SLIM_LOGI(MOD, "subscription %s: deleted", label);
        return;
    }
    /* Not there: nothing to do. */
}

static void delete_conn(slim_agent_core *c, const char *key, item *it) {
    item_id(it, key);
    for (agent_conn **p = &c->conns; *p != NULL; p = &(*p)->next) {
        agent_conn *ac = *p;
        if (strcmp(ac->key, key) != 0)
            continue;
        *p = ac->next;
        c->n_conns--;
        uint64_t conn = c->ops.link_conn(c->ud, ac->link);
        for (agent_sub *e = ac->subs; conn != 0 && e != NULL; e = e->next)
            (void)slim_fwd_static_unsubscribe(c->fwd, conn, &e->name);
        c->ops.close(c->ud, ac->link);
        SLIM_LOGI(MOD, "connection %s: deleted", key);
        conn_free(ac);
        return;
    }
    SLIM_LOGD(MOD, "connection %s: deleted, but it was not configured", key);
}

/* ItemStatus messages for items[0..n), into pb and ptrs. */
static void items_pb(item *items, size_t n, pb_item *pb, pb_item **ptrs) {
    for (size_t i = 0; i < n; i++) {
        controller__proto__v1__item_status__init(&pb[i]);
        pb[i].id = items[i].id != NULL ? items[i].id : "";
        pb[i].success = items[i].ok;
        pb[i].error_msg = items[i].ok ? "" : items[i].err;
        ptrs[i] = &pb[i];
        if (!items[i].ok)
            SLIM_LOGW(MOD, "configuration item %s failed: %s", pb[i].id[0] ? pb[i].id : "(no id)",
                      items[i].err);
    }
}

static slim_status apply(slim_agent_core *c, const pb_msg *in, slim_agent_reply_fn reply,
                         void *ud) {
    const pb_command *cmd = in->config_command;
    size_t nc = cmd->n_connections_to_create;
    size_t ns = cmd->n_subscriptions_to_set + cmd->n_subscriptions_to_delete;
    size_t nd = cmd->n_connections_to_delete;
    size_t total = nc + ns + nd;
    item *items = slim_calloc(total ? total : 1, sizeof *items);
    pb_item *pb = slim_calloc(total ? total : 1, sizeof *pb);
    pb_item **ptrs = slim_calloc(total ? total : 1, sizeof *ptrs);
    slim_status st = SLIM_E_NOMEM;
    if (items == NULL || pb == NULL || ptrs == NULL)
        goto out;
    for (size_t i = 0; i < total; i++)
        items[i].ok = true;
    /* In the documented order, each item on its own. */
    for (size_t i = 0; i < nc; i++)
        create_conn(c, cmd->connections_to_create[i], &items[i]);
    for (size_t i = 0; i < cmd->n_subscriptions_to_set; i++)
        set_sub(c, cmd->subscriptions_to_set[i], &items[nc + i]);
    for (size_t i = 0; i < cmd->n_subscriptions_to_delete; i++)
        delete_sub(c, cmd->subscriptions_to_delete[i],
                   &items[nc + cmd->n_subscriptions_to_set + i]);
    for (size_t i = 0; i < nd; i++)
        delete_conn(c, cmd->connections_to_delete[i] ? cmd->connections_to_delete[i] : "",
                    &items[nc + ns + i]);
    items_pb(items, total, pb, ptrs);
    pb_msg m;
    char mid[SLIM_ID_TEXT_LEN + 1];
    if ((st = msg_init(&m, mid,
                       CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_CONFIG_COMMAND_ACK)) !=
        SLIM_OK)
        goto out;
    pb_command_ack ack = CONTROLLER__PROTO__V1__CONFIGURATION_COMMAND_ACK__INIT;
    m.config_command_ack = &ack;
    ack.original_message_id = in->message_id;
    ack.n_connections_status = nc;
    ack.connections_status = ptrs;
    ack.n_subscriptions_status = ns;
    ack.subscriptions_status = ptrs + nc;
    ack.n_deletions_status = nd;
    ack.deletions_status = ptrs + nc + ns;
    if ((st = pack(&m, &c->out)) == SLIM_OK)
        reply(ud, slim_buf_view(&c->out));
out:
    for (size_t i = 0; items != NULL && i < total; i++)
        slim_free(items[i].id);
    slim_free(items);
    slim_free(pb);
    slim_free(ptrs);
    return st;
}

/* ---- listing ---- */

/* One connection as the lists show it. */
typedef struct conn_info {
    slim_hnode node;
    uint64_t id;
    bool live; /* the router knows it (a stream that finished negotiation) */
    pb_conn_entry pb;
    char *peer;
    char *config_data; /* owned; NULL: the agent_conn's or "{}" */
} conn_info;

typedef struct list_ctx {
    slim_agent_core *c;
    slim_hmap conns;
    slim_hmap names;
    struct list_name **order;
    size_t n_names, cap_names;
    slim_status st;
} list_ctx;

static int conn_info_eq(const slim_hnode *n, const void *key) {
    return SLIM_CONTAINER_OF(n, conn_info, node)->id == *(const uint64_t *)key;
}

static uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

static conn_info *info_find(list_ctx *l, uint64_t id) {
    slim_hnode *n = slim_hmap_find(&l->conns, mix(id), conn_info_eq, &id);
    return n ? SLIM_CONTAINER_OF(n, conn_info, node) : NULL;
}

/* The entry of connection id, made when missing. */
static conn_info *info_get(list_ctx *l, uint64_t id, const char *peer) {
    conn_info *ci = info_find(l, id);
    if (ci != NULL)
        return ci;
    ci = slim_calloc(1, sizeof *ci);
    if (ci == NULL || (ci->peer = slim_strdup(peer ? peer : "")) == NULL) {
        slim_free(ci);
        l->st = SLIM_E_NOMEM;
        return NULL;
    }
    ci->id = id;
    controller__proto__v1__connection_entry__init(&ci->pb);
    ci->pb.id = id;
    ci->pb.connection_type = CONTROLLER__PROTO__V1__CONNECTION_TYPE__CONNECTION_TYPE_REMOTE;
    ci->pb.config_data = "{}";
    ci->pb.connection_id = "";
    ci->pb.peer = ci->peer;
    slim_conn_kind k;
    if (slim_router_conn_kind(slim_fwd_router(l->c->fwd), id, &k) == SLIM_OK) {
        ci->live = true;
        if (k != SLIM_CONN_NODE)
            ci->pb.connection_type = CONTROLLER__PROTO__V1__CONNECTION_TYPE__CONNECTION_TYPE_LOCAL;
    }
    slim_hmap_insert(&l->conns, &ci->node, mix(id));
    return ci;
}

/* {"endpoint": "<peer>"}: the config of a link of the node's own config. */
static char *endpoint_json(const char *endpoint) {
    json_t *j = json_pack("{s:s}", "endpoint", endpoint);
    char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    char *out = s != NULL ? slim_strdup(s) : NULL;
    free(s);
    return out;
}

static void add_stream(uint64_t conn, const char *peer, bool dialled, void *ud) {
    list_ctx *l = ud;
    if (conn != 0 && conn == l->c->local_conn)
        return; /* the channel requests' own: not listed */
    conn_info *ci = info_get(l, conn, peer);
    if (ci != NULL && dialled && ci->config_data == NULL) {
        ci->config_data = endpoint_json(peer);
        if (ci->config_data != NULL)
            ci->pb.config_data = ci->config_data;
    }
}

/* Every connection: the node's streams, and the links the controller
 * asked for (with their config and id, whether up or not). */
static void collect_conns(list_ctx *l) {
    slim_agent_core *c = l->c;
    if (c->ops.streams != NULL)
        c->ops.streams(c->ud, add_stream, l);
    uint64_t fake = UINT64_MAX; /* keys for links without a stream: never a real id */
    for (agent_conn *ac = c->conns; ac != NULL && l->st == SLIM_OK; ac = ac->next) {
        uint64_t id = c->ops.link_conn(c->ud, ac->link);
        conn_info *ci = info_get(l, id != 0 ? id : fake--, ac->endpoint);
        if (ci == NULL)
            return;
        if (id == 0)
            ci->pb.id = 0;
        ci->pb.config_data = ac->config_data;
        ci->pb.connection_id = ac->key;
    }
}

/* ---- the subscription list ---- */

typedef struct list_name {
    slim_hnode node;
    slim_name name;
    pb_sub_entry pb;
    char *text[3];
    char id[SLIM_ID_TEXT_LEN + 1];
    pb_conn_entry **conns[2]; /* local, remote */
    size_t n[2], cap[2];
} list_name;

static int list_name_eq(const slim_hnode *n, const void *key) {
    return slim_name_equal(&SLIM_CONTAINER_OF(n, list_name, node)->name, key);
}

static list_name *name_find(list_ctx *l, const slim_name *name) {
    slim_hnode *n = slim_hmap_find(&l->names, slim_name_hash(name), list_name_eq, name);
    return n ? SLIM_CONTAINER_OF(n, list_name, node) : NULL;
}

static list_name *name_get(list_ctx *l, const slim_name *name) {
    list_name *e = name_find(l, name);
    if (e != NULL || l->st != SLIM_OK)
        return e;
    if (l->n_names == l->cap_names) {
        size_t cap = l->cap_names ? l->cap_names * 2 : 64;
        list_name **p = slim_realloc(l->order, cap * sizeof *p);
        if (p == NULL) {
            l->st = SLIM_E_NOMEM;
            return NULL;
        }
        l->order = p;
        l->cap_names = cap;
    }
    if ((e = slim_calloc(1, sizeof *e)) == NULL) {
        l->st = SLIM_E_NOMEM;
        return NULL;
    }
    e->name = *name;
    controller__proto__v1__subscription_entry__init(&e->pb);
    if (id_text(name, e->id) != NULL) {
        e->pb._id_case = CONTROLLER__PROTO__V1__SUBSCRIPTION_ENTRY___ID_ID;
        e->pb.id = e->id;
    }
    slim_hmap_insert(&l->names, &e->node, slim_name_hash(name));
    l->order[l->n_names++] = e;
    return e;
}

/* Gives a listed name its text when it has none yet. */
static void name_text(list_ctx *l, const slim_name *name, const slim_str *text) {
    list_name *e = name_find(l, name);
    if (e == NULL || e->text[0] != NULL || text == NULL)
        return;
    for (int i = 0; i < 3; i++)
        if ((e->text[i] = slim_strndup(text[i].ptr, text[i].len)) == NULL)
            l->st = SLIM_E_NOMEM;
}

static void app_text(const slim_name *name, const slim_str *text, void *ud) {
    name_text(ud, name, text);
}

static void add_sub(uint64_t conn, const slim_name *name, const uint64_t *reasons, size_t n,
                    void *ud) {
    (void)reasons;
    (void)n;
    list_ctx *l = ud;
    if (conn != 0 && conn == l->c->local_conn)
        return; /* the controller's own name: not listed */
    list_name *e = name_get(l, name);
    conn_info *ci = e != NULL ? info_get(l, conn, "") : NULL;
    if (ci == NULL)
        return;
    int side =
        ci->pb.connection_type == CONTROLLER__PROTO__V1__CONNECTION_TYPE__CONNECTION_TYPE_LOCAL ? 0
                                                                                                : 1;
    if (e->n[side] == e->cap[side]) {
        size_t cap = e->cap[side] ? e->cap[side] * 2 : 4;
        pb_conn_entry **p = slim_realloc(e->conns[side], cap * sizeof *p);
        if (p == NULL) {
            l->st = SLIM_E_NOMEM;
            return;
        }
        e->conns[side] = p;
        e->cap[side] = cap;
    }
    e->conns[side][e->n[side]++] = &ci->pb;
}

static void list_cleanup(list_ctx *l) {
    slim_hmap_iter it;
    for (slim_hnode *n = slim_hmap_first(&l->conns, &it); n; n = slim_hmap_next(&l->conns, &it)) {
        conn_info *ci = SLIM_CONTAINER_OF(n, conn_info, node);
        slim_hmap_remove(&l->conns, n);
        slim_free(ci->peer);
        slim_free(ci->config_data);
        slim_free(ci);
    }
    for (size_t i = 0; i < l->n_names; i++) {
        list_name *e = l->order[i];
        for (int k = 0; k < 3; k++)
            slim_free(e->text[k]);
        slim_free(e->conns[0]);
        slim_free(e->conns[1]);
        slim_free(e);
    }
    slim_free(l->order);
    slim_hmap_cleanup(&l->conns);
    slim_hmap_cleanup(&l->names);
}

static slim_status list_init(list_ctx *l, slim_agent_core *c) {
    memset(l, 0, sizeof *l);
    l->c = c;
    if (slim_hmap_init(&l->conns, 16) != SLIM_OK || slim_hmap_init(&l->names, 64) != SLIM_OK) {
        slim_hmap_cleanup(&l->conns);
        return SLIM_E_NOMEM;
    }
    return SLIM_OK;
}

static slim_status list_subscriptions(slim_agent_core *c, const pb_msg *in,
                                      slim_agent_reply_fn reply, void *ud) {
    list_ctx l;
    if (list_init(&l, c) != SLIM_OK)
        return SLIM_E_NOMEM;
    collect_conns(&l);
    if (l.st == SLIM_OK)
        slim_router_foreach(slim_fwd_router(c->fwd), add_sub, &l);
    /* The names' text: the controller's subscriptions, then the
     * applications'; the hashes for names learnt without text. */
    for (agent_conn *ac = c->conns; ac != NULL && l.st == SLIM_OK; ac = ac->next) {
        for (agent_sub *e = ac->subs; e != NULL; e = e->next) {
            slim_str t[3] = {{e->text[0], strlen(e->text[0])},
                             {e->text[1], strlen(e->text[1])},
                             {e->text[2], strlen(e->text[2])}};
            name_text(&l, &e->name, t);
        }
    }
    if (l.st == SLIM_OK)
        slim_fwd_app_names_foreach(c->fwd, app_text, &l);
    pb_sub_entry **entries = NULL;
    if (l.st == SLIM_OK && l.n_names > 0 &&
        (entries = slim_calloc(l.n_names, sizeof *entries)) == NULL)
        l.st = SLIM_E_NOMEM;
    for (size_t i = 0; l.st == SLIM_OK && i < l.n_names; i++) {
        list_name *e = l.order[i];
        if (e->text[0] == NULL) {
            for (int k = 0; k < 3; k++) {
                char h[17];
                snprintf(h, sizeof h, "%016llx", (unsigned long long)e->name.component[k]);
                if ((e->text[k] = slim_strdup(h)) == NULL)
                    l.st = SLIM_E_NOMEM;
            }
        }
        if (e->text[0] == NULL || e->text[1] == NULL || e->text[2] == NULL)
            break;
        e->pb.component_0 = e->text[0];
        e->pb.component_1 = e->text[1];
        e->pb.component_2 = e->text[2];
        e->pb.n_local_connections = e->n[0];
        e->pb.local_connections = e->conns[0];
        e->pb.n_remote_connections = e->n[1];
        e->pb.remote_connections = e->conns[1];
        entries[i] = &e->pb;
    }
    size_t off = 0;
    do {
        if (l.st != SLIM_OK)
            break;
        size_t n =
            l.n_names - off < SLIM_AGENT_LIST_CHUNK ? l.n_names - off : SLIM_AGENT_LIST_CHUNK;
        pb_msg m;
        char mid[SLIM_ID_TEXT_LEN + 1];
        Controller__Proto__V1__SubscriptionListResponse r =
            CONTROLLER__PROTO__V1__SUBSCRIPTION_LIST_RESPONSE__INIT;
        if ((l.st = msg_init(
                 &m, mid,
                 CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_SUBSCRIPTION_LIST_RESPONSE)) !=
            SLIM_OK)
            break;
        m.subscription_list_response = &r;
        r.n_entries = n;
        r.entries = n > 0 ? entries + off : NULL;
        r.original_message_id = in->message_id;
        off += n;
        r.done = off == l.n_names;
        if ((l.st = pack(&m, &c->out)) == SLIM_OK)
            reply(ud, slim_buf_view(&c->out));
    } while (off < l.n_names);
    slim_status st = l.st;
    slim_free(entries);
    list_cleanup(&l);
    return st;
}

/* ---- the connection list ---- */

static int by_id(const void *a, const void *b) {
    const conn_info *x = *(conn_info *const *)a, *y = *(conn_info *const *)b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static slim_status list_connections(slim_agent_core *c, const pb_msg *in, slim_agent_reply_fn reply,
                                    void *ud) {
    list_ctx l;
    if (list_init(&l, c) != SLIM_OK)
        return SLIM_E_NOMEM;
    collect_conns(&l);
    /* The streams that finished negotiation, and the controller's links
     * whether they have a stream or not. */
    conn_info **all = NULL;
    pb_conn_entry **entries = NULL;
    size_t n = 0;
    if (l.st == SLIM_OK && l.conns.count > 0 &&
        ((all = slim_calloc(l.conns.count, sizeof *all)) == NULL ||
         (entries = slim_calloc(l.conns.count, sizeof *entries)) == NULL))
        l.st = SLIM_E_NOMEM;
    slim_hmap_iter it;
    for (slim_hnode *nd = l.st == SLIM_OK ? slim_hmap_first(&l.conns, &it) : NULL; nd;
         nd = slim_hmap_next(&l.conns, &it)) {
        conn_info *ci = SLIM_CONTAINER_OF(nd, conn_info, node);
        if (ci->live || ci->pb.connection_id[0] != '\0')
            all[n++] = ci;
    }
    if (n > 1)
        qsort(all, n, sizeof *all, by_id);
    for (size_t i = 0; i < n; i++)
        entries[i] = &all[i]->pb;
    size_t off = 0;
    do {
        if (l.st != SLIM_OK)
            break;
        size_t k = n - off < SLIM_AGENT_LIST_CHUNK ? n - off : SLIM_AGENT_LIST_CHUNK;
        pb_msg m;
        char mid[SLIM_ID_TEXT_LEN + 1];
        Controller__Proto__V1__ConnectionListResponse r =
            CONTROLLER__PROTO__V1__CONNECTION_LIST_RESPONSE__INIT;
        if ((l.st = msg_init(
                 &m, mid,
                 CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_CONNECTION_LIST_RESPONSE)) !=
            SLIM_OK)
            break;
        m.connection_list_response = &r;
        r.n_entries = k;
        r.entries = k > 0 ? entries + off : NULL;
        r.original_message_id = in->message_id;
        off += k;
        r.done = off == n;
        if ((l.st = pack(&m, &c->out)) == SLIM_OK)
            reply(ud, slim_buf_view(&c->out));
    } while (off < n);
    slim_status st = l.st;
    slim_free(all);
    slim_free(entries);
    list_cleanup(&l);
    return st;
}

/* ---- channels through the controller ---- */

#define DEFAULT_REQUEST_TIMEOUT_MS 60000

/* Sends ack{original_message_id: mid, success, messages: [why]} (no message
 * when why is NULL) through reply, from a buffer of its own (this may run
 * from inside the forwarder, while c->out is in use elsewhere). */
static slim_status send_ack(const char *mid, bool success, char **messages, size_t n_messages,
                            slim_agent_reply_fn reply, void *ud) {
    pb_msg m;
    char id[SLIM_ID_TEXT_LEN + 1];
    slim_status st = msg_init(&m, id, CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_ACK);
    if (st != SLIM_OK)
        return st;
    Controller__Proto__V1__Ack ack = CONTROLLER__PROTO__V1__ACK__INIT;
    m.ack = &ack;
    ack.original_message_id = (char *)(mid != NULL ? mid : "");
    ack.success = success;
    ack.n_messages = n_messages;
    ack.messages = n_messages > 0 ? messages : NULL;
    slim_buf b = SLIM_BUF_INIT;
    if ((st = pack(&m, &b)) == SLIM_OK)
        reply(ud, slim_buf_view(&b));
    slim_buf_cleanup(&b);
    return st;
}

static slim_status refuse(const char *mid, slim_agent_reply_fn reply, void *ud, const char *fmt,
                          ...) __attribute__((format(printf, 4, 5)));

static slim_status refuse(const char *mid, slim_agent_reply_fn reply, void *ud, const char *fmt,
                          ...) {
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    SLIM_LOGW(MOD, "channel request %s refused: %s", mid, why);
    char *msgs[] = {why};
    return send_ack(mid, false, msgs, 1, reply, ud);
}

/* Parses `org/ns/app` or `org/ns/app/<UUID or decimal>`. */
static slim_status parse_moderator(const char *text, slim_name *out, slim_str text_out[3]) {
    const char *p = text;
    slim_str comp[4];
    size_t n = 0;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash != NULL ? (size_t)(slash - p) : strlen(p);
        if (n == 4 || len == 0)
            return SLIM_E_INVALID_ARG;
        comp[n++] = (slim_str){p, len};
        if (slash == NULL)
            break;
        p = slash + 1;
    }
    if (n < 3)
        return SLIM_E_INVALID_ARG;
    slim_id id = slim_id_any();
    if (n == 4 && slim_id_parse_api(comp[3].ptr, comp[3].len, &id) != SLIM_OK)
        return SLIM_E_NAME_BAD_ID;
    memcpy(text_out, comp, 3 * sizeof *comp);
    return slim_name_from_strings(comp, id, out);
}

/* The Publish of the doc's table into out. */
static slim_status build_request(slim_agent_core *c, const slim_name *dest, const slim_str dtext[3],
                                 uint32_t mid, slim_bytes blob, uint64_t unix_s, slim_buf *out) {
    slim_str token;
    slim_status st = slim_app__identity_token(&c->signer, unix_s, &token);
    if (st != SLIM_OK)
        return st;
    slim_wire_header_spec h = {
        .source = {&c->ctl_name, ctl_text}, .destination = {dest, dtext}, .fanout = 1};
    slim_wire_session_spec s = {
        .session_type = DATAPLANE__PROTO__V1__SESSION_TYPE__SESSION_TYPE_MULTICAST,
        .message_type =
            DATAPLANE__PROTO__V1__SESSION_MESSAGE_TYPE__SESSION_MESSAGE_TYPE_CONTROLLER_REQUEST,
        .session_id = 0,
        .message_id = mid};
    slim_msg *m = NULL;
    st = slim_wire_publish_new(&h, &s, &m);
    if (st == SLIM_OK)
        st = slim_wire_set_app_payload(m, SLIM_AGENT_CONTROLLER_CONTENT_TYPE, blob);
    if (st == SLIM_OK)
        st = slim_wire_metadata_set(m, "SLIM_IDENTITY", token.ptr);
    if (st == SLIM_OK)
        st = slim_wire_encode(m, SLIM_WIRE_DEFAULT_MAX_SIZE, out);
    slim_wire_free(m);
    return st;
}

static slim_status channel_request(slim_agent_core *c, const pb_msg *in, slim_bytes raw,
                                   uint64_t now_ms, uint64_t unix_s, slim_agent_reply_fn reply,
                                   void *ud) {
    size_t n_mod = 0;
    char **mods = NULL;
    switch (in->payload_case) {
    case CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_CREATE_CHANNEL_REQUEST:
        n_mod = in->create_channel_request->n_moderators;
        mods = in->create_channel_request->moderators;
        break;
    case CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_DELETE_CHANNEL_REQUEST:
        n_mod = in->delete_channel_request->n_moderators;
        mods = in->delete_channel_request->moderators;
        break;
    case CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_ADD_PARTICIPANT_REQUEST:
        n_mod = in->add_participant_request->n_moderators;
        mods = in->add_participant_request->moderators;
        break;
    default:
        n_mod = in->delete_participant_request->n_moderators;
        mods = in->delete_participant_request->moderators;
        break;
    }
    const char *mid = in->message_id;
    if (!c->has_signer)
        return refuse(mid, reply, ud,
                      "the node has no controller.token_provider to sign controller requests "
                      "with");
    if (c->local_conn == 0 || c->ops.inject == NULL)
        return refuse(mid, reply, ud, "the node cannot deliver controller requests");
    if (n_mod == 0 || mods[0] == NULL || mods[0][0] == '\0')
        return refuse(mid, reply, ud, "no moderator given");
    const char *mod = mods[0];
    slim_name dest;
    slim_str dtext[3];
    slim_status st = parse_moderator(mod, &dest, dtext);
    if (st != SLIM_OK)
        return refuse(mid, reply, ud,
                      "bad moderator \"%.200s\": expected org/ns/app or org/ns/app/<id> (a UUID "
                      "or a decimal integer)",
                      mod);
    if (c->n_pending >= SLIM_AGENT_MAX_PENDING)
        return refuse(mid, reply, ud, "too many controller requests outstanding (%d)",
                      SLIM_AGENT_MAX_PENDING);
    uint32_t node_mid = 0;
    while (node_mid == 0)
        if ((st = slim_random_bytes(&node_mid, sizeof node_mid)) != SLIM_OK)
            return st;
    agent_pending *p = slim_calloc(1, sizeof *p);
    if (p == NULL || (p->ctl_mid = slim_strdup(mid)) == NULL ||
        (p->moderator = slim_strdup(mod)) == NULL) {
        if (p != NULL)
            pending_free(p);
        return SLIM_E_NOMEM;
    }
    slim_buf b = SLIM_BUF_INIT;
    st = build_request(c, &dest, dtext, node_mid, raw, unix_s, &b);
    if (st != SLIM_OK) {
        slim_buf_cleanup(&b);
        pending_free(p);
        if (st == SLIM_E_NOMEM)
            return st;
        return refuse(mid, reply, ud, "cannot build the request for %s: %s", mod,
                      slim_status_str(st));
    }
    p->node_mid = node_mid;
    p->dest = dest;
    uint64_t timeout =
        c->info->request_timeout_ms ? c->info->request_timeout_ms : DEFAULT_REQUEST_TIMEOUT_MS;
    p->deadline_ms = now_ms + timeout;
    p->reply = reply;
    p->reply_ud = ud;
    /* Listed before the injection: the answer cannot come back inside it,
     * but an error publish can, and finds nothing. */
    p->next = c->pending;
    c->pending = p;
    c->n_pending++;
    st = c->ops.inject(c->ud, c->local_conn, slim_buf_view(&b));
    slim_buf_cleanup(&b);
    if (st == SLIM_OK) {
        SLIM_LOGI(MOD, "channel request %s handed to %s (message %u)", mid, mod, node_mid);
        return SLIM_OK;
    }
    c->pending = p->next;
    c->n_pending--;
    pending_free(p);
    if (st == SLIM_E_ROUTER_NO_ROUTE)
        return refuse(mid, reply, ud, "no route to %s", mod);
    return refuse(mid, reply, ud, "cannot deliver the request to %s: %s", mod, slim_status_str(st));
}

slim_status slim_agent_core_attach(slim_agent_core *c, uint64_t conn) {
    slim_status st = slim_fwd_static_subscribe(c->fwd, conn, &c->ctl_name);
    if (st == SLIM_OK)
        c->local_conn = conn;
    return st;
}

slim_status slim_agent_core_token(slim_agent_core *c, uint64_t unix_s, slim_str *token) {
    if (c->reg_ident != NULL)
        return slim_identity_token(c->reg_ident, unix_s, token);
    if (c->has_signer)
        return slim_app__identity_token(&c->signer, unix_s, token);
    return SLIM_E_NOT_FOUND;
}

const slim_name *slim_agent_core_controller_name(const slim_agent_core *c) {
    return &c->ctl_name;
}

size_t slim_agent_core_pending(const slim_agent_core *c) {
    return c->n_pending;
}

uint64_t slim_agent_core_dropped(const slim_agent_core *c) {
    return c->dropped;
}

/* The pending request a reply answers: same controller message id, sent
 * to the name the reply comes from. */
static agent_pending **find_pending(slim_agent_core *c, const char *ctl_mid,
                                    const slim_name *from) {
    for (agent_pending **pp = &c->pending; *pp != NULL; pp = &(*pp)->next) {
        agent_pending *p = *pp;
        if (strcmp(p->ctl_mid, ctl_mid) != 0)
            continue;
        if (!slim_name_same_service(&p->dest, from) ||
            (!slim_id_is_any(p->dest.id) && !slim_id_equal(p->dest.id, from->id))) {
            SLIM_LOGW(MOD,
                      "an answer to channel request %s came from another name than %s; dropped",
                      ctl_mid, p->moderator);
            return NULL;
        }
        return pp;
    }
    SLIM_LOGD(MOD, "an answer to %s, which is not outstanding; dropped", ctl_mid);
    return NULL;
}

void slim_agent_core_local_input(slim_agent_core *c, slim_bytes msg) {
    slim_msg *m = NULL;
    pb_msg *cm = NULL;
    slim_name from;
    bool answered = false;
    if (slim_wire_decode(msg, SLIM_WIRE_DEFAULT_MAX_SIZE, &m) != SLIM_OK ||
        slim_wire_kind(m) != SLIM_MSG_PUBLISH)
        goto out;
    const Dataplane__Proto__V1__Publish *pub = m->publish;
    if (pub->header == NULL || pub->session == NULL || pub->msg == NULL ||
        pub->session->session_message_type !=
            DATAPLANE__PROTO__V1__SESSION_MESSAGE_TYPE__SESSION_MESSAGE_TYPE_CONTROLLER_REPLY ||
        pub->msg->content_type_case != DATAPLANE__PROTO__V1__CONTENT__CONTENT_TYPE_APP_PAYLOAD ||
        slim_wire_name_get(pub->header->source, &from) != SLIM_OK)
        goto out;
    ProtobufCBinaryData blob = pub->msg->app_payload->blob;
    cm = controller__proto__v1__control_message__unpack(NULL, blob.len, blob.data);
    if (cm == NULL || cm->payload_case != CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_ACK ||
        cm->ack->original_message_id == NULL)
        goto out;
    agent_pending **pp = find_pending(c, cm->ack->original_message_id, &from);
    if (pp == NULL)
        goto out;
    agent_pending *p = *pp;
    *pp = p->next;
    c->n_pending--;
    SLIM_LOGI(MOD, "channel request %s: %s answered %s", p->ctl_mid, p->moderator,
              cm->ack->success ? "success" : "failure");
    slim_status st = send_ack(p->ctl_mid, cm->ack->success, cm->ack->messages, cm->ack->n_messages,
                              p->reply, p->reply_ud);
    if (st != SLIM_OK)
        SLIM_LOGW(MOD, "channel request %s: answer not sent: %s", p->ctl_mid, slim_status_str(st));
    pending_free(p);
    answered = true;
out:
    if (!answered)
        c->dropped++;
    if (cm != NULL)
        controller__proto__v1__control_message__free_unpacked(cm, NULL);
    slim_wire_free(m);
}

uint64_t slim_agent_core_expire(slim_agent_core *c, uint64_t now_ms) {
    uint64_t next = 0;
    for (agent_pending **pp = &c->pending; *pp != NULL;) {
        agent_pending *p = *pp;
        if (p->deadline_ms > now_ms) {
            if (next == 0 || p->deadline_ms < next)
                next = p->deadline_ms;
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        c->n_pending--;
        uint64_t timeout =
            c->info->request_timeout_ms ? c->info->request_timeout_ms : DEFAULT_REQUEST_TIMEOUT_MS;
        char secs[32];
        if (timeout % 1000 == 0)
            snprintf(secs, sizeof secs, "%" PRIu64, timeout / 1000);
        else
            snprintf(secs, sizeof secs, "%.3g", (double)timeout / 1000.0);
        (void)refuse(p->ctl_mid, p->reply, p->reply_ud,
                     "the moderator %s did not answer within %s s", p->moderator, secs);
        pending_free(p);
    }
    return next;
}

/* ---- entry points ---- */

slim_status slim_agent_core_handle(slim_agent_core *c, slim_bytes msg, uint64_t now_ms,
                                   uint64_t unix_s, slim_agent_reply_fn reply, void *ud) {
    pb_msg *m = controller__proto__v1__control_message__unpack(NULL, msg.len, msg.ptr);
    if (m == NULL)
        return SLIM_E_INVALID_ARG;
    slim_status st = SLIM_OK;
    switch (m->payload_case) {
    case CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_CONFIG_COMMAND:
        st = apply(c, m, reply, ud);
        break;
    case CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_SUBSCRIPTION_LIST_REQUEST:
        st = list_subscriptions(c, m, reply, ud);
        break;
    case CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_CONNECTION_LIST_REQUEST:
        st = list_connections(c, m, reply, ud);
        break;
    case CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_CREATE_CHANNEL_REQUEST:
    case CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_DELETE_CHANNEL_REQUEST:
    case CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_ADD_PARTICIPANT_REQUEST:
    case CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_DELETE_PARTICIPANT_REQUEST:
        st = channel_request(c, m, msg, now_ms, unix_s, reply, ud);
        break;
    case CONTROLLER__PROTO__V1__CONTROL_MESSAGE__PAYLOAD_ACK: {
        const Controller__Proto__V1__Ack *a = m->ack;
        char why[256] = "";
        for (size_t i = 0, len = 0; i < a->n_messages && len < sizeof why - 1; i++)
            len += (size_t)snprintf(why + len, sizeof why - len, "%s%s", i ? "; " : "",
                                    a->messages[i]);
        if (a->success)
            SLIM_LOGD(MOD, "ack of %s: success%s%s", a->original_message_id, why[0] ? ": " : "",
                      why);
        else
            SLIM_LOGW(MOD, "the controller refused message %s%s%s", a->original_message_id,
                      why[0] ? ": " : "", why);
        break;
    }
    default:
        SLIM_LOGD(MOD, "ignoring a control message with payload %d", (int)m->payload_case);
        break;
    }
    controller__proto__v1__control_message__free_unpacked(m, NULL);
    return st;
}

void slim_agent_core_link_up(slim_agent_core *c, void *link, uint64_t conn) {
    agent_conn *ac = conn_of_link(c, link);
    if (ac == NULL)
        return;
    size_t n = 0;
    for (agent_sub *e = ac->subs; e != NULL; e = e->next) {
        slim_status st = slim_fwd_static_subscribe(c->fwd, conn, &e->name);
        if (st == SLIM_OK) {
            n++;
        } else {
            char label[3 * SLIM_NAME_COMPONENT_MAX + 64];
            slim_str t[3] = {{e->text[0], strlen(e->text[0])},
                             {e->text[1], strlen(e->text[1])},
                             {e->text[2], strlen(e->text[2])}};
            name_label(&e->name, t, label, sizeof label);
            SLIM_LOGW(MOD, "connection %s: cannot install %s: %s", ac->key, label,
                      slim_status_str(st));
        }
    }
    SLIM_LOGI(MOD, "connection %s is up: %zu subscription(s) installed", ac->key, n);
}

/* ================================================================== */
/* The agent on the node's loop                                        */
/* ================================================================== */

/* A link the agent dialled through the hub. */
typedef struct agent_link {
    slim_agent *a;
    slim_hub_link *hl;
    uint64_t up_conn;
    bool up_pending; /* `up` ran inside the forwarder; act from the loop */
    struct agent_link *next;
} agent_link;

/* One controller. */
typedef struct ctl {
    slim_agent *a;
    const char *endpoint;
    slim_grpc_client *client;
    slim_grpc_call *call; /* the control stream, NULL when none */
    uv_timer_t reopen;
    bool failing; /* the last attempt failed (logged once) */
} ctl;

struct slim_agent {
    uv_loop_t *loop;
    slim_hub *hub;
    slim_agent_config cfg;
    slim_agent_core *core;
    ctl *ctls;
    size_t n_ctls;
    slim_agent_server *server; /* controller.servers; NULL without */
    agent_link *links;
    uv_timer_t defer;
    uv_timer_t expire;   /* the next channel request deadline */
    uint64_t local_conn; /* where channel requests go out and answers come in */
    bool stopped;
    int open_handles;
    slim_buf out;
};

/* ---- links (the core's ops) ---- */

static void defer_fire(uv_timer_t *t) {
    slim_agent *a = t->data;
    for (agent_link *al = a->links; al != NULL; al = al->next) {
        if (!al->up_pending)
            continue;
        al->up_pending = false;
        slim_agent_core_link_up(a->core, al, al->up_conn);
    }
}

static void link_up(void *ud, uint64_t conn) {
    agent_link *al = ud;
    al->up_conn = conn;
    al->up_pending = true;
    uv_timer_start(&al->a->defer, defer_fire, 0, 0);
}

static slim_status op_dial(void *ud, const slim_client_config *cc, void **link) {
    slim_agent *a = ud;
    agent_link *al = slim_calloc(1, sizeof *al);
    if (al == NULL)
        return SLIM_E_NOMEM;
    al->a = a;
    slim_hub_link_cbs cbs = {.up = link_up, .ud = al};
    slim_status st = slim_hub_dial_link(a->hub, cc, &a->cfg.link_base, &cbs, &al->hl);
    if (st != SLIM_OK) {
        slim_free(al);
        return st;
    }
    al->next = a->links;
    a->links = al;
    *link = al;
    return SLIM_OK;
}

static void op_close(void *ud, void *link) {
    slim_agent *a = ud;
    agent_link *al = link;
    for (agent_link **p = &a->links; *p != NULL; p = &(*p)->next) {
        if (*p == al) {
            *p = al->next;
            break;
        }
    }
    slim_hub_link_close(a->hub, al->hl);
    slim_free(al);
}

static uint64_t op_link_conn(void *ud, void *link) {
    (void)ud;
    return slim_hub_link_conn(((agent_link *)link)->hl);
}

static void op_streams(void *ud, void (*fn)(uint64_t conn, const char *peer, bool dialled, void *),
                       void *fud) {
    slim_agent *a = ud;
    slim_hub_streams_foreach(a->hub, fn, fud);
}

static void op_broadcast(void *ud, slim_bytes msg) {
    slim_agent *a = ud;
    for (size_t i = 0; i < a->n_ctls; i++) {
        ctl *c = &a->ctls[i];
        if (c->call == NULL)
            continue;
        slim_status st = slim_grpc_call_send(c->call, msg);
        if (st != SLIM_OK)
            SLIM_LOGW(MOD, "controller %s: report not sent: %s", c->endpoint, slim_status_str(st));
    }
}

/* ---- control streams ---- */

static void ctl_open(ctl *c);

static void reopen_fire(uv_timer_t *t) {
    ctl *c = t->data;
    /* A connection that is not READY opens the stream when it is. */
    if (c->client != NULL && slim_grpc_client_state(c->client) == SLIM_GRPC_READY)
        ctl_open(c);
}

static void reply_on(void *ud, slim_bytes msg) {
    ctl *c = ud;
    if (c->call == NULL)
        return;
    slim_status st = slim_grpc_call_send(c->call, msg);
    if (st != SLIM_OK)
        SLIM_LOGW(MOD, "controller %s: answer not sent: %s", c->endpoint, slim_status_str(st));
}

static void expire_fire(uv_timer_t *t) {
    slim_agent *a = t->data;
    if (a->core == NULL)
        return;
    uint64_t now = slim_now_ms();
    uint64_t next = slim_agent_core_expire(a->core, now);
    if (next != 0)
        uv_timer_start(&a->expire, expire_fire, next > now ? next - now : 0, 0);
}

static void ctl_message(slim_grpc_call *call, slim_bytes msg, void *data) {
    ctl *c = data;
    if (c == NULL)
        return;
    slim_status st =
        slim_agent_core_handle(c->a->core, msg, slim_now_ms(), (uint64_t)time(NULL), reply_on, c);
    if (!c->a->stopped)
        expire_fire(&c->a->expire);
    if (st == SLIM_E_INVALID_ARG) {
        SLIM_LOGW(MOD, "controller %s: undecodable control message (%zu bytes); ending the stream",
                  c->endpoint, msg.len);
        slim_grpc_call_cancel(call);
    } else if (st != SLIM_OK) {
        SLIM_LOGW(MOD, "controller %s: message not handled: %s", c->endpoint, slim_status_str(st));
    }
}

static void ctl_close(slim_grpc_call *call, const slim_grpc_result *res, void *data) {
    (void)call;
    ctl *c = data;
    if (c == NULL)
        return;
    c->call = NULL;
    char why[256];
    slim_log_escape(res->message.ptr, res->message.len, why, sizeof why);
    SLIM_LOGI(MOD, "controller %s: control stream ended: %s%s%s", c->endpoint,
              res->status == SLIM_OK ? "ok" : slim_status_str(res->status),
              res->message.len ? ": " : "", why);
    if (!c->a->stopped && c->client != NULL && slim_grpc_client_state(c->client) == SLIM_GRPC_READY)
        uv_timer_start(&c->reopen, reopen_fire, REOPEN_MS, 0);
}

static const slim_grpc_call_cbs ctl_cbs = {.on_message = ctl_message, .on_close = ctl_close};

static void ctl_open(ctl *c) {
    slim_agent *a = c->a;
    if (c->call != NULL || a->stopped || c->client == NULL)
        return;
    slim_grpc_call_opts o = {.method = SLIM_AGENT_METHOD};
    slim_grpc_md md;
    slim_grpc_md_init(&md);
    slim_str token;
    slim_status st = slim_agent_core_token(a->core, (uint64_t)time(NULL), &token);
    if (st == SLIM_OK) {
        char *bearer = slim_malloc(token.len + 8);
        if (bearer != NULL) {
            snprintf(bearer, token.len + 8, "Bearer %.*s", (int)token.len, token.ptr);
            st = slim_grpc_md_add_str(&md, "authorization", bearer);
            slim_free(bearer);
        } else {
            st = SLIM_E_NOMEM;
        }
        o.metadata = &md;
    } else if (st == SLIM_E_NOT_FOUND) {
        st = SLIM_OK;
    }
    if (st == SLIM_OK)
        st = slim_grpc_client_open(c->client, &o, &ctl_cbs, c, &c->call);
    slim_grpc_md_cleanup(&md);
    if (st != SLIM_OK) {
        c->call = NULL;
        SLIM_LOGW(MOD, "controller %s: cannot open the control stream: %s", c->endpoint,
                  slim_status_str(st));
        uv_timer_start(&c->reopen, reopen_fire, REOPEN_MS, 0);
        return;
    }
    st = slim_agent_core_register(a->core, &a->out);
    if (st == SLIM_OK)
        st = slim_grpc_call_send(c->call, slim_buf_view(&a->out));
    if (st != SLIM_OK) {
        SLIM_LOGW(MOD, "controller %s: cannot register: %s", c->endpoint, slim_status_str(st));
        slim_grpc_call_cancel(c->call); /* on_close opens the next one */
        return;
    }
    SLIM_LOGI(MOD, "controller %s: registering as %s", c->endpoint, a->cfg.info.node_id);
}

static void ctl_state(slim_grpc_client *cl, slim_grpc_conn_state state, slim_status why, void *ud) {
    (void)cl;
    ctl *c = ud;
    if (state == SLIM_GRPC_READY) {
        SLIM_LOGI(MOD, "controller %s: connected", c->endpoint);
        c->failing = false;
        ctl_open(c);
    } else if (state == SLIM_GRPC_TRANSIENT_FAILURE || state == SLIM_GRPC_SHUTDOWN) {
        const char *text = slim_grpc_client_why(c->client);
        if (!c->failing)
            SLIM_LOGW(MOD, "controller %s: %s; retrying", c->endpoint,
                      text[0] ? text : slim_status_str(why));
        else
            SLIM_LOGD(MOD, "controller %s: %s; retrying", c->endpoint,
                      text[0] ? text : slim_status_str(why));
        c->failing = true;
    }
}

/* ---- the LOCAL connection of channel requests ---- */

/* From inside the forwarder: the core only decodes and answers. */
static slim_status local_in(void *ud, slim_rcbuf *buf) {
    slim_agent *a = ud;
    if (a->core != NULL)
        slim_agent_core_local_input(a->core, slim_rcbuf_view(buf));
    return SLIM_OK;
}

static slim_status op_inject(void *ud, uint64_t conn, slim_bytes msg) {
    slim_agent *a = ud;
    return slim_hub_local_input(a->hub, conn, msg, slim_now_ms());
}

/* ---- life ---- */

static void handle_closed(uv_handle_t *h) {
    slim_agent *a = h->data;
    if (--a->open_handles > 0)
        return;
    slim_free(a->ctls);
    slim_free(a);
}

slim_status slim_agent_new(uv_loop_t *loop, slim_hub *hub, const slim_agent_config *cfg,
                           slim_agent **out) {
    if (loop == NULL || hub == NULL || cfg == NULL || cfg->n_controllers + cfg->n_servers == 0 ||
        out == NULL)
        return SLIM_E_INVALID_ARG;
    slim_agent *a = slim_calloc(1, sizeof *a);
    if (a == NULL)
        return SLIM_E_NOMEM;
    a->loop = loop;
    a->hub = hub;
    a->cfg = *cfg;
    a->ctls = slim_calloc(cfg->n_controllers > 0 ? cfg->n_controllers : 1, sizeof *a->ctls);
    static const slim_agent_ops ops = {.dial = op_dial,
                                       .close = op_close,
                                       .link_conn = op_link_conn,
                                       .streams = op_streams,
                                       .broadcast = op_broadcast,
                                       .inject = op_inject};
    slim_status st = a->ctls == NULL
                         ? SLIM_E_NOMEM
                         : slim_agent_core_new(&a->cfg.info, slim_hub_fwd(hub), &ops, a, &a->core);
    if (st != SLIM_OK) {
        slim_free(a->ctls);
        slim_free(a);
        return st;
    }
    st = slim_hub_local_open(hub, local_in, a, &a->local_conn);
    if (st == SLIM_OK && (st = slim_agent_core_attach(a->core, a->local_conn)) != SLIM_OK)
        slim_hub_local_close(hub, a->local_conn);
    if (st == SLIM_OK && cfg->n_servers > 0) {
        slim_agent_server_config sc = {.servers = cfg->servers,
                                       .n_servers = cfg->n_servers,
                                       .verifier_secret = cfg->verifier_secret,
                                       .listening = cfg->listening,
                                       .ud = cfg->listening_ud};
        if ((st = slim_agent_server_new(loop, a->core, &sc, &a->server)) != SLIM_OK)
            slim_hub_local_close(hub, a->local_conn);
    }
    if (st != SLIM_OK) {
        slim_agent_core_free(a->core);
        slim_free(a->ctls);
        slim_free(a);
        return st;
    }
    a->n_ctls = cfg->n_controllers;
    uv_timer_init(loop, &a->defer);
    a->defer.data = a;
    uv_timer_init(loop, &a->expire);
    a->expire.data = a;
    a->open_handles = 2;
    for (size_t i = 0; i < a->n_ctls; i++) {
        ctl *c = &a->ctls[i];
        c->a = a;
        c->endpoint = cfg->controllers[i].endpoint;
        uv_timer_init(loop, &c->reopen);
        c->reopen.data = c;
        a->open_handles++;
    }
    *out = a;
    return SLIM_OK;
}

slim_status slim_agent_start(slim_agent *a) {
    if (a->server != NULL) {
        slim_status st = slim_agent_server_start(a->server);
        if (st != SLIM_OK)
            return st;
    }
    for (size_t i = 0; i < a->n_ctls; i++) {
        ctl *c = &a->ctls[i];
        /* Redialled forever, whatever max_attempts says. */
        slim_client_config cc = a->cfg.controllers[i];
        cc.backoff.max_attempts = UINT64_MAX;
        slim_status st = slim_grpc_client_new_config(a->loop, &cc, NULL, ctl_state, c, &c->client);
        if (st != SLIM_OK) {
            SLIM_LOGE(MOD, "cannot dial the controller %s: %s", c->endpoint, slim_status_str(st));
            return st;
        }
        SLIM_LOGI(MOD, "dialling the controller %s", c->endpoint);
    }
    return SLIM_OK;
}

void slim_agent_stats_get(const slim_agent *a, slim_agent_stats *out) {
    memset(out, 0, sizeof *out);
    if (a != NULL && a->server != NULL)
        slim_agent_server_stats_get(a->server, out);
}

void slim_agent_app_name(slim_agent *a, const slim_name *name, const slim_str *text, bool added) {
    if (!a->stopped)
        slim_agent_core_app_name(a->core, name, text, added);
}

void slim_agent_stop(slim_agent *a) {
    if (a->stopped)
        return;
    a->stopped = true;
    uv_timer_stop(&a->defer);
    uv_timer_stop(&a->expire);
    /* The LOCAL connection of channel requests goes now: the node's drain
     * waits for every stream. */
    if (a->local_conn != 0)
        slim_hub_local_close(a->hub, a->local_conn);
    a->local_conn = 0;
    if (a->server != NULL)
        slim_agent_server_stop(a->server);
    for (size_t i = 0; i < a->n_ctls; i++) {
        ctl *c = &a->ctls[i];
        uv_timer_stop(&c->reopen);
        if (c->call != NULL)
            slim_grpc_call_set_data(c->call, NULL);
        c->call = NULL;
        slim_grpc_client_free(c->client);
        c->client = NULL;
    }
}

void slim_agent_free(slim_agent *a) {
    if (a == NULL)
        return;
    slim_agent_stop(a);
    slim_agent_server_free(a->server);
    a->server = NULL;
    slim_agent_core_free(a->core); /* closes its links */
    a->core = NULL;
    slim_buf_cleanup(&a->out);
    uv_close((uv_handle_t *)&a->defer, handle_closed);
    uv_close((uv_handle_t *)&a->expire, handle_closed);
    for (size_t i = 0; i < a->n_ctls; i++) {
        a->ctls[i].reopen.data = a;
        uv_close((uv_handle_t *)&a->ctls[i].reopen, handle_closed);
    }
}
