//! How other servers find this node's actors: WebFinger, host-meta and nodeinfo 2.0.

use serde_json::{Value, json};
use thiserror::Error;

use crate::actors::instance_actor_url;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ResourceError {
    #[error("resource must be acct:name@host")]
    Malformed,
    #[error("resource is not an actor of this host")]
    OtherHost,
}

/// The actor name of a WebFinger resource `acct:name@host` whose host is ours (PeerTube
/// answers 400 for anything else).
pub fn acct_name<'a>(resource: &'a str, public_host: &str) -> Result<&'a str, ResourceError> {
    let handle = resource
        .strip_prefix("acct:")
        .ok_or(ResourceError::Malformed)?;
    let (name, host) = handle.split_once('@').ok_or(ResourceError::Malformed)?;
    if name.is_empty() || host.contains('@') {
        return Err(ResourceError::Malformed);
    }
    match same_host(host, public_host) {
        true => Ok(name),
        false => Err(ResourceError::OtherHost),
    }
}

/// Hosts compare without case and without the scheme's default port.
fn same_host(a: &str, b: &str) -> bool {
    let normal = |h: &str| {
        let h = h.to_ascii_lowercase();
        match h.strip_suffix(":443").or_else(|| h.strip_suffix(":80")) {
            Some(bare) => bare.to_string(),
            None => h,
        }
    };
    normal(a) == normal(b)
}

/// The WebFinger answer (JRD): the actor URL as alias and `self` link, and its HTML page.
pub fn webfinger(subject: &str, actor_url: &str, profile_page: Option<&str>) -> Value {
    let mut links = vec![json!({
        "rel": "self",
        "type": "application/activity+json",
        "href": actor_url,
    })];
    if let Some(page) = profile_page {
        links.push(json!({
            "rel": "http://webfinger.net/rel/profile-page",
            "type": "text/html",
            "href": page,
        }));
    }
    json!({ "subject": subject, "aliases": [actor_url], "links": links })
}

/// `/.well-known/host-meta`: where WebFinger is.
pub fn host_meta(base: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <XRD xmlns=\"http://docs.oasis-open.org/ns/xri/xrd-1.0\">\n  \
         <Link rel=\"lrdd\" type=\"application/xrd+xml\" template=\"{}/.well-known/webfinger?resource={{uri}}\"/>\n\
         </XRD>\n",
        xml_escape(base)
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `/.well-known/nodeinfo`: the 2.0 document, and the instance actor (how PeerTube finds a
/// host's server actor to follow it).
pub fn nodeinfo_links(base: &str) -> Value {
    json!({
        "links": [
            { "rel": "http://nodeinfo.diaspora.software/ns/schema/2.0", "href": format!("{base}/nodeinfo/2.0.json") },
            { "rel": "https://www.w3.org/ns/activitystreams#Application", "href": instance_actor_url(base) },
        ]
    })
}

pub const NODEINFO_CONTENT_TYPE: &str =
    "application/json; profile=\"http://nodeinfo.diaspora.software/ns/schema/2.0#\"";

/// What nodeinfo reports about the instance.
#[derive(Debug, Clone)]
pub struct NodeFacts {
    pub name: String,
    pub short_description: String,
    pub users: u64,
    pub local_videos: u64,
    pub tracker_enabled: bool,
    pub video_quota: i64,
    pub video_quota_daily: i64,
}

/// nodeinfo 2.0. The software is named for what it is, `peerbox`; the `metadata` carries
/// the PeerTube fields that directories and clients read (`taxonomy`, `nodeName`,
/// `nodeConfig`), with this node's values.
pub fn nodeinfo(facts: &NodeFacts) -> Value {
    json!({
        "version": "2.0",
        "software": { "name": "peerbox", "version": env!("CARGO_PKG_VERSION") },
        "protocols": ["activitypub"],
        "services": { "inbound": [], "outbound": ["atom1.0", "rss2.0"] },
        "openRegistrations": false,
        "usage": {
            "users": { "total": facts.users },
            "localPosts": facts.local_videos,
            "localComments": 0,
        },
        "metadata": {
            "taxonomy": { "postsName": "Videos" },
            "nodeName": facts.name,
            "nodeDescription": facts.short_description,
            "nodeConfig": {
                "search": { "remoteUri": { "users": true, "anonymous": false } },
                "plugin": { "registered": [] },
                "theme": { "registered": [], "default": "default" },
                "email": { "enabled": false },
                "contactForm": { "enabled": false },
                "transcoding": {
                    "hls": { "enabled": true },
                    "web_videos": { "enabled": false },
                    "enabledResolutions": [144, 240, 360, 480, 720, 1080],
                },
                "live": { "enabled": false, "transcoding": { "enabled": false, "enabledResolutions": [] } },
                "import": { "videos": { "http": { "enabled": false }, "torrent": { "enabled": false } } },
                "autoBlacklist": { "videos": { "ofUsers": { "enabled": false } } },
                "user": { "videoQuota": facts.video_quota, "videoQuotaDaily": facts.video_quota_daily },
                "tracker": { "enabled": facts.tracker_enabled },
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources() {
        assert_eq!(
            acct_name("acct:alice@box.example", "box.example"),
            Ok("alice")
        );
        assert_eq!(
            acct_name("acct:alice@BOX.example:443", "box.example"),
            Ok("alice")
        );
        assert_eq!(
            acct_name("acct:alice@127.0.0.1:9000", "127.0.0.1:9000"),
            Ok("alice")
        );
        assert_eq!(
            acct_name("acct:alice@127.0.0.1:9001", "127.0.0.1:9000"),
            Err(ResourceError::OtherHost)
        );
        for bad in [
            "alice@box.example",
            "acct:alice",
            "acct:@box.example",
            "acct:a@b@box.example",
            "",
        ] {
            assert_eq!(
                acct_name(bad, "box.example"),
                Err(ResourceError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn documents() {
        let wf = webfinger(
            "acct:alice@box.example",
            "https://box.example/accounts/alice",
            Some("https://box.example/a/alice"),
        );
        assert_eq!(wf["links"][0]["rel"], "self");
        assert_eq!(wf["links"][0]["type"], "application/activity+json");
        assert_eq!(wf["links"][0]["href"], "https://box.example/accounts/alice");
        assert_eq!(
            wf["links"][1]["rel"],
            "http://webfinger.net/rel/profile-page"
        );
        assert_eq!(wf["aliases"][0], "https://box.example/accounts/alice");
        let xml = host_meta("https://box.example");
        assert!(
            xml.contains("template=\"https://box.example/.well-known/webfinger?resource={uri}\"")
        );
        let links = nodeinfo_links("https://box.example");
        assert_eq!(
            links["links"][0]["href"],
            "https://box.example/nodeinfo/2.0.json"
        );
        assert_eq!(
            links["links"][1]["href"],
            "https://box.example/accounts/peertube"
        );
    }
}
