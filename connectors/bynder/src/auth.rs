//! Bynder credentials: an OAuth 2.0 client-credentials token from
//! `POST {base}/v6/authentication/oauth2/token`, or a permanent token; both travel as
//! `Authorization: Bearer <token>` (docs/wire/bynder.md "Auth"; research §A.2: the token URL is
//! the one the Bynder Python and JS SDKs use, the permanent token is the Python SDK's
//! `PermanentTokenSession`).
//!
//! The token itself is cached and renewed by `partreel_connector::http::oauth`: ahead of expiry,
//! and once on a `401` (after which the request is replayed).

use async_trait::async_trait;
use partreel_connector::ConnectorError;
use partreel_connector::http::oauth::{ClientCredentials, StaticBearer};
use partreel_connector::http::{Auth, HttpClient, Request, Response};
use url::Url;

use crate::config::{BuildContext, BynderAuthConfig};

/// Path of the OAuth 2.0 token endpoint under the portal URL.
pub const TOKEN_PATH: &str = "v6/authentication/oauth2/token";

/// The credentials of one portal.
#[derive(Debug)]
pub enum BynderAuth {
    /// OAuth 2.0 client credentials, renewed before expiry and on a 401.
    OAuth2(Box<ClientCredentials>),
    /// A permanent token, never renewed (a 401 is final).
    PermanentToken(StaticBearer),
}

impl BynderAuth {
    /// Resolves the secret and sets up the credentials; no request is sent yet.
    pub fn from_config(
        cfg: &BynderAuthConfig,
        base: &Url,
        ctx: &BuildContext,
    ) -> Result<Self, ConnectorError> {
        let secret_err = |e: partreel_connector::http::secret::SecretError| {
            ConnectorError::Config(format!("{}: {e}", ctx.system))
        };
        match cfg {
            BynderAuthConfig::Oauth2 {
                client_id,
                client_secret,
                scopes,
                client_auth,
            } => {
                let secret = client_secret
                    .resolve("auth.client_secret", &ctx.config_dir)
                    .map_err(secret_err)?;
                let token_url = base.join(TOKEN_PATH).map_err(|e| {
                    ConnectorError::Config(format!("{}: base_url: token URL: {e}", ctx.system))
                })?;
                Ok(BynderAuth::OAuth2(Box::new(ClientCredentials::new(
                    token_url,
                    client_id.clone(),
                    secret,
                    scopes.clone(),
                    *client_auth,
                ))))
            }
            BynderAuthConfig::PermanentToken { token } => {
                let token = token
                    .resolve("auth.token", &ctx.config_dir)
                    .map_err(secret_err)?;
                Ok(BynderAuth::PermanentToken(StaticBearer(token)))
            }
        }
    }

    fn inner(&self) -> &dyn Auth {
        match self {
            BynderAuth::OAuth2(c) => c.as_ref(),
            BynderAuth::PermanentToken(t) => t,
        }
    }
}

#[async_trait]
impl Auth for BynderAuth {
    async fn apply(&self, http: &HttpClient, req: &mut Request) -> Result<(), ConnectorError> {
        self.inner().apply(http, req).await
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
