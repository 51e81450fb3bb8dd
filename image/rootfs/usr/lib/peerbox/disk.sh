# Sourced by the first-boot scripts: the partitions of the card the box booted from. The
# layout is fixed: 1 config, 2/3 boot A/B, 4 extended, 5/6 system A/B, 7 data. The running
# slot's root on the kernel command line names the disk: root=PARTUUID=<disk id>-<nn> (the
# Debian images) or root=/dev/<disk><n> (the Yocto images).

# peerbox_part N: the device path of partition N of the boot disk.
peerbox_part() {
  local root
  root=$(sed -n 's/.*\broot=\([^ ]*\).*/\1/p' /proc/cmdline)
  case "$root" in
    PARTUUID=????????-??)
      printf '/dev/disk/by-partuuid/%s-%02x\n' "$(echo "${root#PARTUUID=}" | cut -d- -f1)" "$1"
      ;;
    /dev/*[0-9])
      # /dev/mmcblk0p5 -> /dev/mmcblk0p7, /dev/sda5 -> /dev/sda7
      printf '%s%s\n' "$(echo "$root" | sed 's/[0-9]*$//')" "$1"
      ;;
    *)
      echo "peerbox: cannot tell the boot disk from root=$root" >&2
      return 1
      ;;
  esac
}
