# Peerbox tasks. `just --list` shows them.
set shell := ["bash", "-euo", "pipefail", "-c"]

# Run a node on http://127.0.0.1:9000 with its data in ./peerbox-data.
run *ARGS:
    cargo run --release -p peerbox -- run {{ARGS}}

# Install what the tests need, then run every test of the workspace.
test: deps
    cargo build -p peerbox
    cargo test --workspace

# Debian and npm packages used by the tests (installed only when missing).
deps:
    scripts/install-test-deps

# Formatting and lints, as CI checks them.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings
