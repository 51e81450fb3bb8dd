//! ActivityPub documents of local actors, in PeerTube's shapes and at PeerTube's URLs:
//! the instance `Application` at `/accounts/peertube`, accounts as `Person` at
//! `/accounts/{name}`, channels as `Group` at `/video-channels/{name}`, and their
//! collections.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

pub use peerbox_catalog::INSTANCE_ACTOR_NAME;

/// PeerTube's base `@context`: ActivityStreams, the security vocabulary and RsaSignature2017.
fn base_context() -> Vec<Value> {
    vec![
        json!("https://www.w3.org/ns/activitystreams"),
        json!("https://w3id.org/security/v1"),
        json!({ "RsaSignature2017": "https://w3id.org/security#RsaSignature2017" }),
    ]
}

/// PeerTube's context for actors: the base plus its actor terms.
pub fn actor_context() -> Value {
    let mut context = base_context();
    context.push(json!({
        "pt": "https://joinpeertube.org/ns#",
        "sc": "http://schema.org/",
        "playerSettings": "pt:playerSettings",
        "playlists": { "@id": "pt:playlists", "@type": "@id" },
        "support": { "@type": "sc:Text", "@id": "pt:support" },
        "lemmy": "https://join-lemmy.org/ns#",
        "postingRestrictedToMods": "lemmy:postingRestrictedToMods",
        "toot": "http://joinmastodon.org/ns#",
        "indexable": "toot:indexable",
        "discoverable": "toot:discoverable",
        "email": "sc:email",
    }));
    Value::Array(context)
}

/// PeerTube's context for collections: the base only.
pub fn collection_context() -> Value {
    Value::Array(base_context())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    /// The instance (PeerTube's server actor).
    Application,
    /// An account.
    Person,
    /// A channel.
    Group,
}

impl ActorKind {
    fn as_str(self) -> &'static str {
        match self {
            ActorKind::Application => "Application",
            ActorKind::Person => "Person",
            ActorKind::Group => "Group",
        }
    }
}

pub fn account_url(base: &str, name: &str) -> String {
    format!("{base}/accounts/{name}")
}

pub fn channel_url(base: &str, name: &str) -> String {
    format!("{base}/video-channels/{name}")
}

pub fn instance_actor_url(base: &str) -> String {
    account_url(base, INSTANCE_ACTOR_NAME)
}

/// An actor's avatar, as an absolute URL and its media type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Icon {
    pub url: String,
    pub media_type: &'static str,
}

impl Icon {
    /// The avatar file the web pages serve at `/web/avatars/{file}`.
    pub fn avatar(base: &str, file: &str) -> Icon {
        let media_type = match file
            .rsplit('.')
            .next()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("png") => "image/png",
            Some("webp") => "image/webp",
            Some("gif") => "image/gif",
            _ => "image/jpeg",
        };
        Icon {
            url: format!("{base}/web/avatars/{file}"),
            media_type,
        }
    }
}

/// What an actor document is made of.
#[derive(Debug, Clone)]
pub struct Actor {
    pub kind: ActorKind,
    /// `preferredUsername`.
    pub name: String,
    pub display_name: String,
    pub summary: Option<String>,
    /// Channels only (PeerTube's support text).
    pub support: Option<String>,
    pub published: DateTime<Utc>,
    pub icon: Option<Icon>,
    /// Channels: the owning account's actor URL.
    pub owner: Option<String>,
    pub public_key_pem: String,
}

impl Actor {
    /// The actor's id.
    pub fn url(&self, base: &str) -> String {
        match self.kind {
            ActorKind::Group => channel_url(base, &self.name),
            _ => account_url(base, &self.name),
        }
    }

