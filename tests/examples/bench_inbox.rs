//! `just bench-inbox`: activities per second through the ActivityPub inbox of a release
//! `peerbox` (body limit, JSON, PeerTube's activity shape, the per-host rate limit, the
//! HTTP signature checked with the sender's RSA-2048 key, signer against actor, then the
//! activity applied in the background), against the floor measured in the same run: RSA-2048
//! PKCS#1 v1.5 SHA-256 verifications per second on one core, with the same `rsa` crate.
//!
//! The node serves plain HTTP on 127.0.0.1, so that the figure is the inbox's and not TLS's;
//! the e2e harness's ActivityPub [`Peer`] (HTTPS with a certificate of a [`TestCa`] made at
//! run time, which the node trusts) serves the one sending actor, whose key the node fetches
//! once, on the first activity. Each run posts `--activities` distinct `Like`s of a video the
//! node does not know (taken with 204 and applied as nothing to do) over `--connections`
//! keep-alive connections; they are signed before the clock starts. The node's CPU time
//! comes from /proc/PID/stat, its memory from /proc/PID/status, so the bench starts the
//! node itself (the harness's `Node` does not hand out its process).
//!
//! Options: `--peerbox PATH` (target/release/peerbox), `--dir DIR` (target/bench-inbox),
//! `--runs N` (5), `--activities N` (5000), `--connections N` (8).

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use peerbox_e2e::TestCa;
use peerbox_e2e::activitypub_peer::{AP, Peer, PeerActor};
use peerbox_federation::signatures::{SignedHeaders, Signer};
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::signature::{Signer as _, Verifier as _};
use serde_json::json;
use sha2::Sha256;

type Error = Box<dyn std::error::Error + Send + Sync>;

struct Options {
    peerbox: PathBuf,
    dir: PathBuf,
    runs: usize,
    activities: usize,
    connections: usize,
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let number = |name: &str, default: usize| arg(name).map_or(Ok(default), |v| v.parse());
    let opts = Options {
        peerbox: PathBuf::from(arg("--peerbox").unwrap_or_else(|| "target/release/peerbox".into())),
        dir: PathBuf::from(arg("--dir").unwrap_or_else(|| "target/bench-inbox".into())),
        runs: number("--runs", 5)?.max(1),
        activities: number("--activities", 5000)?.max(1),
        connections: number("--connections", 8)?.max(1),
    };
    if opts.dir.exists() {
        std::fs::remove_dir_all(&opts.dir)?;
    }
    std::fs::create_dir_all(&opts.dir)?;
    // The peer runs on its own runtime, so it starts (and stops) outside the bench's.
    let ca = TestCa::new();
    let peer = Peer::start("127.0.0.1", &ca);
    let actor = peer.add_actor("bench", "Person");
    let ca_file = opts.dir.join("ca.pem");
    std::fs::write(&ca_file, ca.pem())?;
    tokio::runtime::Runtime::new()?.block_on(run(&opts, &actor, &ca_file))
}

async fn run(opts: &Options, actor: &PeerActor, ca_file: &Path) -> Result<(), Error> {
    let key = actor.private_key();
    let actor_url = actor.url.as_str();
    let signer = Arc::new(actor.signer());

    let port = free_port()?;
    let mut node = start_node(opts, ca_file, port)?;
    let result = measure(opts, &mut node, port, &signer, actor_url).await;
    let _ = node.kill();
    let _ = node.wait();
    let runs = result?;

    let baseline = verifications_per_second(key)?;
    let med = |f: fn(&Run) -> f64| median(runs.iter().map(f).collect());
    let rate = med(|r| r.per_second);
    let cpu_us = med(|r| r.cpu_us);
    let verify_us = 1e6 / baseline;
    println!();
    println!("{:<44} {:>12}", "median of runs", "");
    println!(
        "{:<44} {:>12.0}",
        "inbox activities/s (node: 2 cores)", rate
    );
    println!("{:<44} {:>12.0}", "node CPU per activity, µs", cpu_us);
    println!(
        "{:<44} {:>12.0}",
        "node RSS after the runs, MB",
        med(|r| r.rss_mb)
    );
    println!(
        "{:<44} {:>12.0}",
        "node peak RSS, MB",
        runs.iter().map(|r| r.peak_mb).fold(0.0, f64::max)
    );
    println!(
        "{:<44} {:>12.0}",
        "RSA-2048 verifications/s, one core", baseline
    );
    println!("{:<44} {:>12.1}", "one verification, µs", verify_us);
    println!(
        "{:<44} {:>12.2}",
        "ratio: inbox activities/s / verifications/s",
        rate / baseline
    );
    println!(
        "{:<44} {:>12.2}",
        "ratio: CPU per activity / one verification",
        cpu_us / verify_us
    );
    Ok(())
}

