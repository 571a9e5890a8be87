//! Generated command lines: options from the tables with random values, URLs,
//! junk, non-UTF-8 bytes, huge and empty arguments. The planner never panics,
//! and a planned argv differs from the input only in hit URL tokens (replaced
//! by exactly their cache URL) and removed credential options.
//!
//! Bounded: `CACHESHIM_PROPERTY_SECS` (default 3) or 200,000 command lines.

mod common;

use base64::Engine as _;
use cacheshim::config_files::NoFiles;
use cacheshim::env_view::MapEnv;
use cacheshim::options::{self, Takes};
use cacheshim::planner::{self, Outcome, PlanInput, ProbeAnswer};
use cacheshim::tool::Tool;
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::time::{Duration, Instant};

const BASE: &str = "http://cache.lab:8081";

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

fn random_url(r: &mut Rng) -> Vec<u8> {
    let scheme = *r.pick(&["http", "https", "ftp", "ftps", "file", "sftp", "HTTPS", ""]);
    let host = *r.pick(&[
        "dl.example.com",
        "[::1]:8080",
        "alice:pw@h",
        "h:8443",
        "ex.com",
    ]);
    let mut url = if scheme.is_empty() {
        host.to_string()
    } else {
        format!("{scheme}://{host}")
    };
    for _ in 0..r.below(4) {
        url.push('/');
        let seg = *r.pick(&[
            "pub",
            "a b",
            "f%20g.tgz",
            "файл.bin",
            "x[1-2]",
            "{a,b}",
            "",
            "..",
            "f.tgz",
        ]);
        url.push_str(seg);
    }
    if r.chance(20) {
        let q = *r.pick(&["?v=2", "?token=s3", "?X-Amz-Signature=x", "?", "?a=1&b=2"]);
        url.push_str(q);
    }
    if r.chance(10) {
        url.push_str("#frag");
    }
    let mut bytes = url.into_bytes();
    if r.chance(5) {
        bytes.push(0xff);
    }
    bytes
}

fn random_value(r: &mut Rng) -> Vec<u8> {
    match r.below(9) {
        0 => Vec::new(),
        1 => vec![b'x'; 10_000],
        2 => vec![0xfe, 0xff, b'a'],
        3 => random_url(r),
        4 => r
            .pick(&[
                &b"Authorization: Bearer t"[..],
                b"Accept: */*",
                b"Range: bytes=0-1",
                b"@file",
                b"If-None-Match: x",
            ])
            .to_vec(),
        5 => r
            .pick(&[
                &b"alice:pw"[..],
                b"k=v",
                b"cookies.txt",
                b"GET",
                b"POST",
                b"-",
                b"=https",
            ])
            .to_vec(),
        6 => r
            .pick(&[&b"%{http_code}"[..], b"%{url_effective}", b"30", b"0-99"])
            .to_vec(),
        _ => b"out.bin".to_vec(),
    }
}

fn random_argv(r: &mut Rng, tool: Tool) -> Vec<OsString> {
    let table = options::table(tool);
    let mut argv: Vec<Vec<u8>> = Vec::new();
    for _ in 0..r.below(12) {
        match r.below(13) {
            10..=12 => {
                // Credentials, spelled every way the tools accept.
                let spelled: &[&[&[u8]]] = if tool == Tool::Curl {
                    &[
                        &[b"-u", b"alice:pw"],
                        &[b"-ualice:pw"],
                        &[b"-fsu", b"alice:pw"],
                        &[b"-sSualice:pw"],
                        &[b"--user", b"a:b"],
                        &[b"-H", b"Authorization: Bearer t"],
                        &[b"-LH", b"X-Api-Key: k"],
                        &[b"-b", b"sid=1"],
                        &[b"--oauth2-bearer", b"t"],
                        &[b"-E", b"me.pem"],
                    ]
                } else {
                    &[
                        &[b"--user=alice"],
                        &[b"--password", b"pw"],
                        &[b"--http-user=a", b"--http-password=b"],
                        &[b"--header=Authorization: t"],
                        &[b"--header", b"Cookie: a=b"],
                    ]
                };
                for t in *r.pick(spelled) {
                    argv.push(t.to_vec());
                }
            }
            0..=2 => argv.push(random_url(r)),
            3 => argv.push(r.pick(&[&b"--"[..], b"-", b"", b"junk", b"-\xff"]).to_vec()),
            4 => {
                // A cluster of short options, maybe ending in a value letter.
                let mut c = vec![b'-'];
                for _ in 0..1 + r.below(4) {
                    let o = r.pick(table);
                    if let Some(s) = o.short {
                        c.push(s);
                        if o.takes == Takes::Value {
                            if r.chance(50) {
                                c.extend(random_value(r));
                            } else {
                                argv.push(c.clone());
                                c = random_value(r);
                            }
                            break;
                        }
                    }
                }
                argv.push(c);
            }
            _ => {
                let o = r.pick(table);
                let neg = o.takes == Takes::Bool && r.chance(20);
                let name = if neg {
                    format!("--no-{}", o.long)
                } else {
                    format!("--{}", o.long)
                };
                match o.takes {
                    Takes::Value if tool == Tool::Wget && r.chance(50) => {
                        let mut t = format!("{name}=").into_bytes();
                        t.extend(random_value(r));
                        argv.push(t);
                    }
                    Takes::Value => {
                        argv.push(name.into_bytes());
                        if r.chance(95) {
                            argv.push(random_value(r));
                        }
                    }
                    _ => argv.push(name.into_bytes()),
                }
            }
        }
    }
    argv.into_iter().map(OsString::from_vec).collect()
}

