"""The built book in a browser: every page of _build/html, opened from disk, network blocked.

Run with `make check-html` after `make book` (not part of `make test`: it needs the build).
It drives Debian's Chromium (/usr/bin/chromium, or $EMT_CHROMIUM) through Playwright; Playwright
never downloads a browser here. Every request that is not a local file is aborted and recorded.

Per page it asserts that MathJax rendered every formula (no raw TeX, no MathJax error node), that
every image loaded, that the console stayed free of errors, that every internal link and anchor
points at something that exists, that no code cell, output, table, figure or display formula is
wider than the content column at a 1280 px wide window (a block that scrolls inside the column
is allowed for outputs and formulas, not for code), that no page is taller than
:data:`MAX_PAGE_HEIGHT` px (what a reader finishes), that no inline formula is laid out as a
block (a caption broken into lines), and that no rendered output shows raw Markdown syntax
(``|---|``, ``**``). It also searches the book from its search page. One
full-page screenshot per chapter goes to _build/screenshots/ (CI keeps them as artifacts; they
are not committed); _build/page-heights.json records every page's height.
"""

from __future__ import annotations

import json
import os
import re
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = Path(os.environ.get("EMT_HTML_DIR", ROOT / "_build" / "html")).resolve()
SHOTS = HTML.parent / "screenshots"
CHROMIUM = os.environ.get("EMT_CHROMIUM", "/usr/bin/chromium")
WIDTH, HEIGHT = 1280, 900
#: The tallest page a reader is asked to finish, in CSS px at a 1280 px wide window.
MAX_PAGE_HEIGHT = 12_000
SKIP_DIRS = {"_static", "_sources", "_images", "_sphinx_design_static"}


def _pages() -> list[Path]:
    if not (HTML / "index.html").is_file():
        return []
    return sorted(
        p for p in HTML.rglob("*.html") if not SKIP_DIRS.intersection(p.relative_to(HTML).parts)
    )


PAGES = _pages()
STATS: dict[str, int] = {"pages": 0, "internal_links": 0, "anchors": 0, "images": 0, "math": 0}
HEIGHTS: dict[str, int] = {}


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("id", "name") and v:
                self.ids.add(v)


_ID_CACHE: dict[Path, set[str]] = {}


def ids_of(path: Path) -> set[str]:
    if path not in _ID_CACHE:
        parser = _Ids()
        parser.feed(path.read_text(errors="replace"))
        _ID_CACHE[path] = parser.ids
    return _ID_CACHE[path]


@pytest.fixture(scope="session")
def browser():
    if not PAGES:
        pytest.fail(f"no built book in {HTML}: run `make book` first")
    if not Path(CHROMIUM).is_file():
        pytest.fail(
            f"no Chromium at {CHROMIUM}: `apt-get install chromium` (Debian) or set EMT_CHROMIUM"
        )
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM,
            # no DNS either: even a request that escaped the route below could not leave
            args=["--host-resolver-rules=MAP * ~NOTFOUND", "--no-sandbox"],
        )
        yield b
        b.close()


@pytest.fixture(scope="session")
def context(browser):
    ctx = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
    ctx.blocked = []  # type: ignore[attr-defined]

    def route(r):
        url = r.request.url
        if url.startswith(("file:", "data:", "blob:")):
            r.continue_()
        else:
            ctx.blocked.append(url)  # type: ignore[attr-defined]
            r.abort()

    ctx.route("**/*", route)
    yield ctx
    ctx.close()


def open_page(context, path: Path):
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri(), wait_until="load")
    return page, errors


