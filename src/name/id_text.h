/*
 * Ids as the control plane's APIs write them (docs/control-plane.md, "Names
 * and ids"): a UUID, or a decimal integer below 2^128. Unlike
 * slim_id_parse(), which also takes bare hex digits, "42" means forty-two.
 */
#ifndef SLIM_NAME_ID_TEXT_H
#define SLIM_NAME_ID_TEXT_H

#include "slim/name.h"

/* Parses text[0..len): a 36-character UUID (either case) or 1-39 decimal
 * digits worth less than 2^128. E_NAME_BAD_ID otherwise. */
slim_status slim_id_parse_api(const char *text, size_t len, slim_id *out);

#endif
