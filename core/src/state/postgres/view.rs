//! [`ViewStore`] over PostgreSQL state: what `partreel serve` reads when the daemons share a
//! PostgreSQL database, with the same answers as the SQLite view ([`super::super::view`]).
//!
//! The viewer never writes: every session it opens runs with
//! `default_transaction_read_only = on`, and connecting neither creates nor migrates the
//! schema — a database without partreel's tables is refused ("run a sync first"), one
//! migrated by a newer partreel too. Lookups ride the store's primary keys and its
//! `links_by_part` / `links_by_asset` indexes; search scans part columns and the clips'
//! `vals->>'prompt'` / `vals->>'campaign'` with `ILIKE`, as the SQLite view does with `LIKE`.

use std::sync::Arc;

use async_trait::async_trait;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Json;

use super::pool::{self, Pool};
use super::{Settings, col, describe, migrations, non_empty, q};
use crate::model::{CanonicalValues, LinkStatus, WatermarkStatus};
use crate::state::view::{
    ClipDetail, ClipInfo, ClipView, LinkView, LinkedPart, MAX_SEARCH_LIMIT, PartHit, PartSummary,
    PartView, ViewStore, like_pattern,
};
use crate::state::{LinkOrigin, Result, StateError};

/// Live links (not retired) on a part revision `p`.
const CLIP_COUNT: &str = "(SELECT COUNT(*) FROM links l WHERE l.plm_system = p.system
   AND l.part_number = p.number AND l.part_revision = p.revision AND l.status <> 'retired')
   AS clip_count";

/// A part summary's columns ([`hit`]).
const HIT_COLS: &str = "p.system AS p_system, p.number AS p_number, p.revision AS p_revision,
   p.name AS p_name, p.sku AS p_sku, p.lifecycle_state AS p_lifecycle";

/// A link's columns with its run's end ([`link`]).
const LINK_COLS: &str = "l.link_id, l.status, l.origin, l.plm_system, l.part_number,
   l.part_revision, l.dam_system, l.asset_id, l.created_at, l.updated_at, l.run_id,
   r.finished_at AS run_finished_at";

/// An asset's columns ([`asset`]); all null when a LEFT JOIN found no asset.
const ASSET_COLS: &str = "a.system AS a_system, a.asset_id AS a_asset_id, a.title AS a_title,
   a.modified AS a_modified, a.version AS a_version, a.archived AS a_archived,
   a.deleted AS a_deleted, a.rendition_url AS a_rendition_url, a.vals AS a_vals,
   a.watermark AS a_watermark";

/// Part revisions in the viewer's order: number, then revision label (shorter first, so `B`
/// comes before `AA`), then system.
const PART_ORDER: &str = "p.number, length(p.revision), p.revision, p.system";

/// Read-only view of PostgreSQL state.
#[derive(Clone)]
pub struct PostgresView {
    pool: Arc<Pool>,
    location: String,
}

impl std::fmt::Debug for PostgresView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresView")
            .field("location", &self.location)
            .finish()
    }
}

fn hit(r: &Row) -> Result<PartHit> {
    const T: &str = "parts";
    Ok(PartHit {
        system: col(r, T, "p_system")?,
        number: col(r, T, "p_number")?,
        revision: col(r, T, "p_revision")?,
        name: col(r, T, "p_name")?,
        sku: non_empty(col(r, T, "p_sku")?),
        lifecycle_state: non_empty(col(r, T, "p_lifecycle")?),
        clip_count: u64::try_from(col::<i64>(r, T, "clip_count")?).unwrap_or(0),
    })
}

fn link(r: &Row) -> Result<LinkView> {
    const T: &str = "links";
    let status: String = col(r, T, "status")?;
    let origin: String = col(r, T, "origin")?;
    Ok(LinkView {
        status: LinkStatus::parse(&status).ok_or_else(|| StateError::Corrupt {
            table: T,
            column: "status",
            message: status.clone(),
        })?,
        origin: if origin == "carried" {
            LinkOrigin::Carried
        } else {
            LinkOrigin::Tagged
        },
        link_id: col(r, T, "link_id")?,
        plm_system: col(r, T, "plm_system")?,
        part_number: col(r, T, "part_number")?,
        part_revision: col(r, T, "part_revision")?,
        dam_system: col(r, T, "dam_system")?,
        asset_id: col(r, T, "asset_id")?,
        created_at: col(r, T, "created_at")?,
        synced_at: col(r, T, "updated_at")?,
        run_id: col(r, T, "run_id")?,
        run_finished_at: col(r, "runs", "run_finished_at")?,
    })
}

