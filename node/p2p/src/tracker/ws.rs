//! One WebSocket connection of the WebTorrent protocol.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::ws::{Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::Tracker;
use super::swarm::{InfoHash, PeerId, Refusal, WsAnnounce};
use super::wire::{self, Incoming, binary_id, binary_string};

/// Messages queued for a slow connection beyond this are dropped, not buffered.
const QUEUE: usize = 64;

static CONNECTIONS: AtomicU64 = AtomicU64::new(1);

struct Connection {
    id: u64,
    ip: IpAddr,
    queue: mpsc::Sender<String>,
    /// (swarm, peer id) pairs this connection announced, to leave them when it closes.
    joined: HashSet<(InfoHash, PeerId)>,
}

pub async fn serve(tracker: Arc<Tracker>, socket: WebSocket, ip: IpAddr) {
    let (mut sink, mut stream) = socket.split();
    let (queue, mut outgoing) = mpsc::channel::<String>(QUEUE);
    // Whatever is queued goes out in one flush: one TLS record and one write for a burst.
    let writer = tokio::spawn(async move {
        while let Some(text) = outgoing.recv().await {
            let mut sent = sink.feed(Message::Text(text.into())).await;
            while let (Ok(()), Ok(more)) = (&sent, outgoing.try_recv()) {
                sent = sink.feed(Message::Text(more.into())).await;
            }
            if sent.is_err() || sink.flush().await.is_err() {
                break;
            }
        }
    });
    let mut conn = Connection {
        id: CONNECTIONS.fetch_add(1, Ordering::Relaxed),
        ip,
        queue,
        joined: HashSet::new(),
    };
    while let Some(Ok(message)) = stream.next().await {
        match message {
            Message::Text(text) => match serde_json::from_str::<Incoming>(&text) {
                Ok(msg) => handle(&tracker, &mut conn, msg),
                Err(_) => send(&conn.queue, failure("announce", None, "invalid message")),
            },
            Message::Close(_) => break,
            // Pings are answered by the library; binary frames are not part of the protocol.
            _ => {}
        }
    }
    let joined: Vec<_> = conn.joined.drain().collect();
    tracker.swarms.leave(conn.id, &joined);
    drop(conn);
    let _ = writer.await;
}

fn send(queue: &mpsc::Sender<String>, message: Value) {
    send_text(queue, message.to_string());
}

fn send_text(queue: &mpsc::Sender<String>, text: String) {
    // A peer that does not read its messages loses them instead of growing our memory.
    let _ = queue.try_send(text);
}

fn failure(action: &str, info_hash: Option<&InfoHash>, reason: &str) -> Value {
    let mut v = json!({ "action": action, "failure reason": reason });
    if let Some(ih) = info_hash {
        v["info_hash"] = json!(binary_string(ih));
    }
    v
}

fn handle(tracker: &Tracker, conn: &mut Connection, msg: Incoming) {
    match &*msg.action {
        "announce" => announce(tracker, conn, msg),
        "scrape" => scrape(tracker, conn, msg),
        _ => send(&conn.queue, failure("announce", None, "unknown action")),
    }
}

fn announce(tracker: &Tracker, conn: &mut Connection, msg: Incoming) {
    let Some(info_hash) = msg.info_hash() else {
        return send(&conn.queue, failure("announce", None, "invalid info_hash"));
    };
    let Some(peer_id) = msg.peer_id.as_deref().and_then(binary_id) else {
        return send(
            &conn.queue,
            failure("announce", Some(&info_hash), "invalid peer_id"),
        );
    };
    if !(tracker.filter)(&info_hash) {
        return send(
            &conn.queue,
            failure("announce", Some(&info_hash), "unknown infohash"),
        );
    }
    if !tracker.limiter.allow(conn.ip) {
        return send(
            &conn.queue,
            failure("announce", Some(&info_hash), "too many announces"),
        );
    }

    // An answer goes to the peer whose offer it answers; the answerer gets no reply, nor
    // does one that poses as another connection's peer.
    if let Some(answer) = msg.answer {
        let (Some(to), Some(offer_id)) = (
            msg.to_peer_id.as_deref().and_then(binary_id),
            msg.offer_id.filter(|id| wire::is_json_string(id)),
        ) else {
            return send(
                &conn.queue,
                failure(
                    "announce",
                    Some(&info_hash),
                    "answer without to_peer_id or offer_id",
                ),
            );
        };
        if let Some(queue) = tracker
            .swarms
            .answer_queue(&info_hash, &to, &peer_id, conn.id)
        {
            let relayed = wire::relayed("answer", answer, offer_id, &peer_id, &info_hash);
            send_text(&queue, relayed);
        }
        return;
    }

    let seeder = msg.is_seeder();
    let offers: Vec<_> = msg
        .offers
        .unwrap_or_default()
        .into_iter()
        .filter(|o| wire::is_json_string(o.offer_id))
        .take(tracker.settings.max_offers)
        .collect();
    let wanted = offers
        .len()
        .min(msg.numwant.unwrap_or(offers.len() as u64) as usize);
    let stopped = msg.event.as_deref() == Some("stopped");
    let announce = WsAnnounce {
        info_hash,
        peer_id,
        connection: conn.id,
        queue: &conn.queue,
        seeder,
        stopped,
        completed: msg.event.as_deref() == Some("completed"),
        wanted,
    };
    let settings = &tracker.settings;
    let joined = match tracker.swarms.ws_announce(
        announce,
        settings.max_peers_per_swarm,
        settings.max_swarms,
    ) {
        Ok(j) => j,
        Err(Refusal::SwarmFull) => {
            return send(
                &conn.queue,
                failure("announce", Some(&info_hash), "swarm is full"),
            );
        }
        Err(Refusal::TooManySwarms) => {
            return send(
                &conn.queue,
                failure("announce", Some(&info_hash), "too many swarms"),
            );
        }
        Err(Refusal::PeerIdTaken) => {
            return send(
                &conn.queue,
                failure("announce", Some(&info_hash), "peer_id in use"),
            );
        }
    };
    if stopped {
        conn.joined.remove(&(info_hash, peer_id));
    } else {
        conn.joined.insert((info_hash, peer_id));
    }
    let reply = wire::announce_reply(
        &info_hash,
        settings.announce_interval.as_secs(),
        joined.complete,
        joined.incomplete,
    );
    send_text(&conn.queue, reply);
    for (queue, offer) in joined.others.iter().zip(offers) {
        let relayed = wire::relayed("offer", offer.offer, offer.offer_id, &peer_id, &info_hash);
        send_text(queue, relayed);
    }
}

/// Scrapes name their swarms (a private tracker lists none on its own), at most 255 of them.
fn scrape(tracker: &Tracker, conn: &mut Connection, msg: Incoming) {
    let mut files = serde_json::Map::new();
    for ih in msg.info_hashes().into_iter().take(255).flatten() {
        if !(tracker.filter)(&ih) {
            continue;
        }
        let (complete, incomplete, downloaded) = tracker.swarms.scrape(&ih);
        files.insert(
            binary_string(&ih),
            json!({ "complete": complete, "incomplete": incomplete, "downloaded": downloaded }),
        );
    }
    send(&conn.queue, json!({ "action": "scrape", "files": files }));
}
