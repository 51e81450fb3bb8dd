//! The real PeerTube CLI (`@peertube/peertube-cli`, pinned in tests/package.json) logs in to
//! a node and uploads a video into a chosen channel; the node must keep exactly what was sent.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use peerbox_e2e::{Node, expect_json, make_clip, send};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// Runs peertube-cli with its own HOME (it writes ~/.netrc and ~/.config/PeerTube/CLI);
/// returns whether it exited 0 and what it printed.
fn peertube_cli(home: &Path, args: &[&str]) -> (bool, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("node_modules/@peertube/peertube-cli/dist/peertube.js");
    assert!(
        script.is_file(),
        "{} is missing: run `just deps` (npm ci in tests/)",
        script.display()
    );
    let log_path = home.join("cli-output.txt");
    let log = File::create(&log_path).expect("creating the CLI log");
    let mut child = Command::new("node")
        .arg(&script)
        .args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("cloning the log handle"))
        .stderr(log)
        .spawn()
        .expect("running node (install it with `just deps`)");
    // After uploading, the CLI polls the video until it has a torrent; a node that never
    // makes one would hang it forever.
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for peertube-cli") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "peertube-cli {args:?} did not finish within 2 minutes; it printed:\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
        sleep(Duration::from_millis(100));
    };
    let output = std::fs::read_to_string(&log_path).expect("reading the CLI log");
    (status.success(), output)
}

#[test]
fn peertube_cli_uploads_a_video_into_a_second_channel() {
    let node = Node::start();
    // Uploads stay "to transcode": this test is about what comes before transcoding.
    node.pause_jobs();
    let work = tempfile::tempdir().expect("temp dir");
    let clip: PathBuf = make_clip(work.path(), "cli-clip.mp4");
    let home = work.path().join("home");
    std::fs::create_dir(&home).expect("creating HOME");

    let user = node.create_account("cliuser", -1, -1);
    // A second channel, made through the API as the web client does.
    let created = expect_json(
        send(
            node.req(Method::POST, "/api/v1/video-channels", Some(&user.token))
                .json(&json!({
                    "name": "cli_second_channel",
                    "displayName": "Second channel",
                    "description": "Where the CLI uploads",
                })),
        ),
        StatusCode::OK,
    );
    let channel_id = created["videoChannel"]["id"]
        .as_u64()
        .expect("videoChannel.id in the creation answer");
    assert_ne!(channel_id, user.channel_id);

    let (ok, out) = peertube_cli(
        &home,
        &[
            "auth",
            "add",
            "-u",
            &node.base_url(),
            "-U",
            &user.username,
            "--password",
            &user.password,
        ],
    );
    assert!(ok, "peertube-cli auth add failed:\n{out}");

    let name = "Peerbox CLI upload";
    let description = "Uploaded by the real PeerTube CLI";
    let support = "Support this channel";
    let clip_arg = clip.to_str().expect("UTF-8 path");
    let (ok, out) = peertube_cli(
        &home,
        &[
            "upload",
            "--file",
            clip_arg,
            "--video-name",
            name,
            "-C",
            "cli_second_channel",
            "-d",
            description,
            "-t",
            "tag1,tag2",
            "-c",
            "10",
            "-l",
            "2",
            "-L",
            "en",
            "-P",
            "1",
            "-s",
            support,
        ],
    );
    assert!(ok, "peertube-cli upload failed:\n{out}");
    assert!(
        out.contains(&format!("Video {name} uploaded.")),
        "peertube-cli did not say the video was uploaded:\n{out}"
    );

    let mine = node.my_videos(&user.token);
    assert_eq!(
        mine.len(),
        1,
        "the user should have exactly one video: {mine:?}"
    );
    let v = node.video(&mine[0], Some(&user.token));
    assert_eq!(v["name"], name);
    assert_eq!(
        v["channel"]["id"], channel_id,
        "video in the wrong channel: {}",
        v["channel"]
    );
    assert_eq!(v["channel"]["name"], "cli_second_channel");
    assert_eq!(v["account"]["name"], user.username.as_str());
    assert_eq!(v["description"], description);
    assert_eq!(v["support"], support);
    assert_eq!(v["tags"], json!(["tag1", "tag2"]));
    assert_eq!(v["category"], json!({"id": 10, "label": "Entertainment"}));
    assert_eq!(
        v["licence"],
        json!({"id": 2, "label": "Attribution - Share Alike"})
    );
    assert_eq!(v["language"], json!({"id": "en", "label": "English"}));
    assert_eq!(v["privacy"], json!({"id": 1, "label": "Public"}));
    assert_eq!(v["nsfw"], false);
    assert_eq!(v["downloadEnabled"], true);
    // The CLI waits for transcoding unless told not to.
    assert_eq!(v["waitTranscoding"], true);
    assert_eq!(
        v["commentsPolicy"]["id"], 1,
        "comments are enabled by default"
    );
    assert_eq!(v["state"]["id"], 2, "a new upload is to be transcoded");

    let source = std::fs::read(&clip).expect("reading the clip");
    let file = &v["files"][0];
    assert_eq!(file["size"], source.len(), "files[0].size: {file}");
    let url = file["fileUrl"].as_str().expect("files[0].fileUrl");
    assert_eq!(
        node.download(url, None),
        source,
        "the stored file differs from the uploaded one"
    );
}