/// The asset of a row, None when the join found none.
fn asset(r: &Row) -> Result<Option<ClipInfo>> {
    const T: &str = "assets";
    let Some(system) = col::<Option<String>>(r, T, "a_system")? else {
        return Ok(None);
    };
    let values: Json<CanonicalValues> = col(r, T, "a_vals")?;
    let watermark: Json<WatermarkStatus> = col(r, T, "a_watermark")?;
    Ok(Some(ClipInfo::from_values(
        system,
        col(r, T, "a_asset_id")?,
        col(r, T, "a_title")?,
        col(r, T, "a_modified")?,
        col(r, T, "a_version")?,
        col(r, T, "a_archived")?,
        col(r, T, "a_deleted")?,
        col(r, T, "a_rendition_url")?,
        &values.0,
        watermark.0,
    )))
}

impl PostgresView {
    /// Opens up to `connections` (at least one) read-only sessions to the database at `url`,
    /// one at once so a wrong URL fails here. Fails when the database holds no partreel state
    /// (the viewer never creates it) or state of a newer schema.
    pub async fn connect(url: &str, connections: usize) -> Result<PostgresView> {
        let mut settings = Settings::parse(url)?;
        let options = match settings.config.get_options() {
            Some(o) if !o.trim().is_empty() => format!("{o} -c default_transaction_read_only=on"),
            _ => "-c default_transaction_read_only=on".to_string(),
        };
        settings.config.options(&options);
        let mut first = pool::open(&settings.config)
            .await
            .map_err(|e| settings.open_error(format!("cannot connect: {}", describe(&e))))?;
        let version: i32 = match first
            .query_one("SELECT COALESCE(max(version), 0) FROM partreel_schema", &[])
            .await
        {
            Ok(row) => row.try_get(0).map_err(q)?,
            Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => 0,
            Err(e) => return Err(settings.open_error(describe(&e))),
        };
        if version == 0 {
            return Err(settings.open_error(
                "no partreel state in this database and schema (run a sync first, or check \
                 `state` and its search_path in the configuration)"
                    .into(),
            ));
        }
        if version > migrations::latest() {
            return Err(settings.open_error(format!(
                "the database was migrated by a newer partreel (schema {version}, this one \
                 knows {})",
                migrations::latest()
            )));
        }
        let Settings {
            config, location, ..
        } = settings;
        Ok(PostgresView {
            pool: Arc::new(Pool::new(
                config,
                location.clone(),
                connections.max(1),
                first,
            )),
            location,
        })
    }

    /// The URL it was opened with, without password.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Runs a statement on one of the view's sessions (tests show they refuse writes).
    #[cfg(test)]
    pub(in crate::state) async fn execute_for_test(&self, sql: &str) -> Result<u64> {
        let mut c = self.pool.get().await?;
        c.execute(sql, &[]).await.map_err(q)
    }
}

#[async_trait]
impl ViewStore for PostgresView {
    async fn search(&self, text: &str, limit: usize) -> Result<Vec<PartHit>> {
        let limit = i64::try_from(limit.clamp(1, MAX_SEARCH_LIMIT)).unwrap_or(50);
        let text = text.trim();
        let mut c = self.pool.get().await?;
        let rows = if text.is_empty() {
            c.query(
                &format!(
                    "SELECT {HIT_COLS}, {CLIP_COUNT} FROM parts p ORDER BY {PART_ORDER} LIMIT $1"
                ),
                &[&limit],
            )
            .await
        } else {
            c.query(
                &format!(
                    "SELECT {HIT_COLS}, {CLIP_COUNT} FROM parts p
                     WHERE p.number ILIKE $1 ESCAPE '\\' OR p.sku ILIKE $1 ESCAPE '\\'
                        OR p.name ILIKE $1 ESCAPE '\\'
                        OR EXISTS (SELECT 1 FROM links l JOIN assets a
                                     ON a.system = l.dam_system AND a.asset_id = l.asset_id
                                   WHERE l.plm_system = p.system AND l.part_number = p.number
                                     AND l.part_revision = p.revision
                                     AND (a.vals->>'campaign' ILIKE $1 ESCAPE '\\'
                                       OR a.vals->>'prompt' ILIKE $1 ESCAPE '\\'
                                       OR a.title ILIKE $1 ESCAPE '\\'))
                     ORDER BY {PART_ORDER} LIMIT $2"
                ),
                &[&like_pattern(text), &limit],
            )
            .await
        }
        .map_err(q)?;
        rows.iter().map(hit).collect()
    }

