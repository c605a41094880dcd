//! What a run did, for people (`partreel sync`) and for machines (`--json`, the run history).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// A field the two sides disagree on: either changed on both sides since the last sync
/// (`three_way`: neither side was written), or the DAM's hand-set visible-watermark field
/// contradicting the verdict computed from the file (`provenance`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    /// `three_way` or `provenance`.
    pub kind: ConflictKind,
    /// Link id.
    pub link_id: String,
    /// DAM asset id.
    pub asset_id: String,
    /// Part number / revision.
    pub part: String,
    /// Canonical field.
    pub field: String,
    /// The DAM's value.
    pub dam_value: Option<String>,
    /// The PLM's value.
    pub plm_value: Option<String>,
    /// The value both had at the last sync.
    pub base_value: Option<String>,
}

/// What kind of conflict; serialised `three_way` / `provenance` as before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    /// Both sides changed a `newest`-owned field since the last sync: neither was written.
    ThreeWay,
    /// The DAM's hand-set visible-watermark field contradicts the verdict from the file.
    Provenance,
}

impl ConflictKind {
    /// As serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ThreeWay => "three_way",
            Self::Provenance => "provenance",
        }
    }
}

/// A record set aside during this run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Quarantined {
    /// System the record belongs to.
    pub system: String,
    /// Record id.
    pub record: String,
    /// Why.
    pub reason: String,
}

/// One planned remote write, as `--dry-run` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedOp {
    /// `create_link`, `update_link`, `retire_link` or `write_asset`.
    pub op: String,
    /// Target system.
    pub system: String,
    /// Link id or asset id.
    pub target: String,
    /// Human summary (part, clip).
    pub summary: String,
    /// Canonical fields and the values to be written.
    pub fields: BTreeMap<String, String>,
}

/// Several live PLM records for one link — carrying one link id, or hanging on one part
/// revision for one clip under different link ids (a duplicate made by hand, or by an older
/// partreel): the oldest is kept, the others retired.
#[derive(Debug, Clone, Serialize)]
pub struct Duplicate {
    /// PLM system.
    pub system: String,
    /// The link's id.
    pub link_id: String,
    /// The PLM id of the record kept (the oldest).
    pub kept: String,
    /// The PLM id of a record retired.
    pub retired: String,
    /// The link id the retired record carries, when it is not `link_id` (a second record for
    /// the same clip and part revision under another id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retired_link_id: Option<String>,
    /// `retired`, or why the record was not (it is tried again by the next run that sees it).
    pub outcome: String,
}

/// Entries a report lists of each kind (conflicts, quarantined records, a dry run's planned
/// operations); the rest are counted. Keeps a run's memory flat as the catalogue grows.
pub const LISTED_MAX: usize = 1000;

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Pushes `item` onto a report list while it holds fewer than [`LISTED_MAX`], else counts it.
fn listed<T>(list: &mut Vec<T>, not_listed: &mut u64, item: T) {
    if list.len() < LISTED_MAX {
        list.push(item);
    } else {
        *not_listed += 1;
    }
}

