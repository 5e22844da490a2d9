"""Image API: filters and their errors, detail with image and thumbnail, similar, summary, word cloud, review."""

import io
from pathlib import Path

import pytest
from PIL import Image

from imaging.services import images_scan
from imaging.stores import PostgresImageStore
from tests.imaging.conftest import jpeg_bytes, png_header, synthetic

pytestmark = pytest.mark.django_db


@pytest.fixture
def scanned(image_tree, analyser):
    store = PostgresImageStore()
    images_scan(root=image_tree, store=store, analyser=analyser)
    return {r["filename"]: r for r in store.find({}, limit=100)[1]}


def test_requires_authentication(anon_client, scanned):
    assert anon_client.get("/api/images").status_code == 403
    some = next(iter(scanned.values()))
    assert anon_client.patch(f"/api/images/{some['id']}", {"persons": 1}, format="json").status_code == 403


def test_list_and_filters(api_client, scanned):
    body = api_client.get("/api/images").json()
    assert body["count"] == 8 and len(body["results"]) == 8
    first = body["results"][0]
    assert {
        "id",
        "filename",
        "device_type",
        "site_id",
        "description",
        "keywords",
        "safety_compliance",
        "persons",
        "quality",
        "image_url",
        "thumbnail_url",
    } <= set(first)
    assert set(first["safety_compliance"]) == {
        "has_hard_hat",
        "has_safety_vest",
        "has_inspection_equipment",
        "compliance_score",
        "uncertain",
    }
    turbines = api_client.get("/api/images", {"device_type": "turbine"}).json()["results"]
    assert {r["device_type"] for r in turbines} == {"turbine"} and len(turbines) == 2
    some_site = turbines[0]["site_id"]
    assert all(r["site_id"] == some_site for r in api_client.get("/api/images", {"site_id": some_site}).json()["results"])
    for flag in ("has_hard_hat", "has_safety_vest", "has_inspection_equipment"):
        for value in ("true", "false"):
            rows = api_client.get("/api/images", {flag: value}).json()["results"]
            assert all(r["safety_compliance"][flag] is (value == "true") for r in rows)
    high = api_client.get("/api/images", {"min_compliance": "40"}).json()["results"]
    assert all(r["compliance_score"] is not None and r["compliance_score"] >= 40 for r in high)
    assert api_client.get("/api/images", {"reviewed": "true"}).json()["count"] == 0
    paged = api_client.get("/api/images", {"page_size": 3, "page": 2}).json()
    assert len(paged["results"]) == 3 and paged["next"] and paged["previous"]


@pytest.mark.parametrize(
    "params",
    [
        {"device_type": "toaster"},
        {"site_id": "XX-NOWHERE"},
        {"has_hard_hat": "maybe"},
        {"reviewed": "yes please"},
        {"min_compliance": "high"},
        {"min_compliance": "101"},
        {"page": "0"},
    ],
)
def test_bad_filters_are_400_with_a_message(api_client, params):
    response = api_client.get("/api/images", params)
    assert response.status_code == 400
    assert next(iter(params)) in response.json()["error"]


