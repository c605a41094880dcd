//! Server-rendered HTML pages (`maud`: every interpolated value is escaped, so a prompt or
//! title holding `<script>` shows as text). No JavaScript framework: one small inline script
//! notes each `<video>`'s media events in `data-*` attributes (what the browser test reads).
//! The inline script and style are allowed by their SHA-256 in the Content-Security-Policy,
//! so the policy needs no `'unsafe-inline'`.

use std::sync::LazyLock;

use axum::http::StatusCode;
use axum::response::Html;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use partreel_core::state::view::{ClipDetail, PartHit, PartSummary, PartView};
use sha2::{Digest, Sha256};

use super::present::{ClipEntry, clip_path, part_path};

/// The page script: records media events on every clip's `<video>`.
pub const SCRIPT: &str = r#"(function(){document.querySelectorAll('video[data-clip]').forEach(function(v){function mark(ev){v.setAttribute('data-event',ev);if(ev==='loadeddata'){v.setAttribute('data-loaded','true');}if(ev==='error'&&v.error){v.setAttribute('data-error',String(v.error.code));}}['loadstart','loadedmetadata','loadeddata','error'].forEach(function(ev){v.addEventListener(ev,function(){mark(ev);});});if(v.readyState>=2){mark('loadeddata');}});})();"#;

/// The page style.
pub const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}\
header.top{background:#1d2330;color:#fff;padding:.6rem 1.2rem;display:flex;gap:1rem;align-items:center}\
header.top a{color:#fff;text-decoration:none;font-weight:600}\
header.top input{padding:.3rem;width:22rem}\
main{padding:1rem 1.2rem;max-width:80rem}\
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}\
dl.facts dt{font-weight:600;color:#556}\
.revisions a{margin-right:.8rem}.revisions .current{font-weight:700}\
article.clip{background:#fff;border:1px solid #dde;border-radius:6px;padding:.8rem;margin:.8rem 0;display:grid;grid-template-columns:22rem 1fr;gap:1rem}\
article.clip h3{grid-column:1/3;margin:0}\
video{width:22rem;background:#000}\
.badge{display:inline-block;padding:.1rem .5rem;border-radius:1rem;font-size:.85rem;margin-right:.3rem}\
.ok{background:#d6f5dd;color:#135c26}.bad{background:#fde0e0;color:#8a1414}\
.warn{background:#fff0c9;color:#7a5300}.gone{background:#e4e4e8;color:#444}\
table{border-collapse:collapse}td,th{padding:.3rem .7rem;border-bottom:1px solid #dde;text-align:left}";

fn csp_hash(text: &str) -> String {
    format!("'sha256-{}'", base64(&Sha256::digest(text.as_bytes())))
}

/// CSP source allowing [`SCRIPT`].
pub static SCRIPT_HASH: LazyLock<String> = LazyLock::new(|| csp_hash(SCRIPT));
/// CSP source allowing [`STYLE`].
pub static STYLE_HASH: LazyLock<String> = LazyLock::new(|| csp_hash(STYLE));

/// Standard base64 with padding (for CSP hashes).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn layout(title: &str, query: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — partreel" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header.top {
                    a href="/" { "partreel" }
                    form method="get" action="/" {
                        input type="search" name="q" value=(query)
                            placeholder="part number, SKU, campaign or prompt";
                    }
                }
                main { (body) }
                script { (PreEscaped(SCRIPT)) }
            }
        }
    }
}

fn opt(v: Option<&str>) -> &str {
    v.unwrap_or("—")
}

/// `/`: the search form and its results.
pub fn search(q: &str, hits: &[PartHit]) -> Markup {
    let body = html! {
        h1 { @if q.is_empty() { "Part revisions" } @else { "Search: " (q) } }
        @if hits.is_empty() {
            p.empty { "No part revision matches." }
        } @else {
            table #results {
                thead { tr { th { "Part" } th { "Name" } th { "SKU" } th { "Lifecycle" } th { "Clips" } } }
                tbody {
                    @for h in hits {
                        tr {
                            td { a href=(part_path(&h.system, &h.number, &h.revision)) {
                                (h.number) " / " (h.revision) } " " small { (h.system) } }
                            td { (h.name) }
                            td { (opt(h.sku.as_deref())) }
                            td { (opt(h.lifecycle_state.as_deref())) }
                            td.count { (h.clip_count) }
                        }
                    }
                }
            }
        }
    };
    layout("Search", q, body)
}

fn clip_facts(e: &ClipEntry) -> Markup {
    let c = e.clip.as_ref();
    let field = |f: fn(&partreel_core::state::view::ClipInfo) -> Option<&str>| {
        c.and_then(f).unwrap_or("—").to_string()
    };
    let model = match (
        c.and_then(|c| c.model.as_deref()),
        c.and_then(|c| c.model_version.as_deref()),
    ) {
        (Some(m), Some(v)) => format!("{m} {v}"),
        (Some(m), None) => m.to_string(),
        _ => "—".into(),
    };
    html! {
        dl.facts {
            dt { "Prompt" } dd.prompt { (field(|c| c.prompt.as_deref())) }
            dt { "Model" } dd.model { (model) }
            dt { "Campaign" } dd.campaign { (field(|c| c.campaign.as_deref())) }
            dt { "Review status" } dd { (field(|c| c.review_status.as_deref())) }
            dt { "Rights notes" } dd { (field(|c| c.rights_notes.as_deref())) }
            dt { "Rights expiry" } dd { (field(|c| c.rights_expiry.as_deref())) }
            dt { "Link" } dd { (e.link.status.as_str()) " (" (e.link.origin.as_str()) ")" }
            dt { "Synced" } dd.synced {
                (e.link.synced_at.format("%Y-%m-%d %H:%M UTC")) " by run " code { (e.link.run_id) }
            }
        }
    }
}

fn video(e: &ClipEntry) -> Markup {
    html! {
        @match &e.video_url {
            Some(src) => video controls preload="metadata" src=(src) data-clip=(e.link.asset_id) {
                "Your browser cannot play this clip."
            },
            None => p.novideo { "No playable rendition is known for this clip." },
        }
    }
}

fn badges(e: &ClipEntry) -> Markup {
    html! {
        div.badges { @for b in &e.badges { span class=(b.class()) data-kind=(serde_json::to_value(b.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()) { (b.label) } } }
    }
}

/// `/parts/{system}/{number}/{revision}`.
pub fn part(
    p: &PartView,
    plm_url: Option<&str>,
    clips: &[ClipEntry],
    revisions: &[PartSummary],
) -> Markup {
    let title = format!("{} / {}", p.number, p.revision);
    let body = html! {
        h1 { (title) " — " (p.name) }
        dl.facts #part {
            dt { "Part number" } dd { (p.number) }
            dt { "Revision" } dd { (p.revision) }
            dt { "Name" } dd { (p.name) }
            dt { "SKU" } dd { (opt(p.sku.as_deref())) }
            dt { "Lifecycle state" } dd { (opt(p.lifecycle_state.as_deref())) }
            dt { "PLM record" } dd {
                @match plm_url {
                    Some(u) => a href=(u) rel="noopener" target="_top" { (p.system) " " (p.remote_id) },
                    None => { (p.system) " " code { (p.remote_id) } },
                }
            }
        }
        nav.revisions {
            "Revisions: "
            @for r in revisions {
                @if r.revision == p.revision {
                    span.current { (r.revision) " (" (r.clip_count) ")" }
                } @else {
                    a href=(part_path(&r.system, &r.number, &r.revision)) {
                        (r.revision) " (" (r.clip_count) " clips)" }
                }
            }
        }
        h2 { "Linked clips (" (clips.len()) ")" }
        @if clips.is_empty() { p.empty { "No clip is linked to this revision." } }
        section #clips {
            @for e in clips {
                article.clip data-asset-id=(e.link.asset_id) data-status=(e.link.status.as_str()) {
                    h3 { a href=(e.clip_path) { (e.clip.as_ref().map(|c| c.title.as_str()).unwrap_or(e.link.asset_id.as_str())) } }
                    div { (video(e)) (badges(e)) }
                    (clip_facts(e))
                }
            }
        }
    };
    layout(&title, "", body)
}

