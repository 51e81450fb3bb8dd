//! OAuth access and refresh tokens. Only their SHA-256 is stored, so a copy of the catalog
//! does not let anyone sign in.

use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use redb::{ReadableDatabase, ReadableTable};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{CatalogError, Result};
use crate::model::User;
use crate::store::*;

pub(crate) fn random_secret() -> String {
    let mut bytes = [0u8; 20];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[derive(Debug, Serialize, Deserialize)]
struct TokenRow {
    user_id: u64,
    refresh_digest: String,
    access_expires_at: DateTime<Utc>,
    refresh_expires_at: DateTime<Utc>,
}

/// A token pair as handed to a client, with lifetimes in seconds.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
    pub refresh_token_expires_in: i64,
}

impl Catalog {
    pub fn issue_tokens(
        &self,
        user_id: u64,
        access_lifetime: Duration,
        refresh_lifetime: Duration,
    ) -> Result<IssuedTokens> {
        let issued = IssuedTokens {
            access_token: random_secret(),
            refresh_token: random_secret(),
            expires_in: access_lifetime.num_seconds(),
            refresh_token_expires_in: refresh_lifetime.num_seconds(),
        };
        let now = Utc::now();
        let row = TokenRow {
            user_id,
            refresh_digest: digest(&issued.refresh_token),
            access_expires_at: now + access_lifetime,
            refresh_expires_at: now + refresh_lifetime,
        };
        let txn = self.db.begin_write()?;
        {
            let access_digest = digest(&issued.access_token);
            put_row(&mut txn.open_table(TOKENS)?, access_digest.as_str(), &row)?;
            txn.open_table(REFRESH_TOKENS)?
                .insert(row.refresh_digest.as_str(), access_digest.as_str())?;
        }
        txn.commit()?;
        Ok(issued)
    }

    /// The user an access token belongs to, or why it is refused.
    pub fn authenticate(&self, access_token: &str) -> Result<Result<User, TokenRefusal>> {
        let txn = self.db.begin_read()?;
        let Some(row) =
            get_row::<&str, TokenRow>(&txn.open_table(TOKENS)?, digest(access_token).as_str())?
        else {
            return Ok(Err(TokenRefusal::Unknown));
        };
        if row.access_expires_at <= Utc::now() {
            return Ok(Err(TokenRefusal::Expired));
        }
        match get_row(&txn.open_table(USERS)?, row.user_id)? {
            Some(user) => Ok(Ok(user)),
            None => Ok(Err(TokenRefusal::Unknown)),
        }
    }

    /// Trades a refresh token for a new pair; the old pair stops working.
    pub fn refresh_tokens(
        &self,
        refresh_token: &str,
        access_lifetime: Duration,
        refresh_lifetime: Duration,
    ) -> Result<Result<(User, IssuedTokens), TokenRefusal>> {
        let refresh_digest = digest(refresh_token);
        let txn = self.db.begin_write()?;
        let user_id = {
            let mut refresh = txn.open_table(REFRESH_TOKENS)?;
            let Some(access_digest) = refresh
                .remove(refresh_digest.as_str())?
                .map(|v| v.value().to_string())
            else {
                return Ok(Err(TokenRefusal::Unknown));
            };
            let mut tokens = txn.open_table(TOKENS)?;
            let row: Option<TokenRow> = get_row(&tokens, access_digest.as_str())?;
            tokens.remove(access_digest.as_str())?;
            match row {
                Some(row) if row.refresh_expires_at > Utc::now() => row.user_id,
                Some(_) => {
                    drop((tokens, refresh));
                    txn.commit()?;
                    return Ok(Err(TokenRefusal::Expired));
                }
                None => return Ok(Err(TokenRefusal::Unknown)),
            }
        };
        txn.commit()?;
        let user = self.user(user_id)?.ok_or(CatalogError::NotFound("user"))?;
        let issued = self.issue_tokens(user_id, access_lifetime, refresh_lifetime)?;
        Ok(Ok((user, issued)))
    }

    /// Revokes the pair an access token belongs to (logout).
    pub fn revoke(&self, access_token: &str) -> Result<()> {
        let access_digest = digest(access_token);
        let txn = self.db.begin_write()?;
        {
            let mut tokens = txn.open_table(TOKENS)?;
            if let Some(row) = get_row::<&str, TokenRow>(&tokens, access_digest.as_str())? {
                txn.open_table(REFRESH_TOKENS)?
                    .remove(row.refresh_digest.as_str())?;
            }
            tokens.remove(access_digest.as_str())?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Drops token pairs whose refresh token has expired; returns how many.
    pub fn sweep_expired_tokens(&self) -> Result<usize> {
        let now = Utc::now();
        let txn = self.db.begin_write()?;
        let count = {
            let mut tokens = txn.open_table(TOKENS)?;
            let mut refresh = txn.open_table(REFRESH_TOKENS)?;
            let mut expired = Vec::new();
            for entry in tokens.iter()? {
                let (k, v) = entry?;
                let row: TokenRow = decode(v.value())?;
                if row.refresh_expires_at <= now {
                    expired.push((k.value().to_string(), row.refresh_digest));
                }
            }
            for (access, refresh_digest) in &expired {
                tokens.remove(access.as_str())?;
                refresh.remove(refresh_digest.as_str())?;
            }
            expired.len()
        };
        txn.commit()?;
        Ok(count)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    Unknown,
    Expired,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NewUser, Role};

    #[test]
    fn issue_authenticate_refresh_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let c = Catalog::open(&dir.path().join("c.redb")).unwrap();
        let u = c
            .create_user(NewUser {
                username: "t".into(),
                email: "t@example.org".into(),
                password: "secret-pass".into(),
                role: Role::User,
                video_quota: -1,
                video_quota_daily: -1,
            })
            .unwrap();
        let (hour, week) = (Duration::hours(1), Duration::weeks(1));
        let t = c.issue_tokens(u.id, hour, week).unwrap();
        assert_eq!(c.authenticate(&t.access_token).unwrap().unwrap().id, u.id);
        let (_, t2) = c
            .refresh_tokens(&t.refresh_token, hour, week)
            .unwrap()
            .unwrap();
        assert_eq!(
            c.authenticate(&t.access_token).unwrap().unwrap_err(),
            TokenRefusal::Unknown
        );
        assert!(
            c.refresh_tokens(&t.refresh_token, hour, week)
                .unwrap()
                .is_err()
        );
        c.revoke(&t2.access_token).unwrap();
        assert!(c.authenticate(&t2.access_token).unwrap().is_err());
        assert!(
            c.refresh_tokens(&t2.refresh_token, hour, week)
                .unwrap()
                .is_err()
        );
        let short = c
            .issue_tokens(u.id, Duration::seconds(-1), Duration::seconds(-1))
            .unwrap();
        assert_eq!(
            c.authenticate(&short.access_token).unwrap().unwrap_err(),
            TokenRefusal::Expired
        );
        assert_eq!(c.sweep_expired_tokens().unwrap(), 1);
    }
}
