/*
 * libslim umbrella header. Include this one; it pulls in the rest of the
 * public API.
 */
#ifndef SLIM_SLIM_H
#define SLIM_SLIM_H

#include "slim/common.h"
#include "slim/status.h"
#include "slim/alloc.h"
#include "slim/log.h"
#include "slim/name.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The library's semantic version, e.g. "0.1.0". Static storage. */
SLIM_API const char *slim_version(void);

#ifdef __cplusplus
}
#endif
#endif
