"""What every published column means, in one place.

The publisher writes these as ``COMMENT ON COLUMN`` into ``geomonitor.duckdb`` (so
``DESCRIBE`` and ``duckdb_columns()`` explain themselves), the snapshot manifest
carries them, and the Dagster column schema shows them. A column name means the
same thing in every table; a test fails when a published column has no entry. A column only one table has
may instead be declared in that table's SQL header (``-- column <name>: ...``, pipeline/contracts.py).

A meaning that depends on a setting names it as a placeholder, ``{depends_share}``: the publisher writes the
value the run used (``depends_share = 0.5``), anything else the setting's name alone (``describe``), so no
published comment states a default the run did not use.
"""

import re
from collections.abc import Sequence

from pipeline.sources import Source
from pipeline.sources.registry import SOURCES


def source_meanings(sources: Sequence[Source]) -> dict[str, str]:
    """The meanings that list the sources, from the registry (a new source needs no edit here): the ``source`` and
    ``currency`` columns, and a value column's currency (``value_currency``, see :func:`currency`)."""
    names = [f"'{s.name}' ({s.label}, {s.currency})" for s in sources]
    return {
        "source": f"Data source: {', '.join(names[:-1])} or {names[-1]}." if len(names) > 1
        else f"Data source: {names[0]}.",
        "currency": "Currency of every value in the row: "
                    f"{', '.join(f'{s.currency} for {s.label}' for s in sources)}; never mixed.",
        "value_currency": "row's currency: " + " / ".join(f"{s.currency} ({s.name})" for s in sources),
    }


_SOURCE_MEANINGS = source_meanings(SOURCES)

