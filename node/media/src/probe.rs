//! What an uploaded file contains (GStreamer's Discoverer), and whether Peerbox can take it.

use std::path::Path;
use std::time::Duration;

use gstreamer as gst;
use gstreamer_pbutils as gst_pbutils;
use gstreamer_pbutils::prelude::*;

use crate::error::{MediaError, Result, messages};

/// Largest and smallest frame side accepted, in pixels.
pub const MAX_SIDE: u32 = 8192;
pub const MIN_SIDE: u32 = 16;

#[derive(Debug, Clone, PartialEq)]
pub struct MediaInfo {
    pub duration: Option<Duration>,
    pub file_size: u64,
    /// Moving-picture stream (still images such as cover art are not counted).
    pub video: Option<VideoStream>,
    pub audio: Option<AudioStream>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VideoStream {
    /// Coded size.
    pub width: u32,
    pub height: u32,
    /// Pixel aspect ratio.
    pub par: (i32, i32),
    /// Frame rate as a fraction; 0/1 for variable rate.
    pub framerate: (i32, i32),
    /// Caps name, e.g. "video/x-h264".
    pub codec: String,
    pub profile: Option<String>,
    pub chroma_format: Option<String>,
    pub bit_depth: Option<u32>,
    /// Degrees clockwise the frames must be turned (from the orientation tag).
    pub rotation: u32,
    pub interlaced: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AudioStream {
    /// Caps name, e.g. "audio/mpeg".
    pub codec: String,
    /// True for AAC (MPEG-4 or MPEG-2 audio/mpeg).
    pub is_aac: bool,
    pub channels: u32,
    pub rate: u32,
    /// Bits a second, when the container says.
    pub bitrate: Option<u64>,
}

impl VideoStream {
    /// Size as displayed: pixel aspect ratio applied to the width, rotation applied.
    pub fn display_size(&self) -> (u32, u32) {
        let (n, d) = self.par;
        let width = if n > 0 && d > 0 && n != d {
            ((u64::from(self.width) * n as u64 + d as u64 / 2) / d as u64).max(1) as u32
        } else {
            self.width
        };
        if self.rotation % 180 == 90 {
            (self.height, width)
        } else {
            (width, self.height)
        }
    }

    /// Frames a second, None when variable or unknown.
    pub fn fps(&self) -> Option<f64> {
        let (n, d) = self.framerate;
        (n > 0 && d > 0).then(|| f64::from(n) / f64::from(d))
    }
}

impl MediaInfo {
    /// Whole-file bitrate, as PeerTube uses it for its bitrate caps.
    pub fn bitrate(&self) -> Option<u64> {
        let secs = self.duration?.as_secs_f64();
        (secs > 0.0 && self.file_size > 0).then(|| (self.file_size as f64 * 8.0 / secs) as u64)
    }
}

/// Reads the file's streams. Errors are `BadInput` with a message for the uploader when the
/// file is the problem.
pub fn probe(path: &Path, timeout: Duration) -> Result<MediaInfo> {
    crate::init()?;
    let file_size = std::fs::metadata(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => MediaError::BadInput(messages::MISSING_SOURCE.into()),
            _ => MediaError::io(format!("reading {}", path.display()), e),
        })?
        .len();
    if file_size == 0 {
        return Err(MediaError::BadInput(messages::EMPTY.into()));
    }
    check_iso_bmff(path, file_size)?;
    let absolute = std::path::absolute(path)
        .map_err(|e| MediaError::io(format!("resolving {}", path.display()), e))?;
    let uri = gst::glib::filename_to_uri(&absolute, None).map_err(|e| {
        MediaError::Pipeline(format!("cannot make a URI of {}: {e}", path.display()))
    })?;
    let discoverer =
        gst_pbutils::Discoverer::new(gst::ClockTime::from_nseconds(timeout.as_nanos() as u64))
            .map_err(|e| MediaError::Pipeline(format!("discoverer: {e}")))?;
    let mut info = discoverer
        .discover_uri(&uri)
        .map_err(|e| discover_error(&e))?;
    // GStreamer 1.22's Discoverer now and then reports a timeout at once; ask again.
    if info.result() == gst_pbutils::DiscovererResult::Timeout {
        info = discoverer
            .discover_uri(&uri)
            .map_err(|e| discover_error(&e))?;
    }
    match info.result() {
        gst_pbutils::DiscovererResult::Ok => {}
        gst_pbutils::DiscovererResult::MissingPlugins => {
            return Err(MediaError::BadInput(
                "The file uses a video or audio format this server cannot read".into(),
            ));
        }
        gst_pbutils::DiscovererResult::Timeout => {
            return Err(MediaError::Pipeline(
                "reading the file's streams timed out".into(),
            ));
        }
        other => return Err(MediaError::Pipeline(format!("discoverer: {other:?}"))),
    }

    let video = info
        .video_streams()
        .into_iter()
        .find(|v| !v.is_image())
        .map(|v| {
            let caps = v.caps();
            let s = caps.as_ref().and_then(|c| c.structure(0));
            let field = |name: &str| s.and_then(|s| s.get::<String>(name).ok());
            let par = v.par();
            let fps = v.framerate();
            VideoStream {
                width: v.width(),
                height: v.height(),
                par: (par.numer(), par.denom()),
                framerate: (fps.numer(), fps.denom()),
                codec: s.map(|s| s.name().to_string()).unwrap_or_default(),
                profile: field("profile"),
                chroma_format: field("chroma-format"),
                bit_depth: s.and_then(|s| s.get::<u32>("bit-depth-luma").ok()),
                rotation: v.tags().map(|t| rotation(&t)).unwrap_or(0),
                interlaced: v.is_interlaced(),
            }
        });
    let audio = info.audio_streams().into_iter().next().map(|a| {
        let caps = a.caps();
        let s = caps.as_ref().and_then(|c| c.structure(0));
        let codec = s.map(|s| s.name().to_string()).unwrap_or_default();
        let mpegversion = s.and_then(|s| s.get::<i32>("mpegversion").ok());
        let bitrate = [a.bitrate(), a.max_bitrate()]
            .into_iter()
            .find(|b| *b > 0)
            .or_else(|| {
                a.tags()
                    .and_then(|t| t.get::<gst::tags::Bitrate>().map(|b| b.get()))
                    .filter(|b| *b > 0)
            });
        AudioStream {
            is_aac: codec == "audio/mpeg" && matches!(mpegversion, Some(2 | 4)),
            codec,
            channels: a.channels(),
            rate: a.sample_rate(),
            bitrate: bitrate.map(u64::from),
        }
    });
    Ok(MediaInfo {
        duration: info.duration().map(|d| Duration::from_nanos(d.nseconds())),
        file_size,
        video,
        audio,
    })
}

/// An MP4/MOV cut short shows in its top-level boxes: one runs past the end of the file, or
/// the index (`moov`) is missing. Checked up front because the demuxer may just wait.
fn check_iso_bmff(path: &Path, file_size: u64) -> Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let damaged = || MediaError::BadInput(messages::DAMAGED.into());
    let mut f = std::fs::File::open(path)
        .map_err(|e| MediaError::io(format!("reading {}", path.display()), e))?;
    let mut head = [0u8; 8];
    if f.read_exact(&mut head).is_err() || &head[4..8] != b"ftyp" {
        return Ok(()); // not ISO BMFF; the Discoverer judges it
    }
    let mut offset = 0u64;
    let mut moov = false;
    while offset < file_size {
        f.seek(SeekFrom::Start(offset))
            .map_err(|e| MediaError::io("seeking", e))?;
        let header = crate::mp4::read_header(&mut f, offset).map_err(|_| damaged())?;
        let Some(header) = header else { break };
        moov |= header.is(b"moov");
        match header.size {
            None => break,
            Some(size) if offset + size > file_size => return Err(damaged()),
            Some(size) => offset += size,
        }
    }
    if moov { Ok(()) } else { Err(damaged()) }
}

