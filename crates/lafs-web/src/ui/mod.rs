//! The web UI: server-rendered HTML pages for people, over the same Tahoe
//! web API (WAPI) routes that scripts and Tahoe's own `tahoe` CLI use.
//!
//! What it owns: the askama templates in `templates/`, the stylesheet,
//! script and icon in `static/` (compiled into the binary: a node must work
//! offline, so there are no CDNs or web fonts), and the *page models* the
//! templates read ([`WelcomeModel`], [`DirectoryModel`], [`FileInfoModel`],
//! [`StatusModel`]). The API handlers hand over the plain views of
//! [`crate::view`]; `model` turns those into page models (links, read-only
//! URLs, "5 min ago"), so the API's views stay about data and the pages
//! about presentation.
//!
//! What it must never do: perform an operation itself. Every form on these
//! pages posts to a WAPI route (`POST /uri/$DIRCAP?t=upload|mkdir|rename|delete|uri`,
//! `POST /uri?t=mkdir`, `GET /uri?uri=`), so the browser and the `tahoe` CLI
//! share one implementation and one set of tests. The UI also never lets a
//! cap leak through a `Referer` header: every response carries
//! `Referrer-Policy: no-referrer` (and the pages repeat it in a `<meta>`).
//!
//! Data flow: handler → view model (plain data, no grid access) → askama
//! template → [`Html`] response with the UI's security headers. The
//! JavaScript in `static/lafs.js` only enhances: drag and drop with upload
//! progress, copy buttons, delete confirmation, auto-refresh of the
//! operations page. Without it every page still works with plain forms.

mod model;

use std::borrow::Borrow;

use askama::Template;

use crate::view;
use crate::AppState;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use lafs_client::StorageClient;

pub use model::{
    ChildKind, ChildModel, DirectoryModel, FileInfoModel, IntroducerModel, OperationModel,
    OperationState, ServerModel, StatusModel, StorageUsage, WelcomeModel,
};

/// The lafs version shown in the footer.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The stylesheet, script and icon, compiled in.
const CSS: &str = include_str!("../../static/lafs.css");
const JS: &str = include_str!("../../static/lafs.js");
const FAVICON: &str = include_str!("../../static/favicon.svg");

/// Pages and files only the UI has: `/static/*` (and `/favicon.ico`). It
/// claims no path the API owns (`/`, `/uri…`, `/named…`, `/status`,
/// `/statistics`, `/operations…`): the API dispatches those on `t=` and
/// calls the page functions below.
pub fn routes<C: StorageClient>() -> Router<AppState<C>> {
    Router::new()
        .route(
            "/static/lafs.css",
            get(|| async { asset("text/css; charset=utf-8", CSS) }),
        )
        .route(
            "/static/lafs.js",
            get(|| async { asset("text/javascript; charset=utf-8", JS) }),
        )
        .route(
            "/static/favicon.svg",
            get(|| async { asset("image/svg+xml", FAVICON) }),
        )
        .route(
            "/favicon.ico",
            get(|| async { asset("image/svg+xml", FAVICON) }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Assets change only with the binary; an hour keeps reloads cheap
    // without pinning an old stylesheet after an upgrade for long.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    secure(h);
    r
}

/// The headers every UI response carries.
///
/// * `Referrer-Policy: no-referrer`: page URLs contain caps; a link to
///   another site must not carry them along.
/// * A Content-Security-Policy allowing only this origin's own script and
///   style: a file name is attacker-chosen text, and even though askama
///   escapes it, a second wall costs nothing.
/// * `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`.
fn secure(h: &mut axum::http::HeaderMap) {
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
}

/// A rendered page with the UI's headers (or a plain 500 if a template
/// failed to render, which only a bug in a template can cause).
fn page<T: Template>(status: StatusCode, t: &T) -> Response {
    match t.render() {
        Ok(body) => {
            let mut r = (status, body).into_response();
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            secure(h);
            r
        }
        Err(e) => {
            // Only a template bug gets here; the message could quote page
            // data (names, caps), so it goes to the log, not the browser.
            tracing::error!(error = %e, "template rendering failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "page rendering failed").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "welcome.html")]
struct WelcomePage<'a> {
    v: &'a WelcomeModel,
}

#[derive(Template)]
#[template(path = "directory.html")]
struct DirectoryPage<'a> {
    v: &'a DirectoryModel,
}

#[derive(Template)]
#[template(path = "file_info.html")]
struct FileInfoPage<'a> {
    v: &'a FileInfoModel,
}

#[derive(Template)]
#[template(path = "status.html")]
struct StatusPage<'a> {
    v: &'a StatusModel,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

/// `GET /` (Tahoe's welcome page): node identity, introducers, servers.
pub fn welcome_page(v: &view::WelcomeView) -> Response {
    page(
        StatusCode::OK,
        &WelcomePage {
            v: &WelcomeModel::from_view(v, model::now()),
        },
    )
}

/// `GET /uri/$DIRCAP[/path]` without `t=`: the directory browser.
pub fn directory_page(v: &view::DirectoryView) -> Response {
    page(
        StatusCode::OK,
        &DirectoryPage {
            v: &DirectoryModel::from_view(v, model::now()),
        },
    )
}

/// `GET /uri/$CAP[/path]?t=info`: what a file or directory is, its caps.
pub fn file_info_page(v: &view::FileInfoView) -> Response {
    page(
        StatusCode::OK,
        &FileInfoPage {
            v: &FileInfoModel::from_view(v),
        },
    )
}

/// `GET /status`: operations with their progress.
pub fn status_page(v: &StatusModel) -> Response {
    page(StatusCode::OK, &StatusPage { v })
}

/// An error as a page, for browsers (`Accept: text/html`); scripts get
/// Tahoe's plain-text errors from the API instead.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    page(status, &ErrorPage { title, message })
}

/// Bytes for people: "0 B", "999 B", "1.5 KiB", "12.3 MiB".
///
/// Takes `u64` or `&u64`: askama passes template arguments by reference.
pub fn size(n: impl Borrow<u64>) -> String {
    let n = *n.borrow();
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if v < 10.0 {
        format!("{v:.1} {}", UNITS[i])
    } else {
        format!("{v:.0} {}", UNITS[i])
    }
}

/// How long ago `then` was, from `now` (both Unix seconds): "just now",
/// "42 s ago", "5 min ago", "3 h ago", "2 days ago"; a time in the future
/// (clock skew) reads "just now".
pub fn ago(then: impl Borrow<f64>, now: impl Borrow<f64>) -> String {
    let d = now.borrow() - then.borrow();
    if !d.is_finite() || d < 2.0 {
        return "just now".into();
    }
    let s = d as u64;
    match s {
        0..=59 => format!("{s} s ago"),
        60..=3599 => format!("{} min ago", s / 60),
        3600..=86_399 => format!("{} h ago", s / 3600),
        _ => {
            let days = s / 86_400;
            format!("{days} day{} ago", if days == 1 { "" } else { "s" })
        }
    }
}

/// A long identifier shortened for a table cell (the full one is in the
/// cell's title): "v0-abcdefgh…wxyz".
pub fn short(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() <= 20 {
        return id.to_string();
    }
    let head: String = chars[..12].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

/// Percent-encode one path segment (a child's name, a cap): everything but
/// RFC 3986 unreserved characters and `:` (which caps are full of, and which
/// is legal in a path segment after the first).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests;
