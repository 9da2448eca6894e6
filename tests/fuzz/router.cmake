# src/router: the forwarder driven by scripts of connection events and
# messages, with checks on everything it sends.
slim_fuzz_target(fuzz_forwarder ${CMAKE_CURRENT_LIST_DIR}/fuzz_forwarder.c)
# The routing tables against a brute-force model of the match rules.
slim_fuzz_target(fuzz_router ${CMAKE_CURRENT_LIST_DIR}/fuzz_router.c)
