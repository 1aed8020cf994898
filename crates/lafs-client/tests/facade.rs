//! The `Client` facade on an in-process grid: files of every format,
//! directories over paths, link/unlink/rename with `replace` modes, put at
//! a path, deep walk and stats, grid swapping, node-directory loading.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use lafs_client::client::{size_bucket, Error};
use lafs_client::{Client, ClientConfig, FileFormat, LinkCaps, LocalClient, Replace};
use lafs_format::cap::{Cap, ChildCap, FileCap, MutableFormat};
use lafs_format::keys::ConvergenceSecret;
use std::sync::Arc;

fn client() -> Client<LocalClient> {
    let config = ClientConfig {
        convergence: Some(ConvergenceSecret::new(vec![9; 32])),
        key_pool_size: 2,
        ..Default::default()
    };
    Client::new(common::local_grid(10, 0x4f, 3), config)
}

#[test]
fn files_of_every_format() {
    common::rt().block_on(async {
        let c = client();
        let big = common::data(200_000, 1);
        let chk = c.upload_bytes(big.clone(), FileFormat::Chk).await.unwrap();
        assert!(chk.to_string().starts_with("URI:CHK:"));
        assert_eq!(c.download_to_vec(&chk).await.unwrap(), big);
        let lit = c
            .upload_bytes(b"tiny".to_vec(), FileFormat::Chk)
            .await
            .unwrap();
        assert!(lit.to_string().starts_with("URI:LIT:"));
        assert_eq!(c.download_to_vec(&lit).await.unwrap(), b"tiny");

        for (fmt, prefix) in [
            (FileFormat::Sdmf, "URI:SSK:"),
            (FileFormat::Mdmf, "URI:MDMF:"),
        ] {
            let m = c.upload_bytes(b"version one".to_vec(), fmt).await.unwrap();
            assert!(m.to_string().starts_with(prefix), "{m}");
            assert_eq!(c.download_to_vec(&m).await.unwrap(), b"version one");
            c.overwrite_mutable(&m, b"version two!".to_vec())
                .await
                .unwrap();
            assert_eq!(c.download_to_vec(&m).await.unwrap(), b"version two!");
            // Read caps read, ranges slice, and cannot overwrite.
            let ro = m.readonly();
            let mut s = c.download(&ro, Some(8..11)).await.unwrap();
            let mut got = Vec::new();
            while let Some(b) = futures::StreamExt::next(&mut s).await {
                got.extend_from_slice(&b.unwrap());
            }
            assert_eq!(got, b"two");
            assert_eq!(c.file_size(ro.file()).await.unwrap(), 12);
            assert!(matches!(
                c.overwrite_mutable(&ro, vec![]).await,
                Err(Error::ReadOnly { .. })
            ));
            assert!(matches!(
                c.download(&ro, Some(5..40)).await,
                Err(Error::BadRange { .. })
            ));
        }
    });
}

