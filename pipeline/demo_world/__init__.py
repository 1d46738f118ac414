"""Deterministic SYNTHETIC "demo world": trade files in the real source formats.

Why this exists
---------------
The pipeline must run end to end without a Comtrade subscription key or a
multi-gigabyte Comext download: on a fresh clone, in CI, and in benchmarks.
This package invents one world of trade and writes it as the files the real
readers consume, so that every stage (ingest, filtering, HHI, screens) runs on
realistic shapes and traps, and the results can be checked against answers
that were planted on purpose.

EVERYTHING WRITTEN HERE IS SYNTHETIC. Every file name starts with
``SYNTHETIC_``, each source folder gets a ``_release.json`` sidecar with
``"synthetic": true`` (the readers mark every row from such a folder as
synthetic), and ``planted.json`` in the output root describes the world.

The model
---------
1. One "true" bilateral matrix per year, in USD: exporter -> importer -> HS6
   value. ~60 countries (all EU27 members and the main third countries) are
   both reporters and partners. Big importers import more products, from more
   suppliers (participation and supplier count rise with size). Each
   (importer, product) pair that trades has a random subset of suppliers,
   drawn with probability ~ exporter size x sqrt(product-specific comparative
   advantage) (Gumbel top-k = weighted sampling without replacement), and
   heavy-tailed supplier shares (size^0.4 x comparative advantage x lognormal
   noise), so a product's big importers buy from 10-25 countries with a few
   large and many small shares. Gravity in two blocs: EU members pick and
   weigh each other more (the single market; intra-EU trade is ~60% of their
   imports) and third countries weigh EU suppliers less (distance), so the
   EU's extra-EU imports and exports are of the same order, and every big
   member exports nearly every product to some third country. An importer's
   expected total is its size share of world trade. Calibrated so that the EC
   screen on the default world (scale 0.01) flags ~3% of the EU27's HS6
   products as dependent (the EC found 137 of ~5,200, 2.6%), not because of
   missing data: fewer than 10% of the EU27 and NL screen rows have no
   extra-EU exports.
2. Planted dependencies (see ``planted.planted_specs``) override the random shares of
   a few (importer, product) keys in every year, so that a pipeline run on the
   files must find them again; their design shares go to ``planted.json``.
3. Views of that truth in the real formats:

   * UN Comtrade v1 records (47 fields, order of the API), every reporter,
     annual: imports reported CIF (truth x ~1.05 x small noise), exports FOB
     (truth x small noise), so mirror flows agree within CIF/FOB noise. Per
     (reporter, flow, product) a World row (partner 0) equal to the sum of its
     partner rows, including small unallocated rows to 899 "Areas, nes" and
     839 "Special Categories". Traps a correct pipeline must handle: breakdown
     rows (customsCode C01, motCode 2100, partner2Code != 0) duplicating part
     of a value, and, for two reporters, HS2 aggregate rows (aggrLevel 2,
     isLeaf false) next to the HS6 detail.
     Written as API pages (``--format json``) or as bulk files (``bulk``).
   * Eurostat Comext ``full_v2`` monthly CSV for the 27 member states, in EUR
     (fixed yearly ECB rates, ``USD_PER_EUR``), each flow spread over months
     with seasonality and noise and split into 1-3 CN8 codes, some rows split
     over STAT_PROCEDURE 1 and 2, plus confidential product codes
     (``39XXXXXX``) and pseudo-partners QV/QY/QS with small values.

Scale
-----
``scale=1.0`` is about 9 million Comtrade rows per year (one year of world HS6
bilateral trade); ``scale=0.01`` about 90,000. The number of products
(required codes + the rest x scale^0.75, up to all HS6 codes), the
participation of importers and the mean number of suppliers per (importer,
product) all grow with the scale: small worlds hold fewer products, each traded
by many countries, rather than many thinly traded ones. The product set always
covers every strategic-domain prefix and never holds HS6 392010.

Determinism
-----------
Every random draw comes from ``numpy.random.default_rng([seed, stream, ...])``,
year streams are keyed by the year (so a year's data do not depend on which
other years are generated), outputs are sorted, gzip headers carry mtime 0.
Same arguments -> byte-identical files.

No Python loop over data rows: loops run over reporters, years, months, files
and the handful of planted definitions only; rows are numpy/polars vectors.

The modules, along those seams: ``countries`` (the country table, reference data),
``world`` (scale, products, the true flow matrix, the yearly USD per EUR), ``planted`` (the planted answers),
``core`` (what every reporter reports: the view each writer starts from), ``files`` (writing and finding
the files), ``build`` (the driver, :func:`generate`), ``cli`` (``python -m pipeline.demo_world``), ``cache`` (one
generated world per stamp, kept in the checkout). The file formats are the sources': each registered source's
writer (its ``demo_writer``: ``pipeline/sources/comtrade/demo.py``, ``pipeline/sources/comext/demo.py``) turns the
reported core into its files; the writers import this shared world, never the other way round, and
:func:`generator_sha256` hashes them with this package.

The package's names are imported on first use (:func:`__getattr__`): a run whose world comes from the cache needs
only :func:`generator_sha256`, and numpy and polars (0.1-0.25 CPU-s) are then imported by runs that generate.
"""

import hashlib
import importlib
import importlib.util
from pathlib import Path

# name -> the module of this package that defines it
_LAZY = {"COUNTRIES": "countries", "EU27": "countries", "HS2_AGGREGATE_REPORTERS": "countries",
         "countries_frame": "countries", "files_of_year": "files", "GENERATOR": "build", "generate": "build"}

__all__ = ["COUNTRIES", "EU27", "GENERATOR", "HS2_AGGREGATE_REPORTERS", "countries_frame", "files_of_year", "generate",
           "generator_files", "generator_sha256"]


def generator_files() -> list[tuple[str, Path]]:
    """The generator's source as (label, file): every module of this package (the shared world), then each
    registered source's writer (its ``demo_writer``, in the source's own folder), found without importing it."""
    # the registry as it is when asked (a source registered later is covered); reading it imports no numpy
    from pipeline.sources import registry

    files = [(path.name, path) for path in sorted(Path(__file__).resolve().parent.glob("*.py"))]
    for source in registry.SOURCES:
        if not source.demo_writer:
            continue
        spec = importlib.util.find_spec(source.demo_writer)
        if spec is None or spec.origin is None:
            raise ModuleNotFoundError(f"source {source.name!r}: its demo_writer {source.demo_writer!r} is no module")
        origin = Path(spec.origin).resolve()
        if spec.submodule_search_locations:  # a writer package: all of its modules
            files += [(f"{source.demo_writer}/{p.relative_to(origin.parent).as_posix()}", p)
                      for p in sorted(origin.parent.rglob("*.py"))]
        else:
            files.append((source.demo_writer, origin))
    return files


def generator_sha256() -> str:
    """One hash of the generator's source (:func:`generator_files`): the stamp of a generated world, so a changed
    generator, shared world or any source's writer alike, regenerates it instead of reusing the cached one."""
    digest = hashlib.sha256()
    for label, path in generator_files():
        digest.update(label.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # once: later lookups find it without this function
    return value
