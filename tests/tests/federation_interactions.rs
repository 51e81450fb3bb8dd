//! Comments and ratings, on one node and across servers over real HTTPS. A user of node A
//! comments on and likes a video of node B, which A's instance follows: B shows the
//! comment with A's account and the like in its counters, a reply written on B reaches A,
//! a change to a dislike and the comment's deletion follow. A Mastodon-like server run by
//! the test replies with HTML, likes and takes both back, and hears the comments written
//! on the node. The REST routes refuse bad input with PeerTube's statuses.

use std::time::Duration;

use peerbox_e2e::activitypub_peer::{AP, Peer};
use peerbox_e2e::*;
use reqwest::header::ACCEPT;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const A: &str = "127.0.0.11";
const B: &str = "127.0.0.12";
const NODE: &str = "127.0.0.13";
const MASTODON: &str = "127.0.0.14";

const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

/// Failed deliveries are retried after a second.
const NODE_ENV: &[(&str, &str)] = &[("PEERBOX_FEDERATION_RETRY_FIRST_SECONDS", "1")];

/// A request made when a check runs it.
type Request = Box<dyn FnOnce() -> reqwest::blocking::Response>;

/// How long federation may take to bring a change from one server to another.
const FEDERATION_DELAY: Duration = Duration::from_secs(60);

