"""Kafka TLS and SASL settings pass through to aiokafka (topic admin, producers) and to faust (the worker) alike.

A throwaway CA, server and client certificate are made with ``cryptography``; the TLS contexts built from the
settings are checked by a real handshake against a local TLS server, so "the CA file is used" and "the client
certificate is presented" are observed, not assumed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
import threading
from pathlib import Path

import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from insights.settings import Settings
from streams.kafka_config import aiokafka_kwargs, faust_broker_url, faust_credentials, ssl_context

x509 = pytest.importorskip("cryptography.x509")
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402


def _name(cn: str):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, issuer_name, issuer_key, key, *, ca: bool, usage=None, san: bool = False):
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          encipher_only=False, decipher_only=False), critical=True)
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    else:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    if usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if san:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path: Path, cert=None, key=None) -> str:
    data = b""
    if cert is not None:
        data += cert.public_bytes(serialization.Encoding.PEM)
    if key is not None:
        data += key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
    path.write_bytes(data)
    return str(path)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, str]:
    """A CA, a broker certificate for 127.0.0.1 signed by it, a client certificate, and an unrelated CA."""
    d = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("test-kafka-ca", _name("test-kafka-ca"), ca_key, ca_key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _cert("localhost", ca.subject, ca_key, server_key, ca=False, usage=ExtendedKeyUsageOID.SERVER_AUTH,
                   san=True)
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = _cert("cx-insights-worker", ca.subject, ca_key, client_key, ca=False,
                   usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    other_key = ec.generate_private_key(ec.SECP256R1())
    other = _cert("some-other-ca", _name("some-other-ca"), other_key, other_key, ca=True)
    return {
        "ca": _write(d / "ca.pem", ca),
        "server_cert": _write(d / "server.pem", server),
        "server_key": _write(d / "server.key", key=server_key),
        "client_cert": _write(d / "client.pem", client),
        "client_key": _write(d / "client.key", key=client_key),
        "other_ca": _write(d / "other-ca.pem", other),
    }


def _subjects(context: ssl.SSLContext) -> set[str]:
    return {dict(x[0] for x in c["subject"]).get("commonName", "") for c in context.get_ca_certs()}


class _TLSServer:
    """A one-connection-at-a-time TLS server on a loopback port; records the client certificate's CN."""

    def __init__(self, pki: dict[str, str], require_client_cert: bool) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(pki["server_cert"], pki["server_key"])
        if require_client_cert:
            self.context.verify_mode = ssl.CERT_REQUIRED
            self.context.load_verify_locations(pki["ca"])
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.client_cn: str | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(10)
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        try:
            with self.context.wrap_socket(conn, server_side=True) as tls:
                peer = tls.getpeercert()
                if peer:
                    self.client_cn = dict(x[0] for x in peer["subject"])["commonName"]
                tls.sendall(b"ok")
        except (ssl.SSLError, OSError):
            pass

    def handshake(self, context: ssl.SSLContext, server_hostname: str = "127.0.0.1") -> bytes:
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as raw, \
                context.wrap_socket(raw, server_hostname=server_hostname) as tls:
            return tls.recv(2)

    def close(self) -> None:
        self.sock.close()
        self._thread.join(timeout=10)


def test_plaintext_has_no_tls_and_no_credentials() -> None:
    s = Settings(kafka_bootstrap_servers="k1:9092, k2:9092")
    assert aiokafka_kwargs(s) == {"bootstrap_servers": "k1:9092, k2:9092", "security_protocol": "PLAINTEXT"}
    assert faust_credentials(s) is None
    assert faust_broker_url(s) == "kafka://k1:9092;kafka://k2:9092"


def test_sasl_ssl_with_scram_and_a_ca_file_from_the_environment(pki, monkeypatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "broker.example:9094")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "sasl_ssl")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "cx-worker")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "s3cret-pw")
    monkeypatch.setenv("KAFKA_SSL_CAFILE", pki["ca"])
    s = Settings()

    kwargs = aiokafka_kwargs(s)
    assert kwargs["security_protocol"] == "SASL_SSL"
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (kwargs["sasl_plain_username"], kwargs["sasl_plain_password"]) == ("cx-worker", "s3cret-pw")
    ctx = kwargs["ssl_context"]
    assert isinstance(ctx, ssl.SSLContext)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert "test-kafka-ca" in _subjects(ctx)

    creds = faust_credentials(s)
    assert "s3cret-pw" not in repr(creds)  # faust logs credentials by repr
    faust_side = credentials_to_aiokafka_auth(creds)  # what faust hands to its aiokafka consumer and producer
    for key in ("security_protocol", "sasl_mechanism", "sasl_plain_username", "sasl_plain_password"):
        assert faust_side[key] == kwargs[key], key
    assert "test-kafka-ca" in _subjects(faust_side["ssl_context"])
    assert faust_side["ssl_context"].verify_mode == ssl.CERT_REQUIRED

    async def build_clients() -> None:  # aiokafka validates the SASL/TLS combination in its constructors
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

        AIOKafkaProducer(**kwargs)
        AIOKafkaConsumer(**faust_side, bootstrap_servers=s.kafka_bootstrap_servers)

    asyncio.run(build_clients())


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256"])
def test_sasl_plaintext_has_no_tls(mechanism: str) -> None:
    s = Settings(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_mechanism=mechanism,
                 kafka_sasl_username="u", kafka_sasl_password="p")
    kwargs = aiokafka_kwargs(s)
    assert "ssl_context" not in kwargs and kwargs["security_protocol"] == "SASL_PLAINTEXT"
    faust_side = credentials_to_aiokafka_auth(faust_credentials(s))
    assert faust_side["security_protocol"] == "SASL_PLAINTEXT" and faust_side["ssl_context"] is None
    assert faust_side["sasl_mechanism"] == mechanism


