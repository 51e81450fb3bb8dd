SUMMARY = "Peerbox appliance image for Raspberry Pi"
DESCRIPTION = "Read-only system with the Peerbox node, first-boot setup and an A/B layout \
for over-the-air updates (peerbox-rpi-ab.wks.in)."
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/MIT;md5=0835ade698e0bcf8506ecda2f7b4f302"

inherit core-image

IMAGE_FEATURES += "read-only-rootfs"
IMAGE_INSTALL += "kernel-modules peerbox peerbox-appliance"

# A/B layout: config, boot A/B, system A/B, data, as in the Debian images.
WKS_FILE = "peerbox-rpi-ab.wks.in"
WKS_FILE_DEPENDS += "peerbox-boot-config"
IMAGE_FSTYPES = "wic.xz wic.bmap"
# What wic's bootimg_partition puts on the partition labelled PEERBOX (the config partition).
# nooelint: oelint.vars.mispell.unknown
IMAGE_BOOT_FILES_label-PEERBOX = "peerbox-config/autoboot.txt;autoboot.txt peerbox-config/README.txt;README.txt"

# The box answers to peerbox(.local); /data holds what it keeps and grows to the end of the
# card at first boot (peerbox-grow-data.service, then x-systemd.growfs).
ROOTFS_POSTPROCESS_COMMAND += "peerbox_rootfs_settings;"
peerbox_rootfs_settings() {
    echo "peerbox" > ${IMAGE_ROOTFS}${sysconfdir}/hostname
    install -d ${IMAGE_ROOTFS}/boot/config
    echo "LABEL=peerbox-data  /data  ext4  rw,noatime,nosuid,nodev,x-systemd.growfs,x-systemd.requires=peerbox-grow-data.service  0  2" >> ${IMAGE_ROOTFS}${sysconfdir}/fstab
    echo "LABEL=PEERBOX  /boot/config  vfat  rw,noatime,nosuid,nodev,noexec,fmask=0133,dmask=0022,flush,nofail  0  2" >> ${IMAGE_ROOTFS}${sysconfdir}/fstab
}
