"""Fixtures for the tests that run against a real SeaweedFS S3 server over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Reliad, need_program

from .seaweed import Weed, bucket_name, s3_config


def _serve(tmp_path_factory: pytest.TempPathFactory, name: str):
    need_program("weed")
    server = Weed(tmp_path_factory.mktemp(name))
    server.start()
    yield server
    server.kill()


@pytest.fixture(scope="session")
def weed(tmp_path_factory: pytest.TempPathFactory):
    """One S3 server for the whole session; tests isolate themselves by bucket."""
    yield from _serve(tmp_path_factory, "weed")


@pytest.fixture
def own_weed(tmp_path_factory: pytest.TempPathFactory):
    """A server of its own, for a test that kills it."""
    yield from _serve(tmp_path_factory, "weed-own")


@pytest.fixture
def bucket(weed: Weed) -> str:
    name = bucket_name()
    weed.client().create_bucket(Bucket=name)
    return name


@pytest.fixture
def offsite(tmp_path: Path, weed: Weed, src: Path, bucket: str) -> Reliad:
    """reliad with targets local + offsite (an existing bucket on the test server)."""
    return Reliad(s3_config(tmp_path, weed, src, bucket))
