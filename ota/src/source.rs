//! Where bundles come from: a file (USB stick), an HTTPS update feed (streamed into the slot
//! with resumable Range requests and a data cap), or an upload (any async reader).

use std::io::{self, Read};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::AsyncRead;
use tokio::runtime::Handle;

use crate::config::FeedConfig;
use crate::error::{Error, IoContext, Result};
use crate::state::OutcomeKind;
use crate::updater::{Installed, Ota, ProgressFn};
use crate::version::Version;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A bundle file, e.g. on a USB stick.
    File(PathBuf),
    /// A bundle URL (https).
    Url(String),
    /// The newest suitable bundle in the configured feed.
    Feed,
}

impl FromStr for Source {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        if s == "feed" {
            Ok(Source::Feed)
        } else if s.starts_with("https://") {
            Ok(Source::Url(s.to_string()))
        } else if s.starts_with("http://") {
            Err(Error::Config(format!(
                "{s}: bundles are only downloaded over https"
            )))
        } else {
            Ok(Source::File(PathBuf::from(s)))
        }
    }
}

/// The feed: a JSON index of bundles.
/// `{"updates": [{"version": "1.2.0", "board": "rpi4", "url": "peerbox-rpi4-1.2.0.pbx", "size": 123}]}`
/// Relative URLs are resolved against the index URL. The index is not signed: bundles are.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Feed {
    #[serde(default)]
    pub updates: Vec<FeedEntry>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedEntry {
    pub version: String,
    pub board: String,
    pub url: String,
    #[serde(default)]
    pub size: Option<u64>,
}

impl Feed {
    /// The newest entry for `board` newer than `running` and not below `floor`.
    pub fn pick(
        &self,
        board: &str,
        running: &Version,
        floor: Option<&Version>,
    ) -> Option<FeedEntry> {
        self.updates
            .iter()
            .filter(|e| e.board == board)
            .filter_map(|e| Version::parse(&e.version).ok().map(|v| (v, e)))
            .filter(|(v, _)| v > running && floor.is_none_or(|f| v >= f))
            .max_by(|a, b| a.0.cmp(&b.0))
            .map(|(_, e)| e.clone())
    }
}

pub struct Downloader {
    client: reqwest::Client,
    cfg: FeedConfig,
}

impl Downloader {
    pub fn new(cfg: &FeedConfig) -> Result<Self> {
        let mut b = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(20))
            .user_agent(concat!("peerbox-ota/", env!("CARGO_PKG_VERSION")))
            .https_only(true);
        if let Some(ca) = &cfg.ca_file {
            let pem = std::fs::read(ca).ctx(|| format!("reading CA {}", ca.display()))?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .map_err(|e| Error::Config(format!("CA {}: {e}", ca.display())))?;
            b = b.add_root_certificate(cert);
        }
        let client = b
            .build()
            .map_err(|e| Error::Config(format!("HTTPS client: {e}")))?;
        Ok(Downloader {
            client,
            cfg: cfg.clone(),
        })
    }

    pub async fn fetch_feed(&self) -> Result<Feed> {
        let url = &self.cfg.url;
        let err = |reason: String| Error::Feed {
            url: url.clone(),
            reason,
        };
        let resp = self
            .client
            .get(url)
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .map_err(|e| err(describe(&e)))?;
        if !resp.status().is_success() {
            return Err(err(format!("HTTP {}", resp.status())));
        }
        let body = resp.bytes().await.map_err(|e| err(describe(&e)))?;
        if body.len() > 1 << 20 {
            return Err(err("index larger than 1 MiB".into()));
        }
        serde_json::from_slice(&body).map_err(|e| err(format!("not a feed index: {e}")))
    }

    pub fn resolve(&self, entry_url: &str) -> Result<String> {
        let base = reqwest::Url::parse(&self.cfg.url)
            .map_err(|e| Error::Config(format!("feed url: {e}")))?;
        base.join(entry_url)
            .map(|u| u.to_string())
            .map_err(|e| Error::Feed {
                url: self.cfg.url.clone(),
                reason: format!("bad bundle url {entry_url:?}: {e}"),
            })
    }

    /// A blocking reader of `url` for use off the async threads.
    pub fn reader(&self, url: &str, rt: Handle) -> HttpReader {
        HttpReader {
            rt,
            client: self.client.clone(),
            url: url.to_string(),
            pos: 0,
            total: None,
            resp: None,
            buf: Vec::new(),
            buf_pos: 0,
            skip: 0,
            used: 0,
            cap: self.cfg.data_cap,
            failures: 0,
            max_failures: self.cfg.retries,
            delay: Duration::from_millis(self.cfg.retry_delay_ms),
            stall: Duration::from_secs(self.cfg.stall_secs.max(1)),
            resumes: 0,
        }
    }
}

fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// Reads a URL front to back; when the connection drops it asks again from where it stopped
/// (`Range: bytes=N-`), up to `retries` times in a row without progress.
pub struct HttpReader {
    rt: Handle,
    client: reqwest::Client,
    url: String,
    pos: u64,
    total: Option<u64>,
    resp: Option<reqwest::Response>,
    buf: Vec<u8>,
    buf_pos: usize,
    /// Bytes to discard when a server ignored the Range header.
    skip: u64,
    used: u64,
    cap: Option<u64>,
    failures: u32,
    max_failures: u32,
    delay: Duration,
    stall: Duration,
    resumes: u32,
}

impl HttpReader {
    pub fn downloaded(&self) -> u64 {
        self.used
    }
    pub fn resumes(&self) -> u32 {
        self.resumes
    }
    pub fn total(&self) -> Option<u64> {
        self.total
    }

    fn err(&self, reason: impl Into<String>) -> io::Error {
        io::Error::other(Error::Download {
            url: self.url.clone(),
            reason: reason.into(),
        })
    }

    fn failed(&mut self, why: String) -> io::Result<()> {
        self.resp = None;
        self.failures += 1;
        tracing::warn!(target: "peerbox_ota", "download of {} interrupted at {} bytes: {why}", self.url, self.pos);
        if self.failures > self.max_failures {
            return Err(self.err(format!(
                "{why} (gave up after {} attempts at byte {})",
                self.failures, self.pos
            )));
        }
        std::thread::sleep(self.delay);
        Ok(())
    }

    fn connect(&mut self) -> io::Result<()> {
        let mut req = self.client.get(&self.url);
        if self.pos > 0 {
            req = req.header(reqwest::header::RANGE, format!("bytes={}-", self.pos));
            self.resumes += 1;
        }
        let resp = match self.rt.block_on(req.send()) {
            Ok(r) => r,
            Err(e) => return self.failed(describe(&e)),
        };
        let status = resp.status();
        if status == reqwest::StatusCode::PARTIAL_CONTENT && self.pos > 0 {
            let start = resp
                .headers()
                .get(reqwest::header::CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("bytes "))
                .and_then(|v| v.split_once('-'))
                .and_then(|(s, _)| s.parse::<u64>().ok());
            if start != Some(self.pos) {
                return Err(self.err(format!(
                    "server resumed at {start:?}, not at byte {}",
                    self.pos
                )));
            }
        } else if status == reqwest::StatusCode::OK {
            if let Some(len) = resp.content_length() {
                self.total.get_or_insert(len);
            }
            // The server ignored the range: read from the start and drop what we have.
            self.skip = self.pos;
        } else if status.is_server_error() {
            return self.failed(format!("HTTP {status}"));
        } else {
            return Err(self.err(format!("HTTP {status}")));
        }
        self.resp = Some(resp);
        Ok(())
    }
}

