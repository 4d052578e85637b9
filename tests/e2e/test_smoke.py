"""Foundation smoke test: the real CLI and engine, our language host and dynamic
provider launcher, against a real PostgreSQL: up, a preview with zero changes,
destroy; the catalog is checked after each step."""

from tests.e2e.conftest import NONE_OF_OURS, ours_in_catalog


def test_up_preview_destroy(project):
    assert ours_in_catalog(project) == NONE_OF_OURS

    out = project.up().stdout
    assert "created" in out
    after_up = ours_in_catalog(project)
    assert after_up["schemas"] == 2 and after_up["event_triggers"] == 2
    assert after_up["wrappers"] == 2 and after_up["roles"] == 3 and after_up["functions"] >= 7
    # the dynamic provider's resources carry readable type names
    urns = project.run("stack", "--show-urns").stdout
    assert "pulumi-python:dynamic/sql:Objects" in urns and "pulumi-python:dynamic/sql:Role" in urns

    assert project.changes() == {}
    assert ours_in_catalog(project) == after_up

    project.run("destroy", "--yes")
    assert ours_in_catalog(project) == NONE_OF_OURS
