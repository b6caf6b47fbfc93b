//! Rate limits as pure rules over counters kept on items the requests already write: a fixed
//! window of events, and the login lockout.

use serde::{Deserialize, Serialize};

/// At most one `typing` push per user and channel this often; extra frames are dropped.
pub const TYPING_PUSH_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// At most `max` events per `window_seconds`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub max: u32,
    pub window_seconds: i64,
}

/// Events counted since `started_at` (epoch seconds).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateWindow {
    pub started_at: i64,
    pub count: u32,
}

impl RateWindow {
    /// The window counting one more event at `now`, or how many seconds until one is
    /// allowed. A window starts with the first event after the last one ended.
    pub fn admit(self, now: i64, limit: RateLimit) -> Result<Self, u64> {
        if self.count == 0 || now - self.started_at >= limit.window_seconds {
            return Ok(Self {
                started_at: now,
                count: 1,
            });
        }
        if self.count < limit.max {
            return Ok(Self {
                count: self.count + 1,
                ..self
            });
        }
        Err(seconds_until(self.started_at + limit.window_seconds, now))
    }
}

/// Seconds a member must still wait in a channel with a slow mode of `seconds`, after its
/// latest send at `last_sent_at` (epoch seconds; 0: never sent).
pub fn slow_mode_wait(last_sent_at: i64, now: i64, seconds: u32) -> Option<u64> {
    let next = last_sent_at.checked_add(i64::from(seconds))?;
    (last_sent_at > 0 && next > now).then(|| seconds_until(next, now))
}

fn seconds_until(at: i64, now: i64) -> u64 {
    u64::try_from(at - now).unwrap_or(0).max(1)
}

/// Failed logins of one email: after `FREE_FAILURES` the email is locked for 30 s, doubling
/// with each further failure up to 15 min; a success forgets them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoginAttempts {
    pub failures: u32,
    /// Epoch seconds; 0 when never locked.
    pub locked_until: i64,
}

impl LoginAttempts {
    pub const FREE_FAILURES: u32 = 5;
    const FIRST_LOCK_SECONDS: i64 = 30;
    const LONGEST_LOCK_SECONDS: i64 = 15 * 60;

    /// Seconds left of a lock, if the email is locked at `now` (even the right password is
    /// refused then).
    pub fn locked_for(&self, now: i64) -> Option<u64> {
        (self.locked_until > now).then(|| seconds_until(self.locked_until, now))
    }

    /// Until when `failures` failures lock the email, from `now`; `None` below the free ones.
    pub fn lock_after(failures: u32, now: i64) -> Option<i64> {
        let beyond = failures.checked_sub(Self::FREE_FAILURES)?;
        let seconds = Self::FIRST_LOCK_SECONDS
            .checked_shl(beyond)
            .unwrap_or(i64::MAX)
            .min(Self::LONGEST_LOCK_SECONDS);
        Some(now + seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_mode_waits_out_the_rest_of_its_interval() {
        assert_eq!(slow_mode_wait(0, 1_000, 30), None, "never sent");
        assert_eq!(slow_mode_wait(1_000, 1_000, 30), Some(30));
        assert_eq!(slow_mode_wait(1_000, 1_029, 30), Some(1));
        assert_eq!(slow_mode_wait(1_000, 1_030, 30), None);
        assert_eq!(slow_mode_wait(1_000, 1_000, 0), None, "off");
    }

    const BURST: RateLimit = RateLimit {
        max: 3,
        window_seconds: 10,
    };

    #[test]
    fn a_window_admits_its_burst_then_says_when_the_next_fits() {
        let mut window = RateWindow::default();
        for _ in 0..3 {
            window = window.admit(100, BURST).unwrap();
        }
        assert_eq!(
            window,
            RateWindow {
                started_at: 100,
                count: 3
            }
        );
        assert_eq!(window.admit(104, BURST), Err(6));
        assert_eq!(window.admit(109, BURST), Err(1));
        assert_eq!(
            window.admit(110, BURST),
            Ok(RateWindow {
                started_at: 110,
                count: 1
            }),
            "a new window"
        );
    }

    #[test]
    fn five_failures_lock_for_30_s_doubling_up_to_15_min() {
        assert_eq!(LoginAttempts::lock_after(4, 0), None);
        let locks: Vec<i64> = (5..=12)
            .map(|n| LoginAttempts::lock_after(n, 0).unwrap())
            .collect();
        assert_eq!(locks, [30, 60, 120, 240, 480, 900, 900, 900]);
        assert_eq!(LoginAttempts::lock_after(u32::MAX, 0), Some(900));
        let locked = LoginAttempts {
            failures: 5,
            locked_until: 130,
        };
        assert_eq!(locked.locked_for(100), Some(30));
        assert_eq!(locked.locked_for(130), None);
    }
}
