//! Classic BitTorrent clients get a video from the node: Debian's aria2c, given the torrent
//! of a fragmented MP4 from the API's `torrentUrl`, finds the node's embedded librqbit peer
//! through the node's tracker, or fetches from the web seed, and ends with the node's file
//! byte for byte. Seeding resumes after a restart without hashing the files again, and
//! stops when a video is deleted; private videos are neither web-seeded nor seeded.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use peerbox_e2e::{Node, make_clip_sized, send, wait_until};
use reqwest::{Method, StatusCode};
use serde_json::Value;

fn published(node: &Node, uuid: &str, token: &str) -> Value {
    let mut video = Value::Null;
    let ok = wait_until(Duration::from_secs(240), || {
        video = node.video(uuid, Some(token));
        video["state"]["id"] == 1
            && video["streamingPlaylists"][0]["files"]
                .as_array()
                .is_some_and(|f| !f.is_empty() && f.iter().all(|f| f["torrentUrl"].is_string()))
    });
    assert!(ok, "video {uuid} not published with torrents: {video}");
    video
}

fn upload(node: &Node, token: &str, channel: &str, clip: &Path, privacy: &str) -> String {
    let up = node.upload_ok(
        token,
        &[
            ("name", "Torrent walk"),
            ("channelId", channel),
            ("privacy", privacy),
        ],
        clip,
    );
    up["uuid"].as_str().expect("uuid").to_string()
}

/// The infohash from a magnet's `xt=urn:btih:`.
fn info_hash(magnet: &str) -> String {
    let at = magnet.find("xt=urn:btih:").expect("xt in the magnet") + 12;
    magnet[at..at + 40].to_string()
}

fn seeding_state(node: &Node, info_hash: &str) -> PathBuf {
    node.data_dir()
        .join("seeding")
        .join(format!("{info_hash}.bitv"))
}

struct Run {
    file: Vec<u8>,
    log: String,
}

/// aria2c with only what the torrent names: no DHT, no local discovery, no peer exchange.
fn aria2c(work: &Path, torrent: &[u8], name: &str, extra: &[&str]) -> Run {
    let dir = tempfile::tempdir_in(work).expect("temp dir");
    let torrent_path = dir.path().join("t.torrent");
    std::fs::write(&torrent_path, torrent).expect("writing the torrent");
    let out = dir.path().join("out");
    let log = dir.path().join("aria2.log");
    let status = Command::new("timeout")
        .arg("180")
        .arg("aria2c")
        .args([
            "--enable-dht=false",
            "--enable-dht6=false",
            "--bt-enable-lpd=false",
            "--enable-peer-exchange=false",
            "--seed-time=0",
            "--bt-stop-timeout=60",
            "--summary-interval=0",
            "--console-log-level=warn",
            "--log-level=debug",
        ])
        .arg(format!("--log={}", log.display()))
        .arg(format!("--dir={}", out.display()))
        .args(extra)
        .arg(&torrent_path)
        .status()
        .expect("running aria2c (install test dependencies: scripts/install-deps test)");
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        status.success(),
        "aria2c failed ({status}); its log:\n{log}"
    );
    let file = std::fs::read(out.join(name)).expect("aria2c's download");
    Run { file, log }
}

/// Bytes aria2c received in BitTorrent `piece` messages, from its debug log.
fn bytes_from_peers(log: &str) -> usize {
    log.lines()
        .filter(|l| l.contains(" - From: ") && l.contains(" piece index="))
        .filter_map(|l| l.rsplit("length=").next()?.trim().parse::<usize>().ok())
        .sum()
}

/// Lines of aria2c's log that mention `needle`.
fn mentions(log: &str, needle: &str) -> usize {
    log.lines().filter(|l| l.contains(needle)).count()
}

