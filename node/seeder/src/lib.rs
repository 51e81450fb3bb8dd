//! BitTorrent seeding of the node's own media files with an embedded librqbit session, so
//! that classic BitTorrent clients find the node as a peer (through the node's tracker) as
//! well as a web seed.
//!
//! It seeds files in place: a torrent's single file is the node's file, never a copy, and it
//! never downloads or writes media. It knows nothing of the catalog: the node tells it which
//! files to seed (`Seeder::sync`) and it follows. librqbit lives in this crate alone so that
//! the tracker and the API do not compile it.
//!
//! Fast resume: librqbit keeps one bitfield per infohash in the state dir; a restart reads it
//! and spot-checks a few pieces instead of hashing every file again. The list of torrents is
//! not librqbit's to keep: the catalog is the truth, so the saved list is dropped at start
//! (a torrent of a deleted video must not come back, nor its file be created again empty).

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use librqbit::api::TorrentIdOrHash;
use librqbit::{
    AddTorrent, AddTorrentOptions, AddTorrentResponse, ListenerOptions, Session, SessionOptions,
    SessionPersistenceConfig,
};

/// How the session runs.
#[derive(Debug, Clone)]
pub struct SeederOptions {
    /// librqbit's own files (piece bitfields); inside the node's data dir.
    pub state_dir: PathBuf,
    /// TCP port for incoming peers; 0 picks a free one at each start.
    pub listen_port: u16,
    /// Peers connected at once per torrent.
    pub peer_limit: usize,
}

/// One file to seed: its metainfo and where the file is.
#[derive(Debug, Clone)]
pub struct SeedFile {
    pub info_hash: [u8; 20],
    /// The `.torrent`, single-file, whose `info.name` is the file's name on disk.
    pub torrent: PathBuf,
    pub file: PathBuf,
}

/// What a `sync` did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncReport {
    pub added: usize,
    pub removed: usize,
    /// Files that could not be seeded (missing, or not what their torrent describes).
    pub skipped: usize,
}

pub struct Seeder {
    session: Arc<Session>,
    state: tokio::sync::Mutex<State>,
}

#[derive(Default)]
struct State {
    /// What is being seeded, by infohash.
    seeding: HashMap<[u8; 20], PathBuf>,
    /// Files refused once (a file does not change under the same infohash): not tried, nor
    /// warned about, again until the next start.
    refused: HashSet<[u8; 20]>,
}

