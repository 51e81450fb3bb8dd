//! `peerbox ota ...`: clap types to flatten into the `peerbox` CLI, and their implementation.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};

use crate::bundle::{self, BundleSpec, DEFAULT_BLOCK_SIZE, Policy};
use crate::config::{DEFAULT_PATH, OtaConfig};
use crate::error::{Error, Result};
use crate::keys::{self, Keyring, SecretKey};
use crate::source::Source;
use crate::updater::{BootCheck, HealthOutcome, Ota, Progress, ProgressFn, Stage};

#[derive(Args, Debug, Clone)]
pub struct OtaArgs {
    /// Updater configuration (board, keyring, slots, feed).
    #[arg(long = "ota-config", env = "PEERBOX_OTA_CONFIG", default_value = DEFAULT_PATH, global = true)]
    pub ota_config: PathBuf,
    #[command(subcommand)]
    pub command: OtaCommand,
}

#[derive(Subcommand, Debug, Clone)]
pub enum OtaCommand {
    /// Make an Ed25519 signing key pair: NAME.key (secret) and NAME.pub (for device keyrings).
    Keygen {
        /// Folder to write the keys into.
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value = "release")]
        name: String,
    },
    /// Build a signed bundle from an image build's system image and boot files.
    Bundle {
        /// Signing key (.key); repeat to sign with several keys during a key rotation.
        #[arg(long = "key", required = true)]
        keys: Vec<PathBuf>,
        /// An image build's output folder: takes system.erofs (or .img, .squashfs, .ext4) and
        /// boot/ (or boot.fat) from it unless --system/--boot say otherwise.
        #[arg(long)]
        from: Option<PathBuf>,
        /// Raw system partition image (ext4, erofs or squashfs).
        #[arg(long)]
        system: Option<PathBuf>,
        /// Folder of boot partition files, or a FAT image of the boot partition.
        #[arg(long)]
        boot: Option<PathBuf>,
        #[arg(long)]
        version: String,
        #[arg(long)]
        board: String,
        /// Semver requirement on the version it may be installed over, e.g. ">=1.0.0".
        #[arg(long)]
        compatible_from: Option<String>,
        /// Devices that commit this bundle refuse anything older than this afterwards.
        #[arg(long)]
        min_version: Option<String>,
        #[arg(long, default_value_t = DEFAULT_BLOCK_SIZE)]
        block_size: u32,
        /// Size of the boot FAT image in bytes (default: the files plus a margin).
        #[arg(long)]
        boot_size: Option<u64>,
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Check a bundle against the device keyring and policy (or --keyring/--board off-device).
    Verify {
        bundle: PathBuf,
        /// Keyring folder or file instead of the configured one.
        #[arg(long)]
        keyring: Option<PathBuf>,
        /// Board to check for instead of the configured one.
        #[arg(long)]
        board: Option<String>,
    },
    /// Install a bundle into the other slot: a file path, an https:// URL, or "feed".
    Install {
        source: String,
        /// Reboot into the update once it is written.
        #[arg(long)]
        reboot: bool,
    },
    /// Show the running and pending versions and the last result.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Check the feed for a newer bundle.
    Check,
    /// Commit the running trial now (or confirm a normal boot).
    MarkGood,
    /// Give up on the running trial and reboot into the previous slot.
    MarkBad {
        #[arg(long, default_value = "marked bad by the administrator")]
        reason: String,
    },
    /// Settle what the last update did; run once early at every boot.
    BootCheck,
    /// Reboot into the pending update (one trial boot).
    Reboot,
    /// Health-check a trial boot over HTTP, then commit or roll back.
    Health {
        /// The node's health endpoint.
        #[arg(long, default_value = "http://127.0.0.1:8080/api/v1/health")]
        url: String,
    },
}

fn print_progress() -> ProgressFn {
    let last = std::sync::Mutex::new((Stage::Done, 0u64));
    Arc::new(move |p: &Progress| {
        let pct = (p.done * 100).checked_div(p.total).unwrap_or(0);
        if let Ok(mut l) = last.lock()
            && (l.0 != p.stage || pct != l.1)
        {
            *l = (p.stage, pct);
            eprintln!("{:?} {pct}%", p.stage);
        }
    })
}

/// Runs a command and prints its error; the exit code is non-zero on failure.
pub async fn run(args: OtaArgs) -> ExitCode {
    match run_command(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("peerbox ota: {e}");
            ExitCode::FAILURE
        }
    }
}

