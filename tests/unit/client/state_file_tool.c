/*
 * Drives src/client/state_file for check_state_file.py, one command per
 * run. Keys and plaintexts are hex ("-" for empty). Prints the status
 * name ("OK", "E_STATE_ALTERED", ...) and, after a read that worked, the
 * plaintext in hex; exits 0 whatever the status, 2 on bad usage.
 *
 *   state_file_tool write PATH KEY PLAINTEXT   -> OK
 *   state_file_tool read PATH KEY              -> OK PLAINTEXT
 */
#include "client/state_file.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Decodes hex ("-" = empty) into a fresh heap buffer of *n bytes. */
static uint8_t *unhex(const char *a, size_t *n) {
    size_t len = strcmp(a, "-") == 0 ? 0 : strlen(a);
    uint8_t *p = malloc(len / 2 + 1);
    if (p == NULL || slim_hex_decode(a, len, p, len / 2 + 1, n) != SLIM_OK) {
        free(p);
        return NULL;
    }
    return p;
}

static int usage(void) {
    fprintf(stderr, "usage: state_file_tool write PATH KEY PLAINTEXT | read PATH KEY\n");
    return 2;
}

int main(int argc, char **argv) {
    if (argc < 4)
        return usage();
    size_t key_len = 0;
    uint8_t *key = unhex(argv[3], &key_len);
    if (key == NULL || key_len != SLIM_STATE_FILE_KEY) {
        free(key);
        return usage();
    }
    int rc = 0;
    if (strcmp(argv[1], "write") == 0 && argc == 5) {
        size_t n = 0;
        uint8_t *pt = unhex(argv[4], &n);
        if (pt == NULL) {
            rc = usage();
        } else {
            printf("%s\n",
                   slim_status_name(slim_state_file_write(argv[2], key, slim_bytes_of(pt, n))));
            free(pt);
        }
    } else if (strcmp(argv[1], "read") == 0 && argc == 4) {
        slim_buf pt = SLIM_BUF_INIT;
        slim_status st = slim_state_file_read(argv[2], key, &pt);
        char *hex = malloc(2 * pt.len + 1);
        if (hex == NULL || slim_hex_encode(pt.data, pt.len, hex, 2 * pt.len + 1) != SLIM_OK)
            st = SLIM_E_NOMEM;
        printf("%s%s%s\n", slim_status_name(st), st == SLIM_OK ? " " : "",
               st == SLIM_OK ? hex : "");
        free(hex);
        slim_buf_cleanup_secret(&pt);
    } else {
        rc = usage();
    }
    free(key);
    return rc;
}
