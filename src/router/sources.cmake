list(APPEND SLIM_SOURCES src/router/forwarder.c src/router/mesh.c src/router/hdrmac.c src/router/router.c)
