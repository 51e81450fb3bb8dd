//! The tracker driven over real sockets: WebSocket clients speaking the WebTorrent protocol
//! and HTTP announces as BitTorrent clients send them.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use peerbox_p2p::tracker::{Tracker, TrackerSettings};
use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const KNOWN: [u8; 20] = [0xEC; 20];

fn binary(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

fn peer_id(n: u8) -> String {
    binary(&[
        b'-', b'P', b'B', n, 0xFF, 0x80, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, n,
    ])
}

async fn start(settings: TrackerSettings) -> (SocketAddr, Arc<Tracker>) {
    let tracker = Tracker::new(settings, Arc::new(|ih: &[u8; 20]| *ih == KNOWN));
    let app = tracker
        .router()
        .into_make_service_with_connect_info::<SocketAddr>();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (addr, tracker)
}

/// A WebSocket client connecting from `from` (another loopback address is another machine
/// for the tracker).
async fn connect_from(addr: SocketAddr, from: Ipv4Addr) -> Ws {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::new(IpAddr::V4(from), 0))
        .expect("bind");
    let stream = socket.connect(addr).await.expect("connect");
    let (ws, _) = tokio_tungstenite::client_async(
        format!("ws://{addr}/tracker/socket"),
        MaybeTlsStream::Plain(stream),
    )
    .await
    .expect("websocket handshake");
    ws
}

async fn connect(addr: SocketAddr) -> Ws {
    connect_from(addr, Ipv4Addr::LOCALHOST).await
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into()))
        .await
        .expect("send");
}

async fn recv(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a message within 5 s")
            .expect("open")
            .expect("ok");
        if let Message::Text(t) = msg {
            return serde_json::from_str(&t).expect("json");
        }
    }
}

async fn silent(ws: &mut Ws) -> bool {
    tokio::time::timeout(Duration::from_millis(300), ws.next())
        .await
        .is_err()
}

fn announce(id: &str, offers: usize) -> Value {
    let offers: Vec<Value> = (0..offers)
        .map(|i| json!({ "offer_id": binary(&[i as u8 + 1; 20]), "offer": { "type": "offer", "sdp": format!("v=0 offer {i}") } }))
        .collect();
    json!({
        "action": "announce", "info_hash": binary(&KNOWN), "peer_id": id,
        "numwant": offers.len(), "uploaded": 0, "downloaded": 0, "left": 100, "event": "started", "offers": offers,
    })
}

