"""Routes through the controller, end to end: the user's document's
"Setting Routes Between SLIM Nodes" snippet run as written against a
controller with two registered nodes, automatic routes between nodes,
manual routes, and bad requests answered with a status and a message while
nothing changes.
"""
import time
import unittest

import grpc

from cplane import Controller, Link, cp, api, wait_delivery


# The user's document's snippet, with only these edits: wrapped in a
# function, and the host:port strings replaced by the test's.
def set_routes_snippet(controller_address, target_endpoint):
    import grpc
    from controlplane.v1 import controlplane_pb2_grpc as controlplane_api
    from controlplane.v1 import controlplane_pb2
    from grpc_api import grpc_api_pb2 as grpcapi

    # Create gRPC connection
    channel = grpc.insecure_channel(controller_address)
    client = controlplane_api.ControlPlaneServiceStub(channel)

    try:
        # Create connection to the target node
        connection = grpcapi.Connection(
            connection_id=target_endpoint,
            config_data='{"endpoint": "' + target_endpoint + '"}'
        )

        create_connection_request = controlplane_pb2.CreateConnectionRequest(
            connection=connection,
            node_id="slim/0"
        )

        create_connection_response = client.CreateConnection(create_connection_request)

        if not create_connection_response.success:
            raise Exception("Failed to create connection")

        connection_id = create_connection_response.connection_id
        print(f"Connection created successfully with ID: {connection_id}")

        # Add subscription for a group to a SLIM node
        subscription = grpcapi.Subscription(
            component_0="agntcy",
            component_1="namespace",
            component_2="group_channel",
            connection_id=connection_id
        )

        create_subscription_request = controlplane_pb2.CreateSubscriptionRequest(
            node_id="slim/0",
            subscription=subscription
        )

        create_subscription_response = client.CreateSubscription(create_subscription_request)

        if not create_subscription_response.success:
            raise Exception("Failed to create subscription")

        print(f"Subscription created successfully with ID: {create_subscription_response.subscription_id}")

    except grpc.RpcError as e:
        print(f"gRPC error: {e}")
    except Exception as e:
        print(f"Error: {e}")
    finally:
        channel.close()


class TwoNodes(unittest.TestCase):
    auto_routes = True

    def setUp(self):
        self.ctl = Controller(auto_routes=self.auto_routes)
        self.addCleanup(self.ctl.cleanup)
        self.n0 = self.ctl.node("0")
        self.addCleanup(self.n0.close)
        self.n1 = self.ctl.node("1")
        self.addCleanup(self.n1.close)
        self.ctl.wait_connected("slim/0", "slim/1")
        self.links = []

    def tearDown(self):
        for link in self.links:
            link.channel.close()

    def link(self, node):
        link = Link(node.port)
        self.links.append(link)
        return link

    def ep1(self):
        return f"http://127.0.0.1:{self.n1.port}"


