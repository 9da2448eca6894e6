# gRPC over HTTP/2 on libuv + nghttp2; TLS on OpenSSL.
pkg_check_modules(LIBUV REQUIRED IMPORTED_TARGET libuv)
pkg_check_modules(NGHTTP2 REQUIRED IMPORTED_TARGET libnghttp2)
find_package(OpenSSL 3 REQUIRED)
list(APPEND SLIM_SOURCES
  src/transport/client.c
  src/transport/codec.c
  src/transport/config.c
  src/transport/endpoint.c
  src/transport/h2conn.c
  src/transport/io.c
  src/transport/md.c
  src/transport/server.c
  src/transport/tls.c
  src/transport/txq.c)
list(APPEND SLIM_LIBS PkgConfig::LIBUV PkgConfig::NGHTTP2 OpenSSL::SSL)
