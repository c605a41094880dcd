//! The Bynder emulator's state: metaproperties with their options, media with their
//! metaproperty values, issued OAuth tokens, and the `(dateModified, id)` index that keeps
//! listing at O(page + log n).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::framework::clock::iso;
use crate::framework::paging::{Key, PageCursors, Walk};

/// Kind of a metaproperty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MetaKind {
    Select,
    Text,
    Longtext,
    Date,
}

impl MetaKind {
    fn name(self) -> &'static str {
        match self {
            MetaKind::Select => "select",
            MetaKind::Text => "text",
            MetaKind::Longtext => "longtext",
            MetaKind::Date => "date",
        }
    }
}

/// One option of a select metaproperty.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MetaOption {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) label: String,
}

/// A metaproperty definition.
#[derive(Debug, Clone)]
pub(crate) struct Metaproperty {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) kind: MetaKind,
    pub(crate) multiselect: bool,
    options: Vec<MetaOption>,
    by_name: HashMap<String, usize>,
    by_id: HashMap<String, usize>,
}

/// A Bynder-style id (8-4-4-16 upper-case hex) derived from a name, so ids are stable.
pub(crate) fn derived_id(kind: &str, name: &str) -> String {
    let d = Sha256::digest(format!("{kind}\0{name}").as_bytes());
    format_id(u128::from_be_bytes(d[..16].try_into().unwrap_or([0; 16])))
}

/// Formats 128 bits as Bynder formats asset ids: `8-4-4-16` upper-case hex.
pub(crate) fn format_id(n: u128) -> String {
    let h = format!("{n:032X}");
    format!("{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..])
}

impl Metaproperty {
    pub(crate) fn new(name: &str, kind: MetaKind, multiselect: bool) -> Self {
        Metaproperty {
            id: derived_id("metaproperty", name),
            name: name.to_owned(),
            kind,
            multiselect,
            options: Vec::new(),
            by_name: HashMap::new(),
            by_id: HashMap::new(),
        }
    }

    /// The option called `name`, created if missing; returns its id.
    pub(crate) fn ensure_option(&mut self, name: &str, label: &str) -> String {
        if let Some(&i) = self.by_name.get(name) {
            return self.options[i].id.clone();
        }
        let opt = MetaOption {
            id: derived_id(&format!("option\0{}", self.name), name),
            name: name.to_owned(),
            label: label.to_owned(),
        };
        let id = opt.id.clone();
        self.by_name.insert(opt.name.clone(), self.options.len());
        self.by_id.insert(opt.id.clone(), self.options.len());
        self.options.push(opt);
        id
    }

    fn has_option_name(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    fn option_by_id(&self, id: &str) -> Option<&MetaOption> {
        self.by_id.get(id).map(|&i| &self.options[i])
    }

    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "label": self.name,
            "type": self.kind.name(),
            "isMultiselect": i32::from(self.multiselect),
            "isRequired": 0,
            "isFilterable": 1,
            "isEditable": 1,
            "options": self.options.iter().map(|o| json!({"id": o.id, "name": o.name, "label": o.label})).collect::<Vec<_>>(),
        })
    }
}

/// A metaproperty value on a media item.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PropValue {
    /// Select types: option names.
    Options(Vec<String>),
    /// Text, longtext and date types.
    Text(String),
}

/// What the original file of a media item carries, for the provenance checker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Provenance {
    /// A manifest that matches the bytes.
    Signed,
    /// No manifest.
    Missing,
    /// A manifest, but one byte of the media changed after signing.
    Altered,
    /// Not a video at all (an HTML error page saved under the clip's name).
    NotMedia,
    /// The download announces the whole signed file, sends half of it and drops the
    /// connection, every time.
    CutShort,
}

