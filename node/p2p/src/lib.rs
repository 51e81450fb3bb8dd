//! Peer-to-peer delivery of a node's files. For now: BitTorrent v1 metainfo (`.torrent`)
//! and magnet URIs for the files the node serves, each with the file's public URL as a
//! BEP 19 web seed so that any client can fetch from the node over HTTP.
//!
//! It reads the files it describes and knows nothing of HTTP routing or of the catalog.

mod bencode;
mod torrent;

pub use torrent::{Torrent, TorrentRequest, create_torrent, magnet_uri};
