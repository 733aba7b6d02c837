//! Webhooks: the generation JSON POSTed to `callback_url` on dreaming, completed and failed.
//!
//! Workers only enqueue; a dispatcher task delivers. Events of one generation go out in
//! order (each waits for the previous one's delivery or give-up); different generations do
//! not wait for each other. Each delivery is retried with doubling backoff and signed per
//! Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`).
//! The message id comes from the generation and the event, so an event sent again (by a
//! job run again after a crash) carries the id a receiver already saw. How each delivery
//! went is stored with the generation, and counted in the metrics.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::fetch::Fetcher;
use crate::metrics::Metrics;
use crate::store::{now_ms, DeliveryState, Store, WebhookDelivery};

/// One event to deliver.
#[derive(Clone, Debug)]
pub struct WebhookEvent {
    /// Generation id (events of one id are delivered in order).
    pub generation: String,
    /// The state announced: `dreaming`, `completed` or `failed`.
    pub event: String,
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

/// The Standard Webhooks message id of one event of one generation: the same however many
/// times the event is sent.
pub fn message_id(generation: &str, event: &str) -> String {
    let g = uuid::Uuid::parse_str(generation)
        .map(|u| u.simple().to_string())
        .unwrap_or_else(|_| generation.replace('-', ""));
    format!("msg_{g}_{event}")
}

/// What the dispatcher reports to: the store (per-generation status) and the metrics.
#[derive(Clone)]
pub struct WebhookLog {
    /// Where delivery status is kept.
    pub store: Arc<dyn Store>,
    /// Counters of deliveries.
    pub metrics: Arc<Metrics>,
}

impl WebhookLog {
    async fn record(
        &self,
        ev: &WebhookEvent,
        state: DeliveryState,
        attempts: u32,
        error: Option<String>,
    ) {
        let delivery = WebhookDelivery {
            event: ev.event.clone(),
            state,
            attempts,
            last_error: error,
            updated_at: now_ms(),
        };
        if let Err(e) = self.store.record_webhook(&ev.generation, delivery).await {
            tracing::warn!(generation = %ev.generation, "recording a webhook delivery failed: {e}");
        }
    }
}

/// Starts the dispatcher; it runs until every sender is dropped.
pub fn start(
    fetcher: Fetcher,
    policy: WebhookPolicy,
    log: WebhookLog,
) -> (WebhookSender, JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<WebhookEvent>();
    let handle = tokio::spawn(async move {
        let mut chains: HashMap<String, JoinHandle<()>> = HashMap::new();
        while let Some(ev) = rx.recv().await {
            chains.retain(|_, h| !h.is_finished());
            let previous = chains.remove(&ev.generation);
            let fetcher = fetcher.clone();
            let log = log.clone();
            let id = ev.generation.clone();
            let terminal = ev.terminal;
            let h = tokio::spawn(async move {
                if let Some(p) = previous {
                    let _ = p.await;
                }
                deliver(&fetcher, &ev, policy, &log).await;
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

async fn deliver(fetcher: &Fetcher, ev: &WebhookEvent, policy: WebhookPolicy, log: &WebhookLog) {
    let url = match fetcher.check(&ev.url) {
        Ok(u) => u,
        Err(e) => {
            tracing::warn!(generation = %ev.generation, "webhook not sent: {e}");
            log.metrics.webhook_given_up();
            log.record(ev, DeliveryState::Failed, 0, Some(e.to_string()))
                .await;
            return;
        }
    };
    let msg_id = message_id(&ev.generation, &ev.event);
    let attempts = policy.attempts.max(1);
    let mut delay = policy.backoff;
    let mut last_error = String::new();
    for attempt in 1..=attempts {
        let ts = now_ms() / 1000;
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
            Ok(r) if r.status().is_success() => {
                log.metrics.webhook_delivered();
                log.record(ev, DeliveryState::Delivered, attempt, None)
                    .await;
                return;
            }
            Ok(r) => {
                last_error = format!("the receiver answered HTTP {}", r.status());
                tracing::info!(generation = %ev.generation, attempt, status = %r.status(), "webhook refused");
            }
            Err(e) => {
                last_error = crate::fetch::request_error("callback_url", &e).to_string();
                tracing::info!(generation = %ev.generation, attempt, "webhook failed: {e}");
            }
        }
        log.metrics.webhook_attempt_failed();
        if attempt < attempts {
            log.record(
                ev,
                DeliveryState::Pending,
                attempt,
                Some(last_error.clone()),
            )
            .await;
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(300));
        }
    }
    tracing::warn!(generation = %ev.generation, "webhook given up after {attempts} attempts: {last_error}");
    log.metrics.webhook_given_up();
    log.record(ev, DeliveryState::Failed, attempts, Some(last_error))
        .await;
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

    #[test]
    fn one_event_has_one_message_id() {
        let g = "0b6f8c1e-3a4d-4c2b-9f1e-2d3c4b5a6978";
        assert_eq!(message_id(g, "dreaming"), message_id(g, "dreaming"));
        assert_ne!(message_id(g, "dreaming"), message_id(g, "completed"));
        assert_eq!(
            message_id(g, "completed"),
            "msg_0b6f8c1e3a4d4c2b9f1e2d3c4b5a6978_completed"
        );
    }
}
