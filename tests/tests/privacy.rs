//! Who sees which video, by PeerTube v8's rules: one video per privacy level, looked at by
//! an anonymous visitor, another user, the owner and an admin, through every way of naming
//! it, its file and every list. All mismatches are collected so that one run shows them all.

use std::collections::BTreeSet;

use peerbox_e2e::{Checks, Node, make_clip, send};
use reqwest::{Method, StatusCode};

const PUBLIC: u64 = 1;
const UNLISTED: u64 = 2;
const PRIVATE: u64 = 3;
const INTERNAL: u64 = 4;
const PASSWORD: u64 = 5;
const VIDEO_PASSWORD: &str = "open sesame";

#[derive(Clone, Copy, PartialEq, Debug)]
enum Viewer {
    Anonymous,
    OtherUser,
    Owner,
    Admin,
}

struct Video {
    privacy: u64,
    name: String,
    description: String,
    id: String,
    uuid: String,
    short_uuid: String,
}

/// PeerTube's answer to `GET /videos/{ref}` (and `/description`) without a video password.
fn expected_status(privacy: u64, viewer: Viewer, by_numeric_id: bool) -> StatusCode {
    use Viewer::*;
    let manager = matches!(viewer, Owner | Admin);
    match privacy {
        PUBLIC => StatusCode::OK,
        // Unlisted videos are shared by their (unguessable) UUID, not their numeric id.
        UNLISTED if !by_numeric_id => StatusCode::OK,
        UNLISTED | PRIVATE if viewer == Anonymous => StatusCode::UNAUTHORIZED,
        UNLISTED | PRIVATE if manager => StatusCode::OK,
        UNLISTED | PRIVATE => StatusCode::FORBIDDEN,
        INTERNAL if viewer == Anonymous => StatusCode::UNAUTHORIZED,
        INTERNAL => StatusCode::OK,
        PASSWORD if manager => StatusCode::OK,
        PASSWORD => StatusCode::FORBIDDEN,
        _ => unreachable!("privacy {privacy}"),
    }
}

