//! The bundle format.
//!
//! ```text
//! magic     8 bytes  "PBXOTA\r\n"
//! lengths   u32 LE manifest length, u32 LE signatures length
//! manifest  JSON (see [`Manifest`]), the signed bytes
//! sigs      n × (32-byte Ed25519 public key, 64-byte signature) over
//!           "peerbox-ota bundle manifest v1\n" ‖ manifest
//! index     per payload, in manifest order: sha256 of each block (32 bytes a block)
//! payloads  raw bytes, in manifest order: "boot" (a FAT image) then "system"
//! ```
//!
//! The manifest holds the sha256 of each payload and of its block index, so the signature
//! covers every byte that follows it. A reader verifies the signature and the index before
//! any payload byte is used, then checks each block against the index before handing it on:
//! a streamed install never writes a byte that has not been hashed.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, IoContext, Result};
use crate::keys::{Keyring, SecretKey};
use crate::version::{Version, VersionReq};

pub const MAGIC: &[u8; 8] = b"PBXOTA\r\n";
pub const FORMAT: u32 = 1;
pub const DEFAULT_BLOCK_SIZE: u32 = 64 * 1024;
const MAX_MANIFEST: u32 = 1 << 20;
const SIG_LEN: usize = 96;
const MAX_SIGS: u32 = 16;
/// The two payloads every bundle carries, in this order.
pub const PAYLOADS: [&str; 2] = ["boot", "system"];

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub format: u32,
    pub version: String,
    pub board: String,
    /// Semver requirement on the running version, e.g. ">=1.0.0".
    pub compatible_from: String,
    /// Once a device has committed this bundle it refuses anything older than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_version: Option<String>,
    pub block_size: u32,
    pub payloads: Vec<PayloadInfo>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PayloadInfo {
    pub name: String,
    pub size: u64,
    pub sha256: String,
    /// sha256 of this payload's block hash index.
    pub index_sha256: String,
}

impl PayloadInfo {
    pub fn blocks(&self, block_size: u32) -> u64 {
        self.size.div_ceil(u64::from(block_size))
    }
}

impl Manifest {
    fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Malformed(m));
        if self.format != FORMAT {
            return Err(Error::UnsupportedFormat(self.format));
        }
        Version::parse(&self.version)?;
        VersionReq::parse(&self.compatible_from)?;
        if let Some(m) = &self.min_version {
            Version::parse(m)?;
        }
        if !(4096..=16 << 20).contains(&self.block_size) || !self.block_size.is_power_of_two() {
            return bad(format!(
                "block size {} is not a power of two in 4 KiB..16 MiB",
                self.block_size
            ));
        }
        let names: Vec<&str> = self.payloads.iter().map(|p| p.name.as_str()).collect();
        if names != PAYLOADS {
            return bad(format!("payloads are {names:?}, expected {PAYLOADS:?}"));
        }
        Ok(())
    }

    pub fn payload(&self, name: &str) -> Option<&PayloadInfo> {
        self.payloads.iter().find(|p| p.name == name)
    }
}

/// A header whose signature and block index have been verified.
#[derive(Clone, Debug)]
pub struct Header {
    pub manifest: Manifest,
    /// sha256 of the manifest bytes: identifies the bundle.
    pub bundle_id: String,
    pub signed_by: String,
    pub(crate) index: Vec<Vec<[u8; 32]>>,
    /// Bytes before the first payload byte.
    pub header_len: u64,
}

impl Header {
    pub fn total_len(&self) -> u64 {
        self.header_len + self.manifest.payloads.iter().map(|p| p.size).sum::<u64>()
    }
}

/// What a device accepts besides a valid signature.
#[derive(Clone, Debug)]
pub struct Policy {
    pub board: String,
    pub running: Version,
    /// The minimum allowed version (downgrade protection).
    pub floor: Option<Version>,
}

