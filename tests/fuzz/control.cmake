# src/control: the controller's southbound message handling, and the node's
# handling of what controllers and callers of its control endpoint send.
slim_fuzz_target(fuzz_control ${CMAKE_CURRENT_LIST_DIR}/fuzz_control.c)
slim_fuzz_target(fuzz_agent ${CMAKE_CURRENT_LIST_DIR}/fuzz_agent.c)
