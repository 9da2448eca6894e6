# MLS (RFC 9420) and HPKE (RFC 9180) on OpenSSL 3.0 primitives.
find_package(OpenSSL 3 REQUIRED)
list(APPEND SLIM_SOURCES
  src/mls/client.c
  src/mls/crypto.c
  src/mls/extensions.c
  src/mls/framing.c
  src/mls/group.c
  src/mls/group_commit.c
  src/mls/group_join.c
  src/mls/group_state.c
  src/mls/group_context.c
  src/mls/hpke.c
  src/mls/key_package.c
  src/mls/key_schedule.c
  src/mls/leaf_node.c
  src/mls/member.c
  src/mls/nodes.c
  src/mls/pkey.c
  src/mls/primitives.c
  src/mls/proposal.c
  src/mls/protect.c
  src/mls/psk.c
  src/mls/rng.c
  src/mls/secret_tree.c
  src/mls/tls.c
  src/mls/transcript.c
  src/mls/tree.c
  src/mls/tree_math.c
  src/mls/treekem.c
  src/mls/validate.c
  src/mls/welcome.c)
list(APPEND SLIM_LIBS OpenSSL::Crypto)
