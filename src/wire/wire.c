/*
 * Decoding, encoding and building SLIM messages.
 *
 * Messages are protobuf-c trees whose every node comes from the libslim
 * allocator, so protobuf_c_message_free_unpacked() can release trees built
 * here as well as decoded ones. Decoding first walks the top-level fields
 * with pbscan, which is cheap and lets us report truncation separately from
 * garbage (protobuf-c reports both as a NULL return).
 */
#include "wire/wire.h"
#include "wire/pbscan.h"
#include "core/alloc.h"

#include <pthread.h>
#include <string.h>

/* The data-plane Message's schema: made once per process from protobuf-c's
 * descriptors and never changed (a documented exception to "no static
 * state", like the descriptors themselves). */
static slim_pb_schema_set schema_set;
static const slim_pb_schema *message_schema;
static pthread_once_t schema_once = PTHREAD_ONCE_INIT;

static void schema_init(void) {
    if (slim_pb_schema_build(&schema_set, &dataplane__proto__v1__message__descriptor,
                             &message_schema) != SLIM_OK)
        message_schema = NULL;
}

const slim_pb_schema *slim_wire_message_schema(void) {
    pthread_once(&schema_once, schema_init);
    return message_schema;
}

static void *pb_alloc(void *ud, size_t size) {
    (void)ud;
    return slim_malloc(size);
}

static void pb_free(void *ud, void *p) {
    (void)ud;
    slim_free(p);
}

ProtobufCAllocator slim_wire_allocator = {pb_alloc, pb_free, NULL};

slim_status slim_wire_decode(slim_bytes in, size_t max_size, slim_msg **out) {
    if (out == NULL || (in.ptr == NULL && in.len > 0))
        return SLIM_E_INVALID_ARG;
    if (in.len > max_size)
        return SLIM_E_TOO_LARGE;
    const slim_pb_schema *schema = slim_wire_message_schema();
    if (schema == NULL)
        return SLIM_E_INTERNAL;
    slim_status st = slim_pb_scan(in, schema);
    if (st != SLIM_OK)
        return st;
    static const uint8_t empty = 0;
    slim_msg *m = dataplane__proto__v1__message__unpack(&slim_wire_allocator, in.len,
                                                        in.ptr ? in.ptr : &empty);
    if (m == NULL)
        /* The scan passed, so the bytes are field-shaped but protobuf-c
         * rejected them: a wrong wire type for a known field, an invalid
         * nested message, or an allocation failure inside protobuf-c. */
        return SLIM_E_WIRE_MALFORMED;
    if (m->message_type_case == DATAPLANE__PROTO__V1__MESSAGE__MESSAGE_TYPE__NOT_SET) {
        slim_wire_free(m);
        return SLIM_E_WIRE_UNKNOWN_TYPE;
    }
    *out = m;
    return SLIM_OK;
}

slim_status slim_wire_encode(const slim_msg *m, size_t max_size, slim_buf *out) {
    if (m == NULL || out == NULL)
        return SLIM_E_INVALID_ARG;
    size_t n = dataplane__proto__v1__message__get_packed_size(m);
    if (n > max_size)
        return SLIM_E_TOO_LARGE;
    uint8_t *dst;
    slim_status st = slim_buf_append_zeros(out, n, &dst);
    if (st != SLIM_OK)
        return st;
    size_t w = dataplane__proto__v1__message__pack(m, dst);
    if (w != n) {
        out->len -= n;
        return SLIM_E_INTERNAL;
    }
    return SLIM_OK;
}

void slim_wire_free(slim_msg *m) {
    if (m != NULL)
        protobuf_c_message_free_unpacked(&m->base, &slim_wire_allocator);
}

slim_pb_header *slim_wire_header(const slim_msg *m) {
    switch (slim_wire_kind(m)) {
    case SLIM_MSG_SUBSCRIBE:
        return m->subscribe->header;
    case SLIM_MSG_UNSUBSCRIBE:
        return m->unsubscribe->header;
    case SLIM_MSG_PUBLISH:
        return m->publish->header;
    default:
        return NULL;
    }
}

