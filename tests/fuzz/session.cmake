# src/session/identity: tokens (as received, and given their right MAC so
# the claims and public key readers run) and the header AAD of decoded
# messages. Seeds in corpus/fuzz_identity/ (see docs/identity.md).
slim_fuzz_target(fuzz_identity ${CMAKE_CURRENT_LIST_DIR}/fuzz_identity.c)
# src/session/jwt: tokens (as received, signed here so that the claim
# checks run, and as static tokens), and keys as PEM, JWK and JWKS (also
# what autoresolve fetches) with the OIDC discovery helpers. Seeds in
# corpus/fuzz_jwt/ and corpus/fuzz_jwk/ (see docs/jwt.md).
slim_fuzz_target(fuzz_jwt ${CMAKE_CURRENT_LIST_DIR}/fuzz_jwt.c)
slim_fuzz_target(fuzz_jwk ${CMAKE_CURRENT_LIST_DIR}/fuzz_jwk.c)
# src/session: the session layer on the simulated network of
# tests/unit/session/simnet.c, fed random message sequences (see the
# comment at the top of fuzz_sessions.c). Seeds in corpus/fuzz_sessions/.
slim_fuzz_target(fuzz_sessions ${CMAKE_CURRENT_LIST_DIR}/fuzz_sessions.c
                 ${CMAKE_SOURCE_DIR}/tests/unit/session/simnet.c)
target_include_directories(fuzz_sessions PRIVATE ${CMAKE_SOURCE_DIR}/tests/unit/session)
# src/session/ss_save.c: the saved group sessions a restarted app imports,
# as fuzz bytes or a valid saved state with fuzz bytes XORed in (see the
# comment at the top of fuzz_sessions_import.c).
slim_fuzz_target(fuzz_sessions_import ${CMAKE_CURRENT_LIST_DIR}/fuzz_sessions_import.c
                 ${CMAKE_SOURCE_DIR}/tests/unit/session/simnet.c)
target_include_directories(fuzz_sessions_import PRIVATE ${CMAKE_SOURCE_DIR}/tests/unit/session)
