//! An uploaded video becomes HLS that a browser plays: hls.js 1.5 (the version PeerTube's
//! player uses) in Debian's Chromium, through the node's own file routes. And a node killed
//! in the middle of a transcode never serves partial outputs and finishes the job after a
//! restart.

use std::process::Command;
use std::time::Duration;

use peerbox_e2e::{Node, make_clip_sized, wait_until};
use serde_json::Value;

fn published(node: &Node, uuid: &str, token: &str, timeout: Duration) -> Value {
    let mut video = Value::Null;
    let ok = wait_until(timeout, || {
        video = node.video(uuid, Some(token));
        video["state"]["id"] != 2
    });
    assert!(ok, "video {uuid} still to transcode after {timeout:?}");
    assert_eq!(video["state"]["id"], 1, "not published: {video}");
    video
}

/// Plays `url` with hls.js in headless Chromium; returns the player's report.
fn play(url: &str, seconds: u32) -> Value {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("browser/play-hls.mjs");
    let out = Command::new("node")
        .arg(script)
        .args([url, &seconds.to_string(), "90"])
        .output()
        .expect("running node (install test dependencies with `just deps`)");
    let report = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(report.trim()).unwrap_or_else(|_| {
        panic!(
            "no report from the player: {report}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn an_upload_plays_in_a_browser_with_hls_js() {
    let node = Node::start();
    let work = tempfile::tempdir().expect("temp dir");
    let clip = make_clip_sized(work.path(), "walk.mp4", 12, "640x360");
    let admin = node.admin();
    let channel = admin.channel_id.to_string();
    let up = node.upload_ok(
        &admin.token,
        &[
            ("name", "A walk"),
            ("channelId", &channel),
            ("privacy", "1"),
        ],
        &clip,
    );
    let uuid = up["uuid"].as_str().expect("uuid");
    let video = published(&node, uuid, &admin.token, Duration::from_secs(180));

    let hls = &video["streamingPlaylists"][0];
    let resolutions: Vec<u64> = hls["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["resolution"]["id"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(
        resolutions.iter().max(),
        Some(&360),
        "the ladder never goes above the source: {resolutions:?}"
    );
    assert!(
        video["duration"]
            .as_u64()
            .is_some_and(|d| (11..=13).contains(&d)),
        "duration {}",
        video["duration"]
    );
    assert!(
        video["thumbnailPath"].is_string() && video["previewPath"].is_string(),
        "{video}"
    );

    let report = play(hls["playlistUrl"].as_str().expect("playlistUrl"), 5);
    assert_eq!(report["ok"], true, "playback did not pass 5 s: {report}");
    assert_eq!(report["errors"], serde_json::json!([]), "{report}");
    assert!(
        report["currentTime"].as_f64().is_some_and(|t| t > 5.0),
        "{report}"
    );
    assert_eq!(
        report["levels"].as_array().map(Vec::len),
        Some(resolutions.len()),
        "{report}"
    );
}

#[test]
fn a_node_killed_mid_transcode_finishes_the_job_after_restart() {
    let mut node = Node::start();
    let work = tempfile::tempdir().expect("temp dir");
    // Long and large enough that the transcode is still running when the node is killed.
    let clip = make_clip_sized(work.path(), "long.mp4", 40, "1280x720");
    let admin = node.admin();
    let channel = admin.channel_id.to_string();
    let up = node.upload_ok(
        &admin.token,
        &[
            ("name", "Long one"),
            ("channelId", &channel),
            ("privacy", "1"),
        ],
        &clip,
    );
    let uuid = up["uuid"].as_str().expect("uuid").to_string();

    let running = wait_until(Duration::from_secs(60), || {
        let jobs = node.get_json("/api/v1/jobs/active", Some(&admin.token));
        jobs["data"].as_array().is_some_and(|j| !j.is_empty())
    });
    assert!(running, "the transcoding job never became active");
    std::thread::sleep(Duration::from_millis(1500));
    node.kill9();

    // Killed: the catalog does not point at outputs, and nothing of them is published.
    let hls_dir = node.data_dir().join("media/streaming-playlists/hls");
    assert!(
        !hls_dir.join(&uuid).exists(),
        "a partial HLS folder was published"
    );

    node.restart();
    let token = node.admin().token;
    let video = published(&node, &uuid, &token, Duration::from_secs(300));
    let leftovers: Vec<_> = std::fs::read_dir(&hls_dir)
        .expect("hls dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "staging folders left: {leftovers:?}");
    let jobs = node.get_json("/api/v1/jobs/completed", Some(&token));
    assert_eq!(
        jobs["data"][0]["attempts"], 2,
        "the job ran again after the restart: {jobs}"
    );
    let report = play(
        video["streamingPlaylists"][0]["playlistUrl"]
            .as_str()
            .expect("playlistUrl"),
        5,
    );
    assert_eq!(report["ok"], true, "{report}");
}
