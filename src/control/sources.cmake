# The control plane: the controller's store (SQLite), its northbound and
# southbound services, and the node's control agent. Every .c file of the
# folder belongs to it.
pkg_check_modules(SQLITE3 REQUIRED IMPORTED_TARGET sqlite3)
# (jansson comes with src/session.)
file(GLOB SLIM_CONTROL_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/control/*.c)
list(SORT SLIM_CONTROL_SOURCES)
list(APPEND SLIM_SOURCES ${SLIM_CONTROL_SOURCES})
list(APPEND SLIM_LIBS PkgConfig::SQLITE3)
