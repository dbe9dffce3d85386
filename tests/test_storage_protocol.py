"""The Storage protocol states what every backend offers, so nothing above storage/ asks
which backend it holds (issue 12): each backend has every method of the protocol, and only
targets.py (which builds them) names a backend class."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from reliad.storage.base import Storage
from reliad.storage.local import LocalStorage
from reliad.storage.s3 import S3Storage

PACKAGE = Path(__file__).resolve().parent.parent / "reliad"


def _methods(cls: type) -> dict[str, inspect.Signature]:
    return {n: inspect.signature(f) for n, f in vars(cls).items() if inspect.isfunction(f) and not n.startswith("_")}


def test_every_backend_offers_the_whole_protocol_with_its_signatures() -> None:
    wanted = _methods(Storage)
    assert {"open_write", "prepare", "clear_stale_writes", "checksum_problem", "local_path"} <= wanted.keys()
    for backend in (LocalStorage, S3Storage):
        have = _methods(backend)
        for name, sig in wanted.items():
            assert name in have, f"{backend.__name__} lacks {name}"
            assert list(have[name].parameters) == list(sig.parameters), f"{backend.__name__}.{name}"


def test_no_module_above_storage_names_a_backend_or_probes_one() -> None:
    offenders = []
    for f in PACKAGE.rglob("*.py"):
        rel = f.relative_to(PACKAGE).as_posix()
        if rel.startswith("storage/") or rel == "targets.py":
            continue
        tree = ast.parse(f.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id in ("LocalStorage", "S3Storage"):
                offenders.append(f"{rel}:{node.lineno} names {node.id}")
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr")
                    and ast.unparse(node.args[0]).endswith(("storage", "dst", "src", "out"))):
                offenders.append(f"{rel}:{node.lineno} probes {ast.unparse(node.args[0])}")
    assert not offenders, offenders


def test_a_local_directory_is_prepared_and_cleared_of_what_dead_writers_left(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    s = LocalStorage(root)
    s.prepare()
    assert root.is_dir() and (root.stat().st_mode & 0o777) == 0o700
    s.put("data/b1/000001.pack", b"kept")
    dead = s.open_write("data/b2/000001.pack")
    dead.write(b"x" * 10)  # a writer that died before close(): its temporary file stays
    dead.fh.flush()
    assert s.clear_stale_writes(dry_run=True) == (1, 10) and any(root.rglob(".tmp-*"))
    assert s.clear_stale_writes() == (1, 10)
    assert not any(root.rglob(".tmp-*")) and not (root / "data" / "b2").exists()
    assert s.get("data/b1/000001.pack") == b"kept" and [o.name for o in s.list("data/")] == ["data/b1/000001.pack"]
    assert s.checksum_problem("data/b1/000001.pack", 123) is None  # a filesystem keeps no checksum
    assert s.local_path("data/b1/000001.pack") == root / "data" / "b1" / "000001.pack"
