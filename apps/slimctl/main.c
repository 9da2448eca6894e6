/*
 * slimctl: the command line of the SLIM controller's northbound API
 * (controlplane.proto.v1.ControlPlaneService, docs/slimctl.md), and of a
 * node's own control endpoint (node-connect).
 *
 *   slimctl [options] <group> <command> [arguments] [options]
 *   slimctl node-connect [ENDPOINT] <group> <command> [arguments] [options]
 *
 * Options may come anywhere on the line ("--" ends them). The command tree
 * is the table `root` below: groups with their subcommand tables (defined
 * next to their code in cmd_*.c) and single commands (version). Options
 * are the table `options`: the global ones apply everywhere, the others
 * only to the commands whose entry lists their CTL_OPT_* bit.
 */
#include "slimctl.h"

#include "slim/slim.h"

#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <uv.h>

/* ---- Options ---- */

typedef struct opt_def {
    ctl_opt_id id;
    const char *lng;
    char shrt;       /* 0: none */
    const char *arg; /* NULL: takes no value */
    unsigned scope;  /* 0: global; else the CTL_OPT_* bit */
    const char *help;
} opt_def;

static const opt_def options[] = {
    {CTL_O_SERVER, "server", 's', "HOST:PORT", 0,
     "the controller's northbound API (default 127.0.0.1:50051;\n"
     "node-connect: the node's control endpoint, default\n"
     "127.0.0.1:46358); http:// for plaintext, https:// for TLS"},
    {CTL_O_TIMEOUT, "timeout", 0, "DURATION", 0,
     "time allowed for the call: 500ms, 2s, 1m (default 15s)"},
    {CTL_O_OUTPUT, "output", 'o', "FORMAT", 0, "table or json (default table)"},
    {CTL_O_CONFIG, "config", 0, "FILE", 0, "config file (default $HOME/.slimctl/config.yaml)"},
    {CTL_O_TLS_CA, "tls-ca", 0, "FILE", 0,
     "TLS: CA certificates (PEM) to verify the server with,\n"
     "besides the system roots"},
    {CTL_O_TLS_CERT, "tls-cert", 0, "FILE", 0,
     "TLS: client certificate (PEM) for mutual TLS; with --tls-key"},
    {CTL_O_TLS_KEY, "tls-key", 0, "FILE", 0, "TLS: the client certificate's private key (PEM)"},
    {CTL_O_TLS_INSECURE, "tls-insecure", 0, NULL, 0,
     "TLS without verifying the server's certificate"},
    {CTL_O_TOKEN, "token", 0, "TEXT", 0, "sent as \"authorization: Bearer TEXT\""},
    {CTL_O_SHARED_SECRET, "shared-secret", 0, "TEXT", 0,
     "sign a token for the identity slimctl with this secret and\n"
     "send it as the bearer token (unless --token is given)"},
    {CTL_O_HELP, "help", 'h', NULL, 0, "print help and exit"},
    {CTL_O_NODE_ID, "node-id", 'n', "NODE", CTL_OPT_NODE_ID, "the node, e.g. slim/0"},
    {CTL_O_CHANNEL_ID, "channel-id", 'c', "CHANNEL", CTL_OPT_CHANNEL_ID,
     "the channel, e.g. org/ns/channel"},
};
#define N_OPTIONS (sizeof options / sizeof options[0])

/* ---- Commands ---- */

static int cmd_version(ctl_ctx *ctx);

