# slim_proto(<path without .proto> [<imported path> ...])
# Generates C (protoc-c, from a copy with `optional` rewritten as one-field
# oneofs) and Python (protoc + grpc_python_plugin, from the original) for
# proto/<path>.proto. Appends the C sources to SLIM_PROTO_C_SOURCES and sets
# SLIM_PROTO_C_DIR and SLIM_PROTO_PY_DIR. The imported paths (other
# slim_proto files this one imports) are generated first, so their copies
# are in place for protoc-c.
set(SLIM_PROTO_C_DIR ${CMAKE_BINARY_DIR}/gen/c)
set(SLIM_PROTO_PY_DIR ${CMAKE_BINARY_DIR}/gen/python)
set(SLIM_PROTO_COPY_DIR ${CMAKE_BINARY_DIR}/gen/proto-c)

function(slim_proto path)
  set(src ${CMAKE_SOURCE_DIR}/proto/${path}.proto)
  set(copy ${SLIM_PROTO_COPY_DIR}/${path}.proto)
  set(c_out ${SLIM_PROTO_C_DIR}/${path}.pb-c.c ${SLIM_PROTO_C_DIR}/${path}.pb-c.h)
  get_filename_component(base ${path} NAME)
  get_filename_component(dir ${path} DIRECTORY)
  set(py_out ${SLIM_PROTO_PY_DIR}/${dir}/${base}_pb2.py ${SLIM_PROTO_PY_DIR}/${dir}/${base}_pb2_grpc.py)
  set(imports "")
  set(imported_src "")
  foreach(imp ${ARGN})
    list(APPEND imports ${SLIM_PROTO_C_DIR}/${imp}.pb-c.h)
    list(APPEND imported_src ${CMAKE_SOURCE_DIR}/proto/${imp}.proto)
  endforeach()
  file(MAKE_DIRECTORY ${SLIM_PROTO_C_DIR} ${SLIM_PROTO_PY_DIR})
  add_custom_command(
    OUTPUT ${c_out}
    COMMAND ${CMAKE_COMMAND} -DIN=${src} -DOUT=${copy}
            -P ${CMAKE_SOURCE_DIR}/cmake/optional_to_oneof.cmake
    COMMAND ${PROTOC_C} -I${SLIM_PROTO_COPY_DIR} --c_out=${SLIM_PROTO_C_DIR} ${copy}
    DEPENDS ${src} ${CMAKE_SOURCE_DIR}/cmake/optional_to_oneof.cmake ${imports}
    COMMENT "protoc-c ${path}.proto"
    VERBATIM)
  add_custom_command(
    OUTPUT ${py_out}
    COMMAND ${PROTOC} -I${CMAKE_SOURCE_DIR}/proto --python_out=${SLIM_PROTO_PY_DIR}
            --grpc_out=${SLIM_PROTO_PY_DIR}
            --plugin=protoc-gen-grpc=${GRPC_PYTHON_PLUGIN} ${src}
    DEPENDS ${src} ${imported_src}
    COMMENT "protoc (python) ${path}.proto"
    VERBATIM)
  string(REPLACE "/" "_" tgt ${path})
  add_custom_target(py_${tgt} ALL DEPENDS ${py_out})
  set(SLIM_PROTO_C_SOURCES ${SLIM_PROTO_C_SOURCES} ${SLIM_PROTO_C_DIR}/${path}.pb-c.c PARENT_SCOPE)
endfunction()
