/*
 * slimctl: the command line of the SLIM controller (slim-control-plane).
 *
 * Internal header shared by the files of apps/slimctl:
 *   main.c          argument parsing, the command tree, help, dispatch
 *   options.c       the settings: defaults < config file < env < flags
 *   rpc.c           the one place that builds the gRPC client (TLS, the
 *                   authorization header), unary calls, control streams
 *   output.c        aligned tables, protobuf -> JSON, small helpers
 *   names.c         org/ns/app[/id] on the command line
 *   cmd_nodes.c     node, connection and subscription commands
 *   cmd_route.c     route commands
 *   cmd_channel.c   channel and participant commands
 *   cmd_nc.c        node-connect: commands sent to a node's own control
 *                   endpoint on an OpenControlChannel stream
 *
 * The command tree is data: each group (node, route, ...) is a ctl_cmd
 * with a table of subcommands, and main.c holds the table of groups. A new
 * group (channel, participant) is one more file with its table and one more
 * line in main.c's root table. A command's options besides the global ones
 * are bits (CTL_OPT_*) in its entry; main.c's option table says how each
 * is spelled.
 *
 * Exit codes: 0 success, 1 the call failed (a gRPC status from the server,
 * the server unreachable, a timeout), 2 a usage error (nothing was sent).
 *
 * Single-threaded: one libuv loop per call, run to completion.
 */
#ifndef SLIMCTL_H
#define SLIMCTL_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum {
    CTL_EXIT_OK = 0,
    CTL_EXIT_FAIL = 1,  /* the request failed */
    CTL_EXIT_USAGE = 2, /* bad command line or configuration; nothing sent */
};

typedef enum ctl_output {
    CTL_OUTPUT_TABLE = 0,
    CTL_OUTPUT_JSON = 1,
} ctl_output;

/* How to secure the connection to the server (--tls-ca, --tls-cert,
 * --tls-key, --tls-insecure and their config and environment forms).
 * ctl_client_new() (rpc.c) is the one place that reads it. Strings are
 * owned (malloc), NULL when not set. */
typedef struct ctl_tls {
    char *ca_file;   /* CA to verify the server with (besides the system roots) */
    char *cert_file; /* client certificate (mutual TLS); key_file goes with it */
    char *key_file;
    bool insecure; /* with TLS on: accept any server certificate */
} ctl_tls;

/* The settings of one run after layering (options.c). Owned strings. */
typedef struct ctl_options {
    char *server;        /* "http://host:port" (plaintext) or "https://host:port" (TLS) */
    char *server_text;   /* as the user gave it, for messages */
    uint64_t timeout_ms; /* per call */
    ctl_output output;
    ctl_tls tls;
    bool use_tls;        /* server starts with https:// */
    char *token;         /* --token: sent as "authorization: Bearer <token>" */
    char *shared_secret; /* --shared-secret: a token is minted from it (no --token) */
} ctl_options;

/* Option ids. The global ones apply to every command; the CTL_OPT_* bits
 * are the options a command may take besides them. */
typedef enum ctl_opt_id {
    CTL_O_SERVER,
    CTL_O_TIMEOUT,
    CTL_O_OUTPUT,
    CTL_O_CONFIG,
    CTL_O_HELP,
    CTL_O_TLS_CA,
    CTL_O_TLS_CERT,
    CTL_O_TLS_KEY,
    CTL_O_TLS_INSECURE,
    CTL_O_TOKEN,
    CTL_O_SHARED_SECRET,
    CTL_O_NODE_ID,
    CTL_O_CHANNEL_ID,
    CTL_O_COUNT
} ctl_opt_id;

enum {
    CTL_OPT_NODE_ID = 1u << 0,    /* --node-id/-n */
    CTL_OPT_CHANNEL_ID = 1u << 1, /* --channel-id/-c */
};

/* The options the command line gave: each one's last value (NULL when
 * not given; borrowed from argv; "true" for an option without a value),
 * and whether --help was among them. `node_connect` is set for the
 * node-connect commands: their server is the ENDPOINT argument or
 * --server, else 127.0.0.1:46358 (the config file's and the
 * environment's server are the controller's and are not used). */
