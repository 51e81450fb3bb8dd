//! The H.264 encoders Peerbox knows, and the element settings each needs for one rendition.
//! Everything here is pure: no GStreamer calls, so it is tested without the hardware.

use std::fmt;

use crate::board::EncoderOverrides;

pub const H264_PROFILES: &[&str] = &["constrained-baseline", "baseline", "main", "high"];
pub const H264_LEVELS: &[&str] = &[
    "1", "1b", "1.1", "1.2", "1.3", "2", "2.1", "2.2", "3", "3.1", "3.2", "4", "4.1", "4.2", "5",
    "5.1", "5.2",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncoderKind {
    Hardware,
    Software,
}

impl fmt::Display for EncoderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EncoderKind::Hardware => "hardware",
            EncoderKind::Software => "software",
        })
    }
}

/// One encoder element and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncoderSpec {
    pub element: &'static str,
    pub kind: EncoderKind,
    pub platform: &'static str,
    /// Intrinsic size limit of the element, before any board override.
    pub max_width: u32,
    pub max_height: u32,
}

/// Every encoder Peerbox can drive, in the order tried when a board expresses no preference:
/// hardware first, then x264 (better quality per bit), then openh264.
pub const KNOWN_ENCODERS: &[EncoderSpec] = &[
    hw(
        "v4l2h264enc",
        "V4L2 M2M (Raspberry Pi 4, other SoCs)",
        4096,
        4096,
    ),
    hw("mpph264enc", "Rockchip MPP (RK3588, RK3566/68)", 8192, 8192),
    hw("nvv4l2h264enc", "NVIDIA Jetson (L4T)", 4096, 4096),
    hw("vah264enc", "VA-API (Intel, AMD)", 4096, 4096),
    hw("vah264lpenc", "VA-API low-power (Intel)", 4096, 4096),
    hw(
        "vaapih264enc",
        "VA-API, gstreamer-vaapi (Intel, AMD)",
        4096,
        4096,
    ),
    EncoderSpec {
        element: "x264enc",
        kind: EncoderKind::Software,
        platform: "x264, any CPU",
        max_width: 16384,
        max_height: 16384,
    },
    EncoderSpec {
        element: "openh264enc",
        kind: EncoderKind::Software,
        platform: "OpenH264, any CPU",
        max_width: 3840,
        max_height: 2160,
    },
];

const fn hw(element: &'static str, platform: &'static str, w: u32, h: u32) -> EncoderSpec {
    EncoderSpec {
        element,
        kind: EncoderKind::Hardware,
        platform,
        max_width: w,
        max_height: h,
    }
}

pub fn spec(element: &str) -> Option<&'static EncoderSpec> {
    KNOWN_ENCODERS.iter().find(|s| s.element == element)
}

pub(crate) fn known_names() -> String {
    KNOWN_ENCODERS
        .iter()
        .map(|s| s.element)
        .collect::<Vec<_>>()
        .join(", ")
}

/// What one rendition asks of an encoder.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EncodeTarget {
    pub width: u32,
    pub height: u32,
    /// Frames a second (may be fractional, e.g. 30000/1001).
    pub fps: f64,
    /// PeerTube's target bitrate in bits a second (used as the VBV max rate with x264).
    pub bitrate: u64,
    /// Frames between keyframes (PeerTube: 2 s worth).
    pub keyframe_interval: u32,
}

/// An encoder element with every property and caps it needs for one rendition: what the
/// pipeline builds, and what `peerbox hwaccel` prints.
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderSettings {
    pub element: String,
    /// Element properties, set with GStreamer's string parsing (enums by nick).
    pub properties: Vec<(String, String)>,
    /// Raw caps the encoder is fed (after conversion and scaling).
    pub input_format: String,
    /// Element that converts raw video into what the encoder takes.
    pub converter: String,
    /// Caps required after the encoder (profile, level).
    pub output_caps: String,
}

