//! Turns at the shared emulators. Tests share one DynamoDB Local on a small machine, and a
//! test that loads it like a crowd (150 handshakes at once) can slow every call past the
//! functions' 2 s attempt timeout: the crowd's own retries then keep it saturated, and its
//! neighbour's calls fail with it. Such a test takes the emulators alone; every other
//! environment shares them.

use std::cell::RefCell;
use std::sync::{Arc, LazyLock, Weak};

use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

static EMULATORS: LazyLock<Arc<RwLock<()>>> = LazyLock::new(|| Arc::new(RwLock::new(())));

thread_local! {
    /// The share this test thread already holds: a test building a second environment
    /// reuses it, where a fresh one would queue behind a waiting lone test that waits for it.
    static HELD: RefCell<Weak<OwnedRwLockReadGuard<()>>> = const { RefCell::new(Weak::new()) };
}

/// Held by a test environment for its life.
pub enum Turn {
    Shared(#[allow(dead_code)] Arc<OwnedRwLockReadGuard<()>>),
    Alone(#[allow(dead_code)] OwnedRwLockWriteGuard<()>),
}

impl Turn {
    /// Alongside other tests; waits while a lone test runs (and, the lock being fair, once
    /// one is waiting).
    pub async fn shared() -> Self {
        if let Some(held) = HELD.with(|held| held.borrow().upgrade()) {
            return Self::Shared(held);
        }
        let share = Arc::new(EMULATORS.clone().read_owned().await);
        HELD.with(|held| *held.borrow_mut() = Arc::downgrade(&share));
        Self::Shared(share)
    }

    /// With no other test at the emulators: waits for the running ones to finish.
    pub async fn alone() -> Self {
        Self::Alone(EMULATORS.clone().write_owned().await)
    }
}
