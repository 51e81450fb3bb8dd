//! Which local videos followers may not know the latest of. Every write that changes a
//! video (publication, edit, deletion) marks its uuid in the same transaction, so a change
//! is never lost to a crash between the write and the federation that follows; federation
//! takes the marks, compares the video with what it last told followers (`FederatedVideo`)
//! and records the new state as it queues the activities. Both tables are created on first
//! write, so older catalogs need no migration.

use std::sync::Arc;

use redb::{ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::Result;
use crate::store::{Catalog, META, get_row, put_row, read_table};

/// uuid -> the mark's number: a newer mark replaces an older one, and only the mark that
/// was looked at is cleared (an edit made while federation was busy with the video stays).
const VIDEO_CHANGES: TableDefinition<u128, u64> = TableDefinition::new("video_change_marks");
const MARK_COUNTER: &str = "video_change_mark";
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

/// A mark: this video may have changed since followers were told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoChange {
    pub uuid: Uuid,
    mark: u64,
}

/// Called after a transaction that marked a change commits.
pub type ChangeHook = Arc<dyn Fn() + Send + Sync>;

pub(crate) fn mark_video_change(txn: &WriteTransaction, uuid: Uuid) -> Result<()> {
    let mark = {
        let mut meta = txn.open_table(META)?;
        let next = meta.get(MARK_COUNTER)?.map_or(0, |v| v.value()) + 1;
        meta.insert(MARK_COUNTER, next)?;
        next
    };
    txn.open_table(VIDEO_CHANGES)?
        .insert(uuid.as_u128(), mark)?;
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

    /// The local videos marked as changed, in no particular order.
    pub fn changed_videos(&self) -> Result<Vec<VideoChange>> {
        let txn = self.db.begin_read()?;
        let Some(table) = read_table(&txn, VIDEO_CHANGES)? else {
            return Ok(Vec::new());
        };
        let mut changes = Vec::new();
        for row in table.iter()? {
            let (uuid, mark) = row?;
            changes.push(VideoChange {
                uuid: Uuid::from_u128(uuid.value()),
                mark: mark.value(),
            });
        }
        Ok(changes)
    }

    pub fn federated_video(&self, uuid: Uuid) -> Result<Option<FederatedVideo>> {
        let txn = self.db.begin_read()?;
        match read_table(&txn, FEDERATED_VIDEOS)? {
            Some(t) => get_row(&t, uuid.as_u128()),
            None => Ok(None),
        }
    }

    /// Records what followers now know of the video (`None`: nothing, it was deleted for
    /// them) and clears its mark, unless a newer mark came meanwhile. Federation queues the
    /// activities first: a crash in between sends them twice, which receivers take as one
    /// (activities are idempotent by id).
    pub fn settle_video_change(
        &self,
        change: VideoChange,
        federated: Option<&FederatedVideo>,
    ) -> Result<()> {
        let uuid = change.uuid;
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(FEDERATED_VIDEOS)?;
            match federated {
                Some(f) => put_row(&mut table, uuid.as_u128(), f)?,
                None => {
                    table.remove(uuid.as_u128())?;
                }
            }
            let mut marks = txn.open_table(VIDEO_CHANGES)?;
            let current = marks.get(uuid.as_u128())?.map(|m| m.value());
            if current == Some(change.mark) {
                marks.remove(uuid.as_u128())?;
            }
        }
        txn.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Video;

    fn catalog_with_video() -> (tempfile::TempDir, Catalog, Video, u64) {
        let dir = tempfile::tempdir().expect("temp dir");
        let catalog = Catalog::open(&dir.path().join("catalog.redb")).expect("open");
        let video = crate::comments::tests::local_video(&catalog);
        let channel = catalog
            .channel(video.attributes.channel_id)
            .expect("read")
            .expect("channel");
        (dir, catalog, video, channel.account_id)
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
        let changes = catalog.changed_videos().expect("changes");
        assert_eq!(uuids(&changes), vec![video.uuid]);
        assert_eq!(woken.load(std::sync::atomic::Ordering::SeqCst), 1);

        let told = FederatedVideo {
            channel_id: video.attributes.channel_id,
            account_id,
            object_hash: "h1".into(),
        };
        catalog
            .settle_video_change(changes[0], Some(&told))
            .expect("settle");
        assert!(catalog.changed_videos().expect("changes").is_empty());
        assert_eq!(
            catalog.federated_video(video.uuid).expect("read"),
            Some(told)
        );

        catalog.delete_video(video.id).expect("delete");
        let changes = catalog.changed_videos().expect("changes");
        assert_eq!(uuids(&changes), vec![video.uuid]);
        // What followers were told stays until federation has told them of the deletion.
        assert!(catalog.federated_video(video.uuid).expect("read").is_some());
        catalog
            .settle_video_change(changes[0], None)
            .expect("settle");
        assert_eq!(catalog.federated_video(video.uuid).expect("read"), None);
    }

    fn uuids(changes: &[VideoChange]) -> Vec<Uuid> {
        changes.iter().map(|c| c.uuid).collect()
    }

    #[test]
    fn an_edit_made_while_federation_looked_stays_marked() {
        let (_dir, catalog, video, _) = catalog_with_video();
        catalog
            .update_video(video.id, |v| v.attributes.name = "First".into())
            .expect("update");
        let seen = catalog.changed_videos().expect("changes");
        // The torrent writer edits the video while federation works on the first mark.
        catalog
            .update_video(video.id, |v| v.attributes.name = "Second".into())
            .expect("update");
        catalog.settle_video_change(seen[0], None).expect("settle");
        assert_eq!(
            uuids(&catalog.changed_videos().expect("changes")),
            vec![video.uuid]
        );
    }
}
