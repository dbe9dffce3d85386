"""Issue 16, point 4: an S3 server that dies in the middle of a multipart upload gives the
clean one-line failure only (no traceback from the transfer library, whatever thread it comes
from), and the pending-replication count and `replicate --status` are exact after the outage."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT, Reliad

from .seaweed import Weed, bucket_name, s3_config
from .test_faults import _wait_for


def test_server_dies_mid_multipart_upload(own_weed: Weed, src: Path, tmp_path: Path) -> None:
    weed = own_weed  # a server of its own, because this test kills it
    bucket = bucket_name("dies")
    client = weed.client()
    client.create_bucket(Bucket=bucket)
    (src / "big.bin").write_bytes(os.urandom(48 << 20))
    cfg = s3_config(tmp_path, weed, src, bucket, extra_target="max_concurrency = 4\n")
    cfg.write_text(cfg.read_text().replace("pack_size_mib = 1", "pack_size_mib = 64"))
    local = cfg.with_name("local-only.toml")
    local.write_text(cfg.read_text().replace('targets = ["local", "offsite"]', 'targets = ["local"]'))
    r = Reliad(cfg)
    first = Reliad(local).json("backup", "shop", "--type", "full")["id"]
    (src / "more.txt").write_text("and a second backup waiting behind it\n")
    second = Reliad(local).json("backup", "shop", "--type", "incremental")["id"]
    for verbose in ([], ["-v"]):
        proc = subprocess.Popen([sys.executable, "-m", "reliad", "replicate", *verbose, "-c", str(cfg)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
        _wait_for(lambda: client.list_multipart_uploads(Bucket=bucket).get("Uploads"), proc, "a multipart upload")
        weed.proc.send_signal(signal.SIGKILL)
        weed.proc.wait()
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 1, (out, err)
        errors = [ln for ln in err.splitlines() if ln.startswith("reliad: error:")]
        assert len(errors) == 1 and "target 'offsite'" in errors[0], err
        assert "Traceback" not in err and "Exception in thread" not in err, err
        others = [ln for ln in err.strip().splitlines() if ln not in errors]
        assert all(" event=" in ln for ln in others), others  # besides it, only the log's one-line events
        status = r.json("replicate", "--status")["targets"][0]
        assert sorted(p["id"] for p in status["pending"]) == [first, second], status
        pending = [s for s in _samples(r) if s[0] == "reliad_replication_pending_backups"]
        assert sum(v for _, v in pending) == 2, pending
        weed.start()
    done = r.json("replicate")
    assert done["ok"] and sorted(done["targets"][0]["replicated"]) == [first, second]
    assert not r.json("replicate", "--status")["targets"][0]["pending"]
    assert sum(v for n, v in _samples(r) if n == "reliad_replication_pending_backups") == 0


def _samples(r: Reliad) -> list[tuple[str, float]]:
    from prometheus_client.parser import text_string_to_metric_families

    return [(s.name, s.value) for f in text_string_to_metric_families(r.run("metrics").stdout) for s in f.samples]
