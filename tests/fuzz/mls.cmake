# MLS codec fuzz target (seed corpus in corpus/fuzz_mls_tls/).
slim_fuzz_target(fuzz_mls_tls fuzz_mls_tls.c)
