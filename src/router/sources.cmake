list(APPEND SLIM_SOURCES src/router/router.c)
