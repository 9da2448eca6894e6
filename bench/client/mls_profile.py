"""Where an MLS group's CPU goes: a `perf` profile of the ten members of
bench_group's 1 -> 9 reliable group, with --mls and without, split into
what the floor is (the ECDSA verification and the sender's signature) and
what is above it.

Usage: mls_profile.py BUILD_DIR [--msgs 20000] [--freq 499] [--keep DIR]

Starts our `slim` node as run.py does, then for each of `--mls` and no
MLS runs `perf record -e cpu-clock -F FREQ --call-graph dwarf` over
`bench_group slim PORT MSGS 1024 reliable` (the ten member processes and
all their threads; not the node) and reads the samples back with
`perf script`. Samples under app creation, connection and teardown
(slim_app_new, slim_app_connect, slim_app_free, ...) are left out: the
members' CPU that bench_group reports is measured from the first publish
to the last delivery. Each sample goes to the first bucket below whose
function is on its stack, else by the library its innermost frame is in;
a bucket's microseconds per delivery are its share times the run's
cpu_us. Debian's libcrypto has no symbols: OpenSSL's time is named by the
library function that called it.

Needs perf (Debian's linux-perf) and a kernel that lets it sample.
"""
import argparse
import collections
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "node"))
import run as node_run  # noqa: E402  (bench/node/run.py: start_node)

# Frames that mark a sample as outside the data path.
SETUP = {"slim_app_new", "slim_app_connect", "slim_app_free", "bench_app_on", "_dl_start",
         "slim_session_create", "slim_app_listen", "slim_session_delete", "exit", "_dl_fini"}

# (bucket, functions any of which puts a sample in it, a function that must
# be on the stack too or None), first match wins.
BUCKETS = [
    ("floor: ECDSA verify (slim_mls_sig_key_verify)", ["slim_mls_sig_key_verify"], None),
    ("floor: ECDSA sign (slim_mls_sig_key_sign)", ["slim_mls_sig_key_sign"], None),
    ("sender's key imported and freed per message (slim_mls_sig_key_new/_free)",
     ["slim_mls_sig_key_new", "slim_mls_sig_key_free"], None),
    ("sender data: key, nonce, AEAD (open_sender_data)", ["open_sender_data"], None),
    ("ratchet: the message's key and nonce (secret tree)",
     ["slim_mls_secret_tree_get", "slim_mls_secret_tree_next", "slim_mls_secret_tree_consume",
      "slim_mls_secret_tree_peek", "slim_mls_secret_tree_erase"], None),
    ("content AEAD (slim_mls_prepared_open/seal)",
     ["slim_mls_prepared_open", "slim_mls_prepared_seal"], None),
    ("rest of unprotect (decode, AAD, buffers)",
     ["slim_mls_private_message_unprotect", "slim_mls_group_receive"], None),
    ("rest of protect (encode, AAD, buffers)",
     ["slim_mls_protect_application", "slim_mls_group_protect"], None),
    ("ss_mls_open/seal: the header AAD, the message decode",
     ["ss_mls_open", "ss_mls_seal"], None),
]

MALLOC = ("malloc", "free", "calloc", "realloc", "_int_malloc", "_int_free", "tcache_get",
          "tcache_put", "malloc_consolidate", "unlink_chunk", "sysmalloc", "__libc_malloc",
          "__libc_free", "__GI___libc_malloc", "__GI___libc_free", "cfree")


def samples(path):
    """(frames) per sample of a `perf script -F comm,pid,tid,ip,sym,dso`
    file, innermost first, each (symbol, dso)."""
    frames = None
    with open(path, errors="replace") as f:
        for line in f:
            if not line.strip():
                if frames is not None:
                    yield frames
                frames = None
            elif not line[0].isspace():
                frames = []
            elif frames is not None:
                parts = line.strip().split(None, 1)
                if len(parts) == 2:
                    sym, _, dso = parts[1].rpartition(" (")
                    frames.append((sym.split("+")[0], dso.rstrip(")")))
    if frames is not None:
        yield frames


