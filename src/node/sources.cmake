pkg_check_modules(MICROHTTPD REQUIRED IMPORTED_TARGET libmicrohttpd)
list(APPEND SLIM_SOURCES src/node/config.c src/node/metrics.c src/node/node.c src/node/stats.c)
list(APPEND SLIM_LIBS PkgConfig::MICROHTTPD)
