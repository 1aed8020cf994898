//! `t=check`, `t=stream-deep-check` and the deep-check operation, over
//! `lafs_client::check` (Tahoe's `web/check_results.py` shapes: the check
//! results JSON is `json.dumps(x, indent=1)`, the stream one compact
//! object per line).

use crate::args::Args;
use crate::error::WebError;
use crate::{pyjson, AppState};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use lafs_client::check::{deep_check, run, CheckOptions};
use lafs_client::StorageClient;
use lafs_format::cap::Cap;
use serde_json::Value;

/// `verify=`, `repair=`, `add-lease=` as Tahoe reads them.
pub(crate) fn options(args: &Args) -> Result<CheckOptions, WebError> {
    Ok(CheckOptions {
        verify: args.flag("verify", false)?,
        repair: args.flag("repair", false)?,
        add_lease: args.flag("add-lease", false)?,
    })
}

fn plain(body: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

/// `POST $URL?t=check[&verify=][&repair=][&add-lease=]`.
pub(crate) async fn check<C: StorageClient>(
    st: &AppState<C>,
    cap: &Cap,
    args: &Args,
) -> Result<Response, WebError> {
    let grid = st.client().grid();
    let outcome = run(&grid, cap, options(args)?).await;
    Ok(plain(
        pyjson::dumps_indent1(&outcome.to_tahoe_json()) + "\n",
    ))
}

/// The finished deep-check JSON (`/operations/H` of `t=start-deep-check`).
pub(crate) async fn deep_check_json<C: StorageClient>(
    st: &AppState<C>,
    root: &Cap,
    args: &Args,
) -> Result<Value, WebError> {
    let grid = st.client().grid();
    let r = deep_check(&grid, root, options(args)?).await;
    let mut v = r.to_tahoe_json();
    if let Value::Object(m) = &mut v {
        m.insert("finished".into(), true.into());
    }
    Ok(v)
}

/// `POST $DIRURL?t=stream-deep-check`: one JSON object per line, then
/// the stats line.
pub(crate) async fn stream_deep_check<C: StorageClient>(
    st: &AppState<C>,
    root: Cap,
    args: &Args,
) -> Result<Response, WebError> {
    let grid = st.client().grid();
    let r = deep_check(&grid, &root, options(args)?).await;
    let mut out = String::new();
    for line in r.to_stream_lines() {
        out.push_str(&pyjson::dumps(&line));
        out.push('\n');
    }
    Ok(plain(out))
}
