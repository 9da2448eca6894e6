/*
 * The channel and participant commands: create, delete and list the
 * controller's channels, and add, delete and list a channel's
 * participants.
 *
 *   channel create moderators=M[,M...] | M...   M: org/ns/app[/id]
 *   channel delete CHANNEL                      CHANNEL: org/ns/channel
 *   participant add|delete NAME -c CHANNEL      NAME: org/ns/app
 *
 * DeleteChannel, AddParticipant and DeleteParticipant answer with a
 * controller.proto.v1.Ack: its messages are printed on success; with
 * success false they are the error ("slimctl: m1; m2") and the exit
 * status is 1.
 */
#include "slimctl.h"

#include "controlplane/v1/controlplane.pb-c.h"

#include <stdlib.h>
#include <string.h>

typedef Controller__Proto__V1__Ack Ack;
typedef Controlplane__Proto__V1__CreateChannelRequest CreateChannelRequest;
typedef Controlplane__Proto__V1__CreateChannelResponse CreateChannelResponse;
typedef Controlplane__Proto__V1__DeleteChannelRequest DeleteChannelRequest;
typedef Controlplane__Proto__V1__AddParticipantRequest AddParticipantRequest;
typedef Controlplane__Proto__V1__DeleteParticipantRequest DeleteParticipantRequest;
typedef Controlplane__Proto__V1__ListChannelsRequest ListChannelsRequest;
typedef Controlplane__Proto__V1__ListChannelsResponse ListChannelsResponse;
typedef Controlplane__Proto__V1__ListParticipantsRequest ListParticipantsRequest;
typedef Controlplane__Proto__V1__ListParticipantsResponse ListParticipantsResponse;

/* Most moderators one create takes (the argument count bounds it too). */
#define MAX_ARGS 1024

#define WANT_CHANNEL     "org/ns/channel"
#define WANT_PARTICIPANT "org/ns/app"

/* ---- Shared ---- */

/* Prints an Ack (JSON, or its messages one a line, or `done` when it has
 * none). success false: the messages joined by "; " on stderr, exit 1. */