static const ctl_cmd root[] = {
    {.name = "node",
     .aliases = {"nodes"},
     .summary = "Nodes registered with the controller",
     .subs = ctl_node_subs},
    {.name = "connection",
     .aliases = {"conn", "connections"},
     .summary = "A node's connections",
     .subs = ctl_connection_subs},
    {.name = "subscription",
     .aliases = {"sub", "subscriptions"},
     .summary = "A node's subscriptions",
     .subs = ctl_subscription_subs},
    {.name = "route",
     .aliases = {"routes"},
     .summary = "Routes: how a node reaches a name through another node",
     .subs = ctl_route_subs},
    {.name = "channel",
     .aliases = {"channels"},
     .summary = "Channels: groups of participants under moderators",
     .subs = ctl_channel_subs},
    {.name = "participant",
     .aliases = {"participants"},
     .summary = "A channel's participants",
     .subs = ctl_participant_subs},
    {.name = CTL_NC_NAME,
     .aliases = {"nc"},
     .args = "[ENDPOINT]",
     .summary = "Commands sent straight to a node's control endpoint",
     .details = "ENDPOINT is the node's control endpoint: HOST:PORT, http://HOST:PORT or\n"
                "https://HOST:PORT; without it --server, else 127.0.0.1:46358 (the\n"
                "config file's and SLIMCTL_SERVER's server are the controller's and are\n"
                "not used here). Each command opens one OpenControlChannel stream, sends\n"
                "one message and reads the node's answer.",
     .subs = ctl_nc_subs},
    {.name = "version",
     .args = "",
     .summary = "Print slimctl's version and build information",
     .run = cmd_version},
    {0},
};

static const ctl_cmd *find_cmd(const ctl_cmd *table, const char *name) {
    for (const ctl_cmd *c = table; c->name != NULL; c++) {
        if (strcmp(c->name, name) == 0)
            return c;
        for (size_t i = 0; i < 3 && c->aliases[i] != NULL; i++)
            if (strcmp(c->aliases[i], name) == 0)
                return c;
    }
    return NULL;
}

/* ---- Help ---- */

static void print_opt(FILE *f, const opt_def *o, bool required) {
    char left[64];
    if (o->shrt != 0)
        snprintf(left, sizeof left, "-%c, --%s%s%s", o->shrt, o->lng, o->arg ? " " : "",
                 o->arg ? o->arg : "");
    else
        snprintf(left, sizeof left, "    --%s%s%s", o->lng, o->arg ? " " : "",
                 o->arg ? o->arg : "");
    fprintf(f, "  %-26s ", left);
    for (const char *p = o->help; *p != '\0'; p++) {
        fputc(*p, f);
        if (*p == '\n')
            fprintf(f, "  %-26s ", "");
    }
    fputs(required ? " (required)\n" : "\n", f);
}

static void print_global_opts(FILE *f) {
    fputs("\nGlobal options:\n", f);
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (options[i].scope == 0)
            print_opt(f, &options[i], false);
}

static void print_aliases(FILE *f, const ctl_cmd *c) {
    if (c->aliases[0] == NULL)
        return;
    fputs("Aliases:", f);
    for (size_t i = 0; i < 3 && c->aliases[i] != NULL; i++)
        fprintf(f, " %s", c->aliases[i]);
    fputc('\n', f);
}

/* Calls fn for every leaf under the groups of table, with its path
 * ("route add", "node-connect route list"). */
static void each_leaf(const ctl_cmd *table, const char *prefix,
                      void (*fn)(const char *path, const ctl_cmd *c, void *ud), void *ud) {
    for (const ctl_cmd *c = table; c->name != NULL; c++) {
        char path[96];
        int n =
            snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] != '\0' ? " " : "", c->name);
        if (n < 0 || (size_t)n >= sizeof path)
            continue; /* no command path is that long */
        if (c->subs != NULL)
            each_leaf(c->subs, path, fn, ud);
        else
            fn(path, c, ud);
    }
}

static void leaf_width(const char *path, const ctl_cmd *c, void *ud) {
    (void)c;
    int *w = ud;
    if ((int)strlen(path) > *w)
        *w = (int)strlen(path);
}

typedef struct leaf_print {
    FILE *f;
    int width;
} leaf_print;

static void leaf_line(const char *path, const ctl_cmd *c, void *ud) {
    leaf_print *lp = ud;
    fprintf(lp->f, "  %-*s %s\n", lp->width, path, c->summary);
}

