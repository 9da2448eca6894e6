#!/usr/bin/python3
"""Interop and bad-input tests for the gRPC transport (src/transport).

Run with Debian's /usr/bin/python3 (it has grpcio):

  run_interop.py slim-server BIN   grpcio client -> our server (BIN = interop_server)
  run_interop.py slim-client BIN   our client (BIN = interop_client) -> grpcio server
  run_interop.py bad-input   BIN   raw sockets -> our server (BIN = interop_server)
  run_interop.py tls-slim-server BIN CERTS   grpcio -> our server over TLS and mTLS
  run_interop.py tls-slim-client BIN CERTS   our client -> grpcio server over TLS and mTLS
  run_interop.py keepalive BIN     our client's keepalive -> grpcio's default ping policy

CERTS is tests/transport_certs.sh: certificates are made at test time with
the openssl command-line tool, into a temporary folder removed at the end.

Every mode prints one line per case and exits non-zero when a case failed.
Servers bind port 0; the driver reads the "listening <address>" line
instead of sleeping. Nothing here waits on a fixed delay except bounded
polls for a state change (each with a 20 s cap).
"""
import os
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent import futures

import grpc

SVC = '/interop.Test/'
MAX = 4 * 1024 * 1024
N_BIDI = 10000
FAIL_MESSAGE = 'bad 100% \u00fcnic\u00f6de\nline'
WHY_BIN = b'\xde\xad\x00\xbe\xef'


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def payload(i):
    """Message i of the bidi test (same as interop_client.c)."""
    return b'%d:' % i + bytes((i * 7 + k) % 256 for k in range(i % 64))


def run_cases(cases, *args):
    failed = 0
    for fn in cases:
        try:
            fn(*args)
            print('ok  ', fn.__name__, flush=True)
        except Exception as e:  # report every case, then fail at the end
            failed += 1
            print('FAIL', fn.__name__, repr(e), flush=True)
    print('%d cases, %d failed' % (len(cases), failed), flush=True)
    return failed


def poll(fn, what, limit=20.0):
    """Calls fn() until it returns a true value; fails after `limit` s."""
    end = time.monotonic() + limit
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > end:
            raise Failure('gave up waiting for ' + what)
        time.sleep(0.01)


def unary(ch, method, req=b'', **kw):
    return ch.unary_unary(SVC + method)(req, timeout=30, **kw)


def expect_error(fn, code):
    try:
        fn()
    except grpc.RpcError as e:
        check(e.code() == code, 'got %s (%s), want %s' % (e.code(), e.details(), code))
        return e
    raise Failure('call succeeded, want %s' % code)


# ---- our server, started as a child process ------------------------------

def start_slim_server(binary, *endpoints, options=(), stderr=None):
    proc = subprocess.Popen([binary, *options, *endpoints], stdout=subprocess.PIPE, text=True,
                            stderr=stderr)
    addrs = []
    for _ in endpoints or [None]:
        line = proc.stdout.readline()
        if not line.startswith('listening '):
            proc.kill()
            raise Failure('server did not start: %r' % line)
        addrs.append(line.split()[1])
    return proc, addrs


def stop_slim_server(proc):
    proc.terminate()
    rc = proc.wait(timeout=60)
    check(rc == 0, 'server exited with %d' % rc)


class Stream:
    """A bidi call fed from a queue, so a test can interleave it."""

    def __init__(self, ch, method):
        self.q = queue.Queue()
        self.responses = ch.stream_stream(SVC + method)(iter(self.q.get, None), timeout=120)

    def send(self, msg):
        self.q.put(msg)

    def recv(self):
        return next(self.responses)

    def close(self):
        self.q.put(None)
        return list(self.responses)


# ---- grpcio client -> our server ------------------------------------------