COLUMNS: dict[str, str] = {
    # keys and provenance
    "source": _SOURCE_MEANINGS["source"],
    "currency": _SOURCE_MEANINGS["currency"],
    "reporter": "Reporting country (ISO3), or EU27 for the EU as one bloc.",
    "importer": "Importing country (ISO3), or EU27; the country whose imports are measured.",
    "supplier": "The supplier whose importance is measured: NLD (the Netherlands) or EU27 (member states as one).",
    "partner": "Partner country (ISO3) or a source pseudo-code (WORLD, CT899, QX, ...).",
    "year": "Calendar year (annual data, or the sum of its months).",
    "month": "Month 1-12 for monthly rows; null for annual rows.",
    "freq": "A annual or M monthly, as the source delivered it.",
    "flow": "import, export, re-import or re-export.",
    "release": "The source release(s) the row was computed from; 'SYNTHETIC demo-world ...' for demo data.",
    "synthetic": "True when any input of the row is synthetic demo data, not real trade figures.",
    "source_file": "Input file the row was read from (kind:folder/name).",
    "source_line": "First line (CSV) or record position (JSON page) in source_file that fed the row.",
    "classification": "Product classification as reported: HS edition H0..H6 (Comtrade) or CN<year> (Comext).",
    # products
    "product_code": "HS6 product code (first six digits for Comext CN8); for group rows the group's code.",
    "product_code_native": "Product code exactly as the source gave it (CN8 for Comext, confidential codes with X kept).",
    "product_level": "Product grouping of the row: HS6, HS4, HS2 or domain (or TOTAL/CN8 in staging).",
    "is_detail": "True for the source's finest product level (HS6 Comtrade, CN8 Comext); totals are false.",
    "hs2": "HS chapter (2 digits), where the code's leading digits reach it.",
    "hs4": "HS heading (4 digits), where the code's leading digits reach it.",
    "domain": "Strategic domain of the product (reference.strategic_domains); a product in several domains shows "
              "the one of its longest matching prefix (ties: alphabetical); staging.product_domains lists all. Null if none.",
    "listed_in": "The published list(s) the domain entry comes from (data/reference/PROVENANCE.md): seed, crma_annex_i, "
                 "crma_annex_ii, ec_swd_2021_352, ec_swd_2022_41.",
    "domain_prefix": "The reference.strategic_domains prefix that puts the product in the domain (the longest within it).",
    "domain_rank": "1 for the product's domain shown in one-domain columns (longest prefix, then alphabetical), 2.. for the others.",
    # partner classification
    "partner_kind": "country, aggregate, unspecified, confidential or special (methodology section 3).",
    "reporter_kind": "Kind of the reporter code: country, or bloc for Comext's EU27_2020 rows.",
    "partner_scope": "Partners counted: 'all' (every country but the reporter) or 'extra_eu' (non-EU countries only).",
    # values
    "value": "Trade value in the row's currency (imports CIF, exports FOB).",
    "net_mass_kg": "Net mass in kg; null where the source gave none or only an estimated zero.",
    # concentration
    "n_suppliers": "Number of supplier countries with a positive value in the partner scope.",
    "hhi": "Herfindahl-Hirschman index of supplier shares, 0..1 (1 = one supplier); null without suppliers.",
    "equivalent_suppliers": "1 / hhi: the number of equal suppliers that would give the same concentration.",
    "hhi_normalized": "(hhi - 1/n) / (1 - 1/n); null when there is one supplier.",
    "top1_partner": "Largest supplier (ties: the highest code).",
    "top1_value": "Value from the largest supplier.",
    "top1_share": "Largest supplier's share of allocated_value.",
    "top3_share": "Share of the three largest suppliers in allocated_value.",
    "allocated_value": "Sum of values from supplier countries in the partner scope (the HHI's denominator).",
    "unallocated_value": ("Value with unspecified/confidential/special partners (for 'extra_eu' only the extra-EU and "
                          "scope-free codes) plus the World total not accounted for by any partner row, floored at 0 per "
                          "reporter and product (per member state for EU27) before summing: additive over products "
                          "and members."),
    "partner_rows_above_world": ("By how much partner rows exceed the World total, per reporter and product (per "
                                 "member state for EU27), summed: a discrepancy in the source, never netted against "
                                 "another product's unallocated value."),
    "unallocated_share": "unallocated_value / (allocated_value + unallocated_value).",
    "low_confidence": ("True when unallocated_share exceeds the low-confidence threshold "
                       "({low_confidence_unallocated_share})."),
    "internal_value": ("Value the scope leaves out: re-imports (a member's trade with itself for EU27), and for "
                       "'extra_eu' imports from member states and the intra-EU codes QR/QV/QY."),
    "world_value": ("Sum of the World totals of the row's products (per member for EU27); null when any of them has "
                    "no World total. allocated + unallocated + internal = world_value + partner_rows_above_world."),
    "months_covered": ("Months with data in the reporter-year: 12 when all its rows are annual, else the months of its "
                       "monthly rows; for EU27 the fewest months of any member (bloc_months_min)."),
    "bloc_members": "For EU27 rows: number of member states with data that year (27 when from the source's own EU rows).",
    "bloc_months_min": "For EU27 rows: the fewest months any member state covers that year.",
    "bloc_complete": ("For EU27 rows: all 27 member states with 12 months each. An incomplete bloc row is never "
                      "flagged dependent (its criteria are still shown); null for other reporters."),
    "year_complete": ("The reporter-year covers 12 months (for EU27: bloc_complete). An incomplete year (typically the "
                      "year in progress) shows its criteria but is never dependent or flagged, and counts as not "
                      "flagged in persistence (methodology section 5)."),
    "bloc_basis": ("For EU27 rows: 'members' (member reporters summed), 'eu27_rows' (the source's own EU rows) or "
                   "'mixed' (both, for different product codes)."),
    # EC screen
    "partner_share": "The partner's share of the reporter's imports from non-EU supplier countries (the extra-EU HHI's shares).",
    "partner_rank": "The partner's rank among the reporter's non-EU supplier countries (1 = largest; ties: the higher code).",
    "hhi_extra": "HHI over non-EU supplier countries (criterion C1).",
    "n_suppliers_extra": "Number of non-EU supplier countries.",
    "top_supplier": ("Largest supplier counted in the row's HHI: the largest non-EU country in the EC screen, its "
                     "views and trends, and for EU27 everywhere; the largest country partner of a country importer "
                     "in the world-supply screen. Ties go to the highest country code."),
    "top_supplier_share": "top_supplier's share of imports from non-EU countries (of allocated imports elsewhere).",
    "top_supplier_value": "Value imported from top_supplier.",
    "m_extra": "Imports from non-EU countries (M_extra).",
    "m_intra": "Imports from EU member states (M_intra).",
    "x_extra": "Exports to non-EU countries (X_extra).",
    "extra_eu_import_share": "M_extra / (M_extra + M_intra) (criterion C2).",
    "import_export_ratio": "Imports / exports (C3 or G3); null when exports are zero (which passes the criterion).",
    "c1_threshold": "C1 threshold used: hhi_extra must exceed it.",
    "c2_threshold": "C2 threshold used: extra_eu_import_share must exceed it.",
    "c3_threshold": "C3 threshold used: import_export_ratio must exceed it.",
    "c1_concentration": "C1: hhi_extra > c1_threshold.",
    "c2_importance": "C2: extra_eu_import_share > c2_threshold.",
    "c3_substitutability": ("C3: import_export_ratio > c3_threshold, or extra-EU imports without any extra-EU exports; "
                            "null when neither (not screened)."),
    "dependent": ("C1 and C2 and C3 and year_complete (bloc_complete for EU27; on a rolling window window_complete): a "
                  "candidate dependency (evidence for analysts, not a verdict). False when the product is not screened."),
    "screened": "Something of the product was traded outside the EU (M_extra or X_extra > 0); unscreened rows are never dependent.",
    "years_flagged": "Number of years in which the product is flagged for this reporter/importer.",
    "years_screened": "Number of years in which the product was screened for this reporter.",
    "hhi_all_partners": "NL's HHI over all partner countries, EU included.",
    "top_partner_all": "NL's largest partner country over all partners.",
    "top_partner_all_share": "top_partner_all's share of NL's imports from all partner countries.",
    "caveat": "Caveat that applies to the row (quasi-transit for NL rows from Comext).",
    # world screen
    "importer_hhi": "The importer's HHI (all partner countries; extra-EU for EU27).",
    "imports": "The importer's total imports of the product (World total; extra-EU for EU27).",
    "exports": "The importer's exports of the product (to the world; extra-EU for EU27).",
    "reporters_in_year": "Comtrade reporters with any data in the year.",
    "world_covered": "True when reporters_in_year reaches min_world_reporters, so world shares are meaningful.",
    "world_coverage_note": "Why world export concentration is null, when it is.",
    "hhi_world_exports": "HHI of all exporters' shares in world exports of the product (criterion G2).",
    "top_world_exporter": "Largest exporter of the product in the world.",
    "top_world_exporter_share": "top_world_exporter's share of world exports.",
    "n_exporters": "Number of exporters reporting exports of the product.",
    "g1_threshold": "G1 threshold used for importer_hhi.",
    "g2_threshold": "G2 threshold used for hhi_world_exports.",
    "g3_threshold": "G3 threshold used for the import/export ratio.",
    "g1_importer_concentration": "G1: importer_hhi > g1_threshold.",
    "g2_world_concentration": "G2: hhi_world_exports > g2_threshold; null without world coverage.",
    "g3_net_importer": "G3: imports / exports > g3_threshold, or no exports at all.",
    "flagged": ("G1 and G2 and G3 in this year (never for an incomplete year: year_complete false); null without world "
                "coverage."),
    "persistent": "Flagged in at least persistence_min_years of the persistence_window_years years up to this one.",
    "years_flagged_in_window": "Years flagged within the persistence window.",
    "years_in_window": "Years with data within the persistence window.",
    # dependence on a supplier
    "imports_from_supplier": "The importer's reported imports from the supplier (partner view).",
    "imports_from_nl": "The importer's reported imports from the Netherlands (partner view).",
    "imports_from_eu": "The importer's reported imports from the 27 member states together (partner view).",
    "importer_total_imports": "The importer's total imports of the product: World total, unallocated included.",
    "supplier_share": "imports_from_supplier / importer_total_imports.",
    "nl_share": "imports_from_nl / importer_total_imports (partner view: mostly NL as producer).",
    "eu_share": "imports_from_eu / importer_total_imports.",
    "supplier_rank": "The supplier's rank among the importer's supplier countries (1 = largest); null if it sold nothing.",
    "nl_rank": "NL's rank among the importer's supplier countries (1 = largest); null if NL sold nothing.",
    "eu_rank": "The EU's rank (members merged) among the importer's suppliers; null if it sold nothing.",
    "supplier_is_top": "The supplier is the importer's largest supplier (ties included).",
    "nl_is_top_supplier": "NL is the importer's largest supplier (ties included).",
    "eu_is_top_supplier": "The EU (members merged) is the importer's largest supplier (ties included).",
    "importer_top_partner": "The importer's largest supplier country.",
    "depends": ("supplier_share >= depends_share, or the supplier is top and importer_hhi > depends_top_hhi; null "
                "where the importer's own report is missing."),
    "depends_on_nl": ("nl_share >= {depends_share}, or NL is the top supplier and the importer's HHI > "
                      "{depends_top_hhi} (thresholds in the "
                      "row); null (unknown) where the importer's own report is missing (mirror view only)."),
    "depends_on_eu": ("eu_share >= {depends_share}, or the EU is the top supplier and the importer's HHI > "
                      "{depends_top_hhi}; null (unknown) "
                      "where the importer's own report is missing."),
    "depends_share_threshold": "Share threshold used for depends_on_*.",
    "depends_top_hhi_threshold": "Importer-HHI threshold used with the top-supplier rule.",
    "supplier_exports": ("The supplier's own reported exports to the importer (mirror view); 0 where the supplier "
                         "reports to the source that year but has no export row to the importer, null where it reports "
                         "nothing that year."),
    "nl_reported_exports": ("NL's own reported exports to the importer (mirror view: NL as hub, re-exports "
                            "included); 0 where NL reports to the source that year without an export row to it, null where NL "
                            "reports nothing that year."),
    "eu_reported_exports": ("The member states' reported exports to the importer, summed (mirror view); 0 where any "
                            "member reports to the source that year, null where none does."),
    "mirror_share": ("Supplier-reported exports / importer_total_imports of the same source (0 when the supplier "
                     "reports but exports none to it); null if the importer or the supplier does not report."),
    "partner_view_available": "The importer reports its imports of the product (partner view present).",
    "mirror_view_available": "The supplier reports exports of the product to the importer (mirror view present).",
    "supplier_world_export_share": "The supplier's share of world exports of the product (Comtrade rows only).",
    "nl_world_export_share": ("NL's share of world exports of the product (Comtrade rows only); 0 where world exports "
                              "are known and NL exports none, null where nobody reports exporting it."),
    "eu_world_export_share": ("The member states' share of world exports of the product (Comtrade rows only); 0 "
                              "where world exports are known and no member exports it."),
    "lt_supplier_share": ("The supplier's own look-through share of the importer's imports from countries (one hop, "
                          "methodology section 8; an upper bound under proportional re-export): what it supplies "
                          "directly and keeps, plus what the importer's other suppliers pass on of its goods. Null "
                          "without the partner view or without a country supplier."),
    "lt_nl_share": ("NL's look-through share of the importer's imports from countries (one hop, methodology section "
                    "8; an upper bound): NL's direct share less what NL passes on, plus the Dutch goods the importer's "
                    "other suppliers pass on. Null without the partner view or without a country supplier."),
    "lt_eu_share": ("The EU's look-through share: the sum of the 27 member states' look-through shares of the "
                    "importer's imports from countries (one hop, an upper bound). Null as lt_nl_share."),
    "hidden_dependence": ("depends is not true and lt_supplier_share >= depends_share: depending on the supplier's "
                          "goods without buying them from it; null where lt_supplier_share is null."),
    "hidden_dependence_on_nl": ("depends_on_nl is not true and lt_nl_share >= {depends_share}: the importer "
                                "depends on Dutch supply bought through other countries; null where lt_nl_share is null."),
    "hidden_dependence_on_eu": ("depends_on_eu is not true and lt_eu_share >= {depends_share}: the importer "
                                "depends on the member states' supply bought through non-members; null where lt_eu_share is null."),
    # domain summary
    "eu_products_screened": "HS6 products of the domain screened for the EU27.",
    "eu_dependent_products": "Of those, dependent (EC screen).",
    "eu_import_value_at_stake": "Extra-EU imports of the dependent products.",
    "eu_share_of_domain_imports_at_stake": "eu_import_value_at_stake / extra-EU imports of all the domain's products.",
    "eu_main_suppliers": "Up to three top suppliers of the dependent products, by value.",
    "nl_products_screened": "HS6 products of the domain screened for NL.",
    "nl_dependent_products": "Of those, dependent (EC screen on NL's non-EU partners).",
    "nl_import_value_at_stake": "NL's non-EU imports of its dependent products.",
    "partners_depending_on_nl": "Countries that depend on NL for at least one product of the domain.",
    "partners_depending_on_eu": "Countries that depend on the EU for at least one product of the domain.",
    # trends
    "hhi_extra_previous": "hhi_extra in the previous calendar year.",
    "hhi_extra_change": "hhi_extra minus the previous year's.",
    "top_supplier_previous": "Top supplier in the previous year.",
    "top_supplier_share_previous": "Top supplier's share in the previous year.",
    "top_supplier_share_change": "top_supplier_share minus the previous year's.",
    "top_supplier_changed": "The top supplier differs from the previous year's.",
    "dependent_previous": "Dependent in the previous year.",
    "dependency_status": "new, dropped, continuing, none, no_data or no_previous_year (see monitor.trends).",
    # HS revisions: one product axis across years (hs_target_edition, default H6 = HS 2022)
    "hs_edition": "HS edition of the code as reported: H0 (HS 1992) .. H6 (HS 2022); for Comext the edition of the CN8's year.",
    "converted_split": "True when some of the row's value was shared out from a code split across HS revisions (estimated weights).",
    "value_share_from_split": "Part of the row's base value (allocated_value; importer_total_imports for dependence; M_extra for the EC screen) shared out from split codes.",
    "split_dependent": "The row's positive result (dependent, flagged/persistent, depends, a dependency in trends) rests partly on split-code value.",
    "eu_split_dependent_products": "Of the EU27 dependent products, those whose flag rests partly on value from codes split across HS revisions.",
    "nl_split_dependent_products": "Of NL's dependent products, those whose flag rests partly on value from codes split across HS revisions.",
    "from_edition": "Older HS edition of a revision step (H0 = HS 1992 .. H5 = HS 2017).",
    "from_code": "HS6 code in from_edition.",
    "to_edition": "Newer HS edition of the step (H1 = HS 1996 .. H6 = HS 2022).",
    "to_code": "HS6 code in to_edition that from_code corresponds to (wholly or in part).",
    "relationship": "from:to relationship of the pair: 1:1, n:1 (merge), 1:n (split) or n:n, from the pairs themselves.",
    "relationship_table": "The correlation table's own label (for the whole group of codes), read from:to.",
    # reference
    "iso3": "ISO 3166-1 alpha-3 code.",
    "iso2": "ISO 3166-1 alpha-2 code.",
    "m49": "UN M49 numeric code.",
    # each source's code column of the reference tables (comtrade_code, ...), as its registry entry states it
    **{s.code_column: s.code_meaning for s in SOURCES if s.code_column},
    "name": "Name.",
    "code": "Code in its source's code list.",
    "area": "What staging stores for the code: ISO3 for countries, WORLD, or a source pseudo-code.",
    "kind": "country, aggregate, unspecified, confidential or special.",
    "accession_date": "Date the country joined the EU (1952 for the founders: ECSC).",
    "exit_date": "Date the country left the EU, if it did.",
    "in_eu27_2020": "Member of the EU27_2020 composition used for the bloc in every year.",
    "level": "HS level: 2, 4 or 6 digits.",
    "description": "Product description (HS 2022).",
    "parent": "Parent code one level up.",
    "section": "HS section (Roman numeral).",
    "hs_prefix": "HS prefix (2, 4 or 6 digits) that defines the domain entry.",
    "label": "Readable name of the entry.",
    # publication metadata
    "snapshot_id": "Snapshot id: UTC build time and data vintage.",
    "published_at": "When this publication was built (UTC).",
    "code_version": "Git commit and SQL-model hash of the code that built the publication.",
    "synthetic_note": "Warning text when the publication contains synthetic data.",
    "attribution": "Attribution and licence line for the sources.",
    "table": "Raw table the source files were read into.",
    "files": "Number of input files.",
    "rows": "Number of rows.",
    "built_at": "When the table was built and published (UTC).",
    "file": "Input file (kind:folder/name).",
    "line": "Line of the file where the problem was found, where the reader knows it.",
    "reason": "Why the file was quarantined.",
    # analysts' views
    "product": "Product description from HS 2022 (the code itself where HS 2022 has none, e.g. a domain).",
    "importer_name": "Importing country's name.",
    "reporter_name": "Reporting country's name.",
    "top_supplier_name": "Top supplier's name.",
    "top1_partner_name": "Largest supplier's name.",
    # beyond the single-step screen (methodology section 8): look-through shares and supplier loss
    "ultimate_supplier": ("Supplier after looking through one intermediary: a direct supplier keeps what it cannot "
                          "have re-exported, the rest goes to its own suppliers (the importer itself for its own goods "
                          "coming back; EU27 for member states behind the bloc)."),
    "direct_share": "The supplier's share of the importer's imports from countries, as in the HHI (0 if not a direct supplier).",
    "look_through_share": ("Share after looking through one hop (an UPPER BOUND under proportional re-export): "
                           "what the supplier keeps plus what intermediaries pass on from it; sums to 1."),
    "hidden_share": "look_through_share - direct_share: > 0 hidden behind intermediaries, < 0 for an intermediary.",
    "via": "The intermediaries passing most of the supplier's indirect share, largest first, with their contribution.",
    "direct_hhi": "HHI of direct supplier shares (0..1).",
    "look_through_hhi": "HHI of look-through shares (0..1; an upper bound under proportional re-export).",
    "top_direct_supplier": "Largest direct supplier (ties to the highest code).",
    "top_direct_share": "top_direct_supplier's direct share.",
    "top_ultimate_supplier": "Largest supplier after looking through one hop.",
    "top_ultimate_share": "top_ultimate_supplier's look-through share.",
    "hhi_threshold": "Concentration threshold used (the EC screen's C1, ec_c1_hhi).",
    "hidden_dependency": "look_through_hhi above hhi_threshold while direct_hhi is not: a dependency the direct screen misses.",
    "supplier_rank": "Rank of the supplier among the importer's suppliers of the product (1 = largest).",
    "value_at_risk": "Imports from the supplier that would stop (source currency; USD, Comtrade).",
    "share_at_risk": "value_at_risk as a share of the importer's imports from countries.",
    "spare_capacity": ("What the other exporters (not the supplier, not the importer or its members) export of the "
                       "product to anyone but the importer, from their own reports."),
    "coverage": "spare_capacity / value_at_risk: below 1, the rest of the world could not make up for the loss.",
    "supplier_world_export_share": "The supplier's share of world exports of the product (Comtrade reporters).",
    "single_point_of_failure": "supplier_world_export_share > 0.5, or coverage < 1.",
    "products_at_risk": "Number of HS6 products the supplier supplies to the importer.",
    "single_points_of_failure": "Number of those products for which the supplier is a single point of failure.",
    "products_as_top_supplier": "Number of those products for which the supplier is the largest supplier.",
    # rolling 12 months (monitor.ec_screen_rolling, methodology section 8)
    "period_end": "Last month of the 12-month window, 'YYYY-MM'; year is its year.",
    "period_start": "First month of the 12-month window, 'YYYY-MM' (11 months before period_end).",
    "months_in_window": ("Months of the window with data for the reporter (any product); for EU27 the fewest of any "
                         "member state with data in it (bloc_months_min)."),
    "window_complete": "months_in_window = 12; a shorter window shows its criteria but is never flagged dependent.",
    # changes since the previous publication (monitor.changes)
    "screen": "The screen the key belongs to: ec_screen, world_supply_screen, dependence_on_nl or dependence_on_eu.",
    "change": "newly_dependent, no_longer_dependent, top_supplier_changed or hhi_moved (by more than {changes_hhi_move}).",
    "dependent_before": "The key's flag in the previous publication (dependent, flagged or depends_on_*).",
    "dependent_now": "The key's flag in this publication; null when the key is gone.",
    "top_supplier_before": "The key's top supplier in the previous publication.",
    "top_supplier_now": "The key's top supplier in this publication.",
    "hhi_before": "The key's HHI in the previous publication.",
    "hhi_now": "The key's HHI in this publication.",
    "previous_snapshot_id": "Snapshot id of the publication compared with.",
}


