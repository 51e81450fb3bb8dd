//! The redb file, its tables, schema version and migrations.

use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase, ReadableTable, Table, TableDefinition};
use serde::{Serialize, de::DeserializeOwned};

use crate::error::{CatalogError, Result};

/// Bump when a row's meaning changes, and add the step to `migrate`.
pub const SCHEMA_VERSION: u64 = 2;

pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
pub(crate) const SETTINGS: TableDefinition<&str, &str> = TableDefinition::new("settings");
pub(crate) const USERS: TableDefinition<u64, &[u8]> = TableDefinition::new("users");
pub(crate) const USERS_BY_NAME: TableDefinition<&str, u64> = TableDefinition::new("users_by_name");
pub(crate) const ACCOUNTS: TableDefinition<u64, &[u8]> = TableDefinition::new("accounts");
pub(crate) const CHANNELS: TableDefinition<u64, &[u8]> = TableDefinition::new("channels");
/// Accounts and channels share one namespace of actor names, as in PeerTube; the value is
/// `(is_channel, id)` packed as `id * 2 + is_channel`.
pub(crate) const ACTOR_NAMES: TableDefinition<&str, u64> = TableDefinition::new("actor_names");
pub(crate) const VIDEOS: TableDefinition<u64, &[u8]> = TableDefinition::new("videos");
pub(crate) const VIDEOS_BY_UUID: TableDefinition<u128, u64> =
    TableDefinition::new("videos_by_uuid");
pub(crate) const TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("tokens");
pub(crate) const REFRESH_TOKENS: TableDefinition<&str, &str> =
    TableDefinition::new("refresh_tokens");
pub(crate) const UPLOADS: TableDefinition<&str, &[u8]> = TableDefinition::new("uploads");
pub(crate) const JOBS: TableDefinition<u64, &[u8]> = TableDefinition::new("jobs");

pub struct Catalog {
    pub(crate) db: Database,
    pub(crate) key_source: std::sync::OnceLock<std::sync::Arc<dyn crate::keys::KeySource>>,
    pub(crate) video_change_hook: std::sync::OnceLock<crate::video_changes::ChangeHook>,
}

