/*
 * gRPC framing and header value rules (see codec.h). Each function works on
 * views and appends to a slim_buf; none keeps a pointer to its input.
 */
#include "transport/codec.h"
#include "core/base64.h"
#include "core/util.h"

#include <string.h>

/* ---- Status mapping ---- */

slim_status slim_grpc_code_to_status(int code) {
    if (code == SLIM_GRPC_OK)
        return SLIM_OK;
    if (code < SLIM_GRPC_CANCELLED || code > SLIM_GRPC_UNAUTHENTICATED)
        return SLIM_E_GRPC_UNKNOWN;
    /* The table numbers E_GRPC_<CODE> as -500 - code. */
    return (slim_status)(SLIM_E_GRPC_CANCELLED - (code - SLIM_GRPC_CANCELLED));
}

slim_grpc_code slim_grpc_status_to_code(slim_status st) {
    if (st <= SLIM_E_GRPC_CANCELLED && st >= SLIM_E_GRPC_UNAUTHENTICATED)
        return (slim_grpc_code)(SLIM_GRPC_CANCELLED + (SLIM_E_GRPC_CANCELLED - st));
    switch (st) {
    case SLIM_OK:
        return SLIM_GRPC_OK;
    case SLIM_E_INVALID_ARG:
    case SLIM_E_TRUNCATED:
    case SLIM_E_TRAILING:
    case SLIM_E_WIRE_MALFORMED:
    case SLIM_E_WIRE_MISSING_FIELD:
    case SLIM_E_WIRE_UNKNOWN_TYPE:
        return SLIM_GRPC_INVALID_ARGUMENT;
    case SLIM_E_NOMEM:
    case SLIM_E_TOO_LARGE:
    case SLIM_E_QUEUE_FULL:
    case SLIM_E_TRANSPORT_MSG_TOO_LARGE:
        return SLIM_GRPC_RESOURCE_EXHAUSTED;
    case SLIM_E_NOT_FOUND:
        return SLIM_GRPC_NOT_FOUND;
    case SLIM_E_EXISTS:
        return SLIM_GRPC_ALREADY_EXISTS;
    case SLIM_E_UNSUPPORTED:
        return SLIM_GRPC_UNIMPLEMENTED;
    case SLIM_E_STATE:
        return SLIM_GRPC_FAILED_PRECONDITION;
    case SLIM_E_TIMEOUT:
        return SLIM_GRPC_DEADLINE_EXCEEDED;
    case SLIM_E_CANCELLED:
        return SLIM_GRPC_CANCELLED;
    case SLIM_E_OVERFLOW:
        return SLIM_GRPC_OUT_OF_RANGE;
    case SLIM_E_CLOSED:
    case SLIM_E_TRANSPORT_RESOLVE:
    case SLIM_E_TRANSPORT_CONNECT:
    case SLIM_E_TRANSPORT_CONN_LOST:
    case SLIM_E_TRANSPORT_KEEPALIVE:
    case SLIM_E_TRANSPORT_TIMEOUT:
    case SLIM_E_TRANSPORT_GOAWAY:
        return SLIM_GRPC_UNAVAILABLE;
    case SLIM_E_INTERNAL:
    case SLIM_E_TRANSPORT_PROTOCOL:
        return SLIM_GRPC_INTERNAL;
    default:
        /* TLS failures: the connection could not be (kept) secured, which
         * gRPC reports as UNAVAILABLE. */
        if (st <= SLIM_E_TLS_CONFIG && st >= SLIM_E_TLS_VERSION)
            return SLIM_GRPC_UNAVAILABLE;
        return SLIM_GRPC_UNKNOWN;
    }
}

static const char *const code_names[] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

const char *slim_grpc_code_name(int code) {
    if (code < 0 || (size_t)code >= SLIM_ARRAY_LEN(code_names))
        return "UNKNOWN";
    return code_names[code];
}

