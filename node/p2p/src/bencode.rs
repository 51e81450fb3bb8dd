//! The few bencode writers a metainfo file needs. Dictionaries are written by the caller in
//! sorted key order, as the format requires.

pub(crate) fn bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(b);
}

pub(crate) fn int(out: &mut Vec<u8>, i: i64) {
    out.push(b'i');
    out.extend_from_slice(i.to_string().as_bytes());
    out.push(b'e');
}

pub(crate) fn str_list(out: &mut Vec<u8>, items: &[String]) {
    out.push(b'l');
    for s in items {
        bytes(out, s.as_bytes());
    }
    out.push(b'e');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_the_spec() {
        let mut out = Vec::new();
        out.push(b'd');
        bytes(&mut out, b"a");
        int(&mut out, -3);
        bytes(&mut out, b"b");
        str_list(&mut out, &["spam".into(), "".into()]);
        out.push(b'e');
        assert_eq!(out, b"d1:ai-3e1:bl4:spam0:ee");
    }
}
