//! The inbox as a hostile or broken server tries it, over real HTTPS with a remote server
//! run by the test: requests signed wrong in each way PeerTube refuses, activities whose
//! signer is not their actor, bodies that are too large, too deep, not JSON or JSON-LD
//! tricks, Announces that point into the node's own network, videos nobody asked for, a
//! key server that never answers and a flood from one host. Each refused request gets
//! PeerTube's status, stores nothing (no follower, no video) and leaves the node serving; a
//! well-signed Follow is the control that is accepted and answered with a signed Accept.

use std::time::{Duration, Instant};

use chrono::Utc;
use peerbox_e2e::activitypub_peer::{AP, Peer, PeerActor, post_signed};
use peerbox_e2e::*;
use peerbox_federation::signatures::{digest_header, http_date};
use peerbox_federation::video_object::{
    Audience, FileForFederation, HlsForFederation, Image, VideoForFederation, parse_video_object,
    video_object,
};
use reqwest::blocking::Response;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const NODE: &str = "127.0.0.8";
const PEER: &str = "127.0.0.9";
const OTHER_PEER: &str = "127.0.0.10";

/// PeerTube's `REQUEST_TIMEOUTS.DEFAULT`, which the node's client uses for fetches.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(7);

fn instance_actor(node: &Node) -> String {
    format!("{}/accounts/peertube", node.base_url())
}

/// A Follow of the node's instance actor by `actor`.
fn follow_of(actor: &PeerActor, node: &Node) -> Value {
    actor.activity("Follow", json!(instance_actor(node)))
}

fn to_bytes(activity: &Value) -> Vec<u8> {
    serde_json::to_vec(activity).expect("JSON")
}

/// `name@host` of each of the instance's followers.
fn followers(node: &Node) -> Vec<String> {
    let list = node.get_json("/api/v1/server/followers?count=100", None);
    list["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data[] in the followers: {list}"))
        .iter()
        .map(|f| {
            let text = |key: &str| f["follower"][key].as_str().unwrap_or_default().to_string();
            format!("{}@{}", text("name"), text("host"))
        })
        .collect()
}

fn video_total(node: &Node) -> u64 {
    let list = node.get_json("/api/v1/videos?count=100", None);
    list["total"]
        .as_u64()
        .unwrap_or_else(|| panic!("no total in the video list: {list}"))
}

/// Records a failure unless the node still serves, its followers are exactly `expected` and
/// it lists no video.
fn stored_nothing(node: &Node, expected: &[String], what: &str, checks: &mut Checks) {
    let health = node.get("/api/v1/health", None).status();
    if health != StatusCode::OK {
        checks.fail(format!(
            "{what}: /api/v1/health answered {health} afterwards"
        ));
        return;
    }
    let mut now = followers(node);
    now.sort();
    let mut expected = expected.to_vec();
    expected.sort();
    if now != expected {
        checks.fail(format!("{what}: followers are {now:?}, not {expected:?}"));
    }
    let videos = video_total(node);
    if videos != 0 {
        checks.fail(format!("{what}: {videos} video(s) listed"));
    }
}

/// Records a failure unless `resp` is a problem+json with `status` whose detail says
/// `because` (so that a request is refused for what the case is about, not something else).
fn refusal(what: &str, resp: Response, status: StatusCode, because: &str, checks: &mut Checks) {
    match problem(resp) {
        Err(e) => checks.fail(format!("{what}: {e}")),
        Ok((got, body)) => {
            let detail = body["detail"].as_str().unwrap_or_default();
            if got != status || !detail.contains(because) {
                checks.fail(format!(
                    "{what}: expected {status} saying {because:?}, got {got}: {detail}"
                ));
            }
        }
    }
}

/// A POST of `body` to the node's `path` with exactly these headers besides the content
/// type.
fn post_with(node: &Node, path: &str, headers: &[(&str, String)], body: Vec<u8>) -> Response {
    let mut request = node.req(Method::POST, path, None).header(CONTENT_TYPE, AP);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    send(request.body(body))
}

