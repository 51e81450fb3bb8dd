//! Over-the-air updates of the qemu-virt board, booted for real: version N installs N+1 from
//! an HTTPS feed (served here with a test CA made by rcgen, trusted through the card's
//! `ota-feed.toml`), reboots into it and commits it once the node stayed healthy; N+2, whose
//! node never starts, is rolled back to N+1 by the boot loader; a tampered bundle is refused
//! before a byte is written; a newer bundle on a USB stick is installed at power on. The
//! admin drives it all through the node's API, as the admin page does.

use std::sync::Arc;

use peerbox_ota::bundle::{BundleSpec, DEFAULT_BLOCK_SIZE};
use peerbox_ota::keys::SecretKey;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

/// The version every test image of this run is built as; updates go up from there.
pub const FIRST_VERSION: &str = "1.0.0";

pub struct Keys {
    pub secret: PathBuf,
    pub public: PathBuf,
}

/// This run's update signing key; every test image trusts its public half.
pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = repo().join("target/image-test-keys");
        let _ = std::fs::remove_dir_all(&dir);
        let (secret, public, _) =
            peerbox_ota::keys::keygen(&dir, "test-updates").expect("update key");
        Keys { secret, public }
    })
}

/// Another qemu-virt build, as a later release (the caller holds MACHINE).
fn build_release(version: &str, overlay: Option<&Path>) -> Built {
    let start = Instant::now();
    let b = peerbox_image::build(
        &repo(),
        "qemu-virt",
        &Options {
            out_dir: Some(repo().join(format!("target/image/qemu-virt-{version}"))),
            version: Some(version.to_string()),
            ota_keys: vec![keys().public.clone()],
            overlay: overlay.map(Path::to_path_buf),
            ..Options::default()
        },
    )
    .unwrap_or_else(|e| panic!("building qemu-virt {version} failed: {e:#}"));
    println!(
        "TIMING qemu-virt {version}: image built in {:.0} s",
        start.elapsed().as_secs_f64()
    );
    b
}

/// Signs an image build as an update bundle of `version`, as `just ota-bundle` does.
fn sign(b: &Built, version: &str, dest: &Path) -> u64 {
    let key = SecretKey::load(&keys().secret).expect("signing key");
    peerbox_ota::bundle::create(
        &BundleSpec {
            version: version.to_string(),
            board: b.board.clone(),
            compatible_from: None,
            min_version: None,
            block_size: DEFAULT_BLOCK_SIZE,
            system_image: b.out_dir.join("system.erofs"),
            boot: b.out_dir.join("boot.fat"),
            boot_size: None,
        },
        &[key],
        dest,
    )
    .expect("bundle");
    std::fs::metadata(dest).expect("bundle size").len()
}

/// A static HTTPS server for the update feed; the guest reaches it as 10.0.2.2 (QEMU's
/// user network maps that address to the host's loopback).
struct Feed {
    dir: PathBuf,
    port: u16,
    ca_pem: String,
    _runtime: tokio::runtime::Runtime,
}

impl Feed {
    fn start(dir: &Path) -> Feed {
        let ca_key = rcgen::KeyPair::generate().expect("CA key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Peerbox update feed test CA");
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA cert");
        let key = rcgen::KeyPair::generate().expect("server key");
        let cert = rcgen::CertificateParams::new(vec!["10.0.2.2".to_string()])
            .expect("server cert")
            .signed_by(&key, &ca)
            .expect("signed");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone(), CertificateDer::from(ca.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .expect("TLS config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let root = dir.to_path_buf();
        runtime.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, root) = (acceptor.clone(), root.clone());
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        let _ = serve_file(tls, &root).await;
                    }
                });
            }
        });
        Feed {
            dir: dir.to_path_buf(),
            port,
            ca_pem: ca.pem(),
            _runtime: runtime,
        }
    }

    /// Lists `releases` (version, bundle file name, size) in the feed's index.
    fn publish(&self, releases: &[(&str, &str, u64)]) {
        let updates: Vec<Value> = releases
            .iter()
            .map(|(version, file, size)| {
                serde_json::json!({"version": version, "board": "qemu-virt", "url": file, "size": size})
            })
            .collect();
        std::fs::write(
            self.dir.join("index.json"),
            serde_json::json!({ "updates": updates }).to_string(),
        )
        .expect("index.json");
    }
}