def test_ssl_with_a_ca_file_verifies_the_broker_and_presents_the_client_certificate(pki) -> None:
    s = Settings(kafka_security_protocol="SSL", kafka_ssl_cafile=pki["ca"], kafka_ssl_certfile=pki["client_cert"],
                 kafka_ssl_keyfile=pki["client_key"])
    kwargs = aiokafka_kwargs(s)
    assert kwargs["security_protocol"] == "SSL" and "sasl_mechanism" not in kwargs
    faust_side = credentials_to_aiokafka_auth(faust_credentials(s))
    assert faust_side["security_protocol"] == "SSL"

    for context in (kwargs["ssl_context"], faust_side["ssl_context"]):
        server = _TLSServer(pki, require_client_cert=True)
        try:
            assert server.handshake(context) == b"ok"
        finally:
            server.close()
        assert server.client_cn == "cx-insights-worker"  # mutual TLS: the client certificate was presented


def test_a_broker_certificate_from_another_ca_is_refused(pki) -> None:
    context = ssl_context(Settings(kafka_security_protocol="SSL", kafka_ssl_cafile=pki["other_ca"]))
    assert context is not None
    server = _TLSServer(pki, require_client_cert=False)
    try:
        with pytest.raises(ssl.SSLCertVerificationError):
            server.handshake(context)
    finally:
        server.close()


def test_a_broker_certificate_for_another_host_is_refused(pki) -> None:
    context = ssl_context(Settings(kafka_security_protocol="SSL", kafka_ssl_cafile=pki["ca"]))
    server = _TLSServer(pki, require_client_cert=False)
    try:
        with pytest.raises(ssl.SSLCertVerificationError):
            server.handshake(context, server_hostname="kafka.evil.example")
    finally:
        server.close()


def test_the_worker_app_gets_the_credentials(pki) -> None:
    """streams/app.py hands the same credentials to faust (skipped while the theme model is not importable)."""
    pytest.importorskip("insights.themes", reason="insights.themes not importable yet")
    try:
        from insights.themes import ThemeModel  # noqa: F401
    except ImportError:
        pytest.skip("insights.themes.ThemeModel not written yet")
    from types import SimpleNamespace

    from streams.app import create_app

    s = Settings(kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="SCRAM-SHA-256",
                 kafka_sasl_username="cx-worker", kafka_sasl_password="pw", kafka_ssl_cafile=pki["ca"],
                 kafka_bootstrap_servers="b1:9094,b2:9094")
    app = create_app(s, SimpleNamespace(store=None))  # type: ignore[arg-type]
    faust_side = credentials_to_aiokafka_auth(app.conf.broker_credentials)
    assert faust_side["security_protocol"] == "SASL_SSL" and faust_side["sasl_mechanism"] == "SCRAM-SHA-256"
    assert "test-kafka-ca" in _subjects(faust_side["ssl_context"])
    assert [str(u) for u in app.conf.broker] == ["kafka://b1:9094", "kafka://b2:9094"]


def test_the_worker_commits_as_often_as_kafka_commit_interval_says(monkeypatch) -> None:
    """The commit interval bounds what a crash replays; it comes from the environment like every setting."""
    from types import SimpleNamespace

    from streams.app import create_app

    assert create_app(Settings(), SimpleNamespace(store=None)).conf.broker_commit_interval == 1.0  # type: ignore[arg-type]
    monkeypatch.setenv("KAFKA_COMMIT_INTERVAL", "7.5")
    app = create_app(Settings(), SimpleNamespace(store=None))  # type: ignore[arg-type]
    assert app.conf.broker_commit_interval == 7.5
    monkeypatch.setenv("KAFKA_COMMIT_INTERVAL", "0")
    with pytest.raises(ValueError, match="kafka_commit_interval"):
        Settings()


# -- settings that disagree with each other: found while writing these tests (bugs in streams/kafka_config.py) --
MISMATCHED = [
    {"kafka_security_protocol": "PLAINTEXT", "kafka_sasl_mechanism": "PLAIN", "kafka_sasl_username": "u",
     "kafka_sasl_password": "p"},
    {"kafka_security_protocol": "SASL_SSL"},  # no mechanism: faust silently drops SASL, aiokafka defaults to PLAIN
    {"kafka_security_protocol": "SSL", "kafka_sasl_mechanism": "PLAIN"},
    {"kafka_security_protocol": "SASL_PLANETEXT"},  # a typo: faust falls back to PLAINTEXT
]


@pytest.mark.parametrize("fields", MISMATCHED, ids=["plaintext+sasl", "sasl_ssl-no-mechanism", "ssl+sasl",
                                                    "typo"])
def test_inconsistent_security_settings_are_refused_or_agree(fields: dict[str, str]) -> None:
    try:
        s = Settings(**fields)
        kwargs = aiokafka_kwargs(s)
        faust_side = credentials_to_aiokafka_auth(faust_credentials(s))
    except ValueError:
        return  # refusing a contradictory configuration up front is the right outcome
    assert faust_side["security_protocol"] == kwargs["security_protocol"]
    assert faust_side.get("sasl_mechanism") == kwargs.get("sasl_mechanism")