#[test]
fn each_privacy_level_is_seen_by_exactly_whom_peertube_allows() {
    let node = Node::start();
    // Uploads stay "to transcode": this test is about what comes before transcoding.
    node.pause_jobs();
    let work = tempfile::tempdir().expect("temp dir");
    let clip = make_clip(work.path(), "privacy.mp4");
    let owner = node.create_account("owner", -1, -1);
    let other = node.create_account("other", -1, -1);
    let admin = node.admin();
    let channel = owner.channel_id.to_string();

    let mut videos = Vec::new();
    for (privacy, label) in [
        (PUBLIC, "public"),
        (UNLISTED, "unlisted"),
        (PRIVATE, "private"),
        (INTERNAL, "internal"),
        (PASSWORD, "password"),
    ] {
        let name = format!("Kestrel {label}");
        let description = format!("About the {label} kestrel");
        let privacy_field = privacy.to_string();
        let mut fields = vec![
            ("name", name.as_str()),
            ("channelId", channel.as_str()),
            ("privacy", privacy_field.as_str()),
            ("description", description.as_str()),
            ("tags[]", "osprey"),
            // Listed while still to be transcoded, so that lists show privacy alone.
            ("waitTranscoding", "false"),
        ];
        if privacy == PASSWORD {
            fields.push(("videoPasswords[]", VIDEO_PASSWORD));
        }
        let v = node.upload_ok(&owner.token, &fields, &clip);
        let text = |k: &str| v[k].as_str().map(str::to_string);
        videos.push(Video {
            privacy,
            name,
            description,
            id: v["id"].as_u64().expect("video.id").to_string(),
            uuid: text("uuid").expect("video.uuid"),
            short_uuid: text("shortUUID").expect("video.shortUUID"),
        });
    }
    // A public video that waits for transcoding: not listed before it is published.
    let waiting = node.upload_ok(
        &owner.token,
        &[
            ("name", "Kestrel waiting"),
            ("channelId", &channel),
            ("privacy", "1"),
            ("tags[]", "osprey"),
            ("waitTranscoding", "true"),
        ],
        &clip,
    );
    let waiting_uuid = waiting["uuid"].as_str().expect("uuid");
    assert_eq!(
        node.video(waiting_uuid, None)["state"]["id"],
        2,
        "the video must still be waiting for transcoding for the list checks to mean anything"
    );

    let viewers = [
        (Viewer::Anonymous, None),
        (Viewer::OtherUser, Some(other.token.as_str())),
        (Viewer::Owner, Some(owner.token.as_str())),
        (Viewer::Admin, Some(admin.token.as_str())),
    ];
    let mut check = Checks::default();

    for v in &videos {
        for (viewer, token) in viewers {
            for (reference, numeric) in [(&v.uuid, false), (&v.short_uuid, false), (&v.id, true)] {
                let expected = expected_status(v.privacy, viewer, numeric);
                let code = (v.privacy == PASSWORD && expected == StatusCode::FORBIDDEN)
                    .then_some("video_requires_password");
                let what = format!("{viewer:?} GET /videos/{reference} ({})", v.name);
                let path = format!("/api/v1/videos/{reference}");
                if let Some(body) = check.status(&what, || node.get(&path, token), expected, code)
                    && (body["uuid"] != v.uuid.as_str() || body["privacy"]["id"] != v.privacy)
                {
                    check.fail(format!("{what}: wrong video or privacy: {body}"));
                }
                let what = format!(
                    "{viewer:?} GET /videos/{reference}/description ({})",
                    v.name
                );
                let path = format!("/api/v1/videos/{reference}/description");
                if let Some(body) = check.status(&what, || node.get(&path, token), expected, code)
                    && body["description"] != v.description.as_str()
                {
                    check.fail(format!("{what}: {body}"));
                }

                if v.privacy == PASSWORD && !matches!(viewer, Viewer::Owner | Viewer::Admin) {
                    for (password, expected, code) in [
                        (VIDEO_PASSWORD, StatusCode::OK, None),
                        (
                            "wrong password",
                            StatusCode::FORBIDDEN,
                            Some("incorrect_video_password"),
                        ),
                    ] {
                        let what = format!(
                            "{viewer:?} GET /videos/{reference} with password {password:?}"
                        );
                        let path = format!("/api/v1/videos/{reference}");
                        let request = || {
                            send(
                                node.req(Method::GET, &path, token)
                                    .header("x-peertube-video-password", password),
                            )
                        };
                        check.status(&what, request, expected, code);
                    }
                }
            }
        }
    }

    // The video files follow the same rules. PeerTube refuses with 403; 401 is as clear.
    let source = std::fs::read(&clip).expect("reading the clip");
    for v in &videos {
        let url = node.video(&v.uuid, Some(&owner.token))["files"][0]["fileUrl"]
            .as_str()
            .expect("files[0].fileUrl")
            .to_string();
        let mut attempts: Vec<(Viewer, Option<&str>, Option<&str>)> = viewers
            .iter()
            .map(|&(viewer, token)| (viewer, token, None))
            .collect();
        if v.privacy == PASSWORD {
            attempts.push((Viewer::Anonymous, None, Some(VIDEO_PASSWORD)));
            attempts.push((Viewer::OtherUser, Some(&other.token), Some(VIDEO_PASSWORD)));
        }
        for (viewer, token, password) in attempts {
            let allowed =
                password.is_some() || expected_status(v.privacy, viewer, false) == StatusCode::OK;
            let mut request = node.req(Method::GET, &url, token);
            if let Some(p) = password {
                request = request.header("x-peertube-video-password", p);
            }
            let resp = send(request);
            let status = resp.status();
            let served = status == StatusCode::OK
                && resp.bytes().is_ok_and(|b| b.as_ref() == source.as_slice());
            let refused = matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN);
            if (allowed && !served) || (!allowed && !refused) {
                let with = if password.is_some() {
                    " with the password"
                } else {
                    ""
                };
                check.fail(format!(
                    "{viewer:?} GET the file of {}{with}: {status}, expected {}",
                    v.name,
                    if allowed { "the file" } else { "a refusal" }
                ));
            }
        }
    }

    // Lists show public videos, and internal ones to signed-in users; never unlisted,
    // private or password-protected ones (PeerTube issues #6107 and #7228), nor a video
    // waiting for transcoding.
    let names_of = |privacies: &[u64]| -> BTreeSet<String> {
        videos
            .iter()
            .filter(|v| privacies.contains(&v.privacy))
            .map(|v| v.name.clone())
            .collect()
    };
    let lists = [
        "/api/v1/videos?count=100",
        "/api/v1/videos?isLocal=true&count=100",
        "/api/v1/videos?filter=local&count=100",
        "/api/v1/search/videos?search=Kestrel&count=100",
        "/api/v1/search/videos?search=osprey&count=100",
        "/api/v1/accounts/owner/videos?count=100",
        "/api/v1/video-channels/owner_channel/videos?count=100",
    ];
    for (viewer, token) in viewers {
        let expected = if viewer == Viewer::Anonymous {
            names_of(&[PUBLIC])
        } else {
            names_of(&[PUBLIC, INTERNAL])
        };
        for list in lists {
            let what = format!("{viewer:?} GET {list}");
            let Some(body) = check.status(&what, || node.get(list, token), StatusCode::OK, None)
            else {
                continue;
            };
            let Some(data) = body["data"].as_array() else {
                check.fail(format!("{what}: no data[] in {body}"));
                continue;
            };
            let names: BTreeSet<String> = data
                .iter()
                .map(|v| v["name"].as_str().unwrap_or_default().to_string())
                .collect();
            if names != expected {
                check.fail(format!("{what}: listed {names:?}, expected {expected:?}"));
            }
            if body["total"] != data.len() {
                check.fail(format!(
                    "{what}: total {} for {} videos",
                    body["total"],
                    data.len()
                ));
            }
        }
    }

    check.assert_all_passed();
}

