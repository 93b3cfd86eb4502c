"""Documents on a case, stored by sha256 (issue 8)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 06:45:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tenant_id", sa.Integer(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("actor", sa.String(254), nullable=False),
        sa.UniqueConstraint("case_id", "event_seq"),
    )
    op.create_index("ix_documents_tenant_sha", "documents", ["tenant_id", "sha256"])


def downgrade() -> None:
    op.drop_index("ix_documents_tenant_sha", table_name="documents")
    op.drop_table("documents")
