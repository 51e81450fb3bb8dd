//! Media workers for Peerbox: probe an upload (GStreamer Discoverer), pick PeerTube's ladder,
//! transcode in one GStreamer pipeline per video (decode once, one encoder per rendition as
//! `peerbox-hwaccel` chooses), package PeerTube's HLS layout (byte-range playlists into one
//! fragmented MP4 per resolution, master playlist, `segments-sha256.json`), make the
//! thumbnail and preview, and run the `video-transcoding` job queue of the catalog.
//!
//! It writes files under the data dir and rows through the catalog's API. It knows nothing
//! of HTTP and never serves files.

mod error;
mod fsutil;
pub mod hls;
pub mod images;
pub mod mp4;
mod pipeline;
pub mod plan;
pub mod probe;
mod transcode;
mod worker;

use std::sync::OnceLock;

use gstreamer as gst;

pub use error::{MediaError, Result, messages};
pub use pipeline::FRAGMENT;
pub use transcode::{Options, PREVIEW_FILE, THUMBNAIL_FILE, Transcoded, transcode};
pub use worker::{
    HLS_DIR, JOB_KIND, PREVIEWS_DIR, THUMBNAILS_DIR, WorkerOptions, recover, run_workers,
};

/// Initialises GStreamer and registers the statically linked fragmented-MP4 muxer
/// (gst-plugins-rs is not packaged for Debian 12). Safe to call many times.
pub fn init() -> Result<()> {
    static INIT: OnceLock<Result<(), String>> = OnceLock::new();
    INIT.get_or_init(|| {
        gst::init().map_err(|e| format!("GStreamer could not be initialised: {e}"))?;
        gstfmp4::plugin_register_static()
            .map_err(|e| format!("the fMP4 muxer could not be registered: {e}"))
    })
    .clone()
    .map_err(MediaError::Pipeline)
}
