//! A lake on S3: an S3-compatible server (s3s-fs) runs in-process on 127.0.0.1.

use std::collections::HashMap;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use txlake_lake::{Lake, RunStatus};
use txlake_sync::connectors::builtin_registry;
use txlake_sync::{ConnectionConfig, QuietObserver, SyncOptions, sync_connection};

use crate::support::{count_ids, small_world};

/// Serves an S3 API over `root` on a free loopback port; returns the endpoint.
async fn start_s3(root: &std::path::Path) -> String {
    let fs = s3s_fs::FileSystem::new(root).expect("s3s-fs root");
    let mut builder = S3ServiceBuilder::new(fs);
    builder.set_auth(SimpleAuth::from_single("txlake-test", "txlake-secret"));
    let service = builder.build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let http = ConnBuilder::new(TokioExecutor::new());
        loop {
            let Ok((socket, _)) = listener.accept().await else { return };
            let connection = http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
            tokio::spawn(async move {
                let _ = connection.await;
            });
        }
    });
    endpoint
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_into_an_s3_lake_and_read_it_back() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("tx-bucket")).unwrap();
    let endpoint = start_s3(root.path()).await;
    let options: HashMap<String, String> = [
        ("aws_endpoint", endpoint.as_str()),
        ("aws_allow_http", "true"),
        ("aws_access_key_id", "txlake-test"),
        ("aws_secret_access_key", "txlake-secret"),
        ("aws_region", "us-east-1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let lake = Lake::open("s3://tx-bucket/lake", std::path::Path::new("/"), options).unwrap();
    let connection = ConnectionConfig {
        connector: "sample".into(),
        config: small_world(Some("2025-02-15")),
        streams: None,
        modes: Default::default(),
        survey_mapping: None,
    };
    let report =
        sync_connection(&lake, &builtin_registry(), "demo", &connection, &SyncOptions::default(), &QuietObserver)
            .await
            .unwrap();
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.error);

    // The objects really are in the bucket, in the documented layout.
    assert!(root.path().join("tx-bucket/lake/raw/demo/tickets/_delta_log").is_dir());
    assert_eq!(lake.list_raw_tables().await.unwrap().len(), report.streams.len());
    let (rows, ids) = count_ids(&lake, "demo.customers").await;
    assert!(rows > 0 && rows == ids);

    // A second, incremental run on S3 resumes from the state stored there.
    let mut later = connection.clone();
    later.config = small_world(Some("2025-03-01"));
    let report = sync_connection(&lake, &builtin_registry(), "demo", &later, &SyncOptions::default(), &QuietObserver)
        .await
        .unwrap();
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.error);
    let (more, more_ids) = count_ids(&lake, "demo.customers").await;
    assert!(more > rows && more == more_ids);
}
