/*
 * KeyPackage (RFC 9420 §10) and KeyPackageRef (§5.2).
 *
 * Decoded values are views into the input (see mls/leaf_node.h for the
 * ownership rules). The decoder refuses a version other than mls10
 * (E_MLS_BAD_VERSION) and a leaf whose source is not key_package
 * (E_MLS_WRONG_LEAF_NODE_SOURCE, §10: "MUST be set to key_package").
 * Checks against a group (cipher suite, capabilities) and the signature
 * check are separate calls.
 *
 * Pure and thread-safe.
 */
#ifndef SLIM_MLS_KEY_PACKAGE_H
#define SLIM_MLS_KEY_PACKAGE_H

#include "mls/leaf_node.h"

/*
 * struct {
 *     ProtocolVersion version;
 *     CipherSuite cipher_suite;
 *     HPKEPublicKey init_key;
 *     LeafNode leaf_node;
 *     Extension extensions<V>;
 *     // SignWithLabel(., "KeyPackageTBS", KeyPackageTBS)
 *     opaque signature<V>;
 * } KeyPackage;
 */
typedef struct slim_mls_key_package {
    uint16_t version;
    uint16_t cipher_suite;
    slim_bytes init_key;
    slim_mls_leaf_node leaf_node;
    slim_mls_vec extensions;
    slim_bytes signature;
} slim_mls_key_package;

slim_status slim_mls_key_package_encode(slim_mls_tls_writer *w, const slim_mls_key_package *kp);
slim_status slim_mls_key_package_decode(slim_mls_tls_reader *r, slim_mls_key_package *kp);

/*
 * struct {
 *     ProtocolVersion version;
 *     CipherSuite cipher_suite;
 *     HPKEPublicKey init_key;
 *     LeafNode leaf_node;
 *     Extension extensions<V>;
 * } KeyPackageTBS;
 *
 * Appends KeyPackageTBS to `out`.
 */
slim_status slim_mls_key_package_tbs_encode(const slim_mls_key_package *kp, slim_buf *out);

/* Sets kp->signature = SignWithLabel(sk, "KeyPackageTBS", KeyPackageTBS),
 * appended to `sig` (kp->signature views it). */
slim_status slim_mls_key_package_sign(const slim_mls_suite *suite, slim_mls_key_package *kp,
                                      const slim_mls_sig_key *sk, slim_buf *sig);

/* Verifies kp->signature with leaf_node.signature_key (§10.1).
 * E_MLS_SUITE_MISMATCH when kp's suite is not `suite`, E_MLS_BAD_SIGNATURE,
 * E_MLS_BAD_KEY. */
slim_status slim_mls_key_package_verify(const slim_mls_suite *suite,
                                        const slim_mls_key_package *kp);

/* out[0..Nh) = MakeKeyPackageRef(KeyPackage)
 *            = RefHash("MLS 1.0 KeyPackage Reference", KeyPackage). */
slim_status slim_mls_key_package_ref(const slim_mls_suite *suite, const slim_mls_key_package *kp,
                                     uint8_t *out);

#endif
