"""The drill cluster's TLS: a new certificate authority and server certificate per run.

kubectl (client-go) sends a kubeconfig's credentials only over TLS: to a plain
`http://` server it sends no `Authorization` header at all (client-go's
`ClientConfig` applies the user's credentials only when the transport is TLS;
kubernetes/kubectl#744). So the drill cluster serves HTTPS, as every real API
server does, with a throw-away CA whose certificate the kubeconfig carries
(`certificate-authority-data`). The CA's key is discarded once it has signed
the server's certificate; nothing here outlives the run. The certificate names
the loopback names and addresses, and the one address a team drill listens on
(`warroom drill --listen ADDRESS`), so clients on other machines verify it too.

Uses `cryptography` (the PyCA library, the one the Python ecosystem builds on):
the standard library verifies certificates but cannot make them.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOOPBACK_NAMES = ("localhost",)
LOOPBACK_ADDRESSES = ("127.0.0.1", "::1")
VALID_FOR = timedelta(days=7)  # a drill lasts hours; a clock a little off must not matter
CA_NAME = "warroom drill CA"


@dataclass(frozen=True)
class DrillCertificates:
    """PEM bytes: the CA clients trust, and the server's certificate and key."""

    ca_pem: bytes
    server_pem: bytes
    server_key_pem: bytes

    def server_context(self) -> ssl.SSLContext:
        """The server side's TLS context (TLS 1.2 or later)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        # load_cert_chain reads files only: a private folder, emptied at once.
        with tempfile.TemporaryDirectory(prefix="warroom-drill-tls-") as folder:
            chain = os.path.join(folder, "server.pem")
            descriptor = os.open(chain, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(self.server_pem + self.server_key_pem)
            context.load_cert_chain(chain)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client context trusting this drill's CA only (for tests and tools)."""
        return ssl.create_default_context(cadata=self.ca_pem.decode("ascii"))


def make_certificates(
    now: datetime | None = None, *, addresses: Sequence[str] = ()
) -> DrillCertificates:
    """A fresh CA and a server certificate for the loopback names and `addresses`, signed by it."""
    now = now or datetime.now(UTC)
    start, end = now - timedelta(hours=1), now + VALID_FOR
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
    ca_id = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=False, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          key_cert_sign=True, crl_sign=True, encipher_only=False,
                          decipher_only=False),
            critical=True,
        )  # fmt: skip
        .add_extension(ca_id, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in LOOPBACK_NAMES]
    ips = dict.fromkeys(ipaddress.ip_address(a) for a in (*LOOPBACK_ADDRESSES, *addresses))
    names += [x509.IPAddress(ip) for ip in ips]
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "warroom-drill")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          key_cert_sign=False, crl_sign=False, encipher_only=False,
                          decipher_only=False),
            critical=True,
        )  # fmt: skip
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), critical=False
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_id), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return DrillCertificates(
        ca_pem=ca.public_bytes(serialization.Encoding.PEM),
        server_pem=server.public_bytes(serialization.Encoding.PEM),
        server_key_pem=server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def is_drill_ca(pem: bytes) -> bool:
    """Whether `pem` (a kubeconfig's certificate authority) is one a drill made for itself:
    self-signed and named `CA_NAME`. How a team drill's kubeconfig, whose server is not on
    loopback, still says it is the drill's (`tui/cli/cmd_act.py`'s `is_drill_cluster`)."""
    try:
        certificate = x509.load_pem_x509_certificate(pem)
    except ValueError:
        return False
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return certificate.issuer == certificate.subject and [n.value for n in names] == [CA_NAME]
