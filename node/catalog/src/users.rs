//! Users, their accounts and their channels.

use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use std::sync::OnceLock;

use chrono::Utc;
use redb::{ReadableDatabase, ReadableTable, WriteTransaction};

use crate::error::{CatalogError, Result};
use crate::model::*;
use crate::store::*;
use crate::web_profiles::Actor;

fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CatalogError::Hash(e.to_string()))
}

fn password_matches(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Reserves an actor name (account or channel); names are compared case-insensitively.
fn claim_actor_name(txn: &WriteTransaction, name: &str, packed: u64) -> Result<()> {
    let mut names = txn.open_table(ACTOR_NAMES)?;
    let key = name.to_lowercase();
    if names.get(key.as_str())?.is_some() {
        return Err(CatalogError::NameTaken(name.to_string()));
    }
    names.insert(key.as_str(), packed)?;
    Ok(())
}

fn insert_channel(
    txn: &WriteTransaction,
    account_id: u64,
    name: &str,
    display_name: &str,
) -> Result<Channel> {
    let now = Utc::now();
    let channel = Channel {
        id: next_id(txn, "channel_id")?,
        account_id,
        name: name.to_string(),
        display_name: display_name.to_string(),
        description: None,
        support: None,
        created_at: now,
        updated_at: now,
    };
    claim_actor_name(txn, name, channel.id * 2 + 1)?;
    put_row(&mut txn.open_table(CHANNELS)?, channel.id, &channel)?;
    Ok(channel)
}

impl Catalog {
    /// Creates a user with its account and its default channel `{username}_channel`.
    pub fn create_user(&self, new: NewUser) -> Result<User> {
        let password_hash = hash_password(&new.password)?;
        let (account_key, channel_key) = (self.new_key()?, self.new_key()?);
        let txn = self.db.begin_write()?;
        let user = {
            let mut by_name = txn.open_table(USERS_BY_NAME)?;
            if by_name.get(new.username.as_str())?.is_some() {
                return Err(CatalogError::NameTaken(new.username));
            }
            let now = Utc::now();
            let user_id = next_id(&txn, "user_id")?;
            let account = Account {
                id: next_id(&txn, "account_id")?,
                user_id,
                name: new.username.clone(),
                display_name: new.username.clone(),
                description: None,
                created_at: now,
                updated_at: now,
            };
            claim_actor_name(&txn, &account.name, account.id * 2)?;
            put_row(&mut txn.open_table(ACCOUNTS)?, account.id, &account)?;
            let channel_name = format!("{}_channel", new.username);
            let channel_display = format!("Main {} channel", new.username);
            let channel = insert_channel(&txn, account.id, &channel_name, &channel_display)?;
            if let Some(key) = &account_key {
                crate::keys::put_key(&txn, Actor::Account(account.id), key)?;
            }
            if let Some(key) = &channel_key {
                crate::keys::put_key(&txn, Actor::Channel(channel.id), key)?;
            }
            let user = User {
                id: user_id,
                username: new.username,
                email: new.email,
                password_hash,
                role: new.role,
                video_quota: new.video_quota,
                video_quota_daily: new.video_quota_daily,
                account_id: account.id,
                created_at: now,
            };
            by_name.insert(user.username.as_str(), user.id)?;
            put_row(&mut txn.open_table(USERS)?, user.id, &user)?;
            user
        };
        txn.commit()?;
        Ok(user)
    }

    pub fn user(&self, id: u64) -> Result<Option<User>> {
        let txn = self.db.begin_read()?;
        get_row(&txn.open_table(USERS)?, id)
    }

    pub fn user_by_name(&self, username: &str) -> Result<Option<User>> {
        let txn = self.db.begin_read()?;
        let Some(id) = txn
            .open_table(USERS_BY_NAME)?
            .get(username)?
            .map(|v| v.value())
        else {
            return Ok(None);
        };
        get_row(&txn.open_table(USERS)?, id)
    }

    pub fn users(&self) -> Result<Vec<User>> {
        let txn = self.db.begin_read()?;
        all_rows(&txn.open_table(USERS)?)
    }

    /// The user if the password is theirs. Hashing runs even for unknown names so that
    /// timing does not tell which usernames exist.
    pub fn check_password(&self, username: &str, password: &str) -> Result<Option<User>> {
        let user = self.user_by_name(username)?;
        static DUMMY: OnceLock<String> = OnceLock::new();
        let dummy = DUMMY.get_or_init(|| hash_password("not a password").unwrap_or_default());
        let hash = user
            .as_ref()
            .map(|u| u.password_hash.as_str())
            .unwrap_or(dummy);
        let ok = password_matches(hash, password);
        Ok(user.filter(|_| ok))
    }

    /// Completes the first-boot setup in one transaction: the administrator's password,
    /// the instance's name, and the mark that the box is claimed.
    pub fn claim_instance(
        &self,
        admin_username: &str,
        admin_password: &str,
        instance_name: &str,
    ) -> Result<()> {
        let password_hash = hash_password(admin_password)?;
        let txn = self.db.begin_write()?;
        {
            let id = txn
                .open_table(USERS_BY_NAME)?
                .get(admin_username)?
                .map(|v| v.value())
                .ok_or(CatalogError::NotFound("user"))?;
            let mut users = txn.open_table(USERS)?;
            let mut user: User = get_row(&users, id)?.ok_or(CatalogError::NotFound("user"))?;
            user.password_hash = password_hash;
            put_row(&mut users, id, &user)?;
            let mut settings = txn.open_table(SETTINGS)?;
            settings.insert("instance_name", instance_name)?;
            settings.insert("claimed", "true")?;
        }
        txn.commit()?;
        Ok(())
    }

    pub fn set_password(&self, user_id: u64, password: &str) -> Result<()> {
        let password_hash = hash_password(password)?;
        self.update_user(user_id, |u| u.password_hash = password_hash)
    }

    pub fn update_user(&self, user_id: u64, change: impl FnOnce(&mut User)) -> Result<()> {
        let txn = self.db.begin_write()?;
        {
            let mut users = txn.open_table(USERS)?;
            let mut user: User = get_row(&users, user_id)?.ok_or(CatalogError::NotFound("user"))?;
            change(&mut user);
            put_row(&mut users, user_id, &user)?;
        }
        txn.commit()?;
        Ok(())
    }

    pub fn account(&self, id: u64) -> Result<Option<Account>> {
        let txn = self.db.begin_read()?;
        get_row(&txn.open_table(ACCOUNTS)?, id)
    }

    pub fn accounts(&self) -> Result<Vec<Account>> {
        let txn = self.db.begin_read()?;
        all_rows(&txn.open_table(ACCOUNTS)?)
    }

    pub fn account_by_name(&self, name: &str) -> Result<Option<Account>> {
        match self.actor_by_name(name)? {
            Some(packed) if packed % 2 == 0 => self.account(packed / 2),
            _ => Ok(None),
        }
    }

    fn actor_by_name(&self, name: &str) -> Result<Option<u64>> {
        let txn = self.db.begin_read()?;
        let names = txn.open_table(ACTOR_NAMES)?;
        Ok(names.get(name.to_lowercase().as_str())?.map(|v| v.value()))
    }

    pub fn channel(&self, id: u64) -> Result<Option<Channel>> {
        let txn = self.db.begin_read()?;
        get_row(&txn.open_table(CHANNELS)?, id)
    }

    pub fn channel_by_name(&self, name: &str) -> Result<Option<Channel>> {
        match self.actor_by_name(name)? {
            Some(packed) if packed % 2 == 1 => self.channel(packed / 2),
            _ => Ok(None),
        }
    }

    pub fn channels(&self) -> Result<Vec<Channel>> {
        let txn = self.db.begin_read()?;
        all_rows(&txn.open_table(CHANNELS)?)
    }

    pub fn channels_of_account(&self, account_id: u64) -> Result<Vec<Channel>> {
        Ok(self
            .channels()?
            .into_iter()
            .filter(|c| c.account_id == account_id)
            .collect())
    }

    pub fn create_channel(
        &self,
        account_id: u64,
        name: &str,
        display_name: &str,
        description: Option<String>,
        support: Option<String>,
    ) -> Result<Channel> {
        let key = self.new_key()?;
        let txn = self.db.begin_write()?;
        let channel = {
            let mut channel = insert_channel(&txn, account_id, name, display_name)?;
            if let Some(key) = &key {
                crate::keys::put_key(&txn, Actor::Channel(channel.id), key)?;
            }
            channel.description = description;
            channel.support = support;
            put_row(&mut txn.open_table(CHANNELS)?, channel.id, &channel)?;
            channel
        };
        txn.commit()?;
        Ok(channel)
    }

    pub fn update_channel(&self, id: u64, changes: ChannelChanges) -> Result<Channel> {
        let txn = self.db.begin_write()?;
        let channel = {
            let mut channels = txn.open_table(CHANNELS)?;
            let mut channel: Channel =
                get_row(&channels, id)?.ok_or(CatalogError::NotFound("channel"))?;
            if let Some(d) = changes.display_name {
                channel.display_name = d;
            }
            if let Some(d) = changes.description {
                channel.description = d;
            }
            if let Some(s) = changes.support {
                channel.support = s;
            }
            channel.updated_at = Utc::now();
            put_row(&mut channels, id, &channel)?;
            channel
        };
        txn.commit()?;
        Ok(channel)
    }

    /// Deletes a channel and its videos (PeerTube does the same); the last channel of an
    /// account cannot go. Returns the deleted videos so the caller can remove their files.
    pub fn delete_channel(&self, id: u64) -> Result<Vec<Video>> {
        let txn = self.db.begin_write()?;
        let removed = {
            let mut channels = txn.open_table(CHANNELS)?;
            let channel: Channel =
                get_row(&channels, id)?.ok_or(CatalogError::NotFound("channel"))?;
            let siblings = all_rows::<u64, Channel>(&channels)?
                .into_iter()
                .filter(|c| c.account_id == channel.account_id)
                .count();
            if siblings <= 1 {
                return Err(CatalogError::Conflict(
                    "Cannot remove the last channel of this user".into(),
                ));
            }
            channels.remove(id)?;
            txn.open_table(ACTOR_NAMES)?
                .remove(channel.name.to_lowercase().as_str())?;
            txn.open_table(crate::keys::ACTOR_KEYS)?
                .remove(Actor::Channel(id).packed())?;
            let videos: Vec<Video> = all_rows(&txn.open_table(VIDEOS)?)?;
            let mut removed = Vec::new();
            for v in videos.into_iter().filter(|v| v.attributes.channel_id == id) {
                crate::videos::remove_video_rows(&txn, &v)?;
                removed.push(v);
            }
            removed
        };
        txn.commit()?;
        self.video_changed();
        Ok(removed)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn catalog() -> (tempfile::TempDir, Catalog) {
        let dir = tempfile::tempdir().unwrap();
        let c = Catalog::open(&dir.path().join("catalog.redb")).unwrap();
        (dir, c)
    }

    pub(crate) fn new_user(name: &str) -> NewUser {
        NewUser {
            username: name.into(),
            email: format!("{name}@example.org"),
            password: "secret-pass".into(),
            role: Role::User,
            video_quota: -1,
            video_quota_daily: -1,
        }
    }

    #[test]
    fn user_gets_account_and_default_channel() {
        let (_d, c) = catalog();
        let u = c.create_user(new_user("alice")).unwrap();
        let channels = c.channels_of_account(u.account_id).unwrap();
        assert_eq!(channels.len(), 1);
        assert_eq!(channels[0].name, "alice_channel");
        assert_eq!(c.account_by_name("alice").unwrap().unwrap().user_id, u.id);
        assert!(c.channel_by_name("alice").unwrap().is_none());
    }

    #[test]
    fn names_are_unique_across_accounts_and_channels() {
        let (_d, c) = catalog();
        let u = c.create_user(new_user("bob")).unwrap();
        assert!(matches!(
            c.create_user(new_user("bob")),
            Err(CatalogError::NameTaken(_))
        ));
        assert!(matches!(
            c.create_channel(u.account_id, "bob", "x", None, None),
            Err(CatalogError::NameTaken(_))
        ));
        assert!(matches!(
            c.create_channel(u.account_id, "BOB_channel", "x", None, None),
            Err(CatalogError::NameTaken(_))
        ));
    }

    #[test]
    fn password_check() {
        let (_d, c) = catalog();
        c.create_user(new_user("carol")).unwrap();
        assert!(c.check_password("carol", "secret-pass").unwrap().is_some());
        assert!(c.check_password("carol", "wrong").unwrap().is_none());
        assert!(c.check_password("nobody", "secret-pass").unwrap().is_none());
    }

    #[test]
    fn last_channel_cannot_be_deleted() {
        let (_d, c) = catalog();
        let u = c.create_user(new_user("dan")).unwrap();
        let main = c.channels_of_account(u.account_id).unwrap().remove(0);
        assert!(matches!(
            c.delete_channel(main.id),
            Err(CatalogError::Conflict(_))
        ));
        let extra = c
            .create_channel(u.account_id, "dan_music", "Music", None, None)
            .unwrap();
        c.delete_channel(extra.id).unwrap();
        assert!(c.channel_by_name("dan_music").unwrap().is_none());
    }

    #[test]
    fn survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.redb");
        let client = {
            let c = Catalog::open(&path).unwrap();
            c.create_user(new_user("erin")).unwrap();
            c.local_oauth_client().unwrap()
        };
        let c = Catalog::open(&path).unwrap();
        assert_eq!(c.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(c.local_oauth_client().unwrap(), client);
        assert!(c.user_by_name("erin").unwrap().is_some());
    }
}
