# The app API. app_identity.c: the app's provider and verifier of either
# kind (shared secret or JWT); jwt_file.c: key and token files for JWT identities;
# jwks_fetch.c: JWKS auto-resolution over HTTPS with libcurl; state_file.c: the
# sealed file an app saves its state to; ctl_req.c: requests of a node's controller
# (channels through the controller).
pkg_check_modules(LIBCURL REQUIRED IMPORTED_TARGET libcurl)
list(APPEND SLIM_SOURCES src/client/app.c src/client/conn.c src/client/session.c
  src/client/jwt_file.c src/client/jwks_fetch.c src/client/app_identity.c
  src/client/state.c src/client/ctl_req.c
  src/client/state_file.c)
list(APPEND SLIM_LIBS PkgConfig::LIBCURL)