# analysts' views, the snapshot's reference tables and the publication's metadata (issue 16)
COLUMNS.update({
    "domain_label": "Readable name of the strategic domain (reference.domains); null if the row has no domain.",
    "supplier_name": "The supplier's name (Netherlands, European Union (27 member states), ...).",
    "partner_name": "Partner country's name.",
    "top_world_exporter_name": "Largest world exporter's name.",
    "importer_top_partner_name": "The importer's largest supplier country's name.",
    "top_partner_all_name": "NL's largest partner country's name (all partners).",
    "top_supplier_previous_name": "Previous year's top supplier's name.",
    "top_supplier_before_name": "Top supplier's name in the previous publication.",
    "top_supplier_now_name": "Top supplier's name in this publication.",
    "ultimate_supplier_name": "Ultimate supplier's name (after looking through one intermediary).",
    "top_direct_supplier_name": "Largest direct supplier's name.",
    "top_ultimate_supplier_name": "Largest look-through supplier's name.",
    "latest_complete_year": ("Latest year in which every reporter that matters (NLD and each of the 27 member "
                             "states, i.e. a complete EU27 bloc) has 12 months of data in the source; null if none."),
    "reporters_checked": "The reporters that must have 12 months: NLD and the EU27 bloc (bloc_complete).",
    "years_published": "Years the source has in monitor.import_concentration.",
})

