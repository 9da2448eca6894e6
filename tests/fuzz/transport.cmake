# src/transport: the gRPC codec (framing, grpc-timeout, percent-encoding,
# base64, metadata from the wire, endpoints).
slim_fuzz_target(fuzz_grpc_codec ${CMAKE_CURRENT_LIST_DIR}/fuzz_grpc_codec.c)
# The send queue against a model (packing, hand-back).
slim_fuzz_target(fuzz_txq ${CMAKE_CURRENT_LIST_DIR}/fuzz_txq.c)