static void print_leaves(FILE *f, const ctl_cmd *table, const char *prefix) {
    leaf_print lp = {f, 8};
    each_leaf(table, prefix, leaf_width, &lp.width);
    each_leaf(table, prefix, leaf_line, &lp);
}

static void print_root_help(FILE *f) {
    fputs("slimctl - command line of the SLIM controller (slim-control-plane)\n"
          "\n"
          "Usage:\n"
          "  slimctl <command> [<subcommand>] [arguments] [options]\n"
          "  slimctl node-connect [ENDPOINT] <command> <subcommand> [arguments] [options]\n"
          "\n"
          "Commands:\n",
          f);
    print_leaves(f, root, "");
    print_global_opts(f);
    fputs("\n"
          "Settings come from the defaults, then the config file (keys server, timeout,\n"
          "output, tls.ca_file, tls.cert_file, tls.key_file, tls.insecure, token,\n"
          "shared_secret), then the environment (SLIMCTL_SERVER, SLIMCTL_TIMEOUT,\n"
          "SLIMCTL_OUTPUT, SLIMCTL_TLS_CA, SLIMCTL_TLS_CERT, SLIMCTL_TLS_KEY,\n"
          "SLIMCTL_TLS_INSECURE, SLIMCTL_TOKEN, SLIMCTL_SHARED_SECRET), then the options;\n"
          "later ones win. TLS is used for an https:// server, and for HOST:PORT when\n"
          "a CA, a client certificate or insecure is set; http:// is plaintext.\n"
          "Exit status: 0 success, 1 the call failed, 2 usage error.\n"
          "Run 'slimctl <command> --help' for more about a command.\n",
          f);
}

/* path: the group's path ("route", "node-connect route"); usage: the same
 * with the arguments of the groups above ("node-connect [ENDPOINT] route"). */
static void print_group_help(FILE *f, const char *path, const char *usage, const ctl_cmd *g) {
    fprintf(f, "%s\n\nUsage:\n  slimctl %s <subcommand> [arguments] [options]\n\n", g->summary,
            usage);
    if (g->details != NULL)
        fprintf(f, "%s\n\n", g->details);
    print_aliases(f, g);
    fputs("Subcommands:\n", f);
    print_leaves(f, g->subs, "");
    print_global_opts(f);
    fprintf(f, "\nRun 'slimctl %s <subcommand> --help' for more about a subcommand.\n", path);
}

static void print_leaf_help(FILE *f, const char *usage, const ctl_cmd *c) {
    fprintf(f, "%s\n\nUsage:\n  slimctl %s", c->summary, usage);
    if (c->args != NULL && c->args[0] != '\0')
        fprintf(f, " %s", c->args);
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (options[i].scope & c->required)
            fprintf(f, " --%s %s", options[i].lng, options[i].arg);
    fputs(" [options]\n", f);
    if (c->details != NULL)
        fprintf(f, "\n%s\n", c->details);
    if (c->aliases[0] != NULL) {
        fputc('\n', f);
        print_aliases(f, c);
    }
    if (c->opts != 0) {
        fputs("\nOptions:\n", f);
        for (size_t i = 0; i < N_OPTIONS; i++)
            if (options[i].scope & c->opts)
                print_opt(f, &options[i], (options[i].scope & c->required) != 0);
    }
    print_global_opts(f);
}

/* ---- Parsing ---- */

static const opt_def *find_long(const char *name, size_t len) {
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (strlen(options[i].lng) == len && strncmp(options[i].lng, name, len) == 0)
            return &options[i];
    return NULL;
}

static const opt_def *find_short(char c) {
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (options[i].shrt == c)
            return &options[i];
    return NULL;
}

