//! Just enough ISO BMFF reading for fragmented MP4s: top-level boxes, the tracks of a `moov`
//! (codec strings, sizes, timescales, defaults) and the runs of a `moof` (durations and
//! whether a fragment starts on a keyframe).

use std::io::{self, Read};

/// A box header: its type, where it starts, its total size and its header's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoxHeader {
    pub kind: [u8; 4],
    pub offset: u64,
    /// Total size including the header; None for a last box that runs to the end of file.
    pub size: Option<u64>,
    pub header_len: u64,
}

impl BoxHeader {
    pub fn is(&self, kind: &[u8; 4]) -> bool {
        &self.kind == kind
    }

    pub fn kind_str(&self) -> String {
        String::from_utf8_lossy(&self.kind).into_owned()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mp4Error(pub String);

impl std::fmt::Display for Mp4Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed MP4: {}", self.0)
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, Mp4Error> {
    Err(Mp4Error(msg.into()))
}

/// Reads the next box header from a stream positioned at a box boundary. Returns None at a
/// clean end of stream.
pub fn read_header(r: &mut impl Read, offset: u64) -> io::Result<Option<BoxHeader>> {
    let mut head = [0u8; 8];
    let mut got = 0;
    while got < 8 {
        match r.read(&mut head[got..])? {
            0 if got == 0 => return Ok(None),
            0 => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "truncated box header",
                ));
            }
            n => got += n,
        }
    }
    let size32 = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    let kind = [head[4], head[5], head[6], head[7]];
    let (size, header_len) = match size32 {
        0 => (None, 8),
        1 => {
            let mut large = [0u8; 8];
            r.read_exact(&mut large)?;
            (Some(u64::from_be_bytes(large)), 16)
        }
        n => (Some(u64::from(n)), 8),
    };
    if size.is_some_and(|s| s < header_len) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "box {} smaller than its header",
                String::from_utf8_lossy(&kind)
            ),
        ));
    }
    Ok(Some(BoxHeader {
        kind,
        offset,
        size,
        header_len,
    }))
}

/// Iterates over the child boxes inside a box's payload: (type, payload).
pub fn children(data: &[u8]) -> impl Iterator<Item = Result<([u8; 4], &[u8]), Mp4Error>> {
    let mut pos = 0usize;
    std::iter::from_fn(move || {
        if pos >= data.len() {
            return None;
        }
        let rest = &data[pos..];
        if rest.len() < 8 {
            pos = data.len();
            return Some(err("trailing bytes shorter than a box header"));
        }
        let size32 = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as u64;
        let kind = [rest[4], rest[5], rest[6], rest[7]];
        let (size, header) = match size32 {
            0 => (rest.len() as u64, 8usize),
            1 => {
                if rest.len() < 16 {
                    pos = data.len();
                    return Some(err("truncated large box header"));
                }
                let mut b = [0u8; 8];
                b.copy_from_slice(&rest[8..16]);
                (u64::from_be_bytes(b), 16)
            }
            n => (n, 8),
        };
        if size < header as u64 || size > rest.len() as u64 {
            pos = data.len();
            return Some(err(format!(
                "box {} of size {size} does not fit",
                String::from_utf8_lossy(&kind)
            )));
        }
        let size = size as usize;
        pos += size;
        Some(Ok((kind, &rest[header..size])))
    })
}

