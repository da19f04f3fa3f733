"""Fire measures: deliberate fires, primary (with road vehicles) and secondary."""
from __future__ import annotations

# SELECT over `records` giving (measure, month, ward_code, location); see store.build_monthly.
MEASURE_SQL = """
        SELECT 'Deliberate fires' AS measure, month, ward_code, location FROM records WHERE deliberate
        UNION ALL
        SELECT 'Deliberate primary fires', month, ward_code, location FROM records
            WHERE deliberate AND fire_type = 'Primary'
        UNION ALL
        SELECT 'Deliberate primary fires - road vehicles', month, ward_code, location FROM records
            WHERE deliberate AND fire_type = 'Primary' AND property_group = 'Road vehicle'
        UNION ALL
        SELECT 'Deliberate secondary fires', month, ward_code, location FROM records
            WHERE deliberate AND fire_type = 'Secondary'
        UNION ALL
        SELECT 'All fires', month, ward_code, location FROM records
    """
