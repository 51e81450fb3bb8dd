//! Bad input gets PeerTube's status as an RFC 7807 problem (`application/problem+json`, with
//! PeerTube's `code` where it has one) and leaves nothing half-done behind: no video in the
//! catalog, no quota used, no new file under the data dir. Each node's job queue is paused so
//! that transcoding of the videos a test uploads on purpose does not write files meanwhile.

use std::io::Write;
use std::path::Path;
use std::thread::sleep;
use std::time::Duration;

use peerbox_e2e::{
    Account, Checks, MIB, Node, Upload, assert_problem, assert_problem_code, expect_json,
    make_clip, problem, random_bytes, send, sha256_hex, wait_until,
};
use reqwest::header::{CONTENT_TYPE, HOST};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn file_size(path: &Path) -> usize {
    std::fs::metadata(path).expect("stat").len() as usize
}

#[test]
fn wrong_password_unknown_user_and_unknown_token_are_refused() {
    let node = Node::start();
    node.pause_jobs();
    let user = node.create_account("alice", -1, -1);
    assert_problem_code(
        node.login("alice", "not-her-password"),
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );
    assert_problem_code(
        node.login("nobody", &user.password),
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );
    assert_problem_code(
        node.get("/api/v1/users/me", Some("never-issued-token")),
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    );
}

#[test]
fn local_oauth_client_is_only_given_to_the_public_host_and_lan_aliases() {
    let node = Node::start_with_env(&[("PEERBOX_LAN_ALIASES", "peerbox.local,192.168.1.20:9000")]);
    node.pause_jobs();
    let with_host = |host: &str| {
        send(
            node.req(Method::GET, "/api/v1/oauth-clients/local", None)
                .header(HOST, host),
        )
    };
    assert_problem(with_host("evil.example"), StatusCode::FORBIDDEN);
    // The alias names a port; the same address on another port is another host.
    assert_problem(with_host("192.168.1.20"), StatusCode::FORBIDDEN);
    let public_host = node.base_url().replace("http://", "");
    for host in [public_host.as_str(), "peerbox.local", "192.168.1.20:9000"] {
        let client = expect_json(with_host(host), StatusCode::OK);
        assert!(
            client["client_id"].is_string() && client["client_secret"].is_string(),
            "Host {host}: {client}"
        );
    }
}

#[test]
fn expired_access_token_is_refused_and_the_refresh_grant_replaces_it() {
    let node = Node::start_with_env(&[("PEERBOX_OAUTH_ACCESS_TOKEN_LIFETIME", "1")]);
    node.pause_jobs();
    let user = node.create_account("sleepy", -1, -1);
    let tokens = expect_json(node.login(&user.username, &user.password), StatusCode::OK);
    assert_eq!(tokens["expires_in"], 1, "{tokens}");
    let access = tokens["access_token"].as_str().expect("access_token");
    let refresh = tokens["refresh_token"].as_str().expect("refresh_token");

    sleep(Duration::from_millis(2500));
    assert_problem_code(
        node.get("/api/v1/users/me", Some(access)),
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    );

    let renewed = expect_json(node.refresh(refresh), StatusCode::OK);
    let new_access = renewed["access_token"].as_str().expect("access_token");
    assert_ne!(new_access, access);
    assert_ne!(renewed["refresh_token"], refresh);
    node.get_json("/api/v1/users/me", Some(new_access));
    // A refresh token is good for one use.
    assert_problem_code(
        node.refresh(refresh),
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );
}

#[test]
fn revoked_token_is_refused_and_other_sessions_live_on() {
    let node = Node::start();
    node.pause_jobs();
    let user = node.create_account("leaver", -1, -1);
    let session = expect_json(node.login(&user.username, &user.password), StatusCode::OK);
    let access = session["access_token"].as_str().expect("access_token");
    let refresh = session["refresh_token"].as_str().expect("refresh_token");

    let resp = send(node.req(Method::POST, "/api/v1/users/revoke-token", Some(access)));
    assert_eq!(resp.status(), StatusCode::OK);
    assert_problem_code(
        node.get("/api/v1/users/me", Some(access)),
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    );
    assert_problem_code(
        node.refresh(refresh),
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );
    // Logging out of one session leaves the others.
    node.get_json("/api/v1/users/me", Some(&user.token));
}

