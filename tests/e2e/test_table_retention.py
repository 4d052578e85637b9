"""No update loses tracked rows: a table that leaves sql/ is retained with its
rows (the preview shows it leaving the stack), and destroy, the complete
rollback, still removes it with its schema."""

from tests.e2e.conftest import ours_in_catalog


def test_a_table_removed_from_sql_keeps_its_rows_until_destroy(project):
    source = project.dir / "sql" / "10_audit.sql"
    original = source.read_text()
    source.write_text(original + "\nCREATE TABLE util.extra_log (id integer, note text);\n")
    project.up()
    project.sql("INSERT INTO util.extra_log VALUES (1, 'keep me')")

    source.write_text(original)
    changes = project.changes()
    # the table and its ownership leave the program; the table itself stays, with its rows
    assert changes == {"util.extra_log": "delete", "owner of table util.extra_log": "delete"}
    shown = project.run("preview", "--diff").stdout  # the plan: kept, with the reason
    assert "+ util.extra_log" in shown and '"keep"' in shown and "kept with its rows until destroy" in shown
    project.up()
    assert project.sql("SELECT note FROM util.extra_log") == [("keep me",)]
    assert project.changes() == {}

    project.run("destroy", "--yes")
    assert project.sql("SELECT to_regclass('util.extra_log')") == [(None,)]
    assert ours_in_catalog(project)["schemas"] == 0
