//! Which local videos followers may not know the latest of. Every write that changes a
//! video (publication, edit, deletion) marks its uuid in the same transaction, so a change
//! is never lost to a crash between the write and the federation that follows; federation
//! takes the marks, compares the video with what it last told followers (`FederatedVideo`)
//! and records the new state as it queues the activities. Both tables are created on first
//! write, so older catalogs need no migration.

use std::sync::Arc;

use redb::{ReadableDatabase, ReadableTable, TableDefinition, TableError, WriteTransaction};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::Result;
use crate::store::{Catalog, get_row, put_row};

const VIDEO_CHANGES: TableDefinition<u128, ()> = TableDefinition::new("video_changes");
const FEDERATED_VIDEOS: TableDefinition<u128, &[u8]> = TableDefinition::new("federated_videos");

/// What followers were last told of a local video: enough to reach them again when the
/// video is gone from the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FederatedVideo {
    pub channel_id: u64,
    pub account_id: u64,
    /// Hash of the Video object sent, so an edit that changes nothing followers see sends
    /// nothing.
    pub object_hash: String,
}

/// Called after a transaction that marked a change commits.
pub type ChangeHook = Arc<dyn Fn() + Send + Sync>;

pub(crate) fn mark_video_change(txn: &WriteTransaction, uuid: Uuid) -> Result<()> {
    txn.open_table(VIDEO_CHANGES)?.insert(uuid.as_u128(), ())?;
    Ok(())
}

impl Catalog {
    /// Sets what is told when a video changed (federation's wake-up); set once at start.
    pub fn set_video_change_hook(&self, hook: ChangeHook) {
        let _ = self.video_change_hook.set(hook);
    }

    pub(crate) fn video_changed(&self) {
        if let Some(hook) = self.video_change_hook.get() {
            hook();
        }
    }

    /// Uuids of local videos marked as changed, oldest mark first is not kept: any order.
    pub fn changed_videos(&self) -> Result<Vec<Uuid>> {
        let txn = self.db.begin_read()?;
        let table = match txn.open_table(VIDEO_CHANGES) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut uuids = Vec::new();
        for row in table.iter()? {
            uuids.push(Uuid::from_u128(row?.0.value()));
        }
        Ok(uuids)
    }

    pub fn federated_video(&self, uuid: Uuid) -> Result<Option<FederatedVideo>> {
        let txn = self.db.begin_read()?;
        match txn.open_table(FEDERATED_VIDEOS) {
            Ok(t) => get_row(&t, uuid.as_u128()),
            Err(TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Records what followers now know of `uuid` (`None`: nothing, it was deleted for them)
    /// and clears its mark. Federation queues the activities first: a crash in between
    /// sends them twice, which receivers take as one (activities are idempotent by id).
    pub fn settle_video_change(
        &self,
        uuid: Uuid,
        federated: Option<&FederatedVideo>,
    ) -> Result<()> {
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(FEDERATED_VIDEOS)?;
            match federated {
                Some(f) => put_row(&mut table, uuid.as_u128(), f)?,
                None => {
                    table.remove(uuid.as_u128())?;
                }
            }
            txn.open_table(VIDEO_CHANGES)?.remove(uuid.as_u128())?;
        }
        txn.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;

    fn catalog_with_video() -> (tempfile::TempDir, Catalog, Video, u64) {
        let dir = tempfile::tempdir().expect("temp dir");
        let catalog = Catalog::open(&dir.path().join("catalog.redb")).expect("open");
        let user = catalog
            .create_user(crate::users::tests::new_user("vc"))
            .expect("user");
        let channel = catalog
            .channels_of_account(user.account_id)
            .expect("channels")[0]
            .id;
        let source = SourceFile {
            path: "media/original-video-files/x.mp4".into(),
            original_name: "x.mp4".into(),
            extension: ".mp4".into(),
            size: 1,
            mime_type: "video/mp4".into(),
            info_hash: None,
        };
        let video = catalog
            .create_video(
                NewVideo {
                    uuid: Uuid::new_v4(),
                    attributes: VideoAttributes::new("A video", channel, Privacy::Public),
                    source,
                },
                None,
            )
            .expect("video");
        (dir, catalog, video, user.account_id)
    }

    #[test]
    fn edits_and_deletions_are_marked_until_settled() {
        let (_dir, catalog, video, account_id) = catalog_with_video();
        let woken = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = woken.clone();
        catalog.set_video_change_hook(Arc::new(move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }));
        assert!(catalog.changed_videos().expect("changes").is_empty());

        catalog
            .update_video(video.id, |v| v.attributes.name = "Renamed".into())
            .expect("update");
        assert_eq!(catalog.changed_videos().expect("changes"), vec![video.uuid]);
        assert_eq!(woken.load(std::sync::atomic::Ordering::SeqCst), 1);

        let told = FederatedVideo {
            channel_id: video.attributes.channel_id,
            account_id,
            object_hash: "h1".into(),
        };
        catalog
            .settle_video_change(video.uuid, Some(&told))
            .expect("settle");
        assert!(catalog.changed_videos().expect("changes").is_empty());
        assert_eq!(
            catalog.federated_video(video.uuid).expect("read"),
            Some(told)
        );

        catalog.delete_video(video.id).expect("delete");
        assert_eq!(catalog.changed_videos().expect("changes"), vec![video.uuid]);
        // What followers were told stays until federation has told them of the deletion.
        assert!(catalog.federated_video(video.uuid).expect("read").is_some());
        catalog
            .settle_video_change(video.uuid, None)
            .expect("settle");
        assert_eq!(catalog.federated_video(video.uuid).expect("read"), None);
    }
}
