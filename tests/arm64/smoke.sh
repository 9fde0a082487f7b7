#!/usr/bin/env bash
# `make arm64-smoke`: the wheel of this checkout on an emulated Raspberry Pi -- Debian 12
# arm64 (the base of Raspberry Pi OS 64-bit, Python 3.11) under qemu-user -- with the
# checks of tests/wheel_checks.py that tests/test_wheel_install.py runs here. Not part
# of `make test`: it takes tens of minutes. docs/deploy.md says what it showed.
#
#   sudo make arm64-smoke              # a Pi 5: QEMU_CPU=cortex-a76
#   sudo make arm64-smoke BOARD=rpi4   # a Pi 4: QEMU_CPU=cortex-a72
#
# Needs root (debootstrap, chroot, mounts); the Debian packages debootstrap,
# qemu-user-static and binfmt-support; mosquitto on the host; deb.debian.org and PyPI.
# The arm64 root is built once into $ARM64_ROOT and reused (delete it to start over).
#
# Two things qemu-user needs for LiteRT: it passes the host's /proc/cpuinfo through,
# on which LiteRT's CPU detection crashes, so an aarch64 cpuinfo of the Pi
# (tests/arm64/cpuinfo-BOARD) is bind-mounted over it; and its default `max` CPU
# advertises SME, with which XNNPACK's int8 results differ from every real Pi, so
# QEMU_CPU names the Pi's core. The board's device-tree model is written where the
# kernel would put it (/sys/firmware/devicetree/base/model), for board detection.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BOARD=${BOARD:-rpi5}
ROOT=${ARM64_ROOT:-/var/tmp/otswarm-arm64/bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PYTHON=${PYTHON:-$REPO/.venv/bin/python} # builds the wheel and the x86 reference
RESULTS=${RESULTS:-$(dirname "$ROOT")/results-$BOARD.json}
case $BOARD in
rpi5) QEMU_CPU=cortex-a76 MODEL="Raspberry Pi 5 Model B Rev 1.0" ;;
rpi4) QEMU_CPU=cortex-a72 MODEL="Raspberry Pi 4 Model B Rev 1.4" ;;
*) echo "BOARD must be rpi4 or rpi5, not $BOARD" >&2 && exit 2 ;;
esac
export QEMU_CPU

say() { printf '[arm64-smoke %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }
die() { say "FAILED: $*" >&2 && exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, mounts)"
for tool in debootstrap chroot update-binfmts /usr/sbin/mosquitto "$PYTHON"; do
	command -v "$tool" >/dev/null || die "$tool is missing (apt-get install debootstrap qemu-user-static binfmt-support mosquitto)"
done

# aarch64 binaries run through qemu-aarch64-static (binfmt_misc; flag F: also in a chroot)
[ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64

if [ ! -e "$ROOT/.otswarm-root" ]; then
	say "debootstrap Debian 12 arm64 into $ROOT"
	rm -rf "$ROOT" && mkdir -p "$(dirname "$ROOT")"
	began=$SECONDS
	debootstrap --arch=arm64 --variant=minbase --include=python3,python3-venv,ca-certificates \
		bookworm "$ROOT" "$MIRROR"
	touch "$ROOT/.otswarm-root"
	say "root built in $((SECONDS - began)) s"
fi

WORK=/opt/otswarm-smoke # inside the root
rm -rf "${ROOT:?}$WORK" && mkdir -p "$ROOT$WORK/dist"
say "building the wheel of $REPO"
"$PYTHON" -m pip wheel --no-deps --quiet -w "$ROOT$WORK/dist" "$REPO"
WHEEL=$(basename "$(ls "$ROOT$WORK"/dist/otswarm-*.whl)")
cp "$REPO/tests/wheel_checks.py" "$ROOT$WORK/"
say "x86-64 reference probabilities (the shipped policy, this checkout)"
(cd "$REPO/tests" && "$PYTHON" -c "
import json, sys, tempfile
from pathlib import Path
import wheel_checks
with tempfile.TemporaryDirectory() as cwd:
    probs = wheel_checks.check_inference(Path(sys.prefix), Path(cwd))['probabilities']
Path('$ROOT$WORK/expected.json').write_text(json.dumps(probs))
")

MOUNTED=()
BROKER_PID=
cleanup() {
	[ -z "$BROKER_PID" ] || kill "$BROKER_PID" 2>/dev/null || true
	for target in "${MOUNTED[@]}"; do umount "$target" || umount -l "$target" || true; done
	rm -rf "${ROOT:?}/sys/firmware"
}
trap cleanup EXIT
on() { mount "$@" && MOUNTED=("${!#}" "${MOUNTED[@]}"); }
on -t proc proc "$ROOT/proc"
on --bind "$HERE/cpuinfo-$BOARD" "$ROOT/proc/cpuinfo"
on --bind /dev "$ROOT/dev"
on --bind /dev/pts "$ROOT/dev/pts"
mkdir -p "$ROOT/sys/firmware/devicetree/base"
printf '%s\0' "$MODEL" >"$ROOT/sys/firmware/devicetree/base/model"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
# the host's CA bundle, so pip in the root also works behind a TLS-inspecting proxy
cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"

# the demo's broker: Mosquitto on the host's loopback (the chroot shares the network)
PORT=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$PORT" >"$ROOT$WORK/mosquitto.conf"
/usr/sbin/mosquitto -c "$ROOT$WORK/mosquitto.conf" >"$ROOT$WORK/mosquitto.log" 2>&1 &
BROKER_PID=$!

in_root() { chroot "$ROOT" /usr/bin/env -i HOME=/root PATH=/usr/bin:/bin LANG=C.UTF-8 QEMU_CPU="$QEMU_CPU" "$@"; }

say "board $BOARD ($MODEL), QEMU_CPU=$QEMU_CPU; $(in_root uname -m), $(in_root python3 --version)"
in_root python3 -m venv "$WORK/venv"
began=$SECONDS
in_root "$WORK/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$WORK/dist/$WHEEL[bridge]"
say "installed $WHEEL[bridge] from PyPI in $((SECONDS - began)) s:"
in_root "$WORK/venv/bin/python" -m pip list --disable-pip-version-check 2>/dev/null |
	grep -Ei '^(numpy|scipy|numba|llvmlite|ai-edge-litert|paho-mqtt|pyserial|otswarm) '

began=$SECONDS
in_root python3 "$WORK/wheel_checks.py" "$WORK/venv" --broker "mqtt://127.0.0.1:$PORT" \
	--profile "$BOARD" --expect-probabilities "$WORK/expected.json" --json "$WORK/results.json" ||
	die "a check failed (output above)"
cp "$ROOT$WORK/results.json" "$RESULTS"
say "checks passed in $((SECONDS - began)) s; results in $RESULTS"
