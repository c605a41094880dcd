//! Writes a partreel configuration that points at a running [`Sim`], with the default mapping
//! files and the emulators' credentials in secret files beside it (never in the config).
//!
//! The systems form: one `[systems.NAME]` table per emulator — `windchill`, `teamcenter`,
//! `threedx` (CAS login through 3DPassport), `bynder` (OAuth client credentials) and `aem` (IMS
//! client credentials against the emulator's token endpoint) — and four `[[jobs]]`, in this
//! order:
//! - `windchill-bynder`: part numbers `TR-*`, `DL-*`, `RC-*` and the story's unknown `XX-*`;
//! - `teamcenter-bynder`: `ST-*`, `SC-*`;
//! - `threedx-bynder`: `PL-*`, `PK-*`;
//! - `windchill-aem`: every Windchill part revision an AEM clip names (no scope).

use std::io;
use std::path::{Path, PathBuf};

use crate::Sim;

/// The default Windchill mapping shipped with partreel.
pub const WINDCHILL_MAPPING: &str = include_str!("../../mappings/windchill.toml");
/// The default Teamcenter mapping shipped with partreel.
pub const TEAMCENTER_MAPPING: &str = include_str!("../../mappings/teamcenter.toml");
/// The default 3DEXPERIENCE mapping shipped with partreel.
pub const THREEDX_MAPPING: &str = include_str!("../../mappings/threedx.toml");
/// The default Bynder mapping shipped with partreel.
pub const BYNDER_MAPPING: &str = include_str!("../../mappings/bynder.toml");
/// The default AEM Assets mapping shipped with partreel.
pub const AEM_MAPPING: &str = include_str!("../../mappings/aem.toml");
/// The AEM metadata properties offered to the mapping before any clip holds them (the ones
/// partreel writes back).
const AEM_METADATA_PROPERTIES: &str = r#"["acme:lifecycleState", "acme:partName"]"#;

/// Choices for the written configuration.
#[derive(Debug, Clone)]
pub struct ConfigOptions {
    /// State file (SQLite).
    pub state: PathBuf,
    /// `sync.overlap_secs`.
    pub overlap_secs: u64,
    /// `sync.carry_forward`.
    pub carry_forward: bool,
    /// Short retry backoffs (for tests that inject faults).
    pub fast_retries: bool,
    /// Client rate limit in requests per second for every system (None: connector defaults).
    pub requests_per_sec: Option<u32>,
}

impl Default for ConfigOptions {
    fn default() -> Self {
        ConfigOptions {
            state: PathBuf::from("partreel.db"),
            overlap_secs: 30,
            carry_forward: true,
            fast_retries: false,
            requests_per_sec: None,
        }
    }
}

