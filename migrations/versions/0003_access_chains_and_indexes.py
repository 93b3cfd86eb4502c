"""access log chained per case or reader; an index for a case's pending deadlines

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 09:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# The entries written before this migration stay in the one chain per SWV they were hashed in, under this
# chain key: re-chaining them would mean re-hashing, which would also launder any edit made before.
LEGACY = 'swv'


def upgrade() -> None:
    # Every access-log entry names its chain. Added with a default so the existing rows land in the legacy
    # chain, then the default goes: a new entry must always say which chain it belongs to.
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chain', sa.String(length=300), nullable=False, server_default=LEGACY))
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.alter_column('chain', server_default=None)
        batch_op.create_index('ix_access_chain', ['tenant_id', 'chain', 'id'], unique=False)

    # One head per chain instead of one per SWV: readers of different cases lock different rows.
    heads = sa.table('access_heads', sa.column('tenant_id', sa.Integer()), sa.column('entries', sa.Integer()),
                     sa.column('last_hash', sa.String()))
    old = [dict(row._mapping) for row in op.get_bind().execute(sa.select(heads))]
    op.drop_table('access_heads')
    new = op.create_table('access_heads',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('chain', sa.String(length=300), nullable=False),
    sa.Column('entries', sa.Integer(), nullable=False),
    sa.Column('last_hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('tenant_id', 'chain')
    )
    if old:
        op.bulk_insert(new, [dict(row, chain=LEGACY) for row in old])

    # GET /cases/{id} reads the case's pending deadlines by due date; this index replaces the one on case_id
    # alone (a prefix of it), so a deadline write still maintains two indexes.
    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.create_index('ix_deadlines_case', ['case_id', 'status', 'due_at'], unique=False)
        batch_op.drop_index('ix_deadlines_case_id')


def downgrade() -> None:
    bind = op.get_bind()
    log = sa.table('access_log', sa.column('chain', sa.String()))
    if bind.execute(sa.select(sa.func.count()).select_from(log).where(log.c.chain != LEGACY)).scalar():
        # One chain per SWV cannot be rebuilt from many without re-hashing them, which would hide any edit.
        raise RuntimeError('downgrade onder 0003 kan niet: de toegangslog heeft al ketens per dossier of lezer')
    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.create_index('ix_deadlines_case_id', ['case_id'], unique=False)
        batch_op.drop_index('ix_deadlines_case')

    heads = sa.table('access_heads', sa.column('tenant_id', sa.Integer()), sa.column('entries', sa.Integer()),
                     sa.column('last_hash', sa.String()))
    old = [dict(row._mapping) for row in bind.execute(sa.select(heads))]
    op.drop_table('access_heads')
    restored = op.create_table('access_heads',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('entries', sa.Integer(), nullable=False),
    sa.Column('last_hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('tenant_id')
    )
    if old:
        op.bulk_insert(restored, old)

    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.drop_index('ix_access_chain')
        batch_op.drop_column('chain')
