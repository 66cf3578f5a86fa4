//! Exponential backoff with jitter: how long to wait before the `failures`-th retry. The delay
//! doubles per failure up to a cap, and half of it is random so that many retriers (controller
//! workers, frontend replicas re-watching after a management API outage) do not retry in step.

use std::time::Duration;

/// The delay before retrying after `failures` consecutive failures (1 = the first failure):
/// `initial * 2^(failures-1)` capped at `max`, of which a random part of up to half is taken
/// off. Never zero when `initial` is not.
pub fn exponential_with_jitter(failures: u32, initial: Duration, max: Duration) -> Duration {
    let ceiling = exponential(failures, initial, max);
    let half = ceiling / 2;
    half + half.mul_f64(rand::random::<f64>())
}

/// The delay without jitter: `initial * 2^(failures-1)`, capped at `max`.
pub fn exponential(failures: u32, initial: Duration, max: Duration) -> Duration {
    let doublings = failures.saturating_sub(1).min(31);
    initial.saturating_mul(1u32 << doublings).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_per_failure_up_to_the_cap() {
        let (initial, max) = (Duration::from_millis(100), Duration::from_secs(5));
        assert_eq!(exponential(0, initial, max), initial);
        assert_eq!(exponential(1, initial, max), initial);
        assert_eq!(exponential(2, initial, max), Duration::from_millis(200));
        assert_eq!(exponential(4, initial, max), Duration::from_millis(800));
        assert_eq!(exponential(7, initial, max), max);
        assert_eq!(exponential(u32::MAX, initial, max), max);
    }

    #[test]
    fn jitter_takes_off_at_most_half() {
        let (initial, max) = (Duration::from_millis(100), Duration::from_secs(5));
        let delays: Vec<_> = (0..200)
            .map(|_| exponential_with_jitter(3, initial, max))
            .collect();
        for delay in &delays {
            assert!(
                (Duration::from_millis(200)..=Duration::from_millis(400)).contains(delay),
                "{delay:?}"
            );
        }
        // Random: 200 draws are not all the same.
        assert!(delays.iter().any(|d| *d != delays[0]));
        assert!(exponential_with_jitter(1, initial, max) >= Duration::from_millis(50));
    }
}
