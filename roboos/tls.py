"""Optional TLS for the HTTP / websocket / gRPC servers: one check of the certificate and key files.

Every server that can speak TLS (the brain server, the policy server's websocket, the dashboard, the
gRPC control plane) takes a PEM certificate (chain) file and a PEM private key file, both or neither.
:func:`check_tls_files` refuses, with a :class:`TLSConfigError` naming the file, a missing or unreadable
file, a file that is not PEM, a key readable by group/others (secrets are 0600) and a key that does not
belong to the certificate, before the server starts. :func:`make_self_signed` writes a self-signed pair
for development and tests (needs the ``cryptography`` package).
"""

from __future__ import annotations

import ssl
import stat
from dataclasses import dataclass
from pathlib import Path


class TLSConfigError(ValueError):
    """The TLS certificate/key settings are incomplete or the files are unusable; the message says which."""


@dataclass(frozen=True)
class TLSFiles:
    """A checked certificate + private key pair (PEM files)."""

    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        """A server-side ``SSLContext`` (TLS 1.2+) with this certificate and key."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.cert, self.key)
        return ctx

    def uvicorn_options(self) -> dict[str, str]:
        """Keyword arguments of ``uvicorn.Config`` / ``uvicorn.run`` for HTTPS."""
        return {"ssl_certfile": str(self.cert), "ssl_keyfile": str(self.key)}

    def pem_pair(self) -> tuple[bytes, bytes]:
        """``(key, cert)`` bytes, as ``grpc.ssl_server_credentials`` wants them."""
        return self.key.read_bytes(), self.cert.read_bytes()


def _read_pem(path: Path, what: str, owner: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TLSConfigError(f"{owner}: cannot read the TLS {what} {path}: {exc.strerror or exc}") from None
    if b"-----BEGIN " not in data:
        raise TLSConfigError(f"{owner}: the TLS {what} {path} is not a PEM file")
    return data


def check_tls_files(cert: str | Path | None, key: str | Path | None, *, owner: str = "server") -> TLSFiles | None:
    """``None`` when neither is set; a checked :class:`TLSFiles` when both are; :class:`TLSConfigError` else.

    ``owner`` names the server in error messages (e.g. ``"brain server"``).
    """
    if cert in (None, "") and key in (None, ""):
        return None
    if cert in (None, "") or key in (None, ""):
        raise TLSConfigError(f"{owner}: TLS needs both a certificate (tls_cert) and a private key (tls_key), PEM files")
    cert_path, key_path = Path(cert).expanduser(), Path(key).expanduser()  # type: ignore[arg-type]
    _read_pem(cert_path, "certificate", owner)
    _read_pem(key_path, "private key", owner)
    if key_path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise TLSConfigError(f"{owner}: the TLS private key {key_path} is readable by group/others; "
                             f"chmod 600 {key_path}")
    files = TLSFiles(cert_path, key_path)
    try:
        files.server_context()
    except ssl.SSLError as exc:
        raise TLSConfigError(f"{owner}: the TLS certificate {cert_path} and key {key_path} do not load "
                             f"together: {exc.reason or exc}") from None
    return files


def make_self_signed(directory: str | Path, *, hosts: tuple[str, ...] = ("127.0.0.1", "localhost"),
                     days: int = 30) -> TLSFiles:
    """Write ``cert.pem`` and ``key.pem`` (0600) for ``hosts`` into ``directory`` (development, tests).

    Clients trust ``cert.pem`` itself as their CA file. Needs ``cryptography`` (no network access).
    """
    import datetime
    import ipaddress
    import os

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    alt: list[x509.GeneralName] = []
    for host in hosts:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alt.append(x509.DNSName(host))
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = out / "cert.pem", out / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    os.chmod(key_path, 0o600)
    return TLSFiles(cert_path, key_path)
