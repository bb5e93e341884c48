#!/usr/bin/env python3
"""Fails when the kernel's code (kernel/src, kernel/include; not comments) names a modality or a
language model in a string literal: the kernel knows those only by registry names that come from
recipes and plugins. Prints every offending literal with its file and line.

    tests/checks/kernel_names.py SOURCE_DIR
"""
import pathlib
import re
import sys

MODALITIES = {"image", "video", "audio", "pc", "3d"}
# Language-model plugins and models: a literal that *contains* one of these is refused.
LM_WORDS = re.compile(r"\b(llama|vicuna|smollm2?|tinyllama|mistral|qwen)\b(?![.-]cpp|-quantize)", re.I)


def literals(text):
    """(line, literal) for every ordinary or raw string literal outside comments."""
    i, line, n = 0, 1, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            line += text.count("\n", i, j)
            i = j
        elif c == "'" :
            j = i + 1
            while j < n and text[j] != "'":
                j += 2 if text[j] == "\\" else 1
            i = j + 1
        elif c == '"':
            m = re.match(r'R"([^(\s]*)\(', text[i - 1:i + 20]) if i > 0 and text[i - 1] == "R" else None
            if m:
                end = text.find(")" + m.group(1) + '"', i)
                end = n if end < 0 else end
                yield line, text[i + 1 + len(m.group(1)) + 1:end]
                line += text.count("\n", i, end)
                i = end + len(m.group(1)) + 2
                continue
            j = i + 1
            while j < n and text[j] != '"' and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            yield line, text[i + 1:j]
            i = j + 1
        else:
            i += 1


def main():
    root = pathlib.Path(sys.argv[1])
    bad = []
    for sub in ("kernel/src", "kernel/include"):
        for f in sorted((root / sub).rglob("*")):
            if f.suffix not in (".h", ".cpp", ".in") or not f.is_file():
                continue
            for line, lit in literals(f.read_text(encoding="utf-8")):
                if lit.strip().lower() in MODALITIES or LM_WORDS.search(lit):
                    bad.append(f"{f.relative_to(root)}:{line}: \"{lit}\"")
    for b in bad:
        print(b)
    if bad:
        print(f"{len(bad)} string literal(s) in the kernel name a modality or a language model: "
              "take the name from the recipe or the registry instead", file=sys.stderr)
        return 1
    print("the kernel names no modality and no language model")
    return 0


if __name__ == "__main__":
    sys.exit(main())
