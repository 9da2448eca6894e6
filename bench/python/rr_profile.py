"""Where a Python request/reply round trip's CPU goes, beside C's: `perf` of
the requester of bench/python/run.py's request/reply, Python and C, each
against the C responder (bench_rr), split by thread and by what the samples
are in, in microseconds per round trip.

Usage: rr_profile.py BUILD_DIR [--rounds 20000] [--freq 2999] [--warmup 100]
                               [--event-queue E] [--keep DIR]

Starts a `slim` node as run.py does, then for the Python requester
(bench_py.py) and the C one (bench_rr) runs `perf record -e cpu-clock -F FREQ
-g` over the requester process (both its threads: the caller's, which for
Python is the asyncio loop, and libslim's loop thread), and reads the samples
back with `perf script`. A sample in the kernel is named by the first function
of ours (or of libc) under it: the system call it is in ("kernel: epoll_wait",
"kernel: write", ...); a sample in user space by its library ("python3.11" is
the interpreter: asyncio, the bindings' Python, the benchmark's loop). The
shares are scaled to microseconds per round trip with the number of samples,
the frequency and the rounds: perf's own cost makes the totals higher than the
benchmark's CPU figures (printed beside them), so compare Python with C, not
with those. Start-up and teardown (imports, the app, its connection, the
warm-up) are in the samples too: a few percent of a run of 20 000 rounds.

--event-queue E makes the Python apps with libslim's event_queue E (see
bench_py.py) for a second Python profile: what the event ring's first pass
costs shows as the difference.

Needs perf (Debian's linux-perf) and a kernel that lets it sample.
"""
import argparse
import collections
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "node"))
import run as node_run  # noqa: E402  (bench/node/run.py: start_node)

PYTHON = "/usr/bin/python3"


def samples(data: str):
    """[(tid, [(symbol, dso), ...] innermost first)] from perf script."""
    out = subprocess.run(["perf", "script", "-i", data, "-F", "tid,ip,sym,dso"],
                         capture_output=True, text=True, check=True).stdout
    res, cur = [], None
    for line in out.splitlines():
        if not line.strip():
            if cur:
                res.append(cur)
            cur = None
            continue
        if not line.startswith("\t") and not line.startswith(" " * 8):  # " TID" heads a sample
            cur = (int(line.split()[0]), [])
            continue
        parts = line.strip().split(None, 1)
        if len(parts) == 2 and cur is not None:
            sym, _, dso = parts[1].rpartition(" (")
            cur[1].append((sym, dso.rstrip(")").split("/")[-1]))
    if cur:
        res.append(cur)
    return res


def bucket(stack) -> str:
    sym, dso = stack[0]
    if "kernel" in dso:
        user = next(((s, d) for s, d in stack if "kernel" not in d), ("?", "?"))
        name = user[0]
        if name.startswith("__GI___libc_"):
            name = name[len("__GI___libc_"):]
        name = {"__futex_abstimed_wait_common": "futex wait (a blocking call's wait)",
                "pthread_cond_broadcast@@GLIBC_2.3.2": "futex wake (cond broadcast)",
                "__GI___lll_lock_wake": "futex wake (mutex)",
                "__GI___lll_lock_wait": "futex wait (mutex)",
                "slim_app__push_event": "slim_app__push_event (event ring, eventfd)",
                "epoll_wait": "epoll_wait (waiting, woken)",
                "read": "read (eventfds)",
                "write": "write (sockets, eventfds)"}.get(name, name)
        return f"kernel: {name}"
    if dso.startswith("python3"):
        return "Python interpreter (asyncio, the bindings' and the benchmark's Python)"
    if dso.startswith("_slim_bindings"):
        return "the extension (_slim_bindings.so)"
    if dso.startswith("libslim"):
        return "libslim"
    if dso.startswith("libc"):
        return "libc (malloc, memcpy, locks, syscall entry)"
    return dso.split(".so")[0]


def profile(cmd, env, rounds: int, freq: int, keep: str, label: str):
    data = os.path.join(keep, f"{label}.data")
    out = subprocess.run(["perf", "record", "-e", "cpu-clock", "-F", str(freq), "-g", "-o",
                          data, "--"] + cmd, env=env, capture_output=True, text=True,
                         timeout=900)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT")]
    if out.returncode != 0 or not line:
        sys.exit(f"{label}: failed: {out.stderr.strip()[-2000:]}")
    result = dict(kv.split("=", 1) for kv in line[0].split()[1:])
    s = samples(data)
    per_tid = collections.Counter(t for t, _ in s)
    threads = [t for t, _ in per_tid.most_common(2)]
    main_tid = min(threads)  # the process's first thread: the caller's
    scale = 1e6 / freq / rounds
    print(f"{label}: p50 {result['p50_us']} us; the benchmark's CPU per round trip: caller "
          f"{result['caller_cpu_us']} us, loop thread {result['loop_cpu_us']} us; perf: "
          + ", ".join(f"{'caller' if t == main_tid else 'loop thread'} "
                      f"{per_tid[t] * scale:.1f} us" for t in threads))
    for t in sorted(threads, key=lambda x: x != main_tid):
        c = collections.Counter(bucket(st) for tid, st in s if tid == t and st)
        print(f"  {'caller thread' if t == main_tid else 'libslim loop thread'}:")
        for k, v in c.most_common(10):
            print(f"    {v * scale:6.1f} us  {k}")
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build")
    ap.add_argument("--rounds", type=int, default=20000)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--freq", type=int, default=2999)
    ap.add_argument("--event-queue", type=int, default=0)
    ap.add_argument("--keep", help="folder for perf's data files (default: a temporary one)")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    keep = a.keep or tempfile.mkdtemp(prefix="rr-profile-")
    os.makedirs(keep, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=os.path.join(build, "bindings", "python"),
               PYTHONDONTWRITEBYTECODE="1")
    bench_rr = os.path.join(build, "bench", "bench_rr")
    node, port = node_run.start_node(build)
    runs = [("python", [PYTHON, os.path.join(HERE, "bench_py.py"), "requester"], [])]
    if a.event_queue:
        runs.append((f"python-eq{a.event_queue}",
                     [PYTHON, os.path.join(HERE, "bench_py.py"), "requester"],
                     ["--event-queue", str(a.event_queue)]))
    runs.append(("c", [bench_rr, "requester"], []))
    try:
        print(f"Request/reply 100 B, {a.rounds:,} rounds after {a.warmup}, the C responder; "
              f"perf cpu-clock at {a.freq} Hz of the requester")
        for i, (label, req, more) in enumerate(runs):
            name = f"bench/pyrr/prof{i}-{os.getpid()}"
            r = subprocess.Popen([bench_rr, "responder", str(port), "100", name], env=env,
                                 stdout=subprocess.PIPE, text=True)
            try:
                if r.stdout.readline().strip() != "READY":
                    sys.exit("the responder did not start")
                profile(req + [str(port), str(a.rounds), "100", "unreliable", name,
                               str(a.warmup)] + more, env, a.rounds, a.freq, keep, label)
                r.wait(timeout=30)
            finally:
                if r.poll() is None:
                    r.kill()
                    r.wait()
    finally:
        node.terminate()
        node.wait()
    print(f"(perf data in {keep})")


if __name__ == "__main__":
    main()
