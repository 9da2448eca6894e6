/* GroupContext and Extension codecs. */
#include "mls/group_context.h"
#include "mls/extensions.h"

#include <string.h>

slim_status slim_mls_extension_encode(slim_mls_tls_writer *w, const slim_mls_extension *ext) {
    slim_mls_tls_put_u16(w, ext->type);
    return slim_mls_tls_put_opaque(w, ext->data);
}

slim_status slim_mls_extension_decode(slim_mls_tls_reader *r, slim_mls_extension *ext) {
    slim_mls_tls_get_u16(r, &ext->type);
    return slim_mls_tls_get_opaque(r, &ext->data);
}

slim_status slim_mls_extensions_next(slim_mls_tls_reader *body, slim_mls_extension *ext,
                                     bool *more) {
    memset(ext, 0, sizeof *ext);
    *more = false;
    if (!slim_mls_tls_reader_more(body))
        return slim_mls_tls_reader_status(body);
    slim_status st = slim_mls_extension_decode(body, ext);
    *more = st == SLIM_OK;
    return st;
}

slim_status slim_mls_group_context_write(slim_mls_tls_writer *w, const slim_mls_group_context *gc) {
    slim_mls_tls_put_u16(w, gc->version);
    slim_mls_tls_put_u16(w, gc->cipher_suite);
    slim_mls_tls_put_opaque(w, gc->group_id);
    slim_mls_tls_put_u64(w, gc->epoch);
    slim_mls_tls_put_opaque(w, gc->tree_hash);
    slim_mls_tls_put_opaque(w, gc->confirmed_transcript_hash);
    return slim_mls_tls_put_opaque(w, gc->extensions);
}

slim_status slim_mls_group_context_encode(const slim_mls_group_context *gc, slim_buf *out) {
    slim_mls_tls_writer w;
    slim_mls_tls_writer_init(&w, out);
    slim_mls_group_context_write(&w, gc);
    return slim_mls_tls_writer_status(&w);
}

slim_status slim_mls_group_context_read(slim_mls_tls_reader *r, slim_mls_group_context *gc) {
    slim_mls_group_context v;
    slim_mls_tls_get_u16(r, &v.version);
    if (slim_mls_tls_reader_status(r) == SLIM_OK && v.version != SLIM_MLS_VERSION_MLS10)
        slim_mls_tls_reader_fail(r, SLIM_E_MLS_BAD_VERSION);
    slim_mls_tls_get_u16(r, &v.cipher_suite);
    slim_mls_tls_get_opaque(r, &v.group_id);
    slim_mls_tls_get_u64(r, &v.epoch);
    slim_mls_tls_get_opaque(r, &v.tree_hash);
    slim_mls_tls_get_opaque(r, &v.confirmed_transcript_hash);
    slim_mls_vec ext;
    slim_mls_extension_list_decode(r, &ext);
    slim_status st = slim_mls_tls_reader_status(r);
    if (st == SLIM_OK) {
        v.extensions = ext.body;
        *gc = v;
    }
    return st;
}

slim_status slim_mls_group_context_decode(slim_bytes in, slim_mls_group_context *gc) {
    slim_mls_group_context v;
    slim_mls_tls_reader r;
    slim_mls_tls_reader_init(&r, in);
    slim_mls_group_context_read(&r, &v);
    slim_status st = slim_mls_tls_reader_finish(&r);
    if (st == SLIM_OK)
        *gc = v;
    return st;
}
