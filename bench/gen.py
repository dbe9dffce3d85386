"""Deterministic generator of an online shop's server tree, and of the change between two backups.

The same seed and scale always give the same bytes, so two runs (or two machines) back up the
same data. Text is built from a pool of pseudo-sentences, which compresses about as well as
real HTML and SQL (zstd -3 ratio around 3); images are BLAKE3 output, which does not compress.

    python -m bench.gen tree DEST [--scale 1.0] [--seed 1]     # about 1 GiB at scale 1
    python -m bench.gen mutate DEST [--seed 2]                 # about 1 % of files change
    python -m bench.gen small DEST --files 1000000 --size 2048 # many small files, for the scale run
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import blake3

MiB = 1 << 20
PAGES = 20_000
PAGE_SIZES = (1 << 10, 30 << 10)
IMAGES = 300
IMAGE_SIZES = (100 << 10, 3 * MiB)  # log-uniform: many small images, few large ones
DUMP = 300 * MiB
LOGS = 100 * MiB
SUBDIRS = (20, 10)  # catalog/<category>/<subcategory>/
FIXED_MTIME = 1_700_000_000  # generated files look as if written long ago, as a real shop's mostly are

_SYLLABLES = ["ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "de", "an", "el", "or", "us", "im", "ba", "co",
              "fu", "ge", "hi", "jo", "qu", "ve", "wy", "xo", "zi", "tra", "sel", "mon", "par", "vin"]
_STATUSES = ("new", "paid", "shipped", "delivered", "returned", "cancelled")
_PATHS = ("/", "/cart", "/checkout", "/search?q=", "/catalog/", "/media/img/", "/account", "/api/stock/")
_AGENTS = ('"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"',
           '"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"',
           '"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/119.0 Safari/537.36"',
           '"Googlebot/2.1 (+http://www.google.com/bot.html)"', '"curl/7.88.1"')


@dataclass
class TreeStats:
    files: int = 0
    dirs: int = 0
    symlinks: int = 0
    empty: int = 0
    bytes: int = 0


@dataclass
class MutationStats:
    changed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    bytes_written: int = 0


class Text:
    """Pseudo-words with a Zipf-like frequency, grouped into a pool of sentences."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        words = ["".join(rng.choices(_SYLLABLES, k=rng.randint(1, 4))) for _ in range(8000)]
        weights, total = [], 0.0
        for i in range(len(words)):
            total += 1 / (i + 1) ** 0.9
            weights.append(total)
        picks = rng.choices(words, cum_weights=weights, k=12 * 150_000)
        self.words = words[:2000]
        self.sentences = [" ".join(picks[i:i + 12]).capitalize() + "." for i in range(0, len(picks), 12)]

    def prose(self, nbytes: int) -> str:
        """At least `nbytes` characters of prose (about 90 per sentence)."""
        return " ".join(self.rng.choices(self.sentences, k=nbytes // 85 + 1))

    def name(self) -> str:
        return " ".join(w.capitalize() for w in self.rng.choices(self.words, k=self.rng.randint(2, 4)))


def incompressible(seed: bytes, n: int) -> bytes:
    return blake3.blake3(seed).digest(length=n)


def page(text: Text, sku: int, size: int) -> bytes:
    rng = text.rng
    name = text.name()
    head = (f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{name} | Shop</title>\n"
            f"<link rel=\"stylesheet\" href=\"/static/shop.css\"><meta name=\"description\" "
            f"content=\"{text.prose(100)[:150]}\"></head>\n<body><main class=\"product\" data-sku=\"{sku:07d}\">\n"
            f"<h1>{name}</h1>\n<p class=\"price\">{rng.randint(1, 99999) / 100:.2f} EUR</p>\n"
            f"<p class=\"stock\">{rng.randint(0, 500)} in stock</p>\n<section class=\"description\">\n")
    tail = "</section>\n</main></body></html>\n"
    body = []
    n = len(head) + len(tail)
    while n < size:
        p = f"<p>{text.prose(400)}</p>\n"
        body.append(p)
        n += len(p)
    return (head + "".join(body) + tail).encode()[:size]


def sql_rows(text: Text, first_id: int, nbytes: int) -> bytes:
    """Extended INSERT statements as mysqldump writes them, `nbytes` long at most."""
    rng = text.rng
    out: list[str] = []
    n = 0
    oid = first_id
    while n < nbytes:
        rows = []
        for _ in range(200):
            w = rng.choices(text.words, k=3)
            rows.append(f"({oid},{rng.randint(1, 400000)},'{w[0]} {w[1]}','{w[2]}{oid % 997}@example.com',"
                        f"'2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:"
                        f"{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}',{rng.randint(100, 999999) / 100:.2f},"
                        f"'{rng.choice(_STATUSES)}','{rng.choice(text.sentences)[:rng.randint(10, 80)]}')")
            oid += 1
        stmt = "INSERT INTO `orders` VALUES " + ",".join(rows) + ";\n"
        out.append(stmt)
        n += len(stmt)
    return "".join(out).encode()[:nbytes]


def log_lines(text: Text, nbytes: int, day: int = 1) -> bytes:
    rng = text.rng
    out: list[str] = []
    n = 0
    while n < nbytes:
        ip = f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        path = rng.choice(_PATHS) + rng.choice(text.words)
        line = (f"{ip} - - [{day:02d}/Nov/2026:{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:"
                f"{rng.randint(0, 59):02d} +0000] \"GET {path} HTTP/1.1\" {rng.choice((200, 200, 200, 304, 404))} "
                f"{rng.randint(200, 90000)} \"-\" {rng.choice(_AGENTS)}\n")
        out.append(line)
        n += len(line)
    return "".join(out).encode()[:nbytes]


def _write(path: Path, data: bytes, stats: TreeStats) -> None:
    path.write_bytes(data)
    os.utime(path, (FIXED_MTIME, FIXED_MTIME))
    stats.files += 1
    stats.bytes += len(data)
    if not data:
        stats.empty += 1


def page_path(i: int) -> str:
    cats, subs = SUBDIRS
    return f"www/catalog/c{i % cats:02d}/s{(i // cats) % subs:02d}/p-{i:07d}.html"


def image_path(i: int) -> str:
    return f"www/media/img/{i % 16:02x}/image-{i:05d}.jpg"


def _count(n: int, scale: float) -> int:
    return max(1, round(n * scale))


def tree(dest: Path, scale: float = 1.0, seed: int = 1) -> TreeStats:
    """Write the shop tree under `dest` (which must not exist yet)."""
    rng = random.Random(seed)
    text = Text(rng)
    stats = TreeStats()
    dest.mkdir(parents=True)
    for d in ("www/catalog", "www/media/img", "www/static", "www/cache", "www/tmp/sessions", "db", "logs", "conf"):
        (dest / d).mkdir(parents=True, exist_ok=True)
    for i in range(_count(PAGES, scale)):
        p = dest / page_path(i)
        p.parent.mkdir(parents=True, exist_ok=True)
        _write(p, page(text, i, rng.randint(*PAGE_SIZES)), stats)
    lo, hi = IMAGE_SIZES
    for i in range(_count(IMAGES, scale)):
        p = dest / image_path(i)
        p.parent.mkdir(parents=True, exist_ok=True)
        size = int(lo * (hi / lo) ** rng.random())
        _write(p, incompressible(f"{seed}/image/{i}".encode(), size), stats)
    _write(dest / "db/shop.sql", b"-- MySQL dump 10.13\nSET NAMES utf8mb4;\n" + sql_rows(text, 1, int(DUMP * scale)),
           stats)
    logs = int(LOGS * scale)
    _write(dest / "logs/access.log.1", log_lines(text, logs * 6 // 10, day=1), stats)
    _write(dest / "logs/access.log", log_lines(text, logs * 3 // 10, day=2), stats)
    _write(dest / "logs/error.log", log_lines(text, logs // 10, day=2), stats)
    for empty in ("www/cache/.keep", "www/tmp/sessions/.keep", "logs/mail.log", "db/.lock"):
        _write(dest / empty, b"", stats)
    _write(dest / "www/static/shop.css", text.prose(4000).encode(), stats)
    _write(dest / "conf/shop.conf", b"[shop]\nname = Example\ncurrency = EUR\n", stats)
    for link, target in (("www/current", "catalog"), ("www/media/latest.jpg", "img/00/image-00000.jpg"),
                         ("conf/active", "shop.conf"), ("logs/dangling", "missing.log")):
        os.symlink(target, dest / link)
        stats.symlinks += 1
    stats.dirs = sum(len(d) for _, d, _ in os.walk(dest))
    return stats


def _files(root: Path, under: str, suffix: str) -> list[str]:
    base = root / under
    return sorted(str(Path(dp, f).relative_to(root)) for dp, _, fs in os.walk(base) for f in fs if f.endswith(suffix))


def mutate(root: Path, seed: int = 2) -> MutationStats:
    """The day's change: about 1 % of the files, 10 edits and an append in the dump, a grown log."""
    rng = random.Random(seed)
    text = Text(rng)
    m = MutationStats()
    pages = _files(root, "www/catalog", ".html")
    images = _files(root, "www/media/img", ".jpg")
    n_pages = max(1, len(pages) // 100)
    for rel in sorted(rng.sample(pages, n_pages)):
        data = page(text, rng.randint(0, 10**6), rng.randint(*PAGE_SIZES))
        (root / rel).write_bytes(data)
        m.changed.append(rel)
        m.bytes_written += len(data)
    for rel in sorted(rng.sample(pages, max(1, n_pages // 10))):
        if rel not in m.changed:
            (root / rel).unlink()
            m.deleted.append(rel)
    for i in range(max(1, n_pages // 10)):
        rel = page_path(len(pages) + i)
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        data = page(text, len(pages) + i, rng.randint(*PAGE_SIZES))
        (root / rel).write_bytes(data)
        m.added.append(rel)
        m.bytes_written += len(data)
    lo, hi = IMAGE_SIZES
    for rel in sorted(rng.sample(images, max(1, len(images) // 100))):
        data = incompressible(f"{seed}/{rel}".encode(), int(lo * (hi / lo) ** rng.random()))
        (root / rel).write_bytes(data)
        m.changed.append(rel)
        m.bytes_written += len(data)
    m.bytes_written += _edit_dump(root / "db/shop.sql", text)
    m.changed.append("db/shop.sql")
    grow = log_lines(text, max(4096, os.path.getsize(root / "logs/access.log") // 30), day=3)
    with open(root / "logs/access.log", "ab") as fh:
        fh.write(grow)
    m.changed.append("logs/access.log")
    m.bytes_written += len(grow)
    return m


def _edit_dump(path: Path, text: Text) -> int:
    """Ten rows rewritten in place (some longer, some shorter) and new rows appended."""
    rng = text.rng
    data = bytearray(path.read_bytes())
    size = len(data)
    spots = sorted(rng.randrange(size) for _ in range(10))
    for at in reversed(spots):
        start = data.rfind(b"),(", 0, at)
        end = data.find(b"),(", at)
        if start < 0 or end < 0:
            continue
        row = f"{rng.randint(1, 400000)},'{text.name()}','edited@example.com','2026-11-28 09:00:00',1.00,'paid'"
        data[start + 3:end] = row.encode()[: rng.randint(40, len(row))]
    appended = sql_rows(text, 10**8, max(4096, size // 100))
    data += appended
    with open(path, "r+b") as fh:
        fh.write(data)
        fh.truncate()
    return len(appended)


def small_tree(dest: Path, files: int, size: int, seed: int = 1, per_dir: int = 1000) -> TreeStats:
    """`files` files of about `size` bytes, `per_dir` to a directory, two levels deep."""
    rng = random.Random(seed)
    text = Text(rng)
    stats = TreeStats()
    pool = text.prose(1 << 20).encode()
    for i in range(files):
        if i % per_dir == 0:
            d = dest / f"d{i // (per_dir * per_dir):03d}" / f"d{(i // per_dir) % per_dir:03d}"
            d.mkdir(parents=True)
            stats.dirs += 1
        off = rng.randrange(len(pool) - 2 * size)
        n = rng.randint(size // 2, size * 3 // 2)
        (d / f"f{i:07d}.txt").write_bytes(b"%d\n" % i + pool[off:off + n])
        stats.files += 1
        stats.bytes += n
    return stats


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.gen", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("tree", help="write the shop tree into DEST")
    t.add_argument("dest", type=Path)
    t.add_argument("--scale", type=float, default=1.0)
    t.add_argument("--seed", type=int, default=1)
    mu = sub.add_parser("mutate", help="apply the change between two backups to a tree")
    mu.add_argument("dest", type=Path)
    mu.add_argument("--seed", type=int, default=2)
    s = sub.add_parser("small", help="write many small files into DEST")
    s.add_argument("dest", type=Path)
    s.add_argument("--files", type=int, required=True)
    s.add_argument("--size", type=int, default=2048)
    s.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    if a.cmd == "tree":
        result: object = tree(a.dest, a.scale, a.seed)
    elif a.cmd == "mutate":
        result = mutate(a.dest, a.seed)
        result = {k: (len(v) if isinstance(v, list) else v) for k, v in asdict(result).items()}
    else:
        result = small_tree(a.dest, a.files, a.size, a.seed)
    json.dump(asdict(result) if not isinstance(result, dict) else result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
