-- Who was exposed to one experiment in the window, and who of them is not a unit of the
-- analysis (exposure_units.sql): identities = units + crawler_units + multi_variant_units.
-- A crawler exposed under more than one variant counts as a crawler only;
-- crawler_and_person_units are the crawler units also exposed with a person's agent.
SELECT
    count(*) AS identities,
    count_if(NOT crawler AND NOT multi_variant) AS units,
    count_if(crawler) AS crawler_units,
    count_if(crawler AND person_exposed) AS crawler_and_person_units,
    count_if(multi_variant AND NOT crawler) AS multi_variant_units
FROM exposure_units
