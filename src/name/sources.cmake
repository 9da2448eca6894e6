list(APPEND SLIM_SOURCES src/name/name.c src/name/id_text.c)
