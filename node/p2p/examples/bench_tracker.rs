//! `just bench-tracker`: WebTorrent announces per second of Peerbox's tracker, of
//! `aquatic_ws` and of PeerTube's tracker (`@peertube/bittorrent-tracker-server` wired as
//! PeerTube wires it, under Node's own https server), all three driven by
//! `aquatic_ws_load_test` with the same settings on this machine. The load tester speaks wss
//! only, so every tracker terminates TLS itself with the same self-signed certificate, made
//! at run time. Rounds alternate between the trackers, each run against a freshly started
//! tracker; medians and ratios are printed. Then each tracker is made to hold `--peers`
//! peers (one wss connection and one announce each) and its peak RSS is read from /proc.
//!
//! Our tracker runs in open mode (any infohash, as `tracker.private = false`) and without
//! its per-address announce limit, since all the load comes from one address; PeerTube's
//! tracker likewise gets a filter that accepts everything.
//!
//! Options: `--tools DIR` (where `cargo install --root` put aquatic's binaries),
//! `--peertube DIR` (the npm package dir of PeerTube's tracker, with `server.mjs`),
//! `--dir DIR` (work folder), `--rounds N` (3), `--seconds N` (20 per run),
//! `--connections N` (256), `--peers N` (10000).
//!
//! `bench_tracker serve PORT CERT KEY` is our side: the tracker's router behind tokio-rustls.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::serve::ListenerExt;
use futures_util::{SinkExt, StreamExt};
use peerbox_p2p::tracker::{Tracker, TrackerSettings};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tokio_tungstenite::tungstenite::Message;

type Error = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("serve") {
        let [port, cert, key] = &args[2..] else {
            return Err("usage: bench_tracker serve PORT CERT KEY".into());
        };
        return serve(port.parse()?, Path::new(cert), Path::new(key));
    }
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let number = |name: &str, default: usize| arg(name).map_or(Ok(default), |v| v.parse());
    let opts = Options {
        tools: PathBuf::from(arg("--tools").unwrap_or_else(|| "target/bench-tools".into())),
        peertube: PathBuf::from(arg("--peertube").unwrap_or_else(|| "bench/tracker".into())),
        dir: PathBuf::from(arg("--dir").unwrap_or_else(|| "target/bench-tracker".into())),
        rounds: number("--rounds", 3)?,
        seconds: number("--seconds", 20)?,
        connections: number("--connections", 256)?,
        peers: number("--peers", 10_000)?,
    };
    std::fs::create_dir_all(&opts.dir)?;
    let tls = make_certificate(&opts.dir)?;
    run(&opts, &tls)
}

struct Options {
    tools: PathBuf,
    peertube: PathBuf,
    dir: PathBuf,
    rounds: usize,
    seconds: usize,
    connections: usize,
    peers: usize,
}

struct Tls {
    cert: PathBuf,
    key: PathBuf,
    der: CertificateDer<'static>,
}

fn make_certificate(dir: &Path) -> Result<Tls, Error> {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, made.cert.pem())?;
    std::fs::write(&key, made.signing_key.serialize_pem())?;
    Ok(Tls {
        cert,
        key,
        der: made.cert.der().clone(),
    })
}

// ---- our side --------------------------------------------------------------------------

fn serve(port: u16, cert: &Path, key: &Path) -> Result<(), Error> {
    let certs = CertificateDer::pem_file_iter(cert)?.collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(key)?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(certs, key)?;
    let acceptor = TlsAcceptor::from(Arc::new(config));
    tokio::runtime::Runtime::new()?.block_on(async move {
        let settings = TrackerSettings {
            // All the load comes from 127.0.0.1.
            announces_per_ip_per_minute: u32::MAX,
            ..Default::default()
        };
        let tracker = Tracker::new(settings, Arc::new(|_: &[u8; 20]| true));
        tokio::spawn(tracker.clone().run_expiry());
        let tcp = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
        // Replies are small frames: send them at once. (Tapping the listener is also what
        // gives axum the peer's address for a custom listener.)
        let listener = TlsListener::start(tcp, acceptor)?.tap_io(|tls| {
            let _ = tls.get_ref().0.set_nodelay(true);
        });
        // aquatic_ws_load_test asks for `/`: routed to the socket before the tracker's router.
        let app = axum::Router::new()
            .fallback_service(tracker.router())
            .layer(axum::middleware::map_request(socket_path))
            .into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app).await?;
        Ok(())
    })
}

