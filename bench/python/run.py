"""The Python bindings beside C, through one node, in the same run: median of
alternating rounds.

Usage: run.py BUILD_DIR [--runs 5] [--quick] [--rr N] [--msgs N] [--mls-msgs N]
                        [--no-mls] [--no-steady] [--event-queue E] [--pkg DIR]
                        [--baseline-pkg DIR]

One `slim` node (header MACs on, the default; bench/node/run.py's start_node)
on a free loopback port; each round runs, one after the other:

  rr C / C          bench_rr (bench/python/bench_rr.c): a requester app and a
                    responder app, each its own process, request/reply of
                    100 B over a UNICAST session without acknowledgements,
                    one in flight: blocking slim_session_publish +
                    slim_session_get_message of the reply; the responder
                    answers with slim_session_publish_to
  rr Py / Py        the same with both sides Python (bench/python/bench_py.py:
                    `await session.publish(...)`, `await session.get_message()`,
                    `await session.publish_to(ctx, ...)`)
  rr Py / C, C / Py one side Python (requester / responder): which end costs
                    what
  rr steady         C / C and Py / Py again after 33 000 rounds of warm-up
                    instead of 100 (--no-steady leaves them out): every result
                    reaches Python as a libslim event, and the app's event
                    ring (65 536 events of 824 bytes) is touched page by page
                    on its first pass, two events per round trip at each end;
                    after it, what a long-running app sees
  group C           bench_group slim PORT N 1024 unreliable
                    (bench/client/bench_group.c): ten apps, each its own
                    process, the moderator publishing 1 KiB messages to the
                    nine others, up to 256 publishes in flight
  group Py          the same group in Python (bench_py.py group)
  group MLS C / Py  both again, reliable with MLS (suite 2, P-256), fewer
                    messages (--no-mls leaves them out)

and prints medians, the ratios Python / C and the binding's overhead per
message:

  request/reply     (p50 Py/Py - p50 C/C) / 2: a round trip is two messages,
                    each published by one app and received by another, so
                    this is what Python adds to one message's send + receive
  group             per delivery, the members' CPU (all ten processes, every
                    thread) Py - C; and per member, 1 / (messages/s it
                    received) Py - C (wall clock: on two cores ten processes
                    share the CPU, so this is about 4.5x the CPU one)

The goal (the binding adds at most 30 us per message over C) is reported, not
enforced. --event-queue E adds, as a diagnosis, Py / Py request/reply and the
Py group with apps whose event ring holds E events (not the default: see
bench_py.py). --pkg points the Python side at another build of the package (default
BUILD_DIR/bindings/python); --baseline-pkg DIR adds Py/Py request/reply and the
Py group with that package to every round (before / after a change, in the same
run).
"""
import argparse
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "node"))
import run as node_run  # noqa: E402  (bench/node/run.py: start_node, run)

PYTHON = "/usr/bin/python3"
BENCH_PY = os.path.join(HERE, "bench_py.py")
RR_SIZE = 100
GROUP_SIZE = 1024
RECEIVERS = 9  # bench_group's ten members, one publisher


def result_of(out: str, what: str) -> dict:
    line = [ln for ln in out.splitlines() if ln.startswith("RESULT")]
    if not line:
        raise SystemExit(f"{what}: no RESULT line")
    return dict(kv.split("=", 1) for kv in line[0].split()[1:])


class Sides:
    def __init__(self, build: str, pkg: str):
        self.bench_rr = os.path.join(build, "bench", "bench_rr")
        self.bench_group = os.path.join(build, "bench", "bench_group")
        self.build = build
        self.pkg = pkg

    def env(self, pkg=None) -> dict:
        return dict(os.environ, PYTHONPATH=pkg or self.pkg, PYTHONDONTWRITEBYTECODE="1")

    def cmd(self, lang: str, *args) -> list:
        if lang == "c":
            return [self.bench_rr] + [str(a) for a in args]
        return [PYTHON, BENCH_PY] + [str(a) for a in args]


