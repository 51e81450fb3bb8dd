//! How other servers find and read this node's ActivityPub actors, as PeerTube and
//! Mastodon do it: WebFinger, then the actor URL with an ActivityPub `Accept`; the same URL
//! without it is the web page. Keys are RSA-2048 (checked with openssl, not our own code),
//! each actor has its own, and they survive restarts and SIGKILL.

use std::io::Write;
use std::process::{Command, Stdio};

use peerbox_e2e::*;
use reqwest::blocking::Response;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const AP: &str = "application/activity+json";
const LD: &str = "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"";

fn host(node: &Node) -> String {
    node.base_url().trim_start_matches("http://").to_string()
}

fn get_accept(node: &Node, path: &str, accept: &str) -> Response {
    send(node.req(Method::GET, path, None).header(ACCEPT, accept))
}

fn content_type(resp: &Response) -> String {
    resp.headers()
        .get(CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// An ActivityPub document: 200 with `application/activity+json`.
#[track_caller]
fn ap_get(node: &Node, url: &str) -> Value {
    let resp = get_accept(node, url, AP);
    let ctype = content_type(&resp);
    let body = expect_json(resp, StatusCode::OK);
    assert!(ctype.starts_with(AP), "{url} answered {ctype}");
    body
}

#[track_caller]
fn webfinger(node: &Node, name: &str) -> Value {
    let resource = format!("acct:{name}@{}", host(node));
    let resp = send(
        node.req(Method::GET, "/.well-known/webfinger", None)
            .query(&[("resource", resource.as_str())]),
    );
    let body = expect_json(resp, StatusCode::OK);
    assert_eq!(body["subject"], resource);
    body
}

/// The `self` link of a WebFinger answer: the actor URL.
#[track_caller]
fn actor_url(finger: &Value) -> String {
    finger["links"]
        .as_array()
        .and_then(|links| links.iter().find(|l| l["rel"] == "self" && l["type"] == AP))
        .and_then(|l| l["href"].as_str())
        .unwrap_or_else(|| panic!("no self link in {finger}"))
        .to_string()
}

/// What openssl says about a PEM public key: its type and size.
#[track_caller]
fn openssl_describe(pem: &str) -> String {
    let mut child = Command::new("openssl")
        .args(["pkey", "-pubin", "-noout", "-text"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running openssl (apt-get install openssl)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(pem.as_bytes())
        .expect("writing the key to openssl");
    let out = child.wait_with_output().expect("openssl");
    assert!(
        out.status.success(),
        "openssl cannot read the key: {}\n{pem}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[track_caller]
fn assert_actor(doc: &Value, url: &str, kind: &str, name: &str) {
    assert_eq!(doc["id"], url, "{doc}");
    assert_eq!(doc["type"], kind, "{doc}");
    assert_eq!(doc["preferredUsername"], name, "{doc}");
    for (field, suffix) in [
        ("inbox", "/inbox"),
        ("outbox", "/outbox"),
        ("followers", "/followers"),
        ("following", "/following"),
        ("playlists", "/playlists"),
    ] {
        assert_eq!(doc[field], format!("{url}{suffix}"), "{field} of {doc}");
    }
    assert!(
        doc["endpoints"]["sharedInbox"]
            .as_str()
            .is_some_and(|s| s.ends_with("/inbox"))
    );
    assert_eq!(doc["publicKey"]["id"], format!("{url}#main-key"));
    assert_eq!(doc["publicKey"]["owner"], url);
    assert!(doc["published"].is_string(), "{doc}");
    let context = doc["@context"].as_array().expect("@context array");
    assert_eq!(context[0], "https://www.w3.org/ns/activitystreams");
    assert_eq!(context[1], "https://w3id.org/security/v1");
    let pem = doc["publicKey"]["publicKeyPem"]
        .as_str()
        .expect("publicKeyPem");
    let described = openssl_describe(pem);
    assert!(
        described.contains("Public-Key: (2048 bit)"),
        "{url}'s key is not RSA-2048: {described}"
    );
}

fn pem(doc: &Value) -> String {
    doc["publicKey"]["publicKeyPem"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn actors_are_found_by_webfinger_and_keep_their_keys() {
    let mut node = Node::start();
    let alice = node.create_account("alice", -1, -1);
    let base = node.base_url();

    let account_url = actor_url(&webfinger(&node, "alice"));
    assert_eq!(account_url, format!("{base}/accounts/alice"));
    let account = ap_get(&node, &account_url);
    assert_actor(&account, &account_url, "Person", "alice");

    let channel_url = actor_url(&webfinger(&node, "alice_channel"));
    assert_eq!(channel_url, format!("{base}/video-channels/alice_channel"));
    let channel = ap_get(&node, &channel_url);
    assert_actor(&channel, &channel_url, "Group", "alice_channel");
    assert_eq!(channel["attributedTo"], json!([account_url]));

    let instance_url = actor_url(&webfinger(&node, "peertube"));
    assert_eq!(instance_url, format!("{base}/accounts/peertube"));
    let instance = ap_get(&node, &instance_url);
    assert_actor(&instance, &instance_url, "Application", "peertube");

    // Each actor signs with its own key.
    let keys = [pem(&account), pem(&channel), pem(&instance)];
    assert!(keys[0] != keys[1] && keys[1] != keys[2] && keys[0] != keys[2]);
    // The instance's key is a private file in the data dir from the first start.
    let key_file = node.data_dir().join("keys/instance-actor.pem");
    let mode = std::fs::metadata(&key_file).map(|m| {
        use std::os::unix::fs::PermissionsExt;
        m.permissions().mode() & 0o777
    });
    assert_eq!(mode.ok(), Some(0o600), "{}", key_file.display());

    // A channel made later has its key at once.
    let created = expect_json(
        send(
            node.req(Method::POST, "/api/v1/video-channels", Some(&alice.token))
                .json(&json!({ "name": "alice_music", "displayName": "Music" })),
        ),
        StatusCode::OK,
    );
    assert!(created["videoChannel"]["id"].is_u64(), "{created}");
    let music = ap_get(&node, "/video-channels/alice_music");
    assert_actor(
        &music,
        &format!("{base}/video-channels/alice_music"),
        "Group",
        "alice_music",
    );

    node.restart();
    assert_eq!(pem(&ap_get(&node, &account_url)), keys[0]);
    assert_eq!(pem(&ap_get(&node, &channel_url)), keys[1]);
    assert_eq!(pem(&ap_get(&node, &instance_url)), keys[2]);

    // A power cut right after an account is made: it comes back with the key it had.
    node.create_account("bob", -1, -1);
    let bob = pem(&ap_get(&node, "/accounts/bob"));
    node.kill9();
    node.restart();
    assert_eq!(pem(&ap_get(&node, "/accounts/bob")), bob);
    assert_eq!(pem(&ap_get(&node, &instance_url)), keys[2]);
}

#[test]
fn the_same_urls_serve_pages_or_activitypub_by_accept() {
    let node = Node::start();
    node.create_account("carol", -1, -1);
    for path in [
        "/accounts/carol",
        "/a/carol",
        "/video-channels/carol_channel",
        "/c/carol_channel",
    ] {
        for accept in [AP, LD, "application/ld+json"] {
            let resp = get_accept(&node, path, accept);
            assert!(content_type(&resp).starts_with(AP), "{path} with {accept}");
            let doc = expect_json(resp, StatusCode::OK);
            assert!(doc["publicKey"].is_object(), "{path} with {accept}: {doc}");
        }
        for accept in [
            "text/html",
            "*/*",
            "text/html,application/xhtml+xml,*/*;q=0.8",
        ] {
            let resp = get_accept(&node, path, accept);
            assert_eq!(resp.status(), StatusCode::OK, "{path} with {accept}");
            assert!(
                content_type(&resp).starts_with("text/html"),
                "{path} with {accept} answered {}",
                content_type(&resp)
            );
        }
    }
    // The ActivityPub document's url list starts with the pages.
    let doc = ap_get(&node, "/accounts/carol");
    assert_eq!(doc["url"][0]["mediaType"], "text/html");
}

#[test]
fn collections_are_ordered_collections() {
    let node = Node::start();
    node.create_account("dave", -1, -1);
    let base = node.base_url();
    for actor in [
        "/accounts/dave",
        "/video-channels/dave_channel",
        "/accounts/peertube",
    ] {
        for collection in ["followers", "following", "playlists", "outbox"] {
            let url = format!("{base}{actor}/{collection}");
            let doc = ap_get(&node, &url);
            assert_eq!(doc["id"], url);
            assert_eq!(doc["type"], "OrderedCollection");
            assert_eq!(doc["totalItems"], 0);
            let page = ap_get(&node, &format!("{url}?page=1"));
            assert_eq!(page["type"], "OrderedCollectionPage");
            assert_eq!(page["partOf"], url);
            assert_eq!(page["orderedItems"], json!([]));
        }
    }
    // The outbox is ActivityPub whatever the Accept, as PeerTube's.
    let resp = get_accept(&node, "/accounts/dave/outbox", "text/html");
    assert!(content_type(&resp).starts_with(AP));
    assert_problem(
        get_accept(&node, "/accounts/dave/outbox?page=0", AP),
        StatusCode::BAD_REQUEST,
    );
}

#[test]
fn unknown_actors_and_bad_resources_are_problems() {
    let node = Node::start();
    let h = host(&node);
    for path in [
        "/accounts/nobody",
        "/video-channels/nobody",
        "/accounts/nobody/followers",
        "/video-channels/nobody/outbox",
        "/accounts/admin@elsewhere.example",
    ] {
        assert_problem(get_accept(&node, path, AP), StatusCode::NOT_FOUND);
    }
    let finger = |resource: &str| {
        send(
            node.req(Method::GET, "/.well-known/webfinger", None)
                .query(&[("resource", resource)]),
        )
    };
    assert_problem(finger(&format!("acct:nobody@{h}")), StatusCode::NOT_FOUND);
    for bad in [
        "nobody".to_string(),
        "acct:admin".to_string(),
        format!("https://{h}/accounts/admin"),
        format!("acct:admin@{h}@x"),
        "acct:admin@elsewhere.example".to_string(),
    ] {
        assert_problem(finger(&bad), StatusCode::BAD_REQUEST);
    }
    assert_problem(
        node.get("/.well-known/webfinger", None),
        StatusCode::BAD_REQUEST,
    );
    // Names are the catalog's: an account cannot be named like the instance actor.
    let admin = node.admin();
    let resp = send(
        node.req(Method::POST, "/api/v1/users", Some(&admin.token))
            .json(&json!({
                "username": "peertube",
                "password": "peertube-password",
                "email": "peertube@example.org",
                "role": 2,
                "videoQuota": -1,
                "videoQuotaDaily": -1,
            })),
    );
    assert_eq!(resp.status(), StatusCode::CONFLICT);
}

#[test]
fn nodeinfo_and_host_meta() {
    let node = Node::start();
    let base = node.base_url();
    let links = node.get_json("/.well-known/nodeinfo", None);
    let link = |rel: &str| {
        links["links"]
            .as_array()
            .and_then(|l| l.iter().find(|x| x["rel"] == rel))
            .and_then(|x| x["href"].as_str())
            .map(String::from)
    };
    let info_url = link("http://nodeinfo.diaspora.software/ns/schema/2.0").expect("2.0 link");
    assert_eq!(info_url, format!("{base}/nodeinfo/2.0.json"));
    assert_eq!(
        link("https://www.w3.org/ns/activitystreams#Application"),
        Some(format!("{base}/accounts/peertube"))
    );
    let resp = node.get(&info_url, None);
    assert!(
        content_type(&resp).contains("nodeinfo.diaspora.software/ns/schema/2.0"),
        "{}",
        content_type(&resp)
    );
    let info = expect_json(resp, StatusCode::OK);
    assert_eq!(info["version"], "2.0");
    assert_eq!(info["software"]["name"], "peerbox");
    assert!(info["software"]["version"].is_string());
    assert_eq!(info["protocols"], json!(["activitypub"]));
    assert_eq!(info["usage"]["users"]["total"], 1);
    assert_eq!(info["metadata"]["taxonomy"]["postsName"], "Videos");
    assert!(info["metadata"]["nodeName"].is_string());
    assert_problem(node.get("/nodeinfo/2.1.json", None), StatusCode::NOT_FOUND);

    let resp = node.get("/.well-known/host-meta", None);
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(content_type(&resp).contains("xml"));
    let xml = resp.text().expect("body");
    assert!(
        xml.contains(&format!(
            "template=\"{base}/.well-known/webfinger?resource={{uri}}\""
        )),
        "{xml}"
    );
}
