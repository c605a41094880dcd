//! The registry of the emulated systems: the one place in the sim that lists them.
//!
//! Each system is one entry of the [`emulators!`] invocation below: its kind (as written in a
//! partreel configuration's `type`), its side, the endpoints `partreel sim` and `partreel demo`
//! print, the settings of its `[systems.KIND]` table in the written configuration (and the secret
//! files beside it), the demo jobs it joins, and the vendor's shape of an error, a 429 and a
//! malformed body. From the entries come [`System`] (the request log's label) and [`EMULATORS`],
//! which the configuration writer, the serving framework and the binary's commands iterate.
//! Starting an emulator and its test mutations stay in its own module and [`crate::Sim`]. See
//! `docs/adding-a-system.md`.

use std::io;
use std::path::Path;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::config_writer::write_secret;
use crate::{GeneratedPlm, Sim};

/// Which side of a link an emulated system is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Product lifecycle management.
    Plm,
    /// Digital asset management.
    Dam,
}

/// One emulated system: what the sim needs to know of it besides its own module.
#[derive(Debug, Clone, Copy)]
pub struct Emulated {
    /// The system, as the request log labels it.
    pub system: System,
    /// Its kind, as written in a configuration's `type`.
    pub kind: &'static str,
    /// PLM or DAM.
    pub side: Side,
    /// The default mapping shipped with partreel (`mappings/KIND.toml`).
    pub mapping: &'static str,
    /// Its labelled endpoints, the emulator's own first (`("windchill emulator", url)`).
    pub endpoints: fn(&Sim) -> Vec<(&'static str, String)>,
    /// Writes its secrets under `dir/secrets/` and returns its settings for the written
    /// configuration (the lines after `type` and `mapping`).
    pub(crate) settings: fn(&Sim, &Path) -> io::Result<String>,
    /// The `[[jobs]]` of the written configuration that this system's entry brings (empty:
    /// none), in TOML.
    pub jobs: &'static str,
    /// The vendor's error body for a status, a code and a message.
    pub(crate) error: fn(StatusCode, &str, &str) -> Response,
    /// Whether the vendor's 429 carries `Retry-After`.
    pub(crate) retry_after: bool,
    /// The start of a body, cut where a malformed-body fault cuts it.
    pub(crate) malformed: &'static str,
    /// A PLM that can hold the generated part revisions (`partreel sim --generated-plm KIND`).
    pub generates: Option<Generated>,
}

/// A PLM emulator that can hold the generated part revisions.
#[derive(Debug, Clone, Copy)]
pub struct Generated {
    /// The [`SimConfig::generated_plm`](crate::SimConfig::generated_plm) that picks it.
    pub plm: GeneratedPlm,
    /// What it generates, for `--generated-plm`'s help.
    pub about: &'static str,
}

impl Emulated {
    /// The emulator's own URL (the first endpoint).
    pub fn url(&self, sim: &Sim) -> String {
        (self.endpoints)(sim)
            .into_iter()
            .next()
            .map(|(_, url)| url)
            .unwrap_or_default()
    }
}

/// Lists every emulated system once; generates [`System`] and [`EMULATORS`] in the same order.
macro_rules! emulators {
    ($($variant:ident {
        kind: $kind:literal,
        side: $side:ident,
        about: $about:literal,
        endpoints: $endpoints:path,
        settings: $settings:path,
        jobs: $jobs:expr,
        error: $error:path,
        retry_after: $retry_after:literal,
        malformed: $malformed:expr,
        generates: $generates:expr $(,)?
    }),* $(,)?) => {
        /// Which emulated system.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum System {
            $(
                #[doc = $about]
                #[serde(rename = $kind)]
                $variant,
            )*
        }

        /// Every emulated system, in the order of [`System`]'s variants.
        pub const EMULATORS: &[Emulated] = &[$(Emulated {
            system: System::$variant,
            kind: $kind,
            side: Side::$side,
            mapping: include_str!(concat!("../../mappings/", $kind, ".toml")),
            endpoints: $endpoints,
            settings: $settings,
            jobs: $jobs,
            error: $error,
            retry_after: $retry_after,
            malformed: $malformed,
            generates: $generates,
        }),*];
    };
}

