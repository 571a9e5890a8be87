//! `cacheshim doctor`: is curl the shim right now, which real curl will it
//! run, is the cache reachable, and what is in the way. Exit 0 when the setup
//! would cache, 1 otherwise, with the reasons.

use super::{Arg, Args, Usage, is, usage};
use crate::cache_url::{CacheServer, Origin};
use crate::down_memory::DownMemory;
use crate::env_view::{EnvView, ProcessEnv};
use crate::loop_guard::Chain;
use crate::probe;
use crate::real_tool::{self, Executables, RealExecutables};
use crate::route::{self, ProbeRoute, ProxyOverrides};
use crate::settings;
use crate::tool::Tool;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

const HELP: &str = "\
Usage: cacheshim doctor [--url ORIGIN]

For curl and wget: what PATH finds and whether it is the shim, which real tool
the shim would run and its version, which server variable is in effect; a
timed HEAD of the server's /healthz (and of ORIGIN's cache URL with --url);
the dead-cache memory; PATH order problems. Exit 0 when the setup would cache,
1 otherwise.
";

pub fn run(args: &[OsString]) -> Result<i32, Usage> {
    let mut origin: Option<OsString> = None;
    let mut a = Args::new(args);
    while let Some(arg) = a.next_arg() {
        match arg {
            Arg::Flag(f) if f == "--help" => {
                out!("{HELP}");
                return Ok(0);
            }
            Arg::Flag(f) if is(&f, "--url") => origin = Some(a.value(&f)?),
            Arg::Flag(f) => return usage(format!("unknown option {f}")),
            Arg::Operand(o) => {
                return usage(format!("unexpected argument '{}'", o.to_string_lossy()));
            }
            Arg::Rest(_) => {}
        }
    }
    let env = ProcessEnv;
    let fs = RealExecutables;
    let me = real_tool::self_image(OsStr::new("cacheshim"), None, &fs);
    let path_var = OsString::from(OsStr::from_bytes(real_tool::search_path(
        env.var("PATH").as_deref(),
    )));
    let mut problems: Vec<String> = Vec::new();
    let mut cacheable = Vec::new();

    outln!(
        "cacheshim {} ({})",
        env!("CARGO_PKG_VERSION"),
        std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    );
    for tool in [Tool::Curl, Tool::Wget] {
        let name = tool.name();
        let found = first_on_path(name, &path_var, &fs);
        let shim_dirs = shim_dirs(name, &path_var, &me, &fs);
        let Some(found) = found else {
            outln!("{name}: not on PATH");
            continue;
        };
        let found_is_shim = is_shim(&found, &me, &fs);
        if found_is_shim {
            outln!("{name}: PATH finds {} (the shim)", found.display());
        } else if let Some(dir) = shim_dirs.first() {
            outln!(
                "{name}: PATH finds {} (the real {name}, not the shim)",
                found.display()
            );
            problems.push(format!(
                "{name}: the shim in {} comes after {} in PATH: put {} first, then run `hash -r`",
                dir.display(),
                found.parent().unwrap_or(Path::new("")).display(),
                dir.display()
            ));
            continue;
        } else {
            outln!(
                "{name}: PATH finds {} (not the shim; no shim on PATH)",
                found.display()
            );
            problems.push(format!(
                "{name}: no shim on PATH (cacheshim install, then add its directory to PATH and run `hash -r`)"
            ));
            continue;
        }
        let chain = Chain::from_env(&env);
        let over = env.var(tool.real_override_var());
        let real_path = match real_tool::locate_real_tool(
            tool,
            over.as_deref(),
            Some(OsStr::new(&path_var)),
            &me,
            &chain.seen,
            &chain.overrides_taken,
            &fs,
        ) {
            Some(real) => {
                let version = tool_version(&real.path).unwrap_or_else(|| "version unknown".into());
                outln!("{name}: the shim runs {} ({version})", real.path.display());
                if let Some(o) = real.ignored_override {
                    outln!(
                        "{name}: note: {}={} is ignored (not an executable, or a shim)",
                        tool.real_override_var(),
                        o.to_string_lossy()
                    );
                }
                real.path
            }
            None => {
                problems.push(format!(
                    "{name}: no real {name} behind the shim (install it, or set {})",
                    tool.real_override_var()
                ));
                continue;
            }
        };
        match settings::server_setting(tool, &env) {
            None => {
                outln!("{name}: no server set: pure pass-through");
                problems.push(format!(
                    "{name}: set WITHCACHE_SERVER (or {})",
                    tool.server_var()
                ));
            }
            Some((var, value)) => match CacheServer::parse(&value.to_string_lossy()) {
                Err(e) => problems.push(format!("{name}: {var}={}: {e}", value.to_string_lossy())),
                Ok(server) => {
                    outln!(
                        "{name}: {var}={} -> {}",
                        value.to_string_lossy(),
                        server.base
                    );
                    cacheable.push((tool, server, real_path));
                }
            },
        }
    }

    let timeout = settings::probe_timeout(&env);
    let mut checked: Vec<String> = Vec::new();
    for (tool, server, real) in &cacheable {
        if checked.contains(&server.base) {
            continue;
        }
        checked.push(server.base.clone());
        let route = match route::probe_route(*tool, server, &ProxyOverrides::default(), &env) {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("{}: the probe cannot use the {e}", server.base));
                continue;
            }
        };
        if let ProbeRoute::HttpProxy(p) = &route {
            outln!(
                "route: {} through the proxy {} (from the proxy settings; {} uses it too)",
                server.base,
                p.shown(),
                tool.name()
            );
        }
        let health = format!("{}/healthz", server.base);
        if server.scheme == crate::cache_url::ServerScheme::Https {
            let bundle = ["CURL_CA_BUNDLE", "SSL_CERT_FILE"]
                .iter()
                .find_map(|v| env.non_empty_str(v).map(|p| format!("{v}={p}")))
                .unwrap_or_else(|| "the system store".into());
            outln!(
                "trust: {} is https: every probe and download of it is made by the real {} with its own trust ({}, and each command's --cacert/--ca-certificate/-k): hits are authenticated by that trust",
                server.base,
                tool.name(),
                if *tool == Tool::Curl {
                    bundle.as_str()
                } else {
                    "--ca-certificate, wgetrc ca_certificate or the system store; BusyBox wget verifies no certificate"
                }
            );
            // Asked as the shim asks it: with the real tool and its trust.
            let start = Instant::now();
            let busybox = *tool == Tool::Wget && real_tool::is_busybox(real);
            let answer = crate::tool_probe::ask(*tool, busybox, real, &health, timeout);
            let ms = settings::millis(start.elapsed());
            match answer {
                Ok(status) if (200..300).contains(&status) || matches!(status, 404 | 405) => {
                    outln!(
                        "server: HEAD {health} -> {status} in {ms} ms, asked by the real {}",
                        tool.name()
                    )
                }
                Ok(status) => {
                    outln!("server: HEAD {health} -> {status} in {ms} ms");
                    problems.push(format!("{}: answers {status}", server.base));
                }
                Err(e) => {
                    outln!("server: HEAD {health} -> {e} after {ms} ms");
                    problems.push(format!(
                        "{}: the real {} cannot use it ({e})",
                        server.base,
                        tool.name()
                    ));
                }
            }
            if let Some(o) = &origin
                && let Ok(parsed) = Origin::parse(o.as_bytes())
            {
                let url = server.cache_url(&parsed);
                let said = match crate::tool_probe::ask(*tool, busybox, real, &url, timeout) {
                    Ok(200) => "hit".to_string(),
                    Ok(s) if (400..500).contains(&s) => format!("miss ({s})"),
                    Ok(s) => format!("unreachable ({s})"),
                    Err(e) => format!("unreachable ({e})"),
                };
                outln!("origin: {} -> {url}: {said}", parsed.url);
            }
            continue;
        }
        if crate::settings::REQUIRE_TLS.get(&env) {
            outln!(
                "trust: {} is plain http and WITHCACHE_REQUIRE_TLS=1: https origins are never served from it",
                server.base
            );
        } else {
            outln!(
                "trust: {} is plain http: https origins served from it travel in clear on the LAN, unauthenticated (WITHCACHE_REQUIRE_TLS=1 keeps them off it)",
                server.base
            );
        }
        let start = Instant::now();
        let answer = probe::head_status(&health, &route, timeout);
        let ms = settings::millis(start.elapsed());
        if let ProbeRoute::HttpProxy(p) = &route {
            // A proxy that cannot reach the host answers 502/503/504 itself.
            let through = matches!(answer, Ok((status, _)) if !(502..=504).contains(&status));
            if through {
                outln!("route: the probe got through the proxy {}", p.shown());
            } else {
                outln!(
                    "route: the probe did not get through the proxy {}",
                    p.shown()
                );
                problems.push(format!(
                    "{}: not reachable through the proxy {}: if the cache host is on your LAN, add {} to no_proxy (export no_proxy=\"$no_proxy,{}\")",
                    server.base,
                    p.shown(),
                    server.host,
                    server.host
                ));
            }
        }
        match answer {
            Ok((status, _)) if (200..300).contains(&status) => {
                outln!("server: HEAD {health} -> {status} in {ms} ms")
            }
            Ok((405, _)) => outln!(
                "server: HEAD {health} -> 405 in {ms} ms (reachable; its /healthz answers GET only)"
            ),
            Ok((404, _)) => outln!(
                "server: HEAD {health} -> 404 in {ms} ms (reachable; no /healthz, as on a static host)"
            ),
            Ok((status, _)) => {
                outln!("server: HEAD {health} -> {status} in {ms} ms");
                problems.push(format!("{}: answers {status}", server.base));
            }
            Err(e) => {
                outln!("server: HEAD {health} -> {e} after {ms} ms");
                problems.push(format!("{}: unreachable ({e})", server.base));
            }
        }
        if let Some(o) = &origin {
            match Origin::parse(o.as_bytes()) {
                Err(why) => problems.push(format!(
                    "{}: cannot be cached ({})",
                    o.to_string_lossy(),
                    why.code()
                )),
                Ok(origin) => {
                    let url = server.cache_url(&origin);
                    let start = Instant::now();
                    let answer = probe::head_status(&url, &route, timeout);
                    let ms = settings::millis(start.elapsed());
                    let said = match answer {
                        Ok((200, ranges)) => {
                            format!("hit{}", if ranges { " (accepts ranges)" } else { "" })
                        }
                        Ok((s, _)) if (400..500).contains(&s) => format!("miss ({s})"),
                        Ok((s, _)) => format!("unreachable ({s})"),
                        Err(e) => format!("unreachable ({e})"),
                    };
                    outln!("origin: {} -> {url}: {said} in {ms} ms", origin.url);
                }
            }
        }
        match DownMemory::open(&env) {
            Some(m) => match m.down_for(&route.key(&server.base), SystemTime::now()) {
                Some(left) => {
                    outln!(
                        "dead-cache memory: {} counts as down for {} s more (in {})",
                        server.base,
                        settings::seconds_ceil(left),
                        m.dir().display()
                    );
                    problems.push(format!(
                        "{}: remembered as down; calls pass through until it expires (WITHCACHE_DOWN_TTL)",
                        server.base
                    ));
                }
                None => outln!(
                    "dead-cache memory: {} not marked down ({})",
                    server.base,
                    m.dir().display()
                ),
            },
            None => {
                outln!("dead-cache memory: off (WITHCACHE_DOWN_TTL=0 or no private directory)")
            }
        }
    }
    if !cacheable.is_empty() {
        let policy = crate::revalidate::Policy::from_env(&env);
        outln!(
            "freshness: {}={} ({}); confirmed answers remembered {} s",
            crate::revalidate::POLICY_VAR,
            policy.name(),
            match policy {
                crate::revalidate::Policy::Auto =>
                    "hits of URLs that may move are checked with the origin; releases are trusted",
                crate::revalidate::Policy::Always => "every hit is checked with the origin",
                crate::revalidate::Policy::Off => "hits are never checked with the origin",
            },
            settings::revalidate_ttl(&env).as_secs()
        );
    }
    if cacheable.is_empty() && problems.is_empty() {
        problems.push("neither curl nor wget is on PATH".into());
    }
    for p in &problems {
        outln!("problem: {p}");
    }
    if problems.is_empty() {
        outln!("ok: downloads through this PATH would be cached");
        Ok(0)
    } else {
        outln!("not ok: {} problem(s)", problems.len());
        Ok(1)
    }
}

