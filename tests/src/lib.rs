//! Harness for the end-to-end tests in tests/*.rs: starts real `peerbox` processes on
//! loopback, each with its own free port and temp data dir, and talks to them over HTTP (or
//! HTTPS, with certificates from a CA the test makes) the way PeerTube clients do. It
//! asserts nothing about the node beyond what its helpers need; the tests say what a user
//! must see.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use reqwest::blocking::{Client, RequestBuilder, Response, multipart};
use reqwest::header::{CONTENT_TYPE, LOCATION, RANGE, SET_COOKIE};
use reqwest::{Method, StatusCode, Url};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

pub mod activitypub_peer;

/// Password of the `admin` user that every node creates on its first start.
const ADMIN_PASSWORD: &str = "admin-e2e-password";

pub const MIB: usize = 1024 * 1024;

/// The `peerbox` binary under test: `PEERBOX_BIN`, or the workspace's debug build.
fn peerbox_bin() -> PathBuf {
    let bin = std::env::var_os("PEERBOX_BIN").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/peerbox"),
        PathBuf::from,
    );
    assert!(
        bin.is_file(),
        "{} does not exist: run `cargo build -p peerbox` first (or set PEERBOX_BIN)",
        bin.display()
    );
    bin
}

/// A user of a node, logged in.
pub struct Account {
    pub username: String,
    pub password: String,
    pub token: String,
    /// The id of the user's default channel, `{username}_channel`.
    pub channel_id: u64,
}

/// A resumable upload session, as the `Location` of its creation names it.
pub struct Upload {
    pub url: String,
    pub total: usize,
}

impl Upload {
    /// The session's path and query, for a hand-written request.
    pub fn path_and_query(&self) -> String {
        let url = Url::parse(&self.url).expect("the session URL parses");
        format!("{}?{}", url.path(), url.query().unwrap_or(""))
    }
}

/// A running (or stopped) node. Dropping it kills the process; its data dir goes with it.
pub struct Node {
    dir: TempDir,
    /// The address it listens on and is reached at: loopback, or the host end of a test's
    /// network namespace link.
    host: String,
    port: u16,
    env: Vec<(String, String)>,
    /// The PEM of the CA that issued the node's certificate, when it serves HTTPS.
    ca_pem: Option<String>,
    child: Option<Child>,
    http: Client,
}

impl Node {
    pub fn start() -> Node {
        Node::start_with_env(&[])
    }

    /// Starts a node with extra `PEERBOX_*` configuration variables.
    pub fn start_with_env(env: &[(&str, &str)]) -> Node {
        Node::start_on("127.0.0.1", env)
    }

    /// Starts a node listening on `host` (an address of this machine), with that address in
    /// its public URL.
    pub fn start_on(host: &str, env: &[(&str, &str)]) -> Node {
        let dir = tempfile::tempdir().expect("creating a temp dir");
        Node::launch(dir, host, None, owned(env))
    }

    /// Starts a node serving HTTPS on `host` (an address of this machine) with a certificate
    /// from `ca` for that address, its public URL `https://host:port`, and federation
    /// allowed to reach loopback addresses and trusting `ca`, so that several such nodes
    /// federate over real TLS. The harness's requests to it trust `ca` too.
    pub fn start_https(host: &str, ca: &TestCa, env: &[(&str, &str)]) -> Node {
        let dir = tempfile::tempdir().expect("creating a temp dir");
        let tls_dir = dir.path().join("tls");
        std::fs::create_dir_all(&tls_dir).expect("creating the certificates' dir");
        let (cert, key) = ca.issue(&tls_dir, &[host, "localhost"]);
        let ca_file = tls_dir.join("ca.pem");
        std::fs::write(&ca_file, ca.pem()).expect("writing the CA certificate");
        let path = |p: &Path| p.to_str().expect("a UTF-8 temp path").to_string();
        let mut all = vec![
            ("PEERBOX_TLS_CERT_FILE".to_string(), path(&cert)),
            ("PEERBOX_TLS_KEY_FILE".to_string(), path(&key)),
            (
                "PEERBOX_FEDERATION_ALLOW_LOOPBACK".to_string(),
                "true".to_string(),
            ),
            (
                "PEERBOX_FEDERATION_EXTRA_CA_FILE".to_string(),
                path(&ca_file),
            ),
        ];
        // The test's own variables come last, so that they win.
        all.extend(owned(env));
        Node::launch(dir, host, Some(ca.pem()), all)
    }

