/*
 * Endpoint text as users and configs write it, parsed without I/O:
 *   host:port  127.0.0.1:46357  [::1]:0  localhost:80
 *   http://host:port  (https:// is recognised and marked TLS)
 *   unix:///absolute/path  unix:/absolute/path  unix:relative/path
 * A trailing '/' after host:port is accepted (as in "http://host:port/").
 */
#ifndef SLIM_TRANSPORT_ENDPOINT_H
#define SLIM_TRANSPORT_ENDPOINT_H

#include "slim/status.h"

#include <stdbool.h>

/* sun_path holds 108 bytes including the terminating NUL. */
#define SLIM_ENDPOINT_PATH_MAX 107
#define SLIM_ENDPOINT_HOST_MAX 255

typedef enum slim_endpoint_kind {
    SLIM_ENDPOINT_TCP = 0,
    SLIM_ENDPOINT_UNIX = 1,
} slim_endpoint_kind;

typedef struct slim_endpoint {
    slim_endpoint_kind kind;
    bool tls;                              /* written as https:// */
    char host[SLIM_ENDPOINT_HOST_MAX + 1]; /* TCP: name or literal, no brackets */
    uint16_t port;                         /* TCP */
    char path[SLIM_ENDPOINT_PATH_MAX + 1]; /* UNIX */
} slim_endpoint;

/* Parses `text` into *out. E_TRANSPORT_BAD_ENDPOINT when it has none of the
 * forms above, a port outside 0..65535, an empty host, or a path too long
 * for a Unix socket. */
slim_status slim_endpoint_parse(const char *text, slim_endpoint *out);

/* Writes "host:port" (IPv6 literals in brackets) or "unix://path" into out.
 * E_BUFFER_SMALL when cap is too small. */
slim_status slim_endpoint_format(const slim_endpoint *ep, char *out, size_t cap);

#endif