impl Seeder {
    pub async fn start(options: SeederOptions) -> Result<Seeder> {
        tokio::fs::create_dir_all(&options.state_dir)
            .await
            .with_context(|| format!("cannot create {}", options.state_dir.display()))?;
        // The list of torrents comes from the catalog; only the bitfields are kept.
        match tokio::fs::remove_file(options.state_dir.join("session.json")).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).context("cannot reset the seeding session list");
            }
            _ => {}
        }
        let session = Session::new_with_opts(
            options.state_dir.clone(),
            SessionOptions {
                // Peers come from the node's own tracker, named in every torrent.
                dht: None,
                disable_local_service_discovery: true,
                fastresume: true,
                persistence: Some(SessionPersistenceConfig::Json {
                    folder: Some(options.state_dir.clone()),
                }),
                listen: Some(ListenerOptions {
                    listen_addr: SocketAddr::from((Ipv4Addr::UNSPECIFIED, options.listen_port)),
                    enable_upnp_port_forwarding: false,
                    ipv4_only: true,
                    ..Default::default()
                }),
                ipv4_only: true,
                peer_limit: Some(options.peer_limit),
                // Hashing at first add runs on blocking threads; two keep a small board usable.
                runtime_worker_threads: Some(2),
                concurrent_init_limit: Some(2),
                client_name_and_version: Some(format!("Peerbox {}", env!("CARGO_PKG_VERSION"))),
                ..Default::default()
            },
        )
        .await
        .context("cannot start the BitTorrent session")?;
        Ok(Seeder {
            session,
            state: Default::default(),
        })
    }

    /// The TCP port peers reach the seeder on.
    pub fn listen_port(&self) -> Option<u16> {
        self.session.announce_port()
    }

    /// Seeds exactly `wanted`: adds what is new, drops what is gone. Adding waits until the
    /// torrent is checked (fast when its bitfield was saved by an earlier run).
    pub async fn sync(&self, wanted: Vec<SeedFile>) -> SyncReport {
        let mut report = SyncReport::default();
        let mut state = self.state.lock().await;
        let wanted: HashMap<[u8; 20], SeedFile> =
            wanted.into_iter().map(|f| (f.info_hash, f)).collect();
        let gone: Vec<[u8; 20]> = state
            .seeding
            .keys()
            .filter(|h| !wanted.contains_key(*h))
            .copied()
            .collect();
        for hash in gone {
            state.seeding.remove(&hash);
            // Never delete files: they are the node's, removed by the node.
            match self
                .session
                .delete(TorrentIdOrHash::Hash(librqbit::dht::Id20::new(hash)), false)
                .await
            {
                Ok(()) => report.removed += 1,
                Err(e) => {
                    tracing::warn!(info_hash = %hex::encode(hash), "cannot stop seeding: {e:#}")
                }
            }
        }
        for (hash, file) in wanted {
            if state.seeding.contains_key(&hash) {
                continue;
            }
            if state.refused.contains(&hash) {
                report.skipped += 1;
                continue;
            }
            match self.add(&file).await {
                Ok(()) => {
                    state.seeding.insert(hash, file.file);
                    report.added += 1;
                }
                Err(e) => {
                    tracing::warn!(file = %file.file.display(), "not seeded: {e:#}");
                    state.refused.insert(hash);
                    report.skipped += 1;
                }
            }
        }
        report
    }

    async fn add(&self, file: &SeedFile) -> Result<()> {
        let bytes = tokio::fs::read(&file.torrent)
            .await
            .with_context(|| format!("cannot read {}", file.torrent.display()))?;
        let dir = seedable(&bytes, file).await?;
        let added = self
            .session
            .add_torrent(
                AddTorrent::from_bytes(bytes),
                Some(AddTorrentOptions {
                    output_folder: Some(dir),
                    // Needed to open existing files; nothing is written since all is there.
                    overwrite: true,
                    // Checked before it goes live, so that a file that differs from its
                    // torrent is never "completed" from peers.
                    paused: true,
                    ..Default::default()
                }),
            )
            .await?;
        let handle = match added {
            AddTorrentResponse::Added(_, h) | AddTorrentResponse::AlreadyManaged(_, h) => h,
            AddTorrentResponse::ListOnly(_) => anyhow::bail!("listed only"),
        };
        handle.wait_until_initialized().await?;
        let stats = handle.stats();
        if stats.progress_bytes != stats.total_bytes {
            let _ = self.session.delete(handle.info_hash().into(), false).await;
            anyhow::bail!(
                "the file does not match its torrent ({} of {} bytes verified)",
                stats.progress_bytes,
                stats.total_bytes
            );
        }
        self.session.unpause(&handle).await
    }

    /// Stops seeding (peers are dropped; saved bitfields stay for the next start).
    pub async fn stop(&self) {
        self.session.stop().await;
    }
}

