"""The learned hard-hat model: how it is fitted, how its opinion joins the rules', and the weights in the repo."""

import json
from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from imaging.analysers import hat_model
from imaging.analysers.base import image_decode
from imaging.analysers.neural import analyse_neural


def test_the_fit_finds_the_measurement_that_tells_a_hat_and_is_not_swayed_by_a_crowd_of_helmets():
    rng = np.random.default_rng(7)
    shell = rng.uniform(0, 1, 2000)  # a shell-colour share: the telling measurement
    noise = rng.uniform(0, 1, 2000)  # a measurement that says nothing
    helmet = (shell + rng.normal(0, 0.1, 2000) > 0.2).astype(float)  # most people wear one, as on a site
    weights = hat_model.fit(np.column_stack([shell, noise]), helmet)
    assert helmet.mean() > 0.75
    assert abs(weights[0]) > 10 * abs(weights[1])
    p = 1 / (1 + np.exp(-(np.array([[0.0, 0.5, 1.0], [0.9, 0.5, 1.0]]) @ weights)))
    assert p[0] < 0.2 and p[1] > 0.8
    # Without a telling measurement the model says 0.5, not "mostly helmets": the classes weigh the same.
    flat = hat_model.fit(noise[:, None], helmet)
    assert abs(1 / (1 + np.exp(-(0.5 * flat[0] + flat[1]))) - 0.5) < 0.05


def test_a_fit_needs_both_helmets_and_bare_heads():
    with pytest.raises(ValueError, match="both"):
        hat_model.fit(np.ones((5, 2)), np.ones(5))


def test_the_rules_and_the_model_are_two_pieces_of_evidence():
    assert hat_model.combine(0.5, 0.8) == pytest.approx(0.8)  # rules with no opinion leave the model's
    assert hat_model.combine(0.8, 0.8) > 0.9  # agreeing, each makes the other surer
    assert hat_model.combine(0.9, 0.1) == pytest.approx(0.5)  # disagreeing as strongly: no judgement


def test_the_committed_weights_fit_the_features_and_say_what_they_were_fitted_on():
    stored = json.loads(hat_model.WEIGHTS_FILE.read_text())
    assert len(stored["weights"]) == hat_model.FEATURES + 1 == stored["features"] + 1
    fitted_on = stored["fitted_on"]
    assert "public domain" in fitted_on["source"].lower()
    assert fitted_on["helmeted people"] > 1000 and fitted_on["bare-headed people"] > 300


def test_every_person_carries_the_models_opinion_and_its_input_only_when_asked(seed_images):
    image = image_decode((seed_images / "ThermalEngines/ThermalEngines2.jpg").read_bytes())
    plain, asked = analyse_neural(image), analyse_neural(image, evidence=True)
    assert plain["people"] and all("hat_evidence" not in p for p in plain["people"])
    for person in asked["people"]:
        assert len(person["hat_evidence"]) == hat_model.FEATURES
        assert 0.0 <= person["hard_hat"]["model"] <= 1.0
    assert [p["hard_hat"] for p in plain["people"]] == [p["hard_hat"] for p in asked["people"]]


def test_weights_that_do_not_fit_the_features_are_a_clear_error(tmp_path, monkeypatch):
    stale = tmp_path / "hat_model.json"
    stale.write_text(json.dumps({"weights": [0.0] * 5}))
    monkeypatch.setattr(hat_model, "WEIGHTS_FILE", stale)
    hat_model._weights.cache_clear()
    try:
        with pytest.raises(ValueError, match="fit_hat_model"):
            hat_model.probability(np.zeros(hat_model.FEATURES))
    finally:
        hat_model._weights.cache_clear()


def test_fit_hat_model_fits_on_labelled_photos_and_records_what_on(labelled_folder, tmp_path):
    out_file, out = tmp_path / "fitted.json", StringIO()
    call_command(
        "fit_hat_model", str(labelled_folder), "--helmet-class", "0", "--bare-when-no-helmet",
        "--out", str(out_file), "--source", "two seed photos, labelled by hand", stdout=out,
    )  # fmt: skip
    report = json.loads(out.getvalue())
    stored = json.loads(out_file.read_text())
    assert report["fitted_on"]["unreadable photos"] == 1
    assert stored["fitted_on"]["helmeted people"] == 1 and stored["fitted_on"]["bare-headed people"] >= 1
    assert stored["fitted_on"]["source"] == "two seed photos, labelled by hand"
    assert len(stored["weights"]) == hat_model.FEATURES + 1
    assert stored["training accuracy"] == {"helmeted people": 1.0, "bare-headed people": 1.0}  # a few people: fitted exactly


def test_fit_hat_model_without_bare_heads_says_so(labelled_folder, tmp_path):
    with pytest.raises(CommandError, match="both helmets and bare heads"):
        call_command("fit_hat_model", str(labelled_folder), "--helmet-class", "0", "--out", str(tmp_path / "x.json"))


def _hat_judgements(image, monkeypatch, model_says: float) -> list[tuple]:
    monkeypatch.setattr(hat_model, "probability", lambda _x: model_says)
    return [(p["hard_hat"]["value"], p["hard_hat"]["confidence"]) for p in analyse_neural(image)["people"]]


def test_the_model_counts_only_when_it_is_itself_sure(seed_images, monkeypatch):
    """Turbine3's bare-headed mechanics: a model that barely leans either way ("0.6: a hat, perhaps") is no second
    witness and leaves the rules' judgements as they were; a sure model moves each "no" towards a hat."""
    image = image_decode((seed_images / "TurbineImages/Turbine3.jpg").read_bytes())
    no_opinion = _hat_judgements(image, monkeypatch, 0.5)
    assert any(value is False for value, _ in no_opinion)
    assert _hat_judgements(image, monkeypatch, 0.6) == _hat_judgements(image, monkeypatch, 0.4) == no_opinion
    sure = _hat_judgements(image, monkeypatch, 0.999)
    for (value, confidence), (before, before_confidence) in zip(sure, no_opinion, strict=True):
        assert value is True or (before is False and value is not True and confidence < before_confidence)


def test_fit_hat_model_refuses_an_out_path_in_no_folder_before_analysing(labelled_folder, tmp_path):
    with pytest.raises(CommandError, match="no folder"):
        call_command("fit_hat_model", str(labelled_folder), "--helmet-class", "0", "--out", str(tmp_path / "no/x.json"))
