//! Video identifiers: numeric ids, UUIDs and PeerTube's shortUUIDs (the UUID's 128-bit value
//! written in the Flickr base58 alphabet, left-padded to 22 characters).

use uuid::Uuid;

const FLICKR_BASE58: &[u8; 58] = b"123456789abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
const SHORT_LEN: usize = 22;

pub fn short_uuid(uuid: &Uuid) -> String {
    let mut n = uuid.as_u128();
    let mut out = Vec::with_capacity(SHORT_LEN);
    while n > 0 {
        out.push(FLICKR_BASE58[(n % 58) as usize]);
        n /= 58;
    }
    out.resize(SHORT_LEN.max(out.len()), FLICKR_BASE58[0]);
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

pub fn uuid_from_short(short: &str) -> Option<Uuid> {
    if short.is_empty() || short.len() > SHORT_LEN {
        return None;
    }
    let mut n: u128 = 0;
    for c in short.bytes() {
        let digit = FLICKR_BASE58.iter().position(|&a| a == c)? as u128;
        n = n.checked_mul(58)?.checked_add(digit)?;
    }
    Some(Uuid::from_u128(n))
}

/// How a request names a video: PeerTube accepts the numeric id, the UUID or the shortUUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoRef {
    Id(u64),
    Uuid(Uuid),
}

impl VideoRef {
    pub fn parse(s: &str) -> Option<VideoRef> {
        if !s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit()) {
            return s.parse().ok().map(VideoRef::Id);
        }
        if let Ok(u) = Uuid::parse_str(s) {
            return Some(VideoRef::Uuid(u));
        }
        uuid_from_short(s).map(VideoRef::Uuid)
    }

    /// Unlisted videos may be fetched by anyone who has their UUID, not by their guessable id.
    pub fn is_uuid(&self) -> bool {
        matches!(self, VideoRef::Uuid(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_uuid_round_trips_and_has_peertube_length() {
        for _ in 0..200 {
            let u = Uuid::new_v4();
            let s = short_uuid(&u);
            assert_eq!(s.len(), 22);
            assert_eq!(uuid_from_short(&s), Some(u));
        }
    }

    #[test]
    fn short_uuid_matches_peertube_value() {
        // Values from the npm package short-uuid 4 (PeerTube's uuidToShort uses its default
        // translator, flickrBase58).
        let u = Uuid::parse_str("9c9de5e8-0a1e-484a-b099-e80766180a6d").unwrap();
        assert_eq!(short_uuid(&u), "kkGMgK9ZtnKfYAgnEtQxbv");
        assert_eq!(short_uuid(&Uuid::from_u128(1)), "1111111111111111111112");
    }

    #[test]
    fn parses_all_three_forms() {
        assert_eq!(VideoRef::parse("42"), Some(VideoRef::Id(42)));
        let u = Uuid::new_v4();
        assert_eq!(VideoRef::parse(&u.to_string()), Some(VideoRef::Uuid(u)));
        assert_eq!(VideoRef::parse(&short_uuid(&u)), Some(VideoRef::Uuid(u)));
        assert_eq!(VideoRef::parse("not a video!"), None);
        assert_eq!(VideoRef::parse(""), None);
    }
}
