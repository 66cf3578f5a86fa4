//! Storage: every object in memory (for reads, lists and watches) and, unless in-memory mode,
//! durably in a redb database in the data dir.
//!
//! All writes go through one writer thread, which checks preconditions, assigns the next value of
//! the single global revision (like etcd's), commits a whole batch of concurrent writes in one
//! durable transaction (group commit), then publishes the new objects and their watch events and
//! only then acknowledges the writers. Readers never wait for the disk.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde_json::Value;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::encryption::{Encryption, is_encrypted_resource};
use crate::error::Error;

const OBJECTS: TableDefinition<&str, &[u8]> = TableDefinition::new("objects");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const REVISION_KEY: &str = "revision";

/// The key prefix of the RBAC objects (Roles, ClusterRoles and their bindings): writes under it
/// advance [`Store::rbac_revision`], which the authorizer's cache is keyed on.
pub const RBAC_KEY_PREFIX: &str = "rbac.authorization.k8s.io/";
/// How many events a watcher may fall behind before it is closed (it then resumes from history).
pub const WATCHER_BUFFER: usize = 8_192;
/// How often events older than the history's age limit are dropped when nothing is written.
const HISTORY_SWEEP: Duration = Duration::from_secs(15);
/// The memory redb may use for its page cache and write buffer. Reads are served from the
/// objects in memory, never from redb, so its cache only speeds up finding the pages a commit
/// changes; redb's default (1 GiB) would let it grow far beyond that.
const DB_CACHE_BYTES: usize = 32 << 20;
/// The largest number of writes committed in one transaction.
const MAX_BATCH: usize = 512;
/// The longest a durable commit waits for the writers of the previous one to come back.
const MAX_GATHER_WAIT: Duration = Duration::from_millis(5);
/// How often the writer looks for more writes while gathering a batch.
const GATHER_POLL: Duration = Duration::from_micros(50);

/// One stored object: its serialized JSON (with `metadata.resourceVersion` stamped) and the
/// fields the server indexes and filters on.
#[derive(Debug)]
pub struct Stored {
    pub key: String,
    pub raw: Bytes,
    pub rev: u64,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub labels: BTreeMap<String, String>,
    pub owner_uids: Vec<String>,
}

impl Stored {
    fn from_value(key: String, value: &Value, rev: u64) -> Result<Self, String> {
        let raw = serde_json::to_vec(value).map_err(|e| e.to_string())?;
        Ok(Self::index(key, Bytes::from(raw), value, rev))
    }

    fn index(key: String, raw: Bytes, value: &Value, rev: u64) -> Self {
        let meta = &value["metadata"];
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let labels = meta["labels"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let owner_uids = meta["ownerReferences"]
            .as_array()
            .map(|refs| refs.iter().map(|r| text(&r["uid"])).collect())
            .unwrap_or_default();
        Stored {
            key,
            raw,
            rev,
            namespace: text(&meta["namespace"]),
            name: text(&meta["name"]),
            uid: text(&meta["uid"]),
            labels,
            owner_uids,
        }
    }

    /// The object as JSON.
    pub fn value(&self) -> Value {
        serde_json::from_slice(&self.raw).unwrap_or(Value::Null)
    }

    /// About how many bytes of memory this object holds: its JSON and its indexed fields.
    fn footprint(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.raw.len()
            + self.key.len()
            + self.namespace.len()
            + self.name.len()
            + self.uid.len()
            + self
                .labels
                .iter()
                .map(|(k, v)| k.len() + v.len() + 3 * std::mem::size_of::<String>())
                .sum::<usize>()
            + self.owner_uids.iter().map(String::len).sum::<usize>()
    }
}

/// What a write expects of the key's current state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Expect {
    /// Create: the key must not exist.
    Absent,
    /// Update or delete: the key must exist at exactly this revision.
    Revision(u64),
    /// The key must exist (any revision). Only tests write without knowing the revision today;
    /// kept so the preconditions stay those of etcd's transactions.
    #[allow(dead_code)]
    Present,
}

/// A single write.
#[derive(Debug)]
pub enum WriteOp {
    /// Store `object` (its resourceVersion is stamped by the store).
    Put {
        key: String,
        object: Value,
        expect: Expect,
    },
    /// Remove the key; the DELETED event carries its last state (or `final_state`, e.g. with the
    /// last finalizer removed) at the new revision.
    Delete {
        key: String,
        expect: Expect,
        final_state: Option<Value>,
    },
}

impl WriteOp {
    fn key(&self) -> &str {
        match self {
            WriteOp::Put { key, .. } | WriteOp::Delete { key, .. } => key,
        }
    }
}

