"""Route drafts edited in the browser (issue 11)

A draft is one SWV's work on a route: its BPMN and forms, saved with a version counter so that a second editor's
stale save is refused. A published version now records who published it and why (the note).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 08:00:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('route_versions') as batch:
        batch.add_column(sa.Column('published_by_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('note', sa.Text(), nullable=True))
        batch.create_foreign_key('fk_route_versions_published_by_id_users', 'users', ['published_by_id'], ['id'])
    op.create_table(
        'route_drafts',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('tenant_id', sa.Integer(), sa.ForeignKey('tenants.id'), nullable=False),
        sa.Column('route_key', sa.String(length=64), nullable=False),
        sa.Column('base_version_id', sa.Integer(), sa.ForeignKey('route_versions.id'), nullable=True),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('bpmn', sa.Text(), nullable=False),
        sa.Column('forms', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
                  nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), sa.ForeignKey('users.id'), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('saved_by_id', sa.Integer(), sa.ForeignKey('users.id'), nullable=False),
        sa.Column('saved_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('published_version_id', sa.Integer(), sa.ForeignKey('route_versions.id'), nullable=True),
    )
    op.create_index('ix_route_drafts_tenant', 'route_drafts', ['tenant_id', 'route_key'])


def downgrade() -> None:
    op.drop_index('ix_route_drafts_tenant', table_name='route_drafts')
    op.drop_table('route_drafts')
    with op.batch_alter_table('route_versions') as batch:
        batch.drop_constraint('fk_route_versions_published_by_id_users', type_='foreignkey')
        batch.drop_column('note')
        batch.drop_column('published_by_id')
