"""The data dictionary of a snapshot (``DICTIONARY.md``): every published table and column with its meaning,
unit, currency, access class and the methodology section it follows: meanings from the tables' SQL headers and
``pipeline.glossary`` (pipeline/catalog.py), with the thresholds the publication used."""

from __future__ import annotations

from pipeline import catalog, glossary

DICTIONARY_FILE = "DICTIONARY.md"


def dictionary_rows(tables: dict, parameters: dict | None = None) -> list[dict]:
    """One row per (table, column) of the manifest's ``tables`` (each with its ``schema``); ``parameters``: the
    thresholds the publication used, written into the meanings that name one."""
    rows = []
    for table, meta in sorted(tables.items()):
        for field in meta.get("schema", []):
            name, dtype = field["name"], field.get("type", "")
            rows.append({
                "table": table,
                "column": name,
                "type": dtype,
                "meaning": catalog.describe(name, table, parameters) or "",
                "unit": glossary.unit(name, _duck_type(dtype)),
                "currency": glossary.currency(name),
                "methodology": catalog.methodology(table),
            })
    return rows


def _duck_type(arrow_type: str) -> str:
    t = arrow_type.lower()
    if t == "bool":
        return "BOOLEAN"
    if t.startswith(("int", "uint")):
        return "BIGINT"
    if t.startswith(("double", "float", "decimal")):
        return "DOUBLE"
    if t.startswith(("timestamp", "date")):
        return "TIMESTAMP"
    return "VARCHAR"


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def dictionary_markdown(manifest: dict) -> str:
    """DICTIONARY.md: a section per table (description, rows, access class, methodology section), then its columns."""
    lines = [
        f"# Data dictionary: snapshot {manifest['snapshot_id']}",
        "",
        "Every table of this snapshot and every column: what it means, its unit, the currency of money columns",
        "(always the row's `currency`: USD for UN Comtrade, EUR for Eurostat Comext; never mixed in one figure),",
        "and the section of the methodology (docs/methodology.md) it follows. Shares are fractions 0..1; HHI is",
        "0..1 (1 = one supplier). Codes: ISO 3166 alpha-3 countries, EU27 for the bloc, HS 2022 six-digit products;",
        "the reference.* tables name them.",
        "",
    ]
    if manifest.get("synthetic"):
        lines += [f"**{manifest.get('synthetic_note') or 'CONTAINS SYNTHETIC DEMO DATA'}**", ""]
    rows = dictionary_rows(manifest.get("tables", {}), manifest.get("parameters"))
    for table, meta in sorted(manifest.get("tables", {}).items()):
        lines += [
            f"## {table}",
            "",
            f"{meta.get('description', '')}",
            "",
            f"File `{meta['file']}`, {meta['rows']:,} rows, access: **{meta.get('access', '?')}**, methodology: "
            f"{catalog.methodology(table) or '-'}.",
            "",
            "| column | type | unit | currency | meaning |",
            "|---|---|---|---|---|",
        ]
        lines += [f"| `{r['column']}` | {r['type']} | {r['unit']} | {_cell(r['currency']) or '-'} | {_cell(r['meaning'])} |"
                  for r in rows if r["table"] == table]
        lines.append("")
    return "\n".join(lines)
