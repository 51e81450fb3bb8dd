//! Federation between nodes over real HTTPS: three nodes on their own loopback addresses,
//! each with a certificate from a CA made by the test. An administrator's node follows
//! another server, a user subscribes to a channel of a third, and what they publish and
//! delete reaches the follower within a minute; a comment, a like and an unsubscription
//! sent while the other node is down reach it once it is back. Requests and answers are
//! PeerTube's REST API v1.

use std::time::Duration;

use peerbox_e2e::*;
use reqwest::blocking::Client;
use reqwest::header::ACCEPT;
use reqwest::{Method, StatusCode, Version};
use serde_json::{Value, json};

const AP: &str = "application/activity+json";

/// Deliveries that failed are retried after a second, then less often: the tests wait for
/// a node that was down without waiting minutes.
const NODE_ENV: &[(&str, &str)] = &[("PEERBOX_FEDERATION_RETRY_FIRST_SECONDS", "1")];

const A: &str = "127.0.0.2";
const B: &str = "127.0.0.3";
const C: &str = "127.0.0.4";

fn start(host: &str, ca: &TestCa) -> Node {
    Node::start_https(host, ca, NODE_ENV)
}

#[test]
fn nodes_serve_https_with_certificates_of_the_test_ca() {
    let ca = TestCa::new();
    let nodes = [start(A, &ca), start(B, &ca), start(C, &ca)];
    for node in &nodes {
        assert!(
            node.base_url().starts_with("https://"),
            "{}",
            node.base_url()
        );
        // Discovery as another server does it: WebFinger, then the actor document.
        let resource = format!("acct:peertube@{}", node.host());
        let finger = send(
            node.req(Method::GET, "/.well-known/webfinger", None)
                .query(&[("resource", resource.as_str())]),
        );
        assert_eq!(finger.version(), Version::HTTP_2, "h2 is offered by ALPN");
        let finger = expect_json(finger, StatusCode::OK);
        assert_eq!(finger["subject"], resource.as_str(), "{finger}");
        let actor_url = format!("{}/accounts/peertube", node.base_url());
        let self_link = finger["links"]
            .as_array()
            .and_then(|links| links.iter().find(|l| l["rel"] == "self"))
            .unwrap_or_else(|| panic!("no self link in {finger}"));
        assert_eq!(self_link["href"], actor_url.as_str(), "{finger}");
        let actor = expect_json(
            send(node.req(Method::GET, &actor_url, None).header(ACCEPT, AP)),
            StatusCode::OK,
        );
        assert_eq!(actor["id"], actor_url.as_str(), "{actor}");
        assert_eq!(actor["inbox"], format!("{actor_url}/inbox"), "{actor}");
    }
    let a = &nodes[0];
    // Signing in checks the request's host, which h2 sends as `:authority`, not `Host`.
    let admin = a.admin();
    let me = a.get_json("/api/v1/users/me", Some(&admin.token));
    assert_eq!(me["username"], "admin", "{me}");
    let health = a.url("/api/v1/health");

    // HTTP/1.1 clients (PeerTube's own HTTP client, curl) get HTTP/1.1.
    let http1 = Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(ca.pem().as_bytes()).expect("the CA's PEM"),
        )
        .http1_only()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("an HTTP/1.1 client");
    let resp = http1.get(&health).send().expect("GET health over HTTP/1.1");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.version(), Version::HTTP_11);

    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("a client");
    let cleartext = health.replacen("https://", "http://", 1);
    let answer = plain.get(&cleartext).send();
    assert!(answer.is_err(), "{cleartext} answered: {answer:?}");

    // A client that does not trust the test CA refuses the certificate.
    let refused = plain
        .get(&health)
        .send()
        .expect_err("a certificate from an unknown CA must be refused");
    let why = format!("{refused:?}");
    assert!(why.contains("UnknownIssuer"), "{why}");

    // A restart keeps the port and the certificate.
    let mut a = nodes.into_iter().next().expect("node A");
    let before = a.base_url();
    a.restart();
    assert_eq!(a.base_url(), before);
    assert_eq!(
        send(a.req(Method::GET, "/api/v1/health", None)).status(),
        StatusCode::OK
    );
}

// Following a server and subscribing to a channel: videos arrive, deletions follow, and
// deliveries to a node that was down are retried until it takes them.