/// The report of one run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncReport {
    /// Run id (also in every log line of the run).
    pub run_id: String,
    /// The job this run belongs to (set by the caller; empty for a total of several jobs).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub job: String,
    /// The partreel process that ran it (its identity in leases: host, pid, start).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub process: String,
    /// True for `--dry-run`: nothing was written.
    pub dry_run: bool,
    /// Start time.
    pub started_at: Option<DateTime<Utc>>,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
    /// Links created.
    pub links_created: u64,
    /// Links whose fields or status changed (retirements excluded).
    pub links_updated: u64,
    /// Links retired.
    pub links_retired: u64,
    /// Metadata writes to DAM assets.
    pub asset_writes: u64,
    /// Clip files fetched and checked for provenance (a file version already checked is not
    /// fetched again).
    pub files_checked: u64,
    /// Metadata writes the DAM accepted but did not show within the confirmation reads: the
    /// clips are queued again for the next run.
    pub writes_unconfirmed: u64,
    /// Fields changed on both sides: the first [`LISTED_MAX`] of this run.
    pub conflicts: Vec<Conflict>,
    /// Conflicts beyond those listed (counted, not kept: a run over a million clips must not
    /// hold a million entries).
    #[serde(skip_serializing_if = "is_zero")]
    pub conflicts_not_listed: u64,
    /// Records quarantined in this run: the first [`LISTED_MAX`] (the quarantine table holds
    /// them all, `partreel quarantine list`).
    pub quarantined: Vec<Quarantined>,
    /// Quarantined records beyond those listed.
    #[serde(skip_serializing_if = "is_zero")]
    pub quarantined_not_listed: u64,
    /// HTTP requests per system.
    pub requests: BTreeMap<String, u64>,
    /// Retries per system.
    pub retries: BTreeMap<String, u64>,
    /// Requests per system to file storage outside its API (pre-signed download URLs): not
    /// among `requests`, not under the API's rate limit.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub file_requests: BTreeMap<String, u64>,
    /// A dry run's estimate of the requests its plan needs per system, and their time at the
    /// configured limits.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub estimate: Vec<super::estimate::Estimate>,
    /// Records pulled per feed (`system/stream`).
    pub pulled: BTreeMap<String, u64>,
    /// Clips planned.
    pub clips_planned: u64,
    /// Clips set aside in quarantine in this run (before or after planning).
    pub clips_quarantined: u64,
    /// Of them, the ones that were planned first (a write refused): counted in
    /// `clips_planned` too.
    pub clips_quarantined_after_planning: u64,
    /// Clips that name no part number and no SKU.
    pub untagged: u64,
    /// Clips about parts outside this job's scope.
    pub out_of_scope: u64,
    /// Link records in the PLM that no state knows of.
    pub unknown_link_records: u64,
    /// Pending journal entries recovered at start (a previous run was interrupted).
    pub recovered: u64,
    /// The plan (dry runs only).
    pub plan: Vec<PlannedOp>,
    /// Planned operations beyond the [`LISTED_MAX`] listed (a dry run counts every one in
    /// `links_created`, `links_updated`, `links_retired` and `asset_writes`).
    #[serde(skip_serializing_if = "is_zero")]
    pub plan_not_listed: u64,
    /// The run stopped early on request (shutdown) or at its deadline; queued work waits for
    /// the next run.
    pub stopped_early: bool,
    /// The run stopped because it reached `sync.run_deadline_secs`.
    pub deadline_reached: bool,
    /// Clips of this job that another live partreel process sharing the state held leases
    /// on when this run ended: left to it.
    pub left_to_others: u64,
    /// Duplicate link records found in the PLM, and what was done about each.
    pub duplicates: Vec<Duplicate>,
}

/// When a run counts as degraded: its quarantined share of the clips it handled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DegradedRule {
    /// A share of at least this many clips is judged; below it only "every clip" is.
    pub min_clips: u64,
    /// Quarantined share above which the run is degraded (0.5: more than half).
    pub share: f64,
}

impl Default for DegradedRule {
    fn default() -> Self {
        DegradedRule {
            min_clips: 20,
            share: 0.5,
        }
    }
}

impl SyncReport {
    /// The clips this run handled: planned, or set aside before they could be.
    pub fn clips_handled(&self) -> u64 {
        self.clips_planned
            + self
                .clips_quarantined
                .saturating_sub(self.clips_quarantined_after_planning)
    }

    /// Why the run is degraded, when it is: every clip it handled was quarantined, or more
    /// than `rule.share` of at least `rule.min_clips` — a PLM refusing every write must not
    /// look green to a scheduler.
    pub fn degraded(&self, rule: &DegradedRule) -> Option<String> {
        let (q, n) = (self.clips_quarantined, self.clips_handled());
        if q == 0 || n == 0 {
            return None;
        }
        let share = q as f64 / n as f64;
        (q >= n || (n >= rule.min_clips && share > rule.share)).then(|| {
            format!(
                "{q} of the {n} clips this run handled were quarantined ({:.0}%)",
                share.min(1.0) * 100.0
            )
        })
    }

    /// Adds conflicts, listing them up to [`LISTED_MAX`] and counting the rest.
    pub fn add_conflicts(&mut self, conflicts: impl IntoIterator<Item = Conflict>) {
        for c in conflicts {
            listed(&mut self.conflicts, &mut self.conflicts_not_listed, c);
        }
    }

    /// Adds a quarantined record, listed up to [`LISTED_MAX`], counted beyond.
    pub fn add_quarantined(&mut self, q: Quarantined) {
        listed(&mut self.quarantined, &mut self.quarantined_not_listed, q);
    }

    /// Adds a planned operation, listed up to [`LISTED_MAX`], counted beyond.
    pub fn add_planned(&mut self, op: PlannedOp) {
        listed(&mut self.plan, &mut self.plan_not_listed, op);
    }

    /// Adds another job's report into this one (totals of several jobs run together).
    pub fn absorb(&mut self, other: &SyncReport) {
        self.dry_run |= other.dry_run;
        self.duration_ms += other.duration_ms;
        self.links_created += other.links_created;
        self.links_updated += other.links_updated;
        self.links_retired += other.links_retired;
        self.asset_writes += other.asset_writes;
        self.writes_unconfirmed += other.writes_unconfirmed;
        self.files_checked += other.files_checked;
        self.add_conflicts(other.conflicts.iter().cloned());
        self.conflicts_not_listed += other.conflicts_not_listed;
        for q in &other.quarantined {
            self.add_quarantined(q.clone());
        }
        self.quarantined_not_listed += other.quarantined_not_listed;
        for op in &other.plan {
            self.add_planned(op.clone());
        }
        self.plan_not_listed += other.plan_not_listed;
        for (k, v) in &other.requests {
            *self.requests.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.retries {
            *self.retries.entry(k.clone()).or_default() += v;
        }
        self.estimate.extend(other.estimate.iter().cloned());
        for (k, v) in &other.file_requests {
            *self.file_requests.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.pulled {
            *self.pulled.entry(k.clone()).or_default() += v;
        }
        self.clips_planned += other.clips_planned;
        self.clips_quarantined += other.clips_quarantined;
        self.clips_quarantined_after_planning += other.clips_quarantined_after_planning;
        self.untagged += other.untagged;
        self.out_of_scope += other.out_of_scope;
        self.unknown_link_records += other.unknown_link_records;
        self.recovered += other.recovered;
        self.plan.extend(other.plan.iter().cloned());
        self.stopped_early |= other.stopped_early;
        self.deadline_reached |= other.deadline_reached;
        self.left_to_others += other.left_to_others;
        self.duplicates.extend(other.duplicates.iter().cloned());
    }

    /// Total remote writes made (or planned, for a dry run).
    pub fn writes(&self) -> u64 {
        self.links_created + self.links_updated + self.links_retired + self.asset_writes
    }

    /// The human-readable report.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let job = if self.job.is_empty() {
            String::new()
        } else {
            format!(" [{}]", self.job)
        };
        let _ = writeln!(
            out,
            "run {}{job}{} — {:.1}s",
            self.run_id,
            if self.dry_run {
                " (dry run: nothing written)"
            } else {
                ""
            },
            self.duration_ms as f64 / 1000.0
        );
        let verb = if self.dry_run { "to create" } else { "created" };
        let _ = writeln!(out, "  links {verb:<12} {}", self.links_created);
        let _ = writeln!(out, "  links updated      {}", self.links_updated);
        let _ = writeln!(out, "  links retired      {}", self.links_retired);
        let _ = writeln!(out, "  asset writes       {}", self.asset_writes);
        if self.files_checked > 0 {
            let _ = writeln!(out, "  files checked      {}", self.files_checked);
        }
        if self.writes_unconfirmed > 0 {
            let _ = writeln!(
                out,
                "  not yet visible    {} (accepted by the DAM; queued for the next run)",
                self.writes_unconfirmed
            );
        }
        let _ = writeln!(out, "  clips planned      {}", self.clips_planned);
        if self.untagged > 0 {
            let _ = writeln!(out, "  clips untagged     {}", self.untagged);
        }
        if self.recovered > 0 {
            let _ = writeln!(out, "  recovered writes   {}", self.recovered);
        }
        for (feed, n) in &self.pulled {
            let _ = writeln!(out, "  pulled {feed:<18} {n}");
        }
        for (system, n) in &self.requests {
            let retries = self.retries.get(system).copied().unwrap_or(0);
            let _ = writeln!(out, "  requests {system:<14} {n} ({retries} retried)");
        }
        for (system, n) in &self.file_requests {
            let _ = writeln!(out, "  file downloads {system:<8} {n} (outside the API)");
        }
        self.render_conflicts(&mut out);
        if self.left_to_others > 0 {
            let _ = writeln!(
                out,
                "  left to others     {} (clips another partreel process is working on)",
                self.left_to_others
            );
        }
        self.render_duplicates(&mut out);
        let _ = writeln!(
            out,
            "  quarantined        {}",
            self.quarantined.len() as u64 + self.quarantined_not_listed
        );
        for q in &self.quarantined {
            let _ = writeln!(out, "    {} {}: {}", q.system, q.record, q.reason);
        }
        self.render_plan(&mut out);
        out
    }

    /// The conflicts, one line each.
    fn render_conflicts(&self, out: &mut String) {
        use std::fmt::Write;
        let _ = writeln!(
            out,
            "  conflicts          {}",
            self.conflicts.len() as u64 + self.conflicts_not_listed
        );
        for c in &self.conflicts {
            if c.kind == ConflictKind::Provenance {
                let _ = writeln!(
                    out,
                    "    {} on {}: the DAM marks a visible watermark ({}), the file says {}",
                    c.asset_id,
                    c.part,
                    c.dam_value.as_deref().unwrap_or("unset"),
                    c.plm_value.as_deref().unwrap_or("-")
                );
                continue;
            }
            let _ = writeln!(
                out,
                "    {} on {} field {}: DAM {:?} vs PLM {:?} (last synced {:?})",
                c.asset_id, c.part, c.field, c.dam_value, c.plm_value, c.base_value
            );
        }
        if self.conflicts_not_listed > 0 {
            let _ = writeln!(
                out,
                "    … and {} more (the report lists the first {LISTED_MAX})",
                self.conflicts_not_listed
            );
        }
    }

    /// The duplicate links found and how each was settled.
    fn render_duplicates(&self, out: &mut String) {
        use std::fmt::Write;
        if !self.duplicates.is_empty() {
            let _ = writeln!(out, "  duplicate links    {}", self.duplicates.len());
            for d in &self.duplicates {
                let carried = d
                    .retired_link_id
                    .as_deref()
                    .map(|id| format!(" carrying {id}"))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "    {} {}: kept {}, retired {}{carried} ({})",
                    d.system, d.link_id, d.kept, d.retired, d.outcome
                );
            }
        }
    }

    /// A dry run's plan: every operation with its fields, then what applying it costs.
    fn render_plan(&self, out: &mut String) {
        use std::fmt::Write;
        if self.dry_run && !self.estimate.is_empty() {
            let _ = writeln!(out, "  applying the plan, at the configured rate limits:");
            for e in &self.estimate {
                let _ = writeln!(out, "    {}", super::estimate::line(e));
            }
        }
        if self.dry_run {
            let _ = writeln!(
                out,
                "  plan ({} operations):",
                self.plan.len() as u64 + self.plan_not_listed
            );
            for op in &self.plan {
                let _ = writeln!(
                    out,
                    "    {} {} {} — {}",
                    op.op, op.system, op.target, op.summary
                );
                for (k, v) in &op.fields {
                    let _ = writeln!(out, "        {k} = {v:?}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! When a run counts as degraded.

    use super::*;

    fn report(planned: u64, quarantined: u64, after_planning: u64) -> SyncReport {
        SyncReport {
            clips_planned: planned,
            clips_quarantined: quarantined,
            clips_quarantined_after_planning: after_planning,
            ..SyncReport::default()
        }
    }

    #[test]
    fn lists_stop_at_their_cap_and_count_the_rest() {
        let mut r = SyncReport::default();
        let q = |i: usize| Quarantined {
            system: "bynder".into(),
            record: format!("clip-{i}"),
            reason: "bad".into(),
        };
        for i in 0..LISTED_MAX + 25 {
            r.add_quarantined(q(i));
        }
        assert_eq!(r.quarantined.len(), LISTED_MAX);
        assert_eq!(r.quarantined_not_listed, 25);
        let mut total = SyncReport::default();
        total.absorb(&r);
        total.absorb(&r);
        assert_eq!(total.quarantined.len(), LISTED_MAX);
        assert_eq!(total.quarantined_not_listed, LISTED_MAX as u64 + 50);
        assert!(
            total
                .render()
                .contains(&format!("  quarantined        {}", 2 * (LISTED_MAX + 25)))
        );
        let json = serde_json::to_value(&r).expect("json");
        assert_eq!(json["quarantined_not_listed"], 25);
        assert!(SyncReport::default().conflicts_not_listed == 0);
        assert!(
            serde_json::to_value(SyncReport::default())
                .expect("json")
                .get("conflicts_not_listed")
                .is_none(),
            "left out when nothing was left out"
        );
    }

    #[test]
    fn degraded_by_share_or_by_every_clip() {
        let rule = DegradedRule::default();
        // (planned, quarantined, of them after planning) → degraded?
        let cases = [
            (0, 0, 0, false),
            (10, 0, 0, false),
            (3, 3, 3, true),    // every clip refused at write time
            (0, 2, 0, true),    // every clip set aside before planning
            (10, 9, 9, false),  // most, but fewer than 20 clips
            (40, 21, 21, true), // more than half of at least 20
            (40, 20, 20, false),
        ];
        for (planned, q, after, want) in cases {
            let r = report(planned, q, after);
            assert_eq!(r.degraded(&rule).is_some(), want, "{planned} {q} {after}");
        }
        // Quarantined before planning count on top of the planned clips.
        let r = report(30, 11, 0);
        assert_eq!(r.clips_handled(), 41);
        assert!(r.degraded(&rule).is_none());
        let r = report(10, 11, 0);
        assert!(
            r.degraded(&rule)
                .expect("degraded")
                .contains("11 of the 21"),
            "{:?}",
            r.degraded(&rule)
        );
        let strict = DegradedRule {
            min_clips: 5,
            share: 0.1,
        };
        assert!(report(10, 2, 2).degraded(&strict).is_some());
    }
}