impl Read for HttpReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.buf_pos < self.buf.len() {
                let n = out.len().min(self.buf.len() - self.buf_pos);
                out[..n].copy_from_slice(&self.buf[self.buf_pos..self.buf_pos + n]);
                self.buf_pos += n;
                return Ok(n);
            }
            if out.is_empty() || self.total.is_some_and(|t| self.pos >= t) {
                return Ok(0);
            }
            let Some(resp) = self.resp.as_mut() else {
                self.connect()?;
                continue;
            };
            let chunk = self
                .rt
                .block_on(tokio::time::timeout(self.stall, resp.chunk()));
            match chunk {
                Ok(Ok(Some(bytes))) => {
                    self.used += bytes.len() as u64;
                    if let Some(cap) = self.cap
                        && self.used > cap
                    {
                        return Err(io::Error::other(Error::DataCap {
                            used: self.used,
                            cap,
                        }));
                    }
                    self.failures = 0;
                    let drop = self.skip.min(bytes.len() as u64) as usize;
                    self.skip -= drop as u64;
                    self.buf.clear();
                    self.buf.extend_from_slice(&bytes[drop..]);
                    self.buf_pos = 0;
                    self.pos += (bytes.len() - drop) as u64;
                }
                Ok(Ok(None)) => {
                    self.resp = None;
                    match self.total {
                        Some(t) if self.pos < t => {
                            self.failed(format!("connection closed at byte {} of {t}", self.pos))?
                        }
                        _ => return Ok(0),
                    }
                }
                Ok(Err(e)) => self.failed(describe(&e))?,
                Err(_) => self.failed(format!("no data for {}s", self.stall.as_secs()))?,
            }
        }
    }
}

impl Ota {
    fn downloader(&self) -> Result<Downloader> {
        let cfg = self
            .config()
            .feed()?
            .ok_or_else(|| Error::Config("no [feed] configured".into()))?;
        Downloader::new(&cfg)
    }

    /// The newest bundle in the feed that this device would take, if any.
    pub async fn check_feed(&self) -> Result<Option<FeedEntry>> {
        let d = self.downloader()?;
        let feed = d.fetch_feed().await?;
        let policy = self.policy()?;
        Ok(feed
            .pick(&self.config().board, &policy.running, policy.floor.as_ref())
            .map(|mut e| {
                if let Ok(u) = d.resolve(&e.url) {
                    e.url = u;
                }
                e
            }))
    }

    /// Installs from a file, a URL or the feed. Runs the blocking work on tokio's blocking
    /// pool. Returns `Ok(None)` for `Source::Feed` when there is nothing newer.
    pub async fn install(
        self: &Arc<Self>,
        source: Source,
        progress: ProgressFn,
    ) -> Result<Option<Installed>> {
        let url = match source {
            Source::File(path) => {
                let me = Arc::clone(self);
                return tokio::task::spawn_blocking(move || {
                    me.install_file(&path, &*progress).map(Some)
                })
                .await
                .map_err(|e| Error::State(format!("install task: {e}")))?;
            }
            Source::Url(u) => u,
            Source::Feed => match self.check_feed().await? {
                Some(e) => e.url,
                None => return Ok(None),
            },
        };
        let d = match self.config().feed()? {
            Some(cfg) => Downloader::new(&cfg)?,
            None => Downloader::new(&FeedConfig {
                url: url.clone(),
                ca_file: None,
                data_cap: None,
                retries: 8,
                retry_delay_ms: 2000,
                poll_secs: 0,
                stall_secs: 60,
            })?,
        };
        let mut reader = d.reader(&url, Handle::current());
        let me = Arc::clone(self);
        tokio::task::spawn_blocking(move || me.install_stream(&mut reader, 0, &*progress).map(Some))
            .await
            .map_err(|e| Error::State(format!("install task: {e}")))?
    }

