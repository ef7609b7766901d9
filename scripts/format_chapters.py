"""Format the code cells of the chapters' MyST sources with ruff, in place.

Usage: python scripts/format_chapters.py [--check] [book/chapter.md ...]

ruff formats Python files and notebooks, but the chapters' source of truth is
MyST Markdown. This script finds each ```{code-cell}``` block of a chapter,
sorts its imports and formats its code with ruff (configuration: book/ruff.toml, whose
line length is what fits the rendered page) and writes the cell back, leaving
the prose and the cell options untouched. With ``--check`` it changes nothing
and exits with 1 if a cell would be reformatted. Regenerate the paired
notebooks afterwards (`make notebooks`).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
FENCE = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)


def split_options(body: str) -> tuple[str, str]:
    """Split a code cell's body into its options (yaml block or :key: lines) and code."""
    if body.startswith("---\n"):
        end = body.index("\n---\n", 3) + len("\n---\n")
        return body[:end], body[end:]
    lines = body.split("\n")
    n = 0
    while n < len(lines) and re.match(r"^:\w[\w-]*:", lines[n]):
        n += 1
    return "".join(line + "\n" for line in lines[:n]), "\n".join(lines[n:])


def ruff(args: list[str], code: str, path: Path) -> str:
    """Run ``ruff ARGS`` on one cell's code (as if it were a file beside the chapter)."""
    cmd = [
        sys.executable,
        "-m",
        "ruff",
        *args,
        "--stdin-filename",
        str(path.with_suffix(".py")),
        "-",
    ]
    out = subprocess.run(cmd, input=code, capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(f"ruff {args[0]} failed on a cell of {path.name}:\n{out.stderr}")
    return out.stdout


def ruff_format(code: str, path: Path) -> str:
    """ruff's import sorting (the one lint fix that is safe cell by cell), then its formatting."""
    fixed = ruff(["check", "--select", "I", "--fix-only", "--exit-zero", "--quiet"], code, path)
    return ruff(["format"], fixed, path)


def format_chapter(path: Path, check: bool) -> bool:
    """Format one chapter; return True if something changed (or would change)."""
    text = path.read_text()

    def one(match: re.Match) -> str:
        options, code = split_options(match.group(1))
        if not code.strip():
            return match.group(0)
        new = ruff_format(code, path)
        head = match.group(0)[: match.start(1) - match.start(0)]
        return f"{head}{options}{new}```"

    new_text = FENCE.sub(one, text)
    if new_text != text and not check:
        path.write_text(new_text)
    return new_text != text


def main(argv: list[str]) -> int:
    check = "--check" in argv
    args = [a for a in argv if a != "--check"]
    paths = [Path(a).resolve() for a in args] or sorted(
        p for p in BOOK.glob("*.md") if "kernelspec:" in p.read_text()[:2000]
    )
    changed = [p for p in paths if format_chapter(p, check)]
    for p in changed:
        print(f"{'would reformat' if check else 'reformatted'} {p.relative_to(ROOT)}")
    return 1 if (check and changed) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
