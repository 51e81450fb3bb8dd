# Peerbox tasks. `just --list` shows them.
set shell := ["bash", "-euo", "pipefail", "-c"]

# Run a node on http://127.0.0.1:9000 with its data in ./peerbox-data.
run *ARGS: player
    cargo run --release -p peerbox -- run {{ARGS}}

# Install what the tests need, then run every test of the workspace.
test: deps player
    cargo build -p peerbox
    cargo test --workspace --no-fail-fast

# Debian, npm and Python packages: `build` for the node, `test` (default) for the tests too.
deps MODE="test":
    scripts/install-deps {{MODE}}

# Formatting and lints, as CI checks them.
lint: player
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# hls.js, p2p-media-loader and the page scripts come from node/web/player/package-lock.json.
# Build the web player bundle (esbuild) that the peerbox-web crate embeds.
player: (deps "build")
    #!/usr/bin/env bash
    set -euo pipefail
    cd node/web/player
    if ! cmp -s package-lock.json node_modules/.installed-lock; then
        npm ci --no-audit --no-fund --ignore-scripts
        cp package-lock.json node_modules/.installed-lock
    fi
    npm run --silent build

# A 1080p30 60 s source to 720p + 480p through Peerbox's pipeline and through ffmpeg with
# PeerTube's settings, alternating runs; prints medians, sizes and ratios.
# Extra options: --runs N, --ffmpeg-threads N (PeerTube's `transcoding.threads`).
# Transcode benchmark: Peerbox against ffmpeg.
bench-transcode *ARGS: deps
    cargo run --release -p peerbox-media --example bench_transcode -- --dir target/bench-transcode {{ARGS}}

# WebTorrent announces per second of Peerbox's tracker, aquatic_ws 0.9 and PeerTube's tracker,
# all over wss under aquatic_ws_load_test with the same settings in alternating rounds; prints
# medians and ratios, then each tracker's peak RSS holding 10,000 peers.
# Extra options: --rounds N, --seconds N, --connections N, --peers N.
# Tracker benchmark: Peerbox against aquatic_ws and PeerTube.
bench-tracker *ARGS: (deps "build")
    #!/usr/bin/env bash
    set -euo pipefail
    tools=target/bench-tools
    cargo install --locked --quiet --root "$tools" --target-dir "$tools/build" aquatic_ws_load_test@0.9.0
    # aquatic_ws's default `prometheus` feature no longer builds with current Rust.
    cargo install --locked --quiet --root "$tools" --target-dir "$tools/build" aquatic_ws@0.9.0 --no-default-features --features mimalloc
    if ! cmp -s bench/tracker/package-lock.json bench/tracker/node_modules/.installed-lock; then
        (cd bench/tracker && npm ci --no-audit --no-fund --ignore-scripts && cp package-lock.json node_modules/.installed-lock)
    fi
    cargo run --release -p peerbox-p2p --example bench_tracker -- --tools "$tools" --peertube bench/tracker --dir target/bench-tracker {{ARGS}}

# Activities per second through the ActivityPub inbox of a release node (plain HTTP; signed
# Likes from one local actor over a few connections) against RSA-2048 signature verifications
# per second on one core; prints medians, node CPU per activity, RSS and the ratios.
# Extra options: --runs N, --activities N, --connections N.
# Inbox benchmark: Peerbox's inbox against RSA verification.
bench-inbox *ARGS: player
    cargo build --release -p peerbox
    cargo run --release -p peerbox-e2e --example bench_inbox -- --peerbox target/release/peerbox --dir target/bench-inbox {{ARGS}}

# Outputs in target/image/BOARD: peerbox-BOARD.img.xz, its .sha256, the Imager entry (Pi).
# Options: --version V, --ota-key KEY.pub (update keys the box trusts), --xz-level N, --out DIR.
# Build the appliance image of a board of board-configs/ (qemu-virt, rpi4, rpi5); needs root.
image BOARD *ARGS:
    image/install-host-deps
    cargo run --release -p peerbox-image -- build {{BOARD}} {{ARGS}}

# Board configs, builds of qemu-virt, rpi4 and rpi5, the qemu boot to a claimed node, Yocto lint.
# Run the image tests alone.
test-image:
    image/install-host-deps
    cargo test -p peerbox-image -- --nocapture

# Takes system.erofs and boot/ (or boot.fat) from target/image/BOARD; KEY is a .key made by
# `cargo run -p peerbox-ota -- keygen --out DIR`. Extra options: --min-version V (downgrade
# floor), --compatible-from REQ, another --key (key rotation), --system FILE, --boot DIR.
# Sign an update bundle of an image build: target/image/BOARD/peerbox-BOARD-VERSION.pbx.
ota-bundle BOARD VERSION KEY *ARGS:
    cargo run --release -p peerbox-ota -- bundle --from target/image/{{BOARD}} --board {{BOARD}} --version {{VERSION}} --key {{KEY}} --output target/image/{{BOARD}}/peerbox-{{BOARD}}-{{VERSION}}.pbx {{ARGS}}