/// A POST to `/inbox` whose signature covers `names` only (of `(request-target)`, `host`,
/// `date`, `digest`), made by hand as `actor` with `algorithm`.
fn hand_signed(
    node: &Node,
    actor: &PeerActor,
    names: &[&str],
    algorithm: &str,
    body: Vec<u8>,
) -> Response {
    let host = node.host();
    let date = http_date(Utc::now());
    let digest = digest_header(&body);
    let components: Vec<(&str, &str)> = names
        .iter()
        .map(|name| {
            let value = match *name {
                "(request-target)" => "post /inbox",
                "host" => host.as_str(),
                "date" => date.as_str(),
                "digest" => digest.as_str(),
                other => panic!("no value for {other}"),
            };
            (*name, value)
        })
        .collect();
    let signature = actor.signature_header(&actor.key_id, algorithm, &components);
    post_with(
        node,
        "/inbox",
        &[("date", date), ("digest", digest), ("signature", signature)],
        body,
    )
}

/// The node's log (the harness keeps it beside the data dir), which says why an accepted
/// activity was not applied.
fn node_log(node: &Node) -> String {
    std::fs::read_to_string(node.data_dir().with_file_name("peerbox.log")).unwrap_or_default()
}

/// Waits up to 30 s for the node's log to say each of `lines`.
#[track_caller]
fn assert_logged(node: &Node, lines: &[&str]) {
    let said = wait_until(Duration::from_secs(30), || {
        let log = node_log(node);
        lines.iter().all(|l| log.contains(l))
    });
    let log = node_log(node);
    let missing: Vec<_> = lines.iter().filter(|l| !log.contains(**l)).collect();
    assert!(said, "the node's log never said {missing:?}");
}

