//! The key pairs of local accounts and channels (each ActivityPub actor signs with its own,
//! as in PeerTube). A key is written in the same transaction as the actor it belongs to,
//! so a crash never leaves an actor without its key or a key without its actor. The
//! catalog stores PEM text only: the binary sets a `KeySource` that makes the pairs.

use std::sync::Arc;

use redb::{ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use crate::error::{CatalogError, Result};
use crate::store::{ACCOUNTS, CHANNELS, Catalog, get_row, put_row};
use crate::web_profiles::Actor;

/// Keyed like `ACTOR_NAMES` values: `id * 2 + is_channel`.
pub(crate) const ACTOR_KEYS: TableDefinition<u64, &[u8]> = TableDefinition::new("actor_keys");

/// The instance actor's name; no account or channel may take it.
pub const INSTANCE_ACTOR_NAME: &str = "peertube";

/// An actor's key pair as PEM: SPKI public key (what `publicKeyPem` carries) and PKCS#8
/// private key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorKey {
    pub public_pem: String,
    pub private_pem: String,
}

impl std::fmt::Debug for ActorKey {
    // Never print the private key into a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActorKey")
            .field("public_pem", &self.public_pem)
            .finish_non_exhaustive()
    }
}

/// Makes new key pairs; generation is slow, so it runs before the write transaction opens.
pub trait KeySource: Send + Sync {
    fn generate(&self) -> std::result::Result<ActorKey, String>;
}

impl Actor {
    pub(crate) fn packed(self) -> u64 {
        match self {
            Actor::Account(id) => id * 2,
            Actor::Channel(id) => id * 2 + 1,
        }
    }
}

pub(crate) fn put_key(txn: &WriteTransaction, actor: Actor, key: &ActorKey) -> Result<()> {
    put_row(&mut txn.open_table(ACTOR_KEYS)?, actor.packed(), key)
}

impl Catalog {
    /// Sets what makes the keys of actors created from now on. Without one, actors are
    /// created without keys and `add_actor_key` gives them one later.
    pub fn set_key_source(&self, source: Arc<dyn KeySource>) {
        // Set once at start; a second call keeps the first source.
        let _ = self.key_source.set(source);
    }

    /// A new key pair from the key source, if there is one.
    pub(crate) fn new_key(&self) -> Result<Option<ActorKey>> {
        match self.key_source.get() {
            Some(source) => source.generate().map(Some).map_err(CatalogError::Keys),
            None => Ok(None),
        }
    }

    pub fn actor_key(&self, actor: Actor) -> Result<Option<ActorKey>> {
        let txn = self.db.begin_read()?;
        get_row(&txn.open_table(ACTOR_KEYS)?, actor.packed())
    }

    /// Accounts and channels that have no key yet (created before keys existed, or while
    /// no key source was set).
    pub fn actors_without_keys(&self) -> Result<Vec<Actor>> {
        let txn = self.db.begin_read()?;
        let keys = txn.open_table(ACTOR_KEYS)?;
        let mut missing = Vec::new();
        for entry in txn.open_table(ACCOUNTS)?.iter()? {
            let id = entry?.0.value();
            if keys.get(Actor::Account(id).packed())?.is_none() {
                missing.push(Actor::Account(id));
            }
        }
        for entry in txn.open_table(CHANNELS)?.iter()? {
            let id = entry?.0.value();
            if keys.get(Actor::Channel(id).packed())?.is_none() {
                missing.push(Actor::Channel(id));
            }
        }
        Ok(missing)
    }