/// Why a write was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WriteError {
    #[error("already exists")]
    AlreadyExists,
    #[error("not found")]
    NotFound,
    #[error("revision mismatch (current {current})")]
    Conflict { current: u64 },
    #[error("storage failure: {0}")]
    Storage(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// A change, as delivered to watchers.
#[derive(Debug)]
pub struct Event {
    pub kind: EventType,
    pub rev: u64,
    pub object: Arc<Stored>,
    /// The state before a modification (for selector transitions); `None` for ADDED and DELETED
    /// (a deleted object's last state is `object`), so a deletion keeps one copy alive, not two.
    pub prev: Option<Arc<Stored>>,
}

impl Event {
    /// The bytes this event keeps alive at most (shared objects are counted in full).
    fn footprint(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.object.footprint()
            + self.prev.as_ref().map_or(0, |p| p.footprint())
    }
}

/// How much past the watch history keeps for watches that resume from an older resourceVersion.
/// Whatever is older is dropped (whichever bound is reached first) and such a watch gets 410
/// Gone, which clients answer by listing again: kube-apiserver's watch cache and etcd's
/// compaction (every 5 minutes) bound theirs the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryLimits {
    /// The most events kept.
    pub events: usize,
    /// The most bytes the kept events hold: their objects' JSON and indexed fields, an object
    /// shared with the store or another event counted in full.
    pub bytes: usize,
    /// The oldest event kept.
    pub age: Duration,
}

impl Default for HistoryLimits {
    fn default() -> Self {
        HistoryLimits {
            events: 50_000,
            bytes: 32 << 20,
            age: Duration::from_secs(5 * 60),
        }
    }
}

/// The recent events, oldest first, within [`HistoryLimits`].
struct History {
    limits: HistoryLimits,
    events: VecDeque<(Instant, Arc<Event>)>,
    /// The sum of the events' footprints.
    bytes: usize,
    /// Every event with a revision above this one is in `events`.
    floor: u64,
}

impl History {
    fn new(floor: u64, limits: HistoryLimits) -> Self {
        History {
            limits,
            events: VecDeque::new(),
            bytes: 0,
            floor,
        }
    }

    fn push(&mut self, event: Arc<Event>, now: Instant) {
        self.bytes += event.footprint();
        self.events.push_back((now, event));
        self.evict(now);
    }

    /// Drop the oldest events while any bound is exceeded.
    fn evict(&mut self, now: Instant) {
        while let Some((at, _)) = self.events.front() {
            let over = self.events.len() > self.limits.events
                || self.bytes > self.limits.bytes
                || now.saturating_duration_since(*at) > self.limits.age;
            if !over {
                break;
            }
            if let Some((_, old)) = self.events.pop_front() {
                self.bytes -= old.footprint();
                self.floor = old.rev;
            }
        }
        if self.events.is_empty() {
            // Give back the ring buffer of a burst, not only its events.
            self.events.shrink_to(self.limits.events.min(1024));
        }
    }

    /// The events after revision `rev`, or the oldest revision still complete when some of
    /// them were dropped.
    fn since(&self, rev: u64) -> Result<Vec<Arc<Event>>, u64> {
        if rev < self.floor {
            return Err(self.floor);
        }
        // Sorted by revision: skip to the first event after `rev`.
        let start = self.events.partition_point(|(_, e)| e.rev <= rev);
        Ok(self.events.range(start..).map(|(_, e)| e.clone()).collect())
    }
}

#[derive(Default)]
struct State {
    objects: BTreeMap<String, Arc<Stored>>,
    revision: u64,
    uids: HashMap<String, String>,
    dependents: HashMap<String, BTreeSet<String>>,
}

impl State {
    fn insert(&mut self, stored: Arc<Stored>) -> Option<Arc<Stored>> {
        let prev = self.objects.insert(stored.key.clone(), stored.clone());
        if let Some(p) = &prev {
            self.unindex(p);
        }
        self.uids.insert(stored.uid.clone(), stored.key.clone());
        for owner in &stored.owner_uids {
            self.dependents
                .entry(owner.clone())
                .or_default()
                .insert(stored.key.clone());
        }
        prev
    }

    fn remove(&mut self, key: &str) -> Option<Arc<Stored>> {
        let prev = self.objects.remove(key)?;
        self.unindex(&prev);
        Some(prev)
    }

    fn unindex(&mut self, stored: &Stored) {
        if self.uids.get(&stored.uid).is_some_and(|k| k == &stored.key) {
            self.uids.remove(&stored.uid);
        }
        for owner in &stored.owner_uids {
            if let Some(set) = self.dependents.get_mut(owner) {
                set.remove(&stored.key);
                if set.is_empty() {
                    self.dependents.remove(owner);
                }
            }
        }
    }
}

struct Hub {
    history: History,
    /// Live events for subscribers. The channel's ring buffer holds its last values until they
    /// are overwritten, so it carries weak references: only the history keeps events alive, and
    /// a subscriber that is handed an event already dropped from the history is too far behind.
    tx: broadcast::Sender<Weak<Event>>,
}

struct Request {
    op: WriteOp,
    reply: oneshot::Sender<Result<Arc<Stored>, WriteError>>,
}

/// What the writer thread receives.
enum Message {
    Write(Request),
    /// Commit what came before, release the database file, then answer (if anyone waits).
    Close(Option<oneshot::Sender<()>>),
}

/// The store shared by every request handler.
pub struct Store {
    state: RwLock<State>,
    hub: Mutex<Hub>,
    writer: mpsc::Sender<Message>,
    durable: bool,
    /// Secrets are written to the database encrypted with it (durable stores).
    encryption: Option<Arc<Encryption>>,
    /// The revision of the last write under [`RBAC_KEY_PREFIX`].
    rbac_revision: std::sync::atomic::AtomicU64,
}

