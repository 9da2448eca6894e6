/*
 * slimctl's settings, in layers (later wins):
 *   1. defaults: server 127.0.0.1:50051 (127.0.0.1:46358 for node-connect),
 *      timeout 15s, output table, plaintext, no token;
 *   2. a YAML config file: the one --config names (it must exist), else
 *      $HOME/.slimctl/config.yaml when it exists; keys server, timeout,
 *      output, tls.{ca_file, cert_file, key_file, insecure}, token,
 *      shared_secret (others are reported and ignored);
 *   3. the environment: SLIMCTL_SERVER, SLIMCTL_TIMEOUT, SLIMCTL_OUTPUT,
 *      SLIMCTL_TLS_CA, SLIMCTL_TLS_CERT, SLIMCTL_TLS_KEY,
 *      SLIMCTL_TLS_INSECURE, SLIMCTL_TOKEN, SLIMCTL_SHARED_SECRET (empty
 *      counts as unset);
 *   4. the command line flags.
 * Each layer's values are checked when applied, and a bad one is reported
 * with where it came from. node-connect takes its server from the command
 * line only (the file's and the environment's are the controller's).
 *
 * TLS is on for an https:// server, and for a bare HOST:PORT when a CA, a
 * client certificate or --tls-insecure is set; an http:// server is
 * plaintext, and TLS settings with it are a usage error, except
 * tls.insecure from the file or the environment: upstream's slimctl spells
 * plaintext `tls.insecure: true`, so alone it turns nothing on (with an
 * http:// or a bare server); with TLS on it skips verification.
 */
#include "slimctl.h"

#include "config/cfg.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_SERVER     "127.0.0.1:50051"
#define DEFAULT_NC_SERVER  "127.0.0.1:46358"
#define DEFAULT_TIMEOUT_MS 15000

/* Checks a server address and stores it with its scheme. Accepted:
 * HOST:PORT, [V6]:PORT, and either with http:// (plaintext) or https://
 * (TLS) in front, with an optional trailing '/'. */
static int set_server(ctl_options *o, const char *text, const char *from) {
    const char *scheme = "http://";
    const char *rest = text;
    if (strncmp(rest, "http://", 7) == 0) {
        rest += 7;
    } else if (strncmp(rest, "https://", 8) == 0) {
        scheme = "https://";
        rest += 8;
    }
    size_t len = strlen(rest);
    if (len > 0 && rest[len - 1] == '/')
        len--;
    const char *colon = NULL;
    bool ok = len > 0 && len < 512;
    if (ok && rest[0] == '[') {
        const char *close = memchr(rest, ']', len);
        ok = close != NULL && close > rest + 1 && close + 1 < rest + len && close[1] == ':';
        colon = ok ? close + 1 : NULL;
    } else if (ok) {
        for (size_t i = 0; i < len; i++)
            if (rest[i] == ':')
                colon = rest + i;
        ok = colon != NULL && colon > rest;
    }
    unsigned long port = 0;
    if (ok) {
        const char *p = colon + 1, *end = rest + len;
        ok = p < end && end - p <= 5;
        for (; ok && p < end; p++) {
            ok = *p >= '0' && *p <= '9';
            port = port * 10 + (unsigned long)(*p - '0');
        }
        ok = ok && port >= 1 && port <= 65535;
    }
    for (size_t i = 0; ok && i < len; i++)
        ok = rest[i] != '/' && rest[i] != ' ' && rest[i] != '@';
    if (!ok) {
        ctl_err(
            "%s: invalid server \"%s\": want HOST:PORT (or http://HOST:PORT; see slimctl --help)",
            from, text);
        return CTL_EXIT_USAGE;
    }
    free(o->server);
    free(o->server_text);
    o->server = ctl_xcalloc(strlen(scheme) + len + 1, 1);
    memcpy(o->server, scheme, strlen(scheme));
    memcpy(o->server + strlen(scheme), rest, len);
    o->server_text = ctl_xstrdup(text);
    return CTL_EXIT_OK;
}

