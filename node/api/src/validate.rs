//! Field rules and value lists, with PeerTube's limits (its CONSTRAINTS_FIELDS and
//! VIDEO_CATEGORIES / LICENCES / LANGUAGES), and the parsing of video metadata sent either
//! as a JSON body or as multipart fields.

use chrono::{DateTime, Utc};
use peerbox_catalog::{Privacy, VideoAttributes};
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};

pub const CATEGORIES: &[(u32, &str)] = &[
    (1, "Music"),
    (2, "Films"),
    (3, "Vehicles"),
    (4, "Art"),
    (5, "Sports"),
    (6, "Travels"),
    (7, "Gaming"),
    (8, "People"),
    (9, "Comedy"),
    (10, "Entertainment"),
    (11, "News & Politics"),
    (12, "How To"),
    (13, "Education"),
    (14, "Activism"),
    (15, "Science & Technology"),
    (16, "Animals"),
    (17, "Kids"),
    (18, "Food"),
];

pub const LICENCES: &[(u32, &str)] = &[
    (1, "Attribution"),
    (2, "Attribution - Share Alike"),
    (3, "Attribution - No Derivatives"),
    (4, "Attribution - Non Commercial"),
    (5, "Attribution - Non Commercial - Share Alike"),
    (6, "Attribution - Non Commercial - No Derivatives"),
    (7, "Public Domain Dedication"),
];

/// ISO 639 codes with their English names, as PeerTube offers them for videos.
pub const LANGUAGES: &[(&str, &str)] = &[
    ("af", "Afrikaans"),
    ("am", "Amharic"),
    ("ar", "Arabic"),
    ("az", "Azerbaijani"),
    ("be", "Belarusian"),
    ("bg", "Bulgarian"),
    ("bn", "Bengali"),
    ("br", "Breton"),
    ("bs", "Bosnian"),
    ("ca", "Catalan"),
    ("cs", "Czech"),
    ("cy", "Welsh"),
    ("da", "Danish"),
    ("de", "German"),
    ("el", "Greek"),
    ("en", "English"),
    ("eo", "Esperanto"),
    ("es", "Spanish"),
    ("et", "Estonian"),
    ("eu", "Basque"),
    ("fa", "Persian"),
    ("fi", "Finnish"),
    ("fil", "Filipino"),
    ("fr", "French"),
    ("ga", "Irish"),
    ("gd", "Gaelic"),
    ("gl", "Galician"),
    ("gu", "Gujarati"),
    ("ha", "Hausa"),
    ("he", "Hebrew"),
    ("hi", "Hindi"),
    ("hr", "Croatian"),
    ("ht", "Haitian"),
    ("hu", "Hungarian"),
    ("hy", "Armenian"),
    ("id", "Indonesian"),
    ("ig", "Igbo"),
    ("is", "Icelandic"),
    ("it", "Italian"),
    ("ja", "Japanese"),
    ("jbo", "Lojban"),
    ("ka", "Georgian"),
    ("kab", "Kabyle"),
    ("kk", "Kazakh"),
    ("km", "Khmer"),
    ("kn", "Kannada"),
    ("ko", "Korean"),
    ("ku", "Kurdish"),
    ("ky", "Kirghiz"),
    ("la", "Latin"),
    ("lb", "Luxembourgish"),
    ("lo", "Lao"),
    ("lt", "Lithuanian"),
    ("lv", "Latvian"),
    ("mg", "Malagasy"),
    ("mi", "Maori"),
    ("mk", "Macedonian"),
    ("ml", "Malayalam"),
    ("mn", "Mongolian"),
    ("mr", "Marathi"),
    ("ms", "Malay"),
    ("mt", "Maltese"),
    ("my", "Burmese"),
    ("nb", "Norwegian Bokmål"),
    ("ne", "Nepali"),
    ("nl", "Dutch"),
    ("nn", "Norwegian Nynorsk"),
    ("no", "Norwegian"),
    ("oc", "Occitan"),
    ("pa", "Panjabi"),
    ("pl", "Polish"),
    ("ps", "Pushto"),
    ("pt", "Portuguese"),
    ("pt-PT", "Portuguese (Portugal)"),
    ("ro", "Romanian"),
    ("ru", "Russian"),
    ("rw", "Kinyarwanda"),
    ("sc", "Sardinian"),
    ("si", "Sinhala"),
    ("sk", "Slovak"),
    ("sl", "Slovenian"),
    ("so", "Somali"),
    ("sq", "Albanian"),
    ("sr", "Serbian"),
    ("sv", "Swedish"),
    ("sw", "Swahili"),
    ("ta", "Tamil"),
    ("te", "Telugu"),
    ("tg", "Tajik"),
    ("th", "Thai"),
    ("tk", "Turkmen"),
    ("tl", "Tagalog"),
    ("tr", "Turkish"),
    ("tt", "Tatar"),
    ("uk", "Ukrainian"),
    ("ur", "Urdu"),
    ("uz", "Uzbek"),
    ("vi", "Vietnamese"),
    ("wa", "Walloon"),
    ("xh", "Xhosa"),
    ("yi", "Yiddish"),
    ("yo", "Yoruba"),
    ("zh", "Chinese"),
    ("zh-Hans", "Simplified Chinese"),
    ("zh-Hant", "Traditional Chinese"),
    ("zu", "Zulu"),
];

