//! The web interface over plain HTTP: the pages show exactly what the API lets each viewer
//! see, unknown ids get a 404 page, markup that users typed stays text (pages, embed,
//! oEmbed, feeds), feeds parse with a real parser (Python's feedparser) and carry the video
//! as an enclosure, oEmbed answers as PeerTube does, and only the embed may be framed.

use std::process::Command;

use peerbox_e2e::*;
use reqwest::StatusCode;
use reqwest::blocking::Response;
use reqwest::header::{CONTENT_TYPE, LOCATION};
use serde_json::{Value, json};

/// A title and description that would run script if any page put them in as markup.
const XSS_TITLE: &str = r#"<script>alert("title")</script><img src=x onerror=alert("img")>"#;
const XSS_DESCRIPTION: &str = "**Bold** <script>alert('description')</script> \
    <img src=x onerror=alert('img')> [click me](javascript:alert('link')) <svg onload=alert('svg')>";

/// A page as a browser gets it: with the session cookie when signed in.
fn page(node: &Node, path: &str, cookie: Option<&str>) -> Response {
    let rb = node.req(reqwest::Method::GET, path, None);
    send(match cookie {
        Some(c) => rb.header("Cookie", c),
        None => rb,
    })
}

#[track_caller]
fn page_text(node: &Node, path: &str, cookie: Option<&str>) -> String {
    let resp = page(node, path, cookie);
    let status = resp.status();
    let text = resp.text().unwrap_or_default();
    assert_eq!(status, StatusCode::OK, "GET {path}: {text}");
    text
}

fn upload(node: &Node, who: &Account, name: &str, privacy: &str, extra: &[(&str, &str)]) -> Value {
    let dir = tempfile::tempdir().expect("temp dir");
    let clip = make_clip(dir.path(), "clip.mp4");
    let channel = who.channel_id.to_string();
    let mut fields = vec![
        ("name", name),
        ("channelId", channel.as_str()),
        ("privacy", privacy),
        ("waitTranscoding", "false"),
    ];
    fields.extend_from_slice(extra);
    node.upload_ok(&who.token, &fields, &clip)
}

/// Parses feeds with real parsers: Python's feedparser for RSS and Atom, jsonfeed-util for
/// JSON Feed (feedparser has none). Returns, per feed, what a feed reader sees: entries with
/// their HTML and plain-text fields apart, and their enclosures.
fn parse_feeds(urls: &[String]) -> Vec<Value> {
    // HTML is kept as sent (no sanitising), so the test sees what the node wrote.
    const SCRIPT: &str = r#"
import json, sys, urllib.request
from html.parser import HTMLParser
import feedparser, jsonfeed

class Markup(HTMLParser):
    """The elements and attributes an HTML field really contains."""
    def __init__(self, html):
        super().__init__()
        self.tags, self.attrs = [], []
        self.feed(html)
    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += ["%s=%s" % (k, v) for k, v in attrs]

def markup(html):
    found = [Markup(h) for h in html]
    return {"tags": [t for m in found for t in m.tags], "attrs": [a for m in found for a in m.attrs]}

def fields(e):
    details = [e.get("summary_detail")] + list(e.get("content", []))
    html = [d["value"] for d in details if d and d.get("type") == "text/html"]
    text = [d["value"] for d in details if d and d.get("type") != "text/html"]
    return html, text

def with_feedparser(url):
    d = feedparser.parse(url, sanitize_html=False, resolve_relative_uris=False)
    entries = []
    for e in d.entries:
        html, text = fields(e)
        entries.append({
            "title": e.get("title"), "link": e.get("link"), "id": e.get("id"),
            "html": html, "text": text, "markup": markup(html),
            "enclosures": [{"href": x.get("href"), "type": x.get("type"), "length": x.get("length")}
                           for x in e.get("enclosures", [])],
        })
    return {"version": d.get("version", ""), "bozo": bool(d.get("bozo")),
            "problem": str(d.get("bozo_exception", "")), "title": d.feed.get("title"), "entries": entries}

def size(a):
    # jsonfeed-util 1.2.0 wraps size_in_bytes in a tuple.
    s = a.size_in_bytes
    return s[0] if isinstance(s, tuple) else s

def with_jsonfeed(url):
    try:
        f = jsonfeed.Feed.parse_string(urllib.request.urlopen(url).read().decode("utf-8"))
    except Exception as e:
        return {"version": "", "bozo": True, "problem": repr(e), "entries": []}
    return {"version": "json", "bozo": False, "problem": "", "title": f.title, "entries": [{
        "title": i.title, "link": i.url, "id": i.id,
        "html": [i.content_html or ""], "text": [i.summary or ""], "markup": markup([i.content_html or ""]),
        "enclosures": [{"href": a.url, "type": a.mime_type, "length": size(a)} for a in i.attachments],
    } for i in f.items]}

print(json.dumps([with_jsonfeed(u) if ".json" in u else with_feedparser(u) for u in sys.argv[1:]]))
"#;
    // The venv `just deps` makes with the pinned parsers.
    let python =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-python/bin/python3");
    let out = Command::new(python)
        .arg("-c")
        .arg(SCRIPT)
        .args(urls)
        .output()
        .expect("running python3 (install feedparser and jsonfeed-util with `just deps`)");
    assert!(
        out.status.success(),
        "the feed parsers failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the parsers' report is JSON")
}

