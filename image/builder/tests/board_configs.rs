//! The `[image]` tables of board-configs/ and what the builder says about bad ones and about
//! a host that lacks a tool. Fast: nothing is built.

use std::path::Path;
use std::process::Command;

use peerbox_image::board::{Board, BootFlow};

fn repo() -> std::path::PathBuf {
    peerbox_image::repo_root()
}

fn rpi4_text() -> String {
    std::fs::read_to_string(repo().join("board-configs/rpi4.toml")).expect("rpi4.toml")
}

/// The error of parsing rpi4.toml with `from` replaced by `to`.
fn error_with(from: &str, to: &str) -> String {
    let text = rpi4_text();
    assert!(text.contains(from), "rpi4.toml no longer contains {from:?}");
    let changed = text.replacen(from, to, 1);
    let err = Board::parse("rpi4", Path::new("rpi4.toml"), &changed)
        .expect_err("the changed table must be refused");
    format!("{err:#}")
}

#[test]
fn every_board_config_has_a_valid_image_table() {
    let names = peerbox_image::board::known_boards(&repo().join("board-configs"));
    for expected in ["qemu-virt", "rpi4", "rpi5", "rock5b", "x86-64"] {
        assert!(
            names.iter().any(|n| n == expected),
            "no board-configs/{expected}.toml"
        );
    }
    for name in &names {
        let board = Board::load(&repo(), name).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        assert_eq!(&board.name, name);
    }
    let rpi4 = Board::load(&repo(), "rpi4").expect("rpi4");
    assert_eq!(rpi4.image.boot_flow, BootFlow::RpiTryboot);
    assert!(rpi4.image.firmware.is_some() && rpi4.image.imager.is_some());
    let qemu = Board::load(&repo(), "qemu-virt").expect("qemu-virt");
    assert_eq!(qemu.image.boot_flow, BootFlow::Uboot);
    assert_eq!(qemu.image.console, vec!["ttyAMA0".to_string()]);
}

#[test]
fn a_bad_image_table_is_refused_naming_the_key() {
    let cases = [
        // (replace, with, the message must contain)
        (
            "boot_flow = \"rpi-tryboot\"",
            "bootflow = \"rpi-tryboot\"",
            "bootflow",
        ),
        ("arch = \"arm64\"\n", "", "arch"),
        ("arch = \"arm64\"", "arch = \"aarch64\"", "[image].arch"),
        (
            "boot_flow = \"rpi-tryboot\"",
            "boot_flow = \"tryboot\"",
            "[image].boot_flow",
        ),
        (
            "boot = \"128MiB\"",
            "boot = \"128MB\"",
            "[image].partitions.boot",
        ),
        (
            "system = \"1536MiB\"",
            "system = \"16MiB\"",
            "[image].partitions.system",
        ),
        ("data = \"256MiB\"", "data = 256", "data"),
        (
            "console = [\"tty1\", \"ttyS1,115200\"]",
            "console = []",
            "[image].console",
        ),
        (
            "\"uas\",",
            "\"uas; rm -rf /\",",
            "[image].initramfs_modules",
        ),
        (
            "package = \"raspi-firmware\"",
            "package = \"Raspi Firmware\"",
            "[image].firmware.package",
        ),
        (
            "files = [\"start4.elf\", \"fixup4.dat\"]",
            "files = [\"../start4.elf\"]",
            "[image].firmware.files",
        ),
        (
            "\"broadcom/bcm2711-rpi-4-b.dtb\",",
            "\"broadcom/bcm2711-rpi-4-b.dts\",",
            "[image].kernel.dtbs",
        ),
        (
            "devices = [\"pi4-64bit\"]",
            "devices = []",
            "[image].imager.devices",
        ),
        (
            "[image.firmware]\npackage = \"raspi-firmware\"",
            "[image.no_firmware]\npackage = \"raspi-firmware\"",
            "no_firmware",
        ),
    ];
    for (from, to, needle) in cases {
        let err = error_with(from, to);
        assert!(err.contains("board-configs/rpi4.toml"), "{err}");
        assert!(
            err.contains(needle),
            "replacing {from:?} by {to:?}: {err:?} does not name {needle:?}"
        );
    }
}

#[test]
fn a_board_without_image_table_or_file_is_named() {
    let err = Board::parse("tiny", Path::new("tiny.toml"), "[board]\nname = \"tiny\"\n")
        .expect_err("no [image]");
    assert!(
        format!("{err:#}").contains("board-configs/tiny.toml has no [image] table"),
        "{err:#}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_peerbox-image"))
        .args(["check", "rpi9"])
        .output()
        .expect("run peerbox-image");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown board \"rpi9\""), "{stderr}");
    assert!(
        stderr.contains("rpi4") && stderr.contains("qemu-virt"),
        "{stderr}"
    );
}

#[test]
fn a_missing_host_tool_is_named_with_its_debian_package() {
    // A PATH without /usr/bin: mmdebstrap, mcopy, xz and the cross gcc cannot be found.
    let empty = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_peerbox-image"))
        .args(["check", "rpi4"])
        .env("PATH", empty.path())
        .output()
        .expect("run peerbox-image");
    assert!(!out.status.success(), "check passed without tools");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for line in [
        "mmdebstrap (Debian package mmdebstrap)",
        "mcopy (Debian package mtools)",
        "xz (Debian package xz-utils)",
        "aarch64-linux-gnu-gcc (Debian package gcc-aarch64-linux-gnu)",
        "qemu-aarch64-static (Debian package qemu-user-static)",
        "install them with: apt-get install",
    ] {
        assert!(stderr.contains(line), "missing {line:?} in:\n{stderr}");
    }
    // The U-Boot board also needs mkimage.
    let out = Command::new(env!("CARGO_BIN_EXE_peerbox-image"))
        .args(["check", "qemu-virt"])
        .env("PATH", empty.path())
        .output()
        .expect("run peerbox-image");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("mkimage (Debian package u-boot-tools)"),
        "{stderr}"
    );
}

#[test]
fn unbuildable_boards_say_why() {
    // x86-64 describes a GRUB/EFI box that the Debian builder does not make yet.
    let err = peerbox_image::build(&repo(), "x86-64", &peerbox_image::Options::default())
        .expect_err("x86-64 is not built");
    let msg = format!("{err:#}");
    assert!(
        msg.contains("grub-efi") && msg.contains("not built yet"),
        "{msg}"
    );
}