def test_detail_file_and_thumbnail(api_client, scanned):
    record = scanned["Electrical Rotors1.jpg"]
    body = api_client.get(f"/api/images/{record['id']}").json()
    assert body["filename"] == "Electrical Rotors1.jpg" and body["embedding_dimensions"] > 100
    assert body["image_url"] == f"/api/images/{record['id']}/file"
    image = api_client.get(body["image_url"])
    assert image.status_code == 200 and image["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(image.content)).size == (body["width"], body["height"])
    thumb = api_client.get(body["thumbnail_url"])
    assert thumb["Content-Type"] == "image/jpeg"
    assert max(Image.open(io.BytesIO(thumb.content)).size) <= 256
    assert api_client.get("/api/images/424242").status_code == 404
    assert api_client.get("/api/images/abc").json()["error"] == "No image 'abc'."


def test_missing_file_is_404(api_client, scanned, image_tree):
    record = scanned["Turbine1.jpg"]
    (image_tree / "TurbineImages" / "Turbine1.jpg").unlink()
    response = api_client.get(f"/api/images/{record['id']}/file")
    assert response.status_code == 404 and "no longer readable" in response.json()["error"]


def test_similar(api_client, scanned, image_tree, analyser):
    src = image_tree / "OilAndGas" / "ConnectedDevices1.jpg"
    data = Image.open(src)
    out = io.BytesIO()
    # The camera's next frame: a little smaller, a little brighter, compressed harder.
    frame = data.resize((data.width * 9 // 10, data.height * 9 // 10)).point(lambda v: min(255, v + 12))
    frame.save(out, "JPEG", quality=60)
    (image_tree / "OilAndGas" / "next frame.jpg").write_bytes(out.getvalue())
    images_scan(root=image_tree, store=PostgresImageStore(), analyser=analyser)
    body = api_client.get(f"/api/images/similar/{scanned['ConnectedDevices1.jpg']['id']}", {"limit": 3}).json()
    assert len(body["results"]) == 3
    assert body["results"][0]["image"]["filename"] == "next frame.jpg"
    sims = [r["similarity"] for r in body["results"]]
    assert sims == sorted(sims, reverse=True) and all(-1 <= s <= 1 for s in sims)
    assert api_client.get("/api/images/similar/999999").status_code == 404
    assert api_client.get(f"/api/images/similar/{scanned['Turbine1.jpg']['id']}", {"limit": "0"}).status_code == 400


def test_summary(api_client, scanned):
    body = api_client.get("/api/images/summary").json()
    assert sum(r["images"] for r in body["by_site_and_type"]) == 8
    assert {r["device_type"] for r in body["by_device_type"]} == {
        "turbine",
        "thermal_engine",
        "electrical_rotor",
        "connected_device",
    }
    for row in body["by_site"]:
        assert row["average_compliance"] is None or 0 <= row["average_compliance"] <= 100
        assert row["with_hard_hat"] + row["without_hard_hat"] <= row["images_with_people"]
    # The images to review first are the ones the gallery's "not sure" filter lists.
    uncertain = api_client.get("/api/images", {"uncertain": "true"}).json()["count"]
    assert sum(r["uncertain"] for r in body["by_site"]) == uncertain
    assert sum(r["uncertain"] for r in body["by_device_type"]) == uncertain


def test_wordcloud_png(api_client, scanned):
    response = api_client.get("/api/images/wordcloud")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(response.content)).format == "PNG"
    site = next(iter(scanned.values()))["site_id"]
    assert api_client.get("/api/images/wordcloud", {"site_id": site}).status_code == 200
    assert api_client.get("/api/images/wordcloud", {"site_id": "nope"}).status_code == 400
    empty_site = next(
        s
        for s in (
            "WY-ALPHA",
            "TX-EAGLE",
            "NM-SAGE",
            "ND-RAVEN",
            "OK-BISON",
            "CO-PEAK",
            "LA-DELTA",
            "CA-COAST",
            "AK-NORTH",
            "PA-RIDGE",
        )
        if s not in {r["site_id"] for r in scanned.values()}
    )
    response = api_client.get("/api/images/wordcloud", {"site_id": empty_site})
    assert response.status_code == 404 and "No scanned images" in response.json()["error"]


def test_review_wins_and_survives_rescans(staff_client, staff_user, scanned, image_tree, analyser):
    api_client, user = staff_client, staff_user  # reviews are staff-only
    record = scanned["Turbine1.jpg"]
    url = f"/api/images/{record['id']}"
    response = api_client.patch(
        url, {"persons": 3, "has_hard_hat": False, "has_safety_vest": True, "keywords": ["Crane", "rotor"]}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["reviewed"] and body["reviewed_by"] == user.username and body["persons"] == 3
    assert body["safety_compliance"]["has_hard_hat"] is False
    assert body["compliance_score"] == 30 + 30 * (1.0 if body["safety_compliance"]["has_inspection_equipment"] else 0.0)
    assert body["keywords"] == ["crane", "rotor"]

    # The file changes: the analyser runs again, the person's corrections stay.
    (image_tree / "TurbineImages" / "Turbine1.jpg").write_bytes(jpeg_bytes(synthetic(11)))
    report = images_scan(root=image_tree, store=PostgresImageStore(), analyser=analyser)
    assert report.changed == 1
    after = api_client.get(url).json()
    assert after["persons"] == 3 and after["safety_compliance"]["has_hard_hat"] is False and after["reviewed"]
    assert after["analysis"]["width"] == 240  # the new analysis is there underneath
    assert api_client.get("/api/images", {"reviewed": "true"}).json()["count"] == 1

    # null drops a correction.
    cleared = api_client.patch(
        url, {"persons": None, "has_hard_hat": None, "has_safety_vest": None, "keywords": None}, format="json"
    ).json()
    assert not cleared["reviewed"] and cleared["review"] == {}


@pytest.mark.parametrize(
    "payload, fragment",
    [
        ({"persons": -1}, "persons"),
        ({"has_hard_hat": "perhaps"}, "has_hard_hat"),
        ({"compliance_score": 100}, "Cannot review compliance_score"),
        ({"site_id": "MARS"}, "site_id"),
        ({}, "Send a JSON object"),
    ],
)
def test_bad_reviews_are_400(staff_client, scanned, payload, fragment):
    record = next(iter(scanned.values()))
    response = staff_client.patch(f"/api/images/{record['id']}", payload, format="json")
    assert response.status_code == 400
    assert fragment in response.json()["error"]


def test_review_of_unknown_image_is_404(staff_client, db):
    assert staff_client.patch("/api/images/999999", {"persons": 1}, format="json").status_code == 404


def test_admin_review(client, staff_user, scanned):
    staff_user.is_superuser = True
    staff_user.save()
    client.force_login(staff_user)
    record = scanned["ConnectedDevices2.jpg"]
    page = client.get(f"/admin/imaging/imagerecord/{record['id']}/change/")
    assert page.status_code == 200 and b"Hard hat (reviewed)" in page.content
    response = client.post(
        f"/admin/imaging/imagerecord/{record['id']}/change/",
        {
            "review_persons": "2",
            "review_has_hard_hat": "true",
            "review_has_safety_vest": "false",
            "review_has_inspection_equipment": "true",
            "review_site_id": "",
            "review_description": "",
        },
    )
    assert response.status_code == 302
    saved = PostgresImageStore().get(record["id"])
    assert saved["review"] == {"persons": 2, "has_hard_hat": True, "has_safety_vest": False, "has_inspection_equipment": True}
    assert saved["reviewed_by"] == staff_user.username and saved["safety_compliance"]["compliance_score"] == 70


def test_thumbnail_of_a_file_replaced_by_a_bomb_is_404_not_500(api_client, scanned):
    record = next(iter(scanned.values()))
    Path(record["path"]).write_bytes(png_header(20000, 20000))
    assert api_client.get(f"/api/images/{record['id']}/thumbnail").status_code == 404
    assert api_client.get(f"/api/images/{record['id']}/file").status_code == 404


def test_word_cloud_terms_have_no_partial_or_negated_duplicates():
    from collections import Counter

    from imaging.selectors import _merge_partials

    phrases = Counter({"hard hat": 4, "safety vest": 2, "turbine": 2})
    tokens = Counter({"hard": 3, "hat": 3, "vest": 1, "engineer": 1})
    merged = _merge_partials(phrases, tokens)
    assert merged == Counter({"hard hat": 10, "safety vest": 3, "turbine": 2, "engineer": 1})


def test_word_cloud_colours_are_readable_on_white():
    from imaging.rendering import WORDCLOUD_COLOURS

    def luminance(hex_colour):
        channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    for colour in WORDCLOUD_COLOURS:
        assert (1.05) / (luminance(colour) + 0.05) >= 4.5, colour


def test_uncertain_filter_and_view(api_client, scanned):
    body = api_client.get("/api/images", {"uncertain": "true"}).json()
    for image in body["results"]:
        assert image["persons"] > 0 and image["safety_compliance"]["uncertain"]
    others = api_client.get("/api/images", {"uncertain": "false"}).json()
    assert body["count"] + others["count"] == len(scanned)
    assert all(not i["safety_compliance"]["uncertain"] for i in others["results"])
    assert api_client.get("/api/images", {"uncertain": "maybe"}).status_code == 400
