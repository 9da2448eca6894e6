/*
 * Drives src/session/identity and the wire AAD for test_identity_interop.py:
 * one command per stdin line,
 * one answer per stdout line. Arguments are hex ("-" for empty) except
 * numbers, which are decimal. Answers start with the status name
 * ("OK", "E_IDENTITY_BAD_MAC", ...), then hex or decimal values.
 *
 *   new BASE SECRET VALIDITY     -> OK ID APP_HI APP_LO PUBKEY
 *   token NOW                    -> OK TOKEN
 *   sign DATA                    -> OK SIG
 *   stamp NOW MSG                -> OK MSG
 *   verifier SECRET              -> OK
 *   check NOW TOKEN              -> OK SUBJECT IAT EXP
 *   pubkey NOW TOKEN             -> OK PUBKEY
 *   checkmsg NOW NEED_SIG MSG    -> OK
 *   stats                        -> OK HMACS HITS SIZE EVICTIONS CLAIMS SIGNATURES
 *   verifysig PUBKEY DATA SIG    -> OK
 *   aad MSG                      -> OK AAD
 *   appid TEXT                   -> OK HI LO (16 hex digits each)
 */
#include "core/util.h"
#include "session/identity.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINE (1u << 22)

static slim_identity *ident;
static slim_identity_verifier *verifier;

/* Decodes a hex argument into a fresh buffer ("-" = empty). */
static bool arg_hex(const char *a, slim_buf *out) {
    out->len = 0;
    if (a == NULL)
        return false;
    if (strcmp(a, "-") == 0)
        return true;
    size_t n = strlen(a);
    if (slim_buf_reserve(out, n / 2 + 1) != SLIM_OK)
        return false;
    size_t got;
    if (slim_hex_decode(a, n, out->data, out->cap, &got) != SLIM_OK)
        return false;
    out->len = got;
    return true;
}

static bool arg_u64(const char *a, uint64_t *v) {
    if (a == NULL)
        return false;
    char *end;
    *v = strtoull(a, &end, 10);
    return *end == '\0';
}

static void put_hex(const void *p, size_t n) {
    const uint8_t *b = p;
    if (n == 0)
        fputs(" -", stdout);
    else
        putchar(' ');
    for (size_t i = 0; i < n; i++)
        printf("%02x", b[i]);
}

static slim_str str_of(const slim_buf *b) {
    slim_str s = {(const char *)b->data, b->len};
    return s;
}

static slim_status decode_msg(const slim_buf *b, slim_msg **m) {
    return slim_wire_decode(slim_buf_view(b), SIZE_MAX, m);
}

