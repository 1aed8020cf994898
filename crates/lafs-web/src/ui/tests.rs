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

fn sample_dir() -> DirectoryView {
    DirectoryView {
        root_cap: "URI:DIR2:aaaa:bbbb".into(),
        path: vec!["photos".into(), "2024 trip".into()],
        writable: true,
        readonly_url: "/uri/URI:DIR2-RO:cccc:bbbb/".into(),
        children: vec![
            ChildView {
                name: "<script>alert(1)</script>.txt".into(),
                kind: ChildKind::File,
                size: Some(1536),
                writable: false,
                readonly_url: Some("/uri/URI:CHK:x:y:3:10:1536".into()),
                mtime: Some(990.0),
            },
            ChildView {
                name: "sub dir".into(),
                kind: ChildKind::Dir,
                writable: true,
                readonly_url: Some("/uri/URI:DIR2-RO:d:e/".into()),
                ..Default::default()
            },
        ],
        now: 1000.0,
    }
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
    assert!(html.contains("1.5 KiB"));
    assert!(html.contains("10 s ago"));
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
fn welcome_page_counts_servers() {
    let servers = (0..10)
        .map(|i| ServerView {
            nickname: format!("storage-{i}"),
            server_id: format!("v0-{i:0>52}"),
            address: format!("127.0.0.1:{}", 4000 + i),
            connected: i != 3,
            last_seen: Some(100.0),
            available_space: Some(1 << 30),
        })
        .collect();
    let v = WelcomeView {
        nickname: "demo-client".into(),
        node_id: "v0-abc".into(),
        versions: vec![("lafs".into(), VERSION.into())],
        servers,
        needed: 3,
        total: 10,
        now: 160.0,
        ..Default::default()
    };
    let (status, _, html) = body(welcome_page(&v));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(html.matches("<tr class=\"server\">").count(), 10);
    assert!(html.contains("data-count=\"9\""));
    assert!(html.contains("9.0 GiB"));
    assert!(html.contains("1 min ago"));
    assert!(html.contains("3-of-10"));
}

#[test]
fn info_status_and_error_pages_render() {
    let info = FileInfoView {
        name: "a.txt".into(),
        kind: ChildKind::MutableFile,
        format: Some("MDMF".into()),
        size: Some(5),
        caps: vec![("Read-only cap".into(), "URI:MDMF-RO:x:y".into())],
        download_url: Some("/uri/URI:MDMF-RO:x:y".into()),
        check_url: Some("/uri/URI:MDMF-RO:x:y?t=check".into()),
        ..Default::default()
    };
    let (s, _, html) = body(file_info_page(&info));
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("URI:MDMF-RO:x:y") && html.contains("mutable file"));
    let st = StatusView {
        operations: vec![OperationView {
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
    let app: Router = routes();
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
