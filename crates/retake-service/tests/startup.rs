//! Bad storage states stop the start with a message that says what to fix: an unreachable
//! database, refused database credentials, a database a newer retake migrated, an
//! unreachable S3 server, a missing bucket, refused S3 credentials, credentials that may
//! not write, and a shared database without a shared link secret. Real PostgreSQL and a
//! real S3 server (moto, with its IAM checks on) on loopback.

mod common;

use std::sync::Arc;

use common::test_config;
use retake_service::{MediaPipeline, ServiceConfig};
use retake_testkit::services::{free_port, python, Postgres, S3Server};

const SECRET: &str = "0123456789abcdef0123456789abcdef";

/// Tries to start a server; returns the error's message.
async fn start_error(tweak: impl FnOnce(&mut ServiceConfig)) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    tweak(&mut config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    match retake_service::start(config, Arc::new(MediaPipeline::default()), listener).await {
        Ok(_) => panic!("the server started"),
        Err(e) => e.to_string(),
    }
}

fn assert_says(e: &str, wants: &[&str]) {
    for w in wants {
        assert!(e.contains(w), "`{w}` missing from: {e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_databases_are_named_with_what_to_fix() {
    let pg = tokio::task::spawn_blocking(Postgres::shared).await.unwrap();
    let closed = free_port("127.0.0.1");
    let e = start_error(|c| {
        c.database_url = Some(format!("postgres://retake:pw@127.0.0.1:{closed}/retake"));
        c.link_secret = Some(SECRET.into());
    })
    .await;
    assert_says(
        &e,
        &[
            "database_url",
            "cannot connect",
            "retake:***@",
            "pg_hba.conf",
        ],
    );
    assert!(!e.contains(":pw@"), "the password is not shown: {e}");

    pg.psql(
        "postgres",
        "DROP ROLE IF EXISTS pwuser; CREATE ROLE pwuser LOGIN PASSWORD 'right'",
    );
    let db = pg.create_database();
    let name = Postgres::db_of(&db).to_string();
    let e = start_error(|c| {
        c.database_url = Some(format!(
            "postgres://pwuser:wrong@127.0.0.1:{}/{name}",
            pg.port
        ));
        c.link_secret = Some(SECRET.into());
    })
    .await;
    assert_says(
        &e,
        &["password authentication failed", "user name and password"],
    );

    // A database migrated by a newer retake.
    let url = pg.create_database();
    pg.psql(
        Postgres::db_of(&url),
        "CREATE TABLE retake_schema (version INTEGER NOT NULL, applied_at BIGINT NOT NULL); \
         INSERT INTO retake_schema VALUES (999, 0)",
    );
    let e = start_error(|c| {
        c.database_url = Some(url.clone());
        c.link_secret = Some(SECRET.into());
    })
    .await;
    assert_says(&e, &["schema version 999", "newer retake"]);

    // A shared database needs the same link secret on every node.
    let url = pg.create_database();
    let e = start_error(|c| c.database_url = Some(url.clone())).await;
    assert_says(&e, &["link_secret", "every API node", "openssl rand"]);
}

/// Makes, on an authenticating moto, the bucket `locked` and a user who may only read it;
/// returns that user's access key id and secret. Takes moto's first 4 unchecked requests.
fn read_only_user(endpoint: &str) -> (String, String) {
    let script = r#"
import boto3, json, sys
kw = dict(endpoint_url=sys.argv[1], region_name="us-east-1",
          aws_access_key_id="setup", aws_secret_access_key="setup")
boto3.client("s3", **kw).create_bucket(Bucket="locked")
iam = boto3.client("iam", **kw)
iam.create_user(UserName="reader")
key = iam.create_access_key(UserName="reader")["AccessKey"]
iam.put_user_policy(UserName="reader", PolicyName="read", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
                   "Resource": "*"}]}))
print(key["AccessKeyId"], key["SecretAccessKey"])
"#;
    let out = std::process::Command::new(python())
        .args(["-c", script, endpoint])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut words = text.split_whitespace();
    (
        words.next().unwrap().to_string(),
        words.next().unwrap().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_buckets_are_named_with_what_to_fix() {
    let s3 = tokio::task::spawn_blocking(|| S3Server::start("127.0.0.1", Some(4)))
        .await
        .unwrap();
    let endpoint = s3.endpoint.clone();
    let (id, secret) = {
        let e = endpoint.clone();
        tokio::task::spawn_blocking(move || read_only_user(&e))
            .await
            .unwrap()
    };
    let with = |bucket: &str, endpoint: &str, id: &str, secret: &str| {
        let (bucket, endpoint, id, secret) = (
            bucket.to_string(),
            endpoint.to_string(),
            id.to_string(),
            secret.to_string(),
        );
        move |c: &mut ServiceConfig| {
            c.blob_store = format!("s3://{bucket}/retake");
            c.s3_endpoint = Some(endpoint);
            c.s3_access_key_id = Some(id);
            c.s3_secret_access_key = Some(secret);
        }
    };
    let closed = format!("http://127.0.0.1:{}", free_port("127.0.0.1"));
    let e = start_error(with("locked", &closed, &id, &secret)).await;
    assert_says(
        &e,
        &["blob_store", "cannot reach the server", "s3_endpoint"],
    );

    let e = start_error(with("locked", &endpoint, "AKIANOBODY", "nope")).await;
    assert_says(&e, &["credentials were refused", "s3_access_key_id"]);

    let e = start_error(with("locked", &endpoint, &id, &secret)).await;
    assert_says(&e, &["access denied", "s3:PutObject", "bucket `locked`"]);
    assert!(!e.contains(&secret), "the secret is not shown: {e}");

    // A bucket that is not there (any credentials: moto's unchecked server).
    let open = tokio::task::spawn_blocking(S3Server::shared).await.unwrap();
    let e = start_error(with("no-such-bucket", &open.endpoint, "k", "s")).await;
    assert_says(&e, &["does not exist", "no-such-bucket"]);
}
