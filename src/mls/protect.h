/*
 * Message protection (RFC 9420 §6.1-§6.3): signing FramedContent, the
 * PublicMessage membership tag, and PrivateMessage sender-data and content
 * encryption with the secret tree, for cipher suites 1 and 2.
 *
 * The epoch's keys come in a slim_mls_framing_ctx that the group layer
 * fills and owns; this module keeps no state of its own. Sending:
 *
 *   - slim_mls_content_sign signs a FramedContent for a wire format
 *     (SignWithLabel "FramedContentTBS"); a commit then gets its
 *     confirmation tag from the group layer (it depends on the signature);
 *   - slim_mls_public_message_protect adds the membership tag of a member
 *     sender and writes the MLSMessage;
 *   - slim_mls_private_message_protect takes the sender's next key from the
 *     secret tree, XORs a fresh random reuse guard into the nonce, pads,
 *     encrypts the content and then the sender data, and writes the
 *     MLSMessage;
 *   - slim_mls_protect_application does all of it for application data.
 *
 * Receiving (slim_mls_unprotect, or the two per-format calls) checks, in
 * this order, and fails with the status named:
 *   1. group_id and epoch are the context's      E_MLS_WRONG_GROUP / _EPOCH
 *   2. PrivateMessage: the sender data decrypts  E_MLS_SENDER_DATA_DECRYPT
 *      and is 12 bytes                           E_MLS_BAD_SENDER_DATA
 *   3. the sender type fits the wire format and  E_MLS_APPLICATION_IN_PUBLIC
 *      the content (§6, §6.1)                    E_MLS_SENDER_NOT_ALLOWED
 *   4. a member sender's leaf is inside the tree E_MLS_SENDER_OUTSIDE_TREE
 *      and has a signature key (the callback)    E_MLS_SENDER_BLANK, ...
 *   5. PrivateMessage: the generation's key is   E_MLS_GENERATION_REUSED,
 *      still there                               E_MLS_GENERATION_TOO_FAR
 *      and the content decrypts                  E_MLS_CONTENT_DECRYPT
 *      and parses, with zero padding             E_MLS_BAD_PADDING
 *   6. PublicMessage: the membership tag         E_MLS_BAD_MEMBERSHIP_TAG
 *   7. the signature                             E_MLS_BAD_SIGNATURE
 * Only after all of them does a PrivateMessage's key leave the secret tree
 * (RFC 9420 §9.2): a message that fails leaves the key for the genuine
 * message of that generation. A commit's confirmation tag is parsed but
 * not checked here: it needs the next epoch's confirmation key, which only
 * the group layer has.
 *
 * Padding policy (PrivateMessage, §6.3.1, §15.1): the encoded
 * PrivateMessageContent (content, then FramedContentAuthData) is padded
 * with zero bytes up to the next multiple of `padding_block` bytes of the
 * context; 0 selects SLIM_MLS_PADDING_BLOCK (32), 1 turns padding off, and
 * larger blocks hide more of the length at the cost of bytes on the wire.
 * Receivers accept any amount of padding as long as every byte is zero.
 *
 * Additional data: FramedContent.authenticated_data is the caller's AAD.
 * It is signed in every message and bound into the PrivateMessage AEAD
 * (PrivateContentAAD), but sent in clear; the session layer puts the SLIM
 * header binding there and compares it after unprotect.
 *
 * Pure: randomness only through the slim_mls_rng argument (plus the ECDSA
 * nonce OpenSSL draws, see mls/rng.h). Not thread-safe per context: a
 * PrivateMessage protect or unprotect changes the secret tree.
 */
#ifndef SLIM_MLS_PROTECT_H
#define SLIM_MLS_PROTECT_H

#include "mls/framing.h"
#include "mls/secret_tree.h"

/* Default padding block (bytes) and the largest one accepted. */
#define SLIM_MLS_PADDING_BLOCK     32
#define SLIM_MLS_PADDING_BLOCK_MAX 4096

/* The verification key of a member (by content->sender.index as a leaf
 * index) or external sender (as an index into external_senders). Returns
 * SLIM_OK and *key (borrowed: it must stay valid until unprotect returns),
 * or a failure that unprotect passes on, e.g. E_MLS_SENDER_BLANK for a
 * blank leaf or E_MLS_NO_SENDER_KEY for an unknown external sender. Never
 * called for new_member senders: their key is in the message itself. */
typedef slim_status (*slim_mls_sender_key_fn)(void *arg, const slim_mls_framed_content *content,
                                              const slim_mls_sig_key **key);

/*
 * The keys of one epoch, as protect and unprotect need them. Every
 * pointer and view is borrowed from the group layer and must stay valid
 * while the context is used. Fill it with slim_mls_framing_init, then set
 * the fields the operations need:
 *   PublicMessage of a member:  membership_key
 *   PrivateMessage:             sender_data_secret, secret_tree
 *   receiving:                  sender_key (+ sender_key_arg)
 */