impl fmt::Display for EncoderSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.element)?;
        for (k, v) in &self.properties {
            if v.contains([' ', ',']) {
                write!(f, " {k}=\"{v}\"")?;
            } else {
                write!(f, " {k}={v}")?;
            }
        }
        write!(f, " ! {}", self.output_caps)
    }
}

/// Why an encoder cannot take a rendition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsuitable(pub String);

/// Checks the encoder's and the board's limits for a rendition.
pub fn accepts(
    spec: &EncoderSpec,
    overrides: &EncoderOverrides,
    target: &EncodeTarget,
) -> Result<(), Unsuitable> {
    let max_w = overrides.max_width.unwrap_or(spec.max_width);
    let max_h = overrides.max_height.unwrap_or(spec.max_height);
    // Limits are for landscape frames; a portrait frame fits if its transpose does.
    let fits = |w: u32, h: u32| w <= max_w && h <= max_h;
    if !fits(target.width, target.height) && !fits(target.height, target.width) {
        return Err(Unsuitable(format!(
            "{}x{} is above {}'s {}x{} limit",
            target.width, target.height, spec.element, max_w, max_h
        )));
    }
    if let Some(limit) = overrides.max_macroblocks_per_second {
        let mbs = u64::from(target.width.div_ceil(16)) * u64::from(target.height.div_ceil(16));
        let rate = (mbs as f64 * target.fps).ceil() as u64;
        if rate > limit {
            return Err(Unsuitable(format!(
                "{}x{} at {:.2} fps needs {rate} macroblocks/s, above {}'s {limit}",
                target.width, target.height, target.fps, spec.element
            )));
        }
    }
    Ok(())
}

