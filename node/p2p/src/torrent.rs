use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use sha1::{Digest, Sha1};

use crate::bencode;

/// What to describe: one file, the name clients save it under, trackers and web seeds.
pub struct TorrentRequest<'a> {
    pub path: &'a Path,
    pub name: &'a str,
    pub trackers: &'a [String],
    pub web_seeds: &'a [String],
    pub creation_date: i64,
}

pub struct Torrent {
    /// The bencoded metainfo file.
    pub metainfo: Vec<u8>,
    pub info_hash: [u8; 20],
}

impl Torrent {
    pub fn info_hash_hex(&self) -> String {
        hex::encode(self.info_hash)
    }
}

/// Pieces of 16 KiB to 16 MiB, aiming at about a thousand pieces per file.
fn piece_length(size: u64) -> u64 {
    (size / 1024)
        .next_power_of_two()
        .clamp(16 * 1024, 16 * 1024 * 1024)
}

/// Hashes the file and writes a single-file v1 metainfo.
pub fn create_torrent(req: &TorrentRequest) -> io::Result<Torrent> {
    let mut file = File::open(req.path)?;
    let size = file.metadata()?.len();
    let piece_len = piece_length(size);
    let mut pieces = Vec::with_capacity(20 * (size / piece_len + 1) as usize);
    let mut buf = vec![0u8; piece_len as usize];
    loop {
        let mut filled = 0;
        while filled < buf.len() {
            let n = file.read(&mut buf[filled..])?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            break;
        }
        pieces.extend_from_slice(&Sha1::digest(&buf[..filled]));
        if filled < buf.len() {
            break;
        }
    }

    let mut info = vec![b'd'];
    bencode::bytes(&mut info, b"length");
    bencode::int(&mut info, size as i64);
    bencode::bytes(&mut info, b"name");
    bencode::bytes(&mut info, req.name.as_bytes());
    bencode::bytes(&mut info, b"piece length");
    bencode::int(&mut info, piece_len as i64);
    bencode::bytes(&mut info, b"pieces");
    bencode::bytes(&mut info, &pieces);
    info.push(b'e');
    let info_hash: [u8; 20] = Sha1::digest(&info).into();

    let mut out = vec![b'd'];
    if let Some(first) = req.trackers.first() {
        bencode::bytes(&mut out, b"announce");
        bencode::bytes(&mut out, first.as_bytes());
        bencode::bytes(&mut out, b"announce-list");
        out.push(b'l');
        for t in req.trackers {
            bencode::str_list(&mut out, std::slice::from_ref(t));
        }
        out.push(b'e');
    }
    bencode::bytes(&mut out, b"created by");
    bencode::bytes(&mut out, b"Peerbox");
    bencode::bytes(&mut out, b"creation date");
    bencode::int(&mut out, req.creation_date);
    bencode::bytes(&mut out, b"info");
    out.extend_from_slice(&info);
    if !req.web_seeds.is_empty() {
        bencode::bytes(&mut out, b"url-list");
        bencode::str_list(&mut out, req.web_seeds);
    }
    out.push(b'e');
    Ok(Torrent {
        metainfo: out,
        info_hash,
    })
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A magnet URI as PeerTube writes them: torrent URL, infohash, name, trackers, web seeds.
pub fn magnet_uri(
    torrent_url: &str,
    info_hash: &[u8; 20],
    name: &str,
    trackers: &[String],
    web_seeds: &[String],
) -> String {
    let mut uri = format!(
        "magnet:?xs={}&xt=urn:btih:{}&dn={}",
        percent_encode(torrent_url),
        hex::encode(info_hash),
        percent_encode(name)
    );
    for t in trackers {
        uri.push_str(&format!("&tr={}", percent_encode(t)));
    }
    for w in web_seeds {
        uri.push_str(&format!("&ws={}", percent_encode(w)));
    }
    uri
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn pieces_cover_the_file_and_infohash_is_of_info_dict() {
        let dir = std::env::temp_dir().join(format!("peerbox-torrent-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.bin");
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        File::create(&path).unwrap().write_all(&data).unwrap();
        let t = create_torrent(&TorrentRequest {
            path: &path,
            name: "f.bin",
            trackers: &["http://node/tracker/announce".into()],
            web_seeds: &["http://node/f.bin".into()],
            creation_date: 0,
        })
        .unwrap();
        let m = &t.metainfo;
        let start = m.windows(6).position(|w| w == b"4:info").unwrap() + 6;
        let end = m.windows(10).position(|w| w == b"8:url-list").unwrap();
        let info = &m[start..end];
        assert_eq!(<[u8; 20]>::from(Sha1::digest(info)), t.info_hash);
        // 100 000 bytes in 16 KiB pieces: 7 pieces, the last one short.
        let first_piece = Sha1::digest(&data[..16384]);
        assert!(m.windows(20).any(|w| w == first_piece.as_slice()));
        assert!(m.windows(4 + 140).any(|w| w.starts_with(b"140:")));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn magnet_escapes_parameters() {
        let m = magnet_uri(
            "http://h/a b.torrent",
            &[0xab; 20],
            "a b",
            &["ws://h/t".into()],
            &[],
        );
        assert!(m.starts_with("magnet:?xs=http%3A%2F%2Fh%2Fa%20b.torrent&xt=urn:btih:abab"));
        assert!(m.ends_with("&dn=a%20b&tr=ws%3A%2F%2Fh%2Ft"));
    }
}
