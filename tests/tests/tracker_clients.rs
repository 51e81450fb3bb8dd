//! The node's tracker as real BitTorrent clients use it: `bittorrent-tracker` (the npm
//! client WebTorrent and PeerTube's p2p-media-loader are built on) over the WebSocket and the
//! HTTP announce, in a private node's swarm of one of its videos; and input no client should
//! send, which must leave the swarm's members undisturbed. The clients run in Node
//! (tests/tracker/*.mjs); each scenario prints what the clients saw and the assertions are
//! here. WebRTC itself is out of scope: the clients' peer connections produce offers and
//! answers but never connect (tests/tracker/fake-webrtc).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use peerbox_e2e::{Node, make_clip, wait_until};
use serde_json::Value;

/// A node in its default private mode with one published video; returns the URL of the
/// video's HLS master playlist. Its first variant's swarm (as PeerTube's player names it,
/// see tests/tracker/lib.mjs) is the one the tests use: the node serves it, and nothing
/// but the test's clients joins it (the node's own BitTorrent seeder announces the files'
/// torrents, not the HLS swarms).
fn node_with_video() -> (Node, String) {
    let node = Node::start();
    let work = tempfile::tempdir().expect("temp dir");
    let clip = make_clip(work.path(), "swarm.mp4");
    let admin = node.admin();
    let channel = admin.channel_id.to_string();
    let up = node.upload_ok(
        &admin.token,
        &[("name", "Swarm"), ("channelId", &channel), ("privacy", "1")],
        &clip,
    );
    let uuid = up["uuid"].as_str().expect("uuid").to_string();
    let mut video = Value::Null;
    let done = wait_until(Duration::from_secs(120), || {
        video = node.video(&uuid, Some(&admin.token));
        video["state"]["id"] != 2
    });
    assert!(done && video["state"]["id"] == 1, "not published: {video}");
    let master = video["streamingPlaylists"][0]["playlistUrl"]
        .as_str()
        .expect("streamingPlaylists[0].playlistUrl")
        .to_string();
    (node, master)
}

