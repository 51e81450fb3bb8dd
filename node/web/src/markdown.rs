//! Descriptions are markdown, rendered safely: raw HTML in them is shown as text, links keep
//! only web and mail schemes (and get rel=nofollow), images are reduced to their alt text
//! (PeerTube's descriptions show no images either). What comes out can only contain the
//! markup pulldown-cmark writes itself.

use maud::{Markup, PreEscaped};
use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd, html};

/// Whether a link target is harmless: http(s), mailto, or a path on this site. Browsers
/// ignore ASCII whitespace and control characters inside a scheme, so they are removed first.
fn safe_url(url: &str) -> bool {
    let cleaned: String = url
        .chars()
        .filter(|c| !c.is_ascii_whitespace() && !c.is_ascii_control())
        .collect::<String>()
        .to_ascii_lowercase();
    match cleaned.find([':', '/', '?', '#']) {
        Some(i) if cleaned.as_bytes()[i] == b':' => {
            matches!(&cleaned[..i], "http" | "https" | "mailto")
        }
        _ => true,
    }
}

fn attr_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

/// Markdown to HTML that is safe to put in a page.
pub fn render(text: &str) -> Markup {
    let options = Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES;
    // For each open link: whether its tags were kept (an unsafe one keeps only its text).
    let mut links: Vec<bool> = Vec::new();
    let events = Parser::new_ext(text, options).filter_map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
        Event::Start(Tag::Link { dest_url, .. }) => {
            let keep = safe_url(&dest_url);
            links.push(keep);
            keep.then(|| {
                Event::InlineHtml(CowStr::from(format!(
                    "<a href=\"{}\" rel=\"nofollow noopener noreferrer\">",
                    attr_escape(&dest_url)
                )))
            })
        }
        Event::End(TagEnd::Link) => links
            .pop()
            .unwrap_or(false)
            .then_some(Event::InlineHtml(CowStr::Borrowed("</a>"))),
        Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => None,
        other => Some(other),
    });
    let mut out = String::new();
    html::push_html(&mut out, events);
    PreEscaped(out)
}

/// The text of a description without markup, on one line, cut to `max` characters: for
/// meta descriptions, cards and feed summaries.
pub fn plain(text: &str, max: usize) -> String {
    let mut words = String::new();
    for event in Parser::new(text) {
        match event {
            Event::Text(t) | Event::Code(t) | Event::Html(t) | Event::InlineHtml(t) => {
                words.push_str(&t);
            }
            Event::SoftBreak | Event::HardBreak | Event::End(_) => words.push(' '),
            _ => {}
        }
    }
    let one_line = words.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let cut: String = one_line.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> String {
        render(s).into_string()
    }

    #[test]
    fn markdown_is_rendered() {
        assert_eq!(
            r("Hello **world**\n\n- a\n- b"),
            "<p>Hello <strong>world</strong></p>\n<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n"
        );
        assert_eq!(
            r("[site](https://example.org/a?b=1&c=\"2\")"),
            "<p><a href=\"https://example.org/a?b=1&amp;c=&quot;2&quot;\" rel=\"nofollow noopener noreferrer\">site</a></p>\n"
        );
    }

    #[test]
    fn raw_html_is_text() {
        let out = r("<script>alert(1)</script>\n\nhi <img src=x onerror=alert(1)>");
        assert!(!out.contains("<script"), "{out}");
        assert!(!out.contains("<img"), "{out}");
        assert!(out.contains("&lt;script&gt;"), "{out}");
    }

    #[test]
    fn dangerous_links_lose_their_target() {
        for url in [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "java\tscript:alert(1)",
            " javascript:alert(1)",
            "data:text/html;base64,PHNjcmlwdD4=",
            "vbscript:x",
        ] {
            let out = r(&format!("[click](<{url}>) and <{url}>"));
            assert!(!out.contains("<a"), "{url}: {out}");
            assert!(out.contains("click"), "{url}: {out}");
        }
        assert!(r("[x](/w/abc)").contains("href=\"/w/abc\""));
        assert!(r("<mailto:a@b.c>").contains("href=\"mailto:a@b.c\""));
    }

    #[test]
    fn images_become_their_alt_text() {
        let out = r("![a cat](https://example.org/cat.jpg)");
        assert_eq!(out, "<p>a cat</p>\n");
    }

    #[test]
    fn plain_text_is_one_cut_line() {
        assert_eq!(
            plain("# Title\n\nSome *text*\nhere", 100),
            "Title Some text here"
        );
        assert_eq!(plain("abcdefghij", 5), "abcd…");
    }
}
