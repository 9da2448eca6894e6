/*
 * State at rest (docs/client.md, "State at rest"): an app saves its
 * identity and the groups it is a member of to a file sealed under a key
 * it holds (state_file.c), and a restarted app made with that file takes
 * its identity back and comes back into its groups on its first
 * connection. The state inside the envelope:
 *
 *   uint16 version = 1
 *   opaque identity<V>   slim_app__identity_export
 *   opaque sessions<V>   slim_sessions_export
 *
 * All of it is secret (a private key, MLS epoch secrets): it is wiped from
 * memory once written or taken.
 */
#include "client/app_int.h"
#include "client/state_file.h"
#include "core/alloc.h"
#include "core/log.h"
#include "core/time.h"
#include "mls/tls.h"

#include <string.h>
#include <time.h>

#define MOD          "app"
#define SAVE_VERSION 1u

slim_status slim_app__state_load(slim_app *app, const slim_identity_config *provider,
                                 const slim_identity_config *verifier) {
    const slim_app_options *o = &app->opts;
    if (o->state_key == NULL)
        return SLIM_E_INVALID_ARG;
    slim_buf plain;
    slim_buf_init(&plain);
    slim_status st = slim_state_file_read(o->state_file, o->state_key, &plain);
    if (st != SLIM_OK) {
        slim_buf_cleanup_secret(&plain);
        return st;
    }
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, slim_buf_view(&plain));
    uint16_t version = 0;
    slim_bytes ident = {0}, sessions = {0};
    slim_mls_tls_get_u16(&r, &version);
    slim_mls_tls_get_opaque(&r, &ident);
    slim_mls_tls_get_opaque(&r, &sessions);
    st = slim_mls_tls_reader_finish(&r) != SLIM_OK ? SLIM_E_STATE_FORMAT
         : version != SAVE_VERSION                 ? SLIM_E_STATE_FORMAT
                                                   : SLIM_OK;
    if (st == SLIM_OK)
        st = slim_app__identity_init_restored(&app->identity, provider, verifier, o->mls_suite,
                                              (uint64_t)time(NULL), ident);
    if (st == SLIM_OK && sessions.len > 0)
        st = slim_buf_append(&app->restore, sessions.ptr, sessions.len);
    slim_buf_cleanup_secret(&plain);
    return st;
}

void slim_app__state_restore(slim_app *app, uint64_t fwd) {
    if (app->restore.len == 0 || app->ss == NULL)
        return;
    uint32_t n = 0;
    slim_status st =
        slim_sessions_import(app->ss, slim_buf_view(&app->restore), fwd, slim_now_ms(), &n);
    if (st != SLIM_OK)
        SLIM_LOGW(MOD, "saved state: %u group session(s) back, then %s", n, slim_status_str(st));
    else
        SLIM_LOGI(MOD, "saved state: %u group session(s) coming back", n);
    slim_buf_cleanup_secret(&app->restore);
    slim_app__sessions_drain(app);
}

/* The state as bytes (secret). */
static slim_status state_bytes(slim_app *app, slim_buf *out, uint32_t *nsessions) {
    slim_buf ident, sessions;
    slim_buf_init(&ident);
    slim_buf_init(&sessions);
    slim_status st = slim_app__identity_export(&app->identity, &ident);
    if (st == SLIM_OK)
        st = slim_sessions_export(app->ss, &sessions, nsessions);
    /* room for all of it first: no copy of a secret left where it grew */
    if (st == SLIM_OK)
        st = slim_buf_reserve(out, 2 + 8 + ident.len + 8 + sessions.len);
    if (st == SLIM_OK) {
        slim_mls_tls_writer w;
        slim_mls_tls_writer_init(&w, out);
        slim_mls_tls_put_u16(&w, SAVE_VERSION);
        slim_mls_tls_put_opaque(&w, slim_buf_view(&ident));
        slim_mls_tls_put_opaque(&w, slim_buf_view(&sessions));
        st = slim_mls_tls_writer_status(&w);
    }
    slim_buf_cleanup_secret(&ident);
    slim_buf_cleanup_secret(&sessions);
    return st;
}

void slim_app__state_save_cmd(slim_app *app, app_cmd *c) {
    slim_buf plain;
    slim_buf_init(&plain);
    uint32_t n = 0;
    slim_status st = state_bytes(app, &plain, &n);
    if (st == SLIM_OK)
        st = slim_state_file_write(c->text, c->key, slim_buf_view(&plain));
    slim_buf_cleanup_secret(&plain);
    char why[160];
    if (st == SLIM_OK)
        snprintf(why, sizeof why, "state saved: the identity and %u group session(s)", n);
    else
        snprintf(why, sizeof why, "cannot save the state: %s", slim_status_str(st));
    slim_event r = {.status = st};
    slim_app__complete(app, c->op, st, why, &r);
}

slim_status slim_app_save_state(slim_app *app, const char *path, const uint8_t key[32],
                                int64_t timeout_ms) {
    if (app == NULL || path == NULL || path[0] == '\0' || key == NULL)
        return SLIM_E_INVALID_ARG;
    app_cmd *c = slim_calloc(1, sizeof *c);
    if (c == NULL)
        return SLIM_E_NOMEM;
    c->kind = CMD_SAVE_STATE;
    c->text = slim_strndup(path, strlen(path));
    if (c->text == NULL) {
        slim_app__cmd_free(c);
        return SLIM_E_NOMEM;
    }
    memcpy(c->key, key, sizeof c->key);
    return slim_app__post_wait(app, c, timeout_ms, NULL);
}