static int set_timeout(ctl_options *o, const char *text, const char *from) {
    uint64_t ms;
    if (slim_cfg_parse_duration_ms(text, &ms) != SLIM_OK || ms == 0 ||
        ms > UINT64_C(24) * 3600 * 1000) {
        ctl_err("%s: invalid timeout \"%s\": want a duration such as 500ms, 2s or 1m (see slimctl "
                "--help)",
                from, text);
        return CTL_EXIT_USAGE;
    }
    o->timeout_ms = ms;
    return CTL_EXIT_OK;
}

static int set_output(ctl_options *o, const char *text, const char *from) {
    if (strcmp(text, "table") == 0) {
        o->output = CTL_OUTPUT_TABLE;
    } else if (strcmp(text, "json") == 0) {
        o->output = CTL_OUTPUT_JSON;
    } else {
        ctl_err("%s: invalid output format \"%s\": want table or json (see slimctl --help)", from,
                text);
        return CTL_EXIT_USAGE;
    }
    return CTL_EXIT_OK;
}

/* A string setting: any non-empty text. */
static int set_text(char **slot, const char *text, const char *from, const char *what) {
    if (text[0] == '\0') {
        ctl_err("%s: the %s must not be empty", from, what);
        return CTL_EXIT_USAGE;
    }
    free(*slot);
    *slot = ctl_xstrdup(text);
    return CTL_EXIT_OK;
}

static int set_ca(ctl_options *o, const char *text, const char *from) {
    return set_text(&o->tls.ca_file, text, from, "CA file");
}

static int set_cert(ctl_options *o, const char *text, const char *from) {
    return set_text(&o->tls.cert_file, text, from, "client certificate file");
}

static int set_key(ctl_options *o, const char *text, const char *from) {
    return set_text(&o->tls.key_file, text, from, "client key file");
}

static int set_insecure(ctl_options *o, const char *text, const char *from) {
    if (strcmp(text, "true") == 0 || strcmp(text, "1") == 0) {
        o->tls.insecure = true;
    } else if (strcmp(text, "false") == 0 || strcmp(text, "0") == 0) {
        o->tls.insecure = false;
    } else {
        ctl_err("%s: invalid value \"%s\": want true, false, 1 or 0", from, text);
        return CTL_EXIT_USAGE;
    }
    return CTL_EXIT_OK;
}

/* A token travels in a header: printable ASCII. A trailing newline (a
 * token file read with ${file:...}) is dropped. */
static int set_token(ctl_options *o, const char *text, const char *from) {
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        n--;
    for (size_t i = 0; i < n; i++) {
        if (text[i] < 0x20 || text[i] > 0x7e) {
            ctl_err("%s: the token must be printable ASCII", from);
            return CTL_EXIT_USAGE;
        }
    }
    char *t = ctl_xcalloc(n + 1, 1);
    memcpy(t, text, n);
    int rc = set_text(&o->token, t, from, "token");
    free(t);
    return rc;
}

static int set_secret(ctl_options *o, const char *text, const char *from) {
    return set_text(&o->shared_secret, text, from, "shared secret");
}

/* The settings a layer can give, in the same order for every layer. */
typedef int (*setter)(ctl_options *o, const char *text, const char *from);
static const struct {
    const char *key; /* config key; "tls.ca_file" is ca_file in the map tls */
    const char *env;
    const char *flag;
    ctl_opt_id id;
    setter set;
    bool is_bool; /* a YAML boolean in the file */
} settings[] = {
    {"server", "SLIMCTL_SERVER", "--server", CTL_O_SERVER, set_server, false},
    {"timeout", "SLIMCTL_TIMEOUT", "--timeout", CTL_O_TIMEOUT, set_timeout, false},
    {"output", "SLIMCTL_OUTPUT", "--output", CTL_O_OUTPUT, set_output, false},
    {"tls.ca_file", "SLIMCTL_TLS_CA", "--tls-ca", CTL_O_TLS_CA, set_ca, false},
    {"tls.cert_file", "SLIMCTL_TLS_CERT", "--tls-cert", CTL_O_TLS_CERT, set_cert, false},
    {"tls.key_file", "SLIMCTL_TLS_KEY", "--tls-key", CTL_O_TLS_KEY, set_key, false},
    {"tls.insecure", "SLIMCTL_TLS_INSECURE", "--tls-insecure", CTL_O_TLS_INSECURE, set_insecure,
     true},
    {"token", "SLIMCTL_TOKEN", "--token", CTL_O_TOKEN, set_token, false},
    {"shared_secret", "SLIMCTL_SHARED_SECRET", "--shared-secret", CTL_O_SHARED_SECRET, set_secret,
     false},
};
#define N_SETTINGS (sizeof settings / sizeof settings[0])

