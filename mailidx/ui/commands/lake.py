"""The commands that move days out of the index: export (to a Parquet lake) and prune."""

from __future__ import annotations

import sys

import typer

from mailidx import clock
from mailidx.errors import IndexUnusable, QueryError
from mailidx.ui import output
from mailidx.ui.options import DbOption, db_path, zone
from mailidx.ui.terminal import fail, failing_plainly


def export_lake(
    lake: str = typer.Argument(
        ..., metavar="DIR", help="Folder of the lake (created when missing), or an s3:// URL"
    ),
    since: str | None = typer.Option(None, help="From this day on (UTC days; 7d, 2026-11-27)"),
    until: str | None = typer.Option(None, help="Days before this time (today: the closed days)"),
    host: list[str] = typer.Option([], "--host", help="Only this host (repeatable)"),
    views: str | None = typer.Option(
        None, "--views", help="Print the lake's views for duckdb, spark or clickhouse; no export"
    ),
    location: str | None = typer.Option(
        None, "--location", help="With --views: where the engine reads the lake (s3://bucket/lake)"
    ),
    tz: str | None = typer.Option(None, help="Zone of --since/--until dates [default: local]"),
    db: str | None = DbOption,
) -> None:
    """Write the index as Hive-partitioned Parquet (DIR/TABLE/host=H/day=D/), only what changed."""
    from mailidx import store
    from mailidx.lake import export
    from mailidx.lake import views as lakes

    if views is not None:
        sys.stdout.write(lakes.script(lake, views, location))
        return
    tz = zone(tz)
    with failing_plainly(QueryError, IndexUnusable, export.ExportError, lakes.LakeError):
        try:
            scope = export.Scope(
                since=clock.utc_day(since, tz) if since else None,
                until=clock.utc_day(until, tz, end=True) if until else None,
                hosts=host or None,
            )
            con = store.connect(db_path(db), read_only=True, locked=False)  # it writes the lake
            # capped like a build: DuckDB spills past it (1 M lines: 1.2 GB uncapped)
            con.execute(f"SET memory_limit = '{store.UPGRADE_MEMORY_MB}MB'")
            try:
                scope.frozen_before = export.frozen_before(con)
                report = export.export(con, lake, scope)
            finally:
                con.close()
            lakes.write_scripts(lake)
        except OSError as exc:
            fail(f"{lake}: {exc.strerror or exc}")
    mb = report.bytes_written / 1e6
    output.note(
        f"{report.partitions_written} partitions written ({report.rows_written:,} rows, "
        f"{mb:.1f} MB), {report.partitions_unchanged} unchanged, "
        f"{report.partitions_removed} removed in {report.seconds:.1f} s"
    )


def prune(
    before: str = typer.Option(..., "--before", help="Remove days before this (90d, 2026-09-01)"),
    lake: str | None = typer.Option(
        None, "--export", help="First export to this lake; refuse unless it holds every day"
    ),
    tz: str | None = typer.Option(None, help="Zone of a --before date [default: local]"),
    db: str | None = DbOption,
) -> None:
    """Remove old days from the index (UTC days) and shrink the file."""
    from mailidx.lake import export
    from mailidx.lake import retention as pruning
    from mailidx.lake import views as lakes

    tz = zone(tz)
    kinds = (QueryError, IndexUnusable, export.ExportError, lakes.LakeError, pruning.PruneError)
    with failing_plainly(*kinds):
        report = pruning.prune(db_path(db), clock.utc_day(before, tz), tz=tz, lake=lake)
    output.note(
        f"pruned days before {report.before}: {report.lines_removed:,} lines removed, "
        f"{report.bytes_before / 1e6:.1f} MB → {report.bytes_after / 1e6:.1f} MB"
    )
