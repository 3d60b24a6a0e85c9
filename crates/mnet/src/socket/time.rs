//! Timers in the engine's time: sleeping and timeouts work the same on a
//! real clock and in the simulator's virtual time.

use alloc::boxed::Box;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use super::Net;
use crate::error::{Error, Result};
use crate::stack::TimerId;
use crate::time::{Duration, Instant};

/// A future that completes once the engine's time reaches a deadline.
pub struct Sleep {
    net: Net,
    at: Instant,
    timer: Option<TimerId>,
}

impl Net {
    /// Complete after `d` of engine time.
    pub fn sleep(&self, d: Duration) -> Sleep {
        let at = self.now() + d;
        self.sleep_until(at)
    }

    /// Complete once engine time reaches `at`.
    pub fn sleep_until(&self, at: Instant) -> Sleep {
        Sleep {
            net: self.clone(),
            at,
            timer: None,
        }
    }
}

impl Future for Sleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let at = self.at;
        let old = self.timer.take();
        let r = self.net.with(|s| {
            if let Some(t) = old {
                s.cancel_timer(t);
            }
            if s.now() >= at {
                None
            } else {
                Some(s.add_timer(at, cx.waker().clone()))
            }
        });
        match r {
            None => Poll::Ready(()),
            Some(t) => {
                self.timer = Some(t);
                Poll::Pending
            }
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(t) = self.timer.take() {
            self.net.with(|s| s.cancel_timer(t));
        }
    }
}

/// Run `fut` for at most `d` of engine time; `Err(TimedOut)` after that.
pub async fn timeout<F: Future>(net: &Net, d: Duration, fut: F) -> Result<F::Output> {
    let mut fut = Box::pin(fut);
    let mut sleep = net.sleep(d);
    core::future::poll_fn(move |cx| {
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(Ok(v));
        }
        match Pin::new(&mut sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Error::TimedOut)),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}
