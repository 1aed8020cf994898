//! The web API over an in-process grid, driven through the router with
//! `tower::ServiceExt::oneshot` (no sockets): files, ranges, directories,
//! every `t=` that changes a directory, slow operations, and insta
//! snapshots of the `t=json` bodies (caps and times redacted where they
//! are random).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use lafs_client::{Client, ClientConfig, Grid, GridServer, LeaseSecret, LocalClient};
use lafs_format::keys::{ConvergenceSecret, ServerId20};
use lafs_storage::{StorageServer, StorageServerOptions};
use lafs_web::{router, AppState, NodeInfo};
use std::sync::Arc;
use tower::ServiceExt;

fn state() -> AppState<LocalClient> {
    let servers = (0..10u8)
        .map(|i| {
            let id = ServerId20([i; 20]);
            GridServer {
                id: format!("server-{i}"),
                permutation_seed: vec![i; 32],
                lease_seed: id,
                client: LocalClient::new(StorageServer::in_memory(StorageServerOptions::new(id))),
            }
        })
        .collect();
    let grid = Grid::new(servers, LeaseSecret::new(vec![7; 32]));
    let config = ClientConfig {
        convergence: Some(ConvergenceSecret::new(vec![9; 16])),
        key_pool_size: 2,
        ..Default::default()
    };
    AppState::new(NodeInfo::new("test"), Arc::new(Client::new(grid, config)))
}

