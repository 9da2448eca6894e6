list(APPEND SLIM_SOURCES src/node/config.c)
