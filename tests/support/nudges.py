"""A program with one running cycle and its pairs, written straight into the tables, for the nudge and
calendar tests and the nudge benchmark; and a recording SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from companion.storage.db import (
    Cycle,
    CycleMentorship,
    Database,
    Mentorship,
    Milestone,
    Person,
    Program,
    SessionRecord,
    User,
)

CYCLE_START = date(2026, 1, 5)
DOMAIN = "larkfield.example"


@dataclass
class PairIds:
    mentor: int
    mentee: int
    mentorship: int


@dataclass
class ProgramWorld:
    program: int
    cycle: int
    pairs: list[PairIds]
    admins: list[int] = field(default_factory=list)


def address(name: str) -> str:
    return f"{name}@{DOMAIN}"


def build_program(
    db: Database,
    *,
    pairs: int = 1,
    starts_on: date = CYCLE_START,
    weeks: int = 26,
    sessions: Sequence[Sequence[date]] | None = None,
    emails: bool = True,
    prefix: str = "p",
    milestones: bool = True,
) -> ProgramWorld:
    """A program, one cycle from `starts_on`, and `pairs` new pairs (users `<prefix>mentor<i>` and
    `<prefix>mentee<i>` with people profiles and e-mail addresses unless `emails` is False); `sessions[i]`
    are the dates pair i met."""
    with db.session() as session:
        program = Program(name=f"{prefix} program", kind="one_to_one", cadence_days=14)
        session.add(program)
        session.flush()
        cycle = Cycle(
            program_id=program.id,
            name=f"{prefix} cycle",
            starts_on=starts_on,
            ends_on=starts_on + timedelta(weeks=weeks) - timedelta(days=1),
        )
        session.add(cycle)
        session.flush()
        if milestones:
            session.add(
                Milestone(
                    cycle_id=cycle.id,
                    key="goals_agreed",
                    title="Goals agreed",
                    due_on=starts_on + timedelta(weeks=4) - timedelta(days=1),
                    kind="goals",
                )
            )
        ids: list[PairIds] = []
        for i in range(pairs):
            users = []
            for role in ("mentor", "mentee"):
                name = f"{prefix}{role}{i}"
                user = User(name=name, role=role)
                session.add(user)
                session.flush()
                session.add(
                    Person(
                        key=name,
                        name=name.title(),
                        email=address(name) if emails else None,
                        role=role,
                        user_id=user.id,
                        timezone="Europe/London",
                    )
                )
                users.append(user.id)
            pair = Mentorship(mentor_user_id=users[0], mentee_user_id=users[1], active=True)
            session.add(pair)
            session.flush()
            session.add(CycleMentorship(cycle_id=cycle.id, mentorship_id=pair.id))
            for held_on in sessions[i] if sessions and i < len(sessions) else ():
                session.add(
                    SessionRecord(
                        mentee_user_id=users[1],
                        mentor_user_id=users[0],
                        held_on=held_on,
                        length_minutes=45,
                        notes="private notes",
                    )
                )
            ids.append(PairIds(users[0], users[1], pair.id))
        session.flush()
        return ProgramWorld(program=program.id, cycle=cycle.id, pairs=ids)


# ---- a recording SMTP server ----------------------------------------------------------------------------


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, f"no text/{subtype} part"
        return str(body.get_content())  # type: ignore[attr-defined]


class Recorder:
    """aiosmtpd handler: keeps what arrives; RCPT to an address in `refuse` gets a 550."""

    def __init__(self, refuse: set[str] | None = None) -> None:
        self.refuse = refuse or set()
        self.received: list[Received] = []
        self.refused: list[str] = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:  # noqa: N802
        if address in self.refuse:
            with self.lock:
                self.refused.append(address)
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 Message accepted"

    def to(self, addr: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if addr in r.recipients]


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that is its own CA (cert.pem, key.pem in `folder`), for TLS tests."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@contextmanager
def smtp_server(
    refuse: set[str] | None = None,
    *,
    starttls: tuple[Path, Path] | None = None,
    smtps: tuple[Path, Path] | None = None,
) -> Iterator[tuple[int, Recorder]]:
    """A real SMTP server on 127.0.0.1 (a free port), recording what arrives; stopped on exit. With
    `starttls` (a certificate and key) it requires STARTTLS; with `smtps`, it speaks TLS from the start."""
    import ssl

    from aiosmtpd.controller import Controller

    from tests.support.server import free_port

    def context(pair: tuple[Path, Path]) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(pair[0]), str(pair[1]))
        return ctx

    recorder = Recorder(refuse)
    port = free_port()
    tls: dict[str, Any] = {}
    if starttls:
        tls = {"tls_context": context(starttls), "require_starttls": True}
    if smtps:
        tls = {"ssl_context": context(smtps)}
    controller = Controller(recorder, hostname="127.0.0.1", port=port, ready_timeout=10, **tls)
    controller.start()
    try:
        yield port, recorder
    finally:
        controller.stop()
