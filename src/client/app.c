/*
 * The app object: its thread and loop, the command queue from the callers,
 * operations and their completion, the event queue and its descriptor
 * (app_int.h has the design).
 */
#include "client/app_int.h"
#include "core/alloc.h"
#include "core/log.h"
#include "core/khash.h"
#include "core/time.h"
#include "core/util.h"
#include "slim/slim.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define MOD     "app"
#define TICK_MS 250

/* Upstream's defaults (docs/client.md). */
#define DEFAULT_MAX_SESSIONS  1024
#define DEFAULT_SESSION_QUEUE 4096
#define DEFAULT_EVENT_QUEUE   65536
#define DEFAULT_HEARTBEAT_MS  10000
#define DEFAULT_MAX_MESSAGE   (4u * 1024u * 1024u)
#define MAX_COMMANDS          65536

/* ---- operations and events (any thread, under mu) ---- */

static int op_eq(const slim_hnode *n, const void *key) {
    return SLIM_CONTAINER_OF(n, op_rec, node)->id == *(const slim_op *)key;
}

static op_rec *op_find(slim_app *app, slim_op id) {
    slim_hnode *n = slim_hmap_find(&app->ops, slim_mix64(id), op_eq, &id);
    return n ? SLIM_CONTAINER_OF(n, op_rec, node) : NULL;
}

/* Makes the descriptor readable or not (under mu). */
static void efd_set(slim_app *app, bool readable) {
    uint64_t v = 1;
    ssize_t r;
    if (readable)
        r = write(app->efd, &v, sizeof v);
    else
        r = read(app->efd, &v, sizeof v);
    (void)r; /* EAGAIN: already in the wanted state */
    app->efd_on = readable;
}

/* The app whose loop runs on this thread (NULL on the callers' threads). */
static _Thread_local const slim_app *loop_of;

/* Under mu. */
static void wake_now(slim_app *app) {
    if ((app->ev_count > 0 || app->ev_dropped > 0) && !app->efd_on)
        efd_set(app, true);
    uv_cond_broadcast(&app->cond);
}

void slim_app__wake(slim_app *app) {
    if (loop_of != app) {
        wake_now(app); /* a caller's own thread */
    } else if (!app->woke) {
        /* The first news of this turn: a caller blocked for it goes on at
         * once, beside the loop. (Only the loop's thread touches woke.) */
        wake_now(app);
        app->woke = true;
    } else {
        app->wake_due = true; /* the rest of the turn's: on_prepare */
    }
}

/* Under mu. Drops the event (counted) when the queue is full. */
void slim_app__push_event(slim_app *app, const slim_event *ev) {
    size_t cap = app->opts.event_queue;
    if (app->ev_count == cap) {
        app->ev_dropped++;
        app->counters.events_dropped++;
        return;
    }
    app->events[(app->ev_head + app->ev_count++) % cap] = *ev;
    slim_app__wake(app);
}

void slim_app__event(slim_app *app, const slim_event *ev) {
    uv_mutex_lock(&app->mu);
    slim_app__push_event(app, ev);
    uv_mutex_unlock(&app->mu);
}

void slim_app__complete(slim_app *app, slim_op op, slim_status st, const char *detail,
                        const slim_event *r) {
    if (op == 0)
        return;
    slim_event ev = r != NULL ? *r : (slim_event){0};
    ev.kind = SLIM_EVENT_OP_DONE;
    ev.op = op;
    ev.status = st;
    snprintf(ev.detail, sizeof ev.detail, "%s", detail != NULL ? detail : "");
    uv_mutex_lock(&app->mu);
    op_rec *o = op_find(app, op);
    if (o != NULL && o->mode == OP_CALL) {
        slim_hmap_remove(&app->ops, &o->node);
        uv_mutex_unlock(&app->mu);
        o->call(app, o->call_ud, &ev);
        slim_free(o);
        return;
    }
    if (o != NULL) {
        if (o->mode == OP_EVENT)
            slim_app__push_event(app, &ev);
        if (o->mode == OP_WAIT) {
            o->result = ev; /* the waiter frees the record */
            o->done = true;
            uv_cond_broadcast(&app->cond);
        } else {
            slim_hmap_remove(&app->ops, &o->node);
            slim_free(o);
        }
    }
    uv_mutex_unlock(&app->mu);
}

