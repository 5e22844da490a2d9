"""Compliance score: the seed's weights over the people in view; reviewed values win."""

from imaging.compliance import compliance_compute


def person(hat, vest, tool):
    return {"hard_hat": {"value": hat}, "safety_vest": {"value": vest}, "inspection_equipment": {"value": tool}}


def analysis(*people):
    return {"persons": {"value": len(people), "confidence": 0.8}, "people": list(people)}


def test_full_kit_scores_100_and_weights_are_40_30_30():
    assert compliance_compute(analysis(person(True, True, True)), {})["safety_compliance"]["compliance_score"] == 100
    assert compliance_compute(analysis(person(True, False, False)), {})["safety_compliance"]["compliance_score"] == 40
    assert compliance_compute(analysis(person(False, True, False)), {})["safety_compliance"]["compliance_score"] == 30
    assert compliance_compute(analysis(person(False, False, True)), {})["safety_compliance"]["compliance_score"] == 30


def test_score_is_averaged_over_people_and_flags_follow_the_crew():
    result = compliance_compute(analysis(person(True, True, True), person(False, True, False)), {})
    sc = result["safety_compliance"]
    assert sc["compliance_score"] == 20 + 30 + 15
    assert sc["has_hard_hat"] is False  # somebody is bare-headed
    assert sc["has_safety_vest"] is True
    assert sc["has_inspection_equipment"] is True  # somebody holds one


def test_no_people_means_no_score_not_zero():
    result = compliance_compute(analysis(), {})
    assert result["persons"] == 0
    assert result["safety_compliance"] == {
        "has_hard_hat": None,
        "has_safety_vest": None,
        "has_inspection_equipment": None,
        "compliance_score": None,
    }


def test_review_wins():
    a = analysis(person(False, False, False))
    reviewed = compliance_compute(a, {"has_hard_hat": True, "has_inspection_equipment": True})["safety_compliance"]
    assert reviewed["has_hard_hat"] is True and reviewed["compliance_score"] == 70
    assert compliance_compute(a, {"persons": 0})["safety_compliance"]["compliance_score"] is None
    nobody = analysis()
    assert compliance_compute(nobody, {"persons": 2, "has_hard_hat": True})["safety_compliance"]["compliance_score"] == 40
