//! The delivery worker: sends the activities queued in the catalog to their inboxes, a few
//! at a time and at most two at once per host, retrying with exponential backoff.
//!
//! Delivery is at least once: a row leaves the queue only when its inbox accepted it or it
//! was given up, so one that was being sent when the process stopped is sent again after
//! the restart (receivers ignore an activity id they have seen).

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use peerbox_catalog::{ActorRef, Catalog, Delivery};
use tokio::sync::Notify;
use tokio::task::{JoinError, JoinSet};

use crate::client::FederationClient;
use crate::signatures::Signer;

/// The key a queued delivery is signed with; `None` when the actor has none (anymore).
pub type Signers = Arc<dyn Fn(&ActorRef) -> Option<Arc<Signer>> + Send + Sync>;

/// Deliveries in flight at once.
pub const CONCURRENCY: usize = 8;
/// Deliveries in flight at once to one host, so that a burst does not look like an attack.
pub const PER_HOST: usize = 2;
/// Due rows read at a time beyond those in flight: enough to find work for idle slots when
/// the head of the queue is waiting on a busy host.
const WINDOW: usize = 256;
/// The pause before looking again after the catalog failed.
const RETRY_PAUSE: Duration = Duration::from_secs(1);
/// How long a delivery whose outcome could not be written keeps its slot.
const QUEUE_ERROR_PAUSE: Duration = Duration::from_secs(10);

/// When failed deliveries are tried again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    /// The pause after the first failure; it doubles with each further failure.
    pub first: Duration,
    pub cap: Duration,
    /// No attempt is made later than this after the first one.
    pub give_up_after: Duration,
}

impl Default for Backoff {
    /// 30 s, 1 min, 2 min, … then hourly, for two days: a server that is down for a day
    /// (the issue asks for at least 24 hours) still gets what it missed.
    fn default() -> Backoff {
        Backoff {
            first: Duration::from_secs(30),
            cap: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(48 * 3600),
        }
    }
}

impl Backoff {
    /// When to try again after the `failures`-th failed attempt (1 for the first), or
    /// `None` when that would be past the deadline counted from the first attempt.
    pub fn next_attempt(
        &self,
        failures: u32,
        first_tried_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let doublings = failures.saturating_sub(1).min(31);
        let pause = self
            .first
            .checked_mul(1 << doublings)
            .unwrap_or(self.cap)
            .min(self.cap);
        let next = now + chrono::Duration::from_std(pause).ok()?;
        let deadline = first_tried_at + chrono::Duration::from_std(self.give_up_after).ok()?;
        (next <= deadline).then_some(next)
    }
}

/// Sends the catalog's delivery queue; see [`Deliverer::run`].
pub struct Deliverer {
    catalog: Arc<Catalog>,
    client: Arc<FederationClient>,
    signers: Signers,
    backoff: Backoff,
    wake: Notify,
}

impl Deliverer {
    pub fn new(
        catalog: Arc<Catalog>,
        client: Arc<FederationClient>,
        signers: Signers,
    ) -> Deliverer {
        Deliverer {
            catalog,
            client,
            signers,
            backoff: Backoff::default(),
            wake: Notify::new(),
        }
    }

    pub fn with_backoff(mut self, backoff: Backoff) -> Deliverer {
        self.backoff = backoff;
        self
    }

