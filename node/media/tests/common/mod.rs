//! Helpers for the media tests: clips made with GStreamer's test sources at test time, and
//! ffprobe to look at the results as a player would.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;
use peerbox_hwaccel::{BoardConfig, Discovery};
use peerbox_media::{Options, Transcoded};
use sha2::{Digest, Sha256};

/// Runs a gst-launch style description to the end.
pub fn launch(description: &str) {
    peerbox_media::init().expect("gstreamer");
    let pipeline = gst::parse::launch(description).expect("pipeline description");
    pipeline.set_state(gst::State::Playing).expect("playing");
    let bus = pipeline.bus().expect("bus");
    let msg = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(300),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("clip generation finished in time");
    if let gst::MessageView::Error(e) = msg.view() {
        panic!("clip generation failed: {} ({:?})", e.error(), e.debug());
    }
    pipeline.set_state(gst::State::Null).expect("null");
}

/// A moving test picture with a tone.
pub struct Clip<'a> {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub secs: u32,
    /// Encoder (and caps) description, e.g. "x264enc bitrate=600".
    pub video: &'a str,
    pub audio: Option<&'a str>,
    /// Muxer description; it is named `m`.
    pub mux: &'a str,
}

impl Clip<'_> {
    pub fn write(&self, path: &Path) {
        let frames = self.fps * self.secs;
        let audio = match self.audio {
            // 960-sample buffers at 48 kHz are 20 ms: the audio ends exactly with the video.
            Some(enc) => format!(
                " audiotestsrc num-buffers={} samplesperbuffer=960 freq=440 ! audio/x-raw,rate=48000,channels=2 ! audioconvert ! {enc} ! m.",
                self.secs * 50
            ),
            None => String::new(),
        };
        launch(&format!(
            "videotestsrc num-buffers={frames} pattern=smpte horizontal-speed=3 ! video/x-raw,width={},height={},framerate={}/1,format=I420 ! {} ! {} name=m ! filesink location={}{audio}",
            self.width,
            self.height,
            self.fps,
            self.video,
            self.mux,
            path.display()
        ));
    }
}

pub fn board() -> BoardConfig {
    BoardConfig::load("x86-64").expect("board")
}

pub fn encoders(board: &BoardConfig) -> Discovery {
    peerbox_hwaccel::discover(board).expect("encoders")
}

pub fn run_transcode(
    source: &Path,
    out: &Path,
    board: &BoardConfig,
) -> peerbox_media::Result<Transcoded> {
    let encoders = encoders(board);
    let cancel = AtomicBool::new(false);
    let mut progress = |_: u8| {};
    peerbox_media::transcode(
        source,
        out,
        Options {
            board,
            encoders: &encoders,
            cancel: &cancel,
            progress: &mut progress,
            stall_timeout: Duration::from_secs(60),
            probe_timeout: Duration::from_secs(30),
        },
    )
}

pub fn ffprobe(path: &Path, args: &[&str]) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error"])
        .args(args)
        .arg(path)
        .output()
        .expect("ffprobe runs (apt package ffmpeg)");
    assert!(
        out.status.success(),
        "ffprobe {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn ffprobe_json(path: &Path) -> serde_json::Value {
    let text = ffprobe(path, &["-show_streams", "-show_format", "-of", "json"]);
    serde_json::from_str(&text).expect("ffprobe JSON")
}

pub fn duration_of(path: &Path) -> f64 {
    ffprobe_json(path)["format"]["duration"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .expect("a duration")
}

/// (byte position, is keyframe) of every video packet.
pub fn video_packets(path: &Path) -> Vec<(u64, bool)> {
    ffprobe(
        path,
        &[
            "-select_streams",
            "v",
            "-show_entries",
            "packet=pos,flags",
            "-of",
            "csv=p=0",
        ],
    )
    .lines()
    .filter_map(|l| {
        let (pos, flags) = l.split_once(',')?;
        Some((pos.trim().parse().ok()?, flags.contains('K')))
    })
    .collect()
}

/// Byte ranges of a media playlist: (init length, [(offset, length, duration)]).
pub fn playlist_ranges(text: &str) -> (u64, Vec<(u64, u64, f64)>) {
    let mut init = 0;
    let mut ranges = Vec::new();
    let mut duration = 0.0;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("#EXT-X-MAP:") {
            let br = rest.split("BYTERANGE=\"").nth(1).expect("MAP byterange");
            let (len, off) = br.trim_end_matches('"').split_once('@').expect("len@off");
            assert_eq!(off, "0");
            init = len.parse().expect("init length");
        } else if let Some(d) = line.strip_prefix("#EXTINF:") {
            duration = d.trim_end_matches(',').parse().expect("EXTINF");
        } else if let Some(br) = line.strip_prefix("#EXT-X-BYTERANGE:") {
            let (len, off) = br.split_once('@').expect("len@off");
            ranges.push((
                off.parse().expect("off"),
                len.parse().expect("len"),
                duration,
            ));
        }
    }
    (init, ranges)
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

pub fn path(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}