#[test]
fn a_comment_and_a_like_from_a_reach_b() {
    let ca = TestCa::new();
    let a = Node::start_https(A, &ca, NODE_ENV);
    let b = Node::start_https(B, &ca, NODE_ENV);
    follow_instance(&a, &b);
    let video = upload_published(&b, "Sunset over the hill");
    let uuid = uuid_of(&video);
    let arrived = wait_until(FEDERATION_DELAY, || {
        let resp = a.get(&format!("/api/v1/videos/{uuid}"), None);
        resp.status() == StatusCode::OK
    });
    assert!(arrived, "B's video {uuid} did not reach A");

    // alice, on A, comments on B's video and likes it.
    let alice = a.create_account("alice", -1, -1);
    let created = post_comment(&a, &alice, &uuid, None, "Lovely light, from A");
    let comment = &created["comment"];
    assert_eq!(comment["text"], "Lovely light, from A", "{created}");
    assert_eq!(comment["account"]["name"], "alice", "{created}");
    assert_eq!(comment["account"]["host"], a.host(), "{created}");
    assert_eq!(comment["inReplyToCommentId"], Value::Null, "{created}");
    let alice_comment = comment["id"].as_u64().expect("the comment's id");
    assert_eq!(comment["threadId"], alice_comment, "{created}");
    rate(&a, &alice, &uuid, "like");
    assert_eq!(my_rating(&a, &alice, &uuid), "like");
    // The like is served where its id says, as PeerTube checks the likes it was sent.
    let like_path = format!("/accounts/alice/likes/{uuid}");
    let like = expect_json(
        send(a.req(Method::GET, &like_path, None).header(ACCEPT, AP)),
        StatusCode::OK,
    );
    assert_eq!(like["type"], "Like", "{like}");
    assert_eq!(like["id"], a.url(&like_path), "{like}");
    assert_eq!(like["actor"], a.url("/accounts/alice"), "{like}");
    assert_eq!(
        like["object"],
        b.url(&format!("/videos/watch/{uuid}")),
        "{like}"
    );

    // B shows both.
    let mut threads = Value::Null;
    let shown = wait_until(FEDERATION_DELAY, || {
        threads = b.get_json(&format!("/api/v1/videos/{uuid}/comment-threads"), None);
        find_comment(&threads, "Lovely light, from A").is_some()
    });
    assert!(shown, "B's comment threads lack A's comment: {threads}");
    let on_b = find_comment(&threads, "Lovely light, from A").expect("shown");
    assert_eq!(on_b["account"]["name"], "alice", "{on_b}");
    assert_eq!(on_b["account"]["host"], a.host(), "{on_b}");
    assert_eq!(on_b["isDeleted"], false, "{on_b}");
    assert_eq!(threads["total"], 1, "{threads}");
    assert_likes(&b, &uuid, (1, 0));

    // B's administrator answers on B; the reply reaches A under alice's comment.
    let b_admin = b.admin();
    let thread_on_b = on_b["id"].as_u64().expect("B's id of the comment");
    let reply = post_comment(
        &b,
        &b_admin,
        &uuid,
        Some(thread_on_b),
        "Thanks! It was at dusk.",
    );
    assert_eq!(reply["comment"]["threadId"], thread_on_b, "{reply}");
    let mut tree = Value::Null;
    let answered = wait_until(FEDERATION_DELAY, || {
        tree = a.get_json(
            &format!("/api/v1/videos/{uuid}/comment-threads/{alice_comment}"),
            None,
        );
        tree["children"][0]["comment"]["text"] == "Thanks! It was at dusk."
    });
    assert!(answered, "B's reply did not reach A: {tree}");
    let answer = &tree["children"][0]["comment"];
    assert_eq!(answer["account"]["name"], "admin", "{tree}");
    assert_eq!(answer["account"]["host"], b.host(), "{tree}");
    assert_eq!(answer["inReplyToCommentId"], alice_comment, "{tree}");
    assert_eq!(tree["comment"]["totalReplies"], 1, "{tree}");

    // alice changes her mind: B counts a dislike instead of the like.
    rate(&a, &alice, &uuid, "dislike");
    assert_eq!(my_rating(&a, &alice, &uuid), "dislike");
    assert_likes(&b, &uuid, (0, 1));
    let resp = send(a.req(Method::GET, &like_path, None).header(ACCEPT, AP));
    assert_eq!(resp.status(), StatusCode::NOT_FOUND, "the like was undone");
    let dislike_path = format!("/accounts/alice/dislikes/{uuid}");
    let dislike = expect_json(
        send(a.req(Method::GET, &dislike_path, None).header(ACCEPT, AP)),
        StatusCode::OK,
    );
    assert_eq!(dislike["type"], "Dislike", "{dislike}");

    // alice deletes her comment: B keeps its place for the reply, without text or author.
    let resp = send(a.req(
        Method::DELETE,
        &format!("/api/v1/videos/{uuid}/comments/{alice_comment}"),
        Some(&alice.token),
    ));
    expect_json(resp, StatusCode::NO_CONTENT);
    let gone = wait_until(FEDERATION_DELAY, || {
        threads = b.get_json(&format!("/api/v1/videos/{uuid}/comment-threads"), None);
        threads["data"][0]["isDeleted"] == true
    });
    assert!(gone, "alice's deletion did not reach B: {threads}");
    let placeholder = &threads["data"][0];
    assert_eq!(placeholder["text"], "", "{threads}");
    assert_eq!(placeholder["account"], Value::Null, "{threads}");
    assert_eq!(placeholder["totalReplies"], 1, "{threads}");
}

