//! Swarms and their peers, sharded by infohash so that announces to different videos do
//! not wait on one lock.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::seq::IteratorRandom;
use tokio::sync::mpsc;

pub type InfoHash = [u8; 20];
pub type PeerId = [u8; 20];

const SHARDS: usize = 16;

/// A WebSocket peer: messages for it go to its connection's queue.
struct WsPeer {
    connection: u64,
    queue: mpsc::Sender<String>,
    seeder: bool,
    seen: Instant,
}

/// A classic BitTorrent client, reachable at the address it announced from.
struct HttpPeer {
    addr: SocketAddr,
    seeder: bool,
    seen: Instant,
}

#[derive(Default)]
struct Swarm {
    ws: HashMap<PeerId, WsPeer>,
    http: HashMap<PeerId, HttpPeer>,
    downloaded: u64,
}

impl Swarm {
    fn counts(&self) -> (usize, usize) {
        let seeders = self.ws.values().filter(|p| p.seeder).count()
            + self.http.values().filter(|p| p.seeder).count();
        (seeders, self.ws.len() + self.http.len() - seeders)
    }

    fn is_empty(&self) -> bool {
        self.ws.is_empty() && self.http.is_empty()
    }

    fn len(&self) -> usize {
        self.ws.len() + self.http.len()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrackerStats {
    pub swarms: usize,
    pub peers: usize,
}

/// Why an announce was not taken.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    SwarmFull,
    TooManySwarms,
}

pub struct Joined {
    pub complete: usize,
    pub incomplete: usize,
    /// Queues of other peers to send this peer's offers to.
    pub others: Vec<mpsc::Sender<String>>,
}

pub struct WsAnnounce<'a> {
    pub info_hash: InfoHash,
    pub peer_id: PeerId,
    pub connection: u64,
    pub queue: &'a mpsc::Sender<String>,
    pub seeder: bool,
    pub stopped: bool,
    pub completed: bool,
    pub wanted: usize,
}

pub struct HttpAnnounce {
    pub info_hash: InfoHash,
    pub peer_id: PeerId,
    pub addr: SocketAddr,
    pub seeder: bool,
    pub stopped: bool,
    pub wanted: usize,
}

pub struct Swarms {
    shards: Vec<Mutex<HashMap<InfoHash, Swarm>>>,
}

