//! Real and fake servers for end-to-end tests. Every one binds 127.0.0.1 on a
//! free port, is waited for with a bounded readiness check, and is stopped
//! (and reaped) when dropped.
#![allow(dead_code)]

use super::missing_part;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn wait_port(port: u16, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// One request a server saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// How a test server answers one request.
pub enum Reply {
    Http {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Bytes that are not HTTP at all.
    Raw(Vec<u8>),
    /// Accept and never answer (until the server stops).
    Hang,
    /// Answer after a pause.
    Delayed(Duration, Box<Reply>),
    /// Promise `body.len()` bytes, send `cut_at`, close.
    CutBody { body: Vec<u8>, cut_at: usize },
    /// 200 with `headers` and no length (the end of the connection ends the
    /// body): `body` in chunks of `chunk` bytes, `pause` between them, until
    /// the client goes away; what was sent is added to `sent`.
    Trickle {
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        chunk: usize,
        pause: Duration,
        sent: Arc<std::sync::atomic::AtomicUsize>,
    },
}

type Handler = dyn Fn(&Seen) -> Reply + Send + Sync;

/// An HTTP/1.1 server on 127.0.0.1 run by the test process itself; each
/// connection on its own thread so a hanging reply does not block others.
pub struct TestServer {
    pub port: u16,
    /// `127.0.0.1`, or `::1` for the IPv6 tests.
    ip: std::net::IpAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    pub fn start(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> TestServer {
        TestServer::start_on([127, 0, 0, 1].into(), handler)
    }

    /// On IPv6 loopback (`[::1]`), for what only an IPv6 listener shows.
    pub fn start_v6(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> TestServer {
        TestServer::start_on(std::net::Ipv6Addr::LOCALHOST.into(), handler)
    }

    fn start_on(
        ip: std::net::IpAddr,
        handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
    ) -> TestServer {
        let listener = TcpListener::bind((ip, 0)).expect("bind loopback:0");
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let (seen2, stop2) = (seen.clone(), stop.clone());
        // Blocking accept (no polling delay in timings); Drop wakes it with a
        // connection of its own after setting `stop`.
        let thread = std::thread::spawn(move || {
            let mut workers = Vec::new();
            for stream in listener.incoming() {
                if stop2.load(Ordering::Relaxed) {
                    break;
                }
                if let Ok(stream) = stream {
                    let (h, s, st) = (handler.clone(), seen2.clone(), stop2.clone());
                    workers.push(std::thread::spawn(move || serve(stream, &*h, &s, &st)));
                }
            }
            for w in workers {
                let _ = w.join();
            }
        });
        TestServer {
            port,
            ip,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    /// A server that answers every request 200 with `body`.
    pub fn serving(body: &[u8]) -> TestServer {
        let body = body.to_vec();
        TestServer::start(move |_| Reply::Http {
            status: 200,
            headers: vec![],
            body: body.clone(),
        })
    }

    pub fn url(&self) -> String {
        match self.ip {
            std::net::IpAddr::V6(_) => format!("http://[::1]:{}", self.port),
            std::net::IpAddr::V4(ip) => format!("http://{ip}:{}", self.port),
        }
    }

    /// How many GETs it has seen (for a cache host: how many it served).
    pub fn gets(&self) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.method == "GET")
            .count()
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn clear(&self) {
        self.seen.lock().unwrap().clear();
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect_timeout(&(self.ip, self.port).into(), Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(stream: TcpStream, handler: &Handler, seen: &Mutex<Vec<Seen>>, stop: &AtomicBool) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() || line.is_empty() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let req = Seen {
        method,
        target,
        headers,
    };
    seen.lock().unwrap().push(req.clone());
    let reply = handler(&req);
    send(stream, &req, reply, stop);
}

fn send(mut out: TcpStream, req: &Seen, reply: Reply, stop: &AtomicBool) {
    match reply {
        Reply::Http {
            status,
            headers,
            body,
        } => {
            let mut head = format!("HTTP/1.1 {status} X\r\nConnection: close\r\n");
            if !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            {
                head.push_str(&format!("Content-Length: {}\r\n", body.len()));
            }
            for (k, v) in &headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            let _ = out.write_all(head.as_bytes());
            if req.method != "HEAD" {
                let _ = out.write_all(&body);
            }
        }
        Reply::Raw(bytes) => {
            let _ = out.write_all(&bytes);
        }
        Reply::Hang => {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        Reply::Delayed(pause, inner) => {
            let until = Instant::now() + pause;
            while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(10));
            }
            send(out, req, *inner, stop);
        }
        Reply::Trickle {
            headers,
            body,
            chunk,
            pause,
            sent,
        } => {
            let mut head = "HTTP/1.1 200 OK\r\nConnection: close\r\n".to_string();
            for (k, v) in &headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            if out.write_all(head.as_bytes()).is_err() || req.method == "HEAD" {
                return;
            }
            for piece in body.chunks(chunk.max(1)) {
                if stop.load(Ordering::Relaxed) || out.write_all(piece).is_err() {
                    break;
                }
                sent.fetch_add(piece.len(), Ordering::Relaxed);
                std::thread::sleep(pause);
            }
        }
        Reply::CutBody { body, cut_at } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = out.write_all(head.as_bytes());
            if req.method != "HEAD" {
                let _ = out.write_all(&body[..cut_at]);
            }
        }
    }
}

/// A cache host that holds `bytes` for every origin URL in `origins`
/// (`b/<token>/<name>`), 404 for anything else.
pub fn cache_holding(origins: &[String], bytes: &[u8]) -> TestServer {
    let held: Vec<String> = origins.iter().map(|o| super::cache_path(o)).collect();
    let bytes = bytes.to_vec();
    TestServer::start(move |req| {
        let hit = held.contains(&req.target);
        Reply::Http {
            status: if hit { 200 } else { 404 },
            headers: vec![],
            body: if hit { bytes.clone() } else { Vec::new() },
        }
    })
}

/// A blackholed address on loopback: a listener whose accept queue is full
/// and never drained, so the kernel drops every further SYN and a connect
/// hangs until the client gives up, as for a host whose packets go nowhere
/// (no connection is ever made, unlike a server that accepts and hangs).
pub struct Blackhole {
    listener: TcpListener,
    _held: Vec<TcpStream>,
}

impl Blackhole {
    pub fn start() -> Blackhole {
        use std::os::fd::AsRawFd;
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback:0");
        // SAFETY: lowers the backlog of a socket this function owns.
        unsafe { nix::libc::listen(listener.as_raw_fd(), 0) };
        let addr = listener.local_addr().unwrap();
        let mut held = Vec::new();
        for _ in 0..4 {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                Ok(s) => held.push(s),
                Err(_) => break,
            }
        }
        Blackhole {
            listener,
            _held: held,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.listener.local_addr().unwrap())
    }
}

/// A host that accepts connections and never reads or writes a byte (a
/// TLS handshake that is never answered): held until dropped.
pub struct Silent {
    addr: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Silent {
    pub fn start() -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback:0");
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                if stop2.load(Ordering::Relaxed) {
                    break;
                }
                held.extend(stream.ok());
            }
        });
        Silent {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `%XX` decoded (for looking files up by request path).
pub fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// The origin: serves files by (decoded) path, honours a single `Range`,
/// redirects, 404 otherwise. Its request log tells whether a run reached it.
pub fn origin(files: HashMap<Vec<u8>, Vec<u8>>, redirects: HashMap<Vec<u8>, String>) -> TestServer {
    TestServer::start(move |req| {
        let path = req.target.split(['?', '#']).next().unwrap_or("");
        let key = percent_decode(path);
        if let Some(to) = redirects.get(&key) {
            return Reply::Http {
                status: 302,
                headers: vec![("Location".into(), to.clone())],
                body: b"moved\n".to_vec(),
            };
        }
        let Some(body) = files.get(&key) else {
            return Reply::Http {
                status: 404,
                headers: vec![],
                body: b"not found\n".to_vec(),
            };
        };
        let mut headers = vec![
            ("Accept-Ranges".into(), "bytes".into()),
            ("Content-Type".into(), "application/octet-stream".into()),
            (
                "Last-Modified".into(),
                "Mon, 01 Jan 2024 00:00:00 GMT".into(),
            ),
        ];
        if let Some((from, to)) = req.header("range").and_then(|r| parse_range(r, body.len())) {
            headers.push((
                "Content-Range".into(),
                format!("bytes {from}-{to}/{}", body.len()),
            ));
            return Reply::Http {
                status: 206,
                headers,
                body: body[from..=to].to_vec(),
            };
        }
        Reply::Http {
            status: 200,
            headers,
            body: body.clone(),
        }
    })
}

fn parse_range(h: &str, len: usize) -> Option<(usize, usize)> {
    let spec = h.trim().strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let from: usize = a.trim().parse().ok()?;
    let to = if b.trim().is_empty() {
        len.checked_sub(1)?
    } else {
        b.trim().parse::<usize>().ok()?.min(len.checked_sub(1)?)
    };
    (from <= to).then_some((from, to))
}

/// A child process stopped (TERM, then KILL) and reaped on drop.
pub struct Service {
    name: String,
    child: Child,
}

impl Service {
    fn spawn(name: &str, cmd: &mut Command) -> Option<Service> {
        let child = cmd.stdin(Stdio::null()).spawn().ok()?;
        Some(Service {
            name: name.to_string(),
            child,
        })
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("{} did not stop on SIGTERM; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn log_file(path: &Path) -> Stdio {
    Stdio::from(std::fs::File::create(path).unwrap())
}

/// A plain HTTP/1.1 call (for seeding and reading status pages).
pub fn http_call(method: &str, url: &str, json: Option<&str>) -> std::io::Result<(u16, String)> {
    let rest = url.strip_prefix("http://").expect("http url");
    let slash = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(slash);
    // Like curl: non-ASCII bytes go on the request line as %XX.
    let path: String = path
        .bytes()
        .map(|b| {
            if b >= 0x7f {
                format!("%{b:02X}")
            } else {
                (b as char).to_string()
            }
        })
        .collect();
    let path = path.as_str();
    let mut s = TcpStream::connect(authority)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let body = json.unwrap_or("");
    let mut req = format!(
        "{method} {} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Length: {}\r\n",
        if path.is_empty() { "/" } else { path },
        body.len()
    );
    if json.is_some() {
        req.push_str("Content-Type: application/json\r\n");
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes())?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)?;
    let text = String::from_utf8_lossy(&resp).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// `withcache-server` from the project venv, with its own data directory.
pub struct WithcacheServer {
    pub port: u16,
    dir: tempfile::TempDir,
    _service: Service,
}

impl WithcacheServer {
    pub fn start() -> Option<WithcacheServer> {
        let exe = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/withcache-server");
        if !exe.exists() {
            missing_part("withcache-server in .venv (scripts/setup-venv)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut cmd = Command::new(&exe);
        cmd.args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--data-dir",
        ])
        .env("PYTHONUNBUFFERED", "1")
        .arg(dir.path().join("data"))
        .env("HOME", dir.path())
        .env_remove("WITHCACHE_ADMIN_PASSWORD")
        .stdout(log_file(&dir.path().join("server.log")))
        .stderr(log_file(&dir.path().join("server.err")));
        let service = Service::spawn("withcache-server", &mut cmd)?;
        let s = WithcacheServer {
            port,
            dir,
            _service: service,
        };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            if let Ok((200, _)) = http_call("GET", &format!("{}/healthz", s.url()), None) {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("withcache-server did not become ready: {}", s.log());
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Adds a catalog entry for `origin` and downloads it; returns when the
    /// cache answers 200 for it.
    pub fn seed(&self, name: &str, origin: &str) {
        let entry = format!(r#"{{"name": {name:?}, "src": {origin:?}}}"#);
        let (st, body) = http_call(
            "POST",
            &format!("{}/catalog/entries", self.url()),
            Some(&entry),
        )
        .unwrap();
        assert!(st == 201 || st == 409, "add {origin}: {st} {body}");
        let (st, body) = http_call(
            "POST",
            &format!("{}/catalog/entries/{name}/download", self.url()),
            Some(""),
        )
        .unwrap();
        assert_eq!(st, 202, "download {origin}: {body}");
        let head = format!("{}{}", self.url(), super::cache_path(origin));
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            if let Ok((200, _)) = http_call("HEAD", &head, None) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("withcache-server never cached {origin}: {}", self.log());
    }

    pub fn misses_page(&self) -> String {
        http_call("GET", &format!("{}/ui/misses", self.url()), None)
            .unwrap()
            .1
    }

    /// uvicorn's access log (one line per request).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
            + &std::fs::read_to_string(self.dir.path().join("server.err")).unwrap_or_default()
    }
}

pub fn which(name: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// nginx serving a directory laid out as `b/<token>/<name>`, logging the
/// credential headers of every request it sees.
pub struct Nginx {
    pub port: u16,
    dir: tempfile::TempDir,
    _service: Service,
}

impl Nginx {
    pub fn start() -> Option<Nginx> {
        let Some(exe) = which("nginx") else {
            missing_part("nginx (Debian nginx-light)");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("root/b")).unwrap();
        std::fs::create_dir_all(d.join("tmp")).unwrap();
        let port = free_port();
        let user = if nix::unistd::geteuid().is_root() {
            "user root;"
        } else {
            ""
        };
        let conf = format!(
            "{user}\ndaemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n\
               log_format withheaders '$request_method $request_uri $status auth=\"$http_authorization\" cookie=\"$http_cookie\" via=\"$http_via\" ua=\"$http_user_agent\"';\n\
               access_log {d}/access.log withheaders;\n\
               client_body_temp_path {d}/tmp; proxy_temp_path {d}/tmp; fastcgi_temp_path {d}/tmp;\n\
               uwsgi_temp_path {d}/tmp; scgi_temp_path {d}/tmp;\n\
               default_type application/octet-stream;\n\
               server {{ listen 127.0.0.1:{port}; root {d}/root; }}\n\
             }}\n",
            d = d.display()
        );
        std::fs::write(d.join("nginx.conf"), conf).unwrap();
        let mut cmd = Command::new(exe);
        cmd.arg("-c")
            .arg(d.join("nginx.conf"))
            .arg("-p")
            .arg(d)
            .stdout(log_file(&d.join("stdout.log")))
            .stderr(log_file(&d.join("stderr.log")));
        let service = Service::spawn("nginx", &mut cmd)?;
        assert!(
            wait_port(port, Duration::from_secs(20)),
            "nginx did not start"
        );
        Some(Nginx {
            port,
            dir,
            _service: service,
        })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Puts `bytes` where a request for `origin`'s cache URL finds them
    /// (nginx decodes `%XX` before mapping to a file).
    pub fn put(&self, origin: &str, bytes: &[u8]) {
        use std::os::unix::ffi::OsStrExt;
        let rel = super::cache_path(origin);
        let decoded = percent_decode(&rel);
        let path = self
            .dir
            .path()
            .join("root")
            .join(std::ffi::OsStr::from_bytes(&decoded[1..]));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }
}

/// tinyproxy on loopback.
pub struct Tinyproxy {
    pub port: u16,
    dir: tempfile::TempDir,
    _service: Service,
}

impl Tinyproxy {
    pub fn start() -> Option<Tinyproxy> {
        Tinyproxy::start_with("")
    }

    /// With extra configuration lines (e.g. `ConnectPort 443`).
    pub fn start_with(extra: &str) -> Option<Tinyproxy> {
        let Some(exe) = which("tinyproxy") else {
            missing_part("tinyproxy (Debian tinyproxy)");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let port = free_port();
        let user = if nix::unistd::geteuid().is_root() {
            "User root\nGroup root\n"
        } else {
            ""
        };
        let conf = format!(
            "{user}Port {port}\nListen 127.0.0.1\nTimeout 30\nLogFile \"{d}/proxy.log\"\nLogLevel Info\n\
             PidFile \"{d}/proxy.pid\"\nMaxClients 50\nAllow 127.0.0.1\n{extra}",
            d = d.display()
        );
        std::fs::write(d.join("tinyproxy.conf"), conf).unwrap();
        let mut cmd = Command::new(exe);
        cmd.arg("-d")
            .arg("-c")
            .arg(d.join("tinyproxy.conf"))
            .stdout(log_file(&d.join("stdout.log")))
            .stderr(log_file(&d.join("stderr.log")));
        let service = Service::spawn("tinyproxy", &mut cmd)?;
        assert!(
            wait_port(port, Duration::from_secs(20)),
            "tinyproxy did not start"
        );
        Some(Tinyproxy {
            port,
            dir,
            _service: service,
        })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("proxy.log")).unwrap_or_default()
    }
}
