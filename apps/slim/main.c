/*
 * slim: the SLIM node.
 *
 *   slim --config FILE     run a node (also -c FILE, or the CONFIG variable)
 *   slim --check-config    check the config and exit
 *   slim --version | --help
 *
 * On start it prints one line per bound listener on stdout,
 * "listening dataplane 127.0.0.1:41873", which scripts can wait for.
 * SIGTERM/SIGINT drain and stop it (exit 0); SIGUSR1 logs the counters.
 * Exit status 1 is for start-up and configuration errors only.
 */
#include "core/log.h"
#include "node/config.h"
#include "node/node.h"
#include "slim/slim.h"

#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static void usage(FILE *f) {
    fprintf(f, "usage: slim --config FILE [--check-config]\n"
               "       slim --version | --help\n"
               "\n"
               "Runs a SLIM node: the router applications and other nodes connect to.\n"
               "\n"
               "options:\n"
               "  -c, --config FILE   the node's YAML configuration (default: the CONFIG\n"
               "                      environment variable)\n"
               "      --check-config  load and check the configuration, print the problems\n"
               "                      found, and exit (0 when it is usable)\n"
               "  -v, --version       print the version and exit\n"
               "  -h, --help          print this help and exit\n"
               "\n"
               "The node prints one line per bound listener on stdout, for example\n"
               "\"listening dataplane 127.0.0.1:46357\". SIGTERM or SIGINT drain it within\n"
               "runtime.drain_timeout and stop it; SIGUSR1 logs its counters, which are also\n"
               "served on /metrics when the configuration has metrics.endpoint. The log level\n"
               "comes from tracing.log_level, or SLIM_LOG when that is unset.\n"
               "See docs/configuration.md and docs/metrics.md.\n");
}

static int warnings;

static void on_warn(const char *path, unsigned line, const char *why, void *ud) {
    const char *file = ud;
    warnings++;
    SLIM_LOGW("config", "%s:%u: %s: %s", file, line, path, why);
}

typedef struct app {
    uv_loop_t loop;
    slim_node *node;
    uv_signal_t sigterm, sigint, sigusr1;
    uint64_t drain_ms;
    int stops;
} app;

static void on_listening(const char *kind, const char *addr, void *ud) {
    (void)ud;
    printf("listening %s %s\n", kind, addr);
    fflush(stdout);
}

static void close_walk(uv_handle_t *h, void *ud) {
    (void)ud;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void on_stopped(size_t leftover, void *ud) {
    app *a = ud;
    if (leftover > 0)
        SLIM_LOGW("slim", "stopped with %zu connection(s) reset at the drain deadline", leftover);
    else
        SLIM_LOGI("slim", "stopped");
    uv_signal_stop(&a->sigterm);
    uv_signal_stop(&a->sigint);
    uv_signal_stop(&a->sigusr1);
    uv_stop(&a->loop);
}

static void on_signal(uv_signal_t *s, int signum) {
    app *a = s->data;
    if (signum == SIGUSR1) {
        slim_node_log_counters(a->node);
        return;
    }
    if (++a->stops > 1) {
        SLIM_LOGW("slim", "second signal: stopping now");
        on_stopped(slim_node_connections(a->node), a);
        return;
    }
    SLIM_LOGI("slim", "signal %d: draining for up to %llu ms", signum,
              (unsigned long long)a->drain_ms);
    slim_node_shutdown(a->node, a->drain_ms);
}

/* The forwarding path allocates one buffer per message, and send queues
 * swing by megabytes as subscribers catch up. With glibc's default 128 KiB
 * trim threshold the heap top is given back and faulted in again over and
 * over (page faults showed in the node's profile); keeping up to 64 MiB of
 * freed heap raised the 1 KiB delivered rate of the node benchmark by about
 * a third (docs/benchmarks.md). A GLIBC_TUNABLES set by the user wins. */
static void tune_malloc(void) {
    if (getenv("GLIBC_TUNABLES") != NULL)
        return;
    (void)mallopt(M_TRIM_THRESHOLD, 64 << 20);
    (void)mallopt(M_TOP_PAD, 4 << 20);
}

int main(int argc, char **argv) {
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, 'k'},
        {"version", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = getenv("CONFIG");
    bool check_only = false;
    int ch;
    while ((ch = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            config = optarg;
            break;
        case 'k':
            check_only = true;
            break;
        case 'v':
            printf("slim %s\n", slim_version());
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "slim: unexpected argument: %s\n", argv[optind]);
        usage(stderr);
        return 1;
    }
    if (config == NULL || config[0] == '\0') {
        fprintf(stderr, "slim: no configuration: use --config FILE or set CONFIG\n");
        return 1;
    }

    slim_node_config cfg;
    slim_cfg_error err = {{0}};
    slim_status st = slim_node_config_load(config, &cfg, on_warn, (void *)config, &err);
    if (st != SLIM_OK) {
        fprintf(stderr, "slim: %s\n", err.msg[0] ? err.msg : slim_status_str(st));
        return 1;
    }
    if (check_only) {
        printf("%s: usable (%zu server(s), %zu client(s), node id %s, %d warning(s))\n", config,
               cfg.n_servers, cfg.n_clients, cfg.node_id, warnings);
        slim_node_config_cleanup(&cfg);
        return 0;
    }
    if (cfg.has_log_level && getenv("SLIM_LOG") == NULL)
        slim_log_set_level(cfg.log_level);

    tune_malloc();
    app a = {.drain_ms = cfg.drain_timeout_ms};
    uv_loop_init(&a.loop);
    slim_node_callbacks cbs = {on_listening, on_stopped, &a};
    int rc = 0;
    st = slim_node_new(&a.loop, &cfg, &cbs, &a.node);
    if (st == SLIM_OK) {
        /* Before the node starts: once it prints "listening", a script may
         * signal it at once, and the default action would kill it. */
        uv_signal_t *sigs[] = {&a.sigterm, &a.sigint, &a.sigusr1};
        int nums[] = {SIGTERM, SIGINT, SIGUSR1};
        for (int i = 0; i < 3; i++) {
            uv_signal_init(&a.loop, sigs[i]);
            sigs[i]->data = &a;
            uv_signal_start(sigs[i], on_signal, nums[i]);
        }
        st = slim_node_start(a.node);
    }
    if (st != SLIM_OK) {
        fprintf(stderr, "slim: cannot start: %s\n", slim_status_str(st));
        rc = 1;
    } else {
        SLIM_LOGI("slim", "node %s %s running", cfg.node_id, slim_version());
        uv_run(&a.loop, UV_RUN_DEFAULT);
    }
    slim_node_free(a.node);
    uv_walk(&a.loop, close_walk, NULL);
    uv_run(&a.loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&a.loop) != 0)
        SLIM_LOGW("slim", "event loop closed with handles still open");
    slim_node_config_cleanup(&cfg);
    return rc;
}