/// One media item.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Media {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) extension: String,
    pub(crate) created: DateTime<Utc>,
    pub(crate) modified: DateTime<Utc>,
    pub(crate) archived: bool,
    pub(crate) description: String,
    pub(crate) props: BTreeMap<String, PropValue>,
    pub(crate) provenance: Provenance,
    pub(crate) generator: String,
    /// File version: 1 at upload, bumped by each new upload of the file (metadata edits leave
    /// it alone, as in Bynder).
    pub(crate) version: u32,
}

/// A change not yet visible (Bynder applies metadata writes asynchronously).
#[derive(Debug)]
struct Pending {
    due: Instant,
    id: String,
    changes: Vec<(String, Option<PropValue>)>,
    at: DateTime<Utc>,
}

/// Everything the Bynder emulator holds.
#[derive(Debug, Default)]
pub(crate) struct BynderStore {
    media: HashMap<String, Media>,
    by_modified: BTreeSet<Key>,
    generation: u64,
    metaprops: BTreeMap<String, Metaproperty>,
    meta_by_id: HashMap<String, String>,
    /// Issued OAuth tokens → expiry (sim clock).
    pub(crate) tokens: HashMap<String, DateTime<Utc>>,
    pending: Vec<Pending>,
    /// How long a metadata write takes to become visible.
    pub(crate) write_delay: Duration,
    /// Listings ignore `orderBy` and answer in Bynder's default order (newest created first),
    /// as a server (or a proxy rewriting queries) that drops the parameter would: a variant
    /// for the feed guards' tests.
    pub(crate) ignore_order: bool,
    /// `dateModified` selects media modified strictly after the time given (Bynder's reference
    /// says "modified after this date"; whether the bound itself is included is not stated).
    pub(crate) date_filter_exclusive: bool,
    cursors: PageCursors,
    /// Size of every original file.
    pub(crate) file_bytes: usize,
}

/// One listing request, already validated.
#[derive(Debug, Clone)]
pub(crate) struct MediaQuery {
    pub(crate) kind: Option<String>,
    pub(crate) since: Option<DateTime<Utc>>,
    pub(crate) order: (String, bool),
    pub(crate) limit: usize,
    pub(crate) page: usize,
    /// Only these media (`ids=`), when given.
    pub(crate) ids: Option<Vec<String>>,
}

/// Checks one value against a metaproperty: `Ok(None)` clears it.
fn parse_value(mp: &Metaproperty, raw: &str) -> Result<Option<PropValue>, String> {
    if raw.is_empty() {
        return Ok(None);
    }
    match mp.kind {
        MetaKind::Select => {
            let mut names = Vec::new();
            for id in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                match mp.option_by_id(id) {
                    Some(o) => names.push(o.name.clone()),
                    None => {
                        return Err(format!(
                            "Option {id} does not exist for metaproperty {}",
                            mp.id
                        ));
                    }
                }
            }
            if names.len() > 1 && !mp.multiselect {
                return Err(format!("Metaproperty {} accepts one option", mp.id));
            }
            Ok(Some(PropValue::Options(names)))
        }
        MetaKind::Date => {
            let day = raw.get(..10).unwrap_or(raw);
            NaiveDate::parse_from_str(day, "%Y-%m-%d")
                .map_err(|_| format!("Invalid date '{raw}' for metaproperty {}", mp.id))?;
            Ok(Some(PropValue::Text(day.to_owned())))
        }
        MetaKind::Text | MetaKind::Longtext => Ok(Some(PropValue::Text(raw.to_owned()))),
    }
}

impl BynderStore {
    pub(crate) fn new(file_bytes: usize) -> Self {
        BynderStore {
            file_bytes,
            ..Default::default()
        }
    }

    // ---- metaproperties ----

    pub(crate) fn add_metaproperty(&mut self, mp: Metaproperty) {
        self.meta_by_id.insert(mp.id.clone(), mp.name.clone());
        self.metaprops.insert(mp.name.clone(), mp);
    }