slim_op slim_app__op_call(slim_app *app, op_call_fn fn, void *ud) {
    op_rec *o = slim_calloc(1, sizeof *o);
    if (o == NULL)
        return 0;
    o->mode = OP_CALL;
    o->call = fn;
    o->call_ud = ud;
    uv_mutex_lock(&app->mu);
    o->id = ++app->next_op;
    slim_hmap_insert(&app->ops, &o->node, slim_mix64(o->id));
    uv_mutex_unlock(&app->mu);
    return o->id;
}

/* ---- commands (callers) ---- */

void slim_app__cmd_free(app_cmd *c) {
    if (c == NULL)
        return;
    slim_free(c->text);
    OPENSSL_cleanse(c->key, sizeof c->key);
    for (size_t i = 0; i < 2 * c->s.md_len; i++)
        slim_free(c->s.md[i]);
    slim_free(c->s.md);
    slim_free(c->s.to_text);
    slim_free(c->s.payload_type);
    slim_free(c->s.payload);
    /* Only these fill them (the cleanups walk every field, TLS settings
     * included, even of an empty config: a cost for every publish). */
    if (c->kind == CMD_CONNECT)
        slim_client_config_cleanup(&c->cc);
    if (c->kind == CMD_RUN_SERVER)
        slim_server_config_cleanup(&c->sc);
    slim_free(c);
}

/* Under mu: appends c to the command queue. */
static void enqueue(slim_app *app, app_cmd *c) {
    if (app->cmd_tail != NULL)
        app->cmd_tail->next = c;
    else
        app->cmd_head = c;
    app->cmd_tail = c;
    app->n_cmds++;
}

/* Posts c (taken) with a new operation in `mode`; *op gets its id. */
static slim_status post(slim_app *app, app_cmd *c, op_mode mode, slim_op *op) {
    op_rec *o = slim_calloc(1, sizeof *o);
    if (o == NULL) {
        slim_app__cmd_free(c);
        return SLIM_E_NOMEM;
    }
    uv_mutex_lock(&app->mu);
    if (app->stopping || app->n_cmds >= MAX_COMMANDS) {
        slim_status st = app->stopping ? SLIM_E_CLOSED : SLIM_E_QUEUE_FULL;
        if (!app->stopping)
            app->counters.calls_refused++;
        uv_mutex_unlock(&app->mu);
        slim_free(o);
        slim_app__cmd_free(c);
        return st;
    }
    slim_op id = ++app->next_op;
    o->id = id;
    o->mode = mode;
    slim_hmap_insert(&app->ops, &o->node, slim_mix64(id));
    c->op = id;
    enqueue(app, c);
    uv_mutex_unlock(&app->mu);
    /* From here the loop may complete the operation and free o. */
    uv_async_send(&app->wake);
    if (op != NULL)
        *op = id;
    return SLIM_OK;
}

slim_status slim_app__post_async(slim_app *app, app_cmd *c, slim_op *op) {
    return post(app, c, op != NULL ? OP_EVENT : OP_DISCARD, op);
}

bool slim_app__wait(slim_app *app, int64_t timeout_ms, uint64_t deadline) {
    if (timeout_ms == 0 || app->stopped)
        return false;
    if (timeout_ms < 0) {
        uv_cond_wait(&app->cond, &app->mu);
        return true;
    }
    uint64_t now = slim_now_ns();
    if (now >= deadline)
        return false;
    (void)uv_cond_timedwait(&app->cond, &app->mu, deadline - now);
    return true;
}

/* Posts c and waits up to timeout_ms for its result (*out, may be NULL). */
slim_status slim_app__post_wait(slim_app *app, app_cmd *c, int64_t timeout_ms, slim_event *out) {
    slim_op id;
    slim_status st = post(app, c, OP_WAIT, &id);
    if (st != SLIM_OK)
        return st;
    uint64_t deadline = timeout_ms >= 0 ? slim_now_ns() + (uint64_t)timeout_ms * 1000000u : 0;
    uv_mutex_lock(&app->mu);
    op_rec *o = op_find(app, id);
    while (!o->done) {
        if (timeout_ms < 0) {
            uv_cond_wait(&app->cond, &app->mu);
            continue;
        }
        uint64_t now = slim_now_ns();
        if (now >= deadline || uv_cond_timedwait(&app->cond, &app->mu, deadline - now) != 0) {
            if (o->done)
                break;
            if (slim_now_ns() >= deadline)
                break;
        }
    }
    if (!o->done) {
        o->mode = OP_DISCARD; /* the loop frees it when it completes */
        uv_mutex_unlock(&app->mu);
        return SLIM_E_TIMEOUT;
    }
    slim_hmap_remove(&app->ops, &o->node);
    uv_mutex_unlock(&app->mu);
    if (out != NULL)
        *out = o->result;
    st = o->result.status;
    slim_free(o);
    return st;
}