/// [`run`] on its own runtime, for a synchronous `main`.
pub fn run_blocking(args: OtaArgs) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(run(args)),
        Err(e) => {
            eprintln!("peerbox ota: starting the runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

fn ota(args: &OtaArgs) -> Result<Arc<Ota>> {
    Ok(Arc::new(Ota::new(OtaConfig::load(&args.ota_config)?)?))
}

async fn run_command(args: OtaArgs) -> Result<()> {
    match &args.command {
        OtaCommand::Keygen { out, name } => {
            let (secret, public, id) = keys::keygen(out, name)?;
            println!(
                "key {id}\nsecret: {}\npublic: {}",
                secret.display(),
                public.display()
            );
        }
        OtaCommand::Bundle {
            keys,
            from,
            system,
            boot,
            version,
            board,
            compatible_from,
            min_version,
            block_size,
            boot_size,
            output,
        } => {
            let keys = keys
                .iter()
                .map(|k| SecretKey::load(k))
                .collect::<Result<Vec<_>>>()?;
            let pick = |given: &Option<PathBuf>, names: &[&str], what: &str| -> Result<PathBuf> {
                if let Some(p) = given {
                    return Ok(p.clone());
                }
                let dir = from
                    .as_ref()
                    .ok_or_else(|| Error::Config(format!("--{what} or --from is needed")))?;
                names
                    .iter()
                    .map(|n| dir.join(n))
                    .find(|p| p.exists())
                    .ok_or_else(|| {
                        Error::Config(format!(
                            "{} has none of {}",
                            dir.display(),
                            names.join(", ")
                        ))
                    })
            };
            let system = pick(
                system,
                &[
                    "system.erofs",
                    "system.img",
                    "system.squashfs",
                    "system.ext4",
                ],
                "system",
            )?;
            let boot = pick(boot, &["boot", "boot.fat", "boot.vfat"], "boot")?;
            let spec = BundleSpec {
                version: version.clone(),
                board: board.clone(),
                compatible_from: compatible_from.clone(),
                min_version: min_version.clone(),
                block_size: *block_size,
                system_image: system,
                boot,
                boot_size: *boot_size,
            };
            let h = bundle::create(&spec, &keys, output)?;
            println!(
                "{}: {} {} for {}, {} bytes, signed by {}",
                output.display(),
                h.bundle_id,
                h.manifest.version,
                h.manifest.board,
                h.total_len(),
                keys.iter().map(|k| k.id()).collect::<Vec<_>>().join(", ")
            );
        }
        OtaCommand::Verify {
            bundle: path,
            keyring,
            board,
        } => {
            let header = if keyring.is_some() || !args.ota_config.exists() {
                let keyring = keyring.clone().ok_or_else(|| {
                    Error::Config(format!(
                        "{} not found: pass --keyring",
                        args.ota_config.display()
                    ))
                })?;
                let h = bundle::verify_file(path, &Keyring::load(&keyring)?, &mut |_, _| {})?;
                if let Some(b) = board
                    && *b != h.manifest.board
                {
                    return Err(Error::WrongBoard {
                        bundle: h.manifest.board.clone(),
                        device: b.clone(),
                    });
                }
                h
            } else {
                let o = ota(&args)?;
                let mut policy: Policy = o.policy()?;
                if let Some(b) = board {
                    policy.board = b.clone();
                }
                let h = bundle::verify_file(path, &o.keyring()?, &mut |_, _| {})?;
                policy.check(&h.manifest)?;
                h
            };
            println!(
                "OK: {} {} for {}, signed by {}",
                path.display(),
                header.manifest.version,
                header.manifest.board,
                header.signed_by
            );
        }
        OtaCommand::Install { source, reboot } => {
            let o = ota(&args)?;
            let source: Source = source.parse()?;
            match o.install(source, print_progress()).await? {
                Some(i) => {
                    println!(
                        "installed {} into slot {} (signed by {}); reboot to try it",
                        i.version, i.slot, i.signed_by
                    );
                    if *reboot {
                        o.reboot_into_update()?;
                    }
                }
                None => println!("no newer update in the feed"),
            }
        }
        OtaCommand::Status { json } => {
            let s = ota(&args)?.status()?;
            if *json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&s).map_err(|e| Error::State(e.to_string()))?
                );
            } else {
                print_status(&s);
            }
        }
        OtaCommand::Check => match ota(&args)?.check_feed().await? {
            Some(e) => println!("update available: {} ({})", e.version, e.url),
            None => println!("up to date"),
        },
        OtaCommand::MarkGood => match ota(&args)?.mark_good()? {
            BootCheck::Committed { version } => println!("committed {version}"),
            other => println!("confirmed the running slot ({})", describe_check(&other)),
        },
        OtaCommand::MarkBad { reason } => {
            ota(&args)?.reject_trial(reason)?;
            println!("rolling back");
        }
        OtaCommand::BootCheck => println!("{}", describe_check(&ota(&args)?.boot_check()?)),
        OtaCommand::Reboot => ota(&args)?.reboot_into_update()?,
        OtaCommand::Health { url } => {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .map_err(|e| Error::Config(e.to_string()))?;
            let out = ota(&args)?
                .run_health(|| {
                    let req = client.get(url.as_str()).send();
                    async move {
                        match req.await {
                            Ok(r) if r.status().is_success() => Ok(()),
                            Ok(r) => Err(format!("health endpoint answered HTTP {}", r.status())),
                            Err(e) => Err(format!("health endpoint unreachable: {e}")),
                        }
                    }
                })
                .await?;
            match out {
                HealthOutcome::Committed { version } => println!("committed {version}"),
                HealthOutcome::RolledBack { version, reason } => {
                    return Err(Error::State(format!("rolled back {version}: {reason}")));
                }
                HealthOutcome::NotTrial { marked_good } => {
                    println!(
                        "not a trial boot; {}",
                        if marked_good {
                            "confirmed healthy"
                        } else {
                            "not healthy"
                        }
                    )
                }
            }
        }
    }
    Ok(())
}