/// The folder to give librqbit, after checking that the torrent describes `file` itself:
/// librqbit creates a missing file (and its folder) rather than failing, so only an existing
/// file of the right length under the torrent's name is ever handed over.
async fn seedable(torrent: &[u8], file: &SeedFile) -> Result<String> {
    let meta = librqbit::torrent_from_bytes(torrent).context("not a valid torrent")?;
    anyhow::ensure!(
        meta.info_hash.0 == file.info_hash,
        "torrent's infohash is not the expected one"
    );
    let info = &meta.info.data;
    let name = info
        .name
        .as_ref()
        .map(|n| String::from_utf8_lossy(n.as_ref()).into_owned())
        .context("torrent has no name")?;
    let length = info.length.context("not a single-file torrent")?;
    let expected_name = file.file.file_name().and_then(|n| n.to_str());
    anyhow::ensure!(
        expected_name == Some(name.as_str()),
        "torrent names {name:?}, not the file on disk"
    );
    let size = tokio::fs::metadata(&file.file)
        .await
        .with_context(|| format!("cannot stat {}", file.file.display()))?
        .len();
    anyhow::ensure!(size == length, "file has {size} bytes, torrent {length}");
    let dir = file.file.parent().unwrap_or(Path::new("."));
    dir.to_str()
        .map(str::to_owned)
        .context("file path is not UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn options(dir: &Path) -> SeederOptions {
        SeederOptions {
            state_dir: dir.join("seeding"),
            listen_port: 0,
            peer_limit: 10,
        }
    }

    /// A media file and its torrent, as the node writes them.
    fn media(dir: &Path, name: &str, size: usize) -> SeedFile {
        let media = dir.join("media");
        std::fs::create_dir_all(&media).unwrap();
        let file = media.join(name);
        let data: Vec<u8> = (0..size).map(|i| (i * 7 % 253) as u8).collect();
        std::fs::write(&file, data).unwrap();
        let t = peerbox_p2p::create_torrent(&peerbox_p2p::TorrentRequest {
            path: &file,
            name,
            trackers: &[],
            web_seeds: &[],
            creation_date: 0,
        })
        .unwrap();
        let torrent = dir.join(format!("{name}.torrent"));
        std::fs::write(&torrent, &t.metainfo).unwrap();
        SeedFile {
            info_hash: t.info_hash,
            torrent,
            file,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn seeds_in_place_resumes_without_rehash_and_forgets() {
        let dir = tempfile::tempdir().unwrap();
        let f = media(dir.path(), "a-720-fragmented.mp4", 3_000_000);
        let before = std::fs::read(&f.file).unwrap();
        let bitv = options(dir.path())
            .state_dir
            .join(format!("{}.bitv", hex::encode(f.info_hash)));

        let seeder = Seeder::start(options(dir.path())).await.unwrap();
        assert!(seeder.listen_port().is_some_and(|p| p != 0));
        let report = seeder.sync(vec![f.clone()]).await;
        assert_eq!(report.added, 1, "{report:?}");
        // Adding again is a no-op.
        assert_eq!(seeder.sync(vec![f.clone()]).await, SyncReport::default());
        let first_check = std::fs::metadata(&bitv).unwrap().ino();
        seeder.stop().await;

        // A restart reads the saved bitfield instead of hashing again (which would write a
        // new bitfield file).
        let seeder = Seeder::start(options(dir.path())).await.unwrap();
        assert_eq!(seeder.sync(vec![f.clone()]).await.added, 1);
        assert_eq!(std::fs::metadata(&bitv).unwrap().ino(), first_check);

        let report = seeder.sync(Vec::new()).await;
        assert_eq!(report.removed, 1, "{report:?}");
        assert_eq!(
            std::fs::read(&f.file).unwrap(),
            before,
            "the file is the node's"
        );
        assert!(!bitv.exists(), "a forgotten torrent leaves no state");
        seeder.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refuses_files_that_are_not_what_the_torrent_describes() {
        let dir = tempfile::tempdir().unwrap();
        let seeder = Seeder::start(options(dir.path())).await.unwrap();
        let good = media(dir.path(), "b-480-fragmented.mp4", 100_000);

        // Missing file: librqbit would create it empty; it must not get the chance.
        let mut missing = good.clone();
        missing.file = good.file.with_file_name("gone.mp4");
        // Same name, other bytes: verified and refused.
        let changed = media(dir.path(), "c-360-fragmented.mp4", 100_000);
        std::fs::write(&changed.file, vec![0u8; 100_000]).unwrap();
        // A torrent that is not the one recorded.
        let mut other_hash = good.clone();
        other_hash.info_hash = [1; 20];

        for bad in [missing, changed, other_hash] {
            assert_eq!(seeder.sync(vec![bad]).await.skipped, 1);
        }
        assert!(!good.file.with_file_name("gone.mp4").exists());
        seeder.stop().await;
    }
}
