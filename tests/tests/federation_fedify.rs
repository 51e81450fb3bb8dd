//! Federation with third-party ActivityPub code: a peer written with Fedify (from npm,
//! pinned in tests/federation/package-lock.json) on its own loopback address, over real
//! HTTPS with certificates of the test's CA. It finds a channel of our node by WebFinger,
//! follows it (and the instance actor) with Follows that Fedify signs, gets our Accepts
//! and, once a video is published on the channel, its Create and the instance's Announce,
//! then ends the subscription with an Undo. Fedify verifies the HTTP signature of every
//! activity before its inbox listener runs, so each activity the peer reports receiving
//! is one that Fedify's own verifier accepted.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use peerbox_e2e::*;
use serde_json::{Value, json};
use tempfile::TempDir;

const OURS: &str = "127.0.0.2";
const PEER: &str = "127.0.0.8";

/// How long the peer has for each step.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// The last part of the peer's log kept for failure messages (Fedify logs at debug level).
const STDERR_KEPT: usize = 64 * 1024;

#[test]
fn a_fedify_peer_follows_a_channel_and_gets_its_videos() {
    let ca = TestCa::new();
    let node = Node::start_https(OURS, &ca, &[]);
    let admin = node.admin();
    let me = node.get_json("/api/v1/users/me", Some(&admin.token));
    let channel = me["videoChannels"][0]["name"]
        .as_str()
        .expect("the administrator's channel name")
        .to_string();
    let display_name = me["videoChannels"][0]["displayName"].clone();
    let channel_url = node.url(&format!("/video-channels/{channel}"));
    let handle = format!("@{channel}@{}", node.host());
    let instance_url = node.url("/accounts/peertube");
    let instance_handle = format!("@peertube@{}", node.host());

    let mut peer = Peer::start(&ca);
    let alice = peer.actor.clone();
    let peer_host = peer.host();

    // WebFinger, then the actor document, as Fedify reads them.
    peer.command(json!({ "lookup": handle }));
    let found = peer.wait_for("lookup");
    assert_eq!(found["type"], "Group", "{found}");
    assert_eq!(found["id"], channel_url.as_str(), "{found}");
    assert_eq!(found["preferredUsername"], channel.as_str(), "{found}");
    assert_eq!(found["name"], display_name, "{found}");
    assert_eq!(
        found["inbox"],
        format!("{channel_url}/inbox").as_str(),
        "{found}"
    );

    // A Follow signed by Fedify; our Accept, whose signature Fedify checks. The same for
    // the instance actor, whose followers get an Announce of each new video.
    let channel_follow = peer.follow(&handle, &channel_url);
    peer.follow(&instance_handle, &instance_url);

    // The channel's owner sees the Fedify actor among its followers; so does everyone
    // among the instance's.
    let is_alice = |f: &Value| {
        f["follower"]["name"] == "alice"
            && f["follower"]["host"] == peer_host.as_str()
            && f["follower"]["url"] == alice
            && f["state"] == "accepted"
    };
    let channel_followers = || {
        node.get_json(
            &format!("/api/v1/video-channels/{channel}/followers"),
            Some(&admin.token),
        )
    };
    let mut followers = Value::Null;
    let listed = wait_until(Duration::from_secs(30), || {
        followers = channel_followers();
        followers["data"]
            .as_array()
            .is_some_and(|d| d.iter().any(is_alice))
    });
    assert!(
        listed,
        "{channel}'s followers do not list alice@{peer_host} as accepted: {followers}"
    );
    let server_followers = node.get_json("/api/v1/server/followers", None);
    assert!(
        server_followers["data"]
            .as_array()
            .is_some_and(|d| d.iter().any(is_alice)),
        "the instance's followers do not list alice@{peer_host}: {server_followers}"
    );

    // A public video on the channel reaches the follower as a Create of the Video, and as
    // the instance's Announce of it, which Fedify follows to our Video object.
    let name = "Seen from Fedify";
    let (uuid, details) = upload_published(&node, &admin, name);
    let video_url = node.url(&format!("/videos/watch/{uuid}"));
    let playlist = details["streamingPlaylists"][0]["playlistUrl"]
        .as_str()
        .unwrap_or_else(|| panic!("no HLS playlist in {details}"))
        .to_string();
    let create = peer.wait_for("create");
    assert_eq!(
        create["actor"],
        node.url("/accounts/admin").as_str(),
        "{create}"
    );
    let announce = peer.wait_for("announce");
    assert_eq!(announce["actor"], instance_url.as_str(), "{announce}");
    assert_eq!(announce["objectId"], video_url.as_str(), "{announce}");
    for event in [&create, &announce] {
        let video = &event["object"];
        assert_eq!(video["type"], "Video", "{event}");
        assert_eq!(video["name"], name, "{event}");
        assert_eq!(video["id"], video_url.as_str(), "{event}");
        assert!(
            video["attributedTo"]
                .as_array()
                .is_some_and(|a| a.iter().any(|u| *u == channel_url.as_str())),
            "the video is not attributed to {channel_url}: {event}"
        );
        let hls = video["urls"].as_array().is_some_and(|urls| {
            urls.iter()
                .any(|u| u["mediaType"] == "application/x-mpegURL" && u["href"] == playlist)
        });
        assert!(
            hls,
            "no HLS link to {playlist} in what Fedify read: {event}"
        );
    }

    // Fedify's Undo of its Follow ends the subscription.
    peer.command(json!({ "unfollow": handle }));
    let undone = peer.wait_for("undo-sent");
    assert_eq!(undone["object"], channel_follow, "{undone}");
    let gone = wait_until(Duration::from_secs(30), || {
        followers = channel_followers();
        followers["data"]
            .as_array()
            .is_some_and(|d| !d.iter().any(|f| f["follower"]["url"] == alice))
    });
    assert!(
        gone,
        "{channel}'s followers still list alice@{peer_host} after her Undo: {followers}"
    );
}