static void run(char **a, int n) {
    slim_buf x = SLIM_BUF_INIT, y = SLIM_BUF_INIT, z = SLIM_BUF_INIT;
    uint64_t now = 0, num = 0;
    slim_status st = SLIM_E_INVALID_ARG;
    const char *cmd = n > 0 ? a[0] : "";
    if (strcmp(cmd, "new") == 0 && arg_hex(a[1], &x) && arg_hex(a[2], &y) && arg_u64(a[3], &num)) {
        slim_identity_params cfg = {.validity_s = (uint32_t)num};
        slim_identity *next;
        if ((st = slim_identity_new(str_of(&x), str_of(&y), &cfg, &next)) == SLIM_OK) {
            slim_identity_free(ident);
            ident = next;
            slim_str id = slim_identity_id(ident);
            slim_id app = slim_identity_app_id(ident);
            slim_bytes pk = slim_identity_public_key(ident);
            printf("OK");
            put_hex(id.ptr, id.len);
            printf(" %016" PRIx64 " %016" PRIx64, app.hi, app.lo);
            put_hex(pk.ptr, pk.len);
            printf("\n");
            goto done;
        }
    } else if (strcmp(cmd, "token") == 0 && ident && arg_u64(a[1], &now)) {
        slim_str t;
        if ((st = slim_identity_token(ident, now, &t)) == SLIM_OK) {
            printf("OK");
            put_hex(t.ptr, t.len);
            printf("\n");
            goto done;
        }
    } else if (strcmp(cmd, "sign") == 0 && ident && arg_hex(a[1], &x)) {
        if ((st = slim_identity_sign(ident, slim_buf_view(&x), &y)) == SLIM_OK) {
            printf("OK");
            put_hex(y.data, y.len);
            printf("\n");
            goto done;
        }
    } else if (strcmp(cmd, "stamp") == 0 && ident && arg_u64(a[1], &now) && arg_hex(a[2], &x)) {
        slim_msg *m = NULL;
        if ((st = decode_msg(&x, &m)) == SLIM_OK &&
            (st = slim_identity_stamp(ident, m, now)) == SLIM_OK &&
            (st = slim_wire_encode(m, SIZE_MAX, &y)) == SLIM_OK) {
            printf("OK");
            put_hex(y.data, y.len);
            printf("\n");
        }
        slim_wire_free(m);
        if (st == SLIM_OK)
            goto done;
    } else if (strcmp(cmd, "verifier") == 0 && arg_hex(a[1], &x)) {
        slim_identity_verifier *next;
        if ((st = slim_identity_verifier_new(str_of(&x), NULL, &next)) == SLIM_OK) {
            slim_identity_verifier_free(verifier);
            verifier = next;
        }
    } else if (strcmp(cmd, "check") == 0 && verifier && arg_u64(a[1], &now) && arg_hex(a[2], &x)) {
        slim_identity_claims c;
        if ((st = slim_identity_verifier_check_token(verifier, str_of(&x), now, &c)) == SLIM_OK) {
            printf("OK");
            put_hex(c.subject.ptr, c.subject.len);
            printf(" %" PRIu64 " %" PRIu64 "\n", c.issued_at, c.expires_at);
            goto done;
        }
    } else if (strcmp(cmd, "pubkey") == 0 && verifier && arg_u64(a[1], &now) && arg_hex(a[2], &x)) {
        slim_bytes pk;
        if ((st = slim_identity_verifier_pubkey(verifier, str_of(&x), now, &pk)) == SLIM_OK) {
            printf("OK");
            put_hex(pk.ptr, pk.len);
            printf("\n");
            goto done;
        }
    } else if (strcmp(cmd, "checkmsg") == 0 && verifier && arg_u64(a[1], &now) &&
               arg_u64(a[2], &num) && arg_hex(a[3], &x)) {
        slim_msg *m = NULL;
        if ((st = decode_msg(&x, &m)) == SLIM_OK)
            st = slim_identity_verifier_check_msg(verifier, m, num != 0, now);
        slim_wire_free(m);
    } else if (strcmp(cmd, "stats") == 0 && verifier) {
        slim_identity_verifier_stats s;
        slim_identity_verifier_stats_get(verifier, &s);
        printf("OK %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
               s.hmacs, s.cache_hits, s.cache_size, s.evictions, s.claims_parsed, s.signatures);
        goto done;
    } else if (strcmp(cmd, "verifysig") == 0 && arg_hex(a[1], &x) && arg_hex(a[2], &y) &&
               arg_hex(a[3], &z)) {
        st =
            slim_identity_verify_signature(slim_buf_view(&x), slim_buf_view(&y), slim_buf_view(&z));
    } else if (strcmp(cmd, "aad") == 0 && arg_hex(a[1], &x)) {
        slim_msg *m = NULL;
        if ((st = decode_msg(&x, &m)) == SLIM_OK && (st = slim_wire_header_aad(m, &y)) == SLIM_OK) {
            printf("OK");
            put_hex(y.data, y.len);
            printf("\n");
        }
        slim_wire_free(m);
        if (st == SLIM_OK)
            goto done;
    } else if (strcmp(cmd, "appid") == 0 && arg_hex(a[1], &x)) {
        slim_id id = slim_identity_app_id_of(str_of(&x));
        printf("OK %016" PRIx64 " %016" PRIx64 "\n", id.hi, id.lo);
        goto done;
    }
    printf("%s\n", slim_status_name(st));
done:
    fflush(stdout);
    slim_buf_cleanup(&x);
    slim_buf_cleanup(&y);
    slim_buf_cleanup(&z);
}

int main(void) {
    char *line = malloc(MAX_LINE);
    if (line == NULL)
        return 1;
    while (fgets(line, MAX_LINE, stdin) != NULL) {
        char *args[8] = {0};
        int n = 0;
        for (char *tok = strtok(line, " \n"); tok != NULL && n < 8; tok = strtok(NULL, " \n"))
            args[n++] = tok;
        run(args, n);
    }
    slim_identity_free(ident);
    slim_identity_verifier_free(verifier);
    free(line);
    return 0;
}
