/* Endpoint text parsing (see endpoint.h). */
#include "transport/endpoint.h"

#include <stdio.h>
#include <string.h>

static bool has_prefix(const char *s, const char *p) {
    return strncmp(s, p, strlen(p)) == 0;
}

static slim_status parse_unix(const char *path, slim_endpoint *out) {
    size_t n = strlen(path);
    if (n == 0 || n > SLIM_ENDPOINT_PATH_MAX)
        return SLIM_E_TRANSPORT_BAD_ENDPOINT;
    out->kind = SLIM_ENDPOINT_UNIX;
    memcpy(out->path, path, n + 1);
    return SLIM_OK;
}

static slim_status parse_port(const char *p, size_t n, uint16_t *out) {
    if (n == 0 || n > 5)
        return SLIM_E_TRANSPORT_BAD_ENDPOINT;
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return SLIM_E_TRANSPORT_BAD_ENDPOINT;
        v = v * 10 + (uint32_t)(p[i] - '0');
    }
    if (v > 65535)
        return SLIM_E_TRANSPORT_BAD_ENDPOINT;
    *out = (uint16_t)v;
    return SLIM_OK;
}

slim_status slim_endpoint_parse(const char *text, slim_endpoint *out) {
    if (text == NULL)
        return SLIM_E_TRANSPORT_BAD_ENDPOINT;
    slim_endpoint ep;
    memset(&ep, 0, sizeof ep);
    if (has_prefix(text, "unix://")) {
        /* unix:///abs/path: the part after "unix://" must be absolute. */
        if (text[7] != '/')
            return SLIM_E_TRANSPORT_BAD_ENDPOINT;
        slim_status st = parse_unix(text + 7, &ep);
        if (st == SLIM_OK)
            *out = ep;
        return st;
    }
    if (has_prefix(text, "unix:")) {
        slim_status st = parse_unix(text + 5, &ep);
        if (st == SLIM_OK)
            *out = ep;
        return st;
    }
    const char *p = text;
    if (has_prefix(p, "http://")) {
        p += 7;
    } else if (has_prefix(p, "https://")) {
        p += 8;
        ep.tls = true;
    }
    size_t n = strlen(p);
    if (n > 0 && p[n - 1] == '/')
        n--;
    const char *host, *port;
    size_t host_len;
    if (n > 0 && p[0] == '[') {
        const char *close = memchr(p, ']', n);
        if (close == NULL || close + 1 >= p + n || close[1] != ':')
            return SLIM_E_TRANSPORT_BAD_ENDPOINT;
        host = p + 1;
        host_len = (size_t)(close - host);
        port = close + 2;
        if (memchr(host, ':', host_len) == NULL)
            return SLIM_E_TRANSPORT_BAD_ENDPOINT; /* brackets are for IPv6 only */
    } else {
        const char *colon = NULL;
        for (size_t i = 0; i < n; i++) {
            if (p[i] == ':') {
                if (colon != NULL)
                    return SLIM_E_TRANSPORT_BAD_ENDPOINT; /* bare IPv6 needs brackets */
                colon = p + i;
            } else if (p[i] == '/') {
                return SLIM_E_TRANSPORT_BAD_ENDPOINT;
            }
        }
        if (colon == NULL)
            return SLIM_E_TRANSPORT_BAD_ENDPOINT;
        host = p;
        host_len = (size_t)(colon - p);
        port = colon + 1;
    }
    if (host_len == 0 || host_len > SLIM_ENDPOINT_HOST_MAX)
        return SLIM_E_TRANSPORT_BAD_ENDPOINT;
    slim_status st = parse_port(port, (size_t)(p + n - port), &ep.port);
    if (st != SLIM_OK)
        return st;
    ep.kind = SLIM_ENDPOINT_TCP;
    memcpy(ep.host, host, host_len);
    ep.host[host_len] = '\0';
    *out = ep;
    return SLIM_OK;
}

slim_status slim_endpoint_format(const slim_endpoint *ep, char *out, size_t cap) {
    int n;
    if (ep->kind == SLIM_ENDPOINT_UNIX)
        n = snprintf(out, cap, "unix://%s", ep->path);
    else if (strchr(ep->host, ':') != NULL)
        n = snprintf(out, cap, "[%s]:%u", ep->host, (unsigned)ep->port);
    else
        n = snprintf(out, cap, "%s:%u", ep->host, (unsigned)ep->port);
    if (n < 0 || (size_t)n >= cap)
        return SLIM_E_BUFFER_SMALL;
    return SLIM_OK;
}
