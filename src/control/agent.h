/*
 * The node's control agent: the node side of the southbound control stream
 * (docs/control-plane.md, "Southbound: the control stream").
 *
 * A node dials every controller of `controller.clients`, opens
 * /controller.proto.v1.ControllerService/OpenControlChannel, registers
 * (its id, one ConnectionDetails per data-plane listener, the names its
 * applications subscribe to), and then applies the controller's
 * config_commands (connections to other nodes and static subscriptions on
 * them), answers its list requests, and reports the names its applications
 * subscribe to or give up. A stream that ends, or a connection that drops,
 * is opened again once the controller can be reached, forever, and the node
 * registers again with what it holds then.
 *
 * Two layers:
 *  - slim_agent_core: the message handling, without I/O. It decodes one
 *    ControlMessage, acts on the forwarder (static subscriptions, the
 *    routing tables it lists) and on the node's links through
 *    slim_agent_ops, and hands back the encoded answers. Unit-testable.
 *  - slim_agent: the core on the node's libuv loop, with one gRPC client
 *    per controller and the node's hub for the links it dials.
 *
 * Connections the controller asks for are keyed by their connection_id
 * (the endpoint URL when empty); their config_data is a ClientConfig as
 * JSON, read with the node's own parser (src/config/endpoint.h), and they
 * are dialled as node links. A static subscription is installed on its
 * link's forwarder connection whenever a stream of the link comes up (the
 * forwarder forgets it when a stream ends) and removed when deleted.
 *
 * Channels through the controller (docs/protocol.md, "Channels through the
 * controller"): a create_channel_request, delete_channel_request,
 * add_participant_request or delete_participant_request is handed to the
 * moderator application (moderators[0]) as a Publish from
 * controller/controller/controller/<id picked at start>, signed with a
 * shared-secret token of controller.token_provider, injected into the
 * forwarder through a LOCAL connection the owner opens (the core subscribes
 * the controller's name there statically: never propagated, never
 * reported). The application's CONTROLLER_REPLY on that connection becomes
 * the controller's ack; a request it cannot deliver, or that gets no answer
 * within request_timeout, is answered with success false at once or when
 * it expires.
 *
 * Every function runs on the loop thread (the core: on its owner's thread).
 */
#ifndef SLIM_CONTROL_AGENT_H
#define SLIM_CONTROL_AGENT_H

#include "config/endpoint.h"
#include "core/buf.h"
#include "link/hub.h"
#include "router/forwarder.h"
#include "slim/app.h"
#include "transport/grpc.h"

#include <uv.h>

#define SLIM_AGENT_METHOD "/controller.proto.v1.ControllerService/OpenControlChannel"

/* Entries per subscription_list_response / connection_list_response. */
#define SLIM_AGENT_LIST_CHUNK 100

/* What the node registers with. Borrowed until the agent is freed. */
typedef struct slim_agent_info {
    const char *node_id;    /* "slim/0" */
    const char *group_name; /* may be NULL */
    /* The data-plane listeners: one ConnectionDetails each (endpoint as
     * configured, mtls_required when it has TLS, local_endpoint,
     * external_endpoint and group_name from its metadata). */
    const slim_server_config *servers;
    size_t n_servers;
    /* Per server, the endpoint to register instead of its configured one
     * (the node gives the bound port of a listener configured with port 0);
     * NULL, or a NULL entry: as configured. */
    const char *const *endpoints;
    /* controller.token_provider. A shared secret: channel requests are
     * signed with a token of identity "controller" made with it, and the
     * node registers with a token of identity node_id made with it
     * (`authorization: Bearer <token>` on each control stream it opens).
     * Else token_jwt (a JWT or static-JWT provider config, include/slim/
     * app.h): its tokens do both. Neither: the node registers without a
     * token, and cannot sign channel requests, so it refuses them. */
    const char *token_secret;
    const slim_identity_config *token_jwt;
    /* How long a moderator has to answer a channel request; 0 = 60 s. */
    uint64_t request_timeout_ms;
} slim_agent_info;

/* Channel requests outstanding at once; more are refused. */
#define SLIM_AGENT_MAX_PENDING             1024
#define SLIM_AGENT_CONTROLLER_CONTENT_TYPE "application/x-slim-controller"

/* ---- the message handling (no I/O) ---- */

typedef struct slim_agent_core slim_agent_core;

