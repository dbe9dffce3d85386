"""The new user's story: back up to local and offsite, lose the host, restore from the bucket alone."""

from __future__ import annotations

import filecmp
from pathlib import Path

from .seaweed import lose_the_host


def _same_tree(a: Path, b: Path) -> None:
    cmp = filecmp.dircmp(a, b)
    assert not cmp.left_only and not cmp.right_only and not cmp.diff_files and not cmp.funny_files, cmp.report()
    for sub in cmp.common_dirs:
        _same_tree(a / sub, b / sub)


def test_restore_from_the_bucket_alone(offsite, src, tmp_path, weed, bucket):
    full = offsite.json("backup", "shop", "--type", "full")
    assert full["replication"] == {"offsite": {"state": "replicated", "error": None}}
    assert full["replication_pending"] == 0
    (src / "a.txt").write_text("changed after the full\n")
    (src / "new.bin").write_bytes(bytes(range(256)) * 4000)
    inc = offsite.json("backup", "shop", "--type", "incremental")
    assert inc["replication"]["offsite"]["state"] == "replicated"

    keys = sorted(o["Key"] for o in weed.client().list_objects_v2(Bucket=bucket)["Contents"])
    assert "web01/config" in keys and f"web01/manifests/{inc['id']}" in keys
    assert all(k.startswith("web01/") for k in keys)

    # The host is lost: only the configuration, the S3 credentials and the key kept elsewhere survive.
    lose_the_host(tmp_path, offsite.config)
    offsite.run("list", "--target", "offsite")  # an empty catalog is no error
    rebuilt = offsite.json("catalog", "rebuild", "--target", "offsite")
    assert rebuilt["targets"] == {"offsite": 2}
    listed = offsite.json("list", "--target", "offsite")
    assert [b["id"] for b in listed] == [full["id"], inc["id"]]
    for mode in ("fast", "crc"):
        report = offsite.json("verify", "--mode", mode, "--target", "offsite")
        assert report["ok"] and len(report["backups"]) == 2, report
    dest = tmp_path / "restored"
    offsite.run("restore", inc["id"], str(dest), "--target", "offsite")
    (src / "skip.tmp").unlink()
    _same_tree(src, dest / str(src).lstrip("/"))
