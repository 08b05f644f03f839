//! `cargo xtask emulate` end to end, the way a user runs it: a function ZIP and a layer ZIP
//! from the dist directory, invocations over HTTP, then shutdown after the last one.
//! Needs `cargo xtask dist`; run by `cargo xtask test`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;
use common::{dist, workspace};

/// POSTs `body` to `url` (`http://127.0.0.1:PORT/path`) and returns the response body.
fn post(url: &str, body: &str) -> String {
    let rest = url.strip_prefix("http://").expect("http url");
    let (authority, path) = rest.split_once('/').expect("path");
    let mut stream = TcpStream::connect(authority).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    write!(
        stream,
        "POST /{path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read");
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    raw.split_once("\r\n\r\n").expect("body").1.to_owned()
}

fn emulate(key: &str) {
    let dist = dist();
    let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .current_dir(workspace())
        .args(["emulate", "--port", "0", "--invocations", "2", "--function"])
        .arg(dist.join(format!("hello-{key}.zip")))
        .arg("--layer")
        .arg(dist.join(format!("thaw-extension-{key}.zip")))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start xtask emulate");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("the listening line");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{line}"))
        .to_owned();
    let first = post(
        &url,
        r#"{"rawPath":"/e2e","queryStringParameters":{"name":"e2e"}}"#,
    );
    let response: serde_json::Value = serde_json::from_str(&first).expect("json");
    assert_eq!(response["statusCode"], 200, "{first}");
    assert!(
        response["body"]
            .as_str()
            .expect("body")
            .contains("hello, e2e"),
        "{first}"
    );
    post(&url, "{}");
    let status = child.wait().expect("emulate exits after two invocations");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read");
    assert!(status.success(), "{stderr}");
    assert!(
        stderr.contains("[thaw-extension]") && stderr.contains("shutdown"),
        "{stderr}"
    );
    assert!(stderr.contains("2 invocations"), "{stderr}");
}

#[test]
#[ignore = "needs `cargo xtask dist`; run by `cargo xtask test`"]
fn emulate_runs_the_x86_64_zip_and_layer_natively() {
    emulate("x86_64");
}

#[test]
#[ignore = "needs `cargo xtask dist`; run by `cargo xtask test`"]
fn emulate_runs_the_arm64_zip_and_layer_under_qemu() {
    emulate("arm64-musl");
}
