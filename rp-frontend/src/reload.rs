//! Reloading files that change while the frontend runs (client allow-lists, the serving
//! certificate and key) without a restart.
//!
//! The files are polled by content, not by modification time or inotify: a Kubernetes Secret
//! volume replaces its files by swapping a symlink to a new directory, which neither the file's
//! mtime nor a watch on the file sees reliably.

use std::path::PathBuf;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Every `interval`, read `paths`; when any content differs from the last read (a file that
/// appears, changes or disappears), call `on_change`. The first check runs one interval after
/// the start and always calls `on_change`, so a change between the caller's initial load and
/// the start of the poll is not missed.
pub fn watch<F>(
    paths: Vec<PathBuf>,
    interval: Duration,
    shutdown: CancellationToken,
    mut on_change: F,
) -> tokio::task::JoinHandle<()>
where
    F: FnMut() + Send + 'static,
{
    tokio::spawn(async move {
        let mut last: Option<Vec<Option<Vec<u8>>>> = None;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
            let mut now = Vec::with_capacity(paths.len());
            for path in &paths {
                now.push(tokio::fs::read(path).await.ok());
            }
            if last.as_ref() != Some(&now) {
                last = Some(now);
                on_change();
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn calls_back_on_each_change_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("list");
        std::fs::write(&file, "a").unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let shutdown = CancellationToken::new();
        let task = watch(
            vec![file.clone()],
            Duration::from_millis(10),
            shutdown.clone(),
            move || {
                counter.fetch_add(1, Ordering::SeqCst);
            },
        );
        let reaches = |n: usize| {
            let calls = calls.clone();
            async move {
                for _ in 0..500 {
                    if calls.load(Ordering::SeqCst) >= n {
                        return calls.load(Ordering::SeqCst);
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                calls.load(Ordering::SeqCst)
            }
        };
        assert_eq!(reaches(1).await, 1, "the first poll always reloads");
        // Ten more polls of an unchanged file call nothing.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // A symlink-swapped Secret file looks like this: same path, new content.
        std::fs::write(&file, "b").unwrap();
        assert_eq!(reaches(2).await, 2);
        std::fs::remove_file(&file).unwrap();
        assert_eq!(reaches(3).await, 3, "a vanished file is a change");
        shutdown.cancel();
        task.await.unwrap();
    }
}