slim_grpc_code slim_grpc_code_from_http(int http_status) {
    switch (http_status) {
    case 400:
        return SLIM_GRPC_INTERNAL;
    case 401:
        return SLIM_GRPC_UNAUTHENTICATED;
    case 403:
        return SLIM_GRPC_PERMISSION_DENIED;
    case 404:
        return SLIM_GRPC_UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
        return SLIM_GRPC_UNAVAILABLE;
    default:
        return SLIM_GRPC_UNKNOWN;
    }
}

slim_grpc_code slim_grpc_code_from_h2_error(uint32_t h2_error) {
    switch (h2_error) {
    case 0x7: /* REFUSED_STREAM: nothing was processed, retry elsewhere */
        return SLIM_GRPC_UNAVAILABLE;
    case 0x8: /* CANCEL */
        return SLIM_GRPC_CANCELLED;
    case 0xb: /* ENHANCE_YOUR_CALM */
        return SLIM_GRPC_RESOURCE_EXHAUSTED;
    case 0xc: /* INADEQUATE_SECURITY */
        return SLIM_GRPC_PERMISSION_DENIED;
    default: /* NO_ERROR without a status, PROTOCOL_ERROR, INTERNAL_ERROR, ... */
        return SLIM_GRPC_INTERNAL;
    }
}

slim_grpc_code slim_grpc_code_parse(slim_str v) {
    if (v.len == 0 || v.len > 2)
        return SLIM_GRPC_UNKNOWN;
    int code = 0;
    for (size_t i = 0; i < v.len; i++) {
        if (v.ptr[i] < '0' || v.ptr[i] > '9')
            return SLIM_GRPC_UNKNOWN;
        code = code * 10 + (v.ptr[i] - '0');
    }
    return code <= SLIM_GRPC_UNAUTHENTICATED ? (slim_grpc_code)code : SLIM_GRPC_UNKNOWN;
}

/* ---- Message framing ---- */

void slim_grpc_prefix_write(uint8_t out[SLIM_GRPC_PREFIX_LEN], uint32_t len) {
    out[0] = 0;
    out[1] = (uint8_t)(len >> 24);
    out[2] = (uint8_t)(len >> 16);
    out[3] = (uint8_t)(len >> 8);
    out[4] = (uint8_t)len;
}

void slim_grpc_deframer_init(slim_grpc_deframer *d, size_t max_size) {
    memset(d, 0, sizeof *d);
    d->max_size = max_size;
    slim_buf_init(&d->body);
}

void slim_grpc_deframer_cleanup(slim_grpc_deframer *d) {
    slim_buf_cleanup(&d->body);
    d->hdr_len = 0;
}

/* Keep a reassembly buffer this large between messages; free bigger ones so
 * one large message does not pin its memory for the life of the stream. */
#define DEFRAMER_KEEP_CAP (64u * 1024u)

static slim_status check_prefix(slim_grpc_deframer *d) {
    uint8_t flags = d->hdr[0];
    d->need = (uint32_t)d->hdr[1] << 24 | (uint32_t)d->hdr[2] << 16 | (uint32_t)d->hdr[3] << 8 |
              d->hdr[4];
    if (flags == 1)
        return SLIM_E_GRPC_UNIMPLEMENTED;
    if (flags != 0)
        return SLIM_E_GRPC_INTERNAL;
    if (d->need > d->max_size)
        return SLIM_E_GRPC_RESOURCE_EXHAUSTED;
    return SLIM_OK;
}