    /// Tells the worker that deliveries were queued; call it after `enqueue_deliveries`.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Sends due deliveries until `stop` completes, sleeping until the next one falls due
    /// or [`Deliverer::wake`] is called. Deliveries in flight at the stop are abandoned and
    /// stay queued. Run one worker per catalog: two would send the same rows.
    pub async fn run(self: Arc<Self>, stop: impl Future<Output = ()>) {
        let mut stop = pin!(stop);
        let mut tasks = JoinSet::new();
        let mut running = Running::default();
        loop {
            let now = Utc::now();
            let dispatched = self.dispatch(&mut tasks, &mut running, now).await;
            let next = match dispatched {
                Ok(()) => self.next_due().await,
                Err(()) => Err(()),
            };
            let pause = match next {
                Err(()) => Some(RETRY_PAUSE),
                Ok(None) => None,
                Ok(Some(at)) if at > now => Some((at - now).to_std().unwrap_or(RETRY_PAUSE)),
                // Due already: in flight, or waiting for a slot a running delivery frees.
                Ok(Some(_)) if !tasks.is_empty() => None,
                Ok(Some(_)) => Some(RETRY_PAUSE),
            };
            tokio::select! {
                () = &mut stop => break,
                () = self.wake.notified() => {}
                Some(done) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                    running.finish(done);
                }
                () = tokio::time::sleep(pause.unwrap_or_default()), if pause.is_some() => {}
            }
        }
        tasks.shutdown().await;
    }

    /// Starts due deliveries while there are free slots.
    async fn dispatch(
        self: &Arc<Self>,
        tasks: &mut JoinSet<()>,
        running: &mut Running,
        now: DateTime<Utc>,
    ) -> Result<(), ()> {
        if tasks.len() >= CONCURRENCY {
            return Ok(());
        }
        let limit = running.ids.len() + WINDOW;
        let due = self
            .blocking(move |c| c.due_deliveries(now, limit))
            .await
            .map_err(|e| tracing::warn!(error = %e, "cannot read the delivery queue"))?;
        for delivery in due {
            if tasks.len() >= CONCURRENCY {
                break;
            }
            let host = inbox_host(&delivery.inbox);
            if running.ids.contains(&delivery.id) || running.on_host(&host) >= PER_HOST {
                continue;
            }
            let id = delivery.id;
            let task = tasks.spawn(self.clone().deliver(delivery));
            running.start(task.id(), id, host);
        }
        Ok(())
    }

    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, ()> {
        self.blocking(Catalog::next_delivery_at)
            .await
            .map_err(|e| tracing::warn!(error = %e, "cannot read the delivery queue"))
    }

    /// One attempt, and its outcome written to the queue.
    async fn deliver(self: Arc<Self>, delivery: Delivery) {
        let started = Utc::now();
        let result = match (self.signers)(&delivery.signer) {
            Some(signer) => self
                .client
                .post_activity(&delivery.inbox, &signer, &delivery.body)
                .await
                .map_err(|e| (e.to_string(), e.is_retryable())),
            None => Err((format!("no key to sign as {:?}", delivery.signer), false)),
        };
        let id = delivery.id;
        let stored = match result {
            Ok(()) => {
                tracing::debug!(id, inbox = %delivery.inbox, "activity delivered");
                self.blocking(move |c| c.delivery_done(id)).await
            }
            Err((error, retryable)) => {
                let failures = delivery.attempts + 1;
                let first = delivery.first_tried_at.unwrap_or(started);
                let retry_at = retryable
                    .then(|| self.backoff.next_attempt(failures, first, Utc::now()))
                    .flatten();
                match retry_at {
                    Some(at) => tracing::debug!(
                        id, inbox = %delivery.inbox, %error, retry_at = %at,
                        "delivery failed, will retry"
                    ),
                    None => tracing::warn!(
                        id, inbox = %delivery.inbox, attempts = failures, %error,
                        "delivery given up"
                    ),
                }
                self.blocking(move |c| c.delivery_failed(id, &error, retry_at))
                    .await
            }
        };
        if let Err(e) = stored {
            tracing::warn!(id, error = %e, "cannot update the delivery queue");
            // The row is still due: keeping its slot a while stops it from being sent
            // again and again while the catalog cannot be written.
            tokio::time::sleep(QUEUE_ERROR_PAUSE).await;
        }
    }

    /// Runs a catalog call off the async threads (a write waits for the disk).
    async fn blocking<T: Send + 'static>(
        &self,
        call: impl FnOnce(&Catalog) -> peerbox_catalog::Result<T> + Send + 'static,
    ) -> Result<T, String> {
        let catalog = self.catalog.clone();
        match tokio::task::spawn_blocking(move || call(&catalog)).await {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// What is in flight, by delivery id, by host and by task.
#[derive(Default)]
struct Running {
    ids: HashSet<u64>,
    per_host: HashMap<String, usize>,
    tasks: HashMap<tokio::task::Id, (u64, String)>,
}

impl Running {
    fn on_host(&self, host: &str) -> usize {
        self.per_host.get(host).copied().unwrap_or(0)
    }

    fn start(&mut self, task: tokio::task::Id, id: u64, host: String) {
        self.ids.insert(id);
        *self.per_host.entry(host.clone()).or_default() += 1;
        self.tasks.insert(task, (id, host));
    }

    /// Frees the slot of a finished task, whether it returned or panicked.
    fn finish(&mut self, done: Result<(tokio::task::Id, ()), JoinError>) {
        let task = match &done {
            Ok((task, ())) => *task,
            Err(e) => {
                tracing::warn!(error = %e, "a delivery task failed");
                e.id()
            }
        };
        let Some((id, host)) = self.tasks.remove(&task) else {
            return;
        };
        self.ids.remove(&id);
        if let Some(count) = self.per_host.get_mut(&host) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.per_host.remove(&host);
            }
        }
    }
}