/* Splits argv into options (flags) and positional arguments (pos, npos). */
static int parse_args(int argc, char **argv, ctl_flags *flags, char **pos, int *npos) {
    *npos = 0;
    bool only_pos = false;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] == '\0') {
            pos[(*npos)++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        const opt_def *o;
        const char *value = NULL;
        if (a[1] == '-') {
            const char *eq = strchr(a + 2, '=');
            size_t len = eq != NULL ? (size_t)(eq - (a + 2)) : strlen(a + 2);
            o = find_long(a + 2, len);
            if (o != NULL && eq != NULL) {
                if (o->arg == NULL) {
                    ctl_err("option --%s takes no value (see slimctl --help)", o->lng);
                    return CTL_EXIT_USAGE;
                }
                value = eq + 1;
            }
        } else {
            o = find_short(a[1]);
            if (o != NULL && a[2] != '\0') {
                if (o->arg == NULL) {
                    o = NULL; /* "-hx": not an option we know */
                } else {
                    value = a[2] == '=' ? a + 3 : a + 2;
                }
            }
        }
        if (o == NULL) {
            ctl_err("unknown option %s (see slimctl --help)", a);
            return CTL_EXIT_USAGE;
        }
        if (o->id == CTL_O_HELP) {
            flags->help = true;
            continue;
        }
        if (o->arg == NULL) {
            flags->value[o->id] = "true";
            continue;
        }
        if (value == NULL) {
            if (i + 1 >= argc) {
                ctl_err("option %s needs a value %s (see slimctl --help)", a, o->arg);
                return CTL_EXIT_USAGE;
            }
            value = argv[++i];
        }
        flags->value[o->id] = value;
    }
    return CTL_EXIT_OK;
}

/* Checks the command-specific options against the command, then runs it. */
static int run_leaf(const ctl_cmd *c, const char *path, const ctl_flags *flags, int argc,
                    char **argv) {
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const opt_def *o = &options[i];
        if (o->scope == 0)
            continue;
        const char *v = flags->value[o->id];
        if (v != NULL && !(o->scope & c->opts)) {
            ctl_err("%s: unknown option --%s (see slimctl %s --help)", path, o->lng, path);
            return CTL_EXIT_USAGE;
        }
        if ((o->scope & c->required) && v == NULL) {
            ctl_err("%s: --%s is required (see slimctl %s --help)", path, o->lng, path);
            return CTL_EXIT_USAGE;
        }
        if (v != NULL && v[0] == '\0') {
            ctl_err("%s: --%s must not be empty", path, o->lng);
            return CTL_EXIT_USAGE;
        }
    }
    if (argc < c->min_args || argc > c->max_args) {
        ctl_err("%s: %s arguments; usage: slimctl %s %s (see slimctl %s --help)", path,
                argc < c->min_args ? "missing" : "too many", path, c->args, path);
        return CTL_EXIT_USAGE;
    }
    ctl_options opt;
    int rc = ctl_options_load(flags, &opt);
    if (rc != CTL_EXIT_OK)
        return rc;
    ctl_ctx ctx = {c,    path, &opt, flags->value[CTL_O_NODE_ID], flags->value[CTL_O_CHANNEL_ID],
                   argc, argv};
    rc = c->run(&ctx);
    ctl_options_cleanup(&opt);
    return rc;
}

static void add_word(char *buf, size_t cap, const char *word) {
    size_t n = strlen(buf);
    snprintf(buf + n, cap - n, "%s%s", n > 0 ? " " : "", word);
}

/* Walks the command tree down pos[] to a leaf and runs it (or prints the
 * help asked for). node-connect takes an ENDPOINT before its command
 * word: any argument there that is not one and looks like HOST:PORT. */
