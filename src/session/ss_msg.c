/*
 * The messages a session sends, as the wire wants them
 * (../shared/spec/session-protocol-head.md §1, §3, §10): every Publish of a
 * session has both forms of its names (the builders always write NameId),
 * fanout 1 (256 for a group's channel), ttl 8, the session's type, our
 * version string;
 * acknowledgements and RTX requests carry an empty ApplicationPayload, the
 * command messages (types 5-20) the CommandPayload variant of their type.
 * Every message goes through ops.stamp just before it is encoded, a
 * retransmission included, so each copy carries the current token and its own signature.
 */
#include "session/ss_int.h"
#include "core/alloc.h"

#include <string.h>

void *ss_pb_new(const ProtobufCMessageDescriptor *d) {
    void *p = slim_malloc(d->sizeof_message);
    if (p != NULL)
        protobuf_c_message_init(d, p);
    return p;
}

slim_wire_name ss_pb_wire(const slim_pb_name *pb, slim_name *tmp, slim_str text[3]) {
    slim_wire_name w = {tmp, NULL};
    if (slim_wire_name_get(pb, tmp) != SLIM_OK)
        memset(tmp, 0, sizeof *tmp);
    if (slim_wire_name_strings(pb, text))
        w.text = text;
    return w;
}

slim_status ss_msg_new(const ss_hdr *h, slim_msg **out) {
    slim_wire_header_spec hs = {
        .source = h->src,
        .destination = h->dst,
        .fanout = h->fanout ? h->fanout : 1,
        .ttl = SLIM_WIRE_DEFAULT_TTL,
        .has_forward_to = h->has_forward_to,
        .forward_to = h->forward_to,
        .has_error = h->error,
        .error = h->error,
    };
    slim_wire_session_spec sp = {
        .session_type = h->group ? SS_MULTICAST : SS_P2P,
        .message_type = (Dataplane__Proto__V1__SessionMessageType)h->type,
        .session_id = h->sid,
        .message_id = h->mid,
    };
    slim_msg *m;
    slim_status st = slim_wire_publish_new(&hs, &sp, &m);
    if (st != SLIM_OK)
        return st;
    char *v = slim_strndup(SS_VERSION, strlen(SS_VERSION));
    if (v == NULL) {
        slim_wire_free(m);
        return SLIM_E_NOMEM;
    }
    m->publish->header->version = v;
    *out = m;
    return SLIM_OK;
}

slim_status ss_msg_app(const ss_hdr *h, const char *payload_type, slim_bytes blob, slim_msg **out) {
    slim_msg *m;
    slim_status st = ss_msg_new(h, &m);
    if (st != SLIM_OK)
        return st;
    if ((st = slim_wire_set_app_payload(m, payload_type, blob)) != SLIM_OK) {
        slim_wire_free(m);
        return st;
    }
    *out = m;
    return SLIM_OK;
}

slim_status ss_msg_cmd(const ss_hdr *h, slim_msg **out, void **inner) {
    if (!ss_is_command(h->type))
        return SLIM_E_INVALID_ARG;
    slim_msg *m;
    slim_status st = ss_msg_new(h, &m);
    if (st != SLIM_OK)
        return st;
    slim_pb_command *cmd;
    st = slim_wire_command_new(
        (Dataplane__Proto__V1__CommandPayload__CommandPayloadTypeCase)(h->type - 4), &cmd);
    if (st == SLIM_OK) {
        /* Every variant is a pointer in the same union. */
        void *payload = cmd->discovery_request;
        st = slim_wire_set_command(m, cmd);
        if (st == SLIM_OK && inner != NULL)
            *inner = payload;
    }
    if (st != SLIM_OK) {
        slim_wire_free(m);
        return st;
    }
    *out = m;
    return SLIM_OK;
}

