/* Links against the shared libslim with only the public headers, to show the
 * exported API is usable on its own. */
#include "slim/slim.h"

#include <stdio.h>
#include <string.h>

int main(void) {
    slim_name n;
    slim_status st = slim_name_parse("agntcy/ns/chat", 14, &n, NULL);
    if (st != SLIM_OK || n.component[2] != 0x4abb367236cabc2aull) {
        fprintf(stderr, "parse through the shared library failed: %s\n", slim_status_name(st));
        return 1;
    }
    if (strcmp(slim_version(), "") == 0)
        return 1;
    printf("libslim %s ok\n", slim_version());
    return 0;
}
