"""Per-SWV calendar settings: 5 May, advisory holidays, municipalities (issue 9)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 06:45:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# As engine.models.JSONType: JSONB on PostgreSQL, JSON text elsewhere.
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    # One row per SWV (school_id empty) and per school that has its own rules. No row: Loket's defaults
    # (5 May and Goede Vrijdag days off, advisory holidays as the data file says), so existing SWVs keep
    # counting as before except for 5 May, which is now a day off in education every year.
    op.create_table('calendar_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=True),
    sa.Column('gemeenten', JSON, nullable=False),
    sa.Column('region', sa.String(length=10), nullable=True),
    sa.Column('may5_off', sa.Boolean(), nullable=True),
    sa.Column('good_friday_off', sa.Boolean(), nullable=True),
    sa.Column('advisory', JSON, nullable=False),
    sa.Column('days_off', JSON, nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'school_id')
    )


def downgrade() -> None:
    op.drop_table('calendar_settings')