#[test]
fn follows_bring_remote_videos_and_their_deletion() {
    let ca = TestCa::new();
    let (a, b, c) = (start(A, &ca), start(B, &ca), start(C, &ca));
    // Published before anyone followed: A takes it from B's outbox once its follow is
    // accepted.
    let earlier = upload_published(&b, "Before the follow");
    // Liked on B: A reads the count from the video's likes collection.
    let liked = send(
        b.req(
            Method::PUT,
            &format!("/api/v1/videos/{}/rate", uuid_of(&earlier)),
            Some(&b.admin().token),
        )
        .json(&json!({ "rating": "like" })),
    );
    expect_json(liked, StatusCode::NO_CONTENT);

    follow_instance(&a, &b);
    let alice = a.create_account("alice", -1, -1);
    let channel = subscribe(&a, &alice, &c);

    let from_b = upload_published(&b, "From B");
    let from_c = upload_published(&c, "From C");

    let mut list = Value::Null;
    let arrived = wait_until(Duration::from_secs(60), || {
        list = a.get_json("/api/v1/videos?count=100", None);
        lists_video(&list, &from_b) && lists_video(&list, &from_c) && lists_video(&list, &earlier)
    });
    assert!(
        arrived,
        "A's /api/v1/videos lacks B's (new or earlier) or C's video after 60 s: {list}"
    );
    for v in list["data"].as_array().expect("data[]") {
        assert_eq!(v["isLocal"], false, "a remote video listed as local: {v}");
    }
    let subscribed = wait_until(Duration::from_secs(60), || {
        list = a.get_json("/api/v1/users/me/subscriptions/videos", Some(&alice.token));
        lists_video(&list, &from_c)
    });
    assert!(
        subscribed,
        "alice's subscription videos lack {channel}'s video: {list}"
    );
    assert!(
        !lists_video(&list, &from_b),
        "B was not subscribed to: {list}"
    );

    let at_a = a.get_json(&format!("/api/v1/videos/{}", uuid_of(&earlier)), None);
    assert_eq!(at_a["likes"], 1, "B's like of its earlier video: {at_a}");
    for (origin, video) in [(&b, &from_b), (&c, &from_c)] {
        assert_same_media(&a, origin, &uuid_of(video));
    }

    // Watched on A: B counts the view (PeerTube's View activity).
    let viewed = send(a.req(
        Method::POST,
        &format!("/api/v1/videos/{}/views", uuid_of(&from_b)),
        None,
    ));
    expect_json(viewed, StatusCode::NO_CONTENT);
    let mut details = Value::Null;
    let counted = wait_until(Duration::from_secs(30), || {
        details = b.get_json(&format!("/api/v1/videos/{}", uuid_of(&from_b)), None);
        details["views"] == 1
    });
    assert!(counted, "B did not count A's view: {details}");

    // B deletes its video: A forgets it.
    let b_admin = b.admin();
    let id = from_b["id"].as_u64().expect("id of B's video");
    let deleted = send(b.req(
        Method::DELETE,
        &format!("/api/v1/videos/{id}"),
        Some(&b_admin.token),
    ));
    expect_json(deleted, StatusCode::NO_CONTENT);
    let uuid = uuid_of(&from_b);
    let gone = wait_until(Duration::from_secs(60), || {
        a.get(&format!("/api/v1/videos/{uuid}"), None).status() == StatusCode::NOT_FOUND
    });
    assert!(gone, "A still shows B's deleted video {uuid} after 60 s");
    let list = a.get_json("/api/v1/videos?count=100", None);
    assert!(!lists_video(&list, &from_b), "A still lists it: {list}");
    assert!(lists_video(&list, &from_c), "C's video went too: {list}");
}

