//! Request bodies with time limits: the body fails when the client pauses longer than the
//! idle limit, or has not finished by the deadline. Only time spent waiting on the client
//! counts: a handler that is slow to read (writing to disk) is not the client's fault.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// Why a request body stopped before its end (found again in a handler's body error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// No bytes arrived for this long.
    #[error("the request body stalled: nothing arrived for {}", humantime::format_duration(*.0))]
    Idle(Duration),
    /// The whole body did not arrive in time.
    #[error("the request body took longer than {} to arrive", humantime::format_duration(*.0))]
    Deadline(Duration),
    /// The body is over the route's byte limit.
    #[error("the request body is over the {limit}-byte limit")]
    TooLarge {
        /// The limit, bytes.
        limit: u64,
    },
}

/// A body that fails with [`BodyError`] when the client is too slow. Its timers are only
/// made once the body first has to wait (most requests have no body, or one already read).
pub struct TimedBody<B> {
    inner: B,
    idle: Duration,
    total: Duration,
    deadline: Instant,
    timers: Option<Box<Timers>>,
}

struct Timers {
    idle: Pin<Box<Sleep>>,
    idle_armed: bool,
    deadline: Pin<Box<Sleep>>,
}

impl<B> TimedBody<B> {
    /// Wraps `inner`; the deadline starts now.
    pub fn new(inner: B, idle: Duration, total: Duration) -> Self {
        Self {
            inner,
            idle,
            total,
            deadline: Instant::now() + total,
            timers: None,
        }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<B> Body for TimedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            if let Some(t) = this.timers.as_mut() {
                t.idle_armed = false;
            }
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let (idle, deadline) = (this.idle, this.deadline);
        let t = this.timers.get_or_insert_with(|| {
            Box::new(Timers {
                idle: Box::pin(tokio::time::sleep(idle)),
                idle_armed: false,
                deadline: Box::pin(tokio::time::sleep_until(deadline)),
            })
        });
        if t.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(BodyError::Deadline(this.total)))));
        }
        if !t.idle_armed {
            t.idle_armed = true;
            t.idle.as_mut().reset(Instant::now() + idle);
        }
        if t.idle.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(BodyError::Idle(idle)))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A body that fails with [`BodyError::TooLarge`] once more than `limit` bytes arrived (for
/// chunked bodies, whose length is not known up front).
pub struct CappedBody<B> {
    inner: B,
    limit: u64,
    seen: u64,
    finished: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

impl<B> CappedBody<B> {
    /// Wraps `inner`.
    pub fn new(inner: B, limit: u64) -> Self {
        Self {
            inner,
            limit,
            seen: 0,
            finished: None,
        }
    }

    /// Sets `flag` once the body has been read to its end.
    pub fn on_finish(mut self, flag: std::sync::Arc<std::sync::atomic::AtomicBool>) -> Self {
        self.finished = Some(flag);
        self
    }
}

impl<B> Body for CappedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.seen += data.len() as u64;
                    if this.seen > this.limit {
                        let limit = this.limit;
                        return Poll::Ready(Some(Err(Box::new(BodyError::TooLarge { limit }))));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => {
                if let Some(f) = &this.finished {
                    f.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The [`BodyError`] somewhere in an error's chain, if any.
pub fn find_body_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a BodyError> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(b) = err.downcast_ref::<BodyError>() {
            return Some(b);
        }
        cur = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body that yields its chunks with a pause before each.
    struct Slow {
        chunks: Vec<(Duration, &'static [u8])>,
        sleep: Option<Pin<Box<Sleep>>>,
    }

    impl Body for Slow {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            let Some((pause, bytes)) = self.chunks.first().copied() else {
                return Poll::Ready(None);
            };
            let sleep = self
                .sleep
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(pause)));
            match sleep.as_mut().poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(()) => {
                    self.sleep = None;
                    self.chunks.remove(0);
                    Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(bytes)))))
                }
            }
        }
    }

    /// Idle limit 1 s, deadline 2.5 s (real time: wide margins for a loaded machine).
    async fn collect(chunks: Vec<(Duration, &'static [u8])>) -> Result<Bytes, BodyError> {
        let body = TimedBody::new(
            Slow {
                chunks,
                sleep: None,
            },
            Duration::from_secs(1),
            Duration::from_millis(2500),
        );
        match axum::body::to_bytes(axum::body::Body::new(body), usize::MAX).await {
            Ok(b) => Ok(b),
            Err(e) => Err(find_body_error(&e).cloned().expect("a BodyError")),
        }
    }

    #[tokio::test]
    async fn pauses_under_the_idle_limit_pass_and_longer_ones_fail() {
        let ms = Duration::from_millis;
        assert_eq!(
            collect(vec![(ms(10), b"ab"), (ms(10), b"cd")])
                .await
                .unwrap(),
            "abcd"
        );
        assert_eq!(
            collect(vec![(ms(10), b"ab"), (ms(2000), b"cd")]).await,
            Err(BodyError::Idle(ms(1000)))
        );
        // Every pause is under the idle limit, but together they pass the deadline.
        let slow = vec![(ms(700), &b"a"[..]); 6];
        assert_eq!(collect(slow).await, Err(BodyError::Deadline(ms(2500))));
    }
}