pub const COMMENTS_POLICIES: &[(u8, &str)] =
    &[(1, "Enabled"), (2, "Disabled"), (3, "Requires approval")];

pub fn label_of<K: PartialEq + Copy>(list: &[(K, &'static str)], key: K) -> Option<&'static str> {
    list.iter().find(|(k, _)| *k == key).map(|(_, l)| *l)
}

fn char_len(s: &str) -> usize {
    s.chars().count()
}

pub fn check_len(field: &str, value: &str, min: usize, max: usize) -> ApiResult<()> {
    let n = char_len(value);
    if n < min || n > max {
        return Err(ApiError::invalid_param(
            field,
            format!("Should be between {min} and {max} characters long"),
        ));
    }
    Ok(())
}

/// Usernames: PeerTube's `^[a-z0-9._]+$`, 1 to 50 characters.
pub fn check_username(value: &str) -> ApiResult<()> {
    check_len("username", value, 1, 50)?;
    if !value
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'_')
    {
        return Err(ApiError::invalid_param(
            "username",
            "Should have a valid username (lowercase letters, digits, '.' and '_')",
        ));
    }
    Ok(())
}

pub fn check_password(value: &str) -> ApiResult<()> {
    check_len("password", value, 6, 255)
}

/// Channel handles: PeerTube's actor name rule `^[a-zA-Z0-9\-_.:]+$`, 1 to 50 characters.
pub fn check_actor_name(field: &str, value: &str) -> ApiResult<()> {
    check_len(field, value, 1, 50)?;
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
    {
        return Err(ApiError::invalid_param(
            field,
            "Should have a valid name (letters, digits, '-', '_', '.' and ':')",
        ));
    }
    Ok(())
}

/// Metadata of a video as sent by a client: a JSON object, or multipart fields folded into
/// one (`tags[0]`, `tags[1]` become an array `tags`).
pub struct Fields(pub Map<String, Value>);

impl Fields {
    pub fn from_multipart(pairs: Vec<(String, String)>) -> Fields {
        let mut map = Map::new();
        for (key, value) in pairs {
            match key.split_once('[') {
                Some((base, rest))
                    if rest == "]"
                        || rest
                            .trim_end_matches(']')
                            .bytes()
                            .all(|b| b.is_ascii_digit()) =>
                {
                    let entry = map
                        .entry(base.to_string())
                        .or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(items) = entry {
                        items.push(Value::String(value));
                    }
                }
                Some(_) => {} // nested objects such as scheduleUpdate[...] are not supported
                None => {
                    map.insert(key, Value::String(value));
                }
            }
        }
        Fields(map)
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn string(&self, key: &str) -> ApiResult<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(ApiError::invalid_param(key, "Should be a string")),
        }
    }

    pub fn int(&self, key: &str) -> ApiResult<Option<u64>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .map(Some)
                .ok_or_else(|| ApiError::invalid_param(key, "Should be a positive integer")),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| ApiError::invalid_param(key, "Should be a positive integer")),
            Some(_) => Err(ApiError::invalid_param(key, "Should be a positive integer")),
        }
    }

    pub fn signed(&self, key: &str) -> ApiResult<Option<i64>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| ApiError::invalid_param(key, "Should be an integer")),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| ApiError::invalid_param(key, "Should be an integer")),
            Some(_) => Err(ApiError::invalid_param(key, "Should be an integer")),
        }
    }

    pub fn bool(&self, key: &str) -> ApiResult<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s == "true" || s == "1" => Ok(Some(true)),
            Some(Value::String(s)) if s == "false" || s == "0" => Ok(Some(false)),
            Some(_) => Err(ApiError::invalid_param(key, "Should be a boolean")),
        }
    }

    pub fn strings(&self, key: &str) -> ApiResult<Option<Vec<String>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str().map(str::to_string).ok_or_else(|| {
                        ApiError::invalid_param(key, "Should be an array of strings")
                    })
                })
                .collect::<ApiResult<Vec<_>>>()
                .map(Some),
            Some(Value::String(s)) => Ok(Some(vec![s.clone()])),
            Some(_) => Err(ApiError::invalid_param(
                key,
                "Should be an array of strings",
            )),
        }
    }
}