slim_status slim_wire_validate(const slim_msg *m, const char **what) {
    const char *missing = NULL;
    switch (slim_wire_kind(m)) {
    case SLIM_MSG_SUBSCRIBE:
    case SLIM_MSG_UNSUBSCRIBE:
    case SLIM_MSG_PUBLISH: {
        const slim_pb_header *h = slim_wire_header(m);
        if (h == NULL)
            missing = "header";
        else if (h->source == NULL || h->source->name == NULL)
            missing = "header.source";
        else if (h->destination == NULL || h->destination->name == NULL)
            missing = "header.destination";
        break;
    }
    case SLIM_MSG_LINK:
        if (slim_wire_link_negotiation(m) == NULL)
            missing = "link.link_negotiation";
        break;
    case SLIM_MSG_SUBSCRIPTION_ACK:
        break;
    default:
        if (what != NULL)
            *what = "message_type";
        return SLIM_E_WIRE_UNKNOWN_TYPE;
    }
    if (missing == NULL)
        return SLIM_OK;
    if (what != NULL)
        *what = missing;
    return SLIM_E_WIRE_MISSING_FIELD;
}

/* ---- Names ---- */

slim_status slim_wire_name_get(const slim_pb_name *n, slim_name *out) {
    if (n == NULL || n->name == NULL)
        return SLIM_E_WIRE_MISSING_FIELD;
    const Dataplane__Proto__V1__EncodedName *e = n->name;
    out->component[0] = e->component_0;
    out->component[1] = e->component_1;
    out->component[2] = e->component_2;
    if (e->name_id != NULL) {
        out->id.hi = e->name_id->id_0;
        out->id.lo = e->name_id->id_1;
    } else {
        out->id = slim_id_any();
    }
    return SLIM_OK;
}

bool slim_wire_name_strings(const slim_pb_name *n, slim_str out[3]) {
    if (n == NULL || n->str_name == NULL)
        return false;
    const char *s[3] = {n->str_name->str_component_0, n->str_name->str_component_1,
                        n->str_name->str_component_2};
    for (int i = 0; i < 3; i++) {
        if (s[i] == NULL || s[i][0] == '\0')
            return false;
        out[i].ptr = s[i];
        out[i].len = strlen(s[i]);
    }
    return true;
}

/* ---- Builders ---- */

/* Allocates and initialises a message of the given descriptor. */
static void *new_msg(const ProtobufCMessageDescriptor *d) {
    void *p = slim_malloc(d->sizeof_message);
    if (p != NULL)
        protobuf_c_message_init(d, p);
    return p;
}

#define NEW(type, lower) ((type *)new_msg(&lower##__descriptor))

static char *dup_str(const char *s) {
    return slim_strndup(s, strlen(s));
}

/* Replaces *field (a default or previously set string) with a copy of s.
 * NULL and "" leave the field at the shared empty default. */
static slim_status set_str(char **field, const char *s) {
    if (s == NULL || s[0] == '\0')
        return SLIM_OK;
    char *c = dup_str(s);
    if (c == NULL)
        return SLIM_E_NOMEM;
    *field = c;
    return SLIM_OK;
}

static slim_status set_str_n(char **field, slim_str s) {
    if (s.len == 0)
        return SLIM_OK;
    char *c = slim_strndup(s.ptr, s.len);
    if (c == NULL)
        return SLIM_E_NOMEM;
    *field = c;
    return SLIM_OK;
}

static slim_status set_bytes(ProtobufCBinaryData *field, slim_bytes b) {
    if (b.len == 0)
        return SLIM_OK;
    uint8_t *c = slim_malloc(b.len);
    if (c == NULL)
        return SLIM_E_NOMEM;
    memcpy(c, b.ptr, b.len);
    field->data = c;
    field->len = b.len;
    return SLIM_OK;
}

static void free_sub(void *m) {
    if (m != NULL)
        protobuf_c_message_free_unpacked(m, &slim_wire_allocator);
}

