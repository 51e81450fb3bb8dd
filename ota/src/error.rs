//! Errors. Each variant names what failed, because its text is what the user sees at the
//! command line and on the admin page.

use std::io;
use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not a Peerbox update bundle (bad magic)")]
    NotABundle,
    #[error("unsupported bundle format {0} (this updater reads format 1)")]
    UnsupportedFormat(u32),
    #[error("malformed bundle: {0}")]
    Malformed(String),
    #[error("bundle is truncated: {0}")]
    Truncated(String),
    #[error("bundle is signed by an unknown key {key_id} (trusted keys: {trusted})")]
    UnknownKey { key_id: String, trusted: String },
    #[error("bad signature: the manifest does not match the signature by key {key_id}")]
    BadSignature { key_id: String },
    #[error("the block hash index of payload {payload} does not match the manifest")]
    BadIndex { payload: String },
    #[error("payload {payload}: block {block} does not match its hash (corrupted or tampered)")]
    BadBlock { payload: String, block: u64 },
    #[error("payload {payload}: sha256 does not match the manifest")]
    PayloadHash { payload: String },
    #[error("slot {slot} {part}: read-back after writing does not match the bundle (bad storage?)")]
    ReadBack { slot: String, part: String },
    #[error("bundle is for board {bundle}, this device is {device}")]
    WrongBoard { bundle: String, device: String },
    #[error(
        "downgrade refused: bundle version {bundle} is below the minimum allowed version {minimum}"
    )]
    Downgrade { bundle: String, minimum: String },
    #[error("bundle version {bundle} cannot be installed over {running} (it requires {required})")]
    Incompatible {
        bundle: String,
        running: String,
        required: String,
    },
    #[error("invalid version {value:?}: {reason}")]
    Version { value: String, reason: String },
    #[error(
        "no space: payload {payload} needs {needed} bytes but slot {slot} {part} has {capacity}"
    )]
    NoSpace {
        payload: String,
        needed: u64,
        slot: String,
        part: String,
        capacity: u64,
    },
    #[error("key file {path}: {reason}")]
    KeyFile { path: PathBuf, reason: String },
    #[error("keyring {path}: {reason}")]
    Keyring { path: PathBuf, reason: String },
    #[error("configuration: {0}")]
    Config(String),
    #[error("download of {url} failed: {reason}")]
    Download { url: String, reason: String },
    #[error("data cap reached: {used} bytes downloaded, the cap is {cap}")]
    DataCap { used: u64, cap: u64 },
    #[error("update feed {url}: {reason}")]
    Feed { url: String, reason: String },
    #[error("boot slots: {0}")]
    Slots(String),
    #[error("u-boot environment {path}: {reason}")]
    Env { path: PathBuf, reason: String },
    #[error("{0}")]
    State(String),
    #[error("another update is in progress")]
    Busy,
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    /// Only produced by fault injection in tests: the "process" died at this step.
    #[error("injected crash at step {0}")]
    Crashed(String),
}

/// `.ctx("reading x")?` for io results.
pub(crate) trait IoContext<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::Io {
            context: context(),
            source,
        })
    }
}
