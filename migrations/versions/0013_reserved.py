"""SWV configuration as events (issue 12): reserved for the five SWVs' policy changes

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 09:40:00
"""

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
