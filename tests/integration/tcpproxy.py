"""A TCP proxy for tests: forwards one local port to a target and can cut
every connection through it and refuse new ones, then let them through
again, to simulate a link that breaks and comes back. With `record` set it
also keeps every byte that crosses it (both directions), to check what an
observer on the path could read."""
import socket
import threading


class Proxy:
    def __init__(self, target_port, host="127.0.0.1"):
        self.target = (host, target_port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.socks = []
        self.open = True
        self.closed = False
        self.record = False
        self._seen = bytearray()
        self.conns = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                if not self.open:
                    client.close()
                    continue
                try:
                    upstream = socket.create_connection(self.target, timeout=5)
                except OSError:
                    client.close()
                    continue
                # The timeout was for connecting: an idle link stays.
                upstream.settimeout(None)
                self.socks += [client, upstream]
                self.conns += 1
                conn = self.conns
            for a, b in ((client, upstream), (upstream, client)):
                observe = self.observer(conn, a is client)
                threading.Thread(target=self._pump, args=(a, b, observe), daemon=True).start()

    def observer(self, conn, to_target):
        """What sees the bytes of one direction of connection number conn
        (to_target: from the client to the target) before they are passed
        on: a function of the bytes. This one records them when `record`
        is set; a subclass may decode them."""
        def record(data):
            if self.record:
                with self.lock:
                    self._seen += data
        return record

    def _pump(self, src, dst, observe):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                observe(data)
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        """Breaks every connection and refuses new ones until restore()."""
        with self.lock:
            self.open = False
            for s in self.socks:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass
            self.socks = []

    def recorded(self):
        """The bytes that crossed so far (when `record` is set)."""
        with self.lock:
            return bytes(self._seen)

    def restore(self):
        with self.lock:
            self.open = True

    def close(self):
        self.closed = True
        self.cut()
        self.listener.close()
