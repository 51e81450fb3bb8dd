//! Host tools: finding them, saying which Debian package brings a missing one, and running
//! them with errors that show what failed.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use anyhow::{Context, Result, bail};

/// A command the build runs and the Debian package that provides it.
#[derive(Debug, Clone, Copy)]
pub struct Tool {
    pub command: &'static str,
    pub package: &'static str,
}

const fn tool(command: &'static str, package: &'static str) -> Tool {
    Tool { command, package }
}

/// Always needed to build any image.
pub const COMMON: &[Tool] = &[
    tool("mmdebstrap", "mmdebstrap"),
    tool("apt-get", "apt"),
    tool("dpkg-deb", "dpkg"),
    tool("tar", "tar"),
    tool("gzip", "gzip"),
    tool("xz", "xz-utils"),
    tool("mkfs.fat", "dosfstools"),
    tool("mcopy", "mtools"),
    tool("mdir", "mtools"),
    tool("sfdisk", "fdisk"),
    tool("mkfs.ext4", "e2fsprogs"),
    tool("mkfs.erofs", "erofs-utils"),
    tool("depmod", "kmod"),
    tool("modprobe", "kmod"),
    tool("pkg-config", "pkgconf"),
    tool("chroot", "coreutils"),
    tool("sha256sum", "coreutils"),
];

/// Cross-building for arm64 on another architecture.
pub const ARM64_CROSS: &[Tool] = &[
    tool("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu"),
    tool("aarch64-linux-gnu-readelf", "binutils-aarch64-linux-gnu"),
    tool("qemu-aarch64-static", "qemu-user-static"),
    tool("update-binfmts", "binfmt-support"),
    // mmdebstrap refuses a foreign architecture without it (a Recommends, not a Depends).
    tool("arch-test", "arch-test"),
];

pub const UBOOT: &[Tool] = &[tool("mkimage", "u-boot-tools")];

pub const QEMU_ARM64: &[Tool] = &[tool("qemu-system-aarch64", "qemu-system-arm")];

/// Debian's archive keys, to check what apt and mmdebstrap download.
pub const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// PATH plus the sbin folders that a non-root shell may lack (mkfs.*, sfdisk, depmod).
pub fn search_path() -> std::ffi::OsString {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for extra in ["/usr/local/sbin", "/usr/sbin", "/sbin"] {
        let extra = PathBuf::from(extra);
        if !dirs.contains(&extra) {
            dirs.push(extra);
        }
    }
    std::env::join_paths(dirs).unwrap_or_default()
}

pub fn find(command: &str) -> Option<PathBuf> {
    std::env::split_paths(&search_path())
        .map(|d| d.join(command))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Fails, naming every missing tool and the packages to install, if any tool is missing.
pub fn require(tools: &[Tool]) -> Result<()> {
    let missing: Vec<&Tool> = tools.iter().filter(|t| find(t.command).is_none()).collect();
    let keyring_missing = !Path::new(KEYRING).is_file();
    if missing.is_empty() && !keyring_missing {
        return Ok(());
    }
    let mut lines: Vec<String> = missing
        .iter()
        .map(|t| format!("  {} (Debian package {})", t.command, t.package))
        .collect();
    let mut packages: Vec<&str> = missing.iter().map(|t| t.package).collect();
    if keyring_missing {
        lines.push(format!(
            "  {KEYRING} (Debian package debian-archive-keyring)"
        ));
        packages.push("debian-archive-keyring");
    }
    packages.sort();
    packages.dedup();
    bail!(
        "missing host tools:\n{}\ninstall them with: apt-get install {}\n(or run image/install-host-deps)",
        lines.join("\n"),
        packages.join(" ")
    )
}

/// A command for `program` with the sbin folders on its PATH.
pub fn command(program: impl AsRef<OsStr>) -> Command {
    let mut c = Command::new(program);
    c.env("PATH", search_path());
    c
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        let a = a.to_string_lossy();
        if a.contains(' ') || a.is_empty() {
            s.push_str(&format!(" '{a}'"));
        } else {
            s.push(' ');
            s.push_str(&a);
        }
    }
    s
}

/// The last lines of a tool's output, for an error message.
fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// Runs the command, capturing its output; fails with the command line and its stderr.
pub fn run(cmd: &mut Command) -> Result<Output> {
    let line = describe(cmd);
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot start `{line}`"))?;
    if !out.status.success() {
        bail!(
            "`{line}` failed ({}):\n{}{}",
            out.status,
            tail(&out.stdout),
            tail(&out.stderr)
        );
    }
    Ok(out)
}

/// Runs the command with its output going to ours (long steps show their progress).
pub fn run_visible(cmd: &mut Command) -> Result<()> {
    let line = describe(cmd);
    let status = cmd
        .stdin(Stdio::null())
        .status()
        .with_context(|| format!("cannot start `{line}`"))?;
    if !status.success() {
        bail!("`{line}` failed ({status})");
    }
    Ok(())
}

/// Runs the command and returns its standard output as text.
pub fn output(cmd: &mut Command) -> Result<String> {
    let out = run(cmd)?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