impl Policy {
    pub fn check(&self, m: &Manifest) -> Result<()> {
        if m.board != self.board {
            return Err(Error::WrongBoard {
                bundle: m.board.clone(),
                device: self.board.clone(),
            });
        }
        let v = Version::parse(&m.version)?;
        if let Some(floor) = &self.floor
            && v < *floor
        {
            return Err(Error::Downgrade {
                bundle: m.version.clone(),
                minimum: floor.to_string(),
            });
        }
        let req = VersionReq::parse(&m.compatible_from)?;
        if !req.matches(&self.running) {
            return Err(Error::Incompatible {
                bundle: m.version.clone(),
                running: self.running.to_string(),
                required: m.compatible_from.clone(),
            });
        }
        Ok(())
    }
}

/// Reads exactly `buf.len()` bytes, naming the part on a short read; errors from a download
/// reader keep their own message.
pub(crate) fn read_part(r: &mut dyn Read, buf: &mut [u8], part: &str) -> Result<()> {
    r.read_exact(buf).map_err(|e| unwrap_io(e, part))
}

pub(crate) fn unwrap_io(e: io::Error, part: &str) -> Error {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        return Error::Truncated(format!("ends inside the {part}"));
    }
    match e.into_inner() {
        Some(inner) => match inner.downcast::<Error>() {
            Ok(ours) => *ours,
            Err(other) => Error::Io {
                context: format!("reading the bundle {part}"),
                source: io::Error::other(other),
            },
        },
        None => Error::Io {
            context: format!("reading the bundle {part}"),
            source: io::Error::other("read failed"),
        },
    }
}

/// Reads and verifies everything before the payloads.
pub fn read_header(r: &mut dyn Read, keyring: &Keyring) -> Result<Header> {
    let mut fixed = [0u8; 16];
    read_part(r, &mut fixed, "header")?;
    if &fixed[..8] != MAGIC {
        return Err(Error::NotABundle);
    }
    let manifest_len = u32::from_le_bytes([fixed[8], fixed[9], fixed[10], fixed[11]]);
    let sigs_len = u32::from_le_bytes([fixed[12], fixed[13], fixed[14], fixed[15]]);
    if manifest_len == 0 || manifest_len > MAX_MANIFEST {
        return Err(Error::Malformed(format!(
            "manifest length {manifest_len} out of range"
        )));
    }
    if sigs_len == 0
        || !(sigs_len as usize).is_multiple_of(SIG_LEN)
        || sigs_len > MAX_SIGS * SIG_LEN as u32
    {
        return Err(Error::Malformed(format!(
            "signature block length {sigs_len} is invalid"
        )));
    }
    let mut manifest_bytes = vec![0u8; manifest_len as usize];
    read_part(r, &mut manifest_bytes, "manifest")?;
    let mut sig_bytes = vec![0u8; sigs_len as usize];
    read_part(r, &mut sig_bytes, "signatures")?;
    let mut sigs = Vec::new();
    for chunk in sig_bytes.chunks_exact(SIG_LEN) {
        let (k, s) = chunk.split_at(32);
        let key: [u8; 32] = k
            .try_into()
            .map_err(|_| Error::Malformed("signature record".into()))?;
        let sig: [u8; 64] = s
            .try_into()
            .map_err(|_| Error::Malformed("signature record".into()))?;
        // A key that is not a curve point can't be trusted: report it by its bytes.
        let Ok(key) = VerifyingKey::from_bytes(&key) else {
            return Err(Error::UnknownKey {
                key_id: format!("{} (not a valid key)", hex::encode(&key[..8])),
                trusted: keyring.ids().join(", "),
            });
        };
        sigs.push((key, Signature::from_bytes(&sig)));
    }
    // Nothing in the manifest is looked at before its signature checks out.
    let signed_by = keyring.verify(&manifest_bytes, &sigs)?;
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| Error::Malformed(format!("manifest JSON: {e}")))?;
    manifest.validate()?;
    let mut index = Vec::new();
    let mut header_len = 16 + u64::from(manifest_len) + u64::from(sigs_len);
    for p in &manifest.payloads {
        let n = p.blocks(manifest.block_size);
        let bytes = n
            .checked_mul(32)
            .filter(|b| *b <= 64 << 20)
            .ok_or_else(|| Error::Malformed(format!("payload {} has too many blocks", p.name)))?;
        let mut raw = vec![0u8; bytes as usize];
        read_part(r, &mut raw, &format!("block index of {}", p.name))?;
        if hex::encode(Sha256::digest(&raw)) != p.index_sha256 {
            return Err(Error::BadIndex {
                payload: p.name.clone(),
            });
        }
        index.push(
            raw.chunks_exact(32)
                .map(|c| c.try_into().unwrap_or([0; 32]))
                .collect(),
        );
        header_len += bytes;
    }
    Ok(Header {
        bundle_id: hex::encode(Sha256::digest(&manifest_bytes)),
        manifest,
        signed_by,
        index,
        header_len,
    })
}

