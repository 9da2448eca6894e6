#!/usr/bin/env python3
"""Checks the sealed state file format (src/client/state_file.h) against an
AES-GCM we did not write, python3-cryptography's AESGCM, both ways:

  - files our writer makes are opened here with the key and the AAD the
    format names (magic "SLIMSTAT" and version 1), and give back the
    plaintext; they are mode 0600 and hold no plaintext;
  - files sealed here in the format are opened by our reader; the same
    files altered, sealed under other AAD, or of another version are
    refused with the statuses state_file.h names.

Usage: check_state_file.py STATE_FILE_TOOL
"""
import os
import stat
import subprocess
import sys
import tempfile

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"SLIMSTAT"
VERSION = 1
HEAD = MAGIC + bytes([VERSION])
NONCE_LEN = 12
TAG_LEN = 16

failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL:", what)


def hexarg(b):
    return b.hex() if b else "-"


def tool(*args):
    out = subprocess.run([TOOL, *args], check=True, capture_output=True, text=True).stdout
    return out.split()


def c_write(path, key, plaintext):
    return tool("write", path, key.hex(), hexarg(plaintext))


def c_read(path, key):
    """(status, plaintext or None) as our reader gives them."""
    words = tool("read", path, key.hex())
    if words[0] != "OK":
        return words[0], None
    return "OK", bytes.fromhex(words[1]) if len(words) > 1 else b""


def py_seal(key, plaintext, head=HEAD, aad=HEAD, nonce=None):
    nonce = nonce if nonce is not None else os.urandom(NONCE_LEN)
    return head + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def py_open(key, data):
    check(len(data) >= len(HEAD) + NONCE_LEN + TAG_LEN, "file shorter than the envelope")
    check(data[:8] == MAGIC, "magic is %r" % data[:8])
    check(data[8] == VERSION, "version is %d" % data[8])
    nonce = data[9 : 9 + NONCE_LEN]
    try:
        return AESGCM(key).decrypt(nonce, data[9 + NONCE_LEN :], HEAD)
    except InvalidTag:
        check(False, "AESGCM: the tag does not verify under the key and the format's AAD")
        return None


def ours_to_python(d):
    key = AESGCM.generate_key(bit_length=256)
    marker = b"marker: the state of agntcy/ns/alice, not for the disk"
    for plaintext in (marker, b"", marker * 1000):
        path = os.path.join(d, "ours.state")
        check(c_write(path, key, plaintext) == ["OK"], "our writer failed")
        with open(path, "rb") as f:
            data = f.read()
        check(len(data) == 9 + NONCE_LEN + len(plaintext) + TAG_LEN, "file length %d" % len(data))
        check(py_open(key, data) == plaintext, "AESGCM opened another plaintext")
        check(stat.S_IMODE(os.stat(path).st_mode) == 0o600, "mode %o" % os.stat(path).st_mode)
        check(plaintext == b"" or marker not in data, "the plaintext is in the file")
        check(not os.path.exists(path + ".tmp"), "temporary file left")
    # a fresh nonce per write: the same state twice gives two files
    a = os.path.join(d, "a.state")
    b = os.path.join(d, "b.state")
    c_write(a, key, marker)
    c_write(b, key, marker)
    with open(a, "rb") as fa, open(b, "rb") as fb:
        da, db = fa.read(), fb.read()
    check(da[9:21] != db[9:21], "two writes used the same nonce")
    check(da != db, "two writes gave the same bytes")


def python_to_ours(d):
    key = AESGCM.generate_key(bit_length=256)
    other = AESGCM.generate_key(bit_length=256)
    path = os.path.join(d, "theirs.state")
    plaintext = bytes(range(256)) * 3

    def put(data):
        with open(path, "wb") as f:
            f.write(data)

    for pt in (plaintext, b"", b"x"):
        put(py_seal(key, pt))
        check(c_read(path, key) == ("OK", pt), "our reader did not open AESGCM's file")
    sealed = py_seal(key, plaintext)
    put(sealed)
    check(c_read(path, other)[0] == "E_STATE_ALTERED", "another key was not refused")
    # sealed with other AAD than the format's, or none
    for aad in (MAGIC, b"", MAGIC + b"\x02", b"slimstat\x01"):
        put(py_seal(key, plaintext, aad=aad))
        check(c_read(path, key)[0] == "E_STATE_ALTERED", "AAD %r was accepted" % aad)
    # another version, sealed consistently under its own head
    head2 = MAGIC + b"\x02"
    put(py_seal(key, plaintext, head=head2, aad=head2))
    check(c_read(path, key)[0] == "E_STATE_FORMAT", "version 2 was not refused")
    put(b"NOTSLIM!" + sealed[8:])
    check(c_read(path, key)[0] == "E_STATE_FORMAT", "a wrong magic was not refused")
    # a sample of single-bit changes in each part (the C test flips every byte)
    for pos in (0, 7, 8, 9, 20, 21, len(sealed) // 2, len(sealed) - 17, len(sealed) - 1):
        bad = bytearray(sealed)
        bad[pos] ^= 0x10
        put(bytes(bad))
        want = "E_STATE_FORMAT" if pos < 9 else "E_STATE_ALTERED"
        got = c_read(path, key)[0]
        check(got == want, "bit flip at %d: %s, want %s" % (pos, got, want))
    put(sealed[: 9 + NONCE_LEN + TAG_LEN - 1])
    check(c_read(path, key)[0] == "E_STATE_FORMAT", "a short file was not refused")
    os.remove(path)
    check(c_read(path, key)[0] == "E_IO", "a missing file was not E_IO")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    TOOL = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        ours_to_python(d)
        python_to_ours(d)
    if failures:
        print("%d check(s) failed" % failures)
        sys.exit(1)
    print("ok: state files agree with python3-cryptography's AESGCM both ways")
