"""The course's own certificate authority.

On first start the servers make a small local CA and one server certificate for localhost, 127.0.0.1 and ::1,
signed by it. Every TLS service presents that certificate, and lessons verify it the way they would verify a real
server's, just with the course's CA file:

    ssl.create_default_context(cafile=handle.ca_file)

Nothing in the course turns verification off. The CA's private key never leaves the state directory (mode 0600),
and only the files a client needs (ca.pem) are published in the state file.
"""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from .config import LOOPBACK_HOSTS as LOOPBACK_NAMES
from .files import write_atomically
from .service import TLSFiles


def ensure_certificates(tls_dir: Path, extra_host: str | None = None) -> TLSFiles:
    """The CA and server certificate files, made if missing; the server's anew if it lacks extra_host (a bound host)."""
    files = TLSFiles(tls_dir / "ca.pem", tls_dir / "server.pem", tls_dir / "server-key.pem")
    ca_key_file = tls_dir / "ca-key.pem"
    names_file = tls_dir / "server-names.txt"
    wanted = list(LOOPBACK_NAMES)
    if extra_host and extra_host not in wanted:
        wanted.append(extra_host)
    have_names = names_file.read_text().split() if names_file.exists() else []
    if all(path.exists() for path in (files.ca_file, ca_key_file, files.cert_file, files.key_file)) \
            and set(wanted) <= set(have_names):
        return files  # the common case: nothing to import, nothing to sign
    if not (files.ca_file.exists() and ca_key_file.exists()):
        _save(_make_ca(), ca_key_file, files.ca_file)
    _save(_make_server_cert(_load(files.ca_file, ca_key_file), wanted), files.key_file, files.cert_file)
    write_atomically(names_file, "\n".join(wanted) + "\n")
    return files


def _make_ca():
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Python internet course"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "Python internet course local CA")])
    return _sign(name, None, (-1, 3650), [(x509.BasicConstraints(ca=True, path_length=0), True),
                                          (_key_usage("digital_signature", "key_cert_sign", "crl_sign"), True)])


def bad_certificate(tls_dir: Path, kind: str) -> tuple[Path, Path]:
    """A leaf certificate that fails verification, signed by the course's CA (for fault injection).

    "expired": for the loopback names, but its validity ended yesterday;
    "wrong-host": valid, but for another host name. The CA is the one clients
    trust, so the client's error is about the certificate, not about the CA.
    Made once, on first use, and kept beside the good one.
    """
    cert_file, key_file = tls_dir / f"bad-{kind}.pem", tls_dir / f"bad-{kind}-key.pem"
    if cert_file.exists() and key_file.exists():
        return cert_file, key_file
    ca = _load(tls_dir / "ca.pem", tls_dir / "ca-key.pem")
    if kind == "expired":
        _save(_make_server_cert(ca, list(LOOPBACK_NAMES), days=(-30, -1)), key_file, cert_file)
    elif kind == "wrong-host":
        _save(_make_server_cert(ca, ["wrong-host.example.test"]), key_file, cert_file)
    else:
        raise ValueError(f"no bad certificate {kind!r}; choose expired or wrong-host")
    return cert_file, key_file


def _make_server_cert(ca, names: list[str], days: tuple[int, int] = (-1, 825)):
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    alt_names = []
    for name in names:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt_names.append(x509.DNSName(name))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    return _sign(subject, ca, days, [
        (x509.SubjectAlternativeName(alt_names), False),
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (_key_usage("digital_signature"), True),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
        (x509.AuthorityKeyIdentifier.from_issuer_public_key(ca[0].public_key()), False),
    ])


def _sign(subject, issuer, days: tuple[int, int], extensions: list):
    """A new key and its certificate, (key, cert): signed by issuer, the CA's (key, cert), or by itself if None;
    valid from now + days[0] to now + days[1], with these (extension, critical) pairs and its key's identifier."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    issuer_key, issuer_name = (key, subject) if issuer is None else (issuer[0], issuer[1].subject)
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now + datetime.timedelta(days=days[0]))
               .not_valid_after(now + datetime.timedelta(days=days[1])))
    for extension, critical in [*extensions, (x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)]:
        builder = builder.add_extension(extension, critical=critical)
    return key, builder.sign(issuer_key, hashes.SHA256())


def _key_usage(*allowed: str):
    """KeyUsage with only these uses allowed."""
    from cryptography import x509

    uses = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
            "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
    return x509.KeyUsage(**{use: use in allowed for use in uses})


def _load(ca_file: Path, ca_key_file: Path):
    """The CA's (key, cert) from its files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    return (serialization.load_pem_private_key(ca_key_file.read_bytes(), password=None),
            x509.load_pem_x509_certificate(ca_file.read_bytes()))


def _save(key_and_cert, key_file: Path, cert_file: Path) -> None:
    """A (key, cert) pair as PEM files; the key's mode 0600 keeps it private from its first byte."""
    from cryptography.hazmat.primitives import serialization

    key, cert = key_and_cert
    write_atomically(key_file, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()), mode=0o600)
    write_atomically(cert_file, cert.public_bytes(serialization.Encoding.PEM))