fn write_secret(path: &Path, value: &str) -> io::Result<()> {
    std::fs::write(path, value)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

fn http_table(prefix: &str, opts: &ConfigOptions) -> String {
    let mut out = String::new();
    if opts.fast_retries {
        out.push_str(&format!(
            "\n[{prefix}.http.retry]\nmax_attempts = 12\ninitial_backoff_ms = 5\nmax_backoff_ms = 100\nrate_limited_backoff_ms = 20\nmax_retry_after_secs = 2\n"
        ));
    }
    if let Some(rps) = opts.requests_per_sec {
        out.push_str(&format!(
            "\n[{prefix}.http.rate_limit]\nrequests = {rps}\nper_secs = 1\nburst = {rps}\n"
        ));
    }
    out
}

impl Sim {
    /// Writes `dir/partreel.toml`, `dir/mappings/*.toml` and `dir/secrets/*`; returns the
    /// configuration's path.
    pub fn write_partreel_config(&self, dir: &Path, opts: &ConfigOptions) -> io::Result<PathBuf> {
        let creds = self.credentials();
        std::fs::create_dir_all(dir.join("mappings"))?;
        std::fs::create_dir_all(dir.join("secrets"))?;
        // Only the owner may list or enter the folder of secrets.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.join("secrets"), std::fs::Permissions::from_mode(0o700))?;
        }
        std::fs::write(dir.join("mappings/windchill.toml"), WINDCHILL_MAPPING)?;
        std::fs::write(dir.join("mappings/teamcenter.toml"), TEAMCENTER_MAPPING)?;
        std::fs::write(dir.join("mappings/threedx.toml"), THREEDX_MAPPING)?;
        std::fs::write(dir.join("mappings/bynder.toml"), BYNDER_MAPPING)?;
        std::fs::write(dir.join("mappings/aem.toml"), AEM_MAPPING)?;
        write_secret(
            &dir.join("secrets/windchill_password"),
            &creds.windchill_password,
        )?;
        write_secret(
            &dir.join("secrets/teamcenter_password"),
            &creds.teamcenter_password,
        )?;
        write_secret(
            &dir.join("secrets/threedx_password"),
            &self.threedx.credentials.password,
        )?;
        write_secret(
            &dir.join("secrets/bynder_client_secret"),
            &creds.bynder_client_secret,
        )?;
        write_secret(
            &dir.join("secrets/aem_client_secret"),
            &self.aem.credentials.client_secret,
        )?;
        let state = opts.state.display().to_string().replace('\\', "/");
        let text = format!(
            r#"# Written by `partreel sim`: points partreel at the local emulators.
# Secrets live in ./secrets (mode 0600), never in this file.
state = "{state}"

[sync]
overlap_secs = {overlap}
carry_forward = {carry}

[systems.windchill]
type = "windchill"
mapping = "mappings/windchill.toml"
base_url = "{wc_url}"
username = "{wc_user}"
password = {{ file = "secrets/windchill_password" }}
container = "OR:wt.pdmlink.PDMLinkProduct:1001"
document_type = "PromptToPartLink"
{wc_http}
[systems.teamcenter]
type = "teamcenter"
mapping = "mappings/teamcenter.toml"
base_url = "{tc_url}"
username = "{tc_user}"
password = {{ file = "secrets/teamcenter_password" }}
{tc_http}
[systems.threedx]
type = "threedx"
mapping = "mappings/threedx.toml"
passport_url = "{tx_passport}"
space_url = "{tx_space}"
security_context = "{tx_ctx}"
link_extension = "PromptToPartLinkExt"
auth = {{ type = "cas", username = "{tx_user}", password = {{ file = "secrets/threedx_password" }} }}
{tx_http}
[systems.bynder]
type = "bynder"
mapping = "mappings/bynder.toml"
base_url = "{by_url}"
auth = {{ type = "oauth2", client_id = "{by_client}", client_secret = {{ file = "secrets/bynder_client_secret" }} }}
{by_http}
[systems.aem]
type = "aem"
mapping = "mappings/aem.toml"
base_url = "{aem_url}"
dam_root = "{aem_root}"
archive_property = "{aem_archive}"
metadata_properties = {aem_props}
auth = {{ type = "ims", client_id = "{aem_client}", client_secret = {{ file = "secrets/aem_client_secret" }}, token_url = "{aem_token}" }}
{aem_http}
[[jobs]]
name = "windchill-bynder"
plm = "windchill"
dam = "bynder"
scope = {{ part_numbers = ["TR-*", "DL-*", "RC-*", "XX-*"] }}

[[jobs]]
name = "teamcenter-bynder"
plm = "teamcenter"
dam = "bynder"
scope = {{ part_numbers = ["ST-*", "SC-*"] }}

[[jobs]]
name = "threedx-bynder"
plm = "threedx"
dam = "bynder"
scope = {{ part_numbers = ["PL-*", "PK-*"] }}

[[jobs]]
name = "windchill-aem"
plm = "windchill"
dam = "aem"
"#,
            overlap = opts.overlap_secs,
            carry = opts.carry_forward,
            wc_url = self.windchill.url,
            wc_user = creds.windchill_username,
            tc_url = self.teamcenter.emulator.url,
            tc_user = creds.teamcenter_username,
            tx_passport = self.threedx.passport_url,
            tx_space = self.threedx.emulator.url,
            tx_ctx = self.threedx.credentials.security_context,
            tx_user = self.threedx.credentials.username,
            by_url = self.bynder.url,
            by_client = creds.bynder_client_id,
            aem_url = self.aem.emulator.url,
            aem_root = self.aem.dam_root,
            aem_archive = crate::aem::ARCHIVE_PROPERTY,
            aem_props = AEM_METADATA_PROPERTIES,
            aem_client = self.aem.credentials.client_id,
            aem_token = self.aem.token_url,
            wc_http = http_table("systems.windchill", opts),
            tc_http = http_table("systems.teamcenter", opts),
            tx_http = http_table("systems.threedx", opts),
            by_http = http_table("systems.bynder", opts),
            aem_http = http_table("systems.aem", opts),
        );
        let path = dir.join("partreel.toml");
        std::fs::write(&path, text)?;
        Ok(path)
    }
}
