//! The web interface in a real browser: Debian's Chromium driven by playwright-core (the
//! scripts in tests/browser/web-*.mjs), against a real node. A user signs in, uploads
//! through the page (the connection drops once) and watches the progress bar reach 100 %,
//! follows processing on My videos, plays the video on its watch page and in an embed on
//! another site; a channel owner changes the channel's layout; script payloads stay inert.
//! Screenshots land in target/tmp/web-screenshots.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use peerbox_e2e::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-screenshots");
    std::fs::create_dir_all(&dir).expect("creating the screenshot folder");
    dir
}

/// A clip long enough to play past 5 s, and large enough to go up in several chunks.
fn long_clip(dir: &Path) -> PathBuf {
    peerbox_e2e::make_clip_at(dir, "school-play.mp4", 12, "640x360", Some("3M"))
}

/// Waits until the API says the video is published with its HLS playlist.
fn wait_published(node: &Node, uuid: &str, token: &str) -> Value {
    let mut last = Value::Null;
    let published = wait_until(Duration::from_secs(300), || {
        last = node.video(uuid, Some(token));
        last["state"]["id"] == 1 && last["streamingPlaylists"][0]["playlistUrl"].is_string()
    });
    assert!(
        published,
        "video {uuid} was not published within 5 min: state {}, error {}",
        last["state"], last["processingError"]
    );
    last
}