def bucket(frames):
    syms = {s for s, _ in frames}
    for name, keys, within in BUCKETS:
        if (within is None or within in syms) and any(k in syms for k in keys):
            return name
    leaf = frames[0][0] if frames else "?"
    dso = next((d for _, d in frames if d != "inlined"), "?")
    if "kernel" in dso:
        return "kernel (syscalls, scheduling, page faults)"
    if leaf.split("@")[0] in MALLOC or leaf.startswith(("__libc_malloc", "__libc_free")):
        return "malloc/free"
    if "libprotobuf-c" in dso:
        return "protobuf-c"
    if "libcrypto" in dso:
        return "libcrypto, elsewhere (header MACs, ...)"
    if "libslim" in dso:
        return "libslim, elsewhere (session, app, wire, links)"
    if "libc.so" in dso:
        return "libc, elsewhere (copies, locks, ...)"
    return "other: " + os.path.basename(dso)


def profile(build, port, mls, msgs, freq, out_dir):
    tag = "mls" if mls else "plain"
    data, text = os.path.join(out_dir, f"{tag}.data"), os.path.join(out_dir, f"{tag}.txt")
    cmd = ["perf", "record", "-q", "-e", "cpu-clock", "-F", str(freq), "--call-graph",
           "dwarf,16384", "-o", data, "--", os.path.join(build, "bench", "bench_group"), "slim",
           str(port), str(msgs), "1024", "reliable"] + (["--mls"] if mls else [])
    out = subprocess.run(cmd, capture_output=True, text=True)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT")]
    if out.returncode != 0 or not line:
        sys.exit(f"{' '.join(cmd)}: failed: {out.stderr.strip()[-500:]}")
    r = dict(kv.split("=") for kv in line[0].split()[1:])
    with open(text, "w") as f:
        subprocess.run(["perf", "script", "-i", data, "-F", "comm,pid,tid,ip,sym,dso"], stdout=f,
                       stderr=subprocess.DEVNULL, check=True)
    counts, leaves, total, left_out = collections.Counter(), collections.Counter(), 0, 0
    for frames in samples(text):
        if {s for s, _ in frames} & SETUP:
            left_out += 1
            continue
        total += 1
        counts[bucket(frames)] += 1
        if frames:
            dso = next((d for _, d in frames if d != "inlined"), "?")
            leaves[f"{frames[0][0]} ({os.path.basename(dso)})"] += 1
    cpu = float(r["cpu_us"])
    print(f"{'with' if mls else 'without'} MLS: members' CPU {cpu:.1f} us per delivery, "
          f"{float(r['delivery_rate']):,.0f} deliveries/s; {total} samples ({left_out} of "
          f"set-up and teardown left out)")
    floor = 0.0
    for name, n in counts.most_common():
        us = n / total * cpu
        floor += us if name.startswith("floor:") else 0
        print(f"  {100 * n / total:5.1f}%  {us:6.1f} us  {name}")
    print(f"  the floor's functions: {floor:.1f} us per delivery, the rest {cpu - floor:.1f} us")
    print("  innermost functions (self), top 12:")
    for name, n in leaves.most_common(12):
        print(f"  {100 * n / total:5.1f}%  {name}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--msgs", type=int, default=20000)
    ap.add_argument("--freq", type=int, default=499, help="samples per second per CPU")
    ap.add_argument("--keep", help="write perf's data and scripts here (default: a temp dir)")
    a = ap.parse_args()
    out_dir = a.keep or tempfile.mkdtemp(prefix="bench-mls-profile-")
    os.makedirs(out_dir, exist_ok=True)
    node, port = node_run.start_node(a.build)
    try:
        for mls in (True, False):
            profile(a.build, port, mls, a.msgs, a.freq, out_dir)
    finally:
        node.terminate()
        node.wait()


if __name__ == "__main__":
    main()