slim_status slim_wire_name_new(const slim_wire_name *wn, slim_pb_name **out) {
    if (wn == NULL || wn->name == NULL || out == NULL)
        return SLIM_E_INVALID_ARG;
    slim_pb_name *n = NEW(Dataplane__Proto__V1__Name, dataplane__proto__v1__name);
    if (n == NULL)
        return SLIM_E_NOMEM;
    slim_status st = SLIM_E_NOMEM;
    n->name = NEW(Dataplane__Proto__V1__EncodedName, dataplane__proto__v1__encoded_name);
    if (n->name == NULL)
        goto fail;
    n->name->component_0 = wn->name->component[0];
    n->name->component_1 = wn->name->component[1];
    n->name->component_2 = wn->name->component[2];
    n->name->name_id = NEW(Dataplane__Proto__V1__NameId, dataplane__proto__v1__name_id);
    if (n->name->name_id == NULL)
        goto fail;
    n->name->name_id->id_0 = wn->name->id.hi;
    n->name->name_id->id_1 = wn->name->id.lo;
    if (wn->text != NULL) {
        n->str_name = NEW(Dataplane__Proto__V1__StringName, dataplane__proto__v1__string_name);
        if (n->str_name == NULL)
            goto fail;
        if ((st = set_str_n(&n->str_name->str_component_0, wn->text[0])) != SLIM_OK ||
            (st = set_str_n(&n->str_name->str_component_1, wn->text[1])) != SLIM_OK ||
            (st = set_str_n(&n->str_name->str_component_2, wn->text[2])) != SLIM_OK)
            goto fail;
    }
    *out = n;
    return SLIM_OK;
fail:
    free_sub(n);
    return st;
}

static slim_status header_new(const slim_wire_header_spec *spec, slim_pb_header **out) {
    if (spec == NULL || spec->source.name == NULL || spec->destination.name == NULL)
        return SLIM_E_INVALID_ARG;
    slim_pb_header *h = NEW(slim_pb_header, dataplane__proto__v1__slimheader);
    if (h == NULL)
        return SLIM_E_NOMEM;
    slim_status st;
    if ((st = slim_wire_name_new(&spec->source, &h->source)) != SLIM_OK ||
        (st = slim_wire_name_new(&spec->destination, &h->destination)) != SLIM_OK ||
        (st = set_str(&h->identity, spec->identity)) != SLIM_OK) {
        free_sub(h);
        return st;
    }
    h->fanout = spec->fanout;
    h->ttl = spec->ttl ? spec->ttl : SLIM_WIRE_DEFAULT_TTL;
    if (spec->has_recv_from) {
        h->_recv_from_case = DATAPLANE__PROTO__V1__SLIMHEADER___RECV_FROM_RECV_FROM;
        h->recv_from = spec->recv_from;
    }
    if (spec->has_forward_to) {
        h->_forward_to_case = DATAPLANE__PROTO__V1__SLIMHEADER___FORWARD_TO_FORWARD_TO;
        h->forward_to = spec->forward_to;
    }
    if (spec->has_error) {
        h->_error_case = DATAPLANE__PROTO__V1__SLIMHEADER___ERROR_ERROR;
        h->error = spec->error;
    }
    *out = h;
    return SLIM_OK;
}

slim_status slim_wire_subscribe_new(const slim_wire_header_spec *spec, uint64_t subscription_id,
                                    bool unsubscribe, slim_msg **out) {
    if (out == NULL)
        return SLIM_E_INVALID_ARG;
    slim_pb_header *h;
    slim_status st = header_new(spec, &h);
    if (st != SLIM_OK)
        return st;
    slim_msg *m = NEW(slim_msg, dataplane__proto__v1__message);
    if (m == NULL)
        goto nomem;
    if (unsubscribe) {
        m->unsubscribe = NEW(Dataplane__Proto__V1__Unsubscribe, dataplane__proto__v1__unsubscribe);
        if (m->unsubscribe == NULL)
            goto nomem;
        m->message_type_case = DATAPLANE__PROTO__V1__MESSAGE__MESSAGE_TYPE_UNSUBSCRIBE;
        m->unsubscribe->header = h;
        m->unsubscribe->subscription_id = subscription_id;
    } else {
        m->subscribe = NEW(Dataplane__Proto__V1__Subscribe, dataplane__proto__v1__subscribe);
        if (m->subscribe == NULL)
            goto nomem;
        m->message_type_case = DATAPLANE__PROTO__V1__MESSAGE__MESSAGE_TYPE_SUBSCRIBE;
        m->subscribe->header = h;
        m->subscribe->subscription_id = subscription_id;
    }
    *out = m;
    return SLIM_OK;
nomem:
    free_sub(h);
    slim_free(m);
    return SLIM_E_NOMEM;
}

