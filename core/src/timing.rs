//! Time helpers shared by every prober of the agent (the discovery engine, the SNMP
//! sweep, the unprivileged fallback): a rate pacer and a round-trip estimator. Time is
//! passed in as nanoseconds from the caller's own origin, as everywhere in this crate.

use core::time::Duration;

/// A rate limiter (GCRA, the generic cell rate algorithm): one event per `interval`,
/// with up to `burst` events back to back.
#[derive(Clone, Copy, Debug)]
pub struct Pacer {
    /// Theoretical arrival time of the next event, ns.
    tat: u64,
    interval: u64,
    tau: u64,
}

impl Pacer {
    /// A pacer not set up yet (a placeholder until [`Pacer::new`]).
    pub const IDLE: Pacer = Pacer {
        tat: 0,
        interval: 0,
        tau: 0,
    };

    /// `rate` events per second (at least one), up to `burst` (at least one) at once.
    pub fn new(rate: u32, burst: u32) -> Pacer {
        let interval = (1_000_000_000 / u64::from(rate.max(1))).max(1);
        Pacer {
            tat: 0,
            interval,
            tau: interval * u64::from(burst.max(1) - 1),
        }
    }

    /// Whether an event may happen at `now`.
    pub fn allows(&self, now: u64) -> bool {
        self.tat <= now + self.tau
    }

    /// When the next event may happen (may be in the past).
    pub fn ready_at(&self) -> u64 {
        self.tat.saturating_sub(self.tau)
    }

    /// Counts an event at `now`.
    pub fn take(&mut self, now: u64) {
        self.tat = self.tat.max(now) + self.interval;
    }

    /// Reserves the next slot at or after `now` and returns it: the caller waits
    /// until then (several waiters get successive slots).
    pub fn reserve(&mut self, now: u64) -> u64 {
        let at = self.ready_at().max(now);
        self.take(at);
        at
    }
}

/// A smoothed round-trip time (RFC 6298): feed it the times of answers to probes sent
/// once (Karn), and ask for the retransmission timeout.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rtt {
    srtt: Duration,
    rttvar: Duration,
    samples: u32,
}

impl Rtt {
    /// No sample yet (what `Rtt::default()` is, as a constant).
    pub const NONE: Rtt = Rtt {
        srtt: Duration::ZERO,
        rttvar: Duration::ZERO,
        samples: 0,
    };

    /// One measured round trip.
    pub fn sample(&mut self, r: Duration) {
        if self.samples == 0 {
            self.srtt = r;
            self.rttvar = r / 2;
        } else {
            let d = self.srtt.abs_diff(r);
            self.rttvar = (self.rttvar * 3 + d) / 4;
            self.srtt = (self.srtt * 7 + r) / 8;
        }
        self.samples = self.samples.saturating_add(1);
    }

    /// How many round trips were measured.
    pub fn samples(&self) -> u32 {
        self.samples
    }

    /// srtt + 4 rttvar (`initial` before any sample), between `floor` and `ceiling`
    /// (a floor above the ceiling is the ceiling).
    pub fn rto(&self, initial: Duration, floor: Duration, ceiling: Duration) -> Duration {
        let t = if self.samples == 0 {
            initial
        } else {
            self.srtt + self.rttvar * 4
        };
        t.clamp(floor.min(ceiling), ceiling)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pacer_allows_a_burst_then_the_rate() {
        let mut p = Pacer::new(1000, 3); // 1 ms apart
        for _ in 0..3 {
            assert!(p.allows(0));
            p.take(0);
        }
        assert!(!p.allows(0));
        assert_eq!(p.ready_at(), 1_000_000);
        assert!(p.allows(1_000_000));
        // Reservations line waiters up 1 ms apart.
        let mut q = Pacer::new(1000, 1);
        assert_eq!(
            [q.reserve(0), q.reserve(0), q.reserve(5)],
            [0, 1_000_000, 2_000_000]
        );
        assert_eq!(q.reserve(10_000_000), 10_000_000);
    }

    #[test]
    fn rto_starts_at_initial_then_follows_answers_between_floor_and_ceiling() {
        let ms = Duration::from_millis;
        let (floor, ceiling) = (ms(250), ms(1000));
        let mut r = Rtt::default();
        assert_eq!(r.rto(ceiling, floor, ceiling), ceiling);
        for _ in 0..20 {
            r.sample(ms(1));
        }
        assert_eq!(r.rto(ceiling, floor, ceiling), floor);
        for _ in 0..20 {
            r.sample(ms(400));
        }
        let t = r.rto(ceiling, floor, ceiling);
        assert!(t > ms(400) && t <= ceiling);
        for _ in 0..20 {
            r.sample(ms(5000));
        }
        assert_eq!(r.rto(ceiling, floor, ceiling), ceiling);
        // A floor above the ceiling is the ceiling.
        assert_eq!(r.rto(ms(1), ms(250), ms(100)), ms(100));
    }
}
