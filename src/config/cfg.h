/*
 * YAML configuration documents: loading with libyaml into a small tree that
 * remembers line numbers, `${env:NAME}` / `${file:PATH}` substitution, typed
 * accessors that produce errors naming file, line and key, and a report of
 * keys nobody read (so a typo in a config is seen, not silently ignored).
 *
 * Used by the node and the controller; both describe their schema by walking
 * the tree with these accessors.
 */
#ifndef SLIM_CONFIG_CFG_H
#define SLIM_CONFIG_CFG_H

#include "slim/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum slim_cfg_kind {
    SLIM_CFG_NULL,
    SLIM_CFG_SCALAR,
    SLIM_CFG_SEQ,
    SLIM_CFG_MAP,
} slim_cfg_kind;

typedef struct slim_cfg_node {
    slim_cfg_kind kind;
    unsigned line; /* 1-based line in the source */
    char *text;    /* SLIM_CFG_SCALAR: the value, after substitution */
    bool plain;    /* scalar written without quotes */
    size_t n;      /* SEQ: items; MAP: pairs */
    char **keys;   /* MAP: keys, parallel to items */
    struct slim_cfg_node **items;
    bool used; /* read by the schema walker */
} slim_cfg_node;

typedef struct slim_cfg_doc {
    slim_cfg_node *root; /* a MAP (an empty file gives an empty map) */
    char *source;        /* file name or "<string>", for messages */
} slim_cfg_doc;

/* Error text filled in by every failing call here: "file:line: key: what". */
typedef struct slim_cfg_error {
    char msg[768];
} slim_cfg_error;

/* Loads a YAML file. The top level must be a mapping. Scalars that are
 * exactly ${env:NAME} or ${file:PATH} are replaced by the variable's value or
 * the file's contents (a missing one is an error). Aliases are expanded, with
 * at most 100 000 nodes in all. Errors: E_IO (cannot read), E_INVALID_ARG
 * (syntax, substitution, limits), E_NOMEM; err says why. */
slim_status slim_cfg_load_file(const char *path, slim_cfg_doc **out, slim_cfg_error *err);
/* The same from a string; `source` names it in messages. */
slim_status slim_cfg_load_string(const char *text, size_t len, const char *source,
                                 slim_cfg_doc **out, slim_cfg_error *err);
void slim_cfg_free(slim_cfg_doc *doc);

/* Formats an error about node (or the document when node is NULL) at key
 * path `path`. Returns E_INVALID_ARG for convenient `return slim_cfg_fail(...)`. */
slim_status slim_cfg_fail(slim_cfg_error *err, const slim_cfg_doc *doc, const slim_cfg_node *node,
                          const char *path, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* The value of key in map (NULL when absent or when map is not a MAP);
 * marks it read. */
slim_cfg_node *slim_cfg_get(slim_cfg_node *map, const char *key);

/* Typed reads. Each fails with E_INVALID_ARG and a message naming the key
 * when the node has the wrong shape. On success the output is written and
 * the node marked read. *out strings are borrowed from the document. */
slim_status slim_cfg_string(const slim_cfg_doc *doc, slim_cfg_node *node, const char *path,
                            const char **out, slim_cfg_error *err);
slim_status slim_cfg_bool(const slim_cfg_doc *doc, slim_cfg_node *node, const char *path, bool *out,
                          slim_cfg_error *err);
/* An unsigned integer in [min, max]. */
slim_status slim_cfg_uint(const slim_cfg_doc *doc, slim_cfg_node *node, const char *path,
                          uint64_t min, uint64_t max, uint64_t *out, slim_cfg_error *err);
/* A duration such as "10s", "250ms", "1h30m", "2m 5s" (units ns, us, ms, s,
 * m, h, d, w, y and their long names, as upstream SLIM accepts), in
 * milliseconds (sub-millisecond parts round up). */
slim_status slim_cfg_duration_ms(const slim_cfg_doc *doc, slim_cfg_node *node, const char *path,
                                 uint64_t *out, slim_cfg_error *err);
/* Checks that node has the given kind; an absent node (NULL) passes. */
slim_status slim_cfg_expect(const slim_cfg_doc *doc, slim_cfg_node *node, const char *path,
                            slim_cfg_kind kind, slim_cfg_error *err);

/* Parses a duration string; the same rules as slim_cfg_duration_ms.
 * E_INVALID_ARG for anything else. */
slim_status slim_cfg_parse_duration_ms(const char *text, uint64_t *out);

/* Marks node and everything under it read (for free-form maps). */
void slim_cfg_mark_used(slim_cfg_node *node);

/* Calls fn(path, line) for every map key under node (itself read) whose
 * value was never read: the keys the schema does not know. */
void slim_cfg_unknown_keys(const slim_cfg_node *node, const char *path,
                           void (*fn)(const char *path, unsigned line, void *ud), void *ud);

/* Writes "parent.key" (or "key" for an empty parent) into buf. */
void slim_cfg_path(char *buf, size_t cap, const char *parent, const char *key);
/* Writes "parent[index]" into buf. */
void slim_cfg_path_index(char *buf, size_t cap, const char *parent, size_t index);

#endif
