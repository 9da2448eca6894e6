# src/session/identity: tokens (as received, and given their right MAC so
# the claims and public key readers run) and the header AAD of decoded
# messages. Seeds in corpus/fuzz_identity/ (see docs/identity.md).
slim_fuzz_target(fuzz_identity ${CMAKE_CURRENT_LIST_DIR}/fuzz_identity.c)
