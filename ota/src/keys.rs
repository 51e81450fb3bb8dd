//! Signing keys and the device keyring.
//!
//! Key rotation: the keyring is a folder of `*.pub` files on the read-only system partition,
//! so it changes only with an update and rolls back with one. A bundle can carry several
//! signatures, and one by any trusted key is enough. To rotate from key K1 to K2: ship an
//! image whose keyring holds K1 and K2 in a bundle signed by K1 (and K2); once devices run
//! it, sign with K2 only, and later drop K1 from the keyring to revoke it.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::error::{Error, IoContext, Result};

const SECRET_TAG: &str = "peerbox-ota-secret-key-v1";
const PUBLIC_TAG: &str = "peerbox-ota-public-key-v1";
/// Domain separation: a signature over a bundle manifest can't be replayed as anything else.
pub(crate) const SIGNING_CONTEXT: &[u8] = b"peerbox-ota bundle manifest v1\n";

/// Short printable name of a public key: the first 8 bytes of its sha256, in hex.
pub fn key_id(key: &VerifyingKey) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..8])
}

pub struct SecretKey {
    pub(crate) key: SigningKey,
}

impl SecretKey {
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
        SecretKey {
            key: SigningKey::from_bytes(&seed),
        }
    }

    pub fn public(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    pub fn id(&self) -> String {
        key_id(&self.public())
    }

    pub(crate) fn sign_manifest(&self, manifest: &[u8]) -> Signature {
        let mut msg = SIGNING_CONTEXT.to_vec();
        msg.extend_from_slice(manifest);
        self.key.sign(&msg)
    }

    pub fn load(path: &Path) -> Result<Self> {
        let text = fs::read_to_string(path).ctx(|| format!("reading key {}", path.display()))?;
        let bad = |reason: &str| Error::KeyFile {
            path: path.to_owned(),
            reason: reason.to_string(),
        };
        let mut lines = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'));
        if lines.next() != Some(SECRET_TAG) {
            return Err(bad(
                "not a Peerbox OTA secret key (use the .key file from keygen)",
            ));
        }
        let b = lines.next().ok_or_else(|| bad("missing key data"))?;
        let bytes = B64.decode(b).map_err(|_| bad("key data is not base64"))?;
        let seed: [u8; 32] = bytes
            .try_into()
            .map_err(|_| bad("key data is not 32 bytes"))?;
        Ok(SecretKey {
            key: SigningKey::from_bytes(&seed),
        })
    }
}

pub fn public_key_line(key: &VerifyingKey, comment: &str) -> String {
    format!("{PUBLIC_TAG} {} {comment}\n", B64.encode(key.as_bytes()))
}

pub fn parse_public_key(line: &str) -> Option<VerifyingKey> {
    let mut parts = line.split_whitespace();
    if parts.next()? != PUBLIC_TAG {
        return None;
    }
    let bytes: [u8; 32] = B64.decode(parts.next()?).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

/// Writes `<name>.key` (secret, mode 0600) and `<name>.pub` into `dir`; refuses to overwrite.
pub fn keygen(dir: &Path, name: &str) -> Result<(PathBuf, PathBuf, String)> {
    fs::create_dir_all(dir).ctx(|| format!("creating {}", dir.display()))?;
    let key = SecretKey::generate();
    let secret_path = dir.join(format!("{name}.key"));
    let public_path = dir.join(format!("{name}.pub"));
    for p in [&secret_path, &public_path] {
        if p.exists() {
            return Err(Error::KeyFile {
                path: p.clone(),
                reason: "already exists".into(),
            });
        }
    }
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(&secret_path)
        .ctx(|| format!("creating {}", secret_path.display()))?;
    let text = format!(
        "# Peerbox OTA signing key {}: keep it secret, off the devices.\n{SECRET_TAG}\n{}\n",
        key.id(),
        B64.encode(key.key.to_bytes())
    );
    f.write_all(text.as_bytes())
        .ctx(|| format!("writing {}", secret_path.display()))?;
    f.sync_all()
        .ctx(|| format!("writing {}", secret_path.display()))?;
    let public = public_key_line(&key.public(), name);
    fs::write(&public_path, public).ctx(|| format!("writing {}", public_path.display()))?;
    Ok((secret_path, public_path, key.id()))
}

/// The public keys a device trusts.
#[derive(Clone, Debug, Default)]
pub struct Keyring {
    keys: Vec<VerifyingKey>,
}

impl Keyring {
    pub fn new(keys: Vec<VerifyingKey>) -> Self {
        Keyring { keys }
    }

    /// A folder of `*.pub` files, or one file with one key a line.
    pub fn load(path: &Path) -> Result<Self> {
        let bad = |reason: String| Error::Keyring {
            path: path.to_owned(),
            reason,
        };
        let mut files = Vec::new();
        if path.is_dir() {
            for e in fs::read_dir(path).ctx(|| format!("reading keyring {}", path.display()))? {
                let p = e
                    .ctx(|| format!("reading keyring {}", path.display()))?
                    .path();
                if p.extension().is_some_and(|x| x == "pub") {
                    files.push(p);
                }
            }
            files.sort();
        } else {
            files.push(path.to_owned());
        }
        let mut keys = Vec::new();
        for f in files {
            let text = fs::read_to_string(&f).map_err(|e| bad(format!("{}: {e}", f.display())))?;
            for line in text.lines().map(str::trim) {
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let key = parse_public_key(line).ok_or_else(|| {
                    bad(format!(
                        "{}: not a Peerbox OTA public key line",
                        f.display()
                    ))
                })?;
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
        }
        if keys.is_empty() {
            return Err(bad("holds no public keys".into()));
        }
        Ok(Keyring { keys })
    }

    pub fn ids(&self) -> Vec<String> {
        self.keys.iter().map(key_id).collect()
    }

    pub(crate) fn trusts(&self, key: &VerifyingKey) -> bool {
        self.keys.contains(key)
    }

    /// Accepts when any signature by a trusted key is valid; otherwise names why not.
    pub(crate) fn verify(
        &self,
        manifest: &[u8],
        sigs: &[(VerifyingKey, Signature)],
    ) -> Result<String> {
        let mut msg = SIGNING_CONTEXT.to_vec();
        msg.extend_from_slice(manifest);
        let mut bad = None;
        for (key, sig) in sigs {
            if !self.trusts(key) {
                continue;
            }
            // verify_strict rejects weak keys and malleable signatures.
            match key.verify_strict(&msg, sig) {
                Ok(()) => return Ok(key_id(key)),
                Err(_) => bad = Some(key_id(key)),
            }
        }
        if let Some(key_id) = bad {
            return Err(Error::BadSignature { key_id });
        }
        let key_id = sigs
            .iter()
            .map(|(k, _)| key_id(k))
            .collect::<Vec<_>>()
            .join(", ");
        Err(Error::UnknownKey {
            key_id: if key_id.is_empty() {
                "(none)".into()
            } else {
                key_id
            },
            trusted: self.ids().join(", "),
        })
    }
}