#[test]
fn a_mastodon_server_replies_likes_and_hears_comments() {
    let ca = TestCa::new();
    let node = Node::start_https(NODE, &ca, NODE_ENV);
    let mastodon = Peer::start(MASTODON, &ca);
    let bo = mastodon.add_actor("bo", "Person");
    let admin = node.admin();
    let me = node.get_json("/api/v1/users/me", Some(&admin.token));
    let channel = me["videoChannels"][0]["name"]
        .as_str()
        .expect("the administrator's channel")
        .to_string();
    let video = upload_published(&node, "Harbour at noon");
    let uuid = uuid_of(&video);
    let video_url = node.url(&format!("/videos/watch/{uuid}"));
    let threads_path = format!("/api/v1/videos/{uuid}/comment-threads");

    // bo follows the channel, so that he hears of what is written under its videos.
    let follow = bo.activity(
        "Follow",
        json!(node.url(&format!("/video-channels/{channel}"))),
    );
    assert_eq!(
        bo.post(&node, "/inbox", &follow).status(),
        StatusCode::NO_CONTENT
    );

    // A reply as Mastodon writes it: HTML, a mention, an entity, a script.
    let note_id = format!("{}/statuses/110", bo.url);
    let note = json!({
        "id": note_id,
        "type": "Note",
        "inReplyTo": video_url,
        "published": "2025-03-01T10:20:30Z",
        "url": mastodon.url("/@bo/110"),
        "attributedTo": bo.url,
        "to": [PUBLIC],
        "cc": [format!("{}/followers", bo.url), node.url("/accounts/admin")],
        "content": "<p><span class=\"h-card\"><a href=\"https://x.example/@admin\" class=\"u-url mention\">@<span>admin</span></a></span> Lovely light &amp; colours!</p><p>Where was it?<script>alert(1)</script></p>",
        "tag": [{"type": "Mention", "href": node.url("/accounts/admin"), "name": "@admin"}],
    });
    let create = bo.activity("Create", note.clone());
    assert_eq!(
        bo.post(&node, "/inbox", &create).status(),
        StatusCode::NO_CONTENT
    );
    let expected = "@admin Lovely light & colours!\n\nWhere was it?";
    let mut threads = Value::Null;
    let stored = wait_until(FEDERATION_DELAY, || {
        threads = node.get_json(&threads_path, None);
        find_comment(&threads, expected).is_some()
    });
    assert!(stored, "the Mastodon reply is not shown as text: {threads}");
    let reply = find_comment(&threads, expected).expect("shown");
    assert_eq!(reply["account"]["name"], "bo", "{reply}");
    assert_eq!(reply["account"]["host"], mastodon.host(), "{reply}");
    assert_eq!(reply["url"], note_id.as_str(), "{reply}");
    assert_eq!(reply["createdAt"], "2025-03-01T10:20:30.000Z", "{reply}");

    // The same Create again, a Note on a video the node does not have, and a Note bo
    // signs for someone else: nothing more is stored.
    assert_eq!(
        bo.post(&node, "/inbox", &create).status(),
        StatusCode::NO_CONTENT
    );
    let mut elsewhere = note.clone();
    elsewhere["id"] = json!(format!("{}/statuses/111", bo.url));
    elsewhere["inReplyTo"] = json!(node.url("/videos/watch/9c9de5e8-0a1e-484a-b099-e80766180a6d"));
    let resp = bo.post(&node, "/inbox", &bo.activity("Create", elsewhere));
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let carol = mastodon.add_actor("carol", "Person");
    let mut forged = note.clone();
    forged["id"] = json!(format!("{}/statuses/112", bo.url));
    forged["attributedTo"] = json!(carol.url);
    let resp = bo.post(&node, "/inbox", &bo.activity("Create", forged));
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);

    // bo likes the video, takes the like back, dislikes it.
    let like = bo.activity("Like", json!(video_url));
    assert_eq!(
        bo.post(&node, "/inbox", &like).status(),
        StatusCode::NO_CONTENT
    );
    assert_likes(&node, &uuid, (1, 0));
    let likes = expect_json(
        send(
            node.req(Method::GET, &format!("/videos/watch/{uuid}/likes"), None)
                .header(ACCEPT, AP),
        ),
        StatusCode::OK,
    );
    assert_eq!(likes["type"], "OrderedCollection", "{likes}");
    assert_eq!(likes["totalItems"], 1, "{likes}");
    let undo = bo.activity("Undo", like);
    assert_eq!(
        bo.post(&node, "/inbox", &undo).status(),
        StatusCode::NO_CONTENT
    );
    assert_likes(&node, &uuid, (0, 0));
    let dislike = bo.activity("Dislike", json!(video_url));
    assert_eq!(
        bo.post(&node, "/inbox", &dislike).status(),
        StatusCode::NO_CONTENT
    );
    assert_likes(&node, &uuid, (0, 1));

    let threads = node.get_json(&threads_path, None);
    assert_eq!(threads["total"], 1, "one comment only: {threads}");
    assert_eq!(threads["totalNotDeletedComments"], 1, "{threads}");
    // Servers that take a video's existing comments find bo's at its own id.
    let comments = expect_json(
        send(
            node.req(
                Method::GET,
                &format!("/videos/watch/{uuid}/comments?page=1"),
                None,
            )
            .header(ACCEPT, AP),
        ),
        StatusCode::OK,
    );
    assert_eq!(comments["orderedItems"], json!([note_id]), "{comments}");

    // The owner answers on the node: bo's server gets the Note, signed by the owner, and
    // can fetch it at its id, as PeerTube does before it stores a comment.
    let bo_thread = reply["id"].as_u64().expect("the reply's id");
    let answer = post_comment(&node, &admin, &uuid, Some(bo_thread), "At the old harbour.");
    let answer_url = answer["comment"]["url"]
        .as_str()
        .expect("the answer's url")
        .to_string();
    let mut delivered = None;
    let heard = wait_until(FEDERATION_DELAY, || {
        delivered = mastodon
            .inbox()
            .into_iter()
            .find(|r| r.json()["type"] == "Create");
        delivered.is_some()
    });
    assert!(
        heard,
        "no Create reached the Mastodon server: {:?}",
        mastodon.inbox()
    );
    let delivered = delivered.expect("delivered");
    let admin_url = node.url("/accounts/admin");
    let admin_actor = expect_json(
        send(node.req(Method::GET, &admin_url, None).header(ACCEPT, AP)),
        StatusCode::OK,
    );
    let key = admin_actor["publicKey"]["publicKeyPem"]
        .as_str()
        .expect("the owner's key");
    delivered
        .verify(&admin_url, key)
        .unwrap_or_else(|e| panic!("the Create is not signed by the owner: {e:?}"));
    let create = delivered.json();
    assert_eq!(create["actor"], admin_url.as_str(), "{create}");
    let sent = &create["object"];
    for (field, value) in [
        ("type", json!("Note")),
        ("id", json!(answer_url)),
        ("url", json!(answer_url)),
        ("content", json!("At the old harbour.")),
        ("mediaType", json!("text/markdown")),
        ("inReplyTo", json!(note_id)),
        ("attributedTo", json!(admin_url)),
    ] {
        assert_eq!(sent[field], value, "{field} of {create}");
    }
    assert!(
        sent["to"]
            .as_array()
            .is_some_and(|to| to.contains(&json!(PUBLIC))),
        "{create}"
    );
    let fetched = expect_json(
        send(node.req(Method::GET, &answer_url, None).header(ACCEPT, AP)),
        StatusCode::OK,
    );
    assert_eq!(fetched["id"], answer_url.as_str(), "{fetched}");
    assert_eq!(fetched["content"], "At the old harbour.", "{fetched}");
    assert_eq!(fetched["inReplyTo"], note_id.as_str(), "{fetched}");
    assert!(fetched["published"].is_string(), "{fetched}");

    // bo deletes his reply; the owner's answer keeps the thread, without bo.
    let tombstone = json!({"id": note_id, "type": "Tombstone"});
    let delete = bo.activity("Delete", tombstone);
    assert_eq!(
        bo.post(&node, "/inbox", &delete).status(),
        StatusCode::NO_CONTENT
    );
    let mut threads = Value::Null;
    let deleted = wait_until(FEDERATION_DELAY, || {
        threads = node.get_json(&threads_path, None);
        threads["data"][0]["isDeleted"] == true
    });
    assert!(deleted, "bo's Delete was not applied: {threads}");
    assert_eq!(threads["data"][0]["account"], Value::Null, "{threads}");
    assert_eq!(threads["totalNotDeletedComments"], 1, "{threads}");

    // The owner deletes the answer: bo's server hears it, and the Note is a Tombstone now.
    let answer_id = answer["comment"]["id"].as_u64().expect("the answer's id");
    let resp = send(node.req(
        Method::DELETE,
        &format!("/api/v1/videos/{uuid}/comments/{answer_id}"),
        Some(&admin.token),
    ));
    expect_json(resp, StatusCode::NO_CONTENT);
    let mut deletion = Value::Null;
    let heard = wait_until(FEDERATION_DELAY, || {
        deletion = mastodon
            .inbox()
            .iter()
            .map(|r| r.json())
            .find(|a| a["type"] == "Delete")
            .unwrap_or(Value::Null);
        !deletion.is_null()
    });
    assert!(
        heard,
        "no Delete reached the Mastodon server: {:?}",
        mastodon.inbox()
    );
    assert_eq!(deletion["object"]["id"], answer_url.as_str(), "{deletion}");
    assert_eq!(deletion["actor"], admin_url.as_str(), "{deletion}");
    let gone = expect_json(
        send(node.req(Method::GET, &answer_url, None).header(ACCEPT, AP)),
        StatusCode::OK,
    );
    assert_eq!(gone["type"], "Tombstone", "{gone}");
    let threads = node.get_json(&threads_path, None);
    assert_eq!(threads["total"], 0, "nothing is left to show: {threads}");
}

