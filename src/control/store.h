/*
 * The controller's state in SQLite: nodes, the connections and
 * subscriptions made for them through the northbound API, routes (manual
 * and automatic), the subscriptions nodes reported, channels and their
 * participants. Nothing the controller needs after a restart lives only in
 * memory.
 *
 * The database runs in WAL mode with synchronous=FULL, so every committed
 * change survives a kill -9 (and a power loss). The schema is versioned
 * with PRAGMA user_version; slim_store_open() creates a new file and
 * migrates an older one step by step, in one transaction per step, and
 * refuses a file newer than it knows (E_STATE, with the versions in err).
 *
 * Every string given is copied; every string and array returned is
 * allocated and freed by the matching *_free / *_list_free. Statuses:
 * SLIM_OK, E_NOT_FOUND (get/delete of something absent), E_EXISTS (put of
 * something that must be new), E_INVALID_ARG (NULL where a value is
 * required), E_IO (SQLite failed: the message is logged), E_NOMEM.
 *
 * One thread uses a store (the controller's loop).
 */
#ifndef SLIM_CONTROL_STORE_H
#define SLIM_CONTROL_STORE_H

#include "slim/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SLIM_STORE_SCHEMA_VERSION 1

typedef struct slim_store slim_store;

/* Opens (creating if needed) the database at path; ":memory:" for a
 * throw-away one. On error err (may be NULL) gets a sentence saying why. */
slim_status slim_store_open(const char *path, slim_store **out, char *err, size_t err_cap);
void slim_store_close(slim_store *s);

/* The schema version of the open file (after migration). */
int slim_store_schema_version(const slim_store *s);

/* Transactions, for changes that must land together. Not nested. Every
 * function below outside a transaction commits on its own. */
slim_status slim_store_begin(slim_store *s);
slim_status slim_store_commit(slim_store *s);
void slim_store_rollback(slim_store *s);

/* A name: three components and an id as canonical text (a UUID), NULL for
 * "any instance". */
typedef struct slim_store_name {
    char *c[3];
    char *id;
} slim_store_name;

/* ---- nodes ---- */

/* One data-plane listener of a node, as it registered it. */
typedef struct slim_store_details {
    char *endpoint; /* as configured, "0.0.0.0:46357" */
    bool mtls_required;
    char *local_endpoint;    /* may be NULL */
    char *external_endpoint; /* may be NULL */
    char *group_name;        /* may be NULL */
} slim_store_details;

typedef struct slim_store_node {
    char *id;         /* "slim/0" */
    char *group_name; /* may be NULL */
    char *peer_host;  /* the address its control stream came from ("127.0.0.1"); may be NULL */
    slim_store_details *details;
    size_t n_details;
    int64_t registered_ms; /* last registration, ms since the epoch */
    int64_t last_seen_ms;  /* last message from it */
} slim_store_node;

/* Inserts or replaces the node (its details replaced as a whole). */
slim_status slim_store_node_put(slim_store *s, const slim_store_node *n);
slim_status slim_store_node_get(slim_store *s, const char *id, slim_store_node *out);
/* Sets last_seen_ms. E_NOT_FOUND. */
slim_status slim_store_node_touch(slim_store *s, const char *id, int64_t now_ms);
/* Every node, ordered by id. */
slim_status slim_store_node_list(slim_store *s, slim_store_node **out, size_t *n);
/* Deletes the node and everything that is about it: its connections,
 * subscriptions, reports, and the routes it holds or that go to it
 * (dest_node_id). E_NOT_FOUND. */
slim_status slim_store_node_delete(slim_store *s, const char *id);
void slim_store_node_free(slim_store_node *n);
void slim_store_node_list_free(slim_store_node *v, size_t n);

/* ---- connections made through the API (CreateConnection) ---- */

typedef struct slim_store_conn {
    char *node_id;
    char *connection_id; /* the endpoint URL, unique per node */
    char *config_data;   /* ClientConfig JSON */
} slim_store_conn;

/* Inserts or replaces (node_id, connection_id). */
slim_status slim_store_conn_put(slim_store *s, const slim_store_conn *c);
slim_status slim_store_conn_get(slim_store *s, const char *node_id, const char *connection_id,
                                slim_store_conn *out);
/* The node's connections, ordered by connection_id. */
slim_status slim_store_conn_list(slim_store *s, const char *node_id, slim_store_conn **out,
                                 size_t *n);
slim_status slim_store_conn_delete(slim_store *s, const char *node_id, const char *connection_id);
void slim_store_conn_free(slim_store_conn *c);
void slim_store_conn_list_free(slim_store_conn *v, size_t n);

/* ---- subscriptions made through the API (CreateSubscription) ---- */

typedef struct slim_store_sub {
    char *id; /* a UUID the caller makes */
    char *node_id;
    slim_store_name name;
    char *connection_id;
} slim_store_sub;

