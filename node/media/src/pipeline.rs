//! One GStreamer pipeline per video: the file is demuxed and decoded once, raw frames are
//! teed to one scale + encode branch per rendition (small queues), the audio is encoded
//! (or copied) once and teed to every rendition, and each rendition goes into its own
//! fragmented MP4 (`isofmp4mux`, 4 s fragments starting on keyframes). A stream-copied
//! rendition takes the demuxed H.264 before the decoder.
//!
//! Sinks do not wait for preroll (`async=false`): with tees feeding several sinks, a sink
//! holding its first buffer would block the others forever.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use peerbox_hwaccel::{Queues, elements};

use crate::error::{MediaError, Result, messages};
use crate::images::{self, Frame};
use crate::plan::{AudioPlan, Plan, VideoPlan};

/// Fragment length, as PeerTube's `-hls_time 4`.
pub const FRAGMENT: gst::ClockTime = gst::ClockTime::from_seconds(4);

/// How a running transcode is watched and stopped.
pub struct Control<'a> {
    pub cancel: &'a AtomicBool,
    /// Called with 0..=99 as the pipeline advances.
    pub progress: &'a mut dyn FnMut(u8),
    /// Fails the run when the position does not move for this long.
    pub stall_timeout: Duration,
}

/// State shared with streaming threads.
struct Shared {
    /// Furthest stream time reached, in ns (u64::MAX before the first buffer).
    position: AtomicU64,
    failure: Mutex<Option<MediaError>>,
    frames: Mutex<Vec<Frame>>,
}

impl Shared {
    /// Records the first failure found on a streaming thread and wakes the bus loop.
    fn fail(&self, pipeline: &gst::Pipeline, error: MediaError) {
        if let Ok(mut slot) = self.failure.lock()
            && slot.is_none()
        {
            *slot = Some(error);
        }
        let _ = pipeline.post_message(gst::message::Application::new(gst::Structure::new_empty(
            "peerbox-failure",
        )));
    }
}

fn make(factory: &str, props: &[(&str, &str)]) -> Result<gst::Element> {
    let props: Vec<(String, String)> = props
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Ok(elements::make(factory, &props)?)
}

fn queue(buffers: u32, time: gst::ClockTime) -> Result<gst::Element> {
    make(
        "queue",
        &[
            ("max-size-buffers", &buffers.to_string()),
            ("max-size-bytes", "0"),
            ("max-size-time", &time.nseconds().to_string()),
        ],
    )
}

fn add_chain(pipeline: &gst::Pipeline, chain: &[gst::Element]) -> Result<()> {
    pipeline.add_many(chain).map_err(internal)?;
    gst::Element::link_many(chain).map_err(internal)?;
    Ok(())
}

fn internal(e: impl std::fmt::Display) -> MediaError {
    MediaError::Pipeline(e.to_string())
}

fn link_to_request(from: &gst::Element, to: &gst::Element) -> Result<()> {
    let src = from
        .static_pad("src")
        .ok_or_else(|| internal("element without a src pad"))?;
    let sink = to
        .request_pad_simple("sink_%u")
        .ok_or_else(|| internal("muxer refused a new stream"))?;
    src.link(&sink).map_err(internal)?;
    Ok(())
}

fn tee_branch(tee: &gst::Element, first: &gst::Element) -> Result<()> {
    let src = tee
        .request_pad_simple("src_%u")
        .ok_or_else(|| internal("tee refused a branch"))?;
    let sink = first
        .static_pad("sink")
        .ok_or_else(|| internal("branch without a sink pad"))?;
    src.link(&sink).map_err(internal)?;
    Ok(())
}

fn caps_name(pad: &gst::Pad) -> String {
    let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
    caps.structure(0)
        .map(|s| s.name().to_string())
        .unwrap_or_default()
}

/// Sends a stream nobody wants into a fakesink, so that it does not stop the demuxer.
fn discard(pipeline: &gst::Pipeline, pad: &gst::Pad) -> Result<()> {
    let sink = make("fakesink", &[("sync", "false"), ("async", "false")])?;
    pipeline.add(&sink).map_err(internal)?;
    sink.sync_state_with_parent().map_err(internal)?;
    let sinkpad = sink
        .static_pad("sink")
        .ok_or_else(|| internal("fakesink without a pad"))?;
    pad.link(&sinkpad).map_err(internal)?;
    Ok(())
}

