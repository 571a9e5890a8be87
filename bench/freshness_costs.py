#!/usr/bin/env python3
"""What revalidation (issue 23) costs, one run, on loopback (python's
http.server as origin and cache host), under WITHCACHE_REVALIDATE=auto:

  - a versioned `-L` hit (trusted: no origin contact) beside curl fetching
    the cache URL itself;
  - a `latest` `-L` hit the origin confirms (the cache host gives the
    origin's Last-Modified): the first call, and later calls within the TTL;
  - a stale origin (another length): the pass-through beside the direct
    download;
  - 1, 16 and 300 `latest` URLs in one command, all confirmed, beside curl
    fetching their cache URLs.

  bench/freshness_costs.py BINARY     (e.g. dist/cacheshim-*-x86_64-*)

Prints a Markdown table; never fails on the figures.
"""
import base64, http.server, os, socketserver, statistics, subprocess, sys, tempfile, threading, time

BIN = os.path.abspath(sys.argv[1])
LM = "Mon, 01 Jan 2024 00:00:00 GMT"
BODY = os.urandom(256 << 10)


class Origin(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def answer(self, body):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Last-Modified", LM)
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        # /stale/ answers another length than the cache holds.
        self.answer(BODY + b"x" if self.path.startswith("/stale/") else BODY)


class Cache(Origin):
    def do_GET(self):
        self.answer(BODY)


def serve(handler):
    # (A listen backlog of 5, the default, drops SYNs of 16 parallel checks.)
    socketserver.ThreadingTCPServer.request_queue_size = 128
    s = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    s.daemon_threads = True
    threading.Thread(target=s.serve_forever, daemon=True).start()
    return s


origin = f"http://127.0.0.1:{serve(Origin).server_address[1]}"
cache = f"http://127.0.0.1:{serve(Cache).server_address[1]}"
work = tempfile.mkdtemp()
os.symlink(BIN, f"{work}/curl")
env = dict(PATH=f"{work}:/usr/bin:/bin", HOME=work, WITHCACHE_SERVER=cache,
           WITHCACHE_REVALIDATE="auto", XDG_RUNTIME_DIR=work)


def cache_url(u):
    token = base64.urlsafe_b64encode(u.encode()).decode().rstrip("=")
    return f"{cache}/b/{token}/{u.rsplit('/', 1)[1]}"


def timed(args):
    s = time.perf_counter()
    subprocess.run(args, env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - s


def median(args, n=15):
    return statistics.median(timed(args) for _ in range(n))


def ms(t):
    return f"{t * 1000:.1f} ms"


rows = []
versioned = f"{origin}/pub/1.2.3/tool-1.2.3.tgz"
rows.append(("versioned `-L` hit (trusted, no origin contact)",
             median(["/usr/bin/curl", "-fsSL", "-o", "out", cache_url(versioned)]),
             median(["curl", "-fsSL", "-o", "out", versioned])))
latest = f"{origin}/releases/latest/download/tool.tgz"
first = timed(["curl", "-fsSL", "-o", "out", latest])
rows.append(("`latest` `-L` hit, first call (the origin confirms)",
             median(["/usr/bin/curl", "-fsSL", "-o", "out", cache_url(latest)]), first))
rows.append(("`latest` `-L` hit, later calls (remembered for the TTL)",
             median(["/usr/bin/curl", "-fsSL", "-o", "out", cache_url(latest)]),
             median(["curl", "-fsSL", "-o", "out", latest])))
stale = f"{origin}/stale/latest/tool.tgz"
rows.append(("stale origin (another length): passes through",
             median(["/usr/bin/curl", "-fsSL", "-o", "out", stale]),
             median(["curl", "-fsSL", "-o", "out", stale], 5)))
for n in (1, 16, 300):
    urls = [f"{origin}/nightly/{n}/f{i}.bin" for i in range(n)]
    direct = ["/usr/bin/curl", "-fsSL"] + [a for u in urls for a in ("-o", "/dev/null", cache_url(u))]
    shim = ["curl", "-fsSL"] + [a for u in urls for a in ("-o", "/dev/null", u)]
    env["WITHCACHE_REVALIDATE_TTL"] = "0"
    rows.append((f"{n} `nightly` URL(s), all confirmed by the origin (TTL 0: asked every call)",
                 median(direct, 5), median(shim, 5)))
    env.pop("WITHCACHE_REVALIDATE_TTL")
print("| case (WITHCACHE_REVALIDATE=auto) | baseline | through the shim | added |")
print("|---|---|---|---|")
for name, base, got in rows:
    print(f"| {name} | {ms(base)} | {ms(got)} | {ms(got - base)} |")
