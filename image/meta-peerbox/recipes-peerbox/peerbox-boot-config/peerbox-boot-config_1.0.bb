SUMMARY = "Peerbox config partition: Raspberry Pi A/B boot selection"
DESCRIPTION = "autoboot.txt for the Raspberry Pi firmware's tryboot A/B switch (boot \
partition 2 is slot A, 3 is slot B) and a README for whoever opens the card, deployed for \
the config partition of peerbox-rpi-ab.wks.in."
SECTION = "bsp"
LICENSE = "AGPL-3.0-or-later"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/AGPL-3.0-or-later;md5=a4af3f9f0c0fc9de318e4df46665906e"

SRC_URI = "file://autoboot.txt file://README.txt"
S = "${UNPACKDIR}"

inherit deploy nopackages

do_deploy() {
    install -d ${DEPLOYDIR}/peerbox-config
    install -m 0644 ${S}/autoboot.txt ${S}/README.txt ${DEPLOYDIR}/peerbox-config/
}
addtask deploy after do_install before do_build
