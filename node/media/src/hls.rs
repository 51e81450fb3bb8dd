//! PeerTube's HLS layout from fragmented MP4s: the muxer's file is rewritten without its
//! `styp` boxes (so that every segment starts on a `moof`, as PeerTube's ffmpeg files do up
//! to their `sidx`), cut into segments that each start on a video keyframe, hashed on the
//! way, and described by the byte-range media playlists, the master playlist and
//! `segments-sha256.json`.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{MediaError, Result};
use crate::mp4::{self, BoxHeader, Movie};

/// One media segment: a byte range of the fragmented MP4.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub offset: u64,
    pub len: u64,
    /// Seconds.
    pub duration: f64,
    /// Lower-case hex SHA-256 of the range.
    pub sha256: String,
}

/// A packaged rendition: the fragmented MP4 as written and what the playlists need.
#[derive(Debug, Clone, PartialEq)]
pub struct Packaged {
    pub size: u64,
    /// Length of the initialization section (`ftyp` + `moov`) at offset 0.
    pub init_len: u64,
    pub segments: Vec<Segment>,
    /// Seconds: the longest track.
    pub duration: f64,
    pub video_codec: Option<String>,
    pub audio_codec: Option<String>,
    pub width: u32,
    pub height: u32,
}

impl Packaged {
    /// HLS CODECS attribute value, e.g. "avc1.64001f,mp4a.40.2".
    pub fn codecs(&self) -> String {
        [&self.video_codec, &self.audio_codec]
            .into_iter()
            .flatten()
            .cloned()
            .collect::<Vec<_>>()
            .join(",")
    }

    /// PeerTube's `getBandwidthBits`: the file's average bitrate.
    pub fn bandwidth(&self) -> u64 {
        if self.duration <= 0.0 {
            return self.size * 8;
        }
        (self.size as f64 * 8.0 / self.duration).ceil() as u64
    }
}

struct Pending {
    offset: u64,
    len: u64,
    duration: u64,
    hasher: Sha256,
}

fn malformed(path: &Path, e: impl std::fmt::Display) -> MediaError {
    MediaError::Pipeline(format!("{}: {e}", path.display()))
}