MATH_STATE = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  const math = [...document.querySelectorAll('.math')];
  const bare = math.filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 60));
  const errors = document.querySelectorAll('mjx-merror, .MathJax_Error').length;
  const clone = document.querySelector('main, body').cloneNode(true);
  const skip = 'pre, code, script, style, mjx-container, .highlight, textarea';
  clone.querySelectorAll(skip).forEach(e => e.remove());
  const text = clone.textContent;
  const raw = (text.match(/\\\\\\(|\\\\\\[|\\$\\$/g) || []).length;
  const src = [...document.scripts].map(s => s.src).filter(s => /mathjax/i.test(s));
  return {n: math.length, bare, errors, raw, src, loaded: !!window.MathJax};
}"""

IMAGES = """async () => Promise.all([...document.images].map(async i => {
  i.loading = 'eager';
  i.scrollIntoView();
  try { await i.decode(); } catch (e) {}
  return [i.getAttribute('src'), i.naturalWidth];
}))"""

WIDE_CELLS = """() => {
  const col = document.querySelector('article.bd-article, main, [role=main]');
  const right = col.getBoundingClientRect().right + 1;
  const out = [];
  document.querySelectorAll('div.cell, div.highlight, div.output').forEach(c => {
    const r = c.getBoundingClientRect();
    // hidden (collapsed) cell: Chromium lays out a closed <details>' content with a size
    if (r.width === 0 || c.closest('details:not([open])')) return;
    const pre = [...c.querySelectorAll('pre')].filter(
      p => !p.closest('details:not([open])') && p.scrollWidth > p.clientWidth + 1);
    if (r.right > right || pre.length) {
      const line = (pre[0] || c).textContent.split('\\n').reduce((a, b) => a.length >= b.length ? a : b, '');
      out.push(`${Math.round(r.right)} px > ${Math.round(right)} px or scrolls: ${line.slice(0, 80)}`);
    }
  });
  return [...new Set(out)];
}"""


WIDE_BLOCKS = """() => {
  const col = document.querySelector('article.bd-article, main, [role=main]');
  const box = col.getBoundingClientRect();
  const out = [];
  const sel = 'div.cell_output > *, article table, article figure, article img, ' +
              'article mjx-container[display="true"]';
  document.querySelectorAll(sel).forEach(e => {
    const r = e.getBoundingClientRect();
    if (r.width === 0 || e.closest('details:not([open])')) return;  // hidden (collapsed)
    if (r.right > box.right + 1 || r.left < box.left - 1) {
      out.push(`${e.tagName.toLowerCase()} ${Math.round(r.width)} px wide, ` +
               `${Math.round(r.right)} px > ${Math.round(box.right)} px: ` +
               e.textContent.trim().slice(0, 60));
    }
  });
  return [...new Set(out)];
}"""

BLOCK_INLINE_MATH = """() => [...document.querySelectorAll('article span.math')]
  .filter(e => getComputedStyle(e).display === 'block')
  .map(e => e.textContent.trim().slice(0, 40))"""

WRAPPED_TABLES = """() => {
  // a printed table (a line with two or more runs of 2+ spaces between words) that is longer
  // than the output column holds wraps, and its columns no longer line up
  const out = [];
  document.querySelectorAll('div.cell_output pre').forEach(p => {
    if (p.closest('details:not([open])') || p.clientWidth === 0) return;
    const probe = document.createElement('span');
    probe.style.whiteSpace = 'pre';
    probe.style.display = 'inline-block';
    probe.textContent = 'x'.repeat(100);
    p.appendChild(probe);
    const charWidth = probe.getBoundingClientRect().width / 100;
    probe.remove();
    const style = getComputedStyle(p);
    const inner = p.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const fits = Math.floor(inner / charWidth);
    p.textContent.split('\\n').forEach(line => {
      if ((line.match(/\\S {2,}(?=\\S)/g) || []).length >= 2 && line.trimEnd().length > fits)
        out.push(`${line.trimEnd().length} > ${fits} characters: ${line.trim().slice(0, 60)}`);
    });
  });
  return out;
}"""

RAW_MARKDOWN = """() => {
  const out = [];
  document.querySelectorAll('div.cell_output').forEach(o => {
    const clone = o.cloneNode(true);
    clone.querySelectorAll('pre, code, script, style, mjx-container').forEach(e => e.remove());
    const text = clone.textContent;
    // a pipe table's rule row (Sphinx's smart quotes turn --- into an em dash), or bold marks
    for (const mark of [/\\|\\s*[-\\u2013\\u2014]+\\s*\\|/, /\\*\\*/]) {
      const m = text.match(mark);
      if (m) out.push(`${m[0]}: ...${text.slice(Math.max(0, m.index - 30), m.index + 30)}...`);
    }
  });
  return out;
}"""


def check_links(path: Path, hrefs: list[str]) -> list[str]:
    bad = []
    for href in hrefs:
        scheme = urlparse(href).scheme
        if scheme in ("http", "https", "mailto", "javascript", "data"):
            continue
        target, frag = urldefrag(href)
        if target.startswith("file:"):
            file = Path(unquote(urlparse(target).path))
        elif target:
            file = (path.parent / unquote(target)).resolve()
        else:
            file = path
        if file.is_dir():
            file = file / "index.html"
        STATS["internal_links"] += 1
        if not file.exists():
            bad.append(f"{href}: no file {file}")
            continue
        if frag and file.suffix == ".html":
            STATS["anchors"] += 1
            if unquote(frag) not in ids_of(file):
                bad.append(f"{href}: no anchor #{frag} in {file.name}")
    return bad


REDIRECT = re.compile(r'<meta http-equiv="Refresh" content="0; url=([^"]+)"', re.I)


@pytest.mark.parametrize("path", PAGES, ids=[str(p.relative_to(HTML)) for p in PAGES])
def test_page(context, path: Path):
    redirect = REDIRECT.search(path.read_text(errors="replace")[:2000])
    if redirect:  # index.html only forwards to the first chapter
        STATS["pages"] += 1
        assert not check_links(path, [redirect.group(1)]), redirect.group(1)
        return
    page, console = open_page(context, path)
    try:
        math = page.evaluate(MATH_STATE)
        STATS["pages"] += 1
        STATS["math"] += math["n"]
        assert not math["bare"], f"{len(math['bare'])} formulas not rendered: {math['bare'][:3]}"
        assert math["errors"] == 0, f"{math['errors']} MathJax error nodes"
        assert math["raw"] == 0, f"{math['raw']} raw TeX delimiters left in the text"
        if math["n"]:
            assert math["loaded"], "the page has math but MathJax did not load"
            assert all(s.startswith("file:") for s in math["src"]), math["src"]
        images = page.evaluate(IMAGES)
        STATS["images"] += len(images)
        broken = [src for src, w in images if not w]
        assert not broken, f"images that did not load: {broken}"
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
        bad = check_links(path, hrefs)
        assert not bad, "broken internal links:\n" + "\n".join(bad[:10])
        wide = page.evaluate(WIDE_CELLS)
        assert not wide, f"code cells wider than the column at {WIDTH} px:\n" + "\n".join(wide[:10])
        blocks = page.evaluate(WIDE_BLOCKS)
        assert not blocks, f"blocks wider than the column at {WIDTH} px:\n" + "\n".join(blocks[:10])
        broken_lines = page.evaluate(BLOCK_INLINE_MATH)
        assert not broken_lines, f"inline formulas laid out as blocks: {broken_lines[:5]}"
        wrapped = page.evaluate(WRAPPED_TABLES)
        assert not wrapped, "printed tables that wrap (show them with emt.tables.show):\n" + (
            "\n".join(wrapped[:5])
        )
        raw = page.evaluate(RAW_MARKDOWN)
        assert not raw, "raw Markdown in rendered outputs:\n" + "\n".join(raw[:5])
        assert not console, f"console errors: {console[:5]}"
        rel = path.relative_to(HTML)
        height = page.evaluate("document.documentElement.scrollHeight")
        HEIGHTS[rel.as_posix()] = height
        if rel.parts[0] == "book" or rel.name == "index.html":
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(
                path=str(SHOTS / (rel.with_suffix("").as_posix().replace("/", "_") + ".png")),
                full_page=True,
            )
        assert height <= MAX_PAGE_HEIGHT, (
            f"{height} px tall at {WIDTH} px, more than {MAX_PAGE_HEIGHT}: move evidence that is "
            "not argument behind the argument (hidden checks) or into an appendix"
        )
    finally:
        page.close()


def test_search_finds_a_chapter(context):
    page, console = open_page(context, HTML / "search.html")
    try:
        page.goto((HTML / "search.html").as_uri() + "?q=conjugacy", wait_until="load")
        page.wait_for_selector("#search-results ul.search li a", timeout=30_000)
        hits = page.eval_on_selector_all(
            "#search-results ul.search li a", "els => els.map(e => e.getAttribute('href'))"
        )
        assert any("conjugacy" in h for h in hits), hits
        assert not check_links(HTML / "search.html", hits), hits
        assert not console, f"console errors: {console[:5]}"
    finally:
        page.close()


def test_launch_buttons_point_at_the_paired_notebooks(context):
    page, _ = open_page(context, HTML / "book" / "repeat_copy.html")
    try:
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    finally:
        page.close()
    for service in ("mybinder.org", "colab.research.google.com"):
        links = [h for h in hrefs if service in h]
        assert links, f"no launch button for {service}"
        assert all("repeat_copy.ipynb" in unquote(h) for h in links), links
    # no button for a service that does not work: the book names no JupyterHub
    assert not [h for h in hrefs if "hub/user-redirect" in h]


def test_zy_nothing_was_fetched_from_a_network(context):
    # after every test that opens a page (pytest keeps the file order)
    assert context.blocked == [], (
        f"requests that needed a network: {sorted(set(context.blocked))[:10]}"
    )


def test_zz_summary():
    """Prints what was checked (pytest -s shows it); written to _build/check-html.json too."""
    STATS["time_s"] = round(time.perf_counter() - START)
    (HTML.parent / "check-html.json").write_text(json.dumps(STATS, indent=1) + "\n")
    (HTML.parent / "page-heights.json").write_text(json.dumps(HEIGHTS, indent=1) + "\n")
    print("\ncheck-html:", ", ".join(f"{k} {v}" for k, v in STATS.items()))
    assert STATS["pages"] == len(PAGES)


START = time.perf_counter()
