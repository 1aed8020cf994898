//! The API handlers. Each parses its cap, path and query, calls the client
//! library, and renders JSON / text / bytes or a `ui` page.

use crate::error::WebError;
use crate::{ui, AppState};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use lafs_client::StorageClient;
use std::collections::HashMap;

type Q = Query<HashMap<String, String>>;

/// `GET /` and `GET /?t=json`.
pub async fn root<C: StorageClient>(State(st): State<AppState<C>>, Query(q): Q) -> Response {
    let w = st.welcome();
    if q.get("t").map(String::as_str) == Some("json") {
        return WebError::NotImplemented("/?t=json is not built yet").into_response();
    }
    ui::welcome_page(&w)
}

/// `/uri` without a cap.
pub async fn uri_root<C: StorageClient>(State(_st): State<AppState<C>>) -> Response {
    WebError::NotImplemented("/uri is not built yet").into_response()
}

/// `/uri/$CAP[/path]` and `/named/$CAP[/path]`.
pub async fn uri_path<C: StorageClient>(State(_st): State<AppState<C>>) -> Response {
    WebError::NotImplemented("/uri/$CAP is not built yet").into_response()
}

/// `GET /statistics`.
pub async fn statistics<C: StorageClient>(State(_st): State<AppState<C>>) -> Response {
    WebError::NotImplemented("/statistics is not built yet").into_response()
}

/// `GET /status`.
pub async fn status<C: StorageClient>(State(_st): State<AppState<C>>) -> Response {
    WebError::NotImplemented("/status is not built yet").into_response()
}

/// `/operations/H`.
pub async fn operation<C: StorageClient>(State(_st): State<AppState<C>>) -> Response {
    WebError::NotImplemented("/operations is not built yet").into_response()
}

/// Anything else.
pub async fn not_found() -> Response {
    WebError::NotFound.into_response()
}
