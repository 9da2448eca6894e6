/* Ids of the control plane's APIs: a UUID or a decimal integer. */
#include "name/id_text.h"

/* Decimal digits into a 128-bit id; false when empty, not all digits, or
 * 2^128 or more. */
static bool parse_decimal(const char *s, size_t len, slim_id *out) {
    if (len == 0)
        return false;
    unsigned __int128 v = 0;
    const unsigned __int128 max = ~(unsigned __int128)0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    out->hi = (uint64_t)(v >> 64);
    out->lo = (uint64_t)v;
    return true;
}

slim_status slim_id_parse_api(const char *text, size_t len, slim_id *out) {
    slim_id id;
    if (text == NULL)
        return SLIM_E_NAME_BAD_ID;
    if (parse_decimal(text, len, &id) ||
        (len == SLIM_ID_TEXT_LEN && slim_id_parse(text, len, &id) == SLIM_OK)) {
        *out = id;
        return SLIM_OK;
    }
    return SLIM_E_NAME_BAD_ID;
}
