//! The Bynder emulator: API v4 media listing, reads, metadata writes, metaproperties and
//! options, OAuth 2.0 client-credentials tokens and download URLs, following
//! docs/wire/bynder.md.

pub(crate) mod files;
pub(crate) mod routes;
pub(crate) mod store;

use std::sync::{Arc, Mutex};

use axum::Router;
use tokio::net::TcpListener;

use crate::control::{self, ControlState};
use crate::framework::server::{self, Framework};

pub(crate) use routes::ByState;

/// The emulator's whole app: vendor routes, control routes and the shared middleware.
pub(crate) fn app(st: ByState, fw: Framework) -> Router {
    let control = control::router(ControlState {
        faults: fw.faults.clone(),
        log: fw.log.clone(),
        clock: fw.clock.clone(),
    });
    server::wrap(routes::router(st).merge(control), fw)
}

/// Serves the emulator on `listener` until `shutdown` completes.
pub(crate) async fn serve(
    listener: TcpListener,
    st: ByState,
    fw: Framework,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    server::serve(listener, app(st, fw), shutdown).await
}

/// Revokes every issued OAuth token (the permanent token stays valid).
pub(crate) fn expire_hook(store: Arc<Mutex<store::BynderStore>>) -> Arc<dyn Fn() + Send + Sync> {
    Arc::new(move || crate::framework::clock::lock(&store).tokens.clear())
}