static int dispatch(ctl_flags *flags, int npos, char **pos) {
    if (npos == 0) {
        print_root_help(flags->help ? stdout : stderr);
        return flags->help ? CTL_EXIT_OK : CTL_EXIT_USAGE;
    }
    const ctl_cmd *table = root;
    char path[128] = "", usage[192] = "";
    int i = 0;
    for (;;) {
        const ctl_cmd *c = find_cmd(table, pos[i]);
        if (c == NULL) {
            if (path[0] == '\0')
                ctl_err("unknown command \"%s\" (see slimctl --help)", pos[i]);
            else
                ctl_err("unknown command \"%s %s\" (see slimctl %s --help)", path, pos[i], path);
            return CTL_EXIT_USAGE;
        }
        add_word(path, sizeof path, c->name);
        add_word(usage, sizeof usage, c->name);
        i++;
        if (c->subs == NULL) {
            if (flags->help) {
                print_leaf_help(stdout, usage, c);
                return CTL_EXIT_OK;
            }
            return run_leaf(c, path, flags, npos - i, pos + i);
        }
        if (table == root && strcmp(c->name, CTL_NC_NAME) == 0) {
            flags->node_connect = true;
            if (i < npos && find_cmd(c->subs, pos[i]) == NULL && strchr(pos[i], ':') != NULL) {
                if (flags->value[CTL_O_SERVER] != NULL) {
                    ctl_err("%s: give the endpoint %s or --server, not both", path, pos[i]);
                    return CTL_EXIT_USAGE;
                }
                flags->value[CTL_O_SERVER] = pos[i++];
            }
            add_word(usage, sizeof usage, c->args);
        }
        if (i == npos) {
            if (flags->help) {
                print_group_help(stdout, path, usage, c);
                return CTL_EXIT_OK;
            }
            ctl_err("%s: missing subcommand (see slimctl %s --help)", path, path);
            return CTL_EXIT_USAGE;
        }
        table = c->subs;
    }
}

/* ---- version ---- */

static int cmd_version(ctl_ctx *ctx) {
    struct utsname u;
    char platform[160] = "unknown";
    if (uname(&u) == 0)
        snprintf(platform, sizeof platform, "%s/%s", u.sysname, u.machine);
    const nghttp2_info *h2 = nghttp2_version(0);
    char pbc[32];
    snprintf(pbc, sizeof pbc, "%s", protobuf_c_version());
    const char *keys[] = {"version", "libslim", "compiler", "platform",  "libuv",
                          "nghttp2", "openssl", "jansson",  "protobuf-c"};
    const char *vals[] = {SLIM_VERSION_STRING,
                          slim_version(),
#ifdef __clang__
                          "clang " __clang_version__,
#elif defined(__GNUC__)
                          "gcc " __VERSION__,
#else
                          "unknown",
#endif
                          platform,
                          uv_version_string(),
                          h2 != NULL ? h2->version_str : "unknown",
                          OpenSSL_version(OPENSSL_VERSION),
                          JANSSON_VERSION,
                          pbc};
    size_t n = sizeof keys / sizeof keys[0];
    if (ctx->opt->output == CTL_OUTPUT_JSON) {
        json_t *j = json_object();
        for (size_t i = 0; j != NULL && i < n; i++)
            json_object_set_new(j, keys[i], json_string(vals[i]));
        json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
        json_decref(j);
        return CTL_EXIT_OK;
    }
    printf("slimctl %s\n", SLIM_VERSION_STRING);
    for (size_t i = 1; i < n; i++)
        printf("  %-11s %s\n", keys[i], vals[i]);
    return CTL_EXIT_OK;
}

int main(int argc, char **argv) {
    /* The transport's own warnings ("cannot connect ...") repeat what the
     * error line says; SLIM_LOG=warn (or debug) brings them back. */
    if (getenv("SLIM_LOG") == NULL)
        slim_log_set_level(SLIM_LOG_ERROR);
    ctl_flags flags;
    memset(&flags, 0, sizeof flags);
    char **pos = ctl_xcalloc((size_t)argc, sizeof *pos);
    int npos = 0;
    int rc = parse_args(argc, argv, &flags, pos, &npos);
    if (rc == CTL_EXIT_OK)
        rc = dispatch(&flags, npos, pos);
    free(pos);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        ctl_err("cannot write the output: %s", strerror(errno));
        if (rc == CTL_EXIT_OK)
            rc = CTL_EXIT_FAIL;
    }
    return rc;
}