/// Rewrites the muxer's output `raw` into `out` (fsynced) and returns its segments.
pub fn package(raw: &Path, out: &Path) -> Result<Packaged> {
    let input =
        File::open(raw).map_err(|e| MediaError::io(format!("opening {}", raw.display()), e))?;
    let mut input = BufReader::with_capacity(1 << 20, input);
    let file =
        File::create(out).map_err(|e| MediaError::io(format!("creating {}", out.display()), e))?;
    let mut output = BufWriter::with_capacity(1 << 20, file);
    let write_err = |e| MediaError::io(format!("writing {}", out.display()), e);

    let mut read_pos = 0u64;
    let mut write_pos = 0u64;
    let mut movie: Option<Movie> = None;
    let mut init_len = None;
    let mut ftyp_seen = false;
    let mut segments: Vec<Segment> = Vec::new();
    let mut pending: Option<Pending> = None;
    let mut track_totals: Vec<(u32, u64)> = Vec::new();
    let mut buf = vec![0u8; 1 << 16];

    loop {
        let header = mp4::read_header(&mut input, read_pos).map_err(|e| malformed(raw, e))?;
        let Some(header) = header else { break };
        let payload_len = match header.size {
            Some(s) => s - header.header_len,
            None => {
                // Runs to the end of file: only an mdat may do that.
                if !header.is(b"mdat") {
                    return Err(malformed(raw, "a box other than mdat runs to end of file"));
                }
                let total = std::fs::metadata(raw)
                    .map_err(|e| MediaError::io("stat", e))?
                    .len();
                total.saturating_sub(read_pos + header.header_len)
            }
        };
        read_pos += header.header_len + payload_len;
        match &header.kind {
            b"ftyp" | b"moov" => {
                if init_len.is_some() {
                    return Err(malformed(
                        raw,
                        format!("{} after the first fragment", header.kind_str()),
                    ));
                }
                let payload = read_payload(&mut input, payload_len, raw)?;
                if header.is(b"moov") {
                    movie = Some(mp4::parse_moov(&payload).map_err(|e| malformed(raw, e))?);
                } else {
                    ftyp_seen = true;
                }
                write_pos += write_box(&mut output, &header, &payload, None).map_err(write_err)?;
            }
            b"moof" => {
                let Some(movie) = &movie else {
                    return Err(malformed(raw, "moof before moov"));
                };
                if !ftyp_seen {
                    return Err(malformed(raw, "no ftyp"));
                }
                if init_len.is_none() {
                    init_len = Some(write_pos);
                }
                let payload = read_payload(&mut input, payload_len, raw)?;
                let runs = mp4::parse_moof(&payload, movie).map_err(|e| malformed(raw, e))?;
                for r in &runs {
                    match track_totals.iter_mut().find(|(id, _)| *id == r.track_id) {
                        Some((_, total)) => *total += r.duration,
                        None => track_totals.push((r.track_id, r.duration)),
                    }
                }
                // The track that sets segment boundaries and durations: video if any.
                let lead = movie.video().or(movie.audio());
                let lead_run =
                    lead.and_then(|t| runs.iter().find(|r| r.track_id == t.id && r.samples > 0));
                // A fragment without lead samples (the muxer's audio tail at the end) joins
                // the segment before it; one starting on a keyframe starts a new segment.
                let starts_segment = match (&pending, lead_run) {
                    (None, _) => true,
                    (Some(_), Some(run)) => run.first_is_sync || movie.video().is_none(),
                    (Some(_), None) => false,
                };
                if starts_segment && let Some(done) = pending.take() {
                    segments.push(finish(done, lead.map_or(1, |t| t.timescale)));
                }
                let seg = pending.get_or_insert_with(|| Pending {
                    offset: write_pos,
                    len: 0,
                    duration: 0,
                    hasher: Sha256::new(),
                });
                seg.duration += lead_run.map_or(0, |r| r.duration);
                let written = write_box(&mut output, &header, &payload, Some(&mut seg.hasher))
                    .map_err(write_err)?;
                seg.len += written;
                write_pos += written;
            }
            b"mdat" => {
                let Some(seg) = pending.as_mut() else {
                    return Err(malformed(raw, "mdat before the first moof"));
                };
                let head = header_bytes(&header, payload_len).map_err(write_err)?;
                seg.hasher.update(&head);
                output.write_all(&head).map_err(write_err)?;
                let mut left = payload_len;
                while left > 0 {
                    let n = (left as usize).min(buf.len());
                    input
                        .read_exact(&mut buf[..n])
                        .map_err(|e| malformed(raw, format!("truncated mdat: {e}")))?;
                    seg.hasher.update(&buf[..n]);
                    output.write_all(&buf[..n]).map_err(write_err)?;
                    left -= n as u64;
                }
                let written = head.len() as u64 + payload_len;
                seg.len += written;
                write_pos += written;
            }
            // styp (dropped so that segments start on moof), mfra/tfra (absolute offsets that
            // no longer hold), free space: not copied.
            _ => skip(&mut input, payload_len, raw)?,
        }
    }
    let movie = movie.ok_or_else(|| malformed(raw, "no moov"))?;
    let lead_timescale = movie.video().or(movie.audio()).map_or(1, |t| t.timescale);
    if let Some(done) = pending.take() {
        segments.push(finish(done, lead_timescale));
    }
    let init_len = init_len.ok_or_else(|| malformed(raw, "no media fragments"))?;
    output.flush().map_err(write_err)?;
    let file = output.into_inner().map_err(|e| write_err(e.into_error()))?;
    file.sync_all().map_err(write_err)?;

    let duration = track_totals
        .iter()
        .filter_map(|(id, total)| {
            let ts = movie.track(*id)?.timescale;
            (ts > 0).then(|| *total as f64 / f64::from(ts))
        })
        .fold(0.0, f64::max);
    let video = movie.video();
    Ok(Packaged {
        size: write_pos,
        init_len,
        segments,
        duration,
        video_codec: video.and_then(|t| t.codec.clone()),
        audio_codec: movie.audio().and_then(|t| t.codec.clone()),
        width: video.map_or(0, |t| t.width),
        height: video.map_or(0, |t| t.height),
    })
}