# A readable name for every strategic domain slug (methodology section 9); the published file and the snapshot
# carry them as reference.domains, the views as domain_label.
DOMAIN_LABELS: dict[str, str] = {
    "active_pharmaceutical_ingredients": "Active pharmaceutical ingredients",
    "batteries": "Batteries",
    "critical_raw_materials": "Critical raw materials",
    "digital_high_tech": "Digital and high-tech",
    "energy_transition": "Energy transition",
    "fossil_energy": "Fossil energy",
    "food_security": "Food security",
    "medical": "Medical and pharmaceutical",
    "rare_earth_magnets": "Rare earths and permanent magnets",
    "semiconductors": "Semiconductors",
    "strategic_raw_materials": "Strategic raw materials (CRMA)",
}
COLUMNS.setdefault("label", "Readable name of the entry.")

# The methodology section (docs/methodology.md) of the reference tables; a SQL model declares its own in its header
# ('-- methodology: ...', read through pipeline/catalog.py).
TABLE_SECTIONS: dict[str, str] = {
    "reference.countries": "2 Sources, currencies, product codes; 3 Partner kinds",
    "reference.hs_products": "2 Sources, currencies, product codes",
    "reference.strategic_domains": "9 Strategic domains",
    "reference.domains": "9 Strategic domains",
}

