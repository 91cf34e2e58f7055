#!/usr/bin/env python3
"""Screenshot a Fengqiao page, logged in, with Debian's chromium (never a downloaded browser).

    .venv/bin/python scripts/screenshot.py URL OUT.png [--user admin --password Fengqiao@2026] [--mobile]

Logs in through the login form of the same server (``/accounts/login/``)
when ``--user`` is given, then opens URL and saves a full-page PNG. Desktop
is 1366x900; ``--mobile`` is a 390x844 phone viewport with touch. ``--lang
en`` switches the interface language first (the default is the site default).
The demo password is the default for ``--password`` (demo data only).
A warning is printed when the page is wider than the viewport (sideways scrolling).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from urllib.parse import urljoin, urlsplit

CHROMIUM = os.environ.get("FENGQIAO_CHROMIUM", "/usr/bin/chromium")  # system chromium, never downloaded
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"viewport": {"width": 1366, "height": 900}}
MOBILE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DEMO_PASSWORD = "Fengqiao@2026"  # noqa: S105 - the public demo password


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("url", help="page to capture, e.g. http://127.0.0.1:8000/regions/")
    parser.add_argument("out", type=Path, help="PNG file to write")
    parser.add_argument("--user", help="log in as this user first")
    parser.add_argument("--password", default=DEMO_PASSWORD, help="password (default: the demo password)")
    parser.add_argument("--mobile", action="store_true", help="390x844 phone viewport with touch")
    parser.add_argument("--lang", choices=["zh-hans", "en"], help="switch the interface language first")
    parser.add_argument("--login-path", default="/accounts/login/", help="login page path (default %(default)s)")
    parser.add_argument("--wait", type=int, default=300, help="extra milliseconds to wait before the shot")
    parser.add_argument("--timeout", type=int, default=20000, help="navigation timeout in milliseconds")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: apt-get install chromium fonts-noto-cjk", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    parts = urlsplit(args.url)
    origin = f"{parts.scheme}://{parts.netloc}"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(**(MOBILE if args.mobile else DESKTOP), locale="zh-CN")
            context.set_default_timeout(args.timeout)
            page = context.new_page()
            if args.user:
                page.goto(urljoin(origin, args.login_path))
                page.fill("input[name=username]", args.user)
                page.fill("input[name=password]", args.password)
                with page.expect_navigation():
                    page.click("form:has(input[name=password]) button[type=submit]")
                if urlsplit(page.url).path == args.login_path:
                    print(f"login as {args.user!r} failed (still on the login page)", file=sys.stderr)
                    page.screenshot(path=str(args.out), full_page=True)
                    return 1
            if args.lang:
                page.goto(args.url)
                button = page.locator(f"form.lang-switch button[value={args.lang}]")
                if button.count():
                    with page.expect_navigation():
                        button.first.click()
            response = page.goto(args.url, wait_until="networkidle")
            page.wait_for_timeout(args.wait)
            page.screenshot(path=str(args.out), full_page=True)
            status = response.status if response is not None else 0
            print(f"{args.out} ({status} {page.url})")
            width = page.evaluate("document.documentElement.scrollWidth")
            viewport = page.viewport_size["width"] if page.viewport_size else 0
            if width > viewport:
                print(f"warning: the page is {width}px wide in a {viewport}px viewport (scrolls sideways)")
            return 0 if status < 400 else 1
        finally:
            browser.close()


if __name__ == "__main__":
    sys.exit(main())
