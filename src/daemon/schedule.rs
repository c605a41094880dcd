//! Job schedules: cron expressions read the way `crontab` reads them, evaluated in UTC.
//!
//! An expression has 5 fields (`minute hour day-of-month month day-of-week`) or 6 with
//! seconds first. Day of week is `0`–`7` (both `0` and `7` are Sunday) or a name (`MON`,
//! `Tue`, …), as in crontab; the `cron` crate underneath counts Sunday as 1, so numeric days
//! are translated before it parses them. [`jitter`] draws the random delay added to each
//! scheduled run.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;

/// An expression that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// Not a cron expression.
    #[error(
        "{expr:?} is not a valid cron expression: {message} (want 5 fields `minute hour \
         day-of-month month day-of-week`, or 6 with seconds first, e.g. \"*/15 * * * *\")"
    )]
    Invalid {
        /// The expression as written.
        expr: String,
        /// What is wrong.
        message: String,
    },
    /// A valid expression with no future time (e.g. February 30th).
    #[error("{expr:?} never fires")]
    Never {
        /// The expression as written.
        expr: String,
    },
}

/// A parsed schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    expr: String,
    cron: cron::Schedule,
}

impl Schedule {
    /// The expression as written.
    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// The first firing time strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.after(&after).next()
    }
}

/// Parses a 5- or 6-field cron expression.
pub fn parse(expr: &str) -> Result<Schedule, ScheduleError> {
    let invalid = |message: String| ScheduleError::Invalid {
        expr: expr.to_string(),
        message,
    };
    let fields: Vec<&str> = expr.split_whitespace().collect();
    let (seconds, rest) = match fields.len() {
        5 => ("0", &fields[..]),
        6 => (fields[0], &fields[1..]),
        n => return Err(invalid(format!("it has {n} fields"))),
    };
    for (field, (name, lo, hi)) in std::iter::once(seconds)
        .chain(rest[..4].iter().copied())
        .zip([
            ("second", 0, 59),
            ("minute", 0, 59),
            ("hour", 0, 23),
            ("day of month", 1, 31),
            ("month", 1, 12),
        ])
    {
        check_range(field, name, lo, hi).map_err(invalid)?;
    }
    let dow = crontab_days(rest[4]).map_err(invalid)?;
    let full = format!(
        "{seconds} {} {} {} {} {dow}",
        rest[0], rest[1], rest[2], rest[3]
    );
    let cron = cron::Schedule::from_str(&full).map_err(|e| invalid(e.to_string()))?;
    let schedule = Schedule {
        expr: expr.to_string(),
        cron,
    };
    if schedule.next_after(Utc::now()).is_none() {
        return Err(ScheduleError::Never {
            expr: expr.to_string(),
        });
    }
    Ok(schedule)
}

/// Checks the numbers of one field (`5`, `1-5`, `*/15`, `0-30/5`, lists of them) against the
/// field's range, so the message says which field and what range (the `cron` crate's own
/// message for `60` in the minutes is "Minutes must be less than 59"). Names pass through.
fn check_range(field: &str, name: &str, lo: u32, hi: u32) -> Result<(), String> {
    for item in field.split(',') {
        let base = item.split_once('/').map_or(item, |(b, _)| b);
        if base == "*" || base == "?" || base.chars().any(|c| c.is_ascii_alphabetic()) {
            continue;
        }
        let (a, z) = base.split_once('-').unwrap_or((base, base));
        for n in [a, z] {
            match n.parse::<u32>() {
                Ok(v) if (lo..=hi).contains(&v) => {}
                Ok(v) => return Err(format!("{name} {v} is out of range {lo}-{hi}")),
                Err(_) => return Err(format!("{name} {n:?} is not a number")),
            }
        }
    }
    Ok(())
}