    /// Deletes a metaproperty definition (an admin removing it in the portal): it leaves the
    /// metaproperties list. False when there was none.
    pub(crate) fn remove_metaproperty(&mut self, name: &str) -> bool {
        let Some(mp) = self.metaprops.remove(name) else {
            return false;
        };
        self.meta_by_id.remove(&mp.id);
        true
    }

    pub(crate) fn metaproperty_mut(&mut self, name: &str) -> Option<&mut Metaproperty> {
        self.metaprops.get_mut(name)
    }

    pub(crate) fn metaproperties_json(&self) -> Value {
        let m: Map<String, Value> = self
            .metaprops
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect();
        Value::Object(m)
    }

    /// Creates an option on the metaproperty with this id; Err(400 message) on a bad request.
    pub(crate) fn create_option(
        &mut self,
        mp_id: &str,
        name: &str,
        label: &str,
    ) -> Result<String, (u16, String)> {
        let Some(mp_name) = self.meta_by_id.get(mp_id).cloned() else {
            return Err((404, format!("Metaproperty {mp_id} not found")));
        };
        let Some(mp) = self.metaprops.get_mut(&mp_name) else {
            return Err((404, format!("Metaproperty {mp_id} not found")));
        };
        if mp.kind != MetaKind::Select {
            return Err((400, format!("Metaproperty {mp_id} has no options")));
        }
        if name.is_empty() || mp.has_option_name(name) {
            return Err((
                400,
                format!("Option name '{name}' is empty or already exists"),
            ));
        }
        Ok(mp.ensure_option(name, label))
    }

    // ---- media ----

    pub(crate) fn add_media(&mut self, m: Media) {
        self.by_modified.insert((m.modified, m.id.clone()));
        self.media.insert(m.id.clone(), m);
        self.generation += 1;
    }

    /// Changes a media item and keeps the index right.
    pub(crate) fn edit_media(&mut self, id: &str, f: impl FnOnce(&mut Media)) -> bool {
        let Some(m) = self.media.get_mut(id) else {
            return false;
        };
        self.by_modified.remove(&(m.modified, id.to_owned()));
        f(m);
        self.by_modified.insert((m.modified, id.to_owned()));
        self.generation += 1;
        true
    }

    pub(crate) fn delete_media(&mut self, id: &str) {
        if let Some(m) = self.media.remove(id) {
            self.by_modified.remove(&(m.modified, id.to_owned()));
            self.generation += 1;
        }
    }

    pub(crate) fn media(&mut self, id: &str) -> Option<&Media> {
        self.apply_due();
        self.media.get(id)
    }

    /// Ids in `(dateModified, id)` order.
    pub(crate) fn media_ids(&self) -> Vec<String> {
        self.by_modified.iter().map(|k| k.1.clone()).collect()
    }

    /// Sets or clears a metaproperty by name (select values by option name, created if
    /// missing) and stamps `modified`. Returns false when the media or metaproperty is unknown.
    pub(crate) fn set_by_name(
        &mut self,
        id: &str,
        prop: &str,
        value: Option<&str>,
        now: DateTime<Utc>,
    ) -> bool {
        let Some(mp) = self.metaprops.get_mut(prop) else {
            return false;
        };
        let v = match (value, mp.kind) {
            (None, _) | (Some(""), _) => None,
            (Some(v), MetaKind::Select) => {
                let names: Vec<String> = v.split(',').map(|s| s.trim().to_owned()).collect();
                for n in &names {
                    mp.ensure_option(n, n);
                }
                Some(PropValue::Options(names))
            }
            (Some(v), _) => Some(PropValue::Text(v.to_owned())),
        };
        self.edit_media(id, |m| {
            match v {
                Some(v) => m.props.insert(prop.to_owned(), v),
                None => m.props.remove(prop),
            };
            m.modified = now;
        })
    }

