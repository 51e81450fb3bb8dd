//! Booting a built `qemu-virt` image: QEMU's aarch64 `virt` machine under TCG, U-Boot from
//! Debian's u-boot-qemu as its firmware, the node's port 80 forwarded to a loopback port.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::tools;

/// Writes the raw card image from `image_xz` (sparse: xz seeks over runs of zeros), unless
/// the card is newer than the image: like an SD card, it keeps its data between boots.
pub fn flash(image_xz: &Path, card: &Path) -> Result<()> {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if modified(card) >= modified(image_xz) {
        return Ok(());
    }
    let tmp = card.with_extension("img.tmp");
    let out =
        std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let status = tools::command("xz")
        .arg("-dc")
        .arg(image_xz)
        .stdout(out)
        .status()
        .context("cannot start xz")?;
    if !status.success() {
        bail!("xz could not decompress {} ({status})", image_xz.display());
    }
    std::fs::rename(&tmp, card)?;
    Ok(())
}

/// Where the guest's serial console goes.
pub enum Serial {
    /// The terminal (interactive: Ctrl-A X quits).
    Terminal,
    /// A log file, for tests.
    File(PathBuf),
}

/// The QEMU command line for a disk image. `no_reboot`: exit instead of rebooting.
pub fn command(
    bios: &Path,
    disk: &Path,
    host_port: u16,
    serial: &Serial,
    no_reboot: bool,
) -> Command {
    let mut c = tools::command("qemu-system-aarch64");
    c.args([
        "-M",
        "virt",
        "-cpu",
        "cortex-a72",
        "-smp",
        "2",
        "-m",
        "1024",
    ])
    .arg("-bios")
    .arg(bios)
    .arg("-drive")
    .arg(format!(
        "if=none,id=disk,format=raw,file={}",
        disk.display()
    ))
    .args(["-device", "virtio-blk-pci,drive=disk"])
    .arg("-netdev")
    .arg(format!("user,id=net,hostfwd=tcp:127.0.0.1:{host_port}-:80"))
    // No option ROM: U-Boot does not use it (and ipxe-qemu need not be installed).
    .args(["-device", "virtio-net-pci,netdev=net,romfile="])
    // Entropy for the guest's first boot (claim code, host keys) without waiting.
    .args(["-device", "virtio-rng-pci"])
    .args(["-display", "none"]);
    match serial {
        Serial::Terminal => {
            c.args(["-serial", "mon:stdio"]);
        }
        Serial::File(path) => {
            c.arg("-serial")
                .arg(format!("file:{}", path.display()))
                .args(["-monitor", "none"]);
        }
    }
    if no_reboot {
        c.arg("-no-reboot");
    }
    c
}
