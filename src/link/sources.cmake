list(APPEND SLIM_SOURCES src/link/hub.c)
