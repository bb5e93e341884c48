"""h5py's side of the feature-cache tests (tests/io/test_feature_cache.cpp runs it).

Run with the system Python, which has Debian's python3-h5py (scripts/setup-deps.sh):

    /usr/bin/python3 tests/io/h5py_feature_cache.py read CACHE.h5 EXPECTED.json
        Opens a cache written by xib and checks it against EXPECTED.json (written by the test):
        root and group attributes, every entry's values (float32, exact), shape, `file`
        attribute, and that the entries listed as sharing a file are one HDF5 object.
        Prints "ok: N entries" and exits 0, else prints the mismatch and exits 1.
    /usr/bin/python3 tests/io/h5py_feature_cache.py foreign OUT.h5 [--userblock]
        Writes an HDF5 file with a group and a dataset but none of xib's format attributes.
    /usr/bin/python3 tests/io/h5py_feature_cache.py future OUT.h5 [--userblock]
        Writes a file that claims to be an xib feature cache of format_version 99.
        --userblock: with a 512-byte user block (empty), which the test then seals as xib would.
    /usr/bin/python3 tests/io/h5py_feature_cache.py modify CACHE.h5
        Opens an xib cache read-write and changes the encoder attribute of /image, as a user
        editing the cache with h5py would (the user block is kept, the seal no longer matches).
    /usr/bin/python3 tests/io/h5py_feature_cache.py sparse CACHE.h5 KEY
        Replaces the entry /image/KEY of an xib cache with a chunked [2^30, 2] float32 dataset
        of which nothing is stored (its attributes kept): an entry that claims 8 GiB.

Deterministic: no randomness; the values come from EXPECTED.json.
"""
import json
import sys

import h5py
import numpy as np


def fail(message):
    print("mismatch: " + message)
    sys.exit(1)


def check_read(cache_path, expected_path):
    with open(expected_path, encoding="utf-8") as fh:
        expected = json.load(fh)
    with h5py.File(cache_path, "r") as f:
        for key, value in expected["root"].items():
            if key not in f.attrs:
                fail(f"root attribute {key} missing; have {sorted(f.attrs)}")
            got = f.attrs[key]
            got = got.item() if isinstance(got, np.generic) else got
            if got != value:
                fail(f"root attribute {key}: expected {value!r}, got {got!r}")
        entries = 0
        for modality, group_expected in expected["groups"].items():
            g = f[modality]
            for key in ("modality", "encoder", "weights_id"):
                if g.attrs[key] != group_expected[key]:
                    fail(f"/{modality} attribute {key}: expected {group_expected[key]!r}, got {g.attrs[key]!r}")
            pre = json.loads(g.attrs["preprocessing"])
            if pre != group_expected["preprocessing"]:
                fail(f"/{modality} preprocessing: expected {group_expected['preprocessing']}, got {pre}")
            shape = [int(x) for x in g.attrs["feature_shape"]]
            if shape != group_expected["feature_shape"]:
                fail(f"/{modality} feature_shape: expected {group_expected['feature_shape']}, got {shape}")
            if sorted(g.keys()) != sorted(e["key"] for e in group_expected["entries"]):
                fail(f"/{modality} members: {sorted(g.keys())}")
            for e in group_expected["entries"]:
                d = g[e["key"]]
                if d.dtype != np.float32:
                    fail(f"{e['key']}: dtype {d.dtype}")
                values = d[()]
                want = np.array(e["values"], dtype=np.float32).reshape(e["shape"])
                if values.shape != want.shape or not np.array_equal(values, want):
                    fail(f"{e['key']}: values {values.tolist()} != {want.tolist()}")
                if d.attrs["file"] != e["file"]:
                    fail(f"{e['key']}: file {d.attrs['file']!r} != {e['file']!r}")
                entries += 1
            for a, b in group_expected.get("same_object", []):
                if g[a] != g[b]:
                    fail(f"{a} and {b} are different HDF5 objects")
    print(f"ok: {entries} entries")


def write_foreign(path, userblock):
    with h5py.File(path, "w", userblock_size=userblock) as f:
        f.attrs["creator"] = "someone else"
        f.create_dataset("image/coco:1", data=np.zeros((2, 3), dtype=np.float32))


def write_future(path, userblock):
    with h5py.File(path, "w", userblock_size=userblock) as f:
        f.attrs["xib_format"] = "xib.feature_cache"
        f.attrs["format_version"] = np.int64(99)
        f.attrs["xib_version"] = "9.9.9"


def modify(path):
    with h5py.File(path, "r+") as f:
        f["image"].attrs["encoder"] = "edited by hand"


def sparse(path, key):
    with h5py.File(path, "r+") as f:
        g = f["image"]
        attrs = dict(g[key].attrs)
        del g[key]
        d = g.create_dataset(key, shape=(2**30, 2), chunks=(1, 2), dtype=np.float32)
        for k, v in attrs.items():
            d.attrs[k] = v


if __name__ == "__main__":
    command = sys.argv[1]
    userblock = 512 if "--userblock" in sys.argv[3:] else 0
    if command == "read":
        check_read(sys.argv[2], sys.argv[3])
    elif command == "foreign":
        write_foreign(sys.argv[2], userblock)
    elif command == "future":
        write_future(sys.argv[2], userblock)
    elif command == "modify":
        modify(sys.argv[2])
    elif command == "sparse":
        sparse(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"unknown command {command}")
