//! Transcodes short generated clips and checks the files the way players and PeerTube see
//! them: codecs, sizes, durations, keyframes at segment starts, byte ranges on `moof`
//! boxes, segment hashes, master playlist, thumbnail and preview.

mod common;

use std::path::Path;

use common::*;
use peerbox_media::Transcoded;

/// Every check a player or a PeerTube peer would make on one video's outputs.
fn check_outputs(out: &Path, t: &Transcoded, source: &Path, expected: &[(u32, u32, u32)]) {
    let source_duration = duration_of(source);

    // The master playlist lists every rendition, ascending, with the real codecs.
    let master = std::fs::read_to_string(out.join(&t.hls.master)).expect("master");
    assert!(t.hls.master.ends_with("-master.m3u8"));
    assert!(
        master.starts_with("#EXTM3U\n#EXT-X-VERSION:3\n"),
        "{master}"
    );
    let variants: Vec<(&str, &str)> = master
        .lines()
        .filter(|l| l.starts_with("#EXT-X-STREAM-INF:"))
        .zip(master.lines().filter(|l| l.ends_with(".m3u8")))
        .collect();
    assert_eq!(variants.len(), expected.len(), "{master}");
    let heights: Vec<u32> = t.hls.files.iter().map(|f| f.resolution).collect();
    let mut sorted = heights.clone();
    sorted.sort();
    assert_eq!(heights, sorted, "files ascending");

    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join(&t.hls.segments_sha256)).expect("sha json"),
    )
    .expect("valid JSON");
    assert!(t.hls.segments_sha256.ends_with("-segments-sha256.json"));
    assert_eq!(json.as_object().expect("object").len(), expected.len());

    for ((file, (inf, uri)), (res, width, height)) in
        t.hls.files.iter().zip(&variants).zip(expected)
    {
        assert_eq!(file.resolution, *res);
        assert_eq!(*uri, file.playlist, "master order");
        assert!(file.fragmented.ends_with(&format!("-{res}-fragmented.mp4")));
        assert!(file.playlist.ends_with(&format!("-{res}.m3u8")));
        let mp4 = out.join(&file.fragmented);
        let bytes = std::fs::read(&mp4).expect("fragmented mp4");
        assert_eq!(bytes.len() as u64, file.size);

        // Codecs and picture as ffprobe sees them.
        let probe = ffprobe_json(&mp4);
        let streams = probe["streams"].as_array().expect("streams");
        let video = streams
            .iter()
            .find(|s| s["codec_type"] == "video")
            .expect("video stream");
        let audio = streams
            .iter()
            .find(|s| s["codec_type"] == "audio")
            .expect("audio stream");
        assert_eq!(video["codec_tag_string"], "avc1", "{res}p");
        assert_eq!(video["pix_fmt"], "yuv420p", "{res}p");
        assert_eq!(audio["codec_tag_string"], "mp4a", "{res}p");
        assert_eq!(audio["channels"], 2);
        assert_eq!(
            (video["width"].as_u64(), video["height"].as_u64()),
            (Some(u64::from(*width)), Some(u64::from(*height)))
        );
        assert_eq!((file.width, file.height), (*width, *height));
        let duration: f64 = probe["format"]["duration"]
            .as_str()
            .and_then(|d| d.parse().ok())
            .expect("duration");
        assert!(
            (duration - source_duration).abs() <= 0.1,
            "{res}p lasts {duration} s, source {source_duration} s"
        );

        // The master's attributes match the file.
        assert!(
            inf.contains(&format!("RESOLUTION={width}x{height}")),
            "{inf}"
        );
        assert!(inf.contains("FRAME-RATE=30"), "{inf}");
        let profile = video["profile"].as_str().expect("profile");
        let avc = match profile {
            "High" => "avc1.64",
            "Main" => "avc1.4d",
            "Constrained Baseline" | "Baseline" => "avc1.42",
            other => panic!("unexpected profile {other}"),
        };
        assert!(
            inf.contains(&format!("CODECS=\"{avc}")),
            "{inf} for {profile}"
        );
        assert!(inf.contains(",mp4a.40.2\""), "{inf}");
        let bandwidth: u64 = inf
            .split("BANDWIDTH=")
            .nth(1)
            .and_then(|s| s.split(',').next())
            .and_then(|s| s.parse().ok())
            .expect("bandwidth");
        let average = (file.size as f64 * 8.0 / duration) as u64;
        assert!(
            bandwidth.abs_diff(average) < average / 20,
            "{bandwidth} vs {average}"
        );

        // Byte ranges: init at 0, then contiguous segments, each on a moof, each starting
        // with a keyframe, each hashed in the JSON.
        let playlist = std::fs::read_to_string(out.join(&file.playlist)).expect("playlist");
        assert!(playlist.contains(&format!("#EXT-X-MAP:URI=\"{}\"", file.fragmented)));
        assert!(playlist.ends_with("#EXT-X-ENDLIST\n"));
        let (init, ranges) = playlist_ranges(&playlist);
        assert_eq!(&bytes[4..8], b"ftyp");
        assert!(ranges.len() >= 2, "{res}p has {} segments", ranges.len());
        let packets = video_packets(&mp4);
        let hashes = json[&file.fragmented].as_object().expect("file in JSON");
        assert_eq!(hashes.len(), ranges.len());
        let mut next = init;
        let mut total = 0.0;
        for (offset, len, seg_duration) in &ranges {
            assert_eq!(*offset, next, "contiguous ranges");
            next = offset + len;
            let start = *offset as usize;
            assert_eq!(
                &bytes[start + 4..start + 8],
                b"moof",
                "{res}p range at {offset}"
            );
            let first = packets
                .iter()
                .find(|(pos, _)| *pos >= *offset && *pos < offset + len)
                .expect("video in every segment");
            assert!(first.1, "{res}p segment at {offset} starts with a keyframe");
            let key = format!("{}-{}", offset, offset + len - 1);
            assert_eq!(
                hashes.get(&key).and_then(|v| v.as_str()),
                Some(sha256_hex(&bytes[start..start + *len as usize]).as_str()),
                "{res}p hash of {key}"
            );
            assert!(
                *seg_duration > 0.0 && *seg_duration <= 4.6,
                "{seg_duration}"
            );
            total += seg_duration;
        }
        assert_eq!(next, file.size, "ranges cover the file");
        assert!((total - source_duration).abs() <= 0.1, "EXTINF sum {total}");
    }

    // Thumbnail and preview at PeerTube's sizes.
    for (image, (w, h)) in [(&t.thumbnail, (280, 157)), (&t.preview, (850, 480))] {
        let image = image.as_ref().expect("image");
        let probe = ffprobe_json(image);
        assert_eq!(probe["streams"][0]["codec_name"], "mjpeg");
        assert_eq!(probe["streams"][0]["width"], w);
        assert_eq!(probe["streams"][0]["height"], h);
    }
    // Nothing else is left behind.
    let mut expected_files: Vec<String> = t
        .hls
        .files
        .iter()
        .flat_map(|f| [f.fragmented.clone(), f.playlist.clone()])
        .chain([t.hls.master.clone(), t.hls.segments_sha256.clone()])
        .chain(["preview.jpg".to_string(), "thumbnail.jpg".to_string()])
        .collect();
    expected_files.sort();
    assert_eq!(files_in(out), expected_files);
}

