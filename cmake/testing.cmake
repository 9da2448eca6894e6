# slim_unit_test(<name> <source>...)
# A C test binary built with the tests/test.h harness, registered as one
# ctest entry `unit.<name>` with a timeout.
function(slim_unit_test name)
  add_executable(${name} ${ARGN} ${CMAKE_SOURCE_DIR}/tests/test.c)
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/tests)
  target_link_libraries(${name} PRIVATE slim_internal)
  add_test(NAME unit.${name} COMMAND ${name})
  set_tests_properties(unit.${name} PROPERTIES TIMEOUT 120)
endfunction()

# slim_fuzz_target(<name> <source>...)
function(slim_fuzz_target name)
  add_executable(${name} ${ARGN})
  target_link_libraries(${name} PRIVATE slim_internal)
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
endfunction()
