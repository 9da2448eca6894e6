/*
 * Key files and watched token and key files for JWT identities (see
 * jwt_file.h). A watch remembers the identity of what it read last
 * (device, inode, size, modification time in nanoseconds) and when to
 * look next.
 */
#include "client/jwt_file.h"
#include "core/alloc.h"
#include "core/log.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MOD            "jwt"
#define MAX_TOKEN_FILE (SLIM_JWT_MAX_TOKEN + 4096) /* a token and white space around it */

slim_status slim_jwt_file_read(const char *path, size_t max, slim_buf *out) {
    if (path == NULL || out == NULL)
        return SLIM_E_INVALID_ARG;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return SLIM_E_IO;
    size_t start = out->len;
    slim_status st = SLIM_OK;
    for (;;) {
        if ((st = slim_buf_reserve(out, 4096)) != SLIM_OK)
            break;
        ssize_t n = read(fd, out->data + out->len, out->cap - out->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            st = SLIM_E_IO;
            break;
        }
        if (n == 0)
            break;
        out->len += (size_t)n;
        if (out->len - start > max) {
            st = SLIM_E_TOO_LARGE;
            break;
        }
    }
    close(fd);
    if (st != SLIM_OK) {
        if (out->data != NULL)
            slim_memzero(out->data + start, out->len - start); /* it may be a key */
        out->len = start;
    }
    return st;
}

slim_status slim_jwt_keys_load(slim_jwt_alg alg, slim_jwt_key_format format, const char *path,
                               bool for_signing, slim_jwt_keys **out) {
    slim_buf text = SLIM_BUF_INIT;
    slim_status st = slim_jwt_file_read(path, SLIM_JWT_MAX_KEYTEXT, &text);
    if (st == SLIM_OK)
        st = slim_jwt_keys_parse(alg, format, slim_buf_view(&text), for_signing, out);
    slim_buf_cleanup_secret(&text);
    return st;
}

/* ---- watching ------------------------------------------------------- */

typedef struct watch {
    char *path;
    uint32_t check_s;
    uint64_t next_check;
    bool known; /* the fields below describe what was read last */
    dev_t dev;
    ino_t ino;
    off_t size;
    int64_t mtime_ns;
} watch;

static slim_status watch_init(watch *w, const char *path, uint32_t check_s) {
    if (path == NULL)
        return SLIM_E_INVALID_ARG;
    w->path = slim_strndup(path, strlen(path));
    w->check_s = check_s != 0 ? check_s : SLIM_JWT_FILE_CHECK_S;
    return w->path != NULL ? SLIM_OK : SLIM_E_NOMEM;
}

static void watch_cleanup(watch *w) {
    slim_free(w->path);
    w->path = NULL;
}

/* Whether the file differs from what was read last; *now_id gets its
 * identity. E_IO when it cannot be stat()ed. */
static slim_status watch_changed(const watch *w, struct stat *now_id, bool *changed) {
    if (stat(w->path, now_id) != 0)
        return SLIM_E_IO;
    int64_t mt = (int64_t)now_id->st_mtim.tv_sec * 1000000000 + now_id->st_mtim.tv_nsec;
    *changed = !w->known || now_id->st_dev != w->dev || now_id->st_ino != w->ino ||
               now_id->st_size != w->size || mt != w->mtime_ns;
    return SLIM_OK;
}

static void watch_remember(watch *w, const struct stat *id) {
    w->known = true;
    w->dev = id->st_dev;
    w->ino = id->st_ino;
    w->size = id->st_size;
    w->mtime_ns = (int64_t)id->st_mtim.tv_sec * 1000000000 + id->st_mtim.tv_nsec;
}

/* Reads the file when it changed: *text gets its bytes, *id its identity
 * as stat() saw it before the read (a change during the read is seen
 * next time). *read = false when unchanged. */
static slim_status watch_read(watch *w, size_t max, slim_buf *text, struct stat *id, bool *read) {
    *read = false;
    bool changed;
    slim_status st = watch_changed(w, id, &changed);
    if (st != SLIM_OK || !changed)
        return st;
    if ((st = slim_jwt_file_read(w->path, max, text)) == SLIM_OK)
        *read = true;
    return st;
}

/* ---- the token file ------------------------------------------------- */

struct slim_jwt_token_file {
    watch w;
    slim_jwt_provider *p;
};

slim_status slim_jwt_token_file_new(const char *path, uint32_t check_s, uint64_t now_s,
                                    slim_jwt_token_file **out) {
    if (out == NULL)
        return SLIM_E_INVALID_ARG;
    slim_jwt_token_file *f = slim_calloc(1, sizeof *f);
    if (f == NULL)
        return SLIM_E_NOMEM;
    slim_buf text = SLIM_BUF_INIT;
    struct stat id;
    bool read;
    slim_status st = watch_init(&f->w, path, check_s);
    if (st == SLIM_OK)
        st = watch_read(&f->w, MAX_TOKEN_FILE, &text, &id, &read);
    if (st == SLIM_OK)
        st = slim_jwt_provider_new_static(
            (slim_str){text.data ? (const char *)text.data : "", text.len}, &f->p);
    slim_buf_cleanup(&text);
    if (st != SLIM_OK) {
        slim_jwt_token_file_free(f);
        return st;
    }
    watch_remember(&f->w, &id);
    f->w.next_check = now_s + f->w.check_s;
    *out = f;
    return SLIM_OK;
}

