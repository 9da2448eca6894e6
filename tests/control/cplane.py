"""Helpers for the control-plane tests: a `slim-control-plane` process, `slim`
nodes registered with it (tests/integration/slimnode.py's Node with a
controller client), and grpcio stubs of the northbound API generated from
our protos.

Environment (set by ctest): SLIM_CP_BIN, SLIM_BIN, SLIMCTL_BIN, SLIM_PYDIR.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.environ["SLIM_PYDIR"])

import grpc  # noqa: E402
from controlplane.v1 import controlplane_pb2 as cp  # noqa: E402,F401
from controlplane.v1 import controlplane_pb2_grpc as cp_grpc  # noqa: E402
from grpc_api import grpc_api_pb2 as api  # noqa: E402,F401
from slimnode import Link, Node, publish  # noqa: E402,F401


class _Bearer(grpc.UnaryUnaryClientInterceptor):
    """Adds `authorization: Bearer <token>` to every unary call."""

    def __init__(self, token):
        self.token = token

    def intercept_unary_unary(self, continuation, details, request):
        md = list(details.metadata or []) + [("authorization", f"Bearer {self.token}")]
        details = details._replace(metadata=md) if hasattr(details, "_replace") else \
            _Details(details.method, details.timeout, md, details.credentials,
                     getattr(details, "wait_for_ready", None),
                     getattr(details, "compression", None))
        return continuation(details, request)


class _Details(grpc.ClientCallDetails):
    def __init__(self, method, timeout, metadata, credentials, wait_for_ready, compression):
        self.method, self.timeout, self.metadata = method, timeout, metadata
        self.credentials, self.wait_for_ready, self.compression = (credentials, wait_for_ready,
                                                                    compression)


class Controller:
    """A slim-control-plane process; ports 0 unless given (a restart passes
    the previous ones so nodes find it again).

    northbound / southbound: more keys of those blocks, in YAML flow style
    ("tls: {certFile: ...}, auth: {...}"). nb_credentials: the
    grpc.ChannelCredentials of the stub when the northbound has TLS;
    nb_token: the bearer token the stub sends. metrics: also listen on
    metrics.endpoint 127.0.0.1:0 (metrics_port, metric())."""

    def __init__(self, db=None, auto_routes=True, nb_port=0, sb_port=0, extra="", workdir=None,
                 northbound="", southbound="", nb_credentials=None, nb_token=None,
                 metrics=False):
        self.dir = workdir or tempfile.mkdtemp(prefix="slim-cp-")
        self.db = db or os.path.join(self.dir, "state.db")
        self.auto_routes = auto_routes
        self.extra = extra
        self.nb_extra = northbound
        self.sb_extra = southbound
        self.nb_credentials = nb_credentials
        self.nb_token = nb_token
        self.with_metrics = metrics
        self.start(nb_port, sb_port)

    def start(self, nb_port=0, sb_port=0):
        self.config = os.path.join(self.dir, "config.yaml")
        nb_more = f", {self.nb_extra}" if self.nb_extra else ""
        sb_more = f", {self.sb_extra}" if self.sb_extra else ""
        with open(self.config, "w") as f:
            f.write(f"northbound: {{httpHost: 127.0.0.1, httpPort: {nb_port}{nb_more}}}\n"
                    f"southbound: {{httpHost: 127.0.0.1, httpPort: {sb_port}{sb_more}}}\n"
                    + ("metrics: {endpoint: \"127.0.0.1:0\"}\n" if self.with_metrics else "")
                    + f"database: {{path: \"{self.db}\"}}\n"
                    f"routes: {{automatic: {'true' if self.auto_routes else 'false'}}}\n"
                    + ("" if "timeouts:" in self.extra else "timeouts: {node: 5s}\n")
                    + self.extra)
        self.log = open(os.path.join(self.dir, "controller.log"), "ab")
        self.proc = subprocess.Popen([os.environ["SLIM_CP_BIN"], "-config", self.config],
                                     stdout=subprocess.PIPE, stderr=self.log,
                                     env=dict(os.environ, SLIM_LOG="debug"))
        self.nb_port = self.sb_port = self.metrics_port = None

        def waiting():
            return (self.nb_port is None or self.sb_port is None
                    or (self.with_metrics and self.metrics_port is None))

        deadline = time.time() + 20
        while time.time() < deadline and waiting():
            line = self.proc.stdout.readline().decode()
            if not line:
                break
            m = re.match(r"listening (northbound|southbound|metrics) 127\.0\.0\.1:(\d+)", line)
            if m:
                setattr(self, {"northbound": "nb_port", "southbound": "sb_port",
                               "metrics": "metrics_port"}[m.group(1)], int(m.group(2)))
        if waiting():
            self.stop()
            raise RuntimeError("controller did not start:\n" + self.stderr())
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()
        self.channel = self.nb_channel(self.nb_credentials, self.nb_token)
        self.stub = cp_grpc.ControlPlaneServiceStub(self.channel)

    def nb_channel(self, credentials=None, token=None):
        """A channel to the northbound API: TLS with `credentials` when
        given, and bearing `token` when given. The caller closes it."""
        target = f"127.0.0.1:{self.nb_port}"
        ch = (grpc.secure_channel(target, credentials) if credentials is not None
              else grpc.insecure_channel(target))
        return grpc.intercept_channel(ch, _Bearer(token)) if token is not None else ch

    def metrics_text(self):
        """The /metrics page."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.read().decode()

    def metric(self, series):
        """The value of one series, e.g. 'slim_x_total{reason="a"}'."""
        for line in self.metrics_text().splitlines():
            name, _, value = line.rpartition(" ")
            if name == series:
                return float(value)
        raise AssertionError(f"no series {series} on /metrics")

    @property
    def address(self):
        return f"127.0.0.1:{self.nb_port}"

    def stderr(self):
        with open(os.path.join(self.dir, "controller.log"), "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Stops the process; returns its exit status."""
        if getattr(self, "channel", None) is not None:
            self.channel.close()
            self.channel = None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            self.log.close()

    def restart(self):
        nb, sb = self.nb_port, self.sb_port
        self.stop()
        self.start(nb, sb)

    def cleanup(self):
        if self.proc.poll() is None:
            self.stop(signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)

    def node(self, name, extra=""):
        """A slim node slim/<name> that registers with this controller."""
        return Node(node_name=name, extra_dataplane=(
            "    controller:\n"
            "      clients:\n"
            f"        - endpoint: \"http://127.0.0.1:{self.sb_port}\"\n"
            "          tls: {insecure: true}\n"
            "          backoff: {type: fixed_interval, interval: 200ms}\n" + extra))

    def nodes(self):
        return {e.id: e for e in self.stub.ListNodes(cp.NodeListRequest(), timeout=10).entries}

    def wait_connected(self, *ids, timeout=20):
        end = time.time() + timeout
        while True:
            nodes = self.nodes()
            if all(i in nodes and nodes[i].status == cp.CONNECTED for i in ids):
                return nodes
            if time.time() > end:
                raise AssertionError(f"nodes {ids} not connected within {timeout}s: {nodes}\n"
                                     + self.stderr()[-3000:])
            time.sleep(0.1)

    def wait_route_status(self, node_id, status="applied", count=1, timeout=20):
        """Waits until node_id holds `count` routes, all with `status`."""
        end = time.time() + timeout
        while True:
            routes = list(self.stub.ListRoutes(cp.Node(id=node_id), timeout=10).entries)
            if len(routes) == count and all(r.status == status for r in routes):
                return routes
            if time.time() > end:
                raise AssertionError(f"routes of {node_id}: {routes}")
            time.sleep(0.1)


def wait_delivery(sender, receiver, src, dst, deadline=15.0):
    """Publishes probes until one reaches receiver (routes take a moment)."""
    end = time.time() + deadline
    k = 0
    while time.time() < end:
        k += 1
        sender.send(publish(src, dst, b"probe", session_id=999, message_id=k))
        try:
            m = receiver.recv(0.2)
            if m.HasField("publish") and m.publish.msg.app_payload.blob == b"probe":
                break
        except AssertionError:
            pass
    else:
        raise AssertionError(f"no route from {src} to {dst} within {deadline}s")
    for link in (sender, receiver):
        try:
            while True:
                link.recv(0.2)
        except AssertionError:
            pass


def slimctl(*args, server=None, env=None, timeout=30):
    """Runs slimctl; returns (exit status, stdout, stderr)."""
    cmd = [os.environ["SLIMCTL_BIN"]]
    if server is not None:
        cmd += ["--server", server]
    p = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=timeout,
                       env=dict(os.environ, **(env or {})))
    return p.returncode, p.stdout, p.stderr