    /// The JSON-LD document, with PeerTube's fields and `@context`.
    pub fn document(&self, base: &str) -> Value {
        let id = self.url(base);
        let mut doc = Map::new();
        doc.insert("@context".into(), actor_context());
        doc.insert("type".into(), json!(self.kind.as_str()));
        doc.insert("id".into(), json!(id));
        doc.insert("following".into(), json!(format!("{id}/following")));
        doc.insert("followers".into(), json!(format!("{id}/followers")));
        doc.insert("playlists".into(), json!(format!("{id}/playlists")));
        doc.insert("inbox".into(), json!(format!("{id}/inbox")));
        doc.insert("outbox".into(), json!(format!("{id}/outbox")));
        doc.insert("preferredUsername".into(), json!(self.name));
        doc.insert("url".into(), json!(self.html_links(base, &id)));
        doc.insert("name".into(), json!(self.display_name));
        doc.insert(
            "endpoints".into(),
            json!({ "sharedInbox": format!("{base}/inbox") }),
        );
        doc.insert(
            "publicKey".into(),
            json!({
                "id": format!("{id}#main-key"),
                "owner": id,
                "publicKeyPem": self.public_key_pem,
            }),
        );
        doc.insert(
            "published".into(),
            json!(self.published.to_rfc3339_opts(SecondsFormat::Millis, true)),
        );
        if let Some(icon) = &self.icon {
            doc.insert(
                "icon".into(),
                json!([{ "type": "Image", "mediaType": icon.media_type, "url": icon.url }]),
            );
        }
        doc.insert("summary".into(), json!(self.summary));
        if self.kind == ActorKind::Group {
            doc.insert("support".into(), json!(self.support));
            doc.insert("postingRestrictedToMods".into(), json!(true));
            doc.insert("attributedTo".into(), json!([self.owner]));
        }
        Value::Object(doc)
    }

    /// PeerTube lists the actor's pages: `/a/{name}/video-channels` and `/a/{name}` for
    /// accounts, `/c/{name}/videos` and `/c/{name}` for channels, then the actor URL.
    fn html_links(&self, base: &str, id: &str) -> Vec<Value> {
        let (short, suffix) = match self.kind {
            ActorKind::Group => ("c", "/videos"),
            _ => ("a", "/video-channels"),
        };
        let short = format!("{base}/{short}/{}", self.name);
        [format!("{short}{suffix}"), short, id.to_string()]
            .into_iter()
            .map(|href| json!({ "type": "Link", "mediaType": "text/html", "href": href }))
            .collect()
    }
}