/// A multipart body with text fields only, as a browser would send it.
fn multipart_fields(boundary: &str, fields: &[(&str, &str)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (k, v) in fields {
        write!(
            body,
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        )
        .expect("writing to a Vec");
    }
    body
}

#[test]
fn malformed_uploads_are_refused_and_leave_nothing() {
    let node = Node::start();
    node.pause_jobs();
    let work = tempfile::tempdir().expect("temp dir");
    let clip = make_clip(work.path(), "clip.mp4");
    let notes = work.path().join("notes.txt");
    std::fs::write(&notes, "not a video").expect("writing notes.txt");
    let user = node.create_account("sender", -1, -1);
    let channel = user.channel_id.to_string();
    let before = node.stored_files();
    let raw = |token: Option<&str>, ctype: &str, body: Vec<u8>| {
        send(
            node.req(Method::POST, "/api/v1/videos/upload", token)
                .header(CONTENT_TYPE, ctype)
                .body(body),
        )
    };
    let legacy = |fields: &[(&str, &str)], file: Option<&Path>| {
        node.upload_legacy(&user.token, fields, file)
    };
    let multipart = "multipart/form-data; boundary=XyZ";
    let token = Some(user.token.as_str());
    let no_file = [("name", "No file"), ("channelId", channel.as_str())];
    let mut cut = multipart_fields("XyZ", &[("channelId", &channel)]);
    cut.extend_from_slice(b"--XyZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nCut");
    let mut anonymous = multipart_fields("XyZ", &no_file);
    anonymous.extend_from_slice(b"--XyZ--\r\n");
    let json_body = json!({"name": "JSON upload", "channelId": user.channel_id}).to_string();
    let bad = StatusCode::BAD_REQUEST;
    let mut check = Checks::default();

    check.status(
        "a body that is not multipart",
        || raw(token, multipart, b"this is not a multipart body".to_vec()),
        bad,
        None,
    );
    check.status(
        "a multipart body without its end",
        || raw(token, multipart, cut),
        bad,
        None,
    );
    check.status(
        "JSON instead of multipart",
        || raw(token, "application/json", json_body.into_bytes()),
        bad,
        None,
    );
    check.status("no videofile", || legacy(&no_file, None), bad, None);
    check.status(
        "no name",
        || legacy(&[("channelId", &channel)], Some(&clip)),
        bad,
        None,
    );
    check.status(
        "no channelId",
        || legacy(&[("name", "No channel")], Some(&clip)),
        bad,
        None,
    );
    check.status(
        "a text file",
        || legacy(&[("name", "Text"), ("channelId", &channel)], Some(&notes)),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        None,
    );
    check.status(
        "no token",
        || raw(None, multipart, anonymous),
        StatusCode::UNAUTHORIZED,
        None,
    );

    if let Some(change) = node.files_changed_since(&before) {
        check.fail(change);
    }
    if !node.my_videos(&user.token).is_empty() || node.quota_used(&user.token) != (0, 0) {
        check.fail("a refused upload created a video or used quota".into());
    }
    check.assert_all_passed();
}

#[test]
fn legacy_upload_cut_off_halfway_leaves_nothing() {
    let node = Node::start();
    node.pause_jobs();
    let work = tempfile::tempdir().expect("temp dir");
    let clip = make_clip(work.path(), "cut.mp4");
    let video = std::fs::read(&clip).expect("reading the clip");
    let user = node.create_account("cutter", -1, -1);
    let channel = user.channel_id.to_string();
    let fields = [("name", "Cut upload"), ("channelId", channel.as_str())];
    let before = node.stored_files();

    let boundary = "peerboxCutUpload";
    let mut body = multipart_fields(boundary, &fields);
    write!(
        body,
        "--{boundary}\r\nContent-Disposition: form-data; name=\"videofile\"; \
         filename=\"cut.mp4\"\r\nContent-Type: video/mp4\r\n\r\n"
    )
    .expect("writing to a Vec");
    let cut_at = body.len() + video.len() / 2;
    body.extend_from_slice(&video);
    write!(body, "\r\n--{boundary}--\r\n").expect("writing to a Vec");

    let stream = node.send_partial(
        "POST /api/v1/videos/upload",
        &[
            ("Authorization", format!("Bearer {}", user.token)),
            (
                "Content-Type",
                format!("multipart/form-data; boundary={boundary}"),
            ),
            ("Content-Length", body.len().to_string()),
        ],
        &body[..cut_at],
    );
    sleep(Duration::from_millis(500));
    // The client goes away with half of the file sent.
    drop(stream);

    assert!(
        wait_until(Duration::from_secs(5), || node.stored_files() == before),
        "the cut upload left {:?}",
        node.files_changed_since(&before)
    );
    assert!(node.my_videos(&user.token).is_empty());
    assert_eq!(node.quota_used(&user.token), (0, 0));
    // The same upload sent whole goes through.
    node.upload_ok(&user.token, &fields, &clip);
}

/// An 8 MiB file: big enough that a node answering before it has read the body cannot
/// count on socket buffers to hide that from the client.
fn big_file(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("big-random.mp4");
    std::fs::write(&path, random_bytes(8 * MIB, 21)).expect("writing the big file");
    path
}

#[test]
fn files_over_the_size_limit_are_413_max_file_size_reached() {
    let work = tempfile::tempdir().expect("temp dir");
    let clip = make_clip(work.path(), "clip.mp4");
    let big = big_file(work.path());
    let size = file_size(&clip);
    let limit = (size - 1).to_string();
    let node = Node::start_with_env(&[("PEERBOX_UPLOADS_MAX_FILE_SIZE", &limit)]);
    node.pause_jobs();
    let user = node.create_account("bigfiles", -1, -1);
    let channel = user.channel_id.to_string();
    let fields = [("name", "Too big"), ("channelId", channel.as_str())];
    let meta = json!({"filename": "big.mp4", "name": "Too big", "channelId": user.channel_id});
    let before = node.stored_files();
    let too_large = StatusCode::PAYLOAD_TOO_LARGE;
    let code = Some("max_file_size_reached");
    let mut check = Checks::default();

    check.status(
        "legacy upload one byte over the limit",
        || node.upload_legacy(&user.token, &fields, Some(&clip)),
        too_large,
        code,
    );
    check.status(
        "resumable upload announcing one byte over the limit",
        || node.resumable_start(&user.token, size, &meta),
        too_large,
        code,
    );
    check.status(
        "legacy upload of 8 MiB",
        || node.upload_legacy(&user.token, &fields, Some(&big)),
        too_large,
        code,
    );
    if let Some(change) = node.files_changed_since(&before) {
        check.fail(change);
    }
    if !node.my_videos(&user.token).is_empty() {
        check.fail("a refused upload created a video".into());
    }
    check.assert_all_passed();

    // Exactly the limit is allowed.
    let up = node.resumable_session(&user.token, size - 1, &meta);
    assert_eq!(
        node.cancel_upload(Some(&user.token), &up).status(),
        StatusCode::NO_CONTENT
    );
}

/// A first upload fits the quota; a second, legacy or resumable, would exceed it and is
/// refused before anything is kept; what is left of the quota can still be used.
fn second_upload_is_over_quota(node: &Node, user: &Account, clip: &Path) {
    let size = file_size(clip) as i64;
    let work = tempfile::tempdir().expect("temp dir");
    let big = big_file(work.path());
    let channel = user.channel_id.to_string();
    let fields = [("name", "Second video"), ("channelId", channel.as_str())];
    let first = node.upload_ok(
        &user.token,
        &[("name", "First video"), ("channelId", &channel)],
        clip,
    );
    let first_uuid = first["uuid"].as_str().expect("video.uuid");
    assert_eq!(node.quota_used(&user.token), (size, size));
    node.wait_for_torrent(first_uuid, &user.token);
    let before = node.stored_files();
    let meta = |file: &str, size: i64| {
        (
            json!({"filename": file, "name": "Second video", "channelId": user.channel_id}),
            size as usize,
        )
    };
    let too_large = StatusCode::PAYLOAD_TOO_LARGE;
    let code = Some("quota_reached");
    let mut check = Checks::default();

    check.status(
        "legacy upload over quota",
        || node.upload_legacy(&user.token, &fields, Some(clip)),
        too_large,
        code,
    );
    let (second, second_size) = meta("second.mp4", size);
    check.status(
        "resumable upload over quota",
        || node.resumable_start(&user.token, second_size, &second),
        too_large,
        code,
    );
    check.status(
        "legacy upload of 8 MiB over quota",
        || node.upload_legacy(&user.token, &fields, Some(&big)),
        too_large,
        code,
    );
    if let Some(change) = node.files_changed_since(&before) {
        check.fail(change);
    }
    if node.my_videos(&user.token) != [first_uuid] {
        check.fail("a refused upload created a video".into());
    }
    if node.quota_used(&user.token) != (size, size) {
        check.fail(format!(
            "quota used changed: {:?}",
            node.quota_used(&user.token)
        ));
    }
    check.assert_all_passed();

    let (rest, rest_size) = meta("rest.mp4", size / 2);
    let up = node.resumable_session(&user.token, rest_size, &rest);
    assert_eq!(
        node.cancel_upload(Some(&user.token), &up).status(),
        StatusCode::NO_CONTENT
    );
}

#[test]
fn uploads_over_the_total_quota_are_413_quota_reached() {
    let work = tempfile::tempdir().expect("temp dir");
    let clip = make_clip(work.path(), "quota.mp4");
    let size = file_size(&clip) as i64;
    let node = Node::start();
    node.pause_jobs();
    let user = node.create_account("quota_total", size + size / 2, -1);
    second_upload_is_over_quota(&node, &user, &clip);
}

#[test]
fn uploads_over_the_daily_quota_are_413_quota_reached() {
    let work = tempfile::tempdir().expect("temp dir");
    let clip = make_clip(work.path(), "daily.mp4");
    let size = file_size(&clip) as i64;
    let mut node = Node::start();
    node.pause_jobs();
    // This user comes from the command line, which works on a stopped node.
    node.stop();
    let daily = (size + size / 2).to_string();
    let out = node.cli(&[
        "user",
        "create",
        "--username",
        "quota_daily",
        "--password",
        "daily-password",
        "--video-quota",
        "-1",
        "--video-quota-daily",
        &daily,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "peerbox user create: {stderr}");
    let out = node.cli(&["user", "list"]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed.contains("quota_daily"),
        "peerbox user list: {listed}"
    );
    node.restart();
    node.pause_jobs();
    let user = node.account("quota_daily", "daily-password");
    second_upload_is_over_quota(&node, &user, &clip);
}

#[test]
fn chunk_not_at_the_offset_is_refused_without_writing() {
    let node = Node::start();
    node.pause_jobs();
    let user = node.create_account("ranger", -1, -1);
    let token = Some(user.token.as_str());
    let chunk = 4 * MIB;
    let data = random_bytes(3 * chunk, 5);
    let up = node.resumable_session(
        &user.token,
        data.len(),
        &json!({"filename": "ranges.mp4", "name": "Ranges", "channelId": user.channel_id}),
    );
    let resp = node.put_chunk(token, &up, 0, &data[..chunk]);
    assert_eq!(resp.status(), StatusCode::PERMANENT_REDIRECT);

    // Zeros, so that any byte written from these chunks would show in the stored file.
    let zeros = vec![0u8; 2 * chunk + 10];
    let mut check = Checks::default();
    for (what, start, len, allowed) in [
        ("a chunk past the offset", 2 * chunk, chunk, &[409, 416][..]),
        (
            "a chunk overlapping what was received",
            chunk / 2,
            chunk,
            &[409, 416][..],
        ),
        (
            "a chunk one byte past the offset",
            chunk + 1,
            chunk,
            &[409, 416][..],
        ),
        // Ends beyond the announced size: PeerTube answers 400 or 409.
        (
            "a chunk longer than the upload",
            chunk,
            2 * chunk + 10,
            &[400, 409, 413, 416][..],
        ),
    ] {
        let request = || node.put_chunk(token, &up, start, &zeros[..len]);
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(request)).map(problem) {
            Ok(Ok((status, _))) if allowed.contains(&status.as_u16()) => {}
            Ok(Ok((status, body))) => check.fail(format!("{what}: answered {status}: {body}")),
            Ok(Err(e)) => check.fail(format!("{what}: {e}")),
            Err(_) => check.fail(format!("{what}: no answer (connection dropped)")),
        }
        let offset = node.upload_offset(&user.token, &up);
        if offset != chunk {
            check.fail(format!(
                "after {what} the node has {offset} bytes, not {chunk}"
            ));
        }
    }

    let done = node.send_chunks(&user.token, &up, &data, chunk, chunk);
    let uuid = done["video"]["uuid"].as_str().expect("video.uuid");
    if sha256_hex(&node.source_bytes(uuid, &user.token)) != sha256_hex(&data) {
        check.fail("the stored file differs from the data sent at the right offsets".into());
    }
    check.assert_all_passed();
}

#[test]
fn names_and_texts_beyond_peertube_limits_are_400() {
    let node = Node::start();
    node.pause_jobs();
    let work = tempfile::tempdir().expect("temp dir");
    let clip = make_clip(work.path(), "limits.mp4");
    let user = node.create_account("limits", -1, -1);
    let token = Some(user.token.as_str());
    let channel = user.channel_id.to_string();
    let before = node.stored_files();
    let long = |c: char, n: usize| c.to_string().repeat(n);
    let (name_121, text_1001, text_10001, tag_31) = (
        long('n', 121),
        long('s', 1001),
        long('d', 10_001),
        long('t', 31),
    );
    let six_tags = ["one", "two", "three", "four", "five", "six"];
    let bad = StatusCode::BAD_REQUEST;
    let mut check = Checks::default();

    let mut cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("a name of 2 characters", vec![("name", "ab")]),
        ("a name of 121 characters", vec![("name", &name_121)]),
        (
            "a description of 10001 characters",
            vec![("description", &text_10001)],
        ),
        (
            "a support text of 1001 characters",
            vec![("support", &text_1001)],
        ),
        ("a tag of 1 character", vec![("tags[]", "a")]),
        ("a tag of 31 characters", vec![("tags[]", &tag_31)]),
    ];
    cases.push(("6 tags", six_tags.iter().map(|t| ("tags[]", *t)).collect()));
    for (what, mut fields) in cases {
        if !fields.iter().any(|(k, _)| *k == "name") {
            fields.push(("name", "Limits"));
        }
        fields.push(("channelId", &channel));
        let request = || node.upload_legacy(&user.token, &fields, Some(&clip));
        check.status(&format!("legacy upload with {what}"), request, bad, None);
    }
    // Resumable uploads are refused at the POST, before any upload exists.
    for (what, mut meta) in [
        ("a name of 2 characters", json!({"name": "ab"})),
        ("a name of 121 characters", json!({"name": name_121})),
        (
            "a description of 10001 characters",
            json!({"name": "Limits", "description": text_10001}),
        ),
        ("6 tags", json!({"name": "Limits", "tags": six_tags})),
    ] {
        meta["channelId"] = json!(user.channel_id);
        meta["filename"] = json!("limits.mp4");
        let request = || node.resumable_start(&user.token, 1000, &meta);
        check.status(&format!("resumable upload with {what}"), request, bad, None);
    }
    if let Some(change) = node.files_changed_since(&before) {
        check.fail(change);
    }
    if !node.my_videos(&user.token).is_empty() {
        check.fail("a refused upload created a video".into());
    }

    // The limits themselves are allowed.
    let (name_120, text_1000, text_10000) = (long('n', 120), long('s', 1000), long('d', 10_000));
    let tags_30: Vec<String> = "abcde".chars().map(|c| long(c, 30)).collect();
    let mut fields = vec![
        ("name", name_120.as_str()),
        ("channelId", &channel),
        ("description", &text_10000),
        ("support", &text_1000),
    ];
    fields.extend(tags_30.iter().map(|t| ("tags[]", t.as_str())));
    let at_limits = check.status(
        "legacy upload at every upper limit",
        || node.upload_legacy(&user.token, &fields, Some(&clip)),
        StatusCode::OK,
        None,
    );
    let short = [("name", "abc"), ("channelId", &channel), ("tags[]", "ab")];
    check.status(
        "legacy upload at every lower limit",
        || node.upload_legacy(&user.token, &short, Some(&clip)),
        StatusCode::OK,
        None,
    );

    // Updates are held to the same limits, and a refused one changes nothing.
    if let Some(uuid) = at_limits.as_ref().and_then(|b| b["video"]["uuid"].as_str()) {
        let path = format!("/api/v1/videos/{uuid}");
        for (what, body) in [
            ("a name of 2 characters", json!({"name": "ab"})),
            ("a name of 121 characters", json!({"name": name_121})),
            (
                "a description of 10001 characters",
                json!({"description": text_10001}),
            ),
            ("6 tags", json!({"tags": six_tags})),
        ] {
            let request = || send(node.req(Method::PUT, &path, token).json(&body));
            check.status(&format!("update with {what}"), request, bad, None);
        }
        let v = node.video(uuid, token);
        if v["name"] != name_120 || v["tags"] != json!(tags_30) || v["description"] != text_10000 {
            check.fail(format!("a refused update changed the video: {}", v["name"]));
        }
    }

    let create_channel = |body: Value| {
        send(
            node.req(Method::POST, "/api/v1/video-channels", token)
                .json(&body),
        )
    };
    for (what, body) in [
        (
            "a name of 51 characters",
            json!({"name": long('c', 51), "displayName": "Long"}),
        ),
        (
            "a name with a space and a !",
            json!({"name": "Bad name!", "displayName": "Bad"}),
        ),
        ("an empty name", json!({"name": "", "displayName": "Empty"})),
        ("no display name", json!({"name": "no_display_name"})),
        (
            "a display name of 121 characters",
            json!({"name": "long_display", "displayName": name_121}),
        ),
        (
            "a description of 1001 characters",
            json!({"name": "long_description", "displayName": "Long", "description": text_1001}),
        ),
        (
            "a support text of 1001 characters",
            json!({"name": "long_support", "displayName": "Long", "support": text_1001}),
        ),
    ] {
        check.status(
            &format!("channel with {what}"),
            || create_channel(body),
            bad,
            None,
        );
    }
    let channel_50 = long('c', 50);
    let at_limits = json!({
        "name": channel_50, "displayName": name_120, "description": text_1000, "support": text_1000,
    });
    check.status(
        "channel at every limit",
        || create_channel(at_limits),
        StatusCode::OK,
        None,
    );
    let path = format!("/api/v1/video-channels/{channel_50}");
    check.status(
        "channel update with a display name of 121 characters",
        || {
            send(
                node.req(Method::PUT, &path, token)
                    .json(&json!({"displayName": name_121})),
            )
        },
        bad,
        None,
    );

    let channels = node.get_json("/api/v1/accounts/limits/video-channels", None);
    let mut names: Vec<&str> = channels["data"]
        .as_array()
        .map(|d| d.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    names.sort_unstable();
    if names != [channel_50.as_str(), "limits_channel"] {
        check.fail(format!("the account's channels are {names:?}"));
    }
    if node.get_json(&path, None)["displayName"] != name_120 {
        check.fail("a refused channel update changed the display name".into());
    }
    check.assert_all_passed();
}

#[test]
fn unknown_ids_are_404() {
    let node = Node::start();
    node.pause_jobs();
    let user = node.create_account("seeker", -1, -1);
    let token = Some(user.token.as_str());
    let not_found = StatusCode::NOT_FOUND;
    let mut check = Checks::default();
    for path in [
        "/api/v1/videos/999999",
        "/api/v1/videos/3f1d0c1e-8a2b-4c3d-9e4f-5a6b7c8d9e0f",
        // The shortUUID of that UUID.
        "/api/v1/videos/8N2pfryW4a4dK7fWAETpJX",
        "/api/v1/videos/999999/description",
        "/api/v1/video-channels/no_such_channel",
        "/api/v1/video-channels/no_such_channel/videos",
        "/api/v1/accounts/no_such_account",
        "/api/v1/accounts/no_such_account/videos",
        "/api/v1/accounts/no_such_account/video-channels",
    ] {
        check.status(
            &format!("GET {path}"),
            || node.get(path, token),
            not_found,
            None,
        );
    }
    let rename = json!({"name": "Renamed", "displayName": "Renamed"});
    for (method, path) in [
        (Method::PUT, "/api/v1/videos/999999"),
        (Method::DELETE, "/api/v1/videos/999999"),
        (Method::PUT, "/api/v1/video-channels/no_such_channel"),
        (Method::DELETE, "/api/v1/video-channels/no_such_channel"),
    ] {
        let what = format!("{method} {path}");
        let request = || send(node.req(method, path, token).json(&rename));
        check.status(&what, request, not_found, None);
    }
    // PeerTube's upload ids start with the user's id (another user's id gets 403).
    let user_id = node.get_json("/api/v1/users/me", token)["id"].clone();
    let ghost = Upload {
        url: node.url(&format!(
            "/api/v1/videos/upload-resumable?upload_id={user_id}-0123456789abcdef0123456789abcdef"
        )),
        total: 10,
    };
    let chunk = || node.put_chunk(token, &ghost, 0, &[0; 10]);
    check.status("PUT to an unknown upload", chunk, not_found, None);
    let offset = || node.ask_offset(token, &ghost);
    check.status("offset of an unknown upload", offset, not_found, None);
    let cancel = || node.cancel_upload(token, &ghost);
    check.status("DELETE of an unknown upload", cancel, not_found, None);
    check.assert_all_passed();
}

#[test]
fn another_users_upload_cannot_be_touched() {
    let node = Node::start();
    node.pause_jobs();
    let owner = node.create_account("upowner", -1, -1);
    let intruder = node.create_account("intruder", -1, -1);
    let chunk = 4 * MIB;
    let data = random_bytes(5 * chunk, 9);
    let up = node.resumable_session(
        &owner.token,
        data.len(),
        &json!({"filename": "mine.mp4", "name": "Mine", "channelId": owner.channel_id}),
    );
    let resp = node.put_chunk(Some(&owner.token), &up, 0, &data[..chunk]);
    assert_eq!(resp.status(), StatusCode::PERMANENT_REDIRECT);

    // As large as the web client's chunks get: the refusal must reach the client even when
    // the node does not want the body.
    let other_bytes = random_bytes(4 * chunk, 10);
    let intruder_token = Some(intruder.token.as_str());
    let forbidden = StatusCode::FORBIDDEN;
    let unauthorized = StatusCode::UNAUTHORIZED;
    let mut check = Checks::default();
    let request = || node.put_chunk(intruder_token, &up, chunk, &other_bytes);
    check.status("another user's chunk", request, forbidden, None);
    let request = || node.ask_offset(intruder_token, &up);
    check.status("another user asking the offset", request, forbidden, None);
    let request = || node.cancel_upload(intruder_token, &up);
    check.status("another user cancelling", request, forbidden, None);
    let request = || node.put_chunk(None, &up, chunk, &other_bytes);
    check.status("an anonymous chunk", request, unauthorized, None);
    let request = || node.cancel_upload(None, &up);
    check.status("an anonymous cancel", request, unauthorized, None);

    // The owner's upload is untouched and completes with the owner's bytes.
    let offset = node.upload_offset(&owner.token, &up);
    if offset != chunk {
        check.fail(format!(
            "the owner's upload has {offset} bytes, not {chunk}"
        ));
    }
    let done = node.send_chunks(&owner.token, &up, &data, offset, chunk);
    let uuid = done["video"]["uuid"].as_str().expect("video.uuid");
    if sha256_hex(&node.source_bytes(uuid, &owner.token)) != sha256_hex(&data) {
        check.fail("the stored file is not the owner's".into());
    }
    if !node.my_videos(&intruder.token).is_empty() {
        check.fail("the intruder got a video".into());
    }
    check.assert_all_passed();
}
