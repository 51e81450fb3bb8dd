//! Finding which H.264 encoders really work here: an element may be registered (VA-API,
//! V4L2) and still fail on this device, so each present one is confirmed with a short real
//! encode. The ranking itself is a pure function of the board's preferences and the results.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;

use crate::board::{BoardConfig, EncoderOverrides};
use crate::elements;
use crate::encoder::{self, EncodeTarget, EncoderSettings, EncoderSpec, KNOWN_ENCODERS};
use crate::error::HwaccelError;

/// What the test of one encoder found.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// No such element in this GStreamer (plugin or device missing).
    Absent,
    /// Present, but the test encode failed.
    Failed(String),
    /// Encoded the test clip.
    Works { test_encode: Duration },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub spec: &'static EncoderSpec,
    /// Whether the board lists it in `encoders.preferred`.
    pub preferred: bool,
    pub status: Status,
}

/// The encoders of this machine in ranked order, with what the board says about each.
#[derive(Debug, Clone)]
pub struct Discovery {
    pub candidates: Vec<Candidate>,
    overrides: BTreeMap<String, EncoderOverrides>,
}

/// The order encoders are tried in: the board's preferences, then every other known encoder.
pub fn candidate_order(preferred: &[String]) -> Vec<&'static EncoderSpec> {
    let mut order: Vec<&'static EncoderSpec> = preferred
        .iter()
        .filter_map(|name| encoder::spec(name))
        .collect();
    for spec in KNOWN_ENCODERS {
        if !order.contains(&spec) {
            order.push(spec);
        }
    }
    order
}

/// The small rendition each candidate is tested with.
pub const TEST_TARGET: EncodeTarget = EncodeTarget {
    width: 640,
    height: 360,
    fps: 30.0,
    bitrate: 800_000,
    keyframe_interval: 60,
};

/// Tests every known encoder on this machine (real GStreamer).
pub fn discover(board: &BoardConfig) -> Result<Discovery, HwaccelError> {
    gst::init().map_err(|e| HwaccelError::Init(e.to_string()))?;
    Ok(discover_with(board, |spec, settings| {
        if gst::ElementFactory::find(spec.element).is_none() {
            Status::Absent
        } else {
            test_encode(settings, Duration::from_secs(10))
        }
    }))
}

/// Ranks encoders with a caller-supplied test, e.g. a stand-in for hardware that is absent
/// on the machine running the tests.
pub fn discover_with(
    board: &BoardConfig,
    mut probe: impl FnMut(&EncoderSpec, &EncoderSettings) -> Status,
) -> Discovery {
    let candidates = candidate_order(&board.encoders.preferred)
        .into_iter()
        .map(|spec| {
            let settings = encoder::settings(spec, &board.overrides(spec.element), &TEST_TARGET);
            Candidate {
                spec,
                preferred: board.encoders.preferred.iter().any(|p| p == spec.element),
                status: probe(spec, &settings),
            }
        })
        .collect();
    Discovery {
        candidates,
        overrides: board.encoder.clone(),
    }
}

impl Discovery {
    /// Working encoders, best first.
    pub fn ranked(&self) -> Vec<&'static str> {
        self.candidates
            .iter()
            .filter(|c| matches!(c.status, Status::Works { .. }))
            .map(|c| c.spec.element)
            .collect()
    }

    /// The best working encoder whose limits take this rendition, with its settings.
    pub fn choose(&self, target: &EncodeTarget) -> Result<EncoderSettings, HwaccelError> {
        let mut reasons = Vec::new();
        for c in &self.candidates {
            let overrides = self
                .overrides
                .get(c.spec.element)
                .cloned()
                .unwrap_or_default();
            match &c.status {
                Status::Works { .. } => match encoder::accepts(c.spec, &overrides, target) {
                    Ok(()) => return Ok(encoder::settings(c.spec, &overrides, target)),
                    Err(why) => reasons.push(why.0),
                },
                Status::Failed(why) if c.preferred => {
                    reasons.push(format!("{}: {why}", c.spec.element))
                }
                _ => {}
            }
        }
        if reasons.is_empty() {
            reasons.push("no H.264 encoder works on this machine".into());
        }
        Err(HwaccelError::NoEncoder {
            target: format!("{}x{}@{:.2}", target.width, target.height, target.fps),
            reasons: reasons.join("; "),
        })
    }
}

/// Encodes half a second of test video with these settings; Works if H.264 came out.
pub fn test_encode(settings: &EncoderSettings, timeout: Duration) -> Status {
    let started = Instant::now();
    match run_test_encode(settings, timeout) {
        Ok(0) => Status::Failed("the encoder produced no output".into()),
        Ok(_) => Status::Works {
            test_encode: started.elapsed(),
        },
        Err(e) => Status::Failed(e),
    }
}

fn run_test_encode(settings: &EncoderSettings, timeout: Duration) -> Result<u32, String> {
    let t = TEST_TARGET;
    let pipeline = gst::Pipeline::new();
    let src = elements::make(
        "videotestsrc",
        &[("num-buffers".to_string(), "15".to_string())],
    )
    .map_err(|e| e.to_string())?;
    let raw = elements::capsfilter(&format!(
        "video/x-raw,width={},height={},framerate=30/1",
        t.width, t.height
    ))
    .map_err(|e| e.to_string())?;
    let chain = elements::encoder_chain(settings).map_err(|e| e.to_string())?;
    let parse = elements::make("h264parse", &[]).map_err(|e| e.to_string())?;
    let sink = elements::make("fakesink", &[]).map_err(|e| e.to_string())?;
    let mut all = vec![src, raw];
    all.extend(chain);
    all.push(parse);
    all.push(sink.clone());
    pipeline.add_many(&all).map_err(|e| e.to_string())?;
    gst::Element::link_many(&all).map_err(|e| format!("cannot link: {e}"))?;

    let count = Arc::new(AtomicU32::new(0));
    if let Some(pad) = sink.static_pad("sink") {
        let count = count.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            count.fetch_add(1, Ordering::Relaxed);
            gst::PadProbeReturn::Ok
        });
    }
    let result = run_to_eos(&pipeline, timeout);
    let _ = pipeline.set_state(gst::State::Null);
    result.map(|()| count.load(Ordering::Relaxed))
}

