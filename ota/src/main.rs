//! `peerbox-ota`: the updater on its own (the same commands as `peerbox ota`), for images
//! and tests that don't run the node binary.

use clap::Parser;

#[derive(Parser)]
#[command(name = "peerbox-ota", version, about = "Peerbox over-the-air updates")]
struct Cli {
    #[command(flatten)]
    ota: peerbox_ota::cli::OtaArgs,
}

fn main() -> std::process::ExitCode {
    peerbox_ota::cli::run_blocking(Cli::parse().ota)
}
