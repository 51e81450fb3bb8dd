//! PeerTube's resumable upload protocol: surviving a SIGKILL of the node mid-upload,
//! cancelling, and the sweep of abandoned uploads.

use std::thread::sleep;
use std::time::Duration;

use peerbox_e2e::{MIB, Node, assert_problem, random_bytes, sha256_hex, wait_until};
use reqwest::StatusCode;
use serde_json::json;

#[test]
fn upload_survives_sigkill_and_restart() {
    let mut node = Node::start();
    // Uploads stay "to transcode": this test is about what comes before transcoding.
    node.pause_jobs();
    let user = node.create_account("uploader", -1, -1);
    let total = 50 * MIB + 12_345;
    let data = random_bytes(total, 7);
    let chunk = 4 * MIB;
    let up = node.resumable_session(
        &user.token,
        total,
        &json!({
            "filename": "big.mp4",
            "name": "Big resumable upload",
            "channelId": user.channel_id,
            "privacy": 3,
        }),
    );

    // Whole chunks up to about half of the file, each acknowledged.
    let mut acked = 0;
    while acked + chunk <= total / 2 {
        let resp = node.put_chunk(Some(&user.token), &up, acked, &data[acked..acked + chunk]);
        assert_eq!(resp.status(), StatusCode::PERMANENT_REDIRECT);
        acked += chunk;
        assert_eq!(peerbox_e2e::received_range(&resp), Some(acked));
    }

    // The next chunk is cut by the SIGKILL after half of its body reached the node.
    let end = acked + chunk;
    let in_flight = node.send_partial(
        &format!("PUT {}", up.path_and_query()),
        &[
            ("Authorization", format!("Bearer {}", user.token)),
            ("Content-Type", "application/octet-stream".into()),
            (
                "Content-Range",
                format!("bytes {acked}-{}/{total}", end - 1),
            ),
            ("Content-Length", chunk.to_string()),
        ],
        &data[acked..acked + chunk / 2],
    );
    sleep(Duration::from_millis(500));
    node.kill9();
    drop(in_flight);
    node.restart();
    node.pause_jobs();

    // The client asks where to resume, then finishes from there.
    let offset = node.upload_offset(&user.token, &up);
    assert!(
        (acked..=acked + chunk / 2).contains(&offset),
        "after the restart the node says it has {offset} bytes; it acknowledged {acked} \
         and received at most {} more",
        chunk / 2
    );
    let done = node.send_chunks(&user.token, &up, &data, offset, chunk);
    let uuid = done["video"]["uuid"]
        .as_str()
        .expect("video.uuid in the final answer");

    let v = node.video(uuid, Some(&user.token));
    assert_eq!(v["name"], "Big resumable upload");
    assert_eq!(v["state"]["id"], 2);
    assert_eq!(v["files"][0]["size"], total);
    let stored = node.source_bytes(uuid, &user.token);
    assert_eq!(
        sha256_hex(&stored),
        sha256_hex(&data),
        "the stored file differs from the source ({} bytes stored, {total} sent)",
        stored.len()
    );
}

#[test]
fn cancelled_upload_leaves_nothing() {
    let node = Node::start();
    let user = node.create_account("canceller", -1, -1);
    let data = random_bytes(3 * MIB + 5, 3);
    let before = node.stored_files();
    let up = node.resumable_session(
        &user.token,
        data.len(),
        &json!({"filename": "cancel.mp4", "name": "Cancelled upload", "channelId": user.channel_id}),
    );
    for start in [0, MIB] {
        let resp = node.put_chunk(Some(&user.token), &up, start, &data[start..start + MIB]);
        assert_eq!(resp.status(), StatusCode::PERMANENT_REDIRECT);
    }
    assert!(
        !node.upload_leftovers().is_empty(),
        "the partial upload should be kept under uploads/ until it is finished or cancelled"
    );

    let resp = node.cancel_upload(Some(&user.token), &up);
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        node.upload_leftovers(),
        Default::default(),
        "uploads/ after the cancel"
    );
    assert_eq!(node.files_changed_since(&before), None, "after the cancel");

    // The session is gone: no more chunks, and no video came of it.
    assert_problem(
        node.put_chunk(Some(&user.token), &up, 2 * MIB, &data[2 * MIB..]),
        StatusCode::NOT_FOUND,
    );
    assert!(node.my_videos(&user.token).is_empty());
    assert_eq!(node.quota_used(&user.token), (0, 0));
}

#[test]
fn abandoned_upload_is_swept_while_an_active_one_lives_on() {
    // Uploads live 2 s without chunks; sweeps run every second.
    let node = Node::start_with_env(&[
        ("PEERBOX_UPLOADS_SESSION_LIFETIME", "2"),
        ("PEERBOX_UPLOADS_SWEEP_INTERVAL", "1"),
    ]);
    let user = node.create_account("sweeper", -1, -1);
    let data = random_bytes(2 * MIB + 1000, 11);
    let chunk = MIB / 4;
    // Distinct file names: PeerTube resumes, rather than restarts, an upload of the same
    // file by the same user.
    let meta = |name: &str, file: &str| json!({"filename": file, "name": name, "channelId": user.channel_id});

    let abandoned = node.resumable_session(
        &user.token,
        data.len(),
        &meta("Abandoned upload", "abandoned.mp4"),
    );
    let resp = node.put_chunk(Some(&user.token), &abandoned, 0, &data[..chunk]);
    assert_eq!(resp.status(), StatusCode::PERMANENT_REDIRECT);
    assert!(
        !node.upload_leftovers().is_empty(),
        "the partial upload should be under uploads/"
    );

    // The active upload gets a chunk every 500 ms, 4.5 s in all: well past the lifetime,
    // but never idle for that long.
    let active = node.resumable_session(
        &user.token,
        data.len(),
        &meta("Active upload", "active.mp4"),
    );
    let mut start = 0;
    let done = loop {
        let end = (start + chunk).min(data.len());
        let resp = node.put_chunk(Some(&user.token), &active, start, &data[start..end]);
        if end == data.len() {
            break peerbox_e2e::expect_json(resp, StatusCode::OK);
        }
        assert_eq!(
            resp.status(),
            StatusCode::PERMANENT_REDIRECT,
            "a chunk of the active upload at {start} was refused"
        );
        start = end;
        sleep(Duration::from_millis(500));
    };
    let uuid = done["video"]["uuid"].as_str().expect("video.uuid");
    assert_eq!(
        sha256_hex(&node.source_bytes(uuid, &user.token)),
        sha256_hex(&data)
    );

    assert!(
        wait_until(Duration::from_secs(10), || node
            .upload_leftovers()
            .is_empty()),
        "uploads/ still holds {:?} long after the abandoned upload expired",
        node.upload_leftovers()
    );
    assert_problem(
        node.ask_offset(Some(&user.token), &abandoned),
        StatusCode::NOT_FOUND,
    );
    assert_eq!(node.my_videos(&user.token), vec![uuid.to_string()]);
}
