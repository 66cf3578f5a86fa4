//! Fault injection for tests: stall every request of one authenticated user until released, as
//! if the API server (or the network to it) hung for that client only. Tests use it to prove that
//! a leader whose API calls stall steps down before a standby takes over.
//!
//! Only reachable in-process, through [`crate::Devcluster::faults`] (no HTTP endpoint, no flag):
//! a devcluster started by `aro devcluster` has no way to turn it on. Users are the authenticated
//! names (the client certificate's CN; `devcluster-admin` for the admin token), so a test gives
//! each client its own identity with [`crate::Devcluster::client_as`].

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::watch;

/// The paused users of one server. Cheap to clone (a handle).
#[derive(Clone)]
pub struct Faults {
    paused: Arc<watch::Sender<BTreeSet<String>>>,
    held: Arc<AtomicUsize>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            paused: Arc::new(watch::Sender::new(BTreeSet::new())),
            held: Arc::new(AtomicUsize::new(0)),
        }
    }
}

impl Faults {
    /// Hold every request of `user` (new and arriving) before it is processed, until
    /// [`Faults::release`]. A held request whose client gives up (closes the connection or
    /// resets the stream) is dropped unprocessed.
    pub fn pause(&self, user: &str) {
        self.paused.send_modify(|p| {
            p.insert(user.to_string());
        });
        tracing::warn!(user, "fault injection: requests of this user are held");
    }

    /// Let `user`'s held and future requests through.
    pub fn release(&self, user: &str) {
        self.paused.send_modify(|p| {
            p.remove(user);
        });
        tracing::warn!(user, "fault injection: requests of this user flow again");
    }

    /// How many requests are held right now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::SeqCst)
    }

    /// The hook of the request path: returns at once unless `user` is paused.
    pub(crate) async fn hold(&self, user: &str) {
        if !self.paused.borrow().contains(user) {
            return;
        }
        self.held.fetch_add(1, Ordering::SeqCst);
        let _held = Held(self.held.clone());
        let mut rx = self.paused.subscribe();
        let _ = rx.wait_for(|p| !p.contains(user)).await;
    }
}

/// Counts a held request until it is released or dropped.
struct Held(Arc<AtomicUsize>);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn only_the_paused_user_is_held_until_released() {
        let faults = Faults::default();
        faults.hold("a").await;
        faults.pause("a");
        faults.hold("b").await;
        let held = tokio::spawn({
            let faults = faults.clone();
            async move { faults.hold("a").await }
        });
        while faults.held() == 0 {
            tokio::task::yield_now().await;
        }
        assert!(!held.is_finished());
        faults.release("a");
        held.await.unwrap();
        assert_eq!(faults.held(), 0);
        // A held request dropped by its client no longer counts.
        faults.pause("a");
        let dropped = tokio::time::timeout(Duration::from_millis(10), faults.hold("a")).await;
        assert!(dropped.is_err());
        assert_eq!(faults.held(), 0);
    }
}
