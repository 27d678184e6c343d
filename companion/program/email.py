"""Outgoing e-mail: the `Mailer` protocol, its SMTP implementation (smtplib: STARTTLS, SMTPS or plain,
login when a user name is set, a timeout per conversation, multipart text + HTML) and a recording fake
chosen by settings (`email.mode = "fake"`), and the e-mail templates.

Templates are file pairs in `companion/program/emails/`: `<name>.txt` (its first line is `Subject: ...`)
and `<name>.html`, rendered with StrictUndefined from the inputs `TEMPLATES` declares for each (plus the
footer's `unsubscribe_url`); rendering with a missing or an undeclared input is refused.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any, Protocol

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from companion.settings import EmailSettings

EMAILS_DIR = Path(__file__).parent / "emails"
OFF_MESSAGE = "E-mail is off (set COMPANION_EMAIL__SMTP_HOST)."

# each template's declared inputs (the footer's `unsubscribe_url` is added to every one)
TEMPLATES: dict[str, frozenset[str]] = {
    "session_reminder": frozenset({"name", "partner", "due_on", "last_session", "cycle"}),
    "at_risk": frozenset({"name", "partner", "reasons", "cycle"}),
    "survey_invitation": frozenset({"name", "survey", "closes_on", "link"}),
    "goal_milestone": frozenset({"name", "milestone", "due_on", "cycle"}),
    "contact_request": frozenset({"name", "survey", "submitted_on", "link"}),
    "eval_regression": frozenset({"name", "run_id", "baseline_id", "regressions", "score_delta", "link"}),
}
COMMON_INPUTS = frozenset({"unsubscribe_url"})


@dataclass(frozen=True)
class Message:
    """One e-mail to one address."""

    to: str
    subject: str
    text: str
    html: str


class MailError(Exception):
    """One message could not be sent (the message says why, for the run report)."""


class ServerUnavailable(MailError):
    """The SMTP server cannot be reached or refused the conversation: nothing more can be sent now."""


class Outbox(Protocol):
    def send(self, message: Message) -> None:
        """Send one message; raises MailError (that message failed) or ServerUnavailable (all will)."""


class Mailer(Protocol):
    name: str

    def open(self) -> AbstractContextManager[Outbox]:
        """One conversation with the server, for many messages."""


# ---- templates ------------------------------------------------------------------------------------------

_env = Environment(
    loader=FileSystemLoader(str(EMAILS_DIR)),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(template: str, to: str, inputs: Mapping[str, Any]) -> Message:
    """The e-mail `template` makes from `inputs` (exactly its declared inputs and `unsubscribe_url`)."""
    declared = TEMPLATES.get(template)
    if declared is None:
        raise KeyError(f"no e-mail template {template!r}")
    wanted = declared | COMMON_INPUTS
    given = set(inputs)
    if given != wanted:
        missing, extra = sorted(wanted - given), sorted(given - wanted)
        raise ValueError(f"e-mail template {template!r}: missing inputs {missing}, undeclared inputs {extra}")
    text = _env.get_template(f"{template}.txt").render(**inputs)
    first, _, body = text.partition("\n")
    if not first.startswith("Subject: "):
        raise ValueError(f"e-mail template {template}.txt must start with a 'Subject: ' line")
    html = _env.get_template(f"{template}.html").render(**inputs)
    return Message(to=to, subject=first.removeprefix("Subject: ").strip(), text=body.lstrip("\n"), html=html)


def to_email(message: Message, sender: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = message.to
    mail["Subject"] = message.subject
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    mail.set_content(message.text)
    mail.add_alternative(message.html, subtype="html")
    return mail


# ---- SMTP -------------------------------------------------------------------------------------------------


class SmtpMailer:
    """Sends over SMTP with the settings' host, port, security, login and timeout."""

    name = "smtp"

    def __init__(self, settings: EmailSettings) -> None:
        if not settings.smtp_host:
            raise ValueError(OFF_MESSAGE)
        self.settings = settings

    def _tls(self) -> ssl.SSLContext:
        """Certificates are verified (against `ca_file` when set, else the system's CAs)."""
        ca_file = self.settings.ca_file
        return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        host, port, timeout = str(s.smtp_host), s.smtp_port, s.timeout_seconds
        conn: smtplib.SMTP | None = None
        try:
            if s.security == "ssl":
                conn = smtplib.SMTP_SSL(host, port, timeout=timeout, context=self._tls())
            else:
                conn = smtplib.SMTP(host, port, timeout=timeout)
                if s.security == "starttls":
                    conn.starttls(context=self._tls())
            if s.username:
                conn.login(s.username, s.password.get_secret_value() if s.password else "")
            return conn
        except (smtplib.SMTPException, OSError) as exc:
            if conn is not None:
                conn.close()
            if isinstance(exc, smtplib.SMTPAuthenticationError):
                raise ServerUnavailable(f"SMTP login as {s.username} refused: {_reply(exc)}") from exc
            raise ServerUnavailable(f"cannot talk to the SMTP server {host}:{port}: {_reason(exc)}") from exc

    @contextmanager
    def open(self) -> Iterator[Outbox]:
        outbox = _SmtpOutbox(self)
        try:
            yield outbox
        finally:
            outbox.close()


