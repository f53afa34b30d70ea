-- slug: seo_nonbrand_clicks
-- title: SEO non-brand clicks
-- description: Clicks from search engine results on non-brand queries (query_class =
--   non_brand in the search-console rows of fact_seo_landings), summed over the landing pages
--   and the days of the period (UTC report date).
-- owner: growth-seo
-- area: growth
-- unit: count
-- format: number
-- grains: day, week, month
-- dimensions: none
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
    'all' AS dimension_value,
    CAST(sum(clicks) AS BIGINT) AS value
FROM fact_seo_landings
WHERE event_dt BETWEEN :start AND :end
    AND query_class = 'non_brand'
GROUP BY 1
ORDER BY 1
