SUMMARY = "Peerbox appliance integration: node service, first boot, claim code, updates"
DESCRIPTION = "The hardened systemd unit of the node, the first-boot units that grow the \
data partition, make host keys and the claim code, and the network, journal and watchdog \
settings: the files of image/rootfs, the same as in the Debian images."
SECTION = "net"

require recipes-peerbox/peerbox/peerbox-source.inc

inherit allarch systemd useradd

# Fixed ids, as in the Debian images: the data partition keeps its owners across updates.
USERADD_PACKAGES = "${PN}"
GROUPADD_PARAM:${PN} = "--system --gid 900 peerbox"
USERADD_PARAM:${PN} = "--system --uid 900 --gid 900 --home-dir /data/peerbox --no-create-home --shell /sbin/nologin peerbox"

SYSTEMD_SERVICE:${PN} = "peerbox.service peerbox-firstboot.service peerbox-ota-boot-check.service peerbox-ota-health.service peerbox-ota-request.path"

do_install() {
    install -d ${D}${systemd_system_unitdir}/ssh.service.d ${D}${nonarch_libdir}/peerbox \
        ${D}${nonarch_libdir}/systemd/network ${D}${nonarch_libdir}/systemd/resolved.conf.d \
        ${D}${nonarch_libdir}/systemd/journald.conf.d ${D}${nonarch_libdir}/systemd/system.conf.d \
        ${D}${sysconfdir}/ssh/sshd_config.d ${D}/data
    r=${S}/image/rootfs
    for unit in peerbox.service peerbox-firstboot.service peerbox-grow-data.service \
        peerbox-ota-boot-check.service peerbox-ota-health.service peerbox-ota-request.path \
        peerbox-ota-request.service peerbox-ota-usb@.service; do
        install -m 0644 $r/usr/lib/systemd/system/$unit ${D}${systemd_system_unitdir}/
    done
    install -m 0644 $r/usr/lib/systemd/system/ssh.service.d/peerbox.conf ${D}${systemd_system_unitdir}/ssh.service.d/
    install -m 0644 $r/usr/lib/peerbox/disk.sh ${D}${nonarch_libdir}/peerbox/
    install -m 0755 $r/usr/lib/peerbox/firstboot $r/usr/lib/peerbox/grow-data $r/usr/lib/peerbox/ota-request \
        $r/usr/lib/peerbox/ota-usb ${D}${nonarch_libdir}/peerbox/
    install -d ${D}${nonarch_base_libdir}/udev/rules.d
    install -m 0644 $r/usr/lib/udev/rules.d/90-peerbox-ota-usb.rules ${D}${nonarch_base_libdir}/udev/rules.d/
    install -m 0644 $r/usr/lib/systemd/network/20-peerbox-wired.network ${D}${nonarch_libdir}/systemd/network/
    install -m 0644 $r/usr/lib/systemd/resolved.conf.d/peerbox.conf ${D}${nonarch_libdir}/systemd/resolved.conf.d/
    install -m 0644 $r/usr/lib/systemd/journald.conf.d/peerbox.conf ${D}${nonarch_libdir}/systemd/journald.conf.d/
    install -m 0644 $r/usr/lib/systemd/system.conf.d/peerbox-watchdog.conf ${D}${nonarch_libdir}/systemd/system.conf.d/
    install -m 0644 $r/etc/ssh/sshd_config.d/peerbox.conf ${D}${sysconfdir}/ssh/sshd_config.d/
}

FILES:${PN} += "\
    /data \
    ${nonarch_base_libdir}/udev/rules.d \
    ${nonarch_libdir}/peerbox \
    ${nonarch_libdir}/systemd/journald.conf.d \
    ${nonarch_libdir}/systemd/network \
    ${nonarch_libdir}/systemd/resolved.conf.d \
    ${nonarch_libdir}/systemd/system.conf.d \
    ${systemd_system_unitdir}/ssh.service.d \
"

RDEPENDS:${PN} = "\
    bash \
    e2fsprogs-e2fsck \
    e2fsprogs-resize2fs \
    openssh-keygen \
    openssh-sshd \
    peerbox \
    util-linux-partx \
    util-linux-sfdisk \
"
