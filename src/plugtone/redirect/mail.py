"""The password-reset mail, sent through the SMTP server of ``[rcs]`` (``config``).

Sent from a worker thread by the caller, after the answer is decided: the page a
person sees is the same whether a mail went out or not, and an unreachable mail server
is logged (without the link) rather than shown.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from plugtone.redirect.config import RcsSettings

log = logging.getLogger(__name__)


def reset_message(settings: RcsSettings, to: str, link: str, minutes: int) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = "plugtone redirection service: reset your password"
    message.set_content(
        "Someone (you, we hope) asked to reset the password of this address on the\n"
        "plugtone redirection service. To choose a new password, open:\n\n"
        f"{link}\n\n"
        f"The link works once, for {minutes} minutes. If you did not ask, ignore this mail:\n"
        "your password stays as it is.\n"
    )
    return message


def send(settings: RcsSettings, message: EmailMessage) -> bool:
    if not settings.smtp_host:
        log.warning("a password-reset mail was not sent: no [rcs] smtp_host is set")
        return False
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as client:
            if settings.smtp_starttls:
                client.starttls()
            if settings.smtp_user:
                client.login(settings.smtp_user, settings.smtp_password or "")
            client.send_message(message)
        return True
    except (OSError, smtplib.SMTPException) as error:
        log.warning("a password-reset mail to %s was not sent: %s", message["To"], error)
        return False
