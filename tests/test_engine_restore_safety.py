"""Issue 2, point 7: restore never writes outside DEST whatever a manipulated manifest says
(absolute paths, '..', symlinked parents, hard links to outside files), and never replaces
existing files unless --overwrite is given."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import Reliad, write_config
from engine_kit import forge_manifest, open_repo, restored, snapshot

from reliad.repository.manifest import Entry

FORGED = "20260101T000000.000000Z-f0f0f0"


def _plain_repo(tmp_path: Path, tree: Path) -> Reliad:
    cfg = write_config(tmp_path / "reliad.toml", [str(tree)])
    cfg.write_text(cfg.read_text().replace('path = "repo"', 'path = "repo"\nencryption = false'))
    return Reliad(cfg)


def test_forged_manifest_cannot_write_outside_dest(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "payload.txt").write_bytes(b"attacker-controlled content\n")
    r = _plain_repo(tmp_path, tree)
    real = r.json("backup", "shop", "--type", "full")["id"]
    chunks = next(e.chunks for e in open_repo(r.config).entries(real) if e.path.endswith(b"payload.txt"))

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim").write_text("must stay as it is\n")
    dest = tmp_path / "dest"
    dest.mkdir()
    os.symlink(outside, dest / "planted")  # a symlink already in the destination
    before = snapshot(outside)

    def f(path: bytes, **kw) -> Entry:
        return Entry(path=path, type=kw.pop("type", "file"), mode=0o644, size=28, chunks=chunks, **kw)

    out_rel = os.fsencode(os.path.relpath(outside, dest))  # ../outside
    forge_manifest(tmp_path / "repo", FORGED, [
        f(b"ok-before.txt"),
        f(os.fsencode(outside / "abs-pwned")),  # absolute
        f(out_rel + b"/dotdot-pwned"),
        f(b"sub/../../outside/dotdot2-pwned"),
        f(b"./dot-pwned"),
        Entry(path=b"evil", type="symlink", mode=0o777, target=os.fsencode(outside)),
        f(b"evil/through-symlink-pwned"),
        Entry(path=b"evil-rel", type="symlink", mode=0o777, target=b"../outside"),
        f(b"evil-rel/through-relative-symlink-pwned"),
        f(b"planted/through-planted-symlink-pwned"),
        f(b"victim-link", type="hardlink", target=out_rel + b"/victim"),
        Entry(path=b"evil", type="dir", mode=0o777),
        f(b"evil/second-try-pwned"),
        f(b"ok-after.txt"),
    ])
    proc = r.run("restore", FORGED, str(dest), expect=1)
    assert "Traceback" not in proc.stderr and "unsafe path" in proc.stderr

    assert snapshot(outside) == before, "restore wrote outside DEST"
    assert (dest / "ok-before.txt").read_bytes() == (dest / "ok-after.txt").read_bytes() == b"attacker-controlled content\n"
    assert os.stat(dest / "victim-link").st_ino != os.stat(outside / "victim").st_ino
    assert os.readlink(dest / "evil") == str(outside)  # stored as a link, never followed


def test_restore_does_not_overwrite_unless_asked(reliad, src, tmp_path):
    bid = reliad.json("backup", "shop", "--type", "full")["id"]
    dest = tmp_path / "dest"
    reliad.run("restore", bid, str(dest))
    mine = restored(dest, src) / "a.txt"
    mine.write_text("edited after the restore\n")
    proc = reliad.run("restore", bid, str(dest), expect=1)
    assert "--overwrite" in proc.stderr and "Traceback" not in proc.stderr
    assert mine.read_text() == "edited after the restore\n"
    result = reliad.json("restore", bid, str(dest), "--overwrite")
    assert result["ok"] and mine.read_text() == "hello\n"
    assert (restored(dest, src) / "hard").read_text() == "hello\n"


def test_dest_may_be_a_symlink_but_not_a_file(reliad, src, tmp_path):
    bid = reliad.json("backup", "shop", "--type", "full")["id"]
    real = tmp_path / "real-dest"
    real.mkdir()
    os.symlink(real, tmp_path / "dest-link")
    reliad.run("restore", bid, str(tmp_path / "dest-link"))
    assert (restored(real, src) / "a.txt").read_text() == "hello\n"
    (tmp_path / "a-file").write_text("x")
    reliad.run("restore", bid, str(tmp_path / "a-file"), expect=2)  # click: DEST is a file
    proc = reliad.run("restore", bid, str(tmp_path / "a-file" / "below"), expect=1)
    assert "cannot restore into" in proc.stderr and "Traceback" not in proc.stderr
