"""Faults injected into the real database: a trigger that makes the database itself refuse a
statement, the way a bug in a query or a broken migration would."""

from __future__ import annotations

import sqlalchemy as sa

from taskloom.store.database import Database


async def refuse(db: Database, *, table: str, when: str, name: str = "taskloom_fault") -> None:
    """Make every INSERT or UPDATE of `table` whose new row matches `when` (SQL over NEW)
    fail: on PostgreSQL with SQLSTATE 42703 (a programming error, as a query naming a column
    that does not exist), on SQLite with RAISE(ABORT) (a constraint the schema does not
    know)."""
    async with db.write() as conn:
        if db.is_sqlite:
            for op in ("INSERT", "UPDATE"):
                await conn.execute(
                    sa.text(
                        f"CREATE TRIGGER {name}_{op.lower()} BEFORE {op} ON {table} "
                        f"WHEN {when} BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
                    )
                )
            return
        await conn.execute(
            sa.text(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF {when} THEN RAISE EXCEPTION 'injected fault' USING ERRCODE = '42703'; "
                "END IF; RETURN NEW; END $$"
            )
        )
        await conn.execute(
            sa.text(
                f"CREATE TRIGGER {name} BEFORE INSERT OR UPDATE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {name}()"
            )
        )


async def heal(db: Database, *, table: str, name: str = "taskloom_fault") -> None:
    async with db.write() as conn:
        if db.is_sqlite:
            for op in ("insert", "update"):
                await conn.execute(sa.text(f"DROP TRIGGER {name}_{op}"))
            return
        await conn.execute(sa.text(f"DROP TRIGGER {name} ON {table}"))
        await conn.execute(sa.text(f"DROP FUNCTION {name}()"))
