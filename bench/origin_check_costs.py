#!/usr/bin/env python3
"""What the origin check and the dead-cache memory of issue 21 cost, one run,
on loopback (python's http.server as origin and cache host):

  - an origin that refuses HEAD and streams its GET without Content-Length:
    the first call, later calls (HEAD remembered as refused, the check's GET
    stops at the first body byte), beside the same call to an origin that
    answers HEAD, and beside curl fetching the cache URL itself;
  - an https cache host that accepts connections and never answers: the
    first call (the probe timeout) and later calls (remembered as down),
    beside curl going to the origin directly.

  bench/origin_check_costs.py BINARY     (e.g. dist/cacheshim-*-x86_64-*)

Prints figures; never fails on them.
"""
import http.server, socketserver, threading, subprocess, time, os, base64, tempfile, statistics, socket, sys
BIN = os.path.abspath(sys.argv[1])
ART = os.urandom(1 << 20)
class Origin(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_HEAD(self):
        self.send_response(405); self.send_header("Content-Length", "0"); self.end_headers()
    def do_GET(self):
        self.send_response(200); self.send_header("Connection", "close"); self.end_headers()
        try:
            for i in range(64):
                self.wfile.write(ART[:65536]); time.sleep(0.02)
        except Exception: pass
class Cache(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_HEAD(self):
        self.send_response(200); self.send_header("Content-Length", str(len(ART))); self.end_headers()
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", str(len(ART))); self.end_headers(); self.wfile.write(ART)
def serve(h):
    socketserver.ThreadingTCPServer.request_queue_size = 128
    s = socketserver.ThreadingTCPServer(("127.0.0.1", 0), h); s.daemon_threads = True
    threading.Thread(target=s.serve_forever, daemon=True).start(); return s
o = serve(Origin); c = serve(Cache)
url = f"http://127.0.0.1:{o.server_address[1]}/pub/stream.bin"
cache = f"http://127.0.0.1:{c.server_address[1]}"
d = tempfile.mkdtemp(); os.symlink(BIN, f"{d}/curl")
# (Revalidation off: these rows measure the origin check's reach, not freshness.)
env = dict(PATH=f"{d}:/usr/bin:/bin", WITHCACHE_SERVER=cache, XDG_RUNTIME_DIR=d, WITHCACHE_PROBE_TIMEOUT="3", HOME=d, WITHCACHE_REVALIDATE="off")
token = base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")
def t(cmd, e):
    s = time.perf_counter(); subprocess.run(cmd, env=e, cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); return time.perf_counter() - s
first = t(["curl", "-fsS", "-o", "out", url], env)
shim = [t(["curl", "-fsS", "-o", "out", url], env) for _ in range(15)]
direct = [t(["/usr/bin/curl", "-fsS", "-o", "out", f"{cache}/b/{token}/stream.bin"], env) for _ in range(15)]
class HeadOk(Origin):
    def do_HEAD(self):
        self.send_response(200); self.send_header("Connection", "close"); self.end_headers()
h = serve(HeadOk)
hurl = f"http://127.0.0.1:{h.server_address[1]}/pub/stream.bin"
# The cache answers every token (Cache handler ignores the path).
t(["curl", "-fsS", "-o", "out", hurl], env)
headok = [t(["curl", "-fsS", "-o", "out", hurl], env) for _ in range(15)]
print(f"an origin that answers HEAD (the same check, as a HEAD): median {statistics.median(headok)*1000:.1f} ms")
print(f"HEAD-refusing origin without Content-Length: first call {first*1000:.1f} ms; later calls median {statistics.median(shim)*1000:.1f} ms; curl of the cache URL itself {statistics.median(direct)*1000:.1f} ms; extra {1000*(statistics.median(shim)-statistics.median(direct)):.1f} ms")
# dead https cache host: silent listener
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(16)
held = []
threading.Thread(target=lambda: [held.append(ls.accept()) for _ in iter(int, 1)], daemon=True).start()
class Plain(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", str(len(ART))); self.end_headers(); self.wfile.write(ART)
p = serve(Plain)
purl = f"http://127.0.0.1:{p.server_address[1]}/pub/tool.tgz"
d2 = tempfile.mkdtemp(); os.symlink(BIN, f"{d2}/curl")
env2 = dict(PATH=f"{d2}:/usr/bin:/bin", WITHCACHE_SERVER=f"https://127.0.0.1:{ls.getsockname()[1]}", XDG_RUNTIME_DIR=d2, WITHCACHE_PROBE_TIMEOUT="2", HOME=d2)
first = t(["curl", "-fsSL", "-o", "out", purl], env2)
shim = [t(["curl", "-fsSL", "-o", "out", purl], env2) for _ in range(15)]
direct = [t(["/usr/bin/curl", "-fsSL", "-o", "out", purl], env2) for _ in range(15)]
print(f"dead (silent) https cache host: first call {first*1000:.1f} ms; later calls median {statistics.median(shim)*1000:.2f} ms; direct curl {statistics.median(direct)*1000:.2f} ms; extra {1000*(statistics.median(shim)-statistics.median(direct)):.2f} ms")
