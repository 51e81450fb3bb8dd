//! The U-Boot environment in two forms:
//! - binary, as `fw_setenv` writes it and U-Boot's `env import -c` reads it: a CRC32 (LE)
//!   over the data area, then `name=value\0` pairs ending with an empty string, padded to the
//!   environment size. With a redundant environment each copy has a flag byte after the CRC,
//!   the copy with the newer flag is live, and writes go to the other copy;
//! - text, as `env export -t` writes it and `env import -t` reads it: `name=value` lines in a
//!   file (what a boot script keeps on a FAT partition with `fatwrite`).

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
use crate::fault::Io;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvLocation {
    /// A file (e.g. `peerbox.env` on the config FAT partition) or a block device.
    pub path: PathBuf,
    #[serde(default)]
    pub offset: u64,
    /// CONFIG_ENV_SIZE.
    #[serde(default = "default_size")]
    pub size: usize,
    /// Offset of the second copy for a redundant environment (CONFIG_ENV_OFFSET_REDUND).
    #[serde(default)]
    pub redundant_offset: Option<u64>,
    #[serde(default)]
    pub format: EnvFormat,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EnvFormat {
    #[default]
    Binary,
    Text,
}

/// `env import -t`: lines up to the first NUL; later lines win.
pub fn decode_text(buf: &[u8]) -> BTreeMap<String, String> {
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end])
        .lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| !k.trim().is_empty() && !k.starts_with('#'))
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .collect()
}

pub fn encode_text(vars: &BTreeMap<String, String>) -> Result<Vec<u8>> {
    let mut out = String::new();
    for (k, v) in vars {
        if k.is_empty() || k.contains(['=', '\n', '\0']) || v.contains(['\n', '\0']) {
            return Err(Error::Slots(format!("invalid u-boot variable {k:?}")));
        }
        out.push_str(&format!("{k}={v}\n"));
    }
    Ok(out.into_bytes())
}