#[test]
fn an_upload_without_privacy_is_private() {
    let node = Node::start();
    // Uploads stay "to transcode": this test is about what comes before transcoding.
    node.pause_jobs();
    let work = tempfile::tempdir().expect("temp dir");
    let clip = make_clip(work.path(), "default.mp4");
    let owner = node.create_account("quiet", -1, -1);
    let channel = owner.channel_id.to_string();
    // PeerTube's default when a client sends no privacy (`videoInfo.privacy || PRIVATE`).
    let legacy = node.upload_ok(
        &owner.token,
        &[("name", "No privacy given"), ("channelId", &channel)],
        &clip,
    );
    let bytes = std::fs::read(&clip).expect("reading the clip");
    let up = node.resumable_session(
        &owner.token,
        bytes.len(),
        &serde_json::json!({"filename": "d.mp4", "name": "No privacy given", "channelId": owner.channel_id}),
    );
    let resumable = node.send_chunks(&owner.token, &up, &bytes, 0, bytes.len());
    let mut check = Checks::default();
    for (how, uuid) in [
        ("legacy", legacy["uuid"].as_str()),
        ("resumable", resumable["video"]["uuid"].as_str()),
    ] {
        let uuid = uuid.expect("video.uuid");
        let privacy = &node.video(uuid, Some(&owner.token))["privacy"];
        if privacy["id"] != PRIVATE {
            check.fail(format!(
                "{how} upload without privacy is {privacy}, not private"
            ));
        }
        let path = format!("/api/v1/videos/{uuid}");
        let what = format!("anonymous GET of the {how} upload");
        check.status(
            &what,
            || node.get(&path, None),
            StatusCode::UNAUTHORIZED,
            None,
        );
    }
    check.assert_all_passed();
}
