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

async fn status_json(st: &AppState<LocalClient>) -> serde_json::Value {
    let r = call(st, Method::GET, "/status?t=json", &[], Body::empty()).await;
    assert_eq!(r.status, StatusCode::OK);
    serde_json::from_slice(&r.body).unwrap()
}

/// Poll `/status?t=json` until an active upload has received at least
/// `want` bytes (bounded: the body is fed by this test, so it gets there).
async fn wait_upload_bytes(st: &AppState<LocalClient>, want: u64) -> serde_json::Value {
    for _ in 0..500 {
        let v = status_json(st).await;
        let up = v["active"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["type"] == "upload")
            .cloned();
        if let Some(up) = up {
            if up["bytes-done"].as_u64().unwrap() >= want {
                return up;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("no active upload reached {want} bytes");
}

#[test]
fn status_tracks_uploads_and_downloads() {
    rt().block_on(async {
        let st = state();
        // A PUT whose body arrives in three parts, fed by this test.
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
        let body = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv()
                .await
                .map(|b| (Ok::<_, std::io::Error>(bytes::Bytes::from(b)), rx))
        });
        let part = vec![b'x'; 100_000];
        let st2 = st.clone();
        let put = tokio::spawn(async move {
            let mut b = Request::builder()
                .method(Method::PUT)
                .uri("/uri")
                .header("content-length", "300000");
            b = b.header("x-test", "slow");
            let r = router(st2)
                .oneshot(b.body(Body::from_stream(body)).unwrap())
                .await
                .unwrap();
            let status = r.status();
            let b = r.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8_lossy(&b).into_owned())
        });
        tx.send(part.clone()).unwrap();
        let up = wait_upload_bytes(&st, 100_000).await;
        assert_eq!(up["status"], "receiving data", "{up}");
        assert_eq!(up["total-size"], 300_000, "{up}");
        tx.send(part.clone()).unwrap();
        let up = wait_upload_bytes(&st, 200_000).await;
        let p = up["progress"].as_f64().unwrap();
        assert!(p > 0.6 && p < 0.7, "{up}");
        // The HTML page shows it running.
        let r = call(&st, Method::GET, "/status", &[], Body::empty()).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.text().contains("upload (receiving data)"), "{}", r.text());
        assert!(r.text().contains("data-refresh"));
        tx.send(part.clone()).unwrap();
        drop(tx);
        let (status, cap) = put.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{cap}");
        let v = status_json(&st).await;
        assert_eq!(v["active"].as_array().unwrap().len(), 0, "{v}");
        let up = &v["recent"][0];
        assert_eq!(up["type"], "upload");
        assert_eq!(up["status"], "Finished");
        assert_eq!(up["progress"], 1.0);
        let si = lafs_format::base32::encode(
            lafs_format::cap::Cap::parse(&cap)
                .unwrap()
                .storage_index()
                .unwrap()
                .as_bytes(),
        );
        assert_eq!(up["storage-index-string"], si.as_str());

        // A download counts the bytes it sent.
        let r = call(
            &st,
            Method::GET,
            &format!("/named/{}/big.bin", esc(&cap)),
            &[],
            Body::empty(),
        )
        .await;
        assert_eq!(r.body.len(), 300_000);
        let v = status_json(&st).await;
        let down = &v["recent"][0];
        assert_eq!(down["type"], "download", "{v}");
        assert_eq!(down["bytes-done"], 300_000);
        assert_eq!(down["target"], "big.bin");
        assert_eq!(down["status"], "Finished");
        // The page lists both, with no cap in it.
        let r = call(&st, Method::GET, "/status", &[], Body::empty()).await;
        assert!(r.text().contains("big.bin"));
        assert!(!r.text().contains(&cap));

        // A form upload (the browser's way) is tracked from its first byte
        // under the file's name.
        let form = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"form.txt\"\r\n\r\nuploaded through a form, long enough to be stored\r\n--XyZ--\r\n";
        let r = call(
            &st,
            Method::POST,
            "/uri?t=upload",
            &[("content-type", "multipart/form-data; boundary=XyZ")],
            form,
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let v = status_json(&st).await;
        let up = &v["recent"][0];
        assert_eq!(up["type"], "upload", "{v}");
        assert_eq!(up["target"], "form.txt");
        assert_eq!(up["status"], "Finished");
    });
}