typedef struct ctl_flags {
    const char *value[CTL_O_COUNT];
    bool help;
    bool node_connect;
} ctl_flags;

struct ctl_cmd;

/* Everything a command's run function gets. */
typedef struct ctl_ctx {
    const struct ctl_cmd *cmd;
    const char *path; /* "route add", for messages */
    const ctl_options *opt;
    const char *node_id;    /* --node-id, NULL when not given */
    const char *channel_id; /* --channel-id, NULL when not given */
    int argc;               /* positional arguments after the command path */
    char **argv;
} ctl_ctx;

/* One command or group. A group has `subs` (terminated by an entry whose
 * name is NULL) and no `run`; a leaf has `run` and no `subs`. */
typedef struct ctl_cmd {
    const char *name;
    const char *aliases[3]; /* NULL-terminated unless all three are used */
    const char *args;       /* positional arguments for the usage line, "" for none */
    const char *summary;    /* one line */
    const char *details;    /* more lines for its --help, or NULL */
    unsigned opts;          /* CTL_OPT_* accepted */
    unsigned required;      /* CTL_OPT_* that must be given */
    int min_args, max_args;
    int (*run)(ctl_ctx *ctx);
    const struct ctl_cmd *subs;
} ctl_cmd;

/* The groups (cmd_*.c). */
extern const ctl_cmd ctl_node_subs[];
extern const ctl_cmd ctl_connection_subs[];
extern const ctl_cmd ctl_subscription_subs[];
extern const ctl_cmd ctl_route_subs[];
extern const ctl_cmd ctl_channel_subs[];
extern const ctl_cmd ctl_participant_subs[];
extern const ctl_cmd ctl_nc_subs[];

/* The node-connect group's name and aliases (main.c finds its ENDPOINT). */
#define CTL_NC_NAME "node-connect"

/* ---- options.c ---- */

/* Builds *out from the defaults, the config file (flags->value[CTL_O_CONFIG]
 * when given, which must then exist, else $HOME/.slimctl/config.yaml when it
 * exists), the environment (SLIMCTL_SERVER, SLIMCTL_TIMEOUT, SLIMCTL_OUTPUT,
 * SLIMCTL_TLS_*, SLIMCTL_TOKEN, SLIMCTL_SHARED_SECRET) and the flags, later
 * layers winning; then decides on TLS (an https:// server, or a CA, client
 * certificate or tls insecure given). On error prints why and returns
 * CTL_EXIT_USAGE; *out is then cleaned up. */
int ctl_options_load(const ctl_flags *flags, ctl_options *out);
void ctl_options_cleanup(ctl_options *o);

/* ---- rpc.c ---- */

/* Calls `method` ("ListNodes") of controlplane.proto.v1.ControlPlaneService
 * with `req` and waits for the answer (at most opt->timeout_ms). On
 * success *out is the decoded response (free it with
 * protobuf_c_message_free_unpacked(*out, NULL)) and the result is
 * CTL_EXIT_OK; otherwise the error is printed ("slimctl: NOT_FOUND: node
 * slim/9 not found") and the result is CTL_EXIT_FAIL. */
int ctl_call(const ctl_options *opt, const char *method, const ProtobufCMessage *req,
             const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **out);

/* What a stream's reader says after each message. */
enum { CTL_STREAM_MORE = 0, CTL_STREAM_DONE = 1 };

/* Called for each message the server sends on a stream, decoded as the
 * stream's response type (borrowed until return). Returns CTL_STREAM_MORE
 * to read on or CTL_STREAM_DONE when the answer is complete. */
typedef int (*ctl_stream_fn)(void *ud, const ProtobufCMessage *msg);

/* Opens the bidirectional `method` ("/pkg.Service/Method") on opt->server,
 * sends `req`, half-closes, and hands every message that comes back to
 * fn(ud, ...) until it says CTL_STREAM_DONE; then the stream is cancelled.
 * Everything (connecting included) must be over within opt->timeout_ms.
 * Returns CTL_EXIT_OK once fn said done; otherwise prints why (a status
 * from the server, no connection, the deadline, the stream ending before
 * the answer was complete, a message that does not decode) and returns
 * CTL_EXIT_FAIL. */
