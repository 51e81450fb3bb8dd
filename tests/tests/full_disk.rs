//! A full data partition: the node keeps serving what it has (pages, API, media, logins of
//! existing sessions), refuses new uploads with 507 and a message that says why, leaves no
//! partial file behind, and takes uploads again once space is freed.
//!
//! The data dir is a small tmpfs mounted by the test, so this needs root (as CI has).

use std::path::{Path, PathBuf};
use std::process::Command;

use peerbox_e2e::{MIB, Node, assert_problem, make_clip, random_bytes, send};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// A tmpfs of `size` at `dir`, unmounted when dropped (also when the test fails).
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(dir: &Path, size: &str) -> SmallDisk {
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "peerbox-full-disk",
            ])
            .arg(dir)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "mounting a tmpfs for the data dir failed (this test needs root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallDisk(dir.to_path_buf())
    }

    fn free_bytes(&self) -> u64 {
        let out = Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(&self.0)
            .output()
            .expect("df");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .and_then(|l| l.trim().parse().ok())
            .expect("df output")
    }

    /// Fills the disk until `leave` bytes are free (0: completely full).
    fn fill(&self, leave: u64) -> PathBuf {
        let filler = self.0.join("filler");
        let size = self.free_bytes().saturating_sub(leave);
        let mut f = std::fs::File::create(&filler).expect("filler");
        let chunk = vec![0xA5u8; MIB];
        let mut written = 0u64;
        while written < size {
            let n = (size - written).min(MIB as u64) as usize;
            if std::io::Write::write_all(&mut f, &chunk[..n]).is_err() {
                break;
            }
            written += n as u64;
        }
        if leave == 0 {
            // Whatever the block rounding left: a full disk is full.
            let one = [0u8; 4096];
            while std::io::Write::write_all(&mut f, &one).is_ok() {}
        }
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_data_partition_refuses_uploads_clearly_and_keeps_serving() {
    let work = tempfile::tempdir().expect("temp dir");
    let clip = make_clip(work.path(), "clip.mp4");

    // The node's data dir on a 320 MiB disk, as a small card's data partition.
    let mut node = Node::start();
    node.stop();
    std::fs::remove_dir_all(node.data_dir()).expect("clearing the data dir");
    std::fs::create_dir_all(node.data_dir()).expect("data dir");
    let disk = SmallDisk::mount(&node.data_dir(), "320m");
    node.restart();
    node.pause_jobs();
    let user = node.create_account("club", -1, -1);
    let channel = user.channel_id.to_string();
    let fields = [("name", "Before"), ("channelId", channel.as_str())];
    let before = node.upload_ok(&user.token, &fields, &clip);
    let uuid = before["uuid"].as_str().expect("uuid").to_string();

    // Nearly full: an upload that would leave the node no room is refused up front.
    let filler = disk.fill(100 * MIB as u64);
    let refused = assert_problem(
        node.upload_legacy(
            &user.token,
            &[("name", "No room"), ("channelId", channel.as_str())],
            Some(&clip),
        ),
        StatusCode::INSUFFICIENT_STORAGE,
    );
    let detail = refused["detail"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(
        detail.contains("space") || detail.contains("full"),
        "the message does not say the disk is full: {refused}"
    );
    let resumable = send(
        node.req(
            Method::POST,
            "/api/v1/videos/upload-resumable",
            Some(&user.token),
        )
        .header("X-Upload-Content-Length", "10000000")
        .header("X-Upload-Content-Type", "video/mp4")
        .json(&json!({"filename": "a.mp4", "name": "No room", "channelId": user.channel_id})),
    );
    assert_problem(resumable, StatusCode::INSUFFICIENT_STORAGE);

    // Completely full: still refused (the body is drained, nothing half-written kept) ...
    std::fs::remove_file(&filler).expect("filler");
    let filler = disk.fill(0);
    let big = work.path().join("big.mp4");
    std::fs::write(&big, random_bytes(4 * MIB, 7)).expect("big file");
    let full = node.upload_legacy(
        &user.token,
        &[("name", "Full"), ("channelId", channel.as_str())],
        Some(&big),
    );
    assert_eq!(full.status(), StatusCode::INSUFFICIENT_STORAGE);
    assert!(
        node.upload_leftovers().is_empty(),
        "partial upload left: {:?}",
        node.upload_leftovers()
    );

    // ... while everything already there is served.
    assert_eq!(node.get("/api/v1/health", None).status(), StatusCode::OK);
    let list = node.get_json("/api/v1/videos", None);
    assert!(list["total"].as_u64().is_some(), "{list}");
    let mine = node.get_json(&format!("/api/v1/videos/{uuid}"), Some(&user.token));
    assert_eq!(mine["name"], "Before", "{mine}");
    assert_eq!(node.get("/", None).status(), StatusCode::OK);
    let source = send(node.req(
        Method::GET,
        &format!("/api/v1/videos/{uuid}/source"),
        Some(&user.token),
    ));
    assert_eq!(source.status(), StatusCode::OK, "the kept source is listed");

    // Space freed: uploads work again.
    std::fs::remove_file(&filler).expect("filler");
    node.upload_ok(
        &user.token,
        &[("name", "After"), ("channelId", channel.as_str())],
        &clip,
    );
    drop(node);
    drop(disk);
}