fn path_dirs(path_var: &OsStr) -> impl Iterator<Item = PathBuf> + '_ {
    path_var.as_bytes().split(|&b| b == b':').map(|d| {
        if d.is_empty() {
            PathBuf::from(".")
        } else {
            PathBuf::from(OsStr::from_bytes(d))
        }
    })
}

fn first_on_path(name: &str, path_var: &OsStr, fs: &RealExecutables) -> Option<PathBuf> {
    path_dirs(path_var)
        .map(|d| d.join(name))
        .find(|p| fs.inspect(p).is_some())
}

fn is_shim(path: &Path, me: &real_tool::SelfImage, fs: &RealExecutables) -> bool {
    let Some((id, size)) = fs.inspect(path) else {
        return false;
    };
    Some(id) == me.id
        || (Some(size) == me.size && me.path.as_deref().is_some_and(|p| fs.same_bytes(path, p)))
}

fn shim_dirs(
    name: &str,
    path_var: &OsStr,
    me: &real_tool::SelfImage,
    fs: &RealExecutables,
) -> Vec<PathBuf> {
    path_dirs(path_var)
        .filter(|d| is_shim(&d.join(name), me, fs))
        .collect()
}

/// First line of `TOOL --version`, bounded in time.
fn tool_version(path: &Path) -> Option<String> {
    let mut cmd = std::process::Command::new(path);
    cmd.arg("--version");
    let done = crate::bounded_run::run(cmd, b"", Instant::now() + Duration::from_secs(5));
    done.status?;
    let out = String::from_utf8_lossy(&done.stdout);
    // "curl 7.88.1 (x86_64-pc-linux-gnu) libcurl/…" -> "curl 7.88.1";
    // "GNU Wget 1.21.3 built on linux-gnu." -> "GNU Wget 1.21.3".
    let line = out.lines().next()?.trim();
    let short = line.split(" (").next()?.split(" built on").next()?.trim();
    (!short.is_empty()).then(|| short.chars().take(60).collect())
}