    async fn part_revision(
        &self,
        system: &str,
        number: &str,
        revision: &str,
    ) -> Result<Option<PartView>> {
        const T: &str = "parts";
        let mut c = self.pool.get().await?;
        let row = c
            .query_opt(
                "SELECT system, number, revision, remote_id, name, lifecycle_state, sku,
                        modified, vals
                 FROM parts WHERE system = $1 AND number = $2 AND revision = $3",
                &[&system, &number, &revision],
            )
            .await
            .map_err(q)?;
        let Some(r) = row else {
            return Ok(None);
        };
        Ok(Some(PartView {
            system: col(&r, T, "system")?,
            number: col(&r, T, "number")?,
            revision: col(&r, T, "revision")?,
            remote_id: col(&r, T, "remote_id")?,
            name: col(&r, T, "name")?,
            sku: non_empty(col(&r, T, "sku")?),
            lifecycle_state: non_empty(col(&r, T, "lifecycle_state")?),
            modified: col(&r, T, "modified")?,
            values: col::<Json<CanonicalValues>>(&r, T, "vals")?.0,
        }))
    }

    async fn part_revisions(&self, system: &str, number: &str) -> Result<Vec<PartSummary>> {
        let mut c = self.pool.get().await?;
        let rows = c
            .query(
                &format!(
                    "SELECT {HIT_COLS}, {CLIP_COUNT} FROM parts p
                     WHERE p.system = $1 AND p.number = $2
                     ORDER BY length(p.revision), p.revision"
                ),
                &[&system, &number],
            )
            .await
            .map_err(q)?;
        rows.iter().map(hit).collect()
    }

    async fn links_of_part(
        &self,
        system: &str,
        number: &str,
        revision: &str,
    ) -> Result<Vec<ClipView>> {
        let mut c = self.pool.get().await?;
        let rows = c
            .query(
                &format!(
                    "SELECT {LINK_COLS}, {ASSET_COLS} FROM links l
                     LEFT JOIN runs r ON r.run_id = l.run_id
                     LEFT JOIN assets a ON a.system = l.dam_system AND a.asset_id = l.asset_id
                     WHERE l.plm_system = $1 AND l.part_number = $2 AND l.part_revision = $3
                     ORDER BY l.status = 'retired', l.updated_at DESC, l.link_id"
                ),
                &[&system, &number, &revision],
            )
            .await
            .map_err(q)?;
        rows.iter()
            .map(|r| {
                Ok(ClipView {
                    link: link(r)?,
                    clip: asset(r)?,
                })
            })
            .collect()
    }

    async fn clip(&self, dam_system: &str, asset_id: &str) -> Result<Option<ClipDetail>> {
        let mut c = self.pool.get().await?;
        let row = c
            .query_opt(
                &format!(
                    "SELECT {ASSET_COLS} FROM assets a WHERE a.system = $1 AND a.asset_id = $2"
                ),
                &[&dam_system, &asset_id],
            )
            .await
            .map_err(q)?;
        let Some(clip) = row.as_ref().map(asset).transpose()?.flatten() else {
            return Ok(None);
        };
        let rows = c
            .query(
                &format!(
                    "SELECT {LINK_COLS}, {HIT_COLS}, {CLIP_COUNT} FROM links l
                     LEFT JOIN runs r ON r.run_id = l.run_id
                     LEFT JOIN parts p ON p.system = l.plm_system AND p.number = l.part_number
                                      AND p.revision = l.part_revision
                     WHERE l.dam_system = $1 AND l.asset_id = $2
                     ORDER BY l.part_number, length(l.part_revision), l.part_revision,
                              l.plm_system"
                ),
                &[&dam_system, &asset_id],
            )
            .await
            .map_err(q)?;
        let links = rows
            .iter()
            .map(|r| {
                let part = match col::<Option<String>>(r, "parts", "p_system")? {
                    Some(_) => Some(hit(r)?),
                    None => None,
                };
                Ok(LinkedPart {
                    link: link(r)?,
                    part,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(ClipDetail { clip, links }))
    }
}