    /// A metadata write (`metaproperty.<id>=<value>` fields): validated now, visible after
    /// `write_delay`.
    pub(crate) fn write(
        &mut self,
        id: &str,
        fields: &[(String, String)],
        now: DateTime<Utc>,
    ) -> Result<(), (u16, String)> {
        self.apply_due();
        if !self.media.contains_key(id) {
            return Err((404, format!("Media {id} not found")));
        }
        let mut changes = Vec::new();
        for (k, v) in fields {
            let Some(mp_id) = k.strip_prefix("metaproperty.") else {
                continue;
            };
            let mp = self
                .meta_by_id
                .get(mp_id)
                .and_then(|n| self.metaprops.get(n))
                .ok_or_else(|| (400, format!("Metaproperty {mp_id} does not exist")))?;
            changes.push((mp.name.clone(), parse_value(mp, v).map_err(|e| (400, e))?));
        }
        let pending = Pending {
            due: Instant::now() + self.write_delay,
            id: id.to_owned(),
            changes,
            at: now,
        };
        self.pending.push(pending);
        self.apply_due();
        Ok(())
    }

    fn apply_due(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let now = Instant::now();
        let (due, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| p.due <= now);
        self.pending = keep;
        for p in due {
            self.edit_media(&p.id, |m| {
                for (name, v) in p.changes {
                    match v {
                        Some(v) => m.props.insert(name, v),
                        None => m.props.remove(&name),
                    };
                }
                m.modified = p.at;
            });
        }
    }

    /// One page of a listing, and the total count of matches when `count` is set.
    pub(crate) fn list(&mut self, q: &MediaQuery, count: bool) -> (Vec<&Media>, Option<usize>) {
        self.apply_due();
        if let Some(ids) = &q.ids {
            return self.list_ids(q, ids, count);
        }
        let media = &self.media;
        let keep = |id: &str| match (&q.kind, media.get(id)) {
            (_, None) => false,
            (Some(k), Some(_)) => k == "video",
            (None, Some(_)) => true,
        };
        let offset = (q.page - 1) * q.limit;
        let total = count.then(|| {
            let lower = q.since.map(|t| (t, String::new()));
            match lower {
                Some(l) => self.by_modified.range(l..).filter(|k| keep(&k.1)).count(),
                None => self.by_modified.iter().filter(|k| keep(&k.1)).count(),
            }
        });
        let ids: Vec<String> = match q.order.0.as_str() {
            "dateModified" => {
                let sig = format!("{:?}|{:?}|{:?}|{}", q.kind, q.since, q.order, q.limit);
                let hint = self.cursors.hint(&sig, offset, self.generation);
                let walk = Walk {
                    desc: q.order.1,
                    lower: q.since,
                    offset,
                    limit: q.limit,
                    resume_after: hint.as_ref(),
                };
                let (keys, more) = walk.run(&self.by_modified, |k| keep(&k.1));
                if more && let Some(last) = keys.last() {
                    self.cursors
                        .remember(&sig, offset + keys.len(), self.generation, last.clone());
                }
                keys.into_iter().map(|k| k.1).collect()
            }
            // Other orderings are rare: sort the matches (O(n log n)).
            field => {
                let mut all: Vec<&Media> = media
                    .values()
                    .filter(|m| keep(&m.id) && q.since.is_none_or(|t| m.modified >= t))
                    .collect();
                all.sort_by(|a, b| {
                    let o = if field == "name" {
                        a.name.cmp(&b.name)
                    } else {
                        a.created.cmp(&b.created)
                    };
                    o.then_with(|| a.id.cmp(&b.id))
                });
                if q.order.1 {
                    all.reverse();
                }
                all.into_iter()
                    .skip(offset)
                    .take(q.limit)
                    .map(|m| m.id.clone())
                    .collect()
            }
        };
        (
            ids.iter().filter_map(|id| self.media.get(id)).collect(),
            total,
        )
    }