/// The events a new watcher must replay, and its live feed.
pub struct Subscription {
    pub replay: Vec<Arc<Event>>,
    live: broadcast::Receiver<Weak<Event>>,
}

impl Subscription {
    /// The next live event. `Lagged` when this subscriber fell so far behind that events it has
    /// not received are gone (from the channel or from the history): it must start over (a
    /// watch is closed and its client resumes from its last resourceVersion or lists again).
    pub async fn recv(&mut self) -> Result<Arc<Event>, broadcast::error::RecvError> {
        let event = self.live.recv().await?;
        event
            .upgrade()
            .ok_or(broadcast::error::RecvError::Lagged(1))
    }
}

impl Store {
    /// An in-memory store (nothing survives the process).
    pub fn in_memory(history: HistoryLimits) -> Arc<Self> {
        Self::start(None, State::default(), None, history)
    }

    /// A durable store in `dir/devcluster.redb`, loading whatever it already holds; Secrets are
    /// kept encrypted with `encryption` (those stored in the clear or under an older key are
    /// encrypted again with its first key now).
    pub fn open(
        dir: &Path,
        encryption: Arc<Encryption>,
        history: HistoryLimits,
    ) -> Result<Arc<Self>, Error> {
        let path = dir.join("devcluster.redb");
        // redb creates its file with the umask's mode: make it owner-only first.
        aro_common::fs::ensure_private_file(&path).map_err(Error::PrivateFile)?;
        let db = redb::Builder::new()
            .set_cache_size(DB_CACHE_BYTES)
            .create(&path)
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => {
                    Error::StorageInUse(path.display().to_string())
                }
                e => Error::Storage(format!("{}: {e}", path.display())),
            })?;
        let mut state = State::default();
        {
            let txn = db
                .begin_write()
                .map_err(|e| Error::Storage(e.to_string()))?;
            txn.open_table(OBJECTS)
                .map_err(|e| Error::Storage(e.to_string()))?;
            txn.open_table(META)
                .map_err(|e| Error::Storage(e.to_string()))?;
            txn.commit().map_err(|e| Error::Storage(e.to_string()))?;
        }
        let txn = db.begin_read().map_err(|e| Error::Storage(e.to_string()))?;
        let meta = txn
            .open_table(META)
            .map_err(|e| Error::Storage(e.to_string()))?;
        state.revision = meta
            .get(REVISION_KEY)
            .map_err(|e| Error::Storage(e.to_string()))?
            .map(|v| v.value())
            .unwrap_or(0);
        let objects = txn
            .open_table(OBJECTS)
            .map_err(|e| Error::Storage(e.to_string()))?;
        let mut rewrite = Vec::new();
        for entry in objects.iter().map_err(|e| Error::Storage(e.to_string()))? {
            let (k, v) = entry.map_err(|e| Error::Storage(e.to_string()))?;
            let raw = if is_encrypted_resource(k.value()) {
                let (plain, stale) = encryption.decrypt(v.value(), k.value())?;
                if stale {
                    rewrite.push(k.value().to_string());
                }
                Bytes::from(plain)
            } else {
                Bytes::copy_from_slice(v.value())
            };
            let value: Value = serde_json::from_slice(&raw)
                .map_err(|e| Error::Storage(format!("corrupt object {}: {e}", k.value())))?;
            let rev = value["metadata"]["resourceVersion"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            state.insert(Arc::new(Stored::index(
                k.value().to_string(),
                raw,
                &value,
                rev,
            )));
        }
        drop(objects);
        drop(meta);
        drop(txn);
        if !rewrite.is_empty() {
            let txn = db
                .begin_write()
                .map_err(|e| Error::Storage(e.to_string()))?;
            {
                let mut objects = txn
                    .open_table(OBJECTS)
                    .map_err(|e| Error::Storage(e.to_string()))?;
                for key in &rewrite {
                    let Some(stored) = state.objects.get(key) else {
                        continue;
                    };
                    let sealed = encryption.encrypt(&stored.raw)?;
                    objects
                        .insert(key.as_str(), sealed.as_slice())
                        .map_err(|e| Error::Storage(e.to_string()))?;
                }
            }
            txn.commit().map_err(|e| Error::Storage(e.to_string()))?;
            tracing::info!(
                secrets = rewrite.len(),
                key = encryption.primary(),
                "re-encrypted Secrets at rest with the first key"
            );
        }
        Ok(Self::start(Some(db), state, Some(encryption), history))
    }

    fn start(
        db: Option<redb::Database>,
        state: State,
        encryption: Option<Arc<Encryption>>,
        history: HistoryLimits,
    ) -> Arc<Self> {
        let (tx, rx) = mpsc::channel(4096);
        let (events, _) = broadcast::channel(WATCHER_BUFFER);
        let floor = state.revision;
        let store = Arc::new(Store {
            state: RwLock::new(state),
            hub: Mutex::new(Hub {
                history: History::new(floor, history),
                tx: events,
            }),
            writer: tx,
            durable: db.is_some(),
            encryption,
            rbac_revision: Default::default(),
        });
        let weak = Arc::downgrade(&store);
        std::thread::Builder::new()
            .name("devcluster-writer".into())
            .spawn(move || writer_loop(weak, db, rx))
            .expect("spawning the storage writer thread");
        // Without writes nothing else drops events past the age limit.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let weak = Arc::downgrade(&store);
            runtime.spawn(async move {
                let mut sweep = tokio::time::interval(
                    HISTORY_SWEEP
                        .min(history.age)
                        .max(Duration::from_millis(10)),
                );
                loop {
                    sweep.tick().await;
                    let Some(store) = weak.upgrade() else { break };
                    store.hub.lock().history.evict(Instant::now());
                }
            });
        }
        store
    }

    /// Whether writes are committed to disk.
    pub fn is_durable(&self) -> bool {
        self.durable
    }

    /// The current global revision.
    pub fn revision(&self) -> u64 {
        self.state.read().revision
    }

    /// The revision of the last write to an RBAC object (0 before any): set before the write is
    /// acknowledged, so a client's next request sees the change.
    pub fn rbac_revision(&self) -> u64 {
        self.rbac_revision
            .load(std::sync::atomic::Ordering::Acquire)
    }

    pub fn get(&self, key: &str) -> Option<Arc<Stored>> {
        self.state.read().objects.get(key).cloned()
    }

    /// The object with this uid, if it exists.
    pub fn get_by_uid(&self, uid: &str) -> Option<Arc<Stored>> {
        let state = self.state.read();
        state
            .uids
            .get(uid)
            .and_then(|k| state.objects.get(k))
            .cloned()
    }

    /// Keys of objects that name `owner_uid` in their ownerReferences.
    pub fn dependents_of(&self, owner_uid: &str) -> Vec<Arc<Stored>> {
        let state = self.state.read();
        state
            .dependents
            .get(owner_uid)
            .map(|keys| {
                keys.iter()
                    .filter_map(|k| state.objects.get(k).cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Objects whose key starts with `prefix`, after `start_after` (exclusive), in key order,
    /// with the revision they were read at.
    pub fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        mut keep: impl FnMut(&Stored) -> bool,
        limit: Option<usize>,
    ) -> (Vec<Arc<Stored>>, u64, bool) {
        let state = self.state.read();
        let mut out = Vec::new();
        let mut more = false;
        let range = match start_after {
            Some(s) if s >= prefix => state
                .objects
                .range::<str, _>((std::ops::Bound::Excluded(s), std::ops::Bound::Unbounded)),
            _ => state.objects.range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            )),
        };
        for (k, v) in range {
            if !k.starts_with(prefix) {
                break;
            }
            if !keep(v) {
                continue;
            }
            if limit.is_some_and(|l| out.len() >= l) {
                more = true;
                break;
            }
            out.push(v.clone());
        }
        (out, state.revision, more)
    }

    /// Apply one write; resolves once it is durable and visible.
    pub async fn write(&self, op: WriteOp) -> Result<Arc<Stored>, WriteError> {
        let (reply, rx) = oneshot::channel();
        self.writer
            .send(Message::Write(Request { op, reply }))
            .await
            .map_err(|_| WriteError::Storage("storage writer stopped".into()))?;
        rx.await
            .map_err(|_| WriteError::Storage("storage writer stopped".into()))?
    }

    /// Stop writing and release the database file once the writes sent before are committed.
    /// Later writes fail. Returns when the file is closed (a successor can open it).
    pub async fn close(&self) {
        let (ack, closed) = oneshot::channel();
        if self.writer.send(Message::Close(Some(ack))).await.is_ok() {
            let _ = closed.await;
        }
    }

    /// [`Store::close`] without waiting (from a `Drop`): the writer closes the file soon after.
    pub fn close_soon(&self) {
        match self.writer.try_send(Message::Close(None)) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
            Err(mpsc::error::TrySendError::Full(message)) => {
                let writer = self.writer.clone();
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    runtime.spawn(async move {
                        let _ = writer.send(message).await;
                    });
                }
            }
        }
    }

    /// Subscribe to events after revision `from` (exclusive). `None` means "from now".
    /// Fails with the oldest revision still available when `from` is too old.
    pub fn subscribe(&self, from: Option<u64>) -> Result<Subscription, u64> {
        let mut hub = self.hub.lock();
        hub.history.evict(Instant::now());
        let live = hub.tx.subscribe();
        let replay = match from {
            None => Vec::new(),
            Some(rev) => hub.history.since(rev)?,
        };
        Ok(Subscription { replay, live })
    }
}

