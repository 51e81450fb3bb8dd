//! Over-the-air updates from the administrator's side, on a simulated device (`[slots]
//! kind = "sim"`): the status API and page, the check and reboot requests, and uploaded
//! bundles, which the node verifies itself before it hands them to the root updater as
//! `<data_dir>/ota/bundle.pbx`. The root updater is played by `peerbox ota install`.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use peerbox_e2e::*;
use reqwest::blocking::multipart;
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// A simulated device with its keys and bundles, in a temp dir.
struct Device {
    dir: tempfile::TempDir,
}

/// A node whose updater is a simulated device running 1.0.0 and trusting the `release` key
/// (made with the node's binary once it runs).
fn start() -> (Device, Node) {
    let device = Device {
        dir: tempfile::tempdir().expect("temp dir"),
    };
    let node = Node::start_with_env(&[("PEERBOX_OTA_CONFIG", s(&device.config()))]);
    device.make(&node);
    (device, node)
}

impl Device {
    fn make(&self, node: &Node) {
        let d = self.path();
        for name in ["release", "stranger"] {
            let out = d.join(format!("keys-{name}"));
            run_ok(node, &["ota", "keygen", "--out", s(&out), "--name", name]);
        }
        let sim = d.join("sim");
        fs::create_dir_all(&sim).expect("sim dir");
        for file in ["a.boot", "a.system", "b.boot", "b.system"] {
            fs::File::create(sim.join(file))
                .and_then(|f| f.set_len(1024 * 1024))
                .expect("slot file");
        }
        fs::write(sim.join("boot_id"), "first\n").expect("boot id");
        fs::write(
            sim.join("bootloader.json"),
            r#"{"primary":"A","armed":null,"disabled":[],"booted":"A","booted_trial":false}"#,
        )
        .expect("sim bootloader");
        fs::write(d.join("version"), "1.0.0\n").expect("version file");
        fs::write(
            self.config(),
            format!(
                "board = \"sim-board\"\nkeyring = \"{}\"\nversion_file = \"{}\"\n\
                 state_dir = \"{}\"\nboot_id = \"{}\"\n[slots]\nkind = \"sim\"\ndir = \"{}\"\n",
                d.join("keys-release").display(),
                d.join("version").display(),
                d.join("ota-state").display(),
                sim.join("boot_id").display(),
                sim.display()
            ),
        )
        .expect("ota.toml");
        fs::create_dir_all(d.join("image/boot")).expect("boot files");
        fs::write(d.join("image/boot/config.txt"), "arm_64bit=1\n").expect("config.txt");
        fs::write(d.join("image/system.img"), random_bytes(300_000, 7)).expect("system");
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn config(&self) -> PathBuf {
        self.path().join("ota.toml")
    }

    /// `peerbox ota bundle`, signed by `key` (`release` or `stranger`).
    fn bundle(&self, node: &Node, version: &str, board: &str, key: &str) -> PathBuf {
        let d = self.path();
        let out = d.join(format!("{board}-{version}-{key}.pbx"));
        let key = d.join(format!("keys-{key}/{key}.key"));
        run_ok(
            node,
            &[
                "ota",
                "bundle",
                "--key",
                s(&key),
                "--system",
                s(&d.join("image/system.img")),
                "--boot",
                s(&d.join("image/boot")),
                "--boot-size",
                "262144",
                "--version",
                version,
                "--board",
                board,
                "-o",
                s(&out),
            ],
        );
        out
    }
}

fn s(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

#[track_caller]
fn run_ok(node: &Node, args: &[&str]) -> String {
    let out = node.cli(args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "peerbox {}: {text}", args.join(" "));
    text
}

fn requests_dir(node: &Node) -> PathBuf {
    node.data_dir().join("ota")
}

/// Every file in the requests folder, hidden ones included.
fn request_files(node: &Node) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(requests_dir(node))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn status(node: &Node, token: &str) -> Value {
    node.get_json("/api/v1/admin/ota", Some(token))
}

fn post(node: &Node, path: &str, token: Option<&str>) -> reqwest::blocking::Response {
    send(node.req(Method::POST, path, token))
}

fn upload_raw(node: &Node, token: &str, bytes: Vec<u8>) -> reqwest::blocking::Response {
    send(
        node.req(Method::POST, "/api/v1/admin/ota/upload", Some(token))
            .header("Content-Type", "application/octet-stream")
            .body(bytes),
    )
}

fn upload_multipart(node: &Node, token: &str, bytes: Vec<u8>) -> reqwest::blocking::Response {
    let form = multipart::Form::new().text("note", "from the page").part(
        "bundle",
        multipart::Part::bytes(bytes).file_name("update.pbx"),
    );
    send(
        node.req(Method::POST, "/api/v1/admin/ota/upload", Some(token))
            .multipart(form),
    )
}

#[track_caller]
fn updates_page(node: &Node, cookie: &str) -> String {
    let resp = send(
        node.req(Method::GET, "/admin/updates", None)
            .header("Cookie", cookie),
    );
    let status = resp.status();
    let text = resp.text().unwrap_or_default();
    assert_eq!(status, StatusCode::OK, "GET /admin/updates: {text}");
    text
}

#[test]
fn only_administrators_see_and_start_updates() {
    let (_device, node) = start();
    let admin = node.admin();
    let user = node.create_account("alice", -1, -1);

    let s = status(&node, &admin.token);
    assert_eq!(s["available"], true, "{s}");
    assert_eq!(s["currentVersion"], "1.0.0", "{s}");
    assert_eq!(s["board"], "sim-board", "{s}");
    assert_eq!(s["bootedSlot"], "A", "{s}");
    assert_eq!(s["pending"], Value::Null, "{s}");
    assert_eq!(s["progress"], Value::Null, "{s}");
    assert_eq!(s["requests"], serde_json::json!([]), "{s}");

    let mut checks = Checks::default();
    for (method, path) in [
        (Method::GET, "/api/v1/admin/ota"),
        (Method::POST, "/api/v1/admin/ota/check"),
        (Method::POST, "/api/v1/admin/ota/reboot"),
        (Method::POST, "/api/v1/admin/ota/upload"),
    ] {
        for (who, token, expected) in [
            ("anonymous", None, StatusCode::UNAUTHORIZED),
            ("a user", Some(user.token.as_str()), StatusCode::FORBIDDEN),
        ] {
            checks.status(
                &format!("{method} {path} as {who}"),
                || send(node.req(method.clone(), path, token)),
                expected,
                None,
            );
        }
    }
    checks.assert_all_passed();
    assert_eq!(request_files(&node), Vec::<String>::new());

    // The page: for administrators only, with the running version.
    let cookie = node.page_login("admin", "admin-e2e-password");
    let page = updates_page(&node, &cookie);
    assert!(page.contains("Running version"), "{page}");
    assert!(page.contains("1.0.0"), "{page}");
    assert!(page.contains("Check for updates"), "{page}");
    assert!(page.contains(r#"type="file""#), "{page}");
    let alice = node.page_login("alice", &user.password);
    let resp = send(
        node.req(Method::GET, "/admin/updates", None)
            .header("Cookie", &alice),
    );
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

#[test]
fn check_and_reboot_leave_requests_for_the_updater() {
    let (device, node) = start();
    let admin = node.admin();

    let body = assert_problem(
        post(&node, "/api/v1/admin/ota/reboot", Some(&admin.token)),
        StatusCode::CONFLICT,
    );
    assert!(
        body["detail"].as_str().unwrap_or("").contains("No update"),
        "{body}"
    );
    assert_eq!(request_files(&node), Vec::<String>::new());

    let resp = post(&node, "/api/v1/admin/ota/check", Some(&admin.token));
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert_eq!(request_files(&node), vec!["check"]);
    assert_eq!(
        fs::read(requests_dir(&node).join("check")).expect("check request"),
        b""
    );
    assert_eq!(
        status(&node, &admin.token)["requests"],
        serde_json::json!(["check"])
    );
    // One request at a time.
    assert_problem(
        post(&node, "/api/v1/admin/ota/check", Some(&admin.token)),
        StatusCode::CONFLICT,
    );
    let good = device.bundle(&node, "1.1.0", "sim-board", "release");
    assert_problem(
        upload_raw(&node, &admin.token, fs::read(&good).expect("bundle")),
        StatusCode::CONFLICT,
    );
    assert_eq!(request_files(&node), vec!["check"]);
}

#[test]
fn an_uploaded_bundle_is_verified_before_the_updater_gets_it() {
    let (device, mut node) = start();
    let admin = node.admin();
    let good = device.bundle(&node, "1.1.0", "sim-board", "release");
    let good_bytes = fs::read(&good).expect("bundle");

    // Refused: nothing reaches the requests folder, not even a partial file.
    let mut tampered = good_bytes.clone();
    let at = tampered.len() - 1000;
    tampered[at] ^= 0x01;
    let other_board = fs::read(device.bundle(&node, "1.1.0", "other-board", "release"))
        .expect("other board bundle");
    let unknown_key =
        fs::read(device.bundle(&node, "1.1.0", "sim-board", "stranger")).expect("bundle");
    for (what, bytes, says) in [
        ("a tampered bundle", tampered.clone(), "does not match"),
        (
            "a bundle signed by an unknown key",
            unknown_key,
            "unknown key",
        ),
        ("a bundle for another board", other_board, "other-board"),
        (
            "a file that is no bundle",
            random_bytes(4096, 1),
            "not a Peerbox update bundle",
        ),
    ] {
        let body = assert_problem(
            upload_raw(&node, &admin.token, bytes),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
        let detail = body["detail"].as_str().unwrap_or("");
        assert!(detail.contains(says), "{what}: {body}");
        assert_eq!(request_files(&node), Vec::<String>::new(), "{what}");
    }
    let body = assert_problem(
        upload_multipart(&node, &admin.token, tampered),
        StatusCode::UNPROCESSABLE_ENTITY,
    );
    assert!(
        body["detail"].as_str().unwrap_or("").contains("block"),
        "{body}"
    );
    assert_eq!(request_files(&node), Vec::<String>::new());

    // Accepted, as the page sends it (the raw file) and as a multipart form.
    for how in ["multipart", "raw"] {
        let resp = match how {
            "multipart" => upload_multipart(&node, &admin.token, good_bytes.clone()),
            _ => upload_raw(&node, &admin.token, good_bytes.clone()),
        };
        let body = expect_json(resp, StatusCode::ACCEPTED);
        assert_eq!(body["version"], "1.1.0", "{how}: {body}");
        assert_eq!(request_files(&node), vec!["bundle.pbx"], "{how}");
        let handed = fs::read(requests_dir(&node).join("bundle.pbx")).expect("request");
        assert!(
            handed == good_bytes,
            "{how}: the handed-over bundle differs"
        );
        assert_eq!(
            status(&node, &admin.token)["requests"],
            serde_json::json!(["bundle.pbx"])
        );
        if how == "multipart" {
            // A second one waits for the first.
            assert_problem(
                upload_raw(&node, &admin.token, good_bytes.clone()),
                StatusCode::CONFLICT,
            );
            fs::remove_file(requests_dir(&node).join("bundle.pbx")).expect("taking it");
        }
    }

    // The root updater's part: install the request, then remove it.
    let request = requests_dir(&node).join("bundle.pbx");
    run_ok(&node, &["ota", "install", s(&request)]);
    fs::remove_file(&request).expect("taking the request");
    let s = status(&node, &admin.token);
    assert_eq!(s["currentVersion"], "1.0.0", "{s}");
    assert_eq!(s["pending"]["version"], "1.1.0", "{s}");
    assert_eq!(s["pending"]["state"], "reboot-required", "{s}");
    assert_eq!(s["pending"]["slot"], "B", "{s}");

    let cookie = node.page_login("admin", "admin-e2e-password");
    let page = updates_page(&node, &cookie);
    assert!(
        page.contains("1.1.0: installed, waiting for a restart"),
        "{page}"
    );
    assert!(
        page.contains(r#"<button id="ota-reboot" type="button">Restart to finish the update"#),
        "the restart button is shown: {page}"
    );

    let resp = post(&node, "/api/v1/admin/ota/reboot", Some(&admin.token));
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert_eq!(request_files(&node), vec!["reboot"]);

    // A disk that cannot hold the bundle: refused before a byte is kept.
    fs::remove_file(requests_dir(&node).join("reboot")).expect("taking it");
    let answer = raw_request(
        &node,
        "POST /api/v1/admin/ota/upload HTTP/1.1\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: 1000000000000000\r\n",
        &admin.token,
        b"PBXOTA",
    );
    assert!(answer.starts_with("HTTP/1.1 507"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert_eq!(request_files(&node), Vec::<String>::new());

    // Killed mid-upload: the partial file is gone after the restart.
    let head = format!(
        "POST /api/v1/admin/ota/upload HTTP/1.1\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {}\r\n",
        good_bytes.len()
    );
    let mut stream = open_request(&node, &head, &admin.token);
    stream
        .write_all(&good_bytes[..good_bytes.len() / 2])
        .expect("sending half");
    let part = requests_dir(&node).join(".bundle.pbx.part");
    assert!(
        wait_until(Duration::from_secs(10), || fs::metadata(&part)
            .is_ok_and(|m| m.len() > 0)),
        "the upload is being received"
    );
    node.kill9();
    drop(stream);
    node.restart();
    assert_eq!(request_files(&node), Vec::<String>::new());
}

#[test]
fn a_system_without_updater_says_so() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("ota.toml");
    let node = Node::start_with_env(&[("PEERBOX_OTA_CONFIG", s(&missing))]);
    let admin = node.admin();
    let s = status(&node, &admin.token);
    assert_eq!(s["available"], false, "{s}");
    assert!(
        s["reason"]
            .as_str()
            .unwrap_or("")
            .contains("not available on this system"),
        "{s}"
    );
    for path in ["/api/v1/admin/ota/check", "/api/v1/admin/ota/reboot"] {
        let body = assert_problem(post(&node, path, Some(&admin.token)), StatusCode::CONFLICT);
        assert!(
            body["detail"]
                .as_str()
                .unwrap_or("")
                .contains("not available"),
            "{path}: {body}"
        );
    }
    let body = assert_problem(
        upload_raw(&node, &admin.token, b"PBXOTA".to_vec()),
        StatusCode::CONFLICT,
    );
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or("")
            .contains("not available"),
        "{body}"
    );
    assert!(!requests_dir(&node).exists());
    let cookie = node.page_login("admin", "admin-e2e-password");
    let page = updates_page(&node, &cookie);
    assert!(
        page.contains("Updates are not available on this system"),
        "{page}"
    );
    assert!(!page.contains("Check for updates"), "{page}");
}

/// Sends a request's head (`head` without the blank line) with the bearer token.
fn open_request(node: &Node, head: &str, token: &str) -> std::net::TcpStream {
    let addr = node.base_url().trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(&addr).expect("connecting");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    write!(
        stream,
        "{head}Host: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .expect("sending the head");
    stream
}

/// A request whose body is cut short after `body`; the answer as text.
fn raw_request(node: &Node, head: &str, token: &str, body: &[u8]) -> String {
    let mut stream = open_request(node, head, token);
    stream.write_all(body).expect("sending the body");
    stream
        .shutdown(std::net::Shutdown::Write)
        .expect("ending the body");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn an_install_running_in_the_updater_shows_its_progress() {
    let (device, node) = start();
    let admin = node.admin();
    // The root updater at work: it holds the updater's lock and publishes its progress.
    let state = device.path().join("ota-state");
    fs::create_dir_all(&state).expect("state dir");
    let lock = fs::File::create(state.join("lock")).expect("lock file");
    lock.lock().expect("taking the updater's lock");
    fs::write(
        state.join("progress.json"),
        r#"{"stage":"writing","version":"1.2.0","done":250,"total":1000}"#,
    )
    .expect("progress");

    let s = status(&node, &admin.token);
    assert_eq!(s["progress"]["stage"], "writing", "{s}");
    assert_eq!(s["progress"]["version"], "1.2.0", "{s}");
    assert_eq!(s["progress"]["percent"], 25, "{s}");
    let body = assert_problem(
        post(&node, "/api/v1/admin/ota/check", Some(&admin.token)),
        StatusCode::CONFLICT,
    );
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or("")
            .contains("being installed"),
        "{body}"
    );
    let good = device.bundle(&node, "1.1.0", "sim-board", "release");
    assert_problem(
        upload_raw(&node, &admin.token, fs::read(&good).expect("bundle")),
        StatusCode::CONFLICT,
    );
    assert_eq!(request_files(&node), Vec::<String>::new());
    let cookie = node.page_login("admin", "admin-e2e-password");
    let page = updates_page(&node, &cookie);
    assert!(
        page.contains(r#"<progress id="ota-progress-bar" max="100" value="25">"#),
        "{page}"
    );
    assert!(page.contains("Writing 1.2.0"), "{page}");

    // Done: no progress bar, and a check may be asked again.
    drop(lock);
    fs::remove_file(state.join("progress.json")).expect("progress done");
    assert_eq!(status(&node, &admin.token)["progress"], Value::Null);
    let resp = post(&node, "/api/v1/admin/ota/check", Some(&admin.token));
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
}
