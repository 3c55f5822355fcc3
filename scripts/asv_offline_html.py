"""Makes asv's published HTML work without the internet: asv's index.html loads
jQuery, flot, bootstrap and three small plugins from CDNs, so on a machine
without a connection the dashboard shows only "Can not determine continental
origin of swallow". This replaces those tags by local copies from Debian's
packages (apt-get install libjs-jquery libjs-jquery-flot libjs-bootstrap) put
in HTML_DIR/vendor/, and by stand-ins for the plugins Debian lacks: tables do
not sort (stupidtable) and bars are not reordered (flot orderBars); the
regressions page's md5 is a stand-in hash. Graphs, parameters and the grid work
(flot 4 draws asv's flot 0.8 graphs; the legend box is drawn dark).

usage: python scripts/asv_offline_html.py HTML_DIR   (scripts/asv_dashboard.sh --offline runs it)
"""

import re
import shutil
import sys
from pathlib import Path

JS = Path("/usr/share/javascript")
LOCAL = {  # a part of the CDN file name -> the Debian file standing in for it
    "jquery-3": JS / "jquery" / "jquery.min.js",
    "jquery.flot.min.js": JS / "jquery-flot" / "jquery.flot.pack.js",  # flot with every plugin
    "bootstrap.min.js": JS / "bootstrap" / "js" / "bootstrap.min.js",
    "bootstrap.min.css": JS / "bootstrap" / "css" / "bootstrap.min.css",
}
IN_PACK = ("jquery.flot.time", "jquery.flot.selection", "jquery.flot.categories")
SHIMS = {
    "orderBars": "/* offline stand-in: bars are not reordered */",
    "stupidtable": "jQuery.fn.stupidtable = function () { return this; }; /* offline stand-in: tables do not sort */",
    "md5": ("window.md5 = function (s) { var h = 0; for (var i = 0; i < s.length; i++) "
            "{ h = (h * 31 + s.charCodeAt(i)) | 0; } return ('0000000' + (h >>> 0).toString(16)).slice(-8); };"),
}
TAG = re.compile(r'<(script|link)\b[^>]*?(?:src|href)="(https://[^"]+)"[^>]*>(?:</script>)?')


def local_tag(kind: str, url: str, vendor: Path) -> str:
    name = url.rsplit("/", 1)[-1]
    for key, path in LOCAL.items():
        if key in name:
            if not path.is_file():
                sys.exit(f"asv_offline_html: no local copy of {name}: {path} is missing "
                         "(apt-get install libjs-jquery libjs-jquery-flot libjs-bootstrap)")
            shutil.copy(path, vendor / path.name)
            if kind == "link":
                return f'<link rel="stylesheet" href="vendor/{path.name}">'
            return f'<script src="vendor/{path.name}"></script>'
    if name.startswith(IN_PACK):
        return ""
    for key, body in SHIMS.items():
        if key in name:
            (vendor / f"{key}-shim.js").write_text(body + "\n")
            return f'<script src="vendor/{key}-shim.js"></script>'
    sys.exit(f"asv_offline_html: no local stand-in for {url}")


def main() -> None:
    html = Path(sys.argv[1])
    vendor = html / "vendor"
    vendor.mkdir(exist_ok=True)
    for page in html.glob("*.html"):
        text = TAG.sub(lambda m: local_tag(m.group(1), m.group(2), vendor), page.read_text())
        page.write_text(text)


if __name__ == "__main__":
    main()
