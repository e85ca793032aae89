"""``make bench``: the shared harness's side-by-side run, and its table in bench/RESULTS.md.

Runs ``../shared/bench/compare.sh . TAG [options]`` (the Django reference, then this
project, each on a fresh database, the same harness and flags), then rewrites the part of
bench/RESULTS.md between the ``latest run`` markers with the table of that run, the
machine and the command. The rest of RESULTS.md (profiles, what each change bought) is
prose kept by hand.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HARNESS = ROOT.parent / "shared" / "bench" / "compare.sh"
RESULTS = ROOT / "bench" / "RESULTS.md"
BEGIN, END = "<!-- latest run: written by make bench -->", "<!-- end of latest run -->"


def per_connection_kib(summary):
    joined = summary.get("joined") or 0
    before, with_joined = (summary.get("rss_mib_before_joined") or [0, 0])[:2]
    return (with_joined - before) * 1024 / joined if joined else 0.0


def table(reference, product):
    rows = ["| workload | reference | this project | ratio |", "|---|---|---|---|"]
    for name, ref in reference.items():
        mine = product.get(name, {})
        if "ok_rps" in ref:
            ratio = mine.get("ok_rps", 0) / ref["ok_rps"] if ref["ok_rps"] else 0
            flag = " (imbalanced)" if mine.get("imbalanced") or ref.get("imbalanced") else ""
            rows.append(f"| {name} | {ref['ok_rps']} req/s, p99 {ref['p99_ms']} ms | "
                        f"{mine.get('ok_rps', 0)} req/s, p99 {mine.get('p99_ms', 0)} ms | {ratio:.2f}×{flag} |")
        else:
            rows.append(f"| {name} | p50 {ref['p50_ms']} ms, p99 {ref['p99_ms']} ms, {ref['delivered']} delivered, "
                        f"{per_connection_kib(ref):.1f} KiB/conn | p50 {mine.get('p50_ms')} ms, p99 "
                        f"{mine.get('p99_ms')} ms, {mine.get('delivered')} delivered, "
                        f"{per_connection_kib(mine):.1f} KiB/conn | |")
    return "\n".join(rows)


def machine():
    cpus = os.cpu_count()
    with open("/proc/meminfo") as meminfo:
        memory = meminfo.readline().split()[1]
    return f"{platform.node()}: {cpus} cores, {int(memory) // 1024 // 1024} GiB, Python {platform.python_version()}"


def write_results(tag, args, reference, product):
    section = "\n".join([
        BEGIN,
        f"Run `{tag}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC ({machine()}); command: "
        f"`make bench{' BENCH_ARGS=' + repr(' '.join(args)) if args else ''}` "
        f"(`../shared/bench/compare.sh . {tag} {' '.join(args)}`). Raw results: `bench/results/{tag}-*.json`.",
        "",
        table(reference, product),
        END,
    ])
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmarks\n\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip() + "\n\n## Latest run\n\n" + section + "\n"
    RESULTS.write_text(text)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tag", required=True)
    parser.add_argument("args", nargs=argparse.REMAINDER)
    options = parser.parse_args()
    args = [arg for arg in options.args if arg != "--"]
    run = subprocess.run(["bash", str(HARNESS), str(ROOT), options.tag, *args], cwd=ROOT, check=False)
    out = ROOT / "bench" / "results"
    try:
        reference, product = (json.loads((out / f"{options.tag}-{side}.json").read_text())["summary"]
                              for side in ("ref", "product"))
    except FileNotFoundError as exc:
        sys.exit(f"no results ({exc}); the harness exited with {run.returncode}")
    write_results(options.tag, args, reference, product)
    print(f"\nbench/RESULTS.md updated ({RESULTS})")
    sys.exit(run.returncode)


if __name__ == "__main__":
    main()
