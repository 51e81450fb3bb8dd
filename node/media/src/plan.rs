//! What to produce from a probed file: the renditions (PeerTube's ladder, never above the
//! source), each one's size, frame rate, bitrate and encoder, whether the top one can be a
//! stream copy (PeerTube's quick transcode), and what to do with the audio.

use peerbox_hwaccel::{BoardConfig, Discovery, EncodeTarget, EncoderSettings, ladder};

use crate::error::{MediaError, Result};
use crate::probe::{AudioStream, MediaInfo};

/// PeerTube's ceiling for AAC audio (kbit/s); AAC at or below it is copied.
const MAX_AUDIO_KBPS: u64 = 384;

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Highest resolution first.
    pub renditions: Vec<Rendition>,
    pub audio: AudioPlan,
    /// Raw-frame rotation to apply after decoding (degrees clockwise).
    pub rotation: u32,
    /// Source picture size as displayed (rotation and pixel aspect applied); 0x0 for audio.
    pub display_size: (u32, u32),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rendition {
    /// PeerTube's resolution: the short side, or 0 for audio only.
    pub resolution: u32,
    pub width: u32,
    pub height: u32,
    /// Integer frame rate PeerTube reports (0 for audio only).
    pub fps: u32,
    pub video: VideoPlan,
}