#[test]
fn a_signed_follow_is_accepted_and_every_signature_failure_refused() {
    let ca = TestCa::new();
    let node = Node::start_https(NODE, &ca, &[]);
    let peer = Peer::start(PEER, &ca);
    let alice = peer.add_actor("alice", "Person");
    let mallory = peer.add_actor("mallory", "Person");
    let eve = peer.add_actor("eve", "Person");
    let carol = peer.add_actor("carol", "Person");

    // The control: a Follow signed as PeerTube signs it is accepted, and answered.
    let follow = follow_of(&alice, &node);
    let resp = alice.post(&node, "/inbox", &follow);
    let status = resp.status();
    assert_eq!(
        status,
        StatusCode::NO_CONTENT,
        "{}",
        resp.text().unwrap_or_default()
    );
    let alice_handle = format!("alice@{}", peer.host());
    let accepted = wait_until(Duration::from_secs(20), || {
        let list = node.get_json("/api/v1/server/followers", None);
        list["data"].as_array().is_some_and(|d| {
            d.iter().any(|f| {
                f["follower"]["name"] == "alice"
                    && f["follower"]["host"] == peer.host()
                    && f["state"] == "accepted"
            })
        })
    });
    assert!(accepted, "{alice_handle} is not an accepted follower");
    let mut answer = None;
    let answered = wait_until(Duration::from_secs(30), || {
        answer = peer
            .inbox()
            .into_iter()
            .find(|r| r.target == "/accounts/alice/inbox" && r.json()["type"] == "Accept");
        answer.is_some()
    });
    assert!(
        answered,
        "no Accept reached alice's inbox: {:?}",
        peer.inbox()
    );
    let answer = answer.expect("the Accept");
    let actor = expect_json(
        send(
            node.req(Method::GET, &instance_actor(&node), None)
                .header(ACCEPT, AP),
        ),
        StatusCode::OK,
    );
    let pem = actor["publicKey"]["publicKeyPem"]
        .as_str()
        .expect("the instance actor's publicKeyPem");
    let verified = answer
        .verify(&instance_actor(&node), pem)
        .unwrap_or_else(|e| panic!("the Accept's signature does not verify: {e}"));
    assert_eq!(verified.owner, instance_actor(&node));
    let accept = answer.json();
    assert_eq!(accept["actor"], instance_actor(&node), "{accept}");
    assert_eq!(accept["object"]["id"], follow["id"], "{accept}");

    // A hand-made signature over every component verifies, so the cases below that leave
    // one out fail for what they leave out, not for how they are made.
    let all = ["(request-target)", "host", "date", "digest"];
    let carol_follow = to_bytes(&follow_of(&carol, &node));
    let resp = hand_signed(&node, &carol, &all, "hs2019", carol_follow);
    assert_eq!(
        resp.status(),
        StatusCode::NO_CONTENT,
        "a complete hand-made signature: {}",
        resp.text().unwrap_or_default()
    );
    let carol_handle = format!("carol@{}", peer.host());
    let ok = wait_until(Duration::from_secs(20), || {
        followers(&node).contains(&carol_handle)
    });
    assert!(ok, "carol's hand-signed Follow was not applied");
    let expected = vec![alice_handle, carol_handle];

    // Every way a signature can be wrong, each with a Follow that would otherwise be
    // accepted: mallory must never become a follower.
    let mut checks = Checks::default();
    let refused = |what: &str, resp: Response, because: &str, checks: &mut Checks| {
        refusal(what, resp, StatusCode::FORBIDDEN, because, checks);
        stored_nothing(&node, &expected, what, checks);
    };
    let mallory_follow = || to_bytes(&follow_of(&mallory, &node));
    let now = Utc::now();

    let body = mallory_follow();
    let resp = post_with(
        &node,
        "/inbox",
        &[("date", http_date(now)), ("digest", digest_header(&body))],
        body,
    );
    refused(
        "no Signature header",
        resp,
        "no Signature header",
        &mut checks,
    );
    for left_out in all {
        let names: Vec<&str> = all.into_iter().filter(|n| *n != left_out).collect();
        let resp = hand_signed(&node, &mallory, &names, "rsa-sha256", mallory_follow());
        let because = match left_out {
            "date" => "date or (created) must be included".to_string(),
            other => format!("{other} must be included"),
        };
        refused(
            &format!("{left_out} not signed"),
            resp,
            &because,
            &mut checks,
        );
    }
    let (signed_body, other_body) = (mallory_follow(), mallory_follow());
    let signed = mallory
        .signer()
        .sign_post("/inbox", &node.host(), &signed_body, now);
    let resp = post_with(
        &node,
        "/inbox",
        &[
            ("date", signed.date.clone()),
            ("digest", signed.digest.clone().unwrap_or_default()),
            ("signature", signed.signature.clone()),
        ],
        other_body.clone(),
    );
    refused(
        "a Digest that is not the body's",
        resp,
        "does not match the Digest",
        &mut checks,
    );
    let resp = post_with(
        &node,
        "/inbox",
        &[
            ("date", signed.date.clone()),
            ("digest", digest_header(&other_body)),
            ("signature", signed.signature.clone()),
        ],
        other_body,
    );
    refused(
        "another body with its own Digest",
        resp,
        "does not verify",
        &mut checks,
    );
    let resp = post_with(
        &node,
        "/accounts/peertube/inbox",
        &[
            ("date", signed.date.clone()),
            ("digest", signed.digest.clone().unwrap_or_default()),
            ("signature", signed.signature.clone()),
        ],
        signed_body,
    );
    refused(
        "a signature made for another inbox",
        resp,
        "does not verify",
        &mut checks,
    );

    let skew = chrono::Duration::seconds(1900);
    for (what, at) in [
        ("a Date 1900 s old", now - skew),
        ("a Date 1900 s ahead", now + skew),
    ] {
        let resp = post_signed(&node, "/inbox", &mallory.signer(), mallory_follow(), at);
        refused(what, resp, "more than 1800 s away", &mut checks);
    }
    let resp = post_signed(
        &node,
        "/inbox",
        &eve.signer_claiming(&mallory.url),
        mallory_follow(),
        Utc::now(),
    );
    refused(
        "signed with another actor's key",
        resp,
        "does not verify",
        &mut checks,
    );
    let nobody = peer.url("/accounts/nobody");
    let nobody_follow = json!({
        "type": "Follow",
        "id": format!("{nobody}/follows/1"),
        "actor": nobody,
        "object": instance_actor(&node),
    });
    let resp = post_signed(
        &node,
        "/inbox",
        &mallory.signer_claiming(&nobody),
        to_bytes(&nobody_follow),
        Utc::now(),
    );
    refused(
        "the key of an actor its server does not know (404)",
        resp,
        "key cannot be had: the server answered HTTP 404",
        &mut checks,
    );
    for algorithm in ["rsa-sha512", "hmac-sha256", "ed25519"] {
        let resp = hand_signed(&node, &mallory, &all, algorithm, mallory_follow());
        refused(
            &format!("algorithm {algorithm}"),
            resp,
            &format!("unsupported signature algorithm \"{algorithm}\""),
            &mut checks,
        );
    }
    let body = mallory_follow();
    let signed = mallory
        .signer()
        .sign_post("/inbox", &node.host(), &body, Utc::now());
    let resp = post_with(
        &node,
        "/inbox",
        &[
            ("date", signed.date.clone()),
            ("digest", signed.digest.clone().unwrap_or_default()),
            ("signature", signed.signature),
            (
                "signature-input",
                format!("sig1=(\"@method\");keyid=\"{}\"", mallory.key_id),
            ),
        ],
        body,
    );
    refused(
        "a draft signature with an RFC 9421 Signature-Input",
        resp,
        "only the draft (cavage) version",
        &mut checks,
    );
    let resp = rfc9421_signed(&node, &mallory, mallory_follow());
    refused(
        "an RFC 9421 signature",
        resp,
        "only the draft (cavage) version",
        &mut checks,
    );
    let body = mallory_follow();
    let resp = post_with(
        &node,
        "/inbox",
        &[
            ("date", http_date(Utc::now())),
            ("digest", digest_header(&body)),
            ("signature", "keyId=\"nothing".to_string()),
        ],
        body,
    );
    refused(
        "a Signature header that cannot be parsed",
        resp,
        "cannot be parsed",
        &mut checks,
    );

    // Signed by mallory, claiming to be another actor of the same server.
    let dave = peer.add_actor("dave", "Person");
    let resp = post_signed(
        &node,
        "/inbox",
        &mallory.signer(),
        to_bytes(&follow_of(&dave, &node)),
        Utc::now(),
    );
    refused(
        "an activity of dave signed by mallory",
        resp,
        "not the one who signed it",
        &mut checks,
    );

    // Anything wrongly accepted above would be applied in the background by now.
    std::thread::sleep(Duration::from_secs(2));
    stored_nothing(&node, &expected, "after all the refusals", &mut checks);
    let answered: Vec<String> = peer
        .inbox()
        .iter()
        .map(|r| r.target.clone())
        .filter(|t| t != "/accounts/alice/inbox" && t != "/accounts/carol/inbox")
        .collect();
    if !answered.is_empty() {
        checks.fail(format!("the node delivered to {answered:?}"));
    }
    checks.assert_all_passed();
}

