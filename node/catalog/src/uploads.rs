//! Resumable upload sessions.

use chrono::{DateTime, Utc};
use redb::ReadableDatabase;

use crate::error::{CatalogError, Result};
use crate::model::Upload;
use crate::store::*;

impl Catalog {
    /// Records a session; an existing one with the same id is left as it is and returned
    /// (a client that starts the same upload again resumes it).
    pub fn start_upload(&self, upload: Upload) -> Result<(Upload, bool)> {
        let txn = self.db.begin_write()?;
        let result = {
            let mut uploads = txn.open_table(UPLOADS)?;
            match get_row::<&str, Upload>(&uploads, upload.id.as_str())? {
                Some(existing) => (existing, false),
                None => {
                    put_row(&mut uploads, upload.id.as_str(), &upload)?;
                    (upload, true)
                }
            }
        };
        txn.commit()?;
        Ok(result)
    }

    pub fn upload(&self, id: &str) -> Result<Option<Upload>> {
        let txn = self.db.begin_read()?;
        get_row(&txn.open_table(UPLOADS)?, id)
    }

    pub fn uploads(&self) -> Result<Vec<Upload>> {
        let txn = self.db.begin_read()?;
        all_rows(&txn.open_table(UPLOADS)?)
    }

    pub fn touch_upload(&self, id: &str, at: DateTime<Utc>) -> Result<()> {
        let txn = self.db.begin_write()?;
        {
            let mut uploads = txn.open_table(UPLOADS)?;
            let mut upload: Upload =
                get_row(&uploads, id)?.ok_or(CatalogError::NotFound("upload"))?;
            upload.last_activity = at;
            put_row(&mut uploads, id, &upload)?;
        }
        txn.commit()?;
        Ok(())
    }

    pub fn delete_upload(&self, id: &str) -> Result<()> {
        let txn = self.db.begin_write()?;
        txn.open_table(UPLOADS)?.remove(id)?;
        txn.commit()?;
        Ok(())
    }
}
