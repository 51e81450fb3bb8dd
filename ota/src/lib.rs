//! Over-the-air updates for the Peerbox appliance: signed bundles (Ed25519), A/B slots
//! (Raspberry Pi tryboot, U-Boot boot counter, a file simulator), install sources (file,
//! HTTPS feed, upload), and the health-gated commit or rollback after a trial boot.
//!
//! Owns: bundle format, keyring, slot switching, the updater's state on the data partition.
//! Must not: write the data partition beyond its own state folder and trial log, touch the
//! running slot, trust any byte of a bundle before it has been hashed and checked.
//!
//! For the `peerbox` binary: flatten [`cli::OtaArgs`] into the CLI and call [`cli::run`];
//! for the API, hold an `Arc<`[`Ota`]`>` and use [`Ota::status`], [`Ota::install`],
//! [`Ota::install_reader`] and [`Ota::run_health`].

pub mod bundle;
pub mod cli;
pub mod config;
pub mod error;
pub mod fatimg;
pub mod fault;
pub mod keys;
pub mod slots;
pub mod source;
pub mod state;
pub mod ubootenv;
pub mod updater;
pub mod version;

pub use config::OtaConfig;
pub use error::{Error, Result};
pub use source::{PollResult, Source};
pub use updater::{BootCheck, HealthOutcome, Installed, Ota, Progress, ProgressFn, Stage, Status};
