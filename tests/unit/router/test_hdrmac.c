/* Header MACs: our HMAC-SHA256 (SHA-256 states kept per link after the
 * padded key and the link's prefix) against OpenSSL's one-shot HMAC() over
 * the whole input, at every fields length up to five blocks and for link
 * ids that leave every kind of partial block. */
#include "test.h"
#include "router/hdrmac.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

static void reference(const uint8_t secret[32], const char *link_id, slim_bytes fields,
                      uint8_t out[32]) {
    uint8_t msg[15 + 4 + SLIM_HDRMAC_LINK_ID_MAX + 400];
    size_t n = 0, id_len = strlen(link_id);
    memcpy(msg, "SLIM-DP-HDR-v1", 15); /* with its NUL */
    n = 15;
    for (int i = 0; i < 4; i++)
        msg[n++] = (uint8_t)(id_len >> (8 * i));
    memcpy(msg + n, link_id, id_len);
    n += id_len;
    memcpy(msg + n, fields.ptr, fields.len);
    n += fields.len;
    unsigned len = 0;
    HMAC(EVP_sha256(), secret, 32, msg, n, out, &len);
}

TEST(tag_equals_openssl_hmac) {
    uint8_t secret[32], fields[330];
    for (int i = 0; i < 32; i++)
        secret[i] = (uint8_t)(7 * i + 1);
    for (size_t i = 0; i < sizeof fields; i++)
        fields[i] = (uint8_t)(i * 131 + 17);
    /* Prefix lengths 19 + id: 20, 44, 45 (a whole block with one byte to
     * spare for 0x80 once the fields are empty), 64, 83, 128, 147. */
    static const size_t id_lens[] = {1, 25, 26, 36, 45, 64, 109, 128};
    char id[SLIM_HDRMAC_LINK_ID_MAX + 1];
    int checked = 0;
    for (size_t j = 0; j < sizeof id_lens / sizeof id_lens[0]; j++) {
        memset(id, 'a' + (int)j, id_lens[j]);
        id[id_lens[j]] = 0;
        slim_hdrmac_key k;
        CHECK_OK(slim_hdrmac_key_init(secret, id, &k));
        for (size_t n = 0; n <= sizeof fields; n++) {
            uint8_t got[32], want[32];
            slim_bytes f = slim_bytes_of(fields, n);
            slim_hdrmac_tag(&k, f, got);
            reference(secret, id, f, want);
            if (memcmp(got, want, 32) != 0)
                TEST_FAIL_AT("link id of %zu bytes, %zu bytes of fields", id_lens[j], n);
            CHECK(slim_hdrmac_check(&k, f, slim_bytes_of(want, 32)));
            want[n % 32] ^= 1;
            CHECK(!slim_hdrmac_check(&k, f, slim_bytes_of(want, 32)));
            checked++;
        }
    }
    CHECK_EQ(checked, 8 * 331);
    slim_hdrmac_key k;
    char big[SLIM_HDRMAC_LINK_ID_MAX + 2];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    CHECK_STATUS(slim_hdrmac_key_init(secret, big, &k), SLIM_E_INVALID_ARG);
    CHECK_STATUS(slim_hdrmac_key_init(secret, "", &k), SLIM_E_INVALID_ARG);
}

TEST_MAIN(TEST_ENTRY(tag_equals_openssl_hmac))