/// The cache URL of an origin argument, computed here, not by the planner.
fn cache_url_of(origin: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(origin).ok()?;
    let name = s.split(['?', '#']).next()?.rsplit('/').next()?;
    // The fragment is never sent, so it is not part of the key; dot
    // segments are resolved, as the tools request the path.
    let key = s.split('#').next()?;
    let key = without_dot_segments(key);
    Some(format!(
        "{BASE}/b/{}/{name}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key)
    ))
}

/// `scheme://authority/p/a/t/h?q` with `.` and `..` path segments resolved.
fn without_dot_segments(url: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let path_at = url[after_scheme..]
        .find(['/', '?'])
        .map_or(url.len(), |i| i + after_scheme);
    let query_at = url[path_at..].find('?').map_or(url.len(), |i| i + path_at);
    let (head, path, tail) = (&url[..path_at], &url[path_at..query_at], &url[query_at..]);
    let mut kept: Vec<&str> = Vec::new();
    let parts: Vec<&str> = path.split('/').collect();
    for (i, seg) in parts.iter().enumerate().skip(1) {
        match *seg {
            ".." => {
                kept.pop();
            }
            "." => {}
            s => kept.push(s),
        }
        if (*seg == "." || *seg == "..") && i + 1 == parts.len() {
            kept.push("");
        }
    }
    if path.is_empty() {
        return url.to_string();
    }
    format!("{head}/{}{tail}", kept.join("/"))
}

/// Option spellings that carry credentials (the list plus the TLS
/// client credentials this project also removes).
fn credential_option(tool: Tool, token: &[u8]) -> bool {
    let name = token.split(|&b| b == b'=').next().unwrap_or_default();
    let curl: &[&[u8]] = &[
        b"--user",
        b"--header",
        b"--cookie",
        b"--oauth2-bearer",
        b"--cert",
        b"--key",
        b"--pass",
        b"--tlsuser",
        b"--tlspassword",
        b"--netrc",
        b"--netrc-optional",
        b"--netrc-file",
        b"-n",
        b"-u",
        b"-H",
        b"-b",
        b"-E",
    ];
    let wget: &[&[u8]] = &[
        b"--user",
        b"--password",
        b"--http-user",
        b"--http-password",
        b"--http-passwd",
        b"--header",
        b"--ask-password",
        b"--use-askpass",
        b"--ftp-user",
        b"--ftp-password",
        b"--certificate",
        b"--private-key",
    ];
    let list = if tool == Tool::Curl { curl } else { wget };
    list.contains(&name)
        || (tool == Tool::Curl
            && token.len() > 2
            && matches!(&token[..2], b"-u" | b"-H" | b"-b" | b"-E" | b"-n"))
}

/// Checks that `out` is `input` with some URL tokens replaced by their cache
/// URLs and some credential options (with their values) removed or cut from
/// the end of a short-option cluster: a search over those edits.
fn explain(tool: Tool, input: &[OsString], out: &[OsString]) -> Result<(), String> {
    let mut failed = std::collections::HashSet::new();
    if aligns(tool, input, out, 0, 0, &mut failed) {
        Ok(())
    } else {
        Err("no sequence of allowed edits (URL -> its cache URL, credential option removed) explains it".into())
    }
}

