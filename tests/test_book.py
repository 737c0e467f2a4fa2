"""The built book: offline math in headless Chromium, and equation traceability.

These tests read ``book/_build/html``, which ``jupyter-book build book/`` writes. CI builds the book after
the test suite and then runs this file again with ``MINIKWS_BOOK_BUILT=1``; without that variable a
missing build is a skip (a newcomer's first ``pytest`` run has not built the book), with it a failure.
"""
import os
import pathlib
import re
import shutil

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
HTML = ROOT / "book" / "_build" / "html"
PACKAGE = ROOT / "minikws"
BUILT_REQUIRED = os.environ.get("MINIKWS_BOOK_BUILT") == "1"

LABEL_DEF = re.compile(r":label:\s*([A-Za-z0-9_.-]+)")
LABEL_CITE = re.compile(r":eq:`([A-Za-z0-9_.-]+)`")


def _need_build():
    if not (HTML / "intro.html").exists():
        if BUILT_REQUIRED:
            pytest.fail(f"MINIKWS_BOOK_BUILT=1 but {HTML} holds no built book")
        pytest.skip("the book is not built (jupyter-book build book/)")


def _chromium():
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if BUILT_REQUIRED or os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium is not installed")
    return exe


def package_labels():
    """{label: [files]} defined in the package's docstrings, and {label: [files]} cited there."""
    defined, cited = {}, {}
    for path in sorted(PACKAGE.rglob("*.py")) + sorted(PACKAGE.rglob("*.pyx")):
        text = path.read_text(encoding="utf-8")
        for m in LABEL_DEF.finditer(text):
            defined.setdefault(m.group(1), []).append(path.name)
        for m in LABEL_CITE.finditer(text):
            cited.setdefault(m.group(1), []).append(path.name)
    return defined, cited


def book_equations():
    """{label: [pages]} of every numbered equation in the built book, and the labels of equations
    a chapter marks as implemented (``:class: implemented`` on a ``{math}`` directive)."""
    equations, implemented = {}, set()
    for page in sorted(HTML.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        for m in re.finditer(r'id="equation-([A-Za-z0-9_.-]+)"', text):
            equations.setdefault(m.group(1), []).append(str(page.relative_to(HTML)))
        for m in re.finditer(r'<div class="math[^"]*\bimplemented\b[^"]*"[^>]*id="equation-([A-Za-z0-9_.-]+)"',
                             text):
            implemented.add(m.group(1))
        for m in re.finditer(r'id="equation-([A-Za-z0-9_.-]+)"[^>]*class="math[^"]*\bimplemented\b', text):
            implemented.add(m.group(1))
    return equations, implemented


def test_package_labels_are_unique_and_cited():
    defined, cited = package_labels()
    assert defined, "no :label: found in the package's docstrings"
    twice = {k: v for k, v in defined.items() if len(v) > 1}
    assert not twice, f"labels defined more than once: {twice}"
    undefined = sorted(set(cited) - set(defined))
    assert not undefined, f"docstrings cite labels no docstring defines: {undefined}"


def test_every_package_label_is_an_equation_of_the_book():
    _need_build()
    defined, cited = package_labels()
    equations, _ = book_equations()
    missing = sorted((set(defined) | set(cited)) - set(equations))
    assert not missing, f"labels the package defines or cites that the built book does not hold: {missing}"


def test_implemented_equations_of_the_book_are_cited_by_the_package():
    _need_build()
    defined, cited = package_labels()
    _, implemented = book_equations()
    orphans = sorted(implemented - set(cited) - set(defined))
    assert not orphans, f"equations the book marks as implemented that no function cites: {orphans}"


def test_pages_typeset_math_with_the_network_off():
    _need_build()
    exe = _chromium()
    playwright = pytest.importorskip("playwright.sync_api") if not BUILT_REQUIRED else \
        __import__("playwright.sync_api", fromlist=["sync_playwright"])
    # every page that holds math: chapters first, then the API reference
    pages = sorted((str(p.relative_to(HTML)) for p in HTML.rglob("*.html")
                    if 'class="math' in p.read_text(encoding="utf-8")),
                   key=lambda rel: (not rel.startswith("chapters/"), rel))
    assert pages
    outside = []
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=exe, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        try:
            # offline: the browser has no network at all; every request is also recorded, so that a
            # page that merely tries to reach outside the built folder fails the test as well
            context = browser.new_context(offline=True)
            page = context.new_page()
            page.on("request", lambda r: None if r.url.startswith(("file://", "data:", "blob:"))
                    else outside.append(r.url))
            for rel in pages:
                page.goto((HTML / rel).as_uri())
                page.wait_for_function(
                    "() => document.querySelectorAll('mjx-container').length > 0", timeout=20000)
                n_typeset = page.evaluate("document.querySelectorAll('mjx-container').length")
                n_math = page.evaluate("document.querySelectorAll('div.math, span.math').length")
                errors = page.evaluate("document.querySelectorAll('mjx-merror').length")
                assert n_typeset >= n_math > 0, (rel, n_typeset, n_math)
                assert errors == 0, f"{rel}: {errors} MathJax errors"
        finally:
            browser.close()
    assert not outside, f"pages tried to load from outside the built book: {sorted(set(outside))}"
