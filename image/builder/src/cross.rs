//! Cross-compiling the node: a sysroot of the target architecture made with mmdebstrap
//! (the C library and the GStreamer -dev packages, whose native and arm64 versions cannot be
//! installed side by side on the host), pkg-config pointed at it, and Debian's cross gcc as
//! the linker.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::apt::Sources;
use crate::board::Arch;
use crate::cache::{self, Cache};
use crate::packages::PackageLists;
use crate::tools;

/// The sysroot for `arch`, made once per package list.
pub fn sysroot(
    cache: &Cache,
    arch: Arch,
    sources: &Sources,
    lists: &PackageLists,
) -> Result<PathBuf> {
    let mut inputs = vec![
        "sysroot v1".to_string(),
        arch.debian().to_string(),
        sources.describe(),
    ];
    inputs.extend(lists.sysroot.iter().cloned());
    let family = format!("sysroot-{}-", arch.debian());
    let name = format!("{family}{}", cache::key(&inputs));
    cache.entry(&family, &name, |dir| {
        crate::step(
            &format!(
                "sysroot for {} ({})",
                arch.debian(),
                lists.sysroot.join(" ")
            ),
            || {
                let mut cmd = tools::command("mmdebstrap");
                cmd.arg("--quiet")
                    .arg("--variant=extract")
                    .arg(format!("--arch={}", arch.debian()))
                    .arg(format!("--include={}", lists.sysroot.join(",")))
                    .args(DPKG_EXCLUDES.iter().map(|e| format!("--dpkgopt={e}")))
                    .arg(&sources.suite)
                    .arg(dir)
                    .args(sources.lines("main", false));
                tools::run(&mut cmd)?;
                relative_symlinks(dir)
            },
        )
    })
}

/// Documentation and translations: not needed in a sysroot or on the box.
pub const DPKG_EXCLUDES: &[&str] = &[
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/lintian/*",
];

/// Debian's -dev packages link `libm.so` to `/lib/...` absolutely: inside a sysroot such a
/// link would point at the host's files, so make every absolute link relative.
fn relative_symlinks(root: &Path) -> Result<()> {
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_symlink() {
                let target = std::fs::read_link(&path)?;
                if let Ok(inside) = target.strip_prefix("/") {
                    let depth = path
                        .parent()
                        .and_then(|p| p.strip_prefix(root).ok())
                        .map(|p| p.components().count())
                        .unwrap_or(0);
                    let mut relative = PathBuf::new();
                    for _ in 0..depth {
                        relative.push("..");
                    }
                    relative.push(inside);
                    std::fs::remove_file(&path)?;
                    std::os::unix::fs::symlink(&relative, &path)?;
                }
            }
        }
    }
    Ok(())
}

/// Environment that makes cargo, cc-rs and pkg-config build for `arch` against `sysroot`.
pub fn env(arch: Arch, sysroot: &Path) -> Vec<(String, String)> {
    let target = arch.rust_target();
    let upper = target.to_uppercase().replace('-', "_");
    let lower = target.replace('-', "_");
    let triplet = arch.gnu_triplet();
    let s = sysroot.display().to_string();
    vec![
        (
            format!("CARGO_TARGET_{upper}_LINKER"),
            format!("{triplet}-gcc"),
        ),
        (
            format!("CARGO_TARGET_{upper}_RUSTFLAGS"),
            format!("-C link-arg=--sysroot={s}"),
        ),
        (format!("CC_{lower}"), format!("{triplet}-gcc")),
        (format!("CXX_{lower}"), format!("{triplet}-g++")),
        (format!("AR_{lower}"), format!("{triplet}-ar")),
        (format!("CFLAGS_{lower}"), format!("--sysroot={s}")),
        (format!("CXXFLAGS_{lower}"), format!("--sysroot={s}")),
        ("PKG_CONFIG_ALLOW_CROSS".into(), "1".into()),
        ("PKG_CONFIG_SYSROOT_DIR".into(), s.clone()),
        (
            "PKG_CONFIG_LIBDIR".into(),
            format!("{s}/usr/lib/{triplet}/pkgconfig:{s}/usr/share/pkgconfig"),
        ),
        // Only the sysroot's .pc files: none of the host's.
        ("PKG_CONFIG_PATH".into(), String::new()),
    ]
}

fn cargo() -> PathBuf {
    std::env::var_os("CARGO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("cargo"))
}

/// Adds the Rust standard library for `target` with rustup when it is missing.
fn ensure_rust_target(target: &str) -> Result<()> {
    let out = tools::output(tools::command("rustc").args([
        "--print",
        "target-libdir",
        "--target",
        target,
    ]))
    .context("cannot run rustc (is a Rust toolchain installed?)")?;
    if Path::new(out.trim()).is_dir() {
        return Ok(());
    }
    if tools::find("rustup").is_none() {
        bail!("the Rust standard library for {target} is missing and rustup is not installed");
    }
    eprintln!("adding the Rust target {target} with rustup");
    tools::run(tools::command("rustup").args(["target", "add", target]))?;
    Ok(())
}

/// Builds `package`'s binary `bin` for `arch` in release mode; returns its path.
pub fn build(
    repo: &Path,
    cache: &Cache,
    arch: Arch,
    sysroot: &Path,
    package: &str,
    bin: &str,
) -> Result<PathBuf> {
    let target = arch.rust_target();
    ensure_rust_target(target)?;
    let target_dir = cache.path("cargo-target");
    let mut cmd = tools::command(cargo());
    cmd.current_dir(repo)
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            target,
            "-p",
            package,
            "--bin",
            bin,
        ])
        .env("CARGO_TARGET_DIR", &target_dir)
        // An appliance binary: no symbols to carry on every card.
        .env("CARGO_PROFILE_RELEASE_STRIP", "symbols")
        // These would override the target's link flags.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET");
    for (k, v) in env(arch, sysroot) {
        if v.is_empty() {
            cmd.env_remove(&k);
        } else {
            cmd.env(k, v);
        }
    }
    tools::run_visible(&mut cmd)
        .with_context(|| format!("cross-compiling {package} for {target}"))?;
    let path = target_dir.join(target).join("release").join(bin);
    if !path.is_file() {
        bail!("cargo finished but {} is missing", path.display());
    }
    Ok(path)
}

/// The shared libraries an ELF binary asks for (its NEEDED entries).
pub fn needed_libraries(arch: Arch, binary: &Path) -> Result<Vec<String>> {
    let readelf = format!("{}-readelf", arch.gnu_triplet());
    let text = tools::output(tools::command(&readelf).arg("-d").arg(binary))?;
    Ok(text
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| {
            let start = l.find('[')? + 1;
            let end = l.rfind(']')?;
            Some(l[start..end].to_string())
        })
        .collect())
}
