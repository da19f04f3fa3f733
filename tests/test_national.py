"""The national geography shipped with the product: every force findable, every district owned once."""
from __future__ import annotations

import pandas as pd
import pytest

from queries import geography, national

REPO = national.NATIONAL_DIR.parents[2]


def test_every_district_belongs_to_exactly_one_territorial_force():
    table = national.districts()
    assert table["lad_code"].is_unique
    assert table["force_slug"].nunique() == 43
    assert set(table["force_slug"]) <= {f.slug for f in national.forces().values() if f.territorial}


def test_every_lsoa_district_is_in_the_district_table():
    assert set(national.lsoas()["lad_code"]) == set(national.districts()["lad_code"])


def test_the_demo_store_lookup_is_the_national_table_cut_to_derbyshire():
    # The figures ../shared/data/README.md gives for the Derbyshire file it agrees with row for row.
    lookup = geography.lsoa_table(REPO / "data")
    assert lookup.groupby("lsoa_vintage")["lsoa_code"].nunique().to_dict() == {"2011": 642, "2021": 651}
    assert lookup["ward_code"].nunique() == 176 and lookup["lad_code"].nunique() == 9


@pytest.mark.parametrize("text", ["leicestershire", "Leicestershire Police", "  LEICESTERSHIRE   police "])
def test_a_force_is_found_by_slug_or_falls_within_name(text):
    assert national.find_force(text) == national.Force("Leicestershire Police", "leicestershire")


def test_transport_police_and_northern_ireland_are_publishers_but_not_territorial():
    assert not national.find_force("British Transport Police").territorial
    assert not national.find_force("northern-ireland").territorial


def test_an_unknown_force_names_the_choices():
    with pytest.raises(national.UnknownForce, match="unknown police force 'Atlantis'.*derbyshire"):
        national.find_force("Atlantis")


def test_a_data_directory_without_forces_says_how_to_make_one(tmp_path):
    with pytest.raises(national.MissingForces, match="app.py init --force"):
        national.store_forces(tmp_path)


def test_forces_written_by_init_read_back_in_order(tmp_path):
    chosen = [national.find_force("nottinghamshire"), national.find_force("derbyshire")]
    national.write_store_forces(tmp_path, chosen)
    assert national.store_forces(tmp_path) == chosen
