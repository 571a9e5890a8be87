#!/usr/bin/env python3
"""What the shim costs a user, measured with hyperfine on loopback.

Starts nginx (an origin and a cache host, two server blocks), builds a trivial
static "real tool", and compares, in one run:
  1. pass-through (no server): shim -> real tool vs the real tool directly
     (a trivial static tool, so the shim's own cost is visible, and curl);
  2. hit: `curl -fsS -o /dev/null ORIGIN` through the shim vs curl fetching the
     cache URL directly, with withcache's native shim (curlwithcache) beside it;
  3. miss, and an unreachable cache (connection refused) vs the direct fetch;
  4. a dead cache that swallows connections: the first and the tenth call in
     the same minute (ours, and withcache's native shim);
  5. several URLs in one command (1, 4, 16): the probe cost must not grow.
Prints a table and writes bench/RESULTS.md. Timing never fails the run;
a missing part or a broken setup does.

  scripts/bench            full run (used for bench/RESULTS.md)
  scripts/bench --short    few runs (CI: proves it still runs)
  scripts/bench before=PATH   also a pass-through row for another build (repeatable)
"""

import base64
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHORT = "--short" in sys.argv
# --compare NAME=PATH (repeatable): another build of the shim beside ours in
# the pass-through row (e.g. the build before a change), same rounds.
COMPARE = [a.split("=", 1) for a in sys.argv[1:] if "=" in a and not a.startswith("--")]
RUNS = 30 if SHORT else 300
ROUNDS = 1 if SHORT else 10
WARMUP = 5 if SHORT else 20


def die(msg):
    sys.exit(f"bench: {msg}")


def need(tool):
    path = shutil.which(tool) or next((p for p in (f"/usr/sbin/{tool}", f"/sbin/{tool}") if os.path.exists(p)), None)
    if not path:
        die(f"{tool} is missing (scripts/install-test-deps installs it)")
    return path


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, limit=20):
    end = time.time() + limit
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    die(f"nothing listening on 127.0.0.1:{port}")


def token(url):
    return base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


class Blackhole:
    """Accepts connections and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held = []
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
                self.held.append(c)
            except OSError:
                return


class DroppedSyns:
    """A blackholed address: a listener whose accept queue is full and never
    drained, so the kernel drops every further SYN and no connection is ever
    made (an origin that accepts and never answers was reached: since issue
    21 that passes through, and the direct download would wait for it)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.held = []
        for _ in range(4):
            try:
                self.held.append(socket.create_connection(("127.0.0.1", self.port), timeout=0.2))
            except OSError:
                break


