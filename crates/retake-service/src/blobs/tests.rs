//! The blob store's contract, run against the local folder and a real S3-compatible server
//! (moto on loopback, started by the test rig): streaming both ways (multipart past one part),
//! ranged reads, head, copy, delete and delete by prefix, and the start-up check.

use std::sync::Arc;

use futures_util::TryStreamExt;
use retake_testkit::services::S3Server;

use super::*;

/// A fresh bucket on the shared moto server.
fn s3(prefix: &str) -> S3Blobs {
    let server = S3Server::shared();
    let bucket = format!("t-{}", uuid::Uuid::new_v4().simple());
    server.create_bucket(&bucket);
    S3Blobs::new(S3Settings {
        bucket,
        prefix: prefix.into(),
        endpoint: Some(server.endpoint.clone()),
        region: "us-east-1".into(),
        access_key_id: Some("test".into()),
        secret_access_key: Some("test".into()),
        path_style: true,
    })
    .unwrap()
}

async fn backends() -> Vec<(Arc<dyn BlobStore>, tempfile::TempDir)> {
    let local_dir = tempfile::tempdir().unwrap();
    let local: Arc<dyn BlobStore> =
        Arc::new(LocalBlobs::open(&local_dir.path().join("b")).unwrap());
    let s3: Arc<dyn BlobStore> = Arc::new(
        tokio::task::spawn_blocking(|| s3("retake/test"))
            .await
            .unwrap(),
    );
    vec![(local, local_dir), (s3, tempfile::tempdir().unwrap())]
}

async fn all(stream: ByteStream) -> Vec<u8> {
    let chunks: Vec<Bytes> = stream.try_collect().await.unwrap();
    chunks.concat()
}

/// Bytes that differ at every position (so an off-by-one in a range shows).
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_stream_in_and_out_whole_and_in_ranges() {
    for (blobs, scratch) in backends().await {
        let what = blobs.describe();
        blobs
            .check()
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        // Over two parts of a multipart upload.
        let big = pattern(2 * 8 * 1024 * 1024 + 12345);
        let src = scratch.path().join("src");
        std::fs::write(&src, &big).unwrap();
        blobs.put_file(&src, "outputs/g1.mp4").await.unwrap();
        assert!(!src.exists(), "{what}: the source file is consumed");
        assert_eq!(
            blobs.head("outputs/g1.mp4").await.unwrap(),
            Some(big.len() as u64)
        );
        assert_eq!(
            all(blobs.read("outputs/g1.mp4", None).await.unwrap()).await,
            big,
            "{what}"
        );
        let r = 8 * 1024 * 1024 - 3..8 * 1024 * 1024 + 5;
        assert_eq!(
            all(blobs
                .read("outputs/g1.mp4", Some(r.start as u64..r.end as u64))
                .await
                .unwrap())
            .await,
            &big[r],
            "{what}: a range across a part boundary"
        );
        let dest = scratch.path().join("back");
        blobs.get_file("outputs/g1.mp4", &dest).await.unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), big, "{what}");

        // Small objects, copies, and deleting a generation's folder.
        for name in ["media", "first_frame"] {
            let f = scratch.path().join(name);
            std::fs::write(&f, name.as_bytes()).unwrap();
            blobs.put_file(&f, &input_key("g1", name)).await.unwrap();
        }
        blobs
            .copy(&input_key("g1", "media"), "uploads/k/u1")
            .await
            .unwrap();
        assert_eq!(
            all(blobs.read("uploads/k/u1", None).await.unwrap()).await,
            b"media"
        );
        // A sibling whose name starts the same is not in the folder.
        let f = scratch.path().join("other");
        std::fs::write(&f, b"other").unwrap();
        blobs
            .put_file(&f, &input_key("g10", "media"))
            .await
            .unwrap();
        assert_eq!(
            blobs.list("inputs").await.unwrap(),
            [
                (input_key("g1", "first_frame"), 11),
                (input_key("g1", "media"), 5),
                (input_key("g10", "media"), 5)
            ],
            "{what}"
        );
        assert_eq!(blobs.delete_prefix("inputs/g1").await.unwrap(), 2, "{what}");
        assert_eq!(blobs.head(&input_key("g1", "media")).await.unwrap(), None);
        assert_eq!(
            blobs.head(&input_key("g10", "media")).await.unwrap(),
            Some(5),
            "{what}"
        );
        remove_generation(blobs.as_ref(), "g1").await;
        assert_eq!(blobs.head("outputs/g1.mp4").await.unwrap(), None, "{what}");

        // Missing objects.
        assert!(
            matches!(
                blobs.read("outputs/none.mp4", None).await,
                Err(BlobError::NotFound(_))
            ),
            "{what}"
        );
        assert!(
            matches!(
                blobs.get_file("uploads/k/none", &dest).await,
                Err(BlobError::NotFound(_))
            ),
            "{what}"
        );
        blobs.delete("outputs/none.mp4").await.unwrap();
        assert_eq!(blobs.delete_prefix("inputs/none").await.unwrap(), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presigned_links_serve_the_object_without_credentials() {
    let blobs = tokio::task::spawn_blocking(|| s3("")).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("v");
    std::fs::write(&f, b"video bytes").unwrap();
    blobs.put_file(&f, "outputs/g.mp4").await.unwrap();
    let url = blobs
        .presigned_url("outputs/g.mp4", std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert!(url.contains("X-Amz-Signature="), "{url}");
    let got = reqwest::get(&url).await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.unwrap().as_ref(), b"video bytes");
    // The folder store has no such links.
    let local = LocalBlobs::open(dir.path()).unwrap();
    assert!(local
        .presigned_url("outputs/g.mp4", std::time::Duration::from_secs(60))
        .await
        .is_none());
}