_VALUE_COLUMNS = {"value", "top1_value", "allocated_value", "unallocated_value", "partner_rows_above_world",
                  "internal_value", "world_value", "top_supplier_value", "m_extra", "m_intra", "x_extra", "imports",
                  "exports", "imports_from_supplier", "imports_from_nl", "imports_from_eu", "importer_total_imports",
                  "supplier_exports", "nl_reported_exports", "eu_reported_exports", "eu_import_value_at_stake",
                  "nl_import_value_at_stake", "value_at_risk", "spare_capacity"}
_INDEX_COLUMNS = {"hhi", "hhi_normalized", "hhi_extra", "hhi_all_partners", "importer_hhi", "hhi_world_exports",
                  "hhi_extra_previous", "hhi_extra_change", "direct_hhi", "look_through_hhi", "hhi_before", "hhi_now",
                  "c1_threshold", "g1_threshold", "g2_threshold", "depends_top_hhi_threshold", "hhi_threshold"}
_RATIO_COLUMNS = {"import_export_ratio", "c3_threshold", "g3_threshold", "coverage", "equivalent_suppliers"}


def is_share(column: str) -> bool:
    """A fraction 0..1 (shown as % in the workbook)."""
    return (column.endswith("_share") or column.startswith("share_") or "_share_" in column
            or column in {"c2_threshold", "depends_share_threshold", "value_share_from_split"})


