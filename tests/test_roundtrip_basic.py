"""The user's first session: full, change, incremental, restore, no difference."""

from __future__ import annotations

import filecmp
import os
from pathlib import Path


def _same_tree(a: Path, b: Path) -> None:
    cmp = filecmp.dircmp(a, b)
    assert not cmp.left_only and not cmp.right_only and not cmp.diff_files and not cmp.funny_files, cmp.report()
    for sub in cmp.common_dirs:
        _same_tree(a / sub, b / sub)


def test_full_incremental_restore_is_identical(reliad, src, tmp_path):
    full = reliad.json("backup", "shop", "--type", "full")
    assert full["type"] == "full" and full["base"] is None
    (src / "a.txt").write_text("changed\n")
    (src / "new.txt").write_text("new file\n")
    os.unlink(src / "sub" / "b.txt")
    inc = reliad.json("backup", "shop", "--type", "incremental")
    assert inc["type"] == "incremental" and inc["base"] == full["id"]
    dest = tmp_path / "out"
    reliad.run("restore", inc["id"], str(dest))
    restored = dest / str(src).lstrip("/")
    (src / "skip.tmp").unlink()  # excluded, so not expected in the restore
    _same_tree(src, restored)
    assert not (restored / "sub" / "b.txt").exists()
    assert os.readlink(restored / "link") == "a.txt"