fn aligns(
    tool: Tool,
    input: &[OsString],
    out: &[OsString],
    i: usize,
    j: usize,
    failed: &mut std::collections::HashSet<(usize, usize)>,
) -> bool {
    if i == input.len() {
        return j == out.len();
    }
    if failed.contains(&(i, j)) {
        return false;
    }
    let t = input[i].as_bytes();
    let o = out.get(j).map(|o| o.as_bytes());
    let mut ok = false;
    // Kept as it is, or a URL replaced by exactly its cache URL.
    if let Some(o) = o
        && (o == t || cache_url_of(t).is_some_and(|c| c.as_bytes() == o))
    {
        ok = aligns(tool, input, out, i + 1, j + 1, failed);
    }
    // A curl cluster cut before a credential letter (`-su x` -> `-s`), with
    // or without a separate value after it.
    if !ok
        && let Some(o) = o
        && tool == Tool::Curl
        && t.starts_with(b"-")
        && !t.starts_with(b"--")
        && o.len() >= 2
        && t.len() > o.len()
        && t.starts_with(o)
        && matches!(t[o.len()], b'u' | b'H' | b'b' | b'E')
    {
        ok = aligns(tool, input, out, i + 1, j + 1, failed)
            || (t.len() == o.len() + 1 && aligns(tool, input, out, i + 2, j + 1, failed));
    }
    // A switch credential's letter taken out of a cluster (`-snL` -> `-sL`).
    if !ok
        && let Some(o) = o
        && tool == Tool::Curl
        && t.starts_with(b"-")
        && !t.starts_with(b"--")
        && o.len() + 1 == t.len()
        && (1..t.len()).any(|at| t[at] == b'n' && [&t[..at], &t[at + 1..]].concat() == o)
    {
        ok = aligns(tool, input, out, i + 1, j + 1, failed);
    }
    // A credential option removed, alone or with its value.
    if !ok && credential_option(tool, t) {
        ok = aligns(tool, input, out, i + 1, j, failed)
            || (i + 1 < input.len() && aligns(tool, input, out, i + 2, j, failed));
    }
    if !ok {
        failed.insert((i, j));
    }
    ok
}

#[test]
fn generated_command_lines_never_panic_and_change_only_urls_and_credentials() {
    let secs: f64 = std::env::var("CACHESHIM_PROPERTY_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut r = Rng(0x5eed_cafe_f00d_1234);
    let (mut runs, mut rewrites, mut removals) = (0u64, 0u64, 0u64);
    let mut env = MapEnv::default();
    env.0
        .insert("WITHCACHE_SERVER".into(), OsString::from(BASE));
    while Instant::now() < deadline && runs < 200_000 {
        runs += 1;
        let tool = if r.chance(50) { Tool::Curl } else { Tool::Wget };
        let argv = random_argv(&mut r, tool);
        let answers_seed = r.next();
        let input = PlanInput {
            tool,
            args: &argv,
            env: &env,
            config: &NoFiles,
            busybox: false,
        };
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut a = Rng(answers_seed | 1);
            planner::plan(&input, |p| {
                p.candidates
                    .iter()
                    .map(|_| {
                        *a.pick(&[
                            ProbeAnswer::Hit {
                                accepts_ranges: false,
                            },
                            ProbeAnswer::Hit {
                                accepts_ranges: true,
                            },
                            ProbeAnswer::Miss,
                            ProbeAnswer::Unreachable,
                        ])
                    })
                    .collect()
            })
        }))
        .unwrap_or_else(|_| panic!("planner panicked on {tool:?} {argv:?}"));
        if let Outcome::Rewrite(rw) = outcome {
            rewrites += 1;
            removals += (!rw.removed.is_empty()) as u64;
            if let Err(e) = explain(tool, &argv, &rw.argv) {
                panic!("{tool:?} {argv:?}\n -> {:?}\n{e}", rw.argv);
            }
        }
    }
    println!("{runs} command lines, {rewrites} rewritten, {removals} with credentials removed");
    assert!(
        rewrites > 0 && removals > 0,
        "the generator never reached the interesting cases"
    );
}