#[test]
fn comments_and_ratings_refuse_bad_input() {
    let node = Node::start();
    let owner = node.admin();
    let bob = node.create_account("bob", -1, -1);
    let dir = tempfile::tempdir().expect("a temp dir");
    let clip = make_clip(dir.path(), "clip.mp4");
    let channel = owner.channel_id.to_string();
    let upload = |name: &str, extra: &[(&str, &str)]| {
        let mut fields = vec![("name", name), ("channelId", channel.as_str())];
        fields.extend_from_slice(extra);
        uuid_of(&node.upload_ok(&owner.token, &fields, &clip))
    };
    let open = upload("Open for comments", &[("privacy", "1")]);
    let closed = upload("No comments", &[("privacy", "1"), ("commentsPolicy", "2")]);
    let private = upload("Private", &[("privacy", "3")]);
    let unknown = "9c9de5e8-0a1e-484a-b099-e80766180a6d";
    let threads = |uuid: &str| format!("/api/v1/videos/{uuid}/comment-threads");

    let mut checks = Checks::default();
    let post = |path: String, token: Option<&str>, body: Value| {
        let rb = node.req(Method::POST, &path, token).json(&body);
        move || send(rb)
    };
    let put = |path: String, token: Option<&str>, body: Value| {
        let rb = node.req(Method::PUT, &path, token).json(&body);
        move || send(rb)
    };
    let get = |path: String, token: Option<&str>| {
        let rb = node.req(Method::GET, &path, token);
        move || send(rb)
    };
    let rate_path = |uuid: &str| format!("/api/v1/videos/{uuid}/rate");
    let (b, hi) = (Some(bob.token.as_str()), json!({"text": "hi"}));
    let long = "x".repeat(10_001);
    let cases: Vec<(&str, Request, StatusCode)> = vec![
        (
            "empty text",
            Box::new(post(threads(&open), b, json!({"text": ""}))),
            StatusCode::BAD_REQUEST,
        ),
        (
            "no text",
            Box::new(post(threads(&open), b, json!({}))),
            StatusCode::BAD_REQUEST,
        ),
        (
            "text too long",
            Box::new(post(threads(&open), b, json!({"text": long}))),
            StatusCode::BAD_REQUEST,
        ),
        (
            "text not a string",
            Box::new(post(threads(&open), b, json!({"text": 5}))),
            StatusCode::BAD_REQUEST,
        ),
        (
            "no token",
            Box::new(post(threads(&open), None, hi.clone())),
            StatusCode::UNAUTHORIZED,
        ),
        // PeerTube answers 409 Conflict when a video's comments are disabled.
        (
            "comments disabled",
            Box::new(post(threads(&closed), b, hi.clone())),
            StatusCode::CONFLICT,
        ),
        (
            "unknown video",
            Box::new(post(threads(unknown), b, hi.clone())),
            StatusCode::NOT_FOUND,
        ),
        (
            "malformed video id",
            Box::new(post(threads("not-a-video!"), b, hi.clone())),
            StatusCode::BAD_REQUEST,
        ),
        (
            "private video of another",
            Box::new(post(threads(&private), b, hi.clone())),
            StatusCode::FORBIDDEN,
        ),
        (
            "threads of a private video, anonymous",
            Box::new(get(threads(&private), None)),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "threads of an unknown video",
            Box::new(get(threads(unknown), None)),
            StatusCode::NOT_FOUND,
        ),
        (
            "threads sorted by nonsense",
            Box::new(get(format!("{}?sort=-likes", threads(&open)), None)),
            StatusCode::BAD_REQUEST,
        ),
        (
            "rating love",
            Box::new(put(rate_path(&open), b, json!({"rating": "love"}))),
            StatusCode::BAD_REQUEST,
        ),
        (
            "rating missing",
            Box::new(put(rate_path(&open), b, json!({}))),
            StatusCode::BAD_REQUEST,
        ),
        (
            "rating of an unknown video",
            Box::new(put(rate_path(unknown), b, json!({"rating": "like"}))),
            StatusCode::NOT_FOUND,
        ),
        (
            "rating without token",
            Box::new(put(rate_path(&open), None, json!({"rating": "like"}))),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "rating of a private video of another",
            Box::new(put(rate_path(&private), b, json!({"rating": "like"}))),
            StatusCode::FORBIDDEN,
        ),
        (
            "my rating of an unknown video",
            Box::new(get(format!("/api/v1/users/me/videos/{unknown}/rating"), b)),
            StatusCode::NOT_FOUND,
        ),
        (
            "reply to an unknown comment",
            Box::new(post(
                format!("/api/v1/videos/{open}/comments/999"),
                b,
                hi.clone(),
            )),
            StatusCode::NOT_FOUND,
        ),
        (
            "reply to a malformed comment id",
            Box::new(post(
                format!("/api/v1/videos/{open}/comments/abc"),
                b,
                hi.clone(),
            )),
            StatusCode::BAD_REQUEST,
        ),
        (
            "unknown thread",
            Box::new(get(format!("{}/999", threads(&open)), None)),
            StatusCode::NOT_FOUND,
        ),
    ];
    for (what, request, status) in cases {
        checks.status(what, request, status, None);
    }
    checks.assert_all_passed();

    // What is accepted: the longest text, a reply, the owner on a private video.
    let longest = "y".repeat(10_000);
    let first = post_comment(&node, &bob, &open, None, &longest);
    let first_id = first["comment"]["id"].as_u64().expect("id");
    let reply = post_comment(&node, &owner, &open, Some(first_id), "Thanks, bob");
    let reply_id = reply["comment"]["id"].as_u64().expect("id");
    post_comment(&node, &owner, &private, None, "A note to myself");
    let list = node.get_json(&threads(&open), None);
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(list["totalNotDeletedComments"], 2, "{list}");
    assert_eq!(list["data"][0]["totalReplies"], 1, "{list}");
    assert_eq!(list["data"][0]["totalRepliesFromVideoAuthor"], 1, "{list}");
    let closed_list = node.get_json(&threads(&closed), None);
    assert_eq!(closed_list["total"], 0, "{closed_list}");
    // A comment belongs to its video: not reachable through another one.
    let resp = post(
        format!("/api/v1/videos/{closed}/comments/{first_id}"),
        Some(&owner.token),
        json!({"text": "x"}),
    )();
    assert_eq!(
        resp.status(),
        StatusCode::CONFLICT,
        "comments are off there"
    );
    let resp = node.get(&format!("{}/{first_id}", threads(&closed)), None);
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    // Deletion: not by another user; by the video's owner; not twice.
    let delete = |token: &str, id: u64| {
        send(node.req(
            Method::DELETE,
            &format!("/api/v1/videos/{open}/comments/{id}"),
            Some(token),
        ))
    };
    assert_eq!(delete(&bob.token, reply_id).status(), StatusCode::FORBIDDEN);
    assert_eq!(
        delete(&owner.token, first_id).status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        delete(&owner.token, first_id).status(),
        StatusCode::CONFLICT
    );
    let tree = node.get_json(&format!("{}/{first_id}", threads(&open)), None);
    assert_eq!(tree["comment"]["isDeleted"], true, "{tree}");
    assert_eq!(tree["comment"]["text"], "", "{tree}");
    assert_eq!(
        tree["children"][0]["comment"]["text"], "Thanks, bob",
        "{tree}"
    );
    assert_eq!(
        delete(&owner.token, reply_id).status(),
        StatusCode::NO_CONTENT
    );
    let list = node.get_json(&threads(&open), None);
    assert_eq!(
        list["total"], 0,
        "a deleted thread without replies is not listed: {list}"
    );

    // Ratings move the counters once per user.
    rate(&node, &bob, &open, "like");
    rate(&node, &bob, &open, "like");
    rate(&node, &owner, &open, "dislike");
    assert_eq!(my_rating(&node, &bob, &open), "like");
    assert_likes(&node, &open, (1, 1));
    rate(&node, &bob, &open, "none");
    assert_eq!(my_rating(&node, &bob, &open), "none");
    assert_likes(&node, &open, (0, 1));
}