/// The host an inbox is on (its whole text when it is not a URL: the client refuses it).
fn inbox_host(inbox: &str) -> String {
    reqwest::Url::parse(inbox)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .unwrap_or_else(|| inbox.to_string())
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    use axum::Router;
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{HeaderMap, Method, StatusCode, Uri};
    use axum::routing::post;
    use tokio::sync::oneshot;

    use super::*;
    use crate::client::test_support::{TestKeys, TestServer, serve, signer};
    use crate::signatures::{IncomingRequest, verify_request};

    const INSTANCE: &str = "https://box.example/accounts/peertube";

    /// An inbox that answers with the queued statuses, then 202; it records what it accepted
    /// (with the verified signer) and how many requests it had at once.
    #[derive(Default)]
    struct Inbox {
        answers: Mutex<VecDeque<StatusCode>>,
        delay: Duration,
        hits: Mutex<Vec<Instant>>,
        accepted: Mutex<Vec<(String, Bytes)>>,
        now_serving: AtomicUsize,
        most_at_once: AtomicUsize,
    }

    impl Inbox {
        fn answering(answers: &[StatusCode]) -> Arc<Inbox> {
            Arc::new(Inbox {
                answers: Mutex::new(answers.iter().copied().collect()),
                ..Inbox::default()
            })
        }

        fn hits(&self) -> usize {
            self.hits.lock().map(|h| h.len()).unwrap_or_default()
        }

        fn accepted(&self) -> Vec<(String, Bytes)> {
            self.accepted.lock().map(|a| a.clone()).unwrap_or_default()
        }
    }

    async fn receive(
        State(inbox): State<Arc<Inbox>>,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> StatusCode {
        if let Ok(mut hits) = inbox.hits.lock() {
            hits.push(Instant::now());
        }
        let serving = inbox.now_serving.fetch_add(1, Ordering::SeqCst) + 1;
        inbox.most_at_once.fetch_max(serving, Ordering::SeqCst);
        tokio::time::sleep(inbox.delay).await;
        inbox.now_serving.fetch_sub(1, Ordering::SeqCst);
        let req = IncomingRequest {
            method: method.as_str(),
            target: uri.path(),
            headers: &headers,
            body: &body,
        };
        let Ok(verified) = verify_request(&req, &TestKeys, Utc::now()).await else {
            return StatusCode::UNAUTHORIZED;
        };
        let answer = inbox
            .answers
            .lock()
            .ok()
            .and_then(|mut a| a.pop_front())
            .unwrap_or(StatusCode::ACCEPTED);
        if answer.is_success()
            && let Ok(mut accepted) = inbox.accepted.lock()
        {
            accepted.push((verified.owner, body));
        }
        answer
    }

    async fn inbox_server(inbox: &Arc<Inbox>) -> TestServer {
        serve(
            Router::new()
                .route("/inbox", post(receive))
                .with_state(inbox.clone()),
        )
        .await
    }

    fn fast() -> Backoff {
        Backoff {
            first: Duration::from_millis(50),
            cap: Duration::from_millis(200),
            give_up_after: Duration::from_secs(30),
        }
    }

    fn deliverer(catalog: &Arc<Catalog>, server: &TestServer) -> Arc<Deliverer> {
        let instance = Arc::new(signer(INSTANCE));
        let signers: Signers =
            Arc::new(move |actor| matches!(actor, ActorRef::Instance).then(|| instance.clone()));
        let client = Arc::new(server.client());
        Arc::new(Deliverer::new(catalog.clone(), client, signers).with_backoff(fast()))
    }

    /// A running worker and the means to stop it.
    struct Worker {
        stop: oneshot::Sender<()>,
        task: tokio::task::JoinHandle<()>,
    }

    fn start(deliverer: &Arc<Deliverer>) -> Worker {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(deliverer.clone().run(async {
            let _ = stopped.await;
        }));
        Worker { stop, task }
    }

    impl Worker {
        async fn stop(self) {
            let _ = self.stop.send(());
            self.task.await.expect("worker");
        }
    }

    async fn until(what: &str, check: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !check() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn open(dir: &tempfile::TempDir) -> Arc<Catalog> {
        Arc::new(Catalog::open(&dir.path().join("catalog.redb")).expect("catalog"))
    }

    fn pending(catalog: &Catalog) -> usize {
        catalog.pending_deliveries().expect("queue")
    }

    fn queued(catalog: &Catalog) -> Vec<Delivery> {
        let later = Utc::now() + chrono::Duration::days(7);
        catalog.due_deliveries(later, 100).expect("queue")
    }

    fn activity(n: u32) -> Vec<u8> {
        format!(r#"{{"type":"Create","id":"https://box.example/videos/watch/{n}/activity"}}"#)
            .into_bytes()
    }

    #[test]
    fn the_backoff_doubles_to_its_cap_and_stops_after_the_deadline() {
        let backoff = Backoff::default();
        let now = Utc::now();
        let pause = |failures| {
            backoff
                .next_attempt(failures, now, now)
                .map(|at| (at - now).num_seconds())
        };
        assert_eq!(pause(1), Some(30));
        assert_eq!(pause(2), Some(60));
        assert_eq!(pause(3), Some(120));
        assert_eq!(pause(7), Some(1920));
        assert_eq!(pause(8), Some(3600));
        assert_eq!(pause(500), Some(3600));
        let first = now - chrono::Duration::hours(47) - chrono::Duration::minutes(50);
        assert!(backoff.next_attempt(1, first, now).is_some());
        assert_eq!(backoff.next_attempt(20, first, now), None);
        let first = now - chrono::Duration::hours(48);
        assert_eq!(backoff.next_attempt(1, first, now), None);
    }

    #[tokio::test]
    async fn failures_are_retried_until_the_inbox_accepts_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let catalog = open(&dir);
        let inbox = Inbox::answering(&[
            StatusCode::SERVICE_UNAVAILABLE,
            StatusCode::TOO_MANY_REQUESTS,
        ]);
        let server = inbox_server(&inbox).await;
        let deliverer = deliverer(&catalog, &server);
        let worker = start(&deliverer);
        catalog
            .enqueue_deliveries(&[(server.url("/inbox"), ActorRef::Instance, activity(1))])
            .expect("enqueue");
        deliverer.wake();
        until("the delivery", || pending(&catalog) == 0).await;
        // Nothing more arrives later.
        tokio::time::sleep(Duration::from_millis(400)).await;
        worker.stop().await;
        assert_eq!(
            inbox.accepted(),
            vec![(INSTANCE.to_string(), Bytes::from(activity(1)))]
        );
        let hits = inbox.hits.lock().expect("hits").clone();
        assert_eq!(hits.len(), 3, "two failures, then the success");
        assert!(hits[1] - hits[0] >= Duration::from_millis(50), "{hits:?}");
        assert!(
            hits[2] - hits[1] >= Duration::from_millis(100),
            "doubled: {hits:?}"
        );
    }

    #[tokio::test]
    async fn refusals_and_unsignable_deliveries_are_given_up_at_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let catalog = open(&dir);
        let inbox = Inbox::answering(&[StatusCode::BAD_REQUEST]);
        let server = inbox_server(&inbox).await;
        let deliverer = deliverer(&catalog, &server);
        let worker = start(&deliverer);
        catalog
            .enqueue_deliveries(&[
                (server.url("/inbox"), ActorRef::Instance, activity(1)),
                // Nobody can sign as a remote actor.
                (
                    server.url("/inbox"),
                    ActorRef::Remote("https://elsewhere.example/accounts/x".into()),
                    activity(2),
                ),
            ])
            .expect("enqueue");
        deliverer.wake();
        until("both given up", || pending(&catalog) == 0).await;
        tokio::time::sleep(Duration::from_millis(400)).await;
        worker.stop().await;
        assert_eq!(
            inbox.hits(),
            1,
            "the refused one was sent once, the other never"
        );
        assert!(inbox.accepted().is_empty());
    }

    #[tokio::test]
    async fn queued_deliveries_survive_a_restart() {
        let dir = tempfile::tempdir().expect("temp dir");
        let inbox = Inbox::answering(&[StatusCode::BAD_GATEWAY]);
        let server = inbox_server(&inbox).await;
        {
            let catalog = open(&dir);
            let deliverer = deliverer(&catalog, &server);
            let worker = start(&deliverer);
            catalog
                .enqueue_deliveries(&[(server.url("/inbox"), ActorRef::Instance, activity(1))])
                .expect("enqueue");
            deliverer.wake();
            until("the first attempt", || {
                queued(&catalog).first().is_some_and(|d| d.attempts == 1)
            })
            .await;
            worker.stop().await;
            // Queued while no worker runs.
            catalog
                .enqueue_deliveries(&[(server.url("/inbox"), ActorRef::Instance, activity(2))])
                .expect("enqueue");
        }
        let catalog = open(&dir);
        let rows = queued(&catalog);
        assert_eq!(rows.len(), 2);
        let tried = rows
            .iter()
            .find(|d| d.body == activity(1))
            .expect("the first delivery");
        assert_eq!(
            tried.last_error.as_deref(),
            Some("the server answered HTTP 502")
        );
        assert!(tried.first_tried_at.is_some());
        let deliverer = deliverer(&catalog, &server);
        let worker = start(&deliverer);
        until("both delivered", || pending(&catalog) == 0).await;
        worker.stop().await;
        let mut bodies: Vec<Bytes> = inbox.accepted().into_iter().map(|(_, b)| b).collect();
        bodies.sort();
        assert_eq!(
            bodies,
            vec![Bytes::from(activity(1)), Bytes::from(activity(2))]
        );
        assert_eq!(inbox.hits(), 3);
    }

    #[tokio::test]
    async fn one_host_gets_two_deliveries_at_a_time() {
        let dir = tempfile::tempdir().expect("temp dir");
        let catalog = open(&dir);
        let inbox = Arc::new(Inbox {
            delay: Duration::from_millis(150),
            ..Inbox::default()
        });
        let server = inbox_server(&inbox).await;
        let deliverer = deliverer(&catalog, &server);
        let items: Vec<_> = (0..6)
            .map(|n| (server.url("/inbox"), ActorRef::Instance, activity(n)))
            .collect();
        catalog.enqueue_deliveries(&items).expect("enqueue");
        // Queued before the worker starts: it finds them on its own.
        let worker = start(&deliverer);
        until("all delivered", || pending(&catalog) == 0).await;
        worker.stop().await;
        assert_eq!(inbox.accepted().len(), 6);
        assert_eq!(inbox.most_at_once.load(Ordering::SeqCst), PER_HOST);
    }
}
