/*
 * Protobuf text format for any generated message, driven by the protobuf-c
 * descriptors. The output follows the layout of the reference protobuf
 * library's text format (fields in number order, two-space indentation,
 * C-escaped strings, enum names, map entries sorted by key), so a message can
 * be compared with what another implementation prints for the same value.
 * Used by the inspector app and the interop tests; not on any hot path.
 */
#ifndef SLIM_WIRE_TEXT_H
#define SLIM_WIRE_TEXT_H

#include "core/buf.h"
#include <protobuf-c/protobuf-c.h>

/* Appends the text form of m to out (no trailing NUL). E_NOMEM. */
slim_status slim_pb_to_text(const ProtobufCMessage *m, slim_buf *out);

#endif
