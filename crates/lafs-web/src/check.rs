//! `t=check`, `t=stream-deep-check` and the deep-check operation, over
//! `lafs_client::check` (Tahoe's `web/check_results.py` shapes: the check
//! results JSON is `json.dumps(x, indent=1)`, the stream one compact
//! object per line).

use crate::args::Args;
use crate::error::WebError;
use crate::ops::{line_stream, OpKind, Tracker};
use crate::{pyjson, AppState};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use lafs_client::check::{deep_check_with, run, CheckOptions};
use lafs_client::StorageClient;
use lafs_format::base32;
use lafs_format::cap::Cap;
use serde_json::{json, Value};

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

/// The finished deep-check JSON (`/operations/H` of `t=start-deep-check`),
/// counting checked objects on `tracker`.
pub(crate) async fn deep_check_json<C: StorageClient>(
    st: &AppState<C>,
    root: &Cap,
    args: &Args,
    tracker: &Tracker,
) -> Value {
    let opts = match options(args) {
        Ok(o) => o,
        Err(e) => return json!({"finished": true, "error": e.to_string()}),
    };
    let grid = st.client().grid();
    let r = deep_check_with(&grid, root, opts, &mut |_| tracker.add(1)).await;
    let mut v = r.to_tahoe_json();
    if let Value::Object(m) = &mut v {
        m.insert("finished".into(), true.into());
    }
    v
}

/// `POST $DIRURL?t=stream-deep-check`: one JSON object per line, sent as
/// each object is checked, then the stats line. A client that goes away
/// stops the walk.
pub(crate) async fn stream_deep_check<C: StorageClient>(
    st: &AppState<C>,
    root: Cap,
    args: &Args,
) -> Result<Response, WebError> {
    let opts = options(args)?;
    let tracker = st.ops().track(
        OpKind::DeepCheck,
        root.storage_index()
            .map(|si| base32::encode(si.as_bytes()))
            .unwrap_or_default(),
        None,
    );
    tracker.storage_index(&root);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let grid = st.client().grid();
    tokio::spawn(async move {
        let t = &tracker;
        let mut on_entry = |e: &lafs_client::check::DeepEntry| {
            t.add(1);
            // Fails only once the client is gone; the select ends the walk.
            let _ = tx.send(pyjson::dumps(&e.stream_line()) + "\n");
        };
        let walk = deep_check_with(&grid, &root, opts, &mut on_entry);
        let r = tokio::select! {
            r = walk => r,
            () = tx.closed() => return,
        };
        let _ = tx.send(pyjson::dumps(&r.stats_line()) + "\n");
        tracker.finish();
    });
    Ok(line_stream(rx))
}