slim_status slim_grpc_deframe(slim_grpc_deframer *d, slim_bytes in, size_t *used, bool *have,
                              slim_bytes *msg) {
    size_t pos = 0;
    *have = false;
    *used = 0;
    if (d->failed != SLIM_OK)
        return d->failed;
    if (d->delivered) {
        d->delivered = false;
        if (d->body.cap > DEFRAMER_KEEP_CAP)
            slim_buf_cleanup(&d->body);
        d->body.len = 0;
    }
    while (pos < in.len) {
        if (d->hdr_len < SLIM_GRPC_PREFIX_LEN) {
            size_t take = SLIM_GRPC_PREFIX_LEN - d->hdr_len;
            if (take > in.len - pos)
                take = in.len - pos;
            memcpy(d->hdr + d->hdr_len, in.ptr + pos, take);
            d->hdr_len = (uint8_t)(d->hdr_len + take);
            pos += take;
            if (d->hdr_len < SLIM_GRPC_PREFIX_LEN)
                break;
            slim_status st = check_prefix(d);
            if (st != SLIM_OK) {
                d->failed = st;
                *used = pos;
                return st;
            }
        }
        size_t avail = in.len - pos;
        if (d->body.len == 0 && avail >= d->need) {
            /* The whole body is in the input: hand it out in place. */
            msg->ptr = in.ptr + pos;
            msg->len = d->need;
            pos += d->need;
            d->hdr_len = 0;
            *have = true;
            break;
        }
        size_t take = d->need - d->body.len;
        if (take > avail)
            take = avail;
        /* Grown with the bytes that arrive, not with the announced length,
         * so a prefix alone cannot make us allocate max_size. */
        slim_status st = slim_buf_append(&d->body, in.ptr + pos, take);
        if (st != SLIM_OK) {
            d->failed = st;
            *used = pos;
            return st;
        }
        pos += take;
        if (d->body.len == d->need) {
            *msg = slim_buf_view(&d->body);
            d->hdr_len = 0;
            d->delivered = true;
            *have = true;
            break;
        }
    }
    if (!*have && d->hdr_len == SLIM_GRPC_PREFIX_LEN && d->need == 0) {
        /* An empty message whose prefix ended the input. */
        msg->ptr = in.ptr + pos;
        msg->len = 0;
        d->hdr_len = 0;
        *have = true;
    }
    *used = pos;
    return SLIM_OK;
}

/* ---- grpc-timeout ---- */

static const struct {
    char unit;
    uint64_t ns;
} timeout_units[] = {
    {'n', 1ull},          {'u', 1000ull},        {'m', 1000000ull},
    {'S', 1000000000ull}, {'M', 60000000000ull}, {'H', 3600000000000ull},
};

slim_status slim_grpc_timeout_parse(slim_str v, uint64_t *ns) {
    if (v.len < 2 || v.len > 9)
        return SLIM_E_INVALID_ARG;
    uint64_t value = 0;
    for (size_t i = 0; i + 1 < v.len; i++) {
        if (v.ptr[i] < '0' || v.ptr[i] > '9')
            return SLIM_E_INVALID_ARG;
        value = value * 10 + (uint64_t)(v.ptr[i] - '0');
    }
    char unit = v.ptr[v.len - 1];
    for (size_t i = 0; i < SLIM_ARRAY_LEN(timeout_units); i++) {
        if (timeout_units[i].unit == unit) {
            uint64_t m = timeout_units[i].ns;
            *ns = value > UINT64_MAX / m ? UINT64_MAX : value * m;
            return SLIM_OK;
        }
    }
    return SLIM_E_INVALID_ARG;
}

void slim_grpc_timeout_format(uint64_t ns, char out[16]) {
    size_t i = 0;
    uint64_t value = 1;
    for (; i < SLIM_ARRAY_LEN(timeout_units); i++) {
        uint64_t m = timeout_units[i].ns;
        value = ns / m + (ns % m != 0);
        if (value == 0)
            value = 1;
        if (value <= SLIM_GRPC_TIMEOUT_MAX_VALUE)
            break;
    }
    if (i == SLIM_ARRAY_LEN(timeout_units)) {
        i--;
        value = SLIM_GRPC_TIMEOUT_MAX_VALUE;
    }
    char digits[20];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value > 0);
    size_t o = 0;
    while (n > 0)
        out[o++] = digits[--n];
    out[o++] = timeout_units[i].unit;
    out[o] = '\0';
}

