//! The `peerbox` binary: command line, configuration, and the wiring of the node's crates.

mod appliance;
mod config;
mod seeding;
mod tls;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use peerbox_catalog::{Catalog, NewUser, Role};

use crate::config::Config;

#[derive(Parser)]
#[command(
    name = "peerbox",
    version,
    about = "A PeerTube-compatible video node for small hardware"
)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Common {
    /// TOML configuration file.
    #[arg(long, global = true, env = "PEERBOX_CONFIG")]
    config: Option<PathBuf>,
    /// Where the catalog and media live.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the node.
    Run {
        /// Address to listen on, e.g. 127.0.0.1:9000.
        #[arg(long)]
        listen: Option<String>,
        /// The URL people and other servers reach the node at.
        #[arg(long)]
        public_url: Option<String>,
    },
    /// Manage users (while the node is stopped; use the API while it runs).
    #[command(subcommand)]
    User(UserCommand),
    /// Show the H.264 encoders found on this machine and the one transcoding would use.
    Hwaccel,
    /// Over-the-air updates: keys, bundles, install, status, commit.
    Ota(Box<peerbox_ota::cli::OtaArgs>),
}

#[derive(Subcommand)]
enum UserCommand {
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        password: String,
        #[arg(long)]
        email: Option<String>,
        /// admin, moderator or user.
        #[arg(long, default_value = "user")]
        role: String,
        /// Bytes, -1 for unlimited; defaults to the configured default.
        #[arg(long, allow_hyphen_values = true)]
        video_quota: Option<i64>,
        #[arg(long, allow_hyphen_values = true)]
        video_quota_daily: Option<i64>,
    },
    List,
    SetPassword {
        #[arg(long)]
        username: String,
        #[arg(long)]
        password: String,
    },
}

fn main() -> Result<std::process::ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PEERBOX_LOG")
                .unwrap_or_else(|_| "info,tower_http=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let node_config = || -> Result<Config> {
        let mut config = Config::load(cli.common.config.as_deref(), std::env::vars())?;
        if let Some(dir) = &cli.common.data_dir {
            config.data_dir = dir.clone();
        }
        Ok(config)
    };
    match cli.command {
        // Updates have their own configuration (the device's slots and keyring).
        Command::Ota(args) => return Ok(peerbox_ota::cli::run_blocking(*args)),
        Command::Run { listen, public_url } => {
            let mut config = node_config()?;
            if let Some(l) = listen {
                config.listen = l;
            }
            if let Some(u) = public_url {
                config.api.public_url = u;
            }
            if config.api.public_url.is_empty() {
                // A wildcard address is not one to give clients: name this machine instead.
                let scheme = if config.tls.enabled() {
                    "https"
                } else {
                    "http"
                };
                config.api.public_url = format!(
                    "{scheme}://{}",
                    config.listen.replace("0.0.0.0", "127.0.0.1")
                );
            }
            tokio::runtime::Runtime::new()?.block_on(run(config))?;
        }
        Command::User(cmd) => user_command(&node_config()?, cmd)?,
        Command::Hwaccel => print!(
            "{}",
            peerbox_hwaccel::report(&load_board(&node_config()?)?)?
        ),
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn load_board(config: &Config) -> Result<peerbox_hwaccel::BoardConfig> {
    let name = match config.board.as_str() {
        "" => peerbox_hwaccel::BoardConfig::detect_name(),
        name => name,
    };
    Ok(peerbox_hwaccel::BoardConfig::load(name)?)
}

fn open_catalog(data_dir: &Path) -> Result<Catalog> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data dir {}", data_dir.display()))?;
    let path = data_dir.join("catalog.redb");
    let catalog = Catalog::open(&path).map_err(|e| match e {
        peerbox_catalog::CatalogError::Storage(msg)
            if msg.contains("already open") || msg.contains("lock") =>
        {
            anyhow::anyhow!(
                "{} is in use by a running node; stop it or use the API ({msg})",
                path.display()
            )
        }
        other => anyhow::anyhow!("cannot open {}: {other}", path.display()),
    })?;
    // Accounts and channels get their ActivityPub key pair in the transaction creating them.
    catalog.set_key_source(std::sync::Arc::new(peerbox_federation::RsaKeys));
    Ok(catalog)
}

fn parse_role(role: &str) -> Result<Role> {
    Ok(match role {
        "admin" | "administrator" => Role::Administrator,
        "moderator" => Role::Moderator,
        "user" => Role::User,
        other => bail!("unknown role {other:?}: use admin, moderator or user"),
    })
}