/// Records the stream time of buffers passing `pad` as the job's position.
fn track_position(pad: &gst::Pad, shared: &Arc<Shared>) {
    let shared = shared.clone();
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        if let Some(pts) = info.buffer().and_then(|b| b.pts())
            && let Some(t) = stream_time(pad, pts)
        {
            let ns = t.nseconds();
            let prev = shared.position.load(Ordering::Relaxed);
            if prev == u64::MAX || ns > prev {
                shared.position.store(ns, Ordering::Relaxed);
            }
        }
        gst::PadProbeReturn::Ok
    });
}

fn stream_time(pad: &gst::Pad, pts: gst::ClockTime) -> Option<gst::ClockTime> {
    let ev = pad.sticky_event::<gst::event::Segment>(0)?;
    let seg = ev.segment().downcast_ref::<gst::ClockTime>()?;
    seg.to_stream_time(pts)
}

/// Runs the plan on `source`, writing one fragmented MP4 per rendition to `raw_paths`
/// (same order as `plan.renditions`). Returns the frames sampled for the images.
pub fn run(
    source: &Path,
    plan: &Plan,
    raw_paths: &[PathBuf],
    duration: Option<Duration>,
    queues: &Queues,
    ctl: Control,
) -> Result<Vec<Frame>> {
    crate::init()?;
    let pipeline = gst::Pipeline::new();
    let shared = Arc::new(Shared {
        position: AtomicU64::new(u64::MAX),
        failure: Mutex::new(None),
        frames: Mutex::new(Vec::new()),
    });
    let result = build(
        &pipeline, source, plan, raw_paths, duration, queues, &shared,
    )
    .and_then(|()| drive(&pipeline, duration, &shared, ctl));
    let _ = pipeline.set_state(gst::State::Null);
    result?;
    let frames = shared
        .frames
        .lock()
        .map(|mut f| std::mem::take(&mut *f))
        .unwrap_or_default();
    Ok(frames)
}

