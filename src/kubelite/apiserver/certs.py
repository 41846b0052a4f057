"""The server's identity on disk: a CA, a serving certificate, an admin client certificate,
an admin token and a kubeconfig, all kept in the data directory.

Generated once and reused on restart, so that a kubeconfig handed out earlier keeps working
(same CA, same token). Everything here is blocking file and crypto work: call it from a
thread (asyncio.to_thread) when an event loop is running.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: The first address of the Service CIDR: the in-cluster `kubernetes` Service IP.
KUBERNETES_SERVICE_IP = "10.43.0.1"
_VALIDITY = dt.timedelta(days=3650)


@dataclass(frozen=True, slots=True)
class Identity:
    """Paths and secrets of one data directory."""

    ca_cert: Path
    ca_key: Path
    serving_cert: Path
    serving_key: Path
    admin_cert: Path
    admin_key: Path
    token_file: Path
    token: str
    kubeconfig: Path


def _write_private(path: Path, data: bytes) -> None:
    """Write a secret readable by the owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _make_ca(cert_path: Path, key_path: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubelite-ca")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(key_path, _key_pem(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _issue(ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, cn: str, orgs: list[str],
           sans: list[x509.GeneralName] | None, server: bool) -> tuple[bytes, bytes]:
    key = _new_key()
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attrs)).issuer_name(ca.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def _sans(bind_address: str, extra: list[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    seen: set[str] = set()
    for value in ["127.0.0.1", "localhost", bind_address, KUBERNETES_SERVICE_IP, "kubernetes",
                  "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", *extra]:
        if not value or value in seen or value in ("0.0.0.0", "::"):
            continue
        seen.add(value)
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(value)))
        except ValueError:
            out.append(x509.DNSName(value))
    return out


def _san_set(cert: x509.Certificate) -> set[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {str(v) for v in ext.get_values_for_type(x509.IPAddress)} | set(ext.get_values_for_type(x509.DNSName))


def ensure_identity(data_dir: Path, bind_address: str, port: int, token: str | None,
                    extra_sans: list[str] | None = None, server_host: str | None = None) -> Identity:
    """Create (or reuse) CA, certificates, token and kubeconfig under `data_dir/tls`."""
    tls = data_dir / "tls"
    tls.mkdir(parents=True, exist_ok=True)
    ident = Identity(
        ca_cert=tls / "ca.crt", ca_key=tls / "ca.key",
        serving_cert=tls / "serving.crt", serving_key=tls / "serving.key",
        admin_cert=tls / "admin.crt", admin_key=tls / "admin.key",
        token_file=data_dir / "token", token="", kubeconfig=data_dir / "kubeconfig.yaml",
    )
    if ident.ca_cert.exists() and ident.ca_key.exists():
        ca = x509.load_pem_x509_certificate(ident.ca_cert.read_bytes())
        loaded = serialization.load_pem_private_key(ident.ca_key.read_bytes(), None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{ident.ca_key}: not an EC private key")
        ca_key = loaded
    else:
        ca, ca_key = _make_ca(ident.ca_cert, ident.ca_key)

    sans = _sans(bind_address, extra_sans or [])
    want = {str(getattr(s, "value", s)) for s in sans}
    need_serving = not (ident.serving_cert.exists() and ident.serving_key.exists())
    if not need_serving:
        current = x509.load_pem_x509_certificate(ident.serving_cert.read_bytes())
        need_serving = not want <= _san_set(current) or current.issuer != ca.subject
    if need_serving:
        crt, key = _issue(ca, ca_key, "kube-apiserver", [], sans, server=True)
        _write_private(ident.serving_key, key)
        ident.serving_cert.write_bytes(crt)
    if not (ident.admin_cert.exists() and ident.admin_key.exists()):
        crt, key = _issue(ca, ca_key, "admin", ["system:masters"], None, server=False)
        _write_private(ident.admin_key, key)
        ident.admin_cert.write_bytes(crt)

    if token:
        _write_private(ident.token_file, token.encode() + b"\n")
    elif ident.token_file.exists():
        token = ident.token_file.read_text().strip()
    if not token:
        token = secrets.token_hex(24)
        _write_private(ident.token_file, token.encode() + b"\n")
    ident = Identity(**{**{f: getattr(ident, f) for f in ident.__dataclass_fields__}, "token": token})

    host = server_host or ("127.0.0.1" if bind_address in ("0.0.0.0", "::", "") else bind_address)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    write_kubeconfig(ident, f"https://{host}:{port}")
    return ident


def write_kubeconfig(ident: Identity, server_url: str, path: Path | None = None) -> None:
    """A kubeconfig kubectl uses as is: the CA inline, the admin token as the credential.
    Written to `ident.kubeconfig` unless `path` says otherwise."""
    ca_b64 = __import__("base64").b64encode(ident.ca_cert.read_bytes()).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kubelite", "cluster": {"server": server_url,
                                                      "certificate-authority-data": ca_b64}}],
        "users": [{"name": "admin", "user": {"token": ident.token}}],
        "contexts": [{"name": "kubelite", "context": {"cluster": "kubelite", "user": "admin",
                                                      "namespace": "default"}}],
        "current-context": "kubelite",
        "preferences": {},
    }
    _write_private(path or ident.kubeconfig, yaml.safe_dump(config, sort_keys=False).encode())


def issue_client_certificate(data_dir: Path, cn: str, orgs: list[str], out_dir: Path) -> tuple[Path, Path]:
    """A client certificate signed by the data directory's CA (e.g. CN system:node:<name>, O system:nodes).

    Written to `out_dir/<cn>.crt|key` (":" replaced): for nodes and tests that must act as a user
    other than admin. Blocking file and key work: call it in a thread from async code.
    """
    tls = data_dir / "tls"
    ca = x509.load_pem_x509_certificate((tls / "ca.crt").read_bytes())
    loaded = serialization.load_pem_private_key((tls / "ca.key").read_bytes(), None)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{tls / 'ca.key'}: not an EC private key")
    crt, key = _issue(ca, loaded, cn, orgs, None, server=False)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = cn.replace(":", "_").replace("/", "_")
    crt_path, key_path = out_dir / f"{stem}.crt", out_dir / f"{stem}.key"
    _write_private(key_path, key)
    crt_path.write_bytes(crt)
    return crt_path, key_path
