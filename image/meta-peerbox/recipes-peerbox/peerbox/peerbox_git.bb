SUMMARY = "Peerbox, a PeerTube-compatible video node"
DESCRIPTION = "One Rust process that hosts channels and videos, transcodes with the board's \
hardware encoder through GStreamer, streams HLS with peer-to-peer delivery and federates \
with PeerTube over ActivityPub."
SECTION = "net"

# gstreamer-rs links against GStreamer and its base plugins' libraries.
DEPENDS += "gstreamer1.0 gstreamer1.0-plugins-base"

require peerbox-source.inc
# Every crate of Cargo.lock, written by `cargo run -p peerbox-image -- yocto-crates`.
require ${BPN}-crates.inc

inherit cargo cargo-update-recipe-crates pkgconfig

# Only the node's binary, not the whole workspace (tests, image builder).
CARGO_BUILD_FLAGS += "-p peerbox"

# CA certificates for federation over HTTPS; the media pipeline's GStreamer elements (see
# image/packages.toml for the Debian images' set).
RDEPENDS:${PN} += "\
    ca-certificates \
    gstreamer1.0-plugins-bad \
    gstreamer1.0-plugins-base \
    gstreamer1.0-plugins-good \
"
