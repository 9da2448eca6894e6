list(APPEND SLIM_SOURCES src/client/app.c src/client/conn.c src/client/session.c)