/// Runs tests/tracker/SCRIPT with `args`; returns its JSON report.
fn scenario(script: &str, args: &[&str]) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tracker")
        .join(script);
    let out = Command::new("node")
        .arg(path)
        .args(args)
        .output()
        .expect("running node (install test dependencies with `just deps`)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script} failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "no report from {script} ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn counts(v: &Value) -> (u64, u64) {
    (
        v["complete"].as_u64().unwrap_or(u64::MAX),
        v["incomplete"].as_u64().unwrap_or(u64::MAX),
    )
}

#[test]
fn bittorrent_tracker_clients_meet_count_and_leave() {
    let (node, master) = node_with_video();
    let r = scenario("swarm.mjs", &[&node.base_url(), &master]);
    let ws = &r["ws"];

    // WebSocket: the first peer is alone; the second is counted with it.
    assert_eq!(counts(&ws["aFirst"]), (0, 1), "{ws}");
    assert_eq!(ws["aFirst"]["interval"], 120, "{ws}");
    assert_eq!(counts(&ws["bFirst"]), (0, 2), "{ws}");
    // B's offer reached A, naming B; A's answer reached B, naming A.
    assert_eq!(ws["aMetThrough"], ws["ids"]["b"], "A saw B's offer: {ws}");
    assert_eq!(ws["bMetThrough"], ws["ids"]["a"], "B saw A's answer: {ws}");
    // B completes (a seeder now), C joins; scrape counts all three and the completion.
    assert_eq!(counts(&ws["bCompleted"]), (1, 1), "{ws}");
    assert_eq!(counts(&ws["cFirst"]), (1, 2), "{ws}");
    assert_eq!(counts(&ws["scrapeAll"]), (1, 2), "{ws}");
    assert_eq!(ws["scrapeAll"]["downloaded"], 1, "{ws}");
    // B's "stopped" and C's closed socket both take them out; the completion stays counted.
    assert_eq!(counts(&ws["scrapeAfterLeaving"]), (0, 1), "{ws}");
    assert_eq!(ws["scrapeAfterLeaving"]["downloaded"], 1, "{ws}");
    assert_eq!(counts(&ws["aAlone"]), (0, 1), "{ws}");
    assert_eq!(
        ws["warnings"],
        serde_json::json!([]),
        "no client saw a warning: {ws}"
    );
    // A private node refuses a swarm it does not serve, with a reason the client shows.
    assert_eq!(ws["unknown"], "unknown infohash", "{ws}");

    // HTTP: compact peer lists carry the other client's address and announced port.
    let http = &r["http"];
    assert_eq!(counts(&http["h1First"]), (0, 1), "{http}");
    assert_eq!(counts(&http["h2First"]), (0, 2), "{http}");
    assert_eq!(http["h2Peer"], "127.0.0.1:6881", "{http}");
    assert_eq!(http["h1Peer"], "127.0.0.1:6882", "{http}");
    assert_eq!(counts(&http["h2Completed"]), (1, 1), "{http}");
    assert_eq!(counts(&http["scrapeAll"]), (1, 1), "{http}");
    assert_eq!(http["scrapeAll"]["downloaded"], 1, "{http}");
    assert_eq!(counts(&http["scrapeAfterStop"]), (0, 1), "{http}");
    assert_eq!(http["unknown"], "unknown infohash", "{http}");
}

#[test]
fn bad_input_is_refused_and_the_swarm_carries_on() {
    let (node, master) = node_with_video();
    // The node's limits: 3000 announces per address per minute, 1000 peers per swarm.
    let r = scenario(
        "bad-input.mjs",
        &[&node.base_url(), &master, "3200", "1100"],
    );
    assert_eq!(r["metBefore"], true, "{r}");

    let malformed = r["malformed"].as_object().expect("malformed");
    for (name, reason) in malformed {
        assert!(
            reason.as_str().is_some_and(|s| !s.is_empty()),
            "{name}: a failure reason, got {reason}"
        );
    }
    assert_eq!(
        r["afterBinaryFrame"], "scrape",
        "a binary frame is ignored and the socket stays usable: {r}"
    );
    // Invalid UTF-8 in a text frame, a frame over the size limit, a message over it in
    // small fragments: the tracker ends that connection (a null code: still open after 3 s).
    for (name, code) in r["closed"].as_object().expect("closed") {
        assert!(code.is_u64(), "{name}: the connection must close: {r}");
    }
    assert_eq!(r["metAfterBadFrames"], true, "{r}");

    assert_eq!(
        r["answerToLeftPeer"],
        Value::Null,
        "an answer to a peer that left gets nothing back: {r}"
    );
    assert!(
        r["scrapeAfterLateAnswer"]["incomplete"].is_u64(),
        "and the sender can go on: {r}"
    );

    let flood = &r["flood"];
    assert_eq!(flood["accepted"], 3000, "{flood}");
    assert_eq!(flood["refused"], 200, "{flood}");
    assert_eq!(flood["other"], serde_json::json!([]), "{flood}");
    assert!(
        flood["otherAddress"]["incomplete"].is_u64(),
        "another address is not limited: {flood}"
    );
    assert_eq!(
        flood["otherAddressWarnings"],
        serde_json::json!([]),
        "{flood}"
    );
    assert_eq!(r["metAfterFlood"], true, "{r}");

    let fill = &r["fill"];
    let (seeders, leechers) = counts(&fill["scrapeFull"]);
    assert_eq!(
        seeders + leechers,
        1000,
        "the swarm stops at its cap: {fill}"
    );
    assert_eq!(
        fill["accepted"].as_u64().expect("accepted") + fill["refused"].as_u64().expect("refused"),
        1100,
        "{fill}"
    );
    assert!(fill["refused"].as_u64() > Some(100), "{fill}");
    assert_eq!(fill["other"], serde_json::json!([]), "{fill}");
    assert_eq!(fill["latecomer"], "swarm is full", "{fill}");
    assert!(
        fill["memberUpdate"]["incomplete"].is_u64(),
        "members still announce: {fill}"
    );
    let (s, l) = counts(&fill["scrapeAfterClose"]);
    assert!(
        s + l < 10,
        "the filler's peers left with its connection: {fill}"
    );

    let http = r["http"].as_object().expect("http");
    for name in [
        "empty",
        "noPort",
        "portTooBig",
        "shortInfoHash",
        "longPeerId",
        "brokenEscapes",
        "unknownInfoHash",
    ] {
        let got = &http[name];
        assert_eq!(got["status"], 200, "{name}: {got}");
        assert!(
            got["failure"]
                .as_str()
                .is_some_and(|f| !f.is_empty() && !f.starts_with('d')),
            "{name}: a bencoded failure reason, got {got}"
        );
    }
    let huge = &http["hugeQuery"];
    assert!(
        huge["status"] == 200 && huge["failure"].is_string()
            || huge["status"]
                .as_u64()
                .is_some_and(|s| (400..500).contains(&s)),
        "a huge query is refused: {huge}"
    );
    assert!(
        http["scrapeGarbage"]["body"]
            .as_str()
            .is_some_and(|b| b.starts_with("d5:filesd")),
        "{http:?}"
    );
    assert!(http["realClientAfter"]["incomplete"].is_u64(), "{http:?}");

    assert_eq!(r["metAtEnd"], true, "{r}");
    assert_eq!(
        r["unexpected"],
        serde_json::json!([]),
        "the swarm's members saw no warning: {r}"
    );
}
