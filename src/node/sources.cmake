list(APPEND SLIM_SOURCES src/node/config.c src/node/node.c)