slim_status slim_wire_publish_new(const slim_wire_header_spec *spec,
                                  const slim_wire_session_spec *s, slim_msg **out) {
    if (s == NULL || out == NULL)
        return SLIM_E_INVALID_ARG;
    slim_pb_header *h;
    slim_status st = header_new(spec, &h);
    if (st != SLIM_OK)
        return st;
    slim_msg *m = NEW(slim_msg, dataplane__proto__v1__message);
    Dataplane__Proto__V1__Publish *p =
        NEW(Dataplane__Proto__V1__Publish, dataplane__proto__v1__publish);
    slim_pb_session *sh = NEW(slim_pb_session, dataplane__proto__v1__session_header);
    if (m == NULL || p == NULL || sh == NULL) {
        free_sub(h);
        slim_free(m);
        slim_free(p);
        slim_free(sh);
        return SLIM_E_NOMEM;
    }
    sh->session_type = s->session_type;
    sh->session_message_type = s->message_type;
    sh->session_id = s->session_id;
    sh->message_id = s->message_id;
    p->header = h;
    p->session = sh;
    m->message_type_case = DATAPLANE__PROTO__V1__MESSAGE__MESSAGE_TYPE_PUBLISH;
    m->publish = p;
    *out = m;
    return SLIM_OK;
}

static slim_status set_content(slim_msg *m, slim_pb_content *c) {
    free_sub(m->publish->msg);
    m->publish->msg = c;
    return SLIM_OK;
}

slim_status slim_wire_set_app_payload(slim_msg *m, const char *payload_type, slim_bytes blob) {
    if (m == NULL || slim_wire_kind(m) != SLIM_MSG_PUBLISH)
        return SLIM_E_INVALID_ARG;
    slim_pb_content *c = NEW(slim_pb_content, dataplane__proto__v1__content);
    if (c == NULL)
        return SLIM_E_NOMEM;
    Dataplane__Proto__V1__ApplicationPayload *a =
        NEW(Dataplane__Proto__V1__ApplicationPayload, dataplane__proto__v1__application_payload);
    if (a == NULL) {
        slim_free(c);
        return SLIM_E_NOMEM;
    }
    c->content_type_case = DATAPLANE__PROTO__V1__CONTENT__CONTENT_TYPE_APP_PAYLOAD;
    c->app_payload = a;
    if (set_str(&a->payload_type, payload_type) != SLIM_OK ||
        set_bytes(&a->blob, blob) != SLIM_OK) {
        free_sub(c);
        return SLIM_E_NOMEM;
    }
    return set_content(m, c);
}

slim_status
slim_wire_command_new(Dataplane__Proto__V1__CommandPayload__CommandPayloadTypeCase variant,
                      slim_pb_command **out) {
    const ProtobufCMessageDescriptor *d = &dataplane__proto__v1__command_payload__descriptor;
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field(d, (unsigned)variant);
    if (out == NULL || f == NULL || f->type != PROTOBUF_C_TYPE_MESSAGE)
        return SLIM_E_INVALID_ARG;
    slim_pb_command *cmd = NEW(slim_pb_command, dataplane__proto__v1__command_payload);
    if (cmd == NULL)
        return SLIM_E_NOMEM;
    void *inner = new_msg(f->descriptor);
    if (inner == NULL) {
        slim_free(cmd);
        return SLIM_E_NOMEM;
    }
    /* Set the oneof through the descriptor: the case word and the member. */
    *(uint32_t *)((char *)cmd + f->quantifier_offset) = f->id;
    *(void **)((char *)cmd + f->offset) = inner;
    *out = cmd;
    return SLIM_OK;
}

slim_status slim_wire_set_command(slim_msg *m, slim_pb_command *cmd) {
    if (m == NULL || cmd == NULL || slim_wire_kind(m) != SLIM_MSG_PUBLISH) {
        free_sub(cmd);
        return SLIM_E_INVALID_ARG;
    }
    slim_pb_content *c = NEW(slim_pb_content, dataplane__proto__v1__content);
    if (c == NULL) {
        free_sub(cmd);
        return SLIM_E_NOMEM;
    }
    c->content_type_case = DATAPLANE__PROTO__V1__CONTENT__CONTENT_TYPE_COMMAND_PAYLOAD;
    c->command_payload = cmd;
    return set_content(m, c);
}

