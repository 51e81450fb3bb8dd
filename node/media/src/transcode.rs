//! One video from upload to PeerTube's HLS files: probe, plan, pipeline, packaging, images.
//! Everything is written inside one output folder; the caller publishes or removes it.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use peerbox_catalog::{HlsFile, HlsPlaylist};
use peerbox_hwaccel::{BoardConfig, Discovery};
use uuid::Uuid;

use crate::error::{MediaError, Result, messages};
use crate::fsutil;
use crate::hls::{self, Packaged, Variant};
use crate::images;
use crate::pipeline::{self, Control};
use crate::plan::{self, Plan, VideoPlan};
use crate::probe::{self, MediaInfo};

/// Names of the image files inside the output folder (the worker moves them).
pub const THUMBNAIL_FILE: &str = "thumbnail.jpg";
pub const PREVIEW_FILE: &str = "preview.jpg";

/// What a transcode needs besides the source and the output folder.
pub struct Options<'a> {
    pub board: &'a BoardConfig,
    pub encoders: &'a Discovery,
    pub cancel: &'a AtomicBool,
    pub progress: &'a mut dyn FnMut(u8),
    pub stall_timeout: Duration,
    pub probe_timeout: Duration,
}

/// The outputs of one video, all inside the output folder.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcoded {
    pub hls: HlsPlaylist,
    /// Paths of the JPEGs in the output folder; None for audio-only videos.
    pub thumbnail: Option<PathBuf>,
    pub preview: Option<PathBuf>,
    /// Seconds, from the longest rendition.
    pub duration: f64,
    pub info: MediaInfo,
    pub plan: Plan,
    /// Per rendition (same order as `hls.files`): the packaged file's segments and codecs.
    pub packaged: Vec<Packaged>,
}

/// Transcodes `source` into `out_dir` (which must exist and be empty of other outputs).
pub fn transcode(source: &Path, out_dir: &Path, opts: Options) -> Result<Transcoded> {
    let info = probe::probe(source, opts.probe_timeout)?;
    probe::validate(&info)?;
    let plan = plan::plan(&info, opts.board, opts.encoders)?;
    tracing::info!(
        source = %source.display(),
        renditions = ?plan.renditions.iter().map(|r| (r.resolution, r.fps, describe(&r.video))).collect::<Vec<_>>(),
        audio = ?plan.audio,
        "transcoding"
    );

    let raw_paths: Vec<PathBuf> = plan
        .renditions
        .iter()
        .map(|r| out_dir.join(format!(".raw-{}.mp4", r.resolution)))
        .collect();
    let frames = pipeline::run(
        source,
        &plan,
        &raw_paths,
        info.duration,
        &opts.board.queues,
        Control {
            cancel: opts.cancel,
            progress: opts.progress,
            stall_timeout: opts.stall_timeout,
        },
    );
    let frames = match frames {
        Ok(f) => f,
        Err(e) => {
            for p in &raw_paths {
                let _ = fsutil::remove_file(p);
            }
            return Err(e);
        }
    };

    // Package every rendition under PeerTube's names.
    let mut files = Vec::new();
    let mut packaged = Vec::new();
    for (r, raw) in plan.renditions.iter().zip(&raw_paths) {
        let file_uuid = Uuid::new_v4();
        let fragmented = format!("{file_uuid}-{}-fragmented.mp4", r.resolution);
        let playlist = format!("{file_uuid}-{}.m3u8", r.resolution);
        let p = hls::package(raw, &out_dir.join(&fragmented));
        fsutil::remove_file(raw)?;
        let p = p?;
        if p.segments.is_empty() {
            return Err(MediaError::BadInput(messages::DAMAGED.into()));
        }
        fsutil::write_synced(
            &out_dir.join(&playlist),
            hls::media_playlist(&fragmented, &p).as_bytes(),
        )?;
        files.push(HlsFile {
            resolution: r.resolution,
            width: p.width,
            height: p.height,
            fps: r.fps,
            size: p.size,
            playlist,
            fragmented,
            info_hash: None,
        });
        packaged.push(p);
    }

    // A file that ends early (cut upload) decodes without error but comes out short.
    let duration = packaged.iter().map(|p| p.duration).fold(0.0, f64::max);
    if let Some(expected) = info.duration {
        let expected = expected.as_secs_f64();
        if duration + (expected * 0.05).max(1.0) < expected {
            tracing::warn!(expected, got = duration, "output shorter than the source");
            return Err(MediaError::BadInput(messages::DAMAGED.into()));
        }
    }

    let name = Uuid::new_v4();
    let master = format!("{name}-master.m3u8");
    let segments_sha256 = format!("{name}-segments-sha256.json");
    let variants: Vec<Variant> = files
        .iter()
        .zip(&packaged)
        .map(|(f, p)| Variant {
            playlist: &f.playlist,
            resolution: f.resolution,
            fps: f.fps,
            file: p,
        })
        .collect();
    fsutil::write_synced(
        &out_dir.join(&master),
        hls::master_playlist(&variants).as_bytes(),
    )?;
    let json_files: Vec<(&str, &Packaged)> = files
        .iter()
        .zip(&packaged)
        .map(|(f, p)| (f.fragmented.as_str(), p))
        .collect();
    fsutil::write_synced(
        &out_dir.join(&segments_sha256),
        hls::segments_sha256_json(&json_files).as_bytes(),
    )?;

    let (thumbnail, preview) = match images::pick(&frames) {
        Some(i) => {
            let (t, p) = (out_dir.join(THUMBNAIL_FILE), out_dir.join(PREVIEW_FILE));
            images::write_images(&frames[i], &t, &p)?;
            (Some(t), Some(p))
        }
        None => (None, None),
    };
    fsutil::sync_dir(out_dir)?;

    // Ascending resolution, as PeerTube lists files.
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|i| files[*i].resolution);
    let files_sorted = order.iter().map(|i| files[*i].clone()).collect();
    let packaged_sorted = order.iter().map(|i| packaged[*i].clone()).collect();
    Ok(Transcoded {
        hls: HlsPlaylist {
            master,
            segments_sha256,
            files: files_sorted,
        },
        thumbnail,
        preview,
        duration,
        info,
        plan,
        packaged: packaged_sorted,
    })
}

fn describe(v: &VideoPlan) -> String {
    match v {
        VideoPlan::None => "audio only".into(),
        VideoPlan::Copy => "copy".into(),
        VideoPlan::Encode {
            settings, bitrate, ..
        } => format!("{} {} kbit/s", settings.element, bitrate / 1000),
    }
}
