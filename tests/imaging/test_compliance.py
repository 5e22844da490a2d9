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


def test_unknown_judgements_are_left_out_and_named():
    sure_bare = compliance_compute(analysis(person(False, None, False), person(None, None, False)), {})["safety_compliance"]
    assert sure_bare["has_hard_hat"] is False  # one confident bare head settles "every worker wears a hat"
    assert sure_bare["has_safety_vest"] is None and sure_bare["uncertain"] == ["has_safety_vest"]
    assert sure_bare["compliance_score"] == 0.0  # hats 0 of 40, equipment 0 of 30; vests left out
    unsure = compliance_compute(analysis(person(True, None, None), person(None, True, False)), {})["safety_compliance"]
    assert unsure["has_hard_hat"] is None and unsure["has_safety_vest"] is None
    assert unsure["has_inspection_equipment"] is None
    assert unsure["compliance_score"] is None and len(unsure["uncertain"]) == 3
    all_known = compliance_compute(analysis(person(True, None, None)), {"has_safety_vest": True})["safety_compliance"]
    assert all_known["compliance_score"] == 100.0 and all_known["uncertain"] == ["has_inspection_equipment"]