slim_status slim_wire_subscription_ack_new(uint64_t subscription_id, bool success,
                                           const char *error, slim_msg **out) {
    if (out == NULL)
        return SLIM_E_INVALID_ARG;
    slim_msg *m = NEW(slim_msg, dataplane__proto__v1__message);
    Dataplane__Proto__V1__SubscriptionAck *a =
        NEW(Dataplane__Proto__V1__SubscriptionAck, dataplane__proto__v1__subscription_ack);
    if (m == NULL || a == NULL) {
        slim_free(m);
        slim_free(a);
        return SLIM_E_NOMEM;
    }
    m->message_type_case = DATAPLANE__PROTO__V1__MESSAGE__MESSAGE_TYPE_SUBSCRIPTION_ACK;
    m->subscription_ack = a;
    a->subscription_id = subscription_id;
    a->success = success;
    if (set_str(&a->error, error) != SLIM_OK) {
        slim_wire_free(m);
        return SLIM_E_NOMEM;
    }
    *out = m;
    return SLIM_OK;
}

static Dataplane__Proto__V1__LinkConnectionType link_type_to_pb(slim_link_type t) {
    switch (t) {
    case SLIM_LINK_TYPE_EDGE:
        return DATAPLANE__PROTO__V1__LINK_CONNECTION_TYPE__LINK_CONNECTION_TYPE_EDGE;
    case SLIM_LINK_TYPE_PEER:
        return DATAPLANE__PROTO__V1__LINK_CONNECTION_TYPE__LINK_CONNECTION_TYPE_PEER;
    default:
        return DATAPLANE__PROTO__V1__LINK_CONNECTION_TYPE__LINK_CONNECTION_TYPE_REMOTE;
    }
}

slim_status slim_wire_link_negotiation_new(const slim_wire_link_spec *spec, slim_msg **out) {
    if (spec == NULL || out == NULL)
        return SLIM_E_INVALID_ARG;
    slim_msg *m = NEW(slim_msg, dataplane__proto__v1__message);
    Dataplane__Proto__V1__Link *l = NEW(Dataplane__Proto__V1__Link, dataplane__proto__v1__link);
    slim_pb_link_negotiation *n =
        NEW(slim_pb_link_negotiation, dataplane__proto__v1__link_negotiation_payload);
    if (m == NULL || l == NULL || n == NULL) {
        slim_free(m);
        slim_free(l);
        slim_free(n);
        return SLIM_E_NOMEM;
    }
    m->message_type_case = DATAPLANE__PROTO__V1__MESSAGE__MESSAGE_TYPE_LINK;
    m->link = l;
    l->link_type_case = DATAPLANE__PROTO__V1__LINK__LINK_TYPE_LINK_NEGOTIATION;
    l->link_negotiation = n;
    n->is_reply = spec->is_reply;
    n->connection_type = link_type_to_pb(spec->connection_type);
    if (spec->public_key.len > 0) {
        n->link_ecdh_public_key.data = slim_malloc(spec->public_key.len);
        if (n->link_ecdh_public_key.data == NULL) {
            slim_wire_free(m);
            return SLIM_E_NOMEM;
        }
        memcpy(n->link_ecdh_public_key.data, spec->public_key.ptr, spec->public_key.len);
        n->link_ecdh_public_key.len = spec->public_key.len;
    }
    if (set_str(&n->link_id, spec->link_id) != SLIM_OK ||
        set_str(&n->slim_version, spec->slim_version) != SLIM_OK ||
        set_str(&n->node_id, spec->node_id) != SLIM_OK) {
        slim_wire_free(m);
        return SLIM_E_NOMEM;
    }
    *out = m;
    return SLIM_OK;
}

slim_link_type slim_wire_link_type(const slim_pb_link_negotiation *ln) {
    switch (ln->connection_type) {
    case DATAPLANE__PROTO__V1__LINK_CONNECTION_TYPE__LINK_CONNECTION_TYPE_EDGE:
        return SLIM_LINK_TYPE_EDGE;
    case DATAPLANE__PROTO__V1__LINK_CONNECTION_TYPE__LINK_CONNECTION_TYPE_PEER:
        return SLIM_LINK_TYPE_PEER;
    default:
        return SLIM_LINK_TYPE_REMOTE;
    }
}

