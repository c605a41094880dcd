//! Writes a partreel configuration that points at a running [`Sim`], with the default mapping
//! files and the emulators' credentials in secret files beside it (never in the config).
//!
//! The systems form: one `[systems.KIND]` table per emulator of the registry
//! ([`crate::registry::EMULATORS`], in its order), each with the settings and secrets its entry
//! gives, then the `[[jobs]]` the entries bring — with the registry as it is, in this order:
//! - `windchill-bynder`: part numbers `TR-*`, `DL-*`, `RC-*` and the story's unknown `XX-*`;
//! - `teamcenter-bynder`: `ST-*`, `SC-*`;
//! - `threedx-bynder`: `PL-*`, `PK-*`;
//! - `windchill-aem`: every Windchill part revision an AEM clip names (no scope).

use std::io;
use std::path::{Path, PathBuf};

use crate::Sim;
use crate::registry::EMULATORS;

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

/// Writes a secret file only its owner may read.
pub(crate) fn write_secret(path: &Path, value: &str) -> io::Result<()> {
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
        std::fs::create_dir_all(dir.join("mappings"))?;
        std::fs::create_dir_all(dir.join("secrets"))?;
        // Only the owner may list or enter the folder of secrets.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.join("secrets"), std::fs::Permissions::from_mode(0o700))?;
        }
        let state = opts.state.display().to_string().replace('\\', "/");
        let mut text = format!(
            r#"# Written by `partreel sim`: points partreel at the local emulators.
# Secrets live in ./secrets (mode 0600), never in this file.
state = "{state}"

[sync]
overlap_secs = {overlap}
carry_forward = {carry}

"#,
            overlap = opts.overlap_secs,
            carry = opts.carry_forward,
        );
        for e in EMULATORS {
            let kind = e.kind;
            std::fs::write(dir.join(format!("mappings/{kind}.toml")), e.mapping)?;
            let settings = (e.settings)(self, dir)?;
            let http = http_table(&format!("systems.{kind}"), opts);
            text.push_str(&format!(
                "[systems.{kind}]\ntype = \"{kind}\"\nmapping = \"mappings/{kind}.toml\"\n{settings}{http}\n"
            ));
        }
        let jobs: Vec<&str> = EMULATORS
            .iter()
            .map(|e| e.jobs)
            .filter(|j| !j.is_empty())
            .collect();
        text.push_str(&jobs.join("\n"));
        let path = dir.join("partreel.toml");
        std::fs::write(&path, text)?;
        Ok(path)
    }
}
