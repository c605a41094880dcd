//! `[viewer]`: where `partreel serve` listens, who may look, where video comes from and who may
//! frame the pages. Validation is pure (no I/O, no secrets): [`ViewerConfig::validate`] turns
//! the file's text into a [`ValidatedViewer`] or lists every problem at once.
//!
//! ```toml
//! [viewer]
//! listen = "127.0.0.1:8080"
//! video = "proxy"                       # or "dam_signed": play the DAM's own signed URL
//! dam_hosts = ["cdn.example-dam.com"]   # the only hosts the proxy fetches from
//! frame_ancestors = ["https://plm.example.com"]   # default: framing forbidden
//! plm_record_url = "https://plm.example.com/Windchill/app/#ptc1/tcomp/infoPage?oid={remote_id}"
//!
//! [[viewer.tokens]]                     # static tokens, stored as SHA-256 (hex) only
//! name = "kiosk"
//! sha256 = "…"                          # printf %s "$TOKEN" | sha256sum
//! expires = "2027-01-01T00:00:00Z"      # optional
//!
//! [viewer.oidc]                         # OIDC access tokens (JWT) checked against a JWKS
//! issuer = "https://login.example.com/"
//! audience = "partreel-viewer"
//! jwks_url = "https://login.example.com/.well-known/jwks.json"
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// Default listen address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
const DEFAULT_JWKS_CACHE_SECS: u64 = 300;
const DEFAULT_LEEWAY_SECS: u64 = 30;
const DEFAULT_PROXY_TIMEOUT_SECS: u64 = 30;
const DEFAULT_MEDIA_URL_TTL_SECS: u64 = 900;
const DEFAULT_QUERY_CONNECTIONS: usize = 4;

/// The `[viewer]` section as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ViewerConfig {
    /// Address to listen on (`--listen` overrides it).
    pub listen: String,
    /// Static bearer tokens, stored hashed.
    pub tokens: Vec<StaticTokenConfig>,
    /// OIDC JWT access.
    pub oidc: Option<OidcConfig>,
    /// Where the `<video>` element gets its bytes.
    pub video: VideoSource,
    /// Hosts (`host` or `host:port`) the proxy may fetch from; with `video = "dam_signed"`
    /// also the hosts the page's Content-Security-Policy lets media load from.
    pub dam_hosts: Vec<String>,
    /// CSP `frame-ancestors` sources allowed to embed the pages (e.g. the PLM's web client);
    /// empty: framing forbidden.
    pub frame_ancestors: Vec<String>,
    /// Link back to the PLM record of a part revision; `{system}`, `{number}`, `{revision}`
    /// and `{remote_id}` are replaced (URL-encoded).
    pub plm_record_url: Option<String>,
    /// Mark the session cookie `Secure` (set when served over HTTPS).
    pub secure_cookie: bool,
    /// Timeout of one upstream fetch by the proxy, in seconds.
    pub proxy_timeout_secs: u64,
    /// How long a media URL the viewer signs for a page stays valid, in seconds.
    pub media_url_ttl_secs: u64,
    /// Read-only connections to the state file.
    pub query_connections: usize,
}

impl Default for ViewerConfig {
    fn default() -> Self {
        ViewerConfig {
            listen: DEFAULT_LISTEN.into(),
            tokens: Vec::new(),
            oidc: None,
            video: VideoSource::Proxy,
            dam_hosts: Vec::new(),
            frame_ancestors: Vec::new(),
            plm_record_url: None,
            secure_cookie: false,
            proxy_timeout_secs: DEFAULT_PROXY_TIMEOUT_SECS,
            media_url_ttl_secs: DEFAULT_MEDIA_URL_TTL_SECS,
            query_connections: DEFAULT_QUERY_CONNECTIONS,
        }
    }
}

/// One static token.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticTokenConfig {
    /// Who or what holds it (shown in logs, never the token).
    pub name: String,
    /// SHA-256 of the token, hex.
    pub sha256: String,
    /// When it stops working.
    #[serde(default)]
    pub expires: Option<DateTime<Utc>>,
}

