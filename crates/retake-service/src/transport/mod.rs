//! Accepting connections and holding them to time limits, so a client that stalls cannot
//! keep a socket (and its file descriptor) for ever.
//!
//! `axum::serve` has no header-read timeout, so the service runs its own accept loop on
//! hyper: the request line and headers must arrive within `header_timeout` (also how long an
//! idle keep-alive connection stays open); a request body may pause at most `idle_timeout`
//! and must be complete within `request_timeout`; a response the client stops reading is
//! dropped after `idle_timeout`; and at most `max_connections` are open at once (more wait in
//! the kernel's backlog until one closes).

mod body;
mod stall;

pub use body::{find_body_error, BodyError, CappedBody, TimedBody};

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use futures_util::FutureExt as _;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::config::ServiceConfig;

/// The most a request line and headers may take; more is refused with 431.
const MAX_HEADER_BYTES: usize = 64 * 1024;

/// How long a stop waits for requests in flight before cutting them off.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The connection limits, from the service configuration.
#[derive(Clone, Copy, Debug)]
pub struct ConnLimits {
    /// Time to send the request line and headers; also the keep-alive idle limit.
    pub header_timeout: Duration,
    /// Longest pause while a request body arrives or a response is written.
    pub idle_timeout: Duration,
    /// Longest time from the headers to the end of the request body.
    pub request_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
}

impl ConnLimits {
    /// The limits `config` sets.
    pub fn from_config(config: &ServiceConfig) -> Self {
        Self {
            header_timeout: config.header_timeout,
            idle_timeout: config.idle_timeout,
            request_timeout: config.request_timeout,
            max_connections: config.max_connections.max(1),
        }
    }
}

/// Serves `app` on `listener` until `stop` turns true, then lets requests in flight finish
/// for a few seconds and closes what is left.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut conns = JoinSet::new();
    loop {
        while conns.try_join_next().is_some() {}
        // Wait for a free slot before accepting: past the cap, clients queue in the backlog
        // instead of each costing a descriptor here.
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = stopped(&mut stop) => break,
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stopped(&mut stop) => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors or a connection reset before accept: not fatal. Back
                // off so a full descriptor table does not spin the loop.
                tracing::warn!("accepting a connection failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let stop = stop.clone();
        conns.spawn(async move {
            serve_connection(stream, app, limits, stop).await;
            drop(permit);
        });
    }
    drop(listener);
    let drain = async { while conns.join_next().await.is_some() {} };
    if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
        tracing::info!(
            open = conns.len(),
            "closing connections still busy after the grace period"
        );
        conns.abort_all();
        while conns.join_next().await.is_some() {}
    }
    Ok(())
}

/// Resolves once `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    app: Router,
    limits: ConnLimits,
    mut stop: watch::Receiver<bool>,
) {
    let io = TokioIo::new(stall::StallGuard::new(stream, limits.idle_timeout));
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let mut app = app.clone();
        let req = req.map(|b| {
            axum::body::Body::new(TimedBody::new(
                b,
                limits.idle_timeout,
                limits.request_timeout,
            ))
        });
        async move {
            // A handler that panics answers 500 in the one error shape instead of dropping
            // the connection without a word.
            let call = std::panic::AssertUnwindSafe(tower_service::Service::call(&mut app, req));
            Ok::<_, Infallible>(match call.catch_unwind().await {
                Ok(Ok(r)) => r,
                Ok(Err(never)) => match never {},
                Err(_) => {
                    tracing::error!("a request handler panicked");
                    let e = crate::error::ServiceError::Internal("a handler panicked".into());
                    axum::response::IntoResponse::into_response(crate::api::ApiError(e))
                }
            })
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        // Requests here have a few short headers; more is only memory an attacker can
        // make the server hold (431).
        .max_header_size(MAX_HEADER_BYTES)
        .serve_connection(io, service);
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = stopped(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        // Timeouts and clients that hang up are routine; keep them out of the info log.
        tracing::debug!("connection closed: {e}");
    }
}
