//! Page rendering without a node: every template renders from sample
//! views, escapes what it shows, and carries the UI's headers.

use super::*;
use axum::body::to_bytes;

fn body(r: Response) -> (StatusCode, axum::http::HeaderMap, String) {
    let status = r.status();
    let headers = r.headers().clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let bytes = rt.block_on(to_bytes(r.into_body(), 1 << 20)).expect("body");
    (
        status,
        headers,
        String::from_utf8(bytes.to_vec()).expect("utf-8"),
    )
}

fn sample_dir() -> view::DirectoryView {
    view::DirectoryView {
        root_cap: "URI:DIR2:aaaa:bbbb".into(),
        path: vec!["photos".into(), "2024 trip".into()],
        cap: "URI:DIR2:aaaa:bbbb".into(),
        readonly_cap: "URI:DIR2-RO:cccc:bbbb".into(),
        writable: true,
        children: vec![
            view::ChildView {
                name: "<script>alert(1)</script>.txt".into(),
                kind: view::ChildKind::File,
                cap: "URI:CHK:x:y:3:10:1536".into(),
                readonly_cap: "URI:CHK:x:y:3:10:1536".into(),
                mutable: false,
                size: Some(1536),
                modified: Some(now() - 10.0),
            },
            view::ChildView {
                name: "sub dir".into(),
                kind: view::ChildKind::Dir,
                cap: "URI:DIR2:d:e".into(),
                readonly_cap: "URI:DIR2-RO:f:e".into(),
                mutable: true,
                size: None,
                modified: None,
            },
        ],
    }
}

fn now() -> f64 {
    model::now()
}

#[test]
fn directory_page_renders_escapes_and_links() {
    let (status, headers, html) = body(directory_page(&sample_dir()));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
    assert!(headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap_or_default()
        .starts_with("text/html"));
    // The hostile name is escaped, never live markup.
    assert!(!html.contains("<script>alert(1)"));
    assert!(html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"));
    // Forms post to the WAPI routes under the directory's own path.
    let base = "/uri/URI:DIR2:aaaa:bbbb/photos/2024%20trip";
    assert!(html.contains(&format!("action=\"{base}?t=upload\"")));
    assert!(html.contains(&format!("action=\"{base}?t=mkdir\"")));
    assert!(html.contains(&format!("action=\"{base}?t=delete\"")));
    assert!(html.contains(&format!("action=\"{base}?t=rename\"")));
    assert!(html.contains(&format!("href=\"{base}/sub%20dir/\"")));
    assert!(html.contains("/uri/URI:DIR2-RO:cccc:bbbb/"));
    assert!(html.contains("/uri/URI:DIR2-RO:f:e/"));
    assert!(html.contains("1.5 KiB"));
    assert!(html.contains(" s ago"));
}

#[test]
fn read_only_directory_has_no_forms() {
    let mut v = sample_dir();
    v.writable = false;
    let (_, _, html) = body(directory_page(&v));
    assert!(!html.contains("t=upload"));
    assert!(!html.contains("t=delete"));
    assert!(html.contains("read-only"));
}

#[test]
fn welcome_page_lists_servers() {
    let servers = (0..10)
        .map(|i| view::ServerView {
            nickname: format!("storage-{i}"),
            id: format!("v0-{i:0>52}"),
            address: format!("127.0.0.1:{}", 4000 + i),
            connected: i != 3,
            summary: if i == 3 {
                "failure: connection refused".into()
            } else {
                "connected".into()
            },
            since: Some(now() - 3600.0),
            last_seen: Some(now() - 90.0),
            available_space: Some(1 << 30),
        })
        .collect();
    let mut intro = view::IntroducerView::new("intro.example:3458", true, "Connected");
    intro.since = Some(now() - 7200.0);
    let v = view::WelcomeView {
        nickname: "demo-client".into(),
        node_id: "v0-abc".into(),
        version: "lafs/0.1.0".into(),
        servers,
        introducers: vec![intro],
        storage: Some(view::StorageView::new(5 << 20, Some(2 << 30))),
        needed: 3,
        total: 10,
    };
    let (status, _, html) = body(welcome_page(&v));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(html.matches("<tr class=\"server\">").count(), 10);
    assert!(html.contains("data-count=\"9\""));
    assert!(html.contains("1 min ago"));
    assert!(html.contains("lafs/0.1.0"));
    // The disconnected server says why; free space is summed over the
    // nine connected ones; the introducer, its time and own storage show.
    assert!(html.contains("failure: connection refused"));
    assert!(html.contains("9.0 GiB"), "{html}");
    assert!(html.contains("intro.example:3458") && html.contains("since 2 h ago"));
    assert!(html.contains("5.0 MiB used, 2.0 GiB free"));
    assert!(html.contains("3-of-10"));
}

#[test]
fn info_status_and_error_pages_render() {
    let info = view::FileInfoView {
        cap: "URI:MDMF:w:y".into(),
        readonly_cap: "URI:MDMF-RO:x:y".into(),
        verify_cap: "URI:MDMF-Verifier:v:y".into(),
        storage_index: "si".into(),
        format: "MDMF".into(),
        is_dir: false,
        mutable: true,
        size: Some(5),
    };
    let (s, _, html) = body(file_info_page(&info));
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("URI:MDMF-RO:x:y") && html.contains("mutable file"));
    assert!(html.contains("Read-write cap") && html.contains("/uri/URI:MDMF:w:y?t=check"));
    let st = StatusModel {
        operations: vec![OperationModel {
            kind: "upload".into(),
            target: "big.iso".into(),
            progress: 0.425,
            started: 0.0,
            ..Default::default()
        }],
        now: 30.0,
    };
    let (_, _, html) = body(status_page(&st));
    assert!(html.contains("value=\"43\"") && html.contains("data-refresh"));
    let (s, _, html) = body(error_page(StatusCode::NOT_FOUND, "Not found", "no <child>"));
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(html.contains("no &#60;child&#62;") || html.contains("no &lt;child&gt;"));
}