/// `a`'s administrator follows `b`'s instance and waits until it is accepted.
fn follow_instance(a: &Node, b: &Node) {
    let admin = a.admin();
    let resp = send(
        a.req(Method::POST, "/api/v1/server/following", Some(&admin.token))
            .json(&json!({ "hosts": [b.host()] })),
    );
    expect_json(resp, StatusCode::NO_CONTENT);
    let mut following = Value::Null;
    let accepted = wait_until(Duration::from_secs(30), || {
        following = a.get_json("/api/v1/server/following", None);
        following["data"].as_array().is_some_and(|d| {
            d.iter()
                .any(|f| f["following"]["host"] == b.host() && f["state"] == "accepted")
        })
    });
    assert!(accepted, "A's follow of B is not accepted: {following}");
}

/// The administrator of `node` publishes a public clip named `name` (it federates from
/// then on); returns its details.
fn upload_published(node: &Node, name: &str) -> Value {
    let dir = tempfile::tempdir().expect("a temp dir");
    let clip = make_clip(dir.path(), "clip.mp4");
    node.publish_public(&node.admin(), &[("name", name)], &clip)
}

fn uuid_of(video: &Value) -> String {
    video["uuid"].as_str().expect("uuid").to_string()
}

/// Comments as `user`: a new thread, or a reply to `parent`. Returns `{comment}`.
#[track_caller]
fn post_comment(node: &Node, user: &Account, uuid: &str, parent: Option<u64>, text: &str) -> Value {
    let path = match parent {
        Some(id) => format!("/api/v1/videos/{uuid}/comments/{id}"),
        None => format!("/api/v1/videos/{uuid}/comment-threads"),
    };
    let resp = send(
        node.req(Method::POST, &path, Some(&user.token))
            .json(&json!({ "text": text })),
    );
    expect_json(resp, StatusCode::OK)
}

