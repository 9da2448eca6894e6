#include "node_proc.h"

#include "core/time.h"
#include "test.h"

#include <poll.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(int ms) {
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

bool test_node_start(test_node *n, const char *dataplane_extra) {
    return test_node_start_at(n, 0, dataplane_extra);
}

bool test_node_start_at(test_node *n, int port, const char *dataplane_extra) {
    memset(n, 0, sizeof *n);
    n->pid = -1;
    const char *bin = getenv("SLIM_BIN");
    if (bin == NULL)
        return false;
    snprintf(n->dir, sizeof n->dir, "/tmp/slim-test-XXXXXX");
    if (mkdtemp(n->dir) == NULL)
        return false;
    char cfg[128];
    snprintf(cfg, sizeof cfg, "%s/config.yaml", n->dir);
    FILE *f = fopen(cfg, "w");
    if (f == NULL)
        return false;
    fprintf(f,
            "metrics: {endpoint: \"127.0.0.1:0\"}\n"
            "services:\n"
            "  slim/0:\n"
            "    dataplane:\n"
            "      servers:\n"
            "        - endpoint: \"127.0.0.1:%d\"\n"
            "          tls: {insecure: true}\n"
            "%s",
            port, dataplane_extra != NULL ? dataplane_extra : "");
    fclose(f);
    int p[2];
    if (pipe(p) != 0)
        return false;
    n->pid = fork();
    if (n->pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        char log[128];
        snprintf(log, sizeof log, "%s/node.log", n->dir);
        FILE *l = freopen(log, "w", stderr);
        (void)l;
        if (getenv("SLIM_TEST_KEEP") != NULL && getenv("SLIM_LOG") == NULL)
            setenv("SLIM_LOG", "info", 1); /* the kept log holds its counters */
        execl(bin, bin, "--config", cfg, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    n->out_fd = p[0];
    /* Read lines until both listeners are known (or 20 s). */
    char buf[4096];
    size_t len = 0;
    time_t deadline = time(NULL) + 20;
    while ((n->port == 0 || n->metrics_port == 0) && time(NULL) < deadline &&
           len < sizeof buf - 1) {
        ssize_t r = read(n->out_fd, buf + len, sizeof buf - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
        buf[len] = 0;
        const char *d = strstr(buf, "listening dataplane 127.0.0.1:");
        const char *m = strstr(buf, "listening metrics 127.0.0.1:");
        if (d != NULL)
            n->port = atoi(d + strlen("listening dataplane 127.0.0.1:"));
        if (m != NULL)
            n->metrics_port = atoi(m + strlen("listening metrics 127.0.0.1:"));
    }
    if (n->port == 0 || n->metrics_port == 0) {
        test_node_stop(n);
        return false;
    }
    return true;
}

void test_node_stop(test_node *n) {
    test_node_signal_stop(n, SIGTERM);
}

void test_node_kill(test_node *n) {
    test_node_signal_stop(n, SIGKILL);
}

void test_node_signal_stop(test_node *n, int sig) {
    if (n->pid > 0) {
        if (getenv("SLIM_TEST_KEEP") != NULL) { /* its counters into the kept log */
            kill(n->pid, SIGUSR1);
            struct timespec t = {0, 300000000};
            nanosleep(&t, NULL);
        }
        kill(n->pid, sig);
        int status;
        waitpid(n->pid, &status, 0);
        n->pid = -1;
    }
    if (n->out_fd > 0)
        close(n->out_fd);
    n->out_fd = 0;
    if (n->dir[0] != 0 && getenv("SLIM_TEST_KEEP") != NULL) {
        fprintf(stderr, "  node files (its log too) kept in %s\n", n->dir);
        n->dir[0] = 0;
    }
    if (n->dir[0] != 0) {
        char cmd[160];
        snprintf(cmd, sizeof cmd, "rm -rf %s", n->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", n->dir);
        n->dir[0] = 0;
    }
}

long test_rss_kib(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = atol(line + 6);
    if (f != NULL)
        fclose(f);
    return kib;
}

double test_node_metric(const test_node *n, const char *series) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)n->metrics_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
        close(s);
        return -1;
    }
    const char req[] = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (write(s, req, sizeof req - 1) != (ssize_t)(sizeof req - 1)) {
        close(s);
        return -1;
    }
    static char body[1 << 20];
    size_t len = 0;
    ssize_t r;
    while (len < sizeof body - 1 && (r = read(s, body + len, sizeof body - 1 - len)) > 0)
        len += (size_t)r;
    close(s);
    body[len] = 0;
    size_t sl = strlen(series);
    for (char *line = body; line != NULL && *line; line = strchr(line, '\n')) {
        if (*line == '\n')
            line++;
        if (strncmp(line, series, sl) == 0)
            return atof(line + sl);
    }
    return -1;
}

bool test_node_wait_metric(const test_node *n, const char *series, double want, int timeout_ms) {
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        if (test_node_metric(n, series) == want)
            return true;
        sleep_ms(20);
    }
    return false;
}

