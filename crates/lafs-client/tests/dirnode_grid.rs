//! Mutable directories on an in-process grid: create, list, add, rename,
//! unlink, and two racing writers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use lafs_client::dirnode::{DirError, Dirnode};
use lafs_client::mutable::{KeyPool, PublishOptions};
use lafs_client::{Grid, LocalClient};
use lafs_format::cap::{Cap, FileCap};
use lafs_format::mutable::{PrivateKey, Version};
use std::sync::Arc;

fn grid(n: usize) -> Grid<LocalClient> {
    common::local_grid(n, 0x3c, 5)
}

const FILE_A: &[u8] = b"URI:CHK:aaaaaaaaaaaaaaaaaaaaaaaaaa:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbba:3:10:1000";
const FILE_B: &[u8] = b"URI:LIT:mfrgg";

async fn basic_ops(version: Version) {
    let g = grid(10);
    let key = Arc::new(PrivateKey::generate().unwrap());
    let opts = PublishOptions {
        version,
        ..Default::default()
    };
    let d = Dirnode::create(&g, key, opts).await.unwrap();
    let prefix = match version {
        Version::Sdmf => "URI:DIR2:",
        Version::Mdmf => "URI:DIR2-MDMF:",
    };
    assert!(d.cap().to_string().starts_with(prefix), "{}", d.cap());
    assert!(d.list().await.unwrap().is_empty());

    d.add_child("a", None, Some(FILE_A), false).await.unwrap();
    // A sub-directory with a write cap: stored encrypted, listed decrypted.
    let sub = Dirnode::create(&g, Arc::new(PrivateKey::generate().unwrap()), opts)
        .await
        .unwrap();
    let sub_rw = sub.cap().to_string();
    let sub_ro = sub.cap().readonly().to_string();
    d.add_child(
        "sub",
        Some(sub_rw.as_bytes()),
        Some(sub_ro.as_bytes()),
        false,
    )
    .await
    .unwrap();
    let kids = d.list().await.unwrap();
    assert_eq!(kids.len(), 2);
    assert_eq!(kids[1].name, "sub");
    assert_eq!(
        kids[1].rw_uri.as_deref().unwrap().as_slice(),
        sub_rw.as_bytes()
    );
    let tahoe = &kids[0].metadata["tahoe"];
    assert!(tahoe["linkcrtime"].as_f64().unwrap() > 1.0e9);
    assert_eq!(tahoe["linkcrtime"], tahoe["linkmotime"]);

    // Refuse or overwrite on conflict.
    let e = d
        .add_child("a", None, Some(FILE_B), false)
        .await
        .unwrap_err();
    assert!(matches!(e, DirError::ChildExists(ref n) if n == "a"), "{e}");
    // Same caps again: a no-op, not a conflict.
    d.add_child("a", None, Some(FILE_A), false).await.unwrap();
    let crtime = d.list().await.unwrap()[0].metadata["tahoe"]["linkcrtime"].clone();
    d.add_child("a", None, Some(FILE_B), true).await.unwrap();
    let kids = d.list().await.unwrap();
    assert_eq!(kids[0].ro_uri.as_deref(), Some(FILE_B));
    assert_eq!(kids[0].metadata["tahoe"]["linkcrtime"], crtime);

    // Rename, with and without a clash.
    d.rename("a", "b", false).await.unwrap();
    let names: Vec<String> = d
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["b", "sub"]);
    let e = d.rename("b", "sub", false).await.unwrap_err();
    assert!(matches!(e, DirError::ChildExists(_)), "{e}");
    let e = d.rename("nope", "x", false).await.unwrap_err();
    assert!(matches!(e, DirError::NoSuchChild(_)), "{e}");

    // Unlink.
    d.unlink("b").await.unwrap();
    let e = d.unlink("b").await.unwrap_err();
    assert!(matches!(e, DirError::NoSuchChild(_)), "{e}");
    let names: Vec<String> = d
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["sub"]);

    // Another handle opened from the cap sees the same, and can write
    // (the signing key comes out of the shares).
    let Cap::Dir(FileCap::SskWrite(w)) = d.cap() else {
        panic!()
    };
    let d2 = Dirnode::open(&g, &w);
    d2.add_child("c", None, Some(FILE_A), false).await.unwrap();
    assert_eq!(d.list().await.unwrap().len(), 2);
}

#[test]
fn sdmf_directory_ops() {
    common::rt().block_on(basic_ops(Version::Sdmf));
}

#[test]
fn mdmf_directory_ops() {
    common::rt().block_on(basic_ops(Version::Mdmf));
}

#[test]
fn two_writers_adding_100_children_each_all_survive() {
    common::rt().block_on(async {
        let g = grid(10);
        let pool = KeyPool::new(1);
        let d = Dirnode::create(&g, Arc::new(pool.take().await.unwrap()), Default::default())
            .await
            .unwrap();
        let Cap::Dir(FileCap::SskWrite(w)) = d.cap() else {
            panic!()
        };
        let writers = ["x", "y"].map(|who| {
            let g = g.clone();
            let w = w.clone();
            tokio::spawn(async move {
                let d = Dirnode::open(&g, &w);
                for i in 0..100 {
                    let name = format!("{who}-{i:03}");
                    d.add_child(&name, None, Some(FILE_B), false).await.unwrap();
                }
            })
        });
        for h in writers {
            h.await.unwrap();
        }
        let kids = d.list().await.unwrap();
        assert_eq!(kids.len(), 200);
        for who in ["x", "y"] {
            for i in 0..100 {
                let name = format!("{who}-{i:03}");
                assert!(kids.iter().any(|c| c.name == name), "{name} lost");
            }
        }
    });
}
