"""The walkthrough `make run` shows while the session layer is being built:
a `slim` node on a free port, one client subscribing to a name, another
publishing to it, with what each side sends and receives.

Both clients speak the data-plane protocol with grpcio (stubs generated from
our proto). Usage: node_pubsub_demo.py SLIM_BIN PYTHON_STUB_DIR
"""
import os
import sys

os.environ["SLIM_BIN"] = sys.argv[1]
os.environ["SLIM_PYDIR"] = sys.argv[2]
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))

from slimnode import Link, Node, publish  # noqa: E402


def main():
    node = Node()
    print(f"node slim/0 listening on 127.0.0.1:{node.port}")
    try:
        bob = Link(node.port, node_id="demo-bob")
        alice = Link(node.port, node_id="demo-alice")
        print(f"bob   -> linked to {bob.reply.node_id} (node version {bob.reply.slim_version})")
        print(f"alice -> linked to {alice.reply.node_id}")
        ack = bob.subscribe("agntcy/ns/bob", sub_id=1)
        print(f"bob   -> subscribe agntcy/ns/bob: success={ack.success}")
        for text in ("hello bob", "how are you?"):
            alice.send(publish("agntcy/ns/alice", "agntcy/ns/bob", text.encode()))
            print(f"alice -> publish to agntcy/ns/bob: {text!r}")
            got = bob.recv()
            print(f"bob   <- received {got.publish.msg.app_payload.blob.decode()!r} "
                  f"(ttl {got.publish.header.ttl})")
        alice.send(publish("agntcy/ns/alice", "agntcy/ns/carol", b"anyone?"))
        print("alice -> publish to agntcy/ns/carol: 'anyone?'")
        err = alice.recv()
        print(f"alice <- error from the node: {err.publish.msg.app_payload.blob.decode()!r}")
        pubs = node.metric("slim_messages_received_total", kind="publish")
        matched = node.metric("slim_publish_matched_total")
        no_route = node.metric("slim_messages_dropped_total", reason="no_route")
        print(f"node counters: {pubs} publishes, {matched} matched, {no_route} without a route")
        bob.close()
        alice.close()
    finally:
        node.close()
        print("node stopped")


if __name__ == "__main__":
    main()