/// Degrees from GStreamer's image-orientation tag ("rotate-90", ...); flips are ignored.
fn rotation(tags: &gst::TagList) -> u32 {
    match tags.get::<gst::tags::ImageOrientation>() {
        Some(v) => match v.get() {
            "rotate-90" => 90,
            "rotate-180" => 180,
            "rotate-270" => 270,
            _ => 0,
        },
        None => 0,
    }
}

fn discover_error(e: &gst::glib::Error) -> MediaError {
    if let Some(kind) = e.kind::<gst::StreamError>() {
        return match kind {
            gst::StreamError::TypeNotFound | gst::StreamError::WrongType => {
                MediaError::BadInput(messages::NOT_MEDIA.into())
            }
            gst::StreamError::CodecNotFound => MediaError::BadInput(
                "The file uses a video or audio format this server cannot read".into(),
            ),
            _ => MediaError::BadInput(messages::DAMAGED.into()),
        };
    }
    if let Some(gst::ResourceError::NotFound) = e.kind::<gst::ResourceError>() {
        return MediaError::BadInput(messages::MISSING_SOURCE.into());
    }
    if e.kind::<gst::CoreError>() == Some(gst::CoreError::MissingPlugin) {
        return MediaError::BadInput(
            "The file uses a video or audio format this server cannot read".into(),
        );
    }
    MediaError::Pipeline(format!("reading the file's streams: {e}"))
}