fn writer_loop(
    store: std::sync::Weak<Store>,
    db: Option<redb::Database>,
    mut rx: mpsc::Receiver<Message>,
) {
    // Group commit. The writers acknowledged by a commit usually send their next write soon
    // after; committing at once with only the writes that queued up during the commit would split
    // steady writers into two groups that take turns, each waiting out the other's commit (half
    // the throughput, twice the latency). So a durable commit waits, at most as long as the last
    // commit took, for the writers it just acknowledged to come back.
    let mut expected = 0usize;
    let mut last_commit = Duration::ZERO;
    let mut close = None;
    while let Some(first) = rx.blocking_recv() {
        let mut batch = Vec::new();
        match first {
            Message::Write(request) => batch.push(request),
            Message::Close(ack) => {
                close = Some(ack);
                break;
            }
        }
        let gather_until = Instant::now() + last_commit.min(MAX_GATHER_WAIT);
        loop {
            match rx.try_recv() {
                Ok(Message::Write(r)) if batch.len() < MAX_BATCH => batch.push(r),
                Ok(Message::Write(r)) => {
                    batch.push(r);
                    break;
                }
                Ok(Message::Close(ack)) => {
                    close = Some(ack);
                    break;
                }
                Err(mpsc::error::TryRecvError::Disconnected) => break,
                Err(mpsc::error::TryRecvError::Empty) => {
                    if db.is_none() || batch.len() >= expected || Instant::now() >= gather_until {
                        break;
                    }
                    std::thread::sleep(GATHER_POLL);
                }
            }
        }
        let Some(store) = store.upgrade() else { break };
        let started = Instant::now();
        let acknowledged = batch.len();
        commit_batch(&store, db.as_ref(), batch);
        last_commit = started.elapsed();
        if close.is_some() {
            break;
        }
        // Writes that queued during the commit, plus the writers just acknowledged.
        expected = (rx.len() + acknowledged).min(MAX_BATCH);
    }
    // Refuse what is still queued, release the file, then tell whoever closed the store.
    rx.close();
    while let Ok(message) = rx.try_recv() {
        if let Message::Write(request) = message {
            let _ = request
                .reply
                .send(Err(WriteError::Storage("storage closed".into())));
        }
    }
    drop(db);
    if let Some(Some(ack)) = close {
        let _ = ack.send(());
    }
}