#[test]
fn directories_over_paths() {
    common::rt().block_on(async {
        let c = client();
        let root = c.mkdir(None, &[], None).await.unwrap();
        assert!(root.to_string().starts_with("URI:DIR2:"));
        let mdmf = c.mkdir(Some(MutableFormat::Mdmf), &[], None).await.unwrap();
        assert!(mdmf.to_string().starts_with("URI:DIR2-MDMF:"));

        // put creates a/b, links the file; get it back through the path.
        let cap = c
            .put(
                &root,
                "a/b/f.txt",
                b"hello".to_vec(),
                FileFormat::Chk,
                Replace::Yes,
            )
            .await
            .unwrap();
        let n = c.resolve(&root, "/a//b/f.txt").await.unwrap();
        assert_eq!(n.cap, cap);
        let md = n.metadata.unwrap();
        assert!(md["tahoe"]["linkcrtime"].as_f64().unwrap() > 1e9);
        assert!(c.resolve(&root, "a").await.unwrap().cap.is_dir());
        assert!(matches!(
            c.resolve(&root, "a/nope").await,
            Err(Error::NoSuchChild { path }) if path == "a/nope"
        ));
        assert!(matches!(
            c.resolve(&root, "a/b/f.txt/x").await,
            Err(Error::NotADirectory { .. })
        ));

        // A mutable file put at a path is overwritten in place.
        let m = c
            .put(
                &root,
                "a/m",
                b"one".to_vec(),
                FileFormat::Sdmf,
                Replace::Yes,
            )
            .await
            .unwrap();
        let m2 = c
            .put(&root, "a/m", b"two".to_vec(), FileFormat::Chk, Replace::Yes)
            .await
            .unwrap();
        assert_eq!(m, m2);
        assert_eq!(c.download_to_vec(&m).await.unwrap(), b"two");

        // replace modes.
        let other = c
            .upload_bytes(b"other".to_vec(), FileFormat::Chk)
            .await
            .unwrap();
        let oc = LinkCaps::of(&other);
        assert!(matches!(
            c.link(&root, "a/b/f.txt", &oc, Replace::No).await,
            Err(Error::ChildExists { .. })
        ));
        assert!(matches!(
            c.link(&root, "a/b", &oc, Replace::OnlyFiles).await,
            Err(Error::ChildExists { .. })
        ));
        assert!(c
            .link(&root, "a/b/f.txt", &oc, Replace::OnlyFiles)
            .await
            .unwrap());
        // Relinking the same caps is a no-op, even with Replace::No.
        assert!(!c.link(&root, "a/b/f.txt", &oc, Replace::No).await.unwrap());
        let md2 = c
            .resolve(&root, "a/b/f.txt")
            .await
            .unwrap()
            .metadata
            .unwrap();
        assert_eq!(md2["tahoe"]["linkcrtime"], md["tahoe"]["linkcrtime"]);

        // Rename in one directory and across directories.
        c.rename(&root, "a/b/f.txt", &root, "a/b/g.txt", Replace::No)
            .await
            .unwrap();
        c.rename(&root, "a/b/g.txt", &root, "top.txt", Replace::No)
            .await
            .unwrap();
        assert_eq!(c.resolve(&root, "top.txt").await.unwrap().cap, other);
        let names: Vec<String> = c
            .list(&c.resolve(&root, "a/b").await.unwrap().cap)
            .await
            .unwrap()
            .entries
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert!(names.is_empty(), "{names:?}");

        // Unlink returns what was there; read-only roots refuse edits.
        let gone = c.unlink(&root, "top.txt").await.unwrap();
        assert!(matches!(gone.cap, ChildCap::Known(ref k) if *k == other));
        assert!(matches!(
            c.unlink(&root, "top.txt").await,
            Err(Error::NoSuchChild { .. })
        ));
        assert!(matches!(
            c.link(&root.readonly(), "x", &oc, Replace::Yes).await,
            Err(Error::ReadOnly { .. })
        ));
        // A read-only view lists, with read caps only.
        let ro = c.list(&root.readonly()).await.unwrap();
        assert_eq!(ro.entries.len(), 1);
        assert!(ro.entries[0].caps.rw.is_none());
        assert!(matches!(c.unlink(&root, "").await, Err(Error::EmptyPath)));
    });
}