/// One GET per connection: the file under `root`, whole or from `Range: bytes=N-`.
async fn serve_file<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut stream: S,
    root: &Path,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        if stream.read(&mut byte).await? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let path = head
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .trim_start_matches('/');
    let from: u64 = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("range: bytes=")
                .map(|r| r.trim_end_matches('-').parse().unwrap_or(0))
        })
        .unwrap_or(0);
    let file = root.join(path);
    let Ok(mut f) = tokio::fs::File::open(&file).await.and_then(|f| {
        if path.contains("..") {
            Err(std::io::ErrorKind::NotFound.into())
        } else {
            Ok(f)
        }
    }) else {
        stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await?;
        return stream.shutdown().await;
    };
    let len = f.metadata().await?.len();
    let status = if from > 0 {
        format!(
            "206 Partial Content\r\nContent-Range: bytes {from}-{}/{len}",
            len - 1
        )
    } else {
        "200 OK".to_string()
    };
    stream
        .write_all(
            format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                len - from
            )
            .as_bytes(),
        )
        .await?;
    tokio::io::AsyncSeekExt::seek(&mut f, std::io::SeekFrom::Start(from)).await?;
    tokio::io::copy(&mut f, &mut stream).await?;
    stream.shutdown().await
}

/// Writes a file onto the card's first partition, as a user does with a card reader.
fn put_on_card(disk: &Path, name: &str, content: &str) {
    let table = partition_table(disk);
    let (config_at, _, _) = part(&table, disk, CONFIG);
    let local = disk.with_file_name(name);
    std::fs::write(&local, content).expect("file for the card");
    let status = Command::new("mcopy")
        .env("MTOOLS_SKIP_CHECK", "1")
        .arg("-o")
        .arg("-i")
        .arg(fat::at(disk, config_at))
        .arg(&local)
        .arg(format!("::{name}"))
        .status()
        .expect("mcopy");
    assert!(status.success(), "mcopy {name}");
}

/// SHA-256 of partition `n` of the card.
fn partition_sha256(disk: &Path, n: u8) -> String {
    use sha2::Digest;
    let table = partition_table(disk);
    let (at, size, _) = part(&table, disk, n);
    let mut f = std::fs::File::open(disk).expect("card");
    std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(at)).expect("seek");
    let mut hasher = sha2::Sha256::new();
    std::io::copy(&mut Read::take(f, size), &mut hasher).expect("read partition");
    hex::encode(hasher.finalize())
}

impl Vm {
    fn ota_status(&self, token: &str) -> Option<Value> {
        let r = self
            .get("/api/v1/admin/ota")
            .bearer_auth(token)
            .send()
            .ok()?;
        (r.status() == 200).then(|| r.json().ok()).flatten()
    }

    /// Polls the update status until `done` holds; prints what it saw on the way.
    fn wait_ota(
        &self,
        token: &str,
        what: &str,
        limit: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let since = Instant::now();
        let mut last = Value::Null;
        loop {
            if let Some(status) = self.ota_status(token) {
                if done(&status) {
                    println!(
                        "TIMING qemu-virt: {what} after {:.0} s",
                        since.elapsed().as_secs_f64()
                    );
                    return status;
                }
                last = status;
            }
            assert!(
                since.elapsed() < limit,
                "{what}: not within {limit:?}; last status {last:#}\n--- serial ---\n{}",
                self.serial_tail()
            );
            std::thread::sleep(Duration::from_secs(2));
        }
    }

    fn request(&self, token: &str, what: &str) -> reqwest::blocking::Response {
        self.post(&format!("/api/v1/admin/ota/{what}"))
            .bearer_auth(token)
            .send()
            .unwrap_or_else(|e| panic!("POST /api/v1/admin/ota/{what}: {e}"))
    }