    /// Gives an actor `key` unless it has one already; returns the key the actor has now, so
    /// that two racing callers end up using the same one.
    pub fn add_actor_key(&self, actor: Actor, key: ActorKey) -> Result<ActorKey> {
        let txn = self.db.begin_write()?;
        let kept = {
            let exists = match actor {
                Actor::Account(id) => txn.open_table(ACCOUNTS)?.get(id)?.is_some(),
                Actor::Channel(id) => txn.open_table(CHANNELS)?.get(id)?.is_some(),
            };
            if !exists {
                return Err(CatalogError::NotFound("actor"));
            }
            let mut keys = txn.open_table(ACTOR_KEYS)?;
            match get_row(&keys, actor.packed())? {
                Some(existing) => existing,
                None => {
                    put_row(&mut keys, actor.packed(), &key)?;
                    key
                }
            }
        };
        txn.commit()?;
        Ok(kept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::users::tests::new_user;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Stand-in keys: the catalog only stores text.
    struct Counter(AtomicU32);

    impl KeySource for Counter {
        fn generate(&self) -> std::result::Result<ActorKey, String> {
            let n = self.0.fetch_add(1, Ordering::SeqCst);
            Ok(ActorKey {
                public_pem: format!("public {n}"),
                private_pem: format!("private {n}"),
            })
        }
    }

    #[test]
    fn actors_get_keys_at_creation_and_lose_them_with_the_channel() {
        let dir = tempfile::tempdir().expect("temp dir");
        let c = Catalog::open(&dir.path().join("c.redb")).expect("catalog");
        c.set_key_source(Arc::new(Counter(AtomicU32::new(0))));
        let u = c.create_user(new_user("alice")).expect("user");
        let main = c.channels_of_account(u.account_id).expect("channels")[0].id;
        let account_key = c.actor_key(Actor::Account(u.account_id)).expect("read");
        let channel_key = c.actor_key(Actor::Channel(main)).expect("read");
        assert!(account_key.is_some() && channel_key.is_some());
        assert_ne!(account_key, channel_key, "each actor has its own pair");
        let extra = c
            .create_channel(u.account_id, "alice_music", "Music", None, None)
            .expect("channel");
        assert!(
            c.actor_key(Actor::Channel(extra.id))
                .expect("read")
                .is_some()
        );
        assert!(c.actors_without_keys().expect("read").is_empty());
        c.delete_channel(extra.id).expect("delete");
        assert!(
            c.actor_key(Actor::Channel(extra.id))
                .expect("read")
                .is_none()
        );
    }

    #[test]
    fn keys_added_later_are_kept_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let c = Catalog::open(&dir.path().join("c.redb")).expect("catalog");
        let u = c.create_user(new_user("bob")).expect("user");
        let missing = c.actors_without_keys().expect("read");
        assert_eq!(missing.len(), 2, "{missing:?}");
        let first = ActorKey {
            public_pem: "p1".into(),
            private_pem: "s1".into(),
        };
        let second = ActorKey {
            public_pem: "p2".into(),
            private_pem: "s2".into(),
        };
        let account = Actor::Account(u.account_id);
        assert_eq!(c.add_actor_key(account, first.clone()).expect("add"), first);
        assert_eq!(c.add_actor_key(account, second).expect("add"), first);
        assert_eq!(c.actors_without_keys().expect("read").len(), 1);
        assert!(matches!(
            c.add_actor_key(Actor::Account(99), first),
            Err(CatalogError::NotFound(_))
        ));
    }

    #[test]
    fn a_version_1_catalog_is_migrated() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("c.redb");
        let account = {
            let c = Catalog::open(&path).expect("catalog");
            let u = c.create_user(new_user("carol")).expect("user");
            // Back to what version 1 had: no key table, no reserved name.
            let txn = c.db.begin_write().expect("txn");
            txn.delete_table(ACTOR_KEYS).expect("drop");
            txn.open_table(crate::store::ACTOR_NAMES)
                .expect("names")
                .remove(INSTANCE_ACTOR_NAME)
                .expect("remove");
            txn.open_table(crate::store::META)
                .expect("meta")
                .insert("schema_version", 1)
                .expect("meta");
            txn.commit().expect("commit");
            u.account_id
        };
        let c = Catalog::open(&path).expect("reopen");
        assert_eq!(c.schema_version().expect("read"), crate::SCHEMA_VERSION);
        assert_eq!(c.actors_without_keys().expect("read").len(), 2);
        assert!(
            c.actor_key(Actor::Account(account))
                .expect("read")
                .is_none()
        );
        assert!(matches!(
            c.create_user(new_user("peertube")),
            Err(CatalogError::NameTaken(_))
        ));
    }

    #[test]
    fn the_instance_actor_name_is_reserved() {
        let dir = tempfile::tempdir().expect("temp dir");
        let c = Catalog::open(&dir.path().join("c.redb")).expect("catalog");
        assert!(matches!(
            c.create_user(new_user("peertube")),
            Err(CatalogError::NameTaken(_))
        ));
        assert!(c.account_by_name("peertube").expect("read").is_none());
        assert!(c.channel_by_name("PeerTube").expect("read").is_none());
    }
}