#[test]
fn immutable_directories_and_deep_walk() {
    common::rt().block_on(async {
        let c = client();
        let f1 = c
            .upload_bytes(common::data(5000, 2), FileFormat::Chk)
            .await
            .unwrap();
        let f2 = c
            .upload_bytes(b"lit".to_vec(), FileFormat::Chk)
            .await
            .unwrap();
        let imm = c
            .mkdir_immutable(&[
                ("big".into(), LinkCaps::of(&f1)),
                ("small".into(), LinkCaps::of(&f2)),
            ])
            .await
            .unwrap();
        assert!(
            imm.to_string().starts_with("URI:DIR2-CHK:")
                || imm.to_string().starts_with("URI:DIR2-LIT:")
        );
        assert_eq!(c.list(&imm).await.unwrap().entries.len(), 2);
        let m = c
            .upload_bytes(b"mut".to_vec(), FileFormat::Sdmf)
            .await
            .unwrap();
        assert!(matches!(
            c.mkdir_immutable(&[("m".into(), LinkCaps::of(&m))]).await,
            Err(Error::NotImmutable { .. })
        ));

        let root = c
            .mkdir(
                None,
                &[
                    ("imm".into(), LinkCaps::of(&imm)),
                    ("m".into(), LinkCaps::of(&m)),
                ],
                None,
            )
            .await
            .unwrap();
        // A cycle: root/sub/back → root.
        let sub = c.mkdir_p(&root, "sub").await.unwrap();
        c.link(&sub, "back", &LinkCaps::of(&root), Replace::No)
            .await
            .unwrap();
        let (manifest, stats) = c.deep_walk(&root).await.unwrap();
        let paths: Vec<String> = manifest.iter().map(|e| e.path.join("/")).collect();
        // Tahoe's order: files before subdirectories, depth first; the
        // link back to the root is not followed or listed again.
        assert_eq!(paths, ["", "m", "imm", "imm/big", "imm/small", "sub"]);
        assert_eq!(manifest[2].kind(), "directory");
        assert_eq!(manifest[1].kind(), "file");
        let s = &stats.counts;
        assert_eq!(s["count-directories"], 3);
        assert_eq!(s["count-files"], 3);
        assert_eq!(s["count-mutable-files"], 1);
        assert_eq!(s["count-literal-files"], 1);
        assert_eq!(s["count-immutable-files"], 1);
        assert_eq!(s["size-immutable-files"], 5000);
        assert_eq!(s["largest-immutable-file"], 5000);
        assert_eq!(s["largest-directory-children"], 3);
        assert!(s["size-directories"] > 0);
        assert_eq!(stats.histogram[&size_bucket(5000)], 1);
        assert_eq!(stats.histogram[&(1, 3)], 1);
        let j = stats.to_json();
        assert_eq!(j["size-files-histogram"][0], serde_json::json!([1, 3, 1]));
    });
}

