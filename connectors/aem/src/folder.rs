//! Folder listings of the Assets HTTP API: [`AemClient::list_folder`] pages through a DAM
//! folder's Siren child entities with `offset`/`limit` until `srn:paging` says it has them all
//! (docs/wire/aem.md "Folder listing").

use partreel_connector::error::Result;
use partreel_connector::http::Request;

use crate::client::AemClient;
use crate::wire::{
    API_PREFIX, CLASS_ASSET, CLASS_FOLDER, DAM_PREFIX, JSON_EXTENSION, PROP_PAGING, PROP_TITLE,
    REL_SELF, SirenEntity, SrnPaging,
};

/// One child of a folder listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderEntry {
    /// Repository path (`/content/dam/…`).
    pub path: String,
    /// True for a sub-folder, false for an asset.
    pub folder: bool,
    /// `dc:title`, when set.
    pub title: Option<String>,
}

impl AemClient {
    /// Every child of a DAM folder, following the Siren paging to the end.
    pub async fn list_folder(&self, folder: &str) -> Result<Vec<FolderEntry>> {
        let mut out = Vec::new();
        let mut offset: u64 = 0;
        loop {
            // docs/wire/aem.md "Folder listing": GET {base}/api/assets/{folder}.json
            // ?offset=…&limit=… → Siren with `srn:paging` (Experience League "Content Fragments
            // Support in AEM Assets HTTP API", "Paging").
            let mut url = self.api_url(folder, true)?;
            url.query_pairs_mut()
                .append_pair("offset", &offset.to_string())
                .append_pair("limit", &self.page_size.to_string());
            let resp = self.send(Request::get(url)).await?;
            let page: SirenEntity = resp.json(self.http.system(), "folder listing")?;
            let paging = page
                .properties
                .get(PROP_PAGING)
                .and_then(|p| serde_json::from_value::<SrnPaging>(p.clone()).ok());
            let count = page.entities.len() as u64;
            for child in &page.entities {
                if let Some(entry) = self.folder_entry(folder, child) {
                    out.push(entry);
                }
            }
            offset += count;
            let more = paging.map_or(count >= u64::from(self.page_size), |p| offset < p.total);
            if count == 0 || !more {
                return Ok(out);
            }
        }
    }

    /// A listing child: path from its `self` link, else folder path + `name`.
    fn folder_entry(&self, folder: &str, child: &serde_json::Value) -> Option<FolderEntry> {
        let entity: SirenEntity = serde_json::from_value(child.clone()).ok()?;
        let is_folder = entity.class.contains(CLASS_FOLDER);
        if !is_folder && !entity.class.contains(CLASS_ASSET) {
            return None;
        }
        let from_link = entity
            .link(REL_SELF)
            .and_then(|h| self.base.join(h).ok())
            .and_then(|u| {
                let p = urldecode(u.path());
                p.strip_prefix(API_PREFIX)
                    .and_then(|rest| rest.strip_suffix(JSON_EXTENSION))
                    .map(|rest| format!("{DAM_PREFIX}{rest}"))
            });
        let path = match from_link {
            Some(p) => p,
            None => format!("{folder}/{}", entity.properties.get("name")?.as_str()?),
        };
        let title = entity
            .properties
            .get(PROP_TITLE)
            .and_then(|t| t.as_str())
            .map(str::to_string);
        Some(FolderEntry {
            path,
            folder: is_folder,
            title,
        })
    }
}

fn urldecode(s: &str) -> String {
    urlencoding::decode(s).map_or_else(|_| s.to_string(), |d| d.into_owned())
}
