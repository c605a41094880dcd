//! The re-authentication hook: how a connector adds credentials to a request and renews them
//! when the server says they went stale (an expired session, token or CSRF nonce).

use async_trait::async_trait;

use super::{HttpClient, Request, Response};
use crate::error::ConnectorError;

/// Credentials of one system.
#[async_trait]
pub trait Auth: Send + Sync {
    /// Adds credentials to a request about to be sent (may fetch a token first).
    async fn apply(&self, http: &HttpClient, req: &mut Request) -> Result<(), ConnectorError>;

    /// Looks at a failed response. When it shows stale credentials, renews them and returns
    /// true: the client then replays the request once.
    async fn renew_if_stale(
        &self,
        http: &HttpClient,
        req: &Request,
        resp: &Response,
    ) -> Result<bool, ConnectorError>;
}

/// No credentials (token endpoints, public URLs).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoAuth;

#[async_trait]
impl Auth for NoAuth {
    async fn apply(&self, _: &HttpClient, _: &mut Request) -> Result<(), ConnectorError> {
        Ok(())
    }

    async fn renew_if_stale(
        &self,
        _: &HttpClient,
        _: &Request,
        _: &Response,
    ) -> Result<bool, ConnectorError> {
        Ok(false)
    }
}