/* ---- grpc-message percent-encoding ---- */

static const char hex_upper[] = "0123456789ABCDEF";

static bool percent_plain(uint8_t c) {
    return c >= 0x20 && c <= 0x7e && c != '%';
}

slim_status slim_grpc_percent_encode(slim_str in, slim_buf *out) {
    if (in.len == 0)
        return SLIM_OK;
    size_t extra = 0;
    for (size_t i = 0; i < in.len; i++)
        extra += percent_plain((uint8_t)in.ptr[i]) ? 0 : 2;
    slim_status st = slim_buf_reserve(out, in.len + extra);
    if (st != SLIM_OK)
        return st;
    uint8_t *o = out->data + out->len;
    for (size_t i = 0; i < in.len; i++) {
        uint8_t c = (uint8_t)in.ptr[i];
        if (percent_plain(c)) {
            *o++ = c;
        } else {
            *o++ = '%';
            *o++ = (uint8_t)hex_upper[c >> 4];
            *o++ = (uint8_t)hex_upper[c & 15];
        }
    }
    out->len += in.len + extra;
    return SLIM_OK;
}

slim_status slim_grpc_percent_decode(slim_str in, slim_buf *out) {
    if (in.len == 0)
        return SLIM_OK;
    slim_status st = slim_buf_reserve(out, in.len);
    if (st != SLIM_OK)
        return st;
    uint8_t *o = out->data + out->len;
    size_t i = 0;
    while (i < in.len) {
        if (in.ptr[i] == '%' && i + 2 < in.len && slim_hex_digit(in.ptr[i + 1]) >= 0 &&
            slim_hex_digit(in.ptr[i + 2]) >= 0) {
            *o++ = (uint8_t)(slim_hex_digit(in.ptr[i + 1]) << 4 | slim_hex_digit(in.ptr[i + 2]));
            i += 3;
        } else {
            *o++ = (uint8_t)in.ptr[i++];
        }
    }
    out->len = (size_t)(o - out->data);
    return SLIM_OK;
}

/* ---- base64 ---- */

/* gRPC "-bin" values: standard alphabet, sent unpadded, read padded or
 * not (core/base64.h). */
slim_status slim_base64_encode(slim_bytes in, slim_buf *out) {
    return slim_b64_encode(in, 0, out);
}

slim_status slim_base64_decode(slim_str in, slim_buf *out) {
    return slim_b64_decode(in, SLIM_B64_PAD_OPTIONAL, out);
}

/* ---- Header rules ---- */

bool slim_grpc_header_name_valid(slim_str name) {
    if (name.len == 0)
        return false;
    for (size_t i = 0; i < name.len; i++) {
        char c = name.ptr[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

static bool str_is(slim_str s, const char *lit) {
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

static bool str_starts(slim_str s, const char *lit) {
    size_t n = strlen(lit);
    return s.len >= n && memcmp(s.ptr, lit, n) == 0;
}

bool slim_grpc_header_name_reserved(slim_str name) {
    return (name.len > 0 && name.ptr[0] == ':') || str_starts(name, "grpc-") ||
           str_is(name, "te") || str_is(name, "content-type") || str_is(name, "user-agent");
}

bool slim_grpc_header_is_bin(slim_str name) {
    return name.len >= 4 && memcmp(name.ptr + name.len - 4, "-bin", 4) == 0;
}

bool slim_grpc_header_ascii_valid(slim_bytes value) {
    for (size_t i = 0; i < value.len; i++) {
        if (value.ptr[i] < 0x20 || value.ptr[i] > 0x7e)
            return false;
    }
    return true;
}

bool slim_grpc_content_type_ok(slim_str v) {
    static const char base[] = "application/grpc";
    size_t n = sizeof base - 1;
    if (v.len < n || memcmp(v.ptr, base, n) != 0)
        return false;
    return v.len == n || v.ptr[n] == '+' || v.ptr[n] == ';';
}
