list(APPEND SLIM_SOURCES
  src/wire/direct.c
  src/wire/fastpath.c
  src/wire/pbscan.c
  src/wire/text.c
  src/wire/wire.c)
