//! WebTorrent tracker messages. `info_hash`, `peer_id` and `offer_id` travel as JSON strings
//! whose characters are bytes (U+0000 to U+00FF, Node's "binary" encoding): each character
//! maps to one byte, never to its UTF-8 form.

use serde::Deserialize;
use serde_json::Value;

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
pub struct Incoming {
    pub action: String,
    #[serde(default)]
    pub info_hash: Option<Value>,
    #[serde(default)]
    pub peer_id: Option<String>,
    #[serde(default)]
    pub numwant: Option<u64>,
    #[serde(default)]
    pub left: Option<Value>,
    #[serde(default)]
    pub event: Option<String>,
    #[serde(default)]
    pub offers: Option<Vec<Offer>>,
    #[serde(default)]
    pub answer: Option<Value>,
    #[serde(default)]
    pub to_peer_id: Option<String>,
    #[serde(default)]
    pub offer_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Offer {
    pub offer_id: String,
    pub offer: Value,
}

impl Incoming {
    /// The infohashes of a scrape: one, several, or none (then: nothing, as a private
    /// tracker lists no swarms).
    pub fn info_hashes(&self) -> Vec<Option<[u8; 20]>> {
        match &self.info_hash {
            Some(Value::String(s)) => vec![binary_id(s)],
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().and_then(binary_id))
                .collect(),
            _ => Vec::new(),
        }
    }

    pub fn is_seeder(&self) -> bool {
        match &self.left {
            Some(Value::Number(n)) => n.as_u64() == Some(0),
            _ => false,
        }
    }
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
}
