//! no_proxy as each tool reads it: real curl 7.88 and GNU wget 1.21 are run
//! through a logging proxy towards every host × no_proxy value of a
//! generated table, and the shim's probe (the static release binary, same
//! environment) must take the same route for every row: through the proxy
//! exactly when the tool went through it.

mod common;

use common::servers::{Reply, TestServer, free_port, which};
use common::*;
use std::path::Path;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(20);

/// Hosts that need no name lookup beyond /etc/hosts; nothing listens on
/// their port, so a direct attempt ends at once with "connection refused".
const HOSTS: &[&str] = &["127.0.0.1", "127.0.0.9", "localhost", "::1"];

/// Values from the tools' own rules and the cases seen to disagree.
const VALUES: &[&str] = &[
    "*",
    " *",
    "* ",
    "*,",
    ",*",
    "*.0.0.1",
    "127.0.0.1",
    " 127.0.0.1",
    "127.0.0.1 ",
    "127.0.0.1,",
    ",127.0.0.1",
    "x, 127.0.0.1",
    "x,  127.0.0.1",
    "x 127.0.0.1",
    "x\t127.0.0.1",
    "127.0.0.0/8",
    "127.0.0.1/33",
    "127.0.0.1/-1",
    "127.0.0.0/8x",
    "127.0.0.0/0",
    "127.0.0.1/32",
    "127.0.0.1/",
    "127.0.0.0/31",
    "0.0.1",
    ".0.0.1",
    "127.0.0.",
    "localhost",
    ".localhost",
    "LOCALHOST",
    "localhost.",
    "calhost",
    " localhost",
    "::1",
    "[::1]",
    ":1",
    "",
    ",",
    " ",
    "1",
];

fn host_in_url(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// Runs `program args` with the proxy and no_proxy set; true when the proxy
/// saw a request for `host`.
fn went_through_proxy(
    proxy: &TestServer,
    program: &Path,
    args: &[String],
    host: &str,
    value: &str,
    extra: &[(&str, &str)],
    home: &Path,
) -> bool {
    proxy.clear();
    let mut cmd = clean_command(program);
    cmd.args(args)
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home)
        .env("http_proxy", proxy.url())
        .env("no_proxy", value);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let _ = run_bounded(&mut cmd, LIMIT);
    let needle = host_in_url(host);
    proxy.requests().iter().any(|r| r.target.contains(&needle))
}

#[test]
fn the_probe_takes_the_route_the_real_tool_takes_for_every_host_and_no_proxy_value() {
    let (Some(curl), Some(wget)) = (which("curl"), which("wget")) else {
        missing_part("curl and GNU wget");
        return;
    };
    let Some(shim) = release_binary() else { return };
    let proxy = TestServer::start(|_| Reply::Http {
        status: 404,
        headers: vec![],
        body: vec![],
    });
    let home = tempfile::tempdir().unwrap();
    let links = tempfile::tempdir().unwrap();
    for name in ["curl", "wget"] {
        std::os::unix::fs::symlink(&shim, links.path().join(name)).unwrap();
    }
    let port = free_port();
    let mut rows = 0;
    let mut differ = Vec::new();
    for (tool, real) in [("curl", &curl), ("wget", &wget)] {
        for host in HOSTS {
            for value in VALUES {
                let target = format!("http://{}:{port}/probe.bin", host_in_url(host));
                let direct_args: Vec<String> = match tool {
                    "curl" => vec!["-s".into(), target.clone()],
                    _ => vec!["-q".into(), "-t".into(), "1".into(), target.clone()],
                };
                let tool_route =
                    went_through_proxy(&proxy, real, &direct_args, host, value, &[], home.path());
                // The shim with that host as its cache host; the real tool it
                // then runs is `true`, so only the probe reaches the network.
                let server = format!("http://{}:{port}", host_in_url(host));
                let override_var = if tool == "curl" {
                    "REAL_CURL"
                } else {
                    "REAL_WGET"
                };
                let shim_args = vec![
                    if tool == "curl" { "-sL" } else { "-q" }.to_string(),
                    "http://dl.example.com/pub/f.bin".to_string(),
                ];
                let shim_route = went_through_proxy(
                    &proxy,
                    &links.path().join(tool),
                    &shim_args,
                    host,
                    value,
                    &[
                        ("WITHCACHE_SERVER", &server),
                        ("WITHCACHE_DOWN_TTL", "0"),
                        (override_var, "/bin/true"),
                    ],
                    home.path(),
                );
                rows += 1;
                if tool_route != shim_route {
                    differ.push(format!(
                        "{tool} host {host} no_proxy={value:?}: {tool} {}, probe {}",
                        if tool_route { "via proxy" } else { "direct" },
                        if shim_route { "via proxy" } else { "direct" }
                    ));
                }
            }
        }
    }
    assert!(rows >= 200, "{rows} rows");
    assert!(
        differ.is_empty(),
        "{} of {rows} rows differ:\n{}",
        differ.len(),
        differ.join("\n")
    );
}
