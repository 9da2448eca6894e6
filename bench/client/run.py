"""Apps through one node beside nats-server, in the same run, median of 5
alternating runs.

Usage: run.py BUILD_DIR [apps|group|mls] [--runs 5] [--quick]

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

`group` runs instead, in each round, ten members each in its own process
(bench/client/bench_group.c; docs/benchmarks.md, "Groups through one node"):

  1->9 unreliable   a moderator app and 9 invited apps in a MULTICAST session,
                    the moderator publishing 1 KiB messages to the 9
  1->9 reliable     the same, timeout 1000 ms, max_retries 5
  nats 1->9         bench_node nats-pubsub with 9 subscribers (the generator
                    of the 1->1 comparison), and bench_group nats: ten
                    processes on raw connections, as the apps are
  all 10            every member publishing to the 9 others: slim unreliable,
                    reliable, nats (bench_group)
  latency           1->9 at a fixed rate (2 000 msg/s), one-way p50/p99 of
                    every delivery: slim unreliable, reliable, nats

`mls` runs instead, in each round (docs/benchmarks.md, "MLS group: the signature floor and the 100th invitation"):

  1->9 reliable     the group of ten above, 1 KiB, without MLS
  1->9 reliable MLS the same group with --mls (suite 2, P-256, the default)
  floor             bench_mls floor 1024: one sign and one verify of the
                    suite's signature scheme on the payload's size (prepared
                    keys; and a verify with the key imported from its bytes,
                    as a receiving group does); per delivery the floor is
                    verify + sign / 9 (nine receivers share the signature)
  invite 100        bench_group invite: the 100th member into a group of 99,
                    with MLS, one process per member; the same in one
                    process (100 apps, each its own loop thread); and
                    without MLS, one process per member
"""
import argparse
import functools
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


def stop(*procs):
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait()


def median(rows, k, field):
    """The median of `field` over the runs of scenario k."""
    return statistics.median(float(r[field]) for r in rows[k])


def summed(rows, k, field):
    """The sum of `field` over the runs of scenario k."""
    return sum(int(r.get(field, 0)) for r in rows[k])


def timed(server, bench, args, count_field):
    """node_run.run, with the server's CPU microseconds per counted message."""
    before = cpu_s(server.pid)
    r = node_run.run(bench, args)
    r["server_us"] = (cpu_s(server.pid) - before) * 1e6 / max(1.0, float(r[count_field]))
    return r


def tolerant(run, *args):
    """run(*args), or None (said on stderr) when that run failed: a failure
    of one group run is a finding to report, not the end of the others."""
    try:
        return run(*args)
    except SystemExit as e:
        print(f"  (a run failed: {str(e).splitlines()[0][:300]})", file=sys.stderr)
        return None