    /// A listing restricted to `ids`: the existing ones among them, with the other filters,
    /// ordering and paging applied (a direct lookup, not a walk of the catalogue).
    fn list_ids(
        &self,
        q: &MediaQuery,
        ids: &[String],
        count: bool,
    ) -> (Vec<&Media>, Option<usize>) {
        let mut seen = std::collections::HashSet::new();
        let mut all: Vec<&Media> = ids
            .iter()
            .filter(|id| seen.insert(id.as_str()))
            .filter_map(|id| self.media.get(id))
            .filter(|_| q.kind.as_deref().is_none_or(|k| k == "video"))
            .filter(|m| q.since.is_none_or(|t| m.modified >= t))
            .collect();
        all.sort_by(|a, b| {
            let o = match q.order.0.as_str() {
                "dateModified" => a.modified.cmp(&b.modified),
                "name" => a.name.cmp(&b.name),
                _ => a.created.cmp(&b.created),
            };
            o.then_with(|| a.id.cmp(&b.id))
        });
        if q.order.1 {
            all.reverse();
        }
        let total = count.then_some(all.len());
        let offset = (q.page - 1) * q.limit;
        (all.into_iter().skip(offset).take(q.limit).collect(), total)
    }

    // ---- tokens ----

    pub(crate) fn token_valid(&self, token: &str, now: DateTime<Utc>) -> bool {
        self.tokens.get(token).is_some_and(|exp| *exp > now)
    }
}

impl Media {
    /// The media JSON as the API serves it (docs/wire/bynder.md "Media JSON").
    pub(crate) fn to_json(&self, base: &str, versions: bool, file_bytes: usize) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("name".into(), json!(self.name));
        m.insert("type".into(), json!("video"));
        m.insert("extension".into(), json!([self.extension]));
        m.insert("dateCreated".into(), json!(iso(self.created)));
        m.insert("dateModified".into(), json!(iso(self.modified)));
        m.insert("archive".into(), json!(i32::from(self.archived)));
        m.insert("isPublic".into(), json!(0));
        m.insert("version".into(), json!(self.version));
        m.insert("fileSize".into(), json!(file_bytes));
        m.insert("description".into(), json!(self.description));
        m.insert(
            "videoPreviewURLs".into(),
            json!([format!("{base}/__sim/files/{}/preview.mp4", self.id)]),
        );
        let thumb = format!("{base}/__sim/files/{}/thumb.jpg", self.id);
        m.insert(
            "thumbnails".into(),
            json!({"mini": thumb, "thul": thumb, "webimage": thumb}),
        );
        // The rest of a media item's documented fields (Bynder's asset schema: `idHash`,
        // `brandId`, `copyright`, `tags`, `userCreated`, `datePublished`, `orientation`,
        // `width`, `height`, `watermarked`, `limited`, `propertyOptions`), so a client reading
        // a real item meets them here too.
        m.insert("idHash".into(), json!(&derived_id("hash", &self.id)[..16]));
        m.insert("brandId".into(), json!(derived_id("brand", "acme")));
        m.insert("copyright".into(), json!(""));
        m.insert("tags".into(), json!([]));
        m.insert("userCreated".into(), json!("marketing.ops@acme.example"));
        m.insert("datePublished".into(), json!(iso(self.created)));
        m.insert("orientation".into(), json!("landscape"));
        m.insert("width".into(), json!(1920));
        m.insert("height".into(), json!(1080));
        m.insert("watermarked".into(), json!(0));
        m.insert("limited".into(), json!(0));
        let mut option_ids = Vec::new();
        for (k, v) in &self.props {
            let v = match v {
                PropValue::Options(names) => {
                    option_ids.extend(names.iter().map(|n| derived_id(&format!("option\0{k}"), n)));
                    json!(names)
                }
                PropValue::Text(t) => json!(t),
            };
            m.insert(format!("property_{k}"), v);
        }
        m.insert("propertyOptions".into(), json!(option_ids));
        if versions {
            m.insert(
                "mediaItems".into(),
                json!([{"id": derived_id("item", &self.id), "version": 1, "type": "original", "size": file_bytes, "fileName": format!("{}.{}", self.name, self.extension)}]),
            );
        }
        Value::Object(m)
    }
}