#[allow(clippy::too_many_arguments)]
fn build(
    pipeline: &gst::Pipeline,
    source: &Path,
    plan: &Plan,
    raw_paths: &[PathBuf],
    duration: Option<Duration>,
    queues: &Queues,
    shared: &Arc<Shared>,
) -> Result<()> {
    let src = make("filesrc", &[("location", &source.to_string_lossy())])?;
    let parsebin = make("parsebin", &[])?;
    add_chain(pipeline, &[src, parsebin.clone()])?;

    // One muxer and file per rendition.
    let mut muxes = Vec::new();
    for path in raw_paths {
        let mux = make(
            "isofmp4mux",
            &[
                ("fragment-duration", &FRAGMENT.nseconds().to_string()),
                // Rewrites the header at the end with the real duration.
                ("header-update-mode", "rewrite"),
                // Encoders already put a keyframe every 2 s; the muxer's upstream keyframe
                // requests trip an h264parse bug in GStreamer 1.22 (criticals on a NULL event).
                ("send-force-keyunit", "false"),
            ],
        )?;
        let sink = make(
            "filesink",
            &[
                ("location", &path.to_string_lossy()),
                ("sync", "false"),
                ("async", "false"),
            ],
        )?;
        add_chain(pipeline, &[mux.clone(), sink])?;
        muxes.push(mux);
    }

    let raw_frames = queues.raw_video_buffers;
    // Video: parsed stream in, optional copy branch, decoder, raw tee.
    let video_in = if plan.has_video() {
        let video_in = queue(0, gst::ClockTime::from_seconds(1))?;
        pipeline.add(&video_in).map_err(internal)?;
        let decoder = make("decodebin", &[])?;
        pipeline.add(&decoder).map_err(internal)?;
        if plan.copies_video() {
            let tee = make("tee", &[])?;
            pipeline.add(&tee).map_err(internal)?;
            video_in.link(&tee).map_err(internal)?;
            for (r, mux) in plan.renditions.iter().zip(&muxes) {
                if r.video != VideoPlan::Copy {
                    continue;
                }
                let chain = [
                    queue(0, gst::ClockTime::from_seconds(2))?,
                    make("h264parse", &[])?,
                    elements::capsfilter("video/x-h264,stream-format=avc,alignment=au")?,
                ];
                add_chain(pipeline, &chain)?;
                tee_branch(&tee, &chain[0])?;
                link_to_request(&chain[2], mux)?;
            }
            let q = queue(0, gst::ClockTime::from_seconds(1))?;
            pipeline.add(&q).map_err(internal)?;
            tee_branch(&tee, &q)?;
            q.link(&decoder).map_err(internal)?;
        } else {
            video_in.link(&decoder).map_err(internal)?;
        }

        // Applies the orientation tag (phone videos), a no-op otherwise.
        let flip = make("videoflip", &[("video-direction", "auto")])?;
        let raw_tee = make("tee", &[])?;
        add_chain(pipeline, &[flip.clone(), raw_tee.clone()])?;
        if let Some(pad) = raw_tee.static_pad("sink") {
            track_position(&pad, shared);
        }
        for (r, mux) in plan.renditions.iter().zip(&muxes) {
            let VideoPlan::Encode {
                settings,
                framerate,
                ..
            } = &r.video
            else {
                continue;
            };
            let mut chain = vec![queue(raw_frames, gst::ClockTime::ZERO)?];
            if let Some((n, d)) = framerate {
                chain.push(make("videorate", &[])?);
                chain.push(elements::capsfilter(&format!(
                    "video/x-raw,framerate={n}/{d}"
                ))?);
            }
            chain.push(make("videoscale", &[])?);
            chain.push(elements::capsfilter(&format!(
                "video/x-raw,width={},height={},pixel-aspect-ratio=1/1",
                r.width, r.height
            ))?);
            chain.extend(elements::encoder_chain(settings)?);
            chain.push(make("h264parse", &[])?);
            add_chain(pipeline, &chain)?;
            tee_branch(&raw_tee, &chain[0])?;
            if let Some(last) = chain.last() {
                link_to_request(last, mux)?;
            }
        }
        add_sampler(pipeline, &raw_tee, plan.display_size, duration, shared)?;

        let weak = pipeline.downgrade();
        let shared_dec = shared.clone();
        let flip_sink = flip
            .static_pad("sink")
            .ok_or_else(|| internal("videoflip without a sink pad"))?;
        decoder.connect_pad_added(move |_, pad| {
            let Some(pipeline) = weak.upgrade() else {
                return;
            };
            if !caps_name(pad).starts_with("video/x-raw") {
                shared_dec.fail(
                    &pipeline,
                    MediaError::BadInput("The video format of the file is not supported".into()),
                );
                return;
            }
            if flip_sink.is_linked() {
                let _ = discard(&pipeline, pad);
            } else if let Err(e) = pad.link(&flip_sink) {
                shared_dec.fail(&pipeline, internal(format!("linking decoded video: {e}")));
            }
        });
        Some(video_in)
    } else {
        None
    };

    // Audio: copied or encoded once, then teed to every muxer.
    let audio_in = if plan.audio != AudioPlan::None {
        let audio_in = queue(0, gst::ClockTime::from_seconds(2))?;
        let tee = make("tee", &[])?;
        pipeline.add_many([&audio_in, &tee]).map_err(internal)?;
        match plan.audio {
            AudioPlan::Copy => {
                let chain = [
                    audio_in.clone(),
                    make("aacparse", &[])?,
                    elements::capsfilter("audio/mpeg,mpegversion=4,stream-format=raw")?,
                ];
                pipeline.add_many(&chain[1..]).map_err(internal)?;
                gst::Element::link_many(&chain).map_err(internal)?;
                chain[2].link(&tee).map_err(internal)?;
            }
            AudioPlan::Encode { bitrate } => {
                let decoder = make("decodebin", &[])?;
                pipeline.add(&decoder).map_err(internal)?;
                audio_in.link(&decoder).map_err(internal)?;
                let encoder = aac_encoder(bitrate)?;
                // Stereo as PeerTube forces it (`-channel_layout stereo`).
                let chain = [
                    make("audioconvert", &[])?,
                    make("audioresample", &[])?,
                    elements::capsfilter("audio/x-raw,channels=2")?,
                    encoder,
                    make("aacparse", &[])?,
                ];
                add_chain(pipeline, &chain)?;
                chain[4].link(&tee).map_err(internal)?;
                let head = chain[0]
                    .static_pad("sink")
                    .ok_or_else(|| internal("audioconvert without a pad"))?;
                let weak = pipeline.downgrade();
                let shared_dec = shared.clone();
                decoder.connect_pad_added(move |_, pad| {
                    let Some(pipeline) = weak.upgrade() else {
                        return;
                    };
                    if !caps_name(pad).starts_with("audio/x-raw") {
                        shared_dec.fail(
                            &pipeline,
                            MediaError::BadInput(
                                "The audio format of the file is not supported".into(),
                            ),
                        );
                        return;
                    }
                    if head.is_linked() {
                        let _ = discard(&pipeline, pad);
                    } else if let Err(e) = pad.link(&head) {
                        shared_dec.fail(&pipeline, internal(format!("linking decoded audio: {e}")));
                    }
                });
            }
            AudioPlan::None => {}
        }
        if !plan.has_video()
            && let Some(pad) = tee.static_pad("sink")
        {
            track_position(&pad, shared);
        }
        // Audio waits here while the slower video branches catch up.
        let hold = gst::ClockTime::from_mseconds(u64::from(queues.audio_queue_ms));
        for mux in &muxes {
            let q = queue(0, hold)?;
            pipeline.add(&q).map_err(internal)?;
            tee_branch(&tee, &q)?;
            link_to_request(&q, mux)?;
        }
        Some(audio_in)
    } else {
        None
    };

    // The demuxer's streams: first video and first audio are used, the rest discarded.
    let weak = pipeline.downgrade();
    let shared_parse = shared.clone();
    let video_sink = video_in.as_ref().and_then(|q| q.static_pad("sink"));
    let audio_sink = audio_in.as_ref().and_then(|q| q.static_pad("sink"));
    let (v_sink, a_sink) = (video_sink.clone(), audio_sink.clone());
    parsebin.connect_pad_added(move |_, pad| {
        let Some(pipeline) = weak.upgrade() else {
            return;
        };
        let name = caps_name(pad);
        let target = if name.starts_with("video/") && !is_still_image(&name) {
            v_sink.as_ref()
        } else if name.starts_with("audio/") {
            a_sink.as_ref()
        } else {
            None
        };
        let result = match target {
            Some(sink) if !sink.is_linked() => pad.link(sink).map(|_| ()).map_err(internal),
            _ => discard(&pipeline, pad),
        };
        if let Err(e) = result {
            shared_parse.fail(&pipeline, e);
        }
    });
    // A stream the probe saw but the demuxer never gave would leave a muxer waiting forever.
    let weak = pipeline.downgrade();
    let shared_nmp = shared.clone();
    parsebin.connect_no_more_pads(move |_| {
        let Some(pipeline) = weak.upgrade() else {
            return;
        };
        let missing = [&video_sink, &audio_sink]
            .into_iter()
            .flatten()
            .any(|p| !p.is_linked());
        if missing {
            shared_nmp.fail(&pipeline, MediaError::BadInput(messages::DAMAGED.into()));
        }
    });
    Ok(())
}

