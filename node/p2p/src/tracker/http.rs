//! The classic HTTP tracker (BEP 3, compact peers per BEP 23) for BitTorrent clients.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::Tracker;
use super::swarm::{HttpAnnounce, Refusal};
use crate::bencode;

/// Query parameters with their raw bytes: `info_hash` and `peer_id` are percent-encoded
/// binary, not text.
fn params(query: &str) -> Vec<(String, Vec<u8>)> {
    query
        .split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Some((
                String::from_utf8(percent_decode(k)).ok()?,
                percent_decode(v),
            ))
        })
        .collect()
}

fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

fn get<'a>(params: &'a [(String, Vec<u8>)], key: &str) -> Option<&'a [u8]> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_slice())
}

fn number(params: &[(String, Vec<u8>)], key: &str) -> Option<u64> {
    std::str::from_utf8(get(params, key)?).ok()?.parse().ok()
}

fn bencoded(body: Vec<u8>) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    r
}

/// Trackers answer errors with a 200 and a `failure reason`, which clients show.
fn failure(reason: &str) -> Response {
    let mut out = vec![b'd'];
    bencode::bytes(&mut out, b"failure reason");
    bencode::bytes(&mut out, reason.as_bytes());
    out.push(b'e');
    bencoded(out)
}

fn id20(params: &[(String, Vec<u8>)], key: &str) -> Option<[u8; 20]> {
    get(params, key)?.try_into().ok()
}

pub async fn announce(
    State(tracker): State<Arc<Tracker>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    RawQuery(q): RawQuery,
) -> Response {
    let params = params(q.as_deref().unwrap_or(""));
    let Some(info_hash) = id20(&params, "info_hash") else {
        return failure("invalid info_hash");
    };
    let Some(peer_id) = id20(&params, "peer_id") else {
        return failure("invalid peer_id");
    };
    let Some(port) = number(&params, "port")
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0)
    else {
        return failure("invalid port");
    };
    if !(tracker.filter)(&info_hash) {
        return failure("unknown infohash");
    }
    if !tracker.limiter.allow(from.ip()) {
        return failure("too many announces");
    }
    let event = get(&params, "event").unwrap_or(b"");
    let seeder = number(&params, "left") == Some(0);
    let wanted = number(&params, "numwant").unwrap_or(50).min(200) as usize;
    let s = &tracker.settings;
    let announce = HttpAnnounce {
        info_hash,
        peer_id,
        addr: SocketAddr::new(from.ip(), port),
        seeder,
        stopped: event == b"stopped",
        completed: event == b"completed",
        wanted,
    };
    let result = tracker
        .swarms
        .http_announce(announce, (s.max_peers_per_swarm, s.max_swarms));
    let (complete, incomplete, peers) = match result {
        Ok(r) => r,
        Err(Refusal::SwarmFull) => return failure("swarm is full"),
        Err(Refusal::TooManySwarms) => return failure("too many swarms"),
        Err(Refusal::PeerIdTaken) => return failure("peer_id in use"),
    };
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for p in peers {
        match p.ip() {
            IpAddr::V4(ip) => v4.extend(ip.octets().iter().chain(&p.port().to_be_bytes())),
            IpAddr::V6(ip) => v6.extend(ip.octets().iter().chain(&p.port().to_be_bytes())),
        }
    }
    let mut out = vec![b'd'];
    bencode::bytes(&mut out, b"complete");
    bencode::int(&mut out, complete as i64);
    bencode::bytes(&mut out, b"incomplete");
    bencode::int(&mut out, incomplete as i64);
    bencode::bytes(&mut out, b"interval");
    bencode::int(&mut out, s.announce_interval.as_secs() as i64);
    bencode::bytes(&mut out, b"peers");
    bencode::bytes(&mut out, &v4);
    bencode::bytes(&mut out, b"peers6");
    bencode::bytes(&mut out, &v6);
    out.push(b'e');
    bencoded(out)
}

pub async fn scrape(State(tracker): State<Arc<Tracker>>, RawQuery(q): RawQuery) -> Response {
    let params = params(q.as_deref().unwrap_or(""));
    let mut out = vec![b'd'];
    bencode::bytes(&mut out, b"files");
    out.push(b'd');
    let mut hashes: Vec<[u8; 20]> = params
        .iter()
        .filter(|(k, _)| k == "info_hash")
        .filter_map(|(_, v)| v.as_slice().try_into().ok())
        .filter(|ih| (tracker.filter)(ih))
        .take(255)
        .collect();
    // Dictionary keys must be sorted.
    hashes.sort();
    hashes.dedup();
    for ih in hashes {
        let (complete, incomplete, downloaded) = tracker.swarms.scrape(&ih);
        bencode::bytes(&mut out, &ih);
        out.push(b'd');
        bencode::bytes(&mut out, b"complete");
        bencode::int(&mut out, complete as i64);
        bencode::bytes(&mut out, b"downloaded");
        bencode::int(&mut out, downloaded as i64);
        bencode::bytes(&mut out, b"incomplete");
        bencode::int(&mut out, incomplete as i64);
        out.push(b'e');
    }
    out.extend_from_slice(b"ee");
    bencoded(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_binary_parameters() {
        let p = params("info_hash=%00%ff%12abc&port=6881&x");
        assert_eq!(
            get(&p, "info_hash"),
            Some(&[0u8, 0xff, 0x12, b'a', b'b', b'c'][..])
        );
        assert_eq!(number(&p, "port"), Some(6881));
        assert_eq!(percent_decode("%zz%4"), b"%zz%4");
    }
}