impl Catalog {
    /// Opens (or creates) the catalog and brings its schema to this program's version.
    ///
    /// Migrations are made reversible for over-the-air updates: before migrating, the file is
    /// copied aside as `<file>.schema-<old version>`. When an update is rolled back, the
    /// previous program finds a catalog newer than it knows and takes back its own copy
    /// (the newer catalog is kept aside too), losing only what changed during the trial.
    pub fn open(path: &Path) -> Result<Catalog> {
        let found = {
            let db = Database::create(path)?;
            stored_version(&db)?
        };
        if found > SCHEMA_VERSION {
            let ours = schema_copy(path, SCHEMA_VERSION);
            if !ours.exists() {
                return Err(CatalogError::SchemaTooNew {
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
            tracing::warn!(
                "the catalog has schema {found} from a newer version that was rolled back; \
                 going back to the copy made before it migrated (changes since are in {})",
                schema_copy(path, found).display()
            );
            std::fs::rename(path, schema_copy(path, found))?;
            std::fs::rename(&ours, path)?;
            sync_parent(path)?;
        } else if found > 0 && found < SCHEMA_VERSION {
            copy_durably(path, &schema_copy(path, found))?;
        }
        let db = Database::create(path)?;
        let catalog = Catalog {
            db,
            key_source: Default::default(),
            video_change_hook: Default::default(),
        };
        catalog.migrate()?;
        Ok(catalog)
    }

    fn migrate(&self) -> Result<()> {
        let txn = self.db.begin_write()?;
        {
            let mut meta = txn.open_table(META)?;
            let found = meta.get("schema_version")?.map(|v| v.value()).unwrap_or(0);
            if found > SCHEMA_VERSION {
                return Err(CatalogError::SchemaTooNew {
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
            if found < 1 {
                // Version 1 is the first schema: create every table and the local OAuth client.
                txn.open_table(USERS)?;
                txn.open_table(USERS_BY_NAME)?;
                txn.open_table(ACCOUNTS)?;
                txn.open_table(CHANNELS)?;
                txn.open_table(ACTOR_NAMES)?;
                txn.open_table(VIDEOS)?;
                txn.open_table(VIDEOS_BY_UUID)?;
                txn.open_table(TOKENS)?;
                txn.open_table(REFRESH_TOKENS)?;
                txn.open_table(UPLOADS)?;
                txn.open_table(JOBS)?;
                let mut settings = txn.open_table(SETTINGS)?;
                settings.insert("oauth_client_id", crate::tokens::random_secret().as_str())?;
                settings.insert(
                    "oauth_client_secret",
                    crate::tokens::random_secret().as_str(),
                )?;
            }
            if found < 2 {
                // Version 2: actor keys, and the instance actor's name (PeerTube's server
                // actor `peertube`) kept from accounts and channels unless one has it already.
                txn.open_table(crate::keys::ACTOR_KEYS)?;
                let mut names = txn.open_table(ACTOR_NAMES)?;
                if names.get(crate::keys::INSTANCE_ACTOR_NAME)?.is_none() {
                    names.insert(crate::keys::INSTANCE_ACTOR_NAME, u64::MAX)?;
                }
            }
            meta.insert("schema_version", SCHEMA_VERSION)?;
        }
        txn.commit()?;
        Ok(())
    }

    pub fn schema_version(&self) -> Result<u64> {
        stored_version(&self.db)
    }

    /// The OAuth client that PeerTube clients fetch from `/api/v1/oauth-clients/local`.
    pub fn local_oauth_client(&self) -> Result<(String, String)> {
        let txn = self.db.begin_read()?;
        let settings = txn.open_table(SETTINGS)?;
        let get = |k: &str| -> Result<String> {
            settings
                .get(k)?
                .map(|v| v.value().to_string())
                .ok_or(CatalogError::NotFound("oauth client"))
        };
        Ok((get("oauth_client_id")?, get("oauth_client_secret")?))
    }
}

/// Allocates the next id of a table's counter.
pub(crate) fn next_id(txn: &redb::WriteTransaction, counter: &str) -> Result<u64> {
    let mut meta = txn.open_table(META)?;
    let id = meta.get(counter)?.map(|v| v.value()).unwrap_or(0) + 1;
    meta.insert(counter, id)?;
    Ok(id)
}

pub(crate) fn encode<T: Serialize>(row: &T) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec(row)?)
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    Ok(serde_json::from_slice(bytes)?)
}

pub(crate) fn get_row<K, T>(
    table: &impl ReadableTable<K, &'static [u8]>,
    key: K::SelfType<'_>,
) -> Result<Option<T>>
where
    K: redb::Key + 'static,
    T: DeserializeOwned,
{
    match table.get(key)? {
        Some(v) => Ok(Some(decode(v.value())?)),
        None => Ok(None),
    }
}

pub(crate) fn put_row<K, T>(
    table: &mut Table<K, &'static [u8]>,
    key: K::SelfType<'_>,
    row: &T,
) -> Result<()>
where
    K: redb::Key + 'static,
    T: Serialize,
{
    table.insert(key, encode(row)?.as_slice())?;
    Ok(())
}

pub(crate) fn all_rows<K, T>(table: &impl ReadableTable<K, &'static [u8]>) -> Result<Vec<T>>
where
    K: redb::Key + 'static,
    T: DeserializeOwned,
{
    let mut rows = Vec::new();
    for entry in table.iter()? {
        let (_, v) = entry?;
        rows.push(decode(v.value())?);
    }
    Ok(rows)
}

impl Catalog {
    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        let txn = self.db.begin_read()?;
        let settings = txn.open_table(SETTINGS)?;
        Ok(settings.get(key)?.map(|v| v.value().to_string()))
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        let txn = self.db.begin_write()?;
        txn.open_table(SETTINGS)?.insert(key, value)?;
        txn.commit()?;
        Ok(())
    }
}

fn stored_version(db: &Database) -> Result<u64> {
    let txn = db.begin_read()?;
    match txn.open_table(META) {
        Ok(meta) => Ok(meta.get("schema_version")?.map(|v| v.value()).unwrap_or(0)),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

/// Where the catalog at schema `version` is kept aside.
fn schema_copy(path: &Path, version: u64) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(format!(".schema-{version}"));
    PathBuf::from(name)
}

/// Copies `from` to `to` whole or not at all: a temporary file, synced, renamed.
fn copy_durably(from: &Path, to: &Path) -> Result<()> {
    let mut tmp = to.as_os_str().to_os_string();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::copy(from, &tmp)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, to)?;
    sync_parent(to)
}

fn sync_parent(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// A table of a read transaction; `None` when it was never written (tables that came after
/// the first schema are created on first write, so older catalogs need no migration).
pub(crate) fn read_table<K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &redb::ReadTransaction,
    table: TableDefinition<K, V>,
) -> Result<Option<redb::ReadOnlyTable<K, V>>> {
    match txn.open_table(table) {
        Ok(t) => Ok(Some(t)),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The row of `rows` that `index` maps `key` to, if any.
pub(crate) fn row_by_index<'k, K, T>(
    txn: &redb::ReadTransaction,
    index: TableDefinition<K, u64>,
    rows: TableDefinition<u64, &[u8]>,
    key: K::SelfType<'k>,
) -> Result<Option<T>>
where
    K: redb::Key + 'static,
    T: DeserializeOwned,
{
    let (Some(index), Some(rows)) = (read_table(txn, index)?, read_table(txn, rows)?) else {
        return Ok(None);
    };
    match index.get(key)? {
        Some(id) => get_row(&rows, id.value()),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a program of another schema version leaves in the file's meta table.
    fn stamp_version(path: &Path, version: u64) {
        let db = Database::create(path).expect("db");
        let txn = db.begin_write().expect("txn");
        txn.open_table(META)
            .expect("meta")
            .insert("schema_version", version)
            .expect("insert");
        txn.commit().expect("commit");
    }

    #[test]
    fn a_migration_keeps_the_previous_catalog_aside() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("catalog.redb");
        Catalog::open(&path)
            .expect("create")
            .set_setting("instance_name", "Hill School")
            .expect("setting");
        stamp_version(&path, SCHEMA_VERSION - 1);

        let c = Catalog::open(&path).expect("migrate");
        assert_eq!(c.schema_version().expect("version"), SCHEMA_VERSION);
        assert_eq!(
            c.setting("instance_name").expect("setting").as_deref(),
            Some("Hill School")
        );
        drop(c);
        let aside = schema_copy(&path, SCHEMA_VERSION - 1);
        let old = Database::create(&aside).expect("copy opens");
        assert_eq!(stored_version(&old).expect("version"), SCHEMA_VERSION - 1);
    }

    #[test]
    fn after_a_rolled_back_update_the_catalog_of_this_version_comes_back() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("catalog.redb");
        Catalog::open(&path)
            .expect("create")
            .set_setting("instance_name", "Before the update")
            .expect("setting");
        // The update's trial: the newer program keeps our catalog aside, migrates, writes.
        copy_durably(&path, &schema_copy(&path, SCHEMA_VERSION)).expect("copy");
        Catalog::open(&path)
            .expect("open")
            .set_setting("instance_name", "During the trial")
            .expect("setting");
        stamp_version(&path, SCHEMA_VERSION + 1);

        // Rolled back: this program opens the catalog again.
        let c = Catalog::open(&path).expect("rolled back");
        assert_eq!(c.schema_version().expect("version"), SCHEMA_VERSION);
        assert_eq!(
            c.setting("instance_name").expect("setting").as_deref(),
            Some("Before the update")
        );
        assert!(!schema_copy(&path, SCHEMA_VERSION).exists());
        let trial = Database::create(schema_copy(&path, SCHEMA_VERSION + 1)).expect("kept");
        assert_eq!(stored_version(&trial).expect("version"), SCHEMA_VERSION + 1);
    }

    #[test]
    fn a_newer_catalog_without_a_copy_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("catalog.redb");
        drop(Catalog::open(&path).expect("create"));
        stamp_version(&path, SCHEMA_VERSION + 1);
        assert!(matches!(
            Catalog::open(&path),
            Err(CatalogError::SchemaTooNew { .. })
        ));
    }
}
