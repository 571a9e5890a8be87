#!/usr/bin/env python3
"""Record what withcache 0.13.3 does with every argv fixture.

For each case in fixtures/argv/*.json this fills in
    "withcache": {"python": ARGV, "native": ARGV}
where ARGV is the argv the real tool would be exec'd with:
  - python: withcache._shim.plan(tool, probe, argv), the reference behaviour;
  - native: the Zig shim the wheel installs as curlwithcache / wgetwithcache,
    run with a fake real tool that answers its probes from the case's "probe"
    answers and records the argv it is finally exec'd with.
An entry is {"exit": N} when the native shim exits without exec'ing.

Run it with the project's virtualenv (scripts/setup-venv installs withcache):
    .venv/bin/python scripts/record_withcache.py           # rewrite the fixtures
    .venv/bin/python scripts/record_withcache.py --check   # compare, change nothing
Rewriting keeps everything but the "withcache" field as it is (one case per
line). --check exits 1 and lists every case whose recorded columns differ
from what withcache does now.
"""

import base64
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "argv"
VENV_BIN = Path(sys.executable).parent

# The fake real tool. Probe invocations (curl -I ..., wget --spider ...) get
# the exit status of the case's answer; the final invocation records argv.
FAKE_TOOL = r'''#!/usr/bin/env python3
import base64, json, os, sys
tool = os.path.basename(sys.argv[0])
args = [os.fsencode(a) for a in sys.argv[1:]]
# The native shim's probes are exactly these (withcache 0.13.3).
probe_shape = {
    "curl": [b"-fsS", b"-I", b"-m", b"5", b"-o", b"/dev/null"],
    "wget": [b"--spider", b"-q", b"-T", b"5", b"-t", b"1"],
}[tool]
is_probe = len(args) == 7 and args[:6] == probe_shape
if is_probe:
    # The native shim runs its probe with an empty environment: read the
    # answers from beside this script instead.
    here = os.path.dirname(os.path.abspath(sys.argv[0]))
    with open(os.path.join(here, "answers.json")) as f:
        answers = json.load(f)
    url = args[6]
    token = url.split(b"/b/", 1)[1].split(b"/", 1)[0] if b"/b/" in url else b""
    try:
        origin = base64.urlsafe_b64decode(token + b"=" * (-len(token) % 4)).decode()
    except Exception:
        origin = ""
    answer = answers.get(origin, answers.get("*", "miss"))
    codes = {"curl": {"miss": 22, "unreachable": 7}, "wget": {"miss": 8, "unreachable": 4}}
    sys.exit(0 if answer.startswith("hit") else codes[tool][answer])
with open(os.environ["FAKE_OUT"], "w") as f:
    json.dump([a.hex() for a in args], f)
'''


def decode_arg(v):
    if isinstance(v, str):
        return v.encode()
    if "hex" in v:
        return bytes.fromhex(v["hex"])
    raise ValueError(f"argv cannot hold {v!r}")


def encode_arg(b):
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return {"hex": b.hex()}


def origin_from_cache_url(url):
    try:
        token = url.split("/b/", 1)[1].split("/", 1)[0]
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except Exception:
        return ""


def answers_of(probe):
    if isinstance(probe, str):
        return {"*": probe}
    return dict(probe or {})


def case_env(defaults, case, fake_dir):
    env = {}
    env.update(defaults.get("env", {}))
    env.update(case.get("env", {}))
    env["PATH"] = f"{fake_dir}:/usr/bin:/bin"
    env.setdefault("HOME", "/nonexistent")
    return env


def record_python(tool, argv, env, answers):
    from withcache import _shim

    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:

        def probe(_real, url):
            a = answers.get(origin_from_cache_url(url), answers.get("*", "miss"))
            return True if a.startswith("hit") else (False if a == "miss" else None)

        try:
            _real, final = _shim.plan(tool, probe, [os.fsdecode(a) for a in argv])
        except Exception as e:  # e.g. UnicodeEncodeError on non-UTF-8 argv
            return {"error": type(e).__name__}
        return [encode_arg(os.fsencode(a)) for a in final]
    finally:
        os.environ.clear()
        os.environ.update(saved)


def record_native(tool, argv, env, answers, fake_dir):
    shim = VENV_BIN / f"{tool}withcache"
    with tempfile.NamedTemporaryFile(delete=False) as out:
        out_path = out.name
    os.unlink(out_path)
    run_env = dict(env)
    run_env["FAKE_OUT"] = out_path
    (Path(fake_dir) / "answers.json").write_text(json.dumps(answers))
    try:
        p = subprocess.run(
            [str(shim).encode()] + argv,
            env={k.encode(): v.encode() for k, v in run_env.items()},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=20,
        )
        rc = p.returncode
    except subprocess.TimeoutExpired:
        return {"exit": "timeout"}
    if not os.path.exists(out_path):
        return {"exit": rc}
    with open(out_path) as f:
        got = [bytes.fromhex(h) for h in json.load(f)]
    os.unlink(out_path)
    return [encode_arg(a) for a in got]


def dump(doc):
    """One case per line, so diffs stay readable."""
    head = {k: v for k, v in doc.items() if k != "cases"}
    lines = ["{"]
    for k, v in head.items():
        lines.append(f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)},")
    lines.append('  "cases": [')
    cases = [json.dumps(c, ensure_ascii=False) for c in doc["cases"]]
    lines.append(",\n".join("    " + c for c in cases))
    lines.append("  ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main():
    try:
        import withcache  # noqa: F401
    except ImportError:
        sys.exit("withcache is not installed in this Python (run scripts/setup-venv, then .venv/bin/python)")
    check = "--check" in sys.argv[1:]
    only = [a for a in sys.argv[1:] if a != "--check"]
    stale = []
    with tempfile.TemporaryDirectory() as fake_dir:
        for name in ("curl", "wget"):
            p = Path(fake_dir) / name
            p.write_text(FAKE_TOOL)
            p.chmod(0o755)
        for path in sorted(FIXTURES.glob("*.json")):
            if only and path.name not in only:
                continue
            doc = json.loads(path.read_text())
            defaults = doc.get("defaults", {})
            for case in doc["cases"]:
                tool = case.get("tool", defaults.get("tool"))
                argv = [decode_arg(a) for a in case["argv"]]
                env = case_env(defaults, case, fake_dir)
                answers = answers_of(case.get("probe", defaults.get("probe")))
                now = {
                    "python": record_python(tool, argv, env, answers),
                    "native": record_native(tool, argv, env, answers, fake_dir),
                }
                if check and case.get("withcache") != now:
                    stale.append(f"{path.name} / {case['name']}: recorded {case.get('withcache')}, now {now}")
                case["withcache"] = now
            if check:
                print(f"checked {len(doc['cases'])} cases in {path.name}")
            else:
                path.write_text(dump(doc))
                print(f"recorded {len(doc['cases'])} cases in {path.name}")
    if stale:
        print("\n".join(stale))
        sys.exit(f"{len(stale)} cases differ from what withcache does now")


if __name__ == "__main__":
    main()
