"""systemd/install.sh, run as a sysadmin would (into a scratch root): the installed reliad runs,
the service files and the starting configuration are in place, and a second run changes
nothing the sysadmin edited. The docs' paths match what the installer does."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT, need_program

from reliad import __version__

INSTALL = REPO_ROOT / "systemd" / "install.sh"


def _install(root: Path) -> subprocess.CompletedProcess:
    """The installer into ROOT; the venv sees this interpreter's libraries, so nothing is downloaded
    but the build backend."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DESTDIR")}
    return subprocess.run(["bash", str(INSTALL), "--prefix", str(root), "--python", sys.executable,
                           "--system-site-packages"], capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    root = tmp_path_factory.mktemp("root")
    proc = _install(root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root, proc


def _run(root: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RELIAD_CONFIG")}
    return subprocess.run([str(root / "usr/local/bin/reliad"), *args], capture_output=True, text=True, env=env,
                          timeout=300, cwd=cwd)


def test_installed_reliad_runs_from_its_own_environment(installed: tuple[Path, subprocess.CompletedProcess]) -> None:
    root, _ = installed
    link = root / "usr/local/bin/reliad"
    assert link.is_symlink() and link.resolve() == (root / "opt/reliad/bin/reliad").resolve()
    proc = _run(root, "--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"reliad, version {__version__}", proc.stderr
    where = subprocess.run([str(root / "opt/reliad/bin/python"), "-c", "import reliad; print(reliad.__file__)"],
                           capture_output=True, text=True, env={"PATH": os.environ["PATH"]}, timeout=60, cwd=root)
    assert Path(where.stdout.strip()).is_relative_to(root / "opt/reliad"), where.stdout + where.stderr
    assert not (REPO_ROOT / "build").exists()  # the checkout is left as it was


def test_starting_config_passes_check_config(installed: tuple[Path, subprocess.CompletedProcess]) -> None:
    root, proc = installed
    conf = root / "etc/reliad/reliad.toml"
    assert conf.read_text() == (REPO_ROOT / "policies/standard.toml").read_text()
    assert stat.S_IMODE(conf.stat().st_mode) == 0o640
    assert stat.S_IMODE((root / "etc/reliad").stat().st_mode) == 0o750
    assert stat.S_IMODE((root / "etc/reliad/keys").stat().st_mode) == 0o700
    check = _run(root, "check-config", "--no-paths", str(conf))
    assert check.returncode == 0, check.stdout + check.stderr
    assert "OK (1 policies)" in check.stdout
    assert "the unit is valid" in proc.stdout or "systemd-analyze not found" in proc.stdout


def test_installed_reliad_backs_up_and_verifies(installed: tuple[Path, subprocess.CompletedProcess],
                                                tmp_path: Path) -> None:
    root, _ = installed
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "page.html").write_bytes(os.urandom(100_000))
    conf = tmp_path / "reliad.toml"
    conf.write_text('state_dir = "state"\n[targets.local]\ntype = "local"\npath = "repo"\n'
                    '[policies.shop]\ntargets = ["local"]\n'
                    'sources = [{ type = "files", paths = ["data"], classes = ["pages"] }]\n')
    backup = _run(root, "backup", "shop", "--type", "full", "-c", str(conf))
    assert backup.returncode == 0, backup.stderr
    verify = _run(root, "verify", "--mode", "crc", "-c", str(conf))
    assert verify.returncode == 0 and verify.stdout.startswith("OK: 1 backups"), verify.stdout + verify.stderr


def test_service_files_user_and_directories(installed: tuple[Path, subprocess.CompletedProcess]) -> None:
    root, _ = installed
    shipped = REPO_ROOT / "systemd"
    assert (root / "etc/systemd/system/reliad.service").read_text() == (shipped / "reliad.service").read_text()
    assert (root / "usr/lib/sysusers.d/reliad.conf").read_text() == (shipped / "reliad.sysusers").read_text()
    assert (root / "usr/lib/tmpfiles.d/reliad.conf").read_text() == (shipped / "reliad.tmpfiles").read_text()
    assert (root / "usr/share/doc/reliad/INSTALL.md").exists()  # the unit's Documentation=
    assert (root / "usr/share/doc/reliad/examples/reliad.sudoers").exists()
    assert (root / "usr/share/doc/reliad/grafana/alerts/reliad-rules.yml").exists()
    for d in ("var/backups/reliad", "var/lib/reliad"):  # commands run as reliad before the service first starts
        assert (root / d).is_dir() and stat.S_IMODE((root / d).stat().st_mode) == 0o700, d
    backups = root / "var/backups/reliad"
    if os.geteuid() == 0 and (root / "etc/passwd").exists():  # systemd-sysusers --root made the user there
        passwd = (root / "etc/passwd").read_text()
        line = next(x for x in passwd.splitlines() if x.startswith("reliad:"))
        assert line.split(":")[5] == "/var/lib/reliad"
        assert backups.stat().st_uid == int(line.split(":")[2])


def test_second_run_keeps_the_edited_config(installed: tuple[Path, subprocess.CompletedProcess]) -> None:
    root, _ = installed
    conf = root / "etc/reliad/reliad.toml"
    edited = conf.read_text().replace('"/srv/shop"', '"/srv/www"')
    conf.write_text(edited)
    proc = _install(root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert conf.read_text() == edited
    assert "kept the existing" in proc.stdout
    assert _run(root, "--version").returncode == 0


def test_a_foreign_opt_reliad_is_left_alone(tmp_path: Path) -> None:
    """The installer never empties a /opt/reliad it did not make."""
    (tmp_path / "opt" / "reliad").mkdir(parents=True)
    (tmp_path / "opt" / "reliad" / "notes.txt").write_text("someone's\n")
    proc = _install(tmp_path)
    assert proc.returncode == 1 and "is not a virtual environment" in proc.stderr
    assert (tmp_path / "opt" / "reliad" / "notes.txt").read_text() == "someone's\n"


def test_unknown_option_is_a_usage_error(tmp_path: Path) -> None:
    proc = subprocess.run(["bash", str(INSTALL), "--prefx", str(tmp_path)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2 and "unknown option --prefx" in proc.stderr
    assert not any(tmp_path.iterdir())


def test_docs_and_sudoers_name_the_installed_paths() -> None:
    """Every absolute path to the reliad program in the docs, the unit and the sudoers example is
    the link the installer makes."""
    texts = {p: p.read_text() for p in [*REPO_ROOT.glob("docs/*.md"), REPO_ROOT / "README.md",
                                        REPO_ROOT / "systemd/reliad.sudoers", REPO_ROOT / "systemd/reliad.service"]}
    for path, text in texts.items():
        for m in re.finditer(r"(?<![\w.-])(/[\w./-]*/)reliad(?=[\s,]|$)", text, flags=re.M):
            if m.group(1).endswith(("bin/", "sbin/")):
                assert m.group(1) == "/usr/local/bin/", f"{path.name}: {m.group(0)}"
    assert "/usr/local/bin/reliad" in texts[REPO_ROOT / "docs/SECURITY.md"]


def test_sudoers_example_is_valid(tmp_path: Path) -> None:
    visudo = need_program("visudo")
    proc = subprocess.run([visudo, "-c", "-f", str(REPO_ROOT / "systemd/reliad.sudoers")], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_install_script_passes_shellcheck() -> None:
    shellcheck = need_program("shellcheck")
    proc = subprocess.run([shellcheck, str(INSTALL)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout
