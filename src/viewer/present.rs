//! What pages and the API derive from the stored views: each clip's badges, its playable URL,
//! the link back to the PLM, and the viewer's own paths. Pure functions, shared by
//! [`super::pages`] and [`super::api`] so both always say the same thing.

use chrono::NaiveDate;
use partreel_core::model::{LinkStatus, ProvenanceState};
use partreel_core::state::view::{ClipInfo, ClipView, LinkView};
use serde::Serialize;

use super::ViewerState;
use super::config::VideoSource;

/// Kind of badge, as the API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BadgeKind {
    /// Visible watermark marked present and provenance not known to be broken.
    WatermarkPreserved,
    /// Watermark unset/removed, or provenance missing or invalid.
    ProvenanceProblem,
    /// Usage rights have expired.
    RightsExpired,
    /// The link is retired (clip withdrawn, deleted or untagged).
    LinkRetired,
}

/// A badge on a clip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Badge {
    /// Kind.
    pub kind: BadgeKind,
    /// Text shown.
    pub label: String,
}

impl Badge {
    fn new(kind: BadgeKind, label: impl Into<String>) -> Self {
        Badge {
            kind,
            label: label.into(),
        }
    }

    /// CSS class.
    pub fn class(&self) -> &'static str {
        match self.kind {
            BadgeKind::WatermarkPreserved => "badge ok",
            BadgeKind::ProvenanceProblem => "badge bad",
            BadgeKind::RightsExpired => "badge warn",
            BadgeKind::LinkRetired => "badge gone",
        }
    }
}

/// The badges of a linked clip, most severe first. `today` decides rights expiry.
pub fn badges(link: &LinkView, clip: Option<&ClipInfo>, today: NaiveDate) -> Vec<Badge> {
    let mut out = Vec::new();
    if link.status == LinkStatus::Retired {
        out.push(Badge::new(BadgeKind::LinkRetired, "link retired"));
    }
    let expired_by_date = clip
        .and_then(|c| c.rights_expiry.as_deref())
        .and_then(|d| NaiveDate::parse_from_str(d.get(..10).unwrap_or(d), "%Y-%m-%d").ok())
        .is_some_and(|d| d < today);
    if link.status == LinkStatus::RightsExpired || expired_by_date {
        out.push(Badge::new(BadgeKind::RightsExpired, "rights expired"));
    }
    match clip {
        Some(c) if c.watermark_preserved => {
            let label = if c.watermark.provenance == ProvenanceState::Valid {
                "watermark preserved · provenance valid"
            } else {
                "watermark preserved · provenance unchecked"
            };
            out.push(Badge::new(BadgeKind::WatermarkPreserved, label));
        }
        Some(c) => {
            let label = match (c.watermark.provenance, c.watermark.visible_field) {
                // A checked file: the rule's own reason (e.g. "tampered: …", "no provenance").
                _ if c.watermark.evidence.is_some() || c.watermark.check_error.is_some() => {
                    c.watermark.verdict().reason
                }
                (ProvenanceState::Missing, _) => "provenance missing".into(),
                (ProvenanceState::Invalid, _) => "provenance invalid".into(),
                (_, Some(false)) => "visible watermark removed".into(),
                _ => "visible watermark not recorded".into(),
            };
            out.push(Badge::new(BadgeKind::ProvenanceProblem, label));
        }
        None => out.push(Badge::new(
            BadgeKind::ProvenanceProblem,
            "clip not in the state store",
        )),
    }
    out
}

/// A linked clip with everything derived, as pages and the API show it.
#[derive(Debug, Clone, Serialize)]
pub struct ClipEntry {
    /// The link.
    pub link: LinkView,
    /// The clip (None when the asset row is missing).
    pub clip: Option<ClipInfo>,
    /// Badges, most severe first.
    pub badges: Vec<Badge>,
    /// Where the `<video>` element loads from (None: no rendition known).
    pub video_url: Option<String>,
    /// The clip's viewer page.
    pub clip_path: String,
}

/// Percent-encodes one path segment.
pub fn seg(s: &str) -> String {
    urlencoding::encode(s).into_owned()
}

/// `/parts/{system}/{number}/{revision}`.
pub fn part_path(system: &str, number: &str, revision: &str) -> String {
    format!("/parts/{}/{}/{}", seg(system), seg(number), seg(revision))
}

/// `/clips/{system}/{asset_id}`.
pub fn clip_path(system: &str, asset_id: &str) -> String {
    format!("/clips/{}/{}", seg(system), seg(asset_id))
}

impl ViewerState {
    /// Where a clip plays from: the signed proxy path, or the DAM's own URL.
    pub fn video_url(&self, clip: &ClipInfo) -> Option<String> {
        let rendition = clip.rendition_url.as_deref()?;
        Some(match self.config.video {
            VideoSource::Proxy => format!(
                "/media/{}/{}?{}",
                seg(&clip.dam_system),
                seg(&clip.asset_id),
                self.signer.query(&clip.dam_system, &clip.asset_id)
            ),
            VideoSource::DamSigned => rendition.to_string(),
        })
    }

    /// Derives badges and URLs for a linked clip.
    pub fn entry(&self, v: ClipView, today: NaiveDate) -> ClipEntry {
        let badges = badges(&v.link, v.clip.as_ref(), today);
        ClipEntry {
            video_url: v.clip.as_ref().and_then(|c| self.video_url(c)),
            clip_path: clip_path(&v.link.dam_system, &v.link.asset_id),
            badges,
            link: v.link,
            clip: v.clip,
        }
    }

    /// The PLM record URL of a part revision, from the configured template.
    pub fn plm_record_url(
        &self,
        system: &str,
        number: &str,
        revision: &str,
        remote_id: &str,
    ) -> Option<String> {
        let t = self.config.plm_record_url.as_deref()?;
        Some(
            t.replace("{system}", &seg(system))
                .replace("{number}", &seg(number))
                .replace("{revision}", &seg(revision))
                .replace("{remote_id}", &seg(remote_id)),
        )
    }
}

#[cfg(test)]
mod tests {
    //! The badge rules, one row per case.

    use chrono::Utc;
    use partreel_core::model::WatermarkStatus;
    use partreel_core::state::LinkOrigin;

    use super::*;

    fn link(status: LinkStatus) -> LinkView {
        LinkView {
            link_id: "ptp-1".into(),
            status,
            origin: LinkOrigin::Tagged,
            plm_system: "wc".into(),
            part_number: "P".into(),
            part_revision: "A".into(),
            dam_system: "by".into(),
            asset_id: "a".into(),
            created_at: Utc::now(),
            synced_at: Utc::now(),
            run_id: "r".into(),
            run_finished_at: None,
        }
    }

    fn clip(visible: Option<bool>, prov: ProvenanceState, expiry: Option<&str>) -> ClipInfo {
        let mut values = partreel_core::model::CanonicalValues::new();
        if let Some(e) = expiry {
            values.insert("rights_expiry".into(), e.into());
        }
        ClipInfo::from_values(
            "by".into(),
            "a".into(),
            "t".into(),
            Utc::now(),
            None,
            false,
            false,
            None,
            &values,
            WatermarkStatus {
                visible_field: visible,
                provenance: prov,
                claim_generator: None,
                ..WatermarkStatus::default()
            },
        )
    }

    fn kinds(b: Vec<Badge>) -> Vec<BadgeKind> {
        b.into_iter().map(|b| b.kind).collect()
    }

    #[test]
    fn badge_table() {
        use BadgeKind::*;
        let today = NaiveDate::from_ymd_opt(2026, 6, 1).expect("date");
        let cases: Vec<(LinkStatus, Option<ClipInfo>, Vec<BadgeKind>)> = vec![
            (
                LinkStatus::Active,
                Some(clip(Some(true), ProvenanceState::Valid, Some("2027-01-01"))),
                vec![WatermarkPreserved],
            ),
            (
                LinkStatus::NonCompliant,
                Some(clip(Some(true), ProvenanceState::Missing, None)),
                vec![ProvenanceProblem],
            ),
            (
                LinkStatus::NonCompliant,
                Some(clip(Some(true), ProvenanceState::Invalid, None)),
                vec![ProvenanceProblem],
            ),
            (
                LinkStatus::Active,
                Some(clip(Some(true), ProvenanceState::Valid, Some("2026-05-31"))),
                vec![RightsExpired, WatermarkPreserved],
            ),
            (
                LinkStatus::RightsExpired,
                Some(clip(Some(true), ProvenanceState::Valid, None)),
                vec![RightsExpired, WatermarkPreserved],
            ),
            (
                LinkStatus::Retired,
                Some(clip(Some(false), ProvenanceState::Unchecked, None)),
                vec![LinkRetired, ProvenanceProblem],
            ),
            (LinkStatus::Active, None, vec![ProvenanceProblem]),
        ];
        for (status, c, want) in cases {
            assert_eq!(
                kinds(badges(&link(status), c.as_ref(), today)),
                want,
                "{status:?}"
            );
        }
    }
}