#[test]
fn upload_in_the_page_then_watch_and_embed() {
    let node = Node::start();
    let alice = node.create_account("alice", -1, -1);
    let dir = tempfile::tempdir().expect("temp dir");
    let clip = long_clip(dir.path());
    let shots = screenshot_dir();
    let shots = shots.to_str().expect("a UTF-8 path");
    let title = "The school play";

    let up = browser(
        "web-upload.mjs",
        &[
            &node.base_url(),
            "alice",
            &alice.password,
            clip.to_str().expect("path"),
            title,
            shots,
        ],
    );
    assert!(
        up["header"].as_str().unwrap_or("").contains("alice"),
        "signed in: {}",
        up["header"]
    );
    assert_eq!(up["dropped"], true, "the second chunk was cut off");
    let messages = up["messages"].to_string();
    assert!(
        messages.contains("Connection lost"),
        "the user is told the connection dropped: {messages}"
    );
    let progress: Vec<u64> = up["progress"]
        .as_array()
        .expect("progress values")
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    assert!(
        progress.iter().any(|p| (1..100).contains(p)),
        "the bar moved through intermediate values: {progress:?}"
    );
    assert_eq!(progress.iter().max(), Some(&100), "{progress:?}");
    assert_eq!(up["finalBarValue"], 100);
    assert_eq!(up["finalPercentText"], "100 %");
    assert!(
        up["chunks"].as_u64().unwrap_or(0) >= 3,
        "sent in several chunks: {}",
        up["chunks"]
    );

    let mine = node.get_json("/api/v1/users/me/videos", Some(&alice.token));
    let video = &mine["data"][0];
    assert_eq!(video["name"], title);
    let (uuid, short) = (
        video["uuid"].as_str().expect("uuid").to_string(),
        video["shortUUID"].as_str().expect("shortUUID").to_string(),
    );
    assert_eq!(up["watchHref"], format!("/w/{short}"));
    // The source arrived whole despite the cut: same size as the clip.
    let size = std::fs::metadata(&clip).expect("clip").len();
    assert_eq!(
        node.video(&uuid, Some(&alice.token))["files"][0]["size"],
        size
    );

    let details = wait_published(&node, &uuid, &alice.token);
    assert_eq!(
        up["finalState"], "Published",
        "My videos showed {:?}",
        up["statesSeen"]
    );
    assert_eq!(
        up["thumbnailShown"], true,
        "My videos shows the thumbnail transcoding made"
    );
    if up["firstState"] != "Published" {
        assert!(
            up["statesSeen"].as_array().is_some_and(|s| s.len() > 1),
            "My videos changed without a reload: {}",
            up["statesSeen"]
        );
    }

    let watch = browser(
        "web-watch.mjs",
        &[
            &node.base_url(),
            &format!("/w/{short}"),
            "/c/alice_channel",
            shots,
        ],
    );
    assert_eq!(watch["title"], title);
    assert!(watch["playError"].is_null(), "{}", watch["playError"]);
    assert!(
        watch["currentTime"].as_f64().unwrap_or(0.0) > 5.0,
        "played to {}",
        watch["currentTime"]
    );
    let qualities = watch["qualities"].to_string();
    let renditions = details["streamingPlaylists"][0]["files"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(
        watch["qualities"].as_array().map_or(0, Vec::len),
        renditions + 1,
        "Auto and one entry per rendition: {qualities}"
    );
    assert!(
        qualities.contains("Auto") && qualities.contains("360p"),
        "{qualities}"
    );
    assert!(
        watch["resumedAt"].as_f64().unwrap_or(0.0) >= 3.0,
        "resumed at {}",
        watch["resumedAt"]
    );
    assert!(
        watch["resumeMessage"]
            .as_str()
            .unwrap_or("")
            .starts_with("Resumed at"),
        "{}",
        watch["resumeMessage"]
    );

    let embed = browser(
        "web-embed.mjs",
        &[&node.base_url(), &uuid, &format!("/w/{short}")],
    );
    assert_eq!(embed["embedTitle"], title);
    assert_eq!(
        embed["warningShown"], 0,
        "warningTitle=0 hides the P2P warning"
    );
    assert_eq!(embed["muted"], true, "muted=1");
    assert!(embed["playError"].is_null(), "{}", embed["playError"]);
    assert!(
        embed["currentTime"].as_f64().unwrap_or(0.0) > 3.0,
        "the embed played to {}",
        embed["currentTime"]
    );
    assert!(
        !embed["watchFrameText"]
            .as_str()
            .unwrap_or("")
            .contains(title),
        "the watch page must not render in a frame"
    );
}

#[test]
fn channel_layout_choices_change_the_page() {
    let node = Node::start();
    let bob = node.create_account("bob", -1, -1);
    let dir = tempfile::tempdir().expect("temp dir");
    let clip = make_clip(dir.path(), "lesson.mp4");
    for i in 1..=6 {
        let name = format!("Lesson {i}");
        let channel = bob.channel_id.to_string();
        node.upload_ok(
            &bob.token,
            &[
                ("name", &name),
                ("channelId", &channel),
                ("privacy", "1"),
                ("waitTranscoding", "false"),
            ],
            &clip,
        );
    }
    let r = browser(
        "web-layout.mjs",
        &[
            &node.base_url(),
            "bob",
            &bob.password,
            "bob_channel",
            "Lesson 2",
            screenshot_dir().to_str().expect("path"),
        ],
    );
    let views = &r["views"];
    let cards = |v: &Value| -> Vec<String> {
        v["cards"]
            .as_array()
            .map(|c| {
                c.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };

    let default = &views["default"];
    assert_eq!(
        cards(default),
        (1..=6)
            .rev()
            .map(|i| format!("Lesson {i}"))
            .collect::<Vec<_>>()
    );
    assert!(default["featuredTitle"].is_null());

    let featured = &views["featured-newest"];
    assert_eq!(featured["featuredTitle"], "Lesson 2");
    assert_eq!(
        featured["featuredFirst"], true,
        "the featured video comes before the list"
    );
    assert_eq!(
        cards(featured),
        ["Lesson 6", "Lesson 5", "Lesson 4", "Lesson 3"],
        "older videos are hidden"
    );
    assert_eq!(featured["pager"], false);

    let follow = &views["follow-only"];
    assert!(cards(follow).is_empty(), "no videos: {:?}", cards(follow));
    assert!(follow["featuredTitle"].is_null());
    assert!(
        follow["followBox"]
            .as_str()
            .unwrap_or("")
            .contains("Follow for new videos")
    );
    assert_eq!(
        follow["feedLink"],
        format!("/feeds/videos.xml?videoChannelId={}", bob.channel_id)
    );
}

#[test]
fn script_payloads_stay_inert_in_the_browser() {
    let node = Node::start();
    let mallory = node.create_account("mallory", -1, -1);
    let title = r#"<script>alert("title")</script><img src=x onerror=alert("img")>"#;
    let description = "**Bold** <script>alert('d')</script> <img src=x onerror=alert('d')> \
        [click me](javascript:alert('link')) <svg onload=alert('svg')>";
    expect_json(
        send(
            node.req(reqwest::Method::PUT, "/api/v1/video-channels/mallory_channel", Some(&mallory.token))
                .json(&json!({ "displayName": "<svg onload=alert('c')>", "description": "<script>alert('channel')</script>" })),
        ),
        StatusCode::NO_CONTENT,
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let clip = make_clip(dir.path(), "x.mp4");
    let channel = mallory.channel_id.to_string();
    let v = node.upload_ok(
        &mallory.token,
        &[
            ("name", title),
            ("channelId", &channel),
            ("privacy", "1"),
            ("description", description),
            ("waitTranscoding", "false"),
        ],
        &clip,
    );
    let (uuid, short) = (
        v["uuid"].as_str().expect("uuid"),
        v["shortUUID"].as_str().expect("shortUUID"),
    );
    let paths = peerbox_e2e::pages_showing_mallorys_video(uuid, short);
    let mut args = vec![node.base_url(), "mallory".into(), mallory.password.clone()];
    args.extend(paths.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = browser("web-xss.mjs", &args);
    let pages = r["pages"].as_array().expect("pages");
    assert_eq!(pages.len(), paths.len());
    let mut checks = Checks::default();
    for p in pages {
        let path = &p["path"];
        if p["status"] != 200 {
            checks.fail(format!("{path}: status {}", p["status"]));
        }
        for key in ["dialogs", "violations", "injected"] {
            if p[key] != json!([]) {
                checks.fail(format!("{path}: {key} {}", p[key]));
            }
        }
        // What the user sees is the text that was typed.
        if !p["text"].as_str().unwrap_or("").contains(title) {
            checks.fail(format!("{path}: the title is not shown as text"));
        }
    }
    checks.assert_all_passed();
}

#[test]
fn owners_edit_videos_and_channels_in_the_pages() {
    let node = Node::start();
    let carol = node.create_account("carol", -1, -1);
    let dir = tempfile::tempdir().expect("temp dir");
    let clip = make_clip(dir.path(), "film.mp4");
    let channel = carol.channel_id.to_string();
    let v = node.upload_ok(
        &carol.token,
        &[
            ("name", "First cut"),
            ("channelId", &channel),
            ("privacy", "1"),
            ("waitTranscoding", "false"),
        ],
        &clip,
    );
    let uuid = v["uuid"].as_str().expect("uuid");
    let image = dir.path().join("orange.jpg");
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-f", "lavfi"])
        .args(["-i", "color=c=orange:s=640x360", "-frames:v", "1"])
        .arg(&image)
        .output()
        .expect("running ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let r = browser(
        "web-edit.mjs",
        &[
            &node.base_url(),
            "carol",
            &carol.password,
            uuid,
            "carol_channel",
            image.to_str().expect("path"),
        ],
    );
    assert_eq!(r["saveMessage"], "Saved.");
    assert!(
        r["refusedMessage"]
            .as_str()
            .unwrap_or("")
            .starts_with("Not saved:"),
        "{}",
        r["refusedMessage"]
    );
    let api = node.video(uuid, Some(&carol.token));
    assert_eq!(api["name"], "Renamed film", "saved through the API");
    assert_eq!(api["privacy"]["id"], 2);
    assert_eq!(r["watchTitle"], "Renamed film");
    assert!(
        r["watchDescription"]
            .as_str()
            .unwrap_or("")
            .contains("<em>new</em>"),
        "{}",
        r["watchDescription"]
    );
    assert!(
        r["watchBadges"].as_str().unwrap_or("").contains("Unlisted"),
        "{}",
        r["watchBadges"]
    );
    assert!(
        r["thumbnail"]
            .as_str()
            .unwrap_or("")
            .contains(&format!("{uuid}-custom-")),
        "{}",
        r["thumbnail"]
    );
    assert_eq!(r["thumbnailLoaded"], true, "the new thumbnail is served");
    assert_eq!(r["channelName"], "Drama club");
    assert_eq!(r["avatarLoaded"], true);
    assert_eq!(r["bannerLoaded"], true);
}