fn child<'a>(data: &'a [u8], kind: &[u8; 4]) -> Result<Option<&'a [u8]>, Mp4Error> {
    for c in children(data) {
        let (k, payload) = c?;
        if &k == kind {
            return Ok(Some(payload));
        }
    }
    Ok(None)
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(data: &'a [u8]) -> Self {
        Cursor { data, pos: 0 }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], Mp4Error> {
        if self.pos + n > self.data.len() {
            return err("field past the end of its box");
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, Mp4Error> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, Mp4Error> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, Mp4Error> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }
    /// Full box version and flags.
    fn full(&mut self) -> Result<(u8, u32), Mp4Error> {
        let v = self.u32()?;
        Ok(((v >> 24) as u8, v & 0x00ff_ffff))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackKind {
    Video,
    Audio,
    Other,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    pub id: u32,
    pub kind: TrackKind,
    pub timescale: u32,
    /// RFC 6381 codec string, e.g. "avc1.64001f" or "mp4a.40.2".
    pub codec: Option<String>,
    pub width: u32,
    pub height: u32,
    pub default_duration: u32,
    pub default_flags: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Movie {
    pub tracks: Vec<Track>,
}

impl Movie {
    pub fn track(&self, id: u32) -> Option<&Track> {
        self.tracks.iter().find(|t| t.id == id)
    }

    pub fn video(&self) -> Option<&Track> {
        self.tracks.iter().find(|t| t.kind == TrackKind::Video)
    }

    pub fn audio(&self) -> Option<&Track> {
        self.tracks.iter().find(|t| t.kind == TrackKind::Audio)
    }
}

/// Parses a `moov` payload (without its header).
pub fn parse_moov(moov: &[u8]) -> Result<Movie, Mp4Error> {
    let mut tracks = Vec::new();
    let mut trex = Vec::new();
    for c in children(moov) {
        let (kind, payload) = c?;
        match &kind {
            b"trak" => tracks.push(parse_trak(payload)?),
            b"mvex" => {
                for c in children(payload) {
                    let (k, p) = c?;
                    if &k == b"trex" {
                        let mut cur = Cursor::new(p);
                        cur.full()?;
                        let id = cur.u32()?;
                        let _desc = cur.u32()?;
                        let duration = cur.u32()?;
                        let _size = cur.u32()?;
                        let flags = cur.u32()?;
                        trex.push((id, duration, flags));
                    }
                }
            }
            _ => {}
        }
    }
    for t in &mut tracks {
        if let Some((_, d, f)) = trex.iter().find(|(id, ..)| *id == t.id) {
            t.default_duration = *d;
            t.default_flags = *f;
        }
    }
    Ok(Movie { tracks })
}

fn parse_trak(trak: &[u8]) -> Result<Track, Mp4Error> {
    let tkhd = child(trak, b"tkhd")?.ok_or(Mp4Error("trak without tkhd".into()))?;
    let mut cur = Cursor::new(tkhd);
    let (version, _) = cur.full()?;
    if version == 1 {
        cur.take(16)?;
    } else {
        cur.take(8)?;
    }
    let id = cur.u32()?;
    let mdia = child(trak, b"mdia")?.ok_or(Mp4Error("trak without mdia".into()))?;
    let mdhd = child(mdia, b"mdhd")?.ok_or(Mp4Error("mdia without mdhd".into()))?;
    let mut cur = Cursor::new(mdhd);
    let (version, _) = cur.full()?;
    cur.take(if version == 1 { 16 } else { 8 })?;
    let timescale = cur.u32()?;
    let handler = match child(mdia, b"hdlr")? {
        Some(h) if h.len() >= 12 => [h[8], h[9], h[10], h[11]],
        _ => *b"    ",
    };
    let kind = match &handler {
        b"vide" => TrackKind::Video,
        b"soun" => TrackKind::Audio,
        _ => TrackKind::Other,
    };
    let mut track = Track {
        id,
        kind,
        timescale,
        codec: None,
        width: 0,
        height: 0,
        default_duration: 0,
        default_flags: 0,
    };
    let stsd = child(mdia, b"minf")?
        .map(|m| child(m, b"stbl"))
        .transpose()?
        .flatten()
        .map(|s| child(s, b"stsd"))
        .transpose()?
        .flatten();
    if let Some(stsd) = stsd
        && stsd.len() > 8
    {
        // Skip the full-box header and entry count; look at the first sample entry.
        if let Some(entry) = children(&stsd[8..]).next() {
            let (format, body) = entry?;
            read_sample_entry(&mut track, &format, body)?;
        }
    }
    Ok(track)
}

fn read_sample_entry(track: &mut Track, format: &[u8; 4], body: &[u8]) -> Result<(), Mp4Error> {
    match format {
        b"avc1" | b"avc3" => {
            // VisualSampleEntry: 6 reserved + 2 index + 16 predefined, then width, height,
            // and 50 more bytes before the child boxes.
            if body.len() < 78 {
                return err("short avc1 sample entry");
            }
            track.width = u32::from(u16::from_be_bytes([body[24], body[25]]));
            track.height = u32::from(u16::from_be_bytes([body[26], body[27]]));
            if let Some(avcc) = child(&body[78..], b"avcC")?
                && avcc.len() >= 4
            {
                track.codec = Some(format!(
                    "{}.{:02x}{:02x}{:02x}",
                    String::from_utf8_lossy(format),
                    avcc[1],
                    avcc[2],
                    avcc[3]
                ));
            }
        }
        b"mp4a" => {
            // AudioSampleEntry: 28 bytes before the child boxes.
            if body.len() < 28 {
                return err("short mp4a sample entry");
            }
            let aot = child(&body[28..], b"esds")?.and_then(esds_audio_object_type);
            track.codec = Some(match aot {
                Some(aot) => format!("mp4a.40.{aot}"),
                None => "mp4a.40.2".into(),
            });
        }
        other => track.codec = Some(String::from_utf8_lossy(other).into_owned()),
    }
    Ok(())
}

/// The audio object type in an `esds`'s DecoderSpecificInfo (AAC-LC is 2).
fn esds_audio_object_type(esds: &[u8]) -> Option<u8> {
    let mut cur = Cursor::new(esds);
    cur.full().ok()?;
    // Walk the descriptors: ES (3) contains DecoderConfig (4) contains DecSpecificInfo (5).
    fn descriptor(cur: &mut Cursor) -> Option<(u8, usize)> {
        let tag = cur.u8().ok()?;
        let mut len = 0usize;
        for _ in 0..4 {
            let b = cur.u8().ok()?;
            len = (len << 7) | usize::from(b & 0x7f);
            if b & 0x80 == 0 {
                break;
            }
        }
        Some((tag, len))
    }
    let (tag, _) = descriptor(&mut cur)?;
    if tag != 3 {
        return None;
    }
    cur.take(2).ok()?;
    let flags = cur.u8().ok()?;
    if flags & 0x80 != 0 {
        cur.take(2).ok()?;
    }
    if flags & 0x40 != 0 {
        let n = cur.u8().ok()?;
        cur.take(usize::from(n)).ok()?;
    }
    if flags & 0x20 != 0 {
        cur.take(2).ok()?;
    }
    let (tag, _) = descriptor(&mut cur)?;
    if tag != 4 {
        return None;
    }
    cur.take(13).ok()?;
    let (tag, _) = descriptor(&mut cur)?;
    if tag != 5 {
        return None;
    }
    let first = cur.u8().ok()?;
    let aot = first >> 3;
    if aot == 31 {
        let second = cur.u8().ok()?;
        return Some(32 + (((first & 0x07) << 3) | (second >> 5)));
    }
    Some(aot)
}

const SAMPLE_IS_NON_SYNC: u32 = 0x0001_0000;

/// One track's samples within a fragment.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackRun {
    pub track_id: u32,
    pub base_decode_time: Option<u64>,
    pub samples: u32,
    /// Sum of sample durations, in the track's timescale.
    pub duration: u64,
    pub first_is_sync: bool,
}

/// Parses a `moof` payload (without its header).
pub fn parse_moof(moof: &[u8], movie: &Movie) -> Result<Vec<TrackRun>, Mp4Error> {
    let mut runs = Vec::new();
    for c in children(moof) {
        let (kind, traf) = c?;
        if &kind != b"traf" {
            continue;
        }
        let tfhd = child(traf, b"tfhd")?.ok_or(Mp4Error("traf without tfhd".into()))?;
        let mut cur = Cursor::new(tfhd);
        let (_, flags) = cur.full()?;
        let track_id = cur.u32()?;
        let track = movie.track(track_id);
        if flags & 0x01 != 0 {
            return err("tfhd with an absolute base data offset");
        }
        if flags & 0x02 != 0 {
            cur.u32()?;
        }
        let default_duration = if flags & 0x08 != 0 {
            cur.u32()?
        } else {
            track.map_or(0, |t| t.default_duration)
        };
        if flags & 0x10 != 0 {
            cur.u32()?;
        }
        let default_flags = if flags & 0x20 != 0 {
            cur.u32()?
        } else {
            track.map_or(0, |t| t.default_flags)
        };
        let base_decode_time = match child(traf, b"tfdt")? {
            Some(tfdt) => {
                let mut cur = Cursor::new(tfdt);
                let (version, _) = cur.full()?;
                Some(if version == 1 {
                    cur.u64()?
                } else {
                    u64::from(cur.u32()?)
                })
            }
            None => None,
        };
        let mut run = TrackRun {
            track_id,
            base_decode_time,
            samples: 0,
            duration: 0,
            first_is_sync: false,
        };
        for c in children(traf) {
            let (k, trun) = c?;
            if &k != b"trun" {
                continue;
            }
            let mut cur = Cursor::new(trun);
            let (_, tflags) = cur.full()?;
            let count = cur.u32()?;
            if tflags & 0x01 != 0 {
                cur.u32()?;
            }
            let first_flags = if tflags & 0x04 != 0 {
                Some(cur.u32()?)
            } else {
                None
            };
            for i in 0..count {
                let duration = if tflags & 0x100 != 0 {
                    cur.u32()?
                } else {
                    default_duration
                };
                if tflags & 0x200 != 0 {
                    cur.u32()?;
                }
                let sample_flags = if tflags & 0x400 != 0 {
                    cur.u32()?
                } else {
                    default_flags
                };
                if tflags & 0x800 != 0 {
                    cur.u32()?;
                }
                let sample_flags = match (i, first_flags) {
                    (0, Some(f)) => f,
                    _ => sample_flags,
                };
                if run.samples == 0 {
                    run.first_is_sync = sample_flags & SAMPLE_IS_NON_SYNC == 0;
                }
                run.samples += 1;
                run.duration += u64::from(duration);
            }
        }
        runs.push(run);
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bx(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut v = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn walks_boxes_and_rejects_overruns() {
        let data = [bx(b"ftyp", b"isom"), bx(b"free", &[])].concat();
        let kinds: Vec<[u8; 4]> = children(&data).map(|c| c.expect("box").0).collect();
        assert_eq!(kinds, vec![*b"ftyp", *b"free"]);
        let mut bad = bx(b"moov", &[0; 4]);
        bad[3] = 200;
        assert!(children(&bad).next().expect("one").is_err());
        let mut r = &data[..];
        let h = read_header(&mut r, 0).expect("io").expect("box");
        assert_eq!((h.kind, h.size, h.header_len), (*b"ftyp", Some(12), 8));
    }

    #[test]
    fn reads_aac_object_type_from_esds() {
        // ES_Descriptor with a DecoderConfig and AudioSpecificConfig 0x1190 (AAC-LC, 48 kHz, 2 ch).
        let esds = [
            0, 0, 0, 0, 3, 25, 0, 1, 0, 4, 17, 0x40, 0x15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 2,
            0x11, 0x90, 6, 1, 2,
        ];
        assert_eq!(esds_audio_object_type(&esds), Some(2));
    }

    #[test]
    fn moof_runs_give_duration_and_keyframe() {
        let movie = Movie {
            tracks: vec![Track {
                id: 1,
                kind: TrackKind::Video,
                timescale: 30,
                codec: None,
                width: 0,
                height: 0,
                default_duration: 1,
                default_flags: SAMPLE_IS_NON_SYNC,
            }],
        };
        let tfhd = [0u8, 0, 0, 0, 0, 0, 0, 1];
        let tfdt = [1u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 60];
        // trun: first-sample-flags present (sync), 3 samples with default duration.
        let trun = [0u8, 0, 0, 0x04, 0, 0, 0, 3, 0, 0, 0, 0];
        let traf = [bx(b"tfhd", &tfhd), bx(b"tfdt", &tfdt), bx(b"trun", &trun)].concat();
        let moof = [bx(b"mfhd", &[0; 8]), bx(b"traf", &traf)].concat();
        let runs = parse_moof(&moof, &movie).expect("moof");
        assert_eq!(
            runs,
            vec![TrackRun {
                track_id: 1,
                base_decode_time: Some(60),
                samples: 3,
                duration: 3,
                first_is_sync: true
            }]
        );
    }
}
