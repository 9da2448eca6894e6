/*
 * The controller's state in SQLite; see store.h for the contract.
 *
 * Every statement is prepared with bound parameters, run and finalized
 * within the call (the controller's rate of changes does not call for a
 * statement cache). Calls that change several rows run inside a SAVEPOINT,
 * which is a transaction of its own outside slim_store_begin() and a nested
 * part of the caller's transaction inside it: a failing call undoes only
 * itself.
 *
 * Schema. The migrations below take user_version i to i+1, one transaction
 * each. Conns, subs, routes and reports name their node by id without a
 * foreign key, so that something can be stored for a node before it
 * registers; slim_store_node_delete() removes them explicitly. Details,
 * moderators and participants belong to their parent row (ON DELETE
 * CASCADE). A name is four columns c0, c1, c2, name_id (NULL: any
 * instance); the unique indexes use ifnull(col, x'') because UNIQUE treats
 * NULLs as distinct, and a blob never equals a text, so a NULL and an ''
 * stay apart. Lists keep their order in explicit columns: subs.seq (the
 * rowid, always above every existing one), node_details.ord,
 * channel_moderators.ord and participants.ord.
 *
 * An empty list comes back as NULL with a count of 0.
 */
#include "control/store.h"
#include "core/alloc.h"
#include "core/log.h"

#include <sqlite3.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MOD     "store"
#define BUSY_MS 5000

struct slim_store {
    sqlite3 *db;
    int version;
};

/* ---- schema ---- */

static const char *const migrations[] = {
    /* 0 -> 1: everything */
    "CREATE TABLE nodes ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " group_name TEXT,"
    " peer_host TEXT,"
    " registered_ms INTEGER NOT NULL,"
    " last_seen_ms INTEGER NOT NULL);"
    "CREATE TABLE node_details ("
    " node_id TEXT NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,"
    " ord INTEGER NOT NULL,"
    " endpoint TEXT NOT NULL,"
    " mtls_required INTEGER NOT NULL,"
    " local_endpoint TEXT,"
    " external_endpoint TEXT,"
    " group_name TEXT,"
    " PRIMARY KEY (node_id, ord));"
    "CREATE TABLE conns ("
    " node_id TEXT NOT NULL,"
    " connection_id TEXT NOT NULL,"
    " config_data TEXT NOT NULL,"
    " PRIMARY KEY (node_id, connection_id));"
    "CREATE TABLE subs ("
    " seq INTEGER PRIMARY KEY,"
    " id TEXT NOT NULL UNIQUE,"
    " node_id TEXT NOT NULL,"
    " c0 TEXT NOT NULL, c1 TEXT NOT NULL, c2 TEXT NOT NULL, name_id TEXT,"
    " connection_id TEXT NOT NULL);"
    "CREATE INDEX subs_node ON subs (node_id, seq);"
    "CREATE TABLE routes ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " node_id TEXT NOT NULL,"
    " c0 TEXT NOT NULL, c1 TEXT NOT NULL, c2 TEXT NOT NULL, name_id TEXT,"
    " dest_node_id TEXT,"
    " connection_id TEXT,"
    " config_data TEXT,"
    " automatic INTEGER NOT NULL,"
    " status TEXT NOT NULL);"
    "CREATE UNIQUE INDEX routes_key ON routes (node_id, c0, c1, c2, ifnull(name_id, x''),"
    " ifnull(dest_node_id, x''), ifnull(connection_id, x''));"
    "CREATE INDEX routes_dest ON routes (dest_node_id);"
    "CREATE TABLE reports ("
    " node_id TEXT NOT NULL,"
    " c0 TEXT NOT NULL, c1 TEXT NOT NULL, c2 TEXT NOT NULL, name_id TEXT);"
    "CREATE UNIQUE INDEX reports_key ON reports (node_id, c0, c1, c2, ifnull(name_id, x''));"
    "CREATE TABLE channels ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " node_id TEXT);"
    "CREATE TABLE channel_moderators ("
    " channel_id TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,"
    " ord INTEGER NOT NULL,"
    " moderator TEXT NOT NULL,"
    " PRIMARY KEY (channel_id, ord));"
    "CREATE TABLE participants ("
    " channel_id TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,"
    " ord INTEGER NOT NULL,"
    " participant TEXT NOT NULL,"
    " PRIMARY KEY (channel_id, participant),"
    " UNIQUE (channel_id, ord));",
};

_Static_assert(sizeof migrations / sizeof migrations[0] == SLIM_STORE_SCHEMA_VERSION,
               "one migration per schema version");

/* ---- SQLite plumbing ---- */

static char *dup(const char *s) {
    return slim_strndup(s, strlen(s));
}

/* The status for SQLite's rc, logging what failed (SQL text carries no
 * values: they are all bound). */
static slim_status sql_fail(slim_store *s, int rc, const char *what) {
    if ((rc & 0xff) == SQLITE_NOMEM)
        return SLIM_E_NOMEM;
    SLIM_LOGE(MOD, "%s: %s (%s)", what, sqlite3_errmsg(s->db), sqlite3_errstr(rc));
    return SLIM_E_IO;
}

static slim_status exec(slim_store *s, const char *sql) {
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? SLIM_OK : sql_fail(s, rc, sql);
}

/* Binds the arguments after fmt to parameters 1.. of q: 't' a string (NULL
 * binds NULL), 'i' an int64_t, 'b' a bool, 'n' a slim_store_name * (four
 * parameters). The strings must outlive q. */
static slim_status vbind(slim_store *s, sqlite3_stmt *q, const char *fmt, va_list ap) {
    int i = 1, rc = SQLITE_OK;
    for (const char *f = fmt; *f != '\0' && rc == SQLITE_OK; f++) {
        switch (*f) {
        case 't': {
            const char *t = va_arg(ap, const char *);
            rc =
                t != NULL ? sqlite3_bind_text(q, i, t, -1, SQLITE_STATIC) : sqlite3_bind_null(q, i);
            i++;
            break;
        }
        case 'i':
            rc = sqlite3_bind_int64(q, i++, va_arg(ap, int64_t));
            break;
        case 'b':
            rc = sqlite3_bind_int(q, i++, va_arg(ap, int) ? 1 : 0);
            break;
        case 'n': {
            const slim_store_name *n = va_arg(ap, const slim_store_name *);
            for (int k = 0; k < 3 && rc == SQLITE_OK; k++)
                rc = sqlite3_bind_text(q, i++, n->c[k], -1, SQLITE_STATIC);
            if (rc == SQLITE_OK)
                rc = n->id != NULL ? sqlite3_bind_text(q, i, n->id, -1, SQLITE_STATIC)
                                   : sqlite3_bind_null(q, i);
            i++;
            break;
        }
        default:
            rc = SQLITE_MISUSE;
        }
    }
    return rc == SQLITE_OK ? SLIM_OK : sql_fail(s, rc, sqlite3_sql(q));
}