#[test]
fn racing_links_both_survive() {
    common::rt().block_on(async {
        let c = Arc::new(client());
        let root = c.mkdir(None, &[], None).await.unwrap();
        let f = c
            .upload_bytes(b"x".to_vec(), FileFormat::Chk)
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for w in 0..2 {
            let (c, root, f) = (c.clone(), root.clone(), f.clone());
            tasks.push(tokio::spawn(async move {
                for i in 0..10 {
                    c.link(&root, &format!("w{w}-{i}"), &LinkCaps::of(&f), Replace::No)
                        .await
                        .unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(c.list(&root).await.unwrap().entries.len(), 20);
    });
}

/// Two nodes on one grid take turns editing one directory: each node's
/// memory of the version it published goes stale whenever the other
/// writes, and every edit must still see the other's changes.
#[test]
fn two_nodes_editing_one_directory_see_each_other() {
    common::rt().block_on(async {
        let grid = common::local_grid(10, 0x51, 3);
        let config = ClientConfig {
            key_pool_size: 1,
            ..Default::default()
        };
        let a = Client::new(grid.clone(), config.clone());
        let b = Client::new(grid, config);
        let root = a.mkdir(None, &[], None).await.unwrap();
        let f = a
            .upload_bytes(b"x".to_vec(), FileFormat::Chk)
            .await
            .unwrap();
        let caps = LinkCaps::of(&f);
        for i in 0..5 {
            a.link(&root, &format!("a{i}"), &caps, Replace::No)
                .await
                .unwrap();
            b.link(&root, &format!("b{i}"), &caps, Replace::No)
                .await
                .unwrap();
        }
        let names = |l: lafs_client::client::Listing| {
            let mut v: Vec<String> = l.entries.into_iter().map(|e| e.name).collect();
            v.sort();
            v
        };
        assert_eq!(names(a.list(&root).await.unwrap()).len(), 10);
        // `b` removes a child `a` added; `a`'s memory still has it, but
        // linking it again is no conflict on the grid.
        b.unlink(&root, "a0").await.unwrap();
        a.link(&root, "a0", &caps, Replace::No).await.unwrap();
        // `b` adds one `a` has never seen; `a` must not call it missing.
        b.link(&root, "new", &caps, Replace::No).await.unwrap();
        a.unlink(&root, "new").await.unwrap();
        // And a conflict `a`'s memory cannot see is still refused.
        b.link(&root, "clash", &caps, Replace::No).await.unwrap();
        assert!(matches!(
            a.link(&root, "clash", &LinkCaps::of(&root), Replace::No)
                .await,
            Err(Error::ChildExists { .. })
        ));
        let got = names(b.list(&root).await.unwrap());
        assert_eq!(got.len(), 11, "{got:?}");
        assert!(got.contains(&"a0".to_string()) && !got.contains(&"new".to_string()));
    });
}

#[test]
fn grid_swap_applies_to_later_operations() {
    common::rt().block_on(async {
        let c = client().with_key_pool(1);
        assert!(c.mkdir(None, &[], None).await.is_ok());
        let cap = c
            .upload_bytes(common::data(10_000, 4), FileFormat::Chk)
            .await
            .unwrap();
        c.set_grid(Arc::new(common::local_grid(10, 0x50, 3)));
        assert_eq!(c.grid().servers().len(), 10);
        // The new grid has none of the shares.
        assert!(c.download_to_vec(&cap).await.is_err());
        assert!(matches!(
            c.list(&Cap::File(FileCap::Lit(lafs_format::cap::LitCap {
                data: vec![]
            })))
            .await,
            Err(Error::NotADirectory { .. })
        ));
    });
}

#[test]
fn nodedir_loading() {
    let d = lafs_testing::scratch_dir("facade-nodedir");
    std::fs::create_dir_all(d.join("private")).unwrap();
    std::fs::write(
        d.join("tahoe.cfg"),
        "[client]\nshares.needed = 2\nshares.happy = 3\nshares.total = 4\nmutable.format = MDMF\n",
    )
    .unwrap();
    let b32 = lafs_format::base32::encode(&[1u8; 32]);
    std::fs::write(d.join("private/convergence"), format!("{b32}\n")).unwrap();
    std::fs::write(d.join("private/secret"), format!("{b32}\n")).unwrap();
    let nd = lafs_client::nodedir::load(&d).unwrap();
    assert_eq!(
        (
            nd.config.params.needed,
            nd.config.params.happy,
            nd.config.params.total
        ),
        (2, 3, 4)
    );
    assert_eq!(nd.config.mutable_format, MutableFormat::Mdmf);
    // No `lafs.key_pool_size`: a node keeps the default pool.
    assert_eq!(
        nd.config.key_pool_size,
        lafs_client::mutable::keypool::DEFAULT_SIZE
    );
    // No servers.yaml yet: a clear error naming the file.
    let e = Client::from_nodedir(&d).unwrap_err().to_string();
    assert!(e.contains("servers.yaml"), "{e}");
    std::fs::write(d.join("private/servers.yaml"), "storage: {}\n").unwrap();
    let e = Client::from_nodedir(&d).unwrap_err().to_string();
    assert!(e.contains("lists no storage servers"), "{e}");
    std::fs::write(d.join("tahoe.cfg"), "[client]\nshares.needed = x\n").unwrap();
    let e = lafs_client::nodedir::load(&d).unwrap_err().to_string();
    assert!(e.contains("shares.needed"), "{e}");
    for (v, want) in [
        ("0", Some(0)),
        (" 9 ", Some(9)),
        ("many", None),
        ("-1", None),
    ] {
        std::fs::write(
            d.join("tahoe.cfg"),
            format!("[client]\nlafs.key_pool_size = {v}\n"),
        )
        .unwrap();
        match (lafs_client::nodedir::load(&d), want) {
            (Ok(nd), Some(n)) => assert_eq!(nd.config.key_pool_size, n),
            (Err(e), None) => assert!(e.to_string().contains("lafs.key_pool_size"), "{e}"),
            (r, _) => panic!("lafs.key_pool_size = {v}: {:?}", r.map(|nd| nd.config)),
        }
    }
}