void slim_jwt_token_file_free(slim_jwt_token_file *f) {
    if (f == NULL)
        return;
    slim_jwt_provider_free(f->p);
    watch_cleanup(&f->w);
    slim_free(f);
}

slim_jwt_provider *slim_jwt_token_file_provider(const slim_jwt_token_file *f) {
    return f->p;
}

slim_status slim_jwt_token_file_poll(slim_jwt_token_file *f, uint64_t now_s, bool *reloaded) {
    if (reloaded != NULL)
        *reloaded = false;
    if (f == NULL)
        return SLIM_E_INVALID_ARG;
    uint64_t exp = slim_jwt_provider_expiry(f->p);
    bool expired = exp != 0 && now_s >= exp;
    if (now_s < f->w.next_check && !expired)
        return SLIM_OK;
    f->w.next_check = now_s + (expired ? 1 : f->w.check_s);
    slim_buf text = SLIM_BUF_INIT;
    struct stat id;
    bool read;
    slim_status st = watch_read(&f->w, MAX_TOKEN_FILE, &text, &id, &read);
    if (st == SLIM_OK && read) {
        st = slim_jwt_provider_set_token(
            f->p, (slim_str){text.data ? (const char *)text.data : "", text.len});
        if (st == SLIM_OK) {
            watch_remember(&f->w, &id);
            if (reloaded != NULL)
                *reloaded = true;
            SLIM_LOGI(MOD, "token file %s reloaded", f->w.path);
        }
    }
    if (st != SLIM_OK) {
        f->w.next_check = now_s + f->w.check_s;
        SLIM_LOG_LIMITED(SLIM_LOG_WARN, 1, MOD, "token file %s not reloaded: %s", f->w.path,
                         slim_status_str(st));
    }
    slim_buf_cleanup(&text);
    return st;
}

/* ---- key files ------------------------------------------------------ */

struct slim_jwt_key_file {
    watch w;
    slim_jwt_alg alg;
    slim_jwt_key_format format;
    bool for_signing;
};

void slim_jwt_key_file_free(slim_jwt_key_file *f) {
    if (f == NULL)
        return;
    watch_cleanup(&f->w);
    slim_free(f);
}

/* Reads and parses the key file when it changed. */
static slim_status key_file_load(slim_jwt_key_file *f, slim_jwt_keys **keys) {
    *keys = NULL;
    slim_buf text = SLIM_BUF_INIT;
    struct stat id;
    bool read;
    slim_status st = watch_read(&f->w, SLIM_JWT_MAX_KEYTEXT, &text, &id, &read);
    if (st == SLIM_OK && read &&
        (st = slim_jwt_keys_parse(f->alg, f->format, slim_buf_view(&text), f->for_signing, keys)) ==
            SLIM_OK)
        watch_remember(&f->w, &id);
    slim_buf_cleanup_secret(&text);
    return st;
}

slim_status slim_jwt_key_file_new(slim_jwt_alg alg, slim_jwt_key_format format, const char *path,
                                  bool for_signing, uint32_t check_s, uint64_t now_s,
                                  slim_jwt_key_file **out, slim_jwt_keys **keys) {
    if (out == NULL || keys == NULL)
        return SLIM_E_INVALID_ARG;
    slim_jwt_key_file *f = slim_calloc(1, sizeof *f);
    if (f == NULL)
        return SLIM_E_NOMEM;
    f->alg = alg;
    f->format = format;
    f->for_signing = for_signing;
    slim_status st = watch_init(&f->w, path, check_s);
    if (st == SLIM_OK)
        st = key_file_load(f, keys);
    if (st != SLIM_OK) {
        slim_jwt_key_file_free(f);
        return st;
    }
    f->w.next_check = now_s + f->w.check_s;
    *out = f;
    return SLIM_OK;
}

slim_status slim_jwt_key_file_poll(slim_jwt_key_file *f, uint64_t now_s, slim_jwt_keys **keys) {
    if (keys != NULL)
        *keys = NULL;
    if (f == NULL || keys == NULL)
        return SLIM_E_INVALID_ARG;
    if (now_s < f->w.next_check)
        return SLIM_OK;
    f->w.next_check = now_s + f->w.check_s;
    slim_status st = key_file_load(f, keys);
    if (st != SLIM_OK)
        SLIM_LOG_LIMITED(SLIM_LOG_WARN, 1, MOD, "key file %s not reloaded: %s", f->w.path,
                         slim_status_str(st));
    else if (*keys != NULL)
        SLIM_LOGI(MOD, "key file %s reloaded", f->w.path);
    return st;
}