class DocumentSnippet(TwoNodes):
    auto_routes = False

    def test_create_connection_then_subscription(self):
        ep = self.ep1()
        set_routes_snippet(self.ctl.address, ep)
        stub = self.ctl.stub
        # The connection exists on slim/0, towards slim/1's data plane.
        conns = stub.ListConnections(cp.Node(id="slim/0"), timeout=10).entries
        ours = [c for c in conns if c.connection_id == ep]
        self.assertEqual(len(ours), 1, conns)
        self.assertIn(ep, ours[0].config_data)
        # The subscription sits on that connection.
        subs = stub.ListSubscriptions(cp.Node(id="slim/0"), timeout=10).entries
        mine = [s for s in subs
                if (s.component_0, s.component_1, s.component_2) ==
                ("agntcy", "namespace", "group_channel")]
        self.assertEqual(len(mine), 1, subs)
        self.assertFalse(mine[0].HasField("id"))
        self.assertIn(ours[0].id, [c.id for c in mine[0].remote_connections])
        # Traffic from an app on slim/0 reaches an app on slim/1 through it.
        receiver, sender = self.link(self.n1), self.link(self.n0)
        receiver.subscribe("agntcy/namespace/group_channel", sub_id=7)
        key = 'slim_messages_received_total{kind="publish"}'
        wait_delivery(sender, receiver, "agntcy/ns/sender", "agntcy/namespace/group_channel")
        before = self.n1.counters().get(key, 0)
        sender.send(cp_publish("payload-1"))
        got = receiver.recv()
        self.assertEqual(got.publish.msg.app_payload.blob, b"payload-1")
        # slim/1 received it from slim/0 (the receiver itself published nothing).
        self.assertGreater(self.n1.counters().get(key, 0), before)
        # No automatic routes were made (switched off).
        self.assertEqual(list(stub.ListRoutes(cp.Node(), timeout=10).entries), [])

    def test_bad_requests_change_nothing(self):
        stub = self.ctl.stub
        ep = self.ep1()
        good = api.Connection(connection_id=ep, config_data='{"endpoint": "%s"}' % ep)
        self.assertTrue(stub.CreateConnection(
            cp.CreateConnectionRequest(connection=good, node_id="slim/0"), timeout=10).success)

        def state():
            return (sorted(c.connection_id for c in
                           stub.ListConnections(cp.Node(id="slim/0"), timeout=10).entries),
                    sorted((s.component_0, s.component_1, s.component_2) for s in
                           stub.ListSubscriptions(cp.Node(id="slim/0"), timeout=10).entries),
                    sorted(n for n in self.ctl.nodes()),
                    list(stub.ListRoutes(cp.Node(), timeout=10).entries))

        before = state()
        cases = [
            ("unknown node", grpc.StatusCode.NOT_FOUND, "slim/9",
             lambda: stub.CreateConnection(cp.CreateConnectionRequest(
                 connection=good, node_id="slim/9"), timeout=10)),
            ("no node id", grpc.StatusCode.INVALID_ARGUMENT, "node_id",
             lambda: stub.CreateConnection(cp.CreateConnectionRequest(connection=good),
                                           timeout=10)),
            ("config without endpoint", grpc.StatusCode.INVALID_ARGUMENT, "endpoint",
             lambda: stub.CreateConnection(cp.CreateConnectionRequest(
                 connection=api.Connection(connection_id="x", config_data='{"tls": {}}'),
                 node_id="slim/0"), timeout=10)),
            ("config not JSON", grpc.StatusCode.INVALID_ARGUMENT, "config_data",
             lambda: stub.CreateConnection(cp.CreateConnectionRequest(
                 connection=api.Connection(connection_id="x", config_data="{nope"),
                 node_id="slim/0"), timeout=10)),
            ("empty component", grpc.StatusCode.INVALID_ARGUMENT, "malformed name",
             lambda: stub.CreateSubscription(cp.CreateSubscriptionRequest(
                 subscription=api.Subscription(component_0="agntcy", component_1="",
                                               component_2="x", connection_id=ep),
                 node_id="slim/0"), timeout=10)),
            ("slash in component", grpc.StatusCode.INVALID_ARGUMENT, "malformed name",
             lambda: stub.CreateSubscription(cp.CreateSubscriptionRequest(
                 subscription=api.Subscription(component_0="a/b", component_1="c",
                                               component_2="x", connection_id=ep),
                 node_id="slim/0"), timeout=10)),
            ("bad id", grpc.StatusCode.INVALID_ARGUMENT, "malformed id",
             lambda: stub.CreateSubscription(cp.CreateSubscriptionRequest(
                 subscription=api.Subscription(component_0="a", component_1="b",
                                               component_2="c", id="12-zz",
                                               connection_id=ep),
                 node_id="slim/0"), timeout=10)),
            ("unknown connection", grpc.StatusCode.NOT_FOUND, "connection http://nowhere",
             lambda: stub.CreateSubscription(cp.CreateSubscriptionRequest(
                 subscription=api.Subscription(component_0="a", component_1="b",
                                               component_2="c",
                                               connection_id="http://nowhere:1"),
                 node_id="slim/0"), timeout=10)),
            ("unknown subscription", grpc.StatusCode.NOT_FOUND, "subscription",
             lambda: stub.DeleteSubscription(cp.DeleteSubscriptionRequest(
                 subscription_id="5b1c9a54-0000-4000-8000-000000000000", node_id="slim/0"),
                 timeout=10)),
            ("unknown node in list", grpc.StatusCode.NOT_FOUND, "slim/7",
             lambda: stub.ListSubscriptions(cp.Node(id="slim/7"), timeout=10)),
            ("unknown node deregistered", grpc.StatusCode.NOT_FOUND, "slim/7",
             lambda: stub.DeregisterNode(cp.Node(id="slim/7"), timeout=10)),
            ("route to itself", grpc.StatusCode.INVALID_ARGUMENT, "itself",
             lambda: stub.AddRoute(cp.AddRouteRequest(
                 subscription=api.Subscription(component_0="a", component_1="b",
                                               component_2="c"),
                 node_id="slim/0", dest_node_id="slim/0"), timeout=10)),
            ("route to unknown node", grpc.StatusCode.NOT_FOUND, "slim/8",
             lambda: stub.AddRoute(cp.AddRouteRequest(
                 subscription=api.Subscription(component_0="a", component_1="b",
                                               component_2="c"),
                 node_id="slim/0", dest_node_id="slim/8"), timeout=10)),
            ("unknown route", grpc.StatusCode.NOT_FOUND, "no route",
             lambda: stub.DeleteRoute(cp.DeleteRouteRequest(
                 subscription=api.Subscription(component_0="a", component_1="b",
                                               component_2="c"),
                 node_id="slim/0", dest_node_id="slim/1"), timeout=10)),
        ]
        for what, code, text, call in cases:
            with self.subTest(what):
                with self.assertRaises(grpc.RpcError) as cm:
                    call()
                self.assertEqual(cm.exception.code(), code, cm.exception.details())
                self.assertIn(text, cm.exception.details())
        self.assertEqual(state(), before)

    def test_delete_subscription(self):
        stub = self.ctl.stub
        ep = self.ep1()
        stub.CreateConnection(cp.CreateConnectionRequest(
            connection=api.Connection(connection_id=ep, config_data='{"endpoint": "%s"}' % ep),
            node_id="slim/0"), timeout=10)
        sub = api.Subscription(component_0="org", component_1="ns", component_2="svc",
                               id="42", connection_id=ep)
        sid = stub.CreateSubscription(cp.CreateSubscriptionRequest(
            subscription=sub, node_id="slim/0"), timeout=10).subscription_id
        self.assertRegex(sid, r"^[0-9a-f-]{36}$")

        def ours():
            return [s for s in stub.ListSubscriptions(cp.Node(id="slim/0"), timeout=10).entries
                    if s.component_2 == "svc"]
        got = ours()
        self.assertEqual(len(got), 1)
        # The decimal id 42 comes back as a UUID.
        self.assertEqual(got[0].id, "00000000-0000-0000-0000-00000000002a")
        with self.assertRaises(grpc.RpcError) as cm:
            stub.DeleteSubscription(cp.DeleteSubscriptionRequest(
                subscription_id=sid, node_id="slim/1"), timeout=10)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)
        self.assertTrue(stub.DeleteSubscription(cp.DeleteSubscriptionRequest(
            subscription_id=sid, node_id="slim/0"), timeout=10).success)
        self.assertEqual(ours(), [])


