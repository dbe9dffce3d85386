"""A real SeaweedFS S3 server on loopback, for tests and bench/s3_throughput.py.

Every port is chosen by binding port 0, so parallel sessions on one machine do not collide.
The server requires signed requests from one identity (ACCESS_KEY/SECRET_KEY), so that
wrong credentials are refused as on a real store.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import boto3
import botocore.exceptions

ACCESS_KEY = "RELIADTESTKEY"
SECRET_KEY = "reliad-test-secret-5f1e0c"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bucket_name(tag: str = "t") -> str:
    """A DNS-valid bucket name, unique per call."""
    return f"reliad-{tag}-{uuid.uuid4().hex[:10]}"


_prctl = ctypes.CDLL(None).prctl  # looked up here: the child between fork and exec should only call it
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the process that started it dies, so that a
    pytest killed by a timeout (whose fixtures never tear down) leaves no server running."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Weed:
    def __init__(self, workdir: Path) -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "s3.json").write_text(json.dumps({"identities": [{
            "name": "reliad", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        self.ports = {k: free_port() for k in ("s3", "s3g", "m", "mg", "v", "vg", "f", "fg")}
        self.proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    def command(self) -> list[str]:
        p = self.ports
        return ["weed", "server", f"-dir={self.dir / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                "-master.electionTimeout=1s", "-master.volumeSizeLimitMB=64", "-volume.max=1000",
                "-s3", f"-s3.port={p['s3']}", f"-s3.port.grpc={p['s3g']}", "-s3.port.iceberg=0", "-s3.port.lance=0",
                f"-s3.config={self.dir / 's3.json'}", f"-master.port={p['m']}", f"-master.port.grpc={p['mg']}",
                f"-volume.port={p['v']}", f"-volume.port.grpc={p['vg']}", f"-filer.port={p['f']}",
                f"-filer.port.grpc={p['fg']}"]

    def start(self, timeout: float = 60) -> None:
        (self.dir / "data").mkdir(exist_ok=True)
        log = open(self.dir / "weed.log", "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                     preexec_fn=_die_with_parent)
        log.close()
        client = self.client()
        deadline = time.monotonic() + timeout
        name = bucket_name("ready")
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed exited with {self.proc.returncode}; see {self.dir / 'weed.log'}")
            try:
                # Ready means the filer answers bucket and object calls, not only that the port is open.
                client.create_bucket(Bucket=name)
                client.put_object(Bucket=name, Key="probe", Body=b"x")
                client.delete_object(Bucket=name, Key="probe")
                return
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
                if time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError(f"weed did not become ready; see {self.dir / 'weed.log'}") from None
                time.sleep(0.3)

    def kill(self) -> None:
        """SIGKILL, as a crash or a pulled cable would: a graceful stop takes about 27 s."""
        if self.proc and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None
        for k in ("s3g", "mg", "vg", "fg"):
            for sock in Path("/tmp").glob(f"seaweedfs-*-grpc-{self.ports[k]}.sock"):
                sock.unlink(missing_ok=True)

    def client(self, attempts: int = 2, **kw: object):
        """A plain boto3 client for the test's own setup; few retries, so fault tests stay quick."""
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY, region_name="us-east-1",
                            config=Config(retries={"mode": "standard", "total_max_attempts": attempts},
                                          s3={"addressing_style": "path"}), **kw)

    def credentials_file(self, path: Path) -> Path:
        path.write_text(f"[default]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n")
        path.chmod(0o600)
        return path


def s3_config(tmp_path: Path, weed: Weed, src: Path, bucket: str, extra_target: str = "",
              policy_targets: str = '["local", "offsite"]', endpoint: str | None = None) -> Path:
    """A configuration with a local target and an S3 offsite target on the test server."""
    creds = weed.credentials_file(tmp_path / "s3.credentials")
    cfg = tmp_path / "reliad.toml"
    cfg.write_text(
        f'state_dir = "state"\n\n[targets.local]\ntype = "local"\npath = "repo"\npack_size_mib = 1\n\n'
        f'[targets.offsite]\ntype = "s3"\nbucket = "{bucket}"\nprefix = "web01/"\n'
        f'endpoint_url = "{endpoint or weed.endpoint}"\nregion = "us-east-1"\ncredentials_file = "{creds}"\n'
        f"retries = 2\nretry_base_s = 0.2\nmultipart_threshold_mib = 5\nmultipart_chunk_mib = 5\n{extra_target}\n"
        f'[policies.shop]\nsources = [{{ type = "files", paths = ["{src}"], exclude = ["*.tmp"] }}]\n'
        f"targets = {policy_targets}\n"
    )
    return cfg


def lose_the_host(tmp_path: Path, cfg: Path) -> None:
    """The host burns down: the repository and the state directory are gone; the configuration,
    the S3 credentials and the repository key (kept elsewhere, as the first backup told the user
    to) survive, and the configuration now names the key."""
    (key,) = (tmp_path / "state" / "keys").glob("*.key")
    kept = tmp_path / "kept-elsewhere.key"
    shutil.copy(key, kept)
    kept.chmod(0o600)
    shutil.rmtree(tmp_path / "repo")
    shutil.rmtree(tmp_path / "state")
    cfg.write_text(cfg.read_text().replace('prefix = "web01/"\n', f'prefix = "web01/"\nkey_file = "{kept}"\n'))
