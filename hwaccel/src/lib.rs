//! Hardware-aware H.264 encoding: which encoders this machine's GStreamer offers and whether
//! each really works (a short test encode), which one a rendition should use and with which
//! element settings, PeerTube's ladder arithmetic, and the board facts of
//! `board-configs/*.toml`.
//!
//! It builds encoder fragments, never whole transcoding pipelines (that is the media crate's
//! job), and knows nothing of videos, jobs or HTTP.

mod board;
pub mod discover;
pub mod elements;
pub mod encoder;
mod error;
pub mod ladder;
mod report;

pub use board::{
    BoardConfig, BoardInfo, EncoderOverrides, EncoderPreferences, Queues, Transcoding,
    board_from_device_tree,
};
pub use discover::{Candidate, Discovery, Status, discover, discover_with};
pub use encoder::{EncodeTarget, EncoderKind, EncoderSettings, EncoderSpec, KNOWN_ENCODERS};
pub use error::{BoardError, HwaccelError};
pub use report::{format_report, report};