static void warn_unknown(const char *path, unsigned line, void *ud) {
    const char *file = ud;
    fprintf(stderr, "slimctl: warning: %s:%u: unknown key \"%s\" (ignored)\n", file, line, path);
}

/* The node of a key ("tls.ca_file": ca_file in the map tls), or NULL. */
static slim_cfg_node *lookup(const slim_cfg_doc *doc, const char *key, slim_cfg_error *err,
                             slim_status *st) {
    const char *dot = strchr(key, '.');
    if (dot == NULL)
        return slim_cfg_get(doc->root, key);
    char parent[32];
    snprintf(parent, sizeof parent, "%.*s", (int)(dot - key), key);
    slim_cfg_node *map = slim_cfg_get(doc->root, parent);
    if ((*st = slim_cfg_expect(doc, map, parent, SLIM_CFG_MAP, err)) != SLIM_OK)
        return NULL;
    return slim_cfg_get(map, dot + 1);
}

static int load_file(ctl_options *o, const char *path, bool node_connect) {
    slim_cfg_doc *doc = NULL;
    slim_cfg_error err;
    if (slim_cfg_load_file(path, &doc, &err) != SLIM_OK) {
        ctl_err("config: %s", err.msg);
        return CTL_EXIT_USAGE;
    }
    int rc = CTL_EXIT_OK;
    for (size_t i = 0; rc == CTL_EXIT_OK && i < N_SETTINGS; i++) {
        slim_status st = SLIM_OK;
        slim_cfg_node *n = lookup(doc, settings[i].key, &err, &st);
        if (st == SLIM_OK && (n == NULL || (node_connect && settings[i].id == CTL_O_SERVER)))
            continue;
        const char *text = NULL;
        bool b = false;
        if (st == SLIM_OK && settings[i].is_bool)
            st = slim_cfg_bool(doc, n, settings[i].key, &b, &err);
        else if (st == SLIM_OK)
            st = slim_cfg_string(doc, n, settings[i].key, &text, &err);
        if (st != SLIM_OK) {
            ctl_err("config: %s", err.msg);
            rc = CTL_EXIT_USAGE;
            break;
        }
        if (settings[i].is_bool)
            text = b ? "true" : "false";
        char from[600];
        snprintf(from, sizeof from, "%s:%u: %s", doc->source, n->line, settings[i].key);
        rc = settings[i].set(o, text, from);
    }
    if (rc == CTL_EXIT_OK)
        slim_cfg_unknown_keys(doc->root, "", warn_unknown, doc->source);
    slim_cfg_free(doc);
    return rc;
}

static bool readable(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f != NULL)
        fclose(f);
    return f != NULL;
}

/* After the layers: checks the TLS settings and decides whether TLS is on
 * (an https:// server gets it; a bare HOST:PORT becomes https:// when a
 * CA, a client certificate or --tls-insecure asks for TLS). */
