#!/usr/bin/env bash
# bdk's only installer: host packages, QEMU 10 from bookworm-backports, npm deps, and (with --vm)
# the test guest. Idempotent and quick when everything is already there. Run as root.
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: scripts/setup.sh [--vm] [--browser] [--help]
  (no option)  install host packages (iproute2, ping, tcpdump, tshark, cpio, xz, busybox-static, gcc,
               python3, util-linux, dpdk-dev, nodejs+npm if npm is missing), QEMU 10 from bookworm-backports,
               and the npm dependencies
  --vm         also build the test guest (kernel + initramfs) into .cache/vm/
  --browser    also install Debian's chromium (/usr/bin/chromium): the telemetry page's test drives it
               headless with playwright-core, which never downloads a browser of its own
  --help       this text
USAGE
}

WANT_VM=0
WANT_BROWSER=0
for arg in "$@"; do
  case "$arg" in
    --vm) WANT_VM=1 ;;
    --browser) WANT_BROWSER=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "setup: unknown option '$arg'" >&2; usage >&2; exit 2 ;;
  esac
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export DEBIAN_FRONTEND=noninteractive
BACKPORTS_FILE=/etc/apt/sources.list.d/bdk-backports.sources
QEMU_MIN_MAJOR=10   # QEMU 10 from backports: bookworm's own 7.2 has no igb model

step() { printf 'setup: %-28s %s\n' "$1" "$2"; }
die() { echo "setup: error: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (it installs packages with apt-get)"
command -v apt-get >/dev/null || die "apt-get not found: this installer supports Debian 12 (bookworm)"

# apt-get update at most once per run, and only when something is about to be installed.
APT_UPDATED=0
apt_update() {
  if [ "$APT_UPDATED" -eq 0 ]; then
    quiet apt-get update || die "apt-get update failed"
    APT_UPDATED=1
  fi
}

# Runs a noisy command quietly; shows its output only when it fails.
quiet() {
  local log; log=$(mktemp)
  if "$@" >"$log" 2>&1; then rm -f "$log"; return 0; fi
  cat "$log" >&2; rm -f "$log"; return 1
}

# (No `| grep -q` here or below: with pipefail, grep quitting early can fail the writer with SIGPIPE.)
installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }

# --- host packages ---------------------------------------------------------------------------
host_packages() {
  # gcc + libc6-dev: bench/line-rate.ts builds its C baseline (never part of the product).
  # dpdk-dev: /usr/bin/dpdk-telemetry.py, DPDK's client that test/unit/telemetry-dpdk.test.ts points at bdk.
  local want=(iproute2 iputils-ping tcpdump tshark cpio xz-utils busybox-static python3 util-linux gcc libc6-dev dpdk-dev)
  command -v npm >/dev/null || want+=(nodejs npm)
  local missing=()
  for p in "${want[@]}"; do installed "$p" || missing+=("$p"); done
  if [ "${#missing[@]}" -eq 0 ]; then step "host packages" "present"; return; fi
  # tshark's postinst asks whether non-root users may capture: answer it before it asks.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt_update
  quiet apt-get install -y --no-install-recommends "${missing[@]}" \
    || die "apt-get install ${missing[*]} failed"
  step "host packages" "installed ${missing[*]}"
}

# --- bookworm-backports, derived from this machine's own Debian entry ------------------------
# Prints a deb822 stanza for bookworm-backports built from the deb822 entry whose Suites line is
# "bookworm bookworm-updates" (same URIs, Components, Signed-By); the mirror is never hard-coded.
backports_from_deb822() {
  local f=/etc/apt/sources.list.d/debian.sources
  [ -r "$f" ] || return 1
  awk '
    function flush() {
      if (match_ && !done) { printf "%s", buf; done = 1 }
      buf = ""; match_ = 0
    }
    /^[ \t]*$/ { flush(); next }
    /^Suites:/ {
      n = split($0, w, /[ \t]+/); has_b = 0; has_u = 0
      for (i = 2; i <= n; i++) { if (w[i] == "bookworm") has_b = 1; if (w[i] == "bookworm-updates") has_u = 1 }
      if (has_b && has_u) match_ = 1
      buf = buf "Suites: bookworm-backports\n"; next
    }
    /^#/ { next }
    { buf = buf $0 "\n" }
    END { flush(); exit(done ? 0 : 1) }
  ' "$f"
}