class _SmtpOutbox:
    def __init__(self, mailer: SmtpMailer) -> None:
        self.mailer = mailer
        self.conn: smtplib.SMTP | None = None

    def send(self, message: Message) -> None:
        mail = to_email(message, self.mailer.settings.sender)
        for attempt in (1, 2):  # a server that dropped an idle connection gets one reconnect
            if self.conn is None:
                self.conn = self.mailer._connect()
            try:
                refused = self.conn.send_message(mail)
            except smtplib.SMTPRecipientsRefused as exc:
                raise MailError(f"{message.to} refused: {_refusal(exc.recipients)}") from exc
            except smtplib.SMTPSenderRefused as exc:
                raise ServerUnavailable(f"sender {exc.sender} refused: {_reply(exc)}") from exc
            except smtplib.SMTPResponseException as exc:
                self._reset()
                raise MailError(f"{message.to}: the server answered {_reply(exc)}") from exc
            except (smtplib.SMTPServerDisconnected, OSError) as exc:
                self._drop()
                if attempt == 2:
                    raise ServerUnavailable(f"the SMTP server closed the connection: {_reason(exc)}") from exc
                continue
            if refused:
                raise MailError(f"{message.to} refused: {_refusal(refused)}")
            return

    def _reset(self) -> None:
        try:
            if self.conn is not None:
                self.conn.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _drop(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
        self.conn = None

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self._drop()


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = (
        exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
    )
    return f"{exc.smtp_code} {text}"[:300]


def _refusal(recipients: Mapping[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{code} {reply.decode(errors='replace')}" for code, reply in recipients.values())[:300]


def _reason(exc: BaseException) -> str:
    return (str(exc) or type(exc).__name__)[:300]


# ---- the fake ---------------------------------------------------------------------------------------------


@dataclass
class RecordingMailer:
    """Keeps every message it is given (`sent`); addresses in `refuse` fail, and `down` fails them all."""

    name: str = "fake"
    sent: list[Message] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    down: bool = False

    @contextmanager
    def open(self) -> Iterator[Outbox]:
        yield self

    def send(self, message: Message) -> None:
        if self.down:
            raise ServerUnavailable("the fake SMTP server is down")
        if message.to in self.refuse:
            raise MailError(f"{message.to} refused: 550 no such mailbox")
        self.sent.append(message)


class OffMailer:
    """E-mail is off: nothing can be sent (the nudge run reports every nudge as skipped)."""

    name = "off"

    @contextmanager
    def open(self) -> Iterator[Outbox]:
        raise ServerUnavailable(OFF_MESSAGE)
        yield  # pragma: no cover


def build_mailer(settings: EmailSettings) -> Mailer:
    if settings.mode == "fake":
        return RecordingMailer()
    if settings.smtp_host:
        return SmtpMailer(settings)
    return OffMailer()
