"""Issue 2, point 8: an unencrypted full backup restores with the standard zstd and tar alone,
exactly as docs/FORMAT.md tells a reader to do it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from conftest import REPO_ROOT, Reliad, need_program, write_config
from engine_kit import restored, snapshot


def _documented_command() -> str:
    text = (REPO_ROOT / "docs" / "FORMAT.md").read_text()
    line = next(ln.strip() for ln in text.splitlines() if ln.strip().startswith("zstd -dc data/"))
    assert "| tar -x" in line
    return line


def test_full_backup_restores_with_zstd_and_tar(tmp_path: Path):
    need_program("zstd")
    need_program("tar")
    tree = tmp_path / "tree"
    (tree / "sub" / "empty").mkdir(parents=True)
    (tree / "small.txt").write_text("small\n")
    (tree / "sub" / "big.bin").write_bytes(os.urandom(5 << 20))  # several chunks and frames
    (tree / "sub" / "text.sql").write_bytes(b"INSERT INTO t VALUES (1);\n" * 100_000)
    (tree / "empty.file").write_bytes(b"")
    with open(os.fsencode(tree) + b"/odd name \xe9\nnewline", "wb") as fh:
        fh.write(b"odd")
    (tree / ("l" * 200)).write_text("long name")
    os.symlink("small.txt", tree / "link")
    os.link(tree / "small.txt", tree / "hard")
    os.chmod(tree / "sub" / "text.sql", 0o640)
    if os.geteuid() == 0:
        os.chown(tree / "small.txt", 1234, 5678)
    cfg = write_config(tmp_path / "reliad.toml", [str(tree)])
    cfg.write_text(cfg.read_text().replace('path = "repo"', 'path = "repo"\nencryption = false'))
    r = Reliad(cfg)
    bid = r.json("backup", "shop", "--type", "full")["id"]

    out = tmp_path / "out"
    out.mkdir()
    cmd = _documented_command().replace("<ID>", bid)
    proc = subprocess.run(["sh", "-c", f"{cmd} -C {out}"], cwd=tmp_path / "repo", capture_output=True)
    assert proc.returncode == 0, proc.stderr

    def comparable(snap: dict) -> dict:  # tar keeps mtime to the second only
        return {p: (v[0], *v[1:4], v[4] // 1_000_000_000, *v[5:]) for p, v in snap.items() if p != b""}

    expected = comparable(snapshot(tree))
    got = comparable(snapshot(restored(out, tree)))
    # tar restores directory times too, but only of directories it was given
    assert {p: v for p, v in got.items() if v[0] != "dir"} == {p: v for p, v in expected.items() if v[0] != "dir"}
    assert {p for p, v in got.items() if v[0] == "dir"} == {p for p, v in expected.items() if v[0] == "dir"}
