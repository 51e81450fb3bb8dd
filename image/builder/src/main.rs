//! `peerbox-image`: builds and boots Peerbox appliance images (see image/README.md).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use peerbox_image::{board, cache, cross, packages, qemu, tools, yocto};

#[derive(Parser)]
#[command(
    name = "peerbox-image",
    about = "Builds Peerbox appliance images for the boards of board-configs/"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a board's [image] table and the host tools its build needs.
    Check { board: String },
    /// Build peerbox-BOARD.img(.xz) into target/image/BOARD (needs root).
    Build {
        board: String,
        /// Output folder instead of target/image/BOARD.
        #[arg(long)]
        out: Option<PathBuf>,
        /// xz compression level of the .img.xz (0-9; 6 or more for published images).
        #[arg(long, default_value_t = 0)]
        xz_level: u32,
        /// The system's version (semver) for updates; default: the workspace's version.
        #[arg(long)]
        version: Option<String>,
        /// A public key (`peerbox ota keygen`'s .pub) the box trusts for update bundles;
        /// repeat for several. Without any, the box refuses every update.
        #[arg(long = "ota-key")]
        ota_keys: Vec<PathBuf>,
        /// A folder copied over the system partition last (a site's settings or units).
        #[arg(long)]
        overlay: Option<PathBuf>,
    },
    /// Boot the built qemu-virt image with its serial console on this terminal.
    Boot {
        #[arg(default_value = "qemu-virt")]
        board: String,
        /// Loopback port forwarded to the node's port 80.
        #[arg(long, default_value_t = 8080)]
        port: u16,
    },
    /// Print the environment that cross-compiles the workspace for an architecture
    /// (making the sysroot first if needed): `eval "$(peerbox-image cross-env)"`.
    CrossEnv {
        #[arg(long, default_value = "arm64")]
        arch: String,
    },
    /// Write image/meta-peerbox/recipes-peerbox/peerbox/peerbox-crates.inc from Cargo.lock.
    YoctoCrates,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let repo = peerbox_image::repo_root();
    match cli.command {
        Command::Check { board } => {
            let b = peerbox_image::check(&repo, &board)?;
            println!(
                "{}: [image] table and host tools are fine ({} {} image)",
                b.name,
                b.image.arch.debian(),
                b.image.boot_flow.name()
            );
        }
        Command::Build {
            board,
            out,
            xz_level,
            version,
            ota_keys,
            overlay,
        } => {
            if xz_level > 9 {
                bail!("--xz-level must be 0 to 9");
            }
            let built = peerbox_image::build(
                &repo,
                &board,
                &peerbox_image::Options {
                    out_dir: out,
                    xz_level,
                    version,
                    ota_keys,
                    overlay,
                },
            )?;
            println!("{}", built.image_xz.display());
        }
        Command::Boot { board, port } => {
            tools::require(tools::QEMU_ARM64)?;
            let out = peerbox_image::output_dir(&repo, &board);
            let bios = out.join("u-boot.bin");
            let image_xz = out.join(format!("peerbox-{board}.img.xz"));
            if !bios.is_file() || !image_xz.is_file() {
                bail!(
                    "no built {board} image with U-Boot in {}: run `just image {board}` first",
                    out.display()
                );
            }
            let disk = out.join("card.img");
            qemu::flash(&image_xz, &disk)?;
            eprintln!("node on http://127.0.0.1:{port}/ once booted; Ctrl-A X quits");
            let status = qemu::command(&bios, &disk, port, &qemu::Serial::Terminal, false)
                .status()
                .context("cannot start qemu-system-aarch64")?;
            if !status.success() {
                bail!("qemu exited with {status}");
            }
        }
        Command::CrossEnv { arch } => {
            let arch = match arch.as_str() {
                "arm64" => board::Arch::Arm64,
                "amd64" => board::Arch::Amd64,
                other => bail!("unknown architecture {other:?}: arm64 or amd64"),
            };
            tools::require(&[tools::COMMON[0]])?;
            let cache = cache::Cache::new(&repo)?;
            let lists = packages::PackageLists::load(&repo)?;
            let sources = peerbox_image::apt::Sources::new("bookworm");
            let sysroot = cross::sysroot(&cache, arch, &sources, &lists)?;
            for (k, v) in cross::env(arch, &sysroot) {
                if v.is_empty() {
                    println!("unset {k}");
                } else {
                    println!("export {k}='{v}'");
                }
            }
        }
        Command::YoctoCrates => {
            let path = yocto::crates_inc_path(&repo);
            std::fs::write(&path, yocto::crates_inc(&repo)?)
                .with_context(|| format!("cannot write {}", path.display()))?;
            println!("{}", path.display());
        }
    }
    Ok(())
}