slim_status slim_app_counters_get(slim_app *app, slim_app_counters *out) {
    if (app == NULL || out == NULL)
        return SLIM_E_INVALID_ARG;
    uv_mutex_lock(&app->mu);
    *out = app->counters;
    uv_mutex_unlock(&app->mu);
    return SLIM_OK;
}

/* ---- events (callers) ---- */

int slim_app_fd(const slim_app *app) {
    return app->efd;
}

slim_status slim_app_next_event(slim_app *app, int64_t timeout_ms, slim_event *ev) {
    if (app == NULL || ev == NULL)
        return SLIM_E_INVALID_ARG;
    uint64_t deadline = timeout_ms > 0 ? slim_now_ns() + (uint64_t)timeout_ms * 1000000u : 0;
    uv_mutex_lock(&app->mu);
    for (;;) {
        if (app->ev_dropped > 0) {
            *ev = (slim_event){.kind = SLIM_EVENT_DROPPED, .count = app->ev_dropped};
            snprintf(ev->detail, sizeof ev->detail, "%llu event(s) dropped: event queue full",
                     (unsigned long long)app->ev_dropped);
            app->ev_dropped = 0;
            if (app->ev_count == 0 && app->efd_on)
                efd_set(app, false);
            uv_mutex_unlock(&app->mu);
            return SLIM_OK;
        }
        if (app->ev_count > 0) {
            *ev = app->events[app->ev_head];
            app->ev_head = (app->ev_head + 1) % app->opts.event_queue;
            if (--app->ev_count == 0 && app->efd_on)
                efd_set(app, false);
            uv_mutex_unlock(&app->mu);
            return SLIM_OK;
        }
        if (!slim_app__wait(app, timeout_ms, deadline))
            break;
    }
    uv_mutex_unlock(&app->mu);
    return SLIM_E_TIMEOUT;
}

/* ---- the loop thread ---- */

/* What the router sends our LOCAL connection: kept for after its call. */
static slim_status local_deliver(void *ud, slim_rcbuf *buf) {
    slim_app *app = ud;
    if (app->n_inbox == app->cap_inbox) {
        size_t cap = app->cap_inbox ? app->cap_inbox * 2 : 64;
        slim_rcbuf **p = slim_realloc(app->inbox, cap * sizeof *p);
        if (p == NULL)
            return SLIM_E_NOMEM;
        app->inbox = p;
        app->cap_inbox = cap;
    }
    app->inbox[app->n_inbox++] = slim_rcbuf_ref(buf);
    return SLIM_OK;
}

/* One message for this app from its router: an answer to one of our
 * subscriptions (a SubscriptionAck, field 6, comes first in what routers
 * write), or for the sessions. */
static void take(slim_app *app, slim_bytes bytes) {
    if (bytes.len > 0 && bytes.ptr[0] == 0x32) {
        slim_msg *m = NULL;
        bool ours = slim_wire_decode(bytes, SIZE_MAX, &m) == SLIM_OK &&
                    slim_wire_kind(m) == SLIM_MSG_SUBSCRIPTION_ACK && slim_app__local_ack(app, m);
        slim_wire_free(m);
        if (ours)
            return;
    }
    slim_app__sessions_input(app, bytes);
}

/* Handles everything pending until nothing is: what the router sent us
 * and what link callbacks left. */
static void pump(slim_app *app) {
    for (int round = 0; round < 1000; round++) {
        if (app->deferred) {
            app->deferred = false;
            slim_app__conn_work(app);
        }
        slim_app__sessions_drain(app); /* may deliver more to us */
        if (app->n_inbox == 0 && !app->deferred)
            return;
        /* Taking a message may make the router send more: work on a copy. */
        size_t n = app->n_inbox;
        slim_rcbuf *batch[64];
        if (n > 64)
            n = 64;
        memcpy(batch, app->inbox, n * sizeof batch[0]);
        memmove(app->inbox, app->inbox + n, (app->n_inbox - n) * sizeof batch[0]);
        app->n_inbox -= n;
        for (size_t i = 0; i < n; i++) {
            take(app, slim_rcbuf_view(batch[i]));
            slim_rcbuf_unref(batch[i]);
        }
    }
}

