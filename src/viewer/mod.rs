//! The viewer (`partreel serve`): engineers open a part revision and watch the clips linked
//! to it, with their prompt, campaign, rights and a watermark/provenance/rights/link badge.
//!
//! # Layout
//! - [`config`]: the `[viewer]` section and its pure validation.
//! - [`routes`]: [`app`] — the router, the credential check and the security headers.
//! - [`pages`]: server-rendered HTML (`maud`, auto-escaped); [`api`] + [`openapi`]: `/api/v1`.
//! - [`auth`]: hashed static tokens, OIDC JWTs against a cached JWKS, signed media URLs.
//! - [`proxy`]: the Range-capable media proxy, limited to the configured DAM hosts.
//! - [`present`]: badges and URLs shared by pages and API; [`error`]: [`error::AppError`].
//!
//! Data comes from [`partreel_core::state::view::ViewStore`] over read-only connections:
//! nothing here writes to the state, the PLM or the DAM. [`app`] is separate from [`serve`]
//! so tests drive it with `oneshot`; [`serve`] takes the listener and the shutdown future.

pub mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod openapi;
pub mod pages;
pub mod present;
pub mod proxy;
pub mod routes;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderValue;
use partreel_core::state::view::ViewStore;
use tokio::net::TcpListener;

pub use routes::app;

use self::auth::{Authenticator, MediaSigner};
use self::config::{ValidatedViewer, VideoSource};

/// Connect timeout for the proxy and the JWKS fetch.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Whole-request timeout of a JWKS fetch.
const JWKS_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the viewer could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ViewerError {
    /// An HTTP client could not be built.
    #[error("viewer: cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    /// No token and no OIDC: nobody could ever log in.
    #[error(
        "viewer: no credential is configured — add [[viewer.tokens]] or [viewer.oidc]; every page needs one"
    )]
    NoCredentials,
    /// The CSP could not be written as a header.
    #[error("viewer: bad Content-Security-Policy: {0}")]
    Csp(String),
}

/// Everything a request handler needs.
pub struct ViewerState {
    /// Read-only queries.
    pub store: Arc<dyn ViewStore>,
    /// Credential checks.
    pub auth: Authenticator,
    /// Media URL signatures.
    pub signer: MediaSigner,
    /// Settings.
    pub config: ValidatedViewer,
    /// Client of the media proxy (no redirects followed by itself).
    pub http: reqwest::Client,
    /// The Content-Security-Policy header.
    pub csp: HeaderValue,
    /// The DAMs by system name, for their media credentials (an AEM author instance serves
    /// renditions only to an authenticated caller). A system not here is fetched without.
    pub dams: std::collections::BTreeMap<String, Arc<dyn partreel_core::connector::DamConnector>>,
}

impl std::fmt::Debug for ViewerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ViewerState")
            .field("auth", &self.auth)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ViewerState {
    /// Builds the state; fails when no credential could ever be accepted.
    pub fn new(store: Arc<dyn ViewStore>, config: ValidatedViewer) -> Result<Self, ViewerError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(config.proxy_timeout)
            .build()?;
        let jwks_http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(JWKS_TIMEOUT)
            .build()?;
        let auth = Authenticator::new(config.tokens.clone(), config.oidc.clone(), jwks_http);
        if !auth.has_credentials() {
            return Err(ViewerError::NoCredentials);
        }
        let csp =
            HeaderValue::from_str(&csp(&config)).map_err(|e| ViewerError::Csp(e.to_string()))?;
        Ok(ViewerState {
            store,
            auth,
            signer: MediaSigner::new(config.media_url_ttl),
            http,
            csp,
            config,
            dams: Default::default(),
        })
    }

    /// The DAMs whose credentials the media proxy uses, by system name.
    pub fn with_dams(
        mut self,
        dams: std::collections::BTreeMap<String, Arc<dyn partreel_core::connector::DamConnector>>,
    ) -> Self {
        self.dams = dams;
        self
    }
}

/// The Content-Security-Policy of every response.
fn csp(config: &ValidatedViewer) -> String {
    let mut media = vec!["'self'".to_string()];
    if config.video == VideoSource::DamSigned {
        media.extend(config.dam_hosts.iter().map(|h| h.csp_source()));
    }
    format!(
        "default-src 'none'; script-src {}; style-src {}; media-src {}; img-src 'self' data:; \
         form-action 'self'; base-uri 'none'; frame-ancestors {}",
        *pages::SCRIPT_HASH,
        *pages::STYLE_HASH,
        media.join(" "),
        config.frame_ancestors
    )
}

/// Serves [`app`] on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    state: Arc<ViewerState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}