/* What the core does to the node. */
typedef struct slim_agent_ops {
    /* Dials cc (read now, not kept) as a node link that redials for as long
     * as it exists; *link gets a handle for the calls below. The owner
     * calls slim_agent_core_link_up() when a stream of it is up. On error
     * the connection's item fails with this status. Required. */
    slim_status (*dial)(void *ud, const slim_client_config *cc, void **link);
    /* Closes a link dial() made. Required. */
    void (*close)(void *ud, void *link);
    /* The forwarder connection of the link's current stream; 0 when it has
     * none. Required. */
    uint64_t (*link_conn)(void *ud, void *link);
    /* Calls fn for every stream of the node (its forwarder connection, its
     * peer, whether this node dialled it), for connection_list_request.
     * Optional: without it only the connections the core made are listed. */
    void (*streams)(void *ud, void (*fn)(uint64_t conn, const char *peer, bool dialled, void *fud),
                    void *fud);
    /* Sends an encoded ControlMessage (a report) on every stream that has
     * registered. May run from inside the forwarder (reports come from its
     * app_names callback): must not call into it. Required. */
    void (*broadcast)(void *ud, slim_bytes msg);
    /* Hands an encoded Message to the forwarder as if the application on
     * LOCAL connection conn (the one given to slim_agent_core_attach) had
     * sent it; returns the forwarder's status (E_ROUTER_NO_ROUTE when
     * nothing subscribes to its destination). Optional: without it channel
     * requests are refused. */
    slim_status (*inject)(void *ud, uint64_t conn, slim_bytes msg);
} slim_agent_ops;

/* Where the answers to one message go: one encoded ControlMessage each,
 * borrowed until the call returns. */
typedef void (*slim_agent_reply_fn)(void *ud, slim_bytes msg);

/* Creates a core over fwd (whose ops must have app_names set for the
 * applications' names to be registered and reported: the owner forwards
 * that callback to slim_agent_core_app_name()). info, fwd, ops and ud are
 * borrowed until slim_agent_core_free(). E_INVALID_ARG, E_NOMEM. */
slim_status slim_agent_core_new(const slim_agent_info *info, slim_fwd *fwd,
                                const slim_agent_ops *ops, void *ud, slim_agent_core **out);

/* Closes every link the core made (ops->close) and frees it. NULL is a
 * no-op. */
void slim_agent_core_free(slim_agent_core *c);

/* Writes the registration (register_node_request with the applications'
 * current names) into out (replacing its contents). E_NOMEM, E_IO (no
 * random message id). */
slim_status slim_agent_core_register(slim_agent_core *c, slim_buf *out);

/* Handles one ControlMessage received from a controller at now_ms
 * (monotonic) and unix_s (wall clock, for tokens): applies a
 * config_command and answers it with a config_command_ack, answers list
 * requests (chunks of SLIM_AGENT_LIST_CHUNK, the last one done), hands a
 * channel request to its moderator (answered later through the same
 * reply(ud, ...), which must then stay valid until the answer or
 * slim_agent_core_free(); or at once with success false), logs an ack,
 * ignores anything else (logged at debug). Answers go to reply(ud, ...).
 * E_INVALID_ARG when msg does not decode (the caller ends the stream);
 * E_NOMEM (nothing answered). Not from inside the forwarder. */
slim_status slim_agent_core_handle(slim_agent_core *c, slim_bytes msg, uint64_t now_ms,
                                   uint64_t unix_s, slim_agent_reply_fn reply, void *ud);

/* Gives the core the LOCAL forwarder connection conn its channel requests
 * go out on (ops->inject) and their replies come back on: subscribes the
 * controller's name there statically (not propagated, and not reported to
 * the controller). E_ROUTER_UNKNOWN_CONNECTION, E_NOMEM. Not from inside
 * the forwarder. */
slim_status slim_agent_core_attach(slim_agent_core *c, uint64_t conn);

/* A message the forwarder delivered on the attached connection (msg
 * borrowed for the call): a moderator's CONTROLLER_REPLY to an outstanding
 * request from the name it went to is answered to its controller and the
 * request forgotten; anything else is dropped and counted. May run from
 * inside the forwarder (it only calls reply functions). */
void slim_agent_core_local_input(slim_agent_core *c, slim_bytes msg);

/* Answers every channel request whose moderator did not answer by now_ms
 * (success false). Returns the next deadline, 0 when nothing is
 * outstanding. Not from inside the forwarder. */
