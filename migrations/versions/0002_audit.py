"""audit: the head of each SWV's access-log chain

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 09:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per SWV, locked while a read is recorded: concurrent readers append one after the other,
    # so the access-log chain never forks, and a deleted last entry shows against the head.
    op.create_table('access_heads',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('entries', sa.Integer(), nullable=False),
    sa.Column('last_hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('tenant_id')
    )


def downgrade() -> None:
    op.drop_table('access_heads')
