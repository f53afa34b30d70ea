-- slug: seo_top100_landing_ctr
-- title: SEO CTR of the top 100 landings
-- description: Click-through rate from search results to the 100 non-brand landing pages
--   with the most impressions that day (fact_seo_landings; ties broken by landing_path):
--   clicks divided by impressions, summed over those pages and the days of the period (UTC
--   report date). The top 100 is chosen per day, so periods re-aggregate exactly.
-- owner: growth-seo
-- area: growth
-- unit: ratio
-- format: percent
-- grains: day, week, month
-- dimensions: none
-- higher_is_better: true
-- version: 1
-- timezone: UTC
-- history: 1: First canonical definition.
WITH ranked AS (
    SELECT
        event_dt,
        clicks,
        impressions,
        row_number() OVER (
            PARTITION BY event_dt ORDER BY impressions DESC, landing_path
        ) AS page_rank
    FROM fact_seo_landings
    WHERE event_dt BETWEEN :start AND :end
        AND query_class = 'non_brand'
)
SELECT
    CAST(
        CASE :grain
            WHEN 'week' THEN date_trunc('week', event_dt)
            WHEN 'month' THEN date_trunc('month', event_dt)
            ELSE event_dt
        END AS DATE
    ) AS period,
    'all' AS dimension_value,
    CAST(sum(clicks) AS DOUBLE) / nullif(CAST(sum(impressions) AS DOUBLE), 0) AS value,
    CAST(sum(clicks) AS BIGINT) AS numerator,
    CAST(sum(impressions) AS BIGINT) AS denominator
FROM ranked
WHERE page_rank <= 100
GROUP BY 1
ORDER BY 1