#[test]
fn what_a_node_sends_while_another_is_down_arrives_after_its_restart() {
    let ca = TestCa::new();
    let a = start(A, &ca);
    let mut c = start(C, &ca);
    let alice = a.create_account("alice", -1, -1);
    let channel = subscribe(&a, &alice, &c);
    // Tokens are kept in the catalog: this one still works after C's restart.
    let c_admin = c.admin();
    let mut followers = Value::Null;
    let ok = wait_until(Duration::from_secs(30), || {
        followers = channel_followers(&c, &c_admin, &channel);
        lists_actor(&followers, "follower", "alice", &a.host(), Some("accepted"))
    });
    assert!(
        ok,
        "C's {channel} has not alice@{} as follower: {followers}",
        a.host()
    );
    let video = upload_published(&c, "Commented while down");
    let uuid = uuid_of(&video);
    let arrived = wait_until(Duration::from_secs(60), || {
        a.get(&format!("/api/v1/videos/{uuid}"), None).status() == StatusCode::OK
    });
    assert!(arrived, "C's video never reached A");

    // While C is down, alice comments on its video, likes it and unsubscribes.
    c.stop();
    let comment = send(
        a.req(
            Method::POST,
            &format!("/api/v1/videos/{uuid}/comment-threads"),
            Some(&alice.token),
        )
        .json(&json!({ "text": "Sent while you were away" })),
    );
    assert_eq!(comment.status(), StatusCode::OK, "comment on A");
    let rated = send(
        a.req(
            Method::PUT,
            &format!("/api/v1/videos/{uuid}/rate"),
            Some(&alice.token),
        )
        .json(&json!({ "rating": "like" })),
    );
    expect_json(rated, StatusCode::NO_CONTENT);
    let uri = format!("{channel}@{}", c.host());
    let resp = send(a.req(
        Method::DELETE,
        &format!("/api/v1/users/me/subscriptions/{uri}"),
        Some(&alice.token),
    ));
    expect_json(resp, StatusCode::NO_CONTENT);
    assert!(
        !subscription_exists(&a, &alice, &uri),
        "{uri} still subscribed to"
    );

    c.restart();
    let (mut threads, mut details) = (Value::Null, Value::Null);
    let everything = wait_until(Duration::from_secs(120), || {
        followers = channel_followers(&c, &c_admin, &channel);
        threads = c.get_json(&format!("/api/v1/videos/{uuid}/comment-threads"), None);
        details = c.get_json(&format!("/api/v1/videos/{uuid}"), None);
        followers["data"].is_array()
            && !lists_actor(&followers, "follower", "alice", &a.host(), None)
            && threads["data"][0]["text"] == "Sent while you were away"
            && threads["data"][0]["account"]["host"] == a.host()
            && details["likes"] == 1
    });
    assert!(
        everything,
        "120 s after it came back, C lacks some of what A sent: followers {followers}, \
         comments {threads}, likes {}",
        details["likes"]
    );
}

#[test]
fn a_blocked_server_is_forgotten_and_cannot_be_followed_again() {
    let ca = TestCa::new();
    let (a, b) = (start(A, &ca), start(B, &ca));
    let video = upload_published(&b, "Soon blocked");
    follow_instance(&a, &b);
    let arrived = wait_until(Duration::from_secs(60), || {
        lists_video(&a.get_json("/api/v1/videos", None), &video)
    });
    assert!(arrived, "B's video never reached A");

    let admin = a.admin();
    let block = |host: String| {
        send(
            a.req(
                Method::POST,
                "/api/v1/server/blocklist/servers",
                Some(&admin.token),
            )
            .json(&json!({ "host": host })),
        )
    };
    expect_json(block(b.host()), StatusCode::NO_CONTENT);
    let list = a.get_json("/api/v1/server/blocklist/servers", Some(&admin.token));
    assert_eq!(list["data"][0]["blockedServer"]["host"], b.host(), "{list}");
    // Blocking twice is a conflict; blocking oneself is refused.
    assert_eq!(block(b.host()).status(), StatusCode::CONFLICT);
    assert_eq!(block(a.host()).status(), StatusCode::CONFLICT);

    let videos = a.get_json("/api/v1/videos", None);
    assert!(
        !lists_video(&videos, &video),
        "B's video still listed: {videos}"
    );
    let following = a.get_json("/api/v1/server/following", None);
    assert_eq!(following["total"], 0, "B still followed: {following}");
    let again = send(
        a.req(Method::POST, "/api/v1/server/following", Some(&admin.token))
            .json(&json!({ "hosts": [b.host()] })),
    );
    assert_eq!(again.status(), StatusCode::FORBIDDEN);

    // B's own deliveries are refused at A's inbox without a signature check.
    let resp = send(
        Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes()).expect("CA"))
            .build()
            .expect("client")
            .post(a.url("/inbox"))
            .header("content-type", AP)
            .body(
                json!({
                    "type": "Follow",
                    "id": format!("https://{}/accounts/peertube/follows/1", b.host()),
                    "actor": format!("https://{}/accounts/peertube", b.host()),
                    "object": format!("https://{}/accounts/peertube", a.host()),
                })
                .to_string(),
            ),
    );
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    let unblock = send(a.req(
        Method::DELETE,
        &format!("/api/v1/server/blocklist/servers/{}", b.host()),
        Some(&admin.token),
    ));
    expect_json(unblock, StatusCode::NO_CONTENT);
    follow_instance(&a, &b);
}