bool test_proxy_start(test_proxy *p, int upstream_port, const char *args) {
    memset(p, 0, sizeof *p);
    p->pid = -1;
    const char *script = getenv("SLIM_FAULTPROXY");
    if (script == NULL)
        return false;
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "exec /usr/bin/python3 %s --listen 127.0.0.1:0 --upstream 127.0.0.1:%d %s", script,
             upstream_port, args != NULL ? args : "");
    int fds[2];
    if (pipe(fds) != 0)
        return false;
    p->pid = fork();
    if (p->pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    p->out_fd = fds[0];
    char buf[1024];
    size_t len = 0;
    time_t deadline = time(NULL) + 20;
    while (p->port == 0 && time(NULL) < deadline && len < sizeof buf - 1) {
        ssize_t r = read(p->out_fd, buf + len, sizeof buf - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
        buf[len] = 0;
        const char *l = strstr(buf, "listening faultproxy 127.0.0.1:");
        if (l != NULL)
            p->port = atoi(l + strlen("listening faultproxy 127.0.0.1:"));
    }
    if (p->port == 0) {
        test_proxy_stop(p);
        return false;
    }
    return true;
}

void test_proxy_stop(test_proxy *p) {
    if (p->pid > 0) {
        kill(p->pid, SIGTERM);
        int status;
        waitpid(p->pid, &status, 0);
        p->pid = -1;
    }
    if (p->out_fd > 0)
        close(p->out_fd);
    p->out_fd = 0;
}

bool test_lossy_proxies_start(test_proxy *px, int n, int upstream_port, int seed, int *ports) {
    bool ok = true;
    for (int i = 0; i < n; i++) {
        char args[96];
        snprintf(args, sizeof args, "--seed %d --drop 0.05 --dup 0.03 --reorder-window 4",
                 seed + i);
        ok &= test_proxy_start(&px[i], upstream_port, args);
        ports[i] = px[i].port;
    }
    return ok;
}

void test_proxies_stop(test_proxy *px, int n) {
    for (int i = 0; i < n; i++)
        test_proxy_stop(&px[i]);
}

bool test_skip_under_sanitizers(const char *what) {
    if (getenv("SLIM_TEST_SANITIZED") == NULL)
        return false;
    fprintf(stderr, "  %s: skipped under sanitizers (run by the plain build)\n", what);
    return true;
}

/* ---- apps ---- */

/* test_app_at and test_app_with; `report`: a failure is a test failure. */
static slim_app *app_connected(const char *name, const slim_identity_config *p,
                               const slim_identity_config *v, const slim_app_options *o, int port,
                               bool report) {
    slim_app *app = NULL;
    slim_status st = slim_app_new(name, p, v, o, &app);
    if (st != SLIM_OK) {
        if (report)
            TEST_FAIL_AT("slim_app_new(%s): %s", name, slim_status_name(st));
        return NULL;
    }
    char ep[64];
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d", port);
    slim_client_options c = {.endpoint = ep};
    if ((st = slim_app_connect(app, &c, 10000, NULL)) != SLIM_OK) {
        if (report)
            TEST_FAIL_AT("%s did not connect: %s", name, slim_status_name(st));
        slim_app_free(app, 0);
        return NULL;
    }
    return app;
}

slim_app *test_app_at(const char *name, const char *id, const char *secret, int port,
                      const slim_app_options *o) {
    slim_identity_config ident = {.kind = SLIM_IDENTITY_SHARED_SECRET, .id = id, .secret = secret};
    return app_connected(name, &ident, &ident, o, port, false);
}

slim_app *test_app_with(const char *name, const slim_identity_config *p,
                        const slim_identity_config *v, const slim_app_options *o, int port) {
    return app_connected(name, p, v, o, port, true);
}

slim_status test_publish_retrying(slim_app *app, slim_session_id s, slim_bytes b, int retry_ms) {
    return test_publish_retrying_id(app, s, b, retry_ms, NULL);
}

slim_status test_publish_retrying_id(slim_app *app, slim_session_id s, slim_bytes b, int retry_ms,
                                     uint32_t *id) {
    slim_status st;
    while ((st = slim_session_publish(app, s, b, NULL, 10000, id)) == SLIM_E_QUEUE_FULL)
        sleep_ms(retry_ms);
    return st;
}

slim_bytes test_text(const char *s) {
    return (slim_bytes){(const uint8_t *)s, strlen(s)};
}

bool test_wait_op(slim_app *app, slim_op op, slim_event *ev, int timeout_ms) {
    uint64_t end = slim_now_ms() + (uint64_t)timeout_ms;
    while (slim_now_ms() < end) {
        struct pollfd p = {.fd = slim_app_fd(app), .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        while (slim_app_next_event(app, 0, ev) == SLIM_OK)
            if (ev->kind == SLIM_EVENT_OP_DONE && ev->op == op)
                return true;
    }
    return false;
}

bool test_wait_event(slim_app *app, slim_event_kind kind, slim_session_id s, slim_event *ev,
                     int timeout_ms) {
    uint64_t end = slim_now_ms() + (uint64_t)timeout_ms;
    while (slim_now_ms() < end)
        if (slim_app_next_event(app, 50, ev) == SLIM_OK && ev->kind == kind && ev->session == s)
            return true;
    return false;
}
