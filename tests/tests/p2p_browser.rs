//! Peer-to-peer delivery between real browsers: two separate headless Chromium processes
//! watch the same video on its watch page, and the second takes most of its media from the
//! first over WebRTC, each segment checked against `segments-sha256.json`; a peer that serves
//! altered bytes is caught and the node serves the segment instead. A viewer who turns P2P
//! off (or an embed with `p2p=0`) does not connect to the tracker and still plays.
//!
//! WebRTC needs addresses that are not loopback, so each test makes a network namespace
//! linked to this one by a veth pair: the node listens on the link's host end and both
//! browsers run inside the namespace. That needs root (CAP_NET_ADMIN) and iproute2.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use peerbox_e2e::{Node, wait_until};
use serde_json::Value;

/// A network namespace with a veth link to this one and a default route through it.
struct Netns {
    name: String,
    host_if: String,
    /// This side's address, where the node listens.
    host_addr: String,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `ip` (iproute2): {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Netns {
    fn create() -> Netns {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let id = format!(
            "{}{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        // A /30 of 198.18.0.0/15 (reserved for network tests) per namespace.
        let slot = id.parse::<u32>().unwrap_or(0) % 16_384;
        let (a, b) = (slot / 64, (slot % 64) * 4);
        let ns = Netns {
            name: format!("pbx{id}"),
            host_if: format!("pbx{id}h"),
            host_addr: format!("198.18.{a}.{}", b + 1),
        };
        let inner = format!("198.18.{a}.{}", b + 2);
        let ns_if = format!("pbx{id}n");
        let setup = || -> Result<(), String> {
            ip(&["netns", "add", &ns.name])?;
            ip(&[
                "link",
                "add",
                &ns.host_if,
                "type",
                "veth",
                "peer",
                "name",
                &ns_if,
                "netns",
                &ns.name,
            ])?;
            ip(&[
                "addr",
                "add",
                &format!("{}/30", ns.host_addr),
                "dev",
                &ns.host_if,
            ])?;
            ip(&["link", "set", &ns.host_if, "up"])?;
            ip(&[
                "-n",
                &ns.name,
                "addr",
                "add",
                &format!("{inner}/30"),
                "dev",
                &ns_if,
            ])?;
            ip(&["-n", &ns.name, "link", "set", &ns_if, "up"])?;
            ip(&["-n", &ns.name, "link", "set", "lo", "up"])?;
            ip(&[
                "-n",
                &ns.name,
                "route",
                "add",
                "default",
                "via",
                &ns.host_addr,
            ])
        };
        if let Err(e) = setup() {
            panic!(
                "this test needs its own network namespace (run it as root, with iproute2): {e}"
            );
        }
        ns
    }

    /// Runs `node tests/browser/SCRIPT ARGS` inside the namespace; returns its JSON report.
    fn browser(&self, script: &str, args: &[&str]) -> Value {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name, "node"])
            .arg(Path::new("browser").join(script))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("running node in the namespace (install it with `just deps`)");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let report: Value = stdout
            .lines()
            .last()
            .and_then(|l| serde_json::from_str(l).ok())
            .unwrap_or_else(|| {
                panic!(
                    "{script} printed no report; stdout: {stdout}\nstderr: {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            });
        assert!(report["error"].is_null(), "{script} failed: {report}");
        assert_eq!(
            report["pageErrors"],
            serde_json::json!([]),
            "{script}: script errors on the pages"
        );
        report
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.name]);
        let _ = ip(&["link", "del", &self.host_if]);
    }
}

/// One small rendition (so both viewers play the same one), kept as it is by the node, with
/// a keyframe every 2 s so that it packages into ~4 s segments: 90 s makes ~22 of them, and
/// the few the second viewer fetches from the node before it finds its peer are a small part.
fn lecture_clip(dir: &Path) -> PathBuf {
    let path = dir.join("lecture.mp4");
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-f", "lavfi"])
        .args([
            "-i",
            "testsrc2=duration=90:size=256x144:rate=25",
            "-f",
            "lavfi",
        ])
        .args(["-i", "sine=frequency=440:duration=90"])
        .args([
            "-c:v", "libx264", "-g", "50", "-pix_fmt", "yuv420p", "-c:a", "aac",
        ])
        .arg(&path)
        .output()
        .expect("running ffmpeg (install it with `just deps`)");
    assert!(
        out.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

/// A node reachable from a fresh namespace, with one published video.
struct Published {
    /// Serves the pages for as long as the test holds this.
    _node: Node,
    /// The watch page, `/w/{shortUUID}`.
    watch: String,
    /// The embed, `/videos/embed/{uuid}`.
    embed: String,
    /// The video's segment hashes: file -> range -> SHA-256.
    hashes: HashMap<String, HashMap<String, String>>,
}

fn node_with_video(ns: &Netns) -> Published {
    let node = Node::start_on(&ns.host_addr, &[]);
    let work = tempfile::tempdir().expect("temp dir");
    let clip = lecture_clip(work.path());
    let admin = node.admin();
    let channel = admin.channel_id.to_string();
    let up = node.upload_ok(
        &admin.token,
        &[
            ("name", "A lecture"),
            ("channelId", &channel),
            ("privacy", "1"),
        ],
        &clip,
    );
    let uuid = up["uuid"].as_str().expect("uuid").to_string();
    let mut video = Value::Null;
    let done = wait_until(Duration::from_secs(300), || {
        video = node.video(&uuid, Some(&admin.token));
        video["state"]["id"] != 2
    });
    assert!(done && video["state"]["id"] == 1, "not published: {video}");
    let hls = &video["streamingPlaylists"][0];
    let sha_url = hls["segmentsSha256Url"]
        .as_str()
        .expect("segmentsSha256Url");
    let hashes: HashMap<String, HashMap<String, String>> =
        serde_json::from_slice(&node.download(sha_url, None)).expect("segments-sha256.json");
    let watch = node.url(&format!(
        "/w/{}",
        video["shortUUID"].as_str().expect("shortUUID")
    ));
    let embed = node.url(&format!("/videos/embed/{uuid}"));
    Published {
        _node: node,
        watch,
        embed,
        hashes,
    }
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

/// Every segment hls.js received is byte for byte the node's; returns their total size.
fn assert_handed_segments_are_genuine(
    second: &Value,
    hashes: &HashMap<String, HashMap<String, String>>,
) -> f64 {
    let handed = second["handedToHls"].as_array().expect("handedToHls");
    assert!(!handed.is_empty(), "hls.js received no segment");
    for s in handed {
        let file = s["file"].as_str().unwrap_or("");
        let range = s["range"].as_str().unwrap_or("");
        assert_eq!(
            hashes.get(file).and_then(|r| r.get(range)),
            s["sha256"].as_str().map(str::to_string).as_ref(),
            "hls.js played bytes that are not the node's for {file} {range}"
        );
    }
    handed.iter().map(|s| f(&s["bytes"])).sum()
}

#[test]
fn the_second_viewer_gets_most_media_from_the_first() {
    let ns = Netns::create();
    // `_node` (not `..`) keeps the node running to the end of the test.
    let Published {
        _node,
        watch,
        hashes,
        ..
    } = node_with_video(&ns);
    let started = Instant::now();
    let report = ns.browser("p2p-swarm.mjs", &[&watch, "share"]);
    let (first, second) = (&report["first"], &report["second"]);
    let stats = &second["stats"];

    let played = assert_handed_segments_are_genuine(second, &hashes);
    let from_peers = f(&stats["bytesFromPeers"]);
    let from_server = f(&stats["bytesFromServer"]);
    let share = from_peers / (from_peers + from_server).max(1.0);
    // The same figure from the network: what the second browser fetched from the node.
    let seen_from_server = f(&second["serverMediaBytes"]);
    println!(
        "second viewer: {from_peers} B from peers, {from_server} B from the node ({:.1} % from peers); \
         {seen_from_server} B of media requests to the node for {played} B played; \
         segments {} ; first viewer uploaded {} B; loaded all in {} s and {} s; test {:.0} s",
        share * 100.0,
        stats["segments"],
        first["afterSharing"]["stats"]["bytesToPeers"],
        first["secondsToLoadAll"],
        second["secondsToLoadAll"],
        started.elapsed().as_secs_f64()
    );

    assert_eq!(stats["active"], true, "P2P was not on: {second}");
    assert!(
        share >= 0.6,
        "only {:.1} % of the second viewer's media came from the first: {second}",
        share * 100.0
    );
    assert!(
        seen_from_server <= 0.4 * played,
        "the network shows {seen_from_server} B fetched from the node for {played} B played"
    );
    assert!(
        f(&first["afterSharing"]["stats"]["bytesToPeers"]) >= from_peers,
        "the first viewer says it sent less than the second received: {first}"
    );
    // Each segment from a peer was checked, and all passed.
    assert!(f(&stats["segments"]["p2p"]) > 0.0, "{stats}");
    assert_eq!(
        stats["validated"]["p2p"], stats["segments"]["p2p"],
        "{stats}"
    );
    assert_eq!(
        stats["rejected"],
        serde_json::json!({ "p2p": 0, "http": 0 }),
        "{stats}"
    );
    // What the viewer sees under the player.
    let indicator = second["indicator"].as_str().unwrap_or("");
    assert!(
        indicator.contains("1 peer") && indicator.contains("from peers"),
        "indicator: {indicator:?}"
    );
    assert_eq!(second["switchChecked"], true);
}

#[test]
fn a_tampered_segment_from_a_peer_is_rejected_and_fetched_from_the_node() {
    let ns = Netns::create();
    let Published {
        _node,
        watch,
        hashes,
        ..
    } = node_with_video(&ns);
    let report = ns.browser("p2p-swarm.mjs", &[&watch, "tamper"]);
    let (first, second) = (&report["first"], &report["second"]);
    let stats = &second["stats"];
    println!(
        "tampering viewer uploaded {} B; second viewer: rejected {}, validated {}, {} B from peers, {} B from the node",
        first["afterSharing"]["stats"]["bytesToPeers"],
        stats["rejected"],
        stats["validated"],
        stats["bytesFromPeers"],
        stats["bytesFromServer"]
    );

    // The first viewer really did hold and offer altered segments.
    assert!(f(&report["tamperedSegments"]) > 0.0, "{report}");
    assert!(
        f(&first["afterSharing"]["stats"]["bytesToPeers"]) > 0.0,
        "the tampering viewer sent nothing: {first}"
    );
    // The second caught them, played only the node's bytes and played to the end.
    assert!(
        f(&stats["rejected"]["p2p"]) >= 1.0,
        "no segment from the peer was rejected: {stats}"
    );
    assert_eq!(
        stats["segments"]["p2p"], 0,
        "a tampered segment was kept: {stats}"
    );
    assert!(f(&stats["validated"]["http"]) > 0.0, "{stats}");
    assert_handed_segments_are_genuine(second, &hashes);
    assert!(second["error"].is_null(), "{second}");
    assert!(
        f(&second["bufferedEnd"]) >= f(&second["duration"]) - 0.5,
        "{second}"
    );
}

#[test]
fn the_p2p_switch_and_p2p_0_keep_the_player_off_the_tracker_and_playing() {
    let ns = Netns::create();
    let Published {
        _node,
        watch,
        embed,
        ..
    } = node_with_video(&ns);
    let started = Instant::now();
    let report = ns.browser("p2p-switch.mjs", &[&watch, &embed]);
    let phase = |name: &str| report[name].clone();
    let (on, off, reloaded, again, embedded) = (
        phase("on"),
        phase("off"),
        phase("reloaded"),
        phase("onAgain"),
        phase("embed"),
    );
    println!(
        "tracker sockets per phase: on {}, off {}, reloaded {}, on again {}, embed p2p=0 {}; \
         segments from the node: {}, {}, {}, {}, {}; indicators: {:?} / {:?} / {:?} / {:?} / {:?}; test {:.0} s",
        on["trackerSocketsOpened"],
        off["trackerSocketsOpened"],
        reloaded["trackerSocketsOpened"],
        again["trackerSocketsOpened"],
        embedded["trackerSocketsOpened"],
        on["segmentsFromNode"],
        off["segmentsFromNode"],
        reloaded["segmentsFromNode"],
        again["segmentsFromNode"],
        embedded["segmentsFromNode"],
        on["indicator"],
        off["indicator"],
        reloaded["indicator"],
        again["indicator"],
        embedded["indicator"],
        started.elapsed().as_secs_f64()
    );
    // Every phase played on: at least this many seconds of playback, from the node over HTTP
    // when P2P is off (no peers are there to give anything).
    let plays = |p: &Value, name: &str, seconds: f64| {
        assert!(f(&p["played"]) >= seconds, "{name}: did not play: {p}");
        assert!(
            f(&p["bufferedEnd"]) > f(&p["currentTime"]),
            "{name}: nothing buffered ahead: {p}"
        );
        assert!(p["error"].is_null(), "{name}: {p}");
    };

    // P2P on: the page joins the swarm through the node's tracker; the switch is ticked.
    assert_eq!(on["socketOpened"], true, "no tracker WebSocket: {report}");
    assert_eq!(on["switchChecked"], true, "{on}");
    assert_eq!(on["switchVisible"], true, "{on}");
    assert_eq!(on["peersShown"], true, "indicator: {}", on["indicator"]);
    assert_eq!(on["stats"]["active"], true, "{on}");
    plays(&on, "on", 3.0);

    // Unticked: the player drops the engine and its connection, opens none, says so, plays.
    assert_eq!(off["offShown"], true, "indicator: {}", off["indicator"]);
    assert_eq!(
        off["earlierClosed"], true,
        "the tracker connection stayed open: {report}"
    );
    assert_eq!(off["trackerSocketsOpened"], 0, "{report}");
    assert_eq!(off["switchChecked"], false, "{off}");
    assert_eq!(off["stats"]["active"], false, "{off}");
    assert_eq!(
        off["preference"], "false",
        "the choice was not saved: {off}"
    );
    assert!(f(&off["segmentsFromNode"]) >= 1.0, "{off}");
    plays(&off, "off", 4.0);

    // Reloaded: still off, remembered.
    assert_eq!(reloaded["trackerSocketsOpened"], 0, "{report}");
    assert_eq!(
        reloaded["offShown"], true,
        "indicator: {}",
        reloaded["indicator"]
    );
    assert_eq!(reloaded["switchChecked"], false, "{reloaded}");
    assert_eq!(reloaded["stats"]["active"], false, "{reloaded}");
    assert!(f(&reloaded["segmentsFromNode"]) >= 1.0, "{reloaded}");
    plays(&reloaded, "reloaded", 4.0);

    // Ticked again: back on the tracker.
    assert_eq!(again["socketOpened"], true, "did not reconnect: {report}");
    assert_eq!(again["switchChecked"], true, "{again}");
    assert_eq!(
        again["peersShown"], true,
        "indicator: {}",
        again["indicator"]
    );
    assert_eq!(again["stats"]["active"], true, "{again}");
    assert!(again["preference"].is_null(), "{again}");
    plays(&again, "on again", 2.0);

    // The embed with p2p=0: no tracker, no switch, says why, no IP warning, plays, although
    // this viewer's own choice is on.
    assert_eq!(embedded["trackerSocketsOpened"], 0, "{report}");
    assert!(
        embedded["switchChecked"].is_null(),
        "a switch is shown: {embedded}"
    );
    assert_eq!(
        embedded["offShown"], true,
        "indicator: {}",
        embedded["indicator"]
    );
    assert_eq!(embedded["ipWarnings"], 0, "{embedded}");
    assert_eq!(embedded["stats"]["active"], false, "{embedded}");
    assert!(f(&embedded["segmentsFromNode"]) >= 1.0, "{embedded}");
    plays(&embedded, "embed", 4.0);
}