def unary_with_metadata(ch, target):
    md = [('x-text', 'hello world'), ('x-data-bin', b'\x00\x01\xff,\x80')]
    resp, call = ch.unary_unary(SVC + 'Unary').with_call(b'ping', metadata=md, timeout=30)
    check(resp == b'ping', 'response %r' % resp)
    init = dict(call.initial_metadata())
    trail = dict(call.trailing_metadata())
    check(init.get('x-text') == 'hello world', 'initial metadata %r' % init)
    check(init.get('x-data-bin') == b'\x00\x01\xff,\x80', 'initial metadata %r' % init)
    check(trail.get('x-data-bin') == b'\x00\x01\xff,\x80', 'trailing metadata %r' % trail)


def concurrent_unary(ch, target):
    futs = [ch.unary_unary(SVC + 'Unary').future(b'%d' % i, timeout=30) for i in range(50)]
    for i, f in enumerate(futs):
        check(f.result() == b'%d' % i, 'future %d' % i)


def server_streaming(ch, target):
    items = list(ch.unary_stream(SVC + 'ServerStream')(b'1000', timeout=30))
    check(items == [b'item-%d' % i for i in range(1000)], 'got %d items' % len(items))


def bidi_ten_thousand_each_way_with_half_close(ch, target):
    got = list(ch.stream_stream(SVC + 'Bidi')((payload(i) for i in range(N_BIDI)), timeout=120))
    check(len(got) == N_BIDI + 1, 'got %d messages' % len(got))
    for i in range(N_BIDI):
        if got[i] != payload(i):
            raise Failure('message %d differs: %r' % (i, got[i][:40]))
    check(got[N_BIDI] == b'done:%d' % N_BIDI, 'last %r' % got[N_BIDI])


def client_streaming_half_close(ch, target):
    resp = ch.stream_unary(SVC + 'Sink')(iter([b'a', b'bb', b'ccc']), timeout=30)
    check(resp == b'count:3 bytes:6', 'response %r' % resp)


def unknown_method(ch, target):
    for path in (SVC + 'Nope', '/no.Such/Method'):
        expect_error(lambda: ch.unary_unary(path)(b'x', timeout=30),
                     grpc.StatusCode.UNIMPLEMENTED)


def expired_deadline(ch, target):
    expect_error(lambda: ch.unary_unary(SVC + 'Hang')(b'x', timeout=0.2),
                 grpc.StatusCode.DEADLINE_EXCEEDED)
    # grpcio resets the stream at its deadline too; the server ends the call
    # with whichever came first (the raw-socket test checks the server's own
    # timer alone).
    seen = poll(lambda: unary(ch, 'LastHang') != b'none' and unary(ch, 'LastHang'),
                'the server to end the call')
    check(seen in (b'E_GRPC_DEADLINE_EXCEEDED', b'E_GRPC_CANCELLED'), 'server saw %r' % seen)


def error_status_trailers_only(ch, target):
    e = expect_error(lambda: unary(ch, 'Fail'), grpc.StatusCode.FAILED_PRECONDITION)
    check(e.details() == FAIL_MESSAGE, 'details %r' % e.details())
    check(dict(e.trailing_metadata()).get('x-why-bin') == WHY_BIN,
          'trailers %r' % (e.trailing_metadata(),))


def oversized_request_ends_that_call_only(ch, target):
    s = Stream(ch, 'Bidi')
    s.send(b'first')
    check(s.recv() == b'first', 'echo')
    e = expect_error(lambda: unary(ch, 'Unary', b'x' * (MAX + 1)),
                     grpc.StatusCode.RESOURCE_EXHAUSTED)
    check('larger than max' in e.details(), 'details %r' % e.details())
    s.send(b'second')
    check(s.recv() == b'second', 'echo after the failure')
    check(s.close() == [b'done:2'], 'end of the surviving stream')


def oversized_response_is_refused(ch, target):
    resp = unary(ch, 'TooBig')
    check(resp == b'refused:E_TRANSPORT_MSG_TOO_LARGE queued:0', 'response %r' % resp)


def compressed_message_is_unimplemented(ch, target):
    with grpc.insecure_channel(target, compression=grpc.Compression.Gzip) as gz:
        expect_error(lambda: gz.unary_unary(SVC + 'Unary')(b'z' * 1000, timeout=30),
                     grpc.StatusCode.UNIMPLEMENTED)


