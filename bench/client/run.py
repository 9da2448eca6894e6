"""Apps through one node beside nats-server, in the same run, median of 5
alternating runs.

Usage: run.py BUILD_DIR [--runs 5] [--quick]

Our `slim` node (header MACs on, the default) and Debian's nats-server run on
loopback; each round runs, one after the other:

  apps unreliable   bench_client oneway: a sender app -> node -> a receiver
                    app, 1 KiB, UNICAST session without acknowledgements
  apps reliable     the same, every message acknowledged
  nats              bench_node nats-pubsub: 1 KiB 1->1 through nats-server
  node alone        bench_node slim-pubsub: 1 KiB 1->1 through our node with
                    raw gRPC load generators (no apps): where the apps' cost
                    starts
  rr apps           bench_client rr: request/reply between two apps, one in
                    flight, 100 B, unreliable session (and reliable, reported)
  rr relay          bench_node relay-rr: the same through a raw-TCP relay
  rr node alone     bench_node slim-rr: raw gRPC clients through our node

and prints medians and the ratios against the goals (docs/benchmarks.md,
"Apps through one node"). The apps hold shared-secret identities and use only
the public client API (bench/client/bench_client.c).
"""
import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "node"))
import run as node_run  # noqa: E402  (bench/node/run.py: start_node, start_nats, run)


TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    """CPU seconds (user + system, all threads) used so far by process pid."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def timed(server, bench, args, count_field):
    """node_run.run, with the server's CPU microseconds per counted message."""
    before = cpu_s(server.pid)
    r = node_run.run(bench, args)
    r["server_us"] = (cpu_s(server.pid) - before) * 1e6 / max(1.0, float(r[count_field]))
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="fewer messages, for a smoke run")
    ap.add_argument("--window", type=int, default=256,
                    help="the apps' sender: publishes in flight (1: the blocking publish)")
    a = ap.parse_args()
    client = os.path.join(a.build, "bench", "bench_client")
    gen = os.path.join(a.build, "bench", "bench_node")
    scale = 0.1 if a.quick else 1.0
    n_apps, n_nats, n_rr = int(200000 * scale), int(300000 * scale), int(20000 * scale)
    win = ["--window", a.window]
    node, port = node_run.start_node(a.build)
    nats, nport = node_run.start_nats()
    keys = ["unrel", "rel", "nats", "node", "rr", "rr_rel", "relay", "rr_node"]
    rows = {k: [] for k in keys}
    try:
        for _ in range(a.runs):  # alternate the systems within each round
            rows["unrel"].append(timed(node, client, ["oneway", port, n_apps, 1024,
                                                      "unreliable"] + win, "deliveries"))
            rows["rel"].append(timed(node, client, ["oneway", port, n_apps, 1024,
                                                    "reliable"] + win, "deliveries"))
            rows["nats"].append(timed(nats, gen, ["nats-pubsub", nport, 1, n_nats, 1024],
                                      "deliveries"))
            rows["node"].append(timed(node, gen, ["slim-pubsub", port, 1, n_nats, 1024],
                                      "deliveries"))
            rows["rr"].append(node_run.run(client, ["rr", port, n_rr, 100, "unreliable"]))
            rows["rr_rel"].append(node_run.run(client, ["rr", port, n_rr, 100, "reliable"]))
            rows["relay"].append(node_run.run(gen, ["relay-rr", n_rr, 100]))
            rows["rr_node"].append(node_run.run(gen, ["slim-rr", port, n_rr, 100]))
    finally:
        for p in (node, nats):
            p.terminate()
        for p in (node, nats):
            p.wait()

    def med(k, field):
        return statistics.median(float(r[field]) for r in rows[k])

    def total(k, field):
        return sum(int(r.get(field, 0)) for r in rows[k])

    rate = {k: med(k, "delivery_rate") for k in ("unrel", "rel", "nats", "node")}
    p50 = {k: med(k, "p50_us") for k in ("rr", "rr_rel", "relay", "rr_node")}
    p99 = {k: med(k, "p99_us") for k in ("rr", "rr_rel", "relay", "rr_node")}
    print(f"Apps through one node, median of {a.runs} alternating runs "
          f"(1 KiB one-way: {n_apps:,} messages per app run, {n_nats:,} per nats/node run; "
          f"request/reply 100 B: {n_rr:,} rounds; sender window {a.window})")
    print(f"  unreliable 1 KiB apps: {rate['unrel']:,.0f} msg/s delivered, "
          f"{rate['unrel'] / rate['nats']:.2f}x nats (goal >= 1.0x); lost over all runs "
          f"{total('unrel', 'lost')} of {n_apps * a.runs} (of which dropped by the receiving "
          f"app, its session queue full: {total('unrel', 'rx_dropped')})")
    print(f"  reliable 1 KiB apps:   {rate['rel']:,.0f} msg/s delivered, "
          f"{rate['rel'] / rate['nats']:.2f}x nats (goal >= 0.7x); lost {total('rel', 'lost')} "
          f"(dropped by the receiving app: {total('rel', 'rx_dropped')}), duplicates "
          f"{total('rel', 'dups')}, publishes refused (QUEUE_FULL) and sent again "
          f"{total('rel', 'queue_full')}")
    print(f"  nats-server 1 KiB 1->1: {rate['nats']:,.0f} msg/s; our node alone (raw gRPC "
          f"clients): {rate['node']:,.0f} msg/s ({rate['node'] / rate['nats']:.2f}x nats)")
    cpu = {k: med(k, "server_us") for k in ("unrel", "rel", "nats", "node")}
    print("  CPU per 1 KiB message, us (medians): "
          f"unreliable: sender app {med('unrel', 'tx_caller_us'):.2f} caller + "
          f"{med('unrel', 'tx_loop_us'):.2f} loop, node {cpu['unrel']:.2f}, receiver app "
          f"{med('unrel', 'rx_loop_us'):.2f} loop + {med('unrel', 'rx_caller_us'):.2f} caller; "
          f"reliable: sender {med('rel', 'tx_caller_us'):.2f} + {med('rel', 'tx_loop_us'):.2f}, "
          f"node {cpu['rel']:.2f}, receiver {med('rel', 'rx_loop_us'):.2f} + "
          f"{med('rel', 'rx_caller_us'):.2f}; node alone {cpu['node']:.2f}; "
          f"nats-server {cpu['nats']:.2f}")
    print(f"  request/reply 100 B p50/p99 us: apps {p50['rr']:.1f}/{p99['rr']:.1f}, "
          f"{p50['rr'] / p50['relay']:.2f}x the relay (goal <= 1.5x); apps reliable "
          f"{p50['rr_rel']:.1f}/{p99['rr_rel']:.1f} ({p50['rr_rel'] / p50['relay']:.2f}x); "
          f"relay {p50['relay']:.1f}/{p99['relay']:.1f}; node alone "
          f"{p50['rr_node']:.1f}/{p99['rr_node']:.1f} ({p50['rr_node'] / p50['relay']:.2f}x)")


if __name__ == "__main__":
    main()
