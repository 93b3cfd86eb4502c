"""Web login: failed login attempts, sessions and task drafts (issue 8)

Login attempts are the lockout's memory and its log; a draft is what a user saved of a task's form as a concept.
Sessions themselves live in a signed cookie and need no table.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 06:45:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'login_attempts',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id'), nullable=True),
        sa.Column('tenant_id', sa.Integer(), sa.ForeignKey('tenants.id'), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('outcome', sa.String(length=20), nullable=False),
        sa.Column('address', sa.String(length=64), nullable=True),
    )
    op.create_index('ix_login_attempts_email', 'login_attempts', ['email', 'at'])
    op.create_table(
        'task_drafts',
        sa.Column('task_id', sa.String(length=36), primary_key=True),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id'), primary_key=True),
        sa.Column('tenant_id', sa.Integer(), sa.ForeignKey('tenants.id'), nullable=False),
        sa.Column('case_id', sa.Integer(), sa.ForeignKey('cases.id'), nullable=False),
        sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
        sa.Column('saved_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_task_drafts_case_id', 'task_drafts', ['case_id'])


def downgrade() -> None:
    op.drop_index('ix_task_drafts_case_id', table_name='task_drafts')
    op.drop_table('task_drafts')
    op.drop_index('ix_login_attempts_email', table_name='login_attempts')
    op.drop_table('login_attempts')
