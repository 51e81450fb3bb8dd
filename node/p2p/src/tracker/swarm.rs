//! Swarms and their peers, sharded by infohash so that announces to different videos do
//! not wait on one lock.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::Rng;
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

trait Seeding {
    fn seeder(&self) -> bool;
}

impl Seeding for WsPeer {
    fn seeder(&self) -> bool {
        self.seeder
    }
}

impl Seeding for HttpPeer {
    fn seeder(&self) -> bool {
        self.seeder
    }
}

/// Peers in a vector, found by id through an index: an announce picks the peers for its
/// offers from a random place in the vector, without walking a whole popular swarm, and
/// counts are kept as peers come and go.
struct Peers<P> {
    list: Vec<(PeerId, P)>,
    index: HashMap<PeerId, usize>,
    seeders: usize,
}

impl<P> Default for Peers<P> {
    fn default() -> Self {
        Peers {
            list: Vec::new(),
            index: HashMap::new(),
            seeders: 0,
        }
    }
}

impl<P: Seeding> Peers<P> {
    fn len(&self) -> usize {
        self.list.len()
    }

    fn get(&self, id: &PeerId) -> Option<&P> {
        self.index.get(id).map(|&i| &self.list[i].1)
    }

    fn contains(&self, id: &PeerId) -> bool {
        self.index.contains_key(id)
    }

    fn insert(&mut self, id: PeerId, peer: P) {
        self.seeders += usize::from(peer.seeder());
        match self.index.get(&id) {
            Some(&i) => {
                let old = std::mem::replace(&mut self.list[i].1, peer);
                self.seeders -= usize::from(old.seeder());
            }
            None => {
                self.index.insert(id, self.list.len());
                self.list.push((id, peer));
            }
        }
    }

    fn remove(&mut self, id: &PeerId) -> Option<P> {
        let i = self.index.remove(id)?;
        let (_, peer) = self.list.swap_remove(i);
        if let Some((moved, _)) = self.list.get(i) {
            self.index.insert(*moved, i);
        }
        self.seeders -= usize::from(peer.seeder());
        Some(peer)
    }

    fn retain(&mut self, keep: impl Fn(&P) -> bool) {
        self.list.retain(|(_, p)| keep(p));
        self.index = self
            .list
            .iter()
            .enumerate()
            .map(|(i, (id, _))| (*id, i))
            .collect();
        self.seeders = self.list.iter().filter(|(_, p)| p.seeder()).count();
    }

    /// Up to `n` peers that pass `wanted`, taken in order from a random starting place.
    fn pick(&self, n: usize, wanted: impl Fn(&PeerId, &P) -> bool) -> impl Iterator<Item = &P> {
        let start = match self.list.len() {
            0 => 0,
            len => rand::thread_rng().gen_range(0..len),
        };
        let (after, before) = self.list.split_at(start);
        before
            .iter()
            .chain(after)
            .filter(move |(id, p)| wanted(id, p))
            .map(|(_, p)| p)
            .take(n)
    }
}

#[derive(Default)]
struct Swarm {
    ws: Peers<WsPeer>,
    http: Peers<HttpPeer>,
    downloaded: u64,
}

