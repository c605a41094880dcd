//! The AEM emulator's repository: `dam:Asset` nodes under `/content/dam` with their
//! `jcr:content/metadata`, the folders implied by their paths, an index on
//! `jcr:content/jcr:lastModified` for the QueryBuilder feed, and the IMS tokens issued so far.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::framework::paging::{Key, Walk};
use partreel_testkit::fixtures::ClipKind;

/// The repository root every asset lives under.
pub const DAM_PREFIX: &str = "/content/dam";

/// One asset: its node, `jcr:content` times and the `metadata` node's properties.
#[derive(Debug, Clone, PartialEq)]
pub struct Asset {
    /// Repository path (`/content/dam/…/clip.mp4`).
    pub path: String,
    /// `jcr:created`.
    pub created: DateTime<Utc>,
    /// `jcr:content/jcr:lastModified`.
    pub modified: DateTime<Utc>,
    /// `jcr:content/metadata` properties (`dc:title`, `acme:sku`, `dam:sha1`, …).
    pub metadata: BTreeMap<String, String>,
    /// What the original binary carries.
    pub file: ClipKind,
    /// The C2PA claim generator the clip was signed as.
    pub generator: String,
    /// Uploads of the binary so far (a re-upload changes `dam:sha1`).
    pub uploads: u32,
}

impl Asset {
    /// The file name (last path segment).
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// The parent folder's path.
    pub fn parent(&self) -> &str {
        self.path.rsplit_once('/').map_or("", |(p, _)| p)
    }

    /// Sets `dam:sha1` from what the binary is (deterministic, changes on every upload).
    pub(crate) fn stamp_binary(&mut self) {
        let mut h = Sha256::new();
        h.update(self.path.as_bytes());
        h.update(self.generator.as_bytes());
        h.update(format!("{:?}/{}", self.file, self.uploads).as_bytes());
        let digest = hex::encode(h.finalize());
        self.metadata
            .insert("dam:sha1".to_owned(), digest[..40].to_owned());
    }
}

/// Everything the emulator holds.
#[derive(Debug, Default)]
pub(crate) struct AemStore {
    assets: BTreeMap<String, Asset>,
    index: BTreeSet<Key>,
    /// Issued IMS access tokens → expiry.
    pub(crate) tokens: HashMap<String, DateTime<Utc>>,
    /// IMS tokens issued so far.
    pub(crate) tokens_issued: u64,
    /// Issued Granite CSRF tokens → expiry.
    pub(crate) csrf_tokens: HashMap<String, DateTime<Utc>>,
    /// Size of each original file.
    pub(crate) file_bytes: usize,
}

/// A QueryBuilder page request, already parsed.
#[derive(Debug, Clone)]
pub(crate) struct Query {
    /// `path`: only assets below it.
    pub(crate) path: String,
    /// `path.self=true`: the node at `path` itself too.
    pub(crate) include_self: bool,
    /// `daterange.lowerBound`, and whether it is inclusive (`lowerOperation=>=`).
    pub(crate) lower: Option<(DateTime<Utc>, bool)>,
    /// `p.offset`.
    pub(crate) offset: usize,
    /// `p.limit` (None: all, `-1`).
    pub(crate) limit: Option<usize>,
    /// `group.p.or=true` with `group.N_path` (and `group.N_path.self`): assets below any of
    /// these paths (or at one, with `self`), besides `path`.
    pub(crate) any_of: Vec<(String, bool)>,
}

impl AemStore {
    pub(crate) fn new(file_bytes: usize) -> Self {
        AemStore {
            file_bytes,
            ..AemStore::default()
        }
    }

    /// Adds or replaces an asset.
    pub(crate) fn put(&mut self, mut asset: Asset) {
        if let Some(old) = self.assets.remove(&asset.path) {
            self.index.remove(&(old.modified, old.path));
        }
        if !asset.metadata.contains_key("dam:sha1") {
            asset.stamp_binary();
        }
        self.index.insert((asset.modified, asset.path.clone()));
        self.assets.insert(asset.path.clone(), asset);
    }

    pub(crate) fn get(&self, path: &str) -> Option<&Asset> {
        self.assets.get(path)
    }

    pub(crate) fn paths(&self) -> Vec<String> {
        self.assets.keys().cloned().collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.assets.len()
    }

    /// Edits an asset through `f`; the index follows a changed `modified`.
    pub(crate) fn edit(&mut self, path: &str, f: impl FnOnce(&mut Asset)) -> bool {
        let Some(mut asset) = self.assets.remove(path) else {
            return false;
        };
        self.index.remove(&(asset.modified, asset.path.clone()));
        f(&mut asset);
        self.index.insert((asset.modified, asset.path.clone()));
        self.assets.insert(asset.path.clone(), asset);
        true
    }

    pub(crate) fn delete(&mut self, path: &str) -> bool {
        match self.assets.remove(path) {
            Some(a) => {
                self.index.remove(&(a.modified, a.path));
                true
            }
            None => false,
        }
    }