#[derive(Debug, Clone, PartialEq)]
pub enum VideoPlan {
    /// No video: an audio-only rendition.
    None,
    /// The source's H.264 stream, remuxed as it is.
    Copy,
    Encode {
        settings: EncoderSettings,
        /// Output frame rate when it must change (frame dropping/duplication), as a fraction.
        framerate: Option<(i32, i32)>,
        bitrate: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AudioPlan {
    None,
    Copy,
    /// AAC-LC stereo at this many bits a second.
    Encode {
        bitrate: u32,
    },
}

impl Plan {
    pub fn has_video(&self) -> bool {
        self.renditions
            .iter()
            .any(|r| !matches!(r.video, VideoPlan::None))
    }

    pub fn needs_decoding(&self) -> bool {
        self.has_video()
    }

    pub fn copies_video(&self) -> bool {
        self.renditions.iter().any(|r| r.video == VideoPlan::Copy)
    }
}

/// Works out the renditions for a validated file.
pub fn plan(info: &MediaInfo, board: &BoardConfig, encoders: &Discovery) -> Result<Plan> {
    let audio = info.audio.as_ref();
    let Some(video) = &info.video else {
        // Audio only: one audio rendition, as PeerTube's 0p.
        return Ok(Plan {
            renditions: vec![Rendition {
                resolution: 0,
                width: 0,
                height: 0,
                fps: 0,
                video: VideoPlan::None,
            }],
            audio: audio_plan(audio),
            rotation: 0,
            display_size: (0, 0),
        });
    };
    let t = &board.transcoding;
    let (dw, dh) = video.display_size();
    let input_res = dw.min(dh);
    let ratio = ladder::aspect_ratio(dw, dh);
    let source_fps = video.fps();
    // Variable-rate sources are made constant at PeerTube's average rate.
    let nominal_fps = source_fps.unwrap_or(30.0);
    let input_bitrate = info.bitrate();

    let audio_plan = audio_plan(audio);
    let mut renditions = Vec::new();
    for (i, res) in ladder::renditions(input_res, &t.ladder, t.keep_original_resolution)
        .into_iter()
        .enumerate()
    {
        let fps = ladder::output_fps(nominal_fps, res, t.max_fps).ok_or_else(|| {
            MediaError::BadInput(format!("Frame rate {nominal_fps:.3} is too low"))
        })?;
        let (width, height) = ladder::dimensions(dw, dh, res);
        let is_top = i == 0;
        let copy = is_top
            && (width, height) == (video.width, video.height)
            && can_copy_video(info, fps, t.max_fps)
            && (audio.is_none() || audio_plan == AudioPlan::Copy);
        let plan = if copy {
            VideoPlan::Copy
        } else {
            // Keep the source's exact rate when it rounds to the target (29.97 stays 29.97);
            // otherwise convert.
            let keep = source_fps.is_some_and(|f| (f - f64::from(fps)).abs() < 0.5);
            let actual = if keep { nominal_fps } else { f64::from(fps) };
            let bitrate = ladder::target_bitrate(input_bitrate, res, ratio, actual);
            let target = EncodeTarget {
                width,
                height,
                fps: actual,
                bitrate,
                keyframe_interval: (actual * 2.0).round().max(1.0) as u32,
            };
            VideoPlan::Encode {
                settings: encoders.choose(&target)?,
                framerate: (!keep).then_some((fps as i32, 1)),
                bitrate,
            }
        };
        renditions.push(Rendition {
            resolution: res,
            width,
            height,
            fps,
            video: plan,
        });
    }
    Ok(Plan {
        renditions,
        audio: if audio.is_some() {
            audio_plan
        } else {
            AudioPlan::None
        },
        rotation: video.rotation,
        display_size: (dw, dh),
    })
}

/// PeerTube's `canDoQuickVideoTranscode`: 8-bit 4:2:0 H.264 at a sane rate and bitrate,
/// plus square pixels and no rotation so that the copy looks like the source.
fn can_copy_video(info: &MediaInfo, target_fps: u32, max_fps: u32) -> bool {
    let Some(v) = &info.video else {
        return false;
    };
    let Some(fps) = v.fps() else {
        return false;
    };
    let Some(bitrate) = info.bitrate() else {
        return false;
    };
    let (dw, dh) = v.display_size();
    let res = dw.min(dh);
    let four_two_zero = v.chroma_format.as_deref().is_none_or(|c| c == "4:2:0");
    let eight_bit = v.bit_depth.is_none_or(|d| d == 8);
    let profile_ok = v.profile.as_deref().is_none_or(|p| {
        matches!(
            p,
            "constrained-baseline" | "baseline" | "main" | "high" | "extended"
        )
    });
    v.codec == "video/x-h264"
        && four_two_zero
        && eight_bit
        && profile_ok
        && !v.interlaced
        && v.rotation == 0
        && v.par.0 == v.par.1
        && (2.0..=f64::from(max_fps)).contains(&fps)
        && (fps - f64::from(target_fps)).abs() < 0.5
        && bitrate <= ladder::max_bitrate(res, ladder::aspect_ratio(dw, dh), fps.round())
}

/// PeerTube's audio rules: AAC up to 384 kbit/s with a known bitrate and at most two
/// channels is copied; everything else becomes AAC at the source's bitrate capped to
/// 384 kbit/s (256 kbit/s when unknown).
pub fn audio_plan(audio: Option<&AudioStream>) -> AudioPlan {
    let Some(a) = audio else {
        return AudioPlan::None;
    };
    let kbps = a.bitrate.map(|b| (b + 500) / 1000);
    if a.is_aac && (1..=2).contains(&a.channels) && kbps.is_some_and(|k| k <= MAX_AUDIO_KBPS) {
        return AudioPlan::Copy;
    }
    let kbps = match kbps {
        None | Some(0) => 256,
        // AAC PeerTube would copy but we cannot (more channels): ffmpeg's default rate.
        Some(k) if a.is_aac && k <= MAX_AUDIO_KBPS => 128,
        Some(k) => k.clamp(32, MAX_AUDIO_KBPS),
    };
    AudioPlan::Encode {
        bitrate: (kbps * 1000) as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::VideoStream;
    use peerbox_hwaccel::{EncoderSettings, Status};
    use std::time::Duration;

    fn board() -> BoardConfig {
        BoardConfig::load("x86-64").expect("board")
    }

    /// Only x264 "works": the ranking needs no GStreamer for planning tests.
    fn x264_only(board: &BoardConfig) -> Discovery {
        peerbox_hwaccel::discover_with(board, |spec, _| {
            if spec.element == "x264enc" {
                Status::Works {
                    test_encode: Duration::from_millis(1),
                }
            } else {
                Status::Absent
            }
        })
    }

    fn h264(w: u32, h: u32, fps: i32) -> VideoStream {
        VideoStream {
            width: w,
            height: h,
            par: (1, 1),
            framerate: (fps, 1),
            codec: "video/x-h264".into(),
            profile: Some("high".into()),
            chroma_format: Some("4:2:0".into()),
            bit_depth: Some(8),
            rotation: 0,
            interlaced: false,
        }
    }

    fn aac(kbps: u64) -> AudioStream {
        AudioStream {
            codec: "audio/mpeg".into(),
            is_aac: true,
            channels: 2,
            rate: 48000,
            bitrate: Some(kbps * 1000),
        }
    }

    fn info(video: Option<VideoStream>, audio: Option<AudioStream>, mbps: f64) -> MediaInfo {
        MediaInfo {
            duration: Some(Duration::from_secs(10)),
            file_size: (mbps * 1e6 / 8.0 * 10.0) as u64,
            video,
            audio,
        }
    }

    fn encoder(r: &Rendition) -> &EncoderSettings {
        match &r.video {
            VideoPlan::Encode { settings, .. } => settings,
            other => panic!("{}p is not encoded: {other:?}", r.resolution),
        }
    }

    #[test]
    fn h264_aac_within_limits_is_copied_at_its_own_resolution() {
        let b = board();
        let p = plan(
            &info(Some(h264(1280, 720, 30)), Some(aac(128)), 2.0),
            &b,
            &x264_only(&b),
        )
        .expect("plan");
        let res: Vec<u32> = p.renditions.iter().map(|r| r.resolution).collect();
        assert_eq!(res, vec![720, 480, 360, 240, 144]);
        assert_eq!(p.renditions[0].video, VideoPlan::Copy);
        assert_eq!(p.audio, AudioPlan::Copy);
        assert_eq!(encoder(&p.renditions[1]).element, "x264enc");
        assert_eq!((p.renditions[1].width, p.renditions[1].height), (854, 480));
    }

    #[test]
    fn no_copy_above_peertubes_max_bitrate_or_for_other_codecs() {
        let b = board();
        let d = x264_only(&b);
        // 720p30 max theoretical bitrate is about 5.25 Mbit/s.
        let p = plan(
            &info(Some(h264(1280, 720, 30)), Some(aac(128)), 8.0),
            &b,
            &d,
        )
        .expect("plan");
        assert!(matches!(p.renditions[0].video, VideoPlan::Encode { .. }));
        let mut vp9 = h264(1280, 720, 30);
        vp9.codec = "video/x-vp9".into();
        let p = plan(&info(Some(vp9), None, 1.0), &b, &d).expect("plan");
        assert!(matches!(p.renditions[0].video, VideoPlan::Encode { .. }));
        let mut ten_bit = h264(1280, 720, 30);
        ten_bit.bit_depth = Some(10);
        let p = plan(&info(Some(ten_bit), None, 1.0), &b, &d).expect("plan");
        assert!(matches!(p.renditions[0].video, VideoPlan::Encode { .. }));
        // Audio that must be re-encoded rules out the quick path too.
        let mp3 = AudioStream {
            codec: "audio/mpeg".into(),
            is_aac: false,
            channels: 2,
            rate: 44100,
            bitrate: Some(192_000),
        };
        let p = plan(&info(Some(h264(1280, 720, 30)), Some(mp3), 2.0), &b, &d).expect("plan");
        assert!(matches!(p.renditions[0].video, VideoPlan::Encode { .. }));
        assert_eq!(p.audio, AudioPlan::Encode { bitrate: 192_000 });
    }

    #[test]
    fn sixty_fps_keeps_sixty_only_from_720p_up() {
        let b = board();
        let p = plan(
            &info(Some(h264(1920, 1080, 60)), None, 100.0),
            &b,
            &x264_only(&b),
        )
        .expect("plan");
        let fps: Vec<(u32, u32)> = p.renditions.iter().map(|r| (r.resolution, r.fps)).collect();
        assert_eq!(fps[..3], [(1080, 60), (720, 60), (480, 30)]);
        match &p.renditions[2].video {
            VideoPlan::Encode {
                framerate,
                settings,
                ..
            } => {
                assert_eq!(*framerate, Some((30, 1)));
                assert!(settings.to_string().contains("key-int-max=60"));
            }
            other => panic!("{other:?}"),
        }
        match &p.renditions[0].video {
            VideoPlan::Encode { settings, .. } => {
                assert!(settings.to_string().contains("key-int-max=120"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn audio_only_is_one_audio_rendition() {
        let b = board();
        let p = plan(&info(None, Some(aac(128)), 0.2), &b, &x264_only(&b)).expect("plan");
        assert_eq!(p.renditions.len(), 1);
        assert_eq!(p.renditions[0].resolution, 0);
        assert_eq!(p.renditions[0].video, VideoPlan::None);
        assert_eq!(p.audio, AudioPlan::Copy);
    }

    #[test]
    fn audio_follows_peertube_bitrate_rules() {
        let opus = |kbps: Option<u64>| AudioStream {
            codec: "audio/x-opus".into(),
            is_aac: false,
            channels: 2,
            rate: 48000,
            bitrate: kbps.map(|k| k * 1000),
        };
        assert_eq!(
            audio_plan(Some(&opus(Some(96)))),
            AudioPlan::Encode { bitrate: 96_000 }
        );
        assert_eq!(
            audio_plan(Some(&opus(Some(900)))),
            AudioPlan::Encode { bitrate: 384_000 }
        );
        assert_eq!(
            audio_plan(Some(&opus(None))),
            AudioPlan::Encode { bitrate: 256_000 }
        );
        assert_eq!(
            audio_plan(Some(&aac(500))),
            AudioPlan::Encode { bitrate: 384_000 }
        );
        let mut surround = aac(256);
        surround.channels = 6;
        assert_eq!(
            audio_plan(Some(&surround)),
            AudioPlan::Encode { bitrate: 128_000 }
        );
        assert_eq!(audio_plan(None), AudioPlan::None);
    }

    #[test]
    fn portrait_and_odd_sources() {
        let b = board();
        let p = plan(
            &info(Some(h264(1080, 1920, 30)), None, 100.0),
            &b,
            &x264_only(&b),
        )
        .expect("plan");
        assert_eq!(
            (
                p.renditions[0].resolution,
                p.renditions[0].width,
                p.renditions[0].height
            ),
            (1080, 1080, 1920)
        );
        assert_eq!((p.renditions[1].width, p.renditions[1].height), (720, 1280));
        // A tiny source below the lowest rung is kept at its own size.
        let p = plan(&info(Some(h264(64, 36, 1)), None, 0.01), &b, &x264_only(&b)).expect("plan");
        assert_eq!(p.renditions.len(), 1);
        assert_eq!(
            (
                p.renditions[0].width,
                p.renditions[0].height,
                p.renditions[0].fps
            ),
            (64, 36, 1)
        );
    }
}