fn user_command(config: &Config, cmd: UserCommand) -> Result<()> {
    let catalog = open_catalog(&config.data_dir)?;
    match cmd {
        UserCommand::Create {
            username,
            password,
            email,
            role,
            video_quota,
            video_quota_daily,
        } => {
            let email = email.unwrap_or_else(|| format!("{username}@{}", config.api.public_host()));
            let user = catalog.create_user(NewUser {
                username,
                email,
                password,
                role: parse_role(&role)?,
                video_quota: video_quota.unwrap_or(config.api.users.video_quota),
                video_quota_daily: video_quota_daily.unwrap_or(config.api.users.video_quota_daily),
            })?;
            println!("created user {} (id {})", user.username, user.id);
        }
        UserCommand::List => {
            for u in catalog.users()? {
                println!("{}\t{}\t{}\t{}", u.id, u.username, u.role.label(), u.email);
            }
        }
        UserCommand::SetPassword { username, password } => {
            let user = catalog
                .user_by_name(&username)?
                .with_context(|| format!("no user named {username}"))?;
            catalog.set_password(user.id, &password)?;
            println!("password of {username} changed");
        }
    }
    Ok(())
}

/// The first start creates the `admin` user, with the password from PEERBOX_ADMIN_PASSWORD
/// or a generated one printed once.
fn ensure_admin(catalog: &Catalog, config: &Config) -> Result<()> {
    if !catalog.users()?.is_empty() {
        return Ok(());
    }
    let (password, generated) = match std::env::var("PEERBOX_ADMIN_PASSWORD") {
        Ok(p) if !p.is_empty() => (p, false),
        _ => {
            use rand::Rng;
            let p: String = rand::thread_rng()
                .sample_iter(rand::distributions::Alphanumeric)
                .take(20)
                .map(char::from)
                .collect();
            (p, true)
        }
    };
    catalog.create_user(NewUser {
        username: "admin".into(),
        email: format!("admin@{}", config.api.public_host()),
        password: password.clone(),
        role: Role::Administrator,
        video_quota: -1,
        video_quota_daily: -1,
    })?;
    if !config.api.setup.claim_code_file.is_empty() {
        println!("Waiting to be claimed: the administrator's password is chosen on the setup page");
    } else if generated {
        println!(
            "Created the administrator account: username \"admin\", password \"{password}\" (shown only once)"
        );
    } else {
        println!(
            "Created the administrator account \"admin\" with the password from PEERBOX_ADMIN_PASSWORD"
        );
    }
    Ok(())
}