#[test]
fn put_offset_updates_mutable_files() {
    rt().block_on(async {
        let st = state();
        // MDMF across several segments (128 KiB each).
        let mut data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        let r = call(&st, Method::PUT, "/uri?format=MDMF", &[], data.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let mdmf = r.text();
        let u = format!("/uri/{}", esc(&mdmf));
        let r = call(
            &st,
            Method::PUT,
            &format!("{u}?offset=131000"),
            &[],
            vec![b'A'; 2000],
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert_eq!(r.text(), mdmf);
        data[131_000..133_000].fill(b'A');
        let r = call(&st, Method::GET, &u, &[], Body::empty()).await;
        assert!(r.body == data, "MDMF partial write");
        // An append at the end grows the file.
        let r = call(&st, Method::PUT, &format!("{u}?offset=300000"), &[], "tail").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        data.extend_from_slice(b"tail");
        let r = call(&st, Method::GET, &u, &[], Body::empty()).await;
        assert!(r.body == data, "MDMF append");
        // Past the end, or not a number: 400.
        let r = call(&st, Method::PUT, &format!("{u}?offset=400000"), &[], "x").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
        let r = call(&st, Method::PUT, &format!("{u}?offset=-1"), &[], "x").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);

        // SDMF: Tahoe rewrites the whole file; the result is the same splice.
        let r = call(&st, Method::PUT, "/uri?format=SDMF", &[], "hello world").await;
        let sdmf = r.text();
        let r = call(
            &st,
            Method::PUT,
            &format!("/uri/{}?offset=6", esc(&sdmf)),
            &[],
            "there, friend",
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let r = call(
            &st,
            Method::GET,
            &format!("/uri/{}", esc(&sdmf)),
            &[],
            Body::empty(),
        )
        .await;
        assert_eq!(r.text(), "hello there, friend");

        // Through a directory path too; an immutable child refuses.
        let r = call(&st, Method::POST, "/uri?t=mkdir", &[], Body::empty()).await;
        let d = esc(&r.text());
        let r = call(
            &st,
            Method::PUT,
            &format!("/uri/{d}/m?t=uri"),
            &[],
            sdmf.clone(),
        )
        .await;
        assert!(r.status.is_success());
        let r = call(
            &st,
            Method::PUT,
            &format!("/uri/{d}/m?offset=0"),
            &[],
            "HELLO",
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let r = call(&st, Method::GET, &format!("/uri/{d}/m"), &[], Body::empty()).await;
        assert_eq!(r.text(), "HELLO there, friend");
        let r = call(
            &st,
            Method::PUT,
            &format!("/uri/{d}/i"),
            &[],
            "an immutable file, long enough not to be literal",
        )
        .await;
        assert!(r.status.is_success());
        let r = call(&st, Method::PUT, &format!("/uri/{d}/i?offset=0"), &[], "x").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.text().contains("immutable"), "{}", r.text());
        // A read-only cap cannot be written at an offset either.
        let ro = lafs_format::cap::Cap::parse(&mdmf)
            .unwrap()
            .readonly()
            .to_string();
        let r = call(
            &st,
            Method::PUT,
            &format!("/uri/{}?offset=0", esc(&ro)),
            &[],
            "x",
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
    });
}

#[test]
fn stream_manifest_and_deep_check_are_chunked_in_walk_order() {
    rt().block_on(async {
        let st = state();
        let r = call(&st, Method::POST, "/uri?t=mkdir", &[], Body::empty()).await;
        let d = esc(&r.text());
        for p in ["b/one", "a/two", "a/c/three", "top"] {
            let r = call(
                &st,
                Method::PUT,
                &format!("/uri/{d}/{p}"),
                &[],
                format!("contents of {p}, long enough to be stored on the grid"),
            )
            .await;
            assert!(r.status.is_success(), "{}", r.text());
        }
        // The walk order, from the finished operation.
        let r = call(
            &st,
            Method::POST,
            &format!("/uri/{d}?t=start-manifest&ophandle=m1&output=JSON"),
            &[],
            Body::empty(),
        )
        .await;
        assert!(r.status.is_redirection());
        let mut manifest = None;
        for _ in 0..500 {
            let r = call(
                &st,
                Method::GET,
                "/operations/m1?output=JSON",
                &[],
                Body::empty(),
            )
            .await;
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            if v["finished"] == true {
                manifest = Some(v);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let manifest = manifest.expect("manifest finished");
        let order: Vec<serde_json::Value> = manifest["manifest"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e[0].clone())
            .collect();
        assert_eq!(order.len(), 8, "{manifest}");

        for t in ["stream-manifest", "stream-deep-check"] {
            let req = Request::builder()
                .method(Method::POST)
                .uri(format!("/uri/{d}?t={t}"))
                .body(Body::empty())
                .unwrap();
            let resp = router(st.clone()).oneshot(req).await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            // No length up front: the body is a stream…
            assert!(resp.headers().get("content-length").is_none(), "{t}");
            let mut body = resp.into_body();
            let mut frames = Vec::new();
            while let Some(f) = body.frame().await {
                if let Ok(data) = f.unwrap().into_data() {
                    frames.push(String::from_utf8(data.to_vec()).unwrap());
                }
            }
            // …of one frame per line, each sent as the walk reached it.
            assert_eq!(frames.len(), order.len() + 1, "{t}: {frames:?}");
            for f in &frames {
                assert_eq!(f.matches('\n').count(), 1, "{t}: {f:?}");
            }
            let lines: Vec<serde_json::Value> = frames
                .iter()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            let paths: Vec<serde_json::Value> = lines[..order.len()]
                .iter()
                .map(|l| l["path"].clone())
                .collect();
            assert_eq!(paths, order, "{t} walks in Tahoe's order");
            assert_eq!(lines.last().unwrap()["type"], "stats");
        }
        // Each walk is a row of /status.
        let v = status_json(&st).await;
        let kinds: Vec<&str> = v["recent"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["type"].as_str().unwrap())
            .collect();
        assert!(
            kinds.contains(&"manifest") && kinds.contains(&"deep-check"),
            "{kinds:?}"
        );
    });
}

#[test]
fn welcome_reports_polled_server_health() {
    rt().block_on(async {
        let st = state();
        // The first page waits for the first round of version calls.
        let r = call(&st, Method::GET, "/?t=json", &[], Body::empty()).await;
        // Tahoe's content types for the two node JSONs.
        assert_eq!(r.headers["content-type"], "application/json; charset=utf-8");
        let s = call(&st, Method::GET, "/status?t=json", &[], Body::empty()).await;
        assert_eq!(s.headers["content-type"], "application/json");
        let mut v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        let servers = v["servers"].as_array_mut().unwrap();
        assert_eq!(servers.len(), 10);
        for s in servers.iter_mut() {
            assert_eq!(s["connection_status"], "connected", "{s}");
            assert!(s["available_space"].as_u64().unwrap() > 0, "{s}");
            assert!(s["last_received_data"].as_f64().unwrap() > 1.7e9, "{s}");
            s["available_space"] = "<space>".into();
            s["last_received_data"] = "<time>".into();
        }
        insta::assert_snapshot!("welcome_json", lafs_web::pyjson::dumps_indent1(&v));
        let r = call(&st, Method::GET, "/", &[], Body::empty()).await;
        let html = r.text();
        assert!(html.contains("data-count=\"10\""), "{html}");
        assert!(html.contains("Free on grid"));
        assert!(html.contains("href=\"/status\""));
    });
}