/* Prepares sql and binds the arguments (see vbind). */
static slim_status query(slim_store *s, sqlite3_stmt **out, const char *sql, const char *fmt, ...) {
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);
    if (rc != SQLITE_OK)
        return sql_fail(s, rc, sql);
    va_list ap;
    va_start(ap, fmt);
    slim_status st = vbind(s, q, fmt, ap);
    va_end(ap);
    if (st != SLIM_OK) {
        sqlite3_finalize(q);
        return st;
    }
    *out = q;
    return SLIM_OK;
}

/* One step: *row says whether a row came. A unique or primary key
 * violation is E_EXISTS, a foreign key one E_NOT_FOUND (the parent is
 * missing); neither is logged. */
static slim_status step(slim_store *s, sqlite3_stmt *q, bool *row) {
    int rc = sqlite3_step(q);
    *row = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        return SLIM_OK;
    if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        return SLIM_E_EXISTS;
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
        return SLIM_E_NOT_FOUND;
    return sql_fail(s, rc, sqlite3_sql(q));
}

/* Prepares, binds, runs to the end and finalizes a statement; *changes
 * (may be NULL) gets the rows it inserted, updated or deleted. */
static slim_status run(slim_store *s, int *changes, const char *sql, const char *fmt, ...) {
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);
    if (rc != SQLITE_OK)
        return sql_fail(s, rc, sql);
    va_list ap;
    va_start(ap, fmt);
    slim_status st = vbind(s, q, fmt, ap);
    va_end(ap);
    bool row = true;
    while (st == SLIM_OK && row)
        st = step(s, q, &row);
    if (st == SLIM_OK && changes != NULL)
        *changes = sqlite3_changes(s->db);
    sqlite3_finalize(q);
    return st;
}

/* An operation of several statements. *outer says whether it opened the
 * transaction itself (no slim_store_begin() around it). */
static slim_status op_begin(slim_store *s, bool *outer) {
    *outer = sqlite3_get_autocommit(s->db) != 0;
    return exec(s, "SAVEPOINT slim_op");
}

/* Ends the operation: keeps it when st is SLIM_OK, undoes it otherwise.
 * Returns st, or the failure to commit it. */
static slim_status op_end(slim_store *s, bool outer, slim_status st) {
    if (st == SLIM_OK && (st = exec(s, "RELEASE slim_op")) == SLIM_OK)
        return SLIM_OK;
    if (sqlite3_get_autocommit(s->db))
        return st; /* SQLite rolled back already */
    if (outer) {
        exec(s, "ROLLBACK");
    } else {
        exec(s, "ROLLBACK TO slim_op");
        exec(s, "RELEASE slim_op");
    }
    return st;
}

/* ---- reading rows ---- */

/* Column i as an allocated string (NULL for NULL); does nothing once *st
 * is an error. */
static void col_str(sqlite3_stmt *q, int i, char **out, slim_status *st) {
    if (*st != SLIM_OK)
        return;
    *out = NULL;
    if (sqlite3_column_type(q, i) == SQLITE_NULL)
        return;
    const unsigned char *t = sqlite3_column_text(q, i);
    if (t == NULL) {
        *st = SLIM_E_NOMEM;
        return;
    }
    *out = slim_strndup((const char *)t, (size_t)sqlite3_column_bytes(q, i));
    if (*out == NULL)
        *st = SLIM_E_NOMEM;
}

/* Columns i..i+3 as a name. */
static void col_name(sqlite3_stmt *q, int i, slim_store_name *n, slim_status *st) {
    for (int k = 0; k < 3; k++)
        col_str(q, i + k, &n->c[k], st);
    col_str(q, i + 3, &n->id, st);
}

/* Reads the current row of q into a zeroed item; on error the item may be
 * partly filled (the matching clean_fn frees it). */
typedef slim_status (*row_fn)(slim_store *s, sqlite3_stmt *q, void *item);
typedef void (*clean_fn)(void *item);

/* Every row of q (finalized here) into an array of items of size bytes. */
static slim_status collect(slim_store *s, sqlite3_stmt *q, size_t size, row_fn row, clean_fn clean,
                           void **out, size_t *n) {
    char *v = NULL;
    size_t len = 0, cap = 0;
    bool more = false;
    slim_status st;
    while ((st = step(s, q, &more)) == SLIM_OK && more) {
        if (len == cap) {
            size_t ncap = cap != 0 ? cap * 2 : 8;
            char *nv = ncap <= SIZE_MAX / size ? slim_realloc(v, ncap * size) : NULL;
            if (nv == NULL) {
                st = SLIM_E_NOMEM;
                break;
            }
            v = nv;
            cap = ncap;
        }
        void *item = v + len * size;
        memset(item, 0, size);
        len++;
        if ((st = row(s, q, item)) != SLIM_OK)
            break;
    }
    sqlite3_finalize(q);
    if (st != SLIM_OK) {
        for (size_t i = 0; i < len; i++)
            clean(v + i * size);
        slim_free(v);
        return st;
    }
    *out = v;
    *n = len;
    return SLIM_OK;
}

/* The first row of q (finalized here) into the zeroed *item; E_NOT_FOUND
 * when there is none. On error the item is cleaned. */
static slim_status one(slim_store *s, sqlite3_stmt *q, row_fn row, clean_fn clean, void *item) {
    bool more = false;
    slim_status st = step(s, q, &more);
    if (st == SLIM_OK && !more)
        st = SLIM_E_NOT_FOUND;
    if (st == SLIM_OK && (st = row(s, q, item)) != SLIM_OK)
        clean(item);
    sqlite3_finalize(q);
    return st;
}

/* Whether q (finalized here) yields a row. */
static slim_status exists(slim_store *s, sqlite3_stmt *q, bool *found) {
    slim_status st = step(s, q, found);
    sqlite3_finalize(q);
    return st;
}

static bool name_ok(const slim_store_name *n) {
    return n != NULL && n->c[0] != NULL && n->c[1] != NULL && n->c[2] != NULL;
}

/* ---- open, close, transactions ---- */