def group(a):
    """The `group` scenario: 1->9 and all-10 through one node beside nats."""
    grp = os.path.join(a.build, "bench", "bench_group")
    gen = os.path.join(a.build, "bench", "bench_node")
    scale = 0.1 if a.quick else 1.0
    n_slim, n_nats = int(20000 * scale), int(100000 * scale)
    n_lat, rate = int(5000 * scale), a.rate
    node, port = node_run.start_node(a.build)
    nats, nport = node_run.start_nats()
    rows = {k: [] for k in ("unrel", "rel", "nats", "nats10", "all_unrel", "all_rel", "all_nats",
                            "lat_unrel", "lat_rel", "lat_nats")}
    win = ["--window", a.window]
    try:
        def slim(k, n, mode, *more):
            rows[k].append(tolerant(timed, node, grp, ["slim", port, n, 1024, mode, *more] + win,
                                    "deliveries"))

        def natsg(k, n, *more):
            rows[k].append(tolerant(timed, nats, grp, ["nats", nport, n, 1024, *more],
                                    "deliveries"))

        for _ in range(a.runs):  # alternate the systems within each round
            slim("unrel", n_slim, "unreliable")
            slim("rel", n_slim, "reliable")
            rows["nats"].append(tolerant(timed, nats, gen, ["nats-pubsub", nport, 9, n_nats, 1024],
                                         "deliveries"))
            natsg("nats10", n_nats)
            slim("all_unrel", n_slim // 10, "unreliable", "--all")
            slim("all_rel", n_slim // 10, "reliable", "--all")
            natsg("all_nats", n_nats // 10, "--all")
            slim("lat_unrel", n_lat, "unreliable", "--rate", rate)
            slim("lat_rel", n_lat, "reliable", "--rate", rate)
            natsg("lat_nats", n_lat, "--rate", rate)
    finally:
        stop(node, nats)
    failed = {k: sum(1 for r in v if r is None) for k, v in rows.items()}
    rows = {k: [r for r in v if r is not None] or [{}] for k, v in rows.items()}

    def med(k, field):
        return median(rows, k, field) if field in rows[k][0] else float("nan")

    total = functools.partial(summed, rows)

    def losses(k):
        return (f"lost {total(k, 'lost')} of {total(k, 'lost') + total(k, 'deliveries')} "
                f"(dropped by receiving apps: {total(k, 'dropped')} at their session queue, "
                f"{total(k, 'rx_drops')} on arrival; MESSAGE_LOST {total(k, 'msg_lost')}; "
                f"receivers that stopped short {total(k, 'quiet')}), duplicates "
                f"{total(k, 'dups')}, own messages back {total(k, 'own')}")

    r = {k: med(k, "delivery_rate") for k in ("unrel", "rel", "nats", "nats10", "all_unrel",
                                               "all_rel", "all_nats")}
    print(f"Groups through one node, median of {a.runs} alternating runs (10 members, 1 KiB; "
          f"1->9: {n_slim:,} messages per slim run, {n_nats:,} per nats run; all 10: a tenth "
          f"of that per member; latency: {n_lat:,} messages at {rate} msg/s; window {a.window})")
    print(f"  1->9 unreliable: {r['unrel']:,.0f} deliveries/s, {r['unrel'] / r['nats']:.2f}x "
          f"nats (goal >= 1.0x); {losses('unrel')}")
    print(f"  1->9 reliable:   {r['rel']:,.0f} deliveries/s, {r['rel'] / r['nats']:.2f}x nats "
          f"(goal >= 0.7x); {losses('rel')}; publishes refused (QUEUE_FULL) and sent again "
          f"{total('rel', 'queue_full')}, undelivered {total('rel', 'undelivered')}")
    print(f"  nats-server 1->9: {r['nats']:,.0f} deliveries/s (bench_node: one subscriber "
          f"process); {r['nats10']:,.0f} with ten processes (bench_group nats; slim unreliable "
          f"{r['unrel'] / r['nats10']:.2f}x, reliable {r['rel'] / r['nats10']:.2f}x of that)")
    print(f"  all 10 publishing: unreliable {r['all_unrel']:,.0f} deliveries/s "
          f"({r['all_unrel'] / r['all_nats']:.2f}x nats), reliable {r['all_rel']:,.0f} "
          f"({r['all_rel'] / r['all_nats']:.2f}x), nats {r['all_nats']:,.0f}; unreliable "
          f"{losses('all_unrel')}; reliable {losses('all_rel')}, refused and sent again "
          f"{total('all_rel', 'queue_full')}, undelivered {total('all_rel', 'undelivered')}, "
          f"closing the group {med('all_rel', 'close_s'):.3f} s")
    lat = {k: (med(k, "p50_us"), med(k, "p99_us")) for k in ("lat_unrel", "lat_rel", "lat_nats")}
    print(f"  latency 1->9 at {rate} msg/s, one-way p50/p99 us: unreliable "
          f"{lat['lat_unrel'][0]:.1f}/{lat['lat_unrel'][1]:.1f} "
          f"({lat['lat_unrel'][0] / lat['lat_nats'][0]:.2f}x nats p50), reliable "
          f"{lat['lat_rel'][0]:.1f}/{lat['lat_rel'][1]:.1f} "
          f"({lat['lat_rel'][0] / lat['lat_nats'][0]:.2f}x), nats "
          f"{lat['lat_nats'][0]:.1f}/{lat['lat_nats'][1]:.1f}; lost: unreliable "
          f"{total('lat_unrel', 'lost')}, reliable {total('lat_rel', 'lost')}, nats "
          f"{total('lat_nats', 'lost')}")
    print("  CPU per delivery, us (medians; members: all ten processes, every thread): "
          f"1->9 unreliable: members {med('unrel', 'cpu_us'):.2f}, node "
          f"{med('unrel', 'server_us'):.2f}; reliable: members {med('rel', 'cpu_us'):.2f}, "
          f"node {med('rel', 'server_us'):.2f}; nats (ten processes): members "
          f"{med('nats10', 'cpu_us'):.2f}, nats-server {med('nats10', 'server_us'):.2f}; "
          f"all 10 unreliable: members {med('all_unrel', 'cpu_us'):.2f}, node "
          f"{med('all_unrel', 'server_us'):.2f}")
    if any(failed.values()):
        print("  FAILED runs (not in the medians): " +
              ", ".join(f"{k} {n}" for k, n in failed.items() if n))
    print(f"  9 invitations: {med('unrel', 'setup_s'):.3f} s unreliable, "
          f"{med('rel', 'setup_s'):.3f} s reliable; closing the group: "
          f"{med('unrel', 'close_s'):.3f} s, {med('rel', 'close_s'):.3f} s")


def ordinal(n):
    """1st, 2nd, 3rd, 4th, ..., 11th, ..., 21st."""
    suffix = "th" if n % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def mls(a):
    """The `mls` scenario: a group of ten with and without MLS, the
    signature floor, and the invitation of a 100th member."""
    grp = os.path.join(a.build, "bench", "bench_group")
    floor = os.path.join(a.build, "bench", "bench_mls")
    scale = 0.1 if a.quick else 1.0
    n, receivers, size, members = int(20000 * scale), 9, 1024, a.members
    node, port = node_run.start_node(a.build)
    keys = ("plain", "mls", "floor", "inv", "inv1", "inv_plain")
    rows = {k: [] for k in keys}
    win = ["--window", a.window]
    try:
        def group_run(k, *more):
            rows[k].append(tolerant(timed, node, grp, ["slim", port, n, size, "reliable", *more] +
                                    win, "deliveries"))

        def invite(k, *more):
            rows[k].append(tolerant(node_run.run, grp, ["invite", port, members, "--node-pid",
                                                         node.pid, *more]))

        for _ in range(a.runs):  # alternate within each round
            group_run("plain")
            group_run("mls", "--mls")
            rows["floor"].append(tolerant(node_run.run, floor, ["floor", size, 2000]))
            invite("inv", "--mls")
            invite("inv1", "--mls", "--procs", 1)
            invite("inv_plain")
    finally:
        stop(node)
    failed = {k: sum(1 for r in v if r is None) for k, v in rows.items()}
    rows = {k: [r for r in v if r is not None] or [{}] for k, v in rows.items()}

    def med(k, field):
        return median(rows, k, field) if field in rows[k][0] else float("nan")

    total = functools.partial(summed, rows)
    for r in rows["floor"]:
        if r:
            r["floor_us"] = float(r["verify_us"]) + float(r["sign_us"]) / receivers
            r["floor_import_us"] = float(r["import_verify_us"]) + float(r["sign_us"]) / receivers
    fl, fli = med("floor", "floor_us"), med("floor", "floor_import_us")
    cpu = {k: med(k, "cpu_us") for k in ("plain", "mls")}
    node_us = {k: med(k, "server_us") for k in ("plain", "mls")}
    both = {k: cpu[k] + node_us[k] for k in cpu}
    rate = {k: med(k, "delivery_rate") for k in ("plain", "mls")}
    print(f"MLS group, median of {a.runs} alternating runs (one node, shared-secret identities; "
          f"ten members, each its own process, 1 -> {receivers} reliable, {size} B, {n:,} "
          f"messages per run, window {a.window}; suite 2, P-256)")
    for k, title in (("plain", "without MLS"), ("mls", "with MLS")):
        print(f"  {title:11s}: {rate[k]:,.0f} deliveries/s; CPU per delivery: members "
              f"{cpu[k]:.2f} us, node {node_us[k]:.2f} us, together {both[k]:.2f} us; "
              f"lost {total(k, 'lost')}, duplicates {total(k, 'dups')}, refused and sent "
              f"again {total(k, 'queue_full')}, undelivered {total(k, 'undelivered')}, "
              f"MESSAGE_LOST {total(k, 'msg_lost')}, dropped on arrival (duplicates, ...) "
              f"{total(k, 'rx_drops')}; all runs (deliveries/s, members' us): " +
              ", ".join(f"{float(r['delivery_rate']):,.0f} {float(r['cpu_us']):.1f}"
                        for r in rows[k] if r))
    print(f"  with / without MLS: deliveries/s {rate['mls'] / rate['plain']:.2f}x, CPU per "
          f"delivery {cpu['mls'] / cpu['plain']:.2f}x (members), "
          f"{both['mls'] / both['plain']:.2f}x (with the node)")
    print(f"  floor per delivery (suite 2, {size} B, thread CPU): verify "
          f"{med('floor', 'verify_us'):.2f} us + sign {med('floor', 'sign_us'):.2f} / {receivers}"
          f" = {fl:.2f} us (prepared keys); with the key imported for the verify "
          f"({med('floor', 'import_verify_us'):.2f} us): {fli:.2f} us")
    print(f"  MLS CPU per delivery / floor: {cpu['mls'] / fl:.2f}x members (goal <= 1.3x), "
          f"{both['mls'] / fl:.2f}x with the node; MLS overhead (with - without) / floor: "
          f"{(cpu['mls'] - cpu['plain']) / fl:.2f}x members, "
          f"{(both['mls'] - both['plain']) / fl:.2f}x with the node")
    for k, title in (("inv", "MLS, one process per member"),
                     ("inv1", "MLS, all members in one process"),
                     ("inv_plain", "without MLS, one process per member")):
        print(f"  invite the {ordinal(members)} member into {members - 1} ({title}): "
              f"{med(k, 'invite_ms'):.1f} ms (the {ordinal(members - 1)}: "
              f"{med(k, 'prev_ms'):.1f} ms, "
              f"the first: {med(k, 'first_ms'):.1f} ms); its CPU: moderator's process "
              f"{med(k, 'cpu_mod_ms'):.1f} ms, other processes {med(k, 'cpu_members_ms'):.1f} ms,"
              f" node {med(k, 'cpu_node_ms'):.1f} ms; the {members - 2} invitations before it "
              f"{med(k, 'build_s'):.2f} s; all runs: "
              + ", ".join(f"{float(r['invite_ms']):.1f}" for r in rows[k] if r))
    if any(failed.values()):
        print("  FAILED runs (not in the medians): " +
              ", ".join(f"{k} {c}" for k, c in failed.items() if c))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("scenario", nargs="?", choices=("apps", "group", "mls"), default="apps",
                    help="apps: 1->1 and request/reply (default); group: 1->9 and all 10; "
                    "mls: the group of ten with and without MLS, the signature floor, the "
                    "invitation of a 100th member")
    ap.add_argument("--members", type=int, default=100,
                    help="mls: the invitation measured is the last of this many members")
    ap.add_argument("--rate", type=int, default=2000,
                    help="group: messages/s of the latency runs' publisher")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="fewer messages, for a smoke run")
    ap.add_argument("--window", type=int, default=256,
                    help="the apps' sender: publishes in flight (1: the blocking publish)")
    a = ap.parse_args()
    if a.scenario == "group":
        return group(a)
    if a.scenario == "mls":
        return mls(a)
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
        stop(node, nats)
    med, total = functools.partial(median, rows), functools.partial(summed, rows)

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