/// `[viewer.oidc]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// Required `iss`.
    pub issuer: String,
    /// Required `aud`.
    pub audience: String,
    /// Where the signing keys are published.
    pub jwks_url: String,
    /// How long fetched keys are reused, in seconds.
    #[serde(default = "default_jwks_cache_secs")]
    pub jwks_cache_secs: u64,
    /// Clock skew allowed on `exp`/`nbf`, in seconds.
    #[serde(default = "default_leeway_secs")]
    pub leeway_secs: u64,
    /// A role the token must carry in `roles_claim` (None: any valid token).
    #[serde(default)]
    pub required_role: Option<String>,
    /// Claim holding the roles (a string or a list of strings).
    #[serde(default = "default_roles_claim")]
    pub roles_claim: String,
}

fn default_jwks_cache_secs() -> u64 {
    DEFAULT_JWKS_CACHE_SECS
}
fn default_leeway_secs() -> u64 {
    DEFAULT_LEEWAY_SECS
}
fn default_roles_claim() -> String {
    "roles".into()
}

/// Where video bytes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VideoSource {
    /// Through the viewer's streaming proxy (`/media/…`), which fetches only from `dam_hosts`.
    Proxy,
    /// Straight from the rendition URL the DAM signed.
    DamSigned,
}

/// A DAM host the proxy may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DamHost {
    /// Lower-case host name or IP.
    pub host: String,
    /// Port; None: the scheme's default port only.
    pub port: Option<u16>,
}

impl DamHost {
    /// Whether `url` points at this host.
    pub fn matches(&self, url: &url::Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host.eq_ignore_ascii_case(&self.host)
            && match self.port {
                None => url.port().is_none(),
                Some(p) => url.port_or_known_default() == Some(p),
            }
    }

    /// The CSP host source.
    pub fn csp_source(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.clone(),
        }
    }
}

/// A static token after validation.
#[derive(Debug, Clone)]
pub struct TokenEntry {
    /// Holder.
    pub name: String,
    /// SHA-256 of the token.
    pub hash: [u8; 32],
    /// Expiry.
    pub expires: Option<DateTime<Utc>>,
}

/// The viewer's settings, checked.
#[derive(Debug, Clone)]
pub struct ValidatedViewer {
    /// Listen address.
    pub listen: SocketAddr,
    /// Static tokens.
    pub tokens: Vec<TokenEntry>,
    /// OIDC.
    pub oidc: Option<OidcConfig>,
    /// Video source.
    pub video: VideoSource,
    /// Allowed DAM hosts.
    pub dam_hosts: Vec<DamHost>,
    /// CSP `frame-ancestors` value.
    pub frame_ancestors: String,
    /// PLM record URL template.
    pub plm_record_url: Option<String>,
    /// Secure cookie.
    pub secure_cookie: bool,
    /// Proxy timeout.
    pub proxy_timeout: Duration,
    /// Media URL lifetime.
    pub media_url_ttl: Duration,
    /// Read connections.
    pub query_connections: usize,
}

/// Parses `host` or `host:port` (IPv6 in brackets).
pub fn parse_dam_host(s: &str) -> Option<DamHost> {
    let s = s.trim();
    if s.is_empty() || s.contains(['/', '@', ' ', ';', ',']) {
        return None;
    }
    let url = url::Url::parse(&format!("http://{s}/")).ok()?;
    let host = url
        .host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let explicit_port = if s.starts_with('[') {
        s.contains("]:")
    } else {
        s.contains(':')
    };
    let port = if explicit_port {
        url.port_or_known_default()
    } else {
        None
    };
    Some(DamHost { host, port })
}