void slim_wire_header_clear_hop(slim_pb_header *h) {
    h->_recv_from_case = DATAPLANE__PROTO__V1__SLIMHEADER___RECV_FROM__NOT_SET;
    h->_forward_to_case = DATAPLANE__PROTO__V1__SLIMHEADER___FORWARD_TO__NOT_SET;
    h->_incoming_conn_case = DATAPLANE__PROTO__V1__SLIMHEADER___INCOMING_CONN__NOT_SET;
    if (h->_header_mac_case) { /* decoded bytes: the message's to free */
        slim_free(h->header_mac.data);
        h->header_mac = (ProtobufCBinaryData){0, NULL};
    }
    h->_header_mac_case = DATAPLANE__PROTO__V1__SLIMHEADER___HEADER_MAC__NOT_SET;
}

const slim_pb_link_negotiation *slim_wire_link_negotiation(const slim_msg *m) {
    if (slim_wire_kind(m) != SLIM_MSG_LINK || m->link == NULL ||
        m->link->link_type_case != DATAPLANE__PROTO__V1__LINK__LINK_TYPE_LINK_NEGOTIATION)
        return NULL;
    return m->link->link_negotiation;
}

/* ---- End-to-end header integrity ---- */

/* A name as upstream re-encodes it: the same values in fresh structs, so
 * unknown fields kept by protobuf-c's decoder are not packed. */
typedef struct aad_name {
    slim_pb_name name;
    Dataplane__Proto__V1__EncodedName encoded;
    Dataplane__Proto__V1__NameId id;
    Dataplane__Proto__V1__StringName text;
} aad_name;

static slim_pb_name *aad_name_copy(const slim_pb_name *in, aad_name *a) {
    dataplane__proto__v1__name__init(&a->name);
    dataplane__proto__v1__encoded_name__init(&a->encoded);
    dataplane__proto__v1__name_id__init(&a->id);
    dataplane__proto__v1__string_name__init(&a->text);
    if (in->name != NULL) {
        a->encoded.component_0 = in->name->component_0;
        a->encoded.component_1 = in->name->component_1;
        a->encoded.component_2 = in->name->component_2;
        if (in->name->name_id != NULL) {
            a->id.id_0 = in->name->name_id->id_0;
            a->id.id_1 = in->name->name_id->id_1;
            a->encoded.name_id = &a->id;
        }
        a->name.name = &a->encoded;
    }
    if (in->str_name != NULL) {
        a->text.str_component_0 = in->str_name->str_component_0;
        a->text.str_component_1 = in->str_name->str_component_1;
        a->text.str_component_2 = in->str_name->str_component_2;
        a->name.str_name = &a->text;
    }
    return &a->name;
}

/* v when the enum knows it, else 0 (prost's accessor falls back to the
 * default for unknown values). */
static int known_enum(const ProtobufCEnumDescriptor *d, int v) {
    return protobuf_c_enum_descriptor_get_value(d, v) != NULL ? v : 0;
}

slim_status slim_wire_header_aad(const slim_msg *m, slim_buf *out) {
    if (m == NULL || out == NULL || slim_wire_kind(m) != SLIM_MSG_PUBLISH || m->publish == NULL)
        return SLIM_E_INVALID_ARG;
    const Dataplane__Proto__V1__Publish *p = m->publish;
    const slim_pb_header *h = p->header;
    const slim_pb_session *s = p->session;
    if (h == NULL || h->source == NULL || h->destination == NULL || s == NULL)
        return SLIM_E_WIRE_MISSING_FIELD;
    aad_name src, dst;
    Dataplane__Proto__V1__HeaderIntegrityAad aad = DATAPLANE__PROTO__V1__HEADER_INTEGRITY_AAD__INIT;
    aad.version = 1;
    aad.source = aad_name_copy(h->source, &src);
    aad.destination = aad_name_copy(h->destination, &dst);
    aad.identity = h->identity;
    aad.session_type = (Dataplane__Proto__V1__SessionType)known_enum(
        &dataplane__proto__v1__session_type__descriptor, (int)s->session_type);
    aad.session_message_type = (Dataplane__Proto__V1__SessionMessageType)known_enum(
        &dataplane__proto__v1__session_message_type__descriptor, (int)s->session_message_type);
    aad.session_id = s->session_id;
    aad.message_id = s->message_id;
    const slim_pb_content *c = p->msg;
    if (c != NULL &&
        c->content_type_case == DATAPLANE__PROTO__V1__CONTENT__CONTENT_TYPE_APP_PAYLOAD &&
        c->app_payload != NULL)
        aad.payload_type = c->app_payload->payload_type;
    size_t n = dataplane__proto__v1__header_integrity_aad__get_packed_size(&aad);
    uint8_t *dst_bytes;
    slim_status st = slim_buf_append_zeros(out, n, &dst_bytes);
    if (st != SLIM_OK)
        return st;
    if (dataplane__proto__v1__header_integrity_aad__pack(&aad, dst_bytes) != n) {
        out->len -= n;
        return SLIM_E_INTERNAL;
    }
    return SLIM_OK;
}