static slim_status queue_encoded(slim_sessions *ss, uint64_t handle, const slim_msg *m) {
    size_t n = dataplane__proto__v1__message__get_packed_size(m);
    if (n > ss->max_message) {
        ss->c.send_failures++;
        return SLIM_E_TOO_LARGE;
    }
    ss_out *o = ss_out_new(SLIM_SOUT_SEND, NULL);
    uint8_t *b = slim_malloc(n ? n : 1);
    if (o == NULL || b == NULL) {
        slim_free(o);
        slim_free(b);
        ss->c.send_failures++;
        return SLIM_E_NOMEM;
    }
    o->len = dataplane__proto__v1__message__pack(m, b);
    o->bytes = b;
    o->handle = handle;
    ss_out_push(ss, o);
    return SLIM_OK;
}

/* What the stamp op must find empty. */
static void unstamp(slim_pb_header *h) {
    if (h->identity != NULL && h->identity != protobuf_c_empty_string)
        slim_free(h->identity);
    h->identity = (char *)protobuf_c_empty_string;
    if (h->_e2e_header_sig_case) {
        slim_free(h->e2e_header_sig.data);
        h->e2e_header_sig.data = NULL;
        h->e2e_header_sig.len = 0;
        h->_e2e_header_sig_case = DATAPLANE__PROTO__V1__SLIMHEADER___E2E_HEADER_SIG__NOT_SET;
    }
}

/* Clears m's identity and signature and stamps it anew; a failure is
 * counted. */
static slim_status restamp(slim_sessions *ss, slim_msg *m) {
    slim_pb_header *h = slim_wire_header(m);
    if (h == NULL)
        return SLIM_E_INVALID_ARG;
    unstamp(h);
    slim_status st = ss->ops.stamp(ss->ops.ud, m);
    if (st != SLIM_OK)
        ss->c.send_failures++;
    return st;
}

slim_status ss_send(slim_sessions *ss, uint64_t handle, slim_msg *m) {
    slim_status st = restamp(ss, m);
    return st == SLIM_OK ? queue_encoded(ss, handle, m) : st;
}

slim_status ss_send_data(slim_sessions *ss, ss_sess *s, slim_msg *m, uint64_t epoch) {
    if (s->mls == NULL)
        return ss_send(ss, s->handle, m);
    Dataplane__Proto__V1__ApplicationPayload *ap =
        (Dataplane__Proto__V1__ApplicationPayload *)ss_msg_app_payload(m);
    if (ap == NULL)
        return SLIM_E_INVALID_ARG;
    slim_status st = restamp(ss, m);
    if (st != SLIM_OK)
        return st;
    slim_buf ct;
    slim_buf_init(&ct);
    if ((st = ss_mls_seal(s, m, epoch, &ct)) != SLIM_OK) {
        slim_buf_cleanup(&ct); /* what an error left in it */
        ss->c.send_failures++;
        return st;
    }
    ProtobufCBinaryData plain = ap->blob;
    ap->blob.data = ct.data;
    ap->blob.len = ct.len;
    st = queue_encoded(ss, s->handle, m);
    ap->blob = plain;
    slim_buf_cleanup(&ct);
    return st;
}

slim_status ss_send_plain(slim_sessions *ss, uint64_t handle, slim_msg *m) {
    return queue_encoded(ss, handle, m);
}

slim_status ss_send_new(slim_sessions *ss, uint64_t handle, slim_msg *m) {
    slim_status st = ss_send(ss, handle, m);
    slim_wire_free(m);
    return st;
}

/* ---- reading ---- */

uint32_t ss_msg_type(const slim_msg *m) {
    return (uint32_t)m->publish->session->session_message_type;
}

bool ss_msg_ours(const slim_msg *m) {
    const char *v = m->publish->header->version;
    size_t n = v != NULL ? strlen(v) : 0, k = strlen(SS_VERSION_TAG);
    return n > k && memcmp(v + n - k, SS_VERSION_TAG, k) == 0;
}

uint32_t ss_msg_sid(const slim_msg *m) {
    return m->publish->session->session_id;
}

uint32_t ss_msg_mid(const slim_msg *m) {
    return m->publish->session->message_id;
}

bool ss_msg_source(const slim_msg *m, slim_name *out) {
    return slim_wire_name_get(m->publish->header->source, out) == SLIM_OK;
}

