#!/usr/bin/env python3
"""Mean, standard deviation and per-seed values of evaluation metrics over seeds.

  seed_spread.py --group NAME EVAL_DIR… [--group NAME EVAL_DIR…]… [--out table.md]

Each EVAL_DIR holds the metrics.json of one `kind: eval` run; a group is one setting over
several seeds. Prints (and writes) a Markdown table: one row per metric, one column per group,
"mean ± sd (v1, v2, …)" with the sample standard deviation. Standard library only.
"""
import argparse
import json
import math
import pathlib
import sys

# (row label, task, key, scale)
METRICS = [
    ("CIDEr-D", "caption", "CIDEr", 100.0),
    ("BLEU-4", "caption", "Bleu_4", 100.0),
    ("ROUGE-L", "caption", "ROUGE_L", 100.0),
    ("QA accuracy (%)", "qa", "accuracy", 1.0),
]


def values(path, task, key, scale):
    doc = json.loads((pathlib.Path(path) / "metrics.json").read_text())
    for d in doc["datasets"].values():
        if d.get("task") == task and key in d:
            return d[key] * scale
    raise SystemExit(f"seed_spread: {path}/metrics.json has no {task} {key}")


def cell(xs):
    mean = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return f"{mean:.1f} ± {sd:.1f} ({', '.join(f'{x:.1f}' for x in xs)})"


def main():
    groups, cur = [], None
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out")
    args, rest = p.parse_known_args()
    for a in rest:
        if a == "--group":
            cur = None
        elif cur is None:
            cur = (a, [])
            groups.append(cur)
        else:
            cur[1].append(a)
    if not groups or any(not dirs for _, dirs in groups):
        p.error("give --group NAME EVAL_DIR… at least once, each with at least one folder")
    lines = ["| | " + " | ".join(f"{name} (n={len(dirs)})" for name, dirs in groups) + " |",
             "|---|" + "---:|" * len(groups)]
    for label, task, key, scale in METRICS:
        lines.append(f"| {label} | " + " | ".join(cell([values(d, task, key, scale) for d in dirs])
                                                for _, dirs in groups) + " |")
    text = "\n".join(lines) + "\n\nmean ± sample standard deviation (per-seed values)\n"
    if args.out:
        pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(args.out).write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
