//! Prometheus metrics of this process, rendered as text for `GET /metrics`: queue depth,
//! running jobs, job durations, frames per second, failures by reason, HTTP answers by status.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::domain::FailureCode;

const DURATION_BUCKETS: &[f64] = &[1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0];
const FPS_BUCKETS: &[f64] = &[0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0];

struct Histogram {
    bounds: &'static [f64],
    state: Mutex<(Vec<u64>, f64, u64)>,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            state: Mutex::new((vec![0; bounds.len()], 0.0, 0)),
        }
    }

    fn observe(&self, v: f64) {
        if let Ok(mut s) = self.state.lock() {
            for (i, b) in self.bounds.iter().enumerate() {
                if v <= *b {
                    s.0[i] += 1;
                }
            }
            s.1 += v;
            s.2 += 1;
        }
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let (buckets, sum, count) = match self.state.lock() {
            Ok(s) => s.clone(),
            Err(_) => return,
        };
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (b, n) in self.bounds.iter().zip(&buckets) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {n}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {count}");
    }
}

/// Counters and histograms of this process.
pub struct Metrics {
    completed: AtomicU64,
    failures: [AtomicU64; FailureCode::ALL.len()],
    frames: AtomicU64,
    durations: Histogram,
    fps: Histogram,
    http: Vec<AtomicU64>,
    webhooks_delivered: AtomicU64,
    webhooks_given_up: AtomicU64,
    webhook_attempts_failed: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            completed: AtomicU64::new(0),
            failures: Default::default(),
            frames: AtomicU64::new(0),
            durations: Histogram::new(DURATION_BUCKETS),
            fps: Histogram::new(FPS_BUCKETS),
            http: (0..600).map(|_| AtomicU64::new(0)).collect(),
            webhooks_delivered: AtomicU64::new(0),
            webhooks_given_up: AtomicU64::new(0),
            webhook_attempts_failed: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    /// A job finished with its output: how long it ran and how many frames it wrote.
    pub fn job_completed(&self, took: Duration, frames: usize) {
        self.completed.fetch_add(1, Ordering::Relaxed);
        self.frames.fetch_add(frames as u64, Ordering::Relaxed);
        let s = took.as_secs_f64();
        self.durations.observe(s);
        if s > 0.0 {
            self.fps.observe(frames as f64 / s);
        }
    }

    /// A job failed (in a worker, by a sweep, a cancel or a timeout).
    pub fn job_failed(&self, code: FailureCode, took: Option<Duration>) {
        self.failures[code.index()].fetch_add(1, Ordering::Relaxed);
        if let Some(t) = took {
            self.durations.observe(t.as_secs_f64());
        }
    }

    /// A webhook event reached its receiver.
    pub fn webhook_delivered(&self) {
        self.webhooks_delivered.fetch_add(1, Ordering::Relaxed);
    }

    /// A webhook event was given up after its last attempt (or its URL was refused).
    pub fn webhook_given_up(&self) {
        self.webhooks_given_up.fetch_add(1, Ordering::Relaxed);
    }

    /// One webhook delivery attempt failed (it may be retried).
    pub fn webhook_attempt_failed(&self) {
        self.webhook_attempts_failed.fetch_add(1, Ordering::Relaxed);
    }

    /// An HTTP response went out with `status`.
    pub fn http_response(&self, status: u16) {
        if let Some(c) = self.http.get(status as usize) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The Prometheus text exposition, with the gauges read now.
    pub fn render(&self, queue_depth: u64, running: usize) -> String {
        let mut out = String::with_capacity(4096);
        let _ = writeln!(
            out,
            "# HELP retake_queue_depth Generations waiting for a worker (all processes).\n\
             # TYPE retake_queue_depth gauge\nretake_queue_depth {queue_depth}\n\
             # HELP retake_jobs_running Jobs this process is working on now.\n\
             # TYPE retake_jobs_running gauge\nretake_jobs_running {running}\n\
             # HELP retake_jobs_completed_total Jobs this process finished with an output.\n\
             # TYPE retake_jobs_completed_total counter\nretake_jobs_completed_total {}\n\
             # HELP retake_frames_total Output frames this process wrote.\n\
             # TYPE retake_frames_total counter\nretake_frames_total {}",
            self.completed.load(Ordering::Relaxed),
            self.frames.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP retake_job_failures_total Generations that failed, by reason.\n\
             # TYPE retake_job_failures_total counter"
        );
        for code in FailureCode::ALL {
            let _ = writeln!(
                out,
                "retake_job_failures_total{{reason=\"{}\"}} {}",
                code.as_str(),
                self.failures[code.index()].load(Ordering::Relaxed)
            );
        }
        self.durations.render(
            &mut out,
            "retake_job_duration_seconds",
            "Time from lease to result of jobs this process ran.",
        );
        self.fps.render(
            &mut out,
            "retake_job_frames_per_second",
            "Output frames per second of processing, per completed job.",
        );
        let _ = writeln!(
            out,
            "# HELP retake_webhooks_total Webhook events this process sent, by outcome.\n\
             # TYPE retake_webhooks_total counter\n\
             retake_webhooks_total{{outcome=\"delivered\"}} {}\n\
             retake_webhooks_total{{outcome=\"failed\"}} {}\n\
             # HELP retake_webhook_attempts_failed_total Webhook delivery attempts that failed \
             (retried or not).\n\
             # TYPE retake_webhook_attempts_failed_total counter\n\
             retake_webhook_attempts_failed_total {}",
            self.webhooks_delivered.load(Ordering::Relaxed),
            self.webhooks_given_up.load(Ordering::Relaxed),
            self.webhook_attempts_failed.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP retake_http_responses_total HTTP responses, by status code.\n\
             # TYPE retake_http_responses_total counter"
        );
        for (code, c) in self.http.iter().enumerate() {
            let n = c.load(Ordering::Relaxed);
            if n > 0 {
                let _ = writeln!(out, "retake_http_responses_total{{code=\"{code}\"}} {n}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.job_completed(Duration::from_secs(4), 120);
        m.job_failed(FailureCode::Input, Some(Duration::from_millis(500)));
        m.http_response(200);
        m.http_response(200);
        m.http_response(429);
        m.webhook_delivered();
        m.webhook_attempt_failed();
        m.webhook_attempt_failed();
        m.webhook_given_up();
        let t = m.render(7, 1);
        for want in [
            "retake_queue_depth 7\n",
            "retake_jobs_running 1\n",
            "retake_jobs_completed_total 1\n",
            "retake_frames_total 120\n",
            "retake_job_failures_total{reason=\"input\"} 1\n",
            "retake_job_failures_total{reason=\"crashed\"} 0\n",
            "retake_job_duration_seconds_bucket{le=\"1\"} 1\n",
            "retake_job_duration_seconds_bucket{le=\"5\"} 2\n",
            "retake_job_duration_seconds_bucket{le=\"+Inf\"} 2\n",
            "retake_job_duration_seconds_sum 4.5\n",
            "retake_job_frames_per_second_bucket{le=\"20\"} 0\n",
            "retake_job_frames_per_second_bucket{le=\"50\"} 1\n",
            "retake_http_responses_total{code=\"200\"} 2\n",
            "retake_http_responses_total{code=\"429\"} 1\n",
            "retake_webhooks_total{outcome=\"delivered\"} 1\n",
            "retake_webhooks_total{outcome=\"failed\"} 1\n",
            "retake_webhook_attempts_failed_total 2\n",
        ] {
            assert!(t.contains(want), "missing {want:?} in\n{t}");
        }
    }
}