void slim_app__pump(slim_app *app) {
    pump(app);
}

static void stop_loop(slim_app *app);

static void on_wake(uv_async_t *a) {
    slim_app *app = a->data;
    /* The commands posted until now, and no more: those posted meanwhile
     * wait for the next turn (their uv_async_send brings it at once), so
     * that what these queued on the links is written first. A caller
     * posting as fast as the loop runs them kept it here, and a link's
     * send queue filled up without a write (messages from the app itself
     * are dropped at a full link). */
    uv_mutex_lock(&app->mu);
    app_cmd *c = app->cmd_head;
    app->cmd_head = app->cmd_tail = NULL;
    app->n_cmds = 0;
    uv_mutex_unlock(&app->mu);
    while (c != NULL) {
        app_cmd *next = c->next;
        if (c->kind == CMD_STOP) { /* always the last: nothing is taken after it */
            /* Sessions tell their peers first, for at most the timeout. */
            int64_t t = c->timeout_ms;
            slim_app__cmd_free(c);
            if (slim_app__sessions_close_all(app) || t == 0) {
                stop_loop(app);
            } else {
                app->stop_deadline_ms = t > 0 ? slim_now_ms() + (uint64_t)t : UINT64_MAX;
                pump(app);
            }
            return;
        }
        if (c->kind == CMD_SAVE_STATE)
            slim_app__state_save_cmd(app, c);
        else if (c->kind >= CMD_SESSION_CREATE && c->kind <= CMD_SESSION_ROTATE)
            slim_app__run_session_cmd(app, c);
        else
            slim_app__run_conn_cmd(app, c);
        slim_app__cmd_free(c);
        pump(app);
        c = next;
    }
    pump(app);
}

/* Before the loop polls (and so before it sleeps): the callers hear of
 * everything queued for them during this turn. */
static void on_prepare(uv_prepare_t *p) {
    slim_app *app = p->data;
    app->woke = false;
    if (!app->wake_due)
        return;
    app->wake_due = false;
    uv_mutex_lock(&app->mu);
    wake_now(app);
    uv_mutex_unlock(&app->mu);
}

/* After each turn's I/O: what the router delivered to us meanwhile (from
 * node links) is handled before the loop sleeps again. */
static void on_check(uv_check_t *c) {
    slim_app *app = c->data;
    if (app->n_inbox > 0 || app->deferred)
        pump(app);
}

static void on_tick(uv_timer_t *t) {
    slim_app *app = t->data;
    uint64_t now = slim_now_ms();
    if (app->stop_deadline_ms != 0 && (app->all_closed || now >= app->stop_deadline_ms)) {
        stop_loop(app);
        return;
    }
    slim_app__conn_tick(app, now);
    pump(app);
}

static void closed_cb(uv_handle_t *h) {
    (void)h;
}

static void stop_loop(slim_app *app) {
    slim_app__conn_stop(app);
    for (size_t i = 0; i < app->n_inbox; i++)
        slim_rcbuf_unref(app->inbox[i]);
    app->n_inbox = 0;
    slim_hub_local_close(app->hub, app->local);
    slim_hub_free(app->hub);
    app->hub = NULL;
    slim_sessions_free(app->ss);
    app->ss = NULL;
    uv_timer_stop(&app->tick);
    uv_close((uv_handle_t *)&app->tick, closed_cb);
    uv_close((uv_handle_t *)&app->ss_timer, closed_cb);
    uv_close((uv_handle_t *)&app->check, closed_cb);
    uv_close((uv_handle_t *)&app->prep, closed_cb);
    uv_close((uv_handle_t *)&app->wake, closed_cb);
}

static void thread_main(void *arg) {
    slim_app *app = arg;
    loop_of = app;
    uv_run(&app->loop, UV_RUN_DEFAULT);
    uv_mutex_lock(&app->mu);
    app->stopped = true;
    wake_now(app);
    uv_mutex_unlock(&app->mu);
}

/* ---- life ---- */