static int finish_tls(ctl_options *o, const ctl_flags *flags) {
    ctl_tls *t = &o->tls;
    if ((t->cert_file != NULL) != (t->key_file != NULL)) {
        ctl_err("%s without %s: a client certificate needs both (see slimctl --help)",
                t->cert_file != NULL ? "--tls-cert" : "--tls-key",
                t->cert_file != NULL ? "--tls-key" : "--tls-cert");
        return CTL_EXIT_USAGE;
    }
    const char *files[][2] = {
        {"--tls-ca", t->ca_file}, {"--tls-cert", t->cert_file}, {"--tls-key", t->key_file}};
    for (size_t i = 0; i < 3; i++) {
        if (files[i][1] != NULL && !readable(files[i][1])) {
            ctl_err("%s: cannot read %s", files[i][0], files[i][1]);
            return CTL_EXIT_USAGE;
        }
    }
    bool https = strncmp(o->server, "https://", 8) == 0;
    bool plain = strncmp(o->server_text, "http://", 7) == 0;
    /* tls.insecure from the file or the environment alone keeps upstream's
     * meaning (plaintext); --tls-insecure asks for TLS. */
    bool want = t->ca_file != NULL || t->cert_file != NULL ||
                (t->insecure && flags->value[CTL_O_TLS_INSECURE] != NULL);
    if (plain &&
        (t->ca_file != NULL || t->cert_file != NULL || flags->value[CTL_O_TLS_INSECURE] != NULL)) {
        ctl_err("the server %s is plaintext (http://) but TLS options are given: use "
                "https:// or HOST:PORT (see slimctl --help)",
                o->server_text);
        return CTL_EXIT_USAGE;
    }
    if (plain) {
        t->insecure = false; /* upstream's "insecure: true": plaintext, as here */
        o->use_tls = false;
        return CTL_EXIT_OK;
    }
    o->use_tls = https || want;
    if (o->use_tls && !https) {
        size_t n = strlen(o->server) - 7; /* "http://" was added by set_server */
        char *s = ctl_xcalloc(8 + n + 1, 1);
        memcpy(s, "https://", 8);
        memcpy(s + 8, o->server + 7, n);
        free(o->server);
        o->server = s;
    }
    return CTL_EXIT_OK;
}

int ctl_options_load(const ctl_flags *flags, ctl_options *out) {
    memset(out, 0, sizeof *out);
    int rc = set_server(out, flags->node_connect ? DEFAULT_NC_SERVER : DEFAULT_SERVER, "default");
    out->timeout_ms = DEFAULT_TIMEOUT_MS;
    out->output = CTL_OUTPUT_TABLE;

    const char *file = flags->value[CTL_O_CONFIG];
    char home_file[4096];
    if (rc == CTL_EXIT_OK && file == NULL) {
        const char *home = getenv("HOME");
        if (home != NULL && home[0] != '\0') {
            snprintf(home_file, sizeof home_file, "%s/.slimctl/config.yaml", home);
            if (access(home_file, F_OK) == 0)
                file = home_file;
        }
    }
    if (rc == CTL_EXIT_OK && file != NULL)
        rc = load_file(out, file, flags->node_connect);

    for (size_t i = 0; rc == CTL_EXIT_OK && i < N_SETTINGS; i++) {
        if (flags->node_connect && settings[i].id == CTL_O_SERVER)
            continue;
        const char *v = getenv(settings[i].env);
        if (v != NULL && v[0] != '\0')
            rc = settings[i].set(out, v, settings[i].env);
    }
    for (size_t i = 0; rc == CTL_EXIT_OK && i < N_SETTINGS; i++) {
        const char *v = flags->value[settings[i].id];
        if (v != NULL)
            rc = settings[i].set(out, v, settings[i].flag);
    }
    if (rc == CTL_EXIT_OK)
        rc = finish_tls(out, flags);
    if (rc != CTL_EXIT_OK)
        ctl_options_cleanup(out);
    return rc;
}

void ctl_options_cleanup(ctl_options *o) {
    free(o->server);
    free(o->server_text);
    free(o->tls.ca_file);
    free(o->tls.cert_file);
    free(o->tls.key_file);
    free(o->token);
    if (o->shared_secret != NULL) {
        slim_memzero(o->shared_secret, strlen(o->shared_secret));
        free(o->shared_secret);
    }
    memset(o, 0, sizeof *o);
}
