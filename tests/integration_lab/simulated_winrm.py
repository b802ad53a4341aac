"""A SIMULATED WinRM endpoint on 127.0.0.1, up to the authentication: it
authenticates as the WinRM service does (NTLM for real with pyspnego's
acceptor and a credential file; Basic; a client certificate over TLS),
records what it saw of each client (scheme, transport, user, whether the
messages came encrypted) and then answers HTTP 500, as it speaks no
WS-Management. Over HTTPS it serves a certificate for 127.0.0.1 issued by
a test CA, so certificate validation and the CA trust path are real.

Used by the sql_static_port tests: which settings reach the host is read
here, on the server's side, not from the module's arguments."""
import base64
import datetime
import http.server
import ipaddress
import ssl
import threading

import spnego
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# pywinrm's Authorization header for client certificate authentication.
CERTIFICATE_AUTHORIZATION = "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/mutual"


def _write_key(key, path):
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def _certificate(subject_name, issuer_name, public_key, signing_key, ca=False, san=None, usage=None):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_name)]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
               .public_key(public_key).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    if usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


class WinrmPki:
    """A CA, a server certificate for 127.0.0.1, and a client certificate
    (certificate transport), as PEM files in ``directory``."""

    def __init__(self, directory, client_user="sqladmin"):
        directory.mkdir(parents=True, exist_ok=True)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = _certificate("Test WinRM CA", "Test WinRM CA", ca_key.public_key(), ca_key, ca=True)
        self.ca_cert = directory / "ca.pem"
        self.ca_cert.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        server_key = ec.generate_private_key(ec.SECP256R1())
        server = _certificate("127.0.0.1", "Test WinRM CA", server_key.public_key(), ca_key,
                              san=[x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")],
                              usage=ExtendedKeyUsageOID.SERVER_AUTH)
        self.server_cert, self.server_key = directory / "server.pem", directory / "server.key"
        self.server_cert.write_bytes(server.public_bytes(serialization.Encoding.PEM))
        _write_key(server_key, self.server_key)
        client_key = ec.generate_private_key(ec.SECP256R1())
        client = _certificate(client_user, "Test WinRM CA", client_key.public_key(), ca_key,
                              usage=ExtendedKeyUsageOID.CLIENT_AUTH)
        self.client_cert, self.client_key = directory / "client.pem", directory / "client.key"
        self.client_cert.write_bytes(client.public_bytes(serialization.Encoding.PEM))
        _write_key(client_key, self.client_key)


class _Handler(http.server.BaseHTTPRequestHandler):
    """/wsman behind authentication, answering only 401, 200 (to the empty
    message that sets up message encryption) or 500."""

    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        server = self.server
        header = self.headers.get("Authorization", "")
        scheme, dummy, token = header.partition(" ")
        if header == CERTIFICATE_AUTHORIZATION:
            peer = self.connection.getpeercert() if server.tls else None
            if not peer:
                return self.refuse()
            user = dict(item[0] for item in peer["subject"])["commonName"]
            return self.seen("certificate", user, body)
        if scheme.lower() == "basic":
            user, dummy, password = base64.b64decode(token).decode().partition(":")
            if server.users.get(user) != password:
                return self.refuse()
            return self.seen("basic", user, body)
        if scheme.lower() in ("ntlm", "negotiate") and token:
            return self.ntlm(base64.b64decode(token), body)
        if not header and server.ntlm_user:
            # After NTLM, the WinRM service takes the connection's further
            # messages without a header, encrypted with the session key.
            return self.seen("ntlm", server.ntlm_user, body)
        return self.answer(401, "NTLM")

    def ntlm(self, token, body):
        server = self.server
        try:
            if server.context is None or server.context.complete:
                server.context = spnego.server(protocol="ntlm")
            reply = server.context.step(token)
        except spnego.exceptions.SpnegoError:
            server.context = None
            return self.refuse()
        if not server.context.complete:
            return self.answer(401, "NTLM " + base64.b64encode(reply).decode())
        server.ntlm_user = server.context.client_principal
        return self.seen("ntlm", server.ntlm_user, body)

    def seen(self, transport, user, body):
        server = self.server
        if not body:
            # pywinrm's empty message that sets up message encryption.
            server.accepted += 1
            return self.answer(200, None)
        content_type = self.headers.get("Content-Type", "")
        server.clients.append(dict(scheme="https" if server.tls else "http", transport=transport, user=user,
                                   encrypted=content_type.startswith("multipart/encrypted")))
        server.accepted += 1
        return self.answer(500, None)

    def refuse(self):
        self.server.rejected += 1
        return self.answer(401, "NTLM")

    def answer(self, status, authenticate):
        self.send_response(status)
        if authenticate:
            self.send_header("WWW-Authenticate", authenticate)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class SimulatedWinrm:
    """The endpoint, started on a free port of 127.0.0.1; ``users`` maps
    ``DOMAIN\\user`` (NTLM) or ``user`` (Basic) to the password; NTLM reads
    them from the file NTLM_USER_FILE names, which the caller sets.

    ``clients``: one dict(scheme, transport, user, encrypted) per client
    that authenticated and sent a message; ``rejected``: refused attempts."""

    def __init__(self, users, pki=None):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.users = dict(users)
        self.server.tls = pki is not None
        self.server.context, self.server.ntlm_user = None, None
        self.server.clients, self.server.rejected, self.server.accepted = [], 0, 0
        if pki is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(pki.server_cert, pki.server_key)
            context.load_verify_locations(pki.ca_cert)
            context.verify_mode = ssl.CERT_OPTIONAL  # a client certificate only for that transport
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs=dict(poll_interval=0.2), daemon=True)
        self._thread.start()

    @property
    def clients(self):
        return self.server.clients

    @property
    def rejected(self):
        return self.server.rejected

    @property
    def accepted(self):
        return self.server.accepted

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def ntlm_user_file(path, users):
    """The credential file of pyspnego's NTLM acceptor (DOMAIN:user:password)."""
    path.write_text("".join("%s:%s:%s\n" % (*user.split("\\", 1), password)
                            for user, password in users.items() if "\\" in user))
    return path
