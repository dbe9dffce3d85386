"""Each database source is one module that both dumps and loads (issue 12): the table of
source types gives restore --into the loader from the same module as the dump."""

from __future__ import annotations

from reliad.sources import SOURCE_TYPES

DATABASES = {"postgres": b".dump", "mariadb": b".sql", "mysql": b".sql", "sqlite": b""}


def test_every_database_type_dumps_and_loads_from_one_module() -> None:
    for name, suffix in DATABASES.items():
        kind = SOURCE_TYPES[name]
        assert kind.load is not None, name
        assert kind.load.__module__ == kind.open.__module__, name
        assert kind.suffix == suffix, name


def test_files_and_images_hold_no_database_to_load() -> None:
    assert SOURCE_TYPES["files"].load is None
    assert SOURCE_TYPES["image"].load is None
