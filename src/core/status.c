/* Name and message lookup for the status table in slim/status.h. */
#include "slim/status.h"

const char *slim_status_name(slim_status st) {
    switch (st) {
#define NAME_CASE(name, code, msg)                                                                 \
    case SLIM_##name:                                                                              \
        return #name;
        SLIM_STATUS_MAP(NAME_CASE)
#undef NAME_CASE
    }
    return "E_UNKNOWN";
}

const char *slim_status_str(slim_status st) {
    switch (st) {
#define MSG_CASE(name, code, msg)                                                                  \
    case SLIM_##name:                                                                              \
        return msg;
        SLIM_STATUS_MAP(MSG_CASE)
#undef MSG_CASE
    }
    return "unknown status";
}