#[test]
fn with_manual_approval_a_follower_waits_for_the_administrator() {
    let ca = TestCa::new();
    let a = start(A, &ca);
    let mut env = NODE_ENV.to_vec();
    env.push(("PEERBOX_FEDERATION_MANUAL_APPROVAL", "true"));
    let b = Node::start_https(B, &ca, &env);
    follow_instance_until(&a, &b, "pending");

    let b_admin = b.admin();
    let handle = format!("peertube@{}", a.host());
    let accept = |what: &str| {
        send(b.req(
            Method::POST,
            &format!("/api/v1/server/followers/{handle}/{what}"),
            Some(&b_admin.token),
        ))
    };
    // Only an administrator answers.
    let alice = b.create_account("alice", -1, -1);
    let refused = send(b.req(
        Method::POST,
        &format!("/api/v1/server/followers/{handle}/accept"),
        Some(&alice.token),
    ));
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    expect_json(accept("accept"), StatusCode::NO_CONTENT);
    // An accepted follow is not pending any more.
    assert_eq!(accept("reject").status(), StatusCode::FORBIDDEN);
    let mut following = Value::Null;
    let accepted = wait_until(Duration::from_secs(30), || {
        following = a.get_json("/api/v1/server/following", None);
        lists_actor(
            &following,
            "following",
            "peertube",
            &b.host(),
            Some("accepted"),
        )
    });
    assert!(accepted, "A's follow was not accepted: {following}");
}

/// `GET /api/v1/video-channels/{channel}/followers` as the channel's owner.
fn channel_followers(node: &Node, owner: &Account, channel: &str) -> Value {
    node.get_json(
        &format!("/api/v1/video-channels/{channel}/followers"),
        Some(&owner.token),
    )
}

/// `a`'s administrator follows `b`'s instance; `b` accepts at once (no manual approval).
fn follow_instance(a: &Node, b: &Node) {
    follow_instance_until(a, b, "accepted");
}

/// `a`'s administrator follows `b`'s instance; both list the follow in `state` within 30 s.
fn follow_instance_until(a: &Node, b: &Node, state: &str) {
    let admin = a.admin();
    let resp = send(
        a.req(Method::POST, "/api/v1/server/following", Some(&admin.token))
            .json(&json!({ "hosts": [b.host()] })),
    );
    expect_json(resp, StatusCode::NO_CONTENT);
    let (mut following, mut followers) = (Value::Null, Value::Null);
    let listed = wait_until(Duration::from_secs(30), || {
        following = a.get_json("/api/v1/server/following", None);
        followers = b.get_json("/api/v1/server/followers", None);
        lists_actor(&following, "following", "peertube", &b.host(), Some(state))
            && lists_actor(&followers, "follower", "peertube", &a.host(), Some(state))
    });
    assert!(
        listed,
        "the follow of B's instance is not {state} on both sides: A's following {following}, \
         B's followers {followers}"
    );
}

/// `user` of `a` subscribes to the default channel of `c`'s administrator; returns the
/// channel's name.
fn subscribe(a: &Node, user: &Account, c: &Node) -> String {
    let c_admin = c.admin();
    let me = c.get_json("/api/v1/users/me", Some(&c_admin.token));
    let channel = me["videoChannels"][0]["name"]
        .as_str()
        .expect("the administrator's channel name")
        .to_string();
    let uri = format!("{channel}@{}", c.host());
    let resp = send(
        a.req(
            Method::POST,
            "/api/v1/users/me/subscriptions",
            Some(&user.token),
        )
        .json(&json!({ "uri": uri })),
    );
    expect_json(resp, StatusCode::NO_CONTENT);
    let exists = wait_until(Duration::from_secs(30), || {
        subscription_exists(a, user, &uri)
    });
    assert!(
        exists,
        "subscriptions/exist does not say {uri} is subscribed to"
    );
    let mut list = Value::Null;
    let listed = wait_until(Duration::from_secs(30), || {
        list = a.get_json("/api/v1/users/me/subscriptions", Some(&user.token));
        list["data"].as_array().is_some_and(|d| {
            d.iter()
                .any(|ch| ch["name"] == channel && ch["host"] == c.host())
        })
    });
    assert!(listed, "{uri} is not in the user's subscriptions: {list}");
    channel
}