def slim_server_mode(binary):
    sock = '/tmp/slim-interop-%d.sock' % os.getpid()
    proc, (addr, uaddr) = start_slim_server(binary, '127.0.0.1:0', 'unix://' + sock)
    print('server listening on', addr, uaddr, flush=True)

    def unix_socket_endpoint(ch, target):
        with grpc.insecure_channel(uaddr) as uch:
            check(unary(uch, 'Unary', b'over unix') == b'over unix', 'unix echo')

    cases = [unary_with_metadata, concurrent_unary, server_streaming,
             bidi_ten_thousand_each_way_with_half_close, client_streaming_half_close,
             unknown_method, expired_deadline, error_status_trailers_only,
             oversized_request_ends_that_call_only, oversized_response_is_refused,
             compressed_message_is_unimplemented, unix_socket_endpoint]
    try:
        with grpc.insecure_channel(addr) as ch:
            failed = run_cases(cases, ch, addr)
    finally:
        stop_slim_server(proc)
    return failed


# ---- our client -> grpcio server -------------------------------------------

class Observed:
    hang_remaining = None


def g_unary(req, ctx):
    md = [(k, v) for k, v in ctx.invocation_metadata() if k.startswith('x-')]
    ctx.send_initial_metadata(md)
    ctx.set_trailing_metadata([(k, v) for k, v in md if k.endswith('-bin')])
    return req


def g_server_stream(req, ctx):
    for i in range(int(req)):
        yield b'item-%d' % i


def g_bidi(it, ctx):
    n = 0
    for m in it:
        n += 1
        yield m
    yield b'done:%d' % n


def g_hang(req, ctx):
    Observed.hang_remaining = ctx.time_remaining()
    ended = threading.Event()
    ctx.add_callback(ended.set)
    ended.wait(60)
    return b''


def g_last_hang(req, ctx):
    r = Observed.hang_remaining
    if r is not None and 0 < r <= 1.0:
        return b'deadline-seen'
    return b'time_remaining=%r' % r


def g_fail(req, ctx):
    ctx.set_trailing_metadata([('x-why-bin', WHY_BIN)])
    ctx.abort(grpc.StatusCode.FAILED_PRECONDITION, FAIL_MESSAGE)


def g_big(req, ctx):
    return b'z' * (MAX + 1)


def grpcio_server(start=True):
    h = grpc.method_handlers_generic_handler('interop.Test', {
        'Unary': grpc.unary_unary_rpc_method_handler(g_unary),
        'ServerStream': grpc.unary_stream_rpc_method_handler(g_server_stream),
        'Bidi': grpc.stream_stream_rpc_method_handler(g_bidi),
        'Hang': grpc.unary_unary_rpc_method_handler(g_hang),
        'LastHang': grpc.unary_unary_rpc_method_handler(g_last_hang),
        'Fail': grpc.unary_unary_rpc_method_handler(g_fail),
        'Big': grpc.unary_unary_rpc_method_handler(g_big),
    })
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    server.add_generic_rpc_handlers((h,))
    if not start:
        return server, None
    port = server.add_insecure_port('127.0.0.1:0')
    server.start()
    return server, '127.0.0.1:%d' % port


def slim_client_mode(binary):
    server, addr = grpcio_server()
    print('grpcio server listening on', addr, flush=True)
    try:
        rc = subprocess.run([binary, 'http://' + addr], timeout=600).returncode
    finally:
        server.stop(None)
    print('interop_client exited with', rc, flush=True)
    return 0 if rc == 0 else 1


# ---- raw sockets -> our server ---------------------------------------------

PREFACE = b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'
DATA, HEADERS, RST_STREAM, SETTINGS, GOAWAY, WINDOW_UPDATE = 0, 1, 3, 4, 7, 8
END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1


