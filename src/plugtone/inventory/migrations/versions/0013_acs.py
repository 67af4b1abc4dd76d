"""TR-069 ACS (issue 14): devices, sessions, tasks, transfers; owned by the ACS work

Reserved so that the two pieces of work landing at the same time keep one chain of
revisions; its tables come with the code that uses them.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 17:00:00.000000
"""

from collections.abc import Sequence

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
