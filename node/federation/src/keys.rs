//! RSA-2048 key pairs for every local actor, as PeerTube gives each account, channel and
//! its server actor its own pair.
//!
//! Accounts and channels keep theirs in the catalog, written in the transaction that
//! creates them (see `peerbox_catalog::KeySource`), so that after a crash an actor never
//! exists without the key that its published documents name. The instance actor has no
//! catalog row: its key is a PEM file under `<data_dir>/keys/`, written whole (temp file,
//! fsync, rename, fsync of the folder) before the node serves anything.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use peerbox_catalog::{ActorKey, Catalog, KeySource};
use rsa::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use rsa::{RsaPrivateKey, RsaPublicKey};
use thiserror::Error;

/// PeerTube's `PRIVATE_RSA_KEY_SIZE`.
pub const KEY_BITS: usize = 2048;

/// The instance actor's private key, PKCS#8 PEM, under the data dir.
pub const INSTANCE_KEY_FILE: &str = "keys/instance-actor.pem";

#[derive(Debug, Error)]
pub enum KeyError {
    #[error("RSA key generation failed: {0}")]
    Generate(String),
    #[error("the key is not a valid PEM RSA key: {0}")]
    Pem(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Catalog(#[from] peerbox_catalog::CatalogError),
}

pub fn generate_private() -> Result<RsaPrivateKey, KeyError> {
    RsaPrivateKey::new(&mut rand::rngs::OsRng, KEY_BITS)
        .map_err(|e| KeyError::Generate(e.to_string()))
}

/// A new pair as PEM: SPKI public key (`BEGIN PUBLIC KEY`, what Mastodon and PeerTube read
/// from `publicKeyPem`) and PKCS#8 private key.
pub fn generate() -> Result<ActorKey, KeyError> {
    pem_pair(&generate_private()?)
}

fn pem_pair(key: &RsaPrivateKey) -> Result<ActorKey, KeyError> {
    let pem_error = |e: &dyn std::fmt::Display| KeyError::Pem(e.to_string());
    Ok(ActorKey {
        public_pem: key
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| pem_error(&e))?,
        private_pem: key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| pem_error(&e))?
            .to_string(),
    })
}

pub fn private_key(pem: &str) -> Result<RsaPrivateKey, KeyError> {
    RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| KeyError::Pem(e.to_string()))
}

pub fn public_key(pem: &str) -> Result<RsaPublicKey, KeyError> {
    RsaPublicKey::from_public_key_pem(pem).map_err(|e| KeyError::Pem(e.to_string()))
}

/// What the catalog calls to give new accounts and channels their keys.
pub struct RsaKeys;

impl KeySource for RsaKeys {
    fn generate(&self) -> Result<ActorKey, String> {
        generate().map_err(|e| e.to_string())
    }
}

/// The instance actor's key pair: read from its file, or made and written there at the
/// first start.
pub fn instance_key(data_dir: &Path) -> Result<ActorKey, KeyError> {
    let path = data_dir.join(INSTANCE_KEY_FILE);
    let io = |source| KeyError::Io {
        path: path.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(pem) => return pem_pair(&private_key(&pem)?),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
        Err(_) => {}
    }
    let started = Instant::now();
    let pair = generate()?;
    tracing::info!(
        "generated the instance actor's RSA-{KEY_BITS} key in {} ms",
        started.elapsed().as_millis()
    );
    let dir = path.parent().unwrap_or(data_dir);
    create_private_dir(dir).map_err(io)?;
    write_private_file(&path, pair.private_pem.as_bytes()).map_err(io)?;
    Ok(pair)
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Mode 0600 from the first byte; whole or not at all.
fn write_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("pem.tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Gives a key to every account and channel that has none (those created before keys
/// existed). Returns how many were made.
pub fn add_missing_keys(catalog: &Catalog) -> Result<usize, KeyError> {
    let missing = catalog.actors_without_keys()?;
    let started = Instant::now();
    for actor in &missing {
        match catalog.add_actor_key(*actor, generate()?) {
            // Deleted meanwhile: nothing to key.
            Err(peerbox_catalog::CatalogError::NotFound(_)) => {}
            other => {
                other?;
            }
        }
    }
    if !missing.is_empty() {
        tracing::info!(
            "generated RSA-{KEY_BITS} keys for {} existing actors in {} ms",
            missing.len(),
            started.elapsed().as_millis()
        );
    }
    Ok(missing.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::traits::PublicKeyParts;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn pairs_are_2048_bit_pem_that_round_trip() {
        let started = Instant::now();
        let pair = generate().expect("generate");
        eprintln!(
            "RSA-2048 key generation: {} ms",
            started.elapsed().as_millis()
        );
        assert!(pair.public_pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert!(
            pair.private_pem
                .starts_with("-----BEGIN PRIVATE KEY-----\n")
        );
        let public = public_key(&pair.public_pem).expect("public");
        assert_eq!(public.n().bits(), KEY_BITS);
        assert_eq!(
            private_key(&pair.private_pem)
                .expect("private")
                .to_public_key(),
            public
        );
        assert!(
            public_key("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n").is_err()
        );
    }

    #[test]
    fn the_instance_key_is_made_once_and_private() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = instance_key(dir.path()).expect("create");
        let path = dir.path().join(INSTANCE_KEY_FILE);
        let mode = std::fs::metadata(&path).expect("file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = std::fs::metadata(path.parent().expect("dir"))
            .expect("dir")
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        assert_eq!(instance_key(dir.path()).expect("read"), first);
        assert!(!path.with_extension("pem.tmp").exists());
        std::fs::write(&path, "not a key").expect("write");
        assert!(matches!(instance_key(dir.path()), Err(KeyError::Pem(_))));
    }

    #[test]
    fn existing_actors_get_keys_at_start() {
        let dir = tempfile::tempdir().expect("temp dir");
        let catalog = Catalog::open(&dir.path().join("catalog.redb")).expect("catalog");
        catalog
            .create_user(peerbox_catalog::NewUser {
                username: "dora".into(),
                email: "dora@example.org".into(),
                password: "secret-pass".into(),
                role: peerbox_catalog::Role::User,
                video_quota: -1,
                video_quota_daily: -1,
            })
            .expect("user");
        assert_eq!(add_missing_keys(&catalog).expect("keys"), 2);
        assert_eq!(add_missing_keys(&catalog).expect("keys"), 0);
        assert!(catalog.actors_without_keys().expect("read").is_empty());
    }
}
