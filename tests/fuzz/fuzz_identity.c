/* libFuzzer target: src/session/identity's token parser and verifier, the
 * claims and public key reader, and the wire's header AAD. The first byte
 * picks what the rest is:
 *
 *   0  a token, checked at a fixed time with a fixed secret. Checking it a
 *      second time (from the cache when it passed) gives the same answer;
 *      a token that passes has five fields and, as its last one, the
 *      unpadded base64url HMAC of the rest, recomputed here.
 *   1  "id:timestamp:nonce:claims", to which the right MAC is appended, so
 *      that the token passes and its claims reach the JSON, base64 and
 *      point decoders. Reading the public key twice gives the same answer
 *      (the second from the cache); a key read is 32 or 65 bytes.
 *   2  a Message: when it decodes, its AAD (if it has one) unpacks with
 *      protobuf-c to the header's values, and checking its identity and
 *      signature returns a status.
 *
 * Seeds in corpus/fuzz_identity/ (docs/identity.md says how they were
 * made). */
#include "core/base64.h"
#include "core/util.h"
#include "mls/primitives.h"
#include "session/identity.h"

#include <stdlib.h>
#include <string.h>

#define NOW 1800000000ull

static const char SECRET[] = "fuzzing secret of thirty-two bytes";

static slim_identity_verifier *verifier(void) {
    static slim_identity_verifier *v;
    if (v == NULL) {
        slim_identity_params cfg = {.cache_max = 64};
        if (slim_identity_verifier_new((slim_str){SECRET, sizeof SECRET - 1}, &cfg, &v) != SLIM_OK)
            abort();
    }
    return v;
}

static void mac_of(const char *p, size_t n, slim_buf *out) {
    uint8_t mac[32];
    if (slim_mls_hmac(SLIM_MLS_HASH_SHA256, slim_bytes_of(SECRET, sizeof SECRET - 1),
                      slim_bytes_of(p, n), mac) != SLIM_OK ||
        slim_b64_encode(slim_bytes_of(mac, 32), SLIM_B64_URL, out) != SLIM_OK)
        abort();
}

static void check_token(slim_str t) {
    slim_identity_verifier *v = verifier();
    slim_identity_claims c;
    slim_status a = slim_identity_verifier_check_token(v, t, NOW, &c);
    slim_status b = slim_identity_verifier_check_token(v, t, NOW, NULL);
    if (a != b)
        abort();
    if (a != SLIM_OK)
        return;
    size_t colons = 0, last = 0;
    for (size_t i = 0; i < t.len; i++)
        if (t.ptr[i] == ':')
            colons++, last = i;
    if (colons != 4 || c.subject.ptr != t.ptr || c.issued_at < NOW - 3600 || c.issued_at > NOW + 5)
        abort();
    slim_buf mac = SLIM_BUF_INIT;
    mac_of(t.ptr, last, &mac);
    if (mac.len != t.len - last - 1 || memcmp(mac.data, t.ptr + last + 1, mac.len) != 0)
        abort(); /* accepted without the right MAC */
    slim_buf_cleanup(&mac);
}

static void check_claims(const uint8_t *data, size_t size) {
    slim_buf tok = SLIM_BUF_INIT;
    if (slim_buf_append(&tok, data, size) != SLIM_OK || slim_buf_append_u8(&tok, ':') != SLIM_OK)
        abort();
    mac_of((const char *)data, size, &tok);
    slim_str s = {(const char *)tok.data, tok.len};
    slim_identity_verifier *v = verifier();
    slim_bytes pk;
    uint8_t first[SLIM_IDENTITY_MAX_PUBKEY];
    size_t first_len = 0;
    slim_status a = slim_identity_verifier_pubkey(v, s, NOW, &pk);
    if (a == SLIM_OK) {
        if (pk.len != 32 && pk.len != 65)
            abort();
        memcpy(first, pk.ptr, pk.len);
        first_len = pk.len;
    }
    slim_status b = slim_identity_verifier_pubkey(v, s, NOW, &pk);
    if (a != b || (a == SLIM_OK && (pk.len != first_len || memcmp(pk.ptr, first, first_len))))
        abort();
    slim_buf_cleanup(&tok);
}

static int known(const ProtobufCEnumDescriptor *d, int v) {
    return protobuf_c_enum_descriptor_get_value(d, v) != NULL ? v : 0;
}

static void check_message(const uint8_t *data, size_t size) {
    slim_msg *m = NULL;
    if (slim_wire_decode(slim_bytes_of(data, size), 1u << 20, &m) != SLIM_OK)
        return;
    slim_buf aad = SLIM_BUF_INIT;
    if (slim_wire_header_aad(m, &aad) == SLIM_OK) {
        Dataplane__Proto__V1__HeaderIntegrityAad *a =
            dataplane__proto__v1__header_integrity_aad__unpack(NULL, aad.len, aad.data);
        if (a == NULL)
            abort();
        const slim_pb_header *h = m->publish->header;
        const slim_pb_session *s = m->publish->session;
        if (a->version != 1 || strcmp(a->identity, h->identity) != 0 ||
            a->session_id != s->session_id || a->message_id != s->message_id ||
            (int)a->session_type !=
                known(&dataplane__proto__v1__session_type__descriptor, (int)s->session_type) ||
            (int)a->session_message_type !=
                known(&dataplane__proto__v1__session_message_type__descriptor,
                      (int)s->session_message_type))
            abort();
        slim_name x, y;
        bool has_x = slim_wire_name_get(a->source, &x) == SLIM_OK;
        bool has_y = slim_wire_name_get(h->source, &y) == SLIM_OK;
        if (has_x != has_y || (has_x && !slim_name_equal(&x, &y)))
            abort();
        dataplane__proto__v1__header_integrity_aad__free_unpacked(a, NULL);
    }
    (void)slim_identity_verifier_check_msg(verifier(), m, true, NOW);
    slim_buf_cleanup(&aad);
    slim_wire_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0)
        return 0;
    switch (data[0] % 3) {
    case 0:
        check_token((slim_str){(const char *)data + 1, size - 1});
        break;
    case 1:
        check_claims(data + 1, size - 1);
        break;
    default:
        check_message(data + 1, size - 1);
        break;
    }
    return 0;
}
