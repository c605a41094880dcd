//! How many API requests a run needs per system, and how long they take at the configured
//! limits: what `sync --dry-run` prints after its plan (for the writes planned) and what
//! `partreel doctor` says per 1,000 new clips. The counts come from each connector's own cost
//! model ([`PlmConnector::requests_for_links`], [`DamConnector::requests_for_clips`]); the rate
//! is the configured limit less the headroom the client keeps
//! ([`crate::http::ratelimit::RATE_SHARE`]).

use serde::Serialize;

use crate::connector::{DamConnector, PlmConnector, RateLimitReport};

/// One system's share of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// Configured system name.
    pub system: String,
    /// API requests needed.
    pub requests: u64,
    /// Requests a second partreel sends to it at most.
    pub per_sec: f64,
    /// Seconds those requests take at that rate.
    pub seconds: f64,
    /// The system whose requests take longest: its limit sets the run's pace.
    pub binding: bool,
}

/// The requests a planned set of writes needs: `creates` and `updates` of link records
/// (retirements are updates) on the PLM, `files` clip files to check and `writes` clip
/// metadata writes on the DAM.
pub fn for_writes(
    plm: &dyn PlmConnector,
    dam: &dyn DamConnector,
    creates: u64,
    updates: u64,
    files: u64,
    writes: u64,
) -> Vec<Estimate> {
    let mut out = vec![
        at_limit(
            plm.system(),
            plm.requests_for_links(creates, updates),
            &plm.rate_limits(),
        ),
        at_limit(
            dam.system(),
            dam.requests_for_clips(files, writes),
            &dam.rate_limits(),
        ),
    ];
    mark_binding(&mut out);
    out
}

/// `requests` to `system` at its configured limit.
pub fn at_limit(system: &str, requests: u64, limit: &RateLimitReport) -> Estimate {
    let per_sec = if limit.per_secs == 0 {
        0.0
    } else {
        f64::from(limit.requests) / f64::from(limit.per_secs) * crate::http::ratelimit::RATE_SHARE
    };
    let seconds = if per_sec > 0.0 {
        requests as f64 / per_sec
    } else {
        0.0
    };
    Estimate {
        system: system.to_string(),
        requests,
        per_sec,
        seconds,
        binding: false,
    }
}

/// Marks the slowest system as binding (none when nothing is needed).
pub fn mark_binding(estimates: &mut [Estimate]) {
    let slowest = estimates
        .iter()
        .enumerate()
        .filter(|(_, e)| e.requests > 0)
        .max_by(|a, b| a.1.seconds.total_cmp(&b.1.seconds))
        .map(|(i, _)| i);
    for (i, e) in estimates.iter_mut().enumerate() {
        e.binding = Some(i) == slowest;
    }
}

/// A duration for people: `45 s`, `2 min 15 s`, `3 h 05 min`.
pub fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

/// One line: `bynder  about 2,024 requests, 2 min 18 s at 14.7 requests/s (binding)`.
pub fn line(e: &Estimate) -> String {
    format!(
        "{:<12} about {} requests, {} at {:.1} requests/s{}",
        e.system,
        thousands(e.requests),
        duration(e.seconds),
        e.per_sec,
        if e.binding { " (binding)" } else { "" }
    )
}

/// `2024` → `2,024`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(requests: u32, per_secs: u32) -> RateLimitReport {
        RateLimitReport {
            requests,
            per_secs,
            ..RateLimitReport::default()
        }
    }

    #[test]
    fn time_follows_the_limit_less_its_headroom_and_the_slowest_binds() {
        let mut v = vec![
            at_limit("windchill", 24, &limit(20, 1)),
            at_limit("bynder", 2024, &limit(4500, 300)),
        ];
        mark_binding(&mut v);
        assert!((v[1].per_sec - 14.7).abs() < 1e-9, "{v:?}");
        assert!((v[1].seconds - 2024.0 / 14.7).abs() < 1e-6);
        assert!(!v[0].binding && v[1].binding);
        assert_eq!(
            line(&v[1]),
            "bynder       about 2,024 requests, 2 min 18 s at 14.7 requests/s (binding)"
        );
        let mut none = vec![at_limit("windchill", 0, &limit(20, 1))];
        mark_binding(&mut none);
        assert!(!none[0].binding, "nothing to do binds nothing");
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(duration(0.4), "0 s");
        assert_eq!(duration(59.6), "1 min 00 s");
        assert_eq!(duration(138.0), "2 min 18 s");
        assert_eq!(duration(3600.0 * 5.0 + 5.0 * 60.0), "5 h 05 min");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
    }
}
