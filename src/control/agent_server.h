/*
 * The node's own control endpoint (`controller.servers`): the controller's
 * method, /controller.proto.v1.ControllerService/OpenControlChannel,
 * served by the node for `slimctl node-connect` and for operators without
 * a controller (docs/control-plane.md, "The node's own control endpoint").
 *
 * A caller opens the stream and sends ControlMessages; config_commands and
 * list requests are handled by the agent's core as if a controller had
 * sent them, and the answers go back on that stream. The node does not
 * register there and sends no reports. Channel requests are refused (they
 * come from a controller, which signs them through the node's own
 * controller streams).
 *
 * With a verifier secret every call must carry `authorization: Bearer
 * <shared-secret token made with it>` (docs/identity.md, "Tokens"): a call
 * without one, or with one that does not verify, ends with UNAUTHENTICATED
 * before anything is read, and is counted. TLS and client certificates are
 * each listener's ServerConfig, as on the data plane.
 *
 * Everything runs on the node's loop thread.
 */
#ifndef SLIM_CONTROL_AGENT_SERVER_H
#define SLIM_CONTROL_AGENT_SERVER_H

#include "config/endpoint.h"
#include "control/agent.h"

#include <uv.h>

typedef struct slim_agent_server slim_agent_server;

typedef struct slim_agent_server_config {
    const slim_server_config *servers; /* borrowed until freed */
    size_t n_servers;
    const char *verifier_secret; /* NULL: no token required */
    /* A listener is bound (its address). May be NULL. */
    void (*listening)(const char *addr, void *ud);
    void *ud;
} slim_agent_server_config;

/* A server on loop handing messages to core (borrowed until freed).
 * E_IDENTITY_NO_SECRET (an empty secret), E_NOMEM. */
slim_status slim_agent_server_new(uv_loop_t *loop, slim_agent_core *core,
                                  const slim_agent_server_config *cfg, slim_agent_server **out);

/* Binds every listener. Transport and TLS errors (logged with the
 * endpoint). */
slim_status slim_agent_server_start(slim_agent_server *s);

/* Ends every open stream and stops listening. A second call changes
 * nothing. */
void slim_agent_server_stop(slim_agent_server *s);

/* Stops it if needed and frees it; its handles close asynchronously (run
 * the loop until it has nothing left). NULL is a no-op. */
void slim_agent_server_free(slim_agent_server *s);

/* Adds the endpoint's counters into out's control-endpoint fields. */
void slim_agent_server_stats_get(const slim_agent_server *s, slim_agent_stats *out);

#endif
