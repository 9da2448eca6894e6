/*
 * slim-control-plane: the controller.
 *
 *   slim-control-plane [--config FILE]   (also -config FILE, upstream's spelling)
 *   slim-control-plane --version | --help
 *
 * It prints one line per listener, "listening northbound 127.0.0.1:50051",
 * "listening southbound 127.0.0.1:50052" and, with metrics.endpoint,
 * "listening metrics 127.0.0.1:9465", which scripts can wait for.
 * SIGTERM/SIGINT stop it after draining (exit 0). Exit status 1 is for
 * start-up and configuration errors.
 */
#include "control/ctl.h"
#include "control/store.h"
#include "core/log.h"
#include "slim/slim.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

static void usage(FILE *f) {
    fprintf(f, "usage: slim-control-plane [--config FILE]\n"
               "       slim-control-plane --version | --help\n"
               "\n"
               "Runs the SLIM controller: the northbound gRPC API (ControlPlaneService, for\n"
               "slimctl and programs) and the southbound one the nodes dial, with its state\n"
               "in SQLite.\n"
               "\n"
               "options:\n"
               "  -c, --config FILE   the YAML configuration (also -config FILE); without it\n"
               "                      ./config.yaml when that exists, else the defaults:\n"
               "                      northbound 127.0.0.1:50051, southbound 127.0.0.1:50052,\n"
               "                      database ./slim-control-plane.db\n"
               "  -v, --version       print the version and exit\n"
               "  -h, --help          print this help and exit\n"
               "\n"
               "Configuration keys: northbound.{httpHost,httpPort,tls.{certFile,keyFile,\n"
               "caFile},auth.tokens}, southbound.{httpHost,httpPort,tls.{certFile,keyFile,\n"
               "caFile},auth.{sharedSecret,nodes}}, logging.level, database.path,\n"
               "routes.automatic, timeouts.{node,channel,register,drain}, metrics.endpoint.\n"
               "A tls block may also use a node ServerConfig's keys (source, client_ca, ...).\n"
               "Port 0 picks a free port.\n"
               "NB_API_HTTP_HOST, NB_API_HTTP_PORT, SB_API_HTTP_HOST, SB_API_HTTP_PORT and\n"
               "API_LOG_LEVEL override the file. See docs/control-plane.md.\n");
}

static void on_warn(const char *path, unsigned line, const char *why, void *ud) {
    SLIM_LOGW("config", "%s:%u: %s: %s", (const char *)ud, line, path, why);
}

typedef struct app {
    uv_loop_t loop;
    slim_ctl *ctl;
    uv_signal_t sigterm, sigint;
    int stops;
} app;

static void on_listening(const char *kind, const char *addr, void *ud) {
    (void)ud;
    printf("listening %s %s\n", kind, addr);
    fflush(stdout);
}

static void on_stopped(void *ud) {
    app *a = ud;
    SLIM_LOGI("slim-control-plane", "stopped");
    uv_signal_stop(&a->sigterm);
    uv_signal_stop(&a->sigint);
    uv_stop(&a->loop);
}

static void on_signal(uv_signal_t *s, int signum) {
    app *a = s->data;
    if (++a->stops > 1) {
        SLIM_LOGW("slim-control-plane", "second signal: stopping now");
        on_stopped(a);
        return;
    }
    SLIM_LOGI("slim-control-plane", "signal %d: stopping", signum);
    slim_ctl_shutdown(a->ctl);
}

static void close_walk(uv_handle_t *h, void *ud) {
    (void)ud;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

int main(int argc, char **argv) {
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"version", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL;
    int ch;
    /* getopt_long_only: -config FILE is accepted as upstream's Go flag. */
    while ((ch = getopt_long_only(argc, argv, "c:vh", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            config = optarg;
            break;
        case 'v':
            printf("slim-control-plane %s\n", slim_version());
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
        fprintf(stderr, "slim-control-plane: unexpected argument: %s\n", argv[optind]);
        return 1;
    }
    if (config == NULL && access("config.yaml", R_OK) == 0)
        config = "config.yaml";

    slim_ctl_config cfg;
    slim_cfg_error err = {{0}};
    slim_status st =
        slim_ctl_config_load(config, &cfg, on_warn, (void *)(config ? config : "<defaults>"), &err);
    if (st != SLIM_OK) {
        fprintf(stderr, "slim-control-plane: %s\n", err.msg[0] ? err.msg : slim_status_str(st));
        return 1;
    }
    if (cfg.has_log_level && getenv("SLIM_LOG") == NULL)
        slim_log_set_level(cfg.log_level);

    char why[512] = "";
    slim_store *store = NULL;
    st = slim_store_open(cfg.db_path, &store, why, sizeof why);
    if (st != SLIM_OK) {
        fprintf(stderr, "slim-control-plane: cannot open the database %s: %s\n", cfg.db_path,
                why[0] ? why : slim_status_str(st));
        slim_ctl_config_cleanup(&cfg);
        return 1;
    }

    app a = {0};
    uv_loop_init(&a.loop);
    slim_ctl_callbacks cbs = {on_listening, on_stopped, &a};
    int rc = 0;
    st = slim_ctl_new(&a.loop, &cfg, store, &cbs, &a.ctl);
    if (st == SLIM_OK) {
        uv_signal_t *sigs[] = {&a.sigterm, &a.sigint};
        int nums[] = {SIGTERM, SIGINT};
        for (int i = 0; i < 2; i++) {
            uv_signal_init(&a.loop, sigs[i]);
            sigs[i]->data = &a;
            uv_signal_start(sigs[i], on_signal, nums[i]);
        }
        st = slim_ctl_start(a.ctl);
    }
    if (st != SLIM_OK) {
        fprintf(stderr, "slim-control-plane: cannot start: %s\n", slim_status_str(st));
        rc = 1;
    } else {
        SLIM_LOGI("slim-control-plane", "%s running, database %s", slim_version(), cfg.db_path);
        uv_run(&a.loop, UV_RUN_DEFAULT);
    }
    slim_ctl_free(a.ctl);
    uv_walk(&a.loop, close_walk, NULL);
    uv_run(&a.loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&a.loop) != 0)
        SLIM_LOGW("slim-control-plane", "event loop closed with handles still open");
    slim_store_close(store);
    slim_ctl_config_cleanup(&cfg);
    return rc;
}