    /// Writes metadata like `PUT /api/assets/…` does: "" removes a property; `dc:title` is the
    /// title. Stamps `jcr:lastModified`.
    pub(crate) fn write(
        &mut self,
        path: &str,
        props: &BTreeMap<String, String>,
        now: DateTime<Utc>,
    ) -> bool {
        self.edit(path, |a| {
            for (k, v) in props {
                if v.is_empty() {
                    a.metadata.remove(k);
                } else {
                    a.metadata.insert(k.clone(), v.clone());
                }
            }
            a.modified = now;
        })
    }

    /// True when `path` is a folder: the DAM root or an ancestor of some asset.
    pub(crate) fn is_folder(&self, path: &str) -> bool {
        if path == DAM_PREFIX {
            return true;
        }
        let prefix = format!("{path}/");
        self.assets
            .range(prefix.clone()..)
            .next()
            .is_some_and(|(p, _)| p.starts_with(&prefix))
    }

    /// Children of a folder, sub-folders first, each group by name: (path, is_folder).
    pub(crate) fn children(&self, folder: &str) -> Vec<(String, bool)> {
        let prefix = format!("{folder}/");
        let mut folders = BTreeSet::new();
        let mut assets = Vec::new();
        for p in self.assets.range(prefix.clone()..).map(|(p, _)| p) {
            let Some(rest) = p.strip_prefix(&prefix) else {
                break;
            };
            match rest.split_once('/') {
                Some((sub, _)) => {
                    folders.insert(format!("{prefix}{sub}"));
                }
                None => assets.push(p.clone()),
            }
        }
        let mut out: Vec<(String, bool)> = folders.into_iter().map(|p| (p, true)).collect();
        out.extend(assets.into_iter().map(|p| (p, false)));
        out
    }

    /// A QueryBuilder page: assets below `q.path`, oldest `jcr:lastModified` first, ties by
    /// path; and whether more follow.
    pub(crate) fn query(&self, q: &Query) -> (Vec<&Asset>, bool) {
        if !q.any_of.is_empty() {
            return self.query_any_of(q);
        }
        let prefix = format!("{}/", q.path.trim_end_matches('/'));
        let lower = q.lower;
        let walk = Walk {
            desc: false,
            lower: lower.map(|(t, _)| t),
            offset: q.offset,
            limit: q.limit.unwrap_or(usize::MAX - 1),
            resume_after: None,
        };
        let (keys, more) = walk.run(&self.index, |(t, p)| {
            (p.starts_with(&prefix) || (q.include_self && *p == q.path))
                && lower.is_none_or(|(l, incl)| if incl { *t >= l } else { *t > l })
        });
        let page = keys
            .iter()
            .filter_map(|(_, p)| self.assets.get(p))
            .collect();
        (page, more)
    }

    /// A query whose `group.p.or` lists paths: the assets at (with `self`) or below each one,
    /// within `path`, by a lookup per path instead of a walk of the whole index; then the
    /// date bound, the feed's order (`jcr:lastModified`, then path) and the page.
    fn query_any_of(&self, q: &Query) -> (Vec<&Asset>, bool) {
        let root = format!("{}/", q.path.trim_end_matches('/'));
        let mut found: BTreeMap<&str, &Asset> = BTreeMap::new();
        for (path, include_self) in &q.any_of {
            let path = path.trim_end_matches('/');
            if *include_self && let Some((p, a)) = self.assets.get_key_value(path) {
                found.insert(p, a);
            }
            let below = format!("{path}/");
            for (p, a) in self
                .assets
                .range::<str, _>((
                    std::ops::Bound::Included(below.as_str()),
                    std::ops::Bound::Unbounded,
                ))
                .take_while(|(p, _)| p.starts_with(&below))
            {
                found.insert(p, a);
            }
        }
        let mut hits: Vec<&Asset> = found
            .into_iter()
            .filter(|(p, _)| p.starts_with(&root) || *p == q.path)
            .map(|(_, a)| a)
            .filter(|a| {
                q.lower.is_none_or(|(l, incl)| {
                    if incl {
                        a.modified >= l
                    } else {
                        a.modified > l
                    }
                })
            })
            .collect();
        hits.sort_by(|a, b| {
            a.modified
                .cmp(&b.modified)
                .then_with(|| a.path.cmp(&b.path))
        });
        let limit = q.limit.unwrap_or(usize::MAX);
        let more = hits.len() > q.offset.saturating_add(limit);
        (hits.into_iter().skip(q.offset).take(limit).collect(), more)
    }

    /// Issues nothing; says whether `token` is live at `now`.
    pub(crate) fn token_valid(&self, token: &str, now: DateTime<Utc>) -> bool {
        self.tokens.get(token).is_some_and(|exp| *exp > now)
    }

    /// Says whether the CSRF `token` is live at `now`.
    pub(crate) fn csrf_valid(&self, token: &str, now: DateTime<Utc>) -> bool {
        self.csrf_tokens.get(token).is_some_and(|exp| *exp > now)
    }

    /// Forgets every session credential (IMS and CSRF tokens).
    pub(crate) fn drop_sessions(&mut self) {
        self.tokens.clear();
        self.csrf_tokens.clear();
    }
}
