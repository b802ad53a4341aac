"""A TCP relay in front of the lab DC's LDAPS port that acts at the Nth
LDAP request, reproducibly.

LDAPS is TLS end to end, so the relay cannot read LDAP messages; it reads
the TLS record headers the client sends instead (5 bytes in clear: type,
version, length) and counts the application-data records (type 23). After
the handshake each LDAP request ldap3 sends is one such record, so "the
Nth record" is the Nth request of the run, counted over every connection
in order. At that record, before forwarding it, the relay either

- ``kill``: calls ``on_trigger`` (the test kills the DC with SIGKILL by its
  PID) and closes every connection;
- ``cut``: closes every connection, the DC keeps running;
- ``stall``: forwards nothing more in either direction and keeps the
  connections open, as a hung DC does;
- ``interleave``: calls ``on_trigger`` (the test writes to the DC as
  another tool would), then forwards the request and goes on relaying: a
  foreign write lands exactly before the Nth request.

TLS passes through untouched: the client still validates the DC's
certificate against its name.
"""
import socket
import struct
import threading

TLS_APPLICATION_DATA = 23


class FaultRelay:
    def __init__(self, target_port=636, trigger_at=None, action="cut", on_trigger=None):
        self.target_port = target_port
        self.trigger_at = trigger_at
        self.action = action
        self.on_trigger = on_trigger
        self.requests = 0          # application-data records seen from clients
        self.connections = 0
        self.triggered = threading.Event()
        self._lock = threading.Lock()
        self._sockets = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def halted(self):
        """Whether the relay stopped relaying (every action but interleave, once fired)."""
        return self.triggered.is_set() and self.action != "interleave"

    def close(self):
        self._closed = True
        try:
            self._listener.close()
        except OSError:
            pass
        self._close_all()

    def _close_all(self):
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept(self):
        while not self._closed:
            try:
                client, _address = self._listener.accept()
            except OSError:
                return
            if self.halted and self.action != "stall":
                client.close()
                continue
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self.connections += 1
                self._sockets.extend([client, server])
            threading.Thread(target=self._client_to_server, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client), daemon=True).start()

    def _pump(self, source, target):
        try:
            while True:
                data = source.recv(65536)
                if not data or self.halted:
                    break
                target.sendall(data)
        except OSError:
            pass
        self._end(source, target)

    def _client_to_server(self, client, server):
        """Forward client bytes record by record, counting application data."""
        buffer = b""
        try:
            while True:
                data = client.recv(65536)
                if not data or self.halted:
                    break
                buffer += data
                out = b""
                while len(buffer) >= 5:
                    record_type, _version, length = struct.unpack("!BHH", buffer[:5])
                    if len(buffer) < 5 + length:
                        break
                    if record_type == TLS_APPLICATION_DATA and self._count():
                        server.sendall(out)
                        out = b""
                        self._fire()
                        if self.action != "interleave":
                            return
                    out += buffer[:5 + length]
                    buffer = buffer[5 + length:]
                if out:
                    server.sendall(out)
        except OSError:
            pass
        self._end(client, server)

    def _end(self, *sockets):
        """A pump's end: shut both sides, unless the relay plays a hung DC."""
        if self.halted and self.action == "stall":
            return
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _count(self):
        """Count one request; True when it is the one to act at."""
        with self._lock:
            self.requests += 1
            return self.trigger_at is not None and self.requests == self.trigger_at

    def _fire(self):
        if self.action != "interleave":
            self.triggered.set()
        if self.on_trigger is not None:
            self.on_trigger()
        if self.action == "interleave":
            self.triggered.set()
        if self.action in ("kill", "cut"):
            self._close_all()
