//! The text `peerbox hwaccel` prints: the board, every encoder with its test result, the
//! ranking, and the encoder and settings each rung of the ladder would get.

use std::fmt::Write;

use gstreamer as gst;

use crate::board::BoardConfig;
use crate::discover::{self, Discovery, Status};
use crate::encoder::EncodeTarget;
use crate::error::HwaccelError;
use crate::ladder;

/// Tests this machine's encoders (real GStreamer) and describes what would be used.
pub fn report(board: &BoardConfig) -> Result<String, HwaccelError> {
    let found = discover::discover(board)?;
    Ok(format_report(board, &found, &gst::version_string()))
}

/// The report for given discovery results.
pub fn format_report(board: &BoardConfig, found: &Discovery, gst_version: &str) -> String {
    let mut out = String::new();
    let t = &board.transcoding;
    let _ = writeln!(
        out,
        "Board: {} ({})",
        board.board.name, board.board.description
    );
    let _ = writeln!(out, "GStreamer: {gst_version}");
    let _ = writeln!(out, "H.264 encoders (in the order tried):");
    for c in &found.candidates {
        let status = match &c.status {
            Status::Absent => "absent".to_string(),
            Status::Failed(why) => format!("present but failed its test encode: {why}"),
            Status::Works { test_encode } => {
                format!("works (test encode {} ms)", test_encode.as_millis())
            }
        };
        let pref = if c.preferred {
            ", preferred by the board"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  {:<14} {:<8} {status}  [{}{pref}]",
            c.spec.element, c.spec.kind, c.spec.platform
        );
    }
    let ranked = found.ranked();
    let _ = writeln!(
        out,
        "Ranking: {}",
        if ranked.is_empty() {
            "none".to_string()
        } else {
            ranked.join(", ")
        }
    );
    let ladder_text: Vec<String> = t.ladder.iter().map(|r| format!("{r}p")).collect();
    let _ = writeln!(
        out,
        "Ladder: {} (original resolution kept: {}), at most {} fps; {} job(s) at once; {} raw frame(s) queued per rendition",
        ladder_text.join(" "),
        if t.keep_original_resolution {
            "yes"
        } else {
            "no"
        },
        t.max_fps,
        t.max_concurrent_jobs,
        board.queues.raw_video_buffers
    );
    let _ = writeln!(
        out,
        "Would use, for a 16:9 source at {} fps:",
        t.max_fps.min(30)
    );
    let mut rungs = t.ladder.clone();
    rungs.sort_unstable();
    for res in rungs {
        let fps = t.max_fps.min(30);
        let (width, height) = ladder::dimensions(1920, 1080, res);
        let target = EncodeTarget {
            width,
            height,
            fps: f64::from(fps),
            bitrate: ladder::average_bitrate(
                res,
                ladder::aspect_ratio(width, height),
                f64::from(fps),
            ),
            keyframe_interval: fps * 2,
        };
        let line = match found.choose(&target) {
            Ok(settings) => settings.to_string(),
            Err(e) => format!("nothing: {e}"),
        };
        let _ = writeln!(out, "  {res:>4}p {width}x{height}: {line}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn report_names_encoders_ranking_and_choices() {
        let board = BoardConfig::load("rpi4").expect("rpi4");
        // Stand-in for the Pi's hardware encoder, absent on the test machine.
        let found = discover::discover_with(&board, |spec, _| match spec.element {
            "v4l2h264enc" | "x264enc" => Status::Works {
                test_encode: Duration::from_millis(12),
            },
            _ => Status::Absent,
        });
        let text = format_report(&board, &found, "GStreamer 1.22.0");
        assert!(text.starts_with("Board: rpi4 ("), "{text}");
        assert!(text.contains("Ranking: v4l2h264enc, x264enc"), "{text}");
        assert!(
            text.contains("v4l2h264enc    hardware works (test encode 12 ms)"),
            "{text}"
        );
        assert!(
            text.contains(" 720p 1280x720: v4l2h264enc extra-controls=\"controls,"),
            "{text}"
        );
        assert!(text.contains("level=(string)4"), "{text}");
    }

    #[test]
    fn real_report_on_this_machine_uses_software() {
        let board = BoardConfig::load("x86-64").expect("x86-64");
        let text = report(&board).expect("report");
        assert!(text.contains("x264enc        software works"), "{text}");
        assert!(text.contains(" 1080p 1920x1080: "), "{text}");
        assert!(text.contains("vah264enc      hardware absent"), "{text}");
    }
}
