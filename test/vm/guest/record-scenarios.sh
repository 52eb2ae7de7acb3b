#!/bin/sh
# Records the sysfs fixtures of test/fixtures/sysfs/ (run in the guest by the rig; see README there).
#   bun run vm -- --nic e1000 --nic igb -- sh test/vm/guest/record-scenarios.sh iommu
#   bun run vm -- --bridge-group --nic e1000 --nic e1000 -- sh test/vm/guest/record-scenarios.sh bridge
#   bun run vm -- --no-iommu --nic e1000 --nic igb -- sh test/vm/guest/record-scenarios.sh noiommu
set -e
F=test/fixtures/sysfs
rec() { bun test/vm/guest/record-sysfs.ts "$F/$1"; }
bdk() { bun src/cli/main.ts "$@"; }
case "$1" in
iommu)
  # eth0 up with an address (a connected route) and a route through it: what devbind must guard.
  ip link set eth0 up
  ip addr add 10.9.0.1/24 dev eth0
  ip route add 10.10.0.0/16 via 10.9.0.2 dev eth0
  rec kernel-drivers
  bdk devbind --status
  ip route del 10.10.0.0/16 via 10.9.0.2 dev eth0
  ip addr flush dev eth0
  ip link set eth0 down
  bdk devbind --bind vfio-pci 0000:00:02.0
  rec vfio-e1000
  bdk devbind --status
  bdk check || true
  ;;
bridge)
  bdk devbind --bind vfio-pci --force 0000:01:01.0
  rec bridge-group
  bdk devbind --status
  bdk check 0000:01:01.0 || true
  ;;
noiommu)
  rec no-iommu
  bdk devbind --status
  bdk devbind --bind vfio-pci --force 0000:00:02.0 || true
  bdk check 0000:00:02.0 || true
  ;;
*) echo "usage: $0 iommu|bridge|noiommu"; exit 2 ;;
esac
dmesg | grep -i -e vfio -e dmar -e iommu | tail -20
