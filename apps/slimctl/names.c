/*
 * Names on slimctl's command line: `org/ns/app` or `org/ns/app/id`.
 *
 * The components get the checks of slim_name_parse() (none empty, none
 * too long). The id is a UUID or a decimal integer below 2^128
 * (slim_id_parse_api(), as docs/control-plane.md says); it is sent in its
 * canonical UUID text (slim_id_format()), so the server sees one spelling
 * whatever the user typed.
 */
#include "slimctl.h"

#include "name/id_text.h"
#include "slim/status.h"

#include <stdlib.h>
#include <string.h>

int ctl_name_parse(const char *cmd, const char *text, ctl_name *out) {
    memset(out, 0, sizeof *out);
    size_t len = strlen(text);
    /* Split off a fourth component, if any; slim_name_parse() checks the
     * three others (and that there are not more). */
    const char *id_text = NULL;
    size_t base_len = len, slashes = 0;
    for (size_t i = 0; i < len; i++)
        if (text[i] == '/' && ++slashes == 3) {
            base_len = i;
            id_text = text + i + 1;
        }
    if (slashes > 3) {
        ctl_err("%s: invalid name \"%s\": too many components (want org/ns/app or "
                "org/ns/app/id)",
                cmd, text);
        return CTL_EXIT_USAGE;
    }
    slim_name name;
    slim_name_parts parts;
    slim_status st = slim_name_parse(text, base_len, &name, &parts);
    if (st != SLIM_OK) {
        ctl_err("%s: invalid name \"%s\": %s (want org/ns/app or org/ns/app/id)", cmd, text,
                slim_status_str(st));
        return CTL_EXIT_USAGE;
    }
    if (id_text != NULL) {
        size_t id_len = len - (size_t)(id_text - text);
        slim_id id;
        if (slim_id_parse_api(id_text, id_len, &id) != SLIM_OK) {
            ctl_err("%s: invalid name \"%s\": the id must be a UUID or a decimal integer below "
                    "2^128",
                    cmd, text);
            return CTL_EXIT_USAGE;
        }
        char buf[SLIM_ID_TEXT_LEN + 1];
        slim_id_format(id, buf);
        out->id = ctl_xstrdup(buf);
    }
    for (int i = 0; i < 3; i++) {
        out->component[i] = ctl_xcalloc(parts.component[i].len + 1, 1);
        memcpy(out->component[i], parts.component[i].ptr, parts.component[i].len);
    }
    return CTL_EXIT_OK;
}

void ctl_name_cleanup(ctl_name *n) {
    for (int i = 0; i < 3; i++)
        free(n->component[i]);
    free(n->id);
    memset(n, 0, sizeof *n);
}

int ctl_name_check3(const char *cmd, const char *what, const char *want, const char *text) {
    size_t len = strlen(text), slashes = 0;
    for (size_t i = 0; i < len; i++)
        if (text[i] == '/')
            slashes++;
    if (slashes != 2) {
        ctl_err("%s: invalid %s \"%s\": %s components (want %s)", cmd, what, text,
                slashes < 2 ? "too few" : "too many", want);
        return CTL_EXIT_USAGE;
    }
    slim_name name;
    slim_name_parts parts;
    slim_status st = slim_name_parse(text, len, &name, &parts);
    if (st != SLIM_OK) {
        ctl_err("%s: invalid %s \"%s\": %s (want %s)", cmd, what, text, slim_status_str(st), want);
        return CTL_EXIT_USAGE;
    }
    return CTL_EXIT_OK;
}
