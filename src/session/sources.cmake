# The session layer (pure: bytes and time in, bytes and events out).
# identity.c: shared-secret tokens, app ids and header signatures; jwt.c:
# JWT keys, tokens, providers and verifiers (OpenSSL EVP). The
# claims JSON is read and written with jansson.
pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson)
list(APPEND SLIM_SOURCES
  src/session/identity.c
  src/session/jwt.c
  src/session/sessions.c
  src/session/ss_data.c
  src/session/ss_group.c
  src/session/ss_mls.c
  src/session/ss_msg.c
  src/session/ss_p2p.c
  src/session/ss_save.c)
list(APPEND SLIM_LIBS PkgConfig::JANSSON)
