"""Node benchmark: our `slim` node beside nats-server and a raw-TCP relay,
in the same run, median of 5 alternating runs.

Usage: run.py BUILD_DIR [--runs 5] [--quick]

Scenarios (payload, publisher -> node -> subscriber(s) on loopback):
  1 KiB 1->1 msg/s, 100 B 1->1 msg/s, 100 B 1->100 deliveries/s, and
  request/reply p50/p99 with 1 in flight (slim node vs raw-TCP relay on the
  same path; nats-server shown too). The load generators are in
  bench_node.c; subscribers count messages without parsing them.

Our node runs twice: with per-hop header MACs (the default: every client
link agrees on a key and every message is checked and tagged) and with
require_header_mac: false and clients that offer no key ("no MAC").
"""
import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_node(build, mac=True):
    d = tempfile.mkdtemp(prefix="bench-node-")
    cfg = os.path.join(d, "node.yaml")
    with open(cfg, "w") as f:
        f.write("services:\n  slim/bench:\n    dataplane:\n      servers:\n"
                "        - endpoint: 127.0.0.1:0\n          tls: {insecure: true}\n"
                f"          require_header_mac: {'true' if mac else 'false'}\n")
    p = subprocess.Popen([os.path.join(build, "apps", "slim"), "-c", cfg],
                         stdout=subprocess.PIPE, stderr=open(os.path.join(d, "log"), "w"))
    line = p.stdout.readline().decode()
    m = re.search(r"listening dataplane 127\.0\.0\.1:(\d+)", line)
    if not m:
        p.kill()
        sys.exit("node did not start")
    return p, int(m.group(1))


def start_nats():
    port = free_port()
    p = subprocess.Popen(["nats-server", "-a", "127.0.0.1", "-p", str(port)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return p, port
        except OSError:
            time.sleep(0.05)
    p.kill()
    sys.exit("nats-server did not start")


def run(bench, args, mac=True):
    env = dict(os.environ, SLIM_BENCH_MAC="on" if mac else "off")
    out = subprocess.run([bench] + [str(a) for a in args], capture_output=True, text=True,
                         timeout=300, env=env)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT")]
    if out.returncode != 0 or not line:
        sys.exit(f"{args}: failed: {out.stderr.strip()}")
    return dict(kv.split("=") for kv in line[0].split()[1:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="fewer messages, for a smoke run")
    a = ap.parse_args()
    bench = os.path.join(a.build, "bench", "bench_node")
    scale = 0.1 if a.quick else 1.0
    node, nport = start_node(a.build)
    plain, pport = start_node(a.build, mac=False)
    nats, tport = start_nats()
    scenarios = [
        ("1 KiB 1->1 (msg/s)", "pubsub", 1, int(300000 * scale), 1024),
        ("100 B 1->1 (msg/s)", "pubsub", 1, int(600000 * scale), 100),
        ("100 B 1->100 (deliveries/s)", "pubsub", 100, int(20000 * scale), 100),
        ("request/reply 100 B", "rr", 1, int(20000 * scale), 100),
    ]
    results = {}
    try:
        for title, mode, subs, n, size in scenarios:
            rows = {"slim": [], "nomac": [], "nats": [], "relay": []}
            for _ in range(a.runs):  # alternate the systems within each round
                if mode == "pubsub":
                    rows["slim"].append(run(bench, ["slim-pubsub", nport, subs, n, size]))
                    rows["nomac"].append(run(bench, ["slim-pubsub", pport, subs, n, size],
                                             mac=False))
                    rows["nats"].append(run(bench, ["nats-pubsub", tport, subs, n, size]))
                else:
                    rows["slim"].append(run(bench, ["slim-rr", nport, n, size]))
                    rows["nomac"].append(run(bench, ["slim-rr", pport, n, size], mac=False))
                    rows["relay"].append(run(bench, ["relay-rr", n, size]))
                    rows["nats"].append(run(bench, ["nats-rr", tport, n, size]))
            results[title] = (mode, rows)
    finally:
        for p in (node, plain, nats):
            p.terminate()
        for p in (node, plain, nats):
            p.wait()

    print(f"Node benchmark, median of {a.runs} alternating runs")
    for title, (mode, rows) in results.items():
        if mode == "pubsub":
            med = {k: statistics.median(float(r["delivery_rate"]) for r in v)
                   for k, v in rows.items() if v}
            lost = {k: sum(int(r["lost"]) for r in v) for k, v in rows.items() if v}
            print(f"  {title}: slim {med['slim']:,.0f}  slim no MAC {med['nomac']:,.0f}  "
                  f"nats {med['nats']:,.0f}  ratio slim/nats {med['slim'] / med['nats']:.2f} "
                  f"(no MAC {med['nomac'] / med['nats']:.2f})  (dropped over all runs: slim "
                  f"{lost['slim']}, no MAC {lost['nomac']}, nats {lost['nats']})")
        else:
            p50 = {k: statistics.median(float(r["p50_us"]) for r in v) for k, v in rows.items()}
            p99 = {k: statistics.median(float(r["p99_us"]) for r in v) for k, v in rows.items()}
            print(f"  {title}: p50/p99 us: slim {p50['slim']:.1f}/{p99['slim']:.1f}  "
                  f"slim no MAC {p50['nomac']:.1f}/{p99['nomac']:.1f}  "
                  f"relay {p50['relay']:.1f}/{p99['relay']:.1f}  "
                  f"nats {p50['nats']:.1f}/{p99['nats']:.1f}  "
                  f"ratio slim/relay p50 {p50['slim'] / p50['relay']:.2f} "
                  f"(no MAC {p50['nomac'] / p50['relay']:.2f})")


if __name__ == "__main__":
    main()
