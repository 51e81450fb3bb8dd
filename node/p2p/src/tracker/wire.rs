//! WebTorrent tracker messages. `info_hash`, `peer_id` and `offer_id` travel as JSON strings
//! whose characters are bytes (U+0000 to U+00FF, Node's "binary" encoding): each character
//! maps to one byte, never to its UTF-8 form.
//!
//! Announces are the hot path: they are read without copying what the tracker only relays
//! (offers and answers stay raw JSON), and replies are written straight into a string.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

/// A 20-byte id from a binary string, or None if it is not exactly that.
pub fn binary_id(s: &str) -> Option<[u8; 20]> {
    let mut out = [0u8; 20];
    let mut n = 0;
    for c in s.chars() {
        let b = u8::try_from(u32::from(c)).ok()?;
        *out.get_mut(n)? = b;
        n += 1;
    }
    (n == 20).then_some(out)
}

pub fn binary_string(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// What a client may send. Unknown fields are ignored, as trackers do.
#[derive(Debug, Deserialize)]
pub struct Incoming<'a> {
    #[serde(borrow)]
    pub action: Cow<'a, str>,
    /// One binary string (announce) or several (scrape).
    #[serde(borrow, default)]
    pub info_hash: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub peer_id: Option<Cow<'a, str>>,
    #[serde(default)]
    pub numwant: Option<u64>,
    #[serde(default)]
    pub left: Option<Value>,
    #[serde(borrow, default)]
    pub event: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub offers: Option<Vec<Offer<'a>>>,
    #[serde(borrow, default)]
    pub answer: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub to_peer_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub offer_id: Option<&'a RawValue>,
}

/// An offer to relay as it came.
#[derive(Debug, Deserialize)]
pub struct Offer<'a> {
    #[serde(borrow)]
    pub offer_id: &'a RawValue,
    #[serde(borrow)]
    pub offer: &'a RawValue,
}

impl Incoming<'_> {
    /// The infohash of an announce.
    pub fn info_hash(&self) -> Option<[u8; 20]> {
        let s: Cow<str> = serde_json::from_str(self.info_hash?.get()).ok()?;
        binary_id(&s)
    }

    /// The infohashes of a scrape: one, several, or none (then: nothing, as a private
    /// tracker lists no swarms).
    pub fn info_hashes(&self) -> Vec<Option<[u8; 20]>> {
        let Some(raw) = self.info_hash else {
            return Vec::new();
        };
        if let Ok(one) = serde_json::from_str::<Cow<str>>(raw.get()) {
            return vec![binary_id(&one)];
        }
        serde_json::from_str::<Vec<Value>>(raw.get())
            .unwrap_or_default()
            .iter()
            .map(|v| v.as_str().and_then(binary_id))
            .collect()
    }

    pub fn is_seeder(&self) -> bool {
        match &self.left {
            Some(Value::Number(n)) => n.as_u64() == Some(0),
            _ => false,
        }
    }
}

/// An id relayed as the client sent it must be a JSON string: peers parse it as one.
pub fn is_json_string(raw: &RawValue) -> bool {
    raw.get().starts_with('"')
}

/// Appends `bytes` as a JSON string of binary characters.
pub fn push_binary(out: &mut String, bytes: &[u8]) {
    out.push('"');
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0..=0x1f => {
                let _ = write!(out, "\\u{b:04x}");
            }
            _ => out.push(char::from(b)),
        }
    }
    out.push('"');
}

/// `{"action":"announce","interval":…,"info_hash":…,"complete":…,"incomplete":…}`
pub fn announce_reply(
    info_hash: &[u8; 20],
    interval: u64,
    complete: usize,
    incomplete: usize,
) -> String {
    let mut out = String::with_capacity(128);
    let _ = write!(
        out,
        r#"{{"action":"announce","interval":{interval},"info_hash":"#
    );
    push_binary(&mut out, info_hash);
    let _ = write!(out, r#","complete":{complete},"incomplete":{incomplete}}}"#);
    out
}

/// An offer or an answer (`kind`) passed on to another peer, naming its sender.
pub fn relayed(
    kind: &str,
    signal: &RawValue,
    offer_id: &RawValue,
    from: &[u8; 20],
    info_hash: &[u8; 20],
) -> String {
    let mut out = String::with_capacity(96 + signal.get().len());
    let _ = write!(
        out,
        r#"{{"action":"announce","{kind}":{},"offer_id":{},"peer_id":"#,
        signal.get(),
        offer_id.get()
    );
    push_binary(&mut out, from);
    out.push_str(r#","info_hash":"#);
    push_binary(&mut out, info_hash);
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_strings_are_bytes_not_utf8() {
        let bytes: Vec<u8> = (0u8..20).map(|i| 0xEC + i % 3).collect();
        let s = binary_string(&bytes);
        assert_eq!(s.chars().count(), 20);
        assert!(s.len() > 20, "as UTF-8 it is longer");
        assert_eq!(binary_id(&s).unwrap().to_vec(), bytes);
        assert!(binary_id("too short").is_none());
        assert!(
            binary_id(&"€".repeat(20)).is_none(),
            "characters above U+00FF are not bytes"
        );
    }

    #[test]
    fn written_replies_are_the_json_a_client_reads() {
        let ih: [u8; 20] = std::array::from_fn(|i| [0, b'"', b'\\', 0x1f, 0x7f, 0xff][i % 6]);
        let reply: Value = serde_json::from_str(&announce_reply(&ih, 120, 1, 2)).unwrap();
        assert_eq!(reply["info_hash"], binary_string(&ih));
        assert_eq!(
            (reply["complete"].as_u64(), reply["incomplete"].as_u64()),
            (Some(1), Some(2))
        );

        let msg = r#"{"action":"announce","info_hash":"\u0000abcdefghijklmnopqrs","offers":[{"offer_id":"o\"d","offer":{"type":"offer","sdp":"v=0\r\n"}}]}"#;
        let incoming: Incoming = serde_json::from_str(msg).unwrap();
        assert_eq!(incoming.info_hash().unwrap()[..2], [0, b'a']);
        let offer = &incoming.offers.as_ref().unwrap()[0];
        let out: Value =
            serde_json::from_str(&relayed("offer", offer.offer, offer.offer_id, &ih, &ih)).unwrap();
        assert_eq!(out["offer"]["sdp"], "v=0\r\n");
        assert_eq!(out["offer_id"], "o\"d");
        assert_eq!(out["peer_id"], binary_string(&ih));
    }
}
