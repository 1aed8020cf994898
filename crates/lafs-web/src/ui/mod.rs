//! The HTML side of the web server (owned by the web-UI work; these are
//! stubs the API calls so the two can grow independently).
//!
//! The API handlers resolve caps and paths and call [`directory_page`],
//! [`file_info_page`] and [`welcome_page`] with plain views from
//! [`crate::view`]; [`routes`] adds the pages only the UI has. It must not
//! claim `/`, `/uri…`, `/named…`, `/status`, `/statistics` or
//! `/operations…`: the API owns those paths and dispatches on `t=`.
//!
//! Pages must never put a cap into a URL that leaves the node (every
//! response carries `Referrer-Policy: no-referrer`) and must escape every
//! name they print.

use crate::view::{DirectoryView, FileInfoView, WelcomeView};
use crate::AppState;
use axum::response::{Html, IntoResponse, Response};
use axum::Router;
use lafs_client::StorageClient;

/// Pages only the UI has (e.g. `/static/…`), merged into the main router.
pub fn routes<C: StorageClient>() -> Router<AppState<C>> {
    Router::new()
}

/// `GET /` (no `t=json`).
pub fn welcome_page(view: &WelcomeView) -> Response {
    Html(format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>lafs</title></head>\
         <body><h1>lafs node {}</h1><p>{} storage servers known.</p></body></html>",
        escape(&view.nickname),
        view.servers.len()
    ))
    .into_response()
}

/// `GET /uri/$DIRCAP[/path]` without `t=`.
pub fn directory_page(view: &DirectoryView) -> Response {
    let mut rows = String::new();
    for c in &view.children {
        rows.push_str(&format!("<li>{}</li>", escape(&c.name)));
    }
    Html(format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>directory</title></head>\
         <body><ul>{rows}</ul></body></html>"
    ))
    .into_response()
}

/// `GET /uri/$CAP?t=info`.
pub fn file_info_page(view: &FileInfoView) -> Response {
    Html(format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>info</title></head>\
         <body><p>{}</p></body></html>",
        escape(&view.format)
    ))
    .into_response()
}

/// Minimal HTML escaping for the stubs.
fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}