/// A POST signed the RFC 9421 way (HTTP Message Signatures: `Signature-Input`, a
/// `sig1=:…:` signature over the signature base, `Content-Digest`), which PeerTube does not
/// take.
fn rfc9421_signed(node: &Node, actor: &PeerActor, body: Vec<u8>) -> Response {
    let digest = digest_header(&body);
    let content_digest = format!("sha-256=:{}:", digest.trim_start_matches("SHA-256="));
    let params = format!(
        "(\"@method\" \"@authority\" \"@path\" \"content-digest\");created={};keyid=\"{}\";alg=\"rsa-v1_5-sha256\"",
        Utc::now().timestamp(),
        actor.key_id
    );
    let base = format!(
        "\"@method\": POST\n\"@authority\": {}\n\"@path\": /inbox\n\"content-digest\": {content_digest}\n\"@signature-params\": {params}",
        node.host()
    );
    let signature = actor.sign(base.as_bytes());
    post_with(
        node,
        "/inbox",
        &[
            ("signature-input", format!("sig1={params}")),
            ("signature", format!("sig1=:{signature}:")),
            ("content-digest", content_digest),
        ],
        body,
    )
}

/// `levels` nested arrays (or objects) around `null`.
fn nested(levels: usize, objects: bool) -> String {
    let (open, close) = if objects {
        ("{\"a\":", "}")
    } else {
        ("[", "]")
    };
    format!("{}null{}", open.repeat(levels), close.repeat(levels))
}

