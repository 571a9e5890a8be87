//! TLS for end-to-end tests: a private CA and certificates from openssl,
//! and nginx serving https on loopback with them.
#![allow(dead_code)]

use super::servers::{wait_port, which};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn openssl(dir: &Path, args: &[&str]) {
    let ok = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "openssl {args:?}");
}

/// A CA (`NAME-ca.pem`) and a certificate it signs for `san` (`NAME.pem`).
pub fn issue(dir: &Path, name: &str, san: &str) {
    let ca_key = format!("{name}-ca.key");
    let ca = format!("{name}-ca.pem");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &ca_key,
            "-out",
            &ca,
            "-days",
            "2",
            "-subj",
            &format!("/CN={name} CA"),
        ],
    );
    let key = format!("{name}.key");
    let csr = format!("{name}.csr");
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            "/CN=cache",
        ],
    );
    let ext = format!("{name}.ext");
    std::fs::write(dir.join(&ext), format!("subjectAltName={san}\n")).unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-extfile",
            &ext,
        ],
    );
}

pub struct Nginx {
    child: Child,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// nginx with one https server per (port, certificate name) over `root`.
pub fn nginx(dir: &Path, servers: &[(u16, &str)]) -> Option<Nginx> {
    nginx_with(dir, servers, "")
}

/// The same, with `locations` (nginx directives) in every server block.
pub fn nginx_with(dir: &Path, servers: &[(u16, &str)], locations: &str) -> Option<Nginx> {
    let bin = which("nginx")
        .or_else(|| Some("/usr/sbin/nginx".into()).filter(|p: &std::path::PathBuf| p.exists()))?;
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    let d = dir.display();
    let user = if nix::unistd::geteuid().is_root() {
        "user root;"
    } else {
        ""
    };
    let mut conf = format!(
        "{user} daemon off; worker_processes 1; pid {d}/nginx.pid; error_log {d}/error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{ access_log {d}/access.log; client_body_temp_path {d}/tmp; proxy_temp_path {d}/tmp;\n\
         fastcgi_temp_path {d}/tmp; uwsgi_temp_path {d}/tmp; scgi_temp_path {d}/tmp;\n"
    );
    for (port, cert) in servers {
        conf.push_str(&format!(
            "server {{ listen 127.0.0.1:{port} ssl; ssl_certificate {d}/{cert}.pem; ssl_certificate_key {d}/{cert}.key; root {d}/root; {locations} }}\n"
        ));
    }
    conf.push_str("}\n");
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let child = Command::new(bin)
        .args(["-c", &format!("{d}/nginx.conf"), "-p", &d.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let n = Nginx { child };
    for (port, _) in servers {
        if !wait_port(*port, Duration::from_secs(10)) {
            return None;
        }
    }
    Some(n)
}

/// An https cache host on loopback (nginx) signed by its own lab CA, which
/// the system does not trust, holding `held` (origin URL, bytes) in the
/// `b/<token>/<name>` layout.
pub struct LabCache {
    dir: tempfile::TempDir,
    _nginx: Nginx,
    pub port: u16,
    /// The lab CA's certificate (PEM).
    pub ca: String,
}

impl LabCache {
    pub fn start(held: &[(&str, &[u8])]) -> Option<LabCache> {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        issue(d, "lab", "IP:127.0.0.1,DNS:localhost");
        for (origin, bytes) in held {
            let p = d
                .join("root")
                .join(super::cache_path(origin).trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, bytes).unwrap();
        }
        let port = super::servers::free_port();
        let nginx = nginx(d, &[(port, "lab")])?;
        Some(LabCache {
            port,
            ca: d.join("lab-ca.pem").display().to_string(),
            dir,
            _nginx: nginx,
        })
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The GETs of cache URLs it has logged, waiting up to 3 s for more than
    /// `before` (nginx logs a request once it has finished it).
    pub fn served_after(&self, before: usize) -> usize {
        let count = || {
            std::fs::read_to_string(self.dir.path().join("access.log"))
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains("GET /b/"))
                .count()
        };
        let start = std::time::Instant::now();
        while count() <= before && start.elapsed() < Duration::from_secs(3) {
            std::thread::sleep(Duration::from_millis(20));
        }
        count()
    }

    pub fn served(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("access.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("GET /b/"))
            .count()
    }
}