#[test]
fn vp8_opus_upload_becomes_peertube_hls_ladder() {
    let dir = tmp();
    let source = path(&dir, "upload.webm");
    Clip {
        width: 640,
        height: 360,
        fps: 30,
        secs: 6,
        video: "vp8enc deadline=1 cpu-used=16 target-bitrate=1500000 keyframe-max-dist=30",
        audio: Some("opusenc bitrate=96000"),
        mux: "webmmux",
    }
    .write(&source);
    let out = path(&dir, "out");
    std::fs::create_dir(&out).expect("out dir");
    let t = run_transcode(&source, &out, &board()).expect("transcode");
    assert!(
        t.plan
            .renditions
            .iter()
            .all(|r| matches!(r.video, peerbox_media::plan::VideoPlan::Encode { .. }))
    );
    check_outputs(
        &out,
        &t,
        &source,
        &[(144, 256, 144), (240, 426, 240), (360, 640, 360)],
    );
}

#[test]
fn h264_aac_upload_is_remuxed_at_its_own_resolution() {
    let dir = tmp();
    let source = path(&dir, "upload.mp4");
    Clip {
        width: 640,
        height: 360,
        fps: 30,
        secs: 6,
        video: "x264enc speed-preset=ultrafast bitrate=600 key-int-max=60 ! video/x-h264,profile=high",
        audio: Some("avenc_aac bitrate=128000"),
        mux: "mp4mux faststart=true",
    }
    .write(&source);
    let out = path(&dir, "out");
    std::fs::create_dir(&out).expect("out dir");
    let t = run_transcode(&source, &out, &board()).expect("transcode");
    assert_eq!(
        t.plan.renditions[0].video,
        peerbox_media::plan::VideoPlan::Copy
    );
    assert_eq!(t.plan.audio, peerbox_media::plan::AudioPlan::Copy);
    check_outputs(
        &out,
        &t,
        &source,
        &[(144, 256, 144), (240, 426, 240), (360, 640, 360)],
    );

    // The 360p pictures are the uploaded ones, pixel for pixel: no re-encoding.
    let pictures_md5 = |p: &Path| {
        let out = std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(p)
            .args(["-map", "0:v", "-f", "md5", "-"])
            .output()
            .expect("ffmpeg");
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let copy = out.join(&t.hls.files[2].fragmented);
    assert_eq!(pictures_md5(&copy), pictures_md5(&source));
}

#[test]
fn audio_only_upload_becomes_one_audio_rendition() {
    let dir = tmp();
    let source = path(&dir, "podcast.ogg");
    launch(&format!(
        "audiotestsrc num-buffers=300 samplesperbuffer=960 freq=330 ! audio/x-raw,rate=48000,channels=1 ! audioconvert ! opusenc bitrate=64000 ! oggmux ! filesink location={}",
        source.display()
    ));
    let out = path(&dir, "out");
    std::fs::create_dir(&out).expect("out dir");
    let t = run_transcode(&source, &out, &board()).expect("transcode");
    assert_eq!(t.hls.files.len(), 1);
    let f = &t.hls.files[0];
    assert_eq!((f.resolution, f.width, f.height, f.fps), (0, 0, 0, 0));
    assert!(f.fragmented.ends_with("-0-fragmented.mp4"));
    assert!(t.thumbnail.is_none() && t.preview.is_none());

    // PeerTube lists an audio-only file without RESOLUTION or FRAME-RATE.
    let master = std::fs::read_to_string(out.join(&t.hls.master)).expect("master");
    let inf = master
        .lines()
        .find(|l| l.starts_with("#EXT-X-STREAM-INF:"))
        .expect("a variant");
    assert!(inf.ends_with(",CODECS=\"mp4a.40.2\""), "{inf}");
    assert!(
        !inf.contains("RESOLUTION") && !inf.contains("FRAME-RATE"),
        "{inf}"
    );

    // AAC stereo (PeerTube forces stereo), lasting as long as the upload.
    let mp4 = out.join(&f.fragmented);
    let probe = ffprobe_json(&mp4);
    let streams = probe["streams"].as_array().expect("streams");
    assert_eq!(streams.len(), 1);
    assert_eq!(streams[0]["codec_tag_string"], "mp4a");
    assert_eq!(streams[0]["channels"], 2);
    let duration = duration_of(&mp4);
    assert!((duration - duration_of(&source)).abs() <= 0.1, "{duration}");
    let bytes = std::fs::read(&mp4).expect("mp4");
    let playlist = std::fs::read_to_string(out.join(&f.playlist)).expect("playlist");
    let (_, ranges) = playlist_ranges(&playlist);
    assert!(ranges.len() >= 2);
    for (offset, _, _) in ranges {
        assert_eq!(&bytes[offset as usize + 4..offset as usize + 8], b"moof");
    }
}
