//! The A/B disk layout, the same on every board (MBR, so that the Raspberry Pi firmware's
//! `boot_partition=` and `autoboot.txt` work on every Pi 4 and 5):
//!
//! | # | content                                        | file system      |
//! |---|------------------------------------------------|------------------|
//! | 1 | config: `autoboot.txt` or `boot.scr`, claim code | FAT, label PEERBOX |
//! | 2 | boot A: kernel, initramfs, device trees, firmware | FAT, BOOT-A     |
//! | 3 | boot B (empty until the first update)          | FAT, BOOT-B      |
//! | 4 | extended partition holding 5-7                 |                  |
//! | 5 | system A, read-only                            | EROFS            |
//! | 6 | system B (empty until the first update)        |                  |
//! | 7 | data, grown to the end of the card at first boot | ext4, peerbox-data |

use crate::board::Partitions;

pub const MIB: u64 = 1 << 20;
pub const SECTOR: u64 = 512;

pub const CONFIG: u8 = 1;
pub const BOOT_A: u8 = 2;
pub const BOOT_B: u8 = 3;
pub const EXTENDED: u8 = 4;
pub const SYSTEM_A: u8 = 5;
pub const SYSTEM_B: u8 = 6;
pub const DATA: u8 = 7;

pub const CONFIG_LABEL: &str = "PEERBOX";
pub const DATA_LABEL: &str = "peerbox-data";

#[derive(Debug, Clone, serde::Serialize)]
pub struct Partition {
    pub number: u8,
    pub name: &'static str,
    /// Byte offset on the disk.
    pub start: u64,
    pub size: u64,
    /// MBR partition type.
    pub kind: u8,
    pub bootable: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Layout {
    pub disk_id: u32,
    pub size: u64,
    pub partitions: Vec<Partition>,
}

/// FAT16 below 64 MiB (FAT32 needs more clusters than a small partition has), FAT32 above.
pub fn fat_bits(size: u64) -> u8 {
    if size < 64 * MIB { 16 } else { 32 }
}

fn fat_type(size: u64) -> u8 {
    if fat_bits(size) == 16 { 0x0e } else { 0x0c }
}

impl Layout {
    pub fn new(disk_id: u32, p: &Partitions) -> Layout {
        let mut parts = Vec::new();
        let mut at = MIB;
        let primary = |number, name, size, kind, bootable, at: &mut u64| {
            let part = Partition {
                number,
                name,
                start: *at,
                size,
                kind,
                bootable,
            };
            *at += size;
            part
        };
        // Partition 1 is the active one: U-Boot's distro boot looks there for boot.scr.
        parts.push(primary(
            CONFIG,
            "config",
            p.config,
            fat_type(p.config),
            true,
            &mut at,
        ));
        parts.push(primary(
            BOOT_A,
            "boot-a",
            p.boot,
            fat_type(p.boot),
            false,
            &mut at,
        ));
        parts.push(primary(
            BOOT_B,
            "boot-b",
            p.boot,
            fat_type(p.boot),
            false,
            &mut at,
        ));
        let extended_start = at;
        // Each logical partition follows the 1 MiB that holds its extended boot record.
        let logical = |number, name, size, at: &mut u64| {
            *at += MIB;
            let part = Partition {
                number,
                name,
                start: *at,
                size,
                kind: 0x83,
                bootable: false,
            };
            *at += size;
            part
        };
        let system_a = logical(SYSTEM_A, "system-a", p.system, &mut at);
        let system_b = logical(SYSTEM_B, "system-b", p.system, &mut at);
        let data = logical(DATA, "data", p.data, &mut at);
        let size = at;
        parts.push(Partition {
            number: EXTENDED,
            name: "extended",
            start: extended_start,
            size: size - extended_start,
            kind: 0x05,
            bootable: false,
        });
        parts.extend([system_a, system_b, data]);
        Layout {
            disk_id,
            size,
            partitions: parts,
        }
    }

    pub fn part(&self, number: u8) -> &Partition {
        self.partitions
            .iter()
            .find(|p| p.number == number)
            .unwrap_or(&self.partitions[0])
    }

    /// `PARTUUID=` value of a partition: the MBR disk identifier and the partition number.
    pub fn partuuid(&self, number: u8) -> String {
        format!("{:08x}-{:02x}", self.disk_id, number)
    }

    /// Input for `sfdisk`.
    pub fn sfdisk_script(&self) -> String {
        let mut s = format!(
            "label: dos\nlabel-id: 0x{:08x}\nunit: sectors\n\n",
            self.disk_id
        );
        let mut parts = self.partitions.clone();
        parts.sort_by_key(|p| p.number);
        for p in parts {
            s.push_str(&format!(
                "start={}, size={}, type={:x}{}\n",
                p.start / SECTOR,
                p.size / SECTOR,
                p.kind,
                if p.bootable { ", bootable" } else { "" }
            ));
        }
        s
    }
}

/// The MBR disk identifier of a board's images: fixed per board, so that `root=PARTUUID=`
/// in a slot's boot files and `/etc/fstab` stay right across updates.
pub fn disk_id(board: &str) -> u32 {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(format!("peerbox disk {board}").as_bytes());
    let id = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    if id == 0 { 0x5eb0_0001 } else { id }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_aligned_and_nested() {
        let l = Layout::new(
            0x1234abcd,
            &Partitions {
                config: 16 * MIB,
                boot: 128 * MIB,
                system: 1024 * MIB,
                data: 256 * MIB,
            },
        );
        for p in &l.partitions {
            assert!(p.start.is_multiple_of(MIB), "{p:?}");
        }
        let ext = l.part(EXTENDED);
        for n in [SYSTEM_A, SYSTEM_B, DATA] {
            let p = l.part(n);
            assert!(p.start > ext.start && p.start + p.size <= ext.start + ext.size);
        }
        assert_eq!(l.part(DATA).start + l.part(DATA).size, l.size);
        assert_eq!(l.partuuid(5), "1234abcd-05");
        assert!(l.sfdisk_script().contains("label-id: 0x1234abcd"));
        assert_eq!(l.part(CONFIG).kind, 0x0e);
        assert_eq!(l.part(BOOT_A).kind, 0x0c);
    }
}