/// PeerTube's paging of collections (10 items a page): without `page`, the collection with
/// its `totalItems` and, when it has items, the URL of its `first` page; with `page`, that
/// page.
pub fn collection(id: &str, items: &[Value], page: Option<u64>) -> Value {
    const PAGE_SIZE: usize = 10;
    let total = items.len();
    let mut doc = Map::new();
    doc.insert("@context".into(), collection_context());
    match page {
        None => {
            doc.insert("id".into(), json!(id));
            doc.insert("type".into(), json!("OrderedCollection"));
            doc.insert("totalItems".into(), json!(total));
            if total > 0 {
                doc.insert("first".into(), json!(format!("{id}?page=1")));
            }
        }
        Some(page) => {
            let page = page.max(1);
            let start = usize::try_from(page - 1)
                .unwrap_or(usize::MAX)
                .saturating_mul(PAGE_SIZE);
            let shown: Vec<&Value> = items.iter().skip(start).take(PAGE_SIZE).collect();
            doc.insert("id".into(), json!(format!("{id}?page={page}")));
            doc.insert("type".into(), json!("OrderedCollectionPage"));
            if page > 1 {
                doc.insert("prev".into(), json!(format!("{id}?page={}", page - 1)));
            }
            if total > start.saturating_add(PAGE_SIZE) {
                doc.insert("next".into(), json!(format!("{id}?page={}", page + 1)));
            }
            doc.insert("partOf".into(), json!(id));
            doc.insert("orderedItems".into(), json!(shown));
            doc.insert("totalItems".into(), json!(total));
        }
    }
    Value::Object(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://box.example";

    fn channel() -> Actor {
        Actor {
            kind: ActorKind::Group,
            name: "alice_channel".into(),
            display_name: "Main alice channel".into(),
            summary: None,
            support: Some("Thanks".into()),
            published: DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
                .expect("date")
                .with_timezone(&Utc),
            icon: Some(Icon::avatar(BASE, "x.png")),
            owner: Some(account_url(BASE, "alice")),
            public_key_pem: "PEM".into(),
        }
    }

    #[test]
    fn a_channel_is_a_group_attributed_to_its_account() {
        let doc = channel().document(BASE);
        let id = "https://box.example/video-channels/alice_channel";
        assert_eq!(doc["type"], "Group");
        assert_eq!(doc["id"], id);
        assert_eq!(doc["preferredUsername"], "alice_channel");
        assert_eq!(doc["name"], "Main alice channel");
        assert_eq!(doc["inbox"], format!("{id}/inbox"));
        assert_eq!(doc["outbox"], format!("{id}/outbox"));
        assert_eq!(doc["followers"], format!("{id}/followers"));
        assert_eq!(doc["following"], format!("{id}/following"));
        assert_eq!(doc["playlists"], format!("{id}/playlists"));
        assert_eq!(doc["endpoints"]["sharedInbox"], "https://box.example/inbox");
        assert_eq!(doc["publicKey"]["id"], format!("{id}#main-key"));
        assert_eq!(doc["publicKey"]["owner"], id);
        assert_eq!(doc["publicKey"]["publicKeyPem"], "PEM");
        assert_eq!(doc["published"], "2026-01-02T03:04:05.000Z");
        assert_eq!(
            doc["attributedTo"],
            json!(["https://box.example/accounts/alice"])
        );
        assert_eq!(doc["support"], "Thanks");
        assert_eq!(
            doc["url"][0]["href"],
            "https://box.example/c/alice_channel/videos"
        );
        assert_eq!(doc["url"][2]["href"], id);
        assert_eq!(
            doc["icon"],
            json!([{ "type": "Image", "mediaType": "image/png", "url": "https://box.example/web/avatars/x.png" }])
        );
        assert_eq!(doc["@context"][0], "https://www.w3.org/ns/activitystreams");
        assert_eq!(doc["@context"][3]["pt"], "https://joinpeertube.org/ns#");
    }

    #[test]
    fn accounts_and_the_instance_are_not_groups() {
        let mut actor = channel();
        actor.kind = ActorKind::Person;
        actor.name = "alice".into();
        actor.icon = None;
        let doc = actor.document(BASE);
        assert_eq!(doc["type"], "Person");
        assert_eq!(doc["id"], "https://box.example/accounts/alice");
        assert_eq!(
            doc["url"][0]["href"],
            "https://box.example/a/alice/video-channels"
        );
        assert!(doc.get("attributedTo").is_none());
        assert!(doc.get("icon").is_none());
        assert!(doc.get("summary").is_some_and(Value::is_null));
        actor.kind = ActorKind::Application;
        actor.name = INSTANCE_ACTOR_NAME.into();
        let doc = actor.document(BASE);
        assert_eq!(doc["type"], "Application");
        assert_eq!(doc["id"], instance_actor_url(BASE));
    }

    #[test]
    fn collections_page_like_peertube() {
        let empty = collection("https://b.example/accounts/a/followers", &[], None);
        assert_eq!(empty["type"], "OrderedCollection");
        assert_eq!(empty["totalItems"], 0);
        assert!(empty.get("first").is_none());
        assert_eq!(empty["@context"].as_array().map(Vec::len), Some(3));
        let items: Vec<Value> = (0..25).map(|i| json!(format!("https://x/{i}"))).collect();
        let root = collection("https://b/c", &items, None);
        assert_eq!(root["first"], "https://b/c?page=1");
        assert_eq!(root["totalItems"], 25);
        let second = collection("https://b/c", &items, Some(2));
        assert_eq!(second["type"], "OrderedCollectionPage");
        assert_eq!(second["id"], "https://b/c?page=2");
        assert_eq!(second["partOf"], "https://b/c");
        assert_eq!(second["prev"], "https://b/c?page=1");
        assert_eq!(second["next"], "https://b/c?page=3");
        assert_eq!(second["orderedItems"][0], "https://x/10");
        let last = collection("https://b/c", &items, Some(3));
        assert!(last.get("next").is_none());
        assert_eq!(last["orderedItems"].as_array().map(Vec::len), Some(5));
        let beyond = collection("https://b/c", &items, Some(u64::MAX));
        assert_eq!(beyond["orderedItems"], json!([]));
    }
}