static int finish_ack(ctl_ctx *ctx, ProtobufCMessage *m, const char *done) {
    const Ack *ack = (const Ack *)m;
    int rc = CTL_EXIT_OK;
    if (ctx->opt->output == CTL_OUTPUT_JSON) {
        ctl_print_json(m);
    } else if (ack->success) {
        for (size_t i = 0; i < ack->n_messages; i++)
            puts(ack->messages[i]);
        if (ack->n_messages == 0)
            puts(done);
    }
    if (!ack->success) {
        ctl_str b = {0};
        for (size_t i = 0; i < ack->n_messages; i++)
            ctl_str_addf(&b, "%s%s", i > 0 ? "; " : "", ack->messages[i]);
        if (b.len == 0)
            ctl_str_add(&b, "the controller refused the request (success: false)");
        ctl_err("%s", ctl_str_get(&b));
        ctl_str_cleanup(&b);
        rc = CTL_EXIT_FAIL;
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

/* A one-column table of `n` strings, or the response as JSON. */
static void print_list(ctl_ctx *ctx, const ProtobufCMessage *m, const char *title,
                       char *const *items, size_t n) {
    if (ctx->opt->output == CTL_OUTPUT_JSON) {
        ctl_print_json(m);
        return;
    }
    const char *const titles[] = {title};
    ctl_table t;
    ctl_table_init(&t, 1, titles);
    for (size_t i = 0; i < n; i++) {
        const char *cells[] = {items[i]};
        ctl_table_add(&t, cells);
    }
    ctl_table_print(&t, stdout);
    ctl_table_cleanup(&t);
}

/* --channel-id, checked. */
static int channel_option(ctl_ctx *ctx) {
    return ctl_name_check3(ctx->path, "channel", WANT_CHANNEL, ctx->channel_id);
}

/* ---- channel create ---- */

/* Adds the moderators of one argument ("moderators=a,b", or "a" or "a,b")
 * to names (canonical text, owned). */
static int add_moderators(ctl_ctx *ctx, const char *arg, char ***names, size_t *n, size_t *cap) {
    static const char key[] = "moderators=";
    if (strncmp(arg, key, sizeof key - 1) == 0)
        arg += sizeof key - 1;
    char *copy = ctl_xstrdup(arg);
    int rc = CTL_EXIT_OK;
    char *p = copy;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma != NULL)
            *comma = '\0';
        if (*p == '\0') {
            ctl_err("%s: empty moderator name in \"%s\" (want org/ns/app or org/ns/app/id)",
                    ctx->path, arg);
            rc = CTL_EXIT_USAGE;
            break;
        }
        ctl_name name;
        rc = ctl_name_parse(ctx->path, p, &name);
        if (rc != CTL_EXIT_OK)
            break;
        ctl_str b = {0};
        ctl_str_addf(&b, "%s/%s/%s", name.component[0], name.component[1], name.component[2]);
        if (name.id != NULL)
            ctl_str_addf(&b, "/%s", name.id);
        ctl_name_cleanup(&name);
        if (*n == *cap) {
            *cap = *cap == 0 ? 4 : *cap * 2;
            char **grown = realloc(*names, *cap * sizeof **names);
            if (grown == NULL) {
                fputs("slimctl: out of memory\n", stderr);
                exit(CTL_EXIT_FAIL);
            }
            *names = grown;
        }
        (*names)[(*n)++] = ctl_xstrdup(ctl_str_get(&b));
        ctl_str_cleanup(&b);
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    free(copy);
    return rc;
}

static int channel_create(ctl_ctx *ctx) {
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = CTL_EXIT_OK;
    for (int i = 0; rc == CTL_EXIT_OK && i < ctx->argc; i++)
        rc = add_moderators(ctx, ctx->argv[i], &names, &n, &cap);
    ProtobufCMessage *m = NULL;
    if (rc == CTL_EXIT_OK) {
        CreateChannelRequest req = CONTROLPLANE__PROTO__V1__CREATE_CHANNEL_REQUEST__INIT;
        req.n_moderators = n;
        req.moderators = names;
        rc = ctl_call(ctx->opt, "CreateChannel", &req.base,
                      &controlplane__proto__v1__create_channel_response__descriptor, &m);
    }
    if (rc == CTL_EXIT_OK) {
        if (ctx->opt->output == CTL_OUTPUT_JSON)
            ctl_print_json(m);
        else
            printf("channel created: %s\n", ((const CreateChannelResponse *)m)->channel_id);
        protobuf_c_message_free_unpacked(m, NULL);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

/* ---- channel delete ---- */

static int channel_delete(ctl_ctx *ctx) {
    int rc = ctl_name_check3(ctx->path, "channel", WANT_CHANNEL, ctx->argv[0]);
    if (rc != CTL_EXIT_OK)
        return rc;
    DeleteChannelRequest req = CONTROLPLANE__PROTO__V1__DELETE_CHANNEL_REQUEST__INIT;
    req.channel_id = ctx->argv[0];
    ProtobufCMessage *m;
    rc =
        ctl_call(ctx->opt, "DeleteChannel", &req.base, &controller__proto__v1__ack__descriptor, &m);
    return rc != CTL_EXIT_OK ? rc : finish_ack(ctx, m, "channel deleted");
}

/* ---- channel list ---- */

static int channel_list(ctl_ctx *ctx) {
    ListChannelsRequest req = CONTROLPLANE__PROTO__V1__LIST_CHANNELS_REQUEST__INIT;
    ProtobufCMessage *m;
    int rc = ctl_call(ctx->opt, "ListChannels", &req.base,
                      &controlplane__proto__v1__list_channels_response__descriptor, &m);
    if (rc != CTL_EXIT_OK)
        return rc;
    const ListChannelsResponse *resp = (const ListChannelsResponse *)m;
    print_list(ctx, m, "CHANNEL", resp->channel_id, resp->n_channel_id);
    protobuf_c_message_free_unpacked(m, NULL);
    return CTL_EXIT_OK;
}

/* ---- participant add / delete ---- */

static int participant_add(ctl_ctx *ctx) {
    int rc = channel_option(ctx);
    if (rc == CTL_EXIT_OK)
        rc = ctl_name_check3(ctx->path, "participant", WANT_PARTICIPANT, ctx->argv[0]);
    if (rc != CTL_EXIT_OK)
        return rc;
    AddParticipantRequest req = CONTROLPLANE__PROTO__V1__ADD_PARTICIPANT_REQUEST__INIT;
    req.channel_id = (char *)ctx->channel_id;
    req.participant_id = ctx->argv[0];
    ProtobufCMessage *m;
    rc = ctl_call(ctx->opt, "AddParticipant", &req.base, &controller__proto__v1__ack__descriptor,
                  &m);
    return rc != CTL_EXIT_OK ? rc : finish_ack(ctx, m, "participant added");
}

static int participant_delete(ctl_ctx *ctx) {
    int rc = channel_option(ctx);
    if (rc == CTL_EXIT_OK)
        rc = ctl_name_check3(ctx->path, "participant", WANT_PARTICIPANT, ctx->argv[0]);
    if (rc != CTL_EXIT_OK)
        return rc;
    DeleteParticipantRequest req = CONTROLPLANE__PROTO__V1__DELETE_PARTICIPANT_REQUEST__INIT;
    req.channel_id = (char *)ctx->channel_id;
    req.participant_id = ctx->argv[0];
    ProtobufCMessage *m;
    rc = ctl_call(ctx->opt, "DeleteParticipant", &req.base, &controller__proto__v1__ack__descriptor,
                  &m);
    return rc != CTL_EXIT_OK ? rc : finish_ack(ctx, m, "participant deleted");
}

/* ---- participant list ---- */

static int participant_list(ctl_ctx *ctx) {
    int rc = channel_option(ctx);
    if (rc != CTL_EXIT_OK)
        return rc;
    ListParticipantsRequest req = CONTROLPLANE__PROTO__V1__LIST_PARTICIPANTS_REQUEST__INIT;
    req.channel_id = (char *)ctx->channel_id;
    ProtobufCMessage *m;
    rc = ctl_call(ctx->opt, "ListParticipants", &req.base,
                  &controlplane__proto__v1__list_participants_response__descriptor, &m);
    if (rc != CTL_EXIT_OK)
        return rc;
    const ListParticipantsResponse *resp = (const ListParticipantsResponse *)m;
    print_list(ctx, m, "PARTICIPANT", resp->participant_id, resp->n_participant_id);
    protobuf_c_message_free_unpacked(m, NULL);
    return CTL_EXIT_OK;
}

/* ---- Tables ---- */

const ctl_cmd ctl_channel_subs[] = {
    {.name = "create",
     .args = "moderators=MODERATOR[,MODERATOR...]",
     .summary = "Create a channel with its moderators; prints the channel's id",
     .details = "MODERATOR is org/ns/app or org/ns/app/ID, ID a UUID or a decimal integer\n"
                "(sent as a lowercase UUID). The moderators may also be given as plain\n"
                "arguments: slimctl channel create org/ns/mod1 org/ns/mod2",
     .min_args = 1,
     .max_args = MAX_ARGS,
     .run = channel_create},
    {.name = "delete",
     .aliases = {"del", "rm"},
     .args = "CHANNEL",
     .summary = "Delete a channel",
     .details = "CHANNEL is org/ns/channel. Prints the controller's messages.",
     .min_args = 1,
     .max_args = 1,
     .run = channel_delete},
    {.name = "list",
     .aliases = {"ls"},
     .args = "",
     .summary = "List the channels",
     .details = "One column: CHANNEL.",
     .max_args = 0,
     .run = channel_list},
    {0},
};

const ctl_cmd ctl_participant_subs[] = {
    {.name = "add",
     .args = "PARTICIPANT",
     .summary = "Add a participant to a channel",
     .details = "PARTICIPANT is org/ns/app, CHANNEL org/ns/channel. Prints the\n"
                "controller's messages.",
     .opts = CTL_OPT_CHANNEL_ID,
     .required = CTL_OPT_CHANNEL_ID,
     .min_args = 1,
     .max_args = 1,
     .run = participant_add},
    {.name = "delete",
     .aliases = {"del", "rm"},
     .args = "PARTICIPANT",
     .summary = "Delete a participant from a channel",
     .details = "PARTICIPANT is org/ns/app, CHANNEL org/ns/channel. Prints the\n"
                "controller's messages.",
     .opts = CTL_OPT_CHANNEL_ID,
     .required = CTL_OPT_CHANNEL_ID,
     .min_args = 1,
     .max_args = 1,
     .run = participant_delete},
    {.name = "list",
     .aliases = {"ls"},
     .args = "",
     .summary = "List a channel's participants",
     .details = "CHANNEL is org/ns/channel. One column: PARTICIPANT.",
     .opts = CTL_OPT_CHANNEL_ID,
     .required = CTL_OPT_CHANNEL_ID,
     .max_args = 0,
     .run = participant_list},
    {0},
};