async fn socket_path(mut req: axum::extract::Request) -> axum::extract::Request {
    if req.uri().path() == "/" {
        *req.uri_mut() = axum::http::Uri::from_static("/tracker/socket");
    }
    req
}

/// Hands axum connections whose TLS handshake is done; handshakes run in their own tasks so
/// that a slow one holds up nobody.
struct TlsListener {
    addr: SocketAddr,
    ready: mpsc::Receiver<(tokio_rustls::server::TlsStream<TcpStream>, SocketAddr)>,
}

impl TlsListener {
    fn start(tcp: TcpListener, acceptor: TlsAcceptor) -> std::io::Result<TlsListener> {
        let addr = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(1024);
        tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = tcp.accept().await else {
                    continue;
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(stream).await {
                        let _ = tx.send((tls, peer)).await;
                    }
                });
            }
        });
        Ok(TlsListener { addr, ready })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The acceptor task never ends.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.addr)
    }
}

// ---- the three trackers --------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum Side {
    Peerbox,
    Aquatic,
    PeerTube,
}

const SIDES: [Side; 3] = [Side::Peerbox, Side::Aquatic, Side::PeerTube];

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Peerbox => "peerbox",
            Side::Aquatic => "aquatic_ws 0.9",
            Side::PeerTube => "peertube (node)",
        }
    }

    fn start(self, opts: &Options, tls: &Tls, port: u16) -> Result<Child, Error> {
        let mut cmd = match self {
            Side::Peerbox => {
                let mut c = Command::new(std::env::current_exe()?);
                c.arg("serve")
                    .arg(port.to_string())
                    .arg(&tls.cert)
                    .arg(&tls.key);
                c
            }
            Side::Aquatic => {
                let config = opts.dir.join("aquatic_ws.toml");
                std::fs::write(
                    &config,
                    format!(
                        "socket_workers = 1\nswarm_workers = 1\nlog_level = \"error\"\n\
                         [network]\naddress = \"127.0.0.1:{port}\"\nenable_tls = true\n\
                         tls_certificate_path = {:?}\ntls_private_key_path = {:?}\n",
                        tls.cert, tls.key
                    ),
                )?;
                let mut c = Command::new(opts.tools.join("bin/aquatic_ws"));
                c.arg("-c").arg(config);
                c
            }
            Side::PeerTube => {
                let mut c = Command::new("node");
                c.arg(opts.peertube.join("server.mjs"))
                    .arg(port.to_string())
                    .arg(&tls.cert)
                    .arg(&tls.key);
                c
            }
        };
        let child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).spawn()?;
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            if Instant::now() > deadline {
                return Err(format!("{} did not listen on {port}", self.name()).into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(child)
    }
}

fn free_port() -> Result<u16, Error> {
    Ok(StdListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// (VmHWM, VmRSS) of a process in MB.
fn memory_mb(pid: u32) -> Result<(f64, f64), Error> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> Result<f64, Error> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .ok_or_else(|| format!("no {name} in /proc/{pid}/status"))?;
        let kb: f64 = line
            .split_whitespace()
            .nth(1)
            .ok_or("empty memory field")?
            .parse()?;
        Ok(kb / 1024.0)
    };
    Ok((field("VmHWM:")?, field("VmRSS:")?))
}

/// User + system CPU seconds a process has used.
fn cpu_seconds(pid: u32) -> Result<f64, Error> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').ok_or("bad /proc stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11).ok_or("no utime")?.parse::<f64>()?
        + fields.get(12).ok_or("no stime")?.parse::<f64>()?;
    // USER_HZ is 100 on Linux.
    Ok(ticks / 100.0)
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

// ---- load runs ---------------------------------------------------------------------------

struct Run {
    /// aquatic_ws_load_test's figure: announce replies, relayed offers and answers, errors.
    responses: f64,
    announces: f64,
    errors: f64,
    connections: usize,
    cpu: f64,
    peak_rss: f64,
}

