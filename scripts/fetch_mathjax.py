"""Put MathJax into the book's static files, so that the built book renders math offline.

    python scripts/fetch_mathjax.py [--dest _vendor/_static/mathjax] [--tarball mathjax-3.2.2.tgz]

Part of the set-up (`make book` runs it once): it downloads npm's `mathjax` package, version
VERSION, from the npm registry (``$NPM_CONFIG_REGISTRY`` or registry.npmjs.org), checks it
against the integrity hash npm publishes for it (sha512, pinned below), and unpacks its ``es5``
folder into ``_vendor/_static/mathjax``. ``_config.yml`` lists ``_vendor`` in Sphinx's
``html_extra_path``, so the files land in ``_build/html/_static/mathjax``, and points
``mathjax_path`` at ``mathjax/tex-svg.js`` there: SVG output, so no web fonts are needed and
nothing is fetched when a page is opened, even from disk. (Not in the book's ``_static``:
Jupyter Book adds every ``.js`` file found there to every page.)

Without a network, pass a tarball made elsewhere with ``npm pack mathjax@3.2.2`` (--tarball);
the hash is checked all the same. Exit code 0 when the files are in place.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import os
import shutil
import sys
import tarfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VERSION = "3.2.2"
# npm's "integrity" field of mathjax@3.2.2 (npm view mathjax@3.2.2 dist.integrity)
INTEGRITY = "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw=="
ENTRY = "tex-svg.js"  # the component _config.yml loads


def registry() -> str:
    return os.environ.get("NPM_CONFIG_REGISTRY", "https://registry.npmjs.org/").rstrip("/")


def download() -> bytes:
    url = f"{registry()}/mathjax/-/mathjax-{VERSION}.tgz"
    print(f"fetching {url}", file=sys.stderr)
    with urllib.request.urlopen(url, timeout=120) as r:
        return r.read()


def check(data: bytes) -> None:
    got = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    if got != INTEGRITY:
        sys.exit(f"fetch_mathjax: the tarball's sha512 is {got}, expected {INTEGRITY}")


def unpack(data: bytes, dest: Path) -> int:
    tmp = dest.with_name(dest.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    n = 0
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            name = member.name
            if not member.isfile() or not name.startswith("package/es5/"):
                continue
            rel = Path(name[len("package/es5/") :])
            if rel.is_absolute() or ".." in rel.parts:
                continue
            # the CommonHTML fonts are not used (SVG output)
            if rel.parts[:3] == ("output", "chtml", "fonts"):
                continue
            out = tmp / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(tar.extractfile(member).read())
            n += 1
    (tmp / "VERSION").write_text(VERSION + "\n")
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dest", type=Path, default=ROOT / "_vendor" / "_static" / "mathjax")
    ap.add_argument("--tarball", type=Path, help="a local mathjax-3.2.2.tgz (npm pack)")
    args = ap.parse_args(argv)
    version_file = args.dest / "VERSION"
    if (args.dest / ENTRY).is_file() and version_file.is_file():
        if version_file.read_text().strip() == VERSION:
            print(f"MathJax {VERSION} already in {args.dest}", file=sys.stderr)
            return 0
    data = args.tarball.read_bytes() if args.tarball else download()
    check(data)
    n = unpack(data, args.dest)
    print(f"MathJax {VERSION}: {n} files in {args.dest}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