def frame(ftype, flags, sid, body=b''):
    return len(body).to_bytes(3, 'big') + bytes([ftype, flags]) + sid.to_bytes(4, 'big') + body


def hpack_literal(name, value):
    """A literal header field without indexing, new name, no Huffman."""
    assert len(name) < 127 and len(value) < 127
    return b'\x00' + bytes([len(name)]) + name + bytes([len(value)]) + value


def request_headers(path, extra=()):
    fields = [(b':method', b'POST'), (b':scheme', b'http'), (b':path', path),
              (b':authority', b'raw'), (b'te', b'trailers'),
              (b'content-type', b'application/grpc'), *extra]
    return b''.join(hpack_literal(n, v) for n, v in fields)


def raw_connect(addr):
    host, port = addr.rsplit(':', 1)
    s = socket.create_connection((host, int(port)), timeout=20)
    return s


def closed_by_server(s):
    """Reads until the server closes the connection; False on a timeout."""
    try:
        while s.recv(65536):
            pass
        return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def read_until(s, want):
    """Reads frames, answering SETTINGS, until want(type, flags, sid) holds."""
    buf = b''
    while True:
        while len(buf) >= 9:
            n = int.from_bytes(buf[:3], 'big')
            if len(buf) < 9 + n:
                break
            ftype, flags = buf[3], buf[4]
            sid = int.from_bytes(buf[5:9], 'big') & 0x7fffffff
            buf = buf[9 + n:]
            if ftype == SETTINGS and not flags & ACK:
                s.sendall(frame(SETTINGS, ACK, 0))
            if want(ftype, flags, sid):
                return ftype, flags
        data = s.recv(65536)
        if not data:
            raise Failure('connection closed before the expected frame')
        buf += data


def stream_ended(sid):
    return lambda t, f, s: s == sid and (t == RST_STREAM or (t in (HEADERS, DATA) and f & END_STREAM))


def garbage_instead_of_preface(ch, addr):
    s = raw_connect(addr)
    s.sendall(b'GET / HTTP/1.1\r\nHost: x\r\n\r\n' + b'\x00garbage' * 10)
    check(closed_by_server(s), 'server kept the connection')
    s.close()


def bad_preface(ch, addr):
    s = raw_connect(addr)
    s.sendall(b'PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n')
    check(closed_by_server(s), 'server kept the connection')
    s.close()


def garbage_after_preface(ch, addr):
    s = raw_connect(addr)
    s.sendall(PREFACE + frame(SETTINGS, 0, 0) + b'\xff' * 64)
    check(closed_by_server(s), 'server kept the connection')
    s.close()


def truncated_frame(ch, addr):
    s = raw_connect(addr)
    # A SETTINGS frame announcing 12 bytes, of which 3 arrive.
    s.sendall(PREFACE + (12).to_bytes(3, 'big') + bytes([SETTINGS, 0]) + bytes(4) + b'\x00\x03\x00')
    s.shutdown(socket.SHUT_WR)
    check(closed_by_server(s), 'server kept the connection')
    s.close()


def connect_and_vanish(ch, addr):
    s = raw_connect(addr)
    s.close()


def compressed_message(ch, addr):
    s = raw_connect(addr)
    s.sendall(PREFACE + frame(SETTINGS, 0, 0) +
              frame(HEADERS, END_HEADERS, 1, request_headers(SVC.encode() + b'Bidi')) +
              frame(DATA, END_STREAM, 1, b'\x01\x00\x00\x00\x03abc'))
    read_until(s, stream_ended(1))
    s.close()
    seen = unary(ch, 'LastBidi')
    check(seen == b'E_GRPC_UNIMPLEMENTED', 'server ended the call with %r' % seen)


def server_deadline(ch, addr):
    # This client never cancels: only the server's own timer can end the call.
    s = raw_connect(addr)
    s.sendall(PREFACE + frame(SETTINGS, 0, 0) +
              frame(HEADERS, END_HEADERS, 1,
                    request_headers(SVC.encode() + b'Hang', [(b'grpc-timeout', b'100m')])))
    read_until(s, stream_ended(1))
    s.close()
    seen = poll(lambda: unary(ch, 'LastHang') != b'none' and unary(ch, 'LastHang'),
                'the server to end the call')
    check(seen == b'E_GRPC_DEADLINE_EXCEEDED', 'server ended the call with %r' % seen)


