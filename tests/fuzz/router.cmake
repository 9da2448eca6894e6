# src/router: the forwarder driven by scripts of connection events and
# messages, with checks on everything it sends.
slim_fuzz_target(fuzz_forwarder ${CMAKE_CURRENT_LIST_DIR}/fuzz_forwarder.c)
