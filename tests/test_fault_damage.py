"""Issue 16, point 5: damage stays known. A backup found damaged stays damaged in the metrics
(and so in the alert), in `list` and in `status` until a verification that can disprove it
finds it clean, not only until the next verification of something else."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Reliad, write_config
from test_metrics import samples, value


def _damaged_gauge(r: Reliad) -> float:
    return value(samples(r.run("metrics").stdout), "reliad_verify_damaged_backups", policy="shop", target="local",
                 mode="crc")


def test_damage_stays_known_until_verified_clean(tmp_path: Path, src: Path) -> None:
    r = Reliad(write_config(tmp_path / "reliad.toml", [str(src)]))
    first = r.json("backup", "shop", "--type", "full")["id"]
    (src / "later.txt").write_text("a second full of its own\n")
    second = r.json("backup", "shop", "--type", "full")["id"]
    pack = next((tmp_path / "repo" / "data" / first).glob("*.pack"))
    good = pack.read_bytes()
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0xFF
    pack.write_bytes(bytes(bad))

    r.run("verify", "--mode", "crc", expect=3)
    assert _damaged_gauge(r) == 1
    r.run("verify", "--mode", "crc", second)  # a clean run of another backup clears nothing
    r.run("verify", "--mode", "fast", first)  # nor does a pass that reads no content
    assert _damaged_gauge(r) == 1
    listed = {b["id"]: b for b in r.json("list")}
    assert listed[first]["damaged"]["mode"] == "crc" and listed[second]["damaged"] is None
    text = r.run("list").stdout
    assert any(ln.startswith(first) and "DAMAGED" in ln for ln in text.splitlines()), text
    status = r.json("status")
    assert [d["backup"] for d in status["damaged"]] == [first]
    assert f"DAMAGED: backup {first}" in r.run("status").stdout

    pack.write_bytes(good)  # repaired (copied back from another copy, say)
    r.run("verify", "--mode", "crc", first)
    assert _damaged_gauge(r) == 0
    assert r.json("list")[0]["damaged"] is None and not r.json("status")["damaged"]


def test_prune_forgets_the_damage_of_what_it_removed(tmp_path: Path, src: Path) -> None:
    cfg = write_config(tmp_path / "reliad.toml", [str(src)], extra="[policies.shop.retention]\nkeep_last = 1\n")
    r = Reliad(cfg)
    first = r.json("backup", "shop", "--type", "full")["id"]
    pack = next((tmp_path / "repo" / "data" / first).glob("*.pack"))
    pack.write_bytes(pack.read_bytes()[:-10])
    r.run("verify", "--mode", "crc", expect=3)
    (src / "later.txt").write_text("new\n")
    r.run("backup", "shop", "--type", "full")
    r.run("prune")
    assert _damaged_gauge(r) == 0 and not r.json("status")["damaged"]


def test_an_incremental_on_a_damaged_base_runs_as_a_full(tmp_path: Path, src: Path) -> None:
    r = Reliad(write_config(tmp_path / "reliad.toml", [str(src)]))
    full = r.json("backup", "shop", "--type", "full")["id"]
    pack = next((tmp_path / "repo" / "data" / full).glob("*.pack"))
    data = bytearray(pack.read_bytes())
    data[len(data) // 2] ^= 0xFF
    pack.write_bytes(bytes(data))
    r.run("verify", "--mode", "crc", expect=3)
    (src / "new.txt").write_text("new\n")
    proc = r.run("backup", "shop", "--type", "incremental", "--json")
    result = json.loads(proc.stdout)
    assert result["type"] == "full" and result["base"] is None
    assert f"backup {full}" in result["note"] and "failed verification" in result["note"]
    assert r.json("verify", "--mode", "crc", result["id"])["ok"]
