/* libFuzzer target: the YAML configuration of a node (libyaml, our tree,
 * substitutions, alias limits, every key of the node, endpoint and TLS
 * sections). Whatever the text, loading and checking return a status with
 * an error message and free everything; a text that loads and checks
 * loads and checks again to the same outcome. */
#include "node/config.h"

#include <stdlib.h>
#include <string.h>

static void ignore(const char *path, unsigned line, const char *why, void *ud) {
    (void)path;
    (void)line;
    (void)why;
    (void)ud;
}

static slim_status check(const uint8_t *data, size_t size) {
    slim_cfg_doc *doc = NULL;
    slim_cfg_error err = {{0}};
    slim_status st = slim_cfg_load_string((const char *)data, size, "fuzz.yaml", &doc, &err);
    if (st == SLIM_OK) {
        slim_node_config cfg;
        st = slim_node_config_parse(doc, &cfg, ignore, NULL, &err);
        if (st == SLIM_OK)
            slim_node_config_cleanup(&cfg);
        slim_cfg_free(doc);
    }
    if (st != SLIM_OK && err.msg[0] == '\0' && st != SLIM_E_NOMEM)
        abort(); /* every refusal says why */
    return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (check(data, size) != check(data, size))
        abort();
    return 0;
}