def unit(column: str, data_type: str = "") -> str:
    """The unit of a published column, for the data dictionary: currency, share, index, count, year, flag, text."""
    t = data_type.upper()
    if column in _VALUE_COLUMNS:
        return "money"
    if column == "net_mass_kg":
        return "kg"
    if column in _INDEX_COLUMNS:
        return "index 0..1 (HHI)"
    if column in _RATIO_COLUMNS:
        return "ratio"
    if is_share(column):
        return "share 0..1"
    if column in {"year", "latest_complete_year"} or column.endswith("_year"):
        return "calendar year"
    if column == "month":
        return "month 1-12"
    if t == "BOOLEAN":
        return "true/false"
    if t.startswith(("TIMESTAMP", "DATE")):
        return "date/time (UTC)"
    if any(t.startswith(k) for k in ("INT", "BIGINT", "HUGEINT", "SMALLINT", "TINYINT", "UBIGINT", "UINT")):
        return "count" if column not in {"m49", "comtrade_code", "level", "source_line", "line"} else "code"
    if t.startswith(("DOUBLE", "DECIMAL", "FLOAT", "REAL")):
        return "number"
    return "text / code"


def currency(column: str) -> str:
    """Which currency a value column is in: the row's own (each source's, from the registry), never mixed."""
    return _SOURCE_MEANINGS["value_currency"] if column in _VALUE_COLUMNS else ""


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _number(value) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def fill(text: str, parameters: dict | None = None) -> str:
    """A meaning with its ``{setting}`` placeholders written out: 'setting = value' with the values the run used
    (``parameters``, as meta.parameters), the setting's name alone where they are not known."""
    def one(found: re.Match) -> str:
        name = found.group(1)
        return f"{name} = {_number(parameters[name])}" if parameters and name in parameters else name
    return _PLACEHOLDER.sub(one, text)


