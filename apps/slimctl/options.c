/*
 * slimctl's settings, in layers (later wins):
 *   1. defaults: server 127.0.0.1:50051, timeout 15s, output table;
 *   2. a YAML config file: the one --config names (it must exist), else
 *      $HOME/.slimctl/config.yaml when it exists; keys server, timeout,
 *      output (others are reported and ignored);
 *   3. the environment: SLIMCTL_SERVER, SLIMCTL_TIMEOUT, SLIMCTL_OUTPUT
 *      (empty counts as unset);
 *   4. the command line flags.
 * Each layer's values are checked when applied, and a bad one is reported
 * with where it came from.
 */
#include "slimctl.h"

#include "config/cfg.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_SERVER     "127.0.0.1:50051"
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

/* The settings a layer can give, in the same order for every layer. */
typedef int (*setter)(ctl_options *o, const char *text, const char *from);
static const struct {
    const char *key; /* config key */
    const char *env;
    const char *flag;
    ctl_opt_id id;
    setter set;
} settings[] = {
    {"server", "SLIMCTL_SERVER", "--server", CTL_O_SERVER, set_server},
    {"timeout", "SLIMCTL_TIMEOUT", "--timeout", CTL_O_TIMEOUT, set_timeout},
    {"output", "SLIMCTL_OUTPUT", "--output", CTL_O_OUTPUT, set_output},
};
#define N_SETTINGS (sizeof settings / sizeof settings[0])

static void warn_unknown(const char *path, unsigned line, void *ud) {
    const char *file = ud;
    fprintf(stderr, "slimctl: warning: %s:%u: unknown key \"%s\" (ignored)\n", file, line, path);
}

static int load_file(ctl_options *o, const char *path) {
    slim_cfg_doc *doc = NULL;
    slim_cfg_error err;
    if (slim_cfg_load_file(path, &doc, &err) != SLIM_OK) {
        ctl_err("config: %s", err.msg);
        return CTL_EXIT_USAGE;
    }
    int rc = CTL_EXIT_OK;
    for (size_t i = 0; rc == CTL_EXIT_OK && i < N_SETTINGS; i++) {
        slim_cfg_node *n = slim_cfg_get(doc->root, settings[i].key);
        if (n == NULL)
            continue;
        const char *text;
        if (slim_cfg_string(doc, n, settings[i].key, &text, &err) != SLIM_OK) {
            ctl_err("config: %s", err.msg);
            rc = CTL_EXIT_USAGE;
            break;
        }
        char from[600];
        snprintf(from, sizeof from, "%s:%u: %s", doc->source, n->line, settings[i].key);
        rc = settings[i].set(o, text, from);
    }
    if (rc == CTL_EXIT_OK)
        slim_cfg_unknown_keys(doc->root, "", warn_unknown, doc->source);
    slim_cfg_free(doc);
    return rc;
}

int ctl_options_load(const ctl_flags *flags, ctl_options *out) {
    memset(out, 0, sizeof *out);
    int rc = set_server(out, DEFAULT_SERVER, "default");
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
        rc = load_file(out, file);

    for (size_t i = 0; rc == CTL_EXIT_OK && i < N_SETTINGS; i++) {
        const char *v = getenv(settings[i].env);
        if (v != NULL && v[0] != '\0')
            rc = settings[i].set(out, v, settings[i].env);
    }
    for (size_t i = 0; rc == CTL_EXIT_OK && i < N_SETTINGS; i++) {
        const char *v = flags->value[settings[i].id];
        if (v != NULL)
            rc = settings[i].set(out, v, settings[i].flag);
    }
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
    memset(o, 0, sizeof *o);
}
