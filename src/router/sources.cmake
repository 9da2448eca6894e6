list(APPEND SLIM_SOURCES src/router/forwarder.c src/router/router.c)