#[test]
fn bodies_that_are_too_big_too_deep_or_not_activities_are_refused() {
    let ca = TestCa::new();
    let node = Node::start_https(NODE, &ca, &[]);
    let peer = Peer::start(PEER, &ca);
    let mallory = peer.add_actor("mallory", "Person");
    let follow = || follow_of(&mallory, &node);
    let with = |key: &str, value: Value| {
        let mut activity = follow();
        activity[key] = value;
        to_bytes(&activity)
    };
    // Each is signed as it should be, so that only what is wrong with it refuses it.
    let deep = |objects: bool| {
        let mut text = to_bytes(&follow());
        text.pop();
        let mut text = String::from_utf8(text).expect("UTF-8");
        text.push_str(&format!(",\"content\":{}}}", nested(10_000, objects)));
        text.into_bytes()
    };
    let bad = StatusCode::BAD_REQUEST;
    let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        (
            "a 600 KiB activity",
            with("content", json!("x".repeat(600 * 1024))),
            StatusCode::PAYLOAD_TOO_LARGE,
            "larger than the inbox accepts",
        ),
        ("arrays 10,000 deep", deep(false), bad, "recursion limit"),
        ("objects 10,000 deep", deep(true), bad, "recursion limit"),
        ("text, not JSON", b"follow me".to_vec(), bad, "not JSON"),
        (
            "truncated JSON",
            to_bytes(&follow())[..40].to_vec(),
            bad,
            "not JSON",
        ),
        ("a JSON array", to_bytes(&json!([follow()])), bad, "no type"),
        (
            "@graph",
            to_bytes(&json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "@graph": [follow()],
            })),
            bad,
            "@graph",
        ),
        (
            "@reverse",
            with(
                "object",
                json!({ "id": instance_actor(&node), "@reverse": {} }),
            ),
            bad,
            "@reverse",
        ),
        ("@included", with("@included", json!([])), bad, "@included"),
        (
            "@graph through a context alias",
            with("@context", json!({ "g": "@graph" })),
            bad,
            "@graph",
        ),
        (
            "an unknown activity type",
            with("type", json!("Dance")),
            bad,
            "Unknown activity type",
        ),
        ("no type", with("type", Value::Null), bad, "no type"),
        (
            "an id on another host than its actor",
            with("id", json!("https://127.0.0.10/follows/1")),
            bad,
            "not on its actor's host",
        ),
    ];
    let mut checks = Checks::default();
    for (what, body, status, because) in cases {
        let resp = post_signed(&node, "/inbox", &mallory.signer(), body, Utc::now());
        refusal(what, resp, status, because, &mut checks);
        stored_nothing(&node, &[], what, &mut checks);
    }
    std::thread::sleep(Duration::from_secs(2));
    stored_nothing(&node, &[], "after all the refusals", &mut checks);
    if !peer.inbox().is_empty() {
        checks.fail(format!("the node delivered: {:?}", peer.inbox()));
    }
    checks.assert_all_passed();

    // The same Follow, well formed, is taken: what refused the others was what they carried.
    let resp = mallory.post(&node, "/inbox", &follow());
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
}

/// The node's administrator follows `peer`'s instance actor (`peertube`), which accepts.
fn follow_peer(node: &Node, peer: &Peer, instance: &PeerActor) {
    let admin = node.admin();
    let resp = send(
        node.req(Method::POST, "/api/v1/server/following", Some(&admin.token))
            .json(&json!({ "hosts": [peer.host()] })),
    );
    expect_json(resp, StatusCode::NO_CONTENT);
    let inbox = format!("/accounts/{}/inbox", instance.name);
    let mut follow = Value::Null;
    let asked = wait_until(Duration::from_secs(30), || {
        follow = peer
            .inbox()
            .iter()
            .map(|r| r.json())
            .find(|a| a["type"] == "Follow")
            .unwrap_or(Value::Null);
        !follow.is_null()
    });
    assert!(asked, "no Follow reached {inbox}: {:?}", peer.inbox());
    let resp = instance.post(node, "/inbox", &instance.activity("Accept", follow));
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let accepted = wait_until(Duration::from_secs(20), || {
        let list = node.get_json("/api/v1/server/following", None);
        list["data"]
            .as_array()
            .is_some_and(|d| d.iter().any(|f| f["state"] == "accepted"))
    });
    assert!(accepted, "the follow of {} was not accepted", peer.host());
}