/// Translates a crontab day-of-week field (0–7, Sunday = 0 or 7) into the `cron` crate's
/// (1–7, Sunday = 1). Numeric items, ranges and steps are expanded into lists; names, `*` and
/// `?` pass through.
fn crontab_days(field: &str) -> Result<String, String> {
    if field == "*" || field == "?" {
        return Ok(field.to_string());
    }
    let mut days: Vec<u32> = Vec::new();
    let mut named: Vec<&str> = Vec::new();
    for item in field.split(',') {
        if item.chars().any(|c| c.is_ascii_alphabetic()) {
            named.push(item);
            continue;
        }
        let (base, step) = match item.split_once('/') {
            Some((b, s)) => (
                b,
                s.parse::<u32>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("day of week step {s:?} is not a positive number"))?,
            ),
            None => (item, 1),
        };
        let day = |s: &str| {
            s.parse::<u32>()
                .ok()
                .filter(|d| *d <= 7)
                .ok_or_else(|| format!("day of week {s:?} is not 0-7 or a name"))
        };
        let (from, to) = match base {
            "*" => (0, 6),
            b => match b.split_once('-') {
                Some((a, z)) => (day(a)?, day(z)?),
                None if item.contains('/') => (day(b)?, 6),
                None => (day(b)?, day(b)?),
            },
        };
        if from > to {
            return Err(format!("day of week range {base:?} runs backwards"));
        }
        days.extend((from..=to).step_by(step as usize).map(|d| d % 7 + 1));
    }
    days.sort_unstable();
    days.dedup();
    let mut out: Vec<String> = days.iter().map(u32::to_string).collect();
    out.extend(named.iter().map(|s| s.to_string()));
    Ok(out.join(","))
}

/// A random delay of at most `bound` (whole milliseconds).
pub fn jitter(bound: Duration) -> Duration {
    let ms = bound.as_millis().min(u128::from(u64::MAX)) as u64;
    if ms == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(rand::rng().random_range(0..=ms))
}

#[cfg(test)]
mod tests {
    use chrono::{Datelike, TimeZone, Timelike, Weekday};

    use super::*;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn five_fields_fire_on_the_minute() {
        let s = parse("*/15 * * * *").unwrap();
        let next = s.next_after(at(2026, 1, 5, 10, 7)).unwrap();
        assert_eq!(next, at(2026, 1, 5, 10, 15));
    }

    #[test]
    fn six_fields_have_seconds_first() {
        let s = parse("*/10 * * * * *").unwrap();
        let t = at(2026, 1, 5, 10, 7);
        assert_eq!(s.next_after(t).unwrap(), t + chrono::Duration::seconds(10));
    }

    #[test]
    fn weekdays_count_like_crontab() {
        // 2026-01-03 is a Saturday: "1-5" (Monday to Friday) next fires on Monday the 5th.
        let s = parse("0 9 * * 1-5").unwrap();
        let next = s.next_after(at(2026, 1, 3, 12, 0)).unwrap();
        assert_eq!(next.weekday(), Weekday::Mon);
        assert_eq!((next.day(), next.hour()), (5, 9));
        for sunday in ["0 9 * * 0", "0 9 * * 7", "0 9 * * SUN"] {
            let next = parse(sunday).unwrap().next_after(at(2026, 1, 5, 0, 0));
            assert_eq!(next.unwrap().weekday(), Weekday::Sun, "{sunday}");
        }
        let s = parse("0 0 * * */2").unwrap();
        let days: Vec<Weekday> = s
            .cron
            .after(&at(2026, 1, 4, 1, 0))
            .take(4)
            .map(|t| t.weekday())
            .collect();
        assert_eq!(
            days,
            [Weekday::Tue, Weekday::Thu, Weekday::Sat, Weekday::Sun]
        );
    }

    #[test]
    fn bad_expressions_are_explained() {
        for bad in [
            "",
            "* * * *",
            "61 * * * *",
            "* * * * 9",
            "every hour",
            "* * * * 5-1",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(
                e.to_string().contains("not a valid cron expression"),
                "{bad}: {e}"
            );
        }
        assert!(matches!(
            parse("0 0 30 2 *"),
            Err(ScheduleError::Never { .. })
        ));
        // The field and its range, not the `cron` crate's "less than 59".
        let e = parse("60 * * * *").unwrap_err().to_string();
        assert!(e.contains("minute 60 is out of range 0-59"), "{e}");
        let e = parse("0 24 * * *").unwrap_err().to_string();
        assert!(e.contains("hour 24 is out of range 0-23"), "{e}");
        let e = parse("0 0 0 * *").unwrap_err().to_string();
        assert!(e.contains("day of month 0 is out of range 1-31"), "{e}");
        assert!(parse("0-59/5 0-23 1-31 1-12 *").is_ok());
        assert!(parse("0 9 * JAN-MAR MON").is_ok());
    }

    #[test]
    fn jitter_stays_in_bounds() {
        assert_eq!(jitter(Duration::ZERO), Duration::ZERO);
        for _ in 0..100 {
            assert!(jitter(Duration::from_secs(2)) <= Duration::from_secs(2));
        }
    }
}
