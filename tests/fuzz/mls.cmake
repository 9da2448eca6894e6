# MLS codec fuzz target (seed corpus in corpus/fuzz_mls_tls/).
slim_fuzz_target(fuzz_mls_tls fuzz_mls_tls.c)
# MLS structure decoding (seed corpus in corpus/fuzz_mls_message/) and
# Public/PrivateMessage unprotect with a fixed group (corpus/fuzz_mls_unprotect/).
# The seeds are written by the unit tests: see docs/mls.md.
slim_fuzz_target(fuzz_mls_message fuzz_mls_message.c)
slim_fuzz_target(fuzz_mls_unprotect fuzz_mls_unprotect.c)
# Ratchet-tree decoding and validation (seeds in corpus/fuzz_mls_tree/, written
# by test_mls_tree: see docs/mls.md).
slim_fuzz_target(fuzz_mls_tree fuzz_mls_tree.c)
# The group layer: joining from a Welcome (whole messages, GroupInfos and
# GroupSecrets sealed for the joiner) and processing proposals and commits
# (whole messages, and commits of mutated proposal lists) with the fixed
# group of mls_group_fuzz.h. Seeds in corpus/fuzz_mls_welcome/ and
# corpus/fuzz_mls_commit/, written by test_mls_group (see docs/mls.md).
slim_fuzz_target(fuzz_mls_welcome fuzz_mls_welcome.c)
slim_fuzz_target(fuzz_mls_commit fuzz_mls_commit.c)
# Loading a saved group state as a client of the same fixed group (seeds in
# corpus/fuzz_mls_state/, written by test_mls_group_state: see docs/mls.md).
slim_fuzz_target(fuzz_mls_state fuzz_mls_state.c)
