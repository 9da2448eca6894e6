/*
 * Raw loopback sockets for the benchmarks' peers (nats-server's text
 * protocol, the raw-TCP relay): connect, and whole reads and writes.
 */
#ifndef SLIM_BENCH_NET_H
#define SLIM_BENCH_NET_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <unistd.h>

/* A connected TCP socket to 127.0.0.1:port with TCP_NODELAY, or -1. */
static inline int bench_tcp_connect(int port) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s < 0)
        return -1;
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
        close(s);
        return -1;
    }
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return s;
}

/* Writes (reads) all n bytes; false on an error or the end of the stream. */
static inline bool bench_write_all(int s, const void *p, size_t n) {
    for (const char *c = p; n > 0;) {
        ssize_t w = write(s, c, n);
        if (w <= 0)
            return false;
        c += w;
        n -= (size_t)w;
    }
    return true;
}

static inline bool bench_read_all(int s, void *p, size_t n) {
    for (char *c = p; n > 0;) {
        ssize_t r = read(s, c, n);
        if (r <= 0)
            return false;
        c += r;
        n -= (size_t)r;
    }
    return true;
}

#endif