# The same from a classic one-line "deb [opts] URI bookworm main ..." in /etc/apt/sources.list.
backports_from_list() {
  local f=/etc/apt/sources.list
  [ -r "$f" ] || return 1
  awk '
    $1 == "deb" && !done {
      i = 2; signed = ""
      if ($2 ~ /^\[/) {               # options block: keep signed-by, skip the rest
        while (i <= NF) {
          if ($i ~ /^\[?signed-by=/) { s = $i; sub(/^\[?signed-by=/, "", s); sub(/\]$/, "", s); signed = s }
          if ($i ~ /\]$/) { i++; break }
          i++
        }
      }
      uri = $i; suite = $(i + 1)
      if (suite != "bookworm") next
      comps = ""; for (j = i + 2; j <= NF; j++) comps = comps (comps == "" ? "" : " ") $j
      printf "Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: %s\n", uri, comps
      if (signed != "") printf "Signed-By: %s\n", signed
      done = 1
    }
    END { exit(done ? 0 : 1) }
  ' "$f"
}

backports_source() {
  local stanza
  stanza=$(backports_from_deb822 || backports_from_list) \
    || die "no Debian entry with suite 'bookworm' found in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"
  stanza="# Written by bdk scripts/setup.sh from this machine's own Debian entry: QEMU 10 (igb).
$stanza"
  if [ -f "$BACKPORTS_FILE" ] && [ "$(cat "$BACKPORTS_FILE")" = "$stanza" ]; then
    step "bookworm-backports source" "present"
  elif [ ! -f "$BACKPORTS_FILE" ] && grep -rqsE '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    step "bookworm-backports source" "already configured elsewhere"
    return
  else
    printf '%s\n' "$stanza" >"$BACKPORTS_FILE"
    APT_UPDATED=0   # the new suite needs fresh lists
    step "bookworm-backports source" "wrote $BACKPORTS_FILE"
  fi
  # Lists for the suite may be missing even when the file exists (e.g. lists were cleaned).
  if ! compgen -G '/var/lib/apt/lists/*bookworm-backports*Packages*' >/dev/null; then APT_UPDATED=0; apt_update; fi
}

qemu_major() {
  command -v qemu-system-x86_64 >/dev/null || { echo 0; return; }
  qemu-system-x86_64 --version | sed -n 's/^QEMU emulator version \([0-9]*\).*/\1/p' | head -1
}

install_qemu() {
  local major; major=$(qemu_major)
  if [ "${major:-0}" -ge "$QEMU_MIN_MAJOR" ]; then step "qemu-system-x86" "present (QEMU $major)"; return; fi
  apt_update
  quiet apt-get install -y --no-install-recommends -t bookworm-backports qemu-system-x86 \
    || die "apt-get install -t bookworm-backports qemu-system-x86 failed"
  major=$(qemu_major)
  [ "${major:-0}" -ge "$QEMU_MIN_MAJOR" ] || die "installed QEMU is $major, need >= $QEMU_MIN_MAJOR"
  step "qemu-system-x86" "installed (QEMU $major)"
}

npm_deps() {
  # (playwright-core: a devDependency added later than bun; a tree installed before it needs npm install again.)
  if { [ -x "$ROOT/node_modules/bun/bin/bun.exe" ] || [ -x "$ROOT/node_modules/.bin/bun" ]; } && [ -f "$ROOT/node_modules/playwright-core/package.json" ]; then
    step "npm dependencies" "present"; return
  fi
  (cd "$ROOT" && quiet npm install --no-audit --no-fund) || die "npm install failed in $ROOT"
  step "npm dependencies" "installed"
}

browser() {
  # Debian's own build, from the distribution's archive: test/unit/telemetry-page.test.ts launches /usr/bin/chromium.
  if installed chromium && [ -x /usr/bin/chromium ]; then step "chromium" "present"; return; fi
  apt_update
  quiet apt-get install -y --no-install-recommends chromium || die "apt-get install chromium failed"
  [ -x /usr/bin/chromium ] || die "chromium installed but /usr/bin/chromium is missing"
  step "chromium" "installed"
}

guest() {
  # pipefail makes the pipeline fail when prepare fails, whatever sed does.
  if ! "$ROOT/node_modules/.bin/bun" "$ROOT/test/vm/rig.ts" prepare 2>&1 | sed -u 's/^/setup: guest: /'; then
    die "guest preparation failed (see above)"
  fi
  step "test guest" "ready in .cache/vm/"
}

host_packages
backports_source
install_qemu
npm_deps
if [ "$WANT_BROWSER" -eq 1 ]; then browser; fi
if [ "$WANT_VM" -eq 1 ]; then guest; fi
step "done" ""
