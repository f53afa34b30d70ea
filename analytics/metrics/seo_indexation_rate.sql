-- slug: seo_indexation_rate
-- title: SEO indexation rate
-- description: Share of the pages submitted in the sitemap that are in the search index.
--   Each day's search-console rows (fact_seo_landings) give the submitted pages
--   (is_submitted) and, of those, the indexed ones (is_indexed); the daily shares are
--   averaged over the period weighted by submitted pages (numerator: indexed page-days,
--   denominator: submitted page-days), so periods re-aggregate exactly.
-- owner: growth-seo
-- area: growth
-- unit: ratio
-- format: percent
-- grains: day, week, month
-- dimensions: query_class
-- higher_is_better: true
-- version: 1
-- timezone: UTC
-- history: 1: First canonical definition.
SELECT
    CAST(
        CASE :grain
            WHEN 'week' THEN date_trunc('week', event_dt)
            WHEN 'month' THEN date_trunc('month', event_dt)
            ELSE event_dt
        END AS DATE
    ) AS period,
    CASE :split_by
        WHEN 'query_class' THEN coalesce(query_class, 'unknown')
        ELSE 'all'
    END AS dimension_value,
    CAST(count_if(is_indexed) AS DOUBLE) / nullif(count(*), 0) AS value,
    count_if(is_indexed) AS numerator,
    count(*) AS denominator
FROM fact_seo_landings
WHERE event_dt BETWEEN :start AND :end
    AND is_submitted
    AND (:query_class = '*' OR query_class = :query_class)
GROUP BY 1, 2
ORDER BY 1, 2
