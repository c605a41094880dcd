//! AEM credentials: an Adobe IMS OAuth server-to-server token from
//! `POST https://ims-na1.adobelogin.com/ims/token/v3` (form `grant_type=client_credentials`,
//! `client_id`, `client_secret` and `scope` in the body, scopes comma-separated), or a fixed
//! bearer token; both travel as `Authorization: Bearer <token>` (docs/wire/aem.md "Auth";
//! developer.adobe.com "OAuth Server-to-Server credential API Reference").
//!
//! The token is fetched through the `oauth2` crate and cached and renewed by
//! `partreel_connector::http::oauth`: ahead of expiry (IMS says `expires_in: 86399`), and once on a
//! `401` (after which the request is replayed). IMS credentials also send
//! `X-Api-Key: <client_id>` [INF: Adobe's OpenAPI-based AEM APIs require it; the Assets HTTP API
//! ignores it], unless `api_key = false`. Writes also carry the Granite CSRF token
//! ([`crate::csrf`]).

use async_trait::async_trait;
use partreel_connector::ConnectorError;
use partreel_connector::http::oauth::{ClientAuthMethod, ClientCredentials, StaticBearer};
use partreel_connector::http::{Auth, HttpClient, Request, Response};
use url::Url;

use crate::config::{AemAuthConfig, BuildContext};
use crate::csrf::Csrf;

/// The header carrying the client id.
pub const API_KEY_HEADER: &str = "x-api-key";

/// Separator of scopes in the IMS `scope` field ("The list of comma separated scopes").
pub const SCOPE_SEPARATOR: &str = ",";

/// The credentials of one AEM instance, and the CSRF token its writes carry
/// ([`crate::csrf`]).
#[derive(Debug)]
pub struct AemAuth {
    creds: Credentials,
    csrf: Csrf,
}

/// Who partreel is to AEM.
#[derive(Debug)]
enum Credentials {
    /// IMS client credentials, renewed before expiry and on a 401.
    Ims {
        /// The grant.
        grant: Box<ClientCredentials>,
        /// `X-Api-Key` value, when sent.
        api_key: Option<String>,
    },
    /// A fixed bearer token, never renewed (a 401 is final).
    Bearer(StaticBearer),
}

impl AemAuth {
    /// Resolves the secret and sets up the credentials for the instance at `base`; no request
    /// is sent yet.
    pub fn from_config(
        cfg: &AemAuthConfig,
        base: &Url,
        token_url: Option<&Url>,
        ctx: &BuildContext,
    ) -> Result<Self, ConnectorError> {
        let csrf = Csrf::new(base)
            .map_err(|e| ConnectorError::Config(format!("{}: CSRF token URL: {e}", ctx.system)))?;
        Ok(AemAuth {
            creds: Credentials::from_config(cfg, token_url, ctx)?,
            csrf,
        })
    }
}

impl Credentials {
    fn from_config(
        cfg: &AemAuthConfig,
        token_url: Option<&Url>,
        ctx: &BuildContext,
    ) -> Result<Self, ConnectorError> {
        let secret_err = |e: partreel_connector::http::secret::SecretError| {
            ConnectorError::Config(format!("{}: {e}", ctx.system))
        };
        match cfg {
            AemAuthConfig::Ims {
                client_id,
                client_secret,
                scopes,
                api_key,
                ..
            } => {
                let secret = client_secret
                    .resolve("auth.client_secret", &ctx.config_dir)
                    .map_err(secret_err)?;
                let token_url = token_url.cloned().ok_or_else(|| {
                    ConnectorError::Config(format!("{}: auth.token_url is not set", ctx.system))
                })?;
                // IMS wants one comma-separated `scope` value; oauth2 joins scopes with spaces,
                // so hand it the joined list as a single scope.
                let scope = scopes.join(SCOPE_SEPARATOR);
                let grant = ClientCredentials::new(
                    token_url,
                    client_id.clone(),
                    secret,
                    vec![scope],
                    ClientAuthMethod::RequestBody,
                );
                Ok(Credentials::Ims {
                    grant: Box::new(grant),
                    api_key: api_key.then(|| client_id.clone()),
                })
            }
            AemAuthConfig::Bearer { token } => {
                let token = token
                    .resolve("auth.token", &ctx.config_dir)
                    .map_err(secret_err)?;
                Ok(Credentials::Bearer(StaticBearer(token)))
            }
        }
    }

    fn inner(&self) -> &dyn Auth {
        match self {
            Credentials::Ims { grant, .. } => grant.as_ref(),
            Credentials::Bearer(t) => t,
        }
    }
}

#[async_trait]
impl Auth for Credentials {
    async fn apply(&self, http: &HttpClient, req: &mut Request) -> Result<(), ConnectorError> {
        self.inner().apply(http, req).await?;
        if let Credentials::Ims {
            api_key: Some(key), ..
        } = self
            && let Ok(v) = reqwest::header::HeaderValue::from_str(key)
        {
            req.headers
                .insert(reqwest::header::HeaderName::from_static(API_KEY_HEADER), v);
        }
        Ok(())
    }

    async fn renew_if_stale(
        &self,
        http: &HttpClient,
        req: &Request,
        resp: &Response,
    ) -> Result<bool, ConnectorError> {
        self.inner().renew_if_stale(http, req, resp).await
    }
}

#[async_trait]
impl Auth for AemAuth {
    /// The credentials on every request; on a write, the CSRF token too.
    async fn apply(&self, http: &HttpClient, req: &mut Request) -> Result<(), ConnectorError> {
        self.creds.apply(http, req).await?;
        self.csrf.apply(http, &self.creds, req).await
    }

    /// A 401 renews the IMS token (and drops the CSRF token); a write refused with 403 fetches
    /// a new CSRF token. Either way the request is replayed once.
    async fn renew_if_stale(
        &self,
        http: &HttpClient,
        req: &Request,
        resp: &Response,
    ) -> Result<bool, ConnectorError> {
        if self.creds.renew_if_stale(http, req, resp).await? {
            // The CSRF token belongs to the caller's session: a new IMS token, a new one.
            self.csrf.reset().await;
            return Ok(true);
        }
        Ok(self.csrf.refused(http, req, resp).await)
    }
}