static void app_free_memory(slim_app *app) {
    for (int i = 0; i < 3; i++)
        slim_free(app->name_text[i]);
    slim_app__identity_cleanup(&app->identity);
    slim_buf_cleanup_secret(&app->restore);
    slim_hmap_iter si;
    for (slim_hnode *n = slim_hmap_first(&app->sessions, &si); n;
         n = slim_hmap_next(&app->sessions, &si))
        slim_app__session_free(SLIM_CONTAINER_OF(n, app_session, node));
    slim_hmap_cleanup(&app->sessions);
    slim_free(app->events);
    slim_free(app->inbox);
    slim_app__cmd_free(app->stop_cmd);
    slim_hmap_iter it;
    for (slim_hnode *n = slim_hmap_first(&app->ops, &it); n; n = slim_hmap_next(&app->ops, &it)) {
        op_rec *o = SLIM_CONTAINER_OF(n, op_rec, node);
        if (o->mode == OP_CALL)
            o->call(app, o->call_ud, NULL);
        slim_free(o);
    }
    slim_hmap_cleanup(&app->ops);
    for (app_cmd *c = app->cmd_head, *next; c != NULL; c = next) {
        next = c->next;
        slim_app__cmd_free(c);
    }
    if (app->efd >= 0)
        close(app->efd);
    slim_free(app);
}

