"""The assignment's three image questions, on the twelve seed images (read in place)."""

import pytest

from imaging import selectors, services
from imaging.questions import question_filters
from imaging.selectors import images_answer_question
from imaging.stores import PostgresImageStore
from tests.imaging.conftest import LABELS

pytestmark = pytest.mark.django_db

Q_NO_HATS = "Give me turbine sites that have workers without hats"
Q_HIGH = "Give me turbine sites that have workers with high safety compliance"
Q_HAT_TABLET = "Get sites where an engineer has a hard hat and tablet in hand"


@pytest.fixture
def seed_store(seed_images, analyser):
    store = PostgresImageStore()
    services.images_scan(root=seed_images, store=store, analyser=analyser)
    return store


@pytest.fixture
def reviewed_store(seed_store, seed_images):
    """The seed images after a person reviewed each one to the hand labels."""
    for rel, label in LABELS.items():
        record = seed_store.get_by_path(str((seed_images / rel).resolve()))
        changes = {"persons": label["persons"]}
        if label["persons"]:
            changes.update({k: label[k] for k in ("has_hard_hat", "has_safety_vest", "has_inspection_equipment")})
        services.image_review(store=seed_store, image_id=record["id"], changes=changes, reviewer="labeller")
    return seed_store


def test_question_parsing():
    assert question_filters(Q_NO_HATS) == {
        "filters": {"has_people": True, "device_type": "turbine", "has_hard_hat": False},
        "person": {},
    }
    assert question_filters(Q_HIGH)["filters"] == {"has_people": True, "device_type": "turbine", "min_compliance": 70.0}
    parsed = question_filters(Q_HAT_TABLET)
    assert "device_type" not in parsed["filters"]  # "engineer" is not "engine"
    assert parsed["person"] == {"hard_hat": True, "inspection_equipment": True}
    assert question_filters("thermal engines at TX-EAGLE with workers wearing vests")["filters"] == {
        "has_people": True,
        "device_type": "thermal_engine",
        "site_ids": ["TX-EAGLE"],
        "has_safety_vest": True,
    }


def _files(result):
    return sorted(s["image"]["filename"] for s in result["sources"])


def _assert_well_formed(result, store):
    assert isinstance(result["answer"], str) and result["answer"]
    for source in result["sources"]:
        image = source["image"]
        assert {"id", "filename", "site_id", "device_type", "compliance_score"} <= set(image)
        assert store.get(image["id"])["persons"] > 0  # never an image with nobody in it
        assert image["site_id"] in result["answer"]


def test_three_questions_on_reviewed_seed_images(reviewed_store):
    no_hats = images_answer_question(Q_NO_HATS, store=reviewed_store)
    _assert_well_formed(no_hats, reviewed_store)
    assert _files(no_hats) == ["Turbine3.jpg"]
    assert [s["site_id"] for s in no_hats["data"]["sites"]] == [no_hats["sources"][0]["image"]["site_id"]]

    high = images_answer_question(Q_HIGH, store=reviewed_store)
    _assert_well_formed(high, reviewed_store)
    # No turbine crew wears vests or holds a tablet: hats alone score 40, short of "high" (70).
    assert high["data"]["closest_instead"] is True
    assert _files(high) == ["Turbine1.jpg", "Turbine2.jpg"]
    assert high["answer"].startswith("No scanned image shows turbine")

    hat_tablet = images_answer_question(Q_HAT_TABLET, store=reviewed_store)
    _assert_well_formed(hat_tablet, reviewed_store)
    assert _files(hat_tablet) == ["ConnectedDevices2.jpg", "ConnectedDevices3.jpg"]


def test_three_questions_on_raw_analyser_output(seed_store):
    """Whatever the analyser saw, answers respect the filters and never name an empty image."""
    for question in (Q_NO_HATS, Q_HIGH, Q_HAT_TABLET):
        result = images_answer_question(question, store=seed_store)
        _assert_well_formed(result, seed_store)
        for source in result["sources"]:
            record = seed_store.get(source["image"]["id"])
            if question != Q_HAT_TABLET:
                assert record["device_type"] == "turbine"
            if question == Q_NO_HATS:
                assert record["safety_compliance"]["has_hard_hat"] is False
            if question == Q_HAT_TABLET:
                assert record["safety_compliance"]["has_inspection_equipment"] is True


def test_uses_default_store(seed_store):
    assert (
        selectors.images_answer_question(Q_HAT_TABLET)["data"]["count"]
        == images_answer_question(Q_HAT_TABLET, store=seed_store)["data"]["count"]
    )


def test_an_image_unsure_of_its_hats_could_still_outscore_the_closest():
    """ "Closest to high compliance" is not claimed over an image that a review could lift above it: hats unknown
    (40 points open) beats a crew scored 28.6 over hats and vests with equipment unknown (20 + 30 at best)."""
    from imaging.questions import _best_case_score

    unsure_hats = {
        "safety_compliance": {
            "has_hard_hat": None,
            "has_safety_vest": False,
            "has_inspection_equipment": None,
            "compliance_score": 0.0,
        }
    }
    half_hats = {
        "safety_compliance": {
            "has_hard_hat": False,
            "has_safety_vest": False,
            "has_inspection_equipment": None,
            "compliance_score": 28.6,
        }
    }
    all_known = {
        "safety_compliance": {
            "has_hard_hat": True,
            "has_safety_vest": False,
            "has_inspection_equipment": False,
            "compliance_score": 40.0,
        }
    }
    assert _best_case_score(unsure_hats) == 70
    assert _best_case_score(half_hats) == pytest.approx(50.0, abs=0.1)
    assert _best_case_score(all_known) == 40
