"""slimctl against a real controller with two registered nodes: node,
connection and subscription lists, route add/list/del (via a node and via a
config.json), errors from the server, and a controller nobody runs.
"""
import json
import os
import tempfile
import time
import unittest

from cplane import Controller, Link, slimctl


class Slimctl(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ctl = Controller(auto_routes=False)
        cls.n0 = cls.ctl.node("0")
        cls.n1 = cls.ctl.node("1")
        cls.ctl.wait_connected("slim/0", "slim/1")
        cls.app = Link(cls.n1.port)
        cls.app.subscribe("org/ns/bob/2a", sub_id=3)  # slimnode reads ids as hex: 42

    @classmethod
    def tearDownClass(cls):
        cls.app.channel.close()
        cls.n0.close()
        cls.n1.close()
        cls.ctl.cleanup()

    def run_ok(self, *args):
        rc, out, err = slimctl(*args, server=self.ctl.address)
        self.assertEqual(rc, 0, err)
        return out

    def rows(self, out):
        return [line.split() for line in out.strip().splitlines()[1:]]

    def test_node_list(self):
        out = self.run_ok("node", "list")
        rows = {r[0]: r for r in self.rows(out)}
        self.assertEqual(sorted(rows), ["slim/0", "slim/1"])
        self.assertEqual(rows["slim/1"][1], "CONNECTED")
        self.assertEqual(rows["slim/1"][2], f"127.0.0.1:{self.n1.port}")
        doc = json.loads(self.run_ok("node", "list", "-o", "json"))
        self.assertEqual(sorted(e["id"] for e in doc["entries"]), ["slim/0", "slim/1"])

    def test_subscription_list(self):
        out = self.run_ok("subscription", "list", "--node-id", "slim/1")
        names = [r[0] for r in self.rows(out)]
        self.assertIn("org/ns/bob/00000000-0000-0000-0000-00000000002a", names)

    def test_routes_via_node_and_via_file(self):
        out = self.run_ok("route", "add", "org/ns/bob/42", "via", "slim/1", "--node-id", "slim/0")
        rid = out.split()[-1]
        self.assertRegex(rid, r"^[0-9a-f-]{36}$")
        end = time.time() + 20
        while True:
            rows = self.rows(self.run_ok("route", "list", "-n", "slim/0"))
            if rows and rows[0][-1] == "applied":
                break
            self.assertLess(time.time(), end, rows)
            time.sleep(0.1)
        self.assertEqual(rows[0][:4], [rid, "slim/0",
                                       "org/ns/bob/00000000-0000-0000-0000-00000000002a",
                                       "slim/1"])
        # The node now has the connection, listed live.
        ep = f"http://127.0.0.1:{self.n1.port}"
        conns = json.loads(self.run_ok("connection", "list", "-n", "slim/0", "-o", "json"))
        self.assertIn(ep, [e["connection_id"] for e in conns["entries"]])
        # A route through a connection described in a file.
        d = tempfile.mkdtemp()
        path = os.path.join(d, "conn.json")
        with open(path, "w") as f:
            json.dump({"endpoint": ep}, f)
        self.run_ok("route", "add", "org/ns/carol", "via", path, "-n", "slim/0")
        routes = json.loads(self.run_ok("route", "list", "-o", "json"))["entries"]
        self.assertEqual(sorted(r["name"] for r in routes),
                         ["org/ns/bob/00000000-0000-0000-0000-00000000002a", "org/ns/carol"])
        self.run_ok("route", "del", "org/ns/carol", "via", ep, "-n", "slim/0")
        self.run_ok("route", "del", "org/ns/bob/42", "via", "slim/1", "-n", "slim/0")
        self.assertEqual(self.rows(self.run_ok("route", "list")), [])

    def test_server_errors(self):
        rc, out, err = slimctl("connection", "list", "-n", "slim/9", server=self.ctl.address)
        self.assertEqual(rc, 1)
        self.assertIn("NOT_FOUND: node slim/9 not found", err)
        rc, out, err = slimctl("route", "del", "org/ns/nobody", "via", "slim/1", "-n", "slim/0",
                               server=self.ctl.address)
        self.assertEqual(rc, 1)
        self.assertIn("NOT_FOUND", err)
        rc, out, err = slimctl("route", "add", "org//x", "via", "slim/1", "-n", "slim/0",
                               server=self.ctl.address)
        self.assertEqual(rc, 2)

    def test_nobody_listening(self):
        rc, out, err = slimctl("node", "list", "--timeout", "2s", server="127.0.0.1:1")
        self.assertEqual(rc, 1)
        self.assertIn("UNAVAILABLE", err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
