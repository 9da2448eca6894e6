/*
 * YAML loading goes through libyaml's document API (which resolves anchors
 * and aliases) and is then copied into slim_cfg_node trees, so the rest of
 * the code never touches libyaml. The copy counts nodes to stop alias bombs.
 */
#include "config/cfg.h"
#include "core/alloc.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define MAX_NODES 100000
#define MAX_FILE  (16u * 1024u * 1024u)

void slim_cfg_path(char *buf, size_t cap, const char *parent, const char *key) {
    if (parent == NULL || parent[0] == '\0')
        snprintf(buf, cap, "%s", key);
    else
        snprintf(buf, cap, "%s.%s", parent, key);
}

void slim_cfg_path_index(char *buf, size_t cap, const char *parent, size_t index) {
    snprintf(buf, cap, "%s[%zu]", parent ? parent : "", index);
}

slim_status slim_cfg_fail(slim_cfg_error *err, const slim_cfg_doc *doc, const slim_cfg_node *node,
                          const char *path, const char *fmt, ...) {
    if (err == NULL)
        return SLIM_E_INVALID_ARG;
    int n;
    const char *src = doc && doc->source ? doc->source : "<config>";
    if (node != NULL)
        n = snprintf(err->msg, sizeof err->msg, "%s:%u: ", src, node->line);
    else
        n = snprintf(err->msg, sizeof err->msg, "%s: ", src);
    if (n < 0 || (size_t)n >= sizeof err->msg)
        return SLIM_E_INVALID_ARG;
    if (path != NULL && path[0] != '\0') {
        int m = snprintf(err->msg + n, sizeof err->msg - (size_t)n, "%s: ", path);
        if (m > 0 && (size_t)(n + m) < sizeof err->msg)
            n += m;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg + n, sizeof err->msg - (size_t)n, fmt, ap);
    va_end(ap);
    return SLIM_E_INVALID_ARG;
}

/* ---- tree ---- */

static void node_free(slim_cfg_node *n) {
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys != NULL)
            slim_free(n->keys[i]);
        node_free(n->items[i]);
    }
    slim_free(n->keys);
    slim_free(n->items);
    slim_free(n->text);
    slim_free(n);
}

void slim_cfg_free(slim_cfg_doc *doc) {
    if (doc == NULL)
        return;
    node_free(doc->root);
    slim_free(doc->source);
    slim_free(doc);
}

typedef struct loader {
    yaml_document_t *ydoc;
    slim_cfg_doc *doc;
    slim_cfg_error *err;
    size_t count;
    int depth;
} loader;