/// Cover art and similar single pictures are not the video.
fn is_still_image(caps_name: &str) -> bool {
    matches!(caps_name, "image/jpeg" | "image/png")
}

fn aac_encoder(bitrate: u32) -> Result<gst::Element> {
    // avenc_aac is ffmpeg's native AAC encoder, the one PeerTube uses by default.
    for (factory, prop) in [
        ("avenc_aac", "bitrate"),
        ("voaacenc", "bitrate"),
        ("fdkaacenc", "bitrate"),
    ] {
        if gst::ElementFactory::find(factory).is_some() {
            return make(factory, &[(prop, &bitrate.to_string())]);
        }
    }
    Err(MediaError::Pipeline("no AAC encoder is installed".into()))
}

/// A branch that keeps a few frames spread over the video, at preview size, for the images.
fn add_sampler(
    pipeline: &gst::Pipeline,
    raw_tee: &gst::Element,
    display: (u32, u32),
    duration: Option<Duration>,
    shared: &Arc<Shared>,
) -> Result<()> {
    // Cropping to the preview's shape happens later, on one frame.
    let (w, h) = images::capture_size(display);
    let q = queue(2, gst::ClockTime::ZERO)?;
    let caps = gst::Caps::builder("video/x-raw")
        .field("format", "RGB")
        .field("width", w as i32)
        .field("height", h as i32)
        .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
        .build();
    let sink = gst_app::AppSink::builder().caps(&caps).sync(false).build();
    sink.set_property("async", false);
    let chain = [
        q.clone(),
        make("videoscale", &[])?,
        make("videoconvert", &[])?,
        sink.clone().upcast(),
    ];
    add_chain(pipeline, &chain)?;
    tee_branch(raw_tee, &q)?;

    // Only the frames at the sample times enter the branch; the rest are dropped at once
    // (as Handled: the Rust bindings already release the buffer, and GStreamer 1.22 would
    // release it a second time after Drop).
    // The very first frame is kept too, as a fallback for videos shorter than expected.
    let schedule = Mutex::new((images::sample_times(duration), 0usize, true));
    if let Some(pad) = q.static_pad("sink") {
        pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
            let Some(t) = info
                .buffer()
                .and_then(|b| b.pts())
                .and_then(|pts| stream_time(pad, pts))
            else {
                return gst::PadProbeReturn::Handled;
            };
            let t = Duration::from_nanos(t.nseconds());
            let Ok(mut guard) = schedule.lock() else {
                return gst::PadProbeReturn::Handled;
            };
            let (times, next, first) = &mut *guard;
            let mut keep = std::mem::take(first);
            while times.get(*next).is_some_and(|at| t >= *at) {
                *next += 1;
                keep = true;
            }
            if keep {
                gst::PadProbeReturn::Ok
            } else {
                gst::PadProbeReturn::Handled
            }
        });
    }
    let shared = shared.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let position = sample
                    .buffer()
                    .and_then(|b| b.pts())
                    .map_or(Duration::ZERO, |p| Duration::from_nanos(p.nseconds()));
                if let Some(map) = sample.buffer().and_then(|b| b.map_readable().ok()) {
                    // Packed RGB rows may be padded to 4 bytes; keep them tight.
                    let stride = map.len() / h as usize;
                    let row = w as usize * 3;
                    if stride >= row {
                        let rgb = map
                            .as_slice()
                            .chunks(stride)
                            .take(h as usize)
                            .flat_map(|r| &r[..row])
                            .copied()
                            .collect();
                        if let Ok(mut frames) = shared.frames.lock() {
                            frames.push(Frame {
                                position,
                                width: w,
                                height: h,
                                rgb,
                            });
                        }
                    }
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    Ok(())
}

