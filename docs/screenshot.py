"""Make docs/report.png, the README's picture of `mailidx report`, from the bundled sample:
index examples/ in a scratch directory, write the page, and photograph its top in headless
Chromium (the browser test's DevTools client).

    .venv/bin/python docs/screenshot.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser import Browser  # noqa: E402
from tests.conftest import Mailidx  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        idx = Mailidx(Path(tmp) / "index.duckdb", Path(tmp))
        idx.build(*sorted((ROOT / "examples").glob("maillog*")), "--year", "2026")
        page_file = Path(tmp) / "report.html"
        idx.run("report", "--html", str(page_file))
        browser = Browser()
        try:
            browser.open(page_file).screenshot(ROOT / "docs" / "report.png")
        finally:
            browser.close()


if __name__ == "__main__":
    main()