static char *read_file(const char *path, size_t *len, slim_status *st) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        *st = SLIM_E_IO;
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = slim_malloc(cap);
    while (buf != NULL) {
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
        if (n + 1 == cap) {
            if (cap >= MAX_FILE) {
                slim_free(buf);
                buf = NULL;
                *st = SLIM_E_TOO_LARGE;
                break;
            }
            char *nb = slim_realloc(buf, cap * 2);
            if (nb == NULL) {
                slim_free(buf);
                buf = NULL;
                *st = SLIM_E_NOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (buf == NULL && *st == SLIM_OK)
        *st = SLIM_E_NOMEM;
    if (buf != NULL && ferror(f)) {
        slim_free(buf);
        buf = NULL;
        *st = SLIM_E_IO;
    }
    fclose(f);
    if (buf != NULL) {
        buf[n] = '\0';
        *len = n;
    }
    return buf;
}

/* Applies ${env:NAME} / ${file:PATH} to a scalar; returns a new string. */
static slim_status substitute(loader *ld, slim_cfg_node *node, const char *v, size_t len,
                              char **out) {
    if (len > 3 && v[0] == '$' && v[1] == '{' && v[len - 1] == '}') {
        const char *inner = v + 2;
        size_t ilen = len - 3;
        if (ilen > 4 && strncmp(inner, "env:", 4) == 0) {
            char name[256];
            if (ilen - 4 >= sizeof name)
                return slim_cfg_fail(ld->err, ld->doc, node, NULL, "variable name too long");
            memcpy(name, inner + 4, ilen - 4);
            name[ilen - 4] = '\0';
            const char *val = getenv(name);
            if (val == NULL)
                return slim_cfg_fail(ld->err, ld->doc, node, NULL,
                                     "${env:%s}: environment variable %s is not set", name, name);
            *out = slim_strndup(val, strlen(val));
            return *out ? SLIM_OK : SLIM_E_NOMEM;
        }
        if (ilen > 5 && strncmp(inner, "file:", 5) == 0) {
            char path[4096];
            if (ilen - 5 >= sizeof path)
                return slim_cfg_fail(ld->err, ld->doc, node, NULL, "file path too long");
            memcpy(path, inner + 5, ilen - 5);
            path[ilen - 5] = '\0';
            size_t flen = 0;
            slim_status st = SLIM_OK;
            char *content = read_file(path, &flen, &st);
            if (content == NULL)
                return st == SLIM_E_NOMEM
                           ? st
                           : slim_cfg_fail(ld->err, ld->doc, node, NULL, "${file:%s}: %s", path,
                                           st == SLIM_E_TOO_LARGE ? "file too large"
                                                                  : strerror(errno));
            *out = content;
            return SLIM_OK;
        }
    }
    *out = slim_strndup(v, len);
    return *out ? SLIM_OK : SLIM_E_NOMEM;
}

static slim_status convert(loader *ld, yaml_node_t *yn, slim_cfg_node **out) {
    if (++ld->count > MAX_NODES)
        return slim_cfg_fail(ld->err, ld->doc, NULL, NULL, "more than %d nodes (alias expansion?)",
                             MAX_NODES);
    if (ld->depth > 64)
        return slim_cfg_fail(ld->err, ld->doc, NULL, NULL, "nesting deeper than 64 levels");
    slim_cfg_node *n = slim_calloc(1, sizeof *n);
    if (n == NULL)
        return SLIM_E_NOMEM;
    n->line = (unsigned)yn->start_mark.line + 1;
    slim_status st = SLIM_OK;
    ld->depth++;
    switch (yn->type) {
    case YAML_SCALAR_NODE: {
        const char *v = (const char *)yn->data.scalar.value;
        size_t len = yn->data.scalar.length;
        n->plain = yn->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        if (n->plain && (len == 0 || (len == 1 && v[0] == '~') ||
                         (len == 4 && (memcmp(v, "null", 4) == 0 || memcmp(v, "Null", 4) == 0 ||
                                       memcmp(v, "NULL", 4) == 0)))) {
            n->kind = SLIM_CFG_NULL;
            break;
        }
        n->kind = SLIM_CFG_SCALAR;
        st = substitute(ld, n, v, len, &n->text);
        break;
    }
    case YAML_SEQUENCE_NODE: {
        n->kind = SLIM_CFG_SEQ;
        size_t cnt = (size_t)(yn->data.sequence.items.top - yn->data.sequence.items.start);
        n->items = slim_calloc(cnt ? cnt : 1, sizeof *n->items);
        if (n->items == NULL) {
            st = SLIM_E_NOMEM;
            break;
        }
        for (size_t i = 0; i < cnt && st == SLIM_OK; i++) {
            yaml_node_t *child = yaml_document_get_node(ld->ydoc, yn->data.sequence.items.start[i]);
            if (child == NULL) {
                st = slim_cfg_fail(ld->err, ld->doc, n, NULL, "broken sequence");
                break;
            }
            st = convert(ld, child, &n->items[i]);
            if (st == SLIM_OK)
                n->n++;
        }
        break;
    }
    case YAML_MAPPING_NODE: {
        n->kind = SLIM_CFG_MAP;
        size_t cnt = (size_t)(yn->data.mapping.pairs.top - yn->data.mapping.pairs.start);
        n->items = slim_calloc(cnt ? cnt : 1, sizeof *n->items);
        n->keys = slim_calloc(cnt ? cnt : 1, sizeof *n->keys);
        if (n->items == NULL || n->keys == NULL) {
            st = SLIM_E_NOMEM;
            break;
        }
        for (size_t i = 0; i < cnt && st == SLIM_OK; i++) {
            yaml_node_pair_t *p = &yn->data.mapping.pairs.start[i];
            yaml_node_t *k = yaml_document_get_node(ld->ydoc, p->key);
            yaml_node_t *v = yaml_document_get_node(ld->ydoc, p->value);
            if (k == NULL || v == NULL || k->type != YAML_SCALAR_NODE) {
                st = slim_cfg_fail(ld->err, ld->doc, n, NULL, "mapping keys must be plain strings");
                break;
            }
            const char *key = (const char *)k->data.scalar.value;
            for (size_t j = 0; j < n->n; j++) {
                if (strcmp(n->keys[j], key) == 0) {
                    slim_cfg_node at = {.line = (unsigned)k->start_mark.line + 1};
                    st = slim_cfg_fail(ld->err, ld->doc, &at, key, "duplicate key");
                    break;
                }
            }
            if (st != SLIM_OK)
                break;
            n->keys[i] = slim_strndup(key, k->data.scalar.length);
            if (n->keys[i] == NULL) {
                st = SLIM_E_NOMEM;
                break;
            }
            st = convert(ld, v, &n->items[i]);
            if (st == SLIM_OK) {
                /* Report a value at its key's line: a block mapping or list
                 * starts on the line after its key. */
                n->items[i]->line = (unsigned)k->start_mark.line + 1;
                n->n++;
            } else
                slim_free(n->keys[i]), n->keys[i] = NULL;
        }
        break;
    }
    default:
        n->kind = SLIM_CFG_NULL;
        break;
    }
    ld->depth--;
    if (st != SLIM_OK) {
        node_free(n);
        return st;
    }
    *out = n;
    return SLIM_OK;
}

slim_status slim_cfg_load_string(const char *text, size_t len, const char *source,
                                 slim_cfg_doc **out, slim_cfg_error *err) {
    slim_cfg_doc *doc = slim_calloc(1, sizeof *doc);
    if (doc == NULL)
        return SLIM_E_NOMEM;
    const char *src = source ? source : "<string>";
    doc->source = slim_strndup(src, strlen(src));
    if (doc->source == NULL) {
        slim_free(doc);
        return SLIM_E_NOMEM;
    }
    yaml_parser_t parser;
    yaml_document_t ydoc;
    if (!yaml_parser_initialize(&parser)) {
        slim_cfg_free(doc);
        return SLIM_E_NOMEM;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    slim_status st = SLIM_OK;
    if (!yaml_parser_load(&parser, &ydoc)) {
        slim_cfg_node at = {.line = (unsigned)parser.problem_mark.line + 1};
        st = slim_cfg_fail(err, doc, &at, NULL, "YAML syntax error: %s%s%s",
                           parser.problem ? parser.problem : "unknown problem",
                           parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        slim_cfg_free(doc);
        return st;
    }
    yaml_node_t *root = yaml_document_get_root_node(&ydoc);
    loader ld = {&ydoc, doc, err, 0, 0};
    if (root == NULL) {
        doc->root = slim_calloc(1, sizeof *doc->root);
        if (doc->root == NULL)
            st = SLIM_E_NOMEM;
        else
            doc->root->kind = SLIM_CFG_MAP, doc->root->line = 1;
    } else if (root->type != YAML_MAPPING_NODE) {
        slim_cfg_node at = {.line = (unsigned)root->start_mark.line + 1};
        st = slim_cfg_fail(err, doc, &at, NULL, "the top level must be a mapping of keys");
    } else {
        st = convert(&ld, root, &doc->root);
    }
    yaml_document_delete(&ydoc);
    yaml_parser_delete(&parser);
    if (st != SLIM_OK) {
        slim_cfg_free(doc);
        return st;
    }
    *out = doc;
    return SLIM_OK;
}

slim_status slim_cfg_load_file(const char *path, slim_cfg_doc **out, slim_cfg_error *err) {
    size_t len = 0;
    slim_status st = SLIM_OK;
    char *text = read_file(path, &len, &st);
    if (text == NULL) {
        if (err != NULL)
            snprintf(err->msg, sizeof err->msg, "%s: cannot read: %s", path,
                     st == SLIM_E_TOO_LARGE ? "file too large" : strerror(errno));
        return st;
    }
    st = slim_cfg_load_string(text, len, path, out, err);
    slim_free(text);
    return st;
}

/* ---- accessors ---- */

slim_cfg_node *slim_cfg_get(slim_cfg_node *map, const char *key) {
    if (map == NULL || map->kind != SLIM_CFG_MAP)
        return NULL;
    map->used = true;
    for (size_t i = 0; i < map->n; i++) {
        if (strcmp(map->keys[i], key) == 0) {
            map->items[i]->used = true;
            return map->items[i];
        }
    }
    return NULL;
}

static const char *kind_name(slim_cfg_kind k) {
    switch (k) {
    case SLIM_CFG_NULL:
        return "nothing";
    case SLIM_CFG_SCALAR:
        return "a value";
    case SLIM_CFG_SEQ:
        return "a list";
    case SLIM_CFG_MAP:
        return "a mapping";
    }
    return "?";
}

slim_status slim_cfg_expect(const slim_cfg_doc *doc, slim_cfg_node *node, const char *path,
                            slim_cfg_kind kind, slim_cfg_error *err) {
    if (node == NULL)
        return SLIM_OK;
    node->used = true;
    if (node->kind == kind)
        return SLIM_OK;
    if (node->kind == SLIM_CFG_NULL && (kind == SLIM_CFG_MAP || kind == SLIM_CFG_SEQ))
        return SLIM_OK; /* `key:` with nothing reads as empty */
    return slim_cfg_fail(err, doc, node, path, "expected %s, found %s", kind_name(kind),
                         kind_name(node->kind));
}

slim_status slim_cfg_string(const slim_cfg_doc *doc, slim_cfg_node *node, const char *path,
                            const char **out, slim_cfg_error *err) {
    if (node == NULL || node->kind != SLIM_CFG_SCALAR)
        return slim_cfg_fail(err, doc, node, path, "expected a string, found %s",
                             node ? kind_name(node->kind) : "nothing");
    node->used = true;
    *out = node->text;
    return SLIM_OK;
}

slim_status slim_cfg_bool(const slim_cfg_doc *doc, slim_cfg_node *node, const char *path, bool *out,
                          slim_cfg_error *err) {
    if (node != NULL && node->kind == SLIM_CFG_SCALAR) {
        node->used = true;
        if (strcmp(node->text, "true") == 0 || strcmp(node->text, "True") == 0) {
            *out = true;
            return SLIM_OK;
        }
        if (strcmp(node->text, "false") == 0 || strcmp(node->text, "False") == 0) {
            *out = false;
            return SLIM_OK;
        }
    }
    return slim_cfg_fail(err, doc, node, path, "expected true or false, found %s%s%s",
                         node && node->text ? "\"" : "",
                         node && node->text ? node->text
                         : node             ? kind_name(node->kind)
                                            : "nothing",
                         node && node->text ? "\"" : "");
}

slim_status slim_cfg_uint(const slim_cfg_doc *doc, slim_cfg_node *node, const char *path,
                          uint64_t min, uint64_t max, uint64_t *out, slim_cfg_error *err) {
    if (node == NULL || node->kind != SLIM_CFG_SCALAR || node->text[0] == '\0' ||
        !isdigit((unsigned char)node->text[0]))
        return slim_cfg_fail(err, doc, node, path, "expected a whole number");
    errno = 0;
    char *end;
    unsigned long long v = strtoull(node->text, &end, 10);
    if (*end != '\0' || errno == ERANGE)
        return slim_cfg_fail(err, doc, node, path, "expected a whole number, found \"%s\"",
                             node->text);
    if (v < min || v > max)
        return slim_cfg_fail(err, doc, node, path, "%llu is outside %llu..%llu", v,
                             (unsigned long long)min, (unsigned long long)max);
    node->used = true;
    *out = v;
    return SLIM_OK;
}

slim_status slim_cfg_parse_duration_ms(const char *text, uint64_t *out) {
    /* humantime's unit names, as upstream SLIM parses durations. */
    static const struct {
        const char *unit;
        uint64_t ns;
    } units[] = {
        {"ns", 1ull},
        {"nsec", 1ull},
        {"us", 1000ull},
        {"usec", 1000ull},
        {"ms", 1000000ull},
        {"msec", 1000000ull},
        {"s", 1000000000ull},
        {"sec", 1000000000ull},
        {"second", 1000000000ull},
        {"seconds", 1000000000ull},
        {"m", 60000000000ull},
        {"min", 60000000000ull},
        {"minute", 60000000000ull},
        {"minutes", 60000000000ull},
        {"h", 3600000000000ull},
        {"hr", 3600000000000ull},
        {"hour", 3600000000000ull},
        {"hours", 3600000000000ull},
        {"d", 86400000000000ull},
        {"day", 86400000000000ull},
        {"days", 86400000000000ull},
        {"w", 604800000000000ull},
        {"week", 604800000000000ull},
        {"weeks", 604800000000000ull},
        {"y", 31557600000000000ull},
        {"year", 31557600000000000ull},
        {"years", 31557600000000000ull},
    };
    const char *p = text;
    uint64_t total_ns = 0;
    int parts = 0;
    while (*p != '\0') {
        while (*p == ' ')
            p++;
        if (*p == '\0')
            break;
        if (!isdigit((unsigned char)*p))
            return SLIM_E_INVALID_ARG;
        uint64_t v = 0;
        while (isdigit((unsigned char)*p)) {
            if (v > UINT64_MAX / 10)
                return SLIM_E_INVALID_ARG;
            v = v * 10 + (uint64_t)(*p++ - '0');
        }
        while (*p == ' ')
            p++;
        size_t ulen = 0;
        while (isalpha((unsigned char)p[ulen]))
            ulen++;
        uint64_t mul = 0;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
            if (strlen(units[i].unit) == ulen && strncmp(p, units[i].unit, ulen) == 0)
                mul = units[i].ns;
        if (mul == 0)
            return SLIM_E_INVALID_ARG;
        if (v != 0 && mul > (UINT64_MAX - total_ns) / v)
            return SLIM_E_INVALID_ARG;
        total_ns += v * mul;
        p += ulen;
        parts++;
    }
    if (parts == 0)
        return SLIM_E_INVALID_ARG;
    *out = total_ns / 1000000u + (total_ns % 1000000u != 0);
    return SLIM_OK;
}

slim_status slim_cfg_duration_ms(const slim_cfg_doc *doc, slim_cfg_node *node, const char *path,
                                 uint64_t *out, slim_cfg_error *err) {
    if (node == NULL || node->kind != SLIM_CFG_SCALAR ||
        slim_cfg_parse_duration_ms(node->text, out) != SLIM_OK)
        return slim_cfg_fail(err, doc, node, path,
                             "expected a duration such as \"10s\", \"250ms\" or \"1h30m\"%s%s%s",
                             node && node->text ? ", found \"" : "",
                             node && node->text ? node->text : "", node && node->text ? "\"" : "");
    node->used = true;
    return SLIM_OK;
}

void slim_cfg_mark_used(slim_cfg_node *node) {
    if (node == NULL)
        return;
    node->used = true;
    for (size_t i = 0; i < node->n; i++)
        slim_cfg_mark_used(node->items[i]);
}

void slim_cfg_unknown_keys(const slim_cfg_node *node, const char *path,
                           void (*fn)(const char *path, unsigned line, void *ud), void *ud) {
    if (node == NULL || !node->used)
        return;
    char child[512];
    for (size_t i = 0; i < node->n; i++) {
        if (node->kind == SLIM_CFG_MAP) {
            slim_cfg_path(child, sizeof child, path, node->keys[i]);
            if (!node->items[i]->used) {
                fn(child, node->items[i]->line, ud);
                continue;
            }
        } else {
            slim_cfg_path_index(child, sizeof child, path, i);
        }
        slim_cfg_unknown_keys(node->items[i], child, fn, ud);
    }
}