#[tokio::test]
async fn offers_and_answers_are_relayed_between_peers() {
    let (addr, tracker) = start(TrackerSettings::default()).await;
    let (mut a, mut b) = (connect(addr).await, connect(addr).await);
    send(&mut a, announce(&peer_id(1), 0)).await;
    let reply = recv(&mut a).await;
    assert_eq!(reply["action"], "announce");
    assert_eq!(
        reply["info_hash"],
        binary(&KNOWN),
        "info_hash comes back byte for byte"
    );
    assert_eq!(
        (reply["complete"].as_u64(), reply["incomplete"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(reply["interval"], 120);

    send(&mut b, announce(&peer_id(2), 3)).await;
    assert_eq!(recv(&mut b).await["incomplete"], 2);
    let offer = recv(&mut a).await;
    assert_eq!(offer["peer_id"], peer_id(2), "the offer names its sender");
    assert_eq!(offer["offer"]["sdp"], "v=0 offer 0");
    let offer_id = offer["offer_id"].clone();
    assert!(
        silent(&mut a).await,
        "one offer per selected peer, and A is the only other peer"
    );

    send(
        &mut a,
        json!({ "action": "announce", "info_hash": binary(&KNOWN), "peer_id": peer_id(1), "to_peer_id": peer_id(2),
                "offer_id": offer_id, "answer": { "type": "answer", "sdp": "v=0 answer" } }),
    )
    .await;
    let answer = recv(&mut b).await;
    assert_eq!(answer["answer"]["sdp"], "v=0 answer");
    assert_eq!(answer["peer_id"], peer_id(1));
    assert_eq!(answer["offer_id"], offer_id);
    assert!(silent(&mut a).await, "the answerer gets no reply");

    send(
        &mut a,
        json!({ "action": "scrape", "info_hash": [binary(&KNOWN)] }),
    )
    .await;
    let scrape = recv(&mut a).await;
    assert_eq!(scrape["files"][binary(&KNOWN)]["incomplete"], 2);

    // Closing a connection is an implicit "stopped".
    b.close(None).await.expect("close");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(tracker.stats().peers, 1);
    send(
        &mut a,
        json!({ "action": "scrape", "info_hash": binary(&KNOWN) }),
    )
    .await;
    assert_eq!(recv(&mut a).await["files"][binary(&KNOWN)]["incomplete"], 1);
}

#[tokio::test]
async fn bad_input_is_refused_without_disturbing_other_peers() {
    let (addr, tracker) = start(TrackerSettings {
        max_peers_per_swarm: 3,
        ..Default::default()
    })
    .await;
    let mut good = connect(addr).await;
    send(&mut good, announce(&peer_id(1), 0)).await;
    recv(&mut good).await;

    let mut bad = connect(addr).await;
    let unknown = json!({ "action": "announce", "info_hash": binary(&[1; 20]), "peer_id": peer_id(9), "offers": [] });
    send(&mut bad, unknown).await;
    assert_eq!(recv(&mut bad).await["failure reason"], "unknown infohash");
    for garbage in [
        json!("not an object"),
        json!({ "action": "announce", "info_hash": "short", "peer_id": peer_id(9) }),
        json!({ "action": "announce", "info_hash": "€".repeat(20), "peer_id": peer_id(9) }),
        json!({ "action": "announce", "info_hash": binary(&KNOWN), "peer_id": 42 }),
        json!({ "action": "announce", "info_hash": binary(&KNOWN), "peer_id": peer_id(9), "answer": {"sdp": "x"} }),
        json!({ "action": "dance" }),
    ] {
        send(&mut bad, garbage.clone()).await;
        assert!(
            recv(&mut bad).await["failure reason"].is_string(),
            "{garbage}"
        );
    }
    // An answer for a peer that left is dropped quietly.
    send(
        &mut bad,
        json!({ "action": "announce", "info_hash": binary(&KNOWN), "peer_id": peer_id(9), "to_peer_id": peer_id(77),
                "offer_id": binary(&[5; 20]), "answer": { "type": "answer", "sdp": "late" } }),
    )
    .await;
    assert!(silent(&mut bad).await);
    bad.send(Message::Binary(vec![0u8; 100].into()))
        .await
        .expect("binary frame");
    // A frame over the size limit ends that connection only.
    let _ = bad.send(Message::Text("x".repeat(200_000).into())).await;
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match bad.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                _ => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "an oversized frame closes the connection");

    // A full swarm refuses newcomers; members stay.
    let (mut p2, mut p3, mut p4) = (
        connect(addr).await,
        connect(addr).await,
        connect(addr).await,
    );
    send(&mut p2, announce(&peer_id(2), 0)).await;
    recv(&mut p2).await;
    send(&mut p3, announce(&peer_id(3), 0)).await;
    recv(&mut p3).await;
    send(&mut p4, announce(&peer_id(4), 0)).await;
    assert_eq!(recv(&mut p4).await["failure reason"], "swarm is full");
    assert_eq!(tracker.stats().peers, 3);

    // The first peer still gets offers.
    send(&mut p2, announce(&peer_id(2), 2)).await;
    recv(&mut p2).await;
    assert_eq!(recv(&mut good).await["peer_id"], peer_id(2));
}

#[tokio::test]
async fn an_announce_flood_from_one_address_is_cut_off_alone() {
    let (addr, _) = start(TrackerSettings {
        announces_per_ip_per_minute: 20,
        ..Default::default()
    })
    .await;
    let mut flooder = connect_from(addr, Ipv4Addr::new(127, 0, 0, 2)).await;
    let mut refused = 0;
    for _ in 0..40 {
        send(&mut flooder, announce(&peer_id(5), 0)).await;
        if recv(&mut flooder).await["failure reason"] == "too many announces" {
            refused += 1;
        }
    }
    assert_eq!(refused, 20);
    let mut other = connect_from(addr, Ipv4Addr::new(127, 0, 0, 3)).await;
    send(&mut other, announce(&peer_id(6), 0)).await;
    assert!(recv(&mut other).await.get("failure reason").is_none());
}

fn encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("%{b:02X}")).collect()
}