uint64_t slim_agent_core_expire(slim_agent_core *c, uint64_t now_ms);

/* The token the node presents when it opens a control stream at unix_s
 * (a shared-secret token of identity node_id; borrowed until the next
 * call). E_NOT_FOUND without token_secret; token errors. */
slim_status slim_agent_core_token(slim_agent_core *c, uint64_t unix_s, slim_str *token);

/* The name channel requests come from. */
const slim_name *slim_agent_core_controller_name(const slim_agent_core *c);

/* Channel requests outstanding, and messages on the attached connection
 * dropped (not an answer to an outstanding request, or from another name). */
size_t slim_agent_core_pending(const slim_agent_core *c);
uint64_t slim_agent_core_dropped(const slim_agent_core *c);

/* The forwarder's app_names callback: reports the change with
 * ops->broadcast (names without text cannot be reported and are logged).
 * May run from inside the forwarder. */
void slim_agent_core_app_name(slim_agent_core *c, const slim_name *name, const slim_str *text,
                              bool added);

/* A stream of `link` is up as forwarder connection conn: installs the
 * static subscriptions of its connection. Not from inside the forwarder. */
void slim_agent_core_link_up(slim_agent_core *c, void *link, uint64_t conn);

/* Connections configured now (for tests and logs). */
size_t slim_agent_core_connections(const slim_agent_core *c);

/* ---- on the node's loop ---- */

typedef struct slim_agent slim_agent;

typedef struct slim_agent_config {
    slim_agent_info info;
    /* The controllers to dial (controller.clients). Borrowed until
     * slim_agent_free(). Whatever their backoff says, a lost controller is
     * redialled forever. */
    const slim_client_config *controllers;
    size_t n_controllers;
    /* The node's own control endpoint (controller.servers; borrowed), see
     * src/control/agent_server.h: the same commands for `slimctl
     * node-connect`. verifier_secret (controller.token_verifier's shared
     * secret): callers must present a shared-secret token made with it;
     * NULL: no token required. listening (may be NULL) hears each bound
     * address. */
    const slim_server_config *servers;
    size_t n_servers;
    const char *verifier_secret;
    void (*listening)(const char *addr, void *ud);
    void *listening_ud;
    /* Transport settings under those of each data-plane link's
     * ClientConfig (as the node's own links get). */
    slim_grpc_config link_base;
} slim_agent_config;

/* Creates an agent on loop for the node's hub (borrowed; the hub must
 * have been created with an app_names callback that reaches
 * slim_agent_app_name() when there are controllers). E_INVALID_ARG
 * (neither a controller nor a server), E_NOMEM. */
slim_status slim_agent_new(uv_loop_t *loop, slim_hub *hub, const slim_agent_config *cfg,
                           slim_agent **out);

/* Binds the control endpoint's listeners and dials every controller;
 * each registers as soon as it is reachable. E_TRANSPORT_BAD_ENDPOINT,
 * E_TRANSPORT_LISTEN, E_TLS_CONFIG (logged with the endpoint), E_NOMEM. */
slim_status slim_agent_start(slim_agent *a);

/* The hub's app_names callback, passed on to the core (may run from inside
 * the forwarder). */
void slim_agent_app_name(slim_agent *a, const slim_name *name, const slim_str *text, bool added);

/* Counters of the node's own control endpoint (all 0 without one). */
typedef struct slim_agent_stats {
    size_t endpoint_streams;             /* calls open now */
    uint64_t endpoint_calls;             /* calls accepted */
    uint64_t endpoint_refused_no_token;  /* calls without a token, refused */
    uint64_t endpoint_refused_bad_token; /* calls whose token did not verify, refused */
    uint64_t endpoint_tls_failed;        /* connections that ended on a TLS error */
} slim_agent_stats;

void slim_agent_stats_get(const slim_agent *a, slim_agent_stats *out);

/* Ends the control streams and stops redialling the controllers (at
 * shutdown, before the node drains). The links the agent made stay until
 * the hub stops its links. A second call changes nothing. */
void slim_agent_stop(slim_agent *a);

/* Stops the agent if needed, closes the links it made and frees it; its
 * libuv handles close asynchronously (run the loop until it has nothing
 * left). Before the hub is freed. NULL is a no-op. */
void slim_agent_free(slim_agent *a);

#endif