/// A Video object as PeerTube publishes it, of `account`'s channel on `peer`.
fn video_of(peer: &Peer, account: &PeerActor) -> Value {
    let uuid = uuid::Uuid::new_v4();
    let base = peer.url("");
    let now = Utc::now();
    let hls = format!("{base}/static/streaming-playlists/hls/{uuid}");
    video_object(&VideoForFederation {
        base_url: base.clone(),
        uuid,
        name: "Nobody asked for this".into(),
        description: None,
        support: None,
        duration: 5,
        tags: vec![],
        category: None,
        licence: None,
        language: None,
        nsfw: false,
        comments_policy: 1,
        download_enabled: true,
        wait_transcoding: false,
        state: 1,
        audience: Audience::Public,
        views: 0,
        published_at: now,
        updated_at: now,
        originally_published_at: None,
        account_url: account.url.clone(),
        channel_url: peer.url(&format!("/video-channels/{}_channel", account.name)),
        thumbnail: Some(Image {
            url: format!("{base}/lazy-static/thumbnails/{uuid}.jpg"),
            width: 280,
            height: 157,
        }),
        preview: None,
        hls: Some(HlsForFederation {
            playlist_url: format!("{hls}/master.m3u8"),
            segments_sha256_url: format!("{hls}/segments-sha256.json"),
            infohashes: vec!["5f3c8ad2e1b04c7d9a6e2f1b3c4d5e6f7a8b9c0d".into()],
            files: vec![FileForFederation {
                resolution: 720,
                width: 1280,
                height: 720,
                fps: 25,
                size: 1_000_000,
                url: format!("{hls}/{uuid}-720-fragmented.mp4"),
                torrent_url: None,
                magnet_uri: None,
            }],
        }),
        trackers: vec![],
    })
}

#[test]
fn announces_into_private_networks_and_unasked_videos_store_nothing() {
    let ca = TestCa::new();
    let node = Node::start_https(NODE, &ca, &[]);
    let followed = Peer::start(PEER, &ca);
    let instance = followed.add_actor("peertube", "Application");
    follow_peer(&node, &followed, &instance);

    // The followed server announces "videos" in the node's own network: the inbox takes the
    // activities (204, as PeerTube does before processing), and the fetch is refused before
    // any connection, whatever the object's address or where a redirect leads.
    let metadata = "https://169.254.169.254/latest/meta-data/";
    followed.redirect("/videos/watch/moved", metadata);
    let moved = followed.url("/videos/watch/moved");
    for object in ["https://10.1.2.3/videos/watch/x", metadata, moved.as_str()] {
        let resp = instance.post(
            &node,
            "/inbox",
            &instance.activity("Announce", json!(object)),
        );
        assert_eq!(
            resp.status(),
            StatusCode::NO_CONTENT,
            "Announce of {object}"
        );
    }
    assert_logged(
        &node,
        &[
            "refused to contact https://10.1.2.3/videos/watch/x: 10.1.2.3 is private",
            "refused to contact https://169.254.169.254/latest/meta-data/: 169.254.169.254 is link-local",
            "redirect refused: 169.254.169.254 is link-local",
        ],
    );
    assert!(
        followed.was_asked_for("/videos/watch/moved"),
        "the node never fetched the announced object on its origin"
    );

    // A server nobody here follows sends a Create of a valid Video: nothing is kept and its
    // channel is not even fetched.
    let stranger = Peer::start(OTHER_PEER, &ca);
    let dave = stranger.add_actor("dave", "Person");
    let video = video_of(&stranger, &dave);
    parse_video_object(&video, Utc::now()).expect("the test's Video object is valid");
    let create = dave.activity("Create", video.clone());
    let resp = dave.post(&node, "/inbox", &create);
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let video_url = video["id"].as_str().expect("the video's id");
    assert_logged(
        &node,
        &[&format!("nobody here follows the channel of {video_url}")],
    );
    assert!(
        !stranger.was_asked_for("/video-channels/dave_channel"),
        "the node fetched the channel of a video it does not want"
    );
    assert_eq!(
        video_total(&node),
        0,
        "{}",
        node.get_json("/api/v1/videos", None)
    );
    assert_eq!(
        send(node.req(Method::GET, "/api/v1/health", None)).status(),
        StatusCode::OK
    );
}

