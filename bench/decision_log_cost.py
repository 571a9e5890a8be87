#!/usr/bin/env python3
"""What the decision log (issue 25) adds to a hit and to a miss: the same
command through the shim with the log on and with WITHCACHE_LOG=off, timed by
hyperfine in alternating rounds (the machine drifts), one run, against nginx
on loopback as the cache host (a static b/<token>/<name> layout), with a
trivial real tool (/bin/true) so that the shim's own cost is what is
measured.

  bench/decision_log_cost.py BINARY     (e.g. dist/cacheshim-*-x86_64-*)

Prints a Markdown table; never fails on the figures.
"""
import base64, json, os, shutil, socket, statistics, subprocess, sys, tempfile, time

BIN = os.path.abspath(sys.argv[1])
work = tempfile.mkdtemp()
hit_url = "https://dl.example.com/pub/1.0/hit.tgz"
token = base64.urlsafe_b64encode(hit_url.encode()).decode().rstrip("=")
os.makedirs(f"{work}/root/b/{token}")
open(f"{work}/root/b/{token}/hit.tgz", "wb").write(b"x" * 1000)
s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()
os.makedirs(f"{work}/tmp")
user = "user root;" if os.geteuid() == 0 else ""
open(f"{work}/nginx.conf", "w").write(
    f"{user} daemon off; worker_processes 1; pid {work}/nginx.pid; error_log {work}/error.log;\n"
    f"events {{ worker_connections 256; }}\n"
    f"http {{ access_log off; client_body_temp_path {work}/tmp; proxy_temp_path {work}/tmp;"
    f" fastcgi_temp_path {work}/tmp; uwsgi_temp_path {work}/tmp; scgi_temp_path {work}/tmp;\n"
    f"server {{ listen 127.0.0.1:{port}; root {work}/root; }} }}\n")
nginx = subprocess.Popen([shutil.which("nginx") or "/usr/sbin/nginx", "-c", f"{work}/nginx.conf", "-p", work],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
        break
    except OSError:
        time.sleep(0.05)
os.symlink(BIN, f"{work}/curl")
base = dict(PATH=f"{work}:/usr/bin:/bin", HOME=work, XDG_STATE_HOME=work,
            WITHCACHE_SERVER=f"http://127.0.0.1:{port}", REAL_CURL="/bin/true",
            WITHCACHE_REVALIDATE="off")


def run(cmd, env, runs=300):
    out = tempfile.mktemp(suffix=".json")
    subprocess.run(["hyperfine", "-N", "--warmup", "30", "--runs", str(runs), "--export-json", out,
                    "--style", "none", cmd], env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return statistics.median(json.load(open(out))["results"][0]["times"])


rows = []
try:
    for kind, url in (("hit", hit_url), ("miss", "https://dl.example.com/pub/1.0/miss.tgz")):
        cmd = f"{work}/curl -fsSL -o /dev/null {url}"
        diffs, ons, offs = [], [], []
        for r in range(10):
            pair = [(False, dict(base, WITHCACHE_LOG="off")), (True, base)]
            if r % 2:
                pair.reverse()
            got = {on: run(cmd, env) for on, env in pair}
            ons.append(got[True])
            offs.append(got[False])
            diffs.append(got[True] - got[False])
        rows.append((kind, statistics.median(offs), statistics.median(ons), statistics.median(diffs)))
finally:
    nginx.terminate()
    nginx.wait(timeout=10)
print("| the same command through the shim (nginx cache host, /bin/true as the real tool) | WITHCACHE_LOG=off | log on | added (median of paired rounds) |")
print("|---|---|---|---|")
for kind, off, on, d in rows:
    print(f"| a {kind} | {off * 1e3:.3f} ms | {on * 1e3:.3f} ms | {d * 1e6:+.0f} µs |")
