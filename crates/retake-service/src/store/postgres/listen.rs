//! Wake-ups across machines: one connection per process LISTENs on `retake_jobs` (a job was
//! queued or requeued) and `retake_settled` (a generation finished) and wakes the waiters of
//! this process. It reconnects after losing the database; polling covers the gap.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::Notify;
use tokio_postgres::AsyncMessage;

/// Listens until the task is aborted.
pub(super) async fn run(config: tokio_postgres::Config, jobs: Arc<Notify>, settled: Arc<Notify>) {
    let mut delay = Duration::from_millis(200);
    loop {
        match config.connect(tokio_postgres::NoTls).await {
            Ok((client, mut connection)) => {
                let mut messages =
                    futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
                // The connection only makes progress while its messages are polled, so the
                // LISTEN runs beside the loop that drains them.
                let listening = client.batch_execute("LISTEN retake_jobs; LISTEN retake_settled");
                tokio::pin!(listening);
                let mut subscribed = false;
                loop {
                    tokio::select! {
                        r = &mut listening, if !subscribed => {
                            if let Err(e) = r {
                                tracing::warn!("cannot LISTEN for new jobs: {e}");
                                break;
                            }
                            subscribed = true;
                            delay = Duration::from_millis(200);
                            // Whatever was queued while we were away.
                            jobs.notify_waiters();
                            settled.notify_waiters();
                        }
                        m = messages.next() => match m {
                            Some(Ok(AsyncMessage::Notification(n))) => {
                                if n.channel() == "retake_jobs" {
                                    jobs.notify_waiters();
                                } else {
                                    settled.notify_waiters();
                                }
                            }
                            Some(Ok(_)) => {}
                            Some(Err(e)) => {
                                tracing::warn!("lost the database notification connection: {e}");
                                break;
                            }
                            None => break,
                        }
                    }
                }
            }
            Err(e) => tracing::debug!("notification connection: {e}"),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}