    fn launch(
        dir: TempDir,
        host: &str,
        ca_pem: Option<String>,
        env: Vec<(String, String)>,
    ) -> Node {
        let mut node = Node {
            dir,
            host: host.to_string(),
            port: 0,
            env,
            http: client(ca_pem.as_deref()),
            ca_pem,
            child: None,
        };
        // The free port may be taken by someone else before the node binds it; try another.
        for _ in 0..3 {
            node.port = free_port();
            if node.spawn().is_ok() {
                return node;
            }
        }
        panic!("peerbox did not start; its log:\n{}", node.log_tail());
    }

    fn spawn(&mut self) -> Result<(), String> {
        assert!(self.child.is_none(), "the node is already running");
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("opening the node log");
        let mut cmd = self.command();
        cmd.arg("run")
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(["--listen", &format!("{}:{}", self.host, self.port)])
            .args(["--public-url", &self.base_url()])
            .env("PEERBOX_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("cloning the log handle"))
            .stderr(log);
        self.child = Some(cmd.spawn().expect("spawning peerbox"));
        // Connections pooled to a killed process are dead.
        self.http = client(self.ca_pem.as_deref());
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(format!("peerbox exited with {status}"));
            }
            if let Ok(r) = self.http.get(self.url("/api/v1/health")).send()
                && r.status() == StatusCode::OK
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                panic!(
                    "GET /api/v1/health did not answer 200 within 30 s; the node's log:\n{}",
                    self.log_tail()
                );
            }
            sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, and waits for the process to exit.
    pub fn stop(&mut self) {
        let mut child = self.child.take().expect("the node is not running");
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("running kill");
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.try_wait().expect("waiting for peerbox").is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("peerbox did not exit within 10 s of SIGTERM");
            }
            sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL, as a power cut or the OOM killer would end it.
    pub fn kill9(&mut self) {
        let mut child = self.child.take().expect("the node is not running");
        child.kill().expect("SIGKILL");
        child.wait().expect("reaping peerbox");
    }

    /// Starts the node again on the same data dir and port (stopping it first if running).
    pub fn restart(&mut self) {
        if self.child.is_some() {
            self.stop();
        }
        if let Err(e) = self.spawn() {
            panic!("{e} on restart; its log:\n{}", self.log_tail());
        }
    }

    /// Runs `peerbox ARGS --data-dir DIR` (the user commands need the node stopped).
    pub fn cli(&self, args: &[&str]) -> Output {
        self.command()
            .args(args)
            .arg("--data-dir")
            .arg(self.data_dir())
            .output()
            .expect("running peerbox")
    }