/// `GET /api/v1/users/me/subscriptions/exist?uris=URI`: `{URI: bool}`.
fn subscription_exists(node: &Node, user: &Account, uri: &str) -> bool {
    let answer = expect_json(
        send(
            node.req(
                Method::GET,
                "/api/v1/users/me/subscriptions/exist",
                Some(&user.token),
            )
            .query(&[("uris", uri)]),
        ),
        StatusCode::OK,
    );
    answer[uri]
        .as_bool()
        .unwrap_or_else(|| panic!("no boolean for {uri} in {answer}"))
}

/// Whether a follow list (`{total, data: [Follow]}`) has `side` (`follower` or `following`)
/// named `name` on `host`, in `state` when given.
fn lists_actor(list: &Value, side: &str, name: &str, host: &str, state: Option<&str>) -> bool {
    list["data"].as_array().is_some_and(|data| {
        data.iter().any(|f| {
            f[side]["name"] == name
                && f[side]["host"] == host
                && state.is_none_or(|s| f["state"] == s)
        })
    })
}

/// The administrator of `node` publishes a public clip named `name`; its details.
fn upload_published(node: &Node, name: &str) -> Value {
    let dir = tempfile::tempdir().expect("a temp dir");
    let clip = make_clip(dir.path(), "clip.mp4");
    node.publish_public(&node.admin(), &[("name", name)], &clip)
}

/// Whether a video list (`{total, data: [Video]}`) has `video`.
fn lists_video(list: &Value, video: &Value) -> bool {
    list["data"]
        .as_array()
        .is_some_and(|d| d.iter().any(|v| v["uuid"] == video["uuid"]))
}

fn uuid_of(video: &Value) -> String {
    video["uuid"].as_str().expect("uuid").to_string()
}

/// The remote video on `a` plays from its origin: the same master playlist, the same
/// files and torrents (infohashes) as the origin shows.
fn assert_same_media(a: &Node, origin: &Node, uuid: &str) {
    let here = a.get_json(&format!("/api/v1/videos/{uuid}"), None);
    let there = origin.get_json(&format!("/api/v1/videos/{uuid}"), None);
    assert_eq!(here["isLocal"], false, "{here}");
    assert_eq!(
        here["streamingPlaylists"][0]["playlistUrl"], there["streamingPlaylists"][0]["playlistUrl"],
        "A's copy of {uuid}: {here}"
    );
    assert!(
        there["streamingPlaylists"][0]["playlistUrl"]
            .as_str()
            .is_some_and(|u| u.starts_with(&origin.base_url())),
        "{there}"
    );
    assert_eq!(
        media_files(&here, "A's copy"),
        media_files(&there, "the origin"),
        "A's copy of {uuid}: {here}"
    );
}

/// `(resolution, infohash, fileUrl, torrentUrl)` of each HLS file, sorted; `whose` names
/// the video in failures.
fn media_files(video: &Value, whose: &str) -> Vec<(u64, String, String, String)> {
    let files = video["streamingPlaylists"][0]["files"]
        .as_array()
        .unwrap_or_else(|| panic!("no streamingPlaylists[0].files in {whose}: {video}"));
    let mut out: Vec<_> = files
        .iter()
        .map(|f| {
            let text = |k: &str| f[k].as_str().unwrap_or_default().to_string();
            let magnet = text("magnetUri");
            let infohash = magnet
                .split("xt=urn:btih:")
                .nth(1)
                .map(|rest| rest.split('&').next().unwrap_or_default().to_lowercase())
                .unwrap_or_else(|| panic!("no infohash in the magnetUri of {whose}'s file {f}"));
            (
                f["resolution"]["id"].as_u64().unwrap_or_default(),
                infohash,
                text("fileUrl"),
                text("torrentUrl"),
            )
        })
        .collect();
    out.sort();
    out
}
