# src/config + src/node: the node's YAML configuration.
slim_fuzz_target(fuzz_config ${CMAKE_CURRENT_LIST_DIR}/fuzz_config.c)