    /// Installs from an upload. `size` (if known) drives the progress bar.
    pub async fn install_reader<R>(
        self: &Arc<Self>,
        reader: R,
        size: Option<u64>,
        progress: ProgressFn,
    ) -> Result<Installed>
    where
        R: AsyncRead + Unpin + Send + 'static,
    {
        let mut bridge = tokio_util::io::SyncIoBridge::new(reader);
        let me = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            me.install_stream(&mut bridge, size.unwrap_or(0), &*progress)
        })
        .await
        .map_err(|e| Error::State(format!("install task: {e}")))?
    }

    /// One round of polling: installs the feed's newest bundle unless an update is already
    /// pending or this version already failed here (a rolled-back or refused version is not
    /// downloaded again and again; a newer one is).
    pub async fn poll_once(self: &Arc<Self>, progress: ProgressFn) -> Result<PollResult> {
        let status = self.status()?;
        if let Some(p) = status.pending {
            return Ok(PollResult::Busy {
                version: p.version,
                state: p.state,
            });
        }
        let Some(entry) = self.check_feed().await? else {
            return Ok(PollResult::UpToDate);
        };
        if let Some(last) = &status.last_result
            && last.version.as_deref() == Some(entry.version.as_str())
            && last.result != OutcomeKind::Success
        {
            return Ok(PollResult::Skipped {
                version: entry.version,
                reason: last.message.clone(),
            });
        }
        match self.install(Source::Url(entry.url), progress).await? {
            Some(i) => Ok(PollResult::Installed(i)),
            None => Ok(PollResult::UpToDate),
        }
    }

    /// Polls the feed forever with [`Ota::poll_once`]; the reboot stays the admin's call (as
    /// Home Assistant does since 2026.07). Errors are logged and retried next round.
    pub async fn poll_feed(self: Arc<Self>, progress: ProgressFn) {
        let every = Duration::from_secs(
            self.config()
                .feed()
                .ok()
                .flatten()
                .map(|f| f.poll_secs)
                .unwrap_or(21600)
                .max(60),
        );
        loop {
            match self.poll_once(progress.clone()).await {
                Ok(PollResult::Installed(i)) => {
                    tracing::info!(target: "peerbox_ota", "update {} written to slot {}; reboot to try it", i.version, i.slot)
                }
                Ok(PollResult::Skipped { version, reason }) => {
                    tracing::info!(target: "peerbox_ota", "not retrying {version}: {reason}")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(target: "peerbox_ota", "update from the feed failed: {e}"),
            }
            tokio::time::sleep(every).await;
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum PollResult {
    UpToDate,
    /// An update is already pending or on trial.
    Busy {
        version: String,
        state: &'static str,
    },
    /// The feed's newest version already failed on this box.
    Skipped {
        version: String,
        reason: String,
    },
    Installed(Installed),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(v: &str, board: &str) -> FeedEntry {
        FeedEntry {
            version: v.into(),
            board: board.into(),
            url: format!("{v}.pbx"),
            size: None,
        }
    }

    #[test]
    fn the_feed_offers_the_newest_allowed_bundle_for_this_board() -> Result<()> {
        let feed = Feed {
            updates: vec![
                entry("1.2.0", "rpi4"),
                entry("1.3.0", "rpi5"),
                entry("1.1.0", "rpi4"),
                entry("junk", "rpi4"),
            ],
        };
        let v = |s| Version::parse(s);
        assert_eq!(
            feed.pick("rpi4", &v("1.0.0")?, None).map(|e| e.version),
            Some("1.2.0".into())
        );
        assert_eq!(feed.pick("rpi4", &v("1.2.0")?, None), None);
        assert_eq!(feed.pick("rpi4", &v("1.0.0")?, Some(&v("1.5.0")?)), None);
        assert_eq!(feed.pick("qemu-virt", &v("0.1.0")?, None), None);
        Ok(())
    }

    #[test]
    fn sources_parse_from_the_command_line() {
        assert_eq!("feed".parse::<Source>().ok(), Some(Source::Feed));
        assert_eq!(
            "/media/usb/x.pbx".parse::<Source>().ok(),
            Some(Source::File("/media/usb/x.pbx".into()))
        );
        assert!(matches!(
            "https://u/x.pbx".parse::<Source>(),
            Ok(Source::Url(_))
        ));
        assert!("http://u/x.pbx".parse::<Source>().is_err());
    }
}