def placeholders(text: str) -> list[str]:
    """The settings a text names as ``{setting}``."""
    return _PLACEHOLDER.findall(text)


def describe(column: str, parameters: dict | None = None) -> str | None:
    """The column's meaning, its settings written out (``fill``)."""
    text = COLUMNS.get(column)
    return fill(text, parameters) if text else None


# methodology section 8, "Screens no public monitor shows yet" (issue 29)
COLUMNS.update({
    # monitor.supplier_headroom / supplier_headroom_by_year (after the OECD Supply Chain Resilience Review)
    "potential_min_share": "Share of world exports of a product an exporter needs to count as a potential supplier.",
    "potential_suppliers": ("Exporters with at least potential_min_share of world exports of the product (Comtrade "
                            "country reporters), the importer itself (for EU27 its member states) left out."),
    "actual_suppliers": ("Of the potential suppliers, how many the importer buys from; null when the importer "
                         "reports no country supplier (who it buys from is unknown)."),
    "concentrated_oecd": "actual_suppliers < potential_suppliers / 2 (OECD: buys from fewer than half of the "
                         "suppliers that exist); null when actual_suppliers is.",
    "unused_potential_suppliers": ("The three largest potential suppliers (by world exports, ties to the highest "
                                   "code) the importer does not buy from, '; '-separated; null when none."),
    "importers": "Number of importing countries with a row that year (the EU27 bloc not counted).",
    "cases": "Importer-product pairs where who the importer buys from is known (concentrated_oecd not null).",
    "concentrated_cases": "Of those cases, the ones concentrated_oecd.",
    "concentrated_share": "concentrated_cases / cases.",
    "china_top_cases": "Concentrated cases whose largest supplier is China (CHN).",
    "china_share_of_concentrated": "china_top_cases / concentrated_cases (the OECD's 'China's part').",
})
COLUMNS.update({
    # monitor.crma_benchmark (Critical Raw Materials Act, Regulation (EU) 2024/1252, Art. 5(1)(d))
    "material": "Strategic raw material of the CRMA (Annex I, Section 1), as in reference.crma_materials.",
    "stage": "Processing stage of the material: extraction, processing or magnets (reference.crma_materials).",
    "top_share": "top_supplier's share of the stage's imports from non-EU countries (m_extra).",
    "benchmark": "The CRMA benchmark used ({crma_benchmark}): at most this share from one third country.",
    "over_benchmark": ("top_share > benchmark, for a complete year only (on a rolling window: a complete window, and "
                       "for EU27 a complete bloc); an incomplete year or window shows its share, no flag."),
    "benchmark_gap": "top_share - benchmark: the distance to the benchmark (> 0 is over it).",
    "top_share_3y_before": "The same material's and stage's top_share three calendar years before; null if none.",
    "top_share_change_3y": "top_share - top_share_3y_before.",
    "codes_traded": "HS6 codes of the stage with imports in the row.",
    "codes_shared": ("Of those, codes that also cover other goods (shared_with in the mapping): counted whole, so "
                     "the row is an upper bound."),
})
COLUMNS.update({
    # reference.crma_materials (data/reference/crma_materials.csv, provenance in data/reference/PROVENANCE.md)
    "hs6": "HS 2022 subheading (6 digits) mapped to the material and stage.",
    "hs_description": "The HS 2022 text of hs6, as in reference.hs_products.",
    "shared_with": "Other goods the same HS6 code also covers (empty when it names the material alone).",
})
TABLE_SECTIONS["reference.crma_materials"] = "8 Beyond the single-step screen (CRMA benchmark)"
COLUMNS.update({
    # monitor.bloc_vs_members, third_country_bloc_vs_members, bloc_member_counts (after MERICS 2024)
    "bloc_dependent": "The EU27 bloc's EC-screen verdict for the product (monitor.ec_screen, reporter EU27).",
    "members_dependent": "Member states dependent on their own (their own EC-screen row); by year: products with any.",
    "members_dependent_list": "Those member states (ISO3, sorted, '; '-separated); null when none.",
    "members_screened": "Member states whose own EC-screen row is screened.",
    "top_member": "The member state with the largest share of the bloc's imports from non-EU countries.",
    "top_member_share": "top_member's imports from non-EU countries / the bloc's (m_extra).",
    "top3_members": "The three member states with the largest such shares, largest first, '; '-separated.",
    "top3_members_share": "Their summed share of the bloc's imports from non-EU countries.",
    "dependence_pattern": ("both, bloc_only (the EU as one, no single member state), members_only or neither: the "
                           "bloc beside its member states (EU side: who is dependent; third countries: on whom)."),
    "members_depended_on": "Member states the third country depends on one by one (section 7's rule for each alone).",
    "members_depended_on_list": "Those member states (ISO3, sorted, '; '-separated); null when none.",
    "top_member_supplier": "The member state the third country imports most from (ties to the highest code).",
    "top_member_supplier_share": "Its share of the third country's total imports of the product.",
    "side": "eu: the EU27's own dependence (EC screen); partner: a third country's dependence on the EU.",
    "products": "Products (HS6) with a row that year.",
    "bloc_only": "Products where the bloc is dependent (or depended on) and no single member state.",
    "members_only": "Products where a member state is and the bloc is not.",
    "bloc_and_members": "Products where both are.",
})
COLUMNS.update({
    # monitor.ec_screen_cn8 (after IW Koeln's China monitor)
    "cn8": "Comext's native 8-digit CN code.",
    "cn_edition": "The CN edition of the row's year (CN<year>): a CN8 code means the same only within one edition.",
    "product_code_target": ("The HS6 code on the target edition (hs_target_edition) the CN8 code's trade belongs to, "
                            "i.e. its monitor.ec_screen row; null when the code is shared out over several."),
    "annual_imports": "M_extra + M_intra of the CN8 code in the year: the imports the EC screen sees.",
    "min_value": "The minimum annual imports ({cn8_min_value}, EUR) a CN8 code needs to be screened.",
})
