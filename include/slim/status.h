/*
 * Status codes. Every fallible call in libslim returns a slim_status: 0 is
 * success, negative values are errors. The table below is the single source
 * of the enum, the symbolic names and the human messages, so the three cannot
 * drift apart.
 *
 * Codes are grouped by module so modules can add entries without renumbering:
 *   1-99 core, 100-199 names, 200-299 wire, 300-499 MLS, 500-599 transport,
 *   600-699 router and node, 700-799 sessions, 800-899 control plane,
 *   900-999 configuration.
 * A code, once published, keeps its number.
 */
#ifndef SLIM_STATUS_H
#define SLIM_STATUS_H

#include "slim/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SLIM_STATUS_MAP(XX)                                                                        \
    XX(OK, 0, "success")                                                                           \
    /* core */                                                                                     \
    XX(E_NOMEM, -1, "out of memory")                                                               \
    XX(E_INVALID_ARG, -2, "invalid argument")                                                      \
    XX(E_TRUNCATED, -3, "input ends before the value it announces")                                \
    XX(E_TRAILING, -4, "unexpected bytes after the end of the value")                              \
    XX(E_TOO_LARGE, -5, "value exceeds the size limit")                                            \
    XX(E_OVERFLOW, -6, "arithmetic overflow")                                                      \
    XX(E_BUFFER_SMALL, -7, "output buffer too small")                                              \
    XX(E_NOT_FOUND, -8, "not found")                                                               \
    XX(E_EXISTS, -9, "already exists")                                                             \
    XX(E_INTERNAL, -10, "internal error")                                                          \
    XX(E_IO, -11, "input/output error")                                                            \
    XX(E_UNSUPPORTED, -12, "not supported")                                                        \
    XX(E_STATE, -13, "operation not valid in the current state")                                   \
    XX(E_TIMEOUT, -14, "timed out")                                                                \
    XX(E_QUEUE_FULL, -15, "queue full")                                                            \
    XX(E_CLOSED, -16, "closed")                                                                    \
    XX(E_CANCELLED, -17, "cancelled")                                                              \
    /* names */                                                                                    \
    XX(E_NAME_EMPTY_COMPONENT, -100, "name has an empty component")                                \
    XX(E_NAME_TOO_FEW_COMPONENTS, -101, "name needs org/namespace/service")                        \
    XX(E_NAME_TOO_MANY_COMPONENTS, -102, "name has more than four components")                     \
    XX(E_NAME_BAD_ID, -103, "name id is not a UUID or 1-32 hex digits")                            \
    XX(E_NAME_COMPONENT_TOO_LONG, -104, "name component longer than 1024 bytes")                   \
    /* wire */                                                                                     \
    XX(E_WIRE_MALFORMED, -200, "malformed protobuf message")                                       \
    XX(E_WIRE_MISSING_FIELD, -201, "required field missing from message")                          \
    XX(E_WIRE_UNKNOWN_TYPE, -202, "message carries no known type")                                 \
    /* MLS */                                                                                      \
    XX(E_MLS_VARINT_PREFIX, -300, "MLS length header starts with the reserved prefix 0b11")        \
    XX(E_MLS_VARINT_NONMINIMAL, -301, "MLS length header is not minimally encoded")                \
    XX(E_MLS_VARINT_RANGE, -302, "length does not fit an MLS length header (max 2^30-1)")          \
    XX(E_MLS_TRUNCATED, -303, "MLS structure ends inside a fixed-size field")                      \
    XX(E_MLS_VECTOR_PAST_END, -304, "MLS vector length runs past the end of the input")            \
    XX(E_MLS_TRAILING_BYTES, -305, "bytes left over after an MLS structure or vector")             \
    XX(E_MLS_BAD_OPTIONAL, -306, "MLS optional presence byte is neither 0 nor 1")                  \
    XX(E_MLS_VECTOR_TOO_LONG, -307, "MLS vector is longer than that field allows")                 \
    XX(E_MLS_WRITER_NESTING, -308, "MLS vector writes closed out of order")                        \
    XX(E_MLS_BAD_VALUE, -309, "MLS field holds a value its structure does not allow")              \
    XX(E_MLS_BAD_VERSION, -310, "MLS protocol version is not mls10")                               \
    XX(E_MLS_UNKNOWN_WIRE_FORMAT, -311, "MLSMessage wire format is reserved or unknown")           \
    XX(E_MLS_BAD_CONTENT_TYPE, -312, "content type is not application, proposal or commit")        \
    XX(E_MLS_BAD_SENDER_TYPE, -313, "sender type is reserved or unknown")                          \
    XX(E_MLS_UNKNOWN_PROPOSAL_TYPE, -314,                                                          \
       "proposal type is reserved or unknown (body unparsable)")                                   \
    XX(E_MLS_BAD_PROPOSAL_OR_REF, -315, "ProposalOrRef type is neither proposal nor reference")    \
    XX(E_MLS_BAD_LEAF_NODE_SOURCE, -316, "LeafNode source is reserved or unknown")                 \
    XX(E_MLS_WRONG_LEAF_NODE_SOURCE, -317, "LeafNode source is not the one its place requires")    \
    XX(E_MLS_BAD_NODE_TYPE, -318, "ratchet tree node type is unknown or wrong for its position")   \
    XX(E_MLS_TREE_TRAILING_BLANK, -319, "ratchet tree vector ends with a blank node")              \
    XX(E_MLS_UNMERGED_NOT_SORTED, -329, "unmerged_leaves not in strictly increasing order")        \
    XX(E_MLS_DUPLICATE_EXTENSION, -330, "extension list holds two extensions of one type")         \
    XX(E_MLS_COMMIT_PATH_MISSING, -331, "Commit has no UpdatePath but its proposals require one")  \
    XX(E_MLS_BAD_CREDENTIAL_TYPE, -332, "credential type is reserved (0)")                         \
    XX(E_MLS_SUITE_MISMATCH, -333, "structure is for another cipher suite than the one in use")    \
    XX(E_MLS_UNKNOWN_SUITE, -320, "MLS cipher suite not supported (only 1 and 2 are)")             \
    XX(E_MLS_BAD_KEY, -321, "key has the wrong length or is not a valid key for the suite")        \
    XX(E_MLS_BAD_SIGNATURE, -322, "signature does not verify")                                     \
    XX(E_MLS_BAD_MAC, -323, "MAC or confirmation tag does not match")                              \
    XX(E_MLS_AEAD_OPEN, -324, "AEAD open failed: wrong key, nonce or aad, or altered data")        \
    XX(E_MLS_KDF_LENGTH, -325, "requested KDF output length is out of range")                      \
    XX(E_MLS_CRYPTO, -326, "an OpenSSL operation failed")                                          \
    XX(E_MLS_RNG, -327, "the random number generator failed")                                      \
    XX(E_MLS_DH_ZERO, -328, "Diffie-Hellman result is all zero (low-order public key)")            \
    XX(E_MLS_HPKE_UNSUPPORTED, -340, "HPKE KEM, KDF or AEAD id not supported")                     \
    XX(E_MLS_HPKE_PSK_INPUTS, -341, "HPKE psk/psk_id missing, inconsistent or not for this mode")  \
    XX(E_MLS_HPKE_AUTH_INPUTS, -342, "HPKE sender key missing in auth mode or given in another")   \
    XX(E_MLS_HPKE_DERIVE_KEY_PAIR, -343, "HPKE DeriveKeyPair found no valid key in 256 tries")     \
    XX(E_MLS_HPKE_MESSAGE_LIMIT, -344, "HPKE context used up its sequence numbers")                \
    XX(E_MLS_HPKE_EXPORT_ONLY, -345, "HPKE context is export-only: it cannot seal or open")        \
    XX(E_MLS_HPKE_WRONG_ROLE, -346, "HPKE sender context cannot open, receiver cannot seal")       \
    XX(E_MLS_TREE_SIZE, -360, "tree leaf count is zero, not a power of two, or above 2^31")        \
    XX(E_MLS_TREE_INDEX, -361, "node or leaf index is outside the tree")                           \
    XX(E_MLS_TREE_NO_CHILD, -362, "a leaf node has no children")                                   \
    XX(E_MLS_TREE_NO_PARENT, -363, "the root node has no parent or sibling")                       \
    XX(E_MLS_GENERATION_REUSED, -380, "ratchet key for this generation was used or deleted")       \
    XX(E_MLS_GENERATION_TOO_FAR, -381, "ratchet generation jumps more than 1024 ahead")            \
    XX(E_MLS_GENERATION_EXHAUSTED, -382, "ratchet reached its last 32-bit generation")             \
    XX(E_MLS_PSK_COUNT, -390, "more PSKs than a uint16 count allows")                              \
    XX(E_MLS_WRONG_GROUP, -400, "message group_id does not match the group")                       \
    XX(E_MLS_WRONG_EPOCH, -401, "message epoch does not match the group")                          \
    XX(E_MLS_SENDER_DATA_DECRYPT, -402, "PrivateMessage sender data does not decrypt")             \
    XX(E_MLS_CONTENT_DECRYPT, -403, "PrivateMessage content does not decrypt")                     \
    XX(E_MLS_BAD_MEMBERSHIP_TAG, -404, "PublicMessage membership tag mismatch")                    \
    XX(E_MLS_SENDER_OUTSIDE_TREE, -405, "sender leaf index is outside the ratchet tree")           \
    XX(E_MLS_SENDER_BLANK, -406, "sender leaf is blank (no member there)")                         \
    XX(E_MLS_BAD_PADDING, -407, "PrivateMessage padding holds a non-zero byte")                    \
    XX(E_MLS_APPLICATION_IN_PUBLIC, -408, "application data may only be sent as a PrivateMessage") \
    XX(E_MLS_SENDER_NOT_ALLOWED, -409, "sender type not allowed for this content or wire format")  \
    XX(E_MLS_NOT_FRAMED, -410, "MLSMessage wire format is not the one this operation handles")     \
    XX(E_MLS_BAD_SENDER_DATA, -411, "decrypted PrivateMessage SenderData is malformed")            \
    XX(E_MLS_NO_SENDER_KEY, -412, "no signature key known for the message sender")                 \
    /* MLS ratchet tree, TreeKEM, leaf node and KeyPackage validation */                           \
    XX(E_MLS_TREE_HASH_MISMATCH, -420,                                                             \
       "ratchet tree hash differs from the one the group agreed on")                               \
    XX(E_MLS_PARENT_HASH_INVALID, -421,                                                            \
       "parent node is not parent-hash valid (no single child chain was signed with it)")          \
    XX(E_MLS_UNMERGED_LEAF_INVALID, -422,                                                          \
       "unmerged leaf is blank or not below the parent node that lists it")                        \
    XX(E_MLS_UNMERGED_LEAF_MISSING, -423,                                                          \
       "node between an unmerged leaf and the ancestor listing it does not list it")               \
    XX(E_MLS_DUPLICATE_ENCRYPTION_KEY, -424,                                                       \
       "HPKE encryption key appears in two nodes of the tree")                                     \
    XX(E_MLS_DUPLICATE_SIGNATURE_KEY, -425,                                                        \
       "two members of the group have the same signature key")                                     \
    XX(E_MLS_LEAF_BAD_SIGNATURE, -426,                                                             \
       "leaf node signature does not verify (LeafNodeTBS with its group and leaf index)")          \
    XX(E_MLS_CREDENTIAL_REJECTED, -427, "the application's credential check refused a credential") \
    XX(E_MLS_CREDENTIAL_UNSUPPORTED, -428,                                                         \
       "a credential type in use in the group is not supported by every member")                   \
    XX(E_MLS_MISSING_REQUIRED_CAPABILITY, -429,                                                    \
       "leaf node does not support a capability the group requires (required_capabilities)")       \
    XX(E_MLS_UNSUPPORTED_EXTENSION, -430,                                                          \
       "leaf node or KeyPackage carries an extension its capabilities do not list")                \
    XX(E_MLS_UNSUPPORTED_VERSION_OR_SUITE, -431,                                                   \
       "leaf capabilities do not list the group's protocol version or cipher suite")               \
    XX(E_MLS_LIFETIME_INVALID, -432, "current time is outside the leaf node's lifetime")           \
    XX(E_MLS_LIFETIME_TOO_LONG, -433, "leaf node lifetime is longer than the application allows")  \
    XX(E_MLS_INIT_KEY_REUSED, -434, "KeyPackage init_key equals its leaf node's encryption key")   \
    XX(E_MLS_ENCRYPTION_KEY_UNCHANGED, -435,                                                       \
       "new leaf node keeps the encryption key of the leaf it replaces")                           \
    XX(E_MLS_TREE_LEAF_BLANK, -436, "ratchet tree leaf is blank (no member there)")                \
    XX(E_MLS_PATH_LENGTH, -437,                                                                    \
       "UpdatePath node count differs from the sender's filtered direct path")                     \
    XX(E_MLS_PATH_CIPHERTEXT_COUNT, -438,                                                          \
       "UpdatePath node has not one ciphertext per node of its copath resolution")                 \
    XX(E_MLS_PATH_PARENT_HASH, -439, "UpdatePath leaf parent_hash does not match the path")        \
    XX(E_MLS_PATH_KEY_MISMATCH, -440,                                                              \
       "key derived from the decrypted path secret differs from the UpdatePath's public key")      \
    XX(E_MLS_PATH_NO_KEY, -441,                                                                    \
       "this member holds no private key that the UpdatePath encrypts to")                         \
    XX(E_MLS_PATH_DECRYPT, -442, "the UpdatePath path secret for this member does not decrypt")    \
    XX(E_MLS_PRIVATE_KEY_MISMATCH, -443, "private key does not match the public key in the tree")  \
    XX(E_MLS_PATH_FROM_SELF, -444, "a member cannot process its own UpdatePath")                   \
    /* MLS group: proposals, commits, Welcome, GroupInfo, the group state */                       \
    XX(E_MLS_GROUP_ENDED, -450,                                                                    \
       "the group was reinitialized (a ReInit was committed): it sends nothing more")              \
    XX(E_MLS_PROPOSAL_NOT_FOUND, -451,                                                             \
       "Commit names by reference a proposal this member did not receive in the epoch")            \
    XX(E_MLS_UPDATE_FROM_COMMITTER, -452, "Commit holds an Update proposal of its own committer")  \
    XX(E_MLS_REMOVES_COMMITTER, -453, "Commit holds a Remove proposal of its own committer")       \
    XX(E_MLS_DUPLICATE_LEAF_CHANGE, -454,                                                          \
       "Commit holds two Update or Remove proposals for a leaf")                                   \
    XX(E_MLS_DUPLICATE_PSK, -455, "Commit holds two PreSharedKey proposals of one PreSharedKeyID") \
    XX(E_MLS_DUPLICATE_GCE, -456, "Commit holds more than one GroupContextExtensions proposal")    \
    XX(E_MLS_REINIT_NOT_ALONE, -457, "Commit holds a ReInit proposal together with other ones")    \
    XX(E_MLS_EXTERNAL_INIT_MISPLACED, -458,                                                        \
       "ExternalInit proposal outside the proposal list of an external Commit")                    \
    XX(E_MLS_EXTERNAL_COMMIT_INVALID, -459,                                                        \
       "external Commit does not hold exactly one ExternalInit, at most one Remove and PSKs, "     \
       "all by value, with a path")                                                                \
    XX(E_MLS_REMOVE_BLANK, -460, "Remove proposal names a blank leaf or one outside the tree")     \
    XX(E_MLS_PSK_NOT_FOUND, -461,                                                                  \
       "a pre-shared key named by a proposal or a Welcome is not available to this member")        \
    XX(E_MLS_PSK_BAD_NONCE, -462, "PreSharedKeyID psk_nonce is not KDF.Nh bytes long")             \
    XX(E_MLS_PSK_BAD_USAGE, -463,                                                                  \
       "resumption PSK of usage reinit or branch outside a reinitialization or branch Welcome, "   \
       "or not the only one there")                                                                \
    XX(E_MLS_CONFIRMATION_TAG, -465,                                                               \
       "confirmation tag of the Commit or GroupInfo does not match the new epoch's")               \
    XX(E_MLS_COMMIT_FROM_SELF, -466,                                                               \
       "a member cannot process its own Commit: its creation returned the new state")              \
    XX(E_MLS_WELCOME_NOT_FOR_US, -467, "Welcome holds no group secrets for this KeyPackage")       \
    XX(E_MLS_WELCOME_DECRYPT, -468,                                                                \
       "Welcome group secrets do not decrypt with the KeyPackage's init key")                      \
    XX(E_MLS_GROUP_INFO_DECRYPT, -469, "Welcome GroupInfo does not decrypt with the welcome key")  \
    XX(E_MLS_GROUP_INFO_SIGNER, -470, "GroupInfo signer leaf is blank or outside the tree")        \
    XX(E_MLS_NO_RATCHET_TREE, -471,                                                                \
       "no ratchet tree: the GroupInfo carries none and the caller gave none")                     \
    XX(E_MLS_NOT_IN_TREE, -472, "the joiner's KeyPackage leaf is not in the group's ratchet tree") \
    XX(E_MLS_UNSUPPORTED_GROUP_EXTENSION, -473,                                                    \
       "a GroupContext extension is not listed in a member's capabilities")                        \
    XX(E_MLS_MISSING_EXTERNAL_PUB, -474,                                                           \
       "GroupInfo has no external_pub extension: the group allows no external join")               \
    XX(E_MLS_RESYNC_IDENTITY, -475,                                                                \
       "external Commit removes a member whose credential is not the joiner's")                    \
    XX(E_MLS_REINIT_MISMATCH, -476,                                                                \
       "reinit or branch Welcome does not match the group it resumes")                             \
    /* router and node */                                                                          \
    XX(E_ROUTER_NO_SUCH_SUBSCRIPTION, -600, "no such subscription")                                \
    XX(E_ROUTER_SUBSCRIPTION_LIMIT, -601, "subscription limit reached")                            \
    XX(E_ROUTER_NO_ROUTE, -602, "no route to the destination")                                     \
    XX(E_ROUTER_UNKNOWN_CONNECTION, -603, "unknown connection")                                    \
    XX(E_ROUTER_TTL_EXPIRED, -604, "ttl expired")                                                  \
    XX(E_ROUTER_LINK_REFUSED, -605, "link negotiation failed")                                     \
    XX(E_ROUTER_DUPLICATE, -606, "duplicate message")                                              \
    XX(E_ROUTER_HEADER_MAC, -607, "header MAC missing or wrong")                                   \
    /* sessions (-700 .. -739) */                                                                  \
    XX(E_SESSION_DISCOVERY_FAILED, -700, "session discovery: no instance of the peer answered")    \
    XX(E_SESSION_JOIN_FAILED, -701, "session join: the discovered peer did not answer the join")   \
    XX(E_SESSION_WELCOME_FAILED, -702, "session join: the peer did not acknowledge the welcome")   \
    XX(E_SESSION_NO_ROUTE, -703, "session: the node has no route to the peer")                     \
    XX(E_SESSION_ROUTE_REFUSED, -704, "session: the router refused the route to the peer")         \
    XX(E_SESSION_ROUTE_TIMEOUT, -705, "session: the router did not acknowledge the route in time") \
    XX(E_SESSION_UNDELIVERED, -706,                                                                \
       "message not acknowledged by the peer after every retransmission")                          \
    XX(E_SESSION_PEER_GONE, -707, "session peer stopped sending heartbeats: presumed gone")        \
    XX(E_SESSION_CLOSED_UNACKED, -708, "session ended before the message was acknowledged")        \
    XX(E_SESSION_IDLE, -709, "anycast session ended: nothing received for its idle time")          \
    XX(E_SESSION_CLOSING, -710, "session is closing: it takes no new messages or calls")           \
    XX(E_SESSION_EXPECTED_ANYCAST, -711, "unexpected session type: expected ANYCAST")              \
    XX(E_SESSION_EXPECTED_UNICAST, -712, "unexpected session type: expected UNICAST or MULTICAST") \
    XX(E_SESSION_NO_DESTINATION, -713, "either name or message_ctx must be provided for publish")  \
    XX(E_SESSION_LIMIT, -714, "too many sessions open (max_sessions)")                             \
    XX(E_SESSION_BAD_ID, -715, "session id out of range (0 to 4294966294)")                        \
    XX(E_SESSION_UNKNOWN, -716, "message for no session of this application")                      \
    XX(E_SESSION_NOT_OURS, -717, "message for a name this application does not answer for")        \
    XX(E_SESSION_DUPLICATE, -718, "duplicate message: already delivered or buffered")              \
    XX(E_SESSION_UNEXPECTED, -719, "session message not expected in the session's state")          \
    XX(E_SESSION_LOST, -720, "message lost: the sender no longer has it")                          \
    XX(E_SESSION_WRONG_PEER, -721, "session message from a name that is not the session's peer")   \
    XX(E_SESSION_NODE_ERROR, -722, "error report from a node about a message of a session")        \
    XX(E_SESSION_EXPECTED_MULTICAST, -723, "unexpected session type: expected MULTICAST")          \
    XX(E_SESSION_NOT_MODERATOR, -724, "only the moderator (the group's creator) can do this")      \
    XX(E_SESSION_ALREADY_MEMBER, -725, "an instance of that name is already in the group")         \
    XX(E_SESSION_NOT_MEMBER, -726, "no member of the group has that name")                         \
    XX(E_SESSION_LEAVE_FAILED, -727,                                                               \
       "removed from the group, but it never acknowledged its removal")                            \
    XX(E_SESSION_REMOVED, -728, "removed from the group by its moderator")                         \
    XX(E_SESSION_MODERATOR_CLOSED, -729, "the moderator closed the group")                         \
    XX(E_SESSION_UPDATE_FAILED, -730, "group update: not every member acknowledged it")            \
    XX(E_SESSION_MODERATOR_GONE, -731,                                                             \
       "the moderator stopped sending heartbeats and did not come back in time")                   \
    XX(E_SESSION_MLS_AAD, -732,                                                                    \
       "MLS message refused: its authenticated data does not match its header")                    \
    XX(E_SESSION_MLS_SENDER, -733,                                                                 \
       "MLS message refused: its MLS sender is not the member whose name sent it")                 \
    XX(E_SESSION_MLS_IDENTITY, -734, "MLS credential does not name the member it came from")       \
    XX(E_SESSION_MLS_BEHIND, -735,                                                                 \
       "a group commit was missed: this member cannot follow the group's epochs")                  \
    XX(E_SESSION_REPLAY, -736, "command message already taken (replayed or repeated)")             \
    XX(E_SESSION_ROTATION_OFF, -737,                                                               \
       "no key rotation in this group (no MLS, or a member runs another implementation)")          \
    /* session identity: JWT tokens and keys (-740..-759) */                                       \
    XX(E_JWT_MALFORMED, -740, "JWT is not three '.'-separated base64url segments")                 \
    XX(E_JWT_BAD_BASE64, -741, "JWT segment is not unpadded base64url")                            \
    XX(E_JWT_BAD_JSON, -742, "JWT header or claims are not a JSON object")                         \
    XX(E_JWT_BAD_ALG, -743, "JWT alg is none, unknown, or not one we verify")                      \
    XX(E_JWT_WRONG_ALG, -744, "JWT alg is not the algorithm of the verifying key")                 \
    XX(E_JWT_BAD_SIGNATURE, -745, "JWT signature does not verify under the key")                   \
    XX(E_JWT_EXPIRED, -746, "JWT expired (exp is past, beyond the leeway)")                        \
    XX(E_JWT_NOT_YET_VALID, -747,                                                                  \
       "JWT not valid yet (nbf or iat ahead of now, beyond the leeway)")                           \
    XX(E_JWT_ISSUER, -748, "JWT issuer (iss) is not the one expected")                             \
    XX(E_JWT_AUDIENCE, -749, "JWT audience (aud) does not name this verifier's audience")          \
    XX(E_JWT_SUBJECT, -750, "JWT subject (sub) is not the one expected")                           \
    XX(E_JWT_MISSING_CLAIM, -751,                                                                  \
       "JWT lacks a required claim (exp, or iss/aud/sub when required)")                           \
    XX(E_JWT_BAD_CLAIM, -752, "JWT header or claim value has the wrong type")                      \
    XX(E_JWT_BAD_KEY, -753, "JWT key is not a valid PEM, JWK or JWKS key")                         \
    XX(E_JWT_KEY_MISMATCH, -754, "JWT key type does not fit the algorithm")                        \
    XX(E_JWT_NO_KEY, -755, "no JWT key fits the token's kid and alg")                              \
    XX(E_JWT_KEYS_NEEDED, -756,                                                                    \
       "no keys known for the JWT's issuer: fetch its JWKS (autoresolve)")                         \
    XX(E_JWT_FETCH, -757, "fetching the issuer's JWKS failed")                                     \
    XX(E_JWT_DISCOVERY, -758,                                                                      \
       "issuer URL or openid-configuration refused (issuer or origin mismatch)")                   \
    /* session identity: shared-secret tokens and header signatures (760-779) */                   \
    XX(E_IDENTITY_MALFORMED, -760, "identity token is not id:timestamp:nonce:claims:mac")          \
    XX(E_IDENTITY_EXPIRED, -761, "identity token is older than its validity window")               \
    XX(E_IDENTITY_NOT_YET_VALID, -762,                                                             \
       "identity token is dated further ahead than the allowed clock skew")                        \
    XX(E_IDENTITY_BAD_MAC, -763, "identity token MAC does not match: not made with our secret")    \
    XX(E_IDENTITY_BAD_BASE64, -764, "identity token field is not valid base64")                    \
    XX(E_IDENTITY_BAD_CLAIMS, -765, "identity token claims are not valid JSON")                    \
    XX(E_IDENTITY_NO_PUBKEY, -766, "identity token claims carry no pubkey string")                 \
    XX(E_IDENTITY_BAD_PUBKEY, -767,                                                                \
       "identity pubkey is not a P-256 (33 or 65 bytes) or Ed25519 (32 bytes) public key")         \
    XX(E_IDENTITY_NO_SIGNATURE, -768, "command message carries no e2e_header_sig")                 \
    XX(E_IDENTITY_BAD_SIGNATURE, -769, "e2e_header_sig does not verify under the sender's pubkey") \
    XX(E_IDENTITY_BAD_ID, -770, "identity id is empty, not UTF-8, or holds a ':' or white space")  \
    XX(E_IDENTITY_NO_SECRET, -771, "identity shared secret is empty")                              \
    XX(E_IDENTITY_KEY_MISMATCH, -772,                                                              \
       "identity token's pubkey is not the signature key of the MLS leaf that carries it")         \
    /* applications (src/client): -780..-799 (sessions -700..-739, JWT -740..-759, identity        \
     * -760..-779) */                                                                              \
    XX(E_APP_REFUSED, -780, "refused by the app's router or the node")                             \
    XX(E_STATE_FORMAT, -790,                                                                       \
       "saved state: not a state file of this library (magic, version or length)")                 \
    XX(E_STATE_ALTERED, -791,                                                                      \
       "saved state: does not authenticate under the key (altered, or another key)")               \
    XX(E_STATE_IDENTITY, -792, "saved state: of another identity than the app's provider")         \
    /* transport: -500 - c is gRPC status code c (1..16), see slim_grpc_code_to_status() */        \
    XX(E_GRPC_CANCELLED, -501, "gRPC CANCELLED: the call was cancelled")                           \
    XX(E_GRPC_UNKNOWN, -502, "gRPC UNKNOWN: unknown error")                                        \
    XX(E_GRPC_INVALID_ARGUMENT, -503, "gRPC INVALID_ARGUMENT: invalid argument")                   \
    XX(E_GRPC_DEADLINE_EXCEEDED, -504, "gRPC DEADLINE_EXCEEDED: deadline exceeded")                \
    XX(E_GRPC_NOT_FOUND, -505, "gRPC NOT_FOUND: not found")                                        \
    XX(E_GRPC_ALREADY_EXISTS, -506, "gRPC ALREADY_EXISTS: already exists")                         \
    XX(E_GRPC_PERMISSION_DENIED, -507, "gRPC PERMISSION_DENIED: permission denied")                \
    XX(E_GRPC_RESOURCE_EXHAUSTED, -508, "gRPC RESOURCE_EXHAUSTED: resource exhausted")             \
    XX(E_GRPC_FAILED_PRECONDITION, -509, "gRPC FAILED_PRECONDITION: failed precondition")          \
    XX(E_GRPC_ABORTED, -510, "gRPC ABORTED: aborted")                                              \
    XX(E_GRPC_OUT_OF_RANGE, -511, "gRPC OUT_OF_RANGE: out of range")                               \
    XX(E_GRPC_UNIMPLEMENTED, -512, "gRPC UNIMPLEMENTED: not implemented")                          \
    XX(E_GRPC_INTERNAL, -513, "gRPC INTERNAL: internal error")                                     \
    XX(E_GRPC_UNAVAILABLE, -514, "gRPC UNAVAILABLE: service unavailable")                          \
    XX(E_GRPC_DATA_LOSS, -515, "gRPC DATA_LOSS: data loss")                                        \
    XX(E_GRPC_UNAUTHENTICATED, -516, "gRPC UNAUTHENTICATED: not authenticated")                    \
    XX(E_TRANSPORT_MSG_TOO_LARGE, -530, "message larger than the gRPC maximum message size")       \
    XX(E_TRANSPORT_BAD_ENDPOINT, -531, "endpoint is not host:port, [v6]:port or unix://path")      \
    XX(E_TRANSPORT_RESOLVE, -532, "host name resolution failed")                                   \
    XX(E_TRANSPORT_CONNECT, -533, "connection could not be established")                           \
    XX(E_TRANSPORT_LISTEN, -534, "cannot listen on the endpoint")                                  \
    XX(E_TRANSPORT_PROTOCOL, -535, "HTTP/2 protocol error on the connection")                      \
    XX(E_TRANSPORT_CONN_LOST, -536, "connection closed by the peer or by an I/O error")            \
    XX(E_TRANSPORT_KEEPALIVE, -537, "peer did not acknowledge a keepalive ping in time")           \
    XX(E_TRANSPORT_TIMEOUT, -538, "connection not established within the connect timeout")         \
    XX(E_TRANSPORT_GOAWAY, -539, "peer sent GOAWAY: the connection takes no new calls")            \
    XX(E_TLS_CONFIG, -540, "TLS settings unusable: certificate, key or CA could not be loaded")    \
    XX(E_TLS_HANDSHAKE, -541, "TLS handshake failed")                                              \
    XX(E_TLS_CERT_UNTRUSTED, -542, "TLS: peer certificate not signed by a trusted CA")             \
    XX(E_TLS_CERT_EXPIRED, -543, "TLS: peer certificate expired or not yet valid")                 \
    XX(E_TLS_CERT_NAME_MISMATCH, -544, "TLS: peer certificate does not match the expected name")   \
    XX(E_TLS_NO_CLIENT_CERT, -545, "TLS: mutual TLS requires a client certificate, none was sent") \
    XX(E_TLS_CERT_REJECTED, -546, "TLS: the peer rejected our certificate")                        \
    XX(E_TLS_ALPN, -547, "TLS: peer did not negotiate ALPN h2")                                    \
    XX(E_TLS_PLAINTEXT_PEER, -548, "TLS: peer sent plaintext on a TLS connection")                 \
    XX(E_TLS_PEER_REQUIRES_TLS, -549, "peer expects TLS on a connection this side made plaintext") \
    XX(E_TLS_VERSION, -550, "TLS: no protocol version in common with the peer")

typedef enum slim_status {
#define SLIM_STATUS_ENUM(name, code, msg) SLIM_##name = (code),
    SLIM_STATUS_MAP(SLIM_STATUS_ENUM)
#undef SLIM_STATUS_ENUM
} slim_status;

/* The symbolic name of a status without the prefix ("E_NOMEM"), or
 * "E_UNKNOWN" for a value not in the table. Never NULL; static storage. */
SLIM_API const char *slim_status_name(slim_status st);

/* The human message of a status, or "unknown status". Never NULL. */
SLIM_API const char *slim_status_str(slim_status st);

#ifdef __cplusplus
}
#endif
#endif
