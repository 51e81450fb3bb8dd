//! Updates from an HTTPS feed served on loopback with a test CA made here (rcgen, rustls):
//! the download resumes with Range after the connection drops, a data cap stops it, a
//! server the device doesn't trust is refused, and an upload installs from a reader.

mod common;

use std::collections::{HashMap, VecDeque};
use std::fs;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use common::*;
use peerbox_ota::slots::{Sim, SlotId};
use peerbox_ota::state::OutcomeKind;
use peerbox_ota::{Error, Ota, OtaConfig, PollResult, Source};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Default)]
struct Served {
    files: HashMap<String, Vec<u8>>,
    /// For each bundle response in turn: drop the connection after this many body bytes.
    cuts: VecDeque<usize>,
    /// "path range" of each request.
    log: Vec<String>,
}

struct Server {
    addr: SocketAddr,
    ca_pem: String,
    state: Arc<Mutex<Served>>,
}

async fn start_server() -> Result<Server, Box<dyn std::error::Error>> {
    let ca_key = rcgen::KeyPair::generate()?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Peerbox test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key)?;
    let key = rcgen::KeyPair::generate()?;
    let cert =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])?
            .signed_by(&key, &ca)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone(), CertificateDer::from(ca.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let state = Arc::new(Mutex::new(Served::default()));
    let st = state.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let st = st.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    let _ = handle(tls, st).await;
                }
            });
        }
    });
    Ok(Server {
        addr,
        ca_pem: ca.pem(),
        state,
    })
}

/// One HTTP/1.1 GET with optional `Range: bytes=N-`, then the connection closes.
async fn handle<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut s: S,
    st: Arc<Mutex<Served>>,
) -> std::io::Result<()> {
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 16384 {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        req.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&req).to_string();
    let path = text.split_whitespace().nth(1).unwrap_or("/").to_string();
    let range = text
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("range: bytes=")
                .map(|r| r.trim_end_matches('-').to_string())
        })
        .and_then(|r| r.parse::<usize>().ok());
    let (body, cut) = {
        let Ok(mut g) = st.lock() else { return Ok(()) };
        g.log.push(
            format!(
                "{path} {}",
                range.map(|r| format!("from {r}")).unwrap_or_default()
            )
            .trim()
            .to_string(),
        );
        let body = g.files.get(&path).cloned();
        let cut = if path.ends_with(".pbx") {
            g.cuts.pop_front()
        } else {
            None
        };
        (body, cut)
    };
    let Some(body) = body else {
        s.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await?;
        return s.shutdown().await;
    };
    let (head, part) = match range {
        Some(from) if from < body.len() => (
            format!(
                "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {from}-{}/{}\r\nContent-Length: {}\r\n",
                body.len() - 1,
                body.len(),
                body.len() - from
            ),
            &body[from..],
        ),
        _ => (
            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n", body.len()),
            &body[..],
        ),
    };
    s.write_all(format!("{head}Accept-Ranges: bytes\r\nConnection: close\r\n\r\n").as_bytes())
        .await?;
    match cut {
        // The network drops: part of the body, then the socket goes away without a TLS close.
        Some(n) => {
            s.write_all(&part[..n.min(part.len())]).await?;
            s.flush().await?;
            Ok(())
        }
        None => {
            s.write_all(part).await?;
            s.shutdown().await
        }
    }
}

struct Setup {
    _t: tempfile::TempDir,
    dev: SimDevice,
    bundle: Vec<u8>,
    server: Server,
}

async fn setup(feed_extra: &str, trust: bool) -> Result<Setup, Box<dyn std::error::Error>> {
    let t = tempfile::tempdir()?;
    let keys = keygen(&t.path().join("keys"), "release")?;
    let mut o = BundleOpts::new("1.1.0");
    o.system_len = 300_000;
    let bundle = fs::read(make_bundle(t.path(), &[&keys.key], &o)?)?;
    let older = fs::read(make_bundle(
        t.path(),
        &[&keys.key],
        &BundleOpts::new("0.9.0"),
    )?)?;
    let dev = sim_device(
        &t.path().join("dev"),
        &keys.public,
        "1.0.0",
        (256 * 1024, 512 * 1024),
    )?;
    let server = start_server().await?;
    {
        let mut g = server.state.lock().map_err(|_| "lock")?;
        let index = serde_json::json!({"updates": [
            {"version": "0.9.0", "board": "sim-board", "url": "bundles/old.pbx"},
            {"version": "1.1.0", "board": "sim-board", "url": "bundles/new.pbx", "size": bundle.len()},
            {"version": "9.0.0", "board": "rpi5", "url": "bundles/rpi5.pbx"}
        ]});
        g.files
            .insert("/feed/index.json".into(), serde_json::to_vec(&index)?);
        g.files
            .insert("/feed/bundles/new.pbx".into(), bundle.clone());
        g.files.insert("/feed/bundles/old.pbx".into(), older);
    }
    let ca = t.path().join("ca.pem");
    fs::write(&ca, &server.ca_pem)?;
    let mut text = fs::read_to_string(&dev.config_path)?;
    text.push_str(&format!(
        "\n[feed]\nurl = \"https://localhost:{}/feed/index.json\"\nretry_delay_ms = 10\nstall_secs = 5\n{}{feed_extra}\n",
        server.addr.port(),
        if trust { format!("ca_file = \"{}\"\n", ca.display()) } else { String::new() }
    ));
    let mut dev = dev;
    dev.config = OtaConfig::parse(&text)?;
    Ok(Setup {
        _t: t,
        dev,
        bundle,
        server,
    })
}

