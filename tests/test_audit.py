"""The audit log (issue 7, point 4): every command leaves a chained record; edits, deletions,
reordering and a cut-off end are found."""

from __future__ import annotations

import json
from pathlib import Path

from reliad import audit


def _log(tmp_path: Path) -> Path:
    return tmp_path / "state" / "audit.log"


def test_every_command_is_recorded_with_who_what_and_outcome(reliad, tmp_path):
    bid = reliad.json("backup", "shop", "--type", "full")["id"]
    reliad.run("ls", bid)
    reliad.run("restore", bid, str(tmp_path / "out"), env={"SUDO_USER": "alice"})
    reliad.run("verify")
    reliad.run("restore", "no-such-backup", str(tmp_path / "out2"), expect=1)
    reliad.run("key", "list")
    records = reliad.json("audit", "show")
    assert [r["command"] for r in records] == ["backup", "ls", "restore", "verify", "restore", "key list"]
    backup, ls, restore, verify, failed, _ = records
    assert backup["backups"] == [bid] and backup["outcome"] == "ok" and backup["args"]["btype"] == "full"
    assert ls["backups"] == [bid] and verify["backups"] == [bid]
    assert restore["sudo_user"] == "alice" and restore["user"] and restore["host"] and restore["uid"] >= 0
    assert restore["args"]["dest"] == str(tmp_path / "out")
    assert failed["outcome"] == "failed" and failed["exit_code"] == 1 and "no backup" in failed["error"]
    assert [r["seq"] for r in records] == list(range(1, 7))
    assert reliad.json("audit", "verify")["ok"]
    since = reliad.json("audit", "show", "--since", records[3]["time"])
    assert since and all(r["time"] >= records[3]["time"] for r in since)
    text = reliad.run("audit", "show").stdout
    assert "sudo from alice" in text and bid in text


def _tamper_and_verify(reliad, log: Path, lines: list[bytes]) -> list[str]:
    original = log.read_bytes()
    log.write_bytes(b"\n".join(lines) + b"\n")
    try:
        out = reliad.json("audit", "verify", expect=3)
    finally:
        log.write_bytes(original)
    assert not out["ok"]
    return out["problems"]


def test_edited_deleted_and_reordered_records_are_found(reliad, tmp_path):
    for _ in range(3):
        reliad.run("audit", "show")
    log = _log(tmp_path)
    lines = log.read_bytes().splitlines()
    assert len(lines) == 3
    edited = json.loads(lines[1])
    edited["user"] = "mallory"
    problems = _tamper_and_verify(reliad, log, [lines[0], json.dumps(edited).encode(), lines[2]])
    assert any("altered" in p for p in problems)
    # Re-hashing the edited record is not enough: the next record no longer follows it.
    body = {k: v for k, v in edited.items() if k != "hash"}
    edited["hash"] = audit._digest(edited["prev"], body)
    problems = _tamper_and_verify(reliad, log, [lines[0], json.dumps(edited).encode(), lines[2]])
    assert any("does not follow" in p for p in problems)
    assert any("deleted" in p for p in _tamper_and_verify(reliad, log, [lines[0], lines[2]]))
    assert _tamper_and_verify(reliad, log, [lines[0], lines[2], lines[1]])
    assert reliad.json("audit", "verify")["ok"]


def test_copy_in_the_repository_finds_a_cut_off_end(reliad, tmp_path):
    reliad.run("backup", "shop", "--type", "full")
    reliad.run("key", "list")
    reliad.run("backup", "shop")  # copies records 1-2 into the repository, encrypted
    copies = list((tmp_path / "repo" / "audit").rglob("*"))
    assert [p.name for p in copies if p.is_file()] == ["0000000001-0000000002"]
    assert b"key list" not in copies[-1].read_bytes()
    assert reliad.json("audit", "verify")["copies"] == {"local": 2}
    log = _log(tmp_path)
    lines = log.read_bytes().splitlines()
    log.write_bytes(lines[-1] + b"\n")  # keep only the newest: a valid-looking but cut log
    out = reliad.json("audit", "verify", expect=3)
    assert any("missing from the local log" in p for p in out["problems"])


def test_command_that_cannot_be_recorded_does_not_run(reliad, tmp_path):
    (tmp_path / "state").mkdir(mode=0o700)
    (tmp_path / "state" / "audit.log").mkdir()  # unwritable as a file, even for root
    proc = reliad.run("backup", "shop", expect=1)
    assert "cannot write the audit log" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "repo").exists()


def test_secret_named_arguments_are_masked():
    args = audit.clean_args({"passphrase": "hunter2hunter2", "dest": "/tmp/x", "paths": ("a", "b"),
                             "overwrite": False, "target_name": None})
    assert args == {"passphrase": "***", "dest": "/tmp/x", "paths": ["a", "b"]}