def cp_publish(text):
    from cplane import publish
    return publish("agntcy/ns/sender", "agntcy/namespace/group_channel", text.encode(),
                   session_id=5, message_id=77)


class AutomaticRoutes(TwoNodes):
    def test_app_on_one_node_reachable_from_the_other(self):
        receiver = self.link(self.n1)
        receiver.subscribe("org/ns/bob/5", sub_id=3)
        routes = self.ctl.wait_route_status("slim/0")
        self.assertEqual(routes[0].dest_node_id, "slim/1")
        self.assertTrue(routes[0].automatic)
        self.assertEqual(routes[0].name, "org/ns/bob/00000000-0000-0000-0000-000000000005")
        self.assertEqual(routes[0].connection_id, self.ep1())
        sender = self.link(self.n0)
        wait_delivery(sender, receiver, "org/ns/alice/1", "org/ns/bob/5")
        # And the other way round.
        sender.subscribe("org/ns/alice/1", sub_id=4)
        self.ctl.wait_route_status("slim/1")
        wait_delivery(receiver, sender, "org/ns/bob/5", "org/ns/alice/1")
        # The app leaves: its route goes.
        receiver.channel.close()
        self.links.remove(receiver)
        self.ctl.wait_route_status("slim/0", count=0)

    def test_manual_route_via_node(self):
        stub = self.ctl.stub
        rid = stub.AddRoute(cp.AddRouteRequest(
            subscription=api.Subscription(component_0="org", component_1="ns",
                                          component_2="carol"),
            node_id="slim/0", dest_node_id="slim/1"), timeout=10).route_id
        self.assertRegex(rid, r"^[0-9a-f-]{36}$")
        # Adding it again gives the same route.
        self.assertEqual(rid, stub.AddRoute(cp.AddRouteRequest(
            subscription=api.Subscription(component_0="org", component_1="ns",
                                          component_2="carol"),
            node_id="slim/0", dest_node_id="slim/1"), timeout=10).route_id)
        routes = self.ctl.wait_route_status("slim/0")
        self.assertFalse(routes[0].automatic)
        subs = stub.ListSubscriptions(cp.Node(id="slim/0"), timeout=10).entries
        self.assertIn("carol", [s.component_2 for s in subs])
        self.assertTrue(stub.DeleteRoute(cp.DeleteRouteRequest(
            subscription=api.Subscription(component_0="org", component_1="ns",
                                          component_2="carol"),
            node_id="slim/0", dest_node_id="slim/1"), timeout=10).success)
        self.ctl.wait_route_status("slim/0", count=0)
        subs = stub.ListSubscriptions(cp.Node(id="slim/0"), timeout=10).entries
        self.assertNotIn("carol", [s.component_2 for s in subs])

    def test_deregister_node(self):
        receiver = self.link(self.n1)
        receiver.subscribe("org/ns/bob/5", sub_id=3)
        self.ctl.wait_route_status("slim/0")
        self.assertTrue(self.ctl.stub.DeregisterNode(cp.Node(id="slim/1"), timeout=10).success)
        self.assertEqual(list(self.ctl.stub.ListRoutes(cp.Node(), timeout=10).entries), [])
        # The node registers again by itself; its app's route comes back.
        self.ctl.wait_connected("slim/1")
        self.ctl.wait_route_status("slim/0")


if __name__ == "__main__":
    unittest.main(verbosity=2)