def closes_mid_message(ch, addr):
    s = raw_connect(addr)
    # The prefix announces 100 bytes; 10 arrive, then the peer is gone.
    s.sendall(PREFACE + frame(SETTINGS, 0, 0) +
              frame(HEADERS, END_HEADERS, 1, request_headers(SVC.encode() + b'Bidi')) +
              frame(DATA, 0, 1, b'\x00\x00\x00\x00\x64' + b'0123456789'))
    read_until(s, lambda t, f, sid: t == SETTINGS and not f & ACK)
    s.close()
    seen = poll(lambda: unary(ch, 'LastBidi') == b'E_GRPC_UNAVAILABLE',
                'the call to end with UNAVAILABLE')
    check(seen, 'server ended the call otherwise')


def vanishes_while_server_writes(ch, addr):
    # The peer asks for a large stream and leaves without reading: the
    # server's writes then fail with EPIPE/ECONNRESET, which must close that
    # connection only (and never raise SIGPIPE in the server).
    s = raw_connect(addr)
    big_window = (4).to_bytes(2, 'big') + (0x7fffffff).to_bytes(4, 'big')  # INITIAL_WINDOW_SIZE
    s.sendall(PREFACE + frame(SETTINGS, 0, 0, big_window) +
              frame(WINDOW_UPDATE, 0, 0, (0x7fff0000).to_bytes(4, 'big')) +
              frame(HEADERS, END_HEADERS, 1, request_headers(SVC.encode() + b'ServerStream')) +
              frame(DATA, END_STREAM, 1, b'\x00\x00\x00\x00\x06200000'))
    read_until(s, lambda t, f, sid: t == DATA and sid == 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\x01\x00\x00\x00\x00\x00\x00\x00')
    s.close()  # with unread data and linger 0: an RST


def bad_input_mode(binary):
    proc, (addr,) = start_slim_server(binary)
    print('server listening on', addr, flush=True)
    try:
        with grpc.insecure_channel(addr) as ch:
            check(unary(ch, 'Unary', b'hi') == b'hi', 'server answers')
            survivor = Stream(ch, 'Bidi')  # must outlive every bad peer
            survivor.send(b'before')
            check(survivor.recv() == b'before', 'survivor echo')

            def after_each(fn):
                def case(ch, addr):
                    fn(ch, addr)
                    # The bad connection is gone and the server serves others.
                    poll(lambda: unary(ch, 'Connections') == b'1', 'the connection to be closed')
                    check(unary(ch, 'Unary', b'still') == b'still', 'server answers')
                case.__name__ = fn.__name__
                return case

            cases = [after_each(c) for c in (
                garbage_instead_of_preface, bad_preface, garbage_after_preface, truncated_frame,
                connect_and_vanish, compressed_message, server_deadline, closes_mid_message,
                vanishes_while_server_writes)]
            failed = run_cases(cases, ch, addr)
            survivor.send(b'after')
            check(survivor.recv() == b'after', 'survivor echo after the bad peers')
            check(survivor.close() == [b'done:2'], 'survivor end')
    finally:
        stop_slim_server(proc)
    return failed


# ---- TLS: certificates made at test time ----------------------------------

class Certs:
    def __init__(self, script):
        self.dir = tempfile.mkdtemp(prefix='slim-interop-certs-')
        subprocess.run(['sh', script, self.dir], check=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def read(self, name):
        with open(self.path(name), 'rb') as f:
            return f.read()

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class LogFile:
    """A server's stderr, to check the lines it logs."""

    def __init__(self):
        self.f = tempfile.NamedTemporaryFile('w+', prefix='slim-interop-log-', delete=False)

    def text(self):
        with open(self.f.name) as f:
            return f.read()

    def wait_for(self, needle):
        poll(lambda: needle in self.text(), 'server log line %r' % needle)

    def cleanup(self):
        self.f.close()
        os.unlink(self.f.name)


def tls_channel(certs, port, client=None, ca='ca.pem'):
    creds = grpc.ssl_channel_credentials(
        root_certificates=certs.read(ca),
        private_key=certs.read(client + '.key') if client else None,
        certificate_chain=certs.read(client + '.pem') if client else None)
    return grpc.secure_channel('localhost:%s' % port, creds)


def tls_slim_server_mode(binary, script):
    """grpcio client -> our server, TLS then mutual TLS, and refusals."""
    certs, log = Certs(script), LogFile()
    failed = 0
    try:
        cases = [unary_with_metadata, concurrent_unary, server_streaming,
                 bidi_ten_thousand_each_way_with_half_close, client_streaming_half_close,
                 unknown_method, error_status_trailers_only]
        proc, (addr,) = start_slim_server(
            binary, options=['--cert', certs.path('server.pem'), '--key', certs.path('server.key')],
            stderr=log.f)
        port = addr.rsplit(':', 1)[1]
        print('TLS server listening on', addr, flush=True)
        try:
            with tls_channel(certs, port) as ch:
                failed += run_cases(cases, ch, addr)

            def plaintext_client_is_refused(ch, addr):
                with grpc.insecure_channel(addr) as plain:
                    e = expect_error(lambda: unary(plain, 'Unary', b'x'),
                                     grpc.StatusCode.UNAVAILABLE)
                    print('    grpcio says:', e.details(), flush=True)
                log.wait_for('plaintext peer on a TLS port')
                log.wait_for('(E_TLS_PLAINTEXT_PEER)')

            def wrong_ca_is_refused(ch, addr):
                with tls_channel(certs, port, ca='other-ca.pem') as bad:
                    expect_error(lambda: unary(bad, 'Unary', b'x'), grpc.StatusCode.UNAVAILABLE)
                # grpcio hangs up without an alert; our server says so.
                log.wait_for('the connection closed during the TLS handshake')

            failed += run_cases([plaintext_client_is_refused, wrong_ca_is_refused], None, addr)
        finally:
            stop_slim_server(proc)

        proc, (addr,) = start_slim_server(
            binary, options=['--cert', certs.path('server.pem'), '--key', certs.path('server.key'),
                             '--client-ca', certs.path('ca.pem')], stderr=log.f)
        port = addr.rsplit(':', 1)[1]
        print('mTLS server listening on', addr, flush=True)
        try:
            with tls_channel(certs, port, client='client') as ch:
                failed += run_cases([unary_with_metadata, server_streaming,
                                     bidi_ten_thousand_each_way_with_half_close], ch, addr)

            def missing_client_certificate(ch, addr):
                with tls_channel(certs, port) as bad:
                    expect_error(lambda: unary(bad, 'Unary', b'x'), grpc.StatusCode.UNAVAILABLE)
                log.wait_for('the client sent no certificate and this server requires one')
                log.wait_for('(E_TLS_NO_CLIENT_CERT)')

            def client_certificate_from_another_ca(ch, addr):
                with tls_channel(certs, port, client='other-client') as bad:
                    expect_error(lambda: unary(bad, 'Unary', b'x'), grpc.StatusCode.UNAVAILABLE)
                log.wait_for('client certificate verify failed')
                log.wait_for('(E_TLS_CERT_UNTRUSTED)')

            failed += run_cases([missing_client_certificate, client_certificate_from_another_ca],
                                None, addr)
        finally:
            stop_slim_server(proc)
    finally:
        certs.cleanup()
        log.cleanup()
    return failed


def grpcio_tls_server(certs, mutual):
    server, _ = grpcio_server(start=False)
    creds = grpc.ssl_server_credentials([(certs.read('server.key'), certs.read('server.pem'))],
                                        root_certificates=certs.read('ca.pem') if mutual else None,
                                        require_client_auth=mutual)
    port = server.add_secure_port('127.0.0.1:0', creds)
    server.start()
    return server, port


def run_client(binary, *args):
    rc = subprocess.run([binary, *args], timeout=600).returncode
    print('interop_client', ' '.join(args[:-1] if args else ()), 'exited with', rc, flush=True)
    return 0 if rc == 0 else 1


def tls_slim_client_mode(binary, script):
    """our client -> grpcio server, TLS then mutual TLS, and refusals."""
    certs = Certs(script)
    failed = 0
    try:
        server, port = grpcio_tls_server(certs, mutual=False)
        target = 'https://localhost:%d' % port
        print('grpcio TLS server listening on', target, flush=True)
        try:
            failed += run_client(binary, '--ca', certs.path('ca.pem'), target)
            failed += run_client(binary, '--ca', certs.path('other-ca.pem'),
                                 '--expect-fail', 'E_TLS_CERT_UNTRUSTED', target)
            # Plaintext our side, TLS grpcio's: grpcio hangs up without a
            # word, so the client can only say so (and hint at https://).
            failed += run_client(binary, '--expect-fail', 'E_TRANSPORT_CONN_LOST',
                                 'http://127.0.0.1:%d' % port)
        finally:
            server.stop(None)
        # TLS our side, plaintext grpcio's.
        server, addr = grpcio_server()
        try:
            failed += run_client(binary, '--ca', certs.path('ca.pem'), '--expect-fail',
                                 'E_TLS_PLAINTEXT_PEER', 'https://' + addr)
        finally:
            server.stop(None)
        server, port = grpcio_tls_server(certs, mutual=True)
        target = 'https://localhost:%d' % port
        print('grpcio mTLS server listening on', target, flush=True)
        try:
            failed += run_client(binary, '--ca', certs.path('ca.pem'), '--cert',
                                 certs.path('client.pem'), '--key', certs.path('client.key'),
                                 target, 'unary_with_metadata', 'server_streaming',
                                 'bidi_ten_thousand_each_way_with_half_close')
            failed += run_client(binary, '--ca', certs.path('ca.pem'), '--expect-fail',
                                 'E_TLS_NO_CLIENT_CERT', target)
            failed += run_client(binary, '--ca', certs.path('ca.pem'), '--cert',
                                 certs.path('other-client.pem'), '--key',
                                 certs.path('other-client.key'), '--expect-fail',
                                 'E_TLS_CERT_REJECTED', target)
        finally:
            server.stop(None)
    finally:
        certs.cleanup()
    return failed


def keepalive_mode(binary):
    """our client's keepalive against grpcio's default ping policy."""
    server, addr = grpcio_server()
    print('grpcio server (default ping policy) listening on', addr, flush=True)
    try:
        return run_client(binary, 'http://' + addr, 'keepalive_respects_grpc_ping_policy',
                          'keepalive_without_the_floor_gets_too_many_pings')
    finally:
        server.stop(None)


def main():
    modes = {'slim-server': 3, 'slim-client': 3, 'bad-input': 3, 'keepalive': 3,
             'tls-slim-server': 4, 'tls-slim-client': 4}
    if len(sys.argv) < 3 or modes.get(sys.argv[1]) != len(sys.argv):
        print(__doc__, file=sys.stderr)
        return 2
    mode, binary = sys.argv[1], sys.argv[2]
    if mode == 'slim-server':
        return 1 if slim_server_mode(binary) else 0
    if mode == 'slim-client':
        return slim_client_mode(binary)
    if mode == 'keepalive':
        return keepalive_mode(binary)
    if mode == 'tls-slim-server':
        return 1 if tls_slim_server_mode(binary, sys.argv[3]) else 0
    if mode == 'tls-slim-client':
        return 1 if tls_slim_client_mode(binary, sys.argv[3]) else 0
    return 1 if bad_input_mode(binary) else 0


if __name__ == '__main__':
    sys.exit(main())