fn finish(p: Pending, timescale: u32) -> Segment {
    Segment {
        offset: p.offset,
        len: p.len,
        duration: p.duration as f64 / f64::from(timescale.max(1)),
        sha256: hex::encode(p.hasher.finalize()),
    }
}

fn read_payload(input: &mut impl Read, len: u64, path: &Path) -> Result<Vec<u8>> {
    // Headers and fragment headers are small; refuse absurd sizes instead of allocating.
    if len > 256 << 20 {
        return Err(malformed(path, format!("metadata box of {len} bytes")));
    }
    let mut payload = vec![0u8; len as usize];
    input
        .read_exact(&mut payload)
        .map_err(|e| malformed(path, format!("truncated box: {e}")))?;
    Ok(payload)
}

fn skip(input: &mut impl Read, len: u64, path: &Path) -> Result<()> {
    let copied = std::io::copy(&mut input.take(len), &mut std::io::sink())
        .map_err(|e| malformed(path, e))?;
    if copied != len {
        return Err(malformed(path, "truncated box"));
    }
    Ok(())
}

/// A box header in the same form as the original (8 or 16 bytes), so that offsets inside
/// fragments (relative to their `moof`) stay valid; a to-end-of-file size is made explicit.
fn header_bytes(h: &BoxHeader, payload_len: u64) -> std::io::Result<Vec<u8>> {
    let mut v = Vec::with_capacity(16);
    if h.header_len == 16 {
        v.extend_from_slice(&1u32.to_be_bytes());
        v.extend_from_slice(&h.kind);
        v.extend_from_slice(&(payload_len + 16).to_be_bytes());
    } else {
        let total = u32::try_from(payload_len + 8).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "box too large for its header",
            )
        })?;
        v.extend_from_slice(&total.to_be_bytes());
        v.extend_from_slice(&h.kind);
    }
    Ok(v)
}

/// Writes a box; returns the bytes written.
fn write_box(
    out: &mut impl Write,
    h: &BoxHeader,
    payload: &[u8],
    hasher: Option<&mut Sha256>,
) -> std::io::Result<u64> {
    let head = header_bytes(h, payload.len() as u64)?;
    if let Some(hasher) = hasher {
        hasher.update(&head);
        hasher.update(payload);
    }
    out.write_all(&head)?;
    out.write_all(payload)?;
    Ok((head.len() + payload.len()) as u64)
}

/// A media playlist as ffmpeg writes PeerTube's (`-hls_segment_type fmp4 -hls_flags
/// single_file`): the init section in `EXT-X-MAP`, one `EXT-X-BYTERANGE` per segment.
pub fn media_playlist(file_name: &str, p: &Packaged) -> String {
    let target = p
        .segments
        .iter()
        .map(|s| s.duration.ceil() as u64)
        .max()
        .unwrap_or(1)
        .max(1);
    let mut out = format!(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MAP:URI=\"{file_name}\",BYTERANGE=\"{}@0\"\n",
        p.init_len
    );
    for s in &p.segments {
        out.push_str(&format!(
            "#EXTINF:{:.6},\n#EXT-X-BYTERANGE:{}@{}\n{file_name}\n",
            s.duration, s.len, s.offset
        ));
    }
    out.push_str("#EXT-X-ENDLIST\n");
    out
}

/// One variant of the master playlist.
pub struct Variant<'a> {
    pub playlist: &'a str,
    pub resolution: u32,
    pub fps: u32,
    pub file: &'a Packaged,
}

