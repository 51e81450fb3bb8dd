//! What the boot flows put on the config and boot partitions: for Raspberry Pi, the firmware
//! files, `config.txt`, `cmdline.txt` and `autoboot.txt`; for U-Boot, `boot.scr`.

use std::path::Path;

use anyhow::{Context, Result};

use crate::board::Board;
use crate::layout::{BOOT_A, BOOT_B, Layout, SYSTEM_A, SYSTEM_B};
use crate::tools;

/// Which slot a set of boot files is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    A,
    B,
}

impl Slot {
    pub fn letter(self) -> &'static str {
        match self {
            Slot::A => "A",
            Slot::B => "B",
        }
    }

    pub fn boot_partition(self) -> u8 {
        match self {
            Slot::A => BOOT_A,
            Slot::B => BOOT_B,
        }
    }

    pub fn system_partition(self) -> u8 {
        match self {
            Slot::A => SYSTEM_A,
            Slot::B => SYSTEM_B,
        }
    }
}

fn console_args(board: &Board) -> Vec<String> {
    board
        .image
        .console
        .iter()
        .map(|c| format!("console={c}"))
        .collect()
}

/// `autoboot.txt`: slot A normally, slot B for one boot after `reboot "0 tryboot"`. The
/// update agent commits a slot by rewriting this file with the partitions swapped.
pub fn autoboot_txt() -> String {
    format!(
        "# Peerbox A/B boot (Raspberry Pi firmware tryboot). Boot partition {BOOT_A} is slot A,\n\
         # {BOOT_B} is slot B; the update agent swaps them when it commits an update.\n\
         [all]\n\
         tryboot_a_b=1\n\
         boot_partition={BOOT_A}\n\
         [tryboot]\n\
         boot_partition={BOOT_B}\n"
    )
}

/// `config.txt` of a slot's boot partition.
pub fn config_txt(board: &Board) -> String {
    let mut s = format!(
        "# Peerbox for {} (board-configs/{}.toml), written by the image build.\n\
         # Debian's 64-bit kernel and the initramfs that mounts this slot's system partition.\n\
         arm_64bit=1\n\
         kernel=vmlinuz\n\
         initramfs initrd.img followkernel\n\
         # A mainline kernel: the firmware passes it the upstream device tree.\n\
         upstream_kernel=1\n\
         # Serial console for the boot log and the claim code.\n\
         enable_uart=1\n",
        board.name, board.name
    );
    if !board.image.config_txt.is_empty() {
        s.push_str("# Board settings ([image].config_txt)\n");
        for line in &board.image.config_txt {
            s.push_str(line);
            s.push('\n');
        }
    }
    s
}

/// `cmdline.txt` of a slot's boot partition: the kernel arguments, root by PARTUUID.
pub fn cmdline_txt(board: &Board, layout: &Layout, slot: Slot) -> String {
    let mut args = console_args(board);
    args.push(format!(
        "root=PARTUUID={}",
        layout.partuuid(slot.system_partition())
    ));
    args.extend(["rootfstype=erofs", "ro", "rootwait"].map(String::from));
    args.push(format!("peerbox.slot={}", slot.letter()));
    args.extend(board.image.cmdline.iter().cloned());
    args.join(" ") + "\n"
}

/// Compiles `image/uboot/boot.cmd` for this board into `dest` (boot.scr).
pub fn uboot_script(repo: &Path, board: &Board, layout: &Layout, dest: &Path) -> Result<()> {
    let template_path = repo.join("image/uboot/boot.cmd");
    let template = std::fs::read_to_string(&template_path)
        .with_context(|| format!("cannot read {}", template_path.display()))?;
    let mut bootargs = console_args(board);
    bootargs.extend(board.image.cmdline.iter().cloned());
    let fdt = match board.image.kernel.dtbs.first() {
        None => "# The device tree is the one QEMU (or the firmware) gave U-Boot.\nsetenv peerbox_fdt ${fdtcontroladdr}".to_string(),
        Some(dtb) => {
            let name = dtb.rsplit('/').next().unwrap_or(dtb);
            format!(
                "load ${{devtype}} ${{devnum}}:${{peerbox_boot_part}} ${{fdt_addr_r}} {name}\nsetenv peerbox_fdt ${{fdt_addr_r}}"
            )
        }
    };
    let script = template
        .replace("@DISK_ID@", &format!("{:08x}", layout.disk_id))
        .replace("@BOOTARGS@", &bootargs.join(" "))
        .replace("@FDT@", &fdt);
    let cmd_file = dest.with_extension("cmd");
    std::fs::write(&cmd_file, script)?;
    tools::run(
        tools::command("mkimage")
            .args(["-A", "arm64", "-O", "linux", "-T", "script", "-C", "none"])
            .args(["-n", "Peerbox A/B boot"])
            .arg("-d")
            .arg(&cmd_file)
            .arg(dest),
    )?;
    std::fs::remove_file(&cmd_file)?;
    Ok(())
}

/// Initial U-Boot slot state: slot A first, three tries each.
pub fn uboot_state() -> String {
    "BOOT_ORDER=A B\nBOOT_A_LEFT=3\nBOOT_B_LEFT=3\n".to_string()
}
