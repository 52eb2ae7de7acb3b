#!/bin/sh
# PID 1 of the bdk test guest (built into the initramfs by test/vm/prepare.ts).
# The host shares two folders over 9p: the project (mounted at the same absolute path as on the
# host, so paths in commands and stack traces match) and a per-run folder holding the command.
# The command's exit code goes back both as a file in the run folder and as a console marker.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
say() { echo "bdk-init: $*"; }
finish() {
  echo "$1" >/bdk-run/exit 2>/dev/null
  sync
  echo "BDK_GUEST_EXIT=$1"
  poweroff -f
}
fail() { say "$*"; finish 125; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /dev/hugepages /tmp /run /root /bdk-run
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /dev/shm
# Drivers allocate hugepages with MAP_HUGETLB (no mount needed); the mount is there for tools
# that expect it, like DPDK's.
mount -t hugetlbfs hugetlbfs /dev/hugepages || say "cannot mount hugetlbfs"
# 2 MiB hugepages for the DMA pools, as on any machine that runs a poll-mode driver. On this rig they are
# more than a speed-up: QEMU's e1000e and igb models map each TX buffer through the vIOMMU in one piece
# (net_tx_pkt_add_raw_fragment_pci) and silently drop the frame when the guest-physical pages behind the
# buffer's IOVA range are not contiguous, which scattered 4 KiB pages often are.
echo "${hugepages:-192}" > /proc/sys/vm/nr_hugepages || say "cannot reserve hugepages"
ip link set lo up

# The order file lists the kernel's own NIC drivers first, so the NICs start bound to them as on
# a real machine (a test rebinds them to vfio-pci), then bridge, vfio and 9p.
while read -r m; do
  [ -n "$m" ] && { insmod "/lib/modules/bdk/$m.ko" || say "insmod $m failed"; }
done </lib/modules/bdk/order

mount -t 9p -o trans=virtio,version=9p2000.L,msize=1048576 bdkrun /bdk-run \
  || fail "cannot mount the run folder (9p tag bdkrun)"
proj=$(cat /bdk-run/project)
mkdir -p "$proj"
# cache=loose: Bun (about 90 MB) and node_modules load fast; files the host changes during a run
# may look stale, so pass live data through /bdk-run (uncached) instead.
mount -t 9p -o trans=virtio,version=9p2000.L,msize=1048576,cache=loose bdkproj "$proj" \
  || fail "cannot mount the project at $proj (9p tag bdkproj)"
cd "$proj" || fail "cannot cd to $proj"

export HOME=/root TMPDIR=/tmp BDK_GUEST=1 BDK_VM_RUN=/bdk-run
export PATH="$proj/node_modules/.bin:$PATH"
echo "BDK_GUEST_BEGIN uptime=$(cut -d' ' -f1 /proc/uptime)"
/bin/sh -c "$(cat /bdk-run/command)" </dev/null
finish $?
