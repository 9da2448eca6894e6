/*
 * Names: parsing, formatting, hashing and comparison. Pure code, no
 * allocation. The component hash must match upstream SLIM bit for bit, since
 * nodes of both implementations route on it: upstream feeds the string
 * through Rust's `Hash for str`, which appends a 0xFF byte after the UTF-8.
 */
#include "slim/name.h"
#include "core/khash.h"
#include "core/util.h"

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include <stdio.h>
#include <string.h>

uint64_t slim_name_hash_component(const char *s, size_t len) {
    static const uint8_t terminator = 0xFF;
    XXH64_state_t st;
    XXH64_reset(&st, 0);
    if (len > 0)
        XXH64_update(&st, s, len);
    XXH64_update(&st, &terminator, 1);
    return XXH64_digest(&st);
}

static slim_status check_component(slim_str c) {
    if (c.len == 0)
        return SLIM_E_NAME_EMPTY_COMPONENT;
    if (c.len > SLIM_NAME_COMPONENT_MAX)
        return SLIM_E_NAME_COMPONENT_TOO_LONG;
    return SLIM_OK;
}

slim_status slim_name_from_strings(const slim_str component[3], slim_id id, slim_name *out) {
    if (component == NULL || out == NULL)
        return SLIM_E_INVALID_ARG;
    slim_name n;
    for (int i = 0; i < 3; i++) {
        slim_status st = check_component(component[i]);
        if (st != SLIM_OK)
            return st;
        n.component[i] = slim_name_hash_component(component[i].ptr, component[i].len);
    }
    n.id = id;
    *out = n;
    return SLIM_OK;
}

/* Reads up to 16 hex digits from s[0..n) into a 64-bit value. */
static int hex64(const char *s, size_t n, uint64_t *out) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        int d = slim_hex_digit(s[i]);
        if (d < 0)
            return -1;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return 0;
}

slim_status slim_id_parse(const char *text, size_t len, slim_id *out) {
    if (text == NULL || out == NULL)
        return SLIM_E_INVALID_ARG;
    char digits[32];
    size_t nd = 0;
    if (len == SLIM_ID_TEXT_LEN) {
        /* 8-4-4-4-12 with dashes exactly at 8, 13, 18 and 23. */
        for (size_t i = 0; i < len; i++) {
            bool dash_pos = i == 8 || i == 13 || i == 18 || i == 23;
            if (dash_pos != (text[i] == '-'))
                return SLIM_E_NAME_BAD_ID;
            if (!dash_pos)
                digits[nd++] = text[i];
        }
    } else {
        if (len == 0 || len > 32)
            return SLIM_E_NAME_BAD_ID;
        memcpy(digits, text, len);
        nd = len;
    }
    slim_id id = {0, 0};
    size_t lo_n = nd < 16 ? nd : 16;
    size_t hi_n = nd - lo_n;
    if (hex64(digits + hi_n, lo_n, &id.lo) != 0 || hex64(digits, hi_n, &id.hi) != 0)
        return SLIM_E_NAME_BAD_ID;
    *out = id;
    return SLIM_OK;
}

/* 8-4-4-4-12 lowercase hex digits of hi then lo, most significant first.
 * By hand: an app formats the source and destination of every message it
 * receives, and snprintf took 3 000 instructions an id. */
void slim_id_format(slim_id id, char out[SLIM_ID_TEXT_LEN + 1]) {
    static const char hex[] = "0123456789abcdef";
    size_t pos = 0;
    for (int i = 0; i < 32; i++) {
        if (i == 8 || i == 12 || i == 16 || i == 20)
            out[pos++] = '-';
        uint64_t half = i < 16 ? id.hi : id.lo;
        out[pos++] = hex[(half >> (60 - 4 * (i % 16))) & 0xF];
    }
    out[pos] = '\0';
}