    /// `peerbox` with this test's configuration only, not the developer's shell's.
    fn command(&self) -> Command {
        let mut cmd = Command::new(peerbox_bin());
        for (key, _) in std::env::vars() {
            if key.starts_with("PEERBOX_") {
                cmd.env_remove(key);
            }
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// `https://host:port` for a node started with `start_https`, `http://host:port` otherwise.
    pub fn base_url(&self) -> String {
        let scheme = if self.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.host())
    }

    /// `address:port`, the node's host as PeerTube names servers (in handles, follows, ...).
    pub fn host(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("peerbox.log")
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    /// Every file in the data dir but the catalog: what a refused request must leave as it was.
    pub fn stored_files(&self) -> BTreeSet<PathBuf> {
        let mut files = files_under(&self.data_dir());
        files.remove(Path::new("catalog.redb"));
        files
    }

    /// What changed in `stored_files()` since `before`, if anything.
    pub fn files_changed_since(&self, before: &BTreeSet<PathBuf>) -> Option<String> {
        let now = self.stored_files();
        let added: Vec<_> = now.difference(before).collect();
        let removed: Vec<_> = before.difference(&now).collect();
        (!added.is_empty() || !removed.is_empty())
            .then(|| format!("files added: {added:?}, files removed: {removed:?}"))
    }

    /// Files under `uploads/` (partial uploads).
    pub fn upload_leftovers(&self) -> BTreeSet<PathBuf> {
        files_under(&self.data_dir().join("uploads"))
    }

    /// A request to `path` (or an absolute URL), with a bearer token when given.
    pub fn req(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            self.url(path)
        };
        let rb = self.http.request(method, url);
        match token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> Response {
        send(self.req(Method::GET, path, token))
    }

    /// `GET` that must answer 200 with JSON.
    #[track_caller]
    pub fn get_json(&self, path: &str, token: Option<&str>) -> Value {
        expect_json(self.get(path, token), StatusCode::OK)
    }

    /// The local OAuth client, as PeerTube clients fetch it before logging in.
    fn oauth_client(&self) -> (String, String) {
        let c = self.get_json("/api/v1/oauth-clients/local", None);
        let field = |k: &str| c[k].as_str().expect("oauth client field").to_string();
        (field("client_id"), field("client_secret"))
    }

    /// `POST /api/v1/users/token` with the password grant, as peertube-cli sends it.
    pub fn login(&self, username: &str, password: &str) -> Response {
        let (id, secret) = self.oauth_client();
        send(self.req(Method::POST, "/api/v1/users/token", None).form(&[
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
            ("grant_type", "password"),
            ("response_type", "code"),
            ("scope", "upload"),
            ("username", username),
            ("password", password),
        ]))
    }

    /// `POST /api/v1/users/token` with the refresh grant.
    pub fn refresh(&self, refresh_token: &str) -> Response {
        let (id, secret) = self.oauth_client();
        send(self.req(Method::POST, "/api/v1/users/token", None).form(&[
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
            ("grant_type", "refresh_token"),
            ("response_type", "code"),
            ("refresh_token", refresh_token),
        ]))
    }

    /// Signs in through the sign-in form, as a browser does; returns the cookie to send back.
    #[track_caller]
    pub fn page_login(&self, username: &str, password: &str) -> String {
        let resp = send(self.req(Method::POST, "/login", None).form(&[
            ("username", username),
            ("password", password),
            ("redirect", "/"),
        ]));
        assert_eq!(
            resp.status(),
            StatusCode::SEE_OTHER,
            "signing in as {username}"
        );
        let cookie = resp
            .headers()
            .get(SET_COOKIE)
            .and_then(|c| c.to_str().ok())
            .expect("the sign-in sets a cookie");
        cookie.split(';').next().unwrap_or_default().to_string()
    }

    #[track_caller]
    pub fn token(&self, username: &str, password: &str) -> String {
        let body = expect_json(self.login(username, password), StatusCode::OK);
        body["access_token"]
            .as_str()
            .expect("access_token in the token response")
            .to_string()
    }

    /// Logs in and looks up the default channel.
    #[track_caller]
    pub fn account(&self, username: &str, password: &str) -> Account {
        let token = self.token(username, password);
        let me = self.get_json("/api/v1/users/me", Some(&token));
        let channel_id = me["videoChannels"][0]["id"]
            .as_u64()
            .expect("users/me has videoChannels[0].id");
        Account {
            username: username.to_string(),
            password: password.to_string(),
            token,
            channel_id,
        }
    }

    pub fn admin(&self) -> Account {
        self.account("admin", ADMIN_PASSWORD)
    }

    /// Creates a user through the admin API (quotas in bytes, -1 unlimited) and logs in.
    #[track_caller]
    pub fn create_account(&self, username: &str, quota: i64, daily: i64) -> Account {
        let admin = self.token("admin", ADMIN_PASSWORD);
        let password = format!("{username}-password");
        let body = json!({
            "username": username,
            "password": password,
            "email": format!("{username}@example.org"),
            "role": 2,
            "videoQuota": quota,
            "videoQuotaDaily": daily,
        });
        expect_json(
            send(
                self.req(Method::POST, "/api/v1/users", Some(&admin))
                    .json(&body),
            ),
            StatusCode::OK,
        );
        self.account(username, &password)
    }

    /// Legacy multipart upload: text fields (repeat a key such as `tags[]` for arrays),
    /// then the file as `videofile` when given.
    pub fn upload_legacy(
        &self,
        token: &str,
        fields: &[(&str, &str)],
        file: Option<&Path>,
    ) -> Response {
        let mut form = multipart::Form::new();
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        if let Some(path) = file {
            form = form
                .file("videofile", path)
                .expect("reading the video file");
        }
        send(
            self.req(Method::POST, "/api/v1/videos/upload", Some(token))
                .multipart(form),
        )
    }

    /// A legacy upload that must succeed; returns `video` (`{id, shortUUID, uuid}`).
    #[track_caller]
    pub fn upload_ok(&self, token: &str, fields: &[(&str, &str)], file: &Path) -> Value {
        let body = expect_json(
            self.upload_legacy(token, fields, Some(file)),
            StatusCode::OK,
        );
        body["video"].clone()
    }

    /// `owner` uploads `clip` as a public video (uploads are private unless said otherwise)
    /// to their default channel, with `fields` (name, description, ...), and waits until it
    /// is published with its torrents written: from then on it federates. Returns the
    /// video's details.
    #[track_caller]
    pub fn publish_public(&self, owner: &Account, fields: &[(&str, &str)], clip: &Path) -> Value {
        let channel = owner.channel_id.to_string();
        let mut all = vec![("channelId", channel.as_str()), ("privacy", "1")];
        all.extend_from_slice(fields);
        let video = self.upload_ok(&owner.token, &all, clip);
        let uuid = video["uuid"]
            .as_str()
            .expect("uuid of the upload")
            .to_string();
        let mut details = Value::Null;
        let ready = wait_until(Duration::from_secs(180), || {
            details = self.video(&uuid, Some(&owner.token));
            details["state"]["id"] == 1
                && details["streamingPlaylists"][0]["files"]
                    .as_array()
                    .is_some_and(|files| {
                        !files.is_empty() && files.iter().all(|f| f["magnetUri"].is_string())
                    })
        });
        assert!(
            ready,
            "{fields:?} not published with torrents after 180 s: {details}"
        );
        details
    }

    /// `POST /api/v1/videos/upload-resumable` announcing `total` bytes, with `metadata`
    /// (filename, name, channelId, ...) as the JSON body.
    pub fn resumable_start(&self, token: &str, total: usize, metadata: &Value) -> Response {
        send(
            self.req(Method::POST, "/api/v1/videos/upload-resumable", Some(token))
                .header("X-Upload-Content-Length", total.to_string())
                .header("X-Upload-Content-Type", "video/mp4")
                .json(metadata),
        )
    }

    /// A resumable session that must be created (201 with `Location` naming an `upload_id`).
    #[track_caller]
    pub fn resumable_session(&self, token: &str, total: usize, metadata: &Value) -> Upload {
        let resp = self.resumable_start(token, total, metadata);
        let location = resp
            .headers()
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(str::to_string);
        expect_json(resp, StatusCode::CREATED);
        let location = location.expect("the 201 has a Location header");
        assert!(
            location.contains("upload_id="),
            "Location {location:?} has no upload_id"
        );
        // PeerTube sends a protocol-relative `//host/...` location.
        let url = match location.strip_prefix("//") {
            Some(rest) => format!("http://{rest}"),
            None if location.starts_with('/') => self.url(&location),
            None => location,
        };
        Upload { url, total }
    }

    /// `PUT` of `bytes` at `start` of the session.
    pub fn put_chunk(
        &self,
        token: Option<&str>,
        up: &Upload,
        start: usize,
        bytes: &[u8],
    ) -> Response {
        let end = start + bytes.len() - 1;
        send(
            self.req(Method::PUT, &up.url, token)
                .header(CONTENT_TYPE, "application/octet-stream")
                .header("Content-Range", format!("bytes {start}-{end}/{}", up.total))
                .body(bytes.to_vec()),
        )
    }

    /// The empty `PUT` with `Content-Range: bytes */TOTAL` that asks how much the node has.
    pub fn ask_offset(&self, token: Option<&str>, up: &Upload) -> Response {
        send(
            self.req(Method::PUT, &up.url, token)
                .header("Content-Range", format!("bytes */{}", up.total))
                .body(Vec::new()),
        )
    }

    /// The node's offset for the session: 308 with `Range: bytes=0-N` (none yet: no Range).
    #[track_caller]
    pub fn upload_offset(&self, token: &str, up: &Upload) -> usize {
        let resp = self.ask_offset(Some(token), up);
        let range = received_range(&resp);
        expect_json(resp, StatusCode::PERMANENT_REDIRECT);
        range.unwrap_or(0)
    }

    pub fn cancel_upload(&self, token: Option<&str>, up: &Upload) -> Response {
        send(self.req(Method::DELETE, &up.url, token))
    }

    /// Sends `data[from..]` in chunks; every chunk but the last must get 308 acknowledging
    /// all bytes so far, the last one 200. Returns the final body (`{video: ...}`).
    #[track_caller]
    pub fn send_chunks(
        &self,
        token: &str,
        up: &Upload,
        data: &[u8],
        from: usize,
        chunk: usize,
    ) -> Value {
        let mut start = from;
        loop {
            let end = (start + chunk).min(data.len());
            let resp = self.put_chunk(Some(token), up, start, &data[start..end]);
            if end == data.len() {
                return expect_json(resp, StatusCode::OK);
            }
            let range = received_range(&resp);
            expect_json(resp, StatusCode::PERMANENT_REDIRECT);
            assert_eq!(
                range,
                Some(end),
                "after bytes {start}-{} the 308 must say Range: bytes=0-{}",
                end - 1,
                end - 1
            );
            start = end;
        }
    }

    /// Opens a raw connection and sends the request head and the first part of its body,
    /// leaving the rest unsent: an upload cut off mid-way. The head must carry the full
    /// Content-Length.
    pub fn send_partial(
        &self,
        request_line: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> TcpStream {
        let mut stream =
            TcpStream::connect(("127.0.0.1", self.port)).expect("connecting to the node");
        let mut head = format!(
            "{request_line} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n",
            self.port
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.write_all(body))
            .and_then(|()| stream.flush())
            .expect("sending a partial request");
        stream
    }

    /// `GET /api/v1/videos/{id}` that must answer 200.
    #[track_caller]
    pub fn video(&self, id: &str, token: Option<&str>) -> Value {
        self.get_json(&format!("/api/v1/videos/{id}"), token)
    }

    /// Waits, as peertube-cli does after an upload, until the video's file has its torrent:
    /// the node's work on the upload is then done.
    #[track_caller]
    pub fn wait_for_torrent(&self, uuid: &str, token: &str) {
        let ready = wait_until(Duration::from_secs(30), || {
            self.video(uuid, Some(token))["files"][0]["torrentUrl"].is_string()
        });
        assert!(ready, "video {uuid} has no files[0].torrentUrl after 30 s");
    }

    /// Holds new jobs (PeerTube's `POST /api/v1/jobs/pause`), so that uploads stay "to
    /// transcode" for tests about that state.
    pub fn pause_jobs(&self) {
        let admin = self.token("admin", ADMIN_PASSWORD);
        let r = send(self.req(Method::POST, "/api/v1/jobs/pause", Some(&admin)));
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "pausing the job queue");
    }

    /// The file as uploaded, through `GET /api/v1/videos/{id}/source` (owner or admin).
    pub fn source_bytes(&self, uuid: &str, token: &str) -> Vec<u8> {
        let source = self.get_json(&format!("/api/v1/videos/{uuid}/source"), Some(token));
        let url = source["fileDownloadUrl"]
            .as_str()
            .expect("source.fileDownloadUrl")
            .to_string();
        self.download(&url, Some(token))
    }

    /// The bytes at `url` (e.g. a `fileUrl`), which must answer 200.
    #[track_caller]
    pub fn download(&self, url: &str, token: Option<&str>) -> Vec<u8> {
        let resp = self.get(url, token);
        let status = resp.status();
        let bytes = resp.bytes().expect("reading the download");
        assert_eq!(
            status,
            StatusCode::OK,
            "GET {url}: {}",
            String::from_utf8_lossy(&bytes)
        );
        bytes.to_vec()
    }

    /// UUIDs of all of this user's videos, whatever their privacy or state.
    #[track_caller]
    pub fn my_videos(&self, token: &str) -> Vec<String> {
        let list = self.get_json("/api/v1/users/me/videos?count=100", Some(token));
        list["data"]
            .as_array()
            .expect("data[] in users/me/videos")
            .iter()
            .map(|v| v["uuid"].as_str().expect("uuid").to_string())
            .collect()
    }

    /// `(videoQuotaUsed, videoQuotaUsedDaily)`.
    #[track_caller]
    pub fn quota_used(&self, token: &str) -> (i64, i64) {
        let q = self.get_json("/api/v1/users/me/video-quota-used", Some(token));
        let field = |k: &str| q[k].as_i64().unwrap_or_else(|| panic!("{k} in {q}"));
        (field("videoQuotaUsed"), field("videoQuotaUsedDaily"))
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // The test output then shows what the node said before the failure.
        if std::thread::panicking() {
            eprintln!("--- end of the peerbox log ---\n{}", self.log_tail());
        }
    }
}

/// The harness's HTTP client; over HTTPS it trusts `ca_pem` (besides the public roots) and
/// speaks h2 or HTTP/1.1 as the server's ALPN offers.
fn client(ca_pem: Option<&str>) -> Client {
    let mut builder = Client::builder()
        // 308 is the resumable protocol's "go on", not a redirect to follow.
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(120));
    if let Some(pem) = ca_pem {
        let ca = reqwest::Certificate::from_pem(pem.as_bytes()).expect("the test CA's PEM");
        builder = builder.add_root_certificate(ca);
    }
    builder.build().expect("building the HTTP client")
}

fn owned(env: &[(&str, &str)]) -> Vec<(String, String)> {
    env.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A certificate authority made for one test: `Node::start_https` gets its certificates
/// from it, and the harness's requests to such nodes trust it (and nothing else does).
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Default for TestCa {
    fn default() -> Self {
        TestCa::new()
    }
}

impl TestCa {
    pub fn new() -> TestCa {
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, "Peerbox e2e test CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("generating the CA key");
        let issuer = CertifiedIssuer::self_signed(params, key).expect("signing the CA certificate");
        TestCa { issuer }
    }

    /// The CA certificate, PEM.
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// Issues a server certificate for `names` (IP addresses become IP SANs, others DNS
    /// names) and writes `cert.pem` and `key.pem` into `dir`; returns their paths.
    pub fn issue(&self, dir: &Path, names: &[&str]) -> (PathBuf, PathBuf) {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("valid certificate names");
        params
            .distinguished_name
            .push(DnType::CommonName, &names[0]);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().expect("generating a server key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("signing a server certificate");
        let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert_path, cert.pem()).expect("writing cert.pem");
        std::fs::write(&key_path, key.serialize_pem()).expect("writing key.pem");
        (cert_path, key_path)
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("finding a free port")
        .port()
}

#[track_caller]
pub fn send(rb: RequestBuilder) -> Response {
    rb.send()
        .unwrap_or_else(|e| panic!("no HTTP answer to a request: {e:?}"))
}

/// The `N + 1` of a `Range: bytes=0-N` header, if any.
pub fn received_range(resp: &Response) -> Option<usize> {
    let value = resp.headers().get(RANGE)?.to_str().ok()?;
    let last = value
        .strip_prefix("bytes=0-")
        .unwrap_or_else(|| panic!("{} answered Range: {value:?}, not bytes=0-N", resp.url()));
    Some(last.parse::<usize>().expect("a number in Range") + 1)
}

/// Asserts the status and returns the JSON body (Null when empty or not JSON); on a
/// mismatch the panic shows the body, which for errors says what went wrong.
#[track_caller]
pub fn expect_json(resp: Response, status: StatusCode) -> Value {
    let url = resp.url().clone();
    let got = resp.status();
    let text = resp.text().unwrap_or_default();
    assert_eq!(got, status, "{url} answered {got}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Checks that an error answer is RFC 7807 (`application/problem+json` with type, title,
/// status, detail) and returns its status and body, or says what is wrong with it.
pub fn problem(resp: Response) -> Result<(StatusCode, Value), String> {
    let url = resp.url().clone();
    let status = resp.status();
    let ctype = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = resp.text().unwrap_or_default();
    if !ctype.starts_with("application/problem+json") {
        return Err(format!(
            "{url} answered {status} with Content-Type {ctype:?}, not application/problem+json: {text}"
        ));
    }
    let body: Value = serde_json::from_str(&text).map_err(|e| {
        format!("{url} answered {status} with a body that is not JSON ({e}): {text}")
    })?;
    if body["status"] != status.as_u16() {
        return Err(format!(
            "{url} answered {status} but its body says status {}: {text}",
            body["status"]
        ));
    }
    for key in ["type", "title", "detail"] {
        if !body[key].is_string() {
            return Err(format!("{url}: the problem has no `{key}`: {text}"));
        }
    }
    Ok((status, body))
}

/// Asserts an RFC 7807 error with this status; returns the body.
#[track_caller]
pub fn assert_problem(resp: Response, status: StatusCode) -> Value {
    let url = resp.url().clone();
    let (got, body) = problem(resp).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got, status, "{url} answered {got}: {body}");
    body
}

/// Asserts an RFC 7807 error with this status and PeerTube's `code`.
#[track_caller]
pub fn assert_problem_code(resp: Response, status: StatusCode, code: &str) -> Value {
    let url = resp.url().clone();
    let body = assert_problem(resp, status);
    assert_eq!(body["code"], code, "{url}: wrong or missing code in {body}");
    body
}

/// Collects failed expectations, so that one run reports every mismatch of a matrix of
/// cases instead of stopping at the first.
#[derive(Default)]
pub struct Checks(Vec<String>);

impl Checks {
    pub fn fail(&mut self, message: String) {
        self.0.push(message);
    }

    /// Records a failure unless `request` gets the `expected` status; errors must also be
    /// RFC 7807 (with PeerTube's `code` when given). No answer at all (the request helpers
    /// panic then) is recorded too. Returns the JSON body of a success.
    pub fn status(
        &mut self,
        what: &str,
        request: impl FnOnce() -> Response,
        expected: StatusCode,
        code: Option<&str>,
    ) -> Option<Value> {
        let resp = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(request)) {
            Ok(resp) => resp,
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("the request panicked");
                self.fail(format!("{what}: expected {expected}; {message}"));
                return None;
            }
        };
        let got = resp.status();
        if got.is_success() {
            let body = resp.json().unwrap_or(Value::Null);
            if got == expected {
                return Some(body);
            }
            self.fail(format!("{what}: expected {expected}, got {got}: {body}"));
            return None;
        }
        match problem(resp) {
            Err(e) => self.fail(format!("{what}: {e}")),
            Ok((got, body)) if got != expected => {
                self.fail(format!("{what}: expected {expected}, got {got}: {body}"));
            }
            Ok((_, body)) => {
                if let Some(code) = code
                    && body["code"] != code
                {
                    self.fail(format!("{what}: expected code {code}: {body}"));
                }
            }
        }
        None
    }

    #[track_caller]
    pub fn assert_all_passed(self) {
        assert!(
            self.0.is_empty(),
            "{} checks failed:\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}

/// Relative paths of the regular files under `dir` (empty when it does not exist).
fn files_under(dir: &Path) -> BTreeSet<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if let Ok(rel) = path.strip_prefix(root) {
                out.insert(rel.to_path_buf());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

/// Polls `cond` every 100 ms until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        sleep(Duration::from_millis(100));
    }
}

/// Every page where `mallory`'s video (by `uuid` and `short` id) and her names appear: the
/// pages an injection test must check.
pub fn pages_showing_mallorys_video(uuid: &str, short: &str) -> Vec<String> {
    vec![
        "/".to_string(),
        "/search?search=script".to_string(),
        format!("/w/{short}"),
        format!("/videos/embed/{uuid}"),
        "/c/mallory_channel".to_string(),
        "/a/mallory".to_string(),
        "/my-library/videos".to_string(),
        format!("/videos/manage/{uuid}"),
    ]
}

/// A 2 s H.264/AAC test clip, 320x240, made by ffmpeg.
pub fn make_clip(dir: &Path, name: &str) -> PathBuf {
    make_clip_sized(dir, name, 2, "320x240")
}

/// An H.264/AAC test clip of `seconds` seconds and `size` (e.g. "1280x720"): moving test
/// pattern and a tone, made by ffmpeg.
pub fn make_clip_sized(dir: &Path, name: &str, seconds: u32, size: &str) -> PathBuf {
    make_clip_at(dir, name, seconds, size, None)
}

/// As `make_clip_sized`, with the video at `bitrate` (e.g. "3M") to make a larger file.
pub fn make_clip_at(
    dir: &Path,
    name: &str,
    seconds: u32,
    size: &str,
    bitrate: Option<&str>,
) -> PathBuf {
    let path = dir.join(name);
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y"])
        .args([
            "-f",
            "lavfi",
            "-i",
            &format!("testsrc2=duration={seconds}:size={size}:rate=25"),
        ])
        .args([
            "-f",
            "lavfi",
            "-i",
            &format!("sine=frequency=440:duration={seconds}"),
        ])
        .args([
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
        ])
        .args(bitrate.map(|b| ["-b:v", b]).iter().flatten())
        .arg(&path)
        .output()
        .expect("running ffmpeg (install it with `just deps`)");
    assert!(
        out.status.success(),
        "ffmpeg failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

/// `len` pseudo-random bytes (xorshift64*), the same for the same seed.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Runs a browser script of `tests/browser` with node and returns the JSON report it prints
/// last; fails the test on the script's error or on script errors in the pages.
pub fn browser(script: &str, args: &[&str]) -> Value {
    let out = Command::new("node")
        .arg(Path::new("browser").join(script))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("running node (install it with `just deps`)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: Value = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| {
            panic!("{script} printed no report; stdout: {stdout}\nstderr: {stderr}")
        });
    assert!(
        report["error"].is_null(),
        "{script} failed: {}",
        report["error"]
    );
    assert_eq!(
        report["pageErrors"],
        json!([]),
        "{script}: script errors on the pages"
    );
    report
}