impl Default for Swarms {
    fn default() -> Self {
        Swarms {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }
}

impl Swarms {
    fn shard(&self, ih: &InfoHash) -> std::sync::MutexGuard<'_, HashMap<InfoHash, Swarm>> {
        self.shards[ih[0] as usize % SHARDS]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn swarm_count(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).len())
            .sum()
    }

    /// Records a WebSocket announce and picks up to `wanted` other peers for its offers.
    pub fn ws_announce(
        &self,
        a: WsAnnounce,
        max_peers: usize,
        max_swarms: usize,
    ) -> Result<Joined, Refusal> {
        // Counting swarms takes every shard's lock: only do it when a swarm would be created.
        let exists = self.shard(&a.info_hash).contains_key(&a.info_hash);
        if !exists && !a.stopped && self.swarm_count() >= max_swarms {
            return Err(Refusal::TooManySwarms);
        }
        let mut shard = self.shard(&a.info_hash);
        let swarm = shard.entry(a.info_hash).or_default();
        if a.stopped {
            swarm.ws.remove(&a.peer_id);
        } else {
            if !swarm.ws.contains_key(&a.peer_id) && swarm.len() >= max_peers {
                return Err(Refusal::SwarmFull);
            }
            if a.completed {
                swarm.downloaded += 1;
            }
            swarm.ws.insert(
                a.peer_id,
                WsPeer {
                    connection: a.connection,
                    queue: a.queue.clone(),
                    seeder: a.seeder,
                    seen: Instant::now(),
                },
            );
        }
        let (complete, incomplete) = swarm.counts();
        let others = swarm
            .ws
            .iter()
            .filter(|(id, p)| **id != a.peer_id && p.connection != a.connection)
            .map(|(_, p)| p.queue.clone())
            .choose_multiple(&mut rand::thread_rng(), a.wanted);
        if swarm.is_empty() {
            shard.remove(&a.info_hash);
        }
        Ok(Joined {
            complete,
            incomplete,
            others,
        })
    }

    /// The queue of the peer an answer is for, if it is still in the swarm.
    pub fn peer_queue(
        &self,
        info_hash: &InfoHash,
        peer_id: &PeerId,
    ) -> Option<mpsc::Sender<String>> {
        self.shard(info_hash)
            .get(info_hash)?
            .ws
            .get(peer_id)
            .map(|p| p.queue.clone())
    }

    /// A connection closed: its peers leave their swarms (an implicit "stopped").
    pub fn leave(&self, connection: u64, joined: &[(InfoHash, PeerId)]) {
        for (ih, peer) in joined {
            let mut shard = self.shard(ih);
            if let Some(swarm) = shard.get_mut(ih) {
                if swarm
                    .ws
                    .get(peer)
                    .is_some_and(|p| p.connection == connection)
                {
                    swarm.ws.remove(peer);
                }
                if swarm.is_empty() {
                    shard.remove(ih);
                }
            }
        }
    }

    /// Records an HTTP announce and returns the counts and up to `wanted` peer addresses.
    pub fn http_announce(
        &self,
        a: HttpAnnounce,
        (max_peers, max_swarms): (usize, usize),
    ) -> Result<(usize, usize, Vec<SocketAddr>), Refusal> {
        let HttpAnnounce {
            info_hash,
            peer_id,
            addr,
            seeder,
            stopped,
            wanted,
        } = a;
        let exists = self.shard(&info_hash).contains_key(&info_hash);
        if !exists && !stopped && self.swarm_count() >= max_swarms {
            return Err(Refusal::TooManySwarms);
        }
        let mut shard = self.shard(&info_hash);
        let swarm = shard.entry(info_hash).or_default();
        if stopped {
            swarm.http.remove(&peer_id);
        } else {
            if !swarm.http.contains_key(&peer_id) && swarm.len() >= max_peers {
                return Err(Refusal::SwarmFull);
            }
            swarm.http.insert(
                peer_id,
                HttpPeer {
                    addr,
                    seeder,
                    seen: Instant::now(),
                },
            );
        }
        let (complete, incomplete) = swarm.counts();
        let peers = swarm
            .http
            .iter()
            .filter(|(id, _)| **id != peer_id)
            .map(|(_, p)| p.addr)
            .choose_multiple(&mut rand::thread_rng(), wanted);
        if swarm.is_empty() {
            shard.remove(&info_hash);
        }
        Ok((complete, incomplete, peers))
    }

    /// (complete, incomplete, downloaded) of a swarm; zeros for an unknown one.
    pub fn scrape(&self, info_hash: &InfoHash) -> (usize, usize, u64) {
        match self.shard(info_hash).get(info_hash) {
            Some(s) => {
                let (c, i) = s.counts();
                (c, i, s.downloaded)
            }
            None => (0, 0, 0),
        }
    }

    pub fn expire(&self, timeout: Duration) {
        for shard in &self.shards {
            let mut shard = shard.lock().unwrap_or_else(|p| p.into_inner());
            for swarm in shard.values_mut() {
                swarm
                    .ws
                    .retain(|_, p| p.seen.elapsed() < timeout && !p.queue.is_closed());
                swarm.http.retain(|_, p| p.seen.elapsed() < timeout);
            }
            shard.retain(|_, s| !s.is_empty());
        }
    }

    pub fn stats(&self) -> TrackerStats {
        let mut stats = TrackerStats::default();
        for shard in &self.shards {
            let shard = shard.lock().unwrap_or_else(|p| p.into_inner());
            stats.swarms += shard.len();
            stats.peers += shard.values().map(Swarm::len).sum::<usize>();
        }
        stats
    }
}