    /// Asks for the reboot into the pending update and waits for the node to go away and
    /// come back.
    fn reboot_into_update(&mut self, token: &str) {
        let r = self.request(token, "reboot");
        assert_eq!(r.status(), 202, "{}", r.text().unwrap_or_default());
        let since = Instant::now();
        while self.healthy().is_some() {
            assert!(
                since.elapsed() < Duration::from_secs(120),
                "the box did not reboot\n{}",
                self.serial_tail()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
        self.wait_healthy(Duration::from_secs(600));
    }

    fn boots_of(&self, slot: &str) -> usize {
        std::fs::read_to_string(&self.serial)
            .unwrap_or_default()
            .matches(&format!("peerbox: booting slot {slot}"))
            .count()
    }
}

#[test]
fn qemu_virt_installs_an_update_commits_it_rolls_back_a_bad_one_and_refuses_tampering() {
    let _m = machine();
    let first = built("qemu-virt");
    let good = build_release("1.0.1", None);
    // A release whose node never starts: systemd gives up on it, reboots, and the boot
    // loader, finding the trial slot without tries, boots the previous one.
    let broken_overlay = tempfile::tempdir().expect("tempdir");
    let dropin = broken_overlay
        .path()
        .join("usr/lib/systemd/system/peerbox.service.d");
    std::fs::create_dir_all(&dropin).expect("overlay");
    std::fs::write(
        dropin.join("zz-broken.conf"),
        "[Service]\nExecStart=\nExecStart=/bin/false\n",
    )
    .expect("drop-in");
    let broken = build_release("1.0.2", Some(broken_overlay.path()));

    let feed_dir = tempfile::tempdir().expect("tempdir");
    let good_size = sign(&good, "1.0.1", &feed_dir.path().join("good.pbx"));
    let broken_size = sign(&broken, "1.0.2", &feed_dir.path().join("broken.pbx"));
    // Tampered: one byte of the signed manifest changed.
    let mut tampered = std::fs::read(feed_dir.path().join("good.pbx")).expect("bundle");
    let at = tampered
        .windows(7)
        .position(|w| w == b"\"1.0.1\"")
        .expect("version in the manifest");
    tampered[at + 5] = b'3';
    std::fs::write(feed_dir.path().join("tampered.pbx"), &tampered).expect("tampered");
    drop(tampered);
    println!("bundle sizes: 1.0.1 {good_size} bytes, 1.0.2 {broken_size} bytes");

    let feed = Feed::start(feed_dir.path());
    feed.publish(&[("1.0.1", "good.pbx", good_size)]);
    let dir = tempfile::tempdir().expect("tempdir");
    let (disk, _) = flash(&first, dir.path());
    put_on_card(
        &disk,
        "ota-feed.toml",
        &format!(
            "[feed]\nurl = \"https://10.0.2.2:{}/index.json\"\nca_file = \"ota-feed-ca.pem\"\n",
            feed.port
        ),
    );
    put_on_card(&disk, "ota-feed-ca.pem", &feed.ca_pem);

    let mut vm = start_vm(&first, &disk, dir.path(), false);
    vm.wait_healthy(Duration::from_secs(420));
    assert_eq!(vm.claim(&claim_code_on_card(&disk)).status(), 200);
    let token = vm.login("peerbox.local");
    let status = vm.wait_ota(
        &token,
        "update status readable",
        Duration::from_secs(60),
        |s| s["available"] == true,
    );
    assert_eq!(status["currentVersion"], FIRST_VERSION, "{status:#}");

    // N → N+1 from the feed: installed into slot B while the node serves, then a trial
    // boot, committed once healthy for the hold time.
    let r = vm.request(&token, "check");
    assert_eq!(r.status(), 202, "{}", r.text().unwrap_or_default());
    vm.wait_ota(
        &token,
        "1.0.1 downloaded and written",
        Duration::from_secs(1200),
        |s| s["pending"]["version"] == "1.0.1" && s["pending"]["state"] == "reboot-required",
    );
    assert_eq!(
        vm.get("/api/v1/videos").send().expect("videos").status(),
        200
    );
    vm.reboot_into_update(&token);
    let status = vm.wait_ota(&token, "1.0.1 committed", Duration::from_secs(300), |s| {
        s["currentVersion"] == "1.0.1" && s["lastResult"]["result"] == "success"
    });
    assert_eq!(status["bootedSlot"], "B", "{status:#}");
    assert_eq!(vm.boots_of("B"), 1, "{}", vm.serial_tail());
    // The data partition (the administrator's account) survived the update.
    let token = vm.login("peerbox.local");

    // N+1 → N+2, whose node never starts: rolled back to N+1 automatically.
    feed.publish(&[
        ("1.0.1", "good.pbx", good_size),
        ("1.0.2", "broken.pbx", broken_size),
    ]);
    let r = vm.request(&token, "check");
    assert_eq!(r.status(), 202, "{}", r.text().unwrap_or_default());
    vm.wait_ota(
        &token,
        "1.0.2 downloaded and written",
        Duration::from_secs(1200),
        |s| s["pending"]["version"] == "1.0.2" && s["pending"]["state"] == "reboot-required",
    );
    vm.reboot_into_update(&token);
    let status = vm.wait_ota(&token, "1.0.2 rolled back", Duration::from_secs(300), |s| {
        s["lastResult"]["result"] == "rolled-back"
    });
    assert_eq!(status["currentVersion"], "1.0.1", "{status:#}");
    assert_eq!(status["bootedSlot"], "B", "{status:#}");
    assert_eq!(status["lastResult"]["version"], "1.0.2", "{status:#}");
    assert!(
        vm.boots_of("A") >= 2,
        "the trial of slot A did not happen\n{}",
        vm.serial_tail()
    );

    // A tampered bundle: refused before anything is written to the free slot.
    let slot_a = partition_sha256(&disk, SYSTEM_A);
    feed.publish(&[
        ("1.0.1", "good.pbx", good_size),
        ("1.0.2", "broken.pbx", broken_size),
        (
            "1.0.3",
            "tampered.pbx",
            std::fs::metadata(feed.dir.join("tampered.pbx"))
                .expect("size")
                .len(),
        ),
    ]);
    let r = vm.request(&token, "check");
    assert_eq!(r.status(), 202, "{}", r.text().unwrap_or_default());
    let status = vm.wait_ota(
        &token,
        "tampered bundle refused",
        Duration::from_secs(300),
        |s| s["lastResult"]["result"] == "refused",
    );
    let message = status["lastResult"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("signature"), "{status:#}");
    assert!(status["pending"].is_null(), "{status:#}");
    assert_eq!(
        partition_sha256(&disk, SYSTEM_A),
        slot_a,
        "slot A was written"
    );
    assert_eq!(status["currentVersion"], "1.0.1", "{status:#}");

    // A USB stick: the box is switched off, a stick holding a newer bundle is plugged in, and
    // the box installs it at power on (and waits for the admin's restart, as from the feed).
    drop(vm);
    let stick = dir.path().join("stick.img");
    let stick_bundle = dir.path().join("peerbox-qemu-virt-1.0.3.pbx");
    let size = sign(&good, "1.0.3", &stick_bundle);
    make_fat_stick(&stick, &stick_bundle, size);
    std::fs::remove_file(&stick_bundle).expect("bundle copy");
    let mut vm = start_vm_with(
        &first,
        &disk,
        &dir.path().join("serial-usb.log"),
        false,
        Some(&stick),
    );
    vm.wait_healthy(Duration::from_secs(420));
    let status = vm.wait_ota(
        &token,
        "1.0.3 installed from a USB stick",
        Duration::from_secs(900),
        |s| s["pending"]["version"] == "1.0.3" && s["pending"]["state"] == "reboot-required",
    );
    assert_eq!(status["currentVersion"], "1.0.1", "{status:#}");
    let serial = std::fs::read_to_string(&vm.serial).unwrap_or_default();
    assert!(
        serial.contains("installing peerbox-qemu-virt-1.0.3.pbx from the USB stick"),
        "{}",
        vm.serial_tail()
    );
}

/// A FAT USB stick image holding `bundle`, as a user copies it with any computer.
fn make_fat_stick(stick: &Path, bundle: &Path, size: u64) {
    let kib = size / 1024 + 64 * 1024;
    let ok = Command::new("mkfs.vfat")
        .args(["-F", "32", "-n", "UPDATE", "-C"])
        .arg(stick)
        .arg(kib.to_string())
        .stdout(Stdio::null())
        .status()
        .expect("mkfs.vfat");
    assert!(ok.success(), "mkfs.vfat");
    let name = bundle
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let ok = Command::new("mcopy")
        .env("MTOOLS_SKIP_CHECK", "1")
        .arg("-i")
        .arg(stick)
        .arg(bundle)
        .arg(format!("::{name}"))
        .status()
        .expect("mcopy");
    assert!(ok.success(), "mcopy onto the stick");
}
