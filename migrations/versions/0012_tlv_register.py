"""TLV register (issue 9): the minimal record of every granted TLV, kept after its dossier is purged

Legal holds are events on the case (legal_hold_set / legal_hold_lifted), not columns: nothing else to migrate.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 08:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tlv_register",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tenant_id", sa.Integer(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("nummer", sa.String(40), nullable=False),
        sa.Column("swv_code", sa.String(10), nullable=True),
        sa.Column("besluitdatum", sa.Date(), nullable=False),
        sa.Column("soort", sa.String(20), nullable=True),
        sa.Column("categorie", sa.String(20), nullable=True),
        sa.Column("ingangsdatum", sa.Date(), nullable=True),
        sa.Column("einddatum", sa.Date(), nullable=True),
        sa.Column("keep_until", sa.Date(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("tenant_id", "nummer"),
    )
    op.create_index("ix_tlv_register_keep_until", "tlv_register", ["keep_until"])


def downgrade() -> None:
    op.drop_index("ix_tlv_register_keep_until", table_name="tlv_register")
    op.drop_table("tlv_register")
