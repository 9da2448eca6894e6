list(APPEND SLIM_SOURCES
  src/core/alloc.c
  src/core/base64.c
  src/core/buf.c
  src/core/hmap.c
  src/core/khash.c
  src/core/log.c
  src/core/rcbuf.c
  src/core/status.c
  src/core/time.c
  src/core/util.c
  src/core/version.c)
