/*
 * Joining structures (RFC 9420 §12.4.3): GroupInfo and GroupInfoTBS,
 * PathSecret, GroupSecrets, EncryptedGroupSecrets and Welcome.
 *
 * Decoded values are views into the input (ownership as in
 * mls/leaf_node.h). The decoder refuses a GroupContext whose version is
 * not mls10 and duplicate extension types. Decryption of the secrets and
 * of the GroupInfo, and checks against the tree, belong to the group
 * layer; the signature helpers here cover GroupInfoTBS.
 *
 * Pure and thread-safe.
 */
#ifndef SLIM_MLS_WELCOME_H
#define SLIM_MLS_WELCOME_H

#include "mls/group_context.h"
#include "mls/nodes.h"
#include "mls/psk.h"

/*
 * struct {
 *     GroupContext group_context;
 *     Extension extensions<V>;
 *     MAC confirmation_tag;
 *     uint32 signer;
 *     // SignWithLabel(., "GroupInfoTBS", GroupInfoTBS)
 *     opaque signature<V>;
 * } GroupInfo;
 *
 * opaque MAC<V>;
 */
typedef struct slim_mls_group_info {
    slim_mls_group_context group_context;
    slim_mls_vec extensions;
    slim_bytes confirmation_tag;
    uint32_t signer;
    slim_bytes signature;
} slim_mls_group_info;

slim_status slim_mls_group_info_encode(slim_mls_tls_writer *w, const slim_mls_group_info *gi);
slim_status slim_mls_group_info_decode(slim_mls_tls_reader *r, slim_mls_group_info *gi);

/*
 * struct {
 *     GroupContext group_context;
 *     Extension extensions<V>;
 *     MAC confirmation_tag;
 *     uint32 signer;
 * } GroupInfoTBS;
 *
 * Appends GroupInfoTBS to `out`.
 */
slim_status slim_mls_group_info_tbs_encode(const slim_mls_group_info *gi, slim_buf *out);

/* Sets gi->signature = SignWithLabel(sk, "GroupInfoTBS", GroupInfoTBS),
 * appended to `sig` (gi->signature views it). */
slim_status slim_mls_group_info_sign(const slim_mls_suite *suite, slim_mls_group_info *gi,
                                     const slim_mls_sig_key *sk, slim_buf *sig);

/* Verifies gi->signature with the signer's key `pk` (the signature key
 * of leaf gi->signer, found by the caller). E_MLS_SUITE_MISMATCH when the
 * GroupContext's suite is not `suite`, E_MLS_BAD_SIGNATURE, E_MLS_BAD_KEY. */
slim_status slim_mls_group_info_verify(const slim_mls_suite *suite, const slim_mls_group_info *gi,
                                       slim_bytes pk);

/*
 * struct {
 *   opaque path_secret<V>;
 * } PathSecret;
 *
 * struct {
 *   opaque joiner_secret<V>;
 *   optional<PathSecret> path_secret;
 *   PreSharedKeyID psks<V>;
 * } GroupSecrets;
 *
 * A decoded GroupSecrets views the plaintext it came from, which holds
 * secrets: wipe that buffer (slim_buf_cleanup_secret) when done.
 */
typedef struct slim_mls_group_secrets {
    slim_bytes joiner_secret;
    bool has_path_secret;
    slim_bytes path_secret;
    slim_mls_vec psks; /* PreSharedKeyID each */
} slim_mls_group_secrets;

slim_status slim_mls_group_secrets_encode(slim_mls_tls_writer *w, const slim_mls_group_secrets *gs);
slim_status slim_mls_group_secrets_decode(slim_mls_tls_reader *r, slim_mls_group_secrets *gs);

/*
 * struct {
 *   KeyPackageRef new_member;
 *   HPKECiphertext encrypted_group_secrets;
 * } EncryptedGroupSecrets;
 *
 * opaque HashReference<V>;
 * HashReference KeyPackageRef;
 */
typedef struct slim_mls_encrypted_group_secrets {
    slim_bytes new_member;
    slim_mls_hpke_ciphertext encrypted_group_secrets;
} slim_mls_encrypted_group_secrets;

slim_status slim_mls_encrypted_group_secrets_encode(slim_mls_tls_writer *w,
                                                    const slim_mls_encrypted_group_secrets *e);
slim_status slim_mls_encrypted_group_secrets_decode(slim_mls_tls_reader *r,
                                                    slim_mls_encrypted_group_secrets *e);

/*
 * struct {
 *   CipherSuite cipher_suite;
 *   EncryptedGroupSecrets secrets<V>;
 *   opaque encrypted_group_info<V>;
 * } Welcome;
 */
typedef struct slim_mls_welcome {
    uint16_t cipher_suite;
    slim_mls_vec secrets; /* EncryptedGroupSecrets each */
    slim_bytes encrypted_group_info;
} slim_mls_welcome;

slim_status slim_mls_welcome_encode(slim_mls_tls_writer *w, const slim_mls_welcome *wm);
slim_status slim_mls_welcome_decode(slim_mls_tls_reader *r, slim_mls_welcome *wm);

/* Finds the EncryptedGroupSecrets for KeyPackageRef `ref` in a decoded
 * Welcome: *found tells whether there is one. */
slim_status slim_mls_welcome_find_secrets(const slim_mls_welcome *wm, slim_bytes ref,
                                          slim_mls_encrypted_group_secrets *out, bool *found);

#endif