fn load(opts: &Options, port: u16, tracker_pid: u32) -> Result<Run, Error> {
    let config = opts.dir.join("load_test.toml");
    std::fs::write(
        &config,
        format!(
            "server_address = \"127.0.0.1:{port}\"\nlog_level = \"error\"\nnum_workers = 2\n\
             num_connections_per_worker = {}\nconnection_creation_interval_ms = 10\n\
             duration = {}\nmeasure_after_max_connections_reached = false\n",
            opts.connections / 2,
            opts.seconds
        ),
    )?;
    let cpu_before = cpu_seconds(tracker_pid)?;
    let out = Command::new(opts.tools.join("bin/aquatic_ws_load_test"))
        .arg("-c")
        .arg(&config)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()?;
    if !out.status.success() {
        return Err(format!("aquatic_ws_load_test failed: {}", out.status).into());
    }
    let cpu = cpu_seconds(tracker_pid)? - cpu_before;
    let (peak_rss, _) = memory_mb(tracker_pid)?;
    // The tester prints a block every 5 s; the first covers the ramp-up, so it is left out.
    let text = String::from_utf8_lossy(&out.stdout);
    let series = |prefix: &str| -> Vec<f64> {
        text.lines()
            .filter_map(|l| l.trim().strip_prefix(prefix))
            .filter_map(|v| v.trim().trim_end_matches("/second").parse().ok())
            .skip(1)
            .collect()
    };
    let mean = |v: Vec<f64>| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let connections = series("Active connections:");
    Ok(Run {
        responses: mean(series("Responses in:")),
        announces: mean(series("- Announce responses:")),
        errors: mean(series("- Error responses:")),
        connections: connections.last().copied().unwrap_or(0.0) as usize,
        cpu,
        peak_rss,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn run(opts: &Options, tls: &Tls) -> Result<(), Error> {
    println!(
        "aquatic_ws_load_test: {} wss connections, {} s per run, 10 offers per announce, \
         10,000 torrents; {} rounds, trackers alternating, each freshly started",
        opts.connections, opts.seconds, opts.rounds
    );
    let mut runs: Vec<Vec<Run>> = SIDES.iter().map(|_| Vec::new()).collect();
    for round in 0..opts.rounds {
        for k in 0..SIDES.len() {
            let i = (round + k) % SIDES.len();
            let side = SIDES[i];
            let port = free_port()?;
            let child = side.start(opts, tls, port)?;
            let result = load(opts, port, child.id());
            stop(child);
            let r = result?;
            println!(
                "round {}: {:<16} {:>9.0} responses/s ({:>8.0} announce replies/s, {:.0} errors/s), \
                 {} connections, {:.1} CPU-s, peak RSS {:.0} MB",
                round + 1,
                side.name(),
                r.responses,
                r.announces,
                r.errors,
                r.connections,
                r.cpu,
                r.peak_rss
            );
            runs[i].push(r);
        }
    }

    let med = |i: usize, f: fn(&Run) -> f64| median(runs[i].iter().map(f).collect());
    // On a shared machine the load tester and other jobs take CPU from the tracker under
    // test; responses per CPU-second of the tracker itself are less sensitive to that.
    let efficiency = |i: usize| {
        median(
            runs[i]
                .iter()
                .map(|r| r.responses * opts.seconds as f64 / r.cpu.max(0.01))
                .collect(),
        )
    };
    let mut table = String::new();
    writeln!(
        table,
        "\n{:<16} {:>14} {:>16} {:>20} {:>14}",
        "median", "responses/s", "announce rep./s", "per tracker CPU-s", "peak RSS MB"
    )?;
    for (i, side) in SIDES.iter().enumerate() {
        writeln!(
            table,
            "{:<16} {:>14.0} {:>16.0} {:>20.0} {:>14.0}",
            side.name(),
            med(i, |r| r.responses),
            med(i, |r| r.announces),
            efficiency(i),
            med(i, |r| r.peak_rss)
        )?;
    }
    print!("{table}");
    let ours = med(0, |r| r.responses);
    let vs_aquatic = ours / med(1, |r| r.responses);
    let vs_peertube = ours / med(2, |r| r.responses);
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!(
        "peerbox / aquatic_ws: {vs_aquatic:.2}x (target >= 0.8x: {})",
        verdict(vs_aquatic >= 0.8)
    );
    println!(
        "peerbox / peertube:   {vs_peertube:.2}x (target >= 3x: {})",
        verdict(vs_peertube >= 3.0)
    );
    println!(
        "per tracker CPU-second: peerbox / aquatic_ws {:.2}x, peerbox / peertube {:.2}x",
        efficiency(0) / efficiency(1),
        efficiency(0) / efficiency(2)
    );

    println!(
        "\nholding {} peers (one wss connection and one announce with 5 offers each, {} swarms):",
        opts.peers,
        opts.peers.div_ceil(100)
    );
    let runtime = tokio::runtime::Runtime::new()?;
    for side in SIDES {
        let port = free_port()?;
        let child = side.start(opts, tls, port)?;
        let (_, idle) = memory_mb(child.id())?;
        let held = runtime.block_on(hold_peers(port, opts.peers, &tls.der));
        let memory = memory_mb(child.id());
        stop(child);
        let (peers, refused) = held?;
        let (peak, now) = memory?;
        println!(
            "{:<16} idle RSS {idle:>6.0} MB, holding {peers} peers ({refused} refused): \
             RSS {now:>6.0} MB, peak {peak:>6.0} MB",
            side.name()
        );
    }
    Ok(())
}

// ---- many peers at once -----------------------------------------------------------------------

fn binary(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Opens `n` wss connections, each announcing one peer into one of n/100 swarms, and keeps
/// them open until the tracker stops. Returns (peers held, refused or failed).
async fn hold_peers(
    port: u16,
    n: usize,
    cert: &CertificateDer<'static>,
) -> Result<(usize, usize), Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.clone())?;
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = TlsConnector::from(Arc::new(config));
    let handshakes = Arc::new(tokio::sync::Semaphore::new(64));
    let (done_tx, mut done) = mpsc::channel::<bool>(n.max(1));
    for i in 0..n {
        let (connector, handshakes, done_tx) =
            (connector.clone(), handshakes.clone(), done_tx.clone());
        tokio::spawn(async move {
            let permit = handshakes.acquire_owned().await;
            let result = announce_once(&connector, port, i).await;
            drop(permit);
            match result {
                Ok((accepted, mut ws)) => {
                    let _ = done_tx.send(accepted).await;
                    // Read what the tracker relays (offers of later peers) until told to stop.
                    while let Some(Ok(_)) = ws.next().await {}
                }
                Err(_) => {
                    let _ = done_tx.send(false).await;
                }
            }
        });
    }
    drop(done_tx);
    let (mut held, mut refused) = (0, 0);
    for _ in 0..n {
        match done.recv().await {
            Some(true) => held += 1,
            Some(false) => refused += 1,
            None => break,
        }
    }
    // Let relayed offers settle before the caller looks at memory. The connections stay open
    // (their tasks keep reading) until the caller stops the tracker.
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok((held, refused))
}

type Wss = tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<TcpStream>>;

async fn announce_once(
    connector: &TlsConnector,
    port: u16,
    i: usize,
) -> Result<(bool, Wss), Error> {
    let tcp = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await?;
    let tls = connector
        .connect(ServerName::try_from("localhost")?, tcp)
        .await?;
    let (mut ws, _) =
        tokio_tungstenite::client_async(format!("wss://localhost:{port}/tracker/socket"), tls)
            .await?;
    let swarm = (i / 100) as u32;
    let mut info_hash = [0x5au8; 20];
    info_hash[..4].copy_from_slice(&swarm.to_be_bytes());
    let mut peer_id = *b"-PB0001-............";
    peer_id[8..16].copy_from_slice(&(i as u64).to_be_bytes());
    let offers: Vec<_> = (0..5u8)
        .map(|k| {
            let mut offer_id = peer_id;
            offer_id[19] ^= k + 1;
            serde_json::json!({
                "offer_id": binary(&offer_id),
                "offer": { "type": "offer", "sdp": "v=0 abcdefg-abcdefg-abcdefg-abcdefg-abcdefg" },
            })
        })
        .collect();
    let announce = serde_json::json!({
        "action": "announce", "info_hash": binary(&info_hash), "peer_id": binary(&peer_id),
        "uploaded": 0, "downloaded": 0, "left": 100, "event": "started", "numwant": 5,
        "offers": offers,
    });
    ws.send(Message::Text(announce.to_string().into())).await?;
    // Our own reply is the one with counts; relayed offers may come first.
    while let Some(msg) = ws.next().await {
        if let Message::Text(text) = msg? {
            let v: serde_json::Value = serde_json::from_str(&text)?;
            if v.get("failure reason").is_some() {
                return Ok((false, ws));
            }
            if v.get("interval").is_some() || v.get("complete").is_some() {
                return Ok((true, ws));
            }
        }
    }
    Err("closed before replying".into())
}