async fn run(config: Config) -> Result<()> {
    let catalog = open_catalog(&config.data_dir)?;
    ensure_admin(&catalog, &config)?;
    let data_dir = config.data_dir.canonicalize()?;
    let state =
        peerbox_api::AppState::new(std::sync::Arc::new(catalog), config.api.clone(), data_dir)?;
    peerbox_api::recover_uploads(&state)
        .await
        .context("recovering uploads")?;
    tokio::spawn(peerbox_api::run_housekeeping(state.clone()));
    let federation = peerbox_federation::Federation::start(
        state.clone(),
        peerbox_federation::Settings {
            public_url: config.api.public_url().to_string(),
            public_host: config.api.public_host().to_string(),
            instance_name: config.api.instance_name.clone(),
            instance_short_description: config.api.instance_short_description.clone(),
            tracker_enabled: config.api.tracker.enabled,
            video_quota: config.api.users.video_quota,
            video_quota_daily: config.api.users.video_quota_daily,
            client: federation_client_settings(&config.federation)?,
            federate_unlisted: config.federation.federate_unlisted,
            manual_approval: config.federation.manual_approval,
            backoff: peerbox_federation::delivery::Backoff {
                first: std::time::Duration::from_secs(config.federation.retry_first_seconds.max(1)),
                ..Default::default()
            },
            inbox_rate: (
                config.federation.inbox_rate_per_host,
                config.federation.inbox_rate_per_host * 10.0,
            ),
        },
        &state.data_dir,
    )
    .context("starting federation")?;

    let shutdown = tokio_util::sync::CancellationToken::new();
    let mut media = peerbox_media::WorkerOptions::new(state.data_dir.clone(), load_board(&config)?);
    media.wake = Some(state.jobs_queued.clone());
    media.paused = Some(state.jobs_paused.clone());
    let (published, published_rx) = tokio::sync::mpsc::unbounded_channel();
    media.published = Some(published);
    tokio::spawn(seeding::write_published_torrents(
        state.clone(),
        published_rx,
    ));
    let seeder = config.seeding.enabled.then(|| {
        let (state, settings, stop) = (state.clone(), config.seeding.clone(), shutdown.clone());
        tokio::spawn(async move {
            // Without seeding the node still serves every file over HTTP (the web seed).
            if let Err(e) = seeding::run(state, settings, stop).await {
                tracing::error!("BitTorrent seeding is off: {e:#}");
            }
        })
    });
    let stop_media = shutdown.clone();
    let workers = tokio::spawn(peerbox_media::run_workers(
        state.catalog.clone(),
        media,
        async move { stop_media.cancelled().await },
    ));

    let addr: SocketAddr = config
        .listen
        .parse()
        .with_context(|| format!("invalid listen address {:?}", config.listen))?;
    let tls = tls::server_config(&config.tls)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    println!(
        "Peerbox listening on {}://{addr} (public URL {})",
        if tls.is_some() { "https" } else { "http" },
        config.api.public_url()
    );
    if config.federation.allow_loopback {
        tracing::warn!(
            "federation.allow_loopback is on: federation fetches from and delivers to \
             loopback addresses; this is for tests, never for a node on the Internet"
        );
    }
    let _mdns = match config.mdns.enabled {
        true => Some(appliance::announce(&config.mdns, addr.port())?),
        false => None,
    };
    tokio::spawn(appliance::notify_systemd(state.clone()));
    let mut extra = axum::Router::new();
    if config.api.tracker.enabled {
        let tracker = peerbox_p2p::tracker::Tracker::new(
            Default::default(),
            infohash_filter(&state, config.api.tracker.private),
        );
        tokio::spawn(tracker.clone().run_expiry());
        extra = extra.merge(tracker.router());
    }
    federation.spawn_workers(shutdown.clone());
    extra = extra.merge(peerbox_federation::api::router(
        federation.clone(),
        state.clone(),
    ));
    // ActivityPub answers share the pages' URLs, so federation wraps the web router.
    extra = extra.merge(
        federation.serve(peerbox_web::router(peerbox_web::WebContext {
            catalog: state.catalog.clone(),
            public_url: config.api.public_url().to_string(),
            data_dir: state.data_dir.clone(),
            instance_name: config.api.instance_name.clone(),
            instance_short_description: config.api.instance_short_description.clone(),
            access_token_lifetime: chrono::Duration::seconds(
                config.api.oauth.access_token_lifetime,
            ),
            refresh_token_lifetime: chrono::Duration::seconds(
                config.api.oauth.refresh_token_lifetime,
            ),
            tracker_urls: match config.api.tracker.enabled {
                true => config.api.tracker_urls(),
                false => Vec::new(),
            },
            stun_servers: config.api.tracker.stun_servers.clone(),
            ota_config: config.api.ota.config.clone(),
        })),
    );
    let app = peerbox_api::router(state, extra).into_make_service_with_connect_info::<SocketAddr>();
    let stop_http = shutdown.clone();
    let stop_signal = async move {
        shutdown_signal().await;
        stop_http.cancel();
    };
    match tls {
        Some(tls) => tls::serve(listener, app, tls, stop_signal).await,
        None => {
            axum::serve(listener, app)
                .with_graceful_shutdown(stop_signal)
                .await?
        }
    }
    // Running transcodes stop; their jobs run again at the next start.
    shutdown.cancel();
    if let Some(seeder) = seeder {
        let _ = seeder.await;
    }
    match workers.await {
        Ok(Err(e)) => tracing::error!("media workers failed: {e}"),
        Err(e) => tracing::error!("media workers panicked: {e}"),
        Ok(Ok(())) => {}
    }
    Ok(())
}

/// Federation's outbound HTTPS from the configuration: the extra trusted roots are read
/// now, so a wrong path stops the start with its name.
fn federation_client_settings(
    settings: &config::FederationSettings,
) -> Result<peerbox_federation::client::ClientSettings> {
    let extra_ca_pem = match settings.extra_ca_file.as_os_str().is_empty() {
        true => None,
        false => Some(
            std::fs::read_to_string(&settings.extra_ca_file).with_context(|| {
                format!(
                    "federation.extra_ca_file {}",
                    settings.extra_ca_file.display()
                )
            })?,
        ),
    };
    Ok(peerbox_federation::client::ClientSettings {
        allow_loopback: settings.allow_loopback,
        extra_ca_pem,
        ..Default::default()
    })
}

/// The tracker asks on every announce whether an infohash is ours: answer from a set that is
/// rebuilt from the catalog when an unknown one comes, at most once a second, so that a
/// flood of unknown infohashes does not turn into a flood of catalog reads.
fn infohash_filter(
    state: &peerbox_api::SharedState,
    private: bool,
) -> peerbox_p2p::tracker::InfohashFilter {
    use std::collections::HashSet;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};
    if !private {
        return Arc::new(|_| true);
    }
    let state = state.clone();
    let known: Mutex<(HashSet<[u8; 20]>, Option<Instant>)> = Mutex::new((HashSet::new(), None));
    Arc::new(move |ih| {
        let mut known = known.lock().unwrap_or_else(|p| p.into_inner());
        if known.0.contains(ih) {
            return true;
        }
        if known.1.is_none_or(|t| t.elapsed() > Duration::from_secs(1)) {
            match state.known_infohashes() {
                Ok(set) => known.0 = set,
                Err(e) => tracing::warn!("cannot list infohashes: {}", e.detail),
            }
            known.1 = Some(Instant::now());
        }
        known.0.contains(ih)
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return ctrl_c.await.unwrap_or(()),
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}
