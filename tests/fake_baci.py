"""SYNTHETIC CEPII BACI files and a local stand-in for CEPII's download folder (127.0.0.1 only).

No real BACI flow rows exist in this project (sources.md 3): :data:`FLOWS` is a small hand-made matrix of
real BACI country codes (156 China, 251 France, 276 Germany, 392 Japan, 528 Netherlands, 699 India, 842 USA)
and real HS 2017 codes, values in thousand USD with three decimals and quantities in tonnes, some missing as
``NA`` as in BACI. The expected figures of the tests are computed by hand from these rows.

``FakeBaci`` serves ``/<name>.zip`` with HTTP range requests (Python's http.server has none) and can cut the
body of the next ``cut_next`` downloads after ``cut_after`` bytes, as a dropped connection would.
"""

from __future__ import annotations

import http.server
import io
import re
import threading
import zipfile
from pathlib import Path

HEADER = "t,i,j,k,v,q"

# (year, exporter i, importer j, HS6 k, value v in thousand USD, quantity q in tonnes or 'NA') - SYNTHETIC
FLOWS = [
    # Netherlands' imports of 810520 (cobalt mattes: one code in HS 2017 and HS 2022) in 2021:
    # China 60.00125%, Germany 25%, USA 14.99875%
    (2021, 156, 528, "810520", "6000.125", "1250.5"),
    (2021, 276, 528, "810520", "2500.000", "610.25"),
    (2021, 842, 528, "810520", "1499.875", "NA"),
    # Germany's and France's imports of the same product
    (2021, 156, 276, "810520", "3000.000", "700"),
    (2021, 392, 276, "810520", "1000.000", "150.125"),
    (2021, 156, 251, "810520", "500.000", "120"),
    (2021, 528, 251, "810520", "250.500", "60"),
    # a code with a leading zero (live horses), traded both ways
    (2021, 251, 528, "010121", "12.345", "3.5"),
    (2021, 528, 276, "010121", "7.000", "NA"),
    # India's imports of cobalt ores, one supplier besides China
    (2021, 842, 699, "260500", "80.000", "40"),
    (2021, 156, 699, "260500", "20.000", "9.75"),
]


def year_csv(year: int, rows=None, *, header: str = HEADER) -> str:
    """A BACI yearly CSV's text (BACI pads no field here; the reader trims anyway): the rows of ``year``, and
    rows whose year is text (a bad value a test plants in this year's file)."""
    rows = [r for r in (FLOWS if rows is None else rows) if r[0] == year or isinstance(r[0], str)]
    return header + "\n" + "".join(",".join(str(v) for v in r) + "\n" for r in rows)


def write_year(folder: Path, year: int, rows=None, *, edition: str = "HS17", release: str = "V202301",
               header: str = HEADER) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"BACI_{edition}_Y{year}_{release}.csv"
    path.write_text(year_csv(year, rows, header=header), encoding="utf-8")
    return path


def edition_zip(years=(2021,), rows=None, *, edition: str = "HS17", release: str = "V202301") -> bytes:
    """The zip CEPII ships for one edition: the yearly CSVs and the two dictionaries."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for year in years:
            archive.writestr(f"BACI_{edition}_Y{year}_{release}.csv", year_csv(year, rows))
        archive.writestr(f"country_codes_{release}.csv",
                         (Path(__file__).resolve().parents[1] / "data" / "reference"
                          / "baci_country_codes_V202301.csv").read_text(encoding="utf-8"))
        archive.writestr(f"product_codes_{edition}_{release}.csv", "code,description\n810520,Cobalt mattes\n")
    return buffer.getvalue()


class FakeBaci:
    """CEPII's download folder on 127.0.0.1: ``put(name, bytes)``, then GET ``/<name>`` with or without Range."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.log: list[dict] = []
        self.cut_next, self.cut_after = 0, 0
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                name = self.path.lstrip("/").split("?")[0]
                asked = self.headers.get("Range")
                fake.log.append({"path": name, "range": asked})
                body = fake.files.get(name)
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                start, end = 0, len(body) - 1
                found = re.fullmatch(r"bytes=(\d+)-(\d*)", asked or "")
                if found:
                    start = int(found[1])
                    end = min(int(found[2]), len(body) - 1) if found[2] else len(body) - 1
                part = body[start:end + 1]
                self.send_response(206 if found else 200)
                if found:
                    self.send_header("Content-Range", f"bytes {start}-{end}/{len(body)}")
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(len(part)))
                self.end_headers()
                if fake.cut_next > 0:
                    # a dropped connection: part of the body, then the socket closes
                    fake.cut_next -= 1
                    self.wfile.write(part[:fake.cut_after])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(part)

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeBaci":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def put(self, name: str, data: bytes) -> None:
        self.files[name] = data
