#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_sessions (tests/fuzz/corpus/fuzz_sessions/).

Each seed is a short script in the input language of fuzz_sessions.c: one
settings byte, then operations with their argument bytes. The helpers below
mirror how fuzz_sessions.c reads them, so a seed starts where the comment
says. Run it from anywhere; it rewrites the seed files.

    python3 tests/fuzz/sessions_seeds.py
"""
import os

ALICE, BOB, CAROL = 0, 1, 2
# Session messages types (sessions.h / ss_int.h).
MSG, MSG_ACK, RTX_REQ, RTX_REPLY = 1, 2, 3, 4
DISC_REQ, DISC_REPLY, JOIN_REQ, JOIN_REPLY = 5, 6, 7, 8
LEAVE_REQ, LEAVE_REPLY, WELCOME, CLOSE, GROUP_ACK, HEARTBEAT = 9, 10, 12, 13, 15, 17


def advance(ms):  # op 6: 0..255 ms
    return bytes([6, ms])


def advance_long(units, seconds=False):  # op 7: units x 50 ms, or x 1000 ms
    return bytes([7 | (16 if seconds else 0), units])


def publish(app, sess, mode=3):  # op 8; sess: index in the app's sessions
    return bytes([8, app, sess, mode])


def close(app, sess, with_op=True):  # op 10
    return bytes([10, app, sess, 1 if with_op else 0])


def open_(app, to, anycast=False, any_id=True, timers=0):  # op 11; to 3: nobody
    return bytes([11, app, (to << 2) | (2 if any_id else 0) | (1 if anycast else 0), timers])


def flight(kind, index, delay=0):  # op 12: 0 drop, 1 copy, 2 delay
    return bytes([12, kind, index & 0xFF, index >> 8, delay & 0xFF, delay >> 8])


def impair(kind, value, extra=0):  # op 13: 0 loss, 1 dup, 2 delay, 3 partition
    return bytes([13, kind, value, extra & 0xFF, extra >> 8])


def names(app, name, remove=False):  # op 31: name 0 shared, 1 alice, 2 bob, 3 carol
    return bytes([31, (name << 4) | (app << 1) | (1 if remove else 0)])


def partition(x, y):  # op 13 kind 3: toggles the cut between apps x and y
    v = next(v for v in range(256) if v % 3 == x and (v >> 4) % 3 == y)
    return impair(3, v)


def identity(app, mode):  # op 14: 0 accept all, 2 check, 3 refuse, 4 bad token, 5 no sig
    return bytes([14, (app << 3) | mode])


# op 15 | 3 << 5: groups. Its action byte: 0 open (the app moderates it),
# 1 invite, 2 remove, 3 publish to the app's latest group.
GROUP = 15 | 3 << 5


def group_open(app, chat=True, timers=0, with_op=True):  # timers: index as in open_
    return bytes([GROUP, app, 0, (1 if chat else 0) | (timers << 1) | (0 if with_op else 8)])


def invite(app, who, remove=False, any_id=True, with_op=True):  # who 3: nobody
    return bytes([GROUP, app, (who << 2) | (2 if remove else 1),
                  (16 if any_id else 0) | (0 if with_op else 32)])


def group_publish(app):
    return bytes([GROUP, app, 3, 0])


# op 15 | 6 << 5: the app's way out congested, or one of its sessions held.
FLOW = 15 | 6 << 5


def congested(app, on):
    return bytes([FLOW, app, 1 | (2 if on else 0)])


def hold(app, sess, on):  # sess: index in the app's sessions
    return bytes([FLOW, app, 2 if on else 0, sess])


# Names in templates: 0 full name of `app`, 3 its service (any id), 5 a
# stranger, 6 full name without text, 7 the target itself.
def name(kind, app=0):
    return bytes([(app << 3) | kind])


def template(to, mtype, src, dst, sid, mid, content=0, payload=b"", cmd=b"",
             conn=0, meta=b"\x00", ident=0, how=0, stype=0, flags=0):
    """op 1: one session message built from the template.

    sid/mid/cmd are byte strings as fuzz_sessions.c reads them (see
    sid_of and mid_of); content 0 none, 1 an application payload (payload,
    then its type index), 3 the command payload of the type (cmd fills
    it)."""
    out = bytes([1, to, mtype, stype]) + src + dst + b"\x01" + bytes([flags])
    out += sid + mid + bytes([conn])
    out += bytes([content])
    if content == 1:
        out += bytes([len(payload)]) + payload + b"\x00"
    elif content == 3:
        out += cmd
    out += meta + bytes([ident, how])
    return out


def sid_target(index):  # a session the target knows
    return bytes([0, index])


def sid_new(value):  # any id
    return bytes([5]) + value.to_bytes(4, "little")


def sid_bad(k):  # 4294966294 + k (k >= 1: out of range)
    return bytes([6, (k + 1) % 4])


def mid_of(app, index, delta=0):  # near the messages an app's session sent
    return bytes([(app << 3) | 0, delta & 0xFF, index])


def mid_wire(slot):  # an id seen on the wire
    return bytes([3, 0, slot])


def mid_raw(value):
    return bytes([4, 0]) + value.to_bytes(4, "little")


SEEDS = {
    # Traffic both ways on the unicast session, clean network.
    "clean_traffic": bytes([0])
    + (publish(ALICE, 0) + publish(BOB, 0) + advance(20)) * 4
    + publish(ALICE, 1) + publish(BOB, 1) + advance(50),
    # The same under loss, duplication and delays, then a long wait.
    "lossy": bytes([0])
    + impair(0, 3) + impair(1, 2) + impair(2, 5, 400)
    + (publish(ALICE, 0) + publish(BOB, 0) + advance(200)) * 5
    + advance_long(20, True),
    # Unreliable unicast, node errors, loose routes, reliable anycast.
    "unreliable": bytes([1 | 2 | 4 | 8 | 16])
    + (publish(ALICE, 0) + publish(BOB, 0) + publish(ALICE, 1) + advance(30)) * 3,
    # Data and acknowledgements injected into the live session, from a
    # stranger, from the peer's name with another id and from the peer.
    "forged_data": bytes([0])
    + publish(ALICE, 0) + advance(5)
    + template(BOB, MSG, name(5), name(7), sid_target(0), mid_of(ALICE, 0, 1), 1, b"hi")
    + template(BOB, MSG, name(0, ALICE), name(7), sid_target(0), mid_of(ALICE, 0, 3), 1, b"x")
    + template(ALICE, MSG_ACK, name(0, BOB), name(7), sid_target(0), mid_of(ALICE, 0, 1), 1)
    + template(ALICE, RTX_REQ, name(0, BOB), name(7), sid_target(0), mid_of(ALICE, 0), 1)
    + template(BOB, RTX_REPLY, name(0, ALICE), name(7), sid_target(0), mid_of(ALICE, 0, 5),
               1, b"", flags=4 | 8)
    + advance_long(40),
    # Closes and leaves: a stranger's, the peer's, after the end.
    "forged_close": bytes([0])
    + template(BOB, CLOSE, name(5), name(7), sid_target(0), mid_raw(7), 3, cmd=b"\x02\x05\x00")
    + template(ALICE, LEAVE_REQ, name(3, BOB), name(7), sid_target(0), mid_raw(9), 3)
    + template(BOB, CLOSE, name(0, ALICE), name(7), sid_target(0), mid_raw(11), 3, cmd=b"\x00")
    + advance(100)
    + template(BOB, CLOSE, name(0, ALICE), name(7), sid_target(0), mid_raw(11), 3, cmd=b"\x00")
    + advance_long(10, True),
    # A stranger joins bob, is welcomed by itself, then talks and leaves.
    "forged_join": bytes([8])
    + template(BOB, JOIN_REQ, name(5), name(7), sid_new(77), mid_raw(5), 3,
               cmd=b"\x01\xe8\x03\x02", conn=3)
    + advance(20)
    + template(BOB, WELCOME, name(5), name(7), sid_new(77), mid_raw(6), 3, cmd=b"\x00", conn=3)
    + template(BOB, MSG, name(5), name(7), sid_new(77), mid_raw(1), 1, b"data", conn=3)
    + advance(20)
    + template(BOB, LEAVE_REQ, name(5), name(7), sid_new(77), mid_raw(8), 3, conn=3)
    + advance_long(30, True),
    # Discovery of bob and of alice by a stranger, with good and bad tokens,
    # and a discovery reply nobody asked for.
    "discovery": bytes([0])
    + template(BOB, DISC_REQ, name(5), name(3, BOB), sid_new(5), mid_raw(3), 3)
    + template(ALICE, DISC_REQ, name(5), name(3, ALICE), sid_new(6), mid_raw(4), 3, ident=2)
    + identity(BOB, 2)
    + template(BOB, DISC_REQ, name(5), name(3, BOB), sid_new(7), mid_raw(5), 3, ident=2)
    + template(ALICE, DISC_REPLY, name(0, BOB), name(7), sid_target(0), mid_wire(0), 3)
    + advance(50),
    # Opens and closes of new sessions both ways, anycast to carol.
    "open_close": bytes([0])
    + open_(BOB, ALICE) + open_(CAROL, BOB, anycast=True) + open_(ALICE, 3)
    + advance(100) + publish(BOB, 2) + publish(CAROL, 0) + advance(50)
    + close(BOB, 2) + close(ALICE, 0) + close(CAROL, 0, False)
    + advance_long(15, True),
    # Messages in flight dropped, copied and delayed.
    "flight": bytes([0])
    + publish(ALICE, 0) + publish(ALICE, 0) + publish(BOB, 0)
    + flight(0, 0) + flight(1, 0, 700) + flight(2, 1, 3000)
    + advance(200) + advance_long(80),
    # Identity refused and bad tokens, then healed.
    "identity": bytes([0])
    + identity(BOB, 3) + publish(ALICE, 0) + advance(100)
    + identity(BOB, 0) + identity(ALICE, 4) + publish(ALICE, 0) + advance(100)
    + identity(ALICE, 4) + advance_long(10, True),
    # Opens closed at each step of the handshake (every hop takes 50 ms:
    # discovery, route, join, welcome), and a route the router refuses.
    "close_during_join": bytes([0])
    + impair(2, 49, 0)
    + open_(BOB, ALICE) + advance(20) + close(BOB, 2)
    + open_(CAROL, ALICE) + advance(120) + close(CAROL, 0)
    + open_(ALICE, CAROL) + advance(220) + close(ALICE, 2)
    + advance_long(10, True)
    + impair(4, 0) + open_(BOB, CAROL) + advance_long(10, True),
    # Names: bob and carol answer for a shared name, alice opens both kinds
    # of session to it; bob stops answering for it; carol tries to drop
    # its own name. Few sessions allowed.
    "names": bytes([128])
    + names(BOB, 0) + names(CAROL, 0)
    + open_(ALICE, 4) + open_(ALICE, 4, anycast=True)
    + advance(50) + publish(ALICE, 3) + publish(ALICE, 3) + advance(50)
    + names(BOB, 0, remove=True) + names(CAROL, 3, remove=True) + names(ALICE, 2, remove=True)
    + advance_long(10, True),
    # Joins and discoveries addressed to bob's full name without text, and
    # a join with a session id out of range.
    "no_text": bytes([0])
    + template(BOB, JOIN_REQ, name(5), name(6, BOB), sid_new(91), mid_raw(5), 3, cmd=b"\x00",
               conn=3)
    + template(BOB, DISC_REQ, name(5), name(6, BOB), sid_new(92), mid_raw(6), 3, conn=3)
    + template(BOB, JOIN_REQ, name(5), name(7), sid_bad(1), mid_raw(7), 3, cmd=b"\x00", conn=3)
    + advance_long(30, True),
    # A tiny backlog (6 outputs) filled by inputs whose outputs are held.
    "backlog": bytes([32])
    + b"".join(template(BOB, MSG, name(0, ALICE), name(7), sid_target(0), mid_raw(k), 1, b"d",
                        how=2) for k in range(1, 6))
    + publish(BOB, 0) + advance(50),
    # Discovery replies to an open whose request was lost: one per id seen
    # on the wire, without a connection, then from carol's name without
    # text.
    "discovery_reply": bytes([0])
    + open_(ALICE, CAROL) + flight(0, 0)
    + b"".join(template(ALICE, DISC_REPLY, name(6, CAROL), name(7), sid_target(2), mid_wire(k),
                        3, conn=1) for k in range(16))
    + b"".join(template(ALICE, DISC_REPLY, name(6, CAROL), name(7), sid_target(2), mid_wire(k),
                        3, conn=0) for k in range(16))
    + advance_long(10, True),
    # alice cut off from bob publishes past its window of 512 messages.
    "window": bytes([0])
    + partition(ALICE, BOB) + publish(ALICE, 0) * 520 + advance_long(20, True),
    # A group alice moderates: bob and carol invited, everyone publishes,
    # carol removed, nobody invited, bob leaves.
    "group": bytes([0])
    + group_open(ALICE) + invite(ALICE, BOB) + invite(ALICE, CAROL)
    + advance_long(20)
    + (group_publish(ALICE) + group_publish(BOB) + group_publish(CAROL) + advance(30)) * 3
    + invite(ALICE, CAROL, remove=True) + invite(ALICE, 3) + invite(ALICE, BOB, any_id=False) + advance_long(10, True)
    + group_publish(ALICE) + close(BOB, 2) + advance_long(10, True),
    # A group under loss with its moderator congested and a member held,
    # then both released; a second group closed while it invites.
    "group_flow": bytes([16])
    + group_open(ALICE, timers=2) + invite(ALICE, BOB) + invite(ALICE, CAROL)
    + advance_long(20) + impair(0, 2)
    + congested(ALICE, True) + group_publish(ALICE) + group_publish(ALICE) + advance_long(60)
    + hold(BOB, 2, True) + congested(ALICE, False) + group_publish(ALICE) + group_publish(CAROL)
    + advance_long(30) + hold(BOB, 2, False) + congested(CAROL, True) + advance_long(10, True)
    + congested(CAROL, False)
    + group_open(BOB, chat=False) + invite(BOB, CAROL) + advance(20) + close(BOB, 3)
    + advance_long(10, True),
    # Raw bytes: an empty Publish, a truncated field and garbage.
    "raw": bytes([0])
    + bytes([0, BOB, 4, 0x0a, 0x02, 0x0a, 0x00, 0])
    + bytes([0, ALICE, 3, 0x0a, 0x05, 0x0a, 0])
    + bytes([0, BOB, 6, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0])
    + advance(10),
}
# Everything above after one another (one longer input, so that libFuzzer's
# length limit starts where several operations fit).
SEEDS["mix"] = bytes([0]) + b"".join(v[1:] for k, v in SEEDS.items() if k != "window")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "corpus", "fuzz_sessions")
    os.makedirs(out, exist_ok=True)
    for name_, data in SEEDS.items():
        with open(os.path.join(out, name_), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
