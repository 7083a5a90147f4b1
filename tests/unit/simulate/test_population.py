"""The population file: validation with errors that name the field, deterministic sampling, portfolio rows."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import pytest

from local.simulate.population import DEFAULT_POPULATION, PopulationError, load, parse, portfolio_csv, sample

START = date(2026, 3, 2)


def _minimal(**segment: object) -> dict[str, object]:
    return {"name": "tiny", "segments": [{"name": "only", "weight": 1, **segment}]}


def test_the_default_population_loads_and_documents_its_sources() -> None:
    population = load(DEFAULT_POPULATION)

    assert len(population.segments) >= 3
    assert population.sources


def test_an_unknown_trait_is_an_error_naming_it() -> None:
    with pytest.raises(PopulationError) as raised:
        parse(_minimal(traits={"patience": 0.5}))

    assert "segments.0.traits.patience" in str(raised.value)


def test_a_distribution_with_bad_parameters_is_an_error_naming_the_field() -> None:
    with pytest.raises(PopulationError) as raised:
        parse(_minimal(traits={"willingness": {"beta": [0, 2]}}))

    assert "segments.0.traits.willingness" in str(raised.value)


def test_weights_must_name_known_channels_and_zones() -> None:
    with pytest.raises(PopulationError, match="channel_preference"):
        parse(_minimal(traits={"channel_preference": {"pigeon": 1}}))
    with pytest.raises(PopulationError, match="timezones"):
        parse(_minimal(timezones={"Mars/Olympus": 1}))


def test_a_population_needs_segments_with_unique_names() -> None:
    with pytest.raises(PopulationError, match="segments"):
        parse({"name": "empty", "segments": []})
    with pytest.raises(PopulationError, match="unique"):
        parse({"name": "twice", "segments": [{"name": "a", "weight": 1}, {"name": "a", "weight": 2}]})


def test_a_file_that_is_not_json_or_missing_says_so(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{segments: nope", encoding="utf-8")

    with pytest.raises(PopulationError, match="not JSON"):
        load(broken)
    with pytest.raises(PopulationError, match="no such file"):
        load(tmp_path / "absent.json")


def test_the_same_seed_draws_the_same_debtors_and_another_seed_others() -> None:
    population = load(DEFAULT_POPULATION)

    first = sample(population, 50, seed=7, start=START)
    again = sample(population, 50, seed=7, start=START)
    other = sample(population, 50, seed=8, start=START)

    assert [(d.row, d.willingness, d.reading_peak_hour) for d in first] == [
        (d.row, d.willingness, d.reading_peak_hour) for d in again
    ]
    assert [d.row for d in first] != [d.row for d in other]


def test_the_portfolio_rows_carry_what_ingest_needs_and_no_hidden_trait() -> None:
    debtors = sample(load(DEFAULT_POPULATION), 200, seed=3, start=START)

    rows = list(csv.DictReader(io.StringIO(portfolio_csv(debtors))))

    assert len(rows) == 200
    assert len({row["external_ref"] for row in rows}) == 200
    assert all(row["email"] or row["phone"] for row in rows)
    assert len({row["phone"] for row in rows if row["phone"]}) == sum(1 for row in rows if row["phone"])
    assert not {"willingness", "capacity", "segment"} & set(rows[0])
    assert {d.segment for d in debtors} == {s.name for s in load(DEFAULT_POPULATION).segments}


def test_shares_follow_the_segment_weights() -> None:
    population = parse(
        json.loads(json.dumps({"name": "two", "segments": [{"name": "a", "weight": 3}, {"name": "b", "weight": 1}]}))
    )

    debtors = sample(population, 2000, seed=1, start=START)

    share = sum(1 for d in debtors if d.segment == "a") / len(debtors)
    assert 0.7 < share < 0.8