fn run_to_eos(pipeline: &gst::Pipeline, timeout: Duration) -> Result<(), String> {
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|_| "the encoder would not start".to_string())?;
    let bus = pipeline.bus().ok_or("pipeline without a bus")?;
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("no result within {} s", timeout.as_secs()));
        }
        let Some(msg) = bus.timed_pop_filtered(
            gst::ClockTime::from_mseconds(left.as_millis() as u64),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        ) else {
            continue;
        };
        match msg.view() {
            gst::MessageView::Eos(_) => return Ok(()),
            gst::MessageView::Error(e) => return Err(e.error().to_string()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stand-in for hardware encoders that do not exist on the test machine: it reports the
    /// named elements as working without running them, and everything else as absent.
    fn fake_hardware(
        working: &'static [&'static str],
    ) -> impl FnMut(&EncoderSpec, &EncoderSettings) -> Status {
        move |spec, _| {
            if working.contains(&spec.element) {
                Status::Works {
                    test_encode: Duration::from_millis(5),
                }
            } else {
                Status::Absent
            }
        }
    }

    fn target(w: u32, h: u32, fps: f64) -> EncodeTarget {
        EncodeTarget {
            width: w,
            height: h,
            fps,
            bitrate: 3_000_000,
            keyframe_interval: 60,
        }
    }

    #[test]
    fn board_preference_comes_first_then_the_rest() {
        let order = candidate_order(&["x264enc".to_string(), "v4l2h264enc".to_string()]);
        assert_eq!(order[0].element, "x264enc");
        assert_eq!(order[1].element, "v4l2h264enc");
        assert_eq!(order.len(), KNOWN_ENCODERS.len());
    }

    #[test]
    fn pi4_uses_its_hardware_encoder_within_level_4_and_x264_beyond() {
        let board = BoardConfig::load("rpi4").expect("rpi4");
        let found = discover_with(&board, fake_hardware(&["v4l2h264enc", "x264enc"]));
        assert_eq!(found.ranked(), vec!["v4l2h264enc", "x264enc"]);
        let s = found.choose(&target(1280, 720, 30.0)).expect("720p");
        assert_eq!(s.element, "v4l2h264enc");
        assert!(
            s.output_caps.contains("level=(string)4"),
            "{}",
            s.output_caps
        );
        // 1080p60 is beyond level 4: the next encoder takes it.
        let s = found.choose(&target(1920, 1080, 60.0)).expect("1080p60");
        assert_eq!(s.element, "x264enc");
    }

    #[test]
    fn a_broken_hardware_encoder_is_skipped() {
        let board = BoardConfig::load("x86-64").expect("x86-64");
        let found = discover_with(&board, |spec, _| match spec.element {
            "vah264enc" => Status::Failed("vaEndPicture failed".into()),
            "x264enc" => Status::Works {
                test_encode: Duration::from_millis(5),
            },
            _ => Status::Absent,
        });
        let s = found.choose(&target(1280, 720, 30.0)).expect("720p");
        assert_eq!(s.element, "x264enc");
    }

    #[test]
    fn nothing_working_is_an_error_that_says_why() {
        let board = BoardConfig::load("rpi5").expect("rpi5");
        let found = discover_with(&board, |_, _| Status::Failed("boom".into()));
        let err = found
            .choose(&target(640, 360, 30.0))
            .expect_err("no encoder");
        assert!(err.to_string().contains("x264enc: boom"), "{err}");
    }

    /// Real GStreamer: asking for the Pi's hardware encoder on a machine without it falls
    /// back to x264enc, confirmed by a real test encode.
    #[test]
    fn missing_hardware_encoder_falls_back_to_x264() {
        let board = BoardConfig::load("rpi4").expect("rpi4");
        let found = discover(&board).expect("discover");
        let v4l2 = found
            .candidates
            .iter()
            .find(|c| c.spec.element == "v4l2h264enc")
            .expect("listed");
        assert!(
            !matches!(v4l2.status, Status::Works { .. }),
            "this test machine has no V4L2 H.264 encoder"
        );
        let x264 = found
            .candidates
            .iter()
            .find(|c| c.spec.element == "x264enc")
            .expect("listed");
        assert!(
            matches!(x264.status, Status::Works { .. }),
            "{:?}",
            x264.status
        );
        let s = found.choose(&target(1280, 720, 30.0)).expect("720p");
        assert_eq!(s.element, "x264enc");
    }

    #[test]
    fn a_bad_setting_fails_the_test_encode_instead_of_crashing() {
        gst::init().expect("gst init");
        let mut s = encoder::settings(
            encoder::spec("x264enc").expect("known"),
            &EncoderOverrides::default(),
            &TEST_TARGET,
        );
        s.output_caps = "video/x-h264,profile=(string)high,level=(string)1".into();
        s.properties
            .push(("key-int-max".into(), "not-a-number".into()));
        assert!(matches!(
            test_encode(&s, Duration::from_secs(10)),
            Status::Failed(_)
        ));
    }
}