/// `/clips/{system}/{asset_id}`.
pub fn clip(d: &ClipDetail, entry: Option<&ClipEntry>, video_url: Option<&str>) -> Markup {
    let c = &d.clip;
    let body = html! {
        h1 { (c.title) }
        @match entry {
            Some(e) => article.clip data-asset-id=(c.asset_id) {
                h3 { (c.dam_system) " " code { (c.asset_id) } }
                div { (video(e)) (badges(e)) }
                (clip_facts(e))
            },
            None => {
                @if let Some(src) = video_url {
                    video controls preload="metadata" src=(src) data-clip=(c.asset_id) {}
                }
                p { "This clip is not linked to any part revision." }
            },
        }
        h2 { "Linked part revisions (" (d.links.len()) ")" }
        table #links {
            thead { tr { th { "Part" } th { "Name" } th { "Lifecycle" } th { "Link" } th { "Synced" } } }
            tbody {
                @for l in &d.links {
                    tr {
                        td { a href=(part_path(&l.link.plm_system, &l.link.part_number, &l.link.part_revision)) {
                            (l.link.part_number) " / " (l.link.part_revision) } }
                        td { (l.part.as_ref().map(|p| p.name.as_str()).unwrap_or("—")) }
                        td { (opt(l.part.as_ref().and_then(|p| p.lifecycle_state.as_deref()))) }
                        td { (l.link.status.as_str()) }
                        td { (l.link.synced_at.format("%Y-%m-%d %H:%M UTC")) }
                    }
                }
            }
        }
        p { a href=(clip_path(&c.dam_system, &c.asset_id)) { "Permalink" } }
    };
    layout(&c.title, "", body)
}

/// An error page (404 names what was not found).
pub fn error_page(status: StatusCode, message: &str) -> Html<String> {
    let title = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    let body = html! {
        h1 { (title) }
        p.error #message { (message) }
        p { a href="/" { "Search part revisions" } }
    };
    Html(layout(&title, "", body).into_string())
}

#[cfg(test)]
mod tests {
    //! Escaping and the CSP hash helper.

    use super::*;

    #[test]
    fn base64_matches_known_vectors() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn search_escapes_the_query() {
        let page = search("<script>alert(1)</script>", &[]).into_string();
        assert!(!page.contains("<script>alert(1)"));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    }
}
