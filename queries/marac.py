"""MARAC measures: cases discussed, repeats (from case history), referrals by agency."""
from __future__ import annotations

# SELECT over `records` giving (measure, month, ward_code, location); see store.build_monthly.
MEASURE_SQL = """
        WITH history AS (
            SELECT *, lag(referral_date) OVER (PARTITION BY victim_id ORDER BY referral_date, record_id)
                      AS previous_referral
            FROM records
        )
        SELECT 'Cases discussed' AS measure, month, ward_code, location FROM history
        UNION ALL
        SELECT 'Repeat cases', month, ward_code, location FROM history
            WHERE previous_referral IS NOT NULL
              AND referral_date <= previous_referral + INTERVAL 12 MONTH
        UNION ALL
        SELECT 'Referrals from police', month, ward_code, location FROM history
            WHERE referring_agency = 'Police'
        UNION ALL
        SELECT 'Referrals from partner agencies', month, ward_code, location FROM history
            WHERE referring_agency <> 'Police'
    """