static slim_status header_of(slim_msg *m, slim_pb_header **h) {
    if (m == NULL)
        return SLIM_E_INVALID_ARG;
    *h = slim_wire_header(m);
    return *h != NULL ? SLIM_OK : SLIM_E_WIRE_MISSING_FIELD;
}

slim_status slim_wire_set_identity(slim_msg *m, slim_str token) {
    slim_pb_header *h;
    slim_status st = header_of(m, &h);
    if (st != SLIM_OK)
        return st;
    if (token.ptr == NULL && token.len > 0)
        return SLIM_E_INVALID_ARG;
    char *copy = (char *)protobuf_c_empty_string;
    if (token.len > 0 && (copy = slim_strndup(token.ptr, token.len)) == NULL)
        return SLIM_E_NOMEM;
    if (h->identity != NULL && h->identity != protobuf_c_empty_string)
        slim_free(h->identity);
    h->identity = copy;
    return SLIM_OK;
}

slim_status slim_wire_set_header_sig(slim_msg *m, slim_bytes sig) {
    slim_pb_header *h;
    slim_status st = header_of(m, &h);
    if (st != SLIM_OK)
        return st;
    uint8_t *copy = NULL;
    if (sig.len > 0) {
        if (sig.ptr == NULL)
            return SLIM_E_INVALID_ARG;
        if ((copy = slim_malloc(sig.len)) == NULL)
            return SLIM_E_NOMEM;
        memcpy(copy, sig.ptr, sig.len);
    }
    if (h->_e2e_header_sig_case)
        slim_free(h->e2e_header_sig.data);
    h->e2e_header_sig = (ProtobufCBinaryData){sig.len, copy};
    h->_e2e_header_sig_case = sig.ptr != NULL
                                  ? DATAPLANE__PROTO__V1__SLIMHEADER___E2E_HEADER_SIG_E2E_HEADER_SIG
                                  : DATAPLANE__PROTO__V1__SLIMHEADER___E2E_HEADER_SIG__NOT_SET;
    return SLIM_OK;
}

/* ---- Metadata ---- */

typedef Dataplane__Proto__V1__Message__MetadataEntry meta_entry;

const char *slim_wire_metadata_get(const slim_msg *m, const char *key) {
    for (size_t i = 0; i < m->n_metadata; i++)
        if (m->metadata[i]->key != NULL && strcmp(m->metadata[i]->key, key) == 0)
            return m->metadata[i]->value;
    return NULL;
}

slim_status slim_wire_metadata_set(slim_msg *m, const char *key, const char *value) {
    if (m == NULL || key == NULL || value == NULL)
        return SLIM_E_INVALID_ARG;
    char *v = dup_str(value);
    if (v == NULL)
        return SLIM_E_NOMEM;
    for (size_t i = 0; i < m->n_metadata; i++) {
        meta_entry *e = m->metadata[i];
        if (e->key != NULL && strcmp(e->key, key) == 0) {
            if (e->value != protobuf_c_empty_string)
                slim_free(e->value);
            e->value = v;
            return SLIM_OK;
        }
    }
    meta_entry *e = NEW(meta_entry, dataplane__proto__v1__message__metadata_entry);
    meta_entry **arr = slim_realloc(m->metadata, (m->n_metadata + 1) * sizeof *arr);
    char *k = dup_str(key);
    if (e == NULL || arr == NULL || k == NULL) {
        slim_free(e);
        slim_free(k);
        slim_free(v);
        if (arr != NULL)
            m->metadata = arr;
        return SLIM_E_NOMEM;
    }
    m->metadata = arr;
    e->key = k;
    e->value = v;
    arr[m->n_metadata++] = e;
    return SLIM_OK;
}