/// Plays the pipeline to the end, reporting progress, watching for stalls and cancellation.
fn drive(
    pipeline: &gst::Pipeline,
    duration: Option<Duration>,
    shared: &Arc<Shared>,
    ctl: Control,
) -> Result<()> {
    let bus = pipeline
        .bus()
        .ok_or_else(|| internal("pipeline without a bus"))?;
    if pipeline.set_state(gst::State::Playing).is_err() {
        // The reason is on the bus.
        return Err(bus_error(&bus, pipeline, shared)
            .unwrap_or_else(|| internal("the pipeline would not start")));
    }
    let mut last_position = u64::MAX;
    let mut last_change = Instant::now();
    let mut last_percent = None;
    loop {
        if ctl.cancel.load(Ordering::Relaxed) {
            return Err(MediaError::Cancelled);
        }
        if let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(200)) {
            match msg.view() {
                gst::MessageView::Eos(_) => break,
                gst::MessageView::Error(e) => {
                    return Err(shared_failure(shared).unwrap_or_else(|| {
                        classify(&e.error(), e.debug().as_deref(), e.src(), pipeline)
                    }));
                }
                gst::MessageView::Application(_) => {
                    if let Some(f) = shared_failure(shared) {
                        return Err(f);
                    }
                }
                _ => {}
            }
        }
        let position = shared.position.load(Ordering::Relaxed);
        if position != last_position {
            last_position = position;
            last_change = Instant::now();
            if let (Some(total), true) = (duration, position != u64::MAX) {
                let total = total.as_nanos().max(1) as f64;
                let percent = ((position as f64 / total) * 100.0).clamp(0.0, 99.0) as u8;
                if last_percent != Some(percent) {
                    last_percent = Some(percent);
                    (ctl.progress)(percent);
                }
            }
        } else if last_change.elapsed() > ctl.stall_timeout {
            return Err(MediaError::Stalled(ctl.stall_timeout.as_secs()));
        }
    }
    Ok(())
}