/// Result of staging one request of a batch.
enum Staged {
    Put(Arc<Stored>),
    Delete(Arc<Stored>),
}

impl Staged {
    fn into_object(self) -> Arc<Stored> {
        match self {
            Staged::Put(o) | Staged::Delete(o) => o,
        }
    }
}

fn commit_batch(store: &Store, db: Option<&redb::Database>, batch: Vec<Request>) {
    // Stage every request against the current state plus the batch's earlier writes.
    let mut overlay: HashMap<String, Option<Arc<Stored>>> = HashMap::new();
    let mut revision = store.state.read().revision;
    let mut staged: Vec<(Request, Result<Staged, WriteError>)> = Vec::with_capacity(batch.len());
    {
        let state = store.state.read();
        for req in batch {
            let key = req.op.key().to_string();
            let current = match overlay.get(&key) {
                Some(v) => v.clone(),
                None => state.objects.get(&key).cloned(),
            };
            let result = stage(&req.op, current.as_ref(), revision + 1);
            if let Ok(s) = &result {
                revision += 1;
                match s {
                    Staged::Put(obj) => overlay.insert(key, Some(obj.clone())),
                    Staged::Delete(_) => overlay.insert(key, None),
                };
            }
            staged.push((req, result));
        }
    }
    if staged.iter().all(|(_, r)| r.is_err()) {
        for (req, r) in staged {
            let _ = req.reply.send(r.map(Staged::into_object));
        }
        return;
    }
    if let Some(db) = db
        && let Err(e) = persist(db, &staged, revision, store.encryption.as_deref())
    {
        let msg = format!("storage commit failed: {e}");
        tracing::error!("{msg}");
        for (req, _) in staged {
            let _ = req.reply.send(Err(WriteError::Storage(msg.clone())));
        }
        return;
    }
    // Publish: state first (read-your-writes once acknowledged), then events, then replies.
    let mut events = Vec::new();
    {
        let mut state = store.state.write();
        for (_, r) in &staged {
            match r {
                Ok(Staged::Put(obj)) => {
                    let prev = state.insert(obj.clone());
                    let kind = if prev.is_some() {
                        EventType::Modified
                    } else {
                        EventType::Added
                    };
                    events.push(Arc::new(Event {
                        kind,
                        rev: obj.rev,
                        object: obj.clone(),
                        prev,
                    }));
                }
                Ok(Staged::Delete(last)) => {
                    state.remove(&last.key);
                    events.push(Arc::new(Event {
                        kind: EventType::Deleted,
                        rev: last.rev,
                        object: last.clone(),
                        prev: None,
                    }));
                }
                Err(_) => {}
            }
        }
        state.revision = revision;
        if events
            .iter()
            .any(|e| e.object.key.starts_with(RBAC_KEY_PREFIX))
        {
            store
                .rbac_revision
                .store(revision, std::sync::atomic::Ordering::Release);
        }
    }
    {
        let now = Instant::now();
        let mut hub = store.hub.lock();
        for e in events {
            let live = Arc::downgrade(&e);
            hub.history.push(e, now);
            let _ = hub.tx.send(live);
        }
    }
    for (req, r) in staged {
        let _ = req.reply.send(r.map(Staged::into_object));
    }
}

