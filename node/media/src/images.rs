//! Thumbnail (280x157) and preview (850x480) JPEGs from a representative frame: frames
//! sampled across the video, the one whose colour histogram is closest to their average
//! (as ffmpeg's `thumbnail` filter, which PeerTube uses, chooses), skipping flat frames such
//! as black fades when another exists.

use std::path::Path;
use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use crate::error::{MediaError, Result};

pub const THUMBNAIL_SIZE: (u32, u32) = (280, 157);
pub const PREVIEW_SIZE: (u32, u32) = (850, 480);
/// Frames sampled, evenly spread over the duration.
pub const SAMPLES: u32 = 10;

/// One sampled frame: packed RGB, big enough to cover the preview, display aspect kept.
#[derive(Debug, Clone)]
pub struct Frame {
    pub position: Duration,
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

/// The size frames are sampled at for a picture displayed at `display`: the smallest that
/// covers the preview with the same aspect ratio (limited for extreme ratios).
pub fn capture_size(display: (u32, u32)) -> (u32, u32) {
    let (pw, ph) = PREVIEW_SIZE;
    let (w, h) = (f64::from(display.0.max(1)), f64::from(display.1.max(1)));
    let even = |v: f64| ((v / 2.0).round() as u32 * 2).max(2);
    if w * f64::from(ph) >= h * f64::from(pw) {
        (even(f64::from(ph) * w / h).clamp(pw, 4 * pw), ph)
    } else {
        (pw, even(f64::from(pw) * h / w).clamp(ph, 4 * ph))
    }
}

/// Stream times at which frames are kept for a video of `duration`.
pub fn sample_times(duration: Option<Duration>) -> Vec<Duration> {
    match duration {
        Some(d) if !d.is_zero() => (0..SAMPLES)
            .map(|i| d.mul_f64((f64::from(i) + 0.5) / f64::from(SAMPLES)))
            .collect(),
        // Unknown length: the first frame, then one a second.
        _ => (0..SAMPLES)
            .map(|i| Duration::from_secs(u64::from(i)))
            .collect(),
    }
}

fn histogram(rgb: &[u8]) -> Vec<f64> {
    let mut h = vec![0f64; 3 * 256];
    let mut n = 0f64;
    // Every 4th pixel is plenty for a histogram.
    for px in rgb.chunks_exact(3).step_by(4) {
        h[usize::from(px[0])] += 1.0;
        h[256 + usize::from(px[1])] += 1.0;
        h[512 + usize::from(px[2])] += 1.0;
        n += 1.0;
    }
    if n > 0.0 {
        h.iter_mut().for_each(|v| *v /= n);
    }
    h
}

/// Standard deviation of luma: near zero for black or single-colour frames.
fn luma_spread(rgb: &[u8]) -> f64 {
    let lumas: Vec<f64> = rgb
        .chunks_exact(3)
        .step_by(4)
        .map(|p| 0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2]))
        .collect();
    if lumas.is_empty() {
        return 0.0;
    }
    let mean = lumas.iter().sum::<f64>() / lumas.len() as f64;
    (lumas.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / lumas.len() as f64).sqrt()
}

/// Index of the most representative frame.
pub fn pick(frames: &[Frame]) -> Option<usize> {
    if frames.is_empty() {
        return None;
    }
    let lively: Vec<usize> = (0..frames.len())
        .filter(|i| luma_spread(&frames[*i].rgb) > 8.0)
        .collect();
    let pool: Vec<usize> = if lively.is_empty() {
        (0..frames.len()).collect()
    } else {
        lively
    };
    let hists: Vec<Vec<f64>> = pool.iter().map(|i| histogram(&frames[*i].rgb)).collect();
    let mut mean = vec![0f64; 3 * 256];
    for h in &hists {
        mean.iter_mut()
            .zip(h)
            .for_each(|(m, v)| *m += v / hists.len() as f64);
    }
    let error = |h: &Vec<f64>| {
        h.iter()
            .zip(&mean)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
    };
    pool.iter()
        .zip(&hists)
        .min_by(|a, b| error(a.1).total_cmp(&error(b.1)))
        .map(|(i, _)| *i)
}

