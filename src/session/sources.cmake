list(APPEND SLIM_SOURCES
  src/session/sessions.c
  src/session/ss_data.c
  src/session/ss_msg.c
  src/session/ss_p2p.c)
