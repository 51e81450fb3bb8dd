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

    /// A bencode value, decoded only as far as these tests look.
    #[derive(Debug, PartialEq)]
    enum B {
        Int(i64),
        Bytes(Vec<u8>),
        List(Vec<B>),
        /// Keys in file order, with each value's raw bytes.
        Dict(Vec<(Vec<u8>, B, Vec<u8>)>),
    }

    fn decode(buf: &[u8]) -> (B, usize) {
        match buf[0] {
            b'i' => {
                let end = buf.iter().position(|&b| b == b'e').unwrap();
                let n = std::str::from_utf8(&buf[1..end]).unwrap().parse().unwrap();
                (B::Int(n), end + 1)
            }
            b'l' | b'd' => {
                let dict = buf[0] == b'd';
                let (mut at, mut items, mut entries) = (1, Vec::new(), Vec::new());
                while buf[at] != b'e' {
                    if dict {
                        let (B::Bytes(k), used) = decode(&buf[at..]) else {
                            panic!("dictionary key is not a string")
                        };
                        at += used;
                        let (v, used) = decode(&buf[at..]);
                        entries.push((k, v, buf[at..at + used].to_vec()));
                        at += used;
                    } else {
                        let (v, used) = decode(&buf[at..]);
                        items.push(v);
                        at += used;
                    }
                }
                (
                    if dict {
                        B::Dict(entries)
                    } else {
                        B::List(items)
                    },
                    at + 1,
                )
            }
            _ => {
                let colon = buf.iter().position(|&b| b == b':').unwrap();
                let len: usize = std::str::from_utf8(&buf[..colon]).unwrap().parse().unwrap();
                let start = colon + 1;
                (B::Bytes(buf[start..start + len].to_vec()), start + len)
            }
        }
    }

    fn get<'a>(dict: &'a B, key: &str) -> Option<(&'a B, &'a [u8])> {
        let B::Dict(entries) = dict else {
            panic!("not a dictionary")
        };
        entries
            .iter()
            .find(|(k, _, _)| k == key.as_bytes())
            .map(|(_, v, raw)| (v, raw.as_slice()))
    }

    fn keys(dict: &B) -> Vec<String> {
        let B::Dict(entries) = dict else {
            panic!("not a dictionary")
        };
        entries
            .iter()
            .map(|(k, _, _)| String::from_utf8_lossy(k).into_owned())
            .collect()
    }

    fn torrent_of(size: usize, trackers: &[String], web_seeds: &[String]) -> (Torrent, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.mp4");
        let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        File::create(&path).unwrap().write_all(&data).unwrap();
        let t = create_torrent(&TorrentRequest {
            path: &path,
            name: "0d7c5a5e-4a49-4c3c-9a41-2b6f1d0c2a11-720-fragmented.mp4",
            trackers,
            web_seeds,
            creation_date: 1_700_000_000,
        })
        .unwrap();
        (t, data)
    }

    #[test]
    fn web_seed_is_in_the_outer_dictionary_and_leaves_the_infohash_alone() {
        let trackers = vec![
            "ws://node/tracker/socket".to_string(),
            "http://node/tracker/announce".to_string(),
        ];
        let seeds = vec!["http://node/static/streaming-playlists/hls/u/f.mp4".to_string()];
        let (with, data) = torrent_of(300_000, &trackers, &seeds);
        let (without, _) = torrent_of(300_000, &[], &[]);
        assert_eq!(with.info_hash, without.info_hash);

        let (root, used) = decode(&with.metainfo);
        assert_eq!(used, with.metainfo.len(), "nothing after the dictionary");
        // Keys sorted, as bencode requires; url-list beside info, not inside it (BEP 19).
        let k = keys(&root);
        let mut sorted = k.clone();
        sorted.sort();
        assert_eq!(k, sorted);
        assert_eq!(
            get(&root, "url-list").unwrap().0,
            &B::List(vec![B::Bytes(seeds[0].as_bytes().to_vec())])
        );
        // PeerTube's shape: one tracker per tier, the first also as `announce`.
        assert_eq!(
            get(&root, "announce").unwrap().0,
            &B::Bytes(trackers[0].as_bytes().to_vec())
        );
        assert_eq!(
            get(&root, "announce-list").unwrap().0,
            &B::List(
                trackers
                    .iter()
                    .map(|t| B::List(vec![B::Bytes(t.as_bytes().to_vec())]))
                    .collect()
            )
        );
        let (info, raw) = get(&root, "info").unwrap();
        assert_eq!(<[u8; 20]>::from(Sha1::digest(raw)), with.info_hash);
        assert_eq!(keys(info), ["length", "name", "piece length", "pieces"]);
        assert!(get(info, "url-list").is_none());
        assert_eq!(get(info, "length").unwrap().0, &B::Int(data.len() as i64));
        assert_eq!(
            get(info, "name").unwrap().0,
            &B::Bytes(b"0d7c5a5e-4a49-4c3c-9a41-2b6f1d0c2a11-720-fragmented.mp4".to_vec())
        );
        // 300 000 bytes in 16 KiB pieces: 19 pieces, each one's SHA-1 in order.
        let (B::Bytes(pieces), _) = get(info, "pieces").unwrap() else {
            panic!("pieces")
        };
        assert_eq!(get(info, "piece length").unwrap().0, &B::Int(16384));
        let expected: Vec<u8> = data.chunks(16384).flat_map(Sha1::digest).collect();
        assert_eq!(pieces, &expected);
    }

    #[test]
    fn about_a_thousand_pieces_between_16_kib_and_16_mib() {
        assert_eq!(piece_length(0), 16 * 1024);
        assert_eq!(piece_length(1_000_000), 16 * 1024);
        // 20 MB, a 720p minute: 32 KiB pieces, 611 of them.
        assert_eq!(piece_length(20_000_000), 32 * 1024);
        // 1 GiB: 1 MiB pieces, 1024 of them.
        assert_eq!(piece_length(1 << 30), 1 << 20);
        assert_eq!(piece_length(1 << 40), 16 * 1024 * 1024);
        for size in [1u64 << 24, 123_456_789, 5_000_000_000] {
            let pieces = size.div_ceil(piece_length(size));
            assert!((512..=1024).contains(&pieces), "{size}: {pieces} pieces");
        }
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
