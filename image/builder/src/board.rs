//! The `[image]` table of `board-configs/BOARD.toml`: what the image build needs to know about
//! a board. Other tables of the file belong to the node and the media pipeline and are not
//! read here. Every error names the file and the key.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

const MIB: u64 = 1 << 20;

/// How the board picks a slot at boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootFlow {
    /// Raspberry Pi firmware: `autoboot.txt` with `tryboot_a_b=1` on the config partition.
    RpiTryboot,
    /// U-Boot running `boot.scr` from the config partition, with per-slot try counters.
    Uboot,
    /// GRUB on an EFI system partition (PCs). Described by board configs, not built yet.
    GrubEfi,
}

impl BootFlow {
    pub fn name(self) -> &'static str {
        match self {
            BootFlow::RpiTryboot => "rpi-tryboot",
            BootFlow::Uboot => "uboot",
            BootFlow::GrubEfi => "grub-efi",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    Arm64,
    Amd64,
}

impl Arch {
    /// Debian's name.
    pub fn debian(self) -> &'static str {
        match self {
            Arch::Arm64 => "arm64",
            Arch::Amd64 => "amd64",
        }
    }

    pub fn rust_target(self) -> &'static str {
        match self {
            Arch::Arm64 => "aarch64-unknown-linux-gnu",
            Arch::Amd64 => "x86_64-unknown-linux-gnu",
        }
    }

    /// GNU triplet: Debian's multiarch directory and cross-toolchain prefix.
    pub fn gnu_triplet(self) -> &'static str {
        match self {
            Arch::Arm64 => "aarch64-linux-gnu",
            Arch::Amd64 => "x86_64-linux-gnu",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Board {
    pub name: String,
    pub path: PathBuf,
    pub image: ImageConfig,
}

#[derive(Debug, Clone)]
pub struct ImageConfig {
    pub arch: Arch,
    pub boot_flow: BootFlow,
    pub suite: String,
    pub kernel: Kernel,
    pub console: Vec<String>,
    pub cmdline: Vec<String>,
    pub initramfs_modules: Vec<String>,
    pub packages: Vec<String>,
    pub partitions: Partitions,
    pub firmware: Option<Firmware>,
    pub config_txt: Vec<String>,
    pub uboot: Option<Uboot>,
    pub imager: Option<Imager>,
}

#[derive(Debug, Clone)]
pub struct Kernel {
    pub package: String,
    /// Debian suite to take the kernel from when not `suite` (e.g. `bookworm-backports`).
    pub suite: Option<String>,
    /// Device trees copied to the boot partitions, as paths under `/usr/lib/linux-image-*/`.
    pub dtbs: Vec<String>,
}

/// Partition sizes in bytes. The layout itself is fixed (see `layout.rs`).
#[derive(Debug, Clone, Copy)]
pub struct Partitions {
    pub config: u64,
    pub boot: u64,
    pub system: u64,
    pub data: u64,
}

#[derive(Debug, Clone)]
pub struct Firmware {
    pub package: String,
    /// Files of `/usr/lib/raspi-firmware/` that go onto the boot partitions.
    pub files: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Uboot {
    pub package: String,
    /// Path of the U-Boot binary inside the package.
    pub binary: String,
    /// Where it goes: `None` for a virtual board's `-bios`, shipped beside the image; a byte
    /// offset for boards whose boot ROM reads it from the card.
    pub offset: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Imager {
    pub name: String,
    pub description: String,
    pub devices: Vec<String>,
}

#[derive(Deserialize)]
struct File {
    image: Option<RawImage>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawImage {
    arch: String,
    boot_flow: String,
    suite: String,
    kernel: RawKernel,
    console: Vec<String>,
    #[serde(default)]
    cmdline: Vec<String>,
    initramfs_modules: Vec<String>,
    #[serde(default)]
    packages: Vec<String>,
    partitions: RawPartitions,
    firmware: Option<RawFirmware>,
    #[serde(default)]
    config_txt: Vec<String>,
    uboot: Option<RawUboot>,
    imager: Option<RawImager>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKernel {
    package: String,
    suite: Option<String>,
    #[serde(default)]
    dtbs: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPartitions {
    config: String,
    boot: String,
    system: String,
    data: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFirmware {
    package: String,
    files: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUboot {
    package: String,
    binary: String,
    offset: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawImager {
    name: String,
    description: String,
    devices: Vec<String>,
}

impl Board {
    /// Loads `board-configs/NAME.toml` from the repository.
    pub fn load(repo: &Path, name: &str) -> Result<Board> {
        let dir = repo.join("board-configs");
        let path = dir.join(format!("{name}.toml"));
        if !path.is_file() {
            bail!(
                "unknown board {name:?}: there is no board-configs/{name}.toml (boards: {})",
                known_boards(&dir).join(", ")
            );
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Board::parse(name, &path, &text)
    }

    pub fn parse(name: &str, path: &Path, text: &str) -> Result<Board> {
        let shown = format!("board-configs/{name}.toml");
        let file: File = toml::from_str(text)
            .map_err(|e| anyhow::anyhow!("{shown}: invalid [image] table: {e}"))?;
        let raw = file
            .image
            .with_context(|| format!("{shown} has no [image] table"))?;
        let image = validate(raw).map_err(|e| anyhow::anyhow!("{shown}: {e}"))?;
        Ok(Board {
            name: name.to_string(),
            path: path.to_path_buf(),
            image,
        })
    }
}

pub fn known_boards(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".toml").map(str::to_string)
        })
        .collect();
    names.sort();
    names
}

/// `"64MiB"`, `"2GiB"`, `"32KiB"`: a whole number and a binary unit.
pub fn parse_size(text: &str) -> Option<u64> {
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map(|i| text.split_at(i))?;
    let n: u64 = number.parse().ok()?;
    let factor = match unit {
        "KiB" => 1 << 10,
        "MiB" => MIB,
        "GiB" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(factor).filter(|&v| v > 0)
}

fn size(key: &str, text: &str, min: u64) -> Result<u64> {
    let bytes = parse_size(text).with_context(|| {
        format!("[image].{key} = {text:?} is not a size: write a whole number of MiB or GiB, e.g. \"128MiB\"")
    })?;
    if !bytes.is_multiple_of(MIB) {
        bail!("[image].{key} = {text:?} is not a whole number of MiB");
    }
    if bytes < min {
        bail!(
            "[image].{key} = {text:?} is too small: at least {} MiB",
            min / MIB
        );
    }
    Ok(bytes)
}

fn is_package_name(s: &str) -> bool {
    s.len() >= 2
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c))
}

fn packages(key: &str, list: &[String]) -> Result<()> {
    for p in list {
        if !is_package_name(p) {
            bail!("[image].{key} has {p:?}, which is not a Debian package name");
        }
    }
    Ok(())
}

fn plain_file_name(key: &str, name: &str) -> Result<()> {
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        bail!("[image].{key} has {name:?}: give a file name without a folder");
    }
    Ok(())
}

fn relative_path(key: &str, path: &str) -> Result<()> {
    if path.is_empty()
        || path.starts_with('/')
        || path.split('/').any(|c| c == ".." || c.is_empty())
    {
        bail!("[image].{key} = {path:?} must be a relative path inside the package");
    }
    Ok(())
}

fn validate(raw: RawImage) -> Result<ImageConfig> {
    let arch = match raw.arch.as_str() {
        "arm64" => Arch::Arm64,
        "amd64" => Arch::Amd64,
        other => bail!("[image].arch = {other:?}: use \"arm64\" or \"amd64\" (Debian's names)"),
    };
    let boot_flow = match raw.boot_flow.as_str() {
        "rpi-tryboot" => BootFlow::RpiTryboot,
        "uboot" => BootFlow::Uboot,
        "grub-efi" => BootFlow::GrubEfi,
        other => {
            bail!("[image].boot_flow = {other:?}: use \"rpi-tryboot\", \"uboot\" or \"grub-efi\"")
        }
    };
    if !is_package_name(&raw.suite) {
        bail!(
            "[image].suite = {:?} is not a Debian suite name (e.g. \"bookworm\")",
            raw.suite
        );
    }

    packages("kernel.package", std::slice::from_ref(&raw.kernel.package))?;
    if let Some(suite) = &raw.kernel.suite
        && !is_package_name(suite)
    {
        bail!("[image].kernel.suite = {suite:?} is not a Debian suite name");
    }
    for dtb in &raw.kernel.dtbs {
        relative_path("kernel.dtbs", dtb)?;
        if !dtb.ends_with(".dtb") {
            bail!("[image].kernel.dtbs has {dtb:?}, which is not a .dtb file");
        }
    }

    if raw.console.is_empty() {
        bail!("[image].console is empty: name at least one console, e.g. [\"ttyAMA0\"]");
    }
    for c in &raw.console {
        let dev = c.split(',').next().unwrap_or("");
        let speed_ok = c
            .split_once(',')
            .is_none_or(|(_, s)| !s.is_empty() && s.chars().all(|ch| ch.is_ascii_alphanumeric()));
        if !dev.starts_with("tty")
            || !dev[3..].chars().all(|ch| ch.is_ascii_alphanumeric())
            || !speed_ok
        {
            bail!("[image].console has {c:?}: write a kernel console, e.g. \"ttyS1,115200\"");
        }
    }
    for arg in &raw.cmdline {
        if arg.is_empty() || arg.contains(char::is_whitespace) || arg.starts_with("root=") {
            bail!(
                "[image].cmdline has {arg:?}: one kernel argument per item, and not root= (the build sets it per slot)"
            );
        }
    }
    if raw.initramfs_modules.is_empty() {
        bail!(
            "[image].initramfs_modules is empty: list the drivers that reach the system partition (disk controller, erofs)"
        );
    }
    for m in &raw.initramfs_modules {
        if m.is_empty()
            || !m
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            bail!("[image].initramfs_modules has {m:?}, which is not a module name");
        }
    }
    packages("packages", &raw.packages)?;

    let partitions = Partitions {
        config: size("partitions.config", &raw.partitions.config, 4 * MIB)?,
        boot: size("partitions.boot", &raw.partitions.boot, 32 * MIB)?,
        system: size("partitions.system", &raw.partitions.system, 256 * MIB)?,
        data: size("partitions.data", &raw.partitions.data, 32 * MIB)?,
    };

    let firmware = match raw.firmware {
        Some(f) => {
            packages("firmware.package", std::slice::from_ref(&f.package))?;
            // An empty list is fine: the Pi 5 loads no start*.elf (its bootloader is in EEPROM).
            for name in &f.files {
                plain_file_name("firmware.files", name)?;
            }
            Some(Firmware {
                package: f.package,
                files: f.files,
            })
        }
        None => None,
    };
    let uboot = match raw.uboot {
        Some(u) => {
            packages("uboot.package", std::slice::from_ref(&u.package))?;
            relative_path("uboot.binary", &u.binary)?;
            let offset = match &u.offset {
                None => None,
                Some(text) => Some(parse_size(text).with_context(|| {
                    format!("[image].uboot.offset = {text:?} is not a size, e.g. \"32KiB\"")
                })?),
            };
            if let Some(o) = offset
                && o >= MIB
            {
                bail!(
                    "[image].uboot.offset is {o} bytes: it must be below 1 MiB, where the first partition starts"
                );
            }
            Some(Uboot {
                package: u.package,
                binary: u.binary,
                offset,
            })
        }
        None => None,
    };
    let imager = match raw.imager {
        Some(i) => {
            if i.name.trim().is_empty() {
                bail!("[image].imager.name is empty");
            }
            if i.devices.is_empty() {
                bail!(
                    "[image].imager.devices is empty: list Raspberry Pi Imager device tags, e.g. [\"pi4-64bit\"]"
                );
            }
            Some(Imager {
                name: i.name,
                description: i.description,
                devices: i.devices,
            })
        }
        None => None,
    };
    for line in &raw.config_txt {
        if line.contains('\n') {
            bail!("[image].config_txt: one line per item ({line:?})");
        }
    }

    match boot_flow {
        BootFlow::RpiTryboot => {
            if arch != Arch::Arm64 {
                bail!("[image].boot_flow = \"rpi-tryboot\" needs [image].arch = \"arm64\"");
            }
            if firmware.is_none() {
                bail!(
                    "[image].firmware is missing: a \"rpi-tryboot\" board needs the Raspberry Pi firmware package"
                );
            }
            if raw.kernel.dtbs.is_empty() {
                bail!(
                    "[image].kernel.dtbs is empty: the Raspberry Pi firmware loads the board's device tree from the boot partition"
                );
            }
            if imager.is_none() {
                bail!(
                    "[image].imager is missing: a Raspberry Pi image comes with its Raspberry Pi Imager entry"
                );
            }
            if uboot.is_some() {
                bail!("[image].uboot is set but boot_flow = \"rpi-tryboot\" boots without U-Boot");
            }
        }
        BootFlow::GrubEfi => {
            if firmware.is_some() || uboot.is_some() || !raw.config_txt.is_empty() {
                bail!(
                    "[image]: firmware, uboot and config_txt do not apply to boot_flow = \"grub-efi\""
                );
            }
        }
        BootFlow::Uboot => {
            if uboot.is_none() {
                bail!(
                    "[image].uboot is missing: a \"uboot\" board needs the U-Boot package and binary"
                );
            }
            if !raw.config_txt.is_empty() {
                bail!(
                    "[image].config_txt is only for Raspberry Pi boards (boot_flow = \"rpi-tryboot\")"
                );
            }
        }
    }

    Ok(ImageConfig {
        arch,
        boot_flow,
        suite: raw.suite,
        kernel: Kernel {
            package: raw.kernel.package,
            suite: raw.kernel.suite,
            dtbs: raw.kernel.dtbs,
        },
        console: raw.console,
        cmdline: raw.cmdline,
        initramfs_modules: raw.initramfs_modules,
        packages: raw.packages,
        partitions,
        firmware,
        config_txt: raw.config_txt,
        uboot,
        imager,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64MiB"), Some(64 * MIB));
        assert_eq!(parse_size("2GiB"), Some(2 << 30));
        assert_eq!(parse_size("32KiB"), Some(32 << 10));
        assert_eq!(parse_size("64MB"), None);
        assert_eq!(parse_size("MiB"), None);
        assert_eq!(parse_size("0MiB"), None);
        assert_eq!(parse_size("-1MiB"), None);
    }
}
