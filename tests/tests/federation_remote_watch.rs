//! Videos of other servers, found by search and watched here, over real HTTPS between
//! nodes with certificates from a CA made by the test. A signed-in user of A pastes the URL
//! of B's video into the search: A fetches and keeps it, lists it, and its watch page plays
//! it in a real browser from B's playlist, announcing to B's tracker (B's swarm, not A's).
//! A channel handle `@name@host` is found the same way. URLs that cannot be fetched
//! (unreachable, garbage, or loopback addresses on a node that refuses them) find nothing,
//! with 200, as PeerTube answers, and a blocked server is not searched. Text from B stays
//! text on A's pages.

use peerbox_e2e::*;
use reqwest::header::CONTENT_SECURITY_POLICY;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const A: &str = "127.0.0.2";
const B: &str = "127.0.0.3";
const C: &str = "127.0.0.4";

/// What B's user typed: script in the video's name and description and the channel's name.
const XSS_NAME: &str = r#"Remote <script>alert("name")</script>"#;
const XSS_DESCRIPTION: &str =
    "**Bees** <script>alert('description')</script> <img src=x onerror=alert('img')>";
const XSS_CHANNEL: &str = "Garden <svg onload=alert('channel')>";

#[test]
fn a_video_found_by_its_url_plays_here_from_its_origin() {
    let ca = TestCa::new();
    let a = Node::start_https(A, &ca, &[]);
    let b = Node::start_https(B, &ca, &[]);
    // C refuses loopback addresses, as a node on the internet does: B is one to it.
    let c = Node::start_https(C, &ca, &[("PEERBOX_FEDERATION_ALLOW_LOOPBACK", "false")]);
    let alice = a.create_account("alice", -1, -1);
    let carol = c.create_account("carol", -1, -1);

    let channel = rename_channel(&b, XSS_CHANNEL);
    let video = upload_published(&b, XSS_NAME, XSS_DESCRIPTION);
    let uuid = video["uuid"].as_str().expect("uuid").to_string();
    let short = video["shortUUID"].as_str().expect("shortUUID").to_string();
    let at_b = b.get_json(&format!("/api/v1/videos/{uuid}"), None);
    let master = at_b["streamingPlaylists"][0]["playlistUrl"]
        .as_str()
        .expect("B's master playlist")
        .to_string();

    // Not known to A yet: nobody there follows B.
    assert_eq!(
        a.get(&format!("/api/v1/videos/{uuid}"), None).status(),
        StatusCode::NOT_FOUND
    );
    // Anonymous searches do not reach other servers (PeerTube's `search.remoteUri`).
    let watch_url = b.url(&format!("/w/{short}"));
    assert_eq!(search_videos(&a, &watch_url, None)["total"], 0);

    let found = search_videos(&a, &watch_url, Some(&alice.token));
    assert_eq!(found["total"], 1, "{found}");
    let v = &found["data"][0];
    assert_eq!(v["uuid"], uuid.as_str(), "{found}");
    assert_eq!(v["name"], XSS_NAME, "{found}");
    assert_eq!(v["isLocal"], false, "{found}");
    assert_eq!(v["channel"]["host"], b.host(), "{found}");
    // Kept: listed, shown with B's media, and found again by its long URL, even anonymously.
    let list = a.get_json("/api/v1/videos?count=100", None);
    assert!(
        list["data"]
            .as_array()
            .is_some_and(|d| d.iter().any(|x| x["uuid"] == uuid.as_str())),
        "A's /api/v1/videos lacks the searched video: {list}"
    );
    let at_a = a.get_json(&format!("/api/v1/videos/{uuid}"), None);
    assert_eq!(
        at_a["streamingPlaylists"][0]["playlistUrl"],
        master.as_str(),
        "{at_a}"
    );
    let long_url = b.url(&format!("/videos/watch/{uuid}"));
    assert_eq!(search_videos(&a, &long_url, None)["total"], 1);

    // The channel by handle, with or without the leading @, and by its page's URL; its
    // other videos follow from its outbox.
    let second = upload_published(&b, "Second", "Only in the channel's outbox");
    let second_uuid = second["uuid"].as_str().expect("uuid").to_string();
    for handle in [
        format!("@{channel}@{}", b.host()),
        format!("{channel}@{}", b.host()),
        b.url(&format!("/c/{channel}")),
    ] {
        let found = search_channels(&a, &handle, Some(&alice.token));
        assert_eq!(found["total"], 1, "{handle}: {found}");
        assert_eq!(found["data"][0]["name"], channel.as_str(), "{found}");
        assert_eq!(found["data"][0]["host"], b.host(), "{found}");
        assert_eq!(found["data"][0]["displayName"], XSS_CHANNEL, "{found}");
        assert_eq!(found["data"][0]["isLocal"], false, "{found}");
    }
    let imported = wait_until(std::time::Duration::from_secs(30), || {
        a.get(&format!("/api/v1/videos/{second_uuid}"), None)
            .status()
            == StatusCode::OK
    });
    assert!(
        imported,
        "the searched channel's other video never reached A"
    );

    // What cannot be fetched finds nothing, with 200.
    let unknown = format!("https://{B}:1/videos/watch/{}", uuid::Uuid::new_v4());
    for url in [
        unknown.as_str(),
        &b.url(&format!("/videos/watch/{}", uuid::Uuid::new_v4())),
        "https://",
        "https://exa mple/w/x",
        "https://[::1/videos/watch/x",
    ] {
        let found = search_videos(&a, url, Some(&alice.token));
        assert_eq!(found, json!({ "total": 0, "data": [] }), "{url}");
    }
    for handle in [
        format!("@nobody@{}", b.host()),
        format!("@{channel}@{B}:1"),
        "@a@".to_string(),
    ] {
        let found = search_channels(&a, &handle, Some(&alice.token));
        assert_eq!(found["total"], 0, "{handle}: {found}");
    }
    // C may not reach B's loopback address: nothing found, nothing kept.
    assert_eq!(
        search_videos(&c, &watch_url, Some(&carol.token))["total"],
        0
    );
    let handle = format!("@{channel}@{}", b.host());
    assert_eq!(search_channels(&c, &handle, Some(&carol.token))["total"], 0);
    assert_eq!(
        c.get(&format!("/api/v1/videos/{uuid}"), None).status(),
        StatusCode::NOT_FOUND
    );

    // A's watch page: B's playlist and tracker, not A's tracker; B's text as text.
    let b_tracker = format!("wss://{}/tracker/socket", b.host());
    let a_tracker = format!("wss://{}/tracker/socket", a.host());
    for path in [format!("/w/{short}"), format!("/videos/embed/{uuid}")] {
        let resp = a.get(&path, None);
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let policy = resp
            .headers()
            .get(CONTENT_SECURITY_POLICY)
            .and_then(|p| p.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let html = resp.text().unwrap_or_default();
        assert!(html.contains(&master), "{path} lacks {master}: {html}");
        assert!(
            html.contains(&b_tracker),
            "{path} lacks {b_tracker}: {html}"
        );
        assert!(!html.contains(&a_tracker), "{path} has A's tracker: {html}");
        assert!(
            policy.contains(&format!("connect-src 'self' {}", b.base_url())),
            "{path}: {policy}"
        );
        for payload in ["<script>alert", "<img src=x", "<svg onload"] {
            assert!(!html.contains(payload), "{path} has {payload}: {html}");
        }
    }
    let html = a
        .get(&format!("/w/{short}"), None)
        .text()
        .unwrap_or_default();
    assert!(
        html.contains("Remote &lt;script&gt;alert("),
        "the name is shown as text: {html}"
    );
    assert!(html.contains("<strong>Bees</strong>"), "{html}");
    assert!(
        html.contains(&format!("{channel}@{}", b.host())),
        "the channel's handle: {html}"
    );
    assert!(
        html.contains(&format!("Watch on {}", b.host())),
        "a link to the origin: {html}"
    );
    assert!(
        html.contains(&format!("href=\"{}\"", b.url(&format!("/w/{short}")))),
        "the origin's watch page is linked: {html}"
    );

    // In a browser: it plays, from B's files, announcing to B's tracker.
    let report = browser("remote-watch.mjs", &[&a.url(&format!("/w/{short}"))]);
    assert!(
        report["currentTime"].as_f64().unwrap_or(0.0) > 2.0,
        "the remote video did not play past 2 s on A's page: {report}"
    );
    assert_eq!(report["cspViolations"], json!([]), "{report}");
    assert_eq!(report["p2p"]["active"], true, "{report}");
    assert_eq!(report["p2p"]["rejected"]["http"], 0, "{report}");
    let requests: Vec<&str> = report["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let media: Vec<&&str> = requests
        .iter()
        .filter(|u| u.contains("/static/streaming-playlists/"))
        .collect();
    assert!(
        media.iter().any(|u| u.ends_with(".mp4")),
        "no segment was fetched: {requests:?}"
    );
    assert!(
        media.iter().all(|u| u.starts_with(&b.base_url())),
        "media not from B: {media:?}"
    );
    let sockets = report["sockets"].to_string();
    assert!(sockets.contains(&b_tracker), "{sockets}");
    assert!(!sockets.contains(&a_tracker), "{sockets}");

    // Once A's administrator blocks B, searches no longer reach it.
    let admin = a.admin();
    let blocked = send(
        a.req(
            Method::POST,
            "/api/v1/server/blocklist/servers",
            Some(&admin.token),
        )
        .json(&json!({ "host": b.host() })),
    );
    expect_json(blocked, StatusCode::NO_CONTENT);
    let found = search_channels(&a, &format!("@{channel}@{}", b.host()), Some(&alice.token));
    assert_eq!(found["total"], 0, "a blocked server's channel: {found}");
}

fn search_videos(node: &Node, search: &str, token: Option<&str>) -> Value {
    search_in(node, "/api/v1/search/videos", search, token)
}

fn search_channels(node: &Node, search: &str, token: Option<&str>) -> Value {
    search_in(node, "/api/v1/search/video-channels", search, token)
}

#[track_caller]
fn search_in(node: &Node, path: &str, search: &str, token: Option<&str>) -> Value {
    expect_json(
        send(
            node.req(Method::GET, path, token)
                .query(&[("search", search)]),
        ),
        StatusCode::OK,
    )
}

/// Gives the administrator's channel of `node` a new display name; returns its name.
fn rename_channel(node: &Node, display_name: &str) -> String {
    let admin = node.admin();
    let me = node.get_json("/api/v1/users/me", Some(&admin.token));
    let name = me["videoChannels"][0]["name"]
        .as_str()
        .expect("the administrator's channel")
        .to_string();
    let resp = send(
        node.req(
            Method::PUT,
            &format!("/api/v1/video-channels/{name}"),
            Some(&admin.token),
        )
        .json(&json!({ "displayName": display_name })),
    );
    expect_json(resp, StatusCode::NO_CONTENT);
    name
}

/// The administrator of `node` publishes a public 8 s clip; its details.
fn upload_published(node: &Node, name: &str, description: &str) -> Value {
    let dir = tempfile::tempdir().expect("a temp dir");
    let clip = make_clip_sized(dir.path(), "clip.mp4", 8, "320x240");
    node.publish_public(
        &node.admin(),
        &[("name", name), ("description", description)],
        &clip,
    )
}
