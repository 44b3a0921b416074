"""`taskloom backup DEST`: a consistent copy of a SQLite store, safe while the server runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from taskloom.cli.output import JsonFlag, console, print_json
from taskloom.cli.server import DatabaseUrl, settings_for


def backup(
    destination: Annotated[Path, typer.Argument(help="the file to write (replaced if it exists)")],
    database_url: DatabaseUrl = None,
    as_json: JsonFlag = False,
) -> None:
    """Copy a SQLite database with SQLite's online backup (PostgreSQL: use pg_dump)."""
    from taskloom.store.backup import backup_sqlite

    done = backup_sqlite(settings_for(database_url).database_url, destination)
    if as_json:
        print_json(
            {
                "source": str(done.source),
                "destination": str(done.destination),
                "pages": done.pages,
                "size_bytes": done.size_bytes,
            }
        )
    else:
        console().print(f"backed up {done.source} to {done.destination} ({done.size_bytes} bytes)")
