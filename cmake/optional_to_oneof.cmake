# Writes a copy of a .proto file in which every proto3 `optional` field
# becomes a one-field oneof named `_<field>`, for protoc-c 1.4 which does not
# accept `optional`. The wire format of both spellings is identical.
#   cmake -DIN=<file.proto> -DOUT=<copy.proto> -P optional_to_oneof.cmake
file(READ "${IN}" text)
string(REGEX REPLACE
  "([ \t]+)optional[ \t]+([A-Za-z0-9_.]+)[ \t]+([A-Za-z0-9_]+)[ \t]*=[ \t]*([0-9]+)[ \t]*;"
  "\\1oneof _\\3 { \\2 \\3 = \\4; }" text "${text}")
if(text MATCHES "[ \t]optional[ \t]")
  message(FATAL_ERROR "${IN}: an optional field was not rewritten")
endif()
file(WRITE "${OUT}" "${text}")
