#!/usr/bin/env bash
# Install reliad as a systemd service from this checkout (docs/INSTALL.md, step 1).
#
#   sudo systemd/install.sh                  # the real thing, on Debian 12 or Ubuntu 24.04
#   systemd/install.sh --prefix /tmp/root    # everything under /tmp/root (a scratch root for tests)
#
# What it does, each step safe to repeat:
#   /opt/reliad                      a virtual environment holding reliad and its libraries
#                                    (the system Python refuses `pip install`: PEP 668)
#   /usr/local/bin/reliad            a link to /opt/reliad/bin/reliad (the unit's ExecStart)
#   /etc/systemd/system/reliad.service, /usr/lib/sysusers.d/reliad.conf, /usr/lib/tmpfiles.d/reliad.conf
#   the user and group reliad, /var/lib/reliad and /var/backups/reliad (systemd-sysusers, -tmpfiles)
#   /etc/reliad/reliad.toml          the starting configuration (policies/standard.toml), only when
#                                    there is none: an existing configuration is never overwritten
#   /etc/reliad/keys/                where the standard configuration keeps the repository key
#   /usr/share/doc/reliad/           the docs, example configurations, the sudoers example, grafana/
# and then runs `systemd-analyze verify` on the unit and `reliad check-config` on the configuration.
# It neither enables nor starts the service: edit the configuration first (docs/INSTALL.md).
set -euo pipefail

usage() {
  cat <<'EOF'
usage: systemd/install.sh [--prefix DIR] [--python PYTHON] [--system-site-packages]

  --prefix DIR             install under DIR instead of / (also: DESTDIR=DIR); for tests and
                           packaging. The programs run in place; users, groups and ownership
                           are created inside DIR only.
  --python PYTHON          the interpreter for the virtual environment (default: python3, 3.11 or later)
  --system-site-packages   let the virtual environment see the interpreter's installed packages
                           (libraries already installed are not downloaded again)
EOF
}

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=${DESTDIR:-}
PYTHON=python3
VENV_OPTS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || { usage >&2; exit 2; }; ROOT=$2; shift 2 ;;
    --prefix=*) ROOT=${1#--prefix=}; shift ;;
    --python) [ $# -ge 2 ] || { usage >&2; exit 2; }; PYTHON=$2; shift 2 ;;
    --system-site-packages) VENV_OPTS+=(--system-site-packages); shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
if [ -n "$ROOT" ]; then
  mkdir -p "$ROOT"
  ROOT=$(cd "$ROOT" && pwd)
  [ "$ROOT" != / ] || ROOT=
fi
VENV=$ROOT/opt/reliad
CONF_DIR=$ROOT/etc/reliad
DOC_DIR=$ROOT/usr/share/doc/reliad

say() { printf 'install: %s\n' "$*"; }
die() { printf 'install: error: %s\n' "$*" >&2; exit 1; }

# Ownership only on the real system as root: in a scratch root the user reliad exists only in DIR/etc/passwd.
OWN=0
if [ -z "$ROOT" ]; then
  [ "$(id -u)" = 0 ] || die "run as root (sudo systemd/install.sh), or pass --prefix DIR to install into a scratch root"
  OWN=1
fi

# ---------------------------------------------------------------- the interpreter
command -v "$PYTHON" >/dev/null || die "$PYTHON not found; on Debian and Ubuntu: apt-get install python3 python3-venv"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "reliad needs Python 3.11 or later; $PYTHON is $("$PYTHON" -c 'import platform; print(platform.python_version())')"
if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
  if [ "$OWN" = 1 ] && command -v apt-get >/dev/null; then
    say "installing python3-venv (Debian's Python ships venv separately)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null
  else
    die "$PYTHON has no venv module; apt-get install python3-venv"
  fi
fi

# ---------------------------------------------------------------- the virtual environment
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  say "updating $VENV"
elif [ -e "$VENV" ] && [ ! -e "$VENV/pyvenv.cfg" ] && [ -n "$(ls -A "$VENV" 2>/dev/null)" ]; then
  die "$VENV exists and is not a virtual environment; move it away (the installer would replace its content)"
else
  # Missing, or its interpreter is gone (a distribution upgrade replaced the Python it linked to).
  say "creating the virtual environment $VENV"
  "$PYTHON" -m venv --clear "${VENV_OPTS[@]}" "$VENV"
fi
# Build from a copy: an in-tree build would leave build/ and *.egg-info in the checkout.
BUILD=$(mktemp -d)
trap 'rm -rf "$BUILD"' EXIT
cp -r "$SRC/pyproject.toml" "$SRC/README.md" "$SRC/reliad" "$BUILD/"
find "$BUILD" -name __pycache__ -prune -exec rm -rf {} +
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$BUILD" \
  || die "pip could not install reliad into $VENV (see above)"