slim_status slim_app_new(const char *name, const slim_identity_config *provider,
                         const slim_identity_config *verifier, const slim_app_options *opts,
                         slim_app **out) {
    if (name == NULL || out == NULL || slim_app__identity_check(provider, true) != SLIM_OK ||
        slim_app__identity_check(verifier, false) != SLIM_OK)
        return SLIM_E_INVALID_ARG;
    slim_name parsed;
    slim_name_parts parts;
    slim_status st = slim_name_parse(name, strlen(name), &parsed, &parts);
    if (st != SLIM_OK)
        return st;
    if (parts.has_id)
        return SLIM_E_INVALID_ARG; /* the id comes from the identity */
    if (provider->kind == SLIM_IDENTITY_SHARED_SECRET &&
        slim_identity_secret_is_weak((slim_str){provider->secret, strlen(provider->secret)}))
        SLIM_LOGW(MOD, "the shared secret of %s is shorter than 32 characters", name);
    slim_app *app = slim_calloc(1, sizeof *app);
    if (app == NULL)
        return SLIM_E_NOMEM;
    app->efd = -1;
    if (opts != NULL)
        app->opts = *opts;
    slim_app_options *o = &app->opts;
    o->max_sessions = o->max_sessions ? o->max_sessions : DEFAULT_MAX_SESSIONS;
    o->session_queue = o->session_queue ? o->session_queue : DEFAULT_SESSION_QUEUE;
    o->event_queue = o->event_queue ? o->event_queue : DEFAULT_EVENT_QUEUE;
    o->heartbeat_ms = o->heartbeat_ms ? o->heartbeat_ms : DEFAULT_HEARTBEAT_MS;
    o->max_message_size = o->max_message_size ? o->max_message_size : DEFAULT_MAX_MESSAGE;
    for (int i = 0; i < 3 && st == SLIM_OK; i++) {
        app->name_text[i] = slim_strndup(parts.component[i].ptr, parts.component[i].len);
        if (app->name_text[i] == NULL)
            st = SLIM_E_NOMEM;
        else
            app->name_parts[i] = (slim_str){app->name_text[i], parts.component[i].len};
    }
    if (st == SLIM_OK && o->state_file != NULL)
        st = slim_app__state_load(app, provider, verifier);
    else if (st == SLIM_OK)
        st = slim_app__identity_init(&app->identity, provider, verifier, o->mls_suite,
                                     (uint64_t)time(NULL));
    if (st == SLIM_OK) {
        app->name = parsed;
        /* An identity without an id (a JWT without "sub") leaves the
         * name's id NULL, as upstream does. */
        if (slim_app__identity_has_id(&app->identity))
            app->name.id = slim_app__identity_app_id(&app->identity);
        app->events = slim_calloc(o->event_queue, sizeof *app->events);
        if (app->events == NULL)
            st = SLIM_E_NOMEM;
    }
    if (st == SLIM_OK)
        st = slim_hmap_init(&app->sessions, 64);
    if (st == SLIM_OK) {
        slim_sessions_config sc = {.local = {.name = app->name},
                                   .provider_id = slim_app__identity_id(&app->identity),
                                   .max_sessions = o->max_sessions,
                                   .heartbeat_ms = o->heartbeat_ms,
                                   .heartbeat_misses = o->heartbeat_misses,
                                   .offline_removal_ms = o->offline_removal_ms,
                                   .max_members = o->max_members,
                                   .send_window = o->send_window,
                                   .max_message_size = o->max_message_size + 64 * 1024};
        memcpy(sc.local.text, app->name_parts, sizeof sc.local.text);
        slim_sessions_ops ops;
        slim_app__sessions_ops(app, &ops);
        st = slim_sessions_new(&sc, &ops, &app->ss);
    }
    if (st == SLIM_OK && (app->stop_cmd = slim_calloc(1, sizeof *app->stop_cmd)) == NULL)
        st = SLIM_E_NOMEM;
    if (st == SLIM_OK) {
        app->stop_cmd->kind = CMD_STOP;
        st = slim_hmap_init(&app->ops, 64);
    }
    if (st == SLIM_OK) {
        app->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (app->efd < 0)
            st = SLIM_E_IO;
    }
    if (st != SLIM_OK) {
        app_free_memory(app);
        return st;
    }
    uv_mutex_init(&app->mu);
    uv_cond_init(&app->cond);
    uv_loop_init(&app->loop);
    uv_async_init(&app->loop, &app->wake, on_wake);
    app->wake.data = app;
    uv_timer_init(&app->loop, &app->tick);
    app->tick.data = app;
    uv_timer_init(&app->loop, &app->ss_timer);
    app->ss_timer.data = app;
    uv_check_init(&app->loop, &app->check);
    app->check.data = app;
    uv_prepare_init(&app->loop, &app->prep);
    app->prep.data = app;
    slim_hub_config hc = {.fwd = {.node_id = slim_app__identity_id(&app->identity).ptr,
                                  .version = slim_version(),
                                  .announce = SLIM_LINK_TYPE_EDGE,
                                  .max_message_size = o->max_message_size,
                                  .require_header_mac = true}};
    slim_hub_callbacks hcb = {.subscription_ack = slim_app__remote_ack, .ud = app};
    st = slim_hub_new(&app->loop, &hc, &hcb, &app->hub);
    if (st == SLIM_OK)
        st = slim_hub_local_open(app->hub, local_deliver, app, &app->local);
    if (st == SLIM_OK) {
        /* Started before the thread: libuv handles belong to one thread. */
        uv_timer_start(&app->tick, on_tick, TICK_MS, TICK_MS);
        uv_check_start(&app->check, on_check);
        uv_prepare_start(&app->prep, on_prepare);
        if (uv_thread_create(&app->thread, thread_main, app) != 0)
            st = SLIM_E_IO;
    }
    if (st != SLIM_OK) {
        if (app->hub != NULL)
            slim_hub_free(app->hub);
        slim_sessions_free(app->ss);
        uv_close((uv_handle_t *)&app->tick, closed_cb);
        uv_close((uv_handle_t *)&app->ss_timer, closed_cb);
        uv_close((uv_handle_t *)&app->check, closed_cb);
        uv_close((uv_handle_t *)&app->prep, closed_cb);
        uv_close((uv_handle_t *)&app->wake, closed_cb);
        uv_run(&app->loop, UV_RUN_DEFAULT);
        uv_loop_close(&app->loop);
        uv_cond_destroy(&app->cond);
        uv_mutex_destroy(&app->mu);
        app_free_memory(app);
        return st;
    }
    *out = app;
    return SLIM_OK;
}

void slim_app_free(slim_app *app, int64_t timeout_ms) {
    if (app == NULL)
        return;
    /* The stop command goes last, past the queue's bound; nothing more is
     * accepted after it. */
    uv_mutex_lock(&app->mu);
    app_cmd *c = app->stop_cmd;
    app->stop_cmd = NULL;
    c->timeout_ms = timeout_ms;
    app->stopping = true;
    enqueue(app, c);
    uv_mutex_unlock(&app->mu);
    uv_async_send(&app->wake);
    uv_thread_join(&app->thread);
    uv_loop_close(&app->loop);
    uv_cond_destroy(&app->cond);
    uv_mutex_destroy(&app->mu);
    app_free_memory(app);
}

void slim_app_name(const slim_app *app, slim_name *out) {
    *out = app->name;
}

slim_status slim_app_name_text(const slim_app *app, char *buf, size_t cap) {
    return slim_name_format(app->name_parts, app->name.id, buf, cap, NULL);
}
