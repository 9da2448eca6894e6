"""State survives: a controller restart, a kill -9 in the middle of updates
(every change that was acknowledged is still there and the database is
intact), and a node restart (the node gets its connections and
subscriptions back without anyone acting).
"""
import signal
import sqlite3
import threading
import time
import unittest

import grpc

from cplane import Controller, Link, cp, api, wait_delivery


def connect(stub, node, ep):
    return stub.CreateConnection(cp.CreateConnectionRequest(
        connection=api.Connection(connection_id=ep, config_data='{"endpoint": "%s"}' % ep),
        node_id=node), timeout=10)


def subscribe(stub, node, ep, c2):
    return stub.CreateSubscription(cp.CreateSubscriptionRequest(
        subscription=api.Subscription(component_0="org", component_1="ns", component_2=c2,
                                      connection_id=ep), node_id=node), timeout=10)


def live_subs(stub, node):
    return sorted(s.component_2 for s in
                  stub.ListSubscriptions(cp.Node(id=node), timeout=10).entries)


class Restarts(unittest.TestCase):
    def setUp(self):
        self.ctl = Controller(auto_routes=False)
        self.addCleanup(self.ctl.cleanup)
        self.n0 = self.ctl.node("0")
        self.n1 = self.ctl.node("1")
        self.addCleanup(lambda: (self.n0.close(), self.n1.close()))
        self.ctl.wait_connected("slim/0", "slim/1")
        self.ep = f"http://127.0.0.1:{self.n1.port}"

    def test_controller_restart_keeps_state(self):
        stub = self.ctl.stub
        connect(stub, "slim/0", self.ep)
        sid = subscribe(stub, "slim/0", self.ep, "kept").subscription_id
        rid = stub.AddRoute(cp.AddRouteRequest(
            subscription=api.Subscription(component_0="org", component_1="ns",
                                          component_2="routed"),
            node_id="slim/0", dest_node_id="slim/1"), timeout=10).route_id
        self.ctl.wait_route_status("slim/0")
        self.ctl.restart()
        nodes = self.ctl.wait_connected("slim/0", "slim/1")
        self.assertEqual(sorted(nodes), ["slim/0", "slim/1"])
        stub = self.ctl.stub
        routes = self.ctl.wait_route_status("slim/0")
        self.assertEqual(routes[0].route_id, rid)
        # The subscription is still known by its id.
        self.assertTrue(stub.DeleteSubscription(cp.DeleteSubscriptionRequest(
            subscription_id=sid, node_id="slim/0"), timeout=10).success)
        self.assertEqual(live_subs(stub, "slim/0").count("kept"), 0)

    def test_node_restart_resyncs(self):
        stub = self.ctl.stub
        connect(stub, "slim/0", self.ep)
        subscribe(stub, "slim/0", self.ep, "group_channel")
        self.assertIn("group_channel", live_subs(stub, "slim/0"))
        port0 = self.n0.port
        self.n0.close()
        self.n0 = self.ctl.node("0")
        self.assertNotEqual(self.n0.port, port0)
        self.ctl.wait_connected("slim/0")
        end = time.time() + 20
        while "group_channel" not in live_subs(stub, "slim/0"):
            self.assertLess(time.time(), end, "slim/0 did not get its subscription back")
            time.sleep(0.1)
        conns = stub.ListConnections(cp.Node(id="slim/0"), timeout=10).entries
        self.assertIn(self.ep, [c.connection_id for c in conns])
        # and traffic flows through it again
        rx, tx = Link(self.n1.port), Link(self.n0.port)
        try:
            rx.subscribe("org/ns/group_channel", sub_id=9)
            wait_delivery(tx, rx, "org/ns/sender", "org/ns/group_channel")
        finally:
            rx.channel.close()
            tx.channel.close()

    def test_kill9_during_updates(self):
        stub = self.ctl.stub
        connect(stub, "slim/0", self.ep)
        acked = []
        stop = threading.Event()

        def writer():
            i = 0
            while not stop.is_set():
                try:
                    r = stub.AddRoute(cp.AddRouteRequest(
                        subscription=api.Subscription(component_0="org", component_1="ns",
                                                      component_2=f"r{i}"),
                        node_id="slim/0", dest_node_id="slim/1"), timeout=5)
                    acked.append((f"r{i}", r.route_id))
                except grpc.RpcError:
                    return
                i += 1

        t = threading.Thread(target=writer)
        t.start()
        end = time.time() + 20
        while len(acked) < 20 and time.time() < end:
            time.sleep(0.01)
        self.ctl.stop(signal.SIGKILL)
        stop.set()
        t.join(20)
        self.assertGreaterEqual(len(acked), 20)
        db = sqlite3.connect(self.ctl.db)
        self.assertEqual(db.execute("PRAGMA integrity_check").fetchone()[0], "ok")
        db.close()
        self.ctl.start(self.ctl.nb_port, self.ctl.sb_port)
        self.ctl.wait_connected("slim/0", "slim/1")
        stored = {r.name: r.route_id for r in
                  self.ctl.stub.ListRoutes(cp.Node(id="slim/0"), timeout=10).entries}
        for name, rid in acked:
            self.assertEqual(stored.get(f"org/ns/{name}"), rid)
        # The node got them all back.
        end = time.time() + 20
        while not set(n for n, _ in acked) <= set(live_subs(self.ctl.stub, "slim/0")):
            self.assertLess(time.time(), end)
            time.sleep(0.1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
