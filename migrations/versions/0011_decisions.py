"""The TLV as an Awb decision: decision clock and decision record (issue 9)

The case's ``decision`` column holds the legal decision clock (Awb 4:13-4:15) and, once decided, the decision
record: a projection of the case's events like its other columns (engine.decision). The outbox carries the
decision letter as a PDF attachment.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 08:00:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("decision", _JSON, nullable=True))
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("attachment_name", sa.String(200), nullable=True))
        batch.add_column(sa.Column("attachment", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("attachment")
        batch.drop_column("attachment_name")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("decision")
