"""An EHR's JWKS endpoint for the tests: a real HTTPS server on loopback whose certificate is
issued by a certificate authority made here (the client trusts it only when told to,
through ``MIXCALC_CDS_CA_BUNDLE``).  What it answers is set per test (:class:`Behaviour`)."""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["Behaviour", "JwksServer", "make_certificates"]


def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate, server key) as PEM files: a CA and a server
    certificate it issued for 127.0.0.1 and localhost."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mixcalc test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # key_cert_sign and crl_sign
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = (folder / "ca.pem", folder / "server.pem", folder / "server-key.pem")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


@dataclass
class Behaviour:
    """What the endpoint answers: ``keys`` as a JWK Set, or one of the failure ``mode`` s."""

    keys: list[dict[str, Any]] = field(default_factory=list)
    mode: str = "ok"  # ok | slow | trickle | huge | huge-chunked | redirect | gzip | not-json | error
    hits: int = 0
    paths: list[str] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        b = self.server.behaviour
        b.hits += 1
        b.paths.append(self.path)
        body = json.dumps({"keys": b.keys}).encode()
        if b.mode == "slow":
            time.sleep(6)  # beyond the fetcher's read timeout
        if b.mode == "redirect":
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:1/jwks")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if b.mode == "error":
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if b.mode == "not-json":
            body = b"<html>maintenance</html>"
        if b.mode == "gzip":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/jwk-set+json")
        if b.mode == "huge":
            self.send_header("Content-Length", str(10 * 1024 * 1024))
            self.end_headers()
            self.wfile.write(b" " * 1024 * 1024)
            return
        if b.mode in ("huge-chunked", "trickle"):
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(200 if b.mode == "huge-chunked" else 12):
                chunk = b" " * (8 * 1024 if b.mode == "huge-chunked" else 1)
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
                if b.mode == "trickle":
                    time.sleep(0.5)
            self.wfile.write(b"0\r\n\r\n")
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    behaviour: Behaviour

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the client hanging up on a huge or slow answer is what the tests want


class JwksServer:
    """Serves :attr:`behaviour` at ``https://127.0.0.1:<port>/jwks`` until :meth:`stop`."""

    def __init__(self, certificate: Path, key: Path) -> None:
        self.behaviour = Behaviour()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.behaviour = self.behaviour
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate, key)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}/jwks"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def reset(self, keys: list[dict[str, Any]], mode: str = "ok") -> None:
        self.behaviour.keys, self.behaviour.mode = keys, mode
        self.behaviour.hits, self.behaviour.paths = 0, []

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
