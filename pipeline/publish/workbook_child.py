"""``python -m pipeline.publish.workbook_child``: write one snapshot workbook, as a child process.

xlsxwriter builds every cell's XML in pure Python (about 1.3 million cells on the embedded
default), so the publisher runs it here, on the other core, while it writes the Parquet
snapshot and the report itself (pipeline.publish.excel.WorkbookProcess). Reads its arguments
as one JSON object on stdin and writes write_workbook's answer as JSON to the file the job names.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pipeline.publish.excel import write_workbook


def main() -> int:
    job = json.load(sys.stdin)
    written = write_workbook(Path(job["database"]), Path(job["path"]), job["manifest"], job["access"])
    Path(job["answer"]).write_text(json.dumps(written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