#[tokio::test]
async fn http_announce_gives_compact_peers_and_refuses_garbage() {
    let (addr, _) = start(TrackerSettings::default()).await;
    let http = reqwest::Client::new();
    let get = |query: String| {
        let http = http.clone();
        async move {
            http.get(format!("http://{addr}/tracker/announce?{query}"))
                .send()
                .await
                .expect("get")
                .bytes()
                .await
                .expect("body")
        }
    };
    let q = |peer: u8, port: u16| {
        format!(
            "info_hash={}&peer_id={}&port={port}&uploaded=0&downloaded=0&left=0&compact=1",
            encode(&KNOWN),
            encode(&[peer; 20])
        )
    };
    get(q(1, 6881)).await;
    let body = get(q(2, 6882)).await;
    // One other peer, 127.0.0.1:6881, as 6 compact bytes.
    let expected: &[u8] = b"5:peers6:\x7f\x00\x00\x01\x1a\xe1";
    assert!(
        body.windows(expected.len()).any(|w| w == expected),
        "{body:?}"
    );
    assert!(body.windows(11).any(|w| w == b"8:completei"), "{body:?}");

    for bad in [
        "info_hash=short&peer_id=x&port=1".to_string(),
        format!(
            "info_hash={}&peer_id={}&port=0",
            encode(&KNOWN),
            encode(&[3; 20])
        ),
        format!(
            "info_hash={}&peer_id={}&port=6881",
            encode(&[9; 20]),
            encode(&[3; 20])
        ),
        "%%%&&==".to_string(),
    ] {
        let body = get(bad.clone()).await;
        assert!(body.starts_with(b"d14:failure reason"), "{bad}: {body:?}");
    }
    let scrape = http
        .get(format!(
            "http://{addr}/tracker/scrape?info_hash={}",
            encode(&KNOWN)
        ))
        .send()
        .await
        .expect("scrape");
    let body = scrape.bytes().await.expect("body");
    assert!(body.windows(11).any(|w| w == b"completei2e"), "{body:?}");
}

#[tokio::test]
async fn a_peer_id_belongs_to_the_connection_that_announced_it() {
    let (addr, tracker) = start(TrackerSettings::default()).await;
    let (mut owner, mut other) = (connect(addr).await, connect(addr).await);
    send(&mut owner, announce(&peer_id(7), 0)).await;
    assert!(recv(&mut owner).await.get("failure reason").is_none());

    // Another connection can neither take the id over (and with it the answers meant for
    // its owner) nor stop it.
    send(&mut other, announce(&peer_id(7), 0)).await;
    assert_eq!(recv(&mut other).await["failure reason"], "peer_id in use");
    let mut stop = announce(&peer_id(7), 0);
    stop["event"] = json!("stopped");
    send(&mut other, stop).await;
    assert_eq!(recv(&mut other).await["failure reason"], "peer_id in use");
    assert_eq!(tracker.stats().peers, 1);
    send(&mut other, announce(&peer_id(8), 1)).await;
    recv(&mut other).await;
    assert_eq!(
        recv(&mut owner).await["peer_id"],
        peer_id(8),
        "the owner still gets offers"
    );

    // Nor can it answer in the owner's name: the offerer gets nothing.
    let mut offerer = connect(addr).await;
    send(&mut offerer, announce(&peer_id(9), 0)).await;
    recv(&mut offerer).await;
    send(
        &mut other,
        json!({ "action": "announce", "info_hash": binary(&KNOWN), "peer_id": peer_id(7), "to_peer_id": peer_id(9),
                "offer_id": binary(&[5; 20]), "answer": { "type": "answer", "sdp": "forged" } }),
    )
    .await;
    assert!(silent(&mut offerer).await, "a forged answer is not relayed");

    // Once the owner's connection is gone, the id is free again (a client reconnecting).
    owner.close(None).await.expect("close");
    tokio::time::sleep(Duration::from_millis(200)).await;
    send(&mut other, announce(&peer_id(7), 0)).await;
    assert!(recv(&mut other).await.get("failure reason").is_none());
}