/// Streams payload `i` from `r` (positioned at its first byte), handing each block to `sink`
/// only after it matched its hash.
pub fn stream_payload(
    r: &mut dyn Read,
    header: &Header,
    i: usize,
    sink: &mut dyn FnMut(u64, &[u8]) -> Result<()>,
) -> Result<()> {
    let p = &header.manifest.payloads[i];
    let bs = u64::from(header.manifest.block_size);
    let mut buf = vec![0u8; bs as usize];
    let mut whole = Sha256::new();
    let mut offset = 0u64;
    for (block, want) in header.index[i].iter().enumerate() {
        let len = bs.min(p.size - offset) as usize;
        let chunk = &mut buf[..len];
        read_part(r, chunk, &format!("payload {}", p.name))?;
        if Sha256::digest(&*chunk).as_slice() != want {
            return Err(Error::BadBlock {
                payload: p.name.clone(),
                block: block as u64,
            });
        }
        whole.update(&*chunk);
        sink(offset, chunk)?;
        offset += len as u64;
    }
    if hex::encode(whole.finalize()) != p.sha256 {
        return Err(Error::PayloadHash {
            payload: p.name.clone(),
        });
    }
    Ok(())
}

/// Verifies a whole bundle file: signature, index, every block, every payload hash.
pub fn verify_file(
    path: &Path,
    keyring: &Keyring,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Header> {
    let f = File::open(path).ctx(|| format!("opening {}", path.display()))?;
    let file_len = f
        .metadata()
        .ctx(|| format!("reading {}", path.display()))?
        .len();
    let mut r = io::BufReader::with_capacity(1 << 20, f);
    let header = read_header(&mut r, keyring)?;
    let total = header.total_len();
    let mut done = header.header_len;
    for i in 0..header.manifest.payloads.len() {
        stream_payload(&mut r, &header, i, &mut |_, block| {
            done += block.len() as u64;
            progress(done, total);
            Ok(())
        })?;
    }
    if file_len != total {
        return Err(Error::Malformed(format!(
            "{} bytes of trailing data",
            file_len.saturating_sub(total)
        )));
    }
    Ok(header)
}

/// What `bundle` needs from an image build.
#[derive(Clone, Debug)]
pub struct BundleSpec {
    pub version: String,
    pub board: String,
    pub compatible_from: Option<String>,
    pub min_version: Option<String>,
    pub block_size: u32,
    /// A raw ext4/erofs/squashfs image of the system partition.
    pub system_image: PathBuf,
    /// The boot partition: a folder of its files (firmware, kernel, initramfs, DTBs,
    /// config.txt, cmdline.txt), or a FAT image of it as an image build makes one.
    pub boot: PathBuf,
    /// Size of the boot FAT image; by default the files plus a margin.
    pub boot_size: Option<u64>,
}

fn hash_file(path: &Path, block_size: u32) -> Result<(u64, String, Vec<u8>)> {
    let mut f = File::open(path).ctx(|| format!("opening {}", path.display()))?;
    let mut buf = vec![0u8; block_size as usize];
    let mut whole = Sha256::new();
    let mut index = Vec::new();
    let mut size = 0u64;
    loop {
        let n = read_full(&mut f, &mut buf).ctx(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        whole.update(&buf[..n]);
        index.extend_from_slice(&Sha256::digest(&buf[..n]));
        size += n as u64;
        if n < buf.len() {
            break;
        }
    }
    Ok((size, hex::encode(whole.finalize()), index))
}

/// Fills `buf` unless the reader ends first; returns the bytes read.
pub(crate) fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Builds a signed bundle at `out` (written beside it, then renamed into place).
pub fn create(spec: &BundleSpec, keys: &[SecretKey], out: &Path) -> Result<Header> {
    if keys.is_empty() {
        return Err(Error::Config("at least one signing key is needed".into()));
    }
    let meta = fs::metadata(&spec.system_image)
        .ctx(|| format!("system image {}", spec.system_image.display()))?;
    if !meta.is_file() || meta.len() == 0 {
        return Err(Error::Config(format!(
            "system image {} is not a non-empty file",
            spec.system_image.display()
        )));
    }
    let tmp_boot = out.with_extension("boot.tmp");
    let tmp_out = out.with_extension("tmp");
    let result = (|| {
        let boot = if spec.boot.is_file() {
            crate::fatimg::check(&spec.boot)?;
            spec.boot.clone()
        } else {
            crate::fatimg::build(&spec.boot, &tmp_boot, spec.boot_size)?;
            tmp_boot.clone()
        };
        let mut payloads = Vec::new();
        let mut index = Vec::new();
        for (name, path) in [("boot", &boot), ("system", &spec.system_image)] {
            let (size, sha256, idx) = hash_file(path, spec.block_size)?;
            payloads.push(PayloadInfo {
                name: name.into(),
                size,
                sha256,
                index_sha256: hex::encode(Sha256::digest(&idx)),
            });
            index.push(idx);
        }
        let manifest = Manifest {
            format: FORMAT,
            version: spec.version.clone(),
            board: spec.board.clone(),
            compatible_from: spec.compatible_from.clone().unwrap_or_else(|| "*".into()),
            min_version: spec.min_version.clone(),
            block_size: spec.block_size,
            payloads,
        };
        manifest.validate()?;
        let mbytes =
            serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Malformed(e.to_string()))?;
        let mut sigs = Vec::new();
        for k in keys {
            sigs.extend_from_slice(k.public().as_bytes());
            sigs.extend_from_slice(&k.sign_manifest(&mbytes).to_bytes());
        }
        let mut f = File::create(&tmp_out).ctx(|| format!("creating {}", tmp_out.display()))?;
        let w = |f: &mut File, b: &[u8]| {
            f.write_all(b)
                .ctx(|| format!("writing {}", tmp_out.display()))
        };
        w(&mut f, MAGIC)?;
        w(&mut f, &(mbytes.len() as u32).to_le_bytes())?;
        w(&mut f, &(sigs.len() as u32).to_le_bytes())?;
        w(&mut f, &mbytes)?;
        w(&mut f, &sigs)?;
        for idx in &index {
            w(&mut f, idx)?;
        }
        for path in [&boot, &spec.system_image] {
            let mut src = File::open(path).ctx(|| format!("opening {}", path.display()))?;
            io::copy(&mut src, &mut f)
                .ctx(|| format!("copying {} into the bundle", path.display()))?;
        }
        f.sync_all()
            .ctx(|| format!("writing {}", tmp_out.display()))?;
        drop(f);
        fs::rename(&tmp_out, out).ctx(|| format!("renaming {}", out.display()))?;
        let mut f = File::open(out).ctx(|| format!("opening {}", out.display()))?;
        f.seek(SeekFrom::Start(0))
            .ctx(|| format!("reading {}", out.display()))?;
        read_header(
            &mut io::BufReader::new(f),
            &Keyring::new(keys.iter().map(|k| k.public()).collect()),
        )
    })();
    let _ = fs::remove_file(&tmp_boot);
    let _ = fs::remove_file(&tmp_out);
    result
}