static void set_err(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t cap, const char *fmt, ...) {
    if (err == NULL || cap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

static slim_status pragma_int(slim_store *s, const char *sql, int *v) {
    sqlite3_stmt *q = NULL;
    slim_status st = query(s, &q, sql, "");
    if (st != SLIM_OK)
        return st;
    bool row = false;
    if ((st = step(s, q, &row)) == SLIM_OK)
        *v = row ? sqlite3_column_int(q, 0) : 0;
    sqlite3_finalize(q);
    return st;
}

static slim_status newer(const char *path, int v, char *err, size_t cap) {
    set_err(err, cap, "%s has schema version %d, newer than version %d that this build knows", path,
            v, SLIM_STORE_SCHEMA_VERSION);
    SLIM_LOGE(MOD, "%s has schema version %d, newer than version %d that this build knows", path, v,
              SLIM_STORE_SCHEMA_VERSION);
    return SLIM_E_STATE;
}

/* Runs the migrations from the file's version up, one transaction each. The
 * version is read again inside each transaction, in case another process
 * migrated the file meanwhile. */
static slim_status migrate(slim_store *s, const char *path, char *err, size_t cap) {
    for (;;) {
        slim_status st = exec(s, "BEGIN IMMEDIATE");
        int v = 0;
        if (st == SLIM_OK)
            st = pragma_int(s, "PRAGMA user_version", &v);
        if (st == SLIM_OK && v > SLIM_STORE_SCHEMA_VERSION)
            st = newer(path, v, err, cap);
        if (st == SLIM_OK && v < 0) {
            set_err(err, cap, "%s has an invalid schema version %d", path, v);
            st = SLIM_E_STATE;
        }
        if (st == SLIM_OK && v == SLIM_STORE_SCHEMA_VERSION) {
            if ((st = exec(s, "COMMIT")) == SLIM_OK) {
                s->version = v;
                return SLIM_OK;
            }
        }
        if (st == SLIM_OK) {
            char set[64];
            snprintf(set, sizeof set, "PRAGMA user_version = %d", v + 1);
            if ((st = exec(s, migrations[v])) == SLIM_OK && (st = exec(s, set)) == SLIM_OK &&
                (st = exec(s, "COMMIT")) == SLIM_OK) {
                SLIM_LOGI(MOD, "%s: schema migrated from version %d to %d", path, v, v + 1);
                continue;
            }
            set_err(err, cap, "migration of %s from schema version %d to %d failed: %s", path, v,
                    v + 1, sqlite3_errmsg(s->db));
        } else if (st != SLIM_E_STATE) {
            set_err(err, cap, "cannot check the schema of %s: %s", path, sqlite3_errmsg(s->db));
        }
        if (!sqlite3_get_autocommit(s->db))
            exec(s, "ROLLBACK");
        return st;
    }
}

/* The connection settings, then the schema. The version is checked before
 * anything is written, so a newer file is left as it was. */
static slim_status setup(slim_store *s, const char *path, char *err, size_t cap) {
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, BUSY_MS);
    int v = 0, fk = 0;
    slim_status st = pragma_int(s, "PRAGMA user_version", &v);
    if (st != SLIM_OK) {
        set_err(err, cap, "cannot read %s: %s", path, sqlite3_errmsg(s->db));
        return st;
    }
    if (v > SLIM_STORE_SCHEMA_VERSION)
        return newer(path, v, err, cap);
    if ((st = exec(s, "PRAGMA foreign_keys = ON")) != SLIM_OK ||
        (st = pragma_int(s, "PRAGMA foreign_keys", &fk)) != SLIM_OK ||
        (st = exec(s, "PRAGMA synchronous = FULL")) != SLIM_OK) {
        set_err(err, cap, "cannot configure %s: %s", path, sqlite3_errmsg(s->db));
        return st;
    }
    if (fk != 1) {
        set_err(err, cap, "this SQLite does not enforce foreign keys");
        return SLIM_E_UNSUPPORTED;
    }
    sqlite3_stmt *q = NULL;
    bool row = false;
    if ((st = query(s, &q, "PRAGMA journal_mode = WAL", "")) == SLIM_OK) {
        if ((st = step(s, q, &row)) == SLIM_OK && row) {
            const char *mode = (const char *)sqlite3_column_text(q, 0);
            /* ":memory:" and temporary databases stay in memory */
            if (mode != NULL && strcasecmp(mode, "wal") != 0 && strcasecmp(mode, "memory") != 0)
                SLIM_LOGW(MOD, "%s: journal mode is %s, not wal", path, mode);
        }
        sqlite3_finalize(q);
    }
    if (st != SLIM_OK) {
        set_err(err, cap, "cannot switch %s to WAL mode: %s", path, sqlite3_errmsg(s->db));
        return st;
    }
    return migrate(s, path, err, cap);
}

slim_status slim_store_open(const char *path, slim_store **out, char *err, size_t err_cap) {
    set_err(err, err_cap, "%s", "");
    if (path == NULL || out == NULL) {
        set_err(err, err_cap, "no database path given");
        return SLIM_E_INVALID_ARG;
    }
    slim_store *s = slim_calloc(1, sizeof *s);
    if (s == NULL) {
        set_err(err, err_cap, "out of memory opening %s", path);
        return SLIM_E_NOMEM;
    }
    int rc = sqlite3_open_v2(
        path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    slim_status st;
    if (rc != SQLITE_OK) {
        set_err(err, err_cap, "cannot open %s: %s", path,
                s->db != NULL ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        st = s->db != NULL ? sql_fail(s, rc, path) : SLIM_E_NOMEM;
    } else {
        st = setup(s, path, err, err_cap);
    }
    if (st != SLIM_OK) {
        slim_store_close(s);
        return st;
    }
    *out = s;
    return SLIM_OK;
}

void slim_store_close(slim_store *s) {
    if (s == NULL)
        return;
    if (s->db != NULL && sqlite3_close(s->db) != SQLITE_OK)
        SLIM_LOGE(MOD, "closing the database: %s", sqlite3_errmsg(s->db));
    slim_free(s);
}

int slim_store_schema_version(const slim_store *s) {
    return s != NULL ? s->version : 0;
}

/* E_STATE when a transaction is open already. BEGIN IMMEDIATE takes the
 * write lock at once, so the commit cannot find the file taken. */
slim_status slim_store_begin(slim_store *s) {
    if (s == NULL)
        return SLIM_E_INVALID_ARG;
    if (!sqlite3_get_autocommit(s->db))
        return SLIM_E_STATE;
    return exec(s, "BEGIN IMMEDIATE");
}

/* E_STATE when no transaction is open. When the commit fails the
 * transaction may still be open: call slim_store_rollback(). */
slim_status slim_store_commit(slim_store *s) {
    if (s == NULL)
        return SLIM_E_INVALID_ARG;
    if (sqlite3_get_autocommit(s->db))
        return SLIM_E_STATE;
    return exec(s, "COMMIT");
}

void slim_store_rollback(slim_store *s) {
    if (s != NULL && !sqlite3_get_autocommit(s->db))
        exec(s, "ROLLBACK");
}

/* ---- names ---- */

slim_status slim_store_name_copy(const slim_store_name *in, slim_store_name *out) {
    if (!name_ok(in) || out == NULL)
        return SLIM_E_INVALID_ARG;
    slim_store_name n = {{NULL, NULL, NULL}, NULL};
    bool ok = true;
    for (int k = 0; k < 3 && ok; k++)
        ok = (n.c[k] = dup(in->c[k])) != NULL;
    if (ok && in->id != NULL)
        ok = (n.id = dup(in->id)) != NULL;
    if (!ok) {
        slim_store_name_cleanup(&n);
        return SLIM_E_NOMEM;
    }
    *out = n;
    return SLIM_OK;
}

void slim_store_name_cleanup(slim_store_name *n) {
    if (n == NULL)
        return;
    for (int k = 0; k < 3; k++)
        slim_free(n->c[k]);
    slim_free(n->id);
    memset(n, 0, sizeof *n);
}

static bool str_eq(const char *a, const char *b) {
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

bool slim_store_name_equal(const slim_store_name *a, const slim_store_name *b) {
    if (a == NULL || b == NULL)
        return a == b;
    return str_eq(a->c[0], b->c[0]) && str_eq(a->c[1], b->c[1]) && str_eq(a->c[2], b->c[2]) &&
           str_eq(a->id, b->id);
}

/* ---- nodes ---- */

static slim_status details_row(slim_store *s, sqlite3_stmt *q, void *item) {
    (void)s;
    slim_store_details *d = item;
    slim_status st = SLIM_OK;
    col_str(q, 0, &d->endpoint, &st);
    d->mtls_required = sqlite3_column_int(q, 1) != 0;
    col_str(q, 2, &d->local_endpoint, &st);
    col_str(q, 3, &d->external_endpoint, &st);
    col_str(q, 4, &d->group_name, &st);
    return st;
}

static void details_clean(void *item) {
    slim_store_details *d = item;
    slim_free(d->endpoint);
    slim_free(d->local_endpoint);
    slim_free(d->external_endpoint);
    slim_free(d->group_name);
}

#define NODE_COLS "id, group_name, peer_host, registered_ms, last_seen_ms"

static slim_status node_row(slim_store *s, sqlite3_stmt *q, void *item) {
    slim_store_node *n = item;
    slim_status st = SLIM_OK;
    col_str(q, 0, &n->id, &st);
    col_str(q, 1, &n->group_name, &st);
    col_str(q, 2, &n->peer_host, &st);
    n->registered_ms = sqlite3_column_int64(q, 3);
    n->last_seen_ms = sqlite3_column_int64(q, 4);
    sqlite3_stmt *d = NULL;
    void *v = NULL;
    if (st == SLIM_OK &&
        (st = query(s, &d,
                    "SELECT endpoint, mtls_required, local_endpoint, external_endpoint, group_name"
                    " FROM node_details WHERE node_id = ?1 ORDER BY ord",
                    "t", n->id)) == SLIM_OK &&
        (st = collect(s, d, sizeof(slim_store_details), details_row, details_clean, &v,
                      &n->n_details)) == SLIM_OK)
        n->details = v;
    return st;
}

static void node_clean(void *item) {
    slim_store_node_free(item);
}

slim_status slim_store_node_put(slim_store *s, const slim_store_node *n) {
    if (s == NULL || n == NULL || n->id == NULL || (n->n_details > 0 && n->details == NULL))
        return SLIM_E_INVALID_ARG;
    for (size_t i = 0; i < n->n_details; i++)
        if (n->details[i].endpoint == NULL)
            return SLIM_E_INVALID_ARG;
    bool outer;
    slim_status st = op_begin(s, &outer);
    if (st != SLIM_OK)
        return st;
    st = run(s, NULL,
             "INSERT INTO nodes (" NODE_COLS ") VALUES (?1, ?2, ?3, ?4, ?5)"
             " ON CONFLICT (id) DO UPDATE SET group_name = excluded.group_name,"
             " peer_host = excluded.peer_host, registered_ms = excluded.registered_ms,"
             " last_seen_ms = excluded.last_seen_ms",
             "tttii", n->id, n->group_name, n->peer_host, n->registered_ms, n->last_seen_ms);
    if (st == SLIM_OK)
        st = run(s, NULL, "DELETE FROM node_details WHERE node_id = ?1", "t", n->id);
    for (size_t i = 0; i < n->n_details && st == SLIM_OK; i++) {
        const slim_store_details *d = &n->details[i];
        st = run(s, NULL,
                 "INSERT INTO node_details (node_id, ord, endpoint, mtls_required,"
                 " local_endpoint, external_endpoint, group_name)"
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                 "titbttt", n->id, (int64_t)i, d->endpoint, d->mtls_required, d->local_endpoint,
                 d->external_endpoint, d->group_name);
    }
    return op_end(s, outer, st);
}

slim_status slim_store_node_get(slim_store *s, const char *id, slim_store_node *out) {
    if (s == NULL || id == NULL || out == NULL)
        return SLIM_E_INVALID_ARG;
    sqlite3_stmt *q = NULL;
    slim_store_node n;
    memset(&n, 0, sizeof n);
    slim_status st = query(s, &q, "SELECT " NODE_COLS " FROM nodes WHERE id = ?1", "t", id);
    if (st == SLIM_OK && (st = one(s, q, node_row, node_clean, &n)) == SLIM_OK)
        *out = n;
    return st;
}

slim_status slim_store_node_touch(slim_store *s, const char *id, int64_t now_ms) {
    if (s == NULL || id == NULL)
        return SLIM_E_INVALID_ARG;
    int changes = 0;
    slim_status st =
        run(s, &changes, "UPDATE nodes SET last_seen_ms = ?2 WHERE id = ?1", "ti", id, now_ms);
    return st == SLIM_OK && changes == 0 ? SLIM_E_NOT_FOUND : st;
}

slim_status slim_store_node_list(slim_store *s, slim_store_node **out, size_t *n) {
    if (s == NULL || out == NULL || n == NULL)
        return SLIM_E_INVALID_ARG;
    sqlite3_stmt *q = NULL;
    void *v = NULL;
    slim_status st = query(s, &q, "SELECT " NODE_COLS " FROM nodes ORDER BY id", "");
    if (st == SLIM_OK &&
        (st = collect(s, q, sizeof(slim_store_node), node_row, node_clean, &v, n)) == SLIM_OK)
        *out = v;
    return st;
}

slim_status slim_store_node_delete(slim_store *s, const char *id) {
    if (s == NULL || id == NULL)
        return SLIM_E_INVALID_ARG;
    bool outer;
    int changes = 0;
    slim_status st = op_begin(s, &outer);
    if (st != SLIM_OK)
        return st;
    st = run(s, &changes, "DELETE FROM nodes WHERE id = ?1", "t", id); /* details cascade */
    if (st == SLIM_OK && changes == 0)
        st = SLIM_E_NOT_FOUND;
    if (st == SLIM_OK)
        st = run(s, NULL, "DELETE FROM conns WHERE node_id = ?1", "t", id);
    if (st == SLIM_OK)
        st = run(s, NULL, "DELETE FROM subs WHERE node_id = ?1", "t", id);
    if (st == SLIM_OK)
        st = run(s, NULL, "DELETE FROM reports WHERE node_id = ?1", "t", id);
    if (st == SLIM_OK)
        st = run(s, NULL, "DELETE FROM routes WHERE node_id = ?1 OR dest_node_id = ?1", "t", id);
    return op_end(s, outer, st);
}

void slim_store_node_free(slim_store_node *n) {
    if (n == NULL)
        return;
    slim_free(n->id);
    slim_free(n->group_name);
    slim_free(n->peer_host);
    for (size_t i = 0; i < n->n_details; i++)
        details_clean(&n->details[i]);
    slim_free(n->details);
    memset(n, 0, sizeof *n);
}

void slim_store_node_list_free(slim_store_node *v, size_t n) {
    for (size_t i = 0; v != NULL && i < n; i++)
        slim_store_node_free(&v[i]);
    slim_free(v);
}

/* ---- connections ---- */

#define CONN_COLS "node_id, connection_id, config_data"

static slim_status conn_row(slim_store *s, sqlite3_stmt *q, void *item) {
    (void)s;
    slim_store_conn *c = item;
    slim_status st = SLIM_OK;
    col_str(q, 0, &c->node_id, &st);
    col_str(q, 1, &c->connection_id, &st);
    col_str(q, 2, &c->config_data, &st);
    return st;
}

static void conn_clean(void *item) {
    slim_store_conn_free(item);
}

slim_status slim_store_conn_put(slim_store *s, const slim_store_conn *c) {
    if (s == NULL || c == NULL || c->node_id == NULL || c->connection_id == NULL ||
        c->config_data == NULL)
        return SLIM_E_INVALID_ARG;
    return run(s, NULL,
               "INSERT INTO conns (" CONN_COLS ") VALUES (?1, ?2, ?3)"
               " ON CONFLICT (node_id, connection_id) DO UPDATE SET"
               " config_data = excluded.config_data",
               "ttt", c->node_id, c->connection_id, c->config_data);
}

slim_status slim_store_conn_get(slim_store *s, const char *node_id, const char *connection_id,
                                slim_store_conn *out) {
    if (s == NULL || node_id == NULL || connection_id == NULL || out == NULL)
        return SLIM_E_INVALID_ARG;
    sqlite3_stmt *q = NULL;
    slim_store_conn c = {NULL, NULL, NULL};
    slim_status st = query(s, &q,
                           "SELECT " CONN_COLS " FROM conns WHERE node_id = ?1"
                           " AND connection_id = ?2",
                           "tt", node_id, connection_id);
    if (st == SLIM_OK && (st = one(s, q, conn_row, conn_clean, &c)) == SLIM_OK)
        *out = c;
    return st;
}

slim_status slim_store_conn_list(slim_store *s, const char *node_id, slim_store_conn **out,
                                 size_t *n) {
    if (s == NULL || node_id == NULL || out == NULL || n == NULL)
        return SLIM_E_INVALID_ARG;
    sqlite3_stmt *q = NULL;
    void *v = NULL;
    slim_status st = query(s, &q,
                           "SELECT " CONN_COLS " FROM conns WHERE node_id = ?1"
                           " ORDER BY connection_id",
                           "t", node_id);
    if (st == SLIM_OK &&
        (st = collect(s, q, sizeof(slim_store_conn), conn_row, conn_clean, &v, n)) == SLIM_OK)
        *out = v;
    return st;
}

slim_status slim_store_conn_delete(slim_store *s, const char *node_id, const char *connection_id) {
    if (s == NULL || node_id == NULL || connection_id == NULL)
        return SLIM_E_INVALID_ARG;
    int changes = 0;
    slim_status st = run(s, &changes, "DELETE FROM conns WHERE node_id = ?1 AND connection_id = ?2",
                         "tt", node_id, connection_id);
    return st == SLIM_OK && changes == 0 ? SLIM_E_NOT_FOUND : st;
}

void slim_store_conn_free(slim_store_conn *c) {
    if (c == NULL)
        return;
    slim_free(c->node_id);
    slim_free(c->connection_id);
    slim_free(c->config_data);
    memset(c, 0, sizeof *c);
}

void slim_store_conn_list_free(slim_store_conn *v, size_t n) {
    for (size_t i = 0; v != NULL && i < n; i++)
        slim_store_conn_free(&v[i]);
    slim_free(v);
}

/* ---- subscriptions made through the API ---- */

#define SUB_COLS "id, node_id, c0, c1, c2, name_id, connection_id"

static slim_status sub_row(slim_store *s, sqlite3_stmt *q, void *item) {
    (void)s;
    slim_store_sub *sub = item;
    slim_status st = SLIM_OK;
    col_str(q, 0, &sub->id, &st);
    col_str(q, 1, &sub->node_id, &st);
    col_name(q, 2, &sub->name, &st);
    col_str(q, 6, &sub->connection_id, &st);
    return st;
}

static void sub_clean(void *item) {
    slim_store_sub_free(item);
}

slim_status slim_store_sub_add(slim_store *s, const slim_store_sub *sub) {
    if (s == NULL || sub == NULL || sub->id == NULL || sub->node_id == NULL ||
        !name_ok(&sub->name) || sub->connection_id == NULL)
        return SLIM_E_INVALID_ARG;
    return run(s, NULL, "INSERT INTO subs (" SUB_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
               "ttnt", sub->id, sub->node_id, &sub->name, sub->connection_id);
}

slim_status slim_store_sub_get(slim_store *s, const char *id, slim_store_sub *out) {
    if (s == NULL || id == NULL || out == NULL)
        return SLIM_E_INVALID_ARG;
    sqlite3_stmt *q = NULL;
    slim_store_sub sub;
    memset(&sub, 0, sizeof sub);
    slim_status st = query(s, &q, "SELECT " SUB_COLS " FROM subs WHERE id = ?1", "t", id);
    if (st == SLIM_OK && (st = one(s, q, sub_row, sub_clean, &sub)) == SLIM_OK)
        *out = sub;
    return st;
}

slim_status slim_store_sub_list(slim_store *s, const char *node_id, slim_store_sub **out,
                                size_t *n) {
    if (s == NULL || node_id == NULL || out == NULL || n == NULL)
        return SLIM_E_INVALID_ARG;
    sqlite3_stmt *q = NULL;
    void *v = NULL;
    slim_status st =
        query(s, &q, "SELECT " SUB_COLS " FROM subs WHERE node_id = ?1 ORDER BY seq", "t", node_id);
    if (st == SLIM_OK &&
        (st = collect(s, q, sizeof(slim_store_sub), sub_row, sub_clean, &v, n)) == SLIM_OK)
        *out = v;
    return st;
}

slim_status slim_store_sub_delete(slim_store *s, const char *id) {
    if (s == NULL || id == NULL)
        return SLIM_E_INVALID_ARG;
    int changes = 0;
    slim_status st = run(s, &changes, "DELETE FROM subs WHERE id = ?1", "t", id);
    return st == SLIM_OK && changes == 0 ? SLIM_E_NOT_FOUND : st;
}

void slim_store_sub_free(slim_store_sub *sub) {
    if (sub == NULL)
        return;
    slim_free(sub->id);
    slim_free(sub->node_id);
    slim_store_name_cleanup(&sub->name);
    slim_free(sub->connection_id);
    memset(sub, 0, sizeof *sub);
}

void slim_store_sub_list_free(slim_store_sub *v, size_t n) {
    for (size_t i = 0; v != NULL && i < n; i++)
        slim_store_sub_free(&v[i]);
    slim_free(v);
}

/* ---- routes ---- */

#define ROUTE_COLS                                                                                 \
    "id, node_id, c0, c1, c2, name_id, dest_node_id, connection_id, config_data, automatic, "      \
    "status"
#define ROUTE_KEY                                                                                  \
    "node_id = ?1 AND c0 = ?2 AND c1 = ?3 AND c2 = ?4 AND name_id IS ?5"                           \
    " AND dest_node_id IS ?6 AND connection_id IS ?7"
#define ROUTE_ORDER " ORDER BY node_id, c0, c1, c2, name_id, dest_node_id, connection_id, id"

static slim_status route_row(slim_store *s, sqlite3_stmt *q, void *item) {
    (void)s;
    slim_store_route *r = item;
    slim_status st = SLIM_OK;
    col_str(q, 0, &r->id, &st);
    col_str(q, 1, &r->node_id, &st);
    col_name(q, 2, &r->name, &st);
    col_str(q, 6, &r->dest_node_id, &st);
    col_str(q, 7, &r->connection_id, &st);
    col_str(q, 8, &r->config_data, &st);
    r->automatic = sqlite3_column_int(q, 9) != 0;
    col_str(q, 10, &r->status, &st);
    return st;
}

static void route_clean(void *item) {
    slim_store_route_free(item);
}

/* A NULL status is stored as "pending". *existing_id is NULL unless a
 * route with the same key was found. */
slim_status slim_store_route_add(slim_store *s, const slim_store_route *r, char **existing_id) {
    if (existing_id != NULL)
        *existing_id = NULL;
    if (s == NULL || r == NULL || r->id == NULL || r->node_id == NULL || !name_ok(&r->name))
        return SLIM_E_INVALID_ARG;
    sqlite3_stmt *q = NULL;
    slim_status st = query(s, &q, "SELECT id FROM routes WHERE " ROUTE_KEY, "tntt", r->node_id,
                           &r->name, r->dest_node_id, r->connection_id);
    bool found = false;
    if (st == SLIM_OK && (st = step(s, q, &found)) == SLIM_OK && found) {
        st = SLIM_E_EXISTS;
        const char *id = (const char *)sqlite3_column_text(q, 0);
        if (existing_id != NULL && (id == NULL || (*existing_id = dup(id)) == NULL))
            st = SLIM_E_NOMEM;
    }
    sqlite3_finalize(q);
    if (st != SLIM_OK)
        return st;
    return run(s, NULL,
               "INSERT INTO routes (" ROUTE_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
               " ?9, ?10, ?11)",
               "ttntttbt", r->id, r->node_id, &r->name, r->dest_node_id, r->connection_id,
               r->config_data, r->automatic, r->status != NULL ? r->status : "pending");
}

slim_status slim_store_route_get(slim_store *s, const char *id, slim_store_route *out) {
    if (s == NULL || id == NULL || out == NULL)
        return SLIM_E_INVALID_ARG;
    sqlite3_stmt *q = NULL;
    slim_store_route r;
    memset(&r, 0, sizeof r);
    slim_status st = query(s, &q, "SELECT " ROUTE_COLS " FROM routes WHERE id = ?1", "t", id);
    if (st == SLIM_OK && (st = one(s, q, route_row, route_clean, &r)) == SLIM_OK)
        *out = r;
    return st;
}

slim_status slim_store_route_find(slim_store *s, const char *node_id, const slim_store_name *name,
                                  const char *dest_node_id, const char *connection_id,
                                  slim_store_route *out) {
    if (s == NULL || node_id == NULL || !name_ok(name) || out == NULL)
        return SLIM_E_INVALID_ARG;
    sqlite3_stmt *q = NULL;
    slim_store_route r;
    memset(&r, 0, sizeof r);
    slim_status st = query(s, &q, "SELECT " ROUTE_COLS " FROM routes WHERE " ROUTE_KEY, "tntt",
                           node_id, name, dest_node_id, connection_id);
    if (st == SLIM_OK && (st = one(s, q, route_row, route_clean, &r)) == SLIM_OK)
        *out = r;
    return st;
}

slim_status slim_store_route_list(slim_store *s, const char *node_id, slim_store_route **out,
                                  size_t *n) {
    if (s == NULL || out == NULL || n == NULL)
        return SLIM_E_INVALID_ARG;
    sqlite3_stmt *q = NULL;
    void *v = NULL;
    slim_status st =
        node_id != NULL
            ? query(s, &q, "SELECT " ROUTE_COLS " FROM routes WHERE node_id = ?1" ROUTE_ORDER, "t",
                    node_id)
            : query(s, &q, "SELECT " ROUTE_COLS " FROM routes" ROUTE_ORDER, "");
    if (st == SLIM_OK &&
        (st = collect(s, q, sizeof(slim_store_route), route_row, route_clean, &v, n)) == SLIM_OK)
        *out = v;
    return st;
}

slim_status slim_store_route_list_to(slim_store *s, const char *dest, slim_store_route **out,
                                     size_t *n) {
    if (s == NULL || dest == NULL || out == NULL || n == NULL)
        return SLIM_E_INVALID_ARG;
    sqlite3_stmt *q = NULL;
    void *v = NULL;
    slim_status st = query(
        s, &q, "SELECT " ROUTE_COLS " FROM routes WHERE dest_node_id = ?1" ROUTE_ORDER, "t", dest);
    if (st == SLIM_OK &&
        (st = collect(s, q, sizeof(slim_store_route), route_row, route_clean, &v, n)) == SLIM_OK)
        *out = v;
    return st;
}

slim_status slim_store_route_set_status(slim_store *s, const char *id, const char *status) {
    if (s == NULL || id == NULL || status == NULL)
        return SLIM_E_INVALID_ARG;
    int changes = 0;
    slim_status st =
        run(s, &changes, "UPDATE routes SET status = ?2 WHERE id = ?1", "tt", id, status);
    return st == SLIM_OK && changes == 0 ? SLIM_E_NOT_FOUND : st;
}

slim_status slim_store_route_delete(slim_store *s, const char *id) {
    if (s == NULL || id == NULL)
        return SLIM_E_INVALID_ARG;
    int changes = 0;
    slim_status st = run(s, &changes, "DELETE FROM routes WHERE id = ?1", "t", id);
    return st == SLIM_OK && changes == 0 ? SLIM_E_NOT_FOUND : st;
}

void slim_store_route_free(slim_store_route *r) {
    if (r == NULL)
        return;
    slim_free(r->id);
    slim_free(r->node_id);
    slim_store_name_cleanup(&r->name);
    slim_free(r->dest_node_id);
    slim_free(r->connection_id);
    slim_free(r->config_data);
    slim_free(r->status);
    memset(r, 0, sizeof *r);
}

void slim_store_route_list_free(slim_store_route *v, size_t n) {
    for (size_t i = 0; v != NULL && i < n; i++)
        slim_store_route_free(&v[i]);
    slim_free(v);
}

/* ---- reported subscriptions ---- */

#define REPORT_INSERT                                                                              \
    "INSERT OR IGNORE INTO reports (node_id, c0, c1, c2, name_id) VALUES (?1, ?2, ?3, ?4, ?5)"

/* Duplicates in names[] count once. */
slim_status slim_store_report_replace(slim_store *s, const char *node_id,
                                      const slim_store_name *names, size_t n) {
    if (s == NULL || node_id == NULL || (n > 0 && names == NULL))
        return SLIM_E_INVALID_ARG;
    for (size_t i = 0; i < n; i++)
        if (!name_ok(&names[i]))
            return SLIM_E_INVALID_ARG;
    bool outer;
    slim_status st = op_begin(s, &outer);
    if (st != SLIM_OK)
        return st;
    st = run(s, NULL, "DELETE FROM reports WHERE node_id = ?1", "t", node_id);
    for (size_t i = 0; i < n && st == SLIM_OK; i++)
        st = run(s, NULL, REPORT_INSERT, "tn", node_id, &names[i]);
    return op_end(s, outer, st);
}

slim_status slim_store_report_add(slim_store *s, const char *node_id, const slim_store_name *name,
                                  bool *added) {
    if (s == NULL || node_id == NULL || !name_ok(name))
        return SLIM_E_INVALID_ARG;
    int changes = 0;
    slim_status st = run(s, &changes, REPORT_INSERT, "tn", node_id, name);
    if (st == SLIM_OK && added != NULL)
        *added = changes > 0;
    return st;
}

slim_status slim_store_report_delete(slim_store *s, const char *node_id,
                                     const slim_store_name *name) {
    if (s == NULL || node_id == NULL || !name_ok(name))
        return SLIM_E_INVALID_ARG;
    int changes = 0;
    slim_status st = run(s, &changes,
                         "DELETE FROM reports WHERE node_id = ?1 AND c0 = ?2 AND c1 = ?3"
                         " AND c2 = ?4 AND name_id IS ?5",
                         "tn", node_id, name);
    return st == SLIM_OK && changes == 0 ? SLIM_E_NOT_FOUND : st;
}

static slim_status report_row(slim_store *s, sqlite3_stmt *q, void *item) {
    (void)s;
    slim_store_report *r = item;
    slim_status st = SLIM_OK;
    col_str(q, 0, &r->node_id, &st);
    col_name(q, 1, &r->name, &st);
    return st;
}

static void report_clean(void *item) {
    slim_store_report *r = item;
    slim_free(r->node_id);
    slim_store_name_cleanup(&r->name);
}

#define REPORT_SELECT "SELECT node_id, c0, c1, c2, name_id FROM reports"
#define REPORT_ORDER  " ORDER BY node_id, c0, c1, c2, name_id"

slim_status slim_store_report_list(slim_store *s, const char *node_id, slim_store_report **out,
                                   size_t *n) {
    if (s == NULL || out == NULL || n == NULL)
        return SLIM_E_INVALID_ARG;
    sqlite3_stmt *q = NULL;
    void *v = NULL;
    slim_status st =
        node_id != NULL
            ? query(s, &q, REPORT_SELECT " WHERE node_id = ?1" REPORT_ORDER, "t", node_id)
            : query(s, &q, REPORT_SELECT REPORT_ORDER, "");
    if (st == SLIM_OK &&
        (st = collect(s, q, sizeof(slim_store_report), report_row, report_clean, &v, n)) == SLIM_OK)
        *out = v;
    return st;
}

void slim_store_report_list_free(slim_store_report *v, size_t n) {
    for (size_t i = 0; v != NULL && i < n; i++)
        report_clean(&v[i]);
    slim_free(v);
}

/* ---- channels and participants ---- */

static slim_status string_row(slim_store *s, sqlite3_stmt *q, void *item) {
    (void)s;
    slim_status st = SLIM_OK;
    col_str(q, 0, item, &st);
    return st;
}

static void string_clean(void *item) {
    slim_free(*(char **)item);
}

static slim_status channel_row(slim_store *s, sqlite3_stmt *q, void *item) {
    slim_store_channel *c = item;
    slim_status st = SLIM_OK;
    col_str(q, 0, &c->id, &st);
    col_str(q, 1, &c->node_id, &st);
    sqlite3_stmt *m = NULL;
    void *v = NULL;
    if (st == SLIM_OK &&
        (st = query(s, &m,
                    "SELECT moderator FROM channel_moderators WHERE channel_id = ?1 ORDER BY ord",
                    "t", c->id)) == SLIM_OK &&
        (st = collect(s, m, sizeof(char *), string_row, string_clean, &v, &c->n_moderators)) ==
            SLIM_OK)
        c->moderators = v;
    return st;
}

static void channel_clean(void *item) {
    slim_store_channel_free(item);
}

slim_status slim_store_channel_add(slim_store *s, const slim_store_channel *c) {
    if (s == NULL || c == NULL || c->id == NULL || (c->n_moderators > 0 && c->moderators == NULL))
        return SLIM_E_INVALID_ARG;
    for (size_t i = 0; i < c->n_moderators; i++)
        if (c->moderators[i] == NULL)
            return SLIM_E_INVALID_ARG;
    bool outer;
    slim_status st = op_begin(s, &outer);
    if (st != SLIM_OK)
        return st;
    st =
        run(s, NULL, "INSERT INTO channels (id, node_id) VALUES (?1, ?2)", "tt", c->id, c->node_id);
    for (size_t i = 0; i < c->n_moderators && st == SLIM_OK; i++)
        st = run(s, NULL,
                 "INSERT INTO channel_moderators (channel_id, ord, moderator) VALUES (?1, ?2, ?3)",
                 "tit", c->id, (int64_t)i, c->moderators[i]);
    return op_end(s, outer, st);
}

slim_status slim_store_channel_get(slim_store *s, const char *id, slim_store_channel *out) {
    if (s == NULL || id == NULL || out == NULL)
        return SLIM_E_INVALID_ARG;
    sqlite3_stmt *q = NULL;
    slim_store_channel c;
    memset(&c, 0, sizeof c);
    slim_status st = query(s, &q, "SELECT id, node_id FROM channels WHERE id = ?1", "t", id);
    if (st == SLIM_OK && (st = one(s, q, channel_row, channel_clean, &c)) == SLIM_OK)
        *out = c;
    return st;
}

slim_status slim_store_channel_list(slim_store *s, slim_store_channel **out, size_t *n) {
    if (s == NULL || out == NULL || n == NULL)
        return SLIM_E_INVALID_ARG;
    sqlite3_stmt *q = NULL;
    void *v = NULL;
    slim_status st = query(s, &q, "SELECT id, node_id FROM channels ORDER BY id", "");
    if (st == SLIM_OK && (st = collect(s, q, sizeof(slim_store_channel), channel_row, channel_clean,
                                       &v, n)) == SLIM_OK)
        *out = v;
    return st;
}

slim_status slim_store_channel_delete(slim_store *s, const char *id) {
    if (s == NULL || id == NULL)
        return SLIM_E_INVALID_ARG;
    int changes = 0; /* moderators and participants cascade */
    slim_status st = run(s, &changes, "DELETE FROM channels WHERE id = ?1", "t", id);
    return st == SLIM_OK && changes == 0 ? SLIM_E_NOT_FOUND : st;
}

void slim_store_channel_free(slim_store_channel *c) {
    if (c == NULL)
        return;
    slim_free(c->id);
    slim_store_strings_free(c->moderators, c->n_moderators);
    slim_free(c->node_id);
    memset(c, 0, sizeof *c);
}

void slim_store_channel_list_free(slim_store_channel *v, size_t n) {
    for (size_t i = 0; v != NULL && i < n; i++)
        slim_store_channel_free(&v[i]);
    slim_free(v);
}

/* A missing channel fails the foreign key: E_NOT_FOUND (see step). */
slim_status slim_store_participant_add(slim_store *s, const char *channel_id,
                                       const char *participant) {
    if (s == NULL || channel_id == NULL || participant == NULL)
        return SLIM_E_INVALID_ARG;
    return run(s, NULL,
               "INSERT INTO participants (channel_id, ord, participant)"
               " SELECT ?1, ifnull(max(ord), 0) + 1, ?2 FROM participants WHERE channel_id = ?1",
               "tt", channel_id, participant);
}

slim_status slim_store_participant_delete(slim_store *s, const char *channel_id,
                                          const char *participant) {
    if (s == NULL || channel_id == NULL || participant == NULL)
        return SLIM_E_INVALID_ARG;
    int changes = 0;
    slim_status st =
        run(s, &changes, "DELETE FROM participants WHERE channel_id = ?1 AND participant = ?2",
            "tt", channel_id, participant);
    return st == SLIM_OK && changes == 0 ? SLIM_E_NOT_FOUND : st;
}

slim_status slim_store_participant_list(slim_store *s, const char *channel_id, char ***out,
                                        size_t *n) {
    if (s == NULL || channel_id == NULL || out == NULL || n == NULL)
        return SLIM_E_INVALID_ARG;
    sqlite3_stmt *q = NULL;
    bool found = false;
    slim_status st = query(s, &q, "SELECT 1 FROM channels WHERE id = ?1", "t", channel_id);
    if (st == SLIM_OK && (st = exists(s, q, &found)) == SLIM_OK && !found)
        st = SLIM_E_NOT_FOUND;
    void *v = NULL;
    if (st == SLIM_OK &&
        (st =
             query(s, &q, "SELECT participant FROM participants WHERE channel_id = ?1 ORDER BY ord",
                   "t", channel_id)) == SLIM_OK &&
        (st = collect(s, q, sizeof(char *), string_row, string_clean, &v, n)) == SLIM_OK)
        *out = v;
    return st;
}

void slim_store_strings_free(char **v, size_t n) {
    for (size_t i = 0; v != NULL && i < n; i++)
        slim_free(v[i]);
    slim_free(v);
}