#[track_caller]
fn rate(node: &Node, user: &Account, uuid: &str, rating: &str) {
    let resp = send(
        node.req(
            Method::PUT,
            &format!("/api/v1/videos/{uuid}/rate"),
            Some(&user.token),
        )
        .json(&json!({ "rating": rating })),
    );
    expect_json(resp, StatusCode::NO_CONTENT);
}

fn my_rating(node: &Node, user: &Account, uuid: &str) -> String {
    let answer = node.get_json(
        &format!("/api/v1/users/me/videos/{uuid}/rating"),
        Some(&user.token),
    );
    assert!(answer["videoId"].is_u64(), "{answer}");
    answer["rating"].as_str().unwrap_or_default().to_string()
}

/// Waits until the video's details on `node` show these likes and dislikes.
#[track_caller]
fn assert_likes(node: &Node, uuid: &str, expected: (u64, u64)) {
    let mut details = Value::Null;
    let counted = wait_until(FEDERATION_DELAY, || {
        details = node.get_json(&format!("/api/v1/videos/{uuid}"), None);
        (details["likes"].as_u64(), details["dislikes"].as_u64())
            == (Some(expected.0), Some(expected.1))
    });
    assert!(
        counted,
        "{} does not show {} likes and {} dislikes: likes {}, dislikes {}",
        node.host(),
        expected.0,
        expected.1,
        details["likes"],
        details["dislikes"]
    );
}

/// The comment of a thread list (`{data: [VideoComment]}`) with this text.
fn find_comment<'a>(threads: &'a Value, text: &str) -> Option<&'a Value> {
    threads["data"]
        .as_array()?
        .iter()
        .find(|c| c["text"] == text)
}