/* E_EXISTS when the id is taken. */
slim_status slim_store_sub_add(slim_store *s, const slim_store_sub *sub);
slim_status slim_store_sub_get(slim_store *s, const char *id, slim_store_sub *out);
/* The node's subscriptions, in the order they were added. */
slim_status slim_store_sub_list(slim_store *s, const char *node_id, slim_store_sub **out,
                                size_t *n);
slim_status slim_store_sub_delete(slim_store *s, const char *id);
void slim_store_sub_free(slim_store_sub *sub);
void slim_store_sub_list_free(slim_store_sub *v, size_t n);

/* ---- routes ---- */

typedef struct slim_store_route {
    char *id;      /* a UUID the caller makes */
    char *node_id; /* the node that holds the route */
    slim_store_name name;
    char *dest_node_id;  /* route through a node; NULL for a route to an endpoint */
    char *connection_id; /* endpoint routes: the endpoint URL; NULL for node routes */
    char *config_data;   /* endpoint routes: ClientConfig JSON; NULL for node routes */
    bool automatic;      /* made from a reported subscription */
    char *status;        /* "pending", "applied", or the node's error; never NULL when read */
} slim_store_route;

/* E_EXISTS when a route with the same (node_id, name, dest_node_id,
 * connection_id) exists (its id in *existing_id when not NULL, allocated)
 * or the id is taken. */
slim_status slim_store_route_add(slim_store *s, const slim_store_route *r, char **existing_id);
slim_status slim_store_route_get(slim_store *s, const char *id, slim_store_route *out);
/* The route with exactly these fields (dest_node_id / connection_id NULL to
 * match NULL). E_NOT_FOUND. */
slim_status slim_store_route_find(slim_store *s, const char *node_id, const slim_store_name *name,
                                  const char *dest_node_id, const char *connection_id,
                                  slim_store_route *out);
/* Routes held by node_id (every route when NULL), ordered by node, name,
 * destination. */
slim_status slim_store_route_list(slim_store *s, const char *node_id, slim_store_route **out,
                                  size_t *n);
/* Routes whose dest_node_id is dest (routes through that node). */
slim_status slim_store_route_list_to(slim_store *s, const char *dest, slim_store_route **out,
                                     size_t *n);
slim_status slim_store_route_set_status(slim_store *s, const char *id, const char *status);
slim_status slim_store_route_delete(slim_store *s, const char *id);
void slim_store_route_free(slim_store_route *r);
void slim_store_route_list_free(slim_store_route *v, size_t n);

/* ---- subscriptions nodes reported (their applications' names) ---- */

/* Replaces everything reported by node_id with names[0..n). */
slim_status slim_store_report_replace(slim_store *s, const char *node_id,
                                      const slim_store_name *names, size_t n);
/* Adds one; *added (may be NULL) says whether it was new. */
slim_status slim_store_report_add(slim_store *s, const char *node_id, const slim_store_name *name,
                                  bool *added);
/* Removes one; E_NOT_FOUND when it was not there. */
slim_status slim_store_report_delete(slim_store *s, const char *node_id,
                                     const slim_store_name *name);
typedef struct slim_store_report {
    char *node_id;
    slim_store_name name;
} slim_store_report;
/* Reported by node_id (every node when NULL), ordered by node then name. */
slim_status slim_store_report_list(slim_store *s, const char *node_id, slim_store_report **out,
                                   size_t *n);
void slim_store_report_list_free(slim_store_report *v, size_t n);

/* ---- channels and participants ---- */

typedef struct slim_store_channel {
    char *id;          /* the channel name, org/ns/channel */
    char **moderators; /* names as given */
    size_t n_moderators;
    char *node_id; /* the node of the moderator when it was created; may be NULL */
} slim_store_channel;

/* E_EXISTS when the id is taken. */
slim_status slim_store_channel_add(slim_store *s, const slim_store_channel *c);
slim_status slim_store_channel_get(slim_store *s, const char *id, slim_store_channel *out);
/* Every channel, ordered by id. */
slim_status slim_store_channel_list(slim_store *s, slim_store_channel **out, size_t *n);
/* Deletes the channel and its participants. E_NOT_FOUND. */
slim_status slim_store_channel_delete(slim_store *s, const char *id);
void slim_store_channel_free(slim_store_channel *c);
void slim_store_channel_list_free(slim_store_channel *v, size_t n);

/* E_NOT_FOUND (no such channel), E_EXISTS (already a participant). */
slim_status slim_store_participant_add(slim_store *s, const char *channel_id,
                                       const char *participant);
/* E_NOT_FOUND when the channel or the participant is not there. */
slim_status slim_store_participant_delete(slim_store *s, const char *channel_id,
                                          const char *participant);
/* In the order they were added. E_NOT_FOUND (no such channel). */
slim_status slim_store_participant_list(slim_store *s, const char *channel_id, char ***out,
                                        size_t *n);
void slim_store_strings_free(char **v, size_t n);

/* Copies and frees of names (for callers building their own). */
slim_status slim_store_name_copy(const slim_store_name *in, slim_store_name *out);
void slim_store_name_cleanup(slim_store_name *n);
bool slim_store_name_equal(const slim_store_name *a, const slim_store_name *b);

#endif