#[test]
fn a_key_server_that_never_answers_holds_up_no_other_delivery() {
    let ca = TestCa::new();
    let node = Node::start_https(NODE, &ca, &[]);
    let peer = Peer::start(PEER, &ca);
    let mallory = peer.add_actor("mallory", "Person");
    let carol = peer.add_actor("carol", "Person");
    let stalled = peer.url("/hang/bob");
    let stalled_follow = json!({
        "type": "Follow",
        "id": format!("{stalled}/follows/1"),
        "actor": stalled,
        "object": instance_actor(&node),
    });

    let started = Instant::now();
    std::thread::scope(|s| {
        let waiting = s.spawn(|| {
            let resp = post_signed(
                &node,
                "/inbox",
                &mallory.signer_claiming(&stalled),
                to_bytes(&stalled_follow),
                Utc::now(),
            );
            (resp.status(), started.elapsed())
        });
        let asked = wait_until(Duration::from_secs(5), || peer.was_asked_for("/hang/bob"));
        assert!(asked, "the node did not ask for the stalled actor");

        // Meanwhile another actor's Follow is taken and applied at once.
        let sent = Instant::now();
        let resp = carol.post(&node, "/inbox", &follow_of(&carol, &node));
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        let carol_handle = format!("carol@{}", peer.host());
        let applied = wait_until(Duration::from_secs(5), || {
            followers(&node).contains(&carol_handle)
        });
        assert!(applied, "carol's Follow waited for the stalled server");
        assert!(
            !waiting.is_finished(),
            "the stalled request was answered before carol's ({:?})",
            sent.elapsed()
        );

        let (status, took) = waiting.join().expect("the stalled request");
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(
            took < CLIENT_TIMEOUT + Duration::from_secs(3),
            "the stalled key took {took:?} to be given up (client timeout {CLIENT_TIMEOUT:?})"
        );
        assert_eq!(followers(&node), vec![carol_handle]);
    });
}

#[test]
fn a_burst_from_one_host_gets_429_while_other_hosts_are_served() {
    let ca = TestCa::new();
    let node = Node::start_https(
        NODE,
        &ca,
        &[("PEERBOX_FEDERATION_INBOX_RATE_PER_HOST", "2")],
    );
    let flooding = Peer::start(PEER, &ca);
    let flood = flooding.add_actor("flood", "Person");
    let calm_peer = Peer::start(OTHER_PEER, &ca);
    let calm = calm_peer.add_actor("calm", "Person");
    let like = |actor: &PeerActor| {
        let video = node.url(&format!("/videos/watch/{}", uuid::Uuid::new_v4()));
        actor.activity("Like", json!(video))
    };

    // 2 a second with bursts of 20: of 40 sent at once, about 20 get through.
    let started = Instant::now();
    let mut statuses = Vec::new();
    let mut a_refusal = None;
    for _ in 0..40 {
        let resp = flood.post(&node, "/inbox", &like(&flood));
        statuses.push(resp.status());
        if resp.status() == StatusCode::TOO_MANY_REQUESTS && a_refusal.is_none() {
            a_refusal = Some(resp);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let taken = statuses
        .iter()
        .filter(|s| **s == StatusCode::NO_CONTENT)
        .count();
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(taken + limited, statuses.len(), "{statuses:?}");
    assert!(
        (20..=20 + (2.0 * elapsed).ceil() as usize).contains(&taken),
        "{taken} of 40 taken in {elapsed:.1} s: {statuses:?}"
    );
    assert_problem(a_refusal.expect("a 429"), StatusCode::TOO_MANY_REQUESTS);

    // Another server is not held back by the flood.
    let resp = calm.post(&node, "/inbox", &like(&calm));
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    // The flooding host gets its rate back as time passes.
    std::thread::sleep(Duration::from_secs(1));
    let resp = flood.post(&node, "/inbox", &like(&flood));
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
}
