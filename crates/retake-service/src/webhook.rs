//! Webhooks: the generation JSON POSTed to `callback_url` on dreaming, completed and failed.
//!
//! Workers only enqueue; a dispatcher task delivers. Events of one generation go out in
//! order (each waits for the previous one's delivery or give-up); different generations do
//! not wait for each other. Each delivery is retried with doubling backoff and signed per
//! Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`).

use std::collections::HashMap;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::fetch::Fetcher;

/// One event to deliver.
#[derive(Clone, Debug)]
pub struct WebhookEvent {
    /// Generation id (events of one id are delivered in order).
    pub generation: String,
    /// Target URL.
    pub url: String,
    /// The generation JSON.
    pub body: String,
    /// The key's raw signing secret.
    pub secret: Vec<u8>,
    /// Whether this is the generation's last event.
    pub terminal: bool,
}

/// Retry policy.
#[derive(Clone, Copy, Debug)]
pub struct WebhookPolicy {
    /// Attempts per event.
    pub attempts: u32,
    /// First retry delay; doubles each time, capped at 5 minutes.
    pub backoff: Duration,
    /// Per-attempt timeout.
    pub timeout: Duration,
}

/// Hands events to the dispatcher; cheap to clone, never blocks.
#[derive(Clone)]
pub struct WebhookSender {
    tx: mpsc::UnboundedSender<WebhookEvent>,
}

impl WebhookSender {
    /// Queues an event (dropped with a log line if the dispatcher is gone).
    pub fn send(&self, event: WebhookEvent) {
        if self.tx.send(event).is_err() {
            tracing::warn!("webhook dispatcher stopped; event dropped");
        }
    }
}

/// The Standard Webhooks signature of `body` for message `id` at `timestamp` (Unix s).
pub fn sign(secret: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mut m) => {
            m.update(format!("{id}.{timestamp}.{body}").as_bytes());
            format!("v1,{}", STANDARD.encode(m.finalize().into_bytes()))
        }
        Err(_) => String::new(),
    }
}

/// Starts the dispatcher; it runs until every sender is dropped.
pub fn start(fetcher: Fetcher, policy: WebhookPolicy) -> (WebhookSender, JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<WebhookEvent>();
    let handle = tokio::spawn(async move {
        let mut chains: HashMap<String, JoinHandle<()>> = HashMap::new();
        while let Some(ev) = rx.recv().await {
            chains.retain(|_, h| !h.is_finished());
            let previous = chains.remove(&ev.generation);
            let fetcher = fetcher.clone();
            let id = ev.generation.clone();
            let terminal = ev.terminal;
            let h = tokio::spawn(async move {
                if let Some(p) = previous {
                    let _ = p.await;
                }
                deliver(&fetcher, &ev, policy).await;
            });
            if !terminal {
                chains.insert(id, h);
            }
        }
        for (_, h) in chains {
            let _ = h.await;
        }
    });
    (WebhookSender { tx }, handle)
}

async fn deliver(fetcher: &Fetcher, ev: &WebhookEvent, policy: WebhookPolicy) {
    let url = match fetcher.check(&ev.url) {
        Ok(u) => u,
        Err(e) => {
            tracing::warn!(generation = %ev.generation, "webhook not sent: {e}");
            return;
        }
    };
    let msg_id = format!("msg_{}", uuid::Uuid::new_v4().simple());
    let mut delay = policy.backoff;
    for attempt in 1..=policy.attempts.max(1) {
        let ts = crate::store::now_ms() / 1000;
        let result = fetcher
            .client()
            .post(url.clone())
            .timeout(policy.timeout)
            .header("content-type", "application/json")
            .header("webhook-id", &msg_id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", sign(&ev.secret, &msg_id, ts, &ev.body))
            .body(ev.body.clone())
            .send()
            .await;
        match result {
            Ok(r) if r.status().is_success() => return,
            Ok(r) => {
                tracing::info!(generation = %ev.generation, attempt, status = %r.status(), "webhook refused")
            }
            Err(e) => tracing::info!(generation = %ev.generation, attempt, "webhook failed: {e}"),
        }
        if attempt < policy.attempts {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(300));
        }
    }
    tracing::warn!(generation = %ev.generation, "webhook given up after {} attempts", policy.attempts);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_standard_webhooks_example() {
        // The example from the Standard Webhooks specification.
        let secret = STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = sign(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}
