#!/usr/bin/env python3
"""Regenerate NAME.out / NAME.meta for test cases with real SPIM 8.0.

Usage: python3 gen_expected.py [NAME.s ...]   (default: every tests/cases/*.s)

Runs `spim -quiet -exception_file harness/halt_exceptions.s -file NAME.s < NAME.in`, strips the
5-line banner, and splits stdout at the marker printed by the halting exception handler.
Source markers: a line containing `# FAULT` is the expected fault line; a file containing
`# STEP_LIMIT` never ends (SPIM is stopped after a timeout, `# LOOP` marks the loop line);
a file containing `# HAND_WRITTEN` is skipped (its .out/.meta are written by hand).
"""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.join(HERE, "cases")
HARNESS = os.path.join(HERE, "harness", "halt_exceptions.s")
BANNER = 5
GEN = "spim 8.0 (Debian 8.0+dfsg-6.1): spim -quiet -exception_file harness/halt_exceptions.s -file {n}.s < {n}.in; 5-line banner stripped"


def marker_line(src, marker):
    for i, line in enumerate(src.splitlines(), 1):
        if marker in line:
            return i
    return None


def gen(path):
    name = os.path.basename(path)[:-2]
    base = path[:-2]
    src = open(path, encoding="utf-8").read()
    if "# HAND_WRITTEN" in src:
        return
    inp = base + ".in"
    if not os.path.exists(inp):
        open(inp, "wb").close()
    step_limit = "# STEP_LIMIT" in src
    with open(inp, "rb") as f:
        try:
            p = subprocess.run(
                ["spim", "-quiet", "-exception_file", HARNESS, "-file", os.path.basename(path)],
                stdin=f, capture_output=True, cwd=os.path.dirname(path),
                timeout=3 if step_limit else 60)
            out, err, rc = p.stdout, p.stderr, p.returncode
        except subprocess.TimeoutExpired as e:
            if not step_limit:
                raise
            out, err, rc = e.stdout or b"", e.stderr or b"", None
    lines = out.split(b"\n", BANNER)
    out = lines[BANNER] if len(lines) > BANNER else b""
    meta = []
    m = re.search(rb"\x01EXC:(\d+):(-?\d+)\n$", out)
    if step_limit:
        meta += ["status=step_limit", f"loop_line={marker_line(src, '# LOOP')}"]
    elif m:
        out = out[: m.start()]
        meta += ["status=runtime_error", f"exception={int(m.group(1))}",
                 f"fault_pc=0x{int(m.group(2)) & 0xffffffff:08x}",
                 f"fault_line={marker_line(src, '# FAULT')}"]
    elif b"(parser)" in err:
        print(f"{name}: SPIM rejects the program: {err.decode()}")
        return
    elif err.strip():
        meta += ["status=runtime_error", "spim_error=" + err.decode().strip().replace("\n", " | "),
                 f"fault_line={marker_line(src, '# FAULT')}"]
    else:
        if err.strip():
            print(f"{name}: SPIM reported: {err.decode()}"); return
        meta += ["status=exited", f"exit_code={rc}"]
    meta.append("generated_by=" + GEN.format(n=name))
    open(base + ".out", "wb").write(out)
    open(base + ".meta", "w").write("\n".join(meta) + "\n")
    print(name, meta[0])


if __name__ == "__main__":
    files = sys.argv[1:] or sorted(
        os.path.join(CASES, f) for f in os.listdir(CASES) if f.endswith(".s"))
    for f in files:
        gen(os.path.abspath(f))