/// Whether `s` is a CSP source expression we accept for `frame-ancestors`.
fn valid_csp_source(s: &str) -> bool {
    if s == "'self'" {
        return true;
    }
    if s.is_empty()
        || s.contains(|c: char| c.is_whitespace() || c == ';' || c == ',' || c.is_control())
    {
        return false;
    }
    // An origin (`https://plm.example.com[:port]`), or `*.example.com` with or without a
    // scheme: a wildcard may stand for the subdomains of a named domain, never for every host
    // (`*`, `https://*`, `https:` would let any site frame the pages).
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    let Some(rest) = rest.or_else(|| s.starts_with("*.").then_some(s)) else {
        return false;
    };
    let host = rest.split(['/', ':']).next().unwrap_or_default();
    let named = host.strip_prefix("*.").unwrap_or(host);
    !named.is_empty() && !named.contains('*') && (named.len() == host.len() || named.contains('.'))
}

impl ViewerConfig {
    /// Checks every field; pure.
    pub fn validate(&self) -> Result<ValidatedViewer, Vec<String>> {
        let mut problems = Vec::new();
        let listen = self.listen.parse::<SocketAddr>().map_err(|e| {
            problems.push(format!("viewer.listen: {e} (want ADDR:PORT)"));
        });
        let mut tokens = Vec::new();
        for (i, t) in self.tokens.iter().enumerate() {
            let mut hash = [0u8; 32];
            match hex::decode_to_slice(t.sha256.trim(), &mut hash) {
                Ok(()) => tokens.push(TokenEntry {
                    name: t.name.clone(),
                    hash,
                    expires: t.expires,
                }),
                Err(_) => problems.push(format!(
                    "viewer.tokens[{i}].sha256: want 64 hex digits (the SHA-256 of the token)"
                )),
            }
        }
        if let Some(o) = &self.oidc {
            if o.issuer.trim().is_empty() {
                problems.push("viewer.oidc.issuer: must not be empty".into());
            }
            if o.audience.trim().is_empty() {
                problems.push("viewer.oidc.audience: must not be empty".into());
            }
            match url::Url::parse(&o.jwks_url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => problems.push("viewer.oidc.jwks_url: want an http(s) URL".into()),
            }
        }
        let mut dam_hosts = Vec::new();
        for (i, h) in self.dam_hosts.iter().enumerate() {
            match parse_dam_host(h) {
                Some(d) => dam_hosts.push(d),
                None => problems.push(format!(
                    "viewer.dam_hosts[{i}]: {h:?} is not a host or host:port"
                )),
            }
        }
        for (i, s) in self.frame_ancestors.iter().enumerate() {
            if !valid_csp_source(s) {
                problems.push(format!(
                    "viewer.frame_ancestors[{i}]: {s:?} is not an origin such as https://plm.example.com or 'self' (a wildcard may only stand for the subdomains of a named domain, *.example.com)"
                ));
            }
        }
        if let Some(t) = &self.plm_record_url
            && !(t.starts_with("https://") || t.starts_with("http://"))
        {
            problems.push("viewer.plm_record_url: want an http(s) URL template".into());
        }
        if self.query_connections == 0 {
            problems.push("viewer.query_connections: must be at least 1".into());
        }
        if self.media_url_ttl_secs == 0 {
            problems.push("viewer.media_url_ttl_secs: must be at least 1".into());
        }
        match listen {
            Ok(listen) if problems.is_empty() => Ok(ValidatedViewer {
                listen,
                tokens,
                oidc: self.oidc.clone(),
                video: self.video,
                dam_hosts,
                frame_ancestors: if self.frame_ancestors.is_empty() {
                    "'none'".into()
                } else {
                    self.frame_ancestors.join(" ")
                },
                plm_record_url: self.plm_record_url.clone(),
                secure_cookie: self.secure_cookie,
                proxy_timeout: Duration::from_secs(self.proxy_timeout_secs.max(1)),
                media_url_ttl: Duration::from_secs(self.media_url_ttl_secs),
                query_connections: self.query_connections,
            }),
            _ => Err(problems),
        }
    }
}