/// The element settings for one rendition on one encoder.
pub fn settings(
    spec: &EncoderSpec,
    overrides: &EncoderOverrides,
    target: &EncodeTarget,
) -> EncoderSettings {
    let kbps = target.bitrate.div_ceil(1000).max(1);
    let bps = target.bitrate.max(1000);
    let gop = target.keyframe_interval.max(1);
    let p = |k: &str, v: String| (k.to_string(), v);
    let mut input_format = "I420";
    let mut converter = "videoconvert";
    let mut default_profile = Some("high");
    let properties = match spec.element {
        // PeerTube's libx264 settings: veryfast, CRF 23 capped by a VBV max rate of the target
        // bitrate with a buffer of twice that, adaptive B-frames (up to 16), 2 s GOP.
        "x264enc" => vec![
            p("speed-preset", "veryfast".into()),
            p("pass", "qual".into()),
            p("quantizer", "23".into()),
            p("bitrate", kbps.to_string()),
            p("vbv-buf-capacity", "2000".into()),
            p("bframes", "16".into()),
            p("b-adapt", "true".into()),
            p("key-int-max", gop.to_string()),
        ],
        "openh264enc" => {
            default_profile = None;
            vec![
                p("rate-control", "bitrate".into()),
                p("bitrate", bps.min(u64::from(u32::MAX)).to_string()),
                p("gop-size", gop.to_string()),
                p("complexity", "low".into()),
            ]
        }
        // bcm2835-codec takes its settings as V4L2 controls; VBR at the target bitrate.
        "v4l2h264enc" => vec![p(
            "extra-controls",
            format!(
                "controls,video_bitrate_mode=0,video_bitrate={},h264_i_frame_period={gop},repeat_sequence_header=1",
                bps.min(25_000_000)
            ),
        )],
        "mpph264enc" => {
            input_format = "NV12";
            vec![
                p("rc-mode", "vbr".into()),
                p("bps", bps.to_string()),
                p("bps-max", (bps * 2).to_string()),
                p("gop", gop.to_string()),
            ]
        }
        "nvv4l2h264enc" => {
            input_format = "NV12";
            converter = "nvvidconv";
            vec![
                p("control-rate", "0".into()),
                p("bitrate", bps.to_string()),
                p("peak-bitrate", (bps * 2).to_string()),
                p("iframeinterval", gop.to_string()),
                p("idrinterval", gop.to_string()),
                p("insert-sps-pps", "true".into()),
            ]
        }
        "vah264enc" | "vah264lpenc" => {
            input_format = "NV12";
            vec![
                p("rate-control", "vbr".into()),
                p("bitrate", kbps.to_string()),
                p("key-int-max", gop.to_string()),
            ]
        }
        "vaapih264enc" => {
            input_format = "NV12";
            vec![
                p("rate-control", "vbr".into()),
                p("bitrate", kbps.to_string()),
                p("keyframe-period", gop.to_string()),
            ]
        }
        _ => Vec::new(),
    };
    let mut output_caps = String::from("video/x-h264");
    if let Some(profile) = overrides.profile.as_deref().or(default_profile) {
        output_caps.push_str(&format!(",profile=(string){profile}"));
    }
    if let Some(level) = &overrides.level {
        output_caps.push_str(&format!(",level=(string){level}"));
    }
    let input_format = if converter == "nvvidconv" {
        format!("video/x-raw(memory:NVMM),format={input_format}")
    } else {
        format!("video/x-raw,format={input_format}")
    };
    EncoderSettings {
        element: spec.element.to_string(),
        properties,
        input_format,
        converter: converter.to_string(),
        output_caps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(w: u32, h: u32, fps: f64) -> EncodeTarget {
        EncodeTarget {
            width: w,
            height: h,
            fps,
            bitrate: 2_500_000,
            keyframe_interval: (fps * 2.0).round() as u32,
        }
    }

    fn prop<'a>(s: &'a EncoderSettings, k: &str) -> Option<&'a str> {
        s.properties
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn x264_gets_peertube_rate_control_and_two_second_gop() {
        let spec = spec("x264enc").expect("known");
        let s = settings(spec, &EncoderOverrides::default(), &target(1280, 720, 30.0));
        assert_eq!(prop(&s, "speed-preset"), Some("veryfast"));
        assert_eq!(prop(&s, "bitrate"), Some("2500"));
        assert_eq!(prop(&s, "vbv-buf-capacity"), Some("2000"));
        assert_eq!(prop(&s, "key-int-max"), Some("60"));
        assert_eq!(s.output_caps, "video/x-h264,profile=(string)high");
    }

    #[test]
    fn pi4_encoder_gets_level_4_and_v4l2_controls() {
        let spec = spec("v4l2h264enc").expect("known");
        let pi4 = EncoderOverrides {
            profile: Some("high".into()),
            level: Some("4".into()),
            max_width: Some(1920),
            max_height: Some(1088),
            max_macroblocks_per_second: Some(245_760),
        };
        let s = settings(spec, &pi4, &target(1280, 720, 30.0));
        assert_eq!(
            s.output_caps,
            "video/x-h264,profile=(string)high,level=(string)4"
        );
        let controls = prop(&s, "extra-controls").expect("controls");
        assert!(controls.contains("video_bitrate=2500000"), "{controls}");
        assert!(controls.contains("h264_i_frame_period=60"), "{controls}");
        assert!(s.to_string().contains("extra-controls=\"controls,"));
        // 1080p30 fits level 4; 1080p60 and 1440p do not.
        assert!(accepts(spec, &pi4, &target(1920, 1080, 30.0)).is_ok());
        assert!(accepts(spec, &pi4, &target(1920, 1080, 60.0)).is_err());
        assert!(accepts(spec, &pi4, &target(2560, 1440, 30.0)).is_err());
        // Portrait 1080x1920 is the transpose of a size that fits.
        assert!(accepts(spec, &pi4, &target(1080, 1920, 25.0)).is_ok());
    }

    #[test]
    fn every_known_encoder_has_rate_and_keyframe_settings() {
        for spec in KNOWN_ENCODERS {
            let s = settings(spec, &EncoderOverrides::default(), &target(854, 480, 25.0));
            assert!(!s.properties.is_empty(), "{}", spec.element);
            let text = s.to_string();
            assert!(text.contains("50"), "GOP of 50 frames in {text}");
            assert!(s.input_format.starts_with("video/x-raw"));
        }
    }
}
