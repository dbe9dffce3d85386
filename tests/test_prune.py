"""`reliad prune`: retention, dependencies, dry runs, and leftovers of interrupted runs."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import Reliad, write_config


def _cfg(tmp_path: Path, src: Path, retention: str) -> Reliad:
    return Reliad(write_config(tmp_path / "reliad.toml", [str(src)],
                               extra=f"\n[policies.shop.retention]\n{retention}\n"))


def _ids(reliad: Reliad, status: str = "ok") -> list[str]:
    return [b["id"] for b in reliad.json("list") if b["status"] == status]


def test_prune_keeps_what_kept_backups_point_into(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "big.bin").write_bytes(os.urandom(1 << 20))
    reliad = _cfg(tmp_path, src, "keep_last = 1")
    full1 = reliad.json("backup", "shop", "--type", "full")["id"]
    (src / "new.txt").write_text("new\n")
    inc1 = reliad.json("backup", "shop", "--type", "incremental")["id"]
    # keep_last = 1 keeps only inc1, but inc1 points into full1's packs: both stay
    report = reliad.json("prune")
    assert report["targets"][0]["expired"] == [] and report["targets"][0]["packs_deleted"] == 0
    assert _ids(reliad) == [full1, inc1]

    full2 = reliad.json("backup", "shop", "--type", "full")["id"]
    (src / "new2.txt").write_text("newer\n")
    inc2 = reliad.json("backup", "shop", "--type", "incremental")["id"]
    dry = reliad.json("prune", "--dry-run")
    assert {e["id"] for e in dry["targets"][0]["expired"]} == {full1, inc1}
    assert (tmp_path / "repo" / "manifests" / full1).exists()  # a dry run removes nothing
    text = reliad.run("prune", "--dry-run").stdout
    assert f"would remove full backup {full1}" in text

    report = reliad.json("prune")
    assert {e["id"] for e in report["targets"][0]["expired"]} == {full1, inc1}
    assert report["targets"][0]["manifests_deleted"] == 2 and report["targets"][0]["packs_deleted"] >= 1
    assert not (tmp_path / "repo" / "data" / full1).exists()
    assert _ids(reliad) == [full2, inc2] and set(_ids(reliad, "pruned")) == {full1, inc1}
    assert reliad.json("verify", "--mode", "crc")["ok"]
    reliad.run("restore", inc2, str(tmp_path / "out"))
    assert (tmp_path / "out" / str(src).lstrip("/") / "new2.txt").read_text() == "newer\n"


def test_prune_removes_leftovers_but_not_a_running_backup(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("a\n")
    reliad = _cfg(tmp_path, src, "keep_last = 5")
    full = reliad.json("backup", "shop", "--type", "full")["id"]
    repo = tmp_path / "repo"
    # what a killed backup leaves: packs without a manifest, and a temporary file
    orphan = repo / "data" / "20200101T000000.000000Z-dead00"
    orphan.mkdir(parents=True)
    (orphan / "000001.pack").write_bytes(b"x" * 100)
    (orphan / ".tmp-000002.pack.12345").write_bytes(b"y" * 10)
    # while a writer holds the lock, prune waits (here: gives up) instead of deleting its packs
    from reliad.repository.lock import writer_lock

    with writer_lock(repo, "a backup in progress"):
        proc = reliad.run("prune", check=False)
    assert proc.returncode == 1 and "locked" in proc.stdout + proc.stderr
    assert (orphan / "000001.pack").exists()
    report = reliad.json("prune")
    t = report["targets"][0]
    assert t["orphans"] == [orphan.name] and t["temporaries_deleted"] == 1 and t["expired"] == []
    assert not orphan.exists() and (repo / "manifests" / full).exists()
    assert reliad.json("verify", "--mode", "crc")["ok"]


def test_a_prune_from_the_command_line_is_recorded_as_a_prune_run(tmp_path: Path) -> None:
    """The prune job records itself, whoever started it: a manual prune serves the policy's
    prune slot in `reliad status` just as the service's would; a dry run is not a run."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("a\n")
    reliad = _cfg(tmp_path, src, "keep_last = 5")
    reliad.run("backup", "shop", "--type", "full")

    def prune_slot() -> dict:
        return next(s for s in reliad.json("status")["jobs"] if s["policy"] == "shop" and s["type"] == "prune")

    reliad.run("prune", "--dry-run")
    assert prune_slot()["last_run"] is None
    report = reliad.json("prune")
    last = prune_slot()["last_run"]
    assert report["ok"] and last["status"] == "ok"
    assert prune_slot()["last_served"] == last["started_at"] and not prune_slot()["overdue"]
