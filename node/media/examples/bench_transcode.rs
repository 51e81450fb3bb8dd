//! `just bench-transcode`: the same 1080p30 60 s source and the same 720p + 480p ladder
//! through Peerbox's pipeline and through ffmpeg with PeerTube's settings (libx264 veryfast,
//! VBV max rate = PeerTube's target bitrate, buffer twice that, `-bf 16 -b_strategy 1`,
//! 2 s GOP, audio copied, `-f hls -hls_segment_type fmp4 -hls_flags single_file`, one
//! ffmpeg run per resolution as PeerTube's jobs do). Runs alternate between the two sides;
//! medians, output sizes and ratios are printed.
//!
//! Options: `--runs N` (default 3), `--dir PATH` (work folder, the source is kept there),
//! `--ffmpeg-threads N` (PeerTube's `transcoding.threads`; default: ffmpeg's automatic).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use peerbox_hwaccel::{BoardConfig, ladder};

type Error = Box<dyn std::error::Error>;

const SECS: u32 = 60;
const LADDER: [u32; 2] = [720, 480];

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let runs: usize = arg("--runs").map_or(Ok(3), |r| r.parse())?;
    let dir = PathBuf::from(arg("--dir").unwrap_or_else(|| "target/bench-transcode".into()));
    let threads = arg("--ffmpeg-threads");
    std::fs::create_dir_all(&dir)?;
    peerbox_media::init()?;

    let source = dir.join("src1080p30-60s.mp4");
    if !source.exists() {
        eprintln!("generating the 1080p30 60 s source (H.264 High 8 Mbit/s + AAC 128 kbit/s)...");
        make_source(&source)?;
    }
    let input_bitrate = std::fs::metadata(&source)?.len() * 8 / u64::from(SECS);

    // PeerTube's ladder for this test: 720p and 480p only, no original resolution.
    let mut board = BoardConfig::load("x86-64")?;
    board.transcoding.ladder = LADDER.to_vec();
    board.transcoding.keep_original_resolution = false;
    let encoders = peerbox_hwaccel::discover(&board)?;

    println!(
        "source: {} ({:.1} MB, {:.2} Mbit/s), ladder {:?}, {runs} alternating runs each",
        source.display(),
        std::fs::metadata(&source)?.len() as f64 / 1e6,
        input_bitrate as f64 / 1e6,
        LADDER
    );
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for run in 0..runs {
        // Alternate the order so that both sides see the same background load.
        for side in if run % 2 == 0 { [0, 1] } else { [1, 0] } {
            let out = dir.join(format!(
                "run{run}-{}",
                if side == 0 { "peerbox" } else { "ffmpeg" }
            ));
            let _ = std::fs::remove_dir_all(&out);
            std::fs::create_dir_all(&out)?;
            let m = if side == 0 {
                peerbox(&source, &out, &board, &encoders)?
            } else {
                ffmpeg(&source, &out, input_bitrate, threads.as_deref())?
            };
            println!(
                "run {run} {:<8} {:7.2} s wall {:7.2} s CPU  {:6.2} MB (720p {:.2} MB, 480p {:.2} MB)",
                if side == 0 { "peerbox" } else { "ffmpeg" },
                m.wall.as_secs_f64(),
                m.cpu,
                m.total() as f64 / 1e6,
                m.sizes[0] as f64 / 1e6,
                m.sizes[1] as f64 / 1e6,
            );
            if side == 0 { &mut ours } else { &mut theirs }.push(m);
            std::fs::remove_dir_all(&out)?;
        }
    }
    let (p, f) = (median(&ours), median(&theirs));
    println!(
        "median wall: peerbox {:.2} s, ffmpeg {:.2} s; peerbox/ffmpeg = {:.2}",
        p.0,
        f.0,
        p.0 / f.0
    );
    println!(
        "median CPU:  peerbox {:.2} s, ffmpeg {:.2} s; peerbox/ffmpeg = {:.2}",
        p.1,
        f.1,
        p.1 / f.1
    );
    println!(
        "output size: peerbox {:.2} MB, ffmpeg {:.2} MB; peerbox/ffmpeg = {:.3}",
        p.2 / 1e6,
        f.2 / 1e6,
        p.2 / f.2
    );
    Ok(())
}

struct Measure {
    wall: Duration,
    cpu: f64,
    /// 720p, 480p fragmented MP4 sizes.
    sizes: [u64; 2],
}

impl Measure {
    fn total(&self) -> u64 {
        self.sizes.iter().sum()
    }
}

fn median(ms: &[Measure]) -> (f64, f64, f64) {
    let mid = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n == 0 {
            0.0
        } else if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    };
    (
        mid(ms.iter().map(|m| m.wall.as_secs_f64()).collect()),
        mid(ms.iter().map(|m| m.cpu).collect()),
        mid(ms.iter().map(|m| m.total() as f64).collect()),
    )
}

