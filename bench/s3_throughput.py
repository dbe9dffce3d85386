"""Upload throughput: local target versus a local SeaweedFS S3 server (issue 4, point 4).

    python bench/s3_throughput.py [--mib 256] [--pack-mib 64] [--runs 3]

Writes the same packs (random bytes, so nothing compresses or deduplicates on the way)
through `LocalStorage.put_file` (temporary file, fsync, rename) and `S3Storage.put_file`
(CRC32C of the file, then a multipart upload in parallel parts with a full-object CRC32C),
and prints MB/s for each (best of --runs, MB = 10^6 bytes) as one JSON line. The S3 server
runs on this machine, so the figure measures reliad's client side and the server's CPU,
not a network. Kept apart from bench/run.py, which belongs to the performance benchmarks.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from offsite.seaweed import Weed, bucket_name  # noqa: E402

from reliad.storage import LocalStorage  # noqa: E402
from reliad.storage.s3 import S3Storage  # noqa: E402


def _timed(storage, packs: list[Path], prefix: str) -> float:
    t0 = time.perf_counter()
    for i, p in enumerate(packs):
        storage.put_file(f"data/{prefix}/{i:06d}.pack", p)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mib", type=int, default=256, help="total MiB uploaded per run")
    ap.add_argument("--pack-mib", type=int, default=64, help="size of one pack (the repository default is 64)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=4, help="parallel multipart parts (max_concurrency)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="reliad-s3bench-"))
    weed = Weed(work / "weed")
    try:
        packs = []
        for i in range(max(1, args.mib // args.pack_mib)):
            p = work / f"pack{i}"
            p.write_bytes(os.urandom(args.pack_mib << 20))
            packs.append(p)
        total = sum(p.stat().st_size for p in packs)
        weed.start()
        bucket = bucket_name("bench")
        weed.client().create_bucket(Bucket=bucket)
        s3 = S3Storage("bench", bucket, prefix="bench/", endpoint_url=weed.endpoint, region="us-east-1",
                       credentials_file=weed.credentials_file(work / "creds"), max_concurrency=args.concurrency)
        local = LocalStorage(work / "local")
        best = {"local": float("inf"), "s3": float("inf")}
        for run in range(args.runs):
            best["local"] = min(best["local"], _timed(local, packs, f"r{run}"))
            best["s3"] = min(best["s3"], _timed(s3, packs, f"r{run}"))
        s3.close()
        print(json.dumps({
            "bytes_per_run": total, "pack_mib": args.pack_mib, "runs": args.runs, "concurrency": args.concurrency,
            "local_mb_s": round(total / best["local"] / 1e6, 1), "s3_mb_s": round(total / best["s3"] / 1e6, 1),
            "cpus": os.cpu_count(), "load_avg": os.getloadavg()[0],
        }))
    finally:
        weed.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