def rr(sides: Sides, port: int, n: int, req: str, resp: str, tag: str, pkg=None,
       warmup: int = 100, event_queue: int = 0) -> dict:
    """One request/reply run: req / resp are "c" or "py"."""
    name = f"bench/pyrr/rx-{tag}-{os.getpid()}"
    env = sides.env(pkg)
    eq = ["--event-queue", event_queue] if event_queue else []
    r = subprocess.Popen(sides.cmd(resp, "responder", port, RR_SIZE, name, *eq), env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if r.stdout.readline().strip() != "READY":
            raise SystemExit(f"responder ({resp}) did not start: {r.stderr.read()}")
        out = subprocess.run(sides.cmd(req, "requester", port, n, RR_SIZE, "unreliable", name,
                                       warmup, *eq),
                             env=env, capture_output=True, text=True, timeout=600)
        if out.returncode != 0:
            raise SystemExit(f"requester ({req}) failed: {out.stderr.strip()}")
        r.wait(timeout=30)
    finally:
        if r.poll() is None:
            r.kill()
            r.wait()
    return result_of(out.stdout, f"rr {req}/{resp}")


def group(sides: Sides, port: int, n: int, lang: str, mls: bool, pkg=None,
          event_queue: int = 0) -> dict:
    mode = ["reliable", "--mls"] if mls else ["unreliable"]
    if lang == "c":
        args = [sides.bench_group, "slim", str(port), str(n), str(GROUP_SIZE)] + mode
    else:
        args = [PYTHON, BENCH_PY, "group", str(port), str(n), str(GROUP_SIZE)] + mode
        if event_queue:
            args += ["--event-queue", str(event_queue)]
    out = subprocess.run(args, env=sides.env(pkg), capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise SystemExit(f"group {lang}{' mls' if mls else ''} failed: {out.stderr.strip()}")
    return result_of(out.stdout, f"group {lang}")


def med(rows, field):
    return statistics.median(float(r[field]) for r in rows)


def total(rows, field):
    return sum(int(r.get(field, 0)) for r in rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="fewer messages, for a smoke run")
    ap.add_argument("--rr", type=int, default=10000, help="request/reply rounds per run")
    ap.add_argument("--msgs", type=int, default=20000, help="group: messages per run")
    ap.add_argument("--mls-msgs", type=int, default=5000, help="group with MLS: messages per run")
    ap.add_argument("--no-mls", action="store_true")
    ap.add_argument("--no-steady", action="store_true", help="no request/reply after warm-up")
    ap.add_argument("--steady-warmup", type=int, default=33000,
                    help="rounds of warm-up of the steady request/reply runs")
    ap.add_argument("--event-queue", type=int, default=0,
                    help="a diagnosis: Py runs with apps of this event_queue too")
    ap.add_argument("--pkg", help="PYTHONPATH of the Python side (default BUILD/bindings/python)")
    ap.add_argument("--baseline-pkg", help="another package, run beside (before / after)")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    sides = Sides(build, os.path.abspath(a.pkg or os.path.join(build, "bindings", "python")))
    scale = 0.1 if a.quick else 1.0
    n_rr, n_grp, n_mls = int(a.rr * scale), int(a.msgs * scale), int(a.mls_msgs * scale)
    base = os.path.abspath(a.baseline_pkg) if a.baseline_pkg else None
    node, port = node_run.start_node(build)
    rows = {k: [] for k in ("rr_c", "rr_py", "rr_pyc", "rr_cpy", "rr_base", "rr_eq", "st_c",
                            "st_py", "g_c", "g_py", "g_base", "g_eq", "m_c", "m_py")}
    steady = 0 if a.no_steady else max(100, int(a.steady_warmup * scale))
    try:
        for i in range(a.runs):  # alternate C and Python within each round
            rows["rr_c"].append(rr(sides, port, n_rr, "c", "c", f"{i}cc"))
            rows["rr_py"].append(rr(sides, port, n_rr, "py", "py", f"{i}pp"))
            rows["rr_pyc"].append(rr(sides, port, n_rr, "py", "c", f"{i}pc"))
            rows["rr_cpy"].append(rr(sides, port, n_rr, "c", "py", f"{i}cp"))
            if base:
                rows["rr_base"].append(rr(sides, port, n_rr, "py", "py", f"{i}bb", base))
            if a.event_queue:
                rows["rr_eq"].append(rr(sides, port, n_rr, "py", "py", f"{i}eq",
                                        event_queue=a.event_queue))
            if steady:
                rows["st_c"].append(rr(sides, port, n_rr, "c", "c", f"{i}sc", warmup=steady))
                rows["st_py"].append(rr(sides, port, n_rr, "py", "py", f"{i}sp", warmup=steady))
            rows["g_c"].append(group(sides, port, n_grp, "c", False))
            rows["g_py"].append(group(sides, port, n_grp, "py", False))
            if base:
                rows["g_base"].append(group(sides, port, n_grp, "py", False, base))
            if a.event_queue:
                rows["g_eq"].append(group(sides, port, n_grp, "py", False,
                                          event_queue=a.event_queue))
            if not a.no_mls:
                rows["m_c"].append(group(sides, port, n_mls, "c", True))
                rows["m_py"].append(group(sides, port, n_mls, "py", True))
            print(f"  round {i + 1} of {a.runs} done", file=sys.stderr, flush=True)
    finally:
        node.terminate()
        node.wait()

    print(f"Python bindings beside C through one node, median of {a.runs} alternating runs "
          f"(request/reply {RR_SIZE} B, unreliable UNICAST, {n_rr:,} rounds after 100; group "
          f"1 -> {RECEIVERS}, {GROUP_SIZE} B, {n_grp:,} messages unreliable"
          + ("" if a.no_mls else f", {n_mls:,} reliable with MLS") + ")")
    print("  request/reply, us       p50     p90     p99  publish p50  requester CPU/rt "
          "(caller + loop thread)")
    names = {"rr_c": "C / C", "rr_py": "Py / Py", "rr_pyc": "Py req / C resp",
             "rr_cpy": "C req / Py resp", "rr_base": "Py / Py (baseline pkg)",
             "rr_eq": f"Py / Py, event_queue {a.event_queue}",
             "st_c": f"C / C, warm {steady}", "st_py": f"Py / Py, warm {steady}"}
    for k, title in names.items():
        if rows[k]:
            print(f"    {title:22s} {med(rows[k], 'p50_us'):7.1f} {med(rows[k], 'p90_us'):7.1f} "
                  f"{med(rows[k], 'p99_us'):7.1f}  {med(rows[k], 'publish_p50_us'):11.1f}  "
                  f"{med(rows[k], 'caller_cpu_us'):.1f} + {med(rows[k], 'loop_cpu_us'):.1f}")
    c50, p50 = med(rows["rr_c"], "p50_us"), med(rows["rr_py"], "p50_us")
    c90, p90 = med(rows["rr_c"], "p90_us"), med(rows["rr_py"], "p90_us")
    over = (p50 - c50) / 2
    print(f"  request/reply Py/Py over C/C: p50 {p50 / c50:.2f}x, p90 {p90 / c90:.2f}x; "
          f"overhead per message (p50 difference / 2): {over:.1f} us "
          f"({'goal <= 30 us met' if over <= 30 else 'goal <= 30 us MISSED'}); p90: "
          f"{(p90 - c90) / 2:.1f} us")
    print(f"  one side Python: requester +{med(rows['rr_pyc'], 'p50_us') - c50:.1f} us, responder "
          f"+{med(rows['rr_cpy'], 'p50_us') - c50:.1f} us per round trip (p50)")
    if rows["st_c"]:
        s50, t50 = med(rows["st_c"], "p50_us"), med(rows["st_py"], "p50_us")
        sover = (t50 - s50) / 2
        print(f"  after {steady:,} rounds of warm-up: Py/Py p50 {t50 / s50:.2f}x C/C; overhead "
              f"per message {sover:.1f} us "
              f"({'goal <= 30 us met' if sover <= 30 else 'goal <= 30 us MISSED'}); p90: "
              f"{(med(rows['st_py'], 'p90_us') - med(rows['st_c'], 'p90_us')) / 2:.1f} us")
    if rows["rr_eq"]:
        e50 = med(rows["rr_eq"], "p50_us")
        print(f"  event_queue {a.event_queue} (diagnosis): Py/Py p50 {e50:.1f} us, overhead per "
              f"message {(e50 - c50) / 2:.1f} us")
    if rows["rr_base"]:
        b50 = med(rows["rr_base"], "p50_us")
        print(f"  baseline package Py/Py: p50 {b50:.1f} us ({b50 / c50:.2f}x C, overhead "
              f"{(b50 - c50) / 2:.1f} us per message)")

    def group_lines(kc, kp, title):
        rc, rp = med(rows[kc], "delivery_rate"), med(rows[kp], "delivery_rate")
        cc, cp = med(rows[kc], "cpu_us"), med(rows[kp], "cpu_us")
        mc, mp = rc / RECEIVERS, rp / RECEIVERS
        print(f"  {title}: deliveries/s C {rc:,.0f}, Py {rp:,.0f} ({rp / rc:.2f}x); per member "
              f"{mc:,.0f} and {mp:,.0f} msg/s, 1/rate {1e6 / mc:.1f} and {1e6 / mp:.1f} us "
              f"(+{1e6 / mp - 1e6 / mc:.1f} us)")
        print(f"    members' CPU per delivery: C {cc:.2f} us, Py {cp:.2f} us (+{cp - cc:.2f} us, "
              f"{cp / cc:.2f}x; Py receivers {med(rows[kp], 'rx_cpu_us'):.2f}, publisher "
              f"{med(rows[kp], 'pub_cpu_us'):.2f}); "
              f"{'goal <= 30 us met' if cp - cc <= 30 else 'goal <= 30 us MISSED'}")
        for k, lang in ((kc, "C"), (kp, "Py")):
            print(f"    {lang}: lost {total(rows[k], 'lost')} of "
                  f"{total(rows[k], 'lost') + total(rows[k], 'deliveries')} (dropped by the "
                  f"receiving apps' session queues: {total(rows[k], 'dropped')}), duplicates "
                  f"{total(rows[k], 'dups')}, receivers that stopped short "
                  f"{total(rows[k], 'quiet')}, publishes refused and sent again "
                  f"{total(rows[k], 'queue_full')}; all runs (deliveries/s): "
                  + ", ".join(f"{float(r['delivery_rate']):,.0f}" for r in rows[k]))

    group_lines("g_c", "g_py", "group 1 -> 9 unreliable")
    for k, title in (("g_base", "baseline package"), ("g_eq", f"event_queue {a.event_queue}")):
        if rows[k]:
            print(f"  {title} group: {med(rows[k], 'delivery_rate'):,.0f} deliveries/s, CPU per "
                  f"delivery {med(rows[k], 'cpu_us'):.2f} us (receivers "
                  f"{med(rows[k], 'rx_cpu_us'):.2f}), lost {total(rows[k], 'lost')}")
    if not a.no_mls:
        group_lines("m_c", "m_py", "group 1 -> 9 reliable, MLS")


if __name__ == "__main__":
    main()
