#include "slim/slim.h"

#ifndef SLIM_VERSION_STRING
#error "SLIM_VERSION_STRING must come from the build"
#endif

const char *slim_version(void) {
    return SLIM_VERSION_STRING;
}
