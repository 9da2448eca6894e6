/*
 * Transcript hashes and the confirmation tag (RFC 9420 §8.2, §6.1).
 *
 * struct {
 *     WireFormat wire_format;
 *     FramedContent content; // with content_type == commit
 *     opaque signature<V>;
 * } ConfirmedTranscriptHashInput;
 *
 * struct {
 *     MAC confirmation_tag;
 * } InterimTranscriptHashInput;
 *
 * confirmed_transcript_hash_[epoch] =
 *     Hash(interim_transcript_hash_[epoch - 1] || ConfirmedTranscriptHashInput_[epoch]);
 * interim_transcript_hash_[epoch] =
 *     Hash(confirmed_transcript_hash_[epoch] || InterimTranscriptHashInput_[epoch]);
 * confirmation_tag = MAC(confirmation_key, confirmed_transcript_hash)
 *
 * The hashes of epoch 0 are empty strings. The functions take the encoded
 * ConfirmedTranscriptHashInput; slim_mls_confirmed_transcript_input_encode
 * (mls/framing.h) builds it from a decoded AuthenticatedContent. Pure.
 */
#ifndef SLIM_MLS_TRANSCRIPT_H
#define SLIM_MLS_TRANSCRIPT_H

#include "mls/crypto.h"
#include "slim/status.h"

/* out[0..Nh) = Hash(interim_before || confirmed_input). interim_before is
 * empty for the first commit. */
slim_status slim_mls_transcript_confirmed(const slim_mls_suite *suite, slim_bytes interim_before,
                                          slim_bytes confirmed_input, uint8_t *out);

/* out[0..Nh) = Hash(confirmed || InterimTranscriptHashInput{tag}), where
 * the tag is encoded as opaque<V>. */
slim_status slim_mls_transcript_interim(const slim_mls_suite *suite, slim_bytes confirmed,
                                        slim_bytes confirmation_tag, uint8_t *out);

/* tag[0..Nh) = MAC(confirmation_key, confirmed_transcript_hash). */
slim_status slim_mls_confirmation_tag(const slim_mls_suite *suite, slim_bytes confirmation_key,
                                      slim_bytes confirmed_transcript_hash, uint8_t *tag);

/* Checks a received confirmation tag in constant time; E_MLS_BAD_MAC. */
slim_status slim_mls_confirmation_tag_verify(const slim_mls_suite *suite,
                                             slim_bytes confirmation_key,
                                             slim_bytes confirmed_transcript_hash, slim_bytes tag);

#endif
