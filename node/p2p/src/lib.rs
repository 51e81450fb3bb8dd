//! Peer-to-peer delivery of a node's files: the tracker that introduces viewers and
//! BitTorrent clients to each other, and BitTorrent v1 metainfo (`.torrent`) and magnet URIs
//! for the files the node serves, each with the file's public URL as a BEP 19 web seed so
//! that any client can fetch from the node over HTTP.
//!
//! It knows nothing of the catalog: the node tells the tracker which infohashes are its own.

mod bencode;
mod torrent;
pub mod tracker;

pub use torrent::{Torrent, TorrentRequest, create_torrent, magnet_uri};

/// The infohashes of a video's HLS swarms as PeerTube's player (p2p-media-loader 1.0.x,
/// peer protocol version 2) computes them: SHA-1 of "2", the master playlist URL, "+V" and
/// the variant's 0-based position in the master playlist.
pub fn hls_infohashes(master_playlist_url: &str, variants: usize) -> Vec<[u8; 20]> {
    use sha1::{Digest, Sha1};
    (0..variants)
        .map(|i| Sha1::digest(format!("2{master_playlist_url}+V{i}").as_bytes()).into())
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn hls_infohash_matches_the_player() {
        // Seen by a real tracker from two Chromium peers running p2p-media-loader 1.0.20.
        let hashes = super::hls_infohashes("http://127.0.0.1:8080/www/hls/master.m3u8", 2);
        assert_eq!(
            hex::encode(hashes[1]),
            "3754c174c02dabf7f2b8f6050d124c8ba5ffc46d"
        );
    }
}