fn describe_check(c: &BootCheck) -> String {
    match c {
        BootCheck::Normal => "normal boot".into(),
        BootCheck::Pending { slot, version } => {
            format!("{version} is waiting in slot {slot}: reboot to try it")
        }
        BootCheck::Trial { slot, version } => format!("trial boot of {version} in slot {slot}"),
        BootCheck::RolledBack { version, reason } => {
            format!("rolled back from {version}: {reason}")
        }
        BootCheck::Committed { version } => format!("committed {version}"),
        BootCheck::RollingBack { version, reason } => {
            format!("rolling back from {version} (reboot pending): {reason}")
        }
    }
}

fn print_status(s: &crate::updater::Status) {
    println!("board: {} ({} slots)", s.board, s.slots);
    match (s.booted, s.primary) {
        (Some(b), Some(p)) => println!(
            "running: {} in slot {b}{}; default slot {p}",
            s.current_version,
            if s.trial { " (trial boot)" } else { "" }
        ),
        _ => println!("running: {}", s.current_version),
    }
    if let Some(p) = &s.pending {
        println!("pending: {} in slot {} ({})", p.version, p.slot, p.state);
    }
    if let Some(pr) = &s.progress {
        println!("progress: {:?} {}/{}", pr.stage, pr.done, pr.total);
    }
    if let Some(l) = &s.last_result {
        let v = l.version.as_deref().unwrap_or("-");
        println!("last result: {:?} {v}: {}", l.result, l.message);
    }
    if let Some(log) = &s.last_log {
        println!("trial log:\n{log}");
    }
    if let Some(m) = &s.minimum_version {
        println!("minimum version: {m}");
    }
    if let Some(e) = &s.error {
        println!("error: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// The shape of the `peerbox` CLI: its own global --config beside `ota`.
    #[derive(Parser)]
    struct Peerbox {
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: Top,
    }

    #[derive(Subcommand)]
    enum Top {
        Run,
        Ota(Box<OtaArgs>),
    }

    #[test]
    fn ota_commands_nest_in_the_node_cli() {
        let cli = Peerbox::try_parse_from([
            "peerbox",
            "--config",
            "node.toml",
            "ota",
            "--ota-config",
            "o.toml",
            "verify",
            "b.pbx",
        ]);
        let Ok(Peerbox {
            config,
            command: Top::Ota(args),
        }) = cli
        else {
            panic!("did not parse");
        };
        assert_eq!(config, Some(PathBuf::from("node.toml")));
        assert_eq!(args.ota_config, PathBuf::from("o.toml"));
        assert!(
            matches!(args.command, OtaCommand::Verify { ref bundle, .. } if bundle == &PathBuf::from("b.pbx"))
        );
        let Ok(Peerbox {
            command: Top::Ota(args),
            ..
        }) = Peerbox::try_parse_from(["peerbox", "ota", "install", "feed", "--reboot"])
        else {
            panic!("did not parse");
        };
        assert!(
            matches!(args.command, OtaCommand::Install { ref source, reboot: true } if source == "feed")
        );
    }
}