#[test]
fn static_assets_are_served() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let app: Router = routes::<lafs_client::LocalClient>().with_state(test_state());
    for (path, ct) in [
        ("/static/lafs.css", "text/css"),
        ("/static/lafs.js", "text/javascript"),
        ("/static/favicon.svg", "image/svg+xml"),
    ] {
        let req = axum::http::Request::get(path)
            .body(axum::body::Body::empty())
            .expect("request");
        let r = rt
            .block_on(tower::ServiceExt::oneshot(app.clone(), req))
            .expect("infallible");
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert!(r.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap_or_default()
            .starts_with(ct));
    }
}

#[test]
fn helpers() {
    assert_eq!(size(0), "0 B");
    assert_eq!(size(1023), "1023 B");
    assert_eq!(size(1024), "1.0 KiB");
    assert_eq!(size(100 << 20), "100 MiB");
    assert_eq!(ago(100.0, 100.5), "just now");
    assert_eq!(ago(0.0, 7200.0), "2 h ago");
    assert_eq!(ago(0.0, 86_400.0), "1 day ago");
    assert_eq!(ago(f64::NAN, 1.0), "just now");
    assert_eq!(short("v0-abcdefghijklmnopqrstuvwxyz"), "v0-abcdefghi…wxyz");
    assert_eq!(encode_segment("a b/ü"), "a%20b%2F%C3%BC");
    assert_eq!(encode_segment("URI:DIR2:x"), "URI:DIR2:x");
}

/// An empty grid: enough state for routes that never touch storage.
fn test_state() -> crate::AppState<lafs_client::LocalClient> {
    let grid = lafs_client::Grid::new(Vec::new(), lafs_client::LeaseSecret::new(vec![7; 32]));
    let client = lafs_client::Client::new(grid, lafs_client::ClientConfig::default());
    crate::AppState::new(crate::NodeInfo::new("ui-test"), std::sync::Arc::new(client))
}
