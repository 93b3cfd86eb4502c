"""Linked cases (issue 12): case_links, the lookup of which case was started from which

The events on both cases (case_started with its link, case_linked on the case it came from) are the truth; this
table is their projection for fast lookups (a case's links, the bezwaar running on a decision, the TLVs already
up for herbeoordeling). It holds no personal data, so it stays when a case's data is purged.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 09:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_links",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tenant_id", sa.Integer(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("from_case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("to_case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("relation", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("to_case_id", name="uq_case_links_to"),
    )
    op.create_index("ix_case_links_from", "case_links", ["from_case_id", "relation"])


def downgrade() -> None:
    op.drop_index("ix_case_links_from", table_name="case_links")
    op.drop_table("case_links")
