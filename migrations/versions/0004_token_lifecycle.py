"""API tokens with a name, an expiry and a last use; an index to find a user's tokens

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 09:00:00
"""
from datetime import datetime, timedelta, timezone

from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# Tokens issued before this migration had no expiry. They get the default lifetime from the moment of the
# upgrade, not from their creation: no token lives forever any more, and none dies by surprise at the upgrade.
TOKEN_DAYS = 90
UNNAMED = 'token'


def upgrade() -> None:
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name', sa.String(length=100), nullable=False, server_default=UNNAMED))
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True))

    bind = op.get_bind()
    expires = datetime.now(timezone.utc) + timedelta(days=TOKEN_DAYS)
    if bind.dialect.name == 'sqlite':
        expires = expires.replace(tzinfo=None)  # SQLite keeps naive UTC, as engine.models.UTCDateTime writes it
    tokens = sa.table('api_tokens', sa.column('expires_at', sa.DateTime(timezone=True)))
    bind.execute(sa.update(tokens).values(expires_at=expires))

    # Now every row has its expiry, it becomes required; a new token must always be given a name.
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.alter_column('expires_at', existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.alter_column('name', existing_type=sa.String(length=100), server_default=None)
        batch_op.create_index('ix_api_tokens_user', ['user_id'], unique=False)


def downgrade() -> None:
    # Going back loses the names, expiries and last uses. A token that has expired is marked revoked first, so
    # that the older schema, which knows no expiry, does not bring it back to life.
    bind = op.get_bind()
    now = datetime.now(timezone.utc)
    if bind.dialect.name == 'sqlite':
        now = now.replace(tzinfo=None)
    tokens = sa.table('api_tokens', sa.column('expires_at', sa.DateTime(timezone=True)),
                      sa.column('revoked_at', sa.DateTime(timezone=True)))
    bind.execute(sa.update(tokens).where(tokens.c.revoked_at.is_(None), tokens.c.expires_at <= now)
                 .values(revoked_at=tokens.c.expires_at))
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index('ix_api_tokens_user')
        batch_op.drop_column('last_used_at')
        batch_op.drop_column('expires_at')
        batch_op.drop_column('name')