fn check(expect: Expect, current: Option<&Arc<Stored>>) -> Result<(), WriteError> {
    match (expect, current) {
        (Expect::Absent, Some(_)) => Err(WriteError::AlreadyExists),
        (Expect::Absent, None) => Ok(()),
        (Expect::Present, None) | (Expect::Revision(_), None) => Err(WriteError::NotFound),
        (Expect::Present, Some(_)) => Ok(()),
        (Expect::Revision(r), Some(c)) if c.rev == r => Ok(()),
        (Expect::Revision(_), Some(c)) => Err(WriteError::Conflict { current: c.rev }),
    }
}

fn stage(op: &WriteOp, current: Option<&Arc<Stored>>, rev: u64) -> Result<Staged, WriteError> {
    match op {
        WriteOp::Put {
            key,
            object,
            expect,
        } => {
            check(*expect, current)?;
            let mut object = object.clone();
            stamp(&mut object, rev);
            Stored::from_value(key.clone(), &object, rev)
                .map(|s| Staged::Put(Arc::new(s)))
                .map_err(WriteError::Storage)
        }
        WriteOp::Delete {
            key,
            expect,
            final_state,
        } => {
            check(*expect, current)?;
            let current = current.ok_or(WriteError::NotFound)?;
            let mut object = final_state.clone().unwrap_or_else(|| current.value());
            stamp(&mut object, rev);
            Stored::from_value(key.clone(), &object, rev)
                .map(|s| Staged::Delete(Arc::new(s)))
                .map_err(WriteError::Storage)
        }
    }
}

fn stamp(object: &mut Value, rev: u64) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("resourceVersion".into(), Value::String(rev.to_string()));
    }
}

