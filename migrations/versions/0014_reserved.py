"""Linked cases (issue 12): reserved for the link between a case and the case it came from

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 09:40:00
"""

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