fn entry_titles(feed: &Value) -> Vec<String> {
    feed["entries"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter_map(|x| x["title"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn unknown_ids_get_a_404_page() {
    let node = Node::start();
    let unknown = "9c9de5e8-0a1e-484a-b099-e80766180a6d";
    for path in [
        "/w/kkGMgK9ZtnKfYAgnEtQxbv".to_string(),
        format!("/videos/watch/{unknown}"),
        "/w/not-a-video!".to_string(),
        "/c/nobody_channel".to_string(),
        "/a/nobody".to_string(),
        "/no/such/page".to_string(),
        "/feeds/videos.xml?videoChannelName=nobody".to_string(),
    ] {
        let resp = page(&node, &path, None);
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "GET {path}");
        let ctype = resp.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap_or("")
            .to_string();
        assert!(ctype.starts_with("text/html"), "GET {path}: {ctype}");
        let text = resp.text().unwrap_or_default();
        assert!(
            text.contains("<h1>Page not found</h1>"),
            "GET {path}: {text}"
        );
        assert!(
            text.contains("href=\"/\""),
            "the 404 page leads home: {text}"
        );
    }
    let resp = page(&node, &format!("/videos/embed/{unknown}"), None);
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert!(
        resp.text()
            .unwrap_or_default()
            .contains("This video does not exist.")
    );
}

/// For each video and viewer, the watch page answers as the API does: 200 where the API
/// shows the video, the sign-in page where it asks for authentication, 403 where it
/// refuses; lists and feeds show exactly the videos the API lists.
#[test]
fn pages_show_what_the_api_shows() {
    let node = Node::start();
    let alice = node.create_account("alice", -1, -1);
    let bob = node.create_account("bob", -1, -1);
    let videos: Vec<(&str, Value)> = [
        ("Public film", "1"),
        ("Unlisted film", "2"),
        ("Private film", "3"),
        ("Internal film", "4"),
    ]
    .iter()
    .map(|(name, privacy)| (*name, upload(&node, &alice, name, privacy, &[])))
    .collect();
    let alice_cookie = node.page_login("alice", &alice.password);
    let bob_cookie = node.page_login("bob", &bob.password);
    let viewers = [
        ("anonymous", None, None),
        ("bob", Some(bob.token.as_str()), Some(bob_cookie.as_str())),
        (
            "alice",
            Some(alice.token.as_str()),
            Some(alice_cookie.as_str()),
        ),
    ];
    let mut checks = Checks::default();
    for (name, video) in &videos {
        let short = video["shortUUID"].as_str().expect("shortUUID");
        let uuid = video["uuid"].as_str().expect("uuid");
        for (who, token, cookie) in &viewers {
            let api = node.get(&format!("/api/v1/videos/{uuid}"), *token).status();
            for path in [format!("/w/{short}"), format!("/videos/watch/{uuid}")] {
                let resp = page(&node, &path, *cookie);
                let got = resp.status();
                let location = resp
                    .headers()
                    .get(LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                let body = resp.text().unwrap_or_default();
                let ok = match api {
                    StatusCode::OK => {
                        got == StatusCode::OK && body.contains(&format!("<h1>{name}</h1>"))
                    }
                    StatusCode::UNAUTHORIZED => {
                        got == StatusCode::SEE_OTHER && location.starts_with("/login?redirect=")
                    }
                    StatusCode::FORBIDDEN => got == StatusCode::FORBIDDEN && !body.contains(name),
                    other => {
                        checks.fail(format!("API answered {other} for {name} to {who}"));
                        true
                    }
                };
                if !ok {
                    checks.fail(format!(
                        "{who} on {path} ({name}): the API answers {api}, the page {got} {location}"
                    ));
                }
            }
        }
    }
    // Lists: what the API lists for each viewer, no more.
    for (who, token, cookie) in &viewers {
        let listed: Vec<String> = node.get_json("/api/v1/videos?count=100", *token)["data"]
            .as_array()
            .expect("data")
            .iter()
            .filter_map(|v| v["name"].as_str().map(str::to_string))
            .collect();
        for path in ["/", "/search?search=film", "/c/alice_channel", "/a/alice"] {
            let text = page_text(&node, path, *cookie);
            for (name, _) in &videos {
                let shown = text.contains(&format!(">{name}</a>"));
                if shown != listed.contains(&name.to_string()) {
                    checks.fail(format!(
                        "{who} on {path}: {name} shown={shown}, listed by the API={}",
                        !shown
                    ));
                }
            }
        }
    }
    // Feeds are anonymous: the public video only.
    let feed = page_text(&node, "/feeds/videos.xml", None);
    for (name, _) in &videos {
        if feed.contains(name) != (*name == "Public film") {
            checks.fail(format!("the feed and {name}"));
        }
    }
    // The embed of a private video asks to sign in rather than showing it.
    let private = videos[2].1["uuid"].as_str().expect("uuid");
    let resp = page(&node, &format!("/videos/embed/{private}"), None);
    if resp.status() != StatusCode::UNAUTHORIZED {
        checks.fail(format!("embed of a private video: {}", resp.status()));
    }
    checks.assert_all_passed();
}

#[test]
fn payloads_are_text_in_pages_oembed_and_feeds() {
    let node = Node::start();
    let mallory = node.create_account("mallory", -1, -1);
    expect_json(
        send(
            node.req(reqwest::Method::PUT, "/api/v1/video-channels/mallory_channel", Some(&mallory.token))
                .json(&json!({ "displayName": "<svg onload=alert('c')>", "description": "<script>alert('channel')</script>" })),
        ),
        StatusCode::NO_CONTENT,
    );
    let v = upload(
        &node,
        &mallory,
        XSS_TITLE,
        "1",
        &[("description", XSS_DESCRIPTION), ("tags[]", "<b>tag</b>")],
    );
    let (uuid, short) = (
        v["uuid"].as_str().expect("uuid"),
        v["shortUUID"].as_str().expect("shortUUID"),
    );
    let cookie = node.page_login("mallory", &mallory.password);
    let raw_markup = [
        "<script>alert",
        "<img src=x",
        "<svg onload",
        "href=\"javascript:",
        "<b>tag",
        "onerror=alert(\"img\")>",
    ];
    let mut checks = Checks::default();
    for path in peerbox_e2e::pages_showing_mallorys_video(uuid, short) {
        let text = page_text(&node, &path, Some(&cookie));
        for bad in raw_markup {
            if text.contains(bad) {
                checks.fail(format!("{path} contains raw markup {bad:?}"));
            }
        }
        if !text.contains("&lt;script&gt;alert(&quot;title&quot;)&lt;/script&gt;") {
            checks.fail(format!("{path} does not show the title as text"));
        }
    }
    // The description's markdown still renders; its HTML is shown as text.
    let watch = page_text(&node, &format!("/w/{short}"), None);
    assert!(watch.contains("<strong>Bold</strong>"), "{watch}");
    assert!(
        watch.contains("&lt;script&gt;alert('description')&lt;/script&gt;")
            || watch.contains("&lt;script&gt;alert(&#39;description&#39;)"),
        "{watch}"
    );
    assert!(watch.contains("click me"), "the unsafe link keeps its text");

    // oEmbed: the title is an escaped attribute of the one iframe.
    let watch_url = node.url(&format!("/w/{short}"));
    let o = node.get_json(
        &format!("/services/oembed?url={}", urlencode(&watch_url)),
        None,
    );
    let html = o["html"].as_str().expect("html");
    assert!(
        html.starts_with("<iframe ") && html.ends_with("></iframe>"),
        "{html}"
    );
    assert_eq!(
        html.matches('<').count(),
        2,
        "one iframe and nothing else: {html}"
    );
    assert!(
        html.contains("title=\"&lt;script&gt;alert(&quot;title&quot;)"),
        "{html}"
    );
    assert_eq!(o["title"], XSS_TITLE, "the JSON title is the plain text");

    // Feeds: a feed reader gets the title as text and the description without script.
    let feeds: Vec<String> = ["xml", "atom", "json"]
        .iter()
        .map(|f| node.url(&format!("/feeds/videos.{f}")))
        .collect();
    for (feed, url) in parse_feeds(&feeds).iter().zip(&feeds) {
        assert!(
            !feed["bozo"].as_bool().unwrap_or(true),
            "{url}: {}",
            feed["problem"]
        );
        let entry = &feed["entries"][0];
        assert_eq!(entry["title"], XSS_TITLE, "{url}");
        // Plain-text fields may show the typed markup as text; HTML ones must not carry it.
        let html = entry["html"].to_string();
        let markup = &entry["markup"];
        for tag in markup["tags"].as_array().into_iter().flatten() {
            assert!(
                [
                    "p", "strong", "em", "a", "ul", "ol", "li", "code", "pre", "br"
                ]
                .contains(&tag.as_str().unwrap_or("")),
                "{url}: the description has a <{tag}> element: {html}"
            );
        }
        for attr in markup["attrs"].as_array().into_iter().flatten() {
            let attr = attr.as_str().unwrap_or("").to_lowercase();
            assert!(
                !attr.starts_with("on") && !attr.contains("javascript:"),
                "{url}: the description has the attribute {attr}: {html}"
            );
        }
        assert!(
            markup["tags"].to_string().contains("strong"),
            "{url}: markdown is rendered: {html}"
        );
        assert!(html.contains("Bold"), "{url}: {html}");
    }
    checks.assert_all_passed();
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn feeds_parse_with_feedparser_and_carry_enclosures() {
    let node = Node::start();
    let alice = node.create_account("alice", -1, -1);
    let bob = node.create_account("bob", -1, -1);
    let film = upload(
        &node,
        &alice,
        "Garden in spring",
        "1",
        &[("description", "Tulips and *bees*."), ("tags[]", "garden")],
    );
    upload(&node, &bob, "Bob's bicycle", "1", &[]);
    let alice_account = node.get_json("/api/v1/accounts/alice", None)["id"]
        .as_u64()
        .expect("account id");
    let queries = [
        "".to_string(),
        "?accountName=alice".to_string(),
        format!("?accountId={alice_account}"),
        "?videoChannelName=alice_channel".to_string(),
        format!("?videoChannelId={}", alice.channel_id),
    ];
    let mut urls = Vec::new();
    for q in &queries {
        for f in ["xml", "rss", "atom", "json"] {
            urls.push(node.url(&format!("/feeds/videos.{f}{q}")));
        }
    }
    let feeds = parse_feeds(&urls);
    let uuid = film["uuid"].as_str().expect("uuid");
    for (feed, url) in feeds.iter().zip(&urls) {
        assert!(
            !feed["bozo"].as_bool().unwrap_or(true),
            "{url}: {}",
            feed["problem"]
        );
        let expected_version = if url.contains(".json") {
            "json"
        } else if url.contains(".atom") {
            "atom10"
        } else {
            "rss20"
        };
        assert!(
            feed["version"]
                .as_str()
                .unwrap_or("")
                .starts_with(expected_version),
            "{url}: {}",
            feed["version"]
        );
        let titles = entry_titles(feed);
        assert!(
            titles.contains(&"Garden in spring".to_string()),
            "{url}: {titles:?}"
        );
        let only_alice = url.contains('?');
        assert_eq!(
            titles.contains(&"Bob's bicycle".to_string()),
            !only_alice,
            "{url}: {titles:?}"
        );
        let entry = feed["entries"]
            .as_array()
            .and_then(|e| e.iter().find(|e| e["title"] == "Garden in spring"))
            .expect("the entry");
        assert_eq!(
            entry["link"],
            node.url(&format!(
                "/w/{}",
                film["shortUUID"].as_str().unwrap_or_default()
            )),
            "{url}"
        );
        let enclosure = &entry["enclosures"][0];
        let href = enclosure["href"]
            .as_str()
            .unwrap_or_else(|| panic!("{url}: no enclosure in {entry}"));
        assert!(href.contains(uuid), "{url}: enclosure {href}");
        assert!(
            enclosure["type"]
                .as_str()
                .unwrap_or("")
                .starts_with("video/"),
            "{url}: {enclosure}"
        );
        // A podcast app downloads the enclosure: it is the video file, of the length given.
        let bytes = node.download(href, None);
        assert_eq!(
            enclosure["length"]
                .as_str()
                .and_then(|l| l.parse::<usize>().ok())
                .or(enclosure["length"].as_u64().map(|l| l as usize)),
            Some(bytes.len()),
            "{url}: enclosure length"
        );
    }
    // Channel and account pages link their feeds.
    for (path, query) in [
        (
            "/c/alice_channel",
            format!("videoChannelId={}", alice.channel_id),
        ),
        ("/a/alice", format!("accountId={alice_account}")),
    ] {
        let text = page_text(&node, path, None);
        assert!(
            text.contains("type=\"application/rss+xml\" title=\"")
                && text.contains(&format!("/feeds/videos.xml?{query}")),
            "{path} links its feed"
        );
    }
}

#[test]
fn oembed_and_link_previews() {
    let node = Node::start();
    let alice = node.create_account("alice", -1, -1);
    let v = upload(
        &node,
        &alice,
        "Choir rehearsal",
        "1",
        &[("description", "The *spring* concert.")],
    );
    let short = v["shortUUID"].as_str().expect("shortUUID");
    let uuid = v["uuid"].as_str().expect("uuid");
    let watch_url = node.url(&format!("/w/{short}"));
    let page = page_text(&node, &format!("/w/{short}"), None);
    let discovery = format!(
        "<link rel=\"alternate\" type=\"application/json+oembed\" title=\"Choir rehearsal\" href=\"{}\">",
        node.url(&format!("/services/oembed?url={}", urlencode(&watch_url)))
    );
    assert!(
        page.contains(&discovery),
        "no oEmbed discovery link like {discovery}"
    );
    for tag in [
        "<meta property=\"og:title\" content=\"Choir rehearsal\">".to_string(),
        "<meta property=\"og:type\" content=\"video.other\">".to_string(),
        format!("<meta property=\"og:url\" content=\"{watch_url}\">"),
        "<meta property=\"og:description\" content=\"The spring concert.\">".to_string(),
        format!(
            "<meta name=\"twitter:player\" content=\"{}\">",
            node.url(&format!("/videos/embed/{uuid}"))
        ),
        "<meta name=\"twitter:card\" content=\"player\">".to_string(),
    ] {
        assert!(page.contains(&tag), "the watch page lacks {tag}");
    }

    let o = node.get_json(
        &format!("/services/oembed?url={}", urlencode(&watch_url)),
        None,
    );
    assert_eq!(o["type"], "video");
    assert_eq!(o["version"], "1.0");
    assert_eq!(o["title"], "Choir rehearsal");
    assert_eq!(o["width"], 560);
    assert_eq!(o["height"], 315);
    assert_eq!(o["author_name"], "Main alice channel");
    let author_page = page_text(&node, o["author_url"].as_str().expect("author_url"), None);
    assert!(
        author_page.contains("<h1>Main alice channel</h1>"),
        "author_url leads to the channel page"
    );
    assert_eq!(o["provider_name"], "PeerTube");
    assert_eq!(o["provider_url"], node.base_url());
    let html = o["html"].as_str().expect("html");
    assert!(
        html.contains(&format!(
            "src=\"{}\"",
            node.url(&format!("/videos/embed/{uuid}"))
        )),
        "{html}"
    );
    assert!(
        html.contains("sandbox=\"allow-same-origin allow-scripts allow-popups allow-forms\""),
        "{html}"
    );

    // The long watch URL works too, and player parameters pass to the embed.
    let long = node.url(&format!("/videos/watch/{uuid}?start=30&utm=x"));
    let o = node.get_json(
        &format!("/services/oembed?url={}&maxwidth=300", urlencode(&long)),
        None,
    );
    assert_eq!(o["width"], 300);
    assert!(
        o["html"].as_str().unwrap_or("").contains("?start=30\""),
        "{o}"
    );
    assert!(
        o.get("thumbnail_url").is_none(),
        "a 300 px consumer gets no 850 px preview"
    );

    let status = |q: String| node.get(&format!("/services/oembed?{q}"), None).status();
    assert_eq!(
        status(format!("url={}&format=xml", urlencode(&watch_url))),
        StatusCode::NOT_IMPLEMENTED
    );
    assert_eq!(
        status("url=https%3A%2F%2Felsewhere.example%2Fw%2Fabc".into()),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        status(format!(
            "url={}",
            urlencode(&node.url("/w/kkGMgK9ZtnKfYAgnEtQxbv"))
        )),
        StatusCode::NOT_FOUND
    );
    let private = upload(&node, &alice, "Staff meeting", "3", &[]);
    let private_url = node.url(&format!(
        "/w/{}",
        private["shortUUID"].as_str().unwrap_or_default()
    ));
    assert_eq!(
        status(format!("url={}", urlencode(&private_url))),
        StatusCode::FORBIDDEN
    );
    let private_page = page_text(
        &node,
        &format!("/w/{}", private["shortUUID"].as_str().unwrap_or_default()),
        Some(&node.page_login("alice", &alice.password)),
    );
    assert!(
        !private_page.contains("og:title") && !private_page.contains("json+oembed"),
        "a private video has no preview tags"
    );
}

#[test]
fn only_the_embed_may_be_framed() {
    let node = Node::start();
    let alice = node.create_account("alice", -1, -1);
    let v = upload(&node, &alice, "Framed film", "1", &[]);
    let uuid = v["uuid"].as_str().expect("uuid");
    for path in [
        "/".to_string(),
        format!("/w/{}", v["shortUUID"].as_str().unwrap_or_default()),
        "/login".into(),
    ] {
        let resp = page(&node, &path, None);
        let h = resp.headers();
        assert_eq!(
            h.get("x-frame-options").and_then(|v| v.to_str().ok()),
            Some("DENY"),
            "{path}"
        );
        let csp = h
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
            "{path}: {csp}"
        );
    }
    let resp = page(&node, &format!("/videos/embed/{uuid}"), None);
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers().get("x-frame-options").is_none(),
        "the embed may be framed"
    );
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap_or("")
        .to_string();
    assert!(csp.contains("frame-ancestors *"), "{csp}");
}

/// The value of the form's hidden `csrf` field in a page.
fn csrf_of(page: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).expect("a form with a csrf field") + marker.len();
    page[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn administrators_name_the_instance() {
    let node = Node::start();
    let alice = node.create_account("alice", -1, -1);
    let resp = page(&node, "/admin/settings", None);
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "sign in first");
    let alice_cookie = node.page_login("alice", &alice.password);
    assert_eq!(
        page(&node, "/admin/settings", Some(&alice_cookie)).status(),
        StatusCode::FORBIDDEN
    );
    let admin = node.page_login("admin", &node.admin().password);
    let form = page_text(&node, "/admin/settings", Some(&admin));
    let post = |csrf: &str| {
        send(
            node.req(reqwest::Method::POST, "/admin/settings", None)
                .header("Cookie", &admin)
                .form(&[
                    ("csrf", csrf),
                    ("name", "Riverside School Videos"),
                    ("short_description", "Films made by our pupils"),
                    ("description", "Welcome to **our** videos."),
                ]),
        )
    };
    assert_eq!(
        post("forged").status(),
        StatusCode::FORBIDDEN,
        "a forged form is refused"
    );
    assert_eq!(post(&csrf_of(&form)).status(), StatusCode::SEE_OTHER);
    let home = page_text(&node, "/", None);
    assert!(
        home.contains("<a class=\"brand\" href=\"/\">Riverside School Videos</a>"),
        "{home}"
    );
    assert!(
        home.contains("Welcome to <strong>our</strong> videos."),
        "{home}"
    );
    assert!(home.contains("Films made by our pupils"));
    assert_eq!(
        node.get_json("/api/v1/config", None)["instance"]["name"],
        "Riverside School Videos",
        "the API names the instance the same way"
    );
}

#[test]
fn password_protected_videos_ask_for_the_password() {
    let node = Node::start();
    let alice = node.create_account("alice", -1, -1);
    let v = upload(
        &node,
        &alice,
        "Parents' evening",
        "5",
        &[("videoPasswords[]", "open sesame")],
    );
    let path = format!("/w/{}", v["shortUUID"].as_str().expect("shortUUID"));
    let asked = page_text(&node, &path, None);
    assert!(asked.contains("This video is protected by a password."));
    assert!(
        !asked.contains("Parents"),
        "nothing of the video before the password"
    );
    let try_password = |password: &str| {
        send(
            node.req(reqwest::Method::POST, &path, None)
                .form(&[("password", password)]),
        )
    };
    let wrong = try_password("guess");
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    assert!(
        wrong
            .text()
            .unwrap_or_default()
            .contains("Incorrect password.")
    );
    let right = try_password("open sesame");
    assert_eq!(right.status(), StatusCode::OK);
    let text = right.text().unwrap_or_default();
    assert!(
        text.contains("<h1>Parents&#39; evening</h1>")
            || text.contains("<h1>Parents' evening</h1>"),
        "{text}"
    );
    // The owner needs no password, as in the API.
    let cookie = node.page_login("alice", &alice.password);
    assert!(page_text(&node, &path, Some(&cookie)).contains("evening</h1>"));
}
