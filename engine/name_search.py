"""The pupil's name as one lower-case text to search in, as SQL, written exactly as migration 0009 indexes it.

The name lives in the case's JSON data (personal data stays there, with no copy in a column). A search on it
would read and parse the data of every case of the SWV (~150 ms at 20,000 cases on SQLite, more on PostgreSQL),
so migration 0009 indexes this expression: on PostgreSQL as a GIN trigram index (pg_trgm), which answers
``LIKE '%word%'`` for a word of three letters or more; on SQLite as the last column of an index on (tenant_id,
opened_at, id, name), whose entries SQLite reads instead of the case's data when it filters (a scan of the
SWV's entries, not of its cases). Both databases match an index on an expression only when the query holds the
same expression, with the same constants written out (not bound): hence literal SQL, the same text as the
migration's. ``engine.case_list`` searches in it; ``engine.worklist`` uses it to find the cases before checking
the name parts it searches.

Case folding is the database's lower(): every letter on PostgreSQL, A-Z only on SQLite (as before).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, String, literal_column

_SQL = {
    "sqlite": "lower(coalesce({t}.data ->> '$.leerling.voornaam', '') || ' ' || "
              "coalesce({t}.data ->> '$.leerling.tussenvoegsel', '') || ' ' || "
              "coalesce({t}.data ->> '$.leerling.achternaam', ''))",
    "postgresql": "lower(coalesce({t}.data #>> '{{leerling,voornaam}}', '') || ' ' || "
                  "coalesce({t}.data #>> '{{leerling,tussenvoegsel}}', '') || ' ' || "
                  "coalesce({t}.data #>> '{{leerling,achternaam}}', ''))",
}


def pupil_text(dialect: str, table: str = "cases") -> ColumnElement[str]:
    """voornaam, tussenvoegsel and achternaam, lower case, one space between (an empty part stays empty)."""
    return literal_column(_SQL["sqlite" if dialect == "sqlite" else "postgresql"].format(t=table), String)


def index_sql(dialect: str) -> str:
    """The indexed expression without a table name (for migration 0009 and the test that compares them)."""
    return _SQL["sqlite" if dialect == "sqlite" else "postgresql"].replace("{t}.", "").replace("{{", "{").replace(
        "}}", "}")
