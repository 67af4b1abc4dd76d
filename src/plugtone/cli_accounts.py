"""``plugtone user ...`` and ``plugtone token ...``: accounts for the admin listener.

Thin over ``services.accounts``; the CLI acts as the local admin (whoever can run it
on the server can already read the store).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from plugtone.services.accounts import (
    MIN_PASSWORD,
    add_user,
    create_token,
    list_tokens,
    list_users,
    remove_user,
    revoke_token,
    set_password,
    set_role,
)
from plugtone.services.actors import local_admin
from plugtone.settings import Settings


def _password(password_file: Path | None) -> str:
    """From a file (first line), else prompted twice without echo."""
    if password_file is not None:
        try:
            text = password_file.read_text(encoding="utf-8")
        except OSError as error:
            raise click.ClickException(f"cannot read {password_file}: {error.strerror}") from None
        return text.splitlines()[0] if text else ""
    return click.prompt(
        f"Password (at least {MIN_PASSWORD} characters)",
        hide_input=True,
        confirmation_prompt=True,
    )


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def register(main: click.Group, common, run, table) -> None:
    """Attach ``user`` and ``token`` to ``main``; ``run`` maps service errors to exits."""
    password_file = click.option(
        "--password-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
        help="Read the password from this file's first line instead of prompting.",
    )  # fmt: skip

    @main.group()
    def user() -> None:
        """Accounts for the web UI and the API (roles: admin, operator, viewer)."""

    @user.command("add")
    @common
    @click.argument("name")
    @click.option("--role", type=click.Choice(["admin", "operator", "viewer"]), required=True)
    @password_file
    def user_add(settings: Settings, name: str, role: str, password_file: Path | None) -> None:
        """Add user NAME with ROLE."""
        password = _password(password_file)
        run(settings, lambda store: add_user(store, local_admin(), name, role, password))
        click.echo(f"user {name} added ({role})")

    @user.command("list")
    @common
    def user_list(settings: Settings) -> None:
        """List users, their roles and how many live tokens each has."""
        users = run(settings, lambda store: list_users(store, local_admin()))
        table(
            ("NAME", "ROLE", "CREATED", "PASSWORD CHANGED", "TOKENS"),
            [(u.name, u.role, _when(u.created_at), _when(u.password_changed_at), u.tokens)
             for u in users],
        )  # fmt: skip

    @user.command("remove")
    @common
    @click.argument("name")
    def user_remove(settings: Settings, name: str) -> None:
        """Remove user NAME and its tokens (never the last admin)."""
        run(settings, lambda store: remove_user(store, local_admin(), name))
        click.echo(f"user {name} removed")

    @user.command("passwd")
    @common
    @click.argument("name")
    @password_file
    def user_passwd(settings: Settings, name: str, password_file: Path | None) -> None:
        """Set user NAME's password."""
        password = _password(password_file)
        run(settings, lambda store: set_password(store, local_admin(), name, password))
        click.echo(f"password of {name} changed")

    @user.command("role")
    @common
    @click.argument("name")
    @click.argument("role", type=click.Choice(["admin", "operator", "viewer"]))
    def user_role(settings: Settings, name: str, role: str) -> None:
        """Give user NAME another ROLE."""
        run(settings, lambda store: set_role(store, local_admin(), name, role))
        click.echo(f"{name} is now {role}")

    @main.group()
    def token() -> None:
        """API tokens (shown once when created; only a hash is stored)."""

    @token.command("create")
    @common
    @click.option("--user", "user_name", required=True, help="Whose token (it has their role).")
    @click.option("--expires", "expires_days", type=int, default=None,
                  help="Days until it expires (default: never).")  # fmt: skip
    def token_create(settings: Settings, user_name: str, expires_days: int | None) -> None:
        """Create a token; it is printed once, on standard output."""
        text, view = run(
            settings, lambda store: create_token(store, local_admin(), user_name, expires_days)
        )
        click.echo(
            f"token {view.id} for {user_name}"
            + (f", expires {_when(view.expires_at)}" if view.expires_at else "")
            + " (shown once, keep it safe):",
            err=True,
        )
        click.echo(text)

    @token.command("list")
    @common
    @click.option("--user", "user_name", default=None, help="Only this user's tokens.")
    def token_list(settings: Settings, user_name: str | None) -> None:
        """List tokens by id and prefix (never the token itself)."""
        tokens = run(settings, lambda store: list_tokens(store, local_admin(), user_name))
        table(
            ("ID", "USER", "PREFIX", "CREATED", "EXPIRES", "LAST USED", "STATE"),
            [(t.id, t.user, t.prefix + "...", _when(t.created_at), _when(t.expires_at),
              _when(t.last_used_at), t.state) for t in tokens],
        )  # fmt: skip

    @token.command("revoke")
    @common
    @click.argument("which")
    def token_revoke(settings: Settings, which: str) -> None:
        """Revoke the token with id or prefix WHICH."""
        view = run(settings, lambda store: revoke_token(store, local_admin(), which))
        click.echo(f"token {view.id} ({view.prefix}...) of {view.user} revoked")
