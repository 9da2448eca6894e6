list(APPEND SLIM_SOURCES src/name/name.c)
