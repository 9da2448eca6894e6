/*
 * libFuzzer target: unprotecting Public- and PrivateMessages with a fixed
 * group state (tests/fuzz/mls_fixture.h: four members, constant keys,
 * epoch 1; each input gets fresh secret trees, so inputs are independent).
 *
 * Byte 0: bit 0 picks cipher suite 1 or 2; bit 1 the mode.
 *   mode 0: the rest is an MLSMessage, unprotected by a member.
 *   mode 1: the rest is [leaf][content type][ad length][ad][plaintext]:
 *           the plaintext is sealed as a PrivateMessage from that leaf with
 *           correct sender data (mls_fixture_seal_raw), so the fuzzer works
 *           on what comes after decryption (content parsing, padding,
 *           signature), then unprotected.
 * Invariants, each an abort when broken:
 *   - a message that unprotects comes from a member inside the tree, and
 *     its views point into the message or the plaintext buffer;
 *   - mode 1: a failed unprotect leaves the generation's key in the
 *     receiver's secret tree; a successful one takes it (RFC 9420 §9.2).
 */
#include "mls_fixture.h"

#include <stdlib.h>

static void check(bool ok) {
    if (!ok)
        abort();
}

static bool inside(slim_bytes v, const uint8_t *p, size_t n) {
    return v.len == 0 || (v.ptr >= p && v.ptr + v.len <= p + n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static mls_fixture fixtures[2];
    static bool ready;
    if (!ready) {
        check(mls_fixture_init(&fixtures[0], 1) == SLIM_OK);
        check(mls_fixture_init(&fixtures[1], 2) == SLIM_OK);
        ready = true;
    }
    if (size < 1)
        return 0;
    mls_fixture *f = &fixtures[data[0] & 1];
    bool sealed = (data[0] & 2) != 0;
    slim_mls_framing_ctx rx, tx;
    memset(&rx, 0, sizeof rx);
    memset(&tx, 0, sizeof tx);
    check(mls_fixture_member(f, &rx) == SLIM_OK);
    slim_buf msg = SLIM_BUF_INIT, plain = SLIM_BUF_INIT;
    slim_bytes in = slim_bytes_of(data + 1, size - 1);
    uint32_t leaf = 0;
    uint8_t type = 0;
    if (sealed) {
        if (size < 4)
            goto done;
        leaf = data[1] % MLS_FIXTURE_LEAVES;
        type = (uint8_t)(1 + data[2] % 3);
        size_t ad_len = data[3];
        if (ad_len > size - 4)
            goto done;
        check(mls_fixture_member(f, &tx) == SLIM_OK);
        check(mls_fixture_seal_raw(&tx, leaf, type, slim_bytes_of(data + 4, ad_len),
                                   slim_bytes_of(data + 4 + ad_len, size - 4 - ad_len),
                                   &msg) == SLIM_OK);
        in = slim_buf_view(&msg);
    }

    slim_mls_authenticated_content ac;
    slim_status st = slim_mls_unprotect(&rx, in, &plain, &ac);
    if (st == SLIM_OK) {
        const slim_mls_framed_content *fc = &ac.content;
        if (fc->sender.type == SLIM_MLS_SENDER_MEMBER)
            check(fc->sender.index < MLS_FIXTURE_LEAVES);
        check(inside(fc->authenticated_data, in.ptr, in.len));
        if (ac.wire_format == SLIM_MLS_WIRE_PUBLIC_MESSAGE)
            check(inside(ac.auth.signature, in.ptr, in.len));
        else
            check(inside(ac.auth.signature, plain.data, plain.len));
    } else {
        check(plain.len == 0);
    }
    if (sealed) {
        /* The key of generation 0 of that leaf and ratchet: kept on
         * failure, gone after success. */
        slim_mls_ratchet_key rk;
        slim_status got = slim_mls_secret_tree_get(rx.secret_tree, leaf,
                                                   type == SLIM_MLS_CONTENT_APPLICATION
                                                       ? SLIM_MLS_RATCHET_APPLICATION
                                                       : SLIM_MLS_RATCHET_HANDSHAKE,
                                                   0, &rk);
        check(st == SLIM_OK ? got == SLIM_E_MLS_GENERATION_REUSED : got == SLIM_OK);
        slim_mls_ratchet_key_cleanup(&rk);
    }
done:
    slim_mls_secret_tree_free(rx.secret_tree);
    slim_mls_secret_tree_free(tx.secret_tree);
    slim_buf_cleanup(&msg);
    slim_buf_cleanup_secret(&plain);
    return 0;
}
