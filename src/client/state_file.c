/*
 * The sealed state file (see state_file.h for the format).
 *
 * Sealing encrypts straight into the buffer that is written out, so the
 * state is never copied in the clear. Opening decrypts into the caller's
 * buffer, sized once to the exact length so that no reallocation leaves a
 * copy behind, and wipes it when the tag does not verify (GCM releases the
 * bytes before it can say whether they are genuine).
 */
#include "client/state_file.h"
#include "client/jwt_file.h"
#include "core/alloc.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC_LEN 8
#define HEAD_LEN  9 /* magic and version: also the AAD */
#define NONCE_LEN 12
#define TAG_LEN   16
#define OVERHEAD  (HEAD_LEN + NONCE_LEN + TAG_LEN)
#define CHUNK     (1 << 30) /* EVP lengths are ints */

static const uint8_t head[HEAD_LEN] = {
    'S', 'L', 'I', 'M', 'S', 'T', 'A', 'T', SLIM_STATE_FILE_VERSION};

/* AES-256-GCM of n bytes from in to out under key and nonce, with the
 * head as AAD. Sealing (seal) writes the tag; opening checks it and says
 * E_STATE_ALTERED when it does not verify. */
static slim_status gcm(bool seal, const uint8_t *key, const uint8_t *nonce, const uint8_t *in,
                       size_t n, uint8_t *out, uint8_t *tag) {
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (c == NULL)
        return SLIM_E_NOMEM;
    slim_status st = SLIM_E_MLS_CRYPTO;
    int enc = seal ? 1 : 0, got = 0;
    uint8_t last[TAG_LEN]; /* GCM's final step outputs nothing, but wants room */
    if (EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
        EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc) != 1 ||
        EVP_CipherUpdate(c, NULL, &got, head, HEAD_LEN) != 1)
        goto done;
    for (size_t at = 0; at < n;) {
        int step = n - at > CHUNK ? CHUNK : (int)(n - at);
        if (EVP_CipherUpdate(c, out + at, &got, in + at, step) != 1 || got != step)
            goto done;
        at += (size_t)step;
    }
    if (!seal && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, TAG_LEN, tag) != 1)
        goto done;
    if (EVP_CipherFinal_ex(c, last, &got) != 1) {
        if (!seal)
            st = SLIM_E_STATE_ALTERED;
        goto done;
    }
    if (seal && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, TAG_LEN, tag) != 1)
        goto done;
    st = SLIM_OK;
done:
    EVP_CIPHER_CTX_free(c); /* clears the key schedule */
    return st;
}

/* Writes all n bytes of p to a new file at path (mode 0600) and flushes
 * it to disk. The caller removes the file on failure. */
static slim_status write_new(const char *path, const uint8_t *p, size_t n) {
    /* No symlink at the temporary name may send the state elsewhere; a
     * stale file keeps its mode through O_TRUNC, hence the fchmod. */
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return SLIM_E_IO;
    slim_status st = fchmod(fd, 0600) == 0 ? SLIM_OK : SLIM_E_IO;
    for (size_t at = 0; st == SLIM_OK && at < n;) {
        ssize_t k = write(fd, p + at, n - at);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            st = SLIM_E_IO;
        else
            at += (size_t)k;
    }
    if (st == SLIM_OK && fsync(fd) != 0)
        st = SLIM_E_IO;
    if (close(fd) != 0 && st == SLIM_OK)
        st = SLIM_E_IO;
    return st;
}

/* Flushes the directory holding path, so that a rename into it survives
 * a crash. Best effort: some file systems refuse to fsync a directory. */
static void sync_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir = slash == NULL   ? slim_strndup(".", 1)
                : slash == path ? slim_strndup("/", 1)
                                : slim_strndup(path, (size_t)(slash - path));
    if (dir == NULL)
        return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    slim_free(dir);
}

slim_status slim_state_file_write(const char *path, const uint8_t key[SLIM_STATE_FILE_KEY],
                                  slim_bytes plaintext) {
    if (path == NULL || key == NULL || (plaintext.ptr == NULL && plaintext.len > 0))
        return SLIM_E_INVALID_ARG;
    if (plaintext.len > SLIM_STATE_FILE_MAX - OVERHEAD)
        return SLIM_E_TOO_LARGE;
    size_t total = OVERHEAD + plaintext.len, path_len = strlen(path);
    uint8_t *file = slim_malloc(total);
    char *tmp = slim_malloc(path_len + sizeof ".tmp");
    slim_status st = SLIM_E_NOMEM;
    if (file == NULL || tmp == NULL)
        goto done;
    memcpy(tmp, path, path_len);
    memcpy(tmp + path_len, ".tmp", sizeof ".tmp");
    memcpy(file, head, HEAD_LEN);
    uint8_t *nonce = file + HEAD_LEN, *body = nonce + NONCE_LEN;
    if (RAND_bytes(nonce, NONCE_LEN) != 1) {
        st = SLIM_E_MLS_RNG;
        goto done;
    }
    if ((st = gcm(true, key, nonce, plaintext.ptr, plaintext.len, body, body + plaintext.len)) !=
        SLIM_OK)
        goto done;
    if ((st = write_new(tmp, file, total)) == SLIM_OK && rename(tmp, path) != 0)
        st = SLIM_E_IO;
    if (st != SLIM_OK)
        (void)unlink(tmp);
    else
        sync_dir(path);
done:
    slim_free(tmp);
    slim_free(file); /* sealed bytes only: nothing to wipe */
    return st;
}

slim_status slim_state_file_read(const char *path, const uint8_t key[SLIM_STATE_FILE_KEY],
                                 slim_buf *plaintext) {
    if (path == NULL || key == NULL || plaintext == NULL || plaintext->len != 0)
        return SLIM_E_INVALID_ARG;
    slim_buf file = SLIM_BUF_INIT;
    slim_status st = slim_jwt_file_read(path, SLIM_STATE_FILE_MAX, &file);
    if (st != SLIM_OK)
        goto done;
    if (file.len < OVERHEAD || memcmp(file.data, head, MAGIC_LEN) != 0 ||
        file.data[MAGIC_LEN] != SLIM_STATE_FILE_VERSION) {
        st = SLIM_E_STATE_FORMAT;
        goto done;
    }
    size_t n = file.len - OVERHEAD;
    uint8_t *nonce = file.data + HEAD_LEN, *body = nonce + NONCE_LEN;
    /* At least one byte, so that the output is a real pointer. */
    if ((st = slim_buf_reserve(plaintext, n > 0 ? n : 1)) != SLIM_OK)
        goto done;
    st = gcm(false, key, nonce, body, n, plaintext->data, body + n);
    if (st == SLIM_OK)
        plaintext->len = n;
    else
        slim_buf_cleanup_secret(plaintext); /* wiped and freed: nothing kept */
done:
    slim_buf_cleanup(&file); /* sealed bytes only */
    return st;
}