typedef struct slim_mls_framing_ctx {
    const slim_mls_suite *suite;
    slim_bytes group_context;          /* encoded GroupContext of the epoch */
    slim_bytes group_id;               /* set by init: a view into group_context */
    uint64_t epoch;                    /* set by init */
    uint32_t n_leaves;                 /* leaves of the ratchet tree */
    slim_bytes membership_key;         /* Nh bytes */
    slim_bytes sender_data_secret;     /* Nh bytes */
    slim_mls_secret_tree *secret_tree; /* changed by PrivateMessage calls */
    size_t padding_block;              /* 0: SLIM_MLS_PADDING_BLOCK */
    slim_mls_sender_key_fn sender_key;
    void *sender_key_arg;
    /* Receiving a PrivateMessage: when set, a message that passes every
     * check leaves its key in the secret tree and its generation in
     * *generation; the caller erases the key (slim_mls_secret_tree_erase)
     * once it has acted on the message, so a failure of its own (a Commit
     * it cannot apply for want of memory) does not lose the key. */
    bool keep_key;
    uint32_t *generation;
} slim_mls_framing_ctx;

/* Zeroes *ctx and sets suite, group_context, group_id and epoch from the
 * encoded GroupContext (borrowed). Decode errors, E_MLS_SUITE_MISMATCH
 * when its cipher suite is not `suite`. */
slim_status slim_mls_framing_init(slim_mls_framing_ctx *ctx, const slim_mls_suite *suite,
                                  slim_bytes group_context);

/* The number of zero bytes the padding policy adds to a
 * PrivateMessageContent of `len` bytes with block size `block` (0 for the
 * default). */
size_t slim_mls_padding_for(size_t len, size_t block);

/* Appends SignWithLabel(sk, "FramedContentTBS", FramedContentTBS) of fc
 * for `wire_format` (with the context's GroupContext for member and
 * new_member_commit senders) to `sig`. */
slim_status slim_mls_content_sign(const slim_mls_framing_ctx *ctx, uint16_t wire_format,
                                  const slim_mls_framed_content *fc, const slim_mls_sig_key *sk,
                                  slim_buf *sig);

/* Checks a FramedContent signature with a prepared key. E_MLS_BAD_SIGNATURE. */
slim_status slim_mls_content_verify(const slim_mls_framing_ctx *ctx, uint16_t wire_format,
                                    const slim_mls_framed_content *fc, const slim_mls_sig_key *pk,
                                    slim_bytes sig);

/* Writes ac as an MLSMessage(PublicMessage) to `out`, with the membership
 * tag for a member sender. ac->wire_format must be public_message
 * (E_MLS_NOT_FRAMED) and ac->auth.signature made for it. Also
 * E_MLS_APPLICATION_IN_PUBLIC, E_MLS_SENDER_NOT_ALLOWED,
 * E_MLS_WRONG_GROUP, E_MLS_WRONG_EPOCH, E_MLS_SENDER_OUTSIDE_TREE,
 * E_INVALID_ARG without a membership key. Nothing is appended on failure. */
slim_status slim_mls_public_message_protect(const slim_mls_framing_ctx *ctx,
                                            const slim_mls_authenticated_content *ac,
                                            slim_buf *out);

/* Writes ac as an MLSMessage(PrivateMessage) to `out`. ac->wire_format
 * must be private_message and the sender a member. Consumes the sender's
 * next generation of the ratchet of its content type. `rng` gives only the
 * 4-byte reuse guard: a slim_mls_rng_pool over the default source is the
 * fast choice (see mls/rng.h). Errors as above plus the secret tree's,
 * E_MLS_RNG. Nothing is appended on failure. */
slim_status slim_mls_private_message_protect(const slim_mls_framing_ctx *ctx,
                                             const slim_mls_authenticated_content *ac,
                                             const slim_mls_rng *rng, slim_buf *out);

/* Signs `data` as application data from member leaf `leaf_index` with
 * `authenticated_data` and writes the PrivateMessage to `out`. */
slim_status slim_mls_protect_application(const slim_mls_framing_ctx *ctx, uint32_t leaf_index,
                                         const slim_mls_sig_key *sk, slim_bytes authenticated_data,
                                         slim_bytes data, const slim_mls_rng *rng, slim_buf *out);

/* Checks a decoded MLSMessage(PublicMessage) (see the list above) and
 * gives its AuthenticatedContent, whose views borrow msg's input.
 * E_MLS_NOT_FRAMED for another wire format. */
slim_status slim_mls_public_message_unprotect(const slim_mls_framing_ctx *ctx,
                                              const slim_mls_message *msg,
                                              slim_mls_authenticated_content *out);

/* Decrypts and checks a decoded MLSMessage(PrivateMessage). The plaintext
 * replaces the contents of `plaintext` (caller-owned, reusable across
 * calls; wipe it with slim_buf_cleanup_secret when done); *out's views
 * borrow both msg's input and `plaintext`. On failure `plaintext` is wiped
 * and the secret tree still holds the key of the generation. */
slim_status slim_mls_private_message_unprotect(const slim_mls_framing_ctx *ctx,
                                               const slim_mls_message *msg, slim_buf *plaintext,
                                               slim_mls_authenticated_content *out);

/* Decodes an MLSMessage and unprotects it as a Public- or PrivateMessage
 * (E_MLS_NOT_FRAMED for the other wire formats). Views borrow `in` and
 * `plaintext`. */
slim_status slim_mls_unprotect(const slim_mls_framing_ctx *ctx, slim_bytes in, slim_buf *plaintext,
                               slim_mls_authenticated_content *out);

#endif
