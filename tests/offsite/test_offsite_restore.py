"""A restore from S3 downloads the backup's manifest once, though it passes over it twice
(its directories first, then every entry): on a large tree the manifest is tens of MB, and a
drill's recovery time pays for every download."""

from __future__ import annotations

import tempfile

import pytest
from engine_kit import assert_same, open_repo, restored, snapshot

from reliad.errors import ReliadError
from reliad.jobs.restore import run_restore
from reliad.repository.names import manifest_object


def test_a_restore_from_s3_reads_the_manifest_once(offsite, src, tmp_path) -> None:
    (src / "sub" / "deeper" / "more").mkdir()
    (src / "sub" / "deeper" / "more" / "d.txt").write_text("d\n")
    (src / "skip.tmp").unlink()  # excluded by the policy
    bid = offsite.json("backup", "shop", "--type", "full")["id"]
    repo = open_repo(offsite.config, "offsite")
    opened: list[str] = []
    open_read = repo.storage.open_read

    def counting(name: str):
        opened.append(name)
        return open_read(name)

    repo.storage.open_read = counting  # the real S3 storage, its downloads counted
    result = run_restore(repo, bid, tmp_path / "dest", [])
    assert result["errors"] == []
    assert opened.count(manifest_object(bid)) == 1
    assert_same(snapshot(src), snapshot(restored(tmp_path / "dest", src)))


def test_no_room_for_the_manifest_copy_is_one_clear_error(offsite, tmp_path, monkeypatch) -> None:
    bid = offsite.json("backup", "shop", "--type", "full")["id"]
    repo = open_repo(offsite.config, "offsite")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-dir"))
    with pytest.raises(ReliadError, match=r"cannot keep a copy of the manifest of backup .*set TMPDIR"):
        run_restore(repo, bid, tmp_path / "dest", [])
    assert not (tmp_path / "dest").exists()  # it stopped before it wrote anything