fn default_size() -> usize {
    0x4000
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Env {
    pub vars: BTreeMap<String, String>,
    /// Which copy is live and its flag (redundant environments only).
    live: Option<(usize, u8)>,
}

pub fn encode(vars: &BTreeMap<String, String>, size: usize, flag: Option<u8>) -> Result<Vec<u8>> {
    let header = if flag.is_some() { 5 } else { 4 };
    let mut data = Vec::new();
    for (k, v) in vars {
        if k.is_empty() || k.contains('=') || k.contains('\0') || v.contains('\0') {
            return Err(Error::Slots(format!("invalid u-boot variable {k:?}")));
        }
        data.extend_from_slice(k.as_bytes());
        data.push(b'=');
        data.extend_from_slice(v.as_bytes());
        data.push(0);
    }
    data.push(0);
    if data.len() > size - header {
        return Err(Error::Slots(format!(
            "u-boot environment needs {} bytes, has {}",
            data.len(),
            size - header
        )));
    }
    data.resize(size - header, 0);
    let mut out = crc32fast::hash(&data).to_le_bytes().to_vec();
    if let Some(f) = flag {
        out.push(f);
    }
    out.extend_from_slice(&data);
    Ok(out)
}

/// Parses one copy; `None` when its CRC does not match.
pub fn decode(buf: &[u8], redundant: bool) -> Option<(BTreeMap<String, String>, u8)> {
    let header = if redundant { 5 } else { 4 };
    if buf.len() <= header {
        return None;
    }
    let crc = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let data = &buf[header..];
    if crc32fast::hash(data) != crc {
        return None;
    }
    let flag = if redundant { buf[4] } else { 0 };
    let mut vars = BTreeMap::new();
    for entry in data.split(|b| *b == 0) {
        if entry.is_empty() {
            break;
        }
        let s = String::from_utf8_lossy(entry);
        if let Some((k, v)) = s.split_once('=') {
            vars.insert(k.to_string(), v.to_string());
        }
    }
    Some((vars, flag))
}

/// U-Boot's choice between two valid copies (env_import_redund): the newer flag wins,
/// with 255 -> 0 wrapping.
fn newer(a: u8, b: u8) -> bool {
    if a == 0 && b == 255 {
        return true;
    }
    if a == 255 && b == 0 {
        return false;
    }
    a >= b
}

impl EnvLocation {
    fn read_copy(&self, offset: u64) -> Result<Option<Vec<u8>>> {
        let mut f = match OpenOptions::new().read(true).open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Error::Env {
                    path: self.path.clone(),
                    reason: e.to_string(),
                });
            }
        };
        f.seek(SeekFrom::Start(offset))
            .ctx(|| format!("reading {}", self.path.display()))?;
        let mut buf = vec![0u8; self.size];
        let n = crate::bundle::read_full(&mut f, &mut buf)
            .ctx(|| format!("reading {}", self.path.display()))?;
        buf.truncate(n);
        Ok(Some(buf))
    }

    /// Reads the live copy. A missing or corrupt environment reads as empty, as U-Boot then
    /// boots with its defaults (the boot script treats unset variables as defaults).
    pub fn read(&self) -> Result<Env> {
        if self.format == EnvFormat::Text {
            let vars = match std::fs::read(&self.path) {
                Ok(b) => decode_text(&b),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
                Err(e) => {
                    return Err(Error::Env {
                        path: self.path.clone(),
                        reason: e.to_string(),
                    });
                }
            };
            return Ok(Env { vars, live: None });
        }
        if self.size < 16 {
            return Err(Error::Env {
                path: self.path.clone(),
                reason: "size too small".into(),
            });
        }
        let redundant = self.redundant_offset.is_some();
        let mut copies = Vec::new();
        for (i, off) in std::iter::once(self.offset)
            .chain(self.redundant_offset)
            .enumerate()
        {
            if let Some(buf) = self.read_copy(off)?
                && let Some((vars, flag)) = decode(&buf, redundant)
            {
                copies.push((i, vars, flag));
            }
        }
        if !redundant {
            let vars = copies.pop().map(|c| c.1).unwrap_or_default();
            return Ok(Env { vars, live: None });
        }
        let pick = match copies.as_slice() {
            [] => None,
            [one] => Some(one.clone()),
            [a, b, ..] => Some(if newer(a.2, b.2) {
                a.clone()
            } else {
                b.clone()
            }),
        };
        Ok(match pick {
            Some((i, vars, flag)) => Env {
                vars,
                live: Some((i, flag)),
            },
            // Neither copy valid: the next write goes to copy 0 with flag 1.
            None => Env {
                vars: BTreeMap::new(),
                live: Some((1, 0)),
            },
        })
    }

    /// Writes `env` as fw_setenv does. A single environment that is a whole file is replaced
    /// by write-fsync-rename; one inside a device is rewritten in place; a redundant one is
    /// written to the stale copy, then that copy becomes live.
    pub fn write(&self, io: &Io, env: &mut Env) -> Result<()> {
        let what = format!("u-boot env {}", self.path.display());
        if self.format == EnvFormat::Text {
            return io.atomic_write(&self.path, &encode_text(&env.vars)?);
        }
        match (self.redundant_offset, env.live) {
            (Some(second), Some((live, flag))) => {
                let target = 1 - live;
                let offset = if target == 0 { self.offset } else { second };
                let new_flag = flag.wrapping_add(1);
                let bytes = encode(&env.vars, self.size, Some(new_flag))?;
                self.write_at(io, offset, &bytes, &what)?;
                env.live = Some((target, new_flag));
                Ok(())
            }
            _ => {
                let bytes = encode(&env.vars, self.size, None)?;
                let whole_file = self.offset == 0
                    && std::fs::metadata(&self.path)
                        .map(|m| m.is_file())
                        .unwrap_or(true);
                if whole_file {
                    io.atomic_write(&self.path, &bytes)
                } else {
                    self.write_at(io, self.offset, &bytes, &what)
                }
            }
        }
    }

    fn write_at(&self, io: &Io, offset: u64, bytes: &[u8], what: &str) -> Result<()> {
        io.step(&format!("open {what}"))?;
        let mut f = OpenOptions::new()
            .write(true)
            .open(&self.path)
            .map_err(|e| Error::Env {
                path: self.path.clone(),
                reason: e.to_string(),
            })?;
        f.seek(SeekFrom::Start(offset))
            .ctx(|| format!("seeking in {what}"))?;
        io.step(&format!("write {what}"))?;
        f.write_all(bytes).ctx(|| format!("writing {what}"))?;
        io.sync(&f, &format!("fsync {what}"))
    }
}

impl Env {
    pub fn get(&self, k: &str) -> Option<&str> {
        self.vars.get(k).map(String::as_str)
    }
    pub fn set(&mut self, k: &str, v: impl Into<String>) {
        self.vars.insert(k.to_string(), v.into());
    }
    pub fn remove(&mut self, k: &str) {
        self.vars.remove(k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redundant_flag_wraps() {
        assert!(newer(0, 255));
        assert!(!newer(255, 0));
        assert!(newer(3, 2));
        assert!(!newer(2, 3));
    }

    #[test]
    fn roundtrip_single() -> Result<()> {
        let mut vars = BTreeMap::new();
        vars.insert("BOOT_ORDER".to_string(), "A B".to_string());
        let bytes = encode(&vars, 256, None)?;
        assert_eq!(bytes.len(), 256);
        let (back, _) = decode(&bytes, false).ok_or_else(|| Error::Slots("crc".into()))?;
        assert_eq!(back, vars);
        let mut bad = bytes.clone();
        bad[10] ^= 1;
        assert!(decode(&bad, false).is_none());
        Ok(())
    }

    #[test]
    fn text_form_as_env_export_t_writes_it() -> Result<()> {
        let text = b"BOOT_ORDER=B A\nBOOT_A_LEFT=3\nBOOT_B_LEFT=0\n\0garbage";
        let vars = decode_text(text);
        assert_eq!(vars.get("BOOT_ORDER").map(String::as_str), Some("B A"));
        assert_eq!(vars.len(), 3);
        assert_eq!(
            encode_text(&vars)?,
            b"BOOT_A_LEFT=3\nBOOT_B_LEFT=0\nBOOT_ORDER=B A\n"
        );
        Ok(())
    }
}
