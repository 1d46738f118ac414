-- The release text of a row that rests on several release lists (section 10): the lists are numbered
-- once per build (set_ids index the list of lists `sets`), so that aggregations carry a few numbers
-- per row instead of lists of long texts; this turns the numbers back into the distinct releases,
-- sorted and joined by '; '. Used by monitor.supplier_dependence and monitor.look_through_shares.
CREATE MACRO release_text(set_ids, sets) AS
    array_to_string(list_sort(list_distinct(flatten(list_transform(set_ids, lambda i: sets[i])))), '; ')
