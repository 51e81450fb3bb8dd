# Peerbox A/B boot script for U-Boot boards (qemu-virt and others), compiled to boot.scr on
# the config partition (partition 1, the active one, where U-Boot's distro boot looks).
#
# RAUC-style slot choice: BOOT_ORDER lists the slots, best first; BOOT_<slot>_LEFT counts the
# tries a slot has left. The state lives in peerbox-boot.env on the config partition. Each
# boot takes one try from the first slot that has any and saves the state before starting
# the kernel, so a slot that never comes up healthy (the update agent puts its count back on
# commit) runs out of tries and the other slot boots. When no slot has tries left, both get
# their tries back, as RAUC's script does.
#
# The image build fills in the placeholders between at-signs: the MBR disk identifier, the
# console and extra kernel arguments, and where the device tree comes from (QEMU's own, or a
# file of the slot's boot partition).

setenv BOOT_ORDER "A B"
setenv BOOT_A_LEFT 3
setenv BOOT_B_LEFT 3
# Never load over ${scriptaddr}: this script runs from there.
if load ${devtype} ${devnum}:1 ${kernel_addr_r} peerbox-boot.env; then
  env import -t ${kernel_addr_r} ${filesize} BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT
fi

setenv peerbox_slot
for slot in ${BOOT_ORDER}; do
  if test -z "${peerbox_slot}"; then
    if test "${slot}" = "A" && test ${BOOT_A_LEFT} -gt 0; then
      setexpr BOOT_A_LEFT ${BOOT_A_LEFT} - 1
      setenv peerbox_slot A
      setenv peerbox_boot_part 2
      setenv peerbox_system_part 05
    elif test "${slot}" = "B" && test ${BOOT_B_LEFT} -gt 0; then
      setexpr BOOT_B_LEFT ${BOOT_B_LEFT} - 1
      setenv peerbox_slot B
      setenv peerbox_boot_part 3
      setenv peerbox_system_part 06
    fi
  fi
done

if test -z "${peerbox_slot}"; then
  echo "peerbox: no slot has tries left; giving both their tries back"
  setenv BOOT_A_LEFT 3
  setenv BOOT_B_LEFT 3
  env export -t ${kernel_addr_r} BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT
  fatwrite ${devtype} ${devnum}:1 ${kernel_addr_r} peerbox-boot.env ${filesize}
  reset
fi

echo "peerbox: booting slot ${peerbox_slot} (tries left: A ${BOOT_A_LEFT}, B ${BOOT_B_LEFT})"
env export -t ${kernel_addr_r} BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT
fatwrite ${devtype} ${devnum}:1 ${kernel_addr_r} peerbox-boot.env ${filesize}

if load ${devtype} ${devnum}:${peerbox_boot_part} ${kernel_addr_r} vmlinuz; then
  setenv peerbox_kernel_size ${filesize}
else
  echo "peerbox: slot ${peerbox_slot} has no kernel"
  reset
fi
if load ${devtype} ${devnum}:${peerbox_boot_part} ${ramdisk_addr_r} initrd.img; then
  setenv peerbox_initrd_size ${filesize}
else
  echo "peerbox: slot ${peerbox_slot} has no initramfs"
  reset
fi
@FDT@
setenv bootargs "@BOOTARGS@ root=PARTUUID=@DISK_ID@-${peerbox_system_part} rootfstype=erofs ro rootwait peerbox.slot=${peerbox_slot}"
booti ${kernel_addr_r} ${ramdisk_addr_r}:${peerbox_initrd_size} ${peerbox_fdt}
echo "peerbox: the kernel of slot ${peerbox_slot} did not start"
reset
