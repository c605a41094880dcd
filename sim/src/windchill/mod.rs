//! The PTC Windchill emulator: WRS OData v4 (`ProdMgmt` parts, `DocMgmt` documents, describe
//! links, CSRF nonce, `$metadata`), following docs/wire/windchill.md.

pub(crate) mod batch;
pub(crate) mod metadata;
pub(crate) mod odata;
pub(crate) mod routes;
pub(crate) mod store;

use std::sync::{Arc, Mutex};

use axum::Router;
use tokio::net::TcpListener;

use crate::control::{self, ControlState};
use crate::framework::server::{self, Framework};

pub(crate) use routes::{BASE_PATH, WcState};

/// The emulator's whole app: vendor routes, control routes and the shared middleware.
pub(crate) fn app(st: WcState, fw: Framework) -> Router {
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
    st: WcState,
    fw: Framework,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    server::serve(listener, app(st, fw), shutdown).await
}

/// The store handle a fault switchboard uses to expire sessions.
pub(crate) fn expire_hook(store: Arc<Mutex<store::WindchillStore>>) -> Arc<dyn Fn() + Send + Sync> {
    Arc::new(move || crate::framework::clock::lock(&store).expire_sessions())
}