def hyperfine(commands, env, names):
    """Median seconds of each command, via hyperfine -N. The machine drifts
    (the same curl measured 5.8 to 9.6 ms in one run), so each comparison is
    split into rounds with alternating order, and the median of the
    per-round medians is kept: drift then hits both sides alike."""
    rounds = ROUNDS
    per_round = max(RUNS // rounds, 10)
    seen = {n: [] for n in names}
    for r in range(rounds):
        order = list(zip(names, commands))
        if r % 2:
            order.reverse()
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
            path = out.name
        args = [need("hyperfine"), "-N", "--warmup", str(WARMUP), "--runs", str(per_round), "--export-json", path, "--style", "none"]
        for n, c in order:
            args += ["--command-name", n, c]
        full_env = dict(env)
        full_env.setdefault("PATH", os.environ["PATH"])
        p = subprocess.run(args, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            die(f"hyperfine failed: {p.stderr.strip()[-500:]}")
        data = json.load(open(path))
        os.unlink(path)
        for res in data["results"]:
            seen[res["command"]].append(res["median"])
    return seen


def median(v):
    v = sorted(v)
    return v[len(v) // 2]


def paired(r, a, b):
    """(baseline, measured, added seconds, ratio): medians over rounds of the
    per-round values, so both sides of each figure were measured together."""
    diffs = [y - x for x, y in zip(r[a], r[b])]
    ratios = [y / x for x, y in zip(r[a], r[b])]
    return median(r[a]), median(r[b]), median(diffs), median(ratios)


def timed(cmd, env):
    start = time.perf_counter()
    p = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    took = time.perf_counter() - start
    if p.returncode != 0:
        die(f"{cmd} failed ({p.returncode})")
    return took


def ms(s):
    return f"{s * 1000:.2f} ms"


def main():
    version = next(l.split('"')[1] for l in open(ROOT / "Cargo.toml") if l.startswith("version"))
    shim_bin = ROOT / f"dist/cacheshim-{version}-x86_64-unknown-linux-musl"
    if not shim_bin.exists():
        die(f"{shim_bin} is missing (run scripts/release)")
    native = ROOT / ".venv/bin/curlwithcache"
    if not native.exists():
        die("withcache's native shim is missing (scripts/setup-venv)")
    curl = need("curl")
    nginx = need("nginx")
    cc = need("cc")

    work = Path(tempfile.mkdtemp(prefix="cacheshim-bench-"))
    procs = []
    try:
        # The trivial static real tool and the PATH directories.
        (work / "trivial").mkdir()
        (work / "trivial.c").write_text("int main(void) { return 0; }\n")
        subprocess.run([cc, "-static", "-Os", "-o", str(work / "trivial/curl"), str(work / "trivial.c")], check=True)
        (work / "shim").mkdir()
        os.symlink(shim_bin, work / "shim/curl")
        shim_curl = str(work / "shim/curl")

        # nginx: origin and cache host.
        origin_port, cache_port = free_port(), free_port()
        for d in ("origin/pub", "cache", "tmp"):
            (work / d).mkdir(parents=True)
        body = os.urandom(64 * 1024)
        names = [f"f{i}.bin" for i in range(16)]
        for n in names:
            (work / "origin/pub" / n).write_bytes(body)
        origin = f"http://127.0.0.1:{origin_port}/pub"
        cache = f"http://127.0.0.1:{cache_port}"
        for n in names:
            url = f"{origin}/{n}"
            d = work / "cache/b" / token(url)
            d.mkdir(parents=True)
            (d / n).write_bytes(body)
        # A private CA and a certificate for 127.0.0.1: the https cache host.
        tls_port = free_port()
        ossl = need("openssl")
        subprocess.run([ossl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(work / "ca.key"), "-out", str(work / "ca.pem"),
                        "-days", "2", "-subj", "/CN=bench CA"], check=True, capture_output=True)
        subprocess.run([ossl, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(work / "srv.key"), "-out", str(work / "srv.csr"),
                        "-subj", "/CN=cache"], check=True, capture_output=True)
        (work / "srv.ext").write_text("subjectAltName=IP:127.0.0.1\n")
        subprocess.run([ossl, "x509", "-req", "-in", str(work / "srv.csr"), "-CA", str(work / "ca.pem"), "-CAkey", str(work / "ca.key"),
                        "-CAcreateserial", "-out", str(work / "srv.pem"), "-days", "2", "-extfile", str(work / "srv.ext")],
                       check=True, capture_output=True)
        user = "user root;" if os.geteuid() == 0 else ""
        (work / "nginx.conf").write_text(
            f"""{user}
daemon off; worker_processes 1; pid {work}/nginx.pid; error_log {work}/error.log;
events {{ worker_connections 512; }}
http {{
  access_log off; default_type application/octet-stream;
  client_body_temp_path {work}/tmp; proxy_temp_path {work}/tmp; fastcgi_temp_path {work}/tmp;
  uwsgi_temp_path {work}/tmp; scgi_temp_path {work}/tmp;
  server {{ listen 127.0.0.1:{origin_port}; root {work}/origin; }}
  server {{ listen 127.0.0.1:{cache_port}; root {work}/cache; }}
  server {{ listen 127.0.0.1:{tls_port} ssl; ssl_certificate {work}/srv.pem; ssl_certificate_key {work}/srv.key; root {work}/cache; }}
}}
"""
        )
        procs.append(subprocess.Popen([nginx, "-c", str(work / "nginx.conf"), "-p", str(work)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_port(origin_port)
        wait_port(cache_port)
        wait_port(tls_port)
        refused = f"http://127.0.0.1:{free_port()}"
        blackhole = Blackhole()
        # (Revalidation off: these rows measure the probe and the origin
        # check as before issue 23; bench/freshness_costs.py measures it.)
        base_env = {"PATH": f"{work / 'shim'}:/usr/bin:/bin", "HOME": str(work), "WITHCACHE_DOWN_TTL": "0",
                    "WITHCACHE_REVALIDATE": "off"}
        # withcache's native shim finds "curl" on PATH for its probe and its
        # exec: it must see only the real one, never our shim.
        native_env = dict(base_env, PATH="/usr/bin:/bin")
        url = f"{origin}/{names[0]}"
        cache_url = f"{cache}/b/{token(url)}/{names[0]}"
        results = {}
        rows = []

        # 1. Pass-through (no server set): a trivial static tool run directly,
        # through the floor (a minimal static Rust exec), through our shim and
        # through withcache's native shim, all in the same rounds. PATH holds
        # only the trivial tool (the native shim finds "curl" there); ours is
        # pointed at it with REAL_CURL.
        floor = work / "floor"
        rustc_env = dict(os.environ, FLOOR_TARGET=str(work / "trivial/curl"))
        subprocess.run(
            [need("rustc"), "--edition", "2021", "--target", "x86_64-unknown-linux-musl", "-C", "opt-level=s",
             "-C", "panic=abort", "-C", "strip=symbols", "-o", str(floor), str(ROOT / "bench/floor.rs")],
            check=True, env=rustc_env,
        )
        env = dict(base_env, PATH=str(work / "trivial"), REAL_CURL=str(work / "trivial/curl"))
        extras = list(COMPARE)
        extra_cmds = []
        for i, (_, path) in enumerate(extras):
            (work / f"extra{i}").mkdir()
            os.symlink(path, work / f"extra{i}/curl")
            extra_cmds.append(str(work / f"extra{i}/curl"))
        r = hyperfine(
            [f"{work / 'trivial/curl'}", str(floor), shim_curl, str(native)] + extra_cmds,
            env,
            ["trivial", "floor", "shim-trivial", "native-trivial"] + [f"extra{i}" for i in range(len(extras))],
        )
        floor_row = paired(r, "trivial", "floor")
        native_row = paired(r, "trivial", "native-trivial")
        ours_row = paired(r, "trivial", "shim-trivial")
        rows.append(("pass-through floor: minimal static Rust exec", floor_row, "+", None))
        rows.append(("pass-through: withcache native shim", native_row, "+", None))
        rows.append(("pass-through, trivial static tool", ours_row, "+", native_row[2] + 30e-6))
        for i, (name, path) in enumerate(extras):
            rows.append((f"pass-through, trivial static tool: {name} ({Path(path).stat().st_size} bytes)",
                         paired(r, "trivial", f"extra{i}"), "+", None))
        env = dict(base_env)
        fetch = f"-fsS -o /dev/null {url}"
        r = hyperfine([f"{curl} {fetch}", f"{shim_curl} {fetch}"], env, ["curl", "shim-curl"])
        rows.append(("pass-through, curl (no server set)", paired(r, "curl", "shim-curl"), "+", 0.3e-3))

        # 2. Hit. With -L (7 in 10 curl download lines have it); without it
        # the origin is asked first with the real curl (a HEAD), measured apart.
        fetch_l = f"-fsSL -o /dev/null {url}"
        r = hyperfine(
            [f"{curl} -fsSL -o /dev/null {cache_url}", f"{shim_curl} {fetch_l}"],
            dict(base_env, WITHCACHE_SERVER=cache),
            ["direct-cache", "shim-hit"],
        )
        rows.append(("hit (64 KiB): shim vs curl on the cache URL", paired(r, "direct-cache", "shim-hit"), "x", 1.05))
        # The floor of any hit: a minimal static program that sends one HEAD
        # to the cache host and execs curl on the cache URL.
        hit_floor = work / "hit-floor"
        floor_env = dict(
            os.environ,
            FLOOR_TARGET=curl,
            FLOOR_CACHE_ADDR=f"127.0.0.1:{cache_port}",
            FLOOR_CACHE_PATH=cache_url.split(f":{cache_port}", 1)[1],
        )
        subprocess.run(
            [need("rustc"), "--edition", "2021", "--target", "x86_64-unknown-linux-musl", "-C", "opt-level=s",
             "-C", "panic=abort", "-C", "strip=symbols", "-o", str(hit_floor), str(ROOT / "bench/hit_floor.rs")],
            check=True, env=floor_env,
        )
        r = hyperfine(
            [f"{curl} -fsSL -o /dev/null {cache_url}", f"{hit_floor} -fsSL -o /dev/null {cache_url}"],
            dict(base_env, WITHCACHE_SERVER=cache),
            ["direct-cache", "floor-hit"],
        )
        rows.append(("hit floor: one bare HEAD, then exec curl on the cache URL", paired(r, "direct-cache", "floor-hit"), "x", None))
        r = hyperfine(
            [f"{curl} -fsS -o /dev/null {cache_url}", f"{shim_curl} {fetch}"],
            dict(base_env, WITHCACHE_SERVER=cache),
            ["direct-cache", "shim-hit"],
        )
        rows.append(("hit without -L (the origin answers the real curl's HEAD first)", paired(r, "direct-cache", "shim-hit"), "+", None))
        r = hyperfine(
            [f"{curl} -fsSL -o /dev/null {cache_url}", f"{native} {fetch_l}"],
            dict(native_env, WITHCACHE_SERVER=cache),
            ["direct-cache", "native-hit"],
        )
        rows.append(("hit: withcache native shim (same)", paired(r, "direct-cache", "native-hit"), "x", None))
        # The same with a 4 MiB artifact (vendor artifacts are MBs to GBs).
        big_url = f"{origin}/big.bin"
        big = os.urandom(4 << 20)
        (work / "origin/pub/big.bin").write_bytes(big)
        d = work / "cache/b" / token(big_url)
        d.mkdir(parents=True)
        (d / "big.bin").write_bytes(big)
        big_cache = f"{cache}/b/{token(big_url)}/big.bin"
        r = hyperfine(
            [f"{curl} -fsSL -o /dev/null {big_cache}", f"{shim_curl} -fsSL -o /dev/null {big_url}"],
            dict(base_env, WITHCACHE_SERVER=cache),
            ["direct-cache", "shim-hit"],
        )
        rows.append(("hit, 4 MiB artifact", paired(r, "direct-cache", "shim-hit"), "x", None))
        # An https cache host (private CA in CURL_CA_BUNDLE): the probe is the
        # real curl's own HEAD, then curl fetches the cache URL over TLS.
        tls_cache = f"https://127.0.0.1:{tls_port}"
        tls_cache_url = f"{tls_cache}/b/{token(url)}/{names[0]}"
        r = hyperfine(
            [f"{curl} -fsSL -o /dev/null {tls_cache_url}", f"{shim_curl} {fetch_l}"],
            dict(base_env, WITHCACHE_SERVER=tls_cache, CURL_CA_BUNDLE=str(work / "ca.pem")),
            ["direct-tls-cache", "shim-tls-hit"],
        )
        rows.append(("hit from an https cache host: shim vs curl on the same https cache URL", paired(r, "direct-tls-cache", "shim-tls-hit"), "+", None))

        # 3. Miss and refused.
        miss_url = f"{origin}/not-cached.bin"
        (work / "origin/pub/not-cached.bin").write_bytes(body)
        miss_fetch = f"-fsS -o /dev/null {miss_url}"
        for label, server, ours_name in (("miss", cache, "miss vs direct origin fetch"), ("refused", refused, "cache refusing connections vs direct")):
            target = miss_fetch if label == "miss" else fetch
            r = hyperfine([f"{curl} {target}", f"{shim_curl} {target}"], dict(base_env, WITHCACHE_SERVER=server), ["direct", "shim"])
            rows.append((ours_name, paired(r, "direct", "shim"), "+", 1e-3))
            r = hyperfine([f"{curl} {target}", f"{native} {target}"], dict(native_env, WITHCACHE_SERVER=server), ["direct", "native"])
            rows.append((f"{label}: withcache native shim", paired(r, "direct", "native"), "+", None))

        # 4. Dead cache (swallows connections): first and tenth call.
        rt = work / "runtime"
        rt.mkdir(mode=0o700)
        dead = dict(base_env, WITHCACHE_SERVER=f"http://127.0.0.1:{blackhole.port}", XDG_RUNTIME_DIR=str(rt))
        dead.pop("WITHCACHE_DOWN_TTL")
        direct_one = timed([curl, "-fsS", "-o", "/dev/null", url], base_env)
        ours = [timed([shim_curl, "-fsS", "-o", "/dev/null", url], dead) for _ in range(10)]
        # Calls within the TTL, paired with direct calls in the same rounds
        # (a long TTL, so the memory cannot expire during the measurement).
        r = hyperfine(
            [f"{curl} -fsS -o /dev/null {url}", f"{shim_curl} -fsS -o /dev/null {url}"],
            dict(dead, WITHCACHE_DOWN_TTL="3600"),
            ["direct", "shim-dead"],
        )
        later_added = paired(r, "direct", "shim-dead")[2]
        native_calls = 2 if SHORT else 10
        native_dead = dict(dead, PATH=native_env["PATH"])
        theirs = [timed([str(native), "-fsS", "-o", "/dev/null", url], native_dead) for _ in range(native_calls)]
        dead_rows = [
            ("dead cache, ours: 1st call", ours[0]),
            ("dead cache, ours: 10th call", ours[9]),
            ("dead cache, native: 1st call", theirs[0]),
            (f"dead cache, native: {native_calls}th call", theirs[-1]),
            ("direct fetch (for reference)", direct_one),
        ]
        dead_verdicts = [
            f"Dead cache, first call: {ms(ours[0])} (budget: probe timeout 2 s + 50 ms){' ok' if ours[0] <= 2.05 else ' OVER'}",
            f"Dead cache, calls within the TTL: {later_added * 1000:+.2f} ms over direct, paired rounds (budget: ≤ +1 ms){' ok' if later_added <= 1e-3 else ' OVER'}",
        ]

        # 5. Several URLs in one command: all six commands in the same rounds.
        commands, cmd_names = [], []
        for n in (1, 4, 16):
            urls = [f"{origin}/{x}" for x in names[:n]]
            curls = [f"{cache}/b/{token(u)}/{u.rsplit('/', 1)[1]}" for u in urls]
            commands.append(f"{curl} -fsSL " + " ".join(f"-o /dev/null {c}" for c in curls))
            commands.append(f"{shim_curl} -fsSL " + " ".join(f"-o /dev/null {u}" for u in urls))
            cmd_names += [f"direct-{n}", f"shim-{n}"]
        r = hyperfine(commands, dict(base_env, WITHCACHE_SERVER=cache), cmd_names)
        multi = [(n, paired(r, f"direct-{n}", f"shim-{n}")) for n in (1, 4, 16)]
        added = {n: [y - x for x, y in zip(r[f"direct-{n}"], r[f"shim-{n}"])] for n in (1, 4, 16)}
        growth = median([a16 - a1 for a1, a16 in zip(added[1], added[16])])

        # 6. The origin check of curl without -L. An offline origin (a
        # blackhole: SYNs dropped, no connection): the first call waits for
        # the check's connect timeout, later ones are remembered. Then 1 to
        # 5,000 URLs of a reachable origin, all held by the cache, against
        # the direct download of the same URLs.
        dropped = DroppedSyns()
        hole_url = f"http://127.0.0.1:{dropped.port}/pub/{names[0]}"
        d = work / "cache/b" / token(hole_url)
        d.mkdir(parents=True)
        (d / names[0]).write_bytes(body)
        hole_cache_url = f"{cache}/b/{token(hole_url)}/{names[0]}"
        rt2 = work / "runtime-offline"
        rt2.mkdir(mode=0o700)
        offline = dict(base_env, WITHCACHE_SERVER=cache, XDG_RUNTIME_DIR=str(rt2), WITHCACHE_DOWN_TTL="3600")
        first_offline = timed([shim_curl, "-fsS", "-o", "/dev/null", hole_url], offline)
        r = hyperfine(
            [f"{curl} -fsS -o /dev/null {hole_cache_url}", f"{shim_curl} -fsS -o /dev/null {hole_url}"],
            offline,
            ["direct-cache", "shim-offline"],
        )
        offline_later = paired(r, "direct-cache", "shim-offline")
        small = work / "origin/small"
        small.mkdir()
        counts = (1, 16, 300) if SHORT else (1, 16, 300, 5000)
        piece = os.urandom(1024)
        for i in range(max(counts)):
            n = f"s{i}.bin"
            (small / n).write_bytes(piece)
            u = f"{origin.rsplit('/', 1)[0]}/small/{n}"
            d = work / "cache/b" / token(u)
            d.mkdir(parents=True)
            (d / n).write_bytes(piece)
        many = []
        for n in counts:
            urls = [f"{origin.rsplit('/', 1)[0]}/small/s{i}.bin" for i in range(n)]
            args = ["-fsS"] + [a for u in urls for a in ("-o", "/dev/null", u)]
            runs = 3 if n >= 300 else 10
            direct_t = median([timed([curl] + args, base_env) for _ in range(runs)])
            shim_t = median([timed([shim_curl] + args, dict(base_env, WITHCACHE_SERVER=cache)) for _ in range(runs)])
            many.append((n, direct_t, shim_t))
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)

    lines = []
    lines.append("| case | baseline | measured | added | budget |")
    # The pass-through budget is withcache's native shim + 30 µs, same run.
    lines.append("|---|---|---|---|---|")
    for name, (base, got, added, ratio), kind, budget in rows:
        if kind == "x":
            verdict = "" if budget is None else (" ok" if ratio <= budget else " OVER")
            limit = f"≤ ×{budget:.2f}{verdict}" if budget else "—"
            lines.append(f"| {name} | {ms(base)} | {ms(got)} | ×{ratio:.2f} | {limit} |")
        else:
            verdict = "" if budget is None else (" ok" if added <= budget else " OVER")
            limit = f"≤ {budget * 1000:.2f} ms{verdict}" if budget else "—"
            lines.append(f"| {name} | {ms(base)} | {ms(got)} | {added * 1000:+.3f} ms | {limit} |")
    lines.append("")
    lines.append("| dead cache that swallows connections (probe timeout: ours 2 s, native 5 s) | time |")
    lines.append("|---|---|")
    for name, t in dead_rows:
        lines.append(f"| {name} | {ms(t)} |")
    lines.append("")
    lines.extend(dead_verdicts)
    lines.append("")
    lines.append("| URLs in one command (all hits) | curl on cache URLs | through the shim | added |")
    lines.append("|---|---|---|---|")
    for n, (d, sh, add, _) in multi:
        lines.append(f"| {n} | {ms(d)} | {ms(sh)} | {add * 1000:+.2f} ms |")
    lines.append("")
    add16 = multi[2][1][2]
    lines.append(f"16 URLs, all hits: {add16 * 1000:+.2f} ms over curl fetching the 16 cache URLs (budget: ≤ +1.5 ms){' ok' if add16 <= 1.5e-3 else ' OVER'}")
    lines.append(f"Probe cost growth from 1 to 16 URLs: {growth * 1000:+.2f} ms")
    lines.append("")
    lines.append("| origin check (curl without -L; one real curl per command) | direct | through the shim | added |")
    lines.append("|---|---|---|---|")
    lines.append(f"| offline origin (blackholed), 1st call: the check's timeout (2 s), then the hit | — | {ms(first_offline)} | — |")
    lines.append(f"| offline origin, later calls (remembered) vs curl on the cache URL | {ms(offline_later[0])} | {ms(offline_later[1])} | {offline_later[2] * 1000:+.2f} ms |")
    for n, d, sh in many:
        lines.append(f"| {n} URL(s), all held by the cache, vs the direct download | {ms(d)} | {ms(sh)} | {(sh - d) * 1000:+.1f} ms |")
    table = "\n".join(lines)
    print(table)

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    header = (
        f"# Benchmark results\n\n"
        f"`scripts/bench{' --short' if SHORT else ''}` on {time.strftime('%Y-%m-%d')}: {platform.machine()}, "
        f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}; "
        f"curl {subprocess.run([curl, '--version'], capture_output=True, text=True).stdout.split()[1]}, "
        f"nginx on loopback, a 64 KiB artifact, hyperfine -N, {RUNS} runs per command in {ROUNDS} rounds of alternating order; "
        f"each figure is the median over rounds of that round's median (added and ratio: of the per-round difference and ratio, both sides measured together). "
        f"The shim is the static release binary `{shim_bin.name}` ({shim_bin.stat().st_size} bytes); "
        f"\"native\" is withcache 0.13.3's `curlwithcache`.\n\n"
    )
    if not SHORT:
        (ROOT / "bench/RESULTS.md").write_text(header + table + "\n")
        print("\nwrote bench/RESULTS.md")


if __name__ == "__main__":
    main()