/// Refuses what Peerbox cannot turn into a video, with a message for the uploader.
pub fn validate(info: &MediaInfo) -> Result<()> {
    let bad = |m: String| Err(MediaError::BadInput(m));
    if info.video.is_none() && info.audio.is_none() {
        return bad(messages::NO_STREAMS.into());
    }
    if info.duration.is_some_and(|d| d.is_zero()) {
        return bad(messages::EMPTY.into());
    }
    if let Some(v) = &info.video {
        let ok = |side: u32| (MIN_SIDE..=MAX_SIDE).contains(&side);
        if !ok(v.width) || !ok(v.height) {
            return bad(format!(
                "Resolution {}x{} is not supported: width and height must be between {MIN_SIDE} and {MAX_SIDE} pixels",
                v.width, v.height
            ));
        }
        if v.fps().is_some_and(|f| f < 0.1) {
            return bad(format!(
                "Frame rate {}/{} is too low (less than one frame in 10 seconds)",
                v.framerate.0, v.framerate.1
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn video(w: u32, h: u32) -> VideoStream {
        VideoStream {
            width: w,
            height: h,
            par: (1, 1),
            framerate: (30, 1),
            codec: "video/x-h264".into(),
            profile: Some("high".into()),
            chroma_format: Some("4:2:0".into()),
            bit_depth: Some(8),
            rotation: 0,
            interlaced: false,
        }
    }

    fn info(video: Option<VideoStream>, secs: u64) -> MediaInfo {
        MediaInfo {
            duration: Some(Duration::from_secs(secs)),
            file_size: 1000,
            video,
            audio: None,
        }
    }

    fn message(r: Result<()>) -> String {
        match r {
            Err(MediaError::BadInput(m)) => m,
            other => panic!("expected a bad-input error, got {other:?}"),
        }
    }

    #[test]
    fn refuses_what_cannot_become_a_video() {
        assert_eq!(message(validate(&info(None, 10))), messages::NO_STREAMS);
        assert_eq!(
            message(validate(&info(Some(video(640, 360)), 0))),
            messages::EMPTY
        );
        assert!(
            message(validate(&info(Some(video(100_000, 2)), 10)))
                .starts_with("Resolution 100000x2 is not supported")
        );
        assert!(message(validate(&info(Some(video(8, 8)), 10))).starts_with("Resolution 8x8"));
        let mut slow = video(640, 360);
        slow.framerate = (1, 100);
        assert!(message(validate(&info(Some(slow), 10))).starts_with("Frame rate 1/100"));
        assert!(validate(&info(Some(video(1920, 1080)), 10)).is_ok());
    }

    #[test]
    fn display_size_applies_aspect_and_rotation() {
        let mut v = video(720, 576);
        v.par = (16, 15);
        assert_eq!(v.display_size(), (768, 576));
        let mut v = video(1920, 1080);
        v.rotation = 90;
        assert_eq!(v.display_size(), (1080, 1920));
        assert_eq!(video(640, 360).fps(), Some(30.0));
    }
}