fn log(s: &Setup) -> Vec<String> {
    s.server
        .state
        .lock()
        .map(|g| g.log.clone())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_install_resumes_after_the_connection_drops() -> TestResult {
    let s = setup("", true).await?;
    s.server
        .state
        .lock()
        .map_err(|_| "lock")?
        .cuts
        .extend([100_000, 50_000, 0]);
    let ota = Arc::new(Ota::new(s.dev.config.clone())?);
    let entry = ota.check_feed().await?.ok_or("no update offered")?;
    assert_eq!(entry.version, "1.1.0");
    assert_eq!(
        entry.url,
        format!(
            "https://localhost:{}/feed/bundles/new.pbx",
            s.server.addr.port()
        )
    );
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let progress: peerbox_ota::ProgressFn = Arc::new(move |p| {
        if let Ok(mut v) = seen2.lock() {
            v.push(p.clone())
        }
    });
    let installed = ota
        .install(Source::Feed, progress)
        .await?
        .ok_or("nothing installed")?;
    assert_eq!(
        (installed.version.as_str(), installed.slot),
        ("1.1.0", SlotId::B)
    );
    let requests = log(&s);
    let bundle_requests: Vec<&String> = requests.iter().filter(|r| r.contains("new.pbx")).collect();
    assert_eq!(
        bundle_requests,
        vec![
            "/feed/bundles/new.pbx",
            "/feed/bundles/new.pbx from 100000",
            "/feed/bundles/new.pbx from 150000",
            "/feed/bundles/new.pbx from 150000"
        ],
        "{requests:?}"
    );
    // Progress went up to the whole bundle.
    let seen = seen.lock().map_err(|_| "lock")?.clone();
    let last = seen.last().ok_or("no progress")?;
    assert_eq!(
        (last.done, last.total),
        (s.bundle.len() as u64, s.bundle.len() as u64)
    );
    assert!(
        seen.windows(2)
            .all(|w| w[0].done <= w[1].done || w[0].stage != w[1].stage)
    );
    let st = ota.status()?;
    assert_eq!(
        st.pending.map(|p| (p.version, p.state)),
        Some(("1.1.0".to_string(), "reboot-required"))
    );
    ota.reboot_into_update()?;
    assert_eq!(Sim::open(&s.dev.sim).power_on()?.booted, SlotId::B);
    // Nothing newer afterwards.
    fs::write(s.dev.root.join("etc/version"), "1.1.0")?;
    assert!(ota.install(Source::Feed, no_progress()).await?.is_none());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_cap_stops_a_download_and_the_old_slot_keeps_booting() -> TestResult {
    let s = setup("data_cap = 200000\n", true).await?;
    s.server
        .state
        .lock()
        .map_err(|_| "lock")?
        .cuts
        .extend([150_000]);
    let ota = Arc::new(Ota::new(s.dev.config.clone())?);
    let err = ota
        .install(Source::Feed, no_progress())
        .await
        .err()
        .ok_or("installed past the cap")?;
    assert!(matches!(err, Error::DataCap { cap: 200_000, .. }), "{err}");
    assert!(err.to_string().starts_with("data cap reached"), "{err}");
    let st = ota.status()?;
    assert_eq!(st.last_result.map(|l| l.result), Some(OutcomeKind::Failed));
    assert!(st.pending.is_none());
    assert_eq!(Sim::open(&s.dev.sim).power_on()?.booted, SlotId::A);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_keeps_dropping_gives_up_with_a_message() -> TestResult {
    let s = setup("retries = 3\n", true).await?;
    s.server
        .state
        .lock()
        .map_err(|_| "lock")?
        .cuts
        .extend([1000, 0, 0, 0, 0, 0]);
    let ota = Arc::new(Ota::new(s.dev.config.clone())?);
    let err = ota
        .install(Source::Feed, no_progress())
        .await
        .err()
        .ok_or("installed")?;
    let msg = err.to_string();
    assert!(
        msg.contains("download of https://localhost")
            && msg.contains("gave up after 4 attempts at byte 1000"),
        "{msg}"
    );
    assert_eq!(Sim::open(&s.dev.sim).power_on()?.booted, SlotId::A);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_server_with_an_untrusted_certificate_is_refused() -> TestResult {
    let s = setup("", false).await?;
    let ota = Arc::new(Ota::new(s.dev.config.clone())?);
    let err = ota
        .check_feed()
        .await
        .err()
        .ok_or("trusted a certificate from an unknown CA")?;
    let msg = err.to_string();
    assert!(
        msg.starts_with("update feed https://localhost")
            && msg.to_lowercase().contains("certificate"),
        "{msg}"
    );
    assert!(log(&s).is_empty(), "a request got through: {:?}", log(&s));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_installs_from_a_reader_and_a_tampered_one_is_refused() -> TestResult {
    let s = setup("", true).await?;
    let ota = Arc::new(Ota::new(s.dev.config.clone())?);
    // A tampered upload (one manifest byte): refused before anything is written.
    let mut bad = s.bundle.clone();
    bad[40] ^= 1;
    let before = fs::read(s.dev.sim.join("b.system"))?;
    let (mut tx, rx) = tokio::io::duplex(64 * 1024);
    let feeder = tokio::spawn(async move { tx.write_all(&bad).await });
    let err = ota
        .install_reader(rx, None, no_progress())
        .await
        .err()
        .ok_or("tampered upload installed")?;
    let _ = feeder.await;
    assert!(matches!(err, Error::BadSignature { .. }), "{err}");
    assert_eq!(fs::read(s.dev.sim.join("b.system"))?, before);
    // The genuine upload, streamed through a small pipe.
    let (mut tx, rx) = tokio::io::duplex(8 * 1024);
    let good = s.bundle.clone();
    let feeder = tokio::spawn(async move { tx.write_all(&good).await });
    let installed = ota
        .install_reader(rx, Some(s.bundle.len() as u64), no_progress())
        .await?;
    feeder.await??;
    assert_eq!(installed.version, "1.1.0");
    assert_eq!(
        ota.status()?.pending.map(|p| p.state),
        Some("reboot-required")
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_file_on_the_config_partition_replaces_the_built_in_feed() -> TestResult {
    let s = setup("", true).await?;
    // The built-in feed points nowhere useful; the file beside its CA points at the server.
    let config_part = s.dev.root.join("config");
    fs::create_dir_all(&config_part)?;
    fs::write(config_part.join("feed-ca.pem"), &s.server.ca_pem)?;
    fs::write(
        config_part.join("ota-feed.toml"),
        format!(
            "[feed]\nurl = \"https://127.0.0.1:{}/feed/index.json\"\nca_file = \"feed-ca.pem\"\n",
            s.server.addr.port()
        ),
    )?;
    let mut cfg = s.dev.config.clone();
    cfg.feed = None;
    cfg.feed_file = Some(config_part.join("ota-feed.toml"));
    let ota = Arc::new(Ota::new(cfg)?);
    let entry = ota.check_feed().await?.ok_or("no update offered")?;
    assert_eq!(
        entry.url,
        format!(
            "https://127.0.0.1:{}/feed/bundles/new.pbx",
            s.server.addr.port()
        )
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_installs_once_and_does_not_retry_a_rolled_back_version() -> TestResult {
    let s = setup("", true).await?;
    let ota = Arc::new(Ota::new(s.dev.config.clone())?);
    let first = ota.poll_once(no_progress()).await?;
    assert!(
        matches!(&first, PollResult::Installed(i) if i.version == "1.1.0"),
        "{first:?}"
    );
    assert_eq!(
        ota.poll_once(no_progress()).await?,
        PollResult::Busy {
            version: "1.1.0".into(),
            state: "reboot-required"
        }
    );
    // The trial of 1.1.0 fails its health check; the box is back on 1.0.0.
    ota.reboot_into_update()?;
    assert_eq!(Sim::open(&s.dev.sim).power_on()?.booted, SlotId::B);
    let out = ota
        .run_health(|| async { Err("no answer on /api/v1/health".to_string()) })
        .await?;
    assert!(matches!(out, peerbox_ota::HealthOutcome::RolledBack { .. }));
    assert_eq!(Sim::open(&s.dev.sim).power_on()?.booted, SlotId::A);
    let downloads = log(&s).iter().filter(|r| r.contains("new.pbx")).count();
    let again = ota.poll_once(no_progress()).await?;
    assert!(
        matches!(&again, PollResult::Skipped { version, reason } if version == "1.1.0" && reason.contains("no answer")),
        "{again:?}"
    );
    assert_eq!(
        log(&s).iter().filter(|r| r.contains("new.pbx")).count(),
        downloads,
        "downloaded again"
    );
    Ok(())
}
