#!/usr/bin/env python3
"""Runs examples/c/group_chat as a user would: a node, three participants
and a moderator that invites them, each with a few lines on stdin, and
checks from their output that every member said its lines and received
every other member's, from whom, in order, and that the moderator's close
ended the group for all.

Usage: test_group_chat.py [--mls] [--mls-suite N]: with --mls the
moderator makes the group an MLS group (and says so), with the suite given
to every member.

Environment: SLIM_BIN (the node), GROUP_CHAT_BIN (the example),
SLIM_INTEGRATION_DIR (tests/integration, for slimnode.py)."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.environ["SLIM_INTEGRATION_DIR"])
from slimnode import Node  # noqa: E402

SECRET = "a-shared-secret-of-at-least-32-characters"
BIN = os.environ["GROUP_CHAT_BIN"]
PARTICIPANTS = ["org/ns/bob", "org/ns/carol", "org/ns/dave"]
MODERATOR = "org/ns/alice"
MEMBERS = [MODERATOR] + PARTICIPANTS
LINES = 3


def lines_of(name):
    return [f"line {i} from {name.split('/')[-1]}" for i in range(LINES)]


def main():
    args = sys.argv[1:]
    mls = "--mls" in args
    suite = args[args.index("--mls-suite") + 1] if "--mls-suite" in args else None
    node = Node()
    procs = {}
    try:
        server = f"http://127.0.0.1:{node.port}"
        common = ["--server", server, "--secret", SECRET, "--wait-for", str(len(MEMBERS))]
        if suite:
            common += ["--mls-suite", suite]
        for p in PARTICIPANTS:
            procs[p] = subprocess.Popen(
                [BIN, "participant", "--name", p] + common,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(0.5)  # the participants connect and subscribe
        mod = [BIN, "moderator", "--name", MODERATOR, "--channel", "org/ns/chat",
               "--expect", str(LINES * len(PARTICIPANTS)), "--linger", "3"] + common
        if mls:
            mod.append("--mls")
        for p in PARTICIPANTS:
            mod += ["--invite", p]
        procs[MODERATOR] = subprocess.Popen(mod, stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        outs = {}
        for name in MEMBERS:
            text = "".join(line + "\n" for line in lines_of(name)).encode()
            procs[name].stdin.write(text)
            procs[name].stdin.close()
            procs[name].stdin = None  # communicate() must not flush it
        for name in [MODERATOR] + PARTICIPANTS:
            try:
                out, err = procs[name].communicate(timeout=90)
            except subprocess.TimeoutExpired:
                procs[name].kill()
                out, err = procs[name].communicate()
                raise AssertionError(f"{name} did not finish:\n{out.decode()}\n{err.decode()}")
            outs[name] = out.decode().splitlines()
            sys.stdout.write(out.decode())
            if procs[name].returncode != 0:
                raise AssertionError(f"{name} exited {procs[name].returncode}:\n{err.decode()}")
        failures = []
        for name in MEMBERS:
            out = outs[name]
            prefix = f"[{name}] "
            said = [l[len(prefix) + len("says: "):] for l in out if l.startswith(prefix + "says: ")]
            if said != lines_of(name):
                failures.append(f"{name} said {said}")
            for other in MEMBERS:
                if other == name:
                    continue
                got = [l[len(prefix) + len(other) + 2:] for l in out
                       if l.startswith(f"{prefix}{other}: ")]
                if got != lines_of(other):
                    failures.append(f"{name} received from {other}: {got}")
            if name != MODERATOR:
                if f"{prefix}joined org/ns/chat, moderated by {MODERATOR}" not in out:
                    failures.append(f"{name} did not say whom it joined")
                if f"{prefix}the moderator closed the group" not in out:
                    failures.append(f"{name} did not see the close")
        created = f"[{MODERATOR}] created the group on org/ns/chat" + (
            ", end-to-end encrypted (MLS)" if mls else "")
        if created not in outs[MODERATOR]:
            failures.append(f"the moderator did not say: {created}")
        for p in PARTICIPANTS:
            if f"[{MODERATOR}] invited {p}" not in outs[MODERATOR]:
                failures.append(f"the moderator did not invite {p}")
        if failures:
            raise AssertionError("\n".join(failures))
        print("group_chat: every member received every other member's lines, in order"
              + (" (MLS)" if mls else ""))
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
        node.close()


if __name__ == "__main__":
    main()
