use thiserror::Error;

#[derive(Debug, Error)]
pub enum CatalogError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("the name {0:?} is already taken")]
    NameTaken(String),
    #[error("{0}")]
    Conflict(String),
    #[error("catalog schema version {found} is newer than this program understands ({supported})")]
    SchemaTooNew { found: u64, supported: u64 },
    #[error("catalog storage error: {0}")]
    Storage(String),
    #[error("catalog row could not be decoded: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("key generation failed: {0}")]
    Keys(String),
}

pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

/// redb has one error type per operation; they all mean the same to callers: storage failed.
macro_rules! storage_errors {
    ($($t:ty),*) => {$(
        impl From<$t> for CatalogError {
            fn from(e: $t) -> Self {
                CatalogError::Storage(e.to_string())
            }
        }
    )*};
}
storage_errors!(
    std::io::Error,
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
