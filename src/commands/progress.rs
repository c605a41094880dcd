//! Progress bars for an interactive `partreel sync`: one line per feed while pulling (records
//! and records/s), then one for the job's queue (clips planned of those queued for this job,
//! clips/s, which system's rate limit binds and the time left at the configured limits) and
//! one for the work (remote writes and files checked, updated as each one is done, not once a
//! batch). Drawn on stderr, only when stdout is a terminal and the report is text; the
//! engine's [`ProgressEvent`]s drive them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use partreel_core::engine::{Progress, ProgressEvent};

/// Freezes a feed's line with its final count, rate and time.
fn end_feed(b: &ProgressBar) {
    if b.is_finished() {
        return;
    }
    let secs = b.elapsed().as_secs_f64().max(0.001);
    b.set_style(
        ProgressStyle::with_template("  pull  {prefix:<28} {pos:>9} records  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    b.finish_with_message(format!("{:>8.0}/s  {secs:.1}s", b.position() as f64 / secs));
}

/// Bars of one sync command (every job).
#[derive(Clone)]
pub struct Bars {
    multi: MultiProgress,
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    feeds: BTreeMap<String, ProgressBar>,
    plan: Option<ProgressBar>,
    apply: Option<ProgressBar>,
    /// The binding system and the whole queue's time at the configured limits (the systems
    /// are worked one after the other within a batch, so their times add up).
    budget: Option<(String, f64)>,
}

/// The plan bar's message: which limit binds, and the time left at the limits for the clips
/// not planned yet.
fn budget_message(budget: &Option<(String, f64)>, done: u64, total: u64) -> String {
    match budget {
        Some((binding, secs)) if total > 0 => {
            let left = secs * (1.0 - done.min(total) as f64 / total as f64);
            format!(
                "{binding} binds · about {} left at the limits",
                partreel_core::engine::estimate::duration(left)
            )
        }
        _ => String::new(),
    }
}

fn spinner_style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .with_key(
            "rate",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0}/s", state.per_sec());
            },
        )
}

impl Bars {
    /// Bars on stderr.
    pub fn new() -> Self {
        Bars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            inner: Arc::default(),
        }
    }

    /// The engine callback of one job.
    pub fn hook(&self, job: &str) -> Progress {
        let bars = self.clone();
        let job = job.to_string();
        Progress(Arc::new(move |event: &ProgressEvent| bars.on(&job, event)))
    }

    fn on(&self, job: &str, event: &ProgressEvent) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        match event {
            ProgressEvent::Page { feed, records } => {
                let key = format!("{job}:{feed}");
                // Feeds are read one after the other: a new one ends the others.
                for (k, b) in &inner.feeds {
                    if *k != key {
                        end_feed(b);
                    }
                }
                let bar = inner.feeds.entry(key).or_insert_with(|| {
                    let b = self.multi.add(ProgressBar::new_spinner());
                    b.set_style(spinner_style(
                        "{spinner} pull  {prefix:<28} {pos:>9} records  {rate:>10}  {elapsed}",
                    ));
                    b.set_prefix(format!("{job} {feed}"));
                    b.enable_steady_tick(Duration::from_millis(200));
                    b
                });
                bar.inc(*records);
            }
            ProgressEvent::Queue { queued, estimate } => {
                for b in inner.feeds.values() {
                    end_feed(b);
                }
                inner.budget = estimate.iter().find(|e| e.binding).map(|b| {
                    let total: f64 = estimate.iter().map(|e| e.seconds).sum();
                    (format!("{} {:.1}/s", b.system, b.per_sec), total)
                });
                let plan = self.multi.add(ProgressBar::new(*queued));
                plan.set_style(spinner_style(
                    "{spinner} plan  {prefix:<28} [{bar:30}] {pos:>7}/{len:<7} clips  {rate:>10}  {msg}",
                ));
                plan.set_prefix(job.to_string());
                plan.set_message(budget_message(&inner.budget, 0, *queued));
                plan.enable_steady_tick(Duration::from_millis(200));
                let apply = self.multi.add(ProgressBar::new_spinner());
                apply.set_style(spinner_style(
                    "{spinner} apply {prefix:<28} {pos:>9} writes   {rate:>10}  {msg}  {elapsed}",
                ));
                apply.set_prefix(job.to_string());
                apply.enable_steady_tick(Duration::from_millis(200));
                if let Some(old) = inner.plan.replace(plan) {
                    old.finish();
                }
                if let Some(old) = inner.apply.replace(apply) {
                    old.finish();
                }
            }
            ProgressEvent::Work { files, writes } => {
                if let Some(apply) = &inner.apply {
                    apply.set_position(*writes);
                    apply.set_message(format!("{files} files checked"));
                }
            }
            ProgressEvent::Batch { clips, writes, .. } => {
                if let Some(plan) = &inner.plan {
                    // Clips queued while the run went on can push past the first count.
                    if *clips > plan.length().unwrap_or(0) {
                        plan.set_length(*clips);
                    }
                    plan.set_position(*clips);
                    let total = plan.length().unwrap_or(0);
                    plan.set_message(budget_message(&inner.budget, *clips, total));
                }
                if let Some(apply) = &inner.apply {
                    apply.set_position(*writes);
                }
            }
        }
    }

    /// Stops drawing (before the report is printed).
    pub fn finish(&self) {
        if let Ok(inner) = self.inner.lock() {
            for b in inner.feeds.values() {
                end_feed(b);
            }
            for b in inner.plan.iter().chain(inner.apply.iter()) {
                b.finish();
            }
        }
        let _ = self.multi.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::budget_message;

    #[test]
    fn the_plan_bar_names_the_binding_limit_and_the_time_left_at_it() {
        let budget = Some(("bynder 14.7/s".to_string(), 1200.0));
        assert_eq!(
            budget_message(&budget, 0, 5000),
            "bynder 14.7/s binds · about 20 min 00 s left at the limits"
        );
        assert_eq!(
            budget_message(&budget, 2500, 5000),
            "bynder 14.7/s binds · about 10 min 00 s left at the limits"
        );
        assert_eq!(budget_message(&None, 0, 5000), "");
        assert_eq!(
            budget_message(&budget, 6000, 5000),
            "bynder 14.7/s binds · about 0 s left at the limits"
        );
    }
}