fn shared_failure(shared: &Shared) -> Option<MediaError> {
    shared.failure.lock().ok().and_then(|mut f| f.take())
}

fn bus_error(bus: &gst::Bus, pipeline: &gst::Pipeline, shared: &Shared) -> Option<MediaError> {
    if let Some(f) = shared_failure(shared) {
        return Some(f);
    }
    let msg =
        bus.timed_pop_filtered(gst::ClockTime::from_seconds(1), &[gst::MessageType::Error])?;
    match msg.view() {
        gst::MessageView::Error(e) => Some(classify(
            &e.error(),
            e.debug().as_deref(),
            e.src(),
            pipeline,
        )),
        _ => None,
    }
}

/// Is `obj` part of reading the file (source, demuxer, parsers, decoders)?
fn on_input_side(obj: &gst::Object, pipeline: &gst::Pipeline) -> bool {
    let mut cur = Some(obj.clone());
    while let Some(o) = cur {
        if let Some(el) = o.downcast_ref::<gst::Element>()
            && let Some(f) = el.factory()
            && matches!(f.name().as_str(), "filesrc" | "parsebin" | "decodebin")
        {
            return true;
        }
        let parent = o.parent();
        if parent
            .as_ref()
            .is_some_and(|p| p == pipeline.upcast_ref::<gst::Object>())
        {
            return false;
        }
        cur = parent;
    }
    false
}

/// Turns a GStreamer error into the uploader's message when the file is at fault.
fn classify(
    err: &gst::glib::Error,
    debug: Option<&str>,
    src: Option<&gst::Object>,
    pipeline: &gst::Pipeline,
) -> MediaError {
    let input = src.is_some_and(|s| on_input_side(s, pipeline));
    let detail = format!(
        "{}: {err}{}",
        src.map(|s| s.name().to_string()).unwrap_or_default(),
        debug.map(|d| format!(" ({d})")).unwrap_or_default()
    );
    if input {
        if let Some(kind) = err.kind::<gst::StreamError>() {
            return match kind {
                gst::StreamError::TypeNotFound | gst::StreamError::WrongType => {
                    MediaError::BadInput(messages::NOT_MEDIA.into())
                }
                gst::StreamError::CodecNotFound => MediaError::BadInput(
                    "The file uses a video or audio format this server cannot read".into(),
                ),
                // "Internal data stream error" with not-negotiated is our pipeline's fault.
                gst::StreamError::Failed if debug.is_some_and(|d| d.contains("not-negotiated")) => {
                    MediaError::Pipeline(detail)
                }
                _ => MediaError::BadInput(messages::DAMAGED.into()),
            };
        }
        if err.kind::<gst::CoreError>() == Some(gst::CoreError::MissingPlugin) {
            return MediaError::BadInput(
                "The file uses a video or audio format this server cannot read".into(),
            );
        }
        if let Some(gst::ResourceError::NotFound) = err.kind::<gst::ResourceError>() {
            return MediaError::BadInput(messages::MISSING_SOURCE.into());
        }
    }
    if let Some(gst::ResourceError::NoSpaceLeft) = err.kind::<gst::ResourceError>() {
        return MediaError::Pipeline("the disk is full".into());
    }
    MediaError::Pipeline(detail)
}