int ctl_stream(const ctl_options *opt, const char *method, const ProtobufCMessage *req,
               const ProtobufCMessageDescriptor *resp_desc, ctl_stream_fn fn, void *ud);

/* ---- names.c ---- */

/* A name from the command line: the three components and the id, if any,
 * in its canonical UUID text. Strings owned by the struct. */
typedef struct ctl_name {
    char *component[3];
    char *id; /* NULL: any instance */
} ctl_name;

/* Parses "org/ns/app" or "org/ns/app/id" (id: a UUID or a decimal integer
 * below 2^128). On error prints "slimctl: <cmd>: ..." and returns
 * CTL_EXIT_USAGE. */
int ctl_name_parse(const char *cmd, const char *text, ctl_name *out);
void ctl_name_cleanup(ctl_name *n);

/* Checks a name of exactly three components and no id ("org/ns/app",
 * "org/ns/channel"): `what` names it in messages ("channel") and `want`
 * spells the expected shape ("org/ns/channel"). On error prints
 * "slimctl: <cmd>: invalid <what> ..." and returns CTL_EXIT_USAGE. */
int ctl_name_check3(const char *cmd, const char *what, const char *want, const char *text);

/* ---- output.c ---- */

/* An aligned text table: a header row, then rows; each column is padded to
 * its widest cell, columns are separated by three spaces, empty cells
 * print as "-". */
typedef struct ctl_table {
    size_t ncols;
    size_t nrows; /* including the header */
    size_t cap;
    char **cells; /* nrows * ncols, owned */
} ctl_table;

/* `ncols` column titles. */
void ctl_table_init(ctl_table *t, size_t ncols, const char *const *titles);
/* Appends a row of t->ncols cells (copied; NULL is an empty cell). */
void ctl_table_add(ctl_table *t, const char *const *cells);
void ctl_table_print(const ctl_table *t, FILE *f);
void ctl_table_cleanup(ctl_table *t);

/* The message as a JSON object: proto field names, every field that is not
 * an unset optional, 64-bit integers as strings, enums by name, bytes in
 * base64. New reference. */
json_t *ctl_pb_to_json(const ProtobufCMessage *m);
/* Prints the message as JSON (indented) and a newline on stdout. */
void ctl_print_json(const ProtobufCMessage *m);

/* A growable string, for cells made of parts. */
typedef struct ctl_str {
    char *s;
    size_t len, cap;
} ctl_str;
void ctl_str_add(ctl_str *b, const char *text);
void ctl_str_addf(ctl_str *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The text so far ("" when nothing was added); valid until the next add. */
const char *ctl_str_get(ctl_str *b);
void ctl_str_cleanup(ctl_str *b);

/* Allocation that exits with "slimctl: out of memory" on failure. */
void *ctl_xcalloc(size_t n, size_t size);
char *ctl_xstrdup(const char *s);

/* Prints "slimctl: " and the message, and a newline, on stderr. */
void ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- cmd_route.c, cmd_nodes.c: shared with node-connect ---- */

/* Reads a connection config file: it must end in .json and hold a JSON
 * object with a non-empty string "endpoint". *text gets the file's
 * contents and *endpoint the endpoint (both owned). On error prints
 * "slimctl: <cmd>: ..." and returns CTL_EXIT_USAGE. */
int ctl_read_conn_file(const char *cmd, const char *path, char **text, char **endpoint);

/* The table of a subscription list (NAME, LOCAL, REMOTE) and of a
 * connection list (ID, TYPE, CONNECTION ID, PEER, CONFIG): ctl_*_table_init
 * sets up the columns, ctl_*_row adds one entry (a
 * Controller__Proto__V1__SubscriptionEntry / ConnectionEntry). */
void ctl_subscription_table_init(ctl_table *t);
void ctl_subscription_row(ctl_table *t, const ProtobufCMessage *entry);
void ctl_connection_table_init(ctl_table *t);
void ctl_connection_row(ctl_table *t, const ProtobufCMessage *entry);

#endif
