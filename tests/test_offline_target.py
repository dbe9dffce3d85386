"""Offline copies (R6, R19): a directory on removable media, attached only around each copy,
verified after it, and detached even when the copy fails."""

from __future__ import annotations

import filecmp
import json
from pathlib import Path

from conftest import Reliad, write_config


def _config(tmp_path: Path, src: Path, media: Path, policy_targets: str, attach: list[str] | None = None) -> Path:
    log = tmp_path / "hooks.log"
    attach = attach or ["sh", "-c", f"mkdir -p {media} && echo attach >> {log}"]
    extra = (f'\n[targets.usb]\ntype = "offline"\npath = "{media / "reliad"}"\nattach = {json.dumps(attach)}\n'
             f'detach = ["sh", "-c", "echo detach >> {log}"]\nverify = "crc"\n')
    cfg = write_config(tmp_path / "reliad.toml", [str(src)], extra=extra)
    cfg.write_text(cfg.read_text().replace('targets = ["local"]', f"targets = {policy_targets}"))
    return cfg


def test_offline_copy_is_attached_verified_detached_and_restorable(src, tmp_path):
    media = tmp_path / "media"
    local_only = Reliad(_config(tmp_path, src, media, '["local"]'))
    bid = local_only.json("backup", "shop", "--type", "full")["id"]
    r = Reliad(_config(tmp_path, src, media, '["local", "usb"]'))
    out = r.json("replicate", "--target", "usb")
    t = out["targets"][0]
    assert out["ok"] and t["replicated"] == [bid]
    assert t["verified"]["ok"] and t["verified"]["mode"] == "crc" and t["verified"]["bytes_checked"] > 3 << 20
    assert (tmp_path / "hooks.log").read_text().split() == ["attach", "detach"]
    # Later backups go to the media on their own.
    (src / "later.txt").write_text("later\n")
    inc = r.json("backup", "shop")
    assert inc["replication"] == {"usb": {"state": "replicated", "error": None}}
    assert (tmp_path / "hooks.log").read_text().split() == ["attach", "detach"] * 2
    dest = tmp_path / "out"
    r.run("restore", inc["id"], str(dest), "--target", "usb")
    restored = dest / str(src).lstrip("/")
    assert filecmp.cmp(src / "later.txt", restored / "later.txt", shallow=False)
    assert filecmp.cmp(src / "sub" / "deeper" / "c.bin", restored / "sub" / "deeper" / "c.bin", shallow=False)


def test_media_is_detached_even_when_the_copy_fails(src, tmp_path):
    blocker = tmp_path / "media"
    blocker.write_text("a file where the media's directory should be")
    Reliad(_config(tmp_path, src, tmp_path / "elsewhere", '["local"]')).run("backup", "shop")
    cfg = _config(tmp_path, src, blocker, '["local", "usb"]', attach=["sh", "-c", f"echo attach >> {tmp_path}/hooks.log"])
    proc = Reliad(cfg).run("replicate", expect=1)
    assert "target 'usb'" in proc.stderr and "Traceback" not in proc.stderr
    assert (tmp_path / "hooks.log").read_text().split() == ["attach", "detach"]
    status = Reliad(cfg).json("replicate", "--status")
    assert len(status["targets"][0]["pending"]) == 1


def test_failed_attach_copies_nothing_and_leaves_the_backup_pending(src, tmp_path):
    cfg = _config(tmp_path, src, tmp_path / "media", '["local", "usb"]', attach=["false"])
    out = Reliad(cfg).json("backup", "shop")
    assert out["status"] == "ok" and out["replication_pending"] == 1
    assert "the attach command exited with 1" in out["replication"]["usb"]["error"]
    assert not (tmp_path / "media").exists()
