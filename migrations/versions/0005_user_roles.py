"""Users with several roles (user_roles); indexes for the case list and need-to-know reads

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 06:45:00

users.role stays: it is the user's primary role (the first one given), which older code and the access log
show. user_roles holds every role a user has, the primary one included, filled from users.role here. Going back
drops user_roles: each user keeps its primary role and loses the others.
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'user_roles',
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='CASCADE'), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint('user_id', 'role'),
    )
    # Who holds a role (notifications to a role, delegation to a colleague of the same role).
    op.create_index('ix_user_roles_role', 'user_roles', ['role', 'user_id'], unique=False)
    op.execute("INSERT INTO user_roles (user_id, role) SELECT id, role FROM users")

    # GET /api/v1/cases: a tenant's cases newest first, for a school only its own; both walk the index in order
    # and stop at the page (engine/case_list.py).
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_tenant_opened', ['tenant_id', 'opened_at', 'id'], unique=False)
        batch_op.create_index('ix_cases_tenant_school_opened', ['tenant_id', 'school_id', 'opened_at', 'id'],
                              unique=False)
    # Need to know: the cases a role is a party to (a task in its lane, now or before) and the cases with an
    # escalated task, found from the tasks without reading every case.
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index('ix_tasks_lane_case', ['tenant_id', 'lane', 'case_id'], unique=False)
        batch_op.create_index('ix_tasks_escalated_case', ['tenant_id', 'escalated', 'case_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_escalated_case')
        batch_op.drop_index('ix_tasks_lane_case')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_tenant_school_opened')
        batch_op.drop_index('ix_cases_tenant_opened')
    op.drop_index('ix_user_roles_role', table_name='user_roles')
    op.drop_table('user_roles')