slim_status slim_name_parse(const char *text, size_t len, slim_name *out, slim_name_parts *parts) {
    if (text == NULL || out == NULL)
        return SLIM_E_INVALID_ARG;
    slim_str comp[4];
    size_t n = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && text[i] != '/')
            continue;
        if (n == 4)
            return SLIM_E_NAME_TOO_MANY_COMPONENTS;
        comp[n].ptr = text + start;
        comp[n].len = i - start;
        n++;
        start = i + 1;
    }
    if (n < 3)
        return len == 0 ? SLIM_E_NAME_EMPTY_COMPONENT : SLIM_E_NAME_TOO_FEW_COMPONENTS;

    slim_id id = slim_id_any();
    if (n == 4) {
        if (comp[3].len == 0)
            return SLIM_E_NAME_EMPTY_COMPONENT;
        slim_status st = slim_id_parse(comp[3].ptr, comp[3].len, &id);
        if (st != SLIM_OK)
            return st;
    }
    slim_name name;
    slim_status st = slim_name_from_strings(comp, id, &name);
    if (st != SLIM_OK)
        return st;
    *out = name;
    if (parts != NULL) {
        for (int i = 0; i < 3; i++)
            parts->component[i] = comp[i];
        parts->has_id = n == 4;
    }
    return SLIM_OK;
}

slim_status slim_name_format(const slim_str component[3], slim_id id, char *buf, size_t cap,
                             size_t *out_len) {
    if (component == NULL || buf == NULL)
        return SLIM_E_INVALID_ARG;
    size_t need = 2 + 1; /* two slashes and the NUL */
    for (int i = 0; i < 3; i++) {
        if (component[i].len > SIZE_MAX / 4)
            return SLIM_E_INVALID_ARG;
        need += component[i].len;
    }
    bool with_id = !slim_id_is_any(id);
    if (with_id)
        need += 1 + SLIM_ID_TEXT_LEN;
    if (cap < need)
        return SLIM_E_BUFFER_SMALL;
    size_t pos = 0;
    for (int i = 0; i < 3; i++) {
        if (i > 0)
            buf[pos++] = '/';
        memcpy(buf + pos, component[i].ptr, component[i].len);
        pos += component[i].len;
    }
    if (with_id) {
        buf[pos++] = '/';
        slim_id_format(id, buf + pos);
        pos += SLIM_ID_TEXT_LEN;
    }
    buf[pos] = '\0';
    if (out_len != NULL)
        *out_len = pos;
    return SLIM_OK;
}

slim_status slim_name_format_hashes(const slim_name *name, char *buf, size_t cap) {
    if (name == NULL || buf == NULL)
        return SLIM_E_INVALID_ARG;
    char id[SLIM_ID_TEXT_LEN + 1];
    if (slim_id_is_any(name->id))
        strcpy(id, "any");
    else
        slim_id_format(name->id, id);
    int n = snprintf(buf, cap, "%016llx/%016llx/%016llx/%s", (unsigned long long)name->component[0],
                     (unsigned long long)name->component[1], (unsigned long long)name->component[2],
                     id);
    return n < 0 || (size_t)n >= cap ? SLIM_E_BUFFER_SMALL : SLIM_OK;
}

bool slim_name_equal(const slim_name *a, const slim_name *b) {
    return slim_name_same_service(a, b) && slim_id_equal(a->id, b->id);
}

bool slim_name_same_service(const slim_name *a, const slim_name *b) {
    return a->component[0] == b->component[0] && a->component[1] == b->component[1] &&
           a->component[2] == b->component[2];
}

static int cmp64(uint64_t a, uint64_t b) {
    return a < b ? -1 : a > b;
}

int slim_name_compare(const slim_name *a, const slim_name *b) {
    for (int i = 0; i < 3; i++) {
        int c = cmp64(a->component[i], b->component[i]);
        if (c != 0)
            return c;
    }
    int c = cmp64(a->id.hi, b->id.hi);
    return c != 0 ? c : cmp64(a->id.lo, b->id.lo);
}

uint64_t slim_name_hash(const slim_name *name) {
    /* Keyed: a peer chooses names, and must not be able to choose ones that
     * share a bucket. */
    const uint64_t w[5] = {name->component[0], name->component[1], name->component[2], name->id.hi,
                           name->id.lo};
    return slim_khash_words(w, 5);
}
