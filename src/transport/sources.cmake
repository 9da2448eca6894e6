# gRPC over HTTP/2 on libuv + nghttp2 (issue 3).
pkg_check_modules(LIBUV REQUIRED IMPORTED_TARGET libuv)
pkg_check_modules(NGHTTP2 REQUIRED IMPORTED_TARGET libnghttp2)
list(APPEND SLIM_SOURCES
  src/transport/client.c
  src/transport/codec.c
  src/transport/endpoint.c
  src/transport/h2conn.c
  src/transport/io.c
  src/transport/md.c
  src/transport/server.c)
list(APPEND SLIM_LIBS PkgConfig::LIBUV PkgConfig::NGHTTP2)