bool ss_msg_dest(const slim_msg *m, slim_name *out) {
    return slim_wire_name_get(m->publish->header->destination, out) == SLIM_OK;
}

bool ss_msg_in_conn(const slim_msg *m, uint64_t *conn) {
    const slim_pb_header *h = m->publish->header;
    if (!h->_incoming_conn_case)
        return false;
    *conn = h->incoming_conn;
    return true;
}

const Dataplane__Proto__V1__ApplicationPayload *ss_msg_app_payload(const slim_msg *m) {
    const slim_pb_content *c = m->publish->msg;
    if (c == NULL ||
        c->content_type_case != DATAPLANE__PROTO__V1__CONTENT__CONTENT_TYPE_APP_PAYLOAD)
        return NULL;
    return c->app_payload;
}

const slim_pb_command *ss_msg_command(const slim_msg *m) {
    const slim_pb_content *c = m->publish->msg;
    if (c == NULL ||
        c->content_type_case != DATAPLANE__PROTO__V1__CONTENT__CONTENT_TYPE_COMMAND_PAYLOAD)
        return NULL;
    return c->command_payload;
}

bool ss_is_command(uint32_t type) {
    return type >= T_DISCOVERY_REQUEST && type <= T_REJOIN_REPLY;
}

/* ---- rings ---- */

slim_status ss_ring_room(void **ring, size_t size, uint32_t *cap, uint32_t *head, uint32_t count,
                         uint32_t need, uint32_t max) {
    if (need <= *cap)
        return SLIM_OK;
    uint32_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    if (c > max)
        c = max;
    uint8_t *r = slim_calloc(c, size);
    if (r == NULL)
        return SLIM_E_NOMEM;
    const uint8_t *old = *ring;
    for (uint32_t i = 0; i < count; i++)
        memcpy(r + (size_t)i * size, old + (size_t)((*head + i) % *cap) * size, size);
    slim_free(*ring);
    *ring = r;
    *cap = c;
    *head = 0;
    return SLIM_OK;
}

/* ---- timer queues ---- */

slim_status ss_tq_reserve(ss_tq *q, uint32_t n) {
    if (q->cap >= n)
        return SLIM_OK;
    ss_tq_ent *e = slim_malloc((size_t)n * sizeof *e);
    if (e == NULL)
        return SLIM_E_NOMEM;
    for (uint32_t i = 0; i < q->len; i++)
        e[i] = q->e[(q->head + i) % q->cap];
    slim_free(q->e);
    q->e = e;
    q->head = 0;
    q->cap = n;
    return SLIM_OK;
}

void ss_tq_push(ss_tq *q, uint64_t when, uint32_t id,
                bool (*live)(const void *ctx, const ss_tq_ent *e), const void *ctx) {
    if (q->len == q->cap) {
        uint32_t n = 0;
        for (uint32_t i = 0; i < q->len; i++) {
            ss_tq_ent e = q->e[(q->head + i) % q->cap];
            if (live(ctx, &e))
                q->e[(q->head + n++) % q->cap] = e;
        }
        q->len = n;
        if (q->len == q->cap)
            return; /* callers size it so that this is never reached */
    }
    /* In time order. Usually the new timer goes last; but the data
     * period (ss_rto) can drop at once (a fresh sample ends a backoff, the
     * path got faster), and a timer set then must not wait behind those
     * set before with the longer period. */
    uint32_t i = q->len;
    while (i > 0 && q->e[(q->head + i - 1) % q->cap].when > when) {
        q->e[(q->head + i) % q->cap] = q->e[(q->head + i - 1) % q->cap];
        i--;
    }
    q->e[(q->head + i) % q->cap] = (ss_tq_ent){when, id};
    q->len++;
}

bool ss_tq_peek(const ss_tq *q, ss_tq_ent *out) {
    if (q->len == 0)
        return false;
    *out = q->e[q->head];
    return true;
}

void ss_tq_pop(ss_tq *q) {
    if (q->len == 0)
        return;
    q->head = (q->head + 1) % q->cap;
    q->len--;
}

void ss_tq_free(ss_tq *q) {
    slim_free(q->e);
    memset(q, 0, sizeof *q);
}