/// The administrator uploads a public clip and waits until it is published with its
/// torrents written (what federating it waits for). Returns its uuid and details.
fn upload_published(node: &Node, admin: &Account, name: &str) -> (String, Value) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let clip = make_clip(dir.path(), "clip.mp4");
    let details = node.publish_public(admin, &[("name", name)], &clip);
    let uuid = details["uuid"].as_str().expect("uuid").to_string();
    (uuid, details)
}

/// The Fedify peer (tests/federation/fedify-peer.mjs) as a child process: JSON commands
/// on its stdin, JSON events from its stdout. Dropping it ends the process.
struct Peer {
    child: Child,
    stdin: ChildStdin,
    events: Receiver<Value>,
    /// Events so far, for failure messages.
    seen: Vec<Value>,
    /// Events received while waiting for another, not yet waited for.
    pending: VecDeque<Value>,
    stderr: Arc<Mutex<Vec<u8>>>,
    port: u16,
    /// The URL of its actor, `alice`.
    actor: String,
    _dir: TempDir,
}

impl Peer {
    fn start(ca: &TestCa) -> Peer {
        let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("federation");
        assert!(
            scripts.join("node_modules/@fedify/fedify").is_dir(),
            "Fedify is missing: run `npm ci` in {} (scripts/install-deps does)",
            scripts.display()
        );
        let dir = tempfile::tempdir().expect("a temp dir");
        let (cert, key) = ca.issue(dir.path(), &[PEER]);
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca.pem()).expect("writing the CA certificate");
        let port = TcpListener::bind((PEER, 0))
            .and_then(|l| l.local_addr())
            .expect("a free port for the peer")
            .port();
        let mut child = Command::new("node")
            .arg("fedify-peer.mjs")
            .args(["--listen", &format!("{PEER}:{port}")])
            .arg("--cert")
            .arg(&cert)
            .arg("--key")
            .arg(&key)
            .current_dir(&scripts)
            // Node trusts our node's certificate through the test's CA.
            .env("NODE_EXTRA_CA_CERTS", &ca_file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running node (install it with `just deps`)");
        let (tx, events) = channel();
        let stdout = child.stdout.take().expect("the peer's stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let event = serde_json::from_str(&line).unwrap_or(Value::String(line));
                if tx.send(event).is_err() {
                    return;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let log = stderr.clone();
        let mut err = child.stderr.take().expect("the peer's stderr");
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n @ 1..) = err.read(&mut buf) {
                let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
                log.extend_from_slice(&buf[..n]);
                if log.len() > 2 * STDERR_KEPT {
                    let cut = log.len() - STDERR_KEPT;
                    log.drain(..cut);
                }
            }
        });
        let mut peer = Peer {
            stdin: child.stdin.take().expect("the peer's stdin"),
            child,
            events,
            seen: Vec::new(),
            pending: VecDeque::new(),
            stderr,
            port,
            actor: String::new(),
            _dir: dir,
        };
        let listening = peer.wait_for("listening");
        peer.actor = listening["actor"]
            .as_str()
            .unwrap_or_else(|| panic!("no actor in {listening}"))
            .to_string();
        assert_eq!(peer.actor, format!("https://{}/users/alice", peer.host()));
        peer
    }

    /// `address:port`, as our node names the peer's server.
    fn host(&self) -> String {
        format!("{PEER}:{}", self.port)
    }

    fn command(&mut self, command: Value) {
        writeln!(self.stdin, "{command}").expect("writing to the peer");
    }

    /// Has alice follow `handle` (the actor at `url`) and waits for the Accept, which must
    /// name her Follow; returns the Follow's id.
    #[track_caller]
    fn follow(&mut self, handle: &str, url: &str) -> Value {
        self.command(json!({ "follow": handle }));
        let sent = self.wait_for("follow-sent");
        assert_eq!(sent["object"], url, "{sent}");
        let accept = self.wait_for("accept");
        assert_eq!(accept["actor"], url, "{accept}");
        let follow = json!({
            "type": "Follow", "id": sent["id"], "actor": self.actor, "object": url,
        });
        assert_eq!(accept["object"], follow, "{accept}");
        sent["id"].clone()
    }

    /// The next event named `name` (events of other names are kept for later); fails on
    /// an `error` event, on the peer's exit, or after [`STEP_TIMEOUT`], showing what the
    /// peer said.
    #[track_caller]
    fn wait_for(&mut self, name: &str) -> Value {
        if let Some(at) = self.pending.iter().position(|e| e["event"] == name) {
            return self.pending.remove(at).unwrap_or_default();
        }
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(event) => {
                    self.seen.push(event.clone());
                    if event["event"] == "error" {
                        self.fail(&format!("the peer reported an error waiting for {name}"));
                    }
                    if event["event"] == name {
                        return event;
                    }
                    self.pending.push_back(event);
                }
                Err(RecvTimeoutError::Timeout) => self.fail(&format!(
                    "no {name} event from the peer within {STEP_TIMEOUT:?}"
                )),
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().ok();
                    self.fail(&format!(
                        "the peer exited ({status:?}) before a {name} event"
                    ))
                }
            }
        }
    }

    #[track_caller]
    fn fail(&self, why: &str) -> ! {
        let events: Vec<String> = self.seen.iter().map(Value::to_string).collect();
        let log = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
        panic!(
            "{why}\n--- the peer's events ---\n{}\n--- the end of the peer's log ---\n{}",
            events.join("\n"),
            String::from_utf8_lossy(&log)
        );
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
