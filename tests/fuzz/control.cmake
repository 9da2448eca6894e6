# src/control: the controller's southbound message handling.
slim_fuzz_target(fuzz_control ${CMAKE_CURRENT_LIST_DIR}/fuzz_control.c)