struct Run {
    per_second: f64,
    cpu_us: f64,
    rss_mb: f64,
    peak_mb: f64,
}

async fn measure(
    opts: &Options,
    node: &mut Child,
    port: u16,
    signer: &Arc<Signer>,
    actor_url: &str,
) -> Result<Vec<Run>, Error> {
    let inbox = format!("http://127.0.0.1:{port}/inbox");
    let host = format!("127.0.0.1:{port}");
    let clients: Vec<reqwest::Client> = (0..opts.connections)
        .map(|_| {
            reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .timeout(Duration::from_secs(60))
                .build()
        })
        .collect::<Result<_, _>>()?;
    // The first activity makes the node fetch the actor and its key; the rest warm it up.
    let warm = sign_likes(
        signer,
        actor_url,
        &host,
        port,
        opts.runs * opts.activities,
        200,
    );
    let size = warm.first().map_or(0, |(_, body)| body.len());
    let statuses = post_all(&clients, &inbox, warm).await;
    if let Some(bad) = statuses.iter().find(|s| **s != 204) {
        return Err(format!("a warm-up activity was answered {bad}").into());
    }
    let pid = node.id();
    println!(
        "{} activities (Like, {size} bytes each) per run over {} connections, {} runs; \
         node over plain HTTP, pid {pid}",
        opts.activities, opts.connections, opts.runs
    );
    let mut runs = Vec::new();
    for run in 0..opts.runs {
        let batch = sign_likes(
            signer,
            actor_url,
            &host,
            port,
            run * opts.activities,
            opts.activities,
        );
        let cpu_before = cpu_seconds(pid)?;
        let started = Instant::now();
        let statuses = post_all(&clients, &inbox, batch).await;
        let wall = started.elapsed().as_secs_f64();
        // Let the last activities finish applying in the background.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let cpu = cpu_seconds(pid)? - cpu_before;
        if let Some(status) = node.try_wait()? {
            return Err(format!("the node exited: {status}").into());
        }
        let refused = statuses.iter().filter(|s| **s != 204).count();
        if refused > 0 {
            return Err(format!("{refused} activities were not taken (not 204)").into());
        }
        let (peak_mb, rss_mb) = memory_mb(pid)?;
        let r = Run {
            per_second: opts.activities as f64 / wall,
            cpu_us: cpu * 1e6 / opts.activities as f64,
            rss_mb,
            peak_mb,
        };
        println!(
            "run {}: {:>7.0} activities/s, {:>6.0} µs node CPU per activity, RSS {:.0} MB",
            run + 1,
            r.per_second,
            r.cpu_us,
            r.rss_mb
        );
        runs.push(r);
    }
    Ok(runs)
}

/// `count` distinct signed Likes, numbered from `first`: (signature headers, body).
fn sign_likes(
    signer: &Arc<Signer>,
    actor_url: &str,
    host: &str,
    port: u16,
    first: usize,
    count: usize,
) -> Vec<(SignedHeaders, Vec<u8>)> {
    let sign = |range: std::ops::Range<usize>| {
        range
            .map(|i| {
                let body = serde_json::to_vec(&json!({
                    "@context": ["https://www.w3.org/ns/activitystreams"],
                    "type": "Like",
                    "id": format!("{actor_url}/likes/{i}"),
                    "actor": actor_url,
                    "object": format!("http://127.0.0.1:{port}/videos/watch/{}", uuid::Uuid::new_v4()),
                }))
                .unwrap_or_default();
                (signer.sign_post("/inbox", host, &body, Utc::now()), body)
            })
            .collect::<Vec<_>>()
    };
    // Both cores sign; the clock is not running yet.
    let half = first + count / 2;
    std::thread::scope(|s| {
        let second = s.spawn(|| sign(half..first + count));
        let mut all = sign(first..half);
        all.extend(second.join().expect("the signing thread"));
        all
    })
}

