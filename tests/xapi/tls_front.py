"""A host's port 443 as xapi's stunnel serves it, in front of a simulated xapi.

stunnel on a pool host presents xapi-pool-tls.pem to a client that asks for
SNI "pool" and xapi-ssl.pem to any other (xapi_stunnel_server.ml, the pool
certificates design), then forwards the plain HTTP to xapi. `TlsFront` does
the same in front of a simulator host's TCP port, and keeps what it saw: the
SNI of each connection and every byte the client sent (to prove what a client
did or did not send, e.g. a password)."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
from pathlib import Path
from typing import List, Optional, Tuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from xentui.xapi.tls import sha256_fingerprint


def make_certificate(directory: Path, name: str) -> Tuple[Path, Path, str]:
    """(certificate PEM, key PEM, SHA256 fingerprint) of a new self-signed certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path, sha256_fingerprint(cert.public_bytes(serialization.Encoding.DER))


class TlsFront:
    """TLS on (address, port) with SNI-selected certificates, forwarding to backend."""

    def __init__(self, directory: Path, name: str, address: str, port: int, backend: Tuple[str, int]) -> None:
        self.pool_cert, pool_key, self.pool_fingerprint = make_certificate(directory, f"{name}-pool")
        ssl_cert, ssl_key, self.ssl_fingerprint = make_certificate(directory, f"{name}-ssl")
        self._pool_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._pool_context.load_cert_chain(self.pool_cert, pool_key)
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(ssl_cert, ssl_key)
        self._context.sni_callback = self._choose
        self.backend = backend
        self.snis: List[Optional[str]] = []
        self.received = bytearray()
        self._lock = threading.Lock()
        self._listener = socket.create_server((address, port))
        self.port = self._listener.getsockname()[1]
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True, name=f"tls-front-{name}").start()

    def _choose(self, sslobj: ssl.SSLObject, server_name: Optional[str], _context: ssl.SSLContext) -> None:
        with self._lock:
            self.snis.append(server_name)
        if server_name == "pool":
            sslobj.context = self._pool_context

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                raw, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            raw.settimeout(10)
            client = self._context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()
            return
        backend = socket.create_connection(self.backend, timeout=10)
        replies = threading.Thread(target=self._pump, args=(backend, client, False), daemon=True)
        replies.start()
        self._pump(client, backend, True)
        replies.join(10)
        client.close()
        backend.close()

    def _pump(self, source: socket.socket, sink: socket.socket, record: bool) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if record:
                    with self._lock:
                        self.received += data
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def saw(self, secret: str) -> bool:
        with self._lock:
            return secret.encode() in self.received

    def stop(self) -> None:
        self._stopped.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept (close alone does not)
        except OSError:
            pass
        self._listener.close()
