/* Unit tests for src/control/store.c: every entity round-trips (NULL fields
 * included), lists come in the documented order, deletes cascade,
 * transactions roll back, and the file survives a reopen, refuses a newer
 * schema and migrates an empty one. */
#include "test.h"
#include "control/store.h"
#include "core/alloc.h"
#include "slim/log.h"

#include <dirent.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers ---- */

static slim_store *open_mem(void) {
    slim_store *s = NULL;
    char err[256];
    CHECK_OK(slim_store_open(":memory:", &s, err, sizeof err));
    return s;
}

static slim_store_name nm(const char *a, const char *b, const char *c, const char *id) {
    slim_store_name n = {{(char *)a, (char *)b, (char *)c}, (char *)id};
    return n;
}

#define CHECK_NULL(p)                                                                              \
    do {                                                                                           \
        const void *p_ = (p);                                                                      \
        if (p_ != NULL)                                                                            \
            TEST_FAIL_AT("%s is not NULL", #p);                                                    \
    } while (0)

#define CHECK_NAME(n, w0, w1, w2, wid)                                                             \
    do {                                                                                           \
        slim_store_name want_ = nm(w0, w1, w2, wid);                                               \
        if (!slim_store_name_equal(&(n), &want_))                                                  \
            TEST_FAIL_AT("%s is %s/%s/%s/%s, want %s/%s/%s/%s", #n, (n).c[0], (n).c[1], (n).c[2],  \
                         (n).id ? (n).id : "(null)", w0, w1, w2, want_.id ? want_.id : "(null)");  \
    } while (0)

static char tmpdir[64];

static void tmp_make(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/slim-store-XXXXXX");
    CHECK(mkdtemp(tmpdir) != NULL);
}

static void tmp_path(char *out, size_t cap, const char *file) {
    snprintf(out, cap, "%s/%s", tmpdir, file);
}

static void tmp_remove(void) {
    DIR *d = opendir(tmpdir);
    CHECK(d != NULL);
    if (d == NULL)
        return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        tmp_path(p, sizeof p, e->d_name);
        CHECK_EQ(unlink(p), 0);
    }
    closedir(d);
    CHECK_EQ(rmdir(tmpdir), 0);
}