install -d "$ROOT/usr/local/bin"
# Relative, so that the link also works inside a scratch root.
ln -sfn ../../../opt/reliad/bin/reliad "$ROOT/usr/local/bin/reliad"
VERSION=$("$ROOT/usr/local/bin/reliad" --version) || die "$ROOT/usr/local/bin/reliad --version failed"
say "$VERSION in $VENV, linked from /usr/local/bin/reliad"

# ---------------------------------------------------------------- systemd files, user, directories
install -D -m 0644 "$SRC/systemd/reliad.service" "$ROOT/etc/systemd/system/reliad.service"
install -D -m 0644 "$SRC/systemd/reliad.sysusers" "$ROOT/usr/lib/sysusers.d/reliad.conf"
install -D -m 0644 "$SRC/systemd/reliad.tmpfiles" "$ROOT/usr/lib/tmpfiles.d/reliad.conf"
ROOT_OPT=()
[ -z "$ROOT" ] || ROOT_OPT=(--root="$ROOT")
if command -v systemd-sysusers >/dev/null; then
  systemd-sysusers "${ROOT_OPT[@]}" reliad.conf
elif [ "$OWN" = 1 ] && ! getent passwd reliad >/dev/null; then
  useradd --system --user-group --home-dir /var/lib/reliad --shell /usr/sbin/nologin --comment "reliad backup service" reliad
fi
if command -v systemd-tmpfiles >/dev/null && [ "$(id -u)" = 0 ]; then
  systemd-tmpfiles "${ROOT_OPT[@]}" --create reliad.conf
else
  install -d -m 0700 "$ROOT/var/lib/reliad" "$ROOT/var/backups/reliad"
  [ "$OWN" = 0 ] || chown reliad:reliad "$ROOT/var/lib/reliad" "$ROOT/var/backups/reliad"
fi

# ---------------------------------------------------------------- configuration
own() {  # own OWNER:GROUP PATH... (only on the real system)
  local who=$1; shift
  [ "$OWN" = 0 ] || chown "$who" "$@"
}
install -d -m 0750 "$CONF_DIR"
own root:reliad "$CONF_DIR"
install -d -m 0700 "$CONF_DIR/keys"
own reliad:reliad "$CONF_DIR/keys"
if [ -e "$CONF_DIR/reliad.toml" ]; then
  say "kept the existing $CONF_DIR/reliad.toml (the shipped standard configuration is $DOC_DIR/examples/standard.toml)"
else
  install -m 0640 "$SRC/policies/standard.toml" "$CONF_DIR/reliad.toml"
  own root:reliad "$CONF_DIR/reliad.toml"
  say "wrote the starting configuration $CONF_DIR/reliad.toml (policies/standard.toml): edit it before starting"
fi

# ---------------------------------------------------------------- documentation (the unit's Documentation=)
install -d "$DOC_DIR/examples"
install -m 0644 "$SRC/README.md" "$SRC"/docs/*.md "$DOC_DIR/"
install -m 0644 "$SRC"/policies/*.toml "$SRC/systemd/reliad.sudoers" "$DOC_DIR/examples/"
rm -rf "$DOC_DIR/grafana"  # Prometheus scrape job, alert rules, Grafana dashboard (docs/MONITORING.md)
cp -r "$SRC/grafana" "$DOC_DIR/grafana"
chmod -R u=rwX,go=rX "$DOC_DIR/grafana"

# ---------------------------------------------------------------- checks
if command -v systemd-analyze >/dev/null; then
  UNIT=$ROOT/etc/systemd/system/reliad.service
  if [ -n "$ROOT" ]; then  # check the unit as it would run here: ExecStart pointing into the scratch root
    sed "s#^ExecStart=/usr/local/bin/reliad #ExecStart=$ROOT/usr/local/bin/reliad #" "$UNIT" >"$BUILD/reliad.service"
    UNIT=$BUILD/reliad.service
  fi
  systemd-analyze verify --man=no "$UNIT" || die "systemd-analyze verify found problems in the unit (above)"
  say "systemd-analyze verify: the unit is valid"
else
  say "systemd-analyze not found: the unit was not verified"
fi
if ! "$ROOT/usr/local/bin/reliad" check-config --no-paths "$CONF_DIR/reliad.toml"; then
  say "the configuration $CONF_DIR/reliad.toml has problems (above): fix them before starting the service"
fi
[ -n "$ROOT" ] || systemctl daemon-reload 2>/dev/null || true

cat <<EOF
install: done. Next (docs/INSTALL.md):
  1. edit $CONF_DIR/reliad.toml: your paths, the offsite bucket; then: reliad check-config
  2. sudo -u reliad reliad init --target local     (creates the repository and its key)
  3. sudo -u reliad reliad key export --target local   (keep the copy off this host)
  4. systemctl enable --now reliad
EOF