struct Resp {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn call(
    st: &AppState<LocalClient>,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: impl Into<Body>,
) -> Resp {
    let mut b = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let r = router(st.clone())
        .oneshot(b.body(body.into()).unwrap())
        .await
        .unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let body = r.into_body().collect().await.unwrap().to_bytes().to_vec();
    Resp {
        status,
        headers,
        body,
    }
}

fn esc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Replace random caps and link times so snapshots are stable.
fn redact(s: &str, caps: &[(&str, &str)]) -> String {
    let mut out = s.to_string();
    for (cap, name) in caps {
        out = out.replace(cap, name);
    }
    let re_num = |line: &str| {
        if line.contains("\"linkcrtime\"") || line.contains("\"linkmotime\"") {
            let (k, _) = line.split_once(':').unwrap();
            let comma = if line.ends_with(',') { "," } else { "" };
            format!("{k}: <time>{comma}")
        } else {
            line.to_string()
        }
    };
    out.lines().map(re_num).collect::<Vec<_>>().join("\n")
}

#[test]
fn immutable_files_and_ranges() {
    rt().block_on(async {
        let st = state();
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let r = call(&st, Method::PUT, "/uri", &[], data.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let cap = r.text();
        assert!(cap.starts_with("URI:CHK:"), "{cap}");
        assert_eq!(r.headers.get("referrer-policy").unwrap(), "no-referrer");

        let r = call(
            &st,
            Method::GET,
            &format!("/uri/{}", esc(&cap)),
            &[],
            Body::empty(),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.body == data);

        let r = call(
            &st,
            Method::GET,
            &format!("/uri/{cap}"),
            &[("range", "bytes=1000-1999")],
            Body::empty(),
        )
        .await;
        assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
        assert_eq!(
            r.headers.get("content-range").unwrap(),
            "bytes 1000-1999/300000"
        );
        assert!(r.body == data[1000..2000]);

        let r = call(
            &st,
            Method::GET,
            &format!("/uri/{cap}"),
            &[("range", "bytes=300000-")],
            Body::empty(),
        )
        .await;
        assert_eq!(r.status, StatusCode::RANGE_NOT_SATISFIABLE);

        // /named/ with a file name, and GET /uri?uri= redirects.
        let r = call(
            &st,
            Method::GET,
            &format!("/named/{cap}/x.txt"),
            &[],
            Body::empty(),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.headers.get("content-type").unwrap(), "text/plain");
        let r = call(
            &st,
            Method::GET,
            &format!("/uri?uri={}", esc(&cap)),
            &[],
            Body::empty(),
        )
        .await;
        assert!(r.status.is_redirection());

        let r = call(
            &st,
            Method::GET,
            &format!("/uri/{cap}?t=json"),
            &[],
            Body::empty(),
        )
        .await;
        insta::assert_snapshot!("chk_file_json", r.text());
        let r = call(&st, Method::PUT, "/uri", &[], "tiny").await;
        let lit = r.text();
        let r = call(
            &st,
            Method::GET,
            &format!("/uri/{lit}?t=json"),
            &[],
            Body::empty(),
        )
        .await;
        insta::assert_snapshot!("lit_file_json", r.text());

        let r = call(&st, Method::GET, "/uri/URI:CHK:junk", &[], Body::empty()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
    });
}

#[test]
fn directories() {
    rt().block_on(async {
        let st = state();
        let r = call(&st, Method::POST, "/uri?t=mkdir", &[], Body::empty()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let dir = r.text();
        assert!(dir.starts_with("URI:DIR2:"), "{dir}");
        let d = esc(&dir);

        // PUT at a path creates intermediate directories.
        let r = call(&st, Method::PUT, &format!("/uri/{d}/sub/a.txt"), &[], "hello world, a file of some size that is not literal").await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let file = r.text();
        let r = call(&st, Method::GET, &format!("/uri/{d}/sub/a.txt"), &[], Body::empty()).await;
        assert_eq!(r.text(), "hello world, a file of some size that is not literal");
        // replace=false refuses; default replaces (200).
        let r = call(&st, Method::PUT, &format!("/uri/{d}/sub/a.txt?replace=false"), &[], "x").await;
        assert_eq!(r.status, StatusCode::CONFLICT);
        let r = call(&st, Method::PUT, &format!("/uri/{d}/sub/a.txt"), &[], "hello world, a file of some size that is not literal").await;
        assert_eq!(r.status, StatusCode::OK);

        // A mutable file, overwritten in place through its path.
        let r = call(&st, Method::PUT, &format!("/uri/{d}/m?format=MDMF"), &[], "v1").await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let mcap = r.text();
        assert!(mcap.starts_with("URI:MDMF:"));
        let r = call(&st, Method::PUT, &format!("/uri/{d}/m"), &[], "version 2").await;
        assert_eq!(r.text(), mcap);
        let r = call(&st, Method::GET, &format!("/uri/{}", esc(&mcap)), &[], Body::empty()).await;
        assert_eq!(r.text(), "version 2");

        // t=uri attach, rename, relink, unlink, set_children.
        let r = call(&st, Method::PUT, &format!("/uri/{d}/link?t=uri"), &[], file.clone()).await;
        assert!(r.status.is_success(), "{}", r.text());
        let r = call(&st, Method::POST, &format!("/uri/{d}?t=rename&from_name=link&to_name=renamed"), &[], Body::empty()).await;
        assert!(r.status.is_success(), "{}", r.text());
        let r = call(&st, Method::POST, &format!("/uri/{d}?t=relink&from_name=renamed&to_dir=sub&to_name=moved"), &[], Body::empty()).await;
        assert!(r.status.is_success(), "{}", r.text());
        let r = call(&st, Method::GET, &format!("/uri/{d}/sub/moved?t=uri"), &[], Body::empty()).await;
        assert_eq!(r.text(), file);
        let r = call(&st, Method::DELETE, &format!("/uri/{d}/sub/moved"), &[], Body::empty()).await;
        assert!(r.status.is_success());
        let r = call(&st, Method::DELETE, &format!("/uri/{d}/sub/moved"), &[], Body::empty()).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(r.text(), "No such child: moved\n");
        let kids = format!(r#"{{"x": ["filenode", {{"ro_uri": "{file}", "metadata": {{"k": 1}}}}], "lit": ["filenode", {{"ro_uri": "URI:LIT:nbswy3dp"}}]}}"#);
        let r = call(&st, Method::POST, &format!("/uri/{d}/sub?t=set_children"), &[], kids.clone()).await;
        assert!(r.status.is_success(), "{}", r.text());

        // Form POSTs: mkdir with name, unlink with name.
        let r = call(&st, Method::POST, &format!("/uri/{d}"), &[("content-type", "application/x-www-form-urlencoded")], "t=mkdir&name=empty").await;
        assert!(r.status.is_success(), "{}", r.text());
        let empty = r.text();

        // Immutable directory from children JSON.
        let r = call(&st, Method::POST, "/uri?t=mkdir-immutable", &[], kids).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let imm = r.text();
        assert!(imm.starts_with("URI:DIR2-CHK:"), "{imm}");
        let r = call(&st, Method::GET, &format!("/uri/{}?t=json", esc(&imm)), &[], Body::empty()).await;
        // Link times are packed into the body, so the cap is not stable.
        let imm_v = lafs_format::cap::Cap::parse(&imm)
            .unwrap()
            .verifier()
            .unwrap()
            .to_string();
        let imm_caps = [(imm.as_str(), "<imm>"), (imm_v.as_str(), "<imm>-verify")];
        insta::assert_snapshot!("immutable_dir_json", redact(&r.text(), &imm_caps));
        let r = call(&st, Method::PUT, &format!("/uri/{d}/imm?t=uri"), &[], imm.clone()).await;
        assert!(r.status.is_success());

        let r = call(&st, Method::GET, &format!("/uri/{d}?t=json"), &[], Body::empty()).await;
        let sub = serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()[1]["children"]["sub"][1]["rw_uri"]
            .as_str()
            .unwrap()
            .to_string();
        let caps = [
            (dir.as_str(), "<dir>"),
            (sub.as_str(), "<sub>"),
            (mcap.as_str(), "<mdmf>"),
            (empty.as_str(), "<empty>"),
        ];
        let ro: Vec<(String, String)> = caps
            .iter()
            .map(|(c, n)| {
                let c = lafs_format::cap::Cap::parse(c).unwrap();
                (c.readonly().to_string(), format!("{n}-ro"))
            })
            .collect();
        let vs: Vec<(String, String)> = caps
            .iter()
            .map(|(c, n)| {
                let c = lafs_format::cap::Cap::parse(c).unwrap();
                (c.verifier().unwrap().to_string(), format!("{n}-verify"))
            })
            .collect();
        let mut all: Vec<(&str, &str)> = imm_caps.to_vec();
        all.extend(caps);
        all.extend(ro.iter().map(|(a, b)| (a.as_str(), b.as_str())));
        all.extend(vs.iter().map(|(a, b)| (a.as_str(), b.as_str())));
        insta::assert_snapshot!("dir_json", redact(&r.text(), &all));
        let r = call(&st, Method::GET, &format!("/uri/{d}/sub/x?t=json"), &[], Body::empty()).await;
        insta::assert_snapshot!("child_file_json", redact(&r.text(), &all));
        let r = call(&st, Method::GET, &format!("/uri/{d}/sub?t=json"), &[], Body::empty()).await;
        insta::assert_snapshot!("sub_dir_json", redact(&r.text(), &all));

        // HTML listing goes through the ui module.
        let r = call(&st, Method::GET, &format!("/uri/{d}/sub"), &[], Body::empty()).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.text().contains("x"));

        // Manifest (streamed) and deep-stats (as an operation).
        let r = call(&st, Method::POST, &format!("/uri/{d}?t=stream-manifest"), &[], Body::empty()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let lines: Vec<serde_json::Value> = r.text().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.last().unwrap()["type"], "stats");
        let paths: Vec<String> = lines.iter().filter(|l| l["type"] != "stats").map(|l| l["path"].to_string()).collect();
        assert!(paths.contains(&r#"["sub","a.txt"]"#.to_string()), "{paths:?}");
        assert!(paths.contains(&r#"["imm","lit"]"#.to_string()), "{paths:?}");

        let r = call(&st, Method::POST, &format!("/uri/{d}?t=start-deep-stats&ophandle=h1&output=JSON"), &[], Body::empty()).await;
        assert!(r.status.is_redirection(), "{}", r.text());
        let mut done = None;
        for _ in 0..200 {
            let r = call(&st, Method::GET, "/operations/h1?output=JSON", &[], Body::empty()).await;
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            if v["finished"] == true {
                done = Some(v);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let v = done.expect("deep-stats finished");
        assert_eq!(v["count-directories"], 4, "{v}");
        let r = call(&st, Method::GET, "/operations/nope", &[], Body::empty()).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    });
}

#[test]
fn node_pages() {
    rt().block_on(async {
        let st = state();
        let r = call(&st, Method::GET, "/?t=json", &[], Body::empty()).await;
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["servers"].as_array().unwrap().len(), 10);
        let r = call(&st, Method::GET, "/statistics?t=json", &[], Body::empty()).await;
        assert_eq!(r.status, StatusCode::OK);
        let r = call(&st, Method::GET, "/status?t=json", &[], Body::empty()).await;
        assert_eq!(r.status, StatusCode::OK);
        let r = call(&st, Method::GET, "/", &[], Body::empty()).await;
        assert_eq!(r.status, StatusCode::OK);
        let r = call(&st, Method::GET, "/nonesuch", &[], Body::empty()).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    });
}