/* Straight SQLite on a file, to craft files and look at them. */
static void raw_exec(const char *path, const char *sql) {
    sqlite3 *db = NULL;
    CHECK_EQ(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        TEST_FAIL_AT("%s: %s", sql, msg ? msg : "?");
    sqlite3_free(msg);
    sqlite3_close(db);
}

/* The first column of the first row of sql, as text in out ("" when none). */
static void raw_text(const char *path, const char *sql, char *out, size_t cap) {
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    out[0] = '\0';
    CHECK_EQ(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    if (q != NULL && sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0) != NULL)
        snprintf(out, cap, "%s", (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    sqlite3_close(db);
}

static char logged[8][512];
static int nlogged;

static void on_log(slim_log_level level, const char *line, void *ud) {
    (void)level;
    (void)ud;
    if (nlogged < 8)
        snprintf(logged[nlogged], sizeof logged[0], "%s", line);
    nlogged++;
}

static bool was_logged(const char *text) {
    for (int i = 0; i < nlogged && i < 8; i++)
        if (strstr(logged[i], text) != NULL)
            return true;
    return false;
}

/* ---- open and names ---- */

TEST(open_memory) {
    slim_store *s = open_mem();
    CHECK_EQ(slim_store_schema_version(s), SLIM_STORE_SCHEMA_VERSION);
    CHECK_EQ(SLIM_STORE_SCHEMA_VERSION, 1);
    slim_store_close(s);
    slim_store_close(NULL);
    char err[64];
    CHECK_STATUS(slim_store_open(NULL, &s, err, sizeof err), SLIM_E_INVALID_ARG);
    CHECK(err[0] != '\0');
}

TEST(names) {
    slim_store_name a = nm("org", "ns", "app", NULL), b = nm("org", "ns", "app", "u1");
    CHECK(slim_store_name_equal(&a, &a));
    CHECK(!slim_store_name_equal(&a, &b));
    CHECK(!slim_store_name_equal(&b, &a));
    slim_store_name c;
    CHECK_OK(slim_store_name_copy(&b, &c));
    CHECK(c.c[0] != b.c[0]);
    CHECK(slim_store_name_equal(&b, &c));
    slim_store_name_cleanup(&c);
    CHECK_NULL(c.c[0]);
    CHECK_OK(slim_store_name_copy(&a, &c));
    CHECK_NULL(c.id);
    CHECK(slim_store_name_equal(&a, &c));
    slim_store_name_cleanup(&c);
    slim_store_name bad = nm("org", NULL, "app", NULL);
    CHECK_STATUS(slim_store_name_copy(&bad, &c), SLIM_E_INVALID_ARG);
}

/* ---- nodes ---- */

TEST(node_round_trip) {
    slim_store *s = open_mem();
    slim_store_details d[2] = {
        {"0.0.0.0:46357", true, "10.0.0.5", "edge.example.com:46357", "cluster-a"},
        {"127.0.0.1:46400", false, NULL, NULL, NULL},
    };
    slim_store_node n = {"slim/1", "cluster-a", "127.0.0.1", d, 2, 1000, 2000};
    CHECK_OK(slim_store_node_put(s, &n));

    slim_store_node g;
    CHECK_OK(slim_store_node_get(s, "slim/1", &g));
    CHECK_STR(g.id, "slim/1");
    CHECK_STR(g.group_name, "cluster-a");
    CHECK_STR(g.peer_host, "127.0.0.1");
    CHECK_EQ(g.registered_ms, 1000);
    CHECK_EQ(g.last_seen_ms, 2000);
    CHECK_EQ(g.n_details, 2);
    if (g.n_details == 2) {
        CHECK_STR(g.details[0].endpoint, "0.0.0.0:46357");
        CHECK(g.details[0].mtls_required);
        CHECK_STR(g.details[0].local_endpoint, "10.0.0.5");
        CHECK_STR(g.details[0].external_endpoint, "edge.example.com:46357");
        CHECK_STR(g.details[0].group_name, "cluster-a");
        CHECK_STR(g.details[1].endpoint, "127.0.0.1:46400");
        CHECK(!g.details[1].mtls_required);
        CHECK_NULL(g.details[1].local_endpoint);
        CHECK_NULL(g.details[1].external_endpoint);
        CHECK_NULL(g.details[1].group_name);
    }
    slim_store_node_free(&g);
    slim_store_node_free(NULL);

    /* put again: fields and details replaced as a whole */
    slim_store_details d2 = {"0.0.0.0:5000", false, NULL, NULL, NULL};
    slim_store_node n2 = {"slim/1", NULL, NULL, &d2, 1, 3000, 3000};
    CHECK_OK(slim_store_node_put(s, &n2));
    CHECK_OK(slim_store_node_get(s, "slim/1", &g));
    CHECK_NULL(g.group_name);
    CHECK_NULL(g.peer_host);
    CHECK_EQ(g.registered_ms, 3000);
    CHECK_EQ(g.n_details, 1);
    if (g.n_details == 1)
        CHECK_STR(g.details[0].endpoint, "0.0.0.0:5000");
    slim_store_node_free(&g);

    /* no details at all */
    slim_store_node n3 = {"slim/2", NULL, NULL, NULL, 0, 1, 1};
    CHECK_OK(slim_store_node_put(s, &n3));
    CHECK_OK(slim_store_node_get(s, "slim/2", &g));
    CHECK_EQ(g.n_details, 0);
    slim_store_node_free(&g);

    CHECK_OK(slim_store_node_touch(s, "slim/1", 9999));
    CHECK_OK(slim_store_node_get(s, "slim/1", &g));
    CHECK_EQ(g.last_seen_ms, 9999);
    CHECK_EQ(g.registered_ms, 3000);
    slim_store_node_free(&g);

    CHECK_STATUS(slim_store_node_touch(s, "nope", 1), SLIM_E_NOT_FOUND);
    g.id = (char *)"untouched";
    CHECK_STATUS(slim_store_node_get(s, "nope", &g), SLIM_E_NOT_FOUND);
    CHECK_STR(g.id, "untouched");
    CHECK_STATUS(slim_store_node_delete(s, "nope"), SLIM_E_NOT_FOUND);

    slim_store_node bad = {NULL, NULL, NULL, NULL, 0, 0, 0};
    CHECK_STATUS(slim_store_node_put(s, &bad), SLIM_E_INVALID_ARG);
    slim_store_details bd = {NULL, false, NULL, NULL, NULL};
    slim_store_node bad2 = {"slim/3", NULL, NULL, &bd, 1, 0, 0};
    CHECK_STATUS(slim_store_node_put(s, &bad2), SLIM_E_INVALID_ARG);
    CHECK_STATUS(slim_store_node_get(s, "slim/3", &g), SLIM_E_NOT_FOUND);
    slim_store_close(s);
}

TEST(node_list_order) {
    slim_store *s = open_mem();
    slim_store_node *v = (slim_store_node *)1;
    size_t n = 99;
    CHECK_OK(slim_store_node_list(s, &v, &n));
    CHECK_EQ(n, 0);
    slim_store_node_list_free(v, n);

    const char *ids[] = {"b", "c", "a"};
    for (int i = 0; i < 3; i++) {
        slim_store_details d = {"0.0.0.0:1", false, NULL, NULL, (char *)ids[i]};
        slim_store_node x = {(char *)ids[i], NULL, NULL, &d, 1, i, i};
        CHECK_OK(slim_store_node_put(s, &x));
    }
    CHECK_OK(slim_store_node_list(s, &v, &n));
    CHECK_EQ(n, 3);
    if (n == 3) {
        CHECK_STR(v[0].id, "a");
        CHECK_STR(v[1].id, "b");
        CHECK_STR(v[2].id, "c");
        CHECK_EQ(v[1].n_details, 1);
        if (v[1].n_details == 1)
            CHECK_STR(v[1].details[0].group_name, "b");
        CHECK_EQ(v[0].registered_ms, 2);
    }
    slim_store_node_list_free(v, n);
    slim_store_close(s);
}

/* ---- connections ---- */

TEST(conns) {
    slim_store *s = open_mem();
    slim_store_conn c1 = {"n1", "http://b:46357", "{\"endpoint\":\"http://b:46357\"}"};
    slim_store_conn c2 = {"n1", "http://a:46357", "{}"};
    slim_store_conn c3 = {"n2", "http://a:46357", "{\"other\":1}"};
    CHECK_OK(slim_store_conn_put(s, &c1));
    CHECK_OK(slim_store_conn_put(s, &c2));
    CHECK_OK(slim_store_conn_put(s, &c3));

    slim_store_conn g;
    CHECK_OK(slim_store_conn_get(s, "n1", "http://b:46357", &g));
    CHECK_STR(g.node_id, "n1");
    CHECK_STR(g.connection_id, "http://b:46357");
    CHECK_STR(g.config_data, "{\"endpoint\":\"http://b:46357\"}");
    slim_store_conn_free(&g);

    /* replace */
    slim_store_conn c1b = {"n1", "http://b:46357", "{\"new\":true}"};
    CHECK_OK(slim_store_conn_put(s, &c1b));
    CHECK_OK(slim_store_conn_get(s, "n1", "http://b:46357", &g));
    CHECK_STR(g.config_data, "{\"new\":true}");
    slim_store_conn_free(&g);

    slim_store_conn *v = NULL;
    size_t n = 0;
    CHECK_OK(slim_store_conn_list(s, "n1", &v, &n));
    CHECK_EQ(n, 2);
    if (n == 2) {
        CHECK_STR(v[0].connection_id, "http://a:46357");
        CHECK_STR(v[0].config_data, "{}");
        CHECK_STR(v[1].connection_id, "http://b:46357");
    }
    slim_store_conn_list_free(v, n);

    CHECK_STATUS(slim_store_conn_get(s, "n2", "http://b:46357", &g), SLIM_E_NOT_FOUND);
    CHECK_OK(slim_store_conn_delete(s, "n1", "http://a:46357"));
    CHECK_STATUS(slim_store_conn_delete(s, "n1", "http://a:46357"), SLIM_E_NOT_FOUND);
    CHECK_STATUS(slim_store_conn_get(s, "n1", "http://a:46357", &g), SLIM_E_NOT_FOUND);
    CHECK_OK(slim_store_conn_get(s, "n2", "http://a:46357", &g));
    slim_store_conn_free(&g);

    slim_store_conn bad = {"n1", NULL, "{}"};
    CHECK_STATUS(slim_store_conn_put(s, &bad), SLIM_E_INVALID_ARG);
    slim_store_close(s);
}

/* ---- subscriptions ---- */

TEST(subs) {
    slim_store *s = open_mem();
    slim_store_sub a = {"id-z", "n1", nm("org", "ns", "app", NULL), "http://a"};
    slim_store_sub b = {"id-a", "n1",
                        nm("org", "ns", "app", "5f1e7a2c-0000-4000-8000-000000000001"), "http://b"};
    slim_store_sub c = {"id-m", "n1", nm("agntcy", "x", "y", NULL), "http://a"};
    slim_store_sub other = {"id-o", "n2", nm("o", "n", "s", NULL), "http://a"};
    CHECK_OK(slim_store_sub_add(s, &a));
    CHECK_OK(slim_store_sub_add(s, &other));
    CHECK_OK(slim_store_sub_add(s, &b));
    CHECK_OK(slim_store_sub_add(s, &c));
    slim_store_sub dupe = {"id-a", "n9", nm("q", "q", "q", NULL), "http://q"};
    CHECK_STATUS(slim_store_sub_add(s, &dupe), SLIM_E_EXISTS);

    slim_store_sub g;
    CHECK_OK(slim_store_sub_get(s, "id-a", &g));
    CHECK_STR(g.id, "id-a");
    CHECK_STR(g.node_id, "n1");
    CHECK_NAME(g.name, "org", "ns", "app", "5f1e7a2c-0000-4000-8000-000000000001");
    CHECK_STR(g.connection_id, "http://b");
    slim_store_sub_free(&g);
    CHECK_OK(slim_store_sub_get(s, "id-z", &g));
    CHECK_NAME(g.name, "org", "ns", "app", NULL);
    CHECK_NULL(g.name.id);
    slim_store_sub_free(&g);

    /* in the order they were added, not by id */
    slim_store_sub *v = NULL;
    size_t n = 0;
    CHECK_OK(slim_store_sub_list(s, "n1", &v, &n));
    CHECK_EQ(n, 3);
    if (n == 3) {
        CHECK_STR(v[0].id, "id-z");
        CHECK_STR(v[1].id, "id-a");
        CHECK_STR(v[2].id, "id-m");
    }
    slim_store_sub_list_free(v, n);

    /* deleting the newest and adding again keeps the order */
    CHECK_OK(slim_store_sub_delete(s, "id-m"));
    CHECK_STATUS(slim_store_sub_delete(s, "id-m"), SLIM_E_NOT_FOUND);
    CHECK_STATUS(slim_store_sub_get(s, "id-m", &g), SLIM_E_NOT_FOUND);
    slim_store_sub d = {"id-0", "n1", nm("a", "b", "c", NULL), "http://a"};
    CHECK_OK(slim_store_sub_add(s, &d));
    CHECK_OK(slim_store_sub_list(s, "n1", &v, &n));
    CHECK_EQ(n, 3);
    if (n == 3) {
        CHECK_STR(v[0].id, "id-z");
        CHECK_STR(v[1].id, "id-a");
        CHECK_STR(v[2].id, "id-0");
    }
    slim_store_sub_list_free(v, n);

    slim_store_sub bad = {"id-x", "n1", nm("org", "ns", NULL, NULL), "http://a"};
    CHECK_STATUS(slim_store_sub_add(s, &bad), SLIM_E_INVALID_ARG);
    slim_store_close(s);
}

/* ---- routes ---- */

static slim_store_route node_route(const char *id, const char *node, slim_store_name name,
                                   const char *dest) {
    slim_store_route r = {(char *)id, (char *)node, name, (char *)dest, NULL, NULL, true, NULL};
    return r;
}

static slim_store_route ep_route(const char *id, const char *node, slim_store_name name,
                                 const char *conn) {
    slim_store_route r = {(char *)id,   (char *)node, name,  NULL,
                          (char *)conn, (char *)"{}", false, (char *)"applied"};
    return r;
}

TEST(routes) {
    slim_store *s = open_mem();
    slim_store_name app = nm("org", "ns", "app", NULL);
    slim_store_name app1 = nm("org", "ns", "app", "u1");

    slim_store_route r1 = node_route("r1", "A", app, "B");
    char *existing = (char *)"garbage";
    CHECK_OK(slim_store_route_add(s, &r1, &existing));
    CHECK_NULL(existing);

    slim_store_route g;
    CHECK_OK(slim_store_route_get(s, "r1", &g));
    CHECK_STR(g.id, "r1");
    CHECK_STR(g.node_id, "A");
    CHECK_NAME(g.name, "org", "ns", "app", NULL);
    CHECK_STR(g.dest_node_id, "B");
    CHECK_NULL(g.connection_id);
    CHECK_NULL(g.config_data);
    CHECK(g.automatic);
    CHECK_STR(g.status, "pending"); /* NULL status reads as pending */
    slim_store_route_free(&g);

    slim_store_route r2 = ep_route("r2", "A", app, "http://x:1");
    CHECK_OK(slim_store_route_add(s, &r2, NULL));
    CHECK_OK(slim_store_route_get(s, "r2", &g));
    CHECK_NULL(g.dest_node_id);
    CHECK_STR(g.connection_id, "http://x:1");
    CHECK_STR(g.config_data, "{}");
    CHECK(!g.automatic);
    CHECK_STR(g.status, "applied");
    slim_store_route_free(&g);

    /* the same key (NULL fields included) is refused, with the existing id */
    slim_store_route dup1 = node_route("r9", "A", app, "B");
    CHECK_STATUS(slim_store_route_add(s, &dup1, &existing), SLIM_E_EXISTS);
    CHECK_STR(existing, "r1");
    slim_free(existing);
    slim_store_route dup2 = ep_route("r9", "A", app, "http://x:1");
    CHECK_STATUS(slim_store_route_add(s, &dup2, &existing), SLIM_E_EXISTS);
    CHECK_STR(existing, "r2");
    slim_free(existing);
    CHECK_STATUS(slim_store_route_add(s, &dup2, NULL), SLIM_E_EXISTS);
    /* a taken id with another key: E_EXISTS, no existing id */
    slim_store_route taken = node_route("r1", "A", app, "C");
    existing = (char *)"garbage";
    CHECK_STATUS(slim_store_route_add(s, &taken, &existing), SLIM_E_EXISTS);
    CHECK_NULL(existing);

    /* keys that differ only in a NULL are different routes */
    slim_store_route r3 = node_route("r3", "A", app1, "B");
    CHECK_OK(slim_store_route_add(s, &r3, NULL));
    slim_store_route r4 = {"r4", "A", app, "B", "http://b", NULL, false, NULL};
    CHECK_OK(slim_store_route_add(s, &r4, NULL));
    slim_store_route r5 = node_route("r5", "B", app, "A");
    CHECK_OK(slim_store_route_add(s, &r5, NULL));
    slim_store_route r6 = node_route("r6", "C", nm("aaa", "ns", "app", NULL), "A");
    CHECK_OK(slim_store_route_add(s, &r6, NULL));
    slim_store_route r7 = node_route("r7", "A", nm("aaa", "z", "z", NULL), "Z");
    CHECK_OK(slim_store_route_add(s, &r7, NULL));

    /* find matches NULL to NULL only */
    CHECK_OK(slim_store_route_find(s, "A", &app, "B", NULL, &g));
    CHECK_STR(g.id, "r1");
    slim_store_route_free(&g);
    CHECK_OK(slim_store_route_find(s, "A", &app, "B", "http://b", &g));
    CHECK_STR(g.id, "r4");
    slim_store_route_free(&g);
    CHECK_OK(slim_store_route_find(s, "A", &app1, "B", NULL, &g));
    CHECK_STR(g.id, "r3");
    slim_store_route_free(&g);
    CHECK_OK(slim_store_route_find(s, "A", &app, NULL, "http://x:1", &g));
    CHECK_STR(g.id, "r2");
    slim_store_route_free(&g);
    CHECK_STATUS(slim_store_route_find(s, "A", &app, NULL, NULL, &g), SLIM_E_NOT_FOUND);
    CHECK_STATUS(slim_store_route_find(s, "B", &app1, "A", NULL, &g), SLIM_E_NOT_FOUND);

    /* A's routes by name then destination */
    slim_store_route *v = NULL;
    size_t n = 0;
    CHECK_OK(slim_store_route_list(s, "A", &v, &n));
    const char *want_a[] = {"r7", "r2", "r1", "r4", "r3"};
    CHECK_EQ(n, 5);
    for (size_t i = 0; i < n && i < 5; i++)
        CHECK_STR(v[i].id, want_a[i]);
    slim_store_route_list_free(v, n);

    /* every route by node first */
    CHECK_OK(slim_store_route_list(s, NULL, &v, &n));
    const char *want_all[] = {"r7", "r2", "r1", "r4", "r3", "r5", "r6"};
    CHECK_EQ(n, 7);
    for (size_t i = 0; i < n && i < 7; i++)
        CHECK_STR(v[i].id, want_all[i]);
    slim_store_route_list_free(v, n);

    /* through A */
    CHECK_OK(slim_store_route_list_to(s, "A", &v, &n));
    CHECK_EQ(n, 2);
    if (n == 2) {
        CHECK_STR(v[0].id, "r5");
        CHECK_STR(v[1].id, "r6");
    }
    slim_store_route_list_free(v, n);
    CHECK_OK(slim_store_route_list_to(s, "nobody", &v, &n));
    CHECK_EQ(n, 0);
    slim_store_route_list_free(v, n);

    CHECK_OK(slim_store_route_set_status(s, "r1", "connection refused"));
    CHECK_OK(slim_store_route_get(s, "r1", &g));
    CHECK_STR(g.status, "connection refused");
    slim_store_route_free(&g);
    CHECK_STATUS(slim_store_route_set_status(s, "nope", "applied"), SLIM_E_NOT_FOUND);
    CHECK_STATUS(slim_store_route_set_status(s, "r1", NULL), SLIM_E_INVALID_ARG);

    CHECK_OK(slim_store_route_delete(s, "r1"));
    CHECK_STATUS(slim_store_route_delete(s, "r1"), SLIM_E_NOT_FOUND);
    CHECK_STATUS(slim_store_route_get(s, "r1", &g), SLIM_E_NOT_FOUND);
    /* its key is free again */
    CHECK_OK(slim_store_route_add(s, &dup1, NULL));

    slim_store_route bad = node_route(NULL, "A", app, "B");
    CHECK_STATUS(slim_store_route_add(s, &bad, NULL), SLIM_E_INVALID_ARG);
    slim_store_close(s);
}

/* ---- reports ---- */

TEST(reports) {
    slim_store *s = open_mem();
    slim_store_name x = nm("org", "ns", "x", NULL), x1 = nm("org", "ns", "x", "id1");
    slim_store_name y = nm("org", "ns", "y", NULL), a = nm("abc", "ns", "a", NULL);
    bool added = false;
    CHECK_OK(slim_store_report_add(s, "n2", &y, &added));
    CHECK(added);
    CHECK_OK(slim_store_report_add(s, "n2", &y, &added));
    CHECK(!added);
    CHECK_OK(slim_store_report_add(s, "n1", &x, &added));
    CHECK(added);
    CHECK_OK(slim_store_report_add(s, "n1", &x1, &added));
    CHECK(added); /* another id is another name */
    CHECK_OK(slim_store_report_add(s, "n1", &x1, NULL));
    CHECK_OK(slim_store_report_add(s, "n1", &a, NULL));

    slim_store_report *v = NULL;
    size_t n = 0;
    CHECK_OK(slim_store_report_list(s, "n1", &v, &n));
    CHECK_EQ(n, 3);
    if (n == 3) {
        CHECK_STR(v[0].node_id, "n1");
        CHECK_NAME(v[0].name, "abc", "ns", "a", NULL);
        CHECK_NAME(v[1].name, "org", "ns", "x", NULL);
        CHECK_NAME(v[2].name, "org", "ns", "x", "id1");
    }
    slim_store_report_list_free(v, n);

    CHECK_OK(slim_store_report_list(s, NULL, &v, &n));
    CHECK_EQ(n, 4);
    if (n == 4) {
        CHECK_STR(v[0].node_id, "n1");
        CHECK_STR(v[3].node_id, "n2");
        CHECK_NAME(v[3].name, "org", "ns", "y", NULL);
    }
    slim_store_report_list_free(v, n);

    CHECK_OK(slim_store_report_delete(s, "n1", &x));
    CHECK_STATUS(slim_store_report_delete(s, "n1", &x), SLIM_E_NOT_FOUND);
    CHECK_STATUS(slim_store_report_delete(s, "n2", &x1), SLIM_E_NOT_FOUND);
    CHECK_OK(slim_store_report_list(s, "n1", &v, &n));
    CHECK_EQ(n, 2);
    if (n == 2)
        CHECK_NAME(v[1].name, "org", "ns", "x", "id1"); /* the NULL one went, not this */
    slim_store_report_list_free(v, n);

    /* replace: the old set goes, the new one (duplicates once) comes */
    slim_store_name repl[3] = {y, nm("org", "ns", "z", "id9"), y};
    CHECK_OK(slim_store_report_replace(s, "n1", repl, 3));
    CHECK_OK(slim_store_report_list(s, "n1", &v, &n));
    CHECK_EQ(n, 2);
    if (n == 2) {
        CHECK_NAME(v[0].name, "org", "ns", "y", NULL);
        CHECK_NAME(v[1].name, "org", "ns", "z", "id9");
    }
    slim_store_report_list_free(v, n);
    /* n2's reports untouched */
    CHECK_OK(slim_store_report_list(s, "n2", &v, &n));
    CHECK_EQ(n, 1);
    slim_store_report_list_free(v, n);

    /* a bad name refuses the whole replacement */
    slim_store_name badrepl[2] = {x, nm(NULL, "a", "b", NULL)};
    CHECK_STATUS(slim_store_report_replace(s, "n1", badrepl, 2), SLIM_E_INVALID_ARG);
    CHECK_OK(slim_store_report_list(s, "n1", &v, &n));
    CHECK_EQ(n, 2);
    slim_store_report_list_free(v, n);

    CHECK_OK(slim_store_report_replace(s, "n1", NULL, 0));
    CHECK_OK(slim_store_report_list(s, "n1", &v, &n));
    CHECK_EQ(n, 0);
    CHECK_NULL(v);
    slim_store_report_list_free(v, n);
    slim_store_close(s);
}

/* ---- node delete ---- */

static size_t count_routes(slim_store *s, const char *node) {
    slim_store_route *v = NULL;
    size_t n = 0;
    CHECK_OK(slim_store_route_list(s, node, &v, &n));
    slim_store_route_list_free(v, n);
    return n;
}

TEST(node_delete_cascades) {
    slim_store *s = open_mem();
    const char *ids[] = {"A", "B", "C"};
    for (int i = 0; i < 3; i++) {
        slim_store_details d = {"0.0.0.0:1", false, NULL, NULL, NULL};
        slim_store_node x = {(char *)ids[i], NULL, NULL, &d, 1, 1, 1};
        CHECK_OK(slim_store_node_put(s, &x));
    }
    slim_store_name app = nm("org", "ns", "app", NULL);
    slim_store_conn ca = {"A", "http://a", "{}"}, cb = {"B", "http://a", "{}"};
    CHECK_OK(slim_store_conn_put(s, &ca));
    CHECK_OK(slim_store_conn_put(s, &cb));
    slim_store_sub sa = {"sa", "A", app, "http://a"}, sb = {"sb", "B", app, "http://a"};
    CHECK_OK(slim_store_sub_add(s, &sa));
    CHECK_OK(slim_store_sub_add(s, &sb));
    CHECK_OK(slim_store_report_add(s, "A", &app, NULL));
    CHECK_OK(slim_store_report_add(s, "B", &app, NULL));
    slim_store_route ab = node_route("ab", "A", app, "B");
    slim_store_route ba = node_route("ba", "B", app, "A");
    slim_store_route ae = ep_route("ae", "A", app, "http://e");
    slim_store_route cb_r = node_route("cb", "C", app, "B");
    slim_store_route ca_r = node_route("ca", "C", app, "A");
    CHECK_OK(slim_store_route_add(s, &ab, NULL));
    CHECK_OK(slim_store_route_add(s, &ba, NULL));
    CHECK_OK(slim_store_route_add(s, &ae, NULL));
    CHECK_OK(slim_store_route_add(s, &cb_r, NULL));
    CHECK_OK(slim_store_route_add(s, &ca_r, NULL));
    char *mods[] = {"org/ns/mod"};
    slim_store_channel ch = {"org/ns/ch", mods, 1, "A"};
    CHECK_OK(slim_store_channel_add(s, &ch));

    CHECK_OK(slim_store_node_delete(s, "A"));
    CHECK_STATUS(slim_store_node_delete(s, "A"), SLIM_E_NOT_FOUND);

    slim_store_node g;
    CHECK_STATUS(slim_store_node_get(s, "A", &g), SLIM_E_NOT_FOUND);
    slim_store_conn c;
    CHECK_STATUS(slim_store_conn_get(s, "A", "http://a", &c), SLIM_E_NOT_FOUND);
    CHECK_OK(slim_store_conn_get(s, "B", "http://a", &c));
    slim_store_conn_free(&c);
    slim_store_sub sub;
    CHECK_STATUS(slim_store_sub_get(s, "sa", &sub), SLIM_E_NOT_FOUND);
    CHECK_OK(slim_store_sub_get(s, "sb", &sub));
    slim_store_sub_free(&sub);
    CHECK_STATUS(slim_store_report_delete(s, "A", &app), SLIM_E_NOT_FOUND);

    slim_store_route *v = NULL;
    size_t n = 0;
    CHECK_OK(slim_store_route_list(s, NULL, &v, &n));
    CHECK_EQ(n, 1); /* only C -> B is left */
    if (n == 1)
        CHECK_STR(v[0].id, "cb");
    slim_store_route_list_free(v, n);
    CHECK_EQ(count_routes(s, "A"), 0);

    slim_store_report *rv = NULL;
    CHECK_OK(slim_store_report_list(s, NULL, &rv, &n));
    CHECK_EQ(n, 1);
    if (n == 1)
        CHECK_STR(rv[0].node_id, "B");
    slim_store_report_list_free(rv, n);

    /* the details went with the node: putting it back with none shows none */
    slim_store_node back = {"A", NULL, NULL, NULL, 0, 5, 5};
    CHECK_OK(slim_store_node_put(s, &back));
    CHECK_OK(slim_store_node_get(s, "A", &g));
    CHECK_EQ(g.n_details, 0);
    slim_store_node_free(&g);

    /* channels are not about a node: the one A created stays */
    slim_store_channel cg;
    CHECK_OK(slim_store_channel_get(s, "org/ns/ch", &cg));
    CHECK_STR(cg.node_id, "A");
    slim_store_channel_free(&cg);
    slim_store_close(s);
}

/* ---- channels and participants ---- */

TEST(channels) {
    slim_store *s = open_mem();
    char *mods[] = {"org/ns/z-mod", "org/ns/a-mod"};
    slim_store_channel c1 = {"org/ns/c2", mods, 2, "slim/0"};
    slim_store_channel c2 = {"org/ns/c1", NULL, 0, NULL};
    CHECK_OK(slim_store_channel_add(s, &c1));
    CHECK_OK(slim_store_channel_add(s, &c2));
    slim_store_channel again = {"org/ns/c2", NULL, 0, NULL};
    CHECK_STATUS(slim_store_channel_add(s, &again), SLIM_E_EXISTS);

    slim_store_channel g;
    CHECK_OK(slim_store_channel_get(s, "org/ns/c2", &g));
    CHECK_STR(g.id, "org/ns/c2");
    CHECK_STR(g.node_id, "slim/0");
    CHECK_EQ(g.n_moderators, 2); /* as given: order kept, the refused add changed nothing */
    if (g.n_moderators == 2) {
        CHECK_STR(g.moderators[0], "org/ns/z-mod");
        CHECK_STR(g.moderators[1], "org/ns/a-mod");
    }
    slim_store_channel_free(&g);
    CHECK_OK(slim_store_channel_get(s, "org/ns/c1", &g));
    CHECK_NULL(g.node_id);
    CHECK_EQ(g.n_moderators, 0);
    slim_store_channel_free(&g);
    CHECK_STATUS(slim_store_channel_get(s, "nope", &g), SLIM_E_NOT_FOUND);

    slim_store_channel *v = NULL;
    size_t n = 0;
    CHECK_OK(slim_store_channel_list(s, &v, &n));
    CHECK_EQ(n, 2);
    if (n == 2) {
        CHECK_STR(v[0].id, "org/ns/c1");
        CHECK_STR(v[1].id, "org/ns/c2");
        CHECK_EQ(v[1].n_moderators, 2);
    }
    slim_store_channel_list_free(v, n);

    /* participants in the order added */
    const char *ps[] = {"org/ns/p3", "org/ns/p1", "org/ns/p2"};
    for (int i = 0; i < 3; i++)
        CHECK_OK(slim_store_participant_add(s, "org/ns/c2", ps[i]));
    CHECK_STATUS(slim_store_participant_add(s, "org/ns/c2", "org/ns/p1"), SLIM_E_EXISTS);
    CHECK_STATUS(slim_store_participant_add(s, "nope", "org/ns/p1"), SLIM_E_NOT_FOUND);
    CHECK_OK(slim_store_participant_add(s, "org/ns/c1", "org/ns/p1")); /* another channel */

    char **pv = NULL;
    CHECK_OK(slim_store_participant_list(s, "org/ns/c2", &pv, &n));
    CHECK_EQ(n, 3);
    for (size_t i = 0; i < n && i < 3; i++)
        CHECK_STR(pv[i], ps[i]);
    slim_store_strings_free(pv, n);

    /* deleting the last and adding it back puts it at the end; one deleted
     * in the middle leaves the rest in order */
    CHECK_OK(slim_store_participant_delete(s, "org/ns/c2", "org/ns/p3"));
    CHECK_STATUS(slim_store_participant_delete(s, "org/ns/c2", "org/ns/p3"), SLIM_E_NOT_FOUND);
    CHECK_STATUS(slim_store_participant_delete(s, "nope", "org/ns/p1"), SLIM_E_NOT_FOUND);
    CHECK_OK(slim_store_participant_add(s, "org/ns/c2", "org/ns/p3"));
    CHECK_OK(slim_store_participant_delete(s, "org/ns/c2", "org/ns/p1"));
    CHECK_OK(slim_store_participant_list(s, "org/ns/c2", &pv, &n));
    CHECK_EQ(n, 2);
    if (n == 2) {
        CHECK_STR(pv[0], "org/ns/p2");
        CHECK_STR(pv[1], "org/ns/p3");
    }
    slim_store_strings_free(pv, n);
    CHECK_STATUS(slim_store_participant_list(s, "nope", &pv, &n), SLIM_E_NOT_FOUND);

    /* deleting the channel takes its participants and moderators */
    CHECK_OK(slim_store_channel_delete(s, "org/ns/c2"));
    CHECK_STATUS(slim_store_channel_delete(s, "org/ns/c2"), SLIM_E_NOT_FOUND);
    CHECK_STATUS(slim_store_participant_list(s, "org/ns/c2", &pv, &n), SLIM_E_NOT_FOUND);
    CHECK_OK(slim_store_channel_add(s, &again));
    CHECK_OK(slim_store_channel_get(s, "org/ns/c2", &g));
    CHECK_EQ(g.n_moderators, 0);
    slim_store_channel_free(&g);
    CHECK_OK(slim_store_participant_list(s, "org/ns/c2", &pv, &n));
    CHECK_EQ(n, 0);
    slim_store_strings_free(pv, n);
    CHECK_OK(slim_store_participant_list(s, "org/ns/c1", &pv, &n));
    CHECK_EQ(n, 1);
    slim_store_strings_free(pv, n);

    char *badmods[] = {NULL};
    slim_store_channel bad = {"org/ns/c3", badmods, 1, NULL};
    CHECK_STATUS(slim_store_channel_add(s, &bad), SLIM_E_INVALID_ARG);
    slim_store_close(s);
}

/* ---- transactions ---- */

TEST(transactions) {
    slim_store *s = open_mem();
    slim_store_name app = nm("org", "ns", "app", NULL);
    slim_store_node a = {"A", NULL, NULL, NULL, 0, 1, 1};
    slim_store_route r = node_route("r", "A", app, "B");
    slim_store_channel ch = {"ch", NULL, 0, NULL};

    CHECK_STATUS(slim_store_commit(s), SLIM_E_STATE);
    CHECK_OK(slim_store_begin(s));
    CHECK_STATUS(slim_store_begin(s), SLIM_E_STATE);
    CHECK_OK(slim_store_node_put(s, &a));
    CHECK_OK(slim_store_route_add(s, &r, NULL));
    CHECK_OK(slim_store_report_replace(s, "A", &app, 1));
    CHECK_OK(slim_store_channel_add(s, &ch));
    CHECK_OK(slim_store_participant_add(s, "ch", "p"));
    slim_store_node g;
    CHECK_OK(slim_store_node_get(s, "A", &g)); /* seen inside */
    slim_store_node_free(&g);
    slim_store_rollback(s);

    CHECK_STATUS(slim_store_node_get(s, "A", &g), SLIM_E_NOT_FOUND);
    CHECK_EQ(count_routes(s, NULL), 0);
    slim_store_report *rv = NULL;
    size_t n = 9;
    CHECK_OK(slim_store_report_list(s, NULL, &rv, &n));
    CHECK_EQ(n, 0);
    slim_store_report_list_free(rv, n);
    slim_store_channel cg;
    CHECK_STATUS(slim_store_channel_get(s, "ch", &cg), SLIM_E_NOT_FOUND);
    slim_store_rollback(s); /* no transaction: nothing happens */

    /* a failing call inside a transaction undoes itself only */
    CHECK_OK(slim_store_begin(s));
    CHECK_OK(slim_store_node_put(s, &a));
    CHECK_OK(slim_store_channel_add(s, &ch));
    char *mods[] = {"m1", "m2"};
    slim_store_channel ch2 = {"ch", mods, 2, NULL};
    CHECK_STATUS(slim_store_channel_add(s, &ch2), SLIM_E_EXISTS);
    CHECK_OK(slim_store_route_add(s, &r, NULL));
    CHECK_OK(slim_store_commit(s));
    CHECK_STATUS(slim_store_commit(s), SLIM_E_STATE);

    CHECK_OK(slim_store_node_get(s, "A", &g));
    slim_store_node_free(&g);
    CHECK_EQ(count_routes(s, "A"), 1);
    CHECK_OK(slim_store_channel_get(s, "ch", &cg));
    CHECK_EQ(cg.n_moderators, 0);
    slim_store_channel_free(&cg);

    /* a rolled-back delete restores everything */
    CHECK_OK(slim_store_begin(s));
    CHECK_OK(slim_store_node_delete(s, "A"));
    CHECK_EQ(count_routes(s, "A"), 0);
    slim_store_rollback(s);
    CHECK_EQ(count_routes(s, "A"), 1);
    CHECK_OK(slim_store_node_get(s, "A", &g));
    slim_store_node_free(&g);
    slim_store_close(s);
}

TEST(close_with_open_transaction) {
    tmp_make();
    char path[512];
    tmp_path(path, sizeof path, "ctl.db");
    slim_store *s = NULL;
    CHECK_OK(slim_store_open(path, &s, NULL, 0));
    slim_store_node a = {"A", NULL, NULL, NULL, 0, 1, 1};
    CHECK_OK(slim_store_begin(s));
    CHECK_OK(slim_store_node_put(s, &a));
    slim_store_close(s); /* never committed */
    CHECK_OK(slim_store_open(path, &s, NULL, 0));
    slim_store_node g;
    CHECK_STATUS(slim_store_node_get(s, "A", &g), SLIM_E_NOT_FOUND);
    slim_store_close(s);
    tmp_remove();
}

/* ---- files ---- */

TEST(persists_across_reopen) {
    tmp_make();
    char path[512], buf[64];
    tmp_path(path, sizeof path, "ctl.db");
    slim_store *s = NULL;
    char err[256];
    CHECK_OK(slim_store_open(path, &s, err, sizeof err));
    slim_store_details d = {"0.0.0.0:46357", true, NULL, "ext:1", NULL};
    slim_store_node nd = {"slim/0", "g", "10.1.1.1", &d, 1, 11, 22};
    CHECK_OK(slim_store_node_put(s, &nd));
    slim_store_conn c = {"slim/0", "http://x", "{}"};
    CHECK_OK(slim_store_conn_put(s, &c));
    slim_store_sub sub = {"s1", "slim/0", nm("a", "b", "c", "id"), "http://x"};
    CHECK_OK(slim_store_sub_add(s, &sub));
    slim_store_route r = ep_route("r1", "slim/0", nm("a", "b", "c", NULL), "http://x");
    CHECK_OK(slim_store_route_add(s, &r, NULL));
    slim_store_name rep = nm("a", "b", "d", NULL);
    CHECK_OK(slim_store_report_add(s, "slim/0", &rep, NULL));
    char *mods[] = {"m"};
    slim_store_channel ch = {"ch", mods, 1, "slim/0"};
    CHECK_OK(slim_store_channel_add(s, &ch));
    CHECK_OK(slim_store_participant_add(s, "ch", "p1"));
    CHECK_OK(slim_store_participant_add(s, "ch", "p0"));

    /* while open, the file is in WAL mode with the schema version set */
    raw_text(path, "PRAGMA journal_mode", buf, sizeof buf);
    CHECK_STR(buf, "wal");
    raw_text(path, "PRAGMA user_version", buf, sizeof buf);
    CHECK_STR(buf, "1");
    slim_store_close(s);

    s = NULL;
    CHECK_OK(slim_store_open(path, &s, err, sizeof err));
    CHECK_EQ(slim_store_schema_version(s), 1);
    slim_store_node g;
    CHECK_OK(slim_store_node_get(s, "slim/0", &g));
    CHECK_STR(g.group_name, "g");
    CHECK_STR(g.peer_host, "10.1.1.1");
    CHECK_EQ(g.registered_ms, 11);
    CHECK_EQ(g.last_seen_ms, 22);
    CHECK_EQ(g.n_details, 1);
    if (g.n_details == 1) {
        CHECK(g.details[0].mtls_required);
        CHECK_STR(g.details[0].external_endpoint, "ext:1");
        CHECK_NULL(g.details[0].local_endpoint);
    }
    slim_store_node_free(&g);
    slim_store_conn cg;
    CHECK_OK(slim_store_conn_get(s, "slim/0", "http://x", &cg));
    slim_store_conn_free(&cg);
    slim_store_sub sg;
    CHECK_OK(slim_store_sub_get(s, "s1", &sg));
    CHECK_NAME(sg.name, "a", "b", "c", "id");
    slim_store_sub_free(&sg);
    slim_store_route rg;
    CHECK_OK(slim_store_route_get(s, "r1", &rg));
    CHECK_NULL(rg.name.id);
    CHECK_NULL(rg.dest_node_id);
    CHECK_STR(rg.status, "applied");
    slim_store_route_free(&rg);
    bool added = true;
    CHECK_OK(slim_store_report_add(s, "slim/0", &rep, &added));
    CHECK(!added);
    char **pv = NULL;
    size_t n = 0;
    CHECK_OK(slim_store_participant_list(s, "ch", &pv, &n));
    CHECK_EQ(n, 2);
    if (n == 2) {
        CHECK_STR(pv[0], "p1");
        CHECK_STR(pv[1], "p0");
    }
    slim_store_strings_free(pv, n);
    /* and the foreign keys are on again after the reopen */
    CHECK_STATUS(slim_store_participant_add(s, "nope", "p"), SLIM_E_NOT_FOUND);
    slim_store_close(s);
    tmp_remove();
}

TEST(newer_schema_refused) {
    tmp_make();
    char path[512], buf[64];
    tmp_path(path, sizeof path, "new.db");
    raw_exec(path, "CREATE TABLE future (x); PRAGMA user_version = 2;");
    slim_store *s = (slim_store *)1;
    char err[256];
    nlogged = 0;
    slim_log_set_sink(on_log, NULL);
    CHECK_STATUS(slim_store_open(path, &s, err, sizeof err), SLIM_E_STATE);
    slim_log_set_sink(NULL, NULL);
    CHECK(s == (slim_store *)1);
    CHECK(was_logged("newer than version 1"));
    CHECK(strstr(err, "schema version 2") != NULL);
    CHECK(strstr(err, "version 1") != NULL);
    CHECK(strstr(err, path) != NULL);
    printf("  refused: %s\n", err);
    /* left as it was */
    raw_text(path, "PRAGMA user_version", buf, sizeof buf);
    CHECK_STR(buf, "2");
    raw_text(path, "PRAGMA journal_mode", buf, sizeof buf);
    CHECK_STR(buf, "delete");
    raw_text(path, "SELECT count(*) FROM sqlite_master WHERE name = 'nodes'", buf, sizeof buf);
    CHECK_STR(buf, "0");
    tmp_remove();
}

TEST(empty_file_migrated) {
    tmp_make();
    char path[512], buf[64];
    tmp_path(path, sizeof path, "empty.db");
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f != NULL)
        fclose(f);
    slim_store *s = NULL;
    char err[256];
    CHECK_OK(slim_store_open(path, &s, err, sizeof err));
    CHECK_EQ(slim_store_schema_version(s), 1);
    slim_store_node a = {"A", NULL, NULL, NULL, 0, 1, 1};
    CHECK_OK(slim_store_node_put(s, &a));
    slim_store_close(s);
    raw_text(path, "PRAGMA user_version", buf, sizeof buf);
    CHECK_STR(buf, "1");
    raw_text(path, "SELECT id FROM nodes", buf, sizeof buf);
    CHECK_STR(buf, "A");
    tmp_remove();
}

TEST(version0_database_migrated) {
    tmp_make();
    char path[512], buf[64];
    tmp_path(path, sizeof path, "old.db");
    raw_exec(path, "CREATE TABLE unrelated (x); INSERT INTO unrelated VALUES ('kept');");
    slim_store *s = NULL;
    char err[256];
    CHECK_OK(slim_store_open(path, &s, err, sizeof err));
    CHECK_EQ(slim_store_schema_version(s), 1);
    slim_store_close(s);
    raw_text(path, "SELECT x FROM unrelated", buf, sizeof buf);
    CHECK_STR(buf, "kept");
    raw_text(path, "SELECT count(*) FROM sqlite_master WHERE type = 'table'", buf, sizeof buf);
    CHECK_STR(buf, "10"); /* unrelated + our 9 */
    tmp_remove();
}

TEST(not_a_database) {
    tmp_make();
    char path[512];
    tmp_path(path, sizeof path, "junk.db");
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        for (int i = 0; i < 200; i++)
            fputs("this is not a database file. ", f);
        fclose(f);
    }
    slim_store *s = NULL;
    char err[256];
    nlogged = 0;
    slim_log_set_sink(on_log, NULL);
    CHECK_STATUS(slim_store_open(path, &s, err, sizeof err), SLIM_E_IO);
    slim_log_set_sink(NULL, NULL);
    CHECK_NULL(s);
    CHECK(strstr(err, "not a database") != NULL);
    CHECK(was_logged("not a database"));
    printf("  refused: %s\n", err);
    tmp_remove();
}

/* ---- allocation failures ---- */

static void read_everything(void) {
    slim_store *s = NULL;
    if (slim_store_open(":memory:", &s, NULL, 0) != SLIM_OK)
        return;
    slim_store_details d[2] = {{"e1", true, "l", "x", "g"}, {"e2", false, NULL, NULL, NULL}};
    slim_store_node nd = {"A", "g", "h", d, 2, 1, 2};
    slim_store_node nd2 = {"B", NULL, NULL, d, 1, 1, 2};
    slim_store_name app = nm("org", "ns", "app", "id");
    slim_store_sub sub = {"s", "A", app, "c"};
    slim_store_conn c = {"A", "c", "{}"};
    slim_store_route r = ep_route("r", "A", app, "c");
    slim_store_route r2 = node_route("r2", "A", app, "B");
    char *mods[] = {"m1", "m2"};
    slim_store_channel ch = {"ch", mods, 2, "A"};
    /* nothing here allocates through slim_malloc but the route's existing id */
    slim_store_node_put(s, &nd);
    slim_store_node_put(s, &nd2);
    slim_store_sub_add(s, &sub);
    slim_store_conn_put(s, &c);
    slim_store_route_add(s, &r, NULL);
    slim_store_route_add(s, &r2, NULL);
    char *existing = NULL;
    slim_store_route_add(s, &r, &existing);
    slim_free(existing);
    slim_store_report_replace(s, "A", &app, 1);
    slim_store_channel_add(s, &ch);
    slim_store_participant_add(s, "ch", "p1");
    slim_store_participant_add(s, "ch", "p2");

    slim_store_node ng;
    if (slim_store_node_get(s, "A", &ng) == SLIM_OK)
        slim_store_node_free(&ng);
    slim_store_node *nv;
    size_t n;
    if (slim_store_node_list(s, &nv, &n) == SLIM_OK)
        slim_store_node_list_free(nv, n);
    slim_store_conn cg;
    if (slim_store_conn_get(s, "A", "c", &cg) == SLIM_OK)
        slim_store_conn_free(&cg);
    slim_store_conn *cv;
    if (slim_store_conn_list(s, "A", &cv, &n) == SLIM_OK)
        slim_store_conn_list_free(cv, n);
    slim_store_sub sg;
    if (slim_store_sub_get(s, "s", &sg) == SLIM_OK)
        slim_store_sub_free(&sg);
    slim_store_sub *sv;
    if (slim_store_sub_list(s, "A", &sv, &n) == SLIM_OK)
        slim_store_sub_list_free(sv, n);
    slim_store_route rg;
    if (slim_store_route_get(s, "r", &rg) == SLIM_OK)
        slim_store_route_free(&rg);
    if (slim_store_route_find(s, "A", &app, "B", NULL, &rg) == SLIM_OK)
        slim_store_route_free(&rg);
    slim_store_route *rv;
    if (slim_store_route_list(s, NULL, &rv, &n) == SLIM_OK)
        slim_store_route_list_free(rv, n);
    slim_store_report *pv;
    if (slim_store_report_list(s, NULL, &pv, &n) == SLIM_OK)
        slim_store_report_list_free(pv, n);
    slim_store_channel chg;
    if (slim_store_channel_get(s, "ch", &chg) == SLIM_OK)
        slim_store_channel_free(&chg);
    slim_store_channel *chv;
    if (slim_store_channel_list(s, &chv, &n) == SLIM_OK)
        slim_store_channel_list_free(chv, n);
    char **strs;
    if (slim_store_participant_list(s, "ch", &strs, &n) == SLIM_OK)
        slim_store_strings_free(strs, n);
    slim_store_name copy;
    if (slim_store_name_copy(&app, &copy) == SLIM_OK)
        slim_store_name_cleanup(&copy);
    slim_store_close(s);
}

TEST(allocation_failures) {
    test_alloc_sweep(read_everything, 40, 1000);
}

TEST_MAIN(TEST_ENTRY(open_memory), TEST_ENTRY(names), TEST_ENTRY(node_round_trip),
          TEST_ENTRY(node_list_order), TEST_ENTRY(conns), TEST_ENTRY(subs), TEST_ENTRY(routes),
          TEST_ENTRY(reports), TEST_ENTRY(node_delete_cascades), TEST_ENTRY(channels),
          TEST_ENTRY(transactions), TEST_ENTRY(close_with_open_transaction),
          TEST_ENTRY(persists_across_reopen), TEST_ENTRY(newer_schema_refused),
          TEST_ENTRY(empty_file_migrated), TEST_ENTRY(version0_database_migrated),
          TEST_ENTRY(not_a_database), TEST_ENTRY(allocation_failures))