#[test]
fn aria2c_downloads_from_the_seeding_node_and_from_the_web_seed() {
    let mut node = Node::start();
    let work = tempfile::tempdir().expect("temp dir");
    let clip = make_clip_sized(work.path(), "walk.mp4", 6, "320x240");
    let admin = node.admin();
    let channel = admin.channel_id.to_string();
    let public = upload(&node, &admin.token, &channel, &clip, "1");
    let private = upload(&node, &admin.token, &channel, &clip, "3");

    let video = published(&node, &public, &admin.token);
    let file = &video["streamingPlaylists"][0]["files"][0];
    let file_url = file["fileUrl"].as_str().expect("fileUrl");
    let name = file_url.rsplit('/').next().expect("file name");
    let resolution = file["resolution"]["id"].as_u64().expect("resolution");
    // PeerTube's names and shapes.
    assert_eq!(
        file["torrentUrl"],
        node.url(&format!(
            "/lazy-static/torrents/{public}-{resolution}-hls.torrent"
        ))
    );
    assert_eq!(
        file["torrentDownloadUrl"],
        node.url(&format!(
            "/download/torrents/{public}-{resolution}-hls.torrent"
        ))
    );
    let magnet = file["magnetUri"].as_str().expect("magnetUri");
    for part in ["xs=", "&dn=", "&tr=ws", "&tr=http", "&ws=http"] {
        assert!(magnet.contains(part), "{part} in {magnet}");
    }
    let hash = info_hash(magnet);
    assert!(
        name.ends_with(&format!("-{resolution}-fragmented.mp4")),
        "{name}"
    );
    assert_eq!(
        file["size"].as_u64(),
        Some(node.download(file_url, None).len() as u64)
    );
    let expected = node.download(file_url, None);

    let torrent = node.download(file["torrentUrl"].as_str().expect("torrentUrl"), None);
    let announce = node.url("/tracker/announce");
    let socket = node.url("/tracker/socket").replacen("http", "ws", 1);
    for tracker in [&announce, &socket] {
        assert!(
            torrent
                .windows(tracker.len())
                .any(|w| w == tracker.as_bytes()),
            "{tracker} in the torrent"
        );
    }
    // BEP 19: the web seed is the last key of the outer dictionary, the file's public URL.
    let url_list = format!("8:url-listl{}:{file_url}ee", file_url.len());
    assert!(
        torrent.ends_with(url_list.as_bytes()),
        "url-list last in the outer dictionary: {}",
        String::from_utf8_lossy(&torrent[torrent.len().saturating_sub(200)..])
    );
    // The same torrent without it (the infohash is of the info dictionary only).
    let peers_only = [&torrent[..torrent.len() - url_list.len()], b"e"].concat();

    // 1. No web seed: every byte from the librqbit peer the tracker introduces.
    wait_until(Duration::from_secs(30), || {
        seeding_state(&node, &hash).exists()
    });
    let run = aria2c(work.path(), &peers_only, name, &[]);
    assert!(
        run.file == expected,
        "peer download differs from the node's file"
    );
    assert!(
        mentions(&run.log, "/tracker/announce?") > 0,
        "aria2c announced to the node's tracker:\n{}",
        run.log
    );
    assert_eq!(mentions(&run.log, "GET /static/"), 0, "no web seed used");
    assert!(
        mentions(&run.log, "handshake peerId=-rQ") > 0,
        "aria2c met the node's librqbit peer:\n{}",
        run.log
    );
    assert_eq!(
        bytes_from_peers(&run.log),
        expected.len(),
        "every byte came in piece messages from the peer"
    );

    // 2. No tracker: every byte from the web seed over HTTP.
    let run = aria2c(work.path(), &torrent, name, &["--bt-exclude-tracker=*"]);
    assert!(
        run.file == expected,
        "web seed download differs from the node's file"
    );
    assert!(
        mentions(
            &run.log,
            &format!("GET /static/streaming-playlists/hls/{public}/{name}")
        ) > 0,
        "aria2c fetched from the web seed:\n{}",
        run.log
    );
    assert_eq!(mentions(&run.log, "/tracker/announce?"), 0);
    assert_eq!(bytes_from_peers(&run.log), 0);

    // 3. The torrent as served (aria2c skips the WebSocket tracker, which it cannot speak,
    // for the HTTP one; a small file often comes whole from the web seed before that).
    let run = aria2c(work.path(), &torrent, name, &[]);
    assert!(
        run.file == expected,
        "download differs from the node's file"
    );

    // A private video: its torrent for allowed viewers only, with no web seed, not seeded.
    let hidden = published(&node, &private, &admin.token);
    let hidden_file = &hidden["streamingPlaylists"][0]["files"][0];
    let hidden_url = hidden_file["torrentUrl"].as_str().expect("torrentUrl");
    assert_ne!(node.get(hidden_url, None).status(), StatusCode::OK);
    let hidden_torrent = node.download(hidden_url, Some(&admin.token));
    assert!(
        !hidden_torrent.windows(8).any(|w| w == b"url-list"),
        "no web seed for a private video"
    );
    let hidden_magnet = hidden_file["magnetUri"].as_str().expect("magnetUri");
    assert!(!hidden_magnet.contains("&ws="), "{hidden_magnet}");
    let hidden_hash = info_hash(hidden_magnet);

    // 4. A restart resumes seeding from the saved piece bitfield: no new full check (which
    // would replace the bitfield file by a new one), and the peer serves again.
    let state = seeding_state(&node, &hash);
    let first_inode = inode(&state);
    node.restart();
    let run = aria2c(work.path(), &peers_only, name, &[]);
    assert!(run.file == expected, "peer download after restart differs");
    assert_eq!(
        inode(&state),
        first_inode,
        "bitfield rewritten: the file was hashed again"
    );
    assert!(
        !seeding_state(&node, &hidden_hash).exists(),
        "private video seeded"
    );

    // 5. Deleting the video stops its seeding and its swarm.
    let r = send(node.req(
        Method::DELETE,
        &format!("/api/v1/videos/{public}"),
        Some(&admin.token),
    ));
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(
        wait_until(Duration::from_secs(20), || !state.exists()),
        "still seeding a deleted video"
    );
    assert_eq!(
        node.get(file["torrentUrl"].as_str().expect("url"), None)
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(node.get(file_url, None).status(), StatusCode::NOT_FOUND);
}

fn inode(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).expect("seeding state").ino()
}
