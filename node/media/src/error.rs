use thiserror::Error;

/// Why a transcode did not produce outputs. `BadInput` carries a message for the uploader and
/// is never retried; the others may succeed on another attempt.
#[derive(Debug, Error)]
pub enum MediaError {
    #[error("{0}")]
    BadInput(String),
    #[error("transcoding failed: {0}")]
    Pipeline(String),
    #[error("transcoding stalled: no progress for {0} s")]
    Stalled(u64),
    #[error("transcoding was cancelled")]
    Cancelled,
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("catalog: {0}")]
    Catalog(#[from] peerbox_catalog::CatalogError),
    #[error("encoder: {0}")]
    Encoder(#[from] peerbox_hwaccel::HwaccelError),
}

impl MediaError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> MediaError {
        MediaError::Io {
            context: context.into(),
            source,
        }
    }

    /// True when trying again cannot help: the file itself is the problem.
    pub fn is_permanent(&self) -> bool {
        matches!(self, MediaError::BadInput(_))
    }
}

pub type Result<T, E = MediaError> = std::result::Result<T, E>;

/// Messages shown to uploaders, kept in one place so tests and callers can match them.
pub mod messages {
    pub const NO_STREAMS: &str = "The file has no video or audio stream";
    pub const NOT_MEDIA: &str = "The file is not a video or audio file";
    pub const DAMAGED: &str = "The file is truncated or damaged";
    pub const EMPTY: &str = "The file has no playable content (its duration is zero)";
    pub const STILL_IMAGE: &str = "The file is a still image, not a video";
    pub const MISSING_SOURCE: &str = "The uploaded file is missing on the server";
}