/// Applies the fields present to `attrs`, checking each against PeerTube's rules. On
/// creation every rule applies to the defaults too (a name is required).
pub fn apply_video_fields(fields: &Fields, attrs: &mut VideoAttributes) -> ApiResult<()> {
    if let Some(name) = fields.string("name")? {
        attrs.name = name.trim().to_string();
    }
    check_len("name", &attrs.name, 3, 120)?;
    if let Some(id) = fields.int("channelId")? {
        attrs.channel_id = id;
    }
    if fields.has("description") {
        attrs.description = fields.string("description")?.filter(|s| !s.is_empty());
        if let Some(d) = &attrs.description {
            check_len("description", d, 3, 10_000)?;
        }
    }
    if fields.has("support") {
        attrs.support = fields.string("support")?.filter(|s| !s.is_empty());
        if let Some(s) = &attrs.support {
            check_len("support", s, 3, 1000)?;
        }
    }
    if let Some(tags) = fields.strings("tags")? {
        if tags.len() > 5 {
            return Err(ApiError::invalid_param(
                "tags",
                "Should have an array of up to 5 tags between 2 and 30 characters each",
            ));
        }
        for t in &tags {
            check_len("tags", t, 2, 30)?;
        }
        attrs.tags = tags;
    }
    if fields.has("category") {
        attrs.category = fields.int("category")?.map(|c| c as u32);
        if let Some(c) = attrs.category
            && label_of(CATEGORIES, c).is_none()
        {
            return Err(ApiError::invalid_param(
                "category",
                "Should have a valid category",
            ));
        }
    }
    if fields.has("licence") {
        attrs.licence = fields.int("licence")?.map(|c| c as u32);
        if let Some(l) = attrs.licence
            && label_of(LICENCES, l).is_none()
        {
            return Err(ApiError::invalid_param(
                "licence",
                "Should have a valid licence",
            ));
        }
    }
    if fields.has("language") {
        attrs.language = fields.string("language")?.filter(|s| !s.is_empty());
        if let Some(l) = &attrs.language
            && label_of(LANGUAGES, l.as_str()).is_none()
        {
            return Err(ApiError::invalid_param(
                "language",
                "Should have a valid language",
            ));
        }
    }
    if let Some(p) = fields.int("privacy")? {
        attrs.privacy = Privacy::from_id(p).ok_or_else(|| {
            ApiError::invalid_param("privacy", "Should have correct video privacy")
        })?;
    }
    if let Some(passwords) = fields.strings("videoPasswords")? {
        for p in &passwords {
            check_len("videoPasswords", p, 2, 100)?;
        }
        attrs.passwords = passwords;
    }
    if attrs.privacy == Privacy::PasswordProtected && attrs.passwords.is_empty() {
        return Err(ApiError::invalid_param(
            "videoPasswords",
            "Should have at least one password for a password protected video",
        ));
    }
    if let Some(b) = fields.bool("nsfw")? {
        attrs.nsfw = b;
    }
    if let Some(b) = fields.bool("downloadEnabled")? {
        attrs.download_enabled = b;
    }
    if let Some(b) = fields.bool("waitTranscoding")? {
        attrs.wait_transcoding = b;
    }
    if let Some(p) = fields.int("commentsPolicy")? {
        let p = u8::try_from(p)
            .ok()
            .filter(|p| label_of(COMMENTS_POLICIES, *p).is_some());
        attrs.comments_policy = p.ok_or_else(|| {
            ApiError::invalid_param("commentsPolicy", "Should have a valid comments policy")
        })?;
    } else if let Some(enabled) = fields.bool("commentsEnabled")? {
        // Deprecated by PeerTube for commentsPolicy, still sent by older clients.
        attrs.comments_policy = if enabled { 1 } else { 2 };
    }
    if fields.has("originallyPublishedAt") {
        attrs.originally_published_at = match fields.string("originallyPublishedAt")? {
            Some(s) => Some(
                DateTime::parse_from_rfc3339(&s)
                    .map(|d| d.with_timezone(&Utc))
                    .map_err(|_| {
                        ApiError::invalid_param("originallyPublishedAt", "Should have a valid date")
                    })?,
            ),
            None => None,
        };
    }
    Ok(())
}

