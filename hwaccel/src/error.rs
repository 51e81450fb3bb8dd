use thiserror::Error;

/// A board config that cannot be used; `key` names the offending setting.
#[derive(Debug, Error)]
pub enum BoardError {
    #[error("unknown board {name:?}; built-in boards: {known} (or give a path to a .toml file)")]
    UnknownBoard { name: String, known: String },
    #[error("cannot read board config {path}: {message}")]
    Io { path: String, message: String },
    #[error("board config {origin} is not valid TOML for a board: {message}")]
    Parse { origin: String, message: String },
    #[error("board config {origin}: {key}: {message}")]
    Invalid {
        origin: String,
        key: String,
        message: String,
    },
}

#[derive(Debug, Error)]
pub enum HwaccelError {
    #[error("GStreamer could not be initialised: {0}")]
    Init(String),
    #[error("GStreamer element {0} is not installed")]
    MissingElement(String),
    #[error("{element}: cannot set {property}={value}: {reason}")]
    BadProperty {
        element: String,
        property: String,
        value: String,
        reason: String,
    },
    #[error("invalid caps {caps:?}: {reason}")]
    BadCaps { caps: String, reason: String },
    #[error("no working H.264 encoder for {target}: {reasons}")]
    NoEncoder { target: String, reasons: String },
}
