"""redirection service (issue 15): accounts, users, servers, MAC registry; owned by the redirection work

Reserved so that the two pieces of work landing at the same time keep one chain of
revisions; its tables come with the code that uses them.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 17:00:00.000000
"""

from collections.abc import Sequence

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
