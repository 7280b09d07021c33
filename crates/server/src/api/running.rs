//! Standard executions running in the background, counted so that a graceful shutdown can
//! wait for them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

#[derive(Default)]
pub struct Background {
    count: AtomicUsize,
    idle: Notify,
}

impl Background {
    /// Runs `task` on the Tokio runtime, counted until it ends.
    pub fn spawn<F>(self: &std::sync::Arc<Self>, task: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.count.fetch_add(1, Ordering::SeqCst);
        let this = std::sync::Arc::clone(self);
        tokio::spawn(async move {
            task.await;
            if this.count.fetch_sub(1, Ordering::SeqCst) == 1 {
                this.idle.notify_waiters();
            }
        });
    }

    pub fn running(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// Waits until no task runs or `grace` has passed; returns how many still run.
    pub async fn drain(&self, grace: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            let notified = self.idle.notified();
            if self.running() == 0 {
                return 0;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.running();
            }
        }
    }
}
