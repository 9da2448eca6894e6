/*
 * Status codes. Every fallible call in libslim returns a slim_status: 0 is
 * success, negative values are errors. The table below is the single source
 * of the enum, the symbolic names and the human messages, so the three cannot
 * drift apart.
 *
 * Codes are grouped by module so modules can add entries without renumbering:
 *   1-99 core, 100-199 names, 200-299 wire, 300-499 MLS, 500-599 transport,
 *   600-699 router and node, 700-799 sessions, 800-899 control plane,
 *   900-999 configuration.
 * A code, once published, keeps its number.
 */
#ifndef SLIM_STATUS_H
#define SLIM_STATUS_H

#include "slim/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SLIM_STATUS_MAP(XX)                                                                        \
    XX(OK, 0, "success")                                                                           \
    /* core */                                                                                     \
    XX(E_NOMEM, -1, "out of memory")                                                               \
    XX(E_INVALID_ARG, -2, "invalid argument")                                                      \
    XX(E_TRUNCATED, -3, "input ends before the value it announces")                                \
    XX(E_TRAILING, -4, "unexpected bytes after the end of the value")                              \
    XX(E_TOO_LARGE, -5, "value exceeds the size limit")                                            \
    XX(E_OVERFLOW, -6, "arithmetic overflow")                                                      \
    XX(E_BUFFER_SMALL, -7, "output buffer too small")                                              \
    XX(E_NOT_FOUND, -8, "not found")                                                               \
    XX(E_EXISTS, -9, "already exists")                                                             \
    XX(E_INTERNAL, -10, "internal error")                                                          \
    XX(E_IO, -11, "input/output error")                                                            \
    XX(E_UNSUPPORTED, -12, "not supported")                                                        \
    XX(E_STATE, -13, "operation not valid in the current state")                                   \
    XX(E_TIMEOUT, -14, "timed out")                                                                \
    XX(E_QUEUE_FULL, -15, "queue full")                                                            \
    XX(E_CLOSED, -16, "closed")                                                                    \
    XX(E_CANCELLED, -17, "cancelled")                                                              \
    /* names */                                                                                    \
    XX(E_NAME_EMPTY_COMPONENT, -100, "name has an empty component")                                \
    XX(E_NAME_TOO_FEW_COMPONENTS, -101, "name needs org/namespace/service")                        \
    XX(E_NAME_TOO_MANY_COMPONENTS, -102, "name has more than four components")                     \
    XX(E_NAME_BAD_ID, -103, "name id is not a UUID or 1-32 hex digits")                            \
    XX(E_NAME_COMPONENT_TOO_LONG, -104, "name component longer than 1024 bytes")                   \
    /* wire */                                                                                     \
    XX(E_WIRE_MALFORMED, -200, "malformed protobuf message")                                       \
    XX(E_WIRE_MISSING_FIELD, -201, "required field missing from message")                          \
    XX(E_WIRE_UNKNOWN_TYPE, -202, "message carries no known type")                                 \
    /* router and node */                                                                          \
    XX(E_ROUTER_NO_SUCH_SUBSCRIPTION, -600, "no such subscription")                                \
    XX(E_ROUTER_SUBSCRIPTION_LIMIT, -601, "subscription limit reached")                            \
    XX(E_ROUTER_NO_ROUTE, -602, "no route to the destination")                                     \
    XX(E_ROUTER_UNKNOWN_CONNECTION, -603, "unknown connection")                                    \
    XX(E_ROUTER_TTL_EXPIRED, -604, "ttl expired")                                                  \
    XX(E_ROUTER_LINK_REFUSED, -605, "link negotiation failed")

typedef enum slim_status {
#define SLIM_STATUS_ENUM(name, code, msg) SLIM_##name = (code),
    SLIM_STATUS_MAP(SLIM_STATUS_ENUM)
#undef SLIM_STATUS_ENUM
} slim_status;

/* The symbolic name of a status without the prefix ("E_NOMEM"), or
 * "E_UNKNOWN" for a value not in the table. Never NULL; static storage. */
SLIM_API const char *slim_status_name(slim_status st);

/* The human message of a status, or "unknown status". Never NULL. */
SLIM_API const char *slim_status_str(slim_status st);

#ifdef __cplusplus
}
#endif
#endif