impl Swarm {
    fn counts(&self) -> (usize, usize) {
        let seeders = self.ws.seeders + self.http.seeders;
        (seeders, self.len() - seeders)
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
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
    /// Another live connection (or, over HTTP, another address) holds this peer id: peer
    /// ids are relayed to everyone, so taking one over would divert its answers.
    PeerIdTaken,
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
    pub completed: bool,
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
        // A connection that ended (its queue is closed) no longer holds its peer ids: the
        // client may come back with the same one.
        let held_elsewhere = swarm
            .ws
            .get(&a.peer_id)
            .is_some_and(|p| p.connection != a.connection && !p.queue.is_closed());
        if held_elsewhere {
            return Err(Refusal::PeerIdTaken);
        }
        if a.stopped {
            swarm.ws.remove(&a.peer_id);
        } else {
            if !swarm.ws.contains(&a.peer_id) && swarm.len() >= max_peers {
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
            .pick(a.wanted, |id, p| {
                *id != a.peer_id && p.connection != a.connection
            })
            .map(|p| p.queue.clone())
            .collect();
        if swarm.is_empty() {
            shard.remove(&a.info_hash);
        }
        Ok(Joined {
            complete,
            incomplete,
            others,
        })
    }

    /// The queue of the peer an answer is for, if it is still in the swarm and the answer's
    /// sender does not pose as a peer that another live connection holds.
    pub fn answer_queue(
        &self,
        info_hash: &InfoHash,
        to: &PeerId,
        from: &PeerId,
        connection: u64,
    ) -> Option<mpsc::Sender<String>> {
        let shard = self.shard(info_hash);
        let swarm = shard.get(info_hash)?;
        let impostor = swarm
            .ws
            .get(from)
            .is_some_and(|p| p.connection != connection && !p.queue.is_closed());
        if impostor {
            return None;
        }
        swarm.ws.get(to).map(|p| p.queue.clone())
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
            completed,
            wanted,
        } = a;
        let exists = self.shard(&info_hash).contains_key(&info_hash);
        if !exists && !stopped && self.swarm_count() >= max_swarms {
            return Err(Refusal::TooManySwarms);
        }
        let mut shard = self.shard(&info_hash);
        let swarm = shard.entry(info_hash).or_default();
        if swarm
            .http
            .get(&peer_id)
            .is_some_and(|p| p.addr.ip() != addr.ip())
        {
            return Err(Refusal::PeerIdTaken);
        }
        if stopped {
            swarm.http.remove(&peer_id);
        } else {
            if !swarm.http.contains(&peer_id) && swarm.len() >= max_peers {
                return Err(Refusal::SwarmFull);
            }
            if completed {
                swarm.downloaded += 1;
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
            .pick(wanted, |id, _| *id != peer_id)
            .map(|p| p.addr)
            .collect();
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
                    .retain(|p| p.seen.elapsed() < timeout && !p.queue.is_closed());
                swarm.http.retain(|p| p.seen.elapsed() < timeout);
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

#[cfg(test)]
mod tests {
    use super::*;

    struct P(bool);

    impl Seeding for P {
        fn seeder(&self) -> bool {
            self.0
        }
    }

    #[test]
    fn peers_keep_their_index_and_counts_through_swaps() {
        let mut peers = Peers::<P>::default();
        for i in 0..5u8 {
            peers.insert([i; 20], P(i % 2 == 0));
        }
        assert_eq!((peers.len(), peers.seeders), (5, 3));
        // Removing the first moves the last into its place.
        assert!(peers.remove(&[0; 20]).is_some_and(|p| p.0));
        assert!(peers.remove(&[0; 20]).is_none());
        for i in 1..5u8 {
            assert_eq!(peers.get(&[i; 20]).map(|p| p.0), Some(i % 2 == 0), "{i}");
        }
        // Re-announcing as a seeder replaces, not adds.
        peers.insert([1; 20], P(true));
        assert_eq!((peers.len(), peers.seeders), (4, 3));
        peers.retain(|p| !p.0);
        assert_eq!((peers.len(), peers.seeders), (1, 0));
        assert!(peers.get(&[3; 20]).is_some());

        let mut many = Peers::<P>::default();
        for i in 0..50u8 {
            many.insert([i; 20], P(false));
        }
        let picked: std::collections::HashSet<_> = many
            .pick(10, |id, _| id[0] % 5 != 0)
            .map(|p| p as *const P)
            .collect();
        assert_eq!(picked.len(), 10, "ten distinct peers that pass the filter");
        assert_eq!(many.pick(100, |_, _| true).count(), 50);
    }
}