emulators! {
    Windchill {
        kind: "windchill",
        side: Plm,
        about: "PTC Windchill (WRS OData).",
        endpoints: windchill_endpoints,
        settings: windchill_settings,
        jobs: r#"[[jobs]]
name = "windchill-bynder"
plm = "windchill"
dam = "bynder"
scope = { part_numbers = ["TR-*", "DL-*", "RC-*", "XX-*"] }
"#,
        error: windchill_error,
        // Windchill's front end sends one.
        retry_after: true,
        malformed: r#"{"value":[{"ID":"#,
        generates: Some(Generated {
            plm: GeneratedPlm::Windchill,
            about: "Windchill (`TR-…`, `DL-…`, `RC-…`; job `windchill-bynder`)",
        }),
    },
    Teamcenter {
        kind: "teamcenter",
        side: Plm,
        about: "Siemens Teamcenter (SOA services over JSON/REST).",
        endpoints: teamcenter_endpoints,
        settings: teamcenter_settings,
        jobs: r#"[[jobs]]
name = "teamcenter-bynder"
plm = "teamcenter"
dam = "bynder"
scope = { part_numbers = ["ST-*", "SC-*"] }
"#,
        error: teamcenter_error,
        retry_after: true,
        malformed: r#"{"ServiceData":{"modelObjects":{"#,
        generates: Some(Generated {
            plm: GeneratedPlm::Teamcenter,
            about: "Teamcenter (`ST-4001…`, `SC-4001…`; job `teamcenter-bynder`)",
        }),
    },
    Threedx {
        kind: "threedx",
        side: Plm,
        about: "Dassault Systèmes 3DEXPERIENCE (3DPassport + 3DSpace).",
        endpoints: threedx_endpoints,
        settings: threedx_settings,
        jobs: r#"[[jobs]]
name = "threedx-bynder"
plm = "threedx"
dam = "bynder"
scope = { part_numbers = ["PL-*", "PK-*"] }
"#,
        error: threedx_error,
        retry_after: true,
        malformed: r#"{"member":[{"id":"#,
        generates: Some(Generated {
            plm: GeneratedPlm::Threedx,
            about: "3DEXPERIENCE (`PL-5000`, `PK-5001`, …; job `threedx-bynder`)",
        }),
    },
    Bynder {
        kind: "bynder",
        side: Dam,
        about: "Bynder (API v4).",
        endpoints: bynder_endpoints,
        settings: bynder_settings,
        jobs: "",
        error: bynder_error,
        // Bynder documents its 429 without Retry-After.
        retry_after: false,
        malformed: r#"[{"id":"#,
        generates: None,
    },
    Aem {
        kind: "aem",
        side: Dam,
        about: "Adobe Experience Manager Assets (Assets HTTP API, QueryBuilder, IMS).",
        endpoints: aem_endpoints,
        settings: aem_settings,
        jobs: r#"[[jobs]]
name = "windchill-aem"
plm = "windchill"
dam = "aem"
"#,
        error: aem_error,
        retry_after: true,
        malformed: r#"{"success":true,"hits":[{"jcr:path":"#,
        generates: None,
    },
}

impl System {
    /// This system's entry.
    pub fn emulated(self) -> &'static Emulated {
        // EMULATORS lists the variants in declaration order.
        &EMULATORS[self as usize]
    }

    /// Its kind, as written in a configuration's `type`.
    pub fn kind(self) -> &'static str {
        self.emulated().kind
    }
}

// Windchill.

fn windchill_endpoints(sim: &Sim) -> Vec<(&'static str, String)> {
    vec![("windchill emulator", sim.windchill.url.clone())]
}

fn windchill_settings(sim: &Sim, dir: &Path) -> io::Result<String> {
    let creds = sim.credentials();
    write_secret(
        &dir.join("secrets/windchill_password"),
        &creds.windchill_password,
    )?;
    Ok(format!(
        r#"base_url = "{url}"
username = "{user}"
password = {{ file = "secrets/windchill_password" }}
container = "OR:wt.pdmlink.PDMLinkProduct:1001"
document_type = "PromptToPartLink"
"#,
        url = sim.windchill.url,
        user = creds.windchill_username,
    ))
}

fn windchill_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({"error": {"code": code, "message": message}});
    let mut r = (status, axum::Json(body)).into_response();
    r.headers_mut()
        .insert("OData-Version", HeaderValue::from_static("4.0"));
    r
}

// Teamcenter.

fn teamcenter_endpoints(sim: &Sim) -> Vec<(&'static str, String)> {
    vec![("teamcenter emulator", sim.teamcenter.emulator.url.clone())]
}

fn teamcenter_settings(sim: &Sim, dir: &Path) -> io::Result<String> {
    let creds = sim.credentials();
    write_secret(
        &dir.join("secrets/teamcenter_password"),
        &creds.teamcenter_password,
    )?;
    Ok(format!(
        r#"base_url = "{url}"
username = "{user}"
password = {{ file = "secrets/teamcenter_password" }}
"#,
        url = sim.teamcenter.emulator.url,
        user = creds.teamcenter_username,
    ))
}

fn teamcenter_error(status: StatusCode, code: &str, message: &str) -> Response {
    // An SOA exception body (docs/wire/teamcenter.md "Transport").
    let body = serde_json::json!({
        ".QName": "http://teamcenter.com/Schemas/Soa/2006-03/Exceptions.InternalServerException",
        "code": status.as_u16(), "level": 3, "message": format!("{code}: {message}")});
    (status, axum::Json(body)).into_response()
}

// 3DEXPERIENCE.

fn threedx_endpoints(sim: &Sim) -> Vec<(&'static str, String)> {
    vec![
        ("threedx emulator", sim.threedx.emulator.url.clone()),
        ("threedx passport", sim.threedx.passport_url.clone()),
    ]
}