/// The master playlist as PeerTube writes it (`updateMasterHLSPlaylist`): version 3, one
/// `EXT-X-STREAM-INF` per rendition in ascending resolution, audio-only without RESOLUTION.
pub fn master_playlist(variants: &[Variant]) -> String {
    let mut sorted: Vec<&Variant> = variants.iter().collect();
    sorted.sort_by_key(|v| v.resolution);
    let mut lines = vec!["#EXTM3U".to_string(), "#EXT-X-VERSION:3".to_string()];
    for v in sorted {
        let mut line = format!("#EXT-X-STREAM-INF:BANDWIDTH={}", v.file.bandwidth());
        if v.resolution != 0 {
            line.push_str(&format!(",RESOLUTION={}x{}", v.file.width, v.file.height));
        }
        if v.fps > 0 {
            line.push_str(&format!(",FRAME-RATE={}", v.fps));
        }
        line.push_str(&format!(",CODECS=\"{}\"", v.file.codecs()));
        lines.push(line);
        lines.push(v.playlist.to_string());
    }
    lines.join("\n") + "\n"
}

/// `segments-sha256.json` as PeerTube writes it: per fragmented MP4 file name, one
/// `"start-end"` (inclusive end) key per media segment, in playlist order.
pub fn segments_sha256_json(files: &[(&str, &Packaged)]) -> String {
    let quote = |s: &str| serde_json::Value::String(s.to_string()).to_string();
    let mut out = String::from("{");
    for (i, (name, p)) in files.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&quote(name));
        out.push_str(":{");
        for (j, s) in p.segments.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            let key = format!("{}-{}", s.offset, s.offset + s.len - 1);
            out.push_str(&format!("{}:{}", quote(&key), quote(&s.sha256)));
        }
        out.push('}');
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packaged() -> Packaged {
        Packaged {
            size: 3000,
            init_len: 1000,
            segments: vec![
                Segment {
                    offset: 1000,
                    len: 1500,
                    duration: 4.0,
                    sha256: "aa".into(),
                },
                Segment {
                    offset: 2500,
                    len: 500,
                    duration: 2.5,
                    sha256: "bb".into(),
                },
            ],
            duration: 6.5,
            video_codec: Some("avc1.64001f".into()),
            audio_codec: Some("mp4a.40.2".into()),
            width: 1280,
            height: 720,
        }
    }

    #[test]
    fn media_playlist_has_map_and_byte_ranges() {
        let text = media_playlist("f-720-fragmented.mp4", &packaged());
        assert!(text.contains("#EXT-X-MAP:URI=\"f-720-fragmented.mp4\",BYTERANGE=\"1000@0\"\n"));
        assert!(
            text.contains("#EXTINF:4.000000,\n#EXT-X-BYTERANGE:1500@1000\nf-720-fragmented.mp4\n")
        );
        assert!(text.contains("#EXT-X-BYTERANGE:500@2500\n"));
        assert!(text.contains("#EXT-X-TARGETDURATION:4\n"));
        assert!(text.ends_with("#EXT-X-ENDLIST\n"));
    }

    #[test]
    fn master_is_sorted_and_json_keys_are_inclusive_ranges() {
        let p = packaged();
        let mut small = packaged();
        small.width = 854;
        small.height = 480;
        let master = master_playlist(&[
            Variant {
                playlist: "a-720.m3u8",
                resolution: 720,
                fps: 30,
                file: &p,
            },
            Variant {
                playlist: "a-480.m3u8",
                resolution: 480,
                fps: 30,
                file: &small,
            },
        ]);
        let bw = (3000.0f64 * 8.0 / 6.5).ceil() as u64;
        assert_eq!(
            master,
            format!(
                "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH={bw},RESOLUTION=854x480,FRAME-RATE=30,CODECS=\"avc1.64001f,mp4a.40.2\"\na-480.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH={bw},RESOLUTION=1280x720,FRAME-RATE=30,CODECS=\"avc1.64001f,mp4a.40.2\"\na-720.m3u8\n"
            )
        );
        let json = segments_sha256_json(&[("f-720-fragmented.mp4", &p)]);
        assert_eq!(
            json,
            r#"{"f-720-fragmented.mp4":{"1000-2499":"aa","2500-2999":"bb"}}"#
        );
        let parsed: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(parsed["f-720-fragmented.mp4"]["2500-2999"], "bb");
    }
}
