-- A value's part on one target code of an HS split (staging.hs_split_weights): the value cut at the
-- target's cumulative weights, each cut rounded to 0.001, so that the parts of one value add up to it
-- exactly (they telescope). Without a split (target NULL) the value stays whole.
-- Used by staging.annual_flows (a year's value) and monitor.ec_screen_rolling (a month's).
CREATE MACRO hs_split_part(value, target, cum_weight_before, cum_weight) AS
    CASE WHEN target IS NULL THEN value
         ELSE CASE WHEN cum_weight >= 1 THEN value
                   ELSE round(value * cum_weight, 3)::DECIMAL(38, 3) END
              - CASE WHEN cum_weight_before <= 0 THEN 0::DECIMAL(38, 3)
                     ELSE round(value * cum_weight_before, 3)::DECIMAL(38, 3) END
    END