/// The attributes of a new video before the client's fields are applied.
pub fn default_attributes() -> VideoAttributes {
    // PeerTube makes a video private when the uploader says nothing, so that a client
    // forgetting the field does not publish by accident.
    VideoAttributes::new(String::new(), 0, Privacy::Private)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_arrays_fold() {
        let f = Fields::from_multipart(vec![
            ("name".into(), "Hello".into()),
            ("tags[0]".into(), "aa".into()),
            ("tags[1]".into(), "bb".into()),
            ("videoPasswords[]".into(), "pw".into()),
        ]);
        assert_eq!(
            f.strings("tags").unwrap(),
            Some(vec!["aa".to_string(), "bb".to_string()])
        );
        assert_eq!(
            f.strings("videoPasswords").unwrap(),
            Some(vec!["pw".to_string()])
        );
    }

    #[test]
    fn rules() {
        let mut a = default_attributes();
        let ok = Fields(
            serde_json::json!({"name": "Good name", "tags": ["ab"], "privacy": 2, "nsfw": "true"})
                .as_object()
                .unwrap()
                .clone(),
        );
        apply_video_fields(&ok, &mut a).unwrap();
        assert_eq!(a.privacy, Privacy::Unlisted);
        assert!(a.nsfw);
        for bad in [
            serde_json::json!({"name": "ab"}),
            serde_json::json!({"name": "x".repeat(121)}),
            serde_json::json!({"name": "Good", "tags": ["a"]}),
            serde_json::json!({"name": "Good", "tags": ["aa","bb","cc","dd","ee","ff"]}),
            serde_json::json!({"name": "Good", "privacy": 9}),
            serde_json::json!({"name": "Good", "privacy": 5}),
            serde_json::json!({"name": "Good", "category": 99}),
            serde_json::json!({"name": "Good", "language": "xx"}),
        ] {
            let mut a = default_attributes();
            let f = Fields(bad.as_object().unwrap().clone());
            assert_eq!(
                apply_video_fields(&f, &mut a).unwrap_err().status,
                400,
                "{bad}"
            );
        }
    }
}