fn threedx_settings(sim: &Sim, dir: &Path) -> io::Result<String> {
    let creds = &sim.threedx.credentials;
    write_secret(&dir.join("secrets/threedx_password"), &creds.password)?;
    Ok(format!(
        r#"passport_url = "{passport}"
space_url = "{space}"
security_context = "{ctx}"
link_extension = "PromptToPartLinkExt"
auth = {{ type = "cas", username = "{user}", password = {{ file = "secrets/threedx_password" }} }}
"#,
        passport = sim.threedx.passport_url,
        space = sim.threedx.emulator.url,
        ctx = creds.security_context,
        user = creds.username,
    ))
}

fn threedx_error(status: StatusCode, _code: &str, message: &str) -> Response {
    // The document-service envelope (docs/wire/threedx.md "Response shapes").
    let body =
        serde_json::json!({"success": false, "statusCode": status.as_u16(), "error": message});
    (status, axum::Json(body)).into_response()
}

// Bynder.

fn bynder_endpoints(sim: &Sim) -> Vec<(&'static str, String)> {
    vec![("bynder emulator", sim.bynder.url.clone())]
}

fn bynder_settings(sim: &Sim, dir: &Path) -> io::Result<String> {
    let creds = sim.credentials();
    write_secret(
        &dir.join("secrets/bynder_client_secret"),
        &creds.bynder_client_secret,
    )?;
    Ok(format!(
        r#"base_url = "{url}"
auth = {{ type = "oauth2", client_id = "{client}", client_secret = {{ file = "secrets/bynder_client_secret" }} }}
"#,
        url = sim.bynder.url,
        client = creds.bynder_client_id,
    ))
}

fn bynder_error(status: StatusCode, _code: &str, message: &str) -> Response {
    let body = serde_json::json!({"message": message, "statuscode": status.as_u16()});
    (status, axum::Json(body)).into_response()
}

// AEM Assets.

/// The AEM metadata properties offered to the mapping before any clip holds them (the ones
/// partreel writes back).
const AEM_METADATA_PROPERTIES: &str = r#"["acme:lifecycleState", "acme:partName"]"#;

fn aem_endpoints(sim: &Sim) -> Vec<(&'static str, String)> {
    vec![("aem emulator", sim.aem.emulator.url.clone())]
}

fn aem_settings(sim: &Sim, dir: &Path) -> io::Result<String> {
    let creds = &sim.aem.credentials;
    write_secret(&dir.join("secrets/aem_client_secret"), &creds.client_secret)?;
    Ok(format!(
        r#"base_url = "{url}"
dam_root = "{root}"
archive_property = "{archive}"
metadata_properties = {props}
auth = {{ type = "ims", client_id = "{client}", client_secret = {{ file = "secrets/aem_client_secret" }}, token_url = "{token}" }}
"#,
        url = sim.aem.emulator.url,
        root = sim.aem.dam_root,
        archive = crate::aem::ARCHIVE_PROPERTY,
        props = AEM_METADATA_PROPERTIES,
        client = creds.client_id,
        token = sim.aem.token_url,
    ))
}

fn aem_error(status: StatusCode, code: &str, message: &str) -> Response {
    // The Siren `core/response` error body (docs/wire/aem.md "Errors").
    let body = serde_json::json!({"class": "core/response", "properties": {
        "status.code": status.as_u16(), "status.message": format!("{code}: {message}")}});
    (status, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_follow_the_variants() {
        for (i, e) in EMULATORS.iter().enumerate() {
            assert_eq!(e.system as usize, i, "{}", e.kind);
            assert_eq!(e.system.kind(), e.kind);
            let label = serde_json::to_value(e.system).expect("serialises");
            assert_eq!(label, serde_json::Value::String(e.kind.into()));
        }
    }

    /// The value of `key = "…"` on each line of a TOML text that sets it.
    fn values<'a>(text: &'a str, key: &str) -> Vec<&'a str> {
        text.lines()
            .filter_map(|l| l.split_once('='))
            .filter(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.trim().trim_matches('"'))
            .collect()
    }

    #[test]
    fn each_mapping_names_its_system_and_side() {
        for e in EMULATORS {
            assert_eq!(values(e.mapping, "system"), [e.kind]);
            let side = match e.side {
                Side::Plm => "plm",
                Side::Dam => "dam",
            };
            assert_eq!(values(e.mapping, "side"), [side], "{}", e.kind);
        }
    }

    #[test]
    fn jobs_pair_registered_systems() {
        for e in EMULATORS {
            for (key, side) in [("plm", Side::Plm), ("dam", Side::Dam)] {
                for kind in values(e.jobs, key) {
                    assert!(
                        EMULATORS.iter().any(|x| x.kind == kind && x.side == side),
                        "{}: job {key} {kind:?}",
                        e.kind
                    );
                }
            }
            assert_eq!(
                values(e.jobs, "plm").len(),
                e.jobs.matches("[[jobs]]").count(),
                "{}",
                e.kind
            );
        }
    }
}