/// Writes the preview and thumbnail JPEGs of `frame` (fsynced).
pub fn write_images(frame: &Frame, thumbnail: &Path, preview: &Path) -> Result<()> {
    encode_jpeg(frame, PREVIEW_SIZE, preview)?;
    encode_jpeg(frame, THUMBNAIL_SIZE, thumbnail)
}

/// The centred part of `frame` with the aspect ratio of `w` x `h` (PeerTube fills its
/// thumbnails: the picture is cropped, not letterboxed).
fn crop_to(frame: &Frame, (w, h): (u32, u32)) -> (u32, u32, Vec<u8>) {
    let (fw, fh) = (u64::from(frame.width), u64::from(frame.height));
    let (cw, ch) = if fw * u64::from(h) > fh * u64::from(w) {
        ((fh * u64::from(w) / u64::from(h)).max(1), fh)
    } else {
        (fw, (fw * u64::from(h) / u64::from(w)).max(1))
    };
    let (x0, y0) = ((fw - cw) / 2, (fh - ch) / 2);
    let mut out = Vec::with_capacity((cw * ch * 3) as usize);
    for y in y0..y0 + ch {
        let start = ((y * fw + x0) * 3) as usize;
        out.extend_from_slice(&frame.rgb[start..start + (cw * 3) as usize]);
    }
    (cw as u32, ch as u32, out)
}