/// CPU seconds of this process and of its waited-for children, from /proc/self/stat.
fn cpu_times() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    let tick = 100.0; // USER_HZ on Linux
    let get = |i: usize| f.get(i).copied().unwrap_or(0.0) / tick;
    // utime, stime, cutime, cstime are fields 14-17: indexes 11-14 after the name.
    (get(11) + get(12), get(13) + get(14))
}

fn peerbox(
    source: &Path,
    out: &Path,
    board: &BoardConfig,
    encoders: &peerbox_hwaccel::Discovery,
) -> Result<Measure, Error> {
    let cancel = AtomicBool::new(false);
    let mut progress = |_| {};
    let (cpu0, _) = cpu_times();
    let started = Instant::now();
    let t = peerbox_media::transcode(
        source,
        out,
        peerbox_media::Options {
            board,
            encoders,
            cancel: &cancel,
            progress: &mut progress,
            stall_timeout: Duration::from_secs(300),
            probe_timeout: Duration::from_secs(60),
        },
    )?;
    let wall = started.elapsed();
    let (cpu1, _) = cpu_times();
    let size = |res: u32| {
        t.hls
            .files
            .iter()
            .find(|f| f.resolution == res)
            .map_or(0, |f| f.size)
    };
    Ok(Measure {
        wall,
        cpu: cpu1 - cpu0,
        sizes: [size(720), size(480)],
    })
}

fn ffmpeg(
    source: &Path,
    out: &Path,
    input_bitrate: u64,
    threads: Option<&str>,
) -> Result<Measure, Error> {
    let (_, cpu0) = cpu_times();
    let started = Instant::now();
    let mut sizes = [0u64; 2];
    for (i, res) in LADDER.into_iter().enumerate() {
        let (w, h) = ladder::dimensions(1920, 1080, res);
        let target =
            ladder::target_bitrate(Some(input_bitrate), res, ladder::aspect_ratio(w, h), 30.0);
        let segment = out.join(format!("ff-{res}-fragmented.mp4"));
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-hide_banner", "-loglevel", "error", "-y", "-i"])
            .arg(source);
        if let Some(t) = threads {
            cmd.args(["-threads", t]);
        }
        // PeerTube's VOD HLS command (packages/ffmpeg: presets, encoder options, HLS options).
        cmd.args(["-max_muxing_queue_size", "1024", "-map_metadata", "-1"])
            .args(["-pix_fmt", "yuv420p", "-c:v", "libx264"])
            .args(["-vf", &format!("scale=w=-2:h={res}")])
            .args(["-preset", "veryfast"])
            .args(["-maxrate:v", &target.to_string()])
            .args(["-bufsize:v", &(target * 2).to_string()])
            .args(["-b_strategy", "1", "-bf", "16", "-r", "30", "-g:v", "60"])
            .args(["-c:a", "copy"])
            .args([
                "-hls_time",
                "4",
                "-hls_list_size",
                "0",
                "-hls_playlist_type",
                "vod",
            ])
            .arg("-hls_segment_filename")
            .arg(&segment)
            .args([
                "-hls_segment_type",
                "fmp4",
                "-f",
                "hls",
                "-hls_flags",
                "single_file",
            ])
            .arg(out.join(format!("ff-{res}.m3u8")));
        let status = cmd.status()?;
        if !status.success() {
            return Err(format!("ffmpeg failed for {res}p: {status}").into());
        }
        sizes[i] = std::fs::metadata(&segment)?.len();
    }
    let wall = started.elapsed();
    let (_, cpu1) = cpu_times();
    Ok(Measure {
        wall,
        cpu: cpu1 - cpu0,
        sizes,
    })
}

/// The reference source of media-and-p2p.md §11: 1080p30 SMPTE bars in motion, H.264 High
/// 8 Mbit/s with a 2 s GOP, AAC-LC 128 kbit/s stereo, 60 s.
fn make_source(path: &Path) -> Result<(), Error> {
    let tmp = path.with_extension("part");
    let description = format!(
        "videotestsrc num-buffers={} pattern=smpte horizontal-speed=4 ! video/x-raw,width=1920,height=1080,framerate=30/1,format=I420 \
         ! x264enc speed-preset=veryfast bitrate=8000 key-int-max=60 ! video/x-h264,profile=high ! h264parse \
         ! mp4mux name=mux faststart=true ! filesink location={} \
         audiotestsrc num-buffers={} samplesperbuffer=960 wave=sine freq=440 ! audio/x-raw,rate=48000,channels=2 ! audioconvert \
         ! avenc_aac bitrate=128000 ! aacparse ! mux.",
        SECS * 30,
        tmp.display(),
        SECS * 50
    );
    let pipeline = gst::parse::launch(&description)?;
    pipeline.set_state(gst::State::Playing)?;
    let bus = pipeline.bus().ok_or("no bus")?;
    let msg = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(3600),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .ok_or("source generation timed out")?;
    pipeline.set_state(gst::State::Null)?;
    if let gst::MessageView::Error(e) = msg.view() {
        return Err(format!("source generation failed: {}", e.error()).into());
    }
    std::fs::rename(&tmp, path)?;
    Ok(())
}
