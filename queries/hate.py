"""Hate crime measures: incidents and crimes kept apart, by monitored strand."""
from __future__ import annotations

# SELECT over `records` giving (measure, month, ward_code, location); see store.build_monthly.
MEASURE_SQL = """
        SELECT 'Hate incidents' AS measure, month, ward_code, location FROM records WHERE kind = 'Incident'
        UNION ALL
        SELECT 'Hate crimes', month, ward_code, location FROM records WHERE kind = 'Crime'
        UNION ALL
        SELECT 'Hate incidents - ' || strand, month, ward_code, location FROM records WHERE kind = 'Incident'
        UNION ALL
        SELECT 'Hate crimes - ' || strand, month, ward_code, location FROM records WHERE kind = 'Crime'
        UNION ALL
        SELECT 'Hate crimes - positive outcome', month, ward_code, location FROM records
            WHERE kind = 'Crime' AND positive_outcome
    """