fn encode_jpeg(frame: &Frame, (w, h): (u32, u32), out: &Path) -> Result<()> {
    let perr = |e: &dyn std::fmt::Display| MediaError::Pipeline(format!("JPEG encoding: {e}"));
    if frame.rgb.len() != (frame.width * frame.height * 3) as usize {
        return Err(MediaError::Pipeline(
            "sampled frame of the wrong size".into(),
        ));
    }
    let (cw, ch, rgb) = crop_to(frame, (w, h));
    // Rows of packed RGB in GStreamer buffers are padded to 4 bytes.
    let stride = (cw as usize * 3).div_ceil(4) * 4;
    let mut padded = vec![0u8; stride * ch as usize];
    for (dst, src) in padded.chunks_mut(stride).zip(rgb.chunks(cw as usize * 3)) {
        dst[..src.len()].copy_from_slice(src);
    }
    let caps = gst::Caps::builder("video/x-raw")
        .field("format", "RGB")
        .field("width", cw as i32)
        .field("height", ch as i32)
        .field("framerate", gst::Fraction::new(0, 1))
        .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
        .build();
    let src = gst_app::AppSrc::builder()
        .caps(&caps)
        .format(gst::Format::Time)
        .build();
    let out_caps = gst::Caps::builder("video/x-raw")
        .field("width", w as i32)
        .field("height", h as i32)
        .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
        .build();
    let make = |name: &str| {
        gst::ElementFactory::make(name)
            .build()
            .map_err(|e| perr(&e))
    };
    let scale = make("videoscale")?;
    let convert = make("videoconvert")?;
    let filter = gst::ElementFactory::make("capsfilter")
        .property("caps", &out_caps)
        .build()
        .map_err(|e| perr(&e))?;
    let jpeg = gst::ElementFactory::make("jpegenc")
        .property("quality", 90i32)
        .build()
        .map_err(|e| perr(&e))?;
    let sink = gst_app::AppSink::builder().sync(false).build();
    let pipeline = gst::Pipeline::new();
    let elements: [&gst::Element; 6] = [
        src.upcast_ref(),
        &scale,
        &convert,
        &filter,
        &jpeg,
        sink.upcast_ref(),
    ];
    pipeline.add_many(elements).map_err(|e| perr(&e))?;
    gst::Element::link_many(elements).map_err(|e| perr(&e))?;

    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| perr(&e))?;
    let mut buffer = gst::Buffer::from_slice(padded);
    if let Some(b) = buffer.get_mut() {
        b.set_pts(gst::ClockTime::ZERO);
    }
    let pushed = src.push_buffer(buffer).and_then(|_| src.end_of_stream());
    let sample = sink.try_pull_sample(gst::ClockTime::from_seconds(30));
    let _ = pipeline.set_state(gst::State::Null);
    pushed.map_err(|e| perr(&e))?;
    let sample =
        sample.ok_or_else(|| MediaError::Pipeline("JPEG encoding produced nothing".into()))?;
    let map = sample
        .buffer()
        .and_then(|b| b.map_readable().ok())
        .ok_or_else(|| MediaError::Pipeline("JPEG encoding produced no data".into()))?;
    crate::fsutil::write_synced(out, map.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(f: impl Fn(usize) -> [u8; 3]) -> Frame {
        let (w, h) = (960, 540);
        let rgb = (0..(w * h) as usize).flat_map(&f).collect();
        Frame {
            position: Duration::ZERO,
            width: w,
            height: h,
            rgb,
        }
    }

    #[test]
    fn capture_covers_the_preview_keeping_aspect() {
        assert_eq!(capture_size((1920, 1080)), (854, 480));
        assert_eq!(capture_size((640, 480)), (850, 638));
        assert_eq!(capture_size((1080, 1920)), (850, 1512));
        assert_eq!(capture_size((8192, 16)), (3400, 480));
    }

    #[test]
    fn black_frames_lose_to_pictures() {
        let black = frame(|_| [0, 0, 0]);
        let stripes = |shift: usize| {
            frame(move |i| {
                if (i / 10 + shift).is_multiple_of(2) {
                    [200, 30, 30]
                } else {
                    [20, 20, 220]
                }
            })
        };
        let frames = vec![black.clone(), stripes(0), stripes(1), black];
        let chosen = pick(&frames).expect("a frame");
        assert!(chosen == 1 || chosen == 2, "picked {chosen}");
        assert_eq!(pick(&[]), None);
    }

    #[test]
    fn samples_spread_over_the_video() {
        let t = sample_times(Some(Duration::from_secs(100)));
        assert_eq!(t.len(), SAMPLES as usize);
        assert_eq!(t[0], Duration::from_secs(5));
        assert_eq!(t[9], Duration::from_secs(95));
    }

    #[test]
    fn writes_jpegs_of_peertube_sizes() {
        crate::init().expect("gst");
        let dir = tempfile::tempdir().expect("tmp");
        let f = frame(|i| [(i % 255) as u8, 100, 50]);
        let (thumb, preview) = (dir.path().join("t.jpg"), dir.path().join("p.jpg"));
        write_images(&f, &thumb, &preview).expect("jpegs");
        for (path, (w, h)) in [(thumb, THUMBNAIL_SIZE), (preview, PREVIEW_SIZE)] {
            let bytes = std::fs::read(&path).expect("read");
            assert_eq!(&bytes[..2], &[0xff, 0xd8], "JPEG magic");
            assert_eq!(jpeg_size(&bytes), Some((w, h)));
        }
    }

    /// Width and height from a JPEG's SOF0 marker.
    fn jpeg_size(b: &[u8]) -> Option<(u32, u32)> {
        let mut i = 2;
        while i + 9 < b.len() {
            if b[i] != 0xff {
                return None;
            }
            let marker = b[i + 1];
            let len = usize::from(u16::from_be_bytes([b[i + 2], b[i + 3]]));
            if (0xc0..=0xc2).contains(&marker) {
                let h = u32::from(u16::from_be_bytes([b[i + 5], b[i + 6]]));
                let w = u32::from(u16::from_be_bytes([b[i + 7], b[i + 8]]));
                return Some((w, h));
            }
            i += 2 + len;
        }
        None
    }
}
