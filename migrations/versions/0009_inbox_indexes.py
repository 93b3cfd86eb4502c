"""Indexes for the inbox and the case list at 100,000 cases (issue 8, bench/inbox.py)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 07:45:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

# The pupil's name as one lower-case text, written exactly as engine.name_search writes it in queries (a database
# uses an index on an expression only for the same expression). Kept here as text: a migration does not change
# when the engine does.
PUPIL_SQLITE = ("lower(coalesce(data ->> '$.leerling.voornaam', '') || ' ' || "
                "coalesce(data ->> '$.leerling.tussenvoegsel', '') || ' ' || "
                "coalesce(data ->> '$.leerling.achternaam', ''))")
PUPIL_POSTGRES = ("lower(coalesce(data #>> '{leerling,voornaam}', '') || ' ' || "
                  "coalesce(data #>> '{leerling,tussenvoegsel}', '') || ' ' || "
                  "coalesce(data #>> '{leerling,achternaam}', ''))")


def upgrade() -> None:
    # The inbox (engine.worklist, engine.inbox): every condition of its tabs, filters and counts and its sort, in
    # one index, so the counts and the page's ids are read from the index alone (no row of the table), open
    # tasks first by SWV and status.
    op.create_index('ix_tasks_open_inbox', 'tasks',
                    ['tenant_id', 'status', 'lane', 'assignee_id', 'school_id', 'route_key', 'name', 'case_id',
                     'escalated', 'due_at', 'created_at', 'id'], unique=False)
    # Separated duties (engine.duties): which cases' tasks of these names did this user complete? (One
    # range per user, so PostgreSQL may read them once for the whole inbox; SQLite looks up each case.)
    op.create_index('ix_tasks_done_case', 'tasks', ['completed_by', 'name', 'case_id'], unique=False)
    # The search on the pupil's name (engine.name_search): not in engine.models, as an index on an expression
    # that differs per database (alembic's comparison leaves such indexes aside).
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        # pg_trgm ships with PostgreSQL (contrib); creating it needs the right to. Without it the search scans as
        # before (the same results, slower).
        try:
            with bind.begin_nested():
                bind.exec_driver_sql('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        except sa.exc.DBAPIError:
            return
        op.execute(f'CREATE INDEX ix_cases_pupil_name ON cases USING gin (({PUPIL_POSTGRES}) gin_trgm_ops)')
    else:
        op.execute(f'CREATE INDEX ix_cases_pupil_name ON cases (tenant_id, opened_at, id, {PUPIL_SQLITE})')


def downgrade() -> None:
    op.execute('DROP INDEX IF EXISTS ix_cases_pupil_name')
    op.drop_index('ix_tasks_done_case', table_name='tasks')
    op.drop_index('ix_tasks_open_inbox', table_name='tasks')