fn persist(
    db: &redb::Database,
    staged: &[(Request, Result<Staged, WriteError>)],
    revision: u64,
    encryption: Option<&Encryption>,
) -> Result<(), String> {
    let db_error = |e: redb::Error| e.to_string();
    let txn = db.begin_write().map_err(|e| db_error(e.into()))?;
    {
        let mut objects = txn.open_table(OBJECTS).map_err(|e| db_error(e.into()))?;
        for (_, r) in staged {
            match r {
                Ok(Staged::Put(o)) => {
                    match encryption.filter(|_| is_encrypted_resource(&o.key)) {
                        Some(encryption) => {
                            let sealed = encryption.encrypt(&o.raw).map_err(|e| e.to_string())?;
                            objects.insert(o.key.as_str(), sealed.as_slice())
                        }
                        None => objects.insert(o.key.as_str(), o.raw.as_ref()),
                    }
                    .map_err(|e| db_error(e.into()))?;
                }
                Ok(Staged::Delete(o)) => {
                    objects
                        .remove(o.key.as_str())
                        .map_err(|e| db_error(e.into()))?;
                }
                Err(_) => {}
            }
        }
        let mut meta = txn.open_table(META).map_err(|e| db_error(e.into()))?;
        meta.insert(REVISION_KEY, revision)
            .map_err(|e| db_error(e.into()))?;
    }
    txn.commit().map_err(|e| db_error(e.into()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")}})
    }

    /// Create `k/<name>` for each name, in order.
    async fn create_all(store: &Store, names: &[&str]) {
        for n in names {
            store
                .write(WriteOp::Put {
                    key: format!("k/{n}"),
                    object: obj(n),
                    expect: Expect::Absent,
                })
                .await
                .unwrap();
        }
    }

    #[tokio::test]
    async fn revisions_increase_and_preconditions_hold() {
        let store = Store::in_memory(HistoryLimits::default());
        let a = store
            .write(WriteOp::Put {
                key: "k/a".into(),
                object: obj("a"),
                expect: Expect::Absent,
            })
            .await
            .unwrap();
        assert_eq!(a.rev, 1);
        assert_eq!(a.value()["metadata"]["resourceVersion"], "1");
        let dup = store
            .write(WriteOp::Put {
                key: "k/a".into(),
                object: obj("a"),
                expect: Expect::Absent,
            })
            .await;
        assert_eq!(dup.unwrap_err(), WriteError::AlreadyExists);
        let stale = store
            .write(WriteOp::Put {
                key: "k/a".into(),
                object: obj("a"),
                expect: Expect::Revision(7),
            })
            .await;
        assert_eq!(stale.unwrap_err(), WriteError::Conflict { current: 1 });
        let b = store
            .write(WriteOp::Put {
                key: "k/a".into(),
                object: obj("a"),
                expect: Expect::Revision(1),
            })
            .await
            .unwrap();
        assert_eq!(b.rev, 2);
        let gone = store
            .write(WriteOp::Delete {
                key: "k/a".into(),
                expect: Expect::Present,
                final_state: None,
            })
            .await
            .unwrap();
        assert_eq!(gone.rev, 3);
        assert!(store.get("k/a").is_none());
        assert_eq!(store.revision(), 3);
    }

    #[tokio::test]
    async fn subscribers_replay_history_then_follow() {
        let store = Store::in_memory(HistoryLimits::default());
        create_all(&store, &["a", "b", "c"]).await;
        let mut sub = store.subscribe(Some(1)).unwrap();
        assert_eq!(
            sub.replay.iter().map(|e| e.rev).collect::<Vec<_>>(),
            vec![2, 3]
        );
        store
            .write(WriteOp::Delete {
                key: "k/a".into(),
                expect: Expect::Present,
                final_state: None,
            })
            .await
            .unwrap();
        let e = sub.recv().await.unwrap();
        assert_eq!((e.kind, e.rev), (EventType::Deleted, 4));
    }

    fn added(rev: u64, payload: usize) -> Arc<Event> {
        let mut value = obj(&format!("o{rev}"));
        value["data"] = json!({"payload": "x".repeat(payload)});
        let object = Arc::new(Stored::from_value(format!("k/o{rev}"), &value, rev).unwrap());
        Arc::new(Event {
            kind: EventType::Added,
            rev,
            object,
            prev: None,
        })
    }

    fn revs(events: &[Arc<Event>]) -> Vec<u64> {
        events.iter().map(|e| e.rev).collect()
    }

    #[test]
    fn history_is_bounded_by_bytes() {
        let one = added(1, 1000).footprint();
        let mut history = History::new(
            0,
            HistoryLimits {
                events: 1000,
                bytes: 3 * one + one / 2,
                age: Duration::from_secs(3600),
            },
        );
        let now = Instant::now();
        for rev in 1..=10 {
            history.push(added(rev, 1000), now);
        }
        assert_eq!(revs(&history.since(7).unwrap()), [8, 9, 10]);
        assert_eq!(history.since(6).map(|e| revs(&e)), Err(7));
        assert_eq!(history.since(1).map(|e| revs(&e)), Err(7));
        assert!(history.bytes <= history.limits.bytes);
        // Small events: more of them fit in the same bytes.
        for rev in 11..=14 {
            history.push(added(rev, 10), now);
        }
        assert_eq!(revs(&history.since(9).unwrap()), [10, 11, 12, 13, 14]);
    }

    #[test]
    fn history_is_bounded_by_age_and_count() {
        let limits = HistoryLimits {
            events: 3,
            bytes: usize::MAX,
            age: Duration::from_secs(300),
        };
        let mut history = History::new(0, limits);
        let t0 = Instant::now();
        for rev in 1..=3 {
            history.push(added(rev, 10), t0 + Duration::from_secs(rev * 100));
        }
        assert_eq!(revs(&history.since(0).unwrap()), [1, 2, 3]);
        // Event 1 is 301 s old, event 2 201 s.
        history.evict(t0 + Duration::from_secs(401));
        assert_eq!(history.since(0).map(|e| revs(&e)), Err(1));
        assert_eq!(revs(&history.since(1).unwrap()), [2, 3]);
        history.push(added(4, 10), t0 + Duration::from_secs(402));
        history.push(added(5, 10), t0 + Duration::from_secs(403));
        assert_eq!(history.since(1).map(|e| revs(&e)), Err(2), "count");
        assert_eq!(revs(&history.since(2).unwrap()), [3, 4, 5]);
        // Long after, everything is gone and so is its memory; new events are served again.
        history.evict(t0 + Duration::from_secs(3600));
        assert_eq!((history.events.len(), history.bytes), (0, 0));
        assert_eq!(history.since(4).map(|e| revs(&e)), Err(5));
        assert!(history.since(5).unwrap().is_empty());
        history.push(added(6, 10), t0 + Duration::from_secs(3601));
        assert_eq!(revs(&history.since(5).unwrap()), [6]);
    }

    #[tokio::test]
    async fn deletions_keep_one_copy_and_dropped_events_end_a_lagging_subscriber() {
        let store = Store::in_memory(HistoryLimits {
            events: 2,
            ..HistoryLimits::default()
        });
        let mut slow = store.subscribe(None).unwrap();
        create_all(&store, &["a", "b"]).await;
        let mut fresh = store.subscribe(Some(2)).unwrap();
        store
            .write(WriteOp::Delete {
                key: "k/a".into(),
                expect: Expect::Present,
                final_state: None,
            })
            .await
            .unwrap();
        let deleted = fresh.recv().await.unwrap();
        assert_eq!((deleted.kind, deleted.rev), (EventType::Deleted, 3));
        assert!(deleted.prev.is_none(), "the last state is the object");
        assert_eq!(deleted.object.value()["metadata"]["resourceVersion"], "3");
        // Event 1 left the history (2 events): the subscriber that never read it has lagged.
        assert!(matches!(
            slow.recv().await,
            Err(broadcast::error::RecvError::Lagged(_))
        ));
        assert_eq!(store.subscribe(Some(0)).err(), Some(1));
        assert_eq!(revs(&store.subscribe(Some(1)).unwrap().replay), [2, 3]);
    }

    fn test_encryption(dir: &Path) -> Arc<Encryption> {
        Arc::new(Encryption::load_or_create(dir, None).unwrap())
    }

    /// Open again once the previous store's writer thread let go of the database.
    async fn reopen(dir: &Path, encryption: Arc<Encryption>) -> Arc<Store> {
        loop {
            match Store::open(dir, encryption.clone(), HistoryLimits::default()) {
                Ok(s) => break s,
                Err(Error::StorageInUse(_)) => tokio::task::yield_now().await,
                Err(e) => panic!("{e}"),
            }
        }
    }

    /// The bytes of the database file (what an attacker with the disk reads).
    fn database_bytes(dir: &Path) -> Vec<u8> {
        std::fs::read(dir.join("devcluster.redb")).unwrap()
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[tokio::test]
    async fn secrets_are_encrypted_at_rest_and_re_encrypted_after_a_key_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let secret = json!({"apiVersion": "v1", "kind": "Secret",
                            "metadata": {"name": "s", "namespace": "ns", "resourceVersion": "0"},
                            "data": {"password": "c3VwZXItc2VjcmV0LXBhc3N3b3Jk"}});
        let plain_config = json!({"apiVersion": "v1", "kind": "ConfigMap",
                                  "metadata": {"name": "c", "namespace": "ns", "resourceVersion": "0"},
                                  "data": {"note": "visible-configmap-value"}});
        {
            let store = Store::open(
                dir.path(),
                test_encryption(dir.path()),
                HistoryLimits::default(),
            )
            .unwrap();
            for (key, object) in [
                ("/secrets/ns/s", &secret),
                ("/configmaps/ns/c", &plain_config),
            ] {
                store
                    .write(WriteOp::Put {
                        key: key.into(),
                        object: object.clone(),
                        expect: Expect::Absent,
                    })
                    .await
                    .unwrap();
            }
        }
        let store = reopen(dir.path(), test_encryption(dir.path())).await;
        assert_eq!(
            store.get("/secrets/ns/s").unwrap().value()["data"]["password"],
            "c3VwZXItc2VjcmV0LXBhc3N3b3Jk"
        );
        drop(store);
        let on_disk = database_bytes(dir.path());
        assert!(!contains(&on_disk, b"c3VwZXItc2VjcmV0LXBhc3N3b3Jk"));
        assert!(contains(&on_disk, b"k8s:enc:aesgcm:v1:key1:"));
        assert!(
            contains(&on_disk, b"visible-configmap-value"),
            "only Secrets are encrypted"
        );

        // Rotation: a new first key; at open the Secret is written again under it, after which
        // the old key can go.
        let config_path = dir.path().join(crate::encryption::DEFAULT_CONFIG_FILE);
        let mut config: Value =
            serde_yaml::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
        let old_key = config["resources"][0]["providers"][0]["aesgcm"]["keys"][0].clone();
        let new_key =
            json!({"name": "key2", "secret": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="});
        config["resources"][0]["providers"][0]["aesgcm"]["keys"] = json!([new_key, old_key]);
        let rotated = dir.path().join("rotated.yaml");
        std::fs::write(&rotated, serde_yaml::to_string(&config).unwrap()).unwrap();
        let encryption = Arc::new(Encryption::load_or_create(dir.path(), Some(&rotated)).unwrap());
        drop(reopen(dir.path(), encryption).await);
        config["resources"][0]["providers"][0]["aesgcm"]["keys"] = json!([new_key]);
        std::fs::write(&rotated, serde_yaml::to_string(&config).unwrap()).unwrap();
        let encryption = Arc::new(Encryption::load_or_create(dir.path(), Some(&rotated)).unwrap());
        let store = reopen(dir.path(), encryption).await;
        assert_eq!(
            store.get("/secrets/ns/s").unwrap().value()["data"]["password"],
            "c3VwZXItc2VjcmV0LXBhc3N3b3Jk"
        );
        drop(store);
        // Without any key that wrote it, the database does not open (and says why).
        let wrong = dir.path().join("wrong.yaml");
        config["resources"][0]["providers"][0]["aesgcm"]["keys"] =
            json!([{"name": "key3", "secret": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}]);
        std::fs::write(&wrong, serde_yaml::to_string(&config).unwrap()).unwrap();
        let encryption = Arc::new(Encryption::load_or_create(dir.path(), Some(&wrong)).unwrap());
        let error = loop {
            match Store::open(dir.path(), encryption.clone(), HistoryLimits::default()) {
                Err(Error::StorageInUse(_)) => tokio::task::yield_now().await,
                Err(e) => break e.to_string(),
                Ok(_) => panic!("opened without the key"),
            }
        };
        assert!(
            error.contains("/secrets/ns/s") && error.contains("no key named key2"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn durable_store_reloads_objects_and_revision() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(
                dir.path(),
                test_encryption(dir.path()),
                HistoryLimits::default(),
            )
            .unwrap();
            create_all(&store, &["a", "b"]).await;
            store
                .write(WriteOp::Delete {
                    key: "k/a".into(),
                    expect: Expect::Present,
                    final_state: None,
                })
                .await
                .unwrap();
        }
        // The writer thread holds the database until it notices the store is gone.
        let store = reopen(dir.path(), test_encryption(dir.path())).await;
        assert_eq!(store.revision(), 3);
        assert!(store.get("k/a").is_none());
        assert_eq!(store.get("k/b").unwrap().rev, 2);
        assert!(
            store.subscribe(Some(1)).is_err(),
            "history before a restart is gone"
        );
        assert!(store.subscribe(Some(3)).is_ok());
    }
}
