//! JSON-LD keywords that let a payload say one thing to a JSON reader and another to a
//! JSON-LD processor (the signature check compacts the document, the handlers read it as
//! JSON). PeerTube rejects payloads that use `@graph`, `@reverse` or `@included`.

use serde_json::Value;

const FORBIDDEN: [&str; 3] = ["@graph", "@reverse", "@included"];

/// The keyword found, if any: as a key anywhere, or as a string value anywhere (a context
/// can alias a term to the keyword, e.g. `{"@context": {"g": "@graph"}}`).
pub fn forbidden_keyword(document: &Value) -> Option<&'static str> {
    let matching = |s: &str| FORBIDDEN.into_iter().find(|k| *k == s);
    // Iterative, so a deeply nested document cannot exhaust the stack.
    let mut stack = vec![document];
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    if let Some(k) = matching(key) {
                        return Some(k);
                    }
                    stack.push(child);
                }
            }
            Value::Array(items) => stack.extend(items),
            Value::String(s) => {
                if let Some(k) = matching(s) {
                    return Some(k);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plain_activities_pass() {
        let follow = json!({
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1",
                         {"RsaSignature2017": "https://w3id.org/security#RsaSignature2017"}],
            "type": "Follow",
            "id": "https://a.example/follows/1",
            "actor": "https://a.example/accounts/peertube",
            "object": "https://b.example/accounts/peertube",
            "content": "talks about @graph theory in prose",
        });
        assert_eq!(forbidden_keyword(&follow), None);
    }

    #[test]
    fn each_keyword_is_found_anywhere() {
        for keyword in FORBIDDEN {
            let top = json!({ "type": "Create", keyword: [] });
            assert_eq!(forbidden_keyword(&top), Some(keyword));
            let nested =
                json!({ "type": "Create", "object": { "tag": [ { "a": { keyword: {} } } ] } });
            assert_eq!(forbidden_keyword(&nested), Some(keyword));
            let aliased = json!({ "@context": [ { "x": keyword } ], "x": [] });
            assert_eq!(forbidden_keyword(&aliased), Some(keyword));
            let in_array = json!([1, [2, { keyword: null }]]);
            assert_eq!(forbidden_keyword(&in_array), Some(keyword));
        }
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let mut deep = json!({"@included": 1});
        for _ in 0..100_000 {
            deep = Value::Array(vec![deep]);
        }
        assert_eq!(forbidden_keyword(&deep), Some("@included"));
        // Dropping a deeply nested Value recurses; keep it alive past the test's stack.
        std::mem::forget(deep);
    }
}