/// Posts every activity, `clients.len()` at a time (one keep-alive connection each);
/// returns the statuses (0 for no answer).
async fn post_all(
    clients: &[reqwest::Client],
    inbox: &str,
    activities: Vec<(SignedHeaders, Vec<u8>)>,
) -> Vec<u16> {
    let queue = Arc::new(std::sync::Mutex::new(activities));
    let mut tasks = Vec::new();
    for client in clients {
        let (client, queue, inbox) = (client.clone(), queue.clone(), inbox.to_string());
        tasks.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            loop {
                let next = queue.lock().ok().and_then(|mut q| q.pop());
                let Some((signed, body)) = next else { break };
                let mut request = client
                    .post(&inbox)
                    .header("content-type", AP)
                    .header("date", signed.date)
                    .header("signature", signed.signature);
                if let Some(digest) = signed.digest {
                    request = request.header("digest", digest);
                }
                let status = match request.body(body).send().await {
                    Ok(resp) => resp.status().as_u16(),
                    Err(_) => 0,
                };
                statuses.push(status);
            }
            statuses
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap_or_default());
    }
    all
}

/// RSA-2048 PKCS#1 v1.5 SHA-256 verifications per second on this thread, over
/// signing strings like the inbox's, for about two seconds.
fn verifications_per_second(key: &RsaPrivateKey) -> Result<f64, Error> {
    let signing_key = SigningKey::<Sha256>::new(key.clone());
    let verifier = VerifyingKey::<Sha256>::new(key.to_public_key());
    let samples: Vec<(String, Signature)> = (0..64)
        .map(|i| {
            let text = format!(
                "(request-target): post /inbox\nhost: 127.0.0.1:9000\ndate: {}\ndigest: SHA-256={i:044}",
                peerbox_federation::signatures::http_date(Utc::now())
            );
            let signature = signing_key.sign(text.as_bytes());
            (text, signature)
        })
        .collect();
    let started = Instant::now();
    let mut done = 0usize;
    while started.elapsed() < Duration::from_secs(2) {
        for (text, signature) in &samples {
            verifier.verify(text.as_bytes(), signature)?;
        }
        done += samples.len();
    }
    Ok(done as f64 / started.elapsed().as_secs_f64())
}

fn start_node(opts: &Options, ca_file: &Path, port: u16) -> Result<Child, Error> {
    let mut cmd = Command::new(&opts.peerbox);
    for (key, _) in std::env::vars() {
        if key.starts_with("PEERBOX_") {
            cmd.env_remove(key);
        }
    }
    let log = std::fs::File::create(opts.dir.join("peerbox.log"))?;
    cmd.arg("run")
        .arg("--data-dir")
        .arg(opts.dir.join("data"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--public-url", &format!("http://127.0.0.1:{port}")])
        .env("PEERBOX_ADMIN_PASSWORD", "bench-inbox-password")
        .env("PEERBOX_FEDERATION_ALLOW_LOOPBACK", "true")
        .env("PEERBOX_FEDERATION_EXTRA_CA_FILE", ca_file)
        // All the load comes from one host.
        .env("PEERBOX_FEDERATION_INBOX_RATE_PER_HOST", "1000000")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("{}: {e}", opts.peerbox.display()))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait()? {
            return Err(format!(
                "peerbox exited ({status}); see its log in {}",
                opts.dir.display()
            )
            .into());
        }
        if health(port) {
            return Ok(child);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err("peerbox did not answer /api/v1/health within 60 s".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether `GET /api/v1/health` answers 200 (a plain HTTP/1.1 exchange).
fn health(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!(
        "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    );
    let mut answer = [0u8; 16];
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read(&mut answer).is_ok()
        && answer.starts_with(b"HTTP/1.1 200")
}

fn free_port() -> Result<u16, Error> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// User + system CPU seconds a process has used.
fn cpu_seconds(pid: u32) -> Result<f64, Error> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').ok_or("bad /proc stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11).ok_or("no utime")?.parse::<f64>()?
        + fields.get(12).ok_or("no stime")?.parse::<f64>()?;
    Ok(ticks / clock_ticks_per_second())
}

/// `getconf CLK_TCK` (100 on Linux).
fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
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

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}
