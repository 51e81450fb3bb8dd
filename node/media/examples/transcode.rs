//! Transcodes one file into a folder as a worker would: `transcode SOURCE OUT_DIR [BOARD]`.

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(source), Some(out)) = (args.get(1), args.get(2)) else {
        return Err("usage: transcode SOURCE OUT_DIR [BOARD]".into());
    };
    let board = peerbox_hwaccel::BoardConfig::load(args.get(3).map_or("x86-64", |s| s.as_str()))?;
    peerbox_media::init()?;
    let encoders = peerbox_hwaccel::discover(&board)?;
    std::fs::create_dir_all(out)?;
    let cancel = AtomicBool::new(false);
    let mut progress = |p: u8| eprint!("\r{p:3} %");
    let started = Instant::now();
    let t = peerbox_media::transcode(
        source.as_ref(),
        out.as_ref(),
        peerbox_media::Options {
            board: &board,
            encoders: &encoders,
            cancel: &cancel,
            progress: &mut progress,
            stall_timeout: Duration::from_secs(120),
            probe_timeout: Duration::from_secs(30),
        },
    )?;
    eprintln!("\rdone in {:.2} s", started.elapsed().as_secs_f64());
    println!("master: {}", t.hls.master);
    for f in &t.hls.files {
        println!(
            "{}p {}x{} {} fps {} bytes: {}",
            f.resolution, f.width, f.height, f.fps, f.size, f.fragmented
        );
    }
    Ok(())
}
